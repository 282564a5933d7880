"""uint32 values as two float32 16-bit limbs: a jaxpr-to-jaxpr pass for TF.js.

TF.js 4.22.0 has no uint32 dtype (its converter maps uint32 to null and
refuses uint32 weights), no BitwiseXor, no shifts, and its WebGL backend
keeps int32 tensors in float32 textures, exact only below 2**24. Yet every
`jax.random` call computes in uint32: threefry2x32 is adds, xors and
rotations of uint32 words, and the float samples come from a bitcast.

`int32_for_uint32(fun, example_args)` gives a function of the same
arguments, except that a uint32 argument or result travels as int32 (the
same bits, or with boundary="hi_lo" its two 16-bit halves), and that computes every uint32 value of `fun` (PRNG keys
included, after prng_keys.physicalize) as `Limbs(hi, lo)`: two float32
arrays of integers in [0, 65536). Each operation on limbs is made of float32
ops that are exact on integers below 2**24 on every backend (add, multiply by
a power of two, floor, compare, select, sum), so the bits are JAX's bits:
    add           limb sums with a carry
    xor/and/or    on the 16 bits of each limb, split by floor and scale
    shifts        by constants: floor/scale of each limb, bits moved across
    threefry2x32  JAX's 20 rounds on limbs
    bitcast->f32  sign, exponent (a table of powers of two) and mantissa
Structural primitives (slice, gather, concatenate, select_n, ...) apply to
each limb; calls are inlined; cond/while/scan carry limbs as a pytree.
mul is on 8-bit digits; div and rem (randint, choice) are long division, 32 shift-compare-subtract
steps; a sort on uint32 keys (permutation) sorts on (hi, lo). A uint32
operation outside this set (reductions, shifts by variable amounts, ...)
fails at conversion time, naming it and its source line.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Sequence

import jax
import numpy as np
from jax import lax
from jax import numpy as jnp
from jax import tree_util
from jax.extend import core
from jax.extend import source_info_util

from jax2tf_impl import jax_internals as ji
from jax2tf_impl import prng_keys
from jax2tf_impl.errors import UnsupportedPrimitiveError
from jax2tf_impl.jaxpr_util import (CALL_BODY_PARAM, COMPONENTWISE,
                                    IDENTITY_LIKE, any_aval, eqn_any_aval)
from jax2tf_impl.limbs import (Limbs, add, bitcast_to_float32, bitwise_and,
                               bitwise_not, bitwise_or, broadcast_to, constant,
                               divmod_, mul,
                               equal, from_exact_float, from_int32, less,
                               select, shift_left, shift_right_logical, sub,
                               threefry2x32, to_float, to_int32, xor)

_U32 = np.dtype(np.uint32)
_F32 = np.float32


def _is_u32(aval: Any) -> bool:
  return getattr(aval, "dtype", None) == _U32


# ------------------------------------------------------------- the evaluator


def _literal(v: Any) -> Any:
  val = v.val
  return constant(val) if _is_u32(v.aval) else val


def eval_limbs(jaxpr: core.Jaxpr, consts: Sequence[Any],
               args: Sequence[Any]) -> list[Any]:
  """Evaluates `jaxpr` (under a JAX trace) with uint32 values as Limbs.

  `consts` and `args` hold Limbs for uint32 variables (numpy uint32
  constants are turned into limbs here)."""
  env: dict[Any, Any] = {}

  def read(v: Any) -> Any:
    return _literal(v) if isinstance(v, core.Literal) else env[v]

  for v, c in zip(jaxpr.constvars, consts):
    env[v] = constant(c) if _is_u32(v.aval) and not isinstance(c, Limbs) else c
  for v, a in zip(jaxpr.invars, args):
    env[v] = a
  for eqn in jaxpr.eqns:
    invals = [read(v) for v in eqn.invars]
    name_stack = (source_info_util.current_name_stack() +
                  eqn.source_info.name_stack)
    with source_info_util.user_context(eqn.source_info.traceback,
                                       name_stack=name_stack), eqn.ctx.manager:
      if eqn_any_aval(eqn, _is_u32):
        outs = _limb_eqn(eqn, invals)
      else:
        outs = eqn.primitive.bind(*invals,
                                  **eqn.primitive.get_bind_params(eqn.params))
        if not eqn.primitive.multiple_results:
          outs = [outs]
    for v, o in zip(eqn.outvars, outs):
      if not isinstance(v, core.DropVar):
        env[v] = o
  return [read(v) for v in jaxpr.outvars]


def _run_closed(j: Any, args: Sequence[Any]) -> list[Any]:
  j = j if isinstance(j, core.ClosedJaxpr) else core.ClosedJaxpr(j, ())
  return eval_limbs(j.jaxpr, j.consts, args)


# Source lines of the calls (jit, custom_jvp, ...) being inlined, innermost
# last: an equation of a library's jitted body has no user frame of its own.
_CALL_LINES: list[str] = []


def _source_line(eqn: core.JaxprEqn) -> str:
  line = source_info_util.summarize(eqn.source_info)
  return line or next((c for c in reversed(_CALL_LINES) if c), "unknown")


def _unsupported(eqn: core.JaxprEqn, why: str) -> UnsupportedPrimitiveError:
  return UnsupportedPrimitiveError(
      f"Cannot compute primitive '{eqn.primitive.name}' on uint32 as 16-bit "
      f"limbs (for TF.js, which has no uint32): {why} (input types: "
      f"{', '.join(str(v.aval) for v in eqn.invars)}).\n"
      f"  at: {_source_line(eqn)}")


def _limb_eqn(eqn: core.JaxprEqn, invals: list[Any]) -> list[Any]:
  name = eqn.primitive.name
  if name in CALL_BODY_PARAM and CALL_BODY_PARAM[name] in eqn.params:
    _CALL_LINES.append(source_info_util.summarize(eqn.source_info))
    try:
      return _run_closed(eqn.params[CALL_BODY_PARAM[name]], invals)
    finally:
      _CALL_LINES.pop()
  if name in IDENTITY_LIKE:
    return list(invals)
  if name in COMPONENTWISE and name != "scatter":
    return _per_limb(eqn, invals)
  rule = _RULES.get(name)
  if rule is None:
    raise _unsupported(eqn, "no limb rule for it")
  with _folding(eqn, invals):
    return rule(eqn, *invals)


# Outputs up to this many elements computed from constants are folded into
# constants (a shift amount, randint's span): a limb rule may need the value.
_FOLD_MAX_ELEMENTS = 4096


def _folding(eqn: core.JaxprEqn, values: Sequence[Any]) -> Any:
  """jax.ensure_compile_time_eval() if `eqn` on `values` is a small constant
  (all inputs known, at least one, outputs static and small), else nothing."""
  leaves = tree_util.tree_leaves(list(values))
  known = leaves and not any(isinstance(x, jax.core.Tracer) for x in leaves)
  small = all(all(isinstance(d, int) for d in v.aval.shape)
              and int(np.prod(v.aval.shape)) <= _FOLD_MAX_ELEMENTS
              for v in eqn.outvars)
  return (jax.ensure_compile_time_eval() if known and small
          else contextlib.nullcontext())


def _per_limb(eqn: core.JaxprEqn, invals: list[Any]) -> list[Any]:
  """The primitive bound once on the hi limbs and once on the lo limbs;
  operands that are not uint32 (indices, predicates) go to both."""
  params = eqn.primitive.get_bind_params(eqn.params)
  parts = []
  for part in (0, 1):
    args = [x[part] if isinstance(x, Limbs) else x for x in invals]
    with _folding(eqn, args):
      out = eqn.primitive.bind(*args, **params)
    parts.append(out if eqn.primitive.multiple_results else [out])
  return [Limbs(h, l) if _is_u32(v.aval) else h
          for v, h, l in zip(eqn.outvars, *parts)]


def _static_shift(eqn: core.JaxprEqn, s: Limbs) -> int:
  """The shift amount, which must be a scalar known at conversion time."""
  try:
    hi, lo = np.asarray(s.hi), np.asarray(s.lo)
  except (jax.errors.ConcretizationTypeError,
          jax.errors.TracerArrayConversionError) as e:
    raise _unsupported(eqn, "the shift amount is not a constant") from e
  if hi.size != 1:
    if not (np.all(hi == hi.flat[0]) and np.all(lo == lo.flat[0])):
      raise _unsupported(eqn, "the shift amounts differ across elements")
  return int(hi.flat[0]) * 65536 + int(lo.flat[0])


def _shift(fn: Callable[[Limbs, int], Limbs]) -> Callable[..., list[Any]]:
  def rule(eqn: core.JaxprEqn, x: Limbs, s: Any) -> list[Any]:
    return [broadcast_to(fn(x, _static_shift(eqn, s)), eqn.outvars[0].aval.shape)]
  return rule


def _binary(fn: Callable[[Limbs, Limbs], Any]) -> Callable[..., list[Any]]:
  def rule(eqn: core.JaxprEqn, a: Limbs, b: Limbs) -> list[Any]:
    out = fn(a, b)
    shape = eqn.outvars[0].aval.shape
    return [broadcast_to(out, shape) if isinstance(out, Limbs)
            else jnp.broadcast_to(out, shape)]
  return rule


def _convert(eqn: core.JaxprEqn, x: Any) -> list[Any]:
  """convert_element_type and bitcast_convert_type from or to uint32 (for
  32-bit integers the two agree: both keep the bits)."""
  src = np.dtype(eqn.invars[0].aval.dtype)
  dst = np.dtype(eqn.params["new_dtype"])
  bitcast = eqn.primitive.name == "bitcast_convert_type"
  if src == _U32 and dst == _U32:
    return [x]
  if dst == _U32:
    narrow_int = src == np.bool_ or (np.issubdtype(src, np.integer)
                                     and src.itemsize <= 4)
    if narrow_int and (not bitcast or src == np.int32):
      return [from_int32(x)]
    raise _unsupported(eqn, f"{src} to uint32")
  if bitcast:
    if dst == np.float32:
      return [bitcast_to_float32(x)]
    if dst == np.int32:
      return [to_int32(x)]
    raise _unsupported(eqn, f"bitcast of uint32 to {dst}")
  if dst == np.bool_:
    return [(x.hi != 0) | (x.lo != 0)]
  if dst in (np.dtype(np.float32), np.dtype(np.float64)):
    return [to_float(x, dst)]
  if np.issubdtype(dst, np.integer) and dst.itemsize <= 4:
    return [lax.convert_element_type(to_int32(x), dst)]
  raise _unsupported(eqn, f"uint32 to {dst}")


def _iota(eqn: core.JaxprEqn) -> list[Any]:
  p = eqn.params
  x = lax.broadcasted_iota(_F32, p["shape"], p["dimension"])
  return [from_exact_float(x)]


def _iota_2x32_shape(eqn: core.JaxprEqn) -> list[Any]:
  """(high word, low word) of the row-major index, computed in float32:
  exact while the array has fewer than 2**24 elements (checked when the
  shape is static)."""
  shape = eqn.params["shape"]
  size = 1
  for d in shape:
    size *= d
  if isinstance(size, int) and size >= 2 ** 24:
    raise _unsupported(eqn, f"{size} elements, more than float32 counts exactly")
  index = jnp.zeros(shape, _F32)
  stride: Any = 1
  for dim in reversed(range(len(shape))):
    term = lax.broadcasted_iota(_F32, shape, dim)
    if not (isinstance(stride, int) and stride == 1):
      term = term * lax.convert_element_type(stride, _F32)
    index = index + term
    stride = stride * shape[dim]
  zero = jnp.zeros(shape, _F32)
  return [Limbs(zero, zero), from_exact_float(index)]


def _threefry_rule(eqn: core.JaxprEqn, *args: Limbs) -> list[Any]:
  shape = eqn.outvars[0].aval.shape
  return [broadcast_to(y, shape) for y in threefry2x32(*args)]


def _select_n(eqn: core.JaxprEqn, pred: Any, *cases: Limbs) -> list[Any]:
  return _per_limb(eqn, [pred, *cases])


def _sort(eqn: core.JaxprEqn, *operands: Any) -> list[Any]:
  """A uint32 sort key becomes two keys (hi, then lo); a uint32 payload, two
  payloads. The limbs are exact small floats, so float order is uint32 order."""
  p = eqn.params
  num_keys, flat, counts = p["num_keys"], [], []
  extra_keys = 0
  for i, x in enumerate(operands):
    parts = list(x) if isinstance(x, Limbs) else [x]
    flat.extend(parts)
    counts.append(len(parts))
    if i < num_keys:
      extra_keys += len(parts) - 1
  outs = lax.sort(flat, dimension=p["dimension"], is_stable=p["is_stable"],
                  num_keys=num_keys + extra_keys)
  results, at = [], 0
  for n in counts:
    results.append(Limbs(outs[at], outs[at + 1]) if n == 2 else outs[at])
    at += n
  return results


def _max(eqn: core.JaxprEqn, a: Limbs, b: Limbs) -> list[Any]:
  return [broadcast_to(select(less(a, b), b, a), eqn.outvars[0].aval.shape)]


def _min(eqn: core.JaxprEqn, a: Limbs, b: Limbs) -> list[Any]:
  return [broadcast_to(select(less(a, b), a, b), eqn.outvars[0].aval.shape)]


# ------------------------------------------------------------ control flow


def _cond(eqn: core.JaxprEqn, index: Any, *ops: Any) -> list[Any]:
  fns = [lambda *a, _b=b: _run_closed(_b, a) for b in eqn.params["branches"]]
  return list(lax.switch(index, fns, *ops))


def _while(eqn: core.JaxprEqn, *invals: Any) -> list[Any]:
  p = eqn.params
  nc, nb = p["cond_nconsts"], p["body_nconsts"]
  if p["cond_jaxpr"].out_avals[0].shape:
    raise _unsupported(eqn, "a batched while predicate")
  cond_consts, body_consts = invals[:nc], invals[nc:nc + nb]
  return list(lax.while_loop(
      lambda c: _run_closed(p["cond_jaxpr"], [*cond_consts, *c])[0],
      lambda c: tuple(_run_closed(p["body_jaxpr"], [*body_consts, *c])),
      tuple(invals[nc + nb:])))


def _scan(eqn: core.JaxprEqn, *invals: Any) -> list[Any]:
  p = eqn.params
  nconsts, ncarry = p["num_consts"], p["num_carry"]
  consts = invals[:nconsts]

  def step(carry: tuple, xs: tuple) -> tuple[tuple, tuple]:
    outs = _run_closed(p["jaxpr"], [*consts, *carry, *xs])
    return tuple(outs[:ncarry]), tuple(outs[ncarry:])

  carry, ys = lax.scan(step, tuple(invals[nconsts:nconsts + ncarry]),
                       tuple(invals[nconsts + ncarry:]), length=p["length"],
                       reverse=p["reverse"], unroll=p["unroll"])
  return [*carry, *ys]


_RULES: dict[str, Callable[..., list[Any]]] = {
    "add": _binary(add),
    "sub": _binary(sub),
    "xor": _binary(xor),
    "and": _binary(bitwise_and),
    "or": _binary(bitwise_or),
    "not": lambda eqn, x: [bitwise_not(x)],
    "eq": _binary(equal),
    "ne": _binary(lambda a, b: ~equal(a, b)),
    "lt": _binary(less),
    "gt": _binary(lambda a, b: less(b, a)),
    "le": _binary(lambda a, b: ~less(b, a)),
    "ge": _binary(lambda a, b: ~less(a, b)),
    "mul": _binary(mul),
    "div": _binary(lambda a, b: divmod_(a, b)[0]),
    "rem": _binary(lambda a, b: divmod_(a, b)[1]),
    "sort": _sort,
    "max": _max,
    "min": _min,
    "shift_left": _shift(shift_left),
    "shift_right_logical": _shift(shift_right_logical),
    "threefry2x32": _threefry_rule,
    "convert_element_type": _convert,
    "bitcast_convert_type": _convert,
    "iota": lambda eqn: _iota(eqn),
    "iota_2x32_shape": lambda eqn: _iota_2x32_shape(eqn),
    "select_n": _select_n,
    "cond": _cond,
    "while": _while,
    "scan": _scan,
}


# ------------------------------------------------------------ the boundary


BOUNDARIES = ("int32", "hi_lo")


def hi_lo_of(x: Any) -> np.ndarray:
  """A uint32 array as int32[..., 2]: its high and low 16-bit halves."""
  x = np.asarray(x, np.uint32)
  return np.stack([x >> 16, x & 0xFFFF], -1).astype(np.int32)


def uint32_of_hi_lo(x: Any) -> np.ndarray:
  """The inverse of hi_lo_of."""
  x = np.asarray(x).astype(np.uint32)
  return (x[..., 0] << 16) | x[..., 1]


def _boundary_in(x: Any, boundary: str) -> Limbs:
  if boundary == "int32":
    return from_int32(x)
  return Limbs(lax.convert_element_type(x[..., 0], _F32),
               lax.convert_element_type(x[..., 1], _F32))


def _boundary_out(a: Limbs, boundary: str) -> Any:
  if boundary == "int32":
    return to_int32(a)
  return lax.convert_element_type(jnp.stack([a.hi, a.lo], -1), np.int32)


def int32_for_uint32(fun: Callable[..., Any], example_args: Sequence[Any], *,
                     boundary: str = "int32"
                     ) -> tuple[Callable[..., Any], list[Any]]:
  """(`fun` computing its uint32 values as limbs, the example arguments as
  that function takes them).

  A uint32 argument or result crosses the boundary as
    boundary="int32": int32 of the same shape and bits (x.view(np.int32)),
        exact where the runtime's int32 is (TF.js CPU, Node.js, WASM);
    boundary="hi_lo": int32[*shape, 2] of its 16-bit halves (hi_lo_of), exact
        even where int32 is stored as float32 (TF.js WebGL).
  Returns `fun` and `example_args` unchanged when `fun` computes nothing in
  uint32 (traced once on the examples to find out).
  """
  if boundary not in BOUNDARIES:
    raise ValueError(f"boundary must be one of {BOUNDARIES}, not {boundary!r}")
  example_args = list(example_args)
  leaves, in_tree = tree_util.tree_flatten(example_args)
  avals = [ji.shaped_array(np.shape(x), np.dtype(getattr(x, "dtype", None)
                                                  or np.asarray(x).dtype))
           for x in leaves]
  is_u32 = [a.dtype == _U32 for a in avals]

  def flat_fun(*xs: Any) -> list[Any]:
    out = fun(*tree_util.tree_unflatten(in_tree, xs))
    out_leaves, out_tree = tree_util.tree_flatten(out)
    out_trees.append(out_tree)
    return out_leaves

  out_trees: list[Any] = []
  jaxpr, consts = ji.trace_to_jaxpr(flat_fun, avals, "jax2tf_impl.uint32_limbs")
  closed = prng_keys.physicalize(core.ClosedJaxpr(jaxpr, consts))
  if not any_aval(closed.jaxpr, _is_u32):
    return fun, example_args

  def wrapped(*args: Any) -> Any:
    xs, _ = tree_util.tree_flatten(list(args))
    arg_avals = [ji.shaped_array(
        np.shape(x)[:-1] if u and boundary == "hi_lo" else np.shape(x),
        _U32 if u else x.dtype) for x, u in zip(xs, is_u32)]
    del out_trees[:]
    j, c = ji.trace_to_jaxpr(flat_fun, arg_avals, "jax2tf_impl.uint32_limbs")
    phys = prng_keys.physicalize(core.ClosedJaxpr(j, c))
    ins = [_boundary_in(x, boundary) if u else x for x, u in zip(xs, is_u32)]
    outs = eval_limbs(phys.jaxpr, phys.consts, ins)
    outs = [_boundary_out(o, boundary) if isinstance(o, Limbs) else o
            for o in outs]
    return tree_util.tree_unflatten(out_trees[-1], outs)

  view = (lambda x: np.asarray(x).view(np.int32)) if boundary == "int32" else hi_lo_of
  as_int32 = [view(x) if u else x for x, u in zip(leaves, is_u32)]
  return wrapped, tree_util.tree_unflatten(in_tree, as_int32)
