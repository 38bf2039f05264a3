"""Layout of executor values in textures, plus upload and readback of whole tensors.

Every float tensor the executor keeps on the GPU lives in one R32F texture in row-major
("flat") order: element ``i`` of the C-ordered tensor is texel ``(i % width, i // width)``.
The width is one H x W plane for a 4-D tensor, else the last dimension, when that and the row
count fit the max texture side. The last dimension makes the texture the matrix view that the
GL runtime's kernels expect for an (M, K) input. Otherwise the width is the max side and the
last row is padded with zeros. Shaders address
every input by its flat index, so reshaping a tensor never moves data unless the width changes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from alice_gl.errors import InvalidInputError
from alice_gl.gl import GLContext, GLTensor, TextureLayout


def flat_width(shape: Sequence[int], max_size: int) -> int:
    """Return the texture width of a tensor of ``shape`` in the flat layout.

    A 4-D (N, C, H, W) tensor whose planes fit takes one H x W plane per row, so a
    convolution finds any (n, c, h, w) without integer division. Other tensors take their
    last dimension per row when it fits, else rows of the max side.
    """
    size = max(math.prod(shape), 1)
    if len(shape) == 4:
        plane = shape[2] * shape[3]
        if 1 <= plane <= max_size and size // plane <= max_size:
            return plane
    last = shape[-1] if shape else 1
    if 1 <= last <= max_size and size // last <= max_size:
        return last
    return min(size, max_size)


def flat_layout(ctx: GLContext, shape: Sequence[int], dtype: str = "float32",
                channels: int = 1) -> TextureLayout:
    """Return the single-texture layout of a tensor of ``shape`` (see the module docstring).

    Raises ``InvalidInputError`` when the tensor has more elements than one texture holds.
    """
    max_size = ctx.max_texture_size
    size = max(math.prod(shape), 1)
    width = flat_width(shape, max_size)
    rows = -(-size // width)
    if rows > max_size:
        raise InvalidInputError(f"A tensor of shape {tuple(shape)} has {size} elements, more than "
                                f"the {max_size ** 2} of one {max_size}x{max_size} texture. "
                                "Raise max_texture_size or run the model on the NumPy "
                                "executor.")
    return ctx.layout((rows, width), dtype, channels)


def fits_one_texture(ctx: GLContext, shape: Sequence[int]) -> bool:
    """Return True when a tensor of ``shape`` fits one texture in the flat layout."""
    return max(math.prod(shape), 1) <= ctx.max_texture_size ** 2


def to_texture_data(array: np.ndarray, layout: TextureLayout) -> np.ndarray:
    """Return ``array`` flattened and zero-padded to the (rows, width) matrix of ``layout``."""
    flat = np.ascontiguousarray(array, dtype=layout.dtype).reshape(-1)
    padded = np.zeros(layout.rows * layout.cols, dtype=layout.dtype)
    padded[:flat.size] = flat
    return padded.reshape(layout.rows, layout.cols)


def write_tensor(ctx: GLContext, tensor: GLTensor, array: np.ndarray) -> None:
    """Overwrite ``tensor`` (a flat-layout texture) with ``array``."""
    ctx.textures.write(tensor, to_texture_data(array, tensor.layout))


def read_tensor(ctx: GLContext, tensor: GLTensor, shape: Sequence[int]) -> np.ndarray:
    """Read a flat-layout ``tensor`` back as an array of ``shape``."""
    size = math.prod(shape)
    return ctx.read(tensor).reshape(-1)[:size].reshape(tuple(shape))


def contiguous_strides(shape: Sequence[int]) -> list[int]:
    """Return the C-order element strides of ``shape``."""
    strides = [1] * len(shape)
    for axis in range(len(shape) - 2, -1, -1):
        strides[axis] = strides[axis + 1] * shape[axis + 1]
    return strides


def broadcast_strides(shape: Sequence[int], out_shape: Sequence[int], rank: int) -> list[int]:
    """Return strides that map an index of ``out_shape`` onto a tensor of ``shape``.

    Both shapes are right-aligned and left-padded to ``rank``; a broadcast axis gets stride 0.
    """
    padded = [1] * (rank - len(shape)) + list(shape)
    out_padded = [1] * (rank - len(out_shape)) + list(out_shape)
    strides = contiguous_strides(padded)
    return [0 if size == 1 and out_size != 1 else stride
            for size, out_size, stride in zip(padded, out_padded, strides, strict=True)]
