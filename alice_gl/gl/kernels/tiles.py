"""Work split of the dequant-matmul: output tiles and K segments, in texture-piece coordinates.

The output y (M x N, R32F) and the optional accumulator copy share one layout. y's row pieces
line up with x_q's row pieces, because both have M rows. y's column pieces line up with the
row pieces of the transposed weights and the column pieces of w_scale and bias, because all
are N long with one value per texel. x_q and the transposed weights are both ceil(K / 4)
texels wide, so their column pieces line up too. Tiles and segments therefore never cross a
piece edge.
"""

from __future__ import annotations

from dataclasses import dataclass

from alice_gl.gl.layout import TextureLayout


@dataclass(frozen=True)
class OutputTile:
    """A block of at most block_size**2 outputs inside output piece ``piece``.

    ``m0``/``n0`` are the piece-local first row and column; ``rows``/``cols`` the tile size.
    """

    piece: tuple[int, int]
    m0: int
    n0: int
    rows: int
    cols: int


@dataclass(frozen=True)
class KSegment:
    """Texel columns ``[t0, t1)`` of K column piece ``piece`` summed by one pass.

    A segment is one K block of ``block_size / 4`` texels, cut where it crosses a piece edge.
    """

    piece: int
    t0: int
    t1: int


def output_tiles(output_layout: TextureLayout, block_size: int) -> list[OutputTile]:
    """Split every output piece into tiles of the size ``scratch_tile_size`` returns."""
    tile_cols, tile_rows = scratch_tile_size(output_layout, block_size)
    tiles = []
    for piece in output_layout.pieces:
        for m0 in range(0, piece.rows, tile_rows):
            for n0 in range(0, piece.texel_cols, tile_cols):
                tiles.append(OutputTile(piece.index, m0, n0,
                                        min(tile_rows, piece.rows - m0),
                                        min(tile_cols, piece.texel_cols - n0)))
    return tiles


def k_segments(packed_layout: TextureLayout, block_size: int) -> list[KSegment]:
    """Split the packed K axis of ``packed_layout`` (x_q's layout) into blocks and segments."""
    texels = packed_layout.texel_cols
    block_texels = block_size // 4
    max_size = packed_layout.max_size
    segments = []
    for start in range(0, texels, block_texels):
        end = min(start + block_texels, texels)
        for piece in range(start // max_size, (end - 1) // max_size + 1):
            piece_start = piece * max_size
            segments.append(KSegment(piece, max(start, piece_start) - piece_start,
                                     min(end, piece_start + max_size) - piece_start))
    return segments


def scratch_tile_size(output_layout: TextureLayout, block_size: int) -> tuple[int, int]:
    """Return the width and height of an output tile and of one scratch accumulator.

    A tile has at most ``block_size`` rows and ``block_size**2`` outputs. Outputs with fewer
    rows (M = 1 in batch-1 inference) get wider tiles, up to the width of an output piece,
    which cuts the number of passes.
    """
    # NOTE: on Mesa llvmpipe, fragment passes over block_size 256 tiles ran at less than half
    # the rate of block_size 1024 and, in one measurement, on one core. The cause is unknown.
    first = output_layout.pieces[0]
    rows = min(block_size, first.rows)
    return (min(block_size * block_size // rows, first.texel_cols), rows)
