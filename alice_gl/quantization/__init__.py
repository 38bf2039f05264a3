"""FP32 to INT8 quantization of ONNX models.

``quantize_dynamic`` writes int8 weights and run-time uint8 activations; ``quantize_weight``
is the symmetric int8 weight quantizer it uses, shared with the static (calibrated) path.
"""

from alice_gl.quantization.channel_axis import SUPPORTED_OP_TYPES
from alice_gl.quantization.dynamic import quantize_dynamic
from alice_gl.quantization.report import NodeDecision, QuantizationReport, WeightRecord
from alice_gl.quantization.weights import dequantize_weight, quantize_weight

__all__ = [
    "SUPPORTED_OP_TYPES",
    "NodeDecision",
    "QuantizationReport",
    "WeightRecord",
    "dequantize_weight",
    "quantize_dynamic",
    "quantize_weight",
]
