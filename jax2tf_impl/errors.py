"""Error types users can catch.

Conversion-time problems (a primitive or parameter we cannot express) are
`UnsupportedPrimitiveError`, a `NotImplementedError`, so code written for
upstream jax2tf that catches NotImplementedError keeps working.
Call-time problems (an argument that does not match the function's
signature or polymorphic spec) are `InputSpecError`, a `ValueError`.
"""
from __future__ import annotations


class UnsupportedPrimitiveError(NotImplementedError):
  """A primitive, or a parameter of it, has no TF translation."""


class InputSpecError(ValueError):
  """An argument's shape or dtype does not fit what the function expects."""
