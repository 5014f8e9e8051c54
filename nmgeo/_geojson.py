"""GeoJSON content GDAL skips without a word: nested collections and bare geometries."""

from __future__ import annotations

import gzip
import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from nmgeo.errors import InputError

SUFFIXES = {".json", ".geojson"}
GEOMETRY_TYPES = {
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
}
_TYPE = re.compile(rb'"type"\s*:\s*"(\w+)"')
_CRS_MEMBER = re.compile(rb'"crs"\s*:\s*(?!null)')
_ID_MEMBER = re.compile(rb'"id"\s*:')
_GEOMETRY_FIELD = re.compile(rb'"geometry"\s*:\s*(?![\s{]|null)')
# GeoJSON files this small (bytes) are parsed in full to check them; bigger ones only when
# the scan of their "type" members says something was skipped.
_PARSE_ALWAYS = 16_000_000
_GEOMETRY_TOKENS = tuple(kind.encode() for kind in GEOMETRY_TYPES)
_ESRI_CURVES = re.compile(rb'"curve(?:Rings|Paths)"\s*:')


@dataclass
class Flattened:
    """A GeoJSON document rewritten as one flat FeatureCollection."""

    text: bytes
    n_nested: int  # features found inside inner FeatureCollections
    n_bare: int  # bare geometries in a features array, wrapped as features


@dataclass
class Facts:
    """What GDAL does not say about a GeoJSON file."""

    flat: Flattened | None  # a flat copy, when GDAL skipped some of its features
    implied_crs: bool  # no "crs" member: RFC 7946 implies WGS84, GDAL reports EPSG:4326
    n_esri_curves: int = 0  # Esri JSON curve geometries, which GDAL reads as null
    n_id_members: int = 0  # "id" members anywhere: features may carry ids
    geometry_field: bool = False  # a "geometry" member that is no geometry: a field


def inspect(path: str, n_read: int, encoding: str | None = None) -> Facts | None:
    """The :class:`Facts` of a GeoJSON file GDAL read ``n_read`` features from, else None.

    GDAL's GeoJSON driver reads the Feature objects of the top-level ``features`` array
    only: a FeatureCollection nested in it, and a geometry placed there without its
    Feature wrapper, are skipped. A cheap scan of the ``"type"`` members decides whether
    the document must be parsed at all.
    """
    data = _json_bytes(path)
    if data is None:
        return None
    kinds = _TYPE.findall(data)
    n_collections = kinds.count(b"FeatureCollection")
    n_features = kinds.count(b"Feature")
    if n_collections == 0 and n_features == 0:  # not GeoJSON: Esri JSON, say
        n_curves = len(_ESRI_CURVES.findall(data))
        return Facts(None, False, n_curves) if n_curves else None
    n_geometries = sum(kinds.count(kind) for kind in _GEOMETRY_TOKENS)
    facts = Facts(
        None,
        not _declares_crs(data),
        n_id_members=len(_ID_MEMBER.findall(data)),
        geometry_field=_GEOMETRY_FIELD.search(data) is not None,
    )
    # A plain file: one collection, every feature read, at most one geometry per feature.
    # Files up to _PARSE_ALWAYS bytes are parsed anyway, which also finds members of the
    # features array that are no features at all (GDAL skips them too).
    plain = n_collections == 1 and n_features == n_read and n_geometries <= n_features
    if plain and len(data) > _PARSE_ALWAYS:
        return facts
    facts.flat = _flatten(data, path, encoding)
    return facts


def _json_bytes(path: str) -> bytes | None:
    """The bytes of a JSON layer: a plain file, one inside a .zip, or a gzipped one."""
    plain = path
    for prefix in ("/vsizip/", "/vsigzip/"):
        if plain.startswith(prefix):
            plain = plain[len(prefix) :]
    lower = plain.lower()
    try:
        if ".zip" in lower:
            archive, _, member = plain.partition(
                plain[lower.index(".zip") : lower.index(".zip") + 4]
            )
            archive += ".zip"
            with zipfile.ZipFile(archive) as zf:
                names = [n for n in zf.namelist() if Path(n).suffix.lower() in SUFFIXES]
                member = member.strip("/") or (names[0] if len(names) == 1 else "")
                if Path(member).suffix.lower() not in SUFFIXES:
                    return None
                return zf.read(member)
        if lower.endswith(".gz") and Path(plain[:-3]).suffix.lower() in SUFFIXES:
            with gzip.open(plain) as fh:
                return fh.read()
        if Path(plain).suffix.lower() in SUFFIXES and os.path.isfile(plain):
            return Path(plain).read_bytes()
    except (OSError, KeyError, zipfile.BadZipFile):
        return None
    return None


def _declares_crs(data: bytes) -> bool:
    """True if the collection has a non-null "crs" member (before or after its features).

    A property called ``crs`` inside a feature does not count: only the text before the
    ``features`` array and after the last feature is searched.
    """
    start = data.find(b'"features"')
    end = data.rfind(b'"geometry"')
    head = data if start < 0 else data[:start]
    tail = b"" if end < 0 else data[end:]
    tail = tail[tail.rfind(b"]") :] if b"]" in tail else b""
    return any(_CRS_MEMBER.search(part) for part in (head, tail))


def _flatten(data: bytes, path: str, encoding: str | None) -> Flattened | None:
    try:
        doc = json.loads(data.decode(encoding or "utf-8"))
    except (ValueError, UnicodeDecodeError, LookupError):
        return None  # GDAL read it; leave its reading alone
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        return None
    features: list[dict] = []
    counts = {"nested": 0, "bare": 0}
    _collect(doc, path, doc.get("crs"), features, counts, depth=0, where="features")
    if counts["nested"] == 0 and counts["bare"] == 0:
        return None
    flat = {"type": "FeatureCollection", "features": features}
    if doc.get("crs") is not None:
        flat["crs"] = doc["crs"]
    return Flattened(json.dumps(flat).encode("utf-8"), counts["nested"], counts["bare"])


def _collect(
    collection: dict,
    path: str,
    crs: object,
    out: list[dict],
    counts: dict[str, int],
    *,
    depth: int,
    where: str,
) -> None:
    items = collection.get("features")
    if not isinstance(items, list):
        msg = f"{path}: {where} is not a list of features; fix the file's structure."
        raise InputError(msg)
    for i, item in enumerate(items):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "Feature":
            out.append(item)
            counts["nested"] += depth > 0
        elif kind == "FeatureCollection":
            inner = item.get("crs")
            if inner is not None and inner != crs:
                msg = (
                    f"{path}: the FeatureCollection at {where}[{i}] declares its own CRS "
                    f"{json.dumps(inner)}, unlike the file's; split it into its own file."
                )
                raise InputError(msg)
            _collect(item, path, crs, out, counts, depth=depth + 1, where=f"{where}[{i}].features")
        elif kind in GEOMETRY_TYPES:
            out.append({"type": "Feature", "properties": None, "geometry": item})
            counts["bare"] += 1
        else:
            msg = (
                f"{path}: {where}[{i}] is not a GeoJSON Feature (type {kind!r}); fix or remove it."
            )
            raise InputError(msg)
