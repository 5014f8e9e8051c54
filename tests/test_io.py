"""Specification of nmgeo.io: reading lot and zoning layers as users bring them."""

from __future__ import annotations

import json
import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from nmgeo._accounts import ReadAccount
from nmgeo.errors import (
    CoordinateRangeError,
    CRSError,
    DuplicateIdError,
    EmptyGeometryError,
    GeometryTypeError,
    InputError,
    InvalidGeometryError,
    MissingCRSError,
    SchemaError,
)
from nmgeo.io import read_parcels, read_zones

# A corner near Sheung Shui, inside the Northern Metropolis (HK1980 Grid metres).
E0, N0 = 833_000.0, 840_000.0


def rect(x: float, y: float, w: float, h: float) -> shapely.Polygon:
    """A w x h metre rectangle whose lower-left corner is (E0 + x, N0 + y)."""
    return shapely.box(E0 + x, N0 + y, E0 + x + w, N0 + y + h)


def shifted(coords, dx: float = 0.0) -> shapely.Polygon:
    return shapely.Polygon([(E0 + dx + x, N0 + y) for x, y in coords])


# An L-shaped lot: a 20 m square with a 10 m square bitten out -> 300 m2.
L_SHAPE = shifted([(0, 0), (20, 0), (20, 10), (10, 10), (10, 20), (0, 20)], dx=100)
# A self-crossing "bow-tie" ring over a 10 m square: its two lobes are 25 m2 each, while
# the signed (shoelace) area of the ring is 0, so repair changes the area by 50 m2.
BOW_TIE = shifted([(0, 0), (10, 10), (10, 0), (0, 10)], dx=200)


def three_lots(id_name: str = "LOTCSUID", crs="EPSG:2326") -> gpd.GeoDataFrame:
    """Three lots of 200, 900 and 300 m2."""
    return gpd.GeoDataFrame(
        {id_name: ["L-A", "L-B", "L-C"], "DD": ["DD 104", "DD 104", "DD 92"]},
        geometry=[rect(0, 0, 10, 20), rect(40, 0, 30, 30), L_SHAPE],
        crs=crs,
    )


AREAS = [200.0, 900.0, 300.0]


def tpb_zones() -> gpd.GeoDataFrame:
    """Three zones with the TPB OZP field names, as published (upper case)."""
    return gpd.GeoDataFrame(
        {
            "PLAN_NO": ["S/NE-KTN/2", "S/NE-KTN/2", "S/NE-KTN/2"],
            "ZONE_LABEL": ["R(B)1", "OU", "GB"],
            "DESC_ENG": ["Residential (Group B) 1", "Other Specified Uses", "Green Belt"],
            "DESC_CHT": ["住宅(乙類)1", "其他指定用途", "綠化地帶"],
            "SPUSE_ENG": [None, "Business", None],
            "SPUSE_CHT": [None, "商貿", None],
            "SHAPE_Area": [200.0, 900.0, 300.0],
            "SHAPE_Leng": [60.0, 120.0, 80.0],
        },
        geometry=[rect(0, 0, 10, 20), rect(40, 0, 30, 30), L_SHAPE],
        crs="EPSG:2326",
    )


def account(gdf: gpd.GeoDataFrame) -> dict:
    return gdf.attrs["nmgeo_account"]


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shp", "fgb", "parquet", "gdb"])
def test_every_format_gives_the_same_lots_and_areas(write_layer, fmt):
    path = write_layer(three_lots(), fmt, layer="lots" if fmt in ("gpkg", "gdb") else None)
    out = read_parcels(path)
    # FlatGeobuf stores features in spatial-index order, so compare by id
    areas = dict(zip(out["parcel_id"], out["area_m2"], strict=True))
    assert sorted(areas) == ["L-A", "L-B", "L-C"]
    np.testing.assert_allclose([areas[k] for k in ("L-A", "L-B", "L-C")], AREAS, rtol=1e-9)
    assert out.crs == "EPSG:2326"
    assert isinstance(out.index, pd.RangeIndex)
    assert list(out.columns[:2]) == ["parcel_id", "area_m2"]
    assert "LOTCSUID" in out.columns  # the source id column is kept
    assert account(out)["n_input"] == account(out)["n_output"] == 3


def test_a_geopackage_with_two_layers_needs_layer(write_layer):
    write_layer(three_lots(), "gpkg", name="ozp", layer="lots")
    path = write_layer(tpb_zones(), "gpkg", name="ozp", layer="zones")
    with pytest.raises(InputError, match="layer=") as err:
        read_parcels(path)
    assert "'lots'" in str(err.value) and "'zones'" in str(err.value)

    zones = read_zones(path, layer="zones")
    assert zones["zone_label"].tolist() == ["R(B)1", "OU", "GB"]
    assert account(zones)["layer"] == "zones"
    lots = read_parcels(path, layer="lots")
    assert lots["parcel_id"].tolist() == ["L-A", "L-B", "L-C"]


def test_an_unknown_layer_is_reported_with_the_layers_there_are(write_layer):
    write_layer(three_lots(), "gpkg", name="ozp", layer="lots")
    path = write_layer(tpb_zones(), "gpkg", name="ozp", layer="zones")
    with pytest.raises(InputError, match="no layer 'buildings'") as err:
        read_parcels(path, layer="buildings")
    assert "'lots'" in str(err.value) and "'zones'" in str(err.value)


def test_a_file_geodatabase_layer_is_read_by_name(write_layer):
    path = write_layer(three_lots(), "gdb", name="csdi", layer="LotBoundary")
    out = read_parcels(path, layer="LotBoundary")
    np.testing.assert_allclose(out["area_m2"], AREAS, rtol=1e-9)


def test_a_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="file not found: .*nowhere.geojson"):
        read_parcels(tmp_path / "nowhere.geojson")


def test_a_truncated_geojson_is_an_input_error_not_a_driver_traceback(write_layer):
    path = write_layer(three_lots(), "geojson")
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match="cannot read .*layer.geojson") as err:
        read_parcels(path)
    assert isinstance(err.value.__cause__, pyogrio.errors.DataSourceError)


@pytest.mark.parametrize("content", [b"", b"this is not a GeoPackage"])
def test_an_empty_or_wrong_format_file_is_an_input_error(tmp_path, content):
    path = tmp_path / "lots.gpkg"
    path.write_bytes(content)
    with pytest.raises(InputError, match="cannot read"):
        read_parcels(path)


def test_a_corrupt_geoparquet_is_an_input_error(tmp_path):
    path = tmp_path / "lots.parquet"
    path.write_bytes(b"PAR1 but not really")
    with pytest.raises(InputError, match="cannot read"):
        read_parcels(path)


def test_a_layer_without_features_is_an_input_error(write_layer):
    path = write_layer(three_lots().iloc[:0], "gpkg", layer="lots")
    with pytest.raises(InputError, match="no features"):
        read_parcels(path)
    with pytest.raises(InputError, match="no features"):
        read_zones(tpb_zones().iloc[:0])


def _big5_geojson(path):
    collection = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2326"}},
        "features": [
            {
                "type": "Feature",
                "properties": {"ZONE_LABEL": "R(A)", "DESC_CHT": "住宅(甲類)"},
                "geometry": shapely.geometry.mapping(rect(0, 0, 10, 10)),
            }
        ],
    }
    path.write_bytes(json.dumps(collection, ensure_ascii=False).encode("big5"))
    return path


def test_big5_text_needs_encoding_and_reads_with_it(tmp_path):
    path = _big5_geojson(tmp_path / "ozp_big5.geojson")
    with pytest.raises(InputError, match="encoding='big5'"):
        read_zones(path)
    out = read_zones(path, encoding="big5")
    assert out["DESC_CHT"].tolist() == ["住宅(甲類)"]


def test_a_shapefile_without_cpg_holding_big5_gets_an_encoding_note(write_layer, caplog):
    path = write_layer(tpb_zones(), "shp", name="ozp")
    # rewrite the text as Big5 and drop the .cpg, as old downloads come
    tpb_zones().to_file(path, encoding="big5")
    path.with_suffix(".cpg").unlink()
    with caplog.at_level(logging.WARNING, logger="nmgeo.io"):
        out = read_zones(path)
    assert any("encoding='big5'" in note for note in account(out)["notes"])
    assert "encoding='big5'" in caplog.text
    assert (
        read_zones(path, encoding="big5")["DESC_CHT"].tolist() == tpb_zones()["DESC_CHT"].tolist()
    )


def test_a_pandas_dataframe_or_other_object_is_rejected():
    with pytest.raises(InputError, match="no geometry"):
        read_parcels(pd.DataFrame({"LOTID": [1]}))
    with pytest.raises(InputError, match="file path or a GeoDataFrame"):
        read_parcels(42)


# --------------------------------------------------------------------------- zoning schema


def _mixed(name: str) -> str:
    return "_".join(part.capitalize() for part in name.split("_"))


@pytest.mark.parametrize("case", [str.upper, str.lower, _mixed], ids=["upper", "lower", "mixed"])
def test_tpb_zoning_fields_are_recognised_in_any_case(write_layer, case):
    source = tpb_zones()
    source.columns = [c if c == "geometry" else case(c) for c in source.columns]
    source = source.set_geometry("geometry")
    out = read_zones(write_layer(source, "geojson"))
    assert list(out.columns[:4]) == ["zone_label", "plan_no", "description", "specified_use"]
    assert "land_use" not in out.columns  # reading never classifies
    assert out["zone_label"].tolist() == ["R(B)1", "OU", "GB"]
    assert out["plan_no"].tolist() == ["S/NE-KTN/2"] * 3
    assert out["description"].tolist()[2] == "Green Belt"
    assert out["specified_use"].tolist()[1] == "Business"
    # the other TPB columns are kept as they are
    for other in ("DESC_CHT", "SPUSE_CHT", "SHAPE_Area", "SHAPE_Leng"):
        assert case(other) in out.columns
    assert out.columns[-1] == "geometry"


def test_zone_columns_absent_from_the_source_are_created_empty():
    source = tpb_zones()[["ZONE_LABEL", "geometry"]]
    out = read_zones(source)
    for name in ("plan_no", "description", "specified_use"):
        assert out[name].isna().all()
        assert out[name].tolist() == [None, None, None]


def test_a_zoning_layer_without_zone_label_says_how_to_map_it():
    source = tpb_zones().rename(columns={"ZONE_LABEL": "ZONING"})
    with pytest.raises(SchemaError, match=r"columns=\{'YourCol': 'zone_label'\}") as err:
        read_zones(source)
    assert "'ZONING'" in str(err.value)  # the available columns are listed


def test_columns_maps_other_schemas_case_insensitively():
    source = tpb_zones().rename(columns={"ZONE_LABEL": "Zoning", "DESC_ENG": "NAME_EN"})
    out = read_zones(source, columns={"ZONING": "zone_label", "name_en": "description"})
    assert out["zone_label"].tolist() == ["R(B)1", "OU", "GB"]
    assert out["description"].tolist()[0] == "Residential (Group B) 1"


def test_columns_naming_a_missing_source_column_is_a_schema_error():
    with pytest.raises(SchemaError, match="'NOPE'") as err:
        read_zones(tpb_zones(), columns={"NOPE": "zone_label"})
    assert "'ZONE_LABEL'" in str(err.value)


def test_reading_keeps_a_land_use_column_of_the_source_as_it_is():
    source = tpb_zones()
    source["land_use"] = ["mine", "mine", "mine"]
    assert read_zones(source)["land_use"].tolist() == ["mine"] * 3


# --------------------------------------------------------------------------- parcel ids


@pytest.mark.parametrize("name", ["LOTCSUID", "lotcsuid", "LotCsuid"])
def test_landsd_lot_ids_are_recognised_in_any_case(write_layer, name):
    out = read_parcels(write_layer(three_lots(name), "geojson"))
    assert out["parcel_id"].tolist() == ["L-A", "L-B", "L-C"]
    assert out[name].tolist() == ["L-A", "L-B", "L-C"]


@pytest.mark.parametrize(
    ("present", "chosen"),
    [
        (["OBJECTID", "LOTID", "LOTCSUID"], "LOTCSUID"),
        (["fid", "OBJECTID", "LOTID"], "LOTID"),
        (["id", "parcel_id", "ObjectId"], "ObjectId"),
        (["fid", "id", "parcel_id"], "parcel_id"),
        (["fid", "ID"], "ID"),
        (["FID"], "FID"),
    ],
)
def test_the_id_column_is_detected_in_order(present, chosen):
    columns = {name: [f"{name}-{i}" for i in range(3)] for name in present}
    source = gpd.GeoDataFrame(columns, geometry=three_lots().geometry, crs="EPSG:2326")
    out = read_parcels(source)
    assert out["parcel_id"].tolist() == [f"{chosen}-{i}" for i in range(3)]
    assert not account(out)["id_generated"]


def test_ids_are_generated_when_no_id_column_exists(caplog):
    source = three_lots().drop(columns="LOTCSUID")
    with caplog.at_level(logging.INFO, logger="nmgeo.io"):
        out = read_parcels(source)
    assert out["parcel_id"].tolist() == ["P0000001", "P0000002", "P0000003"]
    assert account(out)["id_generated"] is True
    assert "generated parcel_id" in caplog.text


def test_id_column_picks_a_column_and_keeps_its_type():
    source = three_lots()
    source["LOT_NO"] = [1234, 88, 7]
    out = read_parcels(source, id_column="lot_no")
    assert out["parcel_id"].tolist() == [1234, 88, 7]
    assert pd.api.types.is_integer_dtype(out["parcel_id"])
    assert "LOT_NO" in out.columns


def test_an_id_column_that_does_not_exist_is_a_schema_error():
    with pytest.raises(SchemaError, match="id_column='LOT_NO'") as err:
        read_parcels(three_lots(), id_column="LOT_NO")
    assert "'LOTCSUID'" in str(err.value)


def test_columns_mapping_to_parcel_id_wins_over_detection():
    source = three_lots()
    source["Lot_No"] = ["a", "b", "c"]
    out = read_parcels(source, columns={"LOT_NO": "parcel_id"})
    assert out["parcel_id"].tolist() == ["a", "b", "c"]


def test_an_existing_area_column_is_replaced_with_a_note():
    source = three_lots()
    source["area_m2"] = [1.0, 2.0, 3.0]
    out = read_parcels(source)
    np.testing.assert_allclose(out["area_m2"], AREAS)
    assert any("area_m2" in note for note in account(out)["notes"])


def test_row_order_is_kept_and_the_index_reset():
    source = three_lots().iloc[[2, 0, 1]]
    source.index = [10, 5, 7]
    out = read_parcels(source)
    assert out["parcel_id"].tolist() == ["L-C", "L-A", "L-B"]
    assert out.index.equals(pd.RangeIndex(3))


# --------------------------------------------------------------------------- CRS


def test_the_same_layer_in_wgs84_and_hk1980_gives_the_same_areas(write_layer):
    in_2326 = read_parcels(write_layer(three_lots(), "gpkg", name="hk80"))
    in_4326 = read_parcels(write_layer(three_lots().to_crs(4326), "gpkg", name="wgs84"))
    np.testing.assert_allclose(in_4326["area_m2"], in_2326["area_m2"], rtol=1e-6)
    assert in_4326.crs == "EPSG:2326"
    assert account(in_4326)["crs_in"] == "EPSG:4326"
    assert account(in_4326)["transformed"] is True
    assert account(in_2326)["transformed"] is False


def test_the_lands_department_check_point_is_reproduced_to_a_centimetre():
    # LandsD: HK1980 Grid E 835411.431, N 817266.016 == WGS84 22.294313001 N, 114.168562005 E
    lon, lat = 114.168562005, 22.294313001
    lot = shapely.Polygon([(lon, lat), (lon + 0.001, lat), (lon, lat + 0.001)])
    out = read_parcels(gpd.GeoDataFrame({"LOTID": [1]}, geometry=[lot], crs="EPSG:4326"))
    x, y = shapely.get_coordinates(out.geometry.iloc[0])[0]
    assert abs(x - 835411.431) <= 0.01
    assert abs(y - 817266.016) <= 0.01


def test_a_layer_without_crs_is_never_guessed():
    with pytest.raises(MissingCRSError, match=r"crs='EPSG:2326'"):
        read_parcels(three_lots(crs=None))


def test_a_shapefile_without_prj_needs_crs(write_layer):
    path = write_layer(three_lots(), "shp", name="lots")
    path.with_suffix(".prj").unlink()
    with pytest.raises(MissingCRSError, match="lots.shp") as err:
        read_parcels(path)
    assert "crs=" in str(err.value)

    out = read_parcels(path, crs="EPSG:2326")
    np.testing.assert_allclose(out["area_m2"], AREAS)
    assert out.crs == "EPSG:2326"
    assert account(out)["crs_in"] == "EPSG:2326"


def test_crs_contradicting_the_layer_is_a_crs_error(write_layer):
    path = write_layer(three_lots(), "gpkg")
    with pytest.raises(CRSError, match="allow_override=True"):
        read_parcels(path, crs="EPSG:4326")
    # agreeing with the layer is fine
    assert len(read_parcels(path, crs=2326)) == 3


def test_wgs84_degrees_declared_as_hk1980_are_caught():
    degrees = three_lots().to_crs(4326).set_crs(2326, allow_override=True)
    with pytest.raises(CoordinateRangeError, match="WGS84 degrees") as err:
        read_parcels(degrees)
    assert "EPSG:2326" in str(err.value) and "EPSG:4326" in str(err.value)

    # the same numbers without a CRS and a wrong crs=: told to pass crs='EPSG:4326'
    with pytest.raises(CoordinateRangeError, match="pass crs='EPSG:4326'"):
        read_parcels(degrees.set_crs(None, allow_override=True), crs="EPSG:2326")


def test_hk1980_metres_declared_as_wgs84_are_caught():
    metres = three_lots().set_crs(4326, allow_override=True)
    with pytest.raises(CoordinateRangeError, match="projected metres"):
        read_parcels(metres)


def test_a_london_square_is_not_in_hong_kong():
    london = gpd.GeoDataFrame(
        {"LOTID": ["TQ-1"]},
        geometry=[shapely.box(530_000, 180_000, 530_100, 180_100)],
        crs="EPSG:27700",
    )
    with pytest.raises(CoordinateRangeError, match="outside Hong Kong") as err:
        read_parcels(london)
    assert "'TQ-1'" in str(err.value)


def test_a_polygon_near_the_grid_origin_is_named():
    source = three_lots()
    source.loc[1, "geometry"] = shapely.box(0, 0, 10, 10)
    with pytest.raises(CoordinateRangeError, match="1 of 3 rows") as err:
        read_parcels(source)
    assert "'L-B'" in str(err.value)


# --------------------------------------------------------------------------- geometry


def test_points_are_not_lots():
    source = gpd.GeoDataFrame(
        {"LOTID": ["a", "b", "c"]},
        geometry=[shapely.Point(E0, N0), rect(0, 0, 5, 5), shapely.Point(E0 + 9, N0)],
        crs="EPSG:2326",
    )
    with pytest.raises(GeometryTypeError, match="must hold polygons") as err:
        read_parcels(source)
    assert "2 Point" in str(err.value)
    assert "'a'" in str(err.value) and "'c'" in str(err.value)


def test_lines_are_not_zones():
    source = tpb_zones()
    source.loc[0, "geometry"] = shapely.LineString([(E0, N0), (E0 + 10, N0 + 10)])
    with pytest.raises(GeometryTypeError, match="1 LineString") as err:
        read_zones(source)
    assert "row 0" in str(err.value)


def test_a_bow_tie_is_repaired_with_a_warning_giving_count_and_area_change(caplog):
    source = three_lots()
    source.loc[1, "geometry"] = BOW_TIE
    with caplog.at_level(logging.WARNING, logger="nmgeo.io"):
        out = read_parcels(source)
    assert out["area_m2"].tolist()[1] == pytest.approx(50.0)
    assert out.geometry.is_valid.all()
    acc = account(out)
    assert acc["n_repaired"] == 1
    assert acc["repair_area_change_m2"] == pytest.approx(50.0)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].name == "nmgeo.io"
    assert "repaired 1 invalid" in warnings[0].getMessage()
    assert "50.000 m2" in warnings[0].getMessage()
    assert "'L-B'" in warnings[0].getMessage()


def test_on_invalid_raise_refuses_a_bow_tie_and_says_why():
    source = three_lots()
    source.loc[2, "geometry"] = BOW_TIE
    with pytest.raises(InvalidGeometryError, match="Self-intersection") as err:
        read_parcels(source, on_invalid="raise")
    assert "'L-C'" in str(err.value)


def test_a_geometry_collection_keeps_its_polygon():
    source = three_lots()
    source.loc[0, "geometry"] = shapely.GeometryCollection(
        [rect(0, 0, 10, 20), shapely.Point(E0 + 50, N0 + 50)]
    )
    out = read_parcels(source)
    assert out.geometry.iloc[0].geom_type == "Polygon"
    np.testing.assert_allclose(out["area_m2"], AREAS)
    assert account(out)["n_collections_fixed"] == 1


def test_a_geometry_collection_without_polygons_is_not_a_lot():
    source = three_lots()
    source.loc[0, "geometry"] = shapely.GeometryCollection(
        [shapely.LineString([(E0, N0), (E0 + 5, N0)]), shapely.Point(E0, N0)]
    )
    with pytest.raises(GeometryTypeError, match="GeometryCollection"):
        read_parcels(source)


def test_z_coordinates_are_dropped_and_counted(write_layer):
    source = three_lots()
    source["geometry"] = shapely.force_3d(source.geometry.array, z=12.5)
    out = read_parcels(write_layer(source, "gpkg"))
    assert not out.geometry.has_z.any()
    np.testing.assert_allclose(out["area_m2"], AREAS)
    assert account(out)["n_z_dropped"] == 3


def _with_empty_and_null() -> gpd.GeoDataFrame:
    source = three_lots()
    source.loc[0, "geometry"] = shapely.Polygon()
    source.loc[2, "geometry"] = None
    return source


def test_empty_and_null_geometries_are_an_error_by_default():
    with pytest.raises(EmptyGeometryError, match="on_invalid='drop'") as err:
        read_parcels(_with_empty_and_null())
    message = str(err.value)
    assert "2 rows" in message and "'L-A'" in message and "'L-C'" in message


def test_empty_and_null_geometries_are_dropped_on_request(caplog):
    with caplog.at_level(logging.WARNING, logger="nmgeo.io"):
        out = read_parcels(_with_empty_and_null(), on_invalid="drop")
    assert out["parcel_id"].tolist() == ["L-B"]
    acc = account(out)
    assert acc["n_dropped_empty"] == 2
    assert acc["dropped_ids"] == ["L-A", "L-C"]
    assert acc["n_input"] == acc["n_output"] + acc["n_dropped_empty"]
    assert "dropped 2 rows" in caplog.text


def test_a_zero_area_polygon_is_empty_after_repair():
    source = three_lots()
    source.loc[1, "geometry"] = shifted([(0, 0), (10, 0), (20, 0)])
    with pytest.raises(EmptyGeometryError, match="'L-B'"):
        read_parcels(source)
    out = read_parcels(source, on_invalid="drop")
    assert out["parcel_id"].tolist() == ["L-A", "L-C"]
    assert account(out)["n_dropped_empty"] == 1


def test_an_empty_zone_is_named_by_its_row():
    source = tpb_zones()
    source.loc[2, "geometry"] = None
    with pytest.raises(EmptyGeometryError, match="row 2"):
        read_zones(source)
    assert len(read_zones(source, on_invalid="drop")) == 2


def test_duplicate_ids_are_an_error_naming_the_column_and_values():
    source = three_lots()
    source["LOTCSUID"] = ["L-A", "L-B", "L-A"]
    with pytest.raises(DuplicateIdError, match="LOTCSUID") as err:
        read_parcels(source, multipart="separate")
    assert "'L-A'" in str(err.value) and "1 duplicates" in str(err.value)


def test_rows_sharing_an_id_are_combined_into_one_lot_by_default(caplog):
    source = three_lots()
    source["LOTCSUID"] = ["L-A", "L-B", "L-A"]
    expected = shapely.union(source.geometry.iloc[0], source.geometry.iloc[2])
    with caplog.at_level(logging.INFO, logger="nmgeo.io"):
        out = read_parcels(source)
    assert out["parcel_id"].tolist() == ["L-A", "L-B"]
    assert out.geometry.iloc[0].equals(expected)
    assert out["area_m2"].tolist() == pytest.approx([expected.area, source.geometry.iloc[1].area])
    acc = account(out)
    assert acc["n_parts_combined"] == 1 and acc["combined_ids"] == ["L-A"]
    assert acc["n_input"] == acc["n_output"] + acc["n_parts_combined"]
    assert "1 rows are further parts of 1 lots" in caplog.text
    with pytest.raises(InputError, match="multipart"):
        read_parcels(source, multipart="merge")


def test_duplicate_and_null_ids_are_dropped_keeping_the_first():
    source = three_lots()
    source = pd.concat([source, source.iloc[[0]]], ignore_index=True)
    source.loc[1, "LOTCSUID"] = None
    out = read_parcels(source, on_invalid="drop", multipart="separate")
    assert out["parcel_id"].tolist() == ["L-A", "L-C"]
    assert out["area_m2"].tolist() == pytest.approx([200.0, 300.0])
    acc = account(out)
    assert acc["n_dropped_duplicate"] == 2
    assert acc["n_input"] == 4 and acc["n_output"] == 2


def test_null_ids_are_an_error_by_default():
    source = three_lots()
    source.loc[1, "LOTCSUID"] = None
    with pytest.raises(DuplicateIdError, match="1 null"):
        read_parcels(source)


def test_an_unknown_on_invalid_lists_the_choices():
    with pytest.raises(InputError, match="'repair', 'drop', 'raise'"):
        read_parcels(three_lots(), on_invalid="fix")


# --------------------------------------------------------------------------- overlapping lots


def lots_of(*geoms) -> gpd.GeoDataFrame:
    """A lot layer in EPSG:2326 with ids L-0, L-1, ... for the given geometries."""
    return gpd.GeoDataFrame(
        {"LOTCSUID": [f"L-{k}" for k in range(len(geoms))]}, geometry=list(geoms), crs=2326
    )


def overlap_warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "overlap" in r.getMessage()
    ]


def grid(n_x: int, n_y: int, size: float, angle: float = 0.0) -> list[shapely.Polygon]:
    """An n_x x n_y grid of squares sharing their edges exactly, rotated about (E0, N0)."""
    cells = [rect(size * i, size * j, size, size) for i in range(n_x) for j in range(n_y)]
    return [shapely.affinity.rotate(c, angle, origin=(E0, N0)) for c in cells]


def test_two_squares_overlapping_by_3_m_are_one_pair_of_30_m2(caplog):
    source = lots_of(rect(0, 0, 10, 10), rect(7, 0, 10, 10), rect(40, 0, 10, 10))
    with caplog.at_level(logging.WARNING, logger="nmgeo.io"):
        out = read_parcels(source)
    acc = account(out)
    assert acc["n_overlapping_lots"] == 2 and acc["n_overlap_pairs"] == 1
    assert acc["overlap_area_m2"] == pytest.approx(30.0)
    assert acc["overlap_ids"] == [["L-0", "L-1"]]
    warned = overlap_warnings(caplog)
    assert len(warned) == 1, warned
    for part in ("2 lots overlap", "1 pair, 30.0 m2", "('L-0', 'L-1')", "count the overlap twice"):
        assert part in warned[0]
    # nothing is changed: every lot keeps its geometry and its full area
    assert out["area_m2"].tolist() == pytest.approx([100.0, 100.0, 100.0])
    assert all(a.equals(b) for a, b in zip(out.geometry, source.geometry, strict=True))
    assert "2 lots overlap (1 pairs, 30.000 m2)" in str(ReadAccount(**acc))


@pytest.mark.parametrize("angle", [0.0, 17.0], ids=["aligned", "rotated"])
def test_lots_sharing_edges_do_not_overlap(caplog, angle):
    with caplog.at_level(logging.WARNING, logger="nmgeo.io"):
        out = read_parcels(lots_of(*grid(4, 3, 10.0, angle)))
    assert account(out)["n_overlapping_lots"] == 0
    assert account(out)["overlap_area_m2"] == 0.0 and account(out)["overlap_ids"] == []
    assert overlap_warnings(caplog) == []


def test_a_lot_duplicated_exactly_is_one_pair_with_its_full_area():
    lot = shifted([(0, 0), (20, 0), (25, 15), (0, 10)])
    out = read_parcels(lots_of(rect(-10, 0, 10, 10), lot, rect(40, 0, 5, 5), lot))
    acc = account(out)
    assert acc["n_overlapping_lots"] == 2 and acc["n_overlap_pairs"] == 1
    assert acc["overlap_area_m2"] == pytest.approx(lot.area)
    assert acc["overlap_ids"] == [["L-1", "L-3"]]


@pytest.mark.parametrize("shift", [1e-4, -1e-4], ids=["apart", "over"])
def test_squares_a_tenth_of_a_millimetre_apart_or_over_do_not_overlap(shift):
    out = read_parcels(lots_of(rect(0, 0, 10, 10), rect(10 + shift, 0, 10, 10)))
    assert account(out)["n_overlap_pairs"] == 0


@pytest.mark.parametrize("noise", [0.0, 0.0005], ids=["exact", "half-millimetre-noise"])
def test_an_edge_sharing_grid_after_a_wgs84_round_trip_does_not_overlap(write_layer, noise):
    cells = grid(6, 5, 12.5, 31.0)
    offsets = np.random.default_rng(7).uniform(-noise, noise, (len(cells), 2))
    cells = [shapely.affinity.translate(c, *d) for c, d in zip(cells, offsets, strict=True)]
    source = lots_of(*cells).to_crs(4326)
    out = read_parcels(write_layer(source, "geojson"))
    assert account(out)["transformed"] is True
    assert account(out)["n_overlap_pairs"] == 0


def test_crossing_lots_overlap_though_no_corner_lies_in_the_other():
    # A "+" of two strips: the overlap is the 4 x 4 m square where they cross.
    out = read_parcels(lots_of(rect(0, 8, 30, 4), rect(13, 0, 4, 20)))
    assert account(out)["n_overlap_pairs"] == 1
    assert account(out)["overlap_area_m2"] == pytest.approx(16.0)


def test_interlocking_non_convex_lots_do_not_overlap():
    # A square in the notch of the L-shaped lot, and a comb with a lot between its teeth.
    comb = shifted([(0, 0), (30, 0), (30, 20), (20, 20), (20, 10), (10, 10), (10, 20), (0, 20)])
    layer = lots_of(L_SHAPE, rect(110, 10, 10, 10), comb, rect(10, 10, 10, 10))
    assert account(read_parcels(layer))["n_overlap_pairs"] == 0


def test_zoning_layers_are_not_checked_for_overlaps(caplog):
    zones = tpb_zones()
    zones.loc[1, "geometry"] = zones.geometry.iloc[0]
    with caplog.at_level(logging.WARNING, logger="nmgeo.io"):
        out = read_zones(zones)
    assert account(out)["n_overlap_pairs"] == 0
    assert overlap_warnings(caplog) == []


def _brute_force_overlaps(geoms) -> tuple[int, float]:
    pairs, area = 0, 0.0
    for a in range(len(geoms)):
        for b in range(a + 1, len(geoms)):
            shared = geoms[a].intersection(geoms[b]).area
            if shared > 0.01 * min(geoms[a].length, geoms[b].length):
                pairs, area = pairs + 1, area + shared
    return pairs, area


_lot_shapes = st.one_of(
    st.builds(  # squares on a 5 m lattice: shared edges, containment, overlaps
        lambda x, y, w, h: rect(5.0 * x, 5.0 * y, 5.0 * w, 5.0 * h),
        st.integers(0, 6),
        st.integers(0, 6),
        st.integers(1, 4),
        st.integers(1, 4),
    ),
    st.builds(  # rotated rectangles
        lambda x, y, w, a: shapely.affinity.rotate(rect(x, y, w, w / 2), a),
        st.floats(0, 30),
        st.floats(0, 30),
        st.floats(1, 20),
        st.floats(0, 180),
    ),
    st.builds(  # L-shapes
        lambda x, s: shapely.affinity.translate(
            shapely.affinity.scale(L_SHAPE, s / 20, s / 20, origin=(E0 + 100, N0)), x - 100
        ),
        st.floats(0, 30),
        st.floats(2, 20),
    ),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shapes=st.lists(_lot_shapes, min_size=2, max_size=12), nudge=st.sampled_from([0, 1e-4]))
def test_overlaps_agree_with_a_brute_force_count(shapes, nudge):
    geoms = [shapely.affinity.translate(g, nudge * k, 0) for k, g in enumerate(shapes)]
    acc = account(read_parcels(lots_of(*geoms)))
    pairs, area = _brute_force_overlaps(geoms)
    assert acc["n_overlap_pairs"] == pairs
    assert acc["overlap_area_m2"] == pytest.approx(area)


# --------------------------------------------------------------------------- the account


def test_a_geodataframe_source_is_not_modified():
    # in degrees, with a Z bow-tie to repair and an area column to replace
    source = three_lots()
    source.loc[1, "geometry"] = shapely.force_3d(BOW_TIE, z=5.0)
    source = source.to_crs(4326)
    source["area_m2"] = 0.0
    source.index = [3, 1, 2]
    before = source.copy(deep=True)
    before_geoms = [g.wkb for g in source.geometry]
    out = read_parcels(source)
    assert account(out)["n_repaired"] == 1 and account(out)["n_z_dropped"] == 1
    assert_frame_equal(source.drop(columns="geometry"), before.drop(columns="geometry"))
    assert [g.wkb for g in source.geometry] == before_geoms
    assert source.crs == before.crs


def test_the_account_is_attached_and_logged(caplog):
    source = three_lots().to_crs(4326)
    with caplog.at_level(logging.INFO, logger="nmgeo.io"):
        out = read_parcels(source)
    acc = account(out)
    assert acc["source"] == "<GeoDataFrame>"
    assert acc["n_input"] == 3 and acc["n_output"] == 3
    assert "3 rows in, 3 out" in caplog.text and "EPSG:4326 -> EPSG:2326" in caplog.text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 25),
    data=st.data(),
    multipart=st.sampled_from(["combine", "separate"]),
)
def test_every_input_row_is_accounted_for(n, data, multipart):
    empty = data.draw(st.sets(st.integers(0, n - 1)), label="empty rows")
    ids = data.draw(
        st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", None]), min_size=n, max_size=n)
        | st.just([f"u{i}" for i in range(n)]),
        label="ids",
    )
    geoms = [None if i in empty else rect(20.0 * i, 0.0, 10.0, 10.0 + i) for i in range(n)]
    source = gpd.GeoDataFrame({"parcel_id": ids}, geometry=geoms, crs="EPSG:2326")
    out = read_parcels(source, on_invalid="drop", multipart=multipart)
    acc = account(out)
    assert acc["n_dropped_empty"] == len(empty)
    assert acc["n_input"] == n
    dropped = acc["n_dropped_empty"] + acc["n_dropped_duplicate"] + acc["n_parts_combined"]
    assert acc["n_input"] == acc["n_output"] + dropped
    # independently: the survivors are the first non-empty row of each non-null id
    seen, expected = set(), []
    for i, pid in enumerate(ids):
        if i in empty or pid is None or pid in seen:
            continue
        seen.add(pid)
        expected.append(pid)
    assert out["parcel_id"].tolist() == expected
    if multipart == "combine":  # every part of a lot is kept, combined in its first row
        for pid in expected:
            parts = [g for g, i in zip(geoms, ids, strict=True) if i == pid and g is not None]
            got = out.loc[out["parcel_id"] == pid, "area_m2"].iloc[0]
            assert got == pytest.approx(sum(p.area for p in parts))


@pytest.mark.slow
def test_two_hundred_thousand_lots_read_in_a_few_seconds(write_layer):
    import time

    n = 200_000
    i = np.arange(n)
    x = E0 - 20_000 + (i % 1000) * 30.0
    y = N0 - 10_000 + (i // 1000) * 30.0
    source = gpd.GeoDataFrame(
        {"LOTCSUID": [f"L{k}" for k in i]},
        geometry=shapely.box(x, y, x + 25, y + 25),
        crs="EPSG:2326",
    )
    path = write_layer(source, "gpkg")
    start = time.perf_counter()
    out = read_parcels(path)
    elapsed = time.perf_counter() - start
    assert len(out) == n
    assert out["area_m2"].sum() == pytest.approx(n * 625.0)
    assert elapsed < 10.0
