"""Arrays closed over by the JAX function: small ones inline, large ones as variables.

Weights captured by the JAX function (not passed as arguments) appear as
jaxpr constants. Embedding them as tf.constant would put every byte into the
GraphDef (and into saved_model.pb, which cannot exceed 2 GB), once per traced
signature and once more in the gradient graph. Arrays of at least
`VARIABLE_THRESHOLD_BYTES` become non-trainable tf.Variables instead, created
once per distinct array (by content) and shared by every signature and the
gradient; a SavedModel stores them in variables/.
"""
from __future__ import annotations

import hashlib
import weakref
from typing import Any

import numpy as np
import tensorflow as tf

from jax2tf_impl import dtypes as dt

# Below this size an array is cheaper inline than as a variable read (and a
# GraphDef of many small constants stays far from protobuf's 2 GB limit).
VARIABLE_THRESHOLD_BYTES = 4096

# Every live ConstantStore, so that saved_model.save can find the stores whose
# variables a module's functions capture (weak: stores die with their function).
_LIVE_STORES: "weakref.WeakSet[ConstantStore]" = weakref.WeakSet()


def live_stores() -> list["ConstantStore"]:
  """The constant stores of the converted functions still alive."""
  return list(_LIVE_STORES)


def _content_key(arr: np.ndarray) -> tuple:
  digest = hashlib.blake2b(np.ascontiguousarray(arr).view(np.uint8).data,
                           digest_size=16).hexdigest()
  return (arr.shape, arr.dtype.str, digest)


class _Index:
  """Lookup tables from array identity / content to variable."""

  def __init__(self) -> None:
    self.by_key: dict[tuple, tf.Variable] = {}
    self.by_id: dict[int, tuple[Any, tf.Variable]] = {}


class ConstantStore(tf.Module):
  """The tf.Variables holding one converted function's large constants."""

  def __init__(self, threshold_bytes: int = VARIABLE_THRESHOLD_BYTES):
    super().__init__(name="jax2tf_impl_constants")
    self._threshold = threshold_bytes
    self.constant_variables: list[tf.Variable] = []
    self._index = _Index()  # a plain object: TF must not track its dicts
    _LIVE_STORES.add(self)

  def tensor(self, value: Any, aval: Any) -> Any:
    """A TF value for the constant `value` of abstract value `aval`."""
    np_dtype = dt.to_np_dtype(aval.dtype)
    if np.dtype(aval.dtype) == dt.FLOAT0:
      return tf.zeros(aval.shape, tf.bool)
    hit = self._index.by_id.get(id(value))
    if hit is not None and hit[0] is value:
      return hit[1]
    arr = np.asarray(value, dtype=np_dtype)
    if arr.nbytes < self._threshold:
      return tf.constant(arr)
    key = _content_key(arr)
    var = self._index.by_key.get(key)
    if var is None:
      with tf.init_scope():  # create outside any tf.function being traced
        # The name shows up in TF's "untracked resource" error on save.
        var = tf.Variable(
            arr, trainable=False,
            name=(f"jax2tf_impl_constant_{len(self.constant_variables)}"
                  "--save_with_jax2tf_impl.saved_model.save"
                  "--or_assign_the_converted_function_to_the_module"))
      self._index.by_key[key] = var
      self.constant_variables.append(var)
    self._index.by_id[id(value)] = (value, var)
    return var
