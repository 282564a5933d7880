"""Rules for scatter, scatter_add/sub/mul/min/max.

Portable: every update element gets the linear index of the operand element
it combines into, and one 1-D tensor_scatter_nd_* (or unsorted_segment_*)
on the flattened operand does the rest, so no Xla* op is needed.

JAX/XLA semantics being matched:
  * update element U: its scatter (batch) dims pick indices[batch] (one
    start per scatter_dims_to_operand_dims entry), operand_batching_dims take
    the batch position along scatter_indices_batching_dims, and the window
    dims (update_window_dims) add offsets to the operand dims that are
    neither inserted nor batching;
  * CLIP clamps each start into [0, operand_dim - window_size] (as JAX's
    _clamp_scatter_indices); FILL_OR_DROP and PROMISE_IN_BOUNDS go to XLA's
    native scatter, which skips a whole window when any start is outside
    that range. Skipped updates are redirected to a dummy element past the
    end, so no out-of-bounds index ever reaches TF (TF raises on CPU);
  * duplicates: XLA on CPU applies the updates in order, so for `scatter`
    the last update wins; we compute the last one explicitly (deterministic
    on every backend). A general update computation (`.at[].apply`, or
    scatter_p with any `update_jaxpr`) is applied once per occurrence, in
    the order of the scatter indices (`_combine_sequential`). min/max follow lax.min/max: NaN wins, -0.0 < +0.0,
    complex numbers compare lexicographically.
"""
from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import tensorflow as tf
from jax import lax
from jax.extend import core as jcore

from jax2tf_impl.rules import declare_default_form, register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.indexing import (Mode, as_index, at_positions,
                                        broadcast_sum, exact_indices,
                                        index_dtype, iota_at, operand_index_parts)
from jax2tf_impl.rules.semantics import is_nan
from jax2tf_impl.rules.support import as_shape, is_static
from jax2tf_impl.shapes import DimValue


def _dprod(dims: list[DimValue]) -> DimValue:
  out: DimValue = 1
  for d in dims:
    out = out * d if is_static(out, d) else tf.cast(out, tf.int32) * tf.cast(
        d, tf.int32)
  return out


def _linear_targets(ctx: RuleContext, indices: Any, dnums: Any, mode: Any,
                    itype: tf.DType) -> Any:
  """For every update element (flattened), the linear operand index it
  combines into, or the dummy index N (= operand size) when dropped."""
  op_aval, idx_aval, upd_aval = ctx.avals_in
  op_shape = ctx.shape(op_aval)
  upd_shape = ctx.shape(upd_aval)
  rank, upd_rank = len(op_shape), len(upd_shape)
  batch_shape = ctx.shape(idx_aval)[:-1]
  batch_pos = [p for p in range(upd_rank) if p not in dnums.update_window_dims]
  window_dims = [d for d in range(rank)
                 if d not in dnums.inserted_window_dims
                 and d not in dnums.operand_batching_dims]

  def window_size(d: int) -> Any:
    if d in window_dims:
      return upd_aval.shape[dnums.update_window_dims[window_dims.index(d)]]
    return 1

  smap = list(dnums.scatter_dims_to_operand_dims)
  upper = [tf.cast(ctx.dim(op_aval.shape[d] - window_size(d)), tf.int64)
           for d in smap]
  values = exact_indices(indices, idx_aval.dtype)
  ub = tf.stack(upper) if upper else tf.zeros([0], tf.int64)
  mask = None
  if mode != Mode.CLIP:
    mask = tf.reduce_all(tf.logical_and(values >= 0, values <= ub), axis=-1)
  starts = tf.cast(tf.minimum(tf.maximum(values, tf.constant(0, tf.int64)),
                              ub), itype)
  terms = []
  for d in range(rank):
    stride = as_index(_dprod(op_shape[d + 1:]), itype)
    parts = operand_index_parts(
        d, starts, smap, dnums.operand_batching_dims,
        dnums.scatter_indices_batching_dims, window_dims,
        dnums.update_window_dims,
        lambda j: upd_shape[dnums.update_window_dims[j]],
        batch_shape, batch_pos, upd_rank, itype)
    terms.extend(p * stride if not (isinstance(stride, int) and stride == 1)
                 else p for p in parts)
  linear = tf.reshape(broadcast_sum(terms, upd_shape, itype), [-1])
  if mask is not None:
    mask = tf.broadcast_to(at_positions(mask, batch_shape, batch_pos,
                                        upd_rank), as_shape(upd_shape))
    dummy = as_index(_dprod(op_shape), itype)
    linear = tf.where(tf.reshape(mask, [-1]), linear,
                      tf.cast(dummy, itype) if not isinstance(dummy, int)
                      else tf.constant(dummy, itype))
  return linear


# --- combiners on the flattened operand (with one dummy element at the end) --

def _order_key(x: Any, dtype: np.dtype) -> Any:
  """An integer key with the order of lax.min/max (-0.0 < +0.0); its own
  inverse for floats. Integers are their own key; bool becomes int8."""
  if dtype == np.bool_:
    return tf.cast(x, tf.int8)
  if dtype.kind in "iu":
    return x
  bits = {2: tf.int16, 4: tf.int32, 8: tf.int64}[dtype.itemsize]
  b = tf.bitcast(x, bits)
  flip = tf.constant(np.iinfo(bits.as_numpy_dtype).max, bits)
  return tf.where(b < 0, tf.bitwise.bitwise_xor(b, flip), b)


def _from_key(key: Any, dtype: np.dtype, tf_dtype: tf.DType) -> Any:
  if dtype == np.bool_:
    return tf.cast(key, tf.bool)
  if dtype.kind in "iu":
    return key
  flip = tf.constant(np.iinfo(key.dtype.as_numpy_dtype).max, key.dtype)
  return tf.bitcast(tf.where(key < 0, tf.bitwise.bitwise_xor(key, flip), key),
                    tf_dtype)


def _minmax_keys(ext_key: Any, idx: Any, upd_key: Any, is_min: bool) -> Any:
  fn = tf.tensor_scatter_nd_min if is_min else tf.tensor_scatter_nd_max
  return fn(ext_key, idx, upd_key)


def _combine_minmax(ext: Any, idx: Any, upd: Any, dtype: np.dtype,
                    tf_dtype: tf.DType, is_min: bool) -> Any:
  if dtype.kind == "c":
    return _combine_minmax_complex(ext, idx, upd, dtype, is_min)
  best = _minmax_keys(_order_key(ext, dtype), idx, _order_key(upd, dtype),
                      is_min)
  out = _from_key(best, dtype, tf_dtype)
  if dtype.kind == "f" or dtype.name == "bfloat16":
    # lax.min/max propagate NaN, from the operand or any update.
    hit = tf.tensor_scatter_nd_max(
        tf.cast(is_nan(ext), tf.int8), idx,
        tf.cast(is_nan(upd), tf.int8))
    out = tf.where(hit > 0, tf.constant(np.nan, tf_dtype), out)
  return out


def _combine_minmax_complex(ext: Any, idx: Any, upd: Any, dtype: np.dtype,
                            is_min: bool) -> Any:
  """Lexicographic (real, then imaginary) as JAX's complex min/max."""
  part = np.dtype(np.float32 if dtype == np.complex64 else np.float64)
  re_key = lambda z: _order_key(tf.math.real(z), part)
  im_key = lambda z: _order_key(tf.math.imag(z), part)
  best_re = _minmax_keys(re_key(ext), idx, re_key(upd), is_min)
  key_t = best_re.dtype.as_numpy_dtype
  neutral = tf.constant(np.iinfo(key_t).max if is_min else np.iinfo(key_t).min,
                        best_re.dtype)
  upd_cand = tf.equal(re_key(upd), tf.gather_nd(best_re, idx))
  ext_cand = tf.equal(re_key(ext), best_re)
  best_im = _minmax_keys(tf.where(ext_cand, im_key(ext), neutral), idx,
                         tf.where(upd_cand, im_key(upd), neutral), is_min)
  real_t = tf.float32 if dtype == np.complex64 else tf.float64
  return tf.complex(_from_key(best_re, part, real_t),
                    _from_key(best_im, part, real_t))


def _combine_replace(ext: Any, idx: Any, upd: Any, linear: Any,
                     unique: bool) -> Any:
  """The last update to each element wins (XLA CPU's sequential order)."""
  if unique:
    return tf.tensor_scatter_nd_update(ext, idx, upd)
  ids = tf.range(tf.shape(linear, out_type=linear.dtype)[0], dtype=linear.dtype)
  winner = tf.tensor_scatter_nd_max(
      tf.fill(tf.shape(ext, out_type=linear.dtype), tf.constant(-1, linear.dtype)),
      idx, ids)
  picked = tf.gather(upd, tf.maximum(winner, 0))
  return tf.where(winner >= 0, picked, ext)


def _is_replace_jaxpr(update_jaxpr: Any) -> bool:
  """True for None or a jaxpr `lambda x, y: y` (plain lax.scatter)."""
  if update_jaxpr is None:
    return True
  jaxpr = getattr(update_jaxpr, "jaxpr", update_jaxpr)
  return (not jaxpr.eqns and len(jaxpr.outvars) == 1
          and len(jaxpr.invars) == 2 and jaxpr.outvars[0] is jaxpr.invars[1])


def _update_fn(ctx: RuleContext, update_jaxpr: Any, consts: Any) -> Any:
  """The scalar update computation applied elementwise to flat [M] values.

  The jaxpr is vectorized over the updates' shape (symbolic dimensions
  included, so no count needs to be static) and interpreted with our rules.
  """
  jaxpr = getattr(update_jaxpr, "jaxpr", update_jaxpr)
  upd_aval = ctx.avals_in[2]
  closed_update = jcore.ClosedJaxpr(jaxpr, list(consts))
  elementwise = lambda x, y: jcore.jaxpr_as_fun(closed_update)(x, y)[0]
  spec = jax.ShapeDtypeStruct(upd_aval.shape, ctx.avals_in[0].dtype)
  closed = jax.make_jaxpr(jnp.vectorize(elementwise))(spec, spec)
  shape = ctx.shape_tensor(upd_aval)

  def apply(current: Any, upd: Any) -> Any:
    out = ctx.interpret(closed, tf.reshape(current, shape),
                        tf.reshape(upd, shape))[0]
    return tf.reshape(out, [-1])

  return apply


def _batch_order(ctx: RuleContext, dnums: Any, itype: tf.DType) -> Any:
  """For every update element (flattened), the row-major position of its
  scatter index among the indices' batch dims: the order in which XLA (and
  so JAX) applies the updates one window after the other."""
  _, idx_aval, upd_aval = ctx.avals_in
  upd_shape = ctx.shape(upd_aval)
  upd_rank = len(upd_shape)
  batch_shape = ctx.shape(idx_aval)[:-1]
  batch_pos = [p for p in range(upd_rank) if p not in dnums.update_window_dims]
  terms = []
  for k, (size, pos) in enumerate(zip(batch_shape, batch_pos)):
    stride = as_index(_dprod(batch_shape[k + 1:]), itype)
    term = iota_at(size, pos, upd_rank, itype)
    terms.append(term if isinstance(stride, int) and stride == 1
                 else term * stride)
  return tf.reshape(broadcast_sum(terms, upd_shape, itype), [-1])


def _combine_sequential(ctx: RuleContext, apply: Any, ext: Any, linear: Any,
                        upd: Any, order: Any, n: DimValue,
                        unique: bool) -> Any:
  """A general (non-commutative) update computation, exactly as JAX: each
  window in turn, so an element hit k times gets the update k times, in the
  order of the scatter indices.

  Elements hit by the same window are distinct, so the updates are applied
  in rounds: each round takes, for every element still to be updated, its
  earliest pending update (a scatter-min of the order keys), applies the
  computation to all of them at once and writes them back. The number of
  rounds is the largest multiplicity (1 without duplicates). With
  `unique_indices=True` (the user's promise, as in JAX) one round is all.
  """
  itype = linear.dtype
  dummy = tf.cast(as_index(n, itype), itype)
  if unique:
    return tf.tensor_scatter_nd_update(ext, linear[:, None],
                                       apply(tf.gather(ext, linear), upd))
  count = tf.shape(linear, out_type=itype)[0]
  fill = tf.fill(tf.shape(ext, out_type=itype), count)

  def body(out: Any, pending: Any) -> tuple[Any, Any]:
    key = tf.where(pending, order, count)
    first = tf.tensor_scatter_nd_min(fill, linear[:, None], key)
    chosen = tf.logical_and(pending, tf.equal(tf.gather(first, linear), order))
    current = tf.gather(out, linear)
    new = tf.where(chosen, apply(current, upd), current)
    out = tf.tensor_scatter_nd_update(
        out, tf.where(chosen, linear, dummy)[:, None], new)
    return out, tf.logical_and(pending, tf.logical_not(chosen))

  def cond(out: Any, pending: Any) -> Any:
    del out
    return tf.reduce_any(pending)

  # Dropped updates (redirected to the dummy element) are never pending.
  out, _ = tf.while_loop(cond, body, (ext, tf.not_equal(linear, dummy)))
  return out


# The dtypes TFLite's UNSORTED_SEGMENT_SUM takes (default graphs only).
_SEGMENT_SUM_DTYPES = (np.dtype(np.float32), np.dtype(np.int32))


def _is_positive_zeros(x: Any) -> bool:
  """Whether `x` is known, at conversion time, to be all +0 (no -0.0).

  Eager values and constants by value; in graphs also the zeros that JAX's
  `jnp.zeros(...)` becomes (a broadcast or fill of a constant 0), whose
  shape may be symbolic.
  """
  def positive_zero(v: Any) -> bool:
    v = np.asarray(v)
    return bool(np.all(v == 0)) and not np.any(np.signbit(v.real))

  value = tf.get_static_value(x)
  if value is not None:
    return positive_zero(value)
  op = getattr(x, "op", None)
  source = {"BroadcastTo": 0, "Fill": 1}.get(getattr(op, "type", None))
  if source is None:
    return False
  value = tf.get_static_value(op.inputs[source])
  return value is not None and positive_zero(value)


declare_default_form(
    "scatter-add into zeros (segment_sum, gather gradients) as "
    "UnsortedSegmentSum for float32/int32: plain tf2onnx reads the portable "
    "ScatterNd as a scatter-set (measured: max error 13.0 with repeated "
    "indices vs 0.0) and so did tf2jax; TF.js lacks UnsortedSegmentSum, so "
    "enable_xla=False keeps ScatterNd; speed measured equal (1.02x, "
    "benchmarks/DEFAULT_FORMS.md)", "scatter-add")


def _statically_empty(shape: Sequence[Any]) -> bool:
  """A static 0 among the dims (with symbolic dims beside it the product is
  not a Python int, but the array is still empty: fuzz 2026120600:413)."""
  return any(isinstance(d, int) and d == 0 for d in shape)


def _scatter_rule(kind: str):
  """The rule for one scatter primitive; `kind` names its combiner."""

  def rule(ctx: RuleContext, operand: Any, indices: Any, updates: Any, *,
           dimension_numbers: Any, indices_are_sorted: bool,
           unique_indices: bool, mode: Any, update_jaxpr: Any,
           update_consts: Any) -> Any:
    del indices_are_sorted
    mode = Mode.from_any(mode)
    if mode not in (Mode.CLIP, Mode.FILL_OR_DROP, Mode.PROMISE_IN_BOUNDS):
      raise ctx.unsupported(f"scatter mode {mode}")
    op_aval, _, upd_aval = ctx.avals_in
    dtype = np.dtype(op_aval.dtype)
    tf_dtype = ctx.tf_dtype(op_aval)
    op_shape = ctx.shape(op_aval)
    upd_shape = ctx.shape(upd_aval)
    n = _dprod(op_shape)
    # An empty operand never gets here (the interpreter gives empty
    # results as zeros); empty updates leave the operand as it is.
    if _statically_empty(upd_shape):
      return operand
    itype = index_dtype(op_shape, upd_shape, extra=1)
    linear = _linear_targets(ctx, indices, dimension_numbers, mode, itype)
    idx = linear[:, None]
    ext = tf.concat([tf.reshape(operand, [-1]), tf.zeros([1], tf_dtype)], 0)
    upd = tf.reshape(updates, [-1])
    combiner = kind
    if dtype == np.bool_:
      combiner = {"add": "max", "mul": "min"}.get(kind, kind)
    if combiner == "replace":
      if _is_replace_jaxpr(update_jaxpr):
        out = _combine_replace(ext, idx, upd, linear, unique_indices)
      else:
        apply = _update_fn(ctx, update_jaxpr, update_consts)
        order = _batch_order(ctx, dimension_numbers, itype)
        out = _combine_sequential(ctx, apply, ext, linear, upd, order, n,
                                  unique_indices)
    elif combiner == "add" and _is_positive_zeros(operand):
      n_ext = (n + 1) if isinstance(n, int) else tf.cast(n, itype) + 1
      if ctx.enable_xla and dtype in _SEGMENT_SUM_DTYPES:
        # Sums into zeros (segment_sum, embedding gradients) in the default
        # graph: UnsortedSegmentSum, which the standard tools read right
        # (TFLite builtin for these dtypes, tf2onnx) or refuse loudly
        # (tf2jax, TF.js's op list). ScatterNd, which also sums duplicates
        # in TF and TFLite, is read as a scatter-set by plain tf2onnx and
        # tf2jax: silently wrong with repeated indices.
        out = tf.math.unsorted_segment_sum(upd, linear, n_ext)
      else:
        # Portable graphs keep ScatterNd: TF.js has no UnsortedSegmentSum,
        # TFLite's takes float32/int32 only, and export_onnx rewrites
        # ScatterNd to sum duplicates (export/tf2onnx_rewrites.py).
        out = tf.scatter_nd(idx, upd, tf.reshape(tf.cast(n_ext, itype), [1]))
    elif combiner == "add":
      out = tf.tensor_scatter_nd_add(ext, idx, upd)
    elif combiner == "sub":
      out = tf.tensor_scatter_nd_sub(ext, idx, upd)
    elif combiner == "mul":
      n_ext = (n + 1) if isinstance(n, int) else tf.cast(n, itype) + 1
      out = ext * tf.math.unsorted_segment_prod(upd, linear, n_ext)
    elif combiner in ("min", "max"):
      out = _combine_minmax(ext, idx, upd, dtype, tf_dtype, combiner == "min")
    else:
      raise ctx.unsupported(f"scatter combiner {combiner}")
    out = out[:as_index(n, itype)] if not isinstance(n, int) else out[:n]
    return tf.reshape(out, ctx.shape_tensor(ctx.aval_out))

  rule.__name__ = f"_scatter_{kind}"
  return rule


register(lax.scatter_p)(_scatter_rule("replace"))
register(lax.scatter_add_p)(_scatter_rule("add"))
register(lax.scatter_mul_p)(_scatter_rule("mul"))
register(lax.scatter_min_p)(_scatter_rule("min"))
register(lax.scatter_max_p)(_scatter_rule("max"))
if hasattr(lax, "scatter_sub_p"):
  register(lax.scatter_sub_p)(_scatter_rule("sub"))
