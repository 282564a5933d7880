"""Converted gradients vs jax.vjp, one sampled harness per differentiable group.

For each harness group, the first harness (by name) of dtype float32/float64
with a real floating-point input and output is differentiated with respect to
its floating-point arguments (groups with no such harness, e.g. comparisons,
are not differentiable and have no case):
JAX's `jax.vjp` with a random cotangent against `tf.GradientTape` on the
converted function with the same cotangent, eagerly and under tf.function;
and with enable_xla=False under tf.function ("noxla"), where the gradient
graph (function libraries included) must hold no Xla* op.
"""
import functools

import jax
import numpy as np
import pytest
import tensorflow as tf

from support import harness as hs
import jax2tf_impl

_FLOAT = (np.dtype(np.float32), np.dtype(np.float64))


def _differentiable(h) -> bool:
  """Float32/64 harness with a real floating-point input and output."""
  try:
    if np.dtype(h.dtype) not in _FLOAT or hs.jax_unimplemented_on_cpu(h):
      return False
    args = hs.make_args(h)
    if not any(np.asarray(a).dtype in _FLOAT for a in args):
      return False
    outs = jax.eval_shape(h.dyn_fun, *args)
  except Exception:  # pylint: disable=broad-except
    return False
  return any(np.dtype(o.dtype) in _FLOAT for o in jax.tree_util.tree_leaves(outs))


@functools.cache
def _gradient_harnesses():
  """Per group, the first harness (by name) that is differentiable at all."""
  by_group = {}
  for h in sorted(hs.all_harnesses(), key=lambda h: h.fullname):
    if h.group_name in by_group or (hs.GROUPS and h.group_name not in hs.GROUPS):
      continue
    if _differentiable(h):
      by_group[h.group_name] = h
  return [by_group[g] for g in sorted(by_group)]


def _tolerance(dtype):
  return 1e-4 if np.dtype(dtype) == np.float32 else 1e-9


@pytest.mark.parametrize("mode", ["eager", "graph", "noxla"])
@pytest.mark.parametrize("harness", _gradient_harnesses(), ids=lambda h: h.fullname)
def test_harness_gradient(request, harness, mode):
  request.node.harness_info = dict(group=harness.group_name, name=harness.fullname,
                                   mode="grad_" + mode,
                                   enable_xla=mode != "noxla")
  if hs.jax_unimplemented_on_cpu(harness):
    pytest.skip("JAX itself does not run this on CPU")
  args = hs.make_args(harness)
  diff_idx = [i for i, a in enumerate(args)
              if np.asarray(a).dtype in _FLOAT]
  if not diff_idx:
    pytest.skip("no floating-point argument to differentiate")

  def f_diff(*dargs):
    full = list(args)
    for i, a in zip(diff_idx, dargs):
      full[i] = a
    return harness.dyn_fun(*full)

  primals = [np.asarray(args[i]) for i in diff_idx]
  try:
    outs, vjp = jax.vjp(f_diff, *primals)
  except Exception as e:  # JAX cannot differentiate it: nothing to compare.
    pytest.skip(f"JAX itself cannot differentiate: {type(e).__name__}")
  out_leaves, out_tree = jax.tree_util.tree_flatten(outs)
  rng = np.random.RandomState(1)
  cts = []
  for o in out_leaves:
    o = np.asarray(o)
    if o.dtype in _FLOAT:
      cts.append(np.asarray(rng.randn(*o.shape)).astype(o.dtype))
    else:
      cts.append(np.zeros(o.shape, jax.dtypes.float0))
  if all(c.dtype == jax.dtypes.float0 for c in cts):
    pytest.skip("no floating-point output: not a differentiable harness")
  try:
    expected = vjp(jax.tree_util.tree_unflatten(out_tree, cts))
  except Exception as e:
    pytest.skip(f"JAX itself cannot differentiate: {type(e).__name__}")

  converted = jax2tf_impl.convert(f_diff, enable_xla=mode != "noxla")
  variables = [tf.Variable(p) for p in primals]

  def tf_grads():
    with tf.GradientTape() as tape:
      tf_outs = tf.nest.flatten(converted(*variables))
      loss = tf.add_n([tf.reduce_sum(o * c) for o, c in zip(tf_outs, cts)
                       if c.dtype != jax.dtypes.float0])
    return tape.gradient(loss, variables)

  if mode in ("graph", "noxla"):
    tf_grads = tf.function(tf_grads, autograph=False)
  if mode == "noxla":
    xla_ops = hs.xla_op_types(tf_grads, [])
    assert not xla_ops, f"enable_xla=False gradient graph contains {sorted(xla_ops)}"
  got = tf_grads()
  for i, (g, e) in enumerate(zip(got, expected)):
    e = np.asarray(e)
    g = np.zeros_like(e) if g is None else np.asarray(g)
    tol = _tolerance(e.dtype) * max(1.0, float(np.max(np.abs(e)))
                                    if e.size else 1.0)
    np.testing.assert_allclose(g, e, rtol=_tolerance(e.dtype), atol=tol,
                               err_msg=f"gradient of argument {diff_idx[i]}")
