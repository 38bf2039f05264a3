"""Exception classes shared by every part of alice_gl.

``AliceGLError`` is the base. Subclasses of ``InvalidInputError`` mean the caller passed a bad
model, file, argument or setting: the command-line tool exits with status 2 for them and 1 for
every other error.
"""

from __future__ import annotations


class AliceGLError(Exception):
    """Base class of every error that alice_gl raises on purpose."""


class InvalidInputError(AliceGLError, ValueError):
    """A model, file, array or setting that the caller passed is invalid."""


class InvalidModelError(InvalidInputError):
    """An ONNX model fails to load, fails ``onnx.checker``, or has an unsupported opset."""


class ConfigError(InvalidInputError):
    """A configuration value is invalid; the message names the field and the allowed values."""


class CalibrationDataError(InvalidInputError):
    """Calibration data does not match the model's inputs (name, shape or dtype)."""


class UnsupportedOperatorError(InvalidModelError):
    """A model contains operators that an executor has no kernel for."""


class QuantizationError(AliceGLError):
    """Quantizing a model failed, for example on a weight that contains NaN or Inf."""


class AccuracyError(QuantizationError):
    """The INT8 model's output similarity fell below the fallback threshold."""


class GLContextError(AliceGLError):
    """No OpenGL context could be created (no EGL library, no driver, or a GL version too old)."""


class ShaderCompileError(AliceGLError):
    """A shader failed to compile or link; the message carries the driver's log."""


class MemoryLimitExceededError(InvalidInputError):
    """A texture-memory plan needs more bytes than the configured budget.

    ``breakdown`` maps each kind of allocation (weights, scales, intermediates, runtime
    buffers) to its bytes, so callers can show where the memory goes.
    """

    def __init__(self, message: str, planned_bytes: int, budget_bytes: int,
                 breakdown: dict[str, int]) -> None:
        super().__init__(message)
        self.planned_bytes = planned_bytes
        self.budget_bytes = budget_bytes
        self.breakdown = dict(breakdown)


class ExecutionError(AliceGLError):
    """A node failed while an executor ran a model; the message names the node and its op type."""


class EngineStateError(AliceGLError, RuntimeError):
    """An engine method was called before ``initialize`` or ``quantize``, or after ``close``."""
