"""Rules for elementwise arithmetic, comparison, selection and conversion.

JAX (XLA on CPU) semantics are matched exactly, including the edge cases TF
kernels treat differently: integer division by zero and INT_MIN / -1,
NaN-propagating min/max that order -0.0 below +0.0, sign(-0.0) == -0.0,
saturating float->int conversion with NaN -> 0. Transcendental functions
live in elementwise_math.py.

Operands of binary primitives may differ in size-1 dimensions (JAX allows
this in jaxprs); TF's implicit broadcasting handles it, so the helpers here
only ever build scalar constants.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf
from jax import lax
from jax.extend.core import primitives as prims

from jax2tf_impl import dtypes as dt
from jax2tf_impl.rules import declare_default_form, register
from jax2tf_impl.rules.context import RuleContext, binary, unary
from jax2tf_impl.rules.semantics import (complex_divide, is_half, is_inf,
                                         is_nan, max_or_min, np_dtype, scalar)
from jax2tf_impl.rules.constant_folding import times_constant_product
from jax2tf_impl.rules.portable_int import truncate_div
from jax2tf_impl.rules.support import (computed_from_constants, non_finite_fill,
                                      static_value, tf_op)

# --------------------------------------------------- add / sub / mul / neg

register(lax.add_p)(binary(tf_op("AddV2")))


def _same_width_signed(dtype: np.dtype) -> tf.DType:
  return tf.as_dtype(np.dtype(f"int{dtype.itemsize * 8}"))


def _is_constant_zero(x: Any) -> bool:
  value = tf.get_static_value(x)
  return value is not None and not np.any(value)


@register(lax.sub_p)
def _sub(ctx: RuleContext, x: Any, y: Any) -> Any:
  """x - y. Grappler rewrites `0 - y` into Neg(y), which has no unsigned
  kernel and turns 0 - (+0.0) into -0.0; both cases are computed so that
  the rewrite cannot apply (unsigned: in the same-width signed type, whose
  wrap-around is the same bits)."""
  dtype = np_dtype(ctx.aval_out)
  if dt.is_unsigned(dtype):
    signed = _same_width_signed(dtype)
    diff = tf.math.subtract(tf.cast(x, signed), tf.cast(y, signed))
    return tf.cast(diff, ctx.tf_dtype(dtype))
  if (dt.is_float(dtype) and _is_constant_zero(x)
      and tuple(ctx.avals_in[1].shape) == tuple(ctx.aval_out.shape)):
    neg = tf.math.negative(y)
    zero = tf.zeros_like(neg)
    return tf.where(tf.math.equal(y, scalar(0, dtype)), zero, neg)
  return tf.math.subtract(x, y)

@register(lax.mul_p)
def _mul(ctx: RuleContext, x: Any, y: Any, **_: Any) -> Any:
  """x * y; (a * c1) * c2 for literals c1, c2 is a * (c1 * c2), the
  reassociation XLA's simplifier makes: JAX's normal(k) * 0.02 is
  erf_inv(u) * (sqrt(2) * 0.02), rounded once. Only literals of the jaxpr
  count: a value computed from constants may be loop-carried in XLA's
  program (a while body's closed-over value), which it does not fold."""
  if np_dtype(ctx.aval_out) in (np.float32, np.float64):
    literal = list(ctx.literal_operands) or [False, False]
    for inner, outer, outer_is_literal in ((x, y, literal[1]), (y, x, literal[0])):
      if outer_is_literal:
        product = times_constant_product(inner, outer)
        if product is not None:
          return product
  return tf_op("Mul")(x, y)


@register(prims.add_jaxvals_p)
def _add_any(ctx: RuleContext, x: Any, y: Any) -> Any:
  """Cotangent accumulation: plain addition (logical or for bool)."""
  if dt.is_bool(ctx.aval_out.dtype):
    return tf.math.logical_or(x, y)
  return tf.math.add(x, y)


@register(lax.neg_p)
def _neg(ctx: RuleContext, x: Any) -> Any:
  """Unsigned negation wraps modulo 2**bits. TF Neg has no unsigned kernel
  (and grappler rewrites 0 - x into Neg), so negate the same-width signed
  integer: casts between them keep the bits."""
  dtype = np_dtype(ctx.aval_out)
  if dt.is_unsigned(dtype):
    signed = _same_width_signed(dtype)
    return tf.cast(tf.math.negative(tf.cast(x, signed)), ctx.tf_dtype(dtype))
  return tf.math.negative(x)


# ----------------------------------------------------------- div / rem


def _safe_int_divisor(y: Any, dtype: np.dtype) -> tuple[Any, Any, Any]:
  """(y with 0 and -1 replaced by 1, y == 0, y == -1 or None).

  TF's integer division raises on 0 and is undefined for INT_MIN / -1; XLA
  defines both, so those lanes are computed separately.
  """
  zero = tf.math.equal(y, scalar(0, dtype))
  bad = zero
  minus_one = None
  if not dt.is_unsigned(dtype):
    minus_one = tf.math.equal(y, scalar(-1, dtype))
    bad = tf.math.logical_or(zero, minus_one)
  return tf.where(bad, scalar(1, dtype), y), zero, minus_one


def _multiply_by_reciprocal(x: Any, divisor: np.ndarray, dtype: np.dtype) -> Any:
  """x / c for a constant c as XLA computes it: its simplifier rewrites a
  division by a constant into a multiplication by the constant's reciprocal
  (rounded in c's type), which is what JAX's results hold: x / 3 is
  x * 0.33333334 (not always the correctly rounded quotient), and complex
  (-inf + inf j) / 2 is nan + nan j (inf * 0 in the product)."""
  # XLA:CPU inverts a float16 constant in float16, a bfloat16 one after
  # widening it to float32 (measured: bit for bit with JAX either way);
  # the product of a half type is computed in float32 and rounded once.
  work = np.dtype(np.float32) if dtype == dt.to_np_dtype(tf.bfloat16) else dtype
  with np.errstate(all="ignore"):
    recip = np.asarray(np.ones([], work) / np.asarray(divisor, work), work)
  if is_half(dtype):
    product = tf.math.multiply(tf.cast(x, tf.float32),
                               tf.constant(recip.astype(np.float32)))
    return tf.cast(product, x.dtype)
  if dt.is_complex(dtype):
    # By parts: TF's complex multiply by a broadcast scalar recovers
    # infinities (C99 Annex G), XLA's is the plain formula.
    a, b = tf.math.real(x), tf.math.imag(x)
    c = tf.constant(np.real(recip), dtype=a.dtype)
    d = tf.constant(np.imag(recip), dtype=a.dtype)
    return tf.complex(a * c - b * d, a * d + b * c)
  return tf.math.multiply(x, tf.constant(recip, dtype=x.dtype))


@register(lax.div_p)
def _div(ctx: RuleContext, x: Any, y: Any) -> Any:
  """Integer division rounds toward zero; x / 0 is -1 (all bits set, i.e.
  UINT_MAX for unsigned) and INT_MIN / -1 wraps to INT_MIN, as XLA does.
  Complex division is XLA's (see complex_divide)."""
  dtype = np_dtype(ctx.aval_out)
  if not dt.is_integer(dtype):
    divisor = tf.get_static_value(y)
    if divisor is not None and not computed_from_constants(x):
      return _multiply_by_reciprocal(x, divisor, dtype)
  if dt.is_complex(dtype):
    return complex_divide(x, y)
  if not dt.is_integer(dtype):
    return tf.math.divide(x, y)
  y_safe, zero, minus_one = _safe_int_divisor(y, dtype)
  out = truncate_div(x, y_safe)
  if minus_one is not None:
    out = tf.where(minus_one, tf.math.negative(x), out)
  all_ones = scalar(np.iinfo(dtype).max if dt.is_unsigned(dtype) else -1, dtype)
  return tf.where(zero, all_ones, out)


declare_default_form(
    "float rem: TF's TruncateMod is 1.05-1.25x faster than the portable "
    "FloorMod form (measured twice, benchmarks/DEFAULT_FORMS.md; idle "
    "machine 1.05x) and under jit_compile it "
    "is XLA's rem, which reads subnormals as zero as JAX does (the portable "
    "form keeps them: test_subnormal_remainder_jit)", "rem")


@register(lax.rem_p)
def _rem(ctx: RuleContext, x: Any, y: Any) -> Any:
  """C fmod semantics: the result has the sign of x. For integers x % 0 is x
  and INT_MIN % -1 is 0 (XLA's definitions)."""
  dtype = np_dtype(ctx.aval_out)
  if dt.is_integer(dtype):
    y_safe, zero, _ = _safe_int_divisor(y, dtype)
    out = tf.math.subtract(
        x, tf.math.multiply(truncate_div(x, y_safe), y_safe))
    # y == -1 lanes used y_safe == 1: x - x * 1 == 0, as required.
    return tf.where(zero, x, out)
  fmod = tf.truncatemod if ctx.enable_xla else _fmod_portable
  if is_half(dtype):  # fmod is exact, so computing in f32 loses nothing.
    out = fmod(tf.cast(x, tf.float32), tf.cast(y, tf.float32))
    return tf.cast(out, ctx.tf_dtype(dtype))
  return fmod(x, y)


def _fmod_portable(x: Any, y: Any) -> Any:
  """Float fmod from FloorMod (TFLite and tf2onnx have no TruncateMod).

  On |x|, |y| the two agree exactly; the result takes x's sign, +-0 stays
  itself, and y == 0, infinite x or a NaN give NaN.
  """
  r = tf.math.floormod(tf.math.abs(x), tf.math.abs(y))
  signed = tf.where(x < 0, -r, r)
  zero = tf.zeros([], x.dtype)
  signed = tf.where(tf.equal(x, zero), x, signed)
  nan = (tf.equal(y, zero) | is_inf(x) | is_nan(x) |
         is_nan(y))
  return tf.where(nan, tf.constant(np.nan, x.dtype), signed)


# ------------------------------------------------------------- max / min


def _uniform_float_constant(t: Any) -> Any:
  """The value of `t` if it is known now and the same non-NaN float (sign of
  zero included) everywhere, else None. Through broadcasts (zeros_like):
  max's general form adds them, and grappler rewrites x + zeros as x."""
  while getattr(t, "op", None) is not None and t.op.type in (
      "BroadcastTo", "Reshape", "Identity", "ExpandDims"):
    t = t.op.inputs[0]
  value = static_value(t)
  if value is None:
    return None
  value = np.asarray(value)
  if value.size == 0 or not dt.is_float(value.dtype):  # bfloat16 too
    return None
  c = value.reshape(-1)[0]
  if np.isnan(c) or not np.all(value == c) or not np.all(
      np.signbit(value) == np.signbit(c)):
    return None
  return c


def _max_or_min_constant(x: Any, y: Any, is_max: bool) -> Any:
  """lax.max/min against a constant: one compare and one select (e.g. relu).

  max(x, c) is c where x < c, else x: NaN compares false and stays, and only
  for c == +0.0 must x == -0.0 also give c (hence <=). min mirrors it, with
  >= for c == -0.0. Returns None when neither operand qualifies.
  """
  c = _uniform_float_constant(y)
  if c is None:
    c = _uniform_float_constant(x)
    if c is None:
      return None
    x, y = y, x
  if c == (-np.inf if is_max else np.inf) and (
      y.shape.rank == 0 or y.shape == x.shape):
    # max(x, -inf) is x, NaN and -0.0 included (softmax's guard). No
    # select with an infinite constant, which also gives TFLite's int8
    # quantizer an infinite range ("scale out of expressed type range").
    return tf.identity(x)
  zero_to_replace = c == 0 and (np.signbit(c) != is_max)
  if is_max:
    cond = tf.math.less_equal(x, y) if zero_to_replace else tf.math.less(x, y)
  else:
    cond = (tf.math.greater_equal(x, y) if zero_to_replace else
            tf.math.greater(x, y))
  return tf.where(cond, y, x)


def _max_or_min_rule(is_max: bool) -> Any:
  """lax.max / lax.min: NaN-propagating, -0.0 < +0.0, complex lexicographic;
  against a constant (relu) one compare + select with the same semantics."""

  def rule(ctx: RuleContext, x: Any, y: Any) -> Any:
    if dt.is_float(ctx.aval_out.dtype):
      out = _max_or_min_constant(x, y, is_max=is_max)
      if out is not None:
        return out
    return max_or_min(ctx.aval_out.dtype, is_max=is_max)(x, y)

  return rule


register(lax.max_p)(_max_or_min_rule(is_max=True))
register(lax.min_p)(_max_or_min_rule(is_max=False))


@register(lax.clamp_p)
def _clamp(ctx: RuleContext, lo: Any, x: Any, hi: Any) -> Any:
  """XLA clamp == min(max(x, lo), hi), with max/min's NaN/zero semantics."""
  dtype = ctx.aval_out.dtype
  return max_or_min(dtype, is_max=False)(max_or_min(dtype, is_max=True)(x, lo), hi)


# ---------------------------------------------------------- sign / abs


@register(lax.sign_p)
def _sign(ctx: RuleContext, x: Any) -> Any:
  """sign(-0.0) == -0.0, sign(NaN) == NaN; unsigned: 0 or 1."""
  dtype = np_dtype(ctx.aval_out)
  if dt.is_unsigned(dtype):
    return tf.cast(tf.math.not_equal(x, scalar(0, dtype)), ctx.tf_dtype(dtype))
  if dt.is_float(dtype):
    return tf.where(tf.math.equal(x, scalar(0, dtype)), x, tf.math.sign(x))
  return tf.math.sign(x)


@register(lax.abs_p)
def _abs(ctx: RuleContext, x: Any) -> Any:
  """|x|; complex abs is real; unsigned abs is the identity."""
  if dt.is_unsigned(ctx.avals_in[0].dtype):
    return tf.identity(x)
  if dt.is_complex(ctx.avals_in[0].dtype):
    # XLA's complex abs is NaN when either part is NaN (C99's hypot, which
    # TF's kernel follows, gives inf for inf + nan*j).
    any_nan = is_nan(tf.math.real(x)) | is_nan(tf.math.imag(x))
    mag = tf.math.abs(x)
    return tf.where(any_nan, tf.constant(np.nan, mag.dtype), mag)
  return tf.math.abs(x)


@register(lax.square_p)
def _square(ctx: RuleContext, x: Any) -> Any:
  del ctx
  return tf.math.multiply(x, x)


# --------------------------------------------------------- integer_pow


def integer_power(x: Any, y: int, one: Any) -> Any:
  """x ** y by binary exponentiation, multiplying in JAX's own order (so
  float results round identically); y < 0 is 1 / x ** -y."""
  if y == 0:
    return tf.ones_like(x) if one is None else tf.math.multiply(
        tf.ones_like(x), one)
  is_reciprocal = y < 0
  y = -y if is_reciprocal else y
  acc = None
  while y > 0:
    if y & 1:
      acc = x if acc is None else tf.math.multiply(acc, x)
    y >>= 1
    if y > 0:
      x = tf.math.multiply(x, x)
  if not is_reciprocal:
    return acc
  if acc.dtype.is_complex:
    return complex_divide(tf.math.multiply(tf.ones_like(acc), one), acc)
  return tf.math.divide(one, acc)


@register(lax.integer_pow_p)
def _integer_pow(ctx: RuleContext, x: Any, *, y: int) -> Any:
  return integer_power(x, y, scalar(1, ctx.aval_out.dtype))


# ------------------------------------------------- comparisons / select


def _compare(tf_fn: Any) -> Any:
  """Ordered comparison; bool operands compare as 0/1 (no TF bool kernel)."""

  def rule(ctx: RuleContext, x: Any, y: Any) -> Any:
    if dt.is_bool(ctx.avals_in[0].dtype):
      x, y = tf.cast(x, tf.int8), tf.cast(y, tf.int8)
    elif dt.is_complex(ctx.avals_in[0].dtype):
      raise ctx.unsupported("ordered comparison of complex numbers")
    return tf_fn(x, y)

  rule.__name__ = f"compare_{tf_fn.__name__}"
  return rule


register(lax.eq_p)(binary(tf_op("Equal")))
register(lax.ne_p)(binary(tf_op("NotEqual")))
register(lax.lt_p)(_compare(tf_op("Less")))
register(lax.le_p)(_compare(tf_op("LessEqual")))
register(lax.gt_p)(_compare(tf_op("Greater")))
register(lax.ge_p)(_compare(tf_op("GreaterEqual")))


@register(lax.select_n_p)
def _select_n(ctx: RuleContext, which: Any, *cases: Any) -> Any:
  """cases[which]; an integer `which` walks the same binary tree of `<`
  tests as XLA's lowering (so even out-of-range indices agree)."""
  if len(cases) == 1:
    return tf.identity(cases[0])
  fills = [non_finite_fill(c) for c in cases]  # the shape stays the output's
  if ctx.avals_in[0].shape == ctx.aval_out.shape or None in fills:
    cases = [c if f is None else f for c, f in zip(cases, fills)]
  which_dtype = np_dtype(ctx.avals_in[0])
  if dt.is_bool(which_dtype):
    return tf_op("SelectV2")(which, cases[1], cases[0])

  def select(offset: int, part: Sequence[Any]) -> Any:
    if len(part) == 1:
      return part[0]
    mid = len(part) // 2
    pred = tf.math.less(which, scalar(offset + mid, which_dtype))
    return tf.where(pred, select(offset, part[:mid]),
                    select(offset + mid, part[mid:]))

  return select(0, cases)


# ---------------------------------------------------- rounding / tests


register(lax.floor_p)(unary(tf_op("Floor")))
register(lax.ceil_p)(unary(tf_op("Ceil")))
register(lax.is_finite_p)(unary(tf_op("IsFinite")))


@register(lax.round_p)
def _round(ctx: RuleContext, x: Any, *, rounding_method: Any) -> Any:
  """TO_NEAREST_EVEN is TF's Round; AWAY_FROM_ZERO is trunc(x) stepped away
  from zero when the (exact) fraction is >= 0.5, which keeps -0.0, inf and
  NaN and avoids the x + 0.5 rounding error near 0.49999997."""
  method = lax.RoundingMethod(rounding_method)
  if method == lax.RoundingMethod.TO_NEAREST_EVEN:
    return tf.math.round(x)
  dtype = np_dtype(ctx.aval_out)
  trunc = tf.where(x < scalar(0, dtype), tf.math.ceil(x), tf.math.floor(x))
  frac = tf.math.abs(tf.math.subtract(x, trunc))
  return tf.where(frac >= scalar(0.5, dtype),
                  tf.math.add(trunc, tf.math.sign(x)), trunc)


def _equal_flushing_denormals(x: Any, y: Any, dtype: np.dtype) -> Any:
  """x == y as XLA on CPU compares floats: denormals (of float32/float64,
  bfloat16 being compared in float32) count as zero. float16 is compared in
  float32, where its denormals are normal numbers."""
  equal = tf.math.equal(x, y)
  if dtype == np.float16:
    return equal
  compare_dtype = np.float64 if dtype == np.float64 else np.float32
  tiny = scalar(np.finfo(compare_dtype).tiny, compare_dtype)
  small = lambda v: tf.math.less(tf.math.abs(tf.cast(v, tiny.dtype)), tiny)
  return tf.math.logical_or(
      equal, tf.math.logical_and(small(x), small(y)))


def _nextafter_16bit(x: Any, y: Any, dtype: np.dtype) -> Any:
  """nextafter for 16-bit floats by stepping the bit pattern (comparing
  bits, not values: TF flushes bfloat16 denormals in comparisons)."""
  x_bits, y_bits = tf.bitcast(x, tf.int16), tf.bitcast(y, tf.int16)
  magnitude = lambda bits: tf.bitwise.bitwise_and(
      bits, tf.constant(0x7fff, tf.int16))
  # Sign-magnitude -> ordered integers (+0 and -0 both map to 0).
  ordered = lambda bits: tf.where(bits < 0, -magnitude(bits), bits)
  x_ord, y_ord = ordered(x_bits), ordered(y_bits)
  away_from_zero = tf.math.equal(y_ord > x_ord, x_ord > 0)
  stepped = tf.where(away_from_zero, x_bits + 1, x_bits - 1)
  # From +-0 the step goes to the smallest denormal with y's sign.
  from_zero = tf.where(y_ord < 0, tf.constant(-32767, tf.int16),
                       tf.constant(1, tf.int16))
  stepped = tf.where(tf.math.equal(x_ord, 0), from_zero, stepped)
  nan_above = 0x7c00 if dtype == np.float16 else 0x7f80   # inf's bits
  is_nan = tf.math.logical_or(magnitude(x_bits) > nan_above,
                              magnitude(y_bits) > nan_above)
  return tf.where(is_nan, tf.math.add(x, y), tf.bitcast(stepped, x.dtype))


@register(lax.nextafter_p)
def _nextafter(ctx: RuleContext, x: Any, y: Any) -> Any:
  """The next representable value after x towards y, denormals included;
  y itself when x == y (XLA's comparison, see _equal_flushing_denormals).
  TF's NextAfter is float32/float64 only."""
  dtype = np_dtype(ctx.aval_out)
  if is_half(dtype):
    out = _nextafter_16bit(x, y, dtype)
  else:
    out = tf.math.nextafter(x, y)
  return tf.where(_equal_flushing_denormals(x, y, dtype), y, out)


# ------------------------------------------------ identity-like primitives


@register(prims.stop_gradient_p)
def _stop_gradient(ctx: RuleContext, x: Any) -> Any:
  del ctx
  return tf.stop_gradient(x)


register(lax.copy_p)(unary(tf.identity))


# ---------------------------------------------------------------- complex


@register(lax.complex_p)
def _complex(ctx: RuleContext, x: Any, y: Any) -> Any:
  shape = tf.shape(tf.math.add(x, y))
  return tf.complex(tf.broadcast_to(x, shape), tf.broadcast_to(y, shape))


@register(lax.real_p)
def _real(ctx: RuleContext, x: Any) -> Any:
  return tf.math.real(x)


@register(lax.imag_p)
def _imag(ctx: RuleContext, x: Any) -> Any:
  return tf.math.imag(x)


@register(lax.conj_p)
def _conj(ctx: RuleContext, x: Any, **_: Any) -> Any:
  """conj of a real input is that input as complex (JAX's output type)."""
  if not dt.is_complex(ctx.avals_in[0].dtype):
    return tf.cast(x, ctx.tf_dtype(ctx.aval_out))
  return tf.math.conj(x)


# ------------------------------------------------- convert_element_type


def _float_to_int(x: Any, in_dtype: np.dtype, out_dtype: np.dtype) -> Any:
  """Truncation toward zero, saturating at the integer range, NaN -> 0: what
  XLA's convert does on CPU (TF's Cast is undefined out of range)."""
  if is_half(in_dtype):
    x, in_dtype = tf.cast(x, tf.float32), np.dtype(np.float32)
  info = np.iinfo(out_dtype)
  lo = scalar(info.min, in_dtype)                    # 0 or -2**k: exact
  hi_excl = scalar(float(info.max) + 1.0, in_dtype)  # 2**k: exact
  below = tf.math.logical_or(tf.math.less_equal(x, lo), is_nan(x))
  above = tf.math.greater_equal(x, hi_excl)
  in_range = tf.where(tf.math.logical_or(below, above), scalar(0, in_dtype), x)
  out = tf.cast(in_range, dt.to_tf_dtype(out_dtype))
  out = tf.where(above, scalar(info.max, out_dtype), out)
  low_value = tf.where(is_nan(x), scalar(0, out_dtype),
                       scalar(info.min, out_dtype))
  return tf.where(below, low_value, out)


def convert(x: Any, in_dtype: Any, out_dtype: Any) -> Any:
  """JAX's convert_element_type between any two dtypes."""
  in_dtype, out_dtype = np.dtype(in_dtype), np.dtype(out_dtype)
  if in_dtype == out_dtype:
    return x
  if dt.is_complex(in_dtype) and not dt.is_complex(out_dtype):
    x = tf.math.real(x)     # JAX drops the imaginary part first.
    in_dtype = np.dtype(dt.to_np_dtype(x.dtype))
    if in_dtype == out_dtype:
      return x
  if dt.is_bool(out_dtype):
    return tf.math.not_equal(x, scalar(0, in_dtype))
  if dt.is_float(in_dtype) and dt.is_integer(out_dtype):
    return _float_to_int(x, in_dtype, out_dtype)
  return tf.cast(x, dt.to_tf_dtype(out_dtype))


@register(lax.convert_element_type_p)
def _convert_element_type(ctx: RuleContext, x: Any, *, new_dtype: Any,
                          **_: Any) -> Any:
  return convert(x, ctx.avals_in[0].dtype, ctx.aval_out.dtype)
