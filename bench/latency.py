"""Inference latency of FP32 and INT8 models on numpy, gl-fragment, gl-compute and onnxruntime.

For each model, batch size and backend, the FP32 and the INT8 model are timed. The first run
on a fresh runner (model load, shader compile, weight upload, then one inference) is reported
separately. Then come ``--warmup`` untimed runs and the timed runs, reported as p50 and p95.
Our INT8 model comes from ``alice_gl.quantization.quantize_dynamic``. onnxruntime runs the
output of its own ``quantize_dynamic`` with ``intra_op_num_threads`` threads.

A cell runs only where it fits. A cell is skipped when its runs would take longer than
``--cell-budget-s`` (estimated from the same backend at the previous batch size, scaled by
the batch ratio), or when its model does not fit the GL limits. The table gives the reason.

Usage: python bench/latency.py [--quick] [--json PATH] [--cell-budget-s S]
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from common import (
    argument_parser,
    configure_logging,
    format_header,
    format_table,
    format_targets,
    machine_header,
    progress,
    repeats_within,
    target,
    time_call,
    time_once_ms,
    write_json,
)
from runners import BACKENDS, PRECISIONS, CellSkipped, model_path, open_runner
from workloads import (
    QUICK_WORKLOAD_NAMES,
    WORKLOAD_NAMES,
    ModelFiles,
    Workload,
    load_workload,
    save_workload,
    temporary_folder,
)

from alice_gl.errors import AliceGLError

logger = logging.getLogger(__name__)

BATCH_SIZES = (1, 64, 1024)
QUICK_BATCH_SIZES = (1,)
MAX_REPEATS = 30
MIN_REPEATS = 3
# Per-run time grows faster than the batch once activations leave the CPU caches (light_squeezenet
# on NumPy: 50 ms at batch 1, 10.8 s at batch 64), so the linear estimate is doubled.
ESTIMATE_MARGIN = 2.0
TARGET_INT8_OVER_FP32 = 0.5
COLUMNS = [("model", "model"), ("batch", "batch"), ("backend", "backend"),
           ("fp32_p50_ms", "FP32 p50 ms"), ("fp32_p95_ms", "FP32 p95 ms"),
           ("int8_p50_ms", "INT8 p50 ms"), ("int8_p95_ms", "INT8 p95 ms"),
           ("int8_over_fp32", "INT8/FP32 p50"), ("fp32_first_ms", "FP32 first-run ms"),
           ("int8_first_ms", "INT8 first-run ms"), ("note", "note")]


def measure_cell(workload: Workload, files: ModelFiles, backend: str, precision: str,
                 batch: int, settings: dict[str, Any], estimate_ms: float | None
                 ) -> dict[str, Any]:
    """Time one cell; returns its first-run and p50/p95 times, or a ``skipped`` reason."""
    budget_s = settings["cell_budget_s"]
    cell: dict[str, Any] = {"precision": precision}
    if estimate_ms is not None and ESTIMATE_MARGIN * estimate_ms \
            * (1 + settings["warmup"] + MIN_REPEATS) > budget_s * 1000.0:
        cell["skipped"] = (f"{precision.upper()} skipped: estimated {estimate_ms / 1000:.1f} s "
                           "per run, over the cell budget")
        return cell
    try:
        first_ms, runner = time_once_ms(
            lambda: _first_run(backend, precision, workload, files, batch, settings))
    except CellSkipped as reason:
        cell["skipped"] = f"{precision.upper()}: {reason}"
        return cell
    try:
        # The first warm-up run, timed, sizes the rest. A cell slower than the budget allows
        # gets no further warm-up and at least one timed run.
        warm_ms, _ = time_once_ms(runner.run)
        warmup = settings["warmup"] - 1
        if warm_ms * (warmup + MIN_REPEATS) > budget_s * 500.0:
            warmup = 0
        repeats = repeats_within(budget_s / 2, warm_ms, warmup=warmup, minimum=1,
                                 maximum=settings["max_repeats"])
        timing = time_call(runner.run, repeats=repeats, warmup=warmup)
    finally:
        runner.close()
    cell.update(first_ms=first_ms, p50_ms=timing.p50_ms, p95_ms=timing.p95_ms,
                runs=timing.samples, warmup=timing.warmup + 1)
    if timing.samples < MIN_REPEATS:
        cell["few_runs"] = f"{precision.upper()}: {timing.samples} timed run(s)"
    return cell


def _first_run(backend: str, precision: str, workload: Workload, files: ModelFiles,
               batch: int, settings: dict[str, Any]) -> Any:
    runner = open_runner(backend, model_path(files, backend, precision), workload.inputs(batch),
                         settings["onnxruntime_threads"])
    try:
        runner.run()
    except (CellSkipped, AliceGLError) as error:
        runner.close()
        raise CellSkipped(str(error).splitlines()[0]) from error
    return runner


def measure_workload(workload: Workload, batches: tuple[int, ...],
                     settings: dict[str, Any]) -> list[dict[str, Any]]:
    """Return one row per (batch, backend) of ``workload`` with its FP32 and INT8 cells."""
    rows = []
    previous: dict[tuple[str, str], tuple[int, float]] = {}
    with temporary_folder() as folder:
        files = save_workload(workload, Path(folder))
        cells = [(batch, backend) for batch in batches for backend in BACKENDS]
        for batch, backend in progress(cells, f"latency {workload.name}"):
            row: dict[str, Any] = {"model": workload.name, "batch": batch, "backend": backend,
                                   "cells": {}}
            for precision in PRECISIONS:
                known = previous.get((backend, precision))
                estimate = known[1] * batch / known[0] if known else None
                cell = measure_cell(workload, files, backend, precision, batch, settings,
                                    estimate)
                row["cells"][precision] = cell
                if "p50_ms" in cell:
                    previous[(backend, precision)] = (batch, cell["p50_ms"])
            rows.append(_flatten(row))
    return rows


def _flatten(row: dict[str, Any]) -> dict[str, Any]:
    """Add the table columns (fp32_p50_ms, int8_first_ms, ...) and the note to ``row``."""
    notes = []
    for precision, cell in row["cells"].items():
        for key in ("p50_ms", "p95_ms", "first_ms"):
            row[f"{precision}_{key}"] = cell.get(key)
        notes.extend(cell[key] for key in ("skipped", "few_runs") if key in cell)
    fp32, int8 = row.get("fp32_p50_ms"), row.get("int8_p50_ms")
    row["int8_over_fp32"] = int8 / fp32 if fp32 and int8 else None
    row["note"] = "; ".join(notes)
    return row


def latency_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """INT8 p50 <= 0.5 x FP32 p50 on each GL backend for the 4096 x 4096 layer at batch 1."""
    targets = []
    for backend in ("gl-fragment", "gl-compute"):
        row = next((r for r in rows if r["model"] == "linear_4096" and r["batch"] == 1
                    and r["backend"] == backend), None)
        name = f"linear_4096 batch 1 INT8/FP32 latency on {backend}"
        if row is None:
            targets.append(target(name, None, TARGET_INT8_OVER_FP32,
                                  missing_reason="linear_4096 was not measured in this run"))
            continue
        ratio = row["int8_over_fp32"]
        bound = _latency_bound(row) if ratio is not None else ""
        targets.append(target(name, ratio, TARGET_INT8_OVER_FP32, bound=bound,
                              missing_reason=row["note"]))
    return targets


def _latency_bound(row: dict[str, Any]) -> str:
    return (f"INT8 {row['int8_p50_ms']:.1f} ms vs FP32 {row['fp32_p50_ms']:.1f} ms; both include "
            "the input upload and output readback")


def main() -> None:
    parser = argument_parser(__doc__.splitlines()[0], "latency")
    parser.add_argument("--models", nargs="+", choices=WORKLOAD_NAMES,
                        help="models to run (default all; --quick: the two bundled models)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs per cell (default 2)")
    parser.add_argument("--cell-budget-s", type=float, default=15.0,
                        help="seconds one cell may take: timed runs fill half of it, and a cell "
                             "estimated to need more is skipped (default 15)")
    parser.add_argument("--onnxruntime-threads", type=int, default=os.cpu_count() or 1,
                        help="onnxruntime intra_op_num_threads (default: the CPU count)")
    args = parser.parse_args()
    if args.warmup < 1:
        parser.error(f"--warmup must be at least 1, got {args.warmup}")
    configure_logging()

    settings = {"warmup": 1 if args.quick else args.warmup,
                "cell_budget_s": 1.0 if args.quick else args.cell_budget_s,
                "max_repeats": MIN_REPEATS if args.quick else MAX_REPEATS,
                "onnxruntime_threads": args.onnxruntime_threads}
    names = args.models or (QUICK_WORKLOAD_NAMES if args.quick else WORKLOAD_NAMES)
    batches = QUICK_BATCH_SIZES if args.quick else BATCH_SIZES
    header = machine_header()

    rows = []
    for name in names:
        rows.extend(measure_workload(load_workload(name), batches, settings))
    targets = latency_targets(rows)

    print(f"## Latency (onnxruntime intra_op_num_threads={args.onnxruntime_threads})\n")
    print(format_table(COLUMNS, rows))
    print("\n" + format_targets(targets))
    print(f"\n{format_header(header)}")
    write_json(args.json, "latency", rows, targets, header, {"settings": settings})


if __name__ == "__main__":
    main()
