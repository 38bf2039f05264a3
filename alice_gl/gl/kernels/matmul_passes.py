"""The two pass families of the dequant-matmul: fragment draws and compute dispatches.

Both expose ``accumulate`` (one K segment into a tile's scratch accumulator) and ``epilogue``
(the tile's dequantized output); ``DequantMatMul`` drives them tile by tile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import moderngl

from alice_gl.gl.kernels.binding import bind_textures, draw_fragment_pass, set_uniforms
from alice_gl.gl.kernels.tiles import KSegment, OutputTile

if TYPE_CHECKING:
    from alice_gl.gl.context import GLContext

# Compute workgroups are COMPUTE_LOCAL_SIZE x COMPUTE_LOCAL_SIZE invocations; 64 invocations fit
# every GL 4.3 implementation's minimum limit of 1024.
COMPUTE_LOCAL_SIZE = 8


class FragmentPasses:
    """Fragment passes: segment ``i`` renders into ``slot[i % 2]`` and reads the other one."""

    def __init__(self, ctx: GLContext, defines: dict[str, int],
                 uniforms: dict[str, float]) -> None:
        self._ctx = ctx
        self._defines = defines
        self._uniforms = uniforms

    def accumulate(self, slot: list[moderngl.Texture], number: int, tile: OutputTile,
                   segment: KSegment, x_q: moderngl.Texture, w_q_t: moderngl.Texture,
                   params: moderngl.Texture) -> None:
        """Add segment ``number`` of ``tile`` to the accumulator in ``slot``."""
        draw_fragment_pass(
            self._ctx, self._ctx.programs.fragment("dequant_matmul_block.frag"),
            [slot[number % 2]], (0, 0, tile.cols, tile.rows),
            {"u_x_q": x_q, "u_w": w_q_t, "u_params": params, "u_acc_in": slot[(number + 1) % 2]},
            {"u_has_acc": int(number > 0), "u_x_row0": tile.m0, "u_w_row0": tile.n0,
             "u_t0": segment.t0, "u_t1": segment.t1})

    def epilogue(self, slot: list[moderngl.Texture], segment_count: int, tile: OutputTile,
                 params: moderngl.Texture, w_scale: moderngl.Texture, bias: moderngl.Texture,
                 y: moderngl.Texture, accumulator: moderngl.Texture | None) -> None:
        """Write ``tile`` of ``y`` (and of ``accumulator`` when given) from the final sum."""
        defines = {**self._defines, "WRITE_ACCUMULATOR": int(accumulator is not None)}
        draw_fragment_pass(
            self._ctx, self._ctx.programs.fragment("dequant_matmul_epilogue.frag", defines),
            [y] if accumulator is None else [y, accumulator],
            (tile.n0, tile.m0, tile.cols, tile.rows),
            {"u_acc": slot[(segment_count - 1) % 2], "u_params": params, "u_w_scale": w_scale,
             "u_bias": bias},
            {**self._uniforms, "u_tile0": (tile.n0, tile.m0)})


class ComputePasses:
    """Compute passes: every segment adds into ``slot[0]`` in place through image load/store."""

    def __init__(self, ctx: GLContext, defines: dict[str, int],
                 uniforms: dict[str, float]) -> None:
        self._ctx = ctx
        self._defines = {**defines, "LOCAL_SIZE": COMPUTE_LOCAL_SIZE}
        self._uniforms = uniforms

    def accumulate(self, slot: list[moderngl.Texture], number: int, tile: OutputTile,
                   segment: KSegment, x_q: moderngl.Texture, w_q_t: moderngl.Texture,
                   params: moderngl.Texture) -> None:
        """Add segment ``number`` of ``tile`` to the accumulator image ``slot[0]``."""
        shader = self._ctx.programs.compute("dequant_matmul_block.comp",
                                            {"LOCAL_SIZE": COMPUTE_LOCAL_SIZE})
        bind_textures(shader, {"u_x_q": x_q, "u_w": w_q_t, "u_params": params})
        slot[0].bind_to_image(0, read=True, write=True)
        set_uniforms(shader, {"u_has_acc": int(number > 0), "u_tile_size": (tile.cols, tile.rows),
                              "u_x_row0": tile.m0, "u_w_row0": tile.n0,
                              "u_t0": segment.t0, "u_t1": segment.t1})
        self._dispatch(shader, tile)

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
        self._dispatch(shader, tile)

    def _dispatch(self, shader: moderngl.ComputeShader, tile: OutputTile) -> None:
        shader.run(-(-tile.cols // COMPUTE_LOCAL_SIZE), -(-tile.rows // COMPUTE_LOCAL_SIZE))
        # Image writes become visible to later image loads, texel fetches and readbacks only
        # after a barrier.
        self._ctx.gl.memory_barrier()
