"""Harness knowledge for the special family (rules/special.py).

The rules use TF's kernels (Eigen/Cephes), which approximate the same
functions as JAX's decompositions; edge values are patched to JAX's.
Measured agreement on the interior: <= 3e-6 relative in float32, <= 3e-14
in float64 (tests/test_rules_special.py), within the default tolerances,
except as listed here.
"""

TOLERANCES = {
    # JAX's float64 erf_inv is itself off by up to ~1.4e-12 (relative) near
    # |x| = 1; ours follows the exact value (checked against scipy).
    "erf_inv": {"float64": 5e-12},
}

# Known gap (no harness covers it): for extreme betainc parameters (a or b
# around 1e30 in float32/float64) TF's kernel and JAX's continued fraction
# both lose accuracy and disagree (e.g. TF returns values > 1, JAX NaN).
LIMITATIONS = []
