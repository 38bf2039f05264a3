"""Streaming statistics of one activation tensor: running min/max and a self-widening histogram.

The histogram has a fixed number of bins whose edges are integer multiples of a power-of-two
bin width, so edges always include 0. When a batch falls outside the covered range the width
doubles as often as needed and adjacent bins merge exactly (no interpolation), so memory stays
``num_bins`` counts however many samples pass through. After every update the observed range
``[min, max]`` spans more than ``num_bins / 2 - 1`` bins unless it is a single value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from alice_gl.errors import QuantizationError

DEFAULT_NUM_BINS = 8192


@dataclass(frozen=True)
class Histogram:
    """Bin counts and their ``len(counts) + 1`` edges, in the tensor's units."""

    counts: np.ndarray
    edges: np.ndarray


class TensorStatistics:
    """Running min, max, value counts and histogram of every value fed to ``update``."""

    def __init__(self, name: str, num_bins: int = DEFAULT_NUM_BINS) -> None:
        if num_bins < 2:
            raise ValueError(f"num_bins must be at least 2, got {num_bins}.")
        self.name = name
        self.num_bins = num_bins
        self.min = math.inf
        self.max = -math.inf
        self.count = 0
        self.zero_count = 0  # values exactly 0.0, which every uint8 range represents exactly
        self._counts = np.zeros(num_bins, dtype=np.int64)
        self._bin_width = 0.0  # 0 until the first non-empty update
        self._first_bin = 0  # bin i covers [(first_bin + i) * width, (first_bin + i + 1) * width)

    def update(self, values: np.ndarray) -> None:
        """Add every element of ``values`` (any shape, any float dtype) to the statistics.

        Raises ``QuantizationError`` naming the tensor when a value is NaN or infinite, because
        no finite range covers it.
        """
        flat = np.asarray(values, dtype=np.float64).ravel()
        if flat.size == 0:
            return
        if not np.all(np.isfinite(flat)):
            raise QuantizationError(
                f"Activation {self.name!r} contains NaN or Inf on the calibration data, so it "
                f"has no finite range. Check the calibration data and the FP32 model.")

        batch_min = float(flat.min())
        batch_max = float(flat.max())
        self.min = min(self.min, batch_min)
        self.max = max(self.max, batch_max)
        self.count += flat.size
        self.zero_count += int(np.count_nonzero(flat == 0.0))

        self._cover(self.min, self.max)
        index = np.floor(flat / self._bin_width).astype(np.int64) - self._first_bin
        np.clip(index, 0, self.num_bins - 1, out=index)  # floor may round a last value up
        self._counts += np.bincount(index, minlength=self.num_bins)

    def histogram(self) -> Histogram:
        """Return a copy of the histogram trimmed to the bins between the first and last count."""
        if self.count == 0:
            raise QuantizationError(f"Activation {self.name!r} received no calibration values.")
        occupied = np.flatnonzero(self._counts)
        first, last = int(occupied[0]), int(occupied[-1]) + 1
        edges = (self._first_bin + np.arange(first, last + 1)) * self._bin_width
        return Histogram(counts=self._counts[first:last].copy(), edges=edges)

    def _cover(self, low: float, high: float) -> None:
        """Widen the bins, merging counts exactly, until ``[low, high]`` lies inside them."""
        if self._bin_width == 0.0:
            self._bin_width = _initial_bin_width(low, high, self.num_bins)
            self._first_bin = math.floor(low / self._bin_width)
        merge_exponent = 0
        while not _fits(low, high, self._bin_width * 2**merge_exponent, self.num_bins):
            merge_exponent += 1
        if merge_exponent == 0 and self._inside(low, high):
            return

        width = self._bin_width * 2**merge_exponent
        new_first = math.floor(low / width)
        occupied = np.flatnonzero(self._counts)
        # An arithmetic right shift is floor division by 2**merge_exponent, also below zero.
        new_index = ((self._first_bin + occupied) >> merge_exponent) - new_first
        merged = np.zeros(self.num_bins, dtype=np.int64)
        np.add.at(merged, new_index, self._counts[occupied])
        self._counts = merged
        self._bin_width = width
        self._first_bin = new_first

    def _inside(self, low: float, high: float) -> bool:
        first = math.floor(low / self._bin_width)
        last = math.floor(high / self._bin_width)
        return first >= self._first_bin and last < self._first_bin + self.num_bins


def _fits(low: float, high: float, width: float, num_bins: int) -> bool:
    return math.floor(high / width) - math.floor(low / width) < num_bins


def _initial_bin_width(low: float, high: float, num_bins: int) -> float:
    """Return the smallest power of two that makes ``[low, high]`` fit in ``num_bins`` bins."""
    span = high - low
    if span == 0.0:
        # A single value: a width far below its magnitude keeps later growth exact too.
        span = max(abs(low), 2.0**-100) * 2.0**-20
    width = 2.0 ** math.floor(math.log2(span / num_bins))
    while not _fits(low, high, width, num_bins):
        width *= 2.0
    return width
