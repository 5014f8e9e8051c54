"""Library-wide settings: threads, offline map assets, sample and cache folders.

Set them in code (``nmgeo.settings.threads = 1``); each one left at ``None`` falls back
to its environment variable, read when it is used, then to the built-in default:

============== ===================== ======================================================
setting        environment variable  default
============== ===================== ======================================================
``threads``    ``NMGEO_THREADS``     the CPU count; 1 turns threading off
``assets``     ``NMGEO_ASSETS``      none: offline maps need a ``node_modules`` folder
``sample_dir`` ``NMGEO_SAMPLE_DIR``  ``sample_data/`` of a source checkout, else the cache
``cache_dir``  ``XDG_CACHE_HOME``    ``~/.cache``; nmgeo keeps its files in ``nmgeo/``
``pause_gc``   ``NMGEO_PAUSE_GC``    True; ``0`` or ``False`` lets Python's cyclic garbage
                                     collector run inside nmgeo's verbs
============== ===================== ======================================================

While one of its verbs runs, nmgeo pauses Python's cyclic garbage collector (``gc``) and
restores it as it was when the last verb running returns. Every shapely geometry is an
object the collector tracks, so a step that makes a hundred thousand of them would
otherwise set off full collections that walk every geometry alive, to free nothing: the
steps make arrays, not reference cycles. The collector resumes as soon as the verb
returns; set :data:`pause_gc` to False if your program must never have it paused.

Nothing else changes behaviour behind the caller's back: in particular, a folder of map
assets does not make maps offline by itself; pass ``offline=True`` (``--offline`` on the
command line) for that.

Examples
--------
>>> import nmgeo
>>> nmgeo.settings.threads = 1
>>> nmgeo.settings.current_threads()
1
>>> nmgeo.settings.threads = None
"""

from __future__ import annotations

import os
from pathlib import Path

from nmgeo.errors import InputError

__all__ = [
    "assets",
    "cache_dir",
    "current_assets",
    "current_cache_dir",
    "current_sample_dir",
    "current_pause_gc",
    "current_threads",
    "pause_gc",
    "sample_dir",
    "threads",
]

#: Threads for the vectorised GEOS calls that nmgeo splits (None: ``NMGEO_THREADS``).
threads: int | None = None
#: The npm ``node_modules`` folder offline maps inline Leaflet from (None: ``NMGEO_ASSETS``).
assets: str | os.PathLike | None = None
#: The folder of the bundled sample (None: ``NMGEO_SAMPLE_DIR``, then the defaults).
sample_dir: str | os.PathLike | None = None
#: The base folder for generated files kept between runs (None: ``XDG_CACHE_HOME``).
cache_dir: str | os.PathLike | None = None
#: Pause Python's cyclic garbage collector while a verb runs (None: ``NMGEO_PAUSE_GC``).
pause_gc: bool | None = None

THREADS_ENV = "NMGEO_THREADS"
ASSETS_ENV = "NMGEO_ASSETS"
SAMPLE_DIR_ENV = "NMGEO_SAMPLE_DIR"
PAUSE_GC_ENV = "NMGEO_PAUSE_GC"


def current_threads() -> int:
    """Threads to use now: :data:`threads`, else ``NMGEO_THREADS``, else the CPU count.

    Returns
    -------
    int
        At least 1. An environment value that is not a whole number above 0 is ignored.

    Raises
    ------
    InputError
        :data:`threads` is set to something other than a whole number above 0.

    Examples
    --------
    >>> from nmgeo import settings
    >>> settings.current_threads() >= 1
    True
    """
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            msg = f"nmgeo.settings.threads must be a whole number >= 1 or None, not {threads!r}"
            raise InputError(msg)
        return threads
    value = os.environ.get(THREADS_ENV, "")
    if value.strip().isdigit() and int(value) > 0:
        return int(value)
    return max(1, os.cpu_count() or 1)


def current_pause_gc() -> bool:
    """Whether verbs pause the cyclic garbage collector: :data:`pause_gc`, else
    ``NMGEO_PAUSE_GC``, else True.

    Returns
    -------
    bool
        False when :data:`pause_gc` is False, or it is None and ``NMGEO_PAUSE_GC`` is
        ``0``, ``false``, ``no`` or ``off`` (any case).

    Raises
    ------
    InputError
        :data:`pause_gc` is set to something other than True, False or None.

    Examples
    --------
    >>> from nmgeo import settings
    >>> settings.pause_gc = False
    >>> settings.current_pause_gc()
    False
    >>> settings.pause_gc = None
    """
    if pause_gc is not None:
        if not isinstance(pause_gc, bool):
            msg = f"nmgeo.settings.pause_gc must be True, False or None, not {pause_gc!r}"
            raise InputError(msg)
        return pause_gc
    value = os.environ.get(PAUSE_GC_ENV, "").strip().lower()
    return value not in ("0", "false", "no", "off")


def current_assets() -> Path | None:
    """The offline map assets folder: :data:`assets`, else ``NMGEO_ASSETS``, else None.

    Returns
    -------
    pathlib.Path or None
        The ``node_modules`` folder offline maps inline Leaflet from, if one is set.

    Examples
    --------
    >>> from nmgeo import settings
    >>> settings.assets = "/opt/map-assets/node_modules"
    >>> settings.current_assets().name
    'node_modules'
    >>> settings.assets = None
    """
    value = assets if assets is not None else os.environ.get(ASSETS_ENV) or None
    return None if value is None else Path(value)


def current_sample_dir() -> Path | None:
    """The sample folder asked for: :data:`sample_dir`, else ``NMGEO_SAMPLE_DIR``, else None.

    Returns
    -------
    pathlib.Path or None
        The folder; None means the defaults of :func:`nmgeo.datasets.sample_dir` apply.

    Examples
    --------
    >>> from nmgeo import settings
    >>> settings.sample_dir = "my_sample"
    >>> str(settings.current_sample_dir())
    'my_sample'
    >>> settings.sample_dir = None
    """
    value = sample_dir if sample_dir is not None else os.environ.get(SAMPLE_DIR_ENV) or None
    return None if value is None else Path(value)


def current_cache_dir() -> Path:
    """nmgeo's cache folder: ``<cache_dir or XDG_CACHE_HOME or ~/.cache>/nmgeo``.

    Returns
    -------
    pathlib.Path
        The folder (not created here).

    Examples
    --------
    >>> from nmgeo import settings
    >>> settings.current_cache_dir().name
    'nmgeo'
    """
    base = cache_dir if cache_dir is not None else os.environ.get("XDG_CACHE_HOME")
    return Path(base or Path.home() / ".cache") / "nmgeo"
