"""Static QDQ quantization: graph form, parameters, runners, options and errors."""

from __future__ import annotations

import json
import logging

import numpy as np
import onnx
import onnxruntime
import pytest
from calib_models import gemm_conv_model, if_model, single_input_model
from onnx import numpy_helper

from alice_gl.calibration import STRATEGIES, quantize_static
from alice_gl.errors import CalibrationDataError, ConfigError
from alice_gl.executor import NumpySession


def _run_ort(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def _producers(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    return {output: node for node in model.graph.node for output in node.output}


def _initializers(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {tensor.name: numpy_helper.to_array(tensor) for tensor in model.graph.initializer}


def _axis(node: onnx.NodeProto) -> int | None:
    for attribute in node.attribute:
        if attribute.name == "axis":
            return attribute.i
    return None


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture
def conv_inputs(rng):
    return rng.normal(size=(40, 2, 5, 5)).astype(np.float32)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_calib_static_qdq_form(strategy, conv_inputs):
    model, report = quantize_static(gemm_conv_model(), conv_inputs, strategy=strategy,
                                    progress=False)
    onnx.checker.check_model(model)
    producers = _producers(model)
    initializers = _initializers(model)
    records = {record.name: record for record in report.activations}
    expected_axis = {"Conv": 0, "Gemm": 0}  # Gemm has transB=1, so W is [N, K]

    for node in model.graph.node:
        if node.op_type not in expected_axis:
            continue
        dequantize = producers[node.input[0]]
        quantize = producers[dequantize.input[0]]
        assert dequantize.op_type == "DequantizeLinear"
        assert quantize.op_type == "QuantizeLinear"
        activation = quantize.input[0]
        scale = initializers[quantize.input[1]]
        zero_point = initializers[quantize.input[2]]
        assert zero_point.dtype == np.uint8
        assert scale.dtype == np.float32
        assert scale > 0
        record = records[activation]
        assert record.scale == float(scale)
        assert record.zero_point == int(zero_point)

        weight = producers[node.input[1]]
        assert weight.op_type == "DequantizeLinear"
        assert initializers[weight.input[0]].dtype == np.int8
        assert _axis(weight) == expected_axis[node.op_type]
    assert set(records) == {"x", "flat"}


def test_calib_static_matmul_weight_axis(rng):
    model, _ = quantize_static(single_input_model(), rng.normal(size=(30, 4)).astype(np.float32),
                               progress=False)
    producers = _producers(model)
    matmuls = [node for node in model.graph.node if node.op_type == "MatMul"]
    assert len(matmuls) == 2
    for node in matmuls:
        assert _axis(producers[node.input[1]]) == 1


def test_calib_static_parameters_follow_range(conv_inputs):
    _, report = quantize_static(gemm_conv_model(), conv_inputs, progress=False)
    for record in report.activations:
        low, high = min(record.rmin, 0.0), max(record.rmax, 0.0)
        assert record.scale == pytest.approx((high - low) / 255, rel=1e-6)
        assert record.zero_point == round(-low / record.scale)
    input_record = next(record for record in report.activations if record.name == "x")
    assert input_record.rmin == pytest.approx(float(conv_inputs.min()))
    assert input_record.rmax == pytest.approx(float(conv_inputs.max()))


def test_calib_static_runs_in_both_executors(conv_inputs, rng):
    fp32 = gemm_conv_model()
    model, _ = quantize_static(fp32, conv_inputs, strategy="kl", progress=False)
    x = rng.normal(size=(16, 2, 5, 5)).astype(np.float32)
    reference = _run_ort(fp32, x)
    from_ort = _run_ort(model, x)
    from_numpy = NumpySession(model).run({"x": x})["y"]
    assert _cosine(from_ort, reference) > 0.999
    assert _cosine(from_numpy, reference) > 0.999
    np.testing.assert_allclose(from_numpy, from_ort, rtol=1e-3, atol=1e-3)


def test_calib_static_leaves_inputs_unchanged(tmp_path, conv_inputs):
    model = gemm_conv_model()
    before = model.SerializeToString()
    path = tmp_path / "model.onnx"
    path.write_bytes(before)
    data_path = tmp_path / "data.npy"
    np.save(data_path, conv_inputs)
    data_before = data_path.read_bytes()

    quantize_static(model, conv_inputs.copy(), progress=False)
    quantize_static(path, data_path, progress=False)
    assert model.SerializeToString() == before
    assert path.read_bytes() == before
    assert data_path.read_bytes() == data_before


def test_calib_static_batch_size_invariant(conv_inputs):
    _, small = quantize_static(gemm_conv_model(), conv_inputs, batch_size=7, progress=False)
    _, large = quantize_static(gemm_conv_model(), conv_inputs, batch_size=64, progress=False)
    assert [(r.scale, r.zero_point) for r in small.activations] == \
           [(r.scale, r.zero_point) for r in large.activations]


def test_calib_static_samples_cap(conv_inputs):
    _, report = quantize_static(gemm_conv_model(), conv_inputs, samples=10, progress=False)
    _, first_ten = quantize_static(gemm_conv_model(), conv_inputs[:10], progress=False)
    assert report.calibration_samples == 10
    assert report.activations == first_ten.activations


def test_calib_static_report(conv_inputs):
    model, report = quantize_static(gemm_conv_model(), conv_inputs, strategy="percentile",
                                    percentile=99.9, progress=False)
    as_dict = json.loads(report.to_json())
    assert as_dict["mode"] == "static"
    assert as_dict["strategy"] == "percentile"
    assert as_dict["percentile"] == 99.9
    assert as_dict["calibration_samples"] == 40
    assert {entry["name"] for entry in as_dict["activations"]} == {"x", "flat"}
    assert as_dict["quantized_node_count"] == 2
    assert len(as_dict["weights"]) == 2
    assert report.int8_bytes == model.ByteSize()
    assert report.fp32_bytes == gemm_conv_model().ByteSize()
    assert "flat: range [" in report.summary()


def test_calib_static_per_tensor(conv_inputs):
    model, report = quantize_static(gemm_conv_model(), conv_inputs, per_channel=False,
                                    progress=False)
    initializers = _initializers(model)
    weights = [node for node in model.graph.node if node.op_type == "DequantizeLinear"
               and node.input[0] in initializers]
    assert len(weights) == 2
    assert all(_axis(node) is None for node in weights)
    assert all(weight.granularity == "per_tensor" for weight in report.weights)


def test_calib_static_op_types_and_exclude(conv_inputs):
    model, report = quantize_static(gemm_conv_model(), conv_inputs, op_types=["Conv"],
                                    progress=False)
    assert [record.name for record in report.activations] == ["x"]
    gemm = next(node for node in model.graph.node if node.op_type == "Gemm")
    assert gemm.input[0] == "flat"

    model, report = quantize_static(gemm_conv_model(), conv_inputs, exclude_nodes=["conv"],
                                    progress=False)
    assert [record.name for record in report.activations] == ["flat"]
    conv = next(node for node in model.graph.node if node.op_type == "Conv")
    assert conv.input[:2] == ["x", "conv_w"]


def test_calib_static_all_zero_activation():
    zeros = np.zeros((8, 2, 5, 5), np.float32)
    model, report = quantize_static(gemm_conv_model(), zeros, strategy="kl", progress=False)
    record = next(record for record in report.activations if record.name == "x")
    assert record.scale > 0
    assert np.isfinite(record.scale)
    assert np.all(np.isfinite(_run_ort(model, zeros)))


def test_calib_static_progress_bar(conv_inputs, capsys):
    quantize_static(gemm_conv_model(), conv_inputs, progress=True)
    captured = capsys.readouterr()
    assert "Calibrating" in captured.err
    assert "40/40" in captured.err
    assert captured.out == ""


def test_calib_static_bad_arguments(conv_inputs):
    with pytest.raises(ConfigError, match="Unknown calibration strategy 'entropy'"):
        quantize_static(gemm_conv_model(), conv_inputs, strategy="entropy")
    with pytest.raises(ConfigError, match="percentile must be between 50 and 100"):
        quantize_static(gemm_conv_model(), conv_inputs, strategy="percentile", percentile=101)
    with pytest.raises(ConfigError, match="Unsupported op type"):
        quantize_static(gemm_conv_model(), conv_inputs, op_types=["Relu"])
    with pytest.raises(ConfigError, match="No node named missing"):
        quantize_static(gemm_conv_model(), conv_inputs, exclude_nodes=["missing"])
    with pytest.raises(ConfigError, match="batch_size must be a positive integer, got 0"):
        quantize_static(gemm_conv_model(), conv_inputs, batch_size=0)
    with pytest.raises(CalibrationDataError, match=r"'x' .*\[batch, 2, 5, 5\] float32"):
        quantize_static(gemm_conv_model(), conv_inputs[:, :1])


def test_calib_static_subgraph_stays_dynamic(rng, caplog):
    fp32 = if_model()
    x = rng.normal(size=(20, 4)).astype(np.float32) + 0.5
    with caplog.at_level(logging.WARNING):
        model, report = quantize_static(fp32, x, progress=False)
    onnx.checker.check_model(model)
    assert [record.name for record in report.activations] == ["branch_y"]
    assert "'x' in main/if.then_branch is quantized dynamically" in caplog.text
    if_node = next(node for node in model.graph.node if node.op_type == "If")
    then_branch = next(attribute.g for attribute in if_node.attribute
                       if attribute.name == "then_branch")
    assert "DynamicQuantizeLinear" in [node.op_type for node in then_branch.node]
    reference = _run_ort(fp32, x)
    assert _cosine(_run_ort(model, x), reference) > 0.999
    assert _cosine(NumpySession(model).run({"x": x})["y"], reference) > 0.999
