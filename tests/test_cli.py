"""The nmgeo command line: every command on small files, manifests, config, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import box

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
    # The table covers all zoned land and every lot: the zones and lots' union, once.
    sample = nmgeo.load_sample()
    everything = shapely.union_all(
        np.concatenate([sample.zones.geometry.values, sample.parcels.geometry.values])
    )
    assert table["area_ha"].sum() == pytest.approx(everything.area / 1e4, rel=1e-6)
    commercial = sample.zones.loc[sample.zones["land_use"] == "commercial"].geometry
    got = table.loc[table["land_use"] == "commercial", "area_ha"].sum()
    assert got == pytest.approx(shapely.union_all(commercial.values).area / 1e4, rel=1e-6)


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
    sample = nmgeo.load_sample()
    direct = nmgeo.build_packages(sample.zones, sample.parcels).packages
    assert len(packages) == len(direct)
    assert packages["area_ha"].sum() == pytest.approx(direct["area_ha"].sum())
    sheets = pd.read_excel(out / "report.xlsx", sheet_name=None)
    assert "packages" in sheets and "area_ha (ha)" in sheets["packages"].columns
    import pyogrio

    layers = set(pyogrio.list_layers(out / "nm_packages.gpkg")[:, 0])
    assert {"packages", "members", "parcels", "control_points", "rail_stations"} <= layers
    assert {"pieces", "fabric"} <= layers
    fabric = pyogrio.read_dataframe(out / "nm_packages.gpkg", layer="fabric")
    assert set(fabric["tenure"]) <= {"leased", "government", "unknown"}
    everything = shapely.union_all(
        np.concatenate([sample.zones.geometry.values, sample.parcels.geometry.values])
    )
    assert fabric.geometry.area.sum() == pytest.approx(everything.area, rel=1e-9)


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


# --------------------------------------------------------------------------- analysis commands


def _one_error_line(result) -> str:
    """The single non-empty stderr line of a failed run (asserts there is exactly one)."""
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nmgeo: error:") or lines[0].startswith("Error:"), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def metro_files(tmp_path_factory):
    """A small synthetic metropolis on disk: nm_sample.gpkg (lots, ozp_zones, roads), DEM."""
    folder = tmp_path_factory.mktemp("metro")
    paths = nmgeo.synthetic_metropolis(10_000, seed=3).write(folder)
    return paths["gpkg"], paths["dem"]


def _packages_args(gpkg, out, *extra):
    return [
        "--quiet",
        "packages",
        str(gpkg),
        "--layer",
        "lots",
        "--zones",
        str(gpkg),
        "--zones-layer",
        "ozp_zones",
        "--out",
        str(out),
        *extra,
    ]


@pytest.fixture(scope="module")
def packages_run(metro_files, tmp_path_factory):
    gpkg, dem = metro_files
    out = tmp_path_factory.mktemp("packages") / "nested" / "out"
    result = CliRunner().invoke(main, _packages_args(gpkg, out, "--dem", str(dem)))
    return result, out


def _manifest(path):
    import json

    return json.loads(path.read_text(encoding="utf-8"))


def test_packages_writes_geopackage_report_map_and_manifest(packages_run, metro_files):
    import pyogrio

    result, out = packages_run
    assert result.exit_code == 0, result.output
    assert result.output == ""  # --quiet
    layers = dict(pyogrio.list_layers(out / "packages.gpkg"))
    assert {"packages", "members", "excluded", "parcels"} <= set(layers)
    packages = pyogrio.read_dataframe(out / "packages.gpkg", layer="packages")
    lots = pyogrio.read_dataframe(out / "packages.gpkg", layer="parcels", read_geometry=False)
    assert len(packages) > 10
    assert {"land_use", "major_zone", "zone_label"} <= set(lots.columns)
    assert len(lots) == len(nmgeo.read_parcels(metro_files[0], layer="lots"))
    table = pd.read_csv(out / "report_packages.csv")
    assert len(table) == len(packages)
    assert {"package_id", "area_ha", "bcp_distance_m", "rail_distance_m"} <= set(table.columns)
    assert (table["area_ha"] >= 2.0 - 1e-9).all()  # --min-area-ha default 2
    assert any(c.startswith("slope") or "elev" in c for c in table.columns)  # --dem
    for name in ("report.xlsx", "report.md", "report.html"):
        assert (out / name).stat().st_size > 0
    assert "leaflet" in (out / "package_map.html").read_text(encoding="utf-8").lower()


def test_packages_on_zones_and_lots_match_the_api(packages_run, metro_files):
    import pyogrio

    result, out = packages_run
    gpkg, _ = metro_files
    zones = nmgeo.read_zones(gpkg, layer="ozp_zones")
    lots = nmgeo.read_parcels(gpkg, layer="lots")
    direct = nmgeo.build_packages(zones, lots).packages
    table = pd.read_csv(out / "report_packages.csv")
    assert len(table) == len(direct)
    for col in ("area_ha", "government_ha", "leased_ha", "n_lots"):
        assert table[col].sum() == pytest.approx(direct[col].sum(), rel=1e-9), col
    layers = set(pyogrio.list_layers(out / "packages.gpkg")[:, 0])
    assert {"pieces", "fabric"} <= layers
    pieces = pyogrio.read_dataframe(out / "packages.gpkg", layer="pieces", read_geometry=False)
    assert set(pieces["tenure"]) <= {"leased", "government"}  # no --extent: lots complete
    areas = pd.read_csv(out / "report_area_by_zone.csv")
    assert {"major_zone", "land_use", "tenure", "area_ha"} <= set(areas.columns)


def test_packages_outside_the_extent_and_on_zones_alone(metro_files, tmp_path):
    gpkg, _ = metro_files
    zones = nmgeo.read_zones(gpkg, layer="ozp_zones")
    x0, y0, x1, y1 = zones.total_bounds
    half = gpd.GeoDataFrame(geometry=[box(x0, y0, (x0 + x1) / 2, y1)], crs="EPSG:2326")
    half.to_file(tmp_path / "extent.gpkg")
    args = ["--quiet", "packages", "--zones", str(gpkg), "--zones-layer", "ozp_zones"]
    lot_args = ["--lots", str(gpkg), "--layer", "lots"]
    run = CliRunner().invoke(
        main,
        [
            *args,
            *lot_args,
            "--extent",
            str(tmp_path / "extent.gpkg"),
            "--out",
            str(tmp_path / "e"),
        ],
    )
    assert run.exit_code == 0, run.output
    table = pd.read_csv(tmp_path / "e" / "report_packages.csv")
    assert table["unknown_tenure_ha"].sum() > 0
    total = table[["government_ha", "leased_ha", "unknown_tenure_ha"]].sum(axis=1)
    np.testing.assert_allclose(total, table["area_ha"], rtol=1e-9)

    run = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "z")])
    assert run.exit_code == 0, run.output
    alone = pd.read_csv(tmp_path / "z" / "report_packages.csv")
    np.testing.assert_allclose(alone["unknown_tenure_ha"], alone["area_ha"], rtol=1e-12)
    assert (alone["n_lots"] == 0).all()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--lots", "LOTS"], "not both"),
        (["--extent", "LOTS"], "needs both"),
    ],
)
def test_packages_refuses_contradictory_inputs(metro_files, tmp_path, extra, message):
    gpkg, _ = metro_files
    extra = [str(gpkg) if e == "LOTS" else e for e in extra]
    first = [str(gpkg)] if extra[0] == "--lots" else []
    run = CliRunner().invoke(
        main,
        ["packages", *first, "--zones", str(gpkg), "--zones-layer", "ozp_zones", *extra]
        + ["--out", str(tmp_path / "x")],
    )
    assert run.exit_code == 2
    assert message in _one_error_line(run)


def test_packages_manifest_records_versions_inputs_counts_and_timings(packages_run, metro_files):
    import hashlib

    result, out = packages_run
    gpkg, dem = metro_files
    man = _manifest(out / "manifest.json")
    assert man["command"] == "packages"
    assert man["nmgeo_version"] == nmgeo.__version__
    versions = man["versions"]
    for name in ("python", "geopandas", "shapely", "pyproj", "pyogrio", "gdal", "pandas"):
        assert versions[name], name
    assert versions["numpy"] and versions["folium"]
    assert man["parameters"]["gap_tolerance"] == 15.0
    assert man["parameters"]["min_area_ha"] == 2.0
    assert man["parameters"]["parcels"] == str(gpkg)
    assert man["parameter_sources"]["gap_tolerance"] == "default"
    by_path = {(e["path"], e.get("role")): e for e in man["inputs"]}
    lots_entry = by_path[(str(gpkg), "parcels")]
    assert lots_entry["sha256"] == hashlib.sha256(gpkg.read_bytes()).hexdigest()
    assert lots_entry["size_bytes"] == gpkg.stat().st_size
    assert lots_entry["rows"] == man["counts"]["parcels"] > 9000
    assert by_path[(str(gpkg), "zones")]["rows"] == man["counts"]["zones"] > 0
    outputs = {Path(e["path"]).name: e for e in man["outputs"]}
    assert {"packages.gpkg", "package_map.html", "report.xlsx", "report_packages.csv"} <= set(
        outputs
    )
    assert outputs["packages.gpkg"]["rows"]["packages"] == man["counts"]["packages"]
    assert all(e["size_bytes"] > 0 for e in man["outputs"])
    assert {"read parcels", "assign zoning", "build packages", "write geopackage"} <= set(
        man["timings_s"]
    )
    assert all(t > 0 for t in man["timings_s"].values())
    assert man["started_utc"].endswith("+00:00")


def test_config_file_sets_defaults_and_the_command_line_wins(packages_run, metro_files, tmp_path):
    gpkg, _ = metro_files
    default_count = _manifest(packages_run[1] / "manifest.json")["counts"]["packages"]
    config = tmp_path / "nmgeo.toml"
    config.write_text("[defaults]\nlayer = 'lots'\n\n[packages]\ngap = 30\nmin_area_ha = 2\n")
    run = CliRunner().invoke(
        main, ["--config", str(config), *_packages_args(gpkg, tmp_path / "cfg")]
    )
    assert run.exit_code == 0, run.output
    man = _manifest(tmp_path / "cfg" / "manifest.json")
    assert man["parameters"]["gap_tolerance"] == 30.0
    assert man["parameter_sources"]["gap_tolerance"] == "default_map"
    assert man["global_options"]["config"] == str(config)
    assert man["counts"]["packages"] != default_count  # wider road reserves merge packages
    cli = CliRunner().invoke(
        main,
        [
            "--config",
            str(config),
            *_packages_args(gpkg, tmp_path / "cli", "--gap-tolerance", "15"),
        ],
    )
    assert cli.exit_code == 0, cli.output
    man = _manifest(tmp_path / "cli" / "manifest.json")
    assert man["parameters"]["gap_tolerance"] == 15.0
    assert man["parameter_sources"]["gap_tolerance"] == "commandline"
    assert man["counts"]["packages"] == default_count


@pytest.mark.parametrize(
    "text",
    ["[packages]\ngapp = 30\n", "[packages\ngap = 1\n", "[packages]\ngap = -5\n", "[nope]\n"],
)
def test_bad_config_is_one_line_and_exit_code_2(metro_files, tmp_path, text):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    args = ["--config", str(config), *_packages_args(metro_files[0], tmp_path / "o")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    _one_error_line(result)
    assert not (tmp_path / "o").exists()


def test_proximity_writes_nearest_station_per_lot(metro_files, tmp_path):
    gpkg, _ = metro_files
    out = tmp_path / "prox" / "rail.csv"
    args = ["-q", "proximity", str(gpkg), "--layer", "lots", "--to", "rail"]
    result = CliRunner().invoke(main, [*args, "--as-of", "2034", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert list(table.columns) == ["parcel_id", "rail_name", "rail_distance_m"]
    assert len(table) == len(nmgeo.read_parcels(gpkg, layer="lots"))
    assert (table["rail_distance_m"] >= 0).all()
    stations = set(nmgeo.reference.rail_stations(as_of=2034)["name"])
    assert set(table["rail_name"]) <= stations
    man = _manifest(out.with_name("rail.manifest.json"))
    assert man["parameters"]["to"] == "rail" and man["parameters"]["as_of"] == 2034
    assert man["outputs"][0]["rows"] == len(table)


def test_proximity_to_a_file_of_targets(metro_files, tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point

    gpkg, _ = metro_files
    lots = nmgeo.read_parcels(gpkg, layer="lots").head(50)
    lots_path = tmp_path / "lots.gpkg"
    lots.to_file(lots_path, engine="pyogrio")
    centre = lots.geometry.union_all().centroid
    depots = gpd.GeoDataFrame(
        {"depot": ["A", "B"]},
        geometry=[centre, Point(centre.x + 50_000, centre.y)],
        crs="EPSG:2326",
    )
    targets = tmp_path / "depots.geojson"
    depots.to_crs("EPSG:4326").to_file(targets, engine="pyogrio")
    out = tmp_path / "near.csv"
    args = ["-q", "proximity", str(lots_path), "--to", str(targets), "--name-column", "depot"]
    result = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert list(table.columns) == ["parcel_id", "nearest_name", "nearest_distance_m"]
    assert set(table["nearest_name"]) == {"A"}
    assert len(table) == 50
    unknown = CliRunner().invoke(main, [*args[:-1], "nope", "--out", str(tmp_path / "x.csv")])
    assert unknown.exit_code == 2
    assert "nope" in _one_error_line(unknown)


def test_report_area_table_by_major_zone_and_land_use(metro_files, tmp_path):
    gpkg, _ = metro_files
    out = tmp_path / "area.csv"
    args = ["-q", "report", str(gpkg), "--layer", "lots", "--zones", str(gpkg)]
    result = CliRunner().invoke(
        main,
        [*args, "--zones-layer", "ozp_zones", "--by", "major_zone,land_use", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert {"major_zone", "land_use", "n_parcels", "area_ha", "share"} <= set(table.columns)
    assert table["n_parcels"].sum() == len(nmgeo.read_parcels(gpkg, layer="lots"))
    assert table["share"].sum() == pytest.approx(1.0, abs=1e-3)  # 4 decimals
    md = tmp_path / "area.md"
    result = CliRunner().invoke(
        main,
        ["-q", "report", str(gpkg), "--layer", "lots", "--by", "major_zone", "--out", str(md)],
    )
    assert result.exit_code == 0, result.output
    assert "major_zone" in md.read_text(encoding="utf-8")
    assert _manifest(tmp_path / "area.manifest.json")["parameters"]["by"] == "major_zone"


def test_map_writes_a_leaflet_page(metro_files, tmp_path):
    gpkg, _ = metro_files
    out = tmp_path / "lots.html"
    args = ["-q", "map", str(gpkg), "--layer", "lots", "--zones", str(gpkg)]
    result = CliRunner().invoke(main, [*args, "--zones-layer", "ozp_zones", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "leaflet" in html.lower() and "L.map" in html
    assert (tmp_path / "lots.manifest.json").is_file()


def test_bad_inputs_give_one_error_line_and_exit_code_2(metro_files, tmp_path):
    gpkg, _ = metro_files
    no_crs = nmgeo.read_parcels(gpkg, layer="lots").head(20).set_crs(None, allow_override=True)
    no_crs_path = tmp_path / "no_crs.gpkg"
    with pytest.warns(UserWarning, match="crs"):
        no_crs.to_file(no_crs_path, engine="pyogrio")
    runner = CliRunner()
    cases = {
        "missing file": ["report", str(tmp_path / "missing.gpkg"), "--out", "x.csv"],
        "no CRS": [
            "report",
            str(no_crs_path),
            "--by",
            "lot_type",
            "--out",
            str(tmp_path / "a.csv"),
        ],
        "unknown --by": [
            "report",
            str(gpkg),
            "--layer",
            "lots",
            "--by",
            "nope",
            "--out",
            str(tmp_path / "b.csv"),
        ],
        "negative gap": _packages_args(gpkg, tmp_path / "c", "--gap", "-1")[1:],
        "bad suffix": ["report", str(gpkg), "--layer", "lots", "--out", str(tmp_path / "d.txt")],
        "no land_use": ["packages", str(gpkg), "--layer", "lots", "--out", str(tmp_path / "e")],
        "unknown group option": ["--bogus"],
    }
    for label, args in cases.items():
        result = runner.invoke(main, args)
        assert result.exit_code == 2, (label, result.output)
        line = _one_error_line(result)
        assert "Traceback" not in result.output, label
        if label == "no CRS":
            assert "CRS" in line
        if label == "unknown --by":
            assert "nope" in line


def test_outputs_never_overwrite_an_input(packages_run):
    _, out = packages_run
    gpkg = out / "packages.gpkg"
    before = gpkg.read_bytes()
    result = CliRunner().invoke(
        main, ["packages", str(gpkg), "--layer", "parcels", "--out", str(out)]
    )
    assert result.exit_code == 2
    assert "input" in _one_error_line(result)
    assert gpkg.read_bytes() == before


def test_every_command_explains_its_options():
    runner = CliRunner()
    for name in ("packages", "proximity", "report", "map", "synth", "demo"):
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0, name
        assert "--out" in result.output, name
    text = runner.invoke(main, ["packages", "--help"]).output
    assert "road reserve" in text and "--min-area-ha" in text
    assert "--config" in runner.invoke(main, ["--help"]).output


def test_packages_in_a_real_process(metro_files, tmp_path):
    gpkg, _ = metro_files
    lots = nmgeo.read_parcels(gpkg, layer="lots")
    x0, y0, x1, y1 = lots.total_bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    small = lots.cx[cx - 3000 : cx + 3000, cy - 3000 : cy + 3000]
    small_path = tmp_path / "small.gpkg"
    small.to_file(small_path, layer="lots", engine="pyogrio")
    zones = nmgeo.read_zones(gpkg, layer="ozp_zones")
    zones.to_file(small_path, layer="ozp_zones", engine="pyogrio")
    out = tmp_path / "out"
    args = _packages_args(small_path, out)[1:]
    proc = subprocess.run(
        [sys.executable, "-m", "nmgeo.cli", *args], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert str(out / "packages.gpkg") in proc.stdout
    assert proc.stderr.strip() == ""  # no progress bar when stderr is not a terminal
    man = _manifest(out / "manifest.json")
    assert man["counts"]["parcels"] == len(small)
    bad = subprocess.run(
        [sys.executable, "-m", "nmgeo.cli", *args, "--gap", "-1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    lines = [ln for ln in bad.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("nmgeo: error:")
