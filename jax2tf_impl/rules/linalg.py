"""Rules for linear algebra: factorizations and solves.

Decompositions whose TF kernels differ from JAX's CPU (LAPACK) semantics are
written as small loops of portable ops instead:
  * cholesky: TF's kernel raises on a non-positive-definite matrix, LAPACK
    (and so JAX) returns NaNs; we run the column algorithm ourselves.
  * lu: TF's kernel is square-only, returns no row-swap pivots, raises on
    singular input and has no XLA kernel; we run partial pivoting ourselves
    (LAPACK's pivot choice: first max of |re|+|im|).
Everything else maps onto tf.linalg with JAX's output conventions. The
spectral decompositions (svd, eig, eigh) live in linalg_spectral.py.
"""
from __future__ import annotations

from typing import Any

import tensorflow as tf
from jax.extend.core import primitives as prims
from jax.lax import linalg as lax_linalg

from jax2tf_impl import jax_internals as ji
from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.linalg_support import (batch_rank, cast_out,
                                              eye_like_batch, nan_where_not,
                                              static_zero, to_work)
from jax2tf_impl.rules.support import compiling_with_xla

# ---------------------------------------------------------------------------
# Cholesky
# ---------------------------------------------------------------------------


def _cholesky_lower(a: tf.Tensor, n: Any) -> tuple[tf.Tensor, tf.Tensor]:
  """Column-by-column Cholesky reading only the lower triangle of `a`.

  Returns L (zero above the diagonal) and `ok`, False where a pivot was not
  positive (LAPACK potrf's info > 0).
  """
  rows = tf.range(n)
  batch = tf.shape(a)[:-2]

  def body(j, lower, ok):
    col = tf.gather(a, j, axis=-1) - tf.linalg.matvec(
        lower, tf.math.conj(tf.gather(lower, j, axis=-2)))
    diag = tf.math.real(tf.gather(col, j, axis=-1))
    ok = tf.logical_and(ok, diag > 0)
    root = tf.cast(tf.sqrt(diag), a.dtype)[..., None]
    new_col = tf.where(rows > j, col / root,
                       tf.where(rows == j, root, tf.zeros_like(col)))
    one_hot = tf.cast(tf.equal(rows, j), a.dtype)
    lower = lower + new_col[..., :, None] * one_hot
    return j + 1, lower, ok

  if static_zero(n):
    return a, tf.ones(batch, tf.bool)
  _, lower, ok = tf.while_loop(
      lambda j, *_: j < n, body,
      [tf.constant(0), tf.zeros_like(a), tf.ones(batch, tf.bool)])
  return lower, ok


@register(lax_linalg.cholesky_p)
def _cholesky(ctx: RuleContext, x: tf.Tensor, **_: Any) -> tf.Tensor:
  """LAPACK potrf(uplo=L): L in the lower triangle, the input's strict upper
  triangle kept (JAX's CPU result; lax.linalg.cholesky applies tril after),
  all NaN for a matrix that is not positive definite."""
  n = ctx.dim(ctx.avals_in[0].shape[-1])
  a = to_work(x)
  lower, ok = _cholesky_lower(a, n)
  strict_upper = tf.linalg.band_part(a, 0, -1) - tf.linalg.band_part(a, 0, 0)
  return cast_out(ctx, nan_where_not(ok, lower + strict_upper, 2))


@register(lax_linalg.cholesky_update_p)
def _cholesky_update(ctx: RuleContext, r: tf.Tensor, z: tf.Tensor
                     ) -> tf.Tensor:
  """The upper factor of R^T R + z z^T by Givens rotations, row by row,
  as JAX's implementation (rotation (c, s) from drotg of (R[k,k], z[k]))."""
  n = ctx.dim(ctx.avals_in[0].shape[-1])
  r, z = to_work(r), to_work(z)
  if static_zero(n):
    return cast_out(ctx, r)
  rows = tf.range(n)

  def body(k, r, z):
    x, y = r[k, k], z[k]
    denom = tf.maximum(tf.abs(x), tf.abs(y))
    denom = tf.where(tf.equal(y, 0), tf.ones_like(denom), denom)
    xs, ys = x / denom, y / denom
    rh = 1 / tf.sqrt(xs * xs + ys * ys)
    c = tf.where(tf.equal(y, 0), tf.ones_like(x), xs * rh)
    s = tf.where(tf.equal(y, 0), tf.zeros_like(y), -ys * rh)
    row = r[k]
    new_row = c * row - s * z
    z = c * z + s * row
    r = tf.where(tf.equal(rows, k)[:, None], new_row[None, :], r)
    return k + 1, r, z

  _, r, _ = tf.while_loop(lambda k, *_: k < n, body, [tf.constant(0), r, z])
  return cast_out(ctx, r)


@register(lax_linalg.symmetric_product_p)
def _symmetric_product(ctx: RuleContext, a: tf.Tensor, c: tf.Tensor, *,
                       alpha: Any, beta: Any) -> tf.Tensor:
  """alpha * a a^T + beta * c (a transpose, no conjugate, as JAX)."""
  a, c = to_work(a), to_work(c)
  aat = tf.linalg.matmul(a, a, transpose_b=True)
  alpha = tf.constant(alpha, a.dtype)
  beta = tf.constant(beta, a.dtype)
  return cast_out(ctx, alpha * aat + beta * c)


# ---------------------------------------------------------------------------
# LU with partial pivoting
# ---------------------------------------------------------------------------


def _pivot_score(col: tf.Tensor) -> tf.Tensor:
  """LAPACK i?amax: |x| for reals, |re| + |im| for complex."""
  if col.dtype.is_complex:
    return tf.abs(tf.math.real(col)) + tf.abs(tf.math.imag(col))
  return tf.abs(col)


def _swap_index(rows: tf.Tensor, j: Any, p: tf.Tensor) -> tf.Tensor:
  """Row indices [..., m] that swap rows j and p (p per batch element)."""
  p = p[..., None]
  return tf.where(tf.equal(rows, j), p,
                  tf.where(tf.equal(rows, p), j, rows))


def _lu_factor(a: tf.Tensor, m: Any, n: Any, k: Any, nb: int
               ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """Right-looking LU (getf2): packed L\\U, int32 row swaps, permutation."""
  rows = tf.range(m)
  cols = tf.range(n)
  batch = tf.shape(a)[:-2]
  zero = tf.zeros([], a.dtype)

  def body(j, lu, pivots, perm):
    score = tf.where(rows >= j, _pivot_score(tf.gather(lu, j, axis=-1)),
                     tf.constant(-1, lu.dtype.real_dtype))
    p = tf.argmax(score, axis=-1, output_type=tf.int32)
    swap = _swap_index(rows, j, p)
    lu = tf.gather(lu, swap, axis=nb, batch_dims=nb)
    perm = tf.gather(perm, swap, axis=nb, batch_dims=nb)
    col = tf.gather(lu, j, axis=-1)
    pivot = tf.gather(col, j, axis=-1)[..., None]
    # A zero pivot means the rest of the column is zero too: leave it.
    safe_pivot = tf.where(tf.equal(pivot, zero), tf.ones_like(pivot), pivot)
    below = tf.where(rows > j, col / safe_pivot, tf.zeros_like(col))
    urow = tf.gather(lu, j, axis=-2)
    urow = tf.where(cols > j, urow, tf.zeros_like(urow))
    lu = lu - below[..., :, None] * urow[..., None, :]
    in_col_j_below = tf.logical_and(rows[:, None] > j,
                                    tf.equal(cols, j)[None, :])
    lu = tf.where(in_col_j_below, below[..., :, None], lu)
    pivots = pivots + tf.cast(tf.equal(tf.range(k), j), tf.int32) * p[..., None]
    return j + 1, lu, pivots, perm

  perm0 = tf.broadcast_to(rows, tf.concat([batch, [m]], 0))
  pivots0 = tf.zeros(tf.concat([batch, [k]], 0), tf.int32)
  if static_zero(k):  # XLA compiles the body even for 0 iterations.
    return a, pivots0, perm0
  _, lu, pivots, perm = tf.while_loop(
      lambda j, *_: j < k, body, [tf.constant(0), a, pivots0, perm0])
  return lu, pivots, perm


@register(lax_linalg.lu_p)
def _lu(ctx: RuleContext, x: tf.Tensor) -> list[tf.Tensor]:
  """JAX's lu: (packed L\\U, pivots = 0-based row swaps, permutation)."""
  aval = ctx.avals_in[0]
  m, n = ctx.dim(aval.shape[-2]), ctx.dim(aval.shape[-1])
  k = ctx.dim(ctx.avals_out[1].shape[-1])
  lu, pivots, perm = _lu_factor(to_work(x), m, n, k, batch_rank(aval))
  return [cast_out(ctx, lu), pivots, perm]


@register(lax_linalg.lu_pivots_to_permutation_p)
def _lu_pivots_to_permutation(ctx: RuleContext, pivots: tf.Tensor, *,
                              permutation_size: int) -> tf.Tensor:
  """Applies the row swaps pivots[..., i] <-> i, in order, to iota.

  Pivots out of [0, m) (which LU never gives, but the primitive accepts)
  behave as JAX's own implementation (`perm.at[i].set(perm[j])` then
  `perm.at[j].set(x)`, jnp indexing): a negative j counts from the end
  once, the read of perm[j] clamps to [0, m), the write to j is dropped.
  """
  aval = ctx.avals_in[0]
  nb = len(aval.shape) - 1
  k = ctx.dim(aval.shape[-1])
  m = ctx.dim(permutation_size)
  rows = tf.range(m)
  pivots = tf.cast(pivots, tf.int32)
  perm0 = tf.broadcast_to(rows, tf.concat([tf.shape(pivots)[:-1], [m]], 0))

  def body(i, perm):
    j = tf.gather(pivots, i, axis=-1)[..., None]
    j = tf.where(j < 0, j + m, j)
    read = tf.clip_by_value(j, 0, m - 1)
    y = tf.gather(perm, read, axis=nb, batch_dims=nb)
    x = tf.gather(perm, tf.reshape(i, [1]), axis=nb)
    perm = tf.where(tf.equal(rows, i), y, perm)
    written = tf.equal(rows, j) & (j >= 0) & (j < m)
    return i + 1, tf.where(written, x, perm)

  if static_zero(k):
    return perm0
  _, perm = tf.while_loop(lambda i, _: i < k, body, [tf.constant(0), perm0])
  return perm


# ---------------------------------------------------------------------------
# QR
# ---------------------------------------------------------------------------


@register(lax_linalg.qr_p)
def _qr(ctx: RuleContext, x: tf.Tensor, *, pivoting: bool,
        full_matrices: bool, **_: Any) -> list[tf.Tensor]:
  """Householder QR (same reflector convention as LAPACK geqrf/orgqr)."""
  if pivoting:  # No TF op: LAPACK's geqp3, in linalg_reductions.py.
    from jax2tf_impl.rules.linalg_reductions import qr_pivoted  # pylint: disable=g-import-not-at-top
    return qr_pivoted(ctx, x, full_matrices)
  aval = ctx.avals_in[0]
  batch = ctx.shape(aval.shape[:-2])
  m, n = ctx.dim(aval.shape[-2]), ctx.dim(aval.shape[-1])
  if static_zero(m, n):
    q_aval, r_aval = ctx.avals_out
    k = ctx.dim(q_aval.shape[-1])
    q = eye_like_batch(ctx, batch, m, k, ctx.tf_dtype(q_aval))
    return [q, tf.zeros(ctx.shape_tensor(r_aval), ctx.tf_dtype(r_aval))]
  q, r = tf.linalg.qr(to_work(x), full_matrices=full_matrices)
  return [cast_out(ctx, q, 0), cast_out(ctx, r, 1)]


def _reflector_column(packed: tf.Tensor, j: Any, rows: tf.Tensor
                      ) -> tf.Tensor:
  """v_j of a packed QR: 0 above row j, 1 at j, packed[j+1:, j] below."""
  col = tf.gather(packed, j, axis=-1)
  return tf.where(rows > j, col,
                  tf.where(tf.equal(rows, j), tf.ones_like(col),
                           tf.zeros_like(col)))


def _geqrf_loop(a: tf.Tensor, m: Any, n: Any, k: Any
                ) -> tuple[tf.Tensor, tf.Tensor]:
  """LAPACK geqr2: for each column, larfg's reflector H = I - tau v v^H with
  beta = -sign(re(alpha)) ||x|| (tau = 0 when nothing to annihilate), and
  H^H applied to the trailing columns."""
  rows, cols = tf.range(m), tf.range(n)
  batch = tf.shape(a)[:-2]

  def body(j, r, taus):
    col = tf.gather(r, j, axis=-1)
    alpha = tf.gather(col, j, axis=-1)
    below = tf.where(rows > j, col, tf.zeros_like(col))
    xnorm = tf.sqrt(tf.reduce_sum(tf.square(tf.abs(below)), -1))
    alpha_re = tf.math.real(alpha)
    alpha_im = tf.math.imag(alpha) if a.dtype.is_complex else tf.zeros_like(
        alpha_re)
    skip = tf.logical_and(tf.equal(xnorm, 0), tf.equal(alpha_im, 0))
    norm = tf.sqrt(tf.square(tf.abs(alpha)) + tf.square(xnorm))
    beta = tf.where(alpha_re >= 0, -norm, norm)
    beta = tf.where(skip, alpha_re, beta)
    safe_beta = tf.where(skip, tf.ones_like(beta), beta)
    if a.dtype.is_complex:
      tau = tf.complex((beta - alpha_re) / safe_beta, -alpha_im / safe_beta)
    else:
      tau = (beta - alpha_re) / safe_beta
    tau = tf.where(skip, tf.zeros_like(tau), tau)
    denom = alpha - tf.cast(beta, a.dtype)
    denom = tf.where(skip, tf.ones_like(denom), denom)
    v = tf.where(rows > j, col / denom[..., None],
                 tf.where(tf.equal(rows, j), tf.ones_like(col),
                          tf.zeros_like(col)))
    # Trailing columns: R <- (I - conj(tau) v v^H) R.
    trailing = tf.cast(cols > j, a.dtype)
    vh_r = tf.linalg.matvec(r, tf.math.conj(v), transpose_a=True)
    r = r - (tf.math.conj(tau)[..., None, None] * v[..., :, None]
             * (vh_r * trailing)[..., None, :])
    # Column j: beta on the diagonal, v below.
    new_col = tf.where(rows > j, v, tf.where(
        tf.equal(rows, j), tf.cast(beta, a.dtype)[..., None] * tf.ones_like(v),
        col))
    r = tf.where(tf.equal(cols, j), new_col[..., :, None], r)
    taus = taus + tf.cast(tf.equal(tf.range(k), j), a.dtype) * tau[..., None]
    return j + 1, r, taus

  taus0 = tf.zeros(tf.concat([batch, [k]], 0), a.dtype)
  if static_zero(k):
    return a, taus0
  _, r, taus = tf.while_loop(lambda j, *_: j < k, body,
                             [tf.constant(0), a, taus0])
  return r, taus


@register(ji.geqrf_p)
def _geqrf(ctx: RuleContext, x: tf.Tensor) -> list[tf.Tensor]:
  """LAPACK geqrf: R in the upper triangle, Householder vectors below it,
  and their scalar factors taus."""
  aval = ctx.avals_in[0]
  m, n = ctx.dim(aval.shape[-2]), ctx.dim(aval.shape[-1])
  k = ctx.dim(ctx.avals_out[1].shape[-1])
  r, taus = _geqrf_loop(to_work(x), m, n, k)
  return [cast_out(ctx, r, 0), cast_out(ctx, taus, 1)]


@register(lax_linalg.householder_product_p)
def _householder_product(ctx: RuleContext, a: tf.Tensor, taus: tf.Tensor
                         ) -> tf.Tensor:
  """LAPACK orgqr/ungqr: the first n columns of H_0 H_1 ... H_{k-1},
  H_i = I - taus[i] v_i v_i^H with v_i packed below a's diagonal."""
  aval = ctx.avals_in[0]
  m, n = ctx.dim(aval.shape[-2]), ctx.dim(aval.shape[-1])
  k = ctx.dim(ctx.avals_in[1].shape[-1])
  a, taus = to_work(a), to_work(taus)
  rows = tf.range(m)
  q0 = tf.eye(m, n, batch_shape=tf.shape(a)[:-2], dtype=a.dtype)
  if static_zero(k):
    return cast_out(ctx, q0)

  def body(i, q):
    v = _reflector_column(a, i, rows)
    tau = tf.gather(taus, i, axis=-1)[..., None, None]
    vh_q = tf.linalg.matvec(q, tf.math.conj(v), transpose_a=True)
    return i - 1, q - tau * v[..., :, None] * vh_q[..., None, :]

  _, q = tf.while_loop(lambda i, _: i >= 0, body, [k - 1, q0])
  return cast_out(ctx, q)


# ---------------------------------------------------------------------------
# Triangular and tridiagonal solves
# ---------------------------------------------------------------------------


@register(lax_linalg.triangular_solve_p)
def _triangular_solve(ctx: RuleContext, a: tf.Tensor, b: tf.Tensor, *,
                      left_side: bool, lower: bool, transpose_a: bool,
                      conjugate_a: bool, unit_diagonal: bool) -> tf.Tensor:
  """Solves op(a) x = b (left_side) or x op(a) = b, reading one triangle.

  op(a) is a, a^T, a^H or conj(a). The right-side problem is the left-side
  one transposed: op(a)^T x^T = b^T. tf.linalg.triangular_solve computes
  M x = b or M^H x = b, so we pick M = a or conj(a) and `adjoint`.
  """
  a, b = to_work(a), to_work(b)
  if unit_diagonal:
    a = tf.linalg.set_diag(a, tf.ones_like(tf.linalg.diag_part(a)))
  transposed = transpose_a != (not left_side)
  if conjugate_a != transposed:
    a = tf.math.conj(a)
  if not left_side:
    b = tf.linalg.matrix_transpose(b)
  x = tf.linalg.triangular_solve(a, b, lower=lower, adjoint=transposed)
  if not left_side:
    x = tf.linalg.matrix_transpose(x)
  return cast_out(ctx, x)


@register(lax_linalg.tridiagonal_solve_p)
def _tridiagonal_solve(ctx: RuleContext, dl: tf.Tensor, d: tf.Tensor,
                       du: tf.Tensor, b: tf.Tensor, *,
                       perturb_singular: bool = False) -> tf.Tensor:
  """Solves the tridiagonal system (dl[0] and du[-1] unused, as in JAX).

  Partial pivoting as LAPACK gtsv (JAX on CPU); under XLA, which only
  compiles the unpivoted kernel, Thomas' algorithm (JAX's generic lowering).
  """
  diags = (to_work(du), to_work(d), to_work(dl))
  if perturb_singular and compiling_with_xla():
    raise ctx.unsupported("perturb_singular=True under jit_compile: TF's "
                          "pivoting tridiagonal kernel has no XLA kernel")
  pivoting = perturb_singular or not compiling_with_xla()
  x = tf.linalg.tridiagonal_solve(
      diags, to_work(b), diagonals_format="sequence",
      partial_pivoting=pivoting, perturb_singular=perturb_singular)
  return cast_out(ctx, x)


@register(prims.linear_solve_p)
def _custom_linear_solve(ctx: RuleContext, *args: Any, const_lengths: Any,
                         jaxprs: Any) -> list[Any]:
  """The forward value of custom_linear_solve is its `solve` jaxpr applied to
  (solve consts, b); matvec/vecmat/transpose_solve only matter for AD."""
  start = const_lengths.matvec + const_lengths.vecmat
  solve_consts = args[start:start + const_lengths.solve]
  b = args[sum(const_lengths):]
  return list(ctx.interpret(jaxprs.solve, *solve_consts, *b))
