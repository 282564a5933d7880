"""Eager calls run a graph built once per input signature (api._call_eagerly).

What must keep working eagerly when the conversion runs as a cached concrete
function: tf.Variable arguments and closed-over constant variables, eager
GradientTape (custom gradients too), polymorphic sizes without rebuilding,
and clear errors.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf

import jax2tf_impl


def test_one_graph_serves_every_size_of_a_symbolic_dimension():
  conv = jax2tf_impl.convert(lambda x: jnp.sin(x) * 2.0,
                             polymorphic_shapes=["(b, 3)"])
  for b in (1, 2, 7):
    x = np.arange(3 * b, dtype=np.float32).reshape(b, 3)
    np.testing.assert_allclose(conv(x), np.sin(x) * 2.0, rtol=1e-6)
  assert conv.trace_count == 1
  assert conv.eager_graph_count == 1


def test_eager_tape_through_custom_vjp_and_variables():
  @jax.custom_vjp
  def clip_grad(x):
    return x

  clip_grad.defvjp(lambda x: (x, None), lambda _, g: (jnp.clip(g, -1, 1),))
  # Closed over and large: a constant variable captured by the graph.
  w_big = np.linspace(-1, 1, 3 * 1024).astype(np.float32).reshape(3, 1024)

  def f(x, v):
    return jnp.sum(clip_grad(x) * 5.0 * v) + jnp.sum(x @ w_big)

  conv = jax2tf_impl.convert(f)
  x = tf.Variable(np.array([1.0, 2.0, 3.0], np.float32))
  v = tf.Variable(np.array([1.0, -1.0, 0.1], np.float32))
  with tf.GradientTape() as tape:
    y = conv(x, v)
  gx, gv = tape.gradient(y, [x, v])
  ex, ev = jax.grad(f, argnums=(0, 1))(x.numpy(), v.numpy())
  np.testing.assert_allclose(y, f(x.numpy(), v.numpy()), rtol=1e-6)
  np.testing.assert_allclose(gx, ex, rtol=1e-5)
  np.testing.assert_allclose(gv, ev, rtol=1e-6)
  assert len(conv.constants.constant_variables) == 1
  # Assigning a variable argument changes the next eager result.
  v.assign(np.zeros(3, np.float32))
  np.testing.assert_allclose(conv(x, v), f(x.numpy(), np.zeros(3, np.float32)),
                             rtol=1e-6)


def test_weak_and_strong_scalars_get_their_own_graphs():
  conv = jax2tf_impl.convert(lambda x, s: x * s)
  x = np.ones(2, np.float32)
  assert conv(x, 2.0).dtype == tf.float32  # weak Python scalar
  out = conv(x, np.float64(2.0))  # strong float64 (x64 is on in tests)
  assert out.dtype == tf.float64
  assert conv.trace_count == 2


def test_constraint_violation_is_an_input_spec_error_eagerly():
  conv = jax2tf_impl.convert(lambda x: x + 1.0, polymorphic_shapes=["(b, 2)"],
                             polymorphic_constraints=["b >= 2"])
  with pytest.raises(jax2tf_impl.InputSpecError, match="b >= 2"):
    conv(np.ones((1, 2), np.float32))
  np.testing.assert_allclose(conv(np.ones((2, 2), np.float32)),
                             np.full((2, 2), 2.0))
