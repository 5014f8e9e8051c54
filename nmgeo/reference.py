"""Reference layers of the Northern Metropolis, from package data, in EPSG:2326."""

from __future__ import annotations

import functools
import logging
import numbers
from importlib import resources
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

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

HK80 = "EPSG:2326"
WGS84 = "EPSG:4326"
STATION_STATUSES: tuple[str, ...] = ("open", "planned")

_DATA = "data"


def _data_file(name: str) -> Traversable:
    """The packaged data file ``nmgeo/data/<name>``."""
    return resources.files("nmgeo").joinpath(_DATA, name)


@functools.cache
def _points(name: str) -> gpd.GeoDataFrame:
    """Parse a packaged point CSV (``lat``/``lon`` in WGS84) into EPSG:2326, once."""
    with _data_file(name).open("r", encoding="utf-8") as fh:
        table = pd.read_csv(fh)
    points = gpd.points_from_xy(table["lon"], table["lat"], crs=WGS84)
    gdf = gpd.GeoDataFrame(table, geometry=points, crs=WGS84).to_crs(HK80)
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

    Positions are approximate public-map positions, stored in WGS84 in
    ``nmgeo/data/control_points.csv`` and projected here to HK1980 Grid with pyproj.
    Use them for proximity analysis (how far a land package is from a crossing); for
    design work, replace them with surveyed positions.

    Returns
    -------
    geopandas.GeoDataFrame
        Seven rows, point geometry in EPSG:2326 (metres), a fresh copy on every call.
        Columns:

        - ``name`` -- English name, with the Shenzhen-side port in brackets where it
          differs (e.g. "Lok Ma Chau (Huanggang)").
        - ``name_zh`` -- Chinese name (traditional characters).
        - ``mode`` -- what crosses there: ``"rail"``, ``"road"`` or
          ``"road and pedestrian"``; rail crossings serve passengers only, road
          crossings also goods vehicles, which matters for logistics sites.
        - ``lat``, ``lon`` -- the published WGS84 position, degrees.
        - ``accuracy_m`` -- positional accuracy of ``lat``/``lon``, metres (50-500);
          distances to a BCP are not meaningful below this.
        - ``source`` -- where the position comes from. The Shenzhen Bay control point is
          the Hong Kong Port Area co-located in the Shenzhen Bay Port on the Shenzhen
          side, across Deep Bay from the NM's coast.
    """
    return _points("control_points.csv").copy()


def rail_stations(as_of: int | None = None, status: str | None = None) -> gpd.GeoDataFrame:
    """Open and planned heavy-rail stations in and around the Northern Metropolis.

    Positions are approximate (about 50 m for open stations, 500 m for planned sites)
    and stored in WGS84 in ``nmgeo/data/rail_stations.csv``. Opening years of planned
    stations are announced targets; they change, so treat them as a scenario and edit
    the data when the programme moves.

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
        - ``lat``, ``lon`` -- WGS84 position, degrees.
        - ``accuracy_m`` -- positional accuracy, metres; walking-distance catchments
          finer than this are not meaningful.
        - ``source`` -- where the position comes from.

    Raises
    ------
    InputError
        If ``as_of`` is not an integer year or ``status`` is not one of the valid values.
    """
    if as_of is not None and (isinstance(as_of, bool) or not isinstance(as_of, numbers.Integral)):
        msg = f"as_of must be an integer year such as 2030, not {as_of!r}"
        raise InputError(msg)
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
    """An approximate outline of the Northern Metropolis (Yuen Long and North districts).

    Hand-drawn from public district maps (about 500 m accuracy), about 30,000 ha. It
    follows the Shenzhen River in the north, Starling Inlet and the Plover Cove hills in
    the east, the Pat Sin Leng / Lam Tsuen / Tai Mo Shan / Tai Lam hills in the south
    and the Deep Bay coast in the west, and reaches the Shenzhen Bay control point
    through a narrow corridor along the Shenzhen Bay Bridge. It is not a statutory
    boundary: use it to clip study areas and to check that data fall in the NM, and
    replace it with the official district boundaries where the edge matters.

    Returns
    -------
    geopandas.GeoDataFrame
        One polygon in EPSG:2326 (metres), a fresh copy on every call. Columns:

        - ``name`` -- "Northern Metropolis (approximate outline)".
        - ``area_note`` -- what the outline covers and its area in hectares.
        - ``accuracy_m`` -- positional accuracy of the edge, metres.
        - ``source`` -- how it was drawn.
    """
    return _polygons("nm_boundary.geojson").copy()


def major_zones() -> gpd.GeoDataFrame:
    """The four major zones of the Northern Metropolis Action Agenda.

    Approximate polygons (about 1 km accuracy) drawn after the Action Agenda diagrams.
    They partition :func:`nm_boundary` exactly: no overlaps, and together they cover
    it. Zone 1 lies west and south-west, zone 2 in the centre-north, zone 3 in the
    north-east, zone 4 around the edges (Deep Bay coast, the north-east, and the
    country-park hills along the south and east). Use them to say which planning
    theme a site falls under, not where a zone's edge runs.

    Returns
    -------
    geopandas.GeoDataFrame
        Four polygons in EPSG:2326 (metres), a fresh copy on every call. Columns:

        - ``zone_id`` -- 1 to 4.
        - ``name`` -- the zone's name in the Action Agenda, e.g. "Innovation and
          Technology Zone".
        - ``short_name`` -- stable identifier: ``professional_logistics``,
          ``innovation_technology``, ``boundary_commerce``, ``blue_green``.
        - ``areas`` -- the named sub-areas in the zone, separated by ``"; "``.
        - ``accuracy_m`` -- positional accuracy of the zone edges, metres.
        - ``source`` -- how they were drawn.
    """
    return _polygons("major_zones.geojson").copy()
