"""Compare a converted function with `jax.jit` of the same function, in the
four execution modes (eager, tf.function, jit_compile, enable_xla=False),
at JAX's own tolerances (`jax._src.public_test_util`); integers and bools
exactly."""
import jax
import numpy as np
import tensorflow as tf
from jax._src import public_test_util

import jax2tf_impl
from support.tf_testing import run_in_mode

MODES4 = ["eager", "graph", "jit", "noxla"]


def tolerance(dtype) -> float:
  return public_test_util.tolerance(np.dtype(dtype))


def _to_np(x):
  return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def run_converted(f, mode, *args, **convert_kwargs):
  """The converted `f` run in `mode` on `args` (numpy values)."""
  converted = jax2tf_impl.convert(f, enable_xla=(mode != "noxla"),
                                  **convert_kwargs)
  tf_mode = "graph" if mode == "noxla" else mode
  return run_in_mode(converted, tf_mode, *args)


def assert_matches_jit(f, mode, *args, tol=None, **convert_kwargs):
  """Converted `f` in `mode` equals `jax.jit(f)` on `args`, leaf by leaf."""
  expected = jax.jit(f)(*args)
  got = run_converted(f, mode, *args, **convert_kwargs)
  e_leaves, e_tree = jax.tree_util.tree_flatten(expected)
  g_leaves = tf.nest.flatten(got)
  assert len(e_leaves) == len(g_leaves), (e_tree, got)
  for e, g in zip(e_leaves, g_leaves):
    e, g = np.asarray(e), _to_np(g)
    assert e.dtype == g.dtype, (e.dtype, g.dtype)
    assert e.shape == g.shape, (e.shape, g.shape)
    if np.issubdtype(e.dtype, np.inexact):
      t = tolerance(e.dtype) if tol is None else tol
      np.testing.assert_allclose(g, e, rtol=t, atol=t, equal_nan=True)
    else:
      np.testing.assert_array_equal(g, e)
  return expected, got
