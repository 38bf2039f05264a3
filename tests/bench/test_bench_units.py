"""Unit tests of the benchmark helpers: timing statistics, tables, targets and workloads."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH_DIR))

import common  # noqa: E402
import memory  # noqa: E402
import workloads  # noqa: E402


def test_bench_time_call_counts_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    # perf_counter returns 0, 1, 3, 6, 10, 15, 21, 28, read at the start and end of each timed
    # run (warm-up runs are not timed), so the timed runs last 1, 3, 5 and 7 seconds.
    clock = itertools.accumulate(itertools.count())
    monkeypatch.setattr(common.time, "perf_counter", lambda: float(next(clock)))
    timing = common.time_call(lambda: calls.append(1), repeats=4, warmup=2)
    assert len(calls) == 6
    assert timing.samples == 4
    assert timing.warmup == 2
    assert timing.min_ms == 1000.0
    assert timing.p50_ms == 4000.0
    assert timing.p95_ms == pytest.approx(np.percentile([1000, 3000, 5000, 7000], 95))


def test_bench_time_call_rejects_zero_repeats() -> None:
    with pytest.raises(ValueError, match="repeats=0"):
        common.time_call(lambda: None, repeats=0)


def test_bench_repeats_within_clamps() -> None:
    assert common.repeats_within(1.0, 100.0, warmup=2, minimum=3, maximum=30) == 8
    assert common.repeats_within(1.0, 5000.0, warmup=2, minimum=1, maximum=30) == 1
    assert common.repeats_within(10.0, 1.0, warmup=2, minimum=3, maximum=30) == 30


def test_bench_format_table_cells() -> None:
    table = common.format_table(
        [("name", "name"), ("value", "value"), ("cosine", "cosine", ".4f")],
        [{"name": "a", "value": 1234.5678, "cosine": 0.999991},
         {"name": "b", "value": 0.012345, "cosine": None}])
    lines = table.splitlines()
    assert lines[0] == "| name | value | cosine |"
    assert lines[2] == "| a | 1235 | 1.0000 |"
    assert lines[3] == "| b | 0.0123 | n/a |"


@pytest.mark.parametrize(("value", "higher", "status"), [
    (0.2, False, "met"), (0.3, False, "missed"), (0.25, False, "met"),
    (0.2, True, "missed"), (0.3, True, "met"), (None, False, "not measured")])
def test_bench_target_status(value: float | None, higher: bool, status: str) -> None:
    record = common.target("t", value, 0.25, higher_is_better=higher, bound="b",
                           missing_reason="why")
    assert record["status"] == status
    assert record["bound"] == ("why" if value is None else "b")


def test_bench_write_json_round_trip(tmp_path: Path) -> None:
    timing = common.Timing(p50_ms=1.0, p95_ms=2.0, min_ms=0.5, samples=3, warmup=1)
    path = tmp_path / "sub" / "out.json"
    common.write_json(path, "unit", [{"timing": timing, "count": np.int64(3)}],
                      header={"date_utc": "now"})
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["benchmark"] == "unit"
    assert document["rows"][0]["timing"]["p95_ms"] == 2.0
    assert document["rows"][0]["count"] == 3
    assert document["header"] == {"date_utc": "now"}


def test_bench_linear_model_computes_affine(rng: np.random.Generator) -> None:
    model = workloads.linear_model(8, 4, seed=3)
    onnx.checker.check_model(model)
    weights = {init.name: onnx.numpy_helper.to_array(init) for init in model.graph.initializer}
    x = rng.random((5, 8), dtype=np.float32)
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": x})
    np.testing.assert_allclose(y, x @ weights["W"] + weights["b"], rtol=1e-5, atol=1e-6)


def test_bench_squeezenet_materialized() -> None:
    model = workloads.materialized_squeezenet()
    assert not [node for node in model.graph.node if node.op_type == "ConstantOfShape"]
    assert [value.name for value in model.graph.input] == ["data_0"]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert sum(onnx.numpy_helper.to_array(init).size for init in model.graph.initializer) \
        > 1_000_000
    workload = workloads.Workload("light_squeezenet", model, "data_0", (3, 224, 224))
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    (scores,) = session.run(None, workload.inputs(2))
    assert scores.shape == (2, 1000, 1, 1)


def test_bench_workload_inputs_seeded() -> None:
    workload = workloads.load_workload("mlp_digits")
    first = workload.inputs(3)[workload.input_name]
    assert first.shape == (3, 64)
    assert first.dtype == np.float32
    np.testing.assert_array_equal(first, workload.inputs(3)[workload.input_name])


def test_bench_unknown_workload_rejected() -> None:
    with pytest.raises(ValueError, match="Unknown workload 'resnet'"):
        workloads.load_workload("resnet")


def test_bench_peak_rss_positive() -> None:
    assert memory.peak_rss_mib() > 0
