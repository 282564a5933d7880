"""The one door to TensorFlow's private modules (`tensorflow.python...`,
`tf.__internal__`, tf2xla's Python wrappers).

Every other module uses TF's public API. What the converter needs beyond it
is named here, so a TF upgrade touches this file alone;
`tests/test_layering.py` enforces it.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence

import tensorflow as tf
from tensorflow.compiler.tf2xla.python import xla as _tfxla
from tensorflow.core.framework import attr_value_pb2 as _attr_value_pb2
from tensorflow.python.client import pywrap_tf_session as _pywrap_tf_session
from tensorflow.python.eager import execute as _execute
from tensorflow.python.eager import record as _record
from tensorflow.python.framework import convert_to_constants as _convert_to_constants
from tensorflow.python.framework import op_def_registry as _op_def_registry
from tensorflow.python.framework import ops as _tf_ops
from tensorflow.python.ops import control_flow_util as _control_flow_util

# tf2xla's op wrappers (XlaSvd, ...): only for the rules on rules.XLA_OP_USES.
xla_ops = _tfxla

AutoTrackable = tf.__internal__.tracking.AutoTrackable


def graph_compiles_with_xla() -> bool:
  """Whether the graph being built will be compiled by XLA
  (inside tf.function(jit_compile=True), or a function it calls)."""
  return _control_flow_util.GraphOrParentsInXlaContext(
      _tf_ops.get_default_graph())


def has_concrete_functions(obj: Any) -> bool:
  """Whether `obj` is a tf.function (polymorphic function) with traces."""
  return hasattr(obj, "_list_all_concrete_functions_for_serialization")


def concrete_functions_of(obj: Any) -> list[Any]:
  """The concrete functions tf.saved_model.save would serialize for `obj`."""
  try:
    return list(obj._list_all_concrete_functions_for_serialization())  # pylint: disable=protected-access
  except Exception:  # pylint: disable=broad-except
    return []


def is_trackable(obj: Any) -> bool:
  """tf.Module or another AutoTrackable (what tf.saved_model.save walks)."""
  return isinstance(obj, (tf.Module, AutoTrackable))


def frozen_graph_def(concrete_function: Any) -> Any:
  """The GraphDef of `concrete_function` with variables inlined as constants
  and control flow lowered, as the tensorflowjs converter freezes it."""
  frozen = _convert_to_constants.convert_variables_to_constants_v2(
      concrete_function, lower_control_flow=True, aggressive_inlining=True)
  return frozen.graph.as_graph_def()


# --- h_polyconv ----------------------------------------------------------------
from tensorflow.python.saved_model import save_context as _save_context  # noqa: E402


def in_saved_model_save() -> bool:
  """Whether tf.saved_model.save is tracing functions right now (it traces
  the gradient functions of custom gradients too, for models that may only
  ever be used for inference)."""
  return _save_context.in_save_context()


# --- graph_op: one TF op without TF's Python op-construction layers ----------
#
# Building a graph op through `tf.math.*` costs ~350 us on a CI-class core
# (dispatch wrappers, `_apply_op_helper` formatting its error messages
# before it knows there is an error, NodeDef protos built in Python); the
# C API underneath takes ~20 us. Conversion builds one or more ops per
# equation, so that Python layer was most of the conversion time (issue 12).
# `graph_op` creates the op with the C API calls TF's own path ends in, and
# registers it with the Python graph the way TF's graph import does; where
# that path's bookkeeping would matter (eager execution, a GradientTape
# recording the ops, inputs captured from an outer graph, v1 control-flow
# contexts, control dependencies) it
# calls `tf.raw_ops` instead, so results never depend on which path ran.

_OP_SIGNATURES: dict[str, tuple[tuple[str, ...], tuple[str | None, ...]] | None] = {}
_ATTR_BYTES: dict[tuple[str, Any], bytes] = {}


def _signature(op_type: str) -> tuple[tuple[str, ...], tuple[str | None, ...]] | None:
  """(input names, each input's type attribute or None) of a single-output
  op whose inputs are single tensors; None for other ops."""
  if op_type not in _OP_SIGNATURES:
    op_def = _op_def_registry.get(op_type)
    simple = (op_def is not None and len(op_def.output_arg) == 1
              and not any(a.number_attr or a.type_list_attr
                          for a in list(op_def.input_arg) + list(op_def.output_arg)))
    _OP_SIGNATURES[op_type] = ((
        tuple(a.name for a in op_def.input_arg),
        tuple(a.type_attr or None for a in op_def.input_arg)) if simple else None)
  return _OP_SIGNATURES[op_type]


def _attr_bytes(value: Any) -> bytes:
  """The serialized AttrValue of a DType, bool, int, float, str or a list
  of ints (the attribute kinds graph_op's callers pass)."""
  key = (type(value).__name__, tuple(value) if isinstance(value, list) else value)
  found = _ATTR_BYTES.get(key)
  if found is None:
    if isinstance(value, tf.DType):
      proto = _attr_value_pb2.AttrValue(type=value.as_datatype_enum)
    elif isinstance(value, bool):
      proto = _attr_value_pb2.AttrValue(b=value)
    elif isinstance(value, int):
      proto = _attr_value_pb2.AttrValue(i=value)
    elif isinstance(value, float):
      proto = _attr_value_pb2.AttrValue(f=value)
    elif isinstance(value, (str, bytes)):
      proto = _attr_value_pb2.AttrValue(
          s=value.encode() if isinstance(value, str) else value)
    elif isinstance(value, (list, tuple)):
      proto = _attr_value_pb2.AttrValue(
          list=_attr_value_pb2.AttrValue.ListValue(i=[int(v) for v in value]))
    else:
      raise TypeError(f"graph_op: unsupported attribute value {value!r}")
    found = _ATTR_BYTES[key] = proto.SerializeToString()
  return found


def _raw_op(op_type: str, inputs: Sequence[Any], attrs: dict[str, Any]) -> Any:
  """`tf.raw_ops.<op_type>` on `inputs` and `attrs` named as in the OpDef.
  The raw op's Python parameters may be renamed (Sum's reduction_indices
  is `axis`, Squeeze's squeeze_dims too); they come in the generated
  order: inputs, then the attributes TF does not infer, those without a
  default first, each group in OpDef order."""
  params = _RAW_PARAMS.get(op_type)
  if params is None:
    op_def = _op_def_registry.get(op_type)
    python_names = [p for p in inspect.signature(
        getattr(tf.raw_ops, op_type)).parameters if p != "name"]
    inferred = {a.type_attr for a in op_def.input_arg} | {
        a.number_attr for a in op_def.input_arg}
    free = [a for a in op_def.attr if a.name not in inferred]
    free = ([a.name for a in free if not a.HasField("default_value")]
            + [a.name for a in free if a.HasField("default_value")])
    n_in = len(op_def.input_arg)
    params = _RAW_PARAMS[op_type] = (
        python_names[:n_in], dict(zip(free, python_names[n_in:])))
  input_names, attr_names = params
  return getattr(tf.raw_ops, op_type)(
      **dict(zip(input_names, inputs)),
      **{attr_names[k]: v for k, v in attrs.items()})


_RAW_PARAMS: dict[str, tuple[list[str], dict[str, str]]] = {}


def op_is_stateful(op_type: str) -> bool:
  """Whether TF's registered OpDef of `op_type` is stateful."""
  op_def = _op_def_registry.get(op_type)
  return bool(op_def is not None and op_def.is_stateful)


def graph_op(op_type: str, *inputs: Any, **attrs: Any) -> Any:
  """The single output of a new `op_type` op on `inputs` (tf.Tensors, in
  the op's input order), with `attrs` besides the type attributes TF infers
  from the inputs. Same op, same result as `tf.raw_ops.<op_type>`."""
  signature = _signature(op_type)
  if signature is None:
    raise ValueError(f"graph_op: {op_type} is not a single-output op of "
                     "single-tensor inputs")
  names, type_attrs = signature
  graph = _tf_ops.get_default_graph()
  if (tf.executing_eagerly() or _execute.must_record_gradient()
      or graph._control_dependencies_stack  # pylint: disable=protected-access
      or graph._get_control_flow_context() is not None  # pylint: disable=protected-access
      or not all(isinstance(t, tf.Tensor) and t.graph is graph for t in inputs)):
    return _raw_op(op_type, inputs, attrs)
  for t, type_attr in zip(inputs, type_attrs):
    if type_attr is not None and type_attr not in attrs:
      attrs[type_attr] = t.dtype
  name = graph.unique_name(op_type)
  with graph._c_graph.get() as c_graph:  # pylint: disable=protected-access
    desc = _pywrap_tf_session.TF_NewOperation(c_graph, op_type, name)
  for t in inputs:
    _pywrap_tf_session.TF_AddInput(desc, t._as_tf_output())  # pylint: disable=protected-access
  for key, value in attrs.items():
    _pywrap_tf_session.TF_SetAttrValueProto(desc, key, _attr_bytes(value))
  try:
    c_op = _pywrap_tf_session.TF_FinishOperation(desc)
  except tf.errors.InvalidArgumentError as e:
    raise ValueError(f"{op_type}: {e.message}") from None
  with graph._mutation_lock():  # pylint: disable=protected-access
    op = graph._create_op_from_tf_operation(c_op)  # pylint: disable=protected-access
  return op.outputs[0]


# --- custom_gradient_in_graph --------------------------------------------------

def custom_gradient_in_graph(forward: Callable[..., Any],
                             args: Sequence[tf.Tensor]) -> list[tf.Tensor]:
  """`tf.custom_gradient(forward)(*args)` while a graph is being built:
  the same wiring (an IdentityN whose registered gradient is `forward`'s
  gradient function, recorded on the tape, variables read inside passed
  to it as `variables=`), without tf.custom_gradient's search of the
  forward subgraph for TF1 variable ops. That search walks every op of the
  forward graph with a list merge that is quadratic in its size (TF 2.21
  op_selector.concatenate_unique: 1.5 s of a 10,000-equation conversion);
  a converted function creates no TF1 variables, and the TF2 variables it
  reads are the ones the tape's watcher sees.

  `forward(*args)` returns (list of output tensors, grad_fn)."""
  graph = _tf_ops.get_default_graph()
  args = [tf.convert_to_tensor(a) for a in args]
  with _record.VariableWatcher() as watcher:
    outs, grad_fn = forward(*args)
  outs = list(outs)
  variables = sorted({v.ref(): v for v in watcher.watched_variables()}.values(),
                     key=lambda v: v.name)
  n_out = len(outs)

  def tape_grad_fn(*result_grads: Any) -> list[Any]:
    if variables:
      input_grads, variable_grads = grad_fn(*result_grads[:n_out],
                                            variables=variables)
    else:
      input_grads, variable_grads = grad_fn(*result_grads[:n_out]), []
    return [None] * n_out + list(input_grads) + list(variable_grads)

  name = f"CustomGradient-{_tf_ops.uid()}"

  @_tf_ops.RegisterGradient(name)
  def _gradient(unused_op: Any, *result_grads: Any) -> list[Any]:
    return tape_grad_fn(*result_grads)

  originals = outs + args + [tf.convert_to_tensor(v) for v in variables]
  with graph.gradient_override_map({"IdentityN": name}):
    identities = tf.identity_n(originals)
  _record.record_operation(getattr(forward, "__name__", "forward"),
                           identities, originals, tape_grad_fn)
  return identities[:n_out]
