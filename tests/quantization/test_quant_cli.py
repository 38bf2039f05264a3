"""The ``alice-gl quantize`` and ``alice-gl inspect`` commands."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from quant_model_builders import cosine, mlp_model, op_types, run_onnxruntime

from alice_gl.cli import main


@pytest.fixture
def model_path(rng, tmp_path) -> Path:
    path = tmp_path / "mlp.onnx"
    onnx.save_model(mlp_model(rng, batch="N"), str(path))
    return path


def test_quantize_writes_model_and_report(model_path, tmp_path, capsys):
    before = model_path.read_bytes()
    output = tmp_path / "out" / "mlp_int8.onnx"
    output.parent.mkdir()
    report_path = tmp_path / "report.json"
    code = main(["quantize", str(model_path), "-o", str(output), "--report", str(report_path)])
    assert code == 0
    assert model_path.read_bytes() == before
    quantized = onnx.load(str(output))
    onnx.checker.check_model(quantized)
    assert "MatMulInteger" in op_types(quantized)
    report = json.loads(report_path.read_text())
    assert report["int8_bytes"] == output.stat().st_size
    assert report["fp32_bytes"] == len(before)
    assert "compression" in capsys.readouterr().out

    x = np.random.default_rng(1).normal(0, 1, (5, 16)).astype(np.float32)
    expected = run_onnxruntime(onnx.load(str(model_path)), {"x": x})[0]
    assert cosine(run_onnxruntime(quantized, {"x": x})[0], expected) > 0.999
    assert sorted(item.name for item in output.parent.iterdir()) == ["mlp_int8.onnx"]


def test_quantize_options(model_path, tmp_path):
    output = tmp_path / "out.onnx"
    report_path = tmp_path / "report.json"
    code = main(["quantize", str(model_path), "-o", str(output), "--per-tensor",
                 "--op-types", "Gemm", "MatMul", "--exclude", "fc2", "--report", str(report_path)])
    assert code == 0
    report = json.loads(report_path.read_text())
    assert [node["name"] for node in report["nodes"] if node["status"] == "quantized"] == ["fc1"]
    assert report["weights"][0]["granularity"] == "per_tensor"
    assert "Gemm" in op_types(onnx.load(str(output)))


def test_quantize_refuses_to_overwrite_input(model_path, capsys):
    before = model_path.read_bytes()
    alias = model_path.parent / "." / model_path.name
    assert main(["quantize", str(model_path), "-o", str(alias)]) == 2
    assert model_path.read_bytes() == before
    error = capsys.readouterr().err
    assert "is the same file as the input MODEL" in error
    assert error.count("\n") == 1


def test_quantize_missing_model_exit_2(tmp_path, capsys):
    missing = tmp_path / "missing.onnx"
    assert main(["quantize", str(missing), "-o", str(tmp_path / "out.onnx")]) == 2
    assert str(missing) in capsys.readouterr().err


def test_quantize_bad_arguments_exit_2(model_path, tmp_path):
    output = str(tmp_path / "out.onnx")
    assert main(["quantize", str(model_path), "-o", output, "--op-types", "Relu"]) == 2
    assert main(["quantize", str(model_path), "-o", output, "--exclude", "nope"]) == 2
    assert main(["quantize", str(model_path), "-o", output, "--strategy", "kl"]) == 2
    assert main(["quantize", str(model_path), "-o", output, "--mode", "static"]) == 2
    assert main(["quantize", str(model_path), "-o", output, "--samples", "0"]) == 2
    assert not (tmp_path / "out.onnx").exists()


def test_quantize_nan_weight_exit_1(tmp_path, capsys):
    model = mlp_model(np.random.default_rng(3))
    weight = onnx.numpy_helper.to_array(model.graph.initializer[0]).copy()
    weight[0, 0] = np.nan
    model.graph.initializer[0].CopyFrom(onnx.numpy_helper.from_array(weight, "w1"))
    path = tmp_path / "nan.onnx"
    onnx.save_model(model, str(path))
    assert main(["quantize", str(path), "-o", str(tmp_path / "out.onnx")]) == 1
    assert "w1" in capsys.readouterr().err


def test_inspect_text_and_json(model_path, capsys):
    assert main(["inspect", str(model_path)]) == 0
    text = capsys.readouterr().out
    assert "x: FLOAT ['N', 16]" in text
    assert "quantize MatMul fc1" in text

    assert main(["inspect", str(model_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["inputs"] == [{"name": "x", "type": "FLOAT", "shape": ["N", 16]}]
    assert summary["outputs"][0]["name"] == "y"
    assert summary["op_histogram"] == {"Add": 1, "Gemm": 1, "MatMul": 1, "Relu": 1}
    assert summary["parameter_count"] == 16 * 32 + 32 + 10 * 32 + 10
    assert summary["file_bytes"] == model_path.stat().st_size
    statuses = {node["name"]: node["status"] for node in summary["quantization"]["nodes"]}
    assert statuses == {"fc1": "quantized", "fc1_bias": "skipped", "relu": "skipped",
                        "fc2": "quantized"}


def test_installed_command_runs(model_path, tmp_path):
    executable = shutil.which("alice-gl") or str(Path(sys.executable).parent / "alice-gl")
    output = tmp_path / "out.onnx"
    result = subprocess.run([executable, "quantize", str(model_path), "-o", str(output)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert output.is_file()
    result = subprocess.run([executable, "quantize", str(model_path), "-o", str(model_path)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert "alice-gl quantize: error:" in result.stderr


def test_quantize_static_mode(model_path, tmp_path):
    calibration = tmp_path / "calibration.npz"
    np.savez(calibration, x=np.random.default_rng(2).normal(0, 1, (20, 16)).astype(np.float32))
    output = tmp_path / "static.onnx"
    code = main(["quantize", str(model_path), "-o", str(output), "--mode", "static",
                 "--calibration", str(calibration), "--strategy", "minmax", "--samples", "10"])
    assert code == 0
    quantized = onnx.load(str(output))
    assert "QuantizeLinear" in op_types(quantized)
    assert "DynamicQuantizeLinear" not in op_types(quantized)
