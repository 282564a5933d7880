"""Per-primitive portability matrix: JAX's harnesses on TFLite, ONNX, TF.js, tf2jax.

Usage: python benchmarks/portability_matrix.py [--per-group 3] [--groups a,b]
                                               [--all] [--write] [--json PATH]

For a deterministic sample of JAX's own primitive harnesses
(`tests/harness_support.py`, the suite of tests/test_harnesses.py) this
measures which primitives survive each deployment target:

* Harnesses run with JAX's x64 flag on, as the harness suite expects
  (tests/conftest.py), but only those whose arguments and results hold no
  64-bit dtype (float64/int64/uint64/complex128) are eligible: the
  deployment targets run 32-bit models. Harnesses JAX itself cannot run on
  CPU (`harness.jax_unimplemented`) are left out too.
* Sampling: per group, the eligible harnesses sorted by full name, `N`
  evenly spaced among them (the same rule as `select_harnesses`); `--all`
  takes every eligible harness.
* tf.function: the `enable_xla=False` graph in a tf.function (harness mode
  "noxla"), i.e. what the exports start from. Where it cannot even be built
  (no XLA-free lowering), every target is "n/a" with that reason.
* TFLite: `jax2tf_impl.export.export_tflite(harness.dyn_fun, args)` (static
  shapes, TFLITE_BUILTINS only), run by the ai-edge-litert Interpreter's
  signature runner (inputs `args_<i>`, outputs `output_<i>`).
* ONNX: `jax2tf_impl.export.export_onnx(harness.dyn_fun, args)` (opset 18,
  static shapes), run by onnxruntime's CPUExecutionProvider.
* TF.js (op/dtype check): a static check only, with no TF.js conversion and
  no Node.js run. The noxla tf.function's concrete function (the harness's
  own argument shapes) is frozen as the tensorflowjs converter freezes a
  signature (`convert_variables_to_constants_v2(lower_control_flow=True,
  aggressive_inlining=True)`: nested function calls inlined, While/If
  lowered, unused nodes pruned), and its GraphDef, function library
  included, is checked by `unsupported()` of examples/tfjs_node_check.py:
  op types outside tensorflowjs 4.22.0's op lists
  (jax2tf_impl/export/tfjs_supported_ops.json; Assert/CheckNumerics/Print allowed,
  the converter strips them; BitwiseAnd refused, TF.js cannot run it) and
  dtypes TF.js has no mapping for (uint16, uint32, uint64, int16,
  bfloat16, ...). OK only says the converter's op check would pass and
  every dtype maps; it says nothing of the values (TF.js computes 64-bit
  types in 32 bits).
* tf2jax (round trip back to JAX): the *default* graph
  (`jax2tf_impl.convert(harness.dyn_fun)`, enable_xla=True, what a JAX
  user hands to tf2jax) in a tf.function, read by `tf2jax.convert`
  (its default config: our custom gradient converted too), run under
  `jax.jit` and compared with JAX as the TFLite/ONNX results are.
* TFLite and ONNX results are compared with `jax.jit(harness.dyn_fun)` the way
  tests/test_harnesses.py does: the family's property check where
  tests/checks defines one, else `assert_same` (dtypes, shapes, values within
  the harness tolerance).

Failures are isolated per harness and target and classified: the TF ops the
target's converter rejected (TFLite: the converter's "TF Select ops" /
"neither a custom op nor a flex op"; ONNX: the TF ops tf2onnx left in the
graph), other converter errors, runtime errors (model load / invoke), and
wrong results; TF.js failures are the op types and dtypes the static check
refuses. The markdown report is printed; `--write` also writes it to
docs/portability.md. Progress goes to stderr. The default sample (3 per
group, ~380 harnesses) takes about 3 minutes on one core; --all (~5350
harnesses) about 40.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import datetime
import json
import logging
import os
import platform
import re
import sys
import time

import bench_env  # benchmarks/, next to this script
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)  # as tests/conftest.py

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from support import harness as hs  # noqa: E402  pylint: disable=g-import-not-at-top
import jax2tf_impl  # noqa: E402
from jax2tf_impl import export  # noqa: E402
from jax2tf_impl import tf_internals  # noqa: E402
from jax2tf_impl.export import tfjs as tfjs_check  # noqa: E402


REPORT_PATH = os.path.join(ROOT, "docs", "portability.md")
WIDE = frozenset({"float64", "int64", "uint64", "complex128"})
TARGETS = ("tflite", "onnx", "tfjs", "tf2jax")
NAMES = {"tf": "tf.function", "tflite": "TFLite", "onnx": "ONNX",
         "tfjs": "TF.js (op/dtype check)", "tf2jax": "tf2jax"}

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

for _name in ("tf2onnx", "tensorflow", "absl"):
  logging.getLogger(_name).setLevel(logging.CRITICAL)


# ----------------------------------------------------------------------------
# Selection


def _dtype_names(xs) -> list[str]:
  out = []
  for x in jax.tree_util.tree_leaves(xs):
    try:
      out.append(np.dtype(x.dtype).name)
    except (AttributeError, TypeError):
      out.append(np.asarray(x).dtype.name)
  return out


def eligible(harness: Any) -> str | None:
  """Why `harness` is not eligible, or None."""
  why = hs.jax_unimplemented_on_cpu(harness)
  if why:
    return f"JAX does not run it on CPU: {why}"
  args = hs.make_args(harness)
  wide = sorted(set(_dtype_names(args)) & WIDE)
  if wide:
    return f"64-bit args {wide}"
  try:
    out = jax.eval_shape(harness.dyn_fun, *args)
  except Exception as e:  # pylint: disable=broad-except
    return f"JAX fails: {type(e).__name__}"
  wide = sorted(set(_dtype_names(out)) & WIDE)
  if wide:
    return f"64-bit results {wide}"
  return None


def select(groups: list[str] | None, per_group: int | None
           ) -> tuple[dict[str, list[Any]], dict[str, int]]:
  """{group: sampled eligible harnesses} and {group: number eligible}."""
  by_group: dict[str, list[Any]] = collections.defaultdict(list)
  for h in hs.all_harnesses():
    if groups is None or h.group_name in groups:
      by_group[h.group_name]  # pylint: disable=pointless-statement
      if eligible(h) is None:
        by_group[h.group_name].append(h)
  if groups is not None:
    unknown = sorted(set(groups) - set(by_group))
    if unknown:
      raise SystemExit(f"unknown groups: {unknown}")
  selected, n_eligible = {}, {}
  for g in sorted(by_group):
    hs_ = sorted(by_group[g], key=lambda h: h.fullname)
    n_eligible[g] = len(hs_)
    if per_group is not None and len(hs_) > per_group:
      step = len(hs_) / per_group
      hs_ = [hs_[int(i * step)] for i in range(per_group)]
    selected[g] = hs_
  return selected, n_eligible


# ----------------------------------------------------------------------------
# Outcomes


@dataclasses.dataclass
class Outcome:
  """One harness on one target (or the tf.function baseline)."""
  status: str            # ok | na | convert | runtime | mismatch
  reason: str = ""       # short, deduplicable
  ops: tuple[str, ...] = ()      # TF ops the converter rejected
  op_types: tuple[str, ...] = ()  # the same, with element types where known
  dtypes: tuple[str, ...] = ()   # TF.js: "dtype (in Op, ...)" it lacks
  detail: str = ""       # first line of the error

  @property
  def ok(self) -> bool:
    return self.status == "ok"


def _dtype_name(harness: Any) -> str:
  try:
    return np.dtype(harness.dtype).name
  except TypeError:
    return str(harness.dtype)


def _first_line(e: BaseException, limit: int = 200) -> str:
  s = str(e).strip()
  line = s.splitlines()[0] if s else ""
  return f"{type(e).__name__}: {line}"[:limit]


_TENSOR = re.compile(r"tensor<(?:[0-9?]+x)*([a-z0-9]+(?:<[a-z0-9]+>)?)>")
_MLIR_TYPES = {"i1": "bool", "i8": "int8", "i16": "int16", "i32": "int32",
               "i64": "int64", "ui8": "uint8", "ui16": "uint16",
               "ui32": "uint32", "ui64": "uint64", "f16": "float16",
               "bf16": "bfloat16", "f32": "float32", "f64": "float64",
               "complex<f32>": "complex64", "complex<f64>": "complex128"}


def _mlir_types(sig: str) -> str:
  return ",".join(_MLIR_TYPES.get(t, t) for t in _TENSOR.findall(sig))


def _tflite_convert_failure(msg: str) -> Outcome:
  """Classifies a TFLite ConverterError message."""
  ops: list[str] = []
  typed: list[str] = []
  m = re.search(r"TF Select ops: ([^\n]*)", msg)
  if m:
    ops += [o.strip() for o in m.group(1).split(",") if o.strip()]
  for m in re.finditer(r"^\s*tf\.(\w+)\((.*?)\) -> \((.*?)\)", msg, re.M):
    typed.append(f"{m.group(1)}({_mlir_types(m.group(2))} -> "
                 f"{_mlir_types(m.group(3))})")
  ops += re.findall(r"'tf\.(\w+)' op is neither a custom op nor a flex op",
                    msg)
  ops += re.findall(r"failed to legalize operation 'tf\.(\w+)'", msg)
  ops = sorted(set(ops))
  if ops:
    return Outcome("convert", "TF ops: " + ", ".join(ops), tuple(ops),
                   tuple(sorted(set(typed))), _error_line(msg))
  # Builtin ops with an unsupported operand type, verifier errors, ...
  m = re.search(r"error: ('tfl?\.\w+' op [^\n]*)", msg)
  if m:
    line = re.sub(r"tensor<[^>]*>", "tensor", m.group(1))
    return Outcome("convert", line[:120], detail=line[:200])
  return Outcome("convert", _error_line(msg)[:120], detail=_error_line(msg))


def _error_line(msg: str) -> str:
  m = re.search(r"error: ([^\n]*)", msg)
  line = m.group(1) if m else (msg.strip().splitlines() or [""])[0]
  return line.strip()[:200]


def _onnx_convert_failure(e: BaseException) -> Outcome:
  msg = str(e)
  m = re.search(r"could not convert the TF ops \[(.*?)\]", msg)
  if m:
    ops = tuple(sorted(re.findall(r"'(\w+)'", m.group(1))))
    return Outcome("convert", "TF ops: " + ", ".join(ops), ops, (),
                   _first_line(e))
  return Outcome("convert", "tf2onnx: " + _first_line(e, 120),
                 detail=_first_line(e))


def _runtime_failure(prefix: str, e: BaseException, dtype: str = ""
                     ) -> Outcome:
  line = _first_line(e, 400)
  m = re.search(r"Could not find an implementation for (\w+\(\d+\))", line)
  if m:
    on = f" (harness dtype {dtype})" if dtype else ""
    return Outcome("runtime", f"{prefix}: no kernel for {m.group(1)}{on}",
                   detail=line[:200])
  m = re.search(r"Type '?(tensor\(\w+\))'? of (?:input|output) "
                r"parameter .*? of operator \((\w+)\)", line)
  if m:
    return Outcome("runtime", f"{prefix}: {m.group(2)} does not take "
                   f"{m.group(1)}", detail=line[:200])
  m = re.search(r"Type parameter \(\w+\) of Optype \((\w+)\) bound to "
                r"different types \((tensor\(\w+\)) and (tensor\(\w+\))", line)
  if m:
    return Outcome("runtime", f"{prefix}: invalid model, {m.group(1)} gets "
                   f"{m.group(2)} and {m.group(3)}", detail=line[:200])
  short = re.sub(r"\s+", " ", line)
  short = re.sub(r"Node \([^)]*\) ", "", short)
  short = re.sub(r"^\w+: \[ONNXRuntimeError\] : \d+ : \w+ : ", "", short)
  short = re.sub(r"^Exception during loading: ", "", short)
  short = re.sub(r"node with name '[^']*'", "node", short)
  return Outcome("runtime", f"{prefix}: {short[:110]}", detail=line[:200])


def compare(harness: Any, args: list[Any], jax_outs: list[np.ndarray],
            got: list[np.ndarray]) -> Outcome:
  """As hs.check_harness: the family's property check, else assert_same."""
  got = [np.asarray(x) for x in got]
  try:
    # A case from elsewhere (benchmarks/sweep_portability.py) brings its
    # own comparison.
    check = getattr(harness, "check", None) or hs.custom_checks().get(
        harness.group_name)
    if check is not None:
      check(harness, args, jax_outs, got)
    else:
      hs.assert_same(harness, jax_outs, got)
  except AssertionError as e:
    return Outcome("mismatch", _mismatch_reason(harness, jax_outs, got),
                   detail=_first_line(e))
  except Exception as e:  # pylint: disable=broad-except
    return Outcome("mismatch", "check raised " + _first_line(e, 100),
                   detail=_first_line(e))
  return Outcome("ok")


def _mismatch_reason(harness: Any, jax_outs: list[np.ndarray],
                     got: list[np.ndarray]) -> str:
  if len(jax_outs) != len(got):
    return f"wrong result: {len(got)} outputs, JAX has {len(jax_outs)}"
  for i, (j, t) in enumerate(zip(jax_outs, got)):
    if j.dtype != t.dtype:
      return f"wrong result: output {i} is {t.dtype}, JAX's is {j.dtype}"
    if j.shape != t.shape:
      return f"wrong result: output {i} shape {t.shape} != JAX {j.shape}"
  parts = []
  for i, (j, t) in enumerate(zip(jax_outs, got)):
    if j.size == 0:
      continue
    if j.dtype.kind in "fc" or j.dtype.name == "bfloat16":
      wide = np.complex128 if j.dtype.kind == "c" else np.float64
      a, b = j.astype(wide), t.astype(wide)
      nan_diff = np.isnan(a) != np.isnan(b)
      both = ~(np.isnan(a) | np.isnan(b))
      err = np.abs(a - b)[both & (a != b)]
      tol = hs.tolerance_for(harness, j.dtype)
      bits = []
      if nan_diff.any():
        bits.append(f"{int(nan_diff.sum())} NaN differences")
      if err.size:
        bits.append(f"max |err| {float(np.max(err)):.3g} (tol {tol:g})")
      if bits:
        parts.append(f"output {i} {j.dtype}: " + ", ".join(bits))
    elif not np.array_equal(j, t):
      parts.append(f"output {i} {j.dtype}: {int(np.sum(j != t))}/{j.size} "
                   "elements differ")
  return "wrong result: " + ("; ".join(parts) or "property check failed")


# ----------------------------------------------------------------------------
# Running one harness


def _tf_baseline(harness: Any, args: list[Any], jax_outs: list[np.ndarray]
                 ) -> Outcome:
  try:
    got = hs.run_converted(harness, args, "noxla")
  except Exception as e:  # pylint: disable=broad-except
    return Outcome("convert", "no enable_xla=False lowering: " +
                   _first_line(e, 120), detail=_first_line(e))
  return compare(harness, args, jax_outs, got)


def _arg_index(name: str) -> int:
  m = re.search(r"(\d+)$", name)
  return int(m.group(1)) if m else 0


def _output_order(name: str):
  m = re.fullmatch(r"output_(\d+)", name)
  return (0, int(m.group(1)), "") if m else (1, 0, name)


def _interpreter(content: bytes):
  try:
    from ai_edge_litert.interpreter import Interpreter  # pylint: disable=g-import-not-at-top
  except ImportError:
    Interpreter = tf.lite.Interpreter  # noqa: N806
  return Interpreter(model_content=content, num_threads=1)


def _invoke_tflite(content: bytes, args: list[Any]) -> list[np.ndarray]:
  """Runs the serving signature: inputs args_<i>, outputs output_<i>.

  Not through the signature runner's __call__: LiteRT's Python GetTensor
  raises "Invalid tensor size." for zero-size tensors, so those outputs are
  made from the (static) output details instead.
  """
  interp = _interpreter(content)
  runner = interp.get_signature_runner()
  in_details = runner.get_input_details()
  out_details = runner.get_output_details()
  del runner
  interp.allocate_tensors()
  for name, d in in_details.items():
    x = np.asarray(args[_arg_index(name)])
    if x.size:
      interp.set_tensor(d["index"], x)
  interp.invoke()
  got = []
  for name in sorted(out_details, key=_output_order):
    d = out_details[name]
    shape = tuple(int(n) for n in d["shape"])
    if int(np.prod(shape)) == 0:
      got.append(np.zeros(shape, d["dtype"]))
    else:
      got.append(np.array(interp.get_tensor(d["index"])))
  return got


def run_tflite(harness: Any, args: list[Any], jax_outs: list[np.ndarray]
               ) -> Outcome:
  try:
    content = export.export_tflite(harness.dyn_fun, args)
  except Exception as e:  # pylint: disable=broad-except
    if type(e).__name__ == "ConverterError":
      return _tflite_convert_failure(str(e))
    return Outcome("convert", _first_line(e, 120), detail=_first_line(e))
  try:
    got = _invoke_tflite(content, args)
  except Exception as e:  # pylint: disable=broad-except
    return _runtime_failure("LiteRT", e)
  return compare(harness, args, jax_outs, got)


def _onnx_io_types(model: Any, args: list[Any], jax_outs: list[np.ndarray]
                   ) -> str:
  """Where the model's declared input/output dtypes differ from JAX's.

  (tf2onnx maps TF bfloat16 to ONNX FLOAT16: tf2onnx/tf_utils.py.)
  """
  from onnx import helper  # pylint: disable=g-import-not-at-top
  wrong = []
  inputs = {i.name: i for i in model.graph.input}
  for what, values, infos in (
      ("input", [np.asarray(a) for a in args],
       [inputs.get(f"input_{i}") for i in range(len(args))]),
      ("output", jax_outs, list(model.graph.output))):
    for i, (x, info) in enumerate(zip(values, infos)):
      if info is None:
        continue
      declared = info.type.tensor_type.elem_type
      try:
        expected = helper.np_dtype_to_tensor_dtype(x.dtype)
      except Exception:  # pylint: disable=broad-except
        continue
      if declared != expected:
        wrong.append((what, x.dtype.name,
                      helper.tensor_dtype_to_np_dtype(declared).name))
  if not wrong:
    return ""
  kinds = sorted({f"{w} {e} declared as {d}" for w, e, d in wrong})
  return "model types " + "; ".join(kinds)


def _ort_value(ort: Any, x: Any) -> Any:
  """An OrtValue; bfloat16 (which onnxruntime's numpy bridge lacks) as bits."""
  x = np.array(x, order="C")  # (np.ascontiguousarray makes 0-d arrays 1-d)
  if x.dtype.name == "bfloat16":
    from onnx import TensorProto  # pylint: disable=g-import-not-at-top
    return ort.OrtValue.ortvalue_from_numpy_with_onnx_type(
        x.view(np.uint16), onnx_element_type=TensorProto.BFLOAT16)
  return ort.OrtValue.ortvalue_from_numpy(x)


def _from_ort_value(v: Any) -> np.ndarray:
  if v.data_type() == "tensor(bfloat16)":
    import ctypes  # pylint: disable=g-import-not-at-top
    import ml_dtypes  # pylint: disable=g-import-not-at-top
    n = v.tensor_size_in_bytes()
    raw = (ctypes.c_uint8 * n).from_address(v.data_ptr()) if n else b""
    return (np.frombuffer(raw, np.uint16).copy().view(ml_dtypes.bfloat16)
            .reshape(v.shape()))
  return v.numpy()


def run_onnx(harness: Any, args: list[Any], jax_outs: list[np.ndarray]
             ) -> Outcome:
  import onnxruntime as ort  # pylint: disable=g-import-not-at-top
  try:
    model = export.export_onnx(harness.dyn_fun, args)
  except Exception as e:  # pylint: disable=broad-except
    return _onnx_convert_failure(e)
  wrong_io = _onnx_io_types(model, args, jax_outs)
  if wrong_io:
    return Outcome("convert", wrong_io, detail=wrong_io)
  try:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 4
    session = ort.InferenceSession(model.SerializeToString(), opts,
                                   providers=["CPUExecutionProvider"])
    feed = {i.name: _ort_value(ort, args[_arg_index(i.name)])
            for i in session.get_inputs()}
    got = [_from_ort_value(v) for v in session.run_with_ort_values(None, feed)]
  except Exception as e:  # pylint: disable=broad-except
    return _runtime_failure("onnxruntime", e, _dtype_name(harness))
  return compare(harness, args, jax_outs, got)


def tfjs_graph_def(harness: Any, args: list[Any]) -> Any:
  """The GraphDef the TF.js converter would validate for this harness.

  The noxla tf.function's concrete function, frozen as tensorflowjs freezes
  a signature (tf_saved_model_conversion_v2._freeze_saved_model_v2), so that
  nested calls are inlined and While/If lowered, as the converter sees them.
  No SavedModel round trip: the harness graph holds no variables.
  """
  converted = jax2tf_impl.convert(harness.dyn_fun, enable_xla=False)
  tf_args = [tf.constant(np.asarray(a)) for a in args]
  concrete = tf.function(converted, autograph=False).get_concrete_function(
      *tf_args)
  return tf_internals.frozen_graph_def(concrete)


def _dtype_of(entry: str) -> tuple[str, list[str]]:
  """"uint32 (in Add, Const)" -> ("uint32", ["Add", "Const"])."""
  m = re.fullmatch(r"(\S+) \(in (.*)\)", entry)
  return (m.group(1), m.group(2).split(", ")) if m else (entry, [])


def run_tfjs(harness: Any, args: list[Any]) -> Outcome:
  """Static check only: no TF.js conversion, no Node.js run."""
  try:
    graph_def = tfjs_graph_def(harness, args)
  except Exception as e:  # pylint: disable=broad-except
    return Outcome("convert", "freezing the graph failed: " +
                   _first_line(e, 100), detail=_first_line(e))
  bad_ops, bad_dtypes = tfjs_check.unsupported(graph_def)
  if not bad_ops and not bad_dtypes:
    return Outcome("ok")
  parts = []
  if bad_ops:
    parts.append("TF ops: " + ", ".join(bad_ops))
  if bad_dtypes:
    parts.append("dtypes: " + ", ".join(_dtype_of(d)[0] for d in bad_dtypes))
  detail = "; ".join(parts[:1] * bool(bad_ops) + list(bad_dtypes))
  return Outcome("unsupported", " / ".join(parts), ops=tuple(bad_ops),
                 detail=detail[:200], dtypes=tuple(bad_dtypes))


def run_tf2jax(harness: Any, args: list[Any], jax_outs: list[np.ndarray]
               ) -> Outcome:
  """Our default graph read back into JAX by tf2jax, run under jax.jit."""
  try:
    import tf2jax  # pylint: disable=g-import-not-at-top
  except ImportError:
    return Outcome("na", "tf2jax not installed")
  tf_args = [tf.constant(np.asarray(a)) for a in args]
  try:
    fn = tf.function(jax2tf_impl.convert(harness.dyn_fun), autograph=False)
    jax_fn, params = tf2jax.convert(fn, *tf_args)
  except Exception as e:  # pylint: disable=broad-except
    m = re.search(r"Unsupported operations in graph: \[(.*?)\]", str(e))
    if m:
      ops = tuple(sorted(re.findall(r"'(\w+)'", m.group(1))))
      return Outcome("convert", "TF ops: " + ", ".join(ops), ops, (),
                     _first_line(e))
    return Outcome("convert", "tf2jax: " + _first_line(e, 120),
                   detail=_first_line(e))
  try:
    out = jax.jit(lambda *xs: jax_fn(params, *xs)[0])(*args)
    got = [np.asarray(x) for x in jax.tree_util.tree_leaves(out)]
  except Exception as e:  # pylint: disable=broad-except
    return _runtime_failure("tf2jax", e)
  return compare(harness, args, jax_outs, got)


@contextlib.contextmanager
def _quiet_fd2(enabled: bool):
  """Silences C++ stderr (MLIR diagnostics, TF logs) at the fd level."""
  if not enabled:
    yield
    return
  sys.stderr.flush()
  saved = os.dup(2)
  devnull = os.open(os.devnull, os.O_WRONLY)
  os.dup2(devnull, 2)
  try:
    yield
  finally:
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(devnull)
    os.close(saved)


def run_harness(harness: Any, quiet: bool, jax_result: Any = None,
                with_tf2jax: bool = True) -> dict[str, Outcome]:
  """Every target for one harness; `jax_result` is a callable giving
  (args, jax.jit's output leaves), by default the harness suite's."""
  try:
    args, jax_outs = (jax_result or hs.jax_result)(harness)
  except Exception as e:  # pylint: disable=broad-except
    o = Outcome("na", "JAX fails on CPU: " + _first_line(e, 100))
    return {"tf": o, **{t: o for t in TARGETS}}
  with _quiet_fd2(quiet):
    res = {"tf": _tf_baseline(harness, args, jax_outs)}
    if res["tf"].status == "convert":
      na = Outcome("na", res["tf"].reason, detail=res["tf"].detail)
      res.update({t: na for t in TARGETS})
    else:
      res["tflite"] = run_tflite(harness, args, jax_outs)
      res["onnx"] = run_onnx(harness, args, jax_outs)
      res["tfjs"] = run_tfjs(harness, args)
    # tf2jax reads the default graph, which exists even without an
    # enable_xla=False lowering.
    if with_tf2jax:
      res["tf2jax"] = run_tf2jax(harness, args, jax_outs)
  return res


# ----------------------------------------------------------------------------
# Report


def versions() -> dict[str, str]:
  import importlib.metadata as md  # pylint: disable=g-import-not-at-top
  out = {"python": platform.python_version()}
  for dist in ("jax", "jaxlib", "tensorflow", "tf2onnx", "onnx",
               "onnxruntime", "ai-edge-litert", "tf2jax", "numpy"):
    try:
      out[dist] = md.version(dist)
    except md.PackageNotFoundError:
      out[dist] = "not installed"
  with open(tfjs_check.SUPPORTED_OPS_JSON) as f:
    out["TF.js op list"] = "tensorflowjs " + json.load(f)["tensorflowjs_version"]
  return out


def _cell_reasons(outcomes: list[Outcome], limit: int = 3) -> str:
  counts = collections.Counter(o.reason for o in outcomes if not o.ok)
  if not counts:
    return ""
  items = [(f"{r} (x{n})" if n > 1 else r) for r, n in counts.most_common()]
  more = len(items) - limit
  text = "; ".join(items[:limit]) + (f"; +{more} more" if more > 0 else "")
  return text.replace("|", "\\|")


def esc(s: str) -> str:
  return s.replace("|", "\\|")


def _first_items(items: list[str], limit: int) -> str:
  more = len(items) - limit
  return ", ".join(items[:limit]) + (f", +{more} more" if more > 0 else "")


def _tfjs_gaps(results: list[tuple[Any, dict[str, Outcome]]]) -> list[str]:
  """The "TF ops and dtypes TF.js lacks" section."""
  lines = [
      "## TF ops and dtypes TF.js lacks (static op/dtype check)",
      "",
      "Aggregated over all sampled harnesses, most frequent first "
      "(harnesses = sampled harnesses whose frozen graph holds that op or "
      "dtype). No TF.js conversion or Node.js run: see the TF.js bullet "
      "above.",
      "",
      "### TF ops not in the TF.js op list (or broken in TF.js 4.22.0)",
      "",
  ]
  op_h, op_groups, op_dtypes = (collections.Counter(),
                                collections.defaultdict(set),
                                collections.defaultdict(set))
  dt_h, dt_groups, dt_dtypes, dt_ops = (collections.Counter(),
                                        collections.defaultdict(set),
                                        collections.defaultdict(set),
                                        collections.defaultdict(set))
  for h, res in results:
    o = res["tfjs"]
    for op in o.ops:
      op_h[op] += 1
      op_groups[op].add(h.group_name)
      op_dtypes[op].add(_dtype_name(h))
    for entry in o.dtypes:
      d, ops = _dtype_of(entry)
      dt_h[d] += 1
      dt_groups[d].add(h.group_name)
      dt_dtypes[d].add(_dtype_name(h))
      dt_ops[d].update(ops)
  if op_h:
    lines += ["| TF op | harnesses | harness dtypes | groups |",
              "|---|---|---|---|"]
    for op, n in sorted(op_h.items(), key=lambda kv: (-kv[1], kv[0])):
      lines.append(f"| {op} | {n} | {', '.join(sorted(op_dtypes[op]))} | "
                   f"{', '.join(sorted(op_groups[op]))} |")
  else:
    lines.append("None.")
  lines += ["", "### dtypes TF.js has no mapping for", ""]
  if dt_h:
    lines += ["| TF dtype | harnesses | harness dtypes | groups | "
              "TF ops with it (type attributes) |", "|---|---|---|---|---|"]
    for d, n in sorted(dt_h.items(), key=lambda kv: (-kv[1], kv[0])):
      lines.append(f"| {d} | {n} | {', '.join(sorted(dt_dtypes[d]))} | "
                   f"{', '.join(sorted(dt_groups[d]))} | "
                   f"{esc(_first_items(sorted(dt_ops[d]), 20))} |")
  else:
    lines.append("None.")
  lines.append("")
  return lines


def report(results: list[tuple[Any, dict[str, Outcome]]],
           n_eligible: dict[str, int], n_total: dict[str, int],
           args: argparse.Namespace, seconds: float) -> str:
  groups = sorted(n_total)
  by_group = collections.defaultdict(list)
  for h, res in results:
    by_group[h.group_name].append((h, res))
  tried = len(results)
  ok = {t: sum(r[t].ok for _, r in results) for t in ("tf",) + TARGETS}
  na = sum(r["tflite"].status == "na" for _, r in results)
  heads = " | ".join(f"{NAMES[t]} OK" for t in ("tf",) + TARGETS)
  rule = "---|" * (1 + len(TARGETS))

  sample = ("every eligible harness" if args.all else
            f"{args.per_group} per group")
  lines = [
      "# Portability of the primitives: TFLite builtins, ONNX, TF.js "
      "(op/dtype check) and tf2jax",
      "",
      "Generated by `benchmarks/portability_matrix.py`; do not edit by hand.",
      "The public-API sweep's calls (what each public function reaches) on "
      "the same targets: [portability_sweep.md](portability_sweep.md).",
      "",
      "What is measured: JAX's own primitive harnesses (the suite of "
      "`tests/test_harnesses.py`), a deterministic sample per group "
      f"({sample}, evenly spaced over the group's eligible harnesses sorted "
      "by name). Eligible: JAX runs it on CPU, and its arguments and results "
      "hold no 64-bit dtype (float64/int64/uint64/complex128), since the "
      "deployment targets run 32-bit models; JAX's x64 flag is on as in the "
      "harness suite (`tests/conftest.py`), so intermediate values inside a "
      "harness may still be 64-bit. Every harness is converted with "
      "`enable_xla=False` and static shapes (its own argument shapes) and:",
      "",
      "* **tf.function**: the `enable_xla=False` graph run by TF (harness "
      "mode `noxla`), the starting point of the exports;",
      "* **TFLite**: `export.export_tflite` (TFLITE_BUILTINS only, no Select "
      "TF ops) run by the ai-edge-litert `Interpreter`;",
      "* **ONNX**: `export.export_onnx` (tf2onnx, opset 18) run by "
      "onnxruntime (CPUExecutionProvider);",
      "* **TF.js (op/dtype check)**: a *static check only*: no TF.js "
      "conversion, no Node.js run, no comparison of values. The noxla "
      "tf.function's concrete function is frozen as the tensorflowjs "
      "converter freezes a signature (`convert_variables_to_constants_v2` "
      "with `lower_control_flow=True, aggressive_inlining=True`: nested calls "
      "inlined, While/If lowered to Enter/Exit/Switch/Merge, unused nodes "
      "pruned) and its GraphDef, function library included, is checked by "
      "`unsupported()` of `examples/tfjs_node_check.py`: every op type must "
      "be in tensorflowjs 4.22.0's op lists "
      "(`jax2tf_impl/export/tfjs_supported_ops.json`; Assert/CheckNumerics/Print "
      "are allowed since the converter strips them, BitwiseAnd is refused "
      "since TF.js 4.22.0 cannot run it), and every dtype in a type "
      "attribute must be one TF.js maps to its own (uint16, uint32, uint64, "
      "int16 and bfloat16 are not). OK therefore means the converter's op "
      "check would pass and every dtype maps, not that the model runs or "
      "matches: whether TF.js's kernel for an op takes a given dtype (e.g. "
      "complex64) is not checked, TF.js computes int64/float64 in 32 bits, "
      "and the end-to-end "
      "Node.js check covers only the model suite (`tests/test_tfjs.py`).",
      "* **tf2jax**: the round trip back to JAX. Unlike the other columns "
      "this reads the *default* graph (`convert(f)`, enable_xla=True: what "
      "a JAX user hands to tf2jax), in a tf.function, with "
      "`tf2jax.convert` (default config, so our custom gradient is "
      "converted too), run under `jax.jit` and compared like TFLite/ONNX; "
      "it runs even where the `enable_xla=False` lowering does not exist. "
      "\"TF ops: X\" are the ops tf2jax 0.3.8 has no parser for. Known "
      "tf2jax bugs our graphs meet (tests/test_tf2jax.py): ScatterNd is "
      "read as a scatter-*set*, so a scatter-add into zeros with repeated "
      "indices is wrong (shows as a wrong result); a custom_gradient with "
      "more outputs than differentiable inputs fails an assertion in "
      "`_Subgraph.rewrite`; closed-over constants >= 4 KiB (our "
      "non-trainable variables) cannot be read inside the custom_gradient "
      "subgraph (harnesses close over none).",
      "",
      "For tf.function, TFLite and ONNX, OK means converted, ran, and "
      "matched `jax.jit` with the harness's own "
      "tolerance or property check (as `tests/test_harnesses.py`). Where "
      "the `enable_xla=False` conversion itself fails, every target counts "
      "as failed with that reason. \"TF ops: X\" lists the TF ops the "
      "target's converter left unconverted (TFLite: not a builtin; ONNX: no "
      "tf2onnx handler at opset 18; TF.js: not in its op list), and for "
      "TF.js \"dtypes: Y\" the dtypes it has no mapping for; for TFLite "
      "the operand types the "
      "converter reported are listed too, since most gaps are per type. "
      "Zero-size outputs of a LiteRT model are checked by shape only "
      "(LiteRT's Python `get_tensor` cannot return them); bfloat16 could be "
      "fed to onnxruntime as raw bits, but tf2onnx declares bfloat16 tensors "
      "as float16, which is reported as a type failure without running.",
      "",
      "## Totals",
      "",
      f"| harnesses tried | groups | {heads} |",
      "|---|---|" + rule,
      f"| {tried} | {sum(1 for g in groups if by_group[g])} | " +
      " | ".join(str(ok[t]) for t in ("tf",) + TARGETS) + " |",
      "",
      f"{na} of the {tried} have no `enable_xla=False` lowering at all "
      "(every target fails before reaching its converter).",
      "",
      "## By harness dtype",
      "",
      "The harness's own `dtype` (its main operand type). Most TFLite and "
      "ONNX failures are about types, not ops: the same TF op converts for "
      "float32 and fails for float16/bfloat16/int8/int16/uint16/complex64. "
      "For TF.js the dtype check is per graph: a harness fails it whenever "
      "any tensor in its graph has a dtype TF.js lacks, whatever the "
      "harness dtype.",
      "",
      f"| harness dtype | tried | {heads} |",
      "|---|---|" + rule,
  ]
  by_dtype = collections.defaultdict(list)
  for h, res in results:
    by_dtype[_dtype_name(h)].append(res)
  for d, rs in sorted(by_dtype.items(), key=lambda kv: (-len(kv[1]), kv[0])):
    lines.append(f"| {d} | {len(rs)} | " + " | ".join(
        str(sum(r[t].ok for r in rs)) for t in ("tf",) + TARGETS) + " |")
  lines += [
      "",
      "## Per group",
      "",
      f"| group | tried (eligible/all) | {heads} | " +
      " | ".join(f"{NAMES[t]}: failing TF ops / reasons" for t in TARGETS) +
      " |",
      "|---|---|" + rule + "---|" * len(TARGETS),
  ]
  for g in groups:
    rows = by_group[g]
    if not rows:
      lines.append(f"| {g} | 0 ({n_eligible.get(g, 0)}/{n_total[g]}) | " +
                   "| " * (1 + len(TARGETS)) + "no eligible (32-bit) harness |" +
                   " |" * (len(TARGETS) - 1))
      continue
    cnt = [str(sum(r[t].ok for _, r in rows)) for t in ("tf",) + TARGETS]
    tf_fail = _cell_reasons([r["tf"] for _, r in rows], 1)
    cells = [_cell_reasons([r[t] for _, r in rows]) for t in TARGETS]
    if tf_fail and all(r["tflite"].status == "na" for _, r in rows):
      cells = ["n/a: " + tf_fail if len(rows) > 1 else tf_fail] * len(TARGETS)
    lines.append(
        f"| {g} | {len(rows)} ({n_eligible[g]}/{n_total[g]}) | " +
        " | ".join(cnt + cells) + " |")

  # Aggregated missing TF ops.
  lines += [
      "",
      "## TF ops our enable_xla=False graphs use that a target lacks",
      "",
      "Aggregated over all sampled harnesses, most frequent first "
      "(harnesses = sampled harnesses whose export failed on that op).",
      "",
  ]
  for t, title in (("tflite", "TFLite builtins"),
                   ("onnx", "ONNX (tf2onnx, opset 18)"),
                   ("tf2jax", "tf2jax (default graph)")):
    op_h = collections.Counter()
    op_groups = collections.defaultdict(set)
    op_types = collections.defaultdict(set)
    op_dtypes = collections.defaultdict(set)
    for h, res in results:
      o = res[t]
      for op in o.ops:
        op_h[op] += 1
        op_groups[op].add(h.group_name)
        op_dtypes[op].add(_dtype_name(h))
      for typed in o.op_types:
        op_types[typed.split("(", 1)[0]].add(typed[typed.index("("):])
    lines += [f"### {title}", ""]
    if not op_h:
      lines += ["None.", ""]
      continue
    with_types = t == "tflite"
    lines += ["| TF op | harnesses | harness dtypes | groups |" +
              (" operand -> result types seen |" if with_types else ""),
              "|---|---|---|---|" + ("---|" if with_types else "")]
    for op, n in sorted(op_h.items(), key=lambda kv: (-kv[1], kv[0])):
      row = (f"| {op} | {n} | {', '.join(sorted(op_dtypes[op]))} | "
             f"{', '.join(sorted(op_groups[op]))} |")
      if with_types:
        row += " " + esc(" ".join(sorted(op_types[op]))[:300]) + " |"
      lines.append(row)
    lines.append("")

  lines += _tfjs_gaps(results)

  # Other failure kinds, aggregated.
  lines += ["## Other failures (not a missing TF op or TF.js dtype)", "",
            "| target | kind | reason | harnesses | groups |",
            "|---|---|---|---|---|"]
  other = collections.defaultdict(lambda: [0, set()])
  for h, res in results:
    for t in TARGETS:
      o = res[t]
      if o.ok or o.ops or o.dtypes or o.status == "na":
        continue
      key = (t, o.status, o.reason if o.status != "mismatch" else
             re.sub(r"[-+]?\d[\d.e+-]*", "#", o.reason))
      other[key][0] += 1
      other[key][1].add(h.group_name)
  for (t, kind, reason), (n, gs) in sorted(
      other.items(), key=lambda kv: (kv[0][0], -kv[1][0], kv[0][1:])):
    lines.append(f"| {t} | {kind} | {esc(reason)} | {n} | "
                 f"{', '.join(sorted(gs))} |")
  if not other:
    lines.append("| | | none | | |")

  # Wrong results where the target runs: possible converter bugs.
  wrong = [(h, t, res[t]) for h, res in results for t in ("tf",) + TARGETS
           if res[t].status == "mismatch"]
  lines += ["", "## Wrong results where the target runs", ""]
  if wrong:
    lines += ["| harness | where | what |", "|---|---|---|"]
    for h, t, o in wrong:
      lines.append(f"| {h.fullname} | {t} | {esc(o.reason)} |")
  else:
    lines.append("None.")

  # Per-harness failures.
  lines += ["", "## Failing harnesses", "", "<details><summary>every sampled "
            "harness that fails on some target</summary>", "",
            "| harness | " + " | ".join(NAMES[t] for t in ("tf",) + TARGETS) +
            " |", "|---|" + "---|" * (1 + len(TARGETS))]
  for h, res in results:
    if all(res[t].ok for t in ("tf",) + TARGETS):
      continue
    cells = []
    for t in ("tf",) + TARGETS:
      o = res[t]
      cells.append("OK" if o.ok else esc(
          (o.reason if o.status != "na" else "n/a")[:160]))
    lines.append(f"| {h.fullname} | " + " | ".join(cells) + " |")
  lines += ["", "</details>", ""]

  v = versions()
  cmd = "python benchmarks/portability_matrix.py " + " ".join(args.argv)
  lines += [
      "## Environment",
      "",
      f"* date: {datetime.date.today().isoformat()}",
      f"* command: `{cmd.strip()}`",
      f"* sample: {sample}; {tried} harnesses from "
      f"{sum(1 for g in groups if by_group[g])} groups "
      f"({sum(n_eligible.values())} eligible of "
      f"{sum(n_total.values())} harnesses in the groups asked for)",
      "* versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
      f"* jax2tf_impl at git {bench_env.git_revision()}",
      f"* platform: {platform.platform()}; wall time {seconds:.0f} s "
      "(TF, LiteRT and onnxruntime limited to one thread)",
      "",
  ]
  return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--per-group", type=int, default=3)
  parser.add_argument("--groups", default=None,
                      help="comma-separated harness group names")
  parser.add_argument("--all", action="store_true",
                      help="every eligible harness (overrides --per-group)")
  parser.add_argument("--write", action="store_true",
                      help=f"write the report to {REPORT_PATH}")
  parser.add_argument("--json", default=None,
                      help="also write one JSON line per harness here")
  parser.add_argument("--verbose", action="store_true",
                      help="keep TF/MLIR C++ diagnostics on stderr")
  argv = sys.argv[1:] if argv is None else argv
  args = parser.parse_args(argv)
  args.argv = argv
  groups = args.groups.split(",") if args.groups else None

  start = time.time()
  selected, n_eligible = select(groups, None if args.all else args.per_group)
  n_total = collections.Counter(
      h.group_name for h in hs.all_harnesses()
      if groups is None or h.group_name in groups)
  todo = [h for g in sorted(selected) for h in selected[g]]
  print(f"{len(todo)} harnesses from {len(selected)} groups "
        f"(selection took {time.time() - start:.0f} s)", file=sys.stderr)
  results = []
  jfile = open(args.json, "w") if args.json else None
  for i, h in enumerate(todo):
    t0 = time.time()
    res = run_harness(h, quiet=not args.verbose)
    results.append((h, res))
    status = " ".join(f"{t}={'OK' if res[t].ok else res[t].status}"
                      for t in ("tf",) + TARGETS)
    print(f"[{i + 1}/{len(todo)}] {h.fullname}: {status} "
          f"({time.time() - t0:.1f} s)", file=sys.stderr, flush=True)
    if jfile:
      jfile.write(json.dumps({
          "group": h.group_name, "harness": h.fullname,
          **{t: dataclasses.asdict(o) for t, o in res.items()}}) + "\n")
      jfile.flush()
  if jfile:
    jfile.close()
  seconds = time.time() - start
  text = report(results, n_eligible, n_total, args, seconds)
  print(text)
  if args.write:
    with open(REPORT_PATH, "w") as f:
      f.write(text)
    print(f"wrote {REPORT_PATH}", file=sys.stderr)


if __name__ == "__main__":
  main()
