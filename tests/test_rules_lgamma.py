"""lgamma and digamma against jax.jit at JAX's own tolerances (float32 1e-6,
float64 1e-15, atol = rtol) in the four modes, over a wide grid per dtype:
tiny, negative non-integers near the poles, large up to overflow, +-inf,
NaN, +-0 and negative integers.

Outside jit_compile the rules evaluate XLA's expansions step for step (see
rules/special.py); TF's own Lgamma/Digamma kernels are other algorithms and
miss these tolerances (by up to ~5x in float32)."""
import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf
from jax import lax

import jax2tf_impl
from support.jit_compare import MODES4, assert_matches_jit
from support.tf_testing import concrete_op_types

DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16]


def _grid(dtype) -> np.ndarray:
  finfo = np.finfo(dtype)
  tiny, big = float(finfo.tiny), float(finfo.max)
  poles = np.arange(-40.0, 1.0)
  with np.errstate(over="ignore"):  # geomspace's last power at max float64
    return _grid_parts(tiny, big, poles, float(finfo.eps)).astype(dtype)


def _grid_parts(tiny: float, big: float, poles: np.ndarray,
                eps: float) -> np.ndarray:
  parts = [
      np.linspace(-30, 30, 6001),
      np.geomspace(tiny, 1e3, 600), -np.geomspace(tiny, 1e3, 600),
      np.geomspace(1e3, big, 600), -np.geomspace(1e3, big, 60),
      poles, poles + 1e-3, poles - 1e-3, poles + 0.5,
      poles * (1 + 4 * eps), poles * (1 - 4 * eps),
      [np.inf, -np.inf, np.nan, 0.0, -0.0, 0.5, 1.0, 2.0, 1.4616321449683622,
       2.4e32, 1e38, big],
  ]
  return np.concatenate([np.asarray(p, np.float64) for p in parts])


@pytest.mark.parametrize("mode", MODES4)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("fn", [lax.lgamma, lax.digamma],
                         ids=lambda f: f.__name__)
def test_matches_jax_at_its_tolerance(fn, dtype, mode):
  assert_matches_jit(fn, mode, _grid(dtype))


@pytest.mark.parametrize("mode", ["eager", "graph", "noxla"])
def test_grappler_keeps_the_float64_roundings(mode):
  """The float64 path extracts rounding errors exactly (two_product, the
  double-double log): grappler's rewrites of (1 + s) - 1, Add chains and
  divisions by constants would change digits. Inside tf.function the
  results must equal JAX's bit for bit on most of the grid, and the
  mismatches be 1-ulp-level (a broken error term shows up as many)."""
  x = np.linspace(-8, 8, 4001)
  x = x[np.abs(x - np.round(x)) > 1e-9]
  for fn in (lax.lgamma, lax.digamma):
    want, got = assert_matches_jit(fn, mode, x)
    differ = np.mean(np.asarray(want) != np.asarray(got))
    assert differ < 0.02, (fn.__name__, differ)


def test_jit_compile_keeps_tf_op():
  """Under jit_compile TF's own Lgamma/Digamma (XLA lowers them to the
  same expansions JAX runs), not the expansion (whose sin/cos would show)."""
  f = tf.function(jax2tf_impl.convert(lambda v: (lax.lgamma(v),
                                                 lax.digamma(v))),
                  jit_compile=True, autograph=False)
  ops = concrete_op_types(f.get_concrete_function(
      tf.TensorSpec([3], tf.float32)))
  assert {"Lgamma", "Digamma"} <= set(ops), ops
  assert not {"Sin", "Cos"} & set(ops), ops
