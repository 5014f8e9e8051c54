"""Grouped geometry operations: unions by key and differences by many cutters, vectorised."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
import shapely

from nmgeo._threads import map_chunks, map_ranges

logger = logging.getLogger("nmgeo.geometry")

# Groups handled per thread task.
_GROUP_PIECE = 2_000
# Snap-rounding grid (m) for the rare overlay that GEOS cannot node in floating point.
SNAP_GRID = 0.001


def safe(op: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """A vectorised shapely overlay that survives GEOS topology errors.

    GEOS can fail to node nearly coincident edges of real cadastres ("TopologyException").
    The whole call is tried first; if it fails, each element is tried on its own and the
    failing ones are redone with snap rounding to ``SNAP_GRID`` (1 mm), which moves their
    area by well under a square metre.
    """

    def run(a: np.ndarray, b: np.ndarray | shapely.Geometry) -> np.ndarray:
        try:
            return op(a, b)
        except shapely.errors.GEOSException:
            pass
        a = np.asarray(a, dtype=object)
        b_all = np.broadcast_to(np.asarray(b, dtype=object), a.shape)
        out = np.empty(len(a), dtype=object)
        snapped = 0
        for k in range(len(a)):
            try:
                out[k] = op(a[k], b_all[k])
            except shapely.errors.GEOSException:
                out[k] = op(a[k], b_all[k], grid_size=SNAP_GRID)
                snapped += 1
        logger.warning(
            "%s: %d overlays failed in floating point and were redone on a %g m grid",
            op.__name__,
            snapped,
            SNAP_GRID,
        )
        return out

    return run


intersection = safe(shapely.intersection)
difference = safe(shapely.difference)


def _coverage_union(geoms: np.ndarray) -> shapely.Geometry:
    try:
        return shapely.coverage_union_all(geoms)
    except shapely.errors.GEOSException:  # overlapping polygons: the full union handles them
        return _full_union(geoms)


def _full_union(geoms: np.ndarray) -> shapely.Geometry:
    try:
        return shapely.union_all(geoms)
    except shapely.errors.GEOSException:
        logger.warning("a union failed in floating point and was redone on a %g m grid", SNAP_GRID)
        return shapely.union_all(geoms, grid_size=SNAP_GRID)


def union_by(geoms: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Union of the geometries of each group ``0 .. n_groups - 1`` (None for empty groups).

    Polygons of one group are expected to form a coverage (no overlaps), so GEOS's coverage
    union (which only removes shared edges) does the job several times faster than a full
    overlay; a group whose coverage union is invalid or loses area (overlapping or not
    quite matching polygons) falls back to the full union.
    """
    geoms = np.asarray(geoms, dtype=object)
    codes = np.asarray(codes, dtype=np.int64)
    out = np.full(n_groups, None, dtype=object)
    if not len(geoms):
        return out
    sort = np.argsort(codes, kind="stable")
    sorted_codes = codes[sort]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    stops = np.r_[starts[1:], len(sorted_codes)]
    keys = sorted_codes[starts]
    sorted_geoms = geoms[sort]
    area = shapely.area(sorted_geoms)
    single = stops - starts == 1
    out[keys[single]] = sorted_geoms[starts[single]]
    multi = np.flatnonzero(~single)

    def run(a: int, b: int) -> None:
        for g in multi[a:b].tolist():
            out[keys[g]] = _coverage_union(sorted_geoms[starts[g] : stops[g]])

    map_ranges(run, len(multi), piece=_GROUP_PIECE, min_piece=_GROUP_PIECE // 4)
    # A coverage union of polygons that are not quite a coverage can come out invalid or
    # lose area: redo those groups with the full union.
    expected = np.add.reduceat(area, starts)[multi]
    got = out[keys[multi]]
    valid = map_chunks(shapely.is_valid, got, min_piece=_GROUP_PIECE // 4)
    bad = ~valid | ~np.isclose(shapely.area(got), expected, rtol=1e-9)
    for g in multi[bad].tolist():
        out[keys[g]] = _full_union(sorted_geoms[starts[g] : stops[g]])
    return out


def subtract_each(geoms: np.ndarray, target: np.ndarray, cutters: np.ndarray) -> np.ndarray:
    """``geoms`` with every ``cutters[k]`` removed from ``geoms[target[k]]``.

    Differences run in rounds: round r removes the r-th cutter of every target at once, so
    the work is one vectorised call per round (as many rounds as the most cut geometry
    has cutters) rather than one call per pair.
    """
    out = np.asarray(geoms, dtype=object).copy()
    target = np.asarray(target, dtype=np.int64)
    if not len(target):
        return out
    order = np.argsort(target, kind="stable")
    target, cutters = target[order], np.asarray(cutters, dtype=object)[order]
    rank = pd.Series(target).groupby(target).cumcount().to_numpy()
    for r in range(int(rank.max()) + 1):
        sel = rank == r
        t = target[sel]
        out[t] = difference(out[t], cutters[sel])
    return out
