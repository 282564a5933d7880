"""The quantization table of docs/deployment.md, measured.

For every float model of tests/support/model_zoo.py and each quantize mode
of jax2tf_impl.export.export_tflite (None, "float16", "dynamic", "int8"):
the flatbuffer size vs float32, the max relative error vs jax.jit (max over
outputs of max|tflite - jax| / max|jax|) and, for the classifiers, top-1
agreement with JAX. The measurement is tests/support/quant_eval.py (the
same one tests/test_tflite_quantization.py asserts on): synthetic inputs,
calibration on batch sizes 2..5, evaluation on batches of 9 and 16 (12
graphs for the GNN), run by LiteRT; plus a 64-256-256-10 MLP ("mlp",
calibrated on 64 inputs, evaluated on 200 others).

Usage: python benchmarks/quantization_table.py [--models a,b]
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import jax  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
jax.config.update("jax_enable_x64", False)

from support import quant_eval  # noqa: E402  pylint: disable=g-import-not-at-top


def _measure(name: str, mode: str | None) -> quant_eval.Measurement:
  if name == "mlp":
    return quant_eval.measure_mlp(mode)
  return quant_eval.measure(name, mode)


def _cell(name: str, mode: str | None) -> str:
  try:
    m = _measure(name, mode)
  except Exception as e:  # pylint: disable=broad-except
    return "FAIL: " + str(e).splitlines()[0][:80]
  cell = f"{m.size_ratio:.2f}x, err {m.max_rel_error:.1e}"
  if m.top1 is not None:
    cell += f", top-1 {m.top1:.2f}"
  return cell


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--models",
                      default=",".join(quant_eval.FLOAT_MODELS + ("mlp",)))
  names = parser.parse_args().models.split(",")
  modes = quant_eval.MODES
  print("| model | float32 bytes | " +
        " | ".join(str(m) for m in modes[1:]) + " |")
  print("|---" * (len(modes) + 1) + "|")
  for name in names:
    f32 = _measure(name, None)
    print(f"| {name} | {f32.size} | " +
          " | ".join(_cell(name, mode) for mode in modes[1:]) + " |",
          flush=True)


if __name__ == "__main__":
  main()
