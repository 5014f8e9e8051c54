"""Area-weighted overlay: which polygon of one layer covers most of each polygon of another."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from nmgeo._geomops import box_centres_within, clear_of_boundaries
from nmgeo._overlaps import SLIVER_WIDTH
from nmgeo._threads import map_ranges, per_thread, prepared_copy, together

logger = logging.getLogger("nmgeo.zoning")

CHUNK = 50_000
# Right polygons with more vertices than this on average, and fewer in all than there are
# left polygons, first place the left polygons lying clear of their boundaries by a point
# test: prepared predicates against polygons that large cost much per pair, and the grid
# of boundaries costs little next to the many pairs it settles.
_LARGE_VERTICES = 100
# Polygons near a right boundary each cost a predicate and often an overlay against a
# large polygon (tens of microseconds): a thousand of them are worth a thread.
_NEAR_PIECE = 1_000


@dataclass(frozen=True)
class Overlap:
    """Dominant overlap of every left polygon with the right layer.

    Attributes
    ----------
    index : numpy.ndarray
        Position (0-based, in the right layer) of the polygon covering the largest
        area of each left polygon, -1 where none overlaps.
    share : numpy.ndarray
        That largest overlap divided by the left polygon's area (0 where none).
    count : numpy.ndarray
        Number of right polygons overlapping each left polygon by more than a
        sliver (``SLIVER_WIDTH`` times its perimeter).
    """

    index: np.ndarray
    share: np.ndarray
    count: np.ndarray


def dominant_overlap(
    left: np.ndarray,
    right: np.ndarray,
    *,
    tie_key: np.ndarray | None = None,
    progress: bool | None = None,
) -> Overlap:
    """Find, for every left polygon, the right polygon sharing the most area with it.

    A left polygon whose bounding box meets no right boundary lies wholly inside the
    right polygons holding its box's centre and takes its whole area from them. For the
    others, candidate pairs come from an STRtree; pairs where the right polygon properly
    contains the left one take the left area without an overlay, so only polygons
    that straddle a boundary pay for a true intersection. An exact tie goes to the
    right polygon whose ``tie_key`` (e.g. its label) sorts first, then to the one
    lying furthest south-west, so the answer never depends on row order.
    """
    left = np.asarray(left, dtype=object)
    right = np.asarray(right, dtype=object)
    n = len(left)
    index = np.full(n, -1, dtype=np.int64)
    share = np.zeros(n, dtype=float)
    count = np.zeros(n, dtype=np.int64)
    if n == 0 or len(right) == 0:
        return Overlap(index, share, count)

    # Polygons clear of every right boundary lie wholly inside (or outside) each right
    # polygon: one point test places them. Only the others take predicates and overlays.
    n_vertices = int(shapely.get_num_coordinates(right).sum())
    grid = n_vertices < n and n_vertices > _LARGE_VERTICES * len(right)
    (left_area, left_length), clear = together(
        lambda: (shapely.area(left), shapely.length(left)),
        lambda: clear_of_boundaries(left, right) if grid else np.zeros(n, dtype=bool),
    )
    near = np.flatnonzero(~clear)
    if progress is None:
        progress = len(near) > 4 * CHUNK

    own_right = per_thread(lambda: prepared_copy(right))

    def piece(start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        part = left[near[start:stop]]
        own = own_right()
        # The tree holds the many left polygons and each prepared right polygon queries it:
        # 2-3x faster than querying a right tree with every left polygon.
        ri, li = shapely.STRtree(part).query(own, predicate="intersects")
        li = near[start + li]
        inside = shapely.contains_properly(own[ri], left[li])
        area = np.where(inside, left_area[li], 0.0)
        todo = np.flatnonzero(~inside)
        area[todo] = shapely.area(shapely.intersection(left[li[todo]], own[ri[todo]]))
        return li, ri, area

    (ci, cr), pieces = together(
        lambda: box_centres_within(left[clear], right),
        lambda: map_ranges(
            piece, len(near), piece=CHUNK, progress=progress, desc="overlay", min_piece=_NEAR_PIECE
        ),
    )
    ci = np.flatnonzero(clear)[ci]
    li = np.concatenate([ci, *(p[0] for p in pieces)])
    ri = np.concatenate([cr, *(p[1] for p in pieces)])
    area = np.concatenate([left_area[ci], *(p[2] for p in pieces)])

    real = area > SLIVER_WIDTH * left_length[li]
    li, ri, area = li[real], ri[real], area[real]
    count = np.bincount(li, minlength=n)
    # Largest area first within each left polygon, exact ties by a canonical rank.
    order = np.lexsort((_tie_rank(right, tie_key)[ri], -area, li))
    li, ri, area = li[order], ri[order], area[order]
    first = np.flatnonzero(np.r_[True, li[1:] != li[:-1]]) if len(li) else np.array([], int)
    index[li[first]] = ri[first]
    with np.errstate(invalid="ignore", divide="ignore"):
        share[li[first]] = np.where(
            left_area[li[first]] > 0, area[first] / left_area[li[first]], 0.0
        )
    return Overlap(index, np.minimum(share, 1.0), count)


def _tie_rank(right: np.ndarray, tie_key: np.ndarray | None) -> np.ndarray:
    """Rank of every right polygon by key, then south-west corner, extent and area."""
    bounds = np.nan_to_num(shapely.bounds(right), nan=np.inf)
    keys = [np.arange(len(right)), shapely.area(right), bounds[:, 3], bounds[:, 2]]
    keys += [bounds[:, 0], bounds[:, 1]]
    if tie_key is not None:
        text = pd.Series(tie_key, dtype=object).astype("string").fillna("\uffff")
        keys.append(text.to_numpy(dtype=str))  # missing keys sort last
    rank = np.empty(len(right), dtype=np.int64)
    rank[np.lexsort(keys)] = np.arange(len(right))
    return rank
