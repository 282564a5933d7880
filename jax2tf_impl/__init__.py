"""jax2tf_impl: convert JAX functions into plain TensorFlow graphs."""
from jax2tf_impl import saved_model
from jax2tf_impl.api import ConvertedFunction, convert
from jax2tf_impl.checkify_support import checkify_error
from jax2tf_impl.errors import InputSpecError, UnsupportedPrimitiveError
from jax2tf_impl.export import export_onnx, export_tflite, export_tfjs
from jax2tf_impl.module import Method, Module, ServingConfig, to_variables



def __getattr__(name: str):
  # Keras is imported only when the layer is asked for.
  if name == "JaxLayer":
    from jax2tf_impl.keras_layer import JaxLayer  # pylint: disable=g-import-not-at-top
    return JaxLayer
  raise AttributeError(f"module 'jax2tf_impl' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = ["convert", "ConvertedFunction", "saved_model", "export_tflite",
           "export_onnx", "export_tfjs", "checkify_error", "InputSpecError",
           "UnsupportedPrimitiveError", "Module", "Method", "ServingConfig",
           "to_variables",
           "__version__"]
