"""Rules for the conv family (see rules/__init__.py for the rule signature).

`conv_general_dilated` is lowered to portable TF ops only (no Xla* op, so
it also works under enable_xla=False):

  1. transpose lhs to channels-last (N, spatial..., C) and rhs to
     (spatial..., I, O), the layouts TF's convolutions use;
  2. batch_group_count: move the batch groups into the channels and turn
     them into feature groups (XLA defines them that way);
  3. lhs_dilation: insert zeros between input elements (transposed conv);
  4. padding: tf.pad for positive, slicing for negative pads (or TF's own
     'SAME'/'VALID' when they are exactly that);
  5. a VALID, strided, rhs-dilated, feature-grouped convolution:
     conv2d (1-D via a unit axis, grouped natively, depthwise when
     G == C), conv3d, or a sum of 2-D convs over the leading kernel axis
     where conv3d lacks groups/dilation;
  6. transpose the (N, spatial..., O) result to JAX's out layout.

Floats are computed in f32 (f16/bf16, rounded once at the end, as XLA's
CPU backend does) or f64; complex via three real convs (as JAX lowers it); integers (which TF
conv kernels mostly lack) exactly, with wrapping, as a patches x kernel
integer matmul.
"""
from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Sequence

import numpy as np
import tensorflow as tf
from jax import lax

from jax2tf_impl import dtypes as dt
from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.support import (as_shape, current_dims, from_matmul_compute,
                                       interior_pad, matmul_compute_dtype,
                                       to_matmul_compute)


@dataclasses.dataclass
class _Plan:
  """What the channels-last conv needs to know, dims from the avals.

  `jax_sizes`/`padding` are JAX dims (ints or symbolic expressions, used
  for exact static decisions); the other dims are ctx.dim values (Python
  ints, or TF scalars when symbolic).
  """
  ctx: RuleContext
  batch: Any
  channels: Any
  jax_sizes: list[Any]
  kernel: list[Any]
  jax_kernel: list[Any]
  out_sizes: list[Any]
  out_channels: int
  strides: Sequence[int]
  padding: Sequence[tuple[Any, Any]]
  lhs_dilation: Sequence[int]
  rhs_dilation: Sequence[int]
  groups: int


def _static(dims: Sequence[Any]) -> bool:
  return all(isinstance(d, int) for d in dims)


def _reshape(x: tf.Tensor, dims: Sequence[Any]) -> tf.Tensor:
  """tf.reshape to dims given as ints (-1 allowed) or TF scalars."""
  return tf.reshape(x, as_shape(dims))


def _dilate(x: tf.Tensor, sizes: list[Any], dilation: Sequence[int]
            ) -> tf.Tensor:
  """Inserts dilation-1 zeros between elements of each spatial axis of
  x (N, spatial..., C) (`sizes` are its spatial dims, ints or TF scalars)."""
  dims = [x.shape[0] if x.shape[0] is not None else tf.shape(x)[0], *sizes,
          x.shape[-1] if x.shape[-1] is not None else tf.shape(x)[-1]]
  for i, d in enumerate(dilation):
    if d != 1:
      x, dims = interior_pad(x, 1 + i, d - 1, 0, dims=dims)
  return x


def _pad(x: tf.Tensor, padding: Sequence[tuple[Any, Any]]) -> tf.Tensor:
  """Pads spatial axes of x (N, spatial..., C): positive pads add zeros,
  negative pads crop (XLA's semantics). Pads are ints or TF scalars."""
  if _static([p for pair in padding for p in pair]):
    pos = [[0, 0]] + [[max(lo, 0), max(hi, 0)] for lo, hi in padding]
    pos.append([0, 0])
    if any(p != [0, 0] for p in pos):
      x = tf.pad(x, pos)
    if any(lo < 0 or hi < 0 for lo, hi in padding):
      index = [slice(None)] + [
          slice(-lo if lo < 0 else 0, hi if hi < 0 else None)
          for lo, hi in padding] + [slice(None)]
      x = x[tuple(index)]
    return x
  # Symbolic pads: signs unknown at conversion time, so pad by max(p, 0)
  # and crop by max(-p, 0) with run-time values.
  zero = tf.constant(0, tf.int32)
  as_t = lambda p: tf.constant(p, tf.int32) if isinstance(p, int) \
      else tf.cast(p, tf.int32)  # noqa: E731
  pairs = [(as_t(lo), as_t(hi)) for lo, hi in padding]
  pos = tf.stack([tf.stack([zero, zero])]
                 + [tf.stack([tf.maximum(lo, 0), tf.maximum(hi, 0)])
                    for lo, hi in pairs] + [tf.stack([zero, zero])])
  x = tf.pad(x, pos)
  dyn = tf.shape(x, out_type=tf.int32)
  index = [slice(None)] + [
      slice(tf.maximum(-lo, 0), dyn[1 + i] - tf.maximum(-hi, 0))
      for i, (lo, hi) in enumerate(pairs)] + [slice(None)]
  return x[tuple(index)]


def _tf_padding(plan: _Plan, sizes: list[Any]) -> str | None:
  """'VALID' or 'SAME' if the padding is exactly what TF means by them.

  Decided on JAX dims (`sizes`: the spatial sizes after lhs dilation), so a
  symbolic "SAME" padding, an expression of the symbolic sizes, is still
  recognized.
  """
  padding = [tuple(p) for p in plan.padding]
  try:
    if all(core_is_zero(lo) and core_is_zero(hi) for lo, hi in padding):
      return "VALID"
    eff = [(k - 1) * d + 1 for k, d in zip(plan.jax_kernel,
                                           plan.rhs_dilation)]
    same = lax.padtype_to_pads(sizes, eff, plan.strides, "SAME")
    if all(bool(a[0] == b[0]) and bool(a[1] == b[1])
           for a, b in zip(same, padding)):
      return "SAME"
  except Exception:  # pylint: disable=broad-except  (inconclusive symbolic)
    return None
  return None


def core_is_zero(d: Any) -> bool:
  return isinstance(d, int) and d == 0


def _conv_float(plan: _Plan, x: tf.Tensor, w: tf.Tensor,
                strides: Sequence[int], dilation: Sequence[int],
                padding: str, batch: Any, out_sizes: list[Any]) -> tf.Tensor:
  """Real-float conv of x (batch, S..., C) with w (K..., I, O).

  `batch`/`out_sizes` are the dims of the result (ints or TF scalars).
  """
  nd = len(strides)
  groups = plan.groups
  if nd == 1:
    y = _conv_float(plan, tf.expand_dims(x, 1), tf.expand_dims(w, 0),
                    [1] + list(strides), [1] + list(dilation), padding,
                    batch, [1] + list(out_sizes))
    return tf.squeeze(y, 1)
  if nd == 2:
    if (groups > 1 and isinstance(plan.channels, int)
        and groups == plan.channels and list(dilation) == [1, 1]
        and strides[0] == strides[1]):
      # Depthwise: TFLite's DEPTHWISE_CONV_2D; out channel = c * mult + m.
      # The kernel's spatial sizes are symbolic in a weight gradient.
      kh, kw, _, o = current_dims(w)
      w = _reshape(w, [kh, kw, groups, o // groups])
      return tf.nn.depthwise_conv2d(x, w, [1, strides[0], strides[1], 1],
                                    padding)
    # conv2d infers the feature groups from C / I.
    return tf.nn.conv2d(x, w, [1] + list(strides) + [1], padding,
                        dilations=[1] + list(dilation) + [1])
  if nd == 3 and groups == 1 and list(dilation) == [1, 1, 1]:
    return tf.nn.conv3d(x, w, [1] + list(strides) + [1], padding)
  assert padding == "VALID", padding
  return _conv_by_leading_axis(plan, x, w, strides, dilation, batch,
                               out_sizes)


def _conv_by_leading_axis(plan: _Plan, x: tf.Tensor, w: tf.Tensor,
                          strides: Sequence[int], dilation: Sequence[int],
                          batch: Any, out_sizes: list[Any]) -> tf.Tensor:
  """An N-D VALID conv as the sum over the first kernel axis of (N-1)-D
  convs, the first spatial axis folded into the batch (conv3d on CPU has
  no feature groups, and no dilation for f16/f64)."""
  out0, s0, d0 = out_sizes[0], strides[0], dilation[0]
  if w.shape[0] is None:
    raise plan.ctx.unsupported(
        "a 3-D (or higher) conv with feature groups or dilation whose "
        "leading kernel spatial size is symbolic")
  total = None
  for k in range(w.shape[0]):
    start = k * d0
    xs = x[:, start:start + (out0 - 1) * s0 + 1:s0]
    xs = _reshape(xs, [-1] + current_dims(xs)[2:])
    y = _conv_float(plan, xs, w[k], strides[1:], dilation[1:], "VALID",
                    batch * out0, out_sizes[1:])
    total = y if total is None else total + y
  return _reshape(total, [batch, out0] + list(out_sizes[1:])
                  + [plan.out_channels])


def _conv_int_patches(plan: _Plan, x: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
  """Exact VALID conv for integers (wrapping, as XLA): gather the kernel
  windows into patches and contract them with the kernel by matmul."""
  i_ch, o_ch, groups = w.shape[-2], plan.out_channels, plan.groups
  patches = []
  for offs in itertools.product(*[range(k) for k in plan.kernel]):
    index = [slice(None)]
    for off, d, s, o in zip(offs, plan.rhs_dilation, plan.strides,
                            plan.out_sizes):
      index.append(slice(off * d, off * d + (o - 1) * s + 1, s))
    index.append(slice(None))
    patches.append(x[tuple(index)])
  kp = len(patches)
  p = tf.stack(patches, axis=-2)                      # (N, O..., Kp, C)
  p = tf.reshape(p, [-1, kp, groups, i_ch])
  p = tf.reshape(tf.transpose(p, [2, 0, 1, 3]), [groups, -1, kp * i_ch])
  wk = tf.reshape(w, [kp, i_ch, groups, o_ch // groups])
  wk = tf.reshape(tf.transpose(wk, [2, 0, 1, 3]),
                  [groups, kp * i_ch, o_ch // groups])
  y = tf.transpose(tf.linalg.matmul(p, wk), [1, 0, 2])  # (M, G, O/G)
  return _reshape(y, [plan.batch] + list(plan.out_sizes) + [o_ch])


def _spatial_conv(plan: _Plan, x: tf.Tensor, w: tf.Tensor,
                  integer: bool) -> tf.Tensor:
  """Steps 3-5 of the module docstring on channels-last operands."""
  ctx = plan.ctx
  jax_sizes = list(plan.jax_sizes)
  if any(d != 1 for d in plan.lhs_dilation):
    x = _dilate(x, [ctx.dim(s) for s in jax_sizes], plan.lhs_dilation)
    jax_sizes = [(s - 1) * d + 1 for s, d in zip(jax_sizes,
                                                  plan.lhs_dilation)]
  pads = [(ctx.dim(lo), ctx.dim(hi)) for lo, hi in plan.padding]
  if integer:
    return _conv_int_patches(plan, _pad(x, pads), w)
  tf_padding = _tf_padding(plan, jax_sizes)
  if (tf_padding == "SAME" and len(plan.strides) == 3
      and (plan.groups > 1 or any(d != 1 for d in plan.rhs_dilation))):
    tf_padding = None  # decomposed 3-D convs are VALID only
  if tf_padding is None:
    x = _pad(x, pads)
    tf_padding = "VALID"
  return _conv_float(plan, x, w, plan.strides, plan.rhs_dilation,
                     tf_padding, plan.batch, plan.out_sizes)


@register(lax.conv_general_dilated_p)
def _conv_general_dilated(
    ctx: RuleContext, lhs: tf.Tensor, rhs: tf.Tensor, *,
    window_strides: Sequence[int], padding: Sequence[tuple[int, int]],
    lhs_dilation: Sequence[int], rhs_dilation: Sequence[int],
    dimension_numbers: Any, feature_group_count: int,
    batch_group_count: int, precision: Any = None,
    preferred_element_type: Any = None, **_: Any) -> tf.Tensor:
  """JAX's conv_general_dilated (XLA ConvGeneralDilated semantics).

  `precision` is ignored (TF computes f32 convs in full f32 on CPU, as
  JAX's CPU backend does); `preferred_element_type` is the out aval dtype,
  and, as for dot_general, operands are converted to it first.
  """
  del precision, preferred_element_type
  lhs_aval, rhs_aval = ctx.avals_in
  out_aval = ctx.aval_out
  lhs_spec, rhs_spec, out_spec = dimension_numbers
  nd = len(lhs_spec) - 2
  out_dtype = np.dtype(out_aval.dtype)
  out_shape = ctx.shape(out_aval)
  jax_kernel = [rhs_aval.shape[d] for d in rhs_spec[2:]]
  kernel = [ctx.dim(d) for d in jax_kernel]
  in_features = rhs_aval.shape[rhs_spec[1]]
  out_features = rhs_aval.shape[rhs_spec[0]]
  # Symbolic kernel sizes are what weight gradients have: the kernel of
  # the weight-gradient conv is the output cotangent, so its spatial sizes
  # are the (symbolic) activation sizes, and its input features are the
  # (symbolic) batch. TF's float convolutions take filters whose shape is
  # known only at run time (and XLA compiles them at the concrete sizes).
  integer = dt.is_integer(out_dtype) or dt.is_bool(out_dtype)
  if not _static([out_features]) or (
      integer and not _static(jax_kernel + [in_features])):
    raise ctx.unsupported("conv with a symbolic output-feature size (or "
                          "a symbolic kernel size for integer convs)")
  if (any(isinstance(d, int) and d == 0 for d in out_shape)
      or any(isinstance(d, int) and d == 0 for d in jax_kernel)
      or (isinstance(in_features, int) and in_features == 0)):
    # Empty output, or an empty sum (XLA gives zeros).
    return tf.zeros(ctx.shape_tensor(out_aval), ctx.tf_dtype(out_dtype))

  x = _transpose(lhs, [lhs_spec[0]] + list(lhs_spec[2:]) + [lhs_spec[1]])
  w = _transpose(rhs, list(rhs_spec[2:]) + [rhs_spec[1], rhs_spec[0]])
  plan = _Plan(
      ctx=ctx, batch=ctx.dim(lhs_aval.shape[lhs_spec[0]]),
      channels=ctx.dim(lhs_aval.shape[lhs_spec[1]]),
      jax_sizes=[lhs_aval.shape[d] for d in lhs_spec[2:]], kernel=kernel,
      jax_kernel=jax_kernel,
      out_sizes=[out_shape[d] for d in out_spec[2:]],
      out_channels=out_features, strides=window_strides, padding=padding,
      lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation,
      groups=feature_group_count)
  if batch_group_count > 1:
    x = _batch_groups_to_channels(plan, x, batch_group_count)

  if dt.is_complex(out_dtype):
    real = tf.float32 if out_dtype == np.complex64 else tf.float64
    conv = lambda a, b: _spatial_conv(  # noqa: E731
        plan, tf.cast(a, real), tf.cast(b, real), integer=False)
    # JAX's CPU/GPU lowering: Gauss's 3-multiplication trick, the operand
    # sums in the operands' own precision; we do exactly the same.
    xr, xi, wr, wi = (tf.math.real(x), tf.math.imag(x),
                      tf.math.real(w), tf.math.imag(w))
    k1 = conv(xr + xi, wr)
    k2 = conv(xr, wi - wr)
    k3 = conv(xi, wr + wi)
    y = tf.complex(k1 - k3, k1 + k2)
  else:
    compute = matmul_compute_dtype(ctx, out_dtype)
    x = to_matmul_compute(x, lhs_aval.dtype, out_dtype, compute)
    w = to_matmul_compute(w, rhs_aval.dtype, out_dtype, compute)
    y = _spatial_conv(plan, x, w, integer=compute.is_integer)
    y = from_matmul_compute(y, out_dtype)
  # y is (N, spatial..., O); JAX wants out_spec's layout.
  ours = {0: 0, 1: nd + 1}
  ours.update({2 + i: 1 + i for i in range(nd)})
  perm = [0] * (nd + 2)
  for logical, axis in enumerate(out_spec):
    perm[axis] = ours[logical]
  return _transpose(y, perm)


def _batch_groups_to_channels(plan: _Plan, x: tf.Tensor, bgc: int
                              ) -> tf.Tensor:
  """XLA's batch_group_count B: the batch splits into B groups
  (batch index = g * N/B + n), output features too; group g of the output
  sees only batch group g. Moving g next to the channels (channel index
  g * C + c) makes it a feature_group_count of B. Updates `plan`."""
  ctx = plan.ctx
  nd = len(plan.jax_sizes)
  sizes = [ctx.dim(s) for s in plan.jax_sizes]
  sub = plan.batch // bgc
  x = _reshape(x, [bgc, sub] + sizes + [plan.channels])
  x = tf.transpose(x, [1] + list(range(2, nd + 2)) + [0, nd + 2])
  plan.batch, plan.channels, plan.groups = sub, bgc * plan.channels, bgc
  return _reshape(x, [sub] + sizes + [plan.channels])


def _transpose(x: tf.Tensor, perm: Sequence[int]) -> tf.Tensor:
  if list(perm) == list(range(len(perm))):
    return x
  return tf.transpose(x, perm)
