"""One-call exports to deployment formats: TFLite/LiteRT and ONNX.

Both convert the JAX function with `enable_xla=False` (so the graph holds no
Xla* op), build a `tf.function` whose input signature has `None` wherever
`polymorphic_shapes` names a dimension variable, and hand its concrete
function to the target's converter.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf
from jax import tree_util

from jax2tf_impl.api import ConvertedFunction, convert


def _input_signature(example_args: Sequence[Any],
                     polymorphic_shapes: Sequence[Any] | None) -> list[Any]:
  """TensorSpecs for `example_args`, None where a spec has a variable."""
  specs = (list(polymorphic_shapes) if polymorphic_shapes is not None
           else [None] * len(example_args))
  if len(specs) != len(example_args):
    raise ValueError("polymorphic_shapes needs one entry per argument")
  signature = []
  for arg, spec in zip(example_args, specs):
    leaves, tree = tree_util.tree_flatten(arg)
    spec_leaves = (tree_util.tree_leaves(spec, is_leaf=lambda x: x is None)
                   if not isinstance(spec, (str, type(None))) else
                   [spec] * len(leaves))
    leaf_specs = []
    for leaf, s in zip(leaves, spec_leaves):
      leaf = np.asarray(leaf)
      shape = list(leaf.shape)
      if isinstance(s, str):
        dims = [d.strip() for d in s.strip().strip("()").split(",") if d.strip()]
        if dims and dims[-1] == "...":
          dims = dims[:-1] + ["_"] * (len(shape) - len(dims) + 1)
        shape = [size if (d == "_" or re.fullmatch(r"\d+", d)) else None
                 for d, size in zip(dims, shape)]
      leaf_specs.append(tf.TensorSpec(shape, tf.as_dtype(leaf.dtype)))
    signature.append(tree_util.tree_unflatten(tree, leaf_specs))
  return signature


def _concrete(fun: Callable[..., Any], example_args: Sequence[Any],
              polymorphic_shapes: Sequence[Any] | None, enable_xla: bool
              ) -> tuple[Any, ConvertedFunction]:
  converted = convert(fun, polymorphic_shapes=polymorphic_shapes,
                      with_gradient=True, enable_xla=enable_xla)
  signature = _input_signature(example_args, polymorphic_shapes)
  concrete = tf.function(converted, autograph=False,
                         input_signature=signature).get_concrete_function()
  if _is_nested(concrete.structured_outputs):
    # TFLite signatures name flat outputs only (output_i, or dict keys);
    # nested results come out as output_0, output_1, ... in JAX's
    # tree-flatten order.
    concrete = tf.function(lambda *a: tf.nest.flatten(converted(*a)),
                           autograph=False,
                           input_signature=signature).get_concrete_function()
  return concrete, converted


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
  concrete, converted = _concrete(fun, example_args, polymorphic_shapes,
                                  enable_xla=False)
  converter = tf.lite.TFLiteConverter.from_concrete_functions(
      [concrete], converted)
  ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
  if allow_select_tf_ops:
    ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
  converter.target_spec.supported_ops = ops
  converter.optimizations = list(optimizations)
  return converter.convert()


def _selects_stay_selects(graph: Any, ops: list[Any]) -> list[Any]:
  """tf2onnx rewriter: keep every Select/SelectV2 an ONNX Where.

  tf2onnx otherwise turns float selects into cond*x + (1-cond)*y, which is
  NaN wherever the branch not taken is infinite (e.g. max(x, -inf) in a
  softmax). Its own escape hatch is the node attribute `handles_nan`.
  """
  del graph
  for op in ops:
    if op.type in ("Select", "SelectV2"):
      op.set_attr("handles_nan", True)
  return ops


def _scatter_nd_sums_duplicates(graph: Any, ops: list[Any]) -> list[Any]:
  """tf2onnx rewriter: TF's ScatterNd sums duplicate indices, but tf2onnx
  maps it to an ONNX ScatterND without reduction (last write wins). Rewrite
  it as TensorScatterAdd into zeros, which tf2onnx maps to
  ScatterND(reduction='add')."""
  from onnx import helper  # pylint: disable=g-import-not-at-top
  from onnx import TensorProto  # pylint: disable=g-import-not-at-top
  for op in list(ops):
    if op.type != "ScatterNd":
      continue
    indices, updates, shape = op.input
    shape64 = graph.make_node("Cast", [shape], attr={"to": TensorProto.INT64})
    zero = helper.make_tensor("value", graph.get_dtype(updates), dims=[1],
                              vals=[0])
    zeros = graph.make_node("ConstantOfShape", [shape64.output[0]],
                            attr={"value": zero},
                            dtypes=[graph.get_dtype(updates)],
                            shapes=[graph.get_shape(op.output[0])])
    op.type = "TensorScatterAdd"
    graph.replace_inputs(op, [zeros.output[0], indices, updates])
  return graph.get_nodes()


def export_onnx(fun: Callable[..., Any], example_args: Sequence[Any], *,
                polymorphic_shapes: Sequence[Any] | None = None,
                opset: int = 18, output_path: str | None = None) -> Any:
  """The ONNX ModelProto of `fun` (via tf2onnx); optionally written to a file.

  Opset 18 is the first with BitwiseXor/And/Or (jax.random needs xor).
  """
  try:
    import tf2onnx  # pylint: disable=g-import-not-at-top
  except ImportError as e:  # pragma: no cover - depends on the extra
    raise ImportError("export_onnx needs tf2onnx: pip install "
                      "'jax2tf_impl[onnx]'") from e
  converted = convert(fun, polymorphic_shapes=polymorphic_shapes,
                      with_gradient=True, enable_xla=False)
  signature = _input_signature(example_args, polymorphic_shapes)
  flat_signature = tree_util.tree_leaves(signature)
  names = [f"input_{i}" for i in range(len(flat_signature))]
  flat_signature = [tf.TensorSpec(s.shape, s.dtype, name=n)
                    for s, n in zip(flat_signature, names)]
  in_tree = tree_util.tree_structure(signature)

  def flat_fn(*flat):
    out = converted(*tree_util.tree_unflatten(in_tree, flat))
    return tf.nest.flatten(out)

  tf_fn = tf.function(flat_fn, autograph=False, input_signature=flat_signature)
  model, _ = tf2onnx.convert.from_function(
      tf_fn, input_signature=flat_signature, opset=opset,
      custom_rewriter=[_selects_stay_selects, _scatter_nd_sums_duplicates], output_path=output_path)
  _check_all_converted(model, opset)
  _integer_top_k_without_float_cast(model)
  if output_path is not None:
    with open(output_path, "wb") as f:
      f.write(model.SerializeToString())
  return model


def _integer_top_k_without_float_cast(model: Any) -> None:
  """Undo tf2onnx's cast of integer TopK inputs to float32, in place.

  tf2onnx casts every non-float TopK input to float32 (old onnxruntimes had
  no integer TopK); above 2**24 that merges distinct integers, so sorts and
  top_k of int32/uint32 keys come out wrong. onnxruntime runs TopK on int32
  and int64 directly; the cast back after it is then a no-op.
  """
  import onnx  # pylint: disable=g-import-not-at-top
  inferred = onnx.shape_inference.infer_shapes(model)
  types = {v.name: v.type.tensor_type.elem_type
           for v in list(inferred.graph.value_info) + list(inferred.graph.input)
           + list(inferred.graph.output)}
  integer = (onnx.TensorProto.INT32, onnx.TensorProto.INT64)

  def fix(graph: Any) -> None:
    producers = {out: n for n in graph.node for out in n.output}
    for node in graph.node:
      for attr in node.attribute:
        if attr.HasField("g"):
          fix(attr.g)
        for sub in attr.graphs:
          fix(sub)
      if node.op_type != "TopK":
        continue
      cast = producers.get(node.input[0])
      if (cast is not None and cast.op_type == "Cast" and
          any(a.name == "to" and a.i == onnx.TensorProto.FLOAT
              for a in cast.attribute) and
          types.get(cast.input[0]) in integer):
        node.input[0] = cast.input[0]

  fix(model.graph)


def _graph_nodes(graph: Any) -> list[Any]:
  """Every node of an ONNX graph, those of Loop/If/Scan bodies included."""
  nodes = []
  for node in graph.node:
    nodes.append(node)
    for attr in node.attribute:
      if attr.HasField("g"):
        nodes.extend(_graph_nodes(attr.g))
      for sub in attr.graphs:
        nodes.extend(_graph_nodes(sub))
  return nodes


def _check_all_converted(model: Any, opset: int) -> None:
  """Fail loudly where tf2onnx left a TF op it has no converter for.

  tf2onnx only logs those and keeps the TF op in the ONNX graph, which then
  fails in the runtime, far from the cause.
  """
  import onnx  # pylint: disable=g-import-not-at-top
  unknown = sorted({
      n.op_type for n in _graph_nodes(model.graph)
      if n.domain in ("", "ai.onnx") and not onnx.defs.has(
          n.op_type, max_inclusive_version=opset, domain="")})
  if unknown:
    raise NotImplementedError(
        f"tf2onnx could not convert the TF ops {unknown} to ONNX opset "
        f"{opset}; see docs/deployment.md for the ops each target lacks")
