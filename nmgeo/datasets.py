"""Sample data: the bundled synthetic Northern Metropolis and its generator."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio

from nmgeo import __version__, reference, settings
from nmgeo._outputs import replacing, write_atomic
from nmgeo._synth import Metropolis, generate
from nmgeo.errors import InputError, SampleDataError
from nmgeo.io import read_parcels, read_zones
from nmgeo.major_zone import assign_major_zone
from nmgeo.zoning import assign_land_use, assign_zoning

__all__ = [
    "SAMPLE_N_LOTS",
    "SAMPLE_SEED",
    "Sample",
    "SyntheticMetropolis",
    "load_sample",
    "sample_dir",
    "synthetic_metropolis",
]

logger = logging.getLogger("nmgeo.datasets")

SAMPLE_SEED = 2026
SAMPLE_N_LOTS = 45_000
GPKG_NAME = "nm_sample.gpkg"
DEM_NAME = "nm_dem.tif"
META_NAME = "sample.json"
# The synthetic development limits of the sample's zones (package data, not in the folder).
SAMPLE_LIMITS = Path(__file__).resolve().parent / "data" / "sample_limits.csv"
LAYERS = {"zones": "ozp_zones", "lots": "lots", "roads": "roads", "boundary": "nm_boundary"}
SAMPLE_DIR_ENV = settings.SAMPLE_DIR_ENV
MIN_LOTS = 10_000


@dataclass
class SyntheticMetropolis:
    """A generated Northern Metropolis, in the schemas real downloads arrive in.

    Everything is synthetic except the outline (the real NM outline) and the named places and
    hills that steer it (approximate public positions, see ``nmgeo/data``). All layers are
    in EPSG:2326 (HK1980 Grid, metres).

    Attributes
    ----------
    zones : geopandas.GeoDataFrame
        OZP-like zoning in the Town Planning Board's schema (``PLAN_NO``,
        ``ZONE_LABEL``, ``DESC_ENG``, ``DESC_CHT``, ``SPUSE_ENG``, ``SPUSE_CHT``,
        ``SHAPE_Area``, ``SHAPE_Leng``). Zones abut within a block; the local road
        reserves between blocks are not zoned; trunk road corridors are zoned ``Road``.
    lots : geopandas.GeoDataFrame
        Leased lots only, as in the Lands Department's layer, in its schema
        (``OBJECTID``, ``LOTCSUID``, ``LOTID`` as "Lot N in D.D. M", ``SHAPE_Area``,
        ``SHAPE_Length``) plus ``DD_NO`` (demarcation district) and ``LOT_NO``. There
        is no tenure column: unleased Government land has no lot, it is the zoned land
        between lots (most of the G/IC and much of the commercial land of the
        development areas, part of every village, most hill and wetland land). Lots
        can straddle zone lines; blocks are separated by road reserves 8-40 m wide.
    roads : geopandas.GeoDataFrame
        Road centrelines (LineStrings) with ``road_class`` (local, district,
        trunk) and ``width_m`` (reserve width, m).
    dem : numpy.ndarray
        Elevation in metres above datum, float32, 25 m cells, row 0 north.
    dem_transform : affine.Affine
        Grid-to-HK1980 transform of ``dem``.
    boundary : geopandas.GeoDataFrame
        The outline the sample fills: :func:`nmgeo.reference.nm_boundary` (the real Yuen
        Long and North district land and the Lok Ma Chau Loop).
    seed, n_lots : int
        The generator's arguments.

    Examples
    --------
    >>> import dataclasses
    >>> from nmgeo.datasets import SyntheticMetropolis
    >>> [f.name for f in dataclasses.fields(SyntheticMetropolis)][:3]
    ['zones', 'lots', 'roads']

    See :func:`synthetic_metropolis` for one generated and written.
    """

    zones: gpd.GeoDataFrame
    lots: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    dem: np.ndarray
    dem_transform: object
    boundary: gpd.GeoDataFrame
    seed: int
    n_lots: int

    def write(self, directory: str | os.PathLike) -> dict[str, Path]:
        """Write the sample as one GeoPackage (zones, lots, roads, outline) and a DEM GeoTIFF.

        Returns
        -------
        dict of str to pathlib.Path
            ``{"gpkg": ..., "dem": ..., "meta": ...}``.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        gpkg = out / GPKG_NAME
        with replacing(gpkg, create=False) as tmp:
            for attr, layer in LAYERS.items():
                getattr(self, attr).to_file(tmp, layer=layer, driver="GPKG", engine="pyogrio")
        dem_path = out / DEM_NAME
        write_dem(self.dem, self.dem_transform, dem_path)
        meta = out / META_NAME
        write_atomic(
            meta,
            json.dumps(
                {
                    "generator": "nmgeo.datasets.synthetic_metropolis",
                    "nmgeo_version": __version__,
                    "seed": self.seed,
                    "n_lots_requested": self.n_lots,
                    "counts": {
                        "zones": len(self.zones),
                        "lots": len(self.lots),
                        "roads": len(self.roads),
                    },
                    "crs": "EPSG:2326",
                    "synthetic": True,
                },
                indent=2,
            )
            + "\n",
        )
        return {"gpkg": gpkg, "dem": dem_path, "meta": meta}


def write_dem(elevation: np.ndarray, transform: object, path: str | os.PathLike) -> Path:
    """Write an elevation grid (metres) as a compressed, tiled GeoTIFF in EPSG:2326."""
    path = Path(path)
    profile = {
        "driver": "GTiff",
        "height": elevation.shape[0],
        "width": elevation.shape[1],
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:2326",
        "transform": transform,
        "nodata": -9999.0,
        "compress": "deflate",
        "predictor": 3,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
    }
    # Centimetre precision keeps the file small and the relief intact.
    data = np.round(elevation.astype("float32"), 2)
    with replacing(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data, 1)
        dst.update_tags(units="metre", source="synthetic DEM generated by nmgeo")
    return path


def synthetic_metropolis(
    n_lots: int = SAMPLE_N_LOTS, *, seed: int = SAMPLE_SEED, progress: bool = False
) -> SyntheticMetropolis:
    """Generate a realistic but synthetic Northern Metropolis.

    The outline is the real NM outline (:func:`nmgeo.reference.nm_boundary`, about 27,600
    ha: Yuen Long and North district land and the Lok Ma Chau Loop), so every synthetic lot
    lies in the real districts and has a major zone. Zone cells are Voronoi cells of a
    jittered quadtree (about 150 m across in the development cores, 300 m on their fringes
    and on the plains, 600 m on hills), each zoned after the place that dominates it (San
    Tin / Lok Ma Chau Loop I&T, Hung Shui Kiu, Kwu Tung North, villages, Deep Bay wetlands,
    hills ...) with spatially correlated randomness so zones cluster. A road runs along most
    edges between cells in town, but in the countryside neighbouring cells mostly abut and
    form one street block (villages keep their lanes); blocks are set back 4-9 m from their
    roads, so road reserves of 8-40 m separate them, and cut by the main highways'
    corridors. Some blocks of one cell are split between two zones.

    Blocks are cut on a jittered grid aligned with the block, and only the leased
    cells become lots: each zone kind has a share of unleased Government land (from
    the real North district lots and zoning, see ``nmgeo/data/synthetic_zoning.csv``),
    drawn with spatial correlation so that G/IC sites are mostly wholly Government
    land while villages and farmland mix private lots and Government land. Lot sizes
    follow the real median lot of each land use, scaled so that ``n_lots`` leased lots
    come out.

    Parameters
    ----------
    n_lots : int
        Number of (leased) lots wanted; the result is within 3 %.
    seed : int
        Random seed; the same seed and ``n_lots`` give identical layers.
    progress : bool
        Show progress bars for the slow steps.

    Returns
    -------
    SyntheticMetropolis
        The layers (``lots``, ``zones``, ``roads``, ``boundary``, the DEM), with
        ``write(folder)`` to save them as the sample's files.

    Examples
    --------
    >>> import nmgeo
    >>> metro = nmgeo.synthetic_metropolis(10_000, seed=7)
    >>> abs(len(metro.lots) - 10_000) <= 300
    True
    >>> {"PLAN_NO", "ZONE_LABEL", "SPUSE_ENG"} <= set(metro.zones.columns)
    True
    """
    if int(n_lots) < MIN_LOTS:
        msg = (
            f"n_lots={n_lots} is too small: the Northern Metropolis has about 4,500 zones "
            f"in 2,000 street blocks, so ask for at least {MIN_LOTS:,} lots"
        )
        raise InputError(msg)
    start = time.perf_counter()
    metro: Metropolis = generate(
        reference.nm_boundary(), n_lots=int(n_lots), seed=int(seed), progress=progress
    )
    logger.info(
        "generated %d zones, %d lots, %d road segments in %.1f s",
        len(metro.zones),
        len(metro.lots),
        len(metro.roads),
        time.perf_counter() - start,
    )
    return SyntheticMetropolis(
        zones=metro.zones,
        lots=metro.lots,
        roads=metro.roads,
        dem=metro.terrain.elevation,
        dem_transform=metro.terrain.transform,
        boundary=metro.boundary,
        seed=int(seed),
        n_lots=int(n_lots),
    )


@dataclass
class Sample:
    """The bundled sample, loaded and ready for analysis (all EPSG:2326).

    Examples
    --------
    >>> import nmgeo
    >>> sample = nmgeo.load_sample()
    >>> sample.dem_path.name, len(sample.zones) > 4_000
    ('nm_dem.tif', True)

    Attributes
    ----------
    parcels : geopandas.GeoDataFrame
        Lots read with :func:`nmgeo.read_parcels` and zoned with
        :func:`nmgeo.assign_zoning` (``parcel_id``, ``area_m2``, ``zone_label``,
        ``land_use``, ``zoning_share``, ``n_zones``) plus ``major_zone`` (from
        :func:`nmgeo.reference.major_zones`; missing for the few synthetic lots wholly
        outside the real districts).
    zones : geopandas.GeoDataFrame
        OZP zones read with :func:`nmgeo.read_zones`, classified with
        :func:`nmgeo.assign_land_use` (``land_use``), with ``major_zone``.
    roads : geopandas.GeoDataFrame
        Road centrelines.
    boundary : geopandas.GeoDataFrame
        The synthetic outline the sample fills.
    dem_path : pathlib.Path
        The DEM GeoTIFF (metres, 25 m cells).
    limits_path : pathlib.Path
        A development limits table for the sample's zones (CSV, see
        :func:`nmgeo.read_limits`): synthetic, invented for the sample, not from any
        OZP's Notes.
    directory : pathlib.Path
        Where the files were read from.
    """

    parcels: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    boundary: gpd.GeoDataFrame
    dem_path: Path
    directory: Path
    meta: dict = field(default_factory=dict)
    limits_path: Path = field(default_factory=lambda: SAMPLE_LIMITS)

    def __repr__(self) -> str:
        return (
            f"Sample({len(self.parcels)} parcels, {len(self.zones)} zones, "
            f"{len(self.roads)} roads, dem={self.dem_path.name}, from {self.directory})"
        )


def _repo_sample_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "sample_data"


def _cache_dir() -> Path:
    return settings.current_cache_dir() / f"sample-{SAMPLE_SEED}-{SAMPLE_N_LOTS}"


def _is_sample(directory: Path) -> bool:
    return (directory / GPKG_NAME).is_file() and (directory / DEM_NAME).is_file()


def sample_dir(*, create: bool = True) -> Path:
    """Folder holding the sample files.

    Looked up in order: :data:`nmgeo.settings.sample_dir` (default: the
    ``NMGEO_SAMPLE_DIR`` environment variable), the
    ``sample_data/`` folder of a source checkout, then a per-user cache where
    the sample is generated on first use (same seed, so identical files).

    Parameters
    ----------
    create : bool
        Generate the sample into the cache when it is nowhere (takes about a minute);
        with False that is a :class:`~nmgeo.errors.SampleDataError`.

    Returns
    -------
    pathlib.Path
        The folder holding ``nm_sample.gpkg`` and ``nm_dem.tif``.

    Examples
    --------
    >>> from nmgeo.datasets import sample_dir
    >>> (sample_dir() / "nm_sample.gpkg").is_file()
    True
    """
    chosen = settings.current_sample_dir()
    if chosen is not None:
        directory = chosen
        if not _is_sample(directory):
            # The message names what pointed here: the setting or the environment variable.
            which = "nmgeo.settings.sample_dir" if settings.sample_dir else SAMPLE_DIR_ENV
            msg = (
                f"{which}={chosen} holds no {GPKG_NAME} and {DEM_NAME}; "
                "unset it or point it at the sample folder"
            )
            raise SampleDataError(msg)
        return directory
    for directory in (_repo_sample_dir(), _cache_dir()):
        if _is_sample(directory):
            return directory
    directory = _cache_dir()
    if not create:
        msg = (
            f"no sample found; run nmgeo.datasets.synthetic_metropolis().write({str(directory)!r})"
        )
        raise SampleDataError(msg)
    logger.info("sample data not found; generating it once into %s", directory)
    synthetic_metropolis(SAMPLE_N_LOTS, seed=SAMPLE_SEED).write(directory)
    return directory


def load_sample(directory: str | os.PathLike | None = None) -> Sample:
    """Load the bundled synthetic Northern Metropolis, parcels already zoned.

    The sample is synthetic (see ``sample_data/README.md``): about 45,000 leased lots
    in the Lands Department's schema and 4,500 OZP-like zones in the Town Planning
    Board's schema, road centrelines and a 25 m DEM, generated with
    ``synthetic_metropolis(45_000, seed=2026)``.

    Parameters
    ----------
    directory : path, optional
        Folder with ``nm_sample.gpkg`` and ``nm_dem.tif``; default: :func:`sample_dir`.

    Returns
    -------
    Sample
        ``parcels``, ``zones``, ``roads``, ``boundary`` and ``dem_path`` (see
        :class:`Sample`).

    Examples
    --------
    >>> import nmgeo
    >>> s = nmgeo.load_sample()
    >>> s.parcels.crs.to_epsg(), {"parcel_id", "land_use", "major_zone"} <= set(s.parcels)
    (2326, True)
    """
    start = time.perf_counter()
    folder = Path(directory) if directory is not None else sample_dir()
    if not _is_sample(folder):
        msg = (
            f"{folder} holds no {GPKG_NAME} and {DEM_NAME}; "
            "call load_sample() without a folder to use the bundled sample"
        )
        raise SampleDataError(msg)
    gpkg = folder / GPKG_NAME
    zones = assign_land_use(read_zones(gpkg, layer=LAYERS["zones"]))
    parcels = read_parcels(gpkg, layer=LAYERS["lots"])
    roads = gpd.read_file(gpkg, layer=LAYERS["roads"], engine="pyogrio")
    boundary = gpd.read_file(gpkg, layer=LAYERS["boundary"], engine="pyogrio")
    major = reference.major_zones()
    parcels = assign_major_zone(assign_zoning(parcels, zones), major_zones=major)
    zones = assign_major_zone(zones, major_zones=major)
    meta_path = folder / META_NAME
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    logger.info("loaded the sample from %s in %.1f s", folder, time.perf_counter() - start)
    return Sample(
        parcels=parcels,
        zones=zones,
        roads=roads,
        boundary=boundary,
        dem_path=folder / DEM_NAME,
        directory=folder,
        meta=meta,
    )
