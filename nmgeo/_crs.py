"""CRS parsing, sniffing and checks of input layers, and transformation to EPSG:2326 (and
from it to EPSG:4326 for web maps)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as PyprojCRSError
from pyproj.exceptions import ProjError

from nmgeo._ids import _name_rows
from nmgeo._threads import map_chunks, per_thread
from nmgeo.errors import CoordinateRangeError, CRSError, MissingCRSError

logger = logging.getLogger("nmgeo.io")

HK80 = "EPSG:2326"
WGS84 = "EPSG:4326"
# gdf.attrs key a reader sets when the CRS GDAL reports is only implied by the format.
IMPLIED_CRS = "nmgeo_implied_crs"
# Generous Hong Kong extent in HK1980 Grid metres: (xmin, ymin, xmax, ymax).
HK_BOUNDS_2326 = (795_000.0, 795_000.0, 872_000.0, 852_000.0)
# Longitude / latitude box that holds Hong Kong with a margin, in degrees.
_HK_LON = (113.0, 115.0)
_HK_LAT = (21.5, 23.0)


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
    gdf, declared_by = _declare_crs(gdf, crs, source)
    declared: CRS = gdf.crs
    label = _crs_label(declared)
    extent = _extent_present(gdf)
    if extent is not None:
        _sniff_coordinates(extent, declared, declared_by=declared_by, source=source)
    transformed = not _same_crs(declared, CRS.from_user_input(HK80))
    gdf = _reproject(gdf, declared, transformed=transformed, source=source)
    _check_inside_hk(gdf, extent, declared, transformed=transformed, source=source, ids=ids)
    if transformed:
        _refuse_ballpark(declared, source)
    return gdf, {"crs_in": label, "transformed": bool(transformed)}


def _declare_crs(gdf: gpd.GeoDataFrame, crs: Any, source: str) -> tuple[gpd.GeoDataFrame, str]:
    """Settle the layer's CRS from its own and ``crs=``; return it set and who declared it.

    ``crs=`` labels a layer without a CRS, and overrides one the file only implies (see
    ``IMPLIED_CRS``) or a local engineering CRS (with a warning); any other disagreement
    raises CRSError. The second value is ``"crs="`` or ``"file"``.
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
        return gdf.set_crs(given), "crs="
    if given is not None and not _same_crs(gdf.crs, given):
        msg = (
            f"{source} declares {_crs_label(gdf.crs)} but crs={crs!r} was passed; drop "
            "crs= to use the layer's own CRS, or to override it reproject the data or "
            "relabel it with gdf.set_crs(..., allow_override=True) first and pass the "
            "GeoDataFrame."
        )
        raise CRSError(msg)
    return gdf, "file"


def _present(geoms: np.ndarray) -> np.ndarray:
    """True for geometries that are neither null nor empty."""
    return ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))


def _extent_present(gdf: gpd.GeoDataFrame) -> tuple[float, float, float, float] | None:
    """``(xmin, ymin, xmax, ymax)`` of the non-null, non-empty geometries; None if none."""
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    bounds = shapely.bounds(geoms)  # NaN for null and empty geometries
    present = _present(geoms)
    if not present.any():
        return None
    with np.errstate(invalid="ignore"):
        xmin, ymin = np.nanmin(bounds[present, 0]), np.nanmin(bounds[present, 1])
        xmax, ymax = np.nanmax(bounds[present, 2]), np.nanmax(bounds[present, 3])
    return xmin, ymin, xmax, ymax


def _sniff_coordinates(
    extent: tuple[float, float, float, float], declared: CRS, *, declared_by: str, source: str
) -> None:
    """Raise CoordinateRangeError if the raw extent contradicts the declared CRS.

    Caught: x and y swapped, Hong Kong degrees labelled as a projected CRS, and metres
    labelled as a geographic CRS. ``declared_by`` (``"crs="`` or ``"file"``) picks the fix
    the message suggests.
    """
    xmin, ymin, xmax, ymax = extent
    label = _crs_label(declared)
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
            f"{source}: coordinates look like WGS84 degrees but the layer declares {label}; {fix}."
        )
        raise CoordinateRangeError(msg)
    if declared.is_geographic and (
        max(abs(xmin), abs(xmax)) > 180.0 or max(abs(ymin), abs(ymax)) > 90.0
    ):
        guess = _crs_placing_in_hk(extent, declared)
        code, name = guess or ("EPSG:2326", "HK1980 Grid?")
        msg = (
            f"{source}: coordinates look like projected metres ({code}, {name}) but the "
            f"layer declares geographic {label} (x {xmin:.0f}..{xmax:.0f}, "
            f"y {ymin:.0f}..{ymax:.0f}); pass crs='{code}' if the layer has no CRS, "
            "or fix the .prj."
        )
        raise CoordinateRangeError(msg)


def _reproject(
    gdf: gpd.GeoDataFrame, declared: CRS, *, transformed: bool, source: str
) -> gpd.GeoDataFrame:
    """The layer transformed to EPSG:2326 (or relabelled as it, if it is in it already).

    A local engineering CRS, and a CRS PROJ cannot transform, raise CRSError.
    """
    label = _crs_label(declared)
    if transformed and _is_local(declared):
        msg = (
            f"{source}: declares a local engineering CRS ({declared.name}), which PROJ "
            f"cannot transform to {HK80}; if its coordinates are HK1980 Grid metres pass "
            "crs='EPSG:2326' to read them as such, else reproject the layer first."
        )
        raise CRSError(msg)
    # Transformed even when PROJ has only a ballpark operation, so that a layer that is not
    # in Hong Kong at all is reported as such; a ballpark one that is gets refused later.
    try:
        return gdf.to_crs(HK80) if transformed else gdf.set_crs(HK80, allow_override=True)
    except ProjError as err:
        msg = f"{source}: PROJ cannot transform {label} to {HK80} ({err}); reproject it first."
        raise CRSError(" ".join(msg.split())) from err


def _check_inside_hk(
    gdf: gpd.GeoDataFrame,
    extent: tuple[float, float, float, float] | None,
    declared: CRS,
    *,
    transformed: bool,
    source: str,
    ids: Sequence | None,
) -> None:
    """Raise CoordinateRangeError naming the rows of ``gdf`` (in EPSG:2326) outside Hong Kong.

    ``extent`` is the raw extent in the ``declared`` CRS: when every row is outside, the
    message names a likely CRS that would place it in Hong Kong, if there is one.
    """
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    present = _present(geoms)
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
    if not outside.size:
        return
    label = _crs_label(declared)
    via = f"after transforming {label} to {HK80}" if transformed else f"in {label}"
    fix = "check the layer's CRS and coordinates."
    if outside.size == present.sum():  # the whole layer: a wrong CRS, not stray rows
        guess = _crs_placing_in_hk(extent, declared)
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


def hk80_to_wgs84(geoms: np.ndarray) -> np.ndarray:
    """EPSG:2326 geometries in EPSG:4326 (longitude, latitude), through pyproj.

    The same transformation as ``GeoSeries.to_crs("EPSG:4326")``, run in threads on
    slices of the array (pyproj releases the GIL; each thread has its own Transformer,
    which is not safe to share).
    """
    transformer = per_thread(lambda: Transformer.from_crs(HK80, WGS84, always_xy=True))

    def run(part: np.ndarray) -> np.ndarray:
        own = transformer()
        return shapely.transform(
            part, lambda xy: np.column_stack(own.transform(xy[:, 0], xy[:, 1]))
        )

    return map_chunks(run, np.asarray(geoms, dtype=object))
