"""Specification of nmgeo.reference: the NM's reference layers, in EPSG:2326."""

from __future__ import annotations

import itertools
import math
from importlib import resources

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st
from pyproj import CRS, Geod, Transformer
from shapely.geometry import Point

from nmgeo import reference
from nmgeo.errors import InputError, NmgeoError

HK80 = CRS.from_epsg(2326)
# HK1980 Grid envelope of the Northern Metropolis: E min, N min, E max, N max.
NM_ENVELOPE = (812_000.0, 826_000.0, 846_000.0, 848_000.0)
TO_HK80 = Transformer.from_crs("EPSG:4326", "EPSG:2326", always_xy=True)
TO_WGS84 = Transformer.from_crs("EPSG:2326", "EPSG:4326", always_xy=True)


def hk80(lat: float, lon: float) -> Point:
    """A WGS84 position as an HK1980 Grid point, straight through pyproj."""
    return Point(*TO_HK80.transform(lon, lat))


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
# Control points.
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


def test_control_points_are_the_seven_bcps_in_hk80():
    bcps = reference.control_points()
    assert isinstance(bcps, gpd.GeoDataFrame)
    assert bcps.crs == HK80
    assert len(bcps) == 7
    assert set(bcps["name"]) == BCP_NAMES
    expected = ["name", "name_zh", "mode", "lat", "lon", "accuracy_m", "source", "geometry"]
    assert list(bcps.columns) == expected
    assert set(bcps.geometry.geom_type) == {"Point"}


def test_control_points_carry_source_and_accuracy():
    bcps = reference.control_points().set_index("name")
    assert set(bcps["accuracy_m"]) <= {50, 100, 500}
    assert bcps.loc["Sha Tau Kok", "accuracy_m"] == 500
    assert bcps.loc["Lo Wu", "accuracy_m"] == 50
    assert all(bcps["source"].str.contains("WGS84"))
    assert "Shenzhen side" in bcps.loc["Shenzhen Bay", "source"]
    assert set(bcps["mode"]) <= {"rail", "road", "road and pedestrian"}
    assert bcps.loc["Lo Wu", "mode"] == "rail"
    assert bcps.loc["Man Kam To", "mode"] == "road"


def test_control_point_geometry_is_pyproj_of_lat_lon():
    bcps = reference.control_points()
    for row in bcps.itertuples():
        assert row.geometry.distance(hk80(row.lat, row.lon)) < 1e-6, row.name


def test_all_seven_bcps_lie_in_the_nm_envelope():
    xmin, ymin, xmax, ymax = NM_ENVELOPE
    for row in reference.control_points().itertuples():
        e, n = TO_HK80.transform(row.lon, row.lat)
        assert xmin <= e <= xmax and ymin <= n <= ymax, row.name


def test_bcps_lie_inside_the_nm_outline():
    outline = reference.nm_boundary().geometry.iloc[0]
    bcps = reference.control_points()
    land = bcps[bcps["name"] != "Shenzhen Bay"]
    # The six land-border crossings sit on the Shenzhen River / land boundary: inside.
    assert all(outline.contains(p) for p in land.geometry)
    # Shenzhen Bay is across Deep Bay; the outline reaches it along the bridge.
    bay = bcps.loc[bcps["name"] == "Shenzhen Bay"].geometry.iloc[0]
    assert outline.buffer(1000).contains(bay)
    assert outline.contains(bay)


def test_shenzhen_bay_bcp_is_on_the_west_coast():
    bay = reference.control_points().set_index("name").geometry["Shenzhen Bay"]
    assert bay.x == pytest.approx(812_490, abs=50)
    assert bay.y == pytest.approx(840_216, abs=50)


def test_lok_ma_chau_bcps_are_next_to_lok_ma_chau_station():
    bcps = reference.control_points().set_index("name").geometry
    station = reference.rail_stations().set_index("name").geometry["Lok Ma Chau"]
    # The spur-line control point is the station itself; the road crossing is nearby.
    assert bcps["Lok Ma Chau Spur Line (Futian)"].distance(station) <= 100
    assert bcps["Lok Ma Chau (Huanggang)"].distance(station) <= 1000


def test_lo_wu_bcp_is_at_lo_wu_station():
    bcps = reference.control_points().set_index("name").geometry
    station = reference.rail_stations().set_index("name").geometry["Lo Wu"]
    assert bcps["Lo Wu"].distance(station) <= 100


# --------------------------------------------------------------------------------------
# Rail stations.
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
}
PLANNED_STATIONS = {
    "Kwu Tung": ("East Rail Line", 2027),
    "Hung Shui Kiu": ("Tuen Ma Line", 2030),
    "Au Tau": ("Northern Link", 2034),
    "Ngau Tam Mei": ("Northern Link", 2034),
    "San Tin": ("Northern Link", 2034),
}


def test_rail_stations_schema_and_crs():
    stations = reference.rail_stations()
    assert stations.crs == HK80
    expected = [
        "name", "line", "status", "opening_year", "year_note",
        "lat", "lon", "accuracy_m", "source", "geometry",
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


def test_planned_years_are_flagged_as_announced_targets():
    stations = reference.rail_stations()
    planned = stations[stations["status"] == "planned"]
    assert all(planned["year_note"].str.contains("target"))
    assert not any(stations.loc[stations["status"] == "open", "year_note"].str.contains("target"))
    assert all(planned["accuracy_m"] == 500)
    assert all(stations.loc[stations["status"] == "open", "accuracy_m"] <= 100)


def test_station_geometry_is_pyproj_of_lat_lon():
    for row in reference.rail_stations().itertuples():
        assert row.geometry.distance(hk80(row.lat, row.lon)) < 1e-6, row.name


def test_stations_lie_inside_the_nm_except_siu_hong():
    outline = reference.nm_boundary().geometry.iloc[0]
    stations = reference.rail_stations().set_index("name").geometry
    inside = stations.drop("Siu Hong")
    assert all(outline.contains(p) for p in inside), [
        n for n, p in inside.items() if not outline.contains(p)
    ]
    # Siu Hong is in Tuen Mun district, just south of the NM, serving its south-west edge.
    assert not outline.contains(stations["Siu Hong"])
    assert outline.distance(stations["Siu Hong"]) < 3000


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
# The NM outline and the four major zones.
# --------------------------------------------------------------------------------------
def test_nm_boundary_is_one_polygon_in_hk80():
    boundary = reference.nm_boundary()
    assert boundary.crs == HK80
    assert len(boundary) == 1
    geom = boundary.geometry.iloc[0]
    assert geom.geom_type == "Polygon" and geom.is_valid
    assert {"name", "area_note", "accuracy_m", "source"} <= set(boundary.columns)
    assert "not a statutory boundary" in boundary["source"].iloc[0]
    assert boundary["accuracy_m"].iloc[0] == 500


def test_nm_boundary_area_is_about_30000_ha():
    area_ha = reference.nm_boundary().area.iloc[0] / 10_000
    assert 27_000 <= area_ha <= 33_000


def test_nm_boundary_area_computed_independently_from_the_file():
    # Project the stored WGS84 vertices with pyproj directly and take the shoelace area.
    with resources.as_file(resources.files("nmgeo") / "data" / "nm_boundary.geojson") as path:
        stored = gpd.read_file(path)
    ring = np.asarray(stored.geometry.iloc[0].exterior.coords)
    e, n = TO_HK80.transform(ring[:, 0], ring[:, 1])
    shoelace = 0.5 * abs(np.dot(e[:-1], n[1:]) - np.dot(e[1:], n[:-1]))
    assert reference.nm_boundary().area.iloc[0] == pytest.approx(shoelace, rel=1e-9)


def test_nm_boundary_lies_within_the_envelope():
    xmin, ymin, xmax, ymax = reference.nm_boundary().total_bounds
    ex0, ey0, ex1, ey1 = NM_ENVELOPE
    assert ex0 <= xmin and ey0 <= ymin and xmax <= ex1 and ymax <= ey1


def test_nm_boundary_respects_the_geography():
    outline = reference.nm_boundary().geometry.iloc[0]
    inside = {
        "Mai Po": (22.49, 114.04),
        "Lau Fau Shan": (22.469, 113.984),
        "Kam Tin": (22.44, 114.06),
        "Ta Kwu Ling": (22.535, 114.155),
        "Sha Tau Kok town": (22.545, 114.222),
        "Lok Ma Chau Loop": (22.5165, 114.086),
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
    overlap_m2 = sum(a.intersection(b).area for a, b in itertools.combinations(geoms, 2))
    assert overlap_m2 < 1.0


def test_major_zones_cover_the_boundary():
    zones = reference.major_zones()
    outline = reference.nm_boundary().geometry.iloc[0]
    union = shapely.union_all(zones.geometry.to_numpy())
    assert union.area == pytest.approx(outline.area, rel=1e-3)
    assert zones.area.sum() == pytest.approx(outline.area, rel=1e-3)
    assert outline.symmetric_difference(union).area < 1e-3 * outline.area


def test_every_zone_is_substantial():
    # Planning themes, not slivers: each zone holds at least 5 % of the NM.
    zones = reference.major_zones()
    share = zones.area / zones.area.sum()
    assert all(share > 0.05)


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
    assert zone_at(zones, hk80(row["lat"], row["lon"])) == zone_id


def test_every_station_inside_the_nm_is_assigned_a_zone():
    stations = reference.rail_stations()
    assert set(stations["name"]) - {"Siu Hong"} == set(EXPECTED_ZONE)


def test_yuen_long_innopark_is_in_zone_1():
    assert zone_at(reference.major_zones(), hk80(22.463, 114.022)) == 1


@pytest.mark.parametrize(
    ("bcp", "zone_id"),
    [
        ("Lok Ma Chau (Huanggang)", 2),
        ("Lo Wu", 3),
        ("Man Kam To", 3),
        ("Heung Yuen Wai (Liantang)", 3),
        ("Sha Tau Kok", 4),
        ("Shenzhen Bay", 1),
    ],
)
def test_bcp_falls_in_the_expected_major_zone(bcp, zone_id):
    row = reference.control_points().set_index("name").loc[bcp]
    assert zone_at(reference.major_zones(), hk80(row["lat"], row["lon"])) == zone_id


def test_blue_green_holds_the_deep_bay_coast_and_the_north_east():
    zones = reference.major_zones()
    assert zone_at(zones, hk80(22.492, 114.030)) == 4  # Mai Po marshes
    assert zone_at(zones, hk80(22.487, 114.010)) == 4  # Tsim Bei Tsui
    assert zone_at(zones, hk80(22.535, 114.180)) == 4  # Robin's Nest
    assert zone_at(zones, hk80(22.530, 114.230)) == 4  # Starling Inlet


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
