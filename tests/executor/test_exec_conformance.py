"""ONNX node conformance: every onnx node test case whose operators have kernels must pass.

Expected outputs are compared as onnx's backend test runner does: same shape and dtype, strings
equal, numbers within the case's rtol and atol (rtol 1e-3, atol 1e-7 for node cases).
"""

from __future__ import annotations

import collections
import re

import numpy as np
import onnx
import pytest
from exec_conformance_cases import (
    EXPLICIT_SKIPS,
    all_cases,
    decide,
    missing_kernels,
    runnable_cases,
    session_model,
)
from onnx import numpy_helper

from alice_gl.errors import AliceGLError, UnsupportedOperatorError
from alice_gl.executor import NumpySession


def _as_array(value: object) -> np.ndarray:
    if isinstance(value, onnx.TensorProto):
        return numpy_helper.to_array(value)
    return np.asarray(value)


@pytest.mark.parametrize("case", runnable_cases(), ids=lambda case: case.name)
def test_exec_node_case(case) -> None:
    session = NumpySession(case.model)
    graph = case.model.graph
    for inputs, expected_outputs in case.data_sets:
        feeds = {value.name: _as_array(array)
                 for value, array in zip(graph.input, inputs, strict=True)}
        results = session.run(feeds)
        assert len(results) == len(expected_outputs)
        for value, expected in zip(graph.output, expected_outputs, strict=True):
            expected = _as_array(expected)
            actual = results[value.name]
            assert actual.shape == expected.shape, value.name
            if expected.dtype == object:
                np.testing.assert_array_equal(actual, expected, err_msg=value.name)
                continue
            assert actual.dtype == expected.dtype, value.name
            np.testing.assert_allclose(actual, expected, rtol=case.rtol, atol=case.atol,
                                       err_msg=value.name)


def test_exec_conformance_manifest() -> None:
    """List which cases run and which are skipped and why, and check each skip reason holds."""
    decisions = [decide(case) for case in all_cases()]
    skipped = [decision for decision in decisions if decision.reason is not None]
    ran = [decision for decision in decisions if decision.reason is None]

    print(f"\nONNX node cases: {len(decisions)} collected, {len(ran)} run, "
          f"{len(skipped)} skipped")
    for reason, count in collections.Counter(d.reason for d in skipped).most_common():
        print(f"  {count:4d} skipped: {reason}")
    for decision in skipped:
        print(f"  SKIP {decision.name}: {decision.reason}")

    assert len(ran) + len(skipped) == len(decisions)
    # Every explicit entry still matches a case, so the list cannot go stale silently.
    for pattern, _ in EXPLICIT_SKIPS:
        assert any(re.fullmatch(pattern, decision.name) for decision in decisions), pattern

    # Ops the issue names must not be skipped for lack of a kernel.
    ran_names = {decision.name for decision in ran}
    for name in ("test_conv_with_strides_padding", "test_convtranspose", "test_matmulinteger",
                 "test_dynamicquantizelinear", "test_lstm_defaults", "test_gru_defaults",
                 "test_resize_upsample_scales_linear", "test_if",
                 "test_layer_normalization_2d_axis0"):
        assert name in ran_names, name


def test_exec_skipped_for_kernel_fail_at_load() -> None:
    """A case skipped for a missing kernel raises UnsupportedOperatorError when loaded."""
    for case in all_cases():
        decision = decide(case)
        if decision.reason is None or not decision.reason.startswith("no kernel"):
            continue
        missing = missing_kernels(session_model(case.model))
        try:
            NumpySession(case.model)
        except UnsupportedOperatorError as error:
            for op_type in missing:
                assert op_type in str(error), (case.name, op_type)
        except AliceGLError:
            # The model fails earlier (checker or opset conversion), which also rejects it.
            continue
        else:
            pytest.fail(f"{case.name} loaded although it uses {missing}")


def test_exec_explicit_skips_really_fail() -> None:
    """Each explicitly skipped case is rejected, at load or when run, with an alice_gl error."""
    for case in all_cases():
        decision = decide(case)
        if not decision.explicit:
            continue
        with pytest.raises(AliceGLError):
            session = NumpySession(case.model)
            inputs, _ = case.data_sets[0]
            session.run({value.name: _as_array(array)
                         for value, array in zip(case.model.graph.input, inputs, strict=True)})
