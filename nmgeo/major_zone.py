"""Where a polygon lies in the Northern Metropolis: its major zone of the NM Action Agenda."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from nmgeo import reference
from nmgeo._crs import as_hk80
from nmgeo._gc import pauses_gc
from nmgeo._overlay import dominant_overlap
from nmgeo.errors import SchemaError

__all__ = ["assign_major_zone"]


@pauses_gc
def assign_major_zone(
    parcels: gpd.GeoDataFrame,
    *,
    major_zones: gpd.GeoDataFrame | None = None,
    name_column: str = "short_name",
) -> gpd.GeoDataFrame:
    """Tag every polygon with the Northern Metropolis major zone covering most of it.

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
        Parcels, zones or packages, in any CRS.
    major_zones : geopandas.GeoDataFrame, optional
        The major zones; defaults to :func:`nmgeo.reference.major_zones` (the four
        zones of the NM Action Agenda, approximate outlines).
    name_column : str
        Column of ``major_zones`` giving the zone's name.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``parcels`` with ``major_zone`` (the dominant zone's name: one of
        ``professional_logistics``, ``innovation_technology``,
        ``boundary_commerce``, ``blue_green`` with the reference layer; missing
        for polygons outside the NM).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> site = gpd.GeoDataFrame(geometry=[box(825_000, 840_000, 825_100, 840_100)], crs=2326)
    >>> assign_major_zone(site)["major_zone"].iloc[0]
    'innovation_technology'
    """
    if major_zones is None:
        major_zones = reference.major_zones()
    if name_column not in major_zones.columns:
        msg = (
            f"major_zones has no column {name_column!r}; "
            f"pass name_column= one of {list(major_zones.columns)}"
        )
        raise SchemaError(msg)
    left = as_hk80(parcels, "parcels").geometry.to_numpy()
    right = as_hk80(major_zones, "major_zones").geometry.to_numpy()
    overlap = dominant_overlap(
        left, right, tie_key=major_zones[name_column].to_numpy(dtype=object)
    )
    names = np.full(len(parcels), None, dtype=object)
    hit = overlap.index >= 0
    names[hit] = major_zones[name_column].to_numpy(dtype=object)[overlap.index[hit]]
    out = parcels.copy()
    out["major_zone"] = pd.array(names, dtype=object)
    return out
