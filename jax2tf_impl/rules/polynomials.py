"""Polynomial and series forms for the portable math rules (no special
TF op: TFLite, tf2onnx and TF.js lack Log1p, Erf, Ndtri, ...)."""
from __future__ import annotations

from typing import Any, Sequence

import tensorflow as tf


def horner(coefficients: Sequence[float], x: Any) -> Any:
  """c[0] x^(n-1) + ... + c[n-1], highest power first, in x's dtype."""
  out = tf.constant(coefficients[0], x.dtype)
  for c in coefficients[1:]:
    out = out * x + c
  return out


def portable_log1p(x: Any) -> Any:
  """log(1 + x) without a Log1p op (tf2onnx has none).

  |x| < 1/4: the Taylor series x - x^2/2 + x^3/3 - ... (13 terms for
  float32, 28 for float64: truncation below half an ulp); elsewhere
  log(1 + x), whose rounding of 1 + x costs at most ~2 ulps there. (Tricks
  that reuse log(1 + x) for tiny x break under grappler, which rewrites
  log(x + 1) into Log1p inside tf.function.)
  """
  terms = 28 if x.dtype == tf.float64 else 13
  small = x * horner([(-1.0) ** (k + 1) / k for k in range(terms, 0, -1)], x)
  one = tf.ones([], x.dtype)
  return tf.where(tf.math.abs(x) < 0.25, small, tf.math.log(x + one))
