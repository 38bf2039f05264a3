"""Comparison helpers of the GL executor tests."""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

MIN_COSINE = 0.99999


def cosine(reference: np.ndarray, actual: np.ndarray) -> float:
    """Return the cosine similarity of two arrays, flattened, in float64."""
    a = reference.astype(np.float64).ravel()
    b = actual.astype(np.float64).ravel()
    denominator = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / denominator) if denominator else float(np.array_equal(a, b))


def compare_outputs(label: str, reference: dict[str, np.ndarray],
                    actual: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """Return ``{name: (cosine, max abs difference)}`` and log it for the report."""
    results = {}
    for name, expected in reference.items():
        got = actual[name]
        assert got.shape == expected.shape, f"{label} {name}: shape {got.shape}"
        difference = float(np.max(np.abs(expected.astype(np.float64) - got)))
        results[name] = (cosine(expected, got), difference)
        logger.info("%s %s: cosine %.8f, max abs difference %.3g", label, name,
                    results[name][0], difference)
    return results
