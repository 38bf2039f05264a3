"""Symmetric int8 weight quantization: ``scale = max|w| / 127``, zero point 0.

The quantized values lie in [-127, 127], so the range is symmetric and -128 is never used.
Dequantizing ``q * scale`` recovers each weight to within ``scale / 2``.
"""

from __future__ import annotations

import numpy as np

from alice_gl.errors import QuantizationError

INT8_MAX = 127
# Scale of a channel whose weights are all zero: any positive value works because every
# quantized value is 0, and 1.0 keeps it exactly representable.
ZERO_CHANNEL_SCALE = np.float32(1.0)


def quantize_weight(w: np.ndarray, axis: int | None, *,
                    name: str = "weight") -> tuple[np.ndarray, np.ndarray]:
    """Quantize the float array ``w`` to int8 with one scale per index of ``axis``.

    ``axis=None`` quantizes per tensor and returns a 0-d ``scale``; an integer ``axis``
    (negative counts from the end) returns a 1-D ``scale`` of length ``w.shape[axis]``.
    Returns ``(q, scale)``: ``q`` is int8 with the shape of ``w`` and ``scale`` is float32,
    always positive and finite. ``w`` is never modified. Raises ``QuantizationError``
    naming ``name`` when ``w`` contains NaN or Inf, and ``ValueError`` for an axis out of range.
    """
    values = np.asarray(w)
    if not np.issubdtype(values.dtype, np.floating):
        raise QuantizationError(f"Weight {name} has dtype {values.dtype}; only floating-point "
                                "weights can be quantized.")
    if not np.all(np.isfinite(values)):
        bad = int(np.count_nonzero(~np.isfinite(values)))
        raise QuantizationError(f"Weight {name} contains {bad} NaN or Inf value(s); fix the "
                                "model's weights or exclude the node that uses it.")

    values = values.astype(np.float64)
    if axis is None:
        max_abs = np.max(np.abs(values), initial=0.0)
        scale = _scale_from_max_abs(np.asarray(max_abs))
        q = np.rint(values / np.float64(scale))
    else:
        axis = _normalize_axis(axis, values.ndim)
        other_axes = tuple(i for i in range(values.ndim) if i != axis)
        max_abs = np.max(np.abs(values), axis=other_axes, initial=0.0)
        scale = _scale_from_max_abs(max_abs)
        broadcast_shape = [1] * values.ndim
        broadcast_shape[axis] = -1
        q = np.rint(values / scale.astype(np.float64).reshape(broadcast_shape))

    q = np.clip(q, -INT8_MAX, INT8_MAX).astype(np.int8)
    return q, scale


def dequantize_weight(q: np.ndarray, scale: np.ndarray, axis: int | None) -> np.ndarray:
    """Return ``q * scale`` as float32, broadcasting ``scale`` along ``axis`` (None: per tensor)."""
    if axis is None:
        return q.astype(np.float32) * np.float32(scale)
    axis = _normalize_axis(axis, q.ndim)
    broadcast_shape = [1] * q.ndim
    broadcast_shape[axis] = -1
    return q.astype(np.float32) * scale.astype(np.float32).reshape(broadcast_shape)


def _scale_from_max_abs(max_abs: np.ndarray) -> np.ndarray:
    """Return float32 ``max_abs / 127`` with zeros replaced and underflow clamped."""
    scale = (max_abs / INT8_MAX).astype(np.float32)
    # A max|w| below 127 * float32 tiny underflows to 0; the smallest normal float32 keeps
    # every |w| / scale <= 127.
    tiny = np.finfo(np.float32).tiny
    scale = np.where((max_abs > 0) & (scale < tiny), tiny, scale)
    scale = np.where(max_abs == 0, ZERO_CHANNEL_SCALE, scale)
    return scale.astype(np.float32)


def _normalize_axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for a weight of rank {ndim}.")
    return axis % ndim
