"""Exact uint32 arithmetic on two float32 16-bit limbs (hi, lo).

Every function here is built from float32 ops that are exact on integers
below 2**24 on every backend (add, multiply by a power of two, floor,
compare, select, sum, a gather from a small table), so the bits are those of
uint32 arithmetic even where int32 is stored as float32 (TF.js WebGL).
uint32_limbs.py uses them to rewrite a jaxpr; see there for why.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
from jax import lax
from jax import numpy as jnp

_U32 = np.dtype(np.uint32)
_F32 = np.float32


class Limbs(NamedTuple):
  """A uint32 array as float32 arrays hi = x // 2**16 and lo = x % 2**16."""
  hi: Any
  lo: Any


def _pow2(k: int) -> np.float32:
  return _F32(2.0 ** k)


def _floor_div_pow2(x: Any, k: int) -> Any:
  """floor(x / 2**k), exact for integers in float32 (a power-of-2 scale)."""
  return lax.floor(x * _pow2(-k)) if k else x


def _mod_pow2(x: Any, k: int) -> Any:
  return x - _floor_div_pow2(x, k) * _pow2(k)


def from_exact_float(x: Any) -> Limbs:
  """Limbs of float32 integers in [0, 2**24) (an iota, a flat index)."""
  return Limbs(_floor_div_pow2(x, 16), _mod_pow2(x, 16))


def constant(value: Any) -> Limbs:
  """Limbs of a uint32 constant, kept as numpy arrays (known values)."""
  v = np.asarray(value, dtype=_U32)
  return Limbs((v >> 16).astype(_F32), (v & 0xFFFF).astype(_F32))


def add(a: Limbs, b: Limbs) -> Limbs:
  lo = a.lo + b.lo
  carry = _floor_div_pow2(lo, 16)
  return Limbs(_mod_pow2(a.hi + b.hi + carry, 16), lo - carry * _pow2(16))


def bitwise_not(a: Limbs) -> Limbs:
  return Limbs(_F32(65535) - a.hi, _F32(65535) - a.lo)


def sub(a: Limbs, b: Limbs) -> Limbs:
  return add(add(a, bitwise_not(b)), constant(1))


_BIT_SCALES = np.array([2.0 ** -k for k in range(16)], _F32)
_BIT_VALUES = np.array([2.0 ** k for k in range(16)], _F32)


def _bits(x: Any) -> Any:
  """[..., 16]: bit k of each 16-bit limb, as 0.0 or 1.0."""
  q = lax.floor(x[..., None] * _BIT_SCALES)
  return q - _F32(2) * lax.floor(q * _F32(0.5))


def _bitwise(a: Limbs, b: Limbs, bit_op: Callable[[Any, Any], Any]) -> Limbs:
  """A bitwise op on the bits of both limbs at once (stacked last)."""
  xa = jnp.stack(jnp.broadcast_arrays(a.hi, a.lo), -1)
  xb = jnp.stack(jnp.broadcast_arrays(b.hi, b.lo), -1)
  out = jnp.sum(bit_op(_bits(xa), _bits(xb)) * _BIT_VALUES, axis=-1)
  return Limbs(out[..., 0], out[..., 1])


def xor(a: Limbs, b: Limbs) -> Limbs:
  return _bitwise(a, b, lambda x, y: jnp.abs(x - y))


def bitwise_and(a: Limbs, b: Limbs) -> Limbs:
  return _bitwise(a, b, jnp.multiply)


def bitwise_or(a: Limbs, b: Limbs) -> Limbs:
  return _bitwise(a, b, jnp.maximum)


def shift_left(a: Limbs, s: int) -> Limbs:
  if s >= 32:
    return Limbs(jnp.zeros_like(a.hi), jnp.zeros_like(a.lo))
  if s >= 16:
    return Limbs(_mod_pow2(a.lo, 32 - s) * _pow2(s - 16), jnp.zeros_like(a.lo))
  if s == 0:
    return a
  return Limbs(_mod_pow2(a.hi, 16 - s) * _pow2(s) + _floor_div_pow2(a.lo, 16 - s),
               _mod_pow2(a.lo, 16 - s) * _pow2(s))


def shift_right_logical(a: Limbs, s: int) -> Limbs:
  if s >= 32:
    return Limbs(jnp.zeros_like(a.hi), jnp.zeros_like(a.lo))
  if s >= 16:
    return Limbs(jnp.zeros_like(a.hi), _floor_div_pow2(a.hi, s - 16))
  if s == 0:
    return a
  return Limbs(_floor_div_pow2(a.hi, s),
               _floor_div_pow2(a.lo, s) + _mod_pow2(a.hi, s) * _pow2(16 - s))


def rotate_left(a: Limbs, r: int) -> Limbs:
  r %= 32
  if r >= 16:
    a, r = Limbs(a.lo, a.hi), r - 16
  if r == 0:
    return a
  return Limbs(_mod_pow2(a.hi, 16 - r) * _pow2(r) + _floor_div_pow2(a.lo, 16 - r),
               _mod_pow2(a.lo, 16 - r) * _pow2(r) + _floor_div_pow2(a.hi, 16 - r))


def equal(a: Limbs, b: Limbs) -> Any:
  return (a.hi == b.hi) & (a.lo == b.lo)


def less(a: Limbs, b: Limbs) -> Any:
  return (a.hi < b.hi) | ((a.hi == b.hi) & (a.lo < b.lo))


def select(pred: Any, on_true: Limbs, on_false: Limbs) -> Limbs:
  return Limbs(jnp.where(pred, on_true.hi, on_false.hi),
               jnp.where(pred, on_true.lo, on_false.lo))


def broadcast_to(a: Limbs, shape: Sequence[Any]) -> Limbs:
  return Limbs(jnp.broadcast_to(a.hi, shape), jnp.broadcast_to(a.lo, shape))


_THREEFRY_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_SKEIN_KS_PARITY = 0x1BD11BDA


def threefry2x32(k1: Limbs, k2: Limbs, x1: Limbs, x2: Limbs) -> tuple[Limbs, Limbs]:
  """JAX's threefry2x32 hash (jax/_src/random/threefry2x32.py), unrolled."""
  ks = [k1, k2, xor(xor(k1, k2), constant(_SKEIN_KS_PARITY))]
  x = [add(x1, ks[0]), add(x2, ks[1])]
  for i in range(5):
    for r in _THREEFRY_ROTATIONS[i % 2]:
      x0 = add(x[0], x[1])
      x = [x0, xor(x0, rotate_left(x[1], r))]
    x = [add(x[0], ks[(i + 1) % 3]),
         add(x[1], add(ks[(i + 2) % 3], constant(i + 1)))]
  return x[0], x[1]


# --------------------------------------------------- conversions to and from


def from_int32(x: Any) -> Limbs:
  """An int32 (or narrower integer/bool) array's bits as limbs (modulo 2**32).

  Uses only casts, floor, int32 add/mul and selects (no integer division:
  TF.js has no TruncateDiv): q = floor(x / 2**16) from float32(x), off by at
  most one, then corrected on the exact int32 remainder.
  """
  x = lax.convert_element_type(x, np.int32)
  q = lax.convert_element_type(
      jnp.minimum(lax.floor(lax.convert_element_type(x, _F32) * _pow2(-16)),
                  _F32(32767)), np.int32)
  r = x - q * np.int32(65536)
  low = r < 0
  q, r = jnp.where(low, q - 1, q), jnp.where(low, r + np.int32(65536), r)
  high = r >= 65536
  q, r = jnp.where(high, q + 1, q), jnp.where(high, r - np.int32(65536), r)
  hi = lax.convert_element_type(q, _F32)
  return Limbs(jnp.where(q < 0, hi + _pow2(16), hi), lax.convert_element_type(r, _F32))


def to_int32(a: Limbs) -> Any:
  """The same bits as int32: hi - 2**16 if hi >= 2**15, times 2**16, plus lo."""
  signed_hi = jnp.where(a.hi >= _pow2(15), a.hi - _pow2(16), a.hi)
  return (lax.convert_element_type(signed_hi, np.int32) * np.int32(65536)
          + lax.convert_element_type(a.lo, np.int32))


def to_float(a: Limbs, dtype: Any) -> Any:
  """The value as float32 (or float64): hi * 2**16 exact, then one rounding."""
  return (lax.convert_element_type(a.hi, dtype) * dtype.type(65536)
          + lax.convert_element_type(a.lo, dtype))


_POW2_OF_EXPONENT = np.array([2.0 ** (e - 127) if 0 < e < 255 else 0.0
                              for e in range(256)], _F32)


def bitcast_to_float32(a: Limbs) -> Any:
  """The float32 with these bits: subnormals, infinities and zeros signed as
  in IEEE 754; every NaN comes out as the default quiet NaN."""
  negative = a.hi >= _pow2(15)
  hi = jnp.where(negative, a.hi - _pow2(15), a.hi)
  exponent = _floor_div_pow2(hi, 7)
  mantissa = (hi - exponent * _pow2(7)) * _pow2(16) + a.lo  # < 2**23: exact
  fraction = mantissa * _pow2(-23)
  scale = jnp.take(jnp.asarray(_POW2_OF_EXPONENT),
                   lax.convert_element_type(exponent, np.int32), mode="clip")
  normal = (_F32(1) + fraction) * scale
  subnormal = fraction * _pow2(-126)
  special = jnp.where(mantissa == 0, _F32(np.inf), _F32(np.nan))
  value = jnp.where(exponent == 0, subnormal,
                    jnp.where(exponent == 255, special, normal))
  return jnp.where(negative, -value, value)


def divmod_(x: Limbs, y: Limbs) -> tuple[Limbs, Limbs]:
  """(x // y, x % y) by restoring long division, one bit of x at a time
  (32 steps of shift, compare and subtract). y == 0 gives (2**32 - 1, x),
  XLA's results."""
  x_bits = (_bits(x.hi), _bits(x.lo))
  zero = jnp.zeros(jnp.broadcast_shapes(np.shape(x.hi), np.shape(y.hi)), _F32)
  r = Limbs(zero, zero)
  q_hi, q_lo = zero, zero
  for i in range(31, -1, -1):
    bit = x_bits[0][..., i - 16] if i >= 16 else x_bits[1][..., i]
    overflow = r.hi >= _pow2(15)  # 2 * r + bit >= 2**32 > y
    r = shift_left(r, 1)
    r = Limbs(r.hi, r.lo + bit)
    take = overflow | ~less(r, y)
    r = select(take, sub(r, y), r)
    one = jnp.where(take, _pow2(i % 16), _F32(0))
    if i >= 16:
      q_hi = q_hi + one
    else:
      q_lo = q_lo + one
  return Limbs(q_hi, q_lo), r


def _bytes(a: Limbs) -> list[Any]:
  return [_mod_pow2(a.lo, 8), _floor_div_pow2(a.lo, 8),
          _mod_pow2(a.hi, 8), _floor_div_pow2(a.hi, 8)]


def mul(a: Limbs, b: Limbs) -> Limbs:
  """a * b modulo 2**32 on 8-bit digits: each column sum of digit products
  is below 2**18 and each carry step below 2**19, so all of it is exact."""
  x, y = _bytes(a), _bytes(b)
  digits, carry = [], _F32(0)
  for k in range(4):
    column = carry + sum(x[i] * y[k - i] for i in range(k + 1))
    digits.append(_mod_pow2(column, 8))
    carry = _floor_div_pow2(column, 8)
  return Limbs(digits[2] + digits[3] * _pow2(8), digits[0] + digits[1] * _pow2(8))
