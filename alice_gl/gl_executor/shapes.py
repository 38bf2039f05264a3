"""Static shapes for one set of input shapes, and the values that are fixed at plan time.

A dry run of the NumPy plan on zero inputs records every value's shape and dtype. Values that
do not depend on the inputs' contents (outputs of ``Shape`` and ``Size``, and of any node whose
inputs are all such values or constants) are kept as constants, so shape arithmetic never runs
at inference time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from alice_gl.errors import InvalidInputError
from alice_gl.executor import GraphPlan, PlannedNode
from alice_gl.executor.plan import call_kernel

logger = logging.getLogger(__name__)

SHAPE_ONLY_OP_TYPES = frozenset({"Shape", "Size"})
# Ops whose outputs change from run to run even on constant inputs.
NONDETERMINISTIC_OP_TYPES = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike",
                                       "RandomUniformLike", "Multinomial", "Bernoulli"})


@dataclass(frozen=True)
class ValueInfo:
    """Shape and dtype of one value for the planned input shapes."""

    shape: tuple[int, ...]
    dtype: np.dtype


@dataclass
class StaticGraph:
    """The dry run's result: value infos, plan-time constants and the nodes left to run."""

    infos: dict[str, ValueInfo]
    constants: dict[str, np.ndarray]
    nodes: list[PlannedNode]
    producers: dict[str, PlannedNode]


def resolve_static(graph: GraphPlan, input_shapes: Mapping[str, tuple[int, ...]]) -> StaticGraph:
    """Dry-run ``graph`` on zero inputs of ``input_shapes`` and split off plan-time constants.

    ``producers`` covers every node, folded ones included, so a pattern can look through a
    constant ``DequantizeLinear`` to its int8 weight.
    """
    values: dict[str, np.ndarray] = dict(graph.constants)
    static: set[str] = set(graph.constants)
    for spec in graph.inputs:
        if spec.name not in input_shapes:
            raise InvalidInputError(f"No shape for input {spec.name!r}; pass a shape for every "
                                    f"input: {[s.name for s in graph.inputs]}.")
        dtype = spec.dtype if spec.dtype is not None else np.dtype(np.float32)
        values[spec.name] = np.zeros(input_shapes[spec.name], dtype=dtype)

    last_reader = {name: index for index, node in enumerate(graph.nodes)
                   for name in node.inputs if name}
    outputs = {spec.name for spec in graph.outputs}
    infos = {name: ValueInfo(value.shape, value.dtype) for name, value in values.items()}
    dynamic_nodes: list[PlannedNode] = []
    producers: dict[str, PlannedNode] = {}
    for index, node in enumerate(graph.nodes):
        inputs = [values[name] if name else None for name in node.inputs]
        results = call_kernel(node, inputs, values if node.kernel.needs_scope else None)
        is_static = node.op_type not in NONDETERMINISTIC_OP_TYPES and not node.outer_inputs and (
            node.op_type in SHAPE_ONLY_OP_TYPES
            or all(name in static for name in node.inputs if name))
        for name, result in zip(node.outputs, results, strict=False):
            if name:
                values[name] = result
                infos[name] = ValueInfo(result.shape, result.dtype)
                producers[name] = node
                if is_static:
                    static.add(name)
        if not is_static:
            dynamic_nodes.append(node)
        for name in node.inputs:
            if name and last_reader.get(name) == index and name not in static \
                    and name not in outputs:
                values.pop(name, None)
    constants = {name: values[name] for name in static if name in values}
    logger.debug("Dry run: %d nodes to run, %d plan-time constants", len(dynamic_nodes),
                 len(constants))
    return StaticGraph(infos, constants, dynamic_nodes, producers)
