// Runs a TF.js graph model (model.json + weight shards) in Node.js.
//
// Usage: node jax2tf_impl/export/tfjs_node_runner.js RUNNER_DIR MODEL_DIR REQUEST.json RESULT.json
//
// RUNNER_DIR: a folder with node_modules/@tensorflow/tfjs (npm install
//   @tensorflow/tfjs@4.22.0 there); @tensorflow/tfjs-node is used instead
//   if it is installed there too (native backend), else the pure-JS CPU backend.
// REQUEST.json, RESULT.json: see tfjs_graph_runs.js; the result also has
//   "backend", "flavor" and "tfjs_version" (or "load_error").
'use strict';
const fs = require('fs');
const path = require('path');
const {createRequire} = require('module');
const {runRequest, errorText} = require('./tfjs_graph_runs.js');

function loadTf(runnerDir) {
  const req = createRequire(path.join(path.resolve(runnerDir), 'package.json'));
  try {
    return {tf: req('@tensorflow/tfjs-node'), flavor: 'tfjs-node'};
  } catch (e) {
    return {tf: req('@tensorflow/tfjs'), flavor: 'tfjs'};
  }
}

function fileHandler(tf, modelDir) {
  return {
    load: async () => {
      const modelJSON = JSON.parse(
          fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
      return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const specs = [];
        const buffers = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) {
            const b = fs.readFileSync(path.join(modelDir, p));
            buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
          }
        }
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}

async function main() {
  const [runnerDir, modelDir, requestPath, resultPath] = process.argv.slice(2);
  if (!resultPath) {
    console.error('usage: node tfjs_node_runner.js RUNNER_DIR MODEL_DIR REQUEST.json RESULT.json');
    process.exit(2);
  }
  const {tf, flavor} = loadTf(runnerDir);
  if (flavor === 'tfjs') await tf.setBackend('cpu');
  await tf.ready();
  const result = {backend: tf.getBackend(), flavor, tfjs_version: tf.version.tfjs,
                  runs: []};
  let model;
  try {
    model = await tf.loadGraphModel(fileHandler(tf, modelDir));
  } catch (e) {
    result.load_error = errorText(e);
    fs.writeFileSync(resultPath, JSON.stringify(result));
    return;
  }
  const request = JSON.parse(fs.readFileSync(requestPath, 'utf8'));
  Object.assign(result, await runRequest(tf, model, request));
  fs.writeFileSync(resultPath, JSON.stringify(result));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
