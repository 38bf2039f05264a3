"""Map the top-level ``shaders/`` folder into the wheel as ``alice_gl.shaders``.

pyproject.toml cannot combine package discovery with a package that lives outside the
``alice_gl/`` tree, so this file adds that one mapping. All other metadata is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["alice_gl", "alice_gl.*"]), "alice_gl.shaders"],
    package_dir={"alice_gl.shaders": "shaders"},
)
