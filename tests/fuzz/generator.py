"""Random JAX programs for differential fuzzing (converted vs `jax.jit`).

A program is straight-line Python over jnp/lax: `vN = <expression of earlier
variables>`, one statement per op, then `return` of some variables. It is
kept as data (`Program`) rather than as a function so that the shrinker
(shrink.py) can delete statements, cut the program at a statement (its
operands become inputs holding the values JAX computed there), shrink
shapes and simplify values, and so that every program prints as readable
Python (`Program.source()`, `Program.reproducer()`).

Validity is JAX's call, not ours: each candidate statement is abstractly
evaluated (`jax.eval_shape`) on the avals of its operands and dropped if JAX
refuses it (wrong dtype, incompatible shapes, symbolic dims JAX cannot
handle). A program JAX cannot run at all (jit error) is discarded by the
runner, never counted.

Polymorphic programs: the first input's leading dim is `b` (sometimes other
dims are `n` too); all avals are symbolic while generating, and the
converted function is run at two concrete sizes per program.
"""
from __future__ import annotations

import dataclasses
import random
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

DTYPES = ("float16", "bfloat16", "float32", "float64", "int8", "int32",
          "int64", "uint8", "uint32", "bool", "complex64")
FLOATS = ("float16", "bfloat16", "float32", "float64")
INTS = ("int8", "int32", "int64", "uint8", "uint32")

# Names the program source may use.
NAMESPACE: dict[str, Any] = dict(jax=jax, jnp=jnp, lax=lax, np=np,
                                 nan=np.nan, inf=np.inf)


def np_dtype(name: str) -> np.dtype:
  return np.dtype(jnp.bfloat16) if name == "bfloat16" else np.dtype(name)


def dtype_expr(name: str) -> str:
  return f"jnp.{name}" if name in ("bfloat16",) else f"np.{name}" if name != "bool" else "np.bool_"


# ----------------------------------------------------------------------------
# The program representation


@dataclasses.dataclass
class Input:
  """A program argument. kind "index": an integer array whose values index
  axis `axis` of variable `target` (bounds known only per concrete size);
  flavor "any" includes negative and out-of-bounds values, "inbounds"
  (negative allowed) for promise_in_bounds, "unique" distinct positions for
  .at[].set (duplicates would make the result undefined in JAX)."""
  name: str
  dtype: str
  shape: tuple  # ints, or str dimension expressions ("b", "2*b")
  kind: str = "data"
  target: Optional[str] = None
  axis: int = 0
  flavor: str = "any"

  def spec(self) -> str:
    return "(" + ", ".join(str(d) for d in self.shape) + ("," if len(self.shape) == 1 else "") + ")"


@dataclasses.dataclass
class Stmt:
  out: str
  code: str           # format string over args: "jnp.sin({0})"
  args: tuple
  family: str         # op family, for coverage statistics
  sign_exact: bool    # JAX defines the sign of zero results (no arithmetic)

  def line(self) -> str:
    return f"{self.out} = {self.code.format(*self.args)}"


@dataclasses.dataclass
class Program:
  inputs: list
  stmts: list
  outputs: list
  envs: list          # one dict of dim-var values per run ([{}] if static)
  values: list        # per env: {input name: np.ndarray}
  poly: bool = False

  @property
  def sign_exact(self) -> bool:
    return all(s.sign_exact for s in self.stmts)

  def source(self, name: str = "f") -> str:
    args = ", ".join(i.name for i in self.inputs)
    lines = [f"def {name}({args}):"]
    lines += ["  " + s.line() for s in self.stmts]
    outs = ", ".join(self.outputs)
    lines.append(f"  return ({outs},)" if len(self.outputs) == 1 else f"  return ({outs})")
    return "\n".join(lines)

  def function(self) -> Callable[..., Any]:
    ns = dict(NAMESPACE)
    exec(self.source(), ns)  # pylint: disable=exec-used
    return ns["f"]

  def specs(self) -> Optional[list]:
    return [i.spec() for i in self.inputs] if self.poly else None

  def families(self) -> list:
    return [s.family for s in self.stmts]

  def dtypes(self) -> set:
    return {i.dtype for i in self.inputs}

  def reproducer(self) -> str:
    """Readable, runnable Python: the function, its inputs, and the spec."""
    out = [self.source()]
    for k, (env, vals) in enumerate(zip(self.envs, self.values)):
      if self.poly:
        out.append(f"# dimension values: {env}")
      sep = "" if k == 0 else f"_{k}"
      out.append(f"args{sep} = [")
      for inp in self.inputs:
        out.append(f"    {format_array(vals[inp.name])},  # {inp.name}")
      out.append("]")
    if self.poly:
      out.append(f"polymorphic_shapes = {self.specs()!r}")
    return "\n".join(out)

  def copy(self) -> "Program":
    return Program(list(self.inputs), list(self.stmts), list(self.outputs),
                   [dict(e) for e in self.envs],
                   [dict(v) for v in self.values], self.poly)


def _scalar_repr(x: Any, dtype: np.dtype) -> str:
  if dtype == np.bool_:
    return repr(bool(x))
  if np.issubdtype(dtype, np.integer):
    return repr(int(x))
  if np.issubdtype(dtype, np.complexfloating):
    return f"complex({_scalar_repr(x.real, np.dtype(np.float64))}, {_scalar_repr(x.imag, np.dtype(np.float64))})"
  f = float(x)
  if np.isnan(f):
    return "nan"
  if np.isinf(f):
    return "inf" if f > 0 else "-inf"
  return repr(f)


def format_array(a: np.ndarray) -> str:
  dt = a.dtype
  dname = "bfloat16" if dt == np_dtype("bfloat16") else dt.name
  dexpr = dtype_expr(dname)
  if a.size == 0:
    return f"np.zeros({a.shape}, {dexpr})"
  flat = ", ".join(_scalar_repr(x, dt) for x in a.reshape(-1))
  if a.ndim == 0:
    return f"np.array({flat}, {dexpr})"
  if a.ndim == 1:
    return f"np.array([{flat}], {dexpr})"
  return f"np.array([{flat}], {dexpr}).reshape({a.shape})"


# ----------------------------------------------------------------------------
# Dimension expressions (symbolic dims are strings, evaluated per run)

_DIM_FUNS = dict(floordiv=lambda a, b: a // b, mod=lambda a, b: a % b,
                 max=max, min=min, non_negative=lambda a: max(a, 0))


def eval_dim(d: Any, env: dict) -> int:
  if isinstance(d, (int, np.integer)):
    return int(d)
  return int(eval(str(d), dict(_DIM_FUNS), dict(env)))  # pylint: disable=eval-used


def concrete_shape(shape: tuple, env: dict) -> tuple:
  return tuple(eval_dim(d, env) for d in shape)


def is_static(d: Any) -> bool:
  return isinstance(d, (int, np.integer))


# ----------------------------------------------------------------------------
# Values: ordinary numbers mixed with the edges (NaN, +-inf, -0.0, extremes)


def float_specials(dtype: np.dtype) -> list:
  fi = jnp.finfo(dtype)
  return [np.nan, np.inf, -np.inf, -0.0, 0.0, 1.0, -1.0, float(fi.max),
          -float(fi.max), float(fi.tiny), float(fi.smallest_subnormal),
          0.5, -2.5, 3.0]


def int_specials(dtype: np.dtype) -> list:
  ii = np.iinfo(dtype)
  vals = [0, 1, 2, ii.max, ii.min, ii.max - 1]
  if ii.min < 0:
    vals += [-1, -2, ii.min + 1]
  return vals


def random_values(rng: np.random.RandomState, dtype_name: str, shape: tuple,
                  special_p: float) -> np.ndarray:
  dtype = np_dtype(dtype_name)
  n = int(np.prod(shape)) if shape else 1
  if dtype_name == "bool":
    return rng.randint(0, 2, size=shape).astype(np.bool_)
  if np.issubdtype(dtype, np.integer):
    ii = np.iinfo(dtype)
    lo, hi = max(ii.min, -8), min(ii.max, 8)
    vals = rng.randint(lo, hi + 1, size=n).astype(np.int64).astype(object)
    specials = int_specials(dtype)
    for k in range(n):
      if rng.rand() < special_p:
        vals[k] = specials[rng.randint(len(specials))]
    return np.array(list(vals), dtype=dtype).reshape(shape)
  if np.issubdtype(dtype, np.complexfloating):
    part = "float32" if dtype == np.complex64 else "float64"
    re = random_values(rng, part, shape, special_p / 2)
    im = random_values(rng, part, shape, special_p / 2)
    out = np.empty(shape, dtype)
    out.real, out.imag = re, im
    return out
  scale = [1.0, 1.0, 3.0, 100.0][rng.randint(4)]
  vals = (rng.randn(n) * scale).astype(np.float64)
  specials = float_specials(dtype)
  for k in range(n):
    if rng.rand() < special_p:
      vals[k] = specials[rng.randint(len(specials))]
  return vals.astype(dtype).reshape(shape)


def index_values(rng: np.random.RandomState, inp: Input, bound: int,
                 env: dict) -> Optional[np.ndarray]:
  """Index values for axis size `bound`: None if the flavor cannot be met."""
  shape = concrete_shape(inp.shape, env)
  n = int(np.prod(shape)) if shape else 1
  dtype = np_dtype(inp.dtype)
  if inp.flavor == "unique":
    if n > bound:
      return None
    pos = rng.permutation(bound)[:n]
    neg = rng.rand(n) < 0.4
    vals = np.where(neg, pos - bound, pos)
  elif inp.flavor == "inbounds":
    if bound == 0 and n:
      return None
    vals = rng.randint(-bound, bound, size=n) if bound else np.zeros(n, int)
  else:
    lim = max(2 * bound, 2)
    vals = rng.randint(-lim, lim + 1, size=n)
  return vals.astype(dtype).reshape(shape)


# ----------------------------------------------------------------------------
# The generator


class _Gen:
  """Builds one program: a pool of typed variables, grown op by op."""

  def __init__(self, rng: random.Random, poly: bool):
    self.rng = rng
    self.poly = poly
    self.scope = jax.export.SymbolicScope() if poly else None
    self.inputs: list[Input] = []
    self.stmts: list[Stmt] = []
    self.avals: dict[str, jax.ShapeDtypeStruct] = {}
    self.dim_vars: list[str] = []

  def bits_defined(self, name: str) -> bool:
    """Whether JAX defines every bit of `name`: an input, or computed from
    inputs by structural ops only. A float produced by arithmetic is only
    defined to JAX's tolerance, so its bit pattern must not be compared."""
    stmt = next((s for s in self.stmts if s.out == name), None)
    if stmt is None:
      return True
    return stmt.sign_exact and all(self.bits_defined(a) for a in stmt.args)

  # -- avals

  def _aval(self, shape: tuple, dtype: str) -> jax.ShapeDtypeStruct:
    if self.poly and not all(is_static(d) for d in shape):
      spec = "(" + ", ".join(str(d) for d in shape) + ",)"
      shape = jax.export.symbolic_shape(spec, scope=self.scope)
    return jax.ShapeDtypeStruct(shape, np_dtype(dtype))

  def add_input(self, shape: tuple, dtype: str, **kw: Any) -> str:
    name = f"x{len(self.inputs)}"
    self.inputs.append(Input(name, dtype, tuple(shape), **kw))
    self.avals[name] = self._aval(shape, dtype)
    return name

  def random_dim(self) -> Any:
    r = self.rng
    if self.poly and self.dim_vars and r.random() < 0.3:
      return r.choice(self.dim_vars)
    return r.choice([0, 1, 1, 2, 2, 3, 4, 5])

  def random_shape(self, max_rank: int = 3) -> tuple:
    rank = self.rng.choice([0, 1, 1, 2, 2, 2, 3, 3][:max(1, 2 * max_rank + 2)])
    return tuple(self.random_dim() for _ in range(min(rank, max_rank)))

  def random_dtype(self) -> str:
    return self.rng.choice(DTYPES + ("float32", "int32", "float32"))

  def pool(self, pred: Callable[[jax.ShapeDtypeStruct], bool] = lambda a: True) -> list:
    return [n for n, a in self.avals.items() if pred(a)]

  def pick(self, pred: Callable[[jax.ShapeDtypeStruct], bool] = lambda a: True) -> Optional[str]:
    names = self.pool(pred)
    if not names:
      return None
    # Prefer recent variables so that ops compose into chains.
    weights = [(1 + i) ** 2 for i in range(len(names))]
    return self.rng.choices(names, weights)[0]

  def shape_str(self, name: str) -> tuple:
    """The aval's shape with symbolic dims as strings (for new inputs)."""
    return tuple(d if is_static(d) else str(d) for d in self.avals[name].shape)

  # -- statements

  def try_add(self, code: str, args: tuple, family: str, sign_exact: bool,
              n_new_inputs: int = 0) -> bool:
    """Adds the statement if JAX accepts it; else undoes its new inputs."""
    uniq = list(dict.fromkeys(args))
    fn = eval(f"lambda {', '.join(uniq) or '_unused=None'}: " + code.format(*args),
              dict(NAMESPACE))  # pylint: disable=eval-used
    try:
      out = jax.eval_shape(fn, *[self.avals[a] for a in uniq])
    except Exception:  # pylint: disable=broad-except
      out = None
    if not isinstance(out, jax.ShapeDtypeStruct) or out.dtype == np.dtype("complex128") \
        or _size_too_big(out.shape):
      for _ in range(n_new_inputs):
        inp = self.inputs.pop()
        del self.avals[inp.name]
      return False
    name = f"v{len(self.stmts)}"
    self.stmts.append(Stmt(name, code, tuple(args), family, sign_exact))
    self.avals[name] = out
    return True


def _size_too_big(shape: tuple) -> bool:
  n = 1
  for d in shape:
    n *= d if is_static(d) else 4
  return n > 400


# ----------------------------------------------------------------------------
# Op catalog: each op takes the generator and tries to add one statement.

UNARY_FLOAT = ["jnp.sin", "jnp.cos", "jnp.tan", "jnp.tanh", "jnp.exp", "jnp.exp2", "jnp.log",
               "jnp.log1p", "jnp.expm1", "jnp.sqrt", "lax.rsqrt", "lax.cbrt",
               "jnp.arctan", "jnp.arcsin", "jnp.arccos", "jnp.arcsinh", "jnp.arccosh",
               "jnp.arctanh", "jnp.sinh", "jnp.cosh", "jax.nn.sigmoid", "lax.erf",
               "lax.erfc", "lax.erf_inv", "lax.lgamma", "lax.digamma", "jnp.floor",
               "jnp.ceil", "jnp.round", "jnp.trunc", "lax.round", "jnp.reciprocal",
               "jax.nn.relu", "jax.nn.softplus", "jax.nn.gelu", "jnp.log2", "jnp.log10",
               "lax.is_finite", "jnp.isnan", "jnp.isinf", "jnp.signbit", "jnp.real",
               "jnp.imag", "jnp.conj", "jnp.angle"]
UNARY_ANY = ["jnp.abs", "jnp.negative", "jnp.sign", "jnp.square", "jnp.positive"]
UNARY_INT = ["jnp.bitwise_not", "lax.population_count", "lax.clz", "jnp.invert"]
SIGN_EXACT_UNARY = {"jnp.abs", "jnp.negative", "jnp.positive", "jnp.floor", "jnp.ceil",
                    "jnp.trunc", "jnp.round", "lax.round", "jnp.real", "jnp.imag", "jnp.conj",
                    "jnp.sign", "jax.nn.relu", "jnp.signbit", "jnp.isnan", "jnp.isinf",
                    "lax.is_finite", "jnp.sin", "jnp.tan", "jnp.arctan", "jnp.sinh",
                    "jnp.tanh", "jnp.arcsinh", "jnp.arctanh", "jnp.sqrt", "lax.cbrt",
                    "jnp.expm1", "jnp.log1p", "lax.erf", "lax.erf_inv", "jnp.arcsin"}
BINARY = ["jnp.add", "jnp.subtract", "jnp.multiply", "jnp.true_divide", "jnp.floor_divide",
          "jnp.remainder", "jnp.fmod", "jnp.power", "jnp.maximum", "jnp.minimum",
          "jnp.arctan2", "jnp.hypot", "jnp.copysign", "jnp.nextafter", "lax.div",
          "lax.rem", "lax.pow", "jnp.logaddexp", "jnp.bitwise_and", "jnp.bitwise_or",
          "jnp.bitwise_xor", "jnp.left_shift", "jnp.right_shift",
          "lax.shift_right_logical", "jnp.logical_and", "jnp.logical_or",
          "jnp.logical_xor", "jnp.fmax", "jnp.fmin", "jnp.float_power"]
SIGN_EXACT_BINARY = {"jnp.maximum", "jnp.minimum", "jnp.copysign", "jnp.multiply",
                     "jnp.fmax", "jnp.fmin"}
COMPARE = ["<", "<=", "==", "!=", ">", ">="]


def _broadcast_partner(g: _Gen, x: str) -> tuple:
  """An operand for a binary op with x: an existing variable, a new input
  of x's shape, of a broadcastable shape (1s, a suffix), or a literal."""
  r = g.rng
  choice = r.random()
  if choice < 0.3:
    y = g.pick()
    return y, 0
  shape = list(g.shape_str(x))
  if choice < 0.55:
    pass
  elif choice < 0.75 and shape:
    shape = [1 if r.random() < 0.5 else d for d in shape]
  elif choice < 0.9:
    shape = shape[r.randint(0, len(shape)):]
  else:
    lit = r.choice(["2", "-1", "0.5", "0", "3", "True", "1e30", "-0.0"])
    return lit, -1
  dtype = str(g.avals[x].dtype) if r.random() < 0.8 else g.random_dtype()
  return g.add_input(tuple(shape), dtype), 1


def op_unary(g: _Gen) -> bool:
  x = g.pick()
  if x is None:
    return False
  dt = g.avals[x].dtype
  names = UNARY_ANY + (UNARY_INT if np.issubdtype(dt, np.integer) or dt == np.bool_ else UNARY_FLOAT)
  fn = g.rng.choice(names)
  return g.try_add(fn + "({0})", (x,), "unary", fn in SIGN_EXACT_UNARY)


def _binary_code(g: _Gen, template: str, x: str) -> bool:
  y, new = _broadcast_partner(g, x)
  if new == -1:
    args = (x,)
    code = template.replace("{1}", y)
    return g.try_add(code, args, "binary", False)
  if g.rng.random() < 0.5:
    return g.try_add(template, (x, y), "binary", False, new)
  return g.try_add(template.replace("{0}", "{X}").replace("{1}", "{0}").replace("{X}", "{1}"),
                   (x, y), "binary", False, new)


def op_binary(g: _Gen) -> bool:
  x = g.pick()
  if x is None:
    return False
  fn = g.rng.choice(BINARY)
  ok = _binary_code(g, fn + "({0}, {1})", x)
  if ok and fn in SIGN_EXACT_BINARY and fn != "jnp.multiply":
    g.stmts[-1].sign_exact = True
  return ok


def op_operator(g: _Gen) -> bool:
  x = g.pick()
  if x is None:
    return False
  op = g.rng.choice(["+", "-", "*", "/", "//", "%", "**", "&", "|", "^", "<<", ">>", "@"])
  return _binary_code(g, "{0} " + op + " {1}", x)


def op_compare_where(g: _Gen) -> bool:
  x = g.pick()
  if x is None:
    return False
  cmp = g.rng.choice(COMPARE)
  r = g.rng.random()
  if r < 0.35:
    return _binary_code(g, "({0} " + cmp + " {1})", x)
  y = g.pick(lambda a: a.dtype == g.avals[x].dtype)
  fill = g.rng.choice(["0", "-0.0", "nan", "inf", "-1", "{1}"])
  if fill == "{1}":
    return g.try_add("jnp.where({0} " + cmp + " {1}, {0}, {1})", (x, y), "where", True)
  if r < 0.7:
    return g.try_add("jnp.where({0} " + cmp + " 0, {0}, " + fill + ")", (x,), "where", True)
  c = g.pick(lambda a: a.dtype == np.bool_)
  if c is None or y is None:
    return False
  return g.try_add("lax.select({0}, {1}, {2})", (c, x, y), "select", True)


def op_clip(g: _Gen) -> bool:
  x = g.pick()
  if x is None:
    return False
  lo, hi = g.rng.choice([("-1", "1"), ("0", "None"), ("None", "2"), ("2", "-2")])
  if g.rng.random() < 0.5:
    return g.try_add(f"jnp.clip({{0}}, {lo}, {hi})", (x,), "clip", True)
  return g.try_add(f"lax.clamp(jnp.array({lo if lo != 'None' else -3}, {{0}}.dtype), {{0}}, "
                   f"jnp.array({hi if hi != 'None' else 3}, {{0}}.dtype))", (x,), "clip", True)


def op_convert(g: _Gen) -> bool:
  x = g.pick()
  if x is None:
    return False
  dt = g.random_dtype()
  if g.rng.random() < 0.8:
    return g.try_add(f"{{0}}.astype({dtype_expr(dt)})", (x,), "convert", False)
  same_width = {"float32": "int32", "int32": "float32", "uint32": "float32",
                "float64": "int64", "int64": "float64", "float16": "int16",
                "bfloat16": "int16", "int8": "uint8", "uint8": "int8"}
  src = str(g.avals[x].dtype)
  if src not in same_width:
    return False
  if np.issubdtype(g.avals[x].dtype, np.inexact) or src == "bfloat16":
    if not g.bits_defined(x):  # lgamma(x) to int64 compares ulps exactly
      return False
  return g.try_add(f"lax.bitcast_convert_type({{0}}, np.{same_width[src]})", (x,),
                   "bitcast", True)


def _axis(g: _Gen, x: str, allow_none: bool = True) -> Optional[str]:
  nd = len(g.avals[x].shape)
  if nd == 0:
    return "None" if allow_none else None
  r = g.rng.random()
  if allow_none and r < 0.15:
    return "None"
  if allow_none and r < 0.3 and nd >= 2:
    axes = sorted(g.rng.sample(range(nd), 2))
    return f"({axes[0]}, {axes[1]})"
  a = g.rng.randrange(nd)
  return str(a - nd if g.rng.random() < 0.3 else a)


def op_reduce(g: _Gen) -> bool:
  x = g.pick()
  if x is None:
    return False
  fn = g.rng.choice(["jnp.sum", "jnp.prod", "jnp.max", "jnp.min", "jnp.mean", "jnp.any",
                     "jnp.all", "jnp.argmax", "jnp.argmin", "jnp.nanmax", "jnp.nansum",
                     "jax.nn.logsumexp", "jnp.var", "jnp.linalg.norm", "jnp.count_nonzero"])
  axis = _axis(g, x, allow_none=fn not in ("jnp.linalg.norm",))
  if axis is None:
    return False
  if fn in ("jnp.argmax", "jnp.argmin") and axis.startswith("("):
    axis = axis[1:].split(",")[0]
  keep = ", keepdims=True" if g.rng.random() < 0.2 and fn != "jnp.count_nonzero" else ""
  exact = fn in ("jnp.max", "jnp.min", "jnp.argmax", "jnp.argmin", "jnp.any", "jnp.all",
                 "jnp.nanmax")
  if fn == "jnp.max" and g.rng.random() < 0.3:
    return g.try_add(f"jnp.max({{0}}, axis={axis}, initial=-inf{keep})", (x,), "reduce", exact)
  return g.try_add(f"{fn}({{0}}, axis={axis}{keep})", (x,), "reduce", exact)


def op_cumulative(g: _Gen) -> bool:
  x = g.pick(lambda a: len(a.shape) >= 1)
  if x is None:
    return False
  axis = _axis(g, x, allow_none=False)
  fn = g.rng.choice(["jnp.cumsum", "jnp.cumprod", "lax.cummax", "lax.cummin",
                     "lax.cumsum", "lax.cumlogsumexp", "lax.cumprod"])
  if fn.startswith("lax."):
    rev = g.rng.choice(["False", "True"])
    ax = int(axis) % len(g.avals[x].shape)
    return g.try_add(f"{fn}({{0}}, axis={ax}, reverse={rev})", (x,), "cumulative",
                     fn in ("lax.cummax", "lax.cummin"))
  return g.try_add(f"{fn}({{0}}, axis={axis})", (x,), "cumulative", False)


def op_structural(g: _Gen) -> bool:
  x = g.pick()
  if x is None:
    return False
  r = g.rng
  shape = g.avals[x].shape
  nd = len(shape)
  kind = r.choice(["reshape", "transpose", "slice", "concat", "pad", "rev", "broadcast",
                   "expand", "squeeze", "lax_slice", "dyn_slice", "tile", "dyn_update",
                   "repeat", "roll"])
  if kind == "reshape":
    if all(is_static(d) for d in shape):
      n = int(np.prod(shape))
      divs = [d for d in range(1, n + 1) if n % d == 0] or [1]
      d0 = r.choice(divs)
      target = r.choice([f"({d0}, -1)", "(-1,)", f"(-1, {d0})", "(1, -1, 1)"]) if n else \
          r.choice(["(0,)", "(-1, 0)", "(0, 3)"])
    else:
      target = r.choice(["(-1,)", "(" + ", ".join(str(d) for d in shape[::-1]) + ",)",
                         f"({shape[0]}, -1)" if nd else "(1,)"])
    return g.try_add(f"jnp.reshape({{0}}, {target})", (x,), "reshape", True)
  if kind == "transpose":
    perm = list(range(nd))
    r.shuffle(perm)
    return g.try_add(f"jnp.transpose({{0}}, {tuple(perm)})", (x,), "transpose", True)
  if kind == "slice":
    if nd == 0:
      return False
    parts = []
    for _ in range(r.randint(1, nd)):
      parts.append(r.choice([":", "1:", ":-1", "::-1", "::2", "1::2", "-2:", ":3", "None",
                             "0", "-1", "...", "2:1"]))
    return g.try_add("{0}[" + ", ".join(parts) + "]", (x,), "slice", True)
  if kind == "concat":
    y = g.pick(lambda a: a.dtype == g.avals[x].dtype and len(a.shape) == nd)
    if nd == 0 or y is None:
      return False
    return g.try_add(f"jnp.concatenate([{{0}}, {{1}}, {{0}}], axis={r.randrange(nd) - nd})",
                     (x, y), "concat", True)
  if kind == "pad":
    if nd == 0:
      return False
    if r.random() < 0.5:
      widths = tuple((r.randint(0, 2), r.randint(0, 2)) for _ in range(nd))
      mode = r.choice(["", ", mode='edge'", ", mode='reflect'", ", mode='wrap'",
                       ", constant_values=-1"])
      return g.try_add(f"jnp.pad({{0}}, {widths}{mode})", (x,), "pad", True)
    cfg = tuple((r.randint(-1, 2), r.randint(-1, 2), r.randint(0, 1)) for _ in range(nd))
    pv = r.choice(["0", "-1", "nan", "-0.0"])
    return g.try_add(f"lax.pad({{0}}, jnp.array({pv}, {{0}}.dtype), {cfg})", (x,), "pad", True)
  if kind == "rev":
    if nd == 0:
      return False
    return g.try_add(f"jnp.flip({{0}}, {_axis(g, x)})", (x,), "rev", True)
  if kind == "broadcast":
    new = tuple(g.random_dim() for _ in range(r.randint(1, 2)))
    full = new + tuple(1 if (is_static(d) and d == 1 and r.random() < 0.3) else d for d in shape)
    full = tuple(str(d) if not is_static(d) else d for d in full)
    tshape = "(" + ", ".join(_dim_code(d, x, shape) for d in full) + ",)"
    return g.try_add(f"jnp.broadcast_to({{0}}, {tshape})", (x,), "broadcast", True)
  if kind == "expand":
    return g.try_add(f"jnp.expand_dims({{0}}, {r.randint(-nd - 1, nd)})", (x,), "reshape", True)
  if kind == "squeeze":
    return g.try_add("jnp.squeeze({0})", (x,), "reshape", True)
  if kind == "lax_slice":
    if nd == 0 or not all(is_static(d) for d in shape):
      return False
    starts = [r.randint(0, d) for d in shape]
    limits = [r.randint(s, d) for s, d in zip(starts, shape)]
    strides = [r.randint(1, 2) for _ in shape]
    return g.try_add(f"lax.slice({{0}}, {starts}, {limits}, {strides})", (x,), "slice", True)
  if kind in ("dyn_slice", "dyn_update"):
    if nd == 0:
      return False
    starts = [str(r.randint(-3, 5)) for _ in range(nd)]
    if r.random() < 0.5:
      i = g.add_input((), "int32", kind="index", target=x, axis=0)
      starts[0] = i
      args = (x, i)
      starts[0] = "{1}"
      new = 1
    else:
      args, new = (x,), 0
    sizes = [min(r.randint(0, 2), d) if is_static(d) else 1 for d in shape]
    if kind == "dyn_slice":
      return g.try_add(f"lax.dynamic_slice({{0}}, ({', '.join(starts)},), {tuple(sizes)})",
                       args, "dynamic_slice", True, new)
    upd = f"jnp.full({tuple(sizes)}, 7, {{0}}.dtype)"
    return g.try_add(f"lax.dynamic_update_slice({{0}}, {upd}, ({', '.join(starts)},))",
                     args, "dynamic_update_slice", True, new)
  if kind == "tile":
    reps = tuple(r.randint(1, 2) for _ in range(max(nd, 1)))
    return g.try_add(f"jnp.tile({{0}}, {reps})", (x,), "tile", True)
  if kind == "repeat":
    return g.try_add(f"jnp.repeat({{0}}, {r.randint(1, 3)}, axis={_axis(g, x)})", (x,),
                     "repeat", True)
  if kind == "roll":
    return g.try_add(f"jnp.roll({{0}}, {r.randint(-3, 3)}, axis={_axis(g, x)})", (x,),
                     "roll", True)
  return False


def _dim_code(d: Any, x: str, shape: tuple) -> str:
  """Dimension d as code: static ints literally, symbolic ones as
  `{0}.shape[k]` of the operand when it has that dim, else via an expression
  of dims it has (JAX accepts shape-derived dims under polymorphism)."""
  if is_static(d):
    return str(d)
  for k, s in enumerate(shape):
    if str(s) == str(d):
      return f"{{0}}.shape[{k}]"
  return "1"


def op_dot(g: _Gen) -> bool:
  x = g.pick(lambda a: len(a.shape) >= 1)
  if x is None:
    return False
  r = g.rng
  shape = g.shape_str(x)
  dt = str(g.avals[x].dtype) if r.random() < 0.85 else g.random_dtype()
  kind = r.choice(["matmul", "dot", "einsum", "tensordot", "dot_general"])
  m = g.random_dim()
  if kind in ("matmul", "dot"):
    y = g.add_input((shape[-1], m) if r.random() < 0.7 else (shape[-1],), dt)
    fn = "jnp.matmul" if kind == "matmul" else "jnp.dot"
    return g.try_add(f"{fn}({{0}}, {{1}})", (x, y), "dot", False, 1)
  if kind == "einsum":
    letters = "ijkl"[:len(shape)]
    keep = "".join(c for c in letters if r.random() < 0.5)
    y = g.add_input(shape[::-1], dt)
    return g.try_add(f"jnp.einsum('{letters},{letters[::-1]}->{keep}', {{0}}, {{1}})",
                     (x, y), "einsum", False, 1)
  if kind == "tensordot":
    y = g.add_input((shape[-1], m), dt)
    return g.try_add("jnp.tensordot({0}, {1}, axes=1)", (x, y), "dot", False, 1)
  # batched dot_general: (B, ..., K) x (B, K, M)
  if len(shape) < 2:
    return False
  y = g.add_input((shape[0], shape[-1], m), dt)
  nd = len(shape)
  return g.try_add(f"lax.dot_general({{0}}, {{1}}, ((({nd - 1},), (1,)), ((0,), (0,))))",
                   (x, y), "dot_general", False, 1)


def op_index(g: _Gen) -> bool:
  x = g.pick(lambda a: len(a.shape) >= 1)
  if x is None:
    return False
  r = g.rng
  nd = len(g.avals[x].shape)
  axis = r.randrange(nd)
  kind = r.choice(["static", "gather", "gather", "take", "get_mode", "scatter", "scatter",
                   "bool_mask", "take_along"])
  idx_shape = r.choice([(), (1,), (2,), (3,), (2, 2), (0,)])
  if kind == "static":
    i = r.randint(-3, 3)
    return g.try_add(f"{{0}}[{', '.join([':'] * axis + [str(i)])}]", (x,), "index", True)
  if kind == "bool_mask":
    return g.try_add("jnp.where({0} > 0, {0}, 0)[0]", (x,), "index", False)
  if kind == "take_along":
    shape = list(g.shape_str(x))
    shape[axis] = r.choice([1, 2])
    i = g.add_input(tuple(shape), "int32", kind="index", target=x, axis=axis)
    mode = r.choice(["None", "'clip'", "'fill'"])
    return g.try_add(f"jnp.take_along_axis({{0}}, {{1}}, axis={axis}, mode={mode})", (x, i),
                     "gather", True, 1)
  idtype = r.choice(["int32", "int32", "int64", "uint8", "int8"])
  if kind in ("gather", "take", "get_mode"):
    i = g.add_input(idx_shape, idtype, kind="index", target=x, axis=axis)
    pre = ", ".join([":"] * axis + ["{1}"])
    if kind == "gather":
      return g.try_add(f"{{0}}[{pre}]", (x, i), "gather", True, 1)
    if kind == "take":
      mode = r.choice(["None", "'clip'", "'wrap'", "'fill'"])
      return g.try_add(f"jnp.take({{0}}, {{1}}, axis={axis}, mode={mode})", (x, i), "gather",
                       True, 1)
    mode = r.choice(["clip", "fill", "fill", "promise_in_bounds"])
    if mode == "promise_in_bounds":
      g.inputs[-1].flavor = "inbounds"
    fill = r.choice(["", ", fill_value=-1", ", fill_value=0", ", fill_value=nan"]) \
        if mode == "fill" else ""
    return g.try_add(f"{{0}}.at[{pre}].get(mode='{mode}'{fill})", (x, i), "gather", True, 1)
  # scatter
  method = r.choice(["set", "add", "mul", "min", "max", "set", "add"])
  mode = r.choice(["clip", "fill", "drop", "promise_in_bounds"])
  i = g.add_input(idx_shape if idx_shape != (2, 2) else (2,), idtype, kind="index",
                  target=x, axis=axis)
  if method == "set":
    g.inputs[-1].flavor = "unique"
    if mode == "clip":
      g.inputs[-1].flavor = "unique_inbounds"
  if mode == "promise_in_bounds":
    g.inputs[-1].flavor = "unique" if method == "set" else "inbounds"
  pre = ", ".join([":"] * axis + ["{1}"])
  upd = r.choice(["2", "-0.0", "nan", "{0}[" + pre + "] * 2"])
  if upd == "nan" or upd == "-0.0":
    upd = f"jnp.array({upd}).astype({{0}}.dtype)"
  return g.try_add(f"{{0}}.at[{pre}].{method}({upd}, mode='{mode}')", (x, i),
                   f"scatter_{method}", method in ("set", "min", "max"), 1)


def op_sort(g: _Gen) -> bool:
  x = g.pick(lambda a: len(a.shape) >= 1)
  if x is None:
    return False
  r = g.rng
  kind = r.choice(["sort", "argsort", "top_k", "sort_desc", "lax_sort2"])
  axis = _axis(g, x, allow_none=False)
  if kind == "sort":
    return g.try_add(f"jnp.sort({{0}}, axis={axis})", (x,), "sort", True)
  if kind == "sort_desc":
    return g.try_add(f"jnp.sort({{0}}, axis={axis}, descending=True)", (x,), "sort", True)
  if kind == "argsort":
    return g.try_add(f"jnp.argsort({{0}}, axis={axis})", (x,), "argsort", True)
  if kind == "lax_sort2":
    return g.try_add(f"lax.sort(({{0}}, -{{0}}), dimension={int(axis) % len(g.avals[x].shape)},"
                     " num_keys=1)[1]", (x,), "sort", False)
  k = r.randint(0, 3)
  which = r.choice(["0", "1"])
  return g.try_add(f"lax.top_k({{0}}, {k})[{which}]", (x,), "top_k", True)


def _mini(g: _Gen, v: str, dt: np.dtype) -> str:
  """A small shape-preserving expression in v (a sub-program body)."""
  if dt == np.bool_:
    opts = [f"~{v}", f"{v} ^ True", f"jnp.logical_not({v})"]
  elif np.issubdtype(dt, np.integer):
    opts = [f"{v} + 1", f"{v} * 3", f"-{v}", f"jnp.abs({v})", f"{v} // 2", f"{v} << 1"]
  else:
    opts = [f"jnp.sin({v})", f"{v} * 2", f"{v} + 1", f"-{v}", f"jnp.abs({v})",
            f"jnp.tanh({v})", f"jnp.exp({v})", f"{v} * {v}", f"jnp.sqrt({v})"]
  e = g.rng.choice(opts)
  if g.rng.random() < 0.4:
    e = g.rng.choice(opts).replace(v, f"({e})", 1) if v in g.rng.choice(opts) else e
  return e


def op_control(g: _Gen) -> bool:
  x = g.pick()
  if x is None:
    return False
  r = g.rng
  dt = g.avals[x].dtype
  kind = r.choice(["cond", "fori", "scan", "while", "switch", "scan_xs"])
  a, b = _mini(g, "v", dt), _mini(g, "v", dt)
  if kind == "cond":
    pred = r.choice(["jnp.sum({0}) > 0", "jnp.all({0} == {0})", "jnp.size({0}) > 2",
                     "jnp.isnan(jnp.sum({0}))"])
    return g.try_add(f"lax.cond({pred}, lambda v: {a}, lambda v: {b}, {{0}})", (x,), "cond", False)
  if kind == "switch":
    return g.try_add(f"lax.switch(jnp.sum({{0}}).astype(np.int32), [lambda v: {a}, "
                     f"lambda v: {b}, lambda v: v], {{0}})", (x,), "switch", False)
  if kind == "fori":
    n = r.randint(0, 3)
    return g.try_add(f"lax.fori_loop(0, {n}, lambda i, v: {a}, {{0}})", (x,), "fori_loop", False)
  if kind == "while":
    return g.try_add(f"lax.while_loop(lambda c: c[0] < {r.randint(0, 3)}, lambda c: (c[0] + 1, "
                     f"{a.replace('v', 'c[1]')}), (0, {{0}}))[1]", (x,), "while_loop", False)
  if kind == "scan":
    n = r.randint(0, 3)
    return g.try_add(f"lax.scan(lambda c, _: ({a.replace('v', 'c')}, c), {{0}}, None, "
                     f"length={n})[{r.randint(0, 1)}]", (x,), "scan", False)
  if len(g.avals[x].shape) == 0:
    return False
  rev = r.choice(["False", "True"])
  return g.try_add(f"lax.scan(lambda c, v: (c + v, {a}), jnp.zeros({{0}}.shape[1:], {{0}}.dtype),"
                   f" {{0}}, reverse={rev})[{r.randint(0, 1)}]", (x,), "scan", False)


def op_vmap(g: _Gen) -> bool:
  x = g.pick(lambda a: len(a.shape) >= 1)
  if x is None:
    return False
  r = g.rng
  nd = len(g.avals[x].shape)
  ax = r.randrange(nd)
  dt = g.avals[x].dtype
  kind = r.choice(["reduce", "elementwise", "gather", "sort", "cond"])
  if kind == "reduce":
    red = r.choice(["jnp.sum", "jnp.max", "jnp.argmin", "jnp.cumsum", "jnp.any"])
    return g.try_add(f"jax.vmap(lambda v: {red}({_mini(g, 'v', dt)}), in_axes={ax})({{0}})",
                     (x,), "vmap", False)
  if kind == "elementwise":
    return g.try_add(f"jax.vmap(lambda v: {_mini(g, 'v', dt)}, in_axes={ax}, out_axes=-1)({{0}})",
                     (x,), "vmap", False)
  if kind == "sort":
    return g.try_add(f"jax.vmap(jnp.sort, in_axes={ax})({{0}})", (x,), "vmap", True)
  if kind == "cond":
    return g.try_add(f"jax.vmap(lambda v: lax.cond(jnp.sum(v) > 0, lambda u: {_mini(g, 'u', dt)},"
                     f" lambda u: u, v), in_axes={ax})({{0}})", (x,), "vmap", False)
  # batched dynamic indexing: one index per batch element
  if nd < 2:
    return False
  shape = g.shape_str(x)
  i = g.add_input((shape[ax],), "int32", kind="index", target=x, axis=(ax + 1) % nd if ax == 0 else 0)
  return g.try_add(f"jax.vmap(lambda v, i: v[i], in_axes=({ax}, 0))({{0}}, {{1}})", (x, i),
                   "vmap", True, 1)


OPS: dict[str, tuple] = {
    # name: (weight, fn)
    "unary": (6, op_unary), "binary": (6, op_binary), "operator": (3, op_operator),
    "compare_where": (4, op_compare_where), "clip": (1, op_clip), "convert": (3, op_convert),
    "reduce": (4, op_reduce), "cumulative": (2, op_cumulative),
    "structural": (6, op_structural), "dot": (2, op_dot), "index": (6, op_index),
    "sort": (2, op_sort), "control": (2, op_control), "vmap": (2, op_vmap),
}


def generate(seed: Any, max_ops: int = 8, poly_p: float = 0.25) -> Program:
  """One random program (deterministic in `seed`), with its input values."""
  rng = random.Random(f"fuzz:{seed}")
  poly = rng.random() < poly_p
  g = _Gen(rng, poly)
  if poly:
    g.dim_vars = ["b"] + (["n"] if rng.random() < 0.3 else [])
    rest = [g.random_dim() for _ in range(rng.randint(0, 2))]
    if "n" in g.dim_vars:
      rest = rest + ["n"]
    g.add_input(("b",) + tuple(d for d in rest), g.random_dtype())
    envs = [{"b": rng.randint(1, 3), "n": 2}, {"b": rng.randint(4, 5), "n": 3}]
    envs = [{k: v for k, v in e.items() if k in g.dim_vars} for e in envs]
  else:
    g.add_input(g.random_shape(), g.random_dtype())
    envs = [{}]
  if rng.random() < 0.5:
    g.add_input(g.random_shape(), g.random_dtype())
  names = list(OPS)
  weights = [OPS[n][0] for n in names]
  n_ops = rng.randint(1, max_ops)
  attempts = 0
  while len(g.stmts) < n_ops and attempts < 6 * max_ops:
    attempts += 1
    op = rng.choices(names, weights)[0]
    OPS[op][1](g)
  if not g.stmts:
    g.try_add("jnp.negative({0})", (g.inputs[0].name,), "unary", True)
  # Every sink (a result no later statement reads) is an output, so all the
  # generated code is live; at most 3, the latest ones.
  used = {a for s in g.stmts for a in s.args}
  outs = [s.out for s in g.stmts if s.out not in used][-3:] or [g.inputs[0].name]
  prog = Program(g.inputs, g.stmts, outs, envs, [], poly)
  special_p = rng.choice([0.0, 0.1, 0.3])
  vrng = np.random.RandomState(rng.randrange(2**31))
  if not fill_values(prog, vrng, special_p):
    prog.values = []
  return drop_dead(prog)


def var_shapes(prog: Program, env: dict) -> dict:
  """Concrete shapes of every variable at `env` (by abstract evaluation)."""
  args = [jax.ShapeDtypeStruct(concrete_shape(i.shape, env), np_dtype(i.dtype))
          for i in prog.inputs]
  names = [s.out for s in prog.stmts]
  src = prog.copy()
  src.outputs = names or [prog.inputs[0].name]
  res = jax.eval_shape(src.function(), *args)
  shapes = {i.name: a.shape for i, a in zip(prog.inputs, args)}
  if names:
    shapes.update({n: r.shape for n, r in zip(names, res)})
  return shapes


def fill_values(prog: Program, rng: np.random.RandomState, special_p: float) -> bool:
  """Input values for every env; False if an index flavor cannot be met."""
  prog.values = []
  base = {}
  for env in prog.envs:
    try:
      shapes = var_shapes(prog, env)
    except Exception:  # pylint: disable=broad-except
      return False
    vals = {}
    for inp in prog.inputs:
      if inp.kind == "index":
        bound = shapes[inp.target][inp.axis] if inp.target in shapes and \
            len(shapes[inp.target]) > inp.axis else 2
        flavor_inp = inp
        if inp.flavor == "unique_inbounds":
          flavor_inp = dataclasses.replace(inp, flavor="unique")
        v = index_values(rng, flavor_inp, bound, env)
        if v is None:
          return False
        if np_dtype(inp.dtype).kind == "u" or np_dtype(inp.dtype) == np.int8:
          info = np.iinfo(np_dtype(inp.dtype))
          if inp.flavor != "any" and (v.min(initial=0) < info.min or v.max(initial=0) > info.max):
            return False
          v = np.clip(v.astype(np.int64), info.min, info.max).astype(np_dtype(inp.dtype))
        vals[inp.name] = v
      else:
        shape = concrete_shape(inp.shape, env)
        key = (inp.name,)
        # Same values for the static part across envs is not needed; fresh ones.
        vals[inp.name] = random_values(rng, inp.dtype, shape, special_p)
        base[key] = vals[inp.name]
    prog.values.append(vals)
  return True


def drop_dead(prog: Program) -> Program:
  """Removes statements (and inputs) that no output depends on."""
  live = set(prog.outputs)
  keep = []
  for s in reversed(prog.stmts):
    if s.out in live:
      keep.append(s)
      live.update(s.args)
  keep.reverse()
  inputs = [i for i in prog.inputs if i.name in live or
            (prog.poly and i is prog.inputs[0])]
  p = prog.copy()
  p.stmts = keep
  p.inputs = inputs
  p.values = [{k: v for k, v in vals.items() if k in {i.name for i in inputs}}
              for vals in prog.values]
  return p
