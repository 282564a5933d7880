"""jax2tf_impl.JaxLayer under tf-keras (Keras 2, TF_USE_LEGACY_KERAS=1): a
Flax linen CNN in a tf.keras Sequential trains with `fit` on the JAX
gradient, saves in tf-keras' formats and as SavedModels that reload, and
keep training, in a process without JAX.

The tf-keras side runs in a subprocess (support/keras_legacy_case.py): this
process has Keras 3 imported, and `tf.keras` picks its Keras once.
"""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from support.jit_compare import tolerance
from support.no_jax import run_without_jax

if importlib.util.find_spec("tf_keras") is None:
  # Not imported here (only found): this process runs Keras 3.
  pytest.skip("tf_keras is not installed (it is in the optional `test` extra: "
              "pip install -e .[test])", allow_module_level=True)
pytest.importorskip("flax.linen")

TOL = tolerance(np.float32)  # JAX's float32 tolerance


@pytest.fixture(scope="module")
def legacy_run(tmp_path_factory):
  """Runs the tf-keras case once; its output directory and report."""
  out = tmp_path_factory.mktemp("tf_keras")
  tests = os.path.dirname(os.path.abspath(__file__))
  env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3",
             PYTHONPATH=os.pathsep.join([os.path.dirname(tests), tests]
                                        + sys.path))
  proc = subprocess.run(
      [sys.executable, "-c",
       "import sys; from support import keras_legacy_case as c; c.main(sys.argv[1])",
       str(out)], capture_output=True, text=True, env=env, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  with open(out / "report.json") as f:
    return out, json.load(f)


def test_tf_keras_gradient_is_jax_grad(legacy_run):
  out, report = legacy_run
  grads = np.load(out / "grads.npz")
  n = report["n_weights"]
  assert n == 6 and len(grads.files) == 2 * n  # conv, two dense: kernel+bias
  for i in range(n):
    want = grads[f"want_{i}"]
    assert np.abs(want).max() > 0
    np.testing.assert_allclose(grads[f"got_{i}"], want, rtol=TOL, atol=TOL)


def test_tf_keras_fit_trains_and_keras_formats_reload(legacy_run):
  _, report = legacy_run
  losses = report["losses"]
  assert losses[-1] < 0.5 * losses[0], losses
  # The trained weights run in JAX give the Keras model's outputs.
  assert report["trained_params_parity"] < 1e-5, report
  # .keras and .h5 (from_config re-converts the apply function by its path).
  assert report["m.keras"] <= TOL and report["m.h5"] <= TOL, report


_RELOAD = r"""
import json, sys
d = sys.argv[1]
x, y = np.load(d + "/x.npy"), np.load(d + "/y.npy")
out = {}
saved = tf.saved_model.load(d + "/saved")
(got,) = saved.signatures["serving_default"](tf.constant(x)).values()
out["tf.saved_model.save"] = got.numpy().tolist()
exported = tf.saved_model.load(d + "/exported")  # kept: it owns the variables
out["model.export"] = exported.serve(x).numpy().tolist()
import tf_keras  # revives the JaxLayer from the SavedModel: no JAX needed
model = tf_keras.models.load_model(d + "/keras_sm")
out["model.save(save_format='tf')"] = model.predict(x, verbose=0).tolist()
model.compile(tf_keras.optimizers.Adam(0.01), "mse")
history = model.fit(x, y, epochs=3, shuffle=False, verbose=0)
out["losses"] = history.history["loss"]
print(json.dumps(out))
"""


def test_tf_keras_savedmodels_run_and_train_without_jax(legacy_run):
  out, report = legacy_run
  expected = np.load(out / "expected.npy")
  result = json.loads(run_without_jax(_RELOAD, str(out)).strip().splitlines()[-1])
  for fmt in ("tf.saved_model.save", "model.export",
              "model.save(save_format='tf')"):
    np.testing.assert_allclose(np.asarray(result[fmt], np.float32), expected,
                               rtol=TOL, atol=TOL, err_msg=fmt)
  # The revived layer keeps training on the saved custom gradient.
  losses = result["losses"]
  assert losses[-1] < losses[0] <= 2 * report["losses"][-1], (losses, report)
