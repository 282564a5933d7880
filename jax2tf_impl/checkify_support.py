"""checkify errors on the TF side.

`convert(checkify.checkify(f))` needs no special rule: checkify is a JAX
transformation, so the traced jaxpr already computes the error's arrays
(predicates, codes, payloads) with ordinary primitives, and the converted
function returns a `checkify.Error` whose leaves are TF tensors. Its static
part (messages, tracebacks, error types) is the pytree structure, JAX's own.

JAX's `Error.get()` / `throw()` expect array leaves with NumPy semantics
(`np.shape`, indexing, formatting); TF tensors format differently and
`np.shape` of an EagerTensor is not a tuple, so the messages would differ.
`checkify_error` gives back a JAX `checkify.Error` with NumPy leaves, whose
`get()` text and `throw()` are exactly JAX's. Converted functions called
eagerly apply it to every Error in their result. Under `tf.function`
(whose results must be tensors) return `leaves, treedef =
jax.tree_util.tree_flatten(err)`'s leaves, keep `treedef` (a Python value of
that trace: checkify numbers its errors per trace, so take the structure
from the same trace, not from another tracing of the function), and rebuild
with `checkify_error(leaves, treedef=treedef)`.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from jax import tree_util
from jax.experimental import checkify


def _is_error(x: Any) -> bool:
  return isinstance(x, checkify.Error)


def _to_numpy(x: Any) -> Any:
  return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def checkify_error(err: Any, treedef: Any = None) -> checkify.Error:
  """A `checkify.Error` with NumPy leaves, from a converted function's error
  (an Error with TF leaves) or, with `treedef` (the structure of that
  error, from the same trace), from its flat list of leaves."""
  if treedef is None:
    if not _is_error(err):
      raise TypeError(f"expected a checkify.Error, got {type(err)}")
    leaves, treedef = tree_util.tree_flatten(err)
  else:
    leaves = list(err)
  return tree_util.tree_unflatten(treedef, [_to_numpy(l) for l in leaves])


def has_errors(tree: Any) -> bool:
  """Whether the pytree `tree` holds a checkify.Error."""
  return any(_is_error(x) for x in tree_util.tree_leaves(
      tree, is_leaf=_is_error))


def errors_to_numpy(tree: Any) -> Any:
  """`tree` with each checkify.Error replaced by `checkify_error(err)`."""
  return tree_util.tree_map(lambda x: checkify_error(x) if _is_error(x) else x,
                            tree, is_leaf=_is_error)

