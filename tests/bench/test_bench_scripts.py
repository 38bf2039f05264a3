"""Smoke runs of the benchmark scripts: ``bench/run_all.py --quick`` once, then its JSON checked.

No assertion is about how fast anything is. The checks are that every script ran and wrote
well-formed JSON, and that the numbers in it agree with each other.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
SCRIPTS = ("latency", "memory", "quantize_time", "peak", "executor_latency")
BACKENDS = {"numpy", "gl-fragment", "gl-compute", "onnxruntime"}
STATUSES = {"met", "missed", "not measured"}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run every script in quick mode through run_all.py; return the folder of its JSON."""
    folder = tmp_path_factory.mktemp("bench_results")
    completed = subprocess.run(
        [sys.executable, str(REPOSITORY / "bench" / "run_all.py"), "--quick",
         "--results-dir", str(folder), "--markdown", str(folder / "summary.md")],
        capture_output=True, text=True, check=False, cwd=REPOSITORY)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return folder


def _load(results: Path, name: str) -> dict:
    return json.loads((results / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", SCRIPTS)
def test_bench_json_document(results: Path, name: str) -> None:
    document = _load(results, name)
    assert document["benchmark"] == name
    assert f"{name}.py" in document["command"]
    assert "--quick" in document["command"]
    assert document["rows"]


@pytest.mark.parametrize("name", ("latency", "memory", "quantize_time", "peak"))
def test_bench_header_and_targets(results: Path, name: str) -> None:
    document = _load(results, name)
    header = document["header"]
    for key in ("date_utc", "processor", "cpu_count", "numpy", "onnxruntime", "blas", "gl"):
        assert key in header, f"{name}: header lacks {key}"
    assert "renderer" in header["gl"] or "error" in header["gl"]
    assert document["targets"], f"{name}: no targets"
    for record in document["targets"]:
        assert record["status"] in STATUSES
        if record["value"] is None:
            assert record["status"] == "not measured"
            assert record["bound"], f"{record['target']}: no reason why it was not measured"
        else:
            assert record["status"] != "not measured"


def test_bench_markdown_summary(results: Path) -> None:
    text = (results / "summary.md").read_text(encoding="utf-8")
    assert text.startswith("Command: `python bench/run_all.py --quick")
    for name in SCRIPTS:
        assert f"### bench/{name}.py" in text
    assert "## All targets" in text


def test_bench_latency_cells(results: Path) -> None:
    rows = _load(results, "latency")["rows"]
    assert {(row["model"], row["backend"]) for row in rows} == {
        (model, backend) for model in ("mlp_digits", "cnn_digits") for backend in BACKENDS}
    for row in rows:
        for precision in ("fp32", "int8"):
            cell = row["cells"][precision]
            label = f"{row['model']} {row['backend']} {precision}"
            assert ("p50_ms" in cell) != ("skipped" in cell), label
            if "p50_ms" in cell:
                assert 0 < cell["p50_ms"] <= cell["p95_ms"], label
                assert cell["first_ms"] > 0, label
                assert cell["runs"] >= 1, label


def test_bench_latency_cpu_backends_ran(results: Path) -> None:
    rows = _load(results, "latency")["rows"]
    for row in rows:
        if row["backend"] in ("numpy", "onnxruntime"):
            assert row["fp32_p50_ms"] is not None, row["note"]
            assert row["int8_p50_ms"] is not None, row["note"]
            assert math.isclose(row["int8_over_fp32"], row["int8_p50_ms"] / row["fp32_p50_ms"])


def test_bench_memory_files(results: Path) -> None:
    document = _load(results, "memory")
    (files,) = document["files"]
    assert files["model"] == "mlp_digits"
    assert 0 < files["int8_bytes"] < files["fp32_bytes"]
    assert math.isclose(files["int8_over_fp32"], files["int8_bytes"] / files["fp32_bytes"])


def test_bench_memory_textures_and_rss(results: Path) -> None:
    rows = _load(results, "memory")["rows"]
    assert {row["backend"] for row in rows} == {"numpy", "gl-fragment", "onnxruntime"}
    for row in rows:
        for precision in ("fp32", "int8"):
            result = row[precision]
            if "skipped" in result:
                continue
            assert result["peak_mib"] >= result["baseline_mib"] > 0
            if row["backend"] == "gl-fragment":
                # A GLSession allocates exactly its plan, and the plan lists every texture.
                assert result["allocated_bytes"] == result["planned_bytes"] > 0
                assert sum(result["planned_by_kind"].values()) == result["planned_bytes"]


def test_bench_quantize_time_rows(results: Path) -> None:
    document = _load(results, "quantize_time")
    assert [row["model"] for row in document["rows"]] == ["mlp_digits", "cnn_digits"]
    for row in document["rows"] + document["static"]:
        assert row["ours_ms"] > 0
        assert row["onnxruntime_ms"] > 0
        assert math.isclose(row["ratio"], row["ours_ms"] / row["onnxruntime_ms"])
    assert {(row["model"], row["strategy"]) for row in document["static"]} == {
        ("mlp_digits", "minmax"), ("cnn_digits", "minmax")}


def test_bench_peak_rows(results: Path) -> None:
    document = _load(results, "peak")
    rows = document["rows"]
    assert {row["family"] for row in rows} == {"fragment", "compute"}
    assert all(row["rate"] > 0 for row in rows)
    alu = [row["rate"] for row in rows if row["measurement"] == "ALU int32 multiply-add"]
    assert len(alu) == 2
    assert math.isclose(document["int32_peak_gops"], max(alu))
    matmuls = [row for row in rows if row["measurement"].startswith("INT8 dequant-matmul")]
    assert len(matmuls) == 2
    for row in matmuls:
        assert math.isclose(row["fraction_of_peak"], row["rate"] / max(alu))
    assert len(document["targets"]) == 2
