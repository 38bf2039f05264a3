"""DequantMatMul fragment and compute passes: int32 accumulators bit-exact, outputs to 1e-5."""

from __future__ import annotations

import numpy as np
import pytest
from gl_reference import dequantize_output, integer_accumulator

from alice_gl.errors import ConfigError, InvalidInputError
from alice_gl.gl import (
    DequantMatMul,
    DynamicQuantizeLinear,
    GLContext,
    QuantizedWeights,
    TilingConfig,
)


def _run_matmul(ctx: GLContext, x: np.ndarray, w_q: np.ndarray, w_scale: np.ndarray,
                bias: np.ndarray | None, backend: str, tiling: TilingConfig,
                activation: str | None = None, clip: tuple[float, float] = (-np.inf, np.inf),
                ) -> dict[str, np.ndarray]:
    """Quantize x and run the matmul on the GPU; return every texture read back."""
    (m, k), n = x.shape, w_q.shape[1]
    weights = QuantizedWeights.upload(ctx, w_q, w_scale, bias, name="fc")
    quantize = DynamicQuantizeLinear(ctx, (m, k))
    matmul = DequantMatMul(ctx, m, k, n, tiling, activation, *clip, backend=backend,
                           has_bias=bias is not None)
    accumulator = ctx.empty((m, n), np.int32)
    quantized = quantize.run(ctx.upload(x))
    y = matmul.run(quantized, weights, accumulator_out=accumulator)
    params = ctx.read(quantized.params)[0]
    return {"y_textures": len(y.textures), "x_q": ctx.read(quantized.x_q),
            "x_scale": params[0], "x_zero_point": params[1],
            "accumulator": ctx.read(accumulator), "y": ctx.read(y)}


def _check(result: dict[str, np.ndarray], w_q: np.ndarray, w_scale: np.ndarray,
           bias: np.ndarray | None, activation: str | None = None,
           clip: tuple[float, float] = (-np.inf, np.inf)) -> None:
    expected_acc = integer_accumulator(result["x_q"], int(result["x_zero_point"]), w_q)
    assert result["accumulator"].dtype == np.int32
    np.testing.assert_array_equal(result["accumulator"], expected_acc)

    expected_y = dequantize_output(expected_acc, result["x_scale"], w_scale, bias, activation,
                                   *clip)
    scale = max(np.abs(expected_y).max(), np.finfo(np.float32).tiny)
    np.testing.assert_allclose(result["y"], expected_y, rtol=1e-5, atol=1e-5 * scale)


def _random_problem(rng: np.random.Generator, m: int, k: int, n: int, with_bias: bool = True):
    x = (rng.standard_normal((m, k)) * 2 + 0.3).astype(np.float32)
    w_q = rng.integers(-128, 128, (k, n), dtype=np.int8)
    w_scale = rng.uniform(1e-3, 2e-2, n).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32) if with_bias else None
    return x, w_q, w_scale, bias


# (profile, max texture side, backend, (M, K, N), block_size, max_concurrent_blocks, activation)
CASES = [
    ("webgl2", None, "fragment", (1, 4097, 5000), 256, 4, "Relu"),
    ("gl43", 4096, "compute", (1, 4097, 5000), 256, 4, None),
    ("webgl2", None, "fragment", (1, 1, 1), 256, 4, None),
    ("webgl2", None, "fragment", (7, 1, 9), 256, 4, "Sigmoid"),
    ("gl43", None, "compute", (7, 1, 9), 256, 4, "Sigmoid"),
    ("webgl2", 16, "fragment", (37, 130, 70), 16, 3, "Clip"),
    ("gl43", 16, "compute", (37, 130, 70), 16, 3, "Clip"),
    ("gl43", None, "fragment", (5, 1030, 6), 64, 1, "Relu"),
    ("gl43", None, "compute", (64, 300, 129), 256, 2, "Relu"),
]


@pytest.mark.parametrize(("profile", "max_size", "backend", "shape", "block_size", "slots",
                          "activation"), CASES)
def test_matmul_matches_numpy(profile: str, max_size: int | None, backend: str,
                              shape: tuple[int, int, int], block_size: int, slots: int,
                              activation: str | None, rng: np.random.Generator) -> None:
    clip = (-0.5, 0.7) if activation == "Clip" else (-np.inf, np.inf)
    x, w_q, w_scale, bias = _random_problem(rng, *shape)
    with GLContext(profile, max_size) as ctx:
        result = _run_matmul(ctx, x, w_q, w_scale, bias, backend,
                             TilingConfig(block_size, slots), activation, clip)
        expected_textures = len(ctx.layout(shape[::2], np.float32).pieces)
    assert result["y_textures"] == expected_textures
    if shape[2] > 4096:
        assert expected_textures == 2
    _check(result, w_q, w_scale, bias, activation, clip)


@pytest.mark.parametrize("backend", ["fragment", "compute"])
def test_random_shapes_both_backends(backend: str, rng: np.random.Generator) -> None:
    with GLContext("gl43", max_texture_size=32) as ctx:
        for _ in range(4):
            m, k, n = (int(v) for v in rng.integers(1, 90, 3))
            block_size = int(rng.choice([4, 8, 20, 64]))
            x, w_q, w_scale, bias = _random_problem(rng, m, k, n, with_bias=bool(m % 2))
            result = _run_matmul(ctx, x, w_q, w_scale, bias, backend,
                                 TilingConfig(block_size, int(rng.integers(1, 5))))
            _check(result, w_q, w_scale, bias)


@pytest.mark.parametrize("backend", ["fragment", "compute"])
@pytest.mark.parametrize("m", [1, 2, 3, 5, 6, 9, 17, 33])
def test_register_block_edges(backend: str, m: int, gl43_ctx: GLContext,
                              rng: np.random.Generator) -> None:
    # Tile heights 1 to 33 give every block height of both families (fragment 1 to 8 rows,
    # compute 1 to 16) and cut the last block of rows short. N = 13 cuts the last block of
    # columns (4 per fragment, 8 per compute invocation). K = 300 takes 5 segments of 64.
    x, w_q, w_scale, bias = _random_problem(rng, m, 300, 13)
    result = _run_matmul(gl43_ctx, x, w_q, w_scale, bias, backend, TilingConfig(64, 2))
    _check(result, w_q, w_scale, bias)


@pytest.mark.parametrize(("profile", "backend"), [("webgl2", "fragment"), ("gl43", "compute")])
def test_accumulator_wraps_like_int32(profile: str, backend: str) -> None:
    # x_q = 255 with zero point 0 and w_q = 127: the exact sum 255 * 127 * 70000 passes 2**31.
    k = 70000
    x = np.full((1, k), 2.0, np.float32)
    w_q = np.full((k, 1), 127, np.int8)
    w_scale = np.array([1e-3], np.float32)
    with GLContext(profile) as ctx:
        result = _run_matmul(ctx, x, w_q, w_scale, None, backend, TilingConfig(4096, 2))
    assert 255 * 127 * k > 2**31
    assert result["accumulator"][0, 0] == np.int32(255 * 127 * k - 2**32)
    _check(result, w_q, w_scale, None)


def test_scalar_weight_scale(webgl2_ctx: GLContext, rng: np.random.Generator) -> None:
    x, w_q, _, bias = _random_problem(rng, 3, 10, 4)
    result = _run_matmul(webgl2_ctx, x, w_q, np.float32(0.01), bias, "fragment", TilingConfig())
    _check(result, w_q, np.full(4, 0.01, np.float32), bias)


@pytest.mark.parametrize("backend", ["fragment", "compute"])
def test_scratch_bounded_by_slots(backend: str, gl43_ctx: GLContext) -> None:
    matmul = DequantMatMul(gl43_ctx, 1000, 64, 1000, TilingConfig(32, 3), backend=backend)
    tile_bytes = 32 * 32 * 4
    if backend == "fragment":
        # Two ping-pong sets of one RGBA32I texture per block row (4 rows, or 8 where the
        # driver has 8 draw buffers), each 1/rows of the tile's rows and 1/4 of its columns.
        draw_buffers = min(gl43_ctx.gl.info["GL_MAX_DRAW_BUFFERS"], 8)
        rows = 8 if draw_buffers == 8 else 4
        textures_per_slot, tiles_per_slot = 2 * rows, 2
        assert {layout.internal_format for layout in matmul.scratch.layouts.values()} == \
            {"RGBA32I"}
    else:
        textures_per_slot, tiles_per_slot = 1, 1
    assert len(matmul.scratch.layouts) == 3 * textures_per_slot
    assert sum(layout.nbytes for layout in matmul.scratch.layouts.values()) == \
        3 * tiles_per_slot * tile_bytes
    assert len(matmul.tiles) == 32 * 32
    assert len(matmul.segments) == 2
    assert matmul.pass_count == 32 * 32 * 3


@pytest.mark.parametrize("backend", ["fragment", "compute"])
def test_scratch_slots_capped_by_tiles(backend: str, gl43_ctx: GLContext,
                                       rng: np.random.Generator) -> None:
    one_slot = DequantMatMul(gl43_ctx, 40, 64, 40, TilingConfig(32, 1), backend=backend)
    tiling = TilingConfig(32, 1_000_000)
    capped = DequantMatMul(gl43_ctx, 40, 64, 40, tiling, backend=backend)
    slot_bytes = sum(layout.nbytes for layout in one_slot.scratch.layouts.values())
    assert len(capped.tiles) > 1
    assert len(capped.slot_names) == len(capped.tiles)
    assert sum(layout.nbytes for layout in capped.scratch.layouts.values()) == \
        len(capped.tiles) * slot_bytes

    x, w_q, w_scale, bias = _random_problem(rng, 40, 64, 40)
    _check(_run_matmul(gl43_ctx, x, w_q, w_scale, bias, backend, tiling), w_q, w_scale, bias)


def test_texel_fetches_follow_block_shape(gl43_ctx: GLContext) -> None:
    compute = DequantMatMul(gl43_ctx, 64, 64, 64, TilingConfig(64, 1), backend="compute")
    assert compute.block_shape == (16, 8)
    # 4 x 8 invocations, 16 texel columns, 16 x_q rows + 8 w_q columns each.
    assert compute.texel_fetches == 4 * 8 * 16 * (16 + 8)
    thin = DequantMatMul(gl43_ctx, 1, 64, 64, TilingConfig(64, 1), backend="compute")
    assert thin.block_shape == (1, 8)
    assert thin.texel_fetches == 8 * 16 * (1 + 8)
    fragment = DequantMatMul(gl43_ctx, 3, 64, 10, TilingConfig(64, 1), backend="fragment")
    assert fragment.block_shape == (2, 4)
    # Rows 0-1 and 2 (cut short), columns 0-3, 4-7 and 8-9 (cut short).
    assert fragment.texel_fetches == 2 * 3 * 16 * (2 + 4)


def test_segments_cut_at_piece_edges() -> None:
    with GLContext(max_texture_size=10) as ctx:
        matmul = DequantMatMul(ctx, 2, 100, 3, TilingConfig(block_size=24))
    # 25 texels of K in pieces of 10; blocks of 6 texels cut at texels 10 and 20.
    assert [(s.piece, s.t0, s.t1) for s in matmul.segments] == [
        (0, 0, 6), (0, 6, 10), (1, 0, 2), (1, 2, 8), (1, 8, 10), (2, 0, 4), (2, 4, 5)]


def test_compute_rejected_under_webgl2(webgl2_ctx: GLContext) -> None:
    with pytest.raises(ConfigError, match="gl43"):
        DequantMatMul(webgl2_ctx, 1, 4, 4, backend="compute")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"activation": "Tanh"}, "Tanh"),
    ({"backend": "vulkan"}, "vulkan"),
])
def test_invalid_settings_rejected(kwargs: dict, message: str, webgl2_ctx: GLContext) -> None:
    with pytest.raises(ConfigError, match=message):
        DequantMatMul(webgl2_ctx, 1, 4, 4, **kwargs)


@pytest.mark.parametrize(("block_size", "slots"), [(0, 4), (6, 4), (256, 0), (2.5, 1)])
def test_invalid_tiling_rejected(block_size: object, slots: int) -> None:
    with pytest.raises(ConfigError, match=r"block_size|max_concurrent_blocks"):
        TilingConfig(block_size, slots)


def test_mismatched_inputs_rejected(webgl2_ctx: GLContext, rng: np.random.Generator) -> None:
    x, w_q, w_scale, bias = _random_problem(rng, 2, 8, 3)
    weights = QuantizedWeights.upload(webgl2_ctx, w_q, w_scale, bias)
    quantized = DynamicQuantizeLinear(webgl2_ctx, (2, 8)).run(webgl2_ctx.upload(x))
    with pytest.raises(InvalidInputError, match="K=8, N=3"):
        DequantMatMul(webgl2_ctx, 2, 8, 5).run(quantized, weights)
    with pytest.raises(InvalidInputError, match="has_bias"):
        DequantMatMul(webgl2_ctx, 2, 8, 3, has_bias=False).run(quantized, weights)
    with pytest.raises(InvalidInputError, match="x_q"):
        DequantMatMul(webgl2_ctx, 3, 8, 3).run(quantized, weights)
    with pytest.raises(InvalidInputError, match="w_scale"):
        QuantizedWeights.upload(webgl2_ctx, w_q, np.ones(2, np.float32))
    with pytest.raises(InvalidInputError, match="int8"):
        QuantizedWeights.upload(webgl2_ctx, w_q.astype(np.int16), w_scale)


def test_nd_activation_as_matrix(webgl2_ctx: GLContext, rng: np.random.Generator) -> None:
    x, w_q, w_scale, bias = _random_problem(rng, 6, 20, 5)
    weights = QuantizedWeights.upload(webgl2_ctx, w_q, w_scale, bias)
    quantized = DynamicQuantizeLinear(webgl2_ctx, (2, 3, 20)).run(
        webgl2_ctx.upload(x.reshape(2, 3, 20)))
    accumulator = webgl2_ctx.empty((6, 5), np.int32)
    y = DequantMatMul(webgl2_ctx, 6, 20, 5).run(quantized, weights,
                                                 accumulator_out=accumulator)
    params = webgl2_ctx.read(quantized.params)[0]
    result = {"x_q": webgl2_ctx.read(quantized.x_q).reshape(6, 20), "x_scale": params[0],
              "x_zero_point": params[1], "accumulator": webgl2_ctx.read(accumulator),
              "y": webgl2_ctx.read(y.view((2, 3, 5))).reshape(6, 5)}
    _check(result, w_q, w_scale, bias)
