"""What each public JAX function reaches: the API sweep on TFLite, ONNX, TF.js.

Usage:
  python benchmarks/sweep_portability.py [--fraction F] [--shard K/N]
                                         [--json PATH] [--write]
  python benchmarks/sweep_portability.py --report PATH... [--write]

The calls of the public-API sweep (tests/support/api_sweep_cases.py, the
suite of tests/test_api_sweep.py) go through the same targets as the
primitive harnesses in benchmarks/portability_matrix.py, with its runners:
the `enable_xla=False` tf.function, `export.export_tflite` (TFLITE_BUILTINS
only) run by LiteRT, `export.export_onnx` (opset 18) run by onnxruntime,
and the TF.js static op/dtype check. Results are compared with jax.jit as
the sweep compares its enable_xla=False mode (support/jit_compare.assert_matches_jax:
JAX's tolerances with the case's `tol`, integers and bools exact, random
floats within tolerance since no target runs XLA).

Eligible: the calls whose arguments and results hold no 64-bit dtype (the
targets run 32-bit models; JAX's x64 flag is on, as in the sweep).
`--shard K/N` runs every N-th eligible call from the K-th (0-based), for
parallel processes whose --json files `--report` merges; `--write` writes
docs/portability_sweep.md. About 2-4 s per call on one core.
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import json
import os
import sys
import time
from typing import Any, Callable

import portability_matrix as pm  # benchmarks/, next to this script

import jax  # noqa: E402  (portability_matrix set x64 and the paths)
import numpy as np  # noqa: E402

from support.api_sweep_cases import CASES  # noqa: E402
from support.jit_compare import assert_matches_jax  # noqa: E402

REPORT_PATH = os.path.join(pm.ROOT, "docs", "portability_sweep.md")
TARGETS = ("tflite", "onnx", "tfjs")
COLUMNS = ("tf",) + TARGETS


@dataclasses.dataclass
class SweepCall:
  """A sweep case in the shape portability_matrix's runners read."""
  fullname: str
  dyn_fun: Callable[..., Any]
  args: tuple
  tol: Any

  @property
  def group_name(self) -> str:
    return self.fullname.split(".")[0]

  @property
  def dtype(self) -> Any:
    arrays = [np.asarray(a) for a in self.args]
    return arrays[0].dtype if arrays else np.float32

  def check(self, _harness: Any, _args: Any, jax_outs: list[np.ndarray],
            got: list[np.ndarray]) -> None:
    assert_matches_jax(jax_outs, got, self.tol, exact=False)

  def jax_result(self, _harness: Any) -> tuple[list[Any], list[np.ndarray]]:
    args = [np.asarray(a) for a in self.args]
    outs = jax.jit(self.dyn_fun)(*args)
    return args, [np.asarray(x) for x in jax.tree_util.tree_leaves(outs)]


def _wide(dtypes: list[Any]) -> list[str]:
  return sorted({np.dtype(d).name for d in dtypes} & pm.WIDE)


def eligible(call: SweepCall) -> str | None:
  """Why `call` is left out, or None."""
  wide = _wide([np.asarray(a).dtype for a in call.args])
  if wide:
    return f"64-bit args {wide}"
  try:
    out = jax.eval_shape(call.dyn_fun, *call.args)
  except Exception as e:  # pylint: disable=broad-except
    return f"JAX fails: {type(e).__name__}"
  wide = _wide([x.dtype for x in jax.tree_util.tree_leaves(out)])
  return f"64-bit results {wide}" if wide else None


def run(fraction: float, shard: tuple[int, int], json_path: str | None,
        quiet: bool) -> list[dict]:
  names = sorted(CASES)
  if fraction < 1:
    step = max(1, round(1 / fraction))
    names = names[::step]
  calls = [SweepCall(n, CASES[n].fn, CASES[n].args, CASES[n].tol) for n in names]
  rows = []
  for c in calls:
    why = eligible(c)
    if why:
      rows.append({"name": c.fullname, "left_out": why})
  todo = [c for c in calls if not any(r["name"] == c.fullname for r in rows)]
  k, n = shard
  todo = todo[k::n]
  rows = rows if k == 0 else []
  out = open(json_path, "w") if json_path else None
  for r in rows:
    if out:
      out.write(json.dumps(r) + "\n")
  for i, c in enumerate(todo):
    t0 = time.time()
    res = pm.run_harness(c, quiet, jax_result=c.jax_result, with_tf2jax=False)
    row = {"name": c.fullname,
           **{t: dataclasses.asdict(o) for t, o in res.items()}}
    rows.append(row)
    if out:
      out.write(json.dumps(row) + "\n")
      out.flush()
    status = " ".join(f"{t}={'OK' if res[t].ok else res[t].status}"
                      for t in COLUMNS)
    print(f"[{i + 1}/{len(todo)}] {c.fullname}: {status} "
          f"({time.time() - t0:.1f} s)", file=sys.stderr, flush=True)
  if out:
    out.close()
  return rows


def _cell(o: dict) -> str:
  if o["status"] == "ok":
    return "OK"
  return pm.esc(o["reason"][:90])


def report(rows: list[dict], seconds: float | None) -> str:
  ran = [r for r in rows if "left_out" not in r]
  left = [r for r in rows if "left_out" in r]
  ok = {t: sum(r[t]["status"] == "ok" for r in ran) for t in COLUMNS}
  heads = " | ".join(pm.NAMES[t] + " OK" for t in COLUMNS)
  versions = pm.versions()
  lines = [
      "# What each public JAX function reaches: the API sweep on TFLite, "
      "ONNX, TF.js",
      "",
      "Generated by `benchmarks/sweep_portability.py`; do not edit by hand. "
      "The primitives' matrix (JAX's harnesses): "
      "[portability.md](portability.md), whose column definitions apply.",
      "",
      f"The calls of the public-API sweep (`tests/support/api_sweep_cases.py`,"
      f" {len(rows)} of its {len(CASES)} calls here; "
      f"{len(left)} left out because their arguments or results are 64-bit)"
      ", each converted with `enable_xla=False` and its own static shapes, "
      "exported, run, and compared with `jax.jit` as the sweep's "
      "enable_xla=False mode compares (JAX's tolerances and the case's "
      "`tol`; integers and bools exact; random floats within tolerance, "
      "their bits exact). TF.js is the static op/dtype check only (no "
      "Node.js run); the end-to-end TF.js runs are the model suite's "
      "(`tests/test_tfjs.py`).",
      "",
      f"Run {datetime.date.today().isoformat()}"
      + (f" in {seconds / 60:.0f} min" if seconds else "") + "; "
      + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) + ".",
      "",
      "## Totals",
      "",
      f"| calls | {heads} |",
      "|---|" + "---|" * len(COLUMNS),
      f"| {len(ran)} | " + " | ".join(str(ok[t]) for t in COLUMNS) + " |",
      "",
      "## By namespace",
      "",
      f"| namespace | calls | {heads} |",
      "|---|---|" + "---|" * len(COLUMNS),
  ]
  by_ns = collections.defaultdict(list)
  for r in ran:
    by_ns[r["name"].split(".")[0]].append(r)
  for ns in sorted(by_ns):
    rs = by_ns[ns]
    lines.append(f"| {ns} | {len(rs)} | " + " | ".join(
        str(sum(r[t]["status"] == "ok" for r in rs)) for t in COLUMNS) + " |")
  reasons = collections.Counter()
  for r in ran:
    for t in TARGETS:
      if r[t]["status"] not in ("ok", "na"):
        reasons[(pm.NAMES[t], r[t]["reason"])] += 1
  lines += ["", "## Most frequent reasons", "",
            "| target | reason | calls |", "|---|---|---|"]
  for (t, why), n in reasons.most_common(25):
    lines.append(f"| {t} | {pm.esc(why[:120])} | {n} |")
  wrong = [(r["name"], pm.NAMES[t], r[t]["reason"]) for r in ran for t in COLUMNS
           if r[t]["status"] == "mismatch"]
  lines += ["", "## Wrong results where the target runs", "",
            "The target converted and ran the call, and its result is not "
            "JAX's (silent at deployment; each is a bug or a target's own "
            "semantics to document):", ""]
  lines += [f"- `{n}` on {t}: {pm.esc(why[:160])}" for n, t, why in sorted(wrong)] or [
      "None."]
  lines += ["", "## Every call", "",
            "| call | " + " | ".join(pm.NAMES[t] for t in COLUMNS) + " |",
            "|---|" + "---|" * len(COLUMNS)]
  for r in sorted(ran, key=lambda r: r["name"]):
    lines.append(f"| `{r['name']}` | " + " | ".join(_cell(r[t]) for t in COLUMNS)
                 + " |")
  lines += ["", "## Left out (64-bit)", "",
            ", ".join(f"`{r['name']}`" for r in sorted(left, key=lambda r: r["name"]))
            or "None.", ""]
  return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--fraction", type=float, default=1.0,
                      help="every round(1/F)-th call by name")
  parser.add_argument("--shard", default="0/1", help="K/N")
  parser.add_argument("--json", default=None, help="one JSON line per call")
  parser.add_argument("--report", nargs="*", default=None,
                      help="merge these --json files instead of running")
  parser.add_argument("--write", action="store_true",
                      help=f"write the report to {REPORT_PATH}")
  parser.add_argument("--verbose", action="store_true")
  args = parser.parse_args(sys.argv[1:] if argv is None else argv)
  start = time.time()
  if args.report is not None:
    rows = []
    for path in args.report:
      with open(path) as f:
        rows += [json.loads(line) for line in f if line.strip()]
    seconds = None
  else:
    k, n = (int(x) for x in args.shard.split("/"))
    rows = run(args.fraction, (k, n), args.json, quiet=not args.verbose)
    seconds = time.time() - start
  text = report(rows, seconds)
  print(text)
  if args.write:
    with open(REPORT_PATH, "w") as f:
      f.write(text)
    print(f"wrote {REPORT_PATH}", file=sys.stderr)


if __name__ == "__main__":
  main()
