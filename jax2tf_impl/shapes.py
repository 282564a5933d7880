"""Polymorphic shapes: specs -> symbolic avals, and dimension evaluation in TF.

At conversion time JAX traces the function with symbolic dimensions
(`jax.export.symbolic_shape`). At run time each dimension variable is solved
from `tf.shape` of the inputs (JAX's own solver gives the solution as
expressions over the input dimensions), and every dimension expression a
rule needs is evaluated here to a TF int32 scalar. Dimensions known at
conversion time stay Python ints (design principle 3).
"""
from __future__ import annotations

import operator
import re
from typing import Any, Sequence

import numpy as np
import tensorflow as tf
from jax import export as jax_export
from jax2tf_impl import jax_internals as ji
from jax2tf_impl import tf_internals
from jax2tf_impl.errors import InputSpecError

DimValue = Any  # a Python int or a TF int32 scalar
DIM_DTYPE = tf.int32

# The run-time spec checks' messages start with one of these, so that a
# caller can tell an input that violates the spec (InputSpecError for eager
# callers) from any other InvalidArgumentError of the graph.
SPEC_MISMATCH = "input shapes do not match the polymorphic_shapes specification"
CONSTRAINT_VIOLATION = "input shapes violate the constraint"


def is_spec_violation(message: str) -> bool:
  """Whether a run-time error message comes from the spec checks here."""
  return SPEC_MISMATCH in message or CONSTRAINT_VIOLATION in message


def is_symbolic(d: Any) -> bool:
  return ji.is_symbolic_dim(d)


def is_static_shape(shape: Sequence[Any]) -> bool:
  """Whether every dimension is a Python int.

  Works on JAX shapes (ints or symbolic expressions) and on evaluated shapes
  (ints or TF int32 scalars) alike: the one static check of the package.
  """
  return all(isinstance(d, (int, np.integer)) for d in shape)


def parse_specs(polymorphic_shapes: Any, args: tuple, leaves_paths: list[str],
                in_tree: Any) -> list[str | None]:
  """One spec string (or None) per flat argument leaf.

  `polymorphic_shapes` is None, a string or None per positional argument
  (a pytree prefix of `args`), as in jax2tf.
  """
  if polymorphic_shapes is None:
    return [None] * len(leaves_paths)
  if not isinstance(polymorphic_shapes, (list, tuple)):
    if len(args) != 1:
      # jax2tf accepts a single spec only for a single argument.
      polymorphic_shapes = (polymorphic_shapes,) * len(args)
    else:
      polymorphic_shapes = (polymorphic_shapes,)
  polymorphic_shapes = tuple(polymorphic_shapes)
  if len(polymorphic_shapes) != len(args):
    raise InputSpecError(
        f"polymorphic_shapes must have one entry per positional argument: got "
        f"{len(polymorphic_shapes)} entries for {len(args)} arguments")
  try:
    per_leaf = ji.broadcast_prefix(
        polymorphic_shapes, args, is_leaf=lambda x: x is None)
  except ValueError as e:
    where = _prefix_mismatch(polymorphic_shapes, args, "args")
    raise InputSpecError(
        f"polymorphic_shapes {polymorphic_shapes} is not a pytree prefix of "
        f"the arguments: {where or e}") from e
  return [None if s is None else _spec_to_str(s) for s in per_leaf]


def _prefix_mismatch(spec: Any, arg: Any, path: str) -> str | None:
  """Where the pytree of `arg` departs from the spec prefix `spec`: the
  pytree path, what polymorphic_shapes expects there and what was given."""
  if spec is None or isinstance(spec, str):
    return None
  if isinstance(spec, dict):
    if not isinstance(arg, dict) or set(arg) != set(spec):
      got = (f"a dict with keys {sorted(arg, key=str)}"
             if isinstance(arg, dict) else f"a {type(arg).__name__}")
      return (f"at {path}: expected a dict with keys {sorted(spec, key=str)}"
              f" (as in polymorphic_shapes), got {got}")
    for k in spec:
      found = _prefix_mismatch(spec[k], arg[k], f"{path}[{k!r}]")
      if found:
        return found
    return None
  if isinstance(spec, (list, tuple)):
    if all(d is None or isinstance(d, (int, str)) for d in spec) and not \
        isinstance(arg, (list, tuple, dict)):
      return None  # a spec written as a tuple of dims, for an array
    if not isinstance(arg, (list, tuple)) or len(arg) != len(spec):
      got = (f"a {type(arg).__name__} of {len(arg)} entries"
             if isinstance(arg, (list, tuple)) else
             f"a {type(arg).__name__}")
      return (f"at {path}: expected a {type(spec).__name__} of {len(spec)} "
              f"entries (as in polymorphic_shapes), got {got}")
    for i, (s, a) in enumerate(zip(spec, arg)):
      found = _prefix_mismatch(s, a, f"{path}[{i}]")
      if found:
        return found
  return None


def _spec_to_str(spec: Any) -> str:
  if isinstance(spec, str):
    return spec
  if isinstance(spec, (tuple, list)):
    return "(" + ", ".join("_" if d is None else str(d) for d in spec) + ")"
  return str(spec)


def symbolic_avals_shapes(specs: list[str | None], static_shapes: list[tuple],
                          paths: list[str], constraints: Sequence[str] = ()
                          ) -> list[tuple]:
  """The (possibly symbolic) shape of each leaf, all in one symbolic scope."""
  scope = ji.SymbolicScope(tuple(constraints))
  shapes = []
  for spec, static, path in zip(specs, static_shapes, paths):
    if spec is None:
      if any(d is None for d in static):
        raise InputSpecError(
            f"argument {path} has shape {_fmt(static)} with unknown dimensions; "
            "give it a polymorphic_shapes spec such as '(b, ...)'")
      shapes.append(tuple(static))
      continue
    try:
      sym = jax_export.symbolic_shape(spec, like=tuple(static), scope=scope)
    except Exception as e:  # JAX raises ValueError for rank/size mismatch.
      raise InputSpecError(
          f"argument {path}: polymorphic shape spec '{spec}' does not fit the "
          f"argument's shape {_fmt(static)}: {e}") from e
    if len(sym) != len(static):
      raise InputSpecError(
          f"argument {path}: polymorphic shape spec '{spec}' has rank "
          f"{len(sym)} but the argument has shape {_fmt(static)}")
    shapes.append(tuple(sym))
  return shapes


def _fmt(shape: Sequence[Any]) -> str:
  """A shape as Python writes a tuple: (3,) (3, 4) ()."""
  dims = ["?" if d is None else str(d) for d in shape]
  return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


# --- evaluation of dimension expressions -----------------------------------

def dim_floordiv(a: DimValue, b: DimValue) -> DimValue:
  if isinstance(a, int) and isinstance(b, int):
    return a // b
  return tf.math.floordiv(a, b)


def dim_mod(a: DimValue, b: DimValue) -> DimValue:
  if isinstance(a, int) and isinstance(b, int):
    return a % b
  return tf.math.floormod(a, b)


def dim_max(a: DimValue, b: DimValue) -> DimValue:
  if isinstance(a, int) and isinstance(b, int):
    return max(a, b)
  return tf.maximum(a, b)


def dim_min(a: DimValue, b: DimValue) -> DimValue:
  if isinstance(a, int) and isinstance(b, int):
    return min(a, b)
  return tf.minimum(a, b)


_OPERATIONS = {"floordiv": dim_floordiv, "mod": dim_mod, "max": dim_max,
               "min": dim_min}


def _mul(a: DimValue, b: DimValue) -> DimValue:
  if isinstance(a, int) and a == 1:
    return b
  if isinstance(b, int) and b == 1:
    return a
  return a * b


def _add(a: DimValue, b: DimValue) -> DimValue:
  if isinstance(a, int) and a == 0:
    return b
  if isinstance(b, int) and b == 0:
    return a
  return a + b


def eval_dim(d: Any, env: dict[str, DimValue]) -> DimValue:
  """Evaluates a dimension (int or symbolic expression) to int or TF scalar."""
  if not is_symbolic(d):
    return operator.index(d)
  total: DimValue = 0
  for factors, coeff in ji.dim_terms(d):
    value: DimValue = 1
    for factor, exponent in factors:
      if factor.var is not None:
        if factor.var not in env:
          raise InputSpecError(
              f"dimension variable '{factor.var}' cannot be solved from the "
              f"input shapes; known variables: {sorted(env)}")
        f_val = env[factor.var]
      else:
        operands = [eval_dim(o, env) for o in factor.operands]
        f_val = _OPERATIONS[factor.operation](*operands)
      for _ in range(exponent):
        value = _mul(value, f_val)
    total = _add(total, _mul(value, coeff))
  return total


class DimEnv:
  """Values of the dimension variables for one call of a converted function."""

  def __init__(self, values: dict[str, DimValue] | None = None):
    self.values: dict[str, DimValue] = dict(values or {})

  def dim(self, d: Any) -> DimValue:
    return eval_dim(d, self.values)

  def shape(self, shape: Sequence[Any]) -> list[DimValue]:
    return [self.dim(d) for d in shape]


def solve_dim_env(avals: Sequence[Any], tensors: Sequence[tf.Tensor],
                  args_kwargs_tree: Any, paths: Sequence[str]) -> DimEnv:
  """Solves every dimension variable from the actual inputs' tf.shape.

  Also emits the run-time checks that the inputs fit the specs: every
  symbolic dimension must equal its expression, and every constraint must
  hold; a violation raises `InvalidArgumentError` naming the argument.
  """
  if all(is_static_shape(a.shape) for a in avals):
    return DimEnv()
  solution, constraints, synthetic = ji.solve_dim_vars(
      tuple(avals), args_kwargs_tree)
  synth_env: dict[str, DimValue] = {}
  for name, arg_idx, dim_idx in synthetic:
    static = tensors[arg_idx].shape[dim_idx]
    synth_env[name] = (int(static) if static is not None else
                       tf.shape(tensors[arg_idx], out_type=DIM_DTYPE)[dim_idx])
  values = {var: eval_dim(expr, synth_env) for var, expr in solution.items()}
  env = DimEnv(values)
  checks = []
  full_env = synth_env | values
  xla = tf_internals.graph_compiles_with_xla()
  for c in constraints.constraints:
    left, right = eval_dim(c.left, full_env), eval_dim(c.right, full_env)
    ok = _compare(c.comp, left, right)
    pieces = [p if isinstance(p, str) else eval_dim(p, full_env)
              for p in c.error_message_pieces]
    if isinstance(ok, (bool, np.bool_)):
      if not ok:
        raise InputSpecError(_spec_error("".join(str(p) for p in pieces),
                                         avals, paths))
      continue
    data = [_spec_error("", avals, paths)] + pieces
    checks.append(tf.debugging.Assert(ok, data, summarize=16))
    if xla:
      text = "".join(p for p in c.error_message_pieces if isinstance(p, str))
      text = text.split("specification. ", 1)[-1].split(". Using")[0]
      checks.append(_compile_time_check(
          ok, left, right, f"{_specs_of(avals, paths)} do not match: {text}"))
  # Symbolic scope constraints declared by the user (e.g. "b >= 16").
  scope_constraints = _user_constraints(avals)
  for cons in scope_constraints:
    left, right = env.dim(cons.left), env.dim(cons.right)
    ok = _compare_values(cons.is_equality, left, right)
    message = (f"{CONSTRAINT_VIOLATION} '{cons.text}' given in "
               f"polymorphic_shapes (the arguments: "
               f"{_specs_of(avals, paths)})")
    if isinstance(ok, (bool, np.bool_)):
      if not ok:
        raise InputSpecError(
            f"{message}, with " + ", ".join(
                f"{k} = {v}" for k, v in sorted(full_env.items())
                if k in values))
      continue
    data = [message + ", with"]
    for k in sorted(values):
      data += [f" {k} =", full_env[k]]
    checks.append(tf.debugging.Assert(ok, data, summarize=16))
    if xla:
      checks.append(_compile_time_check(ok, left, right, message))
  if checks:
    with tf.control_dependencies(checks):
      env.values = {k: (tf.identity(v) if isinstance(v, tf.Tensor) else v)
                    for k, v in env.values.items()}
  return env


def _compile_time_check(ok: Any, left: DimValue, right: DimValue,
                        message: str) -> Any:
  """A check that XLA cannot drop: it fails the compilation.

  Under jit_compile, tf.debugging.Assert compiles to nothing, so a call
  whose shapes violate the spec would run and return wrong-shaped results.
  XLA compiles for the concrete input shapes, so the dimension values are
  compile-time constants there; a reshape whose target size is `right`
  where the check fails makes that compilation fail with "Input to
  reshape is a tensor with <left> values, but the requested shape has
  <right>", in a node named after `message` (the argument paths, the
  specs and the violated equation).
  """
  as_vec = lambda v: tf.reshape(tf.cast(v, tf.int32), [1])  # noqa: E731
  probe = tf.zeros(as_vec(tf.maximum(left, 0)), tf.int8)
  with tf.name_scope("jax2tf_impl_input_check"):
    probe = tf.reshape(probe, as_vec(tf.where(ok, tf.maximum(left, 0),
                                              right)),
                       name=_op_name(message))
  return tf.size(probe)


def _op_name(message: str) -> str:
  """`message` as a TF op name (letters, digits, '_', '.', '-')."""
  text = (message.replace("*", "x").replace(">=", " ge ")
          .replace("==", " eq ").replace("=", " eq "))
  name = re.sub(r"[^A-Za-z0-9.\-]+", "_", text).strip("_.-")
  return (name or "input_check")[:240]


def _specs_of(avals: Sequence[Any], paths: Sequence[str]) -> str:
  return ", ".join(f"{p} with shape {_fmt(a.shape)}"
                   for p, a in zip(paths, avals)
                   if not is_static_shape(a.shape))


def _compare(cmp: Any, left: DimValue, right: DimValue) -> Any:
  return _compare_values(ji.is_equality_comparator(cmp), left, right)


def _compare_values(equality: bool, left: DimValue, right: DimValue) -> Any:
  both_static = isinstance(left, int) and isinstance(right, int)
  if equality:
    return (left == right) if both_static else tf.equal(left, right)
  return (left >= right) if both_static else tf.greater_equal(left, right)


def _user_constraints(avals: Sequence[Any]) -> list[ji.UserConstraint]:
  """The user's constraints (one symbolic scope for all arguments)."""
  for a in avals:
    for d in a.shape:
      if is_symbolic(d):
        return ji.user_constraints(d)
  return []


def _spec_error(msg: str, avals: Sequence[Any], paths: Sequence[str]) -> str:
  return f"{SPEC_MISMATCH} (expected {_specs_of(avals, paths)}): {msg}"
