"""Calibration data: read samples for every model input from files or arrays, batch by batch.

Accepted sources, where a sample is one slice along an input's leading (batch) axis:

- ``.npz``: one array per input, keyed by input name, leading axis = samples.
- ``.npy``: one array, leading axis = samples, for a model with a single input.
- a directory of ``.npy``/``.npz`` files, each laid out as above, read in file-name order.
- ``.json``: an object mapping input names to lists of samples, or a plain list of samples
  for a model with a single input. Each sample is a nested list with the input's shape
  without its leading axis.
- in memory: a ``dict`` of arrays keyed by input name, or one array for a single-input model.

Every source is checked against the model's inputs before any batch is read: missing or extra
names, ranks, fixed dimensions and dtype kinds raise ``CalibrationDataError`` naming the input
and the expected shape. NaN or Inf in floating-point data raises it when the batch is read.
Floating-point data is cast to a floating-point input's dtype and integer data to an integer
input's dtype; any other pairing is an error. ``.npy`` files are memory-mapped, so a single
``.npy`` or a directory of files is read one batch at a time.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from alice_gl.calibration.sources import ArraySource, file_sources
from alice_gl.errors import CalibrationDataError
from alice_gl.model_io import ModelSource, load_model

logger = logging.getLogger(__name__)

DEFAULT_SAMPLES = 2000
DEFAULT_BATCH_SIZE = 64
# The purposes sample data serves; error messages name the data by its purpose.
ROLES = ("calibration", "validation")

CalibrationSource = str | os.PathLike | np.ndarray | Mapping[str, np.ndarray]


@dataclass(frozen=True)
class InputSpec:
    """One graph input: its name, shape (None for a symbolic or unknown dimension) and dtype."""

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype

    def describe(self) -> str:
        """Return the shape as text, such as ``[batch, 1, 8, 8] float32``."""
        dims = []
        for index, dim in enumerate(self.shape):
            if dim is not None:
                dims.append(str(dim))
            elif index == 0:
                dims.append("batch")
            else:
                dims.append("?")
        return f"[{', '.join(dims)}] {self.dtype}"


def model_input_specs(model: onnx.ModelProto) -> list[InputSpec]:
    """Return the graph inputs of ``model`` that are not initializers (which need no data)."""
    initializers = {tensor.name for tensor in model.graph.initializer}
    specs = []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        tensor_type = value.type.tensor_type
        shape = tuple(dim.dim_value if dim.HasField("dim_value") else None
                      for dim in tensor_type.shape.dim)
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tensor_type.elem_type))
        if not shape:
            raise CalibrationDataError(
                f"Input {value.name!r} has rank 0 (or no shape); calibration needs inputs with "
                f"a leading batch axis.")
        specs.append(InputSpec(name=value.name, shape=shape, dtype=dtype))
    return specs


class CalibrationData:
    """Checked calibration samples for every model input, read in batches.

    ``num_samples`` is the number of samples that ``batches`` yields: the samples available,
    capped by the ``samples`` limit and, for an input whose leading dimension is fixed at
    ``n``, rounded down to a multiple of ``n``.
    """

    def __init__(self, specs: list[InputSpec], sources: list[ArraySource], samples: int,
                 role: str = "calibration") -> None:
        self.specs = specs
        self._sources = sources
        available = sum(source.num_samples for source in sources)
        self.num_samples = min(available, samples)
        fixed_specs = [spec for spec in specs if spec.shape[0] is not None]
        fixed = fixed_specs[0].shape[0] if fixed_specs else None
        if any(spec.shape[0] != fixed for spec in fixed_specs):
            listed = ", ".join(f"{spec.name!r} {spec.describe()}" for spec in fixed_specs)
            raise CalibrationDataError(f"The model's inputs fix different batch sizes ({listed}), "
                                       f"so no batch fits them all.")
        if fixed is not None:
            usable = self.num_samples - self.num_samples % fixed
            if usable == 0:
                spec = fixed_specs[0]
                raise CalibrationDataError(
                    f"Input {spec.name!r} expects {spec.describe()}, so a batch needs "
                    f"{fixed} samples, but only {self.num_samples} are available.")
            if usable != self.num_samples:
                logger.warning("Using %d of %d %s samples: the model's batch dimension is fixed "
                               "at %d.", usable, self.num_samples, role, fixed)
            self.num_samples = usable
        self._fixed_batch = fixed

    def batches(self, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[dict[str, np.ndarray]]:
        """Yield dicts of input name to array, ``batch_size`` samples each (the last may be
        smaller). A model with a fixed batch dimension ``n`` gets batches of exactly ``n``."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        size = self._fixed_batch or batch_size
        pending: list[dict[str, np.ndarray]] = []
        pending_count = 0
        remaining = self.num_samples
        for source in self._sources:
            for chunk in source.chunks(size):
                take = min(remaining, len(next(iter(chunk.values()))))
                pending.append({name: array[:take] for name, array in chunk.items()})
                pending_count += take
                remaining -= take
                while pending_count >= size:
                    batch, pending, pending_count = _split_pending(pending, size)
                    yield self._convert(batch)
                if remaining == 0:
                    break
            if remaining == 0:
                break
        if pending_count:
            batch, _, _ = _split_pending(pending, pending_count)
            yield self._convert(batch)

    def _convert(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {spec.name: np.ascontiguousarray(batch[spec.name], dtype=spec.dtype)
                for spec in self.specs}


def _split_pending(pending: list[dict[str, np.ndarray]], size: int
                   ) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]], int]:
    """Take the first ``size`` samples out of the ``pending`` chunks."""
    names = list(pending[0])
    joined = {name: np.concatenate([chunk[name] for chunk in pending]) for name in names}
    batch = {name: array[:size] for name, array in joined.items()}
    rest = {name: array[size:] for name, array in joined.items()}
    count = len(rest[names[0]])
    return batch, ([rest] if count else []), count


def load_calibration_data(source: CalibrationSource, model: ModelSource, *,
                          samples: int = DEFAULT_SAMPLES,
                          role: str = "calibration") -> CalibrationData:
    """Open ``source`` (see the module docstring) and check it against ``model``'s inputs.

    ``model`` is a path, serialized bytes or a ``ModelProto`` (never modified). ``samples``
    caps how many samples are used (at least 1). ``role`` is ``calibration`` or ``validation``,
    the word that error messages use for the data. Raises ``CalibrationDataError`` when a file
    is missing, unreadable or in an unknown format, or when the data does not match the inputs.
    ``batches`` raises it when floating-point data contains NaN or Inf.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}.")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise CalibrationDataError(f"samples must be a positive integer, got {samples!r}.")
    if not isinstance(model, onnx.ModelProto):
        model = load_model(model, infer_shapes=False)
    specs = model_input_specs(model)
    if not specs:
        raise CalibrationDataError("The model has no graph inputs to calibrate with.")

    if isinstance(source, np.ndarray):
        sources = [ArraySource.from_arrays(_single_input_dict(source, specs, "the array"),
                                           specs, "the array", role)]
    elif isinstance(source, Mapping):
        sources = [ArraySource.from_arrays(dict(source), specs, "the dict", role)]
    else:
        path = Path(os.fspath(source))
        if path.suffix.lower() == ".json" and path.is_file():
            sources = [_json_source(path, specs, role)]
        else:
            sources = file_sources(path, specs, role)
    return CalibrationData(specs, sources, samples, role)


def _single_input_dict(array: np.ndarray, specs: list[InputSpec],
                       origin: str) -> dict[str, np.ndarray]:
    if len(specs) != 1:
        names = ", ".join(f"{spec.name!r} {spec.describe()}" for spec in specs)
        raise CalibrationDataError(
            f"{origin} contains one array, but the model has {len(specs)} inputs ({names}); pass "
            f"a dict or an .npz keyed by input name.")
    return {specs[0].name: array}


def _json_source(path: Path, specs: list[InputSpec], role: str) -> ArraySource:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CalibrationDataError(f"Failed to read {role} JSON {path}: {error}.") from error
    if isinstance(document, list):
        document = _single_input_dict(document, specs, str(path))
    if not isinstance(document, dict):
        raise CalibrationDataError(
            f"{role.capitalize()} JSON {path} contains a {type(document).__name__}; it must "
            f"contain an object mapping input names to lists of samples, or a list of samples.")

    arrays = {}
    for name, samples in document.items():
        spec = next((spec for spec in specs if spec.name == name), None)
        if not isinstance(samples, list):
            raise CalibrationDataError(
                f"Input {name!r} in {path} must be a list of samples, got "
                f"{type(samples).__name__}.")
        arrays[name] = _json_array(samples, spec, name, path)
    return ArraySource.from_arrays(arrays, specs, str(path), role)


def _json_array(samples: list, spec: InputSpec | None, name: str, path: Path) -> np.ndarray:
    """Convert the list of samples of one input; values must fit the input's dtype kind."""
    try:
        array = np.array(samples)
    except ValueError as error:  # ragged nested lists
        expected = spec.describe() if spec else "the input's shape"
        raise CalibrationDataError(
            f"Input {name!r} in {path} has samples of different shapes; every sample must have "
            f"the shape {expected} without its leading axis.") from error
    if array.dtype == object or array.dtype.kind in "USV":
        raise CalibrationDataError(
            f"Input {name!r} in {path} contains values that are not numbers; use nested lists "
            f"of numbers.")
    if spec is not None and spec.dtype.kind == "f" and array.dtype.kind in "iu":
        array = array.astype(spec.dtype)  # JSON writes the float 1.0 as the integer 1
    return array
