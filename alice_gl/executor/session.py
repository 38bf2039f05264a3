"""``NumpySession``: load an ONNX model once, then run it on NumPy arrays many times.

The session is the reference the GL shaders are checked against and the fallback when no GL
context can be made, so every kernel follows the ONNX spec's formula and integer operators are
exact.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import onnx
import onnx.inliner

from alice_gl.errors import InvalidInputError, UnsupportedOperatorError
from alice_gl.executor.attributes import convert_attributes
from alice_gl.executor.plan import GraphPlan, ValueSpec, build_plan, call_kernel, plan_node
from alice_gl.executor.registry import find_kernel
from alice_gl.model_io import ModelSource, default_opset, load_model

logger = logging.getLogger(__name__)


class NumpySession:
    """Run an ONNX model with NumPy kernels.

    ``model`` is a path, serialized bytes or an ``onnx.ModelProto`` (copied, never modified).
    Loading checks the model, infers shapes, upgrades opsets below 10, inlines model-local
    functions, plans the graph and folds constants (``fold_constants=False`` keeps every node).
    Raises ``UnsupportedOperatorError`` listing every node that has no kernel or has attribute
    values its kernel does not implement, and ``InvalidModelError`` for a model that fails to
    load or check.
    """

    def __init__(self, model: ModelSource, *, fold_constants: bool = True) -> None:
        proto = load_model(model)
        if proto.functions:
            proto = onnx.inliner.inline_local_functions(proto)
        self.opset = default_opset(proto)
        _raise_for_unsupported(proto.graph, self.opset)
        self.graph: GraphPlan = build_plan(proto.graph, self.opset, fold_constants=fold_constants)
        logger.info("Planned %d nodes (%d folded into constants) at opset %d",
                    len(self.graph.nodes), len(self.graph.folded_nodes), self.opset)

    @property
    def input_names(self) -> list[str]:
        """The names of the graph inputs a caller must feed, in graph order.

        A graph input that also has an initializer (allowed before IR version 4) is a constant
        here: it is not listed and cannot be fed.
        """
        return [spec.name for spec in self.graph.inputs]

    @property
    def output_names(self) -> list[str]:
        """The names of the graph outputs, in graph order."""
        return [spec.name for spec in self.graph.outputs]

    def run(self, inputs: Mapping[str, np.ndarray],
            output_names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Run the model and return ``{name: array}`` for ``output_names``.

        ``output_names`` defaults to the graph outputs and may name any value of the main
        graph, intermediates included; only the nodes those values need are run. Raises
        ``InvalidInputError`` when an input is missing, unknown, or has the wrong dtype, rank
        or fixed dimension, and ``ExecutionError`` when a node fails.
        """
        feeds = check_inputs(self.graph.inputs, inputs)
        if isinstance(output_names, str):
            raise InvalidInputError(f"output_names must be a sequence of names, got the string "
                                    f"{output_names!r}. Pass [{output_names!r}].")
        results = self.graph.run(feeds, output_names)
        shared = {id(array) for array in (*feeds.values(), *self.graph.constants.values())}
        # Copy results that share memory with a constant or a caller's array, so editing a
        # result never changes the plan or the caller's inputs.
        return {name: np.array(value) if id(value) in shared or not value.flags.owndata
                else value for name, value in results.items()}


def run_node(node: onnx.NodeProto, inputs: list[np.ndarray | None], opset: int,
             scope: Mapping[str, np.ndarray] | None = None) -> list[np.ndarray]:
    """Evaluate one node through the kernel registry and return its outputs.

    ``inputs`` follow the node's input order, with None for an omitted optional input.
    ``scope`` supplies the enclosing-graph values that an ``If`` branch reads. Raises
    ``UnsupportedOperatorError`` when no kernel serves ``node.op_type`` at ``opset``.
    """
    planned = plan_node(node, opset, outer_names=frozenset(scope or ()))
    return call_kernel(planned, list(inputs), scope)


def check_inputs(specs: Sequence[ValueSpec],
                 inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Check ``inputs`` against the graph's input specs and return them as a new dict.

    Names must match exactly. Each value must be an ndarray (or NumPy scalar) of the declared
    dtype and rank, with every fixed dimension equal and every symbolic dimension the same
    size across inputs.
    """
    if not isinstance(inputs, Mapping):
        raise InvalidInputError(f"Inputs must be a mapping from input name to ndarray, got "
                                f"{type(inputs).__name__}. Expected names: "
                                f"{[spec.name for spec in specs]}.")
    expected = {spec.name: spec for spec in specs}
    unknown = sorted(set(inputs) - set(expected))
    if unknown:
        raise InvalidInputError(f"Unknown input names {unknown}; the model's inputs are "
                                f"{list(expected)}.")
    missing = [name for name in expected if name not in inputs]
    if missing:
        raise InvalidInputError(f"Missing inputs {missing}; the model's inputs are "
                                f"{list(expected)}.")

    feeds: dict[str, np.ndarray] = {}
    symbolic_sizes: dict[str, tuple[int, str]] = {}
    for name, spec in expected.items():
        value = inputs[name]
        if isinstance(value, np.generic):
            value = np.asarray(value)
        if not isinstance(value, np.ndarray):
            raise InvalidInputError(f"Input {name!r} is a {type(value).__name__}, not an "
                                    f"ndarray. Pass np.asarray(value, dtype={spec.dtype}).")
        _check_dtype(spec, value)
        for axis, size in _check_shape(spec, value):
            seen = symbolic_sizes.setdefault(size, (value.shape[axis], name))
            if seen[0] != value.shape[axis]:
                raise InvalidInputError(
                    f"Dimension {size!r} is {seen[0]} in input {seen[1]!r} but "
                    f"{value.shape[axis]} in input {name!r}; it must be the same size.")
        feeds[name] = value
    return feeds


def _check_dtype(spec: ValueSpec, value: np.ndarray) -> None:
    if spec.dtype is None or value.dtype == spec.dtype:
        return
    if spec.dtype == np.dtype(object) and value.dtype.kind in "OU":
        return
    raise InvalidInputError(f"Input {spec.name!r} has dtype {value.dtype}, but the model "
                            f"expects {spec.dtype}. Convert it with .astype(np.{spec.dtype}).")


def _check_shape(spec: ValueSpec, value: np.ndarray) -> Iterator[tuple[int, str]]:
    """Check rank and fixed dimensions; yield ``(axis, name)`` of each symbolic dimension."""
    if spec.shape is None:
        return
    if value.ndim != len(spec.shape):
        raise InvalidInputError(f"Input {spec.name!r} has shape {value.shape} (rank "
                                f"{value.ndim}), but the model expects rank {len(spec.shape)}: "
                                f"{_format_shape(spec.shape)}.")
    for axis, size in enumerate(spec.shape):
        if isinstance(size, int) and size != value.shape[axis]:
            raise InvalidInputError(f"Input {spec.name!r} has shape {value.shape}, but the "
                                    f"model expects {_format_shape(spec.shape)}: axis {axis} "
                                    f"must be {size}.")
        if isinstance(size, str):
            yield axis, size


def _format_shape(shape: tuple[int | str | None, ...]) -> str:
    return "(" + ", ".join("?" if size is None else str(size) for size in shape) + ")"


def _raise_for_unsupported(graph: onnx.GraphProto, opset: int) -> None:
    """Raise one ``UnsupportedOperatorError`` naming every node (subgraphs included) that has
    no kernel or has attributes its kernel does not implement, so a model fails at load and
    not part-way through a run."""
    problems = sorted(set(_unsupported_nodes(graph, opset)))
    if not problems:
        return
    missing = [(op_type, name) for op_type, name, reason in problems if reason is None]
    rejected = [(op_type, name, reason) for op_type, name, reason in problems if reason]
    sentences = []
    if missing:
        listed = "; ".join(f"{op_type} (node {name!r})" for op_type, name in missing)
        op_types = sorted({op_type for op_type, _ in missing})
        sentences.append(f"The NumPy executor has no kernel for {len(op_types)} operator "
                         f"type(s) {op_types} used by: {listed}.")
    if rejected:
        listed = "; ".join(f"{op_type} (node {name!r}): {reason}"
                           for op_type, name, reason in rejected)
        sentences.append(f"Unsupported attributes in {len(rejected)} node(s): {listed}.")
    raise UnsupportedOperatorError(" ".join(sentences))


def _unsupported_nodes(graph: onnx.GraphProto,
                       opset: int) -> Iterator[tuple[str, str, str | None]]:
    """Yield (op type, node name, reason) per problem node; reason is None for no kernel."""
    for node in graph.node:
        entry = find_kernel(node.op_type, opset, node.domain)
        if entry is None:
            op_type = node.op_type if node.domain in ("", "ai.onnx") else (
                f"{node.domain}.{node.op_type}")
            yield op_type, node.name, None
        elif entry.check is not None:
            reason = entry.check(convert_attributes(node, lambda subgraph: None))
            if reason is not None:
                yield node.op_type, node.name, reason
        for attribute in node.attribute:
            for subgraph in (attribute.g, *attribute.graphs):
                if attribute.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                    yield from _unsupported_nodes(subgraph, opset)
