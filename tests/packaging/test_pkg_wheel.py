"""Build a non-editable wheel of the repository and check it carries every shader and data file.

The source tree is copied to a temporary folder first, so the build's ``build/`` and
``*.egg-info`` folders never land in the working tree. The expected file lists come from that
copy, so files that change in the working tree during the test cannot make it fail. The
installed copy is imported in a subprocess whose ``PYTHONPATH`` puts it ahead of the editable
install.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# Top-level folders that hold environments, build outputs or benchmark records, never sources.
TOP_LEVEL_IGNORE = {".git", ".venv", "build", "dist", ".gl", ".whl", ".pytest_cache",
                    ".ruff_cache"}
CACHE_IGNORE = shutil.ignore_patterns("__pycache__", "*.egg-info", ".pytest_cache")
PIP_TIMEOUT_S = 300
# Reads every shader and the bundled manifest through the installed package, prints JSON.
PROBE_SCRIPT = """
import json, sys
import alice_gl
from alice_gl.bundled import load_bundled
from alice_gl.resources import data_path, read_shader
names = sys.argv[1:]
print(json.dumps({
    "package_file": alice_gl.__file__,
    "manifest_path": str(data_path("models.json")),
    "model_path": str(load_bundled().model_path),
    "shaders": {name: read_shader(name) for name in names},
}))
"""


def _ignore_non_sources(folder: str, names: list[str]) -> set[str]:
    ignored = set(CACHE_IGNORE(folder, names))
    if Path(folder) == REPO_ROOT:
        ignored |= TOP_LEVEL_IGNORE.intersection(names)
    if Path(folder) == REPO_ROOT / "bench":
        ignored |= {"results"}.intersection(names)
    return ignored


def _package_files(folder: Path) -> list[str]:
    """Return the paths of the files under ``folder`` relative to it, skipping caches."""
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*")
                  if path.is_file() and "__pycache__" not in path.parts
                  and not path.name.startswith("."))


def _pip(*args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True,
                            text=True, timeout=PIP_TIMEOUT_S, check=False)
    assert result.returncode == 0, f"pip {' '.join(args)} failed:\n{result.stderr}"


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory) -> Path:
    """Return a copy of the repository's current sources, without environments or caches."""
    source = tmp_path_factory.mktemp("wheel_source") / "alice-gl"
    shutil.copytree(REPO_ROOT, source, ignore=_ignore_non_sources)
    return source


@pytest.fixture(scope="module")
def wheel_path(source_copy, tmp_path_factory) -> Path:
    """Return the path of a wheel built with ``pip wheel --no-deps`` from ``source_copy``."""
    wheel_dir = tmp_path_factory.mktemp("wheel_dist")
    # An absolute path, so pip never mistakes the folder name for a package on an index.
    _pip("wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheel_dir), str(source_copy))
    (wheel,) = wheel_dir.glob("alice_gl-*.whl")
    return wheel


@pytest.fixture(scope="module")
def install_dir(wheel_path, tmp_path_factory) -> Path:
    """Return a folder that the wheel was installed into with ``pip install --target``."""
    target = tmp_path_factory.mktemp("wheel_install")
    _pip("install", "--no-deps", "--quiet", "--target", str(target), str(wheel_path))
    return target


def test_wheel_lists_every_shader(source_copy, wheel_path):
    with zipfile.ZipFile(wheel_path) as wheel:
        names = set(wheel.namelist())

    for relative in _package_files(source_copy / "shaders"):
        assert f"alice_gl/shaders/{relative}" in names


def test_wheel_lists_every_data_file(source_copy, wheel_path):
    data_files = _package_files(source_copy / "alice_gl" / "data")
    with zipfile.ZipFile(wheel_path) as wheel:
        names = set(wheel.namelist())

    assert "models.json" in data_files
    for relative in data_files:
        assert f"alice_gl/data/{relative}" in names


def test_installed_wheel_reads_shaders_and_data(source_copy, install_dir):
    shader_names = _package_files(source_copy / "shaders")
    environment = {**os.environ, "PYTHONPATH": str(install_dir)}
    result = subprocess.run([sys.executable, "-c", PROBE_SCRIPT, *shader_names],
                            capture_output=True, text=True, env=environment, cwd=install_dir,
                            timeout=PIP_TIMEOUT_S, check=False)
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)

    assert Path(probe["package_file"]).is_relative_to(install_dir)
    assert Path(probe["manifest_path"]).is_relative_to(install_dir)
    model_path = Path(probe["model_path"])
    assert model_path.is_relative_to(install_dir)
    expected_model = source_copy / "alice_gl" / "data" / model_path.name
    assert model_path.read_bytes() == expected_model.read_bytes()
    for name in shader_names:
        expected = (source_copy / "shaders" / name).read_text(encoding="utf-8")
        assert probe["shaders"][name] == expected
