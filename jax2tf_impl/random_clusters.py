"""A jax.random call absorbs the elementwise equations right after it (a jaxpr pass).

With enable_xla=True the rules run each jax.random distribution's jitted
body as a nested XLA cluster, so that its samples are what XLA computes
(rules/calls.py). What a user does next to the samples (`normal(k) * 0.02`
in `jax.nn.initializers.normal`, the `exp` of `lognormal`, whose own body is
inlined) is outside that body, so TF's kernels compute it, while in JAX's
program XLA fuses it with the sampler: it multiplies by sqrt(2) * 0.02
folded into one constant, it computes exp with its own expansion. Moving
those equations into the call makes them part of the cluster, and the
samples JAX's bit for bit again.

`absorb_elementwise_tails(closed_jaxpr)` rewrites the top-level jaxpr: a
`jit` equation named like one of jax.random's distributions, followed
directly by elementwise equations whose operands are its results (or
results of the equations absorbed before them) and literals, becomes one
`jit` equation of the same name whose body is the original call followed by
those equations. Values are unchanged in every mode (a jit body is the same
computation inlined); only the clustering differs.
"""
from __future__ import annotations

from typing import Any

from jax import lax
from jax.extend import core

from jax2tf_impl import jax_internals as ji

# Elementwise primitives a sampler's result commonly goes through.
_ELEMENTWISE = frozenset(p.name for p in (
    lax.mul_p, lax.add_p, lax.sub_p, lax.div_p, lax.neg_p, lax.exp_p,
    lax.log_p, lax.log1p_p, lax.expm1_p, lax.sqrt_p, lax.integer_pow_p,
    lax.max_p, lax.min_p, lax.abs_p, lax.convert_element_type_p))


def _is_random_call(eqn: Any) -> bool:
  return (eqn.primitive.name == "jit"
          and eqn.params.get("name") in ji.RANDOM_DISTRIBUTIONS)


def _absorbable(eqn: Any, produced: set) -> bool:
  return (eqn.primitive.name in _ELEMENTWISE and not eqn.effects
          and all(isinstance(v, core.Literal) or v in produced
                  for v in eqn.invars))


def _merge(call: Any, tail: list[Any], used_later: set) -> Any:
  """One jit equation: `call` then `tail`, returning what is used later."""
  fresh = [core.Var(v.aval) for v in call.invars]
  inner = call.replace(invars=fresh)
  group = [inner, *tail]
  outvars = [v for e in group for v in e.outvars
             if not isinstance(v, core.DropVar) and v in used_later]
  body = core.Jaxpr([], fresh, outvars, group, call.effects)
  params = dict(call.params, jaxpr=core.ClosedJaxpr(body, []))
  for name in ("out_shardings", "out_layouts"):
    if name in params and params[name]:
      params[name] = (params[name][0],) * len(outvars)
  return call.replace(outvars=outvars, params=params)


def absorb_elementwise_tails(closed_jaxpr: Any) -> Any:
  """`closed_jaxpr` with each jax.random call merged with its elementwise
  tail (see the module docstring); the same object if there is none."""
  jaxpr = closed_jaxpr.jaxpr
  eqns = list(jaxpr.eqns)
  out: list[Any] = []
  changed = False
  i = 0
  while i < len(eqns):
    call = eqns[i]
    i += 1
    if not _is_random_call(call):
      out.append(call)
      continue
    produced, tail = set(call.outvars), []
    while i < len(eqns) and _absorbable(eqns[i], produced):
      tail.append(eqns[i])
      produced.update(eqns[i].outvars)
      i += 1
    if not tail:
      out.append(call)
      continue
    used_later = {v for e in eqns[i:] for v in e.invars
                  if not isinstance(v, core.Literal)}
    used_later.update(v for v in jaxpr.outvars if not isinstance(v, core.Literal))
    out.append(_merge(call, tail, used_later))
    changed = True
  if not changed:
    return closed_jaxpr
  new = core.Jaxpr(jaxpr.constvars, jaxpr.invars, jaxpr.outvars, out,
                   jaxpr.effects, jaxpr.debug_info)
  return core.ClosedJaxpr(new, closed_jaxpr.consts)
