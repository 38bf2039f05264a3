"""Reductions (ReduceSum, ReduceMean, ReduceMax ...) and ArgMax/ArgMin.

Before opset 18 (opset 13 for ReduceSum) ``axes`` is an attribute. From then on it is an
optional input, and ``noop_with_empty_axes=1`` makes an empty ``axes`` return the input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from alice_gl.executor.ops.common import Inputs, normalize_axes, normalize_axis, optional_input
from alice_gl.executor.registry import register


def _log_sum(x: np.ndarray, axes: Any, keepdims: bool) -> np.ndarray:
    return np.log(np.sum(x, axis=axes, keepdims=keepdims))


def _log_sum_exp(x: np.ndarray, axes: Any, keepdims: bool) -> np.ndarray:
    # log(sum(exp(x))) = m + log(sum(exp(x - m))) with m the maximum, so for finite x every
    # exp(x - m) is at most 1 and cannot overflow.
    if x.size == 0:
        return np.log(np.sum(np.exp(x), axis=axes, keepdims=keepdims))
    peak = np.max(x, axis=axes, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0)
    total = np.log(np.sum(np.exp(x - peak), axis=axes, keepdims=True)) + peak
    return total if keepdims else np.squeeze(total, axis=axes)


def _extreme(function: Any, identity: float) -> Any:
    def reduce(x: np.ndarray, axes: Any, keepdims: bool) -> np.ndarray:
        # An empty reduction yields the identity: -inf for max, +inf for min (as the spec).
        if x.size == 0:
            if np.issubdtype(x.dtype, np.floating):
                fill = identity
            elif x.dtype == np.bool_:
                fill = identity > 0
            else:
                fill = np.iinfo(x.dtype).min if identity < 0 else np.iinfo(x.dtype).max
            shape = np.sum(np.zeros(x.shape), axis=axes, keepdims=keepdims).shape
            return np.full(shape, fill, dtype=x.dtype)
        return function(x, axis=axes, keepdims=keepdims)

    return reduce


_REDUCTIONS: dict[str, Any] = {
    "ReduceSum": lambda x, axes, keepdims: np.sum(x, axis=axes, keepdims=keepdims),
    "ReduceMean": lambda x, axes, keepdims: np.mean(x, axis=axes, keepdims=keepdims),
    "ReduceMax": _extreme(np.max, -np.inf),
    "ReduceMin": _extreme(np.min, np.inf),
    "ReduceProd": lambda x, axes, keepdims: np.prod(x, axis=axes, keepdims=keepdims),
    "ReduceL1": lambda x, axes, keepdims: np.sum(np.abs(x), axis=axes, keepdims=keepdims),
    "ReduceL2": lambda x, axes, keepdims: np.sqrt(np.sum(np.square(x), axis=axes,
                                                         keepdims=keepdims)),
    "ReduceSumSquare": lambda x, axes, keepdims: np.sum(np.square(x), axis=axes,
                                                        keepdims=keepdims),
    "ReduceLogSum": _log_sum,
    "ReduceLogSumExp": _log_sum_exp,
}

# The opset where ``axes`` moved from attribute to input.
_AXES_INPUT_SINCE = {op_type: 18 for op_type in _REDUCTIONS} | {"ReduceSum": 13}


def _reduce(op_type: str, x: np.ndarray, axes: Any, attributes: dict[str, Any]) -> np.ndarray:
    keepdims = bool(attributes.get("keepdims", 1))
    axes = None if axes is None else np.atleast_1d(axes)
    if axes is None or len(axes) == 0:
        if attributes.get("noop_with_empty_axes", 0):
            return x
        axes_tuple = tuple(range(x.ndim))
    else:
        axes_tuple = normalize_axes(axes, x.ndim)
    result = _REDUCTIONS[op_type](x, axes_tuple, keepdims)
    return np.asarray(result).astype(x.dtype, copy=False)


def _register_reduction(op_type: str) -> None:
    @register(op_type)
    def with_axes_attribute(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
        return _reduce(op_type, inputs[0], attributes.get("axes"), attributes)

    @register(op_type, since_version=_AXES_INPUT_SINCE[op_type])
    def with_axes_input(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
        return _reduce(op_type, inputs[0], optional_input(inputs, 1), attributes)


for _op_type in _REDUCTIONS:
    _register_reduction(_op_type)


def _arg_extreme(x: np.ndarray, attributes: dict[str, Any], function: Any) -> np.ndarray:
    axis = normalize_axis(attributes.get("axis", 0), x.ndim)
    if attributes.get("select_last_index", 0):
        # Search the reversed axis and map the position back, to pick the last tie.
        flipped = function(np.flip(x, axis=axis), axis=axis)
        index = x.shape[axis] - 1 - flipped
    else:
        index = function(x, axis=axis)
    if attributes.get("keepdims", 1):
        index = np.expand_dims(index, axis)
    return index.astype(np.int64)


@register("ArgMax")
def arg_max(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return _arg_extreme(inputs[0], attributes, np.argmax)


@register("ArgMin")
def arg_min(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return _arg_extreme(inputs[0], attributes, np.argmin)
