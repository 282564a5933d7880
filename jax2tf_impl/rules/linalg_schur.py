"""Rule for the Schur decomposition (schur_p): A = Z T Z^H.

JAX on CPU calls LAPACK gees (balancing by permutation, Hessenberg
reduction, then the implicit Francis double-shift QR algorithm). The Schur
form is not unique (the order of the eigenvalues on T's diagonal, the phases
of Z's columns), and LAPACK's exact iteration is not something a loop of TF
ops reproduces to the element, so this rule computes *a* Schur form with
the same structure, not LAPACK's:
  * real input: T quasi-upper-triangular, with 1x1 blocks for real
    eigenvalues and 2x2 blocks in LAPACK's standard form (dlanv2: equal
    diagonal, off-diagonal entries of opposite signs) for complex pairs;
    Z orthogonal.
  * complex input: T upper triangular, Z unitary.
Algorithm: our gehrd (linalg_reductions.py), then shifted QR steps on the
active leading block, deflating at its bottom when a subdiagonal entry is
below ulp * max|A|: explicit double-shift steps (Francis shifts from the
trailing 2x2, exceptional shifts after 10 and 20 steps without deflation,
as LAPACK) for real input, Wilkinson single-shift steps for complex input.
Each step is a QR factorization of the shift polynomial (tf.linalg.qr), an
O(n^3) step: meant for the small matrices schur is used on. A matrix that
does not converge within the iteration budget gives NaN, as JAX does for a
LAPACK failure (info != 0).
"""
from __future__ import annotations

from typing import Any

import tensorflow as tf
from jax.lax import linalg as lax_linalg

from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.linalg_support import cast_out, nan_where_not, to_work
from jax2tf_impl.rules.linalg_reductions import (
    apply_reflectors, gehrd, hessenberg_reflector_vectors)


def _ulp(dtype: tf.DType) -> float:
  """LAPACK dlamch('Precision'): eps * base."""
  return 2.0 ** -52 if dtype.real_dtype == tf.float64 else 2.0 ** -23


def _at(n: int, i: tf.Tensor, j: tf.Tensor) -> tf.Tensor:
  """[..., n, n] mask of entry (i, j), i and j per batch element."""
  idx = tf.range(n)
  return tf.logical_and(tf.equal(idx[:, None], i[..., None, None]),
                        tf.equal(idx[None, :], j[..., None, None]))


def _entry(h: tf.Tensor, n: int, i: tf.Tensor, j: tf.Tensor) -> tf.Tensor:
  return tf.reduce_sum(tf.where(_at(n, i, j), h, tf.zeros_like(h)), [-2, -1])


def _put(h: tf.Tensor, n: int, i: tf.Tensor, j: tf.Tensor, value: tf.Tensor,
         where: tf.Tensor) -> tf.Tensor:
  mask = tf.logical_and(_at(n, i, j), where[..., None, None])
  return tf.where(mask, tf.broadcast_to(value[..., None, None], tf.shape(h)),
                  h)


def _sign(x: tf.Tensor) -> tf.Tensor:
  """Fortran SIGN(1, x)."""
  return tf.where(x >= 0, tf.ones_like(x), -tf.ones_like(x))


def dlanv2(a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor,
           eps: float) -> tuple[tf.Tensor, ...]:
  """LAPACK dlanv2, batched (without its overflow-guarding rescaling): the
  rotation [[cs, -sn], [sn, cs]] = G with G^T [[a, b], [c, d]] G upper
  triangular (real eigenvalues) or standard (equal diagonal, b c < 0).
  Returns (a, b, c, d, cs, sn) of the standardized block."""
  one, zero = tf.ones_like(a), tf.zeros_like(a)
  temp = a - d
  p = 0.5 * temp
  bcmax = tf.maximum(tf.abs(b), tf.abs(c))
  bcmis = tf.minimum(tf.abs(b), tf.abs(c)) * _sign(b) * _sign(c)
  scale = tf.maximum(tf.abs(p), bcmax)
  scale = tf.where(tf.equal(scale, 0), one, scale)
  z = (p / scale) * p + (bcmax / scale) * bcmis
  # Real eigenvalues.
  zr = p + _sign(p) * tf.sqrt(scale) * tf.sqrt(tf.maximum(z, 0))
  zr_safe = tf.where(tf.equal(zr, 0), one, zr)
  tau_r = tf.sqrt(c * c + zr * zr)
  tau_r = tf.where(tf.equal(tau_r, 0), one, tau_r)
  real_out = (d + zr, b - c, zero, d - (bcmax / zr_safe) * bcmis,
              zr / tau_r, c / tau_r)
  # Complex (or almost equal real) eigenvalues: equalize the diagonal.
  sigma = b + c
  tau = tf.sqrt(sigma * sigma + temp * temp)
  tau = tf.where(tf.equal(tau, 0), one, tau)
  cs = tf.sqrt(0.5 * (1 + tf.abs(sigma) / tau))
  sn = -(p / (tau * cs)) * _sign(sigma)
  aa, bb = a * cs + b * sn, -a * sn + b * cs
  cc, dd = c * cs + d * sn, -c * sn + d * cs
  bq = bb * cs + dd * sn
  cq = -aa * sn + cc * cs
  mid = 0.5 * ((aa * cs + cc * sn) + (-bb * sn + dd * cs))
  # ... whose signs still make the eigenvalues real: triangularize.
  sab, sac = tf.sqrt(tf.abs(bq)), tf.sqrt(tf.abs(cq))
  pp = _sign(cq) * sab * sac
  tau2 = 1 / tf.sqrt(tf.where(tf.equal(bq + cq, 0), one, tf.abs(bq + cq)))
  cs1, sn1 = sab * tau2, sac * tau2
  tri = tf.logical_and(tf.not_equal(cq, 0), tf.logical_and(
      tf.not_equal(bq, 0), tf.equal(_sign(bq), _sign(cq))))
  swap = tf.logical_and(tf.not_equal(cq, 0), tf.equal(bq, 0))
  cplx_out = tuple(tf.where(tri, t1, tf.where(swap, t2, t3)) for t1, t2, t3 in (
      (mid + pp, mid, mid), (bq - cq, -cq, bq), (zero, zero, cq),
      (mid - pp, mid, mid), (cs * cs1 - sn * sn1, -sn, cs),
      (cs * sn1 + sn * cs1, cs, sn)))
  keep = (a, b, c, d, one, zero)
  swapped = (d, -c, zero, a, zero, one)
  c_zero = tf.equal(c, 0)
  b_zero = tf.equal(b, 0)
  standard = tf.logical_and(tf.equal(temp, 0),
                            tf.not_equal(_sign(b), _sign(c)))
  real_ev = z >= 4 * eps
  return tuple(
      tf.where(c_zero, k, tf.where(b_zero, s, tf.where(
          standard, k, tf.where(real_ev, r, x))))
      for k, s, r, x in zip(keep, swapped, real_out, cplx_out))


def _schur_iteration(h: tf.Tensor, z: tf.Tensor, n: int
                     ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """Shifted QR iteration of the upper Hessenberg `h` (z accumulates the
  transformations). Returns T, Z and whether each matrix converged."""
  real = not h.dtype.is_complex
  dtype = h.dtype
  ulp = _ulp(dtype)
  batch = tf.shape(h)[:-2]
  idx = tf.range(n)
  eye = tf.eye(n, batch_shape=batch, dtype=dtype)
  tol = ulp * tf.reduce_max(tf.abs(h), [-2, -1])
  max_iterations = 30 * max(n, 10) + 2 * n

  def body(it, h, z, p, since):
    pm1, pm2, pm3 = (tf.maximum(p - k, 0) for k in (1, 2, 3))
    sub1 = tf.abs(_entry(h, n, pm1, pm2))
    sub2 = tf.where(p > 2, tf.abs(_entry(h, n, pm2, pm3)), tf.zeros_like(sub1))
    live = p > 1
    small1 = tf.logical_and(live, sub1 <= tol)
    h = _put(h, n, pm1, pm2, tf.zeros_like(sub1, dtype), small1)
    a, b = _entry(h, n, pm2, pm2), _entry(h, n, pm2, pm1)
    c, d = _entry(h, n, pm1, pm2), _entry(h, n, pm1, pm1)
    if real:
      # A trailing 2x2 block cut off from the rest: standardize, deflate.
      iso2 = tf.logical_and(tf.logical_and(live, tf.logical_not(small1)),
                            tf.logical_or(tf.equal(p, 2), sub2 <= tol))
      h = _put(h, n, pm2, pm3, tf.zeros_like(a), tf.logical_and(iso2, p > 2))
      a2, b2, c2, d2, cs, sn = dlanv2(a, b, c, d, ulp)
      g = eye
      for (i, j), val in (((pm2, pm2), cs), ((pm2, pm1), -sn),
                          ((pm1, pm2), sn), ((pm1, pm1), cs)):
        g = _put(g, n, i, j, val, iso2)
      hg = tf.matmul(g, tf.matmul(h, g), transpose_a=True)
      for (i, j), val in (((pm2, pm2), a2), ((pm2, pm1), b2),
                          ((pm1, pm2), c2), ((pm1, pm1), d2)):
        hg = _put(hg, n, i, j, val, iso2)
      h = tf.where(iso2[..., None, None], hg, h)
      z = tf.where(iso2[..., None, None], tf.matmul(z, g), z)
    else:
      iso2 = tf.zeros_like(small1)
    step = tf.logical_and(live, tf.logical_not(tf.logical_or(small1, iso2)))
    exceptional = tf.logical_and(since > 0, tf.equal(since % 10, 0))
    active = tf.logical_and(idx[:, None] < p[..., None, None],
                            idx[None, :] < p[..., None, None])
    if real:
      # Francis double shift: M = H^2 - s H + t I, s and t the trace and
      # determinant of the trailing 2x2 (LAPACK's exceptional shift when
      # the iteration stalls).
      w = sub1 + sub2
      ex_a = 0.75 * w + d
      s = tf.where(exceptional, 2 * ex_a, a + d)
      t = tf.where(exceptional, ex_a * ex_a + 0.4375 * w * w, a * d - b * c)
      ha = tf.where(active, h, tf.zeros_like(h))
      m = (tf.matmul(ha, ha) - s[..., None, None] * ha
           + t[..., None, None] * eye)
    else:
      # Wilkinson shift: the trailing 2x2's eigenvalue closer to d.
      half_tr = (a + d) / 2
      disc = tf.sqrt(half_tr * half_tr - (a * d - b * c))
      l1, l2 = half_tr + disc, half_tr - disc
      mu = tf.where(tf.abs(l1 - d) < tf.abs(l2 - d), l1, l2)
      mu = tf.where(exceptional, d + tf.cast(0.75 * sub1, dtype), mu)
      m = h - mu[..., None, None] * eye
    q, _ = tf.linalg.qr(tf.where(active, m, eye))
    hq = tf.linalg.band_part(tf.matmul(q, tf.matmul(h, q), adjoint_a=True),
                             1, -1)
    h = tf.where(step[..., None, None], hq, h)
    z = tf.where(step[..., None, None], tf.matmul(z, q), z)
    p = p - tf.cast(small1, tf.int32) - 2 * tf.cast(iso2, tf.int32)
    since = tf.where(step, since + 1, tf.zeros_like(since))
    return it + 1, h, z, p, since

  p0 = tf.fill(batch, tf.constant(n))
  _, h, z, p, _ = tf.while_loop(
      lambda it, h, z, p, since: tf.logical_and(it < max_iterations,
                                                tf.reduce_any(p > 1)),
      body, [tf.constant(0), h, z, p0, tf.zeros(batch, tf.int32)])
  return h, z, p <= 1


@register(lax_linalg.schur_p)
def _schur(ctx: RuleContext, x: tf.Tensor, *, compute_schur_vectors: bool,
           sort_eig_vals: bool, select_callable: Any) -> list[tf.Tensor]:
  """(T, [Z]) with A = Z T Z^H; see the module docstring for how this
  differs from LAPACK's (equally valid) result."""
  del select_callable  # JAX ignores it too.
  if sort_eig_vals:
    raise ctx.unsupported("sort_eig_vals=True (JAX's own CPU lowering does "
                          "not implement gees' sorting either)")
  n = ctx.dim(ctx.avals_in[0].shape[-1])
  if not isinstance(n, int):
    raise ctx.unsupported("a symbolic matrix size (JAX's lowering needs a "
                          "static one too)")
  a = to_work(x)
  if n == 0:
    outs = [a, a]
  else:
    packed, taus = gehrd(a, n)
    eye = tf.eye(n, batch_shape=tf.shape(a)[:-2], dtype=a.dtype)
    z = apply_reflectors(hessenberg_reflector_vectors(packed, n), taus, eye,
                         left=True, adjoint=False)
    t, z, ok = _schur_iteration(tf.linalg.band_part(packed, 1, -1), z, n)
    outs = [nan_where_not(ok, t, 2), nan_where_not(ok, z, 2)]
  if not compute_schur_vectors:
    outs = outs[:1]
  return [cast_out(ctx, o, i) for i, o in enumerate(outs)]
