"""Activations that a matmul or convolution pass applies in its epilogue (ACTIVATION define)."""

from __future__ import annotations

from dataclasses import dataclass

FLOAT_MAX = 3.4028234e38

# ONNX op type -> ACTIVATION define value of op_gemm and op_conv2d shaders.
EPILOGUE_ACTIVATIONS = {"Relu": 1, "Clip": 2, "Sigmoid": 3, "LeakyRelu": 4}


@dataclass(frozen=True)
class Activation:
    """A fused activation: ONNX ``op_type`` (None for none) and its two float params.

    ``params`` is (min, max) for Clip and (alpha, 0) for LeakyRelu.
    """

    op_type: str | None = None
    params: tuple[float, float] = (0.0, 0.0)

    @property
    def define(self) -> int:
        """The ACTIVATION define value."""
        return 0 if self.op_type is None else EPILOGUE_ACTIVATIONS[self.op_type]

    @property
    def clip_bounds(self) -> tuple[float, float]:
        """Clip's (min, max), each finite-capped to the float32 range."""
        low, high = self.params
        return (max(low, -FLOAT_MAX), min(high, FLOAT_MAX))
