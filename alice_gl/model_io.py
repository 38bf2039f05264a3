"""Load, check and save ONNX models without touching the caller's copy or files.

Every public entry point takes a path, the serialized bytes, or an ``onnx.ModelProto``, and
returns a private copy that has passed ``onnx.checker`` and shape inference, with its default
domain at opset ``MIN_OPSET`` or newer. Saving writes to a temporary file in the target folder
and renames it into place, so a crash never leaves a half-written model.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from pathlib import Path

import onnx
from onnx import version_converter

from alice_gl.errors import InvalidModelError

logger = logging.getLogger(__name__)

ModelSource = str | os.PathLike | bytes | onnx.ModelProto

MIN_OPSET = 10
CONVERSION_TARGET_OPSET = 13
# Protobuf refuses to serialize a message of 2 GiB or more; stay clear of it.
PROTOBUF_LIMIT_BYTES = 2**31 - 1
EXTERNAL_DATA_MARGIN_BYTES = 64 * 2**20


def default_opset(model: onnx.ModelProto) -> int:
    """Return the opset version of the default ONNX domain ("" or "ai.onnx")."""
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return entry.version
    raise InvalidModelError("The model imports no opset for the default ONNX domain; "
                            "add an opset_import entry with domain ''.")


def load_model(source: ModelSource, *, check: bool = True,
               infer_shapes: bool = True) -> onnx.ModelProto:
    """Load ``source`` into a new ``ModelProto`` that is checked, shape-inferred and opset >= 10.

    A path loads its external data from the model's folder. A ``ModelProto`` argument is copied,
    never modified. Raises ``InvalidModelError`` when the file is missing or unreadable, the
    model fails the checker, an opset below 10 cannot be converted, or the opset is newer than
    ``onnx.defs.onnx_opset_version()``.
    """
    model = _read(source)
    opset = default_opset(model)
    newest = onnx.defs.onnx_opset_version()
    if opset > newest:
        raise InvalidModelError(
            f"The model uses opset {opset}, newer than opset {newest}, the newest that the "
            f"installed onnx {onnx.__version__} knows. Re-export the model with opset {newest} "
            f"or older, or upgrade onnx.")
    if opset < MIN_OPSET:
        model = _convert_opset(model, opset)
    if check:
        _check(model, source)
    if infer_shapes:
        model = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    return model


def _read(source: ModelSource) -> onnx.ModelProto:
    if isinstance(source, onnx.ModelProto):
        model = onnx.ModelProto()
        model.CopyFrom(source)
        return model
    if isinstance(source, (bytes, bytearray, memoryview)):
        try:
            return onnx.load_from_string(bytes(source))
        except Exception as error:  # protobuf raises DecodeError or RuntimeError by version
            raise InvalidModelError(f"The bytes passed are not a serialized ONNX model: {error}."
                                    ) from error
    path = Path(os.fspath(source))
    if path.is_dir():
        raise InvalidModelError(f"Model path {path} is a folder, not a file. Pass the path of an "
                                f".onnx file.")
    if not path.is_file():
        raise InvalidModelError(f"Model file not found: {path}. Pass the path of an .onnx file.")
    if path.stat().st_size == 0:
        raise InvalidModelError(f"Model file {path} is empty (0 bytes). Pass a complete .onnx "
                                f"file.")
    try:
        return onnx.load(str(path), load_external_data=True)
    except Exception as error:
        raise InvalidModelError(f"Failed to read ONNX model {path}: {error}.") from error


def _convert_opset(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    logger.info("Converting the model from opset %d to opset %d", opset, CONVERSION_TARGET_OPSET)
    try:
        converted = version_converter.convert_version(model, CONVERSION_TARGET_OPSET)
    except Exception as error:
        raise InvalidModelError(
            f"The model uses opset {opset}, below the minimum {MIN_OPSET}, and onnx's version "
            f"converter failed to upgrade it to {CONVERSION_TARGET_OPSET}: "
            f"{str(error).rstrip('!. ')}. Re-export "
            f"the model with opset {MIN_OPSET} or newer.") from error
    _repair_conversion(converted)
    return converted


def _repair_conversion(model: onnx.ModelProto) -> None:
    """Fix two gaps of onnx's version converter (seen in onnx 1.23) when upgrading to opset 13.

    The converter keeps the old IR version, but initializers that are not graph inputs (which
    it creates, for example for Pad's ``pads``) need IR 4 or newer, so the IR is raised. It
    also turns Upsample and Resize-10 into Resize-13 with default attributes, but before
    opset 11 those ops mapped output to input coordinates as ``asymmetric`` and rounded
    nearest neighbours down (``floor``), where Resize-13 defaults to ``half_pixel`` and
    ``round_prefer_floor``.
    """
    target = onnx.helper.find_min_ir_version_for(list(model.opset_import))
    if model.ir_version < 4:
        # IR 3 required every initializer to be listed as a graph input too. Exporters of that
        # time meant them as constants, so they stay constants under the newer IR.
        constants = {tensor.name for tensor in model.graph.initializer}
        inputs = [value for value in model.graph.input if value.name not in constants]
        del model.graph.input[:]
        model.graph.input.extend(inputs)
    model.ir_version = max(model.ir_version, target)
    legacy_defaults = {"coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
    for graph in _all_graphs(model.graph):
        for node in graph.node:
            if node.op_type != "Resize":
                continue
            names = {attribute.name for attribute in node.attribute}
            for name, value in legacy_defaults.items():
                if name not in names:
                    node.attribute.append(onnx.helper.make_attribute(name, value))


def _all_graphs(graph: onnx.GraphProto) -> list[onnx.GraphProto]:
    """Return ``graph`` and every subgraph (If, Loop, Scan bodies) nested in it."""
    graphs = [graph]
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                graphs.extend(_all_graphs(attribute.g))
            elif attribute.type == onnx.AttributeProto.GRAPHS:
                for subgraph in attribute.graphs:
                    graphs.extend(_all_graphs(subgraph))
    return graphs


def _check(model: onnx.ModelProto, source: ModelSource) -> None:
    name = "the model" if isinstance(source, (bytes, onnx.ModelProto)) else str(source)
    try:
        if _tensor_bytes(model) >= PROTOBUF_LIMIT_BYTES - EXTERNAL_DATA_MARGIN_BYTES:
            # The checker serializes its argument, which fails past 2 GiB; check by path then.
            if isinstance(source, (str, os.PathLike)):
                onnx.checker.check_model(os.fspath(source))
            return
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as error:
        raise InvalidModelError(f"{name} fails onnx.checker: {error}") from error


def _tensor_bytes(model: onnx.ModelProto) -> int:
    """Return an upper estimate of the bytes the model's initializers take when serialized."""
    total = 0
    for tensor in model.graph.initializer:
        total += len(tensor.raw_data) if tensor.raw_data else tensor.ByteSize()
    return total


def model_size_bytes(model: onnx.ModelProto) -> int:
    """Return the size in bytes of ``model`` serialized as one protobuf message."""
    return model.ByteSize()


def save_model(model: onnx.ModelProto, path: str | os.PathLike,
               external_data: bool | None = None) -> Path:
    """Write ``model`` to ``path`` atomically and return the path written.

    ``external_data=None`` stores the tensors in a ``<name>.data`` file beside the model only
    when one protobuf message would pass the 2 GiB limit. The model is written to a temporary
    file in the same folder and renamed into place; the data file, if any, is renamed first.
    A new file gets the mode ``0o666 & ~umask``; a replaced file keeps its mode.
    """
    target = Path(os.fspath(path))
    if not target.parent.is_dir():
        raise InvalidModelError(f"Output folder not found: {target.parent}. Create it first.")
    if external_data is None:
        external_data = _tensor_bytes(model) >= PROTOBUF_LIMIT_BYTES - EXTERNAL_DATA_MARGIN_BYTES
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as staging:
        staged = Path(staging) / target.name
        if external_data:
            data_name = f"{target.name}.data"
            # onnx rewrites tensors to point at the data file while saving, so save a copy.
            copy = onnx.ModelProto()
            copy.CopyFrom(model)
            onnx.save_model(copy, str(staged), save_as_external_data=True,
                            all_tensors_to_one_file=True, location=data_name,
                            size_threshold=0)
            os.replace(Path(staging) / data_name, target.parent / data_name)
        else:
            onnx.save_model(model, str(staged))
        _keep_mode(staged, target)
        os.replace(staged, target)
    return target


def _keep_mode(staged: Path, target: Path) -> None:
    """Give ``staged`` the mode of ``target`` when ``target`` exists and is replaced by it."""
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return
    os.chmod(staged, mode)
