"""Map an N-d tensor onto one or more 2-D textures.

This module is the only place that decides where a tensor element lives in texture memory.
A tensor of shape ``(d0, ..., dn)`` is viewed as a matrix of ``rows = d0 * ... * d(n-1)``
rows (1 for a 0-d or 1-d tensor) and ``cols = dn`` columns. Each texel stores ``channels``
consecutive elements of one row (1, 2 or 4; packing runs along the last axis), so a row needs
``texel_cols = ceil(cols / channels)`` texels and the padding elements of the last texel are
zero. When either side passes ``max_size`` texels, the matrix is cut into a grid of pieces, each
its own texture, at multiples of ``max_size``: piece ``(i, j)`` covers rows
``[i * max_size, ...)`` and texel columns ``[j * max_size, ...)``. Shaders address texels with
``texelFetch(texture, ivec2(texel_col - piece.texel_col0, row - piece.row0), 0)``; texture x is
the texel column and y is the row, and every texture uses NEAREST filtering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from alice_gl.errors import InvalidInputError

# dtype -> (moderngl dtype code, GL internal format per channel count). moderngl maps 'u1'
# and 'i1' to the integer formats (R8UI, R8I) and 'f1' to the normalized ones.
TEXTURE_FORMATS: dict[str, tuple[str, dict[int, str]]] = {
    "float32": ("f4", {1: "R32F", 2: "RG32F", 4: "RGBA32F"}),
    "int32": ("i4", {1: "R32I", 2: "RG32I", 4: "RGBA32I"}),
    "uint8": ("u1", {1: "R8UI", 2: "RG8UI", 4: "RGBA8UI"}),
    "int8": ("i1", {1: "R8I", 2: "RG8I", 4: "RGBA8I"}),
}
ALLOWED_CHANNELS = (1, 2, 4)


@dataclass(frozen=True)
class Piece:
    """One texture of a split tensor: a block of rows and texel columns of the matrix view."""

    index: tuple[int, int]
    row0: int
    rows: int
    texel_col0: int
    texel_cols: int

    @property
    def size(self) -> tuple[int, int]:
        """Texture size as (width, height) in texels, the order moderngl expects."""
        return (self.texel_cols, self.rows)


@dataclass(frozen=True)
class TextureLayout:
    """Placement of a tensor of ``shape`` and ``dtype`` in textures of at most ``max_size``."""

    shape: tuple[int, ...]
    dtype: str
    channels: int
    max_size: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        object.__setattr__(self, "dtype", np.dtype(self.dtype).name)
        if self.dtype not in TEXTURE_FORMATS:
            raise InvalidInputError(f"Unsupported texture dtype {self.dtype!r}; "
                                    f"use one of {sorted(TEXTURE_FORMATS)}.")
        if self.channels not in ALLOWED_CHANNELS:
            raise InvalidInputError(f"Invalid channels={self.channels}; use 1, 2 or 4.")
        if self.max_size < 1:
            raise InvalidInputError(f"Invalid max_size={self.max_size}; it must be positive.")
        if any(d < 1 for d in self.shape):
            raise InvalidInputError(f"Invalid tensor shape {self.shape}: a texture needs every "
                                    "dimension to be at least 1.")

    def same_textures(self, other: TextureLayout) -> bool:
        """True when ``other`` stores its elements in the same textures at the same texels.

        That is the case when the matrix views, dtypes, channels and max sizes agree, whatever
        the N-d shapes are. A tensor can then be viewed with the other shape without a copy.
        """
        return ((self.rows, self.cols, self.dtype, self.channels, self.max_size)
                == (other.rows, other.cols, other.dtype, other.channels, other.max_size))

    def reshaped(self, shape: tuple[int, ...]) -> TextureLayout:
        """Return the layout of the same textures viewed with ``shape``.

        Raises ``InvalidInputError`` unless ``shape`` has the same matrix view (the same last
        dimension and the same product of the others).
        """
        layout = TextureLayout(tuple(shape), self.dtype, self.channels, self.max_size)
        if not self.same_textures(layout):
            raise InvalidInputError(f"Cannot view a tensor of shape {self.shape} as {layout.shape}"
                                    f" without a copy: the matrix view ({self.rows}, {self.cols})"
                                    f" would become ({layout.rows}, {layout.cols}).")
        return layout

    @property
    def rows(self) -> int:
        """Rows of the matrix view: the product of every dimension but the last."""
        return math.prod(self.shape[:-1]) if len(self.shape) > 1 else 1

    @property
    def cols(self) -> int:
        """Columns of the matrix view (elements): the last dimension."""
        return self.shape[-1] if self.shape else 1

    @property
    def texel_cols(self) -> int:
        """Texels per row: ``ceil(cols / channels)``."""
        return -(-self.cols // self.channels)

    @property
    def moderngl_dtype(self) -> str:
        """moderngl's dtype code for this layout's textures ('f4', 'i4', 'u1', 'i1')."""
        return TEXTURE_FORMATS[self.dtype][0]

    @property
    def internal_format(self) -> str:
        """GL sized internal format name, for example ``RGBA8I``."""
        return TEXTURE_FORMATS[self.dtype][1][self.channels]

    @property
    def bytes_per_texel(self) -> int:
        """Bytes one texel occupies: channels times the element size."""
        return self.channels * np.dtype(self.dtype).itemsize

    @property
    def pieces(self) -> list[Piece]:
        """Textures in row-major grid order; a single piece when both sides fit."""
        pieces = []
        for i, row0 in enumerate(range(0, self.rows, self.max_size)):
            for j, col0 in enumerate(range(0, self.texel_cols, self.max_size)):
                pieces.append(Piece(index=(i, j), row0=row0,
                                    rows=min(self.max_size, self.rows - row0),
                                    texel_col0=col0,
                                    texel_cols=min(self.max_size, self.texel_cols - col0)))
        return pieces

    @property
    def grid(self) -> tuple[int, int]:
        """Number of pieces along rows and along texel columns."""
        return (-(-self.rows // self.max_size), -(-self.texel_cols // self.max_size))

    def piece(self, row_index: int, col_index: int) -> Piece:
        """Return the piece at grid position (``row_index``, ``col_index``)."""
        return self.pieces[row_index * self.grid[1] + col_index]

    @property
    def nbytes(self) -> int:
        """Bytes of all pieces together, padding texels included."""
        return self.rows * self.texel_cols * self.bytes_per_texel

    def pack(self, array: np.ndarray) -> list[np.ndarray]:
        """Split ``array`` into one C-contiguous (rows, texel_cols, channels) block per piece.

        Raises ``InvalidInputError`` when the array's shape differs from the layout's.
        """
        array = np.asarray(array)
        if array.shape != self.shape and array.size != math.prod(self.shape):
            raise InvalidInputError(f"Array of shape {array.shape} does not match the texture "
                                    f"layout shape {self.shape}.")
        matrix = array.astype(self.dtype, copy=False).reshape(self.rows, self.cols)
        padded = np.zeros((self.rows, self.texel_cols * self.channels), dtype=self.dtype)
        padded[:, :self.cols] = matrix
        texels = padded.reshape(self.rows, self.texel_cols, self.channels)
        return [np.ascontiguousarray(texels[p.row0:p.row0 + p.rows,
                                            p.texel_col0:p.texel_col0 + p.texel_cols])
                for p in self.pieces]

    def unpack(self, blocks: list[bytes | np.ndarray]) -> np.ndarray:
        """Join the per-piece texel data read back from textures into an array of ``shape``."""
        texels = np.empty((self.rows, self.texel_cols, self.channels), dtype=self.dtype)
        for piece, block in zip(self.pieces, blocks, strict=True):
            data = np.frombuffer(block, dtype=self.dtype) if isinstance(block, bytes) else block
            texels[piece.row0:piece.row0 + piece.rows,
                   piece.texel_col0:piece.texel_col0 + piece.texel_cols] = (
                np.asarray(data).reshape(piece.rows, piece.texel_cols, self.channels))
        matrix = texels.reshape(self.rows, self.texel_cols * self.channels)[:, :self.cols]
        return np.ascontiguousarray(matrix).reshape(self.shape)
