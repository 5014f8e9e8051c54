"""Grouped geometry operations: unions by key and differences by many cutters, vectorised."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
import shapely

from nmgeo._threads import MIN_PARALLEL, map_chunks, map_ranges, prepared_copy

logger = logging.getLogger("nmgeo.geometry")

# Groups handled per thread task: at most, and at least when threaded.
_GROUP_PIECE = 2_000
_GROUP_MIN = 32
# Snap-rounding grid (m) for the rare overlay that GEOS cannot node in floating point.
SNAP_GRID = 0.001
# Cell of the grid on which polygon boundaries are marked (m), and the most cells it has.
_CELL_M = 20.0
_MAX_CELLS = 8_000_000
# Up to this many polygons, box_centres_within tests each against all centres directly.
_FEW_POLYGONS = 64


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


def union_by(
    geoms: np.ndarray, codes: np.ndarray, n_groups: int, *, area: np.ndarray | None = None
) -> np.ndarray:
    """Union of the geometries of each group ``0 .. n_groups - 1`` (None for empty groups).

    Polygons of one group are expected to form a coverage (no overlaps), so GEOS's coverage
    union (which only removes shared edges) does the job several times faster than a full
    overlay; a group whose coverage union is invalid or loses area (overlapping or not
    quite matching polygons) falls back to the full union. ``area``: the geometries'
    areas, when the caller has them.
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
    area = shapely.area(sorted_geoms) if area is None else np.asarray(area)[sort]
    single = stops - starts == 1
    out[keys[single]] = sorted_geoms[starts[single]]
    multi = np.flatnonzero(~single)

    def run(a: int, b: int) -> None:
        for g in multi[a:b].tolist():
            out[keys[g]] = _coverage_union(sorted_geoms[starts[g] : stops[g]])

    map_ranges(run, len(multi), piece=_GROUP_PIECE, min_piece=_GROUP_MIN)
    # A coverage union of polygons that are not quite a coverage can come out invalid or
    # lose area: redo those groups with the full union.
    expected = np.add.reduceat(area, starts)[multi]
    got = out[keys[multi]]
    valid = map_chunks(shapely.is_valid, got, min_piece=_GROUP_MIN)
    bad = ~valid | ~np.isclose(shapely.area(got), expected, rtol=1e-9)
    redo = multi[bad]

    def rerun(a: int, b: int) -> None:
        for g in redo[a:b].tolist():
            out[keys[g]] = _full_union(sorted_geoms[starts[g] : stops[g]])

    map_ranges(rerun, len(redo), piece=_GROUP_PIECE, min_piece=1)
    return out


def subtract_each(
    geoms: np.ndarray,
    target: np.ndarray,
    cutters: np.ndarray,
    *,
    min_piece: int = MIN_PARALLEL // 2,
) -> np.ndarray:
    """``geoms`` with every ``cutters[k]`` removed from ``geoms[target[k]]``.

    Differences run in rounds: round r removes the r-th cutter of every target at once, so
    the work is one vectorised call per round (as many rounds as the most cut geometry
    has cutters) rather than one call per pair; a round of at least ``min_piece``
    differences runs in threads (see :func:`nmgeo._threads.map_ranges`).
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
        out[t] = map_chunks(difference, out[t], cutters[sel], min_piece=min_piece)
    return out


def clear_of_boundaries(geoms: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """True where a geometry's bounding box meets no boundary of any of ``polygons``.

    Such a geometry lies wholly inside or wholly outside each polygon, so one point of
    its box settles which polygons hold it (:func:`box_centres_within`) without a
    predicate or an overlay. Method: the boundaries, cut into segments of at most one
    cell, mark the cells of a square grid that their boxes cover; a geometry is clear
    when no marked cell lies in the cells its box covers (a summed-area table answers
    that for every box at once). Cells are assigned by one monotone rounding, so a box
    meeting a segment always shares a marked cell with it: the test errs only towards
    "not clear". Missing and empty geometries are clear (and lie in no polygon).
    """
    geoms = np.asarray(geoms, dtype=object)
    clear = np.ones(len(geoms), dtype=bool)
    parts = shapely.get_parts(np.asarray(polygons, dtype=object))
    box = shapely.bounds(geoms)
    has_box = ~np.isnan(box[:, 0])
    if not len(parts) or not has_box.any():
        return clear
    cell = _CELL_M
    rings = shapely.segmentize(shapely.get_rings(parts), cell)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    x0 = min(xy[:, 0].min(), box[has_box, 0].min())
    y0 = min(xy[:, 1].min(), box[has_box, 1].min())
    x1 = max(xy[:, 0].max(), box[has_box, 2].max())
    y1 = max(xy[:, 1].max(), box[has_box, 3].max())
    # A coarser grid for very large extents keeps the table under _MAX_CELLS cells.
    cell = max(cell, np.sqrt((x1 - x0) * (y1 - y0) / _MAX_CELLS))
    if cell > _CELL_M:
        rings = shapely.segmentize(shapely.get_rings(parts), cell)
        xy, ring = shapely.get_coordinates(rings, return_index=True)
    nx = int((x1 - x0) // cell) + 2
    ny = int((y1 - y0) // cell) + 2
    ix = np.floor((xy[:, 0] - x0) / cell).astype(np.int64)
    iy = np.floor((xy[:, 1] - y0) / cell).astype(np.int64)
    same = ring[1:] == ring[:-1]
    a, b = np.flatnonzero(same), np.flatnonzero(same) + 1
    lo_x, hi_x = np.minimum(ix[a], ix[b]), np.maximum(ix[a], ix[b]) + 1
    lo_y, hi_y = np.minimum(iy[a], iy[b]), np.maximum(iy[a], iy[b]) + 1
    # Cover every segment's cell rectangle: +1/-1 at its corners, then 2D running sums.
    cover = np.zeros((nx + 1, ny + 1), dtype=np.int32)
    np.add.at(cover, (lo_x, lo_y), 1)
    np.add.at(cover, (hi_x, lo_y), -1)
    np.add.at(cover, (lo_x, hi_y), -1)
    np.add.at(cover, (hi_x, hi_y), 1)
    marked = (cover.cumsum(0, dtype=np.int32).cumsum(1, dtype=np.int32) > 0).astype(np.int32)
    table = np.zeros((nx + 2, ny + 2), dtype=np.int32)
    table[1:, 1:] = marked.cumsum(0, dtype=np.int32).cumsum(1, dtype=np.int32)
    k = np.flatnonzero(has_box)
    bx0 = np.floor((box[k, 0] - x0) / cell).astype(np.int64)
    by0 = np.floor((box[k, 1] - y0) / cell).astype(np.int64)
    bx1 = np.floor((box[k, 2] - x0) / cell).astype(np.int64) + 1
    by1 = np.floor((box[k, 3] - y0) / cell).astype(np.int64) + 1
    hits = table[bx1, by1] - table[bx0, by1] - table[bx1, by0] + table[bx0, by0]
    clear[k] = hits == 0
    return clear


def box_centres_within(geoms: np.ndarray, polygons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (geometry, polygon), as positions, where the polygon holds the centre of the
    geometry's bounding box; for geometries clear of the boundaries
    (:func:`clear_of_boundaries`) these are exactly the polygons containing them."""
    geoms = np.asarray(geoms, dtype=object)
    polygons = np.asarray(polygons, dtype=object)
    prepared = prepared_copy(polygons)
    bounds = shapely.bounds(geoms)
    x = (bounds[:, 0] + bounds[:, 2]) / 2
    y = (bounds[:, 1] + bounds[:, 3]) / 2
    if len(polygons) > _FEW_POLYGONS:
        gi, pi = shapely.STRtree(polygons).query(geoms)
        held = shapely.contains_xy(prepared[pi], x[gi], y[gi])
        return gi[held], pi[held]
    # A few (large) polygons: each tests the centres inside its own box.
    found_g, found_p = [], []
    box = shapely.bounds(polygons)
    for k in range(len(polygons)):  # a loop over the polygons, not the rows
        if shapely.is_missing(polygons[k]) or shapely.is_empty(polygons[k]):
            continue
        near = np.flatnonzero(
            (x >= box[k, 0]) & (x <= box[k, 2]) & (y >= box[k, 1]) & (y <= box[k, 3])
        )
        near = near[shapely.contains_xy(prepared[k], x[near], y[near])]
        found_g.append(near)
        found_p.append(np.full(len(near), k, dtype=np.intp))
    if not found_g:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    gi, pi = np.concatenate(found_g), np.concatenate(found_p)
    order = np.lexsort((pi, gi))
    return gi[order], pi[order]
