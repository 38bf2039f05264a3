"""Static shapes for one set of input shapes, and the values that are fixed at plan time.

A dry run of the NumPy plan records every value's shape and dtype. It feeds zeros to every
graph input except the keyed ones, whose run-time values it receives (see
``content_shapes``). Some values do not depend on the zero-fed inputs' contents: keyed inputs,
outputs of ``Shape`` and ``Size``, and outputs of any node whose inputs are all such values or
constants. They are kept as constants, so shape arithmetic never runs at inference time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from alice_gl.errors import InvalidInputError
from alice_gl.executor import GraphPlan, PlannedNode
from alice_gl.executor.plan import call_kernel
from alice_gl.gl_executor.content_shapes import (
    SHAPE_ONLY_OP_TYPES,
    DataDependentShapeError,
    shape_slots,
)

logger = logging.getLogger(__name__)

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


def resolve_static(graph: GraphPlan, input_shapes: Mapping[str, tuple[int, ...]],
                   input_values: Mapping[str, np.ndarray] | None = None) -> StaticGraph:
    """Dry-run ``graph`` on inputs of ``input_shapes`` and split off plan-time constants.

    ``input_values`` are the run-time values of the keyed inputs: they become plan-time
    constants, so the plan is valid only for these values. Every other input is fed zeros.
    ``producers`` covers every node, folded ones included, so a pattern can look through a
    constant ``DequantizeLinear`` to its int8 weight.

    Raises ``DataDependentShapeError`` when a node's output shape depends on a value that is
    not a plan-time constant (a shape computed from a zero-fed input's contents).
    """
    values: dict[str, np.ndarray] = dict(graph.constants)
    static: set[str] = set(graph.constants)
    for spec in graph.inputs:
        if spec.name not in input_shapes:
            raise InvalidInputError(f"No shape for input {spec.name!r}; pass a shape for every "
                                    f"input: {[s.name for s in graph.inputs]}.")
        if input_values is not None and spec.name in input_values:
            values[spec.name] = np.asarray(input_values[spec.name])
            static.add(spec.name)
            continue
        dtype = spec.dtype if spec.dtype is not None else np.dtype(np.float32)
        values[spec.name] = np.zeros(input_shapes[spec.name], dtype=dtype)

    last_reader = {name: index for index, node in enumerate(graph.nodes)
                   for name in node.inputs if name}
    outputs = {spec.name for spec in graph.outputs}
    infos = {name: ValueInfo(value.shape, value.dtype) for name, value in values.items()}
    dynamic_nodes: list[PlannedNode] = []
    producers: dict[str, PlannedNode] = {}
    for index, node in enumerate(graph.nodes):
        dynamic_slots = [name for name in shape_slots(node) if name not in static]
        if dynamic_slots:
            raise DataDependentShapeError(
                f"Node {node.name!r} ({node.op_type}) takes its output shape from "
                f"{dynamic_slots}, which depend on run-time data, so no static GL plan exists.")
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
