"""Harness knowledge for linear algebra (rules/linalg.py, linalg_spectral.py).

Eigenvectors, singular vectors and QR factors are unique only up to phase
(and eigenvalue order for eig), so those groups are checked by their
defining properties instead of equality with JAX's output. Every check
compares against the harness input, so a wrong decomposition fails.
Tolerances scale with the dtype's epsilon and the matrix size.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from support.harness import Limitation

# LU here is unblocked (getf2) while LAPACK's getrf is blocked: same pivots,
# different summation order, so round-off differs by a few ulps times n.
# Triangular solves of f16/bf16 are computed in float32 here; JAX's CPU path
# accumulates in the narrow type.
TOLERANCES = {
    "lu": {"float32": 1e-4, "complex64": 1e-4, "float64": 1e-11,
           "complex128": 1e-11},
    # Entries reach ~300 for the 200x200 cases: 1e-3 absolute is ~3e-6
    # relative to the matrix, the round-off of two summation orders.
    "cholesky": {"float32": 1e-3, "complex64": 1e-3, "float64": 1e-11,
                 "complex128": 1e-11},
    "triangular_solve": {"float32": 1e-4, "complex64": 1e-4,
                         "float16": 3e-2, "bfloat16": 1e-1},
    "tridiagonal_solve": {"float32": 1e-5, "float64": 1e-12},
}

_EPS = {"float16": 1e-3, "bfloat16": 8e-3, "float32": 1.2e-7,
        "complex64": 1.2e-7, "float64": 2.3e-16, "complex128": 2.3e-16}


def _eps(dtype: Any) -> float:
  return _EPS[np.dtype(dtype).name]


def _tol(dtype: Any, n: int) -> float:
  """Backward-error bound for an O(n^3) decomposition, relative to ||A||."""
  return 30 * max(n, 1) * _eps(dtype)


def _wide(x: np.ndarray) -> np.ndarray:
  return np.asarray(x).astype(np.complex128)


def _h(x: np.ndarray) -> np.ndarray:
  return np.conj(np.swapaxes(x, -1, -2))


def _scale(a: np.ndarray) -> float:
  return max(float(np.max(np.abs(a))) if a.size else 0.0, 1.0)


def _assert_small(residual: np.ndarray, bound: float, what: str) -> None:
  err = float(np.max(np.abs(residual))) if residual.size else 0.0
  assert err <= bound, f"{what}: residual {err:.3g} > {bound:.3g}"


def _assert_types(jax_outs: list, tf_outs: list) -> None:
  assert len(jax_outs) == len(tf_outs), (len(jax_outs), len(tf_outs))
  for i, (j, t) in enumerate(zip(jax_outs, tf_outs)):
    assert j.dtype == t.dtype, f"output {i}: dtype {t.dtype} != JAX {j.dtype}"
    assert j.shape == t.shape, f"output {i}: shape {t.shape} != JAX {j.shape}"


def _assert_orthonormal_columns(q: np.ndarray, tol: float, what: str) -> None:
  k = q.shape[-1]
  _assert_small(_h(q) @ q - np.eye(k), tol, f"{what}^H {what} - I")


def _check_qr(harness: Any, args: list, jax_outs: list, tf_outs: list
              ) -> None:
  """Q has orthonormal columns, R is upper triangular, Q R = A."""
  _assert_types(jax_outs, tf_outs)
  a = _wide(args[0])
  q, r = (_wide(x) for x in tf_outs)
  tol = _tol(harness.dtype, max(a.shape[-2:]))
  _assert_orthonormal_columns(q, tol, "Q")
  _assert_small(np.tril(r, -1), 0.0, "R below the diagonal")
  _assert_small(q @ r - a, tol * _scale(a), "Q R - A")


def _check_svd(harness: Any, args: list, jax_outs: list, tf_outs: list
               ) -> None:
  """s equals JAX's (unique, descending); U, V orthonormal; U S Vt = A."""
  _assert_types(jax_outs, tf_outs)
  a = _wide(args[0])
  tol = _tol(harness.dtype, max(a.shape[-2:]))
  s = np.asarray(tf_outs[0], np.float64)
  _assert_small(s - np.asarray(jax_outs[0], np.float64), tol * _scale(a),
                "s - JAX's s")
  assert np.all(np.diff(s, axis=-1) <= 0), "s not descending"
  if len(tf_outs) == 1:
    return
  u, vt = _wide(tf_outs[1]), _wide(tf_outs[2])
  _assert_orthonormal_columns(u, tol, "U")
  _assert_orthonormal_columns(_h(vt), tol, "V")
  k = s.shape[-1]
  recon = (u[..., :, :k] * s[..., None, :]) @ vt[..., :k, :]
  _assert_small(recon - a, tol * _scale(a), "U S Vt - A")


def _check_eigh(harness: Any, args: list, jax_outs: list, tf_outs: list
                ) -> None:
  """w equals JAX's (ascending); V orthonormal; A V = V diag(w)."""
  _assert_types(jax_outs, tf_outs)
  a = _wide(args[0])  # the harness's Hermitian operand
  n = a.shape[-1]
  tol = _tol(harness.dtype, n)
  v, w = _wide(tf_outs[0]), np.asarray(tf_outs[1], np.float64)
  _assert_small(w - np.asarray(jax_outs[1], np.float64), tol * _scale(a),
                "w - JAX's w")
  _assert_orthonormal_columns(v, tol, "V")
  _assert_small(a @ v - v * w[..., None, :], tol * _scale(a), "A V - V w")


def _match_eigenvalues(w_tf: np.ndarray, w_jax: np.ndarray, bound: float
                       ) -> None:
  """Each batch's eigenvalues equal JAX's as multisets (greedy nearest)."""
  if w_tf.size == 0:
    return
  for wt, wj in zip(w_tf.reshape(-1, w_tf.shape[-1]),
                    w_jax.reshape(-1, w_jax.shape[-1])):
    remaining = list(wj)
    for x in wt:
      dists = [abs(x - y) for y in remaining]
      i = int(np.argmin(dists))
      assert dists[i] <= bound, (
          f"eigenvalue {x} has no match in JAX's {wj} (closest {dists[i]:.3g})")
      remaining.pop(i)


def _check_eig(harness: Any, args: list, jax_outs: list, tf_outs: list
               ) -> None:
  """Eigenvalues equal JAX's up to order; A vr = vr w and vl^H A = w vl^H
  for the same w; eigenvectors have unit norm."""
  _assert_types(jax_outs, tf_outs)
  a = _wide(args[0])
  n = a.shape[-1]
  tol = _tol(harness.dtype, n) * 10  # non-normal: eigenvalues less stable
  w = _wide(tf_outs[0])
  _match_eigenvalues(w, _wide(jax_outs[0]), tol * _scale(a))
  vecs = [_wide(v) for v in tf_outs[1:]]
  left = harness.params["compute_left_eigenvectors"]
  right = harness.params["compute_right_eigenvectors"]
  if left:
    vl = vecs.pop(0)
    _assert_small(np.linalg.norm(vl, axis=-2) - 1, tol, "|vl| - 1")
    _assert_small(_h(vl) @ a - w[..., :, None] * _h(vl), tol * _scale(a),
                  "vl^H A - w vl^H")
  if right:
    vr = vecs.pop(0)
    _assert_small(np.linalg.norm(vr, axis=-2) - 1, tol, "|vr| - 1")
    _assert_small(a @ vr - vr * w[..., None, :], tol * _scale(a),
                  "A vr - vr w")


CHECKS = {
    "qr": _check_qr,
    "svd": _check_svd,
    "eigh": _check_eigh,
    "eig": _check_eig,
}

# What TF cannot compile under XLA (Eig, complex Svd, precise float64
# eigh/svd) has compilable formulations in rules/linalg_spectral.py when
# enable_xla=True. With enable_xla=False under jit_compile the only SVD is
# TF's Svd, which XLA compiles with a fixed 1e-6 convergence tolerance.
LIMITATIONS: list[Limitation] = [
    Limitation(
        "svd", "enable_xla=False under jit_compile: TF's Svd compiles to "
        "XLA's Jacobi SVD with epsilon 1e-6 (measured on the full svd "
        "group: s within 4e-10, U S Vt - A within 1.9e-6 for float64 and "
        "complex128; float32 within JAX's tolerance)",
        modes=("noxla_jit",), dtypes=("float64", "complex128")),
]
