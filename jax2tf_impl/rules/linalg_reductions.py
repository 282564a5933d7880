"""Rules for the Householder reductions: hessenberg (gehrd), tridiagonal
(sytrd/hetrd), geqp3 (QR with column pivoting), ormqr, and qr(pivoting=True).

JAX on CPU calls LAPACK for these, and LAPACK's unblocked algorithms are
deterministic: the same reflectors (larfg: beta = -sign(re(alpha)) * norm,
tau = (beta - alpha) / beta, v = x / (alpha - beta), tau = 0 when there is
nothing to annihilate), applied in the same order. We run those algorithms
as tf.while_loops of portable ops over all batch elements at once, so the
packed reflectors, taus and pivots match JAX's to round-off (LAPACK's blocked
variants, used above ~128 columns, differ from the unblocked ones only by
round-off too). Column pivoting follows dlaqp2's partial-norm downdating
exactly, so pivots agree except on columns whose norms tie to round-off.
The Schur decomposition (an iterative algorithm) is in linalg_schur.py.
"""
from __future__ import annotations

from typing import Any

import tensorflow as tf
from jax.lax import linalg as lax_linalg

from jax2tf_impl import jax_internals as ji
from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.linalg_support import (cast_out, hermitian_from_triangle,
                                              static_zero, to_work)

# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------


def _eps(dtype: tf.DType) -> float:
  """LAPACK dlamch('Epsilon'): half an ulp of 1 (rounding arithmetic)."""
  return 2.0 ** -53 if dtype.real_dtype == tf.float64 else 2.0 ** -24


def larfg(alpha: tf.Tensor, x: tf.Tensor
          ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """LAPACK ?larfg, batched: the reflector H = I - tau v v^H with
  H^H [alpha; x] = [beta; 0] (beta real). `x` [..., L] holds the entries to
  annihilate and zeros elsewhere. Returns beta (real dtype), tau and the
  scale of v (v = x * scale; LAPACK multiplies by 1 / (alpha - beta))."""
  dtype = alpha.dtype
  xnorm = tf.sqrt(tf.reduce_sum(tf.square(tf.abs(x)), -1))
  alpha_re = tf.math.real(alpha)
  alpha_im = (tf.math.imag(alpha) if dtype.is_complex
              else tf.zeros_like(alpha_re))
  skip = tf.logical_and(tf.equal(xnorm, 0), tf.equal(alpha_im, 0))
  norm = tf.sqrt(tf.square(tf.abs(alpha)) + tf.square(xnorm))
  beta = tf.where(alpha_re >= 0, -norm, norm)
  beta = tf.where(skip, alpha_re, beta)
  safe_beta = tf.where(skip, tf.ones_like(beta), beta)
  if dtype.is_complex:
    tau = tf.complex((beta - alpha_re) / safe_beta, -alpha_im / safe_beta)
  else:
    tau = (beta - alpha_re) / safe_beta
  tau = tf.where(skip, tf.zeros_like(tau), tau)
  denom = alpha - tf.cast(beta, dtype)
  scale = tf.math.reciprocal(tf.where(skip, tf.ones_like(denom), denom))
  return beta, tau, scale


def _reflector_below(a: tf.Tensor, i: Any, rows: tf.Tensor
                     ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """LAPACK's larfg for column i of `a` below the subdiagonal: (beta, tau, v)
  with v[i + 1] = 1 and v zero above it (gehd2 / sytd2 step i)."""
  col = tf.gather(a, i, axis=-1)
  alpha = tf.gather(col, i + 1, axis=-1)
  x = tf.where(rows > i + 1, col, tf.zeros_like(col))
  beta, tau, scale = larfg(alpha, x)
  v = tf.where(rows > i + 1, col * scale[..., None],
               tf.cast(tf.equal(rows, i + 1), a.dtype) * tf.ones_like(col))
  return beta, tau, v


def _one_hot(n: Any, j: Any, dtype: tf.DType) -> tf.Tensor:
  return tf.cast(tf.equal(tf.range(n), j), dtype)


def _set_at(vec: tf.Tensor, n: Any, j: Any, value: tf.Tensor) -> tf.Tensor:
  """vec[..., j] = value (j a scalar shared by the batch)."""
  hit = tf.equal(tf.range(n), j)
  return tf.where(hit, value[..., None], vec)


def apply_reflectors(v: tf.Tensor, taus: tf.Tensor, c: tf.Tensor, *,
                     left: bool, adjoint: bool) -> tf.Tensor:
  """Q c, Q^H c, c Q or c Q^H for Q = H_0 H_1 ... H_{k-1},
  H_i = I - taus[i] v[:, i] v[:, i]^H; `v` [..., m, k] holds the full
  reflector vectors (unit entries and zeros included). As LAPACK ?ormqr
  (and ?orgqr for c = I): Q c and c Q^H apply the reflectors last first."""
  k = v.shape[-1] if isinstance(v.shape[-1], int) else tf.shape(v)[-1]
  if static_zero(k):
    return c
  if adjoint:
    taus = tf.math.conj(taus)
  reverse = left != adjoint

  def body(step, c):
    i = k - 1 - step if reverse else step
    vi = tf.gather(v, i, axis=-1)
    tau = tf.gather(taus, i, axis=-1)[..., None, None]
    if left:  # c - tau v (v^H c)
      vh_c = tf.linalg.matvec(c, tf.math.conj(vi), transpose_a=True)
      return step + 1, c - tau * vi[..., :, None] * vh_c[..., None, :]
    c_v = tf.linalg.matvec(c, vi)  # c - tau (c v) v^H
    return step + 1, c - tau * c_v[..., :, None] * tf.math.conj(vi)[..., None, :]

  _, c = tf.while_loop(lambda step, _: step < k, body, [tf.constant(0), c])
  return c


def qr_reflector_vectors(packed: tf.Tensor, m: Any, k: Any) -> tf.Tensor:
  """[..., m, k]: the QR reflectors packed below the diagonal, with their
  unit diagonal (v_i[i] = 1, zero above)."""
  rows = tf.range(m)[:, None]
  cols = tf.range(k)[None, :]
  a = packed[..., :, :k]
  return tf.where(rows > cols, a, tf.where(tf.equal(rows, cols),
                                           tf.ones_like(a), tf.zeros_like(a)))


def hessenberg_reflector_vectors(packed: tf.Tensor, n: Any) -> tf.Tensor:
  """[..., n, n-1]: gehrd's reflectors (v_i[i+1] = 1, v_i[r] for r > i+1
  packed in column i)."""
  rows = tf.range(n)[:, None]
  cols = tf.range(n - 1)[None, :]
  a = packed[..., :, :-1]
  return tf.where(rows > cols + 1, a, tf.where(
      tf.equal(rows, cols + 1), tf.ones_like(a), tf.zeros_like(a)))


# ---------------------------------------------------------------------------
# Hessenberg reduction (gehd2)
# ---------------------------------------------------------------------------


def gehrd(a: tf.Tensor, n: Any) -> tuple[tf.Tensor, tf.Tensor]:
  """LAPACK ?gehd2 with ilo=1, ihi=n: for each column i, the reflector
  annihilating a[i+2:, i], applied from the right to a[:, i+1:] and then
  (as H^H) from the left to a[i+1:, i+1:]. Returns (packed, taus[n-1])."""
  batch = tf.shape(a)[:-2]
  taus0 = tf.zeros(tf.concat([batch, [n - 1]], 0), a.dtype)
  if static_zero(n - 1) or static_zero(n):
    return a, taus0
  rows = tf.range(n)

  def body(i, a, taus):
    col = tf.gather(a, i, axis=-1)
    beta, tau, v = _reflector_below(a, i, rows)
    tau_ = tau[..., None, None]
    # Right: a <- a - tau (a v) v^H (v is zero up to row i: column i stays).
    a = a - tau_ * tf.linalg.matvec(a, v)[..., :, None] * tf.math.conj(
        v)[..., None, :]
    # Left, on columns > i: a <- a - conj(tau) v (v^H a).
    vh_a = tf.linalg.matvec(a, tf.math.conj(v), transpose_a=True)
    vh_a = tf.where(rows > i, vh_a, tf.zeros_like(vh_a))
    a = a - tf.math.conj(tau_) * v[..., :, None] * vh_a[..., None, :]
    new_col = tf.where(rows > i + 1, v, tf.where(
        tf.equal(rows, i + 1), tf.cast(beta, a.dtype)[..., None]
        * tf.ones_like(v), col))
    a = tf.where(tf.equal(rows, i)[None, :], new_col[..., :, None], a)
    return i + 1, a, _set_at(taus, n - 1, i, tau)

  _, a, taus = tf.while_loop(lambda i, *_: i < n - 1, body,
                             [tf.constant(0), a, taus0])
  return a, taus


@register(lax_linalg.hessenberg_p)
def _hessenberg(ctx: RuleContext, x: tf.Tensor) -> list[tf.Tensor]:
  """(packed Hessenberg form and reflectors, taus), as LAPACK gehrd."""
  n = ctx.dim(ctx.avals_in[0].shape[-1])
  a, taus = gehrd(to_work(x), n)
  return [cast_out(ctx, a, 0), cast_out(ctx, taus, 1)]


# ---------------------------------------------------------------------------
# Tridiagonal reduction (sytd2 / hetd2)
# ---------------------------------------------------------------------------


def _sytrd_lower(a: tf.Tensor, n: Any
                 ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
  """?sytd2/?hetd2 with uplo='L' on the Hermitian matrix of a's lower
  triangle: for each column i the reflector of a[i+1:, i], then the
  rank-2 update A22 -= v w^H + w v^H with w = tau A22 v - tau/2 (w^H v) v.
  The strict upper triangle of `a` is returned untouched, as LAPACK."""
  h = hermitian_from_triangle(a, lower=True)
  real = a.dtype.real_dtype
  batch = tf.shape(a)[:-2]
  rows = tf.range(n)
  cols_mat = rows[None, :]
  e0 = tf.zeros(tf.concat([batch, [n - 1]], 0), real)
  taus0 = tf.zeros(tf.concat([batch, [n - 1]], 0), a.dtype)
  vs0 = tf.zeros_like(a)

  def body(i, h, e, taus, vs):
    beta, tau, v = _reflector_below(h, i, rows)
    w = tau[..., None] * tf.linalg.matvec(h, v)
    w = tf.where(rows > i, w, tf.zeros_like(w))
    wv = tf.reduce_sum(tf.math.conj(w) * v, -1)
    w = w + (tf.cast(-0.5, a.dtype) * tau * wv)[..., None] * v
    h = h - (v[..., :, None] * tf.math.conj(w)[..., None, :]
             + w[..., :, None] * tf.math.conj(v)[..., None, :])
    if a.dtype.is_complex:
      h = tf.linalg.set_diag(h, tf.cast(tf.math.real(
          tf.linalg.diag_part(h)), a.dtype))
    vs = tf.where(tf.equal(cols_mat, i), v[..., :, None], vs)
    return (i + 1, h, _set_at(e, n - 1, i, beta), _set_at(taus, n - 1, i, tau),
            vs)

  _, h, e, taus, vs = tf.while_loop(lambda i, *_: i < n - 1, body,
                                    [tf.constant(0), h, e0, taus0, vs0])
  d = tf.math.real(tf.linalg.diag_part(h))
  # Packed result: d on the diagonal, e below it, reflector tails further
  # below, and the input's strict upper triangle.
  r, c = rows[:, None], rows[None, :]
  sub = tf.linalg.diag(tf.cast(e, a.dtype), k=-1, num_rows=n, num_cols=n)
  packed = tf.where(r > c + 1, vs, tf.where(
      tf.equal(r, c + 1), sub, tf.where(
          tf.equal(r, c), tf.linalg.diag(tf.cast(d, a.dtype)), a)))
  return packed, d, e, taus


@register(lax_linalg.tridiagonal_p)
def _tridiagonal(ctx: RuleContext, x: tf.Tensor, *, lower: bool
                 ) -> list[tf.Tensor]:
  """(packed, d, e, taus) as LAPACK sytrd/hetrd. uplo='U' is the lower
  algorithm on the matrix reversed in both axes (P A P, P the exchange
  matrix): its lower triangle is A's upper one, and LAPACK's upper
  reduction (last column first) is exactly the lower one on P A P, so we
  flip the results back (outputs in reverse order)."""
  n = ctx.dim(ctx.avals_in[0].shape[-1])
  a = to_work(x)
  if not lower:
    a = tf.reverse(a, [-2, -1])
  packed, d, e, taus = _sytrd_lower(a, n)
  if not lower:
    packed = tf.reverse(packed, [-2, -1])
    d, e, taus = (tf.reverse(t, [-1]) for t in (d, e, taus))
  return [cast_out(ctx, packed, 0), cast_out(ctx, d, 1), cast_out(ctx, e, 2),
          cast_out(ctx, taus, 3)]


# ---------------------------------------------------------------------------
# QR with column pivoting (geqp3 = fixed columns + laqp2)
# ---------------------------------------------------------------------------


def _swap_index(n: Any, j: Any, p: tf.Tensor) -> tf.Tensor:
  """[..., n] indices exchanging positions j (scalar) and p [...]."""
  idx = tf.range(n)
  p = p[..., None]
  return tf.where(tf.equal(idx, j), p, tf.where(tf.equal(idx, p), j, idx))


def _move_fixed_columns(jpvt: tf.Tensor, n: Any, nb: int
                        ) -> tuple[tf.Tensor, tf.Tensor]:
  """dgeqp3's first loop: columns with jpvt != 0 are swapped, in order,
  to the front. Returns the column permutation [..., n] and the number of
  fixed columns [...]."""
  batch = tf.shape(jpvt)[:-1]
  perm0 = tf.broadcast_to(tf.range(n), tf.shape(jpvt))

  def body(j, perm, nfxd):
    fixed = tf.not_equal(tf.gather(jpvt, j, axis=-1), 0)
    swap = tf.where(fixed[..., None], _swap_index(n, j, nfxd),
                    tf.broadcast_to(tf.range(n), tf.shape(perm)))
    perm = tf.gather(perm, swap, axis=nb, batch_dims=nb)
    return j + 1, perm, nfxd + tf.cast(fixed, tf.int32)

  _, perm, nfxd = tf.while_loop(lambda j, *_: j < n, body,
                                [tf.constant(0), perm0, tf.zeros(batch, tf.int32)])
  return perm, nfxd


def geqp3(a: tf.Tensor, jpvt: tf.Tensor, m: Any, n: Any, k: Any
          ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """LAPACK ?geqp3 (unblocked: geqrf on the fixed columns, then ?laqp2).
  Returns (packed R and reflectors, 1-based column pivots, taus)."""
  nb = len(a.shape) - 2
  real = a.dtype.real_dtype
  perm, nfxd = _move_fixed_columns(jpvt, n, nb)
  a = tf.gather(a, perm, axis=nb + 1, batch_dims=nb)
  batch = tf.shape(a)[:-2]
  rows, cols = tf.range(m), tf.range(n)
  tol3z = tf.constant(_eps(a.dtype) ** 0.5, real)

  def col_norms(a, below):
    """2-norms of the columns of a over the rows > `below`."""
    part = tf.where((rows > below)[:, None], a, tf.zeros_like(a))
    return tf.sqrt(tf.reduce_sum(tf.square(tf.abs(part)), -2))

  def body(j, a, perm, taus, vn1, vn2):
    # The free columns' norms are computed once the fixed ones are done.
    fresh = tf.equal(nfxd, j)[..., None]
    norms = col_norms(a, j - 1)
    vn1 = tf.where(fresh, norms, vn1)
    vn2 = tf.where(fresh, norms, vn2)
    # Pivot: first column >= j of largest partial norm (idamax); the fixed
    # columns keep their place.
    score = tf.where(cols >= j, vn1, tf.constant(-1, real))
    best = tf.reduce_max(score, -1, keepdims=True)
    pvt = tf.reduce_min(tf.where(tf.equal(score, best), cols, n), -1)
    pvt = tf.where(j < nfxd, j, tf.minimum(pvt, n - 1))
    swap = _swap_index(n, j, pvt)
    a = tf.gather(a, swap, axis=nb + 1, batch_dims=nb)
    perm = tf.gather(perm, swap, axis=nb, batch_dims=nb)
    vn1 = tf.gather(vn1, swap, axis=nb, batch_dims=nb)
    vn2 = tf.gather(vn2, swap, axis=nb, batch_dims=nb)
    # Reflector of column j, applied (as H^H) to the columns > j.
    col = tf.gather(a, j, axis=-1)
    alpha = tf.gather(col, j, axis=-1)
    beta, tau, scale = larfg(alpha, tf.where(rows > j, col, tf.zeros_like(col)))
    v = tf.where(rows > j, col * scale[..., None],
                 tf.cast(tf.equal(rows, j), a.dtype) * tf.ones_like(col))
    vh_a = tf.linalg.matvec(a, tf.math.conj(v), transpose_a=True)
    vh_a = tf.where(cols > j, vh_a, tf.zeros_like(vh_a))
    a = a - tf.math.conj(tau)[..., None, None] * v[..., :, None] * vh_a[
        ..., None, :]
    new_col = tf.where(rows > j, v, tf.where(
        tf.equal(rows, j), tf.cast(beta, a.dtype)[..., None] * tf.ones_like(v),
        col))
    a = tf.where(tf.equal(cols, j)[None, :], new_col[..., :, None], a)
    # dlaqp2's partial norm downdate, recomputed when cancellation looms.
    row_j = tf.abs(tf.gather(a, j, axis=-2))
    safe_vn1 = tf.where(tf.equal(vn1, 0), tf.ones_like(vn1), vn1)
    safe_vn2 = tf.where(tf.equal(vn2, 0), tf.ones_like(vn2), vn2)
    temp = tf.maximum(1 - tf.square(row_j / safe_vn1), 0)
    temp2 = temp * tf.square(vn1 / safe_vn2)
    recompute = temp2 <= tol3z
    fresh_norms = col_norms(a, j)
    new_vn1 = tf.where(recompute, fresh_norms, vn1 * tf.sqrt(temp))
    new_vn2 = tf.where(recompute, fresh_norms, vn2)
    update = tf.logical_and(cols > j, tf.not_equal(vn1, 0))
    update = tf.logical_and(update, (j >= nfxd)[..., None])
    vn1 = tf.where(update, new_vn1, vn1)
    vn2 = tf.where(update, new_vn2, vn2)
    return j + 1, a, perm, _set_at(taus, k, j, tau), vn1, vn2

  taus0 = tf.zeros(tf.concat([batch, [k]], 0), a.dtype)
  vn0 = tf.zeros(tf.concat([batch, [n]], 0), real)
  if not static_zero(k):
    _, a, perm, taus, _, _ = tf.while_loop(
        lambda j, *_: j < k, body,
        [tf.constant(0), a, perm, taus0, vn0, vn0])
  else:
    taus = taus0
  return a, perm + 1, taus


@register(ji.geqp3_p)
def _geqp3(ctx: RuleContext, x: tf.Tensor, jpvt: tf.Tensor, **_: Any
           ) -> list[tf.Tensor]:
  """(packed R and reflectors, 1-based pivots, taus) as LAPACK geqp3; a
  nonzero jpvt entry marks a column to keep in front (LAPACK's
  convention). `use_magma` only matters on GPU."""
  aval = ctx.avals_in[0]
  m, n = ctx.dim(aval.shape[-2]), ctx.dim(aval.shape[-1])
  k = ctx.dim(ctx.avals_out[2].shape[-1])
  a, perm, taus = geqp3(to_work(x), tf.cast(jpvt, tf.int32), m, n, k)
  return [cast_out(ctx, a, 0), tf.cast(perm, ctx.tf_dtype(ctx.avals_out[1])),
          cast_out(ctx, taus, 2)]


def qr_pivoted(ctx: RuleContext, x: tf.Tensor, full_matrices: bool
               ) -> list[tf.Tensor]:
  """qr(pivoting=True) as JAX lowers it: geqp3 with free columns, Q from
  the reflectors (orgqr), R = triu, 0-based pivots."""
  aval = ctx.avals_in[0]
  m, n = ctx.dim(aval.shape[-2]), ctx.dim(aval.shape[-1])
  q_aval, r_aval, p_aval = ctx.avals_out
  qcols = ctx.dim(q_aval.shape[-1])
  batch = ctx.shape(aval.shape[:-2])
  if static_zero(m, n):
    q = tf.eye(m, qcols, batch_shape=batch or None, dtype=ctx.tf_dtype(q_aval))
    return [q, tf.zeros(ctx.shape_tensor(r_aval), ctx.tf_dtype(r_aval)),
            tf.zeros(ctx.shape_tensor(p_aval), tf.int32)]
  a = to_work(x)
  k = (min(m, n) if isinstance(m, int) and isinstance(n, int)
       else tf.minimum(m, n))
  jpvt = tf.zeros(ctx.shape_tensor(p_aval), tf.int32)
  packed, perm, taus = geqp3(a, jpvt, m, n, k)
  v = qr_reflector_vectors(packed, m, k)
  eye = tf.eye(m, qcols, batch_shape=tf.shape(a)[:-2], dtype=a.dtype)
  q = apply_reflectors(v, taus, eye, left=True, adjoint=False)
  r = tf.linalg.band_part(packed, 0, -1)[..., :ctx.dim(r_aval.shape[-2]), :]
  return [cast_out(ctx, q, 0), cast_out(ctx, r, 1),
          tf.cast(perm - 1, ctx.tf_dtype(p_aval))]


# ---------------------------------------------------------------------------
# ormqr
# ---------------------------------------------------------------------------


@register(lax_linalg.ormqr_p)
def _ormqr(ctx: RuleContext, a: tf.Tensor, taus: tf.Tensor, c: tf.Tensor, *,
           left: bool, transpose: bool) -> tf.Tensor:
  """Q c, Q^H c, c Q or c Q^H with Q = H_0 ... H_{k-1} from geqrf/geqp3's
  packed reflectors (LAPACK ?ormqr / ?unmqr)."""
  aval = ctx.avals_in[0]
  m = ctx.dim(aval.shape[-2])
  k = ctx.dim(ctx.avals_in[1].shape[-1])
  a, taus, c = to_work(a), to_work(taus), to_work(c)
  if static_zero(k):
    return cast_out(ctx, c)
  v = qr_reflector_vectors(a, m, k)
  return cast_out(ctx, apply_reflectors(v, taus, c, left=left,
                                        adjoint=transpose))
