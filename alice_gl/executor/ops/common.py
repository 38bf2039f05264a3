"""Helpers shared by kernels: axis normalization and reading optional inputs."""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import numpy as np

Inputs = list[np.ndarray | None]


def optional_input(inputs: Inputs, index: int) -> np.ndarray | None:
    """Return ``inputs[index]``, or None when the node omits that optional input."""
    return inputs[index] if index < len(inputs) else None


def normalize_axis(axis: int, rank: int) -> int:
    """Return ``axis`` in ``[0, rank)``; ONNX counts a negative axis from the end."""
    if not -rank <= axis < rank:
        raise ValueError(f"axis {axis} is out of range for rank {rank}")
    return axis % rank if rank else 0


def normalize_axes(axes: Sequence[int] | np.ndarray, rank: int) -> tuple[int, ...]:
    """Return each of ``axes`` normalized to ``[0, rank)``."""
    return tuple(normalize_axis(int(axis), rank) for axis in axes)


# float64 represents every integer below 2**53 exactly, and BLAS sums such integers exactly.
_FLOAT64_EXACT_LIMIT = 2**53


def integer_matmul(a: np.ndarray, b: np.ndarray, a_zero_point: np.ndarray | None = None,
                   b_zero_point: np.ndarray | None = None) -> np.ndarray:
    """Return ``(a - a_zero_point) @ (b - b_zero_point)`` as int32, as int32 accumulation gives.

    Zero points broadcast against their operand. The product runs in float64 BLAS, which is
    exact while ``K * max|a| * max|b| < 2**53``, where K is the shared dimension. For 8-bit
    operands minus 8-bit zero points that holds for any K below about 10**11. Past the bound the
    product runs in int64 instead. The int64 result is then wrapped to int32, which equals int32
    accumulation with wrap-around because addition modulo 2**32 does not depend on the order of
    the terms. The float64 copy of a read-only ``b`` (a plan constant, such as a weight) is
    cached, so repeated runs convert each weight once.
    """
    depth = a.shape[-1] if a.ndim else 1
    bound = depth * _max_magnitude(a, a_zero_point) * _max_magnitude(b, b_zero_point)
    if bound < _FLOAT64_EXACT_LIMIT:
        product = np.matmul(_centered(a, a_zero_point, np.float64),
                            _cached_float64(b, b_zero_point)).astype(np.int64)
    else:
        product = np.matmul(_centered(a, a_zero_point, np.int64),
                            _centered(b, b_zero_point, np.int64))
    return product.astype(np.int32)


def _max_magnitude(x: np.ndarray, zero_point: np.ndarray | None) -> int:
    """Return an upper bound of ``|x - zero_point|``, from the dtypes when both are 8-bit."""
    dtypes = [x.dtype] if zero_point is None else [x.dtype, zero_point.dtype]
    if all(dtype.kind in "iu" and dtype.itemsize == 1 for dtype in dtypes):
        return 2 * 255
    centered = _centered(x, zero_point, np.int64)
    return int(np.abs(centered).max(initial=0))


def _centered(x: np.ndarray, zero_point: np.ndarray | None, dtype: type) -> np.ndarray:
    centered = x.astype(dtype)
    if zero_point is not None:
        centered -= zero_point.astype(dtype)
    return centered


# id(b) -> (weak reference to b, b's zero point, the float64 copy of b - zero point). An entry
# is dropped when b is garbage collected.
_FLOAT64_OPERANDS: dict[int, tuple[weakref.ref, np.ndarray | None, np.ndarray]] = {}


def _cached_float64(b: np.ndarray, zero_point: np.ndarray | None) -> np.ndarray:
    """Return ``b - zero_point`` in float64, cached while ``b`` is alive and read-only."""
    if b.flags.writeable or (zero_point is not None and zero_point.flags.writeable):
        return _centered(b, zero_point, np.float64)
    key = id(b)
    entry = _FLOAT64_OPERANDS.get(key)
    if entry is not None and entry[0]() is b and _same_zero_point(entry[1], zero_point):
        return entry[2]
    converted = _centered(b, zero_point, np.float64)
    converted.setflags(write=False)
    saved_zero_point = None if zero_point is None else zero_point.copy()
    _FLOAT64_OPERANDS[key] = (weakref.ref(b, lambda _: _FLOAT64_OPERANDS.pop(key, None)),
                              saved_zero_point, converted)
    return converted


def _same_zero_point(saved: np.ndarray | None, current: np.ndarray | None) -> bool:
    if saved is None or current is None:
        return saved is None and current is None
    return saved.dtype == current.dtype and np.array_equal(saved, current)


def broadcast_along_axis(parameter: np.ndarray, axis: int, rank: int) -> np.ndarray:
    """Reshape a 1-D per-axis ``parameter`` (a scale or zero point) to broadcast on ``axis``."""
    if parameter.ndim == 0 or rank == 0:
        return parameter
    shape = [1] * rank
    shape[axis] = parameter.size
    return parameter.reshape(shape)
