// Runs a TF.js graph model (model.json + weight shards) in Node.js.
//
// Usage: node jax2tf_impl/export/tfjs_node_runner.js RUNNER_DIR MODEL_DIR REQUEST.json RESULT.json
//
// RUNNER_DIR: a folder with node_modules/@tensorflow/tfjs (npm install
//   @tensorflow/tfjs@4.22.0 there); @tensorflow/tfjs-node is used instead
//   if it is installed there too (native backend), else the pure-JS CPU backend.
// REQUEST.json: {"runs": [[{"key": "input_0", "dtype": "float32",
//   "shape": [1, 4], "b64": "<little-endian bytes>"}, ...], ...],
//   "repeats": 0} one list of inputs per run, keyed by the model's signature
//   input keys; with repeats > 0 each run is timed that many more times.
// RESULT.json (written): {"backend": ..., "tfjs_version": ...,
//   "inputs": [...signature keys], "outputs": [...signature keys],
//   "runs": [{"outputs": [{"key", "dtype", "shape", "b64"}, ...],
//             "ms": median milliseconds of the timed repeats or null} or
//            {"error": "..."}]}
// Tensors of dtypes TF.js lacks (uint32) travel as int32 of the same bits.
'use strict';
const fs = require('fs');
const path = require('path');
const {createRequire} = require('module');

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

const TYPED = {float32: Float32Array, int32: Int32Array, bool: Uint8Array,
               uint32: Int32Array};

function toTensor(tf, spec) {
  const bytes = Buffer.from(spec.b64, 'base64');
  const Ctor = TYPED[spec.dtype];
  if (!Ctor) throw new Error(`input dtype ${spec.dtype} has no TF.js form`);
  const data = new Ctor(bytes.buffer.slice(bytes.byteOffset,
                                           bytes.byteOffset + bytes.byteLength));
  const dtype = spec.dtype === 'uint32' ? 'int32' : spec.dtype;
  return tf.tensor(dtype === 'bool' ? Array.from(data, Boolean) : data,
                   spec.shape, dtype);
}

async function fromTensor(key, t) {
  const data = await t.data();
  let bytes;
  if (t.dtype === 'bool') bytes = Buffer.from(Uint8Array.from(data));
  else bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return {key, dtype: t.dtype, shape: t.shape, b64: bytes.toString('base64')};
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
    result.load_error = String(e && e.stack || e).split('\n').slice(0, 3).join(' | ');
    fs.writeFileSync(resultPath, JSON.stringify(result));
    return;
  }
  // Signature keys (model.inputs/outputs give node names where they differ).
  result.inputs = model.inputNodes;
  result.outputs = model.outputNodes;
  const request = JSON.parse(fs.readFileSync(requestPath, 'utf8'));
  for (const run of request.runs) {
    const feed = {};
    try {
      for (const spec of run) feed[spec.key] = toTensor(tf, spec);
      const outs = await model.executeAsync(feed, result.outputs);
      const list = Array.isArray(outs) ? outs : [outs];
      const encoded = [];
      for (let i = 0; i < list.length; i++) {
        encoded.push(await fromTensor(result.outputs[i], list[i]));
      }
      tf.dispose(list);
      // Wall time of executeAsync + reading the outputs: the median of
      // `repeats` runs, after 5 more untimed warm-up runs.
      const times = [];
      const repeats = request.repeats || 0;
      for (let r = repeats ? -5 : 0; r < repeats; r++) {
        const t0 = performance.now();
        const o = await model.executeAsync(feed, result.outputs);
        const l = Array.isArray(o) ? o : [o];
        for (const t of l) await t.data();
        if (r >= 0) times.push(performance.now() - t0);
        tf.dispose(l);
      }
      times.sort((a, b) => a - b);
      const ms = times.length ? times[Math.floor(times.length / 2)] : null;
      result.runs.push({outputs: encoded, ms});
    } catch (e) {
      result.runs.push({error: String(e && e.stack || e).split('\n').slice(0, 3).join(' | ')});
    }
    tf.dispose(Object.values(feed));
  }
  fs.writeFileSync(resultPath, JSON.stringify(result));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
