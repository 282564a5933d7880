"""Gradients at the edges: control flow whose branches save different
residuals (JAX fills the others with `empty2`), integer and bool outputs of
batch-polymorphic functions (no float0 zeros of symbolic shape), and
gradients that cannot be converted: the error comes when the gradient is
asked for, except while tf.saved_model.save traces it (the saved gradient
then raises when run)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf
from jax import lax

import jax2tf_impl
from support.tf_testing import run_in_mode

MODES = ["eager", "graph", "jit", "noxla"]
RTOL = 1e-5


def _cond(x):
  return lax.cond(x.sum() > 0, lambda v: jnp.sin(v) * v, lambda v: v * 2, x)


def _switch(x):
  i = jnp.int32(x.sum() > 0) + jnp.int32(x.sum() > 3)
  return lax.switch(i, [lambda v: jnp.sin(v) * v, lambda v: v * 2,
                        lambda v: jnp.exp(v) * jnp.cos(v)], x)


def _argsort(x):
  return jnp.sort(x, axis=-1) * 2, jnp.argsort(x, axis=-1)


def _top_k(x):
  return lax.top_k(x, 2)


def _argmax(x):
  return x * 3, jnp.argmax(x, axis=-1), x > 0


FUNCTIONS = {"cond": (_cond, None), "switch": (_switch, None),
             "cond_poly": (_cond, "(b, _)"), "argsort": (_argsort, "(b, _)"),
             "top_k": (_top_k, "(b, _)"), "argmax": (_argmax, "(b, _)")}


def _float_loss(outs):
  return sum(jnp.sum(o ** 2) for o in jax.tree_util.tree_leaves(outs)
             if jnp.issubdtype(o.dtype, jnp.floating))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradient_matches_jax(name, mode):
  f, spec = FUNCTIONS[name]
  converted = jax2tf_impl.convert(f, polymorphic_shapes=spec,
                                  enable_xla=(mode != "noxla"))

  def grad(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      outs = tf.nest.flatten(converted(x))
      loss = tf.add_n([tf.reduce_sum(o ** 2) for o in outs
                       if o.dtype.is_floating])
    return tape.gradient(loss, x)

  tf_mode = "graph" if mode == "noxla" else mode
  # Two sizes, and both branches of the conds (the sum's sign).
  for x in (np.random.RandomState(0).randn(3, 4).astype(np.float32) + 0.5,
            -np.abs(np.random.RandomState(1).randn(2, 4)).astype(np.float32)):
    expected = jax.grad(lambda v: _float_loss(f(v)))(x)
    got = run_in_mode(grad, tf_mode, tf.constant(x))
    np.testing.assert_allclose(np.asarray(got), expected, rtol=RTOL,
                               atol=RTOL)


def _unconvertible_gradient_fn():
  """A 3-D grouped conv on symbolic spatial sizes: the forward converts,
  its weight gradient (a grouped 3-D conv whose kernel has the symbolic
  sizes) has no TF form here."""
  w = np.random.RandomState(0).randn(3, 3, 3, 1, 4).astype(np.float32)

  def f(w, x):
    return lax.conv_general_dilated(
        x, w, (1, 1, 1), "SAME", feature_group_count=4,
        dimension_numbers=("NDHWC", "DHWIO", "NDHWC"))

  converted = jax2tf_impl.convert(
      f, polymorphic_shapes=(None, "(n, 4*b, 4*b, 4*b, 4)"))
  sig = [tf.TensorSpec(w.shape, tf.float32),
         tf.TensorSpec([None, None, None, None, 4], tf.float32)]
  x = np.random.RandomState(1).randn(1, 4, 4, 4, 4).astype(np.float32)
  return f, converted, sig, w, x


def test_unconvertible_gradient_raises_when_asked_in_tf_function():
  """Not an Assert at run time: tape.gradient fails while the tf.function
  is traced, with the conversion error."""
  _, converted, sig, _, _ = _unconvertible_gradient_fn()

  @tf.function(autograph=False, input_signature=sig)
  def grad(w, x):
    with tf.GradientTape() as tape:
      tape.watch(w)
      y = converted(w, x)
    return tape.gradient(y, w)

  with pytest.raises(jax2tf_impl.UnsupportedPrimitiveError,
                     match="conv_general_dilated"):
    grad.get_concrete_function()


def test_unconvertible_gradient_raises_eagerly():
  _, converted, _, w, x = _unconvertible_gradient_fn()
  wt = tf.constant(w)
  with pytest.raises(jax2tf_impl.UnsupportedPrimitiveError,
                     match="conv_general_dilated"):
    with tf.GradientTape() as tape:
      tape.watch(wt)
      y = converted(wt, x)
    tape.gradient(y, wt)


def test_unconvertible_gradient_saved_model_forward_works(tmp_path, caplog):
  """Saving a model whose gradient cannot be converted works (it may be
  meant for inference), warns, and its gradient raises when run."""
  f, converted, sig, w, x = _unconvertible_gradient_fn()
  module = tf.Module()
  module.fn = converted
  module.f = tf.function(converted, autograph=False, input_signature=sig)
  with caplog.at_level("WARNING"):
    jax2tf_impl.saved_model.save(module, str(tmp_path))
  assert any("cannot be converted" in r.getMessage() for r in caplog.records)
  reloaded = tf.saved_model.load(str(tmp_path))
  np.testing.assert_allclose(reloaded.f(w, x), jax.jit(f)(w, x), rtol=1e-5,
                             atol=1e-5)
  wt = tf.constant(w)
  with tf.GradientTape() as tape:
    tape.watch(wt)
    y = reloaded.f(wt, x)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="could not be converted.*conv_general_dilated"):
    tape.gradient(y, wt)


def test_int_output_gradient_in_saved_model(tmp_path):
  """argsort under "(b, _)": saved (with its gradient) and differentiated
  after reloading."""
  converted = jax2tf_impl.convert(_argsort, polymorphic_shapes="(b, _)")
  module = tf.Module()
  module.fn = converted
  module.f = tf.function(converted, autograph=False, input_signature=[
      tf.TensorSpec([None, 4], tf.float32)])
  jax2tf_impl.saved_model.save(module, str(tmp_path))
  reloaded = tf.saved_model.load(str(tmp_path))
  x = tf.constant(np.random.RandomState(3).randn(3, 4).astype(np.float32))
  with tf.GradientTape() as tape:
    tape.watch(x)
    values, indices = reloaded.f(x)
    loss = tf.reduce_sum(values ** 2)
  np.testing.assert_array_equal(indices, jnp.argsort(x.numpy(), axis=-1))
  expected = jax.grad(lambda v: jnp.sum((jnp.sort(v, axis=-1) * 2) ** 2))(
      x.numpy())
  np.testing.assert_allclose(tape.gradient(loss, x), expected, rtol=RTOL)
