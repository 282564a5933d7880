"""Shrink a failing fuzz program to a minimal reproducer.

A candidate replaces the current program if it still fails with the same
key (mode and kind of failure, check.failure_key) and JAX still runs it.
Passes, repeated until none applies (or the check budget is spent):

  outputs   keep a single output
  retarget  return an earlier statement's result instead
  static    drop the polymorphic spec (static shapes of the first run)
  cut       at statement s: the variables s reads become inputs holding the
            values JAX computed for them, so the prefix becomes dead code
  bypass    replace s's result by one of its operands of the same type
  shapes    slice an input axis down to 1 or 0 elements
  values    whole input -> zeros / ones, then element by element -> 0 / 1 /
            integral

Index inputs keep their contract ("inbounds", "unique") for the target's
new shape: a candidate that breaks it is rejected, since JAX leaves such
results undefined.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable, Iterator, Optional

import numpy as np

from . import check as check_mod
from .generator import Input, Program, Stmt, drop_dead, var_shapes


def _rename_uses(prog: Program, old: str, new: str) -> Program:
  p = prog.copy()
  p.stmts = [dataclasses.replace(s, args=tuple(new if a == old else a for a in s.args))
             for s in p.stmts]
  p.outputs = [new if o == old else o for o in p.outputs]
  p.inputs = [dataclasses.replace(i, target=new) if i.target == old else i for i in p.inputs]
  return p


def flavors_ok(prog: Program) -> bool:
  """Index inputs still meet their contract at every env."""
  if not any(i.kind == "index" and i.flavor != "any" for i in prog.inputs):
    return True
  for env, vals in zip(prog.envs, prog.values):
    try:
      shapes = var_shapes(prog, env)
    except Exception:  # pylint: disable=broad-except
      return False
    for inp in prog.inputs:
      if inp.kind != "index" or inp.flavor == "any" or inp.name not in vals:
        continue
      if inp.target not in shapes or len(shapes[inp.target]) <= inp.axis:
        continue
      bound = shapes[inp.target][inp.axis]
      v = vals[inp.name].astype(np.int64).reshape(-1)
      if v.size and (v.min() < -bound or v.max() >= bound):
        return False
      if inp.flavor.startswith("unique") and len(set((v % max(bound, 1)).tolist())) != v.size:
        return False
  return True


def renumber(prog: Program) -> Program:
  """x0, x1, ... and v0, v1, ... in order of appearance (readability)."""
  p = prog.copy()
  mapping = {}
  for k, i in enumerate(p.inputs):
    mapping[i.name] = f"x{k}"
  for k, s in enumerate(p.stmts):
    mapping[s.out] = f"v{k}"
  p.inputs = [dataclasses.replace(i, name=mapping[i.name],
                                  target=mapping.get(i.target, i.target)) for i in p.inputs]
  p.stmts = [dataclasses.replace(s, out=mapping[s.out],
                                 args=tuple(mapping.get(a, a) for a in s.args)) for s in p.stmts]
  p.outputs = [mapping.get(o, o) for o in p.outputs]
  p.values = [{mapping[k]: v for k, v in vals.items() if k in mapping} for vals in p.values]
  return p


def _fresh_name(prog: Program) -> str:
  used = {i.name for i in prog.inputs}
  k = len(used)
  while f"x{k}" in used:
    k += 1
  return f"x{k}"


def _candidates_outputs(prog: Program) -> Iterator[Program]:
  if len(prog.outputs) > 1:
    for o in prog.outputs:
      p = prog.copy()
      p.outputs = [o]
      yield drop_dead(p)


def _candidates_retarget(prog: Program) -> Iterator[Program]:
  """Return an earlier statement's result instead of an output."""
  outs = set(prog.outputs)
  for s in reversed(prog.stmts[:-1] if len(prog.stmts) > 1 else []):
    for k, o in enumerate(prog.outputs):
      if s.out not in outs:
        p = prog.copy()
        p.outputs[k] = s.out
        yield drop_dead(p)


def _candidates_static(prog: Program) -> Iterator[Program]:
  if not prog.poly:
    return
  p = prog.copy()
  shapes = [np.shape(prog.values[0][i.name]) for i in prog.inputs]
  p.inputs = [dataclasses.replace(i, shape=tuple(s)) for i, s in zip(prog.inputs, shapes)]
  p.poly = False
  p.envs = [{}]
  p.values = [dict(prog.values[0])]
  yield p


def _candidates_cut(prog: Program) -> Iterator[Program]:
  if prog.poly:
    return
  stmt_names = {s.out for s in prog.stmts}
  for s in reversed(prog.stmts):
    reads = [a for a in dict.fromkeys(s.args) if a in stmt_names]
    if not reads:
      continue
    prefix = prog.copy()
    prefix.outputs = reads
    try:
      vals = check_mod.jax_outputs(drop_dead(prefix))[0]
    except Exception:  # pylint: disable=broad-except
      continue
    p = prog.copy()
    idx = [k for k, t in enumerate(p.stmts) if t.out == s.out][0]
    for name, v in zip(reads, vals):
      new = _fresh_name(p)
      dtype = "bfloat16" if v.dtype.name == "bfloat16" else v.dtype.name
      p.inputs.append(Input(new, dtype, tuple(v.shape)))
      p.values[0][new] = v
      # Only the uses from s on are replaced, so the prefix becomes dead.
      later = _rename_uses(Program(p.inputs, p.stmts[idx:], p.outputs, p.envs, p.values),
                           name, new)
      p.stmts = p.stmts[:idx] + later.stmts
      p.outputs = later.outputs
      p.inputs = later.inputs
    yield drop_dead(p)


def _candidates_bypass(prog: Program, avals: dict) -> Iterator[Program]:
  for s in reversed(prog.stmts):
    for a in dict.fromkeys(s.args):
      if a in avals and s.out in avals and avals[a] == avals[s.out]:
        p = _rename_uses(prog, s.out, a)
        p.stmts = [t for t in p.stmts if t.out != s.out]
        yield drop_dead(p)


def _candidates_shapes(prog: Program) -> Iterator[Program]:
  """Slices of one input axis: empty, the first element, each half, then
  single elements (the failing one may be anywhere)."""
  if prog.poly:
    return
  for inp in prog.inputs:
    v = prog.values[0][inp.name]
    for ax in range(v.ndim):
      n = v.shape[ax]
      if n == 0:
        continue
      picks = [[], [0]] + ([list(range(n // 2)), list(range(n // 2, n))] if n > 3 else []) + \
          [[j] for j in range(1, min(n, 6))]
      for pick in picks:
        if len(pick) >= n:
          continue
        p = prog.copy()
        nv = np.take(v, np.array(pick, dtype=np.int64), axis=ax)
        p.values[0][inp.name] = nv
        p.inputs = [dataclasses.replace(i, shape=tuple(nv.shape)) if i.name == inp.name else i
                    for i in p.inputs]
        yield p


def _simpler(x: np.ndarray) -> list:
  out = []
  if x.dtype == np.bool_:
    return [np.zeros_like(x)] if x.any() else []
  zero = np.zeros_like(x)
  if not np.array_equal(x, zero, equal_nan=False):
    out.append(zero)
  one = np.ones_like(x)
  if not np.array_equal(x, one):
    out.append(one)
  return out


def _candidates_values(prog: Program) -> Iterator[Program]:
  for k, vals in enumerate(prog.values):
    for inp in prog.inputs:
      v = vals[inp.name]
      if v.size == 0:
        continue
      for nv in _simpler(v):
        p = prog.copy()
        p.values[k][inp.name] = nv
        yield p
      if v.size > 8:
        continue
      flat = v.reshape(-1)
      for j in range(flat.size):
        x = flat[j]
        opts = [0, 1]
        if np.issubdtype(v.dtype, np.inexact) or v.dtype.name == "bfloat16":
          xf = complex(x) if np.iscomplexobj(v) else float(x)
          if np.isfinite(xf) and xf != np.round(xf):
            opts = [np.round(xf)] + opts
        for o in opts:
          try:
            same = bool(x == o) and not (np.signbit(np.real(x)) if np.isrealobj(v) else False)
          except TypeError:
            same = False
          if same:
            continue
          nf = flat.copy()
          nf[j] = o
          p = prog.copy()
          p.values[k][inp.name] = nf.reshape(v.shape)
          yield p


def _avals(prog: Program) -> dict:
  try:
    shapes = var_shapes(prog, prog.envs[0])
  except Exception:  # pylint: disable=broad-except
    return {}
  dtypes = {i.name: i.dtype for i in prog.inputs}
  # dtypes of statements: from the values JAX computes is costly; use eval_shape
  import jax  # pylint: disable=g-import-not-at-top
  from .generator import concrete_shape, np_dtype  # pylint: disable=g-import-not-at-top
  src = prog.copy()
  src.outputs = [s.out for s in prog.stmts] or [prog.inputs[0].name]
  args = [jax.ShapeDtypeStruct(concrete_shape(i.shape, prog.envs[0]), np_dtype(i.dtype))
          for i in prog.inputs]
  try:
    res = jax.eval_shape(src.function(), *args)
  except Exception:  # pylint: disable=broad-except
    return {}
  out = {i.name: (shapes[i.name], np_dtype(dtypes[i.name])) for i in prog.inputs}
  if prog.stmts:
    out.update({s.out: (r.shape, r.dtype) for s, r in zip(prog.stmts, res)})
  return out


def shrink(prog: Program, key: tuple, max_checks: int = 300, max_seconds: float = 240,
           log: Optional[Callable[[str], None]] = None) -> Program:
  """The smallest program found that still fails with `key` (within the
  budget of checks and seconds)."""
  checks = 0
  deadline = time.time() + max_seconds

  def fails(p: Program) -> bool:
    nonlocal checks
    checks += 1
    if time.time() > deadline:
      checks = max_checks
    if not p.stmts or not flavors_ok(p):
      return False
    try:
      return check_mod.still_fails(p, key)
    except Exception:  # pylint: disable=broad-except
      return False

  passes = [("outputs", _candidates_outputs), ("retarget", _candidates_retarget),
            ("static", _candidates_static),
            ("cut", _candidates_cut), ("bypass", None), ("shapes", _candidates_shapes),
            ("values", _candidates_values)]
  progress = True
  while progress and checks < max_checks:
    progress = False
    for name, gen in passes:
      cands = _candidates_bypass(prog, _avals(prog)) if gen is None else gen(prog)
      for cand in cands:
        if checks >= max_checks:
          break
        if fails(cand):
          if log:
            log(f"shrink: {name} -> {len(cand.stmts)} stmts")
          prog = cand
          progress = True
          break
      if progress:
        break
  return renumber(prog)
