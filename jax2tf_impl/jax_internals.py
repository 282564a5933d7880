"""The one door to JAX's private modules (`jax._src...`) and private attributes.

Every other module of jax2tf_impl uses JAX's public API only (`jax`, `jax.lax`,
`jax.extend`, `jax.export`, ...). What the converter needs beyond it (primitive
objects that JAX does not export, its symbolic-dimension internals, source
information, the PRNG implementations) is imported here and given a name that
says what it is, so that a JAX upgrade touches this file alone.
`tests/test_layering.py` fails if another module imports `jax._src`.
"""
from __future__ import annotations


# --- h_state: state primitives (Refs), checkify, shard_map and collectives ---
# Refs (`jax.new_ref`, `run_state`) are removed by JAX's own state discharge
# (what `jax.jit` does before lowering); these are the pieces it needs.
from jax._src import core as _core  # noqa: E402
from jax._src.state import discharge as _state_discharge  # noqa: E402
from jax._src.state import primitives as _state_primitives  # noqa: E402
from jax._src.state import types as _state_types  # noqa: E402

# discharge_state(closed_jaxpr) -> pure ClosedJaxpr: Ref inputs become values
# and their final values are appended to the outputs; refs created inside
# (new_ref, also in cond/scan/while/jit bodies) become plain values.
discharge_state = _state_discharge.discharge_state
# The aval of a Ref (`Ref{f32[4]}`) and the effects that mention one.
AbstractRef = _state_types.AbstractRef
RefEffect = _state_types.RefEffect
InternalMutableArrayEffect = _core.InternalMutableArrayEffect
# The state primitives: run_state (functional scope of Refs), reads/writes,
# and the mutable-array ones of `jax.new_ref` / `jax.ref.freeze`.
run_state_p = _state_discharge.run_state_p
state_get_p = _state_primitives.get_p
state_swap_p = _state_primitives.swap_p
state_addupdate_p = _state_primitives.addupdate_p
state_broadcast_to_p = _state_primitives.broadcast_to_p
new_ref_p = _core.ref_p
freeze_p = _core.freeze_p
empty_ref_p = _core.empty_ref_p
free_ref_p = _core.free_ref_p
# Identity marker used by AD into Refs (lowered to the identity by JAX).
accum_grad_in_ref_p = _core.accum_grad_in_ref_p

# checkify: the `check` primitive (from checkify.check / debug_check), and the
# error jax.jit raises when a `check` was not functionalized by
# checkify.checkify (we raise the same one, with the same text).
from jax._src import checkify as _checkify  # noqa: E402
from jax._src import config as _config  # noqa: E402

check_p = _checkify.check_p
checkify_functionalization_error = _checkify.functionalization_error


def xla_runtime_errors_enabled() -> bool:
  """jax_experimental_unsafe_xla_runtime_errors: jax.jit then lowers an
  unfunctionalized `check` to a Python callback that raises at run time."""
  return bool(_config.xla_runtime_errors.value)

# shard_map and the collectives (rules/collectives.py converts them over mesh
# axes of size 1, the single-device case).
from jax._src import shard_map as _shard_map  # noqa: E402
from jax._src.lax import parallel as _parallel  # noqa: E402

shard_map_p = _shard_map.shard_map_p
psum_p = _parallel.psum_p
pmax_p = _parallel.pmax_p
pmin_p = _parallel.pmin_p
ppermute_p = _parallel.ppermute_p
pbroadcast_p = _parallel.pbroadcast_p
all_to_all_p = _parallel.all_to_all_p
all_gather_p = _parallel.all_gather_p
all_gather_invariant_p = _parallel.all_gather_invariant_p
reduce_scatter_p = _parallel.reduce_scatter_p
axis_index_p = _parallel.axis_index_p
psum_invariant_p = _parallel.psum_invariant_p
# The unreduced/reduced-sharding casts: value-preserving on one device.
all_gather_reduced_p = _parallel.all_gather_reduced_p
unreduced_reduce_scatter_p = _parallel.unreduced_reduce_scatter_p
unreduced_psum_p = _parallel.unreduced_psum_p
preduced_p = _parallel.preduced_p
vary_unreduced_cast_p = _parallel.vary_unreduced_cast_p
