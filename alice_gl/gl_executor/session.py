"""``GLSession``: load an ONNX model once and run it on the GPU through OpenGL.

The session owns a GL context unless one is passed in (then several sessions share it, and
each releases only its own textures). Models with a symbolic dimension are compiled on the
first ``run`` for the shapes seen there, and recompiled when the shapes change. A model that
takes a shape from a graph input's values (a ``Reshape`` whose ``shape`` is an input) is
compiled on the first ``run`` too, for those values, and recompiled when they change. A model
whose shapes depend on other run-time data runs on the NumPy executor.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import numpy as np

from alice_gl.errors import ConfigError, GLContextError
from alice_gl.executor import NumpySession
from alice_gl.executor.session import check_inputs
from alice_gl.gl import DEFAULT_MAX_MEMORY_MB, GLContext, TilingConfig
from alice_gl.gl_executor.content_shapes import (
    DataDependentShapeError,
    is_keyable,
    shape_source_inputs,
)
from alice_gl.gl_executor.profile import Int8Capture, RunProfile
from alice_gl.gl_executor.runner import GLPlan
from alice_gl.model_io import ModelSource

logger = logging.getLogger(__name__)

PASS_FAMILIES = ("fragment", "compute")
PlanKey = tuple[tuple[tuple[str, tuple[int, ...]], ...], tuple[tuple[str, str, bytes], ...]]


class GLSession:
    """Run an ONNX model (FP32 or INT8 from the quantizer) with GL passes.

    ``profile``: ``webgl2`` (fragment passes only) or ``gl43``; ignored when ``context`` is
    given. ``passes``: ``fragment`` or ``compute`` for the matmul and convolution passes
    (default: ``compute`` under ``gl43``); other ops always run as fragment passes.
    ``max_memory_mb``: texture budget of the whole plan (1 MB = 2**20 bytes). ``tiling``:
    block size and concurrent blocks of the INT8 dequant-matmul. ``input_shapes`` fixes the
    shapes to compile for at construction; without it a model with symbolic dimensions is
    compiled on the first ``run``. A model that takes a shape from the values of an integer
    graph input of at most ``content_shapes.MAX_KEYED_INPUT_ELEMENTS`` elements is compiled
    on the first ``run`` for those values. When a shape depends on other run-time data, the
    model runs whole on the NumPy executor, with one WARNING per input shapes.
    ``capture_int8`` keeps each fused INT8 kernel's integer data for ``int8_captures()``.
    ``collect_timings`` times every step (also on at DEBUG).

    Raises ``GLContextError`` when no context can be made, ``MemoryLimitExceededError`` when
    the plan exceeds the budget (before any texture is allocated), ``ConfigError`` for bad
    settings and ``InvalidModelError``/``UnsupportedOperatorError`` as ``NumpySession`` does.
    """

    def __init__(self, model: ModelSource, profile: str = "webgl2",
                 max_memory_mb: float = DEFAULT_MAX_MEMORY_MB,
                 tiling: TilingConfig | None = None, context: GLContext | None = None, *,
                 passes: str | None = None,
                 input_shapes: Mapping[str, tuple[int, ...]] | None = None,
                 capture_int8: bool = False, collect_timings: bool = False) -> None:
        self._reference = NumpySession(model)
        self.graph = self._reference.graph
        self._owns_context = context is None
        self.ctx = context if context is not None else GLContext(profile=profile)
        try:
            self.passes = self._resolve_passes(passes)
        except (ConfigError, GLContextError):
            self._close_context()
            raise
        self.max_memory_mb = max_memory_mb
        self.tiling = tiling or TilingConfig()
        self.capture_int8 = capture_int8
        self.collect_timings = collect_timings
        self._plan: GLPlan | None = None
        self._plan_key: PlanKey | None = None
        self._numpy_reason: str | None = None
        self._last_profile: RunProfile | None = None
        self._shape_sources = shape_source_inputs(self.graph)
        shapes = dict(input_shapes) if input_shapes else self._declared_shapes()
        if shapes is not None and not self._shape_sources:
            try:
                self._compile(shapes, {})
            except Exception:
                self._close_context()
                raise

    @property
    def input_names(self) -> list[str]:
        """Names of the graph inputs, in graph order."""
        return self._reference.input_names

    @property
    def output_names(self) -> list[str]:
        """Names of the graph outputs, in graph order."""
        return self._reference.output_names

    @property
    def plan(self) -> GLPlan | None:
        """The compiled plan for the current input shapes (None before the first compile and
        while the model runs on NumPy)."""
        return self._plan

    @property
    def numpy_fallback_reason(self) -> str | None:
        """Why the current input shapes run on the NumPy executor, or None on GL."""
        return self._numpy_reason

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the model and return every graph output by name.

        Raises ``InvalidInputError`` for missing, unknown or mis-shaped inputs, as
        ``NumpySession.run`` does.
        """
        if self.ctx.closed:
            raise GLContextError("This GLSession is closed; create a new one.")
        feeds = check_inputs(self.graph.inputs, inputs)
        shapes = {name: tuple(value.shape) for name, value in feeds.items()}
        values = {name: feeds[name] for name in self._shape_sources
                  if is_keyable(feeds[name])}
        if self._plan_key != _plan_key(shapes, values):
            self._compile(shapes, values)
        if self._plan is None:
            return self._run_numpy(feeds)
        timed = self.collect_timings or logger.isEnabledFor(logging.DEBUG)
        outputs, profile = self._plan.run(feeds, timed=timed)
        self._last_profile = profile
        for step in profile.steps:
            logger.debug("step %s (%s): %d passes, %.3f ms", step.name, step.kind, step.passes,
                         step.elapsed_ms)
        return outputs

    def profile(self) -> RunProfile | None:
        """Return the statistics of the last ``run`` (None before the first)."""
        return self._last_profile

    def int8_captures(self) -> dict[str, Int8Capture]:
        """Return the INT8 kernels' integer data of the last run (``capture_int8=True``)."""
        if self._plan is None:
            return {}
        return self._plan.int8_captures()

    def close(self) -> None:
        """Release the plan's textures, and the context when the session created it."""
        if self._plan is not None:
            self._plan.release()
            self._plan = None
        self._close_context()

    def __enter__(self) -> GLSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _compile(self, shapes: Mapping[str, tuple[int, ...]],
                 values: Mapping[str, np.ndarray]) -> None:
        if self._plan is not None:
            self._plan.release()
            self._plan = None
        self._plan_key = None
        self._numpy_reason = None
        try:
            self._plan = GLPlan(self.ctx, self.graph, shapes, backend=self.passes,
                                tiling=self.tiling, max_memory_mb=self.max_memory_mb,
                                capture_int8=self.capture_int8, input_values=values)
        except DataDependentShapeError as error:
            self._numpy_reason = str(error)
            logger.warning("The model runs on the NumPy executor for input shapes %s: %s",
                           dict(shapes), error)
        self._plan_key = _plan_key(shapes, values)

    def _run_numpy(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        started = time.perf_counter()
        outputs = self._reference.run(feeds)
        self._last_profile = RunProfile(
            partitions=[[node.name or node.op_type for node in self.graph.nodes]],
            total_ms=(time.perf_counter() - started) * 1e3)
        return outputs

    def _declared_shapes(self) -> dict[str, tuple[int, ...]] | None:
        shapes = {}
        for spec in self.graph.inputs:
            if spec.shape is None or not all(isinstance(size, int) for size in spec.shape):
                return None
            shapes[spec.name] = tuple(spec.shape)
        return shapes

    def _resolve_passes(self, passes: str | None) -> str:
        if passes is None:
            return "compute" if self.ctx.compute_enabled else "fragment"
        if passes not in PASS_FAMILIES:
            raise ConfigError(f"Invalid passes={passes!r}; use one of {PASS_FAMILIES}.")
        if passes == "compute":
            self.ctx.require_compute()
        return passes

    def _close_context(self) -> None:
        if self._owns_context:
            self.ctx.close()


def _plan_key(shapes: Mapping[str, tuple[int, ...]],
              values: Mapping[str, np.ndarray]) -> PlanKey:
    """Return what a compiled plan depends on: every input shape and the keyed inputs' bytes."""
    return (tuple(sorted(shapes.items())),
            tuple((name, values[name].dtype.str, np.ascontiguousarray(values[name]).tobytes())
                  for name in sorted(values)))
