"""``AliceQuantizationEngine``: quantize a model, guard its accuracy, and serve it.

Typical use::

    with AliceQuantizationEngine(QuantizationConfig(max_memory_mb=64)) as engine:
        result = engine.quantize("model.onnx", "calibration.npz")
        outputs = engine.infer({"input": batch})

Every public method may be called from any thread. The calls run one at a time, in the order
they arrive, on one worker thread that owns the backend, because an OpenGL context is current
on one thread only. Each call therefore returns what it would return on a single thread.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any

import numpy as np
import onnx

from alice_gl.calibration.loaders import CalibrationSource
from alice_gl.engine.backends import Backend, create_backend
from alice_gl.engine.config import DEFAULT_QUANTIZATION_CONFIG, QuantizationConfig
from alice_gl.engine.pipeline import quantize_and_guard
from alice_gl.engine.result import QuantizationResult
from alice_gl.engine.worker import WorkerThread
from alice_gl.errors import AccuracyError, ConfigError, EngineStateError, InvalidInputError
from alice_gl.model_io import ModelSource, load_model

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineStatus:
    """A snapshot of the engine.

    ``mode`` is ``int8``, ``fp32``, or None when no model is served; ``reason`` gives the cause.
    ``similarity`` and ``verdict`` come from the last ``quantize``. Texture bytes and
    ``gl_renderer`` come from the backend (0 and None on the NumPy backend).
    """

    initialized: bool
    closed: bool
    mode: str | None
    backend: str | None
    similarity: float | None
    verdict: str | None
    reason: str
    fp32_layers: tuple[str, ...]
    planned_texture_bytes: int
    allocated_texture_bytes: int
    gl_renderer: str | None

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-ready dict."""
        result = asdict(self)
        result["fp32_layers"] = list(self.fp32_layers)
        return result


class AliceQuantizationEngine:
    """Quantizes one model at a time and serves INT8 or FP32 outputs for it.

    ``config`` (a ``QuantizationConfig``, a dict for ``QuantizationConfig.from_dict``, or None
    for the defaults) initializes the engine at once when given.
    """

    def __init__(self, config: QuantizationConfig | Mapping[str, Any] | None = None) -> None:
        self._worker: WorkerThread | None = None
        self._closed = False
        self._config = DEFAULT_QUANTIZATION_CONFIG
        self._backend: Backend | None = None
        self._result: QuantizationResult | None = None
        self._reason = "no model quantized yet"
        if config is not None:
            self.initialize(config)

    def initialize(self, config: QuantizationConfig | Mapping[str, Any] | None = None) -> None:
        """Apply ``config`` (default: ``DEFAULT_QUANTIZATION_CONFIG``) and start the worker.

        Calling it again replaces the config and drops the model being served, so the next
        ``quantize`` uses the new settings.
        """
        resolved = _resolve_config(config)
        if self._closed:
            raise EngineStateError("The engine is closed; create a new AliceQuantizationEngine.")
        if self._worker is None:
            self._worker = WorkerThread()
        self._worker.call(self._initialize_on_worker, resolved)

    def quantize(self, model: ModelSource, calibration: CalibrationSource | None, *,
                 validation: CalibrationSource | None = None,
                 with_sensitivity: bool = False) -> QuantizationResult:
        """Quantize ``model``, judge it on the samples, and serve the model the guard allows.

        ``model`` is a path, bytes or ``onnx.ModelProto`` (never modified). ``calibration``
        and ``validation`` are dicts of arrays keyed by input name (samples on the batch axis),
        one array for a single-input model, or a path to ``.npz``, ``.npy``, ``.json`` or a
        folder of them. Similarity is measured on ``validation`` when given, else on
        ``calibration``. Dynamic mode accepts ``calibration=None`` when ``validation`` is
        given; static mode needs ``calibration``. ``with_sensitivity`` also measures each
        layer's sensitivity when the guard passes. A rejected INT8 model is not an exception:
        see ``QuantizationResult.success`` and ``raise_for_failure``.
        """
        return self._dispatch(self._quantize_on_worker, model, calibration, validation,
                              with_sensitivity)

    def infer(self, inputs: Mapping[str, np.ndarray] | np.ndarray) -> dict[str, np.ndarray]:
        """Run the served model on ``inputs`` and return every output by name.

        ``inputs`` maps graph input names to arrays; a single-input model also takes one
        array. Raises ``EngineStateError`` before a successful ``quantize`` and
        ``AccuracyError`` when the guard rejected the model with automatic fallback off.
        """
        return self._dispatch(self._infer_on_worker, inputs)

    def get_status(self) -> EngineStatus:
        """Return the served mode, backend, last similarity and verdict, and texture bytes."""
        if self._worker is None or self._closed:
            return self._status()
        return self._worker.call(self._status)

    def close(self) -> None:
        """Release the backend and end the worker thread; later calls raise EngineStateError.

        Calling it again does nothing.
        """
        if self._closed:
            return
        self._closed = True
        if self._worker is None:
            return
        try:
            self._worker.call(self._drop_backend)
        finally:
            self._worker.shutdown()

    def __enter__(self) -> AliceQuantizationEngine:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    @property
    def config(self) -> QuantizationConfig:
        """The config applied by the last ``initialize``."""
        return self._config

    def _dispatch(self, function: Any, *args: Any) -> Any:
        if self._closed:
            raise EngineStateError("The engine is closed; create a new AliceQuantizationEngine.")
        if self._worker is None:
            raise EngineStateError("The engine is not initialized; call initialize(config) "
                                   "first or pass a config to AliceQuantizationEngine().")
        return self._worker.call(function, *args)

    # The methods below run on the worker thread only.

    def _initialize_on_worker(self, config: QuantizationConfig) -> None:
        self._drop_backend()
        self._config = config
        self._result = None
        self._reason = "no model quantized yet"
        logger.info("Engine initialized: mode %s, backend %s, profile %s", config.mode,
                    config.backend, config.profile)

    def _quantize_on_worker(self, model: ModelSource, calibration: CalibrationSource,
                            validation: CalibrationSource | None,
                            with_sensitivity: bool) -> QuantizationResult:
        if calibration is None and (validation is None or self._config.mode == "static"):
            needed = "calibration" if self._config.mode == "static" else "calibration or validation"
            raise InvalidInputError(f"quantize needs {needed} samples: the accuracy guard "
                                    f"measures similarity on the user's data, never on random "
                                    f"inputs. Pass a dict of arrays or a path.")
        # Without inferred value_info, the reported sizes are those of the files users save.
        fp32_model = load_model(model, infer_shapes=False)
        guarded = quantize_and_guard(fp32_model, calibration, self._config,
                                     validation=validation, with_sensitivity=with_sensitivity)
        self._drop_backend()
        self._result = guarded.result
        self._reason = guarded.reason
        if guarded.served_model is not None:
            try:
                self._backend = create_backend(self._config.backend, guarded.served_model,
                                               self._config, guarded.sample_feed)
            except Exception as error:
                self._reason = f"creating the {self._config.backend} backend failed: {error}"
                raise
            logger.info("Serving the %s model on the %s backend", guarded.result.served_mode,
                        self._backend.name)
        return guarded.result

    def _infer_on_worker(self, inputs: Mapping[str, np.ndarray] | np.ndarray
                         ) -> dict[str, np.ndarray]:
        if self._backend is None:
            if self._result is None:
                raise EngineStateError("No model is served yet; call quantize(model, "
                                       "calibration) first.")
            if not self._result.success:
                raise AccuracyError(f"No model is served: {self._result.error}, and automatic "
                                    f"fallback is off. Enable enable_auto_fallback or lower "
                                    f"fallback_threshold, then quantize again.")
            raise EngineStateError(f"No model is served: {self._reason}. Fix the cause and "
                                   f"call quantize again.")
        if isinstance(inputs, np.ndarray):
            inputs = self._single_input_feed(inputs)
        return self._backend.run(inputs)

    def _single_input_feed(self, array: np.ndarray) -> dict[str, np.ndarray]:
        names = _graph_input_names(self._result.model) if self._result else []
        if len(names) != 1:
            raise InvalidInputError(f"infer got one array, but the model has inputs {names}; "
                                    f"pass a dict keyed by input name.")
        return {names[0]: array}

    def _drop_backend(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def _status(self) -> EngineStatus:
        result, backend = self._result, self._backend
        served = backend is not None and result is not None
        return EngineStatus(
            initialized=self._worker is not None,
            closed=self._closed,
            mode=result.served_mode if served else None,
            backend=backend.name if backend else None,
            similarity=result.min_similarity if result else None,
            verdict=result.verdict.value if result else None,
            reason="engine closed" if self._closed else self._reason,
            fp32_layers=result.fp32_layers if result else (),
            planned_texture_bytes=backend.planned_texture_bytes if backend else 0,
            allocated_texture_bytes=backend.allocated_texture_bytes if backend else 0,
            gl_renderer=backend.renderer if backend else None,
        )


def _resolve_config(config: QuantizationConfig | Mapping[str, Any] | None) -> QuantizationConfig:
    if config is None:
        return DEFAULT_QUANTIZATION_CONFIG
    if isinstance(config, QuantizationConfig):
        return config
    if isinstance(config, Mapping):
        return QuantizationConfig.from_dict(config)
    raise ConfigError(f"Invalid config: {type(config).__name__}; expected a QuantizationConfig, "
                      f"a dict of settings, or None for the defaults.")


def _graph_input_names(model: onnx.ModelProto) -> list[str]:
    initializers = {tensor.name for tensor in model.graph.initializer}
    return [value.name for value in model.graph.input if value.name not in initializers]
