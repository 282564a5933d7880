"""The JAX -> TF training hand-off (the example, run as a user runs it), and
one distributed TF step of a converted Flax loss."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "jax_to_tf_training.py")

pytest.importorskip("flax", reason="the optional 'flax' test dependency is not installed")
pytest.importorskip("optax", reason="the optional 'optax' test dependency is not installed")


def test_training_continues_in_tf_where_jax_left_off(tmp_path):
  png = str(tmp_path / "loss.png")
  results = str(tmp_path / "results.json")
  proc = subprocess.run(
      [sys.executable, EXAMPLE, "--jax-steps", "200", "--tf-steps", "100",
       "--plot", png, "--saved-model", str(tmp_path), "--results-json", results],
      capture_output=True, text=True, timeout=900, cwd=ROOT,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  assert proc.returncode == 0, proc.stderr[-4000:]
  with open(results) as f:
    result = json.load(f)
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
import jax, numpy as np, optax
import flax.linen as nn
import jax2tf_impl


class Net(nn.Module):
  @nn.compact
  def __call__(self, x):
    x = nn.relu(nn.Conv(8, (3, 3))(x))
    return nn.Dense(10)(x.mean(axis=(1, 2)))


model = Net()
rng = np.random.RandomState(5)
images = rng.randn(16, 28, 28, 1).astype(np.float32)
labels = rng.randint(0, 10, 16).astype(np.int32)
params = model.init(jax.random.key(0), images[:2])["params"]


def eval_loss(params, x, y):
  logits = model.apply({"params": params}, x)
  return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


loss_fn = jax2tf_impl.convert(eval_loss,
                              polymorphic_shapes=[None, "(b, 28, 28, 1)", "(b,)"])
LR = 0.5

def sgd_step(vs, x, y, scale, all_reduce):
  flat = tf.nest.flatten(vs)
  with tf.GradientTape() as tape:
    loss = loss_fn(vs, x, y) * scale
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
  proc = subprocess.run([sys.executable, "-c", _MIRRORED_SCRIPT],
                        capture_output=True, text=True, env=env, timeout=600,
                        cwd=ROOT)
  assert proc.returncode == 0, proc.stderr[-4000:]
  line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT")][-1]
  worst, moved = map(float, line.split()[1:])
  assert moved > 1e-3  # the step really changed the parameters
  assert worst < 1e-5, worst
