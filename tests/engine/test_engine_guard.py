"""Accuracy guard verdicts, band edges and the failure message."""

from __future__ import annotations

import math

import pytest

from alice_gl.engine.guard import Verdict, judge, similarity_too_low_message

THRESHOLDS = {"fallback_threshold": 0.95, "warn_threshold": 0.98}


@pytest.mark.parametrize(("similarity", "verdict"), [
    (1.0, Verdict.OK),
    (0.98, Verdict.OK),
    (0.9799, Verdict.WARN),
    (0.95, Verdict.WARN),
    (0.9499, Verdict.FAIL),
    (0.2, Verdict.FAIL),
    (-1.0, Verdict.FAIL),
    (math.nan, Verdict.FAIL),
])
def test_verdict_bands(similarity, verdict):
    decision = judge(similarity, **THRESHOLDS)
    assert decision.verdict is verdict
    assert decision.passed is (verdict is not Verdict.FAIL)


def test_failure_message_has_two_decimals():
    decision = judge(0.92, **THRESHOLDS)
    assert decision.message == "similarity too low (0.92 < 0.95)"


def test_failure_message_rounds_to_two_decimals():
    assert similarity_too_low_message(0.91749, 0.95) == "similarity too low (0.92 < 0.95)"


def test_failure_message_adds_decimals_when_two_would_tie():
    assert similarity_too_low_message(0.9496, 0.95) == "similarity too low (0.9496 < 0.9500)"


def test_warn_message_names_threshold():
    decision = judge(0.96, **THRESHOLDS)
    assert decision.message == "similarity 0.96 is below the warning threshold 0.98"


def test_custom_thresholds():
    decision = judge(0.85, fallback_threshold=0.8, warn_threshold=0.9)
    assert decision.verdict is Verdict.WARN
    assert decision.fallback_threshold == 0.8


def test_verdict_string_value():
    assert str(Verdict.WARN) == "warn"
    assert Verdict("fail") is Verdict.FAIL
