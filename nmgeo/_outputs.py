"""A command's output files, staged and moved into place together under a lock."""

from __future__ import annotations

import contextlib
import errno
import glob
import logging
import os
import re
import secrets
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nmgeo.errors import OutputError

logger = logging.getLogger("nmgeo.outputs")

LOCK_NAME = ".nmgeo.lock"
STAGE_PREFIX = ".nmgeo-stage-"
TMP_PREFIX = ".nmgeo-tmp-"
STAGE_MARKER = ".nmgeo-stage"
# One set moves into place at a time in this process: two writers of the same set in
# threads each leave a whole set, never a mix.
_MOVES = threading.Lock()

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
    # A file being written in a staging folder is named where it goes.
    stage = rf"{re.escape(os.sep)}{re.escape(STAGE_PREFIX)}[^{re.escape(os.sep)}]*"
    where = re.sub(stage, "", str(where))
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


def _started(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), if known."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def _tmp_name(suffix: str = "") -> str:
    # Short and fixed-length, so any legal target name leaves room for it.
    return f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}{suffix[:16]}"


# Exactly the names nmgeo gives: prefix, pid, 8 hex digits (then a suffix or a sidecar).
_OURS = re.compile(r"(\d+)-[0-9a-f]{8}(?![0-9a-f])")


def _stale(name: str, prefix: str, own: str | None = None) -> bool:
    """True for a ``prefix<pid>-<token>`` name whose process is gone (or is this one, reused).

    Only names of exactly nmgeo's pattern count: a user's file that merely starts with
    the prefix is never touched.
    """
    match = _OURS.match(name, len(prefix)) if name.startswith(prefix) else None
    if match is None:
        return False
    pid = match.group(1)
    if int(pid) == os.getpid():
        # In a PID namespace a new run can get the pid of a killed one: this process's
        # own files are those it is writing now.
        return own is not None and not name.startswith(own)
    return not _alive(int(pid))


def _sweep_stale(folder: Path) -> None:
    """Remove the temporary files (and their sidecars) of stopped processes in ``folder``."""
    for old in folder.glob(f"{TMP_PREFIX}*"):
        if old.is_file() and _stale(old.name, TMP_PREFIX, own=f"{TMP_PREFIX}{os.getpid()}-"):
            old.unlink(missing_ok=True)
            logger.info("removed %s, left by a stopped run", old)


def _named(err: OSError, target: Path) -> OSError:
    """``err`` naming ``target``, not the hidden temporary file it happened on."""
    if err.filename is not None and TMP_PREFIX not in str(err.filename):
        return err
    return type(err)(err.errno, err.strerror or str(err), str(target))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    """Remove a temporary file and the sidecars a driver may have left beside it."""
    for leftover in path.parent.glob(f"{glob.escape(path.name)}*"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def move_into_place(moves: list[tuple[Path, Path]]) -> None:
    """Move each finished file onto its target: all of them, or none.

    Each target that exists is first linked (or, where the file system has no hard
    links, copied) to a backup beside it; if a move fails (an immutable file, a full
    disk), the targets already replaced get their backups back and the new files are
    removed, so the folder keeps its previous set. The error names the target.
    """
    for _, target in moves:
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(target))
    with _MOVES:
        _move_all(moves)


def _move_all(moves: list[tuple[Path, Path]]) -> None:
    backups: dict[Path, Path] = {}
    done: list[Path] = []
    try:
        for _, target in moves:
            if target.is_file():
                backup = target.with_name(_tmp_name(".bak"))
                try:
                    os.link(target, backup)
                except OSError:
                    shutil.copy2(target, backup)
                backups[target] = backup
        for staged, target in moves:
            try:
                os.replace(staged, target)
            except OSError as err:
                raise _named(err, target) from err
            done.append(target)
    except BaseException:
        for target in reversed(done):
            with contextlib.suppress(OSError):
                if target in backups:
                    os.replace(backups.pop(target), target)
                else:
                    target.unlink()
        raise
    finally:
        for backup in backups.values():
            with contextlib.suppress(OSError):
                backup.unlink()


@contextmanager
def replacing_all(
    targets: list[str | os.PathLike], *, create: bool = True
) -> Iterator[list[Path]]:
    """Yield temporary paths beside ``targets``; move them all in when the block ends.

    Each temporary file lies in its target's folder (so the move is an atomic rename on
    the same file system) and keeps the target's suffix (so drivers that go by the
    extension pick the right format). If the block raises, the temporary files are
    removed and the targets are untouched; if a move fails, the targets already moved
    get their previous files back (see :func:`move_into_place`). Files left by a killed
    process are removed by the next write into the same folder. ``create=False`` leaves
    the temporary paths free, for writers that refuse an existing file (GDAL's
    GeoPackage driver).
    """
    paths = [Path(t) for t in targets]
    tmps: list[Path] = []
    try:
        for target in paths:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_dir():
                raise IsADirectoryError(errno.EISDIR, "Is a directory", str(target))
            _sweep_stale(target.parent)
            tmp = target.with_name(_tmp_name(target.suffix))
            # Created through os.open so the file gets the user's umask, as open() would.
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            tmps.append(tmp)
            if not create:
                tmp.unlink()
        try:
            yield tmps
            for tmp in tmps:
                _fsync(tmp)
        except OSError as err:
            # Name the target the temporary file stands for (the first one if none is named).
            where = {str(tmp): target for tmp, target in zip(tmps, paths, strict=True)}
            name = str(err.filename) if err.filename is not None else None
            target = where.get(
                name or "", paths[0] if name is None or TMP_PREFIX in name else None
            )
            if target is None:
                raise
            raise _named(err, target) from err
        move_into_place(list(zip(tmps, paths, strict=True)))
    finally:
        for tmp in tmps:
            _remove(tmp)


@contextmanager
def replacing(target: str | os.PathLike, *, create: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` when the block ends.

    One target of :func:`replacing_all`.
    """
    with replacing_all([target], create=create) as (tmp,):
        yield tmp


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
        self.stage = self.out / f"{STAGE_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        self.lock = self.out / LOCK_NAME
        self._files: list[tuple[Path, Any]] = []
        self._locked = False
        self._created = False

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> StagedOutputs:
        self._created = not self.out.exists()
        self.out.mkdir(parents=True, exist_ok=True)
        self._acquire()
        try:
            self._clean_stale()
            self.stage.mkdir()
            (self.stage / STAGE_MARKER).write_text("nmgeo staging folder\n")
        except BaseException:
            self._release()
            raise
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
                    pid_text, _, started = self.lock.read_text().strip().partition(" ")
                    pid = int(pid_text or 0)
                except (OSError, ValueError):
                    pid, started = 0, ""
                # Our own pid in the lock is a killed run's (a PID namespace reuses pids),
                # and so is a live process that started at another time than the locker.
                now = _started(pid) if pid else None
                same = not started or now is None or now == started
                if pid and pid != os.getpid() and _alive(pid) and same:
                    msg = (
                        f"another nmgeo run (process {pid}) is writing into {self.out}; "
                        f"wait for it to finish or choose another --out (remove {self.lock} "
                        "if no nmgeo run is active)"
                    )
                    raise OutputError(msg) from None
                logger.warning("removing the stale lock of a stopped run in %s", self.out)
                self.lock.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{os.getpid()} {_started(os.getpid()) or ''}".strip())
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
            # Only a staging folder nmgeo made (it holds the marker) is ever removed.
            ours = old.is_dir() and (old / STAGE_MARKER).is_file()
            if ours and old != self.stage and _stale(old.name, STAGE_PREFIX, own=self.stage.name):
                shutil.rmtree(old, ignore_errors=True)
        _sweep_stale(self.out)

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
        """Move every declared file into place, the manifest last: all of them, or none."""
        moves = []
        for staged, rows in self._files:
            target = self.final(staged)
            run.output(target, rows=rows, written=staged)
            moves.append((Path(staged), target))
        staged_manifest = run.write(self.stage / manifest)
        moves.append((Path(staged_manifest), self.out / manifest))
        move_into_place(moves)
        return [target for _, target in moves]
