"""Compare a candidate model's outputs with the FP32 reference, output by output.

For each output the cosine similarity is taken per sample (each sample flattened to one
vector, in float64) and summarized as its minimum and mean over the samples. Cosine is not
meaningful for every output, so absolute and relative errors are reported beside it:

- A sample whose reference and candidate are both zero vectors counts as cosine 1 (equal).
  A sample where only one of them is zero counts as cosine 0 (its direction is lost).
  "Zero" means a norm at most ``ZERO_NORM_RTOL`` times the largest reference norm of that
  output, or exactly zero when every reference sample is zero.
- An output with one value per sample has a per-sample cosine of only +1 or -1. Its cosine is
  taken across the samples instead, which needs two samples or more.

In both cases ``cosine_meaningful`` is False and ``note`` gives the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# A sample's norm at most this fraction of the output's largest reference norm counts as zero.
ZERO_NORM_RTOL = 1e-6


@dataclass(frozen=True)
class OutputSimilarity:
    """Comparison of one output of a candidate model with the FP32 reference.

    ``relative_error`` is ``||candidate - reference|| / ||reference||`` over all samples (L2
    norms), 0 when both are zero and ``inf`` when only the reference is zero.
    ``max_abs_error`` and ``mean_abs_error`` are over all elements of all samples.
    """

    name: str
    samples: int
    min_cosine: float
    mean_cosine: float
    max_abs_error: float
    mean_abs_error: float
    relative_error: float
    cosine_meaningful: bool
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        """Return the fields as a JSON-ready dict (an infinite error becomes the string "inf")."""
        result: dict[str, object] = dict(self.__dict__)
        for key, value in result.items():
            if isinstance(value, float) and not math.isfinite(value):
                result[key] = str(value)
        return result


def compare_output(name: str, reference: np.ndarray, candidate: np.ndarray) -> OutputSimilarity:
    """Compare one output over samples; axis 0 of both arrays indexes the samples.

    Raises ``ValueError`` when the shapes differ or there are no samples.
    """
    reference = np.asarray(reference, dtype=np.float64)
    candidate = np.asarray(candidate, dtype=np.float64)
    if reference.shape != candidate.shape:
        raise ValueError(f"Output {name!r} has shape {candidate.shape} in the candidate model but "
                         f"{reference.shape} in the reference.")
    if reference.ndim == 0 or reference.shape[0] == 0:
        raise ValueError(f"Output {name!r} has no samples (shape {reference.shape}); pass at "
                         f"least one sample along axis 0.")

    samples = reference.shape[0]
    reference_rows = reference.reshape(samples, -1)
    candidate_rows = candidate.reshape(samples, -1)
    difference = candidate_rows - reference_rows
    errors = _errors(reference_rows, difference)

    if reference_rows.shape[1] == 1:
        cosine, note = _cosine_across_samples(reference_rows[:, 0], candidate_rows[:, 0])
        return OutputSimilarity(name, samples, cosine, cosine, *errors, cosine_meaningful=False,
                                note=note)

    cosines, zero_samples = _cosine_per_sample(reference_rows, candidate_rows)
    note = ""
    if zero_samples:
        note = (f"{zero_samples} of {samples} samples have a zero-norm reference or candidate "
                f"output, where cosine is undefined; judge them by the absolute error")
    return OutputSimilarity(name, samples, float(cosines.min()), float(cosines.mean()), *errors,
                            cosine_meaningful=zero_samples == 0, note=note)


def compare_outputs(reference: Mapping[str, np.ndarray], candidate: Mapping[str, np.ndarray],
                    names: Sequence[str] | None = None) -> dict[str, OutputSimilarity]:
    """Compare every output in ``names`` (default: all reference outputs), keyed by name."""
    names = list(reference) if names is None else list(names)
    missing = [name for name in names if name not in candidate]
    if missing:
        raise ValueError(f"The candidate model produced no output named {missing}; its outputs "
                         f"are {sorted(candidate)}.")
    return {name: compare_output(name, reference[name], candidate[name]) for name in names}


def min_cosine(similarities: Mapping[str, OutputSimilarity]) -> float:
    """Return the lowest ``min_cosine`` over outputs: the number the accuracy guard judges."""
    return min(item.min_cosine for item in similarities.values())


def mean_cosine(similarities: Mapping[str, OutputSimilarity]) -> float:
    """Return the average of the outputs' ``mean_cosine`` values."""
    return float(np.mean([item.mean_cosine for item in similarities.values()]))


def _errors(reference_rows: np.ndarray, difference: np.ndarray) -> tuple[float, float, float]:
    absolute = np.abs(difference)
    reference_norm = float(np.linalg.norm(reference_rows))
    difference_norm = float(np.linalg.norm(difference))
    if reference_norm > 0.0:
        relative = difference_norm / reference_norm
    else:
        relative = 0.0 if difference_norm == 0.0 else math.inf
    return float(absolute.max()), float(absolute.mean()), relative


def _cosine_per_sample(reference_rows: np.ndarray,
                       candidate_rows: np.ndarray) -> tuple[np.ndarray, int]:
    """Return each sample's cosine and the count of samples with a zero-norm side."""
    reference_norms = np.linalg.norm(reference_rows, axis=1)
    candidate_norms = np.linalg.norm(candidate_rows, axis=1)
    zero_limit = ZERO_NORM_RTOL * float(reference_norms.max())
    reference_zero = reference_norms <= zero_limit
    candidate_zero = candidate_norms <= zero_limit

    defined = ~(reference_zero | candidate_zero)
    cosines = np.zeros(reference_rows.shape[0])
    dots = np.einsum("ij,ij->i", reference_rows[defined], candidate_rows[defined])
    cosines[defined] = dots / (reference_norms[defined] * candidate_norms[defined])
    cosines[reference_zero & candidate_zero] = 1.0
    # Rounding can push a cosine of parallel vectors a few ulps past 1.
    np.clip(cosines, -1.0, 1.0, out=cosines)
    return cosines, int((~defined).sum())


def _cosine_across_samples(reference: np.ndarray, candidate: np.ndarray) -> tuple[float, str]:
    """Return the cosine of the vectors formed by a one-value output over all samples."""
    note = "one value per sample, so the cosine is taken across samples"
    if reference.shape[0] < 2:
        note = ("one value in one sample, so the cosine only compares signs; judge it by the "
                "absolute and relative error")
    reference_norm = float(np.linalg.norm(reference))
    candidate_norm = float(np.linalg.norm(candidate))
    if reference_norm == 0.0 or candidate_norm == 0.0:
        both_zero = reference_norm == candidate_norm
        return (1.0 if both_zero else 0.0), note + ", and one side is all zeros"
    cosine = float(np.dot(reference, candidate)) / (reference_norm * candidate_norm)
    return max(-1.0, min(1.0, cosine)), note
