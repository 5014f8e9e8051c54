"""Readers of lot (parcel) and OZP zoning layers, and the GeoPackage writer, all in EPSG:2326."""

from __future__ import annotations

import codecs
import errno
import glob
import json
import logging
import os
import re
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Mapping
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

from nmgeo._accounts import ReadAccount, ZoneReadAccount, merge_accounts
from nmgeo._crs import HK80, IMPLIED_CRS, as_hk80, ensure_crs
from nmgeo._gc import pauses_gc
from nmgeo._geojson import Facts as GeoJSONFacts
from nmgeo._geojson import inspect as inspect_geojson
from nmgeo._ids import N_ACCOUNT_IDS, combine_parts, ids_at
from nmgeo._outputs import replacing
from nmgeo._overlaps import check_overlaps
from nmgeo._sources import refuse_input, remember_input
from nmgeo._validate import (
    check_finite,
    check_geometries,
    check_ids,
    check_on_invalid,
    report_rings_closed,
)
from nmgeo.errors import InputError, OutputError, SchemaError

__all__ = [
    "read_extent",
    "read_height_controls",
    "read_parcels",
    "read_zones",
    "write_geopackage",
]

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
# Files read_zones takes from a folder or a glob pattern (a .gdb is a folder).
PLAN_FILE_SUFFIXES = (".json", ".geojson", ".gpkg", ".shp", ".fgb", ".gdb", *_PARQUET_SUFFIXES)
# What read_zones does with a plan found in more than one version or file.
PLAN_VERSIONS = ("latest", "all", "raise")
# An OZP / DPA plan number: the plan ("S/KTN") and its version ("4"), e.g. "S/KTN/4".
_PLAN_NO = r"^(?P<family>.+?)/(?P<number>\d+)(?P<suffix>[A-Z]*)$"


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
        return _copy_frame(source, layer, encoding), "<GeoDataFrame>", None
    path = _source_path(source)
    virtual = path.startswith("/vsi") or "://" in path
    if Path(path).suffix.lower() in _PARQUET_SUFFIXES:
        return _read_parquet(path, layer), path, None
    name = _choose_layer(path, _list_layers(path), layer)
    _check_sidecars(path)
    requested = encoding
    if encoding is not None and not virtual:
        encoding = _encoding_to_use(path, encoding, notes)
    gdf, closed, facts, encoding = _read_layer_text(path, name, encoding, requested, notes)
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
    if facts is None or facts.flat is None:
        gdf = _with_feature_ids(gdf, path, name, facts=facts, notes=notes)
    if facts is not None and facts.implied_crs:
        gdf.attrs[IMPLIED_CRS] = "GeoJSON without a crs member, which RFC 7946 reads as WGS84"
    return gdf, path, name


def _copy_frame(
    source: gpd.GeoDataFrame, layer: str | int | None, encoding: str | None
) -> gpd.GeoDataFrame:
    if layer is not None or encoding is not None:
        msg = "layer= and encoding= apply to files only, not to a GeoDataFrame."
        raise InputError(msg)
    if source._geometry_column_name not in source.columns:
        msg = "<GeoDataFrame> has no active geometry column; call set_geometry(...) first."
        raise InputError(msg)
    return source.copy(deep=True)


def _source_path(source: Any) -> str:
    """The path of a file source, checked to exist (GDAL virtual paths are taken as given)."""
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
    return path


def _read_parquet(path: str, layer: str | int | None) -> gpd.GeoDataFrame:
    if layer is not None:
        msg = f"{path} is GeoParquet, which has a single layer; drop layer=."
        raise InputError(msg)
    try:
        return gpd.read_parquet(path)
    except Exception as err:  # pyarrow and geopandas raise many kinds
        msg = f"cannot read {path}: {_short(err)}"
        raise InputError(msg) from err


def _read_layer_text(
    path: str, name: str | None, encoding: str | None, requested: str | None, notes: list[str]
) -> tuple[gpd.GeoDataFrame, np.ndarray, GeoJSONFacts | None, str | None]:
    """One layer read by GDAL, with the encoding that decoded it and the GeoJSON facts.

    Every failure of the driver becomes one InputError naming the file and the fix.
    """
    try:
        try:
            gdf, closed = _read_ogr(path, name, encoding)
        except UnicodeDecodeError:
            if requested is None or encoding == requested:
                raise
            # The declared encoding is wrong (a .cpg saying UTF-8 over Big5 text, say).
            note = f"its text does not decode as it declares; read as encoding={requested!r}"
            logger.warning("%s: %s", path, note)
            notes.append(note)
            encoding = requested
            gdf, closed = _read_ogr(path, name, encoding)
        facts = inspect_geojson(path, len(gdf), encoding)
        if facts is not None and facts.flat is not None:
            gdf, closed = _read_flattened(path, name, facts, notes)
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - GDAL, codecs and pyogrio raise many kinds
        raise _read_error(err, path, encoding) from err
    if facts is not None and facts.n_esri_curves and gdf.geometry.isna().any():
        msg = (
            f"{path} holds {facts.n_esri_curves} Esri curve geometries (curveRings), "
            "which GDAL reads as empty; export the layer again with its curves "
            "densified into straight segments (e.g. ArcGIS Densify) and read that."
        )
        raise InputError(msg)
    return gdf, closed, facts, encoding


def _read_error(err: Exception, path: str, encoding: str | None) -> InputError:
    """The one-line error for a failed read, naming the file and the fix."""
    if isinstance(err, UnicodeDecodeError):
        virtual = path.startswith("/vsi") or "://" in path
        declared = _declared_encoding(path) if not virtual else None
        fix = (
            f", or correct its .cpg (which says {declared})"
            if declared and Path(path).suffix.lower() == ".shp"
            else ""
        )
        msg = (
            f"cannot decode the text of {path} as {encoding or 'its declared encoding'} "
            f"({err.reason}); pass encoding=... with the file's real encoding, "
            f"e.g. encoding='big5' for traditional Chinese{fix}."
        )
    elif isinstance(err, LookupError):  # unknown codec name
        msg = f"cannot read {path}: unknown encoding={encoding!r}."
    else:  # DataSourceError, DataLayerError and any other driver failure
        msg = f"cannot read {path}: {_short(err)}"
    return InputError(msg)


# Formats whose text is UTF-8 by their specification.
_UTF8_FORMATS = (".gpkg", ".fgb", ".gdb", *_PARQUET_SUFFIXES)


def _declared_encoding(path: str) -> str | None:
    """The text encoding a file declares (or its format prescribes), if any."""
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix in _UTF8_FORMATS:
        return "utf-8"
    if suffix == ".shp":
        cpg = [
            p
            for p in file.parent.glob(f"{glob.escape(file.stem)}.*")
            if p.suffix.lower() == ".cpg"
        ]
        return (
            cpg[0].read_text(encoding="ascii", errors="replace").strip() or None if cpg else None
        )
    if suffix in (".json", ".geojson"):
        try:
            file.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            return None  # not UTF-8 as RFC 7946 wants: encoding= says what it is
        return "utf-8"
    return None


def _encoding_to_use(path: str, encoding: str, notes: list[str]) -> str | None:
    """``encoding``, unless the file declares another one: then the file's (with a warning).

    ``encoding=`` is for text that does not say what it is (a Shapefile without .cpg, a
    GeoJSON that is not UTF-8); the CLI passes one --encoding to every input, so a
    declared encoding must win or the other inputs turn to mojibake.
    """
    declared = _declared_encoding(path)
    if declared is None:
        return encoding
    try:
        same = codecs.lookup(declared).name == codecs.lookup(encoding).name
    except LookupError:
        return encoding  # an unknown name: the read reports it
    if not same:
        note = f"declares its text encoding ({declared}); encoding={encoding!r} not applied"
        notes.append(note)
        logger.warning("%s: %s", path, note)
    return None


def _check_sidecars(path: str) -> None:
    """Refuse a Shapefile GDAL would read with missing or misaligned attributes.

    Without its .dbf every attribute is gone (ids generated, no labels); a .dbf holding
    another number of records than the .shx has shapes pairs attributes with the wrong
    shapes or drops some. Plain files and Shapefiles inside a .zip are checked.
    """
    plain = Path(path)
    if plain.suffix.lower() == ".shp" and plain.is_file():
        names = {p.name.lower(): p for p in plain.parent.iterdir()}
        _check_shapefile(path, plain.stem, names, lambda p, n: p.open("rb").read(n))
        return
    archive = path[len("/vsizip/") :] if path.startswith("/vsizip/") else path
    archive = archive.split(".zip", 1)[0] + ".zip" if ".zip" in archive.lower() else archive
    if not archive.lower().endswith(".zip") or not os.path.isfile(archive):
        return
    with zipfile.ZipFile(archive) as zf:
        members = {Path(n).name.lower(): n for n in zf.namelist()}
        for shp in [n for n in zf.namelist() if n.lower().endswith(".shp")]:
            _check_shapefile(
                f"{archive}/{shp}",
                Path(shp).stem,
                members,
                lambda member, n: zf.open(member).read(n),
                sizes={m: zf.getinfo(m).file_size for m in zf.namelist()},
            )


def _check_shapefile(
    label: str,
    stem: str,
    names: Mapping[str, Any],
    head: Callable[[Any, int], bytes],
    sizes: Mapping[Any, int] | None = None,
) -> None:
    dbf = names.get(f"{stem}.dbf".lower())
    if dbf is None:
        msg = (
            f"{label} has no {stem}.dbf beside it, so its attributes (lot ids, zone "
            "labels) are missing; copy the .dbf that came with the .shp into the same folder."
        )
        raise InputError(msg)
    shx = names.get(f"{stem}.shx".lower())
    if shx is None:
        return  # GDAL's own message names the missing .shx
    shx_size = sizes[shx] if sizes is not None else Path(shx).stat().st_size
    n_shapes = max(shx_size - 100, 0) // 8
    header = head(dbf, 8)
    if len(header) < 8:
        return  # GDAL reports a broken .dbf itself
    n_records = int.from_bytes(header[4:8], "little")
    if n_records != n_shapes:
        msg = (
            f"{label} has {n_shapes} shapes but {stem}.dbf {n_records} attribute records, "
            "so attributes would pair with the wrong shapes or be lost; use the .shp, .shx "
            "and .dbf of one export together."
        )
        raise InputError(msg)


# FID columns GDAL (or write_geopackage) makes up, 1..n: no information in them.
_GENERATED_FID = {"", "fid", "ogc_fid"}


def _with_feature_ids(
    gdf: gpd.GeoDataFrame, path: str, layer: str, *, facts: GeoJSONFacts | None, notes: list[str]
) -> gpd.GeoDataFrame:
    """Keep ids a layer holds as its feature ids, which a plain read leaves out.

    A GeoPackage exported with its FID column named (``OBJECTID``, as ArcGIS does) and a
    GeoJSON whose features carry numeric ``id`` members hold the lot ids as GDAL feature
    ids: they become the column ``OBJECTID`` (the FID column's name) or ``id``. GeoJSON
    ids that repeat or are missing are renumbered by GDAL: then none is used.
    """
    if facts is not None:  # GeoJSON: no metadata read (it would parse the file again)
        if facts.geometry_field:
            gdf = _with_shadowed_fields(gdf, path, layer, ["geometry"], notes)
        if facts.n_id_members < len(gdf):
            return gdf  # some features have no id member
        fid_column = "id"
    else:
        try:
            info = pyogrio.read_info(path, layer=layer)
        except Exception:  # the layer was read; its metadata is only a bonus
            return gdf
        gdf = _with_shadowed_fields(gdf, path, layer, list(info.get("fields", [])), notes)
        fid_column = info.get("fid_column") or ""
        if fid_column.lower() in _GENERATED_FID or fid_column.lower().startswith("gpkg_fid"):
            return gdf
    if any(str(c).lower() == fid_column.lower() for c in gdf.columns):
        return gdf
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fids = pyogrio.read_dataframe(
            path, layer=layer, columns=[], read_geometry=False, fid_as_index=True
        ).index.to_numpy()
    if any("unique" in str(w.message) for w in caught):
        note = "feature ids repeat, so GDAL renumbered them; they are not used as lot ids"
        notes.append(note)
        logger.warning("%s: %s", path, note)
        return gdf
    if len(fids) != len(gdf) or (facts is not None and np.array_equal(fids, np.arange(len(fids)))):
        return gdf  # GeoJSON features without ids are numbered 0..n-1
    gdf = gdf.copy()
    gdf.insert(0, fid_column, fids)
    note = f"feature ids read as column {fid_column!r}"
    notes.append(note)
    logger.info("%s: %s", path, note)
    return gdf


def _with_shadowed_fields(
    gdf: gpd.GeoDataFrame, path: str, layer: str, fields: list[str], notes: list[str]
) -> gpd.GeoDataFrame:
    """A field named like the geometry column is lost on a plain read: add it back, renamed."""
    lost = [f for f in fields if f not in gdf.columns or f == gdf.geometry.name]
    if not lost:
        return gdf
    try:
        values = pyogrio.read_dataframe(path, layer=layer, read_geometry=False, columns=lost)
    except Exception as err:  # a field name GDAL lists but cannot select: say so
        logger.warning("%s: fields %s listed by GDAL were not read (%s)", path, lost, err)
        return gdf
    gdf = gdf.copy()
    for field in lost:
        name = f"{field}_field"
        while name in gdf.columns:
            name += "_"
        gdf[name] = values[field].to_numpy()
        note = f"field {field!r} clashes with the geometry column; read as {name!r}"
        notes.append(note)
        logger.warning("%s: %s", path, note)
    return gdf


def _read_flattened(
    path: str, name: str, facts: GeoJSONFacts, notes: list[str]
) -> tuple[pd.DataFrame, np.ndarray]:
    """Read the flat copy of a GeoJSON whose nested features GDAL skipped."""
    flat = facts.flat
    assert flat is not None
    with tempfile.TemporaryDirectory(prefix="nmgeo-geojson-") as folder:
        stem = re.sub(r"[^\w-]", "_", name) or "layer"
        copy = Path(folder) / f"{stem}.geojson"
        copy.write_bytes(flat.text)  # UTF-8, whatever the original's encoding
        gdf, closed = _read_ogr(str(copy), copy.stem, None)
        gdf = _with_feature_ids(gdf, str(copy), copy.stem, facts=facts, notes=notes)
    parts = []
    if flat.n_nested:
        parts.append(f"{flat.n_nested} features inside nested FeatureCollections")
    if flat.n_bare:
        parts.append(f"{flat.n_bare} bare geometries (read as features with no properties)")
    note = f"{' and '.join(parts)}, which GDAL skips, were read too"
    notes.append(note)
    logger.warning("%s: %s", path, note)
    return gdf, closed


def _find_column(
    columns: pd.Index, name: str, *, source: str, role: str, explicit: bool = False
) -> str | None:
    """Return the column called ``name`` in any case, or None.

    Two columns that differ only in case (``ZONE_LABEL`` and ``zone_label``) make the
    choice ambiguous: an error, unless the user named the column (``explicit``) and one
    of them matches it exactly.
    """
    wanted = str(name).lower()
    matches = [column for column in columns if str(column).lower() == wanted]
    if explicit and name in columns:
        return name
    if len(matches) > 1:
        listed = " and ".join(repr(str(c)) for c in matches)
        msg = (
            f"{source}: columns {listed} differ only in case, so which one holds the "
            f"{role} is ambiguous (nmgeo reads column names in any case); rename the one "
            f"not to use, e.g. columns={{{str(matches[-1])!r}: {f'{matches[-1]}_2'!r}}}."
        )
        raise SchemaError(msg)
    return matches[0] if matches else None


def _available(gdf: gpd.GeoDataFrame) -> str:
    geometry = gdf.geometry.name
    return ", ".join(repr(c) for c in gdf.columns if c != geometry)


def _prepare_columns(
    gdf: gpd.GeoDataFrame, columns: Mapping[str, str] | None, source: str
) -> tuple[gpd.GeoDataFrame, set[str]]:
    """Name the geometry column 'geometry' and apply the ``columns=`` renaming.

    Returns the frame and the set of canonical names the user mapped to.
    """
    _check_unique_columns(gdf, source, "appear more than once; give each column its own name")
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
        actual = _find_column(
            gdf.columns.drop("geometry"), src, source=source, role=str(dst), explicit=True
        )
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


_RENAMED_TWICE = "appear twice after renaming; map only one source column to each name in columns="


def _check_unique_columns(gdf: pd.DataFrame, source: str, problem: str = _RENAMED_TWICE) -> None:
    repeated = gdf.columns[gdf.columns.duplicated()]
    if len(repeated):
        msg = f"{source}: columns {sorted(set(map(str, repeated)))} {problem}."
        raise SchemaError(msg)


def _finish(gdf: gpd.GeoDataFrame, account: ReadAccount, reader: str) -> gpd.GeoDataFrame:
    gdf = gdf.reset_index(drop=True)
    account.n_output = len(gdf)
    dropped = account.n_dropped_empty + account.n_dropped_duplicate + account.n_parts_combined
    dropped += getattr(account, "n_dropped_superseded", 0)
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
    # Before the CRS checks, which would take a NaN vertex for a row outside Hong Kong.
    # Dropped rows become null geometries, counted by check_geometries with the empty ones.
    gdf, n_non_finite = check_finite(gdf, ids=ids, source=source, on_invalid=on_invalid)
    gdf, crs_fields = ensure_crs(gdf, crs, source=source, ids=ids)
    account.crs_in = crs_fields["crs_in"]
    account.transformed = crs_fields["transformed"]
    # The coordinates check_finite passed are these, unless ensure_crs transformed them.
    gdf, counts = check_geometries(
        gdf, ids=ids, source=source, on_invalid=on_invalid, finite=not account.transformed
    )
    for key, value in counts.items():
        setattr(account, key, value)
    if n_non_finite:
        account.notes.append(
            f"{n_non_finite} rows with NaN or infinite coordinates dropped (counted in "
            "n_dropped_empty)"
        )
    return gdf


@pauses_gc
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
        duplicate row. A vertex with a NaN or infinite coordinate is never repaired: it
        raises InvalidGeometryError naming the rows, except with ``"drop"``, which drops
        them (counted in ``n_dropped_empty``, with a note).
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

        ``attrs["nmgeo_account"]`` holds a :class:`~nmgeo._accounts.ReadAccount` dict of
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
    The search itself goes down to round-off width, and what it found is remembered (by a
    digest of the geometries), so that :func:`~nmgeo.land_fabric` on the lots as read
    resolves those overlaps without searching again.

    Nothing is dropped silently. Features inside a nested FeatureCollection, and bare
    geometries in a GeoJSON ``features`` array, are read too, with a warning (GDAL
    skips both). A Shapefile without its ``.dbf`` is refused. Ids that mix numbers and
    text are read as text, with a warning: ``1`` and ``"1"`` are then one id, as they
    would be once written. Two columns that differ only in case and could both hold
    the id (``LOTID`` and ``lotid``) are refused unless ``id_column`` names one.

    Examples
    --------
    LandsD lots of Demarcation District 95 (the extract in the repository's
    ``tests/data/north``), with the read account:

    >>> import nmgeo
    >>> lots = nmgeo.read_parcels("tests/data/north/lots_dd95.gpkg", layer="LOT")
    >>> lots.crs.to_epsg(), lots["parcel_id"].is_unique, bool((lots["area_m2"] > 0).all())
    (2326, True, True)
    >>> account = lots.attrs["nmgeo_account"]
    >>> account["n_input"] >= account["n_output"] == len(lots)
    True
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
    _refuse_nested(gdf, ["parcel_id"], label, shown={"parcel_id": column})
    gdf["parcel_id"] = _uniform_ids(gdf["parcel_id"], label, id_source, account)
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
    # Every mode of on_invalid leaves valid polygons (or none): the fabric need not check.
    overlaps = check_overlaps(geoms, ids=gdf["parcel_id"], source=label, valid=True)
    for key, value in overlaps.items():
        setattr(account, key, value)
    first = ["parcel_id", "area_m2"]
    rest = [c for c in gdf.columns if c not in first and c != "geometry"]
    gdf = gdf[[*first, *rest, "geometry"]]
    return _finish(gdf, account, "read_parcels")


# pandas.api.types.infer_dtype kinds that hold single values only.
_SCALAR_KINDS = {
    "string",
    "empty",
    "integer",
    "floating",
    "mixed-integer-float",
    "boolean",
    "decimal",
    "datetime",
    "date",
}


def _refuse_nested(
    gdf: pd.DataFrame, columns: list[str], label: str, shown: dict[str, str] | None = None
) -> None:
    """Refuse lists or objects in a column nmgeo reads as one value per row (a label, an id)."""
    nested = np.frompyfunc(lambda v: isinstance(v, (list, tuple, dict, set, np.ndarray)), 1, 1)
    for column in columns:
        if pd.api.types.infer_dtype(gdf[column], skipna=True) in _SCALAR_KINDS:
            continue  # the common case, settled in C: no per-row look needed
        values = gdf[column].to_numpy(dtype=object)
        bad = np.flatnonzero(nested(values).astype(bool)) if values.size else []
        if len(bad):
            name = (shown or {}).get(column, column)
            msg = (
                f"{label}: column {name} holds lists or objects, not single values, in "
                f"{len(bad)} rows (e.g. row {int(bad[0])}: {values[bad[0]]!r}); store one "
                "text value per feature."
            )
            raise SchemaError(" ".join(msg.split()))


# Integers beyond 2**53 are not all representable as float64: distinct ids could meet.
_EXACT_FLOAT = 2.0**53


def _number_text(value: Any) -> str:
    """A numeric id as the text it reads as: 7 and 7.0 as "7", 8.5 as "8.5"."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    number = float(value)
    if number.is_integer() and abs(number) < _EXACT_FLOAT:
        return str(int(number))
    return str(value)


def _uniform_ids(ids: pd.Series, label: str, column: str, account: ReadAccount) -> pd.Series:
    """The ids, checked so that no two lots meet by accident.

    - Blank ids (``""`` or spaces only) are null ids, as GDAL makes them in a Shapefile:
      refused or dropped like any null id, never one lot made of every blank-id row.
    - Floating-point ids at or beyond 2**53 are refused: GDAL reads integers too long for
      64 bits as floats, which can round distinct ids to one value.
    - Ids that mix numbers and text are read as text (``1`` and ``"1"`` are one id, as
      they would be once written): the repeat is visible here, not after the write.
    """
    if pd.api.types.is_float_dtype(ids.dtype):
        _refuse_inexact(ids, label, column)
        return ids
    if ids.dtype != object and not pd.api.types.is_string_dtype(ids.dtype):
        return ids
    if pd.api.types.infer_dtype(ids, skipna=True) in ("string", "empty"):
        # All text (the usual case): the blank check alone, vectorised.
        return _blank_as_null(ids, np.ones(len(ids), dtype=bool), label, column, account)
    values = ids.to_numpy(dtype=object)
    is_text = np.frompyfunc(lambda v: isinstance(v, str), 1, 1)(values).astype(bool)
    out = _blank_as_null(ids, is_text, label, column, account).copy()
    blank = pd.isna(out).to_numpy() & ~pd.isna(ids).to_numpy()
    is_number = ~is_text & ~pd.isna(ids).to_numpy()
    if not (is_text.any() and is_number.any()):
        return out
    numbers = ids[is_number]
    floats = pd.to_numeric(numbers, errors="coerce").astype(float)
    is_float = np.frompyfunc(lambda v: isinstance(v, (float, np.floating)), 1, 1)
    _refuse_inexact(floats[is_float(numbers.to_numpy(dtype=object)).astype(bool)], label, column)
    text = pd.Series(np.frompyfunc(_number_text, 1, 1)(numbers.to_numpy(dtype=object)))
    out[is_number] = text.to_numpy(dtype=object)
    n_same = int(np.isin(text.to_numpy(dtype=object), values[is_text & ~blank]).sum())
    note = (
        f"{column} mixes numbers ({int(is_number.sum())} rows) and text "
        f"({int(is_text.sum())} rows); all read as text, so a number and the same text "
        f"(1 and '1') are one id ({n_same} such numbers)"
    )
    account.notes.append(note)
    logger.warning("%s: %s", label, note)
    return out


def _blank_as_null(
    ids: pd.Series, is_text: np.ndarray, label: str, column: str, account: ReadAccount
) -> pd.Series:
    """``ids`` with the text ids that are empty or spaces only set to null, logged."""
    blank = np.zeros(len(ids), dtype=bool)
    if is_text.any():
        blank[is_text] = ids[is_text].str.strip().eq("").to_numpy(dtype=bool, na_value=False)
    if not blank.any():
        return ids
    out = ids.copy()
    out[blank] = None
    note = f"{int(blank.sum())} blank {column} values (empty or spaces only) read as null ids"
    account.notes.append(note)
    logger.warning("%s: %s", label, note)
    return out


def _refuse_inexact(numbers: pd.Series, label: str, column: str) -> None:
    big = np.flatnonzero(np.abs(numbers.to_numpy(dtype=float)) >= _EXACT_FLOAT)
    if big.size:
        msg = (
            f"{label}: {big.size} {column} values are floating-point numbers of 16 or more "
            f"digits (e.g. {float(numbers.iloc[big[0]])!r}), which cannot tell every id apart "
            "(GDAL reads integers too long for 64 bits as floats); store the ids as text "
            "in the source, or pass id_column= another column."
        )
        raise InputError(msg)


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
    _warn_differing_parts(gdf, label, account)
    return out


# Fields every feature has its own value of (its number, its own area and length).
_PER_PART = {"objectid", "fid", "ogc_fid", "shape_area", "shape_length", "shape_leng"}


def _warn_differing_parts(gdf: gpd.GeoDataFrame, label: str, account: ReadAccount) -> None:
    """Say which fields differed between the parts of a lot (the first part's were kept)."""
    ids = gdf["parcel_id"]
    parts = pd.DataFrame(gdf.loc[ids.duplicated(keep=False) & ids.notna()])
    skip = {"parcel_id", gdf.geometry.name}
    fields = [c for c in parts.columns if c not in skip and str(c).lower() not in _PER_PART]
    if not fields:
        return
    try:
        distinct = parts.groupby("parcel_id", sort=False)[fields].nunique(dropna=False)
    except TypeError:  # unhashable values: refused elsewhere for the fields nmgeo reads
        return
    differing = (distinct > 1).sum()
    differing = differing[differing > 0]
    if differing.empty:
        return
    listed = ", ".join(f"{col} ({n} lots)" for col, n in differing.items())
    note = f"parts of one lot differ in {listed}; each lot keeps its first part's values"
    account.notes.append(note)
    logger.warning("%s: %s", label, note)


def _open(
    source: Any,
    layer: str | int | None,
    encoding: str | None,
    columns: Mapping[str, str] | None,
    on_invalid: str,
    *,
    require_rows: bool = True,
) -> tuple[gpd.GeoDataFrame, str, ReadAccount, set[str]]:
    """Read a source, start its account and apply ``columns=``: the readers' common start.

    With ``require_rows=False`` the caller checks that the layer has features itself.
    """
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
    if require_rows:
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
        found = _find_column(candidates, id_column, source=source, role="lot id", explicit=True)
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
        found = _find_column(candidates, name, source=source, role="lot id")
        if found is not None:
            return found
    return None


@pauses_gc
def read_zones(
    source: str | os.PathLike | gpd.GeoDataFrame | list | tuple,
    *,
    layer: str | int | None = None,
    crs: Any = None,
    columns: Mapping[str, str] | None = None,
    on_invalid: str = "repair",
    encoding: str | None = None,
    plan_versions: str = "latest",
) -> gpd.GeoDataFrame:
    """Read OZP zoning, check it and return it in EPSG:2326, ready to classify.

    One layer, or TPB's per-plan downloads (one file per plan) read in one call: a
    folder, a glob pattern or a list of files, merged into one frame. Reading does not
    classify: :func:`nmgeo.assign_land_use` gives each zone its land-use class, and
    :func:`nmgeo.land_fabric`, :func:`nmgeo.build_packages` and
    :func:`nmgeo.assign_zoning` call it on zones that carry no ``land_use`` column (a
    ``land_use`` column of the source is kept and used as the class).

    Parameters
    ----------
    source : str, os.PathLike, geopandas.GeoDataFrame, list or tuple
        One of:

        - a GeoPackage, GeoJSON (or Esri JSON, as TPB's "GeoJSON" download often is),
          Shapefile, FlatGeobuf, File Geodatabase (``.gdb`` folder) or GeoParquet file,
          e.g. the TPB OZP digital planning data;
        - a GeoDataFrame (copied, never modified);
        - a **folder**: every plan file in it (``.json``, ``.geojson``, ``.gpkg``,
          ``.shp``, ``.fgb``, ``.gdb``, ``.parquet``, ``.geoparquet``; not its
          subfolders, not hidden files), sorted by name;
        - a **glob pattern**: a string with ``*`` or ``?``, e.g. ``"zones/*.json"`` or
          ``"downloads/*/ZONE.json"`` (``**`` descends into subfolders), matches sorted;
        - a **list or tuple** of files, folders and patterns, read in the order given
          (a file met twice is read once).

        Each file is read and checked on its own, exactly as a single file is (``layer``,
        ``crs``, ``columns``, ``on_invalid``, ``encoding`` apply to every file), and errors
        name the file. Files found in a folder or by a pattern that hold no zone label
        column (e.g. TPB's building height or plan boundary layers beside the zones) are
        skipped with a warning and listed in the account; a listed file must be zoning.
    layer : str or int, optional
        Layer to read from a multi-layer source; required when there is more than one.
    crs : str, int or pyproj.CRS, optional
        CRS of a layer that has none (e.g. ``"EPSG:2326"``); must agree with the layer's
        own CRS when it has one. Never guessed.
    columns : mapping, optional
        ``{source column: canonical name}`` renaming applied first (source names in any
        case), for schemas other than TPB's, e.g. ``{"ZONING": "zone_label"}``. TPB field
        names (``PLAN_NO``, ``ZONE_LABEL``, ``DESC_ENG``, ``SPUSE_ENG``, any case) are
        recognised without it. Two columns that differ only in case (``ZONE_LABEL`` and
        ``zone_label``) are refused as ambiguous; rename the one not to use here, e.g.
        ``{"zone_label": "zone_label_2"}``.
    on_invalid : {"repair", "drop", "raise"}, default "repair"
        As in :func:`read_parcels` (zones carry no id, so rows are named by their 0-based
        position in their file).
    encoding : str, optional
        Text encoding of the source (e.g. ``"big5"``) when it is not declared in the file.
    plan_versions : {"latest", "all", "raise"}, default "latest"
        What to do with a plan that comes more than once: in two versions (``S/KTN/3``
        and ``S/KTN/4``: the same plan, ``S/KTN``, with the version after the last
        ``/``), or the same plan number in two files (the same download saved twice).
        Either way a warning names the copies and the account lists them
        (``plan_versions``). ``"latest"``: keep the highest version, the one in force,
        and of several files holding it the first; drop the other copies' zones
        (account ``n_dropped_superseded``). ``"all"``: keep every copy (their zones
        overlap, so areas summed over them count that land more than once).
        ``"raise"``: refuse (InputError). Plan numbers are compared ignoring case and
        spaces; zones without a plan number are always kept.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per zone polygon, in source row order (file order, then row order, for
        several files), with a RangeIndex and geometry in EPSG:2326 (HK1980 Grid,
        metres), with columns:

        - ``zone_label``: the OZP zone label as published, e.g. ``"R(A)3"``, ``"OU(Business)"``;
        - ``plan_no``: the Outline Zoning Plan number (e.g. ``"S/YL-HSK/2"``), None if absent;
        - ``description``: the English zone name (TPB ``DESC_ENG``), None if absent;
        - ``specified_use``: the specified use of an "OU" zone (TPB ``SPUSE_ENG``), None
          if absent;
        - ``source_file`` (several files only): the file the zone comes from, by name
          (with its folder, relative to the files' common folder, when two files share
          a name, e.g. ``"KTN/ZONE.json"``);
        - the source's other columns (``DESC_CHT``, ``SPUSE_CHT``, ``SHAPE_Area``…).
          Across files, names differing only in case are one column, spelt as in the
          first file that has it (TPB's ``Shape_Leng`` and ``SHAPE_Leng``); a file's
          missing columns are null in its rows.

        ``attrs["nmgeo_account"]`` holds the read account: for several files, the counts
        summed over the files, notes and row ids prefixed with their file name, each
        file's own account (``files``), the skipped files (``skipped_files``) and the
        plans found more than once (``plan_versions``).

    Raises
    ------
    InputError, SchemaError, CRSError, GeometryTypeError, EmptyGeometryError,
    InvalidGeometryError
        As in :func:`read_parcels`, naming the file at fault; SchemaError also when no
        ``zone_label`` column is found, or when one file has columns differing only in
        case. InputError also for an empty folder, a pattern matching no plan file, an
        empty list, and with ``plan_versions="raise"`` a plan found more than once.

    Examples
    --------
    TPB's per-plan Esri JSON files (the extract in the repository's ``tests/data/north``),
    read in one call:

    >>> import nmgeo
    >>> zones = nmgeo.read_zones("tests/data/north")
    >>> sorted(zones["plan_no"].unique())
    ['S/FSS/27', 'S/KTN/4', 'S/LMCL/2', 'S/NE-KTS/19', 'S/NE-MTL/3']
    >>> zones.groupby("source_file").size().to_dict()
    {'FSS.json': 13, 'KTN.json': 105, 'LMCL.json': 18, 'NE-KTS.json': 14, 'NE-MTL.json': 2}

    The lot layer in the same folder is not zoning; it was skipped, and said so:

    >>> [skipped["file"] for skipped in zones.attrs["nmgeo_account"]["skipped_files"]]
    ['tests/data/north/lots_dd95.gpkg']
    >>> len(nmgeo.read_zones("tests/data/north/*.json")) == len(zones)
    True
    """
    if plan_versions not in PLAN_VERSIONS:
        msg = (
            f"plan_versions={plan_versions!r} is not one of {', '.join(map(repr, PLAN_VERSIONS))}."
        )
        raise InputError(msg)
    options = {
        "layer": layer,
        "crs": crs,
        "columns": columns,
        "on_invalid": on_invalid,
        "encoding": encoding,
    }
    plan_files = _plan_files(source)
    if plan_files is None:
        gdf, label, single = _read_zone_layer(source, **options)
        account = ZoneReadAccount(**single.as_dict())
        names = [label if isinstance(source, gpd.GeoDataFrame) else Path(label).name]
        file_of_row = np.zeros(len(gdf), dtype=np.intp)
    else:
        label, entries = plan_files
        gdf, account, names, file_of_row = _read_zone_files(entries, label, options)
    gdf = _select_plan_versions(gdf, file_of_row, names, plan_versions, label, account)

    first = ["zone_label", "plan_no", "description", "specified_use"]
    first += ["land_use"] if "land_use" in gdf.columns else []
    if plan_files is not None:
        first.append("source_file")
    rest = [c for c in gdf.columns if c not in first and c != "geometry"]
    gdf = gdf[[*first, *rest, "geometry"]]
    return _finish(gdf, account, "read_zones")


class _NoZoneLabelError(SchemaError):
    """A layer without a zone label column (skipped when a folder or a pattern found it)."""


def _read_zone_layer(
    source: Any,
    *,
    layer: str | int | None,
    crs: Any,
    columns: Mapping[str, str] | None,
    on_invalid: str,
    encoding: str | None,
    optional: bool = False,
) -> tuple[gpd.GeoDataFrame, str, ReadAccount]:
    """Read and check one zoning layer: canonical columns, EPSG:2326, repaired geometries.

    ``optional``: the layer was found in a folder or by a pattern, so a layer without a
    zone label column raises _NoZoneLabelError even when it has no features.
    """
    gdf, label, account, mapped = _open(
        source, layer, encoding, columns, on_invalid, require_rows=not optional
    )

    rename: dict[str, str] = {}
    for canonical, aliases in ZONE_COLUMNS.items():
        if canonical in mapped:
            continue
        role = canonical.replace("_", " ")
        names = gdf.columns.drop("geometry")
        if canonical in gdf.columns:
            _find_column(names, canonical, source=label, role=role)  # refuses a case clash
            continue
        for alias in aliases:
            found = _find_column(names, alias, source=label, role=role)
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
        raise _NoZoneLabelError(msg)
    if optional:
        _require_rows(gdf, label, account.layer)
    _refuse_nested(gdf, [c for c in ZONE_COLUMNS if c in gdf.columns], label)

    gdf = _apply_geometry_checks(
        gdf, crs=crs, ids=None, source=label, on_invalid=on_invalid, account=account
    )
    for name in ("plan_no", "description", "specified_use"):
        if name not in gdf.columns:
            gdf[name] = pd.Series(np.full(len(gdf), None, dtype=object), index=gdf.index)
    return gdf, label, account


def _is_virtual_path(path: str) -> bool:
    return path.startswith("/vsi") or "://" in path


def _is_plan_folder(source: Any) -> bool:
    """A folder of plan files (a File Geodatabase is a folder too, but one source)."""
    if not isinstance(source, (str, os.PathLike)):
        return False
    path = os.fspath(source)
    return os.path.isdir(path) and Path(path).suffix.lower() != ".gdb"


def _is_pattern(source: Any) -> bool:
    if not isinstance(source, str) or _is_virtual_path(source) or os.path.exists(source):
        return False
    return "*" in source or "?" in source


def _is_plan_file(path: str) -> bool:
    suffix = Path(path).suffix.lower()
    if Path(path).name.startswith(".") or suffix not in PLAN_FILE_SUFFIXES:
        return False
    return os.path.isdir(path) if suffix == ".gdb" else os.path.isfile(path)


def _suffix_list() -> str:
    return ", ".join(PLAN_FILE_SUFFIXES)


def _folder_plan_files(folder: str | os.PathLike) -> list[str]:
    """The plan files of a folder (not its subfolders), sorted by name."""
    path = os.fspath(folder)
    names = sorted(os.listdir(path))
    found = [os.path.join(path, name) for name in names if _is_plan_file(os.path.join(path, name))]
    if found:
        ignored = len(names) - len(found)
        if ignored:
            logger.debug("%s: %d entries that are not plan files ignored", path, ignored)
        return found
    if not names:
        msg = f"folder {path} is empty; pass the folder holding the plan files ({_suffix_list()})."
        raise InputError(msg)
    hint = ""
    if any(name.lower().endswith(".zip") for name in names):
        hint = "; unzip the downloads first"
    elif any(os.path.isdir(os.path.join(path, name)) for name in names):
        hint = (
            "; for one subfolder per plan pass a pattern such as "
            f"{os.path.join(path, '*', '*.json')!r}"
        )
    shown = ", ".join(repr(name) for name in names[:3])
    msg = (
        f"folder {path} holds no plan files ({_suffix_list()}), only {len(names)} other "
        f"entries (e.g. {shown}){hint}."
    )
    raise InputError(msg)


def _glob_plan_files(pattern: str) -> list[str]:
    """The plan files a glob pattern matches, sorted."""
    matches = sorted(glob.glob(pattern, recursive=True))
    found = [match for match in matches if _is_plan_file(match)]
    if found:
        return found
    shown = ", ".join(repr(Path(m).name) for m in matches[:3])
    other = f", only {len(matches)} other entries (e.g. {shown})" if matches else ""
    msg = (
        f"the pattern {pattern!r} matches no plan files ({_suffix_list()}){other}; "
        "check the folder and the pattern."
    )
    raise InputError(msg)


def _plan_files(source: Any) -> tuple[str, list[tuple[str, bool]]] | None:
    """The files of a folder, pattern or list source, each with whether it was named.

    Returns ``(label, [(path, named), ...])``, or None for a single file or frame.
    """
    if isinstance(source, (list, tuple)):
        items = list(source)
        if not items:
            msg = "read_zones got an empty list of sources; pass plan files, folders or patterns."
            raise InputError(msg)
    elif _is_plan_folder(source) or _is_pattern(source):
        items = [source]
    else:
        return None
    entries: list[tuple[str, bool]] = []
    for item in items:
        if not isinstance(item, (str, os.PathLike)):
            msg = (
                "a list of sources holds file paths, folders or glob patterns, not "
                f"{type(item).__name__}; pass the files, or read the frames one by one."
            )
            raise InputError(msg)
        if _is_plan_folder(item):
            entries.extend((path, False) for path in _folder_plan_files(item))
        elif _is_pattern(item):
            entries.extend((path, False) for path in _glob_plan_files(item))
        else:
            entries.append((os.fspath(item), True))
    seen: set[str] = set()
    unique: list[tuple[str, bool]] = []
    for path, named in entries:
        key = path if _is_virtual_path(path) else os.path.realpath(path)
        if key in seen:
            logger.info("%s is listed more than once; read once", path)
            continue
        seen.add(key)
        unique.append((path, named))
    shown = [os.fspath(item) for item in items]
    label = ", ".join(shown[:3]) + (f", ... ({len(shown)} sources)" if len(shown) > 3 else "")
    return label, unique


def _file_names(paths: list[str]) -> list[str]:
    """Each file's name; with its folder (relative to the common folder) if names repeat."""
    names = [Path(path).name for path in paths]
    if len(set(names)) == len(names):
        return names
    try:
        common = os.path.commonpath([os.path.abspath(path) for path in paths])
        names = [os.path.relpath(os.path.abspath(path), common) for path in paths]
    except ValueError:  # different drives, or virtual paths
        names = list(paths)
    return [name.replace(os.sep, "/") for name in names]


def _read_zone_files(
    entries: list[tuple[str, bool]], label: str, options: dict[str, Any]
) -> tuple[gpd.GeoDataFrame, ZoneReadAccount, list[str], np.ndarray]:
    """Read several zoning files and stack them, field case unified.

    Returns the stacked frame (file order, then row order), the merged account, the
    files' names and, for each row, the number of the file it comes from.
    """
    frames: list[gpd.GeoDataFrame] = []
    accounts: list[ReadAccount] = []
    paths: list[str] = []
    skipped: list[dict[str, Any]] = []
    for path, named in entries:
        try:
            gdf, _, account = _read_zone_layer(path, optional=not named, **options)
        except _NoZoneLabelError as err:
            if named:
                raise
            reason = "no zone label column (TPB ZONE_LABEL), so not a zoning layer"
            skipped.append({"file": path, "reason": reason})
            logger.warning("%s: skipped %s: %s", label, path, reason)
            logger.debug("%s", err)
            continue
        frames.append(gdf)
        accounts.append(account)
        paths.append(path)
    if not frames:
        msg = (
            f"{label}: none of its {len(entries)} files has a zone label column (TPB "
            f"ZONE_LABEL), e.g. {entries[0][0]}; name it with columns={{'YourCol': 'zone_label'}}."
        )
        raise SchemaError(msg)
    names = _file_names(paths)
    layer = options["layer"] if isinstance(options["layer"], str) else None
    account = merge_accounts(accounts, names, source=label, layer=layer)
    account.skipped_files = skipped
    account.notes.extend(f"{Path(s['file']).name}: skipped, {s['reason']}" for s in skipped)

    frames = _unify_field_case(frames, names, paths, label, account)
    sizes = [len(frame) for frame in frames]
    gdf = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=HK80)
    file_of_row = np.repeat(np.arange(len(frames)), sizes)
    existing = [c for c in gdf.columns if str(c).lower() == "source_file"]
    if existing:
        gdf = gdf.drop(columns=existing)
        note = f"existing {existing[0]} column replaced by the file names"
        account.notes.append(note)
        logger.info("%s: %s", label, note)
    gdf["source_file"] = np.asarray(names, dtype=object)[file_of_row]
    logger.info("%s: %d zones from %d files", label, len(gdf), len(frames))
    return gdf, account, names, file_of_row


def _unify_field_case(
    frames: list[gpd.GeoDataFrame],
    names: list[str],
    paths: list[str],
    label: str,
    account: ZoneReadAccount,
) -> list[gpd.GeoDataFrame]:
    """Rename columns differing only in case to the first file's spelling."""
    spelling: dict[str, str] = {}
    out = []
    for frame, name, path in zip(frames, names, paths, strict=True):
        lower = pd.Index([str(c).lower() for c in frame.columns])
        clash = lower.duplicated(keep=False)
        if clash.any():
            both = sorted(str(c) for c in frame.columns[clash])
            msg = (
                f"{path}: columns {both} differ only in case, so they cannot be merged with "
                f"the other files' fields; rename one with columns={{{both[0]!r}: 'new_name'}}."
            )
            raise SchemaError(msg)
        rename = {}
        for column, key in zip(frame.columns, lower, strict=True):
            canonical = spelling.setdefault(key, column)
            if canonical != column:
                rename[column] = canonical
        if rename:
            note = "columns " + ", ".join(f"{a} read as {b}" for a, b in rename.items())
            account.notes.append(f"{name}: {note}")
            logger.info("%s: %s: %s (field case unified across files)", label, name, note)
            frame = frame.rename(columns=rename)
        out.append(frame)
    return out


def _select_plan_versions(
    gdf: gpd.GeoDataFrame,
    file_of_row: np.ndarray,
    names: list[str],
    how: str,
    label: str,
    account: ZoneReadAccount,
) -> gpd.GeoDataFrame:
    """Report plans found in more than one version or file; keep the copies ``how`` says."""
    rows, table = _plan_copies(gdf, file_of_row)
    if table is None:
        return gdf
    keys = ["family", "plan", "file"]
    copies = table.groupby(keys, sort=False).agg(
        number=("number", "first"), suffix=("suffix", "first"), n_zones=("plan", "size")
    )
    copies = copies.reset_index()
    repeated = copies[copies.duplicated("family", keep=False)]
    if repeated.empty:
        return gdf
    dropped_copies = []
    for family, group in repeated.groupby("family", sort=False):  # one per repeated plan
        dropped = _choose_plan_copy(str(family), group, names, how, label, account)
        if dropped is not None:
            dropped_copies.append(dropped[keys])
    if not dropped_copies:
        return gdf
    gone = pd.concat(dropped_copies, ignore_index=True).assign(_gone=True)
    drop = table.merge(gone, on=keys, how="left")["_gone"].eq(True).to_numpy()
    keep = np.ones(len(gdf), dtype=bool)
    keep[rows[drop]] = False
    account.n_dropped_superseded = int((~keep).sum())
    return gdf.iloc[np.flatnonzero(keep)]


def _plan_copies(
    gdf: gpd.GeoDataFrame, file_of_row: np.ndarray
) -> tuple[np.ndarray, pd.DataFrame | None]:
    """Rows with a plan number, and their plan family, number, version and file."""
    plan = pd.Series(gdf["plan_no"].to_numpy(dtype=object))
    rows = np.flatnonzero(plan.notna().to_numpy())
    # A layer holds a few plan numbers: each distinct one is parsed once.
    codes, distinct = pd.factorize(plan.iloc[rows].astype(str))
    text = pd.Series(distinct).str.upper().str.replace(r"\s+", "", regex=True)
    parts = text.str.extract(_PLAN_NO)
    number = pd.to_numeric(parts["number"]).fillna(-1).to_numpy()
    family = parts["family"].fillna(text).to_numpy(dtype=object)
    suffix = parts["suffix"].fillna("").to_numpy(dtype=object)
    text = text.to_numpy(dtype=object)
    keep_text = text[codes] != ""
    rows, codes = rows[keep_text], codes[keep_text]
    if not len(rows):
        return rows, None
    table = pd.DataFrame(
        {
            "family": family[codes],
            "plan": text[codes],
            "file": file_of_row[rows],
            "number": number[codes],
            "suffix": suffix[codes],
        }
    )
    return rows, table


def _choose_plan_copy(
    family: str,
    group: pd.DataFrame,
    names: list[str],
    how: str,
    label: str,
    account: ZoneReadAccount,
) -> pd.DataFrame | None:
    """Record one plan found in several copies; return the copies to drop (or None)."""
    described = ", ".join(
        f"{r.plan} in {names[r.file]} ({r.n_zones} zones)" for r in group.itertuples()
    )
    entry = {
        "family": family,
        "plan_nos": group["plan"].tolist(),
        "files": [names[i] for i in group["file"]],
        "n_zones": [int(n) for n in group["n_zones"]],
    }
    if how == "raise":
        msg = (
            f"{label}: plan {family} comes in {len(group)} copies ({described}); remove "
            "the superseded files, or pass plan_versions='latest' to keep the highest "
            "version or plan_versions='all' to keep every copy."
        )
        raise InputError(msg)
    dropped = None
    if how == "latest":
        order = list(zip(group["number"], group["suffix"], strict=True))
        best = order.index(max(order))  # the highest version, the first file holding it
        kept = group.iloc[[best]]
        dropped = group.drop(index=group.index[best])
        n_dropped = int(dropped["n_zones"].sum())
        kept_text = f"{kept['plan'].iloc[0]} in {names[kept['file'].iloc[0]]}"
        note = (
            f"plan {family} comes in {len(group)} copies ({described}); kept {kept_text} "
            f"and dropped the other {n_dropped} zones (plan_versions='latest'; pass "
            "plan_versions='all' to keep every copy)"
        )
    else:
        kept, n_dropped = group, 0
        note = (
            f"plan {family} comes in {len(group)} copies ({described}); kept them all "
            "(plan_versions='all'): their zones overlap, so land is counted once per copy"
        )
    entry["kept"] = [f"{r.plan} ({names[r.file]})" for r in kept.itertuples()]
    entry["n_dropped"] = n_dropped
    account.plan_versions.append(entry)
    account.notes.append(note)
    logger.warning("%s: %s", label, note)
    return dropped


@pauses_gc
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


_HEIGHT_UNITS = {"mpd": "mPD", "m": "mPD", "storeys": "storeys", "storey": "storeys"}
_HEIGHT_VALUE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$")


@pauses_gc
def read_height_controls(
    source: str | os.PathLike | gpd.GeoDataFrame,
    *,
    layer: str | int | None = None,
    crs: Any = None,
    encoding: str | None = None,
    value_unit: str = "mPD",
) -> gpd.GeoDataFrame:
    """Read TPB's building height control layer (``BHC_TYPE``, ``BHC_VALUE``).

    The OZP download ships building height controls beside the zones: polygons of a
    maximum height, in metres above Principal Datum (mPD) or in storeys, and
    non-building areas (``BHC_TYPE = "NBA"``), where no building may stand. The heights
    feed :func:`nmgeo.capacity.assign_capacity`.

    Parameters
    ----------
    source : str, os.PathLike or geopandas.GeoDataFrame
        The layer, in any format nmgeo reads (see :func:`read_parcels`); field names in
        any case.
    layer, crs, encoding
        As for :func:`read_parcels`.
    value_unit : {"mPD", "storeys"}
        Unit of a bare number in ``BHC_VALUE``; a value with its unit (``"120mPD"``,
        ``"8 storeys"``) says it itself.

    Returns
    -------
    geopandas.GeoDataFrame
        The polygons in EPSG:2326 with the source's columns and ``bhc_type``,
        ``bhc_value`` (the text as found), ``max_height_mpd``, ``max_height_storeys``
        (missing when the control is in the other unit) and ``no_building`` (a
        non-building area).

    Raises
    ------
    SchemaError
        No ``BHC_TYPE`` or ``BHC_VALUE`` field.
    InputError
        A value that is neither a height nor blank (named with its row), or a
        ``value_unit`` other than ``"mPD"`` / ``"storeys"``.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> import nmgeo
    >>> x, y = 833_000, 838_000  # Kwu Tung North
    >>> layer = gpd.GeoDataFrame(
    ...     {"BHC_TYPE": ["BHCB", "BHCB", "NBA"], "BHC_VALUE": ["120", "8 storeys", None]},
    ...     geometry=[shapely.box(x + k * 50, y, x + k * 50 + 50, y + 50) for k in range(3)],
    ...     crs="EPSG:2326",
    ... )
    >>> bhc = nmgeo.read_height_controls(layer)
    >>> bhc["max_height_mpd"].tolist(), bhc["max_height_storeys"].tolist()
    ([120.0, nan, nan], [nan, 8.0, nan])
    >>> bhc["no_building"].tolist()
    [False, False, True]
    """
    if value_unit not in ("mPD", "storeys"):
        msg = f"value_unit must be 'mPD' or 'storeys', not {value_unit!r}"
        raise InputError(msg)
    gdf, label, account, _ = _open(source, layer, encoding, None, "repair")
    gdf = _apply_geometry_checks(
        gdf, crs=crs, ids=None, source=label, on_invalid="repair", account=account
    )
    found = {}
    for name in ("BHC_TYPE", "BHC_VALUE"):
        found[name] = _find_column(gdf.columns, name, source=label, role=name)
        if found[name] is None:
            msg = (
                f"{label} has no {name} field (fields: {_available(gdf)}); read TPB's "
                "building height control layer, or rename its fields to BHC_TYPE and BHC_VALUE"
            )
            raise SchemaError(msg)
    kind = gdf[found["BHC_TYPE"]].astype(object).where(gdf[found["BHC_TYPE"]].notna(), None)
    value = gdf[found["BHC_VALUE"]].astype(object).where(gdf[found["BHC_VALUE"]].notna(), None)
    mpd, storeys = _height_values(value, label, value_unit)
    gdf["bhc_type"] = kind.astype(str).str.strip().str.upper().where(kind.notna(), None)
    gdf["bhc_value"] = value
    gdf["no_building"] = gdf["bhc_type"].eq("NBA").to_numpy(dtype=bool)
    gdf["max_height_mpd"] = np.where(gdf["no_building"], np.nan, mpd)
    gdf["max_height_storeys"] = np.where(gdf["no_building"], np.nan, storeys)
    return _finish(gdf, account, "read_height_controls")


def _height_values(
    values: pd.Series, label: str, value_unit: str
) -> tuple[np.ndarray, np.ndarray]:
    """Heights in mPD and in storeys from BHC_VALUE text (NaN where blank or the other unit)."""
    text = values.where(values.notna(), "").astype(str).str.lower().str.replace(",", "")
    parts = text.str.extract(_HEIGHT_VALUE)
    number = pd.to_numeric(parts[0], errors="coerce").to_numpy(dtype=float)
    unit = parts[1].fillna("").map(lambda u: _HEIGHT_UNITS.get(u, "?" if u else value_unit))
    bad = (text.str.strip().ne("") & np.isnan(number)) | unit.eq("?")
    if bad.any():
        k = int(np.flatnonzero(bad.to_numpy())[0])
        msg = (
            f"{label}, row {k}: BHC_VALUE {values.iloc[k]!r} is not a height (a number of "
            "mPD or storeys, e.g. 120mPD or 8 storeys); correct it or leave it blank"
        )
        raise InputError(msg)
    unit = unit.to_numpy()
    return np.where(unit == "mPD", number, np.nan), np.where(unit == "storeys", number, np.nan)


# --------------------------------------------------------------------------- writing

GPKG_CRS = "EPSG:2326"


def write_geopackage(
    path: str | os.PathLike, *, keep_layers: bool = True, **layers: pd.DataFrame
) -> Path:
    """Write frames as the layers of one GeoPackage, in EPSG:2326.

    The output for GIS users: open the file in QGIS or ArcGIS Pro and every result
    (parcels, packages, their member lists, reference layers) is a layer of it.

    Parameters
    ----------
    path : path
        The ``.gpkg`` file to write; its parent folder is created. **An existing
        GeoPackage keeps its other layers**: the layers given replace the layers of the
        same name (GeoPackage layer names ignore case) and every other layer (and
        anything else in the file, e.g. QGIS styles) stays as it was. The file is
        written as a copy beside it, which then takes its place, so a failed write
        leaves the old file as it was. A file nmgeo read as an input in this session
        is refused (:class:`~nmgeo.errors.OutputError`).
    keep_layers : bool, default True
        False replaces an existing file as a whole, so that it holds only the layers
        given (e.g. the outputs of one run, without a previous run's layers).
    **layers : geopandas.GeoDataFrame or pandas.DataFrame
        ``layer_name=frame``, written in the order given. A GeoDataFrame becomes a
        spatial layer reprojected to EPSG:2326 (HK1980 Grid, metres); a DataFrame
        without geometry (e.g. ``PackageResult.members``) an attribute-only table,
        which GeoPackage supports. A frame without rows becomes an empty layer that
        keeps its columns and their types (a run that finds no package still writes a
        valid, complete GeoPackage); GDAL declares its geometry type ``Unknown``
        (any geometry), as there is no geometry to tell it.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InputError
        No layers, a value that is not a DataFrame, a frame with neither columns nor
        geometry, a path not ending in ``.gpkg``, layer names that differ only in case,
        or an existing ``path`` that is not a GeoPackage (with ``keep_layers=True``).
    SchemaError
        Column names of one frame that differ only in case (GeoPackage field names
        ignore case), e.g. ``Shape_Leng`` and ``SHAPE_Leng`` after ``pd.concat`` of
        TPB plans: they are refused, not merged, since both may hold values; rename or
        combine them first (:func:`read_zones` unifies TPB's field case when it reads
        the plans together).
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
    written as MultiPolygon. The index is not written (reset it to keep it). Each layer's
    feature id column is ``fid``, or ``gpkg_fid`` when the frame has a column named
    ``fid`` in any case (such as TPB's ``FID``), which is then written as it is.

    Examples
    --------
    Zones of the repository's extract of TPB's plans (``tests/data/north``), then one
    more layer into the same file:

    >>> import tempfile, pyogrio
    >>> from pathlib import Path
    >>> import nmgeo
    >>> zones = nmgeo.assign_land_use(nmgeo.read_zones("tests/data/north/KTN.json"))
    >>> folder = tempfile.TemporaryDirectory()
    >>> out = Path(folder.name) / "nm.gpkg"
    >>> plans = zones[["plan_no"]].drop_duplicates()
    >>> nmgeo.write_geopackage(out, zones=zones, plans=plans).name
    'nm.gpkg'
    >>> commercial = zones[zones["land_use"] == "commercial"]
    >>> _ = nmgeo.write_geopackage(out, commercial=commercial, none=commercial.iloc[:0])
    >>> names = sorted(str(name) for name in pyogrio.list_layers(out)[:, 0])
    >>> {name: pyogrio.read_info(out, layer=name)["features"] for name in names}
    {'commercial': 4, 'none': 0, 'plans': 1, 'zones': 105}
    >>> folder.cleanup()
    """
    if not layers:
        msg = "write_geopackage needs at least one layer, e.g. write_geopackage(path, parcels=gdf)"
        raise InputError(msg)
    out = Path(path)
    if out.suffix.lower() != ".gpkg":
        msg = f"{out} does not end in .gpkg; GeoPackage files must (e.g. {out.stem}.gpkg)"
        raise InputError(msg)
    lower = pd.Series([name.lower() for name in layers])
    if lower.duplicated().any():
        clash = lower.duplicated(keep=False).to_numpy()
        same = [name for name, dup in zip(layers, clash, strict=True) if dup]
        msg = (
            f"layer names {same} differ only in case, which GeoPackage layer names ignore; "
            "rename one of them."
        )
        raise InputError(msg)
    refuse_input(out, "write_geopackage")
    prepared = {name: _gpkg_frame(name, frame) for name, frame in layers.items()}
    # Only a regular file can hold layers to keep (reading a FIFO would wait forever).
    existing = _gpkg_layers(out) if keep_layers and out.is_file() else []
    replaced = set(lower)
    kept = [name for name in existing if name.lower() not in replaced]
    # GDAL creates the file itself, so the temporary path is left free.
    with replacing(out, create=False) as tmp:
        if existing:
            shutil.copyfile(out, tmp)
        for name, frame in prepared.items():
            # OVERWRITE: a layer of the same name (in any case) in the copy is replaced.
            layer_options = {"OVERWRITE": "YES", "FID": _fid_name(frame.columns)}
            options = {"layer": name, "driver": "GPKG", "layer_options": layer_options}
            try:
                if isinstance(frame, gpd.GeoDataFrame):
                    frame.to_file(tmp, engine="pyogrio", **options)
                else:
                    pyogrio.write_dataframe(frame, tmp, **options)
            except _GDAL_WRITE_ERRORS as err:
                raise _gdal_write_error(err, out) from err
            logger.debug("write_geopackage: layer %r, %d rows", name, len(frame))
    if kept:
        logger.info(
            "write_geopackage: %d layers -> %s, keeping its %d other layers (%s)",
            len(prepared),
            out,
            len(kept),
            ", ".join(kept),
        )
    else:
        logger.info("write_geopackage: %d layers -> %s", len(prepared), out)
    return out


_GDAL_WRITE_ERRORS = (
    DataSourceError,
    DataLayerError,
    pyogrio.errors.FeatureError,
    pyogrio.errors.FieldError,
    pyogrio.errors.GeometryError,
)


def _gdal_write_error(err: Exception, out: Path) -> Exception:
    """A GDAL write failure as the OSError it is (a full disk) or one line naming the file."""
    text = str(err)
    if "disk is full" in text or "No space left" in text:
        return OSError(errno.ENOSPC, "No space left on device", str(out))
    if "readonly" in text.lower() or "read-only" in text.lower():
        return OSError(errno.EROFS, "Read-only file system", str(out))
    return OutputError(f"cannot write {out}: {_short(err)}")


def _fid_name(columns: pd.Index) -> str:
    """The name of a layer's feature id column: ``fid``, unless a column is called so.

    GDAL would take a column named ``fid`` (any case) as the feature id: it would vanish
    from the fields, and repeated values (TPB's ``FID`` restarts in every plan) fail.
    """
    taken = {str(column).lower() for column in columns}
    if "fid" not in taken:
        return "fid"
    name, n = "gpkg_fid", 1
    while name in taken:
        name, n = f"gpkg_fid_{n}", n + 1
    return name


def _gpkg_layers(path: Path) -> list[str]:
    """The layers of an existing GeoPackage; InputError when it is not one."""
    if path.is_file() and path.stat().st_size == 0:
        return []  # an empty file (e.g. made by tempfile) holds nothing to keep
    fix = "delete it, write elsewhere, or pass keep_layers=False to replace it"
    try:
        layers = pyogrio.list_layers(path)
        driver = pyogrio.read_info(path, layer=0)["driver"] if len(layers) else "GPKG"
    except Exception as err:  # pyogrio raises several kinds for files it cannot open
        msg = (
            f"cannot add layers to {path}: it is not a GeoPackage GDAL can open "
            f"({_short(err)}); {fix}."
        )
        raise InputError(msg) from err
    if driver != "GPKG":
        msg = f"cannot add layers to {path}: it is a {driver} file, not a GeoPackage; {fix}."
        raise InputError(msg)
    return [str(name) for name in np.asarray(layers)[:, 0]] if len(layers) else []


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
    if geometry is None and not len(table.columns):
        msg = (
            f"layer {name!r} has neither columns nor geometry, which a GeoPackage layer "
            "cannot be; give it at least one column."
        )
        raise InputError(msg)
    lower = pd.Series([c.lower() for c in table.columns])
    if lower.duplicated().any():
        dup = sorted(set(table.columns[lower.duplicated(keep=False).to_numpy()]))
        msg = (
            f"layer {name!r}: columns {dup} differ only in case, which one GeoPackage "
            "layer cannot hold (its field names ignore case); rename or combine them "
            "first (nmgeo.read_zones unifies the field case of TPB plans read together)."
        )
        raise SchemaError(msg)
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
