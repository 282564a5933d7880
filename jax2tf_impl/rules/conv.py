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

import itertools
from typing import Any, Sequence

import numpy as np
import tensorflow as tf
from jax import lax

from jax2tf_impl import dtypes as dt
from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.dot import _compute_dtype, _from_compute, _to_compute


def _dilate(x: tf.Tensor, sizes: list[Any], dilation: Sequence[int]
            ) -> tuple[tf.Tensor, list[Any]]:
  """Inserts dilation-1 zeros between elements of each spatial axis of
  x (N, spatial..., C); returns the new tensor and spatial sizes."""
  sizes = list(sizes)
  for i, d in enumerate(dilation):
    if d == 1:
      continue
    axis = 1 + i
    rank = len(sizes) + 2
    y = tf.expand_dims(x, axis + 1)
    pads = [[0, 0]] * (rank + 1)
    pads[axis + 1] = [0, d - 1]
    y = tf.pad(y, pads)
    merged = [None] * axis + [sizes[i] * d] + [None] * (rank - axis - 1)
    y = tf.reshape(y, _merge_shape(y, axis, merged))
    index = [slice(None)] * rank
    index[axis] = slice(0, -(d - 1))
    x = y[tuple(index)]
    sizes[i] = (sizes[i] - 1) * d + 1 if isinstance(sizes[i], int) \
        else sizes[i] * d - (d - 1)
  return x, sizes


def _merge_shape(y: tf.Tensor, axis: int, merged: list[Any]) -> Any:
  """Shape of `y` with axes axis, axis+1 merged into merged[axis]."""
  static = y.shape.as_list()
  dims: list[Any] = []
  for i in range(len(merged)):
    if i == axis:
      dims.append(merged[i])
    else:
      src = i if i < axis else i + 1
      dims.append(static[src])
  if all(isinstance(d, int) for d in dims):
    return dims
  dyn = tf.shape(y)
  return tf.stack([tf.constant(d, tf.int32) if isinstance(d, int)
                   else (dyn[i if i < axis else i + 1] if d is None
                         else tf.cast(d, tf.int32))
                   for i, d in enumerate(dims)])


def _pad(x: tf.Tensor, padding: Sequence[tuple[int, int]]) -> tf.Tensor:
  """Pads spatial axes of x (N, spatial..., C): positive pads add zeros,
  negative pads crop (XLA's semantics for negative padding)."""
  pos = [[0, 0]] + [[max(lo, 0), max(hi, 0)] for lo, hi in padding] + [[0, 0]]
  if any(p != [0, 0] for p in pos):
    x = tf.pad(x, pos)
  if any(lo < 0 or hi < 0 for lo, hi in padding):
    index = [slice(None)] + [
        slice(-lo if lo < 0 else 0, hi if hi < 0 else None)
        for lo, hi in padding] + [slice(None)]
    x = x[tuple(index)]
  return x


def _tf_padding(sizes: list[Any], kernel: list[Any], strides: Sequence[int],
                rhs_dilation: Sequence[int],
                padding: Sequence[tuple[int, int]]) -> str | None:
  """'VALID' or 'SAME' if `padding` is exactly what TF means by them."""
  if all(lo == 0 and hi == 0 for lo, hi in padding):
    return "VALID"
  for s, k, st, d, (lo, hi) in zip(sizes, kernel, strides, rhs_dilation,
                                   padding):
    if not (isinstance(s, int) and isinstance(k, int)):
      return None
    eff = (k - 1) * d + 1
    total = max((-(-s // st) - 1) * st + eff - s, 0)
    if (lo, hi) != (total // 2, total - total // 2):
      return None
  return "SAME"


def _conv_float(x: tf.Tensor, w: tf.Tensor, strides: Sequence[int],
                dilation: Sequence[int], groups: int, padding: str,
                in_channels: Any) -> tf.Tensor:
  """Real-float conv of x (N, S..., C) with w (K..., I, O)."""
  nd = len(strides)
  if nd == 1:
    y = _conv_float(tf.expand_dims(x, 1), tf.expand_dims(w, 0),
                    [1] + list(strides), [1] + list(dilation), groups,
                    padding, in_channels)
    return tf.squeeze(y, 1)
  if nd == 2:
    if (groups > 1 and groups == in_channels and list(dilation) == [1, 1]
        and strides[0] == strides[1]):
      # Depthwise: TFLite's DEPTHWISE_CONV_2D; out channel = c * mult + m.
      kh, kw, _, o = w.shape.as_list()
      w = tf.reshape(w, [kh, kw, groups, o // groups])
      return tf.nn.depthwise_conv2d(x, w, [1, strides[0], strides[1], 1],
                                    padding)
    # conv2d infers the feature groups from C / I.
    return tf.nn.conv2d(x, w, [1] + list(strides) + [1], padding,
                        dilations=[1] + list(dilation) + [1])
  if nd == 3 and groups == 1 and list(dilation) == [1, 1, 1]:
    return tf.nn.conv3d(x, w, [1] + list(strides) + [1], padding)
  if padding != "VALID":
    raise ValueError("only VALID convs are decomposed")
  return _conv_by_leading_axis(x, w, strides, dilation, groups, in_channels)


def _conv_by_leading_axis(x: tf.Tensor, w: tf.Tensor, strides: Sequence[int],
                          dilation: Sequence[int], groups: int,
                          in_channels: Any) -> tf.Tensor:
  """An N-D VALID conv as the sum over the first kernel axis of (N-1)-D
  convs, the first spatial axis folded into the batch."""
  k0 = w.shape[0]
  s0, d0 = strides[0], dilation[0]
  size0 = x.shape[1]
  out0 = (size0 - (k0 - 1) * d0 - 1) // s0 + 1
  total = None
  for k in range(k0):
    start = k * d0
    xs = x[:, start:start + (out0 - 1) * s0 + 1:s0]
    rest = xs.shape.as_list()[2:]
    xs = tf.reshape(xs, [-1] + rest)
    y = _conv_float(xs, w[k], strides[1:], dilation[1:], groups, "VALID",
                    in_channels)
    total = y if total is None else total + y
  dims = [None, out0] + total.shape.as_list()[1:]
  x_lead = tf.shape(x)[0]
  shape = tf.concat([[x_lead], tf.constant(dims[1:], tf.int32)], 0) \
      if x.shape[0] is None else [x.shape[0]] + dims[1:]
  return tf.reshape(total, shape)


def _conv_int_patches(x: tf.Tensor, w: tf.Tensor, out_sizes: list[int],
                      strides: Sequence[int], dilation: Sequence[int],
                      groups: int) -> tf.Tensor:
  """Exact VALID conv for integers (wrapping, as XLA): gather the kernel
  windows into patches and contract them with the kernel by matmul."""
  kernel = w.shape.as_list()[:-2]
  i_ch, o_ch = w.shape.as_list()[-2:]
  patches = []
  for offs in itertools.product(*[range(k) for k in kernel]):
    index = [slice(None)]
    for off, d, s, o in zip(offs, dilation, strides, out_sizes):
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
  lead = tf.shape(x)[:1] if x.shape[0] is None else [x.shape[0]]
  return tf.reshape(y, tf.concat([lead, out_sizes + [o_ch]], 0)
                    if x.shape[0] is None else lead + out_sizes + [o_ch])


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
  lhs_shape, rhs_shape = ctx.shape(lhs_aval), ctx.shape(rhs_aval)
  out_shape = ctx.shape(out_aval)
  kernel = [rhs_shape[d] for d in rhs_spec[2:]]
  out_sizes = [out_shape[d] for d in out_spec[2:]]
  if not all(isinstance(d, int) for d in kernel + [rhs_shape[rhs_spec[1]],
                                                   rhs_shape[rhs_spec[0]]]):
    raise ctx.unsupported("conv with a symbolic kernel shape")
  if (any(isinstance(d, int) and d == 0 for d in out_shape)
      or any(d == 0 for d in kernel) or rhs_shape[rhs_spec[1]] == 0):
    # Empty output, or an empty sum (XLA gives zeros).
    return tf.zeros(ctx.shape_tensor(out_aval), ctx.tf_dtype(out_dtype))

  x = _transpose(lhs, [lhs_spec[0]] + list(lhs_spec[2:]) + [lhs_spec[1]])
  w = _transpose(rhs, list(rhs_spec[2:]) + [rhs_spec[1], rhs_spec[0]])
  batch = lhs_shape[lhs_spec[0]]
  channels = lhs_shape[lhs_spec[1]]
  sizes = [lhs_shape[d] for d in lhs_spec[2:]]
  groups = feature_group_count
  if batch_group_count > 1:
    x, channels = _batch_groups_to_channels(x, batch, sizes, channels,
                                            batch_group_count)
    groups = batch_group_count

  if dt.is_complex(out_dtype):
    real = tf.float32 if out_dtype == np.complex64 else tf.float64
    core = lambda a, b: _spatial_conv(  # noqa: E731
        tf.cast(a, real), tf.cast(b, real), sizes, kernel, out_sizes,
        window_strides, padding, lhs_dilation, rhs_dilation, groups,
        channels, integer=False)
    # JAX's CPU/GPU lowering: Gauss's 3-multiplication trick, the operand
    # sums in the operands' own precision; we do exactly the same.
    xr, xi, wr, wi = (tf.math.real(x), tf.math.imag(x),
                      tf.math.real(w), tf.math.imag(w))
    k1 = core(xr + xi, wr)
    k2 = core(xr, wi - wr)
    k3 = core(xi, wr + wi)
    y = tf.complex(k1 - k3, k1 + k2)
  else:
    compute = _compute_dtype(ctx, out_dtype)
    x = _to_compute(x, lhs_aval.dtype, out_dtype, compute)
    w = _to_compute(w, rhs_aval.dtype, out_dtype, compute)
    y = _spatial_conv(x, w, sizes, kernel, out_sizes, window_strides, padding,
                      lhs_dilation, rhs_dilation, groups, channels,
                      integer=compute.is_integer)
    y = _from_compute(ctx, y, out_dtype)
  # y is (N, spatial..., O); JAX wants out_spec's layout.
  ours = {0: 0, 1: nd + 1}
  ours.update({2 + i: 1 + i for i in range(nd)})
  perm = [0] * (nd + 2)
  for logical, axis in enumerate(out_spec):
    perm[axis] = ours[logical]
  return _transpose(y, perm)


def _spatial_conv(x: tf.Tensor, w: tf.Tensor, sizes: list[Any],
                  kernel: list[int], out_sizes: list[Any],
                  strides: Sequence[int], padding: Sequence[tuple[int, int]],
                  lhs_dilation: Sequence[int], rhs_dilation: Sequence[int],
                  groups: int, channels: Any, integer: bool) -> tf.Tensor:
  """Steps 3-5 of the module docstring on channels-last operands."""
  if any(d != 1 for d in lhs_dilation):
    x, sizes = _dilate(x, sizes, lhs_dilation)
  if integer:
    if not all(isinstance(o, int) for o in out_sizes):
      raise NotImplementedError("integer conv with symbolic spatial dims")
    return _conv_int_patches(_pad(x, padding), w, out_sizes, strides,
                             rhs_dilation, groups)
  tf_padding = None
  if all(lo >= 0 and hi >= 0 for lo, hi in padding):
    tf_padding = _tf_padding(sizes, kernel, strides, rhs_dilation, padding)
  if (tf_padding == "SAME" and len(strides) == 3
      and (groups > 1 or any(d != 1 for d in rhs_dilation))):
    tf_padding = None  # decomposed 3-D convs are VALID only
  if tf_padding is None:
    x = _pad(x, padding)
    tf_padding = "VALID"
  return _conv_float(x, w, strides, rhs_dilation, groups, tf_padding,
                     channels)


def _batch_groups_to_channels(x: tf.Tensor, batch: Any, sizes: list[Any],
                              channels: Any, bgc: int
                              ) -> tuple[tf.Tensor, Any]:
  """XLA's batch_group_count B: the batch splits into B groups
  (batch index = g * N/B + n), output features too; group g of the output
  sees only batch group g. Moving g next to the channels (channel index
  g * C + c) makes it a feature_group_count of B."""
  nd = len(sizes)
  sub = batch // bgc
  x = tf.reshape(x, _dims_shape_list([bgc, sub] + sizes + [channels]))
  x = tf.transpose(x, [1] + list(range(2, nd + 2)) + [0, nd + 2])
  return (tf.reshape(x, _dims_shape_list([sub] + sizes + [bgc * channels])),
          bgc * channels)


def _dims_shape_list(dims: Sequence[Any]) -> Any:
  if all(isinstance(d, int) for d in dims):
    return list(dims)
  return tf.stack([tf.constant(d, tf.int32) if isinstance(d, int)
                   else tf.cast(d, tf.int32) for d in dims])


def _transpose(x: tf.Tensor, perm: Sequence[int]) -> tf.Tensor:
  if list(perm) == list(range(len(perm))):
    return x
  return tf.transpose(x, perm)
