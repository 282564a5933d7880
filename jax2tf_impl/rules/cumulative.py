"""Rules for cumulative reductions: cumsum, cumprod, cummax, cummin,
cumlogsumexp (params `axis`, `reverse`).

Semantics matched (JAX's associative-scan lowering on CPU):
- on bool, cumsum/cummax are a running OR, cumprod/cummin a running AND;
- cummax/cummin propagate NaN from the first NaN onwards (lax.max/min do);
- integer sums and products wrap around.
TF has cumsum/cumprod/cumulative_logsumexp kernels; running max/min have
none, so they are a log2(n)-step Hillis-Steele scan of portable ops.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
from jax.extend.core import primitives as prims

from jax2tf_impl import dtypes as dt
from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.monoids import Binop, max_binop, min_binop
from jax2tf_impl.rules.semantics import is_nan


def _max_identity(dtype: Any) -> np.ndarray:
  np_dtype = dt.to_np_dtype(dtype)
  if dt.is_bool(dtype):
    return np.array(False)
  if dt.is_inexact(dtype):
    return np.array(-np.inf, np_dtype)
  return np.array(np.iinfo(np_dtype).min, np_dtype)


def _min_identity(dtype: Any) -> np.ndarray:
  np_dtype = dt.to_np_dtype(dtype)
  if dt.is_bool(dtype):
    return np.array(True)
  if dt.is_inexact(dtype):
    return np.array(np.inf, np_dtype)
  return np.array(np.iinfo(np_dtype).max, np_dtype)


def scan_associative(x: Any, axis: int, n: Any, binop: Binop,
                     identity: np.ndarray, reverse: bool) -> Any:
  """Inclusive scan of `binop` along `axis` (Hillis-Steele, log2(n) steps).

  Each step combines x with x shifted by s (tf.roll, with the first s
  positions masked to `identity`), so it also works for symbolic n.
  """
  if reverse:
    x = tf.reverse(x, [axis])
  rank = len(x.shape)
  shape = [1] * rank
  shape[axis] = -1
  positions = tf.reshape(tf.range(n), shape)
  ident = tf.constant(identity)

  def step(y: Any, s: Any) -> Any:
    shifted = tf.where(positions < s, ident, tf.roll(y, s, axis))
    return binop(y, shifted)

  if isinstance(n, int):
    s = 1
    while s < n:
      x = step(x, s)
      s *= 2
  else:
    _, x = tf.while_loop(lambda s, y: s < n, lambda s, y: (s * 2, step(y, s)),
                         [tf.constant(1, tf.int32), x])
  if reverse:
    x = tf.reverse(x, [axis])
  return x


def _n(ctx: RuleContext, axis: int) -> Any:
  return ctx.dim(ctx.avals_in[0].shape[axis])


@register(prims.cummax_p)
def _cummax(ctx: RuleContext, x: Any, *, axis: int, reverse: bool) -> Any:
  dtype = ctx.avals_in[0].dtype
  return scan_associative(x, axis, _n(ctx, axis), max_binop(dtype),
                          _max_identity(dtype), reverse)


@register(prims.cummin_p)
def _cummin(ctx: RuleContext, x: Any, *, axis: int, reverse: bool) -> Any:
  dtype = ctx.avals_in[0].dtype
  return scan_associative(x, axis, _n(ctx, axis), min_binop(dtype),
                          _min_identity(dtype), reverse)


def _with_wider_floats(ctx: RuleContext, x: Any, fn: Any) -> Any:
  """Runs `fn` in float32 for float16/bfloat16 (exact sums, then rounded)."""
  dtype = ctx.avals_in[0].dtype
  if ctx.tf_dtype(dtype) in (tf.float16, tf.bfloat16):
    return tf.cast(fn(tf.cast(x, tf.float32)), ctx.tf_dtype(dtype))
  return fn(x)


_SIGNED_OF = {tf.uint8: tf.int8, tf.uint16: tf.int16, tf.uint32: tf.int32,
              tf.uint64: tf.int64}


def _int_scan(x: Any, fn: Any) -> Any:
  """Runs `fn` (cumsum/cumprod) on int32/int64 only: XLA has no Cumsum or
  Cumprod kernel for narrower or unsigned integers. Wrap-around results
  are the same modulo 2**bits, so bitcasting unsigned to signed and
  widening 8/16-bit integers is exact."""
  dtype = x.dtype
  y = tf.bitcast(x, _SIGNED_OF[dtype]) if dtype in _SIGNED_OF else x
  narrow = y.dtype in (tf.int8, tf.int16)
  if narrow:
    y = tf.cast(y, tf.int32)
  y = fn(y)
  if narrow:
    y = tf.cast(y, tf.int8 if dtype.size == 1 else tf.int16)
  return tf.bitcast(y, dtype) if dtype in _SIGNED_OF else y


def _complex_cumsum(ctx: RuleContext, x: Any, scan: Any, reverse: bool,
                    axis: int) -> Any:
  """Sums are linear: real and imaginary parts separately (XLA has no
  complex Cumsum kernel)."""
  del ctx, reverse, axis
  return tf.complex(scan(tf.math.real(x)), scan(tf.math.imag(x)))


def _complex_cumprod(ctx: RuleContext, x: Any, scan: Any, reverse: bool,
                     axis: int) -> Any:
  """XLA has no complex Cumprod kernel: an associative scan of multiply."""
  del scan
  dtype = ctx.avals_in[0].dtype
  return scan_associative(x, axis, _n(ctx, axis), tf.math.multiply,
                          np.array(1, dt.to_np_dtype(dtype)), reverse)


def _cumulative_rule(tf_scan: Any, bool_op: Any, bool_identity: bool,
                     complex_scan: Any) -> Any:
  """cumsum / cumprod: TF's kernel for floats (wider for half types) and
  integers (wrapping), a logical associative scan for bool."""

  def rule(ctx: RuleContext, x: Any, *, axis: int, reverse: bool) -> Any:
    dtype = ctx.avals_in[0].dtype
    scan = lambda y: tf_scan(y, axis=axis, reverse=reverse)
    if dt.is_bool(dtype):
      return scan_associative(x, axis, _n(ctx, axis), bool_op,
                              np.array(bool_identity), reverse)
    if dt.is_integer(dtype):
      return _int_scan(x, scan)
    if dt.is_complex(dtype):
      return complex_scan(ctx, x, scan, reverse, axis)
    # float16/bfloat16 in their own type: TF's kernels round the running
    # value at every step, as JAX's results do (JAX's cumsum/cumprod
    # harnesses: at JAX's default tolerance, where a float32 scan rounded
    # once is 2e-3 off in float16; under jit_compile TF's XLA is 2e-3 off
    # either way).
    return scan(x)

  return rule


register(prims.cumsum_p)(_cumulative_rule(
    tf.math.cumsum, tf.math.logical_or, False, _complex_cumsum))
register(prims.cumprod_p)(_cumulative_rule(
    tf.math.cumprod, tf.math.logical_and, True, _complex_cumprod))


@register(prims.cumlogsumexp_p)
def _cumlogsumexp(ctx: RuleContext, x: Any, *, axis: int, reverse: bool) -> Any:
  if not dt.is_float(ctx.avals_in[0].dtype):
    raise ctx.unsupported("cumlogsumexp of a non-floating dtype")
  return _with_wider_floats(
      ctx, x, lambda y: _logsumexp_scan(y, axis, reverse))


def _logsumexp_scan(y: Any, axis: int, reverse: bool) -> Any:
  """TF's kernel drops NaN (gives -inf) and gives NaN once two +inf meet;
  JAX's logaddexp combiner propagates NaN and keeps +inf. Patched from
  running counts of NaN / +inf seen so far along the axis."""
  out = tf.math.cumulative_logsumexp(y, axis=axis, reverse=reverse)
  seen = lambda m: tf.math.cumsum(tf.cast(m, tf.int32), axis=axis, reverse=reverse) > 0
  out = tf.where(seen(tf.math.equal(y, np.inf)), tf.constant(np.inf, y.dtype), out)
  return tf.where(seen(is_nan(y)), tf.constant(np.nan, y.dtype), out)
