"""shard_map and the collectives, on a single device.

A converted function runs on one device, so the only meshes are meshes
whose manual axes all have size 1 (`jax.sharding.Mesh(jax.devices()[:1],
...)`, or an AbstractMesh of such sizes). There every shard is the whole
array: `shard_map` is its body applied to its operands, and a collective
over named axes of size 1 only reshapes its operand to the result aval:
  * psum / pmax / pmin / psum_invariant / pbroadcast and the
    (un)reduced casts: the value itself (pvary: rules/misc.py) (a sum or max over one shard);
  * all_gather (tiled: the value; untiled: a new axis of size 1 at
    all_gather_dimension), reduce_scatter / psum_scatter, all_to_all: the
    same elements in the same row-major order, in the result's shape;
  * axis_index: 0;
  * ppermute: the value if the permutation sends shard 0 to itself, zeros
    otherwise (a shard that receives nothing gets zeros, as in JAX).
A named axis can only be bound by an enclosing shard_map (pmap has no rule),
and the shard_map rule refuses manual axes of size > 1, so every named axis
a collective rule sees has size 1.

Under `jax.vmap(..., axis_name=...)`, JAX's batching rules rewrite
psum/pmax/pmin over the vmapped axis into the same primitive with a
*positional* axis (an int in `axes`): a reduction over that array axis,
converted here as lax.reduce_sum/max/min (with their NaN and -0.0
semantics); the other collectives batch to ordinary primitives.
"""
from __future__ import annotations

import functools
from typing import Any

import jax
import tensorflow as tf
from jax import lax
from jax.extend import core as jcore

from jax2tf_impl import jax_internals as ji
from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext


def _as_tuple(axes: Any) -> tuple:
  return tuple(axes) if isinstance(axes, (tuple, list)) else (axes,)


@register(ji.shard_map_p)
def _shard_map(ctx: RuleContext, *args: Any, jaxpr: Any, mesh: Any,
               newly_manual_axes: Any = None, **params: Any) -> list[Any]:
  del params
  sizes = dict(mesh.shape)
  axes = newly_manual_axes if newly_manual_axes is not None else sizes
  big = {a: sizes[a] for a in axes if sizes.get(a, 1) != 1}
  if big:
    raise ctx.unsupported(
        f"shard_map over mesh axes of size > 1 ({big}) is a multi-device "
        "program; a converted function runs on one device, so only meshes "
        "whose manual axes have size 1 are supported")
  closed = jaxpr if isinstance(jaxpr, jcore.ClosedJaxpr) else \
      jcore.ClosedJaxpr(jaxpr, ())
  return ctx.interpret(closed, *args)


def _to_out(ctx: RuleContext, x: Any, i: int) -> Any:
  aval = ctx.avals_out[i]
  if tuple(ctx.avals_in[i].shape) == tuple(aval.shape):
    return x
  return tf.reshape(x, ctx.shape_tensor(aval))


@functools.lru_cache(maxsize=None)
def _reducer(kind: str, shape: tuple, dtype: Any, axes: tuple) -> Any:
  fn = {"sum": lax.reduce_sum, "max": lax.reduce_max,
        "min": lax.reduce_min}[kind]
  return jax.make_jaxpr(lambda v: fn(v, axes))(
      jax.ShapeDtypeStruct(shape, dtype))


def _allreduce(kind: str):
  """psum/pmax/pmin: named axes (size 1) are the identity, positional axes
  (from vmap's batching rule) a lax reduction over those dimensions."""

  def rule(ctx: RuleContext, *xs: Any, axes: Any,
           axis_index_groups: Any = None) -> Any:
    del axis_index_groups  # groups of one shard on an axis of size 1
    positional = tuple(a for a in _as_tuple(axes) if isinstance(a, int))
    outs = []
    for i, x in enumerate(xs):
      if positional:
        aval = ctx.avals_in[i]
        x = ctx.interpret(_reducer(kind, tuple(aval.shape), aval.dtype,
                                   positional), x)[0]
      outs.append(_to_out(ctx, x, i))
    return outs if ctx.primitive.multiple_results else outs[0]

  rule.__name__ = f"_p{kind}"
  return rule


register(ji.psum_p, ji.psum_invariant_p)(_allreduce("sum"))
register(ji.pmax_p)(_allreduce("max"))
register(ji.pmin_p)(_allreduce("min"))


def _check_axis_size(ctx: RuleContext, axis_size: Any) -> None:
  if axis_size != 1:
    raise ctx.unsupported(f"a collective over an axis of size {axis_size}")


@register(ji.all_gather_p, ji.all_gather_invariant_p, ji.reduce_scatter_p)
def _gather_scatter(ctx: RuleContext, x: Any, *, axis_size: Any,
                    **params: Any) -> Any:
  del params
  _check_axis_size(ctx, axis_size)
  return _to_out(ctx, x, 0)


def _identity(ctx: RuleContext, *xs: Any, **params: Any) -> Any:
  """Collectives and casts that keep the value on a single shard."""
  del params
  outs = [_to_out(ctx, x, i) for i, x in enumerate(xs)]
  return outs if ctx.primitive.multiple_results else outs[0]


register(ji.all_to_all_p, ji.pbroadcast_p, ji.preduced_p,
         ji.vary_unreduced_cast_p, ji.unreduced_psum_p,
         ji.all_gather_reduced_p, ji.unreduced_reduce_scatter_p)(_identity)


@register(ji.axis_index_p)
def _axis_index(ctx: RuleContext, *, axis_name: Any) -> Any:
  del axis_name
  return tf.zeros(ctx.shape_tensor(ctx.aval_out), ctx.tf_dtype(ctx.aval_out))


@register(ji.ppermute_p)
def _ppermute(ctx: RuleContext, x: Any, *, axis_name: Any, perm: Any) -> Any:
  del axis_name
  pairs = {tuple(p) for p in perm}
  if pairs - {(0, 0)}:
    raise ctx.unsupported(f"ppermute with perm={perm} on an axis of size 1")
  if (0, 0) in pairs:
    return x
  return tf.zeros_like(x)
