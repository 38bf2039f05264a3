"""Output similarity: cosine per sample, zero-norm and single-value outputs, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alice_gl.engine.similarity import compare_output, compare_outputs, mean_cosine, min_cosine


def test_identical_outputs_have_cosine_one(rng):
    reference = rng.normal(size=(5, 1, 10))
    result = compare_output("y", reference, reference.copy())
    assert result.min_cosine == pytest.approx(1.0)
    assert result.mean_cosine == pytest.approx(1.0)
    assert result.max_abs_error == 0.0
    assert result.relative_error == 0.0
    assert result.cosine_meaningful is True
    assert result.samples == 5


def test_cosine_matches_formula_per_sample(rng):
    reference = rng.normal(size=(4, 6))
    candidate = reference + rng.normal(scale=0.5, size=(4, 6))
    expected = [float(r @ c / (np.linalg.norm(r) * np.linalg.norm(c)))
                for r, c in zip(reference, candidate, strict=True)]
    result = compare_output("y", reference, candidate)
    assert result.min_cosine == pytest.approx(min(expected))
    assert result.mean_cosine == pytest.approx(np.mean(expected))


def test_errors_are_absolute_and_relative():
    reference = np.array([[3.0, 4.0], [0.0, 5.0]])
    candidate = np.array([[3.0, 4.5], [0.0, 5.0]])
    result = compare_output("y", reference, candidate)
    assert result.max_abs_error == pytest.approx(0.5)
    assert result.mean_abs_error == pytest.approx(0.125)
    assert result.relative_error == pytest.approx(0.5 / math.sqrt(50.0))


def test_one_bad_sample_sets_the_minimum(rng):
    reference = rng.normal(size=(10, 8))
    candidate = reference.copy()
    candidate[3] = -reference[3]
    result = compare_output("y", reference, candidate)
    assert result.min_cosine == pytest.approx(-1.0)
    assert result.mean_cosine == pytest.approx(0.8)


def test_all_zero_outputs_count_as_equal():
    zeros = np.zeros((3, 4))
    result = compare_output("y", zeros, zeros.copy())
    assert result.min_cosine == 1.0
    assert result.relative_error == 0.0
    assert result.cosine_meaningful is False
    assert "zero-norm" in result.note


def test_zero_reference_with_nonzero_candidate_fails():
    reference = np.array([[1.0, 2.0], [0.0, 0.0]])
    candidate = np.array([[1.0, 2.0], [0.5, 0.0]])
    result = compare_output("y", reference, candidate)
    assert result.min_cosine == 0.0
    assert result.mean_cosine == pytest.approx(0.5)
    assert result.cosine_meaningful is False
    assert "1 of 2 samples" in result.note


def test_zero_everywhere_reference_gives_infinite_relative_error():
    result = compare_output("y", np.zeros((2, 3)), np.full((2, 3), 0.1))
    assert math.isinf(result.relative_error)
    assert result.min_cosine == 0.0
    assert result.to_dict()["relative_error"] == "inf"


def test_single_value_output_uses_cosine_across_samples():
    reference = np.array([[1.0], [2.0], [3.0]])
    candidate = np.array([[1.0], [2.0], [-3.0]])
    result = compare_output("score", reference, candidate)
    expected = (1 + 4 - 9) / 14
    assert result.min_cosine == pytest.approx(expected)
    assert result.mean_cosine == pytest.approx(expected)
    assert result.cosine_meaningful is False
    assert "across samples" in result.note


def test_single_value_single_sample_compares_signs():
    result = compare_output("score", np.array([2.0]), np.array([1.9]))
    assert result.min_cosine == pytest.approx(1.0)
    assert result.relative_error == pytest.approx(0.05)
    assert result.cosine_meaningful is False
    assert "only compares signs" in result.note


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match=r"shape \(2, 3\) in the candidate model but \(2, 4\)"):
        compare_output("y", np.zeros((2, 4)), np.zeros((2, 3)))


def test_no_samples_is_rejected():
    with pytest.raises(ValueError, match="has no samples"):
        compare_output("y", np.zeros((0, 4)), np.zeros((0, 4)))


def test_compare_outputs_summaries(rng):
    first = rng.normal(size=(3, 4))
    second = rng.normal(size=(3, 4))
    flipped = second.copy()
    flipped[0] *= -1
    results = compare_outputs({"a": first, "b": second}, {"a": first, "b": flipped})
    assert list(results) == ["a", "b"]
    assert min_cosine(results) == pytest.approx(-1.0)
    assert mean_cosine(results) == pytest.approx((1.0 + 1.0 / 3.0) / 2.0)


def test_compare_outputs_names_missing_output():
    with pytest.raises(ValueError, match=r"no output named \['b'\]"):
        compare_outputs({"a": np.ones((1, 2)), "b": np.ones((1, 2))}, {"a": np.ones((1, 2))})
