"""Reading never drops anything silently: nested collections, bare geometries, a missing
.dbf, ids mixing numbers and text, columns that clash by case."""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import mapping

from nmgeo.errors import CoordinateRangeError, CRSError, DuplicateIdError, InputError, SchemaError
from nmgeo.io import read_parcels, read_zones

E0, N0 = 833_000.0, 840_000.0
HK80 = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2326"}}


def square(i: int, size: float = 10.0) -> dict:
    return mapping(shapely.box(E0 + 20 * i, N0, E0 + 20 * i + size, N0 + size))


def feature(i: int, **props) -> dict:
    return {"type": "Feature", "properties": {"LOTID": f"L{i}", **props}, "geometry": square(i)}


def write(path: Path, features: list, **extra) -> Path:
    doc = {"type": "FeatureCollection", "crs": HK80, **extra, "features": features}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# --------------------------------------------------------------------------- nested collections


def test_features_in_a_nested_collection_are_read_and_counted(tmp_path, caplog):
    inner = {"type": "FeatureCollection", "features": [feature(1), feature(2)]}
    deeper = {"type": "FeatureCollection", "features": [feature(3)]}
    inner["features"].append(deeper)
    path = write(tmp_path / "nested.geojson", [feature(0), inner, feature(4)])
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        lots = read_parcels(path)
    # Independent expectation: every Feature object anywhere in the document.
    assert sorted(lots["parcel_id"]) == ["L0", "L1", "L2", "L3", "L4"]
    assert lots["area_m2"].sum() == pytest.approx(500.0)
    account = lots.attrs["nmgeo_account"]
    assert account["n_input"] == 5
    assert any("3 features inside nested FeatureCollections" in n for n in account["notes"])
    assert len([m for m in warnings_of(caplog) if "nested" in m]) == 1


def test_nested_zones_are_read_too(tmp_path):
    zone = {"type": "Feature", "properties": {"ZONE_LABEL": "C"}, "geometry": square(0, 15)}
    other = {"type": "Feature", "properties": {"ZONE_LABEL": "G/IC"}, "geometry": square(1, 15)}
    path = write(
        tmp_path / "z.geojson", [zone, {"type": "FeatureCollection", "features": [other]}]
    )
    zones = read_zones(path)
    assert zones["zone_label"].tolist() == ["C", "G/IC"]


def test_a_nested_collection_with_another_crs_is_refused(tmp_path):
    inner = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
        "features": [feature(1)],
    }
    path = write(tmp_path / "twocrs.geojson", [feature(0), inner])
    with pytest.raises(InputError, match=r"twocrs\.geojson.*features\[1\].*own CRS"):
        read_parcels(path)


def test_a_bare_geometry_in_features_is_read_as_a_feature_without_properties(tmp_path, caplog):
    path = write(tmp_path / "bare.geojson", [feature(0), square(5)])
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        lots = read_parcels(path, on_invalid="drop")
    account = lots.attrs["nmgeo_account"]
    # Read (n_input 2), then dropped as a lot without an id: counted, not silent.
    assert account["n_input"] == 2 and account["n_dropped_duplicate"] == 1
    assert lots["parcel_id"].tolist() == ["L0"]
    assert any("1 bare geometries" in m for m in warnings_of(caplog))


def test_a_bare_geometry_without_drop_is_an_error_about_its_missing_id(tmp_path):
    path = write(tmp_path / "bare.geojson", [feature(0), square(5)])
    with pytest.raises(DuplicateIdError, match="null"):
        read_parcels(path)


def test_something_that_is_no_feature_is_an_error_naming_its_place(tmp_path):
    path = write(tmp_path / "odd.geojson", [feature(0), {"kind": "lot"}])
    with pytest.raises(InputError, match=r"odd\.geojson: features\[1\] is not a GeoJSON Feature"):
        read_parcels(path)


def test_a_property_called_type_does_not_change_a_plain_read(tmp_path):
    feats = [feature(i, type="Feature") for i in range(3)]
    lots = read_parcels(write(tmp_path / "typed.geojson", feats))
    assert lots["parcel_id"].tolist() == ["L0", "L1", "L2"]
    assert lots.attrs["nmgeo_account"]["notes"] == []


# --------------------------------------------------------------------------- sidecar files


def _shapefile(tmp_path: Path) -> Path:
    gdf = gpd.GeoDataFrame(
        {"LOTID": ["A", "B"]},
        geometry=[
            shapely.box(E0, N0, E0 + 10, N0 + 10),
            shapely.box(E0 + 20, N0, E0 + 30, N0 + 10),
        ],
        crs="EPSG:2326",
    )
    path = tmp_path / "lots.shp"
    gdf.to_file(path, engine="pyogrio")
    return path


def test_a_shapefile_without_its_dbf_is_refused(tmp_path):
    path = _shapefile(tmp_path)
    path.with_suffix(".dbf").unlink()
    with pytest.raises(InputError, match=r"lots\.shp has no lots\.dbf beside it"):
        read_parcels(path)


def test_a_dbf_in_upper_case_is_found(tmp_path):
    path = _shapefile(tmp_path)
    path.with_suffix(".dbf").rename(path.with_suffix(".DBF"))
    assert read_parcels(path)["parcel_id"].tolist() == ["A", "B"]


def test_a_shapefile_without_its_shx_is_one_line(tmp_path):
    path = _shapefile(tmp_path)
    path.with_suffix(".shx").unlink()
    with pytest.raises(InputError) as err:
        read_parcels(path)
    assert "lots.shx" in str(err.value) and "\n" not in str(err.value)


# --------------------------------------------------------------------------- mixed-type ids


def _lots(ids: list) -> gpd.GeoDataFrame:
    geoms = [shapely.box(E0 + 20 * i, N0, E0 + 20 * i + 10, N0 + 10) for i in range(len(ids))]
    return gpd.GeoDataFrame({"LOTID": ids}, geometry=geoms, crs="EPSG:2326")


def test_ids_mixing_numbers_and_text_are_read_as_text_and_meet(caplog):
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        lots = read_parcels(_lots([1, "1", 2.0, "x"]))
    # 1 and "1" are one lot (two parts combined); 2.0 reads "2", as it would once written.
    assert lots["parcel_id"].tolist() == ["1", "2", "x"]
    assert lots.set_index("parcel_id").loc["1", "area_m2"] == pytest.approx(200.0)
    mixed = [m for m in warnings_of(caplog) if "mixes numbers" in m]
    assert len(mixed) == 1 and "(2 rows)" in mixed[0] and "1 such" in mixed[0]


def test_ids_mixing_numbers_and_text_repeat_when_parts_are_separate():
    with pytest.raises(DuplicateIdError, match="'1'"):
        read_parcels(_lots([1, "1", 3]), multipart="separate")


def test_written_and_read_back_the_ids_are_the_same(tmp_path):
    lots = read_parcels(_lots([7, "a", 8.5]))
    path = tmp_path / "ids.gpkg"
    lots.to_file(path, engine="pyogrio")
    back = gpd.read_file(path, engine="pyogrio")
    assert back["parcel_id"].tolist() == lots["parcel_id"].tolist() == ["7", "a", "8.5"]


def test_uniform_ids_are_left_as_they_are():
    assert read_parcels(_lots([3, 1, 2]))["parcel_id"].tolist() == [3, 1, 2]
    assert read_parcels(_lots(["b", "a"]))["parcel_id"].tolist() == ["b", "a"]


# --------------------------------------------------------------------------- case clashes


def test_zone_label_columns_clashing_by_case_are_refused(tmp_path):
    zone = {
        "type": "Feature",
        "properties": {"ZONE_LABEL": "C", "zone_label": "G/IC", "PLAN_NO": "S/X/1"},
        "geometry": square(0),
    }
    path = write(tmp_path / "clash.geojson", [zone])
    with pytest.raises(SchemaError) as err:
        read_zones(path)
    msg = str(err.value)
    assert (
        "clash.geojson" in msg and "'ZONE_LABEL' and 'zone_label'" in msg and "zone label" in msg
    )
    # The fix the message names works: the other column renamed, ZONE_LABEL is read.
    zones = read_zones(path, columns={"zone_label": "zone_label_2"})
    assert zones["zone_label"].tolist() == ["C"] and zones["zone_label_2"].tolist() == ["G/IC"]


def test_plan_number_columns_clashing_by_case_are_refused():
    geom = shapely.box(E0, N0, E0 + 10, N0 + 10)
    zones = gpd.GeoDataFrame(
        {"ZONE_LABEL": ["C"], "PLAN_NO": ["S/A/1"], "Plan_No": ["S/B/2"]},
        geometry=[geom],
        crs="EPSG:2326",
    )
    with pytest.raises(SchemaError, match="'PLAN_NO' and 'Plan_No'.*plan no"):
        read_zones(zones)


def test_lot_id_columns_clashing_by_case_are_refused_unless_one_is_named():
    lots = _lots(["A", "B"]).assign(lotid=["x", "y"])
    with pytest.raises(SchemaError, match="'LOTID' and 'lotid'.*lot id"):
        read_parcels(lots)
    assert read_parcels(lots, id_column="lotid")["parcel_id"].tolist() == ["x", "y"]
    assert read_parcels(lots, id_column="LOTID")["parcel_id"].tolist() == ["A", "B"]


def test_a_clash_in_a_column_nmgeo_does_not_read_is_kept():
    lots = _lots(["A"]).assign(Note=["n"], NOTE=["N"])
    out = read_parcels(lots)
    assert out["Note"].tolist() == ["n"] and out["NOTE"].tolist() == ["N"]


def test_description_beside_desc_eng_is_no_clash():
    geom = shapely.box(E0, N0, E0 + 10, N0 + 10)
    zones = gpd.GeoDataFrame(
        {"ZONE_LABEL": ["C"], "description": ["mine"], "DESC_ENG": ["Commercial"]},
        geometry=[geom],
        crs="EPSG:2326",
    )
    assert read_zones(zones)["description"].tolist() == ["mine"]


# --------------------------------------------------------------------------- more ways to lose


def test_a_local_engineering_crs_is_one_line_and_gives_way_to_crs(tmp_path, caplog):
    path = _shapefile(tmp_path)
    local = 'LOCAL_CS["Local",LOCAL_DATUM["x",0],UNIT["Meter",1.0],AXIS["X",EAST],AXIS["Y",NORTH]]'
    path.with_suffix(".prj").write_text(local)
    with pytest.raises(CRSError, match="local engineering CRS.*crs='EPSG:2326'"):
        read_parcels(path)
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        lots = read_parcels(path, crs="EPSG:2326")
    assert lots.total_bounds.tolist() == [E0, N0, E0 + 30, N0 + 10]
    assert any("read as crs='EPSG:2326'" in m for m in warnings_of(caplog))


def test_geojson_without_a_crs_member_in_hk1980_metres_reads_with_crs(tmp_path):
    path = tmp_path / "nocrs.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature(0)]}))
    with pytest.raises(CoordinateRangeError):
        read_parcels(path)  # RFC 7946: WGS84, and these are no degrees
    lots = read_parcels(path, crs="EPSG:2326")
    assert lots["area_m2"].tolist() == [100.0]
    # A file that declares its CRS still cannot be overridden.
    with pytest.raises(CRSError, match="declares EPSG:2326"):
        read_parcels(write(tmp_path / "hk.geojson", [feature(0)]), crs="EPSG:4326")


def test_lists_in_a_label_or_an_id_are_refused():
    zone = {"type": "Feature", "properties": {"ZONE_LABEL": ["C"]}, "geometry": square(0, 15)}
    with pytest.raises(SchemaError, match="zone_label holds lists"):
        read_zones(gpd.GeoDataFrame.from_features([zone], crs=2326))
    with pytest.raises(SchemaError, match="LOTID .*holds lists"):
        read_parcels(_lots([[1], [2]]))


def test_a_dbf_with_another_number_of_records_is_refused(tmp_path):
    three = _shapefile(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    gpd.GeoDataFrame(
        {"LOTID": ["X"]}, geometry=[shapely.box(E0, N0, E0 + 1, N0 + 1)], crs=2326
    ).to_file(other / "lots.shp", engine="pyogrio")
    (tmp_path / "lots.dbf").write_bytes((other / "lots.dbf").read_bytes())
    with pytest.raises(InputError, match="2 shapes but lots.dbf 1 attribute records"):
        read_parcels(three)


def test_a_zipped_shapefile_without_its_dbf_is_refused(tmp_path):
    path = _shapefile(tmp_path)
    archive = tmp_path / "lots.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for ext in (".shp", ".shx", ".prj"):
            zf.write(path.with_suffix(ext), f"lots{ext}")
    for source in (archive, f"/vsizip/{archive}/lots.shp"):
        with pytest.raises(InputError, match="no lots.dbf"):
            read_parcels(source)


def test_float_ids_too_long_to_tell_apart_are_refused(tmp_path):
    text = json.dumps(
        {"type": "FeatureCollection", "crs": HK80, "features": [feature(0), feature(1)]}
    )
    text = text.replace('"L0"', "12345678901234567890123456780").replace(
        '"L1"', "12345678901234567890123456789"
    )
    path = tmp_path / "big.geojson"
    path.write_text(text)
    with pytest.raises(InputError, match="16 or more digits"):
        read_parcels(path)


def test_big_integer_ids_mixed_with_text_stay_exact():
    lots = read_parcels(_lots([10**20, 2 * 10**20, 2**70, "X-1"]))
    assert lots["parcel_id"].tolist() == [str(10**20), str(2 * 10**20), str(2**70), "X-1"]


def test_blank_ids_are_null_ids_never_one_lot(caplog):
    with pytest.raises(DuplicateIdError, match="null"):
        read_parcels(_lots(["", "  ", "DD51-3"]))
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        lots = read_parcels(_lots(["", "  ", "DD51-3"]), on_invalid="drop")
    assert lots["parcel_id"].tolist() == ["DD51-3"]
    assert any("2 blank LOTID values" in m for m in warnings_of(caplog))


def test_lot_ids_held_as_feature_ids_are_kept(tmp_path):
    gdf = _lots(["a", "b"]).drop(columns="LOTID").assign(OBJECTID=[5001, 5002], NAME=["x", "y"])
    gpkg = tmp_path / "fid.gpkg"
    pyogrio.write_dataframe(gdf, gpkg, layer_options={"FID": "OBJECTID"})
    assert read_parcels(gpkg)["parcel_id"].tolist() == [5001, 5002]
    feats = [{**feature(i), "id": 101 + i, "properties": {"NAME": "x"}} for i in range(2)]
    assert read_parcels(write(tmp_path / "ids.geojson", feats))["parcel_id"].tolist() == [101, 102]
    # GeoJSON features without ids, and plain GeoPackages, get no made-up column.
    plain = tmp_path / "plain.gpkg"
    _lots(["a", "b"]).to_file(plain, engine="pyogrio")
    assert "fid" not in read_parcels(plain).columns


def test_a_field_named_geometry_is_kept_under_another_name(tmp_path, caplog):
    feats = [feature(i, geometry="see plan 12") for i in range(2)]
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        lots = read_parcels(write(tmp_path / "g.geojson", feats))
    assert lots["geometry_field"].tolist() == ["see plan 12"] * 2
    assert lots["area_m2"].tolist() == [100.0, 100.0]
    assert any("'geometry_field'" in m for m in warnings_of(caplog))


def test_repeated_column_names_are_refused():
    gdf = _lots(["A", "B"]).assign(X=[1, 2])
    doubled = gpd.GeoDataFrame(pd.concat([gdf, gdf[["X"]]], axis=1), geometry="geometry", crs=2326)
    with pytest.raises(SchemaError, match=r"\['X'\] appear more than once"):
        read_parcels(doubled)


def test_encoding_does_not_override_one_the_file_declares(tmp_path, caplog):
    gdf = _lots(["A", "B"]).assign(NAME=["大埔", "粉嶺"])
    gdf.to_file(tmp_path / "u.shp", encoding="utf-8", engine="pyogrio")  # writes u.cpg
    gdf.to_file(tmp_path / "u.gpkg", engine="pyogrio")
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        assert read_parcels(tmp_path / "u.shp", encoding="big5")["NAME"].tolist() == [
            "大埔",
            "粉嶺",
        ]
        assert read_parcels(tmp_path / "u.gpkg", encoding="latin-1")["NAME"].tolist() == [
            "大埔",
            "粉嶺",
        ]
    assert len([m for m in warnings_of(caplog) if "not applied" in m]) == 2


def test_parts_of_a_lot_that_differ_are_named(caplog):
    gdf = _lots(["A", "A", "B", "B"]).assign(
        DD=["51", "92", "1", "1"], SHAPE_Area=[1.0, 2.0, 3.0, 4.0]
    )
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        lots = read_parcels(gdf)
    assert lots["DD"].tolist() == ["51", "1"]
    differ = [m for m in warnings_of(caplog) if "differ in" in m]
    assert len(differ) == 1 and "DD (1 lots)" in differ[0] and "SHAPE_Area" not in differ[0]


def test_points_and_lines_dropped_from_a_collection_are_counted(caplog):
    gc = shapely.GeometryCollection(
        [shapely.box(E0, N0, E0 + 10, N0 + 10), shapely.LineString([(E0, N0), (E0 + 50, N0)])]
    )
    gdf = gpd.GeoDataFrame({"LOTID": ["A"]}, geometry=[gc], crs=2326)
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        lots = read_parcels(gdf)
    assert lots.geometry.iloc[0].geom_type == "Polygon"
    assert any("dropping 1 points, lines" in m and "'A'" in m for m in warnings_of(caplog))


def test_a_hole_outside_its_shell_adds_no_land(caplog):
    shell = shapely.box(E0, N0, E0 + 10, N0 + 10)
    far = shapely.box(E0 + 100, N0, E0 + 105, N0 + 5)
    inner = shapely.box(E0 + 2, N0 + 2, E0 + 4, N0 + 4)
    bad = shapely.Polygon(shell.exterior.coords, [far.exterior.coords, inner.exterior.coords])
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        lots = read_parcels(gpd.GeoDataFrame({"LOTID": ["A"]}, geometry=[bad], crs=2326))
    # The shell less the hole inside it; the hole 100 m away cut nothing and adds nothing.
    assert lots["area_m2"].tolist() == [96.0]
    assert any("1 holes that lie outside" in m for m in warnings_of(caplog))


def test_lot_columns_named_like_piece_columns_are_kept_with_a_prefix(caplog):
    import nmgeo

    zones = read_zones(
        gpd.GeoDataFrame(
            {"ZONE_LABEL": ["C"]}, geometry=[shapely.box(E0, N0, E0 + 100, N0 + 100)], crs=2326
        )
    )
    lots = read_parcels(
        _lots(["A"]).assign(tenure=["Private Treaty Grant"], PLAN_NO=["DD51 sheet 3"])
    )
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        fabric = nmgeo.land_fabric(zones, lots)
    row = fabric.set_index("parcel_id").loc["A"]
    assert row["tenure"] == "leased" and row["lot_tenure"] == "Private Treaty Grant"
    assert row["lot_PLAN_NO"] == "DD51 sheet 3"
    assert any("'tenure' as 'lot_tenure'" in m for m in warnings_of(caplog))


def test_geojson_ids_gdal_had_to_renumber_are_not_used(tmp_path, caplog):
    feats = [
        {**feature(i), "id": fid, "properties": {"name": n}}
        for i, (fid, n) in enumerate([(5, "a"), (5, "b"), (1, "c")])
    ]
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        lots = read_parcels(write(tmp_path / "dup.geojson", feats))
    assert "id" not in lots.columns and lots["parcel_id"].str.startswith("P").all()
    assert any("GDAL renumbered" in m for m in warnings_of(caplog))
    some = [
        {**feature(0), "id": 7, "properties": {"name": "a"}},
        {**feature(1), "properties": {"name": "b"}},
    ]
    assert "id" not in read_parcels(write(tmp_path / "some.geojson", some)).columns


def test_nested_features_keep_their_ids_and_geometry_fields(tmp_path):
    inner = {"type": "FeatureCollection", "features": [{**feature(1, geometry="g2"), "id": 102}]}
    path = write(tmp_path / "n.geojson", [{**feature(0, geometry="g1"), "id": 101}, inner])
    lots = read_parcels(path)
    assert lots["id"].tolist() == [101, 102] and lots["geometry_field"].tolist() == ["g1", "g2"]


def test_a_property_called_crs_is_no_crs_declaration(tmp_path):
    path = tmp_path / "c.geojson"
    doc = {"type": "FeatureCollection", "features": [feature(0, crs="HK80")]}
    path.write_text(json.dumps(doc))
    assert read_parcels(path, crs="EPSG:2326")["area_m2"].tolist() == [100.0]


def test_a_wrong_cpg_gives_way_to_encoding(tmp_path, caplog):
    path = tmp_path / "b5.shp"
    pyogrio.write_dataframe(_lots(["a"]).assign(NAME=["粉嶺"]), path, encoding="big5")
    path.with_suffix(".cpg").write_text("UTF-8")
    with pytest.raises(InputError, match="correct its .cpg"):
        read_parcels(path)
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        assert read_parcels(path, encoding="big5")["NAME"].tolist() == ["粉嶺"]
    assert any("does not decode as it declares" in m for m in warnings_of(caplog))


def test_the_lots_own_ownership_column_survives_a_named_ownership_column():
    import nmgeo

    zones = read_zones(
        gpd.GeoDataFrame(
            {"ZONE_LABEL": ["C"]}, geometry=[shapely.box(E0, N0, E0 + 100, N0 + 100)], crs=2326
        )
    )
    lots = read_parcels(_lots(["A"]).assign(ownership=["own"], GRANT=["g"]))
    row = nmgeo.land_fabric(zones, lots, ownership_column="GRANT").set_index("parcel_id").loc["A"]
    assert (row["ownership"], row["GRANT"], row["lot_ownership"]) == ("g", "g", "own")


@pytest.mark.parametrize("packing", ["zip", "vsizip", "vsigzip"])
def test_nested_features_in_a_zipped_or_gzipped_geojson_are_read(tmp_path, packing):
    import gzip

    inner = {"type": "FeatureCollection", "features": [feature(1)]}
    plain = write(tmp_path / "n.geojson", [feature(0), inner])
    if packing == "vsigzip":
        packed = tmp_path / "n.geojson.gz"
        packed.write_bytes(gzip.compress(plain.read_bytes()))
        source = f"/vsigzip/{packed}"
    else:
        packed = tmp_path / "n.zip"
        with zipfile.ZipFile(packed, "w") as zf:
            zf.write(plain, "n.geojson")
        source = str(packed) if packing == "zip" else f"/vsizip/{packed}/n.geojson"
    assert read_parcels(source)["parcel_id"].tolist() == ["L0", "L1"]
