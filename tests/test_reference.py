"""Specification of nmgeo.reference: the NM's reference layers, in EPSG:2326.

Every stated accuracy is held against the published source it comes from, read here with
plain json / geopandas / shapely / pyproj:

- the boundary control points against the Immigration Department's published HK1980 Grid
  Easting/Northing (``tests/data/reference/control_points.geojson``);
- the open stations against the Lands Department's positions
  (``tests/data/reference/mtr_stations.json``), projected with pyproj;
- Kwu Tung station against its railway zones on plan S/KTN/4 (``tests/data/north/KTN.json``);
- the NM outline against its source polygons (``nmgeo/data/nm_districts.geojson``), the
  S/LMCL plan area (``tests/data/north/LMCL.json``) and, when the full shared data set is
  beside the checkout, the original district file and all the North-district zoning and lots.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from functools import cache
from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st
from pyproj import CRS, Geod, Transformer
from shapely.geometry import Point

import nmgeo
from nmgeo import reference
from nmgeo.errors import InputError, NmgeoError

HK80 = CRS.from_epsg(2326)
# HK1980 Grid envelope of the Northern Metropolis's mainland (NOTES): E min, N min, E max, N max.
NM_ENVELOPE = (812_000.0, 826_000.0, 846_000.0, 848_000.0)
TO_HK80 = Transformer.from_crs("EPSG:4326", "EPSG:2326", always_xy=True)
TO_WGS84 = Transformer.from_crs("EPSG:2326", "EPSG:4326", always_xy=True)

HERE = Path(__file__).resolve().parent
PUBLISHED = HERE / "data" / "reference"
EXTRACT = HERE / "data" / "north"
REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
FULL = REALDATA / "north"


def hk80(lat: float, lon: float) -> Point:
    """A WGS84 position as an HK1980 Grid point, straight through pyproj."""
    return Point(*TO_HK80.transform(lon, lat))


def need_full() -> None:
    if not (FULL.is_dir() and (REALDATA / "districts_2001.geojson").is_file()):
        pytest.skip("the full shared data (shared/realdata beside the checkout) is absent")


def data_file(name: str) -> gpd.GeoDataFrame:
    """A packaged GeoJSON read with plain geopandas, in EPSG:2326."""
    with resources.as_file(resources.files("nmgeo") / "data" / name) as path:
        gdf = gpd.read_file(path)
    return (gdf.set_crs("EPSG:4326") if gdf.crs is None else gdf).to_crs("EPSG:2326")


def tpb_zones(path: Path) -> gpd.GeoDataFrame:
    """A TPB per-plan zone file, upper-case fields, in EPSG:2326."""
    gdf = gpd.read_file(path)
    gdf = gdf.rename(columns={c: c.upper() for c in gdf.columns if c != "geometry"})
    return gdf.set_crs("EPSG:2326") if gdf.crs is None else gdf.to_crs("EPSG:2326")


def specified_use(zones: gpd.GeoDataFrame) -> pd.Series:
    return zones["SPUSE_ENG"].map(lambda s: re.sub(r"\s+", " ", str(s or "")).strip().upper())


@cache
def published_bcps() -> dict[str, Point]:
    """Facility name -> the published Easting/Northing (HK1980 Grid)."""
    data = json.loads((PUBLISHED / "control_points.geojson").read_text(encoding="utf-8"))
    return {
        f["properties"]["Facility Name"]: Point(
            f["properties"]["Easting"], f["properties"]["Northing"]
        )
        for f in data["features"]
    }


@cache
def landsd_stations() -> dict[str, Point]:
    """English station name -> the LandsD position, projected to HK1980 Grid with pyproj."""
    data = json.loads((PUBLISHED / "mtr_stations.json").read_text(encoding="utf-8"))
    return {s["name_en"]: Point(*TO_HK80.transform(s["long"], s["lat"])) for s in data.values()}


@cache
def source_outline() -> shapely.Geometry:
    """The union of the packaged source polygons (districts + Loop), EPSG:2326."""
    return shapely.union_all(data_file("nm_districts.geojson").geometry.to_numpy())


@cache
def loop() -> shapely.Geometry:
    """The Lok Ma Chau Loop: the union of the S/LMCL/2 zones (the committed, unchanged plan)."""
    return shapely.union_all(tpb_zones(EXTRACT / "LMCL.json").geometry.to_numpy())


# --------------------------------------------------------------------------------------
# Geodesy: the published Lands Department check point.
# --------------------------------------------------------------------------------------
CHECK_E, CHECK_N = 835_411.431, 817_266.016
CHECK_LAT, CHECK_LON = 22.294313001, 114.168562005


def test_landsd_check_point_wgs84_to_hk80_within_a_centimetre():
    e, n = TO_HK80.transform(CHECK_LON, CHECK_LAT)
    assert math.hypot(e - CHECK_E, n - CHECK_N) <= 0.01


def test_landsd_check_point_hk80_to_wgs84_within_a_centimetre():
    lon, lat = TO_WGS84.transform(CHECK_E, CHECK_N)
    # Metre error of the computed WGS84 point, measured in the HK1980 Grid against the
    # published grid coordinates and, independently, on the ellipsoid.
    e, n = TO_HK80.transform(lon, lat)
    assert math.hypot(e - CHECK_E, n - CHECK_N) <= 0.01
    _, _, metres = Geod(ellps="WGS84").inv(lon, lat, CHECK_LON, CHECK_LAT)
    assert metres <= 0.01


def test_geopandas_to_crs_reproduces_the_check_point():
    # The reference layers are projected with GeoSeries.to_crs; it must take the same path.
    p = gpd.GeoSeries([Point(CHECK_LON, CHECK_LAT)], crs="EPSG:4326").to_crs("EPSG:2326").iloc[0]
    assert math.hypot(p.x - CHECK_E, p.y - CHECK_N) <= 0.01


# --------------------------------------------------------------------------------------
# Control points: the Immigration Department's published positions.
# --------------------------------------------------------------------------------------
BCP_NAMES = {
    "Lo Wu",
    "Lok Ma Chau Spur Line (Futian)",
    "Lok Ma Chau (Huanggang)",
    "Man Kam To",
    "Heung Yuen Wai (Liantang)",
    "Sha Tau Kok",
    "Shenzhen Bay",
}
# The seven land boundary control points in the published dataset (of its 16 records).
PUBLISHED_LAND_BCPS = {
    "Lo Wu Control Point",
    "Lok Ma Chau Spur Line Control Point",
    "Lok Ma Chau Control Point",
    "Man Kam To Control Point",
    "Heung Yuen Wai Control Point(temporarily opened for goods vehicle clearance only)",
    "Sha Tau Kok Control Point",
    "Shenzhen Bay Control Point",
}


def test_control_points_are_the_seven_bcps_in_hk80():
    bcps = reference.control_points()
    assert isinstance(bcps, gpd.GeoDataFrame)
    assert bcps.crs == HK80
    assert len(bcps) == 7
    assert set(bcps["name"]) == BCP_NAMES
    expected = [
        "name", "name_zh", "mode", "published_name", "easting", "northing",
        "lat", "lon", "accuracy_m", "source", "geometry",
    ]  # fmt: skip
    assert list(bcps.columns) == expected
    assert set(bcps.geometry.geom_type) == {"Point"}
    assert set(bcps["published_name"]) == PUBLISHED_LAND_BCPS


def test_every_bcp_is_within_its_accuracy_of_the_published_easting_northing():
    published = published_bcps()
    for row in reference.control_points().itertuples():
        offset = row.geometry.distance(published[row.published_name])
        assert offset <= row.accuracy_m, (row.name, offset)


def test_bcp_positions_are_the_published_ones_exactly():
    # The data are the published whole-metre Easting/Northing, not a re-projection.
    published = published_bcps()
    for row in reference.control_points().itertuples():
        p = published[row.published_name]
        assert (row.easting, row.northing) == (p.x, p.y), row.name
        assert (row.geometry.x, row.geometry.y) == (p.x, p.y), row.name


def test_published_wgs84_points_disagree_with_the_published_grid_positions():
    # Why the data use Easting/Northing: the dataset's own WGS84 points are up to 54 m off.
    data = json.loads((PUBLISHED / "control_points.geojson").read_text(encoding="utf-8"))
    offsets = {}
    for f in data["features"]:
        lon, lat = f["geometry"]["coordinates"]
        e, n = TO_HK80.transform(lon, lat)
        offsets[f["properties"]["Facility Name"]] = math.hypot(
            e - f["properties"]["Easting"], n - f["properties"]["Northing"]
        )
    land = [offsets[name] for name in PUBLISHED_LAND_BCPS]
    assert 50 < max(land) < 60


def test_control_points_carry_source_and_an_honest_accuracy():
    bcps = reference.control_points().set_index("name")
    # A control point is a building complex a few hundred metres across: 50-150 m.
    assert bcps["accuracy_m"].between(50, 150).all()
    assert (
        bcps.loc["Lok Ma Chau (Huanggang)", "accuracy_m"] >= bcps.loc["Man Kam To", "accuracy_m"]
    )
    assert all(bcps["source"].str.contains("Immigration Department"))
    assert all(bcps["source"].str.contains("Control Points"))
    assert all(bcps["source"].str.contains("DATA.GOV.HK"))
    assert "Shenzhen side" in bcps.loc["Shenzhen Bay", "source"]
    assert set(bcps["mode"]) <= {"rail", "road", "road and pedestrian"}
    assert bcps.loc["Lo Wu", "mode"] == "rail"
    assert bcps.loc["Man Kam To", "mode"] == "road"


def test_control_point_lat_lon_are_pyproj_of_the_grid_position():
    for row in reference.control_points().itertuples():
        lon, lat = TO_WGS84.transform(row.easting, row.northing)
        assert (row.lat, row.lon) == pytest.approx((lat, lon), abs=1e-9), row.name
        assert hk80(row.lat, row.lon).distance(row.geometry) < 1e-3, row.name


def test_all_seven_bcps_lie_in_the_nm_envelope():
    xmin, ymin, xmax, ymax = NM_ENVELOPE
    for row in reference.control_points().itertuples():
        assert xmin <= row.easting <= xmax and ymin <= row.northing <= ymax, row.name


def test_six_land_crossings_lie_inside_the_nm_and_shenzhen_bay_outside():
    outline = reference.nm_boundary().geometry.iloc[0]
    bcps = reference.control_points().set_index("name").geometry
    # The six land-border crossings sit on the Shenzhen River / land boundary: inside.
    for name in BCP_NAMES - {"Shenzhen Bay"}:
        assert outline.contains(bcps[name]), name
    # Shenzhen Bay's Hong Kong Port Area is on the Shenzhen side, across Deep Bay.
    bay = bcps["Shenzhen Bay"]
    assert not outline.contains(bay)
    assert not source_outline().contains(bay)
    assert 3_000 < outline.distance(bay) < 6_000


def test_lok_ma_chau_bcps_are_next_to_lok_ma_chau_station():
    bcps = reference.control_points().set_index("name")
    station = landsd_stations()["Lok Ma Chau"]
    # The spur-line control point is at the station; the road crossing is 1 km east.
    spur = bcps.loc["Lok Ma Chau Spur Line (Futian)"]
    assert spur.geometry.distance(station) <= spur["accuracy_m"]
    assert 500 < bcps.loc["Lok Ma Chau (Huanggang)"].geometry.distance(station) < 1_500


def test_lo_wu_bcp_is_just_north_of_lo_wu_station():
    bcp = reference.control_points().set_index("name").geometry["Lo Wu"]
    station = landsd_stations()["Lo Wu"]
    # The control point building spans the river north of the station's address point.
    assert bcp.distance(station) <= 300
    assert bcp.y > station.y


# --------------------------------------------------------------------------------------
# Rail stations: LandsD's points for open stations, plan S/KTN for Kwu Tung.
# --------------------------------------------------------------------------------------
OPEN_STATIONS = {
    "Sheung Shui": ("East Rail Line", 1930),
    "Fanling": ("East Rail Line", 1910),
    "Lo Wu": ("East Rail Line", 1949),
    "Lok Ma Chau": ("East Rail Line", 2007),
    "Kam Sheung Road": ("Tuen Ma Line", 2003),
    "Yuen Long": ("Tuen Ma Line", 2003),
    "Long Ping": ("Tuen Ma Line", 2003),
    "Tin Shui Wai": ("Tuen Ma Line", 2003),
    "Siu Hong": ("Tuen Ma Line", 2003),
    "Tuen Mun": ("Tuen Ma Line", 2003),
}
PLANNED_STATIONS = {
    "Kwu Tung": ("East Rail Line", 2027),
    "Hung Shui Kiu": ("Tuen Ma Line", 2030),
    "Au Tau": ("Northern Link", 2034),
    "Ngau Tam Mei": ("Northern Link", 2034),
    "San Tin": ("Northern Link", 2034),
}
# Stations in Tuen Mun district, outside the NM outline.
OUTSIDE_NM = {"Siu Hong", "Tuen Mun"}


def test_rail_stations_schema_and_crs():
    stations = reference.rail_stations()
    assert stations.crs == HK80
    expected = [
        "name", "line", "status", "opening_year", "year_note",
        "easting", "northing", "lat", "lon", "accuracy_m", "source", "geometry",
    ]  # fmt: skip
    assert list(stations.columns) == expected
    assert stations["name"].is_unique
    assert set(stations["line"]) == {"East Rail Line", "Tuen Ma Line", "Northern Link"}
    assert set(stations["status"]) == {"open", "planned"}


def test_rail_stations_lines_status_and_years():
    stations = reference.rail_stations().set_index("name")
    for table, status in ((OPEN_STATIONS, "open"), (PLANNED_STATIONS, "planned")):
        for name, (line, year) in table.items():
            assert stations.loc[name, "status"] == status, name
            assert stations.loc[name, "line"] == line, name
            assert stations.loc[name, "opening_year"] == year, name
    assert len(stations) == len(OPEN_STATIONS) + len(PLANNED_STATIONS)


def test_every_open_station_is_within_its_accuracy_of_the_landsd_point():
    landsd = landsd_stations()
    for row in reference.rail_stations(status="open").itertuples():
        offset = row.geometry.distance(landsd[row.name])
        assert offset <= row.accuracy_m, (row.name, offset)
        assert offset < 0.01, (row.name, offset)  # the data are LandsD's point itself


def test_open_station_accuracy_is_tens_of_metres_and_names_the_source():
    open_ = reference.rail_stations(status="open")
    assert open_["accuracy_m"].between(10, 50).all()
    assert all(open_["source"].str.contains("Lands Department"))
    assert all(open_["source"].str.contains("molamowb/projectwb"))


def test_landsd_points_lie_in_the_railway_station_zones_of_plan_s_fss():
    # An independent check of the LandsD points: S/FSS/27 zones both stations' sites.
    need_full()
    zones = tpb_zones(FULL / "zones" / "FSS.json")
    station_zones = zones[specified_use(zones) == "RAILWAY STATION"]
    stations = reference.rail_stations().set_index("name").geometry
    for name in ("Sheung Shui", "Fanling"):
        assert station_zones.contains(stations[name]).sum() == 1, name


def test_kwu_tung_lies_between_its_railway_zones_on_plan_s_ktn():
    zones = tpb_zones(EXTRACT / "KTN.json")  # S/KTN/4, unchanged
    use = specified_use(zones)
    row = reference.rail_stations().set_index("name").loc["Kwu Tung"]
    station, accuracy = row.geometry, row["accuracy_m"]
    # The station development zone (with the public transport interchange) is beside it.
    centre = zones.loc[use.str.contains("PUBLIC TRANSPORT INTERCHANGE")]
    assert len(centre) == 1
    assert centre.geometry.iloc[0].distance(station) <= accuracy
    # The two railway-facility zones nearest to it flank it, east and west, along the line.
    rail = zones.loc[use == "RAILWAY ASSOCIATED FACILITIES"]
    nearest = rail.geometry.iloc[np.argsort(rail.distance(station).to_numpy())[:2]]
    assert all(nearest.distance(station) <= accuracy)
    xs = nearest.centroid.x.to_numpy()
    assert xs.min() < station.x < xs.max()
    assert shapely.union_all(nearest.to_numpy()).convex_hull.contains(station)
    # The plan has no railway-station zone: the position is good to a couple of hundred metres.
    assert not use.str.contains("RAILWAY STATION").any()
    assert 100 <= accuracy <= 250
    assert "S/KTN" in row["source"]


def test_planned_years_are_flagged_as_announced_targets():
    stations = reference.rail_stations()
    planned = stations[stations["status"] == "planned"]
    assert all(planned["year_note"].str.contains("target"))
    assert not any(stations.loc[stations["status"] == "open", "year_note"].str.contains("target"))
    # Announced sites without a plan zone in the data are good to 500 m at best.
    others = planned[planned["name"] != "Kwu Tung"]
    assert all(others["accuracy_m"] >= 500)
    assert all(planned["source"].str.len() > 40)


def test_station_lat_lon_are_pyproj_of_the_grid_position():
    for row in reference.rail_stations().itertuples():
        lon, lat = TO_WGS84.transform(row.easting, row.northing)
        assert (row.lat, row.lon) == pytest.approx((lat, lon), abs=1e-9), row.name
        assert row.geometry.distance(Point(row.easting, row.northing)) == 0.0, row.name


def test_stations_lie_inside_the_nm_except_in_tuen_mun_district():
    outline = reference.nm_boundary().geometry.iloc[0]
    stations = reference.rail_stations().set_index("name").geometry
    inside = stations.drop(list(OUTSIDE_NM))
    assert all(outline.contains(p) for p in inside), [
        n for n, p in inside.items() if not outline.contains(p)
    ]
    # Siu Hong and Tuen Mun are in Tuen Mun district, south of the NM.
    for name in OUTSIDE_NM:
        assert not outline.contains(stations[name]), name
        assert not source_outline().contains(stations[name]), name
        assert outline.distance(stations[name]) < 5_000, name


def test_as_of_2026_excludes_kwu_tung():
    names = set(reference.rail_stations(as_of=2026)["name"])
    assert "Kwu Tung" not in names
    assert "Sheung Shui" in names
    assert names == set(OPEN_STATIONS)


def test_as_of_2027_includes_kwu_tung():
    names = set(reference.rail_stations(as_of=2027)["name"])
    assert "Kwu Tung" in names
    assert "Hung Shui Kiu" not in names


def test_as_of_2030_adds_hung_shui_kiu_but_not_the_northern_link():
    names = set(reference.rail_stations(as_of=2030)["name"])
    assert {"Kwu Tung", "Hung Shui Kiu"} <= names
    assert not names & {"Au Tau", "Ngau Tam Mei", "San Tin"}


def test_as_of_2034_includes_san_tin_and_everything():
    stations = reference.rail_stations(as_of=2034)
    assert "San Tin" in set(stations["name"])
    assert len(stations) == len(OPEN_STATIONS) + len(PLANNED_STATIONS)


def test_as_of_2000_excludes_lok_ma_chau_and_the_west_rail():
    names = set(reference.rail_stations(as_of=2000)["name"])
    assert names == {"Sheung Shui", "Fanling", "Lo Wu"}


def test_as_of_keeps_the_dataset_status():
    stations = reference.rail_stations(as_of=2034).set_index("name")
    assert stations.loc["Kwu Tung", "status"] == "planned"
    assert stations.loc["San Tin", "status"] == "planned"


def test_as_of_accepts_numpy_integers():
    assert set(reference.rail_stations(as_of=np.int64(2027))["name"]) == set(
        reference.rail_stations(as_of=2027)["name"]
    )


def test_status_filter():
    open_ = reference.rail_stations(status="open")
    planned = reference.rail_stations(status="planned")
    assert set(open_["name"]) == set(OPEN_STATIONS)
    assert set(planned["name"]) == set(PLANNED_STATIONS)
    assert list(open_.index) == list(range(len(open_)))


def test_status_and_as_of_combine():
    names = set(reference.rail_stations(as_of=2030, status="planned")["name"])
    assert names == {"Kwu Tung", "Hung Shui Kiu"}


@given(st.integers(min_value=1800, max_value=2100))
def test_as_of_is_a_cumulative_timeline(year):
    everything = reference.rail_stations()
    expected = set(everything.loc[everything["opening_year"] <= year, "name"])
    got = reference.rail_stations(as_of=year)
    assert set(got["name"]) == expected
    assert set(got["name"]) <= set(reference.rail_stations(as_of=year + 1)["name"])


@pytest.mark.parametrize("status", ["Open", "closed", "", "all", 1])
def test_invalid_status_raises_input_error_listing_valid_values(status):
    with pytest.raises(InputError) as info:
        reference.rail_stations(status=status)
    message = str(info.value)
    assert "open" in message and "planned" in message
    assert "\n" not in message
    assert isinstance(info.value, NmgeoError)


@pytest.mark.parametrize("as_of", ["2030", 2030.0, 2030.5, True, [2030]])
def test_non_integer_as_of_raises_input_error(as_of):
    with pytest.raises(InputError, match="as_of") as info:
        reference.rail_stations(as_of=as_of)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------------------
# The NM outline: Yuen Long and North districts plus the Lok Ma Chau Loop.
# --------------------------------------------------------------------------------------
def iou(a: shapely.Geometry, b: shapely.Geometry) -> float:
    return a.intersection(b).area / a.union(b).area


def test_nm_boundary_is_the_district_land_without_holes_in_hk80():
    boundary = reference.nm_boundary()
    assert boundary.crs == HK80
    assert len(boundary) == 1
    geom = boundary.geometry.iloc[0]
    assert geom.geom_type in {"Polygon", "MultiPolygon"} and geom.is_valid
    # North district's islands are separate parts; no part has a hole.
    assert all(len(p.interiors) == 0 for p in shapely.get_parts(geom))
    assert shapely.get_num_geometries(geom) == shapely.get_num_geometries(source_outline())
    assert {"name", "area_note", "accuracy_m", "source"} <= set(boundary.columns)
    source = boundary["source"].iloc[0]
    assert "not a statutory boundary" in source
    assert "Census and Statistics Department" in source and "S/LMCL" in source
    assert boundary["accuracy_m"].iloc[0] == 100


def test_nm_boundary_matches_its_source_polygons():
    # Measured: IoU 0.99979 (1e-5 degree storage grid), 27,626 ha against 27,625 ha.
    outline = reference.nm_boundary().geometry.iloc[0]
    source = source_outline()
    assert iou(outline, source) >= 0.9997
    assert outline.area == pytest.approx(source.area, rel=1e-4)
    # The stored grid moves the edge by under a metre; beyond that the outline adds only
    # the seams the sources leave between the Loop and the district edge: holes under 1 ha,
    # counting gaps under a metre wide as closed (snapping to the grid closes them).
    assert source.difference(outline.buffer(1.0)).area < 1.0
    closed = source.buffer(1.0).buffer(-1.0)
    seams = [shapely.Polygon(h) for p in shapely.get_parts(closed) for h in p.interiors]
    assert all(s.area < 1e4 for s in seams)
    filled = shapely.union_all([source, *seams])
    assert outline.difference(filled.buffer(1.0)).area < 1.0
    assert 0 < filled.area - source.area < 1e4
    assert 27_000 <= outline.area / 1e4 <= 28_500


def test_nm_boundary_area_note_states_the_measured_area():
    boundary = reference.nm_boundary()
    area_ha = boundary.area.iloc[0] / 1e4
    assert f"{area_ha:,.0f} ha" in boundary["area_note"].iloc[0]


def test_nm_boundary_area_computed_independently_from_the_file():
    # Project the stored WGS84 vertices with pyproj directly and take the shoelace area.
    with resources.as_file(resources.files("nmgeo") / "data" / "nm_boundary.geojson") as path:
        stored = gpd.read_file(path)
    total = 0.0
    for part in shapely.get_parts(stored.geometry.iloc[0]):
        ring = np.asarray(part.exterior.coords)
        e, n = TO_HK80.transform(ring[:, 0], ring[:, 1])
        total += 0.5 * abs(np.dot(e[:-1], n[1:]) - np.dot(e[1:], n[:-1]))
    assert reference.nm_boundary().area.iloc[0] == pytest.approx(total, rel=1e-9)


def test_nm_boundary_has_the_extent_of_its_sources():
    got = reference.nm_boundary().total_bounds
    np.testing.assert_allclose(got, source_outline().bounds, atol=2.0)
    # The mainland lies in the NOTES envelope; North district's islands reach further east.
    ex0, ey0, ex1, ey1 = NM_ENVELOPE
    assert got[1] >= ey0 and got[3] <= ey1
    assert got[0] < ex0 + 2_000 and got[2] > ex1


def test_nm_boundary_contains_the_whole_lok_ma_chau_loop():
    outline = reference.nm_boundary().geometry.iloc[0]
    the_loop = loop()
    # Up to the stored grid: nothing of the Loop lies a metre outside, and under 0.02 %
    # of it (measured 171 m2 of 104 ha) lies outside the unbuffered outline.
    assert the_loop.difference(outline.buffer(1.0)).area < 1e-6
    assert the_loop.difference(outline).area < 2e-4 * the_loop.area
    assert outline.contains(the_loop.representative_point())


def test_nm_boundary_respects_the_geography():
    outline = reference.nm_boundary().geometry.iloc[0]
    inside = {
        "Mai Po": (22.49, 114.04),
        "Lau Fau Shan": (22.469, 113.984),
        "Kam Tin": (22.44, 114.06),
        "Ta Kwu Ling": (22.535, 114.155),
        "Sha Tau Kok town": (22.545, 114.222),
        "Lok Ma Chau Loop": (22.5165, 114.086),
        "Lai Chi Wo": (22.5277, 114.2583),
        "Kat O": (22.537, 114.298),
    }
    outside = {
        "Tuen Mun town centre": (22.3915, 113.9770),
        "Tai Po Market": (22.4445, 114.1680),
        "Tsuen Wan": (22.3735, 114.1175),
        "Futian, Shenzhen": (22.535, 114.055),
        "Luohu, Shenzhen": (22.545, 114.115),
    }
    for name, (lat, lon) in inside.items():
        assert outline.contains(hk80(lat, lon)), name
    for name, (lat, lon) in outside.items():
        assert not outline.contains(hk80(lat, lon)), name


def test_nm_districts_source_file_is_the_published_districts_and_loop():
    # The packaged source polygons against the original files (full shared data).
    need_full()
    sources = data_file("nm_districts.geojson").set_index("name").geometry
    districts = gpd.read_file(REALDATA / "districts_2001.geojson").to_crs("EPSG:2326")
    districts = districts.set_index("DC_ENG").geometry
    for name in ("Yuen Long", "North"):
        # Every vertex kept, rounded to 1e-6 degree (about 0.1 m).
        assert shapely.hausdorff_distance(sources[name], districts[name]) < 0.2, name
        assert shapely.get_num_coordinates(sources[name]) == shapely.get_num_coordinates(
            districts[name]
        )
    full_loop = shapely.union_all(tpb_zones(FULL / "zones" / "LMCL.json").geometry.to_numpy())
    assert shapely.hausdorff_distance(sources["Lok Ma Chau Loop"], full_loop) < 0.2


def test_nm_boundary_against_the_published_districts():
    # IoU with the union of Yuen Long, North (2001 district land) and the Loop: 0.99979.
    need_full()
    districts = gpd.read_file(REALDATA / "districts_2001.geojson").to_crs("EPSG:2326")
    nm = districts[districts["DC_ENG"].isin(["Yuen Long", "North"])].geometry.to_numpy()
    expected = shapely.union_all([*nm, loop()])
    outline = reference.nm_boundary().geometry.iloc[0]
    assert iou(outline, expected) >= 0.9997
    # None of Tai Po or Tuen Mun district is taken in (beyond the storage grid).
    for name in ("Tai Po", "Tuen Mun"):
        other = districts.set_index("DC_ENG").geometry[name]
        assert outline.intersection(other).area < 1e4, name


def test_tpb_zoning_of_north_district_lies_within_the_outline_accuracy():
    # The outline's accuracy_m holds against the 24 North-district plans: no zone vertex
    # lies further beyond it (measured: at most 66 m; 13 ha of 7,764 ha zoned outside).
    need_full()
    outline = reference.nm_boundary()
    accuracy = outline["accuracy_m"].iloc[0]
    geoms = np.concatenate(
        [tpb_zones(p).geometry.to_numpy() for p in sorted((FULL / "zones").glob("*.json"))]
    )
    vertices = shapely.points(shapely.get_coordinates(geoms))
    assert shapely.distance(vertices, outline.geometry.iloc[0]).max() <= accuracy


# --------------------------------------------------------------------------------------
# The four major zones.
# --------------------------------------------------------------------------------------
def test_major_zones_schema():
    zones = reference.major_zones()
    assert zones.crs == HK80
    assert len(zones) == 4
    assert sorted(zones["zone_id"]) == [1, 2, 3, 4]
    by_id = zones.set_index("zone_id")
    assert by_id.loc[1, "short_name"] == "professional_logistics"
    assert by_id.loc[2, "short_name"] == "innovation_technology"
    assert by_id.loc[3, "short_name"] == "boundary_commerce"
    assert by_id.loc[4, "short_name"] == "blue_green"
    assert by_id.loc[2, "name"] == "Innovation and Technology Zone"
    assert "San Tin Technopole" in by_id.loc[2, "areas"]
    assert "Hung Shui Kiu" in by_id.loc[1, "areas"]
    assert "Robin's Nest" in by_id.loc[4, "areas"]
    assert "Kwu Tung North" in by_id.loc[3, "areas"]
    assert all(zones["source"].str.contains("not statutory"))
    assert set(zones.geometry.geom_type) <= {"Polygon", "MultiPolygon"}
    assert all(zones.geometry.is_valid)


def test_major_zones_do_not_overlap():
    geoms = list(reference.major_zones().geometry)
    for a, b in itertools.combinations(geoms, 2):
        assert a.intersection(b).area == pytest.approx(0.0, abs=1e-6)


def test_major_zones_partition_the_boundary():
    zones = reference.major_zones()
    outline = reference.nm_boundary().geometry.iloc[0]
    union = shapely.union_all(zones.geometry.to_numpy())
    assert zones.area.sum() == pytest.approx(union.area, rel=1e-9)
    assert union.area == pytest.approx(outline.area, rel=1e-9)
    assert outline.symmetric_difference(union).area <= 1e-9 * outline.area


def test_every_zone_is_substantial():
    # Planning themes, not slivers: each zone holds at least 5 % of the NM.
    zones = reference.major_zones()
    share = zones.area / zones.area.sum()
    assert all(share > 0.05)


def test_the_loop_is_in_the_innovation_zone():
    zones = reference.major_zones().set_index("short_name").geometry
    the_loop = loop()
    inside = the_loop.intersection(zones["innovation_technology"]).area
    assert inside >= (1 - 2e-4) * the_loop.area


EXPECTED_ZONE = {
    "San Tin": 2,
    "Ngau Tam Mei": 2,
    "Lok Ma Chau": 2,
    "Hung Shui Kiu": 1,
    "Tin Shui Wai": 1,
    "Long Ping": 1,
    "Yuen Long": 1,
    "Kam Sheung Road": 1,
    "Au Tau": 1,
    "Sheung Shui": 3,
    "Fanling": 3,
    "Lo Wu": 3,
    "Kwu Tung": 3,
}


def zone_at(zones: gpd.GeoDataFrame, point: Point) -> int | None:
    hits = zones.loc[zones.geometry.contains(point), "zone_id"].tolist()
    assert len(hits) <= 1, "zones overlap at this point"
    return int(hits[0]) if hits else None


@pytest.mark.parametrize(("station", "zone_id"), sorted(EXPECTED_ZONE.items()))
def test_station_falls_in_the_expected_major_zone(station, zone_id):
    zones = reference.major_zones()
    row = reference.rail_stations().set_index("name").loc[station]
    assert zone_at(zones, Point(row["easting"], row["northing"])) == zone_id


def test_every_station_inside_the_nm_is_assigned_a_zone():
    stations = reference.rail_stations()
    assert set(stations["name"]) - OUTSIDE_NM == set(EXPECTED_ZONE)


def test_yuen_long_innopark_is_in_zone_1():
    assert zone_at(reference.major_zones(), hk80(22.463, 114.022)) == 1


@pytest.mark.parametrize(
    ("bcp", "zone_id"),
    [
        ("Lok Ma Chau (Huanggang)", 2),
        ("Lok Ma Chau Spur Line (Futian)", 2),
        ("Lo Wu", 3),
        ("Man Kam To", 3),
        ("Heung Yuen Wai (Liantang)", 3),
        ("Sha Tau Kok", 4),
        ("Shenzhen Bay", None),  # the Hong Kong Port Area, on the Shenzhen side
    ],
)
def test_bcp_falls_in_the_expected_major_zone(bcp, zone_id):
    row = reference.control_points().set_index("name").loc[bcp]
    assert zone_at(reference.major_zones(), Point(row["easting"], row["northing"])) == zone_id


def test_blue_green_holds_the_deep_bay_coast_and_the_north_east():
    zones = reference.major_zones()
    assert zone_at(zones, hk80(22.49, 114.04)) == 4  # Mai Po
    assert zone_at(zones, hk80(22.535, 114.180)) == 4  # Robin's Nest
    assert zone_at(zones, hk80(22.545, 114.222)) == 4  # Sha Tau Kok town
    assert zone_at(zones, hk80(22.5277, 114.2583)) == 4  # Lai Chi Wo
    assert zone_at(zones, hk80(22.537, 114.298)) == 4  # Kat O
    # Every island of North district (a part of the outline) is blue-green.
    blue_green = zones.set_index("short_name").geometry["blue_green"]
    outline = reference.nm_boundary().geometry.iloc[0]
    islands = sorted(shapely.get_parts(outline), key=lambda p: p.area)[:-1]
    far_east = [p for p in islands if p.centroid.x > 838_000]
    assert far_east and all(blue_green.contains(p.representative_point()) for p in far_east)


def _lots_get_a_zone(lots: gpd.GeoDataFrame) -> None:
    """Every lot gets a major zone, and a lot wholly inside one zone gets that zone."""
    out = nmgeo.assign_major_zone(lots)
    zones = reference.major_zones()
    geoms = lots.to_crs("EPSG:2326").geometry.to_numpy()
    # nmgeo ignores an overlap no wider than 1 cm along the lot's edge (0.01 m x its
    # perimeter); a lot smaller than that (one real 0.13 m2 subsection) can get no zone.
    sliver = shapely.area(geoms) <= 0.01 * shapely.length(geoms)
    assert sliver.sum() <= 1
    assert out["major_zone"].notna().to_numpy()[~sliver].all()
    for short, zone in zip(zones["short_name"], zones.geometry, strict=True):
        within = shapely.within(geoms, zone) & ~sliver
        assert (out.loc[within, "major_zone"] == short).all(), short


def test_every_lot_of_the_committed_extract_gets_a_major_zone():
    lots = gpd.read_file(EXTRACT / "lots_dd95.gpkg", layer="LOT")
    assert len(lots) == 560
    _lots_get_a_zone(lots)


def test_every_real_lot_gets_a_major_zone():
    need_full()
    lots = gpd.read_file(FULL / "lots_dd51_52_92_95.gpkg", layer="LOT")
    assert len(lots) == 4_501
    _lots_get_a_zone(lots)
    # All of them lie in North district: inside the outline.
    outline = reference.nm_boundary().geometry.iloc[0]
    assert shapely.within(lots.geometry.to_numpy(), outline.buffer(1.0)).all()


# --------------------------------------------------------------------------------------
# Callers get copies.
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "loader",
    [
        reference.control_points,
        reference.rail_stations,
        reference.major_zones,
        reference.nm_boundary,
    ],
)
def test_returned_frames_are_copies(loader):
    first = loader()
    before = loader()
    first.loc[first.index[0], "name"] = "MUTATED"
    first["extra"] = 1
    first.geometry = first.geometry.translate(1000, 1000)
    again = loader()
    assert "extra" not in again.columns
    assert again["name"].iloc[0] == before["name"].iloc[0]
    assert again.geometry.iloc[0].equals(before.geometry.iloc[0])


def test_filtered_stations_are_copies():
    subset = reference.rail_stations(status="planned")
    subset.loc[subset.index[0], "opening_year"] = 1900
    assert reference.rail_stations(as_of=1950)["name"].tolist() == [
        "Sheung Shui",
        "Fanling",
        "Lo Wu",
    ]
