"""``alice-gl quantize --mode static`` end to end on the bundled CNN."""

from __future__ import annotations

import json

import numpy as np
import onnx
from calib_digits import calibration_inputs

from alice_gl.cli import main
from alice_gl.resources import data_path


def test_calib_cli_static_kl(tmp_path, capsys):
    calibration = tmp_path / "calibration.npz"
    np.savez(calibration, input=calibration_inputs("cnn_digits"))
    output = tmp_path / "cnn_int8.onnx"
    report_path = tmp_path / "report.json"
    code = main(["quantize", str(data_path("cnn_digits.onnx")), "-o", str(output),
                 "--mode", "static", "--calibration", str(calibration), "--strategy", "kl",
                 "--samples", "64", "--report", str(report_path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    onnx.checker.check_model(onnx.load(str(output)))
    report = json.loads(report_path.read_text())
    assert report["strategy"] == "kl"
    assert report["calibration_samples"] == 64
    fp32 = onnx.load(str(data_path("cnn_digits.onnx")))
    quantizable = {node.input[0] for node in fp32.graph.node
                   if node.op_type in ("Conv", "Gemm", "MatMul", "ConvTranspose")}
    assert {record["name"] for record in report["activations"]} == quantizable
    assert "activation(s) calibrated with kl on 64 sample(s)" in captured.out


def test_calib_cli_static_bad_data(tmp_path, capsys):
    calibration = tmp_path / "calibration.npy"
    np.save(calibration, np.zeros((4, 64), np.float32))
    code = main(["quantize", str(data_path("cnn_digits.onnx")), "-o",
                 str(tmp_path / "out.onnx"), "--mode", "static", "--calibration",
                 str(calibration)])
    captured = capsys.readouterr()
    assert code == 2
    assert "'input'" in captured.err
    assert "[batch, 1, 8, 8] float32" in captured.err
    assert not (tmp_path / "out.onnx").exists()
