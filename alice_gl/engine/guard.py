"""The accuracy guard: turn an output similarity into a verdict.

With the default thresholds the verdict is ``ok`` for a similarity of 0.98 or more, ``warn``
from 0.95 up to 0.98, and ``fail`` below 0.95. NaN always fails.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


class Verdict(str, enum.Enum):
    """Outcome of the accuracy guard; the value is the lower-case name used in reports."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class GuardDecision:
    """A verdict with the similarity and thresholds that produced it, and a one-line message."""

    verdict: Verdict
    similarity: float
    fallback_threshold: float
    warn_threshold: float
    message: str

    @property
    def passed(self) -> bool:
        """True for ``ok`` and ``warn``: the INT8 model may be served."""
        return self.verdict is not Verdict.FAIL


def judge(similarity: float, *, fallback_threshold: float,
          warn_threshold: float) -> GuardDecision:
    """Return the verdict for ``similarity`` (a minimum cosine, at most 1).

    ``ok`` when ``similarity >= warn_threshold``, ``warn`` when ``fallback_threshold <=
    similarity < warn_threshold``, ``fail`` below ``fallback_threshold`` or for NaN.
    """
    if math.isnan(similarity) or similarity < fallback_threshold:
        return GuardDecision(Verdict.FAIL, similarity, fallback_threshold, warn_threshold,
                             similarity_too_low_message(similarity, fallback_threshold))
    if similarity < warn_threshold:
        shown_similarity, shown_threshold = _format_pair(similarity, warn_threshold)
        message = (f"similarity {shown_similarity} is below the warning threshold "
                   f"{shown_threshold}")
        return GuardDecision(Verdict.WARN, similarity, fallback_threshold, warn_threshold,
                             message)
    return GuardDecision(Verdict.OK, similarity, fallback_threshold, warn_threshold,
                         f"similarity {similarity:.4f} passes the accuracy guard")


def similarity_too_low_message(similarity: float, threshold: float) -> str:
    """Return ``similarity too low (0.92 < 0.95)``, the failure text of the guard.

    Both numbers have two decimals, or as many as the threshold needs to print as given (up to
    6, so 0.9999 prints as 0.9999 and not 1.00). When that many decimals would print them equal
    (0.9496 and 0.95), both get the fewest extra decimals that tell them apart.
    """
    decimals = next((places for places in range(2, 6)
                     if float(f"{threshold:.{places}f}") == threshold), 6)
    for places in range(decimals, 10):
        shown_similarity, shown_threshold = f"{similarity:.{places}f}", f"{threshold:.{places}f}"
        if shown_similarity != shown_threshold:
            break
    return f"similarity too low ({shown_similarity} < {shown_threshold})"


def _format_pair(value: float, limit: float) -> tuple[str, str]:
    """Format ``value`` and ``limit`` with 2 decimals, or more where 2 would print them equal."""
    for decimals in range(2, 10):
        shown_value, shown_limit = f"{value:.{decimals}f}", f"{limit:.{decimals}f}"
        if shown_value != shown_limit:
            break
    return shown_value, shown_limit
