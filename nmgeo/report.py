"""Tables a planner hands over: land areas by zone and class."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import geopandas as gpd
import pandas as pd

from nmgeo._validate import as_hk80
from nmgeo.errors import SchemaError

__all__ = ["area_report"]

logger = logging.getLogger("nmgeo.report")

NONE_LABEL = "(none)"


def area_report(
    parcels: gpd.GeoDataFrame,
    by: str | Sequence[str] = ("major_zone", "land_use"),
) -> pd.DataFrame:
    """Land area by one or more attributes, in hectares and shares.

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
        Parcels (or any polygons). ``area_m2`` is used when present (as set by
        :func:`nmgeo.read_parcels`), else the planimetric area in EPSG:2326.
    by : str or sequence of str
        Columns to group by, outermost first. Missing values form their own
        group, labelled ``"(none)"`` (e.g. parcels outside every major zone).

    Returns
    -------
    pandas.DataFrame
        One row per group, sorted by the ``by`` columns, with:

        ``n_parcels``
            Number of parcels in the group.
        ``area_ha``
            Their total area, hectares.
        ``share``
            Fraction (0-1) of the total area of all parcels.
        ``share_within``
            Fraction (0-1) of the area of the outermost group (only when
            grouping by two or more columns): e.g. the share of each land use
            within its major zone.

        The shares of ``share`` sum to 1; nothing is dropped.
    """
    keys = [by] if isinstance(by, str) else list(by)
    missing = [k for k in keys if k not in parcels.columns]
    if missing:
        available = sorted(map(str, parcels.columns))
        msg = f"area_report: no column {missing[0]!r}; available: {available}"
        raise SchemaError(msg)
    if "area_m2" in parcels.columns:
        area = parcels["area_m2"].astype(float)
    else:
        area = as_hk80(parcels, "parcels").geometry.area
    frame = pd.DataFrame(
        {k: parcels[k].astype(object).where(parcels[k].notna(), NONE_LABEL) for k in keys}
    )
    frame["area_m2"] = area.to_numpy()
    table = (
        frame.groupby(keys, sort=True, dropna=False)
        .agg(n_parcels=("area_m2", "size"), area_m2=("area_m2", "sum"))
        .reset_index()
    )
    total = table["area_m2"].sum()
    table["area_ha"] = table["area_m2"] / 1e4
    table["share"] = table["area_m2"] / total if total > 0 else 0.0
    if len(keys) > 1:
        outer = table.groupby(keys[0])["area_m2"].transform("sum")
        table["share_within"] = (table["area_m2"] / outer).where(outer > 0, 0.0)
    return table.drop(columns="area_m2")
