"""OZP zoning: classify zone labels into land-use classes and overlay zones onto parcels."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd

from nmgeo import reference
from nmgeo._crs import as_hk80
from nmgeo._overlay import dominant_overlap
from nmgeo._vocabulary import (
    LAND_USE_CLASSES,
    UNKNOWN,
    UNZONED,
    classify_zone,
    normalise_label,
    vocabulary,
    zone_family,
)
from nmgeo.errors import SchemaError

__all__ = [
    "LAND_USE_CLASSES",
    "UNKNOWN",
    "UNZONED",
    "assign_major_zone",
    "assign_zoning",
    "classify_zone",
    "normalise_label",
    "vocabulary",
    "zone_family",
]

logger = logging.getLogger("nmgeo.zoning")

ZONING_COLUMNS = ("zone_label", "land_use", "zoning_share", "n_zones")


def require_zone_columns(zones: pd.DataFrame) -> None:
    """Raise SchemaError unless ``zones`` has ``zone_label`` and ``land_use``."""
    missing = [c for c in ("zone_label", "land_use") if c not in zones.columns]
    if missing:
        msg = (
            f"zones layer lacks column(s) {missing}; read it with nmgeo.read_zones() "
            "or add zone_label and land_use (nmgeo.classify_zone)"
        )
        raise SchemaError(msg)


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
        OZP zones with ``zone_label`` and ``land_use`` columns, e.g. from
        :func:`nmgeo.read_zones`.
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
        If ``zones`` lacks ``zone_label`` or ``land_use``.
    nmgeo.errors.MissingCRSError
        If either layer has no CRS.
    """
    require_zone_columns(zones)
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


def assign_major_zone(
    gdf: gpd.GeoDataFrame,
    major_zones: gpd.GeoDataFrame | None = None,
    *,
    name_column: str = "short_name",
) -> gpd.GeoDataFrame:
    """Tag every polygon with the Northern Metropolis major zone covering most of it.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Parcels, zones or packages, in any CRS.
    major_zones : geopandas.GeoDataFrame, optional
        The major zones; defaults to :func:`nmgeo.reference.major_zones` (the four
        zones of the NM Action Agenda, approximate outlines).
    name_column : str
        Column of ``major_zones`` giving the zone's name.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``gdf`` with ``major_zone`` (the dominant zone's name: one of
        ``professional_logistics``, ``innovation_technology``,
        ``boundary_commerce``, ``blue_green`` with the reference layer; missing
        for polygons outside the NM).
    """
    if major_zones is None:
        major_zones = reference.major_zones()
    if name_column not in major_zones.columns:
        msg = (
            f"major_zones has no column {name_column!r}; "
            f"pass name_column= one of {list(major_zones.columns)}"
        )
        raise SchemaError(msg)
    left = as_hk80(gdf, "layer").geometry.to_numpy()
    right = as_hk80(major_zones, "major_zones").geometry.to_numpy()
    overlap = dominant_overlap(
        left, right, tie_key=major_zones[name_column].to_numpy(dtype=object)
    )
    names = np.full(len(gdf), None, dtype=object)
    hit = overlap.index >= 0
    names[hit] = major_zones[name_column].to_numpy(dtype=object)[overlap.index[hit]]
    out = gdf.copy()
    out["major_zone"] = pd.array(names, dtype=object)
    return out
