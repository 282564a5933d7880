"""Rules for shape-manipulating primitives."""
from __future__ import annotations

from typing import Any

import tensorflow as tf
from jax import lax

from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext


@register(lax.squeeze_p)
def _squeeze(ctx: RuleContext, x: Any, *, dimensions: Any) -> Any:
  return tf.reshape(x, ctx.shape_tensor(ctx.aval_out))


@register(lax.slice_p)
def _slice(ctx: RuleContext, x: Any, *, start_indices: Any, limit_indices: Any,
           strides: Any) -> Any:
  strides = strides or (1,) * len(start_indices)
  return tf.strided_slice(x, [ctx.dim(d) for d in start_indices],
                          [ctx.dim(d) for d in limit_indices], strides)
