"""Per-family harness knowledge: TOLERANCES, CHECKS, LIMITATIONS (see tests/support/harness.py)."""
