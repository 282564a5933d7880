"""RuleContext: what a rule may know besides its operands and params."""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from jax2tf_impl import dtypes as dt
from jax2tf_impl.errors import UnsupportedPrimitiveError, format_params
from jax2tf_impl.rules.support import as_shape
from jax2tf_impl.shapes import DimEnv, DimValue, is_static_shape


@dataclasses.dataclass
class ConversionState:
  """Per-conversion settings shared by every rule invocation."""
  enable_xla: bool
  dim_env: DimEnv
  # Set by the interpreter: interpret(closed_jaxpr, args, state) -> outputs.
  interpret: Callable[..., list[Any]] | None = None
  # Where closed-over constants go (large ones become tf.Variables).
  constants: Any = None
  # False: Python callbacks (pure_callback, io_callback, debug.callback) are
  # conversion errors, for graphs that must run without Python (serving).
  allow_python_callbacks: bool = True


@dataclasses.dataclass
class RuleContext:
  """The equation being converted, as a rule sees it.

  `avals_in`/`avals_out` are the jaxpr's abstract values: rules take shapes
  and dtypes from them, never from the TF values (design principle 5).
  """
  primitive: Any
  avals_in: Sequence[Any]
  avals_out: Sequence[Any]
  state: ConversionState
  params: dict[str, Any] = dataclasses.field(default_factory=dict)
  source: str = "unknown"
  # Which operands are literals of the jaxpr (constants XLA sees as such,
  # unlike values computed from constants, which may be loop-carried).
  literal_operands: Sequence[bool] = ()

  @property
  def enable_xla(self) -> bool:
    return self.state.enable_xla

  @property
  def aval_out(self) -> Any:
    """The single output aval (for primitives with one result)."""
    return self.avals_out[0]

  # --- shapes -----------------------------------------------------------
  def dim(self, d: Any) -> DimValue:
    """A dimension as a Python int, or a TF int32 scalar if symbolic."""
    return self.state.dim_env.dim(d)

  def shape(self, aval_or_shape: Any) -> list[DimValue]:
    """A shape as a list of Python ints / TF int32 scalars."""
    shape = getattr(aval_or_shape, "shape", aval_or_shape)
    return self.state.dim_env.shape(shape)

  def shape_tensor(self, aval_or_shape: Any) -> Any:
    """A shape usable as a TF shape argument (list of ints, or int32 tensor)."""
    return as_shape(self.shape(aval_or_shape))

  @staticmethod
  def is_static(aval_or_shape: Any) -> bool:
    shape = getattr(aval_or_shape, "shape", aval_or_shape)
    return is_static_shape(shape)

  # --- dtypes -----------------------------------------------------------
  @staticmethod
  def tf_dtype(aval_or_dtype: Any) -> tf.DType:
    dtype = getattr(aval_or_dtype, "dtype", aval_or_dtype)
    return dt.to_tf_dtype(dtype)

  def constant(self, value: Any, aval_or_dtype: Any) -> tf.Tensor:
    """A TF constant of `value` with the dtype of `aval_or_dtype`."""
    dtype = getattr(aval_or_dtype, "dtype", aval_or_dtype)
    return tf.constant(np.asarray(value, dtype=dt.to_np_dtype(dtype)))

  # --- sub-jaxprs -------------------------------------------------------
  def interpret(self, closed_jaxpr: Any, *args: Any) -> list[Any]:
    """Converts a sub-jaxpr (a ClosedJaxpr) applied to TF values."""
    assert self.state.interpret is not None
    return self.state.interpret(closed_jaxpr, list(args), self.state)

  # --- failures ---------------------------------------------------------
  def unsupported(self, what: str) -> UnsupportedPrimitiveError:
    """An error naming the primitive, `what` is unsupported, and the source.

    Use as `raise ctx.unsupported("...")`.
    """
    return UnsupportedPrimitiveError(
        f"Cannot convert primitive '{self.primitive}': {what}.\n"
        f"  params: {format_params(self.params)}\n"
        f"  input types: {', '.join(str(a) for a in self.avals_in)}\n"
        f"  at: {self.source}")

  def require_xla(self, what: str) -> None:
    """Called by a rule about to emit an Xla* op for `what`."""
    if not self.enable_xla:
      raise self.unsupported(
          f"{what} needs an XLA op, and the conversion has enable_xla=False")


def unary(tf_fn: Callable[[Any], Any]) -> Callable[..., Any]:
  """A rule applying `tf_fn` to the single operand, ignoring params."""

  def rule(ctx: RuleContext, x: Any, **params: Any) -> Any:
    del ctx, params
    return tf_fn(x)

  rule.__name__ = f"unary_{getattr(tf_fn, '__name__', 'fn')}"
  return rule


def binary(tf_fn: Callable[[Any, Any], Any]) -> Callable[..., Any]:
  """A rule applying `tf_fn` to the two operands, ignoring params."""

  def rule(ctx: RuleContext, x: Any, y: Any, **params: Any) -> Any:
    del ctx, params
    return tf_fn(x, y)

  rule.__name__ = f"binary_{getattr(tf_fn, '__name__', 'fn')}"
  return rule
