"""Deployment targets on the model suite: TFLite builtins (LiteRT) and ONNX.

Each model is exported with its batch-polymorphic spec and run at two batch
sizes by the target's own runtime, against JAX.
"""
import jax
import numpy as np
import pytest
import tensorflow as tf

import jax2tf_impl
from jax2tf_impl import export
from model_zoo import MODELS

BATCHES = (1, 3)

# Known failures (also in docs/deployment.md); the portable-graphs issue
# tracks them. strict=False: a fix shows up as XPASS, not as a failure.
_THREEFRY_TFLITE = ("jax.random's threefry2x32 uses uint32 shifts/or/casts, which "
                    "are not TFLite builtin ops")
_THREEFRY_ONNX = ("iota_2x32_shape uses BitwiseAnd on uint64, which ONNX opset 17 "
                  "does not have")
_SELECT_ONNX = ("tf2onnx turns the NaN-aware max rule's SelectV2 into arithmetic "
                "(cond*a + (1-cond)*b), so max(x, -inf) in softmax gives NaN")
KNOWN_FAILURES = {
    ("tflite", "cnn_bn_dropout"): _THREEFRY_TFLITE,
    ("tflite", "vae"): _THREEFRY_TFLITE,
    ("tflite", "postproc"): ("sort's order-preserving integer keys use int Cast/"
                             "BitwiseAnd forms that are not TFLite builtins"),
    ("onnx", "cnn_bn_dropout"): _THREEFRY_ONNX,
    ("onnx", "vae"): _THREEFRY_ONNX,
    ("onnx", "postproc"): "sort keys use tf.bitcast, which tf2onnx does not convert",
    ("onnx", "transformer_lm"): _SELECT_ONNX,
    ("onnx", "actor_critic"): _SELECT_ONNX,
}


def _mark_known(request, target, model):
  reason = KNOWN_FAILURES.get((target, model.name))
  if reason:
    request.applymarker(pytest.mark.xfail(reason=reason, strict=False))


@pytest.fixture(autouse=True)
def _x64_off():
  """Deployment runs as users run: JAX's default 32-bit mode."""
  with jax.enable_x64(False):
    yield


def _jax_outputs(model, inputs):
  return [np.asarray(x) for x in jax.tree_util.tree_leaves(jax.jit(model.fun())(*inputs))]


def _tflite_interpreter(content):
  try:
    from ai_edge_litert.interpreter import Interpreter
  except ImportError:
    Interpreter = tf.lite.Interpreter
  return Interpreter(model_content=content)


def _run_tflite(content, inputs):
  interp = _tflite_interpreter(content)
  runner = interp.get_signature_runner()
  in_names = sorted(runner.get_input_details(),
                    key=lambda n: int(n.rsplit("_", 1)[-1]) if n[-1].isdigit() else 0)
  feed = {}
  for name, x in zip(in_names, inputs):
    feed[name] = x
  outs = runner(**feed)
  keys = sorted(outs, key=lambda n: int(n.rsplit("_", 1)[-1]))
  return [outs[k] for k in keys]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_tflite_builtins(request, model):
  _mark_known(request, "tflite", model)
  example = model.make_batch(BATCHES[0])
  content = export.export_tflite(model.fun(), example,
                                 polymorphic_shapes=list(model.batch_spec))
  for n in BATCHES:
    inputs = model.make_batch(n)
    got = _run_tflite(content, inputs)
    expected = _jax_outputs(model, inputs)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
      assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, e.shape, g.dtype, e.dtype)
      np.testing.assert_allclose(g, e, rtol=model.rtol, atol=model.rtol)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_onnx(request, model):
  _mark_known(request, "onnx", model)
  ort = pytest.importorskip("onnxruntime", reason="optional extra 'onnx' not installed")
  pytest.importorskip("tf2onnx", reason="optional extra 'onnx' not installed")
  example = model.make_batch(BATCHES[0])
  proto = export.export_onnx(model.fun(), example,
                             polymorphic_shapes=list(model.batch_spec))
  session = ort.InferenceSession(proto.SerializeToString(),
                                 providers=["CPUExecutionProvider"])
  names = [i.name for i in session.get_inputs()]
  for n in BATCHES:
    inputs = model.make_batch(n)
    got = session.run(None, {name: np.asarray(x) for name, x in zip(names, inputs)})
    expected = _jax_outputs(model, inputs)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
      assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, e.shape, g.dtype, e.dtype)
      np.testing.assert_allclose(g, e, rtol=model.rtol, atol=model.rtol)
