"""Running JAX's own primitive harnesses through jax2tf_impl.

Each harness (`jax._src.internal_test_util.test_harnesses`) is a JAX function
with argument makers. We run it with JAX (jit, CPU) and converted in one of
the modes below, and compare results. Family-specific knowledge lives in
tests/checks/<family>.py, each of which may define:

  TOLERANCES: {group_name: {dtype_name: tol}}   (with a comment saying why)
  CHECKS:     {group_name: fn(harness, args, jax_outs, tf_outs, tol)}
              a property check replacing equality (non-unique results)
  LIMITATIONS: [Limitation(...)]  known failures -> xfail with the reason

Sampling: by default at most SAMPLE_PER_GROUP harnesses per group, drawn
anew each day (support/sampling.py: seeded, printed, reproducible with
JAX2TF_IMPL_SEED), stratified by dtype, from the harnesses JAX itself runs
on CPU; JAX2TF_IMPL_FULL=1 runs every harness.

Tolerances are JAX's own (`jax._src.public_test_util.default_tolerance()`,
used as atol = rtol, as JAX's assertAllClose does); a looser one is a
per-group, per-dtype exception in tests/checks/<family>.py with the measured
error and the reason.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib
import os
import pkgutil
import re
from typing import Any, Callable, Sequence

import jax
import numpy as np
import tensorflow as tf
from jax._src import public_test_util

import jax2tf_impl
from support import jax_overrides
from support import sampling
from support.tf_testing import graph_op_types
from jax2tf_impl import dtypes as dt

# noxla_jit: enable_xla=False under tf.function(jit_compile=True), where some
# rules (svd, eigh, eig, lu, tridiagonal_solve) take other code paths.
MODES = ("eager", "graph", "jit", "noxla", "noxla_jit")
SAMPLE_PER_GROUP = int(os.environ.get("JAX2TF_IMPL_SAMPLE", "8"))
FULL = sampling.FULL
# Comma-separated group names to restrict the run to (for development).
GROUPS = [g for g in os.environ.get("JAX2TF_IMPL_GROUPS", "").split(",") if g]


@dataclasses.dataclass(frozen=True)
class Limitation:
  """A known, explained failure: the matching harnesses are xfailed."""
  group: str
  reason: str
  name_regex: str = ".*"          # matched against harness.fullname
  modes: Sequence[str] = MODES    # which of MODES (and "noxla") it affects
  dtypes: Sequence[str] = ()      # dtype names; empty = all
  enable_xla: Sequence[bool] = (True, False)

  def applies(self, harness: Any, mode: str, enable_xla: bool) -> bool:
    return (harness.group_name == self.group
            and mode in self.modes
            and enable_xla in self.enable_xla
            and (not self.dtypes or dtype_name(harness.dtype) in self.dtypes)
            and re.search(self.name_regex, harness.fullname) is not None)


def dtype_name(dtype: Any) -> str:
  try:
    return np.dtype(dtype).name
  except TypeError:
    return str(dtype)


@functools.cache
def _family_modules() -> list[Any]:
  import checks  # tests/checks, on sys.path via rootdir conftest
  mods = []
  for info in pkgutil.iter_modules(checks.__path__):
    mods.append(importlib.import_module(f"checks.{info.name}"))
  return mods


@functools.cache
def tolerances() -> dict[str, dict[str, float]]:
  out: dict[str, dict[str, float]] = {}
  for m in _family_modules():
    for g, tols in getattr(m, "TOLERANCES", {}).items():
      out.setdefault(g, {}).update(tols)
  return out


@functools.cache
def custom_checks() -> dict[str, Callable[..., None]]:
  out: dict[str, Callable[..., None]] = {}
  for m in _family_modules():
    out.update(getattr(m, "CHECKS", {}))
  return out


@functools.cache
def limitations() -> list[Limitation]:
  out: list[Limitation] = []
  for m in _family_modules():
    out.extend(getattr(m, "LIMITATIONS", []))
  return out


def find_limitation(harness: Any, mode: str, enable_xla: bool
                    ) -> Limitation | None:
  for lim in limitations():
    if lim.applies(harness, mode, enable_xla):
      return lim
  return None


@functools.cache
def all_harnesses() -> tuple:
  from jax._src.internal_test_util import test_harnesses
  return tuple(test_harnesses.all_harnesses)


def jax_unimplemented_on_cpu(harness: Any) -> str | None:
  """Why JAX itself cannot run `harness` on CPU, or None."""
  for lim in harness.jax_unimplemented:
    if lim.filter(device="cpu", dtype=harness.dtype):
      return lim.description
  return None


def select_harnesses(groups: Sequence[str] | None = None) -> list[Any]:
  """The harnesses to run: all with FULL, else a deterministic sample."""
  by_group: dict[str, list[Any]] = {}
  if groups is None and GROUPS:
    groups = GROUPS
  for h in all_harnesses():
    if groups is not None and h.group_name not in groups:
      continue
    by_group.setdefault(h.group_name, []).append(h)
  selected = []
  for g in sorted(by_group):
    hs = sorted(by_group[g], key=lambda h: h.fullname)
    if not FULL:
      # Sample among the harnesses JAX runs on CPU: the others only skip.
      runnable = [h for h in hs if jax_unimplemented_on_cpu(h) is None]
      hs = sorted(sampling.stratified_sample(
          runnable, SAMPLE_PER_GROUP, lambda h: dtype_name(h.dtype), salt=g),
          key=lambda h: h.fullname)
    selected.extend(hs)
  return selected


def make_args(harness: Any) -> list[Any]:
  return list(harness.dyn_args_maker(np.random.RandomState(0)))


@functools.lru_cache(maxsize=64)
def _jax_result_cached(fullname: str) -> tuple[list[Any], list[np.ndarray]]:
  harness = _BY_NAME()[fullname]
  args = make_args(harness)
  outs = jax.jit(harness.dyn_fun)(*args)
  leaves = jax.tree_util.tree_leaves(outs)
  return args, [np.asarray(x) for x in leaves]


@functools.cache
def _BY_NAME() -> dict[str, Any]:
  return {h.fullname: h for h in all_harnesses()}


def jax_result(harness: Any) -> tuple[list[Any], list[np.ndarray]]:
  return _jax_result_cached(harness.fullname)


def xla_op_types(fn: Any, tf_args: list[Any]) -> set[str]:
  """The Xla* op types in fn's tf.function graph (function libraries too)."""
  return {t for t in graph_op_types(fn, *tf_args) if t.startswith("Xla")}


def run_converted(harness: Any, args: list[Any], mode: str,
                  enable_xla: bool = True) -> list[np.ndarray]:
  """Converts the harness function and runs it in `mode`.

  Modes "noxla" / "noxla_jit": enable_xla=False, in tf.function (without /
  with jit_compile), and the graph must not contain any Xla* op.
  """
  if mode in ("noxla", "noxla_jit"):
    enable_xla = False
  converted = jax2tf_impl.convert(harness.dyn_fun, enable_xla=enable_xla)
  tf_args = [tf.constant(np.asarray(a)) for a in args]
  if mode in ("noxla", "noxla_jit"):
    xla_ops = xla_op_types(converted, tf_args)
    assert not xla_ops, f"enable_xla=False graph contains {sorted(xla_ops)}"
    outs = tf.function(converted, autograph=False,
                       jit_compile=(mode == "noxla_jit"))(*tf_args)
  elif mode == "eager":
    outs = converted(*tf_args)
  elif mode == "graph":
    outs = tf.function(converted, autograph=False)(*tf_args)
  elif mode == "jit":
    outs = tf.function(converted, autograph=False, jit_compile=True)(*tf_args)
  else:
    raise ValueError(mode)
  return [np.asarray(x.numpy()) for x in tf.nest.flatten(outs)]


def jax_default_tolerance(dtype: np.dtype) -> float:
  """JAX's own test tolerance for `dtype` (atol = rtol)."""
  return float(public_test_util.default_tolerance().get(np.dtype(dtype), 0.0))


def tolerance_for(harness: Any, dtype: np.dtype) -> float:
  name = np.dtype(dtype).name
  group_tols = tolerances().get(harness.group_name, {})
  if name in group_tols:
    return group_tols[name]
  return jax_default_tolerance(dtype)


# The tolerances this suite used before it adopted JAX's own (atol = rtol).
# A result within JAX's tolerance passes; one beyond JAX's but within this
# floor is an expected failure that reports its measured error (listed in
# docs/limitations.md from a full run, so each exception is visible and
# measured); one beyond the floor fails.
FLOOR_TOL = {
    "float16": 1e-2, "bfloat16": 2e-2, "float32": 1e-5, "float64": 1e-12,
    "complex64": 1e-5, "complex128": 1e-12,
}


class BeyondJaxTolerance(AssertionError):
  """Within FLOOR_TOL but not within JAX's tolerance: xfailed with the
  measured error."""


def _max_error_ratio(t: np.ndarray, j: np.ndarray) -> tuple[float, float]:
  """(max |t - j| / (1 + |j|), max |t - j|) over finite entries; inf where
  NaN / inf positions differ."""
  wide = np.complex128 if dt.is_complex(j.dtype) else np.float64
  t, j = t.astype(wide), j.astype(wide)
  if not np.array_equal(np.isnan(t), np.isnan(j)):
    return np.inf, np.inf
  finite = np.isfinite(j) & np.isfinite(t)
  if not np.array_equal(t[~finite & ~np.isnan(j)], j[~finite & ~np.isnan(j)]):
    return np.inf, np.inf
  if not finite.any():
    return 0.0, 0.0
  diff = np.abs(t[finite] - j[finite])
  return (float(np.max(diff / (1.0 + np.abs(j[finite])))),
          float(np.max(diff)))


def assert_same(harness: Any, jax_outs: list[np.ndarray],
                tf_outs: list[np.ndarray], mode: str = "graph") -> list[str]:
  """Same number of outputs, dtypes, shapes; values within tolerance
  (JAX's default, or the group's documented exception).

  Beyond JAX's default tolerance but within JAX's own per-harness override
  for this group (support/jax_overrides.py) passes, and the measured error is
  returned as a note; beyond both but within FLOOR_TOL raises
  BeyondJaxTolerance (an xfail with the measured error); beyond that fails.
  """
  assert len(jax_outs) == len(tf_outs), (len(jax_outs), len(tf_outs))
  beyond, notes = [], []
  override = jax_overrides.override_tolerance(harness, mode)
  for i, (j, t) in enumerate(zip(jax_outs, tf_outs)):
    assert j.dtype == t.dtype, f"output {i}: dtype {t.dtype} != JAX {j.dtype}"
    assert j.shape == t.shape, f"output {i}: shape {t.shape} != JAX {j.shape}"
    if not dt.is_inexact(j.dtype):
      np.testing.assert_array_equal(t, j, err_msg=f"output {i}")
      continue
    tol = tolerance_for(harness, j.dtype)
    wide = np.complex128 if dt.is_complex(j.dtype) else np.float64
    close = functools.partial(np.testing.assert_allclose, t.astype(wide),
                              j.astype(wide), equal_nan=True,
                              err_msg=f"output {i}")
    try:
      close(rtol=tol, atol=tol)
      continue
    except AssertionError:
      pass
    rel, absolute = _max_error_ratio(t, j)
    measured = (f"output {i} ({np.dtype(j.dtype).name}): max error "
                f"{absolute:.2e} (relative {rel:.2e})")
    if override is not None and override > tol:
      try:
        close(rtol=override, atol=override)
        notes.append(f"{measured}: beyond JAX's default {tol:g}, within "
                     f"JAX's override {override:g} for this group")
        continue
      except AssertionError:
        pass
    floor = max(tol, override or 0.0,
                FLOOR_TOL.get(np.dtype(j.dtype).name, tol))
    close(rtol=floor, atol=floor)
    beyond.append(f"{measured} exceeds JAX's tolerance "
                  f"{max(tol, override or 0.0):g}, within {floor:g}")
  if beyond:
    raise BeyondJaxTolerance("; ".join(beyond))
  return notes


def check_harness(harness: Any, mode: str, enable_xla: bool = True
                  ) -> list[str]:
  """Runs one harness in one mode and asserts it matches JAX; returns the
  measured errors of outputs that pass only at JAX's per-harness override."""
  args, jax_outs = jax_result(harness)
  tf_outs = run_converted(harness, args, mode, enable_xla)
  check = custom_checks().get(harness.group_name)
  if check is not None:
    check(harness, args, jax_outs, tf_outs)
    return []
  return assert_same(harness, jax_outs, tf_outs, mode)
