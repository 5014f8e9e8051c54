"""Straight-line access: distances to boundary crossings and rail, by year, and catchments."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from nmgeo import reference
from nmgeo._crs import as_hk80
from nmgeo._limits import check_limit
from nmgeo._threads import map_chunks
from nmgeo._time import network_year
from nmgeo.errors import InputError, SchemaError

__all__ = [
    "bcp_proximity",
    "catchment_share",
    "distance_matrix",
    "proximity",
    "proximity_timeline",
    "rail_proximity",
    "rail_walk_year",
]

logger = logging.getLogger("nmgeo.proximity")

# Rows per block of the polygon x target distance matrix (bounds memory to ~50 MB).
CHUNK_CELLS = 6_000_000
# Segments per quarter circle of catchment discs: area within 0.01 % of the true circle.
QUAD_SEGS = 64


def _targets(targets: gpd.GeoDataFrame, name_column: str) -> tuple[np.ndarray, np.ndarray]:
    if len(targets) == 0:
        msg = "targets is empty; pass at least one point (e.g. nmgeo.reference.control_points())"
        raise InputError(msg)
    if name_column not in targets.columns:
        msg = (
            f"targets have no {name_column!r} column; pass name_column= one of "
            f"{[c for c in targets.columns if c != targets.geometry.name]}"
        )
        raise SchemaError(msg)
    t = as_hk80(targets, "targets")
    geoms = t.geometry.to_numpy()
    if shapely.is_empty(geoms).any() or pd.isna(geoms).any():
        msg = "targets contain empty geometries; drop them first"
        raise InputError(msg)
    return geoms, t[name_column].astype(object).to_numpy()


def _distance_blocks(geoms: np.ndarray, targets: np.ndarray):
    """Yield (row slice, distance block) of the polygons x targets matrix, in metres."""
    step = max(1, CHUNK_CELLS // max(len(targets), 1))
    for start in range(0, len(geoms), step):
        block = geoms[start : start + step]
        yield slice(start, start + len(block)), shapely.distance(block[:, None], targets[None, :])


def distance_matrix(
    gdf: gpd.GeoDataFrame, targets: gpd.GeoDataFrame, *, name_column: str = "name"
) -> pd.DataFrame:
    """Straight-line distance from every polygon to every target.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Polygons (lots, packages), any CRS.
    targets : geopandas.GeoDataFrame
        Targets (points such as control points or stations, or any geometry).
    name_column : str
        Column of ``targets`` naming them; becomes the column labels.

    Returns
    -------
    pandas.DataFrame
        Index of ``gdf``, one column per target, values in metres (EPSG:2326): the
        minimum distance between the polygon and the target, 0 when they touch or the
        target lies inside.
    """
    geoms = as_hk80(gdf, "gdf").geometry.to_numpy()
    tgeoms, names = _targets(targets, name_column)
    out = np.empty((len(geoms), len(tgeoms)))
    for rows, block in _distance_blocks(geoms, tgeoms):
        out[rows] = block
    return pd.DataFrame(out, index=gdf.index, columns=pd.Index(names, name=name_column))


def proximity(
    gdf: gpd.GeoDataFrame,
    targets: gpd.GeoDataFrame,
    *,
    name_column: str = "name",
    prefix: str | None = None,
    k: int = 1,
) -> gpd.GeoDataFrame:
    """Nearest target(s) of every polygon and the straight-line distance to it.

    Exact polygon-to-target distances are computed only for the targets that can be
    among the ``k`` nearest, found with bounding-circle bounds on a vectorised
    centre-to-centre distance matrix (fast for the tens to hundreds of targets
    planners use: control points, stations). Ties go to the target listed first.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Polygons (lots, packages), any CRS; distances are in EPSG:2326 metres.
    targets : geopandas.GeoDataFrame
        Points (or any geometry) to measure to, with a name column.
    name_column : str
        Column of ``targets`` naming them.
    prefix : str, optional
        Prefix of the new columns; default ``"nearest_"``.
    k : int
        Number of nearest targets to report.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``gdf`` with, for ``k = 1``, ``{prefix}name`` (the nearest target)
        and ``{prefix}distance_m`` (metres from the polygon's edge to the target, 0 when
        the target is inside or on the polygon); for ``k > 1``, ``{prefix}name_1`` …
        ``{prefix}name_k`` and ``{prefix}distance_m_1`` … in increasing distance.
        Straight-line distance understates travel: see :func:`nmgeo.network_distance`.
    """
    prefix = "nearest_" if prefix is None else prefix
    if not isinstance(k, (int, np.integer)) or k < 1:
        msg = f"k must be a whole number >= 1, not {k!r}"
        raise InputError(msg)
    geoms = as_hk80(gdf, "gdf").geometry.to_numpy()
    tgeoms, names = _targets(targets, name_column)
    k_eff = min(int(k), len(tgeoms))
    if k > len(tgeoms):
        logger.warning("proximity: k=%d but only %d targets; reporting %d", k, len(tgeoms), k_eff)
    idx, dist = _nearest(geoms, tgeoms, k_eff)
    out = gdf.copy()
    if k == 1:
        found = idx[:, 0] >= 0
        out[f"{prefix}name"] = np.where(found, names[np.maximum(idx[:, 0], 0)], None)
        out[f"{prefix}distance_m"] = dist[:, 0]
        return out
    for j in range(k_eff):
        found = idx[:, j] >= 0
        out[f"{prefix}name_{j + 1}"] = np.where(found, names[np.maximum(idx[:, j], 0)], None)
        out[f"{prefix}distance_m_{j + 1}"] = dist[:, j]
    return out


def _nearest(geoms: np.ndarray, targets: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and distances (m) of the ``k`` nearest targets of every geometry.

    Exact. Each geometry's bounding box gives a centre ``c`` and a radius ``R`` (half
    its diagonal), so for every target ``d(c, t) - R <= d(geom, t) <= d(c, t) + R``;
    only targets whose lower bound beats the k-th smallest upper bound can be among
    the k nearest, and only those pairs get an exact GEOS distance. Ties go to the
    target listed first. Missing or empty geometries get index -1 and NaN.
    """
    n, m = len(geoms), len(targets)
    idx = np.full((n, k), -1, dtype=np.int64)
    dist = np.full((n, k), np.nan)
    valid = np.flatnonzero(~(pd.isna(geoms) | shapely.is_empty(geoms)))
    if len(valid) == 0:
        return idx, dist
    g = geoms[valid]
    bounds = shapely.bounds(g)
    centre = (bounds[:, :2] + bounds[:, 2:]) / 2
    radius = np.hypot(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1]) / 2
    tb = shapely.bounds(targets)
    tcentre = (tb[:, :2] + tb[:, 2:]) / 2
    tradius = np.hypot(tb[:, 2] - tb[:, 0], tb[:, 3] - tb[:, 1]) / 2
    rows_all, cols_all = [], []
    step = max(1, CHUNK_CELLS // max(m, 1))
    for start in range(0, len(g), step):
        sl = slice(start, start + step)
        dc = np.hypot(
            centre[sl, 0, None] - tcentre[None, :, 0], centre[sl, 1, None] - tcentre[None, :, 1]
        )
        slack = radius[sl, None] + tradius[None, :]
        upper = dc + slack
        kth = np.partition(upper, k - 1, axis=1)[:, k - 1] if m > k else upper.max(axis=1)
        rows, cols = np.nonzero(dc - slack <= kth[:, None] + 1e-9)
        rows_all.append(rows + start)
        cols_all.append(cols)
    rows = np.concatenate(rows_all)
    cols = np.concatenate(cols_all)
    d = map_chunks(shapely.distance, g[rows], targets[cols])
    order = np.lexsort((cols, d, rows))
    rows, cols, d = rows[order], cols[order], d[order]
    start_of = np.searchsorted(rows, np.arange(len(g)))
    rank = np.arange(len(rows)) - start_of[rows]
    keep = rank < k
    idx[valid[rows[keep]], rank[keep]] = cols[keep]
    dist[valid[rows[keep]], rank[keep]] = d[keep]
    return idx, dist


def bcp_proximity(gdf: gpd.GeoDataFrame, *, k: int = 1) -> gpd.GeoDataFrame:
    """Nearest land boundary control point(s) of every polygon.

    Uses :func:`nmgeo.reference.control_points` (the seven land BCPs at the Immigration
    Department's published HK1980 Grid positions; each point stands for a control-point
    complex of a few hundred metres, ``accuracy_m`` 100-150 m). Adds ``bcp_name`` and
    ``bcp_distance_m`` (metres, straight line): how far the site is from the nearest
    crossing to Shenzhen, the main driver of boundary commerce and logistics demand. See
    :func:`proximity` for ``k``.
    """
    return proximity(gdf, reference.control_points(), prefix="bcp_", k=k)


def rail_proximity(
    gdf: gpd.GeoDataFrame,
    *,
    as_of: int | None = None,
    status: str | None = None,
    k: int = 1,
) -> gpd.GeoDataFrame:
    """Nearest rail station(s) of every polygon on the network of a year.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Polygons, any CRS.
    as_of : int, optional
        Year of the network: stations whose ``opening_year`` is at most ``as_of`` count,
        planned ones at their announced target year (e.g. ``2034`` adds the Northern
        Link). ``None`` is the current calendar year: the stations open today. The same
        rule holds in every nmgeo verb, report, map and CLI command.
    status : {"open", "planned"}, optional
        Keep only stations of this status in the dataset, on top of ``as_of``.
    k : int
        Number of nearest stations.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with ``rail_name`` and ``rail_distance_m`` (metres, straight line to the
        station point; see :func:`nmgeo.reference.rail_stations` for each station's
        accuracy). ``attrs["as_of"]`` holds the year counted.

    Raises
    ------
    InputError
        ``as_of`` is not an integer year, or no station is open by then.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> site = gpd.GeoDataFrame(geometry=[box(832_000, 838_000, 832_100, 838_100)], crs=2326)
    >>> rail_proximity(site, as_of=2026)["rail_name"].iloc[0]
    'Fanling'
    """
    year = network_year(as_of)
    stations = reference.rail_stations(as_of=year, status=status)
    if len(stations) == 0:
        msg = f"no rail station is open by as_of={year} with status={status!r}"
        raise InputError(msg)
    out = proximity(gdf, stations, prefix="rail_", k=k)
    out.attrs["as_of"] = year
    return out


def _opening_years(stations: gpd.GeoDataFrame | None) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    if stations is None:
        stations = reference.rail_stations()
    if "opening_year" not in stations.columns:
        msg = "stations need an 'opening_year' column (the year each station opens)"
        raise SchemaError(msg)
    opening = pd.to_numeric(stations["opening_year"], errors="coerce").to_numpy(dtype=float)
    return stations, opening


def rail_walk_year(
    gdf: gpd.GeoDataFrame,
    *,
    stations: gpd.GeoDataFrame | None = None,
    walk: float = 800.0,
) -> pd.Series:
    """The first year a station within a walk of every polygon is open.

    The earliest ``opening_year`` of the stations within ``walk`` metres (straight line
    from the polygon's edge to the station point): when the site becomes walkable to
    rail, a proxy for when it can take high-density jobs and homes. For planned
    stations it is the announced target year, so read it as "the earliest year on
    current announcements".

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Polygons, any CRS.
    stations : geopandas.GeoDataFrame, optional
        Stations with ``opening_year``; default :func:`nmgeo.reference.rail_stations`
        (all of them, open and planned).
    walk : float
        Walking distance that counts as served by rail, metres.

    Returns
    -------
    pandas.Series
        ``rail_walk_year`` (nullable integer, aligned on ``gdf.index``; missing where no
        station is ever within ``walk``).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> site = gpd.GeoDataFrame(geometry=[box(832_000, 838_000, 832_100, 838_100)], crs=2326)
    >>> int(rail_walk_year(site, walk=2_000).iloc[0])  # Fanling station, opened 1910
    1910
    """
    walk = check_limit(walk, "walk")
    stations, opening = _opening_years(stations)
    geoms = as_hk80(gdf, "gdf").geometry.to_numpy()
    tgeoms, _ = _targets(stations, "name")
    first = np.full(len(geoms), np.inf)
    valid = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    rows = np.flatnonzero(valid)
    if len(rows):
        li, si = shapely.STRtree(tgeoms).query(geoms[rows], predicate="dwithin", distance=walk)
        np.minimum.at(first, rows[li], opening[si])
    years = np.where(np.isfinite(first), first, np.nan)
    return pd.Series(pd.array(years, dtype="Int64"), index=gdf.index, name="rail_walk_year")


def proximity_timeline(
    gdf: gpd.GeoDataFrame,
    years: Sequence[int] | None = None,
    *,
    as_of: int | None = None,
    stations: gpd.GeoDataFrame | None = None,
    walk: float = 800.0,
    wide: bool = False,
) -> pd.DataFrame:
    """Nearest-station distance of every polygon year by year, as rail lines open.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Polygons, any CRS.
    years : sequence of int, optional
        Years to evaluate (a station counts from its ``opening_year``). Default: the
        year of ``as_of`` and every later year in which a station opens, i.e. every
        year the answer can change.
    as_of : int, optional
        First year of the default ``years``; ``None`` is the current calendar year.
    stations : geopandas.GeoDataFrame, optional
        Stations with ``name`` and ``opening_year``; default
        :func:`nmgeo.reference.rail_stations` (all of them).
    walk : float
        Walking distance that counts as served by rail, metres.
    wide : bool
        Return the wide view instead of the long table (below).

    Returns
    -------
    pandas.DataFrame
        The long table (default): one row per polygon and year, polygons in input order
        and years ascending, with the polygon's index label (column named after the
        index, ``"id"`` if it has no name), ``year``, ``rail_name`` and
        ``rail_distance_m`` (nearest station open by that year, metres, straight line;
        missing when none is) and ``rail_walk`` (True when that station is within
        ``walk``).

        With ``wide=True``: a copy of ``gdf`` with, per year ``Y``, ``rail_name_Y`` and
        ``rail_distance_m_Y``, and ``rail_walk_year`` (see :func:`rail_walk_year`).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> site = gpd.GeoDataFrame(geometry=[box(832_000, 838_000, 832_100, 838_100)], crs=2326)
    >>> proximity_timeline(site, years=(2026, 2034))[["year", "rail_name"]].to_dict("list")
    {'year': [2026, 2034], 'rail_name': ['Fanling', 'Fanling']}
    """
    walk = check_limit(walk, "walk")
    stations, opening = _opening_years(stations)
    if years is None:
        start = network_year(as_of)
        later = np.unique(opening[np.isfinite(opening) & (opening > start)]).astype(int)
        years = [start, *later.tolist()]
    years = sorted({int(y) for y in years})
    if not years:
        msg = "years is empty; pass e.g. years=(2026, 2030, 2034), or None for every change"
        raise InputError(msg)
    geoms = as_hk80(gdf, "gdf").geometry.to_numpy()
    tgeoms, names = _targets(stations, "name")
    n = len(geoms)
    name_by_year = np.full((len(years), n), None, dtype=object)
    dist_by_year = np.full((len(years), n), np.nan)
    for y, year in enumerate(years):  # one vectorised nearest search per network
        open_now = np.flatnonzero(opening <= year)
        if len(open_now) == 0:
            continue
        idx, dist = _nearest(geoms, tgeoms[open_now], 1)
        found = idx[:, 0] >= 0
        name_by_year[y] = np.where(found, names[open_now][np.maximum(idx[:, 0], 0)], None)
        dist_by_year[y] = dist[:, 0]
    if wide:
        out = gdf.copy()
        for y, year in enumerate(years):
            out[f"rail_name_{year}"] = name_by_year[y]
            out[f"rail_distance_m_{year}"] = dist_by_year[y]
        out["rail_walk_year"] = rail_walk_year(gdf, stations=stations, walk=walk).array
        return out
    key = gdf.index.name or "id"
    long = pd.DataFrame(
        {
            key: np.repeat(gdf.index.to_numpy(), len(years)),
            "year": np.tile(np.asarray(years, dtype=np.int64), n),
            "rail_name": name_by_year.T.ravel(),
            "rail_distance_m": dist_by_year.T.ravel(),
        }
    )
    long["rail_walk"] = long["rail_distance_m"].le(walk)
    return long


def catchment_share(
    gdf: gpd.GeoDataFrame,
    targets: gpd.GeoDataFrame,
    radius: float = 500.0,
    *,
    column: str = "catchment_share",
) -> gpd.GeoDataFrame:
    """Share of every polygon's area within ``radius`` metres of any target.

    The catchment is the union of discs of ``radius`` around the targets (exact
    geometry to within 0.01 % of a true circle's area, not a centroid test); each
    polygon's overlap with it is computed by true intersection, polygons wholly
    inside skip the overlay.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Polygons, any CRS.
    targets : geopandas.GeoDataFrame
        Targets (stations, control points …).
    radius : float
        Catchment radius in metres (500 m is a common walking catchment of a station).
    column : str
        Name of the new column.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with ``column``: the fraction (0-1) of the polygon's area inside the
        catchment — 1 means the whole site is within a walk of a station.
    """
    radius = check_limit(radius, "radius")
    geoms = as_hk80(gdf, "gdf").geometry.to_numpy()
    if len(targets) == 0:
        msg = "targets is empty; pass at least one point"
        raise InputError(msg)
    tgeoms = as_hk80(targets, "targets").geometry.to_numpy()
    catchment = shapely.union_all(shapely.buffer(tgeoms, radius, quad_segs=QUAD_SEGS))
    parts = shapely.get_parts(catchment)
    area = shapely.area(geoms)
    covered = np.zeros(len(geoms))
    tree = shapely.STRtree(parts)
    li, ri = tree.query(geoms, predicate="intersects")
    shapely.prepare(parts)
    inside = shapely.contains_properly(parts[ri], geoms[li])
    piece = np.where(inside, area[li], 0.0)
    todo = np.flatnonzero(~inside)
    piece[todo] = shapely.area(shapely.intersection(geoms[li[todo]], parts[ri[todo]]))
    np.add.at(covered, li, piece)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(area > 0, covered / area, 0.0)
    out = gdf.copy()
    out[column] = np.clip(share, 0.0, 1.0)
    return out
