"""Walks a ClosedJaxpr, calling one rule per equation on TF values.

Before any TF op is built, `check_supported` walks the whole jaxpr (all
sub-jaxprs too) and reports every primitive without a rule in one error.
During interpretation every rule's output is checked against the equation's
avals (dtype always, shape where both are static), so a rule that returns
the wrong type fails at conversion time instead of computing a wrong answer.
"""
from __future__ import annotations


import contextlib
import os
from typing import Any, Sequence

import numpy as np
import tensorflow as tf
from jax.extend import core as jcore
from jax.extend import source_info_util

from jax2tf_impl import dtypes as dt
from jax2tf_impl import foreign_primitives
from jax2tf_impl import rules
from jax2tf_impl.errors import UnsupportedPrimitiveError, format_params
from jax2tf_impl.jaxpr_util import sub_jaxprs
from jax2tf_impl.rules.context import ConversionState, RuleContext
from jax2tf_impl.rules.support import scope_name, shared_constant

# Frames inside this package are never "the user's source line".
source_info_util.register_exclusion(os.path.dirname(os.path.abspath(__file__)))


def source_of(eqn: Any) -> str:
  """The user's file:line that produced `eqn`, as JAX recorded it."""
  try:
    return source_info_util.summarize(eqn.source_info)
  except Exception:  # pragma: no cover - defensive, source info is optional.
    return "unknown"


def walk_eqns(jaxpr: Any):
  """Every equation of `jaxpr`, sub-jaxprs and foreign primitives' JAX
  meanings included, depth first."""
  for eqn in jaxpr.eqns:
    yield eqn
    for sub in sub_jaxprs(eqn.params):
      yield from walk_eqns(sub)
    if rules.lookup(eqn.primitive) is None:
      # No rule: what the primitive means in JAX terms (foreign_primitives).
      fb = foreign_primitives.fallback(eqn)
      if fb.closed_jaxpr is not None:
        yield from walk_eqns(fb.closed_jaxpr.jaxpr)


def check_supported(closed_jaxpr: Any) -> None:
  """Raises one error listing every primitive that has neither a rule nor a
  fallback (foreign_primitives)."""
  missing: dict[str, list[str]] = {}
  for eqn in walk_eqns(closed_jaxpr.jaxpr):
    if not foreign_primitives.has_rule_or_fallback(eqn):
      params = {k: v for k, v in eqn.params.items()
                if not isinstance(v, (jcore.ClosedJaxpr, jcore.Jaxpr))}
      dtypes = ", ".join(str(v.aval) for v in eqn.invars)
      missing.setdefault(str(eqn.primitive), []).append(
          f"    params: {format_params(params)}\n"
          f"    input types: {dtypes or '(none)'}\n"
          f"    at: {source_of(eqn)}\n"
          f"    no fallback: {foreign_primitives.fallback(eqn).reason}")
  if missing:
    lines = [f"jax2tf_impl has no rule for {len(missing)} primitive(s) used "
             f"by this function:"]
    for name, uses in missing.items():
      lines.append(f"  primitive '{name}' ({len(uses)} use(s)); first use:")
      lines.append(uses[0])
    raise UnsupportedPrimitiveError("\n".join(lines))


def literal_to_tf(val: Any, aval: Any) -> tf.Tensor:
  """A TF constant for a jaxpr literal or closed-over constant."""
  if np.dtype(aval.dtype) == dt.FLOAT0:
    return tf.zeros(aval.shape, tf.bool)
  return tf.constant(np.asarray(val, dtype=dt.to_np_dtype(aval.dtype)))


def _cached_literal(val: Any, aval: Any) -> tf.Tensor:
  """literal_to_tf, shared by every use of the same literal in a graph."""
  if tf.executing_eagerly() or np.dtype(aval.dtype) == dt.FLOAT0:
    return literal_to_tf(val, aval)
  return shared_constant(val, dt.to_np_dtype(aval.dtype))


class _Source:
  """An equation's source line, summarized only when a message needs it.

  Summarizing JAX's source info walks the traceback: ~10% of conversion
  time when done for every equation, though only errors print it.
  """
  __slots__ = ("_eqn", "_text")

  def __init__(self, eqn: Any):
    self._eqn, self._text = eqn, None

  def __str__(self) -> str:
    if self._text is None:
      self._text = source_of(self._eqn)
    return self._text

  def __format__(self, spec: str) -> str:
    return format(str(self), spec)

  def __repr__(self) -> str:
    return repr(str(self))


def interpret(closed_jaxpr: Any, args: Sequence[Any],
              state: ConversionState) -> list[Any]:
  """Converts `closed_jaxpr` applied to TF values `args`; returns its outputs."""
  jaxpr = closed_jaxpr.jaxpr
  consts = [state.constants.tensor(c, v.aval)
            for c, v in zip(closed_jaxpr.consts, jaxpr.constvars)]
  return eval_jaxpr(jaxpr, consts, args, state)


def eval_jaxpr(jaxpr: Any, consts: Sequence[Any], args: Sequence[Any],
               state: ConversionState) -> list[Any]:
  """Interprets an open jaxpr with TF values for its constvars and invars."""
  if len(args) != len(jaxpr.invars):
    raise ValueError(f"jaxpr expects {len(jaxpr.invars)} arguments, "
                     f"got {len(args)}")
  env: dict[Any, Any] = {}

  def read(v: Any) -> Any:
    if isinstance(v, jcore.Literal):
      return _cached_literal(v.val, v.aval)
    return env[v]

  def write(v: Any, value: Any) -> None:
    if not isinstance(v, jcore.DropVar):
      env[v] = value

  for v, c in zip(jaxpr.constvars, consts):
    write(v, c)
  for v, a in zip(jaxpr.invars, args):
    write(v, a)

  for eqn in jaxpr.eqns:
    invals = [read(v) for v in eqn.invars]
    outvals = apply_rule(eqn, invals, state)
    for v, val in zip(eqn.outvars, outvals):
      write(v, val)
  return [read(v) for v in jaxpr.outvars]


def apply_rule(eqn: Any, invals: list[Any], state: ConversionState
               ) -> list[Any]:
  """Runs the rule for one equation and checks its outputs' types."""
  rule = rules.lookup(eqn.primitive) or foreign_primitives.fallback_rule(eqn)
  ctx = RuleContext(
      primitive=eqn.primitive,
      avals_in=[v.aval for v in eqn.invars],
      avals_out=[v.aval for v in eqn.outvars],
      state=state,
      params=dict(eqn.params),
      source=_Source(eqn),  # type: ignore[arg-type]
      literal_operands=tuple(isinstance(v, jcore.Literal) for v in eqn.invars))
  if rule is None:
    raise ctx.unsupported("no rule is registered for this primitive")
  empty = _statically_empty_outputs(ctx, eqn)
  if empty is not None:
    return empty
  with _user_scopes(eqn), tf.name_scope(scope_name(eqn.primitive.name)):
    try:
      out = rule(ctx, *invals, **eqn.params)
    except UnsupportedPrimitiveError:
      raise
    except Exception as e:
      if not getattr(e, "_jax2tf_impl_noted", False):
        e.add_note(f"jax2tf_impl: while converting primitive "
                   f"'{eqn.primitive}' at {ctx.source} with input types "
                   f"{[str(a) for a in ctx.avals_in]}")
        e._jax2tf_impl_noted = True  # type: ignore[attr-defined]
      raise
  outs = list(out) if eqn.primitive.multiple_results else [out]
  if len(outs) != len(eqn.outvars):
    raise AssertionError(
        f"rule for '{eqn.primitive}' returned {len(outs)} values, expected "
        f"{len(eqn.outvars)} (at {ctx.source})")
  return [_check_output(ctx, i, o) for i, o in enumerate(outs)]


def _statically_empty_outputs(ctx: RuleContext, eqn: Any) -> list[Any] | None:
  """Zeros for an equation without effects whose outputs all have a static
  0 among their dimensions (symbolic ones beside it too, as (0, b)): there
  is nothing to compute, and TF mishandles some
  ops on empty tensors (grappler dies of a SIGFPE on a RealDiv of [1, 1, 0]
  by [0, 5, 0]; a TensorArray cannot stack nothing; fuzz 2026120604:443)."""
  if eqn.effects or not ctx.avals_out:
    return None
  outs = []
  for aval in ctx.avals_out:
    shape = getattr(aval, "shape", None)
    if (shape is None or not hasattr(aval, "dtype")
        or not any(isinstance(d, int) and d == 0 for d in shape)):
      return None
    try:
      if np.dtype(aval.dtype) == dt.FLOAT0:
        return None
      static = all(isinstance(d, int) for d in shape)  # else e.g. (0, b)
      outs.append(tf.zeros(shape if static else ctx.shape_tensor(aval),
                           ctx.tf_dtype(aval)))
    except TypeError:  # not an array dtype (keys, tokens): the rule decides
      return None
  return outs


def _user_scopes(eqn: Any) -> contextlib.ExitStack:
  """TF name scopes for the equation's `jax.named_scope` / `jax.named_call`
  names (its name stack, e.g. 'encoder/attention'), as jax2tf keeps them."""
  stack = contextlib.ExitStack()
  name_stack = str(getattr(eqn.source_info, "name_stack", "") or "")
  for part in name_stack.split("/"):
    if part:
      stack.enter_context(tf.name_scope(scope_name(part)))
  return stack


def _check_output(ctx: RuleContext, i: int, value: Any) -> Any:
  aval = ctx.avals_out[i]
  if not hasattr(aval, "dtype"):
    return value  # tokens and other non-array values pass through.
  if np.dtype(aval.dtype) == dt.FLOAT0:
    return value
  expected = dt.to_tf_dtype(aval.dtype)
  if not isinstance(value, (tf.Tensor, tf.Variable)):
    value = tf.convert_to_tensor(value, dtype=expected)
  if value.dtype != expected:
    raise AssertionError(
        f"rule for '{ctx.primitive}' produced dtype {value.dtype.name} for "
        f"output {i}, the jaxpr says {aval} (at {ctx.source})")
  static = value.shape
  if static.rank is not None and static.rank != len(aval.shape):
    raise AssertionError(
        f"rule for '{ctx.primitive}' produced rank {static.rank} for output "
        f"{i}, the jaxpr says {aval} (at {ctx.source})")
  if static.rank is not None:
    for got, want in zip(static.as_list(), aval.shape):
      if isinstance(want, int) and got is not None and got != want:
        raise AssertionError(
            f"rule for '{ctx.primitive}' produced shape {static} for output "
            f"{i}, the jaxpr says {aval} (at {ctx.source})")
  if not static.is_fully_defined() and hasattr(value, "set_shape"):
    # Graph tensors: record what the jaxpr knows statically (principle 3).
    if not tf.executing_eagerly() and isinstance(value, tf.Tensor):
      value.set_shape([d if isinstance(d, int) else None for d in aval.shape])
  return value
