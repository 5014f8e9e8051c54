"""Straight-line proximity, distance matrices, rail by year and catchment shares."""

from __future__ import annotations

import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from scipy.integrate import quad
from shapely.geometry import Point, box

import nmgeo
from nmgeo.errors import InputError, SchemaError

X0, Y0 = 830_000.0, 838_000.0
TO_HK80 = Transformer.from_crs("EPSG:4326", "EPSG:2326", always_xy=True)


def hk80(lat: float, lon: float) -> tuple[float, float]:
    return TO_HK80.transform(lon, lat)


def squares(*boxes, index=None) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        geometry=[box(X0 + a, Y0 + b, X0 + c, Y0 + d) for a, b, c, d in boxes],
        index=index,
        crs="EPSG:2326",
    )


def points(**named) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": list(named)},
        geometry=[Point(X0 + x, Y0 + y) for x, y in named.values()],
        crs="EPSG:2326",
    )


def test_distance_is_from_the_polygon_edge_and_zero_inside():
    lots = squares((0, 0, 100, 100), (300, 0, 400, 100), index=["a", "b"])
    targets = points(inside=(50, 50), east=(150, 50), corner=(103, 104))
    out = nmgeo.proximity(lots, targets)
    assert out.loc["a", "nearest_name"] == "inside"
    assert out.loc["a", "nearest_distance_m"] == 0.0
    # b's nearest is "east": 150 m from its west edge at x = 300.
    assert out.loc["b", "nearest_name"] == "east"
    assert out.loc["b", "nearest_distance_m"] == pytest.approx(150.0)
    three = nmgeo.proximity(lots, targets, k=3, prefix="t_")
    assert list(three.loc["a", ["t_name_1", "t_name_2", "t_name_3"]]) == [
        "inside",
        "corner",
        "east",
    ]
    assert three.loc["a", "t_distance_m_2"] == pytest.approx(5.0)  # 3-4-5 from the corner
    assert three.loc["a", "t_distance_m_3"] == pytest.approx(50.0)


def test_ties_go_to_the_first_listed_target():
    lots = squares((0, 0, 100, 100))
    targets = points(west=(-10, 50), east=(110, 50))
    assert nmgeo.proximity(lots, targets)["nearest_name"].iloc[0] == "west"
    flipped = targets.iloc[::-1]
    assert nmgeo.proximity(lots, flipped)["nearest_name"].iloc[0] == "east"


def test_distance_matrix_equals_shapely_distances():
    lots = squares((0, 0, 100, 100), (500, 500, 520, 540))
    targets = points(p=(50, 200), q=(-30, -40), r=(510, 520))
    m = nmgeo.distance_matrix(lots, targets)
    assert list(m.columns) == ["p", "q", "r"]
    expected = [[lots.geometry.iloc[i].distance(t) for t in targets.geometry] for i in range(2)]
    np.testing.assert_allclose(m.to_numpy(), expected)
    assert m.loc[0, "q"] == pytest.approx(50.0)
    assert m.loc[1, "r"] == 0.0


def test_a_site_at_lok_ma_chau_is_nearest_to_lok_ma_chau():
    x, y = hk80(22.5099, 114.0733)
    site = gpd.GeoDataFrame(geometry=[box(x - 40, y - 40, x + 40, y + 40)], crs="EPSG:2326")
    out = nmgeo.bcp_proximity(site)
    assert out["bcp_name"].iloc[0].startswith("Lok Ma Chau")
    assert out["bcp_distance_m"].iloc[0] < 200.0


def _station(name: str) -> Point:
    stations = nmgeo.reference.rail_stations()
    return stations.loc[stations["name"] == name, "geometry"].iloc[0]


def _site_beside(name: str, gap: float = 60.0) -> gpd.GeoDataFrame:
    """A 100 m square whose west edge is ``gap`` metres east of the station."""
    p = _station(name)
    return gpd.GeoDataFrame(
        geometry=[box(p.x + gap, p.y - 50, p.x + gap + 100, p.y + 50)], crs="EPSG:2326"
    )


def _san_tin_site() -> gpd.GeoDataFrame:
    return _site_beside("San Tin")


def test_a_site_by_the_planned_san_tin_station_gains_rail_in_2034():
    site = _san_tin_site()
    now = nmgeo.rail_proximity(site, as_of=2026)
    later = nmgeo.rail_proximity(site, as_of=2034)
    assert now["rail_distance_m"].iloc[0] > 1_000.0
    assert later["rail_name"].iloc[0] == "San Tin"
    assert later["rail_distance_m"].iloc[0] == pytest.approx(60.0, abs=1e-6)
    assert later.attrs["as_of"] == 2034
    assert nmgeo.rail_proximity(site, status="open")["rail_name"].iloc[0] != "San Tin"


def test_rail_proximity_defaults_to_the_network_of_the_current_year():
    year = datetime.date.today().year
    stations = nmgeo.reference.rail_stations()
    counted = stations[stations["opening_year"] <= year]
    site = _san_tin_site()
    out = nmgeo.rail_proximity(site)
    expected = counted.distance(site.geometry.iloc[0])
    assert out.attrs["as_of"] == year
    assert out["rail_distance_m"].iloc[0] == pytest.approx(expected.min())
    assert out["rail_name"].iloc[0] == counted["name"].iloc[int(np.argmin(expected))]


@pytest.mark.parametrize("bad", [2030.5, "2030", True])
def test_as_of_must_be_an_integer_year(bad):
    with pytest.raises(InputError, match="as_of must be an integer year"):
        nmgeo.rail_proximity(_san_tin_site(), as_of=bad)


def test_timeline_is_a_long_table_of_id_year_and_distance():
    sites = pd.concat([_san_tin_site(), _site_beside("Kwu Tung", 200.0)], ignore_index=True)
    sites.index = pd.Index(["san_tin", "kwu_tung"], name="site")
    long = nmgeo.proximity_timeline(sites, years=(2034, 2026, 2030))
    assert list(long.columns) == ["site", "year", "rail_name", "rail_distance_m", "rail_walk"]
    assert list(long["site"]) == ["san_tin"] * 3 + ["kwu_tung"] * 3
    assert list(long["year"]) == [2026, 2030, 2034] * 2
    stations = nmgeo.reference.rail_stations()
    for row in long.itertuples():
        counted = stations[stations["opening_year"] <= row.year]
        d = counted.distance(sites.geometry.loc[row.site])
        assert row.rail_distance_m == pytest.approx(d.min())
        assert row.rail_name == counted["name"].iloc[int(np.argmin(d))]
        assert row.rail_walk == (d.min() <= 800.0)


def test_timeline_default_years_are_every_year_the_network_changes():
    year = datetime.date.today().year
    opening = nmgeo.reference.rail_stations()["opening_year"]
    expected = [year, *sorted(set(opening[opening > year]))]
    long = nmgeo.proximity_timeline(_san_tin_site())
    assert list(long["year"]) == expected
    assert list(nmgeo.proximity_timeline(_san_tin_site(), as_of=2030)["year"]) == [
        2030,
        *sorted(set(opening[opening > 2030])),
    ]


def test_timeline_wide_view_shows_when_the_site_gains_rail():
    out = nmgeo.assign_rail_timeline(_san_tin_site(), years=(2026, 2030, 2034))
    assert isinstance(out, gpd.GeoDataFrame)
    d = [out[f"rail_distance_m_{y}"].iloc[0] for y in (2026, 2030, 2034)]
    assert d[0] == pytest.approx(d[1]) and d[2] < d[1]
    assert out["rail_name_2034"].iloc[0] == "San Tin"
    assert out["rail_walk_year"].iloc[0] == 2034
    far = squares((0, 0, 10, 10))
    far = far.set_geometry(far.translate(-20_000, -30_000))
    assert pd.isna(nmgeo.assign_rail_timeline(far, years=(2026,))["rail_walk_year"].iloc[0])


def test_rail_walk_year_is_the_exact_opening_year_of_the_first_station_in_reach():
    # Hand-made stations: A opens 2031 at 500 m, B 2029 at 900 m, C 2040 at 100 m.
    stations = gpd.GeoDataFrame(
        {"name": ["A", "B", "C"], "opening_year": [2031, 2029, 2040]},
        geometry=[Point(X0 - 500, Y0 + 5), Point(X0 - 900, Y0 + 5), Point(X0 - 100, Y0 + 5)],
        crs="EPSG:2326",
    )
    site = squares((0, 0, 10, 10), (5_000, 0, 5_010, 10), index=[7, 3])
    walk = nmgeo.rail_walk_year(site, stations=stations)
    assert walk.name == "rail_walk_year" and list(walk.index) == [7, 3]
    assert walk.loc[7] == 2031  # B (2029) is beyond 800 m; A is the first within reach
    assert pd.isna(walk.loc[3])
    assert nmgeo.rail_walk_year(site, stations=stations, walk_radius=1_000.0).loc[7] == 2029
    assert nmgeo.rail_walk_year(site, stations=stations, walk_radius=50.0).isna().all()


def test_a_kwu_tung_north_site_is_walkable_to_rail_from_the_stations_target_year():
    stations = nmgeo.reference.rail_stations()
    kwu_tung = int(stations.loc[stations["name"] == "Kwu Tung", "opening_year"].iloc[0])
    site = _site_beside("Kwu Tung", 200.0)
    near = stations[stations.distance(site.geometry.iloc[0]) <= 800.0]
    assert nmgeo.rail_walk_year(site).iloc[0] == near["opening_year"].min() == kwu_tung


def test_catchment_share_of_a_square_half_inside_a_circle():
    r = 500.0
    lots = squares((-50, r - 50, 50, r + 50), (-20, -20, 20, 20), (2000, 0, 2100, 100))
    target = points(station=(0, 0))
    out = nmgeo.catchment_share(lots, target, catchment_radius=r)
    # Area of the square under the arc, by quadrature: y from 450 to min(sqrt(r²-x²), 550).
    inside, _ = quad(lambda x: min(np.sqrt(r**2 - x**2), r + 50) - (r - 50), -50, 50)
    assert out["catchment_share"].iloc[0] == pytest.approx(inside / 10_000, rel=2e-3)
    assert out["catchment_share"].iloc[1] == 1.0
    assert out["catchment_share"].iloc[2] == 0.0


def test_catchment_of_two_overlapping_discs_is_not_counted_twice():
    lots = squares((-10, -10, 10, 10))
    two = points(a=(0, 0), b=(5, 0))
    assert nmgeo.catchment_share(lots, two, catchment_radius=100)["catchment_share"].iloc[0] == 1.0


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-500, 500), st.floats(-500, 500), st.floats(1, 300)),
        min_size=1,
        max_size=8,
    ),
    st.lists(st.tuples(st.floats(-800, 800), st.floats(-800, 800)), min_size=1, max_size=5),
)
def test_proximity_is_never_negative_and_zero_when_containing(rects, pts):
    lots = squares(*[(x, y, x + s, y + s) for x, y, s in rects])
    targets = points(**{f"t{i}": p for i, p in enumerate(pts)})
    out = nmgeo.proximity(lots, targets)
    d = out["nearest_distance_m"].to_numpy()
    assert (d >= 0).all()
    contains = np.array([[g.covers(t) for t in targets.geometry] for g in lots.geometry])
    assert (d[contains.any(axis=1)] == 0).all()
    brute = np.array([[g.distance(t) for t in targets.geometry] for g in lots.geometry]).min(
        axis=1
    )
    np.testing.assert_allclose(d, brute)


def test_index_order_and_input_are_kept():
    lots = squares((0, 0, 10, 10), (100, 0, 110, 10), index=[7, 3])
    before = lots.copy()
    out = nmgeo.proximity(lots, points(a=(0, 0)))
    assert list(out.index) == [7, 3]
    pd.testing.assert_frame_equal(lots, before)


def test_bad_targets_are_clear_errors():
    lots = squares((0, 0, 10, 10))
    with pytest.raises(InputError, match="empty"):
        nmgeo.proximity(lots, points().iloc[:0])
    with pytest.raises(SchemaError, match="label"):
        nmgeo.proximity(lots, points(a=(0, 0)), name_column="label")
    with pytest.raises(InputError, match="k must"):
        nmgeo.proximity(lots, points(a=(0, 0)), k=0)
    with pytest.raises(InputError, match="radius"):
        nmgeo.catchment_share(lots, points(a=(0, 0)), catchment_radius=0)


def test_wgs84_targets_give_the_same_distances():
    lots = squares((0, 0, 100, 100))
    targets = points(a=(400, 500))  # 300 m east, 400 m north of the corner
    a = nmgeo.proximity(lots, targets)["nearest_distance_m"].iloc[0]
    b = nmgeo.proximity(lots, targets.to_crs("EPSG:4326"))["nearest_distance_m"].iloc[0]
    assert a == pytest.approx(500.0)
    assert b == pytest.approx(a, abs=1e-3)
    assert shapely.get_type_id(lots.geometry.iloc[0]) == 3
