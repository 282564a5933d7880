"""Helpers shared by the tests (the one place for them).

  tf_testing.py   execution modes, running converted functions, graph op
                  types, nested comparisons, known-failure marks, 32-bit mode
  harness.py      running and comparing JAX's primitive harnesses
  model_zoo.py    the pure-JAX model suite used by model/deployment tests
"""
