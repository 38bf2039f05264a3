"""Layers shared by the CLI and engine tests, whose INT8 accuracy is set by construction.

A hidden feature fixed at a large ``outlier`` value stretches the dynamic quantization range of
the next MatMul input, while that MatMul's weight ignores the feature in FP32.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper


def collapsing_layers(rng: np.random.Generator, features: int, hidden: int, outputs: int,
                      outlier: float) -> tuple[list[onnx.NodeProto], dict[str, np.ndarray]]:
    """Return the nodes and weights of ``fc1 -> Relu -> fc2 -> Tanh -> fc3`` (input ``x``).

    ``h1 = relu(x @ W1 + b1)`` has channel 0 fixed at ``outlier`` by ``b1``, and ``W2`` ignores
    that channel. Quantizing ``fc2`` rounds every other channel of ``h1`` to its zero point,
    while ``fc1`` and ``fc3`` see ordinary activations.
    """
    w1 = (rng.normal(size=(features, hidden)) / np.sqrt(features)).astype(np.float32)
    w1[:, 0] = 0.0
    b1 = np.zeros(hidden, dtype=np.float32)
    b1[0] = outlier
    w2 = (rng.normal(size=(hidden, hidden)) / np.sqrt(hidden)).astype(np.float32)
    w2[0, :] = 0.0
    w3 = (rng.normal(size=(hidden, outputs)) / np.sqrt(hidden)).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["m1"], name="fc1"),
        helper.make_node("Add", ["m1", "b1"], ["a1"], name="bias1"),
        helper.make_node("Relu", ["a1"], ["h1"], name="relu1"),
        helper.make_node("MatMul", ["h1", "W2"], ["h2"], name="fc2"),
        helper.make_node("Tanh", ["h2"], ["t2"], name="tanh2"),
        helper.make_node("MatMul", ["t2", "W3"], ["y"], name="fc3"),
    ]
    return nodes, {"W1": w1, "b1": b1, "W2": w2, "W3": w3}
