"""Selection and scattering by index: TopK, OneHot, GatherND, ScatterND, ScatterElements, CumSum,
Trilu, Compress, EyeLike and ReverseSequence."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from alice_gl.executor.ops.common import Inputs, normalize_axis, optional_input
from alice_gl.executor.registry import register


@register("TopK", since_version=10)
def top_k(inputs: Inputs, attributes: dict[str, Any]) -> list[np.ndarray]:
    """Return the k largest (or smallest) values along ``axis`` and their int64 indices.

    Equal values keep their input order, so the lower index comes first, as onnxruntime does.
    """
    x = inputs[0]
    k = int(inputs[1].reshape(-1)[0])
    axis = normalize_axis(attributes.get("axis", -1), x.ndim)
    if attributes.get("largest", 1):
        # A stable ascending sort of the reversed axis, read backwards, is a descending sort
        # in which ties keep ascending input indices.
        flipped = np.argsort(np.flip(x, axis=axis), axis=axis, kind="stable")
        order = x.shape[axis] - 1 - np.flip(flipped, axis=axis)
    else:
        order = np.argsort(x, axis=axis, kind="stable")
    indices = np.take(order, np.arange(k), axis=axis)
    return [np.take_along_axis(x, indices, axis=axis), indices.astype(np.int64)]


@register("OneHot", since_version=9)
def one_hot(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # Negative indices count from depth; indices outside [-depth, depth) give all off_value.
    indices, depth, values = inputs[0], int(inputs[1].reshape(-1)[0]), inputs[2]
    rank = indices.ndim + 1
    axis = normalize_axis(attributes.get("axis", -1), rank)
    wrapped = np.where(indices < 0, indices + depth, indices).astype(np.int64)
    positions = np.arange(depth).reshape([-1 if dim == axis else 1 for dim in range(rank)])
    hot = np.expand_dims(wrapped, axis) == positions
    return np.where(hot, values[1], values[0]).astype(values.dtype)


@register("GatherND", since_version=11)
def gather_nd(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    data, indices = inputs[0], inputs[1].astype(np.int64)
    batch_dims = attributes.get("batch_dims", 0)
    batch_shape = data.shape[:batch_dims]
    depth = indices.shape[-1]
    flat_data = data.reshape(-1, *data.shape[batch_dims:])
    flat_indices = indices.reshape(flat_data.shape[0], -1, depth)
    gathered = []
    for batch in range(flat_data.shape[0]):
        index = flat_indices[batch]
        bounds = np.array(data.shape[batch_dims:batch_dims + depth])
        index = np.where(index < 0, index + bounds, index)
        gathered.append(flat_data[batch][tuple(index.T)])
    result = np.stack(gathered)
    return result.reshape(*batch_shape, *indices.shape[batch_dims:-1],
                          *data.shape[batch_dims + depth:])


_REDUCTIONS = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}


@register("ScatterND", since_version=11)
def scatter_nd(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    data, indices, updates = inputs[0], inputs[1].astype(np.int64), inputs[2]
    output = np.copy(data)
    depth = indices.shape[-1]
    flat_indices = indices.reshape(-1, depth)
    flat_updates = updates.reshape(flat_indices.shape[0], *data.shape[depth:])
    reduction = _REDUCTIONS.get(attributes.get("reduction", "none"))
    # Updates apply one at a time in index order, so repeated indices combine as the spec
    # defines.
    for index, update in zip(flat_indices, flat_updates, strict=True):
        target = tuple(index)
        output[target] = update if reduction is None else reduction(output[target], update)
    return output


@register("ScatterElements", since_version=11)
def scatter_elements(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    data, indices, updates = inputs[0], inputs[1].astype(np.int64), inputs[2]
    axis = normalize_axis(attributes.get("axis", 0), data.ndim)
    indices = np.where(indices < 0, indices + data.shape[axis], indices)
    output = np.copy(data)
    reduction = _REDUCTIONS.get(attributes.get("reduction", "none"))
    for position in np.ndindex(*indices.shape):
        target = list(position)
        target[axis] = indices[position]
        target = tuple(target)
        update = updates[position]
        output[target] = update if reduction is None else reduction(output[target], update)
    return output


@register("CumSum", since_version=11)
def cum_sum(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    axis = normalize_axis(int(inputs[1].reshape(-1)[0]), x.ndim)
    reverse = attributes.get("reverse", 0)
    values = np.flip(x, axis=axis) if reverse else x
    if attributes.get("exclusive", 0):
        # Each output excludes its own element, so sum a copy shifted by one that starts at 0.
        head = np.zeros_like(np.take(values, [0], axis=axis))
        rest = np.take(values, np.arange(values.shape[axis] - 1), axis=axis)
        values = np.concatenate([head, rest], axis=axis)
    total = np.cumsum(values, axis=axis, dtype=x.dtype)
    return np.flip(total, axis=axis) if reverse else total


@register("Trilu", since_version=14)
def trilu(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    k_input = optional_input(inputs, 1)
    k = 0 if k_input is None else int(k_input.reshape(-1)[0])
    return np.triu(x, k) if attributes.get("upper", 1) else np.tril(x, k)


@register("Compress", since_version=9)
def compress(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # A condition shorter than the axis selects nothing past its end.
    x, condition = inputs[0], inputs[1].astype(bool)
    axis = attributes.get("axis")
    return np.compress(condition, x, axis=axis)


@register("EyeLike", since_version=9)
def eye_like(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    dtype = (np.dtype(onnx.helper.tensor_dtype_to_np_dtype(attributes["dtype"]))
             if "dtype" in attributes else x.dtype)
    return np.eye(x.shape[0], x.shape[1], k=attributes.get("k", 0), dtype=dtype)


@register("ReverseSequence", since_version=10)
def reverse_sequence(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x, lengths = inputs[0], inputs[1].astype(np.int64)
    batch_axis = attributes.get("batch_axis", 1)
    time_axis = attributes.get("time_axis", 0)
    output = np.copy(x)
    for batch, length in enumerate(lengths):
        source = [slice(None)] * x.ndim
        source[batch_axis] = batch
        source[time_axis] = slice(0, int(length))
        output[tuple(source)] = np.flip(x[tuple(source)], axis=time_axis - (
            1 if batch_axis < time_axis else 0))
    return output
