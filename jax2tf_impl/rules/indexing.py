"""Rules for gather (scatter lives in scatter.py).

Everything here emits portable TF ops (gather, gather_nd, where, reshape,
transpose), so it also works under enable_xla=False.

JAX/XLA gather semantics being matched, for every output element:
  * the output's non-offset dims are the batch dims of `indices` (all but its
    last dim, which holds one start index per entry of `start_index_map`);
  * the operand index is start + window offset, where the start of dim
    start_index_map[k] is indices[batch, k], the start of
    operand_batching_dims[i] is the batch position along
    start_indices_batching_dims[i], and the window offsets run along
    offset_dims (one per operand dim neither collapsed nor batching);
  * CLIP and PROMISE_IN_BOUNDS (XLA clamps natively) clamp each start into
    [0, operand_dim - slice_size]; FILL_OR_DROP gives `fill_value` for the
    whole window when any start is outside that range (JAX first converts
    the indices to int32, or int64 for huge operands, wrapping like a cast).
"""
from __future__ import annotations

from typing import Any, Hashable, Sequence

import numpy as np
import tensorflow as tf
from jax import lax

from jax2tf_impl import dtypes as dt
from jax2tf_impl import jax_internals as ji
from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.support import as_shape, is_static
from jax2tf_impl.shapes import DimValue

Mode = lax.GatherScatterMode
_INT64_MAX = np.iinfo(np.int64).max


# --- helpers shared with scatter.py ------------------------------------------

def as_index(d: DimValue, itype: tf.DType) -> Any:
  """A dimension as a Python int, or a TF scalar of the index dtype."""
  return d if isinstance(d, int) else tf.cast(d, itype)


def exact_indices(idx: Any, dtype: Any) -> tf.Tensor:
  """Integer indices as int64 with their mathematical value.

  uint64 values above int64's range become int64 max: still out of bounds,
  and clamped to the upper bound like XLA's unsigned clamp.
  """
  if np.dtype(dtype) == np.uint64:
    signed = tf.bitcast(idx, tf.int64)
    return tf.where(signed < 0, tf.constant(_INT64_MAX, tf.int64), signed)
  return tf.cast(idx, tf.int64)


def at_positions(x: Any, x_dims: Sequence[DimValue], positions: Sequence[int],
                 rank: int) -> Any:
  """Reshapes `x` (dims in order) to `rank` dims: x's dims at `positions`
  (increasing), size 1 elsewhere, ready to broadcast."""
  shape: list[DimValue] = [1] * rank
  for p, d in zip(positions, x_dims):
    shape[p] = d
  if len(shape) == len(x_dims):
    return x
  return tf.reshape(x, as_shape(shape))


def iota_at(size: DimValue, position: int, rank: int, itype: tf.DType) -> Any:
  """0..size-1 along dim `position` of a rank-`rank` broadcastable tensor."""
  iota = tf.range(as_index(size, itype), dtype=itype)
  return at_positions(iota, [size], [position], rank)


def index_dtype(*shapes: Sequence[DimValue], extra: int = 0) -> tf.DType:
  """int32 when every static size (plus `extra`) fits, else int64."""
  for shape in shapes:
    if not is_static(*shape):
      return tf.int64
    if int(np.prod(shape, dtype=np.int64)) + extra >= 2**31 - 1:
      return tf.int64
  return tf.int32


def operand_index_parts(d: int, starts: Any, index_map: Sequence[int],
                        operand_batching_dims: Sequence[int],
                        index_batching_dims: Sequence[int],
                        window_operand_dims: Sequence[int],
                        window_positions: Sequence[int],
                        window_size: Any, batch_shape: Sequence[DimValue],
                        batch_pos: Sequence[int], rank: int,
                        itype: tf.DType) -> list[Any]:
  """The terms whose sum is operand dimension d's index at each element of a
  gather's output / a scatter's updates (of rank `rank`): the clamped start
  index if d is indexed, the batch position if d is a batching dimension,
  plus the position inside the window if d is a window dimension
  (`window_size(j)` is the size of the j-th window dimension)."""
  parts = []
  if d in index_map:
    parts.append(at_positions(starts[..., list(index_map).index(d)],
                              batch_shape, batch_pos, rank))
  elif d in operand_batching_dims:
    s = index_batching_dims[list(operand_batching_dims).index(d)]
    parts.append(iota_at(batch_shape[s], batch_pos[s], rank, itype))
  if d in window_operand_dims:
    j = list(window_operand_dims).index(d)
    parts.append(iota_at(window_size(j), window_positions[j], rank, itype))
  return parts


def broadcast_sum(terms: list[Any], shape: Sequence[DimValue],
                  itype: tf.DType) -> Any:
  """The sum of broadcastable `terms`, broadcast to `shape`."""
  total = tf.zeros([], itype)
  for t in terms:
    total = total + t
  return tf.broadcast_to(total, as_shape(shape))


# --- gather ------------------------------------------------------------------

def _gather_starts(ctx: RuleContext, indices: Any, mode: Any,
                   upper: list[DimValue], itype: tf.DType) -> tuple[Any, Any]:
  """(starts clamped into [0, upper], in-bounds mask over the batch or None).

  `upper[k]` = operand_dim - slice_size for start_index_map[k].
  """
  idx_dtype = ctx.avals_in[1].dtype
  operand_shape = ctx.avals_in[0].shape
  mask = None
  if mode == Mode.FILL_OR_DROP:
    # As JAX's _gather_fill: a (wrapping) cast to its index dtype first.
    jax_itype = ji.int_dtype_for_shape(operand_shape, signed=True)
    wrapped = tf.cast(indices, dt.to_tf_dtype(jax_itype))
    values = tf.cast(wrapped, tf.int64)
  else:
    values = exact_indices(indices, idx_dtype)
  ub = tf.stack([tf.cast(u, tf.int64) for u in upper]) if upper else \
      tf.zeros([0], tf.int64)
  if mode == Mode.FILL_OR_DROP:
    mask = tf.reduce_all(tf.logical_and(values >= 0, values <= ub), axis=-1)
  clamped = tf.minimum(tf.maximum(values, tf.constant(0, tf.int64)), ub)
  return tf.cast(clamped, itype), mask


def _arrange(x: Any, labels: list[Hashable], sizes: dict[Hashable, DimValue],
             want: list[Hashable], out_shape: Sequence[DimValue]) -> Any:
  """Turns `x` with dims `labels` into dims `want` (labels missing from
  either side have size 1): reshape away, transpose, reshape in."""
  kept = [l for l in labels if l in want]
  if kept != labels:
    x = tf.reshape(x, as_shape([sizes[l] for l in kept]))
  order = [l for l in want if l in kept]
  perm = [kept.index(l) for l in order]
  if perm != list(range(len(perm))):
    x = tf.transpose(x, perm)
  if order != want:
    x = tf.reshape(x, as_shape(out_shape))
  return x


def _gather_fast(ctx: RuleContext, operand: Any, starts: Any, dnums: Any,
                 batch_shape: list[DimValue]) -> Any:
  """Gathers whole slices along the indexed dims with tf.gather/gather_nd."""
  op_shape = ctx.shape(ctx.avals_in[0])
  rank = len(op_shape)
  out_shape = ctx.shape(ctx.aval_out)
  smap = list(dnums.start_index_map)
  batch_labels = [("b", i) for i in range(len(batch_shape))]
  sizes: dict[Hashable, DimValue] = {("o", d): op_shape[d] for d in range(rank)}
  sizes.update({("b", i): s for i, s in enumerate(batch_shape)})
  rest = [("o", d) for d in range(rank) if d not in smap]
  if len(smap) == 1:
    axis = smap[0]
    x = tf.gather(operand, starts[..., 0], axis=axis)
    labels = ([("o", d) for d in range(axis)] + batch_labels +
              [("o", d) for d in range(axis + 1, rank)])
  else:
    perm = smap + [d for d in range(rank) if d not in smap]
    if perm != list(range(rank)):
      operand = tf.transpose(operand, perm)
    x = tf.gather_nd(operand, starts)
    labels = batch_labels + rest
  offset_operand_dims = [d for d in range(rank)
                         if d not in dnums.collapsed_slice_dims]
  want: list[Hashable] = []
  batch_iter = iter(batch_labels)
  offset_iter = iter(offset_operand_dims)
  for p in range(len(out_shape)):
    want.append(("o", next(offset_iter)) if p in dnums.offset_dims
                else next(batch_iter))
  return _arrange(x, labels, sizes, want, out_shape)


def _gather_general(ctx: RuleContext, operand: Any, starts: Any, dnums: Any,
                    slice_sizes: Sequence[Any], batch_shape: list[DimValue],
                    itype: tf.DType) -> Any:
  """One gather_nd with the full operand index of every output element."""
  op_shape = ctx.shape(ctx.avals_in[0])
  rank = len(op_shape)
  out_shape = ctx.shape(ctx.aval_out)
  out_rank = len(out_shape)
  batch_pos = [p for p in range(out_rank) if p not in dnums.offset_dims]
  offset_operand_dims = [d for d in range(rank)
                         if d not in dnums.collapsed_slice_dims
                         and d not in dnums.operand_batching_dims]
  columns = []
  for d in range(rank):
    terms = operand_index_parts(
        d, starts, dnums.start_index_map, dnums.operand_batching_dims,
        dnums.start_indices_batching_dims, offset_operand_dims,
        dnums.offset_dims, lambda j, d=d: ctx.dim(slice_sizes[d]),
        batch_shape, batch_pos, out_rank, itype)
    columns.append(broadcast_sum(terms, out_shape, itype))
  full_index = tf.stack(columns, axis=-1)
  return tf.gather_nd(operand, full_index)


def _same_dim(a: Any, b: Any) -> bool:
  try:
    return bool(a is b or a == b)
  except Exception:  # pylint: disable=broad-except  (inconclusive symbolic)
    return False


def _uses_whole_slices(ctx: RuleContext, dnums: Any,
                       slice_sizes: Sequence[Any]) -> bool:
  """True when only the indexed dims are sliced, each to a single element."""
  op_shape = ctx.avals_in[0].shape
  if dnums.operand_batching_dims or not dnums.start_index_map:
    return False
  for d, size in enumerate(slice_sizes):
    if d in dnums.start_index_map:
      if not (isinstance(size, int) and size == 1):
        return False
    elif not _same_dim(size, op_shape[d]):
      return False
  return True


@register(lax.gather_p)
def _gather(ctx: RuleContext, operand: Any, indices: Any, *,
            dimension_numbers: Any, slice_sizes: Sequence[Any],
            indices_are_sorted: bool, unique_indices: bool, mode: Any,
            fill_value: Any) -> Any:
  del indices_are_sorted, unique_indices
  dnums = dimension_numbers
  mode = Mode.from_any(mode)
  if mode not in (Mode.CLIP, Mode.FILL_OR_DROP, Mode.PROMISE_IN_BOUNDS):
    raise ctx.unsupported(f"gather mode {mode}")
  aval_out = ctx.aval_out
  out_shape = ctx.shape(aval_out)
  if is_static(*out_shape) and int(np.prod(out_shape)) == 0:
    return tf.zeros(out_shape, ctx.tf_dtype(aval_out))
  op_shape = ctx.shape(ctx.avals_in[0])
  batch_shape = ctx.shape(ctx.avals_in[1])[:-1]
  itype = index_dtype(op_shape)
  upper = [ctx.dim(ctx.avals_in[0].shape[d] - slice_sizes[d])
           for d in dnums.start_index_map]
  starts, mask = _gather_starts(ctx, indices, mode, upper, itype)
  if _uses_whole_slices(ctx, dnums, slice_sizes):
    out = _gather_fast(ctx, operand, starts, dnums, batch_shape)
  else:
    out = _gather_general(ctx, operand, starts, dnums, slice_sizes,
                          batch_shape, itype)
  if mask is not None:
    batch_pos = [p for p in range(len(out_shape)) if p not in dnums.offset_dims]
    mask = at_positions(mask, batch_shape, batch_pos, len(out_shape))
    fill = ctx.constant(_default_fill(aval_out.dtype) if fill_value is None
                        else _fill_like_jax(fill_value, aval_out.dtype), aval_out)
    out = tf.where(mask, out, fill)
  return out


def _fill_like_jax(value: Any, dtype: Any) -> np.ndarray:
  """The fill value as JAX's lowering makes it (`full_like` folds the Python
  scalar with numpy's `astype`): -1 on uint8 is 255, NaN on an integer
  dtype is what numpy's cast gives (INT_MIN on x86), not an error."""
  out = np.asarray(value)
  np_dtype = dt.to_np_dtype(dtype)
  if np.iscomplexobj(out) and not dt.is_complex(np_dtype):
    out = out.real
  with np.errstate(invalid="ignore", over="ignore"):
    return out.astype(np_dtype)


def _default_fill(dtype: Any) -> Any:
  """JAX's default FILL_OR_DROP value, for a gather bound without one."""
  dtype = np.dtype(dtype)
  if dt.is_inexact(dtype):
    return np.nan
  if dtype == np.bool_:
    return True
  return np.iinfo(dtype).max if dtype.kind == "u" else np.iinfo(dtype).min
