"""Engine settings: ``QuantizationConfig``, its tiling block, and their dict and JSON forms.

Both classes are frozen dataclasses validated on construction, so a config that exists is a
valid one. ``dataclasses.replace`` validates again. Every invalid value raises ``ConfigError``
naming the field, the value and the allowed values. ``from_dict`` and ``from_json`` take the
field names in snake_case or in the camelCase a JavaScript config carries (``maxMemoryMB``,
``enableAutoFallback``, ``tiling.blockSize`` ...) and reject unknown keys.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alice_gl.errors import ConfigError

MODES = ("dynamic", "static")
CALIBRATION_STRATEGIES = ("minmax", "percentile", "kl", "mse")
BACKENDS = ("auto", "numpy", "gl-fragment", "gl-compute")
PROFILES = ("webgl2", "gl43")

# camelCase spellings that the generic snake_case conversion would not produce.
_CAMEL_CASE_OVERRIDES = {"max_memory_mb": "maxMemoryMB"}


@dataclass(frozen=True)
class TilingConfig:
    """Tiling settings of the GL dequant-matmul, which splits its shared dimension K.

    K is processed in blocks of ``block_size`` elements, and at most ``max_concurrent_blocks``
    scratch tiles are alive at once. ``enabled=False`` runs each matmul in one pass.
    """

    enabled: bool = True
    block_size: int = 256
    max_concurrent_blocks: int = 4

    def __post_init__(self) -> None:
        _check_bool("tiling.enabled", self.enabled)
        _check_int("tiling.block_size", self.block_size, minimum=1)
        _check_int("tiling.max_concurrent_blocks", self.max_concurrent_blocks, minimum=1)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TilingConfig:
        """Build a tiling config from snake_case or camelCase keys (``blockSize`` ...)."""
        return cls(**_normalize_keys(cls, data, prefix="tiling."))

    def to_dict(self, *, camel_case: bool = False) -> dict[str, Any]:
        """Return the settings as a JSON-ready dict, keyed in camelCase on request."""
        return {_key(name, camel_case): getattr(self, name) for name in _field_names(self)}


@dataclass(frozen=True)
class QuantizationConfig:
    """Every setting of ``AliceQuantizationEngine``.

    Quantization: ``mode`` (dynamic or static activations), ``calibration_strategy``,
    ``calibration_samples`` (maximum samples used, also for the similarity check),
    ``percentile`` (for the percentile strategy, in percent), ``per_channel`` weight scales,
    ``op_types`` (None quantizes every supported op type) and ``exclude_nodes`` (node names kept
    FP32).

    Accuracy guard: the minimum output cosine similarity against FP32 must reach
    ``warn_threshold`` for verdict ``ok``, and ``fallback_threshold`` for ``warn``. Below that
    the verdict is ``fail``. With ``enable_auto_fallback`` on, a failing model is first rescued
    by ``partial_fallback``, which keeps up to ``max_fallback_layers`` layers FP32. If that does
    not pass, the engine serves the FP32 model. With it off, a failing model makes the result
    unsuccessful and the engine serves nothing.

    Execution: ``backend`` (``auto`` tries GL, then NumPy), GL ``profile`` (``webgl2``: fragment
    passes only, ``gl43``: compute passes allowed), texture budget ``max_memory_mb`` (MiB) and
    ``tiling``.
    """

    mode: str = "dynamic"
    calibration_strategy: str = "minmax"
    calibration_samples: int = 2000
    percentile: float = 99.999
    per_channel: bool = True
    op_types: tuple[str, ...] | None = None
    exclude_nodes: tuple[str, ...] = ()
    enable_auto_fallback: bool = True
    partial_fallback: bool = True
    max_fallback_layers: int = 4
    fallback_threshold: float = 0.95
    warn_threshold: float = 0.98
    max_memory_mb: float = 50.0
    tiling: TilingConfig = field(default_factory=TilingConfig)
    backend: str = "auto"
    profile: str = "webgl2"

    def __post_init__(self) -> None:
        _check_choice("mode", self.mode, MODES)
        _check_choice("calibration_strategy", self.calibration_strategy, CALIBRATION_STRATEGIES)
        _check_int("calibration_samples", self.calibration_samples, minimum=1)
        _check_number("percentile", self.percentile, low=50.0, high=100.0, low_open=False)
        _check_bool("per_channel", self.per_channel)
        if self.op_types is not None:
            object.__setattr__(self, "op_types", _check_names("op_types", self.op_types))
        object.__setattr__(self, "exclude_nodes",
                           _check_names("exclude_nodes", self.exclude_nodes))

        _check_bool("enable_auto_fallback", self.enable_auto_fallback)
        _check_bool("partial_fallback", self.partial_fallback)
        _check_int("max_fallback_layers", self.max_fallback_layers, minimum=1)
        _check_number("fallback_threshold", self.fallback_threshold, low=0.0, high=1.0,
                      low_open=False)
        _check_number("warn_threshold", self.warn_threshold, low=0.0, high=1.0, low_open=False)
        if self.warn_threshold < self.fallback_threshold:
            raise ConfigError(
                f"Invalid warn_threshold: {self.warn_threshold}; expected a number in "
                f"[fallback_threshold, 1] = [{self.fallback_threshold}, 1]. Raise warn_threshold "
                f"or lower fallback_threshold.")

        _check_number("max_memory_mb", self.max_memory_mb, low=0.0, high=math.inf,
                      low_open=True)
        if isinstance(self.tiling, Mapping):
            object.__setattr__(self, "tiling", TilingConfig.from_dict(self.tiling))
        elif not isinstance(self.tiling, TilingConfig):
            raise ConfigError(f"Invalid tiling: {self.tiling!r}; expected a TilingConfig or a "
                              f"dict with the keys enabled, block_size, max_concurrent_blocks.")
        _check_choice("backend", self.backend, BACKENDS)
        _check_choice("profile", self.profile, PROFILES)
        if self.backend == "gl-compute" and self.profile != "gl43":
            raise ConfigError(f"Invalid profile: {self.profile!r} with backend 'gl-compute'; "
                              f"compute passes need profile 'gl43'. Set profile to 'gl43' or "
                              f"backend to 'gl-fragment'.")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuantizationConfig:
        """Build a config from a dict keyed in snake_case or camelCase; missing keys default.

        Raises ``ConfigError`` on an unknown key, on a key given in both spellings, and on any
        invalid value.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"Invalid config: {type(data).__name__}; expected a JSON object "
                              f"(a dict) of settings.")
        values = _normalize_keys(cls, data, prefix="")
        if "tiling" in values:
            tiling = values["tiling"]
            if not isinstance(tiling, (Mapping, TilingConfig)):
                raise ConfigError(f"Invalid tiling: {tiling!r}; expected an object with the keys "
                                  f"enabled, blockSize, maxConcurrentBlocks.")
            if isinstance(tiling, Mapping):
                values["tiling"] = TilingConfig.from_dict(tiling)
        for name in ("op_types", "exclude_nodes"):
            if isinstance(values.get(name), list):
                values[name] = tuple(values[name])
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> QuantizationConfig:
        """Build a config from JSON text (an object, keys as in ``from_dict``)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"Invalid config JSON: {error}.") from error
        return cls.from_dict(data)

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> QuantizationConfig:
        """Build a config from a JSON file; raises ``ConfigError`` when it cannot be read."""
        try:
            text = Path(os.fspath(path)).read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"Failed to read config file {path}: {error}.") from error
        return cls.from_json(text)

    def to_dict(self, *, camel_case: bool = False) -> dict[str, Any]:
        """Return the settings as a JSON-ready dict that ``from_dict`` reads back unchanged."""
        result: dict[str, Any] = {}
        for name in _field_names(self):
            value = getattr(self, name)
            if isinstance(value, TilingConfig):
                value = value.to_dict(camel_case=camel_case)
            elif isinstance(value, tuple):
                value = list(value)
            result[_key(name, camel_case)] = value
        return result

    def to_json(self, *, camel_case: bool = False) -> str:
        """Return the settings as indented JSON text."""
        return json.dumps(self.to_dict(camel_case=camel_case), indent=2)


def camel_case_key(name: str) -> str:
    """Return the camelCase spelling of the snake_case field ``name`` (``maxMemoryMB`` ...)."""
    if name in _CAMEL_CASE_OVERRIDES:
        return _CAMEL_CASE_OVERRIDES[name]
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _key(name: str, camel_case: bool) -> str:
    return camel_case_key(name) if camel_case else name


def _field_names(instance_or_class: Any) -> list[str]:
    return [item.name for item in dataclasses.fields(instance_or_class)]


def _normalize_keys(cls: type, data: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Map each key of ``data`` to its snake_case field name, rejecting unknown and duplicates."""
    names = _field_names(cls)
    spelling_to_name = {name: name for name in names}
    spelling_to_name.update({camel_case_key(name): name for name in names})
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = spelling_to_name.get(key) if isinstance(key, str) else None
        if name is None:
            allowed = ", ".join(f"{prefix}{name}" for name in names)
            raise ConfigError(f"Unknown config key: {prefix}{key}. Allowed keys (snake_case or "
                              f"camelCase): {allowed}.")
        if name in values:
            raise ConfigError(f"Config key {prefix}{name} is given twice (as snake_case and "
                              f"camelCase); keep one.")
        values[name] = value
    return values


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"Invalid {name}: {value!r}; expected true or false.")


def _check_int(name: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"Invalid {name}: {value!r}; expected an integer >= {minimum}.")


def _check_number(name: str, value: Any, *, low: float, high: float, low_open: bool) -> None:
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    in_range = is_number and math.isfinite(value) and value <= high and (
        value > low if low_open else value >= low)
    if not in_range:
        bracket = "(" if low_open else "["
        upper = "inf)" if math.isinf(high) else f"{high:g}]"
        raise ConfigError(f"Invalid {name}: {value!r}; expected a finite number in "
                          f"{bracket}{low:g}, {upper}.")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"Invalid {name}: {value!r}; expected one of "
                          f"{', '.join(repr(choice) for choice in choices)}.")


def _check_names(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ConfigError(f"Invalid {name}: {value!r}; expected a list of strings.")
    for item in value:
        if not isinstance(item, str) or not item:
            raise ConfigError(f"Invalid {name}: {value!r}; every entry must be a non-empty "
                              f"string, but {item!r} is not.")
    return tuple(value)


# Defined last: construction runs the validation helpers above.
DEFAULT_QUANTIZATION_CONFIG = QuantizationConfig()
