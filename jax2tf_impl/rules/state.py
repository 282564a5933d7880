"""Rules for JAX's state primitives (Refs).

Refs never reach the rules table as values: `state_discharge.discharge`
removes them before interpretation, as `jax.jit` does before lowering. What
remains is `run_state` (whose operands are plain arrays): its rule discharges
its body with JAX's own state discharge and interprets the pure result.

The Ref primitives themselves (get, swap, addupdate, new_ref, freeze, ...)
are registered so that the support check accepts them inside `run_state`
bodies, where they are discharged before anything runs; reaching one of
these rules means a Ref escaped the discharge, and that is a clear error,
never a guess.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
from jax.extend import core as jcore

from jax2tf_impl import jax_internals as ji
from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.state_discharge import STATE_PRIMITIVES


def _uninitialized(ctx: RuleContext, aval: Any) -> Any:
  """The value JAX gives an uninitialized run_state Ref (its
  `_default_initialization`): NaN for inexact dtypes, the minimum integer
  otherwise."""
  dtype = np.dtype(aval.dtype)
  if np.issubdtype(dtype, np.integer):
    value = np.iinfo(dtype).min
  elif dtype == np.bool_:
    value = False
  else:
    value = np.nan
  return tf.fill(ctx.shape_tensor(aval), ctx.constant(value, dtype))


@register(ji.run_state_p)
def _run_state(ctx: RuleContext, *args: Any, jaxpr: Any, which_linear: Any,
               is_initialized: Any) -> list[Any]:
  del which_linear
  discharged = ji.discharge_state(jcore.ClosedJaxpr(jaxpr, ()))
  it = iter(args)
  full = [next(it) if init else _uninitialized(ctx, v.aval.inner_aval)
          for init, v in zip(is_initialized, jaxpr.invars)]
  # The body returns nothing; the discharged jaxpr returns the final value of
  # every Ref, which is what run_state returns.
  return ctx.interpret(discharged, *full)


def _escaped_ref(ctx: RuleContext, *args: Any, **params: Any) -> Any:
  del args, params
  raise ctx.unsupported(
      "a Ref that JAX's state discharge did not remove reached the "
      "interpreter (Refs are converted only where JAX's discharge removes "
      "them)")


register(*STATE_PRIMITIVES)(_escaped_ref)


@register(ji.state_broadcast_to_p)
def _broadcast_to(ctx: RuleContext, x: Any, *, shape: Any) -> Any:
  del shape
  return tf.broadcast_to(x, ctx.shape_tensor(ctx.aval_out))


@register(ji.accum_grad_in_ref_p)
def _accum_grad_in_ref(ctx: RuleContext, x: Any) -> Any:
  """An AD marker; JAX lowers it to the identity."""
  del ctx
  return x
