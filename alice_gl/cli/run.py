"""The ``alice-gl run`` subcommand: run a model on inputs from a file and summarize the outputs.

Inputs come from an ``.npz`` keyed by graph input name, or, for a single-input model, a plain
``.npy``. Each output is printed as one line (name, shape, dtype, min/max/mean) and, with
``-o``, all outputs are written to an ``.npz`` keyed by output name.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

import numpy as np

from alice_gl.cli.output_files import write_atomically
from alice_gl.cli.paths import check_output_paths
from alice_gl.errors import InvalidInputError

logger = logging.getLogger(__name__)


class RunBackend(Protocol):
    """The interface ``alice-gl run`` needs from an executor bound to one model."""

    input_names: list[str]

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the model and return every graph output by name."""


def _numpy_backend(model_path: Path, args: argparse.Namespace) -> RunBackend:
    from alice_gl.executor import NumpySession

    return NumpySession(model_path)


def _gl_session(model_path: Path, args: argparse.Namespace, profile: str,
                passes: str) -> RunBackend:
    from alice_gl.gl import TilingConfig
    from alice_gl.gl_executor import GLSession

    tiling = TilingConfig(block_size=args.block_size,
                          max_concurrent_blocks=args.max_concurrent_blocks)
    return GLSession(model_path, profile=profile, max_memory_mb=args.max_memory_mb,
                     tiling=tiling, passes=passes, collect_timings=args.profile)


def _gl_fragment_backend(model_path: Path, args: argparse.Namespace) -> RunBackend:
    return _gl_session(model_path, args, "webgl2", "fragment")


def _gl_compute_backend(model_path: Path, args: argparse.Namespace) -> RunBackend:
    return _gl_session(model_path, args, "gl43", "compute")


def _auto_backend(model_path: Path, args: argparse.Namespace) -> RunBackend:
    """GL with compute passes, else fragment passes, else NumPy with one WARNING."""
    from alice_gl.errors import GLContextError

    try:
        return _gl_compute_backend(model_path, args)
    except GLContextError as compute_error:
        logger.debug("No gl43 context (%s); trying webgl2", compute_error)
    try:
        return _gl_fragment_backend(model_path, args)
    except GLContextError as error:
        logger.warning("No GL context (%s); running on the NumPy executor instead", error)
        return _numpy_backend(model_path, args)


# The backends `--backend` offers, by name; each factory loads the model file and returns a
# bound executor.
BACKENDS: dict[str, Callable[[Path, argparse.Namespace], RunBackend]] = {
    "numpy": _numpy_backend,
    "gl-fragment": _gl_fragment_backend,
    "gl-compute": _gl_compute_backend,
    "auto": _auto_backend,
}
DEFAULT_BACKEND = "auto"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run`` parser to ``subparsers``."""
    from alice_gl.gl import DEFAULT_MAX_MEMORY_MB
    from alice_gl.gl.tiling import DEFAULT_BLOCK_SIZE, DEFAULT_MAX_CONCURRENT_BLOCKS

    parser = subparsers.add_parser(
        "run", help="run an ONNX model on inputs from an .npz or .npy file",
        description="Run MODEL on the arrays in INPUTS and print each output's name, shape, "
                    "dtype, min, max and mean.")
    parser.add_argument("model", metavar="MODEL", help="ONNX model file (FP32 or INT8)")
    parser.add_argument("--input", required=True, metavar="INPUTS",
                        help=".npz with one array per graph input name, or .npy for a model "
                             "with a single input")
    parser.add_argument("--backend", choices=sorted(BACKENDS), default=DEFAULT_BACKEND,
                        help="executor to run on: numpy, gl-fragment (WebGL2-level fragment "
                             "passes), gl-compute (GL 4.3 compute passes) or auto (GL when a "
                             f"context can be made, else numpy; default {DEFAULT_BACKEND})")
    parser.add_argument("--max-memory-mb", type=_finite_float, default=DEFAULT_MAX_MEMORY_MB,
                        metavar="N", help="GL texture budget of the whole model in MB "
                                          f"(2**20 bytes; default {DEFAULT_MAX_MEMORY_MB})")
    parser.add_argument("--block-size", type=int, default=DEFAULT_BLOCK_SIZE, metavar="N",
                        help="K values summed per INT8 matmul pass and output tile side, a "
                             f"multiple of 4 (default {DEFAULT_BLOCK_SIZE})")
    parser.add_argument("--max-concurrent-blocks", type=int,
                        default=DEFAULT_MAX_CONCURRENT_BLOCKS, metavar="N",
                        help="INT8 matmul output tiles whose scratch accumulators are alive at "
                             f"once (default {DEFAULT_MAX_CONCURRENT_BLOCKS})")
    parser.add_argument("--profile", action="store_true",
                        help="print the GL pass count, readbacks, NumPy partitions and the "
                             "time of every step")
    parser.add_argument("-o", "--output", metavar="OUTPUTS.npz",
                        help="write the outputs, keyed by output name, to this .npz file")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run ``alice-gl run`` and return its exit code."""
    model_path = Path(args.model)
    input_path = Path(args.input)
    output_path = Path(args.output) if args.output else None
    check_output_paths({"MODEL": model_path, "--input": input_path}, {"-o": output_path})
    if output_path is not None and output_path.suffix != ".npz":
        raise InvalidInputError(f"Output file {output_path} must end in .npz.")

    backend = BACKENDS[args.backend](model_path, args)
    try:
        inputs = load_inputs(input_path, backend.input_names)
        start = time.perf_counter()
        outputs = backend.run(inputs)
        latency_ms = (time.perf_counter() - start) * 1000
        logger.info("Ran %s on the %s backend in %.1f ms", model_path, args.backend,
                    latency_ms)
        print(f"backend: {describe_backend(backend)}")
        for name, value in outputs.items():
            print(format_output(name, value))
        if args.profile:
            print_profile(backend)
        if output_path is not None:
            write_outputs(output_path, outputs)
            print(f"wrote {len(outputs)} output(s) to {output_path}")
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()
    return 0


def describe_backend(backend: RunBackend) -> str:
    """Return the backend that ran, as ``numpy`` or ``gl-PASSES on RENDERER``."""
    context = getattr(backend, "ctx", None)
    if context is None:
        return "numpy"
    return f"gl-{backend.passes} on {context.capabilities.renderer}"


def print_profile(backend: RunBackend) -> None:
    """Print the last run's GL profile, or a note that the backend has none (NumPy)."""
    profile_method = getattr(backend, "profile", None)
    profile = profile_method() if profile_method is not None else None
    if profile is None:
        print("profile: the numpy backend runs no GL passes")
        return
    print(f"profile: {profile.pass_count} passes, {profile.readback_count} output "
          f"readback(s), {profile.upload_count} input upload(s), {len(profile.partitions)} "
          f"NumPy partition(s) with {profile.partition_readbacks} readback(s) and "
          f"{profile.partition_uploads} upload(s), {profile.total_ms:.1f} ms")
    for nodes in profile.partitions:
        print(f"  numpy partition: {', '.join(nodes)}")
    for step in profile.steps:
        print(f"  {step.kind} {step.name}: {step.passes} pass(es), {step.elapsed_ms:.3f} ms")


def load_inputs(path: Path, input_names: list[str]) -> dict[str, np.ndarray]:
    """Read model inputs from ``path``: an ``.npz`` keyed by input name, or an ``.npy``.

    A ``.npy`` is accepted only for a model with exactly one input. Name, dtype and shape
    checks happen in the session, which names the offending input.
    """
    if not path.exists():
        raise InvalidInputError(f"Input file not found: {path}.")
    if not path.is_file():
        raise InvalidInputError(f"Input {path} is not a regular file; pass an .npz or .npy file.")
    if path.suffix == ".npy":
        if len(input_names) != 1:
            raise InvalidInputError(
                f"The model has {len(input_names)} inputs {input_names}, so a single .npy "
                f"cannot feed it. Pass an .npz with one array per input name.")
        return {input_names[0]: _load_array(path)}
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                return {name: archive[name] for name in archive.files}
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise InvalidInputError(f"Failed to read {path} as an .npz archive: {error}."
                                    ) from error
    raise InvalidInputError(f"Input file {path} must be an .npz (keyed by input name) or, for "
                            "a single-input model, an .npy.")


def _load_array(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise InvalidInputError(f"Failed to read {path} as an .npy array: {error}.") from error


def format_output(name: str, value: np.ndarray) -> str:
    """Return one summary line for an output: name, shape, dtype and min/max/mean if numeric."""
    line = f"{name}: shape {tuple(value.shape)} dtype {value.dtype}"
    if value.size == 0 or value.dtype.kind not in "biuf":
        return line
    numbers = value.astype(np.float64)
    return (f"{line} min {numbers.min():.6g} max {numbers.max():.6g} "
            f"mean {numbers.mean():.6g}")


def write_outputs(path: Path, outputs: Mapping[str, np.ndarray]) -> None:
    """Write ``outputs`` to the ``.npz`` at ``path`` atomically (temporary file, then rename)."""
    if not path.parent.is_dir():
        raise InvalidInputError(f"Output folder not found: {path.parent}. Create it first.")
    write_atomically(path, lambda stream: np.savez(stream, **outputs))


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return value
