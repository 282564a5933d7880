"""Rules for shape-manipulating primitives.

All rules emit portable TF ops (reshape, transpose, strided_slice, pad,
concat, broadcast_to, where, ...), so they also work under enable_xla=False.
Dimensions may be symbolic: shapes come from the avals through
`ctx.shape` / `ctx.shape_tensor` / `ctx.dim`, which keep static dimensions
as Python ints and give TF int32 scalars only for symbolic ones.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf
from jax import lax

from jax2tf_impl import dtypes as dt
from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.support import (as_shape, dim_max, interior_pad, is_static,
                                      shape_operand, tf_op)
from jax2tf_impl.shapes import DimValue


# --- reshape-like -------------------------------------------------------------

@register(lax.reshape_p)
def _reshape(ctx: RuleContext, x: Any, *, new_sizes: Any, dimensions: Any,
             sharding: Any) -> Any:
  """`dimensions` (if given) transposes the operand before the reshape."""
  del new_sizes, sharding
  in_shape = list(ctx.avals_in[0].shape)
  if dimensions is not None and list(dimensions) != list(range(len(in_shape))):
    x = tf_op("Transpose")(x, shape_operand(dimensions))
  elif in_shape == list(ctx.aval_out.shape):
    return x
  return tf_op("Reshape")(x, shape_operand(ctx.shape(ctx.aval_out)))


@register(lax.squeeze_p)
def _squeeze(ctx: RuleContext, x: Any, *, dimensions: Any) -> Any:
  # tf.squeeze with an empty axis list would drop *every* size-1 dimension.
  if not dimensions:
    return x
  return tf_op("Squeeze")(x, squeeze_dims=[int(d) for d in dimensions])


@register(lax.broadcast_in_dim_p)
def _broadcast_in_dim(ctx: RuleContext, x: Any, *, shape: Any,
                      broadcast_dimensions: Any, sharding: Any) -> Any:
  """Operand dim i goes to output dim broadcast_dimensions[i] (size 1 or equal).

  Reshape to the output rank (size 1 on the new dims), then tf.broadcast_to
  unless the reshape already has the output's shape (new dims of size 1).
  """
  del sharding
  operand_shape = ctx.shape(ctx.avals_in[0])
  out_shape = ctx.shape(shape)
  bdims = [int(d) for d in broadcast_dimensions]
  expanded: list[DimValue] = [1] * len(out_shape)
  for i, d in enumerate(bdims):
    expanded[d] = operand_shape[i]
  if bdims != sorted(bdims):  # JAX requires strictly increasing dims.
    raise ctx.unsupported("broadcast_dimensions that are not increasing")
  if (len(operand_shape) == len(out_shape) and
      list(ctx.avals_in[0].shape) == list(ctx.aval_out.shape)):
    return x
  in_dims, out_dims = list(ctx.avals_in[0].shape), list(ctx.aval_out.shape)
  if (all(_same_dim(in_dims[i], out_dims[d]) for i, d in enumerate(bdims))
      and all(isinstance(out_dims[d], int) and out_dims[d] == 1
              for d in range(len(out_dims)) if d not in bdims)):
    return tf_op("Reshape")(x, shape_operand(out_shape))  # nothing repeats
  trailing = list(range(len(out_shape) - len(bdims), len(out_shape)))
  if bdims != trailing:  # tf.broadcast_to only adds leading dimensions.
    x = tf_op("Reshape")(x, shape_operand(expanded))
  return tf_op("BroadcastTo")(x, shape_operand(out_shape))


def _same_dim(a: Any, b: Any) -> bool:
  """Whether two JAX dimensions are provably equal (ints, or the same
  symbolic expression)."""
  try:
    return bool(a == b)
  except Exception:  # pylint: disable=broad-except  (inconclusive symbolic)
    return False


@register(lax.transpose_p)
def _transpose(ctx: RuleContext, x: Any, *, permutation: Any) -> Any:
  perm = [int(p) for p in permutation]
  if perm == list(range(len(perm))):
    return x
  return tf_op("Transpose")(x, shape_operand(perm))


@register(lax.rev_p)
def _rev(ctx: RuleContext, x: Any, *, dimensions: Any) -> Any:
  if not dimensions:
    return x
  return tf.reverse(x, [int(d) for d in dimensions])


@register(lax.iota_p)
def _iota(ctx: RuleContext, *, dtype: Any, shape: Any, dimension: int,
          sharding: Any) -> Any:
  """Counts 0..n-1 along `dimension`, converted to `dtype` (as XLA's Iota).

  tf.range lacks unsigned/complex/f16 kernels, so count in int32/int64 and
  cast (the conversion XLA applies to each element too).
  """
  del sharding
  out_shape = ctx.shape(shape)
  n = out_shape[dimension]
  count_dtype = tf.int64 if (isinstance(n, int) and n > 2**31 - 1) else tf.int32
  values = tf.cast(tf.range(tf.cast(n, count_dtype), dtype=count_dtype),
                   ctx.tf_dtype(dtype))
  if len(out_shape) == 1:
    return values
  expanded: list[DimValue] = [1] * len(out_shape)
  expanded[dimension] = n
  values = tf.reshape(values, as_shape(expanded))
  return tf.broadcast_to(values, as_shape(out_shape))


# --- slicing ------------------------------------------------------------------

@register(lax.slice_p)
def _slice(ctx: RuleContext, x: Any, *, start_indices: Any, limit_indices: Any,
           strides: Any) -> Any:
  if not start_indices:
    return x
  strides = [int(s) for s in (strides or (1,) * len(start_indices))]
  return tf.strided_slice(x, as_shape([ctx.dim(d) for d in start_indices]),
                          as_shape([ctx.dim(d) for d in limit_indices]),
                          strides)


def _clamped_starts(ctx: RuleContext, indices: Sequence[Any],
                    index_avals: Sequence[Any], operand_shape: Sequence[Any],
                    window_shape: Sequence[Any]) -> list[DimValue]:
  """Start indices clamped to [0, dim - window], as XLA's DynamicSlice does.

  Indices may have any integer dtype: they are compared in a dtype wide
  enough to hold them (uint64 values above the int64 range saturate), and
  the clamped result (always within the operand) becomes int32. Starts that
  are known at conversion time (constants, or a window covering the whole
  dimension) stay Python ints.
  """
  starts: list[DimValue] = []
  for idx, aval, dim, win in zip(indices, index_avals, operand_shape,
                                 window_shape):
    hi = dim_max(dim - win, 0)
    static_idx = tf.get_static_value(idx)
    if isinstance(hi, int) and (hi == 0 or static_idx is not None):
      starts.append(min(max(int(static_idx), 0), hi) if hi else 0)
      continue
    np_dtype = np.dtype(aval.dtype)
    wide = (np_dtype.itemsize < 4 or
            (np_dtype.itemsize == 4 and not dt.is_unsigned(np_dtype)))
    work = tf.int32 if wide else tf.int64
    i = tf.cast(idx, work)
    if np_dtype == np.uint64:
      i = tf.where(i < 0, tf.constant(np.iinfo(np.int64).max, tf.int64), i)
    hi_t = tf.cast(hi, work) if not isinstance(hi, int) else tf.constant(
        hi, work)
    i = tf.clip_by_value(i, tf.zeros([], work), hi_t)
    starts.append(tf.cast(i, tf.int32))
  return starts


@register(lax.dynamic_slice_p)
def _dynamic_slice(ctx: RuleContext, x: Any, *start_indices: Any,
                   slice_sizes: Any) -> Any:
  operand_shape = ctx.shape(ctx.avals_in[0])
  sizes = [ctx.dim(s) for s in slice_sizes]
  if not operand_shape:
    return x
  starts = _clamped_starts(ctx, start_indices, ctx.avals_in[1:],
                           operand_shape, sizes)
  return tf.slice(x, as_shape(starts), as_shape(sizes))


@register(lax.dynamic_update_slice_p)
def _dynamic_update_slice(ctx: RuleContext, x: Any, update: Any,
                          *start_indices: Any) -> Any:
  """Writes `update` at clamped start indices.

  Portable form: tf.tensor_scatter_nd_update at the update's positions. It
  works with run-time starts in every mode (tf.pad or strided-slice updates
  need compile-time starts under jit_compile) and lowers to TFLite builtins.
  Trailing dimensions that the update covers fully need no indices (their
  start clamps to 0), so the index tensor stays small (e.g. KV caches).
  """
  operand_aval, update_aval = ctx.avals_in[0], ctx.avals_in[1]
  if list(operand_aval.shape) == list(update_aval.shape):
    return update  # the only start that fits is 0 in every dimension.
  update_shape = ctx.shape(update_aval)
  if any(isinstance(d, int) and d == 0 for d in update_shape):
    return x
  depth = len(operand_aval.shape)
  while (depth > 0 and
         operand_aval.shape[depth - 1] == update_aval.shape[depth - 1]):
    depth -= 1
  starts = _clamped_starts(ctx, start_indices[:depth], ctx.avals_in[2:],
                           ctx.shape(operand_aval)[:depth],
                           update_shape[:depth])
  grid_shape = as_shape(update_shape[:depth])
  coords = []
  for d in range(depth):
    positions = starts[d] + tf.range(update_shape[d], dtype=tf.int32)
    along = [1] * depth
    along[d] = -1
    coords.append(tf.broadcast_to(tf.reshape(positions, along), grid_shape))
  indices = tf.stack(coords, axis=-1)
  return tf.tensor_scatter_nd_update(x, indices, update)


# --- joining and splitting -------------------------------------------------

@register(lax.concatenate_p)
def _concatenate(ctx: RuleContext, *operands: Any, dimension: int) -> Any:
  if len(operands) == 1:
    return operands[0]
  return tf.concat(list(operands), axis=int(dimension))


@register(lax.split_p)
def _split(ctx: RuleContext, x: Any, *, sizes: Any, axis: int) -> list[Any]:
  sizes_v = [ctx.dim(s) for s in sizes]
  if len(sizes_v) == 1:
    return [x]
  return tf.split(x, as_shape(sizes_v), axis=int(axis), num=len(sizes_v))


@register(lax.tile_p)
def _tile(ctx: RuleContext, x: Any, *, reps: Any) -> Any:
  """Repeats the operand `reps[i]` times along dim i.

  Not tf.tile (no uint16 kernel): interleave a new size-`rep` axis before
  each dim via broadcast_to, then merge the pairs. A repeat count may be
  symbolic (e.g. jnp.tile(cls_token, (x.shape[0], 1, 1)) under a
  polymorphic batch): it is then a TF int32 scalar.
  """
  reps = [ctx.dim(r) for r in reps]
  if all(isinstance(r, int) and r == 1 for r in reps):
    return x
  in_shape = ctx.shape(ctx.avals_in[0])
  expanded: list[DimValue] = []
  broadcast: list[DimValue] = []
  for r, d in zip(reps, in_shape):
    expanded += [1, d]
    broadcast += [r, d]
  y = tf.reshape(x, as_shape(expanded))
  y = tf.broadcast_to(y, as_shape(broadcast))
  return tf.reshape(y, ctx.shape_tensor(ctx.aval_out))


@register(lax.stack_p)
def _stack(ctx: RuleContext, *operands: Any, axis: int) -> Any:
  # tf.stack (Pack) has no uint16 kernel in graphs: expand_dims + concat.
  expanded = [tf.expand_dims(o, int(axis)) for o in operands]
  if len(expanded) == 1:
    return expanded[0]
  return tf.concat(expanded, axis=int(axis))


@register(lax.unstack_p)
def _unstack(ctx: RuleContext, x: Any, *, axis: int) -> list[Any]:
  n = len(ctx.avals_out)
  if n == 0:
    return []
  return tf.unstack(x, num=n, axis=int(axis))


# --- padding ------------------------------------------------------------------

@register(lax.pad_p)
def _pad(ctx: RuleContext, x: Any, padding_value: Any, *,
         padding_config: Any) -> Any:
  """Interior padding, then edge padding; negative edges crop (as XLA's Pad)."""
  shape = ctx.shape(ctx.avals_in[0])
  config = [(ctx.dim(lo), ctx.dim(hi), ctx.dim(interior))
            for lo, hi, interior in padding_config]
  for dim, (_, _, interior) in enumerate(config):
    # A symbolic interior (a TF scalar here) is >= 0: JAX checks it.
    if not isinstance(interior, int) or interior > 0:
      x, shape = interior_pad(x, dim, interior, padding_value, dims=shape)
  grow = [[dim_max(lo, 0), dim_max(hi, 0)] for lo, hi, _ in config]
  if any(not is_static(a, b) or a or b for a, b in grow):
    paddings = (grow if all(is_static(a, b) for a, b in grow) else
                tf.stack([as_shape(g) for g in grow]))
    x = tf.pad(x, paddings, constant_values=padding_value)
  crop = [(dim_max(-lo, 0), dim_max(-hi, 0)) for lo, hi, _ in config]
  if any(not is_static(a, b) or a or b for a, b in crop):
    out_shape = ctx.shape(ctx.aval_out)
    x = tf.slice(x, as_shape([c[0] for c in crop]), as_shape(out_shape))
  return x
