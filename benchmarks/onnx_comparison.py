"""Our ONNX path (JAX -> TF -> tf2onnx) next to jax2onnx, on the model zoo.

Usage: python benchmarks/onnx_comparison.py [--write] [--models a,b]
                                            [--runs 50] [--warmup 5]

For every model of tests/model_zoo.py `MODELS`, in 32-bit JAX mode:

* Path A (ours): `jax2tf_impl.export.export_onnx(fun, make_batch(1),
  polymorphic_shapes=batch_spec)` (its default opset), batch dimension
  symbolic.
* Path B: `jax2onnx.to_onnx(fun, inputs=[ShapeDtypeStruct...])` at
  jax2onnx's default opset, with the batch dimension symbolic: the specs are
  `jax.export.symbolic_args_specs(make_batch(1), batch_spec)`, which jax2onnx
  takes as is (dimension names become ONNX dim_params). Where the symbolic
  export fails, the model is exported with static shapes, once per batch
  size used. Where onnxruntime has no kernel for an op at that opset
  (NOT_IMPLEMENTED, e.g. RandomNormal-22), it is exported again at
  FALLBACK_OPSET. Both are said in the notes.

Each path is run with onnxruntime (CPUExecutionProvider) at batch 1 and 3
and compared with `jax.jit(fun)`: max abs error over all outputs, and
pass/fail of `np.testing.assert_allclose(got, want, rtol=m.rtol,
atol=m.rtol)`. Latency is the median of `--runs` runs after `--warmup`
warm-ups at batch LATENCY_BATCH, both paths interleaved in the same process
(ratio = ours / jax2onnx). "converted" is "no" also when the converter
returned a model holding ops that have no ONNX schema at its opset
(tf2onnx passes unsupported TF ops through with only a log message); they
are listed. Node counts include the nodes of subgraphs (Loop/Scan/If bodies)
in parentheses. Failures are isolated per model and per path.

With --write, the tables and the environment go to
benchmarks/ONNX_COMPARISON.md.
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import logging
import os
import platform
import re
import statistics
import sys
import time

import bench_env  # benchmarks/, next to this script
import traceback
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_ROOT, "tests"))
sys.path.insert(0, _ROOT)

import jax  # noqa: E402

jax.config.update("jax_enable_x64", False)

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from jax import export as jax_export  # noqa: E402

import jax2onnx  # noqa: E402
from jax2tf_impl.export import export_onnx  # noqa: E402
from support.model_zoo import MODELS  # noqa: E402

LATENCY_BATCH = 8          # per-model overrides in LATENCY_BATCH_FOR
LATENCY_BATCH_FOR: dict[str, int] = {}
CHECK_BATCHES = (1, 3)
FALLBACK_OPSET = 21        # for path B when ORT lacks kernels at the default
OUT_FILE = os.path.join(_ROOT, "benchmarks", "ONNX_COMPARISON.md")

for _name in ("tf2onnx", "jax2onnx", "absl"):
  logging.getLogger(_name).setLevel(logging.CRITICAL)
ort.set_default_logger_severity(4)

_ORIGINAL_RANDOM = {n: getattr(jax.random, n)
                    for n in ("bernoulli", "normal", "uniform")}


def _short(e: BaseException, limit: int = 160) -> str:
  msg = str(e).strip().splitlines()
  first = msg[0] if msg else ""
  first = re.sub(r"\s+", " ", first)
  if len(first) > limit:
    first = first[:limit - 3] + "..."
  return f"{type(e).__name__}: {first}"


def _all_nodes(graph: onnx.GraphProto):
  for node in graph.node:
    yield node, graph
    for attr in node.attribute:
      subgraphs = list(attr.graphs) + ([attr.g] if attr.HasField("g") else [])
      for sub in subgraphs:
        yield from _all_nodes(sub)


def _node_counts(model: onnx.ModelProto) -> tuple[int, int]:
  top = len(model.graph.node)
  total = sum(1 for _ in _all_nodes(model.graph))
  return top, total


def _opsets(model: onnx.ModelProto) -> dict[str, int]:
  return {(o.domain or ""): o.version for o in model.opset_import}


def _ops_without_schema(model: onnx.ModelProto) -> collections.Counter:
  """Ops of the default domain with no ONNX schema at the model's opset."""
  version = _opsets(model).get("", 0)
  bad: collections.Counter = collections.Counter()
  for node, _ in _all_nodes(model.graph):
    if node.domain not in ("", "ai.onnx"):
      continue
    try:
      onnx.defs.get_schema(node.op_type, version, "")
    except Exception:  # pylint: disable=broad-except
      bad[node.op_type] += 1
  return bad


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
  opts = ort.SessionOptions()
  opts.log_severity_level = 4
  return ort.InferenceSession(model.SerializeToString(), opts,
                              providers=["CPUExecutionProvider"])


def _feeds(sess: ort.InferenceSession, args: tuple) -> dict[str, np.ndarray]:
  """Inputs by position; names ending in digits give the position."""
  feeds = {}
  for pos, inp in enumerate(sess.get_inputs()):
    m = re.search(r"(\d+)$", inp.name)
    idx = int(m.group(1)) if m else pos
    feeds[inp.name] = np.asarray(args[idx])
  return feeds


def _max_err_and_ok(got: list, want: list, rtol: float
                    ) -> tuple[float, bool, str]:
  if len(got) != len(want):
    return float("nan"), False, f"{len(got)} outputs, expected {len(want)}"
  err, ok, why = 0.0, True, ""
  for g, w in zip(got, want):
    g, w = np.asarray(g), np.asarray(w)
    if g.shape != w.shape:
      return float("nan"), False, f"shape {g.shape}, expected {w.shape}"
    diff = np.abs(g.astype(np.float64) - w.astype(np.float64))
    if diff.size and not np.isnan(err):
      e = float(np.max(diff))
      err = e if np.isnan(e) else max(err, e)  # nan sticks
    try:
      np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol)
    except AssertionError:
      ok = False
      if not np.all(np.isfinite(g)) and np.all(np.isfinite(w)):
        why = "non-finite outputs"
  return err, ok, why


@dataclasses.dataclass
class PathResult:
  converted: bool = False
  convert_error: str = ""
  convert_s: float | None = None
  nodes: tuple[int, int] | None = None
  opset: int | None = None
  ran: bool = False
  run_error: str = ""
  errs: dict[int, float] = dataclasses.field(default_factory=dict)
  ok: bool | None = None
  latency_ms: float | None = None
  latency_batch: int | None = None
  notes: list[str] = dataclasses.field(default_factory=list)
  # sessions by batch size; None key: one session for all batch sizes
  sessions: dict[Any, ort.InferenceSession] = dataclasses.field(
      default_factory=dict, repr=False)
  make_session: Callable[[int], ort.InferenceSession] | None = dataclasses.field(
      default=None, repr=False)

  def session(self, n: int) -> ort.InferenceSession:
    if None in self.sessions:
      return self.sessions[None]
    if n not in self.sessions:
      self.sessions[n] = self.make_session(n)
    return self.sessions[n]


def _check(res: PathResult, m, refs: dict[int, list]) -> None:
  """Runs at CHECK_BATCHES, fills ran / errs / ok / notes."""
  oks, whys = [], set()
  try:
    for n in CHECK_BATCHES:
      args = m.make_batch(n)
      sess = res.session(n)
      got = sess.run(None, _feeds(sess, args))
      err, ok, why = _max_err_and_ok(got, refs[n], m.rtol)
      res.errs[n] = err
      oks.append(ok)
      if why:
        whys.add(why)
      if n == CHECK_BATCHES[0]:
        again = sess.run(None, _feeds(sess, args))
        if any(not np.array_equal(a, b, equal_nan=True)
               for a, b in zip(got, again)):
          res.notes.append("outputs differ between two runs on the same "
                           "input (non-deterministic)")
    res.ran = True
    res.ok = all(oks)
    res.notes.extend(sorted(whys))
  except Exception as e:  # pylint: disable=broad-except
    res.ran = bool(res.errs)
    res.run_error = _short(e)
    res.ok = False if res.errs else None


def _model_checked(res: PathResult, model: onnx.ModelProto) -> None:
  res.nodes = _node_counts(model)
  res.opset = _opsets(model).get("")
  bad = _ops_without_schema(model)
  if bad:
    res.converted = False
    res.convert_error = (f"ops without an ONNX schema at opset {res.opset}: "
                         + ", ".join(f"{k} x{v}" for k, v in bad.most_common()))
  else:
    res.converted = True
  random_ops = collections.Counter(
      node.op_type for node, _ in _all_nodes(model.graph)
      if node.op_type.startswith("Random") or node.op_type in (
          "Bernoulli", "Multinomial"))
  if random_ops:
    res.notes.append("samples with ONNX " + ", ".join(sorted(random_ops))
                     + " (seeded by an attribute, not by the key input)")
  used = {i for node, _ in _all_nodes(model.graph) for i in node.input}
  used |= {o.name for o in model.graph.output}
  unused = [i.name for i in model.graph.input if i.name not in used]
  if unused:
    res.notes.append(f"graph input(s) {', '.join(unused)} unused")


def path_ours(m) -> PathResult:
  res = PathResult()
  t0 = time.perf_counter()
  try:
    model = export_onnx(m.fun(), m.make_batch(1),
                        polymorphic_shapes=list(m.batch_spec))
  except Exception as e:  # pylint: disable=broad-except
    res.convert_s = time.perf_counter() - t0
    res.convert_error = _short(e)
    return res
  res.convert_s = time.perf_counter() - t0
  _model_checked(res, model)
  try:
    res.sessions[None] = _session(model)
  except Exception as e:  # pylint: disable=broad-except
    res.run_error = _short(e)
  return res


def _restore_random(res: PathResult) -> None:
  for name, fn in _ORIGINAL_RANDOM.items():
    if getattr(jax.random, name) is not fn:
      setattr(jax.random, name, fn)
      res.notes.append(f"jax2onnx left jax.random.{name} patched (restored)")


def path_jax2onnx(m) -> PathResult:
  res = PathResult()
  fun = m.fun()
  args1 = m.make_batch(1)

  def convert(specs, opset):
    kwargs = {} if opset is None else {"opset": opset}
    try:
      return jax2onnx.to_onnx(fun, inputs=list(specs), model_name=m.name,
                              **kwargs)
    finally:
      _restore_random(res)

  def static_specs(n):
    return [jax.ShapeDtypeStruct(np.shape(a), np.asarray(a).dtype)
            for a in m.make_batch(n)]

  symbolic = True
  t0 = time.perf_counter()
  try:
    specs = jax_export.symbolic_args_specs(args1, list(m.batch_spec))
    model = convert(specs, None)
  except Exception as e:  # pylint: disable=broad-except
    symbolic = False
    res.notes.append(f"symbolic batch failed ({_short(e, 110)}); "
                     "exported with static shapes at each batch size")
    t0 = time.perf_counter()
    try:
      model = convert(static_specs(1), None)
    except Exception as e2:  # pylint: disable=broad-except
      res.convert_s = time.perf_counter() - t0
      res.convert_error = _short(e2)
      if _short(e2) == _short(e):
        res.notes.pop()
        res.convert_error += " (symbolic and static shapes)"
      return res
  res.convert_s = time.perf_counter() - t0
  _model_checked(res, model)

  opset = None
  try:
    sess = _session(model)
  except Exception as e:  # pylint: disable=broad-except
    if "NOT_IMPLEMENTED" not in str(e):
      res.run_error = _short(e)
      return res
    # onnxruntime lacks a kernel at this opset: try the fallback opset.
    opset = FALLBACK_OPSET
    res.notes.append(f"onnxruntime rejected opset {res.opset} model "
                     f"({_short(e, 110)}); re-exported at opset {opset}")
    try:
      model = convert(specs if symbolic else static_specs(1), opset)
      _model_checked(res, model)
      sess = _session(model)
    except Exception as e2:  # pylint: disable=broad-except
      res.run_error = _short(e2)
      return res

  if symbolic:
    res.sessions[None] = sess
  else:
    res.sessions[1] = sess
    res.make_session = lambda n: _session(convert(static_specs(n), opset))
  return res


def _latency(results: list[PathResult], m, runs: int, warmup: int) -> None:
  """Median ORT latency of each ran path, measured interleaved."""
  batch = LATENCY_BATCH_FOR.get(m.name, LATENCY_BATCH)
  args = m.make_batch(batch)
  live = []
  for res in results:
    if not res.ran:
      continue
    try:
      sess = res.session(batch)
      feeds = _feeds(sess, args)
      for _ in range(warmup):
        sess.run(None, feeds)
      live.append((res, sess, feeds, []))
    except Exception as e:  # pylint: disable=broad-except
      res.notes.append(f"latency run at batch {batch} failed: {_short(e)}")
  for i in range(runs):
    order = live if i % 2 == 0 else live[::-1]
    for _, sess, feeds, times in order:
      t0 = time.perf_counter()
      sess.run(None, feeds)
      times.append(time.perf_counter() - t0)
  for res, _, _, times in live:
    res.latency_ms = statistics.median(times) * 1e3
    res.latency_batch = batch


def _reference(m) -> dict[int, list]:
  fn = jax.jit(m.fun())
  return {n: [np.asarray(x) for x in jax.tree_util.tree_leaves(
      fn(*m.make_batch(n)))] for n in CHECK_BATCHES}


def _warm_up() -> None:
  """One-time costs (TF/JAX/tf2onnx init) out of the first model's times."""
  f = lambda x: jax.numpy.tanh(x) * 2.0
  x = np.ones((1, 4), np.float32)
  try:
    export_onnx(f, (x,), polymorphic_shapes=["(b, 4)"])
  except Exception:  # pylint: disable=broad-except
    pass
  try:
    jax2onnx.to_onnx(f, inputs=[("B", 4)])
  except Exception:  # pylint: disable=broad-except
    pass


# --- report ------------------------------------------------------------------

def _fmt_err(e: float | None) -> str:
  if e is None:
    return "-"
  if np.isnan(e):
    return "nan"
  return "0" if e == 0 else f"{e:.1e}"


def _fmt_nodes(n: tuple[int, int] | None) -> str:
  if n is None:
    return "-"
  top, total = n
  return str(top) if top == total else f"{top} ({total})"


def _row(model, path, res: PathResult, ratio: str) -> str:
  conv = "yes" if res.converted else "**no**"
  ran = "yes" if res.ran else ("**no**" if res.convert_s is not None else "-")
  if res.ok is None:
    ok = "-"
  else:
    ok = "pass" if res.ok else "**FAIL**"
  lat = "-" if res.latency_ms is None else f"{res.latency_ms:.3f}"
  cs = "-" if res.convert_s is None else f"{res.convert_s:.2f}"
  errs = [_fmt_err(res.errs.get(n)) for n in CHECK_BATCHES]
  return (f"| {model} | {path} | {conv} | {cs} | {_fmt_nodes(res.nodes)} | "
          f"{res.opset or '-'} | {ran} | " + " | ".join(errs) +
          f" | {ok} | {lat} | {ratio} |")


def render(rows: list[tuple[Any, PathResult, PathResult]], runs: int,
           warmup: int, elapsed: float) -> str:
  head = ("| model | path | converted | convert s | ONNX nodes | opset | ran | "
          + " | ".join(f"max abs err b={n}" for n in CHECK_BATCHES)
          + " | allclose @ m.rtol | latency ms | ours / jax2onnx |")
  sep = "|" + "---|" * (head.count("|") - 1)
  lines = [head, sep]
  notes = []
  for m, a, b in rows:
    ratio = "-"
    if a.latency_ms is not None and b.latency_ms is not None:
      ratio = f"{a.latency_ms / b.latency_ms:.2f}"
    lines.append(_row(m.name, "ours", a, ratio))
    lines.append(_row(m.name, "jax2onnx", b, ""))
    for path, res in (("ours", a), ("jax2onnx", b)):
      msgs = []
      if res.convert_error:
        msgs.append(f"conversion: {res.convert_error}")
      if res.run_error:
        msgs.append(f"run: {res.run_error}")
      msgs.extend(res.notes)
      for msg in dict.fromkeys(msgs):  # once each, in order
        notes.append(f"- {m.name} / {path}: {msg}")
  batches = sorted({r.latency_batch for _, a, b in rows for r in (a, b)
                    if r.latency_batch})
  out = ["\n".join(lines), "",
         f"Latency: onnxruntime CPUExecutionProvider, median of {runs} runs "
         f"after {warmup} warm-ups at batch "
         f"{', '.join(map(str, batches)) or LATENCY_BATCH}, both paths "
         "interleaved in one process. ONNX nodes: top-level (with subgraph "
         "nodes). Errors: max |onnx - jax.jit| over all outputs.", ""]
  if notes:
    out += ["Failures and notes:", ""] + notes + [""]
  out.append(f"Whole run: {elapsed:.1f} s.")
  return "\n".join(out)


def environment() -> str:
  commit = bench_env.git_revision()
  try:
    usable = len(os.sched_getaffinity(0))
  except AttributeError:
    usable = os.cpu_count()
  pkgs = ["jax", "jaxlib", "tensorflow", "tf2onnx", "jax2onnx", "onnx",
          "onnxruntime", "numpy"]
  return "\n".join([
      f"- date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}",
      f"- jax2tf_impl commit: {commit}",
      f"- python {platform.python_version()}, {platform.platform()}",
      f"- CPUs: {usable} usable ({os.cpu_count()} in machine), "
      f"{platform.processor() or platform.machine()}",
      "- " + ", ".join(f"{p} {bench_env.package_version(p)}" for p in pkgs),
      "- JAX 32-bit mode (jax_enable_x64=False)",
  ])


HEADER = """# ONNX export: ours (JAX -> TF -> tf2onnx) vs jax2onnx

`python benchmarks/onnx_comparison.py --write`, on the models of
tests/model_zoo.py at their batch-polymorphic spec. Path "ours" is
`jax2tf_impl.export.export_onnx` (enable_xla=False, tf2onnx, its default
opset); path "jax2onnx" is `jax2onnx.to_onnx` at its default opset with
the batch dimension symbolic (`jax.export.symbolic_args_specs`), falling
back to static shapes or to opset {fallback} where the notes say so.
"converted" is "no" also when the converter returned a model with ops that
have no ONNX schema at its opset (tf2onnx keeps unsupported TF ops and only
logs them). Pass/fail is `np.testing.assert_allclose(got, want,
rtol=m.rtol, atol=m.rtol)` against `jax.jit`, at batch sizes {batches}.
"""


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--write", action="store_true",
                      help=f"write {os.path.relpath(OUT_FILE, _ROOT)}")
  parser.add_argument("--models", default="",
                      help="comma-separated model names (default: all)")
  parser.add_argument("--runs", type=int, default=50)
  parser.add_argument("--warmup", type=int, default=5)
  parser.add_argument("--verbose", action="store_true",
                      help="print tracebacks of failures")
  args = parser.parse_args()

  wanted = [s for s in args.models.split(",") if s]
  models = [m for m in MODELS if not wanted or m.name in wanted]
  start = time.perf_counter()
  _warm_up()
  rows = []
  for m in models:
    t0 = time.perf_counter()
    try:
      refs = _reference(m)
    except Exception as e:  # pylint: disable=broad-except
      print(f"{m.name}: jax.jit reference failed: {_short(e)}", flush=True)
      continue
    results = []
    for name, path in (("ours", path_ours), ("jax2onnx", path_jax2onnx)):
      try:
        res = path(m)
      except Exception as e:  # pylint: disable=broad-except
        res = PathResult(convert_error=f"harness error: {_short(e)}")
        if args.verbose:
          traceback.print_exc()
      if res.sessions or res.make_session:
        _check(res, m, refs)
      results.append(res)
    try:
      _latency(results, m, args.runs, args.warmup)
    except Exception as e:  # pylint: disable=broad-except
      results[0].notes.append(f"latency harness error: {_short(e)}")
    rows.append((m, *results))
    a, b = results
    print(f"{m.name}: ours {'ok' if a.ok else 'not ok'}, "
          f"jax2onnx {'ok' if b.ok else 'not ok'} "
          f"({time.perf_counter() - t0:.1f} s)", flush=True)

  elapsed = time.perf_counter() - start
  table = render(rows, args.runs, args.warmup, elapsed)
  env = environment()
  print()
  print(table)
  print()
  print(env)
  if args.write:
    header = HEADER.format(fallback=FALLBACK_OPSET,
                           batches=" and ".join(map(str, CHECK_BATCHES)))
    with open(OUT_FILE, "w") as f:
      f.write(header + "\n" + table + "\n\nEnvironment:\n\n" + env + "\n")
    print(f"\nwrote {os.path.relpath(OUT_FILE, _ROOT)}")


if __name__ == "__main__":
  main()
