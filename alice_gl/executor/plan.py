"""Turn an ONNX graph into an execution plan: kernels bound, nodes sorted, constants folded.

The plan is built once per model and run many times. The NumPy session runs it directly; the GL
executor reads the same plan to decide which nodes get shaders and runs the rest through
``run_node``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from alice_gl.errors import (
    AliceGLError,
    ExecutionError,
    InvalidInputError,
    InvalidModelError,
    UnsupportedOperatorError,
)
from alice_gl.executor.attributes import convert_attributes
from alice_gl.executor.registry import KernelEntry, find_kernel

logger = logging.getLogger(__name__)

# Nodes of these types are never folded, even on constant inputs, so that INT8 weights stay
# integer tensors feeding an explicit DequantizeLinear: a backend that runs integer kernels
# (the GL executor) must see them, not a float copy.
NO_FOLD_OP_TYPES = frozenset({"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"})


@dataclass(frozen=True)
class ValueSpec:
    """The element type and shape that a graph declares or shape inference found for a value.

    ``dtype`` is None when the value is not a tensor or its type is unknown. ``shape`` is None
    when the rank is unknown. Otherwise each entry is an ``int`` (fixed size), a ``str`` (a
    symbolic dimension such as ``"batch"``) or None (unknown size).
    """

    name: str
    dtype: np.dtype | None
    shape: tuple[int | str | None, ...] | None


@dataclass
class PlannedNode:
    """One node of the plan, with its attributes converted and its kernel chosen.

    ``inputs`` and ``outputs`` keep the empty string for an omitted optional slot.
    ``outer_inputs`` are the values of the enclosing graph that the node's subgraphs read, so
    they count as dependencies too. ``proto`` is the original node, for backends that need it.
    """

    name: str
    op_type: str
    domain: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: dict[str, Any]
    kernel: KernelEntry
    proto: onnx.NodeProto
    outer_inputs: tuple[str, ...] = ()


@dataclass
class GraphPlan:
    """A graph prepared for execution.

    Fields:
        nodes: the nodes still to run at inference time, in topological order.
        constants: initializers and the outputs of folded nodes, as ndarrays by value name.
        inputs: the graph inputs a caller feeds (initializers excluded), in graph order.
        outputs: the graph outputs, in graph order.
        value_specs: the declared or inferred dtype and shape of every value where known.
        opset: the default-domain opset the kernels were chosen for.
        outer_inputs: for a subgraph, the names it reads from enclosing graphs; empty otherwise.
        folded_nodes: the names (or op types, for unnamed nodes) of the nodes folded away.
    """

    nodes: list[PlannedNode]
    constants: dict[str, np.ndarray]
    inputs: list[ValueSpec]
    outputs: list[ValueSpec]
    value_specs: dict[str, ValueSpec]
    opset: int
    outer_inputs: tuple[str, ...] = ()
    folded_nodes: list[str] = field(default_factory=list)
    _schedules: dict[tuple[str, ...], list[tuple[PlannedNode, tuple[str, ...]]]] = field(
        default_factory=dict, repr=False)

    def producer_of(self) -> dict[str, PlannedNode]:
        """Return ``{value name: node}`` for every value a planned node produces."""
        return {name: node for node in self.nodes for name in node.outputs if name}

    def run(self, feeds: Mapping[str, np.ndarray], output_names: Sequence[str] | None = None,
            scope: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Run the nodes needed for ``output_names`` (default: the graph outputs).

        ``feeds`` must already be checked against ``inputs``. ``scope`` supplies
        ``outer_inputs`` for a subgraph. Values whose last reader has run are dropped, so
        memory holds only live intermediates.
        """
        targets = tuple(output_names) if output_names is not None else tuple(
            spec.name for spec in self.outputs)
        values: dict[str, np.ndarray] = {}
        for name in self.outer_inputs:
            values[name] = scope[name] if scope is not None else _missing_scope(name)
        values.update(self.constants)
        values.update(feeds)

        for node, released in self._schedule(targets):
            _run_planned(node, values)
            for name in released:
                values.pop(name, None)
        return {name: values[name] for name in targets}

    def _schedule(self, targets: tuple[str, ...]) -> list[tuple[PlannedNode, tuple[str, ...]]]:
        """Return the nodes needed for ``targets``, each with the values free after it runs."""
        if targets in self._schedules:
            return self._schedules[targets]

        producers = self.producer_of()
        known = set(self.constants) | {spec.name for spec in self.inputs} | set(self.outer_inputs)
        unknown = [name for name in targets if name not in producers and name not in known]
        if unknown:
            raise InvalidInputError(
                f"Output names not found in the graph: {unknown}. Name graph outputs, inputs, "
                f"initializers or node outputs, for example {[s.name for s in self.outputs]}.")

        needed: set[int] = set()
        pending = [producers[name] for name in targets if name in producers]
        while pending:
            node = pending.pop()
            if id(node) in needed:
                continue
            needed.add(id(node))
            for name in (*node.inputs, *node.outer_inputs):
                if name in producers:
                    pending.append(producers[name])
        ordered = [node for node in self.nodes if id(node) in needed]

        # A value is dropped after its last reader, or right away when nothing reads it (an
        # unused optional output such as Dropout's mask).
        last_reader: dict[str, int] = {}
        for position, node in enumerate(ordered):
            for name in node.outputs:
                if name:
                    last_reader[name] = position
            for name in (*node.inputs, *node.outer_inputs):
                if name:
                    last_reader[name] = position
        keep = set(targets) | set(self.constants)
        released: list[list[str]] = [[] for _ in ordered]
        for name, position in last_reader.items():
            if name not in keep:
                released[position].append(name)
        schedule = [(node, tuple(free)) for node, free in zip(ordered, released, strict=True)]
        self._schedules[targets] = schedule
        return schedule


def _missing_scope(name: str) -> np.ndarray:
    raise ExecutionError(f"The subgraph reads {name!r} from its enclosing graph, but no scope "
                         "was passed. Run subgraphs through their parent node.")


def call_kernel(node: PlannedNode, inputs: list[np.ndarray | None],
                scope: Mapping[str, np.ndarray] | None = None) -> list[np.ndarray]:
    """Call ``node``'s kernel on ``inputs`` and return its outputs as a list of ndarrays.

    A failure inside the kernel is raised as ``ExecutionError`` naming the node, its op type
    and its input shapes. Errors that alice_gl raises on purpose pass through unchanged.
    """
    try:
        # ONNX follows IEEE 754: x / 0, log(0) and overflow give inf or NaN without a warning.
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if node.kernel.needs_scope:
                results = node.kernel.function(inputs, node.attributes, scope=scope or {})
            else:
                results = node.kernel.function(inputs, node.attributes)
    except AliceGLError:
        raise
    except Exception as error:
        shapes = [None if value is None else (value.shape, str(value.dtype)) for value in inputs]
        raise ExecutionError(f"Node {node.name!r} ({node.op_type}) failed on inputs {shapes}: "
                             f"{type(error).__name__}: {error}") from error
    if isinstance(results, (np.ndarray, np.generic)):
        results = [results]
    return [np.asarray(result) for result in results]


def _run_planned(node: PlannedNode, values: dict[str, np.ndarray]) -> None:
    inputs = [values[name] if name else None for name in node.inputs]
    results = call_kernel(node, inputs, values if node.kernel.needs_scope else None)
    for name, result in zip(node.outputs, results, strict=False):
        if name:
            values[name] = result


def build_plan(graph: onnx.GraphProto, opset: int, *, fold_constants: bool = True,
               outer_names: frozenset[str] = frozenset()) -> GraphPlan:
    """Plan ``graph`` for ``opset``: bind kernels, sort nodes and, by default, fold constants.

    ``outer_names`` are the values a subgraph may read from its enclosing graphs. Raises
    ``UnsupportedOperatorError`` (via ``plan_node``) when a node has no kernel and
    ``InvalidModelError`` when a node reads a value that nothing defines or the graph has a
    cycle.
    """
    constants = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    value_specs = _collect_value_specs(graph)
    inputs = [value_specs[value.name] for value in graph.input if value.name not in constants]
    outputs = [value_specs[value.name] for value in graph.output]

    local_names = set(constants) | {value.name for value in graph.input}
    for node in graph.node:
        local_names.update(name for name in node.output if name)
    visible = frozenset(local_names | outer_names)
    nodes = [plan_node(node, opset, fold_constants=fold_constants, outer_names=visible)
             for node in graph.node]
    nodes = _sort_topologically(nodes, set(local_names) - _node_outputs(nodes), outer_names)

    reads = {name for node in nodes for name in (*node.inputs, *node.outer_inputs) if name}
    reads |= {spec.name for spec in outputs}
    outer_inputs = tuple(sorted(reads - local_names))

    plan = GraphPlan(nodes=nodes, constants=constants, inputs=inputs, outputs=outputs,
                     value_specs=value_specs, opset=opset, outer_inputs=outer_inputs)
    if fold_constants:
        _fold_constants(plan)
    for value in plan.constants.values():
        # Read-only constants let kernels cache conversions of them (integer_matmul does), and
        # turn an accidental in-place write by a kernel into an error instead of a wrong run.
        value.setflags(write=False)
    return plan


def plan_node(node: onnx.NodeProto, opset: int, *, fold_constants: bool = True,
              outer_names: frozenset[str] = frozenset()) -> PlannedNode:
    """Return ``node`` with its kernel chosen for ``opset`` and its subgraphs planned."""
    entry = find_kernel(node.op_type, opset, node.domain)
    if entry is None:
        raise UnsupportedOperatorError(
            f"No NumPy kernel for {node.op_type} (domain {node.domain or 'ai.onnx'!r}, opset "
            f"{opset}) in node {node.name!r}.")
    subgraph_reads: set[str] = set()

    def build_subgraph(subgraph: onnx.GraphProto) -> GraphPlan:
        sub_plan = build_plan(subgraph, opset, fold_constants=fold_constants,
                              outer_names=outer_names)
        subgraph_reads.update(sub_plan.outer_inputs)
        return sub_plan

    attributes = convert_attributes(node, build_subgraph)
    if entry.check is not None:
        problem = entry.check(attributes)
        if problem is not None:
            raise UnsupportedOperatorError(
                f"Node {node.name!r} ({node.op_type}) is not supported: {problem}.")
    return PlannedNode(name=node.name, op_type=node.op_type, domain=node.domain,
                       inputs=tuple(node.input), outputs=tuple(node.output),
                       attributes=attributes, kernel=entry, proto=node,
                       outer_inputs=tuple(sorted(subgraph_reads)))


def _node_outputs(nodes: list[PlannedNode]) -> set[str]:
    return {name for node in nodes for name in node.outputs if name}


def _sort_topologically(nodes: list[PlannedNode], available: set[str],
                        outer_names: frozenset[str]) -> list[PlannedNode]:
    """Return ``nodes`` in an order where each runs after its producers (stable otherwise)."""
    available = set(available) | set(outer_names)
    remaining = list(nodes)
    ordered: list[PlannedNode] = []
    while remaining:
        still_waiting = []
        for node in remaining:
            needs = [name for name in (*node.inputs, *node.outer_inputs) if name]
            if all(name in available for name in needs):
                ordered.append(node)
                available.update(name for name in node.outputs if name)
            else:
                still_waiting.append(node)
        if len(still_waiting) == len(remaining):
            _raise_unresolved(still_waiting, available, _node_outputs(nodes))
        remaining = still_waiting
    return ordered


def _raise_unresolved(waiting: list[PlannedNode], available: set[str],
                      produced: set[str]) -> None:
    node = waiting[0]
    missing = [name for name in (*node.inputs, *node.outer_inputs)
               if name and name not in available]
    if any(name not in produced for name in missing):
        raise InvalidModelError(f"Node {node.name!r} ({node.op_type}) reads {missing}, which no "
                                "node, input or initializer defines.")
    names = [waiting_node.name or waiting_node.op_type for waiting_node in waiting]
    raise InvalidModelError(f"The graph has a cycle through nodes {names}.")


def _fold_constants(plan: GraphPlan) -> None:
    """Run every node whose inputs are all constants now and store its outputs as constants."""
    remaining = []
    for node in plan.nodes:
        foldable = (not node.kernel.needs_scope and not node.outer_inputs
                    and node.op_type not in NO_FOLD_OP_TYPES
                    and all(name in plan.constants for name in node.inputs if name))
        if not foldable:
            remaining.append(node)
            continue
        _run_planned(node, plan.constants)
        plan.folded_nodes.append(node.name or node.op_type)
    if plan.folded_nodes:
        logger.debug("Folded %d constant nodes", len(plan.folded_nodes))
    plan.nodes = remaining


def _collect_value_specs(graph: onnx.GraphProto) -> dict[str, ValueSpec]:
    specs: dict[str, ValueSpec] = {}
    for value in (*graph.value_info, *graph.input, *graph.output):
        specs[value.name] = _value_spec(value)
    for tensor in graph.initializer:
        specs.setdefault(tensor.name, ValueSpec(
            tensor.name, _element_dtype(tensor.data_type), tuple(int(d) for d in tensor.dims)))
    return specs


def _value_spec(value: onnx.ValueInfoProto) -> ValueSpec:
    if not value.type.HasField("tensor_type"):
        return ValueSpec(value.name, None, None)
    tensor_type = value.type.tensor_type
    dtype = _element_dtype(tensor_type.elem_type)
    if not tensor_type.HasField("shape"):
        return ValueSpec(value.name, dtype, None)
    dims: list[int | str | None] = []
    for dim in tensor_type.shape.dim:
        if dim.HasField("dim_value"):
            dims.append(int(dim.dim_value))
        elif dim.HasField("dim_param"):
            dims.append(dim.dim_param)
        else:
            dims.append(None)
    return ValueSpec(value.name, dtype, tuple(dims))


def _element_dtype(elem_type: int) -> np.dtype | None:
    if elem_type == onnx.TensorProto.UNDEFINED:
        return None
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    except (KeyError, TypeError, ValueError):
        return None
