"""Error types users can catch.

Conversion-time problems (a primitive or parameter we cannot express) are
`UnsupportedPrimitiveError`, a `NotImplementedError`, so code written for
upstream jax2tf that catches NotImplementedError keeps working.
Call-time problems (an argument that does not match the function's
signature or polymorphic spec) are `InputSpecError`, a `ValueError`.
"""
from __future__ import annotations

from typing import Any

# Long parameter values (jaxprs, big tuples) are cut to this many characters
# in error messages: enough to recognise them, short enough to read.
_PARAM_REPR_LIMIT = 200


def format_params(params: dict[str, Any]) -> str:
  """A primitive's params as `k=v, ...` for error messages."""
  parts = []
  for k, v in params.items():
    s = repr(v)
    if len(s) > _PARAM_REPR_LIMIT:
      s = s[:_PARAM_REPR_LIMIT] + "..."
    parts.append(f"{k}={s}")
  return ", ".join(parts) if parts else "(none)"


class UnsupportedPrimitiveError(NotImplementedError):
  """A primitive, or a parameter of it, has no TF translation."""


class InputSpecError(ValueError):
  """An argument's shape or dtype does not fit what the function expects."""
