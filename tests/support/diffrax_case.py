"""A small diffrax ODE solve (Equinox primitives inside) shared by
test_foreign_primitives.py in-process (EQX_ON_ERROR default, "raise") and in
a subprocess (`python tests/diffrax_case.py OUT_DIR` with EQX_ON_ERROR=nan,
which Equinox reads at import time)."""
import json
import os
import sys

import numpy as np

Y0 = np.array([1.0, -0.5], np.float32)
K = np.float32(0.7)


def solve(y0, k, max_steps=32):
  """dy/dt = -k y + sin(t) on [0, 1]: Tsit5, adaptive PID step size, saved
  at 4 times. With max_steps too small diffrax's error_if fires."""
  import diffrax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  term = diffrax.ODETerm(lambda t, y, args: -args * y + jnp.sin(t))
  sol = diffrax.diffeqsolve(
      term, diffrax.Tsit5(), t0=0.0, t1=1.0, dt0=0.1, y0=y0, args=k,
      stepsize_controller=diffrax.PIDController(rtol=1e-4, atol=1e-6),
      saveat=diffrax.SaveAt(ts=jnp.linspace(0.0, 1.0, 4)),
      max_steps=max_steps)
  return sol.ys


def one_step(y0, k):
  """A single fixed Tsit5 step: no controller to amplify rounding."""
  import diffrax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  term = diffrax.ODETerm(lambda t, y, args: -args * y + jnp.sin(t))
  return diffrax.diffeqsolve(term, diffrax.Tsit5(), t0=0.0, t1=0.5, dt0=0.5,
                             y0=y0, args=k).ys


def loss(y0, k):
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  return jnp.sum(solve(y0, k) ** 2)


def tf_gradients(conv, y0, k):
  """d conv(y0, k) / d (y0, k) by a tf.GradientTape inside tf.function."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  @tf.function(autograph=False)
  def grads(y0, k):
    with tf.GradientTape() as tape:
      tape.watch([y0, k])
      value = conv(y0, k)
    return tape.gradient(value, [y0, k])

  return grads(tf.constant(y0), tf.constant(k))


def _main(out_dir):
  """EQX_ON_ERROR=nan: forward in 4 modes, the error path (NaN), a
  SavedModel for a reload without JAX, and the gradient (when possible)."""
  assert os.environ.get("EQX_ON_ERROR") == "nan"
  import jax  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import jax2tf_impl  # pylint: disable=g-import-not-at-top
  from support.tf_testing import run_in_mode  # pylint: disable=g-import-not-at-top
  result = {"modes": {}}
  want = np.asarray(jax.jit(solve)(Y0, K))
  result["expected"] = want.tolist()
  for mode in ("eager", "graph", "jit", "noxla"):
    conv = jax2tf_impl.convert(solve, enable_xla=(mode != "noxla"))
    got = run_in_mode(conv, "graph" if mode == "noxla" else mode, Y0, K)
    result["modes"][mode] = np.asarray(got).tolist()
  result["one_step_expected"] = np.asarray(jax.jit(one_step)(Y0, K)).tolist()
  result["one_step_got"] = np.asarray(
      jax2tf_impl.convert(one_step)(Y0, K)).tolist()
  few = lambda y0, k: solve(y0, k, max_steps=2)
  result["few_steps_expected_nan"] = np.isnan(jax.jit(few)(Y0, K)).tolist()
  result["few_steps_got_nan"] = np.isnan(
      jax2tf_impl.convert(few)(Y0, K).numpy()).tolist()
  module = tf.Module()
  module.solve = tf.function(jax2tf_impl.convert(solve), autograph=False,
                             input_signature=[tf.TensorSpec([2], tf.float32),
                                              tf.TensorSpec([], tf.float32)])
  tf.saved_model.save(module, os.path.join(out_dir, "model"))
  try:
    conv = jax2tf_impl.convert(loss)
    y0, k = tf.constant(Y0), tf.constant(K)

    got = tf_gradients(conv, y0, k)
    result["grad"] = [np.asarray(g).tolist() for g in got]
    result["grad_expected"] = [np.asarray(g).tolist() for g in jax.jit(
        jax.grad(loss, argnums=(0, 1)))(Y0, K)]
  except Exception as e:  # noqa: BLE001 - reported to the test.
    result["grad_error"] = f"{type(e).__name__}: {e}"[:2000]
  print("DIFFRAX-JSON " + json.dumps(result))


if __name__ == "__main__":
  _main(sys.argv[1])
