"""Dynamic INT8 MatMul and Gemm: the node chain, accuracy, exact integer math and sharing."""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator
from quant_model_builders import (
    cosine,
    dynamic_quantize_linear,
    float_input,
    initializer,
    make_model,
    mlp_model,
    op_types,
    run_onnxruntime,
    tensor,
)

from alice_gl.quantization import quantize_dynamic, quantize_weight

MATMUL_CHAIN = ["DynamicQuantizeLinear", "MatMulInteger", "Cast", "Mul", "Mul"]


def matmul_model(w: np.ndarray) -> onnx.ModelProto:
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")
    return make_model([node], [float_input("x", [None, w.shape[0]])],
                      [float_input("y", [None, w.shape[1]])], [initializer(w, "w")])


def test_matmul_becomes_integer_chain(rng):
    model = matmul_model(rng.normal(0, 0.5, (12, 7)).astype(np.float32))
    quantized, report = quantize_dynamic(model)
    assert op_types(quantized) == MATMUL_CHAIN
    assert [init.name for init in quantized.graph.initializer] == ["w_quantized", "w_scale"]
    assert tensor(quantized, "w_quantized").dtype == np.int8
    assert tensor(quantized, "w_scale").shape == (7,)
    assert report.nodes[0].status == "quantized"
    assert report.weights[0].granularity == "per_channel"
    assert report.weights[0].axis == 1


def test_matmul_matches_exact_integer_math(rng):
    w = rng.normal(0, 0.5, (32, 9)).astype(np.float32)
    x = rng.normal(0.3, 1.0, (5, 32)).astype(np.float32)
    quantized, _ = quantize_dynamic(matmul_model(w))
    w_q = tensor(quantized, "w_quantized")
    w_scale = tensor(quantized, "w_scale")

    x_q, x_scale, x_zero_point = dynamic_quantize_linear(x)
    accumulator = (x_q.astype(np.int64) - int(x_zero_point)) @ w_q.astype(np.int64)
    assert np.abs(accumulator).max() < 2**31
    expected = accumulator.astype(np.float32) * (x_scale * w_scale)

    exact = ReferenceEvaluator(quantized).run(None, {"x": x})[0]
    np.testing.assert_allclose(exact, expected, rtol=1e-6, atol=1e-6)
    # onnxruntime's u8 x s8 kernels may saturate 16-bit pair sums on CPUs without VNNI, so it
    # is held to FP32-level closeness rather than bit equality.
    runtime = run_onnxruntime(quantized, {"x": x})[0]
    assert cosine(runtime, expected) > 0.9999
    fp32 = x @ w
    assert cosine(expected, fp32) > 0.999


def test_mlp_close_to_fp32(rng):
    model = mlp_model(rng)
    x = rng.normal(0, 1, (64, 16)).astype(np.float32)
    quantized, report = quantize_dynamic(model)
    assert len(report.quantized_nodes) == 2
    expected = run_onnxruntime(model, {"x": x})[0]
    actual = run_onnxruntime(quantized, {"x": x})[0]
    assert cosine(actual, expected) > 0.999


def test_shared_activation_quantized_once(rng):
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["y1"], name="a"),
             helper.make_node("MatMul", ["x", "w2"], ["y2"], name="b")]
    model = make_model(nodes, [float_input("x", [2, 4])],
                       [float_input("y1", [2, 3]), float_input("y2", [2, 5])],
                       [initializer(rng.normal(0, 1, (4, 3)).astype(np.float32), "w1"),
                        initializer(rng.normal(0, 1, (4, 5)).astype(np.float32), "w2")])
    quantized, _ = quantize_dynamic(model)
    assert op_types(quantized).count("DynamicQuantizeLinear") == 1
    assert op_types(quantized).count("MatMulInteger") == 2


GEMM_CASES = list(itertools.product([0, 1], [0, 1], [1.0, 0.5], [1.0, 2.5, 0.0]))


@pytest.mark.parametrize(("trans_a", "trans_b", "alpha", "beta"), GEMM_CASES)
def test_gemm_attributes(rng, trans_a, trans_b, alpha, beta):
    m, k, n = 6, 10, 4
    a_shape = [k, m] if trans_a else [m, k]
    b = rng.normal(0, 0.5, (n, k) if trans_b else (k, n)).astype(np.float32)
    c = rng.normal(0, 0.5, (n,)).astype(np.float32)
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], name="gemm", transA=trans_a,
                            transB=trans_b, alpha=alpha, beta=beta)
    model = make_model([node], [float_input("a", a_shape)], [float_input("y", [m, n])],
                       [initializer(b, "b"), initializer(c, "c")])
    a = rng.normal(0, 1, a_shape).astype(np.float32)

    quantized, _ = quantize_dynamic(model)
    assert "Gemm" not in op_types(quantized)
    assert ("Transpose" in op_types(quantized)) == bool(trans_a)
    expected = run_onnxruntime(model, {"a": a})[0]
    actual = run_onnxruntime(quantized, {"a": a})[0]
    assert actual.shape == expected.shape
    assert cosine(actual, expected) > 0.999
    np.testing.assert_allclose(actual, expected, atol=0.05 * np.abs(expected).max())


@pytest.mark.parametrize("bias_shape", [(), (1, 4), (6, 4), None])
def test_gemm_bias_shapes(rng, bias_shape):
    b = rng.normal(0, 0.5, (10, 4)).astype(np.float32)
    inputs = ["a", "b"] if bias_shape is None else ["a", "b", "c"]
    initializers = [initializer(b, "b")]
    if bias_shape is not None:
        initializers.append(initializer(rng.normal(0, 1, bias_shape).astype(np.float32), "c"))
    node = helper.make_node("Gemm", inputs, ["y"], name="gemm", beta=2.0)
    model = make_model([node], [float_input("a", [6, 10])], [float_input("y", [6, 4])],
                       initializers)
    a = rng.normal(0, 1, (6, 10)).astype(np.float32)
    quantized, _ = quantize_dynamic(model)
    expected = run_onnxruntime(model, {"a": a})[0]
    assert cosine(run_onnxruntime(quantized, {"a": a})[0], expected) > 0.999


def test_gemm_runtime_bias_scaled_by_beta(rng):
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], name="gemm", beta=3.0)
    model = make_model([node], [float_input("a", [2, 5]), float_input("c", [2, 3])],
                       [float_input("y", [2, 3])],
                       [initializer(rng.normal(0, 1, (5, 3)).astype(np.float32), "b")])
    feeds = {"a": rng.normal(0, 1, (2, 5)).astype(np.float32),
             "c": rng.normal(0, 1, (2, 3)).astype(np.float32)}
    quantized, _ = quantize_dynamic(model)
    assert op_types(quantized).count("Mul") == 3
    expected = run_onnxruntime(model, feeds)[0]
    assert cosine(run_onnxruntime(quantized, feeds)[0], expected) > 0.999


def test_gemm_trans_b_weight_shared(rng):
    w = rng.normal(0, 0.5, (4, 6)).astype(np.float32)
    nodes = [
        helper.make_node("Gemm", ["x", "w"], ["h"], name="first", transB=1),
        helper.make_node("Relu", ["h"], ["r"], name="relu"),
        helper.make_node("Gemm", ["x", "w"], ["g"], name="second", transB=1, alpha=0.5),
        helper.make_node("MatMul", ["r", "w"], ["y"], name="third"),
    ]
    model = make_model(nodes, [float_input("x", [3, 6])],
                       [float_input("g", [3, 4]), float_input("y", [3, 6])],
                       [initializer(w, "w")])
    original = model.SerializeToString()
    x = rng.normal(0, 1, (3, 6)).astype(np.float32)

    quantized, report = quantize_dynamic(model)
    names = [init.name for init in quantized.graph.initializer]
    assert "w" not in names
    assert names.count("w_transposed_quantized") == 1
    assert names.count("w_quantized") == 1
    np.testing.assert_array_equal(tensor(quantized, "w_transposed_quantized"),
                                  quantize_weight(w, axis=0)[0].T)
    transposed = next(record for record in report.weights if record.transposed)
    assert transposed.nodes == ["first", "second"]
    assert transposed.shape == [6, 4]
    assert transposed.axis == 1
    np.testing.assert_array_equal(tensor(quantized, "w_transposed_scale"),
                                  (np.abs(w).max(axis=1) / 127).astype(np.float32))
    assert model.SerializeToString() == original

    expected = run_onnxruntime(model, {"x": x})
    actual = run_onnxruntime(quantized, {"x": x})
    for got, want in zip(actual, expected, strict=True):
        assert cosine(got, want) > 0.999


def test_non_constant_b_left_fp32(rng):
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")
    model = make_model([node], [float_input("x", [2, 3]), float_input("w", [3, 4])],
                       [float_input("y", [2, 4])])
    quantized, report = quantize_dynamic(model)
    assert op_types(quantized) == ["MatMul"]
    assert report.nodes[0].status == "skipped"
    assert "not a constant" in report.nodes[0].reason
    feeds = {"x": rng.normal(0, 1, (2, 3)).astype(np.float32),
             "w": rng.normal(0, 1, (3, 4)).astype(np.float32)}
    np.testing.assert_array_equal(run_onnxruntime(quantized, feeds)[0],
                                  run_onnxruntime(model, feeds)[0])


def test_overridable_initializer_left_fp32(rng):
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")
    model = make_model([node], [float_input("x", [2, 3]), float_input("w", [3, 4])],
                       [float_input("y", [2, 4])],
                       [initializer(rng.normal(0, 1, (3, 4)).astype(np.float32), "w")])
    quantized, report = quantize_dynamic(model)
    assert op_types(quantized) == ["MatMul"]
    assert report.nodes[0].status == "skipped"


def test_batched_weight_left_fp32(rng):
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")
    model = make_model([node], [float_input("x", [2, 3, 4])], [float_input("y", [2, 3, 5])],
                       [initializer(rng.normal(0, 1, (2, 4, 5)).astype(np.float32), "w")])
    _, report = quantize_dynamic(model)
    assert report.nodes[0].status == "skipped"
    assert "rank 3" in report.nodes[0].reason


def test_all_zero_weight_column(rng):
    w = rng.normal(0, 1, (8, 4)).astype(np.float32)
    w[:, 1] = 0.0
    quantized, _ = quantize_dynamic(matmul_model(w))
    scale = tensor(quantized, "w_scale")
    assert np.all(np.isfinite(scale))
    assert np.all(scale > 0)
    y = run_onnxruntime(quantized, {"x": rng.normal(0, 1, (3, 8)).astype(np.float32)})[0]
    assert np.all(np.isfinite(y))
    assert np.all(y[:, 1] == 0)


def test_all_zero_activation_gives_zero_output(rng):
    quantized, _ = quantize_dynamic(matmul_model(rng.normal(0, 1, (8, 4)).astype(np.float32)))
    zeros = {"x": np.zeros((3, 8), np.float32)}
    for y in (run_onnxruntime(quantized, zeros)[0],
              ReferenceEvaluator(quantized).run(None, zeros)[0]):
        assert np.all(np.isfinite(y))
        assert not y.any()


def test_per_tensor_scales_are_scalars(rng):
    model = mlp_model(rng)
    quantized, report = quantize_dynamic(model, per_channel=False)
    assert len(report.weights) == 2
    for record in report.weights:
        assert record.granularity == "per_tensor"
        assert record.axis is None
        assert tensor(quantized, record.scale_name).shape == ()
    x = rng.normal(0, 1, (4, 16)).astype(np.float32)
    expected = run_onnxruntime(model, {"x": x})[0]
    assert cosine(run_onnxruntime(quantized, {"x": x})[0], expected) > 0.999


def test_float16_weight_left_fp32(rng):
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")
    graph_input = helper.make_tensor_value_info("x", TensorProto.FLOAT16, [2, 3])
    graph_output = helper.make_tensor_value_info("y", TensorProto.FLOAT16, [2, 4])
    model = make_model([node], [graph_input], [graph_output],
                       [initializer(rng.normal(0, 1, (3, 4)).astype(np.float16), "w")])
    _, report = quantize_dynamic(model)
    assert report.nodes[0].status == "skipped"
    assert "FLOAT16" in report.nodes[0].reason


def test_matmul_batched_activation(rng):
    w = rng.normal(0, 0.5, (8, 6)).astype(np.float32)
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")
    model = make_model([node], [float_input("x", ["batch", "sequence", 8])],
                       [float_input("y", ["batch", "sequence", 6])], [initializer(w, "w")])
    x = rng.normal(0, 1, (2, 5, 8)).astype(np.float32)
    quantized, _ = quantize_dynamic(model)
    actual = run_onnxruntime(quantized, {"x": x})[0]
    assert actual.shape == (2, 5, 6)
    assert cosine(actual, x @ w) > 0.999
