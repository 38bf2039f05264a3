"""Small ONNX models for the quantizer tests, built with onnx.helper, and the checks they share."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def make_model(nodes, inputs, outputs, initializers=(), opset: int = OPSET,
               name: str = "test_graph") -> onnx.ModelProto:
    """Return a checked model from ``onnx.helper`` parts."""
    graph = helper.make_graph(nodes, name, inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset >= 15 else 7
    onnx.checker.check_model(model)
    return model


def float_input(name: str, shape) -> onnx.ValueInfoProto:
    """Return a FLOAT graph input or output description; None dims are left unknown."""
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def initializer(array: np.ndarray, name: str) -> onnx.TensorProto:
    """Return ``array`` as an initializer named ``name``."""
    return numpy_helper.from_array(np.asarray(array), name)


def run_onnxruntime(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Run ``model`` on onnxruntime's CPU provider and return every output."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Return the cosine similarity of two arrays, flattened."""
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def op_types(model: onnx.ModelProto) -> list[str]:
    """Return the op types of the main graph's nodes, in order."""
    return [node.op_type for node in model.graph.node]


def initializer_names(graph: onnx.GraphProto) -> set[str]:
    """Return the names of ``graph``'s initializers."""
    return {tensor.name for tensor in graph.initializer}


def mlp_model(rng: np.random.Generator, batch=None, hidden: int = 32) -> onnx.ModelProto:
    """Return x[batch, 16] -> MatMul -> Add -> Relu -> Gemm(transB=1) -> y[batch, 10]."""
    w1 = rng.normal(0, 0.3, (16, hidden)).astype(np.float32)
    b1 = rng.normal(0, 0.1, hidden).astype(np.float32)
    w2 = rng.normal(0, 0.3, (10, hidden)).astype(np.float32)
    b2 = rng.normal(0, 0.1, 10).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"], name="fc1"),
        helper.make_node("Add", ["h0", "b1"], ["h1"], name="fc1_bias"),
        helper.make_node("Relu", ["h1"], ["h2"], name="relu"),
        helper.make_node("Gemm", ["h2", "w2", "b2"], ["y"], name="fc2", transB=1),
    ]
    return make_model(nodes, [float_input("x", [batch, 16])], [float_input("y", [batch, 10])],
                      [initializer(w1, "w1"), initializer(b1, "b1"), initializer(w2, "w2"),
                       initializer(b2, "b2")])


def dynamic_quantize_linear(x: np.ndarray) -> tuple[np.ndarray, np.float32, np.uint8]:
    """Return ONNX DynamicQuantizeLinear of ``x`` in float32 NumPy: ``(x_q, scale, zero_point)``.

    The range always includes 0; rounding is half to even and results saturate to [0, 255].
    """
    x = np.asarray(x, np.float32)
    x_min = np.minimum(np.float32(0), x.min())
    x_max = np.maximum(np.float32(0), x.max())
    scale = np.float32((x_max - x_min) / np.float32(255))
    zero_point = np.uint8(np.clip(np.rint(np.float32(0) - x_min / scale), 0, 255))
    x_q = np.clip(np.rint(x / scale) + np.float32(zero_point), 0, 255).astype(np.uint8)
    return x_q, scale, zero_point


def tensor(model: onnx.ModelProto, name: str, graph: onnx.GraphProto | None = None) -> np.ndarray:
    """Return initializer ``name`` of ``graph`` (default the main graph) as an array."""
    for candidate in (graph or model.graph).initializer:
        if candidate.name == name:
            return numpy_helper.to_array(candidate)
    raise KeyError(name)
