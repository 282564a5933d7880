"""Helpers every family of rules shares: shape arguments, static checks,
the compute dtype of matmul-like ops, and execution-context probes.

Each helper exists once, here; family modules import these instead of
writing their own (and never import another family's private names).
"""
from __future__ import annotations

import weakref
from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from jax2tf_impl import dtypes as dt
from jax2tf_impl import tf_internals
from jax2tf_impl.shapes import DimValue, dim_max, dim_min, is_static_shape

__all__ = ["tf_op", "shared_constant", "shape_operand", "as_shape", "compiling_with_xla", "computed_from_constants", "dim_max", "dim_min",
           "current_dims", "from_matmul_compute", "interior_pad", "is_static", "matmul_compute_dtype", "non_finite_fill", "source_op",
           "to_matmul_compute"]


# --- shapes -------------------------------------------------------------------

def tf_op(op_type: str) -> Callable[..., tf.Tensor]:
  """A function building one `op_type` op on tensor inputs, as
  `tf.raw_ops.<op_type>` does, without TF's Python op-construction layers
  (tf_internals.graph_op): the form the rules of the most frequent
  primitives use, since those layers were most of the conversion time."""

  def build(*inputs: Any, **attrs: Any) -> tf.Tensor:
    return tf_internals.graph_op(op_type, *inputs, **attrs)

  build.__name__ = op_type
  return build


def is_static(*dims: Any) -> bool:
  """Whether every dimension is a Python int (JAX dims or evaluated dims)."""
  return is_static_shape(dims)


def as_shape(dims: Sequence[DimValue]) -> Any:
  """A TF shape argument: a list of ints if static, else an int32 vector."""
  dims = list(dims)
  if is_static(*dims):
    return [int(d) for d in dims]
  return tf.stack([tf.constant(d, tf.int32) if isinstance(d, (int, np.integer))
                   else tf.cast(d, tf.int32) for d in dims])


def scope_name(name: str) -> str:
  """`name` (a primitive's, a `jax.named_scope`'s, a composite's) as a
  valid TF name scope: characters other than letters, digits and "_-."
  become "_", and a name not starting with a letter, digit or "." gets an
  "s" in front. Cached: the interpreter asks for every equation."""
  found = _SCOPE_NAMES.get(name)
  if found is None:
    out = "".join(c if c.isalnum() or c in "_-." else "_" for c in name) or "op"
    found = _SCOPE_NAMES[name] = (
        out if out[0].isalnum() or out[0] == "." else "s" + out)
  return found


_SCOPE_NAMES: dict[str, str] = {}


def shape_operand(dims: Sequence[DimValue]) -> tf.Tensor:
  """A shape or axes operand for a TF op: a constant shared in the graph
  when every dim is static (int32, int64 if one does not fit), else
  as_shape's int32 vector of the symbolic dims."""
  dims = list(dims)
  if not is_static(*dims):
    return as_shape(dims)
  ints = [int(d) for d in dims]
  wide = any(abs(d) > 2**31 - 1 for d in ints)
  return shared_constant(np.asarray(ints, np.int64 if wide else np.int32))


# One TF constant per (graph, dtype, shape, value): literals, shapes and
# axes repeat throughout a program (a chain like `x * 1.0001` repeated 10k
# times otherwise creates 10k Const ops, a third of the graph and of the
# conversion time). Keyed by graph, so that a while/cond body (its own
# FuncGraph) gets its own constants rather than captures from outside.
_SHARED_CONSTANTS: "weakref.WeakKeyDictionary[Any, dict]" = (
    weakref.WeakKeyDictionary())
_SHARED_CONSTANT_MAX_SIZE = 64  # elements: scalars, shapes, axes


def shared_constant(value: Any, dtype: Any = None) -> tf.Tensor:
  """`np.asarray(value, dtype)` as a TF constant, shared by every use of the
  same small value in the graph being built (a new one when eager, or over
  64 elements)."""
  arr = np.asarray(value, dtype=dtype)
  if tf.executing_eagerly() or arr.size > _SHARED_CONSTANT_MAX_SIZE:
    return tf.constant(arr)
  graph = tf.compat.v1.get_default_graph()
  per_graph = _SHARED_CONSTANTS.get(graph)
  if per_graph is None:
    per_graph = _SHARED_CONSTANTS[graph] = {}
  key = (arr.dtype.str, arr.shape, arr.tobytes())
  tensor = per_graph.get(key)
  if tensor is None:
    # No control dependencies: the first user's context (e.g. after a
    # shape assertion) must not become every later user's.
    with tf.control_dependencies(None):
      tensor = per_graph[key] = tf.constant(arr)
  return tensor


def current_dims(x: Any) -> list[DimValue]:
  """x's dims: ints where its static shape knows them, else TF scalars."""
  static = x.shape.as_list()
  if all(d is not None for d in static):
    return static
  dynamic = tf.shape(x)
  return [d if d is not None else dynamic[i] for i, d in enumerate(static)]


def _product(dims: Sequence[DimValue]) -> DimValue:
  out: DimValue = 1
  for d in dims:
    out = out * d
  return out


def interior_pad(x: Any, axis: int, interior: DimValue, fill: Any,
                 dims: Sequence[DimValue] | None = None
                 ) -> tuple[Any, list[DimValue]]:
  """`interior` copies of `fill` between the elements of `x` along `axis`:
  n elements become n + (n - 1) * interior (XLA's interior padding, which
  is also base dilation and a transposed conv's lhs dilation).

  Through a rank-4 view [outer, n, 1, inner] whatever x's rank: the size-1
  axis is padded to 1 + interior, merged into n, and the trailing
  `interior` cut. The view keeps the Pad at rank 4: TF.js's WebGL Pad does
  not compile at rank 5 (its shader compares ivec5 values, measured in
  Chromium with tfjs 4.22) and TFLite's Pad stops at rank 5.
  `dims`: x's dims (ints or TF scalars), if the caller knows them better
  than x's static shape. Returns the padded tensor and its dims.
  """
  dims = list(current_dims(x) if dims is None else dims)
  n = dims[axis]
  outer, inner = _product(dims[:axis]), _product(dims[axis + 1:])
  y = tf.reshape(x, as_shape([outer, n, 1, inner]))
  y = tf.pad(y, [[0, 0], [0, 0], [0, interior], [0, 0]], constant_values=fill)
  y = tf.reshape(y, as_shape([outer, n * (1 + interior), inner]))
  out_n = dim_max(n + dim_max(n - 1, 0) * interior, 0)
  y = tf.slice(y, [0, 0, 0], as_shape([outer, out_n, inner]))
  dims[axis] = out_n
  return tf.reshape(y, as_shape(dims)), dims


# --- execution context ----------------------------------------------------------

def compiling_with_xla() -> bool:
  """Whether the graph being built will be compiled by XLA
  (tf.function(jit_compile=True)): some TF kernels have no XLA kernel, and
  then a rule emits an equivalent compilable formulation."""
  return tf_internals.graph_compiles_with_xla()


# --- the dtype matmul-like ops (dot_general, conv) compute in --------------------

def matmul_compute_dtype(ctx: Any, out_dtype: Any) -> tf.DType:
  """The TF dtype a matmul/conv runs in, for JAX result dtype `out_dtype`.

  TF's CPU matmul kernels exist for f16/bf16/f32/f64/c64/c128/int32/int64
  only. Integer results wrap modulo 2**bits in XLA, and wrapping arithmetic
  in a wider integer type followed by a truncating cast gives the same bits.
  f16/bf16 are accumulated in f32 and rounded once, as XLA's CPU backend
  does (it upcasts low-precision dots to f32).
  """
  out_dtype = np.dtype(out_dtype)
  if out_dtype in (np.float32, np.float64, np.complex64, np.complex128,
                   np.int32, np.int64):
    return dt.to_tf_dtype(out_dtype)
  if dt.is_float(out_dtype):  # float16, bfloat16 (and other small floats)
    return tf.float32
  if out_dtype in (np.int8, np.int16, np.uint8, np.uint16):
    return tf.int32
  if out_dtype in (np.uint32, np.uint64):
    return tf.int64
  if dt.is_bool(out_dtype):
    return tf.int32
  raise ctx.unsupported(f"result dtype {out_dtype}")


def to_matmul_compute(x: tf.Tensor, in_dtype: Any, out_dtype: Any,
                      compute: tf.DType) -> tf.Tensor:
  """Casts an operand first to JAX's result dtype, then to `compute`.

  JAX's CPU lowering converts both operands to the result dtype when their
  dtypes differ (or when preferred_element_type differs), so we round
  through it too (e.g. int32 -> float16 loses what JAX loses).
  """
  in_dtype, out_dtype = np.dtype(in_dtype), np.dtype(out_dtype)
  if in_dtype != out_dtype:
    x = tf.cast(x, dt.to_tf_dtype(out_dtype))
  if out_dtype == np.uint64:
    # Two's-complement products/sums modulo 2**64 are sign-agnostic.
    return tf.bitcast(x, tf.int64)
  if x.dtype != compute:
    x = tf.cast(x, compute)
  return x


def from_matmul_compute(y: tf.Tensor, out_dtype: Any) -> tf.Tensor:
  """The matmul/conv result in the compute dtype, back to JAX's dtype."""
  out_dtype = np.dtype(out_dtype)
  if out_dtype == np.uint64:
    return tf.bitcast(y, tf.uint64)
  if dt.is_bool(out_dtype):
    # Boolean dot is OR of ANDs: any product that is 1.
    return tf.math.not_equal(y, tf.zeros([], y.dtype))
  tf_out = dt.to_tf_dtype(out_dtype)
  return y if y.dtype == tf_out else tf.cast(y, tf_out)


# --- constants ----------------------------------------------------------------

def computed_from_constants(t: Any) -> bool:
  """Whether `t` depends on no graph input, so XLA sees it as a constant
  and folds what is computed from it before other rewrites (a division by
  it, a transcendental function of it, the setup of a rejection loop).

  Memoized per graph by op (an op's answer never changes), so asking
  for every operand of a conversion costs time linear in the graph."""
  if not hasattr(t, "op"):
    return True
  memo = _CONSTNESS.setdefault(t.graph, {})
  # Keyed by id(op): the graph keeps its ops alive as long as this memo
  # (which must not hold the ops, or the graph, its weak key, never dies).
  stack = [t.op]
  while stack:
    op = stack[-1]
    if id(op) in memo:
      stack.pop()
      continue
    inputs = op.inputs
    if not inputs:
      memo[id(op)] = op.type == "Const"
      stack.pop()
      continue
    if op.type in ("ReadVariableOp", "VarHandleOp") or _is_stateful(op.type):
      memo[id(op)] = False
      stack.pop()
      continue
    pending = [i.op for i in inputs if id(i.op) not in memo]
    if pending:
      stack.extend(pending)
      continue
    memo[id(op)] = all(memo[id(i.op)] for i in inputs)
    stack.pop()
  return memo[id(t.op)]


def _is_stateful(op_type: str) -> bool:
  """Whether ops of this type are stateful (cached: reading an op's OpDef
  parses a proto each time)."""
  found = _STATEFUL.get(op_type)
  if found is None:
    found = _STATEFUL[op_type] = tf_internals.op_is_stateful(op_type)
  return found


_STATEFUL: dict[str, bool] = {}


_CONSTNESS: "weakref.WeakKeyDictionary[Any, dict[int, bool]]" = (
    weakref.WeakKeyDictionary())


def static_value(t: Any, max_ops: int = 64) -> np.ndarray | None:
  """The value of `t` if it is computed from constants only, else None.

  tf.get_static_value knows a few ops (Const, Cast, Fill, Pack, ...); for
  the rest (a - 1/3, a select of constants) the constant subgraph, at most
  `max_ops` ops without functions, is run once in a throwaway graph. Its
  ops are exact IEEE arithmetic or TF kernels that TF's own constant
  folding would run anyway."""
  if hasattr(t, "op") and not computed_from_constants(t):
    return None
  value = tf.get_static_value(t)
  if value is not None or not hasattr(t, "op"):
    return value
  nodes, seen, stack = [], set(), [t.op]
  while stack:
    op = stack.pop()
    if op.name in seen:
      continue
    seen.add(op.name)
    node = op.node_def
    if len(seen) > max_ops or any(v.HasField("func") or v.list.func
                                  for v in node.attr.values()):
      return None
    data_inputs = [i for i in node.input if not i.startswith("^")]
    del node.input[:]
    node.input.extend(data_inputs)
    node.ClearField("device")
    nodes.append(node)
    stack.extend(i.op for i in op.inputs)
  graph_def = tf.compat.v1.GraphDef()
  graph_def.node.extend(reversed(nodes))
  graph_def.versions.producer = t.graph.graph_def_versions.producer
  with tf.Graph().as_default() as g:
    tf.graph_util.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=g) as sess:
      try:
        return sess.run(f"{t.name}")
      except (tf.errors.OpError, ValueError):
        return None


# --- forms the standard converters read right -------------------------------------

def source_op(t: Any) -> Any:
  """The graph op that computes `t`, looking through Identity ops (jit
  boundaries add them); None for an eager tensor."""
  op = getattr(t, "op", None)
  while op is not None and op.type == "Identity":
    op = op.inputs[0].op
  return op


def non_finite_fill(t: Any) -> tf.Tensor | None:
  """A scalar constant for `t` when `t` is a broadcast (BroadcastTo, Fill)
  of one constant inf or NaN, else None.

  A select whose branch holds an infinity must stay a select: tf2onnx turns
  a float Select into cond*x + (1-cond)*y (0*inf = NaN) unless it sees the
  infinity in a constant input. Given the scalar itself (SelectV2
  broadcasts it), the plain tf2onnx keeps a Where."""
  op = source_op(t)
  if op is None or op.type not in ("BroadcastTo", "Fill"):
    return None
  value_op = source_op(op.inputs[0 if op.type == "BroadcastTo" else 1])
  if value_op.type != "Const":
    return None
  value = tf.get_static_value(value_op.outputs[0])
  if value is None or value.size != 1 or np.all(np.isfinite(value)):
    return None
  return tf.constant(value.reshape(()), dtype=t.dtype)
