"""Writes docs/primitives.md from the primitive census.

    PYTHONPATH=$PWD python docs/generate_primitives.py

Imports every JAX module (a few seconds), lists every primitive object and
classifies it with jax2tf_impl/rules/census.py and the rules registry.
`tests/test_primitive_census.py` fails when the committed file is stale.
"""
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
warnings.simplefilter("ignore")

from jax2tf_impl.rules import census  # pylint: disable=g-import-not-at-top


def main() -> None:
  text = census.markdown(census.take_census())
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "primitives.md")
  with open(path, "w") as f:
    f.write(text)
  print(f"wrote {path}")


if __name__ == "__main__":
  main()
