"""Fold weights computed from constants into initializers before quantizing.

A weight slot may be fed by a ``Constant`` node, a ``ConstantOfShape`` of a constant shape, or
by ``Cast``, ``Transpose`` or ``Reshape`` applied to constants. Such a producer is evaluated
with NumPy and replaced by an initializer with the same output name, in the graph that held
the producer. Only producers of weights that will be quantized are folded, so the rest of the
model is left as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from alice_gl.quantization.channel_axis import WEIGHT_INPUT_INDEX, get_attribute
from alice_gl.quantization.graph_walk import subgraphs

logger = logging.getLogger(__name__)

FOLDABLE_OP_TYPES = frozenset({"Constant", "ConstantOfShape", "Cast", "Transpose", "Reshape"})


def fold_weights(graph: onnx.GraphProto, is_selected: Callable[[onnx.NodeProto], bool],
                 outer: Sequence[onnx.GraphProto] = ()) -> set[str]:
    """Fold the constant producers of the weight input of every selected node, in every graph.

    ``outer`` lists the enclosing graphs, outermost first. Returns the names of initializers
    that folded producers consumed, which may now be unused.
    """
    scopes = [*outer, graph]
    consumed: set[str] = set()
    for node in list(graph.node):
        for _, body in subgraphs(node):
            consumed |= fold_weights(body, is_selected, scopes)
        if not is_selected(node):
            continue
        index = WEIGHT_INPUT_INDEX[node.op_type]
        if index < len(node.input) and node.input[index]:
            _fold(node.input[index], scopes, consumed)
    return consumed


def _constant_initializer(graph: onnx.GraphProto, name: str) -> onnx.TensorProto | None:
    """Return the initializer ``name`` of ``graph`` unless a graph input can override it."""
    if any(value.name == name for value in graph.input):
        return None
    for tensor in graph.initializer:
        if tensor.name == name:
            return tensor
    return None


def _producer(graph: onnx.GraphProto, name: str) -> onnx.NodeProto | None:
    for node in graph.node:
        if name in node.output:
            return node
    return None


def _fold(name: str, scopes: list[onnx.GraphProto], consumed: set[str]) -> bool:
    """Make ``name`` an initializer if it is constant; return whether it now is one."""
    for depth in range(len(scopes) - 1, -1, -1):
        graph = scopes[depth]
        if _constant_initializer(graph, name) is not None:
            return True
        node = _producer(graph, name)
        if node is not None:
            break
    else:
        return False
    if node.op_type not in FOLDABLE_OP_TYPES or node.domain not in ("", "ai.onnx"):
        return False

    visible = scopes[:depth + 1]
    arrays = []
    for input_name in node.input:
        if not input_name:
            arrays.append(None)
            continue
        if not _fold(input_name, visible, consumed):
            return False
        arrays.append(_lookup(visible, input_name))
        consumed.add(input_name)

    value = _evaluate(node, arrays)
    if value is None:
        return False
    graph.node.remove(node)
    graph.initializer.append(numpy_helper.from_array(value, name))
    logger.debug("Folded %s node %r into initializer %s", node.op_type, node.name, name)
    return True


def _lookup(scopes: Sequence[onnx.GraphProto], name: str) -> np.ndarray:
    for graph in reversed(scopes):
        tensor = _constant_initializer(graph, name)
        if tensor is not None:
            return numpy_helper.to_array(tensor)
    raise KeyError(name)


def _evaluate(node: onnx.NodeProto, arrays: list[np.ndarray | None]) -> np.ndarray | None:
    """Return the output of ``node`` on ``arrays``, or None for an unsupported form."""
    if node.op_type == "Constant":
        return _constant_value(node)
    data = arrays[0]
    if node.op_type == "ConstantOfShape":
        return _constant_of_shape(node, data)
    if node.op_type == "Cast":
        return data.astype(helper.tensor_dtype_to_np_dtype(get_attribute(node, "to", 0)))
    if node.op_type == "Transpose":
        perm = get_attribute(node, "perm", None)
        return np.ascontiguousarray(np.transpose(data, perm))
    return _reshape(data, arrays[1], bool(get_attribute(node, "allowzero", 0)))


def _reshape(data: np.ndarray, shape: np.ndarray, allow_zero: bool) -> np.ndarray:
    # ONNX Reshape: a 0 copies the input dimension at that index unless allowzero=1, and one
    # -1 is inferred from the remaining size.
    target = [int(dim) for dim in shape]
    if not allow_zero:
        target = [data.shape[i] if dim == 0 else dim for i, dim in enumerate(target)]
    return data.reshape(target)


def _constant_of_shape(node: onnx.NodeProto, shape: np.ndarray) -> np.ndarray:
    # ONNX ConstantOfShape: ``value`` is a one-element tensor, float32 0 when absent.
    fill = get_attribute(node, "value", None)
    element = (numpy_helper.to_array(fill).reshape(-1) if fill is not None
               else np.zeros(1, dtype=np.float32))
    return np.full([int(dim) for dim in shape], element[0], dtype=element.dtype)


def _constant_value(node: onnx.NodeProto) -> np.ndarray | None:
    attribute = node.attribute[0]
    value = helper.get_attribute_value(attribute)
    if attribute.name == "value":
        return numpy_helper.to_array(value)
    if attribute.name in ("value_float", "value_floats"):
        return np.asarray(value, dtype=np.float32)
    if attribute.name in ("value_int", "value_ints"):
        return np.asarray(value, dtype=np.int64)
    # sparse_value and string constants never hold a quantizable weight.
    return None
