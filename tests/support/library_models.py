"""Models built from the libraries' own layers (their public example models),
as `(params pytree, fn(params, x), x)`: the params go to converted functions
as they are (FrozenDict, nnx State + GraphDef, eqx.Module with function
leaves, Haiku dicts, optax states, registered dataclasses, namedtuples).

Each builder imports its library lazily, so a missing test extra skips only
its case.
"""
import collections
import dataclasses

import numpy as np

Case = collections.namedtuple("Case", "params fn x spec")


def _images(shape, seed=0):
  return np.random.RandomState(seed).uniform(0, 1, shape).astype(np.float32)


def linen_cnn():
  """flax/examples/mnist's CNN, params as a FrozenDict."""
  import flax  # pylint: disable=g-import-not-at-top
  import flax.linen as nn  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top

  class CNN(nn.Module):
    @nn.compact
    def __call__(self, x):
      x = nn.relu(nn.Conv(features=32, kernel_size=(3, 3))(x))
      x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
      x = nn.relu(nn.Conv(features=64, kernel_size=(3, 3))(x))
      x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
      x = x.reshape((x.shape[0], -1))
      x = nn.relu(nn.Dense(features=256)(x))
      return nn.Dense(features=10)(x)

  x = _images((2, 28, 28, 1))
  model = CNN()
  params = flax.core.freeze(model.init(jax.random.PRNGKey(0), x))
  return Case(params, model.apply, x, "(b, 28, 28, 1)")


def nnx_cnn():
  """The Flax NNX MNIST tutorial's CNN, as (GraphDef, State) from nnx.split."""
  from functools import partial  # pylint: disable=g-import-not-at-top
  from flax import nnx  # pylint: disable=g-import-not-at-top

  class CNN(nnx.Module):
    def __init__(self, *, rngs):
      self.conv1 = nnx.Conv(1, 32, kernel_size=(3, 3), rngs=rngs)
      self.conv2 = nnx.Conv(32, 64, kernel_size=(3, 3), rngs=rngs)
      self.avg_pool = partial(nnx.avg_pool, window_shape=(2, 2), strides=(2, 2))
      self.linear1 = nnx.Linear(3136, 256, rngs=rngs)
      self.linear2 = nnx.Linear(256, 10, rngs=rngs)

    def __call__(self, x):
      x = self.avg_pool(nnx.relu(self.conv1(x)))
      x = self.avg_pool(nnx.relu(self.conv2(x)))
      x = x.reshape(x.shape[0], -1)
      return self.linear2(nnx.relu(self.linear1(x)))

  graphdef, state = nnx.split(CNN(rngs=nnx.Rngs(0)))

  def apply(params, x):
    return nnx.merge(*params)(x)

  return Case((graphdef, state), apply, _images((2, 28, 28, 1)),
              "(b, 28, 28, 1)")


def eqx_cnn():
  """Equinox's MNIST CNN example: a list of layers with jax.nn functions
  (non-array leaves) between them; the model itself is the argument."""
  import equinox as eqx  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  class CNN(eqx.Module):
    layers: list

    def __init__(self, key):
      key1, key2, key3, key4 = jax.random.split(key, 4)
      self.layers = [
          eqx.nn.Conv2d(1, 3, kernel_size=4, key=key1),
          eqx.nn.MaxPool2d(kernel_size=2),
          jax.nn.relu,
          jnp.ravel,
          eqx.nn.Linear(1728, 512, key=key2),
          jax.nn.sigmoid,
          eqx.nn.Linear(512, 64, key=key3),
          jax.nn.relu,
          eqx.nn.Linear(64, 10, key=key4),
          jax.nn.log_softmax,
      ]

    def __call__(self, x):
      for layer in self.layers:
        x = layer(x)
      return x

  def apply(model, x):
    return jax.vmap(model)(x)

  return Case(CNN(jax.random.PRNGKey(0)), apply, _images((2, 1, 28, 28)),
              "(b, 1, 28, 28)")


def haiku_mlp():
  """dm-haiku's MNIST example network (Flatten + nets.MLP)."""
  import haiku as hk  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top

  def net(x):
    return hk.Sequential([hk.Flatten(), hk.nets.MLP([300, 100, 10])])(x)

  model = hk.without_apply_rng(hk.transform(net))
  x = _images((2, 28, 28, 1))
  return Case(model.init(jax.random.PRNGKey(0), x), model.apply, x,
              "(b, 28, 28, 1)")


def optax_adam_step():
  """One optax.adam step of the Haiku MLP: (params, opt_state) in and out
  (ScaleByAdamState / EmptyState namedtuples, an int32 count)."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top
  base = haiku_mlp()
  opt = optax.adam(1e-3)

  def step(state, x):
    params, opt_state = state

    def loss_fn(p):
      logits = base.fn(p, x)
      labels = jnp.arange(x.shape[0], dtype=jnp.int32) % 10
      return optax.softmax_cross_entropy_with_integer_labels(
          logits, labels).mean()

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = opt.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  return Case((base.params, opt.init(base.params)), step, base.x,
              "(b, 28, 28, 1)")


def dataclass_namedtuple():
  """A dataclass registered with jax.tree_util.register_dataclass (a string
  meta field) holding a namedtuple of arrays, and a Python int leaf."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  Weights = collections.namedtuple("Weights", "w b")

  @dataclasses.dataclass
  class Affine:
    weights: Weights
    scale: int
    activation: str

  jax.tree_util.register_dataclass(Affine, data_fields=["weights", "scale"],
                                   meta_fields=["activation"])
  rng = np.random.RandomState(1)
  params = Affine(Weights(rng.randn(5, 3).astype(np.float32),
                          rng.randn(3).astype(np.float32)), 2, "tanh")

  def apply(p, x):
    y = (x @ p.weights.w + p.weights.b) * p.scale
    return {"y": getattr(jnp, p.activation)(y), "weights": p.weights}

  return Case(params, apply, rng.randn(4, 5).astype(np.float32), "(b, 5)")


BUILDERS = {
    "flax_linen_cnn": ("flax", linen_cnn),
    "flax_nnx_cnn": ("flax", nnx_cnn),
    "equinox_cnn": ("equinox", eqx_cnn),
    "haiku_mlp": ("haiku", haiku_mlp),
    "optax_adam_step": ("optax", optax_adam_step),
    "dataclass_namedtuple": ("jax", dataclass_namedtuple),
}
