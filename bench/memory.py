"""Memory of FP32 and INT8 models: file sizes, GL texture bytes and process peak RSS.

- File sizes: the FP32 model, our INT8 model (``quantize_dynamic``) and onnxruntime's INT8
  model (its ``quantize_dynamic``, per-channel int8 weights).
- Texture bytes on each GL pass family at batch 1: planned is the ``GLSession``'s memory plan
  (``plan.memory``, width x height x bytes per texel of every texture). Allocated is what its
  context has allocated after one run (``GLContext.allocated_bytes``). Drivers may pad beyond
  both.
- Peak RSS: each (model, precision, executor) loads and runs once at batch 1 in a fresh Python
  process. That process reports its peak resident set size after its imports and at the end,
  and the difference is what the model and one inference added. On Linux the peak is ``VmHWM`` from
  ``/proc/self/status``, because ``getrusage``'s ``ru_maxrss`` survives ``execve`` and would
  report this script's own peak at the moment it started the child. Elsewhere it is
  ``ru_maxrss``.

Usage: python bench/memory.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from common import (
    argument_parser,
    configure_logging,
    format_header,
    format_table,
    format_targets,
    machine_header,
    progress,
    target,
    write_json,
)
from runners import BACKENDS, GL_BACKENDS, PRECISIONS, CellSkipped, model_path, open_runner
from workloads import (
    QUICK_WORKLOAD_NAMES,
    WORKLOAD_NAMES,
    ModelFiles,
    load_workload,
    save_workload,
    temporary_folder,
)

from alice_gl.gl import BYTES_PER_MB

KIB = 1024
TARGET_FILE_RATIO = 0.255
TARGET_TEXTURE_RATIO = 0.27
TARGET_MODEL = "linear_4096"
QUICK_BACKENDS = ("numpy", "gl-fragment", "onnxruntime")
FILE_COLUMNS = [("model", "model"), ("fp32_bytes", "FP32 bytes"), ("int8_bytes", "INT8 bytes"),
                ("int8_over_fp32", "INT8/FP32"),
                ("onnxruntime_int8_bytes", "onnxruntime INT8 bytes"),
                ("onnxruntime_over_fp32", "onnxruntime INT8/FP32")]
TEXTURE_COLUMNS = [("model", "model"), ("backend", "backend"),
                   ("fp32_planned_bytes", "FP32 planned"), ("int8_planned_bytes", "INT8 planned"),
                   ("planned_ratio", "INT8/FP32 planned"),
                   ("fp32_allocated_bytes", "FP32 allocated"),
                   ("int8_allocated_bytes", "INT8 allocated"), ("note", "note")]
RSS_COLUMNS = [("model", "model"), ("backend", "executor"),
               ("fp32_baseline_mib", "after imports MiB"), ("fp32_peak_mib", "FP32 peak MiB"),
               ("fp32_added_mib", "FP32 added MiB"), ("int8_peak_mib", "INT8 peak MiB"),
               ("int8_added_mib", "INT8 added MiB"), ("note", "note")]


def peak_rss_mib() -> float:
    """Return this process's peak resident set size in MiB (see the module docstring)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text(encoding="utf-8").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / KIB
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    scale = 1 if sys.platform == "darwin" else KIB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def run_child(backend: str, path: Path, inputs: Path) -> dict[str, Any]:
    """Load and run ``path`` once on ``backend`` in this process; return RSS and texture bytes.

    This is the body of the ``--child`` process: ``ru_maxrss`` is a per-process peak, so each
    measurement needs a process of its own.
    """
    baseline_mib = peak_rss_mib()
    with np.load(inputs) as data:
        feeds = {name: data[name] for name in data.files}
    result: dict[str, Any] = {"baseline_mib": baseline_mib}
    try:
        runner = open_runner(backend, path, feeds, onnxruntime_threads=1)
        runner.run()
    except CellSkipped as reason:
        result["skipped"] = str(reason)
        return result
    if backend in GL_BACKENDS:
        session = runner.session
        result["planned_bytes"] = session.plan.memory.total_bytes
        result["planned_by_kind"] = session.plan.memory.bytes_by_kind()
        allocated = session.ctx.allocated_bytes()
        result["allocated_bytes"] = sum(allocated.values())
        result["allocated_by_kind"] = allocated
    runner.close()
    result["peak_mib"] = peak_rss_mib()
    return result


def measure_in_child(backend: str, path: Path, inputs: Path) -> dict[str, Any]:
    """Run ``run_child`` in a fresh interpreter and return its JSON result."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", backend, str(path),
               str(inputs)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        last_line = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        return {"skipped": f"child process failed ({completed.returncode}): {last_line}"}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def measure_workload(name: str, backends: tuple[str, ...]) -> tuple[dict, list[dict]]:
    """Return the file-size row and one row per executor (RSS and texture bytes) of ``name``."""
    workload = load_workload(name)
    with temporary_folder() as folder:
        files = save_workload(workload, Path(folder))
        inputs = Path(folder) / "inputs.npz"
        np.savez(inputs, **workload.inputs(1))
        rows = [_measure_backend(name, backend, files, inputs)
                for backend in progress(backends, f"memory {name}")]
        return _file_row(name, files), rows


def _measure_backend(name: str, backend: str, files: ModelFiles, inputs: Path) -> dict:
    row: dict[str, Any] = {"model": name, "backend": backend}
    notes = []
    for precision in PRECISIONS:
        result = measure_in_child(backend, model_path(files, backend, precision), inputs)
        row[precision] = result
        if "skipped" in result:
            notes.append(f"{precision.upper()}: {result['skipped']}")
        for key in ("baseline_mib", "peak_mib", "planned_bytes", "allocated_bytes"):
            row[f"{precision}_{key}"] = result.get(key)
        if "peak_mib" in result:
            row[f"{precision}_added_mib"] = result["peak_mib"] - result["baseline_mib"]
    fp32, int8 = row["fp32_planned_bytes"], row["int8_planned_bytes"]
    row["planned_ratio"] = int8 / fp32 if fp32 and int8 else None
    row["note"] = "; ".join(notes)
    return row


def _file_row(name: str, files: ModelFiles) -> dict[str, Any]:
    sizes = files.sizes()
    return {"model": name, "fp32_bytes": sizes["fp32"], "int8_bytes": sizes["int8"],
            "onnxruntime_int8_bytes": sizes["onnxruntime_int8"],
            "int8_over_fp32": sizes["int8"] / sizes["fp32"],
            "onnxruntime_over_fp32": sizes["onnxruntime_int8"] / sizes["fp32"]}


def memory_targets(file_rows: list[dict], backend_rows: list[dict]) -> list[dict[str, Any]]:
    """INT8 file <= 0.255 x FP32 and INT8 planned textures <= 0.27 x FP32 for the 4096 layer."""
    file_row = next((row for row in file_rows if row["model"] == TARGET_MODEL), None)
    not_run = f"{TARGET_MODEL} was not measured in this run"
    targets = [target(f"{TARGET_MODEL} INT8/FP32 file size",
                      file_row["int8_over_fp32"] if file_row else None, TARGET_FILE_RATIO,
                      bound="int8 weights are 1 byte per FP32 4-byte weight; the rest is the "
                            "float32 per-channel scales, the float32 bias and the graph",
                      missing_reason=not_run)]
    for backend in GL_BACKENDS:
        row = next((row for row in backend_rows
                    if row["model"] == TARGET_MODEL and row["backend"] == backend), None)
        ratio = row["planned_ratio"] if row else None
        bound = ""
        if ratio is not None:
            int8_kinds = row["int8"]["planned_by_kind"]
            bound = ("INT8 adds per-channel scales and " + _mib(int8_kinds["runtime_buffers"])
                     + " of int32 accumulator and quantization scratch to 1/4 of the weights")
        targets.append(target(f"{TARGET_MODEL} INT8/FP32 planned texture bytes on {backend}",
                              ratio, TARGET_TEXTURE_RATIO, bound=bound,
                              missing_reason=(row["note"] if row else not_run)))
    return targets


def _mib(size: int) -> str:
    return f"{size / BYTES_PER_MB:.2f} MiB"


def _child_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="internal: one peak-RSS measurement")
    parser.add_argument("backend", choices=BACKENDS)
    parser.add_argument("model", type=Path)
    parser.add_argument("inputs", type=Path)
    args = parser.parse_args(argv)
    print(json.dumps(run_child(args.backend, args.model, args.inputs)))


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        _child_main(sys.argv[2:])
        return
    parser = argument_parser(__doc__.splitlines()[0], "memory")
    parser.add_argument("--models", nargs="+", choices=WORKLOAD_NAMES,
                        help="models to measure (default all; --quick: mlp_digits)")
    args = parser.parse_args()
    configure_logging()

    names = args.models or (QUICK_WORKLOAD_NAMES[:1] if args.quick else WORKLOAD_NAMES)
    backends = QUICK_BACKENDS if args.quick else BACKENDS
    header = machine_header()
    file_rows, backend_rows = [], []
    for name in names:
        file_row, rows = measure_workload(name, backends)
        file_rows.append(file_row)
        backend_rows.extend(rows)
    targets = memory_targets(file_rows, backend_rows)

    texture_rows = [row for row in backend_rows if row["backend"] in GL_BACKENDS]
    print("## Model files\n\n" + format_table(FILE_COLUMNS, file_rows))
    print("\n## GL textures at batch 1 (bytes)\n\n" + format_table(TEXTURE_COLUMNS, texture_rows))
    print("\n## Peak RSS at batch 1, one process per cell\n\n"
          + format_table(RSS_COLUMNS, backend_rows))
    print("\n" + format_targets(targets))
    print(f"\n{format_header(header)}")
    write_json(args.json, "memory", backend_rows, targets, header, {"files": file_rows})


if __name__ == "__main__":
    main()
