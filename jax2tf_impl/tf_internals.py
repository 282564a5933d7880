"""The one door to TensorFlow's private modules (`tensorflow.python...`,
`tf.__internal__`, tf2xla's Python wrappers).

Every other module uses TF's public API. What the converter needs beyond it
is named here, so a TF upgrade touches this file alone;
`tests/test_layering.py` enforces it.
"""
from __future__ import annotations

from typing import Any

import tensorflow as tf
from tensorflow.compiler.tf2xla.python import xla as _tfxla
from tensorflow.python.framework import convert_to_constants as _convert_to_constants
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
