"""Smaller, faster samplers to serve: ONNX export and int8 quantisation (``export/onnx_sampler.py``)."""

from .onnx_sampler import INT8_NAME, KIND, OnnxPipeline, export_onnx, is_export, read_export

__all__ = ["INT8_NAME", "KIND", "OnnxPipeline", "export_onnx", "is_export", "read_export"]
