"""Library models (Flax linen / nnx, Equinox, Haiku, optax states, registered
dataclasses and namedtuples, Keras 3 with the JAX backend) go into converted
functions as they are: in the four TF modes, with the JAX gradient, and
through a SavedModel reloaded in a process without JAX."""
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
import tensorflow as tf

import jax2tf_impl
from jax2tf_impl.tracing import (is_array_leaf, is_python_scalar, merge_leaves,
                                 split_leaves)
from support import library_models
from support.jit_compare import MODES4, tolerance
from support.no_jax import run_without_jax
from support.tf_testing import compare_nested

# Convolutions and matmuls over hundreds of terms: TF's and XLA's summation
# orders differ by more than JAX's float32 default (1e-6).
TOL = 1e-5


def _case(name):
  module, builder = library_models.BUILDERS[name]
  pytest.importorskip(module)
  case = builder()
  # conftest turns x64 on: libraries then initialize float64 weights; the
  # models are float32 models, as users have them.
  to32 = lambda v: (np.asarray(v, np.float32)  # noqa: E731
                    if is_array_leaf(v) and not is_python_scalar(v)
                    and np.asarray(v).dtype == np.float64
                    else v)
  return case._replace(params=jax.tree_util.tree_map(to32, case.params))


def _split(params, x):
  leaves, tree = jax.tree_util.tree_flatten((params, x))
  # Python scalars are closed over, as eqx.filter_jit / filter_grad do.
  dynamic, static = split_leaves(
      leaves, lambda v: is_array_leaf(v) and not is_python_scalar(v))
  rebuild = lambda d: jax.tree_util.tree_unflatten(  # noqa: E731
      tree, merge_leaves(list(d), static))
  return dynamic, rebuild


def _jit(fn, params, x):
  """jax.jit of fn with the non-array leaves static (eqx.filter_jit's rule)."""
  dynamic, rebuild = _split(params, x)
  return jax.jit(lambda *d: fn(*rebuild(d)))(*dynamic)


def _grad(fn, params, x):
  """jax.grad of a scalar fn w.r.t. the array leaves of params and x, flat."""
  dynamic, rebuild = _split(params, x)
  return jax.grad(lambda d: fn(*rebuild(d)), allow_int=True)(dynamic)


def _np_tree(tree):
  return jax.tree_util.tree_map(
      lambda v: v.numpy() if hasattr(v, "numpy") else np.asarray(v), tree)


def _arrays(tree, scalars=True):
  return [np.asarray(v) for v in jax.tree_util.tree_leaves(tree)
          if is_array_leaf(v) and (scalars or not is_python_scalar(v))]


def _run(case, mode):
  converted = jax2tf_impl.convert(case.fn, enable_xla=(mode != "noxla"),
                                  polymorphic_shapes=[None, case.spec])
  # The params pytree is an argument of the converted function in every
  # mode; under tf.function it is closed over (tf.function cannot take
  # arbitrary pytrees), its leaves become graph constants.
  call = lambda x: converted(case.params, x)  # noqa: E731
  if mode == "eager":
    return call(case.x)
  return tf.function(call, autograph=False,
                     jit_compile=(mode == "jit"))(tf.constant(case.x))


@pytest.mark.parametrize("mode", MODES4)
@pytest.mark.parametrize("name", sorted(library_models.BUILDERS))
def test_library_model_matches_jit(name, mode):
  case = _case(name)
  expected = _jit(case.fn, case.params, case.x)
  got = _run(case, mode)
  # Same result pytree (namedtuples, dataclasses, nnx states come back).
  assert (jax.tree_util.tree_structure(_np_tree(got)) ==
          jax.tree_util.tree_structure(_np_tree(expected)))
  compare_nested(_arrays(expected), _arrays(got), TOL)


def _loss(outputs):
  """A scalar of every float output (so every parameter gets a gradient)."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  return sum(jnp.mean(jnp.square(o)) for o in jax.tree_util.tree_leaves(outputs)
             if jnp.issubdtype(o.dtype, jnp.floating))


@pytest.mark.parametrize("name", sorted(library_models.BUILDERS))
def test_library_model_gradient_matches_jax_grad(name):
  case = _case(name)
  if name == "optax_adam_step":
    # The loss output: differentiating adam's update itself (~sign(g)) is
    # ill-conditioned, any float32 rounding difference is amplified.
    loss = lambda p, x: case.fn(p, x)[2]  # noqa: E731
  else:
    loss = lambda p, x: _loss(case.fn(p, x))  # noqa: E731
  expected = _grad(loss, case.params, case.x)[:-1]  # without x's
  params_tf = jax2tf_impl.to_variables(case.params)
  variables = [v for v in jax.tree_util.tree_leaves(params_tf)
               if isinstance(v, tf.Variable)]
  converted = jax2tf_impl.convert(loss, polymorphic_shapes=[None, case.spec])

  @tf.function(autograph=False)
  def grads(x):
    with tf.GradientTape() as tape:
      value = converted(params_tf, x)
    return tape.gradient(value, variables, unconnected_gradients="zero")

  got = grads(tf.constant(case.x))
  want = [np.asarray(g) for g, v in zip(expected, _arrays(case.params, False))
          if np.issubdtype(v.dtype, np.floating)]
  got = [g.numpy() for g, v in zip(got, variables) if v.dtype.is_floating]
  assert want and len(want) == len(got)
  compare_nested(want, got, TOL)


# --- SavedModel without JAX: every library model as a jax2tf_impl.Module ---

_RELOAD = r"""
import json, sys
out = {}
for name in sys.argv[2].split(","):
  m = tf.saved_model.load(sys.argv[1] + "/" + name)
  x = tf.constant(np.load(sys.argv[1] + "/" + name + ".npy"))
  with tf.GradientTape() as tape:
    result = m.signatures["serving_default"](x=x)
    loss = tf.add_n([tf.reduce_mean(tf.square(v)) for v in result.values()
                     if v.dtype.is_floating])
  grads = tape.gradient(loss, m.trainable_param_variables)
  out[name] = {"outputs": {k: v.numpy().tolist() for k, v in result.items()},
               "n_grads": sum(g is not None for g in grads),
               "n_vars": len(m.trainable_param_variables)}
print(json.dumps(out))
"""


def _save_module(case, path):
  float_x = case.x
  module = jax2tf_impl.Module(
      case.params,
      {"predict": jax2tf_impl.Method(case.fn, [float_x],
                                     polymorphic_shapes=[case.spec],
                                     input_names=["x"])},
      trainable=lambda path, leaf: np.issubdtype(np.asarray(leaf).dtype,
                                                 np.floating))
  module.save(path)
  np.save(path + ".npy", np.concatenate([case.x, case.x[:1]]))  # batch 3


def test_library_models_savedmodel_reload_without_jax(tmp_path):
  names = []
  for name, (module, _) in sorted(library_models.BUILDERS.items()):
    try:
      __import__(module)
    except ImportError:
      continue
    names.append(name)
  expected = {}
  for name in names:
    case = _case(name)
    _save_module(case, str(tmp_path / name))
    x3 = np.concatenate([case.x, case.x[:1]])
    expected[name] = _arrays(_jit(case.fn, case.params, x3))
  result = json.loads(run_without_jax(_RELOAD, str(tmp_path), ",".join(names))
                      .strip().splitlines()[-1])
  for name in names:
    got = result[name]
    outs = [np.asarray(v) for _, v in sorted(
        got["outputs"].items(), key=lambda kv: int(kv[0].split("_")[-1]))]
    # JSON carries values, not dtypes: compare in the expected dtypes.
    compare_nested(expected[name],
                   [o.astype(e.dtype) for o, e in zip(outs, expected[name])],
                   TOL)
    # The saved custom gradient reaches every trainable variable.
    assert got["n_grads"] == got["n_vars"] > 0, (name, got)


# --- Keras 3 with the JAX backend (a subprocess: this one imports keras with
# the TensorFlow backend) -------------------------------------------------

_KERAS_JAX = r"""
import os, sys, json
os.environ["KERAS_BACKEND"] = "jax"
import keras, jax, jax.numpy as jnp, numpy as np, tensorflow as tf
import jax2tf_impl
from jax2tf_impl.tracing import (is_array_leaf, is_python_scalar, merge_leaves,
                                 split_leaves)
assert keras.backend.backend() == "jax"
model = keras.Sequential([
    keras.Input((28, 28, 1)),
    keras.layers.Conv2D(8, 3, activation="relu"),
    keras.layers.MaxPooling2D(2),
    keras.layers.Flatten(),
    keras.layers.Dense(10, activation="softmax")])
tv = [np.asarray(v.value) for v in model.trainable_variables]
ntv = [np.asarray(v.value) for v in model.non_trainable_variables]
x = np.random.RandomState(0).rand(2, 28, 28, 1).astype(np.float32)

def apply(params, x):
  return model.stateless_call(params[0], params[1], x)[0]

expected = np.asarray(jax.jit(apply)((tv, ntv), x))
report = {}
for mode in ["eager", "graph", "jit", "noxla"]:
  conv = jax2tf_impl.convert(apply, enable_xla=mode != "noxla",
                             polymorphic_shapes=[None, "(b, 28, 28, 1)"])
  call = lambda x: conv((tv, ntv), x)
  f = call if mode == "eager" else tf.function(call, jit_compile=mode == "jit")
  report[mode] = float(np.abs(f(tf.constant(x)).numpy() - expected).max())
loss = lambda p, x: jnp.mean(apply(p, x) ** 2)
want = jax.grad(loss)((tv, ntv), x)[0]
params_tf = jax2tf_impl.to_variables((tv, ntv))
with tf.GradientTape() as tape:
  value = jax2tf_impl.convert(loss)(params_tf, x)
got = tape.gradient(value, params_tf[0])
report["grad"] = max(float(np.abs(g.numpy() - np.asarray(w)).max())
                     for g, w in zip(got, want))
module = jax2tf_impl.Module((tv, ntv), {"predict": jax2tf_impl.Method(
    apply, [x], polymorphic_shapes=["(b, 28, 28, 1)"], input_names=["x"])},
    trainable=(True, False))
module.save(sys.argv[1] + "/keras_jax")
np.save(sys.argv[1] + "/keras_jax.npy", x)
np.save(sys.argv[1] + "/keras_jax_expected.npy", expected)
# The portable exports, written here and run in the parent (which keeps
# JAX's Keras backend out): params closed over, as for the other models.
predict = lambda x: apply((tv, ntv), x)
with open(sys.argv[1] + "/keras_jax.tflite", "wb") as f:
  f.write(jax2tf_impl.export_tflite(predict, [x],
                                    polymorphic_shapes=["(b, 28, 28, 1)"]))
try:
  import tf2onnx
except ImportError:
  pass  # the onnx extra is not installed: the ONNX test skips
else:
  jax2tf_impl.export_onnx(predict, [x], polymorphic_shapes=["(b, 28, 28, 1)"],
                          output_path=sys.argv[1] + "/keras_jax.onnx")
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def keras_jax_run(tmp_path_factory):
  """Runs _KERAS_JAX once: its output directory and report."""
  pytest.importorskip("keras")
  out = tmp_path_factory.mktemp("keras_jax")
  env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3",
             PYTHONPATH=os.pathsep.join(
                 [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
                 + sys.path))
  proc = subprocess.run([sys.executable, "-c", _KERAS_JAX, str(out)],
                        capture_output=True, text=True, env=env, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return out, json.loads(proc.stdout.strip().splitlines()[-1])


def test_keras_jax_backend_stateless_call(keras_jax_run):
  out, report = keras_jax_run
  for mode in MODES4:
    assert report[mode] < TOL, report
  assert report["grad"] < TOL, report
  result = json.loads(run_without_jax(_RELOAD, str(out), "keras_jax")
                      .strip().splitlines()[-1])["keras_jax"]
  expected = np.load(out / "keras_jax_expected.npy")
  np.testing.assert_allclose(np.asarray(result["outputs"]["output_0"]),
                             expected, rtol=TOL, atol=TOL)
  assert result["n_grads"] == result["n_vars"] == 4


def test_keras_jax_backend_tflite(keras_jax_run):
  out, _ = keras_jax_run
  x = np.load(out / "keras_jax.npy")
  expected = np.load(out / "keras_jax_expected.npy")
  interp = tf.lite.Interpreter(model_path=str(out / "keras_jax.tflite"))
  runner = interp.get_signature_runner()
  (in_name,) = runner.get_input_details()
  (got,) = runner(**{in_name: x}).values()
  assert got.shape == expected.shape == (2, 10)
  np.testing.assert_allclose(got, expected, rtol=TOL, atol=TOL)


def test_keras_jax_backend_onnx(keras_jax_run):
  ort = pytest.importorskip("onnxruntime")
  out, _ = keras_jax_run
  if not (out / "keras_jax.onnx").exists():
    pytest.skip("tf2onnx is not installed (the onnx extra)")
  x = np.load(out / "keras_jax.npy")
  expected = np.load(out / "keras_jax_expected.npy")
  sess = ort.InferenceSession(str(out / "keras_jax.onnx"))
  (got,) = sess.run(None, {sess.get_inputs()[0].name: x})
  assert got.shape == expected.shape == (2, 10)
  np.testing.assert_allclose(got, expected, rtol=TOL, atol=TOL)


def test_static_leaves_are_part_of_the_trace_key():
  eqx = pytest.importorskip("equinox")
  key = jax.random.PRNGKey(0)
  relu = eqx.nn.MLP(3, 2, 4, 1, activation=jax.nn.relu, key=key)
  tanh = eqx.tree_at(lambda m: m.activation, relu, jax.numpy.tanh)
  converted = jax2tf_impl.convert(lambda m, x: m(x))
  x = np.linspace(-2, 2, 3).astype(np.float32)
  for model in (relu, tanh, relu):
    np.testing.assert_allclose(converted(model, x).numpy(), model(x),
                               rtol=1e-6, atol=1e-6)
  assert converted.trace_count == 2
  # A model with non-array leaves comes back as itself (static leaves kept).
  back = jax2tf_impl.convert(lambda m: m)(tanh)
  assert type(back) is type(tanh) and back.activation is jax.numpy.tanh


def test_keyword_arguments_with_polymorphic_shapes_and_gradient():
  f = lambda x, *, scale: jax.numpy.sum(jax.numpy.sin(x) * scale)  # noqa: E731
  converted = jax2tf_impl.convert(f, polymorphic_shapes=["(b, 3)"])
  x = tf.Variable(np.ones((4, 3), np.float32))
  with tf.GradientTape() as tape:
    y = converted(x, scale=np.float32(2.0))
  np.testing.assert_allclose(y.numpy(), f(np.ones((4, 3), np.float32),
                                          scale=np.float32(2.0)), rtol=1e-6)
  np.testing.assert_allclose(tape.gradient(y, x).numpy(),
                             2 * np.cos(np.ones((4, 3))), rtol=1e-6)
  fn = tf.function(lambda x: converted(x, scale=np.float32(3.0)),
                   input_signature=[tf.TensorSpec([None, 3], tf.float32)])
  assert fn(tf.ones((7, 3))).shape == ()
  with pytest.raises(TypeError):
    jax2tf_impl.convert(np.ones(3))


def test_jax2tf_names_and_named_scopes():
  def f(x):
    with jax.named_scope("encoder"):
      y = jax.numpy.cos(x)
    return jax.named_call(lambda z: z * 2, name="head")(y)
  conc = tf.function(jax2tf_impl.convert(f), autograph=False
                     ).get_concrete_function(tf.TensorSpec([3], tf.float32))
  names = [op.name for op in conc.graph.get_operations()]
  assert any(n.startswith("jax2tf_arg_0") for n in names), names
  assert any(n.startswith("jax2tf_out") for n in names), names
  all_names = names + [n.name for fd in conc.graph.as_graph_def().library.function
                       for n in fd.node_def]
  assert any("encoder/cos" in n for n in all_names), all_names
  assert any("head/mul" in n for n in all_names), all_names


def test_tolerance_helper_is_jax_s():
  assert tolerance(np.float32) <= TOL


# Known TFLite failures (model name -> reason). Empty since vmapped
# channels-first pools (eqx.nn.MaxPool2d under vmap, a rank-5 reduce_window)
# became a 2-D MaxPool in rules/windows.py.
_TFLITE_XFAIL: dict[str, str] = {}


def _tflite_param(name):
  if name in _TFLITE_XFAIL:
    return pytest.param(name, marks=pytest.mark.xfail(
        reason=_TFLITE_XFAIL[name], strict=True))
  return name


@pytest.mark.parametrize("name", [_tflite_param(n)
                                  for n in sorted(library_models.BUILDERS)])
def test_library_model_tflite(name):
  """TFLite reads the graph of each library model (params closed over:
  exports take array inputs)."""
  case = _case(name)
  fn = lambda x: case.fn(case.params, x)  # noqa: E731
  expected = _arrays(_jit(case.fn, case.params, case.x))
  blob = jax2tf_impl.export_tflite(fn, [case.x], polymorphic_shapes=[case.spec])
  interp = tf.lite.Interpreter(model_content=blob)
  runner = interp.get_signature_runner()
  (in_name,) = runner.get_input_details()
  out = runner(**{in_name: case.x})
  got = [out[k] for k in sorted(out, key=lambda k: int(k.split("_")[-1]))]
  compare_nested(expected, [g.astype(e.dtype) for g, e in zip(got, expected)],
                 TOL)


@pytest.mark.parametrize("name", sorted(library_models.BUILDERS))
def test_library_model_onnx(name):
  ort = pytest.importorskip("onnxruntime")
  case = _case(name)
  fn = lambda x: case.fn(case.params, x)  # noqa: E731
  expected = _arrays(_jit(case.fn, case.params, case.x))
  model = jax2tf_impl.export_onnx(fn, [case.x], polymorphic_shapes=[case.spec])
  sess = ort.InferenceSession(model.SerializeToString())
  got = sess.run(None, {sess.get_inputs()[0].name: case.x})
  compare_nested(expected, [np.asarray(g).astype(e.dtype)
                            for g, e in zip(got, expected)], TOL)
