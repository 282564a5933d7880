"""Rules for spectral decompositions: svd, eigh, eig.

Output conventions follow JAX (LAPACK on CPU):
  * svd -> (s, u, vt) with s descending; TF returns v, so vt = v^H.
  * eigh -> (v, w) with w ascending, reading only the `lower` (or upper)
    triangle; TF returns (w, v) and reads the lower triangle.
  * eig -> (w, [vl], [vr]), complex; eigenvectors of unit norm with their
    largest component real. TF has no left eigenvectors: rows of V^-1 are
    the left eigenvectors (V^-1 A = diag(w) V^-1), so vl = normalize(V^-H).
Eigenvectors and singular vectors are unique only up to phase (and order,
for eig), so tests check them by their defining properties.
"""
from __future__ import annotations

from typing import Any

import tensorflow as tf
from jax._src.lax import linalg as lax_linalg

from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.linalg import (cast_out, compiling_with_xla,
                                      eye_like_batch, static_zero, to_work)

# ---------------------------------------------------------------------------
# SVD
# ---------------------------------------------------------------------------


def _empty_svd(ctx: RuleContext, compute_uv: bool, full_matrices: bool
               ) -> list[tf.Tensor]:
  """JAX's result for an m x 0 or 0 x n matrix: s empty, u/vt identity
  (full_matrices) or empty."""
  outs = [tf.zeros(ctx.shape_tensor(ctx.avals_out[0]),
                   ctx.tf_dtype(ctx.avals_out[0]))]
  if compute_uv:
    for aval in ctx.avals_out[1:]:
      batch = ctx.shape(aval.shape[:-2])
      rows, cols = ctx.dim(aval.shape[-2]), ctx.dim(aval.shape[-1])
      if full_matrices:
        outs.append(eye_like_batch(ctx, batch, rows, cols, ctx.tf_dtype(aval)))
      else:
        outs.append(tf.zeros(ctx.shape_tensor(aval), ctx.tf_dtype(aval)))
  return outs


@register(lax_linalg.svd_p)
def _svd(ctx: RuleContext, x: tf.Tensor, *, full_matrices: bool,
         compute_uv: bool, subset_by_index: Any = None, algorithm: Any = None
         ) -> list[tf.Tensor]:
  """s (descending), u, vt. `algorithm` only picks how LAPACK computes the
  same decomposition; subset_by_index keeps singular values lo..hi-1."""
  del algorithm
  aval = ctx.avals_in[0]
  m, n = ctx.dim(aval.shape[-2]), ctx.dim(aval.shape[-1])
  if static_zero(m, n):
    return _empty_svd(ctx, compute_uv, full_matrices)
  a = to_work(x)
  if not compute_uv:
    if a.dtype.is_complex and compiling_with_xla():
      s = tf.linalg.svd(_real_embedding(a), compute_uv=False)[..., ::2]
    else:
      s = tf.linalg.svd(a, full_matrices=full_matrices, compute_uv=False)
    return [cast_out(ctx, _subset(s, subset_by_index, -1), 0)]
  if a.dtype.is_complex and compiling_with_xla():
    s, u, v = _complex_svd_via_real(a, full_matrices)
  else:
    s, u, v = tf.linalg.svd(a, full_matrices=full_matrices, compute_uv=True)
  vt = tf.linalg.adjoint(v)
  if subset_by_index is not None and not full_matrices:
    s = _subset(s, subset_by_index, -1)
    u = _subset(u, subset_by_index, -1)
    vt = _subset(vt, subset_by_index, -2)
  return [cast_out(ctx, s, 0), cast_out(ctx, u, 1), cast_out(ctx, vt, 2)]


def _real_embedding(a: tf.Tensor) -> tf.Tensor:
  """[[X, -Y], [Y, X]] for A = X + iY: E [p; q] = s [u; w] exactly when
  A (p + iq) = s (u + iw); each singular value of A appears twice in E."""
  x, y = tf.math.real(a), tf.math.imag(a)
  return tf.concat([tf.concat([x, -y], -1), tf.concat([y, x], -1)], -2)


def _complex_svd_via_real(a: tf.Tensor, full_matrices: bool
                          ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """Complex SVD from the real SVD of the embedding (XLA's Svd kernel is
  real-only). Each pair of equal singular values of E spans one complex
  singular direction; of the two candidate columns we keep the one less
  aligned with the directions kept so far (complex Gram-Schmidt), applying
  the same combination to U, which stays consistent since A maps V's
  singular subspaces onto U's."""
  m, n = a.shape[-2], a.shape[-1]
  if m is None or n is None:
    raise NotImplementedError("complex SVD under XLA needs static m, n")
  s2, u2, v2 = tf.linalg.svd(_real_embedding(a), full_matrices=False)
  k = min(m, n)
  cu = tf.complex(u2[..., :m, :], u2[..., m:, :])
  cv = tf.complex(v2[..., :n, :], v2[..., n:, :])
  dot = lambda basis, c: tf.linalg.matvec(basis, tf.linalg.matvec(
      basis, c, adjoint_a=True))
  kept_u = tf.zeros_like(cu[..., :k])
  kept_v = tf.zeros_like(cv[..., :k])
  slot = tf.range(k)
  for j in range(k):
    best_v = best_u = best_norm = None
    for c in (2 * j, 2 * j + 1):
      rv = cv[..., c] - dot(kept_v, cv[..., c])
      ru = cu[..., c] - dot(kept_u, cu[..., c])
      norm = _norm(rv)
      if best_norm is None:
        best_v, best_u, best_norm = rv, ru, norm
      else:
        better = norm > best_norm
        best_v = tf.where(better, rv, best_v)
        best_u = tf.where(better, ru, best_u)
        best_norm = tf.maximum(norm, best_norm)
    unit_v = best_v / tf.cast(best_norm, a.dtype)
    unit_u = best_u / tf.cast(_norm(best_u), a.dtype)
    at_j = tf.cast(tf.equal(slot, j), a.dtype)
    kept_v += unit_v[..., :, None] * at_j
    kept_u += unit_u[..., :, None] * at_j
  s = s2[..., ::2]
  if full_matrices:
    kept_u = _complete_basis(kept_u, k)
    kept_v = _complete_basis(kept_v, k)
  return s, kept_u, kept_v


def _norm(x: tf.Tensor) -> tf.Tensor:
  """Real 2-norm over the last axis, kept (tf.norm of complex is complex)."""
  return tf.sqrt(tf.reduce_sum(tf.square(tf.abs(x)), -1, keepdims=True))


def _complete_basis(q: tf.Tensor, k: int) -> tf.Tensor:
  """Orthonormal columns q [..., m, k] completed to a unitary m x m matrix:
  the trailing columns of a full QR of q span q's orthogonal complement."""
  full, _ = tf.linalg.qr(q, full_matrices=True)
  return tf.concat([q, full[..., :, k:]], -1)


def _subset(x: tf.Tensor, subset_by_index: Any, axis: int) -> tf.Tensor:
  """Entries lo..hi-1 along `axis` (JAX's subset_by_index); no-op if None."""
  if subset_by_index is None:
    return x
  lo, hi = subset_by_index
  size = tf.shape(x)[axis]
  lo = tf.minimum(tf.constant(int(lo)), size)
  hi = tf.minimum(tf.constant(int(hi)), size)
  return tf.gather(x, tf.range(lo, hi), axis=axis % len(x.shape))


# ---------------------------------------------------------------------------
# Symmetric / Hermitian eigendecomposition
# ---------------------------------------------------------------------------


def hermitian_from_triangle(a: tf.Tensor, lower: bool) -> tf.Tensor:
  """The Hermitian matrix LAPACK ?heevd sees: one strict triangle mirrored,
  the real part of the diagonal."""
  if not lower:
    a = tf.linalg.adjoint(a)
  strict = tf.linalg.band_part(a, -1, 0) - tf.linalg.band_part(a, 0, 0)
  diag = tf.linalg.diag_part(a)
  if a.dtype.is_complex:
    diag = tf.cast(tf.math.real(diag), a.dtype)
  return tf.linalg.set_diag(strict + tf.linalg.adjoint(strict), diag)


@register(lax_linalg.eigh_p)
def _eigh(ctx: RuleContext, x: tf.Tensor, *, lower: bool,
          sort_eigenvalues: bool = True, subset_by_index: Any = None,
          algorithm: Any = None) -> list[tf.Tensor]:
  """(v, w): eigenvectors as columns, eigenvalues ascending. JAX's CPU/GPU
  always sort, whatever sort_eigenvalues says."""
  del sort_eigenvalues, algorithm
  n = ctx.dim(ctx.avals_in[0].shape[-1])
  if static_zero(n):
    return [tf.zeros(ctx.shape_tensor(a), ctx.tf_dtype(a))
            for a in ctx.avals_out]
  w, v = tf.linalg.eigh(hermitian_from_triangle(to_work(x), lower))
  if subset_by_index is not None:
    w = _subset(w, subset_by_index, -1)
    v = _subset(v, subset_by_index, -1)
  return [cast_out(ctx, v, 0), cast_out(ctx, w, 1)]


# ---------------------------------------------------------------------------
# General eigendecomposition
# ---------------------------------------------------------------------------


def _normalize_columns(v: tf.Tensor) -> tf.Tensor:
  """LAPACK geev's normalization: unit 2-norm, largest component real."""
  norms = tf.norm(v, axis=-2, keepdims=True)
  largest = tf.argmax(tf.abs(v), axis=-2)
  top = tf.gather(tf.linalg.matrix_transpose(v), largest[..., None],
                  axis=len(v.shape) - 1, batch_dims=len(v.shape) - 1)
  top = tf.linalg.matrix_transpose(top)
  top_abs = tf.cast(tf.abs(top), v.dtype)
  phase = tf.where(tf.equal(top_abs, 0), tf.ones_like(top), top / top_abs)
  norms = tf.where(tf.equal(norms, 0), tf.ones_like(norms), norms)
  return v / (tf.cast(norms, v.dtype) * phase)


@register(lax_linalg.eig_p)
def _eig(ctx: RuleContext, x: tf.Tensor, *, compute_left_eigenvectors: bool,
         compute_right_eigenvectors: bool, **_: Any) -> list[tf.Tensor]:
  """(w, [vl], [vr]); vl satisfies vl^H A = w vl^H, vr satisfies
  A vr = w vr."""
  n = ctx.dim(ctx.avals_in[0].shape[-1])
  if static_zero(n):
    return [tf.zeros(ctx.shape_tensor(a), ctx.tf_dtype(a))
            for a in ctx.avals_out]
  a = to_work(x)
  if not (compute_left_eigenvectors or compute_right_eigenvectors):
    return [cast_out(ctx, tf.linalg.eigvals(a), 0)]
  w, v = tf.linalg.eig(a)
  outs = [cast_out(ctx, w, 0)]
  if compute_left_eigenvectors:
    vl = _normalize_columns(tf.linalg.adjoint(tf.linalg.inv(v)))
    outs.append(cast_out(ctx, vl, len(outs)))
  if compute_right_eigenvectors:
    outs.append(cast_out(ctx, _normalize_columns(v), len(outs)))
  return outs
