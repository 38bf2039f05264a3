"""Output paths of ``quantize`` and ``run``: checked before any work, never an input's file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from cli_models import outlier_inputs, outlier_matmul_model

from alice_gl.cli import main
from alice_gl.cli import quantize as quantize_command
from alice_gl.cli import run as run_command
from alice_gl.cli.paths import check_output_paths
from alice_gl.errors import InvalidInputError


@pytest.fixture
def model_path(rng, tmp_path) -> Path:
    path = tmp_path / "model.onnx"
    onnx.save_model(outlier_matmul_model(rng), str(path))
    return path


@pytest.fixture
def samples_path(tmp_path) -> Path:
    path = tmp_path / "samples.npz"
    np.savez(path, x=outlier_inputs(np.random.default_rng(1), 4, outlier=1.0))
    return path


@pytest.fixture
def no_work(monkeypatch):
    """Make quantizing or building a run backend fail the test, to prove the check runs first."""
    def fail(*args, **kwargs):
        raise AssertionError("work started before the output paths were checked")

    monkeypatch.setattr(quantize_command, "quantize_dynamic", fail)
    monkeypatch.setattr(quantize_command.guarded, "quantize_guarded", fail)
    monkeypatch.setattr(quantize_command.guarded, "check_validation_data", fail, raising=False)
    for name in list(run_command.BACKENDS):
        monkeypatch.setitem(run_command.BACKENDS, name, fail)


def test_cli_report_on_model_rejected(model_path, tmp_path, capsys, no_work):
    before = model_path.read_bytes()
    code = main(["quantize", str(model_path), "-o", str(tmp_path / "q.onnx"),
                 "--report", str(model_path)])
    assert code == 2
    assert model_path.read_bytes() == before
    assert "--report" in capsys.readouterr().err


def test_cli_output_equals_report_rejected(model_path, tmp_path, capsys, no_work):
    output = tmp_path / "q.onnx"
    code = main(["quantize", str(model_path), "-o", str(output), "--report", str(output)])
    assert code == 2
    assert not output.exists()
    assert "--report" in capsys.readouterr().err


def test_cli_output_on_validation_rejected(model_path, samples_path, capsys, no_work):
    before = samples_path.read_bytes()
    code = main(["quantize", str(model_path), "-o", str(samples_path),
                 "--validation", str(samples_path)])
    assert code == 2
    assert samples_path.read_bytes() == before
    assert "same file as the input --validation" in capsys.readouterr().err


def test_cli_plot_on_validation_rejected(model_path, samples_path, tmp_path, capsys, no_work):
    before = samples_path.read_bytes()
    code = main(["quantize", str(model_path), "-o", str(tmp_path / "q.onnx"),
                 "--validation", str(samples_path), "--sensitivity-plot", str(samples_path)])
    assert code == 2
    assert samples_path.read_bytes() == before
    assert "--sensitivity-plot" in capsys.readouterr().err


def test_cli_run_output_on_input_rejected(model_path, samples_path, capsys, no_work):
    before = samples_path.read_bytes()
    code = main(["run", str(model_path), "--input", str(samples_path), "--backend", "numpy",
                 "-o", str(samples_path)])
    assert code == 2
    assert samples_path.read_bytes() == before
    assert "same file as the input --input" in capsys.readouterr().err


def test_cli_output_alias_through_dots(model_path, tmp_path, capsys, no_work):
    (tmp_path / "sub").mkdir()
    alias = tmp_path / "sub" / ".." / "." / model_path.name
    code = main(["quantize", str(model_path), "-o", str(alias)])
    assert code == 2
    assert "same file as the input MODEL" in capsys.readouterr().err


def test_cli_output_alias_through_symlink(model_path, tmp_path, capsys, no_work):
    link = tmp_path / "link.onnx"
    link.symlink_to(model_path)
    before = model_path.read_bytes()
    code = main(["quantize", str(model_path), "-o", str(tmp_path / "q.onnx"),
                 "--report", str(link)])
    assert code == 2
    assert model_path.read_bytes() == before
    assert "same file as the input MODEL" in capsys.readouterr().err


def test_cli_output_folder_rejected(model_path, tmp_path, capsys, no_work):
    folder = tmp_path / "adir"
    folder.mkdir()
    code = main(["quantize", str(model_path), "-o", str(folder)])
    assert code == 2
    assert "is a folder" in capsys.readouterr().err
    assert list(folder.iterdir()) == []


def test_cli_run_missing_folder_rejected(model_path, samples_path, tmp_path, capsys, no_work):
    code = main(["run", str(model_path), "--input", str(samples_path), "--backend", "numpy",
                 "-o", str(tmp_path / "missing" / "o.npz")])
    assert code == 2
    assert "Output folder of -o not found" in capsys.readouterr().err


def test_cli_output_fifo_rejected(model_path, tmp_path, capsys, no_work):
    fifo = tmp_path / "report.json"
    os.mkfifo(fifo)
    code = main(["quantize", str(model_path), "-o", str(tmp_path / "q.onnx"),
                 "--report", str(fifo)])
    assert code == 2
    assert "not a regular file" in capsys.readouterr().err


def test_cli_paths_check_skips_absent(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"model")
    check_output_paths({"MODEL": model, "--validation": None},
                       {"-o": tmp_path / "q.onnx", "--report": None})
    with pytest.raises(InvalidInputError, match="same file as -o"):
        check_output_paths({"MODEL": model},
                           {"-o": tmp_path / "new.onnx", "--report": tmp_path / "new.onnx"})


def test_cli_distinct_outputs_accepted(model_path, tmp_path):
    report = tmp_path / "report.json"
    code = main(["quantize", str(model_path), "-o", str(tmp_path / "q.onnx"),
                 "--report", str(report)])
    assert code == 0
    assert report.is_file()
