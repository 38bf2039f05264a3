"""The GL runtime's INT8 passes as executor kernels: DynamicQuantizeLinear and dequant-matmul.

Both wrap ``alice_gl.gl`` kernels; the executor only plans their textures and feeds them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alice_gl.gl import (
    DequantMatMul,
    DynamicQuantizeLinear,
    GLContext,
    GLTensor,
    QuantizedActivation,
    QuantizedWeights,
    TextureLayout,
    TilingConfig,
)
from alice_gl.gl_executor.kernels.activation import Activation
from alice_gl.gl_executor.kernels.base import GLKernel


class QuantizeKernel(GLKernel):
    """ONNX DynamicQuantizeLinear of a flat-layout float tensor (the runtime's three passes).

    ``matrix_shape`` is the (rows, width) of the input texture. The outputs are the uint8
    ``x_q`` texture (same matrix, four values per texel) and the 1x1 params texture.
    """

    def __init__(self, ctx: GLContext, name: str, matrix_shape: tuple[int, int]) -> None:
        super().__init__(ctx, name)
        self.kernel = DynamicQuantizeLinear(ctx, matrix_shape, name=f"{name}.quantize")
        self.scratch_sets.append(self.kernel.scratch)

    def output_layouts(self) -> tuple[TextureLayout, TextureLayout]:
        """Layouts of ``x_q`` and of the params texture."""
        layouts = self.kernel.output_layouts()
        return layouts["x_q"], layouts["params"]

    @property
    def pass_count(self) -> int:
        # Min/max reduction: one pass per scratch level and per final target (the piece
        # texel and the 1x1 result) on a single-texture input, then the params pass and the
        # quantization pass.
        return len(self.kernel.scratch.layouts) + 2

    def run(self, inputs: Sequence[object], outputs: Sequence[object]) -> None:
        self.kernel.run(inputs[0], outputs[0])


class Int8MatMulKernel(GLKernel):
    """The quantizer's MatMulInteger chain as the runtime's tiled dequant-matmul.

    ``w_q`` is int8 (K, N) with zero point 0, ``w_scale`` has 1 or N values, ``bias`` N values
    or None. With ``capture_accumulator`` the int32 accumulators go to a second output.
    """

    def __init__(self, ctx: GLContext, name: str, m: int, w_q: np.ndarray,
                 w_scale: np.ndarray, bias: np.ndarray | None, activation: Activation,
                 backend: str, tiling: TilingConfig, capture_accumulator: bool = False) -> None:
        super().__init__(ctx, name)
        k, n = w_q.shape
        low, high = activation.clip_bounds
        self.kernel = DequantMatMul(ctx, m, k, n, tiling, activation=activation.op_type,
                                    clip_min=low, clip_max=high, backend=backend,
                                    has_bias=bias is not None, name=name)
        self.scratch_sets.append(self.kernel.scratch)
        self.add_constant("w_q_t", np.ascontiguousarray(w_q.T),
                          layout=ctx.layout((n, k), np.int8, channels=4))
        scale = np.broadcast_to(np.asarray(w_scale, dtype=np.float32).reshape(-1), (n,))
        self.add_constant("w_scale", np.ascontiguousarray(scale), kind="scales",
                          layout=ctx.layout((n,), np.float32))
        if bias is not None:
            self.add_constant("bias", np.asarray(bias, dtype=np.float32).reshape(n),
                              kind="scales", layout=ctx.layout((n,), np.float32))
        self.capture_accumulator = capture_accumulator

    @property
    def pass_count(self) -> int:
        return self.kernel.pass_count

    def run(self, inputs: Sequence[object], outputs: Sequence[object]) -> None:
        x: QuantizedActivation = inputs[0]
        weights = QuantizedWeights(self.textures["w_q_t"], self.textures["w_scale"],
                                   self.textures.get("bias"))
        out: GLTensor = outputs[0]
        accumulator = outputs[1] if self.capture_accumulator else None
        self.kernel.run(x, weights, out=out, accumulator_out=accumulator)
