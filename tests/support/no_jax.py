"""Running a script in a fresh Python in which `import jax` fails: how the
tests prove a SavedModel (and its gradients) needs no JAX."""
import os
import subprocess
import sys

_NO_JAX_PRELUDE = r"""
import builtins, sys
_real_import = builtins.__import__
def _no_jax(name, *args, **kwargs):
  if name == "jax" or name.startswith("jax.") or name.startswith("jaxlib"):
    raise ImportError("JAX is deliberately unavailable in this process")
  return _real_import(name, *args, **kwargs)
builtins.__import__ = _no_jax
import numpy as np, tensorflow as tf
"""


def run_without_jax(script, *argv):
  """Runs `script` in a fresh Python in which `import jax` fails."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  proc = subprocess.run([sys.executable, "-c", _NO_JAX_PRELUDE + script, *argv],
                        capture_output=True, text=True, env=env, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc.stdout
