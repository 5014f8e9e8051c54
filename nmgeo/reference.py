"""Reference layers of the Northern Metropolis, from package data, in EPSG:2326."""

from __future__ import annotations

import functools
import logging
from importlib import resources
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from nmgeo._crs import HK80, WGS84
from nmgeo._time import network_year
from nmgeo.errors import InputError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = [
    "STATION_STATUSES",
    "control_points",
    "major_zones",
    "nm_boundary",
    "rail_stations",
]

logger = logging.getLogger(__name__)

STATION_STATUSES: tuple[str, ...] = ("open", "planned")

_DATA = "data"


def _data_file(name: str) -> Traversable:
    """The packaged data file ``nmgeo/data/<name>``."""
    return resources.files("nmgeo").joinpath(_DATA, name)


@functools.cache
def _points(name: str) -> gpd.GeoDataFrame:
    """Parse a packaged point CSV (``easting``/``northing`` in EPSG:2326), once.

    The stored HK1980 Grid coordinates are the geometry as they are; ``lat``/``lon``
    (WGS84, degrees) are derived from them with pyproj and placed after ``northing``.
    """
    with _data_file(name).open("r", encoding="utf-8") as fh:
        table = pd.read_csv(fh)
    points = gpd.points_from_xy(table["easting"], table["northing"], crs=HK80)
    wgs84 = gpd.GeoSeries(points, crs=HK80).to_crs(WGS84)
    at = table.columns.get_loc("northing") + 1
    table.insert(at, "lat", wgs84.y.to_numpy())
    table.insert(at + 1, "lon", wgs84.x.to_numpy())
    gdf = gpd.GeoDataFrame(table, geometry=points, crs=HK80)
    logger.debug("loaded %d rows from nmgeo/data/%s", len(gdf), name)
    return gdf


@functools.cache
def _polygons(name: str) -> gpd.GeoDataFrame:
    """Parse a packaged GeoJSON (WGS84) into EPSG:2326, once."""
    with resources.as_file(_data_file(name)) as path:
        gdf = gpd.read_file(path)
    if gdf.crs is None:  # RFC 7946 GeoJSON is WGS84 by definition
        gdf = gdf.set_crs(WGS84)
    gdf = gdf.to_crs(HK80)
    logger.debug("loaded %d features from nmgeo/data/%s", len(gdf), name)
    return gdf


def control_points() -> gpd.GeoDataFrame:
    """The seven land boundary control points (BCPs) between Hong Kong and Shenzhen.

    Positions are the Immigration Department's published HK1980 Grid Easting/Northing
    (dataset "Control Points", DATA.GOV.HK, whole metres), stored as they are in
    ``nmgeo/data/control_points.csv``. A control point is a building complex a few
    hundred metres across; the published point stands for it to within ``accuracy_m``
    (100-150 m). Use them for proximity analysis (how far a land package is from a
    crossing); where the edge of the complex matters, measure to your own polygon.

    Returns
    -------
    geopandas.GeoDataFrame
        Seven rows, point geometry in EPSG:2326 (metres) at ``easting``/``northing``, a
        fresh copy on every call. Columns:

        - ``name`` -- English name, with the Shenzhen-side port in brackets where it
          differs (e.g. "Lok Ma Chau (Huanggang)").
        - ``name_zh`` -- Chinese name (traditional characters).
        - ``mode`` -- what crosses there: ``"rail"``, ``"road"`` or
          ``"road and pedestrian"``; rail crossings serve passengers only, road
          crossings also goods vehicles, which matters for logistics sites.
        - ``published_name`` -- the facility's name in the Immigration Department's
          dataset.
        - ``easting``, ``northing`` -- the published HK1980 Grid position, metres.
        - ``lat``, ``lon`` -- the same point in WGS84, degrees, derived with pyproj (the
          dataset's own WGS84 points differ from its Easting/Northing by up to 54 m and
          are not used).
        - ``accuracy_m`` -- how well the point stands for the control-point complex,
          metres (100 for the compact crossings, 150 for the large road complexes);
          distances to a BCP are not meaningful below this.
        - ``source`` -- the dataset, its update date and what the point stands for. The
          Shenzhen Bay control point is the Hong Kong Port Area co-located in the
          Shenzhen Bay Port on the Shenzhen side, across Deep Bay and outside
          :func:`nm_boundary`.

    Examples
    --------
    >>> from nmgeo import reference
    >>> bcp = reference.control_points()
    >>> len(bcp), bcp.crs.to_epsg()
    (7, 2326)
    >>> int(bcp.set_index("name").loc["Lo Wu", "accuracy_m"])
    100
    """
    return _points("control_points.csv").copy()


def rail_stations(*, as_of: int | None = None, status: str | None = None) -> gpd.GeoDataFrame:
    """Open and planned heavy-rail stations in and around the Northern Metropolis.

    Positions are stored in HK1980 Grid metres in ``nmgeo/data/rail_stations.csv``:

    - open stations at the Lands Department's location-search positions (station
      address points, about 30 m from the station's centre; copy in the public
      repository ``molamowb/projectwb``, projected with pyproj);
    - planned Kwu Tung on the railway zones of plan S/KTN/4 (about 200 m);
    - the other planned stations at announced sites (500 m for Hung Shui Kiu and San
      Tin, 1,000 m for Au Tau and Ngau Tam Mei, whose exact sites are still being
      planned).

    Opening years of planned stations are announced targets; they change, so treat
    them as a scenario and edit the data when the programme moves.

    Parameters
    ----------
    as_of : int, optional
        A calendar year. Keep only stations open by that year (``opening_year <=
        as_of``), counting planned stations as opening in their target year: the
        network a development completed in ``as_of`` could rely on. ``None`` (the
        default) keeps every station.
    status : {"open", "planned"}, optional
        Keep only stations with this status *in the dataset* (``"open"`` = in service
        today, ``"planned"`` = committed but not built). ``None`` keeps both. It
        combines with ``as_of`` (both filters apply).

    Returns
    -------
    geopandas.GeoDataFrame
        Point geometry in EPSG:2326 (metres), a fresh copy on every call. Columns:

        - ``name`` -- station name.
        - ``line`` -- ``"East Rail Line"``, ``"Tuen Ma Line"`` or ``"Northern Link"``.
        - ``status`` -- ``"open"`` or ``"planned"`` in the dataset; ``as_of`` does not
          rewrite it.
        - ``opening_year`` -- year opened (open stations) or announced target year
          (planned stations).
        - ``year_note`` -- which of the two ``opening_year`` is.
        - ``easting``, ``northing`` -- HK1980 Grid position, metres (the geometry).
        - ``lat``, ``lon`` -- the same point in WGS84, degrees, derived with pyproj.
        - ``accuracy_m`` -- positional accuracy, metres; walking-distance catchments
          finer than this are not meaningful.
        - ``source`` -- where the position (and a planned station's year) comes from.

    Raises
    ------
    InputError
        If ``as_of`` is not an integer year or ``status`` is not one of the valid values.

    Examples
    --------
    >>> from nmgeo import reference
    >>> today = reference.rail_stations(as_of=2026)
    >>> later = reference.rail_stations(as_of=2034)
    >>> "San Tin" in set(later["name"]) - set(today["name"])
    True
    """
    if as_of is not None:
        as_of = network_year(as_of)  # the one check of a year, shared with every verb
    if status is not None and status not in STATION_STATUSES:
        msg = f"status must be one of {', '.join(STATION_STATUSES)} or None, not {status!r}"
        raise InputError(msg)
    stations = _points("rail_stations.csv")
    keep = pd.Series(True, index=stations.index)
    if as_of is not None:
        keep &= stations["opening_year"] <= int(as_of)
    if status is not None:
        keep &= stations["status"] == status
    return stations.loc[keep].reset_index(drop=True).copy()


def nm_boundary() -> gpd.GeoDataFrame:
    """The outline of the Northern Metropolis: Yuen Long and North districts and the Loop.

    The land of Yuen Long and North districts (Census and Statistics Department, 2001
    District Council boundaries, land only, including North district's islands) plus
    the Lok Ma Chau Loop (the plan area of S/LMCL, which the 2001 boundaries predate),
    about 27,600 ha in 40 parts. Its edge is as accurate as the generalised 2001
    district layer, about 100 m: the Town Planning Board's zoning of the 24 North
    district plans reaches at most 66 m beyond it. It is stored in WGS84 to 1e-5
    degree (every vertex within 0.8 m of the source polygons, IoU 0.9998); the source
    polygons are ``nmgeo/data/nm_districts.geojson``. The Shenzhen Bay control point
    (the Hong Kong Port Area on the Shenzhen side) lies outside it. It is not a
    statutory boundary: use it to clip study areas and to check that data fall in the
    NM.

    Returns
    -------
    geopandas.GeoDataFrame
        One (multi)polygon in EPSG:2326 (metres), a fresh copy on every call. Columns:

        - ``name`` -- what the outline covers.
        - ``area_note`` -- its area in hectares, by district.
        - ``accuracy_m`` -- positional accuracy of the edge, metres.
        - ``source`` -- the datasets it is built from.

    Examples
    --------
    >>> from nmgeo import reference
    >>> outline = reference.nm_boundary()
    >>> bool(25_000 < outline.area.sum() / 1e4 < 32_000)  # hectares
    True
    """
    return _polygons("nm_boundary.geojson").copy()


def major_zones() -> gpd.GeoDataFrame:
    """The four major zones of the Northern Metropolis Action Agenda.

    They partition :func:`nm_boundary` exactly: no overlaps, and together they cover it
    (the outer edge is the outline's, about 100 m). The edges between zones are drawn
    after the Action Agenda diagrams, about 1 km accuracy. Zone 1 lies west and
    south-west (about 6,500 ha), zone 2 in the centre-north with the Lok Ma Chau Loop
    (2,700 ha), zone 3 in the north-east (6,800 ha), zone 4 around the edges (11,600
    ha: the Deep Bay coast, the country-park hills along the south, and the north-east
    with Robin's Nest, Sha Tau Kok, Plover Cove and the islands). Use them to say which
    planning theme a site falls under, not where a zone's edge runs. Sites outside
    Yuen Long and North districts get no zone.

    Returns
    -------
    geopandas.GeoDataFrame
        Four (multi)polygons in EPSG:2326 (metres), a fresh copy on every call. Columns:

        - ``zone_id`` -- 1 to 4.
        - ``name`` -- the zone's name in the Action Agenda, e.g. "Innovation and
          Technology Zone".
        - ``short_name`` -- stable identifier: ``professional_logistics``,
          ``innovation_technology``, ``boundary_commerce``, ``blue_green``.
        - ``areas`` -- the named sub-areas in the zone, separated by ``"; "``.
        - ``accuracy_m`` -- positional accuracy of the edges between zones, metres.
        - ``source`` -- how they were drawn.

    Examples
    --------
    >>> from nmgeo import reference
    >>> sorted(reference.major_zones()["short_name"])
    ['blue_green', 'boundary_commerce', 'innovation_technology', 'professional_logistics']
    """
    return _polygons("major_zones.geojson").copy()
