"""Converts a SavedModel to a TF.js graph model with tensorflowjs 4.22.0.

Usage:  python jax2tf_impl/export/tfjs_converter_cli.py SAVED_MODEL_DIR OUTPUT_DIR [--keep-debug-ops]
        python jax2tf_impl/export/tfjs_converter_cli.py --probe   (can this interpreter convert?)

Like `tensorflowjs_converter --input_format=tf_saved_model
--output_format=tfjs_graph_model --strip_debug_ops=True`: the Assert ops that
jax2tf_impl emits to check input shapes against polymorphic_shapes are not
TF.js ops, so they are stripped (the TF.js model does not check input shapes
against the spec). --keep-debug-ops turns that off (and conversion then
fails on them).

Prints one JSON line: {"ok": true, "ops": [...]} (the op types of the
written model.json) or {"ok": false, "error": "..."}; exits 1 on failure.

Run it with an interpreter where the `tensorflowjs` package is importable;
see docs/deployment.md for a setup beside TensorFlow 2.21.

About tensorflow_decision_forests: tensorflowjs 4.22.0's
converters/tf_saved_model_conversion_v2.py does an unguarded
`import tensorflow_decision_forests` ("Required to load saved models that use
TFDF": the import only registers TFDF's custom ops). TFDF's newest release
(1.12.0) pins tensorflow==2.19.0, and with TF 2.21 its compiled op library
fails to load (inference.so: undefined symbol ...tsl7strings6StrCat...). If
that import fails, this script says so on stderr and registers an explicit
placeholder module in its own process; any use of an attribute of it raises
ImportError. SavedModels with TFDF ops cannot be converted this way (loading
them fails on the unknown ops); SavedModels without them convert unchanged.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class _MissingTFDF(types.ModuleType):
  """Stands for tensorflow_decision_forests, which cannot load here."""

  def __init__(self, error: BaseException):
    super().__init__("tensorflow_decision_forests")
    self.__error = f"{type(error).__name__}: {error}"

  def __getattr__(self, name):
    if name.startswith("__"):
      raise AttributeError(name)
    raise ImportError("tensorflow_decision_forests is not usable with this "
                      f"TensorFlow ({self.__error}); models with TFDF ops "
                      "cannot be converted here")


def import_converter() -> types.ModuleType:
  """tensorflowjs.converters.tf_saved_model_conversion_v2, imported."""
  try:
    importlib.import_module("tensorflow_decision_forests")
  except Exception as e:  # pylint: disable=broad-except  (ImportError, NotFoundError)
    for mod in [m for m in sys.modules if m.startswith("tensorflow_decision_forests")]:
      del sys.modules[mod]
    sys.modules["tensorflow_decision_forests"] = _MissingTFDF(e)
    print("tfjs_convert: tensorflow_decision_forests does not import "
          f"({type(e).__name__}); using a placeholder that raises on use. "
          "Only models with TFDF ops need it.", file=sys.stderr)
  return importlib.import_module(
      "tensorflowjs.converters.tf_saved_model_conversion_v2")


def fix_signature_keys(saved_model_dir: str, output_dir: str) -> None:
  """Gives model.json's signature entries their SavedModel signature keys.

  tensorflowjs 4.22.0 matches each input and output to a signature key by
  dtype and shape (`_find_signature_def_name`); where two inputs (or two
  outputs) share both, it keys them by tensor name ("input_1:0",
  "Identity_2:0") instead, and TF.js then wants/returns them under that name.
  The signature function says exactly which tensor is which key, so this
  rewrites the keys (in the function's input and output order).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  loaded = tf.saved_model.load(saved_model_dir)
  fn = loaded.signatures["serving_default"]
  # A signature function takes keyword arguments only and returns a flat
  # dict; fn.inputs starts with the arguments and fn.outputs is the result,
  # both flattened in tf.nest order, i.e. by sorted key.
  args, kwargs = fn.structured_input_signature
  in_keyed = sorted(kwargs.items())
  out_keyed = sorted(fn.structured_outputs.items())
  if args or len(out_keyed) != len(fn.outputs):
    raise ValueError("unexpected signature function structure")
  path = os.path.join(output_dir, "model.json")
  with open(path) as f:
    model = json.load(f)
  for field, keyed, tensors in (("inputs", in_keyed, fn.inputs[:len(in_keyed)]),
                                ("outputs", out_keyed, fn.outputs)):
    if any(spec.dtype != t.dtype for (_, spec), t in zip(keyed, tensors)):
      raise ValueError(f"cannot pair signature {field} with the function's")
    key_of = {t.name: k for (k, _), t in zip(keyed, tensors)}
    entries = model.get("signature", {}).get(field, {})
    by_name = {info["name"]: info for info in entries.values()}
    if not set(by_name) <= set(key_of):
      raise ValueError(f"model.json {field} {sorted(by_name)} are not the "
                       f"signature's {sorted(key_of)}")
    model["signature"][field] = {key_of[t.name]: by_name[t.name]
                                 for t in tensors if t.name in by_name}
  with open(path, "w") as f:
    json.dump(model, f)


def convert(saved_model_dir: str, output_dir: str,
            strip_debug_ops: bool = True) -> list[str]:
  """Writes model.json + weights to output_dir; returns the graph's ops."""
  conversion = import_converter()
  conversion.convert_tf_saved_model(saved_model_dir, output_dir,
                                    signature_def="serving_default",
                                    saved_model_tags="serve",
                                    strip_debug_ops=strip_debug_ops)
  fix_signature_keys(saved_model_dir, output_dir)
  with open(os.path.join(output_dir, "model.json")) as f:
    topology = json.load(f)["modelTopology"]
  nodes = list(topology.get("node", []))
  for fn in topology.get("library", {}).get("function", []):
    nodes.extend(fn.get("nodeDef", []))
  return sorted({n["op"] for n in nodes})


def main() -> None:
  if sys.argv[1:] == ["--probe"]:  # can this interpreter convert?
    try:
      import_converter()
      import tensorflowjs.version  # pylint: disable=g-import-not-at-top
    except Exception as e:  # pylint: disable=broad-except
      print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}))
      sys.exit(1)
    print(json.dumps({"ok": True, "tensorflowjs": tensorflowjs.version.version}))
    return
  args = [a for a in sys.argv[1:] if a != "--keep-debug-ops"]
  if len(args) != 2:
    raise SystemExit(__doc__)
  try:
    ops = convert(args[0], args[1],
                  strip_debug_ops="--keep-debug-ops" not in sys.argv)
  except Exception as e:  # pylint: disable=broad-except
    msg = " ".join(f"{type(e).__name__}: {e}".split())
    print(json.dumps({"ok": False, "error": msg}))
    sys.exit(1)
  import tensorflowjs.version  # pylint: disable=g-import-not-at-top
  print(json.dumps({"ok": True, "ops": ops,
                    "tensorflowjs": tensorflowjs.version.version}))


if __name__ == "__main__":
  main()
