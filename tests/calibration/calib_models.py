"""Small ONNX models built in memory for the calibration tests."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


def single_input_model(features: int = 4, outputs: int = 3, seed: int = 0,
                       batch: int | str = "batch") -> onnx.ModelProto:
    """Return ``y = Relu(x @ W1) @ W2`` with ``x`` float32 ``[batch, features]``."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(size=(features, 8)).astype(np.float32)
    w2 = rng.normal(size=(8, outputs)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["hidden"], name="first"),
         helper.make_node("Relu", ["hidden"], ["activated"], name="relu"),
         helper.make_node("MatMul", ["activated", "w2"], ["y"], name="second")],
        "single_input",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, outputs])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def two_input_model() -> onnx.ModelProto:
    """Return ``y = (a @ W) * Cast(b)`` with ``a`` float32 ``[batch, 4]`` and ``b`` int64
    ``[batch, 2]``."""
    weight = np.arange(8, dtype=np.float32).reshape(4, 2) / 8.0
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "w"], ["product"], name="matmul"),
         helper.make_node("Cast", ["b"], ["b_float"], name="cast", to=TensorProto.FLOAT),
         helper.make_node("Mul", ["product", "b_float"], ["y"], name="mul")],
        "two_inputs",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 4]),
         helper.make_tensor_value_info("b", TensorProto.INT64, ["batch", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
        [numpy_helper.from_array(weight, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def gemm_conv_model(seed: int = 0) -> onnx.ModelProto:
    """Return Conv -> Relu -> Flatten -> Gemm(transB=1) on ``x`` float32 ``[batch, 2, 5, 5]``."""
    rng = np.random.default_rng(seed)
    conv_w = rng.normal(size=(3, 2, 3, 3)).astype(np.float32)
    conv_b = rng.normal(size=(3,)).astype(np.float32)
    gemm_w = rng.normal(size=(4, 27)).astype(np.float32)
    gemm_c = rng.normal(size=(4,)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "conv_w", "conv_b"], ["conv"], name="conv"),
         helper.make_node("Relu", ["conv"], ["relu"], name="relu"),
         helper.make_node("Flatten", ["relu"], ["flat"], name="flatten", axis=1),
         helper.make_node("Gemm", ["flat", "gemm_w", "gemm_c"], ["y"], name="gemm", transB=1)],
        "gemm_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(conv_w, "conv_w"), numpy_helper.from_array(conv_b, "conv_b"),
         numpy_helper.from_array(gemm_w, "gemm_w"), numpy_helper.from_array(gemm_c, "gemm_c")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def if_model() -> onnx.ModelProto:
    """Return ``y = If(sum(x) > 0, x @ W_then, x @ W_else) @ W_out`` on ``x`` float32
    ``[batch, 4]``: the branch MatMuls read ``x`` from the main graph."""
    rng = np.random.default_rng(1)

    def branch(name: str) -> onnx.GraphProto:
        weight = rng.normal(size=(4, 3)).astype(np.float32)
        return helper.make_graph(
            [helper.make_node("MatMul", ["x", f"{name}_w"], [f"{name}_y"], name=f"{name}_mm")],
            name, [], [helper.make_tensor_value_info(f"{name}_y", TensorProto.FLOAT, None)],
            [numpy_helper.from_array(weight, f"{name}_w")])

    w_out = rng.normal(size=(3, 2)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("ReduceSum", ["x"], ["total"], name="sum", keepdims=0),
         helper.make_node("Greater", ["total", "zero"], ["positive"], name="greater"),
         helper.make_node("If", ["positive"], ["branch_y"], name="if",
                          then_branch=branch("then"), else_branch=branch("else")),
         helper.make_node("MatMul", ["branch_y", "w_out"], ["y"], name="out_mm")],
        "if_model",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
        [numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
         numpy_helper.from_array(w_out, "w_out")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
