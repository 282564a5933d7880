"""Input signatures and flat serving functions shared by every export target.

Deployment converters (TFLite, tf2onnx, the TF.js converter, TF Serving)
want a `tf.function` with a fixed input signature whose inputs and outputs
are flat and named. `input_signature` builds the TensorSpecs from example
arguments and the same `polymorphic_shapes` the user gives `convert`
(parsed by JAX's own parser, as `convert` parses it): a dimension that is a
variable becomes None, every other dimension stays static.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf
from jax import export as jax_export
from jax import tree_util

from jax2tf_impl import shapes
from jax2tf_impl.api import ConvertedFunction, convert


def input_signature(example_args: Sequence[Any],
                    polymorphic_shapes: Sequence[Any] | None) -> list[Any]:
  """TensorSpecs for `example_args` (a pytree per positional argument),
  None where the argument's polymorphic shape has a dimension variable."""
  example_args = tuple(example_args)
  leaves, in_tree = tree_util.tree_flatten(example_args)
  specs = shapes.parse_specs(polymorphic_shapes, example_args,
                             [""] * len(leaves), in_tree)
  tensor_specs = []
  for leaf, spec in zip(leaves, specs):
    arr = np.asarray(leaf)
    shape: list[int | None] = list(arr.shape)
    if spec is not None:
      dims = jax_export.symbolic_shape(spec, like=tuple(arr.shape))
      shape = [None if shapes.is_symbolic(d) else int(d) for d in dims]
    tensor_specs.append(tf.TensorSpec(shape, tf.as_dtype(arr.dtype)))
  return list(tree_util.tree_unflatten(in_tree, tensor_specs))


def input_name(i: int) -> str:
  """The name of flat input i in exported signatures."""
  return f"input_{i}"


def output_name(i: int) -> str:
  """The name of flat output i in exported signatures."""
  return f"output_{i}"


def flat_serving_function(fun: Callable[..., Any], example_args: Sequence[Any],
                          polymorphic_shapes: Sequence[Any] | None, *,
                          enable_xla: bool, named_outputs: bool
                          ) -> tuple[tf.types.experimental.PolymorphicFunction,
                                     list[tf.TensorSpec], ConvertedFunction]:
  """`fun` converted, as a tf.function over flat inputs input_0, input_1, ...
  (JAX's tree-flatten order of the arguments), returning its flat results:
  a dict {output_i: ...} if `named_outputs`, else a list.

  Returns (tf.function, its flat input signature, the ConvertedFunction,
  which tracks the constant variables a SavedModel must store).
  """
  converted = convert(fun, polymorphic_shapes=polymorphic_shapes,
                      with_gradient=True, enable_xla=enable_xla)
  signature = input_signature(example_args, polymorphic_shapes)
  in_tree = tree_util.tree_structure(signature)
  flat_signature = [tf.TensorSpec(s.shape, s.dtype, name=input_name(i))
                    for i, s in enumerate(tree_util.tree_leaves(signature))]

  def flat_fn(*flat: tf.Tensor) -> Any:
    outs = tf.nest.flatten(converted(*tree_util.tree_unflatten(in_tree, flat)))
    if named_outputs:
      return {output_name(i): o for i, o in enumerate(outs)}
    return outs

  fn = tf.function(flat_fn, autograph=False, input_signature=flat_signature)
  return fn, flat_signature, converted
