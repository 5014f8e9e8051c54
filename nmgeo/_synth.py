"""Generator of a synthetic Northern Metropolis: zones, leased lots, roads and a DEM."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from importlib import resources

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from pyproj import Transformer
from scipy import ndimage
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree
from scipy.special import ndtri

from nmgeo._geomops import subtract_each

logger = logging.getLogger("nmgeo.datasets")

HK80 = "EPSG:2326"
PROFILES = (
    "core_it",
    "core_business",
    "new_town",
    "logistics",
    "industrial_estate",
    "village",
    "rural",
    "wetland",
    "hill",
    "coast",
)
URBAN_PROFILES = ("core_it", "core_business", "new_town", "industrial_estate")

# Spacing (m) of the jittered quadtree whose Voronoi cells are the zone cells: COARSE_CELL
# is the first level; hills get HILL_CELL, the plains PLAIN_CELL, towns 300 and 150 m.
COARSE_CELL = 1200.0
HILL_CELL = 600.0
PLAIN_CELL = 300.0
# Half road width taken from each side of a block (m); gaps are the sum of two sides.
OFFSET_URBAN = (4.0, 7.0)
OFFSET_RURAL = (4.0, 9.0)
TRUNK_HALF_WIDTH = (10.0, 11.0)
DISTRICT_HALF_WIDTH = (8.0, 10.0)
DISTRICT_SPACING = 600.0
HILL_ELEVATION = 70.0
DEM_CELL = 25.0
N_DEMARCATION_DISTRICTS = 98
FIRST_DD = 38
# Share of the edges between two countryside (urban) cells with no road: the cells abut, as
# zones do on real plans, and their lots are cut across the zone line. Villages keep their lanes.
ABUT_SHARE = 0.9
ABUT_SHARE_URBAN = 0.5
# Most cells, and most area (m²), joined into one block: keeps blocks compact and every lot
# within a few hundred metres of a road.
MAX_BLOCK_CELLS = 8
MAX_BLOCK_AREA = 800_000.0
# Share of the larger lowland blocks split between two zones, and the largest angle (degrees)
# between the split line and the block's lot grid: zone lines cut across old lots.
SPLIT_SHARE = 0.30
SPLIT_MAX_ANGLE = 50.0
# Spread (log-normal sigma) of lot strip widths within a block and of lot size between blocks.
STRIP_SIGMA = 0.7
BLOCK_LOT_SIZE_SIGMA = 1.0
# Tenure: a cell of the lot grid is leased when a latent Gaussian value falls below the
# quantile of its zone's leased share. The value adds, in equal parts, an area-wide field
# (correlation about TENURE_AREA_SCALE m) and a draw per zone cell, which together carry the
# kind's tenure_clustering share of the variance (whole zones leased or not), and, in equal
# parts, a field within zones (TENURE_LOT_SCALE m) and a draw per lot (scattered lots).
TENURE_AREA_SCALE = 1500.0
TENURE_LOT_SCALE = 150.0
# Lots per leased grid cell whose centre lies in its block: cells cut by a block's oblique
# edge sometimes make two lots, or one though their centre lies outside. Only a first guess:
# the count is then measured on lots cut. The grid aims COUNT_MARGIN above the request and
# the surplus (at most COUNT_SURPLUS) is left unleased, so the count is exact.
EDGE_PIECE_FACTOR = 1.1
COUNT_MARGIN = 0.02
COUNT_SURPLUS = 0.05
# Lots stay inside their block, LOT_SETBACK metres clear of its edge, as almost all real lots
# stay inside the zones, except in a few blocks pushed out into the road reserve by a median
# ROAD_ENCROACHMENT_DEPTH of their lots' side, log-normally spread, at most
# ROAD_ENCROACHMENT_MAX metres. The blocks are drawn until their edge cells make
# ROAD_ENCROACHMENT_SHARE of the leased cells: about 0.5 % of the lots then have land outside
# every zone, a median 2 % of the lot (real North lots: 0.53 %, 1.8 %).
LOT_SETBACK = 0.01
ROAD_ENCROACHMENT_SHARE = 0.0036
ROAD_ENCROACHMENT_DEPTH = 0.0115
ROAD_ENCROACHMENT_SIGMA = 0.75
ROAD_ENCROACHMENT_MAX = 3.0


@cache
def _table(name: str) -> pd.DataFrame:
    with resources.files("nmgeo.data").joinpath(name).open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)


def _to_hk80(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    transformer = Transformer.from_crs("EPSG:4326", HK80, always_xy=True)
    x, y = transformer.transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x), np.asarray(y)


def places() -> pd.DataFrame:
    """Named places that steer the synthetic zoning, with HK1980 Grid ``x``/``y`` (m)."""
    df = _table("synthetic_places.csv").copy()
    df["x"], df["y"] = _to_hk80(df["lon"], df["lat"])
    return df


def hills() -> pd.DataFrame:
    """Named hills that shape the synthetic DEM, with HK1980 Grid ``x``/``y`` (m)."""
    df = _table("hills.csv").copy()
    df["x"], df["y"] = _to_hk80(df["lon"], df["lat"])
    return df


def zoning_table() -> pd.DataFrame:
    """Zone kinds of the generator: TPB label, descriptions, lot size, tenure, profile weights.

    ``lot_size_m2`` is the median leased lot of the kind's land-use class in real data
    (the generator scales all sizes by one factor to deliver the requested count),
    ``gov_share`` the expected share of the kind's land that is unleased Government land
    (no lot), both after the real North district figures named in ``basis``;
    ``tenure_clustering`` the share of the tenure variance between zones (1: whole zones
    leased or not; 0: lots scattered within every zone); ``local_roads`` is 0 for kinds
    whose neighbours need no road between them.
    """
    return _table("synthetic_zoning.csv").fillna({"spuse_eng": "", "spuse_cht": ""})


def _grid_position(
    transform: Affine, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fractional column and row of map coordinates on a north-up grid."""
    col = (np.asarray(x, float) - transform.c) / transform.a
    row = (np.asarray(y, float) - transform.f) / transform.e
    return col, row


@dataclass
class Terrain:
    """A DEM on a regular grid in EPSG:2326 (row 0 is the northern edge)."""

    elevation: np.ndarray
    transform: Affine

    def sample(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        col, row = _grid_position(self.transform, x, y)
        return ndimage.map_coordinates(
            self.elevation, [row - 0.5, col - 0.5], order=1, mode="nearest"
        )


def make_terrain(bounds: tuple[float, float, float, float], rng: np.random.Generator) -> Terrain:
    """Plains a few metres above datum, hills where the named hills are, low Deep Bay ponds."""
    xmin, ymin, xmax, ymax = bounds
    xmin, ymin = np.floor(xmin / DEM_CELL) * DEM_CELL, np.floor(ymin / DEM_CELL) * DEM_CELL
    xmax, ymax = np.ceil(xmax / DEM_CELL) * DEM_CELL, np.ceil(ymax / DEM_CELL) * DEM_CELL
    ncol = int(round((xmax - xmin) / DEM_CELL))
    nrow = int(round((ymax - ymin) / DEM_CELL))
    transform = Affine(DEM_CELL, 0.0, xmin, 0.0, -DEM_CELL, ymax)
    xs = xmin + (np.arange(ncol) + 0.5) * DEM_CELL
    ys = ymax - (np.arange(nrow) + 0.5) * DEM_CELL
    gx, gy = np.meshgrid(xs, ys)

    elevation = np.full((nrow, ncol), 4.0)
    # Plains rise gently towards the southern hills.
    elevation += 8.0 * (ymax - gy) / (ymax - ymin)
    for hill in hills().itertuples():
        d2 = (gx - hill.x) ** 2 + (gy - hill.y) ** 2
        elevation += hill.height_m * np.exp(-d2 / hill.radius_m**2)
    # Rugged relief on the slopes, smooth on the plains.
    noise = ndimage.gaussian_filter(rng.standard_normal((nrow, ncol)), sigma=6.0)
    noise /= np.abs(noise).max() + 1e-12
    elevation += noise * (3.0 + 0.25 * np.clip(elevation - 10.0, 0.0, None))
    wet = places().query("profile == 'wetland'")
    for place in wet.itertuples():
        d2 = (gx - place.x) ** 2 + (gy - place.y) ** 2
        elevation -= 3.0 * np.exp(-d2 / (2.0 * place.radius_m**2))
    elevation = np.clip(elevation, 0.5, None)
    return Terrain(elevation.astype("float32"), transform)


def _quadtree_seeds(
    boundary: shapely.Geometry,
    terrain: Terrain,
    place_table: pd.DataFrame,
    rng: np.random.Generator,
) -> np.ndarray:
    """Cell seeds: 150 m apart in town cores, 300 m on their fringes and plains, 600 m on hills."""
    xmin, ymin, xmax, ymax = boundary.bounds
    gx = np.arange(xmin, xmax + COARSE_CELL, COARSE_CELL) + COARSE_CELL / 2
    gy = np.arange(ymin, ymax + COARSE_CELL, COARSE_CELL) + COARSE_CELL / 2
    cx, cy = (a.ravel() for a in np.meshgrid(gx, gy))
    size = np.full(cx.shape, COARSE_CELL)
    urban = place_table[place_table["profile"].isin(URBAN_PROFILES + ("logistics",))]
    done_x, done_y, done_s = [], [], []
    for target in (600.0, 300.0, 150.0):
        u = _urbanity(cx, cy, urban)
        elev = terrain.sample(cx, cy)
        wanted = np.where(elev > HILL_ELEVATION, HILL_CELL, PLAIN_CELL)
        wanted = np.where((u > 0.25) & (elev <= HILL_ELEVATION * 1.5), 300.0, wanted)
        wanted = np.where((u > 0.55) & (elev <= HILL_ELEVATION * 1.5), 150.0, wanted)
        split = wanted <= target
        done_x.append(cx[~split])
        done_y.append(cy[~split])
        done_s.append(size[~split])
        q = size[split] / 4.0
        cx = np.concatenate([cx[split] + dx * q for dx in (-1, 1, -1, 1)])
        cy = np.concatenate([cy[split] + dy * q for dy in (-1, -1, 1, 1)])
        size = np.full(cx.shape, target)
    done_x.append(cx)
    done_y.append(cy)
    done_s.append(size)
    x, y, s = np.concatenate(done_x), np.concatenate(done_y), np.concatenate(done_s)
    x = x + rng.uniform(-0.22, 0.22, x.shape) * s
    y = y + rng.uniform(-0.22, 0.22, y.shape) * s
    inside = shapely.contains_xy(boundary, x, y)
    return np.column_stack([x[inside], y[inside]])


def _urbanity(x: np.ndarray, y: np.ndarray, place_table: pd.DataFrame) -> np.ndarray:
    d2 = (x[:, None] - place_table["x"].to_numpy()) ** 2 + (
        y[:, None] - place_table["y"].to_numpy()
    ) ** 2
    return np.exp(-d2 / place_table["radius_m"].to_numpy() ** 2).max(axis=1)


def _extra_villages(
    boundary: shapely.Geometry,
    terrain: Terrain,
    place_table: pd.DataFrame,
    rng: np.random.Generator,
    n: int = 45,
) -> pd.DataFrame:
    """Unnamed villages scattered over the lowland plains, away from the towns."""
    xmin, ymin, xmax, ymax = boundary.bounds
    x = rng.uniform(xmin, xmax, 40 * n)
    y = rng.uniform(ymin, ymax, 40 * n)
    ok = shapely.contains_xy(boundary, x, y) & (terrain.sample(x, y) < 35.0)
    ok &= _urbanity(x, y, place_table) < 0.3
    x, y = x[ok][:n], y[ok][:n]
    return pd.DataFrame(
        {
            "name": [f"village {i + 1}" for i in range(len(x))],
            "x": x,
            "y": y,
            "radius_m": rng.uniform(300.0, 550.0, len(x)),
            "profile": "village",
        }
    )


def _smooth_field(
    bounds: tuple[float, float, float, float], n: int, rng: np.random.Generator, scale: float
) -> tuple[np.ndarray, Affine]:
    """``n`` independent smooth random fields (correlation ~``scale`` m) on a coarse grid."""
    xmin, ymin, xmax, ymax = bounds
    cell = scale / 3.0
    ncol = int((xmax - xmin) / cell) + 3
    nrow = int((ymax - ymin) / cell) + 3
    field = ndimage.gaussian_filter(rng.standard_normal((n, nrow, ncol)), sigma=(0, 2.0, 2.0))
    field /= field.std(axis=(1, 2), keepdims=True) + 1e-12
    return field, Affine(cell, 0.0, xmin - cell, 0.0, -cell, ymax + cell)


def _sample_fields(
    field: np.ndarray, transform: Affine, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    col, row = _grid_position(transform, x, y)
    return np.stack(
        [ndimage.map_coordinates(f, [row, col], order=1, mode="nearest") for f in field], axis=1
    )


def _choose_kinds(
    x: np.ndarray,
    y: np.ndarray,
    elev: np.ndarray,
    rng: np.random.Generator,
    bounds: tuple[float, float, float, float],
    place_table: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray]:
    """Zone kind (row of the zoning table) and profile of every block.

    Each block takes the profile of the place that dominates it (hills above
    70 m, rural elsewhere), then a kind drawn from that profile's weights with
    spatially correlated Gumbel noise, so zones come in coherent clusters.
    Commercial kinds are pulled towards the centre of their place.
    """
    table = zoning_table()
    d2 = (x[:, None] - place_table["x"].to_numpy()) ** 2 + (
        y[:, None] - place_table["y"].to_numpy()
    ) ** 2
    influence = np.exp(-d2 / place_table["radius_m"].to_numpy() ** 2)
    best = influence.argmax(axis=1)
    strength = influence[np.arange(len(x)), best]
    profile = place_table["profile"].to_numpy()[best].astype(object)
    profile[strength < 0.2] = "rural"
    hilly = (elev > HILL_ELEVATION) & ~((strength > 0.7) & np.isin(profile, URBAN_PROFILES))
    profile[hilly] = "hill"

    weights = table[list(PROFILES)].to_numpy(float)  # kinds x profiles
    profile_idx = np.searchsorted(
        np.array(PROFILES), profile.astype(str), sorter=np.argsort(PROFILES)
    )
    profile_idx = np.argsort(PROFILES)[profile_idx]
    w = weights[:, profile_idx].T.copy()  # blocks x kinds

    centrality = np.exp(
        -d2[np.arange(len(x)), best] / (0.45 * place_table["radius_m"].to_numpy()[best]) ** 2
    )
    commercial = table["key"].isin(["C", "OU_B", "OU_IT", "OU_RD", "CDA"]).to_numpy()
    w[:, commercial] *= (1.0 + 3.0 * centrality)[:, None]
    with np.errstate(divide="ignore"):
        logw = np.log(w)
    field, ftransform = _smooth_field(bounds, len(table), rng, scale=900.0)
    noise = _sample_fields(field, ftransform, x, y)
    gumbel = -np.log(-np.log(rng.uniform(1e-9, 1.0, logw.shape)))
    score = logw + 1.4 * noise + 0.6 * gumbel
    kind = score.argmax(axis=1)
    return kind, profile.astype(str)


def _pick_variant(kinds: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    variants = zoning_table()["variants"].str.split("|").to_numpy()
    counts = np.array([len(v) for v in variants])
    pick = np.floor(rng.uniform(0, 1, len(kinds)) * counts[kinds]).astype(int)
    flat = np.concatenate(variants)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return flat[start[kinds] + pick]


def _trunk_roads(boundary: shapely.Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Approximate alignments of the NM's trunk roads (centrelines), clipped to the boundary."""
    df = _table("trunk_roads.csv")
    lines = []
    for _, group in df.groupby("road", sort=False):
        x, y = _to_hk80(group["lon"], group["lat"])
        lines.append(shapely.linestrings(np.column_stack([x, y])))
    lines = shapely.intersection(np.array(lines), boundary)
    names = df["road"].drop_duplicates().to_numpy()
    keep = ~shapely.is_empty(lines)
    return lines[keep], names[keep]


@dataclass
class Metropolis:
    """Everything the generator makes, in EPSG:2326, in the schemas real data arrives in."""

    zones: gpd.GeoDataFrame
    lots: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    terrain: Terrain
    boundary: gpd.GeoDataFrame


@dataclass
class _MainRoads:
    """Trunk roads (named) and district distributors, with their corridors' half widths."""

    trunk_lines: np.ndarray
    trunk_names: np.ndarray
    trunk_half: np.ndarray
    corridors: np.ndarray  # trunk road corridors
    district_lines: np.ndarray
    district_half: np.ndarray
    corridor_union: shapely.Geometry  # trunk and district corridors


def generate(
    boundary_gdf: gpd.GeoDataFrame, *, n_lots: int, seed: int, progress: bool = False
) -> Metropolis:
    """Build the synthetic Northern Metropolis inside ``boundary_gdf`` (EPSG:2326)."""
    rng = np.random.default_rng(seed)
    boundary = shapely.union_all(boundary_gdf.to_crs(HK80).geometry.to_numpy())
    bounds = boundary.bounds
    terrain = make_terrain(bounds, rng)
    place_table = places()

    # --- zone cells: Voronoi cells of quadtree seeds ----------------------------------------
    cells, seeds = _zone_cells(boundary, terrain, place_table, rng)
    elev = terrain.sample(seeds[:, 0], seeds[:, 1])
    place_table = pd.concat([place_table, _extra_villages(boundary, terrain, place_table, rng)])
    kind, profile = _choose_kinds(seeds[:, 0], seeds[:, 1], elev, rng, bounds, place_table)
    urban, offset = _setbacks(profile, rng)

    # Local roads run along the edges shared by neighbouring cells, width = the two setbacks.
    # In the countryside some neighbours abut with no road between them and form one block.
    group, local, local_width, offset, inner, inner_group = _local_roads(
        cells, kind, urban, offset, rng
    )
    main = _main_roads(boundary, place_table, rng)
    blocks, block_group = _street_blocks(
        cells, group, inner, inner_group, main.corridor_union, offset
    )

    # --- zones: the cells' parts of each block; some one-cell blocks split in two ----------
    zone_geom, zone_kind, zone_lookup, block_kind = _block_zones(
        blocks, block_group, cells, group, kind, profile, seeds, rng
    )
    zones = _zones_frame(zone_geom, zone_kind, main.corridors, main.trunk_names, rng)

    # --- leased lots (unleased Government land has none) -----------------------------------
    lots = _subdivide(blocks, block_kind, zone_lookup, n_lots, rng, bounds, progress=progress)
    lots = _lot_attributes(lots, rng)

    roads = _roads_frame(local, local_width, main)
    boundary_out = gpd.GeoDataFrame(
        {"name": ["Northern Metropolis (approximate)"]}, geometry=[boundary], crs=HK80
    )
    return Metropolis(zones=zones, lots=lots, roads=roads, terrain=terrain, boundary=boundary_out)


def _zone_cells(
    boundary: shapely.Geometry,
    terrain: Terrain,
    place_table: pd.DataFrame,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Zone cells (Voronoi cells of quadtree seeds, clipped to ``boundary``) and their seeds.

    Slivers of 2,000 m² or less are dropped, with their seeds.
    """
    bounds = boundary.bounds
    seeds = _quadtree_seeds(boundary, terrain, place_table, rng)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(
            shapely.multipoints(seeds), extend_to=shapely.box(*bounds).buffer(2000)
        )
    )
    # voronoi_polygons does not keep input order; match cells back to seeds.
    tree = shapely.STRtree(shapely.points(seeds))
    cell_idx, seed_idx = tree.query(cells, predicate="contains")
    order = np.empty(len(seeds), dtype=int)
    order[seed_idx] = cell_idx
    cells = shapely.intersection(cells[order], boundary)
    keep = shapely.area(cells) > 2000.0
    return cells[keep], seeds[keep]


def _setbacks(profile: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Which cells are urban, and each cell's setback from its local roads (m)."""
    n_cells = len(profile)
    urban = np.isin(profile, URBAN_PROFILES)
    offset = np.where(
        urban, rng.uniform(*OFFSET_URBAN, n_cells), rng.uniform(*OFFSET_RURAL, n_cells)
    )
    return urban, offset


def _main_roads(
    boundary: shapely.Geometry, place_table: pd.DataFrame, rng: np.random.Generator
) -> _MainRoads:
    """The trunk and district roads with their widths, and the union of their corridors."""
    trunk_lines, trunk_names = _trunk_roads(boundary)
    trunk_half = rng.uniform(*TRUNK_HALF_WIDTH, len(trunk_lines))
    corridors = shapely.buffer(trunk_lines, trunk_half, cap_style="flat")
    district_lines = _district_roads(boundary, place_table, rng)
    district_half = rng.uniform(*DISTRICT_HALF_WIDTH, len(district_lines))
    district_corridors = shapely.buffer(district_lines, district_half, cap_style="flat")
    return _MainRoads(
        trunk_lines=trunk_lines,
        trunk_names=trunk_names,
        trunk_half=trunk_half,
        corridors=corridors,
        district_lines=district_lines,
        district_half=district_half,
        corridor_union=shapely.union_all(np.concatenate([corridors, district_corridors])),
    )


def _street_blocks(
    cells: np.ndarray,
    group: np.ndarray,
    inner: np.ndarray,
    inner_group: np.ndarray,
    corridor_union: shapely.Geometry,
    offset: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Street blocks and the cell group each comes from.

    Blocks are groups of abutting cells, cut along the roads inside a group, minus the
    trunk and district road corridors, set back from the local roads by the group's
    ``offset``; pieces of 1,500 m² or less are dropped.
    """
    land = _union_groups(cells, group)
    if len(inner):
        # Cut along the roads inside a group; the setback below widens the cut to the road.
        cut_groups, which = np.unique(inner_group, return_inverse=True)
        slits = _union_groups(shapely.buffer(inner, 0.01, cap_style="flat"), which)
        land[cut_groups] = shapely.difference(land[cut_groups], slits)
    blocks = shapely.difference(land, corridor_union)
    parts, owner = shapely.get_parts(blocks, return_index=True)
    # Exact erosion: a mitre join would spike out of the reflex corners of joined cells.
    parts = shapely.buffer(parts, -offset[owner], quad_segs=4)
    parts_b, owner_b = shapely.get_parts(parts, return_index=True)
    owner = owner[owner_b]
    keep = shapely.area(parts_b) > 1500.0
    return parts_b[keep], owner[keep]


def _roads_frame(local: np.ndarray, local_width: np.ndarray, main: _MainRoads) -> gpd.GeoDataFrame:
    """The road centrelines in the schema of a road layer, local then district then trunk."""
    district_lines, trunk_lines = main.district_lines, main.trunk_lines
    roads = gpd.GeoDataFrame(
        {
            "road_id": np.arange(1, len(local) + len(district_lines) + len(trunk_lines) + 1),
            "name": np.concatenate(
                [np.full(len(local) + len(district_lines), None, dtype=object), main.trunk_names]
            ),
            "road_class": np.concatenate(
                [
                    np.full(len(local), "local"),
                    np.full(len(district_lines), "district"),
                    np.full(len(trunk_lines), "trunk"),
                ]
            ),
            "width_m": np.round(
                np.concatenate([local_width, 2 * main.district_half, 2 * main.trunk_half]), 1
            ),
        },
        geometry=np.concatenate([local, district_lines, trunk_lines]),
        crs=HK80,
    )
    return roads[shapely.get_type_id(roads.geometry.to_numpy()) != 7].reset_index(drop=True)


def _district_roads(
    boundary: shapely.Geometry, place_table: pd.DataFrame, rng: np.random.Generator
) -> np.ndarray:
    """Distributor roads cutting the development areas into neighbourhoods ~600 m across."""
    urban = place_table[place_table["profile"].isin(URBAN_PROFILES + ("logistics",))]
    area = shapely.union_all(
        shapely.buffer(
            shapely.points(urban[["x", "y"]].to_numpy()), 1.3 * urban["radius_m"].to_numpy()
        )
    )
    area = shapely.intersection(area, boundary)
    xmin, ymin, xmax, ymax = area.bounds
    gx, gy = np.meshgrid(
        np.arange(xmin, xmax + DISTRICT_SPACING, DISTRICT_SPACING),
        np.arange(ymin, ymax + DISTRICT_SPACING, DISTRICT_SPACING),
    )
    seeds = np.column_stack([gx.ravel(), gy.ravel()])
    seeds = seeds + rng.uniform(-0.3, 0.3, seeds.shape) * DISTRICT_SPACING
    edges = shapely.voronoi_polygons(shapely.multipoints(seeds), only_edges=True)
    lines = shapely.get_parts(shapely.intersection(shapely.get_parts(edges), area))
    lines = lines[(shapely.get_type_id(lines) == 1) & (shapely.length(lines) > 50.0)]
    return lines


def _local_roads(
    cells: np.ndarray,
    kind: np.ndarray,
    urban: np.ndarray,
    offset: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, ...]:
    """Which cells abut in one block, the local road centrelines and their widths.

    Neighbouring cells are separated by a road along their shared edge, except that
    ``ABUT_SHARE`` of the edges between two countryside cells (``ABUT_SHARE_URBAN`` in
    towns; villages keep their lanes) have none: those cells join one block of at most
    ``MAX_BLOCK_CELLS`` cells and ``MAX_BLOCK_AREA``. Neighbours of two kinds without
    local roads (country park, conservation areas) have no road between them either,
    but stay apart. Where roads would be cut off from the network, the shortest tracks
    along other edges link them to it (:func:`_access_tracks`); a track inside a block
    cuts the block.

    Returns the block group of every cell, the road lines, the road widths (the two
    setbacks), every group's setback, and the roads running inside a group with their
    group (the block is cut along them).
    """
    table = zoning_table()
    n = len(cells)
    tree = shapely.STRtree(cells)
    a, b = tree.query(cells, predicate="intersects")
    pair = a < b
    a, b = a[pair], b[pair]
    shared = shapely.intersection(cells[a], cells[b])
    is_line = np.isin(shapely.get_type_id(shared), (1, 5))
    no_roads = table["local_roads"].to_numpy()[kind] == 0
    village = table["key"].to_numpy()[kind] == "V"
    share = np.where(urban[a] | urban[b], ABUT_SHARE_URBAN, ABUT_SHARE)
    abut = np.flatnonzero(is_line & ~village[a] & ~village[b] & (rng.uniform(size=len(a)) < share))
    order = rng.permutation(len(abut))
    group = _join_cells(shapely.area(cells), a[abut], b[abut], order)
    # A group takes the setback of its first cell; edges inside a group carry no road.
    first = np.full(group.max() + 1, n)
    np.minimum.at(first, group, np.arange(n))
    offset = offset[first[group]]
    inside = group[a] == group[b]
    is_road = is_line & ~inside & ~(no_roads[a] & no_roads[b])
    # Tracks link roads cut off from the network, through a block only if need be.
    penalty = np.where(inside, 3.0, 1.0)
    is_road |= _access_tracks(shared, is_road, is_line & ~is_road, penalty)
    local = shapely.line_merge(shared[is_road])
    width = (offset[a] + offset[b])[is_road]
    inner = is_road & inside
    return group, local, width, offset[first], shared[inner], group[a[inner]]


def _access_tracks(
    edges: np.ndarray, road: np.ndarray, track: np.ndarray, penalty: np.ndarray
) -> np.ndarray:
    """Edges that link every piece of the road network to the main one by the shortest tracks.

    ``edges`` are the lines between neighbouring cells, ``road`` those carrying a road
    and ``track`` those that may carry one, at ``penalty`` times their length. A piece of
    the network the roads leave apart (roads round a village amid conservation land, a
    lane inside a block) is joined to the largest piece along the cheapest chain of
    ``track`` edges.
    """
    out = np.zeros(len(edges), bool)
    usable = np.flatnonzero(road | track)
    if not road.any():
        return out
    # Nodes: the edges' end points, to the centimetre.
    pts, owner = shapely.get_coordinates(edges[usable], return_index=True)
    k = np.arange(len(usable))
    first = np.searchsorted(owner, k, side="left")
    last = np.searchsorted(owner, k, side="right") - 1
    ends = np.round(np.concatenate([pts[first], pts[last]]), 2)
    node = np.unique(ends, axis=0, return_inverse=True)[1].ravel()
    u, v = node[: len(usable)], node[len(usable) :]
    n = int(node.max()) + 1
    on_road = road[usable]
    pieces = coo_array((np.ones(int(on_road.sum())), (u[on_road], v[on_road])), shape=(n, n))
    _, piece = connected_components(pieces, directed=False)
    reached = np.zeros(n, bool)
    reached[u[on_road]] = reached[v[on_road]] = True
    size = np.bincount(piece[reached], minlength=piece.max() + 1)
    main = int(size.argmax())
    others = np.flatnonzero(size > 0)
    others = others[others != main]
    if not len(others):
        return out
    # Shortest chains: roads cost (almost) nothing, tracks their length. One edge per pair
    # of nodes, the cheapest.
    length = np.maximum(shapely.length(edges[usable]), 1e-3)
    cost = np.where(on_road, 1e-6, length * penalty[usable])
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    order = np.lexsort((cost, hi, lo))
    keep = order[np.r_[True, (np.diff(lo[order]) != 0) | (np.diff(hi[order]) != 0)]]
    keep = keep[lo[keep] != hi[keep]]
    graph = coo_array(
        (np.r_[cost[keep], cost[keep]], (np.r_[lo[keep], hi[keep]], np.r_[hi[keep], lo[keep]])),
        shape=(n, n),
    ).tocsr()
    sources = np.flatnonzero(reached & (piece == main))
    dist, pred = dijkstra(graph, indices=sources, min_only=True, return_predecessors=True)[:2]
    edge_of = dict(
        zip(zip(lo[keep].tolist(), hi[keep].tolist(), strict=True), keep.tolist(), strict=True)
    )
    for other in others.tolist():
        nodes = np.flatnonzero(reached & (piece == other))
        x = int(nodes[np.argmin(dist[nodes])])
        if not np.isfinite(dist[x]):
            continue
        while pred[x] >= 0:
            y = int(pred[x])
            e = edge_of[(min(x, y), max(x, y))]
            out[usable[e]] |= not on_road[e]
            x = y
    return out


def _join_cells(area: np.ndarray, a: np.ndarray, b: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Groups (numbered 0..k-1) of cells joined along edges ``a``-``b`` taken in ``order``.

    An edge joins its two cells' groups unless the result would exceed
    ``MAX_BLOCK_CELLS`` cells or ``MAX_BLOCK_AREA`` (cells of ``area`` m²).
    """
    n = len(area)
    parent = np.arange(n)
    size = np.ones(n, dtype=int)
    total = np.asarray(area, float).copy()

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for e in order.tolist():
        ra, rb = root(int(a[e])), root(int(b[e]))
        if ra == rb or size[ra] + size[rb] > MAX_BLOCK_CELLS:
            continue
        if total[ra] + total[rb] <= MAX_BLOCK_AREA:
            parent[rb] = ra
            size[ra] += size[rb]
            total[ra] += total[rb]
    roots = np.array([root(i) for i in range(n)])
    return np.unique(roots, return_inverse=True)[1]


def _union_groups(geoms: np.ndarray, group: np.ndarray) -> np.ndarray:
    """One geometry per group (``group`` numbers 0..k-1): the union of its members."""
    out = np.empty(group.max() + 1 if len(group) else 0, dtype=object)
    order = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.r_[True, np.diff(group[order]) != 0, True])
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        members = geoms[order[start:stop]]
        out[group[order[start]]] = members[0] if len(members) == 1 else shapely.union_all(members)
    return out


@dataclass
class ZoneKinds:
    """The zone kind anywhere in a block.

    A block of one cell has its cell's kind, except beyond its split line, if any: a
    point ``p`` is beyond it when ``(p - origin) . normal < 0`` and there the kind is
    ``other``. A block of several abutting cells has the kind of the cell a point falls
    in, i.e. of the nearest seed (cells are the seeds' Voronoi cells).
    """

    cell: np.ndarray
    kind: np.ndarray
    split: np.ndarray
    origin: np.ndarray
    normal: np.ndarray
    other: np.ndarray
    multi: np.ndarray
    seeds: cKDTree
    seed_kind: np.ndarray

    def at(self, block: np.ndarray, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Zone kind and cell at points ``xy`` lying in blocks ``block``."""
        kind = self.kind[block].copy()
        cell = self.cell[block].copy()
        side = np.einsum("ij,ij->i", xy - self.origin[block], self.normal[block])
        beyond = self.split[block] & (side < 0)
        kind[beyond] = self.other[block[beyond]]
        multi = np.flatnonzero(self.multi[block])
        if len(multi):
            _, cell[multi] = self.seeds.query(xy[multi], workers=-1)
            kind[multi] = self.seed_kind[cell[multi]]
        return kind, cell


def _block_zones(
    blocks: np.ndarray,
    block_group: np.ndarray,
    cells: np.ndarray,
    group: np.ndarray,
    kind: np.ndarray,
    profile: np.ndarray,
    seeds: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, ZoneKinds, np.ndarray]:
    """Zones of every block, how to find the kind at a point, and each block's main kind.

    A block of one cell is one zone, or two when split (:func:`_split_blocks`). A block
    of several abutting cells holds one zone per cell, neighbours of the same kind merged.
    """
    size = np.bincount(group)
    multi = size[block_group] > 1
    first = np.full(len(size), len(cells))
    np.minimum.at(first, group, np.arange(len(cells)))
    block_kind = kind[first[block_group]]
    block_profile = profile[first[block_group]]

    whole = np.flatnonzero(~multi)
    geoms, kinds, cut = _split_blocks(blocks[whole], block_kind[whole], block_profile[whole], rng)
    n = len(blocks)
    split = np.zeros(n, bool)
    origin, normal = np.zeros((n, 2)), np.zeros((n, 2))
    other = block_kind.copy()
    split[whole], origin[whole], normal[whole], other[whole] = cut

    # Several cells: intersect each block with the cells of its group.
    idx = np.flatnonzero(multi)
    order = np.argsort(group, kind="stable")
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    count = size[block_group[idx]]
    pb = np.repeat(idx, count)
    offsets = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    pc = order[np.repeat(start[block_group[idx]], count) + offsets]
    pieces = shapely.intersection(blocks[pb], cells[pc])
    parts, src = shapely.get_parts(pieces, return_index=True)
    polygonal = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 1.0)
    parts, src = parts[polygonal], src[polygonal]
    # Neighbours of the same kind are one zone when the kind has a single label; kinds with
    # sub-zones (R(A)1, R(A)2 ...) keep one zone per cell, each with its own label.
    single_label = zoning_table()["variants"].str.count(r"\|").to_numpy() == 0
    piece_kind = kind[pc[src]]
    one = single_label[piece_kind]
    key = np.column_stack([pb[src], np.where(one, -1, pc[src]), np.where(one, piece_kind, -1)])
    _, inverse = np.unique(key, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    merged = _union_groups(parts, inverse)
    first_piece = np.full(len(merged), len(parts))
    np.minimum.at(first_piece, inverse, np.arange(len(parts)))
    merged_kind = piece_kind[first_piece]
    merged, which = shapely.get_parts(merged, return_index=True)
    merged_kind = merged_kind[which]
    # The main kind of a block of several cells: the kind covering most of it.
    area = shapely.area(parts)
    best = pd.DataFrame({"block": pb[src], "kind": kind[pc[src]], "area": area})
    best = best.groupby(["block", "kind"])["area"].sum().reset_index()
    best = best.sort_values(["block", "area"], ascending=[True, False]).drop_duplicates("block")
    block_kind[best["block"].to_numpy()] = best["kind"].to_numpy()

    geoms = np.concatenate([geoms, merged])
    kinds = np.concatenate([kinds, merged_kind])
    ok = ~shapely.is_empty(geoms) & (shapely.area(geoms) > 100.0)
    lookup = ZoneKinds(
        cell=first[block_group],
        kind=block_kind,
        split=split,
        origin=origin,
        normal=normal,
        other=other,
        multi=multi,
        seeds=cKDTree(seeds),
        seed_kind=kind,
    )
    return geoms[ok], kinds[ok], lookup, block_kind


def _split_blocks(
    blocks: np.ndarray,
    kind: np.ndarray,
    profile: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Split some larger lowland blocks into two zones of different kinds along an oblique line.

    The line crosses the block's long axis at 30-70 % of its length, turned up to
    ``SPLIT_MAX_ANGLE`` degrees off square, so it cuts across the lot grid as real zone
    boundaries cut across old lots. Returns the zones, their kinds and, per block, the
    cut: whether split, a point on the line, the normal pointing to the block's own kind
    and the kind beyond the line.
    """
    n = len(blocks)
    area = shapely.area(blocks)
    candidates = (area > 15_000) & (profile != "hill")
    split = candidates & (rng.uniform(size=n) < SPLIT_SHARE)
    idx = np.flatnonzero(split)
    mrr = shapely.oriented_envelope(blocks[idx])
    corners = shapely.get_coordinates(mrr).reshape(-1, 5, 2)[:, :4]
    p0 = corners[:, 0]
    e1, e2 = corners[:, 1] - p0, corners[:, 3] - p0
    swap = np.hypot(*e2.T) > np.hypot(*e1.T)
    e1[swap], e2[swap] = e2[swap].copy(), e1[swap].copy()  # e1: the long side
    t = rng.uniform(0.3, 0.7, len(idx))[:, None]
    point = p0 + e1 * t + e2 * 0.5
    angle = np.radians(rng.uniform(-SPLIT_MAX_ANGLE, SPLIT_MAX_ANGLE, len(idx)))
    cos, sin = np.cos(angle), np.sin(angle)
    across = e2 / np.hypot(*e2.T)[:, None]
    along = np.column_stack(
        [across[:, 0] * cos - across[:, 1] * sin, across[:, 0] * sin + across[:, 1] * cos]
    )
    normal = np.column_stack([-along[:, 1], along[:, 0]])
    normal[np.einsum("ij,ij->i", normal, e1) < 0] *= -1.0
    reach = (np.hypot(*e1.T) + np.hypot(*e2.T))[:, None]
    a, b = point - along * reach, point + along * reach
    half = shapely.polygons(np.stack([a, b, b + normal * reach, a + normal * reach, a], axis=1))
    first = shapely.intersection(blocks[idx], half)
    second = shapely.difference(blocks[idx], half)

    table = zoning_table()
    weights = table[list(PROFILES)].to_numpy(float)
    prof_col = np.array([PROFILES.index(p) for p in profile[idx]], dtype=int)
    w = weights[:, prof_col].T.copy()
    w[np.arange(len(idx)), kind[idx]] = 0.0
    w[w.sum(axis=1) == 0, :] = 1.0
    cum = np.cumsum(w, axis=1) / w.sum(axis=1, keepdims=True)
    other_kind = (cum < rng.uniform(size=(len(idx), 1))).sum(axis=1)

    origin, normals, other = np.zeros((n, 2)), np.zeros((n, 2)), kind.copy()
    origin[idx], normals[idx], other[idx] = point, normal, other_kind
    geoms = np.concatenate([blocks[~split], first, second])
    kinds = np.concatenate([kind[~split], kind[idx], other_kind])
    return geoms, kinds, (split, origin, normals, other)


def _zones_frame(
    geoms: np.ndarray,
    kinds: np.ndarray,
    corridors: np.ndarray,
    trunk_names: np.ndarray,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    table = zoning_table()
    labels = _pick_variant(kinds, rng)
    trunk = shapely.get_parts(shapely.union_all(corridors))
    n_trunk = len(trunk)
    frame = gpd.GeoDataFrame(
        {
            "PLAN_NO": None,
            "ZONE_LABEL": np.concatenate([labels, np.full(n_trunk, "Road")]),
            "DESC_ENG": np.concatenate(
                [table["desc_eng"].to_numpy()[kinds], np.full(n_trunk, "Road")]
            ),
            "DESC_CHT": np.concatenate(
                [table["desc_cht"].to_numpy()[kinds], np.full(n_trunk, "道路")]
            ),
            "SPUSE_ENG": np.concatenate(
                [table["spuse_eng"].to_numpy()[kinds], np.full(n_trunk, "")]
            ),
            "SPUSE_CHT": np.concatenate(
                [table["spuse_cht"].to_numpy()[kinds], np.full(n_trunk, "")]
            ),
        },
        geometry=np.concatenate([geoms, trunk]),
        crs=HK80,
    )
    for col in ("SPUSE_ENG", "SPUSE_CHT"):
        frame[col] = frame[col].replace("", None)
    frame["PLAN_NO"] = _plan_numbers(frame.geometry.to_numpy())
    frame["SHAPE_Area"] = np.round(frame.geometry.area, 2)
    frame["SHAPE_Leng"] = np.round(frame.geometry.length, 2)
    frame.insert(0, "OBJECTID", np.arange(1, len(frame) + 1))
    return frame


def _plan_numbers(geoms: np.ndarray) -> np.ndarray:
    """OZP plan number of the nearest planning scheme area (synthetic plan numbers)."""
    df = _table("ozp_schemes.csv")
    x, y = _to_hk80(df["lon"], df["lat"])
    pts = shapely.get_coordinates(shapely.point_on_surface(geoms))
    _, nearest = cKDTree(np.column_stack([x, y])).query(pts)
    return df["plan_no"].to_numpy()[nearest]


@dataclass
class _LotGrid:
    """The leased cells of every block's lot grid at one lot size."""

    block: np.ndarray
    corners: np.ndarray  # cells x 4 x 2, counter-clockwise
    centre: np.ndarray
    margin: np.ndarray  # how far below the lease threshold the cell's latent value lies
    cells: np.ndarray  # grid cells per block, leased or not


def _strips(frame: tuple[np.ndarray, ...], lot_size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Strips along and across each block's long side for lots of ``lot_size`` m²."""
    len1, len2, aspect = frame[3:]
    width = np.sqrt(lot_size / aspect)
    n1 = np.clip(np.rint(len1 / width), 1, None).astype(int)
    n2 = np.clip(np.rint(len2 / (width * aspect)), 1, None).astype(int)
    return n1, n2


def _lot_grid(
    frame: tuple[np.ndarray, ...],
    lot_size: np.ndarray,
    tenure: tuple,
    rng: np.random.Generator,
) -> _LotGrid:
    """Cut every block's oriented envelope into strips and keep the leased cells."""
    p0, e1, e2 = frame[:3]
    cell_z, threshold, clustering, fields, zone_kinds = tenure
    n1, n2 = _strips(frame, lot_size)
    u_edges = _jittered_cuts(n1, rng)
    v_edges = _jittered_cuts(n2, rng)
    count = n1 * n2
    block = np.repeat(np.arange(len(n1)), count)
    local = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    i = local % n1[block]
    j = local // n1[block]
    ustart = np.repeat(np.cumsum(n1 + 1) - (n1 + 1), count)
    vstart = np.repeat(np.cumsum(n2 + 1) - (n2 + 1), count)
    u0, u1 = u_edges[ustart + i], u_edges[ustart + i + 1]
    v0, v1 = v_edges[vstart + j], v_edges[vstart + j + 1]
    origin, a1, a2 = p0[block], e1[block], e2[block]
    centre = origin + a1 * ((u0 + u1) / 2)[:, None] + a2 * ((v0 + v1) / 2)[:, None]
    cell_kind, cell = zone_kinds.at(block, centre)
    area_field, lot_field = (
        _sample_fields(f, t, centre[:, 0], centre[:, 1])[:, 0] for f, t in fields
    )
    zone_weight = np.sqrt(clustering[cell_kind] / 2.0)
    lot_weight = np.sqrt((1.0 - clustering[cell_kind]) / 2.0)
    z = zone_weight * (area_field + cell_z[cell])
    z += lot_weight * (lot_field + rng.standard_normal(len(block)))
    margin = threshold[cell_kind] - z
    leased = margin > 0
    block, origin, a1, a2 = block[leased], origin[leased], a1[leased], a2[leased]
    centre, margin = centre[leased], margin[leased]
    u0, u1 = u0[leased][:, None], u1[leased][:, None]
    v0, v1 = v0[leased][:, None], v1[leased][:, None]
    corners = np.stack(
        [
            origin + a1 * u0 + a2 * v0,
            origin + a1 * u1 + a2 * v0,
            origin + a1 * u1 + a2 * v1,
            origin + a1 * u0 + a2 * v1,
        ],
        axis=1,
    )
    return _LotGrid(block=block, corners=corners, centre=centre, margin=margin, cells=count)


def _subdivide(
    blocks: np.ndarray,
    kind: np.ndarray,
    zone_kinds: ZoneKinds,
    n_lots: int,
    rng: np.random.Generator,
    bounds: tuple[float, float, float, float],
    *,
    progress: bool = False,
) -> np.ndarray:
    """Leased lots: cells of a jittered grid aligned with each block's long axis.

    Only leased cells become lots; the rest of every zone is unleased Government land.
    Whether a cell is leased follows a spatially correlated latent value (an area-wide
    field and a draw per zone cell, weighted by the kind's ``tenure_clustering``; a field
    within zones and a draw per lot; see ``TENURE_*``) compared with the quantile of the
    leased share (1 - ``gov_share``) of the zone the cell's centre lies in. Each kind so
    keeps its expected leased share; G/IC zones are mostly wholly unleased, while
    villages and farmland mix leased lots and Government land within every zone.

    Lot sizes follow ``lot_size_m2`` of the block's main ``kind``, spread log-normally
    between blocks and strips, times a common factor set so that a few more than
    ``n_lots`` leased lots come out; the surplus is left unleased, so exactly ``n_lots``
    remain (fewer only if the grid falls short, which the passes make rare).
    """
    table = zoning_table()
    n = len(blocks)
    leased_share = 1.0 - table["gov_share"].to_numpy(float)
    threshold = ndtri(np.clip(leased_share, 0.0, 1.0))  # -inf: never leased, inf: always
    nominal = table["lot_size_m2"].to_numpy(float)[kind]
    nominal = nominal * rng.lognormal(0.0, BLOCK_LOT_SIZE_SIGMA, n)

    # Tenure fields, drawn once whatever the lot size.
    fields = (
        _smooth_field(bounds, 1, rng, scale=TENURE_AREA_SCALE),
        _smooth_field(bounds, 1, rng, scale=TENURE_LOT_SCALE),
    )
    cell_z = rng.standard_normal(len(zone_kinds.seed_kind))
    clustering = table["tenure_clustering"].to_numpy(float)
    tenure = (cell_z, threshold, clustering, fields, zone_kinds)

    area = shapely.area(blocks)
    mrr = shapely.oriented_envelope(blocks)
    corners = shapely.get_coordinates(mrr).reshape(-1, 5, 2)[:, :4]
    p0 = corners[:, 0]
    e1, e2 = corners[:, 1] - p0, corners[:, 3] - p0
    len1, len2 = np.hypot(*e1.T), np.hypot(*e2.T)
    swap = len2 > len1
    e1[swap], e2[swap] = e2[swap].copy(), e1[swap].copy()
    len1, len2 = np.maximum(len1, len2), np.minimum(len1, len2)
    # Lots are deeper than wide, frontage along the long side.
    aspect = rng.uniform(1.2, 2.2, n)
    frame = (p0, e1, e2, len1, len2, aspect)
    shapely.prepare(blocks)

    # A common factor on lot size brings the count near n_lots. A block's lots per grid cell,
    # measured on one grid, predict its count for other factors without building the grid.
    # The first grid counts leased cells whose centre lies in their block (cheap, about 10 %
    # short of the lots cut: cells reaching into concave blocks); the later ones count lots.
    aim = n_lots * (1.0 + COUNT_MARGIN)
    expected = float(np.sum(area * leased_share[kind] / nominal))
    factor = expected / max(aim, 1.0)
    grid = _lot_grid(frame, nominal * factor, tenure, rng)
    inside = shapely.contains_xy(blocks[grid.block], grid.centre[:, 0], grid.centre[:, 1])
    rate = np.bincount(grid.block[inside], minlength=n) / grid.cells * EDGE_PIECE_FACTOR
    for _ in range(4):
        factor = _solve_factor(frame, nominal, rate, aim, factor)
        grid = _lot_grid(frame, nominal * factor, tenure, rng)
        min_area = np.minimum(40.0, 0.05 * factor * nominal)
        lots, owner, source = _cut_lots(blocks, grid, min_area, rng, progress)
        if n_lots <= len(lots) <= n_lots * (1.0 + COUNT_SURPLUS):
            break
        rate = np.bincount(owner, minlength=n) / grid.cells
    # The surplus stays Government land: the lots whose tenure value lay nearest the
    # threshold, as if the threshold were a little lower.
    if len(lots) > n_lots:
        order = np.argsort(-grid.margin[source], kind="stable")
        lots = lots[np.sort(order[:n_lots])]
    return lots


def _solve_factor(
    frame: tuple[np.ndarray, ...],
    nominal: np.ndarray,
    rate: np.ndarray,
    n_lots: float,
    factor: float,
) -> float:
    """The lot size factor at which blocks with ``rate`` lots per grid cell make ``n_lots``."""
    for _ in range(30):
        n1, n2 = _strips(frame, nominal * factor)
        ratio = float(np.sum(n1 * n2 * rate)) / max(n_lots, 1.0)
        if abs(ratio - 1.0) < 0.002:
            break
        factor *= ratio
    return factor


def _cut_lots(
    blocks: np.ndarray,
    grid: _LotGrid,
    min_area: np.ndarray,
    rng: np.random.Generator,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The leased cells clipped to their blocks: lot polygons, their block and grid cell.

    Cells are clipped to the block set back by ``LOT_SETBACK``, so that lot corners rounded
    to the centimetre (at most 0.71 cm off) stay inside the block and its zones. A few
    blocks are pushed out instead, so that their lots on the edge run into the road reserve
    (``ROAD_ENCROACHMENT_*``); the lots of a block are cut from one outline, so they meet
    edge to edge.
    """
    block = grid.block
    cells = shapely.polygons(np.concatenate([grid.corners, grid.corners[:, :1]], axis=1))
    outline = shapely.buffer(blocks, -LOT_SETBACK, join_style="mitre")
    shapely.prepare(outline)
    inside = shapely.contains_properly(outline[block], cells)
    edge = ~inside
    edge[edge] = shapely.intersects(outline[block[edge]], cells[edge])
    # Blocks pushed out, drawn at random until their edge cells make ROAD_ENCROACHMENT_SHARE
    # of all cells.
    order = rng.permutation(len(blocks))
    reached = np.cumsum(np.bincount(block[edge], minlength=len(blocks))[order])
    out = np.sort(order[: np.searchsorted(reached, ROAD_ENCROACHMENT_SHARE * len(cells)) + 1])
    cell_area = shapely.area(cells)
    n_cells = np.maximum(np.bincount(block, minlength=len(blocks)), 1)
    lot_side = np.sqrt(np.bincount(block, cell_area, len(blocks)) / n_cells)
    depth = ROAD_ENCROACHMENT_DEPTH * lot_side[out]
    depth = np.minimum(
        depth * rng.lognormal(0.0, ROAD_ENCROACHMENT_SIGMA, len(out)), ROAD_ENCROACHMENT_MAX
    )
    grown = shapely.buffer(blocks[out], depth, join_style="mitre", mitre_limit=2.0)
    # Not across a narrow lane into a neighbouring block: the lots stay 1 m clear of it.
    gi, bi = shapely.STRtree(blocks).query(grown, predicate="dwithin", distance=1.0)
    other = bi != out[gi]
    outline[out] = subtract_each(grown, gi[other], shapely.buffer(blocks[bi[other]], 1.0))
    shapely.prepare(outline)
    moved = np.isin(block, out)
    inside[moved] = shapely.contains_properly(outline[block[moved]], cells[moved])
    todo = np.flatnonzero(~inside)
    pieces = cells.copy()
    chunks = np.array_split(todo, max(1, len(todo) // 20_000))
    if progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc="cutting lots", unit="chunk")
    for chunk in chunks:
        pieces[chunk] = shapely.intersection(cells[chunk], outline[block[chunk]])
    parts, src = shapely.get_parts(pieces, return_index=True)
    polygonal = shapely.get_type_id(parts) == 3
    parts, src = parts[polygonal], src[polygonal]
    keep = shapely.area(parts) >= min_area[block[src]]
    lots, ok = _centimetre_grid(parts[keep])
    return lots, block[src][keep][ok], src[keep][ok]


def _centimetre_grid(parts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Polygons with coordinates rounded to the centimetre, valid and polygonal.

    Returns the polygons kept and the mask of ``parts`` they come from.
    """
    rounded = shapely.set_coordinates(parts.copy(), np.round(shapely.get_coordinates(parts), 2))
    # Rounding can make a polygon touch itself; GEOS's precision model repairs those few.
    bad = np.flatnonzero(~shapely.is_valid(rounded))
    rounded[bad] = shapely.set_precision(parts[bad], 0.01)
    ok = (shapely.get_type_id(rounded) == 3) & (shapely.area(rounded) > 0)
    return rounded[ok], ok


def _jittered_cuts(n: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For blocks cut into ``n`` strips, the strip edges in [0, 1] with uneven widths."""
    total = int(n.sum())
    widths = rng.lognormal(0.0, STRIP_SIGMA, total)
    owner = np.repeat(np.arange(len(n)), n)
    sums = np.bincount(owner, widths)
    widths = widths / sums[owner]
    cum = np.cumsum(widths)
    start = np.cumsum(n) - n
    base = np.concatenate([[0.0], cum])[start]
    rel = cum - base[owner]
    rel[np.cumsum(n) - 1] = 1.0
    edges = np.empty(total + len(n))
    first = start + np.arange(len(n))
    edges[first] = 0.0
    mask = np.ones(len(edges), bool)
    mask[first] = False
    edges[mask] = rel
    return edges


def _lot_attributes(lots: np.ndarray, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """LandsD's lot schema: lot number within its demarcation district, ids, area, perimeter.

    Like LandsD's layer it holds leased lots only and has no tenure column: unleased
    Government land is the zoned land between lots.
    """
    n = len(lots)
    pts = shapely.get_coordinates(shapely.point_on_surface(lots))

    xmin, ymin = pts.min(axis=0)
    xmax, ymax = pts.max(axis=0)
    dd_seeds = np.column_stack(
        [
            rng.uniform(xmin, xmax, 4 * N_DEMARCATION_DISTRICTS),
            rng.uniform(ymin, ymax, 4 * N_DEMARCATION_DISTRICTS),
        ]
    )
    # Keep seeds that land among lots, so every district holds lots.
    _, near = cKDTree(pts).query(dd_seeds)
    dd_seeds = pts[np.unique(near)]
    dd_seeds = dd_seeds[rng.permutation(len(dd_seeds))[:N_DEMARCATION_DISTRICTS]]
    # Districts are numbered from the east (North District) to the west (Yuen Long).
    dd_seeds = dd_seeds[np.argsort(-dd_seeds[:, 0])]
    _, dd_idx = cKDTree(dd_seeds).query(pts)
    dd = FIRST_DD + dd_idx

    # Lot numbers run north to south then west to east within each district.
    order = np.lexsort((pts[:, 0], -np.round(pts[:, 1], -2), dd))
    rank = np.empty(n, dtype=int)
    sorted_dd = dd[order]
    first_of = np.searchsorted(sorted_dd, sorted_dd, side="left")
    rank[order] = np.arange(n) - first_of + 1

    dd_text = pd.Series(dd).astype(str)
    rank_text = pd.Series(rank).astype(str)
    return gpd.GeoDataFrame(
        {
            "OBJECTID": np.arange(1, n + 1),
            "LOTCSUID": "DD" + dd_text.str.zfill(3) + "L" + rank_text.str.zfill(5),
            "LOTID": "Lot " + rank_text + " in D.D. " + dd_text,
            "DD_NO": dd,
            "LOT_NO": rank,
            "SHAPE_Area": np.round(shapely.area(lots), 2),
            "SHAPE_Length": np.round(shapely.length(lots), 2),
        },
        geometry=lots,
        crs=HK80,
    )
