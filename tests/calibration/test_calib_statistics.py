"""Streaming statistics: exact merging across batches, bounded memory, and bad values."""

from __future__ import annotations

import numpy as np
import pytest

from alice_gl.calibration.statistics import TensorStatistics
from alice_gl.errors import QuantizationError


def _reference_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    width = edges[1] - edges[0]
    index = np.floor(values / width).astype(np.int64) - round(edges[0] / width)
    return np.bincount(index, minlength=len(edges) - 1)


def test_calib_histogram_merges_exactly(rng):
    # Each batch widens the range, so the bins re-merge several times.
    batches = [rng.uniform(-0.01, 0.01, 500), rng.normal(0, 1, 2000),
               rng.uniform(3, 40, 300), rng.normal(-5, 20, 1000)]
    statistics = TensorStatistics("t", num_bins=1024)
    for batch in batches:
        statistics.update(batch.astype(np.float32))
    values = np.concatenate(batches).astype(np.float32).astype(np.float64)

    histogram = statistics.histogram()
    assert statistics.count == values.size
    assert statistics.min == values.min()
    assert statistics.max == values.max()
    assert histogram.counts.sum() == values.size
    np.testing.assert_array_equal(histogram.counts, _reference_counts(values, histogram.edges))


def test_calib_histogram_memory_is_bounded(rng):
    statistics = TensorStatistics("t", num_bins=512)
    for scale in (1e-6, 1e-3, 1.0, 1e3, 1e6):
        statistics.update(rng.normal(0, scale, 1000))
        assert statistics._counts.size == 512
    histogram = statistics.histogram()
    # The observed range still spans more than half of the bins.
    assert histogram.counts.size > 512 // 2 - 1
    assert histogram.edges[0] <= statistics.min
    assert histogram.edges[-1] >= statistics.max


def test_calib_histogram_edges_contain_zero_grid(rng):
    statistics = TensorStatistics("t", num_bins=256)
    statistics.update(rng.uniform(7.3, 9.1, 100))
    edges = statistics.histogram().edges
    width = edges[1] - edges[0]
    assert np.log2(width) == np.round(np.log2(width))
    np.testing.assert_array_equal(edges / width, np.round(edges / width))


def test_calib_constant_then_wide(rng):
    statistics = TensorStatistics("t")
    statistics.update(np.zeros(100))
    statistics.update(rng.normal(size=1000))
    histogram = statistics.histogram()
    assert histogram.counts.sum() == 1100
    assert histogram.counts.size > statistics.num_bins // 2 - 1


def test_calib_single_value():
    statistics = TensorStatistics("t")
    statistics.update(np.array([2.5], np.float32))
    histogram = statistics.histogram()
    assert histogram.counts.tolist() == [1]
    assert histogram.edges[0] <= 2.5 < histogram.edges[1]


def test_calib_empty_update_is_ignored():
    statistics = TensorStatistics("t")
    statistics.update(np.zeros((0, 3)))
    assert statistics.count == 0
    with pytest.raises(QuantizationError, match="'t' received no calibration values"):
        statistics.histogram()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_calib_non_finite_activation(bad):
    statistics = TensorStatistics("hidden")
    with pytest.raises(QuantizationError, match="'hidden' contains NaN or Inf"):
        statistics.update(np.array([1.0, bad]))
