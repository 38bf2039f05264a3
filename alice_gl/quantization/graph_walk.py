"""Walk nested ONNX graphs and make tensor and node names that collide with nothing."""

from __future__ import annotations

from collections.abc import Iterator

import onnx


def subgraphs(node: onnx.NodeProto) -> Iterator[tuple[str, onnx.GraphProto]]:
    """Yield ``(attribute name, graph)`` for every graph attribute of ``node`` (If, Loop, Scan)."""
    for attribute in node.attribute:
        if attribute.type == onnx.AttributeProto.GRAPH:
            yield attribute.name, attribute.g
        elif attribute.type == onnx.AttributeProto.GRAPHS:
            for index, graph in enumerate(attribute.graphs):
                yield f"{attribute.name}[{index}]", graph


def iter_graphs(graph: onnx.GraphProto) -> Iterator[onnx.GraphProto]:
    """Yield ``graph`` and every graph nested in it, outermost first."""
    yield graph
    for node in graph.node:
        for _, body in subgraphs(node):
            yield from iter_graphs(body)


def referenced_names(graph: onnx.GraphProto) -> set[str]:
    """Return the tensor names read by the nodes and outputs of ``graph`` and its subgraphs."""
    names: set[str] = set()
    for inner in iter_graphs(graph):
        names.update(value.name for value in inner.output)
        for node in inner.node:
            names.update(node.input)
    names.discard("")
    return names


def _graph_names(graph: onnx.GraphProto) -> set[str]:
    names = {graph.name}
    for values in (graph.input, graph.output, graph.value_info):
        names.update(value.name for value in values)
    names.update(tensor.name for tensor in graph.initializer)
    names.update(tensor.values.name for tensor in graph.sparse_initializer)
    for node in graph.node:
        names.add(node.name)
        names.update(node.input)
        names.update(node.output)
    return names


class NameAllocator:
    """Hands out names unused by any tensor, node or graph of a model.

    ``new("w_scale")`` returns ``w_scale`` when no such name exists, else ``w_scale_1``,
    ``w_scale_2``, and so on, and reserves the name it returns.
    """

    def __init__(self, model: onnx.ModelProto) -> None:
        self._used: set[str] = set()
        for graph in iter_graphs(model.graph):
            self._used |= _graph_names(graph)
        self._used.discard("")

    def new(self, base: str) -> str:
        """Return a fresh name starting with ``base`` and reserve it."""
        name = base
        counter = 0
        while name in self._used:
            counter += 1
            name = f"{base}_{counter}"
        self._used.add(name)
        return name
