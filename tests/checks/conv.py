"""Harness knowledge for conv_general_dilated (and fft, which needs none).

No TOLERANCES/CHECKS/LIMITATIONS: all 132 conv and 32 fft harnesses match
JAX at the default per-dtype tolerances. Complex convs use the same Gauss
3-conv expansion as JAX's CPU lowering, so complex64 -> complex128
(preferred_element_type) rounds as JAX does.
"""
TOLERANCES: dict = {}
LIMITATIONS: list = []
