"""TFLite post-training quantization of the model suite, measured against JAX.

Shared by tests/test_tflite_quantization.py and
benchmarks/quantization_table.py (the table of docs/deployment.md), so the
documented numbers are the tested ones. Inputs are the model suite's own
synthetic inputs (random, seeded by the batch size): calibration on batch
sizes 2..5, evaluation on other seeds and sizes (9 and 16; 12 graphs for
the GNN). Call in JAX's 32-bit mode (as deployment runs).
"""
from __future__ import annotations

import dataclasses
import functools
import re
from typing import Any

import jax
import numpy as np

from jax2tf_impl import export
from support.model_zoo import MODELS_BY_NAME

MODES = (None, "float16", "dynamic", "int8")

# Models with class scores in their first output (top-1 = argmax over the
# last axis): log-softmax (cnn), logits (resnet, transformer per token,
# bilstm per step, gnn per graph), a policy's softmax (actor_critic).
CLASSIFIERS = ("cnn_bn_dropout", "resnet", "transformer_lm", "bilstm", "gnn",
               "actor_critic")
# Float outputs that are not class scores: sequences, reconstructions and
# ELBOs, images. postproc is left out: no weights, integer outputs.
REGRESSORS = ("seq2seq_lstm", "vae", "unet")
FLOAT_MODELS = CLASSIFIERS + REGRESSORS

CALIBRATION_SIZES = (2, 3, 4, 5)
EVAL_SIZES = (9, 16)
GNN_EVAL_SIZES = tuple(range(6, 18))  # one graph (one prediction) each


def interpreter(content: bytes) -> Any:
  try:
    from ai_edge_litert.interpreter import Interpreter  # pylint: disable=g-import-not-at-top
  except ImportError:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    Interpreter = tf.lite.Interpreter
  return Interpreter(model_content=content)


def _output_order(name: str) -> tuple:
  m = re.fullmatch(r"output_(\d+)", name)
  return (0, int(m.group(1)), "") if m else (1, 0, name)


def _input_order(name: str) -> tuple:
  """args_0, args_1, args_1_1, ...: the signature's flat input order."""
  return tuple(int(p) for p in name.split("_")[1:])


def run_tflite(content: bytes, inputs: tuple) -> list[np.ndarray]:
  """Runs with the signature runner (which resizes dynamic inputs)."""
  runner = interpreter(content).get_signature_runner()
  names = sorted(runner.get_input_details(), key=_input_order)
  outs = runner(**dict(zip(names, inputs)))
  return [outs[k] for k in sorted(outs, key=_output_order)]


def calibration_data(name: str) -> list[tuple]:
  return [MODELS_BY_NAME[name].make_batch(n) for n in CALIBRATION_SIZES]


def eval_inputs(name: str) -> list[tuple]:
  sizes = GNN_EVAL_SIZES if name == "gnn" else EVAL_SIZES
  return [MODELS_BY_NAME[name].make_batch(n) for n in sizes]


@functools.cache
def exported(name: str, mode: str | None) -> bytes:
  """The batch-polymorphic TFLite model of `name` in quantize `mode`."""
  model = MODELS_BY_NAME[name]
  return export.export_tflite(
      model.fun(), model.make_batch(1),
      polymorphic_shapes=list(model.batch_spec), quantize=mode,
      representative_data=calibration_data(name) if mode == "int8" else None)


@functools.cache
def _jax_outputs(name: str) -> list[list[np.ndarray]]:
  fun = jax.jit(MODELS_BY_NAME[name].fun())
  return [[np.asarray(o) for o in jax.tree_util.tree_leaves(fun(*inputs))]
          for inputs in eval_inputs(name)]


@dataclasses.dataclass
class Measurement:
  size: int                 # flatbuffer bytes
  size_ratio: float         # vs the float32 export
  max_rel_error: float      # max over outputs of max|tflite - jax| / max|jax|
  top1: float | None        # classifiers: argmax agreement of output 0


def measure(name: str, mode: str | None) -> Measurement:
  content = exported(name, mode)
  rel = 0.0
  agree = []
  for inputs, want in zip(eval_inputs(name), _jax_outputs(name)):
    got = run_tflite(content, inputs)
    assert len(got) == len(want), (name, mode, len(got), len(want))
    for g, w in zip(got, want):
      assert g.shape == w.shape and g.dtype == w.dtype, (name, mode, g.shape,
                                                         w.shape, g.dtype)
      scale = float(np.max(np.abs(w)))
      err = float(np.max(np.abs(g.astype(np.float64) - w)))
      rel = max(rel, err / scale if scale else err)
    agree.append((np.argmax(got[0], -1) == np.argmax(want[0], -1)).reshape(-1))
  top1 = float(np.mean(np.concatenate(agree))) if name in CLASSIFIERS else None
  return Measurement(len(content), len(content) / len(exported(name, None)),
                     rel, top1)


# --- an MLP with realistic layer sizes (64-256-256-10): the zoo's models
# are too small for quantization to shrink them much --------------------------

def mlp() -> Any:
  rng = np.random.RandomState(0)
  sizes = (64, 256, 256, 10)
  params = [((rng.randn(a, b) / np.sqrt(a)).astype(np.float32),
             (rng.randn(b) * 0.01).astype(np.float32))
            for a, b in zip(sizes[:-1], sizes[1:])]

  def apply(x):
    for i, (w, b) in enumerate(params):
      x = x @ w + b
      if i < len(params) - 1:
        x = jax.nn.relu(x)
    return x
  return apply


def mlp_inputs(seed: int, n: int) -> np.ndarray:
  return np.random.RandomState(seed).randn(n, 64).astype(np.float32)


def export_mlp(mode: str | None, **kw: Any) -> bytes:
  """Calibrated on 8 batches of 8 (seeds 0..7)."""
  calib = [(mlp_inputs(s, 8),) for s in range(8)] if mode == "int8" else None
  return export.export_tflite(mlp(), [mlp_inputs(0, 1)],
                              polymorphic_shapes=["(b, 64)"], quantize=mode,
                              representative_data=calib, **kw)


def measure_mlp(mode: str | None) -> Measurement:
  """On 200 inputs of seed 100."""
  x = mlp_inputs(100, 200)
  want = np.asarray(jax.jit(mlp())(x))
  content = export_mlp(mode)
  (got,) = run_tflite(content, (x,))
  rel = float(np.max(np.abs(got - want)) / np.max(np.abs(want)))
  top1 = float(np.mean(got.argmax(-1) == want.argmax(-1)))
  return Measurement(len(content), len(content) / len(export_mlp(None)), rel,
                     top1)
