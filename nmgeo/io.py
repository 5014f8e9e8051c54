"""Readers of lot (parcel) and OZP zoning layers, and the GeoPackage writer, all in EPSG:2326."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely
from geopandas.array import GeometryDtype
from pyogrio.errors import DataLayerError, DataSourceError

from nmgeo._sources import refuse_input, remember_input
from nmgeo._validate import (
    N_ACCOUNT_IDS,
    ReadAccount,
    as_hk80,
    check_geometries,
    check_ids,
    check_on_invalid,
    check_overlaps,
    combine_parts,
    ensure_crs,
    ids_at,
    report_rings_closed,
)
from nmgeo._vocabulary import classify_zone
from nmgeo.errors import InputError, SchemaError

__all__ = ["read_extent", "read_parcels", "read_zones", "write_geopackage"]

logger = logging.getLogger("nmgeo.io")

# Parcel id columns tried in this order (any case): LandsD lot layers first, then generic.
PARCEL_ID_CANDIDATES = ("LOTCSUID", "LOTID", "OBJECTID", "parcel_id", "id", "fid")
# Canonical zoning columns and the source names (lower case) recognised for each:
# TPB OZP digital planning data uses PLAN_NO, ZONE_LABEL, DESC_ENG and SPUSE_ENG.
ZONE_COLUMNS = {
    "zone_label": ("zone_label",),
    "plan_no": ("plan_no",),
    "description": ("desc_eng", "description"),
    "specified_use": ("spuse_eng", "specified_use"),
}
_PARQUET_SUFFIXES = (".parquet", ".geoparquet")
_GENERATED_ID_WIDTH = 7
# What rows sharing a lot id are: parts of one lot, or repeats to treat as errors.
MULTIPART = ("combine", "separate")


def _short(err: BaseException, limit: int = 200) -> str:
    """Return the first line of an exception message, trimmed to ``limit`` characters."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _list_layers(path: str) -> list[str]:
    try:
        layers = pyogrio.list_layers(path)
    except (DataSourceError, DataLayerError, Exception) as err:  # Exception: other drivers
        msg = f"cannot read {path}: {_short(err)}"
        raise InputError(msg) from err
    return [str(name) for name in np.asarray(layers)[:, 0]] if len(layers) else []


def _choose_layer(path: str, layers: list[str], layer: str | int | None) -> str:
    listing = ", ".join(repr(name) for name in layers)
    if not layers:
        msg = f"cannot read {path}: it holds no layers."
        raise InputError(msg)
    if layer is None:
        if len(layers) > 1:
            msg = f"{path} holds {len(layers)} layers ({listing}); pass layer=... to pick one."
            raise InputError(msg)
        return layers[0]
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        if 0 <= layer < len(layers):
            return layers[int(layer)]
        msg = f"{path} has no layer number {layer}; its layers are {listing}."
        raise InputError(msg)
    if str(layer) not in layers:
        msg = f"{path} has no layer {layer!r}; its layers are {listing}; pass layer=... ."
        raise InputError(msg)
    return str(layer)


def _suspect_undeclared_encoding(path: str, gdf: pd.DataFrame) -> bool:
    """True for a Shapefile without .cpg whose text holds Latin-1 high characters.

    GDAL then decodes as ISO-8859-1, which turns Big5 Chinese (e.g. DESC_CHT) into mojibake.
    """
    if Path(path).suffix.lower() != ".shp" or Path(path).with_suffix(".cpg").exists():
        return False
    for name in gdf.columns:
        column = gdf[name]
        if name == getattr(gdf, "_geometry_column_name", None):
            continue
        if pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column):
            text = column.dropna().astype(str)
            if text.str.contains("[\x80-\xff]", regex=True).any():
                return True
    return False


def _undecodable_column(gdf: pd.DataFrame) -> str | None:
    """Name the first Arrow-backed text column holding bytes that are not valid UTF-8."""
    for name in gdf.columns:
        array = gdf[name].array
        if not (pd.api.types.is_string_dtype(array.dtype) and hasattr(array, "__arrow_array__")):
            continue
        try:
            pa.chunked_array(array.__arrow_array__()).validate(full=True)
        except pa.ArrowInvalid:
            return str(name)
    return None


def _read_ogr(path: str, layer: str, encoding: str | None) -> tuple[pd.DataFrame, np.ndarray]:
    """Read one OGR layer, through Arrow when it can (2-3x faster).

    Returns the frame and the 0-based positions of the rows whose unclosed polygon rings
    were closed: GDAL passes such rings on (e.g. from GeoJSON) but GEOS cannot decode them,
    so the layer's WKB is re-read and decoded with the rings closed.
    """
    with warnings.catch_warnings():
        # GDAL's warning points at one of its options; nmgeo closes the rings and says so.
        warnings.filterwarnings("ignore", "Non closed ring", RuntimeWarning)
        try:
            return _read_ogr_frame(path, layer, encoding), np.empty(0, dtype=np.intp)
        except shapely.errors.GEOSException as err:
            logger.debug("%s: cannot decode the geometries (%s); closing rings", path, err)
            failure = err
        return _read_ogr_closing_rings(path, layer, encoding, failure)


def _read_ogr_frame(path: str, layer: str, encoding: str | None, **kwargs: Any) -> pd.DataFrame:
    """Read one OGR layer with ``pyogrio.read_dataframe``, through Arrow when it can."""
    if encoding is None:
        try:
            gdf = pyogrio.read_dataframe(path, layer=layer, use_arrow=True, **kwargs)
        except shapely.errors.GEOSException:
            raise  # decoding the WKB: the feature-by-feature read would fail the same way
        except Exception as err:  # the feature-by-feature read below names the real problem
            logger.debug("%s: Arrow read failed (%s); reading feature by feature", path, err)
        else:
            # Arrow keeps undecodable bytes as they are; the feature-by-feature read decodes
            # them the way GDAL declares (or fails with a message naming the encoding).
            bad = _undecodable_column(gdf)
            if bad is None:
                return gdf
            logger.debug("%s: column %r is not UTF-8; reading feature by feature", path, bad)
    return pyogrio.read_dataframe(path, layer=layer, encoding=encoding, **kwargs)


def _read_ogr_closing_rings(
    path: str, layer: str, encoding: str | None, failure: Exception
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Read a layer whose WKB GEOS refuses, closing unclosed rings (shapely >= 2.1).

    Returns the layer and the positions of the rows whose rings were closed. Raises
    InputError naming the first row when some geometry cannot be decoded even so.
    """
    frame = _read_ogr_frame(path, layer, encoding, read_geometry=False)
    meta, wkb = _read_wkb(path, layer, encoding)
    if len(frame) != len(wkb):
        if len(frame.columns):  # pragma: no cover - both reads walk the same layer
            raise failure
        frame = pd.DataFrame(index=pd.RangeIndex(len(wkb)))  # a layer without fields
    geoms = shapely.from_wkb(wkb, on_invalid="ignore")
    failed = np.flatnonzero(pd.notna(wkb) & shapely.is_missing(geoms))
    try:
        fixed = shapely.from_wkb(wkb[failed], on_invalid="fix")
        fix = "even with their rings closed"
    except (ValueError, shapely.errors.UnsupportedGEOSVersionError):  # shapely < 2.1, GEOS < 3.11
        fixed = np.full(failed.size, None, dtype=object)
        fix = "(shapely 2.1 and GEOS 3.11 or later close unclosed rings)"
    broken = failed[shapely.is_missing(fixed)]
    if broken.size:
        try:
            shapely.from_wkb(wkb[broken[0]])
            reason = "unknown error"  # pragma: no cover
        except shapely.errors.GEOSException as err:
            reason = _short(err)
        msg = (
            f"cannot read {path}: {broken.size} geometries cannot be decoded {fix}, e.g. "
            f"row {broken[0]} ({reason}); fix them in the source."
        )
        raise InputError(msg) from failure
    geoms[failed] = fixed
    frame["geometry"] = geoms
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=meta.get("crs")), failed


def _read_wkb(path: str, layer: str, encoding: str | None) -> tuple[dict, np.ndarray]:
    """Read a layer's geometries only, as WKB bytes (None for null), and its metadata."""
    if encoding is None:
        try:
            meta, table = pyogrio.read_arrow(path, layer=layer, columns=[])
        except Exception as err:  # no Arrow support: read feature by feature
            logger.debug("%s: Arrow read of the WKB failed (%s)", path, err)
        else:
            name = meta.get("geometry_name") or "wkb_geometry"
            column = table[name] if name in table.column_names else table.column(0)
            return meta, np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)
    meta, _, wkb, _ = pyogrio.raw.read(path, layer=layer, encoding=encoding, columns=[])
    return meta, np.asarray(wkb, dtype=object)


def _read_source(
    source: Any,
    *,
    layer: str | int | None,
    encoding: str | None,
    notes: list[str],
    rings_closed: list[int] | None = None,
) -> tuple[gpd.GeoDataFrame, str, str | None]:
    """Read ``source`` into a fresh GeoDataFrame; return it, its label and its layer name.

    The 0-based positions of rows whose unclosed polygon rings were closed while reading
    are appended to ``rings_closed``.
    """
    if isinstance(source, gpd.GeoDataFrame):
        if layer is not None or encoding is not None:
            msg = "layer= and encoding= apply to files only, not to a GeoDataFrame."
            raise InputError(msg)
        if source._geometry_column_name not in source.columns:
            msg = "<GeoDataFrame> has no active geometry column; call set_geometry(...) first."
            raise InputError(msg)
        return source.copy(deep=True), "<GeoDataFrame>", None
    if isinstance(source, pd.DataFrame):
        msg = "a pandas DataFrame has no geometry; pass a GeoDataFrame or a file path."
        raise InputError(msg)
    if not isinstance(source, (str, os.PathLike)):
        msg = f"source must be a file path or a GeoDataFrame, not {type(source).__name__}."
        raise InputError(msg)

    path = os.fspath(source)
    virtual = path.startswith("/vsi") or "://" in path
    if not virtual and not os.path.exists(path):
        msg = f"file not found: {path}"
        raise InputError(msg)
    remember_input(path)

    if Path(path).suffix.lower() in _PARQUET_SUFFIXES:
        if layer is not None:
            msg = f"{path} is GeoParquet, which has a single layer; drop layer=."
            raise InputError(msg)
        try:
            gdf = gpd.read_parquet(path)
        except Exception as err:  # pyarrow and geopandas raise many kinds
            msg = f"cannot read {path}: {_short(err)}"
            raise InputError(msg) from err
        return gdf, path, None

    name = _choose_layer(path, _list_layers(path), layer)
    try:
        gdf, closed = _read_ogr(path, name, encoding)
    except InputError:
        raise
    except UnicodeDecodeError as err:
        msg = (
            f"cannot decode the text of {path} as {encoding or 'its declared encoding'} "
            f"({err.reason}); pass encoding=... with the file's real encoding, "
            "e.g. encoding='big5' for traditional Chinese."
        )
        raise InputError(msg) from err
    except LookupError as err:  # unknown codec name
        msg = f"cannot read {path}: unknown encoding={encoding!r}."
        raise InputError(msg) from err
    except (DataSourceError, DataLayerError) as err:
        msg = f"cannot read {path}: {_short(err)}"
        raise InputError(msg) from err
    except Exception as err:  # any other driver failure
        msg = f"cannot read {path}: {_short(err)}"
        raise InputError(msg) from err
    if not isinstance(gdf, gpd.GeoDataFrame):
        msg = f"{path} layer {name!r} has no geometry column; pass a polygon layer."
        raise InputError(msg)
    if encoding is None and _suspect_undeclared_encoding(path, gdf):
        note = (
            "shapefile has no .cpg and its text was decoded as ISO-8859-1; if Chinese "
            "text looks garbled pass encoding='big5' (or the real encoding)"
        )
        notes.append(note)
        logger.warning("%s: %s", path, note)
    if rings_closed is not None:
        rings_closed.extend(closed.tolist())
    return gdf, path, name


def _find_column(columns: pd.Index, name: str) -> str | None:
    """Return the column called ``name`` (exact match first, then any case), or None."""
    if name in columns:
        return name
    wanted = str(name).lower()
    for column in columns:
        if str(column).lower() == wanted:
            return column
    return None


def _available(gdf: gpd.GeoDataFrame) -> str:
    geometry = gdf.geometry.name
    return ", ".join(repr(c) for c in gdf.columns if c != geometry)


def _prepare_columns(
    gdf: gpd.GeoDataFrame, columns: Mapping[str, str] | None, source: str
) -> tuple[gpd.GeoDataFrame, set[str]]:
    """Name the geometry column 'geometry' and apply the ``columns=`` renaming.

    Returns the frame and the set of canonical names the user mapped to.
    """
    if gdf.geometry.name != "geometry":
        if "geometry" in gdf.columns:
            msg = (
                f"{source}: a non-geometry column is called 'geometry' while the geometry "
                f"is in {gdf.geometry.name!r}; rename one of them."
            )
            raise SchemaError(msg)
        gdf = gdf.rename_geometry("geometry")
    if columns is None:
        return gdf, set()
    if not isinstance(columns, Mapping):
        msg = (
            "columns= must be a mapping {source column: canonical name}, "
            "e.g. {'ZONE': 'zone_label'}."
        )
        raise SchemaError(msg)
    rename: dict[str, str] = {}
    for src, dst in columns.items():
        actual = _find_column(gdf.columns.drop("geometry"), src)
        if actual is None:
            msg = (
                f"{source}: column {src!r} given in columns= is not in the layer; "
                f"available columns: {_available(gdf)}."
            )
            raise SchemaError(msg)
        rename[actual] = str(dst)
    gdf = gdf.rename(columns=rename)
    _check_unique_columns(gdf, source)
    return gdf, set(rename.values())


def _check_unique_columns(gdf: pd.DataFrame, source: str) -> None:
    repeated = gdf.columns[gdf.columns.duplicated()]
    if len(repeated):
        msg = (
            f"{source}: after renaming, columns {sorted(set(map(str, repeated)))} appear twice; "
            "map only one source column to each name in columns=."
        )
        raise SchemaError(msg)


def _finish(gdf: gpd.GeoDataFrame, account: ReadAccount, reader: str) -> gpd.GeoDataFrame:
    gdf = gdf.reset_index(drop=True)
    account.n_output = len(gdf)
    dropped = account.n_dropped_empty + account.n_dropped_duplicate + account.n_parts_combined
    if account.n_input != account.n_output + dropped:  # pragma: no cover - internal invariant
        msg = f"{account.source}: row accounting does not add up ({account})."
        raise AssertionError(msg)
    gdf.attrs["nmgeo_account"] = account.as_dict()
    logger.info("%s: %s", reader, account)
    return gdf


def _apply_geometry_checks(
    gdf: gpd.GeoDataFrame,
    *,
    crs: Any,
    ids: pd.Series | None,
    source: str,
    on_invalid: str,
    account: ReadAccount,
) -> gpd.GeoDataFrame:
    """Bring ``gdf`` to EPSG:2326 and check and repair its geometries, filling ``account``.

    Also names the rows whose unclosed rings were closed while reading (the account holds
    their positions until here, where ``ids``, aligned with the source rows, are known).
    """
    if account.n_rings_closed:
        account.rings_closed_ids = report_rings_closed(
            account.n_rings_closed, account.rings_closed_ids, ids=ids, source=source
        )
    gdf, crs_fields = ensure_crs(gdf, crs, source=source, ids=ids)
    account.crs_in = crs_fields["crs_in"]
    account.transformed = crs_fields["transformed"]
    gdf, counts = check_geometries(gdf, ids=ids, source=source, on_invalid=on_invalid)
    for key, value in counts.items():
        setattr(account, key, value)
    return gdf


def read_parcels(
    source: str | os.PathLike | gpd.GeoDataFrame,
    *,
    layer: str | int | None = None,
    crs: Any = None,
    id_column: str | None = None,
    columns: Mapping[str, str] | None = None,
    on_invalid: str = "repair",
    encoding: str | None = None,
    multipart: str = "combine",
) -> gpd.GeoDataFrame:
    """Read a lot (land parcel) layer, check it and return it in EPSG:2326.

    Parameters
    ----------
    source : str, os.PathLike or geopandas.GeoDataFrame
        A GeoPackage, GeoJSON, Shapefile, FlatGeobuf, File Geodatabase (``.gdb`` folder)
        or GeoParquet (``.parquet`` / ``.geoparquet``) file, or a GeoDataFrame (copied,
        never modified). Files are read with pyogrio (GeoParquet with geopandas).
    layer : str or int, optional
        Layer to read from a multi-layer source (GeoPackage, File Geodatabase). Required
        when the source holds more than one layer.
    crs : str, int or pyproj.CRS, optional
        CRS of a layer that has none (e.g. a Shapefile without ``.prj``), such as
        ``"EPSG:2326"``. It must agree with the layer's own CRS when it has one. The CRS is
        never guessed.
    id_column : str, optional
        Column holding the lot identifier (any case). By default the first of
        ``LOTCSUID``, ``LOTID``, ``OBJECTID``, ``parcel_id``, ``id``, ``fid`` found (any
        case); if none is present, ids ``"P0000001"``, ``"P0000002"``… are generated in
        row order.
    columns : mapping, optional
        ``{source column: canonical name}`` renaming applied first (source names matched
        in any case), e.g. ``{"LOT_NO": "parcel_id"}``.
    on_invalid : {"repair", "drop", "raise"}, default "repair"
        ``"repair"`` repairs invalid geometries with :func:`shapely.make_valid` (logging a
        warning with the count and area change) and raises on null/empty/zero-area
        geometries and on duplicate or null ids. ``"drop"`` repairs too, and drops rows
        with null/empty/zero-area geometries and rows with null ids or repeats of an
        earlier id (keeping the first). ``"raise"`` raises on any invalid, empty or
        duplicate row.
    encoding : str, optional
        Text encoding of the source (e.g. ``"big5"``) when it is not declared in the file.
    multipart : {"combine", "separate"}, default "combine"
        What rows sharing an id are. ``"combine"``: parts of one lot (LandsD delivers a
        lot in several parts as several features with the same ``LOTID``); they become
        one row whose geometry is the union of the parts and whose other fields are the
        first part's (logged with a count; account ``n_parts_combined``). ``"separate"``:
        repeated ids are errors, handled as ``on_invalid`` says.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per lot, in source row order (RangeIndex), geometry in EPSG:2326
        (HK1980 Grid, metres) as Polygon or MultiPolygon, with columns:

        - ``parcel_id``: unique lot identifier (the source values and their type), the key
          used to trace a lot through zoning, packages and reports;
        - ``area_m2``: planimetric lot area in square metres (EPSG:2326), computed after
          repair — the land area a disposal package counts (an existing ``area_m2``
          column is replaced);
        - the source's columns, including the source id column (e.g. ``LOTCSUID``).

        ``attrs["nmgeo_account"]`` holds a :class:`~nmgeo._validate.ReadAccount` dict of
        what was transformed, repaired and dropped.

    Raises
    ------
    InputError
        Unreadable or missing file, ambiguous or unknown layer, zero features.
    SchemaError
        ``id_column`` or a ``columns=`` source column is missing.
    CRSError, MissingCRSError, CoordinateRangeError
        Missing or contradictory CRS, or coordinates that cannot be in Hong Kong.
    GeometryTypeError, EmptyGeometryError, InvalidGeometryError, DuplicateIdError
        See ``on_invalid``.

    Notes
    -----
    Areas are planimetric on the HK1980 Grid (a Transverse Mercator projection): within
    the Northern Metropolis the scale factor differs from 1 by well under 0.01 %, so areas
    match ground areas to that order. Repair keeps only the polygonal parts of
    :func:`shapely.make_valid` (``method="structure"``): overlapping parts are merged, a
    self-crossing ("bow-tie") ring becomes its two lobes, and collapsed slivers vanish.
    Unclosed rings (the last point not repeating the first, which GDAL passes on from
    GeoJSON) are closed, with a warning naming the lots (account ``n_rings_closed``).

    Lots that overlap each other are kept as they are, but reported: one warning names the
    first pairs, and the account records ``n_overlapping_lots``, ``n_overlap_pairs`` and
    ``overlap_area_m2``. A pair counts when its intersection exceeds 1 cm times the smaller
    lot's perimeter (as in :func:`~nmgeo.zoning.assign_zoning`), so shared edges and
    coordinate noise never count. Area totals over overlapping lots count the overlap twice.
    """
    gdf, label, account, mapped = _open(source, layer, encoding, columns, on_invalid)

    id_source = _parcel_id_column(gdf, id_column, mapped, label)
    if id_source is None:
        numbers = pd.Series(np.arange(1, len(gdf) + 1), index=gdf.index).astype(str)
        gdf["parcel_id"] = "P" + numbers.str.zfill(_GENERATED_ID_WIDTH)
        account.id_generated = True
        logger.info("%s: no id column found; generated parcel_id P0000001...", label)
        id_source = "parcel_id"
    elif id_source != "parcel_id":
        if "parcel_id" in gdf.columns and not gdf["parcel_id"].equals(gdf[id_source]):
            gdf = gdf.rename(columns={"parcel_id": "parcel_id_source"})
            note = f"existing parcel_id column renamed parcel_id_source; ids from {id_source}"
            account.notes.append(note)
            logger.info("%s: %s", label, note)
        gdf["parcel_id"] = gdf[id_source]

    gdf = _apply_geometry_checks(
        gdf, crs=crs, ids=gdf["parcel_id"], source=label, on_invalid=on_invalid, account=account
    )

    column = "parcel_id" if id_source == "parcel_id" else f"{id_source} (as parcel_id)"
    if multipart not in MULTIPART:
        msg = f"multipart={multipart!r} is not one of {', '.join(map(repr, MULTIPART))}"
        raise InputError(msg)
    if multipart == "combine":
        gdf = _combine_parts(gdf, account, label)
    drop = check_ids(gdf["parcel_id"], column=column, source=label, on_invalid=on_invalid)
    if drop.any():
        account.n_dropped_duplicate = int(drop.sum())
        room = max(N_ACCOUNT_IDS - len(account.dropped_ids), 0)
        account.dropped_ids += ids_at(np.flatnonzero(drop)[:room], gdf["parcel_id"])
        logger.warning(
            "%s: dropped %d rows with a null or repeated %s", label, int(drop.sum()), column
        )
        gdf = gdf.loc[~drop]

    if "area_m2" in gdf.columns:
        note = "existing area_m2 column replaced by the EPSG:2326 area"
        account.notes.append(note)
        logger.info("%s: %s", label, note)
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    gdf["area_m2"] = shapely.area(geoms).astype(float)
    overlaps = check_overlaps(geoms, ids=gdf["parcel_id"], source=label)
    for key, value in overlaps.items():
        setattr(account, key, value)
    first = ["parcel_id", "area_m2"]
    rest = [c for c in gdf.columns if c not in first and c != "geometry"]
    gdf = gdf[[*first, *rest, "geometry"]]
    return _finish(gdf, account, "read_parcels")


def _combine_parts(gdf: gpd.GeoDataFrame, account: ReadAccount, label: str) -> gpd.GeoDataFrame:
    """Merge rows sharing a (non-null) ``parcel_id`` into one row: the parts of one lot."""
    out, first = combine_parts(gdf)
    if not first.any():
        return out
    account.n_parts_combined = len(gdf) - len(out)
    account.combined_ids = ids_at(np.flatnonzero(first)[:N_ACCOUNT_IDS], gdf["parcel_id"])
    logger.info(
        "%s: %d rows are further parts of %d lots sharing their parcel_id; each lot's parts "
        "were combined into one row (pass multipart='separate' to treat repeats as errors)",
        label,
        account.n_parts_combined,
        int(first.sum()),
    )
    return out


def _open(
    source: Any,
    layer: str | int | None,
    encoding: str | None,
    columns: Mapping[str, str] | None,
    on_invalid: str,
) -> tuple[gpd.GeoDataFrame, str, ReadAccount, set[str]]:
    """Read a source, start its account and apply ``columns=``: the readers' common start."""
    check_on_invalid(on_invalid)
    notes: list[str] = []
    closed: list[int] = []
    gdf, label, layer_name = _read_source(
        source, layer=layer, encoding=encoding, notes=notes, rings_closed=closed
    )
    account = ReadAccount(source=label, layer=layer_name, n_input=len(gdf), notes=notes)
    # Row positions for now: _apply_geometry_checks names them once the ids are known.
    account.n_rings_closed = len(closed)
    account.rings_closed_ids = closed[:N_ACCOUNT_IDS]
    _require_rows(gdf, label, layer_name)
    gdf, mapped = _prepare_columns(gdf, columns, label)
    return gdf, label, account, mapped


def _require_rows(gdf: gpd.GeoDataFrame, label: str, layer: str | None) -> None:
    if len(gdf) == 0:
        where = label if layer is None else f"{label} layer {layer!r}"
        msg = f"{where} has no features; pass a layer with at least one polygon."
        raise InputError(msg)


def _parcel_id_column(
    gdf: gpd.GeoDataFrame, id_column: str | None, mapped: set[str], source: str
) -> str | None:
    """Return the column that holds parcel ids, or None when ids must be generated."""
    candidates = gdf.columns.drop("geometry")
    if id_column is not None:
        found = _find_column(candidates, id_column)
        if found is None:
            msg = (
                f"{source}: id_column={id_column!r} is not in the layer; available columns: "
                f"{_available(gdf)}."
            )
            raise SchemaError(msg)
        return found
    if "parcel_id" in mapped:
        return "parcel_id"
    for name in PARCEL_ID_CANDIDATES:
        found = _find_column(candidates, name)
        if found is not None:
            return found
    return None


def read_zones(
    source: str | os.PathLike | gpd.GeoDataFrame,
    *,
    layer: str | int | None = None,
    crs: Any = None,
    columns: Mapping[str, str] | None = None,
    mapping: Mapping[str, str] | pd.DataFrame | None = None,
    on_invalid: str = "repair",
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read an OZP zoning layer, check it, classify its zones and return it in EPSG:2326.

    Parameters
    ----------
    source : str, os.PathLike or geopandas.GeoDataFrame
        A GeoPackage, GeoJSON, Shapefile, FlatGeobuf, File Geodatabase (``.gdb`` folder)
        or GeoParquet file, or a GeoDataFrame (copied, never modified), e.g. the TPB OZP
        digital planning data.
    layer : str or int, optional
        Layer to read from a multi-layer source; required when there is more than one.
    crs : str, int or pyproj.CRS, optional
        CRS of a layer that has none (e.g. ``"EPSG:2326"``); must agree with the layer's
        own CRS when it has one. Never guessed.
    columns : mapping, optional
        ``{source column: canonical name}`` renaming applied first (source names in any
        case), for schemas other than TPB's, e.g. ``{"ZONING": "zone_label"}``. TPB field
        names (``PLAN_NO``, ``ZONE_LABEL``, ``DESC_ENG``, ``SPUSE_ENG``, any case) are
        recognised without it.
    mapping : mapping or pandas.DataFrame, optional
        ``{zone label or family: land-use class}`` overrides (or a replacement vocabulary
        table), passed to ``classify_zone``.
    on_invalid : {"repair", "drop", "raise"}, default "repair"
        As in :func:`read_parcels` (zones carry no id, so rows are named by their 0-based
        position in the source).
    encoding : str, optional
        Text encoding of the source (e.g. ``"big5"``) when it is not declared in the file.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per zone polygon, in source row order (RangeIndex), geometry in EPSG:2326
        (HK1980 Grid, metres), with columns:

        - ``zone_label``: the OZP zone label as published, e.g. ``"R(A)3"``, ``"OU(Business)"``;
        - ``plan_no``: the Outline Zoning Plan number (e.g. ``"S/YL-HSK/2"``), None if absent;
        - ``description``: the English zone name (TPB ``DESC_ENG``), None if absent;
        - ``specified_use``: the specified use of an "OU" zone (TPB ``SPUSE_ENG``), None
          if absent;
        - ``land_use``: the land-use class a planner works with (one of
          :data:`nmgeo.zoning.LAND_USE_CLASSES`: commercial, mixed_use, residential,
          village, industrial, public_facility, open_space, transport, conservation,
          agriculture, open_storage, undetermined, other), ``"unknown"`` for an
          unmatched label;
        - the source's other columns (``DESC_CHT``, ``SPUSE_CHT``, ``SHAPE_Area``…).

        ``attrs["nmgeo_account"]`` holds the read account.

    Raises
    ------
    InputError, SchemaError, CRSError, GeometryTypeError, EmptyGeometryError,
    InvalidGeometryError
        As in :func:`read_parcels`; SchemaError also when no ``zone_label`` column is found.
    """
    gdf, label, account, mapped = _open(source, layer, encoding, columns, on_invalid)

    rename: dict[str, str] = {}
    for canonical, aliases in ZONE_COLUMNS.items():
        if canonical in gdf.columns:
            continue
        for alias in aliases:
            found = _find_column(gdf.columns.drop("geometry"), alias)
            if found is not None and found not in rename:
                rename[found] = canonical
                break
    gdf = gdf.rename(columns=rename)
    _check_unique_columns(gdf, label)
    if "zone_label" not in gdf.columns:
        msg = (
            f"{label}: no zone label column (TPB ZONE_LABEL) found; available columns: "
            f"{_available(gdf)}; name it with columns={{'YourCol': 'zone_label'}}."
        )
        raise SchemaError(msg)

    gdf = _apply_geometry_checks(
        gdf, crs=crs, ids=None, source=label, on_invalid=on_invalid, account=account
    )
    for name in ("plan_no", "description", "specified_use"):
        if name not in gdf.columns:
            gdf[name] = pd.Series(np.full(len(gdf), None, dtype=object), index=gdf.index)

    if "land_use" in gdf.columns:
        note = "existing land_use column replaced by classify_zone"
        account.notes.append(note)
        logger.info("%s: %s", label, note)
    labels = gdf["zone_label"].reset_index(drop=True)
    specified = gdf["specified_use"].reset_index(drop=True)
    land_use = classify_zone(labels, specified_use=specified, mapping=mapping)
    land_use = np.asarray(land_use)
    if land_use.shape != (len(gdf),):  # pragma: no cover - guards the vocabulary contract
        msg = f"classify_zone returned {land_use.shape[0]} classes for {len(gdf)} zones."
        raise AssertionError(msg)
    gdf["land_use"] = land_use

    first = ["zone_label", "plan_no", "description", "specified_use", "land_use"]
    rest = [c for c in gdf.columns if c not in first and c != "geometry"]
    gdf = gdf[[*first, *rest, "geometry"]]
    return _finish(gdf, account, "read_zones")


def read_extent(
    source: str | os.PathLike | gpd.GeoDataFrame,
    *,
    layer: str | int | None = None,
    crs: Any = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read the polygons where a lot layer is complete, e.g. Demarcation District bounds.

    The ``extent`` of :func:`nmgeo.land_fabric`: inside it, zoned land without a lot is
    unleased Government land; outside it, its tenure is unknown.

    Parameters
    ----------
    source : str, os.PathLike or geopandas.GeoDataFrame
        Any polygon layer nmgeo reads (see :func:`read_parcels`).
    layer, crs, encoding
        As for :func:`read_parcels`.

    Returns
    -------
    geopandas.GeoDataFrame
        The polygons in EPSG:2326 (repaired if invalid), with the source's columns and
        ``attrs["nmgeo_account"]``.

    Examples
    --------
    >>> import nmgeo
    >>> hull = nmgeo.lot_extent(nmgeo.load_sample().parcels)
    >>> len(nmgeo.read_extent(hull))
    1
    """
    gdf, label, account, _ = _open(source, layer, encoding, None, "repair")
    gdf = _apply_geometry_checks(
        gdf, crs=crs, ids=None, source=label, on_invalid="repair", account=account
    )
    return _finish(gdf, account, "read_extent")


# --------------------------------------------------------------------------- writing

GPKG_CRS = "EPSG:2326"


def write_geopackage(path: str | os.PathLike, **layers: pd.DataFrame) -> Path:
    """Write frames as the layers of one GeoPackage, in EPSG:2326.

    The output for GIS users: open the file in QGIS or ArcGIS Pro and every result
    (parcels, packages, their member lists, reference layers) is a layer of it.

    Parameters
    ----------
    path : path
        The ``.gpkg`` file to write. **An existing file is replaced** (it is an output),
        unless nmgeo read it as an input in this session (:class:`~nmgeo.errors.OutputError`):
        the layers are written to a temporary file beside it, which then takes its
        place, so a failed write leaves the old file as it was. The parent folder is
        created.
    **layers : geopandas.GeoDataFrame or pandas.DataFrame
        ``layer_name=frame``, written in the order given. A GeoDataFrame becomes a
        spatial layer reprojected to EPSG:2326 (HK1980 Grid, metres); a DataFrame
        without geometry (e.g. ``PackageResult.members``) an attribute-only table,
        which GeoPackage supports.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InputError
        No layers, a value that is not a DataFrame, a path not ending in ``.gpkg``, or
        column names that differ only in case (GeoPackage fields are case-insensitive).
    MissingCRSError
        A GeoDataFrame without a CRS (nmgeo never guesses one).
    OutputError
        ``path`` is a file nmgeo read as an input in this session.

    Notes
    -----
    Columns are converted to types GDAL stores: categoricals to their values, object
    columns holding mixed or non-scalar values to text (lists and dicts as JSON),
    extra geometry columns to WKT text, time spans to seconds, other exotic types to
    text; missing values stay NULL. Layers mixing Polygon and MultiPolygon are
    written as MultiPolygon. The index is not written (reset it to keep it).
    """
    if not layers:
        msg = "write_geopackage needs at least one layer, e.g. write_geopackage(path, parcels=gdf)"
        raise InputError(msg)
    out = Path(path)
    if out.suffix.lower() != ".gpkg":
        msg = f"{out} does not end in .gpkg; GeoPackage files must (e.g. {out.stem}.gpkg)"
        raise InputError(msg)
    refuse_input(out, "write_geopackage")
    prepared = {name: _gpkg_frame(name, frame) for name, frame in layers.items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.stem}-", suffix=".gpkg", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # GDAL creates the file itself
    try:
        for name, frame in prepared.items():
            if isinstance(frame, gpd.GeoDataFrame):
                frame.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")
            else:
                pyogrio.write_dataframe(frame, tmp, layer=name, driver="GPKG")
            logger.debug("write_geopackage: layer %r, %d rows", name, len(frame))
        os.replace(tmp, out)
    finally:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), Path(f"{tmp}-journal")):
            leftover.unlink(missing_ok=True)
    logger.info("write_geopackage: %d layers -> %s", len(prepared), out)
    return out


def _gpkg_frame(name: str, frame: Any) -> pd.DataFrame:
    """A copy of ``frame`` that GDAL can write as a GeoPackage layer."""
    if not isinstance(frame, pd.DataFrame):
        msg = f"layer {name!r} is a {type(frame).__name__}, not a (Geo)DataFrame"
        raise InputError(msg)
    geometry = None
    if isinstance(frame, gpd.GeoDataFrame) and frame._geometry_column_name in frame.columns:
        frame = as_hk80(frame, f"layer {name!r}")
        geometry = frame.geometry.name
    table = pd.DataFrame(frame).copy()
    table.columns = [str(c) for c in table.columns]
    lower = pd.Series([c.lower() for c in table.columns])
    if lower.duplicated().any():
        dup = sorted(set(table.columns[lower.duplicated(keep=False).to_numpy()]))
        msg = f"layer {name!r}: columns {dup} differ only in case; GeoPackage needs unique names"
        raise InputError(msg)
    for col in table.columns:
        if col != geometry:
            table[col] = _gdal_column(table[col])
    table = table.reset_index(drop=True)
    if geometry is None:
        return table
    return gpd.GeoDataFrame(table, geometry=geometry, crs=GPKG_CRS)


def _gdal_column(column: pd.Series) -> pd.Series:
    """``column`` in a dtype GDAL writes: numbers, bools, text, datetimes; NULLs kept."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        column = column.astype(dtype.categories.dtype if len(dtype.categories) else object)
        dtype = column.dtype
    if isinstance(dtype, GeometryDtype):
        return pd.Series(shapely.to_wkt(column.to_numpy()), index=column.index, dtype=object)
    if pd.api.types.is_timedelta64_dtype(dtype):
        return column.dt.total_seconds()
    types = pd.api.types
    if dtype != np.dtype(object) and (
        types.is_bool_dtype(dtype)
        or (types.is_numeric_dtype(dtype) and not types.is_complex_dtype(dtype))
        or types.is_datetime64_any_dtype(dtype)
        or types.is_string_dtype(dtype)
    ):
        return column
    values = column.to_numpy(dtype=object)
    present = [v for v in values if not _is_missing(v)]
    if present and all(isinstance(v, str) for v in present):
        return pd.Series(values, index=column.index, dtype=object)
    return pd.Series([_as_text(v) for v in values], index=column.index, dtype=object)


def _is_missing(value: Any) -> bool:
    return value is None or (np.ndim(value) == 0 and bool(pd.isna(value)))


def _as_text(value: Any) -> str | None:
    if _is_missing(value):
        return None
    if isinstance(value, shapely.Geometry):
        return value.wkt
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)
