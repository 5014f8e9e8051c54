"""OZP zoning: classify zones into land-use classes and give parcels their dominant zone."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from nmgeo._crs import as_hk80
from nmgeo._gc import pauses_gc
from nmgeo._overlay import dominant_overlap
from nmgeo._vocabulary import (
    LAND_USE_CLASSES,
    UNKNOWN,
    UNZONED,
    classify_zone,
    land_use_colours,
    normalise_label,
    vocabulary,
    zone_family,
)
from nmgeo.errors import SchemaError

__all__ = [
    "LAND_USE_CLASSES",
    "UNKNOWN",
    "UNZONED",
    "assign_land_use",
    "assign_zoning",
    "classify_zone",
    "land_use_colours",
    "normalise_label",
    "vocabulary",
    "zone_family",
]

logger = logging.getLogger("nmgeo.zoning")

ZONING_COLUMNS = ("zone_label", "land_use", "zoning_share", "n_zones")


def assign_land_use(
    zones: gpd.GeoDataFrame,
    *,
    mapping: Mapping[str, str] | pd.DataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Give every OZP zone its land-use class, from its label and specified use.

    The classes are the ones a planner works with (commercial, public facility, open
    space …): see :func:`classify_zone` for the rules and the vocabulary they come from.
    :func:`nmgeo.land_fabric`, :func:`nmgeo.build_packages` and
    :func:`nmgeo.assign_zoning` call it on zones that carry no ``land_use``; call it
    yourself to pass your own ``mapping`` or to look at the classes first.

    Parameters
    ----------
    zones : geopandas.GeoDataFrame
        OZP zones with ``zone_label`` (and, for "OU" zones, ``specified_use``), e.g.
        from :func:`nmgeo.read_zones`.
    mapping : mapping or pandas.DataFrame, optional
        ``{zone label or family: land-use class}`` overrides, or a replacement
        vocabulary table (see :func:`classify_zone`).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``zones`` with ``land_use``: one of :data:`LAND_USE_CLASSES`, or
        ``"unknown"`` for a label the vocabulary does not know. An existing
        ``land_use`` column is replaced (logged).

    Raises
    ------
    nmgeo.errors.SchemaError
        ``zones`` has no ``zone_label`` column.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> zones = gpd.GeoDataFrame(
    ...     {"zone_label": ["C(1)", "G/IC", "OU"], "specified_use": [None, None, "Business"]},
    ...     geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)], crs=2326)
    >>> assign_land_use(zones)["land_use"].tolist()
    ['commercial', 'public_facility', 'commercial']
    """
    _require_zone_label(zones)
    if "land_use" in zones.columns:
        logger.info("assign_land_use: existing land_use column replaced")
    labels = zones["zone_label"].reset_index(drop=True)
    specified = (
        zones["specified_use"].reset_index(drop=True) if "specified_use" in zones.columns else None
    )
    area = as_hk80(zones, "zones").geometry.area.to_numpy()
    land_use = classify_zone(labels, specified_use=specified, mapping=mapping, area_m2=area)
    out = zones.copy()
    out["land_use"] = np.asarray(land_use)
    return out


def _require_zone_label(zones: pd.DataFrame) -> None:
    if "zone_label" not in zones.columns:
        msg = (
            "zones layer lacks column 'zone_label'; read it with nmgeo.read_zones() or "
            "rename the column holding the OZP zone labels"
        )
        raise SchemaError(msg)


def zones_with_land_use(zones: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``zones`` itself when it has ``land_use``, else classified by :func:`assign_land_use`."""
    if "land_use" in zones.columns:
        _require_zone_label(zones)
        return zones
    logger.info("zones carry no land_use: classified with the default vocabulary")
    return assign_land_use(zones)


@pauses_gc
def assign_zoning(
    parcels: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    *,
    progress: bool | None = None,
) -> gpd.GeoDataFrame:
    """Give every parcel the OZP zone that covers most of its area.

    The overlay uses the true area of intersection between each parcel and every
    zone it touches (candidate pairs from an STRtree; parcels lying wholly inside
    one zone skip the polygon overlay). Overlaps thinner on average than 1 cm along
    the parcel's perimeter are treated as shared edges or coordinate noise, not
    as zones.

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
        Lots, e.g. from :func:`nmgeo.read_parcels`. Any CRS; the overlay is done in
        EPSG:2326 (HK1980 Grid, metres).
    zones : geopandas.GeoDataFrame
        OZP zones with ``zone_label``, e.g. from :func:`nmgeo.read_zones`; classified
        by :func:`assign_land_use` when they carry no ``land_use``.
    progress : bool, optional
        Show a progress bar; by default only for large layers.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``parcels`` (same rows, order, index and geometry) with:

        ``zone_label``
            Label of the dominant zone (e.g. ``"C(1)"``), missing when unzoned. A lot
            split exactly equally between zones takes the label that sorts first
            (``"C"`` before ``"G/IC"``), whatever the row order of either layer.
        ``land_use``
            Land-use class of the dominant zone (see
            :data:`nmgeo.zoning.LAND_USE_CLASSES`); ``"unzoned"`` for lots outside
            every zone (e.g. on unzoned road reserves).
        ``zoning_share``
            Fraction (0-1) of the lot's area under its dominant zone. Values well
            below 1 flag lots that straddle zone boundaries: their planning
            intention is split and worth checking on the plan.
        ``n_zones``
            Number of zones the lot overlaps (0 when unzoned).

    Raises
    ------
    nmgeo.errors.SchemaError
        If ``zones`` lacks ``zone_label``.
    nmgeo.errors.MissingCRSError
        If either layer has no CRS.

    Examples
    --------
    >>> import nmgeo
    >>> s = nmgeo.load_sample()
    >>> lots = nmgeo.assign_zoning(s.parcels.drop(columns=["zone_label", "land_use"]), s.zones)
    >>> bool(lots["zoning_share"].between(0, 1).all()), len(lots) == len(s.parcels)
    (True, True)
    """
    zones = zones_with_land_use(zones)
    left = as_hk80(parcels, "parcels").geometry.to_numpy()
    right = as_hk80(zones, "zones").geometry.to_numpy()
    overlap = dominant_overlap(
        left, right, tie_key=zones["zone_label"].to_numpy(dtype=object), progress=progress
    )

    out = parcels.copy()
    replaced = [c for c in ZONING_COLUMNS if c in out.columns]
    if replaced:
        logger.info("assign_zoning: replacing existing column(s) %s", replaced)
    hit = overlap.index >= 0
    labels = np.full(len(out), None, dtype=object)
    uses = np.full(len(out), UNZONED, dtype=object)
    labels[hit] = zones["zone_label"].to_numpy(dtype=object)[overlap.index[hit]]
    uses[hit] = zones["land_use"].to_numpy(dtype=object)[overlap.index[hit]]
    out["zone_label"] = labels
    out["land_use"] = uses
    out["zoning_share"] = overlap.share
    out["n_zones"] = overlap.count
    n_unzoned = int((~hit).sum())
    n_split = int((overlap.count > 1).sum())
    logger.info(
        "assign_zoning: %d parcels zoned, %d unzoned, %d straddle two or more zones",
        int(hit.sum()),
        n_unzoned,
        n_split,
    )
    return out
