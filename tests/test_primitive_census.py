"""The primitive census: every primitive object JAX defines is either converted
(a rule, or the lowering fallback) or has a written reason in
jax2tf_impl/rules/census.py. A JAX upgrade that adds a primitive fails here
until someone decides what to do with it."""
import json
import os
import subprocess
import sys

import pytest

from jax2tf_impl.rules import census

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Rules being added by other changes of issue 15 (name -> who). The
# integrator deletes this dict once they are merged; until then these
# primitives have neither a rule nor an entry in census.py.
PENDING: dict[str, str] = {}

_SCRIPT = r"""
import json, warnings
warnings.simplefilter("ignore")
from jax2tf_impl.rules import census
print("CENSUS-JSON " + json.dumps(census.as_json(census.take_census())))
"""


@pytest.fixture(scope="module")
def entries():
  """The census, taken in a fresh process: importing all of JAX's modules
  (Pallas, sparse, jax2tf, ...) must not leak into this test session, and
  primitives that other tests' libraries define (Equinox) must not count."""
  env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3",
             JAX_PLATFORMS="cpu")
  proc = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True,
                        text=True, env=env, timeout=300, cwd=REPO)
  assert proc.returncode == 0, proc.stderr[-3000:]
  line = [l for l in proc.stdout.splitlines() if l.startswith("CENSUS-JSON ")]
  assert line, proc.stdout[-2000:]
  return [census.CensusEntry(**d) for d in json.loads(line[-1].split(" ", 1)[1])]


def test_enumeration_finds_jax_primitives(entries):
  by_name = {e.name: e for e in entries}
  assert len(entries) > 300, len(entries)
  # Registered ones and unregistered ones of several kinds are all found.
  for name in ("sin", "dot_general", "while", "scatter", "random_bits",
               "psum", "pallas_call", "bcoo_dot_general", "call_tf"):
    assert name in by_name, name
  assert by_name["sin"].rule is not None
  assert by_name["pallas_call"].rule is None
  keys = [e.key for e in entries]
  assert len(keys) == len(set(keys)), "census keys must be unique"


def test_every_primitive_is_registered_or_justified(entries):
  undecided = [(e.key, e.defined_at) for e in entries
               if census.classify(e, PENDING)[0] == "missing"]
  assert not undecided, (
      f"{len(undecided)} JAX primitive(s) have neither a rule nor an entry in "
      "jax2tf_impl/rules/census.py (UNREACHABLE / UNSUPPORTED / VIA_FALLBACK, "
      "with the reason): " + ", ".join(f"{k} ({w})" for k, w in undecided))


def test_tables_have_no_stale_or_conflicting_entries(entries):
  unregistered = {e.key for e in entries if e.rule is None}
  registered = {e.key for e in entries if e.rule is not None}
  tables = {"UNREACHABLE": census.UNREACHABLE,
            "UNSUPPORTED": census.UNSUPPORTED,
            "VIA_FALLBACK": census.VIA_FALLBACK, "PENDING": PENDING}
  problems = []
  for tname, table in tables.items():
    for key, reason in table.items():
      assert isinstance(reason, str) and len(reason) > 20, (tname, key)
      if key in registered:
        problems.append(f"{key} is in {tname} but has a rule: delete the entry")
      elif key not in unregistered:
        problems.append(f"{key} is in {tname} but JAX defines no such "
                        "primitive any more: delete the entry")
  names = [k for t in tables.values() for k in t]
  dups = sorted({k for k in names if names.count(k) > 1})
  assert not dups, f"in several tables: {dups}"
  assert not problems, "\n".join(problems)


def test_fallback_entries_still_have_a_lower_fun_lowering(entries):
  by_key = {e.key: e for e in entries}
  lost = [k for k in census.VIA_FALLBACK if k in by_key
          and not by_key[k].has_lower_fun]
  assert not lost, (f"no longer lowered with mlir.lower_fun, so the fallback "
                    f"cannot interpret them: {lost}")


def test_docs_primitives_md_is_up_to_date(entries):
  with open(os.path.join(REPO, "docs", "primitives.md")) as f:
    committed = f.read()
  assert committed == census.markdown(entries), (
      "docs/primitives.md is stale: run "
      "`PYTHONPATH=$PWD python docs/generate_primitives.py`")
