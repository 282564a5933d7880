"""The one door to JAX's private modules (`jax._src...`) and private attributes.

Every other module of jax2tf_impl uses JAX's public API only (`jax`, `jax.lax`,
`jax.extend`, `jax.export`, ...). What the converter needs beyond it (primitive
objects that JAX does not export, its symbolic-dimension internals, source
information, the PRNG implementations) is imported here and given a name that
says what it is, so that a JAX upgrade touches this file alone.
`tests/test_layering.py` fails if another module imports `jax._src`.
"""
from __future__ import annotations


# --- h_linalg: Householder reductions --------------------------------------
from jax._src.lax import linalg as _lax_linalg  # noqa: E402

# QR with column pivoting (LAPACK geqp3): what jax.scipy.linalg.qr(...,
# pivoting=True) lowers to. jax.lax.linalg exports the other linalg
# primitives, not this one.
geqp3_p = _lax_linalg.geqp3_p
