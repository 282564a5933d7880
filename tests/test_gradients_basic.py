"""First-order gradients through tf.GradientTape match jax.grad."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf

import jax2tf_impl


def loss(params, x, labels):
  h = jax.nn.relu(x @ params["w"] + params["b"])
  logits = h @ params["v"]
  return -jnp.mean(jnp.sum(jax.nn.log_softmax(logits) * labels, axis=-1))


def _data():
  rng = np.random.RandomState(0)
  params = {"w": rng.randn(4, 6).astype(np.float32) * 0.5,
            "b": rng.randn(6).astype(np.float32) * 0.1,
            "v": rng.randn(6, 3).astype(np.float32) * 0.5}
  x = rng.randn(8, 4).astype(np.float32)
  labels = np.eye(3, dtype=np.float32)[rng.randint(0, 3, 8)]
  return params, x, labels


@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_gradient_of_pytree_params_matches_jax(mode):
  params, x, labels = _data()
  tf_params = jax.tree_util.tree_map(tf.Variable, params)
  converted = jax2tf_impl.convert(loss)

  def grads():
    with tf.GradientTape() as tape:
      value = converted(tf_params, x, labels)
    return value, tape.gradient(value, tf_params)

  if mode == "graph":
    grads = tf.function(grads, autograph=False)
  value, g = grads()
  expected_value, expected = jax.value_and_grad(loss)(params, x, labels)
  np.testing.assert_allclose(value, expected_value, rtol=1e-5)
  for k in params:
    np.testing.assert_allclose(g[k], expected[k], rtol=1e-5, atol=1e-6)


def test_integer_argument_does_not_block_the_float_gradient():
  """Our gradient function returns zeros of the argument's dtype for integer
  inputs (not None: tf2jax, a reader of gradient functions, needs a tensor
  for every input; tests/test_tf2jax.py round-trips such models). TF's tape
  itself reports no gradient for integer tensors."""
  def f(x, n):
    return jnp.sum(x * n)

  x = tf.Variable(np.ones(3, np.float32))
  n = tf.constant(np.arange(3, dtype=np.int32))
  converted = jax2tf_impl.convert(f)
  for run in (lambda g: g(), lambda g: tf.function(g, autograph=False)()):
    def grads():
      with tf.GradientTape() as tape:
        tape.watch(n)
        y = converted(x, n)
      return tape.gradient(y, [x, n])

    gx, gn = run(grads)
    np.testing.assert_allclose(gx, np.arange(3, dtype=np.float32))
    assert gn is None


def test_with_gradient_false_raises_when_differentiated():
  x = tf.Variable(np.ones(3, np.float32))
  converted = jax2tf_impl.convert(lambda x: jnp.sum(x ** 2), with_gradient=False)
  np.testing.assert_allclose(converted(x), 3.0)

  @tf.function(autograph=False)
  def grad():
    with tf.GradientTape() as tape:
      y = converted(x)
    return tape.gradient(y, x)

  with pytest.raises(LookupError, match="with_gradient=False"):
    grad()


def test_unused_output_gets_zero_cotangent():
  def f(x):
    return jnp.sin(x), jnp.cos(x)
  x = tf.Variable(np.linspace(0, 1, 4).astype(np.float32))
  with tf.GradientTape() as tape:
    a, _ = jax2tf_impl.convert(f)(x)
    y = tf.reduce_sum(a)
  np.testing.assert_allclose(tape.gradient(y, x), np.cos(x.numpy()), rtol=1e-6)


@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_second_order_with_nested_tapes_matches_jax_hessian(mode):
  def f(x):
    return jnp.sum(jnp.sin(x) * x ** 3 + jnp.tanh(x) * jnp.exp(-x * x))

  x0 = np.array([0.3, -1.2, 2.0, 0.7], np.float32)
  x = tf.Variable(x0)
  converted = jax2tf_impl.convert(f)

  def hessian():
    with tf.GradientTape() as outer:
      with tf.GradientTape() as inner:
        y = converted(x)
      g = inner.gradient(y, x)
    return outer.jacobian(g, x)

  if mode == "graph":
    hessian = tf.function(hessian, autograph=False)
  np.testing.assert_allclose(hessian(), jax.hessian(f)(x0), rtol=1e-5, atol=1e-5)
