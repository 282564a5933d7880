"""Rules for the fft family (see rules/__init__.py for the rule signature).

JAX's `fft` primitive transforms the innermost `len(fft_lengths)` (1 to 3)
axes. TF's tf.signal ops do the same on the innermost 1/2/3 axes, with the
same normalization (inverse transforms divide by the number of points), and
their kernels cover complex64/complex128 and float32/float64.
"""
from __future__ import annotations

from typing import Any, Sequence

import tensorflow as tf
from jax import lax
from jax.lax import FftType

from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext

_FFT = {1: tf.signal.fft, 2: tf.signal.fft2d, 3: tf.signal.fft3d}
_IFFT = {1: tf.signal.ifft, 2: tf.signal.ifft2d, 3: tf.signal.ifft3d}
_RFFT = {1: tf.signal.rfft, 2: tf.signal.rfft2d, 3: tf.signal.rfft3d}


def _static_lengths(ctx: RuleContext, fft_lengths: Sequence[Any]) -> list[int]:
  lengths = [ctx.dim(d) for d in fft_lengths]
  if not all(isinstance(d, int) for d in lengths):
    raise ctx.unsupported("fft with symbolic fft_lengths")
  if not 1 <= len(lengths) <= 3:
    raise ctx.unsupported(f"fft over {len(lengths)} axes (TF has 1 to 3)")
  return lengths


def _swap_last_with(x: tf.Tensor, rank: int, axis: int) -> tf.Tensor:
  """Swaps axis `axis` (negative) with the innermost axis; self-inverse."""
  perm = list(range(rank))
  perm[axis], perm[-1] = perm[-1], perm[axis]
  return tf.transpose(x, perm)


def _irfft(x: tf.Tensor, rank: int, lengths: list[int]) -> tf.Tensor:
  """Multi-axis inverse real FFT as NumPy/JAX define it.

  Hermitian symmetry is assumed on the innermost axis only: the outer axes
  get a full complex inverse FFT, then the innermost a 1-D C2R transform.
  (A multi-dimensional C2R kernel, as cuFFT's behind TF's irfft2d on GPU,
  assumes symmetry on every axis and differs on non-symmetric input; JAX's
  own GPU lowering decomposes the same way.)
  """
  for axis in range(-len(lengths), -1):
    x = _swap_last_with(tf.signal.ifft(_swap_last_with(x, rank, axis)),
                        rank, axis)
  return tf.signal.irfft(x, fft_length=[lengths[-1]])


@register(lax.fft_p)
def _fft(ctx: RuleContext, x: tf.Tensor, *, fft_type: Any,
         fft_lengths: Sequence[Any]) -> tf.Tensor:
  """FFT / IFFT (complex -> complex), RFFT (real -> complex, innermost axis
  halved to n//2+1), IRFFT (complex -> real of length fft_lengths[-1])."""
  lengths = _static_lengths(ctx, fft_lengths)
  rank = len(ctx.avals_in[0].shape)
  fft_type = FftType(fft_type)
  if fft_type == FftType.FFT:
    out = _FFT[len(lengths)](x)
  elif fft_type == FftType.IFFT:
    out = _IFFT[len(lengths)](x)
  elif fft_type == FftType.RFFT:
    out = _RFFT[len(lengths)](x, fft_length=lengths)
  elif fft_type == FftType.IRFFT:
    out = _irfft(x, rank, lengths)
  else:
    raise ctx.unsupported(f"fft_type {fft_type}")
  want = ctx.tf_dtype(ctx.aval_out)
  if out.dtype != want:  # tf.signal picks complex64/float32 by default
    raise ctx.unsupported(f"fft producing {out.dtype.name}, JAX wants "
                          f"{want.name}")
  return out
