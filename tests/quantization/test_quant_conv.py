"""Dynamic INT8 Conv and ConvTranspose: DequantizeLinear form, axes, and accuracy."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper
from quant_model_builders import (
    cosine,
    float_input,
    initializer,
    make_model,
    op_types,
    run_onnxruntime,
    tensor,
)

from alice_gl.quantization import quantize_dynamic

CONV_CASES = {
    "conv1d": dict(x=(2, 4, 20), w=(6, 4, 3), attributes={}),
    "conv1d_strided_dilated": dict(x=(1, 3, 30), w=(5, 3, 3),
                                   attributes=dict(strides=[2], dilations=[2], pads=[1, 2])),
    "conv2d_padded": dict(x=(2, 3, 9, 9), w=(8, 3, 3, 3), attributes=dict(pads=[1, 1, 1, 1])),
    "conv2d_groups": dict(x=(1, 4, 8, 8), w=(6, 2, 3, 3), attributes=dict(group=2)),
    "conv2d_depthwise": dict(x=(2, 5, 7, 7), w=(5, 1, 3, 3),
                             attributes=dict(group=5, strides=[2, 2], pads=[1, 1, 1, 1])),
    "conv2d_dilated": dict(x=(1, 3, 10, 10), w=(4, 3, 3, 3), attributes=dict(dilations=[2, 2])),
    "conv2d_same_upper": dict(x=(1, 3, 9, 9), w=(4, 3, 3, 3),
                              attributes=dict(strides=[2, 2], auto_pad="SAME_UPPER")),
}


def conv_model(op_type: str, x_shape, w: np.ndarray, bias: np.ndarray | None,
               attributes: dict) -> onnx.ModelProto:
    inputs = ["x", "w"] if bias is None else ["x", "w", "b"]
    initializers = [initializer(w, "w")]
    if bias is not None:
        initializers.append(initializer(bias, "b"))
    node = helper.make_node(op_type, inputs, ["y"], name="conv", **attributes)
    return make_model([node], [float_input("x", list(x_shape))],
                      [float_input("y", [None] * len(x_shape))], initializers)


@pytest.mark.parametrize("case", sorted(CONV_CASES))
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv_close_to_fp32(rng, case, with_bias):
    spec = CONV_CASES[case]
    w = rng.normal(0, 0.4, spec["w"]).astype(np.float32)
    bias = rng.normal(0, 0.2, spec["w"][0]).astype(np.float32) if with_bias else None
    model = conv_model("Conv", spec["x"], w, bias, spec["attributes"])
    x = rng.normal(0, 1, spec["x"]).astype(np.float32)

    quantized, report = quantize_dynamic(model)
    assert op_types(quantized) == ["DynamicQuantizeLinear", "DequantizeLinear",
                                   "DequantizeLinear", "Conv"]
    weight_dequantize = quantized.graph.node[2]
    assert helper.get_attribute_value(weight_dequantize.attribute[0]) == 0
    assert tensor(quantized, "w_scale").shape == (spec["w"][0],)
    assert tensor(quantized, "w_zero_point").dtype == np.int8
    if with_bias:
        assert quantized.graph.node[3].input[2] == "b"
        assert tensor(quantized, "b").dtype == np.float32
    assert report.weights[0].granularity == "per_channel"

    expected = run_onnxruntime(model, {"x": x})[0]
    actual = run_onnxruntime(quantized, {"x": x})[0]
    assert actual.shape == expected.shape
    assert cosine(actual, expected) > 0.999


def test_conv_per_tensor(rng):
    w = rng.normal(0, 0.4, (4, 3, 3, 3)).astype(np.float32)
    quantized, report = quantize_dynamic(conv_model("Conv", (1, 3, 6, 6), w, None, {}),
                                         per_channel=False)
    assert tensor(quantized, "w_scale").shape == ()
    assert not quantized.graph.node[2].attribute
    assert report.weights[0].granularity == "per_tensor"


def test_conv_transpose_per_channel_axis_1(rng):
    w = rng.normal(0, 0.4, (3, 5, 3, 3)).astype(np.float32)
    model = conv_model("ConvTranspose", (2, 3, 6, 6), w,
                       rng.normal(0, 0.2, 5).astype(np.float32),
                       dict(strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1]))
    x = rng.normal(0, 1, (2, 3, 6, 6)).astype(np.float32)
    quantized, report = quantize_dynamic(model)
    assert "ConvTranspose" in op_types(quantized)
    assert helper.get_attribute_value(quantized.graph.node[2].attribute[0]) == 1
    assert tensor(quantized, "w_scale").shape == (5,)
    np.testing.assert_allclose(tensor(quantized, "w_scale"),
                               np.abs(w).max(axis=(0, 2, 3)) / 127, rtol=1e-6)
    assert report.weights[0].axis == 1
    expected = run_onnxruntime(model, {"x": x})[0]
    assert cosine(run_onnxruntime(quantized, {"x": x})[0], expected) > 0.999


def test_grouped_conv_transpose_falls_back_per_tensor(rng):
    w = rng.normal(0, 0.4, (4, 3, 3, 3)).astype(np.float32)
    model = conv_model("ConvTranspose", (1, 4, 5, 5), w, None, dict(group=2))
    x = rng.normal(0, 1, (1, 4, 5, 5)).astype(np.float32)
    quantized, report = quantize_dynamic(model)
    assert report.weights[0].granularity == "per_tensor"
    assert "group=2" in report.weights[0].reason
    assert tensor(quantized, "w_scale").shape == ()
    expected = run_onnxruntime(model, {"x": x})[0]
    assert cosine(run_onnxruntime(quantized, {"x": x})[0], expected) > 0.999


def test_conv_weight_shared_dequantized_once(rng):
    w = rng.normal(0, 0.4, (3, 3, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["h"], name="c1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Conv", ["r", "w"], ["y"], name="c2", pads=[1, 1, 1, 1])]
    model = make_model(nodes, [float_input("x", [1, 3, 6, 6])], [float_input("y", [1, 3, 6, 6])],
                       [initializer(w, "w")])
    x = rng.normal(0, 1, (1, 3, 6, 6)).astype(np.float32)
    quantized, report = quantize_dynamic(model)
    weight_dequantizers = [node for node in quantized.graph.node
                           if node.op_type == "DequantizeLinear" and node.input[0] == "w_quantized"]
    assert len(weight_dequantizers) == 1
    assert report.weights[0].nodes == ["c1", "c2"]
    expected = run_onnxruntime(model, {"x": x})[0]
    assert cosine(run_onnxruntime(quantized, {"x": x})[0], expected) > 0.999
