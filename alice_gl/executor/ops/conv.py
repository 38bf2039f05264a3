"""Conv, ConvTranspose and ConvInteger for 1-D, 2-D and 3-D inputs in NCHW order.

Conv gathers every receptive field into a matrix (im2col) and multiplies the weights by it in
one batched BLAS matmul over images and groups, so a 224x224 network runs in about a second,
not minutes. ConvTranspose multiplies first and then scatters the columns back (col2im).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from alice_gl.executor.ops.common import Inputs, integer_matmul, optional_input
from alice_gl.executor.ops.quantize import requantize
from alice_gl.executor.registry import register


def conv_pads(attributes: dict[str, Any], spatial: Sequence[int], kernel: Sequence[int],
              strides: Sequence[int], dilations: Sequence[int]) -> tuple[list[int], list[int]]:
    """Return the begin and end padding of each spatial axis for Conv and the pooling ops.

    ``auto_pad`` SAME_UPPER and SAME_LOWER pad so that output = ceil(input / stride), putting
    the odd extra element at the end (UPPER) or the beginning (LOWER); VALID pads nothing;
    NOTSET (the default) reads ``pads`` as [x1_begin, x2_begin, ..., x1_end, x2_end, ...].
    """
    rank = len(spatial)
    auto_pad = attributes.get("auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = [], []
        for size, k, stride, dilation in zip(spatial, kernel, strides, dilations, strict=True):
            output = -(-size // stride)
            total = max((output - 1) * stride + (k - 1) * dilation + 1 - size, 0)
            small, large = total // 2, total - total // 2
            begins.append(small if auto_pad == "SAME_UPPER" else large)
            ends.append(large if auto_pad == "SAME_UPPER" else small)
        return begins, ends
    if auto_pad == "VALID":
        return [0] * rank, [0] * rank
    pads = attributes.get("pads", [0] * 2 * rank)
    return list(pads[:rank]), list(pads[rank:])


def spatial_attributes(attributes: dict[str, Any], rank: int,
                       kernel: Sequence[int]) -> tuple[list[int], list[int]]:
    """Return ``strides`` and ``dilations`` for ``rank`` spatial axes (default 1 each)."""
    strides = attributes.get("strides") or [1] * rank
    dilations = attributes.get("dilations") or [1] * len(kernel)
    return list(strides), list(dilations)


def sliding_windows(padded: np.ndarray, kernel: Sequence[int], strides: Sequence[int],
                    dilations: Sequence[int]) -> np.ndarray:
    """Return a view of shape (N, C, *output, *kernel) of every receptive field of ``padded``.

    ``padded`` is (N, C, *spatial) with padding already applied; output sizes are
    floor((padded - dilation * (kernel - 1) - 1) / stride) + 1.
    """
    rank = len(kernel)
    extents = [dilation * (k - 1) + 1 for k, dilation in zip(kernel, dilations, strict=True)]
    windows = sliding_window_view(padded, extents, axis=tuple(range(2, 2 + rank)))
    index = (slice(None), slice(None),
             *(slice(None, None, stride) for stride in strides),
             *(slice(None, None, dilation) for dilation in dilations))
    return windows[index]


def _pad_spatial(x: np.ndarray, begins: Sequence[int], ends: Sequence[int],
                 value: float = 0) -> np.ndarray:
    if not any(begins) and not any(ends):
        return x
    widths = [(0, 0), (0, 0), *zip(begins, ends, strict=True)]
    return np.pad(x, widths, mode="constant", constant_values=value)


def _convolve(x: np.ndarray, w: np.ndarray, attributes: dict[str, Any],
              matmul: Any) -> np.ndarray:
    """Return the grouped convolution of ``x`` (N, C, *D) with ``w`` (M, C/group, *K)."""
    n, channels = x.shape[:2]
    kernel = list(w.shape[2:])
    rank = len(kernel)
    group = attributes.get("group", 1)
    strides, dilations = spatial_attributes(attributes, rank, kernel)
    begins, ends = conv_pads(attributes, x.shape[2:], kernel, strides, dilations)
    windows = sliding_windows(_pad_spatial(x, begins, ends), kernel, strides, dilations)
    output = windows.shape[2:2 + rank]
    positions = math.prod(output)
    depth = channels // group * math.prod(kernel)

    # (N, G, C/G, *O, *K) -> (N, G, C/G, *K, *O) -> (N, G, depth, positions): one copy, whose
    # innermost axis runs along the input rows, so it reads memory in long contiguous runs.
    grouped = windows.reshape(n, group, channels // group, *output, *kernel)
    order = (0, 1, 2, *range(3 + rank, 3 + 2 * rank), *range(3, 3 + rank))
    columns = grouped.transpose(order).reshape(n, group, depth, positions)
    weights = w.reshape(1, group, w.shape[0] // group, depth)

    # (1, G, M/G, depth) @ (N, G, depth, positions) -> (N, G, M/G, positions) -> (N, M, *O)
    product = matmul(weights, columns)
    return product.reshape(n, w.shape[0], *output)


@register("Conv")
def conv(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x, w = inputs[0], inputs[1]
    bias = optional_input(inputs, 2)
    y = _convolve(x, w, attributes, np.matmul)
    if bias is not None:
        y = y + bias.reshape(1, -1, *([1] * (y.ndim - 2)))
    return y.astype(x.dtype, copy=False)


@register("ConvInteger", since_version=10)
def conv_integer(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    """Return the convolution of (x - x_zero_point) with (w - w_zero_point) in exact int32.

    The zero points are subtracted before padding, so padded positions contribute 0, as if
    the input were padded with x_zero_point. w_zero_point is a scalar or one value per output
    channel.
    """
    x = inputs[0].astype(np.int32)
    w = inputs[1].astype(np.int32)
    x_zero_point, w_zero_point = optional_input(inputs, 2), optional_input(inputs, 3)
    if x_zero_point is not None:
        x = x - x_zero_point.astype(np.int32).reshape(())
    if w_zero_point is not None:
        zero = w_zero_point.astype(np.int32)
        w = w - zero.reshape(-1, *([1] * (w.ndim - 1))) if zero.size > 1 else w - zero.reshape(())
    return _convolve(x, w, attributes, integer_matmul)


@register("ConvTranspose")
def conv_transpose(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    """Return the transposed convolution of ``x`` (N, C, *D) with ``w`` (C, M/group, *K).

    Output size per axis: stride * (in - 1) + output_padding + dilation * (kernel - 1) + 1
    - pad_begin - pad_end. When ``output_shape`` is given the pads follow from it, with the
    odd element at the end for SAME_UPPER and at the beginning otherwise (as onnxruntime).
    """
    x, w = inputs[0], inputs[1]
    bias = optional_input(inputs, 2)
    n, channels = x.shape[:2]
    spatial = list(x.shape[2:])
    kernel = list(w.shape[2:])
    rank = len(kernel)
    group = attributes.get("group", 1)
    strides, dilations = spatial_attributes(attributes, rank, kernel)
    output_padding = attributes.get("output_padding") or [0] * rank
    full = [stride * (size - 1) + dilation * (k - 1) + 1 for size, k, stride, dilation
            in zip(spatial, kernel, strides, dilations, strict=True)]
    begins, ends = _transpose_pads(attributes, spatial, full, output_padding, strides)

    # Multiply: (G, N * P_in, C/G) @ (G, C/G, M/G * prod(K)).
    per_group = w.shape[1]
    positions = math.prod(spatial)
    grouped_x = x.reshape(n, group, channels // group, positions).transpose(1, 0, 3, 2)
    grouped_x = grouped_x.reshape(group, n * positions, channels // group)
    grouped_w = w.reshape(group, channels // group, per_group * math.prod(kernel))
    columns = np.matmul(grouped_x, grouped_w)
    # (G, N, *D, M/G, *K) -> (N, G, M/G, *K, *D) -> (N, M, *K, *D)
    columns = columns.reshape(group, n, *spatial, per_group, *kernel)
    order = (1, 0, 2 + rank, *range(3 + rank, 3 + 2 * rank), *range(2, 2 + rank))
    columns = columns.transpose(order).reshape(n, group * per_group, *kernel, *spatial)

    # Scatter: kernel tap k adds its columns at offset k * dilation, every stride elements.
    padded_size = [size + extra for size, extra in zip(full, output_padding, strict=True)]
    y = np.zeros((n, group * per_group, *padded_size), dtype=np.result_type(x, w))
    for tap in itertools.product(*(range(k) for k in kernel)):
        target = tuple(slice(k * dilation, k * dilation + stride * (size - 1) + 1, stride)
                       for k, dilation, stride, size
                       in zip(tap, dilations, strides, spatial, strict=True))
        y[(slice(None), slice(None), *target)] += columns[(slice(None), slice(None), *tap)]

    if min(begins + ends) < 0:
        grow = [(0, 0), (0, 0)] + [(max(-begin, 0), max(-end, 0))
                                   for begin, end in zip(begins, ends, strict=True)]
        y = np.pad(y, grow)
        padded_size = list(y.shape[2:])
        begins, ends = [max(begin, 0) for begin in begins], [max(end, 0) for end in ends]
    crop = tuple(slice(begin, size - end)
                 for begin, end, size in zip(begins, ends, padded_size, strict=True))
    y = y[(slice(None), slice(None), *crop)]
    if bias is not None:
        y = y + bias.reshape(1, -1, *([1] * rank))
    return y.astype(x.dtype, copy=False)


def _transpose_pads(attributes: dict[str, Any], spatial: Sequence[int], full: Sequence[int],
                    output_padding: Sequence[int],
                    strides: Sequence[int]) -> tuple[list[int], list[int]]:
    rank = len(spatial)
    auto_pad = attributes.get("auto_pad", "NOTSET")
    output_shape = attributes.get("output_shape")
    # With auto_pad alone the target is input * stride, but, as in onnxruntime, the output
    # never grows past its full size. An explicit output_shape larger than the full size gets
    # zeros appended (negative pads), as in the onnx reference.
    may_grow = output_shape is not None
    if output_shape is None and auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        output_shape = [size * stride for size, stride in zip(spatial, strides, strict=True)]
    if output_shape is not None:
        output_shape = list(output_shape)[-rank:]
        begins, ends = [], []
        for size, extra, target in zip(full, output_padding, output_shape, strict=True):
            total = size + extra - target if may_grow else max(size + extra - target, 0)
            small, large = total // 2, total - total // 2
            begins.append(small if auto_pad == "SAME_UPPER" else large)
            ends.append(large if auto_pad == "SAME_UPPER" else small)
        return begins, ends
    if auto_pad == "VALID":
        return [0] * rank, [0] * rank
    pads = attributes.get("pads", [0] * 2 * rank)
    return list(pads[:rank]), list(pads[rank:])


@register("QLinearConv", since_version=10)
def qlinear_conv(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    """Return the quantized convolution: ConvInteger plus the int32 bias B, requantized with
    x_scale * w_scale / y_scale (w_scale per tensor or per output channel) to y_zero_point."""
    x, x_scale, x_zero, w, w_scale, w_zero, y_scale = inputs[:7]
    y_zero = optional_input(inputs, 7)
    bias = optional_input(inputs, 8)
    accumulator = conv_integer([x, w, x_zero, w_zero], attributes)
    if bias is not None:
        accumulator = accumulator + bias.astype(np.int32).reshape(1, -1, *([1] * (x.ndim - 2)))
    if w_scale.size > 1:
        w_scale = w_scale.reshape(1, -1, *([1] * (x.ndim - 2)))
    multiplier = (x_scale * w_scale / y_scale).astype(np.float32)
    return requantize(accumulator, multiplier, y_zero, x.dtype if y_zero is None else y_zero.dtype)
