"""ONNX export of trained generators."""
