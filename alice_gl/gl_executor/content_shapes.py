"""Inputs whose contents, not only their shapes, decide a node's output shape.

A ``Reshape`` whose ``shape`` comes from a graph input has an output shape that only the
input's values tell. The GL plan is static, so it needs those values at plan time. The
session keys its plan on the values of small integer graph inputs that reach such a slot. A
plan whose shapes would depend on other run-time data raises ``DataDependentShapeError``
instead of guessing from the dry run's zeros.
"""

from __future__ import annotations

import numpy as np

from alice_gl.errors import ExecutionError
from alice_gl.executor import GraphPlan, PlannedNode

# ONNX op type -> indices of the inputs whose values set the output shape, or (Resize roi,
# Pad constant_value) values the GL matchers would bake into a plan-time index map.
CONTENT_SHAPED_INPUTS: dict[str, tuple[int, ...]] = {
    "Reshape": (1,), "Expand": (1,), "Tile": (1,), "Slice": (1, 2, 3, 4),
    "ConstantOfShape": (0,), "Resize": (1, 2, 3), "Upsample": (1,), "Pad": (1, 2, 3),
    "CenterCropPad": (1, 2), "Range": (0, 1, 2), "OneHot": (1,), "TopK": (1,),
    "Squeeze": (1,), "Unsqueeze": (1,), "Split": (1,), "ReduceSum": (1,), "ReduceMean": (1,),
    "ReduceMax": (1,), "ReduceMin": (1,), "ReduceProd": (1,), "ReduceL1": (1,),
    "ReduceL2": (1,), "ReduceLogSum": (1,), "ReduceLogSumExp": (1,), "ReduceSumSquare": (1,),
    "NonZero": (0,), "Compress": (1,), "Unique": (0,), "NonMaxSuppression": (0, 1, 2, 3, 4),
    "MaxUnpool": (2,), "Col2Im": (1, 2), "STFT": (1, 3), "DFT": (1, 2), "If": (0,),
    "Loop": (0, 1), "HannWindow": (0,), "HammingWindow": (0,), "BlackmanWindow": (0,),
    "MelWeightMatrix": (0, 1, 2),
}
# Ops whose output does not depend on the contents of their input.
SHAPE_ONLY_OP_TYPES = frozenset({"Shape", "Size"})
# Integer graph inputs up to this many elements that set a shape are part of the plan key.
MAX_KEYED_INPUT_ELEMENTS = 64


class DataDependentShapeError(ExecutionError):
    """A node's output shape depends on values that are known only at run time."""


def is_keyable(value: np.ndarray) -> bool:
    """True when a plan may be keyed on ``value``: a small integer or bool array.

    Float inputs are never keyed, because a float that sets a shape is usually data, and
    keying on it would recompile the plan on nearly every run.
    """
    return value.dtype.kind in "iub" and value.size <= MAX_KEYED_INPUT_ELEMENTS


def shape_slots(node: PlannedNode) -> list[str]:
    """Return the value names in ``node``'s content-shaped input slots (present slots only)."""
    indices = CONTENT_SHAPED_INPUTS.get(node.op_type, ())
    return [node.inputs[index] for index in indices
            if index < len(node.inputs) and node.inputs[index]]


def shape_source_inputs(graph: GraphPlan) -> set[str]:
    """Return the graph inputs whose contents reach a content-shaped slot of some node.

    Dependencies follow every node input and subgraph read, except through ``Shape`` and
    ``Size``, whose outputs depend on their input's shape only.
    """
    sources: dict[str, frozenset[str]] = {spec.name: frozenset({spec.name})
                                         for spec in graph.inputs}
    found: set[str] = set()
    for node in graph.nodes:
        for name in shape_slots(node):
            found.update(sources.get(name, ()))
        if node.op_type in SHAPE_ONLY_OP_TYPES:
            continue
        reached = frozenset().union(*(sources.get(name, frozenset())
                                      for name in (*node.inputs, *node.outer_inputs) if name))
        if reached:
            for name in node.outputs:
                if name:
                    sources[name] = reached
    return found
