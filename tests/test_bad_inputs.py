"""Bad inputs: every wrong rank, dim, dtype, pytree structure or constraint
violation raises an error that names the argument's pytree path and says
what was expected and what was given, in every way a converted function is
called: eagerly, in tf.function (static shapes at trace time, and an input
signature with None dims, where the checks run in the graph), under
jit_compile (XLA drops Asserts: the checks then fail the compilation of
the concrete shapes), and in a reloaded SavedModel.

With an input signature (tf.function's or a SavedModel's), TF matches the
arguments against it before the converted function runs: a wrong rank,
dtype or structure is then TF's own error, which lists the expected
TensorSpecs (named here after the pytree paths) and the given tensors.
"""
import re

import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf

import jax2tf_impl

W = np.arange(8, dtype=np.float32).reshape(4, 2) / 8


def _matmul(x):
  return x @ W


def _halves(x):
  return x[:, ::2] + x[:, 1::2]


def _diffs(x):
  return x[1:] - x[:-1]


def _tree(p):
  return p["xs"][0] @ p["w"] + p["xs"][1][:, None]


def _x(*shape, dtype=np.float32):
  return np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)


def _tree_arg(b=3, w=(4, 2), x=None, y=None, extra=False):
  xs = [_x(b, 4) if x is None else x, _x(b) if y is None else y]
  if extra:
    xs.append(_x(b))
  return {"w": _x(*w), "xs": xs}


def _spec(shape, name):
  return tf.TensorSpec(shape, tf.float32, name=name)


# name -> (fun, polymorphic_shapes, constraints, good args, TF signature)
FUNCTIONS = {
    "static": (_matmul, None, (), (_x(3, 4),), [_spec([3, 4], "args_0")]),
    "b_ellipsis": (_matmul, "(b, ...)", (), (_x(3, 4),),
                   [_spec([None, 4], "args_0")]),
    "b_2b": (_halves, "(b, 2*b)", (), (_x(3, 6),),
             [_spec([None, None], "args_0")]),
    "constraint": (_diffs, "(b, 4)", ("b >= 2",), (_x(3, 4),),
                   [_spec([None, 4], "args_0")]),
    "pytree": (_tree, ({"w": None, "xs": ["(b, 4)", "(b,)"]},), (),
               (_tree_arg(),),
               [{"w": _spec([4, 2], "args_0_w"),
                 "xs": [_spec([None, 4], "args_0_xs_0"),
                        _spec([None], "args_0_xs_1")]}]),
}

# (function, kind) -> (bad args, pytree path, expected (regex), actual
# (regex)). Without a polymorphic spec a function takes any shapes, so what
# it expects is what its body accepts (JAX's message says it).
STRING = tf.constant([["a"]])
BAD = {
    ("static", "rank"): ((_x(3),), "args[0]", r"\(4, ?2\)|\(4,\)",
                         r"\(3,\)|\[3\]"),
    ("static", "dim"): ((_x(3, 5),), "args[0]", r"\(4,\)|4", r"5"),
    ("static", "dtype"): ((STRING,), "args[0]", r"numeric or bool",
                          r"string"),
    ("static", "pytree"): ((_x(3, 4), _x(3, 4)), "args[1]",
                           r"1 positional", r"2 were given"),
    ("b_ellipsis", "rank"): ((_x(3),), "args[0]", r"\(4,\)|4", r"\(b,\)|b\]"),
    ("b_ellipsis", "dim"): ((_x(3, 5),), "args[0]", r"\(4,\)", r"\(5,\)"),
    ("b_ellipsis", "dtype"): ((STRING,), "args[0]", r"numeric or bool",
                              r"string"),
    ("b_ellipsis", "pytree"): (({"x": _x(3, 4)},), "args[0]['x']",
                               r"requires 1", r"has 0"),
    ("b_2b", "rank"): ((_x(3),), "args[0]", r"\(b, 2\*b\)", r"\(3,\)"),
    ("b_2b", "dim"): ((_x(3, 5),), "args[0]", r"2\*b", r"5"),
    ("b_2b", "dim_even"): ((_x(2, 6),), "args[0]", r"2\*b", r"6"),
    ("b_2b", "dtype"): ((STRING,), "args[0]", r"numeric or bool", r"string"),
    ("b_2b", "pytree"): ((_x(3, 6), _x(3, 6)), "args[1]", r"1 positional",
                         r"2 were given"),
    ("constraint", "constraint"): ((_x(1, 4),), "args[0]", r"b >= 2",
                                   r"\(= 1\)|b = 1|with 1 values"),
    ("constraint", "rank"): ((_x(3, 4, 1),), "args[0]", r"\(b, 4\)",
                             r"\(3, 4, 1\)"),
    ("constraint", "dim"): ((_x(3, 5),), "args[0]", r"\b4\b", r"\b5\b"),
    ("constraint", "dtype"): ((STRING,), "args[0]", r"numeric or bool",
                              r"string"),
    ("pytree", "missing_key"): (({"xs": [_x(3, 4), _x(3)]},), "args[0]",
                                r"keys \['w', 'xs'\]", r"keys \['xs'\]"),
    ("pytree", "extra_leaf"): ((_tree_arg(extra=True),), "args[0]['xs']",
                               r"list of 2", r"list of 3"),
    ("pytree", "dim"): ((_tree_arg(y=_x(4)),), "args[0]['xs'][1]",
                        r"'b' \(= 3\)|has 3", r"\(= 4\)|with 4 values"),
    ("pytree", "rank"): ((_tree_arg(w=(8,)),), "args[0]['w']",
                         r"\(4, 2\)|\(4,\)|\(8,\) and \(4,\)", r"\(8,\)|8\]"),
    ("pytree", "dtype"): (({"w": STRING, "xs": [_x(3, 4), _x(3)]},),
                          "args[0]['w']", r"numeric or bool", r"string"),
}

MODES = ["eager", "graph", "jit", "graph_sig", "jit_sig", "saved"]

_saved = {}


def _converted(name):
  fun, specs, constraints, _, _ = FUNCTIONS[name]
  return jax2tf_impl.convert(fun, polymorphic_shapes=specs,
                             polymorphic_constraints=constraints)


def _callable(name, mode, tmp_path_factory):
  converted = _converted(name)
  signature = FUNCTIONS[name][4]
  if mode == "eager":
    return converted
  if mode in ("graph", "jit"):
    return tf.function(converted, autograph=False, jit_compile=mode == "jit")
  if mode in ("graph_sig", "jit_sig"):
    return tf.function(converted, autograph=False, input_signature=signature,
                       jit_compile=mode == "jit_sig")
  if name not in _saved:
    module = tf.Module()
    module.fn = converted
    module.f = tf.function(converted, autograph=False,
                           input_signature=signature)
    path = str(tmp_path_factory.mktemp(f"bad_inputs_{name}"))
    jax2tf_impl.saved_model.save(module, path)
    _saved[name] = tf.saved_model.load(path)
  return _saved[name].f


def _message(e):
  return "\n".join([str(e)] + list(getattr(e, "__notes__", [])))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("mode", MODES)
def test_good_inputs_run(name, mode, tmp_path_factory):
  """The baseline: the good arguments run in every mode."""
  args = FUNCTIONS[name][3]
  fn = _callable(name, mode, tmp_path_factory)
  out = fn(*args)
  expected = FUNCTIONS[name][0](*args)
  np.testing.assert_allclose(np.asarray(out), np.asarray(expected),
                             rtol=1e-6)


@pytest.mark.parametrize("case", sorted(BAD), ids=lambda c: f"{c[0]}-{c[1]}")
@pytest.mark.parametrize("mode", MODES)
def test_bad_input_error_names_path_expected_actual(case, mode,
                                                   tmp_path_factory):
  name, _ = case
  args, path, expected, actual = BAD[case]
  fn = _callable(name, mode, tmp_path_factory)
  with pytest.raises(Exception) as info:  # pylint: disable=broad-except
    out = fn(*args)
    # Not reached when the call raises; shows what came back silently.
    print("returned", tf.nest.map_structure(lambda t: t.shape, out))
  # TF renders an Assert's data as [piece] [piece] with quotes escaped.
  msg = re.sub(r"\] \[", "", _message(info.value)).replace("\\'", "'")
  if mode in ("graph_sig", "jit_sig", "saved") and re.search(
      r"Binding inputs to tf.function failed|Could not find matching "
      r"concrete function", msg):
    # TF matched the call against the input signature first. Its message
    # lists the given tensors and the signature's TensorSpecs, which are
    # named after the pytree paths here.
    assert re.search(r"Received args|Got:", msg), msg
    assert re.search(r"signature|Expected", msg), msg
    assert "TensorSpec(" in msg, msg
    return
  if mode == "jit_sig" and "jax2tf_impl_input_check" in msg:
    # XLA dropped the Asserts; the compile-time check failed compiling the
    # concrete shapes: its node is named after the paths, specs and the
    # equation, the reshape error gives the actual and the expected sizes.
    node = re.search(r"node jax2tf_impl_input_check[^/]*/(\S+?)\}", msg)
    assert node, msg
    assert re.sub(r"[^A-Za-z0-9.\-]+", "_", path).strip("_") in node.group(1)
    assert re.search(r"tensor with \d+ values, but the requested shape has "
                     r"\d+", msg), msg
    return
  for what, pattern in (("path", re.escape(path)), ("expected", expected),
                        ("actual", actual)):
    assert re.search(pattern, msg), (
        f"the error does not name the {what} (/{pattern}/):\n"
        f"{type(info.value).__name__}: {msg}")

