"""convert(): calling conventions, pytrees, variables, x64, caching, errors."""
import functools
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf

import jax2tf_impl
from jax2tf_impl import UnsupportedPrimitiveError, InputSpecError
from support.tf_testing import run_in_mode as _run


def _np(x):
  return np.asarray(x)


def assert_tree_close(tf_out, jax_out, rtol=1e-6, atol=1e-6):
  tf_leaves, tf_tree = jax.tree_util.tree_flatten(tf_out)
  jax_leaves, jax_tree = jax.tree_util.tree_flatten(jax_out)
  assert tf_tree == jax_tree, (tf_tree, jax_tree)
  for t, j in zip(tf_leaves, jax_leaves):
    t, j = _np(t), _np(j)
    assert t.dtype == j.dtype, (t.dtype, j.dtype)
    assert t.shape == j.shape, (t.shape, j.shape)
    np.testing.assert_allclose(t, j, rtol=rtol, atol=atol)


def mlp(params, x):
  h = jnp.tanh(x @ params["w1"] + params["b1"])
  return {"logits": h @ params["w2"], "aux": [jnp.sum(h), None]}


def _params(rng=np.random.RandomState(0)):
  return {"w1": rng.randn(4, 8).astype(np.float32),
          "b1": rng.randn(8).astype(np.float32),
          "w2": rng.randn(8, 3).astype(np.float32)}


MODES = ["eager", "graph", "jit"]


@pytest.mark.parametrize("mode", MODES)
def test_pytree_args_and_results(mode):
  params = _params()
  x = np.random.RandomState(1).randn(5, 4).astype(np.float32)
  out = _run(jax2tf_impl.convert(mlp), mode, params, x)
  assert_tree_close(out, mlp(params, x), rtol=1e-5, atol=1e-5)


def test_leaf_kinds_numpy_tensor_variable_python_scalar():
  def f(a, b, c, d):
    return a * b + c - d

  a = np.float32(2.0) * np.ones((3,), np.float32)
  b = tf.constant([1.0, 2.0, 3.0])
  c = tf.Variable([0.5, 0.5, 0.5])
  out = jax2tf_impl.convert(f)(a, b, c, 3.0)
  assert out.dtype == tf.float32  # the Python scalar is weakly typed, as in JAX
  np.testing.assert_allclose(out, f(a, _np(b), _np(c), 3.0))


def test_variables_stay_variables_in_saved_model(tmp_path):
  params = _params()
  module = tf.Module()
  module.params = jax.tree_util.tree_map(tf.Variable, params)
  converted = jax2tf_impl.convert(mlp)
  module.f = tf.function(
      lambda x: converted(module.params, x)["logits"], autograph=False,
      input_signature=[tf.TensorSpec([2, 4], tf.float32)])
  x = np.ones((2, 4), np.float32)
  expected = _np(mlp(params, x)["logits"])
  tf.saved_model.save(module, str(tmp_path))
  reloaded = tf.saved_model.load(str(tmp_path))
  np.testing.assert_allclose(reloaded.f(x), expected, rtol=1e-5, atol=1e-5)
  # The weights are variables of the SavedModel, not constants of the graph.
  assert len(reloaded.params["w1"].shape) == 2
  assert isinstance(reloaded.params["w1"], tf.Variable)
  # Updating a variable changes the result: it is really read at run time.
  reloaded.params["w2"].assign(tf.zeros_like(reloaded.params["w2"]))
  np.testing.assert_allclose(reloaded.f(x), np.zeros((2, 3)), atol=0)


@pytest.mark.parametrize("x64", [False, True])
def test_x64_on_and_off(x64):
  def f(x, y):
    return jnp.sin(x) * 2 + y, jnp.arange(3) + y.astype(jnp.int32)

  x = np.linspace(0, 1, 6).reshape(2, 3)  # float64 numpy
  y = np.arange(3)  # int64 numpy
  with jax.enable_x64(x64):
    jax_out = f(x, y)
    tf_out = jax2tf_impl.convert(f)(x, y)
    for t, j in zip(tf_out, jax_out):
      assert _np(t).dtype == _np(j).dtype
      np.testing.assert_allclose(_np(t), _np(j), rtol=1e-6)


def test_accepts_jit_partial_bound_method_scalar_and_nested_dict():
  class Model:
    def __init__(self, scale):
      self.scale = scale

    def apply(self, x):
      return {"out": {"y": x * self.scale}, "n": jnp.sum(x)}

  x = np.arange(6, dtype=np.float32).reshape(2, 3)
  assert_tree_close(jax2tf_impl.convert(Model(3.0).apply)(x), Model(3.0).apply(x))
  jitted = jax.jit(lambda x, k: x * k, static_argnums=1)
  part = functools.partial(jitted, k=2.0)
  np.testing.assert_allclose(jax2tf_impl.convert(part)(x), part(x))
  scalar = jax2tf_impl.convert(lambda x: jnp.sum(x * x))(x)
  assert scalar.shape == () and np.isclose(_np(scalar), np.sum(x * x))


def test_same_signature_does_not_retrace():
  traces = []

  def f(x):
    traces.append(1)
    return x * 2

  converted = jax2tf_impl.convert(f)
  x = np.ones((3,), np.float32)
  converted(x)
  converted(x + 1)
  assert len(traces) == 1
  tf_fn = tf.function(converted, autograph=False)
  tf_fn(x)
  tf_fn(tf.constant(x))
  assert len(traces) == 1
  converted(np.ones((4,), np.float32))  # a new signature traces again
  assert len(traces) == 2


def test_polymorphic_batch_dimension():
  params = _params()
  converted = jax2tf_impl.convert(lambda x: mlp(params, x)["logits"],
                                  polymorphic_shapes=["(b, 4)"])
  tf_fn = tf.function(converted, autograph=False,
                      input_signature=[tf.TensorSpec([None, 4], tf.float32)])
  for b in (1, 3, 7):
    x = np.random.RandomState(b).randn(b, 4).astype(np.float32)
    np.testing.assert_allclose(tf_fn(x), mlp(params, x)["logits"],
                               rtol=1e-5, atol=1e-5)


def test_unknown_dimension_without_spec_is_a_clear_error():
  converted = jax2tf_impl.convert(lambda x: x * 2)
  tf_fn = tf.function(converted, autograph=False,
                      input_signature=[tf.TensorSpec([None, 4], tf.float32)])
  with pytest.raises(InputSpecError, match=r"args\[0\].*unknown dimensions"):
    tf_fn.get_concrete_function()


def test_polymorphic_spec_rank_mismatch_names_argument():
  converted = jax2tf_impl.convert(lambda d: d["x"] * 2,
                                  polymorphic_shapes=[{"x": "(b, 4, 5)"}])
  with pytest.raises(InputSpecError, match=r"args\[0\]\['x'\]"):
    converted({"x": np.ones((2, 4), np.float32)})


def test_keyword_arguments_are_accepted():
  # As in jax2tf: keyword arguments are traced with static shapes
  # (tests/test_library_models.py has polymorphic and gradient cases).
  out = jax2tf_impl.convert(lambda x, *, y: x - y)(3.0, y=1.0)
  np.testing.assert_allclose(out.numpy(), 2.0)


# --- errors for unsupported primitives -------------------------------------

def _make_primitive(name):
  from jax.extend.core import Primitive
  p = Primitive(name)
  p.def_abstract_eval(lambda x, **_: jax.core.ShapedArray(x.shape, x.dtype))
  # No impl and no lowering: with one, foreign_primitives would interpret it.
  return p


def test_unsupported_primitive_error_names_primitive_params_dtype_and_line():
  p = _make_primitive("my_unknown_op")

  def f(x):
    return p.bind(x, flavour="spicy") * 2  # THIS LINE

  line = [i for i, l in enumerate(open(__file__), 1) if "THIS LINE" in l
          and "p.bind" in l][0]
  with pytest.raises(UnsupportedPrimitiveError) as e:
    jax2tf_impl.convert(f)(np.ones((2, 3), np.float32))
  msg = str(e.value)
  assert isinstance(e.value, NotImplementedError)
  assert "my_unknown_op" in msg
  assert "flavour='spicy'" in msg
  assert "float32[2,3]" in msg
  assert f"{os.path.basename(__file__)}:{line}" in msg


def test_all_unsupported_primitives_are_reported_at_once():
  p1, p2 = _make_primitive("unknown_one"), _make_primitive("unknown_two")

  def f(x):
    y = jax.jit(lambda z: p2.bind(z))(x)  # inside a sub-jaxpr too
    return p1.bind(y)

  with pytest.raises(UnsupportedPrimitiveError,
                     match=re.compile("unknown_two.*unknown_one|unknown_one.*unknown_two",
                                      re.S)):
    jax2tf_impl.convert(f)(np.ones((2,), np.float32))
