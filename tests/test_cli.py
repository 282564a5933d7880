"""The `jax2tf-impl` command line: export (params from .npz / .msgpack,
polymorphic --shape, several targets, the summary) and check (the
portability report); what it saved reloads without JAX."""
import json
import os
import tomllib

import numpy as np
import pytest

from jax2tf_impl import cli
from support.no_jax import run_without_jax

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_MODEL = '''
import jax.numpy as jnp

def apply(params, x):
  return jnp.tanh(x @ params["dense"]["w"] + params["dense"]["b"])

def bits(x):
  return x & jnp.uint32(7)

def bits_cumsum(x):
  return jnp.cumsum(x & jnp.uint32(7), axis=1)

def wide_ints(x):
  return jnp.cumsum(x * 3, axis=1)
'''


@pytest.fixture
def model_dir(tmp_path, monkeypatch):
  (tmp_path / "cli_model_pkg.py").write_text(_MODEL)
  monkeypatch.syspath_prepend(str(tmp_path))
  rng = np.random.RandomState(0)
  w, b = rng.randn(4, 3).astype(np.float32), rng.randn(3).astype(np.float32)
  np.savez(tmp_path / "ckpt.npz", **{"dense/w": w, "dense/b": b})
  return tmp_path, w, b


def test_console_script_is_declared():
  with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
    scripts = tomllib.load(f)["project"]["scripts"]
  assert scripts["jax2tf-impl"] == "jax2tf_impl.cli:main"


def test_export_summary_and_reload_without_jax(model_dir, capsys):
  tmp, w, b = model_dir
  out = str(tmp / "out")
  rc = cli.main(["export", "cli_model_pkg:apply", "--params",
                 str(tmp / "ckpt.npz"), "--shape", "(b, 4)",
                 "--to", "saved_model,tflite,onnx,tfjs", "--out", out])
  captured = capsys.readouterr()
  assert rc == 0, captured
  lines = {l.split()[0]: l for l in captured.out.splitlines() if l.strip()}
  for target in ("saved_model", "tflite", "onnx"):
    assert lines[target].split()[1] == "yes", captured.out
    diff = float(lines[target].split()[4])
    assert diff < 1e-5, lines[target]
  assert "ops" in lines["TF"] and "max |TF - JAX|" in lines["TF"]
  # TF.js: the op/dtype check passes (the converter itself may be absent).
  assert lines["tfjs"].split()[1] == "yes", captured.out
  assert "3/6 saved_model" in captured.err  # progress
  assert os.path.getsize(os.path.join(out, "model.tflite")) > 0
  assert os.path.getsize(os.path.join(out, "model.onnx")) > 0
  x = np.random.RandomState(1).randn(7, 4).astype(np.float32)
  np.save(str(tmp / "x.npy"), x)
  got = run_without_jax(r"""
import json, sys
m = tf.saved_model.load(sys.argv[1])
out = m.signatures["serving_default"](input_0=tf.constant(np.load(sys.argv[2])))
print(json.dumps(out["output_0"].numpy().tolist()))
""", os.path.join(out, "saved_model"), str(tmp / "x.npy"))
  np.testing.assert_allclose(np.asarray(json.loads(got.strip().splitlines()[-1])),
                             np.tanh(x @ w + b), rtol=1e-5, atol=1e-6)


def test_export_params_from_flax_msgpack(model_dir, capsys):
  serialization = pytest.importorskip("flax.serialization")
  tmp, w, b = model_dir
  with open(tmp / "ckpt.msgpack", "wb") as f:
    f.write(serialization.msgpack_serialize({"dense": {"w": w, "b": b}}))
  rc = cli.main(["export", "cli_model_pkg:apply", "--params",
                 str(tmp / "ckpt.msgpack"), "--shape", "(b, 4)",
                 "--to", "saved_model", "--out", str(tmp / "o2"), "--quiet"])
  assert rc == 0, capsys.readouterr()


def _target_line_and_block(report, target):
  lines = report.splitlines()
  at = lines.index(next(l for l in lines if l.startswith(target)))
  return lines[at], "\n".join(lines[at + 1:])


def _assert_only_tfjs_blocked(capsys, function: str, dtype: str, why: str) -> None:
  """`check` of `function` on a (b, 3) `dtype` input: fails for TF.js alone
  (saved_model fits), the TF.js block saying `why`."""
  rc = cli.main(["check", function, "--shape", "(b, 3)", "--dtype", dtype])
  report = capsys.readouterr().out
  assert rc == 1, report
  line, block = _target_line_and_block(report, "tfjs")
  assert line.split()[1] == "NO", report
  assert why in block, report
  assert _target_line_and_block(report, "saved_model")[0].split()[1] == "yes"


def test_check_reports_blocking_uint32_primitive_for_tfjs(model_dir, capsys):
  """uint32 and/xor/shifts are computed on limbs for TF.js (what export_tfjs
  does); a uint32 cumsum is not, and the report names it."""
  _assert_only_tfjs_blocked(capsys, "cli_model_pkg:bits_cumsum", "uint32",
                            "'cumsum' on uint32")


def test_check_uint32_bit_ops_fit_tfjs(model_dir, capsys):
  cli.main(["check", "cli_model_pkg:bits", "--shape", "(b, 3)", "--dtype", "uint32"])
  report = capsys.readouterr().out
  line, block = _target_line_and_block(report, "tfjs")
  assert line.split()[1] == "yes", report


def test_check_and_export_refuse_int64_for_tfjs(model_dir, capsys):
  """x64 integers: TF.js would compute them as int32 (export_tfjs refuses);
  check says so naming the equation, export does not write a model."""
  tmp, _, _ = model_dir
  _assert_only_tfjs_blocked(capsys, "cli_model_pkg:wide_ints", "int64",
                            "64-bit integers (mul -> int64 at")
  out = str(tmp / "out")
  cli.main(["export", "cli_model_pkg:wide_ints", "--shape", "(b, 3)",
            "--dtype", "int64", "--to", "tfjs", "--out", out])
  summary = capsys.readouterr().out
  assert "int64_as_int32=True" in summary, summary
  assert not os.path.exists(os.path.join(out, "tfjs", "model.json"))


def test_check_all_targets_for_a_portable_function(model_dir, capsys):
  tmp, _, _ = model_dir
  rc = cli.main(["check", "cli_model_pkg:apply", "--params",
                 str(tmp / "ckpt.npz"), "--shape", "(b, 4)"])
  report = capsys.readouterr().out
  assert rc == 0, report
  for target in cli.TARGETS:
    assert f"{target:<12} yes" in report, report


def test_bad_function_spec():
  with pytest.raises(SystemExit):
    cli.main(["check", "no_colon_here", "--shape", "(3,)"])
