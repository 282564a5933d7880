"""jax2tf_impl.Module: params as tf.Variables (trainable per path), methods as
tf.functions with input signatures, named serving signatures (one per
method, serving_default, TF pre-processing), custom gradients; reloaded in
a process without JAX."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf

import jax2tf_impl
from support.no_jax import run_without_jax

nn = pytest.importorskip("flax.linen")
optax = pytest.importorskip("optax")


class MLP(nn.Module):
  @nn.compact
  def __call__(self, x):
    return nn.Dense(3, name="head")(nn.relu(nn.Dense(8, name="body")(x)))


X = np.random.RandomState(0).randn(5, 4).astype(np.float32)
Y = np.array([0, 1, 2, 1, 0], np.int32)
PARAMS = jax.tree_util.tree_map(
    lambda v: np.asarray(v, np.float32),
    MLP().init(jax.random.PRNGKey(0), X))


def predict(p, x):
  return {"logits": MLP().apply(p, x)}


def loss(p, x, y):
  return optax.softmax_cross_entropy_with_integer_labels(
      MLP().apply(p, x), y).mean()


def train_step(p, x, y):
  value, grads = jax.value_and_grad(loss)(p, x, y)
  return jax.tree_util.tree_map(lambda a, g: a - 0.5 * g, p, grads), {"loss": value}


def _csv_to_batch(lines):
  """TF pre-processing: 'a,b,c,d' strings -> a float batch."""
  return tf.strings.to_number(tf.strings.split(lines, ",").to_tensor(),
                              tf.float32)


def _module(trainable=lambda path, leaf: "head" in path):
  b = ["(b, 4)", "(b,)"]
  return jax2tf_impl.Module(
      PARAMS,
      {"predict": jax2tf_impl.Method(predict, [X], polymorphic_shapes=b[:1],
                                     input_names=["x"]),
       "loss": jax2tf_impl.Method(loss, [X, Y], polymorphic_shapes=b,
                                  input_names=["x", "y"], output_names=["loss"]),
       "train_step": jax2tf_impl.Method(train_step, [X, Y],
                                        polymorphic_shapes=b,
                                        input_names=["x", "y"],
                                        updates_params=True)},
      trainable=trainable,
      serving_configs=[jax2tf_impl.ServingConfig(
          "from_csv", "predict",
          input_signature=[tf.TensorSpec([None], tf.string, name="csv")],
          preprocessor=_csv_to_batch,
          postprocessor=lambda r: {"label": tf.argmax(r["logits"], -1)})])


def test_variables_trainable_per_path_and_gradient():
  module = _module()
  assert len(module.variables) == 4
  trainable = sorted(v.name for v in module.trainable_variables)
  assert trainable == ["params/head/bias:0", "params/head/kernel:0"], trainable
  np.testing.assert_allclose(module.predict(X)["logits"].numpy(),
                             predict(PARAMS, X)["logits"], rtol=1e-5, atol=1e-6)
  with tf.GradientTape() as tape:
    value = module.loss(X, Y)
  got = tape.gradient(value, module.trainable_variables)
  want = jax.grad(loss)(PARAMS, X, Y)["params"]["head"]
  by_name = {v.name: g for v, g in zip(module.trainable_variables, got)}
  np.testing.assert_allclose(by_name["params/head/kernel:0"], want["kernel"],
                             rtol=1e-5, atol=1e-6)
  # A pytree of bools (a prefix of params) works as well.
  mask = {"params": {"body": True, "head": False}}
  assert len(_module(mask).trainable_variables) == 2


def test_train_step_updates_variables_in_tf():
  module = _module()
  before = float(module.loss(X, Y))
  out = module.train_step(X, Y)
  expected = train_step(PARAMS, X, Y)
  np.testing.assert_allclose(float(out["loss"]), float(expected[1]["loss"]),
                             rtol=1e-5)
  after = float(module.loss(X, Y))
  np.testing.assert_allclose(after, float(loss(expected[0], X, Y)), rtol=1e-5)
  assert after < before


_RELOAD = r"""
import json, sys
m = tf.saved_model.load(sys.argv[1])
x = np.load(sys.argv[2]); y = np.load(sys.argv[3])
report = {"signatures": {}}
for key, fn in m.signatures.items():
  _, kw = fn.structured_input_signature
  report["signatures"][key] = {"inputs": sorted(kw),
                               "outputs": sorted(fn.structured_outputs)}
report["predict"] = m.signatures["serving_default"](x=tf.constant(x))["logits"].numpy().tolist()
csv = [",".join(str(float(v)) for v in row) for row in x]
report["label"] = m.signatures["from_csv"](csv=tf.constant(csv))["label"].numpy().tolist()
with tf.GradientTape() as tape:
  value = m.loss(x, y)
report["n_grads"] = sum(g is not None for g in tape.gradient(value, m.trainable_param_variables))
report["loss0"] = float(value)
m.train_step(x, y)
report["loss1"] = float(m.loss(x, y))
print(json.dumps(report))
"""


def test_savedmodel_signatures_and_training_without_jax(tmp_path):
  module = _module()
  module.save(str(tmp_path / "m"))
  np.save(str(tmp_path / "x.npy"), X)
  np.save(str(tmp_path / "y.npy"), Y)
  r = json.loads(run_without_jax(_RELOAD, str(tmp_path / "m"),
                                 str(tmp_path / "x.npy"), str(tmp_path / "y.npy"))
                 .strip().splitlines()[-1])
  assert r["signatures"] == {
      "serving_default": {"inputs": ["x"], "outputs": ["logits"]},
      "predict": {"inputs": ["x"], "outputs": ["logits"]},
      "loss": {"inputs": ["x", "y"], "outputs": ["loss"]},
      "train_step": {"inputs": ["x", "y"], "outputs": ["loss"]},
      "from_csv": {"inputs": ["csv"], "outputs": ["label"]},
  }, r["signatures"]
  logits = predict(PARAMS, X)["logits"]
  np.testing.assert_allclose(np.asarray(r["predict"]), logits, rtol=1e-5, atol=1e-5)
  assert r["label"] == np.argmax(logits, -1).tolist()
  assert r["n_grads"] == 2  # the trainable head's kernel and bias
  np.testing.assert_allclose(r["loss0"], float(loss(PARAMS, X, Y)), rtol=1e-5)
  np.testing.assert_allclose(
      r["loss1"], float(loss(train_step(PARAMS, X, Y)[0], X, Y)), rtol=1e-5)


def test_bad_method_names_and_configs():
  with pytest.raises(ValueError, match="not allowed"):
    jax2tf_impl.Module(PARAMS, {"variables": jax2tf_impl.Method(predict, [X])})
  with pytest.raises(TypeError, match="Method"):
    jax2tf_impl.Module(PARAMS, {"predict": predict})
  module = jax2tf_impl.Module(
      PARAMS, {"predict": jax2tf_impl.Method(predict, [X])},
      serving_configs=[jax2tf_impl.ServingConfig("x", "nope")])
  with pytest.raises(ValueError, match="no method"):
    module.serving_signatures()
