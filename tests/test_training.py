"""The JAX -> TF training hand-off, and one distributed TF step."""
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "jax_to_tf_training.py")

pytest.importorskip("flax", reason="the optional 'flax' test dependency is not installed")
pytest.importorskip("optax", reason="the optional 'optax' test dependency is not installed")


def _load_example():
  import importlib.util
  spec = importlib.util.spec_from_file_location("jax_to_tf_training", EXAMPLE)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_training_continues_in_tf_where_jax_left_off(tmp_path):
  example = _load_example()
  png = str(tmp_path / "loss.png")
  result = example.main(["--jax-steps", "200", "--tf-steps", "100",
                         "--plot", png, "--saved-model", str(tmp_path)])
  jax_losses, tf_losses = result["jax_losses"], result["tf_losses"]
  jax_start = np.mean(jax_losses[:10])
  jax_end = np.mean(jax_losses[-25:])
  tf_start = np.mean(tf_losses[:25])
  tf_end = np.mean(tf_losses[-25:])
  assert jax_end < 0.75 * jax_start  # JAX really trained
  # TF starts from JAX's level, not from an untrained model ...
  assert tf_start < 1.25 * jax_end, (tf_start, jax_end)
  assert tf_start < 0.75 * jax_start
  # ... and keeps improving.
  assert tf_end < tf_start, (tf_start, tf_end)
  assert result["predict_parity"] < 1e-4
  assert result["tf_accuracy"] >= result["jax_accuracy"] - 0.05
  assert os.path.getsize(png) > 1000


_MIRRORED_SCRIPT = r"""
import sys, os
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import importlib.util, jax, numpy as np
import jax2tf_impl
spec = importlib.util.spec_from_file_location("ex", sys.argv[1])
ex = importlib.util.module_from_spec(spec); spec.loader.exec_module(ex)

images, labels = ex.make_dataset(16, seed=5)
variables = ex.MODEL.init(jax.random.key(0), images[:2], train=False)
params, stats = variables["params"], variables["batch_stats"]
loss_fn = jax2tf_impl.convert(ex.eval_loss,
                              polymorphic_shapes=[None, None, "(b, 28, 28, 1)", "(b,)"])
LR = 0.5

def sgd_step(vs, x, y, scale, all_reduce):
  flat = tf.nest.flatten(vs)
  with tf.GradientTape() as tape:
    loss = loss_fn(vs, stats, x, y) * scale
  grads = all_reduce(tape.gradient(loss, flat))
  for v, g in zip(flat, grads):
    v.assign_sub(LR * g)
  return loss

single = tf.nest.map_structure(tf.Variable, params)
sgd_step(single, images, labels, 1.0, lambda g: g)

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2
with strategy.scope():
  mirrored = tf.nest.map_structure(tf.Variable, params)
ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(16)
x, y = next(iter(strategy.experimental_distribute_dataset(ds)))

@tf.function(autograph=False)
def distributed_step(x, y):
  def replica_fn(x, y):
    ctx = tf.distribute.get_replica_context()
    # eval_loss is a mean over the local batch: weight it by its share.
    scale = tf.cast(tf.shape(x)[0], tf.float32) / 16.0
    return sgd_step(mirrored, x, y, scale,
                    lambda g: ctx.all_reduce(tf.distribute.ReduceOp.SUM, g))
  return strategy.run(replica_fn, args=(x, y))

distributed_step(x, y)
worst = 0.0
for a, b in zip(tf.nest.flatten(single), tf.nest.flatten(mirrored)):
  for replica_value in strategy.experimental_local_results(b):
    worst = max(worst, float(np.max(np.abs(a.numpy() - replica_value.numpy()))))
moved = max(float(np.max(np.abs(a.numpy() - p))) for a, p in
            zip(tf.nest.flatten(single), jax.tree_util.tree_leaves(params)))
print("RESULT", worst, moved)
"""


def test_mirrored_strategy_step_equals_single_device_step():
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  proc = subprocess.run([sys.executable, "-c", _MIRRORED_SCRIPT, EXAMPLE],
                        capture_output=True, text=True, env=env, timeout=600,
                        cwd=ROOT)
  assert proc.returncode == 0, proc.stderr[-4000:]
  line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT")][-1]
  worst, moved = map(float, line.split()[1:])
  assert moved > 1e-3  # the step really changed the parameters
  assert worst < 1e-5, worst
