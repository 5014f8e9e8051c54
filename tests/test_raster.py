"""distance_raster, slope_raster, write_raster, zonal_stats and assign_terrain: known answers."""

from __future__ import annotations

import logging
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from geotiff import write_geotiff
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon, box

import nmgeo
from nmgeo._graphs import _colour_graph
from nmgeo.errors import CRSError, GeometryTypeError, InputError, MissingCRSError
from nmgeo.raster import (
    Raster,
    assign_terrain,
    distance_raster,
    slope_raster,
    write_raster,
    zonal_stats,
)

X0, Y0 = 830_000.0, 840_000.0  # top-left corner of the test grids (Kwu Tung, HK1980 Grid)
CELL = 10.0  # metres


def write_tif(path, values, *, transform=None, crs="EPSG:2326", nodata=-9999.0):
    """Write a single-band GeoTIFF; default grid: 10 m cells from (X0, Y0) southwards."""
    transform = transform or Affine(CELL, 0.0, X0, 0.0, -CELL, Y0)
    return write_geotiff(path, values, transform, crs=crs, nodata=nodata)


def wgs84_raster(tmp_path):
    """A 5 x 5 zero raster in EPSG:4326 near Hong Kong: 0.001 degree cells."""
    transform = Affine(0.001, 0, 114.0, 0, -0.001, 22.5)
    zeros = np.zeros((5, 5), "float32")
    return write_tif(tmp_path / "wgs.tif", zeros, transform=transform, crs="EPSG:4326")


def centres(transform: Affine, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre coordinates (x, y) as 2-D arrays, computed from the transform."""
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    return transform @ (cols, rows)


def shapely_distance(x: np.ndarray, y: np.ndarray, targets: gpd.GeoDataFrame) -> np.ndarray:
    """Distance from each (x, y) to the nearest target geometry, by shapely."""
    pts = shapely.points(x.ravel(), y.ravel())
    union = shapely.union_all(targets.geometry.to_numpy())
    return shapely.distance(pts, union).reshape(x.shape)


def frame(geoms, crs="EPSG:2326", **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=list(geoms), crs=crs)


# --------------------------------------------------------------------------- distance


BCP_LIKE = frame(
    [Point(X0 + 130.0, Y0 - 270.0), Point(X0 + 612.5, Y0 - 88.0), Point(X0 + 401.0, Y0 - 733.3)]
)


def test_point_distances_equal_shapely_distances_everywhere():
    arr, profile = distance_raster(BCP_LIKE, bounds=(X0, Y0 - 1000, X0 + 900, Y0), resolution=25)
    assert arr.shape == (40, 36)
    assert profile["transform"] == Affine(25.0, 0.0, X0, 0.0, -25.0, Y0)
    x, y = centres(profile["transform"], *arr.shape)
    np.testing.assert_allclose(arr, shapely_distance(x, y, BCP_LIKE), rtol=0, atol=1e-6)


def test_point_distance_at_a_hand_computed_cell():
    target = frame([Point(X0 + 30.0, Y0 - 40.0)])
    arr, _ = distance_raster(target, bounds=(X0, Y0 - 100, X0 + 100, Y0), resolution=10)
    # Cell (row 7, col 6) has its centre at (X0 + 65, Y0 - 75): 35 m east, 35 m south.
    assert arr[7, 6] == pytest.approx(math.hypot(35.0, 35.0), abs=1e-9)
    assert arr[3, 2] == pytest.approx(math.hypot(5.0, 5.0), abs=1e-9)


def test_points_outside_the_grid_still_count():
    target = frame([Point(X0 - 500.0, Y0 - 50.0)])
    arr, profile = distance_raster(target, bounds=(X0, Y0 - 100, X0 + 100, Y0), resolution=10)
    x, y = centres(profile["transform"], *arr.shape)
    np.testing.assert_allclose(arr, shapely_distance(x, y, target), atol=1e-6)


def test_line_distances_within_half_a_cell_diagonal():
    road = frame([LineString([(X0 + 37, Y0 - 20), (X0 + 410, Y0 - 333), (X0 + 800, Y0 - 351)])])
    arr, profile = distance_raster(road, bounds=(X0, Y0 - 800, X0 + 900, Y0), resolution=25)
    x, y = centres(profile["transform"], *arr.shape)
    exact = shapely_distance(x, y, road)
    error = np.abs(arr - exact)
    assert error.max() <= 25 * math.sqrt(2) / 2 + 1e-9
    assert error.mean() < 10.0  # not merely bounded: close on average


def test_polygon_target_is_zero_inside_and_close_outside():
    site = frame([Polygon([(X0 + 200, Y0 - 200), (X0 + 520, Y0 - 260), (X0 + 380, Y0 - 600)])])
    arr, profile = distance_raster(site, bounds=(X0, Y0 - 800, X0 + 800, Y0), resolution=20)
    x, y = centres(profile["transform"], *arr.shape)
    exact = shapely_distance(x, y, site)
    inside = exact == 0
    assert inside.sum() > 50
    assert (arr[inside] == 0).all()
    assert np.abs(arr - exact).max() <= 20 * math.sqrt(2) / 2 + 1e-9
    assert arr.max() > 300  # far cells are far


def test_lines_reaching_beyond_the_grid_are_measured_outside_it():
    # Only the far end of the line is near the grid's corner; the line is outside the grid.
    road = frame([LineString([(X0 - 2000, Y0 + 40), (X0 - 30, Y0 + 30)])])
    arr, profile = distance_raster(road, bounds=(X0, Y0 - 300, X0 + 300, Y0), resolution=10)
    x, y = centres(profile["transform"], *arr.shape)
    assert np.abs(arr - shapely_distance(x, y, road)).max() <= 10 * math.sqrt(2) / 2 + 1e-9


def test_mixed_targets_take_the_nearest_of_all():
    mixed = frame(
        [Point(X0 + 50, Y0 - 50), LineString([(X0 + 300, Y0), (X0 + 300, Y0 - 400)])],
    )
    arr, profile = distance_raster(mixed, bounds=(X0, Y0 - 400, X0 + 400, Y0), resolution=10)
    x, y = centres(profile["transform"], *arr.shape)
    assert np.abs(arr - shapely_distance(x, y, mixed)).max() <= 10 * math.sqrt(2) / 2 + 1e-9
    # Near the point (and far from the line) the value is exact.
    assert arr[4, 4] == pytest.approx(math.hypot(5, 5), abs=1e-9)


def test_default_grid_pads_the_targets_by_two_kilometres():
    arr, profile = distance_raster(BCP_LIKE, resolution=50)
    west, north = profile["transform"].c, profile["transform"].f
    east = west + arr.shape[1] * 50
    south = north - arr.shape[0] * 50
    tb = BCP_LIKE.total_bounds
    assert west <= tb[0] - 2000 < west + 50
    assert east - 50 < tb[2] + 2000 <= east
    assert south <= tb[1] - 2000 < south + 50
    assert north - 50 < tb[3] + 2000 <= north
    assert arr.max() > 2000


def test_like_reuses_the_grid_of_an_existing_raster(tmp_path):
    transform = Affine(20.0, 0.0, X0 + 7.0, 0.0, -20.0, Y0 - 3.0)
    like = write_tif(tmp_path / "dem.tif", np.zeros((33, 47), "float32"), transform=transform)
    arr, profile = distance_raster(BCP_LIKE, like=like, resolution=999)
    assert arr.shape == (33, 47)
    assert profile["transform"] == transform
    assert profile["crs"].to_epsg() == 2326
    x, y = centres(transform, 33, 47)
    np.testing.assert_allclose(arr, shapely_distance(x, y, BCP_LIKE), atol=1e-6)


def test_like_in_another_crs_is_refused(tmp_path):
    like = wgs84_raster(tmp_path)
    with pytest.raises(CRSError, match="EPSG:4326"):
        distance_raster(BCP_LIKE, like=like)


def test_geotiff_is_written_in_hk1980_grid(tmp_path):
    bounds = (X0, Y0 - 1000, X0 + 900, Y0)
    arr, _ = distance_raster(BCP_LIKE, bounds=bounds, resolution=25)
    out = write_raster(distance_raster(BCP_LIKE, bounds=bounds, resolution=25), tmp_path / "d.tif")
    assert out == tmp_path / "d.tif"
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 2326
        assert src.dtypes == ("float32",)
        assert src.nodata == -9999.0
        assert src.tags()["units"] == "metre"
        assert src.transform == Affine(25.0, 0.0, X0, 0.0, -25.0, Y0)
        np.testing.assert_allclose(src.read(1), arr, rtol=1e-6)


def test_targets_in_wgs84_are_reprojected():
    bounds = (X0, Y0 - 1000, X0 + 900, Y0)
    in_hk80, _ = distance_raster(BCP_LIKE, bounds=bounds, resolution=25)
    in_wgs84, _ = distance_raster(BCP_LIKE.to_crs("EPSG:4326"), bounds=bounds, resolution=25)
    np.testing.assert_allclose(in_wgs84, in_hk80, atol=1e-3)


def test_bad_distance_inputs_raise():
    with pytest.raises(InputError, match="no geometries"):
        distance_raster(BCP_LIKE.iloc[:0])
    with pytest.raises(InputError, match="no geometries"):
        distance_raster(frame([None]))
    with pytest.raises(MissingCRSError):
        distance_raster(BCP_LIKE.set_crs(None, allow_override=True))
    with pytest.raises(InputError, match="resolution"):
        distance_raster(BCP_LIKE, resolution=0)
    with pytest.raises(InputError, match="xmin < xmax"):
        distance_raster(BCP_LIKE, bounds=(X0 + 10, Y0, X0, Y0 + 10))


# --------------------------------------------------------------------------- slope


def plane_dem(tmp_path, a, b, *, dx=10.0, dy=10.0, shape=(12, 15), nodata_cells=()):
    """A DEM of the plane z = a*x + b*y (x, y in metres from the grid's top-left corner)."""
    transform = Affine(dx, 0.0, X0, 0.0, -dy, Y0)
    x, y = centres(transform, *shape)
    z = (a * (x - X0) + b * (y - Y0) + 50.0).astype("float32")
    for cell in nodata_cells:
        z[cell] = -9999.0
    return write_tif(tmp_path / "dem.tif", z, transform=transform)


def read_slope(tmp_path, dem):
    out = write_raster(slope_raster(dem), tmp_path / "slope.tif")
    with rasterio.open(out) as src:
        assert src.dtypes == ("float32",) and src.nodata == -9999.0
        assert src.tags()["units"] == "degree"
        with rasterio.open(dem) as d:
            assert src.transform == d.transform and src.crs == d.crs
        return src.read(1)


def test_flat_dem_has_zero_slope(tmp_path):
    slope = read_slope(tmp_path, plane_dem(tmp_path, 0.0, 0.0))
    assert (slope == 0).all()


@pytest.mark.parametrize(
    ("a", "b", "dx", "dy"),
    [
        (0.1, 0.0, 10.0, 10.0),
        (0.1, 0.2, 10.0, 10.0),
        (0.1, 0.2, 5.0, 20.0),
        (0.0, -0.5, 25.0, 25.0),
    ],
)
def test_inclined_plane_has_its_slope_everywhere(tmp_path, a, b, dx, dy):
    slope = read_slope(tmp_path, plane_dem(tmp_path, a, b, dx=dx, dy=dy))
    expected = math.degrees(math.atan(math.hypot(a, b)))
    np.testing.assert_allclose(slope[1:-1, 1:-1], expected, atol=1e-4)  # interior
    np.testing.assert_allclose(slope, expected, atol=1e-4)  # and the edges


def test_known_slope_of_z_equals_a_tenth_of_x(tmp_path):
    slope = read_slope(tmp_path, plane_dem(tmp_path, 0.1, 0.0))
    assert slope[5, 7] == pytest.approx(5.710593, abs=1e-5)  # atan(0.1) in degrees


def test_nodata_stays_within_its_three_by_three_window(tmp_path):
    dem = plane_dem(tmp_path, 0.1, 0.0, nodata_cells=[(5, 7), (0, 0)])
    slope = read_slope(tmp_path, dem)
    hole = np.zeros(slope.shape, bool)
    hole[4:7, 6:9] = True  # window of the interior nodata cell
    hole[0:2, 0:2] = True  # window of the corner nodata cell
    assert (slope[hole] == -9999.0).all()
    np.testing.assert_allclose(slope[~hole], math.degrees(math.atan(0.1)), atol=1e-4)


def test_slope_of_a_geographic_dem_is_refused(tmp_path):
    dem = wgs84_raster(tmp_path)
    with pytest.raises(CRSError, match="geographic"):
        slope_raster(dem)


# --------------------------------------------------------------------------- zonal stats


VALUES = (np.arange(10)[:, None] * 10 + np.arange(10)[None, :]).astype("float32")  # row*10+col


@pytest.fixture
def grid(tmp_path):
    """10 x 10 cells of 10 m, cell (row, col) = row * 10 + col."""
    return write_tif(tmp_path / "grid.tif", VALUES)


def cells(r0, c0, r1, c1, inset=0.0):
    """Box over rows r0..r1-1 and columns c0..c1-1 of the test grid (shrunk by ``inset`` m)."""
    return box(
        X0 + c0 * CELL + inset,
        Y0 - r1 * CELL + inset,
        X0 + c1 * CELL - inset,
        Y0 - r0 * CELL - inset,
    )


def test_square_over_two_by_two_cells_has_known_stats(grid):
    stats = ("mean", "min", "max", "count", "sum", "std", "median", "range")
    out = zonal_stats(frame([cells(2, 4, 4, 6)]), grid, stats=stats)  # values 24, 25, 34, 35
    row = out.iloc[0]
    assert row["mean"] == pytest.approx(29.5)
    assert row["min"] == 24 and row["max"] == 35 and row["range"] == 11
    assert row["count"] == 4
    assert row["sum"] == pytest.approx(118.0)
    assert row["std"] == pytest.approx(math.sqrt(25.25))
    assert row["median"] == pytest.approx(29.5)
    assert not row["small_polygon"]
    assert list(out.columns) == [*stats, "small_polygon"]
    assert out["count"].dtype == np.int64 and out["mean"].dtype == np.float64
    assert out["small_polygon"].dtype == bool


def test_median_of_an_odd_count(grid):
    tri = frame([cells(0, 0, 1, 3)])  # values 0, 1, 2
    out = zonal_stats(tri, grid, stats=["median", "std"])
    assert out.loc[0, "median"] == 1.0
    assert out.loc[0, "std"] == pytest.approx(math.sqrt(2 / 3))


def test_all_touched_adds_the_ring_of_touched_cells(grid):
    # From 8 m to 32 m on both axes: centres of rows/cols 1-2 are inside, rows/cols 0-3 touched.
    poly = frame([box(X0 + 8, Y0 - 32, X0 + 32, Y0 - 8)])
    centre_in = zonal_stats(poly, grid, stats=["count", "mean", "min", "max"])
    touched = zonal_stats(poly, grid, stats=["count", "mean", "min", "max"], all_touched=True)
    assert centre_in.loc[0, "count"] == 4
    assert centre_in.loc[0, "mean"] == pytest.approx(16.5)  # 11, 12, 21, 22
    assert touched.loc[0, "count"] == 16
    assert touched.loc[0, "mean"] == pytest.approx(16.5)  # rows and cols 0..3
    assert (touched.loc[0, "min"], touched.loc[0, "max"]) == (0, 33)


def test_tiny_polygon_takes_the_cell_under_it(grid):
    tiny = box(X0 + 31, Y0 - 78, X0 + 33, Y0 - 76)  # inside cell (row 7, col 3)
    out = zonal_stats(frame([tiny, cells(0, 0, 2, 2)]), grid, stats=["mean", "count", "min"])
    assert out.loc[0, "mean"] == 73 and out.loc[0, "min"] == 73
    assert out.loc[0, "count"] == 1
    assert out["small_polygon"].tolist() == [True, False]


def test_polygon_outside_the_raster_gets_nan_and_zero(grid):
    far = box(X0 + 500, Y0 - 500, X0 + 600, Y0 - 400)
    out = zonal_stats(frame([far, cells(0, 0, 1, 1)]), grid, stats=["mean", "max", "count", "sum"])
    assert np.isnan(out.loc[0, ["mean", "max", "sum"]].astype(float)).all()
    assert out.loc[0, "count"] == 0
    assert not out.loc[0, "small_polygon"]
    assert out.loc[1, "mean"] == 0 and out.loc[1, "count"] == 1


def test_only_outside_polygons_warn_and_give_nan(grid, caplog):
    far = frame([box(X0 + 500, Y0 - 500, X0 + 600, Y0 - 400)])
    with caplog.at_level(logging.WARNING, logger="nmgeo.raster"):
        out = zonal_stats(far, grid)
    assert out["mean"].isna().all() and (out["count"] == 0).all()
    assert "NaN" in caplog.text


def test_polygon_partly_outside_uses_the_cells_inside(grid):
    poly = frame([box(X0 - 100, Y0 - 20, X0 + 20, Y0 + 100)])  # covers rows 0-1, cols 0-1
    out = zonal_stats(poly, grid, stats=["count", "mean"])
    assert out.loc[0, "count"] == 4 and out.loc[0, "mean"] == pytest.approx(5.5)


def test_vector_in_wgs84_gives_the_stats_of_hk80(grid):
    polys = frame(
        [
            cells(2, 4, 4, 6),
            Polygon([(X0 + 12, Y0 - 12), (X0 + 88, Y0 - 30), (X0 + 40, Y0 - 91)]),
            box(X0 + 31, Y0 - 78, X0 + 33, Y0 - 76),
        ]
    )
    stats = ["mean", "min", "max", "count", "median"]
    hk80 = zonal_stats(polys, grid, stats=stats)
    wgs84 = zonal_stats(polys.to_crs("EPSG:4326"), grid, stats=stats)
    pd.testing.assert_frame_equal(wgs84, hk80)
    assert hk80.loc[1, "count"] > 20


def test_nodata_cells_are_excluded(tmp_path):
    values = VALUES.copy()
    values[2, 4] = -9999.0
    values[3, 5] = np.nan
    path = write_tif(tmp_path / "holes.tif", values)
    out = zonal_stats(frame([cells(2, 4, 4, 6)]), path, stats=["count", "mean", "min", "max"])
    assert out.loc[0, "count"] == 2  # 25 and 34 remain
    assert out.loc[0, "mean"] == pytest.approx(29.5)
    assert (out.loc[0, "min"], out.loc[0, "max"]) == (25, 34)


def test_polygon_only_on_nodata_gets_nan_not_small(tmp_path):
    values = VALUES.copy()
    values[0:2, 0:2] = -9999.0
    path = write_tif(tmp_path / "holes.tif", values)
    out = zonal_stats(frame([cells(0, 0, 2, 2)]), path, stats=["count", "mean"])
    assert out.loc[0, "count"] == 0 and np.isnan(out.loc[0, "mean"])
    assert not out.loc[0, "small_polygon"]


def test_all_nodata_raster_gives_nan_and_a_warning(tmp_path, caplog):
    path = write_tif(tmp_path / "empty.tif", np.full((10, 10), -9999.0, "float32"))
    polys = frame([cells(2, 4, 4, 6), cells(0, 0, 10, 10)])
    with caplog.at_level(logging.WARNING, logger="nmgeo.raster"):
        out = zonal_stats(polys, path, stats=["mean", "min", "count", "std", "median"])
    assert out[["mean", "min", "std", "median"]].isna().all().all()
    assert (out["count"] == 0).all()
    assert any(r.levelno == logging.WARNING and "NaN" in r.message for r in caplog.records)


OVERLAPPING = [
    cells(1, 1, 5, 5),
    cells(3, 3, 7, 7),  # overlaps the first on rows/cols 3-4
    cells(2, 2, 4, 4),  # nested in the first
    cells(1, 5, 5, 8),  # shares an edge with the first
    Polygon([(X0 + 14, Y0 - 16), (X0 + 97, Y0 - 22), (X0 + 55, Y0 - 93)]),  # over all of them
    box(X0 + 44, Y0 - 46, X0 + 46, Y0 - 44),  # tiny, inside the others
]


@pytest.mark.parametrize("all_touched", [False, True])
def test_overlapping_polygons_get_the_stats_they_get_alone(grid, all_touched):
    stats = ["mean", "min", "max", "count", "sum", "std", "median"]
    together = zonal_stats(frame(OVERLAPPING), grid, stats=stats, all_touched=all_touched)
    alone = pd.concat(
        [zonal_stats(frame([g]), grid, stats=stats, all_touched=all_touched) for g in OVERLAPPING],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(together, alone)


def test_overlapping_polygons_against_numpy(grid):
    out = zonal_stats(frame(OVERLAPPING[:4]), grid, stats=["count", "mean", "max"])
    blocks = [VALUES[1:5, 1:5], VALUES[3:7, 3:7], VALUES[2:4, 2:4], VALUES[1:5, 5:8]]
    assert out["count"].tolist() == [b.size for b in blocks]
    np.testing.assert_allclose(out["mean"], [b.mean() for b in blocks])
    np.testing.assert_allclose(out["max"], [b.max() for b in blocks])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(order=st.permutations(list(range(len(OVERLAPPING)))), all_touched=st.booleans())
def test_rows_follow_the_input_order_and_index(grid, order, all_touched):
    labels = [f"lot-{i}" for i in range(len(OVERLAPPING))]
    base = frame(OVERLAPPING).set_axis(labels)
    reference = zonal_stats(base, grid, stats=["mean", "count", "median"], all_touched=all_touched)
    shuffled = base.iloc[list(order)]
    out = zonal_stats(shuffled, grid, stats=["mean", "count", "median"], all_touched=all_touched)
    assert list(out.index) == list(shuffled.index)
    pd.testing.assert_frame_equal(out, reference.loc[shuffled.index])


def test_prefix_names_the_columns(grid):
    out = zonal_stats(frame([cells(0, 0, 2, 2)]), grid, stats=["mean", "count"], prefix="elev_")
    assert list(out.columns) == ["elev_mean", "elev_count", "elev_small_polygon"]


def test_null_geometries_get_nan(grid):
    out = zonal_stats(frame([None, cells(0, 0, 2, 2)]), grid, stats=["mean", "count"])
    assert np.isnan(out.loc[0, "mean"]) and out.loc[0, "count"] == 0
    assert out.loc[1, "mean"] == pytest.approx(5.5)


def test_unknown_stat_lists_the_valid_ones(grid):
    with pytest.raises(InputError, match="mean, min, max, count, sum, std, median, range"):
        zonal_stats(frame([cells(0, 0, 2, 2)]), grid, stats=["mean", "majority"])


def test_zonal_crs_errors(tmp_path, grid):
    no_crs = write_tif(tmp_path / "nocrs.tif", VALUES, crs=None)
    with pytest.raises(CRSError, match="no CRS"):
        zonal_stats(frame([cells(0, 0, 2, 2)]), no_crs)
    with pytest.raises(MissingCRSError):
        zonal_stats(frame([cells(0, 0, 2, 2)], crs=None), grid)


def test_points_are_refused(grid):
    with pytest.raises(GeometryTypeError):
        zonal_stats(frame([Point(X0 + 5, Y0 - 5)]), grid)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 40),
    edges=st.lists(st.tuples(st.integers(0, 39), st.integers(0, 39)), max_size=200),
)
def test_graph_colouring_separates_neighbours(n, edges):
    pairs = np.array([(i, j) for i, j in edges if i < n and j < n and i != j], dtype=np.int64)
    pairs = pairs.reshape(-1, 2)
    colour = _colour_graph(n, pairs[:, 0], pairs[:, 1])
    assert (colour >= 0).all()
    assert (colour[pairs[:, 0]] != colour[pairs[:, 1]]).all()
    degree = np.bincount(pairs.ravel(), minlength=n)
    assert colour.max() <= degree.max()  # greedy bound: at most max degree + 1 colours


def test_sample_lots_have_plausible_mean_elevation():
    sample = nmgeo.load_sample()
    lots = sample.parcels.sample(500, random_state=1)
    out = zonal_stats(lots, sample.dem_path, stats=["mean", "count"], prefix="elev_")
    assert out.index.equals(lots.index)
    assert np.isfinite(out["elev_mean"]).all()
    assert out["elev_mean"].between(0, 700).all()
    assert (out["elev_count"] >= 1).all()


# --------------------------------------------------------------------------- Raster, write_raster


def test_a_raster_unpacks_as_an_array_and_a_profile():
    grid = distance_raster(BCP_LIKE, bounds=(X0, Y0 - 100, X0 + 200, Y0), resolution=10)
    assert isinstance(grid, Raster) and isinstance(grid, tuple) and len(grid) == 2
    arr, profile = grid
    assert arr is grid.array and profile is grid.profile
    assert arr.shape == (profile["height"], profile["width"]) == (10, 20)
    assert arr.dtype == np.float64 and profile["dtype"] == "float64"
    assert profile["nodata"] == -9999.0 and profile["tags"]["units"] == "metre"


@pytest.mark.parametrize("kind", ["distance", "slope"])
def test_write_raster_reads_back_equal(tmp_path, kind):
    if kind == "distance":
        raster = distance_raster(BCP_LIKE, bounds=(X0, Y0 - 1000, X0 + 900, Y0), resolution=25)
        expected = raster.array.astype("float32")
    else:
        raster = slope_raster(plane_dem(tmp_path, 0.1, 0.2, nodata_cells=[(5, 7)]))
        expected = raster.array
        assert (expected == -9999.0).sum() == 9
    out = write_raster(raster, tmp_path / f"{kind}.tif")
    assert out == tmp_path / f"{kind}.tif"
    with rasterio.open(out) as src:
        np.testing.assert_array_equal(src.read(1), expected)
        assert src.crs == raster.profile["crs"] and src.crs.to_epsg() == 2326
        assert src.transform == raster.profile["transform"]
        assert src.nodata == raster.profile["nodata"] == -9999.0
        assert src.dtypes == ("float32",)
        assert src.tags()["units"] == raster.profile["tags"]["units"]


def test_write_raster_turns_nan_into_nodata_and_checks_the_shape(tmp_path):
    values = np.array([[1.0, np.nan], [3.0, 4.0]])
    profile = {"crs": "EPSG:2326", "transform": Affine(CELL, 0.0, X0, 0.0, -CELL, Y0)}
    out = write_raster(Raster(values, profile), tmp_path / "small.tif")
    with rasterio.open(out) as src:
        assert src.read(1).tolist() == [[1.0, -9999.0], [3.0, 4.0]]
        assert src.tags().get("units") is None
    with pytest.raises(InputError, match="height"):
        write_raster(Raster(values, {**profile, "height": 3}), tmp_path / "bad.tif")
    with pytest.raises(InputError, match="does not exist"):
        write_raster(Raster(values, profile), tmp_path / "missing" / "x.tif")


def test_slope_of_a_raster_equals_slope_of_its_file(tmp_path):
    dem = plane_dem(tmp_path, 0.1, -0.3, dx=5.0, dy=20.0, nodata_cells=[(5, 7), (0, 0)])
    from_path = slope_raster(dem)
    with rasterio.open(dem) as src:
        from_memory = slope_raster(Raster(src.read(1), src.profile))
    np.testing.assert_array_equal(from_memory.array, from_path.array)
    assert from_memory.profile == from_path.profile
    # A float64 DEM with NaN holes gives the same slope.
    with rasterio.open(dem) as src:
        z = src.read(1).astype("float64")
        profile = {**src.profile, "dtype": "float64", "nodata": None}
    z[z == -9999.0] = np.nan
    np.testing.assert_array_equal(slope_raster(Raster(z, profile)).array, from_path.array)


def test_slope_of_a_geographic_raster_is_refused():
    raster = Raster(
        np.zeros((3, 3)), {"crs": "EPSG:4326", "transform": Affine(0.001, 0, 114, 0, -0.001, 22.5)}
    )
    with pytest.raises(CRSError, match="geographic"):
        slope_raster(raster)


def test_zonal_stats_of_a_raster_equals_zonal_stats_of_its_file(tmp_path, grid):
    values = VALUES.copy()
    values[2, 4] = -9999.0
    values[3, 5] = np.nan
    path = write_tif(tmp_path / "holes.tif", values)
    with rasterio.open(path) as src:
        raster = Raster(src.read(1), src.profile)
    polys = frame([*OVERLAPPING, cells(2, 4, 4, 6), None]).to_crs("EPSG:4326")
    stats = list(nmgeo.raster.ZONAL_STATS)
    for all_touched in (False, True):
        pd.testing.assert_frame_equal(
            zonal_stats(polys, raster, stats=stats, all_touched=all_touched),
            zonal_stats(polys, path, stats=stats, all_touched=all_touched),
        )
    with pytest.raises(InputError, match="band=2"):
        zonal_stats(polys, raster, band=2)
    no_crs = Raster(raster.array, {**raster.profile, "crs": None})
    with pytest.raises(CRSError, match="no CRS"):
        zonal_stats(polys, no_crs)


def test_stats_is_keyword_only(grid):
    with pytest.raises(TypeError):
        zonal_stats(frame([cells(0, 0, 2, 2)]), grid, ["mean"])


# --------------------------------------------------------------------------- assign_terrain


def test_assign_terrain_equals_the_terrain_columns_from_a_slope_file(tmp_path):
    """The terrain package_report computed before: zonal means of the DEM and a slope file."""
    sample = nmgeo.load_sample()
    lots = sample.parcels
    out = assign_terrain(lots, sample.dem_path)
    slope_path = write_raster(slope_raster(sample.dem_path), tmp_path / "slope.tif")
    elevation = zonal_stats(lots, sample.dem_path, stats=("mean",))["mean"]
    slope = zonal_stats(lots, slope_path, stats=("mean",))["mean"]
    np.testing.assert_array_equal(out["mean_elevation_m"], elevation)
    np.testing.assert_array_equal(out["mean_slope_deg"], slope)
    assert list(out.columns) == [*lots.columns, "mean_elevation_m", "mean_slope_deg"]
    assert out.index.equals(lots.index) and out.crs == lots.crs
    assert "mean_slope_deg" not in lots.columns  # a copy
    assert out["mean_slope_deg"].between(0, 90).all()
