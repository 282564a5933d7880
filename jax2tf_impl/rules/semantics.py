"""JAX's arithmetic semantics as TF functions, shared by several families.

The elementwise rules, every reduction, scan and window that combines with
max/min, and the math rules that divide complex numbers all need the same
answers as XLA on CPU (NaN propagation, -0.0 < +0.0, lexicographic complex
order, C99 complex division): each of those lives here once.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from jax2tf_impl import dtypes as dt


def scalar(value: Any, like_dtype: Any) -> tf.Tensor:
  """A scalar constant of the numpy/JAX dtype `like_dtype`."""
  return tf.constant(np.asarray(value, dtype=dt.to_np_dtype(like_dtype)))


def is_nan(x: Any) -> Any:
  """NaN test as `x != x` rather than TF's IsNan.

  The same answer for every float dtype (IEEE: only NaN is unequal to
  itself; XLA and TF do not fold the comparison for floats), one op either
  way, and NotEqual is in every reader of our graphs: TFLite builtins,
  tf2onnx, TF.js and tf2jax, which has no IsNan (so a graph holding it, e.g.
  every NaN-propagating max, could not be read back into JAX).
  """
  return tf.math.not_equal(x, x)


def is_inf(x: Any) -> Any:
  """|x| == inf rather than TF's IsInf, which tf2jax cannot read (as is_nan)."""
  return tf.math.equal(tf.math.abs(x), tf.constant(np.inf, x.dtype))


def np_dtype(aval: Any) -> np.dtype:
  return np.dtype(aval.dtype)


def is_half(dtype: Any) -> bool:
  """float16/bfloat16: types XLA on CPU computes in float32 and rounds."""
  return np.dtype(dtype) in (np.dtype(np.float16),
                             dt.to_np_dtype(tf.bfloat16))


def _lexicographic_pick(x: Any, y: Any, greater: bool) -> Any:
  """Complex max/min as XLA: compare real parts, then imaginary parts."""
  cmp = tf.math.greater if greater else tf.math.less
  rx, ry = tf.math.real(x), tf.math.real(y)
  pick_x = tf.where(tf.math.equal(rx, ry),
                    cmp(tf.math.imag(x), tf.math.imag(y)), cmp(rx, ry))
  return tf.where(pick_x, x, y)


def max_or_min(dtype: Any, is_max: bool) -> Any:
  """lax.max / lax.min for `dtype` as a binary TF function.

  Shared by the elementwise rules and every reduction, scan and window that
  combines with max/min, so they all agree with XLA on CPU: NaN propagates,
  -0.0 < +0.0, complex compares (real, imag) lexicographically, bool is
  or/and.
  """
  dtype = np.dtype(dtype)
  if dt.is_bool(dtype):
    return tf.math.logical_or if is_max else tf.math.logical_and
  if dt.is_complex(dtype):
    return lambda x, y: _lexicographic_pick(x, y, greater=is_max)
  plain = tf.math.maximum if is_max else tf.math.minimum
  if not dt.is_float(dtype):
    return plain

  def float_max_or_min(x: Any, y: Any) -> Any:
    # TF's kernels pick either zero when comparing -0.0 with +0.0, and TF's
    # XLA lowering drops NaNs. x + y of two zeros is +0.0 unless both are
    # -0.0, which is max; min is the mirror image: -((-x) + (-y)). x + y is
    # also NaN if either is.
    zero = scalar(0, dtype)
    both_zero = tf.math.logical_and(tf.math.equal(x, zero),
                                    tf.math.equal(y, zero))
    zero_or_nan = (
        tf.math.add(x, y) if is_max else
        tf.math.negative(tf.math.add(tf.math.negative(x),
                                     tf.math.negative(y))))
    any_nan = tf.math.logical_or(is_nan(x), is_nan(y))
    return tf.where(tf.math.logical_or(both_zero, any_nan), zero_or_nan,
                    plain(x, y))

  return float_max_or_min


def complex_divide(x: Any, y: Any) -> Any:
  """x / y for complex values as XLA computes it: Smith's algorithm (no
  overflow in |y|**2, unlike TF's kernel), then C99-style fixes where that
  gives NaN + NaN*j: a zero divisor, an infinite numerator over a finite
  divisor, a finite numerator over an infinite divisor."""
  a, b = tf.math.real(x), tf.math.imag(x)
  c, d = tf.math.real(y), tf.math.imag(y)
  zero, one = tf.zeros_like(a), tf.ones_like(a)
  inf = one * np.inf
  c_over_d = c / d
  denom_d = d + c_over_d * c
  d_over_c = d / c
  denom_c = c + d_over_c * d
  c_smaller = tf.math.abs(c) < tf.math.abs(d)
  re = tf.where(c_smaller, (c_over_d * a + b) / denom_d,
                (d_over_c * b + a) / denom_c)
  im = tf.where(c_smaller, (c_over_d * b - a) / denom_d,
                (b - d_over_c * a) / denom_c)

  def copysign(mag: Any, sign_of: Any) -> Any:
    negative = tf.math.logical_or(
        sign_of < zero,
        tf.math.logical_and(tf.math.equal(sign_of, zero),
                            tf.math.less(one / sign_of, zero)))
    return tf.where(negative, -tf.math.abs(mag), tf.math.abs(mag))

  is_inf = lambda v: tf.math.equal(tf.math.abs(v), inf)
  is_fin = tf.math.is_finite
  # Case 1: zero divisor, numerator not NaN + NaN*j.
  zero_div = tf.math.logical_and(
      tf.math.logical_and(tf.math.equal(c, zero), tf.math.equal(d, zero)),
      tf.math.logical_or(tf.math.logical_not(is_nan(a)),
                         tf.math.logical_not(is_nan(b))))
  signed_inf = copysign(inf, c)
  re1, im1 = signed_inf * a, signed_inf * b
  def inf_over_finite(p: Any, q: Any, r: Any, s: Any) -> tuple[Any, Any, Any]:
    """Where p + qj is infinite and r + sj finite (the C99 fix-up cases):
    that mask, and p, q replaced by their signed infinity indicators."""
    case = tf.math.logical_and(tf.math.logical_or(is_inf(p), is_inf(q)),
                               tf.math.logical_and(is_fin(r), is_fin(s)))
    return (case, copysign(tf.where(is_inf(p), one, zero), p),
            copysign(tf.where(is_inf(q), one, zero), q))

  # Case 2: infinite numerator, finite divisor.
  inf_num, a_unit, b_unit = inf_over_finite(a, b, c, d)
  re2 = inf * (a_unit * c + b_unit * d)
  im2 = inf * (b_unit * c - a_unit * d)
  # Case 3: finite numerator, infinite divisor.
  inf_den, c_unit, d_unit = inf_over_finite(c, d, a, b)
  re3 = zero * (a * c_unit + b * d_unit)
  im3 = zero * (b * c_unit - a * d_unit)

  both_nan = tf.math.logical_and(is_nan(re), is_nan(im))
  fix = lambda v1, v2, v3, v: tf.where(
      both_nan, tf.where(zero_div, v1, tf.where(inf_num, v2,
                                                tf.where(inf_den, v3, v))), v)
  return tf.complex(fix(re1, re2, re3, re), fix(im1, im2, im3, im))
