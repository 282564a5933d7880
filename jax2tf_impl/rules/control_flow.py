"""Rules for cond, while and scan: real TF control flow, never unrolled.

cond -> tf.cond (two branches) or tf.switch_case; while -> tf.while_loop;
scan -> tf.while_loop over an index, reading `xs` with tf.gather and
collecting `ys` in TensorLists, or (enable_xla=False) in preallocated
buffers that the TFLite converter keeps as builtin ops in a TFLite WHILE.
"""
from __future__ import annotations

from typing import Any

import tensorflow as tf
from jax.extend.core import primitives as prims

from jax2tf_impl import jax_internals as ji
from jax2tf_impl.rules import declare_default_form, register
from jax2tf_impl.rules.context import RuleContext


def _invariant(ctx: RuleContext, aval: Any) -> tf.TensorShape:
  """The shape a loop carry keeps: static dims as ints, symbolic as None."""
  return tf.TensorShape([d if isinstance(d, int) else None for d in aval.shape])


@register(prims.cond_p)
def _cond(ctx: RuleContext, index: Any, *operands: Any, branches: Any,
          **_: Any) -> list[Any]:
  operands = list(operands)

  def branch_fn(branch: Any):
    return lambda: ctx.interpret(branch, *operands)

  fns = [branch_fn(b) for b in branches]
  if not ctx.avals_out:
    if not any(b.effects for b in branches):
      return []
    # Branches with effects only (jax.debug.print, callbacks): TF still
    # has to run the chosen one; tf.cond wants a value back.
    fns = [lambda fn=fn: (fn(), tf.constant(0))[1] for fn in fns]
  if len(fns) == 1:
    outs = fns[0]()
    return list(outs) if ctx.avals_out else []
  static_index = tf.get_static_value(index)
  if static_index is not None:
    # A known index (lax.platform_dependent's platform_index, a constant):
    # only the chosen branch is converted, as XLA folds the others away.
    i = int(static_index)
    outs = fns[i if 0 <= i < len(fns) else len(fns) - 1]()
    return list(outs) if ctx.avals_out else []
  # XLA's Case runs the last branch for an out-of-range index; so do
  # tf.cond (index != 0 -> branch 1 when there are two) and tf.switch_case.
  if len(fns) == 2:
    index = tf.cast(index, tf.int32)
    outs = tf.cond(tf.equal(index, 0), fns[0], fns[1])
  else:
    outs = tf.switch_case(tf.cast(index, tf.int32), fns)
  return list(outs) if ctx.avals_out else []


# The platform whose branch lax.platform_dependent takes (see below).
PLATFORM = "cpu"


@register(ji.platform_index_p)
def _platform_index(ctx: RuleContext, *, platforms: Any) -> Any:
  """The index of the lax.platform_dependent branch for "cpu".

  `platforms` holds one tuple of platform names per branch, or None for
  the `default` branch. A converted graph reproduces JAX's CPU semantics
  (every rule follows XLA:CPU), whatever device TF later runs it on, so we
  pick the branch JAX would lower for "cpu": the one naming it, else the
  default; JAX itself fails to lower a function without either for CPU,
  and so do we. The index is a constant, so the cond that consumes it
  converts only that branch.
  """
  default = None
  for i, names in enumerate(platforms):
    if names is None:
      default = i
    elif PLATFORM in names:
      return tf.constant(i, tf.int32)
  if default is None:
    raise ctx.unsupported(
        f"lax.platform_dependent has no branch for '{PLATFORM}' (the platform "
        f"converted graphs follow) and no default; branches: {platforms}")
  return tf.constant(default, tf.int32)


@register(prims.while_p)
def _while(ctx: RuleContext, *args: Any, cond_jaxpr: Any, body_jaxpr: Any,
           cond_nconsts: int, body_nconsts: int) -> list[Any]:
  cond_consts = list(args[:cond_nconsts])
  body_consts = list(args[cond_nconsts:cond_nconsts + body_nconsts])
  init = list(args[cond_nconsts + body_nconsts:])
  if not init:
    raise ctx.unsupported("a while loop without loop-carried values")
  carry_avals = ctx.avals_out
  pred_shape = cond_jaxpr.out_avals[0].shape

  def cond_fn(*carry: Any) -> Any:
    (pred,) = ctx.interpret(cond_jaxpr, *cond_consts, *carry)
    # A batched predicate (vmap of a while loop) keeps looping while any
    # element is still running, as in XLA's lowering.
    return tf.reduce_any(pred) if pred_shape else pred

  def body_fn(*carry: Any) -> list[Any]:
    new = list(ctx.interpret(body_jaxpr, *body_consts, *carry))
    if not pred_shape:
      return new
    (pred,) = ctx.interpret(cond_jaxpr, *cond_consts, *carry)
    # Elements whose predicate is already false keep their carry.
    return [_select_leading(ctx, pred, n, old, a)
            for n, old, a in zip(new, carry, carry_avals)]

  outs = tf.while_loop(
      cond_fn, body_fn, init,
      shape_invariants=[_invariant(ctx, a) for a in carry_avals])
  return list(outs)


def _select_leading(ctx: RuleContext, pred: Any, new: Any, old: Any,
                    aval: Any) -> Any:
  """where(pred, new, old) with `pred` broadcast along trailing dimensions."""
  extra = len(aval.shape) - len(pred.shape)
  p = tf.reshape(pred, tf.concat([tf.shape(pred), tf.ones([extra], tf.int32)],
                                 0)) if extra else pred
  return tf.where(tf.broadcast_to(p, tf.shape(new)), new, old)


def _write_row(buf: Any, idx: Any, y: Any, n: Any) -> Any:
  """buf with row `idx` replaced by y: a select against `range(n) == idx`.

  Not tensor_scatter_nd_update: TFLite lowers that to SCATTER_ND and mask
  arithmetic (buf * (1 - mask) + update), and under int8 quantization
  those SCATTER_NDs fill with the raw 0 instead of the zero point: the
  scan outputs of int8 LSTMs came out as garbage (rel. error ~1; 0.02 with
  this select). A select is exact and quantizes like any other op. Above
  rank 5 both operands are broadcast to buf's shape (TFLite's SELECT_V2
  broadcasts up to rank 5 only).
  """
  rank = buf.shape.rank
  rows = tf.reshape(tf.equal(tf.range(n), idx), [-1] + [1] * (rank - 1))
  if rank <= 5:
    return tf.where(rows, y[None], buf)
  shape = tf.shape(buf)
  return tf.where(tf.broadcast_to(rows, shape),
                  tf.broadcast_to(y[None], shape), buf)


def _row_shape(ctx: RuleContext, aval: Any) -> Any:
  """The shape of one row of a scan output, for its TensorList.

  A constant when static; with a symbolic dimension a shape tensor, not a
  constant with -1: the TFLite converter lowers a TensorList whose element
  shape is a non-constant tensor, but refuses a constant whose first entry
  is -1 (a batch-polymorphic LSTM's ys), and tf2onnx reads both."""
  shape = ctx.shape_tensor(aval.shape[1:])
  return tf.constant(shape, tf.int32) if isinstance(shape, list) else shape


def _stacked(ctx: RuleContext, lst: Any, aval: Any, n: Any) -> Any:
  """The scan output from its TensorList, with its static shape."""
  y = tf.raw_ops.TensorListStack(input_handle=lst,
                                 element_shape=_row_shape(ctx, aval),
                                 element_dtype=ctx.tf_dtype(aval),
                                 num_elements=n if isinstance(n, int) else -1)
  y.set_shape(_invariant(ctx, aval))
  return y


declare_default_form(
    "ys in TensorLists (one write per step) instead of preallocated buffers "
    "written by a select over the whole buffer per step (which TFLite and "
    "its int8 quantizer need): the buffers make a scan quadratic, measured "
    "55x slower for 2000 steps of (256,) (benchmarks/DEFAULT_FORMS.md)", "scan")


@register(prims.scan_p)
def _scan(ctx: RuleContext, *args: Any, jaxpr: Any, num_consts: int,
          num_carry: int, length: Any, reverse: bool, **_: Any) -> list[Any]:
  consts = list(args[:num_consts])
  init = list(args[num_consts:num_consts + num_carry])
  xs = list(args[num_consts + num_carry:])
  carry_avals = ctx.avals_out[:num_carry]
  ys_avals = ctx.avals_out[num_carry:]
  n = ctx.dim(length)
  if isinstance(length, int) and length == 0:
    # No iteration: the carry as given and empty ys (a TensorArray cannot
    # stack zero elements whose shape has symbolic dimensions).
    return init + [tf.zeros(ctx.shape_tensor(a), ctx.tf_dtype(a))
                   for a in ys_avals]

  # Portable graphs (enable_xla=False, the mode used for TFLite/ONNX) write
  # `ys` into preallocated buffers, a row at a time with a select
  # (`_write_row`), which the TFLite converter and its int8 quantizer
  # handle for any shape; with enable_xla=True they go to
  # TensorLists (what tf.TensorArray builds), which avoid copying the
  # buffer at every step.
  use_buffers = not ctx.enable_xla
  if use_buffers:
    ys_init = [tf.zeros(ctx.shape_tensor(a), ctx.tf_dtype(a)) for a in ys_avals]
    ys_invariants = [_invariant(ctx, a) for a in ys_avals]
  else:
    ys_init = [tf.raw_ops.TensorListReserve(
        element_shape=_row_shape(ctx, a), num_elements=n,
        element_dtype=ctx.tf_dtype(a)) for a in ys_avals]
    ys_invariants = [tf.TensorShape([])] * len(ys_avals)

  def cond_fn(i: Any, *_: Any) -> Any:
    return i < n

  def body_fn(i: Any, *loop: Any) -> list[Any]:
    carry = list(loop[:num_carry])
    accumulators = list(loop[num_carry:])
    idx = (n - 1 - i) if reverse else i
    x_slices = [tf.gather(x, idx) for x in xs]
    outs = ctx.interpret(jaxpr, *consts, *carry, *x_slices)
    new_carry = outs[:num_carry]
    ys = outs[num_carry:]
    if use_buffers:
      accumulators = [_write_row(buf, idx, y, n)
                      for buf, y in zip(accumulators, ys)]
    else:
      # Written in step order, reversed once after the loop: tf2onnx reads
      # a TensorArray write as "append", whatever its index (a reverse
      # scan's ys came out of plain tf2onnx in the wrong order).
      accumulators = [tf.raw_ops.TensorListSetItem(input_handle=lst, index=i,
                                                   item=y)
                      for lst, y in zip(accumulators, ys)]
    return [i + 1, *new_carry, *accumulators]

  loop_vars = [tf.constant(0, tf.int32), *init, *ys_init]
  invariants = ([tf.TensorShape([])] +
                [_invariant(ctx, a) for a in carry_avals] + ys_invariants)
  results = tf.while_loop(cond_fn, body_fn, loop_vars,
                          shape_invariants=invariants)
  carry_out = list(results[1:1 + num_carry])
  ys_out = list(results[1 + num_carry:])
  if not use_buffers:
    ys_out = [_stacked(ctx, lst, a, n) for lst, a in zip(ys_out, ys_avals)]
    if reverse:
      ys_out = [tf.reverse(y, [0]) for y in ys_out]
  return carry_out + ys_out
