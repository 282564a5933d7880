"""Differential fuzzing in CI: random JAX programs (tests/fuzz/generator.py),
converted and run in eager / tf.function / jit_compile / enable_xla=False /
enable_xla=False under jit_compile, compared with `jax.jit` at JAX's
tolerances (tests/fuzz/check.py).

Budget: JAX2TF_IMPL_FUZZ_SECONDS (default 90, .ci/run sets it) or JAX2TF_IMPL_FUZZ_PROGRAMS
(a fixed count; takes precedence). The seed is sampling.seed() (printed in
pytest's header; JAX2TF_IMPL_SEED reproduces a CI run), and program i is
generator.generate(f"{seed}:{i}"). Unlimited runs:
    JAX2TF_IMPL_FUZZ_PROGRAMS=5000 python -m pytest tests/test_fuzz.py -s
or  python -m tests.fuzz.run --programs 5000 --out fuzz_out

A failure (a mismatch or a converter error where JAX runs the program) is
shrunk and printed as Python; add it to tests/test_fuzz_regressions.py.
"Numeric" differences (beyond JAX's tolerance, within sqrt of it; kernels
differing in the last ulps, amplified by the program) are printed, not
failed.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from fuzz import check, generator, run, shrink
from support import sampling


def _budget() -> tuple:
  programs = os.environ.get("JAX2TF_IMPL_FUZZ_PROGRAMS")
  if programs:
    return int(programs), None
  return None, float(os.environ.get("JAX2TF_IMPL_FUZZ_SECONDS", "90"))


def test_fuzz_programs_match_jit():
  programs, seconds = _budget()
  seed = sampling.seed()
  summary = run.fuzz(programs, seconds, seed, max_shrinks=3, log=print,
                     shrink_seconds=60 if programs is None else 240)
  print(f"fuzz: seed {seed}, {summary['programs_run']} programs run "
        f"({summary['polymorphic_programs']} polymorphic) in {summary['seconds']} s; "
        f"per mode: {summary['per_mode']}")
  assert summary["programs_run"] >= 5 or programs is not None and programs < 5, summary
  for mode, counts in summary["per_mode"].items():
    assert sum(counts.values()) == summary["programs_run"], (mode, counts)
  bad = run.silent_or_errors(summary)
  assert not bad, "\n\n".join(
      f"{e['signature']} (x{e['count']}, modes {e['modes']}, seeds {e['seeds']})\n"
      f"{e.get('reproducer', '')}" for e in bad)


# The machinery itself: generation is deterministic, reproducers run, the
# comparison can fail, the shrinker shrinks.

def test_generation_is_deterministic_and_printable():
  for s in range(5):
    a, b = generator.generate(f"det:{s}"), generator.generate(f"det:{s}")
    assert a.source() == b.source()
    assert a.reproducer() == b.reproducer()
    ns = dict(generator.NAMESPACE)
    exec(a.reproducer(), ns)  # the printed reproducer is valid Python
    assert callable(ns["f"]) and isinstance(ns["args"], list)
    for arr, inp in zip(ns["args"], a.inputs):
      np.testing.assert_array_equal(arr, a.values[0][inp.name])


def test_compare_catches_differences():
  f32 = np.array([1.0, np.nan, -0.0], np.float32)
  assert check.compare([f32], [f32.copy()], sign_exact=True) is None
  assert "NaN" in check.compare([f32], [np.array([1.0, 0.0, -0.0], np.float32)], True)
  assert "sign of zero" in check.compare([f32], [np.array([1.0, np.nan, 0.0], np.float32)], True)
  assert check.compare([f32], [np.array([1.0, np.nan, 0.0], np.float32)], False) is None
  assert "values" in check.compare([f32], [np.array([1.1, np.nan, 0.0], np.float32)], True)
  assert "numeric" in check.compare([f32], [np.array([1.00001, np.nan, 0.0], np.float32)],
                                    True)
  assert "dtype" in check.compare([f32], [f32.astype(np.float64)], True)
  i8 = np.array([1, -128], np.int8)
  assert "differ" in check.compare([i8], [np.array([1, 127], np.int8)], True)
  c = np.array([complex(np.nan, 0)], np.complex64)
  assert check.compare([c], [np.array([complex(0, np.nan)], np.complex64)], True) is None


def _broken_program() -> generator.Program:
  """A program whose converted form we break on purpose (jnp.sin wrapped so
  that only the TF side sees a different value), to test the shrinker."""
  x = generator.Input("x0", "float32", (3, 2))
  stmts = [generator.Stmt("v0", "jnp.cos({0})", ("x0",), "unary", False),
           generator.Stmt("v1", "jnp.exp({0})", ("x0",), "unary", False),
           generator.Stmt("v2", "jnp.where({0} > 2, {1}, 0.0)", ("v0", "x0"), "where", False),
           generator.Stmt("v3", "jnp.sum({0}, axis=0)", ("v2",), "reduce", False)]
  vals = {"x0": np.arange(6, dtype=np.float32).reshape(3, 2) + 0.5}
  return generator.Program([x], stmts, ["v1", "v3"], [{}], [vals])


def test_shrinker_finds_minimal_program(monkeypatch):
  real = check.run_mode

  def broken(f, arg_lists, specs, mode, converted=None):
    outs = real(f, arg_lists, specs, mode, converted)
    if "where" in f.__code__.co_names:  # a "bug" in jnp.where
      outs = [[o + 1 if o.dtype == np.float32 else o for o in env] for env in outs]
    return outs

  monkeypatch.setattr(check, "run_mode", broken)
  prog = _broken_program()
  res = check.check(prog, ["eager"])
  assert res.outcomes["eager"].status == "mismatch"
  small = shrink.shrink(prog, check.failure_key("eager", res.outcomes["eager"]))
  assert [s.code for s in small.stmts] == ["jnp.where({0} > 2, {1}, 0.0)"], small.source()
  assert small.values[0]["x0"].size <= 1 or len(small.inputs) == 1
  assert "def f(" in small.reproducer()
