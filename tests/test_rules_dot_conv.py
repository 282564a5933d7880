"""dot_general, conv_general_dilated, fft: what the harnesses do not cover.

Symbolic (polymorphic) batch dims, enable_xla=False (no Xla* op in the
graph), integer wrap-around, layouts/paddings/groups the harnesses skip.
Every check compares with JAX's own output on the same inputs.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf
from jax import lax

import jax2tf_impl
from support.tf_testing import (compare_nested as _compare,
                                concrete_op_types, run_in_mode as _run)

MODES = ["eager", "graph", "jit"]
RNG = np.random.RandomState(0)


def check(f, *args, mode="eager", tol=1e-5, enable_xla=True):
  expected = jax.jit(f)(*args)
  got = _run(jax2tf_impl.convert(f, enable_xla=enable_xla), mode, *args)
  _compare(expected, got, tol)


def check_poly(f, args, specs, poly_shapes, tol=1e-5, enable_xla=False,
               other_args=()):
  """Converts with polymorphic shapes, traces once with None dims, runs on
  `args` and each of `other_args`; asserts no Xla* op under enable_xla=False."""
  converted = jax2tf_impl.convert(f, polymorphic_shapes=poly_shapes,
                                  enable_xla=enable_xla)
  fn = tf.function(converted, autograph=False, input_signature=specs)
  conc = fn.get_concrete_function()
  if not enable_xla:
    xla_ops = [t for t in concrete_op_types(conc) if t.startswith("Xla")]
    assert not xla_ops, xla_ops
  for a in [args, *other_args]:
    _compare(jax.jit(f)(*a), fn(*a), tol)


def _rand(shape, dtype=np.float32):
  if np.issubdtype(dtype, np.complexfloating):
    return (RNG.randn(*shape) + 1j * RNG.randn(*shape)).astype(dtype)
  if np.issubdtype(dtype, np.integer):
    info = np.iinfo(dtype)
    return RNG.randint(info.min, int(info.max) + 1, size=shape, dtype=dtype)
  return RNG.randn(*shape).astype(dtype)


# --- dot_general ------------------------------------------------------------

DOT_CASES = {
    # name: (lhs shape, rhs shape, dimension_numbers)
    "matmul": ((3, 4), (4, 5), (((1,), (0,)), ((), ()))),
    "x_wT": ((3, 4), (5, 4), (((1,), (1,)), ((), ()))),
    "xT_w": ((4, 3), (4, 5), (((0,), (0,)), ((), ()))),
    "outer": ((3,), (5,), (((), ()), ((), ()))),
    "inner": ((4,), (4,), (((0,), (0,)), ((), ()))),
    "batch_middle": ((3, 2, 4), (4, 2, 5), (((2,), (0,)), ((1,), (1,)))),
    "two_batch_two_contract": ((2, 3, 4, 5, 6), (5, 3, 2, 4, 7),
                               (((2, 3), (3, 0)), ((0, 1), (2, 1)))),
    "batch_only": ((2, 3), (2, 3), (((), ()), ((0, 1), (0, 1)))),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(DOT_CASES))
def test_dot_general_dimension_numbers(name, mode):
  ls, rs, dn = DOT_CASES[name]
  f = lambda x, y: lax.dot_general(x, y, dn)
  check(f, _rand(ls), _rand(rs), mode=mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16,
                                   np.int32, np.uint32, np.int64, np.uint64])
def test_dot_general_integers_wrap_like_jax(dtype, mode):
  x, y = _rand((3, 40), dtype), _rand((40, 2), dtype)  # overflows
  check(jnp.matmul, x, y, mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_dot_general_bool(mode):
  x, y = _rand((3, 4)) > 0.5, _rand((4, 5)) > 0.5
  check(lambda a, b: lax.dot_general(a, b, (((1,), (0,)), ((), ()))),
        x, y, mode=mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("pref", [np.int32, np.float32, np.float64])
def test_dot_general_preferred_from_int8(pref, mode):
  x, y = _rand((3, 50), np.int8), _rand((50, 2), np.int8)
  check(lambda a, b: lax.dot(a, b, preferred_element_type=pref), x, y,
        mode=mode)


@pytest.mark.parametrize("enable_xla", [True, False])
def test_dot_general_polymorphic_batch(enable_xla):
  w = _rand((4, 3))
  f = lambda x: jnp.tanh(x @ w)
  check_poly(f, (_rand((5, 4)),), [tf.TensorSpec([None, 4], tf.float32)],
             ["(b, 4)"], enable_xla=enable_xla,
             other_args=[(_rand((1, 4)),)])


def test_dot_general_polymorphic_batched_attention():
  """Symbolic dims in batch, free and contracting positions at once."""
  f = lambda q, k: jnp.einsum("bqhd,bkhd->bhqk", q, k)
  check_poly(f, (_rand((2, 3, 2, 8)), _rand((2, 5, 2, 8))),
             [tf.TensorSpec([None, None, 2, 8], tf.float32),
              tf.TensorSpec([None, None, 2, 8], tf.float32)],
             ["(b, q, 2, 8)", "(b, k, 2, 8)"],
             other_args=[(_rand((1, 7, 2, 8)), _rand((1, 2, 2, 8)))])


def test_dot_general_poly_contracting_dim():
  f = lambda x, y: x @ y
  check_poly(f, (_rand((3, 6)), _rand((6, 2))),
             [tf.TensorSpec([3, None], tf.float32),
              tf.TensorSpec([None, 2], tf.float32)],
             ["(3, n)", "(n, 2)"])


# --- conv_general_dilated --------------------------------------------------

def _conv(**kw):
  def f(x, w):
    return lax.conv_general_dilated(x, w, **kw)
  return f


CONV_CASES = {
    # name: (lhs shape, rhs shape, conv kwargs)
    "nhwc_same": ((2, 9, 10, 3), (3, 3, 3, 4), dict(
        window_strides=(1, 1), padding="SAME",
        dimension_numbers=("NHWC", "HWIO", "NHWC"))),
    "nhwc_same_stride2": ((2, 9, 10, 3), (3, 3, 3, 4), dict(
        window_strides=(2, 2), padding="SAME",
        dimension_numbers=("NHWC", "HWIO", "NHWC"))),
    "negative_padding_1d": ((2, 3, 12), (4, 3, 3), dict(
        window_strides=(2,), padding=[(-2, 3)], lhs_dilation=(2,))),
    "transposed_1d_stride_dil": ((2, 3, 12), (4, 3, 3), dict(
        window_strides=(2,), padding=[(1, 2)], lhs_dilation=(3,),
        rhs_dilation=(2,))),
    "depthwise_2d": ((2, 8, 8, 4), (3, 3, 1, 8), dict(
        window_strides=(2, 2), padding=[(1, 1), (0, 1)],
        dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=4)),
    "grouped_2d_strided_dilated": ((2, 6, 11, 9), (6, 3, 2, 3), dict(
        window_strides=(2, 1), padding=[(1, 0), (2, 2)],
        rhs_dilation=(2, 3), feature_group_count=2)),
    "grouped_3d_dilated": ((1, 4, 6, 7, 8), (6, 2, 2, 3, 2), dict(
        window_strides=(1, 2, 1), padding=[(0, 1), (1, 1), (-1, 0)],
        rhs_dilation=(2, 1, 2), feature_group_count=2,
        dimension_numbers=("NCDHW", "OIDHW", "NCDHW"))),
    "same_3d": ((1, 5, 6, 7, 2), (3, 3, 3, 2, 4), dict(
        window_strides=(2, 1, 2), padding="SAME",
        dimension_numbers=("NDHWC", "DHWIO", "NDHWC"))),
    "batch_groups": ((6, 4, 7), (9, 4, 3), dict(
        window_strides=(1,), padding=[(1, 1)], batch_group_count=3)),
    "odd_layouts": ((5, 2, 6, 2), (3, 3, 2, 2), dict(
        window_strides=(1, 2), padding=[(0, 0), (1, 1)],
        dimension_numbers=("HNWC", "OHWI", "WCNH"))),
    "kernel_bigger_than_input": ((1, 2, 3), (2, 2, 5), dict(
        window_strides=(1,), padding=[(0, 0)])),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(CONV_CASES))
def test_conv_cases(name, mode):
  ls, rs, kw = CONV_CASES[name]
  check(_conv(**kw), _rand(ls), _rand(rs), mode=mode, tol=1e-4,
        enable_xla=False)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.int32,
                                   np.uint32, np.int64, np.uint64])
def test_conv_integers_wrap_like_jax(dtype, mode):
  f = _conv(window_strides=(1, 2), padding=[(1, 1), (0, 2)],
            rhs_dilation=(1, 2), feature_group_count=2)
  check(f, _rand((2, 4, 6, 7), dtype), _rand((4, 2, 3, 2), dtype), mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_conv_complex_grouped(mode):
  f = _conv(window_strides=(1,), padding=[(2, 1)], lhs_dilation=(2,),
            feature_group_count=2)
  check(f, _rand((2, 4, 6), np.complex64), _rand((4, 2, 3), np.complex64),
        mode=mode, tol=1e-4)


@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_conv_bfloat16_preferred_f32(mode):
  f = lambda x, w: lax.conv_general_dilated(
      x, w, (1, 1), "SAME", preferred_element_type=jnp.float32)
  x = _rand((1, 2, 6, 6)).astype(jnp.bfloat16)
  w = _rand((3, 2, 3, 3)).astype(jnp.bfloat16)
  check(f, x, w, mode=mode, tol=1e-5)


@pytest.mark.parametrize("enable_xla", [True, False])
def test_conv_polymorphic_batch_cnn(enable_xla):
  w1, w2 = _rand((3, 3, 3, 8)), _rand((3, 3, 1, 8))
  def f(x):
    y = lax.conv_general_dilated(x, w1, (2, 2), "SAME",
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
    y = jax.nn.relu(y)
    return lax.conv_general_dilated(y, w2, (1, 1), [(1, 1), (1, 1)],
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                    feature_group_count=8)
  check_poly(f, (_rand((2, 10, 10, 3)),),
             [tf.TensorSpec([None, 10, 10, 3], tf.float32)],
             ["(b, 10, 10, 3)"], tol=1e-4, enable_xla=enable_xla,
             other_args=[(_rand((1, 10, 10, 3)),)])


def test_conv_polymorphic_batch_nchw_transposed_3d_and_batch_groups():
  w3 = _rand((4, 2, 2, 2, 2))
  wb = _rand((4, 3, 3))
  def f(x, z):
    a = lax.conv_general_dilated(x, w3, (1, 1, 1), [(1, 0), (0, 1), (1, 1)],
                                 lhs_dilation=(2, 1, 2), rhs_dilation=(1, 2, 1))
    b = lax.conv_general_dilated(z, wb, (1,), [(0, 0)], batch_group_count=2)
    return a, b
  check_poly(f, (_rand((2, 2, 4, 5, 4)), _rand((4, 3, 6))),
             [tf.TensorSpec([None, 2, 4, 5, 4], tf.float32),
              tf.TensorSpec([None, 3, 6], tf.float32)],
             ["(b, 2, 4, 5, 4)", "(2*c, 3, 6)"], tol=1e-4,
             other_args=[(_rand((1, 2, 4, 5, 4)), _rand((6, 3, 6)))])


def test_conv_polymorphic_integer():
  w = _rand((2, 3, 3), np.int32)
  f = lambda x: lax.conv_general_dilated(x, w, (2,), [(1, 1)])
  check_poly(f, (_rand((3, 3, 9), np.int32),),
             [tf.TensorSpec([None, 3, 9], tf.int32)], ["(b, 3, 9)"])


# --- fft --------------------------------------------------------------------

FFTS = {
    "fft": (jnp.fft.fft, np.complex64),
    "ifft2": (jnp.fft.ifft2, np.complex128),
    "rfftn3": (lambda x: jnp.fft.rfftn(x, axes=(-3, -2, -1)), np.float32),
    "irfft2_non_hermitian": (lambda x: jnp.fft.irfft2(x, s=(4, 10)),
                             np.complex64),
    "irfftn3_f64": (lambda x: jnp.fft.irfftn(x, s=(3, 4, 9),
                                             axes=(-3, -2, -1)),
                    np.complex128),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(FFTS))
def test_fft(name, mode):
  f, dtype = FFTS[name]
  check(f, _rand((2, 3, 4, 6), dtype), mode=mode, tol=1e-4, enable_xla=False)


def test_fft_polymorphic_batch():
  f = lambda x: jnp.fft.irfft(jnp.fft.rfft(x) * 2.0, n=8)
  check_poly(f, (_rand((3, 8)),), [tf.TensorSpec([None, 8], tf.float32)],
             ["(b, 8)"], other_args=[(_rand((1, 8)),)])


def test_conv_symbolic_spatial_dims():
  """Symbolic image sizes: JAX's "SAME" pads become dim expressions; a
  transposed conv's pads too; 3-D grouped/dilated and integer convs."""
  w2 = _rand((3, 3, 4, 6))
  w3 = _rand((2, 3, 2, 2, 4))
  wt = _rand((3, 3, 4, 2))
  wi = _rand((2, 3, 3), np.int32)
  def f(x, v, z):
    a = lax.conv_general_dilated(x, w2, (2, 2), "SAME",
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
    t = lax.conv_transpose(x, wt, (2, 2), "SAME",
                           dimension_numbers=("NHWC", "HWIO", "NHWC"))
    b = lax.conv_general_dilated(v, w3, (1, 2, 1), "SAME",
                                 rhs_dilation=(2, 1, 1), feature_group_count=2,
                                 dimension_numbers=("NDHWC", "DHWIO", "NDHWC"))
    c = lax.conv_general_dilated(z, wi, (2,), "SAME")
    return a, t, b, c
  check_poly(
      f, (_rand((2, 9, 8, 4)), _rand((1, 5, 6, 7, 4)),
          _rand((2, 3, 11), np.int32)),
      [tf.TensorSpec([None, None, None, 4], tf.float32),
       tf.TensorSpec([1, None, 6, None, 4], tf.float32),
       tf.TensorSpec([2, 3, None], tf.int32)],
      ["(b, h, w, 4)", "(1, d, 6, e, 4)", "(2, 3, n)"], tol=1e-4,
      other_args=[(_rand((1, 6, 11, 4)), _rand((1, 3, 6, 2, 4)),
                   _rand((2, 3, 4), np.int32))])


def test_conv_same_padding_uses_tf_same():
  """A "SAME" conv maps to one Conv2D with TF's SAME padding, no Pad op."""
  w = _rand((3, 3, 4, 6))
  f = lambda x: lax.conv_general_dilated(
      x, w, (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
  conv = jax2tf_impl.convert(f, polymorphic_shapes=["(b, h, w, 4)"],
                             enable_xla=False)
  conc = tf.function(conv, autograph=False).get_concrete_function(
      tf.TensorSpec([None, None, None, 4], tf.float32))
  types = concrete_op_types(conc)
  assert "Conv2D" in types and "Pad" not in types and "PadV2" not in types


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["grouped_2d_strided_dilated",
                                  "grouped_3d_dilated", "depthwise_2d",
                                  "transposed_1d_stride_dil", "batch_groups"])
def test_conv_gradients(name, mode):
  """JAX's conv VJPs are convs with lhs dilation, batch groups, flipped
  kernels: convert the gradient function itself."""
  ls, rs, kw = CONV_CASES[name]
  conv = _conv(**kw)
  grad = jax.grad(lambda x, w: jnp.sum(jnp.sin(conv(x, w))), argnums=(0, 1))
  check(grad, _rand(ls), _rand(rs), mode=mode, tol=1e-4, enable_xla=False)


@pytest.mark.parametrize("mode", MODES)
def test_dot_general_gradients(mode):
  ls, rs, dn = DOT_CASES["two_batch_two_contract"]
  grad = jax.grad(lambda x, y: jnp.sum(jnp.sin(lax.dot_general(x, y, dn))),
                  argnums=(0, 1))
  check(grad, _rand(ls), _rand(rs), mode=mode, tol=1e-4, enable_xla=False)


def test_conv_gradient_with_polymorphic_batch_matches_jax():
  """The kernel gradient is a conv whose kernel has the symbolic batch as
  its input-feature size."""
  rng = np.random.RandomState(0)
  w = rng.randn(3, 3, 2, 4).astype(np.float32)

  def loss(w, x):
    y = jax.lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return jnp.sum(jnp.tanh(y) ** 2)

  conv = jax2tf_impl.convert(loss, polymorphic_shapes=[None, "(b, 8, 8, 2)"])
  wv = tf.Variable(w)

  @tf.function(autograph=False, input_signature=[
      tf.TensorSpec([None, 8, 8, 2], tf.float32)])
  def grad(x):
    with tf.GradientTape() as tape:
      value = conv(wv, x)
    return tape.gradient(value, wv)

  for b in (1, 3):
    x = rng.randn(b, 8, 8, 2).astype(np.float32)
    np.testing.assert_allclose(grad(x), jax.grad(loss)(w, x), rtol=1e-4, atol=1e-4)
