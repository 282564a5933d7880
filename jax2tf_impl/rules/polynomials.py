"""Polynomial evaluation for the portable (op-free) math forms."""
from __future__ import annotations

from typing import Any, Sequence

import tensorflow as tf


def horner(coefficients: Sequence[float], x: Any) -> Any:
  """c[0] x^(n-1) + ... + c[n-1], highest power first, in x's dtype."""
  out = tf.constant(coefficients[0], x.dtype)
  for c in coefficients[1:]:
    out = out * x + c
  return out
