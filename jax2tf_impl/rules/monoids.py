"""Monoid reductions and combiners with JAX's semantics, shared by the
reduction, window (reduce_window) and cumulative families.

Each combiner is the elementwise rule's semantics for one dtype (NaN
propagation and signed zeros for max/min, logical ops on bool), so a
reduction, a window and a scan that combine with the same primitive agree
with the elementwise primitive and with XLA on CPU.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import numpy as np
import tensorflow as tf
from jax import export as jax_export
from jax import lax
from jax.extend import core as jcore

from jax2tf_impl import dtypes as dt
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.semantics import is_nan, max_or_min
from jax2tf_impl.rules.support import shape_operand, tf_op

Binop = Callable[[Any, Any], Any]


# --- elementwise combiners with JAX semantics ------------------------------
def max_binop(dtype: Any) -> Binop:
  """lax.max for `dtype` (the elementwise rule's semantics)."""
  return max_or_min(dtype, is_max=True)


def min_binop(dtype: Any) -> Binop:
  """lax.min for `dtype` (the elementwise rule's semantics)."""
  return max_or_min(dtype, is_max=False)


def add_binop(dtype: Any) -> Binop:
  return tf.math.logical_or if dt.is_bool(dtype) else tf.math.add


def mul_binop(dtype: Any) -> Binop:
  return tf.math.logical_and if dt.is_bool(dtype) else tf.math.multiply


def and_binop(dtype: Any) -> Binop:
  return tf.math.logical_and if dt.is_bool(dtype) else tf.bitwise.bitwise_and


def or_binop(dtype: Any) -> Binop:
  return tf.math.logical_or if dt.is_bool(dtype) else tf.bitwise.bitwise_or


def xor_binop(dtype: Any) -> Binop:
  return tf.math.logical_xor if dt.is_bool(dtype) else tf.bitwise.bitwise_xor


# --- monoid reductions over `axes`, any dtype ------------------------------
def reduce_sum(x: Any, axes: Sequence[int], dtype: Any) -> Any:
  if dt.is_bool(dtype):
    return tf.reduce_any(x, axis=list(axes))
  return tf_op("Sum")(x, shape_operand(axes))


def reduce_prod(x: Any, axes: Sequence[int], dtype: Any) -> Any:
  if dt.is_bool(dtype):
    return tf.reduce_all(x, axis=list(axes))
  return tf.reduce_prod(x, axis=list(axes))


def reduce_max(x: Any, axes: Sequence[int], dtype: Any) -> Any:
  return reduce_extreme(x, axes, dtype, greater=True)


def reduce_min(x: Any, axes: Sequence[int], dtype: Any) -> Any:
  return reduce_extreme(x, axes, dtype, greater=False)


def reduce_extreme(x: Any, axes: Sequence[int], dtype: Any,
                    greater: bool) -> Any:
  axes = list(axes)
  if not axes:
    return x
  if dt.is_bool(dtype):
    return (tf.reduce_any if greater else tf.reduce_all)(x, axis=axes)
  tf_reduce = tf.reduce_max if greater else tf.reduce_min
  if dt.is_complex(dtype):
    # Lexicographic: the extreme real part, then the extreme imaginary part
    # among the elements having it.
    re, im = tf.math.real(x), tf.math.imag(x)
    part = re.dtype
    m_re = tf_reduce(re, axis=axes, keepdims=True)
    fill = tf.constant(-np.inf if greater else np.inf, part)
    m_im = tf_reduce(tf.where(tf.equal(re, m_re), im, fill), axis=axes)
    return tf.complex(tf.squeeze(m_re, axis=axes), m_im)
  out = tf_reduce(x, axis=axes)
  if dt.is_float(dtype):
    # XLA (tf.function(jit_compile=True)) does not propagate NaN here.
    has_nan = tf.reduce_any(is_nan(x), axis=axes)
    # TF's kernels return either zero of {-0.0, +0.0}; lax.max orders
    # -0.0 < +0.0: max is +0.0 if any +0.0 is there, min -0.0 if any -0.0.
    # The sign of a zero is the sign of atan2(x, -1) (+-pi): finite, and
    # ATAN2 stays float under TFLite's int8 quantizer, which calibrates a
    # range for every float tensor and fails on an infinite one
    # (Reciprocal/Pow give +-inf; an int8 DIV by zero also fails at run
    # time). tf2onnx's Atan2 gives +pi for both zeros (see
    # limitations_notes.md). No select between two zero constants either:
    # an all-zero tensor has a zero range.
    zero = tf.zeros([], x.dtype)
    zero_sign = tf.math.atan2(x, -tf.ones_like(x))
    wanted_zero = tf.math.equal(x, zero) & (
        (zero_sign > zero) if greater else (zero_sign < zero))
    has_wanted = tf.reduce_any(wanted_zero, axis=axes)
    is_zero = tf.math.equal(out, zero)
    out = tf.where(is_zero & has_wanted, zero if greater else -zero, out)
    out = tf.where(is_zero & ~has_wanted, -zero if greater else zero, out)
    out = tf.where(has_nan, tf.constant(np.nan, out.dtype), out)
  return out


def reduce_and(x: Any, axes: Sequence[int], dtype: Any) -> Any:
  if dt.is_bool(dtype):
    return tf.reduce_all(x, axis=list(axes))
  return tree_reduce(x, axes, and_binop(dtype), _all_ones(dtype))


def reduce_or(x: Any, axes: Sequence[int], dtype: Any) -> Any:
  if dt.is_bool(dtype):
    return tf.reduce_any(x, axis=list(axes))
  return tree_reduce(x, axes, or_binop(dtype), _zero(dtype))


def reduce_xor(x: Any, axes: Sequence[int], dtype: Any) -> Any:
  if dt.is_bool(dtype):
    ones = tf.reduce_sum(tf.cast(x, tf.int64), axis=list(axes))
    return tf.equal(ones % 2, 1)
  return tree_reduce(x, axes, xor_binop(dtype), _zero(dtype))


def _zero(dtype: Any) -> np.ndarray:
  return np.zeros((), dt.to_np_dtype(dtype))


def _all_ones(dtype: Any) -> np.ndarray:
  """The integer with every bit set (identity of bitwise and)."""
  np_dtype = dt.to_np_dtype(dtype)
  if dt.is_unsigned(dtype):
    return np.array(np.iinfo(np_dtype).max, np_dtype)
  return np.array(-1, np_dtype)


def tree_reduce(x: Any, axes: Sequence[int], binop: Binop,
                identity: np.ndarray) -> Any:
  """Reduces `axes` of `x` with an associative `binop` by pairwise halving.

  Used where TF has no reduction kernel (bitwise and/or/xor): log2(n)
  vectorised steps, portable ops only; symbolic sizes use a tf.while_loop.
  """
  axes = sorted(axes)
  if not axes:
    return x
  rank = len(x.shape)
  keep = [i for i in range(rank) if i not in axes]
  x = tf.transpose(x, axes + keep) if axes != list(range(len(axes))) else x
  shape = tf.shape(x)
  x = tf.reshape(x, tf.concat([[-1], shape[len(axes):]], 0))
  n = x.shape[0]
  ident = tf.constant(identity)

  def pad_row(y: Any) -> Any:
    return tf.broadcast_to(ident, tf.shape(y[:1]))

  if n is not None:
    if n == 0:
      return tf.broadcast_to(ident, tf.shape(x)[1:])
    while n > 1:
      if n % 2:
        x = tf.concat([x, pad_row(x)], 0)
        n += 1
      x = binop(x[:n // 2], x[n // 2:])
      n //= 2
    return x[0]
  x = tf.concat([pad_row(x), x], 0)  # at least one row

  def step(y: Any) -> Any:
    m = tf.shape(y)[0]
    y = tf.cond(m % 2 == 1,
                lambda: tf.concat([y, pad_row(y)], 0),
                lambda: y)
    h = tf.shape(y)[0] // 2
    return binop(y[:h], y[h:])

  (x,) = tf.while_loop(lambda y: tf.shape(y)[0] > 1, lambda y: [step(y)], [x],
                       shape_invariants=[tf.TensorShape([None] + x.shape[1:])])
  return x[0]



MONOIDS: dict[Any, tuple[Callable[..., Any], Callable[[Any], Binop]]] = {
    lax.add_p: (reduce_sum, add_binop),
    lax.mul_p: (reduce_prod, mul_binop),
    lax.max_p: (reduce_max, max_binop),
    lax.min_p: (reduce_min, min_binop),
    lax.and_p: (reduce_and, and_binop),
    lax.or_p: (reduce_or, or_binop),
    lax.xor_p: (reduce_xor, xor_binop),
}


def monoid_of_body(jaxpr: Any) -> list[Any] | None:
  """For a body whose output k is `op(in_k, in_{N+k})` with a monoid op, the
  list of those primitives; None for any other body."""
  n = len(jaxpr.outvars)
  if len(jaxpr.invars) != 2 * n or len(jaxpr.eqns) != n or jaxpr.constvars:
    return None
  producers = {id(e.outvars[0]): e for e in jaxpr.eqns if len(e.outvars) == 1}
  prims = []
  for k, out in enumerate(jaxpr.outvars):
    eqn = producers.get(id(out))
    if eqn is None or eqn.primitive not in MONOIDS or len(eqn.invars) != 2:
      return None
    if any(isinstance(v, jcore.Literal) for v in eqn.invars):
      return None
    wanted = {id(jaxpr.invars[k]), id(jaxpr.invars[n + k])}
    if {id(v) for v in eqn.invars} != wanted or eqn.invars[0] is eqn.invars[1]:
      return None
    prims.append(eqn.primitive)
  return prims


_FLAT_DIM = "_jax2tf_impl_reduce_len"


def vectorized_body(body: Any, size: Any, dtypes: Sequence[Any]) -> Any:
  """The scalar reducer `body` as a ClosedJaxpr on vectors of length `size`
  (an int, or None for a symbolic length named _FLAT_DIM)."""
  fun = jcore.jaxpr_as_fun(body)
  if size is None:
    (size,) = jax_export.symbolic_shape(_FLAT_DIM)
  specs = [jax.ShapeDtypeStruct((size,), d) for d in dtypes]
  return jax.make_jaxpr(jax.vmap(lambda *a: fun(*a)))(*specs)


def body_tree_reduce(ctx: RuleContext, body: Any, xs: list[Any],
                     inits: list[Any], dtypes: Sequence[Any], n: int, m: Any,
                     valid: Any = None) -> list[Any]:
  """Reduces each x (shape [n, m], n static) over axis 0 with the jaxpr
  `body`, pairwise (log2(n) vectorised steps), then combines with `inits`
  once. `m` may be symbolic (a TF scalar): the body is then traced once on
  a symbolic length, bound to rows * m at each step.

  `valid` ([n, m] bool, optional) marks the elements that take part (XLA's
  reduce_window skips padding): an invalid element is the body's identity.
  """
  static_m = isinstance(m, int)
  symbolic_body = None if static_m else vectorized_body(body, None,
                                                        list(dtypes) * 2)

  def apply(a: list[Any], b: list[Any], rows: int) -> list[Any]:
    flat = [tf.reshape(t, [-1]) for t in a + b]
    if static_m:
      outs = ctx.interpret(vectorized_body(body, rows * m, list(dtypes) * 2),
                           *flat)
    else:
      env = ctx.state.dim_env.values
      env[_FLAT_DIM] = rows * m
      try:
        outs = ctx.interpret(symbolic_body, *flat)
      finally:
        env.pop(_FLAT_DIM, None)
    return [tf.reshape(o, [rows, -1]) for o in outs]

  if n == 0:
    return [tf.broadcast_to(i, [m]) for i in inits]
  while n > 1:
    h = n // 2
    halves = apply([x[:h] for x in xs], [x[h:2 * h] for x in xs], h)
    if valid is not None:
      va, vb = valid[:h], valid[h:2 * h]
      halves = [tf.where(va & vb, y, tf.where(va, x[:h], x[h:2 * h]))
                for y, x in zip(halves, xs)]
      v = va | vb
      valid = tf.concat([v, valid[2 * h:]], 0) if n % 2 else v
    xs = [tf.concat([y, x[2 * h:]], 0) if n % 2 else y
          for y, x in zip(halves, xs)]
    n = h + n % 2
  init_rows = [tf.broadcast_to(i, tf.stack([1, m]) if not static_m else [1, m])
               for i in inits]
  outs = apply(xs, init_rows, 1)
  if valid is not None:
    outs = [tf.where(valid, o, i) for o, i in zip(outs, init_rows)]
  return [tf.reshape(o, [-1]) for o in outs]


def monoid_identity(prim: Any, dtype: Any) -> np.ndarray:
  """The identity element of a monoid primitive for `dtype`."""
  np_dtype = dt.to_np_dtype(dtype)
  if prim in (lax.add_p, lax.or_p, lax.xor_p):
    return np.zeros((), np_dtype)
  if prim is lax.mul_p:
    return np.ones((), np_dtype)
  if prim is lax.and_p:
    return np.array(True) if dt.is_bool(dtype) else _all_ones(dtype)
  greater = prim is lax.max_p
  if dt.is_bool(dtype):
    return np.array(not greater)
  if dt.is_inexact(dtype):
    return np.array(-np.inf if greater else np.inf, np_dtype)
  info = np.iinfo(np_dtype)
  return np.array(info.min if greater else info.max, np_dtype)
