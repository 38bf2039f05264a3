"""NumPy references for the GL runtime tests: the formulas the passes must reproduce."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator


def dynamic_quantize_linear(x: np.ndarray) -> tuple[np.ndarray, np.float32, np.uint8]:
    """Run ONNX DynamicQuantizeLinear through onnx's reference evaluator."""
    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "y_scale", "y_zero_point"])
    graph = helper.make_graph(
        [node], "dql", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, None),
         helper.make_tensor_value_info("y_scale", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("y_zero_point", TensorProto.UINT8, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    y, y_scale, y_zero_point = ReferenceEvaluator(model).run(None, {"x": x})
    return y, np.float32(y_scale), np.uint8(y_zero_point)


def integer_accumulator(x_q: np.ndarray, x_zero_point: int, w_q: np.ndarray) -> np.ndarray:
    """Return sum_k (x_q[m, k] - x_zero_point) * w_q[k, n] in int32 with wrap-around."""
    wide = (x_q.astype(np.int64) - int(x_zero_point)) @ w_q.astype(np.int64)
    return (wide & 0xFFFFFFFF).astype(np.uint32).view(np.int32)


def dequantize_output(accumulator: np.ndarray, x_scale: np.float32, w_scale: np.ndarray,
                      bias: np.ndarray | None, activation: str | None,
                      clip_min: float = -np.inf, clip_max: float = np.inf) -> np.ndarray:
    """Return activation(acc * x_scale * w_scale + bias), computed in float64."""
    y = accumulator.astype(np.float64) * np.float64(x_scale) * w_scale.astype(np.float64)
    if bias is not None:
        y = y + bias.astype(np.float64)
    if activation == "Relu":
        y = np.maximum(y, 0.0)
    elif activation == "Clip":
        y = np.clip(y, clip_min, clip_max)
    elif activation == "Sigmoid":
        y = 1.0 / (1.0 + np.exp(-y))
    return y
