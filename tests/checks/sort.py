"""Harness knowledge for sort, top_k and approx_top_k.

Two of these have non-unique results, so they get property checks:
  * sort with is_stable=False: XLA on CPU uses an unstable std::sort, so
    elements with equal keys may come out in any order. We check that the
    keys are JAX's sorted keys and that every output row (all operands
    together) is a permutation of the input rows.
  * approx_top_k: XLA's CPU fallback sorts with an unstable sort too, so
    among equal values (frequent in bf16/f16) any index is right. We check
    the values are JAX's and that the indices are distinct and point at
    those values.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from support.harness import Limitation, assert_same


def _rows(arrays: list[np.ndarray], axis: int) -> list[tuple]:
  """The multiset of rows along `axis`: one tuple per (other index, position)."""
  moved = [np.moveaxis(np.asarray(a), axis, -1) for a in arrays]
  flat = [m.reshape(-1, m.shape[-1]) if m.ndim else m.reshape(1, 1)
          for m in moved]
  out = []
  for b in range(flat[0].shape[0]):
    row = sorted(tuple(f[b, j].tobytes() for f in flat)
                 for j in range(flat[0].shape[1]))
    out.append(row)
  return out


def _check_sort(harness: Any, args: list[Any], jax_outs: list[np.ndarray],
                tf_outs: list[np.ndarray]) -> None:
  params = harness.params
  if params.get("is_stable", False):
    assert_same(harness, jax_outs, tf_outs)
    return
  num_keys = params["num_keys"]
  axis = params["dimension"] % len(params["shape"])
  assert len(jax_outs) == len(tf_outs)
  # Keys: JAX's sorted order (equal values compare equal, -0.0 == 0.0).
  assert_same(harness, jax_outs[:num_keys], tf_outs[:num_keys])
  for j, t in zip(jax_outs, tf_outs):
    assert j.dtype == t.dtype and j.shape == t.shape, (j.dtype, t.dtype)
  # Every output row is an input row, each used once.
  assert _rows(tf_outs, axis) == _rows(list(args), axis), \
      "sort output is not a permutation of the input rows"


def _check_approx_top_k(harness: Any, args: list[Any],
                        jax_outs: list[np.ndarray],
                        tf_outs: list[np.ndarray]) -> None:
  (operand,) = [np.asarray(a) for a in args]
  jax_vals, jax_idx = jax_outs
  tf_vals, tf_idx = tf_outs
  assert tf_vals.dtype == jax_vals.dtype and tf_vals.shape == jax_vals.shape
  assert tf_idx.dtype == jax_idx.dtype and tf_idx.shape == jax_idx.shape
  np.testing.assert_array_equal(tf_vals, jax_vals)
  # The harness reduces along the last dimension.
  picked = np.take_along_axis(operand, tf_idx.astype(np.int64), axis=-1)
  np.testing.assert_array_equal(picked, tf_vals)
  flat = tf_idx.reshape(-1, tf_idx.shape[-1])
  for row in flat:
    assert len(set(row.tolist())) == len(row), "repeated index in approx_top_k"


CHECKS = {
    "sort": _check_sort,
    "approx_top_k": _check_approx_top_k,
}

# With enable_xla=False, top_k's float keys are built without a bit cast
# (ONNX has none), so the sign of a NaN is invisible: -NaN ranks as +NaN
# (first) instead of last (rules/sort.py, _portable_float_keys).
LIMITATIONS = [
    Limitation(group="top_k", name_regex="inf_nan", modes=("noxla", "noxla_jit"),
               reason="enable_xla=False: -NaN ranks like +NaN in top_k (no "
                      "bit cast to read a NaN's sign in ONNX/TFLite-"
                      "portable ops)"),
]
