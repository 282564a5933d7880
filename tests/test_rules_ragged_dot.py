"""ragged_dot_general (lax.ragged_dot, mixture of experts) in its three
modes, group_sizes forms and edge cases, vs jax.jit."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import jax2tf_impl
from support.noxla_compare import MODES4, check

RNG = np.random.RandomState(0)
RD = lax.RaggedDotDimensionNumbers


def _f32(*shape):
  return RNG.randn(*shape).astype(np.float32)


@pytest.mark.parametrize("mode", MODES4)
@pytest.mark.parametrize("sizes", [[3, 0, 4, 2], [9, 0, 0, 0], [2, 2, 1, 1],
                                   [0, 0, 0, 0], [5, 6, 0, 0]])
def test_ragged_dot_moe(sizes, mode):
  """[m, k] x [g, k, n] -> [m, n]; rows past sum(sizes) (or cut off when
  the sizes overrun m) follow JAX's CPU result."""
  lhs, rhs = _f32(9, 5), _f32(4, 5, 3)
  gs = np.array(sizes, np.int32)
  check(lambda a, b, g: lax.ragged_dot(a, b, g), mode, lhs, rhs, gs)


@pytest.mark.parametrize("mode", MODES4)
def test_ragged_dot_dtypes(mode):
  lhs = RNG.randint(-3, 3, (6, 4)).astype(np.int8)
  rhs = RNG.randint(-3, 3, (2, 4, 3)).astype(np.int8)
  gs = np.array([4, 2], np.int64)
  check(lambda a, b, g: lax.ragged_dot(a, b, g,
                                       preferred_element_type=jnp.int32),
        mode, lhs, rhs, gs)
  check(lambda a, b, g: lax.ragged_dot(a, b, g), mode,
        _f32(6, 4).astype(jnp.bfloat16), _f32(2, 4, 3).astype(jnp.bfloat16),
        gs, tol=1e-2)


@pytest.mark.parametrize("mode", MODES4)
def test_ragged_noncontracting_batched_with_2d_group_sizes(mode):
  """[b, m, k] x [b, g, k, n] with group_sizes [b, g]; rhs group dim in
  the middle."""
  dn = RD(dot_dimension_numbers=(([2], [2]), ([0], [0])),
          lhs_ragged_dimensions=[1], rhs_group_dimensions=[1])
  lhs, rhs = _f32(2, 7, 4), _f32(2, 3, 4, 5)
  gs = np.array([[2, 3, 2], [0, 6, 1]], np.int32)
  f = lambda a, b, g: lax.ragged_dot_general(a, b, g, dn)
  check(f, mode, lhs, rhs, gs)
  check(f, mode, lhs, rhs, gs[0])  # [g] broadcast over the batch


@pytest.mark.parametrize("mode", MODES4)
def test_ragged_noncontracting_outer_free_dim(mode):
  """Ragged axis after another free axis: group_sizes [x, g] indexed by it;
  contracting axis first in lhs."""
  dn = RD(dot_dimension_numbers=(([0], [1]), ([], [])),
          lhs_ragged_dimensions=[2], rhs_group_dimensions=[0])
  lhs, rhs = _f32(4, 3, 6), _f32(2, 4, 5)
  gs = np.array([[1, 5], [6, 0], [3, 2]], np.int32)
  check(lambda a, b, g: lax.ragged_dot_general(a, b, g, dn), mode,
        lhs, rhs, gs)


@pytest.mark.parametrize("mode", MODES4)
def test_ragged_contracting(mode):
  """[m, k] x [k, n] -> [g, m, n]: each group contracts its k segment
  (the weight-gradient form of MoE)."""
  dn = RD(dot_dimension_numbers=(([1], [0]), ([], [])),
          lhs_ragged_dimensions=[1], rhs_group_dimensions=[])
  lhs, rhs = _f32(3, 8), _f32(8, 2)
  gs = np.array([3, 0, 5, 1], np.int32)
  check(lambda a, b, g: lax.ragged_dot_general(a, b, g, dn), mode,
        lhs, rhs, gs)


@pytest.mark.parametrize("mode", MODES4)
def test_ragged_contracting_batched(mode):
  dn = RD(dot_dimension_numbers=(([1], [2]), ([0], [0])),
          lhs_ragged_dimensions=[1], rhs_group_dimensions=[])
  lhs, rhs = _f32(2, 6, 3), _f32(2, 4, 6)
  gs = np.array([[1, 5], [4, 2]], np.int32)
  check(lambda a, b, g: lax.ragged_dot_general(a, b, g, dn), mode,
        lhs, rhs, gs)


@pytest.mark.parametrize("mode", MODES4)
def test_ragged_batch(mode):
  """Ragged batch axis: on CPU JAX computes the plain dot_general."""
  dn = RD(dot_dimension_numbers=(([2], [1]), ([0], [0])),
          lhs_ragged_dimensions=[0], rhs_group_dimensions=[])
  lhs, rhs = _f32(5, 2, 3), _f32(5, 3, 4)
  gs = np.array([2, 3], np.int32)
  check(lambda a, b, g: lax.ragged_dot_general(a, b, g, dn), mode,
        lhs, rhs, gs)


def test_ragged_dot_polymorphic_tokens_and_gradient():
  lhs, rhs = _f32(9, 5), _f32(3, 5, 2)
  gs = np.array([4, 0, 5], np.int32)
  f = lambda a, b, g: lax.ragged_dot(a, b, g)
  for mode in MODES4:
    check(f, mode, lhs, rhs, gs, polymorphic_shapes=["(m, _)", None, None])
  loss = lambda a, b, g: jnp.sum(jnp.sin(lax.ragged_dot(a, b, g)))
  check(jax.grad(loss, argnums=(0, 1)), "graph", lhs, rhs, gs)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  a, b = tf.constant(lhs), tf.constant(rhs)
  with tf.GradientTape() as tape:
    tape.watch([a, b])
    out = jax2tf_impl.convert(loss)(a, b, tf.constant(gs))
  got = tape.gradient(out, [a, b])
  want = jax.grad(loss, argnums=(0, 1))(lhs, rhs, gs)
  for g, w in zip(got, want):
    np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
