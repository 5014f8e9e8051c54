"""Capacity on the command line and the map: `nmgeo packages --limits [--bhc]` on a hand
layout whose floor space, jobs and shares are worked out by hand, and package_map's
capacity popups and colours."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from shapely.geometry import box

import nmgeo
from nmgeo.capacity import assign_capacity, capacity_parameters, package_capacity, read_limits
from nmgeo.cli import main
from nmgeo.errors import SchemaError
from nmgeo.maps import package_map

X0, Y0 = 830_000.0, 836_000.0  # inside the NM
PLAN = "S/TEST/1"

# The layout (m from the origin): C(1) x 0-200, y 0-100; G/IC east of it, x 200-300;
# O north of the C(1), x 0-150, y 100-200 (it touches the C(1), so it joins the package).
C_AREA, GIC_AREA, O_AREA = 200.0 * 100.0, 100.0 * 100.0, 150.0 * 100.0
LOT_AREA = 60.0 * 60.0  # one leased lot inside the C(1)
C_PLOT_RATIO, GIC_STOREYS, GIC_COVERAGE, BHC_STOREYS = 5.0, 8.0, 0.4, 4.0
C_GFA = C_AREA * C_PLOT_RATIO  # 100,000 m²
# The west half of the G/IC lies under a "4 storeys" control, the east half keeps 8.
GIC_GFA = (GIC_AREA / 2) * GIC_COVERAGE * BHC_STOREYS + (GIC_AREA / 2) * GIC_COVERAGE * 8
GIC_GFA_NO_BHC = GIC_AREA * GIC_COVERAGE * GIC_STOREYS  # 32,000 m²
PACKAGE_HA = (C_AREA + GIC_AREA + O_AREA) / 1e4  # 4.5 ha
LIMITS_SHARE = (C_AREA + GIC_AREA) / (C_AREA + GIC_AREA + O_AREA)


def _parameter(name: str) -> float:
    return float(capacity_parameters().set_index("name").loc[name, "value"])


def _jobs(commercial_gfa: float, gic_gfa: float) -> float:
    return commercial_gfa / _parameter("floor_space_per_job_m2") + gic_gfa / _parameter(
        "gic_floor_space_per_job_m2"
    )


def b(x0: float, y0: float, x1: float, y1: float):
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def _one_error_line(result) -> str:
    """The single non-empty stderr line of a failed run (asserts there is exactly one)."""
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nmgeo: error:") or lines[0].startswith("Error:"), lines[0]
    return lines[0]


def _write_limits(path, rows):
    header = "plan_no,zone_label,max_plot_ratio,max_height_storeys,max_site_coverage\n"
    path.write_text(header + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("capacity_inputs")
    zones = gpd.GeoDataFrame(
        {"PLAN_NO": [PLAN] * 3, "ZONE_LABEL": ["C(1)", "G/IC", "O"]},
        geometry=[b(0, 0, 200, 100), b(200, 0, 300, 100), b(0, 100, 150, 200)],
        crs="EPSG:2326",
    )
    lots = gpd.GeoDataFrame(
        {"LOTID": ["DD 92 Lot 1"]}, geometry=[b(20, 20, 80, 80)], crs="EPSG:2326"
    )
    # The control overhangs the G/IC north and south onto unzoned land: only x 200-250
    # of the G/IC (half of it) is under it.
    bhc = gpd.GeoDataFrame(
        {"BHC_TYPE": ["BHCB"], "BHC_VALUE": ["4 storeys"]},
        geometry=[b(200, -50, 250, 150)],
        crs="EPSG:2326",
    )
    paths = {
        "zones": folder / "zones.gpkg",
        "lots": folder / "lots.gpkg",
        "bhc": folder / "bhc.geojson",
    }
    pyogrio.write_dataframe(zones, paths["zones"])
    pyogrio.write_dataframe(lots, paths["lots"])
    pyogrio.write_dataframe(bhc, paths["bhc"], driver="GeoJSON")
    paths["limits"] = _write_limits(
        folder / "limits.csv",
        [[PLAN, "C(1)", "5", "", ""], [PLAN, "G/IC", "", "8 storeys", "40%"]],
    )
    return paths


def _args(inputs, out, *extra, quiet=True):
    return [
        *(["--quiet"] if quiet else []),
        "packages",
        str(inputs["lots"]),
        "--zones",
        str(inputs["zones"]),
        "--out",
        str(out),
        *extra,
    ]


def _run(inputs, out, *extra, quiet=True):
    result = CliRunner().invoke(main, _args(inputs, out, *extra, quiet=quiet))
    assert result.exit_code == 0, (result.output, result.stderr)
    return result, out


@pytest.fixture(scope="module")
def with_bhc(inputs, tmp_path_factory):
    """The default run (--color-by area_ha), not quiet, with --limits and --bhc."""
    out = tmp_path_factory.mktemp("with_bhc") / "out"
    limits = ["--limits", str(inputs["limits"]), "--bhc", str(inputs["bhc"])]
    return _run(inputs, out, *limits, quiet=False)


@pytest.fixture(scope="module")
def by_gfa(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("by_gfa") / "out"
    limits = ["--limits", str(inputs["limits"]), "--bhc", str(inputs["bhc"])]
    return _run(inputs, out, *limits, "--color-by", "gfa_m2")


@pytest.fixture(scope="module")
def without_bhc(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("without_bhc") / "out"
    return _run(inputs, out, "--limits", str(inputs["limits"]))


def _packages_layer(out) -> pd.DataFrame:
    return pyogrio.read_dataframe(out / "packages.gpkg", layer="packages", read_geometry=False)


def _fabric_layer(out) -> gpd.GeoDataFrame:
    return pyogrio.read_dataframe(out / "packages.gpkg", layer="fabric")


def _decoded(html: str) -> str:
    """The page with the JSON escapes of its embedded data undone (\\u003c -> <)."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), html)


def _popups(html: str) -> list[dict[str, str]]:
    """Every package popup of a page as {label: text}."""
    text = _decoded(html)
    tables = re.findall(r'"_popup": "(<table>.*?</table>)"', text)
    row = re.compile(r"<tr><th[^>]*>(.*?)</th><td>(.*?)</td></tr>")
    return [dict(row.findall(table)) for table in tables]


# --------------------------------------------------------------------------- the layout


def test_the_layout_is_one_package_of_four_and_a_half_hectares(with_bhc):
    _, out = with_bhc
    packages = _packages_layer(out)
    assert len(packages) == 1
    assert packages["area_ha"].iloc[0] == pytest.approx(PACKAGE_HA, rel=1e-9)
    assert packages["n_lots"].iloc[0] == 1


# --------------------------------------------------------------------------- 1. layers


def test_packages_layer_carries_the_hand_computed_capacity(with_bhc):
    _, out = with_bhc
    row = _packages_layer(out).iloc[0]
    assert row["gfa_m2"] == pytest.approx(C_GFA + GIC_GFA, rel=1e-9)  # 124,000
    assert row["gfa_commercial_m2"] == pytest.approx(C_GFA, rel=1e-9)
    assert row["gfa_gic_m2"] == pytest.approx(GIC_GFA, rel=1e-9)  # 24,000
    assert row["gfa_domestic_m2"] == pytest.approx(0.0, abs=1e-9)
    assert row["flats"] == pytest.approx(0.0, abs=1e-9)
    assert row["jobs"] == pytest.approx(_jobs(C_GFA, GIC_GFA), rel=1e-9)
    assert row["limits_share"] == pytest.approx(LIMITS_SHARE, rel=1e-9)


def test_fabric_pieces_carry_their_binding_limit_and_no_gfa_without_limits(with_bhc):
    _, out = with_bhc
    fabric = _fabric_layer(out)
    c1 = fabric[fabric["zone_label"] == "C(1)"]
    assert len(c1) == 2  # the leased lot and the Government land around it
    assert set(c1["binding_limit"]) == {"plot_ratio"}
    assert c1["gfa_m2"].to_numpy() == pytest.approx(c1.geometry.area * C_PLOT_RATIO, rel=1e-9)
    leased = c1[c1["tenure"] == "leased"]
    assert leased["gfa_m2"].tolist() == pytest.approx([LOT_AREA * C_PLOT_RATIO], rel=1e-9)
    assert c1["gfa_m2"].sum() == pytest.approx(C_GFA, rel=1e-9)
    gic = fabric[fabric["zone_label"] == "G/IC"]
    assert gic["binding_limit"].tolist() == ["height"]
    assert gic["gfa_m2"].tolist() == pytest.approx([GIC_GFA], rel=1e-9)
    assert gic["gfa_gic_m2"].tolist() == pytest.approx([GIC_GFA], rel=1e-9)
    open_space = fabric[fabric["zone_label"] == "O"]
    assert len(open_space) == 1
    assert open_space["gfa_m2"].isna().all()
    assert open_space["binding_limit"].isna().all()
    assert open_space["limits_match"].isna().all()
    assert open_space["jobs"].isna().all()


# --------------------------------------------------------------------------- 2. reports


def test_capacity_targets_report_sums_all_packages_against_the_nm_targets(with_bhc):
    _, out = with_bhc
    targets = pd.read_csv(out / "report_capacity_targets.csv")
    first = targets.iloc[0]
    jobs = _jobs(C_GFA, GIC_GFA)
    assert (first["by"], first["group"], first["n_packages"]) == ("all", "all packages", 1)
    assert first["area_ha"] == pytest.approx(PACKAGE_HA, rel=1e-9)
    assert first["gfa_m2"] == pytest.approx(C_GFA + GIC_GFA, rel=1e-9)
    assert first["flats"] == pytest.approx(0.0, abs=1e-9)
    assert first["jobs"] == pytest.approx(jobs, rel=1e-9)
    assert first["homes_share"] == pytest.approx(0.0, abs=1e-12)
    # The CSV keeps a few decimals of the share.
    assert first["jobs_share"] == pytest.approx(jobs / _parameter("jobs_target"), abs=1e-4)
    assert jobs / _parameter("jobs_target") == pytest.approx(jobs / 650_000)


def test_zones_without_limits_report_lists_the_open_space(with_bhc):
    _, out = with_bhc
    missing = pd.read_csv(out / "report_zones_without_limits.csv")
    assert len(missing) == 1
    row = missing.iloc[0]
    assert (row["plan_no"], row["zone_label"], row["land_use"]) == (PLAN, "O", "open_space")
    assert row["n_pieces"] == 1
    assert row["area_ha"] == pytest.approx(O_AREA / 1e4, rel=1e-6)


def test_workbook_has_the_capacity_sheets(with_bhc):
    _, out = with_bhc
    sheets = pd.read_excel(out / "report.xlsx", sheet_name=None)
    assert {"packages", "capacity_targets", "zones_without_limits"} <= set(sheets)
    targets = sheets["capacity_targets"]
    gfa = next(c for c in targets.columns if c.startswith("gfa_m2"))
    assert targets[gfa].iloc[0] == pytest.approx(C_GFA + GIC_GFA, rel=1e-9)
    assert sheets["zones_without_limits"]["zone_label"].tolist() == ["O"]


def test_manifest_records_the_limits_and_height_controls(with_bhc, inputs):
    _, out = with_bhc
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    roles = {e.get("role"): e for e in man["inputs"]}
    assert roles["limits"]["path"] == str(inputs["limits"]) and roles["limits"]["rows"] == 2
    assert roles["height controls"]["rows"] == 1
    outputs = {Path(e["path"]).name for e in man["outputs"]}
    assert {"report_capacity_targets.csv", "report_zones_without_limits.csv"} <= outputs


# --------------------------------------------------------------------------- 3. printed


def test_printed_output_states_the_capacity(with_bhc):
    result, _ = with_bhc
    line = next(ln for ln in result.stdout.splitlines() if "capacity" in ln)
    jobs = _jobs(C_GFA, GIC_GFA)
    assert "0.12 million m² GFA" in line  # 124,000 m²
    assert "0 flats" in line and "0.0% of the NM's 500,000 homes" in line
    assert f"{jobs:,.0f} jobs" in line
    assert f"{jobs / _parameter('jobs_target'):.1%} of 650,000" in line


# --------------------------------------------------------------------------- 4. the map


def test_color_by_gfa_shows_the_capacity_in_the_popups_and_legend(by_gfa):
    _, out = by_gfa
    html = (out / "package_map.html").read_text(encoding="utf-8")
    (popup,) = _popups(html)
    assert popup["GFA (m²)"] == f"{C_GFA + GIC_GFA:,.0f}" == "124,000"
    assert popup["Commercial GFA (m²)"] == "100,000"
    assert popup["G/IC GFA (m²)"] == f"{GIC_GFA:,.0f}"
    assert popup["Flats"] == "0"
    assert popup["Jobs"] == f"{_jobs(C_GFA, GIC_GFA):,.0f}"
    assert "Packages: GFA (m²)" in _decoded(html)


def test_the_default_run_shows_the_capacity_popups_too(with_bhc):
    _, out = with_bhc
    html = (out / "package_map.html").read_text(encoding="utf-8")
    (popup,) = _popups(html)
    assert popup["GFA (m²)"] == "124,000"
    assert {"Commercial GFA (m²)", "Flats", "Jobs"} <= set(popup)
    assert "Packages: Area (ha)" in _decoded(html)  # coloured by the default, area_ha


# --------------------------------------------------------------------------- 5. no --bhc


def test_without_bhc_the_gic_takes_its_eight_storeys_on_the_whole_site(without_bhc):
    _, out = without_bhc
    row = _packages_layer(out).iloc[0]
    assert row["gfa_gic_m2"] == pytest.approx(GIC_GFA_NO_BHC, rel=1e-9)  # 32,000
    assert row["gfa_m2"] == pytest.approx(C_GFA + GIC_GFA_NO_BHC, rel=1e-9)
    assert row["jobs"] == pytest.approx(_jobs(C_GFA, GIC_GFA_NO_BHC), rel=1e-9)
    gic = _fabric_layer(out).query("zone_label == 'G/IC'")
    assert gic["binding_limit"].tolist() == ["height"]


# --------------------------------------------------------------------------- 6. refusals


def test_bhc_without_limits_is_refused(inputs, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, _args(inputs, out, "--bhc", str(inputs["bhc"])))
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert "--bhc" in line and "--limits" in line
    assert not out.exists()


def test_color_by_a_capacity_column_without_limits_is_refused(inputs, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, _args(inputs, out, "--color-by", "jobs"))
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert "jobs" in line and "--limits" in line
    assert not out.exists()


def test_a_bad_limits_cell_names_the_file_line_and_column(inputs, tmp_path):
    # The bad cell is on the second data row: line 3 of the file.
    bad = _write_limits(
        tmp_path / "bad_limits.csv",
        [[PLAN, "G/IC", "", "8", "0.4"], [PLAN, "C(1)", "five", "", ""]],
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(main, _args(inputs, out, "--limits", str(bad)))
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert str(bad) in line
    assert "line 3" in line and "max_plot_ratio" in line and "five" in line
    assert not out.exists()


@pytest.mark.parametrize("column", ["zone_label", "major_zone"])
def test_color_by_a_column_that_is_no_number_of_the_packages_is_refused(inputs, tmp_path, column):
    out = tmp_path / "out"
    args = _args(inputs, out, "--limits", str(inputs["limits"]), "--color-by", column)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert f"--color-by {column} is not a number column" in line
    # The choices offered are number columns only, capacity ones included.
    choices = line.split("choose one of: ")[1].split(", ")
    assert {"area_ha", "gfa_m2", "jobs"} <= set(choices)
    assert not {"package_id", "major_zone", "zone_label"} & set(choices)
    assert "Traceback" not in result.output
    assert not out.exists()


def test_color_by_refusal_names_the_flag(inputs, tmp_path):
    args = _args(inputs, tmp_path / "o", "--limits", str(inputs["limits"]), "--color-by", "x")
    line = _one_error_line(CliRunner().invoke(main, args))
    assert "--color-by" in line and "color_by=" not in line


def test_a_non_building_area_inside_a_height_band_takes_no_floor_space(inputs, tmp_path):
    # The 4-storey band covers x 200-250 of the G/IC; an NBA inside it covers x 200-225.
    controls = gpd.GeoDataFrame(
        {"BHC_TYPE": ["BHCB", "NBA"], "BHC_VALUE": ["4 storeys", None]},
        geometry=[b(200, 0, 250, 100), b(200, 0, 225, 100)],
        crs="EPSG:2326",
    )
    path = tmp_path / "bhc_nba.geojson"
    pyogrio.write_dataframe(controls, path, driver="GeoJSON")
    out = tmp_path / "out"
    _run(inputs, out, "--limits", str(inputs["limits"]), "--bhc", str(path))
    quarter = GIC_AREA / 4
    want = quarter * 0 + quarter * GIC_COVERAGE * BHC_STOREYS + 2 * quarter * GIC_COVERAGE * 8
    assert _packages_layer(out)["gfa_gic_m2"].iloc[0] == pytest.approx(want, rel=1e-9)


# --------------------------------------------------------------------------- 7. package_map


@pytest.fixture(scope="module")
def two_packages():
    """Two packages 500 m apart: P001 is larger (3 ha at plot ratio 1, 30,000 m²), P002
    smaller (2 ha at plot ratio 5, 100,000 m²), so it has more jobs."""
    zones = gpd.GeoDataFrame(
        {"plan_no": [PLAN] * 2, "zone_label": ["C(1)", "C(2)"]},
        geometry=[b(0, 0, 200, 100), b(700, 0, 1000, 100)],
        crs="EPSG:2326",
    )
    fabric = nmgeo.land_fabric(nmgeo.read_zones(zones))
    result = nmgeo.build_packages(fabric)
    limits = read_limits(pd.DataFrame({"zone_label": ["C(1)", "C(2)"], "max_plot_ratio": [5, 1]}))
    sites = package_capacity(result, assign_capacity(fabric, limits))
    return result, sites


def _fills(fmap) -> dict[str, str]:
    """package_id -> fill colour of the packages layer of a map."""
    import folium

    layer = next(
        child
        for child in fmap._children.values()
        if isinstance(child, folium.GeoJson) and child.layer_name == "Land disposal packages"
    )
    features = [f["properties"] for f in layer.data["features"]]
    return {f["package_id"]: f["_fill"] for f in features}


def _luminance(colour: str) -> float:
    r, g, b_ = (int(colour.lstrip("#")[k : k + 2], 16) for k in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b_


def test_colour_by_jobs_gives_the_darker_end_to_the_package_with_more_jobs(two_packages):
    result, sites = two_packages
    area = result.packages.set_index("package_id")["area_ha"]
    assert area.to_dict() == pytest.approx({"P001": 3.0, "P002": 2.0}, rel=1e-9)
    jobs = sites.set_index("package_id")["jobs"]
    per_job = _parameter("floor_space_per_job_m2")
    assert jobs.to_dict() == pytest.approx(
        {"P001": 30_000 / per_job, "P002": 100_000 / per_job}, rel=1e-9
    )
    by_jobs = _fills(package_map(result, packages=sites, color_by="jobs", tiles=None))
    assert _luminance(by_jobs["P002"]) < _luminance(by_jobs["P001"])
    # Coloured by area the order turns round: the ramp follows color_by.
    by_area = _fills(package_map(result, packages=sites, color_by="area_ha", tiles=None))
    assert _luminance(by_area["P001"]) < _luminance(by_area["P002"])


def test_package_map_popups_show_each_packages_figures(two_packages):
    result, sites = two_packages
    fmap = package_map(result, packages=sites, color_by="gfa_m2", tiles=None)
    popups = {p["Package"]: p for p in _popups(fmap.get_root().render())}
    assert popups["P001"]["GFA (m²)"] == "30,000"
    assert popups["P002"]["GFA (m²)"] == "100,000"
    assert popups["P002"]["Jobs"] == f"{100_000 / _parameter('floor_space_per_job_m2'):,.0f}"


def test_package_map_refuses_a_packages_table_that_does_not_fit(two_packages):
    result, sites = two_packages
    with pytest.raises(SchemaError, match="package_id"):
        package_map(result, packages=sites.drop(columns="package_id"), tiles=None)
    with pytest.raises(SchemaError, match="repeats package_id 'P001'"):
        package_map(result, packages=pd.concat([sites, sites.iloc[:1]]), tiles=None)
    with pytest.raises(SchemaError, match="no row for 1 packages.*'P002'"):
        package_map(result, packages=sites[sites["package_id"] == "P001"], tiles=None)
