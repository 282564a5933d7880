"""Rules for the random-number primitives, bit-exact with JAX.

Key arrays never reach these rules: prng_keys.physicalize() rewrites
random_seed/split/fold_in/bits/gamma into JAX's own implementations on the
uint32 key data, which bottom out in the primitives below (threefry2x32 and
iota_2x32_shape for the default threefry PRNG). All arithmetic is uint32 /
uint64 TF arithmetic, which wraps modulo 2**32 / 2**64 like XLA's.

rng_bit_generator follows XLA's RngBitGenerator expansion
(xla/hlo/builder/lib/prng.cc, rng_bit_generator_expander.cc); on CPU and
GPU XLA's RNG_DEFAULT is Philox. rng_uniform is nondeterministic in JAX too,
so it only has to draw from the same range.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf
from jax import lax
from jax.extend import core as jcore
from jax.extend.core import primitives as prims

from jax2tf_impl import jax_internals as ji
from jax2tf_impl.rules import portable_int as pint
from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext

_U32_MASK = 0xFFFFFFFF


def _u64(value: int) -> tf.Tensor:
  return tf.constant(np.uint64(value))


def _lo32(x: tf.Tensor) -> tf.Tensor:
  """The low 32 bits of a uint64, as uint32."""
  return tf.cast(tf.bitwise.bitwise_and(x, _u64(_U32_MASK)), tf.uint32)


def _hi32(x: tf.Tensor) -> tf.Tensor:
  """The high 32 bits of a uint64, as uint32."""
  return tf.cast(tf.bitwise.right_shift(x, _u64(32)), tf.uint32)


def _join64(lo: tf.Tensor, hi: tf.Tensor) -> tf.Tensor:
  """lo | hi << 32 as uint64."""
  return tf.bitwise.bitwise_or(
      tf.cast(lo, tf.uint64),
      tf.bitwise.left_shift(tf.cast(hi, tf.uint64), _u64(32)))


# ------------------------------------------------------------ threefry2x32

_THREEFRY_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_THREEFRY_PARITY = 0x1BD11BDA


def threefry2x32(k0: tf.Tensor, k1: tf.Tensor, x0: tf.Tensor,
                 x1: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """The Threefry-2x32 block cipher, 20 rounds (Salmon et al. 2011), uint32.

  Only uint32 add/mul/xor and constant right shifts (portable_int), so the
  same graph loads in TFLite and ONNX.
  """
  ks = (k0, k1, tf.bitwise.bitwise_xor(tf.bitwise.bitwise_xor(k0, k1),
                                       pint.u32(_THREEFRY_PARITY)))
  x0 = x0 + ks[0]
  x1 = x1 + ks[1]
  for i in range(5):
    for r in _THREEFRY_ROTATIONS[i % 2]:
      x0 = x0 + x1
      x1 = tf.bitwise.bitwise_xor(x0, pint.rotate_left_u32(x1, r))
    x0 = x0 + ks[(i + 1) % 3]
    x1 = x1 + ks[(i + 2) % 3] + pint.u32(i + 1)
  return x0, x1


@register(prims.threefry2x32_p)
def _threefry2x32(ctx: RuleContext, k0: tf.Tensor, k1: tf.Tensor,
                  x0: tf.Tensor, x1: tf.Tensor) -> list[tf.Tensor]:
  """JAX's threefry2x32 hash; the operands broadcast against each other."""
  shape = ctx.shape_tensor(ctx.aval_out)
  y0, y1 = threefry2x32(k0, k1, x0, x1)
  return [tf.broadcast_to(y0, shape), tf.broadcast_to(y1, shape)]


# ------------------------------------------------------------ iota_2x32_shape


@register(ji.iota_2x32_shape_p)
def _iota_2x32_shape(ctx: RuleContext, *, shape: Sequence[Any]
                     ) -> list[tf.Tensor]:
  """The row-major uint64 iota of `shape`, as (high, low) uint32 words.

  Below 2**31 elements the high word is zero and the low one an int32 iota
  (portable). Symbolic sizes are int32 tensors like every symbolic dimension
  here (shapes.py), so they are below 2**31 too.
  """
  out_shape = ctx.shape_tensor(ctx.aval_out)
  if not ctx.is_static(shape) or math.prod(shape) < 2**31:
    size = (math.prod(shape) if ctx.is_static(shape) else
            tf.reduce_prod(tf.stack(ctx.shape(shape))))
    lo = tf.reshape(tf.range(size, dtype=tf.int32), out_shape)
    lo = tf.cast(lo, tf.uint32)
    return [tf.zeros_like(lo), lo]
  size = tf.reduce_prod(tf.cast(tf.stack(ctx.shape(shape)), tf.int64))
  counts = tf.cast(tf.reshape(tf.range(size, dtype=tf.int64), out_shape),
                   tf.uint64)
  return [_hi32(counts), _lo32(counts)]


# ------------------------------------------------------------ rng_bit_generator


def _key_words(key: tf.Tensor, key_dtype: np.dtype) -> tuple[tf.Tensor, tf.Tensor]:
  """The two uint64 state words; a uint32[4] key is little-endian pairs."""
  if key_dtype == np.uint64:
    return key[0], key[1]
  return _join64(key[0], key[1]), _join64(key[2], key[3])


def _key_from_words(s0: tf.Tensor, s1: tf.Tensor,
                    key_dtype: np.dtype) -> tf.Tensor:
  if key_dtype == np.uint64:
    return tf.stack([s0, s1])
  return tf.stack([_lo32(s0), _hi32(s0), _lo32(s1), _hi32(s1)])


def _row_major_counts(shape: Sequence[int]) -> tf.Tensor:
  return tf.reshape(tf.range(max(math.prod(shape), 0), dtype=tf.int64),
                    list(shape))


def _split_dim(shape: Sequence[int]) -> int:
  """XLA's SplitShapeIntoHalves: first even dim, else the largest one."""
  for i, d in enumerate(shape):
    if d % 2 == 0:
      return i
  return max(range(len(shape)), key=lambda i: (shape[i], -i))


def _threefry_block(s0: tf.Tensor, s1: tf.Tensor, shape: Sequence[int]
                    ) -> tuple[tf.Tensor, tf.Tensor]:
  """Threefry of counters s1 + row-major index over `shape`, key s0."""
  counts = s1 + tf.cast(_row_major_counts(shape), tf.uint64)
  return threefry2x32(_lo32(s0), _hi32(s0), _lo32(counts), _hi32(counts))


def _threefry_bits32(s0: tf.Tensor, s1: tf.Tensor, shape: Sequence[int]
                     ) -> tuple[tf.Tensor, tf.Tensor]:
  """XLA's ThreeFryRngBit32: half as many blocks, outputs interleaved."""
  if not shape:
    y0, _ = _threefry_block(s0, s1, [1])
    return tf.reshape(y0, []), s1 + _u64(1)
  axis = _split_dim(shape)
  half = list(shape)
  half[axis] = (shape[axis] + 1) // 2
  y0, y1 = _threefry_block(s0, s1, half)
  both = tf.stack([y0, y1], axis=axis + 1)
  full = list(shape)
  full[axis] = 2 * half[axis]
  bits = tf.reshape(both, full)
  if full[axis] != shape[axis]:
    bits = tf.slice(bits, [0] * len(shape), list(shape))
  return bits, s1 + _u64(math.prod(half))


def _threefry_bits64(s0: tf.Tensor, s1: tf.Tensor, shape: Sequence[int]
                     ) -> tuple[tf.Tensor, tf.Tensor]:
  y0, y1 = _threefry_block(s0, s1, shape)
  return _join64(y0, y1), s1 + _u64(math.prod(shape))


_PHILOX_W32 = (0x9E3779B9, 0xBB67AE85)
_PHILOX_M4x32 = (0xD2511F53, 0xCD9E8D57)


def _mul_hi_lo(x: tf.Tensor, m: int) -> tuple[tf.Tensor, tf.Tensor]:
  product = tf.cast(x, tf.uint64) * _u64(m)
  return _hi32(product), _lo32(product)


def philox4x32(x: Sequence[tf.Tensor], key: Sequence[tf.Tensor]
               ) -> list[tf.Tensor]:
  """The Philox-4x32 block cipher, 10 rounds, uint32."""
  x = list(x)
  k0, k1 = key
  for _ in range(10):
    hi0, lo0 = _mul_hi_lo(x[0], _PHILOX_M4x32[0])
    hi1, lo1 = _mul_hi_lo(x[2], _PHILOX_M4x32[1])
    x = [tf.bitwise.bitwise_xor(tf.bitwise.bitwise_xor(hi1, x[1]), k0), lo1,
         tf.bitwise.bitwise_xor(tf.bitwise.bitwise_xor(hi0, x[3]), k1), lo0]
    k0 = k0 + pint.u32(_PHILOX_W32[0])
    k1 = k1 + pint.u32(_PHILOX_W32[1])
  return x


def _philox_blocks(s0: tf.Tensor, s1: tf.Tensor, n_words: int
                   ) -> tuple[list[tf.Tensor], tf.Tensor]:
  """ceil(n_words/4) Philox blocks; XLA's u64[2] state is the 128-bit
  counter (low = s1, high = s0) and the key is s0."""
  blocks = -(-n_words // 4)
  low, high = s1, s0
  counts_low = low + tf.cast(tf.range(blocks, dtype=tf.int64), tf.uint64)
  carry = tf.cast(tf.less(counts_low, low), tf.uint64)
  counts_high = high + carry
  x = [_lo32(counts_low), _hi32(counts_low), _lo32(counts_high),
       _hi32(counts_high)]
  out = philox4x32(x, [_lo32(s0), _hi32(s0)])
  return out, low + _u64(blocks)


def _interleave(words: Sequence[tf.Tensor], n: int,
                shape: Sequence[int]) -> tf.Tensor:
  flat = tf.reshape(tf.stack(list(words), axis=1), [-1])
  return tf.reshape(flat[:n], list(shape))


def _philox_bits32(s0: tf.Tensor, s1: tf.Tensor, shape: Sequence[int]
                   ) -> tuple[tf.Tensor, tf.Tensor]:
  n = math.prod(shape)
  out, new_s1 = _philox_blocks(s0, s1, n)
  return _interleave(out, n, shape), new_s1


def _philox_bits64(s0: tf.Tensor, s1: tf.Tensor, shape: Sequence[int]
                   ) -> tuple[tf.Tensor, tf.Tensor]:
  n = math.prod(shape)
  out, new_s1 = _philox_blocks(s0, s1, 2 * n)
  words = [_join64(out[0], out[1]), _join64(out[2], out[3])]
  return _interleave(words, n, shape), new_s1


_GENERATORS: dict[tuple[str, int], Callable[..., Any]] = {
    ("THREE_FRY", 32): _threefry_bits32, ("THREE_FRY", 64): _threefry_bits64,
    ("PHILOX", 32): _philox_bits32, ("PHILOX", 64): _philox_bits64,
}


@register(lax.rng_bit_generator_p)
def _rng_bit_generator(ctx: RuleContext, key: tf.Tensor, *, shape: Any,
                       dtype: Any, algorithm: Any, **_: Any) -> list[tf.Tensor]:
  """XLA's RngBitGenerator; RNG_DEFAULT is Philox (XLA's CPU/GPU default)."""
  key_dtype = np.dtype(ctx.avals_in[0].dtype)
  out_dtype = np.dtype(ctx.avals_out[1].dtype)
  if out_dtype not in (np.uint8, np.uint16, np.uint32, np.uint64):
    raise ctx.unsupported(f"rng_bit_generator of dtype {out_dtype}")
  shape = tuple(ctx.avals_out[1].shape)
  if not ctx.is_static(shape):
    raise ctx.unsupported("rng_bit_generator with a symbolic output shape")
  name = algorithm.name.replace("RNG_", "")
  if name == "DEFAULT":
    name = "PHILOX"
  width = 64 if out_dtype == np.uint64 else 32
  generator = _GENERATORS.get((name, width))
  if generator is None:
    raise ctx.unsupported(f"rng_bit_generator algorithm {algorithm}")
  s0, s1 = _key_words(key, key_dtype)
  bits, new_s1 = generator(s0, s1, shape)
  if out_dtype != bits.dtype.as_numpy_dtype:
    bits = tf.cast(bits, ctx.tf_dtype(out_dtype))  # truncates, like XLA
  return [_key_from_words(s0, new_s1, key_dtype), bits]


# ------------------------------------------------------------ rng_uniform


@register(lax.rng_uniform_p)
def _rng_uniform(ctx: RuleContext, a: tf.Tensor, b: tf.Tensor, *,
                 shape: Any) -> tf.Tensor:
  """Uniform in [a, b): JAX's values are unspecified (XLA RngUniform)."""
  out_dtype = np.dtype(ctx.aval_out.dtype)
  out_shape = ctx.shape_tensor(ctx.aval_out)
  tf_dtype = ctx.tf_dtype(out_dtype)
  if out_dtype in (np.float32, np.float64, np.int32, np.int64):
    return tf.random.uniform(out_shape, a, b, dtype=tf_dtype)
  if np.issubdtype(out_dtype, np.floating):
    wide = tf.random.uniform(out_shape, tf.cast(a, tf.float32),
                             tf.cast(b, tf.float32), dtype=tf.float32)
    narrow = tf.cast(wide, tf_dtype)
    # Rounding may reach b: keep the interval half-open.
    below_b = tf.experimental.numpy.nextafter(b, a)
    return tf.minimum(narrow, below_b)
  if np.issubdtype(out_dtype, np.integer):
    wide = tf.random.uniform(out_shape, tf.cast(a, tf.int64),
                             tf.cast(b, tf.int64), dtype=tf.int64)
    return tf.cast(wide, tf_dtype)
  raise ctx.unsupported(f"rng_uniform of dtype {out_dtype}")


# ------------------------------------------------------------ other PRNGs


def _lowered_by_jax(lowering: Callable[..., Any]) -> Callable[..., Any]:
  """A rule for a primitive that JAX lowers as a JAX function (`lowering`):
  trace that function on the equation's types and convert its jaxpr."""

  def rule(ctx: RuleContext, *args: tf.Tensor, **params: Any) -> list[Any]:
    fn = functools.partial(lowering, **params)
    jaxpr, consts = ji.trace_to_jaxpr(lambda *a: list(fn(*a)), ctx.avals_in,
                                      "jax2tf_impl.lowering")
    return ctx.interpret(jcore.ClosedJaxpr(jaxpr, consts), *args)

  return rule


register(ji.philox2x32_p)(_lowered_by_jax(ji.philox2x32_as_jax))
register(ji.philox4x32_p)(_lowered_by_jax(ji.philox4x32_as_jax))
register(ji.threefry4x32_p)(_lowered_by_jax(ji.threefry4x32_as_jax))
