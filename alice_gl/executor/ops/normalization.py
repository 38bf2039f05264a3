"""Normalization operators in inference form: BatchNormalization, LayerNormalization, LRN..."""

from __future__ import annotations

from typing import Any

import numpy as np

from alice_gl.executor.ops.common import Inputs, normalize_axis, optional_input
from alice_gl.executor.registry import register


def _per_channel(parameter: np.ndarray, rank: int) -> np.ndarray:
    """Reshape a (C,) parameter to broadcast over (N, C, *D)."""
    return parameter.reshape(1, -1, *([1] * (rank - 2)))


def _check_batch_normalization(attributes: dict[str, Any]) -> str | None:
    if attributes.get("training_mode", 0):
        return "training_mode=1 updates running statistics; the executor runs inference only"
    return None


@register("BatchNormalization", check=_check_batch_normalization)
def batch_normalization(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # y = (x - input_mean) / sqrt(input_var + epsilon) * scale + B, per channel (axis 1).
    x, scale, bias, mean, var = inputs[:5]
    epsilon = attributes.get("epsilon", 1e-5)
    rank = x.ndim
    factor = scale / np.sqrt(var + np.asarray(epsilon, dtype=var.dtype))
    shift = bias - mean * factor
    y = x * _per_channel(factor, rank).astype(x.dtype) + _per_channel(shift, rank).astype(x.dtype)
    return y.astype(x.dtype, copy=False)


@register("InstanceNormalization")
def instance_normalization(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # Normalize each (n, c) over the spatial axes, then apply the per-channel scale and B.
    x, scale, bias = inputs[:3]
    epsilon = attributes.get("epsilon", 1e-5)
    axes = tuple(range(2, x.ndim))
    wide = x.astype(np.float64)
    mean = wide.mean(axis=axes, keepdims=True)
    var = wide.var(axis=axes, keepdims=True)
    y = (wide - mean) / np.sqrt(var + epsilon)
    return (y * _per_channel(scale, x.ndim) + _per_channel(bias, x.ndim)).astype(x.dtype)


@register("LayerNormalization", since_version=17)
def layer_normalization(inputs: Inputs, attributes: dict[str, Any]) -> list[np.ndarray]:
    """Normalize over the axes from ``axis`` to the last; also return Mean and InvStdDev.

    Statistics are computed in float64, which is at least as precise as the float32 that
    stash_type=1 requests. Mean and InvStdDev are returned as float32 for stash_type=1.
    """
    x, scale = inputs[0], inputs[1]
    bias = optional_input(inputs, 2)
    axis = normalize_axis(attributes.get("axis", -1), x.ndim)
    epsilon = attributes.get("epsilon", 1e-5)
    axes = tuple(range(axis, x.ndim))
    wide = x.astype(np.float64)
    mean = wide.mean(axis=axes, keepdims=True)
    inv_std_dev = 1 / np.sqrt(wide.var(axis=axes, keepdims=True) + epsilon)
    y = (wide - mean) * inv_std_dev * scale
    if bias is not None:
        y = y + bias
    stash = np.float32 if attributes.get("stash_type", 1) == 1 else x.dtype
    return [y.astype(x.dtype), mean.astype(stash), inv_std_dev.astype(stash)]


@register("GroupNormalization", since_version=18)
def group_normalization_v18(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # Opset 18 gives scale and bias per group.
    return _group_normalization(inputs, attributes, per_channel=False)


@register("GroupNormalization", since_version=21)
def group_normalization_v21(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # Opset 21 gives scale and bias per channel.
    return _group_normalization(inputs, attributes, per_channel=True)


def _group_normalization(inputs: Inputs, attributes: dict[str, Any],
                         per_channel: bool) -> np.ndarray:
    x, scale, bias = inputs[:3]
    groups = attributes["num_groups"]
    epsilon = attributes.get("epsilon", 1e-5)
    n, c = x.shape[:2]
    grouped = x.astype(np.float64).reshape(n, groups, -1)
    mean = grouped.mean(axis=2, keepdims=True)
    var = grouped.var(axis=2, keepdims=True)
    normalized = ((grouped - mean) / np.sqrt(var + epsilon)).reshape(x.shape)
    if not per_channel:
        scale = np.repeat(scale, c // groups)
        bias = np.repeat(bias, c // groups)
    y = normalized * _per_channel(scale, x.ndim) + _per_channel(bias, x.ndim)
    return y.astype(x.dtype)


@register("LRN")
def lrn(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    """Local response normalization across channels.

    square_sum[c] = sum of x[c']^2 for c' in [c - floor((size - 1) / 2), c + ceil((size - 1)
    / 2)]; y = x / (bias + alpha / size * square_sum) ^ beta.
    """
    x = inputs[0]
    size = attributes["size"]
    alpha = attributes.get("alpha", 1e-4)
    beta = attributes.get("beta", 0.75)
    bias = attributes.get("bias", 1.0)
    squares = x.astype(np.float64) ** 2
    before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
    widths = [(0, 0), (before, after)] + [(0, 0)] * (x.ndim - 2)
    cumulative = np.cumsum(np.pad(squares, widths), axis=1)
    cumulative = np.concatenate([np.zeros_like(cumulative[:, :1]), cumulative], axis=1)
    channels = x.shape[1]
    square_sum = cumulative[:, size:size + channels] - cumulative[:, :channels]
    return (x / (bias + alpha / size * square_sum) ** beta).astype(x.dtype)


@register("MeanVarianceNormalization")
def mean_variance_normalization(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # (x - mean(x)) / (sqrt(var(x)) + 1e-9) over ``axes`` (default N, H, W). The 1e-9 is the
    # Epsilon constant of the operator's function body in the ONNX schema.
    x = inputs[0]
    axes = tuple(attributes.get("axes", [0, 2, 3]))
    wide = x.astype(np.float64)
    mean = wide.mean(axis=axes, keepdims=True)
    deviation = np.sqrt(((wide - mean) ** 2).mean(axis=axes, keepdims=True))
    return ((wide - mean) / (deviation + 1e-9)).astype(x.dtype)


@register("LpNormalization")
def lp_normalization(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    axis = attributes.get("axis", -1)
    p = attributes.get("p", 2)
    norm = np.sum(np.abs(x) ** p, axis=axis, keepdims=True) ** (1.0 / p)
    return np.where(norm == 0, 0, x / norm).astype(x.dtype)


@register("RMSNormalization", since_version=23)
def rms_normalization(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # y = x / sqrt(mean(x^2 over the axes from ``axis`` on) + epsilon) * scale
    x, scale = inputs[0], inputs[1]
    axis = normalize_axis(attributes.get("axis", -1), x.ndim)
    epsilon = attributes.get("epsilon", 1e-5)
    wide = x.astype(np.float64)
    mean_square = np.mean(wide**2, axis=tuple(range(axis, x.ndim)), keepdims=True)
    return (wide / np.sqrt(mean_square + epsilon) * scale).astype(x.dtype)
