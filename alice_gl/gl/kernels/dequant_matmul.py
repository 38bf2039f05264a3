"""Tiled INT8 dequant-matmul: ``y = activation((x_q - x_zp) @ w_q * x_scale * w_scale + bias)``.

Each output tile is accumulated over K in int32 by one pass per K segment (see ``tiles``),
then one epilogue pass dequantizes it into the float output. Every invocation of a segment
pass sums a block of outputs (``matmul_passes``), which cuts texel fetches per multiply-add.
A fragment pass cannot read the texture it renders into, so fragment passes ping-pong between
two sets of RGBA32I scratch textures per tile, one texture per block row. Compute passes add
into one r32i image in place. Tiles take the scratch slots in turn, one slot per
tile up to ``max_concurrent_blocks``, so scratch memory does not grow with M or N.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from alice_gl.errors import ConfigError, InvalidInputError
from alice_gl.gl.kernels.dynamic_quantize import QuantizedActivation
from alice_gl.gl.kernels.matmul_passes import ComputePasses, FragmentPasses
from alice_gl.gl.kernels.scratch import ScratchSet
from alice_gl.gl.kernels.tiles import k_segments, output_tiles, scratch_tile_size
from alice_gl.gl.kernels.weights import QuantizedWeights
from alice_gl.gl.layout import TextureLayout
from alice_gl.gl.textures import GLTensor
from alice_gl.gl.tiling import TilingConfig

if TYPE_CHECKING:
    from alice_gl.gl.context import GLContext

logger = logging.getLogger(__name__)

# Fused epilogue activations (ONNX operator names) and their ACTIVATION define value.
ACTIVATIONS = {None: 0, "Relu": 1, "Clip": 2, "Sigmoid": 3}
BACKENDS = ("fragment", "compute")


class DequantMatMul:
    """The dequant-matmul of an (M, K) activation and a (K, N) int8 weight, as GL passes.

    ``backend`` is ``fragment`` (GLSL ES 3.00, any profile) or ``compute`` (GLSL 4.30, the
    ``gl43`` profile). ``activation`` is one of ``ACTIVATIONS``; ``clip_min``/``clip_max``
    bound ``Clip``. Scratch accumulators come from ``scratch.use(...)`` (a memory plan) or are
    allocated on the first ``run``; ``release()`` frees self-allocated ones.
    """

    def __init__(self, ctx: GLContext, m: int, k: int, n: int,
                 tiling: TilingConfig | None = None, activation: str | None = None,
                 clip_min: float = -np.inf, clip_max: float = np.inf,
                 backend: str = "fragment", has_bias: bool = True,
                 name: str = "matmul") -> None:
        if activation not in ACTIVATIONS:
            raise ConfigError(f"Unsupported activation {activation!r}; use one of "
                              f"{list(ACTIVATIONS)}.")
        if backend not in BACKENDS:
            raise ConfigError(f"Unknown backend {backend!r}; use one of {BACKENDS}.")
        if backend == "compute":
            ctx.require_compute()
        self._ctx = ctx
        self.m, self.k, self.n = int(m), int(k), int(n)
        self.tiling = tiling or TilingConfig()
        self.name = name
        self.x_q_layout = ctx.layout((self.m, self.k), np.uint8, channels=4)
        self.output_layout = ctx.layout((self.m, self.n), np.float32)
        self.accumulator_layout = ctx.layout((self.m, self.n), np.int32)
        self.tiles = output_tiles(self.output_layout, self.tiling.block_size)
        self.segments = k_segments(self.x_q_layout, self.tiling.block_size)
        defines = {"ACTIVATION": ACTIVATIONS[activation], "HAS_BIAS": int(has_bias)}
        # Finite bounds, because GLSL ES 3.00 does not require uniforms to carry infinities.
        uniforms = {"u_clip_min": float(max(clip_min, -3.4e38)),
                    "u_clip_max": float(min(clip_max, 3.4e38))}
        width, height = scratch_tile_size(self.output_layout, self.tiling.block_size)
        passes_class = FragmentPasses if backend == "fragment" else ComputePasses
        self._passes = passes_class(ctx, defines, uniforms, height)
        self.backend = backend
        self.has_bias = has_bias
        slot_layouts = self._passes.scratch_layouts(ctx, width, height)
        # A slot beyond the number of tiles would never be used, so it is not planned.
        slot_count = min(self.tiling.max_concurrent_blocks, len(self.tiles))
        self.slot_names = [[f"{name}.acc{slot}.{i}" for i in range(len(slot_layouts))]
                           for slot in range(slot_count)]
        self.scratch = ScratchSet(ctx, {scratch_name: layout for slot in self.slot_names
                                        for scratch_name, layout in zip(slot, slot_layouts,
                                                                        strict=True)})

    @property
    def pass_count(self) -> int:
        """Passes (draws or dispatches) one ``run`` issues."""
        return len(self.tiles) * (len(self.segments) + 1)

    @property
    def block_shape(self) -> tuple[int, int]:
        """Outputs (rows, columns) that one fragment or compute invocation sums."""
        return self._passes.block_rows, self._passes.block_cols

    @property
    def texel_fetches(self) -> int:
        """x_q and w_q texels that one ``run`` reads, summed over all segment passes.

        Each invocation reads ``rows + cols`` texels per texel column of a segment, so this
        divided by the run time is the fetch rate the passes sustain.
        """
        rows, cols = self.block_shape
        invocations = sum(-(-tile.rows // rows) * -(-tile.cols // cols) for tile in self.tiles)
        texel_columns = sum(segment.t1 - segment.t0 for segment in self.segments)
        return invocations * texel_columns * (rows + cols)

    def output_layouts(self) -> dict[str, TextureLayout]:
        """Layouts of ``y`` and of the optional int32 ``accumulator`` copy, for a plan."""
        return {"y": self.output_layout, "accumulator": self.accumulator_layout}

    def run(self, x: QuantizedActivation, weights: QuantizedWeights,
            out: GLTensor | None = None, accumulator_out: GLTensor | None = None) -> GLTensor:
        """Issue the passes and return ``y`` (``out`` when given, else a new intermediate).

        With ``accumulator_out`` (an (M, N) int32 tensor) the epilogue also stores the int32
        accumulators there. Raises ``InvalidInputError`` when a tensor's layout does not match.
        """
        self._check_inputs(x, weights)
        if out is None:
            out = self._ctx.textures.allocate(self.output_layout, "intermediates",
                                              f"{self.name}.y")
        _check_layout("out", out, self.output_layout)
        if accumulator_out is not None:
            _check_layout("accumulator_out", accumulator_out, self.accumulator_layout)

        x_col_pieces = self.x_q_layout.grid[1]
        out_col_pieces = self.output_layout.grid[1]
        # Without a bias the epilogue's unused bias sampler still gets a float texture.
        bias = weights.bias if weights.bias is not None else weights.w_scale
        for index, tile in enumerate(self.tiles):
            slot = [self.scratch.get(name).textures[0]
                    for name in self.slot_names[index % len(self.slot_names)]]
            row_piece, col_piece = tile.piece
            piece_index = row_piece * out_col_pieces + col_piece
            for number, segment in enumerate(self.segments):
                self._passes.accumulate(
                    slot, number, tile, segment,
                    x.x_q.textures[row_piece * x_col_pieces + segment.piece],
                    weights.w_q_t.textures[col_piece * x_col_pieces + segment.piece],
                    x.params.textures[0])
            self._passes.epilogue(
                slot, len(self.segments), tile, x.params.textures[0],
                weights.w_scale.textures[col_piece],
                bias.textures[col_piece],
                out.textures[piece_index],
                None if accumulator_out is None else accumulator_out.textures[piece_index])
        logger.debug("%s: %d tiles x %d K segments, %s passes", self.name, len(self.tiles),
                     len(self.segments), self.backend)
        return out

    def release(self) -> None:
        """Release the scratch accumulators this kernel allocated."""
        self.scratch.release()

    def _check_inputs(self, x: QuantizedActivation, weights: QuantizedWeights) -> None:
        _check_layout("x_q", x.x_q, self.x_q_layout)
        if (weights.k, weights.n) != (self.k, self.n):
            raise InvalidInputError(f"Weights of shape (K={weights.k}, N={weights.n}) do not "
                                    f"match this matmul's (K={self.k}, N={self.n}).")
        if (weights.bias is not None) != self.has_bias:
            raise InvalidInputError(f"This matmul was built with has_bias={self.has_bias}, "
                                    f"but the weights {'lack' if weights.bias is None else 'have'} "
                                    "a bias; build it with the matching has_bias.")


def _check_layout(label: str, tensor: GLTensor, expected: TextureLayout) -> None:
    if not tensor.layout.same_textures(expected):
        raise InvalidInputError(f"{label} {tensor.name!r} has layout {tensor.layout}; "
                                f"expected {expected}.")
