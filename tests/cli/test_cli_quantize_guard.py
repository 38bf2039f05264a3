"""``alice-gl quantize`` with sample data: the engine's accuracy guard decides what is written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from cli_models import (
    collapsing_layer_model,
    min_cosine,
    outlier_inputs,
    outlier_matmul_model,
    run_onnxruntime,
)

from alice_gl.bundled import load_bundled
from alice_gl.cli import main

SIMILARITY_TOO_LOW = re.compile(r"similarity too low \((0\.\d+) < 0\.95\)")
GUARD_LINE = re.compile(r"Accuracy guard: verdict (\w+), min cosine similarity ([\d.]+), "
                        r"mean ([\d.]+) over (\d+) sample\(s\)")


def save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save_model(model, str(path))
    return path


def guard_line(stdout: str) -> tuple[str, float, float, int]:
    match = GUARD_LINE.search(stdout)
    assert match, stdout
    return match[1], float(match[2]), float(match[3]), int(match[4])


@pytest.fixture
def outlier_model(rng, tmp_path) -> Path:
    return save(outlier_matmul_model(rng), tmp_path / "outlier.onnx")


@pytest.fixture
def collapsing_model(rng, tmp_path) -> Path:
    return save(collapsing_layer_model(rng), tmp_path / "collapsing.onnx")


def test_guard_accepts_bundled_mlp(tmp_path, capsys):
    bundled = load_bundled("mlp_digits")
    validation = tmp_path / "validation.npz"
    np.savez(validation, input=bundled.test_inputs)
    output = tmp_path / "mlp_int8.onnx"
    report_path = tmp_path / "report.json"
    code = main(["quantize", str(bundled.model_path), "-o", str(output), "--validation",
                 str(validation), "--report", str(report_path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    verdict, similarity, mean, samples = guard_line(captured.out)
    assert verdict == "ok"
    assert similarity >= 0.98
    assert mean >= similarity
    assert samples == len(bundled.test_inputs)
    assert f"Wrote {output}" in captured.out

    quantized = onnx.load(str(output))
    onnx.checker.check_model(quantized)
    assert "MatMulInteger" in {node.op_type for node in quantized.graph.node}
    report = json.loads(report_path.read_text())
    assert report["int8_bytes"] == output.stat().st_size
    guard = report["guard"]
    assert guard["verdict"] == "ok"
    assert guard["served_mode"] == "int8"
    assert guard["output"] == str(output)
    assert guard["evaluation_samples"] == len(bundled.test_inputs)
    assert guard["min_similarity"] == pytest.approx(similarity, abs=5e-5)

    fp32 = onnx.load(str(bundled.model_path))
    feed = {bundled.input_name: bundled.test_inputs[:1]}
    expected = run_onnxruntime(fp32, feed)[0]
    assert min_cosine(expected, run_onnxruntime(quantized, feed)[0]) > 0.98


def test_guard_samples_caps_validation(outlier_model, tmp_path, capsys):
    validation = tmp_path / "validation.npy"
    np.save(validation, outlier_inputs(np.random.default_rng(1), 40, outlier=10.0))
    code = main(["quantize", str(outlier_model), "-o", str(tmp_path / "out.onnx"),
                 "--validation", str(validation), "--samples", "12"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert guard_line(captured.out)[3] == 12


@pytest.mark.parametrize("data_format", ["npz", "npy", "json", "folder"])
def test_guard_validation_formats(data_format, outlier_model, tmp_path, capsys):
    inputs = outlier_inputs(np.random.default_rng(1), 16, outlier=10.0)
    if data_format == "npz":
        validation = tmp_path / "validation.npz"
        np.savez(validation, x=inputs)
    elif data_format == "npy":
        validation = tmp_path / "validation.npy"
        np.save(validation, inputs)
    elif data_format == "json":
        validation = tmp_path / "validation.json"
        validation.write_text(json.dumps({"x": inputs.tolist()}))
    else:
        validation = tmp_path / "validation"
        validation.mkdir()
        np.save(validation / "part0.npy", inputs[:10])
        np.save(validation / "part1.npy", inputs[10:])
    output = tmp_path / "out.onnx"
    code = main(["quantize", str(outlier_model), "-o", str(output), "--validation",
                 str(validation)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    verdict, _, _, samples = guard_line(captured.out)
    assert verdict == "ok"
    assert samples == 16
    assert output.is_file()


def test_guard_fail_writes_nothing(outlier_model, tmp_path, capsys):
    validation = tmp_path / "validation.npy"
    np.save(validation, outlier_inputs(np.random.default_rng(1), 32, outlier=300.0))
    output = tmp_path / "out" / "int8.onnx"
    output.parent.mkdir()
    report_path = tmp_path / "report.json"
    code = main(["quantize", str(outlier_model), "-o", str(output), "--validation",
                 str(validation), "--report", str(report_path)])
    captured = capsys.readouterr()
    assert code == 1
    match = SIMILARITY_TOO_LOW.search(captured.err)
    assert match, captured.err
    assert float(match[1]) < 0.95
    assert f"Nothing was written to {output}" in captured.err
    assert list(output.parent.iterdir()) == []
    assert guard_line(captured.out)[0] == "fail"

    guard = json.loads(report_path.read_text())["guard"]
    assert guard["verdict"] == "fail"
    assert guard["output"] is None
    assert guard["served_mode"] == "fp32"
    assert guard["min_similarity"] < 0.95


def test_guard_fail_no_auto_fallback(collapsing_model, tmp_path, capsys):
    validation = tmp_path / "validation.npy"
    np.save(validation, np.random.default_rng(1).normal(size=(32, 32)).astype(np.float32))
    output = tmp_path / "out.onnx"
    report_path = tmp_path / "report.json"
    code = main(["quantize", str(collapsing_model), "-o", str(output), "--validation",
                 str(validation), "--no-auto-fallback", "--report", str(report_path)])
    captured = capsys.readouterr()
    assert code == 1
    assert SIMILARITY_TOO_LOW.search(captured.err), captured.err
    assert "--no-auto-fallback" in captured.err
    assert not output.exists()
    guard = json.loads(report_path.read_text())["guard"]
    assert guard["success"] is False
    assert SIMILARITY_TOO_LOW.fullmatch(guard["error"])
    assert guard["fp32_layers"] == []


def test_guard_partial_fallback_rescues(collapsing_model, tmp_path, capsys):
    inputs = np.random.default_rng(1).normal(size=(32, 32)).astype(np.float32)
    validation = tmp_path / "validation.npy"
    np.save(validation, inputs)
    output = tmp_path / "out.onnx"
    report_path = tmp_path / "report.json"
    code = main(["quantize", str(collapsing_model), "-o", str(output), "--validation",
                 str(validation), "--report", str(report_path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Partial fallback kept 1 layer(s) FP32: fc2" in captured.out
    assert guard_line(captured.out)[0] == "ok"

    quantized = onnx.load(str(output))
    nodes = {node.name: node.op_type for node in quantized.graph.node}
    assert nodes["fc2"] == "MatMul"
    assert "MatMulInteger" in nodes.values()
    guard = json.loads(report_path.read_text())["guard"]
    assert guard["fp32_layers"] == ["fc2"]
    assert guard["initial_similarity"] < 0.95

    expected = run_onnxruntime(onnx.load(str(collapsing_model)), {"x": inputs[:1]})[0]
    assert min_cosine(expected, run_onnxruntime(quantized, {"x": inputs[:1]})[0]) > 0.98


def test_guard_no_partial_fallback_fails(collapsing_model, tmp_path, capsys):
    validation = tmp_path / "validation.npy"
    np.save(validation, np.random.default_rng(1).normal(size=(32, 32)).astype(np.float32))
    output = tmp_path / "out.onnx"
    code = main(["quantize", str(collapsing_model), "-o", str(output), "--validation",
                 str(validation), "--no-partial-fallback"])
    captured = capsys.readouterr()
    assert code == 1
    assert SIMILARITY_TOO_LOW.search(captured.err), captured.err
    assert "--no-partial-fallback" in captured.err
    assert not output.exists()


def test_guard_thresholds_give_warn(outlier_model, tmp_path, capsys):
    validation = tmp_path / "validation.npy"
    np.save(validation, outlier_inputs(np.random.default_rng(1), 32, outlier=300.0))
    output = tmp_path / "out.onnx"
    report_path = tmp_path / "report.json"
    code = main(["quantize", str(outlier_model), "-o", str(output), "--validation",
                 str(validation), "--fallback-threshold", "0.5", "--warn-threshold", "0.99",
                 "--report", str(report_path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    verdict, similarity, _, _ = guard_line(captured.out)
    assert verdict == "warn"
    assert 0.5 <= similarity < 0.99
    assert "(warn below 0.99, fail below 0.5)" in captured.out
    assert output.is_file()
    config = json.loads(report_path.read_text())["guard"]["config"]
    assert config["fallback_threshold"] == 0.5
    assert config["warn_threshold"] == 0.99


def test_guard_warn_below_fallback(outlier_model, tmp_path, capsys):
    validation = tmp_path / "validation.npy"
    np.save(validation, outlier_inputs(np.random.default_rng(1), 4, outlier=10.0))
    code = main(["quantize", str(outlier_model), "-o", str(tmp_path / "out.onnx"),
                 "--validation", str(validation), "--fallback-threshold", "0.99",
                 "--warn-threshold", "0.98"])
    error = capsys.readouterr().err
    assert code == 2
    assert "--warn-threshold 0.98 is below --fallback-threshold 0.99" in error
    assert not (tmp_path / "out.onnx").exists()


def test_guard_fallback_alone_raises_warn(outlier_model, tmp_path, capsys):
    validation = tmp_path / "validation.npy"
    np.save(validation, outlier_inputs(np.random.default_rng(1), 4, outlier=10.0))
    report_path = tmp_path / "report.json"
    code = main(["quantize", str(outlier_model), "-o", str(tmp_path / "out.onnx"),
                 "--validation", str(validation), "--fallback-threshold", "0.99",
                 "--report", str(report_path)])
    captured = capsys.readouterr()
    assert code in (0, 1), captured.err
    assert "(warn below 0.99, fail below 0.99)" in captured.out
    config = json.loads(report_path.read_text())["guard"]["config"]
    assert config["warn_threshold"] == 0.99


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan", "high"])
def test_guard_threshold_out_of_range(value, outlier_model, tmp_path, capsys):
    code = main(["quantize", str(outlier_model), "-o", str(tmp_path / "out.onnx"),
                 "--validation", "unused.npy", "--fallback-threshold", value])
    assert code == 2
    assert f"expected a similarity between 0 and 1, got {value}" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--fallback-threshold", "0.9"], ["--warn-threshold", "0.99"],
                                   ["--no-auto-fallback"], ["--no-partial-fallback"],
                                   ["--sensitivity-plot", "plot.png"]])
def test_guard_flags_need_sample_data(flags, outlier_model, tmp_path, capsys):
    output = tmp_path / "out.onnx"
    code = main(["quantize", str(outlier_model), "-o", str(output), *flags])
    error = capsys.readouterr().err
    assert code == 2
    assert f"{flags[0]} needs sample data" in error
    assert "--validation DATA" in error
    assert not output.exists()


def test_guard_samples_need_validation(outlier_model, tmp_path, capsys):
    code = main(["quantize", str(outlier_model), "-o", str(tmp_path / "out.onnx"),
                 "--samples", "8"])
    assert code == 2
    assert "--samples applies only to --mode static or with --validation" in (
        capsys.readouterr().err)


def test_guard_validation_mismatch(outlier_model, tmp_path, capsys):
    validation = tmp_path / "validation.npy"
    np.save(validation, np.zeros((4, 7), np.float32))
    output = tmp_path / "out.onnx"
    code = main(["quantize", str(outlier_model), "-o", str(output), "--validation",
                 str(validation)])
    error = capsys.readouterr().err
    assert code == 2
    assert "'x'" in error
    assert not output.exists()


def test_guard_static_mode(outlier_model, tmp_path, capsys):
    calibration = tmp_path / "calibration.npy"
    np.save(calibration, outlier_inputs(np.random.default_rng(1), 24, outlier=10.0))
    output = tmp_path / "static.onnx"
    report_path = tmp_path / "report.json"
    code = main(["quantize", str(outlier_model), "-o", str(output), "--mode", "static",
                 "--calibration", str(calibration), "--report", str(report_path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    verdict, _, _, samples = guard_line(captured.out)
    assert verdict == "ok"
    assert samples == 24
    report = json.loads(report_path.read_text())
    assert report["strategy"] == "minmax"
    assert [record["name"] for record in report["activations"]] == ["x"]
    assert report["guard"]["config"]["mode"] == "static"
    assert "QuantizeLinear" in {node.op_type for node in onnx.load(str(output)).graph.node}


def test_guard_help_explains_rejection(capsys):
    assert main(["quantize", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "nothing is written to OUT" in help_text
    assert "an FP32 copy under an INT8 name would mislead" in help_text
    for flag in ("--validation", "--fallback-threshold", "--warn-threshold",
                 "--no-auto-fallback", "--no-partial-fallback", "--sensitivity-plot"):
        assert flag in help_text
