"""JAX <-> TensorFlow dtype mapping and the x64 policy.

One source of truth: the dtype of every TF value we create comes from the
aval in the jaxpr (design principle 5); these helpers only translate it.
"""
from __future__ import annotations

from typing import Any

import jax
import numpy as np
import tensorflow as tf
from jax import dtypes as jax_dtypes

FLOAT0 = jax_dtypes.float0


def x64_enabled() -> bool:
  """Whether JAX is currently configured for 64-bit types."""
  return bool(jax.config.jax_enable_x64)


def to_tf_dtype(dtype: Any) -> tf.DType:
  """The TF dtype for a JAX/numpy dtype (bfloat16 and fp8 included).

  float0 (the tangent type of integers) has no TF counterpart; TF represents
  those zero-sized-information values as bool zeros, as upstream jax2tf did.
  """
  dtype = np.dtype(dtype)
  if dtype == FLOAT0:
    return tf.bool
  return tf.as_dtype(dtype)


def to_np_dtype(dtype: tf.DType | Any) -> np.dtype:
  """The numpy dtype (ml_dtypes for bfloat16/fp8) of a TF or numpy dtype."""
  if isinstance(dtype, tf.DType):
    return np.dtype(dtype.as_numpy_dtype)
  return np.dtype(dtype)


def canonicalize(dtype: Any) -> np.dtype:
  """The dtype JAX would use for `dtype` under the current x64 setting."""
  return np.dtype(jax_dtypes.canonicalize_dtype(np.dtype(dtype)))


def is_float(dtype: Any) -> bool:
  return jax_dtypes.issubdtype(np.dtype(dtype), np.floating)


def is_complex(dtype: Any) -> bool:
  return jax_dtypes.issubdtype(np.dtype(dtype), np.complexfloating)


def is_integer(dtype: Any) -> bool:
  return jax_dtypes.issubdtype(np.dtype(dtype), np.integer)


def is_unsigned(dtype: Any) -> bool:
  return jax_dtypes.issubdtype(np.dtype(dtype), np.unsignedinteger)


def is_bool(dtype: Any) -> bool:
  return np.dtype(dtype) == np.bool_


def is_inexact(dtype: Any) -> bool:
  return is_float(dtype) or is_complex(dtype)


def is_differentiable(dtype: Any) -> bool:
  """Whether JAX gives this dtype real (non-float0) cotangents."""
  return is_inexact(dtype)
