"""A command's output files, staged and moved into place together under a lock."""

from __future__ import annotations

import contextlib
import errno
import glob
import logging
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nmgeo.errors import OutputError

logger = logging.getLogger("nmgeo.outputs")

LOCK_NAME = ".nmgeo.lock"
STAGE_PREFIX = ".nmgeo-stage-"
TMP_MARK = ".nmgeo-tmp"

_CAUSES = {
    errno.ENOSPC: "no space left on the device; free some space or choose another --out",
    errno.EDQUOT: "the disk quota is exceeded; free some space or choose another --out",
    errno.EROFS: "the file system is read-only; choose another --out",
    errno.EACCES: "permission denied; choose a folder you can write to",
    errno.EPERM: "the operation is not permitted (an immutable file?); choose another --out",
    errno.EISDIR: "a folder is in the way of the file; remove it or choose another --out",
    errno.ENOTDIR: "a file is in the way of a folder; remove it or choose another --out",
    errno.ENAMETOOLONG: "the path is too long; choose a shorter --out",
}


def os_error_message(err: OSError) -> str:
    """One line naming the path and the cause of an operating-system error."""
    where = err.filename if err.filename is not None else "a file"
    cause = _CAUSES.get(err.errno or -1, err.strerror or str(err))
    return f"cannot write {where}: {cause}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _tmp_name(target: Path) -> str:
    return f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}{TMP_MARK}{target.suffix}"


def _sweep_stale(target: Path) -> None:
    """Remove temporary files a killed process left beside ``target``."""
    pattern = f".{glob.escape(target.name)}.*{TMP_MARK}{glob.escape(target.suffix)}"
    for old in target.parent.glob(pattern):
        pid = old.name[len(target.name) + 2 :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            old.unlink(missing_ok=True)
            logger.info("removed %s, left by a stopped run", old)


@contextmanager
def replacing(target: str | os.PathLike, *, create: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` when the block ends.

    The temporary file lies in the target's folder (so the move is an atomic rename on
    the same file system) and keeps the target's suffix (so drivers that go by the
    extension pick the right format). If the block raises, the temporary file is
    removed and ``target`` is untouched; files left by a killed process are removed by
    the next write of the same target. ``create=False`` leaves the temporary path
    free, for writers that refuse an existing file (GDAL's GeoPackage driver).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(target))
    _sweep_stale(target)
    tmp = target.with_name(_tmp_name(target))
    # Created through os.open so the file gets the user's umask, as a plain open would.
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    if not create:
        tmp.unlink()
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    finally:
        for leftover in (tmp, *(Path(f"{tmp}{end}") for end in ("-wal", "-shm", "-journal"))):
            leftover.unlink(missing_ok=True)


def write_atomic(target: str | os.PathLike, data: str | bytes) -> Path:
    """Write text (UTF-8) or bytes to ``target`` whole, through :func:`replacing`."""
    target = Path(target)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with replacing(target) as tmp:
        tmp.write_bytes(payload)
    return target


class StagedOutputs:
    """Write a command's files into a hidden folder beside their place, then move them.

    The folder ``out`` holds either the previous run's files or this run's, each set with
    its own manifest (moved last): files are written in a staging folder inside ``out``
    (the same file system, so each move is an atomic rename) and moved into place only
    when every one of them is complete. An error or a kill before that leaves the old set
    untouched; the staging folder is removed on error, and a stale one (its process gone)
    is removed by the next run. A lock file refuses a second run into ``out`` while one is
    writing there.
    """

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.stage = self.out / f"{STAGE_PREFIX}{os.getpid()}"
        self.lock = self.out / LOCK_NAME
        self._files: list[tuple[Path, Any]] = []
        self._locked = False
        self._created = False

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> StagedOutputs:
        self._created = not self.out.exists()
        self.out.mkdir(parents=True, exist_ok=True)
        self._acquire()
        self._clean_stale()
        self.stage.mkdir()
        return self

    def __exit__(self, kind, value, tb) -> None:
        shutil.rmtree(self.stage, ignore_errors=True)
        self._release()
        if kind is not None and self._created:
            with contextlib.suppress(OSError):  # only if nothing else was put there
                self.out.rmdir()

    def _acquire(self) -> None:
        for _ in range(2):
            try:
                fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    pid = int(self.lock.read_text().strip() or 0)
                except (OSError, ValueError):
                    pid = 0
                if pid and _alive(pid):
                    msg = (
                        f"another nmgeo run (process {pid}) is writing into {self.out}; "
                        "wait for it to finish or choose another --out"
                    )
                    raise OutputError(msg) from None
                logger.warning("removing the stale lock of a stopped run in %s", self.out)
                self.lock.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(str(os.getpid()))
            self._locked = True
            return
        msg = f"cannot lock {self.out} for writing; remove {self.lock} if no nmgeo run is active"
        raise OutputError(msg)

    def _release(self) -> None:
        if self._locked:
            self.lock.unlink(missing_ok=True)
            self._locked = False

    def _clean_stale(self) -> None:
        for old in self.out.glob(f"{STAGE_PREFIX}*"):
            try:
                pid = int(old.name[len(STAGE_PREFIX) :])
            except ValueError:
                continue
            if pid != os.getpid() and not _alive(pid):
                shutil.rmtree(old, ignore_errors=True)

    # ------------------------------------------------------------------ files
    def path(self, name: str) -> Path:
        """Where to write the output called ``name`` now (inside the staging folder)."""
        return self.stage / name

    def add(self, staged: Path, *, rows: Any = None) -> None:
        """Declare a finished staged file (and its row counts, for the manifest)."""
        self._files.append((Path(staged), rows))

    def final(self, staged: Path) -> Path:
        """The place a staged file is moved to."""
        return self.out / Path(staged).relative_to(self.stage)

    def commit(self, run: Any, manifest: str = "manifest.json") -> list[Path]:
        """Move every declared file into place, then write the manifest last."""
        targets = [self.final(staged) for staged, _ in self._files] + [self.out / manifest]
        for target in targets:  # check before moving anything, so no set is left mixed
            if target.is_dir():
                raise IsADirectoryError(errno.EISDIR, "Is a directory", str(target))
        moved = []
        for staged, rows in self._files:
            target = self.final(staged)
            os.replace(staged, target)
            run.output(target, rows=rows)
            moved.append(target)
        staged_manifest = run.write(self.stage / manifest)
        target = self.out / manifest
        os.replace(staged_manifest, target)
        return [*moved, target]
