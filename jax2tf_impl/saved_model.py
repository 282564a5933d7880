"""SavedModel export helpers.

`save(module, path)` is `tf.saved_model.save` plus one thing users otherwise
trip over: the tf.Variables that hold large arrays closed over by converted
JAX functions (see constants.py) must be tracked by the saved object. `save`
finds every such variable captured by the module's tf.functions and attaches
its store to the module, so the weights land once in variables/.
"""
from __future__ import annotations

from typing import Any

import tensorflow as tf

from jax2tf_impl import constants
from jax2tf_impl import tf_internals


def _captured_handle_ids(module: tf.Module) -> set[int]:
  ids: set[int] = set()
  for obj in _functions_of(module):
    for cf in tf_internals.concrete_functions_of(obj):
      for t in cf.captured_inputs:
        ids.add(id(t))
  return ids


def _functions_of(module: tf.Module) -> list[Any]:
  out, seen, stack = [], set(), [module]
  while stack:
    obj = stack.pop()
    if id(obj) in seen:
      continue
    seen.add(id(obj))
    if tf_internals.has_concrete_functions(obj):
      out.append(obj)
    if tf_internals.is_trackable(obj):
      stack.extend(v for v in vars(obj).values() if not isinstance(v, type))
    elif isinstance(obj, (list, tuple)):
      stack.extend(obj)
    elif isinstance(obj, dict):
      stack.extend(obj.values())
  return out


def attach_constants(module: tf.Module) -> int:
  """Makes `module` track the constant variables its functions capture.

  Returns the number of constant stores attached.
  """
  captured = _captured_handle_ids(module)
  attached = getattr(module, "_jax2tf_impl_constants", None)
  stores = list(attached) if attached is not None else []
  for store in constants.live_stores():
    if store in stores:
      continue
    if any(id(v.handle) in captured for v in store.constant_variables):
      stores.append(store)
  if stores:
    module._jax2tf_impl_constants = stores  # pylint: disable=protected-access
  return len(stores)


def save(module: tf.Module, path: str, signatures: Any = None,
         options: tf.saved_model.SaveOptions | None = None) -> None:
  """`tf.saved_model.save` that also stores converted functions' constants.

  Custom gradients are saved too (the converted JAX VJP), unless `options`
  says otherwise.
  """
  attach_constants(module)
  if options is None:
    options = tf.saved_model.SaveOptions(experimental_custom_gradients=True)
  tf.saved_model.save(module, path, signatures=signatures, options=options)
