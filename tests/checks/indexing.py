"""Harness knowledge for gather and scatter (rules/indexing.py, scatter.py).

Gather and scatter/scatter_min/scatter_max are exact. scatter_add and
scatter_mul combine duplicate updates in a possibly different order than
XLA (scatter_mul multiplies the updates first, then the operand), so float
results may differ by rounding; the default tolerances cover that.
"""
from harness_support import Limitation

LIMITATIONS = [
    # Not a rule limitation: the harness runner reads results with
    # np.asarray(tf_tensor), which raises "object __array__ method not
    # producing an array" for 0-d bfloat16 tensors (TF 2.21 + numpy 2.4);
    # `tensor.numpy()` works. This harness gathers one bfloat16 scalar;
    # tests/test_rules_indexing.py::test_gather_bf16_scalar covers it.
    Limitation(group="gather",
               reason="test runner cannot read 0-d bfloat16 TF tensors with "
               "np.asarray (TF 2.21 + numpy 2.4); covered by "
               "test_rules_indexing.py",
               name_regex=r"^gather_dtypes_shape_bfloat16_10_axis_0_"),
]
