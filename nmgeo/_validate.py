"""Checks and repairs of input layers (CRS, coordinate range, geometry, ids), with an account."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as PyprojCRSError
from pyproj.exceptions import ProjError

from nmgeo._geomops import union_by
from nmgeo._threads import n_threads
from nmgeo.errors import (
    CoordinateRangeError,
    CRSError,
    DuplicateIdError,
    EmptyGeometryError,
    GeometryTypeError,
    InputError,
    InvalidGeometryError,
    MissingCRSError,
)

logger = logging.getLogger("nmgeo.io")

HK80 = "EPSG:2326"
# gdf.attrs key a reader sets when the CRS GDAL reports is only implied by the format.
IMPLIED_CRS = "nmgeo_implied_crs"
# Generous Hong Kong extent in HK1980 Grid metres: (xmin, ymin, xmax, ymax).
HK_BOUNDS_2326 = (795_000.0, 795_000.0, 872_000.0, 852_000.0)
# Longitude / latitude box that holds Hong Kong with a margin, in degrees.
_HK_LON = (113.0, 115.0)
_HK_LAT = (21.5, 23.0)

# Overlaps thinner on average than this band along a polygon's perimeter (m) are shared
# edges or coordinate noise (a WGS84 round trip shifts HK1980 points by ~0.5 mm), not real
# overlaps: used for lots overlapping lots and for the zoning overlay.
SLIVER_WIDTH = 0.01

ON_INVALID = ("repair", "drop", "raise")
# How many offending ids an error message names, and how many the account keeps.
_N_MESSAGE_IDS = 5
N_ACCOUNT_IDS = 20

_POLYGON, _MULTIPOLYGON, _COLLECTION = 3, 6, 7
_MULTI_OR_COLLECTION = (4, 5, 6, 7)


@dataclass
class ReadAccount:
    """What a reader did to a layer, so that every input row is accounted for.

    ``n_input == n_output + n_dropped_empty + n_dropped_duplicate + n_parts_combined``
    always holds.
    Areas are in square metres of EPSG:2326. The id lists keep the first ``N_ACCOUNT_IDS``
    ids (0-based row positions for a layer without ids); ``overlap_ids`` holds id pairs.
    """

    source: str
    layer: str | None = None
    n_input: int = 0
    n_output: int = 0
    crs_in: str = ""
    transformed: bool = False
    n_rings_closed: int = 0
    rings_closed_ids: list = field(default_factory=list)
    n_z_dropped: int = 0
    n_collections_fixed: int = 0
    n_repaired: int = 0
    repair_area_change_m2: float = 0.0
    n_dropped_empty: int = 0
    n_dropped_duplicate: int = 0
    n_parts_combined: int = 0
    combined_ids: list = field(default_factory=list)
    dropped_ids: list = field(default_factory=list)
    id_generated: bool = False
    n_overlapping_lots: int = 0
    n_overlap_pairs: int = 0
    overlap_area_m2: float = 0.0
    overlap_ids: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the account as a plain dict (JSON-friendly lists and numbers)."""
        return asdict(self)

    def __str__(self) -> str:
        where = self.source if self.layer is None else f"{self.source} [layer {self.layer}]"
        crs = f"{self.crs_in} -> {HK80}" if self.transformed else self.crs_in
        parts = [f"{where}: {self.n_input} rows in, {self.n_output} out", crs]
        if self.n_rings_closed:
            parts.append(f"unclosed rings closed in {self.n_rings_closed} rows")
        if self.n_z_dropped:
            parts.append(f"{self.n_z_dropped} Z dropped")
        if self.n_collections_fixed:
            parts.append(f"{self.n_collections_fixed} collections reduced to polygons")
        if self.n_repaired:
            parts.append(
                f"{self.n_repaired} repaired (area change {self.repair_area_change_m2:.3f} m2)"
            )
        if self.n_dropped_empty:
            parts.append(f"{self.n_dropped_empty} empty dropped")
        if self.n_dropped_duplicate:
            parts.append(f"{self.n_dropped_duplicate} duplicate/null id dropped")
        if self.n_parts_combined:
            parts.append(f"{self.n_parts_combined} rows combined into lots sharing their id")
        if self.id_generated:
            parts.append("ids generated")
        if self.n_overlapping_lots:
            parts.append(
                f"{self.n_overlapping_lots} lots overlap ({self.n_overlap_pairs} pairs, "
                f"{self.overlap_area_m2:.3f} m2)"
            )
        parts.extend(self.notes)
        return "; ".join(parts)


@dataclass
class ZoneReadAccount(ReadAccount):
    """The account of ``read_zones``: one zoning layer, or several plan files merged.

    ``n_input == n_output + n_dropped_empty + n_dropped_duplicate + n_parts_combined +
    n_dropped_superseded`` always holds. For several files, the counts are the files'
    sums, the id lists hold ``"<file>:<id>"`` strings, the notes start with the file name,
    and ``files`` holds each file's own account.
    """

    n_files: int = 1
    files: list = field(default_factory=list)
    skipped_files: list = field(default_factory=list)
    plan_versions: list = field(default_factory=list)
    n_dropped_superseded: int = 0

    def __str__(self) -> str:
        parts = [super().__str__()]
        if self.n_files > 1:
            parts.append(f"{self.n_files} files")
        if self.skipped_files:
            parts.append(f"{len(self.skipped_files)} files without zones skipped")
        if self.plan_versions:
            parts.append(f"{len(self.plan_versions)} plans in more than one version or file")
        if self.n_dropped_superseded:
            parts.append(f"{self.n_dropped_superseded} zones of superseded plan copies dropped")
        return "; ".join(parts)


def _prefixed(values: list, name: str) -> list:
    """``"<name>:<value>"`` for each id (element-wise for id pairs)."""
    out = []
    for value in values:
        if isinstance(value, (list, tuple)):
            out.append([f"{name}:{v}" for v in value])
        else:
            out.append(f"{name}:{value}")
    return out


def merge_accounts(
    accounts: Sequence[ReadAccount], names: Sequence[str], *, source: str, layer: str | None
) -> ZoneReadAccount:
    """One account for layers read one by one and stacked (e.g. one file per plan).

    Counts and areas are summed, flags are true if any layer's is, CRSs are listed once
    each, and ids and notes keep the name of their layer (``names``, e.g. file names).
    """
    merged = ZoneReadAccount(source=source, layer=layer, n_files=len(accounts))
    crs_in: list[str] = []
    for account, name in zip(accounts, names, strict=True):
        for item in fields(ReadAccount):
            key = item.name
            if key in ("source", "layer"):
                continue
            value = getattr(account, key)
            if key == "crs_in":
                if value and value not in crs_in:
                    crs_in.append(value)
            elif key == "notes":
                merged.notes.extend(f"{name}: {note}" for note in value)
            elif isinstance(value, bool):
                setattr(merged, key, getattr(merged, key) or value)
            elif isinstance(value, (int, float)):
                setattr(merged, key, getattr(merged, key) + value)
            elif isinstance(value, list):
                room = max(N_ACCOUNT_IDS - len(getattr(merged, key)), 0)
                getattr(merged, key).extend(_prefixed(value[:room], name))
        merged.files.append(account.as_dict())
    merged.crs_in = ", ".join(crs_in)
    return merged


def check_on_invalid(on_invalid: str) -> str:
    """Return ``on_invalid`` if it is one of ON_INVALID, else raise InputError."""
    if on_invalid not in ON_INVALID:
        msg = f"on_invalid={on_invalid!r} is not one of {', '.join(map(repr, ON_INVALID))}."
        raise InputError(msg)
    return on_invalid


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


def _crs_label(crs: CRS) -> str:
    epsg = crs.to_epsg(min_confidence=70)
    return f"EPSG:{epsg}" if epsg is not None else crs.name


def _parse_crs(crs: Any, source: str) -> CRS:
    try:
        return CRS.from_user_input(crs)
    except PyprojCRSError as err:
        msg = f"{source}: cannot interpret crs={crs!r}; pass e.g. crs='EPSG:2326' (HK1980 Grid)."
        raise CRSError(msg) from err


def _same_crs(a: CRS, b: CRS) -> bool:
    if a.equals(b, ignore_axis_order=True):
        return True
    epsg_a, epsg_b = a.to_epsg(min_confidence=70), b.to_epsg(min_confidence=70)
    return epsg_a is not None and epsg_a == epsg_b


def ensure_crs(
    gdf: gpd.GeoDataFrame, crs: Any, *, source: str, ids: Sequence | None = None
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Return ``gdf`` in EPSG:2326 and the account fields ``crs_in`` and ``transformed``.

    The layer's CRS is never guessed: a layer without one needs ``crs=``. Raw coordinates
    are sniffed before transforming (degrees labelled as metres and the reverse), and every
    row must fall inside ``HK_BOUNDS_2326`` afterwards; a layer that does, but whose CRS
    PROJ can take to EPSG:2326 only by a "Ballpark" operation, raises CRSError (see
    :func:`_refuse_ballpark`). ``ids`` (aligned with the rows)
    name offending rows in messages; without them, 0-based row positions are used.
    """
    given = None if crs is None else _parse_crs(crs, source)
    implied = gdf.attrs.pop(IMPLIED_CRS, None)
    if implied is None and gdf.crs is not None and _is_local(gdf.crs):
        implied = f"a local engineering CRS ({gdf.crs.name}), which has no link to the earth"
    if given is not None and implied is not None and not _same_crs(gdf.crs, given):
        # Only a CRS the file implies, or cannot place on the earth, gives way to crs=.
        logger.warning(
            "%s: declares %s (%s); read as crs=%r, as passed",
            source,
            _crs_label(gdf.crs),
            implied,
            crs,
        )
        gdf = gdf.set_crs(given, allow_override=True)
        given = None
    if gdf.crs is None:
        if given is None:
            msg = (
                f"{source} has no CRS; pass crs='EPSG:2326' (HK1980 Grid) or the layer's "
                "real CRS (nmgeo never guesses it)."
            )
            raise MissingCRSError(msg)
        gdf = gdf.set_crs(given)
        declared_by = "crs="
    else:
        if given is not None and not _same_crs(gdf.crs, given):
            msg = (
                f"{source} declares {_crs_label(gdf.crs)} but crs={crs!r} was passed; drop "
                "crs= to use the layer's own CRS, or to override it reproject the data or "
                "relabel it with gdf.set_crs(..., allow_override=True) first and pass the "
                "GeoDataFrame."
            )
            raise CRSError(msg)
        declared_by = "file"
    declared: CRS = gdf.crs
    label = _crs_label(declared)

    geoms = np.asarray(gdf.geometry.array, dtype=object)
    bounds = shapely.bounds(geoms)  # NaN for null and empty geometries
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if present.any():
        with np.errstate(invalid="ignore"):
            xmin, ymin = np.nanmin(bounds[present, 0]), np.nanmin(bounds[present, 1])
            xmax, ymax = np.nanmax(bounds[present, 2]), np.nanmax(bounds[present, 3])
        looks_like_hk_degrees = (
            _HK_LON[0] <= xmin and xmax <= _HK_LON[1] and _HK_LAT[0] <= ymin and ymax <= _HK_LAT[1]
        )
        looks_swapped = (
            _HK_LAT[0] <= xmin and xmax <= _HK_LAT[1] and _HK_LON[0] <= ymin and ymax <= _HK_LON[1]
        )
        if looks_swapped:
            msg = (
                f"{source}: x and y look swapped (x {xmin:.3f}..{xmax:.3f} is a Hong Kong "
                f"latitude, y {ymin:.3f}..{ymax:.3f} a longitude; the layer declares "
                f"{label}); put longitude first, e.g. geoms = shapely.transform(geoms, "
                "lambda xy: xy[:, ::-1]), and declare EPSG:4326."
            )
            raise CoordinateRangeError(msg)
        if not declared.is_geographic and looks_like_hk_degrees:
            if declared_by == "crs=":
                fix = "pass crs='EPSG:4326' or fix the .prj"
            else:
                fix = (
                    "fix the .prj, or relabel the data with gdf.set_crs('EPSG:4326', "
                    "allow_override=True) and pass the GeoDataFrame (crs='EPSG:4326' cannot "
                    "override a CRS stored in the file)"
                )
            msg = (
                f"{source}: coordinates look like WGS84 degrees but the layer declares "
                f"{label}; {fix}."
            )
            raise CoordinateRangeError(msg)
        if declared.is_geographic and (
            max(abs(xmin), abs(xmax)) > 180.0 or max(abs(ymin), abs(ymax)) > 90.0
        ):
            guess = _crs_placing_in_hk((xmin, ymin, xmax, ymax), declared)
            code, name = guess or ("EPSG:2326", "HK1980 Grid?")
            msg = (
                f"{source}: coordinates look like projected metres ({code}, {name}) but the "
                f"layer declares geographic {label} (x {xmin:.0f}..{xmax:.0f}, "
                f"y {ymin:.0f}..{ymax:.0f}); pass crs='{code}' if the layer has no CRS, "
                "or fix the .prj."
            )
            raise CoordinateRangeError(msg)

    transformed = not _same_crs(declared, CRS.from_user_input(HK80))
    if transformed and _is_local(declared):
        msg = (
            f"{source}: declares a local engineering CRS ({declared.name}), which PROJ "
            f"cannot transform to {HK80}; if its coordinates are HK1980 Grid metres pass "
            "crs='EPSG:2326' to read them as such, else reproject the layer first."
        )
        raise CRSError(msg)
    # Transformed even when PROJ has only a ballpark operation, so that a layer that is not
    # in Hong Kong at all is reported as such; a ballpark one that is gets refused below.
    try:
        gdf = gdf.to_crs(HK80) if transformed else gdf.set_crs(HK80, allow_override=True)
    except ProjError as err:
        msg = f"{source}: PROJ cannot transform {label} to {HK80} ({err}); reproject it first."
        raise CRSError(" ".join(msg.split())) from err

    geoms = np.asarray(gdf.geometry.array, dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    bounds = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):
        inside = (
            np.isfinite(bounds).all(axis=1)
            & (bounds[:, 0] >= HK_BOUNDS_2326[0])
            & (bounds[:, 1] >= HK_BOUNDS_2326[1])
            & (bounds[:, 2] <= HK_BOUNDS_2326[2])
            & (bounds[:, 3] <= HK_BOUNDS_2326[3])
        )
    outside = np.flatnonzero(present & ~inside)
    if outside.size:
        via = f"after transforming {label} to {HK80}" if transformed else f"in {label}"
        fix = "check the layer's CRS and coordinates."
        if outside.size == present.sum():  # the whole layer: a wrong CRS, not stray rows
            guess = _crs_placing_in_hk((xmin, ymin, xmax, ymax), declared)
            if guess is not None:
                code, name = guess
                fix = (
                    f"its coordinates would lie in Hong Kong as {code} ({name}); pass "
                    f"crs='{code}' if the layer has no CRS, or fix the .prj."
                )
        msg = (
            f"{source}: {outside.size} of {len(gdf)} rows lie outside Hong Kong {via} "
            f"(HK1980 Grid extent {HK_BOUNDS_2326}), e.g. {_name_rows(outside, ids)}; {fix}"
        )
        raise CoordinateRangeError(msg)
    if transformed:
        _refuse_ballpark(declared, source)
    return gdf, {"crs_in": label, "transformed": bool(transformed)}


# CRSs Hong Kong data comes in, tried in this order to explain a misplaced layer.
_LIKELY_CRS = ("EPSG:2326", "EPSG:4326", "EPSG:32650", "EPSG:32649", "EPSG:3857")


def _is_local(crs: Any) -> bool:
    """An engineering (local) CRS: coordinates with no datum, so no transformation."""
    crs = CRS.from_user_input(crs)
    return "engineering" in crs.type_name.lower() or crs.to_wkt().startswith("LOCAL_CS")


def _crs_placing_in_hk(extent: tuple[float, ...], declared: CRS) -> tuple[str, str] | None:
    """The first likely CRS (other than ``declared``) in which ``extent`` lies in Hong Kong."""
    xs = np.array([extent[0], extent[2], extent[0], extent[2]])
    ys = np.array([extent[1], extent[1], extent[3], extent[3]])
    for code in _LIKELY_CRS:
        candidate = CRS.from_user_input(code)
        if _same_crs(candidate, declared):
            continue
        to_hk = Transformer.from_crs(candidate, HK80, always_xy=True)
        with np.errstate(invalid="ignore"):
            x, y = to_hk.transform(xs, ys, errcheck=False)
        if (
            np.isfinite(x).all()
            and np.isfinite(y).all()
            and HK_BOUNDS_2326[0] <= x.min()
            and x.max() <= HK_BOUNDS_2326[2]
            and HK_BOUNDS_2326[1] <= y.min()
            and y.max() <= HK_BOUNDS_2326[3]
        ):
            return code, candidate.name
    return None


def as_hk80(gdf: gpd.GeoDataFrame, name: str = "layer") -> gpd.GeoDataFrame:
    """Return ``gdf`` in EPSG:2326 (itself if already there); ``name`` labels errors.

    The light check for frames handed between nmgeo stages: a missing CRS raises
    MissingCRSError, a CRS with only a "Ballpark" operation to EPSG:2326 raises CRSError
    (see :func:`_refuse_ballpark`); no geometry or coordinate checks (the readers do those).
    """
    if gdf.crs is None:
        msg = (
            f"{name} layer has no CRS; read it with nmgeo.read_parcels / read_zones or call "
            "set_crs('EPSG:2326') (HK1980 Grid) or its real CRS first."
        )
        raise MissingCRSError(msg)
    if _same_crs(gdf.crs, CRS.from_user_input(HK80)):
        return gdf
    return _to_hk80(gdf, f"{name} layer")


def _refuse_ballpark(crs: CRS, source: str) -> None:
    """Raise CRSError if PROJ knows only a "Ballpark" operation from ``crs`` to EPSG:2326.

    E.g. CGCS2000 (EPSG:4490) or its Gauss-Kruger grids (EPSG:4547): a ballpark operation
    ignores the datum shift, so results could be hundreds of metres off, far more than a
    lot's width. Refused rather than warned: lots silently misplaced by that much get the
    wrong zoning, and only the caller can supply an accurate operation.
    """
    description = _operation_to_hk80(crs.to_wkt())
    if "ballpark" in description.lower():
        msg = (
            f"{source}: PROJ knows no accurate transformation from {_crs_label(crs)} "
            f"({crs.name}) to {HK80} (HK1980 Grid), only a 'Ballpark' one whose result "
            "could be hundreds of metres off; reproject the layer to EPSG:2326 with an "
            "accurate operation (published datum parameters) first and pass that."
        )
        raise CRSError(msg)


@functools.lru_cache(maxsize=64)
def _operation_to_hk80(wkt: str) -> str:
    """The description of the operation PROJ (and GeoDataFrame.to_crs) uses to EPSG:2326."""
    return Transformer.from_crs(CRS.from_wkt(wkt), HK80, always_xy=True).description


def _to_hk80(gdf: gpd.GeoDataFrame, source: str) -> gpd.GeoDataFrame:
    """Reproject ``gdf`` (with a CRS other than EPSG:2326) to EPSG:2326, refusing ballpark ones.

    See :func:`_refuse_ballpark`; :func:`ensure_crs` applies the same rule after its range
    checks (so that a layer nowhere near Hong Kong is reported as such first).
    """
    _refuse_ballpark(CRS.from_user_input(gdf.crs), source)
    return gdf.to_crs(HK80)


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
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    bad_coord = ~np.isfinite(coords).all(axis=1)
    if not bad_coord.any():
        return gdf, 0
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
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Check and repair the geometries of a polygon layer (already in EPSG:2326).

    Returns the layer (rows dropped only with ``on_invalid="drop"``, index kept) and the
    account fields ``n_z_dropped``, ``n_collections_fixed``, ``n_repaired``,
    ``repair_area_change_m2``, ``n_dropped_empty`` and ``dropped_ids``. ``ids`` (aligned
    with the rows, or None for 0-based row positions) name rows in messages. Rows with
    NaN or infinite coordinates are never repaired (see :func:`check_finite`).
    """
    check_on_invalid(on_invalid)
    gdf, _ = check_finite(gdf, ids=ids, source=source, on_invalid=on_invalid)
    geoms = np.array(gdf.geometry.array, dtype=object)  # a copy we may edit
    counts: dict[str, Any] = {
        "n_z_dropped": 0,
        "n_collections_fixed": 0,
        "n_repaired": 0,
        "repair_area_change_m2": 0.0,
        "n_dropped_empty": 0,
        "dropped_ids": [],
    }

    has_z = shapely.has_z(geoms) | shapely.has_m(geoms)
    if has_z.any():
        geoms[has_z] = shapely.force_2d(geoms[has_z])
        counts["n_z_dropped"] = int(has_z.sum())

    type_id = shapely.get_type_id(geoms)
    absent = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    collection = (type_id == _COLLECTION) & ~absent
    if collection.any():
        reduced = _polygon_parts(geoms[collection])
        fixed = shapely.is_geometry(reduced)  # False where no polygon part is left
        where = np.flatnonzero(collection)
        n_before = shapely.get_num_geometries(_flat_parts(geoms[where[fixed]]))
        lost = n_before - shapely.get_num_geometries(reduced[fixed])
        geoms[where[fixed]] = reduced[fixed]
        counts["n_collections_fixed"] = int(fixed.sum())
        type_id = shapely.get_type_id(geoms)
        if lost.any():
            logger.warning(
                "%s: %d geometry collections reduced to their polygons, dropping %d "
                "points, lines or empty parts, e.g. %s",
                source,
                int(fixed.sum()),
                int(lost.sum()),
                _name_rows(where[fixed][lost > 0], ids),
            )

    wrong = ~absent & ~np.isin(type_id, (_POLYGON, _MULTIPOLYGON))
    if wrong.any():
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

    present = ~absent
    invalid = np.zeros(len(geoms), dtype=bool)
    invalid[present] = ~shapely.is_valid(geoms[present])
    if invalid.any():
        where = np.flatnonzero(invalid)
        if on_invalid == "raise":
            reason = shapely.is_valid_reason(geoms[where[0]])
            msg = (
                f"{source}: {where.size} invalid geometries, e.g. {_name_rows(where, ids)} "
                f"({reason}); pass on_invalid='repair' to repair them with shapely.make_valid."
            )
            raise InvalidGeometryError(msg)
        fixed, n_holes = _drop_outside_holes(geoms[where])
        if n_holes:
            lost = shapely.get_num_interior_rings(geoms[where]) > shapely.get_num_interior_rings(
                fixed
            )
            geoms[where] = fixed
            logger.warning(
                "%s: dropped %d holes that lie outside their polygon's outline (no land is "
                "cut out there), e.g. %s",
                source,
                n_holes,
                _name_rows(where[lost], ids),
            )
            still = ~shapely.is_valid(geoms[where])
            where = where[still]
        if where.size:
            # Finite by now (check_finite ran): coordinates are finite, so areas are too.
            before = np.nan_to_num(shapely.area(geoms[where]), nan=0.0)
            repaired = shapely.make_valid(geoms[where], method="structure", keep_collapsed=False)
            odd = ~np.isin(shapely.get_type_id(repaired), (_POLYGON, _MULTIPOLYGON))
            if odd.any():  # defensive: keep polygonal parts only
                repaired[odd] = _polygon_parts(repaired[odd])
            after = np.nan_to_num(shapely.area(repaired), nan=0.0)
            change = float(np.abs(after - before).sum())
            geoms[where] = repaired
            counts["n_repaired"] = int(where.size)
            counts["repair_area_change_m2"] = change
            logger.warning(
                "%s: repaired %d invalid geometries with shapely.make_valid (total area change "
                "%.3f m2), e.g. %s",
                source,
                where.size,
                change,
                _name_rows(where, ids),
            )

    area = shapely.area(geoms)
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms) | ~(area > 0)
    out = gdf.copy()
    out[gdf.geometry.name] = gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs)
    if bad.any():
        where = np.flatnonzero(bad)
        if on_invalid != "drop":
            msg = (
                f"{source}: {where.size} rows have null or empty geometries or no area left "
                f"after repair, e.g. {_name_rows(where, ids)}; pass on_invalid='drop' to drop "
                "them."
            )
            raise EmptyGeometryError(msg)
        counts["n_dropped_empty"] = int(where.size)
        counts["dropped_ids"] = ids_at(where[:N_ACCOUNT_IDS], ids)
        logger.warning(
            "%s: dropped %d rows with null, empty or zero-area geometries, e.g. %s",
            source,
            where.size,
            _name_rows(where, ids),
        )
        out = out.loc[~bad]
    return out, counts


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


# --------------------------------------------------------------------------- overlaps

# Polygons with at most this many vertices take the vectorised separating-axis test (its
# cost per pair grows with the product of the two vertex counts); others are intersected.
_SAT_MAX_VERTICES = 16
# Pairs tested per block of numpy operations.
_SAT_BLOCK = 32_768
# Pairs intersected per shapely call.
_AREA_CHUNK = 50_000


def find_overlaps(
    geoms: np.ndarray, *, sliver_width: float = SLIVER_WIDTH
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Find the pairs of polygons whose interiors overlap by more than a sliver.

    A pair counts when the area of its intersection exceeds ``sliver_width`` (m) times the
    smaller perimeter of the two, as in the zoning overlay: shared edges and coordinate
    noise (a WGS84 round trip moves HK1980 points by ~0.5 mm) never count.

    Parameters
    ----------
    geoms : numpy.ndarray
        Valid polygons (Polygon or MultiPolygon) in a metric CRS; None and empty
        geometries are ignored.
    sliver_width : float, default ``SLIVER_WIDTH`` (0.01 m)
        Average width below which an overlap is a sliver.

    Returns
    -------
    i, j : numpy.ndarray
        0-based positions of the two polygons of each overlapping pair, ``i < j``, sorted.
    area : numpy.ndarray
        The area of each pair's intersection.

    Notes
    -----
    Candidate pairs are those whose bounding boxes meet (an STRtree query). Most are
    settled without an overlay: pairs whose boxes share no more than the threshold area,
    and pairs whose vertices, projected onto the normal of some edge of either polygon,
    fall in intervals overlapping by at most ``sliver_width`` (a vectorised
    separating-axis test; neighbours sharing an edge pass it along that edge's normal).
    The intersection of such a pair lies in a band ``sliver_width`` wide across that
    normal and no longer than the smaller polygon's diameter, so its area is at most
    ``sliver_width`` times half the smaller perimeter: below the threshold. Only the
    remaining pairs (real overlaps, neighbours interlocking around a concave corner,
    polygons of more than ``_SAT_MAX_VERTICES`` vertices) are intersected.
    """
    geoms = np.asarray(geoms, dtype=object)
    none = np.empty(0, dtype=np.intp)
    if len(geoms) < 2:
        return none, none, np.empty(0)
    i, j = shapely.STRtree(geoms).query(geoms)
    keep = i < j
    i, j = i[keep], j[keep]

    perimeter = shapely.length(geoms)
    limit = sliver_width * np.minimum(perimeter[i], perimeter[j])
    bounds = shapely.bounds(geoms)
    xmin, ymin, xmax, ymax = (np.ascontiguousarray(bounds[:, k]) for k in range(4))
    box_w = np.minimum(xmax[i], xmax[j]) - np.maximum(xmin[i], xmin[j])
    box_h = np.minimum(ymax[i], ymax[j]) - np.maximum(ymin[i], ymin[j])
    keep = box_w * box_h > limit  # the boxes' overlap bounds the polygons' overlap
    i, j, limit = i[keep], j[keep], limit[keep]

    keep = ~_separated(geoms, i, j, sliver_width)
    i, j, limit = i[keep], j[keep], limit[keep]
    area = _intersection_areas(geoms[i], geoms[j])
    real = area > limit
    i, j, area = i[real], j[real], area[real]
    order = np.lexsort((j, i))
    return i[order], j[order], area[order]


def _separated(geoms: np.ndarray, i: np.ndarray, j: np.ndarray, tolerance: float) -> np.ndarray:
    """True for pairs (i, j) that lie apart along the normal of an edge of either.

    Separating-axis test on the vertices: along the normal of some edge of one geometry,
    the projections of the two vertex sets overlap by at most ``tolerance``. Any direction
    is a valid axis, so the test holds for non-convex geometries too (and is exact for
    convex ones). Geometries with more than ``_SAT_MAX_VERTICES`` vertices are not tested
    (their pairs are reported as not separated).
    """
    out = np.zeros(len(i), dtype=bool)
    if not len(i):
        return out
    n = len(geoms)
    # Vertices: every coordinate but the last, which repeats the first of the last ring.
    n_points = shapely.get_num_coordinates(geoms).astype(np.int64) - 1
    n_points[(n_points < 3) | (n_points > _SAT_MAX_VERTICES)] = 0  # not tested
    # Only single rings are laid out as one vertex table: multipolygons and polygons with
    # holes go to the overlay instead.
    one_ring = (shapely.get_type_id(geoms) == 3) & (shapely.get_num_interior_rings(geoms) == 0)
    n_points[~one_ring] = 0
    used = np.zeros(n, dtype=bool)
    used[i] = True
    used[j] = True
    used &= n_points > 0
    # Geometries with the same number of vertices share a table without padding.
    frames: dict[int, tuple[np.ndarray, ...]] = {}
    row_of = np.full(n, -1, dtype=np.intp)
    for count in np.unique(n_points[used]).tolist():
        members = np.flatnonzero(used & (n_points == count))
        row_of[members] = np.arange(members.size)
        frames[count] = _edge_frames(geoms[members], count)
    ci, cj = n_points[i], n_points[j]
    tested = np.flatnonzero((ci > 0) & (cj > 0))
    if not len(tested):
        return out
    group = ci[tested] * (_SAT_MAX_VERTICES + 1) + cj[tested]
    order = np.argsort(group, kind="stable")
    tested, group = tested[order], group[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    stops = np.r_[starts[1:], len(group)]
    # In blocks, so that the temporaries stay in the CPU cache; numpy releases the GIL on
    # them, so blocks run in threads.
    blocks = []
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        count_a, count_b = divmod(int(group[start]), _SAT_MAX_VERTICES + 1)
        for low in range(start, stop, _SAT_BLOCK):
            blocks.append((tested[low : min(low + _SAT_BLOCK, stop)], count_a, count_b))

    def block(task: tuple[np.ndarray, int, int]) -> None:
        pairs, count_a, count_b = task
        a, b = row_of[i[pairs]], row_of[j[pairs]]
        apart = _apart(frames[count_a], frames[count_b], a, b, tolerance)
        rest = np.flatnonzero(~apart)
        apart[rest] = _apart(frames[count_b], frames[count_a], b[rest], a[rest], tolerance)
        out[pairs] = apart  # blocks write disjoint positions

    threads = min(n_threads(), len(blocks))
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(block, blocks))
    else:
        for task in blocks:
            block(task)
    return out


def _edge_frames(geoms: np.ndarray, count: int) -> tuple[np.ndarray, ...]:
    """Vertices and edge normals of geometries of ``count`` vertices each, with extents.

    Returns ``(vx, vy, nx, ny, low, high)``, arrays of shape ``(count, n)``: vertex k of
    geometry p is ``(vx[k, p], vy[k, p])``; edge k joins it to the next coordinate and has
    the unit normal ``(nx[k, p], ny[k, p])``; the geometry's vertices project onto that
    normal within ``[low[k, p], high[k, p]]``. A zero-length edge gets the extent
    ``[-inf, inf]``, which never separates anything.
    """
    coords = shapely.get_coordinates(geoms).reshape(len(geoms), count + 1, 2)
    xs, ys = np.ascontiguousarray(coords.transpose(2, 1, 0))  # (count + 1, n) each
    vx, vy = xs[:count], ys[:count]
    dx, dy = xs[1:] - vx, ys[1:] - vy
    length = np.hypot(dx, dy)
    edge = length > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        nx, ny = np.where(edge, dy / length, 0.0), np.where(edge, -dx / length, 0.0)
    low, high = _extent(nx, ny, vx, vy)
    low[~edge], high[~edge] = -np.inf, np.inf
    return vx, vy, nx, ny, low, high


def _extent(
    nx: np.ndarray, ny: np.ndarray, vx: list | np.ndarray, vy: list | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest projection of the vertices ``vx[v], vy[v]`` onto ``(nx, ny)``."""
    low = nx * vx[0] + ny * vy[0]
    high = low.copy()
    for v in range(1, len(vx)):
        d = nx * vx[v] + ny * vy[v]
        np.minimum(low, d, out=low)
        np.maximum(high, d, out=high)
    return low, high


def _apart(
    frames_a: tuple[np.ndarray, ...],
    frames_b: tuple[np.ndarray, ...],
    a: np.ndarray,
    b: np.ndarray,
    tolerance: float,
) -> np.ndarray:
    """True where geometry b lies beyond an edge normal of geometry a, within tolerance."""
    _, _, nx, ny, low, high = frames_a
    vx, vy = frames_b[0], frames_b[1]
    bx = [row[b] for row in vx]
    by = [row[b] for row in vy]
    out = np.zeros(len(a), dtype=bool)
    for k in range(nx.shape[0]):
        b_low, b_high = _extent(nx[k][a], ny[k][a], bx, by)
        out |= (b_low >= high[k][a] - tolerance) | (b_high <= low[k][a] + tolerance)
    return out


def _intersection_areas(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Area of each pairwise intersection; snap-rounded to 1 mm where GEOS's overlay fails."""
    area = np.empty(len(left))
    for start in range(0, len(left), _AREA_CHUNK):
        part = slice(start, start + _AREA_CHUNK)
        try:
            area[part] = shapely.area(shapely.intersection(left[part], right[part]))
        except shapely.errors.GEOSException:
            area[part] = shapely.area(
                shapely.intersection(left[part], right[part], grid_size=0.001)
            )
    return area


def check_overlaps(geoms: np.ndarray, *, ids: Sequence | None, source: str) -> dict[str, Any]:
    """Find lots overlapping other lots and log one warning naming them; nothing is changed.

    Returns the account fields ``n_overlapping_lots``, ``n_overlap_pairs``,
    ``overlap_area_m2`` (the sum of the pairwise intersection areas) and ``overlap_ids``.
    ``ids`` (aligned with ``geoms``, or None for 0-based row positions) name the lots.
    """
    i, j, area = find_overlaps(geoms)
    counts: dict[str, Any] = {
        "n_overlapping_lots": 0,
        "n_overlap_pairs": 0,
        "overlap_area_m2": 0.0,
        "overlap_ids": [],
    }
    if not len(i):
        return counts
    counts["n_overlapping_lots"] = int(np.unique(np.concatenate([i, j])).size)
    counts["n_overlap_pairs"] = int(len(i))
    counts["overlap_area_m2"] = float(area.sum())
    first, second = ids_at(i[:N_ACCOUNT_IDS], ids), ids_at(j[:N_ACCOUNT_IDS], ids)
    counts["overlap_ids"] = [list(pair) for pair in zip(first, second, strict=True)]
    label = "rows" if ids is None else (getattr(ids, "name", None) or "id")
    shown = ", ".join(
        f"({_plain_repr(a, ids)}, {_plain_repr(b, ids)})"
        for a, b in zip(first[:_N_MESSAGE_IDS], second[:_N_MESSAGE_IDS], strict=True)
    )
    pairs = "1 pair" if len(i) == 1 else f"{len(i)} pairs"
    logger.warning(
        "%s: %d lots overlap other lots by more than a sliver (%s, %.1f m2 in all), e.g. %s "
        "%s; areas of these lots count the overlap twice; fix the source or dissolve the "
        "duplicates.",
        source,
        counts["n_overlapping_lots"],
        pairs,
        counts["overlap_area_m2"],
        label,
        shown,
    )
    return counts


def _plain_repr(value: Any, ids: Sequence | None) -> str:
    return str(value) if ids is None else repr(value)
