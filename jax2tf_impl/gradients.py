"""TF gradients of converted functions: JAX's VJP, converted too.

The forward computation is wrapped in `tf.custom_gradient` (while a graph
is built, tf_internals.custom_gradient_in_graph: the same wiring without
its quadratic search for TF1 variables). Its gradient
function traces `jax.vjp` of the original function (once per input
signature, cached) and interprets that jaxpr with the same rules, so the
gradient graph is made of the same portable TF ops as the forward graph,
and JAX's custom_jvp/custom_vjp rules are the ones that are used.

TF conventions at the boundary:
  * integer and bool inputs get zeros of their own dtype (JAX would give
    float0 zeros, which TF has no dtype for). Not `None`: readers of the
    graph's gradient functions (tf2jax) need a tensor for every input, and
    upstream jax2tf returned zeros too;
  * a `None` output cotangent from TF (output not used) is taken as zeros;
  * integer/bool outputs take no cotangent (the function differentiated
    drops them, so no float0 zeros are built, not even of symbolic shape);
  * a gradient that cannot be converted raises when it is asked for
    (tape.gradient, eagerly or in a tf.function trace); only while
    tf.saved_model.save traces it is it saved as a gradient that raises
    when run.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

import jax
import tensorflow as tf

from jax2tf_impl import dtypes as dt
from jax2tf_impl import interpreter
from jax2tf_impl import prng_keys
from jax2tf_impl import state_discharge
from jax2tf_impl import tf_internals
from jax2tf_impl.rules.context import ConversionState
from jax2tf_impl.tracing import Traced

# Builds the rules' state (dimension values, constants) for flat inputs.
StateFn = Callable[[Traced, Sequence[tf.Tensor]], ConversionState]


def vjp_jaxpr(traced: Traced) -> Any:
  """The VJP of the flat JAX function, traced once per `Traced`."""
  return traced.vjp.get(lambda: _trace_vjp(traced))


def _trace_vjp(traced: Traced) -> Any:
  """The jaxpr of (differentiable primals, float output cotangents) ->
  cotangents of the differentiable inputs.

  Integer/bool inputs and outputs do not take part: the function
  differentiated closes over the integer inputs and drops the integer
  outputs, so no float0 zeros are ever built (JAX cannot build float0
  arrays of a symbolic shape, e.g. the indices of a batch-polymorphic
  argsort or top_k).
  """
  in_avals, out_avals = traced.in_avals, traced.out_avals
  n_in = len(in_avals)
  diff_out = [dt.is_differentiable(a.dtype) for a in out_avals]
  diff_idx = [i for i, d in enumerate(differentiable_inputs(traced)) if d]

  def vjp_fun(*primals_and_cts: Any) -> list[Any]:
    primals = list(primals_and_cts[:n_in])
    cts = list(primals_and_cts[n_in:])

    def float_fun(*diff_primals: Any) -> list[Any]:
      full = list(primals)
      for i, v in zip(diff_idx, diff_primals):
        full[i] = v
      outs = traced.flat_fun(*full)
      return [o for o, d in zip(outs, diff_out) if d]

    _, pullback = jax.vjp(float_fun, *[primals[i] for i in diff_idx])
    return list(pullback(cts))

  sds = [jax.ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type)
         for a in in_avals]
  sds += [jax.ShapeDtypeStruct(a.shape, a.dtype)
          for a, d in zip(out_avals, diff_out) if d]
  closed = prng_keys.physicalize(
      state_discharge.discharge(jax.make_jaxpr(vjp_fun)(*sds)))
  interpreter.check_supported(closed)
  return closed


def differentiable_inputs(traced: Traced) -> list[bool]:
  """Per flat input: whether it gets a cotangent (float/complex, and not a
  Python scalar, which is a TF constant no gradient reaches)."""
  consts = traced.constant_inputs or (False,) * len(traced.in_avals)
  return [dt.is_differentiable(a.dtype) and not c
          for a, c in zip(traced.in_avals, consts)]


def call_with_jax_gradient(traced: Traced, tensors: list[tf.Tensor],
                           state_fn: StateFn) -> list[Any]:
  """Runs the forward conversion with the converted JAX VJP as gradient.

  `state_fn(traced, xs)` gives the rules' state for inputs `xs`; the
  gradient solves the dimension environment again from the same inputs.
  """
  diff_in = differentiable_inputs(traced)
  # tf2jax (0.3.8) miscounts the outputs of a custom gradient with fewer
  # inputs than outputs (it slices the input gradients' specs by the output
  # count) and fails; scalar zero inputs, with zero gradients, keep the
  # counts apart. They change nothing else.
  n_pad = max(0, len(traced.closed_jaxpr.out_avals) - len(tensors))
  pads = [tf.zeros([], tf.float32) for _ in range(n_pad)]
  n_in = len(tensors)

  def forward(*xs_and_pads: tf.Tensor):
    xs = xs_and_pads[:n_in]
    outs = interpreter.interpret(traced.closed_jaxpr, list(xs),
                                 state_fn(traced, xs))

    def grad(*cts: Any, variables: Any = None):
      grads = list(_input_gradients(cts)) + [tf.zeros([], tf.float32)
                                             for _ in range(n_pad)]
      if variables:
        # Variables read inside (the converter's constants) are not
        # trainable parameters of the JAX function: no gradient for them.
        return grads, [None] * len(variables)
      return grads

    def _input_gradients(cts: Sequence[Any]) -> list[Any]:
      try:
        return _converted_vjp(traced, xs, outs, cts, state_fn)
      except Exception as e:  # pylint: disable=broad-except
        if isinstance(e, ValueError) and _CALL_TF_DYNAMIC in str(e):
          return _tf_autodiff(traced, xs, diff_in, cts, state_fn)
        if not tf_internals.in_saved_model_save():
          # Someone asked for this gradient (tape.gradient, eagerly or
          # while tracing a tf.function): fail now, with the conversion
          # error, rather than with an Assert when the gradient runs.
          raise
        # tf.saved_model.save traces the gradient functions of every model,
        # also of models meant for inference only: a gradient that cannot
        # be converted must not break saving the forward function. The
        # saved gradient fails loudly if it is ever run instead.
        logging.warning(
            "jax2tf_impl: the gradient of a converted function cannot be "
            "converted (%s: %s); the SavedModel's gradient raises this "
            "error if it is run", type(e).__name__, str(e).splitlines()[0] if str(e) else "")
        return _failing_gradients(xs, e)

    return list(outs), grad

  if tf.executing_eagerly():
    return tf.custom_gradient(forward)(*tensors, *pads)
  return tf_internals.custom_gradient_in_graph(forward, [*tensors, *pads])


def _converted_vjp(traced: Traced, xs: Sequence[tf.Tensor],
                   outs: Sequence[Any], cts: Sequence[Any],
                   state_fn: StateFn) -> list[Any]:
  """The input cotangents: JAX's VJP jaxpr interpreted on TF values."""
  vjp_closed = vjp_jaxpr(traced)
  used_cts = []
  for ct, out, aval in zip(cts, outs, traced.out_avals):
    if not dt.is_differentiable(aval.dtype):
      continue
    if ct is None:
      ct = tf.zeros_like(out)
    used_cts.append(tf.cast(ct, dt.to_tf_dtype(aval.dtype)))
  state = state_fn(traced, xs)
  in_cts = interpreter.interpret(vjp_closed, list(xs) + used_cts, state)
  it = iter(in_cts)
  return [next(it) if d else tf.zeros_like(x)
          for d, x in zip(differentiable_inputs(traced), xs)]


# JAX's error when call_tf's VJP (itself a call_tf, without declared output
# shapes) is traced at symbolic shapes.
_CALL_TF_DYNAMIC = "call_tf cannot call functions whose output has dynamic shape"


def _tf_autodiff(traced: Traced, xs: Sequence[tf.Tensor], diff_in: list[bool],
                 cts: Sequence[Any], state_fn: StateFn) -> list[Any]:
  """TF's own gradient of the converted forward graph.

  Used only when JAX cannot trace the VJP because a `call_tf` inside the
  function has polymorphic shapes (JAX's call_tf VJP needs static output
  shapes): TF then differentiates our direct call of the TF function, and
  the TF ops our rules emitted around it. docs/callbacks.md.
  """
  sources = [x for x, d in zip(xs, diff_in) if d]
  with tf.GradientTape(watch_accessed_variables=False) as tape:
    tape.watch(sources)
    outs = interpreter.interpret(traced.closed_jaxpr, list(xs),
                                 state_fn(traced, xs))
  targets, out_cts = [], []
  for out, ct, aval in zip(outs, cts, traced.out_avals):
    if dt.is_differentiable(aval.dtype):
      targets.append(out)
      out_cts.append(tf.zeros_like(out) if ct is None else ct)
  grads = iter(tape.gradient(targets, sources, output_gradients=out_cts,
                             unconnected_gradients=tf.UnconnectedGradients.ZERO))
  return [next(grads) if d else tf.zeros_like(x)
          for d, x in zip(diff_in, xs)]


def _failing_gradients(xs: Sequence[tf.Tensor], error: Exception) -> list[Any]:
  """Gradients that raise InvalidArgumentError with `error`'s text when run."""
  message = (f"jax2tf_impl: the gradient of this converted function could not "
             f"be converted: {type(error).__name__}: {error}")
  check = tf.debugging.Assert(tf.constant(False), [message])
  with tf.control_dependencies([check]):
    return [tf.zeros_like(x) for x in xs]


def prevent_gradient(value: Any) -> Any:
  """Marks an output of a with_gradient=False conversion as not differentiable."""
  if not isinstance(value, tf.Tensor) or not value.dtype.is_floating and \
      not value.dtype.is_complex:
    return value
  return tf.raw_ops.PreventGradient(
      input=value,
      message="jax2tf_impl: this function was converted with "
              "with_gradient=False; convert it with with_gradient=True to "
              "differentiate it")
