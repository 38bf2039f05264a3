"""Atomic writes of the files a command produces, with ordinary file permissions.

Each file is staged in a temporary file beside its target and renamed into place, so a crash
never leaves a half-written file. ``tempfile.mkstemp`` creates the staged file with mode 0600,
so it is changed before the rename: to the existing target's mode, or for a new file to
``0o666`` minus the process umask, the mode that ``open(path, "w")`` would give.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def new_file_mode() -> int:
    """Return the permission bits that a newly created file gets: ``0o666 & ~umask``."""
    # os.umask has no read-only form: set a value, then restore the one it returns.
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def target_mode(path: Path) -> int:
    """Return the mode for a file written to ``path``: the existing file's, else the default."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return new_file_mode()


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` on a binary stream staged beside ``path``, then rename it to ``path``."""
    descriptor, staged = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, target_mode(path))
        with os.fdopen(descriptor, "wb") as stream:
            write(stream)
        os.replace(staged, path)
    except BaseException:
        Path(staged).unlink(missing_ok=True)
        raise


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically (see ``write_atomically``)."""
    write_atomically(path, lambda stream: stream.write(text.encode("utf-8")))
