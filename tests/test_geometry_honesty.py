"""Readers never invent geometry: non-finite vertices, exact overlap checks, no ballpark CRSs.

Issue 13, point 5. Expectations are computed independently of nmgeo: by hand, by brute
force over all pairs with shapely, or from pyproj directly.
"""

from __future__ import annotations

import itertools
import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from nmgeo import read_parcels, read_zones
from nmgeo._crs import as_hk80
from nmgeo._overlaps import SLIVER_WIDTH, _separated, find_overlaps
from nmgeo._validate import check_geometries
from nmgeo.errors import CRSError, InvalidGeometryError

E0, N0 = 820_000.0, 835_000.0  # near Yuen Long, HK1980 Grid metres


def box(x: float, y: float, side: float) -> shapely.Polygon:
    return shapely.box(E0 + x, N0 + y, E0 + x + side, N0 + y + side)


def lots(geoms, ids=None, crs="EPSG:2326") -> gpd.GeoDataFrame:
    ids = ids or [f"L{k}" for k in range(len(geoms))]
    return gpd.GeoDataFrame({"LOTID": ids}, geometry=list(geoms), crs=crs)


def one_sentence(msg: str) -> bool:
    return msg.endswith(".") and ". " not in msg.replace("e.g. ", "")


def zones(geoms, crs="EPSG:2326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"ZONE_LABEL": ["AGR"] * len(geoms)}, geometry=list(geoms), crs=crs)


# --------------------------------------------------------------------------- non-finite

NAN_TRIANGLE = shapely.Polygon([(E0, N0), (math.nan, N0), (E0, N0 + 10), (E0 + 5, N0 + 5)])
INF_HOLE = shapely.Polygon(
    box(20, 0, 10).exterior.coords,
    holes=[[(E0 + 22, N0 + 2), (math.inf, N0 + 2), (E0 + 25, N0 + 5)]],
)
NAN_PART = shapely.MultiPolygon(
    [box(40, 0, 5), shapely.Polygon([(E0, N0), (E0 + 1, math.nan), (E0, N0 + 1)])]
)


@pytest.mark.filterwarnings("ignore:invalid value encountered")
@pytest.mark.parametrize(
    "bad", [NAN_TRIANGLE, INF_HOLE, NAN_PART], ids=["nan", "inf-hole", "nan-part"]
)
@pytest.mark.parametrize("on_invalid", ["repair", "raise"])
def test_a_non_finite_vertex_is_an_error_naming_the_lot(bad, on_invalid):
    gdf = lots([box(0, 0, 10), bad, box(100, 0, 10)], ids=["OK-1", "BAD-7", "OK-2"])
    with pytest.raises(InvalidGeometryError) as err:
        read_parcels(gdf, on_invalid=on_invalid)
    msg = str(err.value)
    assert "'BAD-7'" in msg and "OK-1" not in msg
    assert "NaN or infinite" in msg and "on_invalid='drop'" in msg
    assert one_sentence(msg)  # one sentence, with the fix


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_drop_drops_and_counts_non_finite_lots_and_keeps_the_rest_unchanged():
    good = [box(0, 0, 10), box(100, 0, 20)]
    gdf = lots([good[0], NAN_TRIANGLE, INF_HOLE, good[1]], ids=["A", "B", "C", "D"])
    out = read_parcels(gdf, on_invalid="drop")
    account = out.attrs["nmgeo_account"]
    assert out["parcel_id"].tolist() == ["A", "D"]
    assert out["area_m2"].tolist() == [100.0, 400.0]
    assert account["n_dropped_empty"] == 2 and account["dropped_ids"] == ["B", "C"]
    assert account["n_repaired"] == 0 and account["repair_area_change_m2"] == 0.0
    assert any("NaN or infinite" in note for note in account["notes"])
    assert account["n_input"] == account["n_output"] + account["n_dropped_empty"]


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_zones_with_non_finite_vertices_are_refused_by_row_position():
    with pytest.raises(InvalidGeometryError, match=r"row 1\b"):
        read_zones(zones([box(0, 0, 10), NAN_TRIANGLE]))
    out = read_zones(zones([box(0, 0, 10), NAN_TRIANGLE]), on_invalid="drop")
    assert len(out) == 1 and out.attrs["nmgeo_account"]["dropped_ids"] == [1]


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_check_geometries_never_repairs_a_non_finite_vertex_into_another_shape():
    bowtie = shapely.Polygon([(E0, N0), (E0 + 10, N0 + 10), (E0 + 10, N0), (E0, N0 + 10)])
    gdf = lots([bowtie, NAN_TRIANGLE])
    with pytest.raises(InvalidGeometryError, match="NaN or infinite"):
        check_geometries(gdf, ids=None, source="t", on_invalid="repair")
    out, counts = check_geometries(gdf, ids=None, source="t", on_invalid="drop")
    assert len(out) == 1 and counts["n_repaired"] == 1
    assert math.isfinite(counts["repair_area_change_m2"])
    assert counts["n_dropped_empty"] == 1 and counts["dropped_ids"] == [1]


def test_repair_area_change_is_finite_and_right_for_a_bowtie():
    # A bowtie of two 5 m triangles: GEOS reports area 0, the repair keeps both (50 m2).
    bowtie = shapely.Polygon([(E0, N0), (E0 + 10, N0 + 10), (E0 + 10, N0), (E0, N0 + 10)])
    out = read_parcels(lots([bowtie, box(50, 0, 10)]))
    account = out.attrs["nmgeo_account"]
    assert account["n_repaired"] == 1
    assert math.isfinite(account["repair_area_change_m2"])
    assert account["repair_area_change_m2"] == pytest.approx(abs(50.0 - bowtie.area))


# --------------------------------------------------------------------------- overlaps


def brute_force_pairs(geoms, sliver_width=SLIVER_WIDTH):
    """Every pair whose intersection exceeds sliver_width times the smaller perimeter."""
    found = {}
    for a, b in itertools.combinations(range(len(geoms)), 2):
        ga, gb = geoms[a], geoms[b]
        if ga is None or gb is None or ga.is_empty or gb.is_empty:
            continue
        area = shapely.intersection(ga, gb).area
        if area > sliver_width * min(ga.length, gb.length):
            found[(a, b)] = area
    return found


@st.composite
def shape(draw):
    x = draw(st.floats(0, 60, allow_nan=False)) + E0
    y = draw(st.floats(0, 60, allow_nan=False)) + N0
    r = draw(st.floats(0.5, 25, allow_nan=False))
    kind = draw(st.sampled_from(["round", "coarse", "donut", "box", "grid", "triangle", "multi"]))
    if kind == "round":  # curved lot: many vertices
        return shapely.buffer(shapely.Point(x, y), r, quad_segs=draw(st.integers(16, 64)))
    if kind == "coarse":  # few vertices: the separating-axis path
        return shapely.buffer(shapely.Point(x, y), r, quad_segs=draw(st.integers(1, 3)))
    if kind == "donut":  # a lot with a hole (or a bite out of its edge)
        outer = shapely.buffer(shapely.Point(x, y), r, quad_segs=draw(st.integers(8, 32)))
        dx = draw(st.floats(-r, r, allow_nan=False))
        inner = shapely.buffer(
            shapely.Point(x + dx, y), r * draw(st.floats(0.1, 0.8)), quad_segs=16
        )
        return outer.difference(inner)
    if kind == "grid":  # integer boxes: neighbours sharing edges exactly
        i, j, w = (draw(st.integers(0, 6)) for _ in range(3))
        return shapely.box(E0 + 10 * i, N0 + 10 * j, E0 + 10 * (i + w + 1), N0 + 10 * (j + 1))
    if kind == "box":
        return shapely.box(x, y, x + r, y + draw(st.floats(0.5, 25, allow_nan=False)))
    if kind == "triangle":
        pts = [(x, y), (x + r, y + draw(st.floats(-r, r))), (x + draw(st.floats(-r, r)), y + r)]
        triangle = shapely.Polygon(pts)
        return (
            triangle
            if triangle.is_valid and triangle.area > 0
            else shapely.box(x, y, x + r, y + r)
        )
    a = shapely.buffer(shapely.Point(x, y), r, quad_segs=draw(st.integers(1, 20)))
    return shapely.MultiPolygon([a, shapely.box(x + 2 * r + 1, y, x + 3 * r + 1, y + r)])


@st.composite
def layers(draw):
    geoms = draw(st.lists(shape(), min_size=0, max_size=14))
    # exact duplicates (many vertices too) and missing rows
    for _ in range(draw(st.integers(0, 3))):
        if geoms:
            geoms.insert(
                draw(st.integers(0, len(geoms))), geoms[draw(st.integers(0, len(geoms) - 1))]
            )
    if draw(st.booleans()):
        geoms.insert(draw(st.integers(0, len(geoms))), None)
    return geoms


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers(), st.sampled_from([SLIVER_WIDTH, 0.5, 2.0]))
def test_find_overlaps_returns_exactly_the_brute_force_pairs(geoms, sliver_width):
    arr = np.array(geoms + [None], dtype=object)[:-1] if geoms else np.empty(0, dtype=object)
    i, j, area = find_overlaps(arr, sliver_width=sliver_width)
    expected = brute_force_pairs(geoms, sliver_width)
    got = list(zip(i.tolist(), j.tolist(), strict=True))
    assert got == sorted(expected)
    np.testing.assert_allclose(area, [expected[p] for p in got], rtol=1e-9, atol=1e-9)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers())
def test_separated_never_raises_and_never_separates_a_real_overlap(geoms):
    arr = np.array(geoms + [None], dtype=object)[:-1] if geoms else np.empty(0, dtype=object)
    pairs = list(itertools.combinations(range(len(geoms)), 2))
    i = np.array([p[0] for p in pairs], dtype=np.intp)
    j = np.array([p[1] for p in pairs], dtype=np.intp)
    apart = _separated(arr, i, j, SLIVER_WIDTH)
    assert apart.shape == (len(pairs),)
    overlapping = brute_force_pairs(geoms)
    assert not any(apart[k] for k, p in enumerate(pairs) if p in overlapping)


def test_exact_duplicate_curved_lots_with_holes_are_one_overlap_each():
    ring = shapely.buffer(shapely.Point(E0, N0), 30, quad_segs=64).difference(
        shapely.buffer(shapely.Point(E0, N0), 10, quad_segs=64)
    )
    gdf = lots([ring, ring, box(200, 0, 10), box(200, 0, 10)])
    account = read_parcels(gdf, multipart="separate").attrs["nmgeo_account"]
    assert account["n_overlap_pairs"] == 2 and account["n_overlapping_lots"] == 4
    assert account["overlap_area_m2"] == pytest.approx(ring.area + 100.0)


# --------------------------------------------------------------------------- CRS


def hk_square_in(crs: str) -> gpd.GeoDataFrame:
    """A 20 m square near Yuen Long, built in HK1980 and taken to ``crs`` by pyproj."""
    to = Transformer.from_crs("EPSG:2326", crs, always_xy=True)
    xs, ys = to.transform([E0, E0 + 20, E0 + 20, E0], [N0, N0, N0 + 20, N0 + 20])
    return lots([shapely.Polygon(list(zip(xs, ys, strict=True)))], crs=crs)


@pytest.mark.parametrize("crs", ["EPSG:4490", "EPSG:4547"])
def test_a_crs_with_only_a_ballpark_operation_to_hk1980_is_refused(crs):
    description = Transformer.from_crs(crs, "EPSG:2326", always_xy=True).description
    assert "Ballpark" in description  # the premise, from PROJ itself
    gdf = hk_square_in(crs)
    for call in (lambda: read_parcels(gdf), lambda: read_zones(zones(gdf.geometry, crs=crs))):
        with pytest.raises(CRSError) as err:
            call()
        msg = str(err.value)
        assert crs in msg and "Ballpark" in msg and "hundreds of metres" in msg
        assert "reproject" in msg and one_sentence(msg)
    with pytest.raises(CRSError, match=crs):
        as_hk80(gdf, "parcels")


def test_wgs84_still_reads_and_lands_where_pyproj_puts_it():
    gdf = hk_square_in("EPSG:4326")
    assert "Ballpark" not in Transformer.from_crs(4326, 2326, always_xy=True).description
    out = read_parcels(gdf)
    assert out.crs.to_epsg() == 2326
    assert out.attrs["nmgeo_account"]["transformed"] is True
    xmin, ymin, xmax, ymax = out.total_bounds
    assert (xmin, ymin, xmax, ymax) == pytest.approx((E0, N0, E0 + 20, N0 + 20), abs=1e-3)
    assert out["area_m2"].iloc[0] == pytest.approx(400.0, rel=1e-6)
    back = as_hk80(gdf, "parcels")
    assert back.total_bounds == pytest.approx(out.total_bounds, abs=1e-6)


def test_hk1980_itself_is_not_reprojected():
    gdf = lots([box(0, 0, 10)])
    assert as_hk80(gdf, "parcels") is gdf
    assert read_parcels(gdf).attrs["nmgeo_account"]["transformed"] is False
