"""Primitives without a rule: interpret what the primitive means in JAX terms.

Libraries and users define their own primitives (Equinox's `unvmap_any`,
`nonbatchable`, `maybe_set`, ...; `jax.extend.core.Primitive` in user code;
some of JAX's own, e.g. `jax.experimental.sparse`). A fixed rules table
cannot know them, but such a primitive usually says what it computes in JAX
itself, in one of two places:

1. its platform-independent MLIR lowering, when it was made with
   `mlir.lower_fun(fn)`: the primitive *is* `fn` under `jax.jit`, which is
   what native jax2tf lowered and what we compare with. Preferred.
2. its impl rule (`def_impl`), when written outside JAX (Equinox's impls are
   JAX functions, `filter_primitive_def`). JAX's own impls are not used:
   they are eager paths (`apply_primitive` re-binds the primitive, callback
   impls run Python at trace time, checks raise on concrete values).

The function is traced to a jaxpr at the equation's input avals (symbolic
dimensions and weak types kept) and that jaxpr is interpreted with our rules,
recursively (a fallback jaxpr may contain other foreign primitives). A trace
that re-binds the primitive itself, fails, or returns other types than the
equation's is no fallback. Rules always come first: the fallback is looked
for only when `rules.lookup` finds nothing.

Gradients need nothing here: `gradients.py` converts `jax.vjp` of the whole
function, so JAX applies the primitive's own JVP and transpose rules and the
VJP jaxpr holds primitives that go through this same fallback.
"""
from __future__ import annotations

import dataclasses
import threading
from typing import Any, Callable

from jax2tf_impl import jax_internals
from jax2tf_impl import rules
from jax2tf_impl.jaxpr_util import sub_jaxprs


@dataclasses.dataclass(frozen=True)
class Fallback:
  """The JAX meaning of one equation: a jaxpr (`closed_jaxpr`, with `source`
  saying where it came from) or, when there is none, the `reason`."""
  closed_jaxpr: Any = None
  source: str = ""
  reason: str = ""


# Fallbacks per equation: the support check and the interpreter (and every
# re-interpretation under tf.function) look up the same equation objects.
# The equation is held so that its id() is not reused while cached.
_CACHE: dict[int, tuple[Any, Fallback]] = {}
_CACHE_LIMIT = 4096
_LOCK = threading.RLock()


def fallback(eqn: Any) -> Fallback:
  """The fallback jaxpr for `eqn` (whose primitive has no rule), or why not."""
  with _LOCK:
    hit = _CACHE.get(id(eqn))
    if hit is not None and hit[0] is eqn:
      return hit[1]
  result = _find_fallback(eqn)
  with _LOCK:
    if len(_CACHE) >= _CACHE_LIMIT:
      _CACHE.clear()
    _CACHE[id(eqn)] = (eqn, result)
  return result


def _find_fallback(eqn: Any) -> Fallback:
  prim = eqn.primitive
  candidates: list[tuple[str, Callable, bool]] = []
  low = jax_internals.lower_fun_of(prim)
  if low is not None:
    fn, multiple = low
    candidates.append((f"its MLIR lowering (mlir.lower_fun of "
                       f"{_describe(fn)})", fn, multiple))
  impl = jax_internals.python_impl_of(prim)
  impl_module = jax_internals.function_module(impl) if impl else ""
  if impl is not None and not (impl_module == "jax" or
                               impl_module.startswith(("jax.", "jaxlib"))):
    candidates.append((f"its impl rule ({_describe(impl)})", impl,
                       prim.multiple_results))
  if not candidates:
    return Fallback(reason="it has neither an MLIR lowering written with "
                    "mlir.lower_fun nor an impl rule written outside JAX")
  avals = [v.aval for v in eqn.invars]
  failures = []
  for source, fn, multiple in candidates:
    try:
      closed = jax_internals.trace_at_avals(fn, avals, dict(eqn.params),
                                            multiple)
    except Exception as e:  # noqa: BLE001 - any failure means "not this one".
      first_line = (str(e).splitlines() or [""])[0][:200]
      failures.append(f"{source} cannot be traced: "
                      f"{type(e).__name__}: {first_line}")
      continue
    problem = _mismatch(closed, eqn)
    if problem is None and _uses(closed.jaxpr, prim):
      problem = "it re-binds the primitive itself"
    if problem:
      failures.append(f"{source}: {problem}")
      continue
    return Fallback(closed_jaxpr=closed, source=source)
  return Fallback(reason="; ".join(failures))


def fallback_rule(eqn: Any) -> Callable[..., Any] | None:
  """A rule for `eqn` that interprets its fallback jaxpr, or None."""
  fb = fallback(eqn)
  if fb.closed_jaxpr is None:
    return None
  closed = fb.closed_jaxpr
  multiple = eqn.primitive.multiple_results

  def rule(ctx: Any, *operands: Any, **params: Any) -> Any:
    del params
    outs = ctx.interpret(closed, *operands)
    return outs if multiple else outs[0]

  return rule


def _mismatch(closed: Any, eqn: Any) -> str | None:
  got = closed.out_avals
  want = [v.aval for v in eqn.outvars]
  if len(got) != len(want):
    return f"it returns {len(got)} values, the equation has {len(want)}"
  for g, w in zip(got, want):
    if (getattr(g, "dtype", None) != getattr(w, "dtype", None) or
        tuple(getattr(g, "shape", ())) != tuple(getattr(w, "shape", ()))):
      return f"it returns {g}, the equation says {w}"
  return None


def _uses(jaxpr: Any, prim: Any) -> bool:
  for e in jaxpr.eqns:
    if e.primitive is prim or any(_uses(s, prim) for s in sub_jaxprs(e.params)):
      return True
  return False


def _describe(fn: Any) -> str:
  module = jax_internals.function_module(fn)
  while hasattr(fn, "func"):
    fn = fn.func
  name = getattr(fn, "__qualname__", None) or type(fn).__name__
  return f"{module}.{name}" if module else name


def has_rule_or_fallback(eqn: Any) -> bool:
  return rules.lookup(eqn.primitive) is not None or (
      fallback(eqn).closed_jaxpr is not None)
