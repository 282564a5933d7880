"""Harness knowledge for the structural family (reshape, slicing, pad, iota, ...).

These primitives only move or copy values, so every harness must match JAX
exactly: no tolerances, no custom checks, and no known limitations.
"""
TOLERANCES: dict = {}
CHECKS: dict = {}
LIMITATIONS: list = []
