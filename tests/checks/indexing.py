"""Harness knowledge for gather and scatter (rules/indexing.py, scatter.py).

Gather and scatter/scatter_min/scatter_max are exact. scatter_add and
scatter_mul combine duplicate updates in a possibly different order than
XLA (scatter_mul multiplies the updates first, then the operand), so float
results may differ by rounding; the default tolerances cover that.
"""
LIMITATIONS = []  # none: every gather/scatter harness passes in every mode
