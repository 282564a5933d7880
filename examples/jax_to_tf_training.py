"""Train a Flax CNN in JAX, hand it to TensorFlow, keep training there.

The TensorFlow guide "Import a JAX model using JAX2TF", done with
jax2tf_impl: a Flax (linen) CNN with Conv, BatchNorm, Dense and Dropout is
trained for a few hundred steps in JAX with Optax on synthetic MNIST-shaped
data; it is exported as a tf.Module with `predict`, `train_loss` (updates
the batch statistics and advances the dropout RNG), `eval_loss` and
`accuracy`, all batch-polymorphic; saved; reloaded; and trained further in
TF with a Keras optimizer, through the converted JAX gradient. The loss
continues from where JAX left off.

    python examples/jax_to_tf_training.py [--jax-steps 300] [--tf-steps 150]
        [--plot loss.png]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import tensorflow as tf  # noqa: E402

import jax2tf_impl  # noqa: E402

IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


class ConvModel(nn.Module):
  """The guide's CNN, with BatchNorm and Dropout."""

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    x = nn.Conv(features=16, kernel_size=(3, 3))(x)
    x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
    x = nn.relu(x)
    x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
    x = nn.Conv(features=32, kernel_size=(3, 3))(x)
    x = nn.relu(x)
    x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
    x = x.reshape((x.shape[0], -1))
    x = nn.Dense(features=64)(x)
    x = nn.relu(x)
    x = nn.Dropout(rate=0.2, deterministic=not train)(x)
    x = nn.Dense(features=NUM_CLASSES)(x)
    return nn.log_softmax(x)


MODEL = ConvModel()


# --- synthetic MNIST-shaped data ---------------------------------------------

def make_dataset(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """Images of 10 noisy class templates (learnable, nothing downloaded)."""
  templates = np.random.RandomState(1234).rand(NUM_CLASSES, *IMAGE_SHAPE)
  rng = np.random.RandomState(seed)
  labels = rng.randint(0, NUM_CLASSES, n).astype(np.int32)
  images = templates[labels] * 0.25 + rng.rand(n, *IMAGE_SHAPE) * 1.0
  return images.astype(np.float32), labels


def batches(images: np.ndarray, labels: np.ndarray, batch_size: int,
            seed: int):
  rng = np.random.RandomState(seed)
  while True:
    idx = rng.randint(0, len(images), batch_size)
    yield images[idx], labels[idx]


# --- the pure JAX functions that get converted ---------------------------------

def _nll(log_probs: jax.Array, labels: jax.Array) -> jax.Array:
  one_hot = jax.nn.one_hot(labels, NUM_CLASSES)
  return -jnp.mean(jnp.sum(one_hot * log_probs, axis=-1))


def predict(params: Any, batch_stats: Any, images: jax.Array) -> jax.Array:
  return MODEL.apply({"params": params, "batch_stats": batch_stats}, images,
                     train=False)


def train_loss(params: Any, batch_stats: Any, key_data: jax.Array,
               images: jax.Array, labels: jax.Array):
  """Training-mode loss, the updated batch statistics and the next RNG key."""
  key = jax.random.wrap_key_data(key_data)
  dropout_key, next_key = jax.random.split(key)
  log_probs, updates = MODEL.apply(
      {"params": params, "batch_stats": batch_stats}, images, train=True,
      rngs={"dropout": dropout_key}, mutable=["batch_stats"])
  return (_nll(log_probs, labels), updates["batch_stats"],
          jax.random.key_data(next_key))


def eval_loss(params: Any, batch_stats: Any, images: jax.Array,
              labels: jax.Array) -> jax.Array:
  return _nll(predict(params, batch_stats, images), labels)


def accuracy(params: Any, batch_stats: Any, images: jax.Array,
             labels: jax.Array) -> jax.Array:
  preds = jnp.argmax(predict(params, batch_stats, images), axis=-1)
  return jnp.mean((preds == labels).astype(jnp.float32))


# --- phase 1: JAX + Optax ---------------------------------------------------------

def train_in_jax(steps: int, batch_size: int = 64, seed: int = 0,
                 learning_rate: float = 1e-3):
  images, labels = make_dataset(4096, seed=1)
  variables = MODEL.init(jax.random.key(seed), images[:2], train=False)
  params, batch_stats = variables["params"], variables["batch_stats"]
  key_data = jax.random.key_data(jax.random.key(seed + 1))
  optimizer = optax.adam(learning_rate)
  opt_state = optimizer.init(params)

  @jax.jit
  def step(params, batch_stats, key_data, opt_state, x, y):
    (loss, (stats, key)), grads = jax.value_and_grad(
        lambda p: (lambda l, s, k: (l, (s, k)))(
            *train_loss(p, batch_stats, key_data, x, y)), has_aux=True)(params)
    updates, opt_state = optimizer.update(grads, opt_state)
    return optax.apply_updates(params, updates), stats, key, opt_state, loss

  losses = []
  data = batches(images, labels, batch_size, seed=2)
  for _ in range(steps):
    x, y = next(data)
    params, batch_stats, key_data, opt_state, loss = step(
        params, batch_stats, key_data, opt_state, x, y)
    losses.append(float(loss))
  return params, batch_stats, np.asarray(key_data), losses


# --- export --------------------------------------------------------------------

class ExportedModel(tf.Module):
  """The JAX model as a tf.Module: variables plus four batch-polymorphic functions."""

  def __init__(self, params: Any, batch_stats: Any, key_data: np.ndarray):
    super().__init__()
    self.params = tf.nest.map_structure(tf.Variable, params)
    self.batch_stats = tf.nest.map_structure(
        lambda a: tf.Variable(a, trainable=False), batch_stats)
    self.rng = tf.Variable(key_data, trainable=False)
    img = "(b, 28, 28, 1)"
    self._predict = jax2tf_impl.convert(predict, polymorphic_shapes=[None, None, img])
    self._train_loss = jax2tf_impl.convert(
        train_loss, polymorphic_shapes=[None, None, None, img, "(b,)"])
    self._eval_loss = jax2tf_impl.convert(
        eval_loss, polymorphic_shapes=[None, None, img, "(b,)"])
    self._accuracy = jax2tf_impl.convert(
        accuracy, polymorphic_shapes=[None, None, img, "(b,)"])

  _IMAGES = tf.TensorSpec([None, *IMAGE_SHAPE], tf.float32)
  _LABELS = tf.TensorSpec([None], tf.int32)

  @tf.function(autograph=False, input_signature=[_IMAGES])
  def predict(self, images):
    return self._predict(self.params, self.batch_stats, images)

  @tf.function(autograph=False, input_signature=[_IMAGES, _LABELS])
  def train_loss(self, images, labels):
    loss, new_stats, next_key = self._train_loss(
        self.params, self.batch_stats, self.rng, images, labels)
    tf.nest.map_structure(lambda v, s: v.assign(s), self.batch_stats,
                          _plain(new_stats))
    self.rng.assign(next_key)
    return loss

  @tf.function(autograph=False, input_signature=[_IMAGES, _LABELS])
  def eval_loss(self, images, labels):
    return self._eval_loss(self.params, self.batch_stats, images, labels)

  @tf.function(autograph=False, input_signature=[_IMAGES, _LABELS])
  def accuracy(self, images, labels):
    return self._accuracy(self.params, self.batch_stats, images, labels)


def _plain(tree: Any) -> Any:
  """Nested dicts of tensors (matching tf.Module's wrapped dicts)."""
  if isinstance(tree, dict):
    return {k: _plain(v) for k, v in tree.items()}
  return tree


# --- phase 2: TF + Keras optimizer on the reloaded SavedModel -------------------

def train_in_tf(model: Any, steps: int, batch_size: int = 64,
                learning_rate: float = 1e-3) -> list[float]:
  images, labels = make_dataset(4096, seed=1)
  trainable = tf.nest.flatten(model.params)
  optimizer = tf.keras.optimizers.Adam(learning_rate)

  @tf.function(autograph=False)
  def step(x, y):
    with tf.GradientTape() as tape:
      loss = model.train_loss(x, y)
    grads = tape.gradient(loss, trainable)
    optimizer.apply_gradients(zip(grads, trainable))
    return loss

  data = batches(images, labels, batch_size, seed=3)
  losses = []
  for _ in range(steps):
    x, y = next(data)
    losses.append(float(step(tf.constant(x), tf.constant(y))))
  return losses


def plot(jax_losses: list[float], tf_losses: list[float], path: str) -> None:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(7, 4))
  n = len(jax_losses)
  ax.plot(range(n), jax_losses, label="JAX + Optax")
  ax.plot(range(n, n + len(tf_losses)), tf_losses,
          label="TF + Keras (reloaded SavedModel)")
  ax.axvline(n, color="gray", linestyle=":")
  ax.set_xlabel("training step")
  ax.set_ylabel("training loss")
  ax.set_yscale("log")
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=100)


def _window_mean(xs: list[float], n: int = 20) -> float:
  return float(np.mean(xs[:n])) if n > 0 else float("nan")


def main(argv: list[str] | None = None) -> dict[str, Any]:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--jax-steps", type=int, default=300)
  parser.add_argument("--tf-steps", type=int, default=150)
  parser.add_argument("--plot", default="jax_to_tf_training.png")
  parser.add_argument("--saved-model", default=None,
                      help="where to save (default: a temporary directory)")
  parser.add_argument("--results-json", default=None,
                      help="also write the loss curves and accuracies here")
  opts = parser.parse_args(argv)

  params, batch_stats, key_data, jax_losses = train_in_jax(opts.jax_steps)
  test_x, test_y = make_dataset(512, seed=7)
  jax_acc = float(accuracy(params, batch_stats, test_x, test_y))

  module = ExportedModel(params, batch_stats, key_data)
  tmp = tempfile.mkdtemp() if opts.saved_model is None else opts.saved_model
  path = os.path.join(tmp, "cnn")
  jax2tf_impl.saved_model.save(module, path)
  reloaded = tf.saved_model.load(path)
  parity = float(np.max(np.abs(reloaded.predict(test_x).numpy() -
                               np.asarray(predict(params, batch_stats, test_x)))))

  tf_losses = train_in_tf(reloaded, opts.tf_steps)
  tf_acc = float(reloaded.accuracy(test_x, test_y))
  tf_eval = float(reloaded.eval_loss(test_x, test_y))

  print("step  phase  loss")
  for i in list(range(0, len(jax_losses), 25)) + [len(jax_losses) - 1]:
    print(f"{i:4d}  JAX    {jax_losses[i]:.4f}")
  for i in list(range(0, len(tf_losses), 25)) + [len(tf_losses) - 1]:
    print(f"{len(jax_losses) + i:4d}  TF     {tf_losses[i]:.4f}")
  print(f"JAX loss: first {jax_losses[0]:.4f}, last {jax_losses[-1]:.4f}; "
        f"TF loss: first {tf_losses[0]:.4f}, last {tf_losses[-1]:.4f}")
  print(f"test accuracy after JAX: {jax_acc:.3f}; after TF: {tf_acc:.3f}; "
        f"TF eval loss {tf_eval:.4f}; max |JAX - TF| predict {parity:.2e}")
  if opts.plot:
    plot(jax_losses, tf_losses, opts.plot)
    print(f"loss curves written to {opts.plot}")
  results = {"jax_losses": [float(v) for v in jax_losses],
             "tf_losses": [float(v) for v in tf_losses],
             "jax_accuracy": jax_acc, "tf_accuracy": tf_acc,
             "predict_parity": parity}
  if opts.results_json:
    with open(opts.results_json, "w") as f:
      json.dump(results, f)
  return results


if __name__ == "__main__":
  main()
  sys.exit(0)
