"""Locate files that ship with alice_gl: shader sources and the bundled models and data."""

from __future__ import annotations

import importlib.resources
from importlib.resources.abc import Traversable
from pathlib import Path


def shader_dir() -> Traversable:
    """Return the folder of GLSL sources (the repository's ``shaders/``).

    An installed wheel carries it as the package ``alice_gl.shaders``. An editable install or a
    source checkout does not map that package, so the folder next to ``alice_gl/`` is used.
    """
    try:
        return importlib.resources.files("alice_gl.shaders")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "shaders"


def read_shader(name: str) -> str:
    """Return the source text of the shader file ``name`` (for example ``dequant_matmul.frag``)."""
    source = shader_dir() / name
    if not source.is_file():
        raise FileNotFoundError(f"Shader file not found: {name} in {shader_dir()}")
    return source.read_text(encoding="utf-8")


def data_path(name: str) -> Path:
    """Return the path of a bundled data file in ``alice_gl/data`` (a model or an .npz split)."""
    return Path(str(importlib.resources.files("alice_gl.data") / name))
