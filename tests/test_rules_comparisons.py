"""lt_to / le_to / eq_to (total order) and the public functions that emit
them (searchsorted, digitize, interp, histogram, expm), vs jax.jit."""
import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from jax import lax

import jax2tf_impl
from support.noxla_compare import MODES4, check, run

NAN = np.nan
EDGE = [-np.inf, -3.5, -1., -0., 0., 1e-30, 1., 2.5, np.inf, NAN]


def _pairs(dtype):
  v = np.array(EDGE, dtype)
  return np.repeat(v, len(v)), np.tile(v, len(v))


@pytest.mark.parametrize("mode", MODES4)
def test_total_order_floats(mode):
  """Every pair of edge values, in each float dtype (one conversion)."""
  dtypes = [np.float16, ml_dtypes.bfloat16, np.float32, np.float64]
  args = [a for d in dtypes for a in _pairs(d)]

  def f(*args):
    return [(lax.lt_to_p.bind(x, y), lax.le_to_p.bind(x, y),
             lax.eq_to_p.bind(x, y)) for x, y in zip(args[::2], args[1::2])]
  check(f, mode, *args)


def test_total_order_zero_signs_and_nan():
  """The cases that distinguish the total order from IEEE comparisons."""
  x = np.array([-0., 0., NAN, NAN, 1., -np.inf], np.float32)
  y = np.array([0., -0., NAN, np.inf, NAN, -0.], np.float32)
  lt = np.asarray(jax.jit(lambda a, b: lax.lt_to_p.bind(a, b))(x, y))
  np.testing.assert_array_equal(lt, [True, False, False, False, True, True])
  for mode in MODES4:
    check(lambda a, b: (lax.lt_to_p.bind(a, b), lax.eq_to_p.bind(a, b)),
          mode, x, y)


@pytest.mark.parametrize("mode", ["eager", "graph", "jit"])
def test_total_order_negative_nan_with_xla(mode):
  """-NaN sorts first in the total order; the enable_xla=True form (bit
  keys) sees NaN signs."""
  neg_nan = -np.abs(np.float32(NAN))
  x = np.array([neg_nan, neg_nan, neg_nan, NAN], np.float32)
  y = np.array([-np.inf, NAN, neg_nan, neg_nan], np.float32)
  check(lambda a, b: (lax.lt_to_p.bind(a, b), lax.le_to_p.bind(a, b),
                      lax.eq_to_p.bind(a, b)), mode, x, y)


@pytest.mark.parametrize("mode", MODES4)
def test_total_order_integers(mode):
  args = []
  for dtype in [np.bool_, np.int8, np.uint8, np.int32, np.uint32, np.int64,
                np.uint64]:
    if dtype == np.bool_:
      v = np.array([False, True])
    else:
      info = np.iinfo(dtype)
      v = np.array([info.min, info.min + 1, 0, 1, info.max - 1, info.max],
                   dtype)
    args += [np.repeat(v, len(v)), np.tile(v, len(v))]

  def f(*args):
    return [(lax.lt_to_p.bind(x, y), lax.le_to_p.bind(x, y),
             lax.eq_to_p.bind(x, y)) for x, y in zip(args[::2], args[1::2])]
  check(f, mode, *args)


def test_eq_to_complex_is_refused():
  """XLA rejects a TOTALORDER compare of complex numbers (JAX fails at
  compile time); the conversion fails with a clear error instead."""
  x = np.array([1 + 0j], np.complex64)
  with pytest.raises(jax2tf_impl.UnsupportedPrimitiveError, match="complex"):
    run(lambda x, y: lax.eq_to_p.bind(x, y), "graph", x, x)


SORTED = np.array([-np.inf, -2., -0., 0., 0., 1., 1., 3., np.inf, NAN],
                  np.float32)
QUERIES = np.array([-np.inf, -5., -2., -0., 0., 0.5, 1., 2., 3., 10., np.inf,
                    NAN, -1e-30], np.float32)


@pytest.mark.parametrize("mode", MODES4)
def test_searchsorted(mode):
  """Every side and method (one conversion), on zeros of both signs, infs,
  NaN (sorted last) and values between and beyond the sorted ones."""
  def f(a, v):
    return [jnp.searchsorted(a, v, side=side, method=method)
            for side in ("left", "right")
            for method in ("scan", "scan_unrolled", "sort", "compare_all")]
  check(f, mode, SORTED, QUERIES)


@pytest.mark.parametrize("mode", MODES4)
def test_searchsorted_ints_and_2d_queries(mode):
  a = np.array([-5, 0, 0, 3, 7, 7, 7, 100], np.int32)
  v = np.array([[-6, -5, 0, 1], [7, 8, 100, 101]], np.int32)
  for side in ("left", "right"):
    check(lambda a, v: jnp.searchsorted(a, v, side=side), mode, a, v)


@pytest.mark.parametrize("mode", MODES4)
def test_digitize(mode):
  bins = np.array([-1., 0., 0.5, 2.], np.float32)
  x = np.array([-2., -1., -0., 0., 0.25, 0.5, 1., 2., 3., NAN], np.float32)
  for right in (False, True):
    check(lambda x, b: jnp.digitize(x, b, right=right), mode, x, bins)
  check(lambda x, b: jnp.digitize(x, b[::-1]), mode, x, bins)


@pytest.mark.parametrize("mode", MODES4)
def test_interp(mode):
  xp = np.array([0., 1., 2., 4.], np.float32)
  fp = np.array([1., -1., 3., 0.], np.float32)
  x = np.array([-1., 0., 0.5, 1., 3., 4., 5., -0.], np.float32)
  check(lambda x, xp, fp: jnp.interp(x, xp, fp), mode, x, xp, fp)
  check(lambda x, xp, fp: jnp.interp(x, xp, fp, left=-7., right=9.), mode,
        x, xp, fp)


@pytest.mark.parametrize("mode", MODES4)
def test_histogram(mode):
  x = np.array([0., 0.1, 0.5, 0.5, 0.9, 1., 1., -0.3, 2.], np.float32)
  check(lambda x: jnp.histogram(x, bins=4), mode, x)
  check(lambda x: jnp.histogram(x, bins=jnp.array([0., 0.5, 1.])), mode, x)
  check(lambda x: jnp.histogram(x, bins=3, range=(0., 1.), density=True),
        mode, x)


@pytest.mark.parametrize("mode", MODES4)
def test_expm(mode):
  a = np.array([[0.1, 2., -1.], [0.5, -0.3, 0.2], [3., 0., 1.]], np.float32)
  check(jax.scipy.linalg.expm, mode, a)
  # float64: a Pade approximant, scaling and squaring, and a solve; other
  # summation orders in the dots move the result by a few 1e-14.
  check(jax.scipy.linalg.expm, mode, (a * 4).astype(np.float64), tol=1e-12)


def test_searchsorted_polymorphic():
  """A polymorphic number of queries (JAX's searchsorted itself needs a
  static number of sorted values)."""
  for mode in MODES4:
    for method in ("scan", "compare_all"):
      check(lambda a, v: jnp.searchsorted(a, v, method=method), mode,
            SORTED[:-1], QUERIES, polymorphic_shapes=[None, "(m,)"])
