"""Small FP32 ONNX models and sample inputs whose INT8 accuracy is set by construction.

Dynamic quantization gives each MatMul input one uint8 scale per run, ``(max - min) / 255``.
An input feature fixed at a large ``outlier`` value stretches that range, so every other
feature is rounded with a coarse step. When the weight row of that feature is zero, the FP32
output ignores it, and the INT8 output's relative rounding noise grows with ``outlier``.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from outlier_layers import collapsing_layers

OPSET = 13
FEATURES = 32
HIDDEN = 32
OUTPUTS = 16


def outlier_inputs(rng: np.random.Generator, samples: int, outlier: float) -> np.ndarray:
    """Return float32 ``[samples, FEATURES]`` standard normal rows with feature 0 = ``outlier``."""
    inputs = rng.normal(size=(samples, FEATURES)).astype(np.float32)
    inputs[:, 0] = outlier
    return inputs


def outlier_matmul_model(rng: np.random.Generator) -> onnx.ModelProto:
    """Return ``y = x @ W`` with ``W[0, :] = 0``, so feature 0 of ``x`` never reaches ``y``.

    It has one quantizable layer, so partial fallback has nothing to keep FP32.
    """
    weight = rng.normal(size=(FEATURES, OUTPUTS)).astype(np.float32)
    weight[0, :] = 0.0
    nodes = [helper.make_node("MatMul", ["x", "W"], ["y"], name="matmul")]
    return _model(nodes, {"W": weight})


def collapsing_layer_model(rng: np.random.Generator, outlier: float = 300.0) -> onnx.ModelProto:
    """Return ``outlier_layers.collapsing_layers`` at this module's sizes, as a model."""
    nodes, weights = collapsing_layers(rng, FEATURES, HIDDEN, OUTPUTS, outlier)
    return _model(nodes, weights)


def _model(nodes: list[onnx.NodeProto], weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "cli_test",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", FEATURES])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", OUTPUTS])],
        initializer=[numpy_helper.from_array(array, name) for name, array in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def run_onnxruntime(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Run ``model`` on onnxruntime's CPU provider, the test oracle."""
    import onnxruntime

    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def min_cosine(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Return the minimum cosine similarity between matching rows (float64)."""
    reference = reference.reshape(len(reference), -1).astype(np.float64)
    candidate = candidate.reshape(len(candidate), -1).astype(np.float64)
    dots = np.sum(reference * candidate, axis=1)
    norms = np.linalg.norm(reference, axis=1) * np.linalg.norm(candidate, axis=1)
    return float(np.min(dots / norms))
