"""jax.experimental.checkify: converted checkified functions give JAX's
errors (err.get() text, err.throw()), in four modes; unfunctionalized checks
fail as in jax.jit; debug_check is a no-op."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf
from jax import lax
from jax.experimental import checkify

import jax2tf_impl
from support.jit_compare import MODES4, assert_matches_jit, run_converted, tolerance


def _f(x, i):
  checkify.check(jnp.all(x > -5), "x too small: {} (i={})", x[0], i)
  y = x / i
  return jnp.log(x)[i] + x[i] + y[0]


def _g(x, i):
  # Errors inside control flow and an inner jit.
  def body(c, xi):
    checkify.check(xi < 100, "big element {}", xi)
    return c + jnp.sqrt(xi), c
  total, _ = lax.scan(body, 0.0, x)
  z = lax.cond(i > 1, lambda: jnp.sin(x[i]), lambda: x[0] // i)
  return jax.jit(lambda a: a * total)(z)


CASES = {
    "ok": (_f, (np.arange(1.0, 4.0), np.int32(1))),
    "oob": (_f, (np.arange(1.0, 4.0), np.int32(5))),
    "user_check": (_f, (np.arange(3.0) - 10, np.int32(1))),
    "div_by_zero": (_f, (np.arange(1.0, 4.0), np.int32(0))),
    "nan": (_f, (np.arange(3.0) - 1, np.int32(0))),
    "scan_check": (_g, (np.array([1.0, 200.0, 4.0]), np.int32(2))),
    "scan_nan": (_g, (np.array([1.0, -2.0, 4.0]), np.int32(2))),
    "cond_div": (_g, (np.array([1.0, 2.0, 4.0]), np.int32(0))),
}
# Every case eagerly and in tf.function; a few in all four modes (each
# conversion of a checkified function takes ~2 s on the shared CI cores).
CASE_MODES = ([(c, m) for c in sorted(CASES) for m in ("eager", "graph")]
              + [(c, m) for c in ("oob", "user_check", "cond_div")
                 for m in ("jit", "noxla")])


def _converted_error(checked, mode, *args):
  """(checkify.Error rebuilt with JAX's pytree, outputs) from the converted
  function run in `mode`; in tf.function the error travels as its leaves."""
  if mode == "eager":
    return run_converted(checked, mode, *args)
  # The error's pytree structure (its codes -> messages) is that of the trace
  # the converted function made: take it from there, not from another trace.
  conv = jax2tf_impl.convert(checked, enable_xla=(mode != "noxla"))
  box = {}

  def flat(*a):
    err, out = conv(*a)
    leaves, box["treedef"] = jax.tree_util.tree_flatten(err)
    return leaves, out
  leaves, out = tf.function(flat, autograph=False,
                            jit_compile=(mode == "jit"))(*args)
  treedef = box["treedef"]
  return jax2tf_impl.checkify_error(leaves, treedef=treedef), out


@pytest.mark.parametrize("case,mode", CASE_MODES)
def test_checkify_errors(case, mode):
  f, args = CASES[case]
  checked = checkify.checkify(f, errors=checkify.all_checks)
  err, out = jax.jit(checked)(*args)
  got_err, got_out = _converted_error(checked, mode, *args)
  assert isinstance(got_err, checkify.Error)
  assert got_err.get() == err.get()
  if case != "ok":
    assert err.get() is not None
  t = tolerance(np.asarray(out).dtype)
  np.testing.assert_allclose(np.asarray(got_out), np.asarray(out), rtol=t,
                             atol=t, equal_nan=True)


def test_checkify_throw():
  f, args = CASES["oob"]
  checked = checkify.checkify(f, errors=checkify.index_checks)
  err, _ = jax.jit(checked)(*args)
  got_err, _ = run_converted(checked, "eager", *args)
  with pytest.raises(checkify.JaxRuntimeError) as expected:
    err.throw()
  with pytest.raises(checkify.JaxRuntimeError) as got:
    got_err.throw()
  assert str(got.value) == str(expected.value)
  ok_err, _ = run_converted(checked, "eager", np.arange(3.0), np.int32(1))
  ok_err.throw()  # no error: no exception


@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_checkify_vmap_batched_errors(mode):
  def g(x):
    checkify.check(x[0] > 0, "bad {}", x[0])
    return x * 2
  checked = jax.vmap(checkify.checkify(g))
  x = np.array([[1.0, 2.0], [-1.0, 3.0], [-2.0, 0.0]])
  err, _ = jax.jit(checked)(x)
  got_err, _ = _converted_error(checked, mode, x)
  assert err.get() == got_err.get()
  assert "at mapped index 1: bad -1.0" in got_err.get()


@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_unfunctionalized_check_fails_like_jit(mode):
  def g(x):
    checkify.check(x[0] > 0, "bad {}", x[0])
    return x * 2
  x = np.ones(3, np.float32)
  with pytest.raises(ValueError, match="not functionalized") as expected:
    jax.jit(g)(x)
  with pytest.raises(ValueError, match="not functionalized") as got:
    run_converted(g, mode, x)
  assert str(got.value).startswith(str(expected.value))


@pytest.mark.parametrize("mode", MODES4)
def test_debug_check_is_a_noop(mode):
  def g(x):
    checkify.debug_check(x[0] > 0, "bad {}", x[0])
    return x * 2
  assert_matches_jit(g, mode, -np.ones(3, np.float32))
