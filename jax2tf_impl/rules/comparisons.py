"""Rules for the total-order comparisons lt_to, le_to and eq_to.

JAX emits them for its sort comparators, so jnp.searchsorted, jnp.interp,
jnp.digitize, jnp.histogram and jax.scipy.linalg.expm reach them. JAX lowers
them to an HLO compare with `compare_type=TOTALORDER` for floats
(jax/_src/lax/lax.py, `_compare_lower_hlo`), and to the plain SIGNED /
UNSIGNED compare for integers and bools:

  -NaN < -inf < ... < -0.0 < +0.0 < ... < +inf < +NaN

(XLA's total order compares sign-magnitude bit patterns, so NaNs with
different payloads are different too). eq_to accepts complex operands at
trace time, but XLA rejects the TOTALORDER compare of complex numbers, so
JAX cannot run it; neither do we.

Floats are mapped to order keys with the helper the sort rules use
(`sort.order_keys(..., total_order=True)`): with enable_xla=True one signed
integer per float from a bit cast, exact in every case; with
enable_xla=False (ONNX has no bit cast) a few keys without bit casts (NaN
flag, value, sign of zero), exact except that every NaN counts as +NaN
(the sign and payload of a NaN are invisible without a bit cast; see
sort.py). The keys are then compared lexicographically.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import tensorflow as tf
from jax import lax

from jax2tf_impl import dtypes as dt
from jax2tf_impl.rules import declare_default_form, register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.sort import order_keys


def _keys(ctx: RuleContext, x: Any) -> list[tf.Tensor]:
  return order_keys(x, total_order=True, portable=not ctx.enable_xla)


def _lexicographic(xs: Sequence[tf.Tensor], ys: Sequence[tf.Tensor],
                   last: Callable[[Any, Any], Any]) -> tf.Tensor:
  """(xs[0], xs[1], ...) vs (ys[0], ...): `<` on every key but the last,
  where `last` (tf.less or tf.less_equal) decides ties of the others."""
  result = last(xs[-1], ys[-1])
  for xk, yk in zip(reversed(xs[:-1]), reversed(ys[:-1])):
    result = tf.logical_or(tf.less(xk, yk),
                           tf.logical_and(tf.equal(xk, yk), result))
  return result


def _plain_operands(ctx: RuleContext, x: Any, y: Any) -> tuple[Any, Any]:
  """Integer/bool operands, comparable with TF's ops (bools as 0/1)."""
  if dt.is_bool(ctx.avals_in[0].dtype):
    return tf.cast(x, tf.int8), tf.cast(y, tf.int8)
  return x, y


def _is_float(ctx: RuleContext) -> bool:
  """Whether the operands are floats (complex operands are refused)."""
  if dt.is_complex(ctx.avals_in[0].dtype):
    raise ctx.unsupported("a total-order comparison of complex numbers "
                          "(XLA rejects it, so JAX cannot run it either)")
  return dt.is_float(ctx.avals_in[0].dtype)


def _ordered(tf_cmp: Callable[[Any, Any], Any]) -> Callable[..., Any]:
  def rule(ctx: RuleContext, x: Any, y: Any) -> Any:
    if not _is_float(ctx):
      return tf_cmp(*_plain_operands(ctx, x, y))
    return _lexicographic(_keys(ctx, x), _keys(ctx, y), tf_cmp)

  rule.__name__ = f"total_order_{tf_cmp.__name__}"
  return rule


declare_default_form(
    "total-order comparisons use sort's keys: the bit-cast key is exact for "
    "-NaN (measured with sort's keys, benchmarks/DEFAULT_FORMS.md)",
    "lt_to", "le_to", "eq_to")
register(lax.lt_to_p)(_ordered(tf.math.less))
register(lax.le_to_p)(_ordered(tf.math.less_equal))


@register(lax.eq_to_p)
def _eq_to(ctx: RuleContext, x: Any, y: Any) -> Any:
  """Equal in the total order: -0.0 != +0.0, NaN == NaN (same bits)."""
  if not _is_float(ctx):
    return tf.math.equal(*_plain_operands(ctx, x, y))
  result = None
  for xk, yk in zip(_keys(ctx, x), _keys(ctx, y)):
    eq = tf.math.equal(xk, yk)
    result = eq if result is None else tf.logical_and(result, eq)
  return result
