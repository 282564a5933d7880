"""Rules for the dot family (see rules/__init__.py for the rule signature).

`dot_general` becomes transpose + reshape + `tf.linalg.matmul` (MatMul or
BatchMatMulV2): the most portable form (TFLite, ONNX, TF.js all have it),
and as fast as XLA's dot on CPU. JAX's output layout is
(batch dims, lhs free dims, rhs free dims), which is exactly what a batched
matmul of (B, M, K) x (B, K, N) gives after a final reshape.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf
from jax import lax

from jax2tf_impl.rules import register
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.support import (as_shape, from_matmul_compute,
                                       matmul_compute_dtype, to_matmul_compute)


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
  return tf.transpose(x, perm)


def _same_dims(a: Sequence[Any], b: Sequence[Any]) -> bool:
  return len(a) == len(b) and all(
      (isinstance(x, int) and isinstance(y, int) and x == y) or x is y
      for x, y in zip(a, b))


def _reshape(x: tf.Tensor, current: Sequence[Any],
             target: Sequence[Any]) -> tf.Tensor:
  """Reshape `x` (with dims `current`) to `target`, unless they match."""
  if _same_dims(current, target):
    return x
  return tf.reshape(x, as_shape(target))


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
  out = tf.linalg.matmul(lhs, rhs, transpose_a=l_flag, transpose_b=r_flag)
  out = _reshape(out, lead + [m, n], ctx.shape(out_aval))
  return from_matmul_compute(out, out_dtype)
