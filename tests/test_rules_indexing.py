"""gather and scatter: edge cases the harnesses miss, symbolic shapes, no-XLA.

Every test compares with JAX's own output on the same inputs.
"""
import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf
from jax import lax

import jax2tf_impl
from support.tf_testing import run_in_mode as _run, graph_op_types as _graph_op_types

MODES = ["eager", "graph", "jit"]
GS = lax.GatherScatterMode


def _to_np(x):
  # .numpy(): np.asarray fails on 0-d bfloat16 tensors (TF 2.21, numpy 2.4).
  return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def check(f, *args, mode="eager", enable_xla=True):
  jax_args = [jnp.asarray(a) for a in args]
  expected = [np.asarray(e) for e in jax.tree_util.tree_leaves(f(*jax_args))]
  converted = jax2tf_impl.convert(f, enable_xla=enable_xla)
  got = [_to_np(g) for g in tf.nest.flatten(_run(converted, mode, *args))]
  assert len(expected) == len(got)
  for e, g in zip(expected, got):
    assert e.dtype == g.dtype, (e.dtype, g.dtype)
    assert e.shape == g.shape, (e.shape, g.shape)
    # Bit-level equality, NaNs included; -0.0 and +0.0 differ.
    np.testing.assert_array_equal(np.atleast_1d(g).view(np.uint8),
                                  np.atleast_1d(e).view(np.uint8))


# --- gather ------------------------------------------------------------------

def _take(mode, fill_value=None):
  def f(x, idx):
    dnums = lax.GatherDimensionNumbers(offset_dims=(1,),
                                       collapsed_slice_dims=(0,),
                                       start_index_map=(0,))
    return lax.gather(x, idx[:, None], dnums, slice_sizes=(1, 3), mode=mode,
                      fill_value=fill_value)
  return f


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("gmode", [GS.CLIP, GS.FILL_OR_DROP,
                                   GS.PROMISE_IN_BOUNDS])
@pytest.mark.parametrize("idx", [
    np.array([0, 3, -1, 7, -2**31], np.int32),
    np.array([0, 3, 2**31 + 1, 2**40, -2**62], np.int64),
    np.array([0, 3, 2**31 + 1, 2**32 - 1], np.uint32),
    np.array([0, 3, 2**63 + 5, 2**64 - 1], np.uint64),
    np.array([0, 255, 3], np.uint8),
], ids=lambda a: str(a.dtype))
def test_gather_out_of_bounds_indices(mode, gmode, idx):
  x = np.arange(12, dtype=np.float32).reshape(4, 3)
  check(_take(gmode), x, idx, mode=mode)


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint16, np.float16,
                                   ml_dtypes.bfloat16, np.complex64])
def test_gather_fill_default_values(dtype):
  x = np.ones((4, 3), dtype)
  check(_take(GS.FILL_OR_DROP), x, np.array([1, 9, -1], np.int32))


def test_gather_fill_explicit_value():
  x = np.arange(12, dtype=np.int32).reshape(4, 3)
  check(_take(GS.FILL_OR_DROP, fill_value=-7), x,
        np.array([1, 9, -1], np.int32))


def test_gather_bf16_scalar():
  x = np.arange(10).astype(ml_dtypes.bfloat16)
  check(lambda x, i: x[i], x, np.int32(3))


@pytest.mark.parametrize("mode", MODES)
def test_gather_batching_dims_and_windows(mode):
  def f(x, idx):
    dnums = lax.GatherDimensionNumbers(
        offset_dims=(1,), collapsed_slice_dims=(), start_index_map=(2,),
        operand_batching_dims=(0, 1), start_indices_batching_dims=(1, 0))
    return lax.gather(x, idx, dnums, slice_sizes=(1, 1, 3),
                      mode=GS.FILL_OR_DROP)
  x = np.arange(2 * 3 * 6, dtype=np.float32).reshape(2, 3, 6)
  idx = np.array([[[0], [4]], [[3], [2]], [[5], [-1]]], np.int32)  # (3, 2, 1)
  check(f, x, idx, mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_gather_nd_multi_axis(mode):
  x = np.arange(60, dtype=np.int64).reshape(3, 4, 5)
  idx = np.array([[2, 1], [0, 9], [-3, 3]], np.int32)
  check(lambda x, i: x.at[i[:, 0], :, i[:, 1]].get(mode="clip"), x, idx,
        mode=mode)
  check(lambda x, i: x.at[i[:, 0], :, i[:, 1]].get(mode="fill"), x, idx,
        mode=mode)


# --- scatter -----------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_scatter_duplicates_last_wins(mode):
  x = np.zeros(4, np.float32)
  idx = np.array([1, 1, 1, 2, 1], np.int32)
  upd = np.arange(5, dtype=np.float32) + 1
  check(lambda x, i, u: x.at[i].set(u), x, idx, upd, mode=mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("smode", [GS.FILL_OR_DROP, GS.PROMISE_IN_BOUNDS,
                                   GS.CLIP])
def test_scatter_partly_out_of_bounds_window(mode, smode):
  """A window that would stick out is dropped whole (clamped under CLIP)."""
  def f(x, idx, upd):
    dnums = lax.ScatterDimensionNumbers(update_window_dims=(1,),
                                        inserted_window_dims=(),
                                        scatter_dims_to_operand_dims=(0,))
    return lax.scatter_add(x, idx, upd, dnums, mode=smode)
  x = np.zeros(6, np.int32)
  idx = np.array([[0], [4], [-1], [3], [2**31 - 1]], np.int32)
  upd = np.arange(15, dtype=np.int32).reshape(5, 3) + 1
  check(f, x, idx, upd, mode=mode)


@pytest.mark.parametrize("dtype", [np.uint64, np.uint32, np.int64])
def test_scatter_huge_indices(dtype):
  x = np.zeros(5, np.float32)
  idx = np.array([1, np.iinfo(dtype).max, 3], dtype)
  upd = np.array([1., 2., 3.], np.float32)
  check(lambda x, i, u: x.at[i].add(u, mode="drop"), x, idx, upd)
  check(lambda x, i, u: x.at[i].set(u, mode="clip"), x, idx, upd)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", ["min", "max"])
def test_scatter_minmax_nan_and_signed_zero(mode, op):
  x = np.array([1., np.nan, 3., 0., -0., 5.], np.float32)
  idx = np.array([0, 2, 2, 3, 4, 5, 5], np.int32)
  upd = np.array([np.nan, 1., 5., -0., 0., 5., -np.inf], np.float32)
  check(lambda x, i, u: getattr(x.at[i], op)(u), x, idx, upd, mode=mode)


@pytest.mark.parametrize("op", ["min", "max"])
def test_scatter_minmax_complex_lexicographic(op):
  x = np.array([1 + 5j, 2 + 0j, 0j], np.complex64)
  idx = np.array([0, 0, 1, 2], np.int32)
  upd = np.array([1 + 2j, 1 + 7j, 2 - 1j, -1 + 9j], np.complex64)
  check(lambda x, i, u: getattr(x.at[i], op)(u), x, idx, upd)


# JAX has no bool scatter_add/scatter_mul: those pairs are not cases.
@pytest.mark.parametrize("dtype,op", [
    (d, o) for d in (np.int8, np.uint32, np.float16, np.complex64, np.bool_)
    for o in ("set", "add", "mul", "min", "max")
    if not (d == np.bool_ and o in ("add", "mul"))])
def test_scatter_dtypes_with_duplicates(dtype, op):
  rng = np.random.RandomState(0)
  x = (rng.rand(6) * 4).astype(dtype)
  upd = (rng.rand(5) * 4).astype(dtype)
  idx = np.array([1, 4, 1, 1, 0], np.int32)
  f = lambda x, i, u: getattr(x.at[i], op)(u)
  if op == "mul" and np.dtype(dtype).kind in "fc":
    # Duplicate products are rounded in another order than XLA's.
    expected = np.asarray(f(jnp.asarray(x), jnp.asarray(idx), jnp.asarray(upd)))
    got = jax2tf_impl.convert(f)(x, idx, upd).numpy()
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=2e-3)
    return
  check(f, x, idx, upd)


def test_scatter_apply_custom_update():
  x = np.arange(5, dtype=np.float32)
  idx = np.array([0, 3], np.int32)
  check(lambda x, i: x.at[i].apply(lambda v: v * 10 + 1), x, idx)


def test_scatter_batching_dims():
  def f(x, idx, upd):
    dnums = lax.ScatterDimensionNumbers(
        update_window_dims=(), inserted_window_dims=(1,),
        scatter_dims_to_operand_dims=(1,), operand_batching_dims=(0,),
        scatter_indices_batching_dims=(0,))
    return lax.scatter_add(x, idx, upd, dnums, mode=GS.FILL_OR_DROP)
  x = np.zeros((3, 4), np.float32)
  idx = np.array([[[1], [1], [9]], [[0], [3], [2]], [[-1], [2], [2]]],
                 np.int32)
  upd = np.arange(9, dtype=np.float32).reshape(3, 3)
  check(f, x, idx, upd)


def test_segment_sum():
  data = np.arange(12, dtype=np.float32).reshape(6, 2)
  seg = np.array([0, 0, 2, 1, 2, 7], np.int32)
  check(lambda d, s: jax.ops.segment_sum(d, s, num_segments=4), data, seg)


# --- symbolic shapes and enable_xla=False -------------------------------------

def test_poly_batch_gather_and_scatter():
  def f(x, idx):
    rows = jnp.take(x, idx, axis=0, mode="clip")         # gather rows
    col = x.at[:, idx].get(mode="fill", fill_value=-1.)   # gather columns
    upd = x.at[idx % x.shape[0]].add(1.)                  # scatter rows
    return rows, col, upd

  converted = jax2tf_impl.convert(f, polymorphic_shapes=["(b, 4)", "(k,)"])
  tf_fn = tf.function(converted, autograph=False, input_signature=[
      tf.TensorSpec([None, 4], tf.float32), tf.TensorSpec([None], tf.int32)])
  for b, k in [(3, 5), (7, 2)]:
    x = np.arange(b * 4, dtype=np.float32).reshape(b, 4)
    idx = (np.arange(k, dtype=np.int32) * 3) - 2
    expected = f(jnp.asarray(x), jnp.asarray(idx))
    got = tf_fn(x, idx)
    for e, g in zip(expected, got):
      np.testing.assert_array_equal(g.numpy(), np.asarray(e))


def test_no_xla_ops():
  def f(x, idx, upd):
    a = x.at[idx].set(upd[:, None] * jnp.ones(4))
    b = x.at[idx, 1].min(upd, mode="drop")
    c = x.at[idx].get(mode="fill")
    return a, b, c

  converted = jax2tf_impl.convert(f, enable_xla=False)
  types = _graph_op_types(converted, tf.TensorSpec([5, 4], tf.float32),
                          tf.TensorSpec([3], tf.int32),
                          tf.TensorSpec([3], tf.float32))
  assert not [t for t in types if t.startswith("Xla")], types
  x = np.arange(20, dtype=np.float32).reshape(5, 4)
  check(f, x, np.array([4, 9, 0], np.int32), np.array([1., 2., 3.],
                                                      np.float32),
        enable_xla=False)
