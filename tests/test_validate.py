"""Specification of nmgeo._validate: geometry checks and repairs, and id checks."""

from __future__ import annotations

import logging
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import CRS

from nmgeo._accounts import ReadAccount
from nmgeo._crs import HK_BOUNDS_2326, as_hk80, ensure_crs
from nmgeo._validate import check_geometries, check_ids, check_on_invalid
from nmgeo.errors import (
    CoordinateRangeError,
    CRSError,
    DuplicateIdError,
    EmptyGeometryError,
    GeometryTypeError,
    InputError,
    InvalidGeometryError,
    MissingCRSError,
)

E0, N0 = 820_000.0, 835_000.0  # near Yuen Long, HK1980 Grid metres


def square(x: float, y: float, side: float) -> shapely.Polygon:
    return shapely.box(E0 + x, N0 + y, E0 + x + side, N0 + y + side)


def layer(geoms, crs="EPSG:2326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"k": list(range(len(geoms)))}, geometry=geoms, crs=crs)


# --------------------------------------------------------------------------- constants


def test_the_hong_kong_extent_holds_the_metropolis_and_the_survey_check_point():
    xmin, ymin, xmax, ymax = HK_BOUNDS_2326
    # Northern Metropolis: roughly E 812,000-846,000, N 826,000-848,000
    assert xmin < 812_000 and 846_000 < xmax and ymin < 826_000 and 848_000 < ymax
    # LandsD check point in Kowloon: E 835411.431, N 817266.016
    assert xmin < 835_411.431 < xmax and ymin < 817_266.016 < ymax


def test_on_invalid_accepts_three_values_only():
    for value in ("repair", "drop", "raise"):
        assert check_on_invalid(value) == value
    with pytest.raises(InputError, match="'repair', 'drop', 'raise'"):
        check_on_invalid("ignore")


# --------------------------------------------------------------------------- ReadAccount


def test_the_account_has_the_documented_fields_and_one_line_text():
    acc = ReadAccount(
        source="lots.gpkg",
        layer="lots",
        n_input=10,
        n_output=7,
        crs_in="EPSG:4326",
        transformed=True,
        n_repaired=2,
        repair_area_change_m2=12.5,
        n_dropped_empty=1,
        n_dropped_duplicate=2,
        dropped_ids=["a", "b", "c"],
        n_rings_closed=1,
        n_overlapping_lots=2,
        n_overlap_pairs=1,
        overlap_area_m2=30.0,
    )
    assert list(acc.as_dict()) == [
        "source",
        "layer",
        "n_input",
        "n_output",
        "crs_in",
        "transformed",
        "n_rings_closed",
        "rings_closed_ids",
        "n_z_dropped",
        "n_collections_fixed",
        "n_repaired",
        "repair_area_change_m2",
        "n_dropped_empty",
        "n_dropped_duplicate",
        "n_parts_combined",
        "combined_ids",
        "dropped_ids",
        "id_generated",
        "n_overlapping_lots",
        "n_overlap_pairs",
        "overlap_area_m2",
        "overlap_ids",
        "notes",
    ]
    text = str(acc)
    assert "\n" not in text
    for part in (
        "lots.gpkg",
        "10 rows in, 7 out",
        "EPSG:4326 -> EPSG:2326",
        "2 repaired",
        "12.500 m2",
        "1 empty dropped",
        "2 duplicate",
        "unclosed rings closed in 1 rows",
        "2 lots overlap (1 pairs, 30.000 m2)",
    ):
        assert part in text


def test_accounts_do_not_share_their_lists():
    first, second = ReadAccount(source="a"), ReadAccount(source="b")
    first.notes.append("x")
    first.dropped_ids.append(1)
    assert second.notes == [] and second.dropped_ids == []


# --------------------------------------------------------------------------- ensure_crs


def test_a_layer_already_in_hk1980_is_relabelled_not_transformed():
    esri_2326 = CRS.from_wkt(CRS.from_epsg(2326).to_wkt("WKT1_ESRI"))  # as in a .prj
    gdf = layer([square(0, 0, 10)], crs=esri_2326)
    out, fields = ensure_crs(gdf, None, source="t")
    assert fields == {"crs_in": "EPSG:2326", "transformed": False}
    assert out.crs == CRS.from_epsg(2326)
    assert out.geometry.iloc[0].equals(gdf.geometry.iloc[0])


@pytest.mark.parametrize("spelling", ["EPSG:2326", 2326, CRS.from_epsg(2326), "epsg:2326"])
def test_crs_fills_a_missing_crs_in_any_spelling(spelling):
    out, fields = ensure_crs(layer([square(0, 0, 10)], crs=None), spelling, source="t")
    assert out.crs == "EPSG:2326"
    assert fields["crs_in"] == "EPSG:2326"


def test_a_missing_crs_names_the_source_and_the_remedy():
    with pytest.raises(MissingCRSError) as err:
        ensure_crs(layer([square(0, 0, 10)], crs=None), None, source="lots.shp")
    message = str(err.value)
    assert "lots.shp" in message
    assert "pass crs='EPSG:2326' (HK1980 Grid) or the layer's real CRS" in message


def test_an_uninterpretable_crs_is_a_crs_error():
    with pytest.raises(CRSError, match="cannot interpret crs='HK80'"):
        ensure_crs(layer([square(0, 0, 10)], crs=None), "HK80", source="t")


def test_a_contradicting_crs_says_how_to_override():
    with pytest.raises(CRSError) as err:
        ensure_crs(layer([square(0, 0, 10)]), "EPSG:4326", source="t")
    assert not isinstance(err.value, CoordinateRangeError)
    assert "declares EPSG:2326" in str(err.value)
    assert "allow_override=True" in str(err.value)


def test_wgs84_is_transformed_to_hk1980_and_areas_survive():
    gdf = layer([square(0, 0, 100), square(500, 0, 40)])
    out, fields = ensure_crs(gdf.to_crs(4326), None, source="t")
    assert fields == {"crs_in": "EPSG:4326", "transformed": True}
    np.testing.assert_allclose(out.area, [10_000.0, 1_600.0], rtol=1e-6)


def test_null_and_empty_rows_do_not_trip_the_range_checks():
    gdf = layer([square(0, 0, 10), None, shapely.Polygon()])
    out, _ = ensure_crs(gdf.to_crs(4326), None, source="t")
    assert out.geometry.isna().tolist() == [False, True, False]


def test_non_finite_coordinates_are_outside_hong_kong():
    bad = shapely.Polygon([(E0, N0), (math.inf, N0), (E0, N0 + 10)])
    with pytest.raises(CoordinateRangeError, match="1 of 2 rows") as err:
        ensure_crs(layer([square(0, 0, 10), bad]), None, source="t")
    assert "row 1" in str(err.value)


def test_out_of_range_rows_are_named_by_id_when_ids_are_given():
    gdf = layer([square(0, 0, 10), shapely.box(5, 5, 10, 10), shapely.box(0, 0, 1, 1)])
    ids = pd.Series(["keep", "far-1", "far-2"], name="parcel_id")
    with pytest.raises(CoordinateRangeError, match="2 of 3 rows") as err:
        ensure_crs(gdf, None, source="t", ids=ids)
    assert "parcel_id 'far-1', 'far-2'" in str(err.value)


def test_a_hong_kong_layer_in_degrees_declared_in_another_projection_is_caught():
    degrees = layer([shapely.box(114.10, 22.50, 114.11, 22.51)], crs="EPSG:3857")
    with pytest.raises(CoordinateRangeError, match="WGS84 degrees .* EPSG:3857"):
        ensure_crs(degrees, None, source="t")


# --------------------------------------------------------------------------- geometries


def test_valid_polygons_pass_unchanged_with_zero_counts():
    gdf = layer([square(0, 0, 10), shapely.MultiPolygon([square(20, 0, 5), square(40, 0, 5)])])
    out, counts = check_geometries(gdf, ids=None, source="t")
    assert counts == {
        "n_z_dropped": 0,
        "n_collections_fixed": 0,
        "n_repaired": 0,
        "repair_area_change_m2": 0.0,
        "n_dropped_empty": 0,
        "dropped_ids": [],
    }
    assert out.geometry.geom_equals_exact(gdf.geometry, tolerance=0).all()


def test_check_geometries_does_not_modify_its_input():
    bow = shapely.Polygon([(E0, N0), (E0 + 4, N0 + 4), (E0 + 4, N0), (E0, N0 + 4)])
    gdf = layer([shapely.force_3d(square(0, 0, 10), z=3.0), bow])
    before = [g.wkb for g in gdf.geometry]
    check_geometries(gdf, ids=None, source="t")
    assert [g.wkb for g in gdf.geometry] == before


def test_overlapping_parts_are_merged_not_cut_out():
    # two 20 m squares overlapping in a 10 m square: the lot covers 700 m2, not 600
    lot = shapely.MultiPolygon([square(0, 0, 20), square(10, 10, 20)])
    assert not lot.is_valid
    out, counts = check_geometries(layer([lot]), ids=None, source="t")
    assert out.geometry.iloc[0].area == pytest.approx(700.0)
    # the invalid multipolygon's own area counts the overlap twice: 800 m2
    assert counts["repair_area_change_m2"] == pytest.approx(100.0)


def test_nested_collections_are_flattened_to_their_polygons():
    nested = shapely.GeometryCollection(
        [
            shapely.MultiPolygon([square(0, 0, 10), square(50, 0, 10)]),
            shapely.GeometryCollection([square(100, 0, 10), shapely.Point(E0, N0)]),
            shapely.LineString([(E0, N0), (E0 + 1, N0)]),
        ]
    )
    single = shapely.GeometryCollection([square(0, 50, 5), shapely.Point(E0, N0)])
    out, counts = check_geometries(layer([nested, single]), ids=None, source="t")
    assert counts["n_collections_fixed"] == 2
    assert out.geometry.geom_type.tolist() == ["MultiPolygon", "Polygon"]
    np.testing.assert_allclose(out.geometry.area, [300.0, 25.0])


def test_non_polygons_are_counted_per_type():
    geoms = [
        shapely.Point(E0, N0),
        shapely.MultiPoint([(E0, N0), (E0 + 1, N0)]),
        shapely.LineString([(E0, N0), (E0 + 1, N0)]),
        shapely.LineString([(E0, N0), (E0 + 2, N0)]),
        square(0, 0, 10),
    ]
    with pytest.raises(GeometryTypeError) as err:
        check_geometries(layer(geoms), ids=None, source="lines.geojson", on_invalid="drop")
    message = str(err.value)
    for part in (
        "lines.geojson",
        "4 rows",
        "1 Point",
        "1 MultiPoint",
        "2 LineString",
        "rows 0, 1, 2, 3",
        "polygons",
    ):
        assert part in message


def test_raise_names_the_first_invalid_reason():
    bow = shapely.Polygon([(E0, N0), (E0 + 4, N0 + 4), (E0 + 4, N0), (E0, N0 + 4)])
    ids = pd.Series(["ok", "bow"], name="LOTID")
    with pytest.raises(InvalidGeometryError) as err:
        check_geometries(layer([square(0, 0, 10), bow]), ids=ids, source="t", on_invalid="raise")
    assert "1 invalid" in str(err.value)
    assert "LOTID 'bow'" in str(err.value)
    assert "Self-intersection" in str(err.value)


def test_raise_also_refuses_empty_geometries():
    with pytest.raises(EmptyGeometryError, match="row 1"):
        check_geometries(layer([square(0, 0, 10), None]), ids=None, source="t", on_invalid="raise")


def test_drop_returns_the_kept_rows_with_their_index_and_the_dropped_ids(caplog):
    gdf = layer([None, square(0, 0, 10), shapely.Polygon(), square(20, 0, 10)])
    gdf.index = [7, 8, 9, 10]
    ids = pd.Series(["n", "a", "e", "b"], name="parcel_id", index=gdf.index)
    with caplog.at_level(logging.WARNING, logger="nmgeo.io"):
        out, counts = check_geometries(gdf, ids=ids, source="t", on_invalid="drop")
    assert out.index.tolist() == [8, 10]
    assert counts["n_dropped_empty"] == 2
    assert counts["dropped_ids"] == ["n", "e"]
    assert "dropped 2 rows" in caplog.text


def test_dropped_ids_are_capped_at_twenty():
    gdf = layer([None] * 30 + [square(0, 0, 10)])
    _, counts = check_geometries(gdf, ids=None, source="t", on_invalid="drop")
    assert counts["n_dropped_empty"] == 30
    assert counts["dropped_ids"] == list(range(20))


def test_z_and_m_are_dropped_and_counted():
    gdf = layer([shapely.force_3d(square(0, 0, 10), z=4.0), square(20, 0, 10)])
    out, counts = check_geometries(gdf, ids=None, source="t")
    assert counts["n_z_dropped"] == 1
    assert not shapely.has_z(np.asarray(out.geometry.array)).any()


# --------------------------------------------------------------------------- ids


def test_unique_ids_drop_nothing():
    mask = check_ids(pd.Series([3, 1, 2]), column="OBJECTID", source="t")
    assert mask.tolist() == [False, False, False]


def test_duplicates_name_the_column_count_and_values():
    with pytest.raises(DuplicateIdError) as err:
        check_ids(["a", "b", "a", "a", "c", "c"], column="LOTCSUID", source="lots.gpkg")
    message = str(err.value)
    assert "lots.gpkg" in message and "'LOTCSUID'" in message
    assert "3 duplicates" in message and "2 repeated values: 'a', 'c'" in message
    assert "on_invalid='drop'" in message


@pytest.mark.parametrize("null", [None, np.nan, pd.NA])
def test_null_ids_are_errors_or_dropped(null):
    values = pd.Series(["a", null, "b"], dtype=object)
    with pytest.raises(DuplicateIdError, match="1 null"):
        check_ids(values, column="LOTID", source="t")
    mask = check_ids(values, column="LOTID", source="t", on_invalid="drop")
    assert mask.tolist() == [False, True, False]


def test_drop_keeps_the_first_of_each_id_whatever_the_index():
    values = pd.Series([5, 6, 5, 7, 6], index=[9, 8, 7, 6, 5])
    mask = check_ids(values, column="id", source="t", on_invalid="drop")
    assert mask.tolist() == [False, False, True, False, True]


# --------------------------------------------------------------------------- as_hk80


def test_as_hk80_transforms_and_leaves_hk80_frames_alone():
    gdf = layer([square(0, 0, 100)])
    assert as_hk80(gdf, "parcels") is gdf
    back = as_hk80(gdf.to_crs(4326), "parcels")
    assert back.crs == "EPSG:2326"
    assert back.area.iloc[0] == pytest.approx(10_000.0, rel=1e-6)


def test_as_hk80_refuses_a_frame_without_crs_naming_it():
    with pytest.raises(MissingCRSError, match="zones layer has no CRS"):
        as_hk80(layer([square(0, 0, 10)], crs=None), "zones")
