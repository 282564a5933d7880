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
from jax.lax import linalg as lax_linalg

from jax2tf_impl import tf_internals
from jax2tf_impl.rules import declare_xla_use, register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.linalg_support import (cast_out, eye_like_batch,
                                              hermitian_from_triangle,
                                              static_zero, to_work)
from jax2tf_impl.rules.support import compiling_with_xla

# ---------------------------------------------------------------------------
# SVD
# ---------------------------------------------------------------------------

declare_xla_use(
    "svd", "float64/complex128 under jit_compile: TF's Svd compiles to XLA's "
    "Jacobi SVD with a fixed 1e-6 tolerance; XlaSvd lets us ask for "
    "float64 round-off (without enable_xla we keep the 1e-6 result)")


def _real_svd(ctx: RuleContext, a: tf.Tensor, full_matrices: bool,
              compute_uv: bool) -> Any:
  """tf.linalg.svd of a real matrix, or under XLA for float64 XlaSvd with a
  float64 tolerance (TF's Svd kernel for XLA fixes epsilon=1e-6)."""
  precise = (a.dtype == tf.float64 and ctx.enable_xla
             and compiling_with_xla())
  if not precise:
    return tf.linalg.svd(a, full_matrices=full_matrices,
                         compute_uv=compute_uv)
  s, u, v = tf_internals.xla_ops.svd(a, max_iter=100, epsilon=1e-15, precision_config=None)
  if not compute_uv:
    return s
  if not full_matrices:  # XlaSvd returns square u, v (and no static shapes)
    k = tf.minimum(tf.shape(a)[-2], tf.shape(a)[-1])
    u, v = u[..., :, :k], v[..., :, :k]
  return s, u, v


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
      s = _real_svd(ctx, _real_embedding(a), False, False)[..., ::2]
    else:
      s = _real_svd(ctx, a, full_matrices, False)
    return [cast_out(ctx, _subset(s, subset_by_index, -1), 0)]
  if a.dtype.is_complex and compiling_with_xla():
    if not (isinstance(m, int) and isinstance(n, int)):
      raise ctx.unsupported("complex SVD with symbolic dimensions under "
                            "jit_compile (XLA's Svd is real-only)")
    s, u, v = _complex_svd_via_real(ctx, a, full_matrices)
  else:
    s, u, v = _real_svd(ctx, a, full_matrices, True)
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


def _complex_svd_via_real(ctx: RuleContext, a: tf.Tensor,
                          full_matrices: bool
                          ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """Complex SVD from the real SVD of the embedding (XLA's Svd kernel is
  real-only). Each pair of equal singular values of E spans one complex
  singular direction; of the two candidate columns we keep the one less
  aligned with the directions kept so far (complex Gram-Schmidt), applying
  the same combination to U, which stays consistent since A maps V's
  singular subspaces onto U's."""
  m, n = a.shape[-2], a.shape[-1]
  s2, u2, v2 = _real_svd(ctx, _real_embedding(a), False, True)
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
  h = hermitian_from_triangle(to_work(x), lower)
  if (h.dtype in (tf.float64, tf.complex128) and compiling_with_xla()
      and isinstance(n, int) and n <= _MAX_QR_ITERATION_EIGH):
    w, v = _eigh_by_qr_iteration(h, n)
  else:
    w, v = tf.linalg.eigh(h)
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
  if compiling_with_xla():
    if not isinstance(n, int):
      raise ctx.unsupported("eig with a symbolic matrix size under "
                            "jit_compile (TF's Eig has no XLA kernel)")
    w, v, v_inv = _eig_by_qr_iteration(a, n)
  elif not (compute_left_eigenvectors or compute_right_eigenvectors):
    return [cast_out(ctx, tf.linalg.eigvals(a), 0)]
  else:
    w, v = tf.linalg.eig(a)
    v_inv = None
  outs = [cast_out(ctx, w, 0)]
  if compute_left_eigenvectors:
    if v_inv is None:
      v_inv = tf.linalg.inv(v)
    vl = _normalize_columns(tf.linalg.adjoint(v_inv))
    outs.append(cast_out(ctx, vl, len(outs)))
  if compute_right_eigenvectors:
    outs.append(cast_out(ctx, _normalize_columns(v), len(outs)))
  return outs


def _schur_by_qr_iteration(t: tf.Tensor, n: int
                           ) -> tuple[tf.Tensor, tf.Tensor]:
  """Complex Schur form T = Z^H A Z (T upper triangular) of a complex `t`,
  from XLA-compilable ops. Shifted QR steps with a Wilkinson shift from the
  active block's trailing 2x2, applied to the active window only (so Q is
  Q11 (+) I and converged rows stay converged); a row whose off-diagonal
  part in the active block is below eps * max|A| deflates."""
  eps = 1.2e-7 if t.dtype == tf.complex64 else 2.3e-16
  nb = len(t.shape) - 2
  batch = tf.shape(t)[:-2]
  eye = tf.eye(n, batch_shape=batch, dtype=t.dtype)
  idx = tf.range(n)
  norm_a = tf.reduce_max(tf.abs(t), axis=[-2, -1])

  def entry(t, i, j):
    row = tf.gather(t, i[..., None], axis=nb, batch_dims=nb)[..., 0, :]
    return tf.gather(row, j[..., None], axis=nb, batch_dims=nb)[..., 0]

  def body(it, t, z, p):
    row = tf.gather(t, tf.maximum(p - 1, 0), axis=nb, batch_dims=nb)
    off = tf.where(idx < (p - 1)[..., None], tf.abs(row),
                   tf.zeros_like(tf.abs(row)))
    converged = tf.reduce_max(off, -1) <= eps * norm_a
    p = tf.where(tf.logical_and(converged, p > 1), p - 1, p)
    i1, i2 = tf.maximum(p - 2, 0), tf.maximum(p - 1, 0)
    a11, a12 = entry(t, i1, i1), entry(t, i1, i2)
    a21, a22 = entry(t, i2, i1), entry(t, i2, i2)
    half_tr = (a11 + a22) / 2
    disc = tf.sqrt(half_tr * half_tr - (a11 * a22 - a12 * a21))
    l1, l2 = half_tr + disc, half_tr - disc
    mu = tf.where(tf.abs(l1 - a22) < tf.abs(l2 - a22), l1, l2)
    mu = tf.where(p > 1, mu, a22)
    active = tf.logical_and(idx[:, None] < p[..., None, None],
                            idx[None, :] < p[..., None, None])
    q, _ = tf.linalg.qr(tf.where(active, t - mu[..., None, None] * eye, eye))
    t = tf.matmul(q, tf.matmul(t, q), adjoint_a=True)
    return it + 1, t, tf.matmul(z, q), p

  p0 = tf.fill(batch, tf.constant(n))
  _, t, z, _ = tf.while_loop(
      lambda it, t, z, p: tf.logical_and(it < 40 * n, tf.reduce_any(p > 1)),
      body, [tf.constant(0), t, eye, p0])
  return tf.linalg.band_part(t, 0, -1), z


def _complex_dtype(dtype: tf.DType) -> tf.DType:
  return tf.complex64 if dtype in (tf.float32, tf.complex64) else (
      tf.complex128)


def _eig_by_qr_iteration(a: tf.Tensor, n: Any
                         ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """w, V and V^-1 for XLA (TF's Eig op has no XLA kernel): Schur form
  A = Z T Z^H, eigenvectors Y of T by back substitution, V = Z Y."""
  cdtype = _complex_dtype(a.dtype)
  t, z = _schur_by_qr_iteration(tf.cast(a, cdtype), n)
  w = tf.linalg.diag_part(t)
  y = _triangular_eigenvectors(t, w, n)
  # V^-1 = Y^-1 Z^H; Y is unit upper triangular (XLA has no complex inverse).
  eye = tf.eye(n, batch_shape=tf.shape(t)[:-2], dtype=cdtype)
  y_inv = tf.linalg.triangular_solve(y, eye, lower=False)
  return w, tf.matmul(z, y), tf.matmul(y_inv, z, adjoint_b=True)


# Our QR iteration costs O(n^4); above this size eigh under XLA uses XLA's
# Jacobi eigensolver (O(n^3), float32-level accuracy).
_MAX_QR_ITERATION_EIGH = 128


def _eigh_by_qr_iteration(h: tf.Tensor, n: Any
                          ) -> tuple[tf.Tensor, tf.Tensor]:
  """Ascending eigenvalues and eigenvectors of a Hermitian `h` to round-off
  under XLA, whose own (Jacobi) eigh stops at a float32-level tolerance.
  The Schur form of a Hermitian matrix is diagonal: V = Z."""
  t, z = _schur_by_qr_iteration(tf.cast(h, _complex_dtype(h.dtype)), n)
  w = tf.math.real(tf.linalg.diag_part(t))
  order = tf.argsort(w, axis=-1, stable=True)
  nb = len(h.shape) - 2
  w = tf.gather(w, order, axis=nb, batch_dims=nb)
  v = tf.gather(z, order, axis=nb + 1, batch_dims=nb)
  if not h.dtype.is_complex:
    # Real symmetric: Z is real up to a phase per column.
    v = tf.math.real(_normalize_columns(v))
  return w, tf.cast(v, h.dtype)


def _triangular_eigenvectors(t: tf.Tensor, w: tf.Tensor, n: int
                             ) -> tf.Tensor:
  """Columns y_i with (T - w_i) y_i = 0, y_i[i] = 1, y_i[j > i] = 0: one
  triangular solve per i, all batched (rows/cols >= i replaced by I)."""
  idx = tf.range(n)
  # [..., i, n, n]: T - w_i I on the leading i x i block, identity elsewhere.
  shifted = t[..., None, :, :] - w[..., :, None, None] * tf.eye(n, dtype=t.dtype)
  lead = tf.logical_and(idx[None, :, None] < idx[:, None, None],
                        idx[None, None, :] < idx[:, None, None])
  mat = tf.where(lead, shifted, tf.eye(n, dtype=t.dtype))
  # Tiny pivots (repeated eigenvalues) are perturbed as LAPACK trevc does.
  diag = tf.linalg.diag_part(mat)
  small = tf.cast(tf.abs(diag) < 1e-30, t.dtype)
  mat = tf.linalg.set_diag(mat, diag + small * 1e-30)
  rhs_col = tf.linalg.matrix_transpose(t)  # [..., i, n]: T[:, i] as rows
  rhs = tf.where(idx[None, :] < idx[:, None], -rhs_col, tf.zeros_like(rhs_col))
  sol = tf.linalg.triangular_solve(mat, rhs[..., None], lower=False)[..., 0]
  y = sol + tf.cast(tf.equal(idx[None, :], idx[:, None]), t.dtype)
  y = tf.where(idx[None, :] <= idx[:, None], y, tf.zeros_like(y))
  return tf.linalg.matrix_transpose(y)  # columns are eigenvectors
