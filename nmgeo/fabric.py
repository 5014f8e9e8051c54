"""The land fabric: zoned land cut by leased lots into pieces of one zone and one tenure."""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from nmgeo._crs import as_hk80
from nmgeo._gc import pauses_gc
from nmgeo._geomops import difference, intersection, subtract_each, union_by
from nmgeo._ids import combine_parts
from nmgeo._overlaps import FINE_WIDTH, SLIVER_WIDTH, Checked, find_overlaps, recall
from nmgeo._threads import map_chunks, map_ranges, per_thread, prepared_copy, together
from nmgeo._vocabulary import UNZONED
from nmgeo.errors import (
    DuplicateIdError,
    EmptyGeometryError,
    GeometryTypeError,
    InputError,
    SchemaError,
)
from nmgeo.zoning import zones_with_land_use

__all__ = [
    "FABRIC_ACCOUNT",
    "GOVERNMENT",
    "LEASED",
    "TENURES",
    "UNKNOWN_TENURE",
    "is_fabric",
    "land_fabric",
    "lot_extent",
]

logger = logging.getLogger("nmgeo.fabric")

LEASED = "leased"
"""Tenure of a piece of a leased lot: land to resume or have surrendered before a grant."""
GOVERNMENT = "government"
"""Tenure of unleased Government land (zoned land with no lot): grantable as it is."""
UNKNOWN_TENURE = "unknown"
"""Tenure of land without a lot outside the lot data's extent: not known."""
TENURES = (LEASED, GOVERNMENT, UNKNOWN_TENURE)
"""The three tenures, in that order."""
# Values of a user's ownership column that mark a lot as held by the Government.
GOVERNMENT_VALUES = ("government", "government land", "gov")
FABRIC_ACCOUNT = "nmgeo_fabric"
"""Key of ``GeoDataFrame.attrs`` holding the account of :func:`land_fabric`."""

# Zone columns carried onto every piece (those the zones layer has).
ZONE_COLUMNS = ("plan_no", "zone_label", "land_use", "description", "specified_use")
# Remainders smaller than this fraction of their polygon are coordinate noise; dropping them
# changes the total area by less than this fraction.
_NOISE = 1e-10
# Overlaps narrower on average than this (m) are round-off, not land in two places.
_OVERLAP_WIDTH = FINE_WIDTH
_CHUNK = 50_000
# Fewest rows per thread task: lots (each piece costs microseconds) and zone-sized
# polygons (an overlay of two zones of thousands of vertices costs milliseconds), so that
# a district's few thousand lots and few hundred zones use every core too.
_LOT_PIECE = 2_000
_ZONE_PIECE = 16


def government_held(ownership: pd.Series) -> np.ndarray:
    """True where an ownership value says the Government holds the lot (any case)."""
    own = ownership.astype("string").str.strip().str.lower()
    return own.isin(GOVERNMENT_VALUES).fillna(False).to_numpy(dtype=bool)


def is_fabric(parcels: pd.DataFrame) -> bool:
    """True if ``parcels`` looks like the output of :func:`land_fabric`.

    Parameters
    ----------
    parcels : pandas.DataFrame
        Any frame.

    Returns
    -------
    bool
        Whether it has the fabric's ``piece_id``, ``tenure`` and ``zone_row`` columns.

    Examples
    --------
    >>> import nmgeo
    >>> from nmgeo.fabric import is_fabric
    >>> sample = nmgeo.load_sample()
    >>> is_fabric(sample.parcels)
    False
    >>> is_fabric(nmgeo.land_fabric(sample.zones.cx[826_000:830_000, 832_000:836_000]))
    True
    """
    return {"piece_id", "tenure", "zone_row"} <= set(parcels.columns)


@pauses_gc
def land_fabric(
    zones: gpd.GeoDataFrame,
    lots: gpd.GeoDataFrame | None = None,
    *,
    extent: Any = None,
    ownership_column: str | None = None,
    progress: bool | None = None,
) -> gpd.GeoDataFrame:
    """Cut the zoned land by the leased lots into pieces of one zone and one tenure.

    LandsD's lot layer holds leased lots only: unleased Government land has no lot. It is
    the zoned land between the lots, and it is most of what a large-scale land disposal
    package grants. The fabric makes that land visible: every zone is cut by the lots into

    - pieces of a **leased lot** (``tenure = "leased"``, with the lot's id and fields),
    - **unleased Government land** (``tenure = "government"``, no lot), inside ``extent``,
    - land of **unknown tenure** (``tenure = "unknown"``, no lot) outside ``extent``, where
      the lot data is not complete (lots are often downloaded for a few Demarcation
      Districts only; land without a lot there is not known to be Government land),

    and every lot lying outside every zone (e.g. on an unzoned road reserve) becomes an
    unzoned piece (``land_use = "unzoned"``). Every square metre of the zones and of the
    lots is in exactly one piece.

    Method: zones are split into their polygon parts; overlaps between zones (adjacent
    plans drawn over each other) are resolved first, the overlap going to the smaller zone
    (then by plan number, label and position, so the answer never depends on row order),
    and lots overlapping lots likewise (the smaller lot keeps the overlap, then the lower
    id; the lots are cut while their overlaps are searched for, and those that lose one are
    cut again). Lot x zone pairs come from an STRtree; a lot properly inside one zone is one
    piece without an overlay, others are intersected. The Government land of a zone is the zone
    minus the coverage union of the lots it holds pieces of. Work is vectorised shapely 2,
    run in threads.

    Parameters
    ----------
    zones : geopandas.GeoDataFrame
        OZP zones with ``zone_label`` and ``land_use`` (see :func:`nmgeo.read_zones`), any
        CRS; ``plan_no``, ``description`` and ``specified_use`` are carried when present.
    lots : geopandas.GeoDataFrame, optional
        Leased lots with ``parcel_id`` (see :func:`nmgeo.read_parcels`), any CRS. Rows
        sharing a ``parcel_id`` are parts of one lot and are combined (logged). Without
        lots, every piece is a zone of unknown tenure.
    extent : shapely geometry, geopandas.GeoDataFrame or GeoSeries, optional
        Where the lot data is complete (e.g. the boundaries of the Demarcation Districts
        downloaded; :func:`lot_extent` draws one around the lots). Land without a lot is
        Government land inside it and of unknown tenure outside. Default: everywhere the
        zones are (the lots are complete). A bare shapely geometry is taken as EPSG:2326.
    ownership_column : str, optional
        Column of ``lots`` saying who holds each lot, carried onto the pieces as
        ``ownership``; lots whose value is ``"government"`` (any case) are Government land
        (``tenure = "government"``) although they are in the lot layer.
    progress : bool, optional
        Show a progress bar; by default only for large layers.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per piece, EPSG:2326, sorted by ``piece_id``, with:

        ``piece_id``
            ``"F0000001"``…, numbered by position (south-west first): the same layers in
            any row order give the same ids.
        ``tenure``
            ``"leased"``, ``"government"`` or ``"unknown"`` (above).
        ``parcel_id``
            Id of the lot the piece belongs to; missing for land without a lot.
        ``plan_no``, ``zone_label``, ``land_use``, ``description``, ``specified_use``
            The zone's fields (``zone_label`` with its suffix, e.g. ``"C(1)"``); missing,
            and ``land_use = "unzoned"``, for lot land outside every zone.
        ``zone_row``, ``zone_part``
            Row position (0-based) of the zone in ``zones`` and the polygon part of its
            geometry (-1 for unzoned pieces): together they name the zoned site.
        ``area_m2``
            Area of the piece, m² (EPSG:2326).
        ``lot_area_m2``
            Area of the whole lot (all its pieces), m²; missing for land without a lot.
            ``area_m2 < lot_area_m2`` marks a lot cut by a zone boundary.
        ``ownership``
            The lot's ``ownership_column`` value (only when given).
        the lots' other columns
            Carried onto their pieces (missing on land without a lot).

        ``attrs["nmgeo_fabric"]`` holds an account: the numbers of zones, zone parts, lots
        and pieces, lot rows combined, invalid geometries repaired, zone and lot overlaps
        resolved (pairs, m²), and the area (m²) by tenure and of unzoned lot land.

    Raises
    ------
    SchemaError
        ``zones`` lacks ``zone_label`` / ``land_use``, ``lots`` lacks ``parcel_id`` or the
        ownership column.
    DuplicateIdError
        Null lot ids.
    EmptyGeometryError
        Lots without a geometry.
    GeometryTypeError
        An ``extent`` that is not polygonal.

    Examples
    --------
    A 6 km square of the bundled sample:

    >>> import nmgeo
    >>> sample = nmgeo.load_sample()
    >>> zones = sample.zones.cx[826_000:832_000, 832_000:838_000]
    >>> lots = sample.parcels.cx[826_000:832_000, 832_000:838_000]
    >>> fabric = nmgeo.land_fabric(zones, lots)
    >>> sorted(fabric["tenure"].unique())
    ['government', 'leased']
    >>> fabric["parcel_id"].nunique() == len(lots)  # every lot is in the fabric
    True
    >>> bool(fabric["area_m2"].gt(0).all())
    True
    >>> account = fabric.attrs["nmgeo_fabric"]
    >>> round(account["leased_m2"] / 1e4), round(account["government_m2"] / 1e4)  # ha
    (303, 2702)

    With the lot data complete in the western half only, the land without a lot in the
    eastern half is of unknown tenure:

    >>> import shapely
    >>> west = shapely.box(826_000, 832_000, 829_000, 838_000)
    >>> partial = nmgeo.land_fabric(zones, lots, extent=west)
    >>> partial.groupby("tenure")["area_m2"].sum().div(1e4).round().to_dict()  # ha
    {'government': 1473.0, 'leased': 303.0, 'unknown': 1229.0}
    """
    zgdf = _check_zones(zones)
    lgdf = None if lots is None else _check_lots(lots, ownership_column)
    account: dict[str, Any] = {
        "n_zones": len(zgdf),
        "n_lots": 0 if lgdf is None else len(lgdf),
        "n_lot_rows_combined": 0,
        "extent": extent is not None,
    }
    if lgdf is None:
        zparts, zrow, zpart_no = _zone_parts(zgdf, account)
        pieces, lot_rank = _zones_alone(zparts), None
    else:
        zone_account: dict[str, Any] = {}
        lgdf, lot_geoms, checked, lot_account = _lot_geometries(lgdf)
        # The lots are cut by the zones while their overlaps are searched for; the few
        # lots that lose an overlap are cut again.
        (zparts, zrow, zpart_no, cut), lot_rank, pairs = together(
            lambda: _zoned_cut(zgdf, lot_geoms, zone_account, progress),
            lambda: _lot_rank(lgdf),
            lambda: _lot_overlaps(lot_geoms, checked),
        )
        lot_geoms, changed = _resolve_lot_overlaps(lot_geoms, lot_rank, pairs, lot_account)
        account.update(zone_account | lot_account)
        cut = _recut(cut, zparts, lot_geoms, changed)
        pieces = _cut(zparts, lot_geoms, cut, _as_extent(extent))
        if ownership_column is not None:
            _mark_government_lots(pieces, lgdf[ownership_column])
    out = _assemble(pieces, zgdf, zrow, zpart_no, lgdf, lot_rank, ownership_column)
    out.attrs[FABRIC_ACCOUNT] = _close_account(account, out)
    return out


@pauses_gc
def lot_extent(
    lots: gpd.GeoDataFrame, *, by: str | None = None, ratio: float = 0.3
) -> gpd.GeoDataFrame:
    """Draw where a lot layer is complete: a concave hull around the lots (of each group).

    Use it as the ``extent`` of :func:`land_fabric` when the boundaries of the
    Demarcation Districts downloaded are not at hand. Land inside the hull without a lot
    is taken as Government land, outside it as of unknown tenure; a hull is only an
    approximation of the real district boundary, so prefer the official boundaries.

    Parameters
    ----------
    lots : geopandas.GeoDataFrame
        The lot layer, any CRS.
    by : str, optional
        Column grouping lots into districts (e.g. ``"DD"``): one hull per group, so that
        land between districts that were not downloaded stays outside.
    ratio : float
        :func:`shapely.concave_hull` ratio, 0 (tightest) to 1 (convex hull).

    Returns
    -------
    geopandas.GeoDataFrame
        One polygon per group (one in all without ``by``), EPSG:2326, with the group value
        in ``by`` and ``area_ha``.

    Examples
    --------
    >>> import nmgeo
    >>> sample = nmgeo.load_sample()
    >>> lots = sample.parcels.cx[826_000:832_000, 832_000:838_000]
    >>> hull = nmgeo.lot_extent(lots)
    >>> len(hull), list(hull.columns)
    (1, ['group', 'area_ha', 'geometry'])
    >>> bool(hull["area_ha"].iloc[0] >= lots.area.sum() / 1e4)  # it holds every lot
    True

    One hull per Demarcation District:

    >>> districts = nmgeo.lot_extent(lots, by="DD_NO")
    >>> len(districts) == lots["DD_NO"].nunique()
    True
    """
    gdf = as_hk80(lots, "lots")
    if by is not None and by not in gdf.columns:
        msg = f"lot_extent: lots have no column {by!r}; pass by= one of {list(gdf.columns)}"
        raise SchemaError(msg)
    keys = (
        np.zeros(len(gdf), dtype=np.int64)
        if by is None
        else pd.factorize(gdf[by].astype("string").fillna(""), sort=True)[0]
    )
    labels = (
        ["all"] if by is None else sorted(gdf[by].astype("string").fillna("").unique().tolist())
    )
    # The points of each group together (shapely.multipoints needs them grouped).
    grouped = np.argsort(keys, kind="stable")
    coords = shapely.get_coordinates(gdf.geometry.to_numpy()[grouped])
    counts = shapely.get_num_coordinates(gdf.geometry.to_numpy()[grouped])
    owner = np.repeat(keys[grouped], counts)
    hulls = shapely.concave_hull(
        shapely.multipoints(coords, indices=owner), ratio=ratio, allow_holes=False
    )
    lot_union = union_by(gdf.geometry.to_numpy(), keys, len(labels))
    hulls = shapely.union(hulls, lot_union)  # a hull never leaves out part of a lot
    frame = gpd.GeoDataFrame(
        {by or "group": labels, "area_ha": shapely.area(hulls) / 1e4},
        geometry=hulls,
        crs="EPSG:2326",
    )
    return frame


# --------------------------------------------------------------------------- inputs


def _check_zones(zones: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    zones = zones_with_land_use(zones)
    return as_hk80(zones, "zones")


def _valid(geoms: np.ndarray, name: str) -> tuple[np.ndarray, int]:
    """Polygons repaired where invalid (polygon parts of make_valid), and how many were."""
    geoms = np.asarray(geoms, dtype=object).copy()
    bad = np.flatnonzero(~map_chunks(shapely.is_valid, geoms) & ~shapely.is_missing(geoms))
    if len(bad):
        before = shapely.area(geoms[bad]).sum()
        geoms[bad] = _polygonal(shapely.make_valid(geoms[bad], method="structure"))
        logger.warning(
            "land_fabric: repaired %d invalid %s geometries with shapely.make_valid (area "
            "change %.3f m²); read the layers with nmgeo's readers to see which",
            len(bad),
            name,
            np.nansum(shapely.area(geoms[bad])) - before,
        )
    return geoms, len(bad)


def _check_lots(lots: gpd.GeoDataFrame, ownership_column: str | None) -> gpd.GeoDataFrame:
    if "parcel_id" not in lots.columns:
        msg = "lots have no 'parcel_id' column; read them with nmgeo.read_parcels()"
        raise SchemaError(msg)
    if ownership_column is not None and ownership_column not in lots.columns:
        msg = (
            f"ownership_column={ownership_column!r} is not a column of lots; "
            f"choose one of {[c for c in lots.columns if c != 'geometry']}"
        )
        raise SchemaError(msg)
    empty = lots.geometry.isna() | lots.geometry.is_empty
    if empty.any():
        msg = (
            f"lots: {int(empty.sum())} rows have no geometry, e.g. parcel_id "
            f"{lots.loc[empty, 'parcel_id'].head(3).tolist()}; drop them first "
            "(nmgeo.read_parcels(..., on_invalid='drop') does, with an account)"
        )
        raise EmptyGeometryError(msg)
    if lots["parcel_id"].isna().any():
        n = int(lots["parcel_id"].isna().sum())
        msg = f"lots: {n} rows have a null parcel_id; give every lot an id (nmgeo.read_parcels)"
        raise DuplicateIdError(msg)
    return as_hk80(lots, "lots")


def _combine_parts(lgdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int]:
    """Combine rows sharing a ``parcel_id`` (parts of one lot) into one row each."""
    out, first = combine_parts(lgdf)
    n = len(lgdf) - len(out)
    if n:
        logger.info("land_fabric: combined %d lot rows into the lots sharing their parcel_id", n)
    return out.reset_index(drop=True), n


def _as_extent(extent: Any) -> shapely.Geometry | None:
    if extent is None:
        return None
    if isinstance(extent, gpd.GeoDataFrame | gpd.GeoSeries):
        frame = extent if isinstance(extent, gpd.GeoDataFrame) else extent.to_frame("geometry")
        geom = shapely.union_all(as_hk80(frame, "extent").geometry.to_numpy())
    elif isinstance(extent, shapely.Geometry):
        geom = extent
    else:
        msg = (
            f"extent must be a shapely polygon or a GeoDataFrame/GeoSeries of polygons, "
            f"not {type(extent).__name__}"
        )
        raise InputError(msg)
    if shapely.get_type_id(geom) not in (3, 6) or shapely.is_empty(geom):
        msg = f"extent must be a polygon or multipolygon, not {geom.geom_type}"
        raise GeometryTypeError(msg)
    return shapely.make_valid(geom) if not shapely.is_valid(geom) else geom


# --------------------------------------------------------------------------- steps


def _zone_parts(
    zgdf: gpd.GeoDataFrame, account: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The zones' polygon parts with their overlaps resolved, each part's zone row and
    part number; the repairs and overlaps go into ``account``."""
    zgeoms, account["n_zones_repaired"] = _valid(zgdf.geometry.to_numpy(), "zones")
    zparts, zrow = shapely.get_parts(zgeoms, return_index=True)
    polygonal = np.isin(shapely.get_type_id(zparts), (3, 6)) & (shapely.area(zparts) > 0)
    zparts, zrow = zparts[polygonal], zrow[polygonal]
    zpart_no = pd.Series(zrow).groupby(zrow).cumcount().to_numpy()
    zrank = _zone_rank(zgdf, zparts, zrow)
    zparts, _, n_pairs, overlap = _resolve_overlaps(zparts, zrank, _interior_overlaps(zparts))
    account.update(n_zone_parts=len(zparts), n_zone_overlaps=n_pairs, zone_overlap_m2=overlap)
    if n_pairs:
        logger.warning(
            "land_fabric: %d pairs of zones overlap (%.1f m² in all); each overlap is "
            "counted once, in the smaller zone",
            n_pairs,
            overlap,
        )
    return zparts, zrow, zpart_no


def _lot_geometries(
    lgdf: gpd.GeoDataFrame,
) -> tuple[gpd.GeoDataFrame, np.ndarray, Checked | None, dict[str, Any]]:
    """The lots with their parts combined and their invalid geometries repaired, the
    check of their overlaps made on reading (if it still holds) and an account."""
    lgdf, n_combined = _combine_parts(lgdf)
    geoms = lgdf.geometry.to_numpy()
    # Lots just read by read_parcels were checked there: their overlaps are known.
    checked = recall(geoms)
    if checked is not None and checked.valid:
        geoms, n_repaired = np.asarray(geoms, dtype=object).copy(), 0
    else:
        geoms, n_repaired = _valid(geoms, "lots")
        checked = checked if not n_repaired else None
    account = {"n_lot_rows_combined": n_combined, "n_lots_repaired": n_repaired}
    return lgdf, geoms, checked, account


def _lot_overlaps(
    geoms: np.ndarray, checked: Checked | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs of lots overlapping by more than round-off (i, j, area)."""
    if checked is not None:
        return checked.overlaps(_OVERLAP_WIDTH)
    return find_overlaps(geoms, sliver_width=_OVERLAP_WIDTH)


def _resolve_lot_overlaps(
    geoms: np.ndarray,
    rank: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    account: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray]:
    """The lots with each overlap left to the smaller lot, and the positions of the lots
    that changed; the overlaps go into ``account``."""
    geoms, changed, n_pairs, overlap = _resolve_overlaps(geoms, rank, pairs)
    account.update(n_lot_overlaps=n_pairs, lot_overlap_m2=overlap)
    if n_pairs:
        logger.warning(
            "land_fabric: %d pairs of lots overlap (%.1f m² in all); each overlap is "
            "counted once, in the smaller lot",
            n_pairs,
            overlap,
        )
    return geoms, changed


def _zones_alone(zparts: np.ndarray) -> dict[str, np.ndarray]:
    """The pieces without lots: every zone part, of unknown tenure."""
    return {
        "geometry": zparts,
        "lot": np.full(len(zparts), -1),
        "zone": np.arange(len(zparts)),
        "tenure": np.full(len(zparts), UNKNOWN_TENURE, dtype=object),
        "area": shapely.area(zparts),
    }


def _mark_government_lots(pieces: dict[str, np.ndarray], ownership: pd.Series) -> None:
    """Give the pieces of lots the Government holds (by ``ownership``) Government tenure."""
    gov_lot = government_held(ownership)
    on_lot = pieces["lot"] >= 0
    held = np.zeros(len(pieces["geometry"]), dtype=bool)
    held[on_lot] = gov_lot[pieces["lot"][on_lot]]
    pieces["tenure"] = np.where(held, GOVERNMENT, pieces["tenure"])


def _close_account(account: dict[str, Any], out: gpd.GeoDataFrame) -> dict[str, Any]:
    """Add the pieces and their areas by tenure to ``account`` and log them."""
    area = out["area_m2"]
    zoned = out["zone_row"] >= 0
    account.update(
        n_pieces=len(out),
        area_m2=float(area.sum()),
        leased_m2=float(area[out["tenure"].eq(LEASED)].sum()),
        government_m2=float(area[out["tenure"].eq(GOVERNMENT)].sum()),
        unknown_m2=float(area[out["tenure"].eq(UNKNOWN_TENURE)].sum()),
        unzoned_lot_m2=float(area[~zoned].sum()),
    )
    logger.info(
        "land_fabric: %d pieces, %.1f ha: %.1f ha leased lots, %.1f ha Government land, "
        "%.1f ha unknown tenure; %.1f ha of lots lie outside every zone",
        len(out),
        account["area_m2"] / 1e4,
        account["leased_m2"] / 1e4,
        account["government_m2"] / 1e4,
        account["unknown_m2"] / 1e4,
        account["unzoned_lot_m2"] / 1e4,
    )
    return account


# --------------------------------------------------------------------------- ranks


def _rank(keys: list[np.ndarray]) -> np.ndarray:
    """Rank (0 = first) of every row by ``keys`` (first key most significant)."""
    rank = np.empty(len(keys[0]), dtype=np.int64)
    rank[np.lexsort(keys[::-1])] = np.arange(len(keys[0]))
    return rank


def _bounds_keys(geoms: np.ndarray) -> list[np.ndarray]:
    b = np.round(shapely.bounds(geoms), 3)
    return [b[:, 0], b[:, 1], b[:, 2], b[:, 3]]


def _text(values: pd.Series | np.ndarray) -> np.ndarray:
    return pd.Series(values, dtype=object).astype("string").fillna("\uffff").to_numpy(str)


def _zone_rank(zgdf: gpd.GeoDataFrame, parts: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Smaller zones first, then plan number, label and position."""
    plan = _text(zgdf["plan_no"].to_numpy(dtype=object)[row]) if "plan_no" in zgdf else None
    label = _text(zgdf["zone_label"].to_numpy(dtype=object)[row])
    keys = [np.round(shapely.area(parts), 3)]
    keys += [plan] if plan is not None else []
    return _rank([*keys, label, *_bounds_keys(parts)])


def _lot_rank(lgdf: gpd.GeoDataFrame) -> np.ndarray:
    """Smaller lots first, then by id."""
    geoms = lgdf.geometry.to_numpy()
    return _rank([np.round(shapely.area(geoms), 3), _text(lgdf["parcel_id"])])


def _interiors_meet(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return shapely.relate_pattern(a, b, "T********")


def _interior_overlaps(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i < j) of polygons whose interiors meet, with the area they share.

    For polygons of many vertices (zones): a DE-9IM test on the pairs whose boxes meet
    leaves only the pairs that really overlap to be intersected.
    """
    i, j = shapely.STRtree(geoms).query(geoms)
    keep = i < j
    i, j = i[keep], j[keep]
    meet = map_chunks(shapely.intersects, geoms[i], geoms[j], min_piece=4 * _ZONE_PIECE)
    i, j = i[meet], j[meet]
    inner = map_chunks(_interiors_meet, geoms[i], geoms[j], min_piece=_ZONE_PIECE)
    i, j = i[inner], j[inner]
    area = shapely.area(map_chunks(intersection, geoms[i], geoms[j], min_piece=_ZONE_PIECE))
    real = area > 0
    return i[real], j[real], area[real]


def _resolve_overlaps(
    geoms: np.ndarray, rank: np.ndarray, pairs: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Remove from each polygon its overlaps with better-ranked ones: the polygons, the
    positions of those that lost land, and the pairs and m² moved.

    ``pairs`` (i, j, area): the overlapping pairs, from :func:`_interior_overlaps` for
    zones (many vertices each) or the separating-axis filter of
    :func:`nmgeo._overlaps.find_overlaps` for lots.
    """
    i, j, area = pairs
    if not len(i):
        return geoms, np.empty(0, dtype=np.intp), 0, 0.0
    loser = np.where(rank[i] > rank[j], i, j)
    winner = np.where(rank[i] > rank[j], j, i)
    out = subtract_each(geoms, loser, geoms[winner], min_piece=_ZONE_PIECE)
    real = area > SLIVER_WIDTH * np.minimum(shapely.length(geoms[i]), shapely.length(geoms[j]))
    return out, np.unique(loser), int(real.sum()), float(area.sum())


# --------------------------------------------------------------------------- the cut


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep the polygonal parts of geometry collections (an overlay's stray lines/points)."""
    geoms = np.asarray(geoms, dtype=object)
    coll = np.flatnonzero(shapely.get_type_id(geoms) == 7)
    if len(coll):
        parts, idx = shapely.get_parts(geoms[coll], return_index=True)
        keep = np.isin(shapely.get_type_id(parts), (3, 6))
        parts, idx = parts[keep], idx[keep]
        flat, sub = shapely.get_parts(parts, return_index=True)
        fixed = np.full(len(coll), None, dtype=object)
        if len(flat):
            shapely.multipolygons(flat, indices=idx[sub], out=fixed)
        geoms[coll] = fixed
    return geoms


def _zoned_cut(
    zgdf: gpd.GeoDataFrame, lots: np.ndarray, account: dict[str, Any], progress: bool | None
) -> tuple[np.ndarray, ...]:
    """The zones' parts (see :func:`_zone_parts`) and every lot x zone piece of ``lots``
    (see :func:`_lot_zone_pieces`)."""
    zparts, zrow, zpart_no = _zone_parts(zgdf, account)
    cut = _lot_zone_pieces(zparts, lots, shapely.area(lots), progress)
    return zparts, zrow, zpart_no, cut


def _recut(
    cut: tuple[np.ndarray, ...], zones: np.ndarray, lots: np.ndarray, changed: np.ndarray
) -> tuple[np.ndarray, ...]:
    """``cut`` with the pieces of the lots at ``changed`` made again from ``lots``."""
    if not len(changed):
        return cut
    again = _lot_zone_pieces(zones, lots[changed], shapely.area(lots[changed]), False)
    again = (changed[again[0]], *again[1:])
    kept = ~np.isin(cut[0], changed)
    li, zi, geom, inside, area = (
        np.concatenate([old[kept], new]) for old, new in zip(cut, again, strict=True)
    )
    order = np.lexsort((zi, li))
    return li[order], zi[order], geom[order], inside[order], area[order]


def _cut(
    zones: np.ndarray,
    lots: np.ndarray,
    cut: tuple[np.ndarray, ...],
    extent: shapely.Geometry | None,
) -> dict[str, np.ndarray]:
    """Pieces of every lot x zone (``cut``), the lots' unzoned rest and the zones' land
    without lots."""
    lot_area = shapely.area(lots)
    li, zi, geom, inside, area = cut
    (free, free_zone, free_area), (rest, rest_lots, rest_area) = together(
        lambda: _land_without_lots(zones, lots, lot_area, li, zi),
        lambda: _unzoned_rest(lots, lot_area, li, geom, inside, area),
    )
    gov, gov_zone, gov_area = free, free_zone, free_area
    unknown, unknown_zone, unknown_area = np.empty(0, dtype=object), np.empty(0, int), []
    if extent is not None:
        split = _split_by_extent(free, free_zone, extent)
        gov, gov_zone, gov_area, unknown, unknown_zone, unknown_area = split

    def column(*arrays: np.ndarray) -> np.ndarray:
        return np.concatenate([np.asarray(a) for a in arrays])

    return {
        "geometry": column(geom, rest, gov, unknown).astype(object),
        "lot": column(li, rest_lots, np.full(len(gov), -1), np.full(len(unknown), -1)),
        "zone": column(zi, np.full(len(rest), -1), gov_zone, unknown_zone),
        "area": column(area, rest_area, gov_area, unknown_area).astype(float),
        "tenure": column(
            np.full(len(geom) + len(rest), LEASED, dtype=object),
            np.full(len(gov), GOVERNMENT, dtype=object),
            np.full(len(unknown), UNKNOWN_TENURE, dtype=object),
        ),
    }


def _lot_zone_pieces(
    zones: np.ndarray, lots: np.ndarray, lot_area: np.ndarray, progress: bool | None
) -> tuple[np.ndarray, ...]:
    """Every lot x zone piece: lot and zone, geometry, whether the lot lies properly inside
    the zone (the piece is then the whole lot), and area; overlay dust left out."""
    n_lots = len(lots)
    if progress is None:
        progress = n_lots > 4 * _CHUNK

    own_zones = per_thread(lambda: prepared_copy(zones))

    def chunk(start: int, stop: int) -> tuple[np.ndarray, ...]:
        part = lots[start:stop]
        own = own_zones()
        # Most lots lie properly inside a zone part, and then meet no other (the parts do
        # not overlap): one query finds them, and only the others are paired with every
        # part they meet. Half the predicates of testing every meeting pair.
        zi, li = shapely.STRtree(part).query(own, predicate="contains_properly")
        rest = np.ones(len(part), dtype=bool)
        rest[li] = False
        rest = np.flatnonzero(rest)
        zr, lr = shapely.STRtree(part[rest]).query(own, predicate="intersects")
        inside = np.r_[np.ones(len(zi), dtype=bool), np.zeros(len(zr), dtype=bool)]
        zi, li = np.r_[zi, zr], np.r_[li, rest[lr]]
        geom = part[li].copy()
        area = lot_area[start + li]
        todo = np.flatnonzero(~inside)
        geom[todo] = _polygonal(intersection(part[li[todo]], zones[zi[todo]]))
        cut = geom[todo]
        area[todo] = np.where(shapely.is_missing(cut), 0.0, shapely.area(cut))
        return start + li, zi, geom, inside, area

    parts = map_ranges(
        chunk, n_lots, piece=_CHUNK, progress=progress, desc="fabric", min_piece=_LOT_PIECE
    )
    li, zi, geom, inside, area = (np.concatenate([p[k] for p in parts]) for k in range(5))
    # By lot, then zone: the order (and so every union of pieces or lots downstream) does
    # not depend on how the lots were split between threads.
    order = np.lexsort((zi, li))
    li, zi, geom, inside, area = li[order], zi[order], geom[order], inside[order], area[order]
    # Pieces below _NOISE of their lot are overlay dust along shared edges.
    real = area > lot_area[li] * _NOISE
    return li[real], zi[real], geom[real], inside[real], area[real]


def _unzoned_rest(
    lots: np.ndarray,
    lot_area: np.ndarray,
    li: np.ndarray,
    geom: np.ndarray,
    inside: np.ndarray,
    area: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lot land outside every zone (each lot minus its zoned pieces ``geom``), its lots and
    its area."""
    n_lots = len(lots)
    covered = np.bincount(li, weights=area, minlength=n_lots)
    whole = np.zeros(n_lots, dtype=bool)
    whole[li[inside]] = True
    rest_lots = np.flatnonzero(~whole & (covered < lot_area * (1 - _NOISE)))
    # The lot minus its zoned pieces (small polygons, cheaper to cut by than the zones).
    hit = np.isin(li, rest_lots)
    zoned = union_by(geom[hit], li[hit], n_lots, area=area[hit])[rest_lots]
    rest = lots[rest_lots].copy()
    some = ~shapely.is_missing(zoned)
    rest[some] = map_chunks(difference, rest[some], zoned[some], min_piece=_LOT_PIECE)
    rest = _polygonal(rest)
    rest_area = np.where(shapely.is_missing(rest), 0.0, shapely.area(rest))
    keep = rest_area > lot_area[rest_lots] * _NOISE
    return rest[keep], rest_lots[keep], rest_area[keep]


def _land_without_lots(
    zones: np.ndarray, lots: np.ndarray, lot_area: np.ndarray, li: np.ndarray, zi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Zone land without a lot (each zone minus the union of the lots ``li`` it holds pieces
    of, pair by pair with ``zi``), its zones and its area."""
    # Whole lots, not their pieces: zone minus lot is zone minus piece, and the lots' union
    # does not run along the zone's own boundary as cut pieces do, which makes the
    # difference about 40 % cheaper.
    lot_union = union_by(lots[li], zi, len(zones), area=lot_area[li])
    with_lots = np.flatnonzero(~shapely.is_missing(lot_union))
    free = zones.copy()
    free[with_lots] = _polygonal(
        map_chunks(difference, zones[with_lots], lot_union[with_lots], min_piece=_ZONE_PIECE)
    )
    zone_area = shapely.area(zones)
    free_area = np.where(shapely.is_missing(free), 0.0, shapely.area(free))
    free_zone = np.flatnonzero(free_area > zone_area * _NOISE)
    return free[free_zone], free_zone, free_area[free_zone]


def _split_by_extent(
    free: np.ndarray, zone: np.ndarray, extent: shapely.Geometry
) -> tuple[np.ndarray, ...]:
    """Land without a lot inside the extent (Government) and outside it (unknown): the
    geometries, zones and areas of each."""
    ext = prepared_copy(np.array([extent], dtype=object))[0]
    within = shapely.contains_properly(ext, free)
    apart = ~shapely.intersects(ext, free)
    mixed = np.flatnonzero(~within & ~apart)
    gov = np.where(within, free, None).astype(object)
    unknown = np.where(apart, free, None).astype(object)
    gov[mixed] = _polygonal(
        map_chunks(lambda g: intersection(g, extent), free[mixed], min_piece=_ZONE_PIECE)
    )
    unknown[mixed] = _polygonal(
        map_chunks(lambda g: difference(g, extent), free[mixed], min_piece=_ZONE_PIECE)
    )

    whole = shapely.area(free)

    def kept(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        area = np.where(shapely.is_missing(geoms), 0.0, shapely.area(geoms))
        k = np.flatnonzero(area > whole * _NOISE)
        return geoms[k], zone[k], area[k]

    return (*kept(gov), *kept(unknown))


# --------------------------------------------------------------------------- output


def _assemble(
    pieces: dict[str, np.ndarray],
    zgdf: gpd.GeoDataFrame,
    zrow: np.ndarray,
    zpart: np.ndarray,
    lgdf: gpd.GeoDataFrame | None,
    lot_rank: np.ndarray | None,
    ownership_column: str | None,
) -> gpd.GeoDataFrame:
    geoms = pieces["geometry"]
    area = pieces["area"]
    lot = pieces["lot"]
    tenure = _tenure_codes(pieces["tenure"])
    order = _piece_order(geoms, area, lot, tenure, lot_rank)
    geoms, area, lot, tenure = geoms[order], area[order], lot[order], tenure[order]
    zone = pieces["zone"][order]
    on_lot, zoned = lot >= 0, zone >= 0
    zone_at = np.where(zoned, zrow[np.maximum(zone, 0)], -1)

    # Columns are taken from the inputs' own arrays (no object arrays to re-infer).
    width = max(7, len(str(len(geoms))))
    ids = pd.Series(np.arange(1, len(geoms) + 1)).astype(str).str.zfill(width)
    data: dict[str, Any] = {
        "piece_id": "F" + ids,
        "tenure": pd.Series(list(TENURES)).take(tenure).reset_index(drop=True),
    }
    if lgdf is not None:
        data["parcel_id"] = _take(lgdf["parcel_id"], lot)
    else:
        data["parcel_id"] = pd.Series(np.full(len(geoms), None, dtype=object))
    for col in ZONE_COLUMNS:
        if col not in zgdf.columns:
            continue
        values = zgdf[col]
        at = zone_at
        if col == "land_use":
            values = pd.concat([values.reset_index(drop=True), pd.Series([UNZONED])])
            at = np.where(zoned, zone_at, len(zgdf))
        data[col] = _take(values, at)
    data["zone_row"] = zone_at
    data["zone_part"] = np.where(zoned, zpart[np.maximum(zone, 0)], -1)
    data["area_m2"] = area
    lot_area = np.full(len(geoms), np.nan)
    if lgdf is not None:
        total = np.bincount(lot[on_lot], weights=area[on_lot], minlength=len(lgdf))
        lot_area[on_lot] = total[lot[on_lot]]
    data["lot_area_m2"] = lot_area
    if lgdf is not None:
        if ownership_column is not None:
            data["ownership"] = _take(lgdf[ownership_column], lot)
        for col, name in _lot_columns(lgdf, set(data), ownership_column).items():
            data[name] = _take(lgdf[col], lot)
    return gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:2326")


def _tenure_codes(tenure: np.ndarray) -> np.ndarray:
    """Positions of the pieces' tenures in :data:`TENURES`."""
    codes = np.full(len(tenure), -1, dtype=np.int64)
    for code, name in enumerate(TENURES):  # a loop over the three tenures, not the rows
        codes[tenure == name] = code
    return codes


def _piece_order(
    geoms: np.ndarray,
    area: np.ndarray,
    lot: np.ndarray,
    tenure: np.ndarray,
    lot_rank: np.ndarray | None,
) -> np.ndarray:
    """The canonical order of the pieces: by position (south-west first), then tenure and
    lot, so that the row order of the input never matters."""
    b = np.round(shapely.bounds(geoms), 3)
    lot_key = np.where(lot >= 0, lot_rank[np.maximum(lot, 0)], -1) if lot_rank is not None else lot
    return _lexsort((np.round(area, 3), lot_key, tenure, b[:, 3], b[:, 2], b[:, 1], b[:, 0]))


def _lexsort(keys: tuple[np.ndarray, ...]) -> np.ndarray:
    """``np.lexsort(keys)`` (the last key first), sorting by all keys only where the first
    ties: one stable sort by that key, then a lexsort of the tied rows alone."""
    first = keys[-1]
    order = np.argsort(first, kind="stable")
    ranked = first[order]
    same = ranked[1:] == ranked[:-1]
    if ranked.dtype.kind == "f":
        same |= np.isnan(ranked[1:]) & np.isnan(ranked[:-1])
    tied = np.zeros(len(order), dtype=bool)
    tied[1:] = same
    tied[:-1] |= same
    if tied.any():
        rows = np.sort(order[tied])
        order[tied] = rows[np.lexsort([key[rows] for key in keys])]
    return order


# Lot columns nmgeo's own zoning adds (the dominant zone of a lot): renamed quietly.
_LOT_ZONING = {"zone_label", "land_use"}


def _lot_columns(lgdf: pd.DataFrame, taken: set[str], ownership: str | None) -> dict[str, str]:
    """The lot columns a piece carries, renamed ``lot_<name>`` where a piece column has it.

    A lot's own ``tenure`` or ``PLAN_NO`` (any case) would otherwise replace, or clash
    in a GeoPackage with, the piece's: kept under a prefix, with a warning (quietly for
    the dominant-zone columns :func:`nmgeo.assign_zoning` adds).
    """
    # The named ownership column is carried as ``ownership`` (and under its own name).
    own = {"geometry", "area_m2", "parcel_id"}
    if ownership == "ownership":
        own.add("ownership")
    lower = {name.lower() for name in taken}
    out: dict[str, str] = {}
    renamed: list[str] = []
    for col in lgdf.columns:
        if col in own:
            continue
        name = str(col)
        if name.lower() in lower:
            name = f"lot_{col}"
            while name.lower() in lower or name in lgdf.columns:
                name = f"lot_{name}"
            if str(col) not in _LOT_ZONING:
                renamed.append(f"{col!r} as {name!r}")
        lower.add(name.lower())
        out[col] = name
    if renamed:
        logger.warning(
            "land_fabric: lot columns named like piece columns kept as %s", ", ".join(renamed)
        )
    return out


def _take(column: pd.Series, index: np.ndarray) -> pd.Series:
    """``column`` at positions ``index`` (missing where -1), keeping its dtype if it can."""
    values = column.array
    missing = index < 0
    if not missing.any():
        return pd.Series(values.take(index))
    if pd.api.types.is_bool_dtype(values.dtype):
        values = values.astype("boolean")
    elif pd.api.types.is_integer_dtype(values.dtype):
        values = values.astype("Int64")
    return pd.Series(values.take(index, allow_fill=True))
