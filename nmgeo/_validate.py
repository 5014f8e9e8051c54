"""Checks and repairs of a polygon layer's geometries and ids, under the on_invalid policy."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from nmgeo._ids import _N_MESSAGE_IDS, N_ACCOUNT_IDS, _name_rows, _plain, ids_at
from nmgeo._threads import map_chunks
from nmgeo.errors import (
    DuplicateIdError,
    EmptyGeometryError,
    GeometryTypeError,
    InputError,
    InvalidGeometryError,
)

logger = logging.getLogger("nmgeo.io")

ON_INVALID = ("repair", "drop", "raise")

_POLYGON, _MULTIPOLYGON, _COLLECTION = 3, 6, 7
_MULTI_OR_COLLECTION = (4, 5, 6, 7)


def check_on_invalid(on_invalid: str) -> str:
    """Return ``on_invalid`` if it is one of ON_INVALID, else raise InputError."""
    if on_invalid not in ON_INVALID:
        msg = f"on_invalid={on_invalid!r} is not one of {', '.join(map(repr, ON_INVALID))}."
        raise InputError(msg)
    return on_invalid


def report_rings_closed(
    n_rows: int, positions: Sequence[int], *, ids: Sequence | None, source: str
) -> list:
    """Log one warning for the rows whose unclosed polygon rings were closed while reading.

    ``positions`` are the first 0-based row positions of the ``n_rows`` rows; ``ids``
    (aligned with the rows, or None) name them. Returns their ids (or positions).
    """
    positions = np.asarray(positions, dtype=np.intp)
    logger.warning(
        "%s: closed the unclosed polygon rings of %d geometries (their last point did not "
        "repeat the first), e.g. %s; check these shapes in the source.",
        source,
        n_rows,
        _name_rows(positions, ids),
    )
    return ids_at(positions, ids)


def _drop_outside_holes(geoms: np.ndarray) -> tuple[np.ndarray, int]:
    """Polygons without the interior rings that lie wholly outside their exterior ring.

    Such a ring cuts nothing out of the polygon; repairing it as it is would add it as
    a detached piece of land. Returns the polygons and the number of rings dropped.
    """
    out = geoms.copy()
    poly = np.flatnonzero(
        (shapely.get_type_id(geoms) == _POLYGON) & (shapely.get_num_interior_rings(geoms) > 0)
    )
    if not poly.size:
        return out, 0
    rings, owner = shapely.get_rings(geoms[poly], return_index=True)
    exterior = np.r_[True, owner[1:] != owner[:-1]]
    shells = shapely.polygons(rings[exterior])
    holes = np.flatnonzero(~exterior)
    outside = shapely.disjoint(shapely.polygons(rings[holes]), shells[owner[holes]])
    if not outside.any():
        return out, 0
    keep = np.ones(len(rings), dtype=bool)
    keep[holes[outside]] = False
    out[poly] = shapely.polygons(rings[keep], indices=owner[keep])
    return out, int(outside.sum())


def _single_parts(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The non-collection parts of every geometry, nested collections flattened, and the
    position of the geometry each part comes from."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    while True:
        nested = np.isin(shapely.get_type_id(parts), _MULTI_OR_COLLECTION)
        if not nested.any():
            return parts, index
        sub, sub_index = shapely.get_parts(parts[nested], return_index=True)
        parts = np.concatenate([parts[~nested], sub])
        index = np.concatenate([index[~nested], index[nested][sub_index]])


def _flat_parts(geoms: np.ndarray) -> np.ndarray:
    """Each collection as one flat GeometryCollection of its non-collection parts."""
    parts, index = _single_parts(geoms)
    order = np.argsort(index, kind="stable")
    return shapely.geometrycollections(parts[order], indices=index[order])


def _polygon_parts(geoms: np.ndarray) -> np.ndarray:
    """Reduce each geometry to its polygonal parts: Polygon, MultiPolygon or None if none.

    Nested collections are flattened; non-polygonal and empty parts are discarded.
    """
    n = len(geoms)
    parts, index = _single_parts(geoms)
    keep = (shapely.get_type_id(parts) == _POLYGON) & ~shapely.is_empty(parts)
    parts, index = parts[keep], index[keep]
    order = np.argsort(index, kind="stable")
    parts, index = parts[order], index[order]
    out = np.full(n, None, dtype=object)
    counts = np.bincount(index, minlength=n)
    single = counts == 1
    if single.any():
        first = np.searchsorted(index, np.flatnonzero(single))
        out[single] = parts[first]
    multi = np.isin(index, np.flatnonzero(counts > 1))
    if multi.any():
        tmp = np.full(n, None, dtype=object)
        shapely.multipolygons(parts[multi], indices=index[multi], out=tmp)
        out[counts > 1] = tmp[counts > 1]
    return out


def check_finite(
    gdf: gpd.GeoDataFrame,
    *,
    ids: Sequence | None,
    source: str,
    on_invalid: str = "repair",
) -> tuple[gpd.GeoDataFrame, int]:
    """Refuse geometries with a NaN or infinite x or y in any vertex (of any ring or part).

    Such a vertex has no place, so no repair can say what the shape was: under every
    ``on_invalid`` mode but ``"drop"`` it raises InvalidGeometryError naming the rows. With
    ``"drop"`` their geometries are set to None (so that :func:`check_geometries` drops and
    counts them with the null rows, keeping row positions aligned) and their number is
    returned with the layer (a copy when anything changed).
    """
    check_on_invalid(on_invalid)
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    # The positions of the vertices are wanted only when one is not finite.
    if np.isfinite(shapely.get_coordinates(geoms)).all():
        return gdf, 0
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    bad_coord = ~np.isfinite(coords).all(axis=1)
    bad = np.zeros(len(geoms), dtype=bool)
    bad[index[bad_coord]] = True
    where = np.flatnonzero(bad)
    if on_invalid != "drop":
        msg = (
            f"{source}: {where.size} rows have vertices with NaN or infinite coordinates, "
            f"e.g. {_name_rows(where, ids)}, which no repair can place; fix or remove those "
            "vertices in the source, or pass on_invalid='drop' to drop these rows."
        )
        raise InvalidGeometryError(msg)
    logger.warning(
        "%s: dropping %d rows with NaN or infinite coordinates, e.g. %s",
        source,
        where.size,
        _name_rows(where, ids),
    )
    fixed = geoms.copy()
    fixed[where] = None
    out = gdf.copy()
    out[gdf.geometry.name] = gpd.GeoSeries(fixed, index=gdf.index, crs=gdf.crs)
    return out, int(where.size)


def check_geometries(
    gdf: gpd.GeoDataFrame,
    *,
    ids: Sequence | None,
    source: str,
    on_invalid: str = "repair",
    finite: bool = False,
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Check and repair the geometries of a polygon layer (already in EPSG:2326).

    Returns the layer (rows dropped only with ``on_invalid="drop"``, index kept) and the
    account fields ``n_z_dropped``, ``n_collections_fixed``, ``n_repaired``,
    ``repair_area_change_m2``, ``n_dropped_empty`` and ``dropped_ids``. ``ids`` (aligned
    with the rows, or None for 0-based row positions) name rows in messages. Rows with
    NaN or infinite coordinates are never repaired (see :func:`check_finite`); pass
    ``finite=True`` when :func:`check_finite` has passed on these very coordinates.
    """
    check_on_invalid(on_invalid)
    if not finite:
        gdf, _ = check_finite(gdf, ids=ids, source=source, on_invalid=on_invalid)
    geoms = np.array(gdf.geometry.array, dtype=object)  # a copy the steps below edit
    counts: dict[str, Any] = {
        "n_z_dropped": _drop_z(geoms),
        "n_collections_fixed": 0,
        "n_repaired": 0,
        "repair_area_change_m2": 0.0,
        "n_dropped_empty": 0,
        "dropped_ids": [],
    }
    absent = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    counts["n_collections_fixed"] = _reduce_collections(geoms, absent, ids=ids, source=source)
    _refuse_non_polygons(geoms, absent, ids=ids, source=source)
    counts.update(_repair_invalid(geoms, absent, ids=ids, source=source, on_invalid=on_invalid))
    out = gdf.copy()
    out[gdf.geometry.name] = gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs)
    out, dropped = _drop_empty(out, geoms, ids=ids, source=source, on_invalid=on_invalid)
    counts.update(dropped)
    return out, counts


def _drop_z(geoms: np.ndarray) -> int:
    """Drop Z and M from ``geoms`` in place; return the number of geometries that had any."""
    has_z = shapely.has_z(geoms) | shapely.has_m(geoms)
    if has_z.any():
        geoms[has_z] = shapely.force_2d(geoms[has_z])
    return int(has_z.sum())


def _reduce_collections(
    geoms: np.ndarray, absent: np.ndarray, *, ids: Sequence | None, source: str
) -> int:
    """Reduce geometry collections in ``geoms`` to their polygons, in place.

    Collections without any polygon are left as they are (for :func:`_refuse_non_polygons`).
    Logs a warning when points, lines or empty parts are dropped. Returns the number of
    collections reduced.
    """
    collection = (shapely.get_type_id(geoms) == _COLLECTION) & ~absent
    if not collection.any():
        return 0
    reduced = _polygon_parts(geoms[collection])
    fixed = shapely.is_geometry(reduced)  # False where no polygon part is left
    where = np.flatnonzero(collection)
    n_before = shapely.get_num_geometries(_flat_parts(geoms[where[fixed]]))
    lost = n_before - shapely.get_num_geometries(reduced[fixed])
    geoms[where[fixed]] = reduced[fixed]
    if lost.any():
        logger.warning(
            "%s: %d geometry collections reduced to their polygons, dropping %d "
            "points, lines or empty parts, e.g. %s",
            source,
            int(fixed.sum()),
            int(lost.sum()),
            _name_rows(where[fixed][lost > 0], ids),
        )
    return int(fixed.sum())


def _refuse_non_polygons(
    geoms: np.ndarray, absent: np.ndarray, *, ids: Sequence | None, source: str
) -> None:
    """Raise GeometryTypeError, counting rows by type, if any present geometry is not polygonal."""
    wrong = ~absent & ~np.isin(shapely.get_type_id(geoms), (_POLYGON, _MULTIPOLYGON))
    if not wrong.any():
        return
    names = pd.Series(shapely.get_type_id(geoms[wrong])).map(
        {
            0: "Point",
            1: "LineString",
            2: "LinearRing",
            4: "MultiPoint",
            5: "MultiLineString",
            7: "GeometryCollection without polygons",
        }
    )
    per_type = ", ".join(f"{n} {t}" for t, n in names.value_counts(sort=False).items())
    msg = (
        f"{source}: the layer must hold polygons, but {int(wrong.sum())} rows are not "
        f"({per_type}), e.g. {_name_rows(np.flatnonzero(wrong), ids)}; pass a polygon "
        "layer."
    )
    raise GeometryTypeError(msg)


def _repair_invalid(
    geoms: np.ndarray,
    absent: np.ndarray,
    *,
    ids: Sequence | None,
    source: str,
    on_invalid: str,
) -> dict[str, Any]:
    """Repair the invalid polygons of ``geoms`` in place (or raise, for ``"raise"``).

    Holes wholly outside their polygon are dropped first; what is still invalid then goes
    through ``shapely.make_valid``. Returns ``n_repaired`` and ``repair_area_change_m2``
    (no fields if nothing was invalid).
    """
    invalid = np.zeros(len(geoms), dtype=bool)
    invalid[~absent] = ~map_chunks(shapely.is_valid, geoms[~absent])
    if not invalid.any():
        return {}
    where = np.flatnonzero(invalid)
    if on_invalid == "raise":
        reason = shapely.is_valid_reason(geoms[where[0]])
        msg = (
            f"{source}: {where.size} invalid geometries, e.g. {_name_rows(where, ids)} "
            f"({reason}); pass on_invalid='repair' to repair them with shapely.make_valid."
        )
        raise InvalidGeometryError(msg)
    where = _repair_outside_holes(geoms, where, ids=ids, source=source)
    if not where.size:
        return {}
    # Finite by now (check_finite ran): coordinates are finite, so areas are too.
    before = np.nan_to_num(shapely.area(geoms[where]), nan=0.0)
    repaired = shapely.make_valid(geoms[where], method="structure", keep_collapsed=False)
    odd = ~np.isin(shapely.get_type_id(repaired), (_POLYGON, _MULTIPOLYGON))
    if odd.any():  # defensive: keep polygonal parts only
        repaired[odd] = _polygon_parts(repaired[odd])
    after = np.nan_to_num(shapely.area(repaired), nan=0.0)
    change = float(np.abs(after - before).sum())
    geoms[where] = repaired
    logger.warning(
        "%s: repaired %d invalid geometries with shapely.make_valid (total area change "
        "%.3f m2), e.g. %s",
        source,
        where.size,
        change,
        _name_rows(where, ids),
    )
    return {"n_repaired": int(where.size), "repair_area_change_m2": change}


def _repair_outside_holes(
    geoms: np.ndarray, where: np.ndarray, *, ids: Sequence | None, source: str
) -> np.ndarray:
    """Drop, in place, the holes outside their polygon among the invalid ``geoms[where]``.

    Logs a warning if any were dropped. Returns the positions still invalid.
    """
    fixed, n_holes = _drop_outside_holes(geoms[where])
    if not n_holes:
        return where
    lost = shapely.get_num_interior_rings(geoms[where]) > shapely.get_num_interior_rings(fixed)
    geoms[where] = fixed
    logger.warning(
        "%s: dropped %d holes that lie outside their polygon's outline (no land is "
        "cut out there), e.g. %s",
        source,
        n_holes,
        _name_rows(where[lost], ids),
    )
    return where[~shapely.is_valid(geoms[where])]


def _drop_empty(
    gdf: gpd.GeoDataFrame,
    geoms: np.ndarray,
    *,
    ids: Sequence | None,
    source: str,
    on_invalid: str,
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Drop the rows of ``gdf`` whose ``geoms`` are null, empty or of no area (or raise).

    Raises EmptyGeometryError unless ``on_invalid="drop"``. Returns the layer and the fields
    ``n_dropped_empty`` and ``dropped_ids`` (no fields if nothing was dropped).
    """
    area = shapely.area(geoms)
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms) | ~(area > 0)
    if not bad.any():
        return gdf, {}
    where = np.flatnonzero(bad)
    if on_invalid != "drop":
        msg = (
            f"{source}: {where.size} rows have null or empty geometries or no area left "
            f"after repair, e.g. {_name_rows(where, ids)}; pass on_invalid='drop' to drop "
            "them."
        )
        raise EmptyGeometryError(msg)
    logger.warning(
        "%s: dropped %d rows with null, empty or zero-area geometries, e.g. %s",
        source,
        where.size,
        _name_rows(where, ids),
    )
    counts = {
        "n_dropped_empty": int(where.size),
        "dropped_ids": ids_at(where[:N_ACCOUNT_IDS], ids),
    }
    return gdf.loc[~bad], counts


def check_ids(
    values: Sequence, *, column: str, source: str, on_invalid: str = "repair"
) -> np.ndarray:
    """Check that ``values`` are unique and not null; return the mask of rows to drop.

    With ``on_invalid="drop"`` null ids and every repeat after the first occurrence are
    marked for dropping; otherwise any duplicate or null raises DuplicateIdError (and the
    returned mask is all False).
    """
    check_on_invalid(on_invalid)
    if isinstance(values, pd.Series):
        series = values.reset_index(drop=True)
    else:
        series = pd.Series(values)
    null = series.isna().to_numpy()
    repeat = series.duplicated(keep="first").to_numpy() & ~null
    drop = null | repeat
    if drop.any() and on_invalid != "drop":
        dup_values = pd.unique(series[repeat])
        found = []
        if repeat.any():
            shown = ", ".join(repr(_plain(v)) for v in dup_values[:_N_MESSAGE_IDS])
            found.append(
                f"{int(repeat.sum())} duplicates ({len(dup_values)} repeated values: {shown})"
            )
        if null.any():
            found.append(f"{int(null.sum())} null values")
        msg = (
            f"{source}: id column {column!r} has {' and '.join(found)}; ids must be unique. "
            "Pass on_invalid='drop' to keep the first row of each id and drop the rest, or "
            "choose another column with id_column=."
        )
        raise DuplicateIdError(msg)
    return drop
