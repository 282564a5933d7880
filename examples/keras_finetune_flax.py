"""Fine-tune a Flax model with Keras `model.fit` (TensorFlow backend).

A Flax CNN is initialized (or trained) in JAX; `jax2tf_impl.JaxLayer` wraps
its apply function and params as a Keras layer whose weights are the Flax
params; Keras trains them with the converted JAX gradient on synthetic
data; the model is exported as a SavedModel that serves without JAX.

    python examples/keras_finetune_flax.py --epochs 3 --out /tmp/ft
"""
import argparse
import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import jax2tf_impl  # noqa: E402


class CNN(nn.Module):
  """A small version of flax/examples/mnist's CNN."""

  @nn.compact
  def __call__(self, x):
    x = nn.relu(nn.Conv(features=8, kernel_size=(3, 3))(x))
    x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
    x = x.reshape((x.shape[0], -1))
    return nn.Dense(features=10)(x)


def apply(params, images):
  return CNN().apply(params, images)


def synthetic_data(n, seed=0):
  """Images whose label is the brightest of 10 horizontal bands."""
  rng = np.random.RandomState(seed)
  labels = rng.randint(0, 10, n)
  images = rng.uniform(0, 0.3, (n, 20, 20, 1)).astype(np.float32)
  for i, label in enumerate(labels):
    images[i, 2 * label:2 * label + 2] += 0.7
  return images, labels.astype(np.int32)


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--epochs", type=int, default=5)
  parser.add_argument("--out", default="/tmp/keras_finetune_flax")
  parser.add_argument("--results-json", default=None)
  args = parser.parse_args()

  x, y = synthetic_data(256)
  params = CNN().init(jax.random.PRNGKey(0), jnp.zeros((1, 20, 20, 1)))
  params = jax.tree_util.tree_map(lambda v: np.asarray(v, np.float32), params)

  model = keras.Sequential([
      keras.Input((20, 20, 1)),
      jax2tf_impl.JaxLayer(apply, params, name="flax_cnn"),
  ])
  model.compile(optimizer=keras.optimizers.Adam(1e-2),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"])
  history = model.fit(x, y, batch_size=32, epochs=args.epochs, verbose=2)

  os.makedirs(args.out, exist_ok=True)
  saved = os.path.join(args.out, "saved_model")
  model.export(saved, format="tf_saved_model", verbose=False)
  reloaded = tf.saved_model.load(saved)
  parity = float(np.max(np.abs(reloaded.serve(x[:8]).numpy()
                               - model.predict(x[:8], verbose=0))))
  print(f"loss {history.history['loss'][0]:.3f} -> "
        f"{history.history['loss'][-1]:.3f}; SavedModel parity {parity:.2e}")
  if args.results_json:
    with open(args.results_json, "w") as f:
      json.dump({"initial_loss": history.history["loss"][0],
                 "final_loss": history.history["loss"][-1],
                 "reload_parity": parity}, f)


if __name__ == "__main__":
  main()
