"""Generates docs/limitations.md from a harness run's JSON-lines results.

    JAX2TF_IMPL_FULL=1 python -m pytest tests/test_harnesses.py -n 2 -q \
        --harness-results=results/harness.jsonl
    python docs/generate_limitations.py results/harness.jsonl*

`--refresh` rewrites only the sections from the sources (the sweep's
expected failures, limitations_notes.md), keeping the harness sections.

Every harness test that did not pass is listed with its reason, grouped by
primitive group; the summary gives pass counts per mode. Hand-written notes
(limitations outside the harness suite) come from docs/limitations_notes.md.
"""
from __future__ import annotations

import ast
import collections
import datetime
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def load(paths: list[str]) -> list[dict]:
  rows = []
  for pattern in paths:
    for path in sorted(glob.glob(pattern)):
      with open(path) as f:
        rows.extend(json.loads(line) for line in f if line.strip())
  return rows


def summarize(rows: list[dict]) -> str:
  by_mode: dict[str, collections.Counter] = collections.defaultdict(
      collections.Counter)
  for r in rows:
    key = r["mode"] + ("" if r.get("enable_xla", True) else " (enable_xla=False)")
    by_mode[key][r["status"]] += 1
  at_override: collections.Counter = collections.Counter()
  for r in rows:
    if r["status"] == "passed" and r.get("note"):
      key = r["mode"] + ("" if r.get("enable_xla", True) else " (enable_xla=False)")
      at_override[key] += 1
  lines = ["| mode | JAX-runnable | passed | of which at JAX's override | "
           "xfailed (known) | failed | pass rate | pass rate at JAX's defaults "
           "only | not runnable by JAX on CPU |",
           "|---|---|---|---|---|---|---|---|---|"]
  for mode in sorted(by_mode):
    c = by_mode[mode]
    runnable = c["passed"] + c["failed"] + c["xfailed"] + c["xpassed"]
    passed = c["passed"] + c["xpassed"]
    rate = 100.0 * passed / runnable if runnable else 0.0
    strict = 100.0 * (passed - at_override[mode]) / runnable if runnable else 0.0
    lines.append(f"| {mode} | {runnable} | {passed} | {at_override[mode]} | "
                 f"{c['xfailed']} | {c['failed']} | {rate:.2f}% | "
                 f"{strict:.2f}% | {c['skipped']} |")
  return "\n".join(lines)


def details(rows: list[dict]) -> str:
  bad = [r for r in rows if r["status"] in ("failed", "xfailed")]
  by_group: dict[str, list[dict]] = collections.defaultdict(list)
  for r in bad:
    by_group[r["group"]].append(r)
  out = []
  for group in sorted(by_group):
    items = by_group[group]
    out.append(f"### {group} ({len(items)} harness tests)\n")
    # Collapse identical reasons.
    reasons: dict[str, list[str]] = collections.defaultdict(list)
    for r in items:
      reason = (r.get("message") or "").split("\n")[0][:300]
      tag = "known limitation" if r["status"] == "xfailed" else "FAILING"
      mode = r["mode"] + ("" if r.get("enable_xla", True) else "/noxla")
      reasons[f"{tag}: {reason}"].append(f"{r['name']} [{mode}]")
    for reason, names in sorted(reasons.items()):
      out.append(f"- {reason}")
      for n in sorted(names)[:12]:
        out.append(f"  - `{n}`")
      if len(names) > 12:
        out.append(f"  - ... and {len(names) - 12} more")
    out.append("")
  return "\n".join(out) if out else "None.\n"


def override_passes(rows: list[dict]) -> str:
  """Harness tests beyond JAX's default tolerance that pass at JAX's own
  per-harness override, with their measured errors (worst per group)."""
  by_group: dict[str, list[dict]] = collections.defaultdict(list)
  for r in rows:
    if r["status"] == "passed" and r.get("note"):
      by_group[r["group"]].append(r)
  out = []
  for group in sorted(by_group):
    items = by_group[group]
    modes = collections.Counter(r["mode"] for r in items)
    out.append(f"- **{group}** ({len(items)} tests: "
               + ", ".join(f"{m} {n}" for m, n in sorted(modes.items())) + ")")
    seen = set()
    for r in sorted(items, key=lambda r: r["name"]):
      note = r["note"]
      if note in seen:
        continue
      seen.add(note)
      out.append(f"  - {note} (e.g. `{r['name']}` [{r['mode']}])")
      if len(seen) >= 6:
        break
  return "\n".join(out) if out else "None."


def _skip_reason(message: str) -> str:
  """The reason of a skip, also from results that stored pytest's tuple."""
  if message.startswith("("):
    try:
      message = str(ast.literal_eval(message)[2])
    except (ValueError, SyntaxError, IndexError):
      pass
  return message.removeprefix("Skipped: ")[:160]


def sweep_known_failures() -> str:
  """The public-API sweep's expected failures (tests/support/api_sweep_cases.py
  KNOWN), one line each: case, modes, reason."""
  sys.path.insert(0, os.path.join(HERE, "..", "tests"))
  try:
    from support.api_sweep_cases import CASES, KNOWN  # pylint: disable=import-outside-toplevel
  finally:
    sys.path.pop(0)
  lines = [f"{len(KNOWN)} of the sweep's {len(CASES)} calls have an expected "
           "failure in some mode (`tests/test_api_sweep.py` xfails each; a "
           "'not bit-exact' one is non-strict because whether an affected "
           "sample is hit moves with JAX's and TF's versions):", ""]
  for name, (modes, reason) in sorted(KNOWN.items()):
    lines.append(f"- `{name}` ({', '.join(modes) if modes else 'all modes'}): {reason}")
  return "\n".join(lines)


def refresh() -> int:
  """Rewrites the sections that come from the sources (the sweep's expected
  failures, the hand-written notes) in the existing limitations.md, keeping
  the harness run's sections: for a change that touches no harness result."""
  path = os.path.join(HERE, "limitations.md")
  text = open(path).read()
  head, _, _ = text.partition("## Public-API sweep: expected failures\n")
  notes = open(os.path.join(HERE, "limitations_notes.md")).read()
  with open(path, "w") as f:
    f.write(f"{head}## Public-API sweep: expected failures\n\n"
            f"{sweep_known_failures()}\n\n{notes}\n")
  return 0


def main(argv: list[str]) -> int:
  if argv == ["--refresh"]:
    return refresh()
  if not argv:
    print(__doc__)
    return 2
  rows = load(argv)
  if not rows:
    print("no results found", file=sys.stderr)
    return 1
  notes_path = os.path.join(HERE, "limitations_notes.md")
  notes = open(notes_path).read() if os.path.exists(notes_path) else ""
  skipped = sorted({(r["group"], "gradient" if r["mode"].startswith("grad")
                     else "forward", _skip_reason(r.get("message", "")))
                    for r in rows if r["status"] == "skipped"})
  text = f"""# Known limitations

Generated by `docs/generate_limitations.py` from a harness run on
{datetime.date.today().isoformat()} ({len(rows)} harness tests: JAX's own
`test_harnesses`, x64 enabled, CPU; {len({r["group"] for r in rows})} harness
groups, {len({r["name"] for r in rows})} distinct harnesses, modes
{", ".join(sorted({r["mode"] for r in rows}))}; tolerances: JAX's
`public_test_util.default_tolerance`, atol = rtol, and JAX's per-harness
overrides). Do not edit by hand: fix the cause or the
reason in `tests/checks/<family>.py`, re-run, regenerate.

## Summary

{summarize(rows)}

"Not runnable by JAX on CPU" are harnesses that JAX itself does not run on
this device (they are excluded from the pass rate).

## Harness tests that pass only at JAX's per-harness override

Beyond `public_test_util`'s default tolerance, within the tolerance JAX's own
jax2tf tests allowed for that group and dtype (`tests/support/jax_overrides.py`,
restating upstream's `jax2tf_limitations.py`); the measured errors:

{override_passes(rows)}

## Harness tests that do not pass, by group

{details(rows)}
## Skipped harness tests (not counted in the pass rates)

Forward: harnesses JAX itself does not run on CPU. Gradient: groups whose
sampled harness has no floating-point input or output, or that JAX itself
cannot differentiate.

{chr(10).join(f"- {g} ({kind}): {m}" for g, kind, m in skipped) or "None."}

## Public-API sweep: expected failures

{sweep_known_failures()}

{notes}
"""
  with open(os.path.join(HERE, "limitations.md"), "w") as f:
    f.write(text)
  print(summarize(rows))
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
