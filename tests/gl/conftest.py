"""Fixtures of the GL runtime tests: one headless context per test and profile."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alice_gl.gl import GLContext


@pytest.fixture
def webgl2_ctx() -> Iterator[GLContext]:
    """Return a webgl2-profile context (texture side 4096), closed after the test."""
    with GLContext(profile="webgl2") as ctx:
        yield ctx


@pytest.fixture
def gl43_ctx() -> Iterator[GLContext]:
    """Return a gl43-profile context (compute allowed), closed after the test."""
    with GLContext(profile="gl43") as ctx:
        yield ctx
