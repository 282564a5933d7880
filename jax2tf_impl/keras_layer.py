"""`JaxLayer`: a Keras layer (Keras 3 with the TensorFlow backend, or
tf-keras) running a converted JAX apply function on its own weights, so
`model.fit` trains JAX params in TF with the JAX gradient.

    layer = jax2tf_impl.JaxLayer(apply, params)    # apply(params, x)
    model = keras.Sequential([keras.Input((28, 28, 1)), layer])
    model.compile("adam", "sparse_categorical_crossentropy"); model.fit(...)

Each array leaf of `params` becomes a Keras weight (trainable per
`trainable`, as in `jax2tf_impl.Module`); the call converts `apply` with a
batch-polymorphic input ("(b, ...)" unless `polymorphic_shapes` says
otherwise), so the gradient is the converted `jax.vjp`.

Saving: `model.save("m.keras")` stores the weights and a config naming the
apply function by its import path (`module:qualname`); loading imports it
again (JAX is needed), so the apply function must be importable (a
top-level function, or give `apply_path`) and the params a tree of dicts,
lists and tuples (other pytrees: use the SavedModel, or rebuild the layer in
code and `load_weights`). `model.export(dir)` (or `tf.saved_model.save`)
writes a SavedModel that runs without JAX.

Which Keras: the one `tf.keras` routes to, so the layer fits the models the
user builds with `tf.keras`: Keras 3 by default, tf-keras (the `tf_keras`
package) when TF_USE_LEGACY_KERAS=1. The choice is made once, at the first
use of `jax2tf_impl.JaxLayer` (Keras itself cannot switch in a process).
"""
from __future__ import annotations

import importlib
import types
from typing import Any, Callable

import numpy as np
import tensorflow as tf
from jax import tree_util

from jax2tf_impl import tracing
from jax2tf_impl.api import convert
from jax2tf_impl.module import trainable_mask


def _keras_package() -> types.ModuleType:
  """The top-level package behind `tf.keras` (`keras` or `tf_keras`).

  TensorFlow's routing (TF_USE_LEGACY_KERAS) is asked rather than copied;
  the package itself, not `tf.keras`, is returned because Keras 3's
  `tf.keras` view lacks `keras.saving`.
  """
  root = tf.keras.layers.Layer.__module__.split(".")[0]
  return importlib.import_module(root)


keras = _keras_package()


def _import_path(fn: Callable[..., Any]) -> str | None:
  module = getattr(fn, "__module__", None)
  qualname = getattr(fn, "__qualname__", "")
  if not module or "<" in qualname:
    return None
  return f"{module}:{qualname}"


def _resolve(path: str) -> Callable[..., Any]:
  module, _, qualname = path.partition(":")
  obj: Any = importlib.import_module(module)
  for part in qualname.split("."):
    obj = getattr(obj, part)
  return obj


def _tree_spec(tree: Any) -> Any:
  """A JSON-able description of a tree of dicts/lists/tuples of arrays."""
  if isinstance(tree, dict):
    return {"dict": {str(k): _tree_spec(v) for k, v in tree.items()}}
  if isinstance(tree, (list, tuple)):
    return {"list" if isinstance(tree, list) else "tuple":
            [_tree_spec(v) for v in tree]}
  arr = np.asarray(tree)
  return {"shape": list(arr.shape), "dtype": str(arr.dtype)}


def _tree_from_spec(spec: Any) -> Any:
  if "dict" in spec:
    return {k: _tree_from_spec(v) for k, v in spec["dict"].items()}
  if "list" in spec:
    return [_tree_from_spec(v) for v in spec["list"]]
  if "tuple" in spec:
    return tuple(_tree_from_spec(v) for v in spec["tuple"])
  return np.zeros(spec["shape"], spec["dtype"])


# Keras runs `call` through AutoGraph inside fit/predict's tf.function (and
# tf-keras reads `call`'s signature, so `call` itself stays undecorated). The
# converted function has no Python control flow on tensors: AutoGraph would
# only walk JAX's tracing machinery, slowly and with warnings.
@tf.autograph.experimental.do_not_convert
def _forward(layer: "JaxLayer", inputs: Any) -> Any:
  return layer._converted(layer._params(), inputs)  # pylint: disable=protected-access


@keras.saving.register_keras_serializable(package="jax2tf_impl")
class JaxLayer(keras.layers.Layer):
  """A Keras layer computing `apply(params, inputs)` (a JAX function)."""

  def __init__(self, apply: Callable[..., Any] | str, params: Any, *,
               trainable_params: Any = True,
               polymorphic_shapes: Any = "(b, ...)",
               enable_xla: bool = True,
               apply_path: str | None = None, **kwargs: Any):
    """Args:
      apply: `apply(params, inputs)`, or its import path "module:qualname".
      params: the JAX params pytree (initial values of the weights).
      trainable_params: which leaves are trainable (a bool, a predicate
        `(path, leaf)`, or a pytree of bools; see jax2tf_impl.Module).
      polymorphic_shapes: the inputs' spec; "(b, ...)" keeps the batch free.
      enable_xla: False for a portable graph (TFLite, TF.js, ONNX).
      apply_path: the import path saved in the config (default: apply's).
    """
    super().__init__(**kwargs)
    if isinstance(apply, str):
      apply_path, apply = apply, _resolve(apply)
    self._apply = apply
    self._apply_path = apply_path or _import_path(apply)
    self._polymorphic_shapes = polymorphic_shapes
    self._enable_xla = enable_xla
    self._trainable_params = trainable_params
    with_paths, self._treedef = tree_util.tree_flatten_with_path(params)
    leaves = [leaf for _, leaf in with_paths]
    mask = trainable_mask(params, trainable_params)
    self._is_weight = [tracing.is_array_leaf(leaf)
                       and not tracing.is_python_scalar(leaf) for leaf in leaves]
    self._static = [(i, leaf) for i, leaf in enumerate(leaves)
                    if not self._is_weight[i]]
    self._params_spec = None
    try:
      self._params_spec = _tree_spec(params)
    except Exception:  # pylint: disable=broad-except
      pass  # not a tree of dicts/lists/tuples of arrays: no .keras config
    self._jax_weights = []
    for (path, leaf), w, train in zip(with_paths, self._is_weight, mask):
      if not w:
        continue
      value = np.asarray(leaf)
      name = "/".join(str(getattr(k, "key", getattr(k, "idx", getattr(
          k, "name", k)))) for k in path) or "param"
      self._jax_weights.append(self.add_weight(
          name=name.replace("/", "_"), shape=value.shape, dtype=str(value.dtype),
          initializer=keras.initializers.Constant(value), trainable=train))
    self._converted = convert(
        lambda p, x: apply(p, x),
        polymorphic_shapes=[None, polymorphic_shapes],
        enable_xla=enable_xla)

  def _params(self) -> Any:
    # tf-keras weights are tf.Variables (`.value` is a method there);
    # Keras 3's wrap one (`.value` is a property giving it).
    values = [tf.convert_to_tensor(w if isinstance(w, tf.Variable) else w.value)
              for w in self._jax_weights]
    return tree_util.tree_unflatten(
        self._treedef, tracing.merge_leaves(values, self._static))

  def call(self, inputs: Any) -> Any:
    return _forward(self, inputs)

  def get_config(self) -> dict[str, Any]:
    config = super().get_config()
    if self._apply_path is None or self._params_spec is None:
      raise NotImplementedError(
          "JaxLayer.get_config needs an importable apply function (give "
          "apply_path='module:function') and params that are dicts, lists "
          "and tuples of arrays; save a SavedModel (model.export) instead")
    if callable(self._trainable_params):
      raise NotImplementedError(
          "JaxLayer.get_config: trainable_params must be a bool or a pytree "
          "of bools (not a predicate) to be saved in a .keras config")
    config.update(apply=self._apply_path, params=self._params_spec,
                  trainable_params=self._trainable_params,
                  polymorphic_shapes=self._polymorphic_shapes,
                  enable_xla=self._enable_xla)
    return config

  @classmethod
  def from_config(cls, config: dict[str, Any]) -> "JaxLayer":
    config = dict(config)
    params = _tree_from_spec(config.pop("params"))
    return cls(config.pop("apply"), params, **config)
