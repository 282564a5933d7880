"""convert(): the public entry point.

Flattens the TF arguments, builds (possibly symbolic) avals, traces the JAX
function once per input signature to a ClosedJaxpr, and interprets it with
the rules table. Results are restored to the JAX function's output pytree.
"""
from __future__ import annotations

import collections.abc
import dataclasses
import threading
from typing import Any, Callable, Sequence

import jax
import numpy as np
import tensorflow as tf
from jax import tree_util

from jax2tf_impl import dtypes as dt
from jax2tf_impl.constants import ConstantStore
from jax2tf_impl import gradients
from jax2tf_impl import interpreter
from jax2tf_impl import shapes
from jax2tf_impl.errors import InputSpecError
from jax2tf_impl import prng_keys
from jax2tf_impl.rules.context import ConversionState


@dataclasses.dataclass(frozen=True)
class Traced:
  """The JAX side of one input signature: jaxpr, avals and output tree."""
  closed_jaxpr: Any
  in_avals: tuple
  out_avals: tuple
  out_tree: Any
  in_tree: Any
  paths: tuple
  flat_fun: Callable[..., Any]


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
  if native_serialization:
    from jax.experimental import jax2tf  # pylint: disable=g-import-not-at-top
    return jax2tf.convert(fun, polymorphic_shapes=polymorphic_shapes,
                          with_gradient=with_gradient,
                          native_serialization=True)
  converter = _Converter(fun, polymorphic_shapes, tuple(polymorphic_constraints),
                         with_gradient, enable_xla)
  converter.allow_python_callbacks = allow_python_callbacks
  return ConvertedFunction(converter)


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

  def __call__(self, *args: Any, **kwargs: Any) -> Any:
    if kwargs:
      raise TypeError(
          "functions returned by jax2tf_impl.convert take positional "
          f"arguments only; got keyword arguments {sorted(kwargs)}")
    return self._converter(args)


def _plain_containers(tree: Any) -> Any:
  """Replaces TF's trackable wrappers (tf.Module attributes) by dict/list/tuple.

  tf.Module wraps dicts and lists assigned to it in `_DictWrapper` /
  `ListWrapper`, which JAX's pytree utilities do not know; users pass them
  as parameters all the time.
  """
  if isinstance(tree, (tf.Tensor, tf.Variable, np.ndarray)):
    return tree
  module = type(tree).__module__ or ""
  if module.startswith("tensorflow"):
    if isinstance(tree, collections.abc.Mapping):
      return {k: _plain_containers(v) for k, v in tree.items()}
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
      return type(tree)(*(_plain_containers(v) for v in tree))
    if isinstance(tree, collections.abc.Sequence):
      return [_plain_containers(v) for v in tree]
    return tree
  if type(tree) in (dict, list, tuple):
    items = (tree.items() if isinstance(tree, dict) else enumerate(tree))
    if isinstance(tree, dict):
      return {k: _plain_containers(v) for k, v in items}
    return type(tree)(_plain_containers(v) for _, v in items)
  return tree


def _leaf_to_tensor(leaf: Any, path: str) -> tuple[tf.Tensor, bool]:
  """A leaf as a TF tensor of the dtype JAX would give it, plus weak_type."""
  weak = False
  if isinstance(leaf, (tf.Tensor, tf.Variable)):
    tensor = tf.convert_to_tensor(leaf)
    np_dtype = dt.to_np_dtype(tensor.dtype)
  elif isinstance(leaf, (bool, int, float, complex)) and not isinstance(
      leaf, np.generic):
    weak = True
    np_dtype = dt.canonicalize(np.result_type(type(leaf)))
    tensor = tf.constant(np.asarray(leaf, dtype=np_dtype))
  else:
    try:
      arr = np.asarray(leaf)
    except Exception as e:
      raise TypeError(
          f"argument {path}: cannot convert {type(leaf).__name__} to a tensor"
      ) from e
    if arr.dtype == object:
      raise TypeError(f"argument {path}: unsupported leaf of type "
                      f"{type(leaf).__name__}")
    np_dtype = arr.dtype
    tensor = tf.constant(arr)
  canonical = dt.canonicalize(np_dtype)
  if canonical != np_dtype:
    tensor = tf.cast(tensor, dt.to_tf_dtype(canonical))
  return tensor, weak


class _Converter:
  """Holds the trace cache of one converted function."""

  def __init__(self, fun: Callable[..., Any], polymorphic_shapes: Any,
               constraints: tuple, with_gradient: bool, enable_xla: bool):
    self.fun = fun
    self.polymorphic_shapes = polymorphic_shapes
    self.constraints = constraints
    self.with_gradient = with_gradient
    self.enable_xla = enable_xla
    self._cache: dict[Any, Traced] = {}
    self.constants = ConstantStore()
    self._lock = threading.Lock()
    self.trace_count = 0

  def __call__(self, args: tuple) -> Any:
    args = _plain_containers(args)
    with_paths, in_tree = tree_util.tree_flatten_with_path(args)
    paths = tuple("args" + tree_util.keystr(p) for p, _ in with_paths)
    tensors, weak = [], []
    for (_, leaf), path in zip(with_paths, paths):
      t, w = _leaf_to_tensor(leaf, path)
      tensors.append(t)
      weak.append(w)
    specs = shapes.parse_specs(self.polymorphic_shapes, args, list(paths),
                               in_tree)
    static_shapes = [tuple(t.shape.as_list()) if t.shape.rank is not None
                     else None for t in tensors]
    for s, path in zip(static_shapes, paths):
      if s is None:
        raise InputSpecError(f"argument {path} has unknown rank; converted "
                             "functions need tensors of known rank")
    sym_shapes = shapes.symbolic_avals_shapes(specs, static_shapes, list(paths),
                                              self.constraints)
    # Dimensions that are symbolic do not take part in the cache key: one
    # trace serves every size (eagerly as well as under tf.function).
    key_shapes = tuple(tuple(None if shapes.is_symbolic(d) else d for d in s)
                       for s in sym_shapes)
    key = (in_tree, tuple(specs), key_shapes,
           tuple(t.dtype for t in tensors), tuple(weak), dt.x64_enabled())
    with self._lock:
      traced = self._cache.get(key)
      if traced is None:
        traced = self._trace(in_tree, paths, sym_shapes, tensors, weak)
        self._cache[key] = traced
    outs = self._run(traced, tensors)
    return tree_util.tree_unflatten(traced.out_tree, outs)

  def _trace(self, in_tree: Any, paths: tuple, sym_shapes: list,
             tensors: list, weak: list) -> Traced:
    self.trace_count += 1
    sds = [jax.ShapeDtypeStruct(s, dt.to_np_dtype(t.dtype), weak_type=w)
           for s, t, w in zip(sym_shapes, tensors, weak)]
    out_tree_box: list[Any] = []
    fun = self.fun

    def flat_fun(*flat_args: Any) -> list[Any]:
      args = tree_util.tree_unflatten(in_tree, flat_args)
      out = fun(*args)
      leaves, tree = tree_util.tree_flatten(out)
      out_tree_box.append(tree)
      return leaves

    closed = prng_keys.physicalize(jax.make_jaxpr(flat_fun)(*sds))
    interpreter.check_supported(closed)
    in_avals = tuple(v.aval for v in closed.jaxpr.invars)
    out_avals = tuple(closed.out_avals)
    return Traced(closed, in_avals, out_avals, out_tree_box[-1], in_tree,
                  paths, flat_fun)

  def _state(self, traced: Traced, tensors: Sequence[tf.Tensor]
             ) -> ConversionState:
    args_kwargs_tree = tree_util.tree_structure(
        (tree_util.tree_unflatten(traced.in_tree, [0] * len(tensors)), {}))
    dim_env = shapes.solve_dim_env(traced.in_avals, tensors, args_kwargs_tree,
                                   traced.paths)
    return ConversionState(enable_xla=self.enable_xla, dim_env=dim_env,
                           interpret=interpreter.interpret,
                           constants=self.constants,
                           allow_python_callbacks=getattr(
                               self, "allow_python_callbacks", True))

  def _run(self, traced: Traced, tensors: list[tf.Tensor]) -> list[Any]:
    if self.with_gradient:
      return gradients.call_with_jax_gradient(self, traced, tensors)
    outs = self._forward(traced, tensors)
    return [gradients.prevent_gradient(o, traced) for o in outs]

  def _forward(self, traced: Traced, tensors: Sequence[tf.Tensor]) -> list[Any]:
    state = self._state(traced, tensors)
    return interpreter.interpret(traced.closed_jaxpr, list(tensors), state)
