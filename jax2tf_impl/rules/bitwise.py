"""Rules for bit-level primitives: logical ops, shifts, bit counts, bitcasts,
and reduce_precision.

JAX (XLA) semantics matched here, which plain TF ops do not give directly:
- shifts treat the shift amount as unsigned: an amount >= the bit width
  (negative amounts included) gives 0 for shift_left/shift_right_logical
  and the sign fill for shift_right_arithmetic (TF clamps instead);
- shift_right_logical on signed and shift_right_arithmetic on unsigned
  types reinterpret the bits (TF picks the shift kind from the dtype);
- reduce_precision rounds to nearest-even and flushes/overflows exactly as
  XLA's emitter does; it is written with integer ops so that it stays
  portable (no XlaReducePrecision).

With enable_xla=False, and/or/not of 8/16/32-bit integers, shifts by
constant amounts and 32-bit int -> float32 bit casts use the forms of
portable_int.py, which TFLite builtins and ONNX both have.
"""
from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np
import tensorflow as tf
from jax import lax

from jax2tf_impl import dtypes as dt
from jax2tf_impl.rules import portable_int as pint
from jax2tf_impl.rules import declare_default_form, register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.semantics import is_nan
from jax2tf_impl.rules.support import source_op

_UNSIGNED = {8: tf.uint8, 16: tf.uint16, 32: tf.uint32, 64: tf.uint64}
_SIGNED = {8: tf.int8, 16: tf.int16, 32: tf.int32, 64: tf.int64}


def _bit_width(dtype: Any) -> int:
  return np.dtype(dtype).itemsize * 8


def _reinterpret(x: tf.Tensor, to: tf.DType) -> tf.Tensor:
  """Same-width reinterpretation of the bits of `x` (no shape change).

  Between integer types a cast keeps the bits (modular conversion) and,
  unlike a bit cast, exists in every target runtime.
  """
  if x.dtype == to:
    return x
  if x.dtype.is_integer and to.is_integer:
    return tf.cast(x, to)
  return tf.bitcast(x, to)


def _portable_narrow_int(ctx: RuleContext) -> bool:
  """Whether to use portable_int's forms: enable_xla=False and an integer
  type of at most 32 bits."""
  dtype = np.dtype(ctx.aval_out.dtype)
  return (not ctx.enable_xla and dtype.kind in "iu" and dtype.itemsize <= 4)


# --- logical ops ------------------------------------------------------------

def _logical_or_bitwise(bool_fn: Any, int_fn: Any,
                        portable_fn: Any = None) -> Any:
  """A rule using `bool_fn` on bool operands and `int_fn` on integers
  (`portable_fn` on uint32 bits under _portable_narrow_int)."""

  def rule(ctx: RuleContext, *args: tf.Tensor) -> tf.Tensor:
    if dt.is_bool(ctx.aval_out.dtype):
      return bool_fn(*args)
    if portable_fn is not None and _portable_narrow_int(ctx):
      out = portable_fn(*(pint.as_u32(a) for a in args))
      return tf.cast(out, ctx.tf_dtype(ctx.aval_out))
    return int_fn(*args)

  rule.__name__ = f"logical_or_{int_fn.__name__}"
  return rule


declare_default_form(
    "one TF bitwise kernel vs the portable uint32 emulation by add/xor/mul/"
    "shift (TFLite and ONNX lack 32-bit and/or): measured 1.9x (and) and "
    "2.1x (or) slower on 1M uint32 (benchmarks/DEFAULT_FORMS.md); shifts by "
    "non-constant amounts likewise. An `or` of operands with no bit in common "
    "(jax.random's float bits) is an add in both graphs, a shift by a "
    "constant is one TF shift", "not", "and", "or", "shift_left",
    "shift_right_logical")
declare_default_form(
    "tf.bitcast keeps every bit (NaN payloads and signs); the portable "
    "int32 -> float32 form computes the value arithmetically (ONNX has no "
    "bit cast), loses NaN payloads and is 7.5x slower (measured, "
    "benchmarks/DEFAULT_FORMS.md)", "bitcast_convert_type")
register(lax.not_p)(_logical_or_bitwise(tf.math.logical_not, tf.bitwise.invert,
                                        pint.not_u32))
register(lax.and_p)(_logical_or_bitwise(tf.math.logical_and,
                                        tf.bitwise.bitwise_and, pint.and_u32))
_or_of_words = _logical_or_bitwise(tf.math.logical_or, tf.bitwise.bitwise_or,
                                  pint.or_u32)


@register(lax.or_p)
def _or(ctx: RuleContext, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
  """x | y; an addition when no bit can be set in both (a rotation's two
  halves, jax.random's `bits >> 9 | 0x3f800000`): as fast as BitwiseOr,
  and a builtin of TFLite, ONNX and TF.js, which lack BitwiseOr."""
  if not dt.is_bool(ctx.aval_out.dtype):
    width = _bit_width(ctx.aval_out.dtype)
    (x_low, x_high), (y_low, y_high) = _bit_span(x, width), _bit_span(y, width)
    if x_high <= y_low or y_high <= x_low:
      return tf.math.add(x, y)
  return _or_of_words(ctx, x, y)


def _bit_span(t: tf.Tensor, width: int) -> tuple[int, int]:
  """(low, high): the bits of `t` that can be set lie in [low, high), read
  from the op that made `t` (a constant, a logical right shift or a left
  shift by a constant); (0, width) when unknown."""
  op = source_op(t)
  if op is None:
    return 0, width
  if op.type == "Const":
    value = tf.get_static_value(op.outputs[0])
    words = [int(v) % (1 << width) for v in np.ravel(value)]
    if not words:
      return 0, width
    low = min(((w & -w).bit_length() - 1) if w else width for w in words)
    return low, max(w.bit_length() for w in words)
  amount = (_constant_amount(op.inputs[1]) if len(op.inputs) == 2 else None)
  if amount is None:
    return 0, width
  if op.type == "Mul" and 0 < amount < 2 ** width and amount & (amount - 1) == 0:
    return amount.bit_length() - 1, width  # times 2**k (wrapping)
  if not 0 <= amount < width:
    return 0, width
  if op.type == "RightShift" and not op.inputs[0].dtype.is_unsigned:
    return 0, width  # arithmetic shift: the sign fills the top
  if op.type == "RightShift":
    return 0, width - amount
  if op.type == "LeftShift":
    return amount, width
  return 0, width
register(lax.xor_p)(_logical_or_bitwise(tf.math.logical_xor,
                                        tf.bitwise.bitwise_xor))


# --- shifts -----------------------------------------------------------------

def _shift_operands(ctx: RuleContext, y: tf.Tensor
                    ) -> tuple[int, tf.Tensor, tf.Tensor]:
  """(bits, out_of_range mask, in-range unsigned shift amount).

  XLA compares the shift amount as an unsigned number with the bit width,
  so negative amounts are out of range too.
  """
  bits = _bit_width(ctx.aval_out.dtype)
  y_u = _reinterpret(y, _UNSIGNED[bits])
  out_of_range = y_u >= tf.constant(bits, y_u.dtype)
  safe_y = tf.where(out_of_range, tf.zeros_like(y_u), y_u)
  return bits, out_of_range, safe_y


def _constant_amount(y: tf.Tensor) -> int | None:
  """The shift amount if it is a known constant, the same for every element."""
  value = tf.get_static_value(y)
  if value is None:
    return None
  value = np.asarray(value)
  if value.size == 0 or np.any(value != value.flat[0]):
    return None
  return int(value.flat[0])


def _unsigned_shift(shift_fn: Any, portable_fn: Any) -> Any:
  """shift_left / shift_right_logical: computed on the unsigned bits, 0 when
  the amount is out of range."""

  def rule(ctx: RuleContext, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    amount = _constant_amount(y)
    if amount is not None and _portable_narrow_int(ctx):
      bits = _bit_width(ctx.aval_out.dtype)
      x_u = tf.cast(_reinterpret(x, _UNSIGNED[bits]), tf.uint32)
      shifted = portable_fn(x_u, amount if 0 <= amount < bits else 32)
      return _reinterpret(tf.cast(shifted, _UNSIGNED[bits]),
                          ctx.tf_dtype(ctx.aval_out))
    bits = _bit_width(ctx.aval_out.dtype)
    if amount is not None and 0 <= amount < bits:  # no range test needed
      x_u = _reinterpret(x, _UNSIGNED[bits])
      shifted = shift_fn(x_u, tf.constant(amount, x_u.dtype))
      return _reinterpret(shifted, ctx.tf_dtype(ctx.aval_out))
    bits, out_of_range, safe_y = _shift_operands(ctx, y)
    x_u = _reinterpret(x, _UNSIGNED[bits])
    shifted = shift_fn(x_u, safe_y)
    shifted = tf.where(out_of_range, tf.zeros_like(shifted), shifted)
    return _reinterpret(shifted, ctx.tf_dtype(ctx.aval_out))

  rule.__name__ = f"unsigned_{shift_fn.__name__}"
  return rule


register(lax.shift_left_p)(_unsigned_shift(tf.bitwise.left_shift,
                                           pint.shift_left_u32))
register(lax.shift_right_logical_p)(_unsigned_shift(tf.bitwise.right_shift,
                                                    pint.shift_right_u32))


@register(lax.shift_right_arithmetic_p)
def _shift_right_arithmetic(ctx: RuleContext, x: tf.Tensor,
                            y: tf.Tensor) -> tf.Tensor:
  """Sign-extending shift on the signed bits; the sign fill when the amount
  is out of range (unsigned operands are reinterpreted as signed, as XLA)."""
  bits, out_of_range, safe_y = _shift_operands(ctx, y)
  x_s = _reinterpret(x, _SIGNED[bits])
  shifted = tf.bitwise.right_shift(x_s, _reinterpret(safe_y, _SIGNED[bits]))
  sign_fill = tf.bitwise.right_shift(x_s, tf.constant(bits - 1, x_s.dtype))
  shifted = tf.where(out_of_range, sign_fill, shifted)
  return _reinterpret(shifted, ctx.tf_dtype(ctx.aval_out))


# --- bit counts -------------------------------------------------------------

@register(lax.population_count_p)
def _population_count(ctx: RuleContext, x: tf.Tensor) -> tf.Tensor:
  """TF's PopulationCount returns uint8; JAX keeps the operand dtype."""
  return tf.cast(tf.raw_ops.PopulationCount(x=x), ctx.tf_dtype(ctx.aval_out))


@register(lax.clz_p)
def _clz(ctx: RuleContext, x: tf.Tensor) -> tf.Tensor:
  """Count of leading zero bits (the width for 0). TF has no such op: smear
  the highest set bit into every lower position, then count the zeros."""
  bits = _bit_width(ctx.aval_out.dtype)
  smeared = _reinterpret(x, _UNSIGNED[bits])
  shift = 1
  while shift < bits:
    smeared = tf.bitwise.bitwise_or(
        smeared, tf.bitwise.right_shift(smeared,
                                        tf.constant(shift, smeared.dtype)))
    shift *= 2
  ones = tf.cast(tf.raw_ops.PopulationCount(x=smeared), tf.int32)
  return tf.cast(bits - ones, ctx.tf_dtype(ctx.aval_out))


# --- bitcast ----------------------------------------------------------------

def _mulhi_u64(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
  """High 64 bits of the 128-bit product of two uint64 tensors (schoolbook)."""
  mask = tf.constant(0xFFFFFFFF, tf.uint64)
  shift = tf.constant(32, tf.uint64)
  a_lo, a_hi = tf.bitwise.bitwise_and(a, mask), tf.bitwise.right_shift(a, shift)
  b_lo, b_hi = tf.bitwise.bitwise_and(b, mask), tf.bitwise.right_shift(b, shift)
  hi_lo = a_hi * b_lo
  cross = (tf.bitwise.right_shift(a_lo * b_lo, shift)
           + tf.bitwise.bitwise_and(hi_lo, mask) + a_lo * b_hi)
  return (a_hi * b_hi + tf.bitwise.right_shift(hi_lo, shift)
          + tf.bitwise.right_shift(cross, shift))


@register(lax.mulhi_p)
def _mulhi(ctx: RuleContext, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
  """The high half of the double-width product (used by Philox).

  Up to 32 bits the product fits in 64 bits. For 64-bit operands the
  unsigned high half is built from 32-bit pieces; the signed one follows
  from it: hi_s(a, b) = hi_u(a, b) - (a < 0 ? b : 0) - (b < 0 ? a : 0).
  """
  dtype = ctx.avals_in[0].dtype
  bits = _bit_width(dtype)
  out = ctx.tf_dtype(ctx.aval_out)
  if bits <= 32:
    wide = tf.uint64 if dt.is_unsigned(dtype) else tf.int64
    prod = tf.cast(x, wide) * tf.cast(y, wide)
    return tf.cast(tf.bitwise.right_shift(prod, tf.constant(bits, wide)), out)
  if dt.is_unsigned(dtype):
    return _mulhi_u64(x, y)
  ux, uy = _reinterpret(x, tf.uint64), _reinterpret(y, tf.uint64)
  zero = tf.zeros_like(x)
  high = (_mulhi_u64(ux, uy)
          - _reinterpret(tf.where(x < 0, y, zero), tf.uint64)
          - _reinterpret(tf.where(y < 0, x, zero), tf.uint64))
  return _reinterpret(high, tf.int64)


@register(lax.bitcast_convert_type_p)
def _bitcast_convert_type(ctx: RuleContext, x: tf.Tensor, *, new_dtype: Any
                          ) -> tf.Tensor:
  """Reinterprets the bits. Between widths, tf.bitcast adds/removes the
  trailing dimension exactly as XLA does (little-endian element order).
  JAX only allows bool/complex when the dtype does not change."""
  out_dtype = ctx.tf_dtype(ctx.aval_out)
  if x.dtype == out_dtype:
    return x
  if dt.is_bool(ctx.avals_in[0].dtype) or dt.is_bool(new_dtype):
    raise ctx.unsupported("bitcast between bool and another dtype")
  if x.dtype.is_integer and out_dtype.is_integer and x.dtype.size == out_dtype.size:
    return _reinterpret(x, out_dtype)
  known = _float_of_fixed_exponent(x, out_dtype)
  if known is not None:
    return known
  if (not ctx.enable_xla and x.dtype in (tf.int32, tf.uint32) and
      out_dtype == tf.float32):
    return pint.bits_to_float32(pint.as_u32(x))  # ONNX has no bit cast
  return tf.bitcast(x, out_dtype)


_FLOAT_LAYOUT = {tf.float32: (23, 8), tf.float64: (52, 11)}


def _float_of_fixed_exponent(x: tf.Tensor, out_dtype: tf.DType
                             ) -> tf.Tensor | None:
  """The float whose bits are `x`, computed exactly without a bit cast when
  `x` is `mantissa + c` (an `or` of disjoint bits, see `_or`) with `c` one
  constant giving sign and exponent and the mantissa below bit
  `nmant`: jax.random's uniform, `bits >> 9 | 0x3f800000`, is
  1 + m * 2**-23. A cast, a multiply by a power of two and an add, each
  exact, in every runtime (ONNX and TF.js have no bit cast); None when the
  pattern is not there."""
  layout = _FLOAT_LAYOUT.get(out_dtype)
  op = source_op(x)
  if layout is None or op is None or op.type not in ("Add", "AddV2") or x.dtype.size != out_dtype.size:
    return None
  nmant, nexp = layout
  width = 8 * x.dtype.size
  for c, m in (op.inputs, reversed(op.inputs)):
    value = tf.get_static_value(c)
    if value is None or np.size(value) == 0:
      continue
    words = {int(v) % (1 << width) for v in np.ravel(value)}
    if len(words) != 1 or _bit_span(m, width)[1] > nmant:
      continue
    word = words.pop()
    exponent = (word >> nmant) & ((1 << nexp) - 1)
    bias = (1 << (nexp - 1)) - 1
    if (word & ((1 << nmant) - 1) or exponent == (1 << nexp) - 1
        or exponent - nmant < 1):
      # Mantissa bits in the constant, inf/NaN, or subnormal steps (TF's
      # CPU kernels flush subnormal products to zero).
      continue
    sign = -1.0 if word >> (width - 1) else 1.0
    scale = 2.0 ** (exponent - bias - nmant)
    lead = 2.0 ** (exponent - bias)
    mantissa = tf.cast(m, out_dtype)
    return (mantissa * tf.constant(sign * scale, out_dtype)
            + tf.constant(sign * lead, out_dtype))
  return None


# --- reduce_precision -------------------------------------------------------

@register(lax.reduce_precision_p)
def _reduce_precision(ctx: RuleContext, x: tf.Tensor, *, exponent_bits: int,
                      mantissa_bits: int) -> tf.Tensor:
  """Rounds `x` to a float format with the given exponent/mantissa bits and
  back, as XLA's ReducePrecision: round-to-nearest-even on the mantissa,
  then values above the reduced range become signed inf and values at or
  below its smallest normal exponent become signed zero; NaN is kept."""
  finfo = ml_dtypes.finfo(dt.to_np_dtype(ctx.avals_in[0].dtype))
  src_mantissa = int(finfo.nmant)
  src_exponent = int(finfo.nexp)
  bits = _bit_width(ctx.avals_in[0].dtype)
  is_bf16 = x.dtype == tf.bfloat16
  # XLA:CPU runs bfloat16 reduce_precision in float32: a no-op only when the
  # requested format covers float32 (else NaNs get canonicalized, below).
  noop_bits = (8, 23) if is_bf16 else (src_exponent, src_mantissa)
  if exponent_bits >= noop_bits[0] and mantissa_bits >= noop_bits[1]:
    return x
  int_dtype = _SIGNED[bits]
  as_int = tf.bitcast(x, int_dtype)

  def const(v: int) -> tf.Tensor:
    # Python ints beyond the signed range are taken as bit patterns.
    return tf.constant(np.array(v, np.uint64).astype(int_dtype.as_numpy_dtype)
                       if v >= 2**(bits - 1) else v, int_dtype)

  sign_mask = const(1 << (bits - 1))
  x_is_nan = is_nan(x)
  sign = tf.bitwise.bitwise_and(as_int, sign_mask)
  # Work on the magnitude (sign bit cleared, NaN zeroed) so that adding the
  # rounding bias cannot overflow into the sign bit.
  magnitude = tf.bitwise.bitwise_and(as_int, const((1 << (bits - 1)) - 1))
  magnitude = tf.where(x_is_nan, tf.zeros_like(magnitude), magnitude)

  if mantissa_bits < src_mantissa:
    dropped = src_mantissa - mantissa_bits
    last_kept_bit = tf.bitwise.bitwise_and(
        tf.bitwise.right_shift(magnitude, const(dropped)), const(1))
    bias = last_kept_bit + const((1 << (dropped - 1)) - 1)
    magnitude = tf.bitwise.bitwise_and(magnitude + bias,
                                       const(~((1 << dropped) - 1)))

  if exponent_bits < src_exponent:
    exponent_bias = (1 << (src_exponent - 1)) - 1
    reduced_bias = (1 << (exponent_bits - 1)) - 1
    max_exponent = (exponent_bias + reduced_bias) << src_mantissa
    min_exponent = (exponent_bias - reduced_bias) << src_mantissa
    exponent = tf.bitwise.bitwise_and(
        magnitude, const(((1 << src_exponent) - 1) << src_mantissa))
    inf_magnitude = const(((1 << src_exponent) - 1) << src_mantissa)
    magnitude = tf.where(exponent > const(max_exponent), inf_magnitude,
                         magnitude)
    magnitude = tf.where(exponent <= const(min_exponent),
                         tf.zeros_like(magnitude), magnitude)

  result = tf.bitcast(tf.bitwise.bitwise_or(sign, magnitude), x.dtype)
  # XLA returns NaN inputs unchanged (payload included), even with
  # mantissa_bits=0 where the reduced format could not represent them.
  # XLA:CPU computes bfloat16 in float32, which turns every NaN into the
  # canonical quiet NaN with the sign kept.
  nan = x
  if is_bf16:
    quiet_nan = (((1 << src_exponent) - 1) << src_mantissa) | (
        1 << (src_mantissa - 1))
    nan = tf.bitcast(tf.bitwise.bitwise_or(sign, const(quiet_nan)), x.dtype)
  return tf.where(x_is_nan, nan, result)
