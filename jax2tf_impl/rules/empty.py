"""Rule for `empty2` (see rules/__init__.py for the rule signature).

JAX 0.10's `lax.cond`/`lax.switch` partial evaluation fills the residuals a
branch does not produce with `empty2` (an uninitialised scalar), so the VJP
of a cond whose branches save different values contains it. Its contents
are unspecified; JAX's lowering gives zeros, and so do we.

A minimal rule for h_polyconv's gradient tests: another helper (h_misc)
adds `empty`/`empty2` too, and the integrator keeps one of them.
"""
from __future__ import annotations

from typing import Any

import tensorflow as tf
from jax.extend.core import primitives as prims

from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext


@register(prims.empty2_p)
def _empty2(ctx: RuleContext, **_: Any) -> Any:
  return tf.zeros([], ctx.tf_dtype(ctx.aval_out))
