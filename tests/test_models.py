"""Our model suite, converted with polymorphic specs, against JAX at 3 sizes.

Each model x spec (batch-polymorphic, and the harder spec that fits it) x
context (eager, tf.function, tf.function(jit_compile=True), SavedModel
reloaded) is one test; each test runs three concrete sizes.
"""
import jax
import numpy as np
import pytest
import tensorflow as tf

import jax2tf_impl
from jax2tf_impl.export.signatures import input_signature
from support.model_zoo import MODELS


def _compare(model, got, expected):
  g_leaves, g_tree = jax.tree_util.tree_flatten(got)
  e_leaves, e_tree = jax.tree_util.tree_flatten(expected)
  assert g_tree == e_tree
  for g, e in zip(g_leaves, e_leaves):
    g, e = np.asarray(g), np.asarray(e)
    assert g.dtype == e.dtype and g.shape == e.shape, (g.shape, e.shape)
    np.testing.assert_allclose(g, e, rtol=model.rtol, atol=model.rtol)


def _converted_callable(model, kind, context, tmp_path):
  spec = model.batch_spec if kind == "batch" else model.hard_spec
  constraints = () if kind == "batch" else model.constraints
  make = model.make_batch if kind == "batch" else model.make_hard
  converted = jax2tf_impl.convert(model.fun(), polymorphic_shapes=list(spec),
                                  polymorphic_constraints=constraints)
  if context == "eager":
    return converted, make
  signature = input_signature(make(model.sizes[0]), list(spec))
  fn = tf.function(converted, autograph=False, input_signature=signature,
                   jit_compile=(context == "jit"))
  if context != "saved_model":
    return fn, make
  module = tf.Module()
  module.f = fn
  jax2tf_impl.saved_model.save(module, str(tmp_path / model.name))
  loaded = tf.saved_model.load(str(tmp_path / model.name))
  # Keep the loaded root alive: its variables die with it.
  return (lambda *xs: loaded.f(*xs)), make


@pytest.mark.parametrize("context", ["eager", "graph", "jit", "saved_model"])
@pytest.mark.parametrize("kind", ["batch", "hard"])
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_model_matches_jax_at_three_sizes(model, kind, context, tmp_path):
  fn, make = _converted_callable(model, kind, context, tmp_path)
  jax_fn = jax.jit(model.fun())
  for n in model.sizes:
    inputs = make(n)
    _compare(model, fn(*inputs), jax_fn(*inputs))
