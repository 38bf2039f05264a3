"""Fixtures of the GL executor tests: shared contexts, bundled models and their INT8 forms."""

from __future__ import annotations

from collections.abc import Iterator

import onnx
import pytest

from alice_gl.bundled import BundledModel, load_bundled
from alice_gl.gl import GLContext
from alice_gl.quantization import quantize_dynamic


@pytest.fixture(scope="module")
def webgl2_context() -> Iterator[GLContext]:
    """Return a webgl2-profile context shared by one test module."""
    with GLContext(profile="webgl2") as ctx:
        yield ctx


@pytest.fixture(scope="module")
def gl43_context() -> Iterator[GLContext]:
    """Return a gl43-profile context shared by one test module."""
    with GLContext(profile="gl43") as ctx:
        yield ctx


@pytest.fixture(scope="session")
def mlp_digits() -> BundledModel:
    """Return the bundled MLP and its test split."""
    return load_bundled("mlp_digits")


@pytest.fixture(scope="session")
def cnn_digits() -> BundledModel:
    """Return the bundled CNN and its test split."""
    return load_bundled("cnn_digits")


@pytest.fixture(scope="session")
def int8_models(mlp_digits: BundledModel, cnn_digits: BundledModel) -> dict[str, onnx.ModelProto]:
    """Return the dynamic quantizer's output for both bundled models, keyed by model name."""
    return {bundled.name: quantize_dynamic(str(bundled.model_path))[0]
            for bundled in (mlp_digits, cnn_digits)}


@pytest.fixture(scope="module")
def contexts(webgl2_context: GLContext, gl43_context: GLContext) -> dict[str, GLContext]:
    """Return the context of each pass family: webgl2 for fragment, gl43 for compute passes."""
    return {"fragment": webgl2_context, "compute": gl43_context}
