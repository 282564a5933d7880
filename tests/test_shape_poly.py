"""Polymorphic shapes: dimension expressions, and clear errors for bad inputs.

Bad inputs are checked in the three contexts a user meets: eager calls,
tf.function graphs, and a SavedModel reloaded from disk.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf

import jax2tf_impl
from jax2tf_impl import InputSpecError


def f_pair(x, y):
  return x[:, :1] * 2.0 + y


def f_image(x):
  b = x.shape[1] // 4
  return jnp.reshape(x, (x.shape[0], b, 4 * x.shape[2])) * 2.0


@pytest.mark.parametrize("n", [1, 2, 3])
def test_dimension_expressions_floordiv_and_products(n):
  x = np.arange(2 * 4 * n * 4 * n, dtype=np.float32).reshape(2, 4 * n, 4 * n)
  conv = jax2tf_impl.convert(f_image, polymorphic_shapes=["(_, 4*b, 4*b)"])
  tf_fn = tf.function(conv, autograph=False, input_signature=[
      tf.TensorSpec([2, None, None], tf.float32)])
  np.testing.assert_array_equal(tf_fn(x), f_image(x))
  np.testing.assert_array_equal(conv(x), f_image(x))


def _contexts(conv, signature, tmp_path):
  """The converted function eagerly, in tf.function, and from a SavedModel."""
  graph = tf.function(conv, autograph=False, input_signature=signature)
  module = tf.Module()
  module.f = graph
  tf.saved_model.save(module, str(tmp_path / "m"))
  loaded = tf.saved_model.load(str(tmp_path / "m"))
  return {"eager": conv, "graph": graph, "saved_model": loaded.f}, loaded


GRAPH_ERRORS = (tf.errors.InvalidArgumentError,)


@pytest.mark.parametrize("context", ["eager", "graph", "saved_model"])
def test_dimension_that_is_not_a_multiple_fails_clearly(context, tmp_path):
  conv = jax2tf_impl.convert(f_image, polymorphic_shapes=["(_, 4*b, 4*b)"])
  fns, _keep = _contexts(conv, [tf.TensorSpec([2, None, None], tf.float32)],
                         tmp_path)
  good = np.ones((2, 8, 8), np.float32)
  np.testing.assert_array_equal(fns[context](good), f_image(good))
  bad = np.ones((2, 10, 10), np.float32)
  err = InputSpecError if context == "eager" else GRAPH_ERRORS
  with pytest.raises(err, match=r"args\[0\].*4\*b"):
    fns[context](bad)


@pytest.mark.parametrize("context", ["eager", "graph", "saved_model"])
def test_arguments_that_must_share_a_dimension_fail_clearly(context, tmp_path):
  conv = jax2tf_impl.convert(f_pair, polymorphic_shapes=["(b, 3)", "(b, 1)"])
  fns, _keep = _contexts(conv, [tf.TensorSpec([None, 3], tf.float32),
                                tf.TensorSpec([None, 1], tf.float32)], tmp_path)
  x, y = np.ones((4, 3), np.float32), np.ones((4, 1), np.float32)
  np.testing.assert_array_equal(fns[context](x, y), f_pair(x, y))
  err = InputSpecError if context == "eager" else GRAPH_ERRORS
  with pytest.raises(err, match=r"args\[1\].*b"):
    fns[context](x, np.ones((5, 1), np.float32))


@pytest.mark.parametrize("context", ["eager", "graph", "saved_model"])
def test_violated_constraint_fails_clearly(context, tmp_path):
  conv = jax2tf_impl.convert(lambda x: x * 2.0, polymorphic_shapes=["(b, 2)"],
                             polymorphic_constraints=["b >= 4"])
  fns, _keep = _contexts(conv, [tf.TensorSpec([None, 2], tf.float32)], tmp_path)
  np.testing.assert_array_equal(fns[context](np.ones((4, 2), np.float32)),
                                np.full((4, 2), 2.0, np.float32))
  err = InputSpecError if context == "eager" else GRAPH_ERRORS
  with pytest.raises(err, match="b >= 4"):
    fns[context](np.ones((3, 2), np.float32))


def test_wrong_rank_fails_clearly_eagerly_and_at_trace_time():
  conv = jax2tf_impl.convert(lambda x: x * 2.0, polymorphic_shapes=["(b, 2)"])
  with pytest.raises(InputSpecError, match=r"args\[0\].*\(b, 2\)"):
    conv(np.ones((3, 2, 1), np.float32))
  graph = tf.function(conv, autograph=False, input_signature=[
      tf.TensorSpec([None, 2, 1], tf.float32)])
  with pytest.raises(InputSpecError, match=r"args\[0\]"):
    graph.get_concrete_function()


def test_static_dimension_mismatch_fails_clearly():
  conv = jax2tf_impl.convert(lambda x: x * 2.0, polymorphic_shapes=["(b, 3)"])
  with pytest.raises(InputSpecError, match=r"args\[0\]"):
    conv(np.ones((2, 4), np.float32))
