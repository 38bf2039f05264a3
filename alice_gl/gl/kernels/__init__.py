"""GPU passes of the runtime: dynamic activation quantization and the dequant-matmul."""

from alice_gl.gl.kernels.dequant_matmul import ACTIVATIONS, DequantMatMul
from alice_gl.gl.kernels.dynamic_quantize import DynamicQuantizeLinear, QuantizedActivation
from alice_gl.gl.kernels.weights import QuantizedWeights

__all__ = ["ACTIVATIONS", "DequantMatMul", "DynamicQuantizeLinear", "QuantizedActivation",
           "QuantizedWeights"]
