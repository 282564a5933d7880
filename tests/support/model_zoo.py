"""Real models of our own, in pure JAX, for end-to-end conversion tests.

Each entry of MODELS is a `Model`: parameters, an apply function, a maker of
example inputs at a given size, and polymorphic specs (batch-polymorphic and
a harder one that fits the model). Inputs are synthetic (no downloads).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


def _dense(rng: np.random.RandomState, m: int, n: int) -> dict[str, np.ndarray]:
  return {"w": (rng.randn(m, n) / np.sqrt(m)).astype(np.float32),
          "b": (rng.randn(n) * 0.01).astype(np.float32)}


def _conv_p(rng: np.random.RandomState, kh: int, kw: int, cin: int,
            cout: int) -> dict[str, np.ndarray]:
  return {"w": (rng.randn(kh, kw, cin, cout) / np.sqrt(kh * kw * cin)
                ).astype(np.float32),
          "b": (rng.randn(cout) * 0.01).astype(np.float32)}


def dense(p: dict[str, Any], x: jax.Array) -> jax.Array:
  return x @ p["w"] + p["b"]


def conv(p: dict[str, Any], x: jax.Array, stride: int = 1,
         padding: str = "SAME") -> jax.Array:
  return lax.conv_general_dilated(
      x, p["w"], (stride, stride), padding,
      dimension_numbers=("NHWC", "HWIO", "NHWC")) + p["b"]


def max_pool(x: jax.Array, k: int = 2) -> jax.Array:
  return lax.reduce_window(x, -jnp.inf, lax.max, (1, k, k, 1), (1, k, k, 1),
                           "VALID")


def avg_pool(x: jax.Array, k: int = 2) -> jax.Array:
  s = lax.reduce_window(x, 0.0, lax.add, (1, k, k, 1), (1, k, k, 1), "VALID")
  return s / (k * k)


def batch_norm(p: dict[str, Any], x: jax.Array, eps: float = 1e-5
               ) -> jax.Array:
  """Inference-mode batch norm with running statistics."""
  return (x - p["mean"]) * lax.rsqrt(p["var"] + eps) * p["scale"] + p["bias"]


def _bn_p(rng: np.random.RandomState, c: int) -> dict[str, np.ndarray]:
  return {"mean": (rng.randn(c) * 0.1).astype(np.float32),
          "var": (1.0 + rng.rand(c)).astype(np.float32),
          "scale": (1.0 + rng.randn(c) * 0.1).astype(np.float32),
          "bias": (rng.randn(c) * 0.1).astype(np.float32)}


def layer_norm(p: dict[str, Any], x: jax.Array) -> jax.Array:
  mean = jnp.mean(x, axis=-1, keepdims=True)
  var = jnp.var(x, axis=-1, keepdims=True)
  return (x - mean) * lax.rsqrt(var + 1e-5) * p["scale"] + p["bias"]


# --- CNN with BatchNorm and Dropout -----------------------------------------

def cnn_init(rng):
  return {"c1": _conv_p(rng, 3, 3, 1, 8), "bn1": _bn_p(rng, 8),
          "c2": _conv_p(rng, 3, 3, 8, 16), "bn2": _bn_p(rng, 16),
          "d": _dense(rng, 16, 10)}


def cnn_apply(params, images, key):
  x = jax.nn.relu(batch_norm(params["bn1"], conv(params["c1"], images)))
  x = max_pool(x)
  x = jax.nn.relu(batch_norm(params["bn2"], conv(params["c2"], x)))
  x = jnp.mean(x, axis=(1, 2))  # global average pool: any image size
  keep = jax.random.bernoulli(jax.random.wrap_key_data(key), 0.9, x.shape)
  x = jnp.where(keep, x / 0.9, 0.0)  # dropout, training mode
  return jax.nn.log_softmax(dense(params["d"], x))


# --- ResNet-style ------------------------------------------------------------

def resnet_init(rng):
  return {"stem": _conv_p(rng, 3, 3, 3, 8),
          "b1": {"c1": _conv_p(rng, 3, 3, 8, 8), "c2": _conv_p(rng, 3, 3, 8, 8)},
          "b2": {"c1": _conv_p(rng, 3, 3, 8, 16), "c2": _conv_p(rng, 3, 3, 16, 16),
                 "proj": _conv_p(rng, 1, 1, 8, 16)},
          "head": _dense(rng, 16, 5)}


def resnet_apply(params, images):
  x = jax.nn.relu(conv(params["stem"], images))
  b = params["b1"]
  x = jax.nn.relu(x + conv(b["c2"], jax.nn.relu(conv(b["c1"], x))))
  x = max_pool(x)
  b = params["b2"]
  y = conv(b["c2"], jax.nn.relu(conv(b["c1"], x, stride=2)))
  x = jax.nn.relu(y + conv(b["proj"], x, stride=2))
  x = avg_pool(x)
  return dense(params["head"], jnp.mean(x, axis=(1, 2)))


# --- Transformer LM ----------------------------------------------------------

VOCAB, D_MODEL, HEADS, MAX_LEN = 50, 16, 2, 64


def transformer_init(rng):
  return {"emb": (rng.randn(VOCAB, D_MODEL) * 0.1).astype(np.float32),
          "pos": (rng.randn(MAX_LEN, D_MODEL) * 0.1).astype(np.float32),
          "ln1": {"scale": np.ones(D_MODEL, np.float32),
                  "bias": np.zeros(D_MODEL, np.float32)},
          "qkv": _dense(rng, D_MODEL, 3 * D_MODEL),
          "out": _dense(rng, D_MODEL, D_MODEL),
          "ln2": {"scale": np.ones(D_MODEL, np.float32),
                  "bias": np.zeros(D_MODEL, np.float32)},
          "ff1": _dense(rng, D_MODEL, 32), "ff2": _dense(rng, 32, D_MODEL)}


def transformer_apply(params, tokens):
  b, t = tokens.shape
  x = jnp.take(jnp.asarray(params["emb"]), tokens, axis=0) + lax.dynamic_slice_in_dim(jnp.asarray(params["pos"]), 0, t)
  h = layer_norm(params["ln1"], x)
  q, k, v = jnp.split(dense(params["qkv"], h), 3, axis=-1)
  split = lambda a: a.reshape(b, t, HEADS, D_MODEL // HEADS)
  q, k, v = split(q), split(k), split(v)
  logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(D_MODEL // HEADS)
  mask = jnp.tril(jnp.ones((t, t), bool))
  logits = jnp.where(mask, logits, -1e9)
  att = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(logits), v)
  x = x + dense(params["out"], att.reshape(b, t, D_MODEL))
  x = x + dense(params["ff2"], jax.nn.gelu(dense(params["ff1"],
                                                 layer_norm(params["ln2"], x))))
  return x @ params["emb"].T


# --- LSTMs via scan ----------------------------------------------------------

HID = 12


def _lstm_p(rng, n_in):
  return {"wx": _dense(rng, n_in, 4 * HID), "wh": _dense(rng, HID, 4 * HID)}


def lstm_cell(p, carry, x):
  """One LSTM step: (h, c), x -> (h, c)."""
  h, c = carry
  gates = dense(p["wx"], x) + dense(p["wh"], h)
  i, f, g, o = jnp.split(gates, 4, axis=-1)
  c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
  return jax.nn.sigmoid(o) * jnp.tanh(c), c


def lstm_layer(p, xs, reverse=False):
  """xs: (time, batch, features) -> (time, batch, HID)."""
  batch = xs.shape[1]

  def step(carry, x):
    h, c = lstm_cell(p, carry, x)
    return (h, c), h

  init = (jnp.zeros((batch, HID), xs.dtype), jnp.zeros((batch, HID), xs.dtype))
  (h, _), hs = lax.scan(step, init, xs, reverse=reverse)
  return h, hs


def bilstm_init(rng):
  return {"fw": _lstm_p(rng, 6), "bw": _lstm_p(rng, 6), "out": _dense(rng, 2 * HID, 3)}


def bilstm_apply(params, xs):
  """xs: (batch, time, 6) -> per-step logits (batch, time, 3)."""
  xs = jnp.transpose(xs, (1, 0, 2))
  _, fw = lstm_layer(params["fw"], xs)
  _, bw = lstm_layer(params["bw"], xs, reverse=True)
  out = dense(params["out"], jnp.concatenate([fw, bw], axis=-1))
  return jnp.transpose(out, (1, 0, 2))


def seq2seq_init(rng):
  return {"enc": _lstm_p(rng, 6), "dec": _lstm_p(rng, 6), "out": _dense(rng, HID, 6)}


def seq2seq_apply(params, src, tgt):
  """Teacher-forced encoder-decoder: src (b, t, 6), tgt (b, s, 6)."""
  h, _ = lstm_layer(params["enc"], jnp.transpose(src, (1, 0, 2)))

  def step(carry, x):
    h, c = lstm_cell(params["dec"], carry, x)
    return (h, c), dense(params["out"], h)

  _, ys = lax.scan(step, (h, jnp.zeros_like(h)), jnp.transpose(tgt, (1, 0, 2)))
  return jnp.transpose(ys, (1, 0, 2))


# --- VAE ---------------------------------------------------------------------

def vae_init(rng):
  return {"enc": _dense(rng, 64, 32), "mu": _dense(rng, 32, 4),
          "logvar": _dense(rng, 32, 4), "dec1": _dense(rng, 4, 32),
          "dec2": _dense(rng, 32, 64)}


def vae_apply(params, x, key):
  """Returns reconstruction logits and the ELBO per example."""
  h = jax.nn.relu(dense(params["enc"], x))
  mu, logvar = dense(params["mu"], h), dense(params["logvar"], h)
  eps = jax.random.normal(jax.random.wrap_key_data(key), mu.shape)
  z = mu + jnp.exp(0.5 * logvar) * eps
  logits = dense(params["dec2"], jax.nn.relu(dense(params["dec1"], z)))
  rec = -jnp.sum(jnp.logaddexp(0.0, logits) - x * logits, axis=-1)
  kl = 0.5 * jnp.sum(jnp.exp(logvar) + mu ** 2 - 1.0 - logvar, axis=-1)
  return logits, rec - kl


# --- GNN with segment_sum ------------------------------------------------------

def gnn_init(rng):
  return {"msg": _dense(rng, 8, 8), "upd": _dense(rng, 16, 8), "out": _dense(rng, 8, 2)}


def gnn_apply(params, nodes, senders, receivers):
  """nodes (n, 8) float; senders/receivers (e,) int32 -> graph logits (2,)."""
  n = nodes.shape[0]
  for _ in range(2):
    messages = jax.nn.relu(dense(params["msg"], nodes[senders]))
    agg = jax.ops.segment_sum(messages, receivers, num_segments=n)
    nodes = jax.nn.relu(dense(params["upd"], jnp.concatenate([nodes, agg], -1)))
  return dense(params["out"], jnp.mean(nodes, axis=0))


# --- UNet with conv_transpose -------------------------------------------------

def unet_init(rng):
  return {"d1": _conv_p(rng, 3, 3, 1, 8), "d2": _conv_p(rng, 3, 3, 8, 16),
          "up": _conv_p(rng, 2, 2, 16, 8), "u1": _conv_p(rng, 3, 3, 16, 8),
          "out": _conv_p(rng, 1, 1, 8, 1)}


def unet_apply(params, images):
  d1 = jax.nn.relu(conv(params["d1"], images))
  d2 = jax.nn.relu(conv(params["d2"], max_pool(d1)))
  up = lax.conv_transpose(d2, params["up"]["w"], (2, 2), "SAME",
                          dimension_numbers=("NHWC", "HWIO", "NHWC"))
  up = up + params["up"]["b"]
  u1 = jax.nn.relu(conv(params["u1"], jnp.concatenate([d1, up], axis=-1)))
  return jax.nn.sigmoid(conv(params["out"], u1))


# --- Actor-critic conv net ----------------------------------------------------

def actor_critic_init(rng):
  return {"c1": _conv_p(rng, 3, 3, 4, 8), "c2": _conv_p(rng, 3, 3, 8, 8),
          "pi": _dense(rng, 8, 6), "v": _dense(rng, 8, 1)}


def actor_critic_apply(params, obs):
  x = jax.nn.relu(conv(params["c1"], obs, stride=2))
  x = jax.nn.relu(conv(params["c2"], x, stride=2))
  x = jnp.max(x, axis=(1, 2))
  return jax.nn.softmax(dense(params["pi"], x)), dense(params["v"], x)[..., 0]


# --- Post-processing: top_k / sort / cumsum -----------------------------------

def postproc_apply(scores):
  """scores (b, n): top-5 classes, sorted scores, CDF and argmax."""
  probs = jax.nn.softmax(scores)
  top_v, top_i = lax.top_k(probs, 5)
  sorted_scores = jnp.sort(scores, axis=-1)
  cdf = jnp.cumsum(jnp.sort(probs, axis=-1)[:, ::-1], axis=-1)
  return {"top_v": top_v, "top_i": top_i, "sorted": sorted_scores,
          "cdf": cdf, "argmax": jnp.argmax(scores, axis=-1)}


# --- registry -------------------------------------------------------------------

@dataclasses.dataclass
class Model:
  """A model with input makers for its two polymorphic specs.

  `make_batch(n)` makes inputs with batch size n (for `batch_spec`);
  `make_hard(n)` makes inputs for `hard_spec`, whose dimension variables
  take values depending on n (image sizes, sequence lengths, node counts).
  """
  name: str
  init: Callable[[np.random.RandomState], Any] | None
  apply: Callable[..., Any]
  make_batch: Callable[[int], tuple]
  batch_spec: tuple        # one spec per input (params excluded)
  make_hard: Callable[[int], tuple]
  hard_spec: tuple
  constraints: tuple = ()  # for hard_spec
  sizes: tuple = (1, 2, 5)
  rtol: float = 2e-4

  def params(self) -> Any:
    return None if self.init is None else self.init(np.random.RandomState(0))

  def fun(self) -> Callable[..., Any]:
    """The function of the inputs alone, with parameters closed over."""
    p = self.params()
    if p is None:
      return self.apply
    return lambda *inputs: self.apply(p, *inputs)


def _f32(seed, *shape):
  return np.random.RandomState(seed).randn(*shape).astype(np.float32)


def _key(seed=0):
  return np.array([0, seed], np.uint32)


def _graph_inputs(n_nodes: int, n_edges: int):
  rng = np.random.RandomState(n_nodes * 7 + n_edges)
  return (rng.randn(n_nodes, 8).astype(np.float32),
          rng.randint(0, n_nodes, n_edges).astype(np.int32),
          rng.randint(0, n_nodes, n_edges).astype(np.int32))


MODELS = [
    Model("cnn_bn_dropout", cnn_init, cnn_apply,
          lambda n: (_f32(n, n, 16, 16, 1), _key(n)), ("(b, 16, 16, 1)", None),
          lambda n: (_f32(n, 2, 4 * n, 4 * n, 1), _key(n)),
          ("(_, 4*b, 4*b, _)", None)),
    Model("resnet", resnet_init, resnet_apply,
          lambda n: (_f32(n, n, 16, 16, 3),), ("(b, 16, 16, 3)",),
          lambda n: (_f32(n, 2, 8 * n, 8 * n, 3),), ("(_, 8*b, 8*b, _)",)),
    Model("transformer_lm", transformer_init, transformer_apply,
          lambda n: (np.random.RandomState(n).randint(0, VOCAB, (n, 8)
                                                      ).astype(np.int32),),
          ("(b, 8)",),
          lambda n: (np.random.RandomState(n).randint(0, VOCAB, (n + 1, 3 * n + 1)
                                                      ).astype(np.int32),),
          ("(b, t)",), constraints=(f"t <= {MAX_LEN}",)),
    Model("bilstm", bilstm_init, bilstm_apply,
          lambda n: (_f32(n, n, 7, 6),), ("(b, 7, 6)",),
          lambda n: (_f32(n, n, 2 * n + 1, 6),), ("(b, t, 6)",)),
    Model("seq2seq_lstm", seq2seq_init, seq2seq_apply,
          lambda n: (_f32(n, n, 5, 6), _f32(n + 1, n, 4, 6)),
          ("(b, 5, 6)", "(b, 4, 6)"),
          lambda n: (_f32(n, n, 2 * n + 1, 6), _f32(n + 1, n, n + 2, 6)),
          ("(b, t, 6)", "(b, s, 6)")),
    Model("vae", vae_init, vae_apply,
          lambda n: (np.random.RandomState(n).rand(n, 64).astype(np.float32),
                     _key(n)), ("(b, 64)", None),
          lambda n: (np.random.RandomState(n).rand(3 * n, 64).astype(np.float32),
                     _key(n)), ("(b, 64)", None)),
    Model("gnn", gnn_init, gnn_apply,
          lambda n: _graph_inputs(n + 3, 10), ("(n, 8)", "(10,)", "(10,)"),
          lambda n: _graph_inputs(n + 1, 3 * n), ("(n, 8)", "(e,)", "(e,)")),
    Model("unet", unet_init, unet_apply,
          lambda n: (_f32(n, n, 8, 8, 1),), ("(b, 8, 8, 1)",),
          lambda n: (_f32(n, 2, 4 * n, 4 * n, 1),), ("(_, 4*b, 4*b, _)",)),
    Model("actor_critic", actor_critic_init, actor_critic_apply,
          lambda n: (_f32(n, n, 16, 16, 4),), ("(b, 16, 16, 4)",),
          lambda n: (_f32(n, 2, 4 * n, 4 * n, 4),), ("(_, 4*b, 4*b, _)",)),
    Model("postproc", None, postproc_apply,
          lambda n: (_f32(n, n, 10),), ("(b, 10)",),
          lambda n: (_f32(n, n, n + 5),), ("(b, n)",), constraints=("n >= 5",)),
]

MODELS_BY_NAME = {m.name: m for m in MODELS}
