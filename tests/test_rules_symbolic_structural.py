"""Structural primitives with symbolic sizes: tile with a symbolic repeat
count (Keras ViT class token), broadcast_in_dim / reshape / iota to
symbolic shapes, and a Keras ViT-style model under a polymorphic batch."""
import os
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
from jax import lax

from support.noxla_compare import MODES4, check

RNG = np.random.RandomState(0)


def _f32(*shape):
  return RNG.randn(*shape).astype(np.float32)


def _check_sizes(f, spec, make_args, sizes=(1, 3)):
  """One conversion, called at several sizes of the symbolic dimension."""
  for mode in MODES4:
    for n in sizes:
      check(f, mode, *make_args(n), polymorphic_shapes=spec)


def test_tile_symbolic_repeats():
  f = lambda x: jnp.tile(x, (x.shape[0], 2))
  _check_sizes(f, "(b, _)", lambda n: (_f32(n, 3),))
  g = lambda x, tok: jnp.concatenate(
      [lax.tile_p.bind(tok, reps=(x.shape[0], 1, 1)), x], axis=1)
  _check_sizes(g, ["(b, _, _)", None], lambda n: (_f32(n, 4, 8), _f32(1, 1, 8)))


def test_broadcast_reshape_iota_symbolic():
  f = lambda x: (jnp.broadcast_to(x[:, None, :], (x.shape[0], 2, x.shape[1])),
                 x.reshape(-1), x.reshape(x.shape[0] * x.shape[1] // 2, 2),
                 jnp.arange(x.shape[0]) + x.shape[1],
                 lax.broadcasted_iota(jnp.int32, (x.shape[0], 3), 0))
  _check_sizes(f, "(b, 2*c)", lambda n: (_f32(n, 4),), sizes=(1, 2))


def test_keras_tile_and_vit_polymorphic_batch_in_subprocess():
  """Keras reads KERAS_BACKEND once, at its first import, and importing
  TensorFlow (conftest.py) already imports Keras with the TF backend; so
  the Keras checks (support/keras_vit_case.py) run in a fresh interpreter with
  KERAS_BACKEND=jax."""
  here = os.path.dirname(os.path.abspath(__file__))
  env = dict(os.environ, KERAS_BACKEND="jax",
             PYTHONPATH=os.pathsep.join(
                 [os.path.dirname(here), here,
                  os.environ.get("PYTHONPATH", "")]))
  script = os.path.join(here, "support", "keras_vit_case.py")
  proc = subprocess.run([sys.executable, script],
                        env=env, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
  assert "keras checks passed: 2" in proc.stdout, proc.stdout[-3000:]
