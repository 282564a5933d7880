"""TFLite / LiteRT export: builtin ops only by default.

The JAX function is converted with `enable_xla=False` (no Xla* op); the
TFLite converter gets the concrete function of a tf.function whose input
signature has None wherever `polymorphic_shapes` names a dimension variable.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import tensorflow as tf

from jax2tf_impl.api import convert
from jax2tf_impl.export import signatures


def _is_nested(outputs: Any) -> bool:
  if isinstance(outputs, dict):
    items = list(outputs.values())
  elif isinstance(outputs, (list, tuple)):
    items = list(outputs)
  else:
    return False
  return any(isinstance(v, (dict, list, tuple)) for v in items)


def export_tflite(fun: Callable[..., Any], example_args: Sequence[Any], *,
                  polymorphic_shapes: Sequence[Any] | None = None,
                  allow_select_tf_ops: bool = False,
                  optimizations: Sequence[Any] = ()) -> bytes:
  """The TFLite flatbuffer of `fun`, with builtin ops only by default.

  Batch-polymorphic inputs become dimensions of size 1 with a dynamic
  shape signature: call `interpreter.resize_tensor_input` before running.
  """
  converted = convert(fun, polymorphic_shapes=polymorphic_shapes,
                      with_gradient=True, enable_xla=False)
  signature = signatures.input_signature(example_args, polymorphic_shapes)
  concrete = tf.function(converted, autograph=False,
                         input_signature=signature).get_concrete_function()
  if _is_nested(concrete.structured_outputs):
    # TFLite signatures name flat outputs only (output_i, or dict keys);
    # nested results come out as output_0, output_1, ... in JAX's
    # tree-flatten order.
    concrete = tf.function(lambda *a: tf.nest.flatten(converted(*a)),
                           autograph=False,
                           input_signature=signature).get_concrete_function()
  converter = tf.lite.TFLiteConverter.from_concrete_functions(
      [concrete], converted)
  ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
  if allow_select_tf_ops:
    ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
  converter.target_spec.supported_ops = ops
  converter.optimizations = list(optimizations)
  return converter.convert()
