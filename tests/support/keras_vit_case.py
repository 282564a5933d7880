"""Keras (JAX backend) models converted under a polymorphic batch: run as a
script with KERAS_BACKEND=jax (and tests/ on PYTHONPATH) by
test_rules_symbolic_structural.py (Keras
picks its backend at its first import, and TensorFlow imports it).

Checks: keras.ops.tile of a class token to the symbolic batch size, and a
tiny ViT (patches, class token, positions, attention, MLP) called through
`stateless_call`, in the four modes, plus its TF gradient.
"""
import os
import sys

assert os.environ.get("KERAS_BACKEND") == "jax", "run with KERAS_BACKEND=jax"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

import jax2tf_impl  # noqa: E402
from support.noxla_compare import MODES4, check  # noqa: E402

RNG = np.random.RandomState(0)


def _f32(*shape):
  return RNG.randn(*shape).astype(np.float32)


def check_ops_tile() -> None:
  tok = _f32(1, 1, 8)
  f = lambda x: jnp.concatenate(
      [keras.ops.tile(tok, [x.shape[0], 1, 1]), x], axis=1)
  for mode in MODES4:
    for n in (1, 3):
      check(f, mode, _f32(n, 4, 8), polymorphic_shapes="(b, ...)")


class ClassToken(layers.Layer):
  """Prepends a learned token, tiled to the batch size (as Keras's ViT
  examples do)."""

  def build(self, input_shape):
    self.cls = self.add_weight(shape=(1, 1, input_shape[-1]),
                               initializer="random_normal", name="cls")

  def call(self, x):
    cls = keras.ops.tile(self.cls, [keras.ops.shape(x)[0], 1, 1])
    return keras.ops.concatenate([cls, x], axis=1)


def tiny_vit() -> keras.Model:
  inputs = keras.Input((8, 8, 3))
  x = layers.Conv2D(16, 4, strides=4)(inputs)             # 2x2 patches
  x = layers.Reshape((4, 16))(x)
  x = ClassToken()(x)
  x = x + layers.Embedding(5, 16)(keras.ops.arange(5))   # positions
  y = layers.LayerNormalization()(x)
  y = layers.MultiHeadAttention(num_heads=2, key_dim=8)(y, y)
  x = x + y
  x = x + layers.Dense(16)(layers.Dense(32, activation="gelu")(
      layers.LayerNormalization()(x)))
  return keras.Model(inputs, layers.Dense(10)(x[:, 0]))


def check_vit() -> None:
  keras.utils.set_random_seed(0)
  model = tiny_vit()
  tv = [jnp.asarray(v.value) for v in model.trainable_variables]
  ntv = [jnp.asarray(v.value) for v in model.non_trainable_variables]

  def f(tv, x):
    y, _ = model.stateless_call(tv, ntv, x)
    return y

  spec = [None, "(b, ...)"]
  for mode in MODES4:
    for n in (1, 3):
      check(f, mode, tv, _f32(n, 8, 8, 3), polymorphic_shapes=spec, tol=1e-5)
  loss = lambda tv, x: jnp.mean(f(tv, x) ** 2)
  conv = jax2tf_impl.convert(loss, polymorphic_shapes=spec)
  tf_tv = [tf.Variable(np.asarray(v)) for v in tv]
  step = tf.function(lambda x: conv(tf_tv, x), autograph=False)
  for n in (2, 5):
    x = _f32(n, 8, 8, 3)
    with tf.GradientTape() as tape:
      out = step(tf.constant(x))
    got = tape.gradient(out, tf_tv)
    want = jax.grad(loss)(tv, x)
    np.testing.assert_allclose(out, loss(tv, x), rtol=1e-5)
    for g, w in zip(got, want):
      np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)


if __name__ == "__main__":
  assert keras.backend.backend() == "jax"
  check_ops_tile()
  check_vit()
  print("keras checks passed: 2")
  sys.exit(0)
