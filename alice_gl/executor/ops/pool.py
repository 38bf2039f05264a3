"""Pooling: MaxPool (with Indices), AveragePool, LpPool and their global forms, N-d NCHW."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from alice_gl.executor.ops.common import Inputs
from alice_gl.executor.ops.conv import conv_pads, sliding_windows
from alice_gl.executor.registry import register


def _pool_geometry(x: np.ndarray, attributes: dict[str, Any]) -> dict[str, list[int]]:
    """Return kernel, strides, dilations, begin/end pads and output sizes of a pooling node.

    Output size per axis: floor (or ceil with ceil_mode=1) of
    (in + pad_begin + pad_end - dilation * (kernel - 1) - 1) / stride, plus 1; with ceil_mode a
    last window that would start past the input and its begin padding is dropped.
    """
    kernel = list(attributes["kernel_shape"])
    rank = len(kernel)
    strides = list(attributes.get("strides") or [1] * rank)
    dilations = list(attributes.get("dilations") or [1] * rank)
    spatial = x.shape[2:]
    begins, ends = conv_pads(attributes, spatial, kernel, strides, dilations)
    ceil_mode = attributes.get("ceil_mode", 0)
    outputs = []
    for axis in range(rank):
        extent = dilations[axis] * (kernel[axis] - 1) + 1
        span = spatial[axis] + begins[axis] + ends[axis] - extent
        if attributes.get("auto_pad", "NOTSET") in ("SAME_UPPER", "SAME_LOWER"):
            size = -(-spatial[axis] // strides[axis])
        elif ceil_mode:
            size = -(-span // strides[axis]) + 1
            if (size - 1) * strides[axis] >= spatial[axis] + begins[axis]:
                size -= 1
        else:
            size = span // strides[axis] + 1
        outputs.append(size)
    return {"kernel": kernel, "strides": strides, "dilations": dilations, "begins": begins,
            "ends": ends, "outputs": outputs}


def _padded(x: np.ndarray, geometry: dict[str, list[int]], value: Any) -> np.ndarray:
    """Pad ``x`` with ``value`` by the explicit pads plus whatever the last window overhangs."""
    widths = [(0, 0), (0, 0)]
    for axis, size in enumerate(x.shape[2:]):
        extent = geometry["dilations"][axis] * (geometry["kernel"][axis] - 1) + 1
        needed = (geometry["outputs"][axis] - 1) * geometry["strides"][axis] + extent
        begin = geometry["begins"][axis]
        widths.append((begin, max(needed - size - begin, 0)))
    return np.pad(x, widths, mode="constant", constant_values=value)


def _windows(x: np.ndarray, geometry: dict[str, list[int]], value: Any) -> np.ndarray:
    windows = sliding_windows(_padded(x, geometry, value), geometry["kernel"],
                              geometry["strides"], geometry["dilations"])
    # Keep exactly the output positions (padding for ceil_mode may allow one more).
    index = (slice(None), slice(None), *(slice(0, size) for size in geometry["outputs"]))
    return windows[index]


def _lowest(dtype: np.dtype) -> Any:
    return -np.inf if np.issubdtype(dtype, np.floating) else np.iinfo(dtype).min


@register("MaxPool")
def max_pool(inputs: Inputs, attributes: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    geometry = _pool_geometry(x, attributes)
    windows = _windows(x, geometry, _lowest(x.dtype))
    rank = len(geometry["kernel"])
    flat = windows.reshape(*windows.shape[:2 + rank], -1)
    y = flat.max(axis=-1)
    if attributes.output_count < 2:
        return [y]
    return [y, _max_indices(x, flat, geometry, attributes.get("storage_order", 0))]


def _max_indices(x: np.ndarray, flat: np.ndarray, geometry: dict[str, list[int]],
                 storage_order: int) -> np.ndarray:
    """Return MaxPool's Indices: the flat position in ``x`` of each maximum (int64).

    storage_order 0 flattens (N, C, *D) row-major; storage_order 1 flattens the spatial axes
    column-major, as the spec defines for 2-D inputs.
    """
    rank = len(geometry["kernel"])
    tap = np.unravel_index(np.argmax(flat, axis=-1), geometry["kernel"])
    spatial = x.shape[2:]
    coordinates = []
    for axis in range(rank):
        shape = [1] * (2 + rank)
        shape[2 + axis] = geometry["outputs"][axis]
        start = np.arange(geometry["outputs"][axis]).reshape(shape) * geometry["strides"][axis]
        coordinates.append(start + tap[axis] * geometry["dilations"][axis]
                           - geometry["begins"][axis])
    if storage_order:
        coordinates, spatial = coordinates[::-1], spatial[::-1]
    spatial_index = np.ravel_multi_index(coordinates, spatial, mode="clip")
    n, c = x.shape[:2]
    channel = (np.arange(n).reshape(-1, 1) * c + np.arange(c).reshape(1, -1))
    channel = channel.reshape(n, c, *([1] * rank))
    return (channel * math.prod(spatial) + spatial_index).astype(np.int64)


@register("AveragePool")
def average_pool(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    """Average each window; padded cells count only when count_include_pad=1.

    Cells added past the explicit pads for ceil_mode never count.
    """
    x = inputs[0]
    geometry = _pool_geometry(x, attributes)
    rank = len(geometry["kernel"])
    axes = tuple(range(2 + rank, 2 + 2 * rank))
    totals = _windows(x, geometry, 0).sum(axis=axes, dtype=np.float64)

    ones = np.ones((1, 1, *x.shape[2:]), dtype=np.float64)
    if attributes.get("count_include_pad", 0):
        explicit = [(0, 0), (0, 0), *zip(geometry["begins"], geometry["ends"], strict=True)]
        ones = np.pad(ones, explicit, constant_values=1.0)
        shifted = dict(geometry, begins=[0] * rank)
        counts = _windows(ones, shifted, 0).sum(axis=axes)
    else:
        counts = _windows(ones, geometry, 0).sum(axis=axes)
    return (totals / counts).astype(x.dtype)


@register("LpPool")
def lp_pool(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # (sum over the window of |x|^p)^(1/p); padded cells are 0 and add nothing.
    x = inputs[0]
    p = attributes.get("p", 2)
    geometry = _pool_geometry(x, attributes)
    rank = len(geometry["kernel"])
    axes = tuple(range(2 + rank, 2 + 2 * rank))
    powered = _windows(np.abs(x).astype(np.float64) ** p, geometry, 0).sum(axis=axes)
    return (powered ** (1.0 / p)).astype(x.dtype)


def _spatial_axes(x: np.ndarray) -> tuple[int, ...]:
    return tuple(range(2, x.ndim))


@register("GlobalAveragePool")
def global_average_pool(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    return x.mean(axis=_spatial_axes(x), keepdims=True).astype(x.dtype, copy=False)


@register("GlobalMaxPool")
def global_max_pool(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    return x.max(axis=_spatial_axes(x), keepdims=True)


@register("GlobalLpPool")
def global_lp_pool(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    p = attributes.get("p", 2)
    total = (np.abs(x).astype(np.float64) ** p).sum(axis=_spatial_axes(x), keepdims=True)
    return (total ** (1.0 / p)).astype(x.dtype)
