"""Shape polymorphism on real conv-net layers (flax.linen): ResNet,
MobileNet and UNet blocks with SAME-padded stride-2 convs and pools
(symbolic paddings with floordiv), depthwise convs, transposed convs, under
the specs real models use, forward and gradient (with respect to the
parameters and the input: the weight gradient is a conv whose kernel has
the symbolic activation sizes) in every mode, each at several concrete
sizes against jax.jit, plus a SavedModel round trip.

One converted function and one tf.function (symbolic dimensions None in
its input signature) serve every size of a spec, as a deployed model's do.
"""
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax
import numpy as np
import pytest
import tensorflow as tf

import jax2tf_impl
from support import sampling
from support.jit_compare import tolerance
from support.tf_testing import graph_op_types

# f32 gradients of conv nets sum many products in another order than XLA:
# 1e-4 of the largest magnitude, as tests/test_harness_gradients.py.
GRAD_RTOL = 1e-4


class ResNetBlock(nn.Module):
  """A downsampling residual block: 3x3/2 SAME conv, 3x3 conv, 1x1/2
  projection, then a SAME 3x3/2 max pool and a 2x2/2 average pool."""

  @nn.compact
  def __call__(self, x):
    y = nn.relu(nn.Conv(8, (3, 3), strides=2, padding="SAME")(x))
    y = nn.Conv(8, (3, 3), padding="SAME")(y)
    y = nn.relu(y + nn.Conv(8, (1, 1), strides=2, padding="SAME")(x))
    y = nn.max_pool(y, (3, 3), strides=(2, 2), padding="SAME")
    return nn.avg_pool(y, (2, 2), strides=(2, 2), padding="SAME")


class MobileNetBlock(nn.Module):
  """An inverted residual: 1x1 expand, depthwise 3x3/2 SAME
  (feature_group_count = channels), 1x1 project; then a stride-1 one with
  its residual add."""

  @nn.compact
  def __call__(self, x):
    h = nn.relu6(nn.Conv(12, (1, 1))(x))
    h = nn.relu6(nn.Conv(12, (3, 3), strides=2, padding="SAME",
                         feature_group_count=12)(h))
    y = nn.Conv(6, (1, 1))(h)
    h = nn.relu6(nn.Conv(6, (3, 3), padding="SAME",
                         feature_group_count=6)(y))
    return y + nn.Conv(6, (1, 1))(h)


class UNetBlock(nn.Module):
  """Down (3x3/2 SAME conv + SAME max pool), up (ConvTranspose 3x3/2 SAME
  twice), cropped to the input's size and concatenated with it."""

  @nn.compact
  def __call__(self, x):
    d = nn.relu(nn.Conv(6, (3, 3), strides=2, padding="SAME")(x))
    d = nn.max_pool(d, (2, 2), strides=(2, 2), padding="SAME")
    u = nn.relu(nn.ConvTranspose(6, (3, 3), strides=(2, 2),
                                 padding="SAME")(d))
    u = nn.ConvTranspose(4, (3, 3), strides=(2, 2), padding="SAME")(u)
    u = u[:, :x.shape[1], :x.shape[2]]
    return jnp.concatenate([u, x], axis=-1)


class MobileNetStride1Block(nn.Module):
  """Depthwise 3x3 SAME at stride 1, then a VALID 3x3/2 average pool: the
  strided SAME convs of the others have no JAX VJP under "(b, h, w, _)"."""

  @nn.compact
  def __call__(self, x):
    h = nn.relu6(nn.Conv(12, (1, 1))(x))
    h = nn.relu6(nn.Conv(12, (3, 3), padding="SAME",
                         feature_group_count=12)(h))
    y = nn.Conv(6, (1, 1))(h)
    return nn.avg_pool(y, (3, 3), strides=(2, 2), padding="VALID")


MODELS = {"resnet": ResNetBlock, "mobilenet": MobileNetBlock,
          "unet": UNetBlock, "mobilenet_s1": MobileNetStride1Block}

# spec -> concrete input shapes (channels 3) it is run at.
SPECS = {
    "(_, 4*b, 4*b, _)": [(2, 8, 8, 3), (2, 12, 12, 3), (2, 20, 20, 3)],
    "(n, 4*b, 4*b, _)": [(1, 4, 4, 3), (3, 12, 12, 3)],
    "(b, h, w, _)": [(2, 7, 9, 3), (1, 8, 8, 3), (3, 5, 6, 3)],
    "(n, 16*s, 16*s, _)": [(1, 16, 16, 3), (2, 32, 32, 3)],
}

MODES = ["eager", "graph", "jit", "noxla"]

# Under "(b, h, w, _)" JAX itself cannot trace everything (jax.export
# fails the same way): the ResNet's two stride-2 branches have sizes
# -floordiv(-h, 2) and floordiv(h - 1, 2) + 1, which JAX cannot prove equal,
# and the VJP of a strided SAME (or VALID) conv or pool has a symbolic
# padding JAX's transpose rule rejects. Those run forward only, or not.
_JAX_CANNOT = {("resnet", "(b, h, w, _)"): "forward",
               ("mobilenet", "(b, h, w, _)"): "gradient",
               ("unet", "(b, h, w, _)"): "gradient"}


def _cases():
  cases = []
  for name in MODELS:
    for spec in SPECS:
      if name == "mobilenet_s1" and spec != "(b, h, w, _)":
        continue
      cannot = _JAX_CANNOT.get((name, spec))
      if cannot == "forward":
        continue
      for mode in MODES:
        cases.append((name, spec, mode, cannot != "gradient"))
  return cases


# CI runs the ResNet on "(_, 4*b, 4*b, _)" (the case reported) in every
# mode and a sample of the others, stratified by mode and drawn anew each
# day (JAX2TF_IMPL_SEED reproduces one); JAX2TF_IMPL_FULL=1 runs them all.
_ALL = _cases()
_ALWAYS = [c for c in _ALL if c[:2] == ("resnet", "(_, 4*b, 4*b, _)")]
CASES = _ALWAYS + sampling.stratified_sample(
    [c for c in _ALL if c not in _ALWAYS], 6, lambda c: c[2], "poly_layers")


def _sizes(spec):
  """The concrete shapes a spec is run at: two in CI, all with FULL."""
  return SPECS[spec] if sampling.FULL else SPECS[spec][:2]


@functools.lru_cache(maxsize=None)
def _model(name):
  module = MODELS[name]()
  params = module.init(jax.random.PRNGKey(0), np.zeros((1, 8, 8, 3),
                                                       np.float32))
  params = jax.tree_util.tree_map(np.asarray, params)
  return module.apply, params


def _x(shape, seed=1):
  return np.random.RandomState(seed).randn(*shape).astype(np.float32)


def _signature(spec, params):
  dims = [d.strip() for d in spec.strip("()").split(",")]
  x_shape = [3 if d == "_" and i == 3 else None if d != "_" else 2
             for i, d in enumerate(dims)]
  p_sig = jax.tree_util.tree_map(
      lambda p: tf.TensorSpec(p.shape, tf.float32), params)
  return [p_sig, tf.TensorSpec(x_shape, tf.float32)]


def _assert_close(got, expected, rtol, what):
  e_leaves, e_tree = jax.tree_util.tree_flatten(expected)
  g_leaves = tf.nest.flatten(got)
  assert len(g_leaves) == len(e_leaves), (e_tree, got)
  for g, e in zip(g_leaves, e_leaves):
    e = np.asarray(e, np.float64)
    g = np.asarray(g, np.float64)
    assert g.shape == e.shape, (what, g.shape, e.shape)
    scale = max(1.0, float(np.max(np.abs(e), initial=0.0)))
    np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol * scale,
                               err_msg=what)


def _loss(apply):
  return lambda p, x: jnp.sum(apply(p, x) ** 2)


@functools.lru_cache(maxsize=None)
def _tf_functions(name, spec, mode):
  """(forward, gradient) TF callables for one model, spec and mode."""
  apply, params = _model(name)
  converted = jax2tf_impl.convert(apply, polymorphic_shapes=(None, spec),
                                  enable_xla=(mode != "noxla"))

  def grads(p, x):
    with tf.GradientTape() as tape:
      tape.watch([p, x])
      loss = tf.reduce_sum(converted(p, x) ** 2)
    return tape.gradient(loss, [p, x])

  if mode == "eager":
    return converted, grads
  sig = _signature(spec, params)
  make = functools.partial(tf.function, autograph=False, input_signature=sig,
                           jit_compile=(mode == "jit"))
  return make(converted), make(grads)


@pytest.mark.parametrize("name,spec,mode,gradient", CASES,
                         ids=lambda v: str(v).replace(" ", ""))
def test_forward_and_gradient(name, spec, mode, gradient):
  apply, params = _model(name)
  forward, grads = _tf_functions(name, spec, mode)
  tf_params = jax.tree_util.tree_map(tf.constant, params)
  for shape in _sizes(spec):
    x = _x(shape)
    expected = jax.jit(apply)(params, x)
    _assert_close(forward(tf_params, tf.constant(x)), expected,
                  tolerance(np.float32), f"{name} {spec} {shape} forward")
    if not gradient:
      continue
    g_params, g_x = jax.jit(jax.grad(_loss(apply), argnums=(0, 1)))(params, x)
    got_p, got_x = grads(tf_params, tf.constant(x))
    _assert_close(got_p, g_params, GRAD_RTOL,
                  f"{name} {spec} {shape} parameter gradient")
    _assert_close(got_x, g_x, GRAD_RTOL, f"{name} {spec} {shape} input "
                  "gradient")


@pytest.mark.parametrize("name", ["resnet", "mobilenet", "unet"])
def test_noxla_graphs_have_no_xla_ops(name):
  """enable_xla=False: the forward and gradient graphs (symbolic sizes)
  are made of portable ops only."""
  _, params = _model(name)
  spec = "(n, 4*b, 4*b, _)"
  forward, grads = _tf_functions(name, spec, "noxla")
  sig = _signature(spec, params)
  for fn in (forward, grads):
    ops = graph_op_types(fn, *sig)
    assert not {o for o in ops if o.startswith("Xla")}, sorted(ops)


@pytest.mark.parametrize("name,spec", [
    ("resnet", "(_, 4*b, 4*b, _)"), ("mobilenet", "(n, 16*s, 16*s, _)"),
    ("unet", "(n, 4*b, 4*b, _)"), ("mobilenet_s1", "(b, h, w, _)")])
def test_saved_model_round_trip(name, spec, tmp_path):
  """Saved with symbolic dims, reloaded: forward and gradient at every
  size of the spec, without JAX in the loop."""
  apply, params = _model(name)
  converted = jax2tf_impl.convert(apply, polymorphic_shapes=(None, spec))
  module = tf.Module()
  module.params = jax.tree_util.tree_map(tf.Variable, params)
  module.fn = converted
  x_sig = _signature(spec, params)[1]
  module.f = tf.function(lambda x: converted(module.params, x),
                         autograph=False, input_signature=[x_sig])
  jax2tf_impl.saved_model.save(module, str(tmp_path))
  reloaded = tf.saved_model.load(str(tmp_path))
  for shape in _sizes(spec):
    x = _x(shape, seed=2)
    _assert_close(reloaded.f(x), jax.jit(apply)(params, x),
                  tolerance(np.float32), f"reloaded {name} {spec} {shape}")
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
      tape.watch(xt)
      loss = tf.reduce_sum(reloaded.f(xt) ** 2)
    variables = tf.nest.flatten(reloaded.params)
    got = tape.gradient(loss, [xt] + variables)
    g_params, g_x = jax.grad(_loss(apply), argnums=(0, 1))(params, x)
    _assert_close(got[0], g_x, GRAD_RTOL, f"reloaded {name} input gradient")
    # The parameters are read inside the converted function (closed over):
    # their gradient flows through the variable reads.
    _assert_close(got[1:], jax.tree_util.tree_leaves(g_params), GRAD_RTOL,
                  f"reloaded {name} parameter gradient")


@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_gradient_jax_cannot_trace_raises_when_asked(mode):
  """Where JAX itself has no VJP (a strided SAME conv under "(b, h, w, _)"),
  the error comes when the gradient is asked for, from tape.gradient
  (while tracing the tf.function, not as an Assert when the gradient
  runs), with JAX's message."""
  apply, params = _model("unet")
  forward, grads = _tf_functions("unet", "(b, h, w, _)", mode)
  tf_params = jax.tree_util.tree_map(tf.constant, params)
  x = tf.constant(_x((1, 8, 8, 3)))
  forward(tf_params, x)  # the forward conversion is fine
  with pytest.raises(ValueError, match="padding argument to "
                     "conv_general_dilated"):
    if mode == "graph":
      grads.get_concrete_function(*_signature("(b, h, w, _)", params))
    else:
      grads(tf_params, x)


# --- the primitives underneath, on polymorphic shapes --------------------------

def _variadic_generic_window(x, y):
  """A body that is neither associative nor commutative in its second
  output: XLA folds each window in order from the init value."""
  return lax.reduce_window(
      (x, y), (np.float32(1.), np.int32(2)),
      lambda a, b: (lax.add(a[0], b[0]), lax.sub(a[1], b[1])),
      (2, 2), (1, 1), "VALID")


def _logaddexp_window_same(x):
  return lax.reduce_window(x, np.float32(-np.inf), jnp.logaddexp, (3, 2),
                           (2, 1), "SAME")


def _max_pool_same(x):
  return lax.reduce_window(x, -np.inf, lax.max, (1, 3, 3, 1), (1, 2, 2, 1),
                           "SAME")


def _interior_pad(x):
  return lax.pad(x, np.float32(-1), [(1, 2, x.shape[0]), (0, -1, 1)])


def _symbolic_edge_pad(x):
  b, c = x.shape
  return lax.pad(x, np.float32(-1), [(b // 2, -(b // 3), 0),
                                     (c % 3, 1, c // 4)])


def _lu_pivots(p):
  return lax.linalg.lu_pivots_to_permutation(p, permutation_size=8)


def _ints(shape, low, high, seed=0):
  return np.random.RandomState(seed).randint(low, high, shape).astype(
      np.int32)


# name -> (fun, polymorphic_shapes, argument lists at 2 sizes)
PRIMITIVE_CASES = {
    "reduce_window_variadic_generic": (
        _variadic_generic_window, ("(b, ...)", "(b, ...)"),
        [(_x((3, 8)), _ints((3, 8), 0, 100)),
         (_x((5, 8)), _ints((5, 8), 0, 100, 1))]),
    "reduce_window_generic_same": (
        _logaddexp_window_same, "(b, 4*c)",
        [(_x((3, 8)),), (_x((6, 4)),)]),
    "max_pool_same_stride2": (
        _max_pool_same, "(n, 4*b, 4*b, _)",
        [(_x((1, 4, 4, 2)),), (_x((2, 12, 12, 2)),)]),
    "pad_symbolic_interior": (_interior_pad, "(b, _)",
                              [(_x((2, 3)),), (_x((4, 3)),)]),
    "pad_symbolic_edges": (_symbolic_edge_pad, "(b, c)",
                           [(_x((4, 5)),), (_x((6, 9)),)]),
    # Pivots out of [0, 8), negative ones included: JAX's own semantics.
    "lu_pivots_to_permutation": (
        _lu_pivots, "(b, _)", [(_ints((3, 4), -10, 12),),
                               (_ints((5, 4), -10, 12, 1),)]),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(PRIMITIVE_CASES))
def test_primitive_on_polymorphic_shapes(name, mode):
  f, spec, arg_lists = PRIMITIVE_CASES[name]
  converted = jax2tf_impl.convert(f, polymorphic_shapes=spec,
                                  enable_xla=(mode != "noxla"))
  fn = converted
  if mode != "eager":
    fn = tf.function(converted, autograph=False, reduce_retracing=True,
                     jit_compile=(mode == "jit"))
  for args in arg_lists:
    expected = jax.jit(f)(*args)
    got = fn(*args)
    e_leaves = jax.tree_util.tree_leaves(expected)
    g_leaves = tf.nest.flatten(got)
    assert len(e_leaves) == len(g_leaves)
    for e, g in zip(e_leaves, g_leaves):
      e, g = np.asarray(e), np.asarray(g)
      assert e.shape == g.shape and e.dtype == g.dtype, (e.shape, g.shape)
      if np.issubdtype(e.dtype, np.floating):
        np.testing.assert_allclose(g, e, rtol=tolerance(e.dtype),
                                   atol=tolerance(e.dtype))
      else:
        np.testing.assert_array_equal(g, e)


def test_generic_reduce_window_symbolic_window_size_is_refused():
  """A window size that is a dimension variable (JAX's back-compat case
  `(2, x.shape[0])`) is refused at conversion, naming the primitive."""
  def f(x, y):
    return lax.reduce_window(
        (x, y), (np.float32(1.), np.int32(2)),
        lambda a, b: (lax.add(a[0], b[0]), lax.sub(a[1], b[1])),
        (2, x.shape[0]), (1, 1), "VALID")
  converted = jax2tf_impl.convert(f, polymorphic_shapes=("b, ...", "b, ..."))
  with pytest.raises(jax2tf_impl.UnsupportedPrimitiveError,
                     match="reduce_window.*symbolic window size"):
    converted(_x((3, 4)), _ints((3, 4), 0, 9))
