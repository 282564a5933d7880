"""Random numbers: converted `jax.random.*`, rng_bit_generator, threefry bits.

Every test compares with JAX's own output on the same inputs: PRNG bits must
be identical, floats derived from them equal up to rounding.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf
from jax import lax
from jax._src.random import prng
from jax._src.random import threefry2x32 as jax_threefry

import jax2tf_impl
from jax2tf_impl.errors import UnsupportedPrimitiveError
from jax2tf_impl import prng_keys as random_keys
from support.tf_testing import run_in_mode as _run

R = jax.random
MODES = ["eager", "graph", "jit"]


def check(f, *args, mode="eager", rtol=1e-6, **convert_kw):
  expected = jax.jit(f)(*args)
  got = _run(jax2tf_impl.convert(f, **convert_kw), mode,
             *[tf.constant(np.asarray(a)) for a in args])
  e_leaves, e_tree = jax.tree_util.tree_flatten(expected)
  g_leaves, g_tree = jax.tree_util.tree_flatten(got)
  assert e_tree == g_tree
  for e, g in zip(e_leaves, g_leaves):
    e, g = np.asarray(e), np.asarray(g)
    assert e.dtype == g.dtype and e.shape == g.shape, (e.dtype, g.dtype,
                                                      e.shape, g.shape)
    if np.issubdtype(e.dtype, np.inexact):
      tol = 1e-2 if e.dtype.itemsize <= 2 else rtol
      np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64),
                                 rtol=tol, atol=tol)
    else:
      np.testing.assert_array_equal(g, e)


KEY = np.asarray(R.PRNGKey(1701))

# jax.random functions whose jaxprs hold only key primitives, threefry and
# plain lax ops: the converted bits must equal JAX's.
API_CASES = {
    "uniform": lambda k: R.uniform(k, (5, 3), minval=-2., maxval=3.),
    "uniform_bf16": lambda k: R.uniform(k, (7,), jnp.bfloat16),
    "uniform_f16": lambda k: R.uniform(k, (7,), jnp.float16),
    "uniform_f64": lambda k: R.uniform(k, (4,), jnp.float64),
    "normal": lambda k: R.normal(k, (5, 3)),
    "randint": lambda k: R.randint(k, (9,), -5, 17),
    "randint_int8": lambda k: R.randint(k, (9,), -128, 127, jnp.int8),
    "randint_uint64": lambda k: R.randint(k, (9,), 0, 2**40, jnp.uint64),
    "bits_u8": lambda k: R.bits(k, (5, 2), jnp.uint8),
    "bits_u16": lambda k: R.bits(k, (3,), jnp.uint16),
    "bits_u64": lambda k: R.bits(k, (5,), jnp.uint64),
    "split": lambda k: R.split(k, 4),
    "split_shape": lambda k: R.split(k, (2, 3)),
    "fold_in": lambda k: R.fold_in(k, 123),
    "categorical": lambda k: R.categorical(
        k, jnp.log(jnp.array([.1, .2, .7])), shape=(6,)),
    "bernoulli": lambda k: R.bernoulli(k, 0.3, (8,)),
    "permutation": lambda k: R.permutation(k, 10),
    "permutation_independent": lambda k: R.permutation(
        k, jnp.arange(12.).reshape(4, 3), axis=1, independent=True),
    "choice_no_replace": lambda k: R.choice(k, 10, (3,), replace=False),
    "exponential": lambda k: R.exponential(k, (4,)),
    "gumbel": lambda k: R.gumbel(k, (4,)),
    "laplace": lambda k: R.laplace(k, (4,)),
    "rademacher": lambda k: R.rademacher(k, (6,)),
    "gamma": lambda k: R.gamma(k, jnp.array([0.5, 1., 3.]), (3,)),
    "fori_split": lambda k: lax.fori_loop(
        0, 3, lambda i, kk: R.split(kk)[0], k),
    "scan_over_keys": lambda k: lax.scan(
        lambda c, kk: (c + R.uniform(kk), R.bits(kk, (2,))), 0.,
        R.split(k, 4)),
    "vmap_over_keys": lambda k: jax.vmap(
        lambda kk: R.randint(kk, (2,), 0, 9))(R.split(k, 3)),
    "cond_on_keys": lambda k: lax.cond(
        True, lambda kk: R.uniform(R.split(kk)[1]), lambda kk: R.uniform(kk), k),
    "typed_keys": lambda k: R.key_data(R.split(R.wrap_key_data(k), 3)),
    "typed_key_seeded_inside": lambda k: R.uniform(
        R.fold_in(R.key(3), 5), (3,)),
    "key_select_rev_concat": lambda k: (lambda ks: R.key_data(jnp.concatenate(
        [lax.select(jnp.array([True, False]), ks, ks[::-1]), ks[1:]])))(
            R.split(R.wrap_key_data(k), 2)),
    "key_gather_dynamic_slice": lambda k: (lambda ks: R.key_data(
        ks[jnp.array([2, 0])]) + R.key_data(lax.dynamic_slice_in_dim(
            ks, jnp.int32(1), 2)))(R.split(R.wrap_key_data(k), 3)),
    "clone": lambda k: R.bits(R.clone(R.wrap_key_data(k)), (2,)),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(API_CASES))
def test_jax_random_api(name, mode):
  check(API_CASES[name], KEY, mode=mode)


def test_closed_over_typed_key_and_key_outputs():
  key = R.key(42)
  check(lambda x: x + R.normal(key, x.shape), np.zeros(3, np.float32))
  # A function returning key arrays returns their uint32 key data.
  out = jax2tf_impl.convert(lambda: R.split(R.key(0), 3))()
  np.testing.assert_array_equal(np.asarray(out),
                                np.asarray(R.key_data(R.split(R.key(0), 3))))


@pytest.mark.parametrize("enable_xla", [True, False])
def test_polymorphic_batch(enable_xla):
  def f(k, x):
    k1, k2 = R.split(k)
    return (x * R.uniform(k1, x.shape) + R.randint(k2, x.shape, 0, 10),
            R.bits(k2, x.shape[:1], jnp.uint64))

  conv = jax2tf_impl.convert(f, polymorphic_shapes=[None, "(b, 3)"],
                             enable_xla=enable_xla)
  fn = tf.function(conv, autograph=False, input_signature=[
      tf.TensorSpec([2], tf.uint32), tf.TensorSpec([None, 3], tf.float32)])
  for n in (1, 4, 7):
    x = np.random.RandomState(n).randn(n, 3).astype(np.float32)
    for w, g in zip(jax.jit(f)(KEY, x), fn(tf.constant(KEY), tf.constant(x))):
      np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-6)
  ops = {op.type for op in fn.get_concrete_function().graph.get_operations()}
  assert not any(o.startswith("Xla") for o in ops), ops


def test_physicalize_removes_every_key_type():
  def f(k):
    keys = R.split(R.wrap_key_data(k), 3)
    return lax.fori_loop(0, 2, lambda i, ks: jax.vmap(R.split)(ks)[:, 0],
                         keys)

  closed = jax.make_jaxpr(f)(KEY)
  assert random_keys.has_keys(closed)
  phys = random_keys.physicalize(closed)
  assert not random_keys.has_keys(phys)
  got = jax.core.eval_jaxpr(phys.jaxpr, phys.consts, KEY)[0]
  np.testing.assert_array_equal(np.asarray(got), np.asarray(R.key_data(f(KEY))))


def test_unsupported_key_primitive_is_an_error():
  def f(k):
    keys = R.split(R.wrap_key_data(k), 2)
    return keys[0] == keys[1]

  closed = jax.make_jaxpr(f)(KEY)
  with pytest.raises(UnsupportedPrimitiveError, match="PRNG key arrays"):
    random_keys.physicalize(closed)


# ------------------------------------------------------------ primitives


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", [(1,), (7,), (4, 5), (3, 1, 2)])
def test_threefry2x32(shape, mode):
  counts = np.arange(np.prod(shape), dtype=np.uint32).reshape(shape) * 977
  key = np.array([0xFFFFFFFF, 0x12345678], np.uint32)
  check(lambda k, c: jax_threefry.threefry_2x32(k, c), key, counts, mode=mode)
  # Broadcasting operands, as the partitionable split/bits emit them.
  check(lambda k0, k1, x: jax_threefry.threefry2x32_p.bind(k0, k1, x, x + 1),
        key[0], key[1], counts, mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_iota_2x32_shape(mode):
  check(lambda: prng.iota_2x32_shape((3, 4, 5)), mode=mode)
  conv = jax2tf_impl.convert(lambda x: prng.iota_2x32_shape(x.shape),
                             polymorphic_shapes=["(a, b)"])
  fn = tf.function(conv, autograph=False,
                   input_signature=[tf.TensorSpec([None, None], tf.float32)])
  for shape in [(2, 3), (5, 1)]:
    x = np.zeros(shape, np.float32)
    for w, g in zip(prng.iota_2x32_shape(shape), fn(tf.constant(x))):
      np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("algorithm", [lax.RandomAlgorithm.RNG_THREE_FRY,
                                       lax.RandomAlgorithm.RNG_PHILOX,
                                       lax.RandomAlgorithm.RNG_DEFAULT])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.uint64])
@pytest.mark.parametrize("shape", [(), (3,), (5, 7), (3, 1, 5)])
def test_rng_bit_generator(shape, dtype, algorithm, mode):
  # Counters near 2**64 exercise the wrap-around and Philox's 128-bit carry.
  key = np.array([0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], np.uint32)
  f = lambda k: lax.rng_bit_generator(k, shape, dtype=dtype,
                                      algorithm=algorithm)
  check(f, key, mode=mode)
  check(f, key.view(np.uint64), mode=mode)


def test_rng_uniform_range():
  f = lambda: lax.rng_uniform(np.float32(2.), np.float32(3.), (1000,))
  got = np.asarray(jax2tf_impl.convert(f)())
  assert got.dtype == np.float32 and got.shape == (1000,)
  assert np.all(got >= 2.) and np.all(got < 3.)
  f = lambda: lax.rng_uniform(np.int32(-3), np.int32(4), (1000,))
  got = np.asarray(jax2tf_impl.convert(f)())
  assert got.dtype == np.int32 and set(got.tolist()) <= set(range(-3, 4))
