"""Rules for primitives that call a sub-jaxpr: jit, closed_call, remat,
custom_jvp/vjp, composite, compute_on, custom_vmap_call, linear_call.

At inference these are all "run the body": JAX's custom differentiation
rules matter only for gradients, and gradients.py obtains those from
`jax.vjp` of the whole function, which already applies them.
"""
from __future__ import annotations

from typing import Any

import tensorflow as tf
from jax.extend import core as jcore
from jax.extend.core import primitives as prims

from jax2tf_impl import jax_internals as ji
from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.support import scope_name


def run_body(ctx: RuleContext, body: Any, args: list[Any]) -> list[Any]:
  """Interprets `body` (a ClosedJaxpr, or an open Jaxpr with no constvars)."""
  if isinstance(body, jcore.Jaxpr):
    body = jcore.ClosedJaxpr(body, ())
  return ctx.interpret(body, *args)


@register(prims.jit_p)
def _jit(ctx: RuleContext, *args: Any, jaxpr: Any, name: str = "",
         **_: Any) -> list[Any]:
  # Shardings, donation and names are meaningless for one TF graph. The
  # body is inlined in every mode, jax.random's samplers too: as a nested
  # jit_compile function they were JAX's samples bit for bit, but a
  # SavedModel with one fails where XLA compilation is off (TF Serving's
  # default: "XLA compilation disabled") and tf2onnx / TF.js cannot read
  # the call (docs/deployment.md, "Portable unless compiled").
  return run_body(ctx, jaxpr, list(args))


@register(prims.closed_call_p, prims.call_p)
def _call(ctx: RuleContext, *args: Any, call_jaxpr: Any, **_: Any) -> list[Any]:
  return run_body(ctx, call_jaxpr, list(args))


@register(prims.remat_p)
def _remat(ctx: RuleContext, *args: Any, jaxpr: Any, **_: Any) -> list[Any]:
  # Rematerialization is a memory policy of JAX's autodiff; the forward
  # computation is just the body.
  return run_body(ctx, jaxpr, list(args))


@register(prims.custom_jvp_call_p)
def _custom_jvp_call(ctx: RuleContext, *args: Any, call_jaxpr: Any,
                     **_: Any) -> list[Any]:
  return run_body(ctx, call_jaxpr, list(args))


@register(prims.custom_vjp_call_p)
def _custom_vjp_call(ctx: RuleContext, *args: Any, call_jaxpr: Any,
                     **_: Any) -> list[Any]:
  return run_body(ctx, call_jaxpr, list(args))


@register(ji.composite_p)
def _composite(ctx: RuleContext, *args: Any, name: str, jaxpr: Any,
               **_: Any) -> list[Any]:
  """lax.composite: its decomposition, inside tf.name_scope(name), so that
  graph tools (and TFLite/ONNX pattern matchers) can find the composite's
  ops by their name prefix. `attributes` and `version` only label the
  StableHLO op and do not change values."""
  with tf.name_scope(scope_name(name)):
    return run_body(ctx, jaxpr, list(args))


@register(ji.compute_on_p)
def _compute_on(ctx: RuleContext, *args: Any, jaxpr: Any,
                **_: Any) -> list[Any]:
  """jax.experimental.compute_on: an annotation telling XLA to run the body
  on another compute type (e.g. the host); the values are the body's."""
  return run_body(ctx, jaxpr, list(args))


@register(ji.custom_vmap_call_p)
def _custom_vmap_call(ctx: RuleContext, *args: Any, call: Any,
                      **_: Any) -> list[Any]:
  """jax.custom_batching.custom_vmap outside vmap: the underlying function
  (`call`), as JAX's impl and lowering do. (Under vmap JAX has already
  applied the user's rule while tracing, so no custom_vmap_call remains.)"""
  return run_body(ctx, call, list(args))


@register(ji.linear_call_p)
def _linear_call(ctx: RuleContext, *args: Any, callee: Any,
                 **_: Any) -> list[Any]:
  """jax.custom_derivatives.linear_call: the callee on (consts, residuals,
  linear operands); its transpose matters only for gradients, which come
  from jax.vjp of the whole function (gradients.py)."""
  return run_body(ctx, callee, list(args))
