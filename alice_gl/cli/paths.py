"""Checks on the files a command writes, run before the command does any work.

A command passes its input paths and its output paths, each keyed by the option that named
it. ``check_output_paths`` rejects an output that is the same file as an input or as another
output, after resolving ``.``, ``..`` and symbolic links. It also rejects an output that is an
existing folder or another non-regular file (FIFO, device), and one whose folder is missing.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from alice_gl.errors import InvalidInputError

PathArgument = str | os.PathLike | None


def check_output_paths(inputs: Mapping[str, PathArgument],
                       outputs: Mapping[str, PathArgument]) -> None:
    """Raise ``InvalidInputError`` when an output would overwrite an input or another output.

    ``inputs`` and ``outputs`` map an option name (``MODEL``, ``-o``, ``--report``) to the path
    the user gave, or None when the option was not given. Besides collisions, raises when an
    output is an existing folder, exists and is not a regular file, or lies in a missing folder.
    """
    given_inputs = {option: Path(path) for option, path in inputs.items() if path is not None}
    given_outputs = {option: Path(path) for option, path in outputs.items() if path is not None}

    for option, path in given_outputs.items():
        _check_output_target(option, path)

    seen: list[tuple[str, Path]] = []
    for option, path in given_outputs.items():
        for input_option, input_path in given_inputs.items():
            if _same_file(path, input_path):
                raise InvalidInputError(
                    f"{option} {path} is the same file as the input {input_option} {input_path}, "
                    f"so writing it would destroy the input. Pass a different {option} path.")
        for other_option, other_path in seen:
            if _same_file(path, other_path):
                raise InvalidInputError(
                    f"{option} {path} is the same file as {other_option} {other_path}, so one "
                    f"output would overwrite the other. Pass a different path to one of them.")
        seen.append((option, path))


def _check_output_target(option: str, path: Path) -> None:
    if path.is_dir():
        raise InvalidInputError(f"{option} {path} is a folder. Pass a file path inside it.")
    if not path.parent.is_dir():
        raise InvalidInputError(f"Output folder of {option} not found: {path.parent}. Create it "
                                f"first.")
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise InvalidInputError(f"{option} {path} exists and is not a regular file (a FIFO, "
                                f"socket or device). Pass the path of a regular file.")


def _same_file(first: Path, second: Path) -> bool:
    """Return True when both paths name one file, existing or not."""
    try:
        return os.path.samefile(first, second)
    except OSError:
        # At least one path does not exist yet, so compare the resolved names.
        return first.resolve() == second.resolve()
