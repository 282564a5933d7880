"""Structural and identity-like primitives: symbolic shapes, edge cases, no-XLA.

Every test compares with JAX's own output on the same inputs.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf
from jax import lax
from jax._src.lax import lax as lax_internal
from jax._src.lax import slicing

import jax2tf_impl
from support.tf_testing import run_in_mode as _run, graph_op_types as _graph_op_types

MODES = ["eager", "graph", "jit"]


def _assert_same(expected, got):
  e_leaves, e_tree = jax.tree_util.tree_flatten(expected)
  g_leaves = tf.nest.flatten(got)
  assert len(e_leaves) == len(g_leaves), (e_tree, got)
  for e, g in zip(e_leaves, g_leaves):
    e, g = np.asarray(e), np.asarray(g)
    assert e.dtype == g.dtype, (e.dtype, g.dtype)
    assert e.shape == g.shape, (e.shape, g.shape)
    np.testing.assert_array_equal(g, e)


def check(f, *args, mode="eager", enable_xla=True):
  expected = f(*args)
  converted = jax2tf_impl.convert(f, enable_xla=enable_xla)
  _assert_same(expected, _run(converted, mode, *args))


# --- polymorphic batch dimension --------------------------------------------

def _sym_b(x):
  return x.shape[0]


POLY_FUNCS = {
    "reshape_flat": lambda x: x.reshape(-1),
    "reshape_split": lambda x: x.reshape(_sym_b(x) * 2, 2),
    "reshape_dimensions": lambda x: lax.reshape(x, (4, _sym_b(x)),
                                                dimensions=(1, 0)),
    "broadcast_new_axis": lambda x: jnp.broadcast_to(
        x[:, None, :], (_sym_b(x), 3, 4)),
    "broadcast_scalar": lambda x: jnp.full_like(x, 2.0) + jnp.sum(x),
    "dim_as_value": lambda x: x * x.shape[0],
    "transpose": lambda x: x.T,
    "squeeze": lambda x: lax.squeeze(x[:, None, :, None], (1, 3)),
    # lax.slice directly: jnp indexing with symbolic dims emits gather.
    "slice_start": lambda x: lax.slice(x, (1, 0), (x.shape[0], 4), (1, 2)),
    "slice_limit": lambda x: lax.slice(x, (0, 1), (x.shape[0] - 1, 3)),
    "slice_strided": lambda x: lax.slice(x, (0, 0), x.shape, (2, 3)),
    "concatenate": lambda x: jnp.concatenate(
        [x, 2 * x, lax.slice_in_dim(x, 0, 1)], axis=0),
    "pad_edges": lambda x: lax.pad(x, np.float32(-1), [(2, -1, 0), (-1, 3, 0)]),
    "pad_interior": lambda x: lax.pad(x, np.float32(7), [(1, -2, 2), (0, 0, 1)]),
    "rev": lambda x: lax.rev(x, (0, 1)),
    "iota_batch": lambda x: x + jnp.arange(x.shape[0], dtype=np.float32)[:, None],
    "broadcasted_iota": lambda x: lax.broadcasted_iota(
        np.int32, (x.shape[0], 4), 0) * 3 + lax.broadcasted_iota(
            np.int32, (x.shape[0], 4), 1),
    "split": lambda x: jnp.split(x, [1], axis=0),
    "tile": lambda x: jnp.tile(x, (2, 3)),
    "stack": lambda x: jnp.stack([x, -x], axis=1),
    "unstack": lambda x: lax.unstack(x, axis=1),
    "dynamic_slice_full_batch": lambda x: lax.dynamic_slice(
        x, (0, 3), (x.shape[0], 2)),
    "dynamic_update_slice_clamped": lambda x: lax.dynamic_update_slice(
        x, jnp.ones((1, 2), x.dtype), (100, 1)),
    "dynamic_update_slice_batch": lambda x: lax.dynamic_update_slice(
        x, -lax.slice_in_dim(x, 0, 2, axis=1), (0, 7)),
}


@pytest.mark.parametrize("enable_xla", [True, False])
@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("name", sorted(POLY_FUNCS))
def test_polymorphic_batch(name, jit_compile, enable_xla):
  f = POLY_FUNCS[name]
  converted = jax2tf_impl.convert(f, polymorphic_shapes=["(b, 4)"],
                                  enable_xla=enable_xla)
  tf_fn = tf.function(converted, autograph=False, jit_compile=jit_compile,
                      input_signature=[tf.TensorSpec([None, 4], tf.float32)])
  for batch in (3, 6):
    x = np.arange(batch * 4, dtype=np.float32).reshape(batch, 4)
    _assert_same(f(x), tf_fn(tf.constant(x)))


@pytest.mark.parametrize("name", sorted(POLY_FUNCS))
def test_no_xla_ops_under_enable_xla_false(name):
  converted = jax2tf_impl.convert(POLY_FUNCS[name],
                                  polymorphic_shapes=["(b, 4)"],
                                  enable_xla=False)
  types = _graph_op_types(converted, tf.TensorSpec([None, 4], tf.float32))
  assert not [t for t in types if t.startswith("Xla")], types


def test_static_shapes_stay_static():
  """With static shapes the graph has no Shape ops (principle 3)."""
  def f(x):
    y = jnp.pad(x, ((1, 2), (0, 2)))
    y = lax.dynamic_update_slice(y, x, (1, 0))
    return jnp.tile(y.reshape(-1, 2)[::2], (1, 2))
  converted = jax2tf_impl.convert(f)
  types = _graph_op_types(converted, tf.TensorSpec([2, 4], tf.float32))
  assert "Shape" not in types, types
  check(f, np.arange(8, dtype=np.float32).reshape(2, 4), mode="graph")


# --- dynamic_slice / dynamic_update_slice: clamping, index dtypes -----------

INDEX_CASES = [
    (np.int8, [-3, 0, 2, 100]),
    (np.int16, [-1, 3]),
    (np.int32, [-2**31, -1, 1, 4, 2**31 - 1]),
    (np.int64, [-2**63, -5, 2, 2**40]),
    (np.uint8, [0, 2, 255]),
    (np.uint16, [1, 65535]),
    (np.uint32, [0, 3, 2**31 + 5, 2**32 - 1]),
    (np.uint64, [0, 1, 2**63 + 7, 2**64 - 1]),
]


def _index_params():
  for dtype, values in INDEX_CASES:
    for v in values:
      yield pytest.param(dtype, v, id=f"{np.dtype(dtype).name}_{v}")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype,value", list(_index_params()))
def test_dynamic_slice_clamps_like_jax(mode, dtype, value):
  x = np.arange(30, dtype=np.float32).reshape(5, 6)

  def f(x, i):
    # The primitive itself (no negative-index wrapping by lax.dynamic_slice).
    return slicing.dynamic_slice_p.bind(x, i, np.ones((), dtype),
                                        slice_sizes=(2, 3))

  check(f, x, np.array(value, dtype), mode=mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype,value", list(_index_params()))
def test_dynamic_update_slice_clamps_like_jax(mode, dtype, value):
  x = np.arange(30, dtype=np.int32).reshape(5, 6)
  upd = -np.arange(6, dtype=np.int32).reshape(2, 3)

  def f(x, u, i):
    return slicing.dynamic_update_slice_p.bind(x, u, np.full((), 2, dtype), i)

  check(f, x, upd, np.array(value, dtype), mode=mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("start", [-7, -1, 0, 3, 9])
def test_dynamic_slice_negative_indices_wrap_in_lax(mode, start):
  """lax.dynamic_slice wraps negatives first, then the primitive clamps."""
  x = np.arange(8, dtype=np.float64)
  check(lambda x, i: lax.dynamic_slice(x, (i,), (3,)), x, np.int32(start),
        mode=mode)
  check(lambda x, i: lax.dynamic_update_slice(x, jnp.full((3,), -1.0), (i,)),
        x, np.int32(start), mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_dynamic_slices_with_loop_indices(mode):
  """Starts computed inside a loop are not compile-time constants in jit."""
  cache = np.zeros((2, 6, 3, 4), np.float32)
  rows = np.arange(2 * 6 * 3 * 4, dtype=np.float32).reshape(2, 6, 3, 4)

  def f(cache, rows):
    def body(i, c):
      row = lax.dynamic_slice_in_dim(rows, i, 1, axis=1)
      c = lax.dynamic_update_slice(c, row * 2, (0, i, 0, 0))
      return lax.dynamic_update_slice(c, -row[:, :, :1, :2], (1, i, 2, i))
    return lax.fori_loop(0, 6, body, cache)
  check(f, cache, rows, mode=mode, enable_xla=False)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.bool_, np.uint16, np.uint64, np.complex64,
                                   jnp.bfloat16])
def test_dynamic_update_slice_dtypes(mode, dtype):
  x = np.zeros((3, 4), dtype)
  u = np.ones((2, 2), dtype)
  check(lambda x, u, i: lax.dynamic_update_slice(x, u, (i, np.int32(3))), x, u,
        np.int32(1), mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_dynamic_update_slice_empty_update(mode):
  x = np.arange(6, dtype=np.float32).reshape(2, 3)
  check(lambda x, i: lax.dynamic_update_slice(x, jnp.zeros((0, 2), x.dtype), (i, i)),
        x, np.int32(1), mode=mode)


# --- pad --------------------------------------------------------------------

PAD_CONFIGS = [
    [(0, 0, 0), (0, 0, 0)],
    [(-2, -1, 0), (1, -3, 0)],
    [(-4, 1, 0), (0, 0, 0)],          # crops the whole dim, then pads
    [(1, 2, 3), (-1, -1, 2)],
    [(-3, -2, 1), (2, 2, 0)],          # crops into the interior padding
    [(0, 0, 5), (0, 0, 0)],
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("config", PAD_CONFIGS, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.bool_, np.uint32, np.int8,
                                   np.complex128, jnp.bfloat16])
def test_pad_like_jax(mode, config, dtype):
  x = (np.arange(12) % 3).astype(dtype).reshape(3, 4)
  value = np.array(1 if dtype != np.bool_ else True, dtype)
  check(lambda x, v: lax.pad(x, v, config), x, value, mode=mode,
        enable_xla=False)


@pytest.mark.parametrize("mode", MODES)
def test_pad_interior_of_empty_and_single(mode):
  check(lambda x: lax.pad(x, np.float32(3), [(1, 1, 4), (0, 2, 3)]),
        np.zeros((0, 1), np.float32), mode=mode)


# --- iota ---------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.uint16, np.uint32,
                                   np.uint64, np.int64, np.float16,
                                   jnp.bfloat16, np.float64, np.complex64,
                                   np.complex128])
def test_iota_dtypes(mode, dtype):
  def f():
    return (lax.iota(dtype, 300),
            lax.broadcasted_iota(dtype, (2, 5, 3), 1))
  check(f, mode=mode)


# --- split / tile / stack / unstack -------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.uint16, np.bool_, np.complex64])
def test_split_tile_stack_unstack(mode, dtype):
  x = (np.arange(24) % 5).astype(dtype).reshape(4, 6)

  def f(x):
    return (lax.split(x, (1, 0, 5), axis=1), lax.tile(x, (2, 1)),
            lax.stack([x, x, x], axis=2), lax.unstack(x, axis=0),
            jnp.squeeze(x[None]), lax.rev(x, (0,)))
  check(f, x, mode=mode)


# --- identity-like primitives ---------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_identity_like_primitives(mode):
  from jax.ad_checkpoint import checkpoint_name
  from jax.experimental.layout import Layout, with_layout_constraint
  from jax.sharding import NamedSharding, PartitionSpec as P
  mesh = jax.make_mesh((1,), ("x",),
                       axis_types=(jax.sharding.AxisType.Auto,))
  x = np.arange(6, dtype=np.float32).reshape(2, 3)
  y = np.arange(3, dtype=np.int32)

  def f(x, y):
    a, b = jax.device_put((x * 2, y + 1))
    c, d = lax.optimization_barrier((a, b))
    e = checkpoint_name(c, "e")
    g = lax.with_sharding_constraint(e, NamedSharding(mesh, P("x")))
    h = with_layout_constraint(g, Layout((0, 1)))
    k = lax_internal.tie_p.bind(d, h)
    return k, d, jnp.array(k, copy=True)
  check(f, x, y, mode=mode, enable_xla=False)
  jaxpr = str(jax.make_jaxpr(f)(x, y))
  for name in ("device_put", "optimization_barrier", "name[", "tie",
               "sharding_constraint", "layout_constraint"):
    assert name in jaxpr, name


@pytest.mark.parametrize("mode", MODES)
def test_reshard(mode):
  from jax.sharding import PartitionSpec as P
  mesh = jax.make_mesh((1,), ("x",),
                       axis_types=(jax.sharding.AxisType.Explicit,))
  x = np.arange(6, dtype=np.float32).reshape(2, 3)
  with jax.set_mesh(mesh):
    f = lambda x: jax.sharding.reshard(x * 3, P("x"))
    assert "reshard" in str(jax.make_jaxpr(f)(x))
    converted = jax2tf_impl.convert(f)
    got = _run(converted, mode, x)
  _assert_same(np.asarray(x) * 3, got)
