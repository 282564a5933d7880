"""Regenerates tfjs_supported_ops.json from a tensorflowjs wheel.

The TF.js converter (tensorflowjs, PyPI) rejects a graph whose node ops are
not in the op lists it ships as tensorflowjs/op_list/*.json (see
`validate` in tensorflowjs/converters/tf_saved_model_conversion_v2.py); the
same lists drive the TF.js runtime's op mapping. This script copies the op
names out of the wheel so that jax2tf_impl.export.tfjs (and tests/test_tfjs.py) need neither the
converter nor a download.

Usage (either works; neither imports tensorflowjs):
  pip download --no-deps tensorflowjs==4.22.0 -d /tmp/tfjs_wheel
  python tests/data/make_tfjs_ops.py --wheel /tmp/tfjs_wheel/tensorflowjs-4.22.0-py3-none-any.whl
or, with tensorflowjs installed in the running interpreter:
  python tests/data/make_tfjs_ops.py
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "jax2tf_impl",
                           "export", "tfjs_supported_ops.json")


def _from_wheel(path: str) -> tuple[str, dict[str, list]]:
  lists, version = {}, None
  with zipfile.ZipFile(path) as z:
    for name in sorted(z.namelist()):
      m = re.fullmatch(r"tensorflowjs/op_list/(\w+)\.json", name)
      if m:
        lists[m.group(1)] = json.loads(z.read(name))
      if name == "tensorflowjs/version.py":
        version = re.search(r"version\s*=\s*['\"]([^'\"]+)",
                            z.read(name).decode()).group(1)
  with open(path, "rb") as f:
    sha = hashlib.sha256(f.read()).hexdigest()
  return (f"wheel {os.path.basename(path)} (sha256 {sha})", version), lists


def _from_installed() -> tuple[tuple[str, str], dict[str, list]]:
  spec = importlib.util.find_spec("tensorflowjs")  # does not import it
  if spec is None or not spec.submodule_search_locations:
    raise SystemExit("tensorflowjs is not installed here; pass --wheel")
  root = list(spec.submodule_search_locations)[0]
  with open(os.path.join(root, "version.py")) as f:
    version = re.search(r"version\s*=\s*['\"]([^'\"]+)", f.read()).group(1)
  op_dir = os.path.join(root, "op_list")
  lists = {}
  for name in sorted(os.listdir(op_dir)):
    if name.endswith(".json"):
      with open(os.path.join(op_dir, name)) as f:
        lists[name[:-5]] = json.load(f)
  return (f"installed package at {root}", version), lists


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--wheel", help="path to a tensorflowjs-*.whl")
  parser.add_argument("--out", default=DEFAULT_OUT)
  args = parser.parse_args()
  (source, version), lists = (_from_wheel(args.wheel) if args.wheel
                              else _from_installed())
  ops = {}
  for category, entries in lists.items():
    for entry in entries:
      ops[entry["tfOpName"]] = category
  doc = {
      "about": ("TensorFlow op types that the TF.js converter accepts (and "
                "the TF.js runtime maps): the union of the 'tfOpName' fields "
                "of tensorflowjs/op_list/*.json, as checked by "
                "tensorflowjs.converters.tf_saved_model_conversion_v2."
                "validate. Ops in category 'tfdf' need @tensorflow/tfjs-tfdf "
                "at run time."),
      "tensorflowjs_version": version,
      "source": f"tensorflowjs {version} from PyPI: {source}",
      "generated_by": "tests/data/make_tfjs_ops.py",
      "ops": dict(sorted(ops.items())),
  }
  with open(args.out, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
  print(f"wrote {len(ops)} ops of tensorflowjs {version} to {args.out}")


if __name__ == "__main__":
  main()
