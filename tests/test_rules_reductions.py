"""Reductions, cumulative and windowed reductions: what the harnesses miss.

reduce_xor, bitwise reduce_and/or on integers, NaN propagation under XLA,
generic `reduce`/`reduce_window` bodies that are not a known monoid,
symbolic (polymorphic) dims, enable_xla=False (no Xla* op in the graph),
and gradients through pooling (select_and_scatter_add). Every check
compares with JAX's own output on the same inputs.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf
from jax import lax
from jax._src.lax import lax as lax_internal

import jax2tf_impl
from support.tf_testing import compare_nested as _compare, run_in_mode as _run

MODES = ["eager", "graph", "jit"]
RNG = np.random.RandomState(0)


def _op_types(conc):
  types = {op.type for op in conc.graph.get_operations()}
  for fdef in conc.graph.as_graph_def().library.function:
    types |= {n.op for n in fdef.node_def}
  return types


def check(f, *args, mode="eager", tol=1e-5, enable_xla=True):
  expected = jax.jit(f)(*args)
  converted = jax2tf_impl.convert(f, enable_xla=enable_xla)
  got = _run(converted, mode, *args)
  _compare(expected, got, tol)
  if not enable_xla:
    specs = [tf.TensorSpec(np.shape(a), tf.as_dtype(np.asarray(a).dtype))
             for a in args]
    conc = tf.function(converted, autograph=False).get_concrete_function(*specs)
    assert not [t for t in _op_types(conc) if t.startswith("Xla")]


def check_poly(f, args, specs, poly_shapes, other_args=(), tol=1e-5,
               enable_xla=False):
  """Converts with polymorphic shapes, traces once with None dims, runs on
  `args` and each of `other_args`."""
  converted = jax2tf_impl.convert(f, polymorphic_shapes=poly_shapes,
                                  enable_xla=enable_xla)
  fn = tf.function(converted, autograph=False, input_signature=specs)
  conc = fn.get_concrete_function()
  if not enable_xla:
    assert not [t for t in _op_types(conc) if t.startswith("Xla")]
  for a in [args, *other_args]:
    _compare(jax.jit(f)(*a), fn(*a), tol)


def _rand(shape, dtype=np.float32):
  if np.issubdtype(dtype, np.integer):
    info = np.iinfo(dtype)
    return RNG.randint(info.min, int(info.max) + 1, size=shape, dtype=dtype)
  if dtype == np.bool_:
    return RNG.rand(*shape) > 0.5
  return RNG.randn(*shape).astype(dtype)


# --- reduce_xor / bitwise reduce_and, reduce_or ----------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint16, np.int32,
                                   np.uint32, np.int64, np.uint64])
@pytest.mark.parametrize("prim", [lax.reduce_xor_p, lax.reduce_and_p,
                                  lax.reduce_or_p], ids=str)
@pytest.mark.parametrize("axes", [(0,), (1,), (0, 2), (0, 1, 2), ()])
def test_logical_reductions(prim, dtype, axes, mode):
  x = _rand((5, 3, 7), dtype)
  check(lambda x: prim.bind(x, axes=axes), x, mode=mode)


@pytest.mark.parametrize("prim", [lax.reduce_xor_p, lax.reduce_and_p,
                                  lax.reduce_or_p], ids=str)
def test_logical_reductions_empty_and_poly(prim):
  x = np.zeros((0, 3), np.int32)
  check(lambda x: prim.bind(x, axes=(0,)), x)
  # Symbolic reduced axis: tree reduction in a tf.while_loop.
  f = lambda x: prim.bind(x, axes=(0,))
  check_poly(f, [_rand((7, 3), np.int32)],
             [tf.TensorSpec([None, 3], tf.int32)], ["(b, 3)"],
             other_args=[[_rand((1, 3), np.int32)], [_rand((16, 3), np.int32)]])


# --- NaN propagation, complex and bool min/max ------------------------------
_NAN_ROWS = np.array([[1., np.nan, 3.], [np.nan, np.nan, -1.], [2., 5., 4.],
                      [-np.inf, np.inf, np.nan]], np.float32)


@pytest.mark.parametrize("mode", MODES)
def test_max_min_nan(mode):
  for f in [lambda x: jnp.max(x, axis=1), lambda x: jnp.min(x, axis=1),
            lambda x: jnp.max(x), lambda x: jnp.argmax(x, axis=1),
            lambda x: jnp.argmin(x, axis=1), lambda x: jnp.argmax(x, axis=0),
            lambda x: lax.cummax(x, axis=1), lambda x: lax.cummin(x, axis=1),
            lambda x: lax.cummax(x, axis=1, reverse=True)]:
    check(f, _NAN_ROWS, mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_complex_max_lexicographic(mode):
  x = np.array([[1 + 2j, 1 + 3j, 0 + 9j], [-1 - 1j, -1 + 0j, -2 + 5j]],
               np.complex64)
  check(lambda x: (lax.reduce_max_p.bind(x, axes=(1,)),
                   lax.reduce_min_p.bind(x, axes=(1,))), x, mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_argmax_ties_and_bool(mode):
  x = np.array([[3, 1, 3, 3], [0, 0, 0, 0], [-5, 7, 7, -5]], np.int32)
  check(lambda x: (jnp.argmax(x, axis=1), jnp.argmin(x, axis=1),
                   jnp.argmax(x > 0, axis=1), jnp.argmin(x > 0, axis=0)),
        x, mode=mode)


# --- generic reduce ---------------------------------------------------------
def _not_a_monoid_sum(a, b):
  return lax.sub(a, lax.neg(b))  # a + b, spelt so no monoid is recognised.


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dims", [(0,), (1,), (0, 1), (0, 2)])
def test_generic_reduce_body(dims, mode):
  x = _rand((5, 4, 3), np.int32) % 100
  check(lambda x: lax.reduce(x, np.int32(7), _not_a_monoid_sum, dims), x,
        mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_generic_variadic_reduce_user_argmax(mode):
  """A user-written (value, index) reducer: the generic path."""
  def reducer(a, b):
    (av, ai), (bv, bi) = a, b
    pick_a = (av > bv) | ((av == bv) & (ai < bi))
    return lax.select(pick_a, av, bv), lax.select(pick_a, ai, bi)

  x = np.array([[3, 9, 9, 1, 9], [2, 2, 2, 2, 2], [0, 1, 2, 3, 4]], np.int32)
  idx = np.broadcast_to(np.arange(5, dtype=np.int32), x.shape)
  f = lambda x, i: lax.reduce((x, i), (np.int32(-100), np.int32(0)), reducer,
                              (1,))
  check(f, x, idx, mode=mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("greater", [True, False])
def test_variadic_reduce_jax_argminmax_reducer(greater, mode):
  cmp = lax.gt if greater else lax.lt
  reducer = lax_internal._ArgMinMaxReducer(cmp)
  init = np.float32(-np.inf if greater else np.inf)
  x = np.array([[1., np.nan, 3., np.nan], [2., 2., -1., -1.]], np.float32)
  idx = np.broadcast_to(np.arange(4, dtype=np.int32), x.shape)
  f = lambda x, i: lax.reduce((x, i), (init, np.int32(0)), reducer, (1,))
  check(f, x, idx, mode=mode)


def test_monoid_reduce_poly_batch():
  f = lambda x: (lax.reduce(x, np.float32(1), lax.add, (1,)),
                 jnp.argmax(x, axis=1).astype(np.int32), jnp.max(x, axis=0))
  check_poly(f, [_rand((3, 4))], [tf.TensorSpec([None, 4], tf.float32)],
             ["(b, 4)"], other_args=[[_rand((9, 4))]])


# --- cumulative -------------------------------------------------------------
@pytest.mark.parametrize("fn", [lax.cumsum, lax.cumprod, lax.cummax,
                                lax.cummin, lax.cumlogsumexp],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("reverse", [False, True])
def test_cumulative_poly_axis(fn, reverse):
  """The scanned axis itself is symbolic (tf.while_loop scan for max/min)."""
  f = lambda x: fn(x, axis=0, reverse=reverse)
  check_poly(f, [_rand((5, 3))], [tf.TensorSpec([None, 3], tf.float32)],
             ["(b, 3)"], other_args=[[_rand((1, 3))], [_rand((17, 3))]])


@pytest.mark.parametrize("mode", MODES)
def test_cumulative_wraparound(mode):
  x = np.array([[200, 100, 50, 7]], np.uint8)
  check(lambda x: (lax.cumsum(x, 1), lax.cumprod(x, 1)), x, mode=mode)


# --- windows ----------------------------------------------------------------
def _pool(kind, window, strides, padding, base_dilation=None,
          window_dilation=None):
  init, op = {"max": (-np.inf, lax.max), "min": (np.inf, lax.min),
              "sum": (0., lax.add), "mul": (1., lax.mul)}[kind]
  init = np.float32(init)
  return lambda x: lax.reduce_window(x, init, op, window, strides, padding,
                                     base_dilation, window_dilation)


_WINDOW_CASES = {
    "nhwc_max_same": ("max", (1, 3, 3, 1), (1, 2, 2, 1), "SAME", None, None),
    "nhwc_sum_valid": ("sum", (1, 2, 2, 1), (1, 2, 2, 1), "VALID", None, None),
    "min_pad_dil": ("min", (1, 2, 3, 1), (1, 1, 2, 1),
                    ((0, 0), (1, 2), (2, 0), (0, 0)), (1, 2, 1, 1),
                    (1, 1, 2, 1)),
    "mul_generic_pad": ("mul", (1, 2, 3, 1), (1, 2, 1, 1),
                        ((0, 0), (1, 1), (0, 2), (0, 0)), None, None),
    "mul_generic": ("mul", (1, 2, 2, 1), (1, 1, 1, 1), "SAME", None, None),
    "neg_padding": ("sum", (1, 2, 2, 1), (1, 1, 1, 1),
                    ((0, 0), (-1, 1), (1, -2), (0, 0)), None, None),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", sorted(_WINDOW_CASES))
def test_reduce_window_no_xla(case, mode):
  x = _rand((2, 7, 8, 3))
  check(_pool(*_WINDOW_CASES[case]), x, mode=mode, enable_xla=False)


@pytest.mark.parametrize("case", sorted(_WINDOW_CASES))
def test_reduce_window_poly_batch(case):
  f = _pool(*_WINDOW_CASES[case])
  check_poly(f, [_rand((2, 7, 8, 3))],
             [tf.TensorSpec([None, 7, 8, 3], tf.float32)], ["(b, 7, 8, 3)"],
             other_args=[[_rand((5, 7, 8, 3))]])


@pytest.mark.parametrize("mode", MODES)
def test_reduce_window_generic_body_no_xla(mode):
  def body(a, b):
    return lax.sub(a, lax.neg(b))  # an add that is not recognised as one.
  x = (_rand((6, 5), np.int32) % 50)
  f = lambda x: lax.reduce_window(x, np.int32(3), body, (2, 3), (1, 2),
                                  ((1, 0), (0, 1)))
  check(f, x, mode=mode, enable_xla=False)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["max", "min"])
def test_pooling_gradients_no_xla(kind, mode):
  """JVP -> select_and_gather_add, VJP -> select_and_scatter_add."""
  pool = _pool(kind, (1, 3, 3, 1), (1, 2, 2, 1), "SAME")
  x = _rand((2, 7, 8, 3))
  check(jax.grad(lambda x: jnp.sum(pool(x) ** 2)), x, mode=mode,
        enable_xla=False)
  check(lambda x, t: jax.jvp(pool, (x,), (t,))[1], x, _rand((2, 7, 8, 3)),
        mode=mode, enable_xla=False)


def test_pooling_gradient_poly_batch():
  pool = _pool("max", (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
  f = jax.grad(lambda x: jnp.sum(pool(x) * 3.))
  check_poly(f, [_rand((2, 6, 6, 2))],
             [tf.TensorSpec([None, 6, 6, 2], tf.float32)], ["(b, 6, 6, 2)"],
             other_args=[[_rand((3, 6, 6, 2))]])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op,init", [(lax.add, 1.), (lax.max, 0.5),
                                     (lax.min, -0.5), (lax.mul, 2.)],
                         ids=["add", "max", "min", "mul"])
def test_reduce_window_init_not_identity_with_padding(op, init, mode):
  """XLA skips padding and dilation holes; the init value counts once."""
  x = _rand((5, 6))
  f = lambda x: lax.reduce_window(x, np.float32(init), op, (2, 3), (1, 2),
                                  ((1, 2), (0, 1)), (2, 1), (1, 2))
  check(f, x, mode=mode, enable_xla=False)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["max", "min"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pooling_fast_path_nan(kind, dtype, mode):
  """tf.nn.max_pool drops NaN; JAX's reduce_window_max/min propagate it."""
  x = _rand((2, 6, 7, 3), dtype)
  x[0, 1, 2, 0] = np.nan
  x[1, 5, 6, 2] = np.nan
  init = np.array(-np.inf if kind == "max" else np.inf, dtype)
  op = lax.max if kind == "max" else lax.min
  f = lambda x: lax.reduce_window(x, init, op, (1, 3, 2, 1), (1, 2, 2, 1),
                                  "SAME")
  check(f, x, mode=mode, enable_xla=False)


def test_generic_reduce_poly_batch():
  """A body that is no monoid, with a symbolic kept (batch) dimension."""
  def reducer(a, b):
    (av, ai), (bv, bi) = a, b
    pick_a = (av > bv) | ((av == bv) & (ai < bi))
    return lax.select(pick_a, av, bv), lax.select(pick_a, ai, bi)

  def f(x):
    idx = lax.broadcasted_iota(np.int32, x.shape, 1)
    return lax.reduce((x, idx), (np.float32(-np.inf), np.int32(0)), reducer,
                      (1,))

  check_poly(f, [_rand((3, 5))], [tf.TensorSpec([None, 5], tf.float32)],
             ["(b, 5)"], other_args=[[_rand((1, 5))], [_rand((8, 5))]])
  g = lambda x: lax.reduce(x, np.float32(2), _not_a_monoid_sum, (0, 2))
  check_poly(g, [_rand((3, 4, 2))], [tf.TensorSpec([3, None, 2], tf.float32)],
             ["(3, b, 2)"], other_args=[[_rand((3, 7, 2))]])


def test_reduce_window_generic_body_poly_batch():
  def body(a, b):
    return lax.sub(a, lax.neg(b))  # an add that is not recognised as one.
  f = lambda x: lax.reduce_window(x, np.float32(0.5), body, (1, 2, 3),
                                  (1, 1, 2), ((0, 0), (1, 0), (0, 1)))
  check_poly(f, [_rand((2, 6, 5))], [tf.TensorSpec([None, 6, 5], tf.float32)],
             ["(b, 6, 5)"], other_args=[[_rand((4, 6, 5))]])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("prim", [lax.ge_p, lax.le_p], ids=str)
def test_select_and_scatter_gather_nan_ties_inf(prim, mode):
  """XLA's sequential select: ties, NaN, +-inf, padding and dilation."""
  from jax._src.lax import windowed_reductions as wr
  rs = np.random.RandomState(3)
  op = rs.randint(-2, 2, size=(4, 5)).astype(np.float32)
  op[[0, 2], [1, 4]] = np.nan
  op[3, 0], op[1, 2] = -np.inf, np.inf
  pads = ((1, 0), (1, 1))
  scatter = lambda s, o: wr._select_and_scatter_add(s, o, prim, (2, 3), (1, 2),
                                                    pads)
  src_shape = jax.eval_shape(lambda o: wr._select_and_gather_add(
      o, o, prim, (2, 3), (1, 2), pads, (1, 1), (1, 1)), op).shape
  check(scatter, rs.randn(*src_shape).astype(np.float32), op, mode=mode,
        enable_xla=False)
  gather = lambda t, o: wr._select_and_gather_add(t, o, prim, (2, 3), (1, 2),
                                                  pads, (2, 1), (1, 2))
  check(gather, rs.randn(4, 5).astype(np.float32), op, mode=mode,
        enable_xla=False)
