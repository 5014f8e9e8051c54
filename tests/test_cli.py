"""The nmgeo command line: demo on the sample, synth, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

import nmgeo
from nmgeo.cli import main


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(main, ["demo", "--out", str(out)])
    return result, out


def test_demo_prints_a_summary_and_writes_the_csv(demo_run):
    result, out = demo_run
    assert result.exit_code == 0, result.output
    assert "synthetic" in result.output
    assert "innovation_technology" in result.output
    csv = out / "area_by_major_zone_and_land_use.csv"
    assert str(csv) in result.output
    table = pd.read_csv(csv)
    assert {"major_zone", "land_use", "n_parcels", "area_ha", "share"} <= set(table.columns)
    sample = nmgeo.load_sample()
    assert table["n_parcels"].sum() == len(sample.parcels)
    assert table["area_ha"].sum() == pytest.approx(sample.parcels["area_m2"].sum() / 1e4, rel=1e-6)


def test_demo_writes_the_package_map_report_and_geopackage(demo_run):
    result, out = demo_run
    assert result.exit_code == 0, result.output
    expected = [
        "package_map.html",
        "package_overview.png",
        "report.xlsx",
        "report.html",
        "report.md",
        "report_packages.csv",
        "nm_packages.gpkg",
    ]
    for name in expected:
        path = out / name
        assert path.is_file() and path.stat().st_size > 0, name
        assert str(path) in result.output
    packages = pd.read_csv(out / "report_packages.csv")
    direct = nmgeo.build_packages(nmgeo.load_sample().parcels).packages
    assert len(packages) == len(direct)
    assert packages["area_ha"].sum() == pytest.approx(direct["area_ha"].sum())
    sheets = pd.read_excel(out / "report.xlsx", sheet_name=None)
    assert "packages" in sheets and "area_ha (ha)" in sheets["packages"].columns
    import pyogrio

    layers = set(pyogrio.list_layers(out / "nm_packages.gpkg")[:, 0])
    assert {"packages", "members", "parcels", "control_points", "rail_stations"} <= layers


def test_quiet_demo_prints_nothing(tmp_path):
    result = CliRunner().invoke(main, ["--quiet", "demo", "--out", str(tmp_path)])
    assert result.exit_code == 0
    assert result.output == ""


def test_synth_writes_a_readable_set(tmp_path):
    result = CliRunner().invoke(
        main, ["--quiet", "synth", "--lots", "10000", "--seed", "1", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    lots = nmgeo.read_parcels(tmp_path / "nm_sample.gpkg", layer="lots")
    assert 9000 <= len(lots) <= 11000


def test_bad_input_is_one_line_and_exit_code_2(tmp_path):
    result = CliRunner().invoke(main, ["synth", "--lots", "10", "--out", str(tmp_path)])
    assert result.exit_code == 2
    env_bad = CliRunner(env={"NMGEO_SAMPLE_DIR": str(tmp_path / "nowhere")}).invoke(
        main, ["demo", "--out", str(tmp_path / "o")]
    )
    assert env_bad.exit_code == 2
    lines = [ln for ln in env_bad.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("nmgeo: error:")
    assert "NMGEO_SAMPLE_DIR" in lines[0]


def test_console_script_runs_in_a_real_process():
    proc = subprocess.run(
        [sys.executable, "-m", "nmgeo.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert "Northern Metropolis" in proc.stdout
    version = subprocess.run(
        [sys.executable, "-m", "nmgeo.cli", "--version"], capture_output=True, text=True
    )
    assert nmgeo.__version__ in version.stdout
