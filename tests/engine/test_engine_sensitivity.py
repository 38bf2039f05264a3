"""Per-layer sensitivity ordering, partial fallback steps and limits, and the PNG plot."""

from __future__ import annotations

import pytest

from alice_gl.engine.guard import Verdict, judge
from alice_gl.engine.sensitivity import (
    Layer,
    LayerSensitivity,
    fallback_order,
    measure_sensitivity,
    plot_sensitivity,
    run_partial_fallback,
)
from alice_gl.errors import InvalidInputError

# Similarity of a model that keeps the given layers FP32, for a fake four-layer model where
# "b" and "d" are the harmful layers.
COST = {"a": 0.001, "b": 0.2, "c": 0.0, "d": 0.05}


def similarity_without(fp32_layers: tuple[str, ...]) -> float:
    return 1.0 - sum(cost for name, cost in COST.items() if name not in fp32_layers)


def default_judge(similarity: float):
    return judge(similarity, fallback_threshold=0.95, warn_threshold=0.98)


def sensitivities() -> list[LayerSensitivity]:
    layers = [Layer(name, "MatMul") for name in COST]
    return measure_sensitivity(layers, lambda layer: 1.0 - COST[layer.node])


def test_measure_sensitivity_keeps_layer_order():
    result = sensitivities()
    assert [item.node for item in result] == ["a", "b", "c", "d"]
    assert result[1].similarity == pytest.approx(0.8)
    assert result[1].sensitivity == pytest.approx(0.2)


def test_fallback_order_most_sensitive_first_ties_stable():
    items = [LayerSensitivity("x", "Conv", 0.9), LayerSensitivity("y", "Conv", 0.5),
             LayerSensitivity("z", "Conv", 0.9)]
    assert [item.node for item in fallback_order(items)] == ["y", "x", "z"]


def test_partial_fallback_adds_layers_until_guard_passes():
    calls = []

    def quantize_excluding(fp32_layers):
        calls.append(fp32_layers)
        return fp32_layers

    outcome = run_partial_fallback(
        sensitivities(), quantize_excluding=quantize_excluding,
        measure=lambda candidate: (candidate, similarity_without(candidate)),
        judge=default_judge, max_layers=4)
    assert calls == [("b",), ("b", "d")]
    assert outcome.passed is True
    assert outcome.fp32_layers == ("b", "d")
    assert [step.verdict for step in outcome.steps] == [Verdict.FAIL, Verdict.OK]
    assert outcome.steps[0].similarity == pytest.approx(0.949)
    assert outcome.steps[1].similarity == pytest.approx(0.999)
    assert outcome.candidate == ("b", "d")


def test_partial_fallback_respects_limit():
    outcome = run_partial_fallback(
        sensitivities(), quantize_excluding=lambda names: names,
        measure=lambda candidate: (candidate, similarity_without(candidate)),
        judge=default_judge, max_layers=1)
    assert outcome.passed is False
    assert outcome.fp32_layers == ("b",)
    assert len(outcome.steps) == 1


def test_partial_fallback_never_keeps_every_layer_fp32():
    items = [LayerSensitivity("only", "MatMul", 0.1)]
    outcome = run_partial_fallback(
        items, quantize_excluding=lambda names: names, measure=lambda candidate: (None, 1.0),
        judge=default_judge, max_layers=4)
    assert outcome.steps == ()
    assert outcome.passed is False
    assert outcome.candidate is None


def test_plot_writes_png(tmp_path):
    path = plot_sensitivity(sensitivities(), tmp_path / "sensitivity.png",
                            fallback_threshold=0.95, warn_threshold=0.98, fp32_layers=["b"])
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 5000


def test_plot_rejects_empty(tmp_path):
    with pytest.raises(InvalidInputError, match="No layer sensitivities"):
        plot_sensitivity([], tmp_path / "empty.png", fallback_threshold=0.95,
                         warn_threshold=0.98)
