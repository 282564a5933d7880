"""The JAX side of a conversion: input signatures, `Traced`, the trace cache.

A converted function is traced by JAX once per input signature (pytree
structure, polymorphic specs, static shapes, dtypes, weak types, x64), not
once per call: `TraceCache` maps a `Signature.key` to its `Traced`, and
symbolic dimensions do not take part in the key, so one trace serves every
size. This module knows nothing of TF graphs beyond turning argument leaves
into tensors; the interpreter and gradients take a `Traced` as input.
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
from jax2tf_impl import interpreter
from jax2tf_impl import prng_keys
from jax2tf_impl import state_discharge
from jax2tf_impl import shapes
from jax2tf_impl.errors import InputSpecError


class Lazy:
  """A value computed on first use, once (thread-safe).

  Lets a frozen `Traced` carry derived artefacts (the VJP jaxpr) that only
  some callers need, without mutating it: the holder is set at construction
  and fills itself.
  """

  def __init__(self) -> None:
    self._lock = threading.Lock()
    self._value: Any = None
    self._filled = False

  def get(self, make: Callable[[], Any]) -> Any:
    """The value; `make()` computes it on the first call."""
    if self._filled:
      return self._value
    with self._lock:
      if not self._filled:
        self._value = make()
        self._filled = True
    return self._value


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
  # The VJP jaxpr of `flat_fun`, traced by gradients.py on first use.
  vjp: Lazy = dataclasses.field(default_factory=Lazy, compare=False,
                                repr=False)


@dataclasses.dataclass(frozen=True)
class Signature:
  """One call's flat arguments as TF tensors, and what identifies its trace."""
  tensors: list
  weak: list
  paths: tuple
  in_tree: Any
  specs: list
  sym_shapes: list  # per leaf: ints and JAX symbolic dimensions
  key: tuple

  def tensor_specs(self) -> list[tf.TensorSpec]:
    """The input signature of a graph serving every call with this key:
    symbolic dimensions are None, static ones are ints."""
    return [tf.TensorSpec([None if shapes.is_symbolic(d) else d for d in s],
                          t.dtype)
            for s, t in zip(self.sym_shapes, self.tensors)]


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
  if np_dtype.kind in "SUO":  # (ml_dtypes such as bfloat16 are kind "V")
    raise InputSpecError(
        f"argument {path}: dtype {getattr(tensor, 'dtype', np_dtype)!r} "
        f"is not supported; expected a numeric or bool array (JAX has no "
        f"string or object arrays)")
  canonical = dt.canonicalize(np_dtype)
  if canonical != np_dtype:
    tensor = tf.cast(tensor, dt.to_tf_dtype(canonical))
  return tensor, weak


def signature_of(args: tuple, polymorphic_shapes: Any,
                 constraints: Sequence[str]) -> Signature:
  """Flattens `args` to tensors and computes the key of their trace."""
  args = _plain_containers(args)
  with_paths, in_tree = tree_util.tree_flatten_with_path(args)
  paths = tuple("args" + tree_util.keystr(p) for p, _ in with_paths)
  tensors, weak = [], []
  for (_, leaf), path in zip(with_paths, paths):
    t, w = _leaf_to_tensor(leaf, path)
    tensors.append(t)
    weak.append(w)
  specs = shapes.parse_specs(polymorphic_shapes, args, list(paths), in_tree)
  static_shapes = [tuple(t.shape.as_list()) if t.shape.rank is not None
                   else None for t in tensors]
  for s, path in zip(static_shapes, paths):
    if s is None:
      raise InputSpecError(f"argument {path} has unknown rank; converted "
                           "functions need tensors of known rank")
  sym_shapes = shapes.symbolic_avals_shapes(specs, static_shapes, list(paths),
                                            constraints)
  # Dimensions that are symbolic do not take part in the cache key: one
  # trace serves every size (eagerly as well as under tf.function).
  key_shapes = tuple(tuple(None if shapes.is_symbolic(d) else d for d in s)
                     for s in sym_shapes)
  key = (in_tree, tuple(specs), key_shapes,
         tuple(t.dtype for t in tensors), tuple(weak), dt.x64_enabled())
  return Signature(tensors, weak, paths, in_tree, specs, sym_shapes, key)


class TraceCache:
  """The traces of one JAX function, one per input signature."""

  def __init__(self, fun: Callable[..., Any]):
    self.fun = fun
    self._cache: dict[Any, Traced] = {}
    self._lock = threading.Lock()
    self.trace_count = 0

  def get(self, sig: Signature) -> Traced:
    """The trace for `sig`, tracing the JAX function on a cache miss."""
    with self._lock:
      traced = self._cache.get(sig.key)
      if traced is None:
        traced = self._trace(sig)
        self._cache[sig.key] = traced
    return traced

  def _trace(self, sig: Signature) -> Traced:
    self.trace_count += 1
    sds = [jax.ShapeDtypeStruct(s, dt.to_np_dtype(t.dtype), weak_type=w)
           for s, t, w in zip(sig.sym_shapes, sig.tensors, sig.weak)]
    out_tree_box: list[Any] = []
    fun, in_tree = self.fun, sig.in_tree

    def flat_fun(*flat_args: Any) -> list[Any]:
      args = tree_util.tree_unflatten(in_tree, flat_args)
      out = fun(*args)
      leaves, tree = tree_util.tree_flatten(out)
      out_tree_box.append(tree)
      return leaves

    closed = prng_keys.physicalize(
        state_discharge.discharge(jax.make_jaxpr(flat_fun)(*sds)))
    interpreter.check_supported(closed)
    in_avals = tuple(v.aval for v in closed.jaxpr.invars)
    out_avals = tuple(closed.out_avals)
    return Traced(closed, in_avals, out_avals, out_tree_box[-1], in_tree,
                  sig.paths, flat_fun)
