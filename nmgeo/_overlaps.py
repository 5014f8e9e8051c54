"""Detection of lots whose interiors overlap by more than a sliver."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from nmgeo._ids import _N_MESSAGE_IDS, N_ACCOUNT_IDS, ids_at
from nmgeo._threads import n_threads, query_tree

logger = logging.getLogger("nmgeo.io")

# Overlaps thinner on average than this band along a polygon's perimeter (m) are shared
# edges or coordinate noise (a WGS84 round trip shifts HK1980 points by ~0.5 mm), not real
# overlaps: used for lots overlapping lots and for the zoning overlay.
SLIVER_WIDTH = 0.01
# The finest width searched (m): the land fabric resolves every overlap wider than
# round-off, so that no square metre is counted twice.
FINE_WIDTH = 1e-9

# Polygons with at most this many vertices take the vectorised separating-axis test (its
# cost per pair grows with the product of the two vertex counts); others are intersected.
_SAT_MAX_VERTICES = 16
# Pairs tested per block of numpy operations.
_SAT_BLOCK = 32_768
# Values in one array of projections (edges x vertices x pairs): 8 MB.
_SAT_ELEMENTS = 1 << 20
# Pairs intersected per shapely call.
_AREA_CHUNK = 50_000


def find_overlaps(
    geoms: np.ndarray, *, sliver_width: float = SLIVER_WIDTH
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Find the pairs of polygons whose interiors overlap by more than a sliver.

    A pair counts when the area of its intersection exceeds ``sliver_width`` (m) times the
    smaller perimeter of the two, as in the zoning overlay: shared edges and coordinate
    noise (a WGS84 round trip moves HK1980 points by ~0.5 mm) never count.

    Parameters
    ----------
    geoms : numpy.ndarray
        Valid polygons (Polygon or MultiPolygon) in a metric CRS; None and empty
        geometries are ignored.
    sliver_width : float, default ``SLIVER_WIDTH`` (0.01 m)
        Average width below which an overlap is a sliver.

    Returns
    -------
    i, j : numpy.ndarray
        0-based positions of the two polygons of each overlapping pair, ``i < j``, sorted.
    area : numpy.ndarray
        The area of each pair's intersection.

    Notes
    -----
    Candidate pairs are those whose bounding boxes meet (an STRtree query). Most are
    settled without an overlay: pairs whose boxes share no more than the threshold area,
    and pairs whose vertices, projected onto the normal of some edge of either polygon,
    fall in intervals overlapping by at most ``sliver_width`` (a vectorised
    separating-axis test; neighbours sharing an edge pass it along that edge's normal).
    The intersection of such a pair lies in a band ``sliver_width`` wide across that
    normal and no longer than the smaller polygon's diameter, so its area is at most
    ``sliver_width`` times half the smaller perimeter: below the threshold. Only the
    remaining pairs (real overlaps, neighbours interlocking around a concave corner,
    polygons of more than ``_SAT_MAX_VERTICES`` vertices) are intersected.
    """
    geoms = np.asarray(geoms, dtype=object)
    i, j, limit = _candidate_pairs(geoms, sliver_width)
    keep = ~_separated(geoms, i, j, sliver_width)
    return _overlapping(geoms, i[keep], j[keep], limit[keep])


def _candidate_pairs(
    geoms: np.ndarray, sliver_width: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``i < j`` whose bounding boxes share more than their threshold area.

    Returns ``i``, ``j`` and each pair's threshold ``limit``: ``sliver_width`` times the
    smaller perimeter of the two (see :func:`find_overlaps`).
    """
    none = np.empty(0, dtype=np.intp)
    if len(geoms) < 2:
        return none, none, np.empty(0)
    i, j = query_tree(shapely.STRtree(geoms), geoms)
    keep = i < j
    i, j = i[keep], j[keep]

    perimeter = shapely.length(geoms)
    limit = sliver_width * np.minimum(perimeter[i], perimeter[j])
    bounds = shapely.bounds(geoms)
    xmin, ymin, xmax, ymax = (np.ascontiguousarray(bounds[:, k]) for k in range(4))
    box_w = np.minimum(xmax[i], xmax[j]) - np.maximum(xmin[i], xmin[j])
    box_h = np.minimum(ymax[i], ymax[j]) - np.maximum(ymin[i], ymin[j])
    keep = box_w * box_h > limit  # the boxes' overlap bounds the polygons' overlap
    return i[keep], j[keep], limit[keep]


def _overlapping(
    geoms: np.ndarray, i: np.ndarray, j: np.ndarray, limit: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs (i, j) whose intersection area exceeds ``limit``, sorted, and the areas."""
    area = _intersection_areas(geoms[i], geoms[j])
    real = area > limit
    i, j, area = i[real], j[real], area[real]
    order = np.lexsort((j, i))
    return i[order], j[order], area[order]


# Kept over shapely's predicates (benchmarks/bench_overlaps.py, 200k synthetic lots, 2 cores):
# find_overlaps takes 0.7 s with this test vs 1.7 s with prepared shapely.intersects &
# ~shapely.touches and 2.1 s with shapely.relate_pattern("T********") on the same candidates,
# with identical results; with every lot shifted by up to 1 mm, 0.9 s vs 4.3 s and 5.7 s, as
# the predicates leave each sliver overlap between neighbours (104k pairs) to the overlay.
# STRtree.query(predicate="overlaps") takes 9-11 s and misses lots lying within others.
def _separated(geoms: np.ndarray, i: np.ndarray, j: np.ndarray, tolerance: float) -> np.ndarray:
    """True for pairs (i, j) that lie apart along the normal of an edge of either.

    Separating-axis test on the vertices: along the normal of some edge of one geometry,
    the projections of the two vertex sets overlap by at most ``tolerance``. Any direction
    is a valid axis, so the test holds for non-convex geometries too (and is exact for
    convex ones). Geometries with more than ``_SAT_MAX_VERTICES`` vertices are not tested
    (their pairs are reported as not separated).
    """
    out = np.zeros(len(i), dtype=bool)
    if not len(i):
        return out
    n = len(geoms)
    # Vertices: every coordinate but the last, which repeats the first of the last ring.
    n_points = shapely.get_num_coordinates(geoms).astype(np.int64) - 1
    n_points[(n_points < 3) | (n_points > _SAT_MAX_VERTICES)] = 0  # not tested
    # Only single rings are laid out as one vertex table: multipolygons and polygons with
    # holes go to the overlay instead.
    one_ring = (shapely.get_type_id(geoms) == 3) & (shapely.get_num_interior_rings(geoms) == 0)
    n_points[~one_ring] = 0
    used = np.zeros(n, dtype=bool)
    used[i] = True
    used[j] = True
    used &= n_points > 0
    # Geometries with the same number of vertices share a table without padding.
    frames: dict[int, tuple[np.ndarray, ...]] = {}
    row_of = np.full(n, -1, dtype=np.intp)
    for count in np.unique(n_points[used]).tolist():
        members = np.flatnonzero(used & (n_points == count))
        row_of[members] = np.arange(members.size)
        frames[count] = _edge_frames(geoms[members], count)
    ci, cj = n_points[i], n_points[j]
    tested = np.flatnonzero((ci > 0) & (cj > 0))
    if not len(tested):
        return out
    group = ci[tested] * (_SAT_MAX_VERTICES + 1) + cj[tested]
    order = np.argsort(group, kind="stable")
    tested, group = tested[order], group[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    stops = np.r_[starts[1:], len(group)]
    # In blocks, so that the temporaries stay in the CPU cache; numpy releases the GIL on
    # them, so blocks run in threads.
    blocks = []
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        count_a, count_b = divmod(int(group[start]), _SAT_MAX_VERTICES + 1)
        for low in range(start, stop, _SAT_BLOCK):
            blocks.append((tested[low : min(low + _SAT_BLOCK, stop)], count_a, count_b))

    def block(task: tuple[np.ndarray, int, int]) -> None:
        pairs, count_a, count_b = task
        a, b = row_of[i[pairs]], row_of[j[pairs]]
        apart = _apart(frames[count_a], frames[count_b], a, b, tolerance)
        rest = np.flatnonzero(~apart)
        apart[rest] = _apart(frames[count_b], frames[count_a], b[rest], a[rest], tolerance)
        out[pairs] = apart  # blocks write disjoint positions

    threads = min(n_threads(), len(blocks))
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(block, blocks))
    else:
        for task in blocks:
            block(task)
    return out


def _edge_frames(geoms: np.ndarray, count: int) -> tuple[np.ndarray, ...]:
    """Vertices and edge normals of geometries of ``count`` vertices each, with extents.

    Returns ``(vx, vy, nx, ny, low, high)``, arrays of shape ``(count, n)``: vertex k of
    geometry p is ``(vx[k, p], vy[k, p])``; edge k joins it to the next coordinate and has
    the unit normal ``(nx[k, p], ny[k, p])``; the geometry's vertices project onto that
    normal within ``[low[k, p], high[k, p]]``. A zero-length edge gets the extent
    ``[-inf, inf]``, which never separates anything.
    """
    coords = shapely.get_coordinates(geoms).reshape(len(geoms), count + 1, 2)
    xs, ys = np.ascontiguousarray(coords.transpose(2, 1, 0))  # (count + 1, n) each
    vx, vy = xs[:count], ys[:count]
    dx, dy = xs[1:] - vx, ys[1:] - vy
    length = np.hypot(dx, dy)
    edge = length > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        nx, ny = np.where(edge, dy / length, 0.0), np.where(edge, -dx / length, 0.0)
    low, high = _extent(nx, ny, vx, vy)
    low[~edge], high[~edge] = -np.inf, np.inf
    return vx, vy, nx, ny, low, high


def _extent(
    nx: np.ndarray, ny: np.ndarray, vx: list | np.ndarray, vy: list | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest projection of the vertices ``vx[v], vy[v]`` onto ``(nx, ny)``."""
    low = nx * vx[0] + ny * vy[0]
    high = low.copy()
    for v in range(1, len(vx)):
        d = nx * vx[v] + ny * vy[v]
        np.minimum(low, d, out=low)
        np.maximum(high, d, out=high)
    return low, high


def _apart(
    frames_a: tuple[np.ndarray, ...],
    frames_b: tuple[np.ndarray, ...],
    a: np.ndarray,
    b: np.ndarray,
    tolerance: float,
) -> np.ndarray:
    """True where geometry b lies beyond an edge normal of geometry a, within tolerance."""
    _, _, nx, ny, low, high = frames_a
    vx, vy = frames_b[0], frames_b[1]
    out = np.empty(len(a), dtype=bool)
    # All edges of a against all vertices of b at once: (edges, vertices, pairs) arrays
    # of at most _SAT_ELEMENTS values.
    step = max(1, _SAT_ELEMENTS // (nx.shape[0] * vx.shape[0]))
    for start in range(0, len(a), step):
        pa, pb = a[start : start + step], b[start : start + step]
        d = nx[:, pa][:, None] * vx[:, pb][None]
        d += ny[:, pa][:, None] * vy[:, pb][None]
        beyond = d.min(axis=1) >= high[:, pa] - tolerance
        beyond |= d.max(axis=1) <= low[:, pa] + tolerance
        out[start : start + step] = beyond.any(axis=0)
    return out


def _intersection_areas(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Area of each pairwise intersection; snap-rounded to 1 mm where GEOS's overlay fails."""
    area = np.empty(len(left))
    for start in range(0, len(left), _AREA_CHUNK):
        part = slice(start, start + _AREA_CHUNK)
        try:
            area[part] = shapely.area(shapely.intersection(left[part], right[part]))
        except shapely.errors.GEOSException:
            area[part] = shapely.area(
                shapely.intersection(left[part], right[part], grid_size=0.001)
            )
    return area


@dataclass(frozen=True)
class Checked:
    """What reading a lot layer found about its geometries: the pairs overlapping by more
    than ``FINE_WIDTH`` (``i < j``, sorted, with their intersection areas and the smaller
    perimeter of each pair), whether every geometry is valid, and the number of rows."""

    i: np.ndarray
    j: np.ndarray
    area: np.ndarray
    perimeter: np.ndarray
    valid: bool
    n_rows: int

    def overlaps(self, sliver_width: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The pairs :func:`find_overlaps` finds at ``sliver_width`` (>= FINE_WIDTH)."""
        keep = self.area > sliver_width * self.perimeter
        return self.i[keep], self.j[keep], self.area[keep]


# The last layers checked, by the digest of their geometries: a fabric cut from lots just
# read finds them here instead of searching again. Small arrays only (pairs, not shapes).
_CHECKED: OrderedDict[bytes, Checked] = OrderedDict()
_CHECKED_SIZE = 4
_CHECKED_LOCK = threading.Lock()


def digest(geoms: np.ndarray) -> bytes:
    """A digest of polygons' coordinates, vertex counts, types, part counts and areas:
    equal digests mean the same geometries, in the same order."""
    geoms = np.asarray(geoms, dtype=object)
    h = hashlib.blake2b(digest_size=20)
    for values in (
        shapely.get_coordinates(geoms),
        shapely.get_num_coordinates(geoms),
        shapely.get_type_id(geoms),
        shapely.get_num_geometries(geoms),
        shapely.get_num_interior_rings(geoms),
        np.nan_to_num(shapely.area(geoms), nan=-1.0),
    ):
        h.update(np.ascontiguousarray(values).tobytes())
    return h.digest()


def recall(geoms: np.ndarray) -> Checked | None:
    """The check of ``geoms`` if they are the geometries of one of the last layers read
    (the digest is computed only when a layer of as many rows was read)."""
    with _CHECKED_LOCK:
        if not any(c.n_rows == len(geoms) for c in _CHECKED.values()):
            return None
    key = digest(geoms)
    with _CHECKED_LOCK:
        return _CHECKED.get(key)


def _remember(key: bytes, checked: Checked) -> None:
    with _CHECKED_LOCK:
        _CHECKED[key] = checked
        _CHECKED.move_to_end(key)
        while len(_CHECKED) > _CHECKED_SIZE:
            _CHECKED.popitem(last=False)


def check_overlaps(
    geoms: np.ndarray, *, ids: Sequence | None, source: str, valid: bool = False
) -> dict[str, Any]:
    """Find lots overlapping other lots and log one warning naming them; nothing is changed.

    Returns the account fields ``n_overlapping_lots``, ``n_overlap_pairs``,
    ``overlap_area_m2`` (the sum of the pairwise intersection areas) and ``overlap_ids``.
    ``ids`` (aligned with ``geoms``, or None for 0-based row positions) name the lots.
    The search goes down to ``FINE_WIDTH``, and what it found (with ``valid``: whether
    every geometry is known to be valid) is remembered for :func:`recall`; overlaps
    thinner than ``SLIVER_WIDTH`` are not reported.
    """
    geoms = np.asarray(geoms, dtype=object)
    i, j, area = find_overlaps(geoms, sliver_width=FINE_WIDTH)
    perimeter = shapely.length(geoms)
    checked = Checked(i, j, area, np.minimum(perimeter[i], perimeter[j]), valid, len(geoms))
    _remember(digest(geoms), checked)
    i, j, area = checked.overlaps(SLIVER_WIDTH)
    counts: dict[str, Any] = {
        "n_overlapping_lots": 0,
        "n_overlap_pairs": 0,
        "overlap_area_m2": 0.0,
        "overlap_ids": [],
    }
    if not len(i):
        return counts
    counts["n_overlapping_lots"] = int(np.unique(np.concatenate([i, j])).size)
    counts["n_overlap_pairs"] = int(len(i))
    counts["overlap_area_m2"] = float(area.sum())
    first, second = ids_at(i[:N_ACCOUNT_IDS], ids), ids_at(j[:N_ACCOUNT_IDS], ids)
    counts["overlap_ids"] = [list(pair) for pair in zip(first, second, strict=True)]
    label = "rows" if ids is None else (getattr(ids, "name", None) or "id")
    shown = ", ".join(
        f"({_plain_repr(a, ids)}, {_plain_repr(b, ids)})"
        for a, b in zip(first[:_N_MESSAGE_IDS], second[:_N_MESSAGE_IDS], strict=True)
    )
    pairs = "1 pair" if len(i) == 1 else f"{len(i)} pairs"
    logger.warning(
        "%s: %d lots overlap other lots by more than a sliver (%s, %.1f m2 in all), e.g. %s "
        "%s; areas of these lots count the overlap twice; fix the source or dissolve the "
        "duplicates.",
        source,
        counts["n_overlapping_lots"],
        pairs,
        counts["overlap_area_m2"],
        label,
        shown,
    )
    return counts


def _plain_repr(value: Any, ids: Sequence | None) -> str:
    return str(value) if ids is None else repr(value)
