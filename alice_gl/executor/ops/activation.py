"""Activation functions and the softmax family, each following the spec's formula."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from alice_gl.executor.ops.common import Inputs, normalize_axis, optional_input
from alice_gl.executor.registry import register


def _typed(x: np.ndarray, value: float) -> np.ndarray:
    """Return ``value`` as a 0-d array of ``x``'s dtype, so float32 math stays float32."""
    return np.asarray(value, dtype=x.dtype)


@register("Relu")
def relu(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    return np.maximum(x, _typed(x, 0))


@register("LeakyRelu")
def leaky_relu(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    return np.where(x >= 0, x, x * _typed(x, attributes.get("alpha", 0.01)))


@register("PRelu")
def prelu(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x, slope = inputs[0], inputs[1]
    if slope.ndim == 1 and x.ndim > 2 and slope.size == x.shape[1] != x.shape[-1]:
        # Before opset 7 a (C,) slope applied per channel (axis 1). onnx's version converter
        # keeps such slopes unchanged, so an upgraded model still needs that reading.
        slope = slope.reshape(-1, *([1] * (x.ndim - 2)))
    return np.where(x >= 0, x, x * slope).astype(x.dtype, copy=False)


@register("Elu")
def elu(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    alpha = _typed(x, attributes.get("alpha", 1.0))
    return np.where(x >= 0, x, alpha * np.expm1(np.minimum(x, 0)))


@register("Celu")
def celu(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # max(0, x) + min(0, alpha * (exp(x / alpha) - 1))
    x = inputs[0]
    alpha = _typed(x, attributes.get("alpha", 1.0))
    return np.maximum(x, 0) + np.minimum(alpha * np.expm1(x / alpha), 0)


@register("Selu")
def selu(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    alpha = _typed(x, attributes.get("alpha", 1.67326319217681884765625))
    gamma = _typed(x, attributes.get("gamma", 1.05070102214813232421875))
    return gamma * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


@register("ThresholdedRelu")
def thresholded_relu(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    return np.where(x > attributes.get("alpha", 1.0), x, _typed(x, 0))


@register("Sigmoid")
def sigmoid(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    return _sigmoid(x).astype(x.dtype, copy=False)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # 1 / (1 + exp(-x)) overflows for large negative x, so the exponent is kept <= 0. float16
    # is computed in float32, because 1 - p loses most of float16's 11 bits near p = 1.
    wide = x.astype(np.float32) if x.dtype == np.float16 else x
    positive = 1 / (1 + np.exp(-np.abs(wide)))
    return np.where(wide >= 0, positive, 1 - positive)


@register("HardSigmoid")
def hard_sigmoid(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # max(0, min(1, alpha * x + beta))
    x = inputs[0]
    alpha = _typed(x, attributes.get("alpha", 0.2))
    beta = _typed(x, attributes.get("beta", 0.5))
    return np.clip(alpha * x + beta, 0, 1).astype(x.dtype, copy=False)


@register("HardSwish")
def hard_swish(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # x * max(0, min(1, x / 6 + 0.5))
    x = inputs[0]
    return (x * np.clip(x / _typed(x, 6) + _typed(x, 0.5), 0, 1)).astype(x.dtype, copy=False)


@register("Tanh")
def tanh(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return np.tanh(inputs[0])


@register("Softplus")
def softplus(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    # log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), which does not overflow.
    return (np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))).astype(x.dtype, copy=False)


@register("Softsign")
def softsign(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    return x / (1 + np.abs(x))


@register("Mish")
def mish(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    softplus_x = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    return (x * np.tanh(softplus_x)).astype(x.dtype, copy=False)


_erf = np.frompyfunc(math.erf, 1, 1)


@register("Gelu")
def gelu(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    wide = x.astype(np.float64)
    if attributes.get("approximate", "none") == "tanh":
        # 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
        inner = math.sqrt(2 / math.pi) * (wide + 0.044715 * wide**3)
        return (0.5 * wide * (1 + np.tanh(inner))).astype(x.dtype)
    # 0.5 x (1 + erf(x / sqrt(2))), with math.erf per element for double precision.
    return (0.5 * wide * (1 + _erf(wide / math.sqrt(2)).astype(np.float64))).astype(x.dtype)


@register("Clip")
def clip_v1(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    low = attributes.get("min", -np.inf)
    high = attributes.get("max", np.inf)
    return np.clip(x, low, high).astype(x.dtype, copy=False)


@register("Clip", since_version=11)
def clip_v11(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    low, high = optional_input(inputs, 1), optional_input(inputs, 2)
    y = x
    if low is not None:
        y = np.maximum(y, low)
    if high is not None:
        y = np.minimum(y, high)
    return np.asarray(y).astype(x.dtype, copy=False)


def _softmax_flat(x: np.ndarray, axis: int, log: bool) -> np.ndarray:
    """Softmax before opset 13: x is viewed as 2-D, [prod(shape[:axis]), prod(shape[axis:])]."""
    axis = normalize_axis(axis, x.ndim)
    flat = x.reshape(int(np.prod(x.shape[:axis])), -1)
    return _softmax(flat, 1, log).reshape(x.shape)


def _softmax(x: np.ndarray, axis: int, log: bool) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    if log:
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    exp = np.exp(shifted)
    return exp / np.sum(exp, axis=axis, keepdims=True)


@register("Softmax")
def softmax_v1(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return _softmax_flat(inputs[0], attributes.get("axis", 1), log=False)


@register("Softmax", since_version=13)
def softmax_v13(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return _softmax(inputs[0], attributes.get("axis", -1), log=False)


@register("LogSoftmax")
def log_softmax_v1(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return _softmax_flat(inputs[0], attributes.get("axis", 1), log=True)


@register("LogSoftmax", since_version=13)
def log_softmax_v13(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return _softmax(inputs[0], attributes.get("axis", -1), log=True)


@register("Hardmax", since_version=13)
def hardmax(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    axis = normalize_axis(attributes.get("axis", -1), x.ndim)
    # The first maximum along the axis becomes 1, everything else 0.
    winner = np.expand_dims(np.argmax(x, axis=axis), axis)
    y = np.zeros_like(x)
    np.put_along_axis(y, winner, 1, axis=axis)
    return y


@register("Swish", since_version=24)
def swish(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # x * sigmoid(alpha * x)
    x = inputs[0]
    scaled = x * _typed(x, attributes.get("alpha", 1.0))
    return (x * _sigmoid(scaled)).astype(x.dtype, copy=False)
