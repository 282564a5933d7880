"""Bit-level rules against JAX: shifts out of range, logical ops on every
dtype, bit counts, bitcasts between widths, reduce_precision bit-exact."""
import itertools

import jax
import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf
from jax import lax

import jax2tf_impl
from support.tf_testing import graph_op_types, run_converted as _run

MODES = ["eager", "graph", "jit"]
INT_DTYPES = [np.int8, np.int16, np.int32, np.int64,
              np.uint8, np.uint16, np.uint32, np.uint64]
_UNSIGNED_OF = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _bits(a):
  a = np.asarray(a)
  if a.dtype == np.bool_:
    return a
  return a.view(_UNSIGNED_OF[a.dtype.itemsize])


def check_exact(fn, *args, mode="eager", enable_xla=True):
  """Converted `fn` equals jax.jit(fn) bit for bit (dtype and shape too)."""
  expected = [np.asarray(e) for e in
              jax.tree_util.tree_leaves(jax.jit(fn)(*args))]
  got = _run(fn, mode, *args, enable_xla=enable_xla)
  assert len(expected) == len(got)
  for e, g in zip(expected, got):
    assert e.dtype == g.dtype and e.shape == g.shape, (e.dtype, g.dtype,
                                                       e.shape, g.shape)
    np.testing.assert_array_equal(_bits(g), _bits(e))


def _interesting_ints(dtype, rng, n=64):
  info = np.iinfo(dtype)
  edges = [0, 1, 2, info.max, info.max - 1, info.min, info.min + 1,
           info.max // 2, 3, 7]
  if info.min < 0:
    edges += [-1, -2, -7]
  rand = rng.randint(info.min, info.max, size=n, dtype=dtype)
  return np.concatenate([np.array(edges, dtype), rand])


def _shift_amounts(dtype, size):
  """Amounts covering in-range, == width, > width and negative values."""
  bits = np.dtype(dtype).itemsize * 8
  base = list(range(0, bits + 3)) + [bits * 2, 100, np.iinfo(dtype).max]
  if np.iinfo(dtype).min < 0:
    base += [-1, -bits, np.iinfo(dtype).min]
  amounts = np.array(base, dtype)
  return np.resize(amounts, size)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", INT_DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("shift", [lax.shift_left, lax.shift_right_logical,
                                   lax.shift_right_arithmetic],
                         ids=lambda f: f.__name__)
def test_shifts_out_of_range_and_negative(shift, dtype, mode):
  x = _interesting_ints(dtype, np.random.RandomState(0))
  y = _shift_amounts(dtype, x.size)
  check_exact(shift, x, y, mode=mode)
  # Every value shifted by every amount.
  xs, ys = np.meshgrid(x[:16], _shift_amounts(dtype, 80))
  check_exact(shift, xs, ys, mode=mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", INT_DTYPES + [np.bool_],
                         ids=lambda d: d.__name__)
def test_logical_ops(dtype, mode):
  rng = np.random.RandomState(1)
  if dtype == np.bool_:
    x, y = rng.rand(2, 40) > 0.5
  else:
    x = _interesting_ints(dtype, rng, 30)
    y = x[::-1].copy()
  check_exact(lambda a, b: (lax.bitwise_and(a, b), lax.bitwise_or(a, b),
                            lax.bitwise_xor(a, b), lax.bitwise_not(a)),
              x, y, mode=mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", INT_DTYPES, ids=lambda d: d.__name__)
def test_population_count_and_clz(dtype, mode):
  x = _interesting_ints(dtype, np.random.RandomState(2))
  bits = np.dtype(dtype).itemsize * 8
  powers = (np.ones(bits, np.uint64) << np.arange(bits, dtype=np.uint64))
  x = np.concatenate([x, powers.astype(_UNSIGNED_OF[bits // 8]).view(dtype)])
  check_exact(lambda v: (lax.population_count(v), lax.clz(v)), x, mode=mode)


_BITCASTS = [
    (np.float32, (3, 5), np.uint8),      # wider -> narrower: adds dim 4
    (np.uint8, (3, 5, 4), np.float32),   # narrower -> wider: drops dim 4
    (np.float64, (2, 3), np.int32),
    (np.int32, (2, 3, 2), np.float64),
    (np.int16, (7,), np.uint8),
    (np.uint8, (7, 2), ml_dtypes.bfloat16),
    (ml_dtypes.bfloat16, (4,), np.int8),
    (np.float16, (4,), ml_dtypes.bfloat16),
    (np.uint64, (3,), np.float16),
    (np.float16, (3, 4), np.int64),
    (np.int8, (), np.uint8),
    (np.uint32, (5,), np.int32),
    (np.bool_, (5,), np.bool_),
    (np.complex64, (3,), np.complex64),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("src,shape,dst", _BITCASTS,
                         ids=lambda v: getattr(v, "__name__", str(v)))
def test_bitcast_convert_type(src, shape, dst, mode):
  rng = np.random.RandomState(3)
  raw = rng.randint(0, 256, size=int(np.prod(shape, dtype=int)) *
                    np.dtype(src).itemsize).astype(np.uint8)
  if src == np.bool_:
    x = raw[:int(np.prod(shape))].astype(bool).reshape(shape)
  else:
    x = raw.view(src).reshape(shape)
  check_exact(lambda v: lax.bitcast_convert_type(v, dst), x, mode=mode)


def test_bitcast_polymorphic_batch():
  """Changing widths keeps a symbolic leading dimension."""
  fn = lambda v: lax.bitcast_convert_type(v, np.uint8)  # (b, 3) -> (b, 3, 4)
  converted = tf.function(
      jax2tf_impl.convert(fn, polymorphic_shapes=["(b, 3)"]), autograph=False,
      input_signature=[tf.TensorSpec([None, 3], tf.float32)])
  for b in (1, 5):
    x = np.random.RandomState(b).randn(b, 3).astype(np.float32)
    got = converted(tf.constant(x)).numpy()
    np.testing.assert_array_equal(got, np.asarray(fn(x)))
  back = lambda v: lax.bitcast_convert_type(v, np.float32)
  converted = tf.function(
      jax2tf_impl.convert(back, polymorphic_shapes=["(b, 3, 4)"]),
      autograph=False,
      input_signature=[tf.TensorSpec([None, 3, 4], tf.uint8)])
  x = np.random.RandomState(0).randint(0, 256, (6, 3, 4)).astype(np.uint8)
  np.testing.assert_array_equal(_bits(converted(tf.constant(x)).numpy()),
                                _bits(np.asarray(back(x))))


def test_shift_polymorphic_batch():
  fn = lax.shift_right_arithmetic
  converted = tf.function(
      jax2tf_impl.convert(fn, polymorphic_shapes=["(b, 4)", "(b, 4)"]),
      autograph=False,
      input_signature=[tf.TensorSpec([None, 4], tf.int32)] * 2)
  x = np.array([[-5, 5, -1, 1 << 30]] * 3, np.int32)
  y = np.array([[1, 31, 32, -1], [0, 33, 2, 40], [-7, 5, 100, 3]], np.int32)
  np.testing.assert_array_equal(converted(x, y).numpy(), np.asarray(fn(x, y)))


def _all_16bit(dtype):
  return np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(dtype)


def _random_bits(dtype, n, seed=0):
  rng = np.random.RandomState(seed)
  ubits = _UNSIGNED_OF[np.dtype(dtype).itemsize]
  raw = rng.randint(0, np.iinfo(np.int64).max, size=n, dtype=np.int64)
  raw = (raw.astype(np.uint64) * np.uint64(2) +
         rng.randint(0, 2, n).astype(np.uint64))
  fin = np.finfo(dtype)
  specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, fin.max, fin.tiny,
                       fin.smallest_subnormal, -fin.tiny, 1.0, 65504.0,
                       65520.0, 6.1e-5, 5.96e-8], dtype)
  return np.concatenate([specials, raw.astype(ubits).view(dtype)])


_FORMATS = [(5, 10), (8, 7), (5, 7), (4, 3), (5, 2), (2, 1), (3, 0), (1, 0),
            (8, 23), (11, 52), (4, 10), (8, 3), (1, 1), (10, 40), (3, 20)]


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16],
                         ids=lambda d: np.dtype(d).name)
def test_reduce_precision_all_16bit_patterns(dtype):
  x = _all_16bit(dtype)
  for e, m in _FORMATS:
    check_exact(lambda v: lax.reduce_precision(v, exponent_bits=e,
                                               mantissa_bits=m), x)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64],
                         ids=lambda d: np.dtype(d).name)
def test_reduce_precision_random_bits(dtype, mode):
  x = _random_bits(dtype, 20000)
  for e, m in _FORMATS:
    check_exact(lambda v: lax.reduce_precision(v, exponent_bits=e,
                                               mantissa_bits=m), x, mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_reduce_precision_bf16_scalar(mode):
  """The harness cases with scalar bfloat16 inputs (see checks/bitwise.py)."""
  for v in [1.5, -3.1e38, 1e-39, np.nan, np.inf, 0.3]:
    x = np.array(v, ml_dtypes.bfloat16)
    for e, m in [(8, 7), (5, 10), (8, 23), (11, 52), (5, 7)]:
      check_exact(lambda a: lax.reduce_precision(a, exponent_bits=e,
                                                 mantissa_bits=m), x,
                  mode=mode)


def _graph_op_types(fn, *args, enable_xla):
  return graph_op_types(jax2tf_impl.convert(fn, enable_xla=enable_xla),
                        *[tf.constant(a) for a in args])


def test_no_xla_ops_and_enable_xla_false():
  """Every bitwise rule is portable: no Xla* op, same result without XLA."""
  x = np.array([1.5, -2.25, 1e-30, np.inf], np.float32)
  i = np.array([-5, 7, 1 << 20, 3], np.int32)

  def fn(v, k):
    return (lax.reduce_precision(v, exponent_bits=5, mantissa_bits=2),
            lax.bitcast_convert_type(v, np.uint8),
            lax.shift_left(k, k), lax.shift_right_logical(k, k),
            lax.shift_right_arithmetic(k, k), lax.population_count(k),
            lax.clz(k), lax.bitwise_xor(k, ~k))

  types = _graph_op_types(fn, x, i, enable_xla=False)
  assert not [t for t in types if t.startswith("Xla")], types
  check_exact(fn, x, i, enable_xla=False)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32,
                                   np.uint32, np.int64, np.uint64])
def test_mulhi_matches_jax(dtype):
  from jax._src.lax import lax as lax_internal
  info = np.iinfo(dtype)
  rng = np.random.RandomState(0)
  edge = np.array([info.min, info.max, 0, 1, info.max // 2 + 1, info.min // 2 - 1
                   if info.min < 0 else 3], dtype)
  x = np.concatenate([edge, rng.randint(info.min, info.max, 50, dtype=dtype)])
  y = np.concatenate([edge[::-1], rng.randint(info.min, info.max, 50, dtype=dtype)])
  f = lambda a, b: lax_internal.mulhi_p.bind(a, b)
  expected = np.asarray(jax.jit(f)(x, y))
  for mode in ("eager", "graph"):
    conv = jax2tf_impl.convert(f)
    fn = conv if mode == "eager" else tf.function(conv, autograph=False)
    np.testing.assert_array_equal(np.asarray(fn(x, y)), expected)


def test_or_of_disjoint_bits_is_an_add_in_the_default_graph():
  """jax.random.uniform's `bits >> 9 | 0x3f800000` and rotations: an add (a
  builtin everywhere) instead of BitwiseOr, bit for bit; an `or` whose
  operands may share bits stays BitwiseOr."""
  import jax
  import jax.numpy as jnp
  import jax2tf_impl
  from support.tf_testing import concrete_op_types

  def disjoint(x):
    return (x >> 9) | jnp.uint32(0x3F800000), (x << 7) | (x >> 25)

  def overlapping(x):
    return (x >> 3) | jnp.uint32(0x3F800000)

  x = np.random.RandomState(0).randint(0, 2**32, 1000, dtype=np.uint64).astype(np.uint32)
  # enable_xla=False emulates a non-disjoint `or` (no BitwiseOr either way);
  # there the disjoint one must still be a single add per `or`.
  for (fn, want_or), enable_xla in itertools.product(
      ((disjoint, False), (overlapping, True)), (True, False)):
    tf_fn = tf.function(jax2tf_impl.convert(fn, enable_xla=enable_xla),
                        autograph=False)
    got = tf_fn(x)
    for g, w in zip(tf.nest.flatten(got), jax.tree_util.tree_leaves(jax.jit(fn)(x))):
      np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
    ops = concrete_op_types(tf_fn.get_concrete_function(tf.TensorSpec([1000], tf.uint32)))
    if enable_xla:
      assert ("BitwiseOr" in ops) == want_or, ops
    else:  # or_u32 = xor + and_u32 (which subtracts via xor and adds)
      assert ("BitwiseXor" in ops) == want_or, ops
