"""Inference runners for the latency benchmark: one per backend, all with ``run()`` and ``close()``.

Backends:

- ``numpy``: ``alice_gl.executor.NumpySession``.
- ``onnxruntime``: onnxruntime's CPU provider with ``intra_op_num_threads`` set; its INT8
  model is the output of onnxruntime's own ``quantize_dynamic``.
- ``gl-fragment`` / ``gl-compute``: the GL whole-model executor
  ``alice_gl.gl_executor.GLSession`` with fragment passes under the ``webgl2`` profile /
  compute passes under ``gl43``. When it cannot be imported or cannot build the model, the
  cell raises ``CellSkipped`` with the reason, so no GL number is ever made up.

A runner owns its inputs: ``run()`` executes one inference on them, ending with the outputs
in host memory (GL runners read them back), so the time of ``run()`` is the time a caller
waits.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
from workloads import ModelFiles

from alice_gl.errors import AliceGLError
from alice_gl.executor import NumpySession

BACKENDS = ("numpy", "gl-fragment", "gl-compute", "onnxruntime")
# Backend -> (GL profile, pass family of the matmul and convolution passes).
GL_BACKENDS = {"gl-fragment": ("webgl2", "fragment"), "gl-compute": ("gl43", "compute")}
PRECISIONS = ("fp32", "int8")
# The GL runs keep a whole model in textures. The default budget of 50 MB is below the 4096 x 4096
# layer's 64 MiB of FP32 weights, so the benchmark raises it.
GL_MAX_MEMORY_MB = 1024


class CellSkipped(Exception):  # noqa: N818 - a skip reason, not a failure
    """A (model, backend, precision, batch) cell that cannot run; the message gives the reason."""


def gl_session_class() -> type:
    """Return ``alice_gl.gl_executor.GLSession``; raises ``CellSkipped`` when it cannot be imported.

    The import happens per cell, so an executor that is missing or broken in this checkout
    skips the GL cells with the import error instead of stopping the whole benchmark.
    """
    try:
        return importlib.import_module("alice_gl.gl_executor").GLSession
    except (ImportError, AttributeError) as error:
        raise CellSkipped(f"GL executor not importable: {error}") from error


def model_path(files: ModelFiles, backend: str, precision: str) -> Path:
    """Return the model file a backend runs: onnxruntime runs its own INT8 model."""
    if precision == "fp32":
        return files.fp32
    return files.onnxruntime_int8 if backend == "onnxruntime" else files.int8


def open_runner(backend: str, path: Path, feeds: dict[str, np.ndarray],
                onnxruntime_threads: int) -> Any:
    """Build the runner of ``backend`` for the model at ``path``.

    Raises ``CellSkipped`` when the GL executor cannot be imported or cannot build the model.
    """
    if backend == "numpy":
        return _NumpyRunner(path, feeds)
    if backend == "onnxruntime":
        return _OnnxruntimeRunner(path, feeds, onnxruntime_threads)
    if backend not in GL_BACKENDS:
        raise ValueError(f"Unknown backend {backend!r}; use one of {', '.join(BACKENDS)}.")
    profile, passes = GL_BACKENDS[backend]
    return GLSessionRunner(path, feeds, profile, passes)


class _NumpyRunner:
    def __init__(self, path: Path, feeds: dict[str, np.ndarray]) -> None:
        self._session = NumpySession(path)
        self._feeds = feeds

    def run(self) -> None:
        self._session.run(self._feeds)

    def close(self) -> None:
        self._session = None


class _OnnxruntimeRunner:
    def __init__(self, path: Path, feeds: dict[str, np.ndarray], threads: int) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(str(path), options,
                                                     providers=["CPUExecutionProvider"])
        self._feeds = feeds

    def run(self) -> None:
        self._session.run(None, self._feeds)

    def close(self) -> None:
        self._session = None


class GLSessionRunner:
    """A ``GLSession`` on ``feeds``; a model the executor cannot build or run skips the cell.

    The model's batch dimension is symbolic, so the session compiles its plan (programs,
    textures, weight upload) on the first ``run``.
    """

    def __init__(self, path: Path, feeds: dict[str, np.ndarray], profile: str,
                 passes: str) -> None:
        session_class = gl_session_class()
        try:
            self.session = session_class(str(path), profile=profile, passes=passes,
                                         max_memory_mb=GL_MAX_MEMORY_MB)
        except AliceGLError as error:
            raise CellSkipped(f"GLSession failed: {str(error).splitlines()[0]}") from error
        self._feeds = feeds

    def run(self) -> None:
        try:
            self.session.run(self._feeds)
        except AliceGLError as error:
            raise CellSkipped(f"GLSession.run failed: {str(error).splitlines()[0]}") from error

    def close(self) -> None:
        self.session.close()
