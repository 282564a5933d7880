"""Rules for debug printing, Python callbacks and call_tf.

* `debug_print` (jax.debug.print) -> `tf.print` to stdout of the text JAX
  would print, built with TF string ops (rules/print_format.py), so the
  print survives a SavedModel loaded without Python or JAX. TF runs stateful
  ops in program order (automatic control dependencies in tf.function,
  inside tf.while_loop/tf.cond bodies too), which gives `ordered=True` its
  meaning; unordered prints are ordered as well, which JAX allows.
* `debug_callback`, `pure_callback`, `io_callback` -> `tf.numpy_function`
  that runs JAX's own host-side implementation of the primitive (arguments
  as JAX arrays on the CPU device, results checked against the declared
  shapes and dtypes as JAX checks them). `pure_callback` is stateless (TF may
  prune or deduplicate it, as XLA may); the others are stateful.
  `allow_python_callbacks=False` makes all three conversion errors.
* `call_tf` (jax2tf.call_tf inside the JAX function) -> a direct call of the
  wrapped TF function on our TF values. Its gradient needs nothing special:
  call_tf is a custom_vjp whose backward pass is another call_tf (of a
  GradientTape over the TF function), and our gradient converts JAX's VJP.

Under `tf.function(jit_compile=True)` XLA cannot run string ops or Python:
debug prints and debug callbacks are left out (with a warning at conversion
time), pure/io callbacks are conversion errors. See docs/callbacks.md.
"""
from __future__ import annotations

import re
import string
import sys
import warnings
from typing import Any

import jax
import numpy as np
import tensorflow as tf
from jax import tree_util

from jax2tf_impl import jax_internals as ji
from jax2tf_impl.rules import register
from jax2tf_impl.rules import print_format as pf
from jax2tf_impl.rules.context import RuleContext
from jax2tf_impl.rules.support import compiling_with_xla

_SERVING_REASON = (
    "it calls back into Python at run time (tf.numpy_function), and this "
    "conversion has allow_python_callbacks=False: a model meant for serving "
    "must not contain Python, because a SavedModel with a tf.numpy_function "
    "only runs inside the Python process that created it. Remove the "
    "callback from the JAX function, or convert with "
    "allow_python_callbacks=True")


def _check_python_allowed(ctx: RuleContext, api_name: str) -> None:
  if not ctx.state.allow_python_callbacks:
    raise ctx.unsupported(f"{api_name}: {_SERVING_REASON}")


def _skip_under_xla(ctx: RuleContext, api_name: str) -> bool:
  """True (after a warning) when XLA compiles this graph: XLA has no
  kernels for strings or Python calls, and a debugging aid must not make an
  otherwise compilable function fail."""
  if not compiling_with_xla():
    return False
  warnings.warn(
      f"jax2tf_impl: {api_name} at {ctx.source} is left out of this "
      "graph: it is compiled with tf.function(jit_compile=True), and XLA "
      "cannot run prints or Python callbacks", stacklevel=2)
  return True


# --- jax.debug.print -------------------------------------------------------
class _Dyn:
  """A dynamic argument of the print: its TF value and jaxpr shape/dtype."""

  def __init__(self, value: Any, shape: tuple, dtype: Any):
    self.value, self.shape, self.dtype = value, tuple(shape), np.dtype(dtype)


def _static_shape(shape: tuple) -> list[Any]:
  return [d if isinstance(d, int) else None for d in shape]


def _field_parts(field: str) -> tuple[str, list[tuple[bool, Any]]]:
  """'x[0].shape' -> ('x', [(False, 0), (True, 'shape')]) like str.format."""
  head, rest, i = "", [], 0
  while i < len(field) and field[i] not in ".[":
    head += field[i]
    i += 1
  while i < len(field):
    if field[i] == ".":
      j = i + 1
      while j < len(field) and field[j] not in ".[":
        j += 1
      rest.append((True, field[i + 1:j]))
      i = j
    else:
      j = field.index("]", i)
      key = field[i + 1:j]
      rest.append((False, int(key) if key.isdigit() else key))
      i = j + 1
  return head, rest


_STATIC_ATTRS = ("shape", "dtype", "ndim", "size")


def _resolve(ctx: RuleContext, obj: Any, parts: list[tuple[bool, Any]]) -> Any:
  for is_attr, key in parts:
    if not isinstance(obj, _Dyn):
      obj = getattr(obj, key) if is_attr else obj[key]
    elif is_attr and key in _STATIC_ATTRS:
      obj = {"shape": obj.shape, "dtype": obj.dtype, "ndim": len(obj.shape),
             "size": int(np.prod(obj.shape)) if all(
                 isinstance(d, int) for d in obj.shape) else None}[key]
      if obj is None:
        raise ctx.unsupported("printing .size of an array of symbolic shape")
    elif not is_attr and isinstance(key, int) and obj.shape:
      obj = _Dyn(obj.value[key], obj.shape[1:], obj.dtype)
    else:
      raise ctx.unsupported(
          f"jax.debug.print field access {'.' if is_attr else ''}"
          f"{key if is_attr else [key]} on an array (only integer indexing "
          f"and {', '.join(_STATIC_ATTRS)} are converted)")
  return obj


_SPEC_TYPES = "eEfFgGd%"


def _formatted(ctx: RuleContext, x: tf.Tensor, dtype: np.dtype,
               spec: str) -> tf.Tensor:
  """format(scalar, spec) for the common numeric specs (C printf forms)."""
  m = re.fullmatch(r"(?:(.)?([<>^]))?([+\- ])?(\d+)?(?:\.(\d+))?([a-zA-Z%]?)",
                   spec)
  if m is None or (m.group(6) and m.group(6) not in _SPEC_TYPES):
    raise ctx.unsupported(f"jax.debug.print format spec {spec!r} (converted: "
                          "[[fill]align][sign][width][.precision][eEfFgGd%])")
  fill, align, sign, width, prec, typ = m.groups()
  if x.dtype.is_complex or x.dtype == tf.bool:
    raise ctx.unsupported(f"format spec {spec!r} on a {dtype} value")
  if typ == "d":
    if not x.dtype.is_integer:
      raise ctx.unsupported(f"format spec 'd' on a {dtype} value")
    s = tf.strings.as_string(x)
  elif not typ and prec is None:
    # A non-empty spec formats the Python scalar: a float32 is written as
    # the double it converts to (format(np.float32(0.1), ">4") has 17 digits).
    s = pf.scalar_str(tf.cast(x, tf.float64) if x.dtype.is_floating else x,
                      pf.DEFAULT_OPTIONS)
  else:
    v = tf.cast(x, tf.float64)
    if typ == "%":
      v = v * 100
    p = int(prec) if prec is not None else 6
    s = tf.strings.as_string(v, precision=p, scientific=bool(typ) and typ in "eE",
                             shortest=not typ or typ in "gG")
    if typ and typ in "EFG":
      s = tf.strings.upper(s)
    if typ == "%":
      s = tf.strings.join([s, "%"])
  if sign in ("+", " "):
    neg = tf.strings.regex_full_match(s, "-.*")
    s = tf.where(neg, s, tf.strings.join([sign, s]))
  if width and width.startswith("0") and not align:
    # Zero padding goes between the sign and the digits ("-0042").
    w = int(width)
    body = tf.strings.regex_replace(s, "^[-+ ]", "")
    head = tf.strings.substr(s, 0, tf.strings.length(s) - tf.strings.length(body))
    zeros = pf.fill(s, "0" * w, w - tf.strings.length(s))
    s = tf.strings.join([head, zeros, body])
  elif width:
    w = int(width)
    pad = tf.maximum(w - tf.strings.length(s), 0)
    fill_s = (fill or " ") * w
    left = pf.fill(s, fill_s, pad if align not in ("<", "^") else
                    (pad // 2 if align == "^" else 0))
    right = pf.fill(s, fill_s, pad - tf.strings.length(left))
    s = tf.strings.join([left, s, right])
  return s


def _piece(ctx: RuleContext, obj: Any, conversion: str | None, spec: str,
           options: dict[str, Any]) -> Any:
  """One replacement field's text: a Python str, or a TF string scalar."""
  if not isinstance(obj, _Dyn):
    if any(isinstance(v, _Dyn) for v in tree_util.tree_leaves(
        obj, is_leaf=lambda v: isinstance(v, _Dyn))):
      raise ctx.unsupported(
          "jax.debug.print of a container of arrays (its text is made of the "
          "arrays' repr); print the arrays as separate fields")
    conv = {None: lambda v: v, "s": str, "r": repr, "a": ascii}[conversion]
    return format(conv(obj), spec)
  if conversion in ("r", "a"):
    raise ctx.unsupported("jax.debug.print of an array with '!r' (the repr "
                          "of a JAX array); use '{}' (its str)")
  if spec:
    if obj.shape:
      raise ctx.unsupported(
          f"format spec {spec!r} on an array of shape {obj.shape} (JAX's "
          "arrays take format specs only when they are scalars)")
    return _formatted(ctx, obj.value, obj.dtype, spec)
  try:
    return pf.value_str(obj.value, _static_shape(obj.shape), options)
  except NotImplementedError as e:
    raise ctx.unsupported(f"jax.debug.print: {e}") from None


def _message(ctx: RuleContext, dyn: list[_Dyn], fmt: str, in_tree: Any,
             static_args: Any, has_placeholders: bool,
             options: dict[str, Any]) -> tf.Tensor:
  static = dict(static_args)
  leaves, it = [], iter(dyn)
  for i in range(len(static) + len(dyn)):
    leaves.append(static[i] if i in static else next(it))
  args, kwargs = tree_util.tree_unflatten(in_tree, leaves)
  pieces: list[Any] = []
  if not has_placeholders:
    pieces.append(fmt)
    for a in args:
      pieces += [" ", _piece(ctx, a, None, "", options)]
  else:
    auto = 0
    for literal, field, spec, conversion in string.Formatter().parse(fmt):
      pieces.append(literal)
      if field is None:
        continue
      if spec and "{" in spec:
        raise ctx.unsupported("jax.debug.print with nested replacement "
                              f"fields in a format spec ({spec!r})")
      head, parts = _field_parts(field)
      if head == "":
        obj, auto = args[auto], auto + 1
      elif head.isdigit():
        obj = args[int(head)]
      else:
        obj = kwargs[head]
      pieces.append(_piece(ctx, _resolve(ctx, obj, parts), conversion,
                           spec or "", options))
  pieces = [p for p in pieces if not (isinstance(p, str) and not p)]
  if not pieces:
    return tf.constant("")
  return tf.strings.join(pieces)


@register(ji.debug_print_p)
def _debug_print(ctx: RuleContext, *args: Any, fmt: str, ordered: bool,
                 partitioned: bool, in_tree: Any, static_args: Any,
                 np_printoptions: Any, has_placeholders: bool,
                 logging_record: Any) -> list[Any]:
  del ordered, partitioned  # TF keeps all prints in program order.
  if _skip_under_xla(ctx, "jax.debug.print"):
    return []
  options = dict(pf.DEFAULT_OPTIONS)
  options.update(dict(np_printoptions))
  bad = pf.unsupported_options(options)
  if bad:
    raise ctx.unsupported(
        f"jax.debug.print under numpy print options {', '.join(bad)} "
        "(only precision, threshold, edgeitems, linewidth, nanstr and infstr "
        "are reproduced)")
  dyn = [_Dyn(v, a.shape, a.dtype) for v, a in zip(args, ctx.avals_in)]
  msg = _message(ctx, dyn, fmt, in_tree, static_args, has_placeholders,
                 options)
  # jax.debug.log sends the text to Python logging; the closest thing a
  # graph can do is TF's own INFO log.
  stream = (sys.stdout if logging_record is None
            else tf.compat.v1.logging.info)
  tf.print(msg, output_stream=stream)
  return []


# --- Python callbacks ------------------------------------------------------
def _call_python(ctx: RuleContext, run: Any, args: list[Any],
                 stateful: bool) -> list[Any]:
  """tf.numpy_function of `run`, outputs shaped from ctx.avals_out."""
  avals = ctx.avals_out
  # The expected sizes of symbolic dimensions travel as an extra input so
  # the callback's results can be checked exactly, as JAX checks them.
  dims = [d for a in avals for d in ctx.shape(a)]
  dims_t = (tf.stack([tf.constant(d, tf.int32) if isinstance(d, int) else
                      tf.cast(d, tf.int32) for d in dims])
            if dims else tf.zeros([0], tf.int32))
  tout = [ctx.tf_dtype(a) for a in avals]

  def host(*np_args: Any) -> list[np.ndarray]:
    *np_args, expected_dims = np_args
    outs = run(*np_args)
    if len(outs) != len(avals):
      raise RuntimeError(
          "Mismatched number of outputs from callback. "
          f"Expected: {len(avals)}, Actual: {len(outs)}")
    checked, k = [], 0
    for i, (o, a) in enumerate(zip(outs, avals)):
      o = np.asarray(o)
      canon = jax.dtypes.canonicalize_dtype(o.dtype)
      if canon != o.dtype:
        o = o.astype(canon)
      want = tuple(int(d) for d in expected_dims[k:k + len(a.shape)])
      k += len(a.shape)
      if o.shape != want:
        raise RuntimeError(f"Incorrect output shape for return value #{i}: "
                           f"Expected: {want}, Actual: {o.shape}")
      if o.dtype != np.dtype(a.dtype):
        raise RuntimeError(f"Incorrect output dtype for return value #{i}: "
                           f"Expected: {a.dtype}, Actual: {o.dtype}")
      checked.append(o)
    return checked

  outs = tf.numpy_function(host, list(args) + [dims_t], tout,
                           stateful=stateful)
  if not avals:
    return []
  # Eagerly, a one-element Tout gives back a bare tensor.
  outs = [outs] if isinstance(outs, tf.Tensor) else list(outs)
  for o, a in zip(outs, avals):
    o.set_shape(_static_shape(a.shape))
  return outs


@register(ji.debug_callback_p)
def _debug_callback(ctx: RuleContext, *args: Any, callback: Any, effect: Any,
                    partitioned: bool) -> list[Any]:
  _check_python_allowed(ctx, "jax.debug.callback")
  if _skip_under_xla(ctx, "jax.debug.callback"):
    return []

  def run(*np_args: Any) -> list[Any]:
    ji.debug_callback_impl(*np_args, callback=callback, effect=effect,
                           partitioned=partitioned)
    return []

  return _call_python(ctx, run, list(args), stateful=True)


def _check_host_callback(ctx: RuleContext, what: str) -> None:
  """A callback that returns values needs Python at run time: refused with
  allow_python_callbacks=False, and under jit_compile (XLA cannot call it)."""
  _check_python_allowed(ctx, what)
  if compiling_with_xla():
    raise ctx.unsupported(
        f"{what} under tf.function(jit_compile=True): XLA cannot call "
        "Python; call the converted function without jit_compile")


@register(ji.pure_callback_p)
def _pure_callback(ctx: RuleContext, *args: Any, callback: Any,
                   result_avals: Any, sharding: Any,
                   vmap_method: Any) -> list[Any]:
  # vmap_method was applied by JAX's batching rule when the jaxpr was
  # traced; on one device the callback is simply called.
  _check_host_callback(ctx, "jax.pure_callback")

  def run(*np_args: Any) -> list[Any]:
    return list(ji.pure_callback_impl(
        *np_args, result_avals=result_avals, callback=callback, sharding=None,
        vmap_method=vmap_method))

  return _call_python(ctx, run, list(args), stateful=False)


@register(ji.io_callback_p)
def _io_callback(ctx: RuleContext, *args: Any, callback: Any,
                 result_avals: Any, sharding: Any, ordered: bool) -> list[Any]:
  _check_host_callback(ctx, "jax.experimental.io_callback")

  def run(*np_args: Any) -> list[Any]:
    return list(ji.io_callback_impl(
        *np_args, result_avals=result_avals, callback=callback, sharding=None,
        ordered=ordered))

  return _call_python(ctx, run, list(args), stateful=True)


# --- call_tf ---------------------------------------------------------------
@register(ji.call_tf_primitive())
def _call_tf(ctx: RuleContext, *args: Any, callable_flat_tf: Any,
             **_: Any) -> list[Any]:
  # The TF function, called on our TF values: it becomes part of this graph
  # (or runs eagerly), and TF differentiates it like any other TF code.
  outs = callable_flat_tf(*args)
  results = []
  for o, a in zip(outs, ctx.avals_out):
    o = tf.convert_to_tensor(o)
    want = ctx.tf_dtype(a)
    # JAX's avals are canonical (x64 off: 32-bit); so must our values be.
    results.append(o if o.dtype == want else tf.cast(o, want))
  return results
