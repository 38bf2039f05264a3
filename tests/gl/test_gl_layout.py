"""TextureLayout: matrix view, packing, splitting into pieces, and GPU upload/readback."""

from __future__ import annotations

import numpy as np
import pytest

from alice_gl.errors import InvalidInputError
from alice_gl.gl import GLContext, TextureLayout


def test_matrix_view_of_nd_shapes() -> None:
    assert (TextureLayout((2, 3, 5), "float32", 1, 64).rows,
            TextureLayout((2, 3, 5), "float32", 1, 64).cols) == (6, 5)
    assert TextureLayout((7,), "float32", 1, 64).rows == 1
    assert TextureLayout((), "float32", 1, 64).cols == 1
    assert TextureLayout((3, 10), "int8", 4, 64).texel_cols == 3


def test_formats_and_bytes() -> None:
    layout = TextureLayout((3, 10), "int8", 4, 64)
    assert layout.internal_format == "RGBA8I"
    assert layout.moderngl_dtype == "i1"
    assert layout.nbytes == 3 * 3 * 4
    assert TextureLayout((2, 2), "uint8", 4, 64).internal_format == "RGBA8UI"
    assert TextureLayout((2, 2), "int32", 1, 64).internal_format == "R32I"
    assert TextureLayout((2, 2), "float32", 1, 64).nbytes == 16


def test_pieces_split_both_sides() -> None:
    layout = TextureLayout((10, 23), "uint8", 4, 4)
    assert layout.texel_cols == 6
    assert layout.grid == (3, 2)
    sizes = [(p.index, p.row0, p.rows, p.texel_col0, p.texel_cols) for p in layout.pieces]
    assert sizes == [((0, 0), 0, 4, 0, 4), ((0, 1), 0, 4, 4, 2),
                     ((1, 0), 4, 4, 0, 4), ((1, 1), 4, 4, 4, 2),
                     ((2, 0), 8, 2, 0, 4), ((2, 1), 8, 2, 4, 2)]
    assert layout.piece(2, 1).size == (2, 2)
    assert sum(p.rows * p.texel_cols for p in layout.pieces) * 4 == layout.nbytes


def test_pack_pads_with_zeros() -> None:
    layout = TextureLayout((2, 5), "int8", 4, 1)
    blocks = layout.pack(np.arange(1, 11, dtype=np.int8).reshape(2, 5))
    assert len(blocks) == 4
    assert blocks[1].tolist() == [[[5, 0, 0, 0]]]
    assert blocks[3].tolist() == [[[10, 0, 0, 0]]]


@pytest.mark.parametrize(("shape", "channels", "max_size"),
                         [((3, 4, 5), 1, 2), ((1, 4097), 4, 16), ((9,), 2, 3), ((), 1, 4)])
def test_pack_unpack_round_trip(shape: tuple[int, ...], channels: int, max_size: int,
                                rng: np.random.Generator) -> None:
    layout = TextureLayout(shape, "float32", channels, max_size)
    array = rng.standard_normal(shape).astype(np.float32)
    assert np.array_equal(layout.unpack(layout.pack(array)), array)


def test_invalid_layouts_rejected() -> None:
    with pytest.raises(InvalidInputError, match="float64"):
        TextureLayout((2,), "float64", 1, 8)
    with pytest.raises(InvalidInputError, match="channels=3"):
        TextureLayout((2,), "float32", 3, 8)
    with pytest.raises(InvalidInputError, match=r"\(2, 0\)"):
        TextureLayout((2, 0), "float32", 1, 8)
    with pytest.raises(InvalidInputError, match="does not match"):
        TextureLayout((2, 3), "float32", 1, 8).pack(np.zeros((4, 4)))


@pytest.mark.parametrize(("dtype", "channels"),
                         [("float32", 1), ("float32", 4), ("int32", 1), ("uint8", 4),
                          ("int8", 4), ("int8", 1), ("uint8", 2)])
def test_gpu_round_trip_split(dtype: str, channels: int, rng: np.random.Generator) -> None:
    with GLContext(max_texture_size=8) as ctx:
        info = np.iinfo(dtype) if dtype != "float32" else None
        shape = (3, 11, 37)
        if info is None:
            array = rng.standard_normal(shape).astype(dtype)
        else:
            array = rng.integers(max(info.min, -2**31), min(info.max, 2**31 - 1), shape,
                                 endpoint=True).astype(dtype)
        tensor = ctx.upload(array, channels=channels)
        assert len(tensor.textures) == len(tensor.layout.pieces) > 1
        assert np.array_equal(ctx.read(tensor), array)
        ctx.textures.write(tensor, array[::-1].copy())
        assert np.array_equal(ctx.read(tensor), array[::-1])


def test_view_shares_textures(webgl2_ctx: GLContext) -> None:
    array = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    tensor = webgl2_ctx.upload(array)
    view = tensor.view((6, 4))
    assert view.textures is tensor.textures
    assert np.array_equal(webgl2_ctx.read(view), array.reshape(6, 4))
    assert webgl2_ctx.gl_object_counts()["textures"] == 1
    with pytest.raises(InvalidInputError, match="without a copy"):
        tensor.view((4, 6))
    with pytest.raises(InvalidInputError, match="does not own"):
        webgl2_ctx.release(view)
