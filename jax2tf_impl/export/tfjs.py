"""TF.js export: a SavedModel converted by the tensorflowjs converter, the
static check of what TF.js can run, and a Node.js runner for tests.

The tensorflowjs converter pins an older TensorFlow than ours, so it usually
lives in a separate interpreter (see docs/deployment.md for the setup);
`convert_saved_model` runs it in a subprocess of `converter_python`
(tfjs_converter_cli.py). The op/dtype check needs no converter: it reads the
op lists of tensorflowjs 4.22.0, copied into tfjs_supported_ops.json.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Callable, Sequence

import jax
import numpy as np
import tensorflow as tf
from jax import tree_util

from jax2tf_impl import interpreter
from jax2tf_impl import jax_internals as ji
from jax2tf_impl import saved_model
from jax2tf_impl import tf_internals
from jax2tf_impl import uint32_limbs
from jax2tf_impl.export import signatures

_HERE = os.path.dirname(os.path.abspath(__file__))
CONVERTER_CLI = os.path.join(_HERE, "tfjs_converter_cli.py")
NODE_RUNNER = os.path.join(_HERE, "tfjs_node_runner.js")
BROWSER_RUNNER = os.path.join(_HERE, "tfjs_browser_runner.js")
SUPPORTED_OPS_JSON = os.path.join(_HERE, "tfjs_supported_ops.json")

# Ops the converter accepts and removes with strip_debug_ops=True, as
# tfjs_converter_cli.py runs it (our input-shape checks are Asserts).
DEBUG_OPS = frozenset({"Assert", "CheckNumerics", "Print"})
# Ops in the op list that TF.js 4.22.0 graph models cannot run: its op list
# names BitwiseAnd's inputs x and y (tfjs-converter
# dist/operations/op_list/logical.js) but its executor reads params a and b
# (dist/operations/executors/logical_executor.js), so it always fails with
# "Argument 'x' passed to 'bitwiseAnd' must be a Tensor ... but got 'null'"
# (measured in Node.js with @tensorflow/tfjs 4.22.0).
BROKEN_OPS = {"BitwiseAnd": "TF.js 4.22.0's graph executor passes it null inputs"}
# The TF dtypes that TF.js 4.22.0 maps to one of its own (parseDtypeParam in
# tfjs-converter/src/operations/operation_mapper.ts: 64/8-bit ints become
# int32, half/double float32); it maps any other (uint32, uint64, int16,
# uint16, bfloat16) to null, and such a node fails or misbehaves at run time.
TFJS_DTYPES = frozenset({"float32", "float16", "float64", "int32", "int64",
                         "int8", "uint8", "bool", "string", "complex64",
                         "complex128"})


def export_saved_model(fun: Callable[..., Any], example_args: Sequence[Any],
                       path: str, *,
                       polymorphic_shapes: Sequence[Any] | None = None,
                       uint32_as: str = "int32") -> None:
  """A SavedModel of `fun` (enable_xla=False) with one serving signature of
  flat inputs input_i and outputs output_i: what the TF.js converter reads.

  TF.js has no uint32: uint32 arithmetic inside (jax.random's threefry) is
  computed on 16-bit limbs (uint32_limbs.py), and a uint32 input or output
  (a PRNG key's data, say) is in the signature as
    uint32_as="int32": int32 with the same bits (exact on TF.js's CPU, WASM
        and Node.js backends; WebGL keeps int32 in float32, exact below 2**24);
    uint32_as="hi_lo": int32[*shape, 2] of its 16-bit halves
        (uint32_limbs.hi_lo_of), exact on every backend, WebGL included.
  """
  if uint32_as == "hi_lo" and polymorphic_shapes is not None:
    leaves = [tree_util.tree_leaves(a) for a in example_args]
    for arg, spec in zip(leaves, polymorphic_shapes):
      if spec is not None and any(np.asarray(x).dtype == np.uint32 for x in arg):
        raise ValueError("uint32_as='hi_lo' needs a static shape (polymorphic "
                         "spec None) for arguments holding uint32 arrays")
  fun, example_args = uint32_limbs.int32_for_uint32(fun, example_args,
                                                    boundary=uint32_as)
  fn, _, converted = signatures.flat_serving_function(
      fun, example_args, polymorphic_shapes, enable_xla=False,
      named_outputs=True)
  module = tf.Module()
  module.f = fn
  module.converted = converted  # tracks the constant variables
  saved_model.save(module, path, signatures={"serving_default": module.f})


def frozen_graph(saved_model_dir: str) -> Any:
  """The GraphDef the TF.js converter validates before optimizing: the
  serving signature frozen as tensorflowjs freezes it (variables inlined,
  control flow lowered). Its function library is part of it."""
  loaded = tf.saved_model.load(saved_model_dir)  # keeps the variables alive
  return tf_internals.frozen_graph_def(loaded.signatures["serving_default"])


def _all_nodes(graph_def: Any) -> list[Any]:
  nodes = list(graph_def.node)
  for f in graph_def.library.function:
    nodes.extend(f.node_def)
  return nodes


def graph_ops(graph_def: Any) -> set[str]:
  """Op types of the graph's nodes and of its function library's nodes."""
  return {n.op for n in _all_nodes(graph_def)}


def graph_dtypes(graph_def: Any) -> dict[str, set[str]]:
  """dtype name -> op types whose type attributes (T, dtype, ...) use it."""
  out: dict[str, set[str]] = {}
  for n in _all_nodes(graph_def):
    for value in n.attr.values():
      types = ([value.type] if value.HasField("type") else
               list(value.list.type) if value.HasField("list") else [])
      for t in types:
        out.setdefault(tf.dtypes.as_dtype(t).name, set()).add(n.op)
  return out


def supported_ops() -> dict[str, str]:
  """The TF op types tensorflowjs 4.22.0's converter and runtime accept."""
  with open(SUPPORTED_OPS_JSON) as f:
    return json.load(f)["ops"]


def unsupported(graph_def: Any) -> tuple[list[str], list[str]]:
  """(ops TF.js cannot run, dtypes TF.js has no mapping for) in a graph.

  The ops: those not in the TF.js op list (other than the debug ops the
  conversion strips) and those in BROKEN_OPS.
  """
  ops = graph_ops(graph_def)
  bad_ops = sorted((ops - set(supported_ops()) - DEBUG_OPS)
                   | (ops & set(BROKEN_OPS)))
  dtypes = graph_dtypes(graph_def)
  bad_dtypes = sorted(f"{d} (in {', '.join(sorted(dtypes[d]))})"
                      for d in dtypes if d not in TFJS_DTYPES)
  return bad_ops, bad_dtypes


def _last_json_line(text: str) -> dict[str, Any] | None:
  for line in reversed(text.splitlines()):
    if line.startswith("{"):
      return json.loads(line)
  return None


def convert_saved_model(saved_model_dir: str, out_dir: str, *,
                        converter_python: str | None = None,
                        timeout: float = 600) -> dict[str, Any]:
  """Runs the tensorflowjs converter on a SavedModel in a subprocess.

  Returns {"ok": True, "ops": [...]} (the written model.json's op types) or
  {"ok": False, "error": "..."}.
  """
  python = converter_python or sys.executable
  proc = subprocess.run([python, CONVERTER_CLI, saved_model_dir, out_dir],
                        capture_output=True, text=True, timeout=timeout,
                        check=False)
  result = _last_json_line(proc.stdout)
  if result is not None:
    return result
  tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
  return {"ok": False, "error": f"converter exited {proc.returncode}: {tail}"}


def probe_converter(converter_python: str | None = None,
                    timeout: float = 300) -> str | None:
  """None if `converter_python` can run the converter, else why not."""
  python = converter_python or sys.executable
  try:
    proc = subprocess.run([python, CONVERTER_CLI, "--probe"],
                          capture_output=True, text=True, timeout=timeout,
                          check=False)
  except OSError as e:
    return f"{python}: {e}"
  result = _last_json_line(proc.stdout)
  if result is None:
    return f"{python} --probe exited {proc.returncode}"
  return None if result["ok"] else f"{python}: {result['error']}"


_INT64 = (np.dtype(np.int64), np.dtype(np.uint64))


def int64_uses(fun: Callable[..., Any], example_args: Sequence[Any],
               limit: int = 3) -> list[str]:
  """Up to `limit` equations of `fun` that compute 64-bit integers (JAX's
  x64 mode), as "primitive -> dtype at file:line"."""
  closed = jax.make_jaxpr(fun)(*example_args)
  found: list[str] = []
  for eqn in interpreter.walk_eqns(closed.jaxpr):
    dtypes = {np.dtype(v.aval.dtype) for v in eqn.outvars
              if hasattr(v.aval, "dtype") and not ji.is_extended_dtype(v.aval.dtype)}
    wide = sorted(d.name for d in dtypes if d in _INT64)
    if wide:
      found.append(f"{eqn.primitive.name} -> {', '.join(wide)} at "
                   f"{interpreter.source_of(eqn)}")
      if len(found) >= limit:
        break
  return found


def export_tfjs(fun: Callable[..., Any], example_args: Sequence[Any],
                out_dir: str, *,
                polymorphic_shapes: Sequence[Any] | None = None,
                converter_python: str | None = None,
                uint32_as: str = "int32",
                int64_as_int32: bool = False) -> list[str]:
  """Writes a TF.js graph model of `fun` to `out_dir`; returns its op types.

  Fails before converting if the graph holds an op or dtype TF.js lacks,
  naming them. `converter_python` is an interpreter that can import
  tensorflowjs (default: this one). `uint32_as`: see export_saved_model.

  TF.js has no 64-bit integers: its converter maps int64 to int32, so
  values beyond 2**31 would wrap without a word. A function computing
  int64/uint64 (JAX's x64 mode) is refused, naming where, unless
  `int64_as_int32=True` accepts int32 arithmetic for it.
  """
  if not int64_as_int32:
    uses = int64_uses(fun, example_args)
    if uses:
      raise NotImplementedError(
          "TF.js has no 64-bit integers (its converter computes int64 as "
          "int32: values beyond 2**31 would wrap silently), and the function "
          f"computes them: {'; '.join(uses)}. Export with jax_enable_x64 "
          "off, cast to int32 in the function, or pass int64_as_int32=True "
          "if int32 arithmetic is right for these values.")
  with tempfile.TemporaryDirectory() as tmp:
    sm = os.path.join(tmp, "saved_model")
    export_saved_model(fun, example_args, sm,
                       polymorphic_shapes=polymorphic_shapes, uint32_as=uint32_as)
    bad_ops, bad_dtypes = unsupported(frozen_graph(sm))
    if bad_ops or bad_dtypes:
      raise NotImplementedError(
          "the graph cannot run in TF.js: "
          + "; ".join(filter(None, [
              bad_ops and f"ops {bad_ops}",
              bad_dtypes and f"dtypes {bad_dtypes}"]))
          + " (docs/deployment.md lists the portable forms)")
    result = convert_saved_model(sm, out_dir, converter_python=converter_python)
  if not result["ok"]:
    raise RuntimeError(f"the TF.js converter failed: {result['error']}")
  return list(result.get("ops", []))


# --- running a TF.js graph model in Node.js or Chromium (tests, benchmarks) ---

def _encode(key: str, x: np.ndarray) -> dict[str, Any]:
  x = np.ascontiguousarray(x)
  if x.dtype == np.uint32:  # export_saved_model's signature takes the int32 bits
    x = x.view(np.int32)
  little = x.astype(x.dtype.newbyteorder("<"))
  return {"key": key, "dtype": x.dtype.name, "shape": list(x.shape),
          "b64": base64.b64encode(little.tobytes()).decode()}


def _decode(spec: dict[str, Any]) -> np.ndarray:
  dtype = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}[spec["dtype"]]
  return np.frombuffer(base64.b64decode(spec["b64"]), dtype).reshape(spec["shape"])


def _run_js(command: Sequence[str], runs: Sequence[Sequence[np.ndarray]],
            repeats: int, timeout: float) -> dict[str, Any]:
  """Runs a runner script and decodes its outputs (tfjs_graph_runs.js has
  the formats). `command` is [node, script, RUNNER_DIR, MODEL_DIR, extra
  args...]; the REQUEST and RESULT paths go after MODEL_DIR."""
  with tempfile.TemporaryDirectory() as tmp:
    req, res = os.path.join(tmp, "request.json"), os.path.join(tmp, "result.json")
    with open(req, "w") as f:
      json.dump({"runs": [[_encode(signatures.input_name(i), np.asarray(x))
                           for i, x in enumerate(r)] for r in runs],
                 "repeats": repeats}, f)
    argv = [*command[:4], req, res, *command[4:]]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          check=False)
    if proc.returncode != 0 or not os.path.exists(res):
      tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
      return {"load_error": f"{os.path.basename(argv[1])} exited {proc.returncode}: {tail}"}
    with open(res) as f:
      result = json.load(f)
  for run in result.get("runs", []):
    if "outputs" in run:
      order = sorted(run["outputs"], key=lambda o: int(o["key"].rsplit("_", 1)[1]))
      run["arrays"] = [_decode(o) for o in order]
  return result


def run_in_node(runner_dir: str, model_dir: str,
                runs: Sequence[Sequence[np.ndarray]], timeout: float = 600,
                repeats: int = 0) -> dict[str, Any]:
  """Runs a TF.js graph model in Node.js once per input list.

  `runner_dir` holds node_modules/@tensorflow/tfjs. Each run's outputs come
  back as "arrays" (in output_i order); with repeats > 0 each run also gets
  "ms": the median wall time of that many further runs (after warm-up).
  """
  node = shutil.which("node") or "node"
  return _run_js([node, NODE_RUNNER, runner_dir, model_dir], runs, repeats, timeout)


BROWSER_BACKENDS = ("cpu", "webgl")


def run_in_browser(runner_dir: str, model_dir: str,
                   runs: Sequence[Sequence[np.ndarray]], *, backend: str,
                   chromium: str, timeout: float = 600,
                   repeats: int = 0) -> dict[str, Any]:
  """Runs a TF.js graph model in headless Chromium, as a web page does.

  The page loads @tensorflow/tfjs's browser bundle and the model over HTTP
  from localhost, with `backend` ("cpu" or "webgl"). `runner_dir` holds
  node_modules/@tensorflow/tfjs and node_modules/playwright-core; `chromium`
  is the browser executable. Results as `run_in_node`, plus "user_agent"
  and, for webgl, "webgl_renderer".
  """
  if backend not in BROWSER_BACKENDS:
    raise ValueError(f"backend must be one of {BROWSER_BACKENDS}, not {backend!r}")
  node = shutil.which("node") or "node"
  return _run_js([node, BROWSER_RUNNER, runner_dir, model_dir, backend, chromium],
                 runs, repeats, timeout)
