"""Transcendental functions of constants, folded as XLA folds them.

JAX's value for a function of literals (log(a - 1/3) in the gamma sampler's
setup, erf of a truncated normal's bounds) is what JAX's compiler folds on
the host, not what XLA's kernels compute at run time. Measured against
jax.jit (tests/test_constant_folding.py keeps it so): for float32,
exp/log/sin/cos/tan/tanh/erf are the C library's double function rounded to
float, unless some finite input has a non-finite result (log(0), log(-1)):
then every element is the C library's float function; log1p/expm1/cbrt are
always the float function. float64 uses the double functions (a NaN made
from a number is positive, as XLA gives it). TF folds the
same expressions with its own kernels (grappler in graphs, the tf2xla
bridge before XLA sees a jit_compile graph), whose Eigen approximations are
an ulp or so off, and that is enough to move a rejection sampler's samples.
So these rules fold a static input themselves, with the C library; anything
else (other functions, half types, large constants, no C library found) is
left to the TF op.

Also here: XLA's simplifier rewrites (a * c1) * c2 for constants c1, c2 as
a * (c1 * c2) (times_constant_product, used by the mul rule).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from jax2tf_impl.rules.support import computed_from_constants, static_value

# float32 through the double function (rounded), else through the float one.
_DOUBLE_FOR_FLOAT32 = frozenset({"exp", "log", "sin", "cos", "tan", "tanh", "erf"})
FOLDED_PRIMITIVES = _DOUBLE_FOR_FLOAT32 | {"log1p", "expm1", "cbrt"}

# Larger constants are left to TF (a Python call per distinct value).
_MAX_DISTINCT_VALUES = 4096
_MAX_ELEMENTS = 1 << 16


@functools.lru_cache(maxsize=None)
def _c_function(name: str, single: bool) -> Callable[[float], float] | None:
  path = ctypes.util.find_library("m")
  if path is None:
    return None
  try:
    fn = getattr(ctypes.CDLL(path), name)
  except (OSError, AttributeError):
    return None
  c_type = ctypes.c_float if single else ctypes.c_double
  fn.restype, fn.argtypes = c_type, [c_type]
  return fn


def fold_unary(primitive: str, x: Any) -> tf.Tensor | None:
  """`primitive`(x) as a constant computed like XLA's folder, or None when
  x is not a (small, float32/float64) constant or the function is not one
  XLA folds through the C library."""
  if primitive not in FOLDED_PRIMITIVES or tf.executing_eagerly():
    return None
  dtype = getattr(x, "dtype", None)
  if dtype not in (tf.float32, tf.float64):
    return None
  size = tf.TensorShape(getattr(x, "shape", None)).num_elements()
  if size is None or size > _MAX_ELEMENTS:
    return None
  value = static_value(x)
  if value is None:
    return None
  value = np.asarray(value)
  # Distinct bit patterns (so that -0.0 and 0.0 stay apart).
  bits = value.view(np.uint32 if dtype == tf.float32 else np.uint64)
  distinct, inverse = np.unique(bits.ravel(), return_inverse=True)
  if distinct.size > _MAX_DISTINCT_VALUES:
    return None
  inputs = [float(v) for v in distinct.view(value.dtype)]
  outputs = None
  if dtype == tf.float64 or primitive in _DOUBLE_FOR_FLOAT32:
    outputs = _apply(_c_function(primitive, single=False), inputs)
    if (outputs is not None and dtype == tf.float32
        and not np.all(np.isfinite(outputs) | ~np.isfinite(inputs))):
      outputs = None  # a finite input with a non-finite result
  if outputs is None and dtype == tf.float32:
    outputs = _apply(_c_function(primitive + "f", single=True), inputs)
  if outputs is None:
    return None
  if dtype == tf.float64:
    # A NaN made from a number is XLA's positive quiet NaN (the C library's
    # log(-1) is -NaN).
    outputs = np.where(np.isnan(outputs) & np.isfinite(inputs), np.nan, outputs)
  folded = outputs.astype(value.dtype)[inverse].reshape(value.shape)
  return tf.constant(folded, dtype)


def _apply(fn: Callable[[float], float] | None, inputs: list[float]
           ) -> np.ndarray | None:
  if fn is None:
    return None
  return np.array([fn(v) for v in inputs], np.float64)


# --- (a * c1) * c2 ------------------------------------------------------------

def _uniform_constant(t: Any) -> np.ndarray | None:
  """The one value of a constant whose elements are all equal, or None."""
  if not computed_from_constants(t) or np.prod(t.shape or ()) > 65536:
    return None
  value = static_value(t)
  if value is None:
    return None
  flat = np.asarray(value).reshape(-1)
  raw = flat.view(np.uint8).reshape(flat.size, -1)
  if flat.size == 0 or not np.all(raw == raw[:1]):
    return None
  return flat[0]


def times_constant_product(inner: Any, c2_tensor: Any) -> Any:
  """a * (c1 * c2) if `inner` is a TF product a * c1 with c1 a Const (a
  literal) and `c2_tensor` a uniform constant c2; else None. XLA's
  simplifier reassociates (a * c1) * c2 so, folding c1 * c2 in the type."""
  op = getattr(inner, "op", None)
  if op is None or op.type != "Mul":
    return None
  c2 = _uniform_constant(c2_tensor)
  if c2 is None:
    return None
  p, q = op.inputs
  for a, c in ((p, q), (q, p)):
    if c.op.type != "Const" or computed_from_constants(a) or a.shape != inner.shape:
      continue
    c1 = _uniform_constant(c)
    if c1 is not None:
      with np.errstate(all="ignore"):
        product = np.asarray(c1 * c2, c1.dtype)
      return tf.math.multiply(a, tf.constant(product, a.dtype))
  return None
