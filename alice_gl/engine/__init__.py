"""The engine API: quantize a model, guard its accuracy, fall back to FP32, and serve it.

Names are imported on first access, so importing this package loads neither the quantizer
nor an executor.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AliceQuantizationEngine": "alice_gl.engine.engine",
    "EngineStatus": "alice_gl.engine.engine",
    "QuantizationConfig": "alice_gl.engine.config",
    "TilingConfig": "alice_gl.engine.config",
    "DEFAULT_QUANTIZATION_CONFIG": "alice_gl.engine.config",
    "QuantizationResult": "alice_gl.engine.result",
    "Verdict": "alice_gl.engine.guard",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
