"""Small helpers shared by the unit tests: execution modes and graph inspection."""
import numpy as np
import tensorflow as tf

MODES = ["eager", "graph", "jit"]


def run_in_mode(fn, mode, *args):
  """Calls `fn` eagerly, in tf.function, or in tf.function(jit_compile=True)."""
  if mode == "eager":
    return fn(*args)
  return tf.function(fn, autograph=False, jit_compile=(mode == "jit"))(*args)


def run_converted(fn, mode, *args, enable_xla=True, **convert_kw):
  """Converts the JAX function `fn`, runs it in `mode` on numpy `args`, and
  returns its flat outputs as numpy arrays."""
  import jax2tf_impl  # pylint: disable=g-import-not-at-top
  converted = jax2tf_impl.convert(fn, enable_xla=enable_xla, **convert_kw)
  outs = run_in_mode(converted, mode, *[tf.constant(a) for a in args])
  # .numpy(): np.asarray of a 0-d bfloat16 EagerTensor fails.
  return [o.numpy() if hasattr(o, "numpy") else np.asarray(o)
          for o in tf.nest.flatten(outs)]


def jax_outputs(fn, *args):
  """jax.jit(fn)(*args), flat, as numpy arrays."""
  import jax  # pylint: disable=g-import-not-at-top
  return [np.asarray(o) for o in jax.tree_util.tree_leaves(jax.jit(fn)(*args))]


def concrete_op_types(conc):
  """Every op type in a concrete function's graph, function libraries included."""
  types = {op.type for op in conc.graph.get_operations()}
  for fdef in conc.graph.as_graph_def().library.function:
    types |= {n.op for n in fdef.node_def}
  return types


def graph_op_types(fn, *specs):
  """Every op type in fn's tf.function graph, function libraries included."""
  return concrete_op_types(
      tf.function(fn, autograph=False).get_concrete_function(*specs))


def compare_nested(expected, got, tol):
  """Same structure, dtypes and shapes; values within `tol` (NaN == NaN)."""
  if isinstance(expected, (tuple, list)):
    assert len(expected) == len(got)
    for e, g in zip(expected, got):
      compare_nested(e, g, tol)
    return
  expected, got = np.asarray(expected), np.asarray(got)
  assert expected.dtype == got.dtype, (expected.dtype, got.dtype)
  assert expected.shape == got.shape, (expected.shape, got.shape)
  if np.issubdtype(expected.dtype, np.inexact):
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol, equal_nan=True)
  else:
    np.testing.assert_array_equal(got, expected)


def mark_known_failure(request, known, key):
  """xfail (strict=False) the running test if `key` is in `known`
  (key -> reason): a fix then shows up as XPASS, not as a failure."""
  reason = known.get(key)
  if reason:
    import pytest  # pylint: disable=g-import-not-at-top
    request.applymarker(pytest.mark.xfail(reason=reason, strict=False))


def jax_32bit():
  """Deployment targets run as users run them: JAX's default 32-bit mode
  (tests/conftest.py turns x64 on for the harness suite)."""
  import jax  # pylint: disable=g-import-not-at-top
  return jax.enable_x64(False)


def random_array(shape, dtype, seed=0):
  """Standard normal values of `dtype` (complex: independent real and
  imaginary parts), reproducible by `seed`."""
  rng = np.random.RandomState(seed)
  x = rng.randn(*shape)
  if np.issubdtype(dtype, np.complexfloating):
    x = x + 1j * rng.randn(*shape)
  return x.astype(dtype)
