"""platform_index, composite, random_clone, empty, annotations,
dimension_size/shape_assertion, custom_vmap_call, linear_call (issue 15)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf
from jax import lax

import jax2tf_impl
from jax2tf_impl import jax_internals as ji
from support.noxla_compare import MODES4, check, run
from support.tf_testing import graph_op_types

RNG = np.random.RandomState(0)


def _prims(f, *args):
  out = set()

  def walk(jaxpr):
    for e in jaxpr.eqns:
      out.add(e.primitive.name)
      for v in e.params.values():
        for j in (v if isinstance(v, (tuple, list)) else (v,)):
          if hasattr(j, "eqns"):
            walk(j)
          elif hasattr(j, "jaxpr") and hasattr(j.jaxpr, "eqns"):
            walk(j.jaxpr)
  walk(jax.make_jaxpr(f)(*args).jaxpr)
  return out


# ------------------------------------------------------------ platform_index

MAT = RNG.randn(5, 5).astype(np.float32)
SPD = (MAT @ MAT.T + 5 * np.eye(5)).astype(np.float32)


@pytest.mark.parametrize("mode", MODES4)
@pytest.mark.parametrize("name, f, arg", [
    ("det", jnp.linalg.det, MAT),
    ("det_f64_batched", jnp.linalg.det,
     RNG.randn(3, 4, 4).astype(np.float64)),
    ("slogdet", jnp.linalg.slogdet, MAT),
    ("inv", jnp.linalg.inv, MAT),
    ("solve", lambda a: jnp.linalg.solve(a, jnp.ones(5, a.dtype)), MAT),
    ("cholesky_trace", lambda a: jnp.trace(jnp.linalg.cholesky(a)), SPD),
    ("diagonal", lambda a: jnp.diagonal(a, offset=1), MAT),
])
def test_platform_dependent_users(name, f, arg, mode):
  if name in ("det", "slogdet"):
    assert "platform_index" in _prims(f, arg)
  tol = 1e-4 if arg.dtype == np.float32 else 1e-10  # det/inv via LU
  check(f, mode, arg, tol=tol)


def test_platform_dependent_picks_cpu_or_default():
  def f(x):
    return (lax.platform_dependent(x, cpu=lambda x: x + 1.,
                                   tpu=lambda x: x - 1.),
            lax.platform_dependent(x, cuda=lambda x: x * 3.,
                                   default=lambda x: x * 5.))
  x = np.float32(2.)
  for mode in MODES4:
    check(f, mode, x)
    got = run(f, mode, x)
    assert [float(g) for g in got] == [3., 10.]


def test_platform_dependent_without_cpu_branch_fails_clearly():
  f = lambda x: lax.platform_dependent(x, tpu=lambda x: x - 1.)
  with pytest.raises(jax2tf_impl.UnsupportedPrimitiveError, match="cpu"):
    run(f, "graph", np.float32(2.))


def test_platform_dependent_converts_only_the_chosen_branch():
  f = lambda x: lax.platform_dependent(x, cpu=jnp.sin, default=jnp.cos)
  types = graph_op_types(jax2tf_impl.convert(f),
                         tf.TensorSpec([3], tf.float32))
  assert "Sin" in types and "Cos" not in types, types


# ------------------------------------------------------------ composite


@pytest.mark.parametrize("mode", MODES4)
def test_composite(mode):
  gelu = lax.composite(lambda x, *, approximate: jax.nn.gelu(
      x, approximate=approximate), name="my.gelu")
  check(lambda x: gelu(x, approximate=True), mode,
        RNG.randn(6).astype(np.float32))
  comp = lax.composite(lambda x, y: (jnp.sin(x) * y, x + y), name="my.pair")
  f = lambda x, y: comp(x, y)
  x = RNG.randn(6).astype(np.float32)
  check(f, mode, x, x[::-1].copy())


def test_composite_name_scope():
  """The decomposition's ops carry the composite's name. (JAX has no JVP
  rule for composite: neither jax.grad nor a TF gradient exists.)"""
  comp = lax.composite(lambda x: jnp.tanh(x) * 2., name="acme.scaled_tanh")
  f = lambda x: comp(x)
  conv = jax2tf_impl.convert(f)
  concrete = tf.function(conv, autograph=False).get_concrete_function(
      tf.TensorSpec([4], tf.float32))
  names = [op.name for op in concrete.graph.get_operations()
           if op.type == "Tanh"]
  assert names and all("acme.scaled_tanh/" in n for n in names), names
  x = np.linspace(-2, 2, 4).astype(np.float32)
  np.testing.assert_allclose(conv(tf.constant(x)), np.tanh(x) * 2., rtol=1e-6)
  with pytest.raises(ValueError, match="JVP rule for composite"):
    jax.grad(lambda x: jnp.sum(f(x)))(x)


# ------------------------------------------------------------ random_clone


@pytest.mark.parametrize("mode", MODES4)
def test_random_clone(mode):
  raw = np.asarray(jax.random.PRNGKey(3))
  check(lambda k: jax.random.normal(jax.random.clone(k), (3,)), mode, raw)
  check(lambda k: jax.random.uniform(
      jax.random.clone(jax.random.wrap_key_data(k)), (3,)), mode, raw)


def test_flax_rnn_lstm_matches_with_gradient():
  import flax.linen as nn  # pylint: disable=g-import-not-at-top
  model = nn.RNN(nn.LSTMCell(features=6))
  x = RNG.randn(2, 5, 3).astype(np.float32)
  params = model.init(jax.random.PRNGKey(0), x)
  f = lambda p, x: model.apply(p, x)
  loss = lambda p, x: jnp.sum(f(p, x) ** 2)
  for mode in ["eager", "graph", "noxla"]:
    check(f, mode, params, x, tol=1e-5)
  check(f, "graph", params, x, tol=1e-5, polymorphic_shapes=[None, "(b, t, _)"])
  conv = jax2tf_impl.convert(loss)
  tf_params = jax.tree_util.tree_map(tf.Variable, params)
  with tf.GradientTape() as tape:
    out = conv(tf_params, tf.constant(x))
  got = tape.gradient(out, tf_params)
  want = jax.grad(loss)(params, x)
  jax.tree_util.tree_map(
      lambda g, w: np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5),
      got, want)


def test_flax_rnn_with_split_dropout_rngs_uses_random_clone():
  """nn.RNN splitting a 'dropout' rng over time: Flax calls
  jax.random.clone on the raw key (issue 15's seq2seq failure)."""
  import flax.linen as nn  # pylint: disable=g-import-not-at-top

  class Cell(nn.RNNCellBase):
    features: int = 6

    @nn.compact
    def __call__(self, carry, x):
      carry, y = nn.LSTMCell(self.features)(carry, x)
      return carry, nn.Dropout(0.5, deterministic=False)(y)

    def initialize_carry(self, rng, shape):
      return nn.LSTMCell(self.features, parent=None).initialize_carry(rng,
                                                                      shape)

    @property
    def num_feature_axes(self):
      return 1

  model = nn.RNN(Cell(), split_rngs={"params": False, "dropout": True})
  x = RNG.randn(2, 5, 3).astype(np.float32)
  key = np.asarray(jax.random.PRNGKey(1))
  params = model.init({"params": key, "dropout": key}, x)
  f = lambda p, x, k: model.apply(p, x, rngs={"dropout": k})
  assert "random_clone" in _prims(f, params, x, key)
  for mode in ["eager", "graph", "jit", "noxla"]:
    check(f, mode, params, x, key, tol=1e-5)


# ------------------------------------------------------------ empty & co.


@pytest.mark.parametrize("mode", MODES4)
def test_empty_is_zeros_as_on_cpu(mode):
  f = lambda x: (lax.empty((2, 3), jnp.float32), ji.empty2_p.bind(
      dtype=np.dtype(np.int32), memory_space=jax.memory.Space.Device) + x)
  check(f, mode, np.int32(4))


def test_empty_polymorphic():
  f = lambda x: lax.empty((x.shape[0], 2), jnp.float32) + x[:, None]
  for mode in MODES4:
    check(f, mode, np.arange(3, dtype=np.float32), polymorphic_shapes="(b,)")


@pytest.mark.parametrize("mode", MODES4)
def test_xla_metadata_value_is_identity(mode):
  from jax.experimental.xla_metadata import set_xla_metadata  # pylint: disable=g-import-not-at-top
  f = lambda x: set_xla_metadata(jnp.sin(x), my_tag="a") * 2.
  assert "xla_metadata_value" in _prims(f, np.float32(1.))
  check(f, mode, np.arange(4, dtype=np.float32))


@pytest.mark.parametrize("mode", MODES4)
def test_compute_on_runs_body(mode):
  from jax.experimental.compute_on import compute_on2  # pylint: disable=g-import-not-at-top
  host = compute_on2(lambda x: jnp.cos(x) + 1., compute_type="device_host",
                     out_memory_spaces=jax.memory.Space.Device)
  f = lambda x: host(x) * x
  assert "compute_on" in _prims(f, np.float32(1.))
  check(f, mode, np.arange(4, dtype=np.float32))


def test_dimension_size_and_shape_assertion():
  def f(x):
    n = ji.dimension_size_p.bind(x, dimension=0)
    ji.shape_assertion_p.bind(n >= 2, n, error_message="need {0} >= 2")
    return x * n.astype(x.dtype)

  x = np.arange(3, dtype=np.float32)
  for mode in MODES4:
    for spec in (None, "(b,)"):
      got = run(f, mode, x, polymorphic_shapes=spec)
      np.testing.assert_allclose(got, x * 3)
  conv = jax2tf_impl.convert(f, polymorphic_shapes="(b,)")
  graph = tf.function(conv, autograph=False)
  np.testing.assert_allclose(graph(tf.constant(x[:2])), x[:2] * 2)
  with pytest.raises(tf.errors.InvalidArgumentError, match="need"):
    graph(tf.constant(x[:1]))
  # Static shapes: checked at conversion if TF can fold the condition,
  # else at run time; either way the error carries JAX's message.
  with pytest.raises((ValueError, tf.errors.InvalidArgumentError),
                     match="need"):
    jax2tf_impl.convert(f)(tf.constant(x[:1]))


# ------------------------------------------------------------ custom calls


def _custom_vmapped():
  @jax.custom_batching.custom_vmap
  def f(x):
    return jnp.sin(x) * 2.

  @f.def_vmap
  def rule(axis_size, in_batched, x):
    del axis_size
    return jnp.sin(x) * 2., in_batched[0]
  return f


@pytest.mark.parametrize("mode", MODES4)
def test_custom_vmap_call(mode):
  f = _custom_vmapped()
  x = np.linspace(-1, 1, 5).astype(np.float32)
  assert "custom_vmap_call" in _prims(f, x)
  check(f, mode, x)
  check(jax.vmap(f), mode, x.reshape(5, 1))
  check(lambda x: jax.jvp(f, (x,), (jnp.ones_like(x),)), mode, x)


@pytest.mark.parametrize("mode", MODES4)
def test_sequential_vmap_under_vmap(mode):
  f = jax.custom_batching.sequential_vmap(lambda x: jnp.sum(x ** 2))
  check(jax.vmap(f), mode, RNG.randn(3, 4).astype(np.float32))


def _linear_scale():
  def f(x, y):
    return jax.custom_derivatives.linear_call(
        lambda r, t: t * r, lambda r, ct: ct * r, x, y)
  return f


@pytest.mark.parametrize("mode", MODES4)
def test_linear_call_and_gradient(mode):
  f = _linear_scale()
  x = np.float32(3.)
  y = np.arange(4, dtype=np.float32)
  assert "linear_call" in _prims(f, x, y)
  check(f, mode, x, y)
  check(jax.grad(lambda x, y: jnp.sum(f(x, y) ** 2), argnums=1), mode, x, y)


def test_linear_call_tf_gradient():
  """The TF gradient with respect to the linear operand. (JAX's vjp with
  respect to a residual of linear_call fails, so `x` is a constant.)"""
  f = _linear_scale()
  y = tf.constant(np.arange(4, dtype=np.float32))
  conv = jax2tf_impl.convert(lambda y: jnp.sum(f(np.float32(3.), y) ** 2))
  with tf.GradientTape() as tape:
    tape.watch(y)
    out = conv(y)
  np.testing.assert_allclose(tape.gradient(out, y), 2 * 9. * y.numpy())
