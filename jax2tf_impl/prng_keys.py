"""PRNG key arrays -> their uint32 key data, as a jaxpr-to-jaxpr pass.

`jax.random.*` works on typed key arrays (`key<fry>[...]`, an extended
dtype), even when the user passes legacy uint32 keys: the jaxpr then holds
`random_wrap`, `random_split`, `random_bits`, ... and ordinary primitives
(slice, squeeze, select_n, while, ...) applied to key-typed values. TF has
no such type, so, like JAX's own lowering, we represent a key array of shape
S by its key data: uint32[*S, *key_shape].

`physicalize(closed_jaxpr)` re-traces the jaxpr with JAX, replacing
  * random_seed/split/fold_in/bits by JAX's own implementations of the key's
    PRNG (for threefry: bit manipulations, `iota_2x32_shape` and
    `threefry2x32`), so the converted bits are JAX's bits by construction;
  * random_wrap/unwrap/clone by the identity on key data;
  * random_gamma by JAX's lowering of it (`_gamma_impl`);
  * structural primitives on keys (slice, gather, select_n, ...) by the same
    primitive applied to each uint32 component of the key data;
  * calls (jit, custom_jvp/vjp, remat) by their inlined bodies, and control
    flow (cond, while, scan) by the same control flow on key data.
Equations that touch no key (also inside their sub-jaxprs) are kept as they
are. The result has no extended dtype left, and `random_seed` & co. never
reach the rules table.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import jax
import numpy as np
from jax import lax
from jax.extend import core
from jax.extend import source_info_util

from jax2tf_impl import jax_internals as ji
from jax2tf_impl.errors import UnsupportedPrimitiveError
from jax2tf_impl.jaxpr_util import (CALL_BODY_PARAM, COMPONENTWISE,
                                    IDENTITY_LIKE, any_aval, eqn_any_aval)

# Key <-> key data conversions: the identity on key data.
_KEY_DATA_IDENTITY = frozenset({"random_wrap", "random_unwrap", "random_clone"})

# Uninitialized arrays (zeros on CPU): on keys, zero key data.
_EMPTY = frozenset({"empty", "empty2"})


def is_key_aval(aval: Any) -> bool:
  return ji.is_extended_dtype(getattr(aval, "dtype", None))


def has_keys(closed_jaxpr: core.ClosedJaxpr) -> bool:
  return any_aval(closed_jaxpr.jaxpr, is_key_aval)


def _physical_value(x: Any) -> Any:
  """A constant's key data (uint32) if it is a key array, else itself."""
  if isinstance(x, ji.PRNGKeyArray):
    return jax.random.key_data(x)
  return x


def physicalize(closed_jaxpr: core.ClosedJaxpr) -> core.ClosedJaxpr:
  """An equivalent ClosedJaxpr on key data, without any key-typed value.

  Returns `closed_jaxpr` itself when it has no key arrays.
  """
  if not has_keys(closed_jaxpr):
    return closed_jaxpr
  jaxpr = closed_jaxpr.jaxpr
  consts = [_physical_value(c) for c in closed_jaxpr.consts]
  in_avals = [ji.physical_aval(v.aval) for v in jaxpr.invars]

  def fun(*args: Any) -> list[Any]:
    return eval_physical(jaxpr, consts, args)

  new_jaxpr, new_consts = ji.trace_to_jaxpr(fun, in_avals,
                                            "jax2tf_impl.physicalize")
  return core.ClosedJaxpr(new_jaxpr, new_consts)


# ------------------------------------------------------------ the evaluator


def eval_physical(jaxpr: core.Jaxpr, consts: Sequence[Any],
                  args: Sequence[Any]) -> list[Any]:
  """Evaluates `jaxpr` (under a JAX trace) with key arrays as key data."""
  env: dict[Any, Any] = {}

  def read(v: Any) -> Any:
    if isinstance(v, core.Literal):
      return _physical_value(v.val)
    return env[v]

  for v, c in zip(jaxpr.constvars, consts):
    env[v] = _physical_value(c)
  for v, a in zip(jaxpr.invars, args):
    env[v] = a
  for eqn in jaxpr.eqns:
    invals = [read(v) for v in eqn.invars]
    name_stack = (source_info_util.current_name_stack() +
                  eqn.source_info.name_stack)
    with source_info_util.user_context(eqn.source_info.traceback,
                                       name_stack=name_stack), eqn.ctx.manager:
      if eqn_any_aval(eqn, is_key_aval):
        outs = _physical_eqn(eqn, invals)
      else:
        bind_params = eqn.primitive.get_bind_params(eqn.params)
        outs = eqn.primitive.bind(*invals, **bind_params)
        if not eqn.primitive.multiple_results:
          outs = [outs]
    for v, o in zip(eqn.outvars, outs):
      if not isinstance(v, core.DropVar):
        env[v] = o
  return [read(v) for v in jaxpr.outvars]


def _closed(j: Any) -> core.ClosedJaxpr:
  return j if isinstance(j, core.ClosedJaxpr) else core.ClosedJaxpr(j, ())


def _run_closed(j: Any, args: Sequence[Any]) -> list[Any]:
  j = _closed(j)
  return eval_physical(j.jaxpr, j.consts, args)


def _physical_eqn(eqn: core.JaxprEqn, invals: list[Any]) -> list[Any]:
  """Key data out for an equation touching keys (see the module doc)."""
  name = eqn.primitive.name
  rule = _KEY_PRIMITIVES.get(name)
  if rule is not None:
    return rule(eqn, invals)
  if name in _KEY_DATA_IDENTITY:
    return list(invals)
  if name in IDENTITY_LIKE:
    outs = eqn.primitive.bind(*invals,
                              **eqn.primitive.get_bind_params(eqn.params))
    return list(outs) if eqn.primitive.multiple_results else [outs]
  if name in _EMPTY:
    aval = core.physical_aval(eqn.outvars[0].aval)
    return [jax.numpy.zeros(aval.shape, aval.dtype)]
  if name in CALL_BODY_PARAM and CALL_BODY_PARAM[name] in eqn.params:
    return _run_closed(eqn.params[CALL_BODY_PARAM[name]], invals)
  if name in _CONTROL_FLOW:
    return _CONTROL_FLOW[name](eqn, invals)
  if name in COMPONENTWISE:
    return _componentwise(eqn, invals)
  raise UnsupportedPrimitiveError(
      f"Cannot convert primitive '{name}' applied to PRNG key arrays "
      f"(input types: {', '.join(str(v.aval) for v in eqn.invars)}); use "
      f"jax.random.key_data() to operate on the key data instead.\n"
      f"  at: {source_info_util.summarize(eqn.source_info)}")


# ------------------------------------------------------------ key primitives


def _impl_of(aval: Any) -> Any:
  return ji.prng_impl_of(aval.dtype)


def _random_seed(eqn: core.JaxprEqn, invals: list[Any]) -> list[Any]:
  (seeds,) = invals
  return [ji.random_seed_impl(seeds, impl=eqn.params["impl"])]


def _random_split(eqn: core.JaxprEqn, invals: list[Any]) -> list[Any]:
  (keys,) = invals
  aval = eqn.invars[0].aval
  return [ji.random_split_impl(_impl_of(aval), keys, aval.ndim,
                                      shape=eqn.params["shape"])]


def _random_fold_in(eqn: core.JaxprEqn, invals: list[Any]) -> list[Any]:
  keys, msgs = invals
  aval = eqn.invars[0].aval
  return [ji.random_fold_in_impl(_impl_of(aval), keys, msgs,
                                        aval.shape)]


def _random_bits(eqn: core.JaxprEqn, invals: list[Any]) -> list[Any]:
  (keys,) = invals
  aval = eqn.invars[0].aval
  return [ji.random_bits_impl(
      _impl_of(aval), keys, aval.ndim, bit_width=eqn.params["bit_width"],
      shape=eqn.params["shape"])]


def _inline_logical(fn: Callable[..., Any], eqn: core.JaxprEqn,
                    invals: list[Any]) -> list[Any]:
  """Traces `fn` on the equation's (logical) input types, then evaluates the
  result on key data: how JAX lowers primitives defined by a JAX function."""
  in_avals = [v.aval for v in eqn.invars]
  jaxpr, consts = ji.trace_to_jaxpr(lambda *a: [fn(*a)], in_avals,
                                    "jax2tf_impl.inline")
  return eval_physical(jaxpr, consts, invals)


def _random_gamma(eqn: core.JaxprEqn, invals: list[Any]) -> list[Any]:
  fn = functools.partial(ji.random_gamma_impl,
                         log_space=eqn.params["log_space"], use_vmap=True)
  return _inline_logical(fn, eqn, invals)


_KEY_PRIMITIVES: dict[str, Callable[[core.JaxprEqn, list[Any]], list[Any]]] = {
    "random_seed": _random_seed,
    "random_split": _random_split,
    "random_fold_in": _random_fold_in,
    "random_bits": _random_bits,
    "random_gamma": _random_gamma,
}


# ------------------------------------------------------------ structural ops


def _key_components(x: Any, aval: Any) -> list[Any]:
  """The uint32 arrays of logical shape, one per key-data word."""
  n = int(np.prod(ji.key_data_shape(aval.dtype)))
  flat = x.reshape((*x.shape[:aval.ndim], n))
  return [flat[..., i] for i in range(n)]


def _componentwise(eqn: core.JaxprEqn, invals: list[Any]) -> list[Any]:
  """The primitive applied to each word of the key data, then restacked."""
  key_avals = [v.aval for v in eqn.invars if is_key_aval(v.aval)]
  elt_shape = ji.key_data_shape(key_avals[0].dtype)
  n = int(np.prod(elt_shape))
  split_ins = [_key_components(x, v.aval) if is_key_aval(v.aval) else [x] * n
               for x, v in zip(invals, eqn.invars)]
  bind_params = eqn.primitive.get_bind_params(eqn.params)
  per_word = []
  for i in range(n):
    out = eqn.primitive.bind(*[s[i] for s in split_ins], **bind_params)
    per_word.append(list(out) if eqn.primitive.multiple_results else [out])
  results = []
  for j, v in enumerate(eqn.outvars):
    if is_key_aval(v.aval):
      stacked = jax.numpy.stack([w[j] for w in per_word], axis=-1)
      results.append(stacked.reshape((*stacked.shape[:-1], *elt_shape)))
    else:
      results.append(per_word[0][j])
  return results


# ------------------------------------------------------------ control flow


def _cond(eqn: core.JaxprEqn, invals: list[Any]) -> list[Any]:
  index, *ops = invals
  branches = [functools.partial(_run_closed, b) for b in eqn.params["branches"]]
  fns = [lambda *a, _f=f: _f(list(a)) for f in branches]
  return list(lax.switch(index, fns, *ops))


def _hoisted(closed: core.ClosedJaxpr) -> tuple[core.ClosedJaxpr, list[Any]]:
  """`closed` on key data, its constants turned into leading inputs."""
  phys = physicalize(closed)
  return (core.ClosedJaxpr(ji.convert_constvars_to_invars(phys.jaxpr), ()),
          list(phys.consts))


def _while(eqn: core.JaxprEqn, invals: list[Any]) -> list[Any]:
  """while_p re-bound on physicalized bodies."""
  p = eqn.params
  nc, nb = p["cond_nconsts"], p["body_nconsts"]
  if p["cond_jaxpr"].out_avals[0].shape:
    return _batched_while(eqn, invals)
  cond_jaxpr, cond_extra = _hoisted(p["cond_jaxpr"])
  body_jaxpr, body_extra = _hoisted(p["body_jaxpr"])
  args = [*cond_extra, *invals[:nc], *body_extra, *invals[nc:nc + nb],
          *invals[nc + nb:]]
  return list(eqn.primitive.bind(
      *args, **dict(p, cond_jaxpr=cond_jaxpr, body_jaxpr=body_jaxpr,
                    cond_nconsts=nc + len(cond_extra),
                    body_nconsts=nb + len(body_extra))))


def _batched_while(eqn: core.JaxprEqn, invals: list[Any]) -> list[Any]:
  """A while with a batched predicate (from vmap), as JAX lowers it: loop
  while any element's predicate holds; elements whose predicate is false
  keep their carry (the predicate broadcasts along leading dimensions)."""
  p = eqn.params
  nc, nb = p["cond_nconsts"], p["body_nconsts"]
  cond_consts, body_consts = invals[:nc], invals[nc:nc + nb]
  init = tuple(invals[nc + nb:])

  def pred_of(carry: tuple) -> Any:
    return _run_closed(p["cond_jaxpr"], [*cond_consts, *carry])[0]

  def cond_fn(carry: tuple) -> Any:
    return jax.numpy.any(pred_of(carry))

  def body_fn(carry: tuple) -> tuple:
    pred = pred_of(carry)
    new = _run_closed(p["body_jaxpr"], [*body_consts, *carry])
    return tuple(
        lax.select(lax.broadcast_in_dim(pred, n.shape, range(pred.ndim)), n, c)
        for n, c in zip(new, carry))

  return list(lax.while_loop(cond_fn, body_fn, init))


def _scan(eqn: core.JaxprEqn, invals: list[Any]) -> list[Any]:
  p = eqn.params
  jaxpr, extra = _hoisted(p["jaxpr"])
  params = dict(p, jaxpr=jaxpr, num_consts=p["num_consts"] + len(extra))
  if "linear" in p:  # older JAX versions
    params["linear"] = (False,) * len(extra) + tuple(p["linear"])
  return list(eqn.primitive.bind(*extra, *invals, **params))


_CONTROL_FLOW = {"cond": _cond, "while": _while, "scan": _scan}
