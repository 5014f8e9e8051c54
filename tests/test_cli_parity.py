"""The command line can do what the library's messages suggest, names its own flags, and
treats an empty result as a result."""

from __future__ import annotations

import datetime
import json

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from shapely.geometry import Polygon, box

import nmgeo
from nmgeo.cli import _as_flags, main

X0, Y0 = 833_000.0, 840_000.0


def _lots(n: int = 6) -> gpd.GeoDataFrame:
    """A row of 40 m x 40 m lots."""
    return gpd.GeoDataFrame(
        {"LOTID": [f"L{i}" for i in range(n)]},
        geometry=[box(X0 + 50 * i, Y0, X0 + 50 * i + 40, Y0 + 40) for i in range(n)],
        crs="EPSG:2326",
    )


def _zones(*labels: str) -> gpd.GeoDataFrame:
    """One 300 m x 100 m zone per label, side by side, 10 m apart."""
    return gpd.GeoDataFrame(
        {"ZONE_LABEL": list(labels), "PLAN_NO": ["S/TEST/1"] * len(labels)},
        geometry=[
            box(X0 - 10 + 310 * i, Y0 - 30, X0 + 290 + 310 * i, Y0 + 70)
            for i in range(len(labels))
        ],
        crs="EPSG:2326",
    )


def _error_line(result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.stderr
    return lines[0]


# --------------------------------------------------------------------------- messages


@pytest.mark.parametrize(
    ("role", "text", "expected"),
    [
        ("lots", "pass on_invalid='drop' to drop them", "pass --on-invalid drop to drop them"),
        ("lots", "e.g. encoding='big5' for Chinese", "e.g. --encoding big5 for Chinese"),
        ("lots", "pass crs='EPSG:2326' (HK1980 Grid)", "pass --crs EPSG:2326 (HK1980 Grid)"),
        ("lots", "pass layer=... to pick one", "pass --layer ... to pick one"),
        ("zones", "pass layer=... to pick one", "pass --zones-layer ... to pick one"),
        (
            "zones",
            "name it with columns={'YourCol': 'zone_label'}.",
            "name it with --zones-columns YourCol=zone_label.",
        ),
        ("lots", "(pass multipart='separate' to", "(pass --multipart separate to"),
        ("lots", "id_column='X' is not in the layer", "--id-column X is not in the layer"),
    ],
)
def test_library_keywords_become_the_commands_flags(role, text, expected):
    assert _as_flags(text, role) == expected


def test_an_invalid_lot_under_on_invalid_raise_names_the_flag_that_repairs_it(tmp_path):
    lots = _lots()
    bowtie = Polygon([(X0, Y0 + 200), (X0 + 40, Y0 + 240), (X0 + 40, Y0 + 200), (X0, Y0 + 240)])
    lots.loc[len(lots)] = ["BAD", bowtie]
    path = tmp_path / "lots.gpkg"
    lots.to_file(path, engine="pyogrio")
    out = tmp_path / "near.csv"
    args = ["proximity", str(path), "--out", str(out)]
    runner = CliRunner()
    line = _error_line(runner.invoke(main, [*args, "--on-invalid", "raise"]))
    assert "--on-invalid repair" in line
    assert "on_invalid=" not in line
    # The flags do what the library's keywords do.
    for flag in ("repair", "drop"):
        run = runner.invoke(main, ["-q", *args, "--on-invalid", flag])
        assert run.exit_code == 0, run.output
        direct = nmgeo.read_parcels(path, on_invalid=flag)
        assert list(pd.read_csv(out)["parcel_id"]) == list(direct["parcel_id"])


def test_a_layer_without_crs_is_read_with_the_crs_flag(tmp_path):
    path = tmp_path / "lots.shp"
    pyogrio.write_dataframe(_lots(), path)
    path.with_suffix(".prj").unlink()
    assert pyogrio.read_info(path)["crs"] is None
    out = tmp_path / "near.csv"
    args = ["proximity", str(path), "--out", str(out)]
    runner = CliRunner()
    line = _error_line(runner.invoke(main, args))
    assert "--crs EPSG:2326" in line and "crs=" not in line
    ok = runner.invoke(main, ["-q", *args, "--crs", "EPSG:2326"])
    assert ok.exit_code == 0, ok.output
    near = pd.read_csv(out)
    expected = nmgeo.bcp_proximity(_lots())["bcp_distance_m"].to_numpy()
    assert near["bcp_distance_m"].to_numpy() == pytest.approx(expected, abs=0.01)


def test_text_in_an_undeclared_encoding_is_read_with_the_encoding_flag(tmp_path):
    lots = _lots(3)
    lots["NAME_CHT"] = ["粉嶺", "上水", "古洞"]
    path = tmp_path / "lots.shp"
    pyogrio.write_dataframe(lots, path, encoding="big5")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    out = tmp_path / "near.csv"
    args = ["-q", "proximity", str(path), "--out", str(out), "--encoding", "big5"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == 3
    direct = nmgeo.read_parcels(path, encoding="big5")
    assert list(direct["NAME_CHT"]) == ["粉嶺", "上水", "古洞"]


def test_lot_columns_and_id_column_flags_rename_before_reading(tmp_path):
    lots = _lots().rename(columns={"LOTID": "MY_LOT"})
    path = tmp_path / "lots.gpkg"
    lots.to_file(path, engine="pyogrio")
    out = tmp_path / "near.csv"
    runner = CliRunner()
    by_id = runner.invoke(
        main, ["-q", "proximity", str(path), "--id-column", "MY_LOT", "--out", str(out)]
    )
    assert by_id.exit_code == 0, by_id.output
    assert list(pd.read_csv(out)["parcel_id"]) == list(lots["MY_LOT"])
    renamed = runner.invoke(
        main, ["-q", "proximity", str(path), "--columns", "MY_LOT=parcel_id", "--out", str(out)]
    )
    assert renamed.exit_code == 0, renamed.output
    assert list(pd.read_csv(out)["parcel_id"]) == list(lots["MY_LOT"])
    bad = runner.invoke(main, ["proximity", str(path), "--columns", "MY_LOT", "--out", str(out)])
    assert "SOURCE=name" in _error_line(bad)


# --------------------------------------------------------------------------- empty results


def test_no_commercial_land_is_a_result_with_a_reason_and_valid_outputs(tmp_path):
    zones = _zones("V", "G/IC", "AGR")
    zpath = tmp_path / "zones.gpkg"
    zones.to_file(zpath, engine="pyogrio")
    lpath = tmp_path / "lots.gpkg"
    _lots().to_file(lpath, engine="pyogrio")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["packages", "--zones", str(zpath), "--lots", str(lpath), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "no land disposal package qualified" in result.stdout
    assert "no commercial-zoned site" in result.stdout
    html = (out / "package_map.html").read_text(encoding="utf-8")
    assert "no land disposal package qualified" in html
    layers = dict(pyogrio.list_layers(out / "packages.gpkg"))
    assert {"packages", "members", "excluded", "pieces", "fabric", "parcels"} <= set(layers)
    assert len(pyogrio.read_dataframe(out / "packages.gpkg", layer="packages")) == 0
    fabric = pyogrio.read_dataframe(out / "packages.gpkg", layer="fabric")
    assert fabric.area.sum() == pytest.approx(zones.area.sum() + 0.0, rel=1e-9)
    report = pd.read_csv(out / "report_packages.csv")
    assert len(report) == 0 and "package_id" in report.columns
    man = json.loads((out / "manifest.json").read_text())
    assert man["counts"]["packages"] == 0


def test_commercial_land_below_the_minimum_says_how_large_the_largest_group_is(tmp_path):
    zones = _zones("C", "G/IC", "V")
    zpath = tmp_path / "zones.gpkg"
    zones.to_file(zpath, engine="pyogrio")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["packages", "--zones", str(zpath), "--min-area-ha", "50", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    # C (3 ha) and the G/IC beside it 10 m away (3 ha) form one group of 6 ha.
    largest = zones.area.iloc[:2].sum() / 1e4
    assert f"the largest {largest:,.2f} ha" in result.stdout
    assert "below min_area_ha 50 ha" in result.stdout
    assert (out / "package_map.html").stat().st_size > 0


def test_packages_says_which_years_rail_network_it_counted(tmp_path):
    zones = _zones("C", "G/IC")
    zpath = tmp_path / "zones.gpkg"
    zones.to_file(zpath, engine="pyogrio")
    runner = CliRunner()
    default = runner.invoke(
        main, ["packages", "--zones", str(zpath), "--out", str(tmp_path / "a")]
    )
    assert default.exit_code == 0, default.output
    assert f"network of {datetime.date.today().year}" in default.stdout
    later = runner.invoke(
        main, ["packages", "--zones", str(zpath), "--as-of", "2034", "--out", str(tmp_path / "b")]
    )
    assert "network of 2034" in later.stdout
    table = pd.read_csv(tmp_path / "b" / "report_packages.csv")
    packages = nmgeo.build_packages(nmgeo.read_zones(zpath)).packages
    expected = nmgeo.rail_proximity(packages, as_of=2034)["rail_distance_m"]
    assert table["rail_distance_m"].to_numpy() == pytest.approx(expected.to_numpy(), abs=0.01)


# --------------------------------------------------------------------------- several plans


def test_zones_is_repeatable_and_takes_a_folder_of_plan_files(tmp_path):
    zones = _zones("C", "G/IC", "C", "O")
    plans = tmp_path / "plans"
    plans.mkdir()
    first, second = zones.iloc[:2].copy(), zones.iloc[2:].copy()
    first["PLAN_NO"], second["PLAN_NO"] = "S/AAA/1", "S/BBB/2"
    first.to_file(plans / "AAA.geojson", engine="pyogrio")
    second.to_file(plans / "BBB.geojson", engine="pyogrio")
    runner = CliRunner()
    runs = {
        "folder": ["--zones", str(plans)],
        "repeated": ["--zones", str(plans / "AAA.geojson"), "--zones", str(plans / "BBB.geojson")],
    }
    expected = nmgeo.build_packages(nmgeo.read_zones(pd.concat([first, second]))).packages
    for name, zone_args in runs.items():
        out = tmp_path / name
        result = runner.invoke(main, ["-q", "packages", *zone_args, "--out", str(out)])
        assert result.exit_code == 0, (name, result.output)
        got = pyogrio.read_dataframe(out / "packages.gpkg", layer="packages")
        assert len(got) == len(expected) == 2, name
        assert got["area_ha"].sum() == pytest.approx(expected["area_ha"].sum(), rel=1e-9)
        fabric = pyogrio.read_dataframe(out / "packages.gpkg", layer="fabric")
        assert set(fabric["plan_no"]) == {"S/AAA/1", "S/BBB/2"}
        man = json.loads((out / "manifest.json").read_text())
        assert man["counts"]["zones"] == 4 and man["counts"]["plans"] == 2
