"""Raster analysis on the HK1980 Grid: distance surfaces, slope and zonal statistics."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.errors
import shapely
from affine import Affine
from pyproj import CRS
from rasterio import features
from rasterio.crs import CRS as RioCRS
from rasterio.windows import Window
from scipy import ndimage
from scipy.spatial import cKDTree

from nmgeo._crs import HK80, _same_crs, as_hk80
from nmgeo._gc import pauses_gc
from nmgeo._graphs import _colour_graph
from nmgeo._limits import check_limit
from nmgeo._outputs import replacing
from nmgeo._sources import refuse_input, remember_input
from nmgeo.errors import CRSError, GeometryTypeError, InputError, MissingCRSError

__all__ = [
    "NODATA",
    "Raster",
    "ZONAL_STATS",
    "assign_terrain",
    "distance_raster",
    "slope_raster",
    "write_raster",
    "zonal_stats",
]

logger = logging.getLogger(__name__)

NODATA = -9999.0
ZONAL_STATS: tuple[str, ...] = ("mean", "min", "max", "count", "sum", "std", "median", "range")
DEFAULT_PAD_M = 2_000.0
# Refuse grids that would not fit comfortably in memory (float64 plus temporaries).
MAX_CELLS = 250_000_000
# Cells per chunk of nearest-point queries (bounds the memory of cell-centre arrays).
_QUERY_CHUNK = 2_000_000
_COUNT_SHIFT = 32  # zonal add-pass: burn (1 << 32) + label, so count and label share an int64
_POINT, _LINESTRING, _LINEARRING, _POLYGON, _MULTIPOLYGON = 0, 1, 2, 3, 6
_MULTI_OR_COLLECTION = (4, 5, 6, 7)
# GeoTIFF metadata of the grids nmgeo computes, written by write_raster.
_DISTANCE_TAGS = {"units": "metre", "quantity": "distance to nearest target", "generator": "nmgeo"}
_SLOPE_TAGS = {"units": "degree", "quantity": "slope", "method": "Horn 3x3", "generator": "nmgeo"}


# --------------------------------------------------------------------------- result type


class Raster(NamedTuple):
    """A single-band grid in memory: its cell values and the rasterio profile placing them.

    :func:`distance_raster` and :func:`slope_raster` return one; :func:`zonal_stats`,
    :func:`slope_raster` and :func:`assign_terrain` take one wherever they take a GeoTIFF
    path, and :func:`write_raster` saves one as a GeoTIFF. It is a named tuple, so
    ``array, profile = distance_raster(...)`` works.

    Attributes
    ----------
    array : numpy.ndarray
        2-D cell values, rows north to south and columns west to east, in the units of
        the quantity: metres for a distance surface or a DEM, degrees for slope. Cells
        equal to ``profile["nodata"]`` (and NaN cells) hold no value.
    profile : dict
        A rasterio profile describing ``array``: ``crs``, ``transform`` (an
        ``affine.Affine`` from cell (column, row) to map coordinates; cell size in CRS
        units, metres in EPSG:2326), ``width`` and ``height`` (cells), ``count`` (1),
        ``dtype``, ``nodata`` and GeoTIFF creation options (``driver``, ``compress``,
        ``tiled`` ...). An optional ``tags`` entry (dict of str) holds the GeoTIFF
        metadata :func:`write_raster` stores, e.g. ``{"units": "metre", ...}``.
        ``rasterio.open(path).profile`` gives a valid profile for a file's band 1.

    Examples
    --------
    >>> import nmgeo
    >>> dem_path = nmgeo.datasets.sample_dir() / "nm_dem.tif"  # the sample's 25 m DEM
    >>> array, profile = nmgeo.slope_raster(dem_path)
    >>> array.shape == (profile["height"], profile["width"])
    True
    >>> profile["crs"].to_epsg(), profile["transform"].a, profile["tags"]["units"]
    (2326, 25.0, 'degree')

    Any grid read with rasterio makes a Raster:

    >>> import rasterio
    >>> with rasterio.open(dem_path) as src:
    ...     dem = nmgeo.Raster(src.read(1), src.profile)
    >>> dem.profile["nodata"], str(dem.array.dtype)
    (-9999.0, 'float32')
    """

    array: np.ndarray
    profile: dict[str, Any]


# --------------------------------------------------------------------------- helpers


def _open_raster(path: str | os.PathLike, argument: str) -> Any:
    """Open a raster for reading, turning a missing or unreadable file into InputError."""
    if not Path(path).exists():
        msg = f"{argument}={str(path)!r}: file not found; pass the path of a GeoTIFF"
        raise InputError(msg)
    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else "unreadable"
        msg = f"{argument}={str(path)!r} is not a readable raster ({reason}); pass a GeoTIFF"
        raise InputError(msg) from err
    remember_input(path)
    return src


def _gtiff_profile(
    height: int, width: int, transform: Affine, crs: Any, dtype: str = "float32"
) -> dict[str, Any]:
    """A compressed, tiled single-band GeoTIFF profile with nodata -9999."""
    return {
        "driver": "GTiff",
        "dtype": dtype,
        "nodata": NODATA,
        "width": int(width),
        "height": int(height),
        "count": 1,
        "crs": crs,
        "transform": transform,
        "compress": "deflate",
        "predictor": 3,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
    }


def _check_out_path(path: str | os.PathLike, writer: str) -> Path:
    out = Path(path)
    if not out.parent.is_dir():
        msg = f"cannot write {out}: folder {out.parent} does not exist; create it first."
        raise InputError(msg)
    refuse_input(out, writer)
    return out


def _crs_text(crs: Any) -> str:
    epsg = crs.to_epsg() if crs is not None else None
    return f"EPSG:{epsg}" if epsg is not None else str(crs)


def _is_hk80(crs: Any) -> bool:
    if crs is None:
        return False
    return _same_crs(CRS.from_user_input(crs), CRS.from_user_input(HK80))


def _flat_parts(geoms: np.ndarray) -> np.ndarray:
    """Split multi-part geometries and collections into their non-empty single parts."""
    parts = shapely.get_parts(geoms)
    while True:
        nested = np.isin(shapely.get_type_id(parts), _MULTI_OR_COLLECTION)
        if not nested.any():
            break
        parts = np.concatenate([parts[~nested], shapely.get_parts(parts[nested])])
    return parts[~shapely.is_empty(parts)]


def _check_cells(height: int, width: int) -> None:
    if height * width > MAX_CELLS:
        msg = (
            f"the grid would have {height} x {width} = {height * width:,} cells (limit "
            f"{MAX_CELLS:,}); use a coarser resolution or smaller bounds."
        )
        raise InputError(msg)


def _unpack(raster: Raster, argument: str) -> tuple[np.ndarray, Affine, Any, Any]:
    """The array, transform, CRS and nodata value of a Raster, after checking its shape."""
    array = np.asarray(raster.array)
    profile = raster.profile
    if array.ndim != 2:
        msg = f"{argument}.array is {array.ndim}-D; a Raster holds one band (rows, columns)."
        raise InputError(msg)
    if not isinstance(profile, Mapping) or "transform" not in profile:
        msg = f"{argument}.profile has no 'transform'; pass a rasterio profile (src.profile)."
        raise InputError(msg)
    shape = (profile.get("height", array.shape[0]), profile.get("width", array.shape[1]))
    if tuple(shape) != array.shape:
        msg = (
            f"{argument}.array has shape {array.shape}, but its profile says height "
            f"{shape[0]} x width {shape[1]}; make them agree."
        )
        raise InputError(msg)
    transform = profile["transform"]
    if not isinstance(transform, Affine):
        transform = Affine(*tuple(transform)[:6])
    return array, transform, profile.get("crs"), profile.get("nodata")


def _no_value(array: np.ndarray, nodata: Any) -> np.ndarray:
    """Cells holding no value: NaN, or equal to ``nodata``."""
    blank = np.isnan(array) if array.dtype.kind == "f" else np.zeros(array.shape, dtype=bool)
    if nodata is not None:
        blank |= array == nodata
    return blank


# --------------------------------------------------------------------------- distance


def _target_grid(
    geoms: np.ndarray,
    like: str | os.PathLike | None,
    bounds: tuple[float, float, float, float] | None,
    resolution: float,
) -> tuple[Affine, int, int]:
    """The output grid (north-up transform, height, width) in EPSG:2326."""
    if like is not None:
        with _open_raster(like, "like") as src:
            if not _is_hk80(src.crs):
                msg = (
                    f"like={str(like)!r} is in {_crs_text(src.crs)}, not EPSG:2326 (HK1980 "
                    "Grid); reproject it (e.g. gdalwarp -t_srs EPSG:2326) or pass bounds=."
                )
                raise CRSError(msg)
            transform, height, width = src.transform, src.height, src.width
        if transform.b != 0 or transform.d != 0 or transform.a <= 0 or transform.e >= 0:
            msg = f"like={str(like)!r} is not a north-up grid; warp it to a north-up grid first."
            raise InputError(msg)
        return transform, height, width
    if bounds is not None:
        try:
            xmin, ymin, xmax, ymax = (float(v) for v in bounds)
        except (TypeError, ValueError) as err:
            msg = f"bounds must be four numbers (xmin, ymin, xmax, ymax), not {bounds!r}."
            raise InputError(msg) from err
        if not all(map(math.isfinite, (xmin, ymin, xmax, ymax))) or xmin >= xmax or ymin >= ymax:
            msg = f"bounds={bounds!r} is not a box: need xmin < xmax and ymin < ymax in metres."
            raise InputError(msg)
    else:
        tb = shapely.total_bounds(geoms)
        xmin = math.floor((tb[0] - DEFAULT_PAD_M) / resolution) * resolution
        ymin = math.floor((tb[1] - DEFAULT_PAD_M) / resolution) * resolution
        xmax = math.ceil((tb[2] + DEFAULT_PAD_M) / resolution) * resolution
        ymax = math.ceil((tb[3] + DEFAULT_PAD_M) / resolution) * resolution
    width = max(1, math.ceil((xmax - xmin) / resolution - 1e-9))
    height = max(1, math.ceil((ymax - ymin) / resolution - 1e-9))
    return Affine(resolution, 0.0, xmin, 0.0, -resolution, ymax), height, width


def _edt_distance(geoms: np.ndarray, transform: Affine, height: int, width: int) -> np.ndarray:
    """Distance (m) from each cell centre to the nearest cell touched by ``geoms``.

    The working grid is enlarged, on the same cell lattice, to hold every part of the
    targets that can be nearest to some cell of the output grid, then cropped.
    """
    xres, yres = transform.a, -transform.e
    west, north = transform.c, transform.f
    east, south = west + width * xres, north - height * yres
    tb = shapely.total_bounds(geoms)
    left = right = top = bottom = 0
    if tb[0] < west or tb[2] > east or tb[1] < south or tb[3] > north:
        centre = shapely.Point((west + east) / 2, (south + north) / 2)
        # No cell is farther than this from its nearest target; parts beyond it never count.
        reach = (
            float(shapely.distance(centre, geoms).min())
            + math.hypot(east - west, north - south) / 2
            + math.hypot(xres, yres)
        )
        left = math.ceil(max(0.0, west - max(tb[0], west - reach)) / xres)
        right = math.ceil(max(0.0, min(tb[2], east + reach) - east) / xres)
        bottom = math.ceil(max(0.0, south - max(tb[1], south - reach)) / yres)
        top = math.ceil(max(0.0, min(tb[3], north + reach) - north) / yres)
    work_h, work_w = height + top + bottom, width + left + right
    _check_cells(work_h, work_w)
    work_tr = Affine(xres, 0.0, west - left * xres, 0.0, -yres, north + top * yres)
    lines = shapely.get_type_id(geoms) == _LINEARRING
    if lines.any():  # rasterio takes LineStrings, not LinearRings
        geoms = geoms.copy()
        geoms[lines] = [shapely.LineString(shapely.get_coordinates(g)) for g in geoms[lines]]
    burnt = features.rasterize(
        ((g, 1) for g in geoms),
        out_shape=(work_h, work_w),
        transform=work_tr,
        all_touched=True,
        fill=0,
        dtype="uint8",
    ).astype(bool)
    if not burnt.any():  # defensive: cannot happen, the nearest part is inside the grid
        return np.full((height, width), np.inf)
    dist = ndimage.distance_transform_edt(~burnt, sampling=(yres, xres))
    return dist[top : top + height, left : left + width]


def _nearest_point_distance(
    points_xy: np.ndarray, transform: Affine, height: int, width: int
) -> np.ndarray:
    """Exact distance (m) from each cell centre to the nearest of ``points_xy``."""
    tree = cKDTree(points_xy)
    xs = transform.c + (np.arange(width) + 0.5) * transform.a
    ys = transform.f + (np.arange(height) + 0.5) * transform.e
    out = np.empty((height, width))
    rows_per_chunk = max(1, _QUERY_CHUNK // width)
    for r0 in range(0, height, rows_per_chunk):
        r1 = min(height, r0 + rows_per_chunk)
        gx, gy = np.meshgrid(xs, ys[r0:r1])
        dist, _ = tree.query(np.column_stack([gx.ravel(), gy.ravel()]), k=1, workers=-1)
        out[r0:r1] = dist.reshape(r1 - r0, width)
    return out


@pauses_gc
def distance_raster(
    targets: gpd.GeoDataFrame,
    *,
    like: str | os.PathLike | None = None,
    bounds: tuple[float, float, float, float] | None = None,
    resolution: float = 25.0,
) -> Raster:
    """Euclidean distance surface (metres) to the nearest target, on the HK1980 Grid.

    Each cell holds the straight-line distance from its centre to the nearest target
    geometry: read it as "how far is this piece of land from a boundary control point,
    a station, a road or a protected area". It feeds suitability scores and zonal
    statistics (:func:`zonal_stats`) of parcels or land packages; :func:`write_raster`
    saves it as a GeoTIFF.

    Parameters
    ----------
    targets : geopandas.GeoDataFrame
        Points, lines and/or polygons (multi-part geometries allowed) in any CRS; they
        are reprojected to EPSG:2326. Null and empty geometries are ignored.
    like : path, optional
        An existing raster in EPSG:2326 whose grid (shape and transform) the result
        copies, e.g. a DEM, so that both stack cell for cell.
    bounds : tuple of float, optional
        ``(xmin, ymin, xmax, ymax)`` in EPSG:2326 metres, used with ``resolution`` when
        ``like`` is not given. The grid starts at ``(xmin, ymax)``; the last column and
        row are whole cells and may reach past ``xmax`` / below ``ymin``.
    resolution : float
        Cell size in metres for ``bounds`` or the default grid (ignored with ``like``).
        By default the grid covers the targets' bounds padded by 2 km, snapped to
        multiples of ``resolution``.

    Returns
    -------
    Raster
        ``array``: float64 distances in metres, rows north to south, no nodata cells.
        ``profile``: EPSG:2326, the grid's transform, width and height, ``dtype``
        float64, ``nodata`` -9999 and ``tags`` ``units="metre"``;
        :func:`write_raster` writes it as float32 (deflate, tiled).

    Raises
    ------
    InputError
        If there are no target geometries, ``like`` and ``bounds`` are both given, the
        resolution or bounds are not usable, or the grid would be too large.
    CRSError
        If ``like`` is not in EPSG:2326 (MissingCRSError if ``targets`` has no CRS).

    Notes
    -----
    Point targets are exact: every cell centre is queried against a k-d tree of all
    target points (scipy ``cKDTree``), so values equal shapely distances up to float
    rounding (a float32 file rounds to about 1 mm per 16 km). Lines and polygons are
    rasterised with ``all_touched=True`` and measured with scipy's exact Euclidean
    distance transform, which measures to the centres of touched cells: the error is at
    most half a cell diagonal (17.7 m at 25 m cells), and cells whose centre lies inside
    a polygon target are 0 (so are cells its edge merely touches). Targets outside the
    grid still count: the working grid is enlarged to hold every target part that can be
    nearest to a cell. Mixed layers take the smaller of the two distances.

    Examples
    --------
    Distance from every cell of the sample DEM's grid to the nearest boundary control
    point:

    >>> import nmgeo
    >>> dem_path = nmgeo.datasets.sample_dir() / "nm_dem.tif"  # the sample's 25 m DEM
    >>> grid = nmgeo.distance_raster(nmgeo.reference.control_points(), like=dem_path)
    >>> grid.array.shape == (grid.profile["height"], grid.profile["width"])
    True
    >>> bool((grid.array >= 0).all()), grid.profile["tags"]["units"]
    (True, 'metre')

    On a grid of its own, 100 m cells over given bounds (EPSG:2326 metres):

    >>> array, profile = nmgeo.distance_raster(
    ...     nmgeo.reference.control_points(),
    ...     bounds=(820_000, 835_000, 850_000, 845_000),
    ...     resolution=100,
    ... )
    >>> array.shape, profile["transform"].a
    ((100, 300), 100.0)
    """
    if like is not None and bounds is not None:
        msg = "pass either like= (copy a raster's grid) or bounds= (with resolution=), not both."
        raise InputError(msg)
    resolution = check_limit(resolution, "resolution")
    targets = as_hk80(targets, "targets")
    geoms = np.asarray(targets.geometry.array, dtype=object)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if geoms.size == 0:
        msg = "targets has no geometries (empty layer, or all null/empty); pass some targets."
        raise InputError(msg)
    parts = _flat_parts(geoms)
    transform, height, width = _target_grid(parts, like, bounds, resolution)
    _check_cells(height, width)

    is_point = shapely.get_type_id(parts) == _POINT
    dist = np.full((height, width), np.inf)
    if (~is_point).any():
        dist = _edt_distance(parts[~is_point], transform, height, width)
    if is_point.any():
        xy = shapely.get_coordinates(parts[is_point])
        np.minimum(dist, _nearest_point_distance(xy, transform, height, width), out=dist)
    logger.info(
        "distance raster: %d x %d cells of %.6g m to %d target parts (%d points)",
        height,
        width,
        transform.a,
        parts.size,
        int(is_point.sum()),
    )
    crs = RioCRS.from_epsg(2326)
    profile = _gtiff_profile(height, width, transform, crs, dtype="float64")
    profile["tags"] = dict(_DISTANCE_TAGS)
    return Raster(dist, profile)


# --------------------------------------------------------------------------- slope


def _pad_odd(z: np.ndarray) -> np.ndarray:
    """Pad one cell on each side by linear extrapolation (exact for planes).

    Pad values depend only on cells of the edge cell's own 3x3 window, so a nodata
    (NaN) cell never reaches beyond its window. Axes of length 1 are padded by copying.
    """
    for axis in (0, 1):
        width = [(0, 0), (0, 0)]
        width[axis] = (1, 1)
        if z.shape[axis] > 1:
            z = np.pad(z, width, mode="reflect", reflect_type="odd")
        else:
            z = np.pad(z, width, mode="edge")
    return z


def _horn_slope(z: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Slope in degrees by Horn's 3x3 method; NaN where the window holds a NaN."""
    p = _pad_odd(z)
    a, b, c = p[:-2, :-2], p[:-2, 1:-1], p[:-2, 2:]
    d, f = p[1:-1, :-2], p[1:-1, 2:]
    g, h, i = p[2:, :-2], p[2:, 1:-1], p[2:, 2:]
    dzdx = ((c + 2.0 * f + i) - (a + 2.0 * d + g)) / (8.0 * dx)
    dzdy = ((g + 2.0 * h + i) - (a + 2.0 * b + c)) / (8.0 * dy)
    slope = np.degrees(np.arctan(np.hypot(dzdx, dzdy)))
    slope[np.isnan(z)] = np.nan
    return slope


def _check_dem_grid(crs: Any, transform: Affine, label: str) -> None:
    """Refuse a DEM whose cells are not metres on a north-up grid."""
    if crs is None:
        logger.warning("%s has no CRS; taking its cell size as metres", label)
    elif (crs := RioCRS.from_user_input(crs)).is_geographic:
        msg = (
            f"{label} is in geographic {_crs_text(crs)} (cells in degrees); reproject "
            "it to EPSG:2326 (HK1980 Grid, metres) before computing slope."
        )
        raise CRSError(msg)
    if transform.b != 0 or transform.d != 0:
        msg = f"{label} has a rotated grid; warp it to a north-up grid first."
        raise InputError(msg)


def _read_dem(dem: str | os.PathLike | Raster) -> tuple[np.ndarray, Affine, Any]:
    """Elevations (float64, NaN where nodata or non-finite), transform and CRS of a DEM."""
    if isinstance(dem, Raster):
        array, transform, crs, nodata = _unpack(dem, "dem")
        _check_dem_grid(crs, transform, "the dem Raster")
        z = array.astype("float64")
        z[_no_value(array, nodata)] = np.nan
    else:
        with _open_raster(dem, "dem") as src:
            crs, transform = src.crs, src.transform
            _check_dem_grid(crs, transform, str(dem))
            band = src.read(1, masked=True)
        z = np.ma.getdata(band).astype("float64")
        z[np.ma.getmaskarray(band)] = np.nan
    z[~np.isfinite(z)] = np.nan
    return z, transform, crs


def slope_raster(dem: str | os.PathLike | Raster) -> Raster:
    """Slope in degrees from a DEM in metres, on the DEM's grid.

    Slope is the steepest rise of the ground: 0 on flat land, 45 degrees for one metre
    up per metre across. Site formation cost and buildability fall quickly with slope
    (flat platforms below about 5 degrees; steep hillsides above 15-20 degrees usually
    mean slope works or Green Belt), so summarise it per parcel with :func:`zonal_stats`
    (or :func:`assign_terrain`); :func:`write_raster` saves it as a GeoTIFF.

    Parameters
    ----------
    dem : path or Raster
        Single-band elevation raster (band 1 of a GeoTIFF, or a :class:`Raster`),
        elevations in metres, in a projected CRS with metre cells (EPSG:2326 for nmgeo
        data). Cells may be square or not.

    Returns
    -------
    Raster
        ``array``: float32 slope in degrees (0 to 90), -9999 where there is no slope.
        ``profile``: the DEM's CRS, transform and shape, ``dtype`` float32, ``nodata``
        -9999, deflate and tiled GeoTIFF options, ``tags`` ``units="degree"``.

    Raises
    ------
    CRSError
        If the DEM is in a geographic CRS (degrees are not metres: reproject it first).
    InputError
        If the DEM is missing or unreadable, or its grid is rotated.

    Notes
    -----
    Horn's (1981) weighted 3x3 finite differences, as in GDAL ``gdaldem slope`` and
    ArcGIS: ``dz/dx = ((c + 2f + i) - (a + 2d + g)) / (8 dx)`` and likewise for ``y``,
    with ``dx`` and ``dy`` the cell width and height from the transform; slope is
    ``atan(hypot(dz/dx, dz/dy))``. Nodata (and non-finite) cells stay nodata, and every
    cell whose 3x3 window touches one is nodata too, so holes never bias slopes further
    away. Edge cells use a window extended by linear extrapolation of the edge, which
    is exact on planes. The whole DEM is read into memory.

    Examples
    --------
    >>> import nmgeo
    >>> dem_path = nmgeo.datasets.sample_dir() / "nm_dem.tif"  # the sample's 25 m DEM
    >>> slope = nmgeo.slope_raster(dem_path)
    >>> valid = slope.array != slope.profile["nodata"]
    >>> bool(((slope.array[valid] >= 0) & (slope.array[valid] < 90)).all())
    True

    A DEM already in memory gives the same slope:

    >>> import rasterio
    >>> with rasterio.open(dem_path) as src:
    ...     dem = nmgeo.Raster(src.read(1), src.profile)
    >>> bool((nmgeo.slope_raster(dem).array == slope.array).all())
    True
    """
    z, transform, crs = _read_dem(dem)
    slope = _horn_slope(z, abs(transform.a), abs(transform.e))
    height, width = z.shape
    profile = _gtiff_profile(height, width, transform, crs)
    profile["tags"] = dict(_SLOPE_TAGS)
    logger.info("slope raster: %d x %d cells", height, width)
    return Raster(np.where(np.isnan(slope), NODATA, slope).astype("float32"), profile)


# --------------------------------------------------------------------------- writing


def write_raster(raster: Raster, path: str | os.PathLike) -> Path:
    """Write a :class:`Raster` as a single-band float32 GeoTIFF.

    Parameters
    ----------
    raster : Raster
        The grid, e.g. from :func:`distance_raster` or :func:`slope_raster`. Its CRS
        and transform are written as they are; cells equal to its nodata value (and NaN
        cells) become -9999.
    path : path
        The GeoTIFF to write. Its folder must exist. A file of that name is replaced
        whole (written beside it, then moved in), never one nmgeo has read as an input
        in this session.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InputError
        If the folder does not exist or ``raster`` is not a 2-D grid with a profile.
    OutputError
        If ``path`` is a file nmgeo has read in this session (e.g. the DEM).

    Notes
    -----
    The file is float32 (about 7 significant digits: 1 mm per 16 km of distance),
    nodata -9999, deflate-compressed with the floating-point predictor, in 256 x 256
    tiles, with the ``profile["tags"]`` (units, quantity) as GeoTIFF metadata. The
    write is atomic: if it fails, a previous file of that name is left untouched.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import nmgeo, rasterio
    >>> dem_path = nmgeo.datasets.sample_dir() / "nm_dem.tif"  # the sample's 25 m DEM
    >>> grid = nmgeo.distance_raster(nmgeo.reference.control_points(), like=dem_path)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = nmgeo.write_raster(grid, pathlib.Path(folder) / "bcp_distance.tif")
    ...     with rasterio.open(path) as src:
    ...         print(src.dtypes[0], src.nodata, src.tags()["units"], src.crs.to_epsg())
    float32 -9999.0 metre 2326
    """
    array, transform, crs, nodata = _unpack(raster, "raster")
    out = _check_out_path(path, "write_raster")
    height, width = array.shape
    values = np.where(_no_value(array, nodata), NODATA, array).astype("float32")
    tags = raster.profile.get("tags") or {}
    with (
        replacing(out) as tmp,
        rasterio.open(tmp, "w", **_gtiff_profile(height, width, transform, crs)) as dst,
    ):
        dst.write(values, 1)
        if tags:
            dst.update_tags(**tags)
    logger.info("raster: %d x %d cells written to %s", height, width, out)
    return out


# --------------------------------------------------------------------------- zonal stats


def _geojson_shapes(geoms: np.ndarray) -> list[dict[str, Any]]:
    """GeoJSON-like dicts of (multi)polygons, built from one ragged coordinate array.

    Much faster than ``__geo_interface__`` per geometry for 100k+ polygons.
    """
    if geoms.size == 0:
        return []
    kind, coords, offsets = shapely.to_ragged_array(geoms, include_z=False)
    xy = coords.tolist()
    ring_off = offsets[0].tolist()
    rings = [xy[a:b] for a, b in zip(ring_off[:-1], ring_off[1:], strict=True)]
    poly_off = offsets[1].tolist()
    polys = [rings[a:b] for a, b in zip(poly_off[:-1], poly_off[1:], strict=True)]
    if kind == shapely.GeometryType.POLYGON:
        return [{"type": "Polygon", "coordinates": p} for p in polys]
    geom_off = offsets[2].tolist()
    return [
        {"type": "MultiPolygon", "coordinates": polys[a:b]}
        for a, b in zip(geom_off[:-1], geom_off[1:], strict=True)
    ]


def _check_stats(stats: Sequence[str] | str) -> list[str]:
    if isinstance(stats, str):
        stats = [stats]
    wanted = list(dict.fromkeys(stats))
    unknown = [s for s in wanted if s not in ZONAL_STATS]
    if unknown:
        msg = (
            f"unknown statistic(s) {', '.join(map(repr, unknown))}; choose from "
            f"{', '.join(ZONAL_STATS)}."
        )
        raise InputError(msg)
    if not wanted:
        msg = f"stats is empty; choose from {', '.join(ZONAL_STATS)}."
        raise InputError(msg)
    return wanted


def _cell_ranges(
    bounds: np.ndarray, inverse: Affine
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fractional (col_min, row_min, col_max, row_max) of bounding boxes under ``inverse``."""
    xs = bounds[:, [0, 2, 0, 2]]
    ys = bounds[:, [1, 1, 3, 3]]
    cols = inverse.a * xs + inverse.b * ys + inverse.c
    rows = inverse.d * xs + inverse.e * ys + inverse.f
    return cols.min(axis=1), rows.min(axis=1), cols.max(axis=1), rows.max(axis=1)


def _burn_labels(
    shapes: list[dict[str, Any]],
    labels: np.ndarray,
    out_shape: tuple[int, int],
    transform: Affine,
    all_touched: bool,
    *,
    add: bool = False,
) -> np.ndarray:
    """Rasterise ``shapes`` with integer ``labels`` into a flat grid (0 outside them).

    ``add`` sums the labels of overlapping shapes (int64) instead of keeping the last
    one (int32).
    """
    return features.rasterize(
        zip(shapes, labels.tolist(), strict=True),
        out_shape=out_shape,
        transform=transform,
        all_touched=all_touched,
        fill=0,
        dtype="int64" if add else "int32",
        merge_alg=features.MergeAlg.add if add else features.MergeAlg.replace,
    ).ravel()


def _box_sums(
    table: np.ndarray, c0: np.ndarray, r0: np.ndarray, c1: np.ndarray, r1: np.ndarray
) -> np.ndarray:
    """Sums over the inclusive cell boxes ``[r0..r1] x [c0..c1]`` of a summed-area table."""
    return table[r1 + 1, c1 + 1] - table[r0, c1 + 1] - table[r1 + 1, c0] + table[r0, c0]


def _pass_colours(
    cell_bounds: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], multi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Polygons that reach a multiply-burnt cell, and a pass number for each of them.

    Two polygons get different passes when their cell ranges overlap on a cell of
    ``multi`` (a conservative test: it may split polygons that share no cell, never the
    reverse). Returns the polygon positions and their colours (0, 1, 2 ...).
    """
    height, width = multi.shape
    c0, r0, c1, r1 = cell_bounds
    # Inclusive cell ranges each polygon can burn (a hair wider for edge cases).
    c0 = np.clip(np.floor(c0 - 1e-6), 0, width - 1).astype(np.int64)
    r0 = np.clip(np.floor(r0 - 1e-6), 0, height - 1).astype(np.int64)
    c1 = np.clip(np.floor(c1 + 1e-6), 0, width - 1).astype(np.int64)
    r1 = np.clip(np.floor(r1 + 1e-6), 0, height - 1).astype(np.int64)
    table = np.zeros((height + 1, width + 1), dtype=np.int64)  # summed-area table
    table[1:, 1:] = multi.cumsum(axis=0).cumsum(axis=1)
    involved = np.flatnonzero(_box_sums(table, c0, r0, c1, r1) > 0)
    boxes = shapely.box(
        c0[involved] + 0.25, r0[involved] + 0.25, c1[involved] + 0.75, r1[involved] + 0.75
    )
    pi, pj = shapely.STRtree(boxes).query(boxes)
    pi, pj = involved[pi[pi < pj]], involved[pj[pi < pj]]
    shared = (
        _box_sums(
            table,
            np.maximum(c0[pi], c0[pj]),
            np.maximum(r0[pi], r0[pj]),
            np.minimum(c1[pi], c1[pj]),
            np.minimum(r1[pi], r1[pj]),
        )
        > 0
    )
    local = np.full(c0.size, -1, dtype=np.int64)
    local[involved] = np.arange(involved.size)
    return involved, _colour_graph(involved.size, local[pi[shared]], local[pj[shared]])


def _memberships(
    shapes: list[dict[str, Any]],
    cell_bounds: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    out_shape: tuple[int, int],
    transform: Affine,
    all_touched: bool,
) -> tuple[np.ndarray, np.ndarray, int]:
    """All (flat cell index, polygon position) pairs of the rasterised polygons.

    One add-pass burns ``(1 << 32) + position + 1`` for every polygon: where a cell was
    burnt once, its polygon is read straight off. Cells burnt more than once (overlaps;
    with ``all_touched`` also cells shared along common edges) are resolved by further
    passes, each rasterising a set of polygons that cannot share a cell: the conflict
    graph links polygons whose cell ranges overlap on a multiply-burnt cell, and a
    graph colouring gives the passes. Returns cells, positions and the number of passes.
    """
    n = len(shapes)
    grid = _burn_labels(
        shapes,
        (1 << _COUNT_SHIFT) + np.arange(1, n + 1),
        out_shape,
        transform,
        all_touched,
        add=True,
    )
    count = grid >> _COUNT_SHIFT
    once = np.flatnonzero(count == 1)
    cells = [once]
    owners = [(grid[once] & ((1 << _COUNT_SHIFT) - 1)) - 1]
    multi = (count > 1).reshape(out_shape)
    if not multi.any():
        return once, owners[0], 1
    involved, colour = _pass_colours(cell_bounds, multi)
    multi_flat = multi.ravel()
    n_colours = int(colour.max()) + 1
    for k in range(n_colours):
        members = involved[colour == k]
        labels = _burn_labels(
            [shapes[m] for m in members], members + 1, out_shape, transform, all_touched
        )
        hit = np.flatnonzero(multi_flat & (labels > 0))
        cells.append(hit)
        owners.append(labels[hit].astype(np.int64) - 1)
    return np.concatenate(cells), np.concatenate(owners), 1 + n_colours


def _grouped_stats(
    owner: np.ndarray, value: np.ndarray, n: int, stats: list[str]
) -> dict[str, np.ndarray]:
    """Per-group statistics of ``value`` grouped by ``owner`` (0..n-1); NaN for empty groups."""
    count = np.bincount(owner, minlength=n)
    empty = count == 0
    out: dict[str, np.ndarray] = {"count": count.astype(np.int64)}
    safe = np.where(empty, 1, count)
    if {"mean", "sum", "std"} & set(stats):
        total = np.bincount(owner, weights=value, minlength=n)
        mean = total / safe
        out["sum"] = np.where(empty, np.nan, total)
        out["mean"] = np.where(empty, np.nan, mean)
        if "std" in stats:  # population standard deviation (ddof=0), two-pass
            dev = value - mean[owner]
            var = np.bincount(owner, weights=dev * dev, minlength=n) / safe
            out["std"] = np.where(empty, np.nan, np.sqrt(var))
    if {"min", "max", "median", "range"} & set(stats):
        order = np.lexsort((value, owner))
        ordered = value[order]
        start = np.r_[0, np.cumsum(count)[:-1]]
        nonempty = ~empty
        lo = np.full(n, np.nan)
        hi = np.full(n, np.nan)
        lo[nonempty] = ordered[start[nonempty]]
        hi[nonempty] = ordered[start[nonempty] + count[nonempty] - 1]
        out["min"], out["max"], out["range"] = lo, hi, hi - lo
        if "median" in stats:
            med = np.full(n, np.nan)
            s, c = start[nonempty], count[nonempty]
            med[nonempty] = (ordered[s + (c - 1) // 2] + ordered[s + c // 2]) / 2.0
            out["median"] = med
    return out


class _Band(NamedTuple):
    """The grid of one raster band, and a reader of its windows (masked where no value)."""

    crs: Any
    transform: Affine
    width: int
    height: int
    label: str
    read: Callable[[Window], np.ma.MaskedArray]


def _check_band(crs: Any, count: int, band: int, label: str, what: str) -> None:
    """Refuse a raster without a CRS and a band it does not have."""
    if crs is None:
        msg = (
            f"{what} has no CRS, so polygons cannot be placed on it; assign "
            "one (e.g. gdal_edit.py -a_srs EPSG:2326) first."
        )
        raise CRSError(msg)
    if isinstance(band, bool) or not isinstance(band, int) or not 1 <= band <= count:
        msg = f"band={band!r} is not a band of {label} (it has bands 1 to {count})."
        raise InputError(msg)


@contextmanager
def _opened_band(raster: str | os.PathLike | Raster, band: int) -> Iterator[_Band]:
    """The band ``band`` of a GeoTIFF (kept open while in use) or of a Raster (band 1)."""
    if isinstance(raster, Raster):
        array, transform, crs, nodata = _unpack(raster, "raster")
        label = "the Raster in memory"
        _check_band(crs, 1, band, label, label)

        def read_memory(window: Window) -> np.ma.MaskedArray:
            part = array[window.toslices()]
            return np.ma.MaskedArray(part, mask=_no_value(part, nodata))

        yield _Band(crs, transform, array.shape[1], array.shape[0], label, read_memory)
        return
    with _open_raster(raster, "raster") as src:
        _check_band(src.crs, src.count, band, str(raster), f"raster {raster}")

        def read_file(window: Window) -> np.ma.MaskedArray:
            return src.read(band, window=window, masked=True)

        yield _Band(src.crs, src.transform, src.width, src.height, str(raster), read_file)


def _in_crs(parcels: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    """``parcels`` in ``crs`` (reprojected only when it differs)."""
    target = CRS.from_user_input(crs)
    if _same_crs(parcels.crs, target):
        return parcels
    logger.info(
        "zonal_stats: reprojecting %d polygons from %s to the raster's %s",
        len(parcels),
        _crs_text(parcels.crs),
        _crs_text(target),
    )
    return parcels.to_crs(target)


def _polygon_rows(geoms: np.ndarray) -> np.ndarray:
    """Positions of the non-empty geometries, after checking they are all polygonal."""
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    wrong = present & ~np.isin(shapely.get_type_id(geoms), (_POLYGON, _MULTIPOLYGON))
    if wrong.any():
        msg = (
            f"zonal_stats needs polygons, but {int(wrong.sum())} of {geoms.size} rows are not "
            f"(first at row {int(np.flatnonzero(wrong)[0])}); pass a polygon layer."
        )
        raise GeometryTypeError(msg)
    return np.flatnonzero(present)


def _covering_window(
    ranges: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], width: int, height: int
) -> Window | None:
    """The window of the grid covering the cell ranges (one cell of margin), if any."""
    c0, r0, c1, r1 = ranges
    if c0.size == 0:
        return None
    col_off = max(0, math.floor(c0.min()) - 1)
    row_off = max(0, math.floor(r0.min()) - 1)
    col_end = min(width, math.ceil(c1.max()) + 1)
    row_end = min(height, math.ceil(r1.max()) + 1)
    if col_end <= col_off or row_end <= row_off:
        return None
    return Window(col_off, row_off, col_end - col_off, row_end - row_off)


def _small_polygon_cells(
    polygons: np.ndarray,
    owner: np.ndarray,
    inverse: Affine,
    window: Window,
) -> tuple[np.ndarray, np.ndarray]:
    """Cells under the representative point of polygons that got no cell, and their owners.

    Owners are positions in ``polygons``; polygons whose point is outside the window get
    nothing.
    """
    covered = np.bincount(owner, minlength=polygons.size) > 0
    lonely = np.flatnonzero(~covered)
    if not lonely.size:
        return np.empty(0, np.int64), lonely
    rep = shapely.point_on_surface(polygons[lonely])
    x, y = shapely.get_x(rep), shapely.get_y(rep)
    col = np.floor(inverse.a * x + inverse.b * y + inverse.c).astype(np.int64)
    row = np.floor(inverse.d * x + inverse.e * y + inverse.f).astype(np.int64)
    col, row = col - int(window.col_off), row - int(window.row_off)
    height, width = int(window.height), int(window.width)
    inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
    return row[inside] * width + col[inside], lonely[inside]


def _window_stats(
    polygons: np.ndarray,
    ranges: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    data: np.ma.MaskedArray,
    window: Window,
    transform: Affine,
    all_touched: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Valid (owner, value) pairs of the polygons on a window, small polygons and passes.

    Owners and small polygons are positions in ``polygons``; ``ranges`` are the
    polygons' fractional cell ranges on the whole grid of ``transform``.
    """
    values = np.ma.getdata(data).astype("float64").ravel()
    valid = ~np.ma.getmaskarray(data).ravel() & np.isfinite(values)
    col_off, row_off = int(window.col_off), int(window.row_off)
    c0, r0, c1, r1 = ranges
    cells, owner, passes = _memberships(
        _geojson_shapes(polygons),
        (c0 - col_off, r0 - row_off, c1 - col_off, r1 - row_off),
        (int(window.height), int(window.width)),
        transform @ Affine.translation(col_off, row_off),
        all_touched,
    )
    # Small polygons: no cell centre inside; use the cell under a representative point.
    extra_cells, small = _small_polygon_cells(polygons, owner, ~transform, window)
    cells = np.concatenate([cells, extra_cells])
    owner = np.concatenate([owner, small])
    keep = valid[cells]
    return owner[keep], values[cells[keep]], small, passes


def _log_zonal(count: np.ndarray, label: str, passes: int, n_small: int) -> None:
    n = count.size
    if n and not (count > 0).any():
        logger.warning(
            "zonal_stats: none of the %d polygons covers a valid cell of %s (outside the "
            "raster or all nodata); every statistic is NaN",
            n,
            label,
        )
    logger.info(
        "zonal_stats: %d polygons on %s in %d rasterisation pass(es), %d small",
        n,
        label,
        passes,
        n_small,
    )


@pauses_gc
def zonal_stats(
    parcels: gpd.GeoDataFrame,
    raster: str | os.PathLike | Raster,
    *,
    stats: Sequence[str] = ("mean", "min", "max", "count"),
    all_touched: bool = False,
    band: int = 1,
    prefix: str | None = None,
) -> pd.DataFrame:
    """Statistics of raster cells per polygon, e.g. mean elevation or slope of each lot.

    Use it to attach terrain (elevation, slope), distance surfaces
    (:func:`distance_raster`) or any other grid to parcels and land packages: the mean
    slope of a lot says how much site formation it needs, the maximum distance to a
    station how much of it lies outside a walking catchment.

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
        Polygons or multipolygons (lots, packages, zones) in any CRS; they are
        reprojected to the raster's CRS (the raster is never resampled). Null or empty
        geometries get NaN and count 0.
    raster : path or Raster
        A GeoTIFF (or any raster GDAL reads) with a CRS, or a :class:`Raster` in memory
        such as the result of :func:`slope_raster`. Cells equal to its nodata value,
        masked or non-finite are ignored.
    stats : sequence of str
        Any of ``"mean"``, ``"min"``, ``"max"``, ``"count"``, ``"sum"``, ``"std"``
        (population, ddof=0), ``"median"`` (mean of the two middle values for an even
        count) and ``"range"`` (max - min); in the raster's units (metres for a DEM or a
        distance raster, degrees for slope), ``count`` in cells.
    all_touched : bool
        False: a cell counts when its centre is inside the polygon. True: every cell the
        polygon touches counts (more cells on the edge; useful for narrow polygons).
    band : int
        Band to read (1-based); a Raster has band 1 only.
    prefix : str, optional
        Prefix of the output column names, e.g. ``"elev_"``.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``parcels`` (same order): one column ``f"{prefix}{stat}"`` per
        statistic (float64; int64 for ``count``) and ``f"{prefix}small_polygon"``
        (bool). Polygons outside the raster or only on nodata get NaN and count 0.

    Raises
    ------
    InputError
        Unknown statistic (the message lists the valid ones) or missing band.
    GeometryTypeError
        Non-polygonal geometries.
    CRSError
        The raster has no CRS; MissingCRSError if ``parcels`` has none.

    Notes
    -----
    Polygon numbers are burnt into a label grid over the window of the raster that
    covers the polygons (only that window is read), and the statistics are grouped
    counts, sums and sorts over the labelled cells: no per-polygon loop. A label grid
    holds one polygon per cell, so overlapping polygons (and, with ``all_touched``,
    neighbours sharing edge cells) are rasterised in several passes of polygons that
    share no cell, found by colouring their conflict graph; each polygon therefore gets
    the same cells as if it were processed alone, and a layer without overlaps needs
    one pass. Polygons smaller than a cell, with no cell centre inside (and no cell
    touched), fall back to the cell under their representative point
    (``shapely.point_on_surface``): count 1 (0 if that cell is nodata) and
    ``small_polygon`` True. Rasterisation follows GDAL's rules, as ``rasterstats`` does.

    Examples
    --------
    Elevation (metres) of the four major zones on the sample DEM, then their nearest
    and farthest distance (km) to a boundary control point from a distance surface in
    memory:

    >>> import nmgeo
    >>> dem_path = nmgeo.datasets.sample_dir() / "nm_dem.tif"  # the sample's 25 m DEM
    >>> zones = nmgeo.reference.major_zones()
    >>> elev = nmgeo.zonal_stats(zones, dem_path, stats=("mean", "max"), prefix="elev_")
    >>> list(elev.columns)
    ['elev_mean', 'elev_max', 'elev_small_polygon']
    >>> elev["elev_mean"].round(1).tolist()
    [50.6, 33.7, 85.4, 101.8]
    >>> grid = nmgeo.distance_raster(nmgeo.reference.control_points(), like=dem_path)
    >>> bcp = nmgeo.zonal_stats(zones, grid, stats=("min", "max"))
    >>> (bcp[["min", "max"]] / 1000).round(1).values.tolist()
    [[4.7, 11.6], [0.0, 5.7], [0.0, 9.0], [0.0, 13.1]]
    """
    wanted = _check_stats(stats)
    prefix = "" if prefix is None else str(prefix)
    if parcels.crs is None:
        msg = (
            "parcels has no CRS; call set_crs('EPSG:2326') (HK1980 Grid) or its real CRS "
            "first (nmgeo never guesses it)."
        )
        raise MissingCRSError(msg)
    n = len(parcels)
    with _opened_band(raster, band) as grid:
        geoms = np.asarray(_in_crs(parcels, grid.crs).geometry.array, dtype=object)
        pos = _polygon_rows(geoms)
        ranges = _cell_ranges(shapely.bounds(geoms[pos]), ~grid.transform)
        window = _covering_window(ranges, grid.width, grid.height)
        data = None if window is None else grid.read(window)
    small = np.zeros(n, dtype=bool)
    owner, values, passes = np.empty(0, np.int64), np.empty(0), 0
    if window is not None:
        owner, values, lonely, passes = _window_stats(
            geoms[pos], ranges, data, window, grid.transform, all_touched
        )
        owner = pos[owner]
        small[pos[lonely]] = True
    stats_out = _grouped_stats(owner, values, n, wanted)
    _log_zonal(stats_out["count"], grid.label, passes, int(small.sum()))
    columns = {f"{prefix}{s}": stats_out[s] for s in wanted}
    columns[f"{prefix}small_polygon"] = small
    return pd.DataFrame(columns, index=parcels.index)


# --------------------------------------------------------------------------- terrain


@pauses_gc
def assign_terrain(parcels: gpd.GeoDataFrame, dem: str | os.PathLike | Raster) -> gpd.GeoDataFrame:
    """Add the mean elevation and mean slope of each parcel from a DEM.

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
        Polygons (lots, packages, zones) in any CRS; see :func:`zonal_stats`.
    dem : path or Raster
        Elevation raster in metres on a projected grid with metre cells, e.g.
        ``nmgeo.load_sample().dem_path``; see :func:`slope_raster`. A path is read
        twice (a window for elevation, the whole DEM for slope); a Raster is used as is.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``parcels`` (same index, CRS and columns) with ``mean_elevation_m``
        (metres) and ``mean_slope_deg`` (degrees, Horn's method): the means over the
        cells whose centre is inside the parcel, or the cell under a parcel smaller
        than a cell; NaN for a parcel outside the DEM or only on nodata.

    Raises
    ------
    InputError, CRSError, GeometryTypeError
        As :func:`zonal_stats` (parcels, no CRS) and :func:`slope_raster` (DEM grid).

    Notes
    -----
    Slope is computed in memory by :func:`slope_raster` over the whole DEM (no
    temporary file); its float32 values are those of the slope GeoTIFF
    :func:`write_raster` would write, so the means equal zonal statistics of that file.

    Examples
    --------
    >>> import nmgeo
    >>> dem_path = nmgeo.datasets.sample_dir() / "nm_dem.tif"  # the sample's 25 m DEM
    >>> zones = nmgeo.assign_terrain(nmgeo.reference.major_zones(), dem_path)
    >>> list(zones.columns[-2:])
    ['mean_elevation_m', 'mean_slope_deg']
    >>> for row in zones[["short_name", "mean_elevation_m", "mean_slope_deg"]].itertuples():
    ...     print(f"{row.short_name}: {row.mean_elevation_m:.1f} m, {row.mean_slope_deg:.1f} deg")
    professional_logistics: 50.6 m, 2.9 deg
    innovation_technology: 33.7 m, 2.6 deg
    boundary_commerce: 85.4 m, 4.0 deg
    blue_green: 101.8 m, 4.9 deg
    """
    elevation = zonal_stats(parcels, dem, stats=("mean",))["mean"]
    slope = zonal_stats(parcels, slope_raster(dem), stats=("mean",))["mean"]
    out = parcels.copy()
    out["mean_elevation_m"] = elevation.to_numpy()
    out["mean_slope_deg"] = slope.to_numpy()
    return out
