"""Report tables (area_report, package_report) and the files they are written to."""

from __future__ import annotations

import base64
import datetime
import html
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

import nmgeo
from nmgeo.errors import InputError, SchemaError
from nmgeo.report import column_unit, package_report, with_units, write_report


@pytest.fixture
def lots() -> gpd.GeoDataFrame:
    x, y = 830_000, 840_000
    return gpd.GeoDataFrame(
        {
            "major_zone": ["a", "a", "b", None],
            "land_use": ["commercial", "village", "commercial", "commercial"],
        },
        geometry=[
            box(x, y, x + 100, y + 100),  # 1 ha
            box(x, y, x + 100, y + 300),  # 3 ha
            box(x, y, x + 200, y + 100),  # 2 ha
            box(x, y, x + 400, y + 100),  # 4 ha
        ],
        crs="EPSG:2326",
    )


def test_hectares_and_shares_by_two_columns(lots):
    table = nmgeo.area_report(lots, by=("major_zone", "land_use")).set_index(
        ["major_zone", "land_use"]
    )
    assert table.loc[("a", "commercial"), "area_ha"] == pytest.approx(1.0)
    assert table.loc[("a", "village"), "area_ha"] == pytest.approx(3.0)
    assert table.loc[("b", "commercial"), "area_ha"] == pytest.approx(2.0)
    assert table.loc[("(none)", "commercial"), "area_ha"] == pytest.approx(4.0)
    assert table.loc[("a", "village"), "share"] == pytest.approx(0.3)
    assert table.loc[("a", "village"), "share_within"] == pytest.approx(0.75)
    assert table["share"].sum() == pytest.approx(1.0)
    assert table["n_parcels"].sum() == len(lots)


def test_area_m2_column_wins_over_geometry(lots):
    lots = lots.assign(area_m2=[10_000.0, 10_000.0, 10_000.0, 10_000.0])
    table = nmgeo.area_report(lots, by="land_use").set_index("land_use")
    assert table.loc["commercial", "area_ha"] == pytest.approx(3.0)
    assert "share_within" not in table.columns


def test_unknown_column_is_a_clear_error(lots):
    with pytest.raises(SchemaError, match="district"):
        nmgeo.area_report(lots, by=("district",))


# --------------------------------------------------------------------------- package_report


@pytest.fixture(scope="module")
def sample():
    return nmgeo.load_sample()


@pytest.fixture(scope="module")
def packages_result(sample):
    return nmgeo.build_packages(sample.parcels)


def _with_access(result, **options):
    """The package report with the access columns, as a planner builds it."""
    return package_report(nmgeo.assign_access(result.packages, **options))


def test_package_report_has_one_row_per_package_in_id_order(packages_result):
    table = package_report(packages_result)
    assert list(table["package_id"]) == sorted(packages_result.packages["package_id"])
    assert "geometry" not in table.columns
    expected = packages_result.packages.set_index("package_id")
    for col in (
        "area_ha",
        "commercial_ha",
        "facility_ha",
        "facility_share",
        "n_sites",
        "n_pieces",
        "n_commercial",
        "n_facility",
        "government_ha",
        "government_share",
        "leased_ha",
        "leased_share",
        "unknown_tenure_ha",
        "n_lots",
        "n_lots_cut",
        "compactness",
        "site_outline_ha",
        "major_zone",
    ):
        got = table.set_index("package_id")[col]
        pd.testing.assert_series_equal(got, expected[col].loc[got.index], check_names=False)
    assert not any(c.startswith(("bcp_", "rail_", "mean_")) for c in table.columns)


@pytest.mark.parametrize("as_of", [None, 2030])
def test_package_report_access_figures_match_the_proximity_functions(
    sample, packages_result, as_of
):
    table = _with_access(packages_result, as_of=as_of, years=(2026, 2034))
    table = table.set_index("package_id")
    year = datetime.date.today().year if as_of is None else as_of
    assert table.attrs["as_of"] == year
    # Independent computation on freshly built packages, with the stations of that year.
    packages = nmgeo.build_packages(sample.parcels).packages.set_index("package_id")
    stations = nmgeo.reference.rail_stations()
    counted = stations[stations["opening_year"] <= year]
    bcp = nmgeo.bcp_proximity(packages)
    rail = nmgeo.proximity(packages, counted, prefix="rail_")
    share = nmgeo.catchment_share(packages, counted, catchment_radius=500.0)
    ids = table.index
    assert list(table["bcp_name"]) == list(bcp.loc[ids, "bcp_name"])
    np.testing.assert_allclose(table["bcp_distance_m"], bcp.loc[ids, "bcp_distance_m"])
    assert list(table["rail_name"]) == list(rail.loc[ids, "rail_name"])
    np.testing.assert_allclose(table["rail_distance_m"], rail.loc[ids, "rail_distance_m"])
    # The same packages measured by rail_proximity with the same as_of agree too.
    same = nmgeo.rail_proximity(packages, as_of=as_of)
    np.testing.assert_allclose(table["rail_distance_m"], same.loc[ids, "rail_distance_m"])
    for y in (2026, 2034):
        d = nmgeo.proximity(packages, stations[stations["opening_year"] <= y], prefix="r_")
        np.testing.assert_allclose(table[f"rail_distance_m_{y}"], d.loc[ids, "r_distance_m"])
    assert "rail_distance_m_2030" not in table.columns
    # First opening year among the stations within 800 m of each package.
    reach = [
        stations.loc[stations.distance(g) <= 800.0, "opening_year"] for g in packages.geometry
    ]
    first = pd.Series(
        [r.min() if len(r) else pd.NA for r in reach], index=packages.index, dtype="Int64"
    )
    pd.testing.assert_series_equal(table["rail_walk_year"], first.loc[ids], check_names=False)
    np.testing.assert_allclose(table["rail_catchment_share"], share.loc[ids, "catchment_share"])
    assert table["rail_catchment_share"].between(0, 1).all()


def test_package_report_timeline_defaults_to_every_change_from_as_of(packages_result):
    table = _with_access(packages_result, as_of=2026)
    opening = nmgeo.reference.rail_stations()["opening_year"]
    years = [2026, *sorted(set(opening[opening > 2026]))]
    assert [c for c in table.columns if c.startswith("rail_distance_m_")] == [
        f"rail_distance_m_{y}" for y in years
    ]


def test_package_report_as_of_counts_stations_open_by_that_year(sample, packages_result):
    table = _with_access(packages_result, as_of=2034, catchment_radius=800.0)
    table = table.set_index("package_id")
    packages = nmgeo.build_packages(sample.parcels).packages.set_index("package_id")
    rail = nmgeo.rail_proximity(packages, as_of=2034).loc[table.index]
    np.testing.assert_allclose(table["rail_distance_m"], rail["rail_distance_m"])
    stations = nmgeo.reference.rail_stations(as_of=2034)
    share = nmgeo.catchment_share(packages, stations, catchment_radius=800.0)
    np.testing.assert_allclose(
        table["rail_catchment_share"], share.loc[table.index, "catchment_share"]
    )
    # A later network can only bring stations closer.
    today = _with_access(packages_result).set_index("package_id")
    assert (table["rail_distance_m"] <= today["rail_distance_m"] + 1e-9).all()


def test_package_report_terrain_matches_zonal_stats_of_dem_and_slope(
    sample, packages_result, tmp_path
):
    table = package_report(nmgeo.assign_terrain(packages_result.packages, sample.dem_path))
    packages = packages_result.packages.sort_values("package_id").reset_index(drop=True)
    elevation = nmgeo.zonal_stats(packages, sample.dem_path, stats=("mean",))["mean"]
    slope_path = nmgeo.write_raster(nmgeo.slope_raster(sample.dem_path), tmp_path / "slope.tif")
    slope = nmgeo.zonal_stats(packages, slope_path, stats=("mean",))["mean"]
    np.testing.assert_allclose(table["mean_elevation_m"], elevation)
    np.testing.assert_allclose(table["mean_slope_deg"], slope)
    assert (table["mean_slope_deg"] >= 0).all()


def test_package_report_rejects_other_inputs(lots):
    with pytest.raises(InputError):
        package_report(pd.DataFrame({"package_id": ["P001"]}))
    with pytest.raises(SchemaError, match="package_id"):
        package_report(lots)


# --------------------------------------------------------------------------- write_report


@pytest.fixture
def frames(lots) -> dict[str, pd.DataFrame]:
    packages = gpd.GeoDataFrame(
        {
            "package_id": ["P001", "P002"],
            "area_ha": [12.5, 3.25],
            "facility_share": [0.2, 0.0],
            "bcp_distance_m": [1500.0, 2750.5],
            "rail_distance_m_2034": [400.0, np.nan],
            "mean_slope_deg": [1.5, 7.25],
            "n_parcels": [10, 3],
            "major_zone": ["innovation_technology", "a <script>alert(1)</script> | b"],
        },
        geometry=[box(0, 0, 1, 1), box(1, 1, 2, 2)],
        crs="EPSG:2326",
    )
    return {
        "packages": packages,
        "areas by zone and land use": nmgeo.area_report(lots),
    }


def test_units_come_from_column_names():
    assert with_units("area_ha") == "area_ha (ha)"
    assert with_units("bcp_distance_m") == "bcp_distance_m (m)"
    assert with_units("area_m2") == "area_m2 (m²)"
    assert with_units("facility_share") == "facility_share (0-1)"
    assert with_units("share") == "share (0-1)"
    assert with_units("mean_slope_deg") == "mean_slope_deg (°)"
    assert with_units("rail_distance_m_2030") == "rail_distance_m_2030 (m)"
    assert with_units("n_parcels") == "n_parcels"
    assert with_units("major_zone") == "major_zone"
    assert column_unit("package_id") is None


def test_write_report_writes_every_format(frames, tmp_path):
    written = write_report(frames, tmp_path / "new" / "report")
    assert set(written) == {"xlsx", "md", "html", "csv:packages", "csv:areas by zone and land use"}
    assert written["xlsx"] == tmp_path / "new" / "report.xlsx"
    assert (
        written["csv:areas by zone and land use"].name == "report_areas_by_zone_and_land_use.csv"
    )
    assert all(p.is_file() and p.stat().st_size > 0 for p in written.values())


def test_csv_has_plain_names_and_the_values(frames, tmp_path):
    written = write_report(frames, tmp_path / "report", formats=("csv",))
    assert set(written) == {"csv:packages", "csv:areas by zone and land use"}
    back = pd.read_csv(written["csv:packages"])
    expected = pd.DataFrame(frames["packages"].drop(columns="geometry"))
    assert list(back.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)


def test_xlsx_reads_back_one_sheet_per_table_with_units(frames, tmp_path):
    frames = {**frames, "x" * 40: frames["packages"]}
    written = write_report(frames, tmp_path / "report", formats=("xlsx",))
    sheets = pd.read_excel(written["xlsx"], sheet_name=None)
    assert list(sheets) == ["packages", "areas by zone and land use", "x" * 31]
    got = sheets["packages"]
    expected = pd.DataFrame(frames["packages"].drop(columns="geometry"))
    assert list(got.columns) == [
        "package_id",
        "area_ha (ha)",
        "facility_share (0-1)",
        "bcp_distance_m (m)",
        "rail_distance_m_2034 (m)",
        "mean_slope_deg (°)",
        "n_parcels",
        "major_zone",
    ]
    got.columns = expected.columns
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    areas = sheets["areas by zone and land use"]
    assert "area_ha (ha)" in areas and "share_within (0-1)" in areas
    np.testing.assert_allclose(
        areas["area_ha (ha)"], frames["areas by zone and land use"]["area_ha"]
    )


def test_xlsx_stores_formula_like_text_as_text(tmp_path):
    import openpyxl

    table = pd.DataFrame({"note": ["=1+2", "plain"]})
    written = write_report({"t": table}, tmp_path / "r", formats=("xlsx",))
    cell = openpyxl.load_workbook(written["xlsx"])["t"]["A2"]
    assert cell.value == "'=1+2" and cell.data_type == "s"  # neutralised, as text


def _markdown_tables(text: str) -> dict[str, list[list[str]]]:
    """Section heading -> rows of cells (header first) of the pipe table under it."""
    tables: dict[str, list[list[str]]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:]
            tables[current] = []
        elif line.startswith("|") and current is not None:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not all(set(c) <= set(":-") for c in cells):
                tables[current].append([c.replace("\\|", "|") for c in cells])
    return tables


def test_markdown_tables_parse_back_to_the_cells(frames, tmp_path):
    written = write_report(frames, tmp_path / "report", formats=("md",), title="NM packages")
    text = written["md"].read_text(encoding="utf-8")
    assert text.startswith("# NM packages")
    tables = _markdown_tables(text)
    assert list(tables) == ["packages", "areas by zone and land use"]
    header, *rows = tables["packages"]
    assert header[:3] == ["package_id", "area_ha (ha)", "facility_share (0-1)"]
    assert len(rows) == 2
    assert rows[0][:4] == ["P001", "12.5", "0.2", "1500"]
    assert rows[1][3] == "2750.5" and rows[1][4] == ""  # NaN is an empty cell
    assert rows[1][-1] == "a &lt;script&gt;alert(1)&lt;/script&gt; | b"  # escaped, not live
    header, *rows = tables["areas by zone and land use"]
    expected = frames["areas by zone and land use"]
    assert len(rows) == len(expected)
    areas = [float(r[header.index("area_ha (ha)")]) for r in rows]
    np.testing.assert_allclose(areas, expected["area_ha"], atol=1e-3)


class FakeRoot:
    def render(self) -> str:
        return '<html><body><div id="map" class="folium">"quoted" & more</div></body></html>'


class FakeMap:
    def get_root(self) -> FakeRoot:
        return FakeRoot()


def test_html_page_holds_every_table_escaped(frames, tmp_path):
    written = write_report(frames, tmp_path / "report", formats=("html",), title="A & B")
    page = written["html"].read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>A &amp; B</title>" in page
    assert page.count("<table") == 2
    assert "<h2>packages</h2>" in page and "<h2>areas by zone and land use</h2>" in page
    assert "<th>area_ha (ha)</th>" in page and "<th>mean_slope_deg (°)</th>" in page
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<iframe" not in page and "data:image/png" not in page


def test_html_embeds_the_map_in_an_iframe_srcdoc(frames, tmp_path):
    written = write_report(frames, tmp_path / "report", formats=("html",), map=FakeMap())
    page = written["html"].read_text(encoding="utf-8")
    match = re.search(r'<iframe[^>]*srcdoc="([^"]*)"', page)
    assert match is not None
    assert html.unescape(match.group(1)) == FakeRoot().render()
    assert "&quot;quoted&quot; &amp; more" in match.group(1)


def test_html_embeds_a_figure_as_base64_png(frames, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    written = write_report(frames, tmp_path / "report", formats=("html",), figure=fig)
    plt.close(fig)
    page = written["html"].read_text(encoding="utf-8")
    match = re.search(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert match is not None
    assert base64.b64decode(match.group(1)).startswith(b"\x89PNG\r\n\x1a\n")


def test_write_report_rejects_bad_input(frames, tmp_path):
    with pytest.raises(InputError, match="pdf"):
        write_report(frames, tmp_path / "r", formats=("pdf",))
    with pytest.raises(InputError):
        write_report({}, tmp_path / "r")
    with pytest.raises(InputError, match="not a DataFrame"):
        write_report({"t": [1, 2]}, tmp_path / "r")
    with pytest.raises(InputError, match="same name"):
        write_report({"a b": frames["packages"], "a_b": frames["packages"]}, tmp_path / "r")


def test_empty_tables_are_reported_as_having_no_rows(tmp_path):
    empty = pd.DataFrame({"package_id": pd.Series(dtype=str), "area_ha": pd.Series(dtype=float)})
    written = write_report({"packages": empty}, tmp_path / "r", formats=("md", "html"))
    assert "*(no rows)*" in written["md"].read_text(encoding="utf-8")
    assert "(no rows)" in written["html"].read_text(encoding="utf-8")


def test_area_report_counts_a_straddling_lot_in_each_zone_it_lies_in():
    from cadastre import b, lots_of, zones_of

    zones = zones_of(
        [("C", "commercial", b(0, 0, 100, 100)), ("AGR", "agriculture", b(100, 0, 200, 100))]
    )
    # 70 % of the lot lies in the C zone, 30 % in AGR.
    lots = nmgeo.assign_zoning(lots_of(["L"], [b(30, 0, 130, 10)]), zones)
    assert lots["land_use"].tolist() == ["commercial"]  # the dominant zone, for display
    whole = nmgeo.area_report(lots, by="land_use")
    assert whole.set_index("land_use")["area_ha"].to_dict() == pytest.approx({"commercial": 0.1})
    fabric = nmgeo.land_fabric(zones, lots.drop(columns=["zone_label", "land_use"]))
    leased = fabric[fabric["parcel_id"].notna()]
    cut = nmgeo.area_report(leased, by="land_use").set_index("land_use")
    assert cut["area_ha"].to_dict() == pytest.approx({"agriculture": 0.03, "commercial": 0.07})
    assert cut["share"].sum() == pytest.approx(1.0)
    # On the fabric, the zones' Government land is counted too.
    fabric = nmgeo.land_fabric(zones, lots)
    table = nmgeo.area_report(fabric, by=("land_use", "tenure")).set_index(["land_use", "tenure"])
    assert table["area_ha"].to_dict() == pytest.approx(
        {
            ("agriculture", "government"): 0.97,
            ("agriculture", "leased"): 0.03,
            ("commercial", "government"): 0.93,
            ("commercial", "leased"): 0.07,
        }
    )
