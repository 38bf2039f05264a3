"""Calibration strategies: turn a tensor's statistics into the range ``(rmin, rmax)`` to quantize.

- ``minmax``: the observed minimum and maximum.
- ``percentile``: clip ``100 - percentile`` percent of the values off each tail.
- ``kl``: the window minimizing the KL divergence between the histogram and its
  ``NUM_LEVELS``-level quantized version (the entropy calibration of TensorRT), searched over
  both ends independently so asymmetric ranges are handled.
- ``mse``: the window minimizing the expected mean squared error of uint8 quantization.

Every strategy returns a range inside ``[min(minimum, 0), max(maximum, 0)]``. ``kl`` and ``mse``
search windows whose edges lie on histogram edges and that contain 0, because the quantized
range always contains 0, and they ignore exact zeros, which every such range represents
exactly. A degenerate tensor (all zeros, constant, one value) gives a range of
width 0 or the constant and 0; ``qparams.scale_zero_point`` turns either into a positive scale.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from alice_gl.calibration.search import Objective, ZeroView, search_window, zero_including_view
from alice_gl.calibration.statistics import TensorStatistics
from alice_gl.errors import ConfigError

STRATEGIES = ("minmax", "percentile", "kl", "mse")
DEFAULT_PERCENTILE = 99.999
# uint8 has 256 levels and so 255 steps between the ends of the range.
NUM_LEVELS = 255
# The KL and MSE searches run on at most this many bins. Merging keeps more than half of them
# whenever the observed range spans that many bins of the collected histogram.
SEARCH_BINS = 4096
# A zero-probability bin of the quantized distribution counts as this probability, so clipping
# a bin that contains only outliers costs a large but finite divergence.
KL_EPSILON = 1e-12


def compute_range(statistics: TensorStatistics, strategy: str, *,
                  percentile: float = DEFAULT_PERCENTILE) -> tuple[float, float]:
    """Return ``(rmin, rmax)`` for ``statistics`` under ``strategy`` (one of ``STRATEGIES``)."""
    if strategy == "minmax":
        return minmax_range(statistics)
    if strategy == "percentile":
        return percentile_range(statistics, percentile)
    if strategy == "kl":
        return kl_range(statistics)
    if strategy == "mse":
        return mse_range(statistics)
    raise ConfigError(f"Unknown calibration strategy {strategy!r}; use one of "
                      f"{', '.join(STRATEGIES)}.")


def minmax_range(statistics: TensorStatistics) -> tuple[float, float]:
    """Return the observed minimum and maximum."""
    return float(statistics.min), float(statistics.max)


def percentile_range(statistics: TensorStatistics,
                     percentile: float = DEFAULT_PERCENTILE) -> tuple[float, float]:
    """Return the ``100 - percentile`` and ``percentile`` percentiles of the observed values.

    Values are taken as uniform inside each histogram bin. ``percentile`` is in percent and must
    lie in [50, 100], and 100 gives the minmax range.
    """
    if not 50.0 <= percentile <= 100.0:
        raise ConfigError(f"percentile must be between 50 and 100 (percent), got {percentile}.")
    histogram = statistics.histogram()
    cumulative = np.concatenate(([0.0], np.cumsum(histogram.counts, dtype=np.float64)))
    total = cumulative[-1]
    upper_fraction = percentile / 100.0

    rmin = float(np.interp((1.0 - upper_fraction) * total, cumulative, histogram.edges))
    rmax = float(np.interp(upper_fraction * total, cumulative, histogram.edges))
    return _clamp(statistics, rmin, rmax)


def kl_range(statistics: TensorStatistics) -> tuple[float, float]:
    """Return the window whose quantized histogram diverges least (KL) from the original."""
    # NOTE: windows span at least NUM_LEVELS of the 2048 to SEARCH_BINS bins, so KL keeps at
    # least 1/16 to 1/8 of the observed range. Outliers more than about 16x farther out than
    # the bulk of the values therefore widen the range even when clipping them would be better.
    return _search(statistics, _kl_objective, min_bins=NUM_LEVELS)


def mse_range(statistics: TensorStatistics) -> tuple[float, float]:
    """Return the window whose uint8 quantization has the smallest expected squared error."""
    return _search(statistics, _mse_objective, min_bins=1)


def _search(statistics: TensorStatistics, make_objective: Callable[[ZeroView], Objective],
            min_bins: int) -> tuple[float, float]:
    view = zero_including_view(statistics.histogram(), SEARCH_BINS)
    if view.zero < view.counts.size:
        # Exact zeros land in the bin starting at 0 and are exact under every candidate
        # range, so they carry no information about the clip. Left in, a ReLU output's spike
        # of zeros makes KL favor the narrowest window, whose first group spreads it least.
        view.counts[view.zero] -= statistics.zero_count
    first, last = search_window(view, make_objective(view), min_bins)
    return _clamp(statistics, float(view.edges[first]), float(view.edges[last]))


def _clamp(statistics: TensorStatistics, rmin: float, rmax: float) -> tuple[float, float]:
    low = min(statistics.min, 0.0)
    high = max(statistics.max, 0.0)
    return float(np.clip(rmin, low, high)), float(np.clip(rmax, low, high))


def _kl_objective(view: ZeroView) -> Objective:
    """Return the function of a window of bins ``[first, last)`` that computes KL(P || Q).

    P is the window with the clipped counts added to its end bins. Q merges the window (without
    the clipped counts) into ``NUM_LEVELS`` groups and spreads each group's count evenly over
    the group's bins that are non-zero in P.
    """
    counts = view.counts.astype(np.float64)
    return lambda first, last: _kl_divergence(counts, first, last)


def _kl_divergence(counts: np.ndarray, first: int, last: int) -> float:
    window = counts[first:last]
    reference = window.copy()
    reference[0] += counts[:first].sum()
    reference[-1] += counts[last:].sum()
    num_bins = window.size
    levels = min(NUM_LEVELS, num_bins)

    group = (np.arange(num_bins) * levels) // num_bins
    nonzero = reference > 0
    group_total = np.bincount(group, weights=window, minlength=levels)
    group_nonzero = np.bincount(group, weights=nonzero, minlength=levels)
    candidate = np.where(nonzero, group_total[group] / np.maximum(group_nonzero[group], 1.0), 0.0)
    if candidate.sum() == 0.0:
        return float("inf")

    p = reference[nonzero] / reference.sum()
    q = np.maximum(candidate[nonzero] / candidate.sum(), KL_EPSILON)
    return float(np.sum(p * np.log(p / q)))


def _mse_objective(view: ZeroView) -> Objective:
    """Return the function of a window that computes the squared error of uint8 quantization
    over ``[edges[first], edges[last]]``.

    Values are uniform inside each bin, so each bin's error is an exact integral of the error
    curve: quadratic outside the range and a sawtooth inside it. Only non-empty bins count.
    """
    occupied = np.flatnonzero(view.counts)
    edge_index = np.union1d(occupied, occupied + 1)
    points = view.edges[edge_index]
    left = np.searchsorted(edge_index, occupied)
    right = np.searchsorted(edge_index, occupied + 1)
    density = view.counts[occupied] / (points[right] - points[left])

    def squared_error(first: int, last: int) -> float:
        low, high = float(view.edges[first]), float(view.edges[last])
        scale = (high - low) / NUM_LEVELS
        if scale <= 0.0:
            return float("inf")
        zero_point = float(np.clip(np.round(-low / scale), 0, NUM_LEVELS))
        cumulative = _cumulative_error(points, scale, zero_point)
        return float(np.sum(density * (cumulative[right] - cumulative[left])))

    return squared_error


def _cumulative_error(points: np.ndarray, scale: float, zero_point: float) -> np.ndarray:
    """Return the integral of (x - dequantize(quantize(x)))**2 from the lowest level to ``points``.

    The levels are ``(k - zero_point) * scale`` for k in 0..255. Below the lowest level the
    error is the distance to it, above the highest the distance to that one.
    """
    lowest = -zero_point * scale
    highest = (NUM_LEVELS - zero_point) * scale
    inside = np.clip(points, lowest, highest)

    # Between the lowest and highest level the error is a sawtooth with period `scale`. Each
    # full period contributes scale**3 / 12, the partial one the integral of t**2 up to it.
    periods = (inside - lowest) / scale + 0.5
    whole = np.floor(periods)
    offset = (periods - whole - 0.5) * scale
    sawtooth = whole * scale**3 / 12.0 + (offset**3 + scale**3 / 8.0) / 3.0 - scale**3 / 24.0

    below = np.minimum(points - lowest, 0.0)
    above = np.maximum(points - highest, 0.0)
    return sawtooth + below**3 / 3.0 + above**3 / 3.0
