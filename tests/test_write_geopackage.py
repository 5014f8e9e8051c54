"""write_geopackage: one GeoPackage, one layer per result, in EPSG:2326, read back by GDAL."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from pyproj import CRS
from shapely.geometry import MultiPolygon, Point, box

import nmgeo
from nmgeo.errors import InputError, MissingCRSError, SchemaError
from nmgeo.io import write_geopackage

X0, Y0 = 826_000.0, 840_000.0


def _box(x0, y0, x1, y1):
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


@pytest.fixture
def parcels() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "parcel_id": ["a", "b", "c", "d"],
            "land_use": ["commercial", "commercial", "public_facility", "village"],
            "lot_type": ["private", "government", "government", "private"],
        },
        geometry=[
            _box(0, 0, 100, 100),
            _box(100, 0, 200, 100),
            _box(0, 110, 100, 200),
            _box(500, 500, 600, 600),
        ],
        crs="EPSG:2326",
    )


@pytest.fixture
def result(parcels) -> nmgeo.PackageResult:
    return nmgeo.build_packages(parcels, min_area_ha=1)


def _layers(path) -> dict[str, str | None]:
    return {str(name): gtype for name, gtype in pyogrio.list_layers(path)}


def test_results_and_reference_layers_in_one_file(parcels, result, tmp_path):
    path = tmp_path / "out" / "nm.gpkg"
    got = write_geopackage(
        path,
        parcels=parcels,
        packages=result.packages,
        members=result.members,
        stations=nmgeo.reference.rail_stations(),
        zones=nmgeo.reference.major_zones(),
    )
    assert got == path and path.is_file()
    layers = _layers(path)
    assert set(layers) == {"parcels", "packages", "members", "stations", "zones"}
    assert layers["parcels"] == "Polygon"
    assert layers["packages"] in {"Polygon", "MultiPolygon"}
    assert layers["stations"] == "Point"
    assert layers["members"] is None  # attribute-only table

    counts = {
        "parcels": len(parcels),
        "packages": len(result.packages),
        "members": len(result.members),
        "stations": len(nmgeo.reference.rail_stations()),
        "zones": 4,
    }
    for name, n in counts.items():
        info = pyogrio.read_info(path, layer=name)
        assert info["features"] == n, name
        if name != "members":
            assert CRS.from_user_input(info["crs"]).to_epsg() == 2326, name

    info = pyogrio.read_info(path, layer="packages")
    fields = dict(zip(info["fields"], info["dtypes"], strict=True))
    assert fields["package_id"] == "object"
    assert fields["area_ha"] == "float64"
    assert fields["n_pieces"] == "int64" and fields["n_lots"] == "int64"
    back = pyogrio.read_dataframe(path, layer="packages")
    np.testing.assert_allclose(back["area_ha"], result.packages["area_ha"])
    np.testing.assert_allclose(back.geometry.area, result.packages.geometry.area)

    members = pyogrio.read_dataframe(path, layer="members")
    assert not isinstance(members, gpd.GeoDataFrame) or members.geometry.isna().all()
    assert list(members["parcel_id"]) == list(result.members["parcel_id"])
    assert list(members["package_id"]) == list(result.members["package_id"])


def test_layers_are_reprojected_to_hk1980_grid(parcels, tmp_path):
    wgs = parcels.to_crs("EPSG:4326")
    path = write_geopackage(tmp_path / "w.gpkg", parcels=wgs)
    info = pyogrio.read_info(path, layer="parcels")
    assert CRS.from_user_input(info["crs"]).to_epsg() == 2326
    back = pyogrio.read_dataframe(path, layer="parcels")
    assert back.total_bounds == pytest.approx(parcels.total_bounds, abs=0.01)


def test_a_layer_without_crs_is_refused(parcels, tmp_path):
    with pytest.raises(MissingCRSError, match="no CRS"):
        write_geopackage(tmp_path / "x.gpkg", parcels=parcels.set_crs(None, allow_override=True))
    assert not (tmp_path / "x.gpkg").exists()


def test_keep_layers_false_replaces_an_existing_file(parcels, tmp_path):
    path = tmp_path / "nm.gpkg"
    write_geopackage(path, old=parcels)
    write_geopackage(path, keep_layers=False, parcels=parcels.iloc[:2])
    assert set(_layers(path)) == {"parcels"}
    assert pyogrio.read_info(path, layer="parcels")["features"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["nm.gpkg"]  # no temporary files left


def test_writing_into_an_existing_file_keeps_its_other_layers(parcels, tmp_path):
    path = tmp_path / "nm.gpkg"
    a, b = parcels.iloc[:2], parcels.iloc[2:]
    write_geopackage(path, a=a, b=b)
    a_before = pyogrio.read_dataframe(path, layer="a")

    new_b = parcels.iloc[[3]].assign(extra=1.5)
    c = pd.DataFrame({"parcel_id": ["x", "y"], "n": [1, 2]})
    write_geopackage(path, b=new_b, c=c)

    assert set(_layers(path)) == {"a", "b", "c"}
    assert [p.name for p in tmp_path.iterdir()] == ["nm.gpkg"]  # no temporary files left
    a_after = pyogrio.read_dataframe(path, layer="a")
    assert_geodataframe_equal(a_after, a_before)  # kept unchanged
    assert a_after["parcel_id"].tolist() == a["parcel_id"].tolist()
    assert shapely.equals(a_after.geometry.values, a.geometry.values).all()

    b_after = pyogrio.read_dataframe(path, layer="b")  # replaced, with its new schema
    assert b_after["parcel_id"].tolist() == new_b["parcel_id"].tolist()
    assert b_after["extra"].tolist() == [1.5]
    assert shapely.equals(b_after.geometry.values, new_b.geometry.values).all()

    c_after = pyogrio.read_dataframe(path, layer="c")  # new, attribute-only
    assert c_after["parcel_id"].tolist() == ["x", "y"] and c_after["n"].tolist() == [1, 2]
    assert _layers(path)["c"] is None


def test_a_layer_is_replaced_whatever_the_case_of_its_name(parcels, tmp_path):
    path = tmp_path / "nm.gpkg"
    write_geopackage(path, zones=parcels, keep=parcels.iloc[:1])
    write_geopackage(path, Zones=pd.DataFrame({"n": [1, 2, 3]}))  # and spatial -> table
    assert set(_layers(path)) == {"Zones", "keep"}
    assert pyogrio.read_dataframe(path, layer="Zones")["n"].tolist() == [1, 2, 3]
    with pytest.raises(InputError, match=r"\['a', 'A'\].*case"):
        write_geopackage(path, a=parcels, A=parcels)


def test_a_failed_write_leaves_the_existing_file_as_it_was(parcels, tmp_path, monkeypatch):
    path = tmp_path / "nm.gpkg"
    write_geopackage(path, a=parcels, b=parcels.iloc[:1])
    real = gpd.GeoDataFrame.to_file

    def fail_on_c(self, filename, *args, layer=None, **kwargs):
        if layer == "c":
            raise RuntimeError("disk full")
        return real(self, filename, *args, layer=layer, **kwargs)

    monkeypatch.setattr(gpd.GeoDataFrame, "to_file", fail_on_c)
    with pytest.raises(RuntimeError, match="disk full"):
        write_geopackage(path, b=parcels, c=parcels)
    assert set(_layers(path)) == {"a", "b"}
    assert pyogrio.read_info(path, layer="b")["features"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["nm.gpkg"]


def test_an_existing_file_that_is_not_a_geopackage_is_not_replaced(parcels, tmp_path):
    path = tmp_path / "notes.gpkg"
    path.write_text("my notes, not a GeoPackage")
    with pytest.raises(InputError, match=r"notes\.gpkg.*not a GeoPackage.*keep_layers=False"):
        write_geopackage(path, parcels=parcels)
    assert path.read_text() == "my notes, not a GeoPackage"
    write_geopackage(path, keep_layers=False, parcels=parcels)
    assert set(_layers(path)) == {"parcels"}


def test_empty_frames_write_valid_empty_layers_with_their_schema(tmp_path):
    empty = gpd.GeoDataFrame(
        {
            "parcel_id": pd.Series([], dtype=object),
            "area_m2": pd.Series([], dtype="float64"),
            "n_lots": pd.Series([], dtype="int64"),
            "flag": pd.Series([], dtype=bool),
        },
        geometry=gpd.GeoSeries([], crs="EPSG:4326"),
    )
    table = pd.DataFrame(
        {"package_id": pd.Series([], dtype=object), "share": pd.Series([], dtype=float)}
    )
    path = write_geopackage(tmp_path / "empty.gpkg", lots=empty, members=table)

    info = pyogrio.read_info(path, layer="lots")
    assert info["features"] == 0
    assert CRS.from_user_input(info["crs"]).to_epsg() == 2326
    assert dict(zip(info["fields"], info["dtypes"], strict=True)) == {
        "parcel_id": "object",
        "area_m2": "float64",
        "n_lots": "int64",
        "flag": "bool",
    }
    back = pyogrio.read_dataframe(path, layer="lots")
    assert len(back) == 0 and list(back.columns) == [
        "parcel_id",
        "area_m2",
        "n_lots",
        "flag",
        "geometry",
    ]
    members = pyogrio.read_dataframe(path, layer="members")
    assert len(members) == 0 and list(members.columns) == ["package_id", "share"]
    assert _layers(path)["members"] is None

    with pytest.raises(InputError, match="neither columns nor geometry"):
        write_geopackage(tmp_path / "nothing.gpkg", nothing=pd.DataFrame())


def test_a_run_that_finds_no_package_still_writes_a_complete_geopackage(parcels, tmp_path):
    result = nmgeo.build_packages(parcels, min_area_ha=100000)  # nothing is that large
    assert len(result.packages) == 0
    layers = {
        "packages": result.packages,
        "members": result.members,
        "excluded": result.excluded,
        "pieces": result.pieces,
        "parcels": parcels,
    }
    path = write_geopackage(tmp_path / "none.gpkg", **layers)
    assert set(_layers(path)) == set(layers)
    for name, frame in layers.items():
        back = pyogrio.read_dataframe(path, layer=name)
        assert len(back) == len(frame), name
        columns = [c for c in frame.columns if c != getattr(frame, "_geometry_column_name", None)]
        assert [c for c in back.columns if c != "geometry"] == columns, name
    info = pyogrio.read_info(path, layer="packages")
    assert CRS.from_user_input(info["crs"]).to_epsg() == 2326


def test_columns_differing_only_in_case_are_refused_with_the_fix(parcels, tmp_path):
    """e.g. pd.concat of two TPB plans, one spelling Shape_Leng and the other SHAPE_Leng."""
    one = parcels.iloc[:2].assign(Shape_Leng=[1.0, 2.0])
    two = parcels.iloc[2:].assign(SHAPE_Leng=[3.0, 4.0])
    both = pd.concat([one, two], ignore_index=True)
    path = tmp_path / "z.gpkg"
    with pytest.raises(SchemaError, match=r"'SHAPE_Leng', 'Shape_Leng'.*rename or combine") as err:
        write_geopackage(path, zones=both)
    assert "\n" not in str(err.value) and "'zones'" in str(err.value)
    assert not path.exists()


def test_a_column_called_fid_is_written_as_a_field(parcels, tmp_path):
    """GDAL would take it as the feature id: TPB's FID restarts in every plan file."""
    lots = parcels.assign(FID=[0, 1, 0, 1])
    path = write_geopackage(tmp_path / "fid.gpkg", lots=lots, table=pd.DataFrame({"fid": [5, 5]}))
    back = pyogrio.read_dataframe(path, layer="lots")
    assert back["FID"].tolist() == [0, 1, 0, 1]
    assert back["parcel_id"].tolist() == lots["parcel_id"].tolist()
    assert pyogrio.read_dataframe(path, layer="table")["fid"].tolist() == [5, 5]


def test_awkward_dtypes_are_converted_so_gdal_accepts_them(tmp_path):
    gdf = gpd.GeoDataFrame(
        {
            "name": pd.array(["a", None, "c"], dtype="string"),
            "count": pd.array([1, None, 3], dtype="Int64"),
            "zone": pd.Categorical(["x", "y", "x"]),
            "mixed": [1, "two", None],
            "listed": [[1, 2], None, {"k": 1}],
            "flag": [True, False, True],
            "when": pd.to_datetime(["2026-01-01", "2027-06-30", None]),
            "span": pd.to_timedelta([1, 2, 3], unit="h"),
            "centre": gpd.GeoSeries([Point(0, 0), Point(1, 1), None]),
        },
        geometry=[
            _box(0, 0, 10, 10),
            MultiPolygon([_box(20, 0, 30, 10), _box(40, 0, 50, 10)]),
            _box(60, 0, 70, 10),
        ],
        crs="EPSG:2326",
    )
    path = write_geopackage(tmp_path / "types.gpkg", lots=gdf)
    info = pyogrio.read_info(path, layer="lots")
    fields = dict(zip(info["fields"], info["dtypes"], strict=True))
    assert fields["name"] == "object"
    assert fields["count"] == "int64"
    assert fields["zone"] == "object"
    assert fields["mixed"] == "object"
    assert fields["flag"] == "bool"
    assert fields["span"] == "float64"
    assert fields["centre"] == "object"
    assert info["geometry_type"] == "MultiPolygon"  # Polygon and MultiPolygon promoted
    back = pyogrio.read_dataframe(path, layer="lots")
    assert list(back["name"].fillna("-")) == ["a", "-", "c"]
    assert back["count"].isna().tolist() == [False, True, False]
    assert list(back["zone"]) == ["x", "y", "x"]
    assert list(back["mixed"].fillna("-")) == ["1", "two", "-"]
    assert back["listed"].iloc[0] == "[1, 2]" and back["listed"].iloc[2] == '{"k": 1}'
    assert list(back["span"]) == [3600.0, 7200.0, 10800.0]
    assert back["centre"].iloc[0] == "POINT (0 0)"


def test_bad_calls_are_clear_errors(parcels, tmp_path):
    with pytest.raises(InputError, match="at least one layer"):
        write_geopackage(tmp_path / "a.gpkg")
    with pytest.raises(InputError, match=r"\.gpkg"):
        write_geopackage(tmp_path / "a.shp", parcels=parcels)
    with pytest.raises(InputError, match="not a"):
        write_geopackage(tmp_path / "a.gpkg", parcels=[1, 2])
    with pytest.raises(InputError, match="case"):
        write_geopackage(tmp_path / "a.gpkg", t=pd.DataFrame({"Area": [1], "area": [2]}))
