"""The synthetic Northern Metropolis: deterministic, realistic in size, schema and layout."""

from __future__ import annotations

from importlib import resources

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

import nmgeo
from nmgeo import datasets, reference
from nmgeo.zoning import zone_family

LANDSD_COLUMNS = {"OBJECTID", "LOTCSUID", "LOTID", "SHAPE_Area", "SHAPE_Length"}
# Lot fields beyond LandsD's own: the demarcation district and the lot number within it.
LOT_NUMBER_COLUMNS = {"DD_NO", "LOT_NO"}
TPB_COLUMNS = {
    "PLAN_NO",
    "ZONE_LABEL",
    "DESC_ENG",
    "DESC_CHT",
    "SPUSE_ENG",
    "SPUSE_CHT",
    "SHAPE_Area",
    "SHAPE_Leng",
}


@pytest.fixture(scope="module")
def sample() -> datasets.Sample:
    return nmgeo.load_sample()


@pytest.fixture(scope="module")
def small() -> datasets.SyntheticMetropolis:
    return nmgeo.synthetic_metropolis(n_lots=10_000, seed=7)


def _wkb(gdf):
    return shapely.to_wkb(gdf.geometry.to_numpy())


def test_same_seed_same_layers_other_seed_other_layers(small):
    again = nmgeo.synthetic_metropolis(n_lots=10_000, seed=7)
    other = nmgeo.synthetic_metropolis(n_lots=10_000, seed=8)
    for name in ("zones", "lots", "roads"):
        a, b = getattr(small, name), getattr(again, name)
        assert len(a) == len(b)
        assert (_wkb(a) == _wkb(b)).all()
        pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
    np.testing.assert_array_equal(small.dem, again.dem)
    assert len(other.lots) != len(small.lots) or not (_wkb(other.lots) == _wkb(small.lots)).all()


@pytest.mark.parametrize("n_lots", [10_000, 45_000])
def test_lot_count_is_near_the_request(n_lots, small):
    """n_lots counts leased lots, the only lots there are (benchmarks rely on it)."""
    metro = small if n_lots == 10_000 else nmgeo.synthetic_metropolis(n_lots=n_lots, seed=3)
    assert abs(len(metro.lots) - n_lots) / n_lots < 0.03


def test_committed_sample_is_what_the_generator_makes(sample):
    """sample_data/ must be regenerable: same seed, same files."""
    metro = nmgeo.synthetic_metropolis(datasets.SAMPLE_N_LOTS, seed=datasets.SAMPLE_SEED)
    assert sample.meta["seed"] == datasets.SAMPLE_SEED
    assert len(sample.parcels) == len(metro.lots)
    assert len(sample.zones) == len(metro.zones)
    stored = pyogrio.read_dataframe(sample.directory / "nm_sample.gpkg", layer="lots")
    assert (stored["LOTCSUID"].to_numpy() == metro.lots["LOTCSUID"].to_numpy()).all()
    # Coordinates are stored to the centimetre.
    assert shapely.equals_exact(
        stored.geometry.to_numpy(), metro.lots.geometry.to_numpy(), 0.011
    ).all()


def test_sample_size_and_outline(sample):
    outline_ha = sample.boundary.to_crs("EPSG:2326").area.sum() / 1e4
    assert 27_000 <= outline_ha <= 33_000
    assert len(sample.parcels) >= 40_000
    assert len(sample.zones) >= 1_500
    families = zone_family(sample.zones["zone_label"]).unique()
    assert len(families) >= 12
    assert sample.parcels.crs.to_epsg() == 2326
    assert sample.zones.crs.to_epsg() == 2326
    # Every lot and zone lies inside the outline (allowing for the 1 cm coordinate grid).
    outline = sample.boundary.geometry.iloc[0].buffer(0.05)
    assert shapely.within(sample.parcels.geometry.to_numpy(), outline).all()


def test_sample_schemas_are_the_real_ones(sample):
    gpkg = sample.directory / "nm_sample.gpkg"
    lots = pyogrio.read_info(gpkg, layer="lots")
    zones = pyogrio.read_info(gpkg, layer="ozp_zones")
    # LandsD's fields and nothing invented: like the real layer, it holds leased lots only,
    # so it has no tenure column (unleased Government land has no lot).
    assert set(lots["fields"]) == LANDSD_COLUMNS | LOT_NUMBER_COLUMNS
    assert "lot_type" not in sample.parcels.columns
    assert TPB_COLUMNS <= set(zones["fields"])
    assert sample.parcels["parcel_id"].is_unique
    # "Lot N in D.D. M" agrees with the numeric columns.
    text = (
        "Lot "
        + sample.parcels["LOT_NO"].astype(str)
        + " in D.D. "
        + sample.parcels["DD_NO"].astype(str)
    )
    assert (text == sample.parcels["LOTID"]).all()
    assert sample.parcels["DD_NO"].nunique() >= 60


def test_sample_is_zoned_with_plausible_land_uses(sample):
    uses = sample.parcels["land_use"].value_counts()
    for cls in (
        "commercial",
        "public_facility",
        "open_space",
        "village",
        "residential",
        "industrial",
        "agriculture",
        "open_storage",
        "conservation",
    ):
        assert uses.get(cls, 0) > 50, cls
    assert uses.get("unknown", 0) == 0
    # Most lots lie inside one zone; some straddle zone lines, as old lots do on real plans
    # (real DD 51/52/92/95: 9.8 % of lots straddle two non-road zones; sample: 7 %).
    assert (sample.parcels["zoning_share"] > 0.999).mean() > 0.8
    assert 0.04 < (sample.parcels["n_zones"] >= 2).mean() < 0.2


def test_sample_lots_get_the_major_zone_they_lie_in(sample):
    """The sample fills the real NM outline, which the four major zones tile: every lot has
    a major zone, and a lot wholly inside a zone (plain shapely on the packaged file) has
    that zone."""
    with resources.as_file(resources.files("nmgeo") / "data" / "major_zones.geojson") as path:
        zones = gpd.read_file(path).to_crs("EPSG:2326")
    lots = sample.parcels.geometry.to_numpy()
    got = sample.parcels["major_zone"]
    assert got.notna().all()
    for short, zone in zip(zones["short_name"], zones.geometry, strict=True):
        inside = shapely.within(lots, zone)
        assert inside.sum() > 1_000, short
        assert (got[inside] == short).all(), short


def _hk80(lat, lon):
    from pyproj import Transformer

    return Transformer.from_crs(4326, 2326, always_xy=True).transform(lon, lat)


def test_commercial_cores_sit_at_the_planned_centres(sample):
    commercial = sample.parcels[sample.parcels["land_use"] == "commercial"]
    pts = shapely.get_coordinates(commercial.geometry.representative_point())
    for lat, lon in [(22.5020, 114.0750), (22.4430, 113.9950), (22.5000, 114.1050)]:
        x, y = _hk80(lat, lon)
        near = np.hypot(pts[:, 0] - x, pts[:, 1] - y) < 1500
        assert near.sum() > 20, (lat, lon)


def test_blocks_are_separated_by_road_reserves_of_8_to_40_m(sample):
    """Zones abut within a block; neighbouring blocks are 8-40 m apart across unzoned reserves."""
    zones = sample.zones[sample.zones["zone_label"] != "Road"]  # zoned trunk road corridors
    geoms = zones.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="dwithin", distance=0.05)
    n = len(geoms)
    _, block = connected_components(
        coo_array((np.ones(len(i)), (i, j)), shape=(n, n)), directed=False
    )
    # Countryside zones often abut with no road between them, as on real rural plans.
    assert (np.bincount(block) >= 2).sum() > 500
    # Nearest zone of another block, for every block within 60 m of one.
    i, j = tree.query(geoms, predicate="dwithin", distance=60.0)
    other = block[i] != block[j]
    d = shapely.distance(geoms[i[other]], geoms[j[other]])
    nearest = pd.Series(d).groupby(block[i[other]]).min()
    # Where several blocks' corners meet at a road junction, two diagonal corners can come
    # a little closer; these are rare.
    assert (nearest >= 8.0 - 0.05).mean() > 0.99
    assert nearest.quantile(0.5) <= 20.0
    assert (nearest <= 40.0 + 0.05).mean() > 0.95


def _leased_share_by_zone(sample) -> gpd.GeoDataFrame:
    """Zones with the share of their area covered by leased lots (plain geopandas overlay)."""
    zones = sample.zones[["land_use", "geometry"]].reset_index(drop=True)
    zones["zone"] = np.arange(len(zones))
    pieces = gpd.overlay(zones, sample.parcels[["geometry"]], how="intersection")
    leased = pieces.area.groupby(pieces["zone"]).sum()
    zones["area"] = zones.area
    zones["leased"] = leased.reindex(zones["zone"], fill_value=0.0).to_numpy()
    return zones


def test_tenure_follows_the_real_land_fabric(sample):
    """Lots are leased land only: NDA commercial and G/IC land is mostly Government land.

    Real figures (LandsD lots of D.D. 51, 52, 92 and 95 over TPB's North district plans,
    inside the lots' extent): G/IC 13 % of the zoned area leased (3 % on the Kwu Tung North
    NDA plan) and 60 % of its zones hold no lot; commercial 44 % on S/KTN; agriculture
    54.5 %; villages 23.5 % (house lots among lanes and Government land); a quarter of all land.
    """
    zones = _leased_share_by_zone(sample)
    by_use = zones.groupby("land_use")[["area", "leased"]].sum()
    share = by_use["leased"] / by_use["area"]

    def combined(*uses):
        return by_use.loc[list(uses), "leased"].sum() / by_use.loc[list(uses), "area"].sum()

    # Commercial and G/IC zones are mostly not covered by lots ...
    assert combined("commercial", "public_facility") < 0.4
    assert share["public_facility"] < 0.25
    assert 0.25 < share["commercial"] < 0.6
    # ... farmland mostly is, villages partly, and together about twice as much.
    assert share["agriculture"] > 0.45
    assert 0.15 < share["village"] < 0.4
    assert combined("village", "agriculture") > 1.5 * combined("commercial", "public_facility")
    assert share["conservation"] < 0.2
    assert 0.15 < by_use["leased"].sum() / by_use["area"].sum() < 0.3

    # Government resumes whole sites: most G/IC zones hold no lot at all, while nearly every
    # village and farmland zone mixes private lots with Government land.
    zones["share"] = zones["leased"] / zones["area"]
    gic = zones[zones["land_use"] == "public_facility"]
    assert (gic["share"] < 0.01).mean() > 0.5
    rural = zones[zones["land_use"].isin(["village", "agriculture"])]
    assert (rural["share"] < 0.01).mean() < 0.2
    assert rural["share"].median() < 0.9


def test_lots_stay_in_their_zones_but_a_few_run_into_the_road_reserve(sample):
    """As on the real North data: 0.5 % of the lots (24 of 4,501) have land outside every
    zone, a median 1.8 % of the lot; every other lot lies within the zones."""
    lots = sample.parcels[["parcel_id", "geometry"]]
    pieces = gpd.overlay(lots, sample.zones[["geometry"]], how="intersection")
    zoned = pieces.area.groupby(pieces["parcel_id"]).sum()
    area = lots.set_index("parcel_id").area
    rest = (area - zoned.reindex(area.index, fill_value=0.0)) / area
    out = rest[rest > 1e-6]
    assert 0.003 < len(out) / len(lots) < 0.008
    assert 0.01 < out.median() < 0.04
    # Every lot is cut from a block, so none lies wholly outside the zones.
    assert out.max() < 1.0
    # Overlay round-off along the zone edges stays far below a square centimetre per lot.
    assert (rest[rest <= 1e-6].abs() * area[rest <= 1e-6]).max() < 1e-4
    # The lots meet edge to edge, those that run out too: no two overlap.
    geoms = lots.geometry.to_numpy()
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    i, j = i[i < j], j[i < j]
    assert len(i) > len(geoms)
    assert shapely.area(shapely.intersection(geoms[i], geoms[j])).sum() < 1e-6


def test_roads_are_centrelines_with_widths(sample):
    roads = sample.roads
    assert set(shapely.get_type_id(roads.geometry.to_numpy())) <= {1, 5}
    assert roads["width_m"].between(8.0, 40.0).all()
    assert {"local", "trunk"} <= set(roads["road_class"])
    # No lot sits on a road centreline.
    lots = sample.parcels.geometry.to_numpy()
    li, ri = shapely.STRtree(lots).query(roads.geometry.to_numpy(), predicate="intersects")
    assert len(li) == 0


def test_dem_has_hills_where_the_hills_are(sample):
    with rasterio.open(sample.dem_path) as src:
        assert src.crs.to_epsg() == 2326
        assert src.res == (25.0, 25.0)
        peaks = [_hk80(22.4580, 114.0850), _hk80(22.4950, 114.2200)]  # Kai Kung Leng, Pat Sin Leng
        plains = [_hk80(22.4450, 114.0280), _hk80(22.4960, 114.1320)]  # Yuen Long, Sheung Shui
        peak_z = [v[0] for v in src.sample(peaks)]
        plain_z = [v[0] for v in src.sample(plains)]
    assert min(peak_z) > 300
    assert max(plain_z) < 40


def test_load_sample_reports_the_folder_and_counts(sample):
    text = repr(sample)
    assert f"{len(sample.parcels)} parcels" in text
    assert reference.nm_boundary().crs.to_epsg() == 2326
