"""Every file the library writes is whole or absent: an error or a kill mid-write leaves
the previous file as it was and no temporary file behind."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import branca.element
import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import rasterio.io
from affine import Affine
from shapely.geometry import Point, box

import nmgeo
from nmgeo._manifest import Run
from nmgeo._outputs import TMP_PREFIX, replacing, write_atomic
from nmgeo.datasets import write_dem

X0, Y0 = 833_000.0, 840_000.0


class Boom(RuntimeError):
    """The failure a test injects late in a write."""


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _no_temporaries(folder: Path) -> None:
    left = [p.name for p in folder.iterdir() if TMP_PREFIX in p.name or p.name.startswith(".")]
    assert left == []


def _tables() -> dict[str, pd.DataFrame]:
    return {
        "packages": pd.DataFrame({"package_id": ["P1", "P2"], "area_ha": [1.5, 2.25]}),
        "areas": pd.DataFrame({"land_use": ["commercial"], "area_ha": [3.75]}),
    }


# --------------------------------------------------------------------------- write_report


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "md", "html"])
def test_a_failed_report_leaves_the_previous_files(tmp_path, monkeypatch, fmt):
    nmgeo.write_report(_tables(), tmp_path / "report", formats=[fmt], title="first")
    before = _snapshot(tmp_path)
    assert before

    # The writer gets as far as the last table (or the whole text), then fails.
    if fmt == "csv":
        original = pd.DataFrame.to_csv

        def late(self, path, *a, **k):
            original(self, path, *a, **k)
            if "land_use" in self.columns:
                raise Boom
            return None

        monkeypatch.setattr(pd.DataFrame, "to_csv", late)
    elif fmt == "xlsx":
        original = pd.DataFrame.to_excel

        def late(self, writer, *a, sheet_name="Sheet1", **k):
            original(self, writer, *a, sheet_name=sheet_name, **k)
            if sheet_name == "areas":
                raise Boom

        monkeypatch.setattr(pd.DataFrame, "to_excel", late)
    else:

        def half(self, data, *a, **k):
            raw = data.encode() if isinstance(data, str) else data
            with open(self, "wb") as fh:
                fh.write(raw[: len(raw) // 2])
            raise OSError(errno.ENOSPC, "No space left on device", str(self))

        monkeypatch.setattr(Path, "write_text", half)
        monkeypatch.setattr(Path, "write_bytes", half)
    changed = _tables()
    changed["packages"] = changed["packages"].assign(area_ha=[9.0, 9.0])
    with pytest.raises((Boom, OSError)):
        nmgeo.write_report(changed, tmp_path / "report", formats=[fmt], title="second")
    assert _snapshot(tmp_path) == before
    _no_temporaries(tmp_path)


def test_report_files_keep_the_users_permissions(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    written = nmgeo.write_report(_tables(), tmp_path / "report", formats=["md"])
    mode = stat.S_IMODE(written["md"].stat().st_mode)
    assert mode == stat.S_IMODE(plain.stat().st_mode)


# --------------------------------------------------------------------------- maps


def _tiny_result() -> nmgeo.PackageResult:
    zones = gpd.GeoDataFrame(
        {"zone_label": ["C", "G/IC"], "plan_no": ["S/T/1"] * 2},
        geometry=[box(X0, Y0, X0 + 100, Y0 + 100), box(X0 + 100, Y0, X0 + 200, Y0 + 100)],
        crs="EPSG:2326",
    )
    return nmgeo.build_packages(nmgeo.read_zones(zones), min_area_ha=0.1)


def test_a_failed_map_render_leaves_the_previous_page(tmp_path, monkeypatch):
    page = tmp_path / "map.html"
    fmap = nmgeo.package_map(_tiny_result())
    fmap.save(page)
    before = page.read_bytes()
    assert b"<html" in before.lower()

    def broken(self, **kwargs):
        raise Boom

    monkeypatch.setattr(branca.element.Figure, "render", broken)
    with pytest.raises(Boom):
        nmgeo.package_map(_tiny_result()).save(page)
    assert page.read_bytes() == before
    _no_temporaries(tmp_path)


def test_a_map_still_saves_into_an_open_file(tmp_path):
    fmap = nmgeo.parcel_map(_tiny_result().packages, color_by="area_ha")
    with open(tmp_path / "m.html", "wb") as fh:
        fmap.save(fh, close_file=False)
    assert b"leaflet" in (tmp_path / "m.html").read_bytes().lower()


# --------------------------------------------------------------------------- rasters


def _dem(path: Path) -> Path:
    z = np.add.outer(np.arange(20.0), np.arange(30.0))
    return write_dem(z, Affine(10, 0, X0, 0, -10, Y0 + 200), path)


def _fail_tags(monkeypatch):
    def broken(self, *a, **k):
        raise Boom

    monkeypatch.setattr(rasterio.io.DatasetWriter, "update_tags", broken)


def test_a_failed_slope_raster_leaves_the_previous_file(tmp_path, monkeypatch):
    dem = _dem(tmp_path / "dem.tif")
    out = nmgeo.write_raster(nmgeo.slope_raster(dem), tmp_path / "slope.tif")
    before = _snapshot(tmp_path)
    _fail_tags(monkeypatch)
    with pytest.raises(Boom):
        nmgeo.write_raster(nmgeo.slope_raster(dem), out)
    assert _snapshot(tmp_path) == before
    _no_temporaries(tmp_path)
    with rasterio.open(out) as src:
        assert src.tags()["quantity"] == "slope"


def test_a_failed_distance_raster_leaves_the_previous_file(tmp_path, monkeypatch):
    targets = gpd.GeoDataFrame(geometry=[Point(X0 + 50, Y0 + 50)], crs="EPSG:2326")
    bounds = (X0, Y0, X0 + 500, Y0 + 400)
    first = nmgeo.distance_raster(targets, bounds=bounds, resolution=50)
    out = nmgeo.write_raster(first, tmp_path / "d.tif")
    before = _snapshot(tmp_path)
    _fail_tags(monkeypatch)
    with pytest.raises(Boom):
        nmgeo.write_raster(nmgeo.distance_raster(targets, bounds=bounds, resolution=25), out)
    assert _snapshot(tmp_path) == before
    _no_temporaries(tmp_path)


# --------------------------------------------------------------------------- GeoPackage, manifest


def test_a_failed_geopackage_write_leaves_the_previous_file(tmp_path, monkeypatch):
    first = gpd.GeoDataFrame({"a": [1]}, geometry=[box(X0, Y0, X0 + 1, Y0 + 1)], crs=2326)
    out = nmgeo.write_geopackage(tmp_path / "nm.gpkg", first=first)
    before = _snapshot(tmp_path)
    original = gpd.GeoDataFrame.to_file

    def late(self, path, *a, layer=None, **k):
        original(self, path, *a, layer=layer, **k)
        if layer == "second":
            raise Boom

    monkeypatch.setattr(gpd.GeoDataFrame, "to_file", late)
    with pytest.raises(Boom):
        nmgeo.write_geopackage(out, first=first.assign(a=[2]), second=first)
    assert _snapshot(tmp_path) == before
    _no_temporaries(tmp_path)
    assert pyogrio.list_layers(out)[:, 0].tolist() == ["first"]


def test_a_failed_manifest_write_leaves_the_previous_manifest(tmp_path, monkeypatch):
    path = tmp_path / "manifest.json"
    Run("first", {}).write(path)
    before = path.read_bytes()

    def half(self, data, *a, **k):
        with open(self, "wb") as fh:
            fh.write(data[:10] if isinstance(data, bytes) else data[:10].encode())
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_text", half)
    monkeypatch.setattr(Path, "write_bytes", half)
    with pytest.raises(OSError):
        Run("second", {}).write(path)
    assert path.read_bytes() == before
    assert json.loads(before)["command"] == "first"
    _no_temporaries(tmp_path)


# --------------------------------------------------------------------------- the helper


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    # A process that was SIGKILLed inside `replacing` leaves its temporary file behind.
    target = tmp_path / "report.md"
    code = (
        "import os, signal, sys\n"
        "from nmgeo._outputs import replacing\n"
        "with replacing(sys.argv[1]) as tmp:\n"
        "    tmp.write_text('half')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    target.write_text("previous")
    proc = subprocess.run([sys.executable, "-c", code, str(target)], check=False)
    assert proc.returncode == -9
    left = [p for p in tmp_path.iterdir() if TMP_PREFIX in p.name]
    assert len(left) == 1
    assert target.read_text() == "previous"
    write_atomic(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_a_live_writers_temporary_is_left_alone(tmp_path):
    target = tmp_path / "a.csv"
    with replacing(target) as outer:
        outer.write_text("outer")
        write_atomic(target, "inner")  # same process: its own temporary survives
        assert outer.exists()
    assert target.read_text() == "outer"


def test_a_folder_in_the_way_is_named(tmp_path):
    (tmp_path / "report.md").mkdir()
    with pytest.raises(IsADirectoryError) as err:
        write_atomic(tmp_path / "report.md", "x")
    assert err.value.filename == str(tmp_path / "report.md")
    assert not [p for p in tmp_path.iterdir() if TMP_PREFIX in p.name]


def test_the_temporary_keeps_the_suffix_and_lies_beside_the_target(tmp_path):
    with replacing(tmp_path / "sub" / "x.gpkg", create=False) as tmp:
        assert tmp.parent == tmp_path / "sub"
        assert tmp.suffix == ".gpkg"
        assert not tmp.exists()
        tmp.write_bytes(b"1")
    assert (tmp_path / "sub" / "x.gpkg").read_bytes() == b"1"
    assert os.listdir(tmp_path / "sub") == ["x.gpkg"]


# --------------------------------------------------------------------------- sets, all or none


def _dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(proc.stdout)


def test_a_move_that_fails_midway_puts_the_previous_files_back(tmp_path, monkeypatch):
    nmgeo.write_report(_tables(), tmp_path / "report", title="first")
    before = _snapshot(tmp_path)
    real = os.replace
    calls = []

    def flaky(src, dst, *a, **k):
        calls.append(dst)
        if len(calls) == 3 and TMP_PREFIX in str(src) and ".bak" not in str(src):
            raise PermissionError(errno.EPERM, "Operation not permitted", str(src))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(PermissionError) as err:
        nmgeo.write_report(_tables(), tmp_path / "report", title="second")
    assert TMP_PREFIX not in err.value.filename  # the target is named, not the temporary
    assert err.value.filename.startswith(str(tmp_path / "report"))
    assert _snapshot(tmp_path) == before
    _no_temporaries(tmp_path)


def test_an_immutable_file_in_the_set_leaves_the_whole_set_as_it_was(tmp_path):
    nmgeo.write_report(_tables(), tmp_path / "report", title="first")
    before = _snapshot(tmp_path)
    locked = tmp_path / "report.md"
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        with pytest.raises(PermissionError) as err:
            nmgeo.write_report(_tables(), tmp_path / "report", title="second")
        assert err.value.filename == str(locked)
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True)
    assert _snapshot(tmp_path) == before
    _no_temporaries(tmp_path)


def test_an_os_error_without_a_file_name_names_the_target(tmp_path, monkeypatch):
    def full(self, data, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")  # no filename, as write() gives

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(OSError) as err:
        write_atomic(tmp_path / "a.md", "x")
    assert err.value.filename == str(tmp_path / "a.md")


def test_a_full_disk_under_the_geopackage_driver_is_an_os_error_naming_the_file(
    tmp_path, monkeypatch
):
    def full(self, path, *a, **k):
        raise pyogrio.errors.FeatureError("failed to write feature 3: database or disk is full")

    monkeypatch.setattr(gpd.GeoDataFrame, "to_file", full)
    frame = gpd.GeoDataFrame({"a": [1]}, geometry=[box(X0, Y0, X0 + 1, Y0 + 1)], crs=2326)
    with pytest.raises(OSError) as err:
        nmgeo.write_geopackage(tmp_path / "nm.gpkg", lots=frame)
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(tmp_path / "nm.gpkg")
    _no_temporaries(tmp_path)


def test_a_fifo_in_place_of_the_geopackage_is_replaced_not_read(tmp_path):
    fifo = tmp_path / "nm.gpkg"
    os.mkfifo(fifo)
    code = (
        "import sys, geopandas as gpd, nmgeo\n"
        "from shapely.geometry import box\n"
        f"g = [box({X0}, {Y0}, {X0 + 1}, {Y0 + 1})]\n"
        "f = gpd.GeoDataFrame({'a': [1]}, geometry=g, crs=2326)\n"
        "nmgeo.write_geopackage(sys.argv[1], lots=f)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(fifo)], timeout=60, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert fifo.is_file() and len(pyogrio.read_dataframe(fifo)) == 1


def test_names_as_long_as_the_file_system_allows_can_be_written(tmp_path):
    target = tmp_path / ("c" * 250 + ".md")
    write_atomic(target, "long")
    assert target.read_text() == "long"
    nmgeo.write_report(_tables(), tmp_path / ("r" * 200), formats=["md", "csv"])
    _no_temporaries(tmp_path)


def test_the_sidecars_of_a_killed_geopackage_write_are_swept(tmp_path):
    pid = _dead_pid()
    left = [
        tmp_path / f"{TMP_PREFIX}{pid}-abcd1234.gpkg",
        tmp_path / f"{TMP_PREFIX}{pid}-abcd1234.gpkg-journal",
        tmp_path / f"{TMP_PREFIX}{pid}-abcd1234.gpkg.tmp_rtree_lots.db",
        tmp_path / f"{TMP_PREFIX}{pid}-abcd1234.bak",
    ]
    for path in left:
        path.write_bytes(b"x")
    frame = gpd.GeoDataFrame({"a": [1]}, geometry=[box(X0, Y0, X0 + 1, Y0 + 1)], crs=2326)
    nmgeo.write_geopackage(tmp_path / "other.gpkg", lots=frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.gpkg"]


def test_user_files_that_look_like_temporaries_are_never_removed(tmp_path):
    mine = [tmp_path / f"{TMP_PREFIX}{_dead_pid()}-abcd.csv", tmp_path / ".nmgeo-tmp-notes.txt"]
    for path in mine:
        path.write_text("mine")
    folder = tmp_path / f".nmgeo-stage-{_dead_pid()}-deadbeef"  # no marker: not nmgeo's
    folder.mkdir()
    (folder / "thesis.docx").write_text("precious")
    nmgeo.write_report(_tables(), tmp_path / "r", formats=["csv"])
    assert all(p.read_text() == "mine" for p in mine)
    assert (folder / "thesis.docx").read_text() == "precious"


def test_two_threads_writing_one_report_leave_one_whole_set(tmp_path):
    import threading

    def write(i: int) -> None:
        table = pd.DataFrame({"v": [f"run{i}"]})
        nmgeo.write_report({"t": table}, tmp_path / "r", formats=("csv", "md"))

    for round_ in range(10):
        threads = [threading.Thread(target=write, args=(10 * round_ + k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        run = (tmp_path / "r_t.csv").read_text().split()[1]
        assert run in (tmp_path / "r.md").read_text()


def test_a_map_is_not_saved_over_an_input(tmp_path):
    path = tmp_path / "lots.gpkg"
    gpd.GeoDataFrame(
        {"LOTID": ["A"], "land_use": ["commercial"]},
        geometry=[box(X0, Y0, X0 + 10, Y0 + 10)],
        crs=2326,
    ).to_file(path, engine="pyogrio")
    lots = nmgeo.read_parcels(path)
    before = path.read_bytes()
    with pytest.raises(nmgeo.errors.OutputError, match="read as an input"):
        nmgeo.parcel_map(lots, tiles=None).save(path)
    assert path.read_bytes() == before


def test_zoned_datetimes_and_bytes_are_written_as_text(tmp_path):
    table = pd.DataFrame(
        {"when": [pd.Timestamp("2024-01-01", tz="Asia/Hong_Kong")], "b": [b"=1+1"]}
    )
    written = nmgeo.write_report({"t": table}, tmp_path / "r")
    assert pd.read_csv(written["csv:t"]).iloc[0].tolist() == ["2024-01-01T00:00:00+08:00", "'=1+1"]
