"""Bit manipulation on 32-bit integers from the ops every portable runtime has.

With `enable_xla=False` a graph must load in TFLite (builtin ops), ONNX
(through tf2onnx) and TF.js. Their integer op sets overlap less than one
would hope (measured with TF 2.21's TFLite converter + LiteRT 2.3 and
tf2onnx 1.17 + onnxruntime 1.32, opset 18):

  * TFLite has no BitwiseAnd/BitwiseOr/LeftShift, and no uint32 Sub, Less or
    Select; it has uint32 Add/Mul (wrapping), BitwiseXor, RightShift
    (logical on uint32) and Cast between int32 and uint32 (bits kept).
  * ONNX has no bit cast at all; BitwiseXor needs opset 18.

Everything here therefore uses only: uint32 add/mul (modulo 2**32), xor,
logical right shift by constants, int32<->uint32 casts, int32 arithmetic and
float32 arithmetic/gather. All functions are exact for every input.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

_ALL_ONES = np.uint32(0xFFFFFFFF)


def u32(value: int) -> tf.Tensor:
  return tf.constant(np.uint32(value))


def as_u32(x: tf.Tensor) -> tf.Tensor:
  """The bits of an 8/16/32-bit integer as uint32 (sign-extended if signed).

  Sign extension commutes with and/or/xor/not, so results cast back to the
  narrow type are exact.
  """
  return x if x.dtype == tf.uint32 else tf.cast(x, tf.uint32)


def sub_u32(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
  """a - b modulo 2**32 as a + ~b + 1 (TFLite has no uint32 Sub)."""
  return a + tf.bitwise.bitwise_xor(b, u32(_ALL_ONES)) + u32(1)


def and_u32(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
  """a & b, from a + b == (a ^ b) + 2 * (a & b).

  Modulo 2**32 the top bit of a & b is lost in 2 * (a & b); it is the
  product of the operands' top bits.
  """
  twice_low = sub_u32(a + b, tf.bitwise.bitwise_xor(a, b))
  top = (tf.bitwise.right_shift(a, u32(31)) *
         tf.bitwise.right_shift(b, u32(31)))
  return tf.bitwise.right_shift(twice_low, u32(1)) + top * u32(1 << 31)


def or_u32(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
  """a | b == (a ^ b) + (a & b): the two have no bit in common."""
  return tf.bitwise.bitwise_xor(a, b) + and_u32(a, b)


def not_u32(a: tf.Tensor) -> tf.Tensor:
  return tf.bitwise.bitwise_xor(a, u32(_ALL_ONES))


def shift_left_u32(a: tf.Tensor, amount: int) -> tf.Tensor:
  """a << amount for a constant amount (multiplication wraps)."""
  if not 0 <= amount < 32:
    return tf.zeros_like(a)
  return a * u32(1 << amount)


def shift_right_u32(a: tf.Tensor, amount: int) -> tf.Tensor:
  """Logical a >> amount for a constant amount."""
  if not 0 <= amount < 32:
    return tf.zeros_like(a)
  return tf.bitwise.right_shift(a, u32(amount)) if amount else a


def rotate_left_u32(a: tf.Tensor, amount: int) -> tf.Tensor:
  """Rotation by a constant 0 < amount < 32; the two parts are disjoint."""
  return shift_left_u32(a, amount) + shift_right_u32(a, 32 - amount)


def _powers_of_two_f32() -> np.ndarray:
  """scale[e] for a float32 biased exponent e: 2**(e-127), 2**-126 for e=0
  (subnormals), inf for e=255."""
  exps = np.arange(256, dtype=np.float64) - 127.0
  exps[0] = -126.0
  table = np.power(2.0, exps)
  table[255] = np.inf
  return table.astype(np.float32)


def bits_to_float32(u: tf.Tensor) -> tf.Tensor:
  """The float32 whose IEEE bits are the uint32 `u`, without a bit cast.

  value = (implicit + mantissa * 2**-23) * 2**(exponent - 127) with sign;
  every step is exact in float32. NaNs come out as the default quiet NaN
  (their payload and sign are not reproduced).
  """
  sign = tf.cast(tf.bitwise.right_shift(u, u32(31)), tf.int32)
  top9 = tf.cast(tf.bitwise.right_shift(u, u32(23)), tf.int32)
  exponent = top9 - sign * 256
  mantissa = tf.cast(tf.cast(shift_right_u32(shift_left_u32(u, 9), 9),
                             tf.int32), tf.float32)
  implicit = tf.cast(tf.minimum(exponent, 1), tf.float32)
  magnitude = ((implicit + mantissa * np.float32(2.0 ** -23)) *
               tf.gather(tf.constant(_powers_of_two_f32()), exponent))
  is_nan = tf.logical_and(tf.equal(exponent, 255),
                          tf.not_equal(mantissa, np.float32(0)))
  signed = magnitude * (np.float32(1.0) - 2.0 * tf.cast(sign, tf.float32))
  return tf.where(is_nan, tf.constant(np.nan, tf.float32), signed)


def truncate_div(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
  """Integer x / y rounded toward zero, from FloorDiv (TF.js and TFLite have
  no TruncateDiv). y must not be 0 or -1 (the caller's safe divisor).

  On non-positive magnitudes -|x|, -|y| (exact even for INT_MIN) the quotient
  is non-negative, where floor and truncation agree: so it is also right
  through tf2onnx, which maps FloorDiv to a truncating Div. |y| == 1 lanes
  (INT_MIN / -(-1) would overflow) are x * y.
  """
  if x.dtype.is_unsigned:
    return tf.math.floordiv(x, y)
  zero, one = tf.zeros([], x.dtype), tf.ones([], x.dtype)
  unit = tf.math.equal(y, one)
  y = tf.where(unit, one + one, y)
  neg_x = tf.where(x > zero, -x, x)
  neg_y = tf.where(y > zero, -y, y)
  q = tf.math.floordiv(neg_x, neg_y)
  q = tf.where(tf.math.not_equal(x < zero, y < zero), -q, q)
  return tf.where(unit, x, q)
