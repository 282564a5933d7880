"""Run one fuzz program with `jax.jit` and converted in every mode; compare.

Modes: eager, graph (tf.function), jit (tf.function(jit_compile=True)),
noxla (enable_xla=False, tf.function; the graph must hold no Xla* op) and
noxla_jit (enable_xla=False under jit_compile). Polymorphic programs are
converted once with their specs and run at each of their concrete sizes
through one tf.function whose input signature has None for symbolic dims,
so the symbolic-shape code is what runs.

Comparison (JAX's conventions): same dtype and shape; integers and bools
exactly; floats at JAX's default test tolerance for the dtype (atol = rtol,
`public_test_util`), NaN where JAX has NaN (either component, for complex)
and +-inf exactly; the sign of zeros where every op of the program defines
it (structural ops, select, max/min, abs, ...).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Optional, Sequence

import jax
import numpy as np
import tensorflow as tf

import jax2tf_impl
from jax2tf_impl import errors as j2t_errors

from .generator import Program, concrete_shape, np_dtype  # noqa: F401

MODES = ("eager", "graph", "jit", "noxla", "noxla_jit")


def tolerance(dtype: np.dtype) -> float:
  from jax._src import public_test_util  # pylint: disable=g-import-not-at-top
  return float(public_test_util.default_tolerance().get(np.dtype(dtype), 0.0))


# A float difference beyond JAX's tolerance but within gross_tolerance is
# reported as "numeric", not "mismatch": compositions of ops amplify the
# last-ulp differences between TF's and XLA's kernels (exp of a value off by
# 1 ulp, cancellation), which is not a wrong result. Numeric outcomes are
# counted, shrunk and reported; they do not fail CI.
NUMERIC = "numeric: "


def gross_tolerance(tol: float) -> float:
  """sqrt(tol), at least 10 tol: f64 3e-8, f32 1e-3, f16 3e-2, bf16 1e-1."""
  return max(tol ** 0.5, 10 * tol)


@dataclasses.dataclass
class Outcome:
  status: str          # "ok", "mismatch", "numeric", "error", "unsupported", "known"
  message: str = ""


@dataclasses.dataclass
class Result:
  discarded: Optional[str]          # why JAX itself could not run it
  outcomes: dict                    # mode -> Outcome

  def failures(self, numeric: bool = False) -> dict:
    kinds = ("mismatch", "error") + (("numeric",) if numeric else ())
    return {m: o for m, o in self.outcomes.items() if o.status in kinds}


def _arg_lists(prog: Program) -> list:
  return [[vals[i.name] for i in prog.inputs] for vals in prog.values]


def jax_outputs(prog: Program) -> list:
  """jax.jit's flat outputs for each env (raises if JAX cannot run it)."""
  return jit_outputs(prog.function(), _arg_lists(prog))


def jit_outputs(f: Any, arg_lists: list) -> list:
  jf = jax.jit(f)
  return [[np.asarray(o) for o in jax.tree_util.tree_leaves(jf(*args))] for args in arg_lists]


def _signature(arg_lists: list, specs: Sequence[str]) -> list:
  """TensorSpecs with None where a spec has a symbolic dim."""
  sig = []
  for a, spec in zip(arg_lists[0], specs):
    dims = [d.strip() for d in _top_level_split(spec.strip()[1:-1]) if d.strip()]
    shape = [int(d) if d.isdigit() else None for d in dims] if "..." not in spec else \
        [int(d) if d.isdigit() else None for d in dims[:-1]] + list(np.shape(a)[len(dims) - 1:])
    sig.append(tf.TensorSpec(shape, tf.as_dtype(np.asarray(a).dtype)))
  return sig


def _top_level_split(text: str) -> list:
  """"b, floordiv(b, 2), 3" -> ["b", "floordiv(b, 2)", "3"]."""
  parts, depth, cur = [], 0, ""
  for ch in text:
    depth += ch == "("
    depth -= ch == ")"
    if ch == "," and depth == 0:
      parts.append(cur)
      cur = ""
    else:
      cur += ch
  return parts + [cur]


def _xla_ops(conc: Any) -> set:
  types = {op.type for op in conc.graph.get_operations()}
  for fdef in conc.graph.as_graph_def().library.function:
    types |= {n.op for n in fdef.node_def}
  return {t for t in types if t.startswith("Xla")}


def run_mode(f: Any, arg_lists: list, specs: Optional[Sequence[str]], mode: str,
             converted: Any = None) -> list:
  """Converted outputs (flat numpy lists) for each argument list, in `mode`."""
  if converted is None:
    converted = jax2tf_impl.convert(f, enable_xla=not mode.startswith("noxla"),
                                    polymorphic_shapes=specs)
  res = []
  if mode == "eager":
    for args in arg_lists:
      outs = converted(*[tf.constant(a) for a in args])
      res.append([np.asarray(o.numpy()) for o in tf.nest.flatten(outs)])
    return res
  fn = tf.function(converted, autograph=False, jit_compile=mode in ("jit", "noxla_jit"),
                   input_signature=_signature(arg_lists, specs) if specs else None)
  for k, args in enumerate(arg_lists):
    targs = [tf.constant(a) for a in args]
    if mode == "noxla" and k == 0:
      conc = fn.get_concrete_function(*([] if specs else targs))
      bad = _xla_ops(conc)
      if bad:
        raise AssertionError(f"enable_xla=False graph contains {sorted(bad)}")
    outs = fn(*targs)
    res.append([np.asarray(o.numpy()) for o in tf.nest.flatten(outs)])
  return res


def _precision_floors(f: Any, args: list) -> list:
  """Per output, JAX's tolerance for the least precise float type it is
  computed through (the inputs and intermediates it depends on, bodies of
  control flow included): a float64 output computed from a float32 expm1
  is only as exact as float32, whatever its own dtype."""
  from jax.extend import core as jex_core  # pylint: disable=g-import-not-at-top
  try:
    closed = jax.make_jaxpr(f)(*args)
  except Exception:  # pylint: disable=broad-except
    return []

  def tol_of(v: Any) -> float:
    dtype = getattr(getattr(v, "aval", None), "dtype", None)
    if dtype is None or not jax.numpy.issubdtype(dtype, jax.numpy.inexact):
      return 0.0
    return tolerance(dtype)

  def inner(j: Any) -> float:
    t = max([0.0] + [tol_of(v) for v in j.invars]
            + [tol_of(o) for e in j.eqns for o in e.outvars])
    for e in j.eqns:
      for sub in jex_core.jaxprs_in_params(e.params):
        t = max(t, inner(sub))
    return t

  jaxpr = closed.jaxpr
  producer = {id(o): e for e in jaxpr.eqns for o in e.outvars}
  floors = []
  for out in jaxpr.outvars:
    t, stack, seen = 0.0, [out], set()
    while stack:
      v = stack.pop()
      if not hasattr(v, "aval") or id(v) in seen:
        continue
      seen.add(id(v))
      t = max(t, tol_of(v))
      e = producer.get(id(v))
      if e is not None:
        for sub in jex_core.jaxprs_in_params(e.params):
          t = max(t, inner(sub))
        stack.extend(e.invars)
    floors.append(t)
  return floors


def compare(expected: Sequence[np.ndarray], got: Sequence[np.ndarray],
            sign_exact: bool, floors: Sequence[float] = ()) -> Optional[str]:
  """None if `got` matches JAX's `expected`, else a one-line description.
  `floors`: per output, the least tolerance to compare it at
  (_precision_floors; none if the flat outputs do not line up)."""
  if len(floors) != len(expected):
    floors = [0.0] * len(expected)
  if len(expected) != len(got):
    return f"{len(got)} outputs, JAX has {len(expected)}"
  for k, (e, g, floor) in enumerate(zip(expected, got, floors)):
    if e.dtype != g.dtype:
      return f"output {k}: dtype {g.dtype}, JAX {e.dtype}"
    if e.shape != g.shape:
      return f"output {k}: shape {g.shape}, JAX {e.shape}"
    msg = _compare_values(e, g, sign_exact, floor)
    if msg:
      return f"output {k} ({e.dtype}{list(e.shape)}): {msg}"
  return None


def _first(mask: np.ndarray, e: np.ndarray, g: np.ndarray) -> str:
  idx = tuple(int(i) for i in np.argwhere(mask)[0]) if mask.ndim else ()
  n = int(mask.sum())
  return f"{n} element(s) differ, e.g. at {idx}: got {g[idx]!r}, JAX {e[idx]!r}"


def _compare_values(e: np.ndarray, g: np.ndarray, sign_exact: bool,
                    floor: float = 0.0) -> Optional[str]:
  if not np.issubdtype(e.dtype, np.inexact) and e.dtype != np_dtype("bfloat16"):
    bad = e != g
    return _first(bad, e, g) if bad.any() else None
  tol = max(tolerance(e.dtype), floor)
  if np.issubdtype(e.dtype, np.complexfloating):
    e_nan, g_nan = np.isnan(e), np.isnan(g)
    if (e_nan != g_nan).any():
      return "NaN positions: " + _first(e_nan != g_nan, e, g)
    # Each part against the modulus, as JAX's assertAllClose compares
    # complex values (|g - e| <= tol (1 + |e|)).
    with np.errstate(all="ignore"):
      modulus = np.abs(np.where(e_nan, 0, e).astype(np.complex128))
    for part in (np.real, np.imag):
      pe = np.where(e_nan, 0, part(e)).astype(np.float64)
      pg = np.where(g_nan, 0, part(g)).astype(np.float64)
      msg = _compare_real(pe, pg, tol, sign_exact, modulus)
      if msg:
        return msg
    return None
  return _compare_real(e.astype(np.float64), g.astype(np.float64), tol, sign_exact)


def _compare_real(e: np.ndarray, g: np.ndarray, tol: float, sign_exact: bool,
                  magnitude: Optional[np.ndarray] = None) -> Optional[str]:
  e_nan, g_nan = np.isnan(e), np.isnan(g)
  if (e_nan != g_nan).any():
    return "NaN positions: " + _first(e_nan != g_nan, e, g)
  e_inf = np.isinf(e)
  bad_inf = (e_inf | np.isinf(g)) & (e != g)
  if bad_inf.any():
    return "inf: " + _first(bad_inf, e, g)
  fin = ~(e_nan | e_inf)
  err = np.abs(np.where(fin, g - e, 0))
  size = np.abs(e) if magnitude is None else magnitude
  scale = 1 + np.where(fin & np.isfinite(size), size, 0)
  bad = err > tol * scale
  if bad.any():
    rel = float(np.max(np.where(bad, err / np.maximum(np.abs(e), 1e-300), 0)))
    gross = (err > gross_tolerance(tol) * scale).any()
    return (("" if gross else NUMERIC) +
            f"values (tol {tol:g}, max rel err {rel:.3g}): " + _first(bad, e, g))
  if sign_exact:
    zeros = fin & (e == 0)
    bad = zeros & (np.signbit(e) != np.signbit(g))
    if bad.any():
      return "sign of zero: " + _first(bad, e, g)
  return None


def _classify(exc: BaseException) -> Outcome:
  msg = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
  if isinstance(exc, j2t_errors.UnsupportedPrimitiveError) or \
      (isinstance(exc, NotImplementedError) and "enable_xla" in str(exc)):
    return Outcome("unsupported", msg[:300])
  return Outcome("error", msg[:300])


def check(prog: Program, modes: Sequence[str] = MODES) -> Result:
  """Runs `prog` with JAX and in `modes`; JAX failing discards the program."""
  return check_function(prog.function(), _arg_lists(prog), prog.specs(), modes,
                        prog.sign_exact, prog.envs)


def check_function(f: Any, arg_lists: list, specs: Optional[Sequence[str]] = None,
                   modes: Sequence[str] = MODES, sign_exact: bool = False,
                   envs: Optional[list] = None) -> Result:
  """`f` on each argument list (several for polymorphic specs: one
  conversion, run at each), converted in `modes`, vs jax.jit."""
  try:
    expected = jit_outputs(f, arg_lists)
  except Exception as e:  # pylint: disable=broad-except
    return Result(f"{type(e).__name__}: {str(e)[:200]}", {})
  floors = _precision_floors(f, arg_lists[0]) if arg_lists else []
  outcomes = {}
  converted = {}
  for mode in modes:
    xla = not mode.startswith("noxla")
    try:
      if xla not in converted:
        converted[xla] = jax2tf_impl.convert(f, enable_xla=xla, polymorphic_shapes=specs)
      got = run_mode(f, arg_lists, specs, mode, converted[xla])
    except Exception as e:  # pylint: disable=broad-except
      outcomes[mode] = _classify(e)
      continue
    msg = None
    for k, (e_outs, g_outs) in enumerate(zip(expected, got)):
      msg = compare(e_outs, g_outs, sign_exact, floors)
      if msg:
        if specs:
          msg = f"at {envs[k] if envs else k}: {msg}"
        break
    if not msg:
      outcomes[mode] = Outcome("ok")
    elif NUMERIC in msg:
      outcomes[mode] = Outcome("numeric", msg.replace(NUMERIC, ""))
    else:
      outcomes[mode] = Outcome("mismatch", msg)
  return Result(None, outcomes)


def failure_key(mode: str, outcome: Outcome) -> tuple:
  """What a shrunk program must keep failing with: the mode and the kind of
  failure (and, for errors, the exception type)."""
  if outcome.status == "error":
    return (mode, "error", outcome.message.split(":")[0])
  return (mode, outcome.status)


def still_fails(prog: Program, key: tuple) -> bool:
  res = check(prog, [key[0]])
  if res.discarded:
    return False
  o = res.outcomes[key[0]]
  return failure_key(key[0], o) == key


def concrete_input_shapes(prog: Program, k: int) -> list:
  return [concrete_shape(i.shape, prog.envs[k]) for i in prog.inputs]
