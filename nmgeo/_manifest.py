"""Run manifests: what a command read, wrote, with which versions and how long it took."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib
import json
import os
import platform
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from nmgeo._outputs import write_atomic

__all__ = ["Run", "environment", "file_digest"]

# packages whose versions every manifest records (GDAL comes via pyogrio)
KEY_DEPENDENCIES = (
    "geopandas",
    "shapely",
    "pyproj",
    "pyogrio",
    "pandas",
    "numpy",
    "folium",
)

_CHUNK = 1 << 20


def file_digest(path: str | os.PathLike) -> tuple[int, str]:
    """Size in bytes and SHA-256 (hex) of a file, or of a folder's files (e.g. a ``.gdb``).

    A folder is hashed as the sorted sequence of its files' relative paths and contents.
    """
    path = Path(path)
    sha = hashlib.sha256()
    if path.is_dir():
        size = 0
        for sub in sorted(p for p in path.rglob("*") if p.is_file()):
            sha.update(sub.relative_to(path).as_posix().encode() + b"\0")
            size += _hash_into(sha, sub)
        return size, sha.hexdigest()
    return _hash_into(sha, path), sha.hexdigest()


def _hash_into(sha: Any, path: Path) -> int:
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return size


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def environment() -> dict[str, str | None]:
    """Versions of nmgeo, Python, GDAL and the key dependencies (None if not importable)."""
    from nmgeo import __version__

    versions: dict[str, str | None] = {
        "nmgeo": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    for name in KEY_DEPENDENCIES:
        try:
            versions[name] = str(importlib.import_module(name).__version__)
        except Exception:  # noqa: BLE001 - a missing optional package is recorded as None
            versions[name] = None
    try:
        import pyogrio

        versions["gdal"] = str(pyogrio.__gdal_version_string__)
    except Exception:  # noqa: BLE001
        versions["gdal"] = None
    return versions


def _jsonable(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


class Run:
    """Records one command run and writes it as ``manifest.json``.

    Parameters
    ----------
    command : str
        The command name, e.g. ``"packages"``.
    parameters : mapping
        Resolved option values (paths are stored as strings).
    progress : object, optional
        A tqdm-like bar; every :meth:`step` sets its description and advances it by one.
    """

    def __init__(
        self, command: str, parameters: Mapping[str, Any], *, progress: Any = None
    ) -> None:
        self.command = command
        self.parameters = dict(parameters)
        self.extra: dict[str, Any] = {}
        self.started = dt.datetime.now(dt.timezone.utc)
        self._t0 = time.perf_counter()
        self.timings: dict[str, float] = {}
        self.inputs: list[dict[str, Any]] = []
        self.outputs: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}
        self.progress = progress

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the enclosed block as step ``name`` (seconds, summed if repeated)."""
        if self.progress is not None:
            self.progress.set_description(name)
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self.timings[name] = self.timings.get(name, 0.0) + elapsed
            if self.progress is not None:
                self.progress.update(1)

    def input(self, path: str | os.PathLike, *, role: str | None = None, rows: Any = None) -> None:
        """Record an input file (or folder) with its size and SHA-256."""
        path = Path(path)
        size, sha = file_digest(path)
        entry: dict[str, Any] = {"path": str(path), "size_bytes": size, "sha256": sha}
        if role is not None:
            entry["role"] = role
        if rows is not None:
            entry["rows"] = _jsonable(rows)
        self.inputs.append(entry)

    def output(
        self,
        path: str | os.PathLike,
        *,
        rows: Any = None,
        written: str | os.PathLike | None = None,
    ) -> None:
        """Record an output file with its size (call after it is written).

        ``written``: where the file is now, if it moves to ``path`` afterwards.
        """
        path = Path(path)
        entry: dict[str, Any] = {
            "path": str(path),
            "size_bytes": _size(Path(written) if written is not None else path),
        }
        if rows is not None:
            entry["rows"] = _jsonable(rows)
        self.outputs.append(entry)

    def count(self, name: str, n: int) -> None:
        """Record a row count, e.g. ``count("parcels", 10_259)``."""
        self.counts[name] = int(n)

    def as_dict(self) -> dict[str, Any]:
        """The manifest as a JSON-ready dict."""
        return {
            "nmgeo_version": environment()["nmgeo"],
            "command": self.command,
            "argv": list(sys.argv),
            "parameters": _jsonable(self.parameters),
            **_jsonable(self.extra),
            "started_utc": self.started.isoformat(timespec="seconds"),
            "versions": environment(),
            "inputs": self.inputs,
            "outputs": self.outputs,
            "counts": self.counts,
            "timings_s": {k: round(v, 6) for k, v in self.timings.items()},
            "total_s": round(time.perf_counter() - self._t0, 6),
        }

    def write(self, path: str | os.PathLike) -> Path:
        """Write the manifest as indented JSON to ``path`` and return the path."""
        return write_atomic(path, json.dumps(self.as_dict(), indent=2) + "\n")
