r"""Model suite -> SavedModel -> TF.js graph model -> run in Node.js, vs JAX.

For each model in tests/support/model_zoo.py: convert with
`jax2tf_impl.convert(..., enable_xla=False)` (batch-polymorphic), save a
SavedModel whose signature has a None batch dimension, convert it with the
tensorflowjs converter (tf_saved_model -> tfjs_graph_model, via
jax2tf_impl/export/tfjs_converter_cli.py), run the graph model in Node.js with
@tensorflow/tfjs (jax2tf_impl/export/tfjs_node_runner.js) at batch sizes 1 and 3, and compare with JAX
(32-bit mode). Prints a table: model, op check and dtype check against
what TF.js supports (no converter needed), converted, ran in node, max abs
error at each batch size, within the model's rtol, median time of a run in
node (TF.js CPU backend, after warm-up runs), and failure reasons.

Setup (tensorflowjs 4.22.0 pins tensorflow<2.20 through
tensorflow-decision-forests and tf-keras, so it gets a venv of its own that
sees the dev venv's packages instead of downgrading TensorFlow):

  # the Python that /work/venv was made from (here /root/.pyenv/versions/3.11.7):
  $(/work/venv/bin/python -c 'import sys; print(sys.base_prefix)')/bin/python3.11 \
      -m venv /work/tfjs-venv
  # see /work/venv's packages (its .pth files too: site.addsitedir, not a bare path)
  echo "import site; site.addsitedir('/work/venv/lib/python3.11/site-packages')" \
      > /work/tfjs-venv/lib/python3.11/site-packages/_main_venv.pth
  /work/tfjs-venv/bin/pip install tf-keras==2.21.0 tensorflow-hub==0.16.1
  /work/tfjs-venv/bin/pip install --no-deps tensorflowjs==4.22.0
  # (tensorflow-decision-forests is not installed: see jax2tf_impl/export/tfjs_converter_cli.py)

  mkdir -p /work/tfjs-node-runner && cd /work/tfjs-node-runner
  npm init -y && npm install @tensorflow/tfjs@4.22.0

Run (from the repository root):

  /work/tfjs-venv/bin/python examples/tfjs_node_check.py \
      --runner-dir /work/tfjs-node-runner

The converter runs in a subprocess of --converter-python (default: this
interpreter); JAX and the SavedModel export may run in /work/venv instead:

  /work/venv/bin/python examples/tfjs_node_check.py \
      --runner-dir /work/tfjs-node-runner --converter-python /work/tfjs-venv/bin/python
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from typing import Any, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import jax  # noqa: E402
import numpy as np  # noqa: E402

from jax2tf_impl.export import tfjs  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BATCHES = (1, 3)


def export_saved_model(model, path: str) -> None:
  """A SavedModel of model.fun() with flat inputs input_i, outputs output_i."""
  tfjs.export_saved_model(model.fun(), model.make_batch(BATCHES[0]), path,
                          polymorphic_shapes=list(model.batch_spec))


def jax_outputs(model, inputs) -> list[np.ndarray]:
  return [np.asarray(x) for x in
          jax.tree_util.tree_leaves(jax.jit(model.fun())(*inputs))]


def compare(got: Sequence[np.ndarray], expected: Sequence[np.ndarray]
            ) -> tuple[float, str | None]:
  """Max abs error over all outputs, and a mismatch message or None."""
  if len(got) != len(expected):
    return float("nan"), f"{len(got)} outputs, JAX has {len(expected)}"
  err, problems = 0.0, []
  for i, (g, e) in enumerate(zip(got, expected)):
    if e.dtype == np.uint32 and g.dtype == np.int32:
      g = g.view(np.uint32)
    if g.shape != e.shape:
      problems.append(f"output_{i} shape {g.shape} vs {e.shape}")
      continue
    if g.dtype != e.dtype:
      problems.append(f"output_{i} dtype {g.dtype} vs {e.dtype}")
    d = np.abs(g.astype(np.float64) - e.astype(np.float64))
    err = max(err, float(np.nanmax(d)) if d.size else 0.0)
    if np.isnan(d).any():
      err = float("nan")
  return err, "; ".join(problems) or None


def within_tolerance(got: Sequence[np.ndarray], expected: Sequence[np.ndarray],
                     rtol: float) -> bool:
  """np.allclose(rtol=atol=rtol) on every output (uint32 read from int32)."""
  return len(got) == len(expected) and all(
      g.shape == e.shape and np.allclose(
          g.view(np.uint32) if e.dtype == np.uint32 and g.dtype == np.int32 else g,
          e, rtol=rtol, atol=rtol)
      for g, e in zip(got, expected))


def check_model(model, converter_python: str | None, runner_dir: str | None,
                workdir: str, repeats: int = 0) -> dict[str, Any]:
  """One row of the table."""
  row: dict[str, Any] = {"model": model.name, "ops_ok": None, "dtypes_ok": None,
                         "converted": None, "ran": None, "err": {}, "ok": {},
                         "ms": {}, "reason": ""}
  reasons: list[str] = []
  saved = os.path.join(workdir, model.name, "saved_model")
  out = os.path.join(workdir, model.name, "tfjs")
  with jax.enable_x64(False):
    try:
      export_saved_model(model, saved)
    except Exception as e:  # pylint: disable=broad-except
      row["reason"] = f"SavedModel export failed: {type(e).__name__}: {e}"
      return row
    bad_ops, bad_dtypes = tfjs.unsupported(tfjs.frozen_graph(saved))
    row["ops_ok"], row["dtypes_ok"] = not bad_ops, not bad_dtypes
    if bad_ops:
      reasons.append(f"ops TF.js cannot run: {', '.join(bad_ops)}")
    if bad_dtypes:
      reasons.append(f"dtypes TF.js lacks: {'; '.join(bad_dtypes)}")
    if converter_python is not None:
      conv = tfjs.convert_saved_model(saved, out,
                                      converter_python=converter_python)
      row["converted"] = conv["ok"]
      if not conv["ok"]:
        reasons.append(f"converter: {conv['error'][:300]}")
    if row["converted"] and runner_dir is not None:
      runs = [model.make_batch(n) for n in BATCHES]
      result = tfjs.run_in_node(runner_dir, out, runs, repeats=repeats)
      row["backend"] = (f"{result.get('flavor')}/{result.get('backend')} "
                        f"{result.get('tfjs_version')}")
      if "load_error" in result:
        row["ran"] = False
        reasons.append(f"node: {result['load_error'][:300]}")
      else:
        row["ran"] = all("error" not in r for r in result["runs"])
        for n, inputs, run in zip(BATCHES, runs, result["runs"]):
          if "error" in run:
            reasons.append(f"node, batch {n}: {run['error'][:200]}")
            continue
          expected = jax_outputs(model, inputs)
          err, problem = compare(run["arrays"], expected)
          row["err"][n] = err
          row["ms"][n] = run.get("ms")
          row["ok"][n] = problem is None and within_tolerance(
              run["arrays"], expected, model.rtol)
          if problem:
            reasons.append(f"batch {n}: {problem}")
          elif not row["ok"][n]:
            reasons.append(f"batch {n}: max abs error {err:.3g} is over "
                           f"rtol=atol={model.rtol}")
  row["reason"] = "; ".join(reasons)
  return row


def _fmt(v) -> str:
  if v is None:
    return "-"
  if isinstance(v, bool):
    return "YES" if v else "NO"
  return f"{v:.2e}"


def _ms(v) -> str:
  return "-" if v is None else f"{v:.2f}"


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--runner-dir", default=os.environ.get("TFJS_NODE_RUNNER_DIR"),
                      help="folder with node_modules/@tensorflow/tfjs")
  parser.add_argument("--converter-python",
                      default=os.environ.get("TFJS_CONVERTER_PYTHON", sys.executable),
                      help="interpreter that can import tensorflowjs")
  parser.add_argument("--models", nargs="*", help="names (default: all)")
  parser.add_argument("--keep", help="keep SavedModels and TF.js models here")
  parser.add_argument("--json", help="also write the rows to this file")
  parser.add_argument("--repeats", type=int, default=20,
                      help="timed runs in node per batch size (median shown)")
  args = parser.parse_args()

  sys.path.insert(0, os.path.join(ROOT, "tests"))
  from support.model_zoo import MODELS  # pylint: disable=g-import-not-at-top
  models = [m for m in MODELS if not args.models or m.name in args.models]
  problem = tfjs.probe_converter(args.converter_python)
  if problem:
    print(f"no TF.js conversion (static checks only): {problem}", file=sys.stderr)
    args.converter_python = None
  if shutil.which("node") is None:
    print("node is not on PATH: not running in Node.js", file=sys.stderr)
    args.runner_dir = None
  elif not args.runner_dir or not os.path.isdir(
      os.path.join(args.runner_dir, "node_modules", "@tensorflow", "tfjs")):
    print(f"--runner-dir {args.runner_dir!r} has no node_modules/@tensorflow/tfjs: "
          "not running in Node.js", file=sys.stderr)
    args.runner_dir = None
  workdir = args.keep or tempfile.mkdtemp(prefix="tfjs_check_")
  rows = []
  for m in models:
    row = check_model(m, args.converter_python, args.runner_dir, workdir,
                      repeats=args.repeats)
    rows.append(row)
    print(f"{m.name}: {row}", file=sys.stderr, flush=True)
  if not args.keep:
    shutil.rmtree(workdir, ignore_errors=True)

  backends = sorted({r["backend"] for r in rows if r.get("backend")})
  print(f"\nTF.js runtime: {', '.join(backends) or '-'}")
  header = ["model", "ops in TF.js list", "dtypes TF.js has", "converted", "ran in node",
            "max|err| b=1", "max|err| b=3", "within rtol", "node ms b=1",
            "node ms b=3", "reason"]
  print("| " + " | ".join(header) + " |")
  print("|" + "---|" * len(header))
  for r in rows:
    within = (None if not r["ok"] else all(r["ok"].values()) and len(r["ok"]) == len(BATCHES))
    cells = [r["model"], _fmt(r["ops_ok"]), _fmt(r["dtypes_ok"]), _fmt(r["converted"]),
             _fmt(r["ran"]),
             _fmt(r["err"].get(1)), _fmt(r["err"].get(3)), _fmt(within),
             _ms(r["ms"].get(1)), _ms(r["ms"].get(3)),
             r["reason"].replace("|", "/")]
    print("| " + " | ".join(cells) + " |")
  if args.json:
    with open(args.json, "w") as f:
      json.dump(rows, f, indent=1, default=str)


if __name__ == "__main__":
  main()
