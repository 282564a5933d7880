// Runs a TF.js graph model in a real browser: headless Chromium, driven by
// playwright-core, loading @tensorflow/tfjs's browser bundle and the model
// over HTTP from a server on localhost (as a web page would).
//
// Usage: node jax2tf_impl/export/tfjs_browser_runner.js RUNNER_DIR MODEL_DIR
//            REQUEST.json RESULT.json BACKEND CHROMIUM
//
// RUNNER_DIR: a folder with node_modules/@tensorflow/tfjs and
//   node_modules/playwright-core (npm install @tensorflow/tfjs@4.22.0
//   playwright-core there; .ci/setup_tfjs.sh does).
// BACKEND: "cpu" or "webgl" (tf.setBackend in the page; WebGL runs on
//   Chromium's software GL, SwiftShader, where the machine has no GPU).
// CHROMIUM: the browser executable (Debian's /usr/bin/chromium).
// REQUEST.json, RESULT.json: see tfjs_graph_runs.js; the result also has
//   "backend", "flavor" ("browser"), "tfjs_version", "user_agent" and, for
//   webgl, "webgl_renderer" (or "load_error"); "console": what the page
//   printed (TF.js prints a WebGL shader that failed to compile there).
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const {createRequire} = require('module');

const TYPES = {'.js': 'text/javascript', '.json': 'application/json',
               '.html': 'text/html', '.bin': 'application/octet-stream'};

// Serves /tf.min.js, /tfjs_graph_runs.js, /index.html and /model/<file>.
function serve(runnerDir, modelDir) {
  const req = createRequire(path.join(path.resolve(runnerDir), 'package.json'));
  const tfDist = path.join(path.dirname(req.resolve('@tensorflow/tfjs/package.json')),
                           'dist', 'tf.min.js');
  const files = {
    '/tf.min.js': tfDist,
    '/tfjs_graph_runs.js': path.join(__dirname, 'tfjs_graph_runs.js'),
  };
  const page = '<!doctype html><html><head><meta charset="utf-8">' +
      '<script src="/tf.min.js"></script><script src="/tfjs_graph_runs.js"></script>' +
      '</head><body>jax2tf_impl TF.js check</body></html>';
  const server = http.createServer((request, response) => {
    const url = decodeURIComponent(request.url.split('?')[0]);
    let file = files[url];
    if (url === '/index.html') {
      response.writeHead(200, {'Content-Type': 'text/html'});
      response.end(page);
      return;
    }
    if (!file && url.startsWith('/model/')) {
      const name = path.normalize(url.slice('/model/'.length));
      if (!name.startsWith('..')) file = path.join(modelDir, name);
    }
    if (!file || !fs.existsSync(file)) {
      response.writeHead(404);
      response.end();
      return;
    }
    response.writeHead(200, {'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream'});
    fs.createReadStream(file).pipe(response);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// In the page: pick the backend, load the model over HTTP, run the request.
async function pageMain({backend, request}) {
  const tf = self.tf;
  const out = {tfjs_version: tf.version.tfjs, user_agent: navigator.userAgent};
  if (!(await tf.setBackend(backend))) {
    out.load_error = `backend ${backend} is not available in this browser`;
    return out;
  }
  await tf.ready();
  out.backend = tf.getBackend();
  if (backend === 'webgl') {
    const gl = document.createElement('canvas').getContext('webgl2');
    const info = gl && gl.getExtension('WEBGL_debug_renderer_info');
    out.webgl_renderer = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : null;
  }
  let model;
  try {
    model = await tf.loadGraphModel('/model/model.json');
  } catch (e) {
    out.load_error = self.tfjsGraphRuns.errorText(e);
    return out;
  }
  return Object.assign(out, await self.tfjsGraphRuns.runRequest(tf, model, request));
}

async function main() {
  const [runnerDir, modelDir, requestPath, resultPath, backend, chromium] =
      process.argv.slice(2);
  if (!chromium) {
    console.error('usage: node tfjs_browser_runner.js RUNNER_DIR MODEL_DIR ' +
                  'REQUEST.json RESULT.json BACKEND CHROMIUM');
    process.exit(2);
  }
  const req = createRequire(path.join(path.resolve(runnerDir), 'package.json'));
  const {chromium: launcher} = req('playwright-core');
  const request = JSON.parse(fs.readFileSync(requestPath, 'utf8'));
  const server = await serve(runnerDir, modelDir);
  // The flags: no sandbox (CI runs as root), and none of Chromium's own
  // network traffic (the machine's network is closed; every refused
  // connection costs time). SwiftShader gives WebGL without a GPU.
  const browser = await launcher.launch({
    executablePath: chromium, headless: true,
    args: ['--no-sandbox', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
  });
  let result;
  try {
    const page = await browser.newPage();
    const logs = [];
    const consoleLines = [];
    page.on('pageerror', (e) => logs.push(String(e)));
    // TF.js prints a shader that fails to compile, with the compiler's log.
    page.on('console', (m) => {
      if (consoleLines.length < 40 && m.type() !== 'debug') consoleLines.push(m.text().slice(0, 4000));
    });
    await page.goto(`http://127.0.0.1:${server.address().port}/index.html`);
    result = await page.evaluate(pageMain, {backend, request});
    result.flavor = 'browser';
    if (logs.length) result.page_errors = logs.slice(0, 5);
    if (consoleLines.length) result.console = consoleLines;
  } finally {
    await browser.close();
    server.close();
  }
  fs.writeFileSync(resultPath, JSON.stringify(result));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
