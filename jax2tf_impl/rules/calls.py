"""Rules for primitives that call a sub-jaxpr: jit, closed_call, remat, custom_jvp/vjp.

At inference these are all "run the body": JAX's custom differentiation
rules matter only for gradients, and gradients.py obtains those from
`jax.vjp` of the whole function, which already applies them.
"""
from __future__ import annotations

from typing import Any

from jax.extend import core as jcore
from jax.extend.core import primitives as prims

from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext


def run_body(ctx: RuleContext, body: Any, args: list[Any]) -> list[Any]:
  """Interprets `body` (a ClosedJaxpr, or an open Jaxpr with no constvars)."""
  if isinstance(body, jcore.Jaxpr):
    body = jcore.ClosedJaxpr(body, ())
  return ctx.interpret(body, *args)


@register(prims.jit_p)
def _jit(ctx: RuleContext, *args: Any, jaxpr: Any, **_: Any) -> list[Any]:
  # Shardings, donation and names are meaningless for one TF graph.
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
