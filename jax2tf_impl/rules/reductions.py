"""Rules for reductions: reduce_{sum,prod,max,min,and,or,xor}, argmax/argmin
and the generic variadic `reduce` (a jaxpr body).

Semantics matched (JAX/XLA on CPU):
- reduce_max/min propagate NaN (XLA's max/min do; TF's reduce_max does in
  eager but not under XLA), complex max/min are lexicographic on (re, im),
  bool max/min are any/all.
- reduce_and/or/xor are logical on bool and bitwise on integers.
- argmax/argmin return the first index of the extreme value; a NaN counts
  as the extreme value (the first NaN wins), as JAX's variadic reducer does.
- The generic `reduce` applies its init value once per output element.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf
from jax import lax

from jax2tf_impl import dtypes as dt
from jax2tf_impl import jax_internals as ji
from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.monoids import (
    MONOIDS, Binop, body_tree_reduce, monoid_of_body, reduce_and,
    reduce_extreme, reduce_max, reduce_min, reduce_or, reduce_prod, reduce_sum,
    reduce_xor)
from jax2tf_impl.rules.semantics import is_nan

# --- primitive rules -------------------------------------------------------
def _simple(reducer: Callable[[Any, Sequence[int], Any], Any]):
  def rule(ctx: RuleContext, x: Any, *, axes: Sequence[int], **_: Any) -> Any:
    return reducer(x, axes, ctx.avals_in[0].dtype)
  rule.__name__ = f"rule_{reducer.__name__}"
  return rule


register(lax.reduce_sum_p)(_simple(reduce_sum))
register(lax.reduce_prod_p)(_simple(reduce_prod))
register(lax.reduce_max_p)(_simple(reduce_max))
register(lax.reduce_min_p)(_simple(reduce_min))
register(lax.reduce_and_p)(_simple(reduce_and))
register(lax.reduce_or_p)(_simple(reduce_or))
register(lax.reduce_xor_p)(_simple(reduce_xor))


def arg_extreme(x: Any, axis: int, n: Any, dtype: Any, greater: bool,
                indices: Any = None, index_tf_dtype: Any = tf.int64
                ) -> tuple[Any, Any]:
  """(extreme value, its first index) along `axis`, NaN counting as extreme.

  `indices` (same shape as x) replaces the positions; ties pick the smallest.
  """
  if dt.is_bool(dtype):
    x = tf.cast(x, tf.int8)
    dtype = np.int8
  value = reduce_extreme(x, [axis], dtype, greater)
  hit = tf.equal(x, tf.expand_dims(value, axis))
  if dt.is_inexact(dtype):
    if dt.is_complex(dtype):
      re_im = (tf.math.real(x), tf.math.imag(x))
      hit = hit | is_nan(re_im[0]) | is_nan(re_im[1])
    else:
      hit = hit | is_nan(x)
  if indices is None:
    shape = [1] * len(x.shape)
    shape[axis] = -1
    indices = tf.reshape(tf.range(n, dtype=index_tf_dtype), shape)
  big = tf.constant(indices.dtype.max, indices.dtype)
  index = tf.reduce_min(tf.where(hit, indices, big), axis=axis)
  return value, index


def _argminmax(greater: bool):
  def rule(ctx: RuleContext, x: Any, *, axes: Sequence[int], index_dtype: Any
           ) -> Any:
    (axis,) = axes
    aval = ctx.avals_in[0]
    if dt.is_complex(aval.dtype):
      raise ctx.unsupported("argmin/argmax of complex numbers")
    n = ctx.dim(aval.shape[axis])
    wide = isinstance(n, int) and n >= 2**31 - 1
    _, index = arg_extreme(x, axis, n, aval.dtype, greater,
                           index_tf_dtype=tf.int64 if wide else tf.int32)
    return tf.cast(index, ctx.tf_dtype(index_dtype))
  return rule


register(lax.argmax_p)(_argminmax(greater=True))
register(lax.argmin_p)(_argminmax(greater=False))


# --- generic variadic reduce ----------------------------------------------
def _argminmax_reducer_kind(computation: Any) -> bool | None:
  """True/False for JAX's own argmax/argmin variadic reducer, else None."""
  cmp = ji.argminmax_value_comparator(computation)
  if cmp is lax.gt:
    return True
  if cmp is lax.lt:
    return False
  return None


@register(lax.reduce_p)
def _reduce(ctx: RuleContext, *args: Any, computation: Any, jaxpr: Any,
            dimensions: Sequence[int]) -> list[Any]:
  n = len(args) // 2
  operands, inits = list(args[:n]), list(args[n:])
  avals = ctx.avals_in[:n]
  dims = list(dimensions)
  prims = monoid_of_body(jaxpr.jaxpr)
  if prims is not None:
    outs = []
    for x, init, aval, prim in zip(operands, inits, avals, prims):
      reducer, binop = MONOIDS[prim]
      outs.append(binop(aval.dtype)(reducer(x, dims, aval.dtype), init))
    return outs
  greater = _argminmax_reducer_kind(computation)
  if greater is not None and n == 2 and len(dims) == 1:
    return _variadic_arg_extreme(ctx, operands, inits, dims[0], greater)
  return generic_reduce(ctx, jaxpr, operands, inits, dims)


def _variadic_arg_extreme(ctx: RuleContext, operands: list[Any],
                          inits: list[Any], axis: int, greater: bool
                          ) -> list[Any]:
  """JAX's argmax/argmin reducer: (extreme value, smallest index among ties)."""
  x, idx = operands
  v0, i0 = inits
  dtype = ctx.avals_in[0].dtype
  n = ctx.dim(ctx.avals_in[0].shape[axis])
  value, index = arg_extreme(x, axis, n, dtype, greater, indices=idx)
  if dt.is_bool(dtype):
    value = tf.cast(value, tf.bool)
  # Combine with the init value exactly as the reducer would (op=result).
  cmp = _greater_fn(dtype) if greater else _less_fn(dtype)
  pick_val = cmp(value, v0)
  if dt.is_inexact(dtype):
    pick_val = pick_val | tf.math.not_equal(value, value)
  pick_idx = pick_val | (tf.equal(value, v0) & tf.less(index, i0))
  return [tf.where(pick_val, value, v0), tf.where(pick_idx, index, i0)]


def _greater_fn(dtype: Any) -> Binop:
  if dt.is_bool(dtype):
    return lambda a, b: tf.math.logical_and(a, tf.math.logical_not(b))
  return tf.math.greater


def _less_fn(dtype: Any) -> Binop:
  if dt.is_bool(dtype):
    return lambda a, b: tf.math.logical_and(tf.math.logical_not(a), b)
  return tf.math.less


def generic_reduce(ctx: RuleContext, body: Any, operands: list[Any],
                   inits: list[Any], dims: Sequence[int]) -> list[Any]:
  """Any reducer body: reduced axes moved first and flattened, then a
  pairwise tree of the (vmapped) body. The reduced axes must be static."""
  aval = ctx.avals_in[0]
  if not ctx.is_static([aval.shape[d] for d in dims]):
    raise ctx.unsupported("a generic reduce body over symbolic axes")
  dtypes = [a.dtype for a in ctx.avals_in[:len(operands)]]
  rank = len(aval.shape)
  keep = [i for i in range(rank) if i not in dims]
  n = int(np.prod([aval.shape[d] for d in dims], dtype=np.int64))
  m = 1
  for d in keep:
    m = m * ctx.dim(aval.shape[d])
  perm = list(dims) + keep
  xs = [tf.reshape(tf.transpose(x, perm) if perm != list(range(rank)) else x,
                   tf.stack([n, m]) if not isinstance(m, int) else [n, m])
        for x in operands]
  outs = body_tree_reduce(ctx, body, xs, inits, dtypes, n, m)
  out_shape = ctx.shape_tensor([aval.shape[d] for d in keep])
  return [tf.reshape(o, out_shape) for o in outs]
