"""Shared pieces of the benchmark scripts: timing, percentiles, tables, JSON and the run header.

Every script under ``bench/`` times a callable with ``time_call`` (warm-up runs first, then
timed runs), prints a Markdown table with ``format_table`` and writes one JSON document with
``write_json``: ``{"benchmark", "command", "header", "rows", "targets"}``. The header records
the machine, the GL renderer, library versions, numpy's BLAS set-up and the UTC date, so a
number can be traced to where it was measured. Times are in milliseconds unless a key names
another unit.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import math
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from tqdm import tqdm

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Default output folder of run_all.py and of each script's --json (ignored by git).
RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Timing:
    """Latency of a callable: ``samples`` timed runs after ``warmup`` untimed ones.

    ``p50_ms`` and ``p95_ms`` are percentiles of the timed runs (linear interpolation, as
    ``numpy.percentile`` computes them), so with few runs p95 is close to the maximum.
    """

    p50_ms: float
    p95_ms: float
    min_ms: float
    samples: int
    warmup: int


def time_call(function: Callable[[], object], *, repeats: int, warmup: int = 1) -> Timing:
    """Run ``function`` ``warmup`` times untimed, then ``repeats`` times timed.

    Raises ``ValueError`` when ``repeats`` is below 1 or ``warmup`` below 0.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"time_call needs repeats >= 1 and warmup >= 0; got repeats={repeats}, "
                         f"warmup={warmup}.")
    for _ in range(warmup):
        function()
    durations_ms = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        durations_ms.append((time.perf_counter() - start) * 1000.0)
    return Timing(p50_ms=float(np.percentile(durations_ms, 50)),
                  p95_ms=float(np.percentile(durations_ms, 95)),
                  min_ms=float(min(durations_ms)), samples=repeats, warmup=warmup)


def time_once_ms(function: Callable[[], T]) -> tuple[float, T]:
    """Run ``function`` once and return (elapsed milliseconds, its result)."""
    start = time.perf_counter()
    result = function()
    return (time.perf_counter() - start) * 1000.0, result


def repeats_within(budget_s: float, estimate_ms: float, *, warmup: int, minimum: int,
                   maximum: int) -> int:
    """Return how many timed runs of about ``estimate_ms`` fit ``budget_s`` after the warm-up.

    The result is clamped to ``[minimum, maximum]``, so a slow cell still gets ``minimum`` runs.
    """
    fitting = math.floor(budget_s * 1000.0 / max(estimate_ms, 1e-3)) - warmup
    return max(minimum, min(maximum, fitting))


def progress(items: Iterable[T], description: str, total: int | None = None) -> Iterable[T]:
    """Wrap ``items`` in a tqdm bar on stderr, so stdout keeps only the tables."""
    return tqdm(items, desc=description, total=total, file=sys.stderr, leave=False,
                dynamic_ncols=True)


def format_table(columns: Sequence[tuple[str, ...]], rows: Sequence[dict[str, Any]]) -> str:
    """Return ``rows`` as a Markdown table.

    ``columns`` lists ``(key, title)`` or ``(key, title, format_spec)`` tuples. Without a
    format spec a float is printed with 3 significant digits (plus every integer digit). A
    missing key or ``None`` is printed as ``n/a``.
    """
    lines = ["| " + " | ".join(column[1] for column in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        cells = [format_value(row.get(column[0]), *column[2:]) for column in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_value(value: object, format_spec: str = "") -> str:
    """Return ``value`` as a table cell (see ``format_table``)."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if format_spec:
        return format(value, format_spec)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if abs(value) >= 100:
            return f"{value:.0f}"
        return f"{value:.3g}"
    return str(value)


def target(name: str, value: float | None, limit: float, *, higher_is_better: bool = False,
           bound: str = "", missing_reason: str = "") -> dict[str, Any]:
    """Return one target record: ``status`` is met, missed, or not measured when ``value`` is None.

    ``bound`` names what limits the value, and ``missing_reason`` why it was not measured.
    """
    if value is None:
        status = "not measured"
    elif higher_is_better:
        status = "met" if value >= limit else "missed"
    else:
        status = "met" if value <= limit else "missed"
    return {"target": name, "value": value, "limit": limit, "status": status,
            "bound": bound if value is not None else missing_reason}


def format_targets(targets: Sequence[dict[str, Any]]) -> str:
    """Return the target records as a Markdown table."""
    return format_table([("target", "target"), ("value", "measured"), ("limit", "limit"),
                         ("status", "status"), ("bound", "what bounds it")], targets)


def machine_header() -> dict[str, Any]:
    """Return the run's context: date, machine, library versions, BLAS set-up and GL renderer."""
    import onnx
    import onnxruntime

    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "blas": blas_config(),
        "gl": gl_renderer(),
    }


def blas_config() -> list[dict[str, Any]] | str:
    """Return numpy's BLAS libraries as threadpoolctl reports them, else numpy's config summary."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        config = np.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        return f"{blas.get('name', 'unknown')} {blas.get('version', '')}".strip()
    keys = ("internal_api", "version", "num_threads", "threading_layer", "architecture")
    return [{key: entry.get(key) for key in keys}
            for entry in threadpool_info() if entry.get("user_api") == "blas"]


def gl_renderer() -> dict[str, Any]:
    """Return the GL renderer, vendor and version of a headless context, or the error text."""
    from alice_gl.errors import GLContextError
    from alice_gl.gl import GLContext

    try:
        with GLContext(profile="webgl2") as ctx:
            capabilities = ctx.capabilities.as_dict()
    except GLContextError as error:
        return {"error": str(error)}
    keys = ("renderer", "vendor", "version", "compute_shaders", "max_texture_size")
    return {key: capabilities[key] for key in keys}


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def format_header(header: dict[str, Any]) -> str:
    """Return a one-paragraph summary of ``machine_header()`` for the printed output."""
    gl = header["gl"]
    renderer = gl.get("renderer", f"no GL ({gl.get('error')})")
    version = f", GL {gl['version']}" if "version" in gl else ""
    return (f"{header['date_utc']} UTC; {header['processor']} ({header['cpu_count']} CPUs), "
            f"{header['platform']}; {renderer}{version}; Python {header['python']}, "
            f"numpy {header['numpy']}, onnx {header['onnx']}, "
            f"onnxruntime {header['onnxruntime']}; OPENBLAS_CORETYPE="
            f"{header['openblas_coretype']}")


def write_json(path: Path, benchmark: str, rows: Sequence[dict[str, Any]],
               targets: Sequence[dict[str, Any]] = (), header: dict[str, Any] | None = None,
               extra: dict[str, Any] | None = None) -> None:
    """Write the benchmark's rows, targets, header and command line as JSON to ``path``."""
    document = {
        "benchmark": benchmark,
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "header": header if header is not None else machine_header(),
        "rows": list(rows),
        "targets": list(targets),
        **(extra or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=_json_default) + "\n",
                    encoding="utf-8")
    logger.info("Wrote %s", path)


def _json_default(value: object) -> object:
    if isinstance(value, Timing):
        return asdict(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"Cannot write {type(value).__name__} to JSON")


def argument_parser(description: str, benchmark: str) -> argparse.ArgumentParser:
    """Return a parser with the options every script takes: ``--quick`` and ``--json``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: smallest sizes, fewest runs (well under a minute)")
    parser.add_argument("--json", type=Path, default=RESULTS_DIR / f"{benchmark}.json",
                        help=f"JSON output path (default bench/results/{benchmark}.json)")
    return parser


def configure_logging() -> None:
    """Log INFO from the benchmarks and WARNING from libraries (onnxruntime's advice is noise)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("__main__").setLevel(logging.INFO)
    logging.getLogger(__name__).setLevel(logging.INFO)
