"""read_zones on TPB's per-plan downloads: a folder, a glob pattern or a list of plan files.

TPB ships one file per Outline Zoning Plan (mostly Esri JSON, field case varying between
plans). Every expectation here comes from plain geopandas / pyogrio reads of the same
files, never from nmgeo's own output.
"""

from __future__ import annotations

import doctest
import logging
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import LineString, Polygon, box

import nmgeo
import nmgeo.io
from nmgeo.errors import GeometryTypeError, InputError, MissingCRSError, SchemaError

ROOT = Path(__file__).resolve().parents[1]
EXTRACT = Path(__file__).resolve().parent / "data" / "north"
FULL = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "north"
PLANS = sorted(EXTRACT.glob("*.json"))  # the five per-plan Esri JSON files

X0, Y0 = 826_000.0, 840_000.0


def _plain(paths: list[Path]) -> gpd.GeoDataFrame:
    """The plan files read one by one with geopandas and stacked, nothing else."""
    frames = [gpd.read_file(path, engine="pyogrio").assign(_file=path.name) for path in paths]
    return pd.concat(frames, ignore_index=True)


def _account(gdf: gpd.GeoDataFrame) -> dict:
    return gdf.attrs["nmgeo_account"]


def _copy(src: Path, dst: Path, *replace: tuple[str, str]) -> Path:
    """Copy a plan file as text, making the given replacements (an edited download)."""
    text = src.read_text(encoding="utf-8")
    for old, new in replace:
        assert old in text, f"{old!r} is not in {src.name}"
        text = text.replace(old, new)
    dst.write_text(text, encoding="utf-8")
    return dst


def _zones(labels, plan, x0=0.0, **extra) -> gpd.GeoDataFrame:
    """A small TPB-style zoning layer: one 100 m square per label, side by side."""
    geoms = [
        box(X0 + x0 + 100 * i, Y0, X0 + x0 + 100 * (i + 1), Y0 + 100) for i in range(len(labels))
    ]
    data = {"PLAN_NO": [plan] * len(labels), "ZONE_LABEL": list(labels), **extra}
    return gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:2326")


# --------------------------------------------------------------------------- the extract


def test_the_extract_folder_equals_its_plan_files_read_one_by_one():
    zones = nmgeo.read_zones(EXTRACT)
    plain = _plain(PLANS)

    assert len(zones) == len(plain)
    assert isinstance(zones.index, pd.RangeIndex) and zones.index.start == 0
    assert set(zones["plan_no"]) == set(plain["PLAN_NO"])
    assert zones.crs.to_epsg() == 2326
    total = plain.geometry.area.sum()
    assert zones.geometry.area.sum() == pytest.approx(total, rel=1e-9)
    # File order (sorted by name), then row order within each file.
    assert zones["source_file"].tolist() == plain["_file"].tolist()
    assert zones["zone_label"].tolist() == plain["ZONE_LABEL"].tolist()
    np.testing.assert_allclose(zones["Shape_Area"], plain["Shape_Area"])
    np.testing.assert_allclose(zones.geometry.area, plain.geometry.area, rtol=1e-9)

    account = _account(zones)
    assert account["n_files"] == len(PLANS)
    assert account["n_input"] == account["n_output"] == len(plain)
    assert [Path(f["source"]).name for f in account["files"]] == [p.name for p in PLANS]
    assert [f["n_input"] for f in account["files"]] == [
        pyogrio.read_info(p)["features"] for p in PLANS
    ]
    # The lot layer beside the plans is not zoning: skipped, and said so.
    assert [Path(s["file"]).name for s in account["skipped_files"]] == ["lots_dd95.gpkg"]
    assert account["plan_versions"] == [] and account["n_dropped_superseded"] == 0


def test_folder_pattern_and_list_read_the_same_frame():
    by_folder = nmgeo.read_zones(EXTRACT)
    by_pattern = nmgeo.read_zones(str(EXTRACT / "*.json"))
    by_list = nmgeo.read_zones([str(p) for p in PLANS])
    by_tuple = nmgeo.read_zones(tuple(PLANS))
    for other in (by_pattern, by_list, by_tuple):
        assert_geodataframe_equal(other, by_folder)
    assert _account(by_pattern)["source"] == str(EXTRACT / "*.json")


def test_a_file_met_twice_is_read_once():
    zones = nmgeo.read_zones([EXTRACT, PLANS[0]])
    assert len(zones) == len(_plain(PLANS))
    assert _account(zones)["plan_versions"] == []


def test_a_single_file_reads_as_before():
    one = nmgeo.read_zones(PLANS[1])
    plain = gpd.read_file(PLANS[1], engine="pyogrio")
    assert "source_file" not in one.columns
    assert one["zone_label"].tolist() == plain["ZONE_LABEL"].tolist()
    assert _account(one)["source"] == str(PLANS[1])
    assert _account(one)["n_files"] == 1


def test_every_plan_file_kind_in_a_folder_is_read(tmp_path, write_layer):
    """GeoJSON, GeoPackage, Shapefile, FlatGeobuf, GeoParquet and File Geodatabase plans."""
    formats = ["geojson", "gpkg", "shp", "fgb", "parquet", "gdb"]
    written = []
    for i, fmt in enumerate(formats):
        layer = _zones(["C", "G/IC"], f"S/P{i}/1", x0=300.0 * i)
        written.append((write_layer(layer, fmt, name=f"plan{i}"), layer))
    (tmp_path / "notes.txt").write_text("not a plan")
    (tmp_path / ".hidden.json").write_text("{not json")
    zones = nmgeo.read_zones(tmp_path)
    assert sorted(zones["plan_no"]) == sorted(p for _, layer in written for p in layer["PLAN_NO"])
    assert sorted(zones["source_file"].unique()) == sorted(path.name for path, _ in written)
    expected = sum(layer.geometry.area.sum() for _, layer in written)
    assert zones.geometry.area.sum() == pytest.approx(expected, rel=1e-9)


# --------------------------------------------------------------------------- field case


def test_fields_differing_in_case_between_plans_become_one_column(tmp_path):
    first = shutil.copy(PLANS[1], tmp_path / "A.json")  # Shape_Leng, Shape_Area
    second = _copy(
        PLANS[2],
        tmp_path / "B.json",
        ('"Shape_Leng"', '"SHAPE_Leng"'),
        ('"Shape_Area"', '"SHAPE_Area"'),
    )
    assert "SHAPE_Leng" in pyogrio.read_info(second)["fields"]
    zones = nmgeo.read_zones(tmp_path)

    lower = [c.lower() for c in zones.columns]
    assert lower.count("shape_leng") == 1 and lower.count("shape_area") == 1
    assert "Shape_Leng" in zones.columns  # spelt as in the first file
    a, b = gpd.read_file(first, engine="pyogrio"), gpd.read_file(second, engine="pyogrio")
    expected = np.concatenate([a["Shape_Leng"], b["SHAPE_Leng"]])
    np.testing.assert_allclose(zones["Shape_Leng"], expected)
    assert not zones["Shape_Leng"].isna().any()
    assert any("SHAPE_Leng read as Shape_Leng" in n for n in _account(zones)["notes"])

    # The plain pd.concat of the per-plan frames cannot be written; the merged frame can.
    concat = pd.concat([nmgeo.read_zones(first), nmgeo.read_zones(second)], ignore_index=True)
    with pytest.raises(SchemaError, match="SHAPE_Leng.*Shape_Leng"):
        nmgeo.write_geopackage(tmp_path / "concat.gpkg", zones=concat)
    out = nmgeo.write_geopackage(tmp_path / "zones.gpkg", zones=zones)
    back = pyogrio.read_dataframe(out, layer="zones")
    assert len(back) == len(a) + len(b)
    np.testing.assert_allclose(back["Shape_Leng"], expected)
    # TPB's FID restarts in every plan: written as a field, not taken as the feature id.
    assert back["FID"].tolist() == np.concatenate([a["FID"], b["FID"]]).tolist()


def test_one_file_with_columns_differing_only_in_case_is_refused(tmp_path):
    _zones(["C"], "S/A/1").to_file(tmp_path / "a.geojson", engine="pyogrio")
    clash = _zones(["O"], "S/B/1", x0=500.0, Area=[1.0], AREA=[2.0])
    clash.to_parquet(tmp_path / "b.parquet")
    with pytest.raises(SchemaError, match=r"b\.parquet.*'AREA', 'Area'.*columns="):
        nmgeo.read_zones(tmp_path)


# --------------------------------------------------------------------------- plan versions


@pytest.fixture
def versions(tmp_path) -> Path:
    """KTN in versions 4 (KTN.json) and 3 (A-old-KTN.json, sorted first), LMCL saved twice."""
    ktn, lmcl = EXTRACT / "KTN.json", EXTRACT / "LMCL.json"
    shutil.copy(ktn, tmp_path / "KTN.json")
    _copy(ktn, tmp_path / "A-old-KTN.json", ('"S/KTN/4"', '"S/KTN/3"'))
    shutil.copy(lmcl, tmp_path / "LMCL.json")
    shutil.copy(lmcl, tmp_path / "LMCL copy.json")
    return tmp_path


def test_plan_versions_latest_keeps_the_highest_version_and_says_so(versions, caplog):
    plain = _plain(sorted(versions.glob("*.json")))
    first_lmcl = sorted(p.name for p in versions.glob("LMCL*.json"))[0]
    expected = plain[(plain["PLAN_NO"] == "S/KTN/4") | (plain["_file"] == first_lmcl)]

    with caplog.at_level(logging.WARNING, logger="nmgeo.io"):
        zones = nmgeo.read_zones(versions)  # the default: plan_versions="latest"
    assert zones["source_file"].tolist() == expected["_file"].tolist()
    assert zones["zone_label"].tolist() == expected["ZONE_LABEL"].tolist()
    assert zones.geometry.area.sum() == pytest.approx(expected.geometry.area.sum(), rel=1e-9)

    warned = [r.getMessage() for r in caplog.records if "copies" in r.getMessage()]
    assert len(warned) == 2
    assert "S/KTN/3" in warned[0] and "S/KTN/4" in warned[0] and "A-old-KTN.json" in warned[0]
    assert "LMCL copy.json" in warned[1] and "LMCL.json" in warned[1]

    account = _account(zones)
    n_dropped = len(plain) - len(expected)
    assert account["n_dropped_superseded"] == n_dropped
    assert account["n_input"] == len(plain) and account["n_output"] == len(expected)
    entries = {e["family"]: e for e in account["plan_versions"]}
    assert sorted(entries) == ["S/KTN", "S/LMCL"]
    assert sorted(entries["S/KTN"]["plan_nos"]) == ["S/KTN/3", "S/KTN/4"]
    assert entries["S/KTN"]["kept"] == ["S/KTN/4 (KTN.json)"]
    assert entries["S/KTN"]["n_dropped"] == (plain["PLAN_NO"] == "S/KTN/3").sum()
    assert entries["S/LMCL"]["files"] == sorted(p.name for p in versions.glob("LMCL*.json"))


def test_plan_versions_all_keeps_every_copy(versions, caplog):
    plain = _plain(sorted(versions.glob("*.json")))
    with caplog.at_level(logging.WARNING, logger="nmgeo.io"):
        zones = nmgeo.read_zones(versions, plan_versions="all")
    assert zones["source_file"].tolist() == plain["_file"].tolist()
    assert sum("copies" in r.getMessage() for r in caplog.records) == 2
    account = _account(zones)
    assert account["n_dropped_superseded"] == 0 and len(account["plan_versions"]) == 2


def test_plan_versions_raise_refuses(versions):
    with pytest.raises(InputError, match=r"S/KTN.*A-old-KTN\.json.*plan_versions="):
        nmgeo.read_zones(versions, plan_versions="raise")
    with pytest.raises(InputError, match="plan_versions='newest'"):
        nmgeo.read_zones(versions, plan_versions="newest")


def test_versions_compare_as_numbers_within_one_frame():
    """S/X/10 supersedes S/X/9 (not the other way round, as text would have it)."""
    frame = pd.concat(
        [
            _zones(["C", "O"], "S/X/9"),
            _zones(["R(A)"], "S/X/10", x0=500.0),
            _zones(["GB"], None, x0=900.0),
        ],
        ignore_index=True,
    )
    zones = nmgeo.read_zones(frame)
    assert zones["plan_no"].tolist() == ["S/X/10", None]
    assert _account(zones)["n_dropped_superseded"] == 2
    assert len(nmgeo.read_zones(frame, plan_versions="all")) == len(frame)


# --------------------------------------------------------------------------- per-file checks


def test_options_and_checks_apply_per_file_and_the_account_names_the_file(tmp_path):
    good = _zones(["C", "O"], "S/A/1")
    bowtie = Polygon([(X0, Y0 + 500), (X0 + 100, Y0 + 600), (X0 + 100, Y0 + 500), (X0, Y0 + 600)])
    bad = gpd.GeoDataFrame(
        {"PLAN_NO": ["S/B/1"] * 3, "ZONE_LABEL": ["G/IC", "V", "AGR"]},
        geometry=[box(X0 + 600, Y0, X0 + 700, Y0 + 100), bowtie, Polygon()],
        crs="EPSG:2326",
    )
    good.to_file(tmp_path / "a.geojson", engine="pyogrio")
    bad.to_file(tmp_path / "b.gpkg", engine="pyogrio")

    zones = nmgeo.read_zones(tmp_path, on_invalid="drop")
    assert zones["zone_label"].tolist() == ["C", "O", "G/IC", "V"]
    account = _account(zones)
    assert account["n_input"] == 5 and account["n_output"] == 4
    assert account["n_dropped_empty"] == 1 and account["n_repaired"] == 1
    assert account["dropped_ids"] == ["b.gpkg:2"]
    assert [f["n_dropped_empty"] for f in account["files"]] == [0, 1]

    with pytest.raises(nmgeo.errors.EmptyGeometryError, match=r"b\.gpkg"):
        nmgeo.read_zones(tmp_path)  # on_invalid="repair" refuses the empty zone, naming the file


def test_errors_name_the_file(tmp_path):
    _zones(["C"], "S/A/1").to_file(tmp_path / "a.geojson", engine="pyogrio")
    lines = gpd.GeoDataFrame(
        {"PLAN_NO": ["S/B/1"], "ZONE_LABEL": ["C"]},
        geometry=[LineString([(X0, Y0), (X0 + 50, Y0 + 50)])],
        crs="EPSG:2326",
    )
    lines.to_file(tmp_path / "b.geojson", engine="pyogrio")
    with pytest.raises(GeometryTypeError, match=r"b\.geojson"):
        nmgeo.read_zones(tmp_path)

    (tmp_path / "b.geojson").write_text("{ this is not json")
    with pytest.raises(InputError, match=r"b\.geojson"):
        nmgeo.read_zones(tmp_path)


def test_crs_is_given_per_file(tmp_path):
    _zones(["C"], "S/A/1").to_file(tmp_path / "a.geojson", engine="pyogrio")
    _zones(["O"], "S/B/1", x0=500.0).set_crs(None, allow_override=True).to_parquet(
        tmp_path / "b.parquet"
    )
    with pytest.raises(MissingCRSError, match=r"b\.parquet"):
        nmgeo.read_zones(tmp_path)
    zones = nmgeo.read_zones(tmp_path, crs="EPSG:2326")
    assert zones["plan_no"].tolist() == ["S/A/1", "S/B/1"]


def test_a_listed_file_must_be_zoning_but_a_found_one_is_skipped(tmp_path, caplog):
    _zones(["C"], "S/A/1").to_file(tmp_path / "a.geojson", engine="pyogrio")
    heights = gpd.GeoDataFrame(
        {"BHC_TYPE": ["BHCB"], "BHC_VALUE": [100]},
        geometry=[box(X0, Y0, X0 + 10, Y0 + 10)],
        crs="EPSG:2326",
    )
    heights.to_file(tmp_path / "bhc.geojson", engine="pyogrio")
    with caplog.at_level(logging.WARNING, logger="nmgeo.io"):
        zones = nmgeo.read_zones(tmp_path)
    assert len(zones) == 1
    assert any("bhc.geojson" in r.getMessage() for r in caplog.records)
    assert "bhc.geojson" in _account(zones)["skipped_files"][0]["file"]
    with pytest.raises(SchemaError, match=r"bhc\.geojson.*ZONE_LABEL"):
        nmgeo.read_zones([tmp_path / "a.geojson", tmp_path / "bhc.geojson"])
    (tmp_path / "a.geojson").unlink()
    with pytest.raises(SchemaError, match="none of its 1 files"):
        nmgeo.read_zones(tmp_path)


def test_repeated_file_names_keep_their_folder(tmp_path):
    for i, plan in enumerate(["S/A/1", "S/B/1"]):
        (tmp_path / f"plan{i}").mkdir()
        _zones(["C"], plan, x0=500.0 * i).to_file(
            tmp_path / f"plan{i}" / "ZONE.json", driver="GeoJSON", engine="pyogrio"
        )
    zones = nmgeo.read_zones(str(tmp_path / "*" / "ZONE.json"))
    assert zones["source_file"].tolist() == ["plan0/ZONE.json", "plan1/ZONE.json"]


# --------------------------------------------------------------------------- bad sources


def test_nothing_to_read_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match=f"folder {tmp_path} is empty"):
        nmgeo.read_zones(tmp_path)
    pattern = str(tmp_path / "*.json")
    with pytest.raises(InputError, match=r"the pattern .*\*\.json.* matches no plan files"):
        nmgeo.read_zones(pattern)
    (tmp_path / "README.md").write_text("plans")
    (tmp_path / "KTN.zip").write_bytes(b"PK")
    with pytest.raises(InputError, match="holds no plan files.*unzip"):
        nmgeo.read_zones(tmp_path)
    with pytest.raises(InputError, match="empty list"):
        nmgeo.read_zones([])
    with pytest.raises(InputError, match="not GeoDataFrame"):
        nmgeo.read_zones([_zones(["C"], "S/A/1")])
    with pytest.raises(InputError, match="file not found"):
        nmgeo.read_zones([tmp_path / "missing.json"])


# --------------------------------------------------------------------------- the full data


def test_the_full_shared_folder_reads_in_one_call():
    folder = FULL / "zones"
    if not folder.is_dir():
        pytest.skip("the full North data (shared/realdata/north beside the checkout) is absent")
    files = sorted(folder.glob("*.json"))
    plain = _plain(files)
    zones = nmgeo.read_zones(folder)

    assert len(files) == 24 and len(zones) == len(plain) == 939
    assert set(zones["plan_no"]) == set(plain["PLAN_NO"]) and zones["plan_no"].nunique() == 24
    assert zones.geometry.area.sum() == pytest.approx(plain.geometry.area.sum(), rel=1e-9)
    assert zones["source_file"].tolist() == plain["_file"].tolist()
    # FSSE.json spells SHAPE_Leng / SHAPE_Area, the others Shape_Leng / Shape_Area.
    lower = [c.lower() for c in zones.columns]
    assert lower.count("shape_leng") == 1 and lower.count("shape_area") == 1
    leng = next(c for c in zones.columns if c.lower() == "shape_leng")
    expected = plain["Shape_Leng"].fillna(plain["SHAPE_Leng"])
    np.testing.assert_allclose(zones[leng], expected)
    assert _account(zones)["n_files"] == 24


# --------------------------------------------------------------------------- docs


def test_the_io_docstring_examples_run(monkeypatch):
    """The Examples of read_zones and write_geopackage (and io's others) run as shown."""
    monkeypatch.chdir(ROOT)  # they read the extract as tests/data/north
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(nmgeo.io) if t.examples]
    names = {t.name.rsplit(".", 1)[-1] for t in tests}
    assert {"read_zones", "write_geopackage"} <= names
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring examples failed in nmgeo.io"
