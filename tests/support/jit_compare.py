"""Compare a converted function with `jax.jit` of the same function, in the
four execution modes (eager, tf.function, jit_compile, enable_xla=False),
at JAX's own tolerances (`jax._src.public_test_util`); integers and bools
exactly; random floats bit for bit where asked (`exact`)."""
from typing import Any

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
  assert_matches_jax(expected, got, tol)
  return expected, got


def assert_matches_jax(expected: Any, got: Any, tol: Any = None,
                       exact: bool = False) -> None:
  """Same leaves, dtypes and shapes; floats within JAX's tolerance (the
  case's `tol` as JAX's own tests pass one), bit for bit when `exact`;
  integers and bools equal."""
  e_leaves, e_tree = jax.tree_util.tree_flatten(expected)
  g_leaves = tf.nest.flatten(got)
  assert len(e_leaves) == len(g_leaves), (e_tree, len(g_leaves))
  for e, g in zip(e_leaves, g_leaves):
    e, g = np.asarray(e), _to_np(g)
    assert e.dtype == g.dtype, (e.dtype, g.dtype)
    assert e.shape == g.shape, (e.shape, g.shape)
    if exact or not np.issubdtype(e.dtype, np.inexact):
      # Bit-exact: NaNs equal, -0.0 != +0.0 through the bit patterns.
      if np.issubdtype(e.dtype, np.inexact):
        e_bits = e.view(f"u{e.dtype.itemsize}") if e.dtype.kind == "f" else e
        g_bits = g.view(f"u{g.dtype.itemsize}") if g.dtype.kind == "f" else g
        mismatch = int(np.sum(e_bits != g_bits))
        if mismatch:
          ulps = np.abs(e.astype(np.float64) - g.astype(np.float64)) / np.spacing(
              np.abs(e)).astype(np.float64)
          raise AssertionError(f"not bit-exact: {mismatch}/{e.size} differ, "
                               f"max {np.nanmax(ulps):.3g} ulp")
      else:
        np.testing.assert_array_equal(g, e)
    else:
      # As JAX's assertAllClose: atol = rtol = tolerance(dtype, tol).
      t = public_test_util.tolerance(e.dtype, tol)
      np.testing.assert_allclose(g, e, atol=t, rtol=t, equal_nan=True)
