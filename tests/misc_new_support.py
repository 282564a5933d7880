"""Shared helpers for the tests of rules added for issue 15 (h_misc):
run a converted function in the four modes and compare with jax.jit."""
import jax
import numpy as np
import tensorflow as tf
from jax._src import public_test_util

import jax2tf_impl
from tf_testing import run_in_mode

MODES4 = ["eager", "graph", "jit", "noxla"]


def tolerance(dtype):
  """JAX's own default tolerance for `dtype` (0 for ints/bools)."""
  dtype = np.dtype(dtype)
  if not np.issubdtype(dtype, np.inexact):
    return 0
  return public_test_util.default_tolerance()[dtype]


def _xla_ops(concrete):
  types = {op.type for op in concrete.graph.get_operations()}
  for fdef in concrete.graph.as_graph_def().library.function:
    types |= {n.op for n in fdef.node_def}
  return sorted(t for t in types if t.startswith("Xla"))


def run(f, mode, *args, polymorphic_shapes=None, **kw):
  """Converted `f` in `mode` (noxla: enable_xla=False in tf.function, and
  the graph must hold no Xla* op)."""
  conv = jax2tf_impl.convert(f, polymorphic_shapes=polymorphic_shapes,
                             enable_xla=(mode != "noxla"), **kw)
  tf_args = jax.tree_util.tree_map(tf.constant, args)
  if mode == "noxla":
    graph_fn = tf.function(conv, autograph=False)
    xla_ops = _xla_ops(graph_fn.get_concrete_function(*tf_args))
    assert not xla_ops, f"enable_xla=False graph has {xla_ops}"
    return graph_fn(*tf_args)
  return run_in_mode(conv, mode, *tf_args)


def check(f, mode, *args, polymorphic_shapes=None, tol=None, bits=False,
          **kw):
  """Outputs of the converted `f` equal jax.jit(f)'s: same dtypes and
  shapes, values within JAX's tolerance (exact for ints/bools; bit for bit,
  signs of zeros included, with bits=True)."""
  expected = jax.tree_util.tree_leaves(jax.jit(f)(*args))
  got = tf.nest.flatten(run(f, mode, *args,
                            polymorphic_shapes=polymorphic_shapes, **kw))
  assert len(expected) == len(got)
  for e, g in zip(expected, got):
    e, g = np.asarray(e), np.asarray(g)
    assert e.dtype == g.dtype, (e.dtype, g.dtype)
    assert e.shape == g.shape, (e.shape, g.shape)
    if bits and np.issubdtype(e.dtype, np.inexact):
      nan = np.isnan(e)
      np.testing.assert_array_equal(np.isnan(g), nan)
      e, g = np.where(nan, 0, e), np.where(nan, 0, g)
      np.testing.assert_array_equal(np.signbit(g), np.signbit(e))
      np.testing.assert_array_equal(g, e)
    elif np.issubdtype(e.dtype, np.inexact):
      t = tol if tol is not None else tolerance(e.dtype)
      np.testing.assert_allclose(g, e, rtol=t, atol=t, equal_nan=True)
    else:
      np.testing.assert_array_equal(g, e)
