"""Default graphs are portable graphs, except where a rule says why not.

With enable_xla=True a rule emits the same TF ops as with enable_xla=False
(the portable form, which the standard TFLite / tf2onnx / TF.js converters
read) unless it declared otherwise (`rules.declare_default_form`), with the
measured reason (benchmarks/DEFAULT_FORMS.md). Checked here on JAX's own
harnesses: for a sample per group, the op types of both graphs are compared;
where they differ, the harness's function must use a declared primitive (or
one of rules.XLA_OP_USES). And the declared list is explicit.
"""
from __future__ import annotations

import functools

import jax
import numpy as np
import pytest
import tensorflow as tf

import jax2tf_impl
from jax2tf_impl import rules
from support import harness as hs
from support import sampling
from support.tf_testing import graph_op_types

# Declared primitives (rules.DEFAULT_FORMS); a change here needs a row in
# benchmarks/DEFAULT_FORMS.md.
EXPECTED_DEFAULT_FORMS = {
    "erf", "erfc", "atan", "asin", "acos", "lgamma",
    "digamma", "not", "and", "or", "shift_left", "shift_right_logical",
    "bitcast_convert_type", "lt_to", "le_to",
    "eq_to", "scan", "scatter-add", "rem",
}
_PER_GROUP = 3 if not sampling.FULL else 100
_DTYPE_ORDER = ("float32", "int32", "uint32", "float64", "uint8", "bfloat16")


def test_the_declared_default_forms_are_explicit():
  rules.load_all()
  assert set(rules.DEFAULT_FORMS) == EXPECTED_DEFAULT_FORMS
  for name, why in rules.DEFAULT_FORMS.items():
    assert "DEFAULT_FORMS.md" in why or "measured" in why, (
        f"{name}: cite the measurement")


def _primitives(jaxpr, out: set) -> set:
  from jax.extend import core as jex_core
  for e in jaxpr.eqns:
    out.add(e.primitive.name)
    for sub in jex_core.jaxprs_in_params(e.params):
      _primitives(sub, out)
  return out


@functools.cache
def _sample() -> list:
  by_group: dict[str, list] = {}
  for h in hs.all_harnesses():
    if hs.jax_unimplemented_on_cpu(h) is None:
      by_group.setdefault(h.group_name, []).append(h)
  picked = []
  for g in sorted(by_group):
    def rank(h):
      d = hs.dtype_name(h.dtype)
      return (_DTYPE_ORDER.index(d) if d in _DTYPE_ORDER else 9, h.fullname)
    seen, chosen = set(), []
    for h in sorted(by_group[g], key=rank):
      d = hs.dtype_name(h.dtype)
      if d not in seen:
        chosen.append(h)
        seen.add(d)
      if len(chosen) >= _PER_GROUP:
        break
    picked.extend(chosen)
  return picked


@pytest.mark.parametrize("harness", _sample(), ids=lambda h: h.fullname)
def test_default_graph_is_the_portable_graph_unless_declared(harness):
  args = hs.make_args(harness)
  specs = [tf.TensorSpec(np.shape(a), tf.as_dtype(np.asarray(a).dtype))
           for a in args]
  ops = {x: graph_op_types(jax2tf_impl.convert(harness.dyn_fun, enable_xla=x),
                           *specs) for x in (True, False)}
  if ops[True] == ops[False]:
    return
  used = _primitives(jax.make_jaxpr(harness.dyn_fun)(*args).jaxpr, set())
  declared = used & (set(rules.DEFAULT_FORMS) | set(rules.XLA_OP_USES))
  assert declared, (
      f"default and portable graphs differ (default only: "
      f"{sorted(ops[True] - ops[False])}, portable only: "
      f"{sorted(ops[False] - ops[True])}) but none of {sorted(used)} declares "
      "a default form (rules.declare_default_form)")
