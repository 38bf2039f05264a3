"""Operators that move, select or create data without arithmetic: Reshape, Slice, Pad, Cast..."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from alice_gl.executor.ops.common import Inputs, normalize_axes, normalize_axis, optional_input
from alice_gl.executor.registry import register


@register("Identity")
def identity(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return inputs[0]


@register("Reshape", since_version=5)
def reshape(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    data, shape = inputs[0], [int(size) for size in inputs[1]]
    if not attributes.get("allowzero", 0):
        # A 0 copies the input's size on that axis unless allowzero=1.
        shape = [data.shape[axis] if size == 0 else size for axis, size in enumerate(shape)]
    return data.reshape(shape)


@register("Flatten")
def flatten(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    axis = attributes.get("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis
    return x.reshape(int(np.prod(x.shape[:axis])), int(np.prod(x.shape[axis:])))


@register("Transpose")
def transpose(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # The default perm reverses the axes, as np.transpose does.
    return np.transpose(inputs[0], attributes.get("perm"))


@register("Squeeze")
def squeeze_v1(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return _squeeze(inputs[0], attributes.get("axes"))


@register("Squeeze", since_version=13)
def squeeze_v13(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return _squeeze(inputs[0], optional_input(inputs, 1))


def _squeeze(x: np.ndarray, axes: Any) -> np.ndarray:
    if axes is None:
        return np.squeeze(x)
    return np.squeeze(x, axis=normalize_axes(np.atleast_1d(axes), x.ndim))


@register("Unsqueeze")
def unsqueeze_v1(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return _unsqueeze(inputs[0], attributes["axes"])


@register("Unsqueeze", since_version=13)
def unsqueeze_v13(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return _unsqueeze(inputs[0], inputs[1])


def _unsqueeze(x: np.ndarray, axes: Any) -> np.ndarray:
    # Axes refer to the output's rank, so negative ones are normalized against it.
    axes = np.atleast_1d(axes)
    return np.expand_dims(x, normalize_axes(axes, x.ndim + len(axes)))


@register("Concat")
def concat(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return np.concatenate([x for x in inputs if x is not None], axis=attributes["axis"])


@register("Split")
def split_v1(inputs: Inputs, attributes: dict[str, Any]) -> list[np.ndarray]:
    return _split(inputs[0], attributes.get("axis", 0), attributes.get("split"),
                  attributes.output_count)


@register("Split", since_version=13)
def split_v13(inputs: Inputs, attributes: dict[str, Any]) -> list[np.ndarray]:
    return _split(inputs[0], attributes.get("axis", 0), optional_input(inputs, 1),
                  attributes.get("num_outputs", attributes.output_count))


def _split(x: np.ndarray, axis: int, split: Any, count: int) -> list[np.ndarray]:
    axis = normalize_axis(axis, x.ndim)
    if split is None or len(split) == 0:
        # Equal parts, rounded up; from opset 18 the last part may be smaller.
        size = -(-x.shape[axis] // count)
        split = [min(size, x.shape[axis] - index * size) for index in range(count)]
    boundaries = np.cumsum([int(part) for part in split])[:-1]
    return np.split(x, boundaries, axis=axis)


@register("Slice")
def slice_v1(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return _slice(inputs[0], attributes["starts"], attributes["ends"], attributes.get("axes"),
                  None)


@register("Slice", since_version=10)
def slice_v10(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return _slice(inputs[0], inputs[1], inputs[2], optional_input(inputs, 3),
                  optional_input(inputs, 4))


def _slice(x: np.ndarray, starts: Any, ends: Any, axes: Any, steps: Any) -> np.ndarray:
    axes = range(len(starts)) if axes is None else normalize_axes(axes, x.ndim)
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * x.ndim
    for axis, start, end, step in zip(axes, starts, ends, steps, strict=True):
        # Python slicing clamps out-of-range starts and ends the way the spec describes. Values
        # far past the limits (INT64_MAX) are clamped first, so they stay valid indices.
        size = x.shape[axis]
        start, end = int(np.clip(int(start), -size - 1, size + 1)), int(
            np.clip(int(end), -size - 1, size + 1))
        if int(step) < 0 and end < -size:
            end = None
        if int(step) < 0 and start < -size:
            start = 0
        index[axis] = slice(start, end, int(step))
    return x[tuple(index)]


@register("Gather")
def gather(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # np.take counts negative indices from the end, as the spec does.
    return np.take(inputs[0], inputs[1].astype(np.int64), axis=attributes.get("axis", 0))


@register("GatherElements")
def gather_elements(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    data, indices = inputs[0], inputs[1].astype(np.int64)
    axis = normalize_axis(attributes.get("axis", 0), data.ndim)
    indices = np.where(indices < 0, indices + data.shape[axis], indices)
    return np.take_along_axis(data, indices, axis=axis)


@register("Shape")
def shape(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # start and end (opset 15) select a slice of the shape; Python slicing clamps them.
    dims = inputs[0].shape[attributes.get("start", 0):attributes.get("end")]
    return np.array(dims, dtype=np.int64)


@register("Size")
def size(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return np.array(inputs[0].size, dtype=np.int64)


def _check_constant(attributes: dict[str, Any]) -> str | None:
    if "sparse_value" in attributes:
        return "sparse_value is not supported; store the tensor as a dense value"
    return None


@register("Constant", check=_check_constant)
def constant(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    if "value" in attributes:
        return attributes["value"]
    if "value_float" in attributes:
        return np.array(attributes["value_float"], dtype=np.float32)
    if "value_floats" in attributes:
        return np.array(attributes["value_floats"], dtype=np.float32)
    if "value_int" in attributes:
        return np.array(attributes["value_int"], dtype=np.int64)
    if "value_ints" in attributes:
        return np.array(attributes["value_ints"], dtype=np.int64)
    if "value_string" in attributes:
        return np.array(attributes["value_string"], dtype=object)
    return np.array(attributes["value_strings"], dtype=object)


@register("ConstantOfShape")
def constant_of_shape(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    value = attributes.get("value", np.zeros(1, dtype=np.float32))
    return np.full([int(size) for size in inputs[0]], value.reshape(-1)[0], dtype=value.dtype)


def _numpy_dtype(onnx_type: int) -> np.dtype:
    return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(onnx_type))


_CASTABLE_KINDS = "biufO"


def _check_cast(attributes: dict[str, Any]) -> str | None:
    target = attributes.get("to")
    if target is None:
        return None
    dtype = _numpy_dtype(target)
    name = onnx.TensorProto.DataType.Name(target)
    if dtype.kind not in _CASTABLE_KINDS or name in ("BFLOAT16",):
        return f"casting to {name} is not supported"
    return None


@register("Cast", check=_check_cast)
def cast(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return _cast(inputs[0], _numpy_dtype(attributes["to"]))


@register("CastLike")
def cast_like(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return _cast(inputs[0], inputs[1].dtype)


def _cast(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if x.dtype.kind in "OU" and dtype.kind in "fiub":
        # Strings parse as numbers ("1e3", "INF", "-nan" included), as the spec describes.
        return np.array([float(str(value)) for value in x.reshape(-1)],
                        dtype=np.float64).astype(dtype).reshape(x.shape)
    if dtype == np.dtype(object):
        return np.array([_to_string(value) for value in x.reshape(-1)],
                        dtype=object).reshape(x.shape)
    return x.astype(dtype)


def _to_string(value: object) -> str:
    """Format one number as onnxruntime 1.32 does: shortest round-trip digits, no trailing
    ".0", and NaN, INF and -INF for the special values."""
    if isinstance(value, (np.floating, float)):
        if np.isnan(value):
            return "NaN"
        if np.isinf(value):
            return "INF" if value > 0 else "-INF"
        text = str(value)
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, (np.bool_, bool)):
        return str(int(value))
    return str(value)


@register("Dropout")
def dropout_v1(inputs: Inputs, attributes: dict[str, Any]) -> list[np.ndarray]:
    return [inputs[0], np.ones(inputs[0].shape, dtype=bool)]


@register("Dropout", since_version=12)
def dropout_v12(inputs: Inputs, attributes: dict[str, Any]) -> list[np.ndarray]:
    training_mode = optional_input(inputs, 2)
    ratio = optional_input(inputs, 1)
    if training_mode is not None and bool(training_mode) and (ratio is None or float(ratio)):
        raise NotImplementedError("Dropout with training_mode=true draws random masks; the "
                                  "executor runs inference only. Set training_mode to false.")
    return [inputs[0], np.ones(inputs[0].shape, dtype=bool)]


@register("Expand")
def expand(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    target = np.broadcast_shapes(x.shape, tuple(int(size) for size in inputs[1]))
    return np.array(np.broadcast_to(x, target))


@register("Tile")
def tile(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return np.tile(inputs[0], [int(count) for count in inputs[1]])


@register("Range")
def range_(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    start, limit, delta = (value.reshape(()) for value in inputs[:3])
    # count = max(ceil((limit - start) / delta), 0), and element i is start + i * delta.
    count = max(int(np.ceil((float(limit) - float(start)) / float(delta))), 0)
    return (start + np.arange(count, dtype=start.dtype) * delta).astype(start.dtype)


@register("NonZero")
def non_zero(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return np.array(np.nonzero(inputs[0]), dtype=np.int64).reshape(inputs[0].ndim, -1)


@register("Pad", since_version=2)
def pad_v2(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return _pad(inputs[0], attributes["pads"], attributes.get("mode", "constant"),
                attributes.get("value", 0.0), None)


@register("Pad", since_version=11)
def pad_v11(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    constant_value = optional_input(inputs, 2)
    value = 0 if constant_value is None or constant_value.size == 0 else constant_value.item()
    return _pad(inputs[0], inputs[1], attributes.get("mode", "constant"), value,
                optional_input(inputs, 3))


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "edge", "wrap": "wrap"}


def _pad(x: np.ndarray, pads: Any, mode: str, value: Any, axes: Any) -> np.ndarray:
    """Pad ``x``; ``pads`` lists every axis's begin counts, then every end count (may be < 0)."""
    pads = [int(count) for count in pads]
    axes = range(x.ndim) if axes is None else normalize_axes(axes, x.ndim)
    widths = [[0, 0] for _ in range(x.ndim)]
    for position, axis in enumerate(axes):
        widths[axis] = [pads[position], pads[position + len(axes)]]

    # A negative count removes elements, so crop first and pad with the positive counts.
    crop = tuple(slice(max(-begin, 0), x.shape[axis] - max(-end, 0))
                 for axis, (begin, end) in enumerate(widths))
    x = x[crop]
    positive = [(max(begin, 0), max(end, 0)) for begin, end in widths]
    if mode == "constant":
        return np.pad(x, positive, mode="constant", constant_values=value)
    return np.pad(x, positive, mode=_PAD_MODES[mode])


@register("DepthToSpace")
def depth_to_space(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    n, c, h, w = x.shape
    block = attributes["blocksize"]
    if attributes.get("mode", "DCR") == "DCR":
        y = x.reshape(n, block, block, c // block**2, h, w).transpose(0, 3, 4, 1, 5, 2)
    else:
        y = x.reshape(n, c // block**2, block, block, h, w).transpose(0, 1, 4, 2, 5, 3)
    return y.reshape(n, c // block**2, h * block, w * block)


@register("SpaceToDepth")
def space_to_depth(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    n, c, h, w = x.shape
    block = attributes["blocksize"]
    blocks = x.reshape(n, c, h // block, block, w // block, block)
    if attributes.get("mode", "DCR") == "DCR":
        y = blocks.transpose(0, 3, 5, 1, 2, 4)
    else:
        y = blocks.transpose(0, 1, 3, 5, 2, 4)
    return y.reshape(n, c * block**2, h // block, w // block)
