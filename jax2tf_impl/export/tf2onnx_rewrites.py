"""tf2onnx work-arounds: graph rewrites and ONNX proto fix-ups, one per bug.

Each function documents the tf2onnx behaviour it corrects, the wrong result
the standard path gives, and the upstream thread. `export_onnx` applies
them; a user calling `tf2onnx.convert` directly can pass
`custom_rewriter=TF2ONNX_REWRITERS` and call `fix_model(model)` after.
"""
from __future__ import annotations

from typing import Any


def selects_stay_selects(graph: Any, ops: list[Any]) -> list[Any]:
  """Keep every TF Select/SelectV2 an ONNX Where.

  tf2onnx turns a float select into cond * x + (1 - cond) * y when it cannot
  prove the branches finite (it is faster than Where); that is NaN wherever
  the branch not taken is infinite, e.g. max(x, -inf) in a softmax. Upstream:
  onnx/tensorflow-onnx issue 1988 and PR 2035 (which only catches constant
  and Mul inputs). Its own escape hatch is the node attribute `handles_nan`.
  """
  del graph
  for op in ops:
    if op.type in ("Select", "SelectV2"):
      op.set_attr("handles_nan", True)
  return ops


def scatter_nd_sums_duplicates(graph: Any, ops: list[Any]) -> list[Any]:
  """Make ScatterNd sum duplicate indices in ONNX too.

  TF's ScatterNd sums updates that hit the same index (segment_sum relies
  on it); tf2onnx maps it to ONNX ScatterND without `reduction`, where the
  last write wins and onnxruntime only warns that duplicates are undefined:
  a GNN's segment sums came out 14-25% off with no error. tf2onnx maps
  TensorScatterAdd to ScatterND(reduction='add') since opset 16
  (onnx/tensorflow-onnx PR 1949), so rewrite ScatterNd(indices, updates,
  shape) as TensorScatterAdd(zeros(shape), indices, updates).
  """
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


TF2ONNX_REWRITERS = [selects_stay_selects, scatter_nd_sums_duplicates]


def graph_nodes(graph: Any) -> list[Any]:
  """Every node of an ONNX graph, those of Loop/If/Scan bodies included."""
  nodes = []
  for node in graph.node:
    nodes.append(node)
    for attr in node.attribute:
      if attr.HasField("g"):
        nodes.extend(graph_nodes(attr.g))
      for sub in attr.graphs:
        nodes.extend(graph_nodes(sub))
  return nodes


def integer_top_k_without_float_cast(model: Any) -> None:
  """Undo tf2onnx's cast of integer TopK inputs to float32, in place.

  tf2onnx casts every non-float TopK input to float32 because old
  onnxruntimes had no integer TopK (onnx/tensorflow-onnx PR 1232); above
  2**24 that merges distinct integers, so sorts and top_k of int32/uint32
  keys come out wrong. onnxruntime runs TopK on int32 and int64 directly;
  the cast back after it is then a no-op.
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


def check_all_converted(model: Any, opset: int) -> None:
  """Fail loudly where tf2onnx left a TF op it has no converter for.

  tf2onnx only logs those and keeps the TF op in the ONNX graph, which then
  fails in the runtime, far from the cause.
  """
  import onnx  # pylint: disable=g-import-not-at-top
  unknown = sorted({
      n.op_type for n in graph_nodes(model.graph)
      if n.domain in ("", "ai.onnx") and not onnx.defs.has(
          n.op_type, max_inclusive_version=opset, domain="")})
  if unknown:
    raise NotImplementedError(
        f"tf2onnx could not convert the TF ops {unknown} to ONNX opset "
        f"{opset}; see docs/deployment.md for the ops each target lacks")


def fix_model(model: Any) -> None:
  """The proto fix-ups to apply to a model tf2onnx made from our graphs."""
  integer_top_k_without_float_cast(model)
