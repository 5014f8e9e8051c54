"""write_geopackage: one GeoPackage, one layer per result, in EPSG:2326, read back by GDAL."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from pyproj import CRS
from shapely.geometry import MultiPolygon, Point, box

import nmgeo
from nmgeo.errors import InputError, MissingCRSError
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
    return nmgeo.build_packages(parcels, min_package_area=10_000)


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


def test_an_existing_file_is_replaced(parcels, tmp_path):
    path = tmp_path / "nm.gpkg"
    write_geopackage(path, old=parcels)
    write_geopackage(path, parcels=parcels.iloc[:2])
    assert set(_layers(path)) == {"parcels"}
    assert pyogrio.read_info(path, layer="parcels")["features"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["nm.gpkg"]  # no temporary files left


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
