"""`jit_compare.assert_matches_jit`, plus: in the enable_xla=False mode the
converted graph must hold no Xla* op (the tests of issue 15's rules)."""
import jax
import tensorflow as tf

import jax2tf_impl
from support.jit_compare import MODES4, assert_matches_jit, run_converted
from support.tf_testing import concrete_op_types

__all__ = ["MODES4", "check", "run"]


def assert_no_xla_ops(f, *args, **convert_kwargs) -> None:
  conv = jax2tf_impl.convert(f, enable_xla=False, **convert_kwargs)
  tf_args = jax.tree_util.tree_map(tf.constant, args)
  concrete = tf.function(conv, autograph=False).get_concrete_function(*tf_args)
  xla_ops = sorted(t for t in concrete_op_types(concrete)
                   if t.startswith("Xla"))
  assert not xla_ops, f"enable_xla=False graph has {xla_ops}"


def check(f, mode, *args, tol=None, **convert_kwargs):
  """Converted `f` in `mode` equals jax.jit(f) at JAX's tolerances (or
  `tol`); with mode "noxla" its graph also has no Xla* op."""
  if mode == "noxla":
    assert_no_xla_ops(f, *args, **convert_kwargs)
  return assert_matches_jit(f, mode, *args, tol=tol, **convert_kwargs)


def run(f, mode, *args, **convert_kwargs):
  """The converted `f`'s outputs in `mode` (see jit_compare.run_converted)."""
  return run_converted(f, mode, *args, **convert_kwargs)
