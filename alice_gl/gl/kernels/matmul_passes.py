"""The two pass families of the dequant-matmul: fragment draws and compute dispatches.

Both are register-blocked: one fragment or compute invocation sums a block of outputs, so each
fetched x_q texel and w_q texel feeds several multiply-adds. Both expose ``scratch_layouts``
(the textures of one scratch slot), ``accumulate`` (one K segment into a tile's scratch
accumulator) and ``epilogue`` (the tile's dequantized output). ``DequantMatMul`` drives them
tile by tile.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import moderngl
import numpy as np

from alice_gl.gl.kernels.binding import bind_textures, draw_fragment_pass, set_uniforms
from alice_gl.gl.kernels.tiles import KSegment, OutputTile
from alice_gl.gl.layout import TextureLayout

if TYPE_CHECKING:
    from alice_gl.gl.context import GLContext

# Compute workgroups are COMPUTE_LOCAL_SIZE x COMPUTE_LOCAL_SIZE invocations; 64 invocations fit
# every GL 4.3 implementation's minimum limit of 1024.
COMPUTE_LOCAL_SIZE = 8
# A compute invocation sums a block of up to COMPUTE_MAX_BLOCK_ROWS rows x COMPUTE_BLOCK_COLS
# columns. Of the blocks from 4 x 4 to 32 x 4 measured on Mesa llvmpipe at 1024^3, 16 x 8 was
# the fastest. The shader supports powers of two up to 16 rows.
COMPUTE_MAX_BLOCK_ROWS = 16
COMPUTE_BLOCK_COLS = 8
# A fragment sums up to FRAGMENT_MAX_BLOCK_ROWS rows (one render target each) x
# FRAGMENT_BLOCK_COLS columns (the channels of one RGBA32I texel). WebGL2 guarantees 4 draw
# buffers; where the driver offers 8, 8 rows cut the texel fetches per multiply-add by a third.
FRAGMENT_MAX_BLOCK_ROWS = 8
FRAGMENT_BLOCK_COLS = 4


def _power_of_two_at_most(limit: int) -> int:
    """Return the largest power of two that is at most ``limit`` (1 for ``limit`` < 2)."""
    return 1 << (max(1, limit).bit_length() - 1)


class FragmentPasses:
    """Fragment passes with blocks of ``block_rows`` x 4 outputs per fragment.

    A scratch slot contains two sets of ``block_rows`` RGBA32I textures: segment ``i`` renders into
    set ``i % 2`` and reads the other one. ``block_rows`` is the largest power of two that
    passes neither the tile height, ``FRAGMENT_MAX_BLOCK_ROWS`` nor the driver's draw buffers.
    """

    def __init__(self, ctx: GLContext, defines: dict[str, int], uniforms: dict[str, float],
                 tile_rows: int) -> None:
        self._ctx = ctx
        self.block_cols = FRAGMENT_BLOCK_COLS
        # NOTE: 8 RGBA32I targets are 128 bytes per pixel. A tile-based GPU that caps color bytes
        # per pixel below that while reporting 8 draw buffers would reject the framebuffer.
        draw_buffers = min(ctx.gl.info["GL_MAX_DRAW_BUFFERS"],
                           ctx.gl.info["GL_MAX_COLOR_ATTACHMENTS"])
        self.block_rows = _power_of_two_at_most(min(FRAGMENT_MAX_BLOCK_ROWS, draw_buffers,
                                                    tile_rows))
        self._defines = {**defines, "BLOCK_ROWS": self.block_rows}
        self._uniforms = uniforms

    def scratch_layouts(self, ctx: GLContext, width: int, height: int) -> list[TextureLayout]:
        """Layouts of one slot's textures for tiles of up to ``width`` x ``height`` outputs."""
        layout = ctx.layout((math.ceil(height / self.block_rows),
                             width),
                            np.int32, channels=FRAGMENT_BLOCK_COLS)
        return [layout] * (2 * self.block_rows)

    def accumulate(self, slot: list[moderngl.Texture], number: int, tile: OutputTile,
                   segment: KSegment, x_q: moderngl.Texture, w_q_t: moderngl.Texture,
                   params: moderngl.Texture) -> None:
        """Add segment ``number`` of ``tile`` to the accumulators in ``slot``."""
        textures = {"u_x_q": x_q, "u_w": w_q_t, "u_params": params,
                    "u_acc_in": self._set(slot, number + 1)}
        draw_fragment_pass(
            self._ctx,
            self._ctx.programs.fragment("dequant_matmul_block.frag",
                                        {"BLOCK_ROWS": self.block_rows}),
            self._set(slot, number),
            (0, 0, -(-tile.cols // FRAGMENT_BLOCK_COLS), -(-tile.rows // self.block_rows)),
            textures,
            {"u_has_acc": int(number > 0), "u_tile_size": (tile.cols, tile.rows),
             "u_x_row0": tile.m0, "u_w_row0": tile.n0, "u_t0": segment.t0, "u_t1": segment.t1})

    def epilogue(self, slot: list[moderngl.Texture], segment_count: int, tile: OutputTile,
                 params: moderngl.Texture, w_scale: moderngl.Texture, bias: moderngl.Texture,
                 y: moderngl.Texture, accumulator: moderngl.Texture | None) -> None:
        """Write ``tile`` of ``y`` (and of ``accumulator`` when given) from the final sum."""
        defines = {**self._defines, "WRITE_ACCUMULATOR": int(accumulator is not None)}
        textures = {"u_acc": self._set(slot, segment_count - 1), "u_params": params,
                    "u_w_scale": w_scale, "u_bias": bias}
        draw_fragment_pass(
            self._ctx, self._ctx.programs.fragment("dequant_matmul_epilogue.frag", defines),
            [y] if accumulator is None else [y, accumulator],
            (tile.n0, tile.m0, tile.cols, tile.rows), textures,
            {**self._uniforms, "u_tile0": (tile.n0, tile.m0)})

    def _set(self, slot: list[moderngl.Texture], number: int) -> list[moderngl.Texture]:
        """Return the accumulator set that segment ``number`` renders into."""
        start = (number % 2) * self.block_rows
        return slot[start:start + self.block_rows]


class ComputePasses:
    """Compute passes with blocks of ``block_rows`` x 8 outputs per invocation.

    Every segment adds into the slot's one R32I image in place through image load/store.
    ``block_rows`` is the largest power of two up to ``COMPUTE_MAX_BLOCK_ROWS`` that does not
    pass the tile height.
    """

    def __init__(self, ctx: GLContext, defines: dict[str, int], uniforms: dict[str, float],
                 tile_rows: int) -> None:
        self._ctx = ctx
        self.block_rows = _power_of_two_at_most(min(COMPUTE_MAX_BLOCK_ROWS, tile_rows))
        self.block_cols = COMPUTE_BLOCK_COLS
        self._defines = {**defines, "LOCAL_SIZE": COMPUTE_LOCAL_SIZE}
        self._uniforms = uniforms

    def scratch_layouts(self, ctx: GLContext, width: int, height: int) -> list[TextureLayout]:
        """Layouts of one slot's textures for tiles of up to ``width`` x ``height`` outputs."""
        return [ctx.layout((height, width), np.int32)]

    def accumulate(self, slot: list[moderngl.Texture], number: int, tile: OutputTile,
                   segment: KSegment, x_q: moderngl.Texture, w_q_t: moderngl.Texture,
                   params: moderngl.Texture) -> None:
        """Add segment ``number`` of ``tile`` to the accumulator image ``slot[0]``."""
        shader = self._ctx.programs.compute("dequant_matmul_block.comp",
                                            {"LOCAL_SIZE": COMPUTE_LOCAL_SIZE,
                                             "BLOCK_ROWS": self.block_rows})
        bind_textures(shader, {"u_params": params})
        slot[0].bind_to_image(0, read=True, write=True)
        x_q.bind_to_image(1, read=True, write=False)
        w_q_t.bind_to_image(2, read=True, write=False)
        set_uniforms(shader, {"u_has_acc": int(number > 0), "u_tile_size": (tile.cols, tile.rows),
                              "u_x_row0": tile.m0, "u_w_row0": tile.n0,
                              "u_t0": segment.t0, "u_t1": segment.t1})
        self._dispatch(shader, -(-tile.cols // COMPUTE_BLOCK_COLS),
                       -(-tile.rows // self.block_rows))

    def epilogue(self, slot: list[moderngl.Texture], segment_count: int, tile: OutputTile,
                 params: moderngl.Texture, w_scale: moderngl.Texture, bias: moderngl.Texture,
                 y: moderngl.Texture, accumulator: moderngl.Texture | None) -> None:
        """Write ``tile`` of ``y`` (and of ``accumulator`` when given) from the final sum."""
        defines = {**self._defines, "WRITE_ACCUMULATOR": int(accumulator is not None)}
        shader = self._ctx.programs.compute("dequant_matmul_epilogue.comp", defines)
        bind_textures(shader, {"u_params": params, "u_w_scale": w_scale, "u_bias": bias})
        slot[0].bind_to_image(0, read=True, write=False)
        y.bind_to_image(1, read=False, write=True)
        if accumulator is not None:
            accumulator.bind_to_image(2, read=False, write=True)
        set_uniforms(shader, {**self._uniforms, "u_tile0": (tile.n0, tile.m0),
                              "u_tile_size": (tile.cols, tile.rows)})
        self._dispatch(shader, tile.cols, tile.rows)

    def _dispatch(self, shader: moderngl.ComputeShader, width: int, height: int) -> None:
        """Run ``shader`` over ``width`` x ``height`` invocations, then a memory barrier."""
        shader.run(-(-width // COMPUTE_LOCAL_SIZE), -(-height // COMPUTE_LOCAL_SIZE))
        # Image writes become visible to later image loads, texel fetches and readbacks only
        # after a barrier.
        self._ctx.gl.memory_barrier()
