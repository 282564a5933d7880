"""Harness knowledge for the bitwise family (rules/bitwise.py).

All bitwise rules are exact (no tolerances). reduce_precision is checked
bit-for-bit against JAX in tests/test_rules_bitwise.py.
"""
from harness_support import Limitation

LIMITATIONS = [
    # Not a rule limitation: the harness runner reads results with
    # np.asarray(tf_tensor), which raises "object __array__ method not
    # producing an array" for 0-d bfloat16 tensors with numpy 2.4/TF 2.21.
    # (`tensor.numpy()` works.) These harnesses have scalar bfloat16 inputs;
    # tests/test_rules_bitwise.py::test_reduce_precision_bf16_scalar covers
    # the same computation.
    Limitation(group="reduce_precision",
               reason="test runner cannot read 0-d bfloat16 TF tensors with "
               "np.asarray (TF 2.21 + numpy 2.4); covered by "
               "test_rules_bitwise.py",
               name_regex=r"^reduce_precision_in_bfloat16_out_[a-z0-9]+_$"),
]
