"""Files the CLI writes get ordinary permissions: ``0o666 & ~umask``, or the replaced file's."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import onnx
import pytest
from cli_models import outlier_inputs, outlier_matmul_model

from alice_gl.cli import main
from alice_gl.cli.output_files import new_file_mode, write_text_atomically
from alice_gl.model_io import save_model


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def model_path(rng, tmp_path) -> Path:
    path = tmp_path / "model.onnx"
    onnx.save_model(outlier_matmul_model(rng), str(path))
    return path


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_cli_new_file_mode_follows_umask(umask_022):
    assert new_file_mode() == 0o644
    os.umask(0o027)
    assert new_file_mode() == 0o640


def test_cli_report_and_model_modes(model_path, tmp_path, umask_022):
    output = tmp_path / "q.onnx"
    report = tmp_path / "report.json"
    assert main(["quantize", str(model_path), "-o", str(output), "--report", str(report)]) == 0
    assert mode_of(report) == 0o644
    assert mode_of(output) == 0o644


def test_cli_replaced_report_keeps_mode(model_path, tmp_path, umask_022):
    report = tmp_path / "report.json"
    report.write_text("old")
    report.chmod(0o664)
    assert main(["quantize", str(model_path), "-o", str(tmp_path / "q.onnx"),
                 "--report", str(report)]) == 0
    assert mode_of(report) == 0o664
    assert report.read_text() != "old"


def test_cli_run_output_mode(model_path, tmp_path, umask_022):
    inputs = tmp_path / "in.npz"
    np.savez(inputs, x=outlier_inputs(np.random.default_rng(1), 2, outlier=1.0))
    outputs = tmp_path / "out.npz"
    assert main(["run", str(model_path), "--input", str(inputs), "--backend", "numpy",
                 "-o", str(outputs)]) == 0
    assert mode_of(outputs) == 0o644
    outputs.chmod(0o600)
    assert main(["run", str(model_path), "--input", str(inputs), "--backend", "numpy",
                 "-o", str(outputs)]) == 0
    assert mode_of(outputs) == 0o600
    with np.load(outputs) as archive:
        assert archive.files == ["y"]


def test_cli_save_model_keeps_mode(rng, tmp_path, umask_022):
    target = tmp_path / "saved.onnx"
    save_model(outlier_matmul_model(rng), target)
    assert mode_of(target) == 0o644
    target.chmod(0o640)
    save_model(outlier_matmul_model(rng), target)
    assert mode_of(target) == 0o640


def test_cli_atomic_write_leaves_no_staging(tmp_path, umask_022):
    target = tmp_path / "text.json"
    write_text_atomically(target, "{}")
    assert target.read_text() == "{}"
    assert [path.name for path in tmp_path.iterdir()] == ["text.json"]
