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
Also dim_as_value (shape polymorphism): a symbolic dimension used as a
value, e.g. `x.shape[0] * 2.0`; its value comes from the dimension env.
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
