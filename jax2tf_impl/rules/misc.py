"""Rules for primitives that leave values unchanged at inference time.

Each one below was checked against its JAX definition (impl / lowering):
- device_put: moves or copies arrays between devices/memory spaces; values
  are unchanged (the lowering returns its operands). Multiple operands.
- optimization_barrier: scheduling/fusion hint for XLA; values unchanged.
- sharding_constraint, reshard, layout_constraint: placement annotations;
  values unchanged (a converted TF graph runs on one device).
- name (checkpoint_name): a tag read by remat policies; identity.
- tie(x, y): orders x before y for XLA; the result is y.
- pvary: a type cast to "varying over mesh axes" inside shard_map; the data
  of each shard is unchanged.
- random_clone (jax.random.clone): identity on the key data; typed keys
  are handled by the PRNG-key pass, raw uint32 keys (e.g. from Flax's
  nn.RNN/nn.scan with split rngs) reach this rule.
- xla_metadata_value (set_xla_metadata(x, ...)): frontend attributes for
  XLA attached to x's producer; values unchanged.
Also dim_as_value (shape polymorphism): a symbolic dimension used as a
value, e.g. `x.shape[0] * 2.0`; its value comes from the dimension env;
jax.export's dimension_size / shape_assertion; and empty / empty2
(uninitialized arrays, which JAX's CPU lowering fills with zeros).
(copy and stop_gradient, also identities, are in elementwise.py.)
"""
from __future__ import annotations

from typing import Any

import tensorflow as tf
from jax import lax
from jax.extend.core import primitives as prims

from jax2tf_impl import jax_internals as ji
from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext


def _identity(ctx: RuleContext, x: Any, **params: Any) -> Any:
  del ctx, params
  return x


def _identity_n(ctx: RuleContext, *xs: Any, **params: Any) -> list[Any]:
  del ctx, params
  return list(xs)


register(prims.device_put_p)(_identity_n)
register(lax.optimization_barrier_p)(_identity_n)
register(prims.sharding_constraint_p)(_identity)
register(ji.reshard_p)(_identity)
register(ji.layout_constraint_p)(_identity)
register(prims.name_p)(_identity)
register(ji.pvary_p)(_identity)
register(ji.random_clone_p)(_identity)
register(ji.xla_metadata_value_p)(_identity)


@register(ji.tie_p)
def _tie(ctx: RuleContext, x: Any, y: Any) -> Any:
  """tie(x, y) only forces x to be computed before y in XLA; returns y."""
  del ctx, x
  return y



@register(ji.dim_as_value_p)
def _dim_as_value(ctx: RuleContext, *, dim: Any) -> Any:
  """The value of dimension `dim` (static or solved from input shapes)."""
  value = ctx.dim(dim)
  if isinstance(value, int):
    return ctx.constant(value, ctx.aval_out)
  return tf.cast(value, ctx.tf_dtype(ctx.aval_out))


@register(ji.dimension_size_p)
def _dimension_size(ctx: RuleContext, x: Any, *, dimension: int) -> Any:
  """x.shape[dimension] as a value (jax.export's dimension_size); the
  size is read from the aval, so static sizes stay constants."""
  del x
  value = ctx.dim(ctx.avals_in[0].shape[dimension])
  if isinstance(value, int):
    return ctx.constant(value, ctx.aval_out)
  return tf.cast(value, ctx.tf_dtype(ctx.aval_out))


def _format_assertion(message: str, values: list[Any]) -> str:
  try:
    return message.format(*values)
  except (IndexError, KeyError, ValueError):
    return f"{message} (values: {values})"


@register(ji.shape_assertion_p)
def _shape_assertion(ctx: RuleContext, assert_what: Any,
                     *error_message_inputs: Any, error_message: str
                     ) -> list[Any]:
  """jax.export's shape_assertion: `assert_what` must hold, else fail with
  `error_message` formatted with the inputs ("{0}" is the first).

  Known at conversion time: checked now (ValueError, as JAX raises when it
  can decide). Otherwise a tf.debugging.Assert, which raises
  InvalidArgumentError with the message and the values at run time (in a
  tf.function it runs by automatic control dependencies; XLA compiles
  Assert to nothing, so under jit_compile the check is skipped).
  """
  ok = tf.get_static_value(assert_what)
  statics = [tf.get_static_value(v) for v in error_message_inputs]
  if ok is not None:
    if not bool(ok):
      raise ValueError(_format_assertion(
          error_message, [None if v is None else v.item() for v in statics]))
    return []
  tf.debugging.Assert(assert_what,
                      [f"shape assertion failed: {error_message} with "
                       f"values:", *error_message_inputs])
  return []


def _empty_zeros(ctx: RuleContext) -> Any:
  aval = ctx.aval_out
  return tf.zeros(ctx.shape_tensor(aval), ctx.tf_dtype(aval))


@register(ji.empty_p)
def _empty(ctx: RuleContext, *, shape: Any, dtype: Any,
           out_sharding: Any = None) -> Any:
  """lax.empty: the contents are unspecified; JAX's CPU lowering (the one
  we follow) gives zeros, so do we."""
  del shape, dtype, out_sharding
  return _empty_zeros(ctx)


@register(ji.empty2_p)
def _empty2(ctx: RuleContext, *, dtype: Any, memory_space: Any = None) -> Any:
  """The scalar `empty2` (scan/AD buffers): a zero, as JAX lowers it."""
  del dtype, memory_space
  return _empty_zeros(ctx)


# --- one-device annotations ---------------------------------------------------
# shard_alike(x, y) only asks XLA to shard x and y alike; stage lifts a value
# into a trace; both leave values unchanged. dce_sink keeps values alive in
# XLA and inspect_sharding calls back with the sharding XLA chose: neither
# has outputs, and on one TF device there is nothing to report.
register(ji.shard_alike_p)(_identity_n)
register(ji.stage_p)(_identity)


@register(ji.dce_sink_p, ji.inspect_sharding_p)
def _no_outputs(ctx: RuleContext, *xs: Any, **params: Any) -> list[Any]:
  del ctx, xs, params
  return []


@register(ji.custom_partitioning_p)
def _custom_partitioning(ctx: RuleContext, *args: Any, call: Any,
                         **params: Any) -> list[Any]:
  """custom_partitioning's partitioning callbacks matter to XLA's SPMD
  partitioner only; on one device the value is `call` applied to the args."""
  del params
  return ctx.interpret(call, *args)


@register(prims.create_token_p, prims.after_all_p)
def _token(ctx: RuleContext, *xs: Any, **params: Any) -> Any:
  """Ordering tokens carry no data; TF orders stateful ops itself. A token
  is represented by an empty bool tensor (it only reaches token-taking
  primitives, which our rules pass through)."""
  del ctx, xs, params
  return tf.zeros([0], tf.bool)
