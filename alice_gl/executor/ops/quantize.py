"""Quantization operators with exact integer semantics.

QuantizeLinear and DynamicQuantizeLinear round half to even (``np.rint``) and saturate to the
output type's range. DequantizeLinear and MatMulInteger subtract zero points in a wider
integer type first, so no uint8/int8 arithmetic wraps.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from alice_gl.executor.ops.common import (
    Inputs,
    broadcast_along_axis,
    integer_matmul,
    normalize_axis,
    optional_input,
)
from alice_gl.executor.registry import register

# The integer types QuantizeLinear may produce and DequantizeLinear may read.
_INTEGER_TYPES = {np.dtype(name) for name in
                  ("int8", "uint8", "int16", "uint16", "int32")}


def _expand_parameter(parameter: np.ndarray, x: np.ndarray, axis: int,
                      block_size: int) -> np.ndarray:
    """Shape a scale or zero point to broadcast against ``x``.

    A scalar or 1-element tensor applies to all of ``x`` (per tensor). A 1-D tensor applies
    along ``axis`` (per axis). With ``block_size`` > 0 the parameter has ``x``'s rank and each
    entry covers ``block_size`` consecutive elements along ``axis`` (blocked quantization).
    """
    if parameter.size == 1 and block_size == 0:
        return parameter.reshape(())
    axis = normalize_axis(axis, x.ndim)
    if block_size > 0:
        repeated = np.repeat(parameter, block_size, axis=axis)
        return np.take(repeated, np.arange(x.shape[axis]), axis=axis)
    return broadcast_along_axis(parameter, axis, x.ndim)


def _output_type(attributes: dict[str, Any], zero_point: np.ndarray | None) -> np.dtype:
    if zero_point is not None:
        return zero_point.dtype
    output_dtype = attributes.get("output_dtype", 0)
    if output_dtype:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(output_dtype))
    return np.dtype(np.uint8)


def _check_quantize(attributes: dict[str, Any]) -> str | None:
    output_dtype = attributes.get("output_dtype", 0)
    if output_dtype and np.dtype(
            onnx.helper.tensor_dtype_to_np_dtype(output_dtype)) not in _INTEGER_TYPES:
        name = onnx.TensorProto.DataType.Name(output_dtype)
        return f"output_dtype {name} is not supported; use an 8-, 16- or 32-bit integer type"
    return None


def quantize(x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | int,
             dtype: np.dtype) -> np.ndarray:
    """Return ``saturate(rint(x / scale) + zero_point)`` as ``dtype``; rint rounds half to even."""
    info = np.iinfo(dtype)
    scaled = np.rint(np.divide(x, scale).astype(np.result_type(x.dtype, scale.dtype)))
    shifted = scaled.astype(np.float64) + np.asarray(zero_point, dtype=np.float64)
    return np.clip(shifted, info.min, info.max).astype(dtype)


@register("QuantizeLinear", since_version=10, check=_check_quantize)
def quantize_linear(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x, scale = inputs[0], inputs[1]
    zero_point = optional_input(inputs, 2)
    dtype = _output_type(attributes, zero_point)
    if dtype not in _INTEGER_TYPES:
        raise NotImplementedError(f"QuantizeLinear to {dtype} is not supported; use an 8-, 16- "
                                  "or 32-bit integer zero point")
    axis, block_size = attributes.get("axis", 1), attributes.get("block_size", 0)
    scale = _expand_parameter(scale, x, axis, block_size)
    zero = 0 if zero_point is None else _expand_parameter(zero_point, x, axis, block_size)
    return quantize(x, scale, zero, dtype)


@register("DequantizeLinear", since_version=10)
def dequantize_linear(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # y = (x - x_zero_point) * x_scale, with the subtraction in int64 so it never wraps.
    x, scale = inputs[0], inputs[1]
    zero_point = optional_input(inputs, 2)
    if x.dtype not in _INTEGER_TYPES:
        raise NotImplementedError(f"DequantizeLinear of {x.dtype} is not supported; pass an 8-, "
                                  "16- or 32-bit integer tensor")
    axis, block_size = attributes.get("axis", 1), attributes.get("block_size", 0)
    scale = _expand_parameter(scale, x, axis, block_size)
    centered = x.astype(np.int64)
    if zero_point is not None:
        centered = centered - _expand_parameter(zero_point, x, axis, block_size).astype(np.int64)
    output_dtype = attributes.get("output_dtype", 0)
    dtype = (np.dtype(onnx.helper.tensor_dtype_to_np_dtype(output_dtype)) if output_dtype
             else scale.dtype)
    return (centered.astype(scale.dtype) * scale).astype(dtype, copy=False)


@register("DynamicQuantizeLinear", since_version=11)
def dynamic_quantize_linear(inputs: Inputs, attributes: dict[str, Any]) -> list[np.ndarray]:
    """Quantize float32 ``x`` to uint8 with a scale and zero point computed from its range.

    x_min = min(0, min(x)), x_max = max(0, max(x)); y_scale = (x_max - x_min) / 255, or 1 when
    x_max == x_min (x all zeros, as onnxruntime does); y_zero_point =
    saturate(rint(0 - x_min / y_scale)); y = saturate(rint(x / y_scale) + y_zero_point).
    All steps run in float32, as onnxruntime computes them.
    """
    x = inputs[0].astype(np.float32, copy=False)
    # NOTE: Python's min and max drop a NaN of x here, so y_scale and y stay finite. In checks
    # with onnxruntime 1.32 on CPU, a NaN among finite values was ignored too. Its y_scale was
    # NaN only when every element was NaN (64 and 1000 elements; 3 gave 1.0), so onnxruntime
    # has no single rule for NaN inputs to follow.
    x_min = np.float32(min(0.0, float(x.min(initial=0.0))))
    x_max = np.float32(max(0.0, float(x.max(initial=0.0))))
    span = np.float32(1.0) if x_max == x_min else np.float32(x_max - x_min)
    y_scale = np.float32(span / np.float32(255))
    zero_point = np.clip(np.rint(np.float32(0) - x_min / y_scale), 0, 255).astype(np.uint8)
    y = quantize(x, np.asarray(y_scale), zero_point, np.dtype(np.uint8))
    return [y, np.asarray(y_scale, dtype=np.float32), np.asarray(zero_point, dtype=np.uint8)]


@register("MatMulInteger", since_version=10)
def matmul_integer(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    """Return (A - a_zero_point) @ (B - b_zero_point) in int32.

    a_zero_point is a scalar or one value per row of A (shape [M]). b_zero_point is a scalar or
    one value per column of B (shape [N]).
    """
    a, b = inputs[0], inputs[1]
    a_zero_point, b_zero_point = optional_input(inputs, 2), optional_input(inputs, 3)
    if a_zero_point is not None:
        per_row = a_zero_point.ndim == 1 and a_zero_point.size > 1
        a_zero_point = a_zero_point.reshape(-1, 1) if per_row else a_zero_point.reshape(())
    if b_zero_point is not None and not (b_zero_point.ndim >= 1 and b_zero_point.size > 1):
        b_zero_point = b_zero_point.reshape(())
    return integer_matmul(a, b, a_zero_point, b_zero_point)


def requantize(accumulator: np.ndarray, multiplier: np.ndarray,
                zero_point: np.ndarray | None, dtype: np.dtype) -> np.ndarray:
    """Return saturate(rint(accumulator * multiplier) + zero_point) as ``dtype``.

    ``multiplier`` is input_scale * weight_scale / output_scale in float32, as the onnx
    reference and onnxruntime compute it.
    """
    info = np.iinfo(dtype)
    scaled = np.rint(accumulator * multiplier).astype(np.float64)
    if zero_point is not None:
        scaled = scaled + zero_point.astype(np.float64)
    return np.clip(scaled, info.min, info.max).astype(dtype)


@register("QLinearMatMul", since_version=10)
def qlinear_matmul(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    """Return the quantized a @ b: a_scale is per tensor or per row of a, b_scale per tensor or
    per column of b, and the int32 product is requantized to y_scale and y_zero_point."""
    a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero = inputs[:8]
    accumulator = matmul_integer([a, b, a_zero, b_zero], attributes)
    a_scale = a_scale.reshape(-1, 1) if a_scale.size > 1 else a_scale.reshape(())
    b_scale = b_scale if b_scale.size > 1 else b_scale.reshape(())
    multiplier = (a_scale * b_scale / y_scale).astype(np.float32)
    return requantize(accumulator, multiplier, y_zero, y_zero.dtype)
