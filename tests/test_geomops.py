"""The point-test shortcut for polygons lying clear of large polygons' boundaries."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

import nmgeo
from nmgeo import _geomops, _overlay


def _star(cx: float, cy: float, r: float, n: int, seed: int) -> shapely.Polygon:
    """A star-shaped polygon of ``n`` vertices with a square hole at its centre."""
    rng = np.random.default_rng(seed)
    angle = np.sort(rng.uniform(0, 2 * np.pi, n))
    radius = r * rng.uniform(0.5, 1.0, n)
    shell = np.c_[cx + radius * np.cos(angle), cy + radius * np.sin(angle)]
    hole = shapely.box(cx - r / 8, cy - r / 8, cx + r / 8, cy + r / 8).exterior.coords
    return shapely.Polygon(shell, [hole])


def _large(seed: int) -> np.ndarray:
    """Two large many-vertex polygons, one a MultiPolygon, apart from each other."""
    return np.array(
        [
            _star(500, 500, 450, 400, seed),
            shapely.MultiPolygon(
                [_star(1500, 500, 300, 300, seed + 1), _star(1500, 1200, 200, 200, seed + 2)]
            ),
        ],
        dtype=object,
    )


boxes = st.lists(
    st.tuples(
        st.floats(-100, 2000), st.floats(-100, 1500), st.floats(0.5, 80), st.floats(0.5, 80)
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=40, deadline=None)
@given(boxes, st.integers(0, 1_000), st.booleans())
def test_clear_geometries_lie_wholly_inside_or_outside(rects, seed, coarse):
    large = _large(seed)
    small = np.array([shapely.box(x, y, x + w, y + h) for x, y, w, h in rects], dtype=object)
    if coarse:  # the coarser grid of a very large extent
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_geomops, "_MAX_CELLS", 50)
            clear = _geomops.clear_of_boundaries(small, large)
    else:
        clear = _geomops.clear_of_boundaries(small, large)
    boundary = shapely.boundary(large)
    for k in np.flatnonzero(clear):
        envelope = shapely.box(*shapely.bounds(small[k]))
        assert not shapely.intersects(envelope, boundary).any()
    # A box crossing a boundary is never clear.
    crossing = shapely.intersects(small[:, None], boundary[None, :]).any(axis=1)
    assert not (clear & crossing).any()
    with pytest.MonkeyPatch.context() as mp:
        if coarse:  # and the tree of many polygons
            mp.setattr(_geomops, "_FEW_POLYGONS", 0)
        gi, pi = _geomops.box_centres_within(small[clear], large)
    got = {(int(np.flatnonzero(clear)[g]), int(p)) for g, p in zip(gi, pi, strict=True)}
    want = {
        (int(k), int(p))
        for k in np.flatnonzero(clear)
        for p in range(len(large))
        if shapely.contains_properly(large[p], small[k])
    }
    assert got == want


def test_missing_and_empty_geometries_are_clear_and_inside_nothing():
    large = _large(3)
    small = np.array([None, shapely.Polygon(), shapely.box(490, 490, 495, 495)], dtype=object)
    clear = _geomops.clear_of_boundaries(small, large)
    assert clear[:2].all()
    gi, _ = _geomops.box_centres_within(small[:2], large)
    assert len(gi) == 0


@settings(max_examples=25, deadline=None)
@given(boxes, st.integers(0, 1_000))
def test_dominant_overlap_is_the_same_with_and_without_the_point_test(rects, seed):
    large = _large(seed)
    small = np.array([shapely.box(x, y, x + w, y + h) for x, y, w, h in rects], dtype=object)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_overlay, "_LARGE_VERTICES", 0)  # always take the point test
        fast = _overlay.dominant_overlap(small, large, tie_key=np.array(["a", "b"], object))
        mp.setattr(_overlay, "_LARGE_VERTICES", 10**9)  # never
        plain = _overlay.dominant_overlap(small, large, tie_key=np.array(["a", "b"], object))
    np.testing.assert_array_equal(fast.index, plain.index)
    np.testing.assert_array_equal(fast.count, plain.count)
    np.testing.assert_allclose(fast.share, plain.share, rtol=1e-12, atol=1e-12)
    # And both agree with plain shapely areas (overlaps under 1 cm times the perimeter are
    # slivers, as everywhere in nmgeo).
    area = shapely.area(shapely.intersection(small[:, None], large[None, :]))
    area[area <= 0.01 * shapely.length(small)[:, None]] = 0.0
    np.testing.assert_allclose(fast.share, area.max(axis=1) / shapely.area(small), atol=1e-9)
    np.testing.assert_array_equal(fast.count, (area > 0).sum(axis=1))


def test_major_zones_of_the_sample_fabric_match_an_independent_overlay():
    sample = nmgeo.load_sample()
    fabric = nmgeo.land_fabric(sample.zones, sample.parcels)
    got = nmgeo.assign_major_zone(fabric)["major_zone"]
    major = nmgeo.reference.major_zones()
    pieces = gpd.overlay(
        fabric[["piece_id", "geometry"]], major[["short_name", "geometry"]], how="intersection"
    )
    pieces["a"] = pieces.area
    perimeter = fabric.set_index("piece_id").length
    pieces = pieces[pieces["a"] > 0.01 * perimeter.loc[pieces["piece_id"]].to_numpy()]
    biggest = pieces.sort_values(["piece_id", "a"], ascending=[True, False]).drop_duplicates(
        "piece_id"
    )
    want = fabric[["piece_id"]].merge(biggest, on="piece_id", how="left")["short_name"]
    assert got.fillna("-").tolist() == want.fillna("-").tolist()
    assert got.notna().mean() > 0.5  # the outlines are approximate: some land lies outside
    assert got.nunique() == 4
