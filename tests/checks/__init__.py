"""Per-family harness knowledge: TOLERANCES, CHECKS, LIMITATIONS (see harness_support)."""
