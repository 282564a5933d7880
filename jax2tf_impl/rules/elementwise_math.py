"""Rules for transcendental elementwise math (real and complex).

XLA on CPU evaluates float16/bfloat16 math in float32 and rounds the result;
we do the same (TF's half kernels are less accurate or missing). Complex
inputs use TF's complex kernels where TF has them, else the defining formula
JAX itself lowers to.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import tensorflow as tf
from jax import lax

from jax2tf_impl import dtypes as dt
from jax2tf_impl.rules import declare_default_form, register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.semantics import (complex_divide, is_half, is_inf,
                                          max_or_min)
from jax2tf_impl.rules.constant_folding import FOLDED_PRIMITIVES, fold_unary
from jax2tf_impl.rules.polynomials import horner, portable_log1p
from jax2tf_impl.rules.support import compiling_with_xla, tf_op

TfFn = Callable[..., Any]


def _in_f32_if_half(fn: TfFn, *args: Any) -> Any:
  """fn(*args), computed in float32 when the args are 16-bit floats."""
  dtype = args[0].dtype
  if not is_half(dt.to_np_dtype(dtype)):
    return fn(*args)
  return tf.cast(fn(*[tf.cast(a, tf.float32) for a in args]), dtype)


def math_unary(real_fn: TfFn, complex_fn: TfFn | None = None,
               portable_fn: TfFn | None = None, fold: str | None = None,
               portable_unless_compiled: bool = False) -> TfFn:
  """A rule for a unary math primitive (its `accuracy` param is a hint that
  XLA on CPU ignores too). `portable_fn` replaces `real_fn` under
  enable_xla=False, for TF ops that TFLite or tf2onnx lack. `fold` names
  the function for constant_folding: a constant operand is folded as XLA
  folds it. `portable_unless_compiled`: `portable_fn` in the default graph
  too, `real_fn` only where XLA compiles the graph (its kernel there is
  XLA's, as JAX's)."""

  def rule(ctx: RuleContext, x: Any, **params: Any) -> Any:
    del params
    if dt.is_complex(ctx.avals_in[0].dtype):
      if complex_fn is None:
        raise ctx.unsupported("complex operand")
      return complex_fn(x)
    folded = fold_unary(fold, x) if fold else None
    if folded is not None:
      return folded
    if real_fn is None:  # complex_fn handles real inputs itself.
      return complex_fn(x)
    if portable_fn is not None and (not ctx.enable_xla or (
        portable_unless_compiled and not compiling_with_xla())):
      return _in_f32_if_half(portable_fn, x)
    return _in_f32_if_half(real_fn, x)

  rule.__name__ = f"math_{getattr(real_fn, '__name__', 'fn')}"
  return rule


def _logistic(x: Any) -> Any:
  """1 / (1 + exp(-x)), JAX's definition for complex x."""
  one = tf.ones_like(x)
  return complex_divide(one, tf.math.add(one, tf.math.exp(-x)))


def _log1p_complex(x: Any) -> Any:
  """log(1 + x) without cancellation: the modulus part is
  0.5 * log1p(a * (2 + a) + b**2) (log|1 + x| where that overflows), the
  angle atan2(b, 1 + a); log1p(-1 + 0j) is -inf + 0j as in JAX."""
  a, b = tf.math.real(x), tf.math.imag(x)
  one = tf.ones_like(a)
  t = a * (one + one + a) + b * b
  modulus = tf.where(tf.math.is_finite(t), 0.5 * tf.math.log1p(t),
                     tf.math.log(tf.math.abs(tf.complex(one + a, b))))
  return tf.complex(modulus, tf.math.atan2(b, one + a))


def _expm1_complex(x: Any) -> Any:
  """exp(x) - 1 = (expm1(a) cos b - 2 sin(b/2)**2) + i exp(a) sin b, which
  stays accurate near 0 and keeps a real input's imaginary part 0."""
  a, b = tf.math.real(x), tf.math.imag(x)
  half_sin = tf.math.sin(0.5 * b)
  re = tf.math.expm1(a) * tf.math.cos(b) - 2 * half_sin * half_sin
  im = tf.where(tf.math.equal(b, tf.zeros_like(b)), b,
                tf.math.exp(a) * tf.math.sin(b))
  return tf.complex(re, im)


def _exp2(x: Any) -> Any:
  """exp(log(2) * x), as JAX lowers exp2: the product is rounded to x's
  dtype (visibly inexact for 16-bit floats) before the exp."""
  t = tf.math.multiply(tf.constant(np.log(2), x.dtype), x)
  return _in_f32_if_half(tf.math.exp, t)


def _erf(x: Any) -> Any:
  """erf, with erf(+-inf) == +-1 (TF's float64 kernel returns NaN there)."""
  return tf.where(is_inf(x), tf.math.sign(x), tf.math.erf(x))


# erf(x) ~ x * P(x^2) / Q(x^2) on [-4, 4] (clamped outside, where erf is
# +-1 in float32): the rational approximation Eigen and XLA use for float32,
# coefficients highest power first.
_ERF_P = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
          -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
          -1.60960333262415e-02)
_ERF_Q = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
          -7.37332916720468e-03, -1.42647390514189e-02)


def _erf_portable(x: Any) -> Any:
  """erf from arithmetic for float32 (TFLite has no Erf builtin); float64
  keeps TF's Erf (no portable target computes in float64)."""
  if x.dtype == tf.float64:
    return _erf(x)
  clamped = tf.clip_by_value(x, -4.0, 4.0)
  x2 = clamped * clamped
  return clamped * horner(_ERF_P, x2) / horner(_ERF_Q, x2)


# erfc(z) = t exp(-z^2 + poly(t)), t = 1 / (1 + z/2), z >= 0: the Chebyshev
# fit of Numerical Recipes' erfcc (fractional error < 1.2e-7 everywhere),
# coefficients lowest power first.
_ERFC_T = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
           0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277)


def _erfc_portable(x: Any) -> Any:
  """erfc for float32 without an Erfc op (neither TFLite nor tf2onnx has
  one), with relative accuracy in the tail; float64 keeps TF's Erfc."""
  if x.dtype == tf.float64:
    return tf.math.erfc(x)
  z = tf.math.abs(x)
  t = 1.0 / (1.0 + 0.5 * z)
  tail = t * tf.math.exp(-z * z + horner(_ERFC_T[::-1], t))
  return tf.where(x < 0, 2.0 - tail, tail)


def _scaled_hypot_ratio(big: Any, small: Any, one: Any, two: Any) -> Any:
  """big * sqrt(1 + (small / big)^2) without overflow; big >= small >= 0
  (big == small: sqrt(2) big; (small / big)^2 below rounding: the first
  term of the series)."""
  ratio = small / big
  r = ratio * ratio
  root = tf.math.sqrt(one + r)
  series = tf.math.logical_and(tf.math.equal(root, one), r > 0)
  return tf.where(tf.math.equal(big, small), tf.constant(np.sqrt(2.0), big.dtype) * big,
                  tf.where(series, big + big * r / two, big * root))


def _sqrt_complex(z: Any) -> Any:
  """Principal square root as XLA computes it (JAX's results): Kahan's
  u = sqrt((|x| + |z|) / 2), v = |y| / 2u, with |z| scaled against overflow
  and the u == 0 / u == inf cases rescaled by square roots of |x|, |y|. An
  imaginary part of -0.0 counts as positive (sqrt(-1 - 0j) == +1j; TF's
  kernel follows C99's csqrt: -1j), and large |z| does not overflow (TF's
  kernel: sqrt(3e38) == inf in complex64)."""
  x, y = tf.math.real(z), tf.math.imag(z)
  dtype = x.dtype
  zero, one, two = (tf.constant(v, dtype) for v in (0.0, 1.0, 2.0))
  sq2 = tf.constant(np.sqrt(2.0), dtype)
  ax, ay = tf.math.abs(x), tf.math.abs(y)
  # NaN-propagating max/min (TF's XLA lowering drops NaNs).
  nan_max = max_or_min(dtype.as_numpy_dtype, True)
  nan_min = max_or_min(dtype.as_numpy_dtype, False)
  mx, mn = nan_max(ax, ay), nan_min(ax, ay)
  u_general = tf.math.sqrt(_scaled_hypot_ratio(mx, mn, one, two) / two
                           + ax / two)
  rescale = tf.math.logical_or(tf.math.equal(u_general, zero),
                               tf.math.is_inf(u_general))
  same = tf.math.equal(ax, ay)
  x_bigger = ax > ay
  ratio = tf.where(same, one, tf.where(ax < ay, ax / ay, ay / ax))
  a_ratio = tf.math.abs(ratio)
  h = _scaled_hypot_ratio(nan_max(one, a_ratio), nan_min(one, a_ratio),
                          one, two)
  sq_1h, sq_rh = tf.math.sqrt(one + h), tf.math.sqrt(ratio + h)
  sq_ax, sq_ay = tf.math.sqrt(ax), tf.math.sqrt(ay)
  sqrt_1_sq2 = tf.constant(np.sqrt(1.0 + np.sqrt(2.0)), dtype)
  u = tf.where(
      same, sq_ax * sqrt_1_sq2 / sq2,
      tf.where(rescale,
               tf.where(x_bigger, sq_ax * (sq_1h / sq2), sq_ay * (sq_rh / sq2)),
               u_general))
  sq_ratio = tf.where(same, one, tf.where(ax < ay, sq_ax / sq_ay, sq_ay / sq_ax))
  v = tf.where(
      same, sq_ay / (sq2 * sqrt_1_sq2),
      tf.where(rescale,
               tf.where(x_bigger, sq_ay * sq_ratio / (sq_1h * sq2),
                        sq_ay / (sq_rh * sq2)),
               ay / (u_general * two)))
  y_negative = y < zero
  real = tf.where(x >= zero, u, v)
  imag = tf.where(x < zero, tf.where(y_negative, -u, u),
                  tf.where(y_negative, -v, v))
  return tf.complex(real, imag)


def _rsqrt_complex(z: Any) -> Any:
  """1 / sqrt(z) in polar form, as XLA computes it: |z|^-1/2 at angle
  -arg(z) / 2 (rsqrt(-1 + 0j) == -4.4e-8 - 1j in complex64, rsqrt(1 + 0j) ==
  1 - 0j), with XLA's special values: rsqrt(0) == inf + nan j, and for an
  infinite |z| a zero whose real sign is that of x == -inf and whose
  imaginary sign is opposite to y's (a NaN y counts as positive)."""
  x, y = tf.math.real(z), tf.math.imag(z)
  dtype = x.dtype
  zero = tf.zeros([], dtype)
  modulus = tf.math.rsqrt(tf.math.abs(z))
  angle = tf.math.atan2(y, x) * tf.constant(-0.5, dtype)
  real = modulus * tf.math.cos(angle)
  imag = modulus * tf.math.sin(angle)
  infinite = tf.math.logical_or(is_inf(x), is_inf(y))
  # The sign of y, -0.0 and NaN included: atan2(y, -1) is -pi for y <= -0.0.
  y_negative = tf.math.atan2(y, -tf.ones([], dtype)) < zero
  minus_inf = tf.math.equal(x, tf.constant(-np.inf, dtype))
  real = tf.where(infinite, tf.where(minus_inf, -zero, zero), real)
  imag = tf.where(infinite, tf.where(y_negative, zero, -zero), imag)
  origin = tf.math.logical_and(tf.math.equal(x, zero), tf.math.equal(y, zero))
  real = tf.where(origin, tf.constant(np.inf, dtype), real)
  imag = tf.where(origin, tf.constant(np.nan, dtype), imag)
  return tf.complex(real, imag)


def _cbrt(x: Any) -> Any:
  """Real cube root: sign(x) * |x| ** (1/3), refined by one Newton step
  (exact cubes come out exact), keeping +-0, +-inf and NaN. The step is
  r - (r - |x| / r^2) / 3: r^3 would overflow near the dtype's maximum."""
  ax = tf.math.abs(x)
  r = tf.math.pow(ax, tf.constant(1 / 3, x.dtype))
  refined = r - (r - ax / (r * r)) / tf.constant(3, x.dtype)
  finite_nonzero = tf.math.logical_and(tf.math.is_finite(r),
                                       tf.math.greater(r, tf.zeros_like(r)))
  r = tf.where(finite_nonzero, refined, r)
  return tf.where(tf.math.less(x, tf.zeros_like(x)), -r,
                  tf.where(tf.math.equal(x, tf.zeros_like(x)), x, r))


for _prim, _real, _complex in [
    (lax.exp_p, tf_op("Exp"), tf_op("Exp")),
    (lax.exp2_p, None, _exp2),
    (lax.log_p, tf_op("Log"), tf_op("Log")),
    (lax.expm1_p, tf_op("Expm1"), _expm1_complex),
    (lax.tanh_p, tf_op("Tanh"), tf_op("Tanh")),
    (lax.logistic_p, tf_op("Sigmoid"), _logistic),
    (lax.sin_p, tf_op("Sin"), tf_op("Sin")),
    (lax.cos_p, tf_op("Cos"), tf_op("Cos")),
    (lax.tan_p, tf_op("Tan"), tf_op("Tan")),
    (lax.sinh_p, tf_op("Sinh"), tf_op("Sinh")),
    (lax.cosh_p, tf_op("Cosh"), tf_op("Cosh")),
    (lax.asinh_p, tf_op("Asinh"), tf_op("Asinh")),
    (lax.acosh_p, tf_op("Acosh"), tf_op("Acosh")),
    (lax.atanh_p, tf_op("Atanh"), tf_op("Atanh")),
    (lax.sqrt_p, tf_op("Sqrt"), _sqrt_complex),
    (lax.rsqrt_p, tf_op("Rsqrt"), _rsqrt_complex),
    (lax.cbrt_p, _cbrt, None),
]:
  register(_prim)(math_unary(
      _real, _complex,
      fold=_prim.name if _prim.name in FOLDED_PRIMITIVES else None))


declare_default_form(
    "TF's kernels are faster than the portable arithmetic forms and as exact "
    "or closer to JAX (measured, benchmarks/DEFAULT_FORMS.md, 1M elements: "
    "erf portable 1.8x slower and 5 vs 4 ulp, erfc 2.1x and 4.8 vs 1.8 ulp, "
    "atan/asin/acos: float64 native 1 ulp vs 2 ulp "
    "portable, float32 portable 1.6-2.7x slower for asin/acos, atan mixed)",
    "erf", "erfc", "atan", "asin", "acos")
# log1p: the portable form by default although TF's Log1p is 3.4x faster on
# 1M float32 (benchmarks/DEFAULT_FORMS.md): tf2onnx has no Log1p and
# TFLite's converter rewrites it to log(1 + x), wrong below 1e-7
# (docs/deployment.md, "Portable unless compiled").
register(lax.log1p_p)(math_unary(tf.math.log1p, _log1p_complex,
                                 portable_fn=portable_log1p, fold="log1p",
                                 portable_unless_compiled=True))
register(lax.erf_p)(math_unary(_erf, None, portable_fn=_erf_portable,
                               fold="erf"))
register(lax.erfc_p)(math_unary(tf.math.erfc, None, portable_fn=_erfc_portable))


def _one_minus_square_root(x: Any) -> Any:
  """sqrt(1 - x^2), as sqrt((1 - x)(1 + x)), which is exact near |x| = 1."""
  one = tf.ones([], x.dtype)
  return tf.math.sqrt((one - x) * (one + x))


# TFLite has Atan2 but no Atan/Asin/Acos builtins.
register(lax.atan_p)(math_unary(
    tf.math.atan, tf.math.atan,
    portable_fn=lambda x: tf.math.atan2(x, tf.ones_like(x))))
register(lax.asin_p)(math_unary(
    tf.math.asin, tf.math.asin,
    portable_fn=lambda x: tf.math.atan2(x, _one_minus_square_root(x))))
register(lax.acos_p)(math_unary(
    tf.math.acos, tf.math.acos,
    portable_fn=lambda x: tf.math.atan2(_one_minus_square_root(x), x)))


@register(lax.atan2_p)
def _atan2(ctx: RuleContext, x: Any, y: Any) -> Any:
  if dt.is_complex(ctx.avals_in[0].dtype):
    # TF's Atan2 is real only; XLA expands the complex one as
    # atan2(x, y) = -i log((y + i x) / sqrt(y^2 + x^2)).
    i = tf.constant(1j, x.dtype)
    return -i * tf.math.log((y + i * x) / tf.math.sqrt(y * y + x * x))
  return _in_f32_if_half(tf.math.atan2, x, y)


@register(lax.pow_p)
def _pow(ctx: RuleContext, x: Any, y: Any) -> Any:
  """x ** y; an integer exponent is converted to x's dtype first (JAX)."""
  out_dtype = ctx.tf_dtype(ctx.aval_out)
  if dt.is_integer(ctx.avals_in[1].dtype):
    y = tf.cast(y, out_dtype)
  if dt.is_complex(ctx.aval_out.dtype):
    return _complex_pow(x, y)
  return _in_f32_if_half(tf.math.pow, x, y)


def _complex_pow(x: Any, y: Any) -> Any:
  """TF's complex pow, except for a zero base where XLA defines
  0 ** (c + 0j) as 1 for c == 0, 0 for c > 0, and NaN + NaN*j otherwise."""
  c, d = tf.math.real(y), tf.math.imag(y)
  zero = tf.zeros_like(c)
  zero_result = tf.where(
      tf.math.logical_and(tf.math.equal(d, zero), c >= zero),
      tf.where(tf.math.equal(c, zero), zero + 1, zero), zero + np.nan)
  base_is_zero = tf.math.equal(x, tf.zeros_like(x))
  return tf.where(base_is_zero, tf.complex(zero_result, zero_result * zero),
                  tf.math.pow(x, y))
