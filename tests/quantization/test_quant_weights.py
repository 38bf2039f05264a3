"""Symmetric int8 weight quantization: scales, rounding, zero channels and bad values."""

from __future__ import annotations

import numpy as np
import pytest

from alice_gl.errors import QuantizationError
from alice_gl.quantization import dequantize_weight, quantize_weight


def test_per_channel_scale_is_max_abs_over_127(rng):
    w = rng.normal(0, 1, (8, 5)).astype(np.float32)
    q, scale = quantize_weight(w, axis=1)
    assert q.dtype == np.int8
    assert q.shape == w.shape
    assert scale.dtype == np.float32
    assert scale.shape == (5,)
    np.testing.assert_allclose(scale, np.abs(w).max(axis=0) / 127, rtol=1e-6)


def test_per_channel_error_within_half_scale(rng):
    w = rng.normal(0, 1, (6, 3, 3, 3)).astype(np.float32)
    q, scale = quantize_weight(w, axis=0)
    error = np.abs(dequantize_weight(q, scale, axis=0) - w)
    assert np.all(error <= scale.reshape(-1, 1, 1, 1) / 2 * (1 + 1e-5))


def test_extreme_value_maps_to_127(rng):
    w = rng.normal(0, 1, (4, 4)).astype(np.float32)
    q, _ = quantize_weight(w, axis=0)
    assert np.all(np.abs(q).max(axis=1) == 127)
    assert q.min() >= -127


def test_per_tensor_scale_is_scalar(rng):
    w = rng.normal(0, 1, (4, 6)).astype(np.float32)
    q, scale = quantize_weight(w, axis=None)
    assert scale.shape == ()
    assert scale == pytest.approx(np.abs(w).max() / 127, rel=1e-6)
    np.testing.assert_array_equal(q, np.clip(np.rint(w / np.float64(scale)), -127, 127))


def test_negative_axis_counts_from_end(rng):
    w = rng.normal(0, 1, (3, 4)).astype(np.float32)
    q_last, scale_last = quantize_weight(w, axis=-1)
    q_one, scale_one = quantize_weight(w, axis=1)
    np.testing.assert_array_equal(q_last, q_one)
    np.testing.assert_array_equal(scale_last, scale_one)


def test_all_zero_channel_gets_positive_scale(rng):
    w = rng.normal(0, 1, (5, 4)).astype(np.float32)
    w[:, 2] = 0.0
    q, scale = quantize_weight(w, axis=1)
    assert np.all(np.isfinite(scale))
    assert np.all(scale > 0)
    assert np.all(q[:, 2] == 0)


def test_all_zero_tensor_per_tensor():
    q, scale = quantize_weight(np.zeros((3, 3), np.float32), axis=None)
    assert np.isfinite(scale)
    assert scale > 0
    assert not q.any()


def test_tiny_weights_do_not_underflow():
    w = np.array([[1e-44, -3e-45], [0.0, 2e-45]], np.float32)
    q, scale = quantize_weight(w, axis=0)
    assert np.all(scale > 0)
    assert np.all(np.isfinite(scale))
    assert np.abs(q).max() <= 127


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weight_raises_naming_it(bad):
    w = np.ones((2, 2), np.float32)
    w[1, 0] = bad
    with pytest.raises(QuantizationError, match=r"fc1\.weight"):
        quantize_weight(w, axis=0, name="fc1.weight")


def test_input_array_not_modified(rng):
    w = rng.normal(0, 1, (4, 4)).astype(np.float32)
    before = w.copy()
    quantize_weight(w, axis=0)
    np.testing.assert_array_equal(w, before)


def test_axis_out_of_range_raises(rng):
    with pytest.raises(ValueError, match="axis 2"):
        quantize_weight(rng.normal(0, 1, (2, 2)).astype(np.float32), axis=2)
