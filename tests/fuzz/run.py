"""Differential fuzzing driver: random JAX programs, converted vs jax.jit.

    python -m tests.fuzz.run --programs 5000 [--seed S] [--out DIR]
    python tests/fuzz/run.py --seconds 600

Writes DIR/summary.json (programs run per mode, outcome counts, failures)
and DIR/reproducers.py (each distinct failure, shrunk, as readable Python
with the failing modes and message). Seeds: program i of a run with seed S
is generator.generate(f"{S}:{i}"), so any program can be regenerated.
"""
from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import re
import sys
import time
from typing import Any, Callable, Optional

if __package__ in (None, ""):  # run as a script path
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  __package__ = "fuzz"  # pylint: disable=redefined-builtin
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import jax  # noqa: E402

from . import check as check_mod  # noqa: E402
from . import generator  # noqa: E402
from . import known as known_mod  # noqa: E402
from . import shrink as shrink_mod  # noqa: E402

# Cheapest first: the mode a failure is shrunk in.
SHRINK_ORDER = ("eager", "graph", "noxla", "jit", "noxla_jit")


def signature(mode: str, outcome: check_mod.Outcome, prog: generator.Program) -> str:
  """Failures that look alike are one bug: only the first of each is shrunk.
  Errors: the message with numbers, dtypes and names stripped; mismatches:
  that and the set of functions the program calls."""
  msg = outcome.message.split(" for '{{node")[0]
  msg = re.sub(r"\b(DT_\w+|u?int\d+|float\d+|bfloat16|complex\d+|bool)\b", "T", msg)
  msg = re.sub(r"\[[\d, ]*\]|\([\d, ]*\)", "S", msg)
  msg = re.sub(r"[-+]?\d[\d.e+-]*", "N", msg)
  msg = re.sub(r"'[^']*'", "'_'", msg)
  sig = f"{outcome.status}: {msg[:90]}"
  if outcome.status != "error":
    names = sorted({n for st in prog.stmts for n in re.findall(r"(?:jnp|lax|jax)\.[\w.]+", st.code)})
    sig += f" [{' '.join(names) or 'operators'}]"
  return sig


def fuzz(programs: Optional[int] = None, seconds: Optional[float] = None,
         seed: Any = 0, modes: tuple = check_mod.MODES, do_shrink: bool = True,
         max_shrinks: int = 20, log: Callable[[str], None] = print,
         shrink_seconds: float = 240) -> dict:
  """Runs programs until `programs` or `seconds` is reached (either None =
  no limit on it). Returns the summary dict."""
  start = time.time()
  per_mode = {m: collections.Counter() for m in modes}
  families = collections.Counter()
  dtypes = collections.Counter()
  discarded = collections.Counter()
  known = collections.Counter()
  failures: dict[str, dict] = {}
  n_run = n_poly = 0
  shrinks = {False: 0, True: 0}
  i = 0
  while True:
    if programs is not None and i >= programs:
      break
    if seconds is not None and time.time() - start >= seconds:
      break
    pseed = f"{seed}:{i}"
    i += 1
    if i % 50 == 0:
      # Thousands of programs: drop JAX's compilation caches (memory).
      jax.clear_caches()
      gc.collect()
      log(f"fuzz: {i} programs generated, {n_run} run, {time.time() - start:.0f} s")
    prog = generator.generate(pseed)
    if not prog.values:
      discarded["index contract not satisfiable"] += 1
      continue
    res = check_mod.check(prog, modes)
    if res.discarded:
      discarded[res.discarded.split(":")[0]] += 1
      continue
    n_run += 1
    n_poly += prog.poly
    families.update(set(prog.families()))
    dtypes.update(prog.dtypes())
    for m, o in list(res.outcomes.items()):
      reason = known_mod.known_reason(prog, m, o) if o.status in ("mismatch", "error") else None
      if reason:
        res.outcomes[m] = check_mod.Outcome("known", reason)
        known[reason] += 1
      per_mode[m][res.outcomes[m].status] += 1
    fails = res.failures(numeric=True)
    if not fails:
      continue
    sigs = {m: signature(m, o, prog) for m, o in fails.items()}
    new = [s for s in sigs.values() if s not in failures]
    for m, s in sigs.items():
      entry = failures.setdefault(s, dict(signature=s, count=0, seeds=[], modes=set()))
      entry["count"] += 1
      entry["modes"].add(m)
      if len(entry["seeds"]) < 5:
        entry["seeds"].append(pseed)
    if not new:
      continue
    order = sorted((m for m in SHRINK_ORDER if m in fails and sigs[m] in new),
                   key=lambda m: fails[m].status == "numeric")
    mode = order[0]
    key = check_mod.failure_key(mode, fails[mode])
    log(f"[{pseed}] {mode} {fails[mode].status}: {fails[mode].message[:160]}")
    shrunk = prog
    numeric = fails[mode].status == "numeric"
    if do_shrink and shrinks[numeric] < (max_shrinks if not numeric else max(1, max_shrinks // 4)):
      shrinks[numeric] += 1
      shrunk = shrink_mod.shrink(prog, key, max_seconds=shrink_seconds)
    final = check_mod.check(shrunk, modes)
    text = _reproducer_text(pseed, shrunk, final)
    for s in new:
      failures[s]["reproducer"] = text
    log(text)
  elapsed = time.time() - start
  summary = dict(
      seed=str(seed), seconds=round(elapsed, 1), programs_generated=i,
      programs_run=n_run, polymorphic_programs=n_poly, discarded=dict(discarded),
      per_mode={m: dict(c) for m, c in per_mode.items()},
      known=dict(known),
      op_families=dict(families.most_common()), input_dtypes=dict(dtypes.most_common()),
      failures=[dict(e, modes=sorted(e["modes"])) for e in failures.values()])
  return summary


def _reproducer_text(pseed: str, prog: generator.Program, res: check_mod.Result) -> str:
  lines = [f"# program {pseed!r}, shrunk"]
  if res.discarded:
    lines.append(f"# (after shrinking JAX fails: {res.discarded})")
  for m, o in res.outcomes.items():
    lines.append(f"# {m}: {o.status}" + (f": {o.message}" if o.message else ""))
  lines.append(prog.reproducer())
  return "\n".join(lines) + "\n"


def main(argv: Optional[list] = None) -> int:
  ap = argparse.ArgumentParser(description=__doc__,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--programs", type=int, default=None)
  ap.add_argument("--seconds", type=float, default=None)
  ap.add_argument("--seed", default=None, help="default: tests/support/sampling.seed()")
  ap.add_argument("--out", default="fuzz_out")
  ap.add_argument("--modes", default=",".join(check_mod.MODES))
  ap.add_argument("--no-shrink", action="store_true")
  ap.add_argument("--max-shrinks", type=int, default=20)
  args = ap.parse_args(argv)
  jax.config.update("jax_enable_x64", True)
  seed = args.seed
  if seed is None:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from support import sampling  # pylint: disable=g-import-not-at-top
    seed = sampling.seed()
  if args.programs is None and args.seconds is None:
    args.programs = 100
  print(f"fuzz: seed {seed} (rerun with --seed {seed})", flush=True)
  summary = fuzz(args.programs, args.seconds, seed, tuple(args.modes.split(",")),
                 not args.no_shrink, args.max_shrinks,
                 log=lambda s: print(s, flush=True))
  os.makedirs(args.out, exist_ok=True)
  with open(os.path.join(args.out, "summary.json"), "w") as f:
    json.dump({k: v for k, v in summary.items()}, f, indent=1, default=str)
  with open(os.path.join(args.out, "reproducers.py"), "w") as f:
    f.write("# Shrunk reproducers from tests/fuzz/run.py\n")
    f.write("import jax, jax.numpy as jnp, numpy as np\nfrom jax import lax\n"
            "from numpy import nan, inf\n\n")
    written = set()
    for e in summary["failures"]:
      src = e.get("reproducer", "").split("args = [")[0].split("\n", 1)[-1]
      if "reproducer" in e and src not in written:
        written.add(src)
        f.write(f"# --- {e['signature']} (x{e['count']}, modes {e['modes']})\n")
        f.write(e["reproducer"] + "\n")
  brief = {k: summary[k] for k in ("seed", "seconds", "programs_generated", "programs_run",
                                   "polymorphic_programs", "discarded", "per_mode", "known")}
  print(json.dumps(brief, indent=1))
  for e in summary["failures"]:
    print(f"{'NUMERIC' if e['signature'].startswith('numeric') else 'FAIL'} x{e['count']} {e['modes']}: {e['signature']}")
  return 1 if silent_or_errors(summary) else 0


def silent_or_errors(summary: dict) -> list:
  """The failures that count: mismatches and errors (not "numeric")."""
  return [e for e in summary["failures"] if not e["signature"].startswith("numeric")]


if __name__ == "__main__":
  sys.exit(main())
