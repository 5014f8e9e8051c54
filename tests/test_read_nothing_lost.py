"""Reading never drops anything silently: nested collections, bare geometries, a missing
.dbf, ids mixing numbers and text, columns that clash by case."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import mapping

from nmgeo.errors import DuplicateIdError, InputError, SchemaError
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
