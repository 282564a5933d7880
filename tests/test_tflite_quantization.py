"""export_tflite(quantize=...): the TFLite converter's post-training
quantization on the model suite, run by LiteRT, against JAX.

Bounds and thresholds are measured (benchmarks/quantization_table.py, the
table in docs/deployment.md) with some margin: float16 and dynamic within a
relative error of JAX, int8 by top-1 agreement on the classifiers, sizes vs
the float32 export. Synthetic inputs only (tests/support/quant_eval.py).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax2tf_impl import export
from support import quant_eval
from support.model_zoo import MODELS_BY_NAME

pytestmark = pytest.mark.usefixtures("x64_off")

# max|tflite - jax| / max|jax| over outputs and both eval batches; measured
# (2026-12-02, TF 2.21, LiteRT 2.3) at most 7.4e-4 (float16) and 6.3e-3
# (dynamic).
REL_BOUND = {"float16": 2e-3, "dynamic": 2e-2}

# int8 top-1 agreement with JAX; measured cnn 0.92, resnet 1.00,
# transformer_lm 0.45, bilstm 0.98, gnn 1.00, actor_critic 1.00. The
# random-init transformer's logits are near ties (tied 0.1-scale
# embeddings) and its attention mask is -1e9, which takes the int8 range
# of the attention logits (-30 instead: 0.67).
INT8_TOP1 = {"cnn_bn_dropout": 0.85, "resnet": 0.9, "transformer_lm": 0.35,
             "bilstm": 0.9, "gnn": 0.9, "actor_critic": 0.9}

# Dynamic-range quantization only quantizes kernels of >= 1024 elements:
# models without one come out the same size (measured; a few metadata bytes
# differ).
_DYNAMIC_MIN_ELEMENTS = 1024

# float16 stores each weight as float16 plus a DEQUANTIZE op: the GNN's
# weights (226 floats) save less than the ops cost (measured 1.03x).
_FLOAT16_LARGER = {"gnn"}


def _largest_weight(name):
  """The largest dense/conv kernel ("w"; not embeddings or tables read by
  gather, which dynamic-range quantization leaves float)."""
  leaves = jax.tree_util.tree_leaves_with_path(MODELS_BY_NAME[name].params())
  return max(np.size(v) for path, v in leaves
             if getattr(path[-1], "key", None) == "w")


@pytest.mark.parametrize("mode", ["float16", "dynamic"])
@pytest.mark.parametrize("name", quant_eval.FLOAT_MODELS)
def test_float_modes_close_to_jax(name, mode):
  m = quant_eval.measure(name, mode)
  assert m.max_rel_error <= REL_BOUND[mode], m
  if m.top1 is not None:
    assert m.top1 == 1.0, m
  f32 = quant_eval.exported(name, None)
  if mode == "float16":
    assert (m.size > len(f32)) == (name in _FLOAT16_LARGER), m
  elif _largest_weight(name) >= _DYNAMIC_MIN_ELEMENTS:
    assert m.size < len(f32), m
  else:
    assert m.size == len(f32), m


@pytest.mark.parametrize("name", quant_eval.CLASSIFIERS)
def test_int8_top1_agreement(name):
  m = quant_eval.measure(name, "int8")
  assert m.top1 >= INT8_TOP1[name], m


@pytest.mark.parametrize("name", ["bilstm", "seq2seq_lstm"])
@pytest.mark.parametrize("mode", quant_eval.MODES)
def test_scan_stays_a_while_loop(name, mode):
  content = quant_eval.exported(name, mode)
  ops = {d["op_name"] for d in quant_eval.interpreter(content)._get_ops_details()}
  assert "WHILE" in ops, sorted(ops)


@pytest.mark.parametrize("mode", quant_eval.MODES)
def test_batch_polymorphic_after_resize(mode):
  """resnet exported with "(b, 16, 16, 3)", run at batch sizes 2 and 7 via
  resize_tensor_input + allocate_tensors."""
  name = "resnet"
  model = MODELS_BY_NAME[name]
  interp = quant_eval.interpreter(quant_eval.exported(name, mode))
  (inp,) = interp.get_input_details()
  (out,) = interp.get_output_details()
  assert list(inp["shape_signature"]) == [-1, 16, 16, 3]
  for n in (2, 7):
    (x,) = model.make_batch(n)
    interp.resize_tensor_input(inp["index"], [n, 16, 16, 3])
    interp.allocate_tensors()
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    got = interp.get_tensor(out["index"])
    want = np.asarray(jax.jit(model.fun())(x))
    assert got.shape == want.shape == (n, 5)
    rel = np.max(np.abs(got - want)) / np.max(np.abs(want))
    assert rel <= {None: 1e-5, "int8": 0.1}.get(mode, REL_BOUND.get(mode)), rel
    if mode == "int8":
      assert np.mean(got.argmax(-1) == want.argmax(-1)) >= INT8_TOP1[name]


# --- an MLP with realistic layer sizes: every mode shrinks the file ---------

# Measured (quant_eval.measure_mlp): size ratios 0.51 (float16), 0.28
# (dynamic), 0.30 (int8); top-1 0.995, 0.99, 0.98.
_MLP_MAX_RATIO = {"float16": 0.55, "dynamic": 0.33, "int8": 0.35}
_MLP_TOP1 = {"float16": 0.98, "dynamic": 0.95, "int8": 0.93}
_mlp = quant_eval.mlp
_mlp_inputs = quant_eval.mlp_inputs
_export_mlp = quant_eval.export_mlp


@pytest.mark.parametrize("mode", ["float16", "dynamic", "int8"])
def test_mlp_smaller_and_close(mode):
  m = quant_eval.measure_mlp(mode)
  assert m.size_ratio < _MLP_MAX_RATIO[mode], m
  assert m.top1 >= _MLP_TOP1[mode], m


def test_int8_io():
  """int8_io=True: int8 input and output tensors, integer kernels only."""
  content = _export_mlp("int8", int8_io=True)
  interp = quant_eval.interpreter(content)
  (inp,) = interp.get_input_details()
  (out,) = interp.get_output_details()
  assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
  ops = {d["op_name"] for d in interp._get_ops_details()}
  assert "DEQUANTIZE" not in ops, sorted(ops)
  x = _mlp_inputs(100, 200)
  scale, zero = inp["quantization"]
  q = np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
  interp.resize_tensor_input(inp["index"], list(q.shape))
  interp.allocate_tensors()
  interp.set_tensor(inp["index"], q)
  interp.invoke()
  out_scale, out_zero = out["quantization"]
  got = (interp.get_tensor(out["index"]).astype(np.float32) - out_zero) * out_scale
  want = np.asarray(jax.jit(_mlp())(x))
  assert np.mean(got.argmax(-1) == want.argmax(-1)) >= 0.93  # measured 0.98


def test_representative_data_may_be_a_callable():
  content = export.export_tflite(
      _mlp(), [_mlp_inputs(0, 1)], quantize="int8",
      representative_data=lambda: ((_mlp_inputs(s, 1),) for s in range(4)))
  ops = {d["op_name"] for d in quant_eval.interpreter(content)._get_ops_details()}
  assert "QUANTIZE" in ops and "FULLY_CONNECTED" in ops


def test_argument_errors():
  x = _mlp_inputs(0, 1)
  with pytest.raises(ValueError, match="'float16', 'dynamic', 'int8'"):
    export.export_tflite(jnp.sin, [x], quantize="fp16")
  with pytest.raises(ValueError, match="needs representative_data"):
    export.export_tflite(jnp.sin, [x], quantize="int8")
  with pytest.raises(ValueError, match="int8_io=True needs quantize='int8'"):
    export.export_tflite(jnp.sin, [x], quantize="dynamic", int8_io=True)
  with pytest.raises(ValueError, match="2 arrays, the model has 1 inputs"):
    export.export_tflite(jnp.sin, [x], quantize="int8",
                         representative_data=[(x, x)])
