"""A Flax linen CNN trained by tf-keras (Keras 2) through jax2tf_impl.JaxLayer.

Run in a fresh interpreter with TF_USE_LEGACY_KERAS=1 (tests/ and the repo
root on PYTHONPATH) by tests/test_keras_legacy.py: Keras 3 is already
imported in the test process, and which Keras `tf.keras` is gets fixed at
its first use.

    python -c "from support import keras_legacy_case as c; c.main(OUT)"

writes OUT/report.json (fit losses, save/reload parities), OUT/grads.npz
(the layer's TF gradient and jax.grad, leaf by leaf), OUT/x.npy, OUT/y.npy
and OUT/expected.npy (data and the trained model's outputs) and three
SavedModels (OUT/saved, OUT/exported, OUT/keras_sm), which the test reloads
in a process without JAX.
"""
import json
import os

assert os.environ.get("TF_USE_LEGACY_KERAS") == "1", "run with TF_USE_LEGACY_KERAS=1"

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import jax2tf_impl  # noqa: E402

keras = tf.keras  # tf-keras here: the Keras its users build models with


class CNN(nn.Module):
  """Flax's own layers, random init."""

  @nn.compact
  def __call__(self, x):
    x = nn.relu(nn.Conv(4, (3, 3))(x))
    x = jnp.mean(x, axis=(1, 2))
    return nn.Dense(1)(nn.tanh(nn.Dense(8)(x)))


def apply(params, x):
  """Importable by its path (support.keras_legacy_case:apply) for .keras."""
  return CNN().apply(params, x)


def _data(n=64):
  rng = np.random.RandomState(0)
  x = rng.randn(n, 8, 8, 1).astype(np.float32)
  y = np.tanh(x.mean(axis=(1, 2, 3)) * 4.0)[:, None].astype(np.float32)
  return x, y


def _max_diff(a, b):
  return float(np.abs(np.asarray(a) - np.asarray(b)).max())


def main(out_dir: str) -> None:
  assert keras.layers.Layer.__module__.startswith("tf_keras."), keras
  params = CNN().init(jax.random.PRNGKey(0), jnp.ones((1, 8, 8, 1), jnp.float32))
  x, y = _data()
  layer = jax2tf_impl.JaxLayer(apply, params, name="jax")
  assert isinstance(layer, keras.layers.Layer)
  model = keras.Sequential([keras.Input((8, 8, 1)), layer])
  report = {"n_weights": len(model.trainable_variables)}

  # The layer's gradient is jax.grad's.
  with tf.GradientTape() as tape:
    loss = tf.reduce_mean(tf.square(model(x) - y))
  got = tape.gradient(loss, model.trainable_variables)
  want = jax.tree_util.tree_leaves(jax.grad(
      lambda p: jnp.mean(jnp.square(apply(p, x) - y)))(params))
  np.savez(os.path.join(out_dir, "grads.npz"),
           **{f"got_{i}": np.asarray(g) for i, g in enumerate(got)},
           **{f"want_{i}": np.asarray(w) for i, w in enumerate(want)})

  model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
  history = model.fit(x, y, batch_size=16, epochs=8, shuffle=False,
                      verbose=0)
  report["losses"] = [float(v) for v in history.history["loss"]]
  expected = np.asarray(model.predict(x, verbose=0))
  # The trained weights are the JAX params the layer runs on.
  trained = jax.tree_util.tree_unflatten(
      jax.tree_util.tree_structure(params),
      [w.numpy() for w in layer.weights])
  report["trained_params_parity"] = _max_diff(apply(trained, x), expected)

  # tf-keras' own formats (these reload through from_config: JAX needed).
  for fmt in ("m.keras", "m.h5"):
    path = os.path.join(out_dir, fmt)
    model.save(path)
    loaded = keras.models.load_model(path)
    report[fmt] = _max_diff(loaded.predict(x, verbose=0), expected)

  # SavedModels, which run without JAX: tf.saved_model.save, model.export
  # and tf-keras' own SavedModel format (which tf-keras revives as a model).
  tf.saved_model.save(model, os.path.join(out_dir, "saved"))
  model.export(os.path.join(out_dir, "exported"))
  model.save(os.path.join(out_dir, "keras_sm"), save_format="tf")
  np.save(os.path.join(out_dir, "x.npy"), x)
  np.save(os.path.join(out_dir, "y.npy"), y)
  np.save(os.path.join(out_dir, "expected.npy"), expected)
  with open(os.path.join(out_dir, "report.json"), "w") as f:
    json.dump(report, f)
