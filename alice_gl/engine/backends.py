"""The one place that picks and builds the executor an engine serves a model on.

A backend runs one model: ``run(inputs) -> outputs`` and ``close()``, plus what the engine
status reports (``name``, texture bytes, GL renderer). ``create_backend`` builds it by name:

- ``numpy``: the NumPy reference executor.
- ``gl-fragment`` / ``gl-compute``: the GL whole-model executor with fragment or compute passes.
- ``auto``: GL (compute passes under the ``gl43`` profile, else fragment passes), and the NumPy
  executor with one WARNING log line when no GL context can be made (``GLContextError``) or
  the GL plan does not fit ``max_memory_mb`` (``MemoryLimitExceededError``).

With ``sample_inputs``, a GL backend runs one inference on them before it is returned, so a
plan that exceeds the budget at that batch size fails here rather than in every ``infer``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Protocol

import numpy as np
import onnx

from alice_gl.engine.config import QuantizationConfig
from alice_gl.errors import ConfigError, GLContextError, MemoryLimitExceededError
from alice_gl.executor import NumpySession
from alice_gl.gl_executor.engine_backend import ENGINE_BACKEND_FACTORIES

logger = logging.getLogger(__name__)


class Backend(Protocol):
    """An executor bound to one model. ``close`` releases what it holds (GL objects ...)."""

    name: str
    planned_texture_bytes: int
    allocated_texture_bytes: int
    renderer: str | None

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the model on ``inputs`` (keyed by graph input name); outputs by output name."""

    def close(self) -> None:
        """Release the backend's resources; it is not used afterwards."""


class NumpyBackend:
    """The NumPy reference executor; it allocates no textures."""

    name = "numpy"
    planned_texture_bytes = 0
    allocated_texture_bytes = 0
    renderer = None

    def __init__(self, model: onnx.ModelProto) -> None:
        self._session: NumpySession | None = NumpySession(model)

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the model on ``inputs`` and return every graph output by name."""
        if self._session is None:
            raise RuntimeError("This NumpyBackend is closed.")
        return self._session.run(dict(inputs))

    def close(self) -> None:
        """Drop the session."""
        self._session = None


BackendFactory = Callable[[onnx.ModelProto, QuantizationConfig], Backend]

# Factories for the GL backends by name. Each raises GLContextError when no context can be made.
GL_BACKEND_FACTORIES: dict[str, BackendFactory] = dict(ENGINE_BACKEND_FACTORIES)


def create_backend(name: str, model: onnx.ModelProto, config: QuantizationConfig,
                   sample_inputs: Mapping[str, np.ndarray] | None = None) -> Backend:
    """Build the backend ``name`` (one of ``config.BACKENDS``) for ``model``.

    ``sample_inputs`` (one feed keyed by input name) is run once on a GL backend to compile
    and check its plan. Raises ``ConfigError`` for an unknown name or a GL backend this build
    lacks, and ``GLContextError`` or ``MemoryLimitExceededError`` when an explicitly requested
    GL backend gets no context or its plan exceeds ``config.max_memory_mb``.
    """
    if name == "numpy":
        return NumpyBackend(model)

    if name == "auto":
        gl_name = "gl-compute" if config.profile == "gl43" else "gl-fragment"
        factory = GL_BACKEND_FACTORIES.get(gl_name)
        if factory is None:
            logger.debug("No %s backend in this build; running on the NumPy executor", gl_name)
            return NumpyBackend(model)
        try:
            return _build_checked(factory, model, config, sample_inputs)
        except GLContextError as error:
            logger.warning("No GL context (%s); running on the NumPy executor instead", error)
            return NumpyBackend(model)
        except MemoryLimitExceededError as error:
            logger.warning("The %s plan does not fit the texture budget, so the model runs on "
                           "the NumPy executor instead: %s", gl_name, error)
            return NumpyBackend(model)

    factory = GL_BACKEND_FACTORIES.get(name)
    if factory is None:
        available = ", ".join(repr(item) for item in ("auto", "numpy", *GL_BACKEND_FACTORIES))
        raise ConfigError(f"Invalid backend: {name!r} is not available in this build; expected "
                          f"one of {available}.")
    return _build_checked(factory, model, config, sample_inputs)


def _build_checked(factory: BackendFactory, model: onnx.ModelProto, config: QuantizationConfig,
                   sample_inputs: Mapping[str, np.ndarray] | None) -> Backend:
    """Build a GL backend and run ``sample_inputs`` once; close it if that run fails."""
    backend = factory(model, config)
    if sample_inputs is None:
        return backend
    try:
        backend.run(sample_inputs)
    except Exception:
        backend.close()
        raise
    return backend
