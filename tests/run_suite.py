"""Runs the whole test suite as three pytest invocations, each with fresh workers.

    python tests/run_suite.py [pytest args...]      (README's test command)

Why two: a pytest-xdist worker never gives back what TF keeps per compiled
function (XLA's compilation cache holds every jit_compile executable for the
life of the process; graphs add ~0.1-2 MB per converted function). Over the
~11,000 tests of a CI run one worker per core grew to ~12 GB, which is all of
CI's 24 GB for two. The harness suite (half of the tests) runs in its own
invocation, the rest in a second one, so each worker lives for about half the
tests.

Extra arguments go to both invocations (e.g. `-k gather`, `-x`). Exit code:
the first non-zero one, except that "no tests collected" (5) in one part is
fine when the other part ran tests (a -k that selects only one part); both
collecting nothing is exit 5.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_HEAVY = [os.path.join(HERE, f) for f in (
    "test_harness_gradients.py", "test_api_sweep.py", "test_fuzz.py")]
HARNESSES = os.path.join(HERE, "test_harnesses.py")
PARTS = (
    [HARNESSES],                                  # ~4,500 tests in CI
    _HEAVY,                                       # ~2,000, each converting
    [HERE, f"--ignore={HARNESSES}", *(f"--ignore={f}" for f in _HEAVY)],
)
NO_TESTS = 5


def main(argv: list[str]) -> int:
  codes = []
  for part in PARTS:
    # The slowest tests of each part are listed, so a CI log says where the
    # time went (CI's budget is ~45 minutes).
    cmd = [sys.executable, "-m", "pytest", "-n", "2", "-q", "--durations=15",
           *part, *argv]
    print("+", " ".join(cmd), flush=True)
    start = time.monotonic()
    codes.append(subprocess.call(cmd, cwd=os.path.dirname(HERE)))
    print(f"part {len(codes)} took {time.monotonic() - start:.0f} s", flush=True)
  failing = [c for c in codes if c not in (0, NO_TESTS)]
  if failing:
    return failing[0]
  if all(c == NO_TESTS for c in codes):
    return NO_TESTS
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
