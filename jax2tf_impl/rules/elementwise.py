"""Rules for elementwise math and comparison primitives."""
from __future__ import annotations

from typing import Any

import tensorflow as tf
from jax import lax

from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext, binary, unary

register(lax.add_p)(binary(tf.math.add))
register(lax.sub_p)(binary(tf.math.subtract))
register(lax.mul_p)(binary(tf.math.multiply))
register(lax.neg_p)(unary(tf.math.negative))
register(lax.sin_p)(unary(tf.math.sin))
register(lax.cos_p)(unary(tf.math.cos))
register(lax.tanh_p)(unary(tf.math.tanh))
register(lax.exp_p)(unary(tf.math.exp))
register(lax.log_p)(unary(tf.math.log))
register(lax.max_p)(binary(tf.math.maximum))
register(lax.gt_p)(binary(tf.math.greater))
register(lax.lt_p)(binary(tf.math.less))


@register(lax.convert_element_type_p)
def _convert_element_type(ctx: RuleContext, x: Any, *, new_dtype: Any,
                          **_: Any) -> Any:
  return tf.cast(x, ctx.tf_dtype(new_dtype))
