"""Window search over a histogram, shared by the ``kl`` and ``mse`` strategies.

A window is a pair of edge indices ``(first, last)`` with ``first <= zero <= last``, where
``edges[zero] == 0``. The search is a coordinate descent: it minimizes over ``last`` with
``first`` fixed, then over ``first`` with ``last`` fixed, until neither moves. Each 1-D step
scans a coarse grid of candidates, then every index around the best one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from alice_gl.calibration.statistics import Histogram

# Objective(first, last) -> value to minimize for the window of bins [first, last).
Objective = Callable[[int, int], float]

COARSE_CANDIDATES = 128
MAX_ROUNDS = 6


@dataclass(frozen=True)
class ZeroView:
    """A histogram extended with empty bins until one of its edges, ``edges[zero]``, is 0."""

    counts: np.ndarray
    edges: np.ndarray
    zero: int


def zero_including_view(histogram: Histogram, max_bins: int) -> ZeroView:
    """Return ``histogram`` extended to 0 and merged by powers of two down to ``max_bins`` bins.

    The histogram's edges must be integer multiples of its bin width, as ``TensorStatistics``
    makes them, so merging keeps 0 on an edge.
    """
    counts = histogram.counts
    width = float(histogram.edges[1] - histogram.edges[0])
    first = round(float(histogram.edges[0]) / width)
    last = first + counts.size  # bins [first, last) in units of `width`

    low, high = min(first, 0), max(last, 0)
    merge = 1
    while -(-high // merge) - (low // merge) > max_bins:
        merge *= 2
    low, high = low // merge, -(-high // merge)

    merged = np.zeros(high - low, dtype=np.int64)
    np.add.at(merged, (first + np.arange(counts.size)) // merge - low, counts)
    edges = np.arange(low, high + 1, dtype=np.float64) * (width * merge)
    return ZeroView(counts=merged, edges=edges, zero=-low)


def search_window(view: ZeroView, objective: Objective, min_bins: int) -> tuple[int, int]:
    """Return the window ``(first, last)`` of ``view`` that minimizes ``objective``.

    Windows hold at least ``min(min_bins, len(view.counts))`` bins. The start is the whole
    histogram, which is also the result when no other window scores lower.
    """
    num_bins = view.counts.size
    min_bins = min(min_bins, num_bins)
    first, last = 0, num_bins
    best = objective(first, last)

    for _ in range(MAX_ROUNDS):
        moved = False
        low_last = max(view.zero, first + min_bins)
        last, best, changed = _minimize_1d(
            lambda index: objective(first, index),  # noqa: B023
            low_last, num_bins, last, best)
        moved |= changed
        high_first = min(view.zero, last - min_bins)
        first, best, changed = _minimize_1d(
            lambda index: objective(index, last),  # noqa: B023
            0, high_first, first, best)
        moved |= changed
        if not moved:
            break
    return first, last


def _minimize_1d(score: Callable[[int], float], low: int, high: int, current: int,
                 current_score: float) -> tuple[int, float, bool]:
    """Return the best index in ``[low, high]``, its score, and whether it beat ``current``."""
    if high <= low:
        return current, current_score, False
    coarse = np.unique(np.linspace(low, high, COARSE_CANDIDATES + 1).round().astype(int))
    best_index, best_score = current, current_score
    for index in coarse:
        value = score(int(index))
        if value < best_score:
            best_index, best_score = int(index), value

    step = int(np.ceil((high - low) / COARSE_CANDIDATES))
    for index in range(max(low, best_index - step), min(high, best_index + step) + 1):
        value = score(index)
        if value < best_score:
            best_index, best_score = index, value
    return best_index, best_score, best_index != current
