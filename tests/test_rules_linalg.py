"""Linear-algebra rules: semantics the harnesses do not reach.

Every test compares with JAX's own output on the same input (or, for
non-unique results, with JAX's values plus the defining property).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf
from jax import lax
from jax._src.lax import linalg as lax_linalg

import jax2tf_impl
from support.tf_testing import jax_outputs as jax_run, random_array, run_converted


def _run_fn(fn, *args, mode="eager", enable_xla=True, **kw):
  return run_converted(fn, mode, *args, enable_xla=enable_xla, **kw)

jax.config.update("jax_enable_x64", True)

MODES = ("eager", "graph", "jit")


def assert_same(tf_outs, jax_outs, tol):
  assert len(tf_outs) == len(jax_outs)
  for t, j in zip(tf_outs, jax_outs):
    assert t.dtype == j.dtype and t.shape == j.shape, (t.dtype, j.dtype,
                                                       t.shape, j.shape)
    np.testing.assert_allclose(t, j, rtol=tol, atol=tol, equal_nan=True)


rand = random_array


# --- cholesky ---------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_cholesky_not_positive_definite_gives_nan(mode):
  a = np.stack([np.eye(3) * 2, -np.eye(3), np.diag([1.0, 0.0, 1.0])])
  a = a.astype(np.float32)
  fn = lambda x: lax.linalg.cholesky_p.bind(x)
  out = _run_fn(fn, a, mode=mode)
  assert_same(out, jax_run(fn, a), 1e-6)
  assert np.isnan(out[0][1]).all() and np.isnan(out[0][2]).all()
  assert not np.isnan(out[0][0]).any()


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_cholesky_reads_lower_triangle_only(dtype):
  b = rand((4, 4), dtype)
  a = b @ np.conj(b.T) + 4 * np.eye(4)
  a = np.tril(a) + np.triu(rand((4, 4), dtype, 1) * 100, 1)
  fn = lambda x: lax.linalg.cholesky(x, symmetrize_input=False)
  assert_same(_run_fn(fn, a), jax_run(fn, a), 1e-10)


def test_cholesky_polymorphic_batch():
  b = rand((3, 4, 4), np.float32)
  a = b @ np.swapaxes(b, -1, -2) + 4 * np.eye(4, dtype=np.float32)
  fn = jnp.linalg.cholesky
  converted = jax2tf_impl.convert(fn, polymorphic_shapes=["(b, 4, 4)"])
  f = tf.function(converted, autograph=False,
                  input_signature=[tf.TensorSpec([None, 4, 4], tf.float32)])
  np.testing.assert_allclose(f(a), jax_run(fn, a)[0], rtol=1e-5, atol=1e-5)


# --- lu -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", [(5, 5), (3, 5), (5, 3), (2, 4, 4), (0, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
def test_lu_matches_jax_exactly(shape, dtype, mode):
  a = rand(shape, dtype)
  fn = lax.linalg.lu
  tol = 1e-5 if dtype == np.float32 else 1e-12
  assert_same(_run_fn(fn, a, mode=mode), jax_run(fn, a), tol)


@pytest.mark.parametrize("mode", ("eager", "jit"))
def test_lu_singular(mode):
  a = np.array([[0., 0., 1.], [0., 0., 2.], [1., 3., 4.]])
  fn = lax.linalg.lu
  assert_same(_run_fn(fn, a, mode=mode), jax_run(fn, a), 1e-12)


def test_lu_pivots_to_permutation():
  pivots = np.array([[2, 2, 3], [0, 3, 3]], np.int32)
  fn = lambda p: lax.linalg.lu_pivots_to_permutation(p, 5)
  assert_same(_run_fn(fn, pivots), jax_run(fn, pivots), 0)


@pytest.mark.parametrize("mode", MODES)
def test_solve_det_inv(mode):
  a = rand((2, 4, 4), np.float64)
  b = rand((2, 4, 3), np.float64, 1)
  fn = lambda a, b: (jnp.linalg.solve(a, b), jnp.linalg.det(a),
                     jnp.linalg.inv(a))
  assert_same(_run_fn(fn, a, b, mode=mode), jax_run(fn, a, b), 1e-10)


def test_lu_no_xla_ops():
  a = rand((4, 4), np.float32)
  converted = jax2tf_impl.convert(lax.linalg.lu, enable_xla=False)
  graph = tf.function(converted, autograph=False).get_concrete_function(
      tf.TensorSpec([4, 4], tf.float32)).graph
  assert not [op.type for op in graph.get_operations()
              if op.type.startswith("Xla")]
  assert_same([np.asarray(o) for o in converted(a)],
              jax_run(lax.linalg.lu, a), 1e-5)


# --- triangular / tridiagonal solve ----------------------------------------


@pytest.mark.parametrize("left_side", [True, False])
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("transpose_a", [True, False])
@pytest.mark.parametrize("conjugate_a", [True, False])
@pytest.mark.parametrize("unit_diagonal", [True, False])
def test_triangular_solve_all_flags(left_side, lower, transpose_a,
                                    conjugate_a, unit_diagonal):
  # Garbage in the unused triangle (and on the diagonal for unit_diagonal).
  a = rand((2, 4, 4), np.complex128) + 4 * np.eye(4)
  b = rand((2, 4, 3) if left_side else (2, 3, 4), np.complex128, 1)
  fn = lambda a, b: lax.linalg.triangular_solve(
      a, b, left_side=left_side, lower=lower, transpose_a=transpose_a,
      conjugate_a=conjugate_a, unit_diagonal=unit_diagonal)
  assert_same(_run_fn(fn, a, b), jax_run(fn, a, b), 1e-10)


@pytest.mark.parametrize("mode", MODES)
def test_tridiagonal_solve(mode):
  dl = np.array([[0., 1., 2., 3.]] * 2)
  d = np.array([[4., 5., 6., 7.], [3., 3., 3., 3.]])
  du = np.array([[1., 2., 3., 0.]] * 2)
  b = rand((2, 4, 2), np.float64)
  fn = lax.linalg.tridiagonal_solve
  assert_same(_run_fn(fn, dl, d, du, b, mode=mode), jax_run(fn, dl, d, du, b),
              1e-12)


def test_tridiagonal_solve_needs_pivoting():
  # d[0] == 0: LAPACK's gtsv (JAX on CPU) pivots; so do we outside XLA.
  dl, d, du = np.array([0., 1., 1.]), np.array([0., 1., 1.]), np.array(
      [1., 1., 0.])
  b = np.array([[1.], [2.], [3.]])
  fn = lax.linalg.tridiagonal_solve
  assert_same(_run_fn(fn, dl, d, du, b), jax_run(fn, dl, d, du, b), 1e-12)


# --- qr / svd / eigh / eig --------------------------------------------------


def _h(x):
  return np.conj(np.swapaxes(x, -1, -2))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("full_matrices", [True, False])
@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (0, 3), (3, 0)])
def test_qr(shape, full_matrices, mode):
  a = rand(shape, np.complex64)
  fn = lambda x: lax.linalg.qr(x, full_matrices=full_matrices)
  q, r = _run_fn(fn, a, mode=mode)
  qj, rj = jax_run(fn, a)
  assert q.shape == qj.shape and r.shape == rj.shape and q.dtype == qj.dtype
  np.testing.assert_allclose(q @ r, a, atol=1e-5)
  np.testing.assert_allclose(_h(q) @ q, np.eye(q.shape[-1]), atol=1e-5)
  np.testing.assert_array_equal(np.tril(r, -1), 0)
  # Same Householder convention as LAPACK: same factors, not just valid ones.
  np.testing.assert_allclose(np.abs(r), np.abs(rj), atol=1e-4)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
@pytest.mark.parametrize("full_matrices", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4)])
def test_svd(shape, dtype, full_matrices, mode):
  a = rand(shape, dtype)
  fn = lambda x: lax.linalg.svd(x, full_matrices=full_matrices)
  u, s, vt = _run_fn(fn, a, mode=mode)
  uj, sj, vtj = jax_run(fn, a)
  assert (u.shape, s.shape, vt.shape) == (uj.shape, sj.shape, vtj.shape)
  assert (u.dtype, s.dtype, vt.dtype) == (uj.dtype, sj.dtype, vtj.dtype)
  np.testing.assert_allclose(s, sj, atol=1e-5)
  k = s.shape[-1]
  np.testing.assert_allclose((u[..., :k] * s[..., None, :]) @ vt[..., :k, :],
                             a, atol=1e-5)
  np.testing.assert_allclose(_h(u) @ u, np.broadcast_to(
      np.eye(u.shape[-1]), _h(u).shape[:-1] + (u.shape[-1],)), atol=1e-5)
  np.testing.assert_allclose(vt @ _h(vt), np.broadcast_to(
      np.eye(vt.shape[-2]), vt.shape[:-1] + (vt.shape[-2],)), atol=1e-5)


def test_svd_subset_by_index():
  # JAX's CPU lowering rejects subset_by_index; it selects singular values
  # lo..hi-1 of the full decomposition (as on TPU).
  a = rand((6, 5), np.float64)
  fn = lambda x: lax.linalg.svd_p.bind(x, full_matrices=False,
                                       compute_uv=True, subset_by_index=(1, 3),
                                       algorithm=None)
  s, u, vt = _run_fn(fn, a)
  uj, sj, vtj = jax_run(lambda x: lax.linalg.svd(x, full_matrices=False,
                                                 compute_uv=True), a)
  np.testing.assert_allclose(s, sj[1:3], atol=1e-12)
  np.testing.assert_allclose(np.abs(u), np.abs(uj[:, 1:3]), atol=1e-10)
  np.testing.assert_allclose(np.abs(vt), np.abs(vtj[1:3]), atol=1e-10)


@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_eigh_reads_one_triangle(lower, dtype):
  a = rand((2, 5, 5), dtype)  # not Hermitian: only one triangle counts
  fn = lambda x: lax.linalg.eigh(x, lower=lower, symmetrize_input=False)
  v, w = _run_fn(fn, a)
  vj, wj = jax_run(fn, a)
  np.testing.assert_allclose(w, wj, atol=1e-10)
  strict = np.tril(a, -1) if lower else np.triu(a, 1)
  diag = np.real(np.diagonal(a, axis1=-2, axis2=-1))
  herm = strict + _h(strict) + diag[..., None] * np.eye(5)
  np.testing.assert_allclose(herm @ v, v * w[..., None, :], atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
@pytest.mark.parametrize("mode", ("eager", "graph"))
def test_eig_left_and_right(dtype, mode):
  a = rand((2, 4, 4), dtype)
  fn = lambda x: lax.linalg.eig(x, compute_left_eigenvectors=True,
                                compute_right_eigenvectors=True)
  w, vl, vr = _run_fn(fn, a, mode=mode)
  wj = jax_run(fn, a)[0]
  assert w.dtype == wj.dtype
  np.testing.assert_allclose(np.sort_complex(w.reshape(-1)),
                             np.sort_complex(wj.reshape(-1)), atol=1e-10)
  np.testing.assert_allclose(a @ vr, vr * w[..., None, :], atol=1e-10)
  np.testing.assert_allclose(_h(vl) @ a, w[..., :, None] * _h(vl), atol=1e-10)
  np.testing.assert_allclose(np.linalg.norm(vr, axis=-2), 1, atol=1e-12)
  np.testing.assert_allclose(np.linalg.norm(vl, axis=-2), 1, atol=1e-12)


def test_custom_linear_solve():
  a = rand((3, 3), np.float64) + 3 * np.eye(3)
  b = rand((3,), np.float64, 1)

  def fn(a, b):
    matvec = lambda x: a @ x
    solve = lambda _, y: jnp.linalg.solve(a, y)
    return lax.custom_linear_solve(matvec, b, solve)

  assert_same(_run_fn(fn, a, b), jax_run(fn, a, b), 1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4)])
def test_geqrf_and_householder_product(shape, dtype, mode):
  a = rand(shape, dtype)

  def fn(x):
    r, taus = lax_linalg.geqrf(x)
    k = min(x.shape[-2:])
    return r, taus, lax_linalg.householder_product(r[..., :, :k], taus)

  assert_same(_run_fn(fn, a, mode=mode), jax_run(fn, a), 1e-10)


def test_cholesky_update_and_symmetric_product():
  b = rand((4, 4), np.float64)
  r = np.linalg.cholesky(b @ b.T + 4 * np.eye(4)).T
  z = rand((4,), np.float64, 1)
  c = rand((4, 4), np.float64, 2)
  fn = lambda r, z, b, c: (lax.linalg.cholesky_update(r, z),
                           lax_linalg.symmetric_product(b, c, alpha=2.0,
                                                        beta=-0.5))
  assert_same(_run_fn(fn, r, z, b, c), jax_run(fn, r, z, b, c), 1e-12)


@pytest.mark.parametrize("case", ["random", "identity", "repeated", "zero",
                                  "triangular", "rotation"])
def test_eig_under_xla(case):
  a = {"random": rand((3, 5, 5), np.float64),
       "identity": np.eye(4),
       "repeated": np.diag([2.0, 1.0, 2.0, 1.0]),
       "zero": np.zeros((3, 3)),
       "triangular": np.triu(rand((4, 4), np.float64)),
       "rotation": np.array([[0.0, -1.0], [1.0, 0.0]])}[case]
  fn = lambda x: lax.linalg.eig(x, compute_left_eigenvectors=True,
                                compute_right_eigenvectors=True)
  w, vl, vr = _run_fn(fn, a, mode="jit")
  wj = jax_run(fn, a)[0]
  assert w.dtype == wj.dtype and w.shape == wj.shape
  np.testing.assert_allclose(np.sort_complex(np.round(w.reshape(-1), 8)),
                             np.sort_complex(np.round(wj.reshape(-1), 8)),
                             atol=1e-8)
  np.testing.assert_allclose(a @ vr, vr * w[..., None, :], atol=1e-10)
  np.testing.assert_allclose(_h(vl) @ a, w[..., :, None] * _h(vl), atol=1e-10)
  np.testing.assert_allclose(np.linalg.norm(vr, axis=-2), 1, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_eigh_float64_under_xla_is_accurate(dtype):
  a = rand((2, 30, 30), dtype)
  a = a + _h(a)
  fn = lambda x: lax.linalg.eigh(x)
  v, w = _run_fn(fn, a, mode="jit")
  vj, wj = jax_run(fn, a)
  assert v.dtype == vj.dtype and w.dtype == wj.dtype
  np.testing.assert_allclose(w, wj, atol=1e-11)
  np.testing.assert_allclose(a @ v, v * w[..., None, :], atol=1e-11)
  np.testing.assert_allclose(_h(v) @ v, np.broadcast_to(np.eye(30), v.shape),
                             atol=1e-12)


def test_polymorphic_batch_decompositions():
  a = rand((3, 4, 4), np.float32)
  a = a + np.swapaxes(a, -1, -2)

  def fn(x):
    s = lax.linalg.svd(x, compute_uv=False)
    w = lax.linalg.eigh(x)[1]
    lu, piv, perm = lax.linalg.lu(x)
    r = lax.linalg.qr(x)[1]
    return s, w, lu, piv, perm, jnp.abs(r)

  converted = jax2tf_impl.convert(fn, polymorphic_shapes=["(b, 4, 4)"])
  f = tf.function(converted, autograph=False,
                  input_signature=[tf.TensorSpec([None, 4, 4], tf.float32)])
  outs = [np.asarray(o) for o in f(a)]
  assert_same(outs, jax_run(fn, a), 1e-4)


@pytest.mark.parametrize("enable_xla", [True, False])
def test_svd_float64_under_xla(enable_xla):
  a = rand((2, 30, 20), np.float64)
  fn = lambda x: lax.linalg.svd(x, full_matrices=False)
  converted = tf.function(jax2tf_impl.convert(fn, enable_xla=enable_xla),
                          autograph=False, jit_compile=True)
  graph = converted.get_concrete_function(
      tf.TensorSpec(a.shape, tf.float64)).graph
  xla_ops = {op.type for op in graph.get_operations()
             if op.type.startswith("Xla")}
  assert xla_ops == ({"XlaSvd"} if enable_xla else set())
  u, s, vt = [np.asarray(o) for o in converted(a)]
  uj, sj, vtj = jax_run(fn, a)
  assert (u.shape, vt.shape) == (uj.shape, vtj.shape)
  # XlaSvd with a float64 tolerance; TF's own Svd under XLA stops at 1e-6.
  tol = 1e-12 if enable_xla else 1e-5
  np.testing.assert_allclose(s, sj, atol=tol)
  np.testing.assert_allclose((u * s[..., None, :]) @ vt, a, atol=tol)
