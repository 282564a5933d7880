"""enable_xla=False forms for TFLite/ONNX (rules/portable_int.py and the
portable erf_inv/log1p/sort keys) against JAX, on edge values."""
import jax
import numpy as np
import pytest
import tensorflow as tf
from jax import lax

import jax2tf_impl
from jax2tf_impl.rules import portable_int as pint

_EDGE_U32 = np.array([0, 1, 2, 0x7FFFFFFF, 0x80000000, 0x80000001,
                      0xFFFFFFFE, 0xFFFFFFFF, 0x3F800000, 0x55555555,
                      0xAAAAAAAA], np.uint32)


def _u32_operands():
  rng = np.random.RandomState(0)
  rand = rng.randint(0, 2**32, size=2000, dtype=np.uint64).astype(np.uint32)
  a = np.concatenate([np.repeat(_EDGE_U32, len(_EDGE_U32)), rand])
  b = np.concatenate([np.tile(_EDGE_U32, len(_EDGE_U32)), rand[::-1]])
  return a, b


def _converted(fn, *args, mode="graph"):
  converted = jax2tf_impl.convert(fn, enable_xla=False)
  if mode == "graph":
    converted = tf.function(converted, autograph=False)
  return [np.asarray(x) for x in tf.nest.flatten(converted(*args))]


@pytest.mark.parametrize("name, fn, ref", [
    ("and", pint.and_u32, np.bitwise_and),
    ("or", pint.or_u32, np.bitwise_or),
    ("sub", pint.sub_u32, np.subtract),
])
def test_binary_u32_helpers(name, fn, ref):
  a, b = _u32_operands()
  got = fn(tf.constant(a), tf.constant(b)).numpy()
  np.testing.assert_array_equal(got, ref(a, b), err_msg=name)


def test_not_and_rotations_u32():
  a, _ = _u32_operands()
  np.testing.assert_array_equal(pint.not_u32(tf.constant(a)).numpy(), ~a)
  for r in range(1, 32):
    want = (a << np.uint32(r)) | (a >> np.uint32(32 - r))
    got = pint.rotate_left_u32(tf.constant(a), r).numpy()
    np.testing.assert_array_equal(got, want, err_msg=f"rotate {r}")


def test_bits_to_float32_every_exponent():
  """All 256 exponents x several mantissas x both signs, bit-exact except
  NaN payloads (NaN stays NaN) and subnormals, which TF's CPU kernels flush
  to zero when they come out of arithmetic."""
  exps = np.arange(256, dtype=np.uint32) << np.uint32(23)
  mants = np.array([0, 1, 2, 0x400000, 0x7FFFFF, 0x123456], np.uint32)
  bits = (exps[:, None] | mants[None, :]).reshape(-1)
  bits = np.concatenate([bits, bits | np.uint32(0x80000000), _EDGE_U32])
  got = pint.bits_to_float32(tf.constant(bits)).numpy()
  want = bits.view(np.float32)
  nan = np.isnan(want)
  np.testing.assert_array_equal(np.isnan(got), nan)
  subnormal = (want != 0) & (np.abs(want) < np.finfo(np.float32).tiny)
  flushed = subnormal & (got == 0) & (np.signbit(got) == np.signbit(want))
  keep = ~nan & ~flushed
  np.testing.assert_array_equal(got[keep].view(np.uint32),
                                want[keep].view(np.uint32))


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int32, np.uint32])
@pytest.mark.parametrize("op", ["and", "or", "not", "shl3", "shr5"])
def test_portable_bit_primitives_match_jax(dtype, op):
  a, b = _u32_operands()
  a, b = a.astype(dtype), b.astype(dtype)
  fns = {"and": lambda x, y: x & y, "or": lambda x, y: x | y,
         "not": lambda x, y: ~x,
         "shl3": lambda x, y: lax.shift_left(x, np.array(3, dtype)),
         "shr5": lambda x, y: lax.shift_right_logical(x, np.array(5, dtype))}
  want = np.asarray(jax.jit(fns[op])(a, b))
  (got,) = _converted(fns[op], a, b)
  np.testing.assert_array_equal(got, want)


def test_portable_forms_avoid_non_builtin_ops():
  """The ops TFLite builtins / tf2onnx lack do not appear for 32-bit ints."""
  def f(x, y, f32):
    bits = lax.shift_right_logical(x, np.uint32(9)) | np.uint32(0x3F800000)
    return (x & y, lax.shift_left(x, np.uint32(4)),
            lax.bitcast_convert_type(bits, np.float32), lax.log1p(f32),
            lax.erf_inv(f32), lax.erf(f32), lax.atan(f32), lax.asin(f32),
            lax.acos(f32), lax.erfc(f32))
  args = [np.arange(8, dtype=np.uint32), np.arange(8, dtype=np.uint32)[::-1],
          np.linspace(-0.9, 0.9, 8).astype(np.float32)]
  converted = jax2tf_impl.convert(f, enable_xla=False)
  graph = tf.function(converted, autograph=False).get_concrete_function(
      *[tf.TensorSpec(a.shape, a.dtype) for a in args]).graph
  ops = {op.type for op in graph.get_operations()}
  assert not ops & {"BitwiseAnd", "BitwiseOr", "LeftShift", "Bitcast",
                    "Log1p", "Ndtri", "Erfinv", "Erf", "Atan", "Asin",
                    "Acos", "Erfc"}, ops


@pytest.mark.parametrize("name, fn, ulps", [
    ("erf", lax.erf, 5), ("atan", lax.atan, 4), ("asin", lax.asin, 4),
    ("acos", lax.acos, 4), ("erfc", lax.erfc, 100)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_portable_math_accuracy(name, fn, ulps, dtype):
  """Forms without Erf/Erfc/Atan/Asin/Acos ops (TFLite lacks them, tf2onnx
  lacks Erfc): within a few ulps of JAX, NaN and signed zeros alike; erfc
  within 1e-5 relative in its far tail (JAX: 4e-6 from the exact value)."""
  x = np.concatenate([
      np.linspace(-1.2, 1.2, 20001), np.linspace(-6, 6, 2001),
      np.geomspace(1e-30, 1e30, 400), -np.geomspace(1e-30, 1e30, 400),
      [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan]]).astype(dtype)
  want = np.asarray(jax.jit(fn)(x))
  (got,) = _converted(fn, x)
  np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=name)
  ok = ~np.isnan(want)
  np.testing.assert_allclose(got[ok], want[ok], err_msg=name, atol=0,
                             rtol=ulps * np.finfo(dtype).eps)
  zero = ok & (want == 0)
  np.testing.assert_array_equal(np.signbit(got[zero]), np.signbit(want[zero]))


def test_portable_log1p_accuracy():
  x = np.concatenate([
      np.array([0.0, -0.0, 1e-30, -1e-30, 1e-8, -1e-8, 1e-4, -0.5, -1.0,
                -1.5, 1e30, np.inf, -np.inf, np.nan], np.float32),
      np.geomspace(1e-7, 1e7, 200).astype(np.float32),
      -np.geomspace(1e-7, 0.999, 200).astype(np.float32)])
  want = np.asarray(jax.jit(lax.log1p)(x))
  for mode in ("eager", "graph"):  # grappler rewrites log(x + 1) in graphs
    (got,) = _converted(lax.log1p, x, mode=mode)
    np.testing.assert_allclose(got, want, rtol=3e-7, atol=0, err_msg=mode)
  np.testing.assert_array_equal(np.signbit(got[:2]), [False, True])


def test_portable_erf_inv_float32():
  """XLA's float32 polynomial (Giles) in plain ops: within 6e-6 of JAX in
  the tail, where it is the closer of the two to the float64 erfinv."""
  x = np.concatenate([
      np.array([0.0, -0.0, 1e-30, 0.5, -0.5, 0.999999, -1.0, 1.0, 1.5, np.nan],
               np.float32),
      np.linspace(-0.9999, 0.9999, 501).astype(np.float32)])
  want = np.asarray(jax.jit(lax.erf_inv)(x))
  (got,) = _converted(lax.erf_inv, x)
  np.testing.assert_allclose(got, want, rtol=6e-6, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_portable_sort_and_top_k_special_values(dtype):
  x = np.array([[np.nan, 1.0, -0.0, 0.0, -np.inf, np.inf, -1.0, 0.0, np.nan,
                 -0.0, 3.0, 1.0]], dtype)

  def f(v):
    return lax.sort(v, is_stable=True), lax.top_k(v, 6), lax.top_k(v[:, ::-1], 12)
  want = [np.asarray(w) for w in jax.tree_util.tree_leaves(jax.jit(f)(x))]
  got = _converted(f, x)
  for g, w in zip(got, want):
    np.testing.assert_array_equal(g, w)
    if g.dtype.kind == "f":  # the sign of zeros matters in top_k's order
      np.testing.assert_array_equal(np.signbit(g), np.signbit(w))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_portable_float_rem(dtype):
  """fmod from FloorMod on magnitudes: exact, sign of x, JAX's edges."""
  rng = np.random.RandomState(3)
  specials = np.array([0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 1e30, -1e30, 1e-30,
                       np.inf, -np.inf, np.nan], np.float64)
  x = np.concatenate([np.repeat(specials, len(specials)),
                      rng.randn(500) * 100]).astype(dtype)
  y = np.concatenate([np.tile(specials, len(specials)),
                      rng.randn(500) * 3]).astype(dtype)
  want = np.asarray(jax.jit(lax.rem)(x, y))
  (got,) = _converted(lax.rem, x, y)
  np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
  ok = ~np.isnan(want)
  np.testing.assert_array_equal(got[ok], want[ok])
  np.testing.assert_array_equal(np.signbit(got[ok]), np.signbit(want[ok]))


def test_portable_lgamma_float32():
  """Lanczos lgamma (no Lgamma op in TFLite/tf2onnx): within 2e-6 of JAX
  (relative, absolute below 1), poles and infinities alike."""
  x = np.concatenate([np.linspace(-10.5, 30, 20001),
                      np.geomspace(1e-6, 1e30, 500),
                      [0.0, -0.0, 1.0, 2.0, -1.0, -2.0, np.inf, -np.inf,
                       np.nan, 1e-30]]).astype(np.float32)
  want = np.asarray(jax.jit(lax.lgamma)(x))
  (got,) = _converted(lax.lgamma, x)
  np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
  np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
  ok = np.isfinite(want)
  err = np.abs(got[ok] - want[ok]) / np.maximum(np.abs(want[ok]), 1.0)
  assert err.max() <= 3e-6, err.max()


@pytest.mark.parametrize("dtype", [np.int32, np.int8, np.int64, np.uint32, np.uint8])
@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_portable_integer_div_rem(dtype, mode):
  """Integer div/rem with enable_xla=False use FloorDiv on non-positive
  magnitudes (TF.js and TFLite lack TruncateDiv): exact against JAX on the
  edge values (INT_MIN, INT_MAX, +-1, 0 divisors) and random pairs."""
  info = np.iinfo(dtype)
  edge = np.array(sorted(v for v in {info.min, info.min + 1, -7, -2, -1, 0, 1, 2,
                                     3, 7, info.max - 1, info.max}
                         if info.min <= v <= info.max), dtype)
  rng = np.random.default_rng(0)
  rand = rng.integers(info.min, info.max, 500, dtype=dtype, endpoint=True)
  x = np.concatenate([np.repeat(edge, len(edge)), rand])
  y = np.concatenate([np.tile(edge, len(edge)), rand[::-1]])
  fn = lambda x, y: (lax.div(x, y), lax.rem(x, y))
  want = [np.asarray(w) for w in jax.jit(fn)(x, y)]
  got = _converted(fn, x, y, mode=mode)
  for w, g, what in zip(want, got, ["div", "rem"]):
    np.testing.assert_array_equal(g, w, err_msg=what)
  graph = tf.function(jax2tf_impl.convert(fn, enable_xla=False), autograph=False
                      ).get_concrete_function(tf.TensorSpec(x.shape, x.dtype),
                                              tf.TensorSpec(y.shape, y.dtype)).graph
  ops = {op.type for op in graph.get_operations()}
  assert not ops & {"TruncateDiv", "TruncateMod"}, ops
