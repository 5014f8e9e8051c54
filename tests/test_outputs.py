"""Outputs never replace inputs: every writer refuses a file nmgeo read in this session."""

from __future__ import annotations

import hashlib
import os

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from geotiff import write_geotiff

from nmgeo import (
    read_parcels,
    read_zones,
    slope_raster,
    write_geopackage,
    write_raster,
    write_report,
)
from nmgeo.errors import NmgeoError, OutputError
from nmgeo.raster import distance_raster

E0, N0 = 830_000.0, 835_000.0


def _lots() -> gpd.GeoDataFrame:
    boxes = [shapely.box(E0 + 20 * i, N0, E0 + 20 * i + 20, N0 + 30) for i in range(3)]
    return gpd.GeoDataFrame(
        {"LOTID": ["A", "B", "C"], "land_use": ["commercial"] * 3}, geometry=boxes, crs=2326
    )


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dem(path):
    values = np.arange(48, dtype="float32").reshape(6, 8)
    return write_geotiff(path, values, Affine(10.0, 0.0, E0, 0.0, -10.0, N0 + 60))


def test_output_error_is_an_nmgeo_error():
    assert issubclass(OutputError, NmgeoError)


def test_write_geopackage_refuses_the_parcel_file_it_read(tmp_path):
    path = tmp_path / "lots.gpkg"
    _lots().to_file(path, layer="lots", engine="pyogrio")
    before = _digest(path)
    parcels = read_parcels(path)
    with pytest.raises(OutputError, match="lots.gpkg.*read as an input"):
        write_geopackage(path, parcels=parcels)
    assert _digest(path) == before
    # Another name in the same folder is fine.
    out = write_geopackage(tmp_path / "lots_out.gpkg", parcels=parcels)
    assert out.exists()


def test_write_geopackage_refuses_a_zone_file_through_another_spelling(tmp_path):
    zones = gpd.GeoDataFrame(
        {"ZONE_LABEL": ["C"]}, geometry=[shapely.box(E0, N0, E0 + 100, N0 + 100)], crs=2326
    )
    path = tmp_path / "zones.gpkg"
    zones.to_file(path, engine="pyogrio")
    read_zones(path)
    (tmp_path / "sub").mkdir()
    alias = tmp_path / "sub" / ".." / "zones.gpkg"
    with pytest.raises(OutputError):
        write_geopackage(alias, zones=zones)
    link = tmp_path / "link.gpkg"
    os.symlink(path, link)
    with pytest.raises(OutputError):
        write_geopackage(link, zones=zones)


def test_write_report_refuses_before_writing_anything(tmp_path):
    lots = tmp_path / "lots.gpkg"
    _lots().to_file(lots, engine="pyogrio")
    read_parcels(lots)
    # A hard link makes the report's Markdown file the very same file as the input.
    os.link(lots, tmp_path / "report.md")
    table = pd.DataFrame({"package_id": ["P001"], "area_ha": [2.5]})
    with pytest.raises(OutputError, match="write_report"):
        write_report({"packages": table}, tmp_path / "report")
    assert not (tmp_path / "report.xlsx").exists()
    assert not (tmp_path / "report_packages.csv").exists()
    written = write_report({"packages": table}, tmp_path / "report", formats=["csv", "html"])
    assert set(written) == {"csv:packages", "html"}


def test_slope_raster_refuses_to_write_over_its_dem(tmp_path):
    dem = _dem(tmp_path / "dem.tif")
    before = _digest(dem)
    with pytest.raises(OutputError, match="write_raster"):
        write_raster(slope_raster(dem), dem)
    assert _digest(dem) == before
    assert write_raster(slope_raster(dem), tmp_path / "slope.tif").exists()


def test_distance_raster_refuses_to_write_over_its_template(tmp_path):
    like = _dem(tmp_path / "like.tif")
    points = gpd.GeoDataFrame(geometry=[shapely.Point(E0 + 5, N0 + 5)], crs=2326)
    with pytest.raises(OutputError, match="write_raster"):
        write_raster(distance_raster(points, like=like), like)


def test_a_new_file_on_a_reused_inode_is_not_refused(tmp_path):
    path = tmp_path / "once.gpkg"
    _lots().to_file(path, engine="pyogrio")
    read_parcels(path)
    path.unlink()
    # Same name again: still refused, by path, even though it is a new file.
    with pytest.raises(OutputError):
        write_geopackage(path, parcels=_lots())
    # A different name is never refused, whatever inode the file system hands out.
    for i in range(5):
        write_geopackage(tmp_path / f"fresh{i}.gpkg", parcels=_lots())


def test_the_cli_refuses_an_output_that_is_a_hard_link_to_its_input(tmp_path):
    from click.testing import CliRunner

    from nmgeo.cli import main

    lots = tmp_path / "lots.gpkg"
    _lots().to_file(lots, engine="pyogrio")
    os.link(lots, tmp_path / "areas.csv")
    before = _digest(lots)
    result = CliRunner().invoke(main, ["report", str(lots), "--out", str(tmp_path / "areas.csv")])
    assert result.exit_code == 2
    assert "is the input file" in result.output and "choose another --out" in result.output
    assert _digest(lots) == before
    assert not (tmp_path / "areas.manifest.json").exists()
