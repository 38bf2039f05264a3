"""Calibration-data loaders: every accepted format, the sample cap, and every bad input."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from calib_models import single_input_model, two_input_model

from alice_gl.calibration import load_calibration_data
from alice_gl.errors import CalibrationDataError


def _collect(data, batch_size=64):
    batches = list(data.batches(batch_size))
    names = batches[0].keys()
    return batches, {name: np.concatenate([batch[name] for batch in batches]) for name in names}


@pytest.fixture
def model():
    return single_input_model()


@pytest.fixture
def samples(rng):
    return rng.normal(size=(50, 4)).astype(np.float32)


def test_calib_npz_single_input(tmp_path, model, samples):
    path = tmp_path / "data.npz"
    np.savez(path, x=samples)
    data = load_calibration_data(path, model)
    batches, joined = _collect(data, batch_size=16)
    assert data.num_samples == 50
    assert [len(batch["x"]) for batch in batches] == [16, 16, 16, 2]
    np.testing.assert_array_equal(joined["x"], samples)


def test_calib_npz_two_inputs(tmp_path, rng):
    a = rng.normal(size=(10, 4)).astype(np.float32)
    b = rng.integers(0, 5, size=(10, 2)).astype(np.int64)
    path = tmp_path / "data.npz"
    np.savez_compressed(path, a=a, b=b)
    _, joined = _collect(load_calibration_data(str(path), two_input_model()), batch_size=3)
    np.testing.assert_array_equal(joined["a"], a)
    np.testing.assert_array_equal(joined["b"], b)
    assert joined["b"].dtype == np.int64


def test_calib_npy_single_input(tmp_path, model, samples):
    path = tmp_path / "data.npy"
    np.save(path, samples)
    _, joined = _collect(load_calibration_data(path, model))
    np.testing.assert_array_equal(joined["x"], samples)


def test_calib_directory_spans_files(tmp_path, model, samples):
    np.save(tmp_path / "part_0.npy", samples[:7])
    np.savez(tmp_path / "part_1.npz", x=samples[7:20])
    np.save(tmp_path / "part_2.npy", samples[20:])
    (tmp_path / "README.txt").write_text("not data")
    data = load_calibration_data(tmp_path, model)
    batches, joined = _collect(data, batch_size=8)
    assert data.num_samples == 50
    assert [len(batch["x"]) for batch in batches] == [8, 8, 8, 8, 8, 8, 2]
    np.testing.assert_array_equal(joined["x"], samples)


def test_calib_directory_two_inputs(tmp_path, rng):
    a = rng.normal(size=(6, 4)).astype(np.float32)
    b = rng.integers(0, 5, size=(6, 2))
    np.savez(tmp_path / "first.npz", a=a[:4], b=b[:4])
    np.savez(tmp_path / "second.npz", a=a[4:], b=b[4:])
    _, joined = _collect(load_calibration_data(tmp_path, two_input_model()))
    np.testing.assert_array_equal(joined["a"], a)
    np.testing.assert_array_equal(joined["b"], b)


def test_calib_json_object(tmp_path):
    document = {"a": [[0.5, 1, 2, 3], [4, 5, 6, 7.25]], "b": [[1, 2], [3, 4]]}
    path = tmp_path / "data.json"
    path.write_text(json.dumps(document))
    _, joined = _collect(load_calibration_data(path, two_input_model()))
    np.testing.assert_array_equal(joined["a"], np.array(document["a"], np.float32))
    np.testing.assert_array_equal(joined["b"], np.array(document["b"], np.int64))
    assert joined["a"].dtype == np.float32


def test_calib_json_plain_list(tmp_path, model):
    samples = [[1, 2, 3, 4], [0.5, 0.25, 0.0, -1.0], [9, 8, 7, 6]]
    path = tmp_path / "data.json"
    path.write_text(json.dumps(samples))
    _, joined = _collect(load_calibration_data(path, model))
    np.testing.assert_array_equal(joined["x"], np.array(samples, np.float32))


def test_calib_in_memory_sources(model, samples):
    for source in (samples, {"x": samples}, samples.astype(np.float64)):
        _, joined = _collect(load_calibration_data(source, model))
        assert joined["x"].dtype == np.float32
        np.testing.assert_array_equal(joined["x"], samples)


def test_calib_samples_cap(tmp_path, model, samples):
    np.save(tmp_path / "a.npy", samples[:30])
    np.save(tmp_path / "b.npy", samples[30:])
    data = load_calibration_data(tmp_path, model, samples=35)
    _, joined = _collect(data, batch_size=16)
    assert data.num_samples == 35
    np.testing.assert_array_equal(joined["x"], samples[:35])


def test_calib_fixed_batch_dimension(model, samples, caplog):
    fixed = single_input_model(batch=4)
    with caplog.at_level(logging.WARNING):
        data = load_calibration_data(samples[:10], fixed)
    batches, joined = _collect(data, batch_size=64)
    assert data.num_samples == 8
    assert [len(batch["x"]) for batch in batches] == [4, 4]
    np.testing.assert_array_equal(joined["x"], samples[:8])
    assert "fixed at 4" in caplog.text


# Bad input: each case must name the input and, for data mismatches, the expected shape.

def _raises(match, source, model, **kwargs):
    with pytest.raises(CalibrationDataError, match=match):
        load_calibration_data(source, model, **kwargs)


def test_calib_npz_missing_input(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, a=np.zeros((2, 4), np.float32))
    _raises(r"missing input\(s\) 'b'.*'b' \[batch, 2\] int64", path, two_input_model())


def test_calib_npz_unknown_name(tmp_path, model):
    path = tmp_path / "data.npz"
    np.savez(path, x=np.zeros((2, 4), np.float32), extra=np.zeros(2))
    _raises(r"unknown name\(s\) 'extra'.*'x' \[batch, 4\] float32", path, model)


def test_calib_wrong_feature_dimension(model):
    _raises(r"Input 'x' in the array has shape \[3, 5\].*\[batch, 4\] float32",
            np.zeros((3, 5), np.float32), model)


def test_calib_wrong_rank(model):
    _raises(r"Input 'x' .* shape \[4\].*\[batch, 4\] float32", np.zeros(4, np.float32), model)


def test_calib_float_data_for_integer_input():
    data = {"a": np.zeros((2, 4), np.float32), "b": np.zeros((2, 2), np.float32)}
    _raises(r"Input 'b' .* dtype float32.*\[batch, 2\] int64", data, two_input_model())


def test_calib_integer_data_for_float_input(model):
    _raises(r"Input 'x' .* dtype int64.*\[batch, 4\] float32", np.zeros((2, 4), np.int64), model)


def test_calib_integer_out_of_range():
    data = {"a": np.zeros((1, 4), np.float32), "b": np.full((1, 2), 2**63 + 5, np.uint64)}
    dataset = load_calibration_data(data, two_input_model())
    with pytest.raises(CalibrationDataError, match=r"Input 'b' .* outside the range of int64"):
        list(dataset.batches())


def test_calib_sample_counts_differ():
    data = {"a": np.zeros((3, 4), np.float32), "b": np.zeros((2, 2), np.int64)}
    _raises(r"different numbers of samples \('a': 3, 'b': 2\)", data, two_input_model())


def test_calib_no_samples(model):
    _raises(r"contains no samples", np.zeros((0, 4), np.float32), model)


def test_calib_npy_for_two_inputs(tmp_path):
    path = tmp_path / "data.npy"
    np.save(path, np.zeros((2, 4), np.float32))
    _raises(r"\.npy file with one array, but the model has 2 inputs \('a' \[batch, 4\] float32",
            path, two_input_model())


def test_calib_array_for_two_inputs():
    _raises(r"the array contains one array, but the model has 2 inputs",
            np.zeros((2, 4), np.float32), two_input_model())


def test_calib_json_list_for_two_inputs(tmp_path):
    path = tmp_path / "data.json"
    path.write_text("[[1, 2, 3, 4]]")
    _raises(r"model has 2 inputs", path, two_input_model())


def test_calib_json_ragged_samples(tmp_path, model):
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"x": [[1, 2, 3, 4], [1, 2]]}))
    _raises(r"Input 'x' .* different shapes.*\[batch, 4\] float32", path, model)


def test_calib_json_wrong_sample_shape(tmp_path, model):
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"x": [[1, 2, 3], [4, 5, 6]]}))
    _raises(r"Input 'x' in .*data.json has shape \[2, 3\].*\[batch, 4\] float32", path, model)


def test_calib_json_not_numbers(tmp_path, model):
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"x": [["a", "b", "c", "d"]]}))
    _raises(r"Input 'x' .* not numbers", path, model)


def test_calib_json_value_not_list(tmp_path, model):
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"x": 3}))
    _raises(r"Input 'x' .* must be a list of samples, got int", path, model)


def test_calib_json_top_level_scalar(tmp_path, model):
    path = tmp_path / "data.json"
    path.write_text("42")
    _raises(r"contains a int; it must contain an object", path, model)


def test_calib_json_invalid_syntax(tmp_path, model):
    path = tmp_path / "data.json"
    path.write_text("{not json")
    _raises(r"Failed to read calibration JSON", path, model)


def test_calib_missing_path(tmp_path, model):
    _raises(r"Calibration data not found: .*absent.npz", tmp_path / "absent.npz", model)


def test_calib_unknown_extension(tmp_path, model):
    path = tmp_path / "data.csv"
    path.write_text("1,2,3,4\n")
    _raises(r"Unknown calibration file type '.csv'", path, model)


def test_calib_empty_directory(tmp_path, model):
    _raises(r"contains no .npy or .npz files", tmp_path, model)


def test_calib_corrupt_npz(tmp_path, model):
    path = tmp_path / "data.npz"
    path.write_bytes(b"this is not a zip archive")
    _raises(r"Failed to read .*data.npz as an .npz archive", path, model)


def test_calib_object_array_npy(tmp_path, model):
    path = tmp_path / "data.npy"
    np.save(path, np.array([[1, 2, 3, 4]], dtype=object), allow_pickle=True)
    _raises(r"Input 'x' .* dtype object.*\[batch, 4\] float32", path, model)


def test_calib_invalid_samples_limit(model, samples):
    for limit in (0, -3, 2.5, True):
        _raises(r"samples must be a positive integer", samples, model, samples=limit)


def test_calib_fixed_batch_too_few_samples(samples):
    _raises(r"a batch needs 4 samples, but only 3 are available", samples[:3],
            single_input_model(batch=4))


def test_calib_model_given_as_path(tmp_path, model, samples):
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    for model_source in (path, str(path), path.read_bytes()):
        data = load_calibration_data(samples, model_source)
        assert [spec.name for spec in data.specs] == ["x"]
        assert data.num_samples == 50
