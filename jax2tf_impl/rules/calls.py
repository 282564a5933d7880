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
from jax2tf_impl.rules import declare_default_form, register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.support import compiling_with_xla, computed_from_constants


def run_body(ctx: RuleContext, body: Any, args: list[Any]) -> list[Any]:
  """Interprets `body` (a ClosedJaxpr, or an open Jaxpr with no constvars)."""
  if isinstance(body, jcore.Jaxpr):
    body = jcore.ClosedJaxpr(body, ())
  return ctx.interpret(body, *args)


def _as_xla_cluster(ctx: RuleContext, body: Any, args: list[Any]) -> list[Any]:
  """`body` interpreted inside a nested tf.function(jit_compile=True).

  For jax.random's distributions (ji.RANDOM_DISTRIBUTIONS): JAX's samples
  are what XLA computes from the bits; it contracts a*b+c into fused
  multiply-adds and has its own log/log1p/erf_inv expansions, so TF's
  kernels (rounding twice, Eigen's functions) are a few ulps off. As an XLA
  cluster the samples are JAX's, bit for bit (enable_xla=True only; the
  portable graph keeps ordinary ops).

  Arguments known at conversion time (the distribution's parameters when
  the user wrote literals: `gamma(key, 2.5)`) go into the cluster as
  constants, as they are in JAX's whole-program compilation: XLA folds the
  loop's setup (d = a - 1/3, c = 1/(3 sqrt(d))) and simplifies the products
  with them, and a cluster with them as inputs rounds a few samples
  differently (measured: 8 of 40 gamma(2.5) samples 1 ulp off)."""
  tensors = [tf.convert_to_tensor(a) for a in args]
  static = [tf.get_static_value(t) if computed_from_constants(t) else None
            for t in tensors]
  inputs = [t for t, v in zip(tensors, static) if v is None]

  def cluster(*xs: Any) -> list[Any]:
    it = iter(xs)
    full = [next(it) if v is None else tf.constant(v, t.dtype)
            for t, v in zip(tensors, static)]
    return list(run_body(ctx, body, full))
  fn = tf.function(cluster, jit_compile=True, autograph=False)
  return fn(*inputs)


declare_default_form(
    "jax.random's distributions run as a nested XLA cluster: JAX's samples "
    "bit for bit (portable ops: up to 2 ulp off for normal) and measured 7x "
    "(normal) / 13x (uniform) faster than the portable graph on 1M samples "
    "(benchmarks/DEFAULT_FORMS.md); other jit bodies are inlined alike",
    "jit")


@register(prims.jit_p)
def _jit(ctx: RuleContext, *args: Any, jaxpr: Any, name: str = "",
         **_: Any) -> list[Any]:
  # Shardings, donation and names are meaningless for one TF graph.
  if (name in ji.RANDOM_DISTRIBUTIONS and ctx.enable_xla
      and not compiling_with_xla()):
    return _as_xla_cluster(ctx, jaxpr, list(args))
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


def _scope_name(name: str) -> str:
  """`name` as a valid TF name scope ('.'-separated composite names such as
  "my.op" are valid already; other characters become '_')."""
  out = "".join(c if c.isalnum() or c in "_-." else "_" for c in name)
  return out if out and (out[0].isalnum() or out[0] == ".") else f"_{out}"


@register(ji.composite_p)
def _composite(ctx: RuleContext, *args: Any, name: str, jaxpr: Any,
               **_: Any) -> list[Any]:
  """lax.composite: its decomposition, inside tf.name_scope(name), so that
  graph tools (and TFLite/ONNX pattern matchers) can find the composite's
  ops by their name prefix. `attributes` and `version` only label the
  StableHLO op and do not change values."""
  with tf.name_scope(_scope_name(name)):
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
