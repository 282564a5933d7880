"""The `jax2tf-impl` command line: export a JAX function, or check where it
can go.

    jax2tf-impl export mypkg.model:apply --params ckpt.npz \\
        --shape "(b, 28, 28, 1)" --to saved_model,tflite,onnx,tfjs --out DIR
    jax2tf-impl check mypkg.model:apply --params ckpt.npz --shape "(b, 28, 28, 1)"

FUNCTION is `package.module:name` (an attribute path after the colon). With
`--params` it is called as `fun(params, *inputs)`, else `fun(*inputs)`;
params come from a `.npz` (keys split on '/' into nested dicts), a Flax
`.msgpack` (flax.serialization) or an orbax checkpoint directory. One
`--shape` per input, in polymorphic_shapes syntax; dimension variables are
free in the exports and take `--dim-value` (default 2) for the parity run.

`export` prints a summary: TF op counts, artefact sizes, which targets it
reached (and why not), and the largest difference from `jax.jit` on random
inputs per target. `check` prints the portability report: the primitives
that keep the function from a target (XLA-only rules block TFLite, ONNX and
TF.js; TF.js' op/dtype list; the TFLite and tf2onnx converters' errors).
"""
from __future__ import annotations

import argparse
import collections
import importlib
import os
import re
import sys
import time
from typing import Any, Callable, Sequence

import numpy as np

TARGETS = ("saved_model", "tflite", "onnx", "tfjs")


def load_function(spec: str) -> Callable[..., Any]:
  """`package.module:attr.path` -> the object."""
  module_name, sep, attr = spec.partition(":")
  if not sep or not attr:
    raise SystemExit(f"FUNCTION must be package.module:function, got {spec!r}")
  sys.path.insert(0, os.getcwd())
  obj: Any = importlib.import_module(module_name)
  for part in attr.split("."):
    obj = getattr(obj, part)
  if not callable(obj):
    raise SystemExit(f"{spec} is not callable")
  return obj


def _nest(flat: dict[str, np.ndarray]) -> dict[str, Any]:
  tree: dict[str, Any] = {}
  for key, value in flat.items():
    node = tree
    parts = key.split("/")
    for p in parts[:-1]:
      node = node.setdefault(p, {})
    node[parts[-1]] = value
  return tree


def load_params(path: str) -> Any:
  """Params from a .npz, a Flax .msgpack or an orbax checkpoint directory."""
  if os.path.isdir(path):
    import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
    return ocp.PyTreeCheckpointer().restore(os.path.abspath(path))
  if path.endswith(".npz"):
    with np.load(path) as data:
      return _nest({k: data[k] for k in data.files})
  if path.endswith(".msgpack"):
    from flax import serialization  # pylint: disable=g-import-not-at-top
    with open(path, "rb") as f:
      return serialization.msgpack_restore(f.read())
  raise SystemExit(f"--params: unknown checkpoint format {path!r} "
                   "(.npz, .msgpack or an orbax directory)")


def example_inputs(shapes: Sequence[str], dtypes: Sequence[str],
                   dim_value: int, seed: int = 0) -> list[np.ndarray]:
  """Random inputs for the specs, dimension variables set to `dim_value`."""
  rng = np.random.RandomState(seed)
  out = []
  for i, spec in enumerate(shapes):
    dims = [d.strip() for d in spec.strip().strip("()").split(",") if d.strip()]
    shape = [int(d) if re.fullmatch(r"\d+", d) else dim_value for d in dims]
    dtype = np.dtype(dtypes[i] if len(dtypes) > 1 else dtypes[0])
    if np.issubdtype(dtype, np.floating):
      out.append(rng.randn(*shape).astype(dtype))
    elif dtype == np.bool_:
      out.append(rng.rand(*shape) > 0.5)
    else:
      out.append(rng.randint(0, 10, shape).astype(dtype))
  return out


class Progress:
  """One line per step with its elapsed time (stderr), so a long conversion
  shows where it is."""

  def __init__(self, total: int, quiet: bool = False):
    self.total, self.done, self.quiet = total, 0, quiet

  def step(self, what: str) -> "_Step":
    self.done += 1
    return _Step(self, what)


class _Step:
  def __init__(self, progress: Progress, what: str):
    self.p, self.what = progress, what

  def __enter__(self) -> "_Step":
    self.t0 = time.time()
    if not self.p.quiet:
      bar = "#" * self.p.done + "." * (self.p.total - self.p.done)
      print(f"[{bar}] {self.p.done}/{self.p.total} {self.what} ...",
            file=sys.stderr, flush=True)
    return self

  def __exit__(self, *exc: Any) -> None:
    if not self.p.quiet:
      print(f"    {self.what}: {time.time() - self.t0:.1f}s",
            file=sys.stderr, flush=True)


def _bound(fun: Callable[..., Any], params: Any) -> Callable[..., Any]:
  if params is None:
    return fun
  return lambda *xs: fun(params, *xs)


def _size(path: str) -> int:
  if os.path.isfile(path):
    return os.path.getsize(path)
  return sum(os.path.getsize(os.path.join(d, f))
             for d, _, fs in os.walk(path) for f in fs)


def _max_diff(expected: Sequence[Any], got: Sequence[Any]) -> float:
  diffs = [float(np.max(np.abs(np.asarray(e, np.float64)
                               - np.asarray(g, np.float64)), initial=0.0))
           for e, g in zip(expected, got)]
  return max(diffs, default=0.0)


def op_counts(concrete: Any) -> collections.Counter:
  """TF op type -> number of nodes, function libraries included."""
  graph_def = concrete.graph.as_graph_def()
  counts = collections.Counter(n.op for n in graph_def.node)
  for f in graph_def.library.function:
    counts.update(n.op for n in f.node_def)
  return counts


def _primitive_of(node_name: str) -> str:
  """The JAX primitive whose rule emitted a node: the interpreter opens a
  name scope per equation named after its primitive."""
  parts = node_name.split("/")
  return parts[-2] if len(parts) >= 2 else node_name


def export(args: argparse.Namespace) -> int:
  import jax  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import jax2tf_impl  # pylint: disable=g-import-not-at-top
  from jax2tf_impl.export import signatures  # pylint: disable=g-import-not-at-top
  from jax2tf_impl.export import tfjs  # pylint: disable=g-import-not-at-top

  targets = [t.strip() for t in args.to.split(",") if t.strip()]
  for t in targets:
    if t not in TARGETS:
      raise SystemExit(f"--to: unknown target {t!r} (one of {TARGETS})")
  progress = Progress(2 + len(targets), args.quiet)
  with progress.step("loading"):
    fun = _bound(load_function(args.function),
                 load_params(args.params) if args.params else None)
    xs = example_inputs(args.shape, args.dtype, args.dim_value)
    expected = [np.asarray(o) for o in
                jax.tree_util.tree_leaves(jax.jit(fun)(*xs))]
  os.makedirs(args.out, exist_ok=True)
  summary: dict[str, dict[str, Any]] = {}
  enable_xla = args.enable_xla
  with progress.step("converting"):
    tf_fn, flat_sig, converted = signatures.flat_serving_function(
        fun, xs, list(args.shape), enable_xla=enable_xla, named_outputs=True)
    concrete = tf_fn.get_concrete_function()
    got = tf_fn(*xs)
    counts = op_counts(concrete)
  tf_parity = _max_diff(expected, [got[k] for k in sorted(
      got, key=lambda k: int(k.split("_")[-1]))])
  for target in targets:
    with progress.step(target):
      summary[target] = _export_one(target, fun, xs, args, tf_fn, converted,
                                    expected, tf, jax2tf_impl, tfjs)
  print(f"function: {args.function}  inputs: "
        + ", ".join(f"{s} {x.dtype}" for s, x in zip(args.shape, xs)))
  print(f"TF graph: {sum(counts.values())} ops, {len(counts)} op types "
        f"(top: {', '.join(f'{k}x{v}' for k, v in counts.most_common(5))}); "
        f"enable_xla={enable_xla}; max |TF - JAX| = {tf_parity:.3g}")
  print(f"{'target':<12} {'reached':<8} {'size':>10}  {'max |diff|':>10}  note")
  ok = True
  for target in targets:
    r = summary[target]
    ok &= r["ok"]
    size = f"{r['size'] / 1024:.1f} KiB" if r.get("size") is not None else "-"
    diff = f"{r['diff']:.3g}" if r.get("diff") is not None else "-"
    print(f"{target:<12} {'yes' if r['ok'] else 'NO':<8} {size:>10}  "
          f"{diff:>10}  {r.get('note', '')}")
  return 0 if ok else 1


def _export_one(target: str, fun: Any, xs: list[np.ndarray],
                args: argparse.Namespace, tf_fn: Any, converted: Any,
                expected: list[np.ndarray], tf: Any, jax2tf_impl: Any,
                tfjs: Any) -> dict[str, Any]:
  """Exports one target; {'ok', 'size', 'diff', 'note'}."""
  shapes = list(args.shape)
  try:
    if target == "saved_model":
      path = os.path.join(args.out, "saved_model")
      module = tf.Module()
      module.f = tf_fn
      module.converted = converted
      jax2tf_impl.saved_model.save(module, path,
                                   signatures={"serving_default": tf_fn})
      loaded = tf.saved_model.load(path)
      out = loaded.signatures["serving_default"](
          **{f"input_{i}": tf.constant(x) for i, x in enumerate(xs)})
      got = [out[k] for k in sorted(out, key=lambda k: int(k.split("_")[-1]))]
      return {"ok": True, "size": _size(path), "diff": _max_diff(expected, got),
              "note": "serving_default: input_i -> output_i"}
    if target == "tflite":
      path = os.path.join(args.out, "model.tflite")
      blob = jax2tf_impl.export_tflite(fun, xs, polymorphic_shapes=shapes)
      with open(path, "wb") as f:
        f.write(blob)
      return {"ok": True, "size": len(blob), "diff": _tflite_diff(blob, xs,
                                                                  expected)}
    if target == "onnx":
      path = os.path.join(args.out, "model.onnx")
      model = jax2tf_impl.export_onnx(fun, xs, polymorphic_shapes=shapes,
                                      output_path=path)
      diff = None
      try:
        import onnxruntime as ort  # pylint: disable=g-import-not-at-top
        sess = ort.InferenceSession(model.SerializeToString())
        names = [i.name for i in sess.get_inputs()]
        diff = _max_diff(expected, sess.run(None, dict(zip(names, xs))))
      except ImportError:
        pass
      return {"ok": True, "size": _size(path), "diff": diff}
    if target == "tfjs":
      path = os.path.join(args.out, "tfjs")
      sm = os.path.join(args.out, "saved_model_tfjs")
      wide = tfjs.int64_uses(fun, xs)
      if wide:
        return {"ok": False, "note": "64-bit integers, which TF.js computes "
                f"as int32: {'; '.join(wide)} (export_tfjs(..., "
                "int64_as_int32=True) accepts that)"}
      tfjs.export_saved_model(fun, xs, sm, polymorphic_shapes=shapes)
      bad_ops, bad_dtypes = tfjs.unsupported(tfjs.frozen_graph(sm))
      if bad_ops or bad_dtypes:
        return {"ok": False, "note": f"TF.js lacks ops {bad_ops} dtypes "
                                     f"{bad_dtypes}"}
      why = tfjs.probe_converter(args.tfjs_python)
      if why is not None:
        return {"ok": True, "note": "graph passes the TF.js op check; the "
                "tensorflowjs converter is not available here "
                f"({why}); SavedModel for it in {sm}"}
      result = tfjs.convert_saved_model(sm, path,
                                        converter_python=args.tfjs_python)
      if not result["ok"]:
        return {"ok": False, "note": result["error"]}
      return {"ok": True, "size": _size(path)}
  except Exception as e:  # pylint: disable=broad-except
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return {"ok": False, "note": f"{type(e).__name__}: {first[:200]}"}
  raise AssertionError(target)


def _tflite_diff(blob: bytes, xs: list[np.ndarray],
                 expected: list[np.ndarray]) -> float | None:
  try:
    from ai_edge_litert.interpreter import Interpreter  # pylint: disable=g-import-not-at-top
  except ImportError:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    Interpreter = tf.lite.Interpreter  # noqa: N806
  interp = Interpreter(model_content=blob)
  runner = interp.get_signature_runner()
  names = sorted(runner.get_input_details(),
                 key=lambda n: int(n.split("_")[-1]) if n[-1].isdigit() else 0)
  out = runner(**dict(zip(names, xs)))
  got = [out[k] for k in sorted(out, key=lambda k: int(k.split("_")[-1])
                                if k[-1].isdigit() else 0)]
  return _max_diff(expected, got)


def _tfjs_graph_def(fun: Any, xs: list[np.ndarray], shapes: list[Any],
                    blockers: list[str]) -> Any:
  """The graph export_tfjs converts: enable_xla=False after the uint32 limb
  pass. A uint32 primitive the pass cannot compute goes into `blockers`
  (and an empty GraphDef is returned)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from jax2tf_impl import uint32_limbs  # pylint: disable=g-import-not-at-top
  from jax2tf_impl.export import signatures  # pylint: disable=g-import-not-at-top
  try:
    limbed, limbed_xs = uint32_limbs.int32_for_uint32(fun, xs)
    fn, _, _ = signatures.flat_serving_function(
        limbed, limbed_xs, shapes, enable_xla=False, named_outputs=True)
    return fn.get_concrete_function().graph.as_graph_def()
  except Exception as e:  # pylint: disable=broad-except
    blockers.append(_first_lines(e))
    return tf.compat.v1.GraphDef()


def check(args: argparse.Namespace) -> int:
  """The portability report: which primitives keep `fun` from which target."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax2tf_impl  # pylint: disable=g-import-not-at-top
  from jax2tf_impl import rules  # pylint: disable=g-import-not-at-top
  from jax2tf_impl.export import signatures  # pylint: disable=g-import-not-at-top
  from jax2tf_impl.export import tfjs  # pylint: disable=g-import-not-at-top

  fun = _bound(load_function(args.function),
               load_params(args.params) if args.params else None)
  xs = example_inputs(args.shape, args.dtype, args.dim_value)
  shapes = list(args.shape)
  prims = collections.Counter()
  closed = jax.make_jaxpr(fun)(*xs)
  _count_primitives(closed.jaxpr, prims)
  rules.load_all()
  print(f"function: {args.function}: {sum(prims.values())} equations, "
        f"{len(prims)} primitives")
  blockers: dict[str, list[str]] = {t: [] for t in TARGETS}
  xla_only = {p: rules.XLA_OP_USES[p] for p in prims if p in rules.XLA_OP_USES}
  try:
    tf_fn, _, _ = signatures.flat_serving_function(
        fun, xs, shapes, enable_xla=True, named_outputs=True)
    tf_fn.get_concrete_function()
  except Exception as e:  # pylint: disable=broad-except
    blockers["saved_model"].append(f"{type(e).__name__}: {str(e)[:300]}")
  portable = None
  try:
    portable, _, _ = signatures.flat_serving_function(
        fun, xs, shapes, enable_xla=False, named_outputs=True)
    portable_concrete = portable.get_concrete_function()
  except Exception as e:  # pylint: disable=broad-except
    reason = f"needs an XLA op with enable_xla=False: {str(e)[:300]}"
    for p, why in xla_only.items():
      reason = f"primitive {p} uses an XLA op ({why})"
      for t in ("tflite", "onnx", "tfjs"):
        blockers[t].append(reason)
    if not xla_only:
      for t in ("tflite", "onnx", "tfjs"):
        blockers[t].append(reason)
  if portable is not None:
    graph_def = _tfjs_graph_def(fun, xs, shapes, blockers["tfjs"])
    nodes = list(graph_def.node) + [n for f in graph_def.library.function
                                    for n in f.node_def]
    bad_ops, bad_dtypes = tfjs.unsupported(graph_def)
    for op in bad_ops:
      from_prims = sorted({_primitive_of(n.name) for n in nodes if n.op == op})
      blockers["tfjs"].append(f"TF op {op} (from primitive "
                              f"{', '.join(from_prims)}) is not in TF.js' op list"
                              f"{': ' + tfjs.BROKEN_OPS[op] if op in tfjs.BROKEN_OPS else ''}")
    for d in bad_dtypes:
      blockers["tfjs"].append(f"dtype {d} has no TF.js mapping")
    for use in tfjs.int64_uses(fun, xs):
      blockers["tfjs"].append(
          f"64-bit integers ({use}): TF.js computes them as int32, so "
          "export_tfjs refuses unless int64_as_int32=True")
    try:
      jax2tf_impl.export_tflite(fun, xs, polymorphic_shapes=shapes)
    except Exception as e:  # pylint: disable=broad-except
      blockers["tflite"].append(_first_lines(e))
    try:
      import tf2onnx  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
      jax2tf_impl.export_onnx(fun, xs, polymorphic_shapes=shapes)
    except ImportError:
      blockers["onnx"].append("tf2onnx is not installed (unknown)")
    except Exception as e:  # pylint: disable=broad-except
      blockers["onnx"].append(_first_lines(e))
  for target in TARGETS:
    if blockers[target]:
      print(f"{target:<12} NO")
      for b in blockers[target]:
        print(f"    - {b}")
    else:
      print(f"{target:<12} yes")
  if xla_only:
    print("primitives with XLA-only forms (used with enable_xla=True): "
          + ", ".join(f"{p} ({w})" for p, w in sorted(xla_only.items())))
  return 0 if not any(blockers.values()) else 1


def _first_lines(e: Exception, n: int = 3) -> str:
  lines = [l for l in str(e).splitlines() if l.strip()][:n]
  return f"{type(e).__name__}: " + " | ".join(lines)[:400]


def _count_primitives(jaxpr: Any, counts: collections.Counter) -> None:
  from jax2tf_impl import jaxpr_util  # pylint: disable=g-import-not-at-top
  for eqn in jaxpr.eqns:
    counts[str(eqn.primitive)] += 1
    for sub in jaxpr_util.sub_jaxprs(eqn.params):
      _count_primitives(sub, counts)


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="jax2tf-impl", description="Convert JAX functions to TF graphs.")
  sub = parser.add_subparsers(dest="command", required=True)
  for name, helptext in (("export", "export to SavedModel/TFLite/ONNX/TF.js"),
                         ("check", "print the portability report")):
    p = sub.add_parser(name, help=helptext)
    p.add_argument("function", help="package.module:function")
    p.add_argument("--params", help="checkpoint: .npz, .msgpack or orbax dir")
    p.add_argument("--shape", action="append", required=True,
                   help='one per input, e.g. "(b, 28, 28, 1)"')
    p.add_argument("--dtype", action="append", default=None,
                   help="one per input, or one for all (default float32)")
    p.add_argument("--dim-value", type=int, default=2,
                   help="value of dimension variables for the example inputs")
    if name == "export":
      p.add_argument("--to", default="saved_model",
                     help="comma-separated: " + ",".join(TARGETS))
      p.add_argument("--out", required=True)
      p.add_argument("--enable-xla", action="store_true",
                     help="allow Xla* ops in the SavedModel (TF-only)")
      p.add_argument("--tfjs-python", default=None,
                     help="a Python that can import tensorflowjs")
      p.add_argument("--quiet", action="store_true")
  return parser


def main(argv: Sequence[str] | None = None) -> int:
  args = _parser().parse_args(argv)
  args.dtype = args.dtype or ["float32"]
  if len(args.dtype) not in (1, len(args.shape)):
    raise SystemExit("--dtype: give one per --shape, or one for all")
  return export(args) if args.command == "export" else check(args)


if __name__ == "__main__":
  sys.exit(main())
