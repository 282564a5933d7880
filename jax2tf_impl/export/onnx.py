"""ONNX export via tf2onnx, with the work-arounds of tf2onnx_rewrites.py.

The JAX function is converted with `enable_xla=False` (no Xla* op), as a
tf.function over flat inputs input_0, input_1, ... whose signature has None
wherever `polymorphic_shapes` names a dimension variable.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from jax2tf_impl.export import signatures
from jax2tf_impl.export import tf2onnx_rewrites

# The first opset with BitwiseXor/And/Or (jax.random's threefry needs xor)
# and ScatterND(reduction='add').
DEFAULT_OPSET = 18


def export_onnx(fun: Callable[..., Any], example_args: Sequence[Any], *,
                polymorphic_shapes: Sequence[Any] | None = None,
                opset: int = DEFAULT_OPSET,
                output_path: str | None = None) -> Any:
  """The ONNX ModelProto of `fun` (via tf2onnx); optionally written to a file."""
  try:
    import tf2onnx  # pylint: disable=g-import-not-at-top
  except ImportError as e:  # pragma: no cover - depends on the extra
    raise ImportError("export_onnx needs tf2onnx: pip install "
                      "'jax2tf_impl[onnx]'") from e
  tf_fn, flat_signature, _ = signatures.flat_serving_function(
      fun, example_args, polymorphic_shapes, enable_xla=False,
      named_outputs=False)
  model, _ = tf2onnx.convert.from_function(
      tf_fn, input_signature=flat_signature, opset=opset,
      custom_rewriter=tf2onnx_rewrites.TF2ONNX_REWRITERS,
      output_path=output_path)
  tf2onnx_rewrites.check_all_converted(model, opset)
  tf2onnx_rewrites.fix_model(model)
  if output_path is not None:
    with open(output_path, "wb") as f:
      f.write(model.SerializeToString())
  return model
