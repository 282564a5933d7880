"""jax.debug.print / debug.callback, pure_callback, io_callback and call_tf.

Printed text is compared with what `jax.jit` of the same function prints
(both go to the process's stdout; `capfd` captures the file descriptor, which
is where TF's PrintV2 writes).
"""
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf
from jax.experimental import io_callback
from jax.experimental import jax2tf

import jax2tf_impl
from jax2tf_impl.rules import print_format as pf
from support.no_jax import run_without_jax
from support.tf_testing import run_in_mode

MODES = ["eager", "graph", "noxla"]


def _convert(f, mode, **kw):
  return jax2tf_impl.convert(f, enable_xla=(mode != "noxla"), **kw)


def _run(fn, mode, *args):
  return run_in_mode(fn, "graph" if mode == "noxla" else mode, *args)


def _jax_output(capfd, f, *args):
  capfd.readouterr()
  jax.block_until_ready(jax.jit(f)(*args))
  sys.stdout.flush()
  return capfd.readouterr().out


def _tf_output(capfd, fn, mode, *args):
  capfd.readouterr()
  out = _run(fn, mode, *args)
  sys.stdout.flush()
  return out, capfd.readouterr().out


# --- the text of numpy's str(), rebuilt from TF string ops -----------------
_rng = np.random.RandomState(0)
_VALUES = [
    np.float32(1.0), np.float32(0.1), np.float32(1e16), np.float32(1e-4),
    np.float32(1.5e-5), np.float32(123456792.0), np.float32(999999.0),
    np.float32(1e6), np.float32(np.nan), np.float32(-0.0), np.float32(-np.inf),
    np.float32(0.123456789), np.float32(16777217.0), np.float64(1 / 3),
    np.float64(1e15), np.float64(1e16), np.float64(123456792.0),
    np.float64(1e-300), np.float16(0.1), np.float16(999), np.float16(1000),
    np.float16(65504), np.int32(-5), np.uint8(200), np.int64(2**40),
    np.bool_(True), np.bool_(False), np.complex64(1 + 2j),
    np.complex128(-0.5 - 1e-5j),
    np.array([1., 2.25, -3], np.float32), np.array([True, True]),
    np.array([1e-5, 2.5, np.nan, -np.inf], np.float32), np.array([1, -10, 100]),
    np.arange(30.) * 1.5, np.arange(2000).reshape(2, 1000),
    np.array([1.000000001, 2.0]), np.array([0.1234567891]),
    np.array([1e8, 1.0], np.float32), np.array([1e7], np.float32),
    np.array([1e15, 1.0]), np.zeros((2, 2, 2)), np.array([1e-300, 1e300]),
    np.array([np.nan, 1.]), np.array([np.nan]), np.arange(2000.).reshape(20, 100) / 7,
    np.linspace(-1, 1, 40).astype(np.float32), np.arange(24).reshape(2, 3, 4),
    np.array([[1.5, np.inf], [-2, 0]]), np.arange(1100.), np.array([0.0, -0.0]),
    np.array([1, 2], np.float16) * np.float16(0.1),
    np.arange(5000).reshape(10, 10, 50), np.zeros((0, 3)),
    np.array([0.5, 1e3, 2e3], np.float16),
    _rng.randn(3, 4).astype(np.float32), _rng.randn(7).astype(np.float64) * 1e5,
    (_rng.randn(12) * 10.0 ** _rng.randint(-8, 8, 12)).astype(np.float32),
] + [np.float32(v) for v in _rng.randn(20) * 10.0 ** _rng.randint(-12, 12, 20)] \
  + [np.float64(v) for v in _rng.randn(20) * 10.0 ** _rng.randint(-20, 20, 20)]


def test_numpy_str_is_reproduced_by_tf_string_ops():
  # Eagerly: a graph of ~100 formatted values takes long to build.
  got = [pf.value_str(tf.constant(v), list(np.shape(v)),
                      pf.DEFAULT_OPTIONS).numpy().decode() for v in _VALUES]
  mismatches = [(str(v), g) for v, g in zip(_VALUES, got) if str(v) != g]
  assert not mismatches, mismatches


def test_print_options_are_followed():
  x = np.linspace(0, 1, 12)
  with np.printoptions(precision=3, linewidth=30, threshold=5, edgeitems=2):
    want = str(x)
    opts = dict(np.get_printoptions())
  assert pf.value_str(tf.constant(x), [12], opts).numpy().decode() == want


# --- jax.debug.print in the modes ------------------------------------------
def _printing(x, n):
  jax.debug.print("x={x} n={n} s={s} y={y:.3f} x0={x[0]} shape={x.shape}",
                  x=x, n=n, s="static", y=x[1], ordered=True)

  def body(i, c):
    jax.debug.print("i={} c={}", i, c, ordered=True)
    return c * 2

  c = jax.lax.fori_loop(0, 3, body, x[0])
  jax.lax.cond(n > 0, lambda: jax.debug.print("pos {}", n, ordered=True),
               lambda: jax.debug.print("neg {}", n, ordered=True))

  def scan_body(c, xi):
    jax.debug.print("scan {} {}", c, xi, ordered=True)
    return c + xi, c

  c, ys = jax.lax.scan(scan_body, c, x)
  jax.debug.print("done", x, ys, skip_format_check=True, ordered=True)
  return c + ys.sum()


_X = np.array([1., 2.5, -3], np.float32)


# enable_xla does not change how prints are built: "noxla" is left out to
# keep this file fast.
@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_debug_print_text_matches_jax(capfd, mode):
  want = _jax_output(capfd, _printing, _X, 2)
  assert want.count("\n") == 9, want
  f_tf = _convert(_printing, mode)
  out, got = _tf_output(capfd, f_tf, mode, _X, np.int32(2))
  assert got == want
  np.testing.assert_allclose(out, jax.jit(_printing)(_X, 2), rtol=1e-6)
  # Again, the other branch of the cond.
  want = _jax_output(capfd, _printing, _X, -1)
  _, got = _tf_output(capfd, f_tf, mode, _X, np.int32(-1))
  assert got == want and "neg -1" in got


def test_debug_print_under_jit_compile_is_left_out_with_a_warning(capfd):
  f_tf = jax2tf_impl.convert(_printing)
  capfd.readouterr()
  with pytest.warns(UserWarning, match="jit_compile"):
    out = run_in_mode(f_tf, "jit", _X, np.int32(2))
  sys.stdout.flush()
  assert capfd.readouterr().out == ""
  np.testing.assert_allclose(out, jax.jit(_printing)(_X, 2), rtol=1e-6)


def test_debug_print_with_polymorphic_shapes(capfd):
  def f(x):
    jax.debug.print("{}", x * 2)
    return x

  f_tf = tf.function(jax2tf_impl.convert(f, polymorphic_shapes=["(b, 2)"]),
                     autograph=False,
                     input_signature=[tf.TensorSpec([None, 2], tf.float64)])
  for b in (1, 3):
    x = np.arange(2. * b).reshape(b, 2)
    want = _jax_output(capfd, f, x)
    _, got = _tf_output(capfd, f_tf, "eager", x)
    assert got == want


def _small_printing(x):
  def body(i, c):
    jax.debug.print("i={} c={}", i, c, ordered=True)
    return c * 2

  c = jax.lax.fori_loop(0, 2, body, x)
  jax.lax.cond(c[0] > 0, lambda: jax.debug.print("pos {}", c, ordered=True),
               lambda: jax.debug.print("neg {}", c, ordered=True))
  return c


def test_debug_print_survives_saved_model_without_jax(tmp_path, capfd):
  want = _jax_output(capfd, _small_printing, _X)
  module = tf.Module()
  module.f = tf.function(jax2tf_impl.convert(_small_printing,
                                             with_gradient=False),
                         autograph=False,
                         input_signature=[tf.TensorSpec([3], tf.float32)])
  path = str(tmp_path / "m")
  tf.saved_model.save(module, path)
  script = (f"m = tf.saved_model.load({path!r})\n"
            "r = m.f(np.array([1., 2.5, -3], np.float32))\n"
            "sys.stdout.flush()\nprint('result', r.numpy().tolist())\n")
  printed, result = run_without_jax(script).rsplit("result ", 1)
  assert printed == want and "pos [  4.  10. -12.]" in printed
  assert result.strip() == "[4.0, 10.0, -12.0]"


def test_unsupported_print_forms_fail_at_conversion():
  def f(x):
    jax.debug.print("{!r}", x)
    return x

  with pytest.raises(NotImplementedError, match="debug_print.*!r"):
    jax2tf_impl.convert(f)(np.float32(1))


# --- Python callbacks -------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_debug_callback_receives_the_values(mode):
  seen = []

  def f(x):
    jax.debug.callback(lambda a, b: seen.append((type(a), np.asarray(a), b)),
                       x * 2, x[0] > 0)
    return x + 1

  out = _run(_convert(f, mode), mode, _X)
  np.testing.assert_array_equal(out, _X + 1)
  assert len(seen) == 1
  assert seen[0][0] is type(jnp.zeros(1))  # JAX arrays, as under jax.jit
  np.testing.assert_array_equal(seen[0][1], _X * 2)
  assert bool(seen[0][2]) is True


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("vmap_method", ["sequential", "expand_dims"])
def test_pure_callback_values_and_vmap(mode, vmap_method):
  def host(a, b):
    return np.sin(a) * b, (a > 0).astype(np.int32)

  def f(x, y):
    shapes = (jax.ShapeDtypeStruct(x.shape, x.dtype),
              jax.ShapeDtypeStruct(x.shape, jnp.int32))
    return jax.pure_callback(host, shapes, x, y, vmap_method=vmap_method)

  g = jax.vmap(f, in_axes=(0, None))
  x = np.arange(-3., 3.).reshape(2, 3)
  y = np.float64(2.0)
  want = jax.jit(g)(x, y)
  got = _run(_convert(g, mode), mode, x, y)
  for w, o in zip(want, got):
    np.testing.assert_allclose(o, w, rtol=1e-12)
    assert o.dtype == w.dtype


def test_pure_callback_polymorphic_batch_and_wrong_results():
  def f(x):
    return jax.pure_callback(lambda a: np.cumsum(a, axis=0),
                             jax.ShapeDtypeStruct(x.shape, x.dtype), x)

  f_tf = tf.function(jax2tf_impl.convert(f, polymorphic_shapes=["(b, 2)"]),
                     autograph=False,
                     input_signature=[tf.TensorSpec([None, 2], tf.float32)])
  for b in (1, 4):
    x = np.arange(2. * b, dtype=np.float32).reshape(b, 2)
    np.testing.assert_array_equal(f_tf(x), np.cumsum(x, axis=0))
  assert f_tf.get_concrete_function().structured_outputs.shape.as_list() == [
      None, 2]

  def bad(x):
    return jax.pure_callback(lambda a: a[:1],
                             jax.ShapeDtypeStruct(x.shape, x.dtype), x)

  msg = r"Incorrect output shape for return value #0: Expected: \(3,\)"
  # Eager calls run the same graph (api._call_eagerly): TF reports the
  # callback's Python error as an UnknownError carrying JAX's message.
  with pytest.raises(tf.errors.UnknownError, match=msg):
    jax2tf_impl.convert(bad)(np.ones((3,), np.float32))
  with pytest.raises(tf.errors.UnknownError, match=msg):
    tf.function(jax2tf_impl.convert(bad), autograph=False)(
        np.ones((3,), np.float32))


@pytest.mark.parametrize("mode", MODES)
def test_io_callback_ordered_in_a_loop(mode):
  log = []

  def host(i, c):
    log.append((int(i), float(c)))
    return np.float32(len(log))

  def f(x):
    def body(i, c):
      r = io_callback(host, jax.ShapeDtypeStruct((), jnp.float32), i, c,
                      ordered=True)
      return c * 2 + r

    return jax.lax.fori_loop(0, 4, body, x)

  out = _run(_convert(f, mode), mode, np.float32(1))
  assert log == [(0, 1.0), (1, 3.0), (2, 8.0), (3, 19.0)]
  assert float(out) == 42.0


def test_callbacks_under_jit_compile_are_clear_errors():
  def f(x):
    return jax.pure_callback(np.sin, jax.ShapeDtypeStruct(x.shape, x.dtype), x)

  with pytest.raises(NotImplementedError,
                     match="pure_callback.*jit_compile.*XLA cannot call Python"):
    run_in_mode(jax2tf_impl.convert(f), "jit", _X)


def test_allow_python_callbacks_false_fails_at_conversion():
  def f(x):
    jax.debug.print("x={}", x)  # no Python: allowed
    y = jax.lax.cond(x[0] > 0,
                     lambda v: jax.pure_callback(
                         np.sin, jax.ShapeDtypeStruct(v.shape, v.dtype), v),
                     lambda v: v, x)
    return y

  f_tf = jax2tf_impl.convert(f, allow_python_callbacks=False)
  sig = [tf.TensorSpec([3], tf.float32)]
  with pytest.raises(NotImplementedError) as info:
    tf.function(f_tf, autograph=False).get_concrete_function(*sig)
  msg = str(info.value)
  assert "'pure_callback'" in msg
  assert "allow_python_callbacks=False" in msg and "serving" in msg
  assert "test_callbacks.py" in msg  # the user's source line

  def g(x):
    jax.debug.callback(print, x)
    return x

  with pytest.raises(NotImplementedError, match="debug.callback"):
    jax2tf_impl.convert(g, allow_python_callbacks=False)(_X)

  def h(x):
    jax.debug.print("x={}", x)
    return jax2tf.call_tf(tf.math.sin)(x)

  # Prints and call_tf are TF ops: allowed.
  np.testing.assert_allclose(
      jax2tf_impl.convert(h, allow_python_callbacks=False)(_X), np.sin(_X),
      rtol=1e-6)


# --- call_tf ----------------------------------------------------------------
def _tf_part(x, w):
  return tf.math.sin(x) * w["scale"] + tf.reduce_sum(x)


def _uses_call_tf(x, scale):
  y = jax2tf.call_tf(_tf_part)(x, {"scale": scale})
  return jnp.sum(jnp.tanh(y) * x)


@pytest.mark.parametrize("mode", MODES + ["jit"])
def test_call_tf_forward_and_gradient(mode):
  x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
  scale = np.float32(1.5)
  want = jax.jit(_uses_call_tf)(x, scale)
  want_grads = jax.jit(jax.grad(_uses_call_tf, argnums=(0, 1)))(x, scale)
  f_tf = _convert(_uses_call_tf, mode)

  def value_and_grads(x, scale):
    with tf.GradientTape() as tape:
      tape.watch([x, scale])
      y = f_tf(x, scale)
    return y, tape.gradient(y, [x, scale])

  y, grads = _run(value_and_grads, mode, tf.constant(x), tf.constant(scale))
  np.testing.assert_allclose(y, want, rtol=1e-5)
  for g, w in zip(grads, want_grads):
    np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
  # jax.grad of it, converted as a function.
  gx = _run(_convert(jax.grad(_uses_call_tf), mode), mode, x, scale)
  np.testing.assert_allclose(gx, want_grads[0], rtol=1e-5, atol=1e-6)
  # The TF function is called directly: its ops are in our graph.
  if mode != "eager":
    conc = tf.function(f_tf, autograph=False).get_concrete_function(
        tf.TensorSpec([2, 3], tf.float32), tf.TensorSpec([], tf.float32))
    types = {op.type for op in conc.graph.get_operations()}
    for fdef in conc.graph.as_graph_def().library.function:
      types |= {n.op for n in fdef.node_def}
    assert "Sin" in types and "XlaCallModule" not in types


def test_call_tf_polymorphic_batch_forward_and_gradient():
  def f(x):
    y = jax2tf.call_tf(
        lambda v: tf.math.sin(v) * 2.0,
        output_shape_dtype=jax.ShapeDtypeStruct(x.shape, x.dtype))(x)
    return jnp.sum(y * x, axis=1)

  f_tf = jax2tf_impl.convert(f, polymorphic_shapes=["(b, 3)"])

  @tf.function(autograph=False,
               input_signature=[tf.TensorSpec([None, 3], tf.float32)])
  def value_and_grad(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = f_tf(x)
    return y, tape.gradient(y, x)

  for b in (1, 5):
    x = np.linspace(-2, 2, 3 * b, dtype=np.float32).reshape(b, 3)
    y, g = value_and_grad(x)
    np.testing.assert_allclose(y, jax.jit(f)(x), rtol=1e-5)
    want_g = jax.grad(lambda v: jnp.sum(f(v)))(x)
    np.testing.assert_allclose(g, want_g, rtol=1e-5, atol=1e-6)
  assert value_and_grad.get_concrete_function().structured_outputs[
      0].shape.as_list() == [None]


def test_effect_only_cond_branches_run_in_a_graph(capfd):
  def f(x):
    jax.lax.cond(x > 0, lambda: jax.debug.print("positive"),
                 lambda: jax.debug.print("not positive"))
    return x

  f_tf = tf.function(jax2tf_impl.convert(f), autograph=False)
  capfd.readouterr()
  f_tf(np.float32(1))
  f_tf(np.float32(-1))
  sys.stdout.flush()
  assert capfd.readouterr().out == "positive\nnot positive\n"


def test_call_tf_and_print_in_a_reloaded_saved_model(tmp_path, capfd):
  def f(x):
    jax.debug.print("x={}", x)
    return jax2tf.call_tf(lambda v: tf.math.cumsum(v) * 2.0)(x)

  module = tf.Module()
  module.f = tf.function(jax2tf_impl.convert(f), autograph=False,
                         input_signature=[tf.TensorSpec([3], tf.float32)])
  tf.saved_model.save(module, str(tmp_path / "m"))
  loaded = tf.saved_model.load(str(tmp_path / "m"))
  capfd.readouterr()
  out = loaded.f(_X)
  sys.stdout.flush()
  assert capfd.readouterr().out == "x=[ 1.   2.5 -3. ]\n"
  np.testing.assert_allclose(out, np.cumsum(_X) * 2, rtol=1e-6)
  graph = loaded.f.get_concrete_function().graph.as_graph_def()
  ops = {n.op for n in graph.node} | {
      n.op for fn in graph.library.function for n in fn.node_def}
  assert "Cumsum" in ops and not ops & {"PyFunc", "EagerPyFunc",
                                        "PyFuncStateless", "XlaCallModule"}


def test_scalar_format_specs_match_python(capfd):
  specs = [".3f", ">8.2f", "+.1e", "05d", "<6d", "^9.3g", ".2%", "E", "10",
           "08.3f", " .2f", "*>7d", "g"]

  def f(x, i):
    for spec in specs:
      if spec.endswith("d"):
        jax.debug.print("[{:" + spec + "}]", i, ordered=True)
      else:
        jax.debug.print("[{:" + spec + "}]", x, ordered=True)
    return x

  for x, i in [(np.float32(-3.14159), np.int32(-42)),
               (np.float32(1234.5), np.int32(7))]:
    want = _jax_output(capfd, f, x, i)
    _, got = _tf_output(capfd, jax2tf_impl.convert(f), "eager", x, i)
    assert got == want
