"""The one door to JAX's private modules (`jax._src...`) and private attributes.

Every other module of jax2tf_impl uses JAX's public API only (`jax`, `jax.lax`,
`jax.extend`, `jax.export`, ...). What the converter needs beyond it (primitive
objects that JAX does not export, its symbolic-dimension internals, source
information, the PRNG implementations) is imported here and given a name that
says what it is, so that a JAX upgrade touches this file alone.
`tests/test_layering.py` fails if another module imports `jax._src`.
"""
from __future__ import annotations
