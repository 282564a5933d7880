"""TFLite / LiteRT export: builtin ops only by default.

The JAX function is converted with `enable_xla=False` (no Xla* op); the
TFLite converter gets the concrete function of a tf.function whose input
signature has None wherever `polymorphic_shapes` names a dimension variable.
`quantize` selects one of the converter's own post-training quantization
modes (docs/deployment.md, "Quantization").
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence, Union

import numpy as np
import tensorflow as tf
from jax import tree_util

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


QUANTIZE_MODES = (None, "float16", "dynamic", "int8")

# One calibration sample is a tuple of positional arguments (pytrees of
# arrays), as for `fun` itself.
RepresentativeData = Union[Iterable[Sequence[Any]],
                           Callable[[], Iterable[Sequence[Any]]]]


def _check_quantize(quantize: str | None, representative_data: Any,
                    int8_io: bool) -> None:
  if quantize not in QUANTIZE_MODES:
    raise ValueError(f"export_tflite: quantize={quantize!r}; allowed values: "
                     + ", ".join(repr(m) for m in QUANTIZE_MODES))
  if quantize == "int8" and representative_data is None:
    raise ValueError(
        "export_tflite: quantize='int8' needs representative_data (an "
        "iterable, or a callable returning one, of argument tuples): the "
        "converter calibrates activation ranges by running them")
  if int8_io and quantize != "int8":
    raise ValueError("export_tflite: int8_io=True needs quantize='int8'")


def _representative_dataset(data: RepresentativeData, input_names: list[str]
                            ) -> Callable[[], Iterable[dict[str, np.ndarray]]]:
  """The converter's representative_dataset: a generator function yielding
  each sample as {signature input name: array}. Not a list: a list is fed
  in the flatbuffer's input tensor order, which is not the signature's
  (a model with three inputs had them as args_1_1, args_0, args_1)."""
  def gen() -> Iterable[dict[str, np.ndarray]]:
    for sample in (data() if callable(data) else data):
      leaves = tree_util.tree_leaves(tuple(sample))
      if len(leaves) != len(input_names):
        raise ValueError(
            f"export_tflite: a representative_data sample has {len(leaves)} "
            f"arrays, the model has {len(input_names)} inputs")
      yield {name: np.asarray(leaf) for name, leaf in zip(input_names, leaves)}
  return gen


def _apply_quantization(converter: Any, quantize: str | None,
                        representative_data: RepresentativeData | None,
                        int8_io: bool, input_names: list[str]) -> None:
  """The TFLite converter's own post-training quantization (no quantizer of
  ours: the converter knows which kernels have quantized forms)."""
  if quantize is None:
    return
  # Optimize.DEFAULT is the switch for every post-training mode; what it
  # does is decided by supported_types and representative_dataset.
  converter.optimizations = [tf.lite.Optimize.DEFAULT]
  if quantize == "float16":
    # Weights stored as float16 (half size), dequantized to float32 when
    # the model loads: float32 accuracy of the compute, runs everywhere
    # (a GPU delegate may compute in float16 directly).
    converter.target_spec.supported_types = [tf.float16]
  elif quantize == "int8":
    # Full integer quantization: activation ranges calibrated on the
    # representative data. By default an op without an int8 kernel stays
    # float (the converter inserts (de)quantize ops) and inputs/outputs
    # stay float, so the model has the same signature as the float one.
    converter.representative_dataset = _representative_dataset(
        representative_data, input_names)
    if int8_io:
      # For integer-only hardware (Edge TPU, microcontrollers): every op
      # must have an int8 kernel (conversion fails otherwise) and float
      # inputs/outputs become int8 (use the tensors' quantization
      # parameters to (de)quantize).
      select = [s for s in converter.target_spec.supported_ops
                if s == tf.lite.OpsSet.SELECT_TF_OPS]
      converter.target_spec.supported_ops = [
          tf.lite.OpsSet.TFLITE_BUILTINS_INT8] + select
      converter.inference_input_type = tf.int8
      converter.inference_output_type = tf.int8
  # "dynamic": Optimize.DEFAULT alone: weights stored as int8 with a scale
  # per channel, activations quantized on the fly where a kernel supports
  # it (fully connected, conv, LSTM); no calibration data needed.


def export_tflite(fun: Callable[..., Any], example_args: Sequence[Any], *,
                  polymorphic_shapes: Sequence[Any] | None = None,
                  allow_select_tf_ops: bool = False,
                  optimizations: Sequence[Any] = (),
                  quantize: str | None = None,
                  representative_data: RepresentativeData | None = None,
                  int8_io: bool = False) -> bytes:
  """The TFLite flatbuffer of `fun`, with builtin ops only by default.

  Batch-polymorphic inputs become dimensions of size 1 with a dynamic
  shape signature: call `interpreter.resize_tensor_input` before running.

  `quantize` picks one of the TFLite converter's post-training modes:
  None (float32), "float16" (float16 weights), "dynamic" (int8 weights,
  dynamic-range activations) or "int8" (int8 weights and activations,
  calibrated on `representative_data`: an iterable, or a callable returning
  one, of argument tuples like `example_args`; required). With "int8",
  `int8_io=True` also makes float inputs/outputs int8 and requires an int8
  kernel for every op (integer-only accelerators). `quantize` replaces
  `optimizations`; giving both is an error.
  """
  _check_quantize(quantize, representative_data, int8_io)
  if quantize is not None and optimizations:
    raise ValueError("export_tflite: give quantize or optimizations, not both")
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
  # The signature's input names, in the flat order of `signature`
  # (TFLite names them after the concrete function's placeholders).
  n_inputs = len(tf.nest.flatten(signature))
  input_names = [t.name.split(":")[0] for t in concrete.inputs[:n_inputs]]
  _apply_quantization(converter, quantize, representative_data, int8_io,
                      input_names)
  return converter.convert()
