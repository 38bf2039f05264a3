"""Collect the ONNX node conformance cases and decide, per case, whether the executor runs it.

The cases come from ``onnx.backend.test.case.node``: each is a one-node (or function-expanded)
model with inputs and expected outputs, built in memory, so no data files are needed.
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass

import onnx
from onnx.backend.test.case.node import collect_testcases
from onnx.backend.test.case.test_case import TestCase

from alice_gl.errors import AliceGLError
from alice_gl.executor.registry import find_kernel
from alice_gl.model_io import CONVERSION_TARGET_OPSET, MIN_OPSET, default_opset, load_model

SUPPORTED_ELEMENT_TYPES = frozenset({
    onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16,
    onnx.TensorProto.INT8, onnx.TensorProto.UINT8, onnx.TensorProto.INT16,
    onnx.TensorProto.UINT16, onnx.TensorProto.INT32, onnx.TensorProto.UINT32,
    onnx.TensorProto.INT64, onnx.TensorProto.UINT64, onnx.TensorProto.BOOL,
    onnx.TensorProto.STRING,
})

# Cases skipped for a reason that neither their op types nor their element types show: a
# case-name pattern and the reason. Every pattern must match at least one collected case.
EXPLICIT_SKIPS: tuple[tuple[str, str], ...] = (
    (r"test_training_dropout(_default)?(_mask)?",
     "Dropout with training_mode=true draws random masks; the executor runs inference only"),
    (r"test_batchnorm_.*_training_mode",
     "BatchNormalization with training_mode=1 updates running statistics; inference only"),
    (r"test_resize_.*_antialias",
     "Resize with antialias=1 is not implemented"),
    (r"test_scan_sum",
     "opset-8 Scan carries a batch axis that load_model's opset-13 upgrade drops from the graph, "
     "but the stored inputs keep it"),
)


@dataclass(frozen=True)
class CaseDecision:
    """Whether one conformance case runs, and if not, why."""

    name: str
    reason: str | None
    explicit: bool = False


@functools.cache
def all_cases() -> tuple[TestCase, ...]:
    """Return every node test case that onnx ships, in onnx's order."""
    with warnings.catch_warnings():
        # Building the expected outputs of the cast cases overflows on purpose.
        warnings.simplefilter("ignore", RuntimeWarning)
        return tuple(collect_testcases())


def effective_opset(model: onnx.ModelProto) -> int:
    """Return the opset the session runs ``model`` at (load_model upgrades opsets below 10)."""
    opset = _declared_opset(model)
    return CONVERSION_TARGET_OPSET if 0 < opset < MIN_OPSET else opset


def _declared_opset(model: onnx.ModelProto) -> int:
    """Return the default-domain opset, or 0 when the model imports only other domains."""
    if not any(entry.domain in ("", "ai.onnx") for entry in model.opset_import):
        return 0
    return default_opset(model)


def _nodes(graph: onnx.GraphProto):
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from _nodes(attribute.g)
            for subgraph in attribute.graphs:
                yield from _nodes(subgraph)


def missing_kernels(model: onnx.ModelProto) -> list[str]:
    """Return the sorted op types in ``model`` (subgraphs included) that have no kernel."""
    opset = effective_opset(model)
    missing = set()
    for node in _nodes(model.graph):
        if find_kernel(node.op_type, opset, node.domain) is None:
            in_default = node.domain in ("", "ai.onnx")
            missing.add(node.op_type if in_default else f"{node.domain}.{node.op_type}")
    return sorted(missing)


def _value_type_problem(model: onnx.ModelProto) -> str | None:
    for value in (*model.graph.input, *model.graph.output):
        if not value.type.HasField("tensor_type"):
            kind = value.type.WhichOneof("value")
            return f"graph value {value.name!r} is a {kind}; only tensors are supported"
        elem_type = value.type.tensor_type.elem_type
        if elem_type not in SUPPORTED_ELEMENT_TYPES:
            name = onnx.TensorProto.DataType.Name(elem_type)
            return f"element type {name} of {value.name!r} is not supported"
    return None


def session_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return ``model`` in the form the session runs, because load_model upgrades opsets < 10."""
    if effective_opset(model) != _declared_opset(model):
        return load_model(model)
    return model


def decide(case: TestCase) -> CaseDecision:
    """Return whether ``case`` runs; a skipped case carries its reason."""
    try:
        model = session_model(case.model)
    except AliceGLError as error:
        return CaseDecision(case.name, f"load_model rejects the model: {error}")
    missing = missing_kernels(model)
    if missing:
        return CaseDecision(case.name, f"no kernel for {', '.join(missing)}")
    problem = _value_type_problem(case.model)
    if problem:
        return CaseDecision(case.name, problem)
    for pattern, reason in EXPLICIT_SKIPS:
        if re.fullmatch(pattern, case.name):
            return CaseDecision(case.name, reason, explicit=True)
    return CaseDecision(case.name, None)


def runnable_cases() -> list[TestCase]:
    """Return the cases the executor is expected to pass."""
    return [case for case in all_cases() if decide(case).reason is None]
