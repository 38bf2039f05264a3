"""Helpers shared by kernels: axis normalization and reading optional inputs."""

from __future__ import annotations

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


def integer_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return ``a @ b`` for integer arrays as int32, exactly as int32 accumulation gives it.

    The product runs in float64 BLAS, which is exact while ``K * max|a| * max|b| < 2**53``,
    where K is the shared dimension. For uint8/int8 operands minus zero points that holds for
    any K below about 10**11. Past the bound the product runs in int64 instead. The int64 result is
    then wrapped to int32, which equals int32 accumulation with wrap-around because addition
    modulo 2**32 does not depend on the order of the terms.
    """
    a = a.astype(np.int64, copy=False)
    b = b.astype(np.int64, copy=False)
    depth = a.shape[-1] if a.ndim else 1
    bound = depth * int(np.abs(a).max(initial=0)) * int(np.abs(b).max(initial=0))
    if bound < _FLOAT64_EXACT_LIMIT:
        product = np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(np.int64)
    else:
        product = np.matmul(a, b)
    return product.astype(np.int32)


def broadcast_along_axis(parameter: np.ndarray, axis: int, rank: int) -> np.ndarray:
    """Reshape a 1-D per-axis ``parameter`` (a scale or zero point) to broadcast on ``axis``."""
    if parameter.ndim == 0 or rank == 0:
        return parameter
    shape = [1] * rank
    shape[axis] = parameter.size
    return parameter.reshape(shape)
