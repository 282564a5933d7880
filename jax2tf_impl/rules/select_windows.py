"""Rules for the select-and-* window primitives: select_and_gather_add (the
JVP of max/min pooling), select_and_scatter_add (its transpose, the gradient
of pooling) and the generic select_and_scatter.

Each window's selected element is found as XLA finds it (the first maximum
for `>=`, the first minimum for `<=`, a NaN winning, padding taking part as
-inf / +inf), from the window patches built by windows.py.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf
from jax import lax
from jax.extend.core import primitives as prims

from jax2tf_impl import dtypes as dt
from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.support import as_shape
from jax2tf_impl.rules.monoids import monoid_of_body, reduce_max, reduce_min
from jax2tf_impl.rules.semantics import is_nan
from jax2tf_impl.rules.windows import (known_nonnegative, valid_mask,
                                       window_args, window_identity,
                                       window_patches)


def _selected_position(ctx: RuleContext, patches: Any, waxes: list[int],
                       select_prim: Any, dtype: Any, valid: Any = None
                       ) -> tuple[Any, Any, int]:
  """Per window, the flat window position (0..K-1) that XLA's sequential
  select picks, and whether the reduce_window init value would beat it.

  XLA folds the window in order: keep the current element if
  `select(current, next)` (ge/le), else take the next; padding and dilation
  holes take part with the value -inf (ge) / +inf (le) in SelectAndScatter,
  and are skipped (`valid` False) in ReduceWindow. Without NaN the pick is
  the first max (min). A NaN always gets selected and always gets replaced,
  so with NaNs the pick is the first max after the last NaN, or that NaN if
  no element follows it.
  """
  if select_prim is lax.ge_p:
    greater = True
  elif select_prim is lax.le_p:
    greater = False
  else:
    raise ctx.unsupported(f"select_prim {select_prim} (only ge and le)")
  rank = len(patches.shape)
  oaxes = [a for a in range(rank) if a not in waxes]
  p = tf.transpose(patches, oaxes + waxes)
  lead = tf.shape(p)[:len(oaxes)]
  p = tf.reshape(p, tf.concat([lead, [-1]], 0))
  k = int(np.prod([patches.shape[a] for a in waxes], dtype=np.int64))
  if dt.is_bool(dtype):
    p, dtype = tf.cast(p, tf.int8), np.int8
  ident = tf.constant(window_identity("max" if greater else "min", dtype))
  pos = tf.range(k)
  take = None
  if valid is not None:
    take = tf.reshape(tf.transpose(valid, oaxes + waxes), tf.shape(p))
  last_nan = None
  if dt.is_float(dtype):
    nan = is_nan(p) if take is None else is_nan(p) & take
    last_nan = tf.reduce_max(tf.where(nan, pos, -1), axis=-1)
    after = pos > last_nan[..., None]
    take = after if take is None else take & after
  if take is not None:
    p = tf.where(take, p, ident)
  value = (reduce_max if greater else reduce_min)(p, [len(oaxes)], dtype)
  hit = tf.equal(p, value[..., None])
  if take is not None:
    hit = hit & take
  sel = tf.reduce_min(tf.where(hit, pos, k), axis=-1)
  init_wins = tf.equal(value, ident)
  if last_nan is not None:
    sel = tf.where(tf.equal(sel, k) & (last_nan >= 0), last_nan, sel)
    init_wins = init_wins & tf.equal(last_nan, -1)
  return sel, init_wins, k


@register(prims.select_and_gather_add_p)
def _select_and_gather_add(ctx: RuleContext, tangents: Any, operand: Any, *,
                           select_prim: Any, **params: Any) -> Any:
  """Per window, the tangent at the operand element XLA's reduce_window of
  (operand, tangent) pairs selects; the init pair (-inf/+inf, 0) comes
  first, so a window of only -inf (+inf) gives 0."""
  dtype = ctx.avals_in[1].dtype
  wargs = window_args(ctx, params)
  kind = "max" if select_prim is lax.ge_p else "min"
  patches, waxes = window_patches(ctx, operand,
                                  tf.constant(window_identity(kind, dtype)), **wargs)
  tpatches, _ = window_patches(ctx, tangents, tf.zeros((), tangents.dtype),
                               **wargs)
  sel, init_wins, k = _selected_position(ctx, patches, waxes, select_prim,
                                         dtype, valid_mask(ctx, wargs))
  sel = tf.where(init_wins, k, sel)
  rank = len(tpatches.shape)
  oaxes = [a for a in range(rank) if a not in waxes]
  t = tf.transpose(tpatches, oaxes + waxes)
  t = tf.reshape(t, tf.concat([tf.shape(t)[:len(oaxes)], [-1]], 0))
  one_hot = tf.equal(tf.range(k), sel[..., None])
  return tf.reduce_sum(tf.where(one_hot, t, tf.zeros((), t.dtype)), axis=-1)


@register(prims.select_and_scatter_add_p)
def _select_and_scatter_add(ctx: RuleContext, source: Any, operand: Any, *,
                            select_prim: Any, window_dimensions: Sequence[int],
                            window_strides: Sequence[int],
                            padding: Sequence[tuple[int, int]]) -> Any:
  """Adds each source value at its window's selected operand element.

  Padding takes part in the selection as -inf (ge) / +inf (le), as in
  XLA; a source value whose window selects padding is dropped.
  """
  return _scatter_to_selected(
      ctx, source, operand, ctx.avals_in[1], ctx.avals_in[0], select_prim,
      lax.add_p, None, window_dimensions, window_strides, padding)


def _select_comparison(jaxpr: Any) -> Any:
  """ge_p / le_p for a select body `x >= y` / `x <= y`, else None."""
  if len(jaxpr.eqns) != 1 or jaxpr.constvars or len(jaxpr.invars) != 2:
    return None
  (eqn,) = jaxpr.eqns
  if eqn.primitive not in (lax.ge_p, lax.le_p):
    return None
  if [id(v) for v in eqn.invars] != [id(v) for v in jaxpr.invars]:
    return None
  if jaxpr.outvars[0] is not eqn.outvars[0]:
    return None
  return eqn.primitive


@register(prims.select_and_scatter_p)
def _select_and_scatter(ctx: RuleContext, operand: Any, source: Any,
                        init_value: Any, *, select_jaxpr: Any,
                        select_consts: Any, scatter_jaxpr: Any,
                        scatter_consts: Any, window_dimensions: Sequence[int],
                        window_strides: Sequence[int],
                        padding: Sequence[tuple[int, int]]) -> Any:
  """XLA's SelectAndScatter for the forms we can express: a `>=` / `<=`
  select (the first max / min of each window, as select_and_scatter_add)
  and a monoid scatter (add, mul, max, min), whose result does not depend
  on the order in which overlapping windows are scattered."""
  select_prim = _select_comparison(select_jaxpr)
  monoid = None if scatter_consts else monoid_of_body(scatter_jaxpr)
  if select_prim is None or select_consts:
    raise ctx.unsupported("a select other than x >= y or x <= y")
  if monoid is None or monoid[0] not in (lax.add_p, lax.mul_p, lax.max_p,
                                         lax.min_p):
    raise ctx.unsupported("a scatter other than add, mul, max or min")
  return _scatter_to_selected(
      ctx, source, operand, ctx.avals_in[0], ctx.avals_in[1], select_prim,
      monoid[0], init_value, window_dimensions, window_strides, padding)


def _scatter_to_selected(ctx: RuleContext, source: Any, operand: Any,
                         op_aval: Any, src_aval: Any, select_prim: Any,
                         scatter_prim: Any, init_value: Any,
                         window_dimensions: Sequence[int],
                         window_strides: Sequence[int],
                         padding: Sequence[tuple[int, int]]) -> Any:
  """Combines each source value (with `scatter_prim`) into the operand
  element its window selects; elements no window selects get init_value
  (zero when None)."""
  dtype = op_aval.dtype
  rank = len(window_dimensions)
  if not all(known_nonnegative(p) for pair in padding for p in pair):
    raise ctx.unsupported("negative (or symbolic of unknown sign) padding")
  ones = (1,) * rank
  wargs = dict(in_shape=op_aval.shape, out_shape=src_aval.shape,
               window_dimensions=window_dimensions,
               window_strides=window_strides, padding=padding,
               base_dilation=ones, window_dilation=ones)
  kind = "max" if select_prim is lax.ge_p else "min"
  patches, waxes = window_patches(ctx, operand,
                                  tf.constant(window_identity(kind, dtype)), **wargs)
  sel, _, k = _selected_position(ctx, patches, waxes, select_prim, dtype)
  # Padded-operand coordinates of each window's selected element.
  outs = [ctx.dim(d) for d in src_aval.shape]
  padded = [ctx.dim(d + lo + hi) for d, (lo, hi) in zip(op_aval.shape,
                                                       padding)]
  flat = tf.zeros_like(sel)
  rem = sel
  win_strides = [int(np.prod(window_dimensions[a + 1:], dtype=np.int64))
                 for a in range(rank)]
  for a in range(rank):
    w_a = (rem // win_strides[a]) % window_dimensions[a]
    shape = [1] * rank
    shape[a] = -1
    o_a = tf.reshape(tf.range(outs[a]), shape)
    flat = flat * padded[a] + (o_a * window_strides[a] + w_a)
  total = 1
  for d in padded:
    total = total * d
  data, ids = tf.reshape(source, [-1]), tf.reshape(flat, [-1])
  if scatter_prim is lax.add_p:
    out = _segment_sum(data, ids, total, dtype)
  else:
    if dt.is_bool(dtype) or not (dt.is_inexact(dtype)
                                 or data.dtype in (tf.int32, tf.int64)):
      raise ctx.unsupported(f"a {scatter_prim} scatter of {dtype}")
    reduce = {lax.mul_p: tf.math.unsorted_segment_prod,
              lax.max_p: tf.math.unsorted_segment_max,
              lax.min_p: tf.math.unsorted_segment_min}[scatter_prim]
    out = reduce(data, ids, total)
  out = tf.reshape(out, padded if all(isinstance(d, int) for d in padded)
                   else tf.stack(padded))
  begin = [ctx.dim(lo) for lo, _ in padding]
  out = tf.slice(out, as_shape(begin), ctx.shape_tensor(op_aval))
  if init_value is None:
    return out
  combine = {lax.add_p: tf.add, lax.mul_p: tf.multiply, lax.max_p: tf.maximum,
             lax.min_p: tf.minimum}[scatter_prim]
  return combine(init_value, out)


def _segment_sum(data: Any, ids: Any, n: Any, dtype: Any) -> Any:
  """unsorted_segment_sum for every dtype (narrow ints summed in int32)."""
  if dt.is_bool(dtype):
    summed = tf.math.unsorted_segment_sum(tf.cast(data, tf.int32), ids, n)
    return tf.math.greater(summed, 0)  # bool "add" is OR.
  wide = {tf.int8: tf.int32, tf.int16: tf.int32, tf.uint8: tf.int32,
          tf.uint16: tf.int32, tf.uint32: tf.int64, tf.uint64: tf.int64}
  t = data.dtype
  if t in wide:
    summed = tf.math.unsorted_segment_sum(tf.cast(data, wide[t]), ids, n)
    return tf.cast(summed, t)
  return tf.math.unsorted_segment_sum(data, ids, n)
