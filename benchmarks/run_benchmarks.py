"""Latency of converted functions relative to jax.jit, and conversion time.

Usage: python benchmarks/run_benchmarks.py [--quick] [--json FILE]
(benchmarks/race.py races this converter against native jax2tf and jax.jit.)

1. For an MLP and the demo CNN: the median latency of the converted function
   under tf.function and under tf.function(jit_compile=True), each as a ratio
   to jax.jit of the same function, measured side by side in this run
   (interleaved rounds, so machine noise hits both sides alike).
2. Conversion time (JAX trace + TF graph build) of generated functions of
   100, 1,000 and 10,000 equations, and the time per equation (it must stay
   flat: conversion is linear in the jaxpr size).
Only ratios are meaningful across machines; absolute times are printed for
context.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import jax2tf_impl  # noqa: E402
from jax2tf_impl import demo  # noqa: E402


def mlp(params: dict[str, Any], x: jax.Array) -> jax.Array:
  for w, b in params["layers"]:
    x = jax.nn.relu(x @ w + b)
  return x


def init_mlp(sizes=(784, 512, 512, 10), seed=0) -> dict[str, Any]:
  rng = np.random.RandomState(seed)
  return {"layers": [((rng.randn(m, n) / np.sqrt(m)).astype(np.float32),
                      np.zeros(n, np.float32))
                     for m, n in zip(sizes[:-1], sizes[1:])]}


def _time_once(fn: Callable[[], Any]) -> float:
  t0 = time.perf_counter()
  out = fn()
  if hasattr(out, "block_until_ready"):
    out.block_until_ready()
  else:
    np.asarray(out)
  return time.perf_counter() - t0


def compare_latency(name: str, jax_fn: Callable[..., Any], args: tuple,
                    rounds: int, reps: int) -> dict[str, Any]:
  """Median latencies of jax.jit vs converted (tf.function, jit_compile)."""
  jitted = jax.jit(jax_fn)
  converted = jax2tf_impl.convert(jax_fn)
  tf_args = tf.nest.map_structure(tf.constant, args)
  tf_graph = tf.function(converted, autograph=False)
  tf_xla = tf.function(converted, autograph=False, jit_compile=True)
  runners = {
      "jax.jit": lambda: jitted(*args),
      "tf.function": lambda: tf_graph(*tf_args),
      "tf.function(jit_compile)": lambda: tf_xla(*tf_args),
  }
  for r in runners.values():  # compile / warm up
    for _ in range(3):
      _time_once(r)
  samples: dict[str, list[float]] = {k: [] for k in runners}
  for _ in range(rounds):  # interleaved, so noise hits every runner alike
    for k, r in runners.items():
      samples[k].append(min(_time_once(r) for _ in range(reps)))
  med = {k: statistics.median(v) for k, v in samples.items()}
  result = {
      "model": name,
      "jax_jit_ms": med["jax.jit"] * 1e3,
      "tf_function_ms": med["tf.function"] * 1e3,
      "tf_jit_compile_ms": med["tf.function(jit_compile)"] * 1e3,
      "ratio_tf_function": med["tf.function"] / med["jax.jit"],
      "ratio_jit_compile": med["tf.function(jit_compile)"] / med["jax.jit"],
  }
  print(f"{name:6s} jax.jit {result['jax_jit_ms']:8.3f} ms | "
        f"tf.function {result['tf_function_ms']:8.3f} ms "
        f"(ratio {result['ratio_tf_function']:.2f}) | "
        f"jit_compile {result['tf_jit_compile_ms']:8.3f} ms "
        f"(ratio {result['ratio_jit_compile']:.2f})")
  return result


def chain_function(n_eqns: int) -> Callable[[jax.Array], jax.Array]:
  """A function whose jaxpr has exactly `n_eqns` elementwise equations."""
  def f(x):
    for i in range(n_eqns // 2):
      x = jnp.sin(x) if i % 2 else jnp.cos(x)
      x = x * 1.0001
    return x
  return f


def conversion_time(n_eqns: int) -> dict[str, Any]:
  f = chain_function(n_eqns)
  spec = tf.TensorSpec([16], tf.float32)
  n_actual = len(jax.make_jaxpr(f)(np.zeros(16, np.float32)).jaxpr.eqns)
  t0 = time.perf_counter()
  tf.function(jax2tf_impl.convert(f), autograph=False).get_concrete_function(spec)
  seconds = time.perf_counter() - t0
  print(f"conversion of {n_actual:6d} equations: {seconds:7.3f} s "
        f"({seconds / n_actual * 1e6:7.1f} us/equation)")
  return {"equations": n_actual, "seconds": seconds,
          "us_per_equation": seconds / n_actual * 1e6}


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser()
  parser.add_argument("--quick", action="store_true",
                      help="fewer rounds and no 10,000-equation case")
  parser.add_argument("--json", default=None, help="write results here")
  opts = parser.parse_args(argv)
  rounds, reps = (5, 3) if opts.quick else (21, 10)
  print(f"jax {jax.__version__}, tensorflow {tf.__version__}, "
        f"{os.cpu_count()} CPUs")
  latency = [
      compare_latency("MLP", mlp, (init_mlp(), np.random.RandomState(0).rand(
          32, 784).astype(np.float32)), rounds, reps),
      compare_latency("CNN", demo.cnn, (demo.init_cnn(), np.random.RandomState(
          0).rand(64, 28, 28, 1).astype(np.float32)), rounds, reps),
  ]
  sizes = (100, 1000) if opts.quick else (100, 1000, 10000)
  conversion = [conversion_time(n) for n in sizes]
  if opts.json:
    with open(opts.json, "w") as f:
      json.dump({"latency": latency, "conversion": conversion}, f, indent=2)
  return 0


if __name__ == "__main__":
  sys.exit(main())
