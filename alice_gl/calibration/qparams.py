"""uint8 scale and zero point of an activation range, as QuantizeLinear uses them."""

from __future__ import annotations

import math

import numpy as np

QMAX = 255
# The scale used when the range has width 0 (all-zero tensors) or one so small that
# (rmax - rmin) / 255 underflows float32: every value then quantizes to the zero point.
FALLBACK_SCALE = 1.0


def scale_zero_point(rmin: float, rmax: float) -> tuple[np.float32, np.uint8]:
    """Return the uint8 ``(scale, zero_point)`` for the range ``[rmin, rmax]``.

    The range is first widened to contain 0, so 0 is exact. Then
    ``scale = (rmax - rmin) / 255`` and ``zero_point = round(-rmin / scale)`` clipped to
    [0, 255]. The scale is always a positive, finite float32.
    """
    if not (math.isfinite(rmin) and math.isfinite(rmax)) or rmin > rmax:
        raise ValueError(f"Invalid calibration range [{rmin}, {rmax}]: it must be finite and "
                         f"ordered.")
    rmin = min(rmin, 0.0)
    rmax = max(rmax, 0.0)
    scale = np.float32((rmax - rmin) / QMAX)
    if not (np.isfinite(scale) and scale >= np.finfo(np.float32).tiny):
        return np.float32(FALLBACK_SCALE), np.uint8(0)
    zero_point = np.clip(np.round(-rmin / float(scale)), 0, QMAX)
    return scale, np.uint8(zero_point)
