"""The standard deployment path, as tutorials show it: the default convert()
graph (enable_xla=True) as a concrete function with a None batch, handed to
tf.lite.TFLiteConverter.from_concrete_functions (builtins only) or to
tf2onnx.convert.from_function, without any of jax2tf_impl.export's help.

Shared by tests/test_standard_path.py and benchmarks/deployment_table.py;
each runner takes a model of support.model_zoo and returns
`run(inputs) -> list of numpy outputs` in JAX's tree-flatten order.
"""
from __future__ import annotations

import os
import re
from typing import Any, Callable

import numpy as np
import tensorflow as tf

import jax2tf_impl


def default_function(model: Any) -> tuple[Any, list[tf.TensorSpec]]:
  """The default convert() graph with a None batch, and its input specs."""
  converted = jax2tf_impl.convert(model.fun(),
                                  polymorphic_shapes=list(model.batch_spec))
  specs = [tf.TensorSpec(spec_shape(spec, np.shape(x)),
                         tf.as_dtype(np.asarray(x).dtype))
           for x, spec in zip(model.make_batch(1), model.batch_spec)]
  return tf.function(converted, autograph=False, input_signature=specs), specs


def spec_shape(spec: str | None, shape: tuple[int, ...]) -> list[int | None]:
  """A TensorSpec shape for a polymorphic_shapes entry: None where it names
  a dimension variable, the example's size elsewhere."""
  if not spec:
    return list(shape)
  dims = [d.strip() for d in spec.strip("()").split(",") if d.strip()]
  if dims and dims[-1] == "...":
    dims = dims[:-1] + ["_"] * (len(shape) - len(dims) + 1)
  return [n if d == "_" or d.isdigit() else None for d, n in zip(dims, shape)]


def _output_order(name: str) -> tuple[int, str]:
  m = re.search(r"(\d+)$", name)
  return (int(m.group(1)) if m else -1, name)


def plain_tflite(model: Any) -> Callable[[list], list]:
  """TFLiteConverter (builtin ops only), run by LiteRT at the inputs' sizes."""
  fn, _ = default_function(model)
  converter = tf.lite.TFLiteConverter.from_concrete_functions(
      [fn.get_concrete_function()], fn)
  content = converter.convert()
  try:
    from ai_edge_litert.interpreter import Interpreter  # pylint: disable=g-import-not-at-top
  except ImportError:
    Interpreter = tf.lite.Interpreter  # noqa: N806

  def run(inputs: list) -> list:
    interp = Interpreter(model_content=content)
    for d, x in zip(interp.get_input_details(), inputs):
      interp.resize_tensor_input(d["index"], np.shape(x))
    interp.allocate_tensors()
    for d, x in zip(interp.get_input_details(), inputs):
      interp.set_tensor(d["index"], np.asarray(x))
    interp.invoke()
    outs = {d["name"]: interp.get_tensor(d["index"])
            for d in interp.get_output_details()}
    return [outs[k] for k in sorted(outs, key=_output_order)]
  return run


def plain_onnx(model: Any, opset: int | None = None) -> Callable[[list], list]:
  """tf2onnx.convert.from_function (its default opset unless given), run by
  onnxruntime."""
  import onnxruntime as ort  # pylint: disable=g-import-not-at-top
  import tf2onnx  # pylint: disable=g-import-not-at-top
  fn, specs = default_function(model)
  proto, _ = tf2onnx.convert.from_function(fn, input_signature=specs,
                                           opset=opset)
  session = ort.InferenceSession(proto.SerializeToString(),
                                 providers=["CPUExecutionProvider"])
  names = [i.name for i in session.get_inputs()]
  return lambda inputs: session.run(
      None, {n: np.asarray(x) for n, x in zip(names, inputs)})


# tensorflow_model_server starts with XLA's JIT off unless given
# --xla_cpu_compilation_enabled (its main.cc calls DisableXlaCompilation());
# a graph that needs XLA then fails at its first request.
_SERVE_WITHOUT_XLA = r"""
import ctypes, os
lib = ctypes.CDLL(os.path.join(tf.sysconfig.get_lib(), "libtensorflow_cc.so.2"))
lib._ZN10tensorflow21DisableXlaCompilationEv()
model_dir, io_dir, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
loaded = tf.saved_model.load(model_dir)
for i in range(count):
  with np.load(os.path.join(io_dir, f"in{i}.npz")) as data:
    inputs = [data[f"a{j}"] for j in range(len(data.files))]
  outs = tf.nest.flatten(loaded.f(*inputs))
  np.savez(os.path.join(io_dir, f"out{i}.npz"),
           **{f"a{j}": o.numpy() for j, o in enumerate(outs)})
"""


def serve_without_xla(model: Any, batches: list[list], work_dir: str) -> list[list]:
  """The default graph as a SavedModel, run as TF Serving runs it by
  default: in a process without JAX whose XLA compilation is disabled.
  Returns each batch's flat outputs."""
  from support.no_jax import run_without_jax  # pylint: disable=g-import-not-at-top
  module = tf.Module()
  module.f, _ = default_function(model)
  model_dir = os.path.join(work_dir, "saved_model")
  jax2tf_impl.saved_model.save(module, model_dir)
  for i, inputs in enumerate(batches):
    np.savez(os.path.join(work_dir, f"in{i}.npz"),
             **{f"a{j}": np.asarray(x) for j, x in enumerate(inputs)})
  run_without_jax(_SERVE_WITHOUT_XLA, model_dir, work_dir, str(len(batches)))
  outs = []
  for i in range(len(batches)):
    with np.load(os.path.join(work_dir, f"out{i}.npz")) as data:
      outs.append([data[f"a{j}"] for j in range(len(data.files))])
  return outs
