"""jax2tf_impl.JaxLayer: a Flax model trained by Keras 3 (TensorFlow backend)
`model.fit` with the JAX gradient, saved as .keras and as a SavedModel that
reloads without JAX."""
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

keras = pytest.importorskip("keras")
nn = pytest.importorskip("flax.linen")

import jax2tf_impl  # noqa: E402
from support.no_jax import run_without_jax  # noqa: E402

if keras.backend.backend() != "tensorflow":
  pytest.skip("JaxLayer needs Keras' TensorFlow backend", allow_module_level=True)


class MLP(nn.Module):
  @nn.compact
  def __call__(self, x):
    return nn.Dense(1)(nn.tanh(nn.Dense(16)(x)))


def apply(params, x):
  """Importable by its path (the .keras config names it)."""
  return MLP().apply(params, x)


def _params():
  params = MLP().init(jax.random.PRNGKey(0), jnp.ones((1, 4), jnp.float32))
  return jax.tree_util.tree_map(lambda v: np.asarray(v, np.float32), params)


def _data(n=64):
  rng = np.random.RandomState(0)
  x = rng.randn(n, 4).astype(np.float32)
  return x, (x @ np.array([[1.0], [-2.0], [0.5], [0.0]], np.float32)
             ).astype(np.float32)


def _model(params):
  return keras.Sequential([keras.Input((4,)),
                           jax2tf_impl.JaxLayer(apply, params, name="jax")])


def test_gradient_is_jax_s_and_fit_trains():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  params = _params()
  model = _model(params)
  x, y = _data()
  with tf.GradientTape() as tape:
    loss = tf.reduce_mean(tf.square(model(x) - y))
  got = tape.gradient(loss, model.trainable_variables)
  want = jax.tree_util.tree_leaves(jax.grad(
      lambda p: jnp.mean(jnp.square(apply(p, x) - y)))(params))
  assert len(got) == len(want) == 4
  for g, w in zip(got, want):
    np.testing.assert_allclose(np.asarray(g), w, rtol=1e-5, atol=1e-6)
  model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
  history = model.fit(x, y, batch_size=16, epochs=8, verbose=0)
  losses = history.history["loss"]
  assert losses[-1] < 0.5 * losses[0], losses


def test_keras_file_and_savedmodel_without_jax(tmp_path):
  x, y = _data(8)
  model = _model(_params())
  model.compile(optimizer="sgd", loss="mse")
  model.fit(x, y, epochs=1, verbose=0)
  expected = np.asarray(model.predict(x, verbose=0))
  path = str(tmp_path / "m.keras")
  model.save(path)
  loaded = keras.models.load_model(path)
  np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)),
                             expected, rtol=1e-6, atol=1e-6)
  export_dir = str(tmp_path / "saved")
  model.export(export_dir, format="tf_saved_model", verbose=False)
  np.save(str(tmp_path / "x.npy"), x)
  out = run_without_jax(r"""
import json, sys
m = tf.saved_model.load(sys.argv[1])
x = np.load(sys.argv[2])
print(json.dumps(np.asarray(m.serve(x)).tolist()))
""", export_dir, str(tmp_path / "x.npy"))
  np.testing.assert_allclose(np.asarray(json.loads(out.strip().splitlines()[-1])),
                             expected, rtol=1e-6, atol=1e-6)


def test_example_finetunes_flax_with_fit(tmp_path):
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  results = str(tmp_path / "r.json")
  proc = subprocess.run(
      [sys.executable, os.path.join(root, "examples", "keras_finetune_flax.py"),
       "--epochs", "3", "--results-json", results, "--out", str(tmp_path)],
      capture_output=True, text=True, timeout=600, cwd=root,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=root))
  assert proc.returncode == 0, proc.stderr[-3000:]
  with open(results) as f:
    r = json.load(f)
  assert r["final_loss"] < r["initial_loss"], r
  assert r["reload_parity"] < 1e-5, r
