"""Models for the GL executor tests: light networks from the onnx wheel, tiny graphs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

LIGHT_DIR = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def light_model(name: str, seed: int = 0) -> onnx.ModelProto:
    """Return ``light_<name>`` with random weights and its logits as a second output.

    The wheel's light models fill all weights with 0.02 through ConstantOfShape, which makes
    every channel equal and leaves the quantizer nothing to quantize (it folds only Constant,
    Cast, Transpose and Reshape producers). Random initializers of the same shapes give a
    network whose outputs differ per class. Scales follow He initialization so activations
    stay in range through 50 layers.
    """
    model = onnx.load(str(LIGHT_DIR / f"light_{name}.onnx"))
    rng = np.random.default_rng(seed)
    initializers = {tensor.name: numpy_helper.to_array(tensor)
                    for tensor in model.graph.initializer}
    kept_nodes = []
    for node in model.graph.node:
        if node.op_type != "ConstantOfShape":
            kept_nodes.append(node)
            continue
        shape = tuple(int(d) for d in initializers[node.input[0]])
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 0
        if len(shape) == 2:
            # The classifier: small weights keep the logits, and so the softmax, unsaturated.
            value = rng.normal(0.0, 0.1 / np.sqrt(fan_in), shape)
        elif fan_in:
            value = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
        elif "branch2c_bn_s" in node.output[0]:
            # A small scale on each residual branch's last BatchNormalization keeps the sum of
            # 16 residual blocks from growing the activations without bound.
            value = rng.uniform(0.05, 0.15, shape)
        elif any(part in node.output[0] for part in ("_s_", "scale", "gamma", "riv", "var")):
            # BatchNormalization scales and running variances must stay positive.
            value = rng.uniform(0.5, 1.5, shape)
        else:
            value = rng.normal(0.0, 0.1, shape)
        model.graph.initializer.append(
            numpy_helper.from_array(value.astype(np.float32), node.output[0]))
    del model.graph.node[:]
    model.graph.node.extend(kept_nodes)
    used = {name for node in model.graph.node for name in node.input}
    kept = [tensor for tensor in model.graph.initializer if tensor.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    read_inputs = [value for value in model.graph.input if value.name in used]
    del model.graph.input[:]
    model.graph.input.extend(read_inputs)
    # The softmax's input (the logits) becomes a second output: it is far more sensitive.
    softmax = next(node for node in model.graph.node if node.op_type == "Softmax")
    model.graph.output.append(helper.make_empty_tensor_value_info(softmax.input[0]))
    # IR 3 requires every initializer to be a graph input too; IR 7 lets the new ones stand alone.
    model.ir_version = max(model.ir_version, 7)
    return model


def light_input(model: onnx.ModelProto, seed: int = 1) -> dict[str, np.ndarray]:
    """Return a batch-1 random input for the light model's first graph input."""
    initializer_names = {tensor.name for tensor in model.graph.initializer}
    graph_input = next(value for value in model.graph.input
                       if value.name not in initializer_names)
    shape = [dim.dim_value for dim in graph_input.type.tensor_type.shape.dim]
    rng = np.random.default_rng(seed)
    return {graph_input.name: rng.uniform(0.0, 1.0, shape).astype(np.float32)}


def chain_model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto],
                outputs: list[onnx.ValueInfoProto],
                initializers: list[onnx.TensorProto] | None = None,
                opset: int = 17) -> onnx.ModelProto:
    """Return a checked model of ``nodes`` at ``opset``; output shapes left out are inferred."""
    graph = helper.make_graph(nodes, "glx_test", inputs, outputs, initializers or [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model = onnx.shape_inference.infer_shapes(model)
    onnx.checker.check_model(model)
    return model
