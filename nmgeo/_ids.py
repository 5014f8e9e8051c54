"""Row ids: naming rows in messages and accounts, and combining rows that share an id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from nmgeo._geomops import union_by

# How many offending ids an error message names, and how many the account keeps.
_N_MESSAGE_IDS = 5
N_ACCOUNT_IDS = 20


def _name_rows(positions: np.ndarray, ids: Sequence | None, n: int = _N_MESSAGE_IDS) -> str:
    """Describe the first ``n`` offending rows by id (or 0-based row position)."""
    positions = np.asarray(positions)[:n]
    if ids is None:
        label = "row" if len(positions) == 1 else "rows"
        shown = ", ".join(str(int(p)) for p in positions)
    else:
        name = getattr(ids, "name", None) or "id"
        label = name
        values = np.asarray(ids, dtype=object)[positions]
        shown = ", ".join(repr(_plain(v)) for v in values)
    return f"{label} {shown}"


def _plain(value: Any) -> Any:
    """Return a numpy scalar as the matching Python scalar (readable and JSON-friendly)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def ids_at(positions: np.ndarray, ids: Sequence | None) -> list:
    """Return the ids (or row positions) of the given rows as plain Python values."""
    if ids is None:
        return [int(p) for p in positions]
    values = np.asarray(ids, dtype=object)[np.asarray(positions, dtype=int)]
    return [_plain(v) for v in values]


def combine_parts(
    gdf: gpd.GeoDataFrame, column: str = "parcel_id"
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Merge rows sharing a (non-null) ``column`` value into one row: the parts of one lot.

    The merged row keeps the first part's fields and the union of the parts' geometries.
    Returns the frame (index kept) and the mask, over the input rows, of the first part of
    every id that had several.
    """
    ids = gdf[column]
    repeated = ids.duplicated(keep=False).to_numpy() & ids.notna().to_numpy()
    if not repeated.any():
        return gdf, repeated
    codes = pd.factorize(ids.where(repeated))[0]
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    merged = union_by(geoms[repeated], codes[repeated], int(codes.max()) + 1)
    first = repeated & ~pd.Series(codes).where(repeated).duplicated().to_numpy()
    keep = ~repeated | first
    out = gdf.loc[keep].copy()
    new_geoms = np.asarray(out.geometry.array, dtype=object).copy()
    new_geoms[first[keep]] = merged[codes[first]]
    out = out.set_geometry(gpd.GeoSeries(new_geoms, index=out.index, crs=gdf.crs))
    return out, first
