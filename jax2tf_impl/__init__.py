"""jax2tf_impl: convert JAX functions into plain TensorFlow graphs."""
from jax2tf_impl.api import convert
from jax2tf_impl.errors import InputSpecError, UnsupportedPrimitiveError

__version__ = "0.1.0"

__all__ = ["convert", "InputSpecError", "UnsupportedPrimitiveError",
           "__version__"]
