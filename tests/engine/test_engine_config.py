"""QuantizationConfig: defaults, validation errors per field, dict and JSON round trips."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from alice_gl.engine.config import (
    DEFAULT_QUANTIZATION_CONFIG,
    QuantizationConfig,
    TilingConfig,
    camel_case_key,
)
from alice_gl.errors import ConfigError, InvalidInputError


def test_defaults_match_documented_values():
    config = DEFAULT_QUANTIZATION_CONFIG
    assert config.mode == "dynamic"
    assert config.enable_auto_fallback is True
    assert config.partial_fallback is True
    assert config.fallback_threshold == 0.95
    assert config.warn_threshold == 0.98
    assert config.max_memory_mb == 50
    assert config.calibration_samples == 2000
    assert config.per_channel is True
    assert config.tiling == TilingConfig(enabled=True, block_size=256, max_concurrent_blocks=4)
    assert config.backend == "auto"


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_QUANTIZATION_CONFIG.fallback_threshold = 0.5  # type: ignore[misc]


# (field, bad value, text the message must contain: the allowed range or choices)
INVALID_FIELDS = [
    ("mode", "int4", "'dynamic', 'static'"),
    ("calibration_strategy", "entropy", "'minmax', 'percentile', 'kl', 'mse'"),
    ("calibration_samples", 0, ">= 1"),
    ("calibration_samples", 2.5, ">= 1"),
    ("calibration_samples", True, ">= 1"),
    ("percentile", 101.0, "[50, 100]"),
    ("percentile", math.nan, "[50, 100]"),
    ("per_channel", "yes", "true or false"),
    ("per_channel", 1, "true or false"),
    ("op_types", "MatMul", "list of strings"),
    ("op_types", ["MatMul", 3], "non-empty string"),
    ("exclude_nodes", [""], "non-empty string"),
    ("enable_auto_fallback", None, "true or false"),
    ("partial_fallback", 0, "true or false"),
    ("max_fallback_layers", 0, ">= 1"),
    ("fallback_threshold", 1.5, "[0, 1]"),
    ("fallback_threshold", -0.1, "[0, 1]"),
    ("fallback_threshold", "0.9", "[0, 1]"),
    ("warn_threshold", 2.0, "[0, 1]"),
    ("warn_threshold", 0.9, "[fallback_threshold, 1]"),
    ("max_memory_mb", 0, "(0, inf)"),
    ("max_memory_mb", math.inf, "(0, inf)"),
    ("tiling", 256, "TilingConfig"),
    ("backend", "cuda", "'auto', 'numpy', 'gl-fragment', 'gl-compute'"),
    ("profile", "webgl1", "'webgl2', 'gl43'"),
]


@pytest.mark.parametrize(("name", "value", "allowed"), INVALID_FIELDS)
def test_invalid_field_names_field_value_and_range(name, value, allowed):
    with pytest.raises(ConfigError) as caught:
        QuantizationConfig(**{name: value})
    message = str(caught.value)
    assert f"Invalid {name}: {value!r}" in message
    assert allowed in message


@pytest.mark.parametrize(("name", "value"), [
    ("enabled", "on"), ("block_size", 0), ("block_size", 64.0), ("max_concurrent_blocks", -1),
])
def test_invalid_tiling_field_is_named_with_prefix(name, value):
    with pytest.raises(ConfigError, match=rf"Invalid tiling\.{name}: "):
        TilingConfig(**{name: value})


def test_config_error_is_invalid_input():
    with pytest.raises(InvalidInputError):
        QuantizationConfig(mode="bad")


def test_gl_compute_needs_gl43_profile():
    with pytest.raises(ConfigError, match="compute passes need profile 'gl43'"):
        QuantizationConfig(backend="gl-compute", profile="webgl2")
    assert QuantizationConfig(backend="gl-compute", profile="gl43").profile == "gl43"


def test_replace_validates_again():
    with pytest.raises(ConfigError, match="Invalid fallback_threshold"):
        dataclasses.replace(DEFAULT_QUANTIZATION_CONFIG, fallback_threshold=7)


def test_equal_thresholds_are_valid():
    config = QuantizationConfig(fallback_threshold=0.9, warn_threshold=0.9)
    assert config.warn_threshold == config.fallback_threshold


def test_lists_become_tuples():
    config = QuantizationConfig(op_types=["MatMul"], exclude_nodes=["fc1"])
    assert config.op_types == ("MatMul",)
    assert config.exclude_nodes == ("fc1",)


def test_from_dict_accepts_javascript_camel_case_keys():
    config = QuantizationConfig.from_dict({
        "enableAutoFallback": False,
        "fallbackThreshold": 0.9,
        "calibrationSamples": 128,
        "calibrationStrategy": "kl",
        "maxMemoryMB": 64,
        "tiling": {"blockSize": 128, "maxConcurrentBlocks": 2},
    })
    assert config.enable_auto_fallback is False
    assert config.fallback_threshold == 0.9
    assert config.calibration_samples == 128
    assert config.calibration_strategy == "kl"
    assert config.max_memory_mb == 64
    assert config.tiling.block_size == 128
    assert config.tiling.max_concurrent_blocks == 2
    assert config.tiling.enabled is True


def test_from_dict_accepts_snake_case_keys():
    config = QuantizationConfig.from_dict({"max_memory_mb": 10, "tiling": {"block_size": 64},
                                           "exclude_nodes": ["a", "b"]})
    assert config.max_memory_mb == 10
    assert config.tiling.block_size == 64
    assert config.exclude_nodes == ("a", "b")


def test_from_dict_rejects_unknown_key():
    with pytest.raises(ConfigError, match=r"Unknown config key: maxMemoryMb\. Allowed keys"):
        QuantizationConfig.from_dict({"maxMemoryMb": 64})


def test_from_dict_rejects_unknown_tiling_key():
    with pytest.raises(ConfigError, match=r"Unknown config key: tiling\.blocksize"):
        QuantizationConfig.from_dict({"tiling": {"blocksize": 64}})


def test_from_dict_rejects_both_spellings_of_one_key():
    with pytest.raises(ConfigError, match="max_memory_mb is given twice"):
        QuantizationConfig.from_dict({"maxMemoryMB": 64, "max_memory_mb": 32})


def test_from_dict_rejects_non_object():
    with pytest.raises(ConfigError, match="expected a JSON object"):
        QuantizationConfig.from_dict(["maxMemoryMB", 64])  # type: ignore[arg-type]


def test_from_dict_rejects_bad_tiling_type():
    with pytest.raises(ConfigError, match="Invalid tiling: 'big'"):
        QuantizationConfig.from_dict({"tiling": "big"})


def test_from_dict_reports_invalid_value_by_field():
    with pytest.raises(ConfigError, match=r"Invalid fallback_threshold: 95; .*\[0, 1\]"):
        QuantizationConfig.from_dict({"fallbackThreshold": 95})


@pytest.mark.parametrize("camel_case", [True, False])
def test_json_round_trip(camel_case):
    config = QuantizationConfig(mode="static", calibration_strategy="percentile",
                                percentile=99.9, op_types=("MatMul", "Gemm"),
                                exclude_nodes=("head",), enable_auto_fallback=False,
                                max_fallback_layers=2, fallback_threshold=0.9,
                                warn_threshold=0.97, max_memory_mb=12.5,
                                tiling=TilingConfig(enabled=False, block_size=64,
                                                    max_concurrent_blocks=8),
                                backend="numpy", profile="gl43")
    text = config.to_json(camel_case=camel_case)
    assert QuantizationConfig.from_json(text) == config


def test_camel_case_json_uses_javascript_names():
    data = json.loads(DEFAULT_QUANTIZATION_CONFIG.to_json(camel_case=True))
    for key in ("enableAutoFallback", "fallbackThreshold", "calibrationSamples",
                "calibrationStrategy", "maxMemoryMB"):
        assert key in data
    assert set(data["tiling"]) == {"enabled", "blockSize", "maxConcurrentBlocks"}


def test_camel_case_key_conversion():
    assert camel_case_key("max_memory_mb") == "maxMemoryMB"
    assert camel_case_key("enable_auto_fallback") == "enableAutoFallback"
    assert camel_case_key("mode") == "mode"


def test_from_json_rejects_invalid_text():
    with pytest.raises(ConfigError, match="Invalid config JSON"):
        QuantizationConfig.from_json("{maxMemoryMB: 64}")


def test_from_json_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"maxMemoryMB": 8, "tiling": {"enabled": false}}', encoding="utf-8")
    config = QuantizationConfig.from_json_file(path)
    assert config.max_memory_mb == 8
    assert config.tiling.enabled is False


def test_from_json_file_missing(tmp_path):
    with pytest.raises(ConfigError, match="Failed to read config file"):
        QuantizationConfig.from_json_file(tmp_path / "absent.json")
