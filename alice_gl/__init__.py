"""alice_gl: quantize FP32 ONNX models to INT8 and run them on OpenGL shaders.

The engine API is importable from here. It is loaded on first access, so ``import alice_gl``
loads neither onnx nor an executor.
"""

from __future__ import annotations

import importlib
from typing import Any

_ENGINE_EXPORTS = (
    "AliceQuantizationEngine",
    "DEFAULT_QUANTIZATION_CONFIG",
    "QuantizationConfig",
    "QuantizationResult",
)

__all__ = list(_ENGINE_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _ENGINE_EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module("alice_gl.engine"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
