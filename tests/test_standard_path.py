"""The standard path on the model suite: the default convert() graph
(enable_xla=True) handed to the plain TFLiteConverter and tf2onnx, as
tutorials do it, without jax2tf_impl.export (tests/support/standard_path.py).

Each model converts once and runs at two batch sizes in the target's own
runtime; outputs must match jax.jit within the model's tolerance. What does
not convert yet is a known failure with its measured reason, listed in
docs/deployment.md ("The standard path").
"""
import numpy as np
import pytest

from support import standard_path
from support.model_zoo import MODELS
from support.tf_testing import jax_outputs, mark_known_failure

BATCHES = (1, 3)

KNOWN_FAILURES: dict = {}

# ONNX at opset 18, the first with BitwiseXor (threefry's xor; tf2onnx's
# default opset 15 emits it anyway and onnxruntime refuses the model, naming
# BitwiseXor), as docs/deployment.md tells tf2onnx users of jax.random.
ONNX_OPSET = 18
RUNNERS = {"tflite": standard_path.plain_tflite,
           "onnx": lambda model: standard_path.plain_onnx(model, ONNX_OPSET)}

pytestmark = pytest.mark.usefixtures("x64_off")


@pytest.mark.parametrize("target", sorted(RUNNERS))
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_default_graph_through_the_plain_converter(request, model, target):
  mark_known_failure(request, KNOWN_FAILURES, (target, model.name))
  if target == "onnx":
    pytest.importorskip("tf2onnx", reason="optional extra 'onnx' not installed")
    pytest.importorskip("onnxruntime", reason="optional extra 'onnx' not installed")
  run = RUNNERS[target](model)
  batches = [model.make_batch(n) for n in BATCHES]
  _assert_matches_jax(model, batches, [run(inputs) for inputs in batches])


def _assert_matches_jax(model, batches, outputs) -> None:
  assert batches and len(outputs) == len(batches), (len(batches), len(outputs))
  for inputs, got in zip(batches, outputs):
    want = jax_outputs(model.fun(), *inputs)
    assert len(got) == len(want)
    for g, w in zip(got, want):
      assert g.shape == w.shape, (g.shape, w.shape)
      np.testing.assert_allclose(g, w, rtol=model.rtol, atol=model.rtol,
                                 err_msg=f"batch {np.shape(inputs[0])}")


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_default_saved_model_serves_with_xla_compilation_disabled(model, tmp_path):
  """TF Serving's default (no --xla_cpu_compilation_enabled): the default
  graph must need no XLA, jax.random's samplers included."""
  batches = [model.make_batch(n) for n in BATCHES]
  outputs = standard_path.serve_without_xla(model, batches, str(tmp_path))
  _assert_matches_jax(model, batches, outputs)
