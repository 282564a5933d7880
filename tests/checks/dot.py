"""Harness knowledge for dot_general.

No TOLERANCES/CHECKS/LIMITATIONS: all 400 harnesses match JAX at the default
per-dtype tolerances (f16/bf16 are accumulated in f32 and rounded once, as
XLA's CPU backend does; integers wrap exactly via int32/int64 matmuls).
"""
TOLERANCES: dict = {}
LIMITATIONS: list = []
