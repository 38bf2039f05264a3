"""GL runtime of alice_gl: headless context, tensor textures, memory planning and GPU passes.

Typical use (see docs/gl_runtime.md)::

    with GLContext(profile="webgl2") as ctx:
        weights = QuantizedWeights.upload(ctx, w_q, w_scale, bias)
        quantize = DynamicQuantizeLinear(ctx, x.shape)
        matmul = DequantMatMul(ctx, m, k, n, TilingConfig(), activation="Relu")
        y = matmul.run(quantize.run(ctx.upload(x)), weights)
        result = ctx.read(y)
"""

from alice_gl.gl.capabilities import Capabilities
from alice_gl.gl.context import PROFILES, WEBGL2_MAX_TEXTURE_SIZE, GLContext
from alice_gl.gl.kernels import (
    ACTIVATIONS,
    DequantMatMul,
    DynamicQuantizeLinear,
    QuantizedActivation,
    QuantizedWeights,
)
from alice_gl.gl.layout import Piece, TextureLayout
from alice_gl.gl.planner import BYTES_PER_MB, DEFAULT_MAX_MEMORY_MB, MemoryPlan, PlannedTexture
from alice_gl.gl.programs import FragmentProgram, ProgramCache
from alice_gl.gl.textures import KINDS, GLTensor, TexturePool
from alice_gl.gl.tiling import TilingConfig

__all__ = [
    "ACTIVATIONS", "BYTES_PER_MB", "DEFAULT_MAX_MEMORY_MB", "KINDS", "PROFILES",
    "WEBGL2_MAX_TEXTURE_SIZE", "Capabilities", "DequantMatMul", "DynamicQuantizeLinear",
    "FragmentProgram", "GLContext", "GLTensor", "MemoryPlan", "Piece", "PlannedTexture",
    "ProgramCache", "QuantizedActivation", "QuantizedWeights", "TextureLayout", "TexturePool",
    "TilingConfig",
]
