"""Vectorised shapely calls split over threads: shapely 2 releases the GIL inside GEOS.

Threads share geometry arrays read-only. A prepared geometry must never be shared between
threads (GEOS fills its indexes lazily), so callers that prepare give each piece its own copy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import shapely

from nmgeo import settings

T = TypeVar("T")

# Below this many elements a call runs in the caller's thread: pool overhead would dominate.
MIN_PARALLEL = 20_000
# Ranges per thread when threaded: GEOS costs vary between rows (a zone of 20 vertices, one
# of 20,000), so equal halves leave one thread idle; smaller ranges balance the load.
_RANGES_PER_THREAD = 8


def n_threads() -> int:
    """Threads to use: see :func:`nmgeo.settings.current_threads` (1 turns threading off)."""
    return settings.current_threads()


def map_ranges(
    func: Callable[[int, int], T],
    n: int,
    *,
    piece: int,
    progress: bool = False,
    desc: str = "",
    min_piece: int = MIN_PARALLEL // 2,
) -> list[T]:
    """Return ``[func(start, stop), ...]`` over consecutive ranges covering ``0..n``.

    Ranges hold at most ``piece`` elements, and at least ``min_piece`` when split for
    threads (lower it for elements that each cost much, such as overlays of whole zones).
    They run in a pool of :func:`n_threads` threads, several ranges per thread so that a
    costly stretch of rows does not hold up the others; results keep range order.
    """
    threads = min(n_threads(), max(1, n // max(min_piece, 1)))
    count = -(-n // piece) if n else 1
    if threads > 1:
        count = max(count, min(threads * _RANGES_PER_THREAD, n // max(min_piece, 1)))
    bounds = np.linspace(0, n, count + 1).astype(int)
    ranges = list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc=desc, unit="row", leave=False)

    def run(bounds: tuple[int, int]) -> T:
        result = func(*bounds)
        if bar is not None:
            bar.update(bounds[1] - bounds[0])
        return result

    try:
        if threads == 1:
            return [run(r) for r in ranges]
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(run, ranges))
    finally:
        if bar is not None:
            bar.close()


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Return ``[call() for call in calls]``, the calls running at the same time.

    For independent steps that each leave a core idle between their threaded GEOS calls
    (numpy bookkeeping, building a tree): side by side, one fills the other's gaps. The
    first call runs in the caller's thread; an exception in any call is raised. With
    :func:`n_threads` 1, the calls run one after the other.
    """
    if n_threads() == 1 or len(calls) < 2:
        return [call() for call in calls]
    with ThreadPoolExecutor(len(calls) - 1) as pool:
        others = [pool.submit(call) for call in calls[1:]]
        first = calls[0]()
        return [first, *(future.result() for future in others)]


def map_chunks(
    func: Callable[..., np.ndarray], *arrays: np.ndarray, min_piece: int = MIN_PARALLEL // 2
) -> np.ndarray:
    """Return ``func(*arrays)``, computed on slices of the arrays in parallel threads.

    ``func`` must be elementwise (output element i depends only on input element i), so that
    the result equals a single call. ``min_piece`` as for :func:`map_ranges`.
    """
    n = len(arrays[0])
    parts = map_ranges(
        lambda a, b: np.asarray(func(*(x[a:b] for x in arrays))),
        n,
        piece=max(n, 1),
        min_piece=min_piece,
    )
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def query_tree(
    tree: shapely.STRtree, geoms: np.ndarray, *, min_piece: int = MIN_PARALLEL
) -> tuple[np.ndarray, np.ndarray]:
    """``tree.query(geoms)`` (bounding boxes only), split over threads.

    Returns the positions in ``geoms`` and in the tree of every pair whose boxes meet,
    ordered as a single call orders them. The tree is built by a first query in the
    calling thread, so the threads only read it.
    """
    geoms = np.asarray(geoms, dtype=object)
    tree.query(geoms[:1])

    def run(a: int, b: int) -> np.ndarray:
        hits = tree.query(geoms[a:b])
        hits[0] += a
        return hits

    parts = map_ranges(run, len(geoms), piece=max(len(geoms), 1), min_piece=min_piece)
    hits = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    return hits[0], hits[1]


def per_thread(make: Callable[[], T]) -> Callable[[], T]:
    """A getter of one object per thread, made by ``make`` on first use in that thread:
    e.g. a prepared copy of a layer, which threads must not share."""
    local = threading.local()

    def get() -> T:
        if not hasattr(local, "value"):
            local.value = make()
        return local.value

    return get


def prepared_copy(geoms: np.ndarray) -> np.ndarray:
    """A prepared copy of ``geoms`` (prepared geometries are not safe to share between
    threads, nor ours to leave prepared on the caller's)."""
    own = shapely.from_wkb(shapely.to_wkb(geoms))
    shapely.prepare(own)
    return own
