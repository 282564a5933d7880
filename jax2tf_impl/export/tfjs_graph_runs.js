// Runs the requested inputs through a loaded TF.js graph model: the part of
// the Node.js runner (tfjs_node_runner.js) and the browser page
// (tfjs_browser_runner.js) that is the same in both. Loaded by `require` in
// Node.js and by a <script> tag in the page (then it is
// globalThis.tfjsGraphRuns).
//
// A request: {"runs": [[{"key": "input_0", "dtype": "float32", "shape": [1, 4],
//   "b64": "<little-endian bytes>"}, ...], ...], "repeats": 0}: one list of
//   inputs per run, keyed by the model's signature input keys; with
//   repeats > 0 each run is timed that many more times.
// runRequest's result: {"inputs": [...signature keys], "outputs": [...],
//   "runs": [{"outputs": [{"key", "dtype", "shape", "b64"}, ...],
//             "ms": median milliseconds of the timed repeats or null} or
//            {"error": "..."}]}
// Tensors of dtypes TF.js lacks (uint32) travel as int32 of the same bits.
(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.tfjsGraphRuns = factory();
}(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  const TYPED = {float32: Float32Array, int32: Int32Array, bool: Uint8Array,
                 uint32: Int32Array};

  // base64 <-> bytes without Node's Buffer (the page has none).
  function b64ToBytes(b64) {
    if (typeof Buffer !== 'undefined') {
      const b = Buffer.from(b64, 'base64');
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice();
    }
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }

  function bytesToB64(bytes) {
    if (typeof Buffer !== 'undefined') {
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
    }
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(s);
  }

  function toTensor(tf, spec) {
    const Ctor = TYPED[spec.dtype];
    if (!Ctor) throw new Error(`input dtype ${spec.dtype} has no TF.js form`);
    const data = new Ctor(b64ToBytes(spec.b64).buffer);
    const dtype = spec.dtype === 'uint32' ? 'int32' : spec.dtype;
    return tf.tensor(dtype === 'bool' ? Array.from(data, Boolean) : data,
                     spec.shape, dtype);
  }

  async function fromTensor(key, t) {
    const data = await t.data();
    const bytes = t.dtype === 'bool' ? Uint8Array.from(data)
        : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return {key, dtype: t.dtype, shape: t.shape, b64: bytesToB64(bytes)};
  }

  function errorText(e) {
    return String(e && e.stack || e).split('\n').slice(0, 3).join(' | ');
  }

  async function runRequest(tf, model, request) {
    // Signature keys (model.inputs/outputs give node names where they differ).
    const result = {inputs: model.inputNodes, outputs: model.outputNodes, runs: []};
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
        result.runs.push({error: errorText(e)});
      }
      tf.dispose(Object.values(feed));
    }
    return result;
  }

  return {runRequest, errorText};
}));
