"""DynamicQuantizeLinear on the GPU against onnx's reference evaluator."""

from __future__ import annotations

import numpy as np
import pytest
from gl_reference import dynamic_quantize_linear

from alice_gl.errors import InvalidInputError
from alice_gl.gl import DynamicQuantizeLinear, GLContext


def _quantize_on_gpu(ctx: GLContext, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    kernel = DynamicQuantizeLinear(ctx, x.shape)
    quantized = kernel.run(ctx.upload(x))
    return ctx.read(quantized.x_q), ctx.read(quantized.params)[0]


def _assert_matches_reference(x: np.ndarray, x_q: np.ndarray, params: np.ndarray) -> None:
    """Compare with ONNX; allow a one-step difference only next to a rounding tie.

    GLSL ES 3.00 lets division be 2.5 ULP off, so a GPU may round x / y_scale the other way
    when the exact quotient is within a few ULP of n + 0.5. Other elements must be equal.
    """
    reference, y_scale, y_zero_point = dynamic_quantize_linear(x)
    assert params[0] == y_scale
    assert params[1] == y_zero_point
    quotient = x.astype(np.float64) / np.float64(y_scale)
    near_tie = np.abs(np.abs(quotient - np.floor(quotient)) - 0.5) < 4e-7 * np.abs(quotient) + 1e-30
    differs = x_q != reference
    assert not np.any(differs & ~near_tie), f"{np.count_nonzero(differs)} elements differ"
    assert np.all(np.abs(x_q.astype(int) - reference.astype(int)) <= 1)


CASES = [
    ("webgl2", None, (1, 1)),
    ("webgl2", None, (1, 4097)),
    ("webgl2", None, (5, 37)),
    ("webgl2", 8, (3, 45, 7)),
    ("gl43", 16, (70, 50)),
    ("gl43", None, (300, 300)),
]


@pytest.mark.parametrize(("profile", "max_size", "shape"), CASES)
def test_random_tensors_match_onnx(profile: str, max_size: int | None,
                                   shape: tuple[int, ...], rng: np.random.Generator) -> None:
    with GLContext(profile, max_size) as ctx:
        x = (rng.standard_normal(shape) * 3 + 0.5).astype(np.float32)
        x_q, params = _quantize_on_gpu(ctx, x)
        _assert_matches_reference(x, x_q, params)


@pytest.mark.parametrize(("label", "values"), [
    ("all zero", np.zeros((2, 9), np.float32)),
    ("all positive", np.linspace(0.5, 7.0, 18, dtype=np.float32).reshape(2, 9)),
    ("all negative", -np.linspace(0.5, 7.0, 18, dtype=np.float32).reshape(2, 9)),
    ("constant", np.full((2, 9), 3.25, np.float32)),
    ("large range", np.array([[-3e30, 1e-30, 5e29, 2e30]], np.float32)),
])
def test_edge_values_match_onnx(label: str, values: np.ndarray, webgl2_ctx: GLContext) -> None:
    x_q, params = _quantize_on_gpu(webgl2_ctx, values)
    _assert_matches_reference(values, x_q, params)


def test_all_zero_scale_is_one_over_255(webgl2_ctx: GLContext) -> None:
    x_q, params = _quantize_on_gpu(webgl2_ctx, np.zeros((3, 4), np.float32))
    assert params[0] == np.float32(1.0) / np.float32(255.0)
    assert params[1] == 0
    assert not x_q.any()


def test_exact_ties_round_half_even(webgl2_ctx: GLContext) -> None:
    # y_scale = 255 / 255 = 1 and zero point 0: x / y_scale is exact, so ties are exact too.
    x = np.array([[0.5, 1.5, 2.5, 3.5, 254.5, 255.0, 100.5]], np.float32)
    x_q, params = _quantize_on_gpu(webgl2_ctx, x)
    assert params[0] == 1.0
    assert x_q.tolist() == [[0, 2, 2, 4, 254, 255, 100]]


def test_wrong_input_layout_rejected(webgl2_ctx: GLContext) -> None:
    kernel = DynamicQuantizeLinear(webgl2_ctx, (2, 8))
    with pytest.raises(InvalidInputError, match="layout"):
        kernel.run(webgl2_ctx.upload(np.zeros((2, 9), np.float32)))
