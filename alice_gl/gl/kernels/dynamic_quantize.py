"""Dynamic activation quantization on the GPU with ONNX ``DynamicQuantizeLinear`` semantics.

It takes three kinds of fragment pass. ``minmax_reduce.frag`` reduces REDUCE_FACTOR x
REDUCE_FACTOR texels to one, repeated down to one texel per x piece and then across pieces.
``quantize_params.frag`` computes the scale and zero point. ``quantize_linear.frag`` writes
the uint8 values into RGBA8UI textures, four per texel along the last axis. Fragment passes
run under both profiles, so there is no compute variant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import moderngl
import numpy as np

from alice_gl.errors import InvalidInputError
from alice_gl.gl.kernels.binding import draw_fragment_pass
from alice_gl.gl.kernels.scratch import ScratchSet
from alice_gl.gl.layout import TextureLayout
from alice_gl.gl.textures import GLTensor

if TYPE_CHECKING:
    from alice_gl.gl.context import GLContext

REDUCE_FACTOR = 16


@dataclass(eq=False)
class QuantizedActivation:
    """A uint8 tensor ``x_q`` (RGBA8UI, four values per texel along the last axis) and its
    ``params`` texture, RGBA32F 1x1 holding (y_scale, y_zero_point, 0, 0)."""

    x_q: GLTensor
    params: GLTensor


def _reduced(size: tuple[int, int]) -> tuple[int, int]:
    return (-(-size[0] // REDUCE_FACTOR), -(-size[1] // REDUCE_FACTOR))


def _minmax_layout(ctx: GLContext, size: tuple[int, int]) -> TextureLayout:
    width, height = size
    return ctx.layout((height, 2 * width), np.float32, channels=2)


class DynamicQuantizeLinear:
    """Quantize float32 tensors of ``shape`` to uint8 with a per-tensor scale and zero point.

    ``y_scale = (max(0, max x) - min(0, min x)) / 255`` (1/255 when x is all zero),
    ``y_zero_point = roundEven(clamp(-min(0, min x) / y_scale, 0, 255))``,
    ``x_q = clamp(roundEven(x / y_scale) + y_zero_point, 0, 255)``.
    """

    def __init__(self, ctx: GLContext, shape: tuple[int, ...], name: str = "quantize") -> None:
        self._ctx = ctx
        self.name = name
        self.input_layout = ctx.layout(shape, np.float32)
        self.x_q_layout = ctx.layout(shape, np.uint8, channels=4)
        self.params_layout = ctx.layout((1, 4), np.float32, channels=4)
        self.scratch = ScratchSet(ctx, self._scratch_layouts())

    def _scratch_layouts(self) -> dict[str, TextureLayout]:
        layouts = {}
        for index, piece in enumerate(self.input_layout.pieces):
            for level, size in enumerate(self._chain(piece.size)):
                layouts[f"{self.name}.minmax{index}.{level}"] = _minmax_layout(self._ctx, size)
        # One texel per x piece: piece p at (p % max_size, p // max_size).
        piece_count = len(self.input_layout.pieces)
        max_size = self.input_layout.max_size
        if piece_count > max_size * max_size:
            raise InvalidInputError(f"A tensor of shape {self.input_layout.shape} needs "
                                    f"{piece_count} textures, more than the min/max reduction "
                                    f"handles ({max_size}**2); raise max_texture_size.")
        grid_size = (min(piece_count, max_size), -(-piece_count // max_size))
        layouts[f"{self.name}.minmax_pieces"] = _minmax_layout(self._ctx, grid_size)
        for level, size in enumerate(self._chain(grid_size)):
            layouts[f"{self.name}.minmax_pieces.{level}"] = _minmax_layout(self._ctx, size)
        layouts[f"{self.name}.minmax"] = _minmax_layout(self._ctx, (1, 1))
        return layouts

    @staticmethod
    def _chain(size: tuple[int, int]) -> list[tuple[int, int]]:
        """Sizes of the reduction levels between ``size`` and the final 1x1 texel."""
        sizes = []
        size = _reduced(size)
        while size != (1, 1):
            sizes.append(size)
            size = _reduced(size)
        return sizes

    def output_layouts(self) -> dict[str, TextureLayout]:
        """Layouts of the outputs, keyed ``x_q`` and ``params``, for a memory plan."""
        return {"x_q": self.x_q_layout, "params": self.params_layout}

    def run(self, x: GLTensor, out: QuantizedActivation | None = None) -> QuantizedActivation:
        """Quantize ``x``; writes into ``out`` when given, else into new intermediates."""
        _check_layout("Input", x, self.input_layout)
        if out is None:
            out = QuantizedActivation(
                self._ctx.textures.allocate(self.x_q_layout, "intermediates", f"{self.name}.x_q"),
                self._ctx.textures.allocate(self.params_layout, "intermediates",
                                            f"{self.name}.params"))
        _check_layout("Output x_q", out.x_q, self.x_q_layout)
        _check_layout("Output params", out.params, self.params_layout)
        self._reduce_min_max(x)
        self._compute_params(out.params)
        self._quantize(x, out)
        return out

    def release(self) -> None:
        """Release the scratch textures this kernel allocated."""
        self.scratch.release()

    def _reduce_min_max(self, x: GLTensor) -> None:
        pieces = self.scratch.get(f"{self.name}.minmax_pieces").textures[0]
        for index, (piece, texture) in enumerate(zip(x.layout.pieces, x.textures, strict=True)):
            self._reduce_chain(texture, piece.size, True, f"{self.name}.minmax{index}",
                               pieces,
                               (index % x.layout.max_size, index // x.layout.max_size))
        final = self.scratch.get(f"{self.name}.minmax").textures[0]
        self._reduce_chain(pieces, pieces.size, False, f"{self.name}.minmax_pieces", final,
                           (0, 0))

    def _reduce_chain(self, source: moderngl.Texture, size: tuple[int, int], first_level: bool,
                      prefix: str, target: moderngl.Texture,
                      target_origin: tuple[int, int]) -> None:
        """Reduce ``source`` level by level and write its (min, max) to ``target_origin``."""
        for level, level_size in enumerate(self._chain(size)):
            level_texture = self.scratch.get(f"{prefix}.{level}").textures[0]
            self._reduce_pass(source, size, first_level, level_texture, (0, 0), level_size)
            source, size, first_level = level_texture, level_size, False
        self._reduce_pass(source, size, first_level, target, target_origin, (1, 1))

    def _reduce_pass(self, source: moderngl.Texture, size: tuple[int, int], first_level: bool,
                     target: moderngl.Texture, origin: tuple[int, int],
                     out_size: tuple[int, int]) -> None:
        entry = self._ctx.programs.fragment(
            "minmax_reduce.frag",
            {"REDUCE_FACTOR": REDUCE_FACTOR, "FIRST_LEVEL": int(first_level)})
        draw_fragment_pass(self._ctx, entry, [target], (*origin, *out_size),
                           {"u_input": source}, {"u_input_size": size, "u_out_origin": origin})

    def _compute_params(self, params: GLTensor) -> None:
        draw_fragment_pass(self._ctx, self._ctx.programs.fragment("quantize_params.frag"),
                           params.textures, (0, 0, 1, 1),
                           {"u_minmax": self.scratch.get(f"{self.name}.minmax").textures[0]})

    def _quantize(self, x: GLTensor, out: QuantizedActivation) -> None:
        """Render each x_q piece in column ranges whose texels read at most two x pieces."""
        entry = self._ctx.programs.fragment("quantize_linear.frag")
        x_layout = x.layout
        max_size = x_layout.max_size
        x_col_pieces = x_layout.grid[1]
        for piece, texture in zip(out.x_q.layout.pieces, out.x_q.textures, strict=True):
            row_piece = piece.index[0]
            for j in range(x_col_pieces):
                # Texels whose first column lies in x column piece j.
                first = max(piece.texel_col0, -(-j * max_size // 4))
                end = min(piece.texel_col0 + piece.texel_cols, -(-(j + 1) * max_size // 4))
                if first >= end:
                    continue
                hi = min(j + 1, x_col_pieces - 1)
                draw_fragment_pass(
                    self._ctx, entry, [texture],
                    (first - piece.texel_col0, 0, end - first, piece.rows),
                    {"u_x_lo": x.textures[row_piece * x_col_pieces + j],
                     "u_x_hi": x.textures[row_piece * x_col_pieces + hi],
                     "u_params": out.params.textures[0]},
                    {"u_lo_col0": j * max_size, "u_hi_col0": (j + 1) * max_size,
                     "u_out_texel0": piece.texel_col0, "u_cols": x_layout.cols})


def _check_layout(label: str, tensor: GLTensor, expected: TextureLayout) -> None:
    if not tensor.layout.same_textures(expected):
        raise InvalidInputError(f"{label} {tensor.name!r} has layout {tensor.layout}; this "
                                f"kernel was built for {expected}.")
