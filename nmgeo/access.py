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
from nmgeo._gc import pauses_gc
from nmgeo._limits import check_limit
from nmgeo._threads import map_chunks
from nmgeo._time import network_year
from nmgeo.errors import InputError, SchemaError

__all__ = [
    "assign_access",
    "assign_rail_timeline",
    "bcp_proximity",
    "catchment_share",
    "distance_matrix",
    "proximity",
    "proximity_timeline",
    "rail_proximity",
    "rail_walk_year",
]

logger = logging.getLogger("nmgeo.access")

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


@pauses_gc
def distance_matrix(
    parcels: gpd.GeoDataFrame, targets: gpd.GeoDataFrame, *, name_column: str = "name"
) -> pd.DataFrame:
    """Straight-line distance from every polygon to every target.

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
        Polygons (lots, packages), any CRS.
    targets : geopandas.GeoDataFrame
        Targets (points such as control points or stations, or any geometry).
    name_column : str
        Column of ``targets`` naming them; becomes the column labels.

    Returns
    -------
    pandas.DataFrame
        Index of ``parcels``, one column per target, values in metres (EPSG:2326): the
        minimum distance between the polygon and the target, 0 when they touch or the
        target lies inside.

    Examples
    --------
    >>> import nmgeo
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> site = gpd.GeoDataFrame(geometry=[box(826_000, 841_500, 826_100, 841_600)], crs=2326)
    >>> d = distance_matrix(site, nmgeo.reference.control_points())
    >>> d.idxmin(axis=1).iloc[0], d.shape
    ('Lok Ma Chau (Huanggang)', (1, 7))
    """
    geoms = as_hk80(parcels, "parcels").geometry.to_numpy()
    tgeoms, names = _targets(targets, name_column)
    out = np.empty((len(geoms), len(tgeoms)))
    for rows, block in _distance_blocks(geoms, tgeoms):
        out[rows] = block
    return pd.DataFrame(out, index=parcels.index, columns=pd.Index(names, name=name_column))


@pauses_gc
def proximity(
    parcels: gpd.GeoDataFrame,
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
    parcels : geopandas.GeoDataFrame
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
        A copy of ``parcels`` with, for ``k = 1``, ``{prefix}name`` (the nearest target)
        and ``{prefix}distance_m`` (metres from the polygon's edge to the target, 0 when
        the target is inside or on the polygon); for ``k > 1``, ``{prefix}name_1`` …
        ``{prefix}name_k`` and ``{prefix}distance_m_1`` … in increasing distance.
        Straight-line distance understates travel: see :func:`nmgeo.network_distance`.

    Examples
    --------
    >>> import nmgeo
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> site = gpd.GeoDataFrame(geometry=[box(826_000, 841_500, 826_100, 841_600)], crs=2326)
    >>> out = proximity(site, nmgeo.reference.control_points(), k=2)
    >>> out[["nearest_name_1", "nearest_name_2"]].iloc[0].tolist()
    ['Lok Ma Chau (Huanggang)', 'Lok Ma Chau Spur Line (Futian)']
    """
    prefix = "nearest_" if prefix is None else prefix
    if not isinstance(k, (int, np.integer)) or k < 1:
        msg = f"k must be a whole number >= 1, not {k!r}"
        raise InputError(msg)
    geoms = as_hk80(parcels, "parcels").geometry.to_numpy()
    tgeoms, names = _targets(targets, name_column)
    k_eff = min(int(k), len(tgeoms))
    if k > len(tgeoms):
        logger.warning("proximity: k=%d but only %d targets; reporting %d", k, len(tgeoms), k_eff)
    idx, dist = _nearest(geoms, tgeoms, k_eff)
    out = parcels.copy()
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
    valid = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
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
    # Candidates come by row, then column: only rows with several need sorting by distance.
    if (np.diff(rows) == 0).any():
        order = np.lexsort((cols, d, rows))
        rows, cols, d = rows[order], cols[order], d[order]
    start_of = np.searchsorted(rows, np.arange(len(g)))
    rank = np.arange(len(rows)) - start_of[rows]
    keep = rank < k
    idx[valid[rows[keep]], rank[keep]] = cols[keep]
    dist[valid[rows[keep]], rank[keep]] = d[keep]
    return idx, dist


@pauses_gc
def bcp_proximity(parcels: gpd.GeoDataFrame, *, k: int = 1) -> gpd.GeoDataFrame:
    """Nearest land boundary control point(s) of every polygon.

    Uses :func:`nmgeo.reference.control_points` (the seven land BCPs at the Immigration
    Department's published HK1980 Grid positions; each point stands for a control-point
    complex of a few hundred metres, ``accuracy_m`` 100-150 m). Adds ``bcp_name`` and
    ``bcp_distance_m`` (metres, straight line): how far the site is from the nearest
    crossing to Shenzhen, the main driver of boundary commerce and logistics demand.

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
        Polygons, any CRS.
    k : int
        Number of nearest control points (see :func:`proximity`).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``parcels`` with ``bcp_name`` and ``bcp_distance_m`` (or
        ``bcp_name_1`` … and ``bcp_distance_m_1`` … for ``k > 1``).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> site = gpd.GeoDataFrame(geometry=[box(826_000, 841_500, 826_100, 841_600)], crs=2326)
    >>> out = bcp_proximity(site)
    >>> out["bcp_name"].iloc[0], round(float(out["bcp_distance_m"].iloc[0]))
    ('Lok Ma Chau (Huanggang)', ...)
    """
    return proximity(parcels, reference.control_points(), prefix="bcp_", k=k)


@pauses_gc
def rail_proximity(
    parcels: gpd.GeoDataFrame,
    *,
    as_of: int | None = None,
    status: str | None = None,
    k: int = 1,
) -> gpd.GeoDataFrame:
    """Nearest rail station(s) of every polygon on the network of a year.

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
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
    out = proximity(parcels, stations, prefix="rail_", k=k)
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


@pauses_gc
def rail_walk_year(
    parcels: gpd.GeoDataFrame,
    *,
    stations: gpd.GeoDataFrame | None = None,
    walk_radius: float = 800.0,
) -> pd.Series:
    """The first year a station within a walk of every polygon is open.

    The earliest ``opening_year`` of the stations within ``walk_radius`` metres
    (straight line from the polygon's edge to the station point): when the site
    becomes walkable to rail, a proxy for when it can take high-density jobs and homes.
    For planned stations it is the announced target year, so read it as "the earliest
    year on current announcements".

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
        Polygons, any CRS.
    stations : geopandas.GeoDataFrame, optional
        Stations with ``opening_year``; default :func:`nmgeo.reference.rail_stations`
        (all of them, open and planned).
    walk_radius : float
        Walking distance that counts as served by rail, metres (800 m is about ten
        minutes on foot).

    Returns
    -------
    pandas.Series
        ``rail_walk_year`` (nullable integer, aligned on ``parcels.index``; missing
        where no station is ever within ``walk_radius``).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> site = gpd.GeoDataFrame(geometry=[box(832_000, 838_000, 832_100, 838_100)], crs=2326)
    >>> int(rail_walk_year(site, walk_radius=2_000).iloc[0])  # Fanling, opened 1910
    1910
    """
    walk_radius = check_limit(walk_radius, "walk_radius")
    return _walk_year(parcels, stations, walk_radius)


def _walk_year(
    parcels: gpd.GeoDataFrame, stations: gpd.GeoDataFrame | None, walk_radius: float
) -> pd.Series:
    stations, opening = _opening_years(stations)
    geoms = as_hk80(parcels, "parcels").geometry.to_numpy()
    tgeoms, _ = _targets(stations, "name")
    first = np.full(len(geoms), np.inf)
    valid = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    rows = np.flatnonzero(valid)
    if len(rows):
        tree = shapely.STRtree(tgeoms)
        li, si = tree.query(geoms[rows], predicate="dwithin", distance=walk_radius)
        np.minimum.at(first, rows[li], opening[si])
    years = np.where(np.isfinite(first), first, np.nan)
    return pd.Series(pd.array(years, dtype="Int64"), index=parcels.index, name="rail_walk_year")


def _timeline_years(
    years: Sequence[int] | None, as_of: int | None, opening: np.ndarray
) -> list[int]:
    """The years asked for, or the ``as_of`` year and every later opening year."""
    if years is None:
        start = network_year(as_of)
        later = np.unique(opening[np.isfinite(opening) & (opening > start)]).astype(int)
        years = [start, *later.tolist()]
    years = sorted({int(y) for y in years})
    if not years:
        msg = "years is empty; pass e.g. years=(2026, 2030, 2034), or None for every change"
        raise InputError(msg)
    return years


def _nearest_by_year(
    parcels: gpd.GeoDataFrame, stations: gpd.GeoDataFrame, opening: np.ndarray, years: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest station name and distance (m), shape ``(len(years), len(parcels))``."""
    geoms = as_hk80(parcels, "parcels").geometry.to_numpy()
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
    return name_by_year, dist_by_year


@pauses_gc
def proximity_timeline(
    parcels: gpd.GeoDataFrame,
    *,
    years: Sequence[int] | None = None,
    as_of: int | None = None,
    stations: gpd.GeoDataFrame | None = None,
    walk_radius: float = 800.0,
) -> pd.DataFrame:
    """Nearest-station distance of every polygon year by year, as rail lines open.

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
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
    walk_radius : float
        Walking distance that counts as served by rail, metres.

    Returns
    -------
    pandas.DataFrame
        One row per polygon and year, polygons in input order and years ascending,
        with the polygon's index label (column named after the index, ``"id"`` if it
        has no name), ``year``, ``rail_name`` and ``rail_distance_m`` (nearest station
        open by that year, metres, straight line; missing when none is) and
        ``rail_walk`` (True when that station is within ``walk_radius``). For one
        column per year on the polygons themselves, see
        :func:`assign_rail_timeline`.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> site = gpd.GeoDataFrame(geometry=[box(832_000, 838_000, 832_100, 838_100)], crs=2326)
    >>> proximity_timeline(site, years=(2026, 2034))[["year", "rail_name"]].to_dict("list")
    {'year': [2026, 2034], 'rail_name': ['Fanling', 'Fanling']}
    """
    walk_radius = check_limit(walk_radius, "walk_radius")
    stations, opening = _opening_years(stations)
    years = _timeline_years(years, as_of, opening)
    name_by_year, dist_by_year = _nearest_by_year(parcels, stations, opening, years)
    key = parcels.index.name or "id"
    long = pd.DataFrame(
        {
            key: np.repeat(parcels.index.to_numpy(), len(years)),
            "year": np.tile(np.asarray(years, dtype=np.int64), len(parcels)),
            "rail_name": name_by_year.T.ravel(),
            "rail_distance_m": dist_by_year.T.ravel(),
        }
    )
    long["rail_walk"] = long["rail_distance_m"].le(walk_radius)
    return long


@pauses_gc
def assign_rail_timeline(
    parcels: gpd.GeoDataFrame,
    *,
    years: Sequence[int] | None = None,
    as_of: int | None = None,
    stations: gpd.GeoDataFrame | None = None,
    walk_radius: float = 800.0,
) -> gpd.GeoDataFrame:
    """Add the nearest station of every year, and the year rail comes within a walk.

    The wide view of :func:`proximity_timeline`: one pair of columns per year on the
    polygons themselves, ready for a report or a map popup.

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
        Polygons, any CRS.
    years, as_of, stations, walk_radius
        As for :func:`proximity_timeline`.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``parcels`` with, per year ``Y``, ``rail_name_Y`` and
        ``rail_distance_m_Y`` (nearest station open by then and the straight-line
        distance to it, metres; missing when none is), and ``rail_walk_year`` (see
        :func:`rail_walk_year`).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> site = gpd.GeoDataFrame(geometry=[box(832_000, 838_000, 832_100, 838_100)], crs=2326)
    >>> out = assign_rail_timeline(site, years=(2026, 2034))
    >>> [c for c in out.columns if c.startswith("rail_")]
    ['rail_name_2026', 'rail_distance_m_2026', 'rail_name_2034', 'rail_distance_m_2034', \
'rail_walk_year']
    """
    walk_radius = check_limit(walk_radius, "walk_radius")
    return _rail_timeline(parcels, years, as_of, stations, walk_radius)


def _rail_timeline(
    parcels: gpd.GeoDataFrame,
    years: Sequence[int] | None,
    as_of: int | None,
    stations: gpd.GeoDataFrame | None,
    walk_radius: float,
) -> gpd.GeoDataFrame:
    stations, opening = _opening_years(stations)
    years = _timeline_years(years, as_of, opening)
    name_by_year, dist_by_year = _nearest_by_year(parcels, stations, opening, years)
    out = parcels.copy()
    for y, year in enumerate(years):
        out[f"rail_name_{year}"] = name_by_year[y]
        out[f"rail_distance_m_{year}"] = dist_by_year[y]
    out["rail_walk_year"] = _walk_year(parcels, stations, walk_radius).array
    return out


@pauses_gc
def catchment_share(
    parcels: gpd.GeoDataFrame,
    targets: gpd.GeoDataFrame,
    *,
    catchment_radius: float = 500.0,
    column: str = "catchment_share",
) -> gpd.GeoDataFrame:
    """Share of every polygon's area within ``catchment_radius`` metres of any target.

    The catchment is the union of discs of ``catchment_radius`` around the targets
    (exact geometry to within 0.01 % of a true circle's area, not a centroid test);
    each polygon's overlap with it is computed by true intersection, polygons wholly
    inside skip the overlay.

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
        Polygons, any CRS.
    targets : geopandas.GeoDataFrame
        Targets (stations, control points …).
    catchment_radius : float
        Catchment radius in metres (500 m is a common walking catchment of a station).
    column : str
        Name of the new column.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with ``column``: the fraction (0-1) of the polygon's area inside the
        catchment — 1 means the whole site is within a walk of a station.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> site = gpd.GeoDataFrame(geometry=[box(0, 0, 100, 100)], crs=2326)
    >>> stop = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs=2326)
    >>> share = catchment_share(site, stop, catchment_radius=100)["catchment_share"]
    >>> round(float(share.iloc[0]), 3)  # a quarter disc of the square: pi / 4
    0.785
    """
    catchment_radius = check_limit(catchment_radius, "catchment_radius")
    out = parcels.copy()
    out[column] = _catchment_share(parcels, targets, catchment_radius)
    return out


def _catchment_share(
    parcels: gpd.GeoDataFrame, targets: gpd.GeoDataFrame, catchment_radius: float
) -> np.ndarray:
    geoms = as_hk80(parcels, "parcels").geometry.to_numpy()
    if len(targets) == 0:
        msg = "targets is empty; pass at least one point"
        raise InputError(msg)
    tgeoms = as_hk80(targets, "targets").geometry.to_numpy()
    discs = shapely.buffer(tgeoms, catchment_radius, quad_segs=QUAD_SEGS)
    parts = shapely.get_parts(shapely.union_all(discs))
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
    return np.clip(share, 0.0, 1.0)


@pauses_gc
def assign_access(
    parcels: gpd.GeoDataFrame,
    *,
    as_of: int | None = None,
    years: Sequence[int] | None = None,
    walk_radius: float = 800.0,
    catchment_radius: float = 500.0,
) -> gpd.GeoDataFrame:
    """Add every access column a package table reports: border crossings and rail.

    The boundary-crossing and rail columns of :func:`nmgeo.package_report`, computed
    here so that the report only assembles them: the nearest land boundary control
    point, the nearest station of the network of ``as_of``, the station distance year
    by year as lines open, the first year rail is within a walk, and the share of the
    land within a station catchment.

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
        Polygons (packages, lots, fabric pieces), any CRS.
    as_of : int, optional
        Year of the rail network counted in ``rail_name``, ``rail_distance_m`` and
        ``rail_catchment_share``: every station whose ``opening_year`` is at most
        ``as_of`` (planned ones at their announced target year). ``None`` is the
        current calendar year, i.e. the stations open today. The year counted is in
        ``attrs["as_of"]``.
    years : sequence of int, optional
        Years of the timeline columns; default the ``as_of`` year and every later year
        in which a station opens.
    walk_radius : float
        Walking distance to a station that counts as served by rail, metres, for
        ``rail_walk_year``.
    catchment_radius : float
        Station catchment radius, metres, for ``rail_catchment_share``.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``parcels`` with ``bcp_name``, ``bcp_distance_m``, ``rail_name``,
        ``rail_distance_m``, ``rail_distance_m_<year>`` per year, ``rail_walk_year`` and
        ``rail_catchment_share`` (see the column glossary of the documentation).
        Distances are straight lines in metres; see :func:`nmgeo.network_distance` for
        road distance.

    Raises
    ------
    InputError
        No station is open by ``as_of``, or a radius is out of range.

    Examples
    --------
    >>> import nmgeo
    >>> s = nmgeo.load_sample()
    >>> sites = assign_access(s.parcels.head(3), as_of=2034)
    >>> sites.attrs["as_of"], bool((sites["bcp_distance_m"] >= 0).all())
    (2034, True)
    """
    walk_radius = check_limit(walk_radius, "walk_radius")
    catchment_radius = check_limit(catchment_radius, "catchment_radius")
    year = network_year(as_of)
    shapes = parcels[[parcels.geometry.name]]
    bcp = bcp_proximity(shapes)
    rail = rail_proximity(shapes, as_of=year)
    timeline = _rail_timeline(shapes, years, year, None, walk_radius)
    stations = reference.rail_stations(as_of=year)
    share = _catchment_share(shapes, stations, catchment_radius)
    out = parcels.copy()
    for name in ("bcp_name", "bcp_distance_m"):
        out[name] = bcp[name].to_numpy()
    for name in ("rail_name", "rail_distance_m"):
        out[name] = rail[name].to_numpy()
    for name in timeline.columns:
        if name.startswith("rail_distance_m_"):
            out[name] = timeline[name].to_numpy()
    out["rail_walk_year"] = timeline["rail_walk_year"].array
    out["rail_catchment_share"] = share
    out.attrs["as_of"] = year
    return out
