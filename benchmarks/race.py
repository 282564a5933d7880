"""The race: our converter, native jax2tf and jax.jit, interleaved in one run.

Usage:
  python benchmarks/race.py [--blocks 5] [--reps 20] [--models mlp,cnn,...]
      [--batches 1,64] [--conversion 1000,10000] [--label after]
      [--results benchmarks/RESULTS.md]

For each model (MLP, CNN, transformer, LSTM scan, elementwise chain) and
batch size, every runner is timed in each of `--blocks` blocks; inside a
block the runners take turns (so load on the shared machine hits them alike)
and each runner's block time is the best of `--reps` calls. A row's ratio is
runner / jax.jit within the same block; the table gives the median ratio over
blocks and its spread (min-max). Runners: ours and native jax2tf
(`jax.experimental.jax2tf.convert`, native_serialization default), each
eager, under tf.function and under tf.function(jit_compile=True).

Conversion: a generated chain of N elementwise equations, from `convert()`
to a concrete function (ours, native), against `jax.jit(f).lower().compile()`
in the same run; also the first call of our graph (TF's graph optimisation).

Only ratios are meaningful: the machine is shared. With `--results` the
table replaces the section named by `--label` in that markdown file.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import time
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from jax import lax  # noqa: E402
from jax.experimental import jax2tf  # noqa: E402

import jax2tf_impl  # noqa: E402
from jax2tf_impl import demo  # noqa: E402
from run_benchmarks import chain_function  # noqa: E402  (benchmarks/ is on sys.path)
import race_extras  # noqa: E402
from race_extras import side_by_side  # noqa: E402


# --- models: fn(params, x), params maker, input maker ------------------------

def _dense(rng, m, n):
  return {"w": (rng.randn(m, n) / np.sqrt(m)).astype(np.float32),
          "b": np.zeros(n, np.float32)}


def mlp(params, x):
  for layer in params:
    x = jax.nn.relu(x @ layer["w"] + layer["b"])
  return x


def mlp_params(rng):
  return [_dense(rng, 784, 512), _dense(rng, 512, 512), _dense(rng, 512, 10)]


def transformer(params, x):
  """One pre-LN block over (batch, 32, 64) features, 4 heads, causal."""
  b, t, d = x.shape
  h = (x - x.mean(-1, keepdims=True)) * lax.rsqrt(x.var(-1, keepdims=True)
                                                  + 1e-5)
  qkv = h @ params["qkv"]["w"] + params["qkv"]["b"]
  q, k, v = (a.reshape(b, t, 4, d // 4) for a in jnp.split(qkv, 3, axis=-1))
  logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(d // 4)
  logits = jnp.where(jnp.tril(jnp.ones((t, t), bool)), logits, -1e9)
  att = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(logits), v)
  x = x + att.reshape(b, t, d) @ params["out"]["w"]
  h = (x - x.mean(-1, keepdims=True)) * lax.rsqrt(x.var(-1, keepdims=True)
                                                  + 1e-5)
  return x + jax.nn.gelu(h @ params["ff1"]["w"]) @ params["ff2"]["w"]


def transformer_params(rng):
  return {"qkv": _dense(rng, 64, 192), "out": _dense(rng, 64, 64),
          "ff1": _dense(rng, 64, 256), "ff2": _dense(rng, 256, 64)}


def lstm(params, xs):
  """A 32-step LSTM (lax.scan) over (batch, 32, 16) inputs, hidden 64."""
  batch = xs.shape[0]

  def step(carry, x):
    h, c = carry
    gates = x @ params["wx"]["w"] + h @ params["wh"]["w"] + params["wx"]["b"]
    i, f, g, o = jnp.split(gates, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return (h, c), h

  init = (jnp.zeros((batch, 64), xs.dtype), jnp.zeros((batch, 64), xs.dtype))
  (h, _), _ = lax.scan(step, init, jnp.swapaxes(xs, 0, 1))
  return h


def lstm_params(rng):
  return {"wx": _dense(rng, 16, 256), "wh": _dense(rng, 64, 256)}


def elementwise(params, x):
  """A chain of 40 elementwise equations on (batch, 256)."""
  del params
  for i in range(10):
    x = jnp.tanh(x * 1.01 + 0.1) if i % 2 else jnp.exp(-x * x) - 0.5
  return x


MODELS: dict[str, tuple[Callable, Callable, Callable]] = {
    "mlp": (mlp, mlp_params, lambda r, b: r.rand(b, 784)),
    "cnn": (demo.cnn, lambda r: demo.init_cnn(0), lambda r, b: r.rand(b, 28, 28, 1)),
    "transformer": (transformer, transformer_params,
                    lambda r, b: r.randn(b, 32, 64)),
    "lstm": (lstm, lstm_params, lambda r, b: r.randn(b, 32, 16)),
    "elementwise": (elementwise, lambda r: {}, lambda r, b: r.randn(b, 256)),
}


# --- latency -----------------------------------------------------------------

def runners_for(name: str, batch: int) -> dict[str, Callable[[], Any]]:
  fn, make_params, make_x = MODELS[name]
  rng = np.random.RandomState(0)
  params = make_params(rng)
  x = make_x(rng, batch).astype(np.float32)
  tf_args = tf.nest.map_structure(tf.constant, (params, x))
  jitted = jax.jit(fn)
  jax_args = jax.device_put((params, x))
  out = {"jax.jit": lambda: jitted(*jax_args)}
  for label, conv in (("ours", lambda: jax2tf_impl.convert(fn)),
                      ("native", lambda: jax2tf.convert(fn))):
    try:
      c = conv()
    except Exception as e:  # pylint: disable=broad-except
      print(f"  {label}: conversion failed: {type(e).__name__}: {e}")
      continue
    g = tf.function(c, autograph=False)
    j = tf.function(c, autograph=False, jit_compile=True)
    out[f"{label} eager"] = lambda c=c: c(*tf_args)
    out[f"{label} tf.function"] = lambda g=g: g(*tf_args)
    out[f"{label} jit_compile"] = lambda j=j: j(*tf_args)
  return out


def race_latency(models: list[str], batches: list[int], blocks: int,
                 reps: int) -> list[dict[str, Any]]:
  rows = []
  for name in models:
    for batch in batches:
      row = side_by_side(runners_for(name, batch), blocks, reps,
                         f"{name} b{batch}")
      rows.append({"model": name, "batch": batch, **row})
  return rows


# --- conversion time ---------------------------------------------------------

def warm_up_conversion() -> None:
  """One small conversion by each path first, so that the first measured
  size does not pay for imports and first-use set-up (TF's tf.function
  machinery, the rules registry, JAX's compilation cache)."""
  f = chain_function(20)
  spec = tf.TensorSpec([16], tf.float32)
  x = np.ones(16, np.float32)
  jax.jit(f).lower(x).compile()
  tf.function(jax2tf_impl.convert(f), autograph=False).get_concrete_function(spec)(x)
  tf.function(jax2tf.convert(f), autograph=False).get_concrete_function(spec)


def race_conversion(n_eqns: int) -> dict[str, Any]:
  f = chain_function(n_eqns)
  spec = tf.TensorSpec([16], tf.float32)
  x = np.ones(16, np.float32)
  row: dict[str, Any] = {"equations": n_eqns}
  t0 = time.perf_counter()
  jax.jit(f).lower(x).compile()
  row["jax.jit lower+compile"] = time.perf_counter() - t0
  t0 = time.perf_counter()
  conc = tf.function(jax2tf_impl.convert(f), autograph=False
                     ).get_concrete_function(spec)
  row["ours convert"] = time.perf_counter() - t0
  t0 = time.perf_counter()
  conc(tf.constant(x))
  row["ours first call"] = time.perf_counter() - t0
  try:
    t0 = time.perf_counter()
    tf.function(jax2tf.convert(f), autograph=False).get_concrete_function(spec)
    row["native convert"] = time.perf_counter() - t0
  except Exception as e:  # pylint: disable=broad-except
    print(f"  native conversion failed: {type(e).__name__}: {e}")
  print(f"conversion {n_eqns:6d} eqns: " + "  ".join(
      f"{k} {v:.3f} s" for k, v in row.items() if k != "equations"), flush=True)
  return row


# --- report ------------------------------------------------------------------

def markdown(rows: list[dict[str, Any]], conv: list[dict[str, Any]],
             command: str, label: str, blocks: int, reps: int) -> str:
  keys = []
  for r in rows:
    keys += [k for k in r["ratios"] if k not in keys]
  lines = [f"### Race: {label}", "",
           f"Command: `{command}`", "",
           f"jax {jax.__version__}, TensorFlow {tf.__version__}, "
           f"{os.cpu_count()} CPUs, machine shared with other jobs (loaded): "
           f"read the ratios, not the times. Ratio = runner / jax.jit in the "
           f"same block; median over {blocks} blocks (best of {reps} calls "
           f"each) and [min-max] across blocks.", ""]
  if rows:
    lines.append("| model | batch | jax.jit us | " + " | ".join(keys) + " |")
    lines.append("|---|---|---|" + "---|" * len(keys))
    for r in rows:
      cells = []
      for k in keys:
        if k in r["ratios"]:
          m, lo, hi = r["ratios"][k]
          cells.append(f"{m:.2f} [{lo:.2f}-{hi:.2f}]")
        else:
          cells.append("fails")
      lines.append(f"| {r['model']} | {r['batch']} | {r['jax_jit_us']:.0f} | "
                   + " | ".join(cells) + " |")
    lines.append("")
  if conv:
    ck = [k for k in conv[0] if k != "equations"]
    lines.append("| equations | " + " | ".join(f"{k} s" for k in ck) +
                 " | ours / jax.jit | ours s per 1k eqns |")
    lines.append("|---|" + "---|" * (len(ck) + 2))
    for c in conv:
      lines.append(f"| {c['equations']} | " + " | ".join(
          f"{c[k]:.3f}" if k in c else "fails" for k in ck) +
          f" | {c['ours convert'] / c['jax.jit lower+compile']:.2f} | "
          f"{c['ours convert'] / c['equations'] * 1000:.3f} |")
    if len(conv) >= 2:
      a, b = conv[0], conv[-1]
      exp = (np.log(b["ours convert"] / a["ours convert"]) /
             np.log(b["equations"] / a["equations"]))
      lines += ["", f"Growth exponent of our conversion time between "
                f"{a['equations']} and {b['equations']} equations: {exp:.2f}."]
    lines.append("")
  return "\n".join(lines) + "\n"


def write_section(path: str, label: str, text: str) -> None:
  begin, end = f"<!-- race:{label}:begin -->", f"<!-- race:{label}:end -->"
  old = open(path).read() if os.path.exists(path) else ""
  block = f"{begin}\n{text}{end}\n"
  pattern = re.escape(begin) + r".*?" + re.escape(end) + r"\n?"
  new = (re.sub(pattern, lambda _: block, old, flags=re.S) if begin in old
         else old.rstrip("\n") + "\n\n" + block)
  with open(path, "w") as f:
    f.write(new)


def main(argv: list[str] | None = None) -> int:
  p = argparse.ArgumentParser()
  p.add_argument("--models", default=",".join(MODELS))
  p.add_argument("--batches", default="1,64")
  p.add_argument("--blocks", type=int, default=5)
  p.add_argument("--reps", type=int, default=20)
  p.add_argument("--conversion", default="1000,10000",
                 help="equation counts, comma-separated ('' for none)")
  p.add_argument("--extras", default="",
                 help="grad,tflite,savedmodel: the other rows (race_extras.py)")
  p.add_argument("--label", default="latest")
  p.add_argument("--results", default=None, help="markdown file to update")
  opts = p.parse_args(argv)
  models = [m for m in opts.models.split(",") if m]
  batches = [int(b) for b in opts.batches.split(",") if b]
  rows = race_latency(models, batches, opts.blocks, opts.reps)
  sizes = [int(n) for n in opts.conversion.split(",") if n]
  if sizes:
    warm_up_conversion()
  conv = [race_conversion(n) for n in sizes]
  extras = [e for e in opts.extras.split(",") if e]
  extra_lines: list[str] = []
  if "grad" in extras:
    extra_lines += race_extras.ratio_table(race_extras.race_gradient(
        MODELS, models, batches, opts.blocks, opts.reps),
        "Gradient step (tape over the converted function; ratio to jax.jit(jax.grad))")
  if "tflite" in extras:
    extra_lines += race_extras.ratio_table(race_extras.race_tflite(
        MODELS, models, batches, opts.blocks, opts.reps),
        "TFLite (tf.lite.Interpreter, 1 and 2 threads; ratio to jax.jit)")
  if "savedmodel" in extras:
    extra_lines += race_extras.savedmodel_table(
        race_extras.savedmodel_rows(MODELS, models))
  command = "python benchmarks/race.py " + shlex.join(
      argv if argv is not None else sys.argv[1:])
  text = markdown(rows, conv, command.strip(), opts.label, opts.blocks,
                  opts.reps) + "\n".join(extra_lines)
  print(text)
  if opts.results:
    write_section(opts.results, opts.label, text)
  return 0


if __name__ == "__main__":
  sys.exit(main())
