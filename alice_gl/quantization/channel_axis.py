"""Weight input and output-channel axis of each quantizable op type.

One table entry per ONNX op type. Axes count in the weight as the model stores it:

- MatMul ``B[K, N]``: axis 1 (one scale per output column).
- Gemm ``B``: axis 1, or axis 0 when ``transB=1`` because ``B`` is then stored as ``[N, K]``.
- Conv ``W[C_out, C_in/group, k...]``: axis 0.
- ConvTranspose ``W[C_in, C_out/group, k...]``: axis 1, only when ``group == 1``. With more
  groups axis 1 indexes ``C_out/group`` channels and each index spans one channel per group,
  so per-axis scales would not be per output channel. Those weights are quantized per tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx
from onnx import helper


@dataclass(frozen=True)
class ChannelAxis:
    """Per-channel quantization plan for the weight of one node.

    ``axis`` is the output-channel axis of the stored weight, or None when only per-tensor
    quantization gives a correct graph; ``reason`` then gives the cause.
    """

    axis: int | None
    reason: str | None = None


# Input index of the weight for every op type the quantizer rewrites.
WEIGHT_INPUT_INDEX: dict[str, int] = {"MatMul": 1, "Gemm": 1, "Conv": 1, "ConvTranspose": 1}
SUPPORTED_OP_TYPES: tuple[str, ...] = tuple(WEIGHT_INPUT_INDEX)


def get_attribute(node: onnx.NodeProto, name: str, default):
    """Return the value of attribute ``name`` of ``node``, or ``default`` when it is absent."""
    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def _matmul_axis(node: onnx.NodeProto) -> ChannelAxis:
    return ChannelAxis(axis=1)


def _gemm_axis(node: onnx.NodeProto) -> ChannelAxis:
    return ChannelAxis(axis=0 if get_attribute(node, "transB", 0) else 1)


def _conv_axis(node: onnx.NodeProto) -> ChannelAxis:
    return ChannelAxis(axis=0)


def _conv_transpose_axis(node: onnx.NodeProto) -> ChannelAxis:
    group = get_attribute(node, "group", 1)
    if group == 1:
        return ChannelAxis(axis=1)
    return ChannelAxis(axis=None, reason=(
        f"ConvTranspose with group={group}: weight axis 1 holds C_out/group channels shared "
        "across groups, so the weight is quantized per tensor"))


_AXIS_RULES = {
    "MatMul": _matmul_axis,
    "Gemm": _gemm_axis,
    "Conv": _conv_axis,
    "ConvTranspose": _conv_transpose_axis,
}


def channel_axis(node: onnx.NodeProto) -> ChannelAxis:
    """Return the output-channel axis of ``node``'s weight; raises ``KeyError`` for other ops."""
    return _AXIS_RULES[node.op_type](node)
