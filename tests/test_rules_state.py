"""State primitives (Refs): jax.new_ref / jax.ref.*, Refs captured by loops,
conds and inner jits, and run_state. Compared with jax.jit in four modes."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf
from jax import lax
from jax._src.state.discharge import run_state, run_state_reference

import jax2tf_impl
from support.jit_compare import MODES4, assert_matches_jit, run_converted

X = np.arange(1.0, 7.0, dtype=np.float32)


def _basic(x):
  r = jax.new_ref(x)
  r[0] += 1.0
  r[1:3] = r[1:3] * 2
  before = r[...]
  jax.ref.addupdate(r, 2, jnp.float32(5.0))
  r[jnp.array([4, 5])] = jnp.array([7.0, 9.0], jnp.float32)
  old = jax.ref.swap(r, 3, jnp.float32(-1.0))
  return jax.ref.freeze(r), before, old


def _loop(x):
  r = jax.new_ref(x)
  acc = jax.new_ref(jnp.zeros((), x.dtype))

  def body(i, c):
    r[i] = r[i] * c + acc[...]
    acc[...] += r[i]
    return c + 1
  lax.fori_loop(0, x.shape[0], body, 1.0)
  return r[...], acc[...]


def _while(x):
  r = jax.new_ref(jnp.zeros_like(x))

  def body(i):
    r[i] = x[i] * i
    return i + 2
  lax.while_loop(lambda i: i < x.shape[0], body, 1)
  return r[...]


def _cond(x, p):
  r = jax.new_ref(x)

  def yes():
    r[0] = 100.0

  def no():
    r[1:] = r[1:] * -1.0
  lax.cond(p > 0, yes, no)
  return r[...]


def _inner_jit(x):
  @jax.jit
  def g(y):
    r = jax.new_ref(y)
    r[2:4] += 10.0
    return r[...] * 2
  return g(x) + 1


def _ref_2d(x):
  r = jax.new_ref(x.reshape(2, 3))
  r[1, :] = r[0, :] + r[1, :]
  r[:, 2] = jnp.sum(r[...], axis=1)
  return r[...]


CASES = {
    "basic": (_basic, (X,)),
    "fori_loop": (_loop, (X,)),
    "while_loop": (_while, (X,)),
    "cond_true": (_cond, (X, np.int32(1))),
    "cond_false": (_cond, (X, np.int32(0))),
    "inner_jit": (_inner_jit, (X,)),
    "ref_2d": (_ref_2d, (X,)),
}


@pytest.mark.parametrize("mode", MODES4)
@pytest.mark.parametrize("case", sorted(CASES))
def test_new_ref(case, mode):
  f, args = CASES[case]
  assert_matches_jit(f, mode, *args)


def _rs_body(refs):
  a, b = refs
  b[...] = a[...] * 2.0
  a[0] = 7.0
  b[1:3] += a[4:6]


@pytest.mark.parametrize("mode", MODES4)
@pytest.mark.parametrize("which", ["run_state", "run_state_reference"])
def test_run_state(mode, which):
  fn = {"run_state": run_state, "run_state_reference": run_state_reference}[
      which](_rs_body)
  f = lambda a, b: fn((a, b))
  assert_matches_jit(f, mode, X, X[::-1].copy())


@pytest.mark.parametrize("mode", MODES4)
def test_run_state_in_scan(mode):
  def f(x):
    def step(c, xi):
      def body(refs):
        (r,) = refs
        r[...] = r[...] * xi + 1.0
      (c,) = run_state(body)((c,))
      return c, c
    return lax.scan(step, jnp.float32(0.5), x)
  assert_matches_jit(f, mode, X)


def test_gradient_through_refs():
  def f(x):
    r = jax.new_ref(x)
    r[1:] = r[1:] * r[:-1]
    return jnp.sum(r[...] ** 2)
  x = tf.constant(X)
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = jax2tf_impl.convert(f)(x)
  np.testing.assert_allclose(y.numpy(), jax.jit(f)(X), rtol=1e-6)
  np.testing.assert_allclose(tape.gradient(y, x).numpy(),
                             jax.jit(jax.grad(f))(X), rtol=1e-6)


def test_closed_over_outside_ref_is_an_error():
  r = jax.new_ref(jnp.zeros(3))

  def f(x):
    r[...] += x
    return x * 2
  with pytest.raises(NotImplementedError, match="mutable array"):
    run_converted(f, "eager", np.ones(3, np.float32))
