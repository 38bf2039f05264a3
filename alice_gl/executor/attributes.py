"""Convert a node's ``AttributeProto`` list into the plain Python values kernels read.

INT and FLOAT become ``int`` and ``float``, STRING becomes ``str`` (UTF-8), TENSOR becomes an
``np.ndarray``, the repeated kinds become lists, and GRAPH becomes whatever ``build_subgraph``
returns for it (the executor passes a function that plans the subgraph).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import onnx
from onnx import AttributeProto, numpy_helper

from alice_gl.errors import UnsupportedOperatorError


class NodeAttributes(dict):
    """``{attribute name: value}`` of one node, plus ``output_count``: how many outputs the node
    declares, omitted optional ones included (Split divides its input by it)."""

    output_count: int = 1


def convert_attributes(node: onnx.NodeProto,
                       build_subgraph: Callable[[onnx.GraphProto], Any]) -> NodeAttributes:
    """Return the attributes of ``node``; subgraphs go through ``build_subgraph``."""
    values = NodeAttributes()
    for attribute in node.attribute:
        values[attribute.name] = _convert(node, attribute, build_subgraph)
    values.output_count = len(node.output)
    return values


def _convert(node: onnx.NodeProto, attribute: AttributeProto,
             build_subgraph: Callable[[onnx.GraphProto], Any]) -> Any:
    kind = attribute.type
    if kind == AttributeProto.INT:
        return int(attribute.i)
    if kind == AttributeProto.FLOAT:
        return float(attribute.f)
    if kind == AttributeProto.STRING:
        return attribute.s.decode("utf-8")
    if kind == AttributeProto.TENSOR:
        return numpy_helper.to_array(attribute.t)
    if kind == AttributeProto.GRAPH:
        return build_subgraph(attribute.g)
    if kind == AttributeProto.INTS:
        return [int(value) for value in attribute.ints]
    if kind == AttributeProto.FLOATS:
        return [float(value) for value in attribute.floats]
    if kind == AttributeProto.STRINGS:
        return [value.decode("utf-8") for value in attribute.strings]
    if kind == AttributeProto.TENSORS:
        return [numpy_helper.to_array(tensor) for tensor in attribute.tensors]
    if kind == AttributeProto.GRAPHS:
        return [build_subgraph(graph) for graph in attribute.graphs]
    kind_name = AttributeProto.AttributeType.Name(kind)
    raise UnsupportedOperatorError(
        f"Node {node.name!r} ({node.op_type}) has attribute {attribute.name!r} of kind "
        f"{kind_name}, which the NumPy executor does not read. Convert it to a dense tensor.")
