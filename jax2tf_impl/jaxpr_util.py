"""Small helpers and primitive tables for walking jaxprs, shared by the
interpreter and the jaxpr-to-jaxpr passes (PRNG keys, uint32 limbs)."""
from __future__ import annotations

from typing import Any, Callable, Iterator

from jax.extend import core

from jax2tf_impl import jax_internals as ji


# Primitives that move or select whole elements: applying them to each
# component of a value kept in several parts (a key's uint32 key data words,
# a uint32's 16-bit limbs) separately is exact.
COMPONENTWISE = frozenset({
    "slice", "squeeze", "reshape", "broadcast_in_dim", "concatenate",
    "transpose", "rev", "dynamic_slice", "dynamic_update_slice", "gather",
    "scatter", "select_n", "pad", "stack", "split", "unstack", "copy",
    "copy_p", "expand_dims", "tile",
})

# Primitives that pass their operands through unchanged (whatever the shape).
IDENTITY_LIKE = frozenset({
    "device_put", "optimization_barrier", "sharding_constraint", "pvary",
    "reshard", "mesh_cast", "name", "tie", "layout_constraint",
})

# Call-like primitives and the param holding their body.
CALL_BODY_PARAM = {
    "jit": "jaxpr", "pjit": "jaxpr", "closed_call": "call_jaxpr",
    "core_call": "call_jaxpr", "call": "call_jaxpr", "remat": "jaxpr",
    "checkpoint": "jaxpr", "custom_jvp_call": "call_jaxpr",
    "custom_vjp_call": "call_jaxpr",
    "composite": "jaxpr", "compute_on": "jaxpr", "custom_vmap_call": "call",
    "linear_call": "callee",
}


def sub_jaxprs(params: dict[str, Any]) -> Iterator[core.Jaxpr]:
  """The jaxprs an equation carries in its params (cond branches, while
  bodies, scan/pjit/custom_* functions), open or closed, as open jaxprs."""
  for value in params.values():
    items = value if isinstance(value, (tuple, list)) else (value,)
    for item in items:
      if isinstance(item, core.ClosedJaxpr):
        yield item.jaxpr
      elif isinstance(item, core.Jaxpr):
        yield item


@ji.weakref_lru_cache
def any_aval(jaxpr: core.Jaxpr, predicate: Callable[[Any], bool]) -> bool:
  """Whether any value of `jaxpr`, sub-jaxprs included, has an aval for
  which `predicate` holds (cached per jaxpr: the jaxpr passes ask it once
  per call body)."""
  if any(predicate(v.aval) for v in (*jaxpr.constvars, *jaxpr.invars)):
    return True
  return any(eqn_any_aval(e, predicate) for e in jaxpr.eqns)


def eqn_any_aval(eqn: core.JaxprEqn, predicate: Callable[[Any], bool]) -> bool:
  """any_aval for one equation: its operands, results and sub-jaxprs."""
  if any(predicate(v.aval) for v in (*eqn.invars, *eqn.outvars)):
    return True
  return any(any_aval(j, predicate) for j in sub_jaxprs(eqn.params))
