"""Functions of constants are folded as XLA folds them (rules/constant_folding.py).

JAX's value of exp/log/erf/... of a literal is what XLA's constant folder
computes with the C library; TF's own folding (grappler, the tf2xla bridge)
uses Eigen's approximations. These tests compare, bit for bit, a converted
function of closed-over constants with jax.jit of it, per function and
dtype, in eager/graph/jit_compile/enable_xla=False; a JAX release that folds
another way fails here. Also random samplers
with literal parameters, whose samples depend on it.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf
from jax import lax

from jax._src import public_test_util as jax_tolerances

import jax2tf_impl
from jax2tf_impl.rules.constant_folding import FOLDED_PRIMITIVES
from support.tf_testing import concrete_op_types

_FUNCTIONS = {"exp": lax.exp, "log": lax.log, "sin": lax.sin, "cos": lax.cos,
              "tan": lax.tan, "tanh": lax.tanh, "erf": lax.erf,
              "log1p": lax.log1p, "expm1": lax.expm1, "cbrt": lax.cbrt}
_MODES = ("graph", "jit", "noxla")


def _run(fn, mode: str, *args):
  conv = jax2tf_impl.convert(fn, enable_xla=(mode != "noxla"))
  f = tf.function(conv, autograph=False, jit_compile=(mode == "jit"))
  return f(*[tf.constant(a) for a in args])


def _bits(x: np.ndarray) -> np.ndarray:
  x = np.asarray(x)
  return x.view(f"u{x.dtype.itemsize}")


def test_every_folded_primitive_is_tested() -> None:
  assert set(_FUNCTIONS) == set(FOLDED_PRIMITIVES)


@pytest.mark.parametrize("mode", _MODES)
@pytest.mark.parametrize("specials", ["finite", "zeros", "negative_nan"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(_FUNCTIONS))
def test_function_of_constant_is_xla_folded_value(name: str, dtype, specials: str,
                                                  mode: str) -> None:
  """Also with inputs whose result is not finite (log(0), log(-1)), with
  which float32 folds through the float functions."""
  values = np.random.default_rng(7).uniform(0.01, 0.99, 500).astype(dtype)
  if specials == "zeros":
    values[:3] = [-0.0, 0.0, 0.5]
  elif specials == "negative_nan":
    values[:3] = [-1.0, np.nan, 100.0]
  fn = lambda: _FUNCTIONS[name](jnp.asarray(values))  # noqa: E731
  expected = np.asarray(jax.jit(fn)())
  got = _run(fn, mode).numpy()
  np.testing.assert_array_equal(_bits(got), _bits(expected))


def test_folded_graph_holds_a_constant() -> None:
  values = np.linspace(0.1, 2.0, 50, dtype=np.float32)
  conv = jax2tf_impl.convert(lambda x: x + lax.log(jnp.asarray(values)))
  ops = concrete_op_types(tf.function(conv).get_concrete_function(
      tf.TensorSpec([50], tf.float32)))
  assert "Log" not in ops


def test_function_of_an_input_is_not_folded() -> None:
  conv = jax2tf_impl.convert(lambda x: lax.log(x - 1.0 / 3.0))
  ops = concrete_op_types(tf.function(conv).get_concrete_function(
      tf.TensorSpec([4], tf.float32)))
  assert "Log" in ops


@pytest.mark.parametrize("mode", _MODES)
def test_product_with_two_literals_is_reassociated(mode: str) -> None:
  """XLA rewrites (a * c1) * c2 to a * (c1 * c2) for literals c1, c2:
  sqrt(2) * 0.02 rounded once differs from rounding twice for about
  1 input in 6."""
  x = np.random.default_rng(3).uniform(-3, 3, 2000).astype(np.float32)
  c1, c2 = np.float32(np.sqrt(2)), np.float32(0.02)
  fn = lambda a: (c1 * a) * c2  # noqa: E731
  expected = np.asarray(jax.jit(fn)(x))
  assert np.sum(expected != (c1 * x) * c2) > 0
  np.testing.assert_array_equal(_run(fn, mode, x).numpy(), expected)


@pytest.mark.parametrize("mode", _MODES)
def test_product_with_another_user_is_reassociated_too(mode: str) -> None:
  """XLA does not require a * c1 to have one user (measured)."""
  x = np.random.default_rng(3).uniform(-3, 3, 2000).astype(np.float32)
  c1, c2 = np.float32(np.sqrt(2)), np.float32(0.02)

  def fn(a):
    b = c1 * a
    return b * c2, b

  expected = [np.asarray(e) for e in jax.jit(fn)(x)]
  assert np.sum(expected[0] != (c1 * x) * c2) > 0
  for e, g in zip(expected, _run(fn, mode, x)):
    np.testing.assert_array_equal(g.numpy(), e)


_KEY = np.asarray(jax.random.PRNGKey(20261202), np.uint32)


@pytest.mark.parametrize("mode", ["eager", "graph", "jit"])
@pytest.mark.parametrize("name,sampler", [
    ("gamma", lambda k: jax.random.gamma(k, 2.5, (40,), jnp.float32)),
    ("loggamma", lambda k: jax.random.loggamma(k, 0.5, (40,), jnp.float32)),
    ("beta", lambda k: jax.random.beta(k, 2.0, 3.0, (40,), jnp.float32)),
    ("truncated_normal", lambda k: jax.random.truncated_normal(
        k, -1.0, 2.0, (40,), jnp.float32)),
    ("glorot_normal", lambda k: jax.nn.initializers.glorot_normal()(
        k, (8, 6), jnp.float32)),
    # The tail after the sampler's body: * 0.02 outside it, exp of an
    # inlined body.
    ("init_normal", lambda k: jax.nn.initializers.normal(0.02)(
        k, (8, 6), jnp.float32)),
    ("lognormal", lambda k: jax.random.lognormal(k, 0.5, (40,), jnp.float32)),
])
def test_samplers_with_literal_parameters(name, sampler, mode) -> None:
  """Distribution parameters written as literals are folded by XLA in
  JAX's program; under jit_compile the converted samples are JAX's bit for
  bit. Without XLA (eager, tf.function: the default graph, which needs no
  XLA) TF rounds a*b+c twice where XLA fuses it, and has its own log: the
  samples are within JAX's float32 tolerance, not bit-exact."""
  expected = np.asarray(jax.jit(sampler)(_KEY))
  conv = jax2tf_impl.convert(sampler)
  f = conv if mode == "eager" else tf.function(conv, autograph=False,
                                               jit_compile=(mode == "jit"))
  got = f(tf.constant(_KEY)).numpy()
  if mode == "jit":
    np.testing.assert_array_equal(_bits(got), _bits(expected))
  else:
    t = jax_tolerances.tolerance(expected.dtype)
    np.testing.assert_allclose(got, expected, rtol=t, atol=t)
