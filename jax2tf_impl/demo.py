"""Demo: a small CNN in pure JAX -> TF -> SavedModel -> reloaded without JAX.

Run with `python -m jax2tf_impl.demo` (or the `jax2tf-impl-demo` script).
Prints the max |JAX - TF| for the converted function eagerly, under
tf.function, under tf.function(jit_compile=True), and from the SavedModel
reloaded in a fresh Python process in which importing JAX is impossible.
Exits non-zero if any difference exceeds the tolerance.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from jax import lax  # noqa: E402

import jax2tf_impl  # noqa: E402

TOLERANCE = 1e-4


def init_cnn(seed: int = 0) -> dict[str, Any]:
  """Parameters of a LeNet-style CNN for 28x28x1 images, 10 classes."""
  rng = np.random.RandomState(seed)

  def normal(*shape: int) -> np.ndarray:
    fan_in = int(np.prod(shape[:-1]))
    return (rng.randn(*shape) / np.sqrt(fan_in)).astype(np.float32)

  return {
      "conv1": {"w": normal(3, 3, 1, 8), "b": np.zeros(8, np.float32)},
      "conv2": {"w": normal(3, 3, 8, 16), "b": np.zeros(16, np.float32)},
      "dense": {"w": normal(7 * 7 * 16, 10), "b": np.zeros(10, np.float32)},
  }


def _conv(x: jax.Array, p: dict[str, Any]) -> jax.Array:
  y = lax.conv_general_dilated(x, p["w"], (1, 1), "SAME",
                               dimension_numbers=("NHWC", "HWIO", "NHWC"))
  return jax.nn.relu(y + p["b"])


def _max_pool(x: jax.Array) -> jax.Array:
  return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1),
                           "VALID")


def cnn(params: dict[str, Any], images: jax.Array) -> jax.Array:
  """Class probabilities for a batch of NHWC images."""
  x = _max_pool(_conv(images, params["conv1"]))
  x = _max_pool(_conv(x, params["conv2"]))
  x = x.reshape((x.shape[0], -1))
  logits = x @ params["dense"]["w"] + params["dense"]["b"]
  return jax.nn.softmax(logits)


_RELOAD_SCRIPT = r"""
import sys, builtins
_real_import = builtins.__import__
def _no_jax(name, *args, **kwargs):
  if name == "jax" or name.startswith("jax.") or name == "jaxlib":
    raise ImportError("JAX is deliberately unavailable in this process")
  return _real_import(name, *args, **kwargs)
builtins.__import__ = _no_jax
import numpy as np, tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
images = np.load(sys.argv[2])
np.save(sys.argv[3], model.predict(images).numpy())
"""


def main() -> int:
  params = init_cnn()
  images = np.random.RandomState(1).rand(8, 28, 28, 1).astype(np.float32)
  expected = np.asarray(jax.jit(cnn)(params, images))

  converted = jax2tf_impl.convert(cnn, polymorphic_shapes=[None, "(b, 28, 28, 1)"])
  results = {
      "eager": converted(params, images),
      "tf.function": tf.function(converted, autograph=False)(params, images),
      "tf.function(jit_compile=True)": tf.function(
          converted, autograph=False, jit_compile=True)(params, images),
  }

  module = tf.Module()
  module.params = tf.nest.map_structure(tf.Variable, params)
  module.predict = tf.function(
      lambda x: converted(module.params, x), autograph=False,
      input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32)])
  with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "cnn_saved_model")
    jax2tf_impl.saved_model.save(module, path)
    np.save(os.path.join(tmp, "images.npy"), images)
    out_file = os.path.join(tmp, "out.npy")
    subprocess.run([sys.executable, "-c", _RELOAD_SCRIPT, path,
                    os.path.join(tmp, "images.npy"), out_file], check=True)
    results["SavedModel, fresh process without JAX"] = np.load(out_file)

  print(f"CNN: {sum(np.size(v) for v in jax.tree_util.tree_leaves(params))} "
        f"parameters, input {images.shape}, output {expected.shape}")
  worst = 0.0
  for name, value in results.items():
    err = float(np.max(np.abs(np.asarray(value) - expected)))
    worst = max(worst, err)
    print(f"max |JAX - TF| {name:40s} {err:.3e}")
  ok = worst <= TOLERANCE
  print("PARITY OK" if ok else f"PARITY FAILED (tolerance {TOLERANCE})")
  return 0 if ok else 1


if __name__ == "__main__":
  sys.exit(main())
