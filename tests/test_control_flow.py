"""cond / switch / while / fori / scan, nested jit, custom_jvp / custom_vjp."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf
from jax import lax

import jax2tf_impl
from support.tf_testing import graph_op_types, run_in_mode as _run

MODES = ["eager", "graph", "jit"]


def check(f, *args, mode="eager", rtol=1e-6, atol=1e-6):
  expected = f(*args)
  got = _run(jax2tf_impl.convert(f), mode, *args)
  e_leaves, e_tree = jax.tree_util.tree_flatten(expected)
  g_leaves, g_tree = jax.tree_util.tree_flatten(got)
  assert e_tree == g_tree
  for e, g in zip(e_leaves, g_leaves):
    e, g = np.asarray(e), np.asarray(g)
    assert e.dtype == g.dtype and e.shape == g.shape, (e, g)
    np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


def _graph_op_types(f, *args):
  return graph_op_types(jax2tf_impl.convert(f), *args)


X = np.linspace(-1, 1, 6).astype(np.float32).reshape(2, 3)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_cond_with_pytree_operands(mode, sign):
  def f(x):
    return lax.cond(jnp.sum(x) * sign > 0,
                    lambda d: {"a": d["a"] + 1, "b": d["b"] * 2},
                    lambda d: {"a": d["a"] - 1, "b": d["b"] * 3},
                    {"a": x, "b": jnp.sum(x)})
  check(f, X + 0.5, mode=mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("index", [-1, 0, 1, 2, 5])
def test_switch_clamps_index_like_jax(mode, index):
  def f(i, x):
    return lax.switch(i, [jnp.sin, jnp.cos, lambda y: y * 10], x)
  check(f, np.int32(index), X, mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_while_loop_with_pytree_carry(mode):
  def f(x):
    def cond(c):
      return c[0] < 5
    def body(c):
      i, (a, b) = c
      return i + 1, (a * 1.5, b + a)
    return lax.while_loop(cond, body, (0, (x, jnp.zeros_like(x))))
  check(f, X, mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_fori_loop_static_and_dynamic_bounds(mode):
  def f(x, n):
    y = lax.fori_loop(0, 4, lambda i, a: a + i, x)
    return lax.fori_loop(0, n, lambda i, a: a * 2, y)
  check(f, X, np.int32(3), mode=mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("unroll", [1, 2])
def test_scan_with_pytree_carry_and_outputs(mode, reverse, unroll):
  def f(xs, c0):
    def step(c, x):
      h, n = c
      h = jnp.tanh(h * 0.5 + x)
      return (h, n + 1), {"h": h, "s": jnp.sum(h)}
    return lax.scan(step, (c0, 0), xs, reverse=reverse, unroll=unroll)
  xs = np.random.RandomState(0).randn(5, 3).astype(np.float32)
  check(f, xs, np.zeros(3, np.float32), mode=mode, rtol=1e-5, atol=1e-5)


def test_scan_of_length_zero():
  def f(xs):
    return lax.scan(lambda c, x: (c + x, x * 2), 0.0, xs)
  check(f, np.zeros((0,), np.float32))


def test_loops_are_not_unrolled():
  def f(xs):
    y = lax.fori_loop(0, 100, lambda i, a: a * 1.01, xs[0])
    c, ys = lax.scan(lambda c, x: (c + x, c), y, xs)
    return c, ys
  types = _graph_op_types(f, np.ones((50, 3), np.float32))
  assert "While" in types or "StatelessWhile" in types


@pytest.mark.parametrize("mode", MODES)
def test_nested_jit(mode):
  @jax.jit
  def inner(x):
    return jnp.sin(x) * 2

  @jax.jit
  def outer(x):
    return inner(x) + jax.jit(lambda y: inner(y) ** 2)(x)
  check(outer, X, mode=mode)


@jax.custom_jvp
def clipped_log(x):
  return jnp.log(jnp.maximum(x, 1e-3))


clipped_log.defjvp(lambda p, t: (clipped_log(p[0]), t[0] * 7.0))


@jax.custom_vjp
def scaled_identity(x):
  return x


scaled_identity.defvjp(lambda x: (x, None), lambda _, g: (g * 3.0,))


@pytest.mark.parametrize("mode", MODES)
def test_custom_jvp_and_vjp_forward(mode):
  check(lambda x: clipped_log(x) + scaled_identity(x), np.abs(X) + 0.1,
        mode=mode)


def test_custom_jvp_and_vjp_gradients_use_the_custom_rules():
  def f(x):
    return jnp.sum(clipped_log(x) + scaled_identity(x) ** 2)
  x = np.abs(X) + 0.1
  xv = tf.Variable(x)
  with tf.GradientTape() as tape:
    y = jax2tf_impl.convert(f)(xv)
  g = tape.gradient(y, xv)
  np.testing.assert_allclose(g, jax.grad(f)(x), rtol=1e-6)
  # The custom rules really were used: d/dx = 7 + 3 * 2x.
  np.testing.assert_allclose(g, 7.0 + 6.0 * x, rtol=1e-6)


def test_checkpoint_forward_and_gradient():
  f = jax.checkpoint(lambda x: jnp.sum(jnp.sin(jnp.cos(x))))
  xv = tf.Variable(X)
  with tf.GradientTape() as tape:
    y = jax2tf_impl.convert(f)(xv)
  np.testing.assert_allclose(y, f(X), rtol=1e-6)
  np.testing.assert_allclose(tape.gradient(y, xv), jax.grad(f)(X), rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_vmapped_while_loop_with_batched_predicate(mode):
  def f(x, y):
    def body(c):
      a, b = c
      return a * 2.0, b + 1.0
    return jax.vmap(lambda a, b: lax.while_loop(
        lambda c: c[0] < 10.0, body, (a, b)))(x, y)
  x = np.array([1.0, 3.0, 20.0, 0.5], np.float32)
  y = np.zeros((4, 3), np.float32)
  check(f, x, y, mode=mode)


@pytest.mark.parametrize("enable_xla", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
def test_scan_outputs_in_both_accumulation_modes(enable_xla, reverse):
  def f(xs):
    return lax.scan(lambda c, x: (c * 0.5 + x, (c, x * 2)), jnp.zeros(3), xs,
                    reverse=reverse)
  xs = np.random.RandomState(0).randn(6, 3).astype(np.float32)
  for mode in MODES:
    got = _run(jax2tf_impl.convert(f, enable_xla=enable_xla), mode, xs)
    for g, e in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(f(xs))):
      np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-6)
