"""Known, explained differences (each one a strict xfail in
tests/test_fuzz_regressions.py): a fuzz failure matching one is counted as
"known" (reported, not failed, not shrunk again). Keep each matcher narrow:
the program's ops, the mode and the kind of failure."""
from __future__ import annotations

import dataclasses
import re
from typing import Callable, Optional

import numpy as np

from . import check
from .check import Outcome
from .generator import Program

_DOT = re.compile(r"einsum|jnp\.dot|matmul|tensordot|dot_general| @ ")


def _code(prog: Program) -> str:
  return "\n".join(s.code for s in prog.stmts)


def _noxla_bitcast_nan(prog: Program, mode: str, o: Outcome) -> bool:
  return (mode.startswith("noxla") and o.status == "mismatch"
          and "bitcast_convert_type" in _code(prog))


def _bool_dot_nan(prog: Program, mode: str, o: Outcome) -> bool:
  del mode
  return (o.status == "mismatch" and "NaN positions" in o.message
          and _DOT.search(_code(prog)) is not None)


def _bool_multiply(prog: Program, mode: str, o: Outcome) -> bool:
  code = _code(prog)
  return (mode in ("eager", "graph", "noxla") and o.status == "mismatch"
          and ("multiply" in code or " * " in code) and "bitcast_convert_type" in code)


def _complex_inf(prog: Program, mode: str, o: Outcome) -> bool:
  del mode
  return (o.status == "mismatch" and "complex" in o.message
          and ("NaN positions" in o.message or "inf" in o.message))


def _bf16_dot_overflow_jit(prog: Program, mode: str, o: Outcome) -> bool:
  """A dot of a bfloat16 input holding inf/NaN, compiled by XLA (the
  differing NaN/-inf may reach the output through argsort, so the message
  need not name them)."""
  return (mode in ("jit", "noxla_jit") and o.status == "mismatch"
          and _DOT.search(_code(prog)) is not None
          and _has_non_finite(prog))


def _has_non_finite(prog: Program) -> bool:
  """Whether some bfloat16 input holds inf or NaN in some run."""
  bf16 = {i.name for i in prog.inputs if i.dtype == "bfloat16"}
  return any(not np.all(np.isfinite(np.asarray(v, np.float64)))
             for env in prog.values for k, v in env.items() if k in bf16)


def _flush_subnormals(v: np.ndarray) -> np.ndarray:
  a = np.asarray(v)
  if a.dtype.kind != "f" and str(a.dtype) != "bfloat16":
    return a
  tiny = float(np.finfo(np.float32 if str(a.dtype) == "bfloat16" else a.dtype).tiny)
  wide = a.astype(np.float64)
  return np.where((wide != 0) & (np.abs(wide) < tiny), np.zeros_like(a), a)


def _subnormal_inputs(prog: Program, mode: str, o: Outcome) -> bool:
  """The failure goes away when subnormal inputs are flushed to zero: XLA's
  compiled code treats them as zero (DAZ), while TF's kernels, or our
  selects under XLA, pass some of them through (re-checked, so a failure
  with another cause is not hidden)."""
  if o.status != "mismatch":
    return False
  flushed = [{k: _flush_subnormals(v) for k, v in env.items()} for env in prog.values]
  if all(np.array_equal(np.atleast_1d(a).view(np.uint8), np.atleast_1d(b).view(np.uint8))
         for env, fl in zip(prog.values, flushed) for a, b in
         ((env[k], fl[k]) for k in env)):
    return False
  res = check.check(dataclasses.replace(prog, values=flushed), modes=[mode])
  return res.discarded is None and res.outcomes[mode].status == "ok"


_INT_DIVISION = re.compile(r"//|%|lax\.div|lax\.rem|floor_divide|remainder")


def _abs_int_min_jit(prog: Program, mode: str, o: Outcome) -> bool:
  """abs of an integer input holding its dtype's minimum, then integer
  division, compiled by XLA: its simplifier takes abs(x) >= 0, so results
  depend on how ops were fused (JAX's own jit is inconsistent here)."""
  code = _code(prog)
  if not (mode in ("jit", "noxla_jit") and o.status == "mismatch"
          and "jnp.abs" in code and _INT_DIVISION.search(code)):
    return False
  for env in prog.values:
    for v in env.values():
      a = np.asarray(v)
      if a.dtype.kind == "i" and a.size and np.any(a == np.iinfo(a.dtype).min):
        return True
  return False


_POW = re.compile(r"float_power|\*\*|lax\.pow\(|jnp\.power")


def _complex_pow_conditioning(prog: Program, mode: str, o: Outcome) -> bool:
  """Complex x ** y is exp(y log x): the round-off of y log x is amplified
  by |y log x| (and near the overflow threshold exp decides between the
  largest float and inf), so TF's and XLA's last-bit differences in
  log/exp/sin/cos come out large. JAX's own jax2tf tests compared complex64
  pow at 1e-3 (tests/support/jax_overrides.py)."""
  del mode
  return (o.status == "mismatch" and "complex" in o.message
          and _POW.search(_code(prog)) is not None
          and any(i.dtype.startswith("complex") for i in prog.inputs))


_CUMULATIVE = re.compile(r"cumprod|cumsum|cumlogsumexp|cumulative_prod|cumulative_sum")


def _cumulative_order(prog: Program, mode: str, o: Outcome) -> bool:
  """cumsum/cumprod without XLA (eager, graph, enable_xla=False): TF's
  kernels fold sequentially (reverse ones from the end), XLA's CPU code
  scans blocks of 16 and folds reverse windows left to right; rounding
  differs, which crosses the overflow/underflow thresholds at the extremes
  and is amplified in float16/bfloat16 (JAX's own jax2tf tests allowed 0.5
  for half types). Under jit_compile XLA's own scan runs and must match."""
  return (mode in ("eager", "graph", "noxla") and o.status == "mismatch"
          and _CUMULATIVE.search(_code(prog)) is not None)


def _sqrt_of_square_overflow(prog: Program, mode: str, o: Outcome) -> bool:
  """XLA's simplifier rewrites sqrt(x * x) into |x| (jnp.linalg.norm of one
  element, hypot-like code), so where x * x overflows JAX still gives |x|;
  TF without XLA overflows to inf. Under jit_compile TF's XLA does the
  same rewrite and must match."""
  code = _code(prog)
  return (mode in ("eager", "graph", "noxla") and o.status == "mismatch"
          and "inf: " in o.message and ("sqrt" in code or "norm" in code))


def _half_excess_precision_jit(prog: Program, mode: str, o: Outcome) -> bool:
  """Under jit_compile TF's XLA keeps float32 between fused float16/
  bfloat16 ops (excess precision), where JAX's XLA rounds each result to
  the half type: visible once the value is converted to an integer."""
  return (mode in ("jit", "noxla_jit") and o.status == "mismatch"
          and re.search(r"\((u?int\d+|bool|float16|bfloat16)\[", o.message)
          is not None
          and any(i.dtype in ("float16", "bfloat16") for i in prog.inputs))


def _complex_log_exp_jit(prog: Program, mode: str, o: Outcome) -> bool:
  """TF's XLA simplifies log(exp(z)) into z for complex z too (JAX's XLA
  keeps the principal branch: imaginary part in (-pi, pi]); logsumexp of a
  complex input with a large imaginary part shows it."""
  code = _code(prog)
  return (mode in ("jit", "noxla_jit") and o.status == "mismatch"
          and "complex" in o.message and ("logsumexp" in code or (
              "log" in code and "exp" in code)))


_SIGN_EXPOSING = re.compile(r"copysign|signbit|arctan2|atan2")


def _dot_zero_sign(prog: Program, mode: str, o: Outcome) -> bool:
  """A dot whose products are all -0.0 is -0.0 in XLA (its accumulation
  starts from the first product) and +0.0 in TF's kernels (from +0.0);
  only a sign-reading op (copysign, signbit, atan2) downstream shows it."""
  code = _code(prog)
  return (mode in ("eager", "graph", "noxla") and o.status == "mismatch"
          and _DOT.search(code) is not None
          and _SIGN_EXPOSING.search(code) is not None)


_RANKING = re.compile(r"lax\.top_k|sort")


def _noxla_ranks_negative_nan(prog: Program, mode: str, o: Outcome) -> bool:
  """A top_k/sort/argsort whose operand holds a NaN with its sign bit set
  (in JAX's own values of that operand), under enable_xla=False: without a
  bit cast the portable graph cannot see a NaN's sign, so it ranks -NaN like
  +NaN (docs/limitations_notes.md; test_top_k_negative_nan_noxla)."""
  if not (mode.startswith("noxla") and o.status == "mismatch"):
    return False
  for stmt in prog.stmts:
    if not _RANKING.search(stmt.code):
      continue
    probe = dataclasses.replace(prog.copy(), outputs=[stmt.args[0]])
    try:
      values = check.jax_outputs(probe)
    except Exception:  # pylint: disable=broad-except
      continue
    for outs in values:
      a = np.asarray(outs[0])
      if a.dtype.kind == "f" or str(a.dtype) == "bfloat16":
        wide = a.astype(np.float64)
        if np.any(np.isnan(wide) & np.signbit(wide)):
          return True
  return False


KNOWN: list[tuple[str, Callable[[Program, str, Outcome], bool]]] = [
    ("bfloat16 dot with inf / near-max operands under jit_compile: TF's XLA "
     "path and JAX's round the f32 accumulation to bfloat16 at different "
     "points (inf - inf = NaN vs -inf) (test_bf16_dot_overflow_jit)",
     _bf16_dot_overflow_jit),
    ("noxla bitcast int -> float loses the NaN sign bit "
     "(test_bitcast_int_to_nan_signbit)", _noxla_bitcast_nan),
    ("XLA rewrites a dot of a bool operand into select: 0 * NaN = 0 "
     "(test_einsum_bool_times_nan)", _bool_dot_nan),
    ("XLA rewrites x * convert(bool) into a select: -0.0 * False = +0.0 "
     "(test_multiply_by_bool_negative_zero)", _bool_multiply),
    ("complex intermediates overflowing to inf: XLA's fusion decides the inf/NaN "
     "pattern (test_complex_matmul_divide_overflow)", _complex_inf),
    ("abs(INT_MIN) then integer division under jit_compile: XLA's simplifier "
     "takes abs(x) >= 0 (test_abs_int_min_floor_divide_across_cond)",
     _abs_int_min_jit),
    ("complex pow is ill-conditioned: exp(y log x) amplifies last-bit "
     "differences by |y log x|; near overflow exp picks max or inf "
     "(test_complex_pow_large_exponent)", _complex_pow_conditioning),
    ("cumsum/cumprod association order without XLA (sequential vs XLA's "
     "16-element blocks): overflow at the extremes, half-type rounding "
     "(test_cumprod_reverse_order_overflow)", _cumulative_order),
    ("sqrt(x * x) is |x| in XLA (simplifier), inf without XLA when x * x "
     "overflows (test_norm_of_huge_value)", _sqrt_of_square_overflow),
    ("half-type results kept in float32 between fused ops by TF's XLA, "
     "rounded by JAX's (test_bfloat16_square_to_int_jit)",
     _half_excess_precision_jit),
    ("the sign of a zero dot product (all products -0.0): -0.0 in XLA, +0.0 "
     "in TF's kernels, read by copysign/signbit/atan2 "
     "(test_dot_of_negative_zeros_sign)", _dot_zero_sign),
    ("complex log(exp(z)) simplified into z by TF's XLA (JAX's keeps the "
     "principal branch) (test_complex_logsumexp_jit)", _complex_log_exp_jit),
    ("top_k/sort of a -NaN with enable_xla=False: ranked like +NaN (no bit "
     "cast in portable graphs) (test_top_k_negative_nan_noxla)",
     _noxla_ranks_negative_nan),
    ("subnormal inputs: XLA:CPU's compiled code reads them as zero, TF's "
     "kernels and our selects may keep them (test_subnormal_remainder_jit); "
     "the same program with them flushed "
     "matches", _subnormal_inputs),
]


def known_reason(prog: Program, mode: str, outcome: Outcome) -> Optional[str]:
  for reason, match in KNOWN:
    if match(prog, mode, outcome):
      return reason
  return None
