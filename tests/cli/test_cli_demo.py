"""``alice-gl demo``: the engine's whole job on a bundled model, checked against onnxruntime."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import onnx
import pytest
from cli_models import run_onnxruntime

from alice_gl.bundled import load_bundled
from alice_gl.cli import main
from alice_gl.cli.demo import INFER_BATCH, format_report, run_demo
from alice_gl.quantization import quantize_dynamic

BACKEND_NAMES = {"numpy", "gl-fragment", "gl-compute"}


def parse_table(stdout: str) -> dict[str, str]:
    """Return the demo table as {label: value}, splitting each line at its first 2+ spaces."""
    rows = {}
    for line in stdout.strip().splitlines():
        label, value = re.split(r"\s{2,}", line, maxsplit=1)
        rows[label] = value
    return rows


def percent(value: str) -> float:
    match = re.match(r"([\d.]+)%", value)
    assert match, value
    return float(match[1])


def onnxruntime_int8_accuracy(name: str) -> float:
    """Top-1 of the dynamic INT8 model on onnxruntime, in the demo's inference batches."""
    bundled = load_bundled(name)
    int8_model, _ = quantize_dynamic(onnx.load(str(bundled.model_path)))
    scores = [run_onnxruntime(int8_model, {bundled.input_name: bundled.test_inputs[start:start
                                                                                 + INFER_BATCH]})
              for start in range(0, len(bundled.test_inputs), INFER_BATCH)]
    outputs = [output.name for output in int8_model.graph.output]
    index = outputs.index(bundled.score_output)
    predicted = np.concatenate([batch[index] for batch in scores]).argmax(axis=1)
    return float(np.mean(predicted == bundled.test_labels))


def check_demo_table(rows: dict[str, str], name: str) -> None:
    bundled = load_bundled(name)
    assert rows["Model"].startswith(f"{name} (bundled), {len(bundled.test_labels)} test samples")
    compression = float(rows["Compression"].rstrip("x"))
    assert compression >= 3.5
    assert rows["Guard verdict"] == "ok"
    similarity = re.fullmatch(r"min ([\d.]+), mean ([\d.]+)", rows["Cosine similarity"])
    assert similarity, rows["Cosine similarity"]
    assert float(similarity[1]) >= 0.98
    assert float(similarity[2]) >= float(similarity[1])

    fp32 = percent(rows["Top-1 FP32"])
    int8 = percent(rows["Top-1 INT8"])
    assert fp32 == pytest.approx(100.0 * bundled.fp32_test_accuracy, abs=0.005)
    assert int8 == pytest.approx(100.0 * onnxruntime_int8_accuracy(name),
                                 abs=100.0 / len(bundled.test_labels) + 0.005)
    drop = float(rows["Accuracy drop"].split()[0])
    assert drop == pytest.approx(fp32 - int8, abs=0.011)
    assert drop <= 0.5
    assert rows["Backend"] in BACKEND_NAMES
    assert rows["GL renderer"]


def test_demo_mlp_default(capsys):
    assert main(["demo"]) == 0
    rows = parse_table(capsys.readouterr().out)
    check_demo_table(rows, "mlp_digits")
    fp32_bytes = int(rows["FP32 size"].split()[0].replace(",", ""))
    int8_bytes = int(rows["INT8 size"].split()[0].replace(",", ""))
    assert float(rows["Compression"].rstrip("x")) == pytest.approx(fp32_bytes / int8_bytes,
                                                                   abs=0.005)


def test_demo_numpy_backend(capsys):
    assert main(["demo", "--backend", "numpy"]) == 0
    rows = parse_table(capsys.readouterr().out)
    assert rows["Backend"] == "numpy"
    assert rows["GL renderer"] == "none (not a GL backend)"


def test_demo_table_names_fp32_fallback():
    report = run_demo("mlp_digits", "numpy")
    assert report.served_mode == "int8"
    rows = parse_table(format_report(dataclasses.replace(report, served_mode="fp32")))
    assert "Top-1 INT8" not in rows
    assert rows["Top-1 served (fp32)"].endswith("% (engine.infer)")


@pytest.mark.slow
def test_demo_cnn(capsys):
    assert main(["demo", "--model", "cnn_digits", "--backend", "numpy"]) == 0
    check_demo_table(parse_table(capsys.readouterr().out), "cnn_digits")


@pytest.mark.parametrize("flags", [["--model", "resnet50"], ["--backend", "vulkan"]])
def test_demo_bad_choice(flags, capsys):
    assert main(["demo", *flags]) == 2
    assert "invalid choice" in capsys.readouterr().err
