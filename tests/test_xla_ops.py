"""Which primitives may emit Xla* ops (enable_xla=True only), and why.

The list is explicit (rules.XLA_OP_USES) and tested here, so a new rule that
reaches for an XLA op cannot slip in unnoticed; everything else converts to
standard TF ops in both modes (the harness suite's "noxla" mode checks that no
Xla* op appears with enable_xla=False).
"""
import jax
import numpy as np
import pytest
import tensorflow as tf

import jax2tf_impl
from jax2tf_impl import rules
from support.tf_testing import graph_op_types

EXPECTED_XLA_USES = {"svd"}


def test_the_list_of_primitives_that_may_use_xla_ops_is_explicit():
  rules.load_all()
  assert set(rules.XLA_OP_USES) == EXPECTED_XLA_USES
  for name, why in rules.XLA_OP_USES.items():
    assert len(why) > 20, f"{name}: give a real reason"


@pytest.mark.parametrize("enable_xla", [True, False])
def test_float64_svd_under_jit_compile(enable_xla):
  """The one XLA use: float64 SVD under jit_compile asks XlaSvd for float64
  round-off; with enable_xla=False the graph stays portable."""
  a = np.random.RandomState(0).randn(6, 4)
  f = lambda a: jax.numpy.linalg.svd(a, compute_uv=False)
  conv = jax2tf_impl.convert(f, enable_xla=enable_xla)
  got = tf.function(conv, autograph=False, jit_compile=True)(a)
  np.testing.assert_allclose(got, f(a), rtol=1e-5 if not enable_xla else 1e-12)
  plain = graph_op_types(conv, tf.TensorSpec([6, 4], tf.float64))
  assert not {t for t in plain if t.startswith("Xla")}
