"""The files nmgeo has read in this process, so that no writer replaces one of its inputs."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from nmgeo.errors import OutputError

logger = logging.getLogger("nmgeo.io")

_LOCK = threading.Lock()
_PATHS: set[str] = set()
# (device, inode, mtime) catches hard links; the mtime keeps a reused inode from matching.
_FILES: set[tuple[int, int, int]] = set()


def _is_virtual(path: str) -> bool:
    return path.startswith("/vsi") or "://" in path


def remember_input(path: str | os.PathLike) -> None:
    """Record ``path`` as an input, so that writers refuse to replace it."""
    text = os.fspath(path)
    if _is_virtual(text):
        return
    real = os.path.realpath(text)
    with _LOCK:
        _PATHS.add(real)
        try:
            stat = os.stat(real)
        except OSError:
            return
        _FILES.add((stat.st_dev, stat.st_ino, stat.st_mtime_ns))


def refuse_input(path: str | os.PathLike, writer: str) -> None:
    """Raise OutputError if writing ``path`` would replace a file read as an input."""
    real = os.path.realpath(os.fspath(path))
    hit = real in _PATHS
    if not hit:
        try:
            stat = os.stat(real)
        except OSError:
            return
        hit = (stat.st_dev, stat.st_ino, stat.st_mtime_ns) in _FILES
    if hit:
        msg = (
            f"{writer}: {path} was read as an input in this session; refusing to overwrite "
            f"it. Write to another path, e.g. {Path(path).with_stem(Path(path).stem + '_out')}"
        )
        raise OutputError(msg)
