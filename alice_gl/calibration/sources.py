"""Array sources behind ``CalibrationData``: checked headers first, array data on demand.

An ``ArraySource`` is one file or one in-memory set of arrays, with the shape and dtype of
every input known before any data is read (from ``.npy`` headers for files), so a mismatch
is reported before calibration starts. ``role`` (``calibration`` or ``validation``) names the
purpose of the data in every error message.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from alice_gl.errors import CalibrationDataError

if TYPE_CHECKING:
    from alice_gl.calibration.loaders import InputSpec

logger = logging.getLogger(__name__)

ArrayHeader = tuple[tuple[int, ...], np.dtype]
# dtype kinds that may be cast into each other: floating, integer (signed or not), boolean.
_COMPATIBLE_KINDS = {"f": "f", "i": "iu", "u": "iu", "b": "b"}


class ArraySource:
    """Samples of every input from one origin (a file, or arrays the caller passed)."""

    def __init__(self, origin: str, headers: Mapping[str, ArrayHeader],
                 open_arrays: Callable[[], Mapping[str, np.ndarray]],
                 specs: list[InputSpec], role: str = "calibration") -> None:
        self.origin = origin
        self.role = role
        self.num_samples = check_headers(headers, specs, origin, role)
        self._open_arrays = open_arrays
        self._specs = specs

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], specs: list[InputSpec],
                    origin: str, role: str = "calibration") -> ArraySource:
        """Wrap in-memory arrays (converted with ``np.asarray``) keyed by input name."""
        arrays = {name: np.asarray(array) for name, array in arrays.items()}
        headers = {name: (array.shape, array.dtype) for name, array in arrays.items()}
        return cls(origin, headers, lambda: arrays, specs, role)

    def chunks(self, size: int) -> Iterator[dict[str, np.ndarray]]:
        """Yield consecutive slices of ``size`` samples (the last may be smaller).

        Raises ``CalibrationDataError`` when floating-point data contains NaN or Inf.
        """
        arrays = _read(self._open_arrays, self.origin, self.role)
        for start in range(0, self.num_samples, size):
            chunk = {}
            for spec in self._specs:
                values = np.asarray(arrays[spec.name][start:start + size])
                _check_finite(values, spec, self.origin, self.role, start)
                chunk[spec.name] = _cast(values, spec, self.origin)
            yield chunk


def check_headers(headers: Mapping[str, ArrayHeader], specs: list[InputSpec],
                  origin: str, role: str = "calibration") -> int:
    """Check names, shapes and dtypes against ``specs``; return the number of samples."""
    expected = {spec.name: spec for spec in specs}
    missing = [name for name in expected if name not in headers]
    extra = [name for name in headers if name not in expected]
    if missing or extra:
        expected_inputs = ", ".join(f"{spec.name!r} {spec.describe()}" for spec in specs)
        problems = []
        if missing:
            problems.append(f"missing input(s) {', '.join(map(repr, missing))}")
        if extra:
            problems.append(f"unknown name(s) {', '.join(map(repr, extra))}")
        raise CalibrationDataError(
            f"{role.capitalize()} data in {origin} has {' and '.join(problems)}; the model "
            f"expects {expected_inputs}.")

    counts = {}
    for spec in specs:
        shape, dtype = headers[spec.name]
        _check_shape(spec, tuple(shape), origin)
        _check_dtype(spec, np.dtype(dtype), origin)
        counts[spec.name] = shape[0]
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{name!r}: {count}" for name, count in counts.items())
        raise CalibrationDataError(
            f"Inputs in {origin} have different numbers of samples ({listed}); every input needs "
            f"the same number along its leading axis.")
    num_samples = next(iter(counts.values()))
    if num_samples == 0:
        raise CalibrationDataError(f"{role.capitalize()} data in {origin} contains no samples.")
    return num_samples


def _check_shape(spec: InputSpec, shape: tuple[int, ...], origin: str) -> None:
    expected_rank = len(spec.shape)
    fixed_ok = all(expected is None or actual == expected
                   for actual, expected in zip(shape[1:], spec.shape[1:], strict=False))
    if len(shape) != expected_rank or not fixed_ok:
        raise CalibrationDataError(
            f"Input {spec.name!r} in {origin} has shape {list(shape)}, but the model expects "
            f"{spec.describe()} with samples along the leading axis.")


def _check_dtype(spec: InputSpec, dtype: np.dtype, origin: str) -> None:
    if dtype.kind not in _COMPATIBLE_KINDS.get(spec.dtype.kind, spec.dtype.kind):
        raise CalibrationDataError(
            f"Input {spec.name!r} in {origin} has dtype {dtype}, but the model expects "
            f"{spec.describe()}; convert the data to {spec.dtype}.")


def _check_finite(values: np.ndarray, spec: InputSpec, origin: str, role: str,
                  first_sample: int) -> None:
    """Raise naming the first sample with NaN or Inf; ``values`` starts at ``first_sample``."""
    if values.dtype.kind != "f":
        return
    finite = np.isfinite(values).reshape(len(values), -1).all(axis=1)
    if finite.all():
        return
    sample = first_sample + int(np.argmin(finite))
    raise CalibrationDataError(
        f"Input {spec.name!r} in {origin} contains NaN or Inf (first in sample {sample}, counted "
        f"from 0), but {role} samples must be finite. Replace or drop those samples.")


def _cast(values: np.ndarray, spec: InputSpec, origin: str) -> np.ndarray:
    converted = values.astype(spec.dtype, copy=False)
    if spec.dtype.kind in "iu" and not np.array_equal(converted, values):
        raise CalibrationDataError(
            f"Input {spec.name!r} in {origin} has values outside the range of {spec.dtype}.")
    return converted


def _read(open_arrays: Callable[[], Mapping[str, np.ndarray]], origin: str,
          role: str) -> Mapping[str, np.ndarray]:
    try:
        return open_arrays()
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise CalibrationDataError(f"Failed to read {role} data {origin}: {error}.") from error


def file_sources(path: Path, specs: list[InputSpec],
                 role: str = "calibration") -> list[ArraySource]:
    """Return the sources of an ``.npy`` or ``.npz`` file, or of a directory of them."""
    if path.is_dir():
        files = sorted(child for child in path.iterdir()
                       if child.is_file() and child.suffix.lower() in (".npy", ".npz"))
        if not files:
            raise CalibrationDataError(f"{role.capitalize()} directory {path} contains no .npy or "
                                       f".npz files.")
        return [_file_source(file, specs, role) for file in files]
    if not path.is_file():
        raise CalibrationDataError(
            f"{role.capitalize()} data not found: {path}. Pass an .npz, .npy or .json file, or a "
            f"directory of .npy/.npz files.")
    return [_file_source(path, specs, role)]


def _file_source(path: Path, specs: list[InputSpec], role: str) -> ArraySource:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        if len(specs) != 1:
            names = ", ".join(f"{spec.name!r} {spec.describe()}" for spec in specs)
            raise CalibrationDataError(
                f"{path} is an .npy file with one array, but the model has {len(specs)} inputs "
                f"({names}); use an .npz keyed by input name.")
        header = _npy_header(path)
        return ArraySource(str(path), {specs[0].name: header},
                           lambda: {specs[0].name: np.load(path, mmap_mode="r")}, specs, role)
    if suffix == ".npz":
        return ArraySource(str(path), _npz_headers(path), lambda: _load_npz(path), specs, role)
    raise CalibrationDataError(
        f"Unknown {role} file type {path.suffix!r} for {path}; use .npz, .npy, .json or "
        f"a directory of .npy/.npz files.")


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` once; an archive cannot be memory-mapped."""
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}


def _npy_header(path: Path) -> ArrayHeader:
    try:
        with path.open("rb") as stream:
            return _read_header(stream)
    except (OSError, ValueError) as error:
        raise CalibrationDataError(f"Failed to read the .npy header of {path}: {error}."
                                   ) from error


def _npz_headers(path: Path) -> dict[str, ArrayHeader]:
    """Return the shape and dtype of every array in an ``.npz`` without reading its data."""
    headers = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member.endswith(".npy"):
                    with archive.open(member) as stream:
                        headers[member[:-len(".npy")]] = _read_header(stream)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise CalibrationDataError(f"Failed to read {path} as an .npz archive: {error}."
                                   ) from error
    return headers


def _read_header(stream: IO[bytes]) -> ArrayHeader:
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    return shape, dtype
