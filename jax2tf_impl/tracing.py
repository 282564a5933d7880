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
  # Result leaves that are not arrays (functions, strings, ...: static
  # fields of library models), as (position in the result leaves, value).
  out_static: tuple = ()
  # Per flat input: a Python scalar, i.e. a constant on the TF side that no
  # TF gradient can reach; the VJP does not differentiate with respect to
  # it (as eqx.filter_grad closes over non-arrays), which also lets e.g.
  # eqx.nn.MaxPool2d's float `init` (reduce_window's init_value) through.
  constant_inputs: tuple = ()

  @property
  def args_kwargs_tree(self) -> Any:
    """The tree of `(args, kwargs)` over the flat dynamic inputs, as JAX's
    shape solver wants it (for its messages)."""
    return tree_util.tree_structure(
        (tree_util.tree_unflatten(self.in_tree, [0] * self.in_tree.num_leaves),
         {}))

  def unflatten_outputs(self, outs: Sequence[Any]) -> Any:
    """The function's result pytree from the flat TF outputs, with the
    static (non-array) result leaves put back where they were."""
    return tree_util.tree_unflatten(self.out_tree,
                                    merge_leaves(list(outs), self.out_static))


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
  # The tree of (args, kwargs) over every leaf, static ones included, and
  # the static leaves as (position among all leaves, value).
  full_tree: Any = None
  static: tuple = ()

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


def is_array_leaf(leaf: Any) -> bool:
  """Whether a pytree leaf is data (becomes a TF value) rather than static.

  Arrays of every kind (TF tensors and variables, numpy arrays and scalars,
  jax.Arrays, anything with `__array__`) and Python scalars are data. Any
  other leaf -- a function, a string, an enum, an object -- is static: it
  is part of the trace key and is passed to the JAX function as it is,
  the rule `eqx.partition(tree, eqx.is_array_like)` applies. That is what
  lets library models (an `eqx.Module` holding its activation function, a
  Flax `nnx` state with its graph definition beside it) be arguments and
  results as they are.
  """
  if isinstance(leaf, (tf.Tensor, tf.Variable, np.ndarray, np.generic,
                       bool, int, float, complex, jax.Array)):
    return True
  if isinstance(leaf, (str, bytes)) or callable(leaf):
    return False
  return hasattr(leaf, "__array__") or hasattr(leaf, "__jax_array__")


def is_python_scalar(leaf: Any) -> bool:
  """A Python bool/int/float/complex (weakly typed in JAX), not numpy's."""
  return (isinstance(leaf, (bool, int, float, complex))
          and not isinstance(leaf, np.generic))


class _ByIdentity:
  """A static leaf that cannot be hashed, compared by identity in trace keys
  (it keeps the object alive so that its id is not reused)."""

  def __init__(self, obj: Any):
    self.obj = obj

  def __hash__(self) -> int:
    return id(self.obj)

  def __eq__(self, other: Any) -> bool:
    return isinstance(other, _ByIdentity) and other.obj is self.obj


def _key_of_static(leaf: Any) -> Any:
  try:
    hash(leaf)
  except TypeError:
    return _ByIdentity(leaf)
  return (type(leaf), leaf)


def merge_leaves(dynamic: list[Any], static: Sequence[tuple[int, Any]]
                 ) -> list[Any]:
  """All leaves, from the dynamic ones in order and (position, value) statics."""
  leaves = list(dynamic)
  for i, value in static:
    leaves.insert(i, value)
  return leaves


def split_leaves(leaves: Sequence[Any], is_dynamic: Callable[[Any], bool]
                 ) -> tuple[list[Any], tuple[tuple[int, Any], ...]]:
  """(dynamic leaves, ((position, static leaf), ...)); merge_leaves inverts."""
  dynamic, static = [], []
  for i, leaf in enumerate(leaves):
    if is_dynamic(leaf):
      dynamic.append(leaf)
    else:
      static.append((i, leaf))
  return dynamic, tuple(static)


def _dynamic_tree(full_tree: Any, leaves: list[Any],
                  static: tuple, n_dynamic: int) -> Any:
  """The tree over the dynamic leaves only: the full tree with each static
  leaf replaced by None (as eqx.partition does), or a flat tuple where a
  pytree node does not accept None children."""
  if not static:
    return full_tree
  positions = {i for i, _ in static}
  try:
    holes = tree_util.tree_unflatten(
        full_tree, [None if i in positions else 0 for i in range(len(leaves))])
    tree = tree_util.tree_structure(holes)
    if tree.num_leaves == n_dynamic:
      return tree
  except Exception:  # pylint: disable=broad-except
    pass
  return tree_util.tree_structure((tuple([0] * n_dynamic), {}))


def signature_of(args: tuple, polymorphic_shapes: Any,
                 constraints: Sequence[str],
                 kwargs: dict[str, Any] | None = None) -> Signature:
  """Flattens `args` (and `kwargs`) to tensors and computes the key of
  their trace.

  Leaves that are not arrays (see `is_array_leaf`), and Python numbers
  that are fields of a registered pytree class (not of a dict, list or
  tuple), are static: they take part in the key and are given to the JAX
  function unchanged. Keyword
  arguments are traced with static shapes (as in jax2tf: polymorphic_shapes
  covers the positional arguments).
  """
  args = _plain_containers(tuple(args))
  kwargs = _plain_containers(dict(kwargs or {}))
  with_paths, full_tree = tree_util.tree_flatten_with_path((args, kwargs))
  all_paths = [_path_str(p) for p, _ in with_paths]
  all_leaves = [leaf for _, leaf in with_paths]
  n_args = tree_util.tree_structure(args).num_leaves
  arg_specs = shapes.parse_specs(polymorphic_shapes, args,
                                 all_paths[:n_args],
                                 tree_util.tree_structure(args))
  all_specs = list(arg_specs) + [None] * (len(all_leaves) - n_args)
  is_dynamic = [is_array_leaf(leaf) and not (
      is_python_scalar(leaf) and _in_library_object(p)) for p, leaf in with_paths]
  dyn_idx = [i for i, d in enumerate(is_dynamic) if d]
  static = tuple((i, all_leaves[i]) for i, d in enumerate(is_dynamic) if not d)
  paths = tuple(all_paths[i] for i in dyn_idx)
  specs = [all_specs[i] for i in dyn_idx]
  tensors, weak = [], []
  for i, path in zip(dyn_idx, paths):
    t, w = _leaf_to_tensor(all_leaves[i], path)
    tensors.append(t)
    weak.append(w)
  if kwargs or static:
    in_tree = _dynamic_tree(full_tree, all_leaves, static, len(tensors))
  else:
    in_tree = tree_util.tree_structure(args)
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
  key = (full_tree, tuple(specs), key_shapes,
         tuple(t.dtype for t in tensors), tuple(weak), dt.x64_enabled(),
         tuple((i, _key_of_static(v)) for i, v in static))
  return Signature(tensors, weak, paths, in_tree, specs, sym_shapes, key,
                   full_tree, static)


def _in_library_object(path: Any) -> bool:
  """Whether a leaf is a field of a registered pytree class (an eqx.Module,
  a dataclass, a namedtuple...) rather than of dicts, lists and tuples: its
  Python numbers are then configuration (eqx.nn.MaxPool2d's `init`), static
  as eqx.filter_jit treats them, not weakly typed data."""
  return any(not isinstance(k, (tree_util.SequenceKey, tree_util.DictKey))
             for k in path)


def _path_str(path: Any) -> str:
  """'args[0]['w']' for positional leaves, "kwargs['x']" for keywords."""
  head, rest = path[0], path[1:]
  prefix = "args" if getattr(head, "idx", 0) == 0 else "kwargs"
  return prefix + tree_util.keystr(tuple(rest))


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
    out_box: list[Any] = []
    fun, full_tree, static = self.fun, sig.full_tree, sig.static

    def flat_fun(*flat_args: Any) -> list[Any]:
      args, kwargs = tree_util.tree_unflatten(
          full_tree, merge_leaves(list(flat_args), static))
      out = fun(*args, **kwargs)
      leaves, tree = tree_util.tree_flatten(out)
      dynamic, out_static = split_leaves(leaves, _is_array_result)
      out_box.append((tree, out_static))
      return dynamic

    closed = prng_keys.physicalize(
        state_discharge.discharge(jax.make_jaxpr(flat_fun)(*sds)))
    interpreter.check_supported(closed)
    in_avals = tuple(v.aval for v in closed.jaxpr.invars)
    out_avals = tuple(closed.out_avals)
    out_tree, out_static = out_box[-1]
    return Traced(closed, in_avals, out_avals, out_tree, sig.in_tree,
                  sig.paths, flat_fun, out_static=out_static,
                  constant_inputs=tuple(sig.weak))


def _is_array_result(leaf: Any) -> bool:
  """Result leaves that are data: JAX values (tracers) and array-likes."""
  return isinstance(leaf, jax.core.Tracer) or is_array_leaf(leaf)
