"""Refs (`jax.new_ref`, `jax.ref.*`, `x[...] = ...` on a Ref) -> pure values,
as a jaxpr-to-jaxpr pass.

A function that uses mutable arrays traces to a jaxpr with `new_ref`, `get`,
`swap`, `addupdate`, `freeze` and Ref-typed variables, possibly captured by
scan/while/cond/jit bodies. TF has no such values, and `jax.jit` does not
lower them either: before lowering it runs JAX's state discharge
(`pxla._discharge_internal_refs`), which threads every Ref's value through the
computation (reads become slices/gathers, writes dynamic_update_slice/scatter,
loop-captured Refs become loop carries). `discharge(closed_jaxpr)` runs the
same discharge, so the converted graph computes what jax.jit compiles, by
construction.

What is not discharged here:
  * `run_state` (a functional scope of Refs, used by Pallas and
    `jax._src.state.run_state`): its operands are plain values, so it stays
    an equation; its rule (rules/state.py) discharges its body when it runs.
  * A Ref created outside the converted function and closed over: jax.jit
    mutates that Ref in place, which a TF graph cannot do to a JAX object, so
    it is an error naming the problem.
"""
from __future__ import annotations

from typing import Any, Iterator

import jax

from jax2tf_impl import jax_internals as ji
from jax2tf_impl.errors import UnsupportedPrimitiveError
from jax2tf_impl.jaxpr_util import sub_jaxprs

# Primitives that create, read, write or close a Ref.
STATE_PRIMITIVES = frozenset({
    ji.state_get_p, ji.state_swap_p, ji.state_addupdate_p, ji.new_ref_p,
    ji.freeze_p, ji.empty_ref_p, ji.free_ref_p,
})


def _is_ref(v: Any) -> bool:
  return isinstance(getattr(v, "aval", None), ji.AbstractRef)


def _eqns(jaxpr: Any, into_run_state: bool = True) -> Iterator[Any]:
  for eqn in jaxpr.eqns:
    yield eqn
    if eqn.primitive is ji.run_state_p and not into_run_state:
      continue
    for sub in sub_jaxprs(eqn.params):
      yield from _eqns(sub, into_run_state)


def _stateful(eqn: Any) -> bool:
  return (eqn.primitive in STATE_PRIMITIVES
          or any(_is_ref(v) for v in (*eqn.invars, *eqn.outvars))
          or any(isinstance(e, (ji.InternalMutableArrayEffect, ji.RefEffect))
                 for e in eqn.effects))


def uses_state(closed_jaxpr: Any) -> bool:
  """Whether any Ref appears outside `run_state` bodies."""
  return any(_stateful(e) for e in _eqns(closed_jaxpr.jaxpr, False))


def discharge(closed_jaxpr: Any) -> Any:
  """`closed_jaxpr` with every Ref discharged (see the module docstring)."""
  if any(isinstance(c, jax.Ref) for c in closed_jaxpr.consts):
    raise UnsupportedPrimitiveError(
        "the function closes over a mutable array (a jax.Ref made by "
        "jax.new_ref outside it). jax.jit writes to such a Ref in place; a "
        "converted TF function cannot mutate a JAX object. Create the Ref "
        "inside the function (from an argument), or pass its value in and "
        "return the new value.")
  if not uses_state(closed_jaxpr):
    return closed_jaxpr
  out = ji.discharge_state(closed_jaxpr)
  for eqn in _eqns(out.jaxpr, False):
    if _stateful(eqn):
      raise UnsupportedPrimitiveError(
          f"JAX's state discharge left the Ref primitive '{eqn.primitive}' in "
          f"the jaxpr (params: {sorted(eqn.params)}); jax2tf_impl converts "
          f"Refs only where JAX's discharge removes them")
  if any(_is_ref(v) for v in (*out.jaxpr.invars, *out.jaxpr.outvars)):
    raise UnsupportedPrimitiveError(
        "a converted function cannot take or return a jax.Ref; return "
        "jax.ref.freeze(ref) or ref[...] instead")
  return out
