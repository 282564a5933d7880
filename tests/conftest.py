"""Test-session setup: x64 on (as JAX's own harness runs), quiet TF logs."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import tensorflow as tf  # noqa: E402,F401
import pytest  # noqa: E402


@pytest.fixture
def x64_off():
  """JAX's default 32-bit mode for one test (x64 is on for the session)."""
  with jax.enable_x64(False):
    yield


# Thousands of conversions in one worker process: JAX's trace/compile caches
# and dead TF graphs otherwise grow a worker to many GB (CI has 24 GB for
# two workers). Cleared every _CLEAR_EVERY tests.
_CLEAR_EVERY = 300
_tests_run = 0


_MEMLOG = os.environ.get("JAX2TF_IMPL_MEMLOG")  # diagnostics: RSS per 100 tests


def _rss_mb() -> float:
  with open("/proc/self/status") as f:
    for line in f:
      if line.startswith("VmRSS:"):
        return int(line.split()[1]) / 1024
  return 0.0


def pytest_runtest_teardown(item, nextitem):
  global _tests_run
  _tests_run += 1
  if _MEMLOG and _tests_run % 100 == 0:
    with open(f"{_MEMLOG}.{os.getpid()}", "a") as f:
      f.write(f"{_tests_run} {_rss_mb():.0f} {item.nodeid}\n")
  if _tests_run % _CLEAR_EVERY == 0:
    import gc  # pylint: disable=g-import-not-at-top
    jax.clear_caches()
    gc.collect()


def pytest_report_header(config):
  from support import sampling  # pylint: disable=g-import-not-at-top
  if sampling.FULL:
    return "jax2tf_impl: JAX2TF_IMPL_FULL=1, no sampling"
  return (f"jax2tf_impl: sampled suites use JAX2TF_IMPL_SEED={sampling.seed()} "
          "(set it to rerun this sample; JAX2TF_IMPL_FULL=1 runs everything)")


def pytest_addoption(parser):
  parser.addoption("--harness-results", default=None,
                   help="write one JSON line per harness test to this file")


_results_file = None


def pytest_configure(config):
  global _results_file
  path = config.getoption("--harness-results")
  if path:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
      path = f"{path}.{worker}"
    _results_file = open(path, "w")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
  outcome = yield
  report = outcome.get_result()
  if _results_file is None or "harness" not in item.fixturenames and \
      not hasattr(item, "callspec"):
    return
  info = getattr(item, "harness_info", None)
  if info is None:
    return
  if report.when == "call" or (report.when == "setup" and report.skipped):
    import json
    status = report.outcome
    if hasattr(report, "wasxfail"):
      status = "xpassed" if report.passed else "xfailed"
    msg = ""
    if isinstance(report.longrepr, tuple):  # skips: (file, line, message)
      msg = str(report.longrepr[2])[:400]
    elif report.longrepr is not None and status != "passed":
      msg = str(getattr(report.longrepr, "reprcrash", None) and
                report.longrepr.reprcrash.message or report.longrepr)[:400]
    if hasattr(report, "wasxfail"):
      msg = report.wasxfail + (" | " + msg if msg else "")
    _results_file.write(json.dumps(dict(info, status=status, message=msg)) + "\n")
    _results_file.flush()
