"""Generator of a synthetic Northern Metropolis: blocks, OZP-like zones, lots, roads and a DEM."""

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
from scipy.spatial import cKDTree

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

# Block spacing (m) of the jittered quadtree that seeds the street blocks.
COARSE_CELL = 1200.0
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
# Grid cells cut by a block's oblique edge sometimes fall into two lots.
EDGE_PIECE_FACTOR = 1.04


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
    """Zone kinds of the generator: TPB label, descriptions, lot sizes, profile weights."""
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
    """Block seeds: 150 m apart in cores, 300 m on town fringes, 600 m rural, 1.2 km on hills."""
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
        wanted = np.where(elev > HILL_ELEVATION, COARSE_CELL, 600.0)
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


def generate(
    boundary_gdf: gpd.GeoDataFrame, *, n_lots: int, seed: int, progress: bool = False
) -> Metropolis:
    """Build the synthetic Northern Metropolis inside ``boundary_gdf`` (EPSG:2326)."""
    rng = np.random.default_rng(seed)
    boundary = shapely.union_all(boundary_gdf.to_crs(HK80).geometry.to_numpy())
    bounds = boundary.bounds
    terrain = make_terrain(bounds, rng)
    place_table = places()

    # --- street blocks: Voronoi cells of quadtree seeds -------------------------------------
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
    cells, seeds = cells[keep], seeds[keep]
    elev = terrain.sample(seeds[:, 0], seeds[:, 1])
    place_table = pd.concat([place_table, _extra_villages(boundary, terrain, place_table, rng)])
    kind, profile = _choose_kinds(seeds[:, 0], seeds[:, 1], elev, rng, bounds, place_table)
    table = zoning_table()
    n_cells = len(cells)

    urban = np.isin(profile, URBAN_PROFILES)
    offset = np.where(
        urban, rng.uniform(*OFFSET_URBAN, n_cells), rng.uniform(*OFFSET_RURAL, n_cells)
    )

    # Local roads: edges shared by neighbouring cells, width = the two setbacks.
    tree = shapely.STRtree(cells)
    a, b = tree.query(cells, predicate="intersects")
    pair = a < b
    a, b = a[pair], b[pair]
    shared = shapely.intersection(cells[a], cells[b])
    no_lots = table["lot_cover"].to_numpy()[kind] < 0.2
    is_line = shapely.get_type_id(shared) == 1
    is_line |= shapely.get_type_id(shared) == 5
    is_road = is_line & ~(no_lots[a] & no_lots[b])
    local = shapely.line_merge(shared[is_road])
    local_width = (offset[a] + offset[b])[is_road]

    trunk_lines, trunk_names = _trunk_roads(boundary)
    trunk_half = rng.uniform(*TRUNK_HALF_WIDTH, len(trunk_lines))
    corridors = shapely.buffer(trunk_lines, trunk_half, cap_style="flat")
    district_lines = _district_roads(boundary, place_table, rng)
    district_half = rng.uniform(*DISTRICT_HALF_WIDTH, len(district_lines))
    district_corridors = shapely.buffer(district_lines, district_half, cap_style="flat")
    corridor_union = shapely.union_all(np.concatenate([corridors, district_corridors]))

    # Blocks: cells minus trunk and district road corridors, set back from the local roads.
    blocks = shapely.difference(cells, corridor_union)
    parts, owner = shapely.get_parts(blocks, return_index=True)
    parts = shapely.buffer(parts, -offset[owner], join_style="mitre")
    parts_b, owner_b = shapely.get_parts(parts, return_index=True)
    owner = owner[owner_b]
    keep = shapely.area(parts_b) > 1500.0
    blocks, owner = parts_b[keep], owner[keep]
    block_kind = kind[owner]
    block_profile = profile[owner]

    # --- zones: one per block, about one in eight split between two kinds --------------------
    zone_geom, zone_kind, zone_block = _split_blocks(
        blocks, block_kind, block_profile, rng, bounds
    )
    zones = _zones_frame(zone_geom, zone_kind, zone_block, corridors, trunk_names, rng)

    # --- lots ------------------------------------------------------------------------------
    lots = _subdivide(blocks, block_kind, n_lots, rng, progress=progress)
    ratio = len(lots) / n_lots
    if abs(ratio - 1.0) > 0.03:
        # Edge pieces depend on lot size; one corrected pass lands within a few percent.
        lots = _subdivide(blocks, block_kind, round(n_lots / ratio), rng, progress=progress)
    lots = _lot_attributes(lots, zones, rng)

    roads = gpd.GeoDataFrame(
        {
            "road_id": np.arange(1, len(local) + len(district_lines) + len(trunk_lines) + 1),
            "name": np.concatenate(
                [np.full(len(local) + len(district_lines), None, dtype=object), trunk_names]
            ),
            "road_class": np.concatenate(
                [
                    np.full(len(local), "local"),
                    np.full(len(district_lines), "district"),
                    np.full(len(trunk_lines), "trunk"),
                ]
            ),
            "width_m": np.round(
                np.concatenate([local_width, 2 * district_half, 2 * trunk_half]), 1
            ),
        },
        geometry=np.concatenate([local, district_lines, trunk_lines]),
        crs=HK80,
    )
    roads = roads[shapely.get_type_id(roads.geometry.to_numpy()) != 7].reset_index(drop=True)
    boundary_out = gpd.GeoDataFrame(
        {"name": ["Northern Metropolis (approximate)"]}, geometry=[boundary], crs=HK80
    )
    return Metropolis(zones=zones, lots=lots, roads=roads, terrain=terrain, boundary=boundary_out)


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


def _split_blocks(
    blocks: np.ndarray,
    kind: np.ndarray,
    profile: np.ndarray,
    rng: np.random.Generator,
    bounds: tuple[float, float, float, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split about one block in eight across its long axis into two zones of different kinds."""
    n = len(blocks)
    area = shapely.area(blocks)
    candidates = (area > 15_000) & (profile != "hill")
    split = candidates & (rng.uniform(size=n) < 0.14)
    idx = np.flatnonzero(split)
    mrr = shapely.oriented_envelope(blocks[idx])
    corners = shapely.get_coordinates(mrr).reshape(-1, 5, 2)[:, :4]
    p0, p1, p3 = corners[:, 0], corners[:, 1], corners[:, 3]
    t = rng.uniform(0.3, 0.7, len(idx))[:, None]
    # Half of the oriented rectangle on the p0 side of the cut.
    q1 = p0 + (p1 - p0) * t
    q2 = p3 + (p1 - p0) * t
    half = shapely.polygons(np.stack([p0, q1, q2, p3, p0], axis=1))
    half = shapely.buffer(half, 0.0)
    first = shapely.intersection(blocks[idx], half)
    second = shapely.difference(blocks[idx], half)

    table = zoning_table()
    weights = table[list(PROFILES)].to_numpy(float)
    prof_col = np.array([PROFILES.index(p) for p in profile[idx]])
    w = weights[:, prof_col].T.copy()
    w[np.arange(len(idx)), kind[idx]] = 0.0
    w[w.sum(axis=1) == 0, :] = 1.0
    cum = np.cumsum(w, axis=1) / w.sum(axis=1, keepdims=True)
    other_kind = (cum < rng.uniform(size=(len(idx), 1))).sum(axis=1)

    geoms = np.concatenate([blocks[~split], first, second])
    kinds = np.concatenate([kind[~split], kind[idx], other_kind])
    block_of = np.concatenate([np.flatnonzero(~split), idx, idx])
    ok = ~shapely.is_empty(geoms) & (shapely.area(geoms) > 100.0)
    return geoms[ok], kinds[ok], block_of[ok]


def _zones_frame(
    geoms: np.ndarray,
    kinds: np.ndarray,
    block_of: np.ndarray,
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


def _subdivide(
    blocks: np.ndarray,
    kind: np.ndarray,
    n_lots: int,
    rng: np.random.Generator,
    *,
    progress: bool = False,
) -> gpd.GeoDataFrame:
    """Cut every block into lots on a jittered grid aligned with the block's long axis."""
    table = zoning_table()
    lot_size = table["lot_size_m2"].to_numpy(float)[kind]
    cover = table["lot_cover"].to_numpy(float)[kind]
    area = shapely.area(blocks)
    expected = float(np.sum(area * cover / lot_size))
    lot_size = lot_size * expected / max(n_lots, 1)

    mrr = shapely.oriented_envelope(blocks)
    corners = shapely.get_coordinates(mrr).reshape(-1, 5, 2)[:, :4]
    p0 = corners[:, 0]
    e1, e2 = corners[:, 1] - p0, corners[:, 3] - p0
    len1, len2 = np.hypot(*e1.T), np.hypot(*e2.T)
    swap = len2 > len1
    e1[swap], e2[swap] = e2[swap].copy(), e1[swap].copy()
    len1, len2 = np.maximum(len1, len2), np.minimum(len1, len2)
    # Lots are deeper than wide, frontage along the long side.
    aspect = rng.uniform(1.2, 2.2, len(blocks))
    fill = area / shapely.area(mrr)
    # Rounding to whole strips and the blocks' oblique edges change the count; a few
    # rescaling passes on the grid counts bring it close to n_lots.
    for _ in range(4):
        width = np.sqrt(lot_size / aspect)
        n1 = np.clip(np.rint(len1 / width), 1, None).astype(int)
        n2 = np.clip(np.rint(len2 / (width * aspect)), 1, None).astype(int)
        planned = float(np.sum(n1 * n2 * cover * fill)) * EDGE_PIECE_FACTOR
        lot_size = lot_size * planned / max(n_lots, 1)

    u_edges = _jittered_cuts(n1, rng)
    v_edges = _jittered_cuts(n2, rng)
    count = n1 * n2
    block = np.repeat(np.arange(len(blocks)), count)
    local = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    i = local % n1[block]
    j = local // n1[block]
    ustart = np.repeat(np.cumsum(n1 + 1) - (n1 + 1), count)
    vstart = np.repeat(np.cumsum(n2 + 1) - (n2 + 1), count)
    u0, u1 = u_edges[ustart + i], u_edges[ustart + i + 1]
    v0, v1 = v_edges[vstart + j], v_edges[vstart + j + 1]
    origin, a1, a2 = p0[block], e1[block], e2[block]
    ring = np.stack(
        [
            origin + a1 * u0[:, None] + a2 * v0[:, None],
            origin + a1 * u1[:, None] + a2 * v0[:, None],
            origin + a1 * u1[:, None] + a2 * v1[:, None],
            origin + a1 * u0[:, None] + a2 * v1[:, None],
            origin + a1 * u0[:, None] + a2 * v0[:, None],
        ],
        axis=1,
    )
    grid = shapely.polygons(ring)
    leased = rng.uniform(size=len(grid)) < cover[block]
    grid, block = grid[leased], block[leased]
    shapely.prepare(blocks)
    inside = shapely.contains_properly(blocks[block], grid)
    pieces = grid.copy()
    edge = np.flatnonzero(~inside)
    chunks = np.array_split(edge, max(1, len(edge) // 20_000))
    if progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc="cutting lots", unit="chunk")
    for chunk in chunks:
        pieces[chunk] = shapely.intersection(grid[chunk], blocks[block[chunk]])
    parts, src = shapely.get_parts(pieces, return_index=True)
    polygonal = shapely.get_type_id(parts) == 3
    parts, src = parts[polygonal], src[polygonal]
    nominal = lot_size[block[src]]
    keep = shapely.area(parts) >= np.minimum(40.0, 0.05 * nominal)
    parts, src = parts[keep], src[keep]
    parts = shapely.set_precision(parts, 0.01)
    ok = shapely.get_type_id(parts) == 3
    return gpd.GeoDataFrame(
        {"block": block[src][ok], "kind": kind[block[src]][ok]}, geometry=parts[ok], crs=HK80
    )


def _jittered_cuts(n: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For blocks cut into ``n`` strips, the strip edges in [0, 1] with uneven widths."""
    total = int(n.sum())
    widths = rng.uniform(0.6, 1.4, total)
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


def _lot_attributes(
    lots: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """LandsD-like attributes: lot number within its demarcation district, ids, lot type."""
    table = zoning_table()
    n = len(lots)
    geoms = lots.geometry.to_numpy()
    pts = shapely.get_coordinates(shapely.point_on_surface(geoms))

    xmin, ymin, xmax, ymax = lots.total_bounds
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
    gov = rng.uniform(size=n) < table["gov_share"].to_numpy(float)[lots["kind"].to_numpy()]
    area = shapely.area(geoms)
    frame = gpd.GeoDataFrame(
        {
            "OBJECTID": np.arange(1, n + 1),
            "LOTCSUID": "DD" + dd_text.str.zfill(3) + "L" + rank_text.str.zfill(5),
            "LOTID": "Lot " + rank_text + " in D.D. " + dd_text,
            "DD_NO": dd,
            "LOT_NO": rank,
            "lot_type": np.where(gov, "government", "private"),
            "SHAPE_Area": np.round(area, 2),
            "SHAPE_Length": np.round(shapely.length(geoms), 2),
        },
        geometry=geoms,
        crs=HK80,
    )
    return frame
