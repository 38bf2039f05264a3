"""Resize (nearest, linear, cubic) applied one axis at a time, since each mode is separable.

Nearest gathers with ``np.take``; linear and cubic multiply the axis by an (out, in) matrix of
interpolation weights. Coordinate transforms and nearest rounding follow the ONNX spec and the
onnx reference implementation (onnx 1.23).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from alice_gl.executor.ops.common import Inputs, normalize_axes, optional_input
from alice_gl.executor.registry import register

_MODES = ("nearest", "linear", "cubic")
_TRANSFORMS = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
               "asymmetric", "tf_crop_and_resize")
_NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def _check_resize(attributes: dict[str, Any]) -> str | None:
    if attributes.get("antialias", 0):
        # TODO: antialias widens the filter when downscaling; not implemented yet.
        return "antialias=1 is not supported"
    for name, allowed in (("mode", _MODES), ("coordinate_transformation_mode", _TRANSFORMS),
                          ("nearest_mode", _NEAREST_MODES)):
        if name in attributes and attributes[name] not in allowed:
            return f"{name}={attributes[name]!r} is not one of {list(allowed)}"
    return None


def _source_coordinates(mode: str, output: int, input_size: int, scale: float,
                        roi: tuple[float, float]) -> np.ndarray:
    """Return the input coordinate of each output index for ``coordinate_transformation_mode``.

    Like the onnx reference, align_corners and tf_crop_and_resize use the unrounded output
    length ``scale * input_size``.

    NOTE: onnxruntime 1.32 divides by the integer output length instead, so the two disagree
    when ``scale * input_size`` is fractional. The ONNX node tests follow the reference.
    """
    x = np.arange(output, dtype=np.float64)
    length = scale * input_size
    if mode == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        offset = input_size / 2 * (1 - output / length)
        return offset + (x + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if length > 1 else np.full(output, -0.5)
    if mode == "align_corners":
        return x * (input_size - 1) / (length - 1) if length != 1 else np.zeros(output)
    if mode == "asymmetric":
        return x / scale
    if mode == "tf_crop_and_resize":
        start, end = roi
        if length == 1:
            return np.full(output, (end - start) * (input_size - 1) / 2 + start * (input_size - 1))
        return start * (input_size - 1) + x * (end - start) * (input_size - 1) / (length - 1)
    raise ValueError(f"unknown coordinate_transformation_mode {mode!r}")


def _nearest_index(coordinates: np.ndarray, nearest_mode: str, scale: float) -> np.ndarray:
    fraction = coordinates - np.floor(coordinates)
    if nearest_mode == "round_prefer_floor":
        index = np.where(fraction == 0.5, np.floor(coordinates), np.round(coordinates))
    elif nearest_mode == "round_prefer_ceil":
        index = np.where(fraction == 0.5, np.ceil(coordinates), np.round(coordinates))
    elif nearest_mode == "floor":
        index = np.floor(coordinates)
    elif nearest_mode == "ceil":
        index = np.ceil(coordinates)
    elif nearest_mode == "simple":
        # Resize-10 and Upsample in onnxruntime: ceil when downscaling, else truncate.
        index = np.ceil(coordinates) if scale < 1 else np.trunc(coordinates)
    else:
        raise ValueError(f"unknown nearest_mode {nearest_mode!r}")
    return index.astype(np.int64)


def _cubic_weights(t: np.ndarray, a: float) -> np.ndarray:
    """Return the 4 weights of taps floor(x) - 1 .. floor(x) + 2 for fraction ``t``, by the
    cubic convolution kernel with coefficient ``a`` (cubic_coeff_a)."""
    def near(d: np.ndarray) -> np.ndarray:
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d: np.ndarray) -> np.ndarray:
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=-1)


def _weight_matrix(coordinates: np.ndarray, input_size: int, mode: str,
                   attributes: dict[str, Any]) -> np.ndarray:
    """Return the (output, input) matrix that linear or cubic interpolation applies."""
    output = coordinates.size
    matrix = np.zeros((output, input_size), dtype=np.float64)
    rows = np.arange(output)
    if mode == "linear":
        # Coordinates outside the input read the edge value.
        clamped = np.clip(coordinates, 0, input_size - 1)
        low = np.floor(clamped).astype(np.int64)
        high = np.minimum(low + 1, input_size - 1)
        t = clamped - low
        np.add.at(matrix, (rows, low), 1 - t)
        np.add.at(matrix, (rows, high), t)
        return matrix
    base = np.floor(coordinates).astype(np.int64)
    weights = _cubic_weights(coordinates - base, attributes.get("cubic_coeff_a", -0.75))
    taps = base.reshape(-1, 1) + np.arange(-1, 3).reshape(1, -1)
    if attributes.get("exclude_outside", 0):
        # Taps outside the input get weight 0 and the rest are renormalized to sum to 1.
        weights = np.where((taps >= 0) & (taps < input_size), weights, 0)
        weights = weights / weights.sum(axis=1, keepdims=True)
    np.add.at(matrix, (np.repeat(rows, 4), np.clip(taps, 0, input_size - 1).reshape(-1)),
              weights.reshape(-1))
    return matrix


def _output_geometry(x: np.ndarray, axes: tuple[int, ...], scales: np.ndarray | None,
                     sizes: np.ndarray | None, policy: str) -> tuple[list[int], list[float]]:
    """Return the output size and the scale of each axis in ``axes``."""
    inputs = [x.shape[axis] for axis in axes]
    if sizes is not None and sizes.size:
        sizes = [int(size) for size in sizes]
        if policy in ("not_larger", "not_smaller"):
            ratios = [size / size_in for size, size_in in zip(sizes, inputs, strict=True)]
            ratio = min(ratios) if policy == "not_larger" else max(ratios)
            # Round half up, as the onnx reference does (floor(v + 0.5)).
            sizes = [math.floor(ratio * size_in + 0.5) for size_in in inputs]
            return sizes, [ratio] * len(axes)
        return sizes, [size / size_in for size, size_in in zip(sizes, inputs, strict=True)]
    factors = [float(scale) for scale in scales]
    outputs = [math.floor(size_in * factor)
               for size_in, factor in zip(inputs, factors, strict=True)]
    return outputs, factors


def _resize(x: np.ndarray, roi: np.ndarray | None, scales: np.ndarray | None,
            sizes: np.ndarray | None, attributes: dict[str, Any], defaults: dict[str, str]
            ) -> np.ndarray:
    axes = normalize_axes(attributes.get("axes", range(x.ndim)), x.ndim)
    outputs, factors = _output_geometry(x, axes, scales, sizes,
                                        attributes.get("keep_aspect_ratio_policy", "stretch"))
    mode = attributes.get("mode", "nearest")
    transform = attributes.get("coordinate_transformation_mode",
                               defaults["coordinate_transformation_mode"])
    nearest_mode = attributes.get("nearest_mode", defaults["nearest_mode"])
    extrapolation = attributes.get("extrapolation_value", 0.0)
    y = x.astype(np.float64) if mode != "nearest" else x
    outside_masks = []

    for position, axis in enumerate(axes):
        size_in, size_out, factor = x.shape[axis], outputs[position], factors[position]
        if size_in == size_out and transform != "tf_crop_and_resize":
            continue
        region = (0.0, 1.0)
        if roi is not None and roi.size:
            region = (float(roi[position]), float(roi[position + len(axes)]))
        coordinates = _source_coordinates(transform, size_out, size_in, factor, region)
        if transform == "tf_crop_and_resize":
            shape = [1] * x.ndim
            shape[axis] = size_out
            outside = (coordinates < 0) | (coordinates > size_in - 1)
            outside_masks.append(outside.reshape(shape))
        if mode == "nearest":
            index = np.clip(_nearest_index(coordinates, nearest_mode, factor), 0, size_in - 1)
            y = np.take(y, index, axis=axis)
        else:
            matrix = _weight_matrix(coordinates, size_in, mode, attributes)
            y = np.moveaxis(np.moveaxis(y, axis, -1) @ matrix.T, -1, axis)

    for outside in outside_masks:
        y = np.where(outside, extrapolation, y)
    return y.astype(x.dtype)


_DEFAULTS_V10 = {"coordinate_transformation_mode": "asymmetric", "nearest_mode": "simple"}
_DEFAULTS_V11 = {"coordinate_transformation_mode": "half_pixel",
                 "nearest_mode": "round_prefer_floor"}


@register("Resize", since_version=10)
def resize_v10(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return _resize(inputs[0], None, inputs[1], None, attributes, _DEFAULTS_V10)


@register("Resize", since_version=11, check=_check_resize)
def resize_v11(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return _resize(inputs[0], optional_input(inputs, 1), optional_input(inputs, 2),
                   optional_input(inputs, 3), attributes, _DEFAULTS_V11)


@register("Upsample", since_version=7)
def upsample_v7(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # Upsample (deprecated since opset 10) is Resize-10: asymmetric coordinates.
    scales = np.array(attributes["scales"], dtype=np.float32)
    return _resize(inputs[0], None, scales, None, attributes, _DEFAULTS_V10)


@register("Upsample", since_version=9)
def upsample_v9(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return _resize(inputs[0], None, inputs[1], None, attributes, _DEFAULTS_V10)
