"""SavedModel: where the bytes go, and gradients after reload without JAX."""
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf

import jax2tf_impl
from support.no_jax import run_without_jax

def _dir_bytes(path):
  return sum(os.path.getsize(os.path.join(d, f))
             for d, _, files in os.walk(path) for f in files)


def test_closed_over_weights_are_variables_stored_once(tmp_path):
  rng = np.random.RandomState(0)
  w1 = rng.randn(64, 2048).astype(np.float32)   # 512 KiB
  w2 = rng.randn(2048, 10).astype(np.float32)   # 80 KiB

  def predict(x):
    return jax.nn.softmax(jnp.tanh(x @ w1) @ w2)

  converted = jax2tf_impl.convert(predict, polymorphic_shapes=["(b, 64)"])
  module = tf.Module()
  module.predict = converted  # tracks the converted function's variables
  module.serve = tf.function(converted, autograph=False, input_signature=[
      tf.TensorSpec([None, 64], tf.float32)])
  module.serve_one = tf.function(lambda x: converted(x[None])[0], autograph=False,
                                 input_signature=[tf.TensorSpec([64], tf.float32)])
  path = str(tmp_path / "model")
  tf.saved_model.save(module, path)

  weight_bytes = w1.nbytes + w2.nbytes
  pb_bytes = os.path.getsize(os.path.join(path, "saved_model.pb"))
  var_bytes = _dir_bytes(os.path.join(path, "variables"))
  assert pb_bytes < weight_bytes / 4, (pb_bytes, weight_bytes)
  # Each weight stored once, although two signatures (and gradients) use them.
  assert weight_bytes <= var_bytes < 1.5 * weight_bytes, (var_bytes, weight_bytes)
  assert len(converted.constants.constant_variables) == 2

  x = rng.randn(3, 64).astype(np.float32)
  reloaded = tf.saved_model.load(path)
  np.testing.assert_allclose(reloaded.serve(x), predict(x), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(reloaded.serve_one(x[0]), predict(x)[0],
                             rtol=1e-5, atol=1e-6)


def test_gradients_survive_saved_model_in_a_process_without_jax(tmp_path):
  rng = np.random.RandomState(0)
  params = {"w": rng.randn(5, 4).astype(np.float32),
            "b": rng.randn(4).astype(np.float32)}

  def loss(params, x):
    return jnp.mean(jnp.sin(x @ params["w"] + params["b"]) ** 2)

  x = rng.randn(7, 5).astype(np.float32)
  module = tf.Module()
  module.params = jax.tree_util.tree_map(tf.Variable, params)
  converted = jax2tf_impl.convert(loss, polymorphic_shapes=[None, "(b, 5)"])
  module.loss = tf.function(lambda x: converted(module.params, x),
                            autograph=False,
                            input_signature=[tf.TensorSpec([None, 5], tf.float32)])
  path = str(tmp_path / "model")
  tf.saved_model.save(module, path, options=tf.saved_model.SaveOptions(
      experimental_custom_gradients=True))
  np.save(str(tmp_path / "x.npy"), x)

  out = run_without_jax(r"""
import json
model = tf.saved_model.load(sys.argv[1])
x = np.load(sys.argv[2])
with tf.GradientTape() as tape:
  value = model.loss(x)
grads = tape.gradient(value, model.params)
print(json.dumps({"value": float(value),
                  "w": grads["w"].numpy().tolist(), "b": grads["b"].numpy().tolist()}))
""", path, str(tmp_path / "x.npy"))
  got = json.loads(out.strip().splitlines()[-1])
  value, grads = jax.value_and_grad(loss)(params, x)
  np.testing.assert_allclose(got["value"], value, rtol=1e-5)
  np.testing.assert_allclose(got["w"], grads["w"], rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(got["b"], grads["b"], rtol=1e-4, atol=1e-6)


def test_save_helper_tracks_constants_of_unattached_functions(tmp_path):
  w = np.random.RandomState(1).randn(32, 64).astype(np.float32)

  def f(x):
    return jnp.tanh(x @ w)

  converted = jax2tf_impl.convert(f)
  module = tf.Module()  # the converted function itself is not an attribute
  module.f = tf.function(converted, autograph=False,
                         input_signature=[tf.TensorSpec([2, 32], tf.float32)])
  path = str(tmp_path / "model")
  jax2tf_impl.saved_model.save(module, path)
  x = np.ones((2, 32), np.float32)
  reloaded = tf.saved_model.load(path)
  # atol: a 32-term float32 dot of randn weights cancels down to ~0.03;
  # TF's and XLA's summation orders then differ by up to 32 ulps of the
  # terms (measured 1.5e-6 in one CI run).
  np.testing.assert_allclose(reloaded.f(x), f(x), rtol=1e-5, atol=1e-5)
  assert _dir_bytes(os.path.join(path, "variables")) >= w.nbytes


@pytest.mark.slow
def test_more_than_2gb_of_closed_over_weights_saves_and_reloads(tmp_path):
  """saved_model.pb is a protobuf (2 GB limit): the weights must not be in it."""
  n = 150_000_000  # 4 arrays x 600 MB = 2.4 GB of float32
  weights = [np.full((n,), i + 1, np.float32) for i in range(4)]

  def f(x, start):
    # Reads a window of each full array at a run-time offset: the whole
    # arrays are constants of the jaxpr.
    return sum(jax.lax.dynamic_slice(jnp.asarray(w), (start,), (4,)) * x
               for w in weights)

  converted = jax2tf_impl.convert(f)
  module = tf.Module()
  module.f = tf.function(converted, autograph=False,
                         input_signature=[tf.TensorSpec([4], tf.float32),
                                          tf.TensorSpec([], tf.int32)])
  path = str(tmp_path / "big")
  jax2tf_impl.saved_model.save(module, path)
  assert os.path.getsize(os.path.join(path, "saved_model.pb")) < 10_000_000
  assert _dir_bytes(os.path.join(path, "variables")) > 2 * 2**30
  x = np.arange(4, dtype=np.float32)
  expected = np.asarray(f(x, np.int32(n - 10)))
  del converted, module
  reloaded = tf.saved_model.load(path)
  np.testing.assert_allclose(reloaded.f(x, np.int32(n - 10)), expected, rtol=1e-6)
