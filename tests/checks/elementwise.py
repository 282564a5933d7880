"""Harness knowledge for elementwise math, comparisons, conversions, complex.

With JAX2TF_IMPL_FULL=1 every harness of these groups passes in eager, graph
and jit modes at the default tolerances, so no TOLERANCES, CHECKS or
LIMITATIONS are needed. Known differences outside the harnesses (covered or
documented in tests/test_rules_elementwise.py):

- Complex multiply with infinite parts, eager/graph: TF's kernel applies C99
  Annex G recovery (inf * inf stays infinite), XLA's plain formula gives NaN.
- Sign of a zero real/imaginary part of complex results in graph mode:
  grappler folds `0 - t` into `-t`.
- exp2 on bfloat16 under jit_compile: JAX rounds log(2) * x to bfloat16
  before the exp, XLA's TF bridge keeps the product in float32 (JAX's own
  result is the less accurate one; differs visibly for |x| > 8).
- float32 pow: TF's kernel may be 1 ulp from XLA's (within tolerance).
"""
from __future__ import annotations

TOLERANCES: dict = {}
CHECKS: dict = {}
LIMITATIONS: list = []
