"""Check the bundled models against onnx.checker, onnxruntime and their models.json entries."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime
import pytest

from alice_gl.bundled import BundledModel, bundled_names, load_bundled
from alice_gl.errors import InvalidInputError
from alice_gl.model_io import load_model
from alice_gl.resources import data_path

# Upper bounds that keep the package small. The models are about 505 KB and 911 KB.
MAX_FILE_BYTES = {
    "mlp_digits.onnx": 600_000,
    "cnn_digits.onnx": 1_000_000,
    "digits_test.npz": 200_000,
}
MIN_FP32_ACCURACY = 0.95
NUM_CLASSES = 10


def _manifest() -> dict[str, dict]:
    return json.loads(data_path("models.json").read_text(encoding="utf-8"))


def _run_onnxruntime(bundled: BundledModel) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(bundled.model_path),
                                           providers=["CPUExecutionProvider"])
    (scores,) = session.run([bundled.score_output], {bundled.input_name: bundled.test_inputs})
    return scores


def test_bundled_names_lists_both_models():
    assert bundled_names() == ["cnn_digits", "mlp_digits"]


@pytest.mark.parametrize("name", bundled_names())
def test_bundled_model_passes_checker(name):
    bundled = load_bundled(name)

    onnx.checker.check_model(str(bundled.model_path), full_check=True)
    model = load_model(bundled.model_path)

    assert model.graph.input[0].name == bundled.input_name
    assert bundled.score_output in [output.name for output in model.graph.output]


@pytest.mark.parametrize("name", bundled_names())
def test_bundled_accuracy_matches_manifest(name):
    bundled = load_bundled(name)

    scores = _run_onnxruntime(bundled)
    accuracy = float(np.mean(np.argmax(scores, axis=1) == bundled.test_labels))

    assert scores.shape == (len(bundled.test_labels), NUM_CLASSES)
    assert accuracy == bundled.fp32_test_accuracy
    assert accuracy >= MIN_FP32_ACCURACY


@pytest.mark.parametrize("name", bundled_names())
def test_bundled_inputs_match_model_input(name):
    bundled = load_bundled(name)
    model = onnx.load(str(bundled.model_path))
    dims = model.graph.input[0].type.tensor_type.shape.dim

    assert dims[0].dim_param == "batch"
    assert list(bundled.test_inputs.shape[1:]) == [dim.dim_value for dim in dims[1:]]
    assert bundled.test_inputs.dtype == np.float32
    assert bundled.test_labels.dtype == np.int64
    assert bundled.test_labels.shape == (len(bundled.test_inputs),)
    assert bundled.test_inputs.min() >= 0.0
    assert bundled.test_inputs.max() <= 1.0


def test_bundled_models_share_test_split():
    mlp = load_bundled("mlp_digits")
    cnn = load_bundled("cnn_digits")

    np.testing.assert_array_equal(mlp.test_labels, cnn.test_labels)
    np.testing.assert_array_equal(mlp.test_inputs.reshape(-1, 1, 8, 8), cnn.test_inputs)


@pytest.mark.parametrize("name", bundled_names())
def test_manifest_entry_matches_file(name):
    entry = _manifest()[name]
    path = data_path(entry["file"])
    model = onnx.load(str(path))
    graph_input = model.graph.input[0]
    shape = [dim.dim_param or dim.dim_value for dim in graph_input.type.tensor_type.shape.dim]

    assert entry["input_name"] == graph_input.name
    assert entry["input_shape"] == shape
    assert entry["operators"] == sorted({node.op_type for node in model.graph.node})
    assert entry["output_names"] == [output.name for output in model.graph.output]
    assert entry["size_bytes"] == path.stat().st_size


def test_mlp_needs_no_ml_domain():
    model = onnx.load(str(load_bundled("mlp_digits").model_path))

    assert {node.domain for node in model.graph.node} == {""}
    assert [entry.domain for entry in model.opset_import] == [""]


def test_cnn_keeps_batchnorm_and_depthwise_conv():
    model = onnx.load(str(load_bundled("cnn_digits").model_path))
    op_types = [node.op_type for node in model.graph.node]
    groups = [attribute.i for node in model.graph.node if node.op_type == "Conv"
              for attribute in node.attribute if attribute.name == "group"]

    assert op_types.count("BatchNormalization") == 5
    assert groups == [1, 32, 1, 1, 1]


@pytest.mark.parametrize("file_name", sorted(MAX_FILE_BYTES))
def test_bundled_file_sizes_stay_small(file_name):
    assert data_path(file_name).stat().st_size <= MAX_FILE_BYTES[file_name]


def test_load_bundled_unknown_name_lists_choices():
    with pytest.raises(InvalidInputError) as raised:
        load_bundled("resnet50")

    message = str(raised.value)
    assert "resnet50" in message
    assert "mlp_digits" in message
    assert "cnn_digits" in message
