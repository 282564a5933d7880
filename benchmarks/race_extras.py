"""The race's other rows: gradient step, TFLite, SavedModel size and load.

Used by race.py (`--extras grad,tflite,savedmodel`); the same models and
the same side-by-side blocks (runners take turns inside a block, ratio =
runner / jax.jit in that block, median and [min-max] over blocks).

- grad: the gradient of sum(model(params, x)) with respect to params, as a
  user trains with it: `jax.jit(jax.grad(...))` against a tf.GradientTape
  over the converted function under tf.function and jit_compile, ours and
  native jax2tf's.
- tflite: the model at a fixed batch through TFLite's converter (ours:
  `jax2tf_impl.export_tflite`, builtin ops; native: TFLiteConverter on
  jax2tf.convert's graph, builtins, else with SELECT_TF_OPS), run by
  tf.lite.Interpreter with 1 and 2 threads, against jax.jit.
- savedmodel: bytes on disk and tf.saved_model.load time (plus the first
  call after loading), ours (jax2tf_impl.saved_model.save) and native.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from typing import Any, Callable, Iterator

import jax
import jax.numpy as jnp
import numpy as np
import tensorflow as tf
from jax.experimental import jax2tf

import jax2tf_impl
from jax2tf_impl import saved_model as jt_saved_model


def best_of(fn: Callable[[], Any], reps: int) -> float:
  """The fastest of `reps` calls of fn (seconds), its outputs waited for."""
  best = float("inf")
  for _ in range(reps):
    t0 = time.perf_counter()
    out = fn()
    jax.tree_util.tree_map(
        lambda o: o.block_until_ready() if hasattr(o, "block_until_ready")
        else np.asarray(o), out)
    best = min(best, time.perf_counter() - t0)
  return best


def side_by_side(runners: dict[str, Callable[[], Any]], blocks: int, reps: int,
          label: str) -> dict[str, Any]:
  """Times the runners side by side; ratios to runners['jax.jit']."""
  for k, r in list(runners.items()):
    try:
      best_of(r, 2)
    except Exception as e:  # pylint: disable=broad-except
      print(f"  {label} {k}: fails: {type(e).__name__}: {str(e)[:200]}")
      del runners[k]
  ratios: dict[str, list[float]] = {k: [] for k in runners if k != "jax.jit"}
  base = []
  for _ in range(blocks):
    times = {k: best_of(r, reps) for k, r in runners.items()}
    base.append(times["jax.jit"])
    for k in ratios:
      ratios[k].append(times[k] / times["jax.jit"])
  row = {"label": label, "jax_jit_us": statistics.median(base) * 1e6,
         "ratios": {k: (statistics.median(v), min(v), max(v))
                    for k, v in ratios.items()}}
  print(f"{label:24s} jax.jit {row['jax_jit_us']:9.1f} us  " + "  ".join(
      f"{k} {m:.2f}" for k, (m, _, _) in row["ratios"].items()), flush=True)
  return row


def _inputs(models: dict[str, Any], name: str, batch: int) -> tuple[Any, Any]:
  _, make_params, make_x = models[name]
  rng = np.random.RandomState(0)
  return make_params(rng), make_x(rng, batch).astype(np.float32)


def _cases(models: dict[str, Any], names: list[str], batches: list[int]
           ) -> Iterator[tuple[str, int, Callable[..., Any], Any, np.ndarray]]:
  """(model name, batch, fn, params, x) for every model and batch."""
  for name in names:
    for batch in batches:
      yield (name, batch, models[name][0]) + _inputs(models, name, batch)


# --- gradient step ---------------------------------------------------------------

def race_gradient(models: dict[str, Any], names: list[str], batches: list[int],
                  blocks: int, reps: int) -> list[dict[str, Any]]:
  rows = []
  for name, batch, fn, params, x in _cases(models, names, batches):
    if not jax.tree_util.tree_leaves(params):
      continue  # nothing to train (the elementwise chain)
    loss = lambda p, x, fn=fn: jnp.sum(fn(p, x))
    jitted = jax.jit(jax.grad(loss))
    jax_args = jax.device_put((params, x))
    runners: dict[str, Callable[[], Any]] = {
        "jax.jit": lambda: jitted(*jax_args)}
    tf_params = tf.nest.map_structure(tf.constant, params)
    tf_x = tf.constant(x)
    for label, conv in (("ours", jax2tf_impl.convert), ("native", jax2tf.convert)):
      converted = conv(loss)

      def step(p, x, converted=converted):
        with tf.GradientTape() as tape:
          tape.watch(p)
          y = converted(p, x)
        return tape.gradient(y, p)

      for mode, jit in (("tf.function", False), ("jit_compile", True)):
        g = tf.function(step, autograph=False, jit_compile=jit)
        runners[f"{label} {mode}"] = lambda g=g: g(tf_params, tf_x)
    rows.append(side_by_side(runners, blocks, reps, f"grad {name} b{batch}"))
  return rows


# --- TFLite ------------------------------------------------------------------------

def _tflite_native(fn: Callable[..., Any], params: Any, x: np.ndarray) -> bytes:
  f = tf.function(jax2tf.convert(lambda x: fn(params, x)), autograph=False)
  concrete = f.get_concrete_function(tf.TensorSpec(x.shape, tf.float32))
  errors = []
  for ops in ([tf.lite.OpsSet.TFLITE_BUILTINS],
              [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]):
    try:
      converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], f)
      converter.target_spec.supported_ops = ops
      return converter.convert()
    except Exception as e:  # pylint: disable=broad-except
      errors.append(f"{type(e).__name__}: {str(e).splitlines()[0][:120]}")
  raise RuntimeError("; ".join(errors))


def _tflite_runner(model: bytes, x: np.ndarray, threads: int) -> Callable[[], Any]:
  interpreter = tf.lite.Interpreter(model_content=model, num_threads=threads)
  interpreter.allocate_tensors()
  inp = interpreter.get_input_details()[0]
  if tuple(inp["shape"]) != x.shape:
    interpreter.resize_tensor_input(inp["index"], x.shape)
    interpreter.allocate_tensors()
  out = interpreter.get_output_details()[0]["index"]

  def run() -> Any:
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(out)
  return run


def race_tflite(models: dict[str, Any], names: list[str], batches: list[int],
                blocks: int, reps: int) -> list[dict[str, Any]]:
  rows = []
  for name, batch, fn, params, x in _cases(models, names, batches):
    jitted = jax.jit(lambda x, fn=fn, p=params: fn(p, x))
    xj = jax.device_put(x)
    runners: dict[str, Callable[[], Any]] = {"jax.jit": lambda: jitted(xj)}
    builders = {
        "ours": lambda: jax2tf_impl.export_tflite(
            lambda x, fn=fn, p=params: fn(p, x), [x]),
        "native": lambda: _tflite_native(fn, params, x)}
    for label, build in builders.items():
      try:
        model = build()
      except Exception as e:  # pylint: disable=broad-except
        print(f"  tflite {name} b{batch} {label}: conversion fails: "
              f"{type(e).__name__}: {str(e)[:300]}")
        continue
      for threads in (1, 2):
        runners[f"{label} TFLite {threads}t"] = _tflite_runner(model, x, threads)
    rows.append(side_by_side(runners, blocks, reps, f"tflite {name} b{batch}"))
  return rows


# --- SavedModel ----------------------------------------------------------------

def _dir_bytes(path: str) -> int:
  return sum(os.path.getsize(os.path.join(d, f))
             for d, _, files in os.walk(path) for f in files)


def savedmodel_rows(models: dict[str, Any], names: list[str],
                    loads: int = 3) -> list[dict[str, Any]]:
  rows = []
  for name in names:
    fn = models[name][0]
    params, x = _inputs(models, name, 1)
    spec = tf.TensorSpec([None] + list(x.shape[1:]), tf.float32)
    row: dict[str, Any] = {"model": name}
    for label in ("ours", "native"):
      module = tf.Module()
      if label == "ours":
        converted = jax2tf_impl.convert(lambda x, fn=fn, p=params: fn(p, x),
                                        polymorphic_shapes=["(b, ...)"])
      else:
        converted = jax2tf.convert(lambda x, fn=fn, p=params: fn(p, x),
                                   polymorphic_shapes=["(b, ...)"])
      module.f = tf.function(converted, autograph=False, input_signature=[spec])
      with tempfile.TemporaryDirectory() as d:
        try:
          if label == "ours":
            jt_saved_model.save(module, d)
          else:
            tf.saved_model.save(module, d)
        except Exception as e:  # pylint: disable=broad-except
          print(f"  savedmodel {name} {label}: save fails: {type(e).__name__}: {e}")
          continue
        row[f"{label} MB"] = _dir_bytes(d) / 1e6
        times, first = [], []
        for _ in range(loads):
          t0 = time.perf_counter()
          loaded = tf.saved_model.load(d)
          times.append(time.perf_counter() - t0)
          t0 = time.perf_counter()
          np.asarray(loaded.f(tf.constant(x)))
          first.append(time.perf_counter() - t0)
        row[f"{label} load s"] = statistics.median(times)
        row[f"{label} first call s"] = statistics.median(first)
    print("savedmodel " + "  ".join(
        f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
        for k, v in row.items()), flush=True)
    rows.append(row)
  return rows


# --- report ------------------------------------------------------------------

def ratio_table(rows: list[dict[str, Any]], title: str) -> list[str]:
  if not rows:
    return []
  keys: list[str] = []
  for r in rows:
    keys += [k for k in r["ratios"] if k not in keys]
  lines = [f"#### {title}", "", "| row | jax.jit us | " + " | ".join(keys) + " |",
           "|---|---|" + "---|" * len(keys)]
  for r in rows:
    cells = [(f"{r['ratios'][k][0]:.2f} [{r['ratios'][k][1]:.2f}-"
              f"{r['ratios'][k][2]:.2f}]") if k in r["ratios"] else "fails"
             for k in keys]
    lines.append(f"| {r['label']} | {r['jax_jit_us']:.0f} | " + " | ".join(cells) + " |")
  return lines + [""]


def savedmodel_table(rows: list[dict[str, Any]]) -> list[str]:
  if not rows:
    return []
  keys: list[str] = []
  for r in rows:
    keys += [k for k in r if k != "model" and k not in keys]
  lines = ["#### SavedModel (batch-polymorphic, median of 3 loads in this process)", "",
           "| model | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
  for r in rows:
    lines.append(f"| {r['model']} | " + " | ".join(
        f"{r[k]:.3f}" if k in r else "fails" for k in keys) + " |")
  return lines + [""]
