"""The ``alice-gl inspect`` subcommand: summarize a model and what quantizing it would do."""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import onnx

from alice_gl.errors import QuantizationError
from alice_gl.model_io import default_opset, load_model, model_size_bytes
from alice_gl.quantization import quantize_dynamic
from alice_gl.quantization.graph_walk import iter_graphs


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``inspect`` parser to ``subparsers``."""
    parser = subparsers.add_parser(
        "inspect", help="show a model's inputs, outputs, ops, sizes and quantizable nodes",
        description="Print the inputs, outputs, op histogram, parameter count and sizes of "
                    "MODEL, and which nodes `alice-gl quantize` would quantize.")
    parser.add_argument("model", metavar="MODEL", help="ONNX model file")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run ``alice-gl inspect`` and return its exit code."""
    summary = describe_model(Path(args.model))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_summary(summary))
    return 0


def describe_model(path: Path) -> dict:
    """Return a JSON-compatible summary of the model at ``path``.

    Keys: ``file``, ``file_bytes``, ``opset``, ``inputs`` and ``outputs`` (name, element type,
    shape with symbolic dimensions as strings), ``op_histogram`` over every graph including
    subgraphs, ``parameter_count`` and ``parameter_bytes`` of the initializers, and
    ``quantization``: the per-node decisions and INT8 size of a default dynamic quantization,
    or an ``error`` when a weight cannot be quantized.
    """
    model = load_model(path, infer_shapes=False)
    histogram = Counter(node.op_type for graph in iter_graphs(model.graph)
                        for node in graph.node)
    initializers = [tensor for graph in iter_graphs(model.graph)
                    for tensor in graph.initializer]
    summary = {
        "file": str(path),
        "file_bytes": os.path.getsize(path),
        "serialized_bytes": model_size_bytes(model),
        "opset": default_opset(model),
        "inputs": [_value_summary(value) for value in _true_inputs(model.graph)],
        "outputs": [_value_summary(value) for value in model.graph.output],
        "op_histogram": dict(sorted(histogram.items())),
        "parameter_count": int(sum(np.prod(tensor.dims, dtype=np.int64)
                                   for tensor in initializers)),
        "parameter_bytes": int(sum(onnx.numpy_helper.to_array(tensor).nbytes
                                   for tensor in initializers)),
    }
    try:
        _, report = quantize_dynamic(model)
    except QuantizationError as error:
        summary["quantization"] = {"error": str(error)}
    else:
        summary["quantization"] = {
            "int8_bytes": report.int8_bytes,
            "compression_ratio": report.compression_ratio,
            "nodes": [{"name": node.name, "op_type": node.op_type, "graph": node.graph,
                       "status": node.status, "reason": node.reason}
                      for node in report.nodes],
        }
    return summary


def format_summary(summary: dict) -> str:
    """Return ``describe_model``'s summary as lines for a terminal."""
    lines = [f"{summary['file']}: {summary['file_bytes']} bytes, opset {summary['opset']}"]
    for key in ("inputs", "outputs"):
        lines.append(f"{key}:")
        lines += [f"  {value['name']}: {value['type']} {value['shape']}"
                  for value in summary[key]]
    lines.append("ops: " + ", ".join(f"{op} x{count}"
                                     for op, count in summary["op_histogram"].items()))
    lines.append(f"parameters: {summary['parameter_count']} "
                 f"({summary['parameter_bytes']} bytes)")
    quantization = summary["quantization"]
    if "error" in quantization:
        lines.append(f"quantization: not possible: {quantization['error']}")
        return "\n".join(lines)
    lines.append(f"quantization (dynamic, per channel): INT8 {quantization['int8_bytes']} "
                 f"bytes, {_describe_ratio(quantization['compression_ratio'])}")
    for node in quantization["nodes"]:
        if node["status"] == "quantized":
            lines.append(f"  quantize {node['op_type']} {node['name']} ({node['graph']})")
        elif node["op_type"] in ("MatMul", "Gemm", "Conv", "ConvTranspose"):
            lines.append(f"  keep FP32 {node['op_type']} {node['name']}: {node['reason']}")
    return "\n".join(lines)


def _true_inputs(graph: onnx.GraphProto) -> list[onnx.ValueInfoProto]:
    """Return the graph inputs that are not initializers (old models list both)."""
    constants = {tensor.name for tensor in graph.initializer}
    return [value for value in graph.input if value.name not in constants]


def _value_summary(value: onnx.ValueInfoProto) -> dict:
    tensor_type = value.type.tensor_type
    shape = None
    if tensor_type.HasField("shape"):
        shape = [dim.dim_param or (dim.dim_value if dim.HasField("dim_value") else "?")
                 for dim in tensor_type.shape.dim]
    return {"name": value.name,
            "type": onnx.TensorProto.DataType.Name(tensor_type.elem_type),
            "shape": shape}


def _describe_ratio(compression_ratio: float) -> str:
    """Return ``FP32 bytes / INT8 bytes`` as ``N.NNx smaller``, or ``N.NNx larger`` below 1."""
    if compression_ratio >= 1.0 or compression_ratio == 0.0:
        return f"{compression_ratio:.2f}x smaller"
    return f"{1.0 / compression_ratio:.2f}x larger"
