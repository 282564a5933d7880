"""The one door to JAX's private modules (`jax._src...`) and private attributes.

Every other module of jax2tf_impl uses JAX's public API only (`jax`, `jax.lax`,
`jax.extend`, `jax.export`, ...). What the converter needs beyond it (primitive
objects that JAX does not export, its symbolic-dimension internals, source
information, the PRNG implementations) is imported here and given a name that
says what it is, so that a JAX upgrade touches this file alone.
`tests/test_layering.py` fails if another module imports `jax._src`.
"""
from __future__ import annotations

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
