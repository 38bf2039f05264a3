"""Calibration strategies on distributions whose correct range is known analytically."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alice_gl.calibration.qparams import scale_zero_point
from alice_gl.calibration.search import zero_including_view
from alice_gl.calibration.statistics import TensorStatistics
from alice_gl.calibration.strategies import SEARCH_BINS, STRATEGIES, compute_range
from alice_gl.errors import ConfigError


def _statistics(values: np.ndarray, batches: int = 4) -> TensorStatistics:
    statistics = TensorStatistics("t")
    for chunk in np.array_split(values, batches):
        statistics.update(chunk)
    return statistics


@pytest.fixture
def uniform(rng):
    return _statistics(rng.uniform(-1.0, 1.0, 200_000))


@pytest.fixture
def gaussian_with_outliers(rng):
    values = rng.normal(size=200_000)
    values[:4] = [50.0, -45.0, 48.0, -50.0]
    return _statistics(values)


def test_calib_minmax_is_observed_range(uniform):
    assert compute_range(uniform, "minmax") == (uniform.min, uniform.max)


def test_calib_uniform_keeps_full_range(uniform):
    # On uniform data clipping only adds error: MSE's optimum is 255/256 of the range
    # (d/dt of (1-t)**3/3 + t**3/(3*255**2) vanishes there) and KL loses nothing at full range.
    for strategy in ("kl", "mse"):
        rmin, rmax = compute_range(uniform, strategy)
        assert rmin == pytest.approx(-1.0, abs=0.01), strategy
        assert rmax == pytest.approx(1.0, abs=0.01), strategy


def test_calib_percentile_of_uniform(rng):
    statistics = _statistics(rng.uniform(0.0, 1.0, 400_000))
    rmin, rmax = compute_range(statistics, "percentile", percentile=99.0)
    assert rmin == pytest.approx(0.01, abs=0.002)
    assert rmax == pytest.approx(0.99, abs=0.002)


def test_calib_percentile_of_gaussian(rng):
    statistics = _statistics(rng.normal(size=400_000))
    rmin, rmax = compute_range(statistics, "percentile", percentile=99.9)
    # The 0.999 quantile of the standard normal is 3.0902.
    assert rmin == pytest.approx(-3.0902, abs=0.08)
    assert rmax == pytest.approx(3.0902, abs=0.08)


def test_calib_percentile_100_is_minmax(uniform):
    rmin, rmax = compute_range(uniform, "percentile", percentile=100.0)
    assert rmin == uniform.min
    assert rmax == uniform.max


def test_calib_outliers_clipped_except_minmax(gaussian_with_outliers):
    assert compute_range(gaussian_with_outliers, "minmax") == (-50.0, 50.0)
    low, high = compute_range(gaussian_with_outliers, "percentile", percentile=99.99)
    assert -5.0 < low < -3.0
    assert 3.0 < high < 5.0
    low, high = compute_range(gaussian_with_outliers, "kl")
    assert -10.0 < low < -2.5
    assert 2.5 < high < 10.0
    low, high = compute_range(gaussian_with_outliers, "mse")
    assert -49.0 < low < -2.5
    assert 2.5 < high < 49.0


def test_calib_mse_laplace_optimum(rng):
    # For Laplace(b=1) and a 255-step range [-a, a], the expected error is
    # 2 * exp(-a) (clipped tails) + (2a/255)**2 / 12 * (1 - exp(-a)) (rounding inside).
    grid = np.linspace(1.0, 20.0, 190_001)
    error = 2 * np.exp(-grid) + (2 * grid / 255) ** 2 / 12 * (1 - np.exp(-grid))
    optimum = grid[np.argmin(error)]
    assert optimum == pytest.approx(9.89, abs=0.01)

    statistics = _statistics(rng.laplace(size=400_000))
    rmin, rmax = compute_range(statistics, "mse")
    assert rmin == pytest.approx(-optimum, rel=0.1)
    assert rmax == pytest.approx(optimum, rel=0.1)


def test_calib_kl_asymmetric_range(rng):
    # Dense on [-1, 0], a half-normal tail on the right with a few far outliers: KL keeps the
    # left end and clips only the right one, which a symmetric search cannot do.
    tail = np.abs(rng.normal(size=100_000))
    tail[:3] = 50.0
    statistics = _statistics(np.concatenate([rng.uniform(-1.0, 0.0, 100_000), tail]))
    rmin, rmax = compute_range(statistics, "kl")
    assert rmin == pytest.approx(-1.0, abs=0.02)
    assert 2.5 < rmax < 10.0


def test_calib_kl_one_sided(rng):
    statistics = _statistics(np.maximum(rng.normal(size=200_000), 0.0))
    rmin, rmax = compute_range(statistics, "kl")
    assert rmin == 0.0
    assert 0.0 < rmax < statistics.max


def test_calib_kl_uses_at_least_2048_bins(rng):
    for values in (rng.normal(size=10_000), np.maximum(rng.normal(size=10_000), 0.0),
                   rng.uniform(5.0, 6.0, 10_000)):
        view = zero_including_view(_statistics(values).histogram(), SEARCH_BINS)
        assert view.counts.size >= 2048


@pytest.mark.parametrize("values", [np.zeros(1000), np.full(1000, 3.5), np.full(10, -2.0),
                                    np.array([0.75]), np.array([1e-42, 2e-42])],
                         ids=["zeros", "constant", "negative_constant", "one_sample",
                              "denormal"])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_calib_degenerate_statistics(values, strategy):
    statistics = _statistics(values, batches=1)
    rmin, rmax = compute_range(statistics, strategy)
    assert math.isfinite(rmin)
    assert math.isfinite(rmax)
    assert rmin <= rmax
    scale, zero_point = scale_zero_point(rmin, rmax)
    assert np.isfinite(scale)
    assert scale > 0
    assert 0 <= int(zero_point) <= 255


def test_calib_scale_zero_point_formula():
    scale, zero_point = scale_zero_point(-1.0, 3.0)
    assert scale == np.float32(4.0 / 255)
    assert zero_point == 64  # round(63.75)
    scale, zero_point = scale_zero_point(2.0, 5.0)  # widened to [0, 5]
    assert scale == np.float32(5.0 / 255)
    assert zero_point == 0
    scale, zero_point = scale_zero_point(-5.0, -2.0)  # widened to [-5, 0]
    assert scale == np.float32(5.0 / 255)
    assert zero_point == 255
    assert scale_zero_point(0.0, 0.0) == (np.float32(1.0), np.uint8(0))


def test_calib_scale_zero_point_rejects_bad_range():
    for rmin, rmax in ((1.0, -1.0), (math.nan, 1.0), (0.0, math.inf)):
        with pytest.raises(ValueError, match="Invalid calibration range"):
            scale_zero_point(rmin, rmax)


def test_calib_unknown_strategy(uniform):
    with pytest.raises(ConfigError, match="Unknown calibration strategy 'entropy'"):
        compute_range(uniform, "entropy")


@pytest.mark.parametrize("percentile", [10.0, 100.5])
def test_calib_percentile_out_of_range(uniform, percentile):
    with pytest.raises(ConfigError, match="percentile must be between 50 and 100"):
        compute_range(uniform, "percentile", percentile=percentile)
