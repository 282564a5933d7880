"""uint32 as 16-bit float32 limbs (jax2tf_impl/uint32_limbs.py), in JAX alone.

The pass must give JAX's bits exactly: every case compares the rewritten
function under jax.jit with the original under jax.jit (integers, bools and
PRNG bits exact; floats bit-exact too, NaNs as NaN, except that XLA on CPU
flushes the subnormals our float arithmetic makes to zero).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jax2tf_impl import uint32_limbs
from jax2tf_impl.errors import UnsupportedPrimitiveError

pytestmark = pytest.mark.usefixtures("x64_off")

_RNG = np.random.default_rng(20261203)
_SPECIAL = np.array([0, 1, 0xFFFF, 0x10000, 0x7F800000, 0xFF800000, 0x7FC00000,
                     0x80000000, 0x807FFFFF, 0x3F800000, 0xFFFFFFFF, 0x7F7FFFFF,
                     0x00800000], np.uint32)


def _u32(n):
  return np.concatenate([_RNG.integers(0, 2 ** 32, n, dtype=np.uint32), _SPECIAL])


def _i32(n):
  edge = np.array([-2 ** 31, 2 ** 31 - 1, -1, 0, 65535, 65536, -65536, -65537,
                   2 ** 24 + 1, -(2 ** 24) - 1], np.int32)
  return np.concatenate([_RNG.integers(-2 ** 31, 2 ** 31, n - len(edge) + len(_SPECIAL),
                                       dtype=np.int64).astype(np.int32), edge])


def _assert_same(want, got, what):
  want, got = np.asarray(want), np.asarray(got)
  if want.dtype == np.uint32:
    assert got.dtype == np.int32, what
    got = got.view(np.uint32)
  assert want.dtype == got.dtype and want.shape == got.shape, what
  if want.dtype == np.float32:
    np.testing.assert_array_equal(np.isnan(want), np.isnan(got), err_msg=what)
    want, got = np.where(np.isnan(want), 0, want), np.where(np.isnan(got), 0, got)
    np.testing.assert_array_equal(np.signbit(want), np.signbit(got), err_msg=what)
    flushed = (np.abs(want) < np.finfo(np.float32).tiny) & (got == 0)
    got = np.where(flushed, want, got)
  np.testing.assert_array_equal(want, got, err_msg=what)


def _check(fun, *args):
  limbed, limbed_args = uint32_limbs.int32_for_uint32(fun, args)
  assert limbed is not fun
  for a, b in zip(args, limbed_args):
    assert np.asarray(b).dtype == (np.int32 if np.asarray(a).dtype == np.uint32
                                   else np.asarray(a).dtype)
  want = jax.tree_util.tree_leaves(jax.jit(fun)(*args))
  got = jax.tree_util.tree_leaves(jax.jit(limbed)(*limbed_args))
  assert len(want) == len(got)
  for i, (w, g) in enumerate(zip(want, got)):
    _assert_same(w, g, f"output {i}")


_BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b,
    "xor": lambda a, b: a ^ b, "and": lambda a, b: a & b, "or": lambda a, b: a | b,
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
    "max": jnp.maximum, "min": jnp.minimum,
    "mul": lambda a, b: a * b, "div": lambda a, b: lax.div(a, b), "rem": lambda a, b: lax.rem(a, b),
}


@pytest.mark.parametrize("name", sorted(_BINARY))
def test_binary(name):
  a, b = _u32(500), _u32(500)[::-1].copy()
  small = np.concatenate([np.arange(1, 20, dtype=np.uint32),
                          _RNG.integers(0, 2 ** 16, len(a) - 19, dtype=np.uint32)])
  small[5] = 0  # x / 0 and x % 0: XLA's all-ones and x
  _check(_BINARY[name], np.concatenate([a, a]), np.concatenate([b, small]))


def test_sort_on_uint32_keys_and_payloads():
  a, b = _u32(200), _u32(200)
  _check(lambda a, b: (lax.sort((a, b), num_keys=1),
                       lax.sort((b % np.uint32(7), a), num_keys=1, is_stable=True),
                       jnp.argsort(a)), a, b)


@pytest.mark.parametrize("shift", [0, 1, 7, 9, 15, 16, 17, 23, 31, 32])
def test_constant_shifts(shift):
  _check(lambda a: (a >> np.uint32(shift), a << np.uint32(shift), ~a), _u32(300))


@pytest.mark.parametrize("to", ["float32", "int32", "int8", "uint8", "bool"])
def test_convert_from_uint32(to):
  _check(lambda a: a.astype(to), _u32(300))


@pytest.mark.parametrize("src", ["int32", "int8", "uint16", "bool"])
def test_convert_to_uint32(src):
  x = _i32(300).astype(src)
  _check(lambda x: x.astype(jnp.uint32), x)


def test_bitcasts():
  a, x = _u32(300), _i32(300)
  _check(lambda a, x: (lax.bitcast_convert_type(a, jnp.float32),
                       lax.bitcast_convert_type(a, jnp.int32),
                       lax.bitcast_convert_type(x, jnp.uint32)), a, x)


def test_structural_and_control_flow():
  a = _u32(60)[:60].reshape(6, 10)

  def fun(a, i):
    b = jnp.concatenate([a[:, ::-1], jnp.transpose(a)[:6, :3]], axis=1)
    c = jnp.where(b > np.uint32(2 ** 31), b, b + jnp.arange(13, dtype=jnp.uint32))
    d = lax.dynamic_slice(c, (i, 0), (2, 5))
    e = jnp.take(c.reshape(-1), jnp.array([3, 70, 1]))
    f = lax.cond(i > 1, lambda: c[0] ^ np.uint32(7), lambda: c[1])
    g = lax.fori_loop(0, 3, lambda k, v: v ^ (v >> np.uint32(3)), c[2])
    h, ys = lax.scan(lambda s, x: (s + x, s ^ x), c[0], c[1:])
    return d, e, f, g, h, ys, jnp.pad(a, 1, constant_values=np.uint32(9))

  _check(fun, a, np.int32(2))


def _random_program(key, x):
  k = jax.random.wrap_key_data(key)
  k1, k2 = jax.random.split(k)
  return (jax.random.uniform(k1, x.shape),
          jax.random.normal(jax.random.fold_in(k2, 3), x.shape),
          jax.random.bernoulli(k, 0.3, x.shape),
          jax.random.key_data(jax.random.split(k2, 3)),
          jax.random.bits(k1, (7,)),
          jax.random.truncated_normal(k1, -1.0, 2.0, (5,)),
          jax.random.categorical(k2, x),
          jax.random.gumbel(k1, (4,)),
          jax.random.exponential(k2, (4,)))


def _integer_sampling_program(key):
  k1, k2 = jax.random.split(jax.random.wrap_key_data(key))
  return (jax.random.randint(k1, (6,), 0, 10),
          jax.random.randint(k2, (3,), -2 ** 31, 2 ** 31 - 1),
          jax.random.choice(k1, 7, (3,)),
          jax.random.permutation(k2, 6))


@pytest.mark.parametrize("seed", range(2))
def test_jax_random_bits_exact(seed):
  key = np.random.default_rng(seed).integers(0, 2 ** 32, 2, dtype=np.uint32)
  _check(_random_program, key, np.zeros((3, 4), np.float32))


def test_jax_random_integers_exact():
  """randint/choice (uint32 mul, div, rem) and permutation (a uint32 sort);
  one key: XLA takes ~25 s to compile the unrolled long divisions."""
  _check(_integer_sampling_program, np.array([0xDEADBEEF, 7], np.uint32))


def test_key_from_seed_inside():
  _check(lambda x: x + jax.random.normal(jax.random.key(42), x.shape),
         np.zeros((2, 3), np.float32))


def test_nothing_in_uint32_is_left_alone():
  fun = lambda x: jnp.sin(x) * 2
  args = [np.ones(3, np.float32)]
  assert uint32_limbs.int32_for_uint32(fun, args) == (fun, args)


def test_unsupported_names_primitive_and_line():
  def fun(a, b):
    return jnp.cumsum(a) + b  # a uint32 cumulative sum: no limb rule
  limbed, args = uint32_limbs.int32_for_uint32(fun, [_u32(3), _u32(3)])
  with pytest.raises(UnsupportedPrimitiveError, match=r"'cumsum'.*\n.*test_uint32_limbs.py"):
    jax.jit(limbed)(*args)
