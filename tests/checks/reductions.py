"""Harness knowledge for reductions and cumulative reductions."""

TOLERANCES = {
    # JAX's CPU lowering is an associative scan that rounds to bfloat16 after
    # every partial sum; we sum in float32 and round once, so the two differ
    # by a few bfloat16 ulps on values that grow with the prefix length.
    "cumsum": {"bfloat16": 5e-2},
}
