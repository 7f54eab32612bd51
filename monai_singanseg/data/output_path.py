"""Check, before any work starts, that an output file or folder can be written where the user asked."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["check_output_file", "check_output_folder"]


def _writable_ancestor(path: Path, argument: str) -> None:
    # Missing parents are created on writing; the nearest existing one must be a folder we may write into.
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"{argument} {path}: {ancestor} is a file, so nothing can be written below it.")
    _probe(ancestor, f"{argument} {path}: folder {ancestor}")


def _probe(folder: Path, what: str) -> None:
    # Permission bits do not tell (root, read-only mounts, /proc): writing a file does.
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=folder)
    except OSError as err:
        raise ValueError(f"{what} is not writable ({err.strerror}).") from None
    os.close(fd)
    os.unlink(probe)


def check_output_file(path: str | os.PathLike, argument: str) -> Path:
    """``path`` as a ``Path``, after checking that a file can be written there (missing folders are created later).

    Raises:
        ValueError: ``path`` is a folder, lies below a file, or in a folder without write permission; the message
            names ``argument``.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{argument} {path} is a folder; expected a file name, e.g. {path / 'model.pt'}.")
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"{argument} {path} exists and is not writable.")
    _writable_ancestor(path, argument)
    return path


def check_output_folder(path: str | os.PathLike, argument: str) -> Path:
    """``path`` as a ``Path``, after checking that a folder can be created or written there.

    Raises:
        ValueError: ``path`` is a file, lies below a file, or cannot be written; the message names ``argument``.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{argument} {path} is a file; expected a folder.")
    if path.is_dir():
        _probe(path, f"{argument} {path}")
    else:
        _writable_ancestor(path, argument)
    return path
