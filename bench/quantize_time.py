"""Time to quantize each model: ours vs onnxruntime, dynamic and static (calibrated).

Dynamic: file to file, so both sides load, quantize and save. Ours is
``alice_gl.quantization.quantize_dynamic`` plus ``save_model``, onnxruntime's its
``quantize_dynamic`` with per-channel int8 weights on the same op types.

Static: ``bench/calibration_time.py``'s measurement (``measure``), reused as is: both
quantizers calibrate on the same digits training samples and write a QDQ model, and the
table adds the cosine similarity of each INT8 model's output to the FP32 output. Only the
bundled models have calibration data.

Every time is the best of ``--repeats`` runs, after one warm-up for the dynamic rows
(``--quick``: one run, no warm-up). The best rather than the median, because other processes
on a shared machine slow single runs down by several times.

Usage: python bench/quantize_time.py [--quick] [--json PATH] [--repeats N]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import calibration_time
from common import (
    argument_parser,
    configure_logging,
    format_header,
    format_table,
    format_targets,
    machine_header,
    progress,
    target,
    time_call,
    write_json,
)
from workloads import (
    QUICK_WORKLOAD_NAMES,
    WORKLOAD_NAMES,
    load_workload,
    quantize_onnxruntime,
    quantize_ours,
    quiet_root_logger,
    temporary_folder,
)

from alice_gl.model_io import save_model

TARGET_RATIO = 1.0
STATIC_STRATEGIES = tuple(calibration_time.ORT_METHODS)
QUICK_STATIC_STRATEGIES = ("minmax",)
QUICK_SAMPLES = 100
DYNAMIC_COLUMNS = [("model", "model"), ("ours_ms", "ours best ms"),
                   ("onnxruntime_ms", "onnxruntime best ms"), ("ratio", "ours/onnxruntime"),
                   ("ours_p50_ms", "ours p50 ms"), ("onnxruntime_p50_ms", "onnxruntime p50 ms")]
STATIC_COLUMNS = [("model", "model"), ("strategy", "strategy"), ("samples", "samples"),
                  ("ours_ms", "ours best ms"), ("onnxruntime_ms", "onnxruntime best ms"),
                  ("ratio", "ours/onnxruntime"), ("ours_cosine", "ours cosine", ".6f"),
                  ("onnxruntime_cosine", "onnxruntime cosine", ".6f")]


def measure_dynamic(name: str, repeats: int, warmup: int) -> dict[str, Any]:
    """Time both dynamic quantizers on the workload ``name``, file to file."""
    workload = load_workload(name)
    with temporary_folder() as folder:
        source = Path(folder) / f"{name}.onnx"
        save_model(workload.model, source)
        ours = time_call(lambda: quantize_ours(source, Path(folder) / "ours.onnx"),
                         repeats=repeats, warmup=warmup)
        theirs = time_call(lambda: quantize_onnxruntime(source, Path(folder) / "ort.onnx"),
                           repeats=repeats, warmup=warmup)
    return {"model": name, "ours_ms": ours.min_ms, "onnxruntime_ms": theirs.min_ms,
            "ratio": ours.min_ms / theirs.min_ms, "ours_p50_ms": ours.p50_ms,
            "onnxruntime_p50_ms": theirs.p50_ms, "runs": repeats, "warmup": warmup}


def measure_static(model_name: str, strategy: str, samples: int, repeats: int) -> dict[str, Any]:
    """Time both static quantizers through calibration_time's measurement."""
    data = calibration_time.calibration_samples(model_name, samples)
    with quiet_root_logger():
        row = calibration_time.measure(model_name, strategy, data, repeats)
    row["ratio"] = row["ours_ms"] / row["onnxruntime_ms"]
    return row


def quantize_targets(dynamic_rows: list[dict], static_rows: list[dict]) -> list[dict[str, Any]]:
    """Ours <= 1.0 x onnxruntime's quantize time, per model and mode."""
    targets = [target(f"{row['model']} dynamic quantize time, ours/onnxruntime", row["ratio"],
                      TARGET_RATIO, bound=_bound(row)) for row in dynamic_rows]
    targets += [target(f"{row['model']} static {row['strategy']} quantize time, "
                       "ours/onnxruntime", row["ratio"], TARGET_RATIO, bound=_bound(row))
                for row in static_rows]
    return targets


def _bound(row: dict[str, Any]) -> str:
    return f"ours {row['ours_ms']:.0f} ms vs onnxruntime {row['onnxruntime_ms']:.0f} ms"


def main() -> None:
    parser = argument_parser(__doc__.splitlines()[0], "quantize_time")
    parser.add_argument("--models", nargs="+", choices=WORKLOAD_NAMES,
                        help="models for the dynamic rows (default all; --quick: bundled only)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed runs per cell (default 5)")
    parser.add_argument("--samples", type=int, default=calibration_time.DEFAULT_SAMPLES,
                        help="calibration samples of the static rows (default "
                             f"{calibration_time.DEFAULT_SAMPLES}; --quick: {QUICK_SAMPLES})")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    configure_logging()

    repeats, warmup = (1, 0) if args.quick else (args.repeats, 1)
    names = args.models or (QUICK_WORKLOAD_NAMES if args.quick else WORKLOAD_NAMES)
    strategies = QUICK_STATIC_STRATEGIES if args.quick else STATIC_STRATEGIES
    samples = QUICK_SAMPLES if args.quick else args.samples
    header = machine_header()

    dynamic_rows = [measure_dynamic(name, repeats, warmup)
                    for name in progress(names, "dynamic quantization")]
    static_cells = [(model, strategy) for model in calibration_time.MODELS
                    for strategy in strategies]
    static_rows = [measure_static(model, strategy, samples, repeats)
                   for model, strategy in progress(static_cells, "static quantization")]
    targets = quantize_targets(dynamic_rows, static_rows)

    print("## Dynamic quantization time\n\n" + format_table(DYNAMIC_COLUMNS, dynamic_rows))
    print("\n## Static quantization time (calibration included)\n\n"
          + format_table(STATIC_COLUMNS, static_rows))
    print("\n" + format_targets(targets))
    print(f"\n{format_header(header)}")
    write_json(args.json, "quantize_time", dynamic_rows, targets, header,
               {"static": static_rows})


if __name__ == "__main__":
    main()
