"""Helpers shared by the linear-algebra rule families (linalg.py,
linalg_spectral.py, linalg_reductions.py, linalg_schur.py): work dtypes,
output casts, LAPACK-style NaN results, identity batches, the Hermitian
matrix a triangle stands for. No rules here; one home so that the families
import it rather than each other."""
from __future__ import annotations

from typing import Any

import tensorflow as tf

from jax2tf_impl.rules.context import RuleContext



def work_dtype(dtype: tf.DType) -> tf.DType:
  """TF's linalg kernels lack f16/bf16: compute those in float32."""
  return tf.float32 if dtype in (tf.float16, tf.bfloat16) else dtype


def to_work(x: tf.Tensor) -> tf.Tensor:
  return tf.cast(x, work_dtype(x.dtype))


def cast_out(ctx: RuleContext, x: tf.Tensor, index: int = 0) -> tf.Tensor:
  """Casts `x` to the dtype of output `index` (back from the work dtype)."""
  dtype = ctx.tf_dtype(ctx.avals_out[index])
  if x.dtype.is_complex and not dtype.is_complex:
    x = tf.math.real(x)
  return tf.cast(x, dtype)


def batch_rank(aval: Any) -> int:
  return len(aval.shape) - 2


def static_zero(*dims: Any) -> bool:
  """Whether any of `dims` is statically 0 (JAX special-cases empty inputs)."""
  return any(isinstance(d, int) and d == 0 for d in dims)


def nan_where_not(ok: tf.Tensor, x: tf.Tensor, extra_dims: int) -> tf.Tensor:
  """LAPACK failures (info != 0) give NaN for that batch element, as JAX."""
  for _ in range(extra_dims):
    ok = ok[..., None]
  nan = tf.constant(float("nan"), x.dtype.real_dtype)
  return tf.where(ok, x, tf.cast(nan, x.dtype))


def eye_like_batch(ctx: RuleContext, batch: list[Any], rows: Any, cols: Any,
                   dtype: tf.DType) -> tf.Tensor:
  return tf.eye(rows, cols, batch_shape=batch or None, dtype=dtype)


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
