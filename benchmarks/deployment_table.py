"""The model x target table of docs/deployment.md, measured.

For every model of tests/model_zoo.py (batch-polymorphic spec, JAX in its
default 32-bit mode): export once, run at batch sizes 1 and 3 with each
target's own runtime, and report the max |target - jax.jit| over all
outputs and both sizes.

  * tf.function: the enable_xla=False graph that the exports start from;
  * TFLite: jax2tf_impl.export.export_tflite (builtin ops only), run by
    LiteRT (ai-edge-litert, else tf.lite.Interpreter);
  * ONNX: jax2tf_impl.export.export_onnx (tf2onnx), run by onnxruntime;
  * the standard path, as tutorials do it, without our helpers: the default
    convert() graph (enable_xla=True) as a concrete function with a None
    batch, given to tf.lite.TFLiteConverter.from_concrete_functions
    (builtins only) and to tf2onnx.convert.from_function (opset 18, the
    first with BitwiseXor; OPSET=15 to choose another),
    tests/support/standard_path.py.

Usage: python benchmarks/deployment_table.py [--models a,b]
Prints a markdown table; a failing export shows NO and the error's first
line. TF.js: see examples/tfjs_node_check.py.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import jax  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
jax.config.update("jax_enable_x64", False)

import jax2tf_impl  # noqa: E402
from jax2tf_impl import export  # noqa: E402
from support import standard_path  # noqa: E402  pylint: disable=g-import-not-at-top
from support.model_zoo import MODELS  # noqa: E402  pylint: disable=g-import-not-at-top

BATCHES = (1, 3)


def _leaves(tree):
  return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def _max_err(got, want) -> float:
  assert len(got) == len(want), (len(got), len(want))
  err = 0.0
  for g, w in zip(got, want):
    assert g.shape == w.shape, (g.shape, w.shape)
    if w.size:
      err = max(err, float(np.max(np.abs(g.astype(np.float64) -
                                         w.astype(np.float64)))))
  return err


def _tf_function(model):
  converted = jax2tf_impl.convert(model.fun(), enable_xla=False,
                                  polymorphic_shapes=list(model.batch_spec))
  fn = tf.function(converted, autograph=False)
  return lambda inputs: _leaves(tf.nest.map_structure(
      lambda t: t.numpy(), fn(*inputs)))


def _output_order(name: str):
  m = re.fullmatch(r"output_(\d+)", name)
  return (0, int(m.group(1)), "") if m else (1, 0, name)


def _tflite(model):
  content = export.export_tflite(model.fun(), model.make_batch(1),
                                 polymorphic_shapes=list(model.batch_spec))
  try:
    from ai_edge_litert.interpreter import Interpreter  # pylint: disable=g-import-not-at-top
  except ImportError:
    Interpreter = tf.lite.Interpreter  # noqa: N806

  def run(inputs):
    runner = Interpreter(model_content=content).get_signature_runner()
    names = sorted(runner.get_input_details(),
                   key=lambda n: int(n.rsplit("_", 1)[-1]) if n[-1].isdigit() else 0)
    outs = runner(**dict(zip(names, inputs)))
    return [outs[k] for k in sorted(outs, key=_output_order)]
  return run


def _onnx(model):
  import onnxruntime as ort  # pylint: disable=g-import-not-at-top
  proto = export.export_onnx(model.fun(), model.make_batch(1),
                             polymorphic_shapes=list(model.batch_spec))
  session = ort.InferenceSession(proto.SerializeToString(),
                                 providers=["CPUExecutionProvider"])
  names = [i.name for i in session.get_inputs()]
  return lambda inputs: session.run(
      None, {n: np.asarray(x) for n, x in zip(names, inputs)})


def _plain_tflite(model):
  return standard_path.plain_tflite(model)


def _plain_onnx(model):
  return standard_path.plain_onnx(model, opset=int(os.environ.get("OPSET", 18)))


TARGETS = {"tf.function": _tf_function, "TFLite builtins": _tflite,
           "ONNX (tf2onnx)": _onnx,
           "plain TFLiteConverter (default graph)": _plain_tflite,
           "plain tf2onnx (default graph)": _plain_onnx}
if os.environ.get("TARGETS"):
  TARGETS = {k: v for k, v in TARGETS.items()
             if any(t in k for t in os.environ["TARGETS"].split(","))}


def measure(model, make_runner) -> str:
  try:
    run = make_runner(model)
    err, ok = 0.0, True
    for n in BATCHES:
      inputs = model.make_batch(n)
      want = _leaves(jax.jit(model.fun())(*inputs))
      got = run(inputs)
      err = max(err, _max_err(got, want))
      # The criterion of tests/test_deployment.py.
      ok &= all(np.allclose(g, w, rtol=model.rtol, atol=model.rtol)
                for g, w in zip(got, want))
    if not ok and err == 0.0:  # NaN where JAX has numbers
      return "NO (NaN)"
    return f"{'YES' if ok else 'NO'} ({err:.1e})"
  except Exception as e:  # pylint: disable=broad-except
    first = (str(e).strip().splitlines() or [type(e).__name__])[0][:100]
    if os.environ.get("VERBOSE"):
      traceback.print_exc()
    return f"NO: {type(e).__name__}: {first}"


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--models", default="")
  args = parser.parse_args()
  wanted = [m for m in args.models.split(",") if m]
  print("| model | " + " | ".join(TARGETS) + " |")
  print("|---" * (len(TARGETS) + 1) + "|")
  for model in MODELS:
    if wanted and model.name not in wanted:
      continue
    cells = [measure(model, make) for make in TARGETS.values()]
    print(f"| {model.name} | " + " | ".join(cells) + " |", flush=True)
  print(f"\nmax |target - jax.jit| over all outputs at batch sizes {BATCHES}; "
        f"jax {jax.__version__}, tensorflow {tf.__version__}")


if __name__ == "__main__":
  main()
