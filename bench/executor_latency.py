"""Latency of the NumPy executor against onnx.reference and onnxruntime on the same graphs.

Workloads: the bundled MLP (``mlp_digits``) at batch 1 and on the whole 450-sample test split,
and one light network from the onnx wheel at batch 1 on a seeded random image. That network is
``light_resnet50``, or ``light_squeezenet`` with ``--quick``. Every runtime gets the same
opset-13 model that ``alice_gl.model_io.load_model`` produces. onnxruntime runs with
``--threads`` intra-op threads (default 1), and NumPy's BLAS, which the other two call, is
limited to the same count through threadpoolctl when that package is installed.

For each runtime the table gives the load time (one run), the p50 latency of ``repeats`` runs
after one warm-up, and the largest absolute output difference from onnxruntime. The ratios
divide the other runtimes' p50 by this executor's p50, all from the same run.

Usage: python bench/executor_latency.py [--quick] [--json PATH] [--threads N]
Needs the test extra (onnxruntime).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from common import (
    argument_parser,
    configure_logging,
    format_header,
    format_table,
    machine_header,
    time_call,
    write_json,
)
from onnx.reference import ReferenceEvaluator

from alice_gl.executor import NumpySession
from alice_gl.model_io import load_model
from alice_gl.resources import data_path

logger = logging.getLogger(__name__)

LIGHT_DIR = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
RUNTIMES = ("alice_gl numpy", "onnx.reference", "onnxruntime")


@dataclass(frozen=True)
class Workload:
    """One model at one batch size, with the timed runs each runtime gets."""

    name: str
    path: Path
    batch: int
    repeats: int
    reference_repeats: int


def workloads(quick: bool) -> list[Workload]:
    """Return the workloads; ``quick`` uses fewer runs and the smaller light network."""
    mlp = data_path("mlp_digits.onnx")
    if quick:
        return [Workload("mlp_digits", mlp, 1, 20, 5),
                Workload("light_squeezenet", LIGHT_DIR / "light_squeezenet.onnx", 1, 2, 1)]
    return [Workload("mlp_digits", mlp, 1, 200, 50),
            Workload("mlp_digits", mlp, 450, 50, 10),
            Workload("light_resnet50", LIGHT_DIR / "light_resnet50.onnx", 1, 10, 3)]


def workload_inputs(workload: Workload, input_name: str) -> dict[str, np.ndarray]:
    """Return the feeds: digits test samples for the MLP, a seeded random image otherwise."""
    if workload.name == "mlp_digits":
        samples = np.load(data_path("digits_test.npz"))["x"]
        return {input_name: np.ascontiguousarray(samples[:workload.batch])}
    rng = np.random.default_rng(20261204)
    return {input_name: rng.random((workload.batch, 3, 224, 224), dtype=np.float32)}


def _runners(model: onnx.ModelProto, threads: int) -> dict[str, Callable[[], object]]:
    """Return a factory per runtime; each builds a session and returns its run function."""
    def numpy_runner():
        session = NumpySession(model)
        return lambda feeds: [session.run(feeds)[name] for name in session.output_names]

    def reference_runner():
        evaluator = ReferenceEvaluator(model)
        return lambda feeds: evaluator.run(None, feeds)

    def onnxruntime_runner():
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                               providers=["CPUExecutionProvider"])
        return lambda feeds: session.run(None, feeds)

    return dict(zip(RUNTIMES, (numpy_runner, reference_runner, onnxruntime_runner),
                    strict=True))


def measure(workload: Workload, threads: int) -> list[dict]:
    """Time every runtime on ``workload`` and return one row per runtime."""
    model = load_model(workload.path)
    input_name = NumpySession(model).input_names[0]
    feeds = workload_inputs(workload, input_name)
    rows, outputs = [], {}
    for runtime, factory in _runners(model, threads).items():
        start = time.perf_counter()
        run = factory()
        load_ms = (time.perf_counter() - start) * 1000
        repeats = workload.reference_repeats if runtime == "onnx.reference" else workload.repeats
        outputs[runtime] = run(feeds)
        timing = time_call(lambda run=run: run(feeds), repeats=repeats, warmup=1)
        logger.info("%s batch %d on %s: p50 %.2f ms", workload.name, workload.batch, runtime,
                    timing.p50_ms)
        rows.append({"model": workload.name, "batch": workload.batch, "runtime": runtime,
                     "load_ms": load_ms, "p50_ms": timing.p50_ms, "min_ms": timing.min_ms,
                     "runs": timing.samples})

    oracle = outputs["onnxruntime"]
    numpy_p50 = rows[0]["p50_ms"]
    for row in rows:
        differences = [float(np.max(np.abs(np.asarray(ours, np.float64) - theirs)))
                       for ours, theirs in zip(outputs[row["runtime"]], oracle, strict=True)]
        row["max_abs_diff_vs_onnxruntime"] = max(differences)
        row["p50_ratio_to_numpy"] = row["p50_ms"] / numpy_p50
    return rows


def main() -> None:
    """Run the benchmark, print the table and write the JSON."""
    parser = argument_parser(__doc__.splitlines()[0], "executor_latency")
    parser.add_argument("--threads", type=int, default=1,
                        help="onnxruntime intra-op threads and NumPy BLAS threads (default 1)")
    args = parser.parse_args()
    configure_logging()

    header = machine_header()
    with _blas_threads(args.threads) as blas_limited:
        rows = [row for workload in workloads(args.quick)
                for row in measure(workload, args.threads)]
    columns = [("model", "model"), ("batch", "batch"), ("runtime", "runtime"),
               ("load_ms", "load ms"), ("p50_ms", "p50 ms"), ("runs", "runs"),
               ("p50_ratio_to_numpy", "p50 / numpy p50"),
               ("max_abs_diff_vs_onnxruntime", "max |diff| vs ORT")]
    print(format_header(header))
    print()
    print(format_table(columns, rows))
    write_json(args.json, "executor_latency", rows, header=header,
               extra={"onnxruntime_threads": args.threads, "blas_threads_limited": blas_limited})


@contextlib.contextmanager
def _blas_threads(count: int) -> Iterator[bool]:
    """Limit NumPy's BLAS to ``count`` threads while the block runs; yield whether it could."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        logger.warning("threadpoolctl is not installed, so NumPy's BLAS keeps its default "
                       "thread count while onnxruntime uses %d", count)
        yield False
        return
    with threadpool_limits(limits=count, user_api="blas"):
        yield True


if __name__ == "__main__":
    main()
