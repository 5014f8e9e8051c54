"""Bad input corpus, built in tmp_path: the readers, zonal_stats and the CLI on broken data.

Every case ends in one of three ways, never in a raw exception from GDAL, shapely or
rasterio and never in a silently wrong number:

- an ``NmgeoError`` whose message is one line naming the file (row or column) and the fix;
- a repair logged as a warning with its counts (and recorded in the read account);
- a correct result.

Cases that expose a defect in the library are marked ``xfail(strict=True)``.
"""

from __future__ import annotations

import json
import logging
import struct
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from affine import Affine
from click.testing import CliRunner
from geotiff import write_geotiff

import nmgeo
from nmgeo.cli import main
from nmgeo.errors import (
    CoordinateRangeError,
    CRSError,
    DuplicateIdError,
    EmptyGeometryError,
    GeometryTypeError,
    InputError,
    InvalidGeometryError,
    MissingCRSError,
    NmgeoError,
    SchemaError,
)
from nmgeo.io import read_parcels, read_zones
from nmgeo.raster import zonal_stats
from nmgeo.zoning import assign_zoning

# A corner near Sheung Shui (HK1980 Grid metres) and a point near it in WGS84 degrees.
E0, N0 = 833_000.0, 840_000.0
LON0, LAT0 = 114.12, 22.50
HK80_URN = "urn:ogc:def:crs:EPSG::2326"


# --------------------------------------------------------------------------- builders


def box(x: float, y: float, w: float, h: float) -> shapely.Polygon:
    """A w x h metre rectangle at (E0 + x, N0 + y)."""
    return shapely.box(E0 + x, N0 + y, E0 + x + w, N0 + y + h)


def ring(coords, x0: float = E0, y0: float = N0) -> list:
    return [[x0 + x, y0 + y] for x, y in coords]


def poly_json(coords, x0: float = E0, y0: float = N0) -> dict:
    return {"type": "Polygon", "coordinates": [ring(coords, x0, y0)]}


def square_json(x: float = 0.0, size: float = 10.0) -> dict:
    return poly_json([(x, 0), (x + size, 0), (x + size, size), (x, size), (x, 0)])


def write_geojson(
    path: Path, features: list[tuple[dict, dict | None]], crs: str | None = HK80_URN
):
    """Write a FeatureCollection by hand: ``features`` is [(properties, geometry), ...]."""
    collection: dict = {"type": "FeatureCollection"}
    if crs is not None:
        collection["crs"] = {"type": "name", "properties": {"name": crs}}
    collection["features"] = [
        {"type": "Feature", "properties": props, "geometry": geom} for props, geom in features
    ]
    path.write_text(json.dumps(collection), encoding="utf-8")
    return path


def lots_gdf(ids=("L-1", "L-2", "L-3"), crs="EPSG:2326", land_use=None) -> gpd.GeoDataFrame:
    data = {"LOTCSUID": list(ids)}
    if land_use is not None:
        data["land_use"] = list(land_use)
    geoms = [box(30 * i, 0, 20, 20) for i in range(len(ids))]
    return gpd.GeoDataFrame(data, geometry=geoms, crs=crs)


def write_shp(tmp_path: Path, gdf: gpd.GeoDataFrame, name: str = "lots", **kwargs) -> Path:
    path = tmp_path / f"{name}.shp"
    gdf.to_file(path, driver="ESRI Shapefile", engine="pyogrio", **kwargs)
    return path


# Sources: each takes tmp_path and returns a path or a GeoDataFrame.


def src_shp_without_prj(tmp_path):
    path = write_shp(tmp_path, lots_gdf())
    path.with_suffix(".prj").unlink()
    return path


def src_gdf_without_crs(tmp_path):
    return lots_gdf(crs=None)


def src_degrees_declared_hk80(tmp_path):
    sq = [(0, 0), (0.001, 0), (0.001, 0.001), (0, 0.001), (0, 0)]
    geom = poly_json(sq, LON0, LAT0)
    return write_geojson(tmp_path / "deg_as_2326.geojson", [({"id": "A"}, geom)])


def src_lat_lon_swapped(tmp_path):
    # GeoJSON (WGS84 by definition) written latitude first, a common hand-made mistake.
    sq = [(0, 0), (0.001, 0), (0.001, 0.001), (0, 0.001), (0, 0)]
    geom = poly_json(sq, LAT0, LON0)
    return write_geojson(tmp_path / "lat_lon.geojson", [({"id": "A"}, geom)], crs=None)


def src_lat_lon_swapped_declared_hk80(tmp_path):
    sq = [(0, 0), (0.001, 0), (0.001, 0.001), (0, 0.001), (0, 0)]
    geom = poly_json(sq, LAT0, LON0)
    return write_geojson(tmp_path / "lat_lon_2326.geojson", [({"ZONE_LABEL": "C"}, geom)])


def src_metres_declared_wgs84(tmp_path):
    # GeoJSON without a crs member is WGS84 by definition; these are HK1980 metres.
    return write_geojson(
        tmp_path / "metres_as_4326.geojson", [({"id": "A"}, square_json())], crs=None
    )


def src_utm_declared_hk80(tmp_path):
    # UTM zone 50N metres in a file that says HK1980 Grid: every lot lands off the map.
    return lots_gdf().to_crs("EPSG:32650").set_crs("EPSG:2326", allow_override=True)


def src_web_mercator_declared_hk80(tmp_path):
    gdf = lots_gdf().to_crs("EPSG:3857").set_crs("EPSG:2326", allow_override=True)
    path = tmp_path / "mercator_as_2326.gpkg"
    gdf.to_file(path, engine="pyogrio")
    return path


def src_utm_declared_wgs84(tmp_path):
    return lots_gdf().to_crs("EPSG:32650").set_crs("EPSG:4326", allow_override=True)


def src_metres_shp_with_wgs84_prj(tmp_path):
    gdf = lots_gdf().set_crs("EPSG:4326", allow_override=True)
    return write_shp(tmp_path, gdf, name="metres_4326")


def src_london(tmp_path):
    sq = [(0, 0), (0.001, 0), (0.001, 0.001), (0, 0.001), (0, 0)]
    near_hk = poly_json(sq, LON0, LAT0)
    london = poly_json(sq, -0.12, 51.5)
    return write_geojson(
        tmp_path / "london.geojson",
        [({"id": "HK-1"}, near_hk), ({"id": "LDN-1"}, london)],
        crs=None,
    )


def src_near_grid_origin(tmp_path):
    geom = poly_json([(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)], 100.0, 100.0)
    return write_geojson(tmp_path / "origin.geojson", [({"id": "ORIGIN-1"}, geom)])


def src_bow_tie(tmp_path):
    bow = poly_json([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])
    return write_geojson(
        tmp_path / "bowtie.geojson", [({"id": "OK-1"}, square_json(50)), ({"id": "BOW-1"}, bow)]
    )


def src_self_crossing(tmp_path):
    # A 20 x 20 square whose top edge crosses back through the shell.
    crossing = poly_json([(0, 0), (20, 0), (20, 20), (10, -5), (0, 20), (0, 0)])
    return write_geojson(tmp_path / "crossing.geojson", [({"id": "X-1"}, crossing)])


def src_unclosed_ring(tmp_path):
    text = (
        '{"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "'
        + HK80_URN
        + '"}}, "features": [{"type": "Feature", "properties": {"id": "OPEN-1"}, '
        '"geometry": {"type": "Polygon", "coordinates": [['
        f"[{E0}, {N0}], [{E0 + 10}, {N0}], [{E0 + 10}, {N0 + 10}], [{E0}, {N0 + 10}]"
        "]]}}]}"
    )
    path = tmp_path / "unclosed.geojson"
    path.write_text(text, encoding="utf-8")
    return path


def src_one_point_ring(tmp_path):
    # A polygon ring of a single point: GDAL passes it on, closing it cannot make a ring.
    text = (
        '{"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "'
        + HK80_URN
        + '"}}, "features": [{"type": "Feature", "properties": {"id": "POINT-RING-1"}, '
        f'"geometry": {{"type": "Polygon", "coordinates": [[[{E0}, {N0}]]]}}}}]}}'
    )
    path = tmp_path / "one_point_ring.geojson"
    path.write_text(text, encoding="utf-8")
    return path


def src_overlapping_lots(tmp_path):
    # Two 10 m squares overlapping by 3 x 10 m, and a third sharing an edge with the second.
    return write_geojson(
        tmp_path / "overlap.geojson",
        [
            ({"id": "A"}, square_json(0, 10)),
            ({"id": "B"}, square_json(7, 10)),
            ({"id": "C"}, square_json(17, 10)),
        ],
    )


def src_zero_area(tmp_path):
    flat = poly_json([(0, 0), (10, 0), (20, 0), (0, 0)])
    return write_geojson(
        tmp_path / "flat.geojson", [({"id": "OK-1"}, square_json(50)), ({"id": "FLAT-1"}, flat)]
    )


def src_null_geometry(tmp_path):
    return write_geojson(
        tmp_path / "nullgeom.geojson",
        [({"id": "OK-1"}, square_json()), ({"id": "NULL-1"}, None)],
    )


def src_empty_polygon(tmp_path):
    empty = {"type": "Polygon", "coordinates": []}
    return write_geojson(
        tmp_path / "emptygeom.geojson",
        [({"id": "OK-1"}, square_json()), ({"id": "EMPTY-1"}, empty)],
    )


def src_points(tmp_path):
    pt = {"type": "Point", "coordinates": [E0, N0]}
    return write_geojson(
        tmp_path / "points.geojson", [({"id": "OK-1"}, square_json()), ({"id": "PT-1"}, pt)]
    )


def src_lines(tmp_path):
    line = {"type": "LineString", "coordinates": [[E0, N0], [E0 + 50, N0 + 50]]}
    return write_geojson(tmp_path / "lines.geojson", [({"ZONE_LABEL": "R(A)"}, line)])


def src_collection_without_polygon(tmp_path):
    gc = {
        "type": "GeometryCollection",
        "geometries": [
            {"type": "Point", "coordinates": [E0, N0]},
            {"type": "LineString", "coordinates": [[E0, N0], [E0 + 5, N0 + 5]]},
        ],
    }
    return write_geojson(tmp_path / "gc_nopoly.geojson", [({"id": "GC-1"}, gc)])


def src_collection_with_polygon(tmp_path):
    gc = {
        "type": "GeometryCollection",
        "geometries": [square_json(0, 10), {"type": "Point", "coordinates": [E0 + 50, N0]}],
    }
    return write_geojson(
        tmp_path / "gc_poly.geojson", [({"id": "GC-1"}, gc), ({"id": "OK-1"}, square_json(40))]
    )


def src_duplicate_ids(tmp_path):
    return write_shp(tmp_path, lots_gdf(ids=("DD1", "DD2", "DD1")), name="dups")


def src_null_ids(tmp_path):
    return write_geojson(
        tmp_path / "nullids.geojson",
        [({"LOTCSUID": "A"}, square_json(0)), ({"LOTCSUID": None}, square_json(30))],
    )


def src_truncated(tmp_path):
    path = write_geojson(tmp_path / "cut.geojson", [({"id": "A"}, square_json())])
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    return path


def src_empty_file(tmp_path):
    path = tmp_path / "empty.geojson"
    path.write_bytes(b"")
    return path


def src_empty_shp(tmp_path):
    path = tmp_path / "nothing.shp"
    path.write_bytes(b"")
    return path


def src_latin1_geojson(tmp_path):
    path = write_geojson(
        tmp_path / "latin1.geojson", [({"id": "A", "owner": "Caf\u00e9 Ng"}, square_json())]
    )
    text = path.read_text(encoding="utf-8")
    path.write_bytes(text.replace("\\u00e9", "\u00e9").encode("latin-1"))
    return path


def src_no_features(tmp_path):
    return write_geojson(tmp_path / "nofeatures.geojson", [])


def src_zones_without_label(tmp_path):
    return write_geojson(tmp_path / "zones_nolabel.geojson", [({"ZONING": "R(A)"}, square_json())])


def src_missing_file(tmp_path):
    return tmp_path / "does_not_exist.geojson"


# --------------------------------------------------------------------------- errors


def _one_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text.strip(), text
    assert text.strip(), "empty message"
    return text


ERROR_CASES = [
    # (source builder, reader, kwargs, error class, words the message must contain)
    pytest.param(
        src_shp_without_prj,
        read_parcels,
        {},
        MissingCRSError,
        ["no CRS", "crs='EPSG:2326'"],
        id="shp-without-prj",
    ),
    pytest.param(
        src_gdf_without_crs,
        read_parcels,
        {},
        MissingCRSError,
        ["<GeoDataFrame>", "crs="],
        id="geodataframe-without-crs",
    ),
    pytest.param(
        src_lat_lon_swapped,
        read_parcels,
        {},
        CoordinateRangeError,
        ["lat_lon.geojson", "swapped", "longitude first"],
        id="lat-lon-swapped",
    ),
    pytest.param(
        src_lat_lon_swapped_declared_hk80,
        read_zones,
        {},
        CoordinateRangeError,
        ["lat_lon_2326.geojson", "swapped", "EPSG:2326", "EPSG:4326"],
        id="lat-lon-swapped-declared-hk80",
    ),
    pytest.param(
        src_degrees_declared_hk80,
        read_parcels,
        {},
        CoordinateRangeError,
        ["WGS84 degrees", "EPSG:2326", "fix the .prj"],
        id="wgs84-degrees-declared-2326",
    ),
    pytest.param(
        src_metres_declared_wgs84,
        read_parcels,
        {},
        CoordinateRangeError,
        ["projected metres", "EPSG:4326", "crs='EPSG:2326'"],
        id="hk80-metres-in-crs-less-geojson",
    ),
    pytest.param(
        src_utm_declared_hk80,
        read_parcels,
        {},
        CoordinateRangeError,
        ["outside Hong Kong", "'L-1'", "EPSG:32650", "UTM zone 50N", "crs='EPSG:32650'"],
        id="utm-declared-hk80",
    ),
    pytest.param(
        src_web_mercator_declared_hk80,
        read_parcels,
        {},
        CoordinateRangeError,
        ["mercator_as_2326.gpkg", "outside Hong Kong", "EPSG:3857", "fix the .prj"],
        id="web-mercator-declared-hk80",
    ),
    pytest.param(
        src_utm_declared_wgs84,
        read_parcels,
        {},
        CoordinateRangeError,
        ["projected metres", "EPSG:32650", "declares geographic EPSG:4326"],
        id="utm-declared-wgs84",
    ),
    pytest.param(
        src_metres_shp_with_wgs84_prj,
        read_zones,
        {"columns": {"LOTCSUID": "zone_label"}},
        CoordinateRangeError,
        ["projected metres", "fix the .prj"],
        id="hk80-metres-shp-with-wgs84-prj",
    ),
    pytest.param(
        src_london,
        read_parcels,
        {},
        CoordinateRangeError,
        ["outside Hong Kong", "'LDN-1'", "check the layer's CRS"],
        id="coordinates-in-london",
    ),
    pytest.param(
        src_near_grid_origin,
        read_parcels,
        {},
        CoordinateRangeError,
        ["outside Hong Kong", "'ORIGIN-1'"],
        id="coordinates-near-grid-origin",
    ),
    pytest.param(
        src_bow_tie,
        read_parcels,
        {"on_invalid": "raise"},
        InvalidGeometryError,
        ["'BOW-1'", "Self-intersection", "on_invalid='repair'"],
        id="bow-tie-with-on-invalid-raise",
    ),
    pytest.param(
        src_self_crossing,
        read_zones,
        {"on_invalid": "raise", "columns": {"id": "zone_label"}},
        InvalidGeometryError,
        ["row 0", "on_invalid='repair'"],
        id="self-crossing-zone-with-on-invalid-raise",
    ),
    pytest.param(
        src_one_point_ring,
        read_parcels,
        {},
        InputError,
        ["cannot read", "cannot be decoded", "row 0", "fix them in the source"],
        id="one-point-ring-cannot-be-closed",
    ),
    pytest.param(
        src_zero_area,
        read_parcels,
        {},
        EmptyGeometryError,
        ["'FLAT-1'", "no area", "on_invalid='drop'"],
        id="zero-area-polygon",
    ),
    pytest.param(
        src_null_geometry,
        read_parcels,
        {},
        EmptyGeometryError,
        ["'NULL-1'", "on_invalid='drop'"],
        id="null-geometry",
    ),
    pytest.param(
        src_empty_polygon,
        read_parcels,
        {},
        EmptyGeometryError,
        ["'EMPTY-1'", "on_invalid='drop'"],
        id="empty-polygon",
    ),
    pytest.param(
        src_points,
        read_parcels,
        {},
        GeometryTypeError,
        ["must hold polygons", "1 Point", "'PT-1'", "pass a polygon layer"],
        id="points-in-parcel-layer",
    ),
    pytest.param(
        src_lines,
        read_zones,
        {},
        GeometryTypeError,
        ["1 LineString", "row 0", "pass a polygon layer"],
        id="lines-in-zoning-layer",
    ),
    pytest.param(
        src_collection_without_polygon,
        read_parcels,
        {},
        GeometryTypeError,
        ["GeometryCollection without polygons", "'GC-1'"],
        id="geometry-collection-without-polygons",
    ),
    pytest.param(
        src_duplicate_ids,
        read_parcels,
        {"multipart": "separate"},
        DuplicateIdError,
        ["LOTCSUID", "'DD1'", "on_invalid='drop'", "id_column="],
        id="duplicate-ids",
    ),
    pytest.param(
        src_null_ids,
        read_parcels,
        {},
        DuplicateIdError,
        ["LOTCSUID", "1 null", "on_invalid='drop'"],
        id="null-ids",
    ),
    pytest.param(
        src_truncated,
        read_parcels,
        {},
        InputError,
        ["cannot read"],
        id="truncated-geojson",
    ),
    pytest.param(
        src_empty_file,
        read_zones,
        {},
        InputError,
        ["cannot read"],
        id="empty-file",
    ),
    pytest.param(
        src_empty_shp,
        read_parcels,
        {},
        InputError,
        ["cannot read"],
        id="empty-shp-file",
    ),
    pytest.param(
        src_no_features,
        read_parcels,
        {},
        InputError,
        ["no features", "at least one polygon"],
        id="feature-collection-without-features",
    ),
    pytest.param(
        src_latin1_geojson,
        read_parcels,
        {},
        InputError,
        ["cannot decode", "encoding="],
        id="latin1-bytes-in-geojson",
    ),
    pytest.param(
        src_zones_without_label,
        read_zones,
        {},
        SchemaError,
        ["'ZONING'", "columns={'YourCol': 'zone_label'}"],
        id="zoning-layer-without-zone-label",
    ),
    pytest.param(
        src_missing_file,
        read_parcels,
        {},
        InputError,
        ["file not found"],
        id="missing-file",
    ),
    pytest.param(
        src_shp_without_prj,
        read_parcels,
        {"crs": "EPSG:9999999"},
        CRSError,
        ["cannot interpret crs=", "crs='EPSG:2326'"],
        id="unparseable-crs-argument",
    ),
]


@pytest.mark.parametrize(("make", "reader", "kwargs", "error", "words"), ERROR_CASES)
def test_bad_input_raises_one_line_nmgeo_error(tmp_path, make, reader, kwargs, error, words):
    source = make(tmp_path)
    with pytest.raises(NmgeoError) as info:
        reader(source, **kwargs)
    assert isinstance(info.value, error), repr(info.value)
    message = _one_line(info.value)
    if isinstance(source, Path):
        assert source.name in message, message
    for word in words:
        assert word.lower() in message.lower(), (word, message)


# --------------------------------------------------------------------------- repairs


def _warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith("nmgeo")
    ]


REPAIR_CASES = [
    # (builder, reader, kwargs, words in one warning, account fields, rows out)
    pytest.param(
        src_unclosed_ring,
        read_parcels,
        {},
        ["closed the unclosed polygon rings of 1", "'OPEN-1'"],
        {"n_rings_closed": 1, "rings_closed_ids": ["OPEN-1"]},
        1,
        id="unclosed-ring-closed",
    ),
    pytest.param(
        src_unclosed_ring,
        read_zones,
        {"columns": {"id": "zone_label"}},
        ["closed the unclosed polygon rings of 1", "row 0"],
        {"n_rings_closed": 1, "rings_closed_ids": [0]},
        1,
        id="unclosed-ring-zone-closed",
    ),
    pytest.param(
        src_overlapping_lots,
        read_parcels,
        {},
        ["2 lots overlap", "1 pair, 30.0 m2", "('A', 'B')", "count the overlap twice"],
        {
            "n_overlapping_lots": 2,
            "n_overlap_pairs": 1,
            "overlap_area_m2": 30.0,
            "overlap_ids": [["A", "B"]],
        },
        3,
        id="overlapping-lots-reported",
    ),
    pytest.param(
        src_bow_tie,
        read_parcels,
        {},
        ["repaired 1 invalid", "area change 50.000 m2", "'BOW-1'"],
        {"n_repaired": 1},
        2,
        id="bow-tie-repaired",
    ),
    pytest.param(
        src_self_crossing,
        read_zones,
        {"columns": {"id": "zone_label"}},
        ["repaired 1 invalid", "row 0"],
        {"n_repaired": 1},
        1,
        id="self-crossing-zone-repaired",
    ),
    pytest.param(
        src_zero_area,
        read_parcels,
        {"on_invalid": "drop"},
        ["dropped 1 rows", "'FLAT-1'"],
        {"n_dropped_empty": 1, "dropped_ids": ["FLAT-1"]},
        1,
        id="zero-area-dropped",
    ),
    pytest.param(
        src_null_geometry,
        read_parcels,
        {"on_invalid": "drop"},
        ["dropped 1 rows", "'NULL-1'"],
        {"n_dropped_empty": 1, "dropped_ids": ["NULL-1"]},
        1,
        id="null-geometry-dropped",
    ),
    pytest.param(
        src_duplicate_ids,
        read_parcels,
        {"on_invalid": "drop", "multipart": "separate"},
        ["dropped 1 rows with a null or repeated", "LOTCSUID"],
        {"n_dropped_duplicate": 1, "dropped_ids": ["DD1"]},
        2,
        id="duplicate-ids-dropped",
    ),
    pytest.param(
        src_null_ids,
        read_parcels,
        {"on_invalid": "drop"},
        ["dropped 1 rows with a null or repeated"],
        {"n_dropped_duplicate": 1},
        1,
        id="null-ids-dropped",
    ),
]


@pytest.mark.parametrize(("make", "reader", "kwargs", "words", "fields", "n_out"), REPAIR_CASES)
def test_bad_input_is_repaired_with_a_counted_warning(
    tmp_path, caplog, make, reader, kwargs, words, fields, n_out
):
    source = make(tmp_path)
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        out = reader(source, **kwargs)
    matching = [m for m in _warnings(caplog) if all(w in m for w in words)]
    assert len(matching) == 1, _warnings(caplog)
    account = out.attrs["nmgeo_account"]
    for key, value in fields.items():
        assert account[key] == value, (key, account)
    assert len(out) == n_out
    assert (
        account["n_input"] == n_out + account["n_dropped_empty"] + account["n_dropped_duplicate"]
    )
    assert shapely.is_valid(out.geometry.to_numpy()).all()
    assert (out.geometry.area > 0).all()


def test_an_unclosed_ring_is_closed_into_its_square_with_one_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        out = read_parcels(src_unclosed_ring(tmp_path))
    assert out["area_m2"].tolist() == pytest.approx([100.0])
    assert out.geometry.iloc[0].equals(box(0, 0, 10, 10))
    account = out.attrs["nmgeo_account"]
    assert account["n_rings_closed"] == 1 and account["rings_closed_ids"] == ["OPEN-1"]
    warned = [m for m in _warnings(caplog) if "unclosed" in m]
    assert len(warned) == 1 and "'OPEN-1'" in warned[0] and "unclosed.geojson" in warned[0]
    assert not [m for m in _warnings(caplog) if "OGR_GEOMETRY_ACCEPT_UNCLOSED_RING" in m]


@pytest.mark.parametrize("encoding", [None, "utf-8"], ids=["arrow", "feature-by-feature"])
def test_unclosed_rings_in_a_geopackage_are_closed_and_named(tmp_path, caplog, encoding):
    # GDAL stores the WKB as given: an unclosed ring, a closed one and a null geometry.
    def wkb(coords):
        ring = b"".join(struct.pack("<dd", E0 + x, N0 + y) for x, y in coords)
        return struct.pack("<BIII", 1, 3, 1, len(coords)) + ring

    square = [(0, 0), (10, 0), (10, 10), (0, 10)]
    geometry = np.array(
        [wkb([(x + 20, y) for x, y in [*square, square[0]]]), wkb(square), None], dtype=object
    )
    path = tmp_path / "open.gpkg"
    pyogrio.raw.write(
        path,
        geometry=geometry,
        field_data=[np.array(["OK-1", "OPEN-1", "NULL-1"], dtype=object)],
        fields=["LOTCSUID"],
        geometry_type="Polygon",
        crs="EPSG:2326",
        driver="GPKG",
    )
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        out = read_parcels(path, on_invalid="drop", encoding=encoding)
    assert out["parcel_id"].tolist() == ["OK-1", "OPEN-1"]
    assert out["area_m2"].tolist() == pytest.approx([100.0, 100.0])
    account = out.attrs["nmgeo_account"]
    assert account["n_rings_closed"] == 1 and account["dropped_ids"] == ["NULL-1"]
    assert len([m for m in _warnings(caplog) if "unclosed" in m and "'OPEN-1'" in m]) == 1


def test_bow_tie_repair_keeps_both_lobes(tmp_path):
    out = read_parcels(src_bow_tie(tmp_path))
    bow = out.set_index("parcel_id").loc["BOW-1"]
    assert bow.geometry.geom_type == "MultiPolygon"
    assert bow["area_m2"] == pytest.approx(50.0)


def test_geometry_collection_is_reduced_to_its_polygon(tmp_path):
    out = read_parcels(src_collection_with_polygon(tmp_path))
    assert out.attrs["nmgeo_account"]["n_collections_fixed"] == 1
    assert out["area_m2"].tolist() == pytest.approx([100.0, 100.0])
    assert set(out.geometry.geom_type) == {"Polygon"}


def test_big5_shapefile_without_cpg_warns_once_and_reads_with_encoding(tmp_path, caplog):
    zones = gpd.GeoDataFrame(
        {"ZONE_LABEL": ["V", "CA"], "DESC_CHT": ["鄉村式發展", "自然保育區"]},
        geometry=[box(0, 0, 50, 50), box(60, 0, 50, 50)],
        crs="EPSG:2326",
    )
    path = write_shp(tmp_path, zones, name="ozp_big5", encoding="big5")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        garbled = read_zones(path)
    notes = [m for m in _warnings(caplog) if "no .cpg" in m]
    assert len(notes) == 1 and "encoding='big5'" in notes[0] and path.name in notes[0]
    classes = nmgeo.assign_land_use(garbled)["land_use"].tolist()
    assert classes == ["village", "conservation"]  # labels are ASCII
    good = read_zones(path, encoding="big5")
    assert good["DESC_CHT"].tolist() == ["鄉村式發展", "自然保育區"]


def test_latin1_geojson_reads_with_its_encoding(tmp_path):
    out = read_parcels(src_latin1_geojson(tmp_path), encoding="latin-1")
    assert out["owner"].tolist() == ["Caf\u00e9 Ng"]


def test_shapefile_without_prj_reads_with_crs_given(tmp_path):
    out = read_parcels(src_shp_without_prj(tmp_path), crs="EPSG:2326")
    assert out["area_m2"].tolist() == pytest.approx([400.0, 400.0, 400.0])
    assert out.crs.to_epsg() == 2326


# --------------------------------------------------------------------------- overlaps, zoning


def test_overlapping_lots_are_kept_whole_and_reported_once(tmp_path, caplog):
    # Overlaps are kept (each lot keeps its full area, so an area total over the two counts
    # the shared 50 m2 twice), and reported: one warning and the account.
    path = write_geojson(
        tmp_path / "overlap.geojson",
        [({"id": "A"}, square_json(0, 10)), ({"id": "B"}, square_json(5, 10))],
    )
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        out = read_parcels(path)
    assert out["area_m2"].tolist() == pytest.approx([100.0, 100.0])
    account = out.attrs["nmgeo_account"]
    assert account["n_repaired"] == 0
    assert account["n_overlap_pairs"] == 1
    assert account["overlap_area_m2"] == pytest.approx(50.0)
    assert out.geometry.iloc[0].intersection(out.geometry.iloc[1]).area == pytest.approx(50.0)
    warned = [m for m in _warnings(caplog) if "overlap" in m]
    assert len(warned) == 1, warned
    assert "overlap.geojson" in warned[0] and "dissolve the duplicates" in warned[0]


def test_zoning_with_a_gap_and_an_overlap(tmp_path):
    zones_path = write_geojson(
        tmp_path / "ozp_gaps.geojson",
        [
            ({"ZONE_LABEL": "R(B)"}, poly_json([(0, 0), (100, 0), (100, 100), (0, 100), (0, 0)])),
            (
                {"ZONE_LABEL": "G/IC"},
                poly_json([(80, 0), (200, 0), (200, 100), (80, 100), (80, 0)]),
            ),
        ],
    )
    zones = read_zones(zones_path)
    lots = read_parcels(
        gpd.GeoDataFrame(
            {"id": ["IN-RB", "OVERLAP", "GAP"]},
            geometry=[box(10, 10, 20, 20), box(85, 10, 10, 10), box(500, 500, 20, 20)],
            crs="EPSG:2326",
        )
    )
    out = assign_zoning(lots, zones).set_index("parcel_id")
    assert out.loc["IN-RB", "land_use"] == "residential"
    assert out.loc["IN-RB", "n_zones"] == 1
    assert out.loc["OVERLAP", "n_zones"] == 2
    assert out.loc["GAP", "land_use"] == "unzoned"
    assert out.loc["GAP", "n_zones"] == 0
    assert out.loc["GAP", "zoning_share"] == 0 or np.isnan(out.loc["GAP", "zoning_share"])


def test_misspelt_and_unknown_zone_labels(tmp_path, caplog):
    labels = ["C (1)", "g/ic", "OU (Business)", "XYZ", None]
    path = write_geojson(
        tmp_path / "ozp_labels.geojson",
        [({"ZONE_LABEL": lab}, square_json(30 * i)) for i, lab in enumerate(labels)],
    )
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        out = nmgeo.assign_land_use(read_zones(path))
    assert out["land_use"].tolist() == [
        "commercial",
        "public_facility",
        "commercial",
        "unknown",
        "unknown",
    ]
    unknown = [m for m in _warnings(caplog) if "XYZ" in m]
    assert len(unknown) == 1, _warnings(caplog)
    assert "mapping=" in unknown[0]


# --------------------------------------------------------------------------- zonal_stats


def from_origin(west: float, north: float, xsize: float, ysize: float) -> Affine:
    # rasterio.transform.from_origin, without its affine-operator deprecation warning
    return Affine(xsize, 0.0, west, 0.0, -ysize, north)


def _lot_hk80() -> gpd.GeoDataFrame:
    """One lot built in WGS84 (columns 50..59, rows 50..59 of the degree raster), in HK80."""
    cell = 0.0001
    west, north = LON0 - 0.01, LAT0 + 0.01
    lot = shapely.box(west + 50 * cell, north - 60 * cell, west + 60 * cell, north - 50 * cell)
    return gpd.GeoDataFrame({"id": ["A"]}, geometry=[lot], crs="EPSG:4326").to_crs("EPSG:2326")


def test_zonal_stats_on_a_wgs84_raster_reprojects_the_lots(tmp_path, caplog):
    cell = 0.0001
    cols = np.tile(np.arange(200, dtype="float64"), (200, 1))  # value = column number
    raster = write_geotiff(
        tmp_path / "wgs84.tif",
        cols,
        from_origin(LON0 - 0.01, LAT0 + 0.01, cell, cell),
        crs="EPSG:4326",
        nodata=None,
    )
    lots = _lot_hk80()
    with caplog.at_level(logging.INFO, logger="nmgeo"):
        out = zonal_stats(lots, raster, stats=("mean", "min", "max", "count"))
    assert "reprojecting 1 polygons" in caplog.text
    assert out.loc[0, "count"] == 100
    assert out.loc[0, "mean"] == pytest.approx(54.5)
    assert (out.loc[0, "min"], out.loc[0, "max"]) == (50.0, 59.0)
    assert lots.crs.to_epsg() == 2326  # the caller's frame is not reprojected


def _hk80_raster(tmp_path, fill: float, nodata=-9999.0, name="dem.tif") -> Path:
    data = np.full((50, 50), fill, dtype="float32")
    return write_geotiff(
        tmp_path / name, data, from_origin(E0 - 100, N0 + 200, 10, 10), nodata=nodata
    )


def test_zonal_stats_on_nodata_everywhere_is_nan_with_one_warning(tmp_path, caplog):
    raster = _hk80_raster(tmp_path, -9999.0)
    lots = lots_gdf()
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        out = zonal_stats(lots, raster)
    assert out["count"].tolist() == [0, 0, 0]
    assert out[["mean", "min", "max"]].isna().all().all()
    warned = [m for m in _warnings(caplog) if "all nodata" in m]
    assert len(warned) == 1 and "every statistic is NaN" in warned[0]


ZONAL_ERRORS = [
    # (gdf builder, raster builder, kwargs, error class, words)
    pytest.param(
        lambda: lots_gdf(crs=None),
        lambda p: _hk80_raster(p, 5.0),
        {},
        MissingCRSError,
        ["no CRS", "set_crs('EPSG:2326')"],
        id="zonal-lots-without-crs",
    ),
    pytest.param(
        lots_gdf,
        lambda p: write_geotiff(
            p / "nocrs.tif",
            np.ones((5, 5), "float32"),
            from_origin(E0, N0 + 50, 10, 10),
            crs=None,
            nodata=None,
        ),
        {},
        CRSError,
        ["nocrs.tif", "no CRS", "gdal_edit.py"],
        id="zonal-raster-without-crs",
    ),
    pytest.param(
        lambda: gpd.GeoDataFrame(
            {"id": ["P"]}, geometry=[shapely.Point(E0 + 5, N0 + 5)], crs="EPSG:2326"
        ),
        lambda p: _hk80_raster(p, 5.0),
        {},
        GeometryTypeError,
        ["needs polygons", "row 0", "pass a polygon layer"],
        id="zonal-points",
    ),
    pytest.param(
        lots_gdf,
        lambda p: _hk80_raster(p, 5.0),
        {"stats": ("mean", "average")},
        InputError,
        ["average", "mean"],
        id="zonal-unknown-statistic",
    ),
    pytest.param(
        lots_gdf,
        lambda p: p / "no_such_dem.tif",
        {},
        InputError,
        ["no_such_dem.tif"],
        id="zonal-missing-raster-file",
    ),
    pytest.param(
        lots_gdf,
        lambda p: (p / "dem.tif").write_text("not a raster") and p / "dem.tif",
        {},
        InputError,
        ["dem.tif"],
        id="zonal-raster-file-not-a-raster",
    ),
]


@pytest.mark.parametrize(("make_gdf", "make_raster", "kwargs", "error", "words"), ZONAL_ERRORS)
def test_zonal_stats_bad_input_raises_one_line_nmgeo_error(
    tmp_path, make_gdf, make_raster, kwargs, error, words
):
    gdf, raster = make_gdf(), make_raster(tmp_path)
    with pytest.raises(NmgeoError) as info:
        zonal_stats(gdf, raster, **kwargs)
    assert isinstance(info.value, error), repr(info.value)
    message = _one_line(info.value)
    for word in words:
        assert word.lower() in message.lower(), (word, message)


# --------------------------------------------------------------------------- CLI


def _invoke(tmp_path, command: str, source: Path, *extra: str):
    if command == "map":
        args = ["map", str(source), "--out", str(tmp_path / "out" / "x.html"), *extra]
    else:
        args = [
            "report",
            str(source),
            "--by",
            "land_use",
            "--out",
            str(tmp_path / "out" / "x.csv"),
            *extra,
        ]
    return CliRunner().invoke(main, args)


CLI_ERRORS = [
    # (builder, command, words in the error line)
    pytest.param(
        src_shp_without_prj, "map", ["no CRS", "--crs EPSG:2326"], id="cli-map-shp-without-prj"
    ),
    pytest.param(src_lat_lon_swapped, "packages", ["swapped"], id="cli-packages-lat-lon-swapped"),
    pytest.param(
        src_degrees_declared_hk80, "report", ["WGS84 degrees"], id="cli-report-degrees-as-2326"
    ),
    pytest.param(
        src_metres_declared_wgs84, "map", ["projected metres"], id="cli-map-metres-as-4326"
    ),
    pytest.param(src_london, "report", ["outside Hong Kong", "LDN-1"], id="cli-report-london"),
    pytest.param(src_truncated, "map", ["cannot read"], id="cli-map-truncated-geojson"),
    pytest.param(src_empty_file, "report", ["cannot read"], id="cli-report-empty-file"),
    pytest.param(src_points, "map", ["polygons", "PT-1"], id="cli-map-points"),
    pytest.param(src_null_geometry, "map", ["NULL-1"], id="cli-map-null-geometry"),
    pytest.param(src_one_point_ring, "report", ["cannot be decoded"], id="cli-report-point-ring"),
    pytest.param(src_latin1_geojson, "map", ["--encoding big5"], id="cli-map-latin1-geojson"),
    pytest.param(
        src_collection_without_polygon, "report", ["GeometryCollection"], id="cli-report-gc"
    ),
    pytest.param(src_missing_file, "map", ["does not exist"], id="cli-map-missing-file"),
    pytest.param(
        lambda p: write_shp(p, lots_gdf()),
        "report",
        ["land_use", "available"],
        id="cli-report-by-missing-column",
    ),
]


@pytest.mark.parametrize(("make", "command", "words"), CLI_ERRORS)
def test_cli_bad_input_is_one_error_line_and_exit_2(tmp_path, make, command, words):
    source = make(tmp_path)
    result = _invoke(tmp_path, command, source)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), repr(result.exception)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nmgeo: error:"), lines[0]
    assert sum(ln.startswith("nmgeo: error:") for ln in result.output.splitlines()) == 1
    for word in words:
        assert word.lower() in lines[0].lower(), (word, lines[0])
    assert not (tmp_path / "out" / "x.csv").exists()
    assert not (tmp_path / "out" / "x.html").exists()


def test_cli_report_counts_null_land_use_as_none(tmp_path):
    gdf = lots_gdf(ids=("A", "B", "C"), land_use=["residential", None, "residential"])
    path = tmp_path / "lots.gpkg"
    gdf.to_file(path, driver="GPKG", engine="pyogrio")
    result = _invoke(tmp_path, "report", path)
    assert result.exit_code == 0, result.output
    table = (tmp_path / "out" / "x.csv").read_text(encoding="utf-8")
    rows = {line.split(",")[0]: line for line in table.splitlines()[1:]}
    assert set(rows) == {"residential", "(none)"}, table


def test_cli_report_on_an_unclosed_ring_warns_and_succeeds(tmp_path, caplog):
    text = src_unclosed_ring(tmp_path).read_text(encoding="utf-8")
    path = tmp_path / "unclosed_lu.geojson"
    path.write_text(text.replace('{"id": "OPEN-1"}', '{"id": "OPEN-1", "land_use": "village"}'))
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        result = _invoke(tmp_path, "report", path)
    assert result.exit_code == 0, result.output
    assert len([m for m in _warnings(caplog) if "unclosed" in m and "'OPEN-1'" in m]) == 1
    table = (tmp_path / "out" / "x.csv").read_text(encoding="utf-8")
    assert table.splitlines()[1].startswith("village,")


def test_cli_report_on_a_repaired_bow_tie_warns_and_succeeds(tmp_path, caplog):
    path = write_geojson(
        tmp_path / "bow_lu.geojson",
        [
            (
                {"id": "BOW-1", "land_use": "village"},
                poly_json([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)]),
            ),
        ],
    )
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        result = _invoke(tmp_path, "report", path)
    assert result.exit_code == 0, result.output
    assert len([m for m in _warnings(caplog) if "repaired 1 invalid" in m]) == 1
    table = (tmp_path / "out" / "x.csv").read_text(encoding="utf-8")
    assert table.splitlines()[1].startswith("village,")
