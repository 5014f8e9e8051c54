"""network_distance on a hand-built street grid with known answers, and against networkx."""

from __future__ import annotations

import logging
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiLineString, Point, Polygon, box

import nmgeo
from nmgeo.errors import InputError, MissingCRSError, SchemaError
from nmgeo.network import network_distance

X0, Y0 = 830_000.0, 835_000.0  # near Kwu Tung North; positions below are metres from here
COLUMNS = [
    "network_target",
    "network_distance_m",
    "network_path_m",
    "network_access_m",
    "network_target_access_m",
    "network_straight_m",
    "network_detour_ratio",
]
EXACT = 1e-6  # metres


def _line(*points: tuple[float, float]) -> LineString:
    return LineString([(X0 + x, Y0 + y) for x, y in points])


def _point(x: float, y: float) -> Point:
    return Point(X0 + x, Y0 + y)


def _diamond(cx: float, cy: float, r: float) -> Polygon:
    """A square standing on a corner, so its nearest point to a straight road is a vertex."""
    return Polygon(
        [
            (X0 + cx, Y0 + cy - r),
            (X0 + cx + r, Y0 + cy),
            (X0 + cx, Y0 + cy + r),
            (X0 + cx - r, Y0 + cy),
        ]
    )


def grid_roads(*extra: LineString) -> gpd.GeoDataFrame:
    """Three east-west and three north-south streets 100 m apart over (0..200, 0..200).

    Each street is ONE LineString crossing the others without a shared vertex (not noded),
    so the crossings at (100, 100) etc. exist only if network_distance nodes them.
    """
    lines = [_line((0, y), (200, y)) for y in (0, 100, 200)]
    lines += [_line((x, 0), (x, 200)) for x in (0, 100, 200)]
    geoms = [*lines, *extra]
    return gpd.GeoDataFrame(
        {"road_class": ["local"] * len(geoms), "width_m": [10.0] * len(geoms)},
        geometry=geoms,
        crs="EPSG:2326",
    )


# A stub street east of the grid that stops 5 m short of it: nothing on it is reachable.
STUB = _line((205, 100), (300, 100))


def targets(**where: tuple[float, float]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": list(where)}, geometry=[_point(*xy) for xy in where.values()], crs="EPSG:2326"
    )


def sites(*geoms, index=None) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=list(geoms), index=index, crs="EPSG:2326")


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# ---------------------------------------------------------------------------------------
# Hand-computed distances on the grid. Target A stands 10 m south of the bottom street,
# at x = 50, so it attaches at (50, 0) with a 10 m leg.


def test_a_site_on_another_street_is_reached_through_the_crossings():
    # Diamond with its lowest vertex at (150, 110): 10 m leg to (150, 100) on the middle
    # street. Shortest route (50,0) -> (100,0) -> (100,100) -> (150,100) = 50+100+50.
    out = network_distance(sites(_diamond(150, 120, 10)), targets(A=(50, -10)), grid_roads())
    row = out.iloc[0]
    assert row["network_target"] == "A"
    assert row["network_target_access_m"] == pytest.approx(10.0, abs=EXACT)
    assert row["network_path_m"] == pytest.approx(200.0, abs=EXACT)
    assert row["network_access_m"] == pytest.approx(10.0, abs=EXACT)
    assert row["network_distance_m"] == pytest.approx(220.0, abs=EXACT)
    # Straight line: from (50, -10) the nearest point of the diamond is its vertex (150, 110).
    straight = math.hypot(100, 120)
    assert row["network_straight_m"] == pytest.approx(straight, abs=EXACT)
    assert row["network_detour_ratio"] == pytest.approx(220.0 / straight, rel=1e-12)


def test_a_site_on_an_east_west_street_and_one_on_a_north_south_street():
    # Vertex (205, 150) is 5 m from the east street at (200, 150): two routes of
    # 50 + 100 + 150 and 50 + 100 + 100 + 50, both 300 m.
    out = network_distance(
        sites(_diamond(150, 120, 10), _diamond(215, 150, 10)), targets(A=(50, -10)), grid_roads()
    )
    assert out["network_distance_m"].tolist() == pytest.approx([220.0, 315.0], abs=EXACT)
    assert out["network_path_m"].tolist() == pytest.approx([200.0, 300.0], abs=EXACT)
    assert out["network_access_m"].tolist() == pytest.approx([10.0, 5.0], abs=EXACT)


def test_a_site_on_the_targets_own_segment_is_reached_directly_along_it():
    # Vertex (80, -10) attaches at (80, 0), 30 m along the same segment as the target;
    # going round through a crossing would be 50 + 20 = 70 m.
    out = network_distance(sites(_diamond(80, -15, 5)), targets(A=(50, -10)), grid_roads())
    row = out.iloc[0]
    assert row["network_path_m"] == pytest.approx(30.0, abs=EXACT)
    assert row["network_distance_m"] == pytest.approx(10.0 + 30.0 + 10.0, abs=EXACT)
    # Nearest point of the diamond to (50, -10) is its west vertex (75, -15).
    assert row["network_straight_m"] == pytest.approx(math.hypot(25, 5), abs=EXACT)


def test_a_site_behind_the_target_on_the_same_segment():
    # Site attaches at (20, 0), target at (50, 0): 30 m back along the segment.
    out = network_distance(sites(_diamond(20, -12, 2)), targets(A=(50, -10)), grid_roads())
    assert out["network_path_m"].iloc[0] == pytest.approx(30.0, abs=EXACT)
    assert out["network_distance_m"].iloc[0] == pytest.approx(10.0 + 30.0 + 10.0, abs=EXACT)


def test_snapping_is_to_the_nearest_point_of_a_segment_not_to_a_vertex():
    # Target at (37.5, 4) on a 100 m segment with vertices only at x = 0 and 100.
    out = network_distance(sites(_diamond(150, 120, 10)), targets(A=(37.5, 4)), grid_roads())
    assert out["network_target_access_m"].iloc[0] == pytest.approx(4.0, abs=EXACT)
    assert out["network_path_m"].iloc[0] == pytest.approx(62.5 + 100 + 50, abs=EXACT)


def test_a_target_exactly_on_a_crossing_has_no_access_leg():
    out = network_distance(sites(_diamond(150, 120, 10)), targets(A=(100, 0)), grid_roads())
    assert out["network_target_access_m"].iloc[0] == pytest.approx(0.0, abs=EXACT)
    assert out["network_path_m"].iloc[0] == pytest.approx(150.0, abs=EXACT)
    assert out["network_distance_m"].iloc[0] == pytest.approx(160.0, abs=EXACT)


def test_a_road_through_a_site_gives_it_no_access_leg():
    # A 40 m square straddling the middle street between x = 130 and 170: the nearest
    # network point is on its frontage, 0 m away, somewhere between x = 130 and 170.
    out = network_distance(
        sites(box(X0 + 130, Y0 + 80, X0 + 170, Y0 + 120)), targets(A=(50, -10)), grid_roads()
    )
    row = out.iloc[0]
    assert row["network_access_m"] == 0.0
    assert 180.0 - EXACT <= row["network_path_m"] <= 220.0 + EXACT


def test_a_site_containing_or_touching_the_target_is_at_distance_zero():
    out = network_distance(
        sites(_diamond(50, -10, 3), box(X0 + 50, Y0 - 30, X0 + 60, Y0 - 10)),
        targets(A=(50, -10)),
        grid_roads(),
    )
    for _, row in out.iterrows():
        assert row["network_target"] == "A"
        assert row["network_distance_m"] == 0.0
        assert row["network_path_m"] == 0.0
        assert row["network_access_m"] == 0.0
        assert row["network_straight_m"] == 0.0
        assert np.isnan(row["network_detour_ratio"])


def test_the_nearest_target_is_the_nearest_by_road_not_as_the_crow_flies():
    # B stands on the stub street, which is cut off from the grid by a 5 m gap. The site
    # by the east street is 60 m from B in a straight line but can only reach A:
    # (50,0) -> (100,0) -> (100,100) -> (200,100) -> (200,130) = 50+100+100+30.
    near_b = _diamond(195, 130, 4)  # vertex (199, 130) is 1 m from the east street
    on_stub = _diamond(290, 110, 5)  # vertex (290, 105) is 5 m from the stub
    out = network_distance(
        sites(near_b, on_stub), targets(A=(50, -10), B=(250, 95)), grid_roads(STUB)
    )
    assert out["network_target"].tolist() == ["A", "B"]
    assert out["network_distance_m"].tolist() == pytest.approx(
        [10 + 280 + 1, 5 + 40 + 5], abs=EXACT
    )
    straight_to_a = near_b.distance(_point(50, -10))
    assert near_b.distance(_point(250, 95)) < straight_to_a  # B is nearer as the crow flies
    assert out["network_straight_m"].iloc[0] == pytest.approx(straight_to_a, abs=EXACT)


def test_a_site_beyond_a_gap_in_the_roads_is_nan_with_a_warning(caplog):
    on_stub = _diamond(290, 110, 5)
    with caplog.at_level(logging.WARNING, logger="nmgeo.network"):
        out = network_distance(
            sites(_diamond(150, 120, 10), on_stub), targets(A=(50, -10)), grid_roads(STUB)
        )
    assert out["network_distance_m"].iloc[0] == pytest.approx(220.0, abs=EXACT)
    assert out.iloc[1].isna().all()
    (message,) = warnings_of(caplog)
    assert "1 of 2 rows" in message and "no target reaches" in message


def test_a_site_farther_than_max_snap_from_any_road_is_nan_with_a_warning(caplog):
    far = _diamond(1000, 1000, 5)  # about 1.1 km from the grid
    with caplog.at_level(logging.WARNING, logger="nmgeo.network"):
        out = network_distance(
            sites(_diamond(150, 120, 10), far), targets(A=(50, -10)), grid_roads(), max_snap=500
        )
    assert out["network_distance_m"].iloc[0] == pytest.approx(220.0, abs=EXACT)
    assert out.iloc[1].isna().all()
    (message,) = warnings_of(caplog)
    assert "1 of 2 rows" in message and "500 m" in message
    # With a longer leg allowed it is attached at the grid's corner (200, 200).
    out = network_distance(sites(far), targets(A=(50, -10)), grid_roads(), max_snap=2000)
    # Its south-west edge (on x + y = 1995) faces the corner (200, 200) square on.
    leg = (1995 - 400) / math.sqrt(2)
    assert out["network_access_m"].iloc[0] == pytest.approx(leg, abs=EXACT)
    assert out["network_path_m"].iloc[0] == pytest.approx(150 + 200, abs=EXACT)


def test_a_target_farther_than_max_snap_is_ignored_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="nmgeo.network"):
        out = network_distance(
            sites(_diamond(150, 120, 10)),
            targets(A=(50, -10), Far=(150, 900)),
            grid_roads(),
            max_snap=500,
        )
    assert out["network_target"].iloc[0] == "A"
    (message,) = warnings_of(caplog)
    assert "1 of 2 targets" in message and "'Far'" in message


def test_when_every_target_is_too_far_every_site_is_nan(caplog):
    with caplog.at_level(logging.WARNING, logger="nmgeo.network"):
        out = network_distance(
            sites(_diamond(150, 120, 10)), targets(Far=(150, 900)), grid_roads(), max_snap=500
        )
    assert out.isna().all(axis=None)
    assert len(warnings_of(caplog)) == 2  # the target, then the unreached site


def test_null_and_empty_sites_are_nan_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="nmgeo.network"):
        out = network_distance(
            sites(None, _diamond(150, 120, 10), Polygon()), targets(A=(50, -10)), grid_roads()
        )
    assert out["network_distance_m"].isna().tolist() == [True, False, True]
    assert any("2 of 3 rows" in m and "null or empty" in m for m in warnings_of(caplog))


def test_roads_may_be_multilinestrings_and_in_another_crs():
    roads = grid_roads()
    merged = gpd.GeoDataFrame(
        geometry=[MultiLineString(list(roads.geometry.iloc[:3])), *roads.geometry.iloc[3:]],
        crs="EPSG:2326",
    ).to_crs("EPSG:4326")
    out = network_distance(
        sites(_diamond(150, 120, 10)), targets(A=(50, -10)).to_crs("EPSG:4326"), merged
    )
    # Round trips through WGS84 move vertices by far less than the 1 mm node rounding.
    assert out["network_distance_m"].iloc[0] == pytest.approx(220.0, abs=1e-3)


def test_the_prefix_names_the_columns_and_an_empty_layer_gives_an_empty_table():
    out = network_distance(sites(), targets(A=(50, -10)), grid_roads(), prefix="bcp_")
    assert list(out.columns) == [c.replace("network_", "bcp_") for c in COLUMNS]
    assert len(out) == 0


def test_columns_and_index_follow_the_input():
    frame = sites(_diamond(150, 120, 10), _diamond(80, -15, 5), index=["x", "y"])
    out = network_distance(frame, targets(A=(50, -10)), grid_roads())
    assert list(out.columns) == COLUMNS
    assert out.index.tolist() == ["x", "y"]
    assert isinstance(out, pd.DataFrame) and not isinstance(out, gpd.GeoDataFrame)


def test_the_data_arguments_have_their_names_and_the_options_are_keyword_only():
    frame = sites(_diamond(150, 120, 10))
    by_position = network_distance(frame, targets(A=(50, -10)), grid_roads())
    by_name = network_distance(parcels=frame, targets=targets(A=(50, -10)), roads=grid_roads())
    pd.testing.assert_frame_equal(by_name, by_position)
    with pytest.raises(TypeError):
        network_distance(frame, targets(A=(50, -10)), grid_roads(), 500.0)


# ---------------------------------------------------------------------------------------
# Properties.

_SITE = st.tuples(
    st.floats(-80, 380, allow_nan=False), st.floats(-80, 280, allow_nan=False), st.floats(1, 30)
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    boxes=st.lists(_SITE, min_size=1, max_size=15),
    spots=st.lists(st.tuples(st.floats(-50, 350), st.floats(-50, 250)), min_size=1, max_size=4),
)
def test_the_road_distance_is_never_shorter_than_the_straight_line(boxes, spots):
    frame = sites(*[box(X0 + x, Y0 + y, X0 + x + s, Y0 + y + s) for x, y, s in boxes])
    goals = targets(**{f"t{i}": xy for i, xy in enumerate(spots)})
    out = network_distance(frame, goals, grid_roads(STUB), max_snap=math.inf)
    ratio = out["network_detour_ratio"].dropna()
    assert (ratio >= 1 - 1e-9).all()
    done = out["network_distance_m"].notna()
    total = out[["network_target_access_m", "network_path_m", "network_access_m"]].sum(axis=1)
    np.testing.assert_allclose(out.loc[done, "network_distance_m"], total[done], atol=1e-6)


_SHUFFLE_SITES = [_diamond(20 * i % 330 - 40, 37 * i % 260 - 30, 3 + i % 7) for i in range(25)]
_SHUFFLE_TARGETS = targets(A=(50, -10), B=(250, 95), C=(170, 230))


@settings(max_examples=25, deadline=None)
@given(order=st.permutations(range(len(_SHUFFLE_SITES))), labels=st.sampled_from(["int", "str"]))
def test_rows_come_back_in_the_input_order_with_the_input_index(order, labels):
    index = [f"lot{i}" for i in range(25)] if labels == "str" else [100 - 3 * i for i in range(25)]
    frame = sites(*_SHUFFLE_SITES, index=index)
    roads = grid_roads(STUB)
    reference = network_distance(frame, _SHUFFLE_TARGETS, roads)
    shuffled = frame.iloc[list(order)]
    out = network_distance(shuffled, _SHUFFLE_TARGETS, roads)
    assert out.index.equals(shuffled.index)
    pd.testing.assert_frame_equal(out, reference.loc[shuffled.index])


# ---------------------------------------------------------------------------------------
# Bad input.


def test_roads_that_are_not_lines_are_refused():
    goal = targets(A=(50, -10))
    points = gpd.GeoDataFrame(geometry=[_point(0, 0), _point(10, 0)], crs="EPSG:2326")
    with pytest.raises(InputError, match="2 Point"):
        network_distance(sites(_diamond(150, 120, 10)), goal, points)
    blocks = gpd.GeoDataFrame(geometry=[box(X0, Y0, X0 + 10, Y0 + 10)], crs="EPSG:2326")
    with pytest.raises(InputError, match="1 Polygon"):
        network_distance(sites(_diamond(150, 120, 10)), goal, blocks)
    nothing = gpd.GeoDataFrame(geometry=[None], crs="EPSG:2326")
    with pytest.raises(InputError, match="no lines"):
        network_distance(sites(_diamond(150, 120, 10)), goal, nothing)
    specks = gpd.GeoDataFrame(geometry=[_line((0, 0), (0, 0.0001))], crs="EPSG:2326")
    with pytest.raises(InputError, match="1 mm"):
        network_distance(sites(_diamond(150, 120, 10)), goal, specks)


def test_empty_targets_are_refused():
    with pytest.raises(InputError, match="targets is empty"):
        network_distance(sites(_diamond(150, 120, 10)), targets(), grid_roads())


def test_a_missing_name_column_names_the_column_and_the_available_ones():
    goal = targets(A=(50, -10)).rename(columns={"name": "label"})
    with pytest.raises(SchemaError, match="'name'") as err:
        network_distance(sites(_diamond(150, 120, 10)), goal, grid_roads())
    assert "'label'" in str(err.value) and "'geometry'" in str(err.value)
    out = network_distance(sites(_diamond(150, 120, 10)), goal, grid_roads(), name_column="label")
    assert out["network_target"].iloc[0] == "A"


def test_layers_without_a_crs_are_refused():
    bare = grid_roads().set_crs(None, allow_override=True)
    with pytest.raises(MissingCRSError, match="roads"):
        network_distance(sites(_diamond(150, 120, 10)), targets(A=(50, -10)), bare)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "500"])
def test_max_snap_must_be_a_distance(bad):
    with pytest.raises(InputError, match="max_snap"):
        network_distance(
            sites(_diamond(150, 120, 10)), targets(A=(50, -10)), grid_roads(), max_snap=bad
        )


# ---------------------------------------------------------------------------------------
# The sample, against networkx as an independent oracle.


@pytest.fixture(scope="module")
def sample():
    return nmgeo.load_sample()


@pytest.fixture(scope="module")
def sample_result(sample):
    return network_distance(sample.parcels, nmgeo.reference.control_points(), sample.roads)


def _oracle_distances(roads, goals, lots, max_snap):
    """Road distance by networkx on an independently noded graph, one node per attachment.

    The centrelines are noded with a unary union (not shapely.node); every segment
    between consecutive vertices is an edge; node keys are coordinates rounded to 1 mm.
    Targets and lots are attached at the nearest point of the nearest segment (found by
    brute force), which is inserted into the edge, so runs along a shared segment need
    no special case.
    """
    nx = pytest.importorskip("networkx")
    linework = shapely.get_parts(
        shapely.unary_union(shapely.get_parts(np.asarray(roads.geometry.array)))
    )
    edges: dict[tuple, float] = {}
    for line in linework:
        xy = np.round(np.asarray(line.coords), 3)
        for a, b in zip(map(tuple, xy[:-1]), map(tuple, xy[1:]), strict=True):
            if a != b:
                key = (min(a, b), max(a, b))
                edges[key] = math.dist(a, b)
    keys = list(edges)
    segments = shapely.linestrings([[a, b] for a, b in keys])

    # (segment number) -> list of (position along it in metres, attached node)
    inserted: dict[int, list] = {}
    graph = nx.Graph()
    sources = []
    sinks = {}
    for kind, frame in (("target", goals), ("lot", lots)):
        for label, geom in zip(frame.index, frame.geometry, strict=True):
            dists = shapely.distance(geom, segments)
            k = int(np.argmin(dists))
            if dists[k] > max_snap:
                continue
            (ax, ay), (bx, by) = keys[k]
            near = shapely.shortest_line(segments[k], geom).coords[0]
            along = math.dist((ax, ay), near)
            node = (kind, label)
            on_road = ("on", kind, label)
            inserted.setdefault(k, []).append((along, on_road))
            graph.add_edge(node, on_road, weight=float(dists[k]))
            (sources.append(node) if kind == "target" else sinks.__setitem__(label, node))
    for k, (a, b) in enumerate(keys):
        chain = [(0.0, a), *sorted(inserted.get(k, []), key=lambda p: p[0]), (edges[(a, b)], b)]
        for (p0, n0), (p1, n1) in zip(chain[:-1], chain[1:], strict=True):
            graph.add_edge(n0, n1, weight=p1 - p0)
    dist, paths = nx.multi_source_dijkstra(graph, sources, weight="weight")
    names = goals["name"]
    rows = []
    for label in lots.index:
        node = sinks.get(label)
        if node is None or node not in dist:
            rows.append((label, np.nan, None))
        else:
            rows.append((label, dist[node], names[paths[node][0][1]]))
    return pd.DataFrame(rows, columns=["label", "distance", "target"]).set_index("label")


def test_sample_distances_match_networkx_on_200_random_lots(sample, sample_result):
    goals = nmgeo.reference.control_points()
    lots = sample.parcels.sample(200, random_state=7)
    expected = _oracle_distances(sample.roads, goals, lots, max_snap=500.0)
    got = sample_result.loc[lots.index]
    assert expected["distance"].notna().sum() > 150
    np.testing.assert_array_equal(got["network_distance_m"].isna(), expected["distance"].isna())
    np.testing.assert_allclose(
        got["network_distance_m"], expected["distance"], rtol=1e-9, atol=1e-6
    )
    reached = expected["distance"].notna()
    assert (got.loc[reached, "network_target"] == expected.loc[reached, "target"]).all()


def test_sample_results_are_consistent(sample, sample_result):
    out = sample_result
    assert out.index.equals(sample.parcels.index)
    # The outline holds North district's islands (Crooked Island, Kat O, Tung Ping Chau ...):
    # their lots have no road to a crossing. On the mainland part nearly every lot has one.
    parts = shapely.get_parts(nmgeo.reference.nm_boundary().geometry.to_numpy())
    mainland = parts[np.argmax(shapely.area(parts))]
    on_mainland = shapely.within(sample.parcels.geometry.to_numpy(), mainland)
    reached = out["network_distance_m"].notna().to_numpy()
    assert on_mainland.mean() > 0.9
    assert reached[on_mainland].mean() > 0.99
    islands = [p for p in parts if p is not mainland]
    on_island = shapely.intersects(sample.parcels.geometry.to_numpy()[:, None], islands).any(
        axis=1
    )
    assert not reached[on_island].any()
    ratio = out["network_detour_ratio"].dropna()
    assert (ratio >= 1 - 1e-9).all()
    assert 1.1 < ratio.median() < 1.8
    done = out["network_distance_m"].notna()
    total = out[["network_target_access_m", "network_path_m", "network_access_m"]].sum(axis=1)
    np.testing.assert_allclose(out.loc[done, "network_distance_m"], total[done], atol=1e-6)
    assert (out.loc[done, "network_access_m"] <= 500.0).all()
    assert set(out["network_target"].dropna()) <= set(nmgeo.reference.control_points()["name"])
