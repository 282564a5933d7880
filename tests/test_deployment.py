"""Deployment targets on the model suite: TFLite builtins (LiteRT) and ONNX.

Each model is exported with its batch-polymorphic spec and run at two batch
sizes by the target's own runtime, against JAX.
"""
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf
from jax import lax

from jax2tf_impl import export
from support.model_zoo import MODELS
from support.tf_testing import jax_outputs, mark_known_failure

BATCHES = (1, 3)

# Known failures (also in docs/deployment.md), as (target, model name) ->
# reason; marked xfail(strict=False) so that a fix shows up as XPASS. Empty
# since the portable forms of threefry, bit ops, sort keys, erf_inv and
# log1p (2026-11-24).
KNOWN_FAILURES: dict[tuple[str, str], str] = {}


def _mark_known(request, target, model):
  mark_known_failure(request, KNOWN_FAILURES, (target, model.name))


# Deployment targets run as users run them: JAX's default 32-bit mode.
pytestmark = pytest.mark.usefixtures("x64_off")


def _tflite_interpreter(content):
  try:
    from ai_edge_litert.interpreter import Interpreter
  except ImportError:
    Interpreter = tf.lite.Interpreter
  return Interpreter(model_content=content)


def _output_order(name):
  """Signature outputs are output_0, output_1, ... for sequences and the
  keys for dicts (which JAX flattens in sorted key order)."""
  m = re.fullmatch(r"output_(\d+)", name)
  return (0, int(m.group(1)), "") if m else (1, 0, name)


def _run_tflite(content, inputs):
  interp = _tflite_interpreter(content)
  runner = interp.get_signature_runner()
  in_names = sorted(runner.get_input_details(),
                    key=lambda n: int(n.rsplit("_", 1)[-1]) if n[-1].isdigit() else 0)
  feed = {}
  for name, x in zip(in_names, inputs):
    feed[name] = x
  outs = runner(**feed)
  keys = sorted(outs, key=_output_order)
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
    expected = jax_outputs(model.fun(), *inputs)
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
    expected = jax_outputs(model.fun(), *inputs)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
      assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, e.shape, g.dtype, e.dtype)
      np.testing.assert_allclose(g, e, rtol=model.rtol, atol=model.rtol)


def _int_sort_fn(v):
  return jnp.sort(v, axis=-1), jnp.argsort(v, axis=-1), lax.top_k(v, 3)


_INT_SORT_INPUTS = [
    np.array([[5, 1, 2, 16777217, 16777216, 0xFFFFFFF0, 7]], np.uint32),
    np.array([[16777217, 16777216, -5, 3, -16777217, -16777216]], np.int32),
]


@pytest.mark.parametrize("x", _INT_SORT_INPUTS, ids=lambda x: x.dtype.name)
def test_onnx_integer_sort_exact(x):
  """tf2onnx casts TopK inputs to float32, which merges integers above 2**24;
  export_onnx undoes that cast."""
  ort = pytest.importorskip("onnxruntime", reason="optional extra 'onnx' not installed")
  pytest.importorskip("tf2onnx", reason="optional extra 'onnx' not installed")
  proto = export.export_onnx(_int_sort_fn, [x])
  session = ort.InferenceSession(proto.SerializeToString(),
                                 providers=["CPUExecutionProvider"])
  got = session.run(None, {"input_0": x})
  want = jax_outputs(_int_sort_fn, x)
  for g, w in zip(got, want):
    np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("x", _INT_SORT_INPUTS, ids=lambda x: x.dtype.name)
def test_tflite_integer_sort_exact(x):
  got = _run_tflite(export.export_tflite(_int_sort_fn, [x]), [x])
  for g, w in zip(got, jax_outputs(_int_sort_fn, x)):
    np.testing.assert_array_equal(g, w)


def _special_fn(x):
  return (lax.erf(x), jnp.arctan(x), jnp.arcsin(x / 4), jnp.arccos(x / 4),
          lax.erf_inv(x / 4), jnp.log1p(jnp.abs(x)), jax.nn.gelu(x, False),
          lax.rem(x, np.float32(0.7)), jnp.remainder(x, np.float32(0.7)),
          lax.lgamma(x))


def test_special_functions_tflite_and_onnx():
  """erf, erfc (exact GELU), erf_inv, atan, asin, acos, log1p, lgamma and float rem,
  which TFLite/tf2onnx lack as ops, run in both runtimes with float32
  accuracy."""
  x = np.linspace(-3.9, 3.9, 101).astype(np.float32).reshape(1, -1)
  want = jax_outputs(_special_fn, x)
  # lgamma (last): Lanczos in float32, within 3e-6 like JAX's own.
  atols = [5e-7] * (len(want) - 1) + [3e-6]
  got = _run_tflite(export.export_tflite(_special_fn, [x]), [x])
  for g, w, atol in zip(got, want, atols):
    np.testing.assert_allclose(g, w, rtol=2e-6, atol=atol)
  ort = pytest.importorskip("onnxruntime", reason="optional extra 'onnx' not installed")
  proto = export.export_onnx(_special_fn, [x])
  session = ort.InferenceSession(proto.SerializeToString(),
                                 providers=["CPUExecutionProvider"])
  for g, w, atol in zip(session.run(None, {"input_0": x}), want, atols):
    np.testing.assert_allclose(g, w, rtol=2e-6, atol=atol)


@pytest.mark.parametrize("name", ["bilstm", "seq2seq_lstm"])
def test_tflite_scan_stays_a_while_loop(name):
  """lax.scan becomes a TFLite WHILE (not unrolled, not a Flex op)."""
  from support.model_zoo import MODELS_BY_NAME  # pylint: disable=g-import-not-at-top
  model = MODELS_BY_NAME[name]
  content = export.export_tflite(model.fun(), model.make_batch(1),
                                 polymorphic_shapes=list(model.batch_spec))
  ops = {d["op_name"] for d in _tflite_interpreter(content)._get_ops_details()}
  assert "WHILE" in ops, sorted(ops)
