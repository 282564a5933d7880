"""Harness knowledge for the bitwise family (rules/bitwise.py).

All bitwise rules are exact: no tolerances, checks or limitations.
reduce_precision is also checked bit-for-bit against JAX (every float16 and
bfloat16 bit pattern, random float32/float64 bits) in
tests/test_rules_bitwise.py.
"""
