"""Rules for the dot family (see rules/__init__.py for the rule signature).

`dot_general` becomes transpose + reshape + `tf.linalg.matmul` (MatMul or
BatchMatMulV2): the most portable form (TFLite, ONNX, TF.js all have it),
and as fast as XLA's dot on CPU. JAX's output layout is
(batch dims, lhs free dims, rhs free dims), which is exactly what a batched
matmul of (B, M, K) x (B, K, N) gives after a final reshape.
`ragged_dot_general` (lax.ragged_dot) masks its ragged operand into a dense
per-group tensor and reuses the dot_general rule, as JAX does on CPU.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import jax
import numpy as np
import tensorflow as tf
from jax import lax

from jax2tf_impl import jax_internals as ji
from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.support import (as_shape, from_matmul_compute,
                                       matmul_compute_dtype, shape_operand,
                                       tf_op, to_matmul_compute)


def _prod(dims: Sequence[Any]) -> Any:
  """Product of dims (Python ints or TF int32 scalars); static when possible."""
  static = 1
  symbolic = None
  for d in dims:
    if isinstance(d, int):
      static *= d
    else:
      symbolic = d if symbolic is None else symbolic * d
  if symbolic is None:
    return static
  return symbolic * static if static != 1 else symbolic


def _transpose(x: tf.Tensor, perm: Sequence[int]) -> tf.Tensor:
  if list(perm) == list(range(len(perm))):
    return x
  return tf_op("Transpose")(x, shape_operand(perm))


def _matmul(lhs: tf.Tensor, rhs: tf.Tensor, transpose_a: bool,
            transpose_b: bool) -> tf.Tensor:
  """tf.linalg.matmul; its MatMul / BatchMatMulV2 built directly for real
  floats of rank 2 / 3 (for them adjoint is transpose)."""
  rank = lhs.shape.rank
  if (lhs.dtype in (tf.float32, tf.float64, tf.bfloat16, tf.float16)
      and rhs.dtype == lhs.dtype and rank == rhs.shape.rank and rank in (2, 3)):
    if rank == 2:
      return tf_op("MatMul")(lhs, rhs, transpose_a=transpose_a,
                             transpose_b=transpose_b)
    return tf_op("BatchMatMulV2")(lhs, rhs, adj_x=transpose_a, adj_y=transpose_b)
  return tf.linalg.matmul(lhs, rhs, transpose_a=transpose_a,
                          transpose_b=transpose_b)


def _same_dims(a: Sequence[Any], b: Sequence[Any]) -> bool:
  return len(a) == len(b) and all(
      (isinstance(x, int) and isinstance(y, int) and x == y) or x is y
      for x, y in zip(a, b))


def _reshape(x: tf.Tensor, current: Sequence[Any],
             target: Sequence[Any]) -> tf.Tensor:
  """Reshape `x` (with dims `current`) to `target`, unless they match."""
  if _same_dims(current, target):
    return x
  return tf_op("Reshape")(x, shape_operand(target))


def _operand_layout(shape: Sequence[Any], batch: Sequence[int],
                    contract: Sequence[int], contract_last: bool
                    ) -> tuple[list[int], bool, list[Any], Any, Any]:
  """Plans the transpose of one operand to (batch, free, contract) or
  (batch, contract, free), whichever needs no transpose if either does.

  `contract_last` is the layout matmul wants without a transpose flag
  (True for lhs: (M, K); False for rhs: (K, N)). Returns
  (perm, flag, batch_dims, free_size, contract_size), where flag says the
  operand ends up in the other layout (use matmul's transpose_a/_b).
  """
  rank = len(shape)
  free = [i for i in range(rank) if i not in batch and i not in contract]
  free_last = list(batch) + list(contract) + free
  contract_last_perm = list(batch) + free + list(contract)
  preferred = contract_last_perm if contract_last else free_last
  other = free_last if contract_last else contract_last_perm
  identity = list(range(rank))
  if preferred != identity and other == identity:
    perm, flag = other, True
  else:
    perm, flag = preferred, False
  return (perm, flag, [shape[i] for i in batch],
          _prod([shape[i] for i in free]), _prod([shape[i] for i in contract]))


@register(lax.dot_general_p)
def _dot_general(ctx: RuleContext, lhs: tf.Tensor, rhs: tf.Tensor, *,
                 dimension_numbers: Any, precision: Any = None,
                 preferred_element_type: Any = None, **_: Any) -> tf.Tensor:
  """JAX's dot_general: contract `lhs`/`rhs` over the contracting dims,
  batching over the batch dims; output (batch, lhs free, rhs free).

  `precision` (DEFAULT/HIGH/HIGHEST or an algorithm) is ignored: on CPU TF
  always computes f32 in full f32 precision, which is what JAX's CPU backend
  does too. `preferred_element_type` is reflected in the output aval.
  """
  del precision, preferred_element_type  # see docstring; dtype from aval
  (lhs_contract, rhs_contract), (lhs_batch, rhs_batch) = dimension_numbers
  lhs_aval, rhs_aval = ctx.avals_in
  out_aval = ctx.aval_out
  out_dtype = np.dtype(out_aval.dtype)
  compute = matmul_compute_dtype(ctx, out_dtype)
  lhs = to_matmul_compute(lhs, lhs_aval.dtype, out_dtype, compute)
  rhs = to_matmul_compute(rhs, rhs_aval.dtype, out_dtype, compute)

  lhs_shape, rhs_shape = ctx.shape(lhs_aval), ctx.shape(rhs_aval)
  l_perm, l_flag, batch_dims, m, k = _operand_layout(
      lhs_shape, lhs_batch, lhs_contract, contract_last=True)
  r_perm, r_flag, _, n, _ = _operand_layout(
      rhs_shape, rhs_batch, rhs_contract, contract_last=False)
  lhs = _transpose(lhs, l_perm)
  rhs = _transpose(rhs, r_perm)

  nbatch = len(batch_dims)
  if nbatch == 0:
    lead: list[Any] = []
  elif nbatch == 1:
    lead = batch_dims
  else:
    lead = [_prod(batch_dims)]
  l_dims = lead + ([k, m] if l_flag else [m, k])
  r_dims = lead + ([n, k] if r_flag else [k, n])
  lhs = _reshape(lhs, [lhs_shape[i] for i in l_perm], l_dims)
  rhs = _reshape(rhs, [rhs_shape[i] for i in r_perm], r_dims)
  out = _matmul(lhs, rhs, l_flag, r_flag)
  out = _reshape(out, lead + [m, n], ctx.shape(out_aval))
  return from_matmul_compute(out, out_dtype)


# --------------------------------------------------------------- ragged_dot


def _group_mask(ctx: RuleContext, gs: tf.Tensor, gs_aval: Any,
                shape: Sequence[Any], dim: int,
                prefix: Sequence[int]) -> tf.Tensor:
  """mask[j, ..., i, ...] = start_j <= i < end_j along axis `dim` of an
  operand of `shape`, broadcastable to [g, *shape].

  `gs` has shape [g] or [*prefix sizes, g]; its leading axes correspond,
  in order, to the operand axes `prefix`. end = cumsum(gs), start = end -
  gs (= [0, end[:-1]]), all in gs's dtype (wrapping as JAX's does), and
  so is the position i: the comparisons of JAX's `ragged_to_dense`.
  """
  gs_dtype = ctx.tf_dtype(gs_aval)
  rank = len(shape)
  if gs_dtype in (tf.int32, tf.int64):
    ends = tf.cumsum(gs, axis=-1)
  else:  # sums modulo 2**bits: wide sum, then the wrapping cast
    ends = tf.cast(tf.cumsum(tf.cast(gs, tf.int64), axis=-1), gs_dtype)
  starts = ends - gs
  if len(gs_aval.shape) == 1:
    target = [1] * rank
  else:
    order = sorted(range(len(prefix)), key=lambda i: prefix[i])
    perm = [len(prefix)] + order
    starts, ends = tf.transpose(starts, perm), tf.transpose(ends, perm)
    target = [shape[d] if d in prefix else 1 for d in range(rank)]
  group_shape = as_shape([ctx.dim(gs_aval.shape[-1])] + target)
  starts = tf.reshape(starts, group_shape)
  ends = tf.reshape(ends, group_shape)
  n = shape[dim]
  count = tf.int64 if gs_dtype in (tf.int64, tf.uint64) else tf.int32
  iota = tf.cast(tf.range(tf.cast(n, count), dtype=count), gs_dtype)
  along = [1] * (rank + 1)
  along[dim + 1] = n
  iota = tf.reshape(iota, as_shape(along))
  return tf.logical_and(tf.less_equal(starts, iota), tf.less(iota, ends))


def _ragged_to_dense(ctx: RuleContext, x: tf.Tensor, aval: Any, gs: tf.Tensor,
                     gs_aval: Any, dim: int, prefix: Sequence[int]
                     ) -> tuple[tf.Tensor, Any]:
  """x of shape S -> [g, *S]: group j keeps the rows of its segment along
  `dim`, zeros elsewhere. Returns the tensor and its (abstract) type."""
  shape = ctx.shape(aval)
  mask = _group_mask(ctx, gs, gs_aval, shape, dim, prefix)
  dense = tf.where(mask, tf.expand_dims(x, 0), tf.zeros([], x.dtype))
  g = gs_aval.shape[-1]
  return dense, jax.ShapeDtypeStruct((g, *aval.shape), aval.dtype)


def _prefix_dims(mode: str, rank: int, ragged: int, batch: Sequence[int],
                 contract: Sequence[int]) -> list[int]:
  """The operand axes that group_sizes' leading axes stand for (JAX's
  `_ragged_dot_prefix_dims`): the batch axes, then the axes of the
  ragged axis' kind that come before it."""
  batch, contract = list(batch), list(contract)
  free = [i for i in range(rank) if i not in batch and i not in contract]
  if mode == "noncontracting":
    return batch + free[:free.index(ragged)]
  if mode == "contracting":
    return batch + contract[:contract.index(ragged)]
  return batch[:batch.index(ragged)]


@register(ji.ragged_dot_general_p)
def _ragged_dot_general(ctx: RuleContext, lhs: tf.Tensor, rhs: tf.Tensor,
                        group_sizes: tf.Tensor, *,
                        ragged_dot_dimension_numbers: Any, precision: Any,
                        preferred_element_type: Any, group_offset: Any,
                        out_sharding: Any = None) -> tf.Tensor:
  """lax.ragged_dot_general as JAX computes it on CPU (its lowering there
  is `_ragged_dot_general_impl`): the ragged operand(s) are expanded to a
  dense [g, ...] tensor in which group j keeps only its segment of the
  ragged axis (segments from the cumulative sum of group_sizes; rows past
  the last segment belong to no group), then one dot_general:
    1. ragged non-contracting lhs axis (mixture of experts, lax.ragged_dot):
       the group axis is contracted with the rhs group axis;
    2. ragged contracting axis: lhs and rhs expanded, group axis batched,
       the result gets a leading group axis;
    3. ragged batch axis: a plain dot_general (group_sizes is unused on
       CPU).
  group_offset is unimplemented in JAX's CPU lowering, and here too.
  """
  del precision, preferred_element_type, out_sharding  # dtype from the aval
  if group_offset is not None:
    raise ctx.unsupported("group_offset (JAX's CPU lowering lacks it too)")
  dnums = ragged_dot_dimension_numbers
  (lc, rc), (lb, rb) = dnums.dot_dimension_numbers
  lc, rc, lb, rb = map(list, (lc, rc, lb, rb))
  (ragged,) = dnums.lhs_ragged_dimensions
  lhs_aval, rhs_aval, gs_aval = ctx.avals_in
  rank = len(lhs_aval.shape)
  if ragged in lc:
    mode = "contracting"
  elif ragged in lb:
    mode = "batch"
  else:
    mode = "noncontracting"
  incr = lambda dims: [d + 1 for d in dims]

  def dot(a: tf.Tensor, a_aval: Any, b: tf.Tensor, b_aval: Any,
          dimension_numbers: Any) -> tf.Tensor:
    sub = dataclasses.replace(ctx, avals_in=[a_aval, b_aval])
    return _dot_general(sub, a, b, dimension_numbers=dimension_numbers)

  if mode == "batch":
    return dot(lhs, lhs_aval, rhs, rhs_aval, ((lc, rc), (lb, rb)))
  l_prefix = _prefix_dims(mode, rank, ragged, lb, lc)
  dense_lhs, dense_lhs_aval = _ragged_to_dense(
      ctx, lhs, lhs_aval, group_sizes, gs_aval, ragged, l_prefix)
  if mode == "noncontracting":
    (rg,) = dnums.rhs_group_dimensions
    return dot(dense_lhs, dense_lhs_aval, rhs, rhs_aval,
               ((incr(lc) + [0], rc + [rg]), (incr(lb), rb)))
  r_ragged = rc[lc.index(ragged)]
  r_prefix = _prefix_dims(mode, len(rhs_aval.shape), r_ragged, rb, rc)
  dense_rhs, dense_rhs_aval = _ragged_to_dense(
      ctx, rhs, rhs_aval, group_sizes, gs_aval, r_ragged, r_prefix)
  return dot(dense_lhs, dense_lhs_aval, dense_rhs, dense_rhs_aval,
             ((incr(lc), incr(rc)), ([0] + incr(lb), [0] + incr(rb))))
