"""Default (enable_xla=True) vs portable (enable_xla=False) forms, measured.

A rule whose default graph differs from its portable graph must say why
(`jax2tf_impl.rules.DEFAULT_FORMS`, tested by tests/test_default_forms.py):
the portable form is > 1.2x slower, or less exact, or breaks the standard
tools. This script measures the first two for every such primitive, side by
side in one process: each form as a tf.function on the same inputs,
interleaved over several blocks (median time per block), and its worst
error against jax.jit in units of the dtype's epsilon relative to
max(1, |JAX|) ("ulp" below). Writes benchmarks/DEFAULT_FORMS.md.

Usage: python benchmarks/default_forms.py [--size N] [--blocks K] [--only a,b]
"""
from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from jax import lax  # noqa: E402

jax.config.update("jax_enable_x64", True)
import jax2tf_impl  # noqa: E402  pylint: disable=g-import-not-at-top

HERE = os.path.dirname(os.path.abspath(__file__))


def _floats(n: int, dtype: Any, lo: float, hi: float) -> Callable[[], list]:
  return lambda: [np.random.RandomState(0).uniform(lo, hi, n).astype(dtype)]


def _uints(n: int, dtype: Any) -> Callable[[], list]:
  def make() -> list:
    r = np.random.RandomState(0)
    info = np.iinfo(dtype)
    return [r.randint(0, int(info.max), n, dtype=np.int64).astype(dtype),
            r.randint(0, int(info.max), n, dtype=np.int64).astype(dtype)]
  return make


def _scan_cumsum(x: Any) -> Any:
  return lax.scan(lambda c, v: (c + v, c * 2.0), jnp.zeros(x.shape[1:], x.dtype), x)


def _cases(n: int) -> dict[str, tuple[Callable, Callable[[], list]]]:
  """name -> (JAX function, argument maker); the name starts with the
  primitive it measures."""
  f32, f64 = np.float32, np.float64
  key = np.asarray(jax.random.PRNGKey(0))
  return {
      "erf f32": (lax.erf, _floats(n, f32, -4, 4)),
      "erfc f32": (lax.erfc, _floats(n, f32, -4, 9)),
      "erf_inv f32": (lax.erf_inv, _floats(n, f32, -0.999, 0.999)),
      "log1p f32": (lax.log1p, _floats(n, f32, -0.9, 10)),
      "log1p f64": (lax.log1p, _floats(n, f64, -0.9, 10)),
      "atan f32": (lax.atan, _floats(n, f32, -20, 20)),
      "atan f64": (lax.atan, _floats(n, f64, -20, 20)),
      "asin f32": (lax.asin, _floats(n, f32, -1, 1)),
      "asin f64": (lax.asin, _floats(n, f64, -1, 1)),
      "acos f32": (lax.acos, _floats(n, f32, -1, 1)),
      "acos f64": (lax.acos, _floats(n, f64, -1, 1)),
      "rem f32": (lax.rem, lambda: [np.random.RandomState(0).uniform(-50, 50, n).astype(f32),
                                    np.random.RandomState(1).uniform(0.5, 7, n).astype(f32)]),
      "lgamma f32": (lax.lgamma, _floats(n, f32, 0.01, 30)),
      "digamma f32": (lax.digamma, _floats(n, f32, 0.01, 30)),
      "and u32": (lax.bitwise_and, _uints(n, np.uint32)),
      "or u32": (lax.bitwise_or, _uints(n, np.uint32)),
      "bitcast_convert_type u32->f32": (
          lambda x, y: lax.bitcast_convert_type((x >> 9) | np.uint32(0x3F800000), f32),
          _uints(n, np.uint32)),
      "sort f32": (jnp.sort, _floats(n, f32, -1e3, 1e3)),
      "top_k f32": (lambda x: lax.top_k(x.reshape(-1, 1000), 10),
                    _floats(n, f32, -1e3, 1e3)),
      "random normal f32 (jit)": (lambda k: jax.random.normal(k, (n,), f32),
                                  lambda: [key]),
      "random uniform f32 (jit)": (lambda k: jax.random.uniform(k, (n,), f32),
                                   lambda: [key]),
      "scan 2000 steps x (256,)": (_scan_cumsum,
                                   lambda: [np.random.RandomState(0).randn(2000, 256).astype(f32)]),
      "scatter-add segment_sum f32": (
          lambda d, s: jax.ops.segment_sum(d, s, num_segments=1000),
          lambda: [np.random.RandomState(0).randn(n).astype(f32),
                   np.random.RandomState(1).randint(0, 1000, n).astype(np.int32)]),
  }


def _ulps(got: np.ndarray, want: np.ndarray) -> float:
  if not np.issubdtype(want.dtype, np.inexact):
    return 0.0 if np.array_equal(got, want) else float("inf")
  g, w = got.astype(np.float64), want.astype(np.float64)
  if not np.array_equal(np.isnan(g), np.isnan(w)):
    return float("inf")
  ok = np.isfinite(w) & np.isfinite(g)
  if not np.array_equal(g[~ok & ~np.isnan(w)], w[~ok & ~np.isnan(w)]):
    return float("inf")
  eps = float(np.finfo(want.dtype).eps)
  err = np.abs(g[ok] - w[ok]) / np.maximum(1.0, np.abs(w[ok]))
  return float(err.max() / eps) if err.size else 0.0


def measure(name: str, fn: Callable, make: Callable[[], list], blocks: int,
            reps: int) -> dict:
  args = make()
  want = [np.asarray(x) for x in jax.tree_util.tree_leaves(jax.jit(fn)(*args))]
  tf_args = [tf.constant(a) for a in args]
  forms = {x: tf.function(jax2tf_impl.convert(fn, enable_xla=x), autograph=False)
           for x in (True, False)}
  out = {}
  for x, f in forms.items():
    got = [np.asarray(t) for t in tf.nest.flatten(f(*tf_args))]
    out[x] = {"ulp": max(_ulps(g, w) for g, w in zip(got, want)), "times": []}
  for _ in range(blocks):          # interleaved: both forms see the same load
    for x, f in forms.items():
      t0 = time.perf_counter()
      for _ in range(reps):
        tf.nest.flatten(f(*tf_args))[0].numpy()
      out[x]["times"].append((time.perf_counter() - t0) / reps)
  d, p = (statistics.median(out[x]["times"]) for x in (True, False))
  return {"name": name, "default_ulp": out[True]["ulp"],
          "portable_ulp": out[False]["ulp"], "ratio": p / d,
          "spread": (min(out[False]["times"]) / max(out[True]["times"]),
                     max(out[False]["times"]) / min(out[True]["times"]))}


def _fmt_ulp(u: float) -> str:
  return "not equal" if u == float("inf") else ("0" if u == 0 else f"{u:.3g}")


def main() -> int:
  ap = argparse.ArgumentParser()
  ap.add_argument("--size", type=int, default=1_000_000)
  ap.add_argument("--blocks", type=int, default=7)
  ap.add_argument("--reps", type=int, default=5)
  ap.add_argument("--only", default="")
  a = ap.parse_args()
  only = [s for s in a.only.split(",") if s]
  rows = []
  for name, (fn, make) in _cases(a.size).items():
    if only and not any(name.startswith(o) for o in only):
      continue
    r = measure(name, fn, make, a.blocks, a.reps)
    rows.append(r)
    print(f"{name}: portable/default time {r['ratio']:.2f} "
          f"(blocks {r['spread'][0]:.2f}-{r['spread'][1]:.2f}), error vs JAX "
          f"default {_fmt_ulp(r['default_ulp'])} / portable "
          f"{_fmt_ulp(r['portable_ulp'])} ulp", flush=True)
  lines = [
      "# Default vs portable forms, measured",
      "",
      f"`python benchmarks/default_forms.py --size {a.size} --blocks {a.blocks} "
      f"--reps {a.reps}` ({datetime.date.today().isoformat()}, CPU, "
      f"{os.cpu_count()} cores, one process). Each primitive's default graph "
      "(enable_xla=True) and portable graph (enable_xla=False) as tf.functions "
      "on the same inputs, timed interleaved; time ratio = portable / default "
      "(median over blocks; in brackets the ratio's range across blocks); error "
      "= max |TF - jax.jit| / max(1, |jax.jit|) in units of the dtype's epsilon. "
      "The reasons in `jax2tf_impl.rules.DEFAULT_FORMS` cite these rows.",
      "",
      "| case | portable / default time | error vs JAX, default (ulp) | "
      "error vs JAX, portable (ulp) |",
      "|---|---|---|---|",
  ]
  for r in rows:
    lines.append(f"| {r['name']} | {r['ratio']:.2f} ({r['spread'][0]:.2f}-"
                 f"{r['spread'][1]:.2f}) | {_fmt_ulp(r['default_ulp'])} | "
                 f"{_fmt_ulp(r['portable_ulp'])} |")
  if not only:
    with open(os.path.join(HERE, "DEFAULT_FORMS.md"), "w") as f:
      f.write("\n".join(lines) + "\n")
  return 0


if __name__ == "__main__":
  sys.exit(main())
