"""convert(): the public entry point.

Flattens the TF arguments and traces the JAX function once per input
signature (tracing.py), and interprets the ClosedJaxpr with the rules table
(interpreter.py), with the converted VJP attached (gradients.py). Results are restored to the JAX function's output pytree.
"""
from __future__ import annotations

import contextlib
import functools
import gc
import re
import threading
from typing import Any, Callable, Sequence

import tensorflow as tf
from jax import tree_util

from jax2tf_impl import gradients
from jax2tf_impl import interpreter
from jax2tf_impl import shapes
from jax2tf_impl import tracing
from jax2tf_impl.constants import ConstantStore
from jax2tf_impl.errors import InputSpecError, UnsupportedPrimitiveError
from jax2tf_impl import checkify_support
from jax2tf_impl.rules.context import ConversionState
from jax2tf_impl.tracing import Traced


def convert(fun: Callable[..., Any], *,
            polymorphic_shapes: Any = None,
            polymorphic_constraints: Sequence[str] = (),
            with_gradient: bool = True,
            enable_xla: bool = True,
            native_serialization: bool = False,
            allow_python_callbacks: bool = True) -> "ConvertedFunction":
  """Converts a JAX function into a function on TF values built of TF ops.

  Args:
    fun: the JAX function; takes and returns pytrees of arrays.
    polymorphic_shapes: None, or one spec per positional argument (a pytree
      prefix of the arguments), in jax2tf syntax, e.g. "(b, 28, 28, 1)",
      "(b, ...)", "(_, 4*b, 4*b, _)". Dimensions named by variables may
      differ from call to call without re-tracing.
    polymorphic_constraints: constraints on the dimension variables, in
      `jax.export.symbolic_shape` syntax, e.g. ("b >= 16", "mod(b, 2) == 0").
    with_gradient: attach the JAX VJP (converted too) as the TF gradient.
      With False, differentiating the result raises an error.
    enable_xla: allow tf2xla ops (Xla*) where no exact portable form
      exists. With False the graph has no Xla* op, or conversion fails
      naming the primitive that needs one.
    native_serialization: delegate to `jax.experimental.jax2tf` (one
      XlaCallModule op with StableHLO) instead of our interpreter.
    allow_python_callbacks: with False, `jax.pure_callback`, `io_callback`
      and `jax.debug.callback` are conversion errors instead of
      `tf.numpy_function` ops (which need this Python process to run; a
      model meant for serving must not contain them). docs/callbacks.md.

  Returns:
    A function that takes the same pytrees of arguments as TF values
    (tf.Tensor, tf.Variable, numpy arrays, Python scalars) and returns the
    same pytree of results as tf.Tensors. It works eagerly and inside
    `tf.function` (with or without jit_compile).
  """
  if not callable(fun):
    raise TypeError(f"jax2tf_impl.convert expects a callable, got "
                    f"{type(fun).__name__}: {fun!r:.80}")
  if native_serialization:
    from jax.experimental import jax2tf  # pylint: disable=g-import-not-at-top
    return jax2tf.convert(fun, polymorphic_shapes=polymorphic_shapes,
                          with_gradient=with_gradient,
                          native_serialization=True)
  converter = _Converter(fun, polymorphic_shapes, tuple(polymorphic_constraints),
                         with_gradient, enable_xla, allow_python_callbacks)
  return ConvertedFunction(converter)



@contextlib.contextmanager
def _gc_paused() -> Any:
  """Python's cyclic garbage collector paused while one conversion runs.

  A conversion of N equations creates O(N) long-lived objects (the jaxpr,
  TF's graph wrappers), and every full collection re-scans all of them:
  with the collector on, conversion time grew as N**1.2 (10,000 equations:
  25% of the time in collections). Garbage made meanwhile is collected
  after, as usual. Restores the collector only if it was on."""
  was_enabled = gc.isenabled()
  gc.disable()
  try:
    yield
  finally:
    if was_enabled:
      gc.enable()

class ConvertedFunction(tf.Module):
  """The result of `convert`: call it with TF values.

  It is a tf.Module so that the tf.Variables holding large arrays closed
  over by the JAX function are tracked: assign it to an attribute of the
  tf.Module you save (`module.fn = converted`) and those weights are
  stored once in the SavedModel's variables/.
  """

  def __init__(self, converter: "_Converter"):
    name = getattr(converter.fun, "__name__", "fun")
    super().__init__(name="converted_" + "".join(
        c if c.isalnum() or c == "_" else "_" for c in name))
    self._converter = converter
    self.constants = converter.constants
    self.jax_fun = converter.fun
    self.__doc__ = getattr(converter.fun, "__doc__", None)

  @property
  def trace_count(self) -> int:
    """How many times the JAX function was traced (once per signature)."""
    return self._converter.trace_count

  @property
  def eager_graph_count(self) -> int:
    """How many concrete functions eager calls have built (one per signature)."""
    return self._converter.eager_graph_count

  def __call__(self, *args: Any, **kwargs: Any) -> Any:
    # Keyword arguments are traced with static shapes, as in jax2tf
    # (polymorphic_shapes covers the positional arguments).
    return self._converter(args, kwargs)


def _assert_text(message: str) -> str:
  """The text of a failed tf.debugging.Assert, as one readable string.

  TF renders the Assert's data as `[piece] [piece] ...` with quotes
  escaped, after "assertion failed: ", then the failing node.
  """
  match = re.search(r"assertion failed: (.*?)(\n\s*\[\[\{\{node|$)", message,
                    re.S)
  if not match:
    return message
  body = match.group(1).strip()
  if body.startswith("[") and body.endswith("]"):
    body = body[1:-1]
  return re.sub(r"\] \[", "", body).replace("\\'", "'")


@functools.lru_cache(maxsize=256)
def _has_checkify_errors(out_tree: Any) -> bool:
  """Whether an output pytree structure holds a checkify.Error."""
  return checkify_support.has_errors(
      tree_util.tree_unflatten(out_tree, [0] * out_tree.num_leaves))


class _Converter:
  """One converted function: its trace cache, constants and settings."""

  def __init__(self, fun: Callable[..., Any], polymorphic_shapes: Any,
               constraints: tuple, with_gradient: bool, enable_xla: bool,
               allow_python_callbacks: bool = True):
    self.fun = fun
    self.polymorphic_shapes = polymorphic_shapes
    self.constraints = constraints
    self.with_gradient = with_gradient
    self.enable_xla = enable_xla
    self.allow_python_callbacks = allow_python_callbacks
    self.traces = tracing.TraceCache(fun)
    self.constants = ConstantStore()
    # Eager calls: one concrete function per trace key (see _call_eagerly).
    self._eager: dict[Any, tuple[Traced, Any]] = {}
    self._eager_lock = threading.Lock()

  @property
  def trace_count(self) -> int:
    return self.traces.trace_count

  @property
  def eager_graph_count(self) -> int:
    return len(self._eager)

  def __call__(self, args: tuple, kwargs: dict[str, Any] | None = None) -> Any:
    sig = tracing.signature_of(args, self.polymorphic_shapes, self.constraints,
                               kwargs)
    if tf.executing_eagerly():
      traced, outs = self._call_eagerly(sig)
    else:
      with _gc_paused():
        traced = self._trace(sig)
        outs = self.run(traced, sig.tensors)
    result = traced.unflatten_outputs(outs)
    if tf.executing_eagerly() and _has_checkify_errors(traced.out_tree):
      # checkify.Error results behave as JAX's (get()/throw() texts).
      result = checkify_support.errors_to_numpy(result)
    return result

  def _call_eagerly(self, sig: tracing.Signature) -> tuple[Traced, list[Any]]:
    """Runs the conversion as a graph built once per signature.

    Interpreting the jaxpr op by op on every eager call costs ~1 TF eager
    dispatch per op (tens of times jax.jit at small sizes). Instead the
    first eager call with a new signature builds a concrete function from
    the same conversion tf.function uses (symbolic dimensions as None, so
    one graph serves every size, and the symbolic-shape code is the one
    that runs in graphs); later calls just run it. Variables passed as
    arguments are read outside (the tape sees the read), the constant
    variables are captured, and the custom gradient inside the graph
    makes the call differentiable by an eager GradientTape.
    """
    entry = self._eager.get(sig.key)
    if entry is None:
      with self._eager_lock:
        entry = self._eager.get(sig.key)
        if entry is None:
          with _gc_paused():
            traced = self._trace(sig)
            graph = tf.function(lambda *xs: self.run(traced, list(xs)),
                                autograph=False,
                                input_signature=sig.tensor_specs())
            entry = (traced, graph.get_concrete_function())
          self._eager[sig.key] = entry
    traced, concrete = entry
    try:
      outs = concrete(*sig.tensors)
    except tf.errors.InvalidArgumentError as e:
      if shapes.is_spec_violation(e.message):
        raise InputSpecError(_assert_text(e.message)) from e
      raise
    return traced, list(outs) if outs is not None else []

  def _trace(self, sig: tracing.Signature) -> Traced:
    """The trace for `sig`; a failure of the JAX function itself (it may
    not accept these arguments) gets a note listing the arguments it was
    traced with, by pytree path."""
    try:
      return self.traces.get(sig)
    except (InputSpecError, UnsupportedPrimitiveError):
      raise
    except Exception as e:  # pylint: disable=broad-except
      name = getattr(self.fun, "__name__", "the function")
      args = ", ".join(
          f"{p}: {t.dtype.name}[{', '.join(str(d) for d in s)}]"
          for p, t, s in zip(sig.paths, sig.tensors, sig.sym_shapes))
      e.add_note(f"jax2tf_impl: tracing {name} failed for the arguments "
                 f"{args or '(none)'}")
      raise

  def state(self, traced: Traced, tensors: Sequence[tf.Tensor]
            ) -> ConversionState:
    """The rules' state for one call: dimension values solved from `tensors`."""
    dim_env = shapes.solve_dim_env(traced.in_avals, tensors,
                                   traced.args_kwargs_tree, traced.paths)
    return ConversionState(enable_xla=self.enable_xla, dim_env=dim_env,
                           interpret=interpreter.interpret,
                           constants=self.constants,
                           allow_python_callbacks=self.allow_python_callbacks)

  def run(self, traced: Traced, tensors: list[tf.Tensor]) -> list[Any]:
    """The TF outputs of `traced` on `tensors` (flat), in the current context.

    Inputs and outputs are named as jax2tf names them (`jax2tf_arg_N`,
    `jax2tf_out`, `jax2tf_out_1`, ...) so tools written for jax2tf graphs
    find them.
    """
    tensors = [tf.identity(t, name=f"jax2tf_arg_{i}")
               for i, t in enumerate(tensors)]
    if self.with_gradient:
      outs = gradients.call_with_jax_gradient(traced, tensors, self.state)
    else:
      outs = interpreter.interpret(traced.closed_jaxpr, list(tensors),
                                   self.state(traced, tensors))
      outs = [gradients.prevent_gradient(o) for o in outs]
    return [tf.identity(o, name="jax2tf_out") if isinstance(o, tf.Tensor)
            else o for o in outs]
