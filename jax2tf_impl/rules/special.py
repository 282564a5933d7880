"""Rules for special functions (gamma family, incomplete beta, erf_inv,
Bessel, polygamma, zeta).

TF's kernels (Eigen/Cephes) compute the same functions as JAX's
decompositions to within float tolerance on the interior of the domain;
where they differ at edge values (a == 0, infinities, poles) the rule
patches the edge to JAX's value with `tf.where`. float16/bfloat16 are
computed in float32 and cast back, as JAX does (its decompositions upcast
half types, and most TF kernels lack them).
"""
from __future__ import annotations

import math
from typing import Callable

import tensorflow as tf
from jax import lax

from jax2tf_impl.rules import declare_default_form, register
from jax2tf_impl.rules.polynomials import horner, portable_log1p
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.semantics import is_inf, is_nan
from jax2tf_impl.rules.support import compiling_with_xla

_HALF_TYPES = (tf.float16, tf.bfloat16)


def _in_float32(fn: Callable[..., tf.Tensor]) -> Callable[..., tf.Tensor]:
  """A rule computing `fn` in float32 for half types, in the operand dtype
  otherwise; the result has the aval's dtype."""

  def rule(ctx: RuleContext, *args: tf.Tensor) -> tf.Tensor:
    out_dtype = ctx.tf_dtype(ctx.aval_out)
    if out_dtype in _HALF_TYPES:
      args = tuple(tf.cast(a, tf.float32) for a in args)
    return tf.cast(fn(*args), out_dtype)

  rule.__name__ = f"in_float32_{getattr(fn, '__name__', 'fn')}"
  return rule


def _full(like: tf.Tensor, value: float) -> tf.Tensor:
  return tf.fill(tf.shape(like), tf.constant(value, like.dtype))


def _nan_where(cond: tf.Tensor, out: tf.Tensor) -> tf.Tensor:
  return tf.where(cond, _full(out, math.nan), out)


def _is_integer(v: tf.Tensor) -> tf.Tensor:
  return tf.math.equal(v, tf.math.floor(v))


# Lanczos approximation, g = 7, nine terms: the one XLA's lgamma/digamma
# expansions (CHLO decompositions, what JAX runs) evaluate in the operand's
# precision (float32 for half types).
_LANCZOS_G = 7.0
_LANCZOS_BASE = 0.99999999999980993
_LANCZOS_COEFFS = (676.5203681218851, -1259.1392167224028, 771.32342877765313,
                   -176.61502916214059, 12.507343278686905,
                   -0.13857109526572012, 9.9843695780195716e-6,
                   1.5056327351493116e-7)
_HALF_LOG_2PI = (math.log(2) + math.log(math.pi)) / 2


def _rounded(v: tf.Tensor) -> tf.Tensor:
  """v, through an op grappler does not see through: its arithmetic and
  constant-folding passes simplify (1 + s) - 1 to s and regroup sums,
  which would fold away the rounding errors the error-free transformations
  below extract. max(v, -inf) is v for all but NaN (where every caller
  discards the result), and is a builtin in TFLite, ONNX and TF.js
  (Identity and StopGradient are removed, Snapshot is not portable)."""
  return tf.math.maximum(v, tf.constant(-math.inf, v.dtype))


def _two_product(a: tf.Tensor, b: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """(p, e) with p = fl(a * b) and p + e = a * b exactly (Dekker, with
  Veltkamp's split): no FMA op in TF, and no wider type in TFLite."""
  splitter = 4097.0 if a.dtype == tf.float32 else 134217729.0

  def split(v: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    t = _rounded(splitter * v)
    hi = t - (t - v)
    return hi, v - hi

  p = a * b
  a_hi, a_lo = split(a)
  b_hi, b_lo = split(b)
  # Accumulated by subtracting negated terms: grappler's arithmetic
  # optimizer turns chains of Adds into an AddN, whose order of summation
  # loses the exactness; it leaves Subs alone.
  neg_a_lo = -a_lo
  e = (((a_hi * b_hi - p) - a_hi * -b_lo) - neg_a_lo * b_hi) - neg_a_lo * b_lo
  return p, e


def _fused_multiply_add(a: tf.Tensor, b: tf.Tensor, c: tf.Tensor | float,
                        portable: bool) -> tf.Tensor:
  """a * b + c rounded once, as XLA's CPU code (which contracts a multiply
  feeding an add into an FMA) computes it. float32: in float64 (exact
  product) unless `portable`; else the exact product's error term is added
  back after the rounded sum (exact sum error by TwoSum). Where the split
  overflows (|a|, |b| near the top of the range) the plain a * b + c."""
  if a.dtype == tf.float32 and not portable:
    wide = tf.cast(a, tf.float64) * tf.cast(b, tf.float64)
    return tf.cast(wide + tf.cast(c, tf.float64), tf.float32)
  p, e = _two_product(a, b)
  s = _rounded(p + c)
  bp = s - p
  err = (p - (s - bp)) + (c - bp)
  out = s - (-err - e)  # s + (err + e), in Subs (see _two_product)
  return tf.where(tf.math.is_finite(out), out, p + c)


_LN2_HI = 6.93147180369123816490e-01  # low 32 bits zero: k * _LN2_HI exact
_LN2_LO = 1.90821492927058770002e-10
# 1/n!, n = 16 .. 3: exp(s) - 1 - s - s^2/2 = s^3 * horner(_EXP_TAIL, s).
_EXP_TAIL = tuple(1.0 / math.factorial(n) for n in range(16, 2, -1))


def _exact_pow2(e: tf.Tensor, portable: bool) -> tf.Tensor:
  """2^e for integer-valued float64 |e| < 512, exactly (TF's Pow is not
  exact there): from the exponent bits, or where Bitcast is not portable
  (tf2onnx) as a product of the exact powers 2^(+-2^j) of e's binary
  digits."""
  if not portable:
    return tf.bitcast(tf.bitwise.left_shift(
        tf.cast(e + 1023.0, tf.int64), tf.constant(52, tf.int64)), tf.float64)
  magnitude = tf.math.abs(e)
  negative = e < 0
  out = tf.ones_like(e)
  for j in range(9):
    q = tf.math.floor(magnitude * 2.0 ** -j)
    bit = (q - 2.0 * tf.math.floor(q * 0.5)) > 0.5
    factor = tf.where(negative, tf.constant(2.0 ** -(2 ** j), e.dtype),
                      tf.constant(2.0 ** (2 ** j), e.dtype))
    out = out * tf.where(bit, factor, tf.ones_like(e))
  return out


def _log64(v: tf.Tensor, portable: bool) -> tf.Tensor:
  """float64 log(v) to ~1e-18 (XLA's is nearly correctly rounded, TF's is
  1 ulp off for a third of the values): y = TF's log, then the Newton step
  y + (v exp(-y) - 1) with exp(-y) = 2^-k exp(s) as a double-double
  (s = k ln 2 - y, |s| <= ln 2 / 2) and the products exact (_two_product).
  For v outside [1e-150, 1e150] TF's log (there ulp(log v) dwarfs its
  error, and the scalings would over/underflow)."""
  y = tf.math.log(v)
  in_range = (v > 1e-150) & (v < 1e150)
  y_safe = tf.where(in_range, y, tf.zeros_like(y))
  k = tf.math.round(y_safe / math.log(2.0))
  # s = k ln 2 - y as s + s_lo (k * _LN2_HI - y is exact; s's own rounding
  # would cost 3e-17).
  s_hi = k * _LN2_HI - y_safe
  s_tail = k * _LN2_LO
  s = _rounded(s_hi + s_tail)
  s_lo = s_tail - (s - s_hi)
  # m = v 2^-k exactly.
  m = tf.where(in_range, v, tf.ones_like(v)) * _exact_pow2(-k, portable)
  # exp(s + s_lo) = (1 + s + s^2 / 2 + s^3 tail(s)) (1 + s_lo) as hi + lo
  # (sums as Subs of negations: see _two_product).
  sq_hi, sq_lo = _two_product(s, s)
  h = _rounded(1.0 + s)
  l = s - (h - 1.0)  # exact: |s| < 1
  half_sq = 0.5 * sq_hi
  hi = _rounded(h + half_sq)
  l2 = half_sq - (hi - h)  # exact: |half_sq| < |h|
  tail = s * sq_hi * horner(_EXP_TAIL, s)
  lo = _rounded(((l - -l2) - -0.5 * sq_lo) - -tail) + s_lo * hi
  p, e = _two_product(m, hi)
  # delta = m (hi + lo) - 1 (p - 1 is exact: p is within a factor 2 of 1).
  delta = _rounded(((p - 1.0) - -e) - -(m * lo))
  return tf.where(in_range, y + delta, y)


def _log(v: tf.Tensor, portable: bool) -> tf.Tensor:
  """log rounded (nearly) like XLA's, which is nearly correctly rounded;
  TF's is up to 2 ulps off in float32. float32: through float64 unless
  `portable` (TFLite's Log has no float64); float64: _log64."""
  if v.dtype == tf.float32:
    if portable:
      return tf.math.log(v)
    return tf.cast(tf.math.log(tf.cast(v, tf.float64)), tf.float32)
  return _log64(v, portable)


# log1p as XLA's CPU backend emits it: a Cephes rational for |x| < sqrt(2) - 1
# (x - x^2/2 + x^3 P(x)/Q(x)), log(1 + x) beyond.
_LOG1P_P = (4.5270000862445199635215e-5, 4.9854102823193375972212e-1,
            6.5787325942061044846969e0, 2.9911919328553073277375e1,
            6.0949667980987787057556e1, 5.7112963590585538103336e1,
            2.0039553499201281259648e1)
_LOG1P_Q = (1.0, 1.5062909083469192043167e1, 8.3047565967967209469434e1,
            2.2176239823732856465394e2, 3.0909872225312059774938e2,
            2.1642788614495947685003e2, 6.0118660497603843919306e1)


def _log1p(x: tf.Tensor, portable: bool) -> tf.Tensor:
  """log(1 + x) by XLA's formula (TF's Log1p and the Taylor form of
  portable_log1p round differently), arithmetic and log only."""
  x2 = x * x
  # XLA evaluates P and Q with FMA steps; plain steps are within an ulp
  # of those and change no result beyond it (measured).
  ratio = horner(_LOG1P_P, x) / horner(_LOG1P_Q, x)
  small = x + _fused_multiply_add(tf.constant(-0.5, x.dtype), x2,
                                  (x * x2) * ratio, portable)
  # Through a maximum so that grappler does not rewrite log(x + 1) into
  # TF's Log1p (x + 1 >= 1 + (1 - sqrt 2) here).
  large = _log(tf.math.maximum(x + 1.0, 0.5), portable)
  return tf.where(tf.math.abs(x) < math.sqrt(2.0) - 1.0, small, large)


def _lanczos_log_t(z: tf.Tensor, portable: bool) -> tf.Tensor:
  """log(z + g + 1/2) as XLA writes it: log(g + 1/2) + log1p(z / (g + 1/2))."""
  half_g = _LANCZOS_G + 0.5
  # XLA's simplifier (and grappler) turn the division by a constant into a
  # multiplication by its rounded reciprocal: written so here.
  return math.log(half_g) + _log1p(z * (1.0 / half_g), portable)


def _lgamma_lanczos(x: tf.Tensor, portable: bool = True) -> tf.Tensor:
  """log|Gamma(x)| by XLA's expansion, step for step (the same roundings):
  Lanczos for x >= 1/2, the reflection formula below; +inf at poles and
  +-inf. Arithmetic, log and sin only (TFLite and tf2onnx have no Lgamma).
  """
  dtype = x.dtype
  reflect = x < 0.5
  z = tf.where(reflect, -x, x - 1.0)
  total = tf.constant(_LANCZOS_BASE, dtype)
  for i, c in enumerate(_LANCZOS_COEFFS):
    # total + c / (z + i + 1) as a Sub: grappler would merge a chain of Adds
    # into one AddN, which sums in another order.
    total = total - -c / (z + (i + 1.0))
  log_t = _lanczos_log_t(z, portable)
  t = z + (_LANCZOS_G + 0.5)
  # (z + 1/2) log(t) - t, written not to overflow for large t.
  log_y = (_fused_multiply_add(z + 0.5 - t / log_t, log_t, _HALF_LOG_2PI,
                               portable) +
           _log(total, portable))
  abs_x = tf.math.abs(x)
  frac = abs_x - tf.math.floor(abs_x)
  frac = tf.where(0.5 < frac, 1.0 - frac, frac)
  log_sin = _log(tf.math.sin(math.pi * frac), portable)
  reflected = tf.where(tf.math.is_finite(log_sin),
                       math.log(math.pi) - log_sin - log_y, -log_sin)
  out = tf.where(reflect, reflected, log_y)
  return tf.where(is_inf(x), tf.constant(math.inf, dtype), out)


def _digamma_lanczos(x: tf.Tensor, portable: bool = True) -> tf.Tensor:
  """digamma by XLA's expansion (the derivative of the Lanczos form above;
  reflection psi(x) = psi(1 - x) - pi cot(pi x) for x < 1/2 on the
  argument reduced to [-1/2, 1/2)); NaN at poles (x <= 0 integer)."""
  dtype = x.dtype
  reflect = x < 0.5
  z = tf.where(reflect, -x, x - 1.0)
  total = tf.constant(_LANCZOS_BASE, dtype)
  derivative = tf.zeros([], dtype)
  for i, c in enumerate(_LANCZOS_COEFFS):
    zi = z + (i + 1.0)
    derivative = derivative - c / (zi * zi)
    total = total - -c / zi  # a Sub, as in _lgamma_lanczos
  t = z + (_LANCZOS_G + 0.5)
  # log_t + derivative / total as a Sub (log_t is itself a sum, and
  # grappler would merge the two Adds into an AddN).
  out = ((_lanczos_log_t(z, portable) - -derivative / total) -
         _LANCZOS_G / t)
  reduced = x + tf.math.abs(tf.math.floor(x + 0.5))
  angle = math.pi * reduced
  reflected = out - math.pi * tf.math.cos(angle) / tf.math.sin(angle)
  out = tf.where(reflect, reflected, out)
  pole = (x <= 0.0) & _is_integer(x)
  return _nan_where(pole, out)


def _lanczos_rule(fn: Callable[..., tf.Tensor]) -> Callable[..., tf.Tensor]:
  """A rule evaluating XLA's expansion `fn` (half types in float32, as XLA
  upcasts them); under jit_compile TF's own op, which XLA already lowers to
  that expansion (and which is faster there)."""
  native = {_lgamma_lanczos: tf.math.lgamma,
            _digamma_lanczos: tf.math.digamma}[fn]

  def rule(ctx: RuleContext, x: tf.Tensor) -> tf.Tensor:
    out_dtype = ctx.tf_dtype(ctx.aval_out)
    if out_dtype in _HALF_TYPES:
      x = tf.cast(x, tf.float32)
    if ctx.enable_xla and compiling_with_xla():
      return tf.cast(native(x), out_dtype)
    return tf.cast(fn(x, portable=not ctx.enable_xla), out_dtype)

  rule.__name__ = f"rule{fn.__name__}"
  return rule


register(lax.lgamma_p)(_lanczos_rule(_lgamma_lanczos))
register(lax.digamma_p)(_lanczos_rule(_digamma_lanczos))
register(lax.bessel_i0e_p)(_in_float32(tf.math.bessel_i0e))
register(lax.bessel_i1e_p)(_in_float32(tf.math.bessel_i1e))


def _betainc(a: tf.Tensor, b: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
  """I_x(a, b) with JAX's edges (TF gives NaN for a == 0 or b == 0): the
  limits a -> 0 (or b -> inf) and b -> 0 (or a -> inf) are step functions
  of x; NaN outside 0 <= x <= 1, for negative a/b, or both limits at once."""
  out = tf.math.betainc(a, b, x)
  a_limit = tf.math.equal(a, 0) | tf.math.equal(b, math.inf)
  b_limit = tf.math.equal(b, 0) | tf.math.equal(a, math.inf)
  x_is_zero = tf.math.equal(x, 0)
  x_is_one = tf.math.equal(x, 1)
  zero = (b_limit & ~x_is_one) | (a_limit & x_is_zero)
  one = (a_limit & ~x_is_zero) | (b_limit & x_is_one)
  out = tf.where(zero, _full(out, 0.0), out)
  out = tf.where(one, _full(out, 1.0), out)
  nan = ((a < 0) | (b < 0) | (x < 0) | (x > 1) | (a_limit & b_limit)
         | is_nan(a) | is_nan(b) | is_nan(x))
  return _nan_where(nan, out)


register(lax.regularized_incomplete_beta_p)(_in_float32(_betainc))


# Giles (2010), "Approximating the erfinv function": the polynomials of
# XLA's ErfInv expansion (StableHLO's CHLO decomposition), in powers of the
# shifted w (highest first). float32: w < 5 and w >= 5; float64: w < 6.25,
# w < 16 and w >= 16.
_GILES_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06,
                  -4.39150654e-06, 0.00021858087, -0.00125372503,
                  -0.00417768164, 0.246640727, 1.50140941)
_GILES_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322,
               -0.00367342844, 0.00573950773, -0.0076224613,
               0.00943887047, 1.00167406, 2.83297682)
_GILES64_LT_6_25 = (
    -3.64441206401782e-21, -1.6850591381820166e-19, 1.28584807152564e-18,
    1.1157877678025181e-17, -1.3331716628546209e-16, 2.0972767875968562e-17,
    6.6376381343583238e-15, -4.0545662729752069e-14, -8.1519341976054722e-14,
    2.6335093153082323e-12, -1.2975133253453532e-11, -5.4154120542946279e-11,
    1.0512122733215323e-09, -4.1126339803469837e-09, -2.9070369957882005e-08,
    4.2347877827932404e-07, -1.3654692000834679e-06, -1.3882523362786469e-05,
    0.00018673420803405714, -0.000740702534166267, -0.0060336708714301491,
    0.24015818242558962, 1.6536545626831027)
_GILES64_LT_16 = (
    2.2137376921775787e-09, 9.0756561938885391e-08, -2.7517406297064545e-07,
    1.8239629214389228e-08, 1.5027403968909828e-06, -4.013867526981546e-06,
    2.9234449089955446e-06, 1.2475304481671779e-05, -4.7318229009055734e-05,
    6.8284851459573175e-05, 2.4031110387097894e-05, -0.00035503752036284748,
    0.0009532893797373805, -0.0016882755560235047, 0.0024914420961078508,
    -0.0037512085075692412, 0.0053709145535900636, 1.0052589676941592,
    3.0838856104922208)
_GILES64_GE_16 = (
    -2.7109920616438573e-11, -2.5556418169965252e-10, 1.5076572693500548e-09,
    -3.789465440126737e-09, 7.61570120807834e-09, -1.496002662714924e-08,
    2.9147953450901081e-08, -6.7711997758452339e-08, 2.2900482228026655e-07,
    -9.9298272942317e-07, 4.5260625972231537e-06, -1.9681778105531671e-05,
    7.5995277030017761e-05, -0.00021503011930044477, -0.00013871931833623122,
    1.0103004648645344, 4.8499064014085844)


declare_default_form(
    "lgamma/digamma: float32 logs through float64 (nearly correctly rounded, "
    "as XLA's; TFLite's Log has no float64) and float64 exact powers of two "
    "by bit cast (ONNX has none): measured on test_rules_lgamma's 29,471-"
    "point grid 0.54 vs 0.81 of JAX's float32 tolerance, same speed in "
    "float32 (1.09x, benchmarks/DEFAULT_FORMS.md); under jit_compile TF's "
    "native op is XLA's own expansion (bit-exact)", "lgamma", "digamma")

def _erf_inv_xla(x: tf.Tensor, enable_xla: bool) -> tf.Tensor:
  """erf_inv as XLA computes it (float32 or float64), operation by operation.

  Why this form: jax.random.normal/truncated_normal/gamma and the normal
  initializers go through erf_inv, and JAX's samples are XLA's ErfInv
  expansion: w = -log1p(x * -x), one Horner polynomial per range of w
  (p * z + c, which XLA:CPU/GPU contract into fused multiply-adds), times x;
  +-inf at |x| == 1. Emitting the same operations in the same order makes
  tf.function(jit_compile=True) reproduce JAX's values bit for bit; without
  XLA, TF rounds p * z and + c separately (a few ulps, not bit-exact).
  log1p is TF's Log1p only when XLA compiles the graph (XLA's log1p then,
  as JAX's); elsewhere the portable form, as in the log1p rule (tf2onnx
  has no Log1p, TFLite rewrites it to log(1 + x)).
  """
  if enable_xla and compiling_with_xla():
    w = -tf.math.log1p(x * -x)
  else:
    w = -portable_log1p(x * -x)
  if x.dtype == tf.float64:
    lt_6_25 = w < 6.25
    lt_16 = w < 16.0
    sqrt_w = tf.math.sqrt(w)
    p = tf.where(lt_6_25, horner(_GILES64_LT_6_25, w + (-3.125)),
                 tf.where(lt_16, horner(_GILES64_LT_16, sqrt_w - 3.25),
                          horner(_GILES64_GE_16, sqrt_w - 5.0)))
  else:
    lt_5 = w < 5.0
    p = tf.where(lt_5, horner(_GILES_CENTRAL, w + (-2.5)),
                 horner(_GILES_TAIL, tf.math.sqrt(w) + (-3.0)))
  return tf.where(tf.equal(tf.math.abs(x), 1.0), x * math.inf, p * x)


def _erf_inv_rule(ctx: RuleContext, x: tf.Tensor) -> tf.Tensor:
  """JAX's erf_inv: XLA's expansion, in float32 for half types (as XLA)."""
  out_dtype = ctx.tf_dtype(ctx.aval_out)
  work = tf.float64 if out_dtype == tf.float64 else tf.float32
  return tf.cast(_erf_inv_xla(tf.cast(x, work), ctx.enable_xla), out_dtype)


register(lax.erf_inv_p)(_erf_inv_rule)


def _igamma_domain_error(a: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
  """JAX's igamma/igammac domain: NaN for x < 0, a < 0, a == x == 0, NaN."""
  return (tf.math.logical_or(
      tf.math.logical_or(x < 0, a < 0),
      tf.math.logical_and(tf.math.equal(a, 0), tf.math.equal(x, 0)))
          | is_nan(a) | is_nan(x))


def _igamma(a: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
  """P(a, x) with JAX's edges (TF differs at a == 0 and a == inf).

  JAX evaluates a == 0 through its continued fraction for x >= 1 (giving 1)
  and its series otherwise (giving NaN); for a == inf the series prefactor
  x^a e^-x / Gamma(a) is 0 for x < 1 and NaN (inf - inf) for x >= 1.
  Then 0 at x == 0, 1 at x == inf, NaN outside the domain.
  """
  out = tf.math.igamma(a, x)
  x_ge_one = x >= 1
  out = tf.where(tf.math.equal(a, 0),
                 tf.where(x_ge_one, _full(out, 1.0), _full(out, math.nan)),
                 out)
  out = tf.where(tf.math.equal(a, math.inf),
                 tf.where(x_ge_one, _full(out, math.nan), _full(out, 0.0)),
                 out)
  out = tf.where(tf.math.equal(x, 0), _full(out, 0.0), out)
  out = tf.where(tf.math.equal(x, math.inf), _full(out, 1.0), out)
  return _nan_where(_igamma_domain_error(a, x), out)


def _igammac(a: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
  """Q(a, x) with JAX's edges: for a == inf, 1 - (JAX's series) = 1 for
  x < 1 and NaN for x >= 1 (TF: NaN / 1); 0 for a == 0 (TF: NaN) or
  x == inf; NaN outside the domain."""
  out = tf.math.igammac(a, x)
  out = tf.where(tf.math.equal(a, math.inf),
                 tf.where(x >= 1, _full(out, math.nan), _full(out, 1.0)),
                 out)
  out = tf.where(tf.math.equal(a, 0) | tf.math.equal(x, math.inf),
                 _full(out, 0.0), out)
  return _nan_where(_igamma_domain_error(a, x), out)


def _igamma_grad_a(a: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
  """dP(a, x)/da with JAX's edges: NaN for infinite a or x (TF: 0), 0 at
  x == 0, NaN for x < 0, a <= 0 or NaN operands (TF: 0 at x == 0)."""
  out = tf.raw_ops.IgammaGradA(a=a, x=x)
  out = _nan_where(is_inf(a) | is_inf(x), out)
  out = tf.where(tf.math.equal(x, 0), _full(out, 0.0), out)
  domain_error = (x < 0) | (a <= 0) | is_nan(a) | is_nan(x)
  return _nan_where(domain_error, out)


register(lax.igamma_p)(_in_float32(_igamma))
register(lax.igammac_p)(_in_float32(_igammac))
register(lax.igamma_grad_a_p)(_in_float32(_igamma_grad_a))


def _polygamma(m: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
  """psi^(m)(x) with JAX's edges: NaN for m == inf, and for x == inf when
  m > 0 (TF: inf and 0).

  TF's kernel (via its Hurwitz zeta) is wrong for many negative x, where
  JAX's is right; for m == 1 (the derivative of digamma, so every gradient
  of digamma/lgamma) we use the reflection formula
  psi1(x) = pi^2 / sin^2(pi x) - psi1(1 - x), whose right side only needs
  positive arguments.
  """
  out = tf.math.polygamma(m, x)
  # Poles (negative integers) and -inf keep TF's edge values, as before.
  negative = ((x < 0) & tf.math.equal(m, 1) & tf.math.is_finite(x)
              & tf.math.not_equal(x, tf.math.round(x)))
  reflected_x = tf.where(negative, 1 - x, x)
  sin_pi_x = tf.math.sin(math.pi * (x - tf.math.round(x)))
  reflected = ((math.pi ** 2) / tf.math.square(sin_pi_x)
               - tf.math.polygamma(tf.ones_like(m), reflected_x))
  out = tf.where(negative, reflected, out)
  return _nan_where(tf.math.equal(m, math.inf)
                    | (tf.math.equal(x, math.inf) & (m > 0)), out)


def _zeta(s: tf.Tensor, q: tf.Tensor) -> tf.Tensor:
  """Hurwitz zeta(s, q) with JAX's edges: NaN for s == +-inf, and for
  q == inf unless s == 1 (TF: finite); inf at the poles q = 0, -1, ...
  when s is an even integer <= 0 (TF: NaN), and at s == 1."""
  out = tf.math.zeta(s, q)
  even_s = _is_integer(s / 2)
  pole = (s <= 0) & even_s & (q <= 0) & _is_integer(q)
  # s == 1 is a pole for every q, NaN included (XLA's kernel gives NaN for
  # q = 0, -1, ...).
  pole = pole | tf.math.equal(s, 1)
  out = tf.where(pole, _full(out, math.inf), out)
  out = _nan_where(tf.math.equal(q, math.inf) & tf.math.not_equal(s, 1), out)
  return _nan_where(is_inf(s), out)


register(lax.polygamma_p)(_in_float32(_polygamma))
register(lax.zeta_p)(_in_float32(_zeta))
