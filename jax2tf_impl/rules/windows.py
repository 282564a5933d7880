"""Rules for windowed reductions: reduce_window_{sum,max,min}, the generic
reduce_window (a jaxpr body), select_and_gather_add, select_and_scatter_add.

Portable approach for every rank and parameter: base dilation (interior
padding with the init value), edge padding with the init value (XLA pads
with the init value, so padded elements take part in the reduction), then
one tf.gather per windowed axis with indices `o * stride + w * dilation`,
which yields the windows as extra axes; the reduction runs over those.
Axes with a window of 1 use a strided slice instead. All ops are standard
TF ops (no Xla* op), so enable_xla=False converts the same graph.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf
from jax.extend import core as jcore
from jax.extend.core import primitives as prims

from jax2tf_impl import dtypes as dt
from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.support import as_shape, dim_max, interior_pad
from jax2tf_impl.rules.monoids import (
    MONOIDS, body_tree_reduce, monoid_identity, monoid_of_body, reduce_max,
    reduce_min, reduce_sum, vectorized_body)
from jax2tf_impl.rules.semantics import is_nan


def known_nonnegative(d: Any) -> bool | None:
  """Whether the JAX dim `d` (an int or a symbolic expression) is >= 0,
  when that is known at conversion time; None when it depends on the
  dimension variables (JAX's decision procedure is inconclusive)."""
  if isinstance(d, (int, np.integer)):
    return bool(d >= 0)
  try:
    return bool(d >= 0)
  except Exception:  # pylint: disable=broad-except  (InconclusiveDimension)
    return None


def pad_or_crop(ctx: RuleContext, x: Any, padding: Sequence[tuple[Any, Any]],
                fill: Any) -> Any:
  """Edge padding of every axis of `x` with `fill`; negative amounts crop.

  `padding` holds JAX dims: ints, or symbolic expressions such as the
  SAME padding of a strided window on a `4*b` axis
  (`floordiv(...)` terms). Amounts whose sign is known at conversion time
  take one form; the others pad by max(p, 0) and crop by max(-p, 0) with
  run-time values.
  """
  if all(isinstance(p, (int, np.integer)) for pair in padding for p in pair):
    return _pad_static(x, [(int(lo), int(hi)) for lo, hi in padding], fill)
  grow, crop = [], []
  for pair in padding:
    g, c = [], []
    for p in pair:
      sign, v = known_nonnegative(p), ctx.dim(p)
      g.append(v if sign else 0 if sign is False else dim_max(v, 0))
      c.append(0 if sign else -v if sign is False else dim_max(-v, 0))
    grow.append(g)
    crop.append(c)
  nonzero = lambda v: not isinstance(v, int) or v != 0  # noqa: E731
  if any(nonzero(v) for g in grow for v in g):
    x = tf.pad(x, tf.stack([as_shape(g) for g in grow]),
               constant_values=fill)
  if any(nonzero(v) for c in crop for v in c):
    dims = tf.shape(x, out_type=tf.int32)
    begin = [lo for lo, _ in crop]
    size = [dims[a] - lo - hi for a, (lo, hi) in enumerate(crop)]
    x = tf.slice(x, as_shape(begin), as_shape(size))
  return x


def _pad_static(x: Any, padding: Sequence[tuple[int, int]], fill: Any) -> Any:
  """Edge padding with `fill`; negative amounts crop (all amounts ints)."""
  pos = [(max(lo, 0), max(hi, 0)) for lo, hi in padding]
  if any(lo or hi for lo, hi in pos):
    x = tf.pad(x, pos, constant_values=fill)
  if any(lo < 0 or hi < 0 for lo, hi in padding):
    begin = [max(-lo, 0) for lo, _ in padding]
    end = [-max(-hi, 0) if hi < 0 else 0 for _, hi in padding]
    mask = sum(1 << i for i, (_, hi) in enumerate(padding) if hi >= 0)
    x = tf.strided_slice(x, begin, end, end_mask=mask)
  return x


def _is_zero(d: Any) -> bool:
  """Whether the JAX dim `d` is the int 0 (a symbolic pad is not)."""
  return isinstance(d, (int, np.integer)) and d == 0


def _dilated_padded(ctx: RuleContext, x: Any, in_shape: Sequence[Any],
                    out_shape: Sequence[Any], padding: Sequence[tuple[int, int]],
                    base_dilation: Sequence[int], fill: Any) -> tuple[Any, list[Any]]:
  """`x` with base dilation and padding applied (holes and pads = `fill`),
  and the output sizes (ints, or TF scalars when symbolic)."""
  dims = [ctx.dim(d) for d in in_shape]
  for a, d in enumerate(base_dilation):
    if d != 1:
      x, dims = interior_pad(x, a, d - 1, fill, dims=dims)
  return (pad_or_crop(ctx, x, padding, fill),
          [ctx.dim(d) for d in out_shape])


def window_patches(ctx: RuleContext, x: Any, fill: Any, in_shape: Sequence[Any],
                   out_shape: Sequence[Any], window_dimensions: Sequence[int],
                   window_strides: Sequence[int],
                   padding: Sequence[tuple[int, int]],
                   base_dilation: Sequence[int],
                   window_dilation: Sequence[int]) -> tuple[Any, list[int]]:
  """The windows of `x` as a tensor [o_0, (w_0), o_1, (w_1), ...]: each
  axis a with window size > 1 is followed by a window axis. Returns the
  tensor and the positions of the window axes."""
  rank = len(window_dimensions)
  x, outs = _dilated_padded(ctx, x, in_shape, out_shape, padding,
                            base_dilation, fill)
  window_axes = []
  # Last axis first, so that inserting window axes keeps earlier positions.
  for a in reversed(range(rank)):
    w, s, wd = window_dimensions[a], window_strides[a], window_dilation[a]
    if w == 1:
      x = _strided_axis(x, a, outs[a], s)
      continue
    idx = (tf.range(outs[a])[:, None] * s + tf.range(w)[None, :] * wd)
    x = tf.gather(x, idx, axis=a)
    window_axes = [p + 1 for p in window_axes]
    window_axes.insert(0, a + 1)
  return x, window_axes


def window_identity(kind: str, dtype: Any) -> np.ndarray:
  np_dtype = dt.to_np_dtype(dtype)
  if kind == "sum":
    return np.zeros((), np_dtype)
  if dt.is_bool(dtype):
    return np.array(kind == "min")
  if dt.is_inexact(dtype):
    return np.array(-np.inf if kind == "max" else np.inf, np_dtype)
  info = np.iinfo(np_dtype)
  return np.array(info.min if kind == "max" else info.max, np_dtype)


def window_args(ctx: RuleContext, params: dict[str, Any]) -> dict[str, Any]:
  rank = len(params["window_dimensions"])
  return dict(
      in_shape=ctx.avals_in[0].shape, out_shape=ctx.avals_out[0].shape,
      window_dimensions=params["window_dimensions"],
      window_strides=params["window_strides"], padding=params["padding"],
      base_dilation=params.get("base_dilation") or (1,) * rank,
      window_dilation=params.get("window_dilation") or (1,) * rank)


def separable_window_reduce(ctx: RuleContext, x: Any, fill: Any,
                            reducer: Any, dtype: Any, in_shape: Sequence[Any],
                            out_shape: Sequence[Any],
                            window_dimensions: Sequence[int],
                            window_strides: Sequence[int],
                            padding: Sequence[tuple[int, int]],
                            base_dilation: Sequence[int],
                            window_dilation: Sequence[int]) -> Any:
  """A monoid reduction over rectangular windows, one axis at a time.

  The windows are products of per-axis windows and the monoid is
  associative and commutative, so reducing axis by axis is exact and needs
  only w_a copies of the data per axis instead of prod(w).
  """
  rank = len(window_dimensions)
  x, outs = _dilated_padded(ctx, x, in_shape, out_shape, padding,
                            base_dilation, fill)
  for a in range(rank):
    w, s, wd = window_dimensions[a], window_strides[a], window_dilation[a]
    if w == 1:
      x = _strided_axis(x, a, outs[a], s)
      continue
    idx = tf.range(outs[a])[:, None] * s + tf.range(w)[None, :] * wd
    x = reducer(tf.gather(x, idx, axis=a), [a + 1], dtype)
  return x


def _strided_axis(x: Any, a: int, count: Any, stride: int) -> Any:
  """x[..., 0:count*stride:stride, ...] along axis a."""
  rank = len(x.shape)
  begin, end, strides = [0] * rank, [0] * rank, [1] * rank
  end[a] = count * stride
  strides[a] = stride
  mask = ((1 << rank) - 1) & ~(1 << a)
  return tf.strided_slice(x, begin, end, strides, begin_mask=mask,
                          end_mask=mask)


# Spatial rank -> dtypes with a MaxPool kernel on CPU and under XLA.
_POOL_DTYPES = {1: (tf.float16, tf.bfloat16, tf.float32, tf.float64),
                2: (tf.float16, tf.bfloat16, tf.float32, tf.float64),
                3: (tf.bfloat16, tf.float32)}


def _pooling_layout(wargs: dict[str, Any]) -> tuple[int, int] | None:
  """The [lo, hi) block of axes a window really acts on (size, stride or
  padding not trivial), if it is contiguous; None otherwise or if none."""
  wd, st, pads = (wargs["window_dimensions"], wargs["window_strides"],
                  wargs["padding"])
  active = [a for a in range(len(wd))
            if wd[a] != 1 or st[a] != 1
            or any(not (isinstance(p, (int, np.integer)) and p == 0)
                   for p in pads[a])]
  if not active or active != list(range(active[0], active[-1] + 1)):
    return None
  return active[0], active[-1] + 1


def _pooling_fast_path(ctx: RuleContext, x: Any, kind: str,
                       wargs: dict[str, Any]) -> Any:
  """tf.nn.max_pool for max/min over a contiguous block of axes of floats,
  or None.

  Much faster than gathering windows, and a builtin of every target. The
  axes before the block become the pool's batch, those after it its
  channels (a size-1 channel if none): a vmapped channels-first pool, e.g.
  Equinox's MaxPool2d under jax.vmap, is a 2-D MaxPool, not a MaxPool3D
  (which TFLite lacks). MaxPool neither propagates NaN nor takes explicit
  padding: pad with the identity, and put NaN back where a window holds one
  (a second, cheap pool of the NaN mask).
  """
  layout = _pooling_layout(wargs)
  if layout is None:
    return None
  lo, hi = layout
  wd, st = wargs["window_dimensions"], wargs["window_strides"]
  if (x.dtype not in _POOL_DTYPES.get(hi - lo, ())
      or any(d != 1 for d in wargs["base_dilation"])
      or any(d != 1 for d in wargs["window_dilation"])
      or not all(known_nonnegative(p) for pair in wargs["padding"]
                 for p in pair)):
    return None
  in_dims = ctx.shape(wargs["in_shape"])
  lead, trail = 1, 1
  for d in in_dims[:lo]:
    lead = lead * d
  for d in in_dims[hi:]:
    trail = trail * d
  y = tf.reshape(x, as_shape([lead, *in_dims[lo:hi], trail]))
  y = -y if kind == "min" else y
  y = pad_or_crop(ctx, y, [(0, 0), *wargs["padding"][lo:hi], (0, 0)],
                  tf.constant(-np.inf, x.dtype))
  pool = lambda t: tf.nn.max_pool(t, list(wd[lo:hi]), list(st[lo:hi]),
                                  "VALID")
  out = pool(y)
  nan_mask = tf.cast(is_nan(y), x.dtype)
  out = tf.where(pool(nan_mask) > 0, tf.constant(np.nan, x.dtype), out)
  out = -out if kind == "min" else out
  return tf.reshape(out, ctx.shape_tensor(ctx.aval_out))


def _monoid_window_rule(kind: str, reducer: Any):
  def rule(ctx: RuleContext, x: Any, **params: Any) -> Any:
    dtype = ctx.avals_in[0].dtype
    wargs = window_args(ctx, params)
    if kind != "sum":
      out = _pooling_fast_path(ctx, x, kind, wargs)
      if out is not None:
        return out
    fill = tf.constant(window_identity(kind, dtype))
    return separable_window_reduce(ctx, x, fill, reducer, dtype, **wargs)
  rule.__name__ = f"reduce_window_{kind}"
  return rule


register(prims.reduce_window_sum_p)(_monoid_window_rule("sum", reduce_sum))
register(prims.reduce_window_max_p)(_monoid_window_rule("max", reduce_max))
register(prims.reduce_window_min_p)(_monoid_window_rule("min", reduce_min))


@register(prims.reduce_window_p)
def _reduce_window(ctx: RuleContext, *args: Any, jaxpr: Any, consts: Any,
                   **params: Any) -> list[Any]:
  n = len(args) // 2
  operands, inits = list(args[:n]), list(args[n:])
  prims = None if consts else monoid_of_body(jaxpr)
  outs = []
  if prims is not None:
    for i, (x, init, prim) in enumerate(zip(operands, inits, prims)):
      dtype = ctx.avals_in[i].dtype
      reducer, binop = MONOIDS[prim]
      wargs = window_args(ctx, params)
      wargs["in_shape"] = ctx.avals_in[i].shape
      fill = tf.constant(monoid_identity(prim, dtype))
      reduced = separable_window_reduce(ctx, x, fill, reducer, dtype, **wargs)
      outs.append(binop(dtype)(reduced, init))
    return outs
  return _generic_reduce_window(ctx, jcore.ClosedJaxpr(jaxpr, consts),
                                operands, inits, params)


# Windows up to this many elements are folded in XLA's order (one body
# application per window element); larger ones use a pairwise tree.
_SEQUENTIAL_FOLD_MAX = 256


def _generic_reduce_window(ctx: RuleContext, body: Any, operands: list[Any],
                           inits: list[Any], params: dict[str, Any]
                           ) -> list[Any]:
  """Any reducer body: windows as [K, M], skipping padding and
  base-dilation holes as XLA does.

  The body need not be associative or commutative (e.g. `(a[0] + b[0],
  a[1] - b[1])`), so the order matters: XLA's CPU backend folds each window
  in row-major window order starting from the init value,
  `acc = body(acc, x_k)`, and so do we (a pairwise tree, or a final
  `body(x, init)`, gives other numbers for such bodies). Only windows of
  more than _SEQUENTIAL_FOLD_MAX elements take the pairwise tree, which is
  exact for associative bodies.
  """
  if any(not isinstance(w, (int, np.integer))
         for w in params["window_dimensions"]):
    raise ctx.unsupported("a generic reduce_window with a symbolic window "
                          "size")
  out_aval = ctx.avals_out[0]
  k = int(np.prod(params["window_dimensions"], dtype=np.int64))
  m_jax = 1
  for d in out_aval.shape:
    m_jax = m_jax * d
  m = ctx.dim(m_jax)
  rows_shape = [k, m] if isinstance(m, int) else tf.stack([k, m])

  def as_rows(patches: Any, waxes: list[int]) -> Any:
    oaxes = [a for a in range(len(patches.shape)) if a not in waxes]
    return tf.reshape(tf.transpose(patches, waxes + oaxes), rows_shape)

  flat = []
  wargs = window_args(ctx, params)
  for x, init in zip(operands, inits):
    patches, waxes = window_patches(ctx, x, init, **wargs)
    flat.append(as_rows(patches, waxes))
  valid = None
  if any(not (_is_zero(lo) and _is_zero(hi))
         for lo, hi in params["padding"]) or any(
      d != 1 for d in wargs["base_dilation"]):
    mask = valid_mask(ctx, wargs)
    valid = as_rows(mask, waxes)
  dtypes = [a.dtype for a in ctx.avals_in[:len(operands)]]
  if k > _SEQUENTIAL_FOLD_MAX:
    outs = body_tree_reduce(ctx, body, flat, inits, dtypes, k, m, valid)
  else:
    outs = _sequential_fold(ctx, body, flat, inits, dtypes, k, m, m_jax,
                            valid)
  return [tf.reshape(o, ctx.shape_tensor(out_aval)) for o in outs]


def _sequential_fold(ctx: RuleContext, body: Any, rows: list[Any],
                     inits: list[Any], dtypes: Sequence[Any], k: int, m: Any,
                     m_jax: Any, valid: Any) -> list[Any]:
  """acc = inits; acc = body(acc, rows[:, j]) for j in 0..k-1, vectorised
  over the m windows (`m_jax` is m as a JAX dim, so the vectorised body is
  traced once, with a symbolic length when m is symbolic); elements with
  `valid` False leave acc unchanged."""
  vec_body = vectorized_body(body, m_jax, list(dtypes) * 2)
  size = [m] if isinstance(m, int) else tf.reshape(m, [1])
  acc = [tf.broadcast_to(i, size) for i in inits]
  for j in range(k):
    xs = [r[j] for r in rows]
    new = ctx.interpret(vec_body, *acc, *xs)
    if valid is not None:
      new = [tf.where(valid[j], n, a) for n, a in zip(new, acc)]
    acc = new
  return acc


def valid_mask(ctx: RuleContext, wargs: dict[str, Any]) -> Any:
  """Windows of a mask that is True on real (not padding/dilation) elements."""
  ones = tf.ones(ctx.shape_tensor(wargs["in_shape"]), tf.bool)
  mask, _ = window_patches(ctx, ones, tf.constant(False), **wargs)
  return mask
