"""The one door to JAX's private modules (`jax._src...`) and private attributes.

Every other module of jax2tf_impl uses JAX's public API only (`jax`, `jax.lax`,
`jax.extend`, `jax.export`, ...). What the converter needs beyond it (primitive
objects that JAX does not export, its symbolic-dimension internals, source
information, the PRNG implementations) is imported here and given a name that
says what it is, so that a JAX upgrade touches this file alone.
`tests/test_layering.py` fails if another module imports `jax._src`.
"""
from __future__ import annotations

# --- h_callbacks: debug printing, Python callbacks and call_tf --------------
# The callback primitives are defined in jax._src.debugging / jax._src.callback
# and not exported. Their impl functions are what JAX itself runs on the host
# for a staged-out callback (device_put of the arguments to the CPU device,
# then the user's function, with JAX's logging on failure); running them from
# tf.numpy_function gives the callback exactly the values JAX would give it.
from jax._src import callback as _jax_callback  # noqa: E402
from jax._src import debugging as _jax_debugging  # noqa: E402

debug_print_p = _jax_debugging.debug_print_p
debug_callback_p = _jax_debugging.debug_callback_p
debug_callback_impl = _jax_debugging.debug_callback_impl
pure_callback_p = _jax_callback.pure_callback_p
pure_callback_impl = _jax_callback.pure_callback_impl
io_callback_p = _jax_callback.io_callback_p
io_callback_impl = _jax_callback.io_callback_impl


def call_tf_primitive():
  """`call_tf_p` (jax.experimental.jax2tf.call_tf's primitive; public module
  but not a documented name). Imported on first use: jax2tf is a large
  module that conversions without call_tf do not need."""
  import importlib  # pylint: disable=g-import-not-at-top
  return importlib.import_module("jax.experimental.jax2tf.call_tf").call_tf_p
