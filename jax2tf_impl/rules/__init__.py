"""The rules table: JAX primitive -> function that emits TF ops.

A rule is a plain function `rule(ctx, *operands, **params)` that receives one
TF value per jaxpr input (plus the primitive's params as keywords) and
returns one TF value, or a sequence of them for primitives with
`multiple_results`. `ctx` is a `RuleContext` (see context.py).

The table is keyed by the primitive object. Registering a primitive twice is
an error, so two modules can never silently fight over one primitive.

Rules that must emit a tf2xla op (`Xla*`) call `ctx.require_xla(reason)`,
which fails with a clear error under `enable_xla=False`; every such use is
listed in `XLA_OP_USES` so the list of non-portable primitives is explicit.

By default (enable_xla=True) a rule emits the same portable TF ops as under
enable_xla=False, so the standard TFLite / tf2onnx / TF.js converters read
the default graph too. A rule whose default form differs declares it with
`declare_default_form(reason, primitive, ...)`: the reason cites the
measurement (benchmarks/DEFAULT_FORMS.md: the portable form > 1.2x slower or
less exact than the default, or the standard tools read the default right
and not the portable one); tests/test_default_forms.py checks the list
against the graphs.
"""
from __future__ import annotations

import functools
import importlib
from typing import Any, Callable

Rule = Callable[..., Any]

_RULES: dict[Any, Rule] = {}

# primitive name -> why its rule may emit Xla* ops (only with enable_xla=True).
XLA_OP_USES: dict[str, str] = {}

# primitive name -> why its default graph differs from the portable one.
DEFAULT_FORMS: dict[str, str] = {}

# Families of rules, one module each. Importing a module registers its rules.
FAMILY_MODULES = (
    "elementwise",
    "elementwise_math",
    "bitwise",
    "special",
    "structural",
    "reductions",
    "cumulative",
    "windows",
    "select_windows",
    "indexing",
    "scatter",
    "dot",
    "conv",
    "linalg",
    "linalg_spectral",
    "linalg_reductions",
    "linalg_schur",
    "fft",
    "sort",
    "comparisons",
    "random",
    "control_flow",
    "calls",
    "callbacks",
    "misc",
    "state",
    "checks",
    "collectives",
)


def register(*primitives: Any) -> Callable[[Rule], Rule]:
  """Decorator registering `rule` for each of `primitives`."""

  def decorator(rule: Rule) -> Rule:
    for prim in primitives:
      if prim in _RULES:
        raise ValueError(
            f"primitive '{prim}' already has a rule "
            f"({_RULES[prim].__module__}.{_RULES[prim].__qualname__}); "
            f"refusing to overwrite it with {rule.__module__}.{rule.__qualname__}")
      _RULES[prim] = rule
    return rule

  return decorator


def declare_xla_use(primitive_name: str, reason: str) -> None:
  """Records that `primitive_name`'s rule may emit Xla* ops, and why."""
  XLA_OP_USES[primitive_name] = reason


def declare_default_form(reason: str, *primitive_names: str) -> None:
  """Records that these primitives' rules emit another form by default
  (enable_xla=True) than under enable_xla=False, and why."""
  for name in primitive_names:
    DEFAULT_FORMS[name] = reason


@functools.cache
def load_all() -> None:
  """Imports every family module so that all rules are registered."""
  for name in FAMILY_MODULES:
    importlib.import_module(f"{__name__}.{name}")


def lookup(primitive: Any) -> Rule | None:
  """The rule for `primitive`, or None."""
  load_all()
  return _RULES.get(primitive)

