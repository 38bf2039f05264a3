"""Fixtures shared by every test area."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """Return a NumPy generator with a fixed seed, so failures reproduce."""
    return np.random.default_rng(20261204)
