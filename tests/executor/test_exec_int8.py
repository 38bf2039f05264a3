"""INT8 semantics: integer operators are exact, and quantizer output matches the onnx reference.

Exact means bit-for-bit equal to the spec's integer formula computed here in int64, and, for
rounding, half to even with saturation to the output type.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from alice_gl.executor import NumpySession, run_node
from alice_gl.executor.ops.common import integer_matmul
from alice_gl.quantization import quantize_dynamic
from alice_gl.resources import data_path


def _reference(node: onnx.NodeProto, inputs: list[np.ndarray], opset: int) -> list[np.ndarray]:
    names = [name for name in node.input if name]
    feeds = dict(zip(names, inputs, strict=True))
    infos = [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(value.dtype),
                                           value.shape) for name, value in feeds.items()]
    graph = helper.make_graph([node], "g", infos,
                              [onnx.ValueInfoProto(name=name) for name in node.output])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return ReferenceEvaluator(model).run(None, feeds)


@pytest.mark.parametrize(("a_type", "b_type"), [(np.uint8, np.int8), (np.uint8, np.uint8),
                                                (np.int8, np.int8)])
@pytest.mark.parametrize("per_column", [False, True])
def test_exec_matmul_integer_exact(rng, a_type, b_type, per_column) -> None:
    a_info, b_info = np.iinfo(a_type), np.iinfo(b_type)
    a = rng.integers(a_info.min, a_info.max, size=(2, 5, 300), endpoint=True).astype(a_type)
    b = rng.integers(b_info.min, b_info.max, size=(300, 7), endpoint=True).astype(b_type)
    a_zero = np.array(a_info.max // 2 + 1 if a_info.min == 0 else -3, dtype=a_type)
    b_zero = (rng.integers(b_info.min, b_info.max, size=7, endpoint=True).astype(b_type)
              if per_column else np.array(b_info.min // 2, dtype=b_type))
    node = helper.make_node("MatMulInteger", ["a", "b", "a_zero", "b_zero"], ["y"])

    (y,) = run_node(node, [a, b, a_zero, b_zero], opset=10)

    expected = (a.astype(np.int64) - a_zero.astype(np.int64)) @ (
        b.astype(np.int64) - b_zero.astype(np.int64))
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(y, _reference(node, [a, b, a_zero, b_zero], 10)[0])


def test_exec_matmul_integer_extremes() -> None:
    # The largest |product| sum for uint8 x int8: every term is 255 * -128.
    depth = 8192
    a = np.full((1, depth), 255, dtype=np.uint8)
    b = np.full((depth, 2), -128, dtype=np.int8)
    (y,) = run_node(helper.make_node("MatMulInteger", ["a", "b"], ["y"]), [a, b], opset=10)
    np.testing.assert_array_equal(y, np.full((1, 2), depth * 255 * -128, dtype=np.int64))


def test_exec_integer_matmul_wraps_like_int32() -> None:
    a = np.full((1, 4), 2**30, dtype=np.int64)
    b = np.full((4, 1), 4, dtype=np.int64)
    # 4 * 2**30 * 4 = 2**34, which int32 accumulation wraps to 0.
    np.testing.assert_array_equal(integer_matmul(a, b), np.zeros((1, 1), dtype=np.int32))


def test_exec_conv_integer_exact(rng) -> None:
    x = rng.integers(0, 255, size=(2, 3, 7, 6), endpoint=True).astype(np.uint8)
    w = rng.integers(0, 255, size=(4, 3, 3, 3), endpoint=True).astype(np.uint8)
    x_zero, w_zero = np.array(131, dtype=np.uint8), np.array(7, dtype=np.uint8)
    node = helper.make_node("ConvInteger", ["x", "w", "x_zero", "w_zero"], ["y"],
                            pads=[1, 1, 1, 1], strides=[2, 1])
    (y,) = run_node(node, [x, w, x_zero, w_zero], opset=10)

    centered = np.pad(x.astype(np.int64) - 131, [(0, 0), (0, 0), (1, 1), (1, 1)])
    kernel = w.astype(np.int64) - 7
    expected = np.zeros((2, 4, 4, 6), dtype=np.int64)
    for row in range(4):
        for column in range(6):
            patch = centered[:, :, 2 * row:2 * row + 3, column:column + 3]
            expected[:, :, row, column] = np.einsum("nchw,mchw->nm", patch, kernel)
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y, expected)


def test_exec_quantize_linear_rounds_half_to_even() -> None:
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 300.0, -300.0, 2.4999], dtype=np.float32)
    scale = np.array(1.0, dtype=np.float32)
    node = helper.make_node("QuantizeLinear", ["x", "scale", "zero"], ["y"])
    (as_int8,) = run_node(node, [x, scale, np.array(0, dtype=np.int8)], opset=13)
    (as_uint8,) = run_node(node, [x, scale, np.array(10, dtype=np.uint8)], opset=13)
    np.testing.assert_array_equal(as_int8, [0, 2, 2, -0, -2, 127, -128, 2])
    np.testing.assert_array_equal(as_uint8, [10, 12, 12, 10, 8, 255, 0, 12])


def test_exec_quantize_linear_per_axis(rng) -> None:
    x = rng.normal(size=(2, 3, 4)).astype(np.float32) * 50
    scale = np.array([0.5, 1.0, 2.0], dtype=np.float32)
    zero = np.array([-5, 0, 5], dtype=np.int8)
    node = helper.make_node("QuantizeLinear", ["x", "scale", "zero"], ["y"], axis=1)
    (y,) = run_node(node, [x, scale, zero], opset=13)
    expected = np.clip(np.rint(x / scale.reshape(1, 3, 1)) + zero.reshape(1, 3, 1), -128, 127)
    np.testing.assert_array_equal(y, expected.astype(np.int8))
    np.testing.assert_array_equal(y, _reference(node, [x, scale, zero], 19)[0])


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32])
def test_exec_dequantize_linear_per_axis(rng, dtype) -> None:
    info = np.iinfo(dtype)
    low, high = max(info.min, -2**20), min(info.max, 2**20)
    x = rng.integers(low, high, size=(4, 3), endpoint=True).astype(dtype)
    scale = np.array([0.1, 0.02, 3.0, 0.5], dtype=np.float32)
    zero = (np.zeros(4, dtype=dtype) if dtype == np.int32
            else rng.integers(low, high, size=4, endpoint=True).astype(dtype))
    node = helper.make_node("DequantizeLinear", ["x", "scale", "zero"], ["y"], axis=0)
    (y,) = run_node(node, [x, scale, zero], opset=13)
    expected = ((x.astype(np.int64) - zero.reshape(4, 1)).astype(np.float32)
                * scale.reshape(4, 1))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(y, _reference(node, [x, scale, zero], 19)[0])


@pytest.mark.parametrize("values", [
    np.linspace(-3.0, 7.0, 50, dtype=np.float32),
    np.zeros(6, dtype=np.float32),
    np.array([0.1, 0.2, 5.0], dtype=np.float32),
    np.array([-4.0, -1.0, -0.5], dtype=np.float32),
])
def test_exec_dynamic_quantize_linear_matches_reference(values) -> None:
    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "scale", "zero"])
    actual = run_node(node, [values], opset=11)
    expected = _reference(node, [values], 11)
    for got, want in zip(actual, expected, strict=True):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    y, scale, zero = actual
    dequantized = (y.astype(np.float32) - zero.astype(np.float32)) * scale
    np.testing.assert_allclose(dequantized, values, atol=float(scale) / 2 + 1e-6)


def _quantized(name: str) -> tuple[onnx.ModelProto, np.ndarray]:
    model, _ = quantize_dynamic(data_path(f"{name}.onnx"))
    digits = np.load(data_path("digits_test.npz"))
    inputs = digits["x"] if name == "mlp_digits" else digits["x_image"]
    return model, inputs[:64]


@pytest.mark.parametrize("name", ["mlp_digits", "cnn_digits"])
def test_exec_quantized_model_matches_reference(name) -> None:
    model, x = _quantized(name)
    session = NumpySession(model)
    results = session.run({session.input_names[0]: x})

    # onnx.reference has DequantizeLinear only from opset 19, whose semantics for int8/uint8
    # with per-axis scales are those of opset 13, so the same graph is evaluated at opset 19.
    reference_model = onnx.ModelProto()
    reference_model.CopyFrom(model)
    for entry in reference_model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            entry.version = max(entry.version, 19)
    expected = ReferenceEvaluator(reference_model).run(None, {session.input_names[0]: x})
    for output_name, reference in zip(session.output_names, expected, strict=True):
        np.testing.assert_allclose(results[output_name], reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["mlp_digits", "cnn_digits"])
def test_exec_quantized_matmul_integer_exact(name) -> None:
    model, x = _quantized(name)
    session = NumpySession(model)
    integer_nodes = [node for node in session.graph.nodes if node.op_type == "MatMulInteger"]
    assert integer_nodes
    requested = sorted({value for node in integer_nodes for value in (*node.inputs, *node.outputs)
                        if value})
    values = session.run({session.input_names[0]: x}, requested)

    for node in integer_nodes:
        a, b = values[node.inputs[0]].astype(np.int64), values[node.inputs[1]].astype(np.int64)
        a_zero, b_zero = _zero_point(values, node, 2), _zero_point(values, node, 3)
        if a_zero.size > 1:
            a_zero = a_zero.reshape(-1, 1)  # one zero point per row of A
        expected = (a - a_zero) @ (b - b_zero)
        actual = values[node.outputs[0]]
        assert actual.dtype == np.int32
        np.testing.assert_array_equal(actual, expected, err_msg=node.name)


def _zero_point(values: dict[str, np.ndarray], node, index: int) -> np.ndarray:
    name = node.inputs[index] if index < len(node.inputs) else ""
    return values[name].astype(np.int64) if name else np.zeros((), dtype=np.int64)


def test_exec_int8_graph_by_hand(rng) -> None:
    """DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul -> Add, as the quantizer emits."""
    weight = rng.normal(size=(16, 8)).astype(np.float32)
    scale = np.abs(weight).max(axis=0) / 127
    weight_int8 = np.clip(np.rint(weight / scale), -127, 127).astype(np.int8)
    bias = rng.normal(size=8).astype(np.float32)
    initializers = [numpy_helper.from_array(weight_int8, "w_int8"),
                    numpy_helper.from_array(np.zeros(8, dtype=np.int8), "w_zero"),
                    numpy_helper.from_array(scale.astype(np.float32), "w_scale"),
                    numpy_helper.from_array(bias, "bias")]
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["x"], ["x_q", "x_scale", "x_zero"]),
        helper.make_node("MatMulInteger", ["x_q", "w_int8", "x_zero", "w_zero"], ["acc"]),
        helper.make_node("Cast", ["acc"], ["acc_float"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["x_scale", "w_scale"], ["combined_scale"]),
        helper.make_node("Mul", ["acc_float", "combined_scale"], ["product"]),
        helper.make_node("Add", ["product", "bias"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "int8", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 8])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    x = rng.normal(size=(5, 16)).astype(np.float32)

    session = NumpySession(model)
    result = session.run({"x": x}, ["y", "acc", "x_q", "x_zero"])

    expected_acc = (result["x_q"].astype(np.int64) - int(result["x_zero"])) @ (
        weight_int8.astype(np.int64))
    np.testing.assert_array_equal(result["acc"], expected_acc)
    reference = ReferenceEvaluator(model).run(None, {"x": x})[0]
    np.testing.assert_allclose(result["y"], reference, rtol=1e-6, atol=1e-6)
    # The INT8 product stays close to the FP32 one.
    np.testing.assert_allclose(result["y"], x @ weight + bias, atol=0.1)


def test_exec_constant_weights_read_only_and_reused(rng) -> None:
    b = rng.integers(-128, 128, (16, 8), dtype=np.int8)
    b_zero_point = rng.integers(-3, 4, 8, dtype=np.int8)
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b", "", "b_zero_point"], ["y"])], "g",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [2, 16])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [2, 8])],
        [numpy_helper.from_array(b, "b"), numpy_helper.from_array(b_zero_point, "b_zero_point")])
    session = NumpySession(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))
    expected_b = b.astype(np.int64) - b_zero_point.astype(np.int64)

    assert session.graph.constants["b"].flags.writeable is False
    for _ in range(3):
        a = rng.integers(0, 256, (2, 16), dtype=np.uint8)
        y = session.run({"a": a})["y"]
        np.testing.assert_array_equal(y, (a.astype(np.int64) @ expected_b).astype(np.int32))


def test_exec_integer_matmul_writable_operand_not_cached(rng) -> None:
    a = rng.integers(0, 256, (3, 5), dtype=np.uint8)
    b = rng.integers(-128, 128, (5, 4), dtype=np.int8)
    first = integer_matmul(a, b)
    b[:] = 1

    second = integer_matmul(a, b)

    np.testing.assert_array_equal(second, a.astype(np.int32) @ np.ones((5, 4), np.int32))
    assert not np.array_equal(first, second)
