"""The one door to JAX's private modules (`jax._src...`) and private attributes.

Every other module of jax2tf_impl uses JAX's public API only (`jax`, `jax.lax`,
`jax.lax.linalg`, `jax.extend`, `jax.export`, ...). What the converter needs
beyond it (primitive objects that JAX does not export, its symbolic-dimension
internals, the tracing entry points and the PRNG implementations) is imported
here and given a name that says what it is, so that a JAX upgrade touches this
file alone. `tests/test_layering.py` fails if another module imports `jax._src`.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterator, Sequence

from jax._src import api_util as _api_util
from jax._src import core as _core
from jax._src import dtypes as _dtypes
from jax._src import linear_util as _lu
from jax._src import pjit as _pjit
from jax._src import util as _util
from jax._src.export import shape_poly as _shape_poly
from jax._src.interpreters import partial_eval as _pe
from jax._src.lax import lax as _lax
from jax._src.lax import linalg as _lax_linalg
from jax._src.lax import utils as _lax_utils
from jax._src.random import core as _random_core
from jax._src.random import philox2x32 as _philox2x32
from jax._src.random import philox4x32 as _philox4x32
from jax._src.random import prng as _prng
from jax._src.random import threefry4x32 as _threefry4x32
from jax._src.tree_util import broadcast_prefix as _broadcast_prefix

# --- primitives that JAX does not export publicly -----------------------------
# (the rest come from jax.extend.core.primitives and jax.lax.linalg)

pvary_p = _core.pvary_p              # varying-manual-axes annotation: identity
tie_p = _lax.tie_p                   # ties two values' lifetimes: identity on x
reshard_p = _pjit.reshard_p          # sharding annotations: identity
layout_constraint_p = _pjit.layout_constraint_p
dim_as_value_p = _shape_poly.dim_as_value_p  # a symbolic dimension as a value
geqrf_p = _lax_linalg.geqrf_p        # raw Householder QR (LAPACK geqrf)
iota_2x32_shape_p = _prng.iota_2x32_shape_p  # threefry counters, 64-bit iota
philox2x32_p = _philox2x32.philox2x32_p
philox4x32_p = _philox4x32.philox4x32_p
threefry4x32_p = _threefry4x32.threefry4x32_p

# JAX's own implementations (written in JAX) of PRNG primitives that have no
# direct TF counterpart: we trace them to a jaxpr and convert that.
philox2x32_as_jax = _philox2x32._philox2x32_lowering
philox4x32_as_jax = _philox4x32._philox4x32_lowering
threefry4x32_as_jax = _threefry4x32._threefry4x32_lowering


def argminmax_value_comparator(computation: Any) -> Any:
  """For a `reduce_p` computation that is JAX's own argmin/argmax reducer,
  its value comparator (lax.lt or lax.gt); else None."""
  if isinstance(computation, _lax._ArgMinMaxReducer):
    return computation._value_comparator
  return None


def int_dtype_for_shape(shape: Sequence[Any], *, signed: bool) -> Any:
  """The index dtype JAX's gather/scatter lowering uses for `shape`."""
  return _lax_utils.int_dtype_for_shape(shape, signed=signed)


# --- tracing -------------------------------------------------------------------

def trace_to_jaxpr(fn: Callable[..., Sequence[Any]], avals: Sequence[Any],
                   name: str) -> tuple[Any, list[Any]]:
  """Traces `fn` (returning a list of values) on abstract values.

  Unlike `jax.make_jaxpr`, the avals may be extended dtypes (PRNG keys) or
  symbolic and are used as they are; returns (open jaxpr, constants).
  """
  dbg = _api_util.debug_info(name, fn, list(avals), {})
  wrapped = _lu.wrap_init(fn, debug_info=dbg.with_unknown_names())
  jaxpr, _, consts = _pe.trace_to_jaxpr_dynamic(wrapped, list(avals))
  return jaxpr, list(consts)


def convert_constvars_to_invars(jaxpr: Any) -> Any:
  """The same jaxpr with its constvars as leading invars."""
  return _pe.convert_constvars_jaxpr(jaxpr)


def eval_jaxpr(jaxpr: Any, consts: Sequence[Any], *args: Any) -> list[Any]:
  """JAX's reference evaluator (binds each equation's primitive)."""
  return _core.eval_jaxpr(jaxpr, list(consts), *args)


weakref_lru_cache = _util.weakref_lru_cache  # cache keyed weakly on a jaxpr


# --- PRNG keys -------------------------------------------------------------------

PRNGKeyArray = _prng.PRNGKeyArray


def is_extended_dtype(dtype: Any) -> bool:
  """Whether `dtype` is one of JAX's extended dtypes (PRNG key types)."""
  return isinstance(dtype, _dtypes.ExtendedDType)


def shaped_array(shape: Sequence[Any], dtype: Any) -> Any:
  """The abstract value (aval) of an array of this shape and dtype."""
  return _core.ShapedArray(tuple(shape), dtype)


def physical_aval(aval: Any) -> Any:
  """The aval of a key array's key data (uint32[*shape, *key_shape])."""
  return _core.physical_aval(aval)


def key_data_shape(key_dtype: Any) -> tuple[int, ...]:
  """The shape of one key's data for a key dtype (e.g. (2,) for threefry)."""
  return tuple(_core.physical_element_aval(key_dtype).shape)


def prng_impl_of(key_dtype: Any) -> Any:
  """The PRNG implementation (threefry, rbg, ...) behind a key dtype."""
  return key_dtype._impl


# JAX's implementations of the key primitives, on key data, written in JAX
# (for threefry: bit manipulation, iota_2x32_shape and threefry2x32).

def random_seed_impl(seeds: Any, *, impl: Any) -> Any:
  """Key data for `seeds` (random_seed)."""
  return _prng.random_seed_impl_base(seeds, impl=impl)


def random_split_impl(impl: Any, keys: Any, ndim: int, *, shape: Any) -> Any:
  """Key data of the split keys (random_split)."""
  return _prng.random_split_impl_base(impl, keys, ndim, shape=shape)


def random_fold_in_impl(impl: Any, keys: Any, msgs: Any, shape: Any) -> Any:
  """Key data of keys with `msgs` folded in (random_fold_in)."""
  return _prng.random_fold_in_impl_base(impl, keys, msgs, shape)


def random_bits_impl(impl: Any, keys: Any, ndim: int, *, bit_width: int,
                     shape: Any) -> Any:
  """Random bits drawn from key data (random_bits)."""
  return _prng.random_bits_impl_base(impl, keys, ndim, bit_width=bit_width,
                                     shape=shape)


def random_gamma_impl(keys: Any, alphas: Any, *, log_space: bool,
                      use_vmap: bool) -> Any:
  """Gamma samples as JAX computes them (random_gamma's lowering)."""
  return _random_core._gamma_impl(keys, alphas, log_space=log_space,
                                  use_vmap=use_vmap)


# --- symbolic dimensions ---------------------------------------------------------

SymbolicScope = _shape_poly.SymbolicScope
is_symbolic_dim = _shape_poly.is_symbolic_dim
solve_dim_vars = _shape_poly.solve_dim_vars
broadcast_prefix = _broadcast_prefix

_OPERATION_NAMES = {
    _shape_poly._DimFactor.FLOORDIV: "floordiv",
    _shape_poly._DimFactor.MOD: "mod",
    _shape_poly._DimFactor.MAX: "max",
    _shape_poly._DimFactor.MIN: "min",
}


@dataclasses.dataclass(frozen=True)
class DimFactor:
  """One factor of a symbolic dimension term: a variable, or an operation
  ("floordiv", "mod", "max", "min") on dimension expressions."""
  var: str | None
  operation: str | None
  operands: tuple[Any, ...]


def dim_terms(d: Any) -> Iterator[tuple[list[tuple[DimFactor, int]], int]]:
  """A symbolic dimension as a sum of (coefficient x product of factors**exp).

  Yields (factors with their exponents, coefficient) per term.
  """
  for term, coeff in d._sorted_terms:
    factors = []
    for factor, exponent in term._factors:
      op = None if factor.var is not None else _OPERATION_NAMES[factor.operation]
      factors.append((DimFactor(factor.var, op, tuple(factor.operands)),
                      exponent))
    yield factors, int(coeff)


@dataclasses.dataclass(frozen=True)
class UserConstraint:
  """A constraint given in polymorphic_shapes ("b >= 16", "mod(b, 2) == 0")."""
  text: str
  left: Any
  right: Any
  is_equality: bool


def user_constraints(d: Any) -> list[UserConstraint]:
  """The explicit constraints of the symbolic scope of dimension `d`."""
  return [UserConstraint(c.debug_str, c.e1, c.e2,
                         c.cmp == _shape_poly.Comparator.EQ)
          for c in d.scope._explicit_constraints]


def is_equality_comparator(cmp: Any) -> bool:
  """Whether a solver constraint's comparator is == (else it is >=)."""
  return cmp == _shape_poly.Comparator.EQ


# --- h_state: state primitives (Refs), checkify, shard_map and collectives ---
# Refs (`jax.new_ref`, `run_state`) are removed by JAX's own state discharge
# (what `jax.jit` does before lowering); these are the pieces it needs.
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


# --- h_census: primitive census and the fallback for primitives without a rule

import functools as _functools
import importlib as _importlib
import inspect as _inspect
import pkgutil as _pkgutil
import re as _re
import sys as _sys
from typing import Any as _Any, Callable as _Callable, Sequence as _Sequence

# Packages whose modules define JAX's primitives (the census imports them all).
PRIMITIVE_PACKAGES = ("jax._src", "jax.extend", "jax.experimental")


def import_all_jax_modules() -> dict[str, str]:
  """Imports every module under `PRIMITIVE_PACKAGES` so that every primitive
  JAX defines exists; returns {module: error} for those that cannot be
  imported here (e.g. GPU-only bindings)."""
  failed: dict[str, str] = {}
  for pkg_name in PRIMITIVE_PACKAGES:
    pkg = _importlib.import_module(pkg_name)
    names = [m.name for m in _pkgutil.walk_packages(
        pkg.__path__, pkg_name + ".", onerror=lambda n: None)]
    for name in names:
      try:
        _importlib.import_module(name)
      except BaseException as e:  # noqa: BLE001 - optional GPU/TPU modules.
        failed[name] = f"{type(e).__name__}: {e}"[:200]
  return failed


def _defines(module: _Any, attr: str) -> bool:
  """Whether `module`'s source assigns `attr` (rather than importing it)."""
  try:
    src = _inspect.getsource(module)
  except (OSError, TypeError):
    return False
  return _re.search(rf"^\s*{_re.escape(attr)}\s*(:[^=\n]*)?=", src,
                    _re.MULTILINE) is not None


def jax_primitive_objects() -> list[tuple[_Any, str]]:
  """Every `Primitive` object reachable from a loaded `jax*` module, with
  the module that defines it (`module.attr`).

  Primitives are found as module globals (`sin_p`), as class attributes and
  inside dicts/lists/tuples held by modules (registries such as
  `mlir._lowerings` key on primitives that have no global name of their
  own). Call `import_all_jax_modules()` first for a full census.
  """
  from jax._src import core  # pylint: disable=g-import-not-at-top
  direct: dict[_Any, list[tuple[_Any, str]]] = {}
  indirect: dict[_Any, str] = {}

  def scan(value: _Any, where: str, depth: int = 0) -> None:
    if isinstance(value, core.Primitive):
      indirect.setdefault(value, where)
      return
    if depth > 1:
      return
    if isinstance(value, dict):
      for k, v in list(value.items()):
        if isinstance(k, core.Primitive):
          indirect.setdefault(k, where)
        scan(v, where, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
      for v in value:
        scan(v, where, depth + 1)

  for mod_name, module in sorted(_sys.modules.items()):
    if not (mod_name == "jax" or mod_name.startswith("jax.")) or module is None:
      continue
    for attr, value in list(vars(module).items()):
      if isinstance(value, core.Primitive):
        direct.setdefault(value, []).append((module, attr))
      else:
        scan(value, f"{mod_name}.{attr}")
      if isinstance(value, type) and value.__module__ == mod_name:
        for v in list(vars(value).values()):
          scan(v, f"{mod_name}.{attr}")
  out = []
  for prim in set(direct) | set(indirect):
    refs = direct.get(prim)
    if not refs:
      out.append((prim, indirect[prim]))
      continue
    private = [r for r in refs if r[0].__name__.startswith("jax._src")] or refs
    definers = [r for r in private if _defines(*r)] or private
    module, attr = max(definers, key=lambda r: (r[0].__name__.count("."),
                                                r[0].__name__))
    out.append((prim, f"{module.__name__}.{attr}"))
  return sorted(out, key=lambda pw: (pw[0].name, pw[1]))


def lower_fun_of(prim: _Any) -> tuple[_Callable, bool] | None:
  """`(fun, multiple_results)` when `prim`'s platform-independent MLIR
  lowering was made with `mlir.lower_fun(fun, multiple_results)`, i.e. the
  primitive means "this JAX function"; else None."""
  from jax._src.interpreters import mlir  # pylint: disable=g-import-not-at-top
  entry = mlir._lowerings.get(prim)  # pylint: disable=protected-access
  rule = getattr(entry, "rule", None)
  code = getattr(rule, "__code__", None)
  if (code is None or rule.__closure__ is None or
      getattr(rule, "__qualname__", "") != "lower_fun.<locals>.f_lowered"):
    return None
  cells = dict(zip(code.co_freevars,
                   (c.cell_contents for c in rule.__closure__)))
  if "fun" not in cells:
    return None
  return cells["fun"], bool(cells.get("multiple_results", True))


def python_impl_of(prim: _Any) -> _Callable | None:
  """The impl given to `prim.def_impl`, unless it is JAX's generic
  "compile this primitive with XLA" impl (`dispatch.apply_primitive`, which
  would only re-bind the primitive); None when there is no impl."""
  from jax._src import dispatch  # pylint: disable=g-import-not-at-top
  impl = vars(prim).get("impl") if hasattr(prim, "__dict__") else None
  if impl is None:
    return None
  if (isinstance(impl, _functools.partial) and
      impl.func is dispatch.apply_primitive):
    return None
  return impl


def function_module(fn: _Any) -> str:
  """The module a (possibly partial-wrapped) function was defined in."""
  while isinstance(fn, _functools.partial):
    fn = fn.func
  return getattr(fn, "__module__", None) or ""


def trace_at_avals(fun: _Callable, avals: _Sequence[_Any],
                   params: dict[str, _Any], multiple_results: bool) -> _Any:
  """`fun(*args, **params)` traced to a ClosedJaxpr at exactly `avals`
  (weak types and symbolic dimensions kept), the way `mlir.lower_fun`
  traces a lowering; high-level (hijax) primitives are lowered."""
  from jax._src import api_util, core  # pylint: disable=g-import-not-at-top
  from jax._src import linear_util as lu  # pylint: disable=g-import-not-at-top
  from jax._src.interpreters import partial_eval as pe  # pylint: disable=g-import-not-at-top
  f = fun if multiple_results else (lambda *a, **kw: (fun(*a, **kw),))
  wrapped = lu.wrap_init(f, params, debug_info=api_util.debug_info(
      "jax2tf_impl fallback", fun, list(avals), {}))
  jaxpr, _, consts = pe.trace_to_jaxpr_dynamic(wrapped, list(avals),
                                               lower=True)
  return core.ClosedJaxpr(jaxpr, consts)


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



# --- h_linalg: Householder reductions --------------------------------------
from jax._src.lax import linalg as _lax_linalg  # noqa: E402

# QR with column pivoting (LAPACK geqp3): what jax.scipy.linalg.qr(...,
# pivoting=True) lowers to. jax.lax.linalg exports the other linalg
# primitives, not this one.
geqp3_p = _lax_linalg.geqp3_p


# ---------------------------------------------------------------- h_misc
# Primitive objects that JAX does not export publicly (jax 0.10), for the
# rules of platform_dependent, composite, ragged_dot, empty, annotations,
# jax.export's shape primitives, custom_vmap, linear_call and random.clone.
from jax._src import compute_on as _compute_on  # noqa: E402
from jax._src import custom_batching as _custom_batching  # noqa: E402
from jax._src import custom_derivatives as _custom_derivatives  # noqa: E402
from jax._src import xla_metadata as _xla_metadata  # noqa: E402
from jax._src.lax import control_flow as _lax_control_flow  # noqa: E402

# lax.platform_dependent: the index of the branch for the lowering platform.
platform_index_p = _lax_control_flow.platform_index_p
# lax.composite: a named call of its decomposition jaxpr.
composite_p = _lax.composite_p
# lax.ragged_dot / ragged_dot_general, and its dimension-number modes.
ragged_dot_general_p = _lax.ragged_dot_general_p
# lax.empty (uninitialized array; zeros on CPU) and scan's scalar `empty2`.
empty_p = _lax.empty_p
empty2_p = _lax.empty2_p
# jax.experimental.xla_metadata.set_xla_metadata(x, ...): identity on x.
xla_metadata_value_p = _xla_metadata.xla_metadata_value_p
# jax.experimental.compute_on: run the body on another compute type.
compute_on_p = _compute_on.compute_on_p
# jax.export's shape primitives: a dimension of an operand as a value, and a
# run-time check on dimension values.
dimension_size_p = _shape_poly.dimension_size_p
shape_assertion_p = _shape_poly.shape_assertion_p
# jax.custom_batching.custom_vmap (unbatched call: its underlying function).
custom_vmap_call_p = _custom_batching.custom_vmap_p
# jax.custom_derivatives.linear_call: the callee applied to its operands.
linear_call_p = _custom_derivatives.linear_call_p
# jax.random.clone: identity on key data (also seen on raw uint32 keys).
random_clone_p = _random_core.random_clone_p


# --- one-device annotations: identities or no-ops at inference ----------------
from jax._src import custom_partitioning as _custom_partitioning  # noqa: E402
from jax._src import debugging as _debugging  # noqa: E402
from jax._src import shard_alike as _shard_alike  # noqa: E402

shard_alike_p = _shard_alike.shard_alike_p        # (x, y) -> (x, y)
stage_p = _core.stage_p                           # identity
dce_sink_p = _lax.dce_sink_p                      # keeps values alive; no outputs
inspect_sharding_p = _debugging.inspect_sharding_p  # compile-time callback; no outputs
custom_partitioning_p = _custom_partitioning.custom_partitioning_p  # runs `call`


