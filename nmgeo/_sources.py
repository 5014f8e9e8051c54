"""The files nmgeo has read in this process, so that no writer replaces one of its inputs."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from nmgeo.errors import OutputError

logger = logging.getLogger("nmgeo.io")

_LOCK = threading.Lock()
_PATHS: set[str] = set()
# (device, inode, mtime) catches hard links; the mtime keeps a reused inode from matching.
_FILES: set[tuple[int, int, int]] = set()


def _identity(path: str | os.PathLike) -> tuple[str, tuple[int, int, int] | None]:
    """The resolved path, and (device, inode, mtime) when the file exists."""
    real = os.path.realpath(os.fspath(path))
    try:
        stat = os.stat(real)
    except OSError:
        return real, None
    return real, (stat.st_dev, stat.st_ino, stat.st_mtime_ns)


def _is_virtual(path: str) -> bool:
    return path.startswith("/vsi") or "://" in path


def remember_input(path: str | os.PathLike) -> None:
    """Record ``path`` as an input, so that writers refuse to replace it."""
    if _is_virtual(os.fspath(path)):
        return
    real, key = _identity(path)
    with _LOCK:
        _PATHS.add(real)
        if key is not None:
            _FILES.add(key)


def refuse_input(path: str | os.PathLike, writer: str) -> None:
    """Raise OutputError if writing ``path`` would replace a file read as an input."""
    real, key = _identity(path)
    if real in _PATHS or (key is not None and key in _FILES):
        msg = (
            f"{writer}: {path} was read as an input in this session; refusing to overwrite "
            f"it. Write to another path, e.g. {Path(path).with_stem(Path(path).stem + '_out')}"
        )
        raise OutputError(msg)


def refuse_given_inputs(
    outputs: Sequence[str | os.PathLike], inputs: Sequence[str | os.PathLike | None], fix: str
) -> None:
    """Raise OutputError if a planned output is one of ``inputs`` (checked before reading)."""
    given = [(p, _identity(p)) for p in inputs if p is not None]
    for out in outputs:
        real, key = _identity(out)
        for source, (source_real, source_key) in given:
            if real == source_real or (key is not None and key == source_key):
                msg = f"output {str(out)!r} is the input file {str(source)!r}; {fix}"
                raise OutputError(msg)
