"""``alice-gl quantize --sensitivity-plot``: a PNG of per-layer sensitivity."""

from __future__ import annotations

import sys

import numpy as np
import onnx
import pytest
from cli_models import collapsing_layer_model, outlier_inputs, outlier_matmul_model

from alice_gl.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def validation(tmp_path):
    path = tmp_path / "validation.npy"
    np.save(path, np.random.default_rng(1).normal(size=(32, 32)).astype(np.float32))
    return path


def test_plot_writes_png(rng, tmp_path, validation, capsys):
    model_path = tmp_path / "collapsing.onnx"
    onnx.save_model(collapsing_layer_model(rng), str(model_path))
    plot = tmp_path / "sensitivity.png"
    code = main(["quantize", str(model_path), "-o", str(tmp_path / "out.onnx"), "--validation",
                 str(validation), "--sensitivity-plot", str(plot)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"Wrote sensitivity plot {plot}" in captured.out
    data = plot.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > len(PNG_SIGNATURE)

    from matplotlib.image import imread

    height, width, _ = imread(plot).shape
    assert width >= 600
    assert height >= 450


def test_plot_written_on_rejection(rng, tmp_path, capsys):
    model_path = tmp_path / "outlier.onnx"
    onnx.save_model(outlier_matmul_model(rng), str(model_path))
    validation = tmp_path / "validation.npy"
    np.save(validation, outlier_inputs(np.random.default_rng(1), 32, outlier=300.0))
    output = tmp_path / "out.onnx"
    plot = tmp_path / "sensitivity.png"
    code = main(["quantize", str(model_path), "-o", str(output), "--validation",
                 str(validation), "--sensitivity-plot", str(plot)])
    assert code == 1
    assert "similarity too low" in capsys.readouterr().err
    assert not output.exists()
    assert plot.read_bytes().startswith(PNG_SIGNATURE)


def test_plot_needs_sample_data(rng, tmp_path, capsys):
    model_path = tmp_path / "outlier.onnx"
    onnx.save_model(outlier_matmul_model(rng), str(model_path))
    plot = tmp_path / "sensitivity.png"
    code = main(["quantize", str(model_path), "-o", str(tmp_path / "out.onnx"),
                 "--sensitivity-plot", str(plot)])
    error = capsys.readouterr().err
    assert code == 2
    assert "--sensitivity-plot needs sample data" in error
    assert not plot.exists()


def test_plot_missing_folder(rng, tmp_path, validation, capsys):
    model_path = tmp_path / "collapsing.onnx"
    onnx.save_model(collapsing_layer_model(rng), str(model_path))
    output = tmp_path / "out.onnx"
    code = main(["quantize", str(model_path), "-o", str(output), "--validation",
                 str(validation), "--sensitivity-plot", str(tmp_path / "missing" / "plot.png")])
    assert code == 2
    assert "Output folder of --sensitivity-plot not found" in capsys.readouterr().err
    assert not output.exists()


def test_plot_without_matplotlib(rng, tmp_path, validation, monkeypatch, capsys):
    model_path = tmp_path / "collapsing.onnx"
    onnx.save_model(collapsing_layer_model(rng), str(model_path))
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    output = tmp_path / "out.onnx"
    plot = tmp_path / "sensitivity.png"
    code = main(["quantize", str(model_path), "-o", str(output), "--validation",
                 str(validation), "--sensitivity-plot", str(plot)])
    error = capsys.readouterr().err
    assert code == 2
    assert "needs matplotlib" in error
    assert "pip install 'alice-gl[plot]'" in error
    assert not output.exists()
    assert not plot.exists()


def test_plot_no_quantized_layer(rng, tmp_path, validation, capsys):
    model_path = tmp_path / "collapsing.onnx"
    onnx.save_model(collapsing_layer_model(rng), str(model_path))
    output = tmp_path / "out.onnx"
    code = main(["quantize", str(model_path), "-o", str(output), "--validation",
                 str(validation), "--exclude", "fc1", "fc2", "fc3", "--sensitivity-plot",
                 str(tmp_path / "plot.png")])
    assert code == 2
    assert "No layer sensitivities to plot" in capsys.readouterr().err
    assert not output.exists()
