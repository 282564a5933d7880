"""Rules for sort, top_k and approx_top_k.

TF's sorting ops know nothing of JAX's orders, so every key is first mapped
to keys whose order is JAX's: a float with no NaN (nor -0.0 for top_k) is
its own key; otherwise a few int/float keys without bit casts
(_portable_float_keys); under XLA one bit-cast signed integer per float
(see _permutation). The sort is then a permutation computed with
`tf.math.top_k` (portable: TFLite, TF.js, ONNX; ties keep the lower index
first, i.e. it is stable).

The orders (jax/_src/lax/lax.py):
  * sort: floats in a total order -inf < ... < -0.0 == 0.0 < ... < inf < NaN,
    all NaNs equal (-NaN included); complex lexicographic on (real, imag);
    several keys lexicographic; is_stable keeps ties in input order.
  * top_k: XLA's TOTALORDER comparison: -NaN < -inf < ... < -0.0 < 0.0 <
    ... < inf < NaN (signs of zeros and NaNs matter); ties -> lower index.
  * approx_top_k: on CPU XLA computes it exactly, by a sort with the plain
    float comparison (-0.0 == 0.0), then keeps the first outputs.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf
from jax import lax
from jax.extend.core import primitives as prims

from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.semantics import is_nan
from jax2tf_impl.rules.support import compiling_with_xla

# ------------------------------------------------------------ order keys


def _float_bits_key(x: tf.Tensor) -> tf.Tensor:
  """Signed int whose order is the IEEE total order of the float `x`.

  The bits of a float are sign-magnitude; flipping the magnitude bits of
  negative numbers turns them into two's complement order. f16/bf16 bits are
  sign-extended to int32 first (the flip is then done on 32 bits, which
  preserves the order).
  """
  bits = {2: tf.int16, 4: tf.int32, 8: tf.int64}[x.dtype.size]
  s = tf.bitcast(x, bits)
  if bits == tf.int16:
    s = tf.cast(s, tf.int32)
  nbits = s.dtype.size * 8
  sign = tf.bitwise.right_shift(s, tf.constant(nbits - 1, s.dtype))  # 0 or -1
  # sign & magnitude_mask as sign * -magnitude_mask: TFLite has no BitwiseAnd.
  flip = sign * tf.constant(-(2 ** (nbits - 1) - 1), s.dtype)
  return tf.bitwise.bitwise_xor(s, flip)


def _canonical_float(x: tf.Tensor) -> tf.Tensor:
  """-0.0 -> 0.0 and every NaN -> +NaN, as JAX's sort comparator does."""
  zero = tf.zeros([], x.dtype)
  x = tf.where(tf.equal(x, zero), zero, x)
  return tf.where(is_nan(x), tf.constant(np.nan, x.dtype), x)


def _integer_key(x: tf.Tensor) -> tf.Tensor:
  """Signed int32/int64 in the order of the integer/bool `x`."""
  if x.dtype == tf.bool or x.dtype in (tf.int8, tf.int16, tf.uint8, tf.uint16):
    return tf.cast(x, tf.int32)
  if x.dtype in (tf.int32, tf.int64):
    return x
  # uint32/uint64: flipping the top bit maps unsigned order to signed order
  # (the cast between same-width ints keeps the bits).
  signed = {tf.uint32: tf.int32, tf.uint64: tf.int64}[x.dtype]
  top = tf.constant(signed.min, signed)
  return tf.bitwise.bitwise_xor(tf.cast(x, signed), top)


def _portable_float_keys(x: tf.Tensor, *, total_order: bool
                         ) -> list[tf.Tensor]:
  """Float keys without bit casts (ONNX has none) or BitwiseAnd (TFLite).

  [NaN flag, value with NaNs and -0.0 replaced by 0] orders like the sort
  comparator; total_order adds a last key for the sign of zeros (1/x is
  -inf for -0.0). The sign of a NaN cannot be seen without a bit cast, so
  here every NaN ranks as +NaN.
  """
  if x.dtype in (tf.float16, tf.bfloat16):
    x = tf.cast(x, tf.float32)  # exact, order-preserving
  nan = is_nan(x)
  zero = tf.zeros([], x.dtype)
  value = tf.where(tf.logical_or(nan, tf.equal(x, zero)), zero, x)
  keys = [tf.cast(nan, tf.int32), value]
  if total_order:
    keys.append(tf.cast(tf.greater(tf.ones([], x.dtype) / x, zero), tf.int32))
  return keys


def _order_keys(x: tf.Tensor, *, total_order: bool,
                portable: bool = False) -> list[tf.Tensor]:
  """Keys (most significant first) ordering `x` as JAX does.

  total_order=False: sort's order (zeros equal, NaNs equal and last);
  total_order=True: XLA's TOTALORDER (top_k). portable=True (enable_xla=
  False): no bit casts or bitwise and, floats stay floats.
  """
  if x.dtype.is_complex:
    return (_order_keys(tf.math.real(x), total_order=total_order,
                        portable=portable) +
            _order_keys(tf.math.imag(x), total_order=total_order,
                        portable=portable))
  if x.dtype.is_floating:
    if portable:
      return _portable_float_keys(x, total_order=total_order)
    return [_float_bits_key(x if total_order else _canonical_float(x))]
  return [_integer_key(x)]


# Shared with rules/comparisons.py (lt_to/le_to/eq_to use the same orders).
order_keys = _order_keys


def _reversed_key(key: tf.Tensor) -> tf.Tensor:
  """A key in exactly the reverse order: -x for floats (NaN-free keys),
  -1 - x for signed ints (== ~x, never overflows)."""
  if key.dtype.is_floating:
    return tf.negative(key)
  return tf.constant(-1, key.dtype) - key


# ------------------------------------------------------------ permutations


def _to_last(x: tf.Tensor, axis: int, rank: int) -> tf.Tensor:
  if axis == rank - 1:
    return x
  perm = [d for d in range(rank) if d != axis] + [axis]
  return tf.transpose(x, perm)


def _from_last(x: tf.Tensor, axis: int, rank: int) -> tf.Tensor:
  if axis == rank - 1:
    return x
  perm = list(range(rank - 1))
  perm.insert(axis, rank - 1)
  return tf.transpose(x, perm)


def _take(x: tf.Tensor, idx: tf.Tensor) -> tf.Tensor:
  """x[..., idx[..., j]] along the last axis (both of the same rank)."""
  if x.dtype == tf.uint32:  # TFLite's Gather has no uint32; casts keep bits
    return tf.cast(_take(tf.cast(x, tf.int32), idx), tf.uint32)
  rank = len(idx.shape)
  if rank == 1:
    return tf.gather(x, idx)
  return tf.gather(x, idx, axis=rank - 1, batch_dims=rank - 1)


def _stable_perm(keys: Sequence[tf.Tensor], n: Any, *, k: Any = None,
                 descending: bool = False) -> tf.Tensor:
  """The stable permutation sorting `keys` (lexicographic) along the last
  axis, or its first k entries.

  One stable pass per key, from the least significant key to the most
  significant one (LSD radix-style); each pass is a tf.math.top_k (of the
  reversed key when ascending), whose ties keep the lower index first. Only
  the last pass may stop at k.
  """
  perm = None
  for i, key in enumerate(reversed(keys)):
    if perm is not None:
      key = _take(key, perm)
    last = i == len(keys) - 1
    _, step = tf.math.top_k(key if descending else _reversed_key(key),
                            k=k if (last and k is not None) else n,
                            sorted=True)
    perm = step if perm is None else _take(perm, step)
  return perm


def _has_special(x: tf.Tensor, total_order: bool) -> tf.Tensor:
  """Whether float `x` holds a NaN (or, for total_order, a -0.0): the
  values one plain float key cannot order as JAX does."""
  special = is_nan(x)
  if total_order:
    zero = tf.zeros([], x.dtype)
    special = tf.logical_or(special, tf.logical_and(
        tf.equal(x, zero), tf.less(tf.ones([], x.dtype) / x, zero)))
  return tf.reduce_any(special)


def _plain_float_key(x: tf.Tensor, total_order: bool) -> tf.Tensor:
  """The float itself as its key (NaN-free `x`; for sort's order -0.0 is
  merged with 0.0; for total_order `x` holds no -0.0)."""
  if x.dtype in (tf.float16, tf.bfloat16):
    x = tf.cast(x, tf.float32)  # exact, order-preserving
  if total_order:
    return x
  zero = tf.zeros([], x.dtype)
  return tf.where(tf.equal(x, zero), zero, x)


def _permutation(ctx: RuleContext, operands: Sequence[tf.Tensor], n: Any, *,
                 total_order: bool, k: Any = None,
                 descending: bool = False) -> tf.Tensor:
  """The stable permutation ordering `operands` (lexicographic keys) as
  JAX does, or its first k entries.

  Under XLA (enable_xla and jit_compile): one bit-cast integer key per
  float, JAX's order exactly, NaN signs included. Elsewhere, the default
  graph as the portable one (tf2onnx and TF.js have no bit cast): when no
  operand holds a NaN (nor a -0.0 for total_order) each float is its own
  key, one TopK pass as with bit-cast keys; otherwise, in the other branch
  of a tf.cond, the portable keys of _portable_float_keys (two or three
  passes per float; every NaN ranks as +NaN)."""
  if ctx.enable_xla and compiling_with_xla():
    keys = [key for x in operands for key in _order_keys(x, total_order=total_order)]
    return _stable_perm(keys, n, k=k, descending=descending)

  def portable() -> tf.Tensor:
    keys = [key for x in operands
            for key in _order_keys(x, total_order=total_order, portable=True)]
    return _stable_perm(keys, n, k=k, descending=descending)
  floats = [x for x in operands if x.dtype.is_floating]
  if not floats or any(x.dtype.is_complex for x in operands):
    return portable()

  def plain() -> tf.Tensor:
    keys = [_plain_float_key(x, total_order) if x.dtype.is_floating
            else _integer_key(x) for x in operands]
    return _stable_perm(keys, n, k=k, descending=descending)
  special = tf.reduce_any(tf.stack([_has_special(x, total_order) for x in floats]))
  return tf.cond(special, portable, plain)


def _dim_size(ctx: RuleContext, aval: Any, axis: int) -> Any:
  return ctx.dim(aval.shape[axis])


# ------------------------------------------------------------ sort


@register(lax.sort_p)
def _sort(ctx: RuleContext, *operands: tf.Tensor, dimension: int,
          is_stable: bool, num_keys: int) -> list[tf.Tensor]:
  """Lexicographic sort on the first `num_keys` operands, carrying the rest.

  A stable sort is also a valid result for is_stable=False.
  """
  del is_stable
  aval = ctx.avals_in[0]
  rank = len(aval.shape)
  if rank == 0:
    return list(operands)
  n = _dim_size(ctx, aval, dimension)
  moved = [_to_last(x, dimension, rank) for x in operands]
  perm = _permutation(ctx, moved[:num_keys], n, total_order=False)
  return [_from_last(_take(x, perm), dimension, rank) for x in moved]


# ------------------------------------------------------------ top_k


def _top_along(ctx: RuleContext, operand: tf.Tensor, axis: int, k: Any, *,
               largest: bool, total_order: bool) -> list[tf.Tensor]:
  aval = ctx.avals_in[0]
  rank = len(aval.shape)
  axis = axis % rank
  moved = _to_last(operand, axis, rank)
  idx = _permutation(ctx, [moved], _dim_size(ctx, aval, axis),
                     total_order=total_order, k=k, descending=largest)
  values = _take(moved, idx)
  idx = tf.cast(idx, ctx.tf_dtype(ctx.avals_out[1]))
  return [_from_last(values, axis, rank), _from_last(idx, axis, rank)]


@register(lax.top_k_p)
def _top_k(ctx: RuleContext, operand: tf.Tensor, *, k: Any,
           axis: int = -1) -> list[tf.Tensor]:
  if ctx.avals_in[0].dtype == np.bool_:
    operand = tf.cast(operand, tf.int32)
    values, idx = _top_along(ctx, operand, axis, ctx.dim(k), largest=True,
                             total_order=True)
    return [tf.cast(values, tf.bool), idx]
  return _top_along(ctx, operand, axis, ctx.dim(k), largest=True,
                    total_order=True)


@register(prims.approx_top_k_p)
def _approx_top_k(ctx: RuleContext, operand: tf.Tensor, *, k: int,
                  reduction_dimension: int, recall_target: float,
                  is_max_k: bool, reduction_input_size_override: int,
                  aggregate_to_topk: bool) -> list[tf.Tensor]:
  """The exact top-k, as XLA computes it on CPU/GPU.

  With aggregate_to_topk=False JAX's output keeps more than k entries along
  the reduction dimension (the size the TPU algorithm would produce); off
  TPU those are the first entries of the full sort, so we return that many.
  """
  del k, recall_target, reduction_input_size_override, aggregate_to_topk
  rank = len(ctx.avals_in[0].shape)
  axis = reduction_dimension % rank
  out = ctx.dim(ctx.avals_out[0].shape[axis])
  return _top_along(ctx, operand, axis, out, largest=is_max_k,
                    total_order=False)
