"""Remove what the rewrite left behind: FP32 weights no node reads, and stale value_info."""

from __future__ import annotations

import onnx

from alice_gl.quantization.graph_walk import iter_graphs, referenced_names


def remove_unused(model: onnx.ModelProto, candidates: set[str]) -> None:
    """Drop initializers named in ``candidates`` that no node or output reads any more.

    Only ``candidates`` (weights the quantizer replaced or folded) are dropped, so unused
    initializers that the input model already had are kept. ``value_info`` entries for
    tensors that no longer exist are dropped too.
    """
    for graph in iter_graphs(model.graph):
        used = referenced_names(graph)
        kept = [tensor for tensor in graph.initializer
                if tensor.name in used or tensor.name not in candidates]
        if len(kept) != len(graph.initializer):
            del graph.initializer[:]
            graph.initializer.extend(kept)

        existing = {value.name for value in graph.input} | {t.name for t in graph.initializer}
        for node in graph.node:
            existing.update(node.output)
        value_info = [value for value in graph.value_info if value.name in existing]
        if len(value_info) != len(graph.value_info):
            del graph.value_info[:]
            graph.value_info.extend(value_info)
