"""Exports to deployment formats, one module per target.

  signatures.py        input signatures and flat serving functions (shared)
  tflite.py            export_tflite (LiteRT, builtin ops)
  onnx.py              export_onnx (tf2onnx) + tf2onnx_rewrites.py
  tfjs.py              export_tfjs, the TF.js op/dtype check, a Node runner

Every target converts with enable_xla=False, so the graph holds no Xla* op.
"""
from jax2tf_impl.export.onnx import export_onnx
from jax2tf_impl.export.tflite import export_tflite
from jax2tf_impl.export.tfjs import export_tfjs

__all__ = ["export_onnx", "export_tflite", "export_tfjs"]
