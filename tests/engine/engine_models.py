"""Small FP32 ONNX models whose INT8 accuracy is set by construction, for the engine tests.

Dynamic quantization gives each MatMul input one uint8 scale per run, ``(max - min) / 255``.
A constant input feature of size ``outlier`` stretches that range, so the rounding step grows
with ``outlier`` and the other features lose precision. When the weight row of that feature is
zero, the FP32 output ignores it, and the output's relative rounding noise is about
``outlier / (255 * sqrt(12))``. That is how these models land in a chosen accuracy band.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from outlier_layers import collapsing_layers

OPSET = 13
FEATURES = 64
HIDDEN = 64
OUTPUTS = 32


def outlier_inputs(rng: np.random.Generator, samples: int, outlier: float) -> np.ndarray:
    """Return ``samples`` rows whose feature 0 equals ``outlier``.

    The other features are normal directions scaled to norm ``sqrt(FEATURES - 1)``, so every
    sample has about the same signal and the minimum cosine over samples stays near the mean.
    """
    directions = rng.normal(size=(samples, FEATURES - 1))
    directions *= np.sqrt(FEATURES - 1) / np.linalg.norm(directions, axis=1, keepdims=True)
    inputs = np.empty((samples, FEATURES), dtype=np.float32)
    inputs[:, 0] = outlier
    inputs[:, 1:] = directions
    return inputs


def single_matmul_model(rng: np.random.Generator) -> onnx.ModelProto:
    """Return ``y = x @ W`` with ``W[0, :] = 0``: feature 0 of ``x`` never reaches ``y``.

    Fed ``outlier_inputs``, the single MatMul's INT8 accuracy falls as the outlier grows, and
    with one quantizable layer partial fallback has nothing to keep FP32.
    """
    weight = rng.normal(size=(FEATURES, OUTPUTS)).astype(np.float32)
    weight[0, :] = 0.0
    nodes = [helper.make_node("MatMul", ["x", "W"], ["y"], name="matmul")]
    return _model(nodes, [weight], ["W"])


def collapsing_layer_model(rng: np.random.Generator, outlier: float = 300.0) -> onnx.ModelProto:
    """Return ``outlier_layers.collapsing_layers`` at this module's sizes, as a model."""
    nodes, weights = collapsing_layers(rng, FEATURES, HIDDEN, OUTPUTS, outlier)
    return _model(nodes, list(weights.values()), list(weights))


def two_output_model(rng: np.random.Generator) -> onnx.ModelProto:
    """Return a model with outputs ``y`` (``x @ W``) and ``score`` (one value per sample)."""
    weight = rng.normal(size=(FEATURES, OUTPUTS)).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["y"], name="matmul"),
        helper.make_node("ReduceSum", ["y"], ["score"], name="score", keepdims=1),
    ]
    return _model(nodes, [weight], ["W"], outputs=[("y", OUTPUTS), ("score", 1)])


def _model(nodes: list[onnx.NodeProto], arrays: list[np.ndarray], names: list[str],
           outputs: list[tuple[str, int]] | None = None) -> onnx.ModelProto:
    outputs = outputs or [("y", OUTPUTS)]
    graph = helper.make_graph(
        nodes, "engine_test",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", FEATURES])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", width])
         for name, width in outputs],
        initializer=[numpy_helper.from_array(array, name)
                     for array, name in zip(arrays, names, strict=True)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
