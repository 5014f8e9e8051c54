"""Development capacity: hand-built layouts with known limits give exact floor space,
flats and jobs; limits tables are checked with messages that name the line and column."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import nmgeo
from nmgeo.capacity import (
    assign_capacity,
    capacity_parameters,
    capacity_targets,
    package_capacity,
    read_limits,
    zones_without_limits,
)
from nmgeo.errors import LimitsError

X0, Y0 = 830_000, 838_000  # inside Hong Kong, for the readers' coordinate checks


def _land(rows):
    """Square sites of the given side (m), side by side: (zone_label, land_use, side, extra)."""
    geoms, data, x = [], [], X0
    for label, use, side, *extra in rows:
        geoms.append(shapely.box(x, Y0, x + side, Y0 + side))
        data.append({"zone_label": label, "land_use": use, **(extra[0] if extra else {})})
        x += side
    return gpd.GeoDataFrame(pd.DataFrame(data), geometry=geoms, crs="EPSG:2326")


def _limits(**columns):
    return read_limits(pd.DataFrame(columns))


def test_plot_ratio_gfa_flats_and_jobs_are_exact():
    land = _land([("C(1)", "commercial", 100), ("R(A)2", "residential", 200)])
    limits = _limits(
        zone_label=["C(1)", "R(A)"],
        max_plot_ratio_non_domestic=[9.5, 0.5],
        max_plot_ratio_domestic=[None, 6.0],
    )
    out = assign_capacity(land, limits)
    # 1 ha x 9.5; 4 ha x (6 + 0.5)
    assert out["gfa_m2"].tolist() == pytest.approx([95_000, 260_000])
    assert out["gfa_commercial_m2"].tolist() == pytest.approx([95_000, 20_000])
    assert out["gfa_domestic_m2"].tolist() == pytest.approx([0, 240_000])
    assert out["binding_limit"].tolist() == ["plot_ratio", "plot_ratio"]
    # R(A)2 has no row of its own: the family R(A) applies
    assert out["limits_match"].tolist() == ["zone_label", "family"]
    assert out["flats"].tolist() == pytest.approx([0, 240_000 / 60])
    assert out["population"].tolist() == pytest.approx([0, 4_000 * 2.7])
    assert out["jobs"].tolist() == pytest.approx([95_000 / 20, 20_000 / 20])


def test_height_binds_below_plot_ratio():
    # 100 mPD on ground 5 mPD: floor(95 / 4.5) = 21 storeys x 20 % coverage = PR 4.2 < 6
    land = _land([("C", "commercial", 100)])
    limits = _limits(
        zone_label=["C"], max_plot_ratio=[6], max_height_mpd=[100], max_site_coverage=["20%"]
    )
    out = assign_capacity(land, limits)
    assert out["gfa_m2"].iloc[0] == pytest.approx(10_000 * 0.2 * 21)
    assert out["binding_limit"].iloc[0] == "height"
    # The ground from assign_terrain changes the storeys: 100 - 50 = 50 m -> 11 storeys
    land["mean_elevation_m"] = 50.0
    out = assign_capacity(land, limits)
    assert out["gfa_m2"].iloc[0] == pytest.approx(10_000 * 0.2 * 11)


def test_a_zone_without_limits_gets_no_invented_number():
    land = _land([("C", "commercial", 100), ("CDA", "mixed_use", 100)])
    limits = _limits(zone_label=["C"], max_plot_ratio=[5])
    out = assign_capacity(land, limits)
    assert np.isnan(out["gfa_m2"].iloc[1]) and pd.isna(out["binding_limit"].iloc[1])
    assert np.isnan(out["flats"].iloc[1]) and np.isnan(out["jobs"].iloc[1])
    missing = zones_without_limits(out)
    assert missing[["zone_label", "n_pieces"]].to_dict("records") == [
        {"zone_label": "CDA", "n_pieces": 1}
    ]
    assert missing["area_ha"].iloc[0] == pytest.approx(1.0)


def test_height_without_site_coverage_does_not_limit_gfa():
    land = _land([("G/IC", "public_facility", 100), ("G/IC(1)", "public_facility", 100)])
    limits = _limits(zone_label=["G/IC"], max_height_storeys=[8])
    out = assign_capacity(land, limits)
    assert out["gfa_m2"].isna().all()
    # ... unless a site coverage is given as a parameter
    out = assign_capacity(land, limits, parameters={"site_coverage": 0.5})
    assert out["gfa_gic_m2"].tolist() == pytest.approx([40_000, 40_000])
    assert out["jobs"].tolist() == pytest.approx([800, 800])


def test_gfa_cap_is_shared_by_area_and_total_plot_ratio_scales_the_split():
    land = _land(
        [("C(2)", "commercial", 100), ("C(2)", "commercial", 200), ("CDA", "mixed_use", 100)]
    )
    limits = _limits(
        zone_label=["C(2)", "CDA"],
        max_plot_ratio_non_domestic=[8, 2],
        max_plot_ratio_domestic=[None, 6],
        max_plot_ratio=[None, 4],
        max_gfa_m2=["100,000 m²", None],
    )
    out = assign_capacity(land, limits)
    # 5 ha of C(2) share 100,000 m²: 1/5 and 4/5 (PR 8 would allow 80,000 and 320,000)
    assert out["gfa_m2"].iloc[:2].tolist() == pytest.approx([20_000, 80_000])
    assert out["binding_limit"].iloc[:2].tolist() == ["gfa_cap", "gfa_cap"]
    # CDA: 6 + 2 scaled to the total 4: domestic 3, non-domestic 1
    assert out["gfa_domestic_m2"].iloc[2] == pytest.approx(30_000)
    assert out["gfa_commercial_m2"].iloc[2] == pytest.approx(10_000)


def test_total_plot_ratio_alone_on_mixed_use_has_unknown_split():
    land = _land([("CDA", "mixed_use", 100)])
    out = assign_capacity(land, _limits(zone_label=["CDA"], max_plot_ratio=[5]))
    assert out["gfa_m2"].iloc[0] == pytest.approx(50_000)
    assert np.isnan(out["gfa_domestic_m2"].iloc[0]) and np.isnan(out["flats"].iloc[0])


def test_plan_specific_row_wins_over_the_label_and_the_family():
    land = _land(
        [
            ("C(1)", "commercial", 100, {"plan_no": "S/NE-KTN/2"}),
            ("C(1)", "commercial", 100, {"plan_no": "S/YL/26"}),
            ("C(3)", "commercial", 100, {"plan_no": "S/NE-KTN/2"}),
            ("C(3)", "commercial", 100, {"plan_no": "S/YL/26"}),
        ]
    )
    limits = _limits(
        plan_no=["s/ne-ktn/2", None, "S/NE-KTN/2", None],
        zone_label=["C(1)", "C(1)", "C", "C"],
        max_plot_ratio=[9, 3, 7, 1],
    )
    out = assign_capacity(land, limits)
    assert out["gfa_m2"].tolist() == pytest.approx([90_000, 30_000, 70_000, 10_000])
    assert out["limits_match"].tolist() == [
        "plan_no+zone_label",
        "zone_label",
        "plan_no+family",
        "family",
    ]


def test_ou_zones_match_by_their_specified_use():
    land = _land(
        [
            ("OU", "commercial", 100, {"specified_use": "BUSINESS"}),
            ("OU", "transport", 100, {"specified_use": "Railway Station"}),
        ]
    )
    out = assign_capacity(land, _limits(zone_label=["OU(Business)"], max_plot_ratio=[9.5]))
    assert out["gfa_m2"].iloc[0] == pytest.approx(95_000)
    assert np.isnan(out["gfa_m2"].iloc[1])


def test_building_height_controls_limit_the_land_they_cover():
    # A 100 m x 100 m C site, PR 10, coverage 50 %; its west half under a 5-storey control,
    # a 10 m strip of its east half a non-building area.
    land = _land([("C", "commercial", 100)])
    limits = _limits(zone_label=["C"], max_plot_ratio=[10], max_site_coverage=[0.5])
    controls = nmgeo.read_height_controls(
        gpd.GeoDataFrame(
            {"bhc_type": ["BHCB", "NBA"], "bhc_value": ["5 storeys", None]},
            geometry=[
                shapely.box(X0, Y0, X0 + 50, Y0 + 100),
                shapely.box(X0 + 90, Y0, X0 + 100, Y0 + 100),
            ],
            crs="EPSG:2326",
        )
    )
    out = assign_capacity(land, limits, height_controls=controls)
    # 5,000 m² x 0.5 x 5 storeys; the rest has no height limit: the GFA stays below PR 10
    # only where the control applies, so the height candidate is unlimited -> plot ratio.
    assert out["binding_limit"].iloc[0] == "plot_ratio"
    # With a 10-storey limit on the rest the height binds:
    # 5,000 x 0.5 x 5 + 1,000 x 0 + 4,000 x 0.5 x 10 = 32,500 < 100,000
    limits = _limits(
        zone_label=["C"], max_plot_ratio=[10], max_site_coverage=[0.5], max_height_storeys=[10]
    )
    out = assign_capacity(land, limits, height_controls=controls)
    assert out["gfa_m2"].iloc[0] == pytest.approx(32_500)
    assert out["binding_limit"].iloc[0] == "height"


def test_land_under_overlapping_height_controls_takes_the_strictest_once():
    # A 100 m x 100 m C site (PR 10, coverage 50 %, 10 storeys) on ground 5 mPD. Controls:
    # a 6-storey band over x 0-60, a 30 mPD band over x 40-100 (whole non-domestic floors
    # over the ground: 5 storeys, stricter where the bands overlap), and a non-building
    # area over x 0-20 inside the first band; the first band is listed twice.
    land = _land([("C", "commercial", 100)])
    limits = _limits(
        zone_label=["C"], max_plot_ratio=[10], max_site_coverage=[0.5], max_height_storeys=[10]
    )
    strip = [(0, 60), (40, 100), (0, 20), (0, 60)]
    controls = nmgeo.read_height_controls(
        gpd.GeoDataFrame(
            {
                "bhc_type": ["BHCS", "BHCB", "NBA", "BHCS"],
                "bhc_value": ["6 storeys", "30 mPD", None, "6 storeys"],
            },
            geometry=[shapely.box(X0 + a, Y0, X0 + b, Y0 + 100) for a, b in strip],
            crs="EPSG:2326",
        )
    )
    out = assign_capacity(land, limits, height_controls=controls)
    floor = capacity_parameters().set_index("name")["value"]["floor_height_non_domestic_m"]
    ground = capacity_parameters().set_index("name")["value"]["ground_level_mpd"]
    by_mpd = np.floor((30 - ground) / floor)
    # x 0-20: nothing; x 20-40: 6 storeys; x 40-60: the stricter of 6 and the mPD storeys;
    # x 60-100: the mPD storeys. Each strip is 100 m deep, built over at 50 %.
    want = 0.5 * 100 * (20 * 0 + 20 * 6 + 20 * min(6, by_mpd) + 40 * by_mpd)
    assert by_mpd != 6  # the overlap must tell the two bands apart
    assert out["gfa_m2"].iloc[0] == pytest.approx(want, rel=1e-12)
    assert out["binding_limit"].iloc[0] == "height"
    # Listing every control twice changes nothing.
    twice = assign_capacity(land, limits, height_controls=pd.concat([controls, controls]))
    assert twice["gfa_m2"].iloc[0] == pytest.approx(want, rel=1e-12)


def test_a_control_covering_a_whole_piece_limits_all_of_it():
    # Irregular pieces under a control drawn on their own bounds: the intersection's area
    # comes back a rounding residue short of the piece's, which must not count as land
    # without a height limit (it would make the height candidate unlimited).
    rng = np.random.default_rng(7)
    limits = _limits(zone_label=["C"], max_plot_ratio=[9.5], max_site_coverage=[0.5])
    for _ in range(20):
        corners = rng.uniform(0, 100, (12, 2)) + [X0 + 0.123, Y0 + 0.456]
        piece = shapely.convex_hull(shapely.multipoints(corners))
        land = gpd.GeoDataFrame(
            {"zone_label": ["C"], "land_use": ["commercial"]}, geometry=[piece], crs="EPSG:2326"
        )
        controls = nmgeo.read_height_controls(
            gpd.GeoDataFrame(
                {"bhc_type": ["BHCS"], "bhc_value": ["4 storeys"]},
                geometry=[shapely.box(*piece.bounds)],
                crs="EPSG:2326",
            )
        )
        out = assign_capacity(land, limits, height_controls=controls)
        assert out["binding_limit"].iloc[0] == "height"
        assert out["gfa_m2"].iloc[0] == pytest.approx(piece.area * 0.5 * 4, rel=1e-9)


def test_capacity_ignores_row_order():
    land = _land([(f"C({k % 3 + 1})", "commercial", 50 + 10 * k) for k in range(6)])
    limits = _limits(
        zone_label=["C(1)", "C(2)", "C"], max_plot_ratio=[3, 4, 5], max_gfa_m2=[None, 9_000, None]
    )
    out = assign_capacity(land, limits)
    shuffled = assign_capacity(land.iloc[::-1], limits).loc[land.index]
    pd.testing.assert_frame_equal(pd.DataFrame(out), pd.DataFrame(shuffled))


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("max_plot_ratio", "abc", "not a number"),
        ("max_plot_ratio", "-1", "outside"),
        ("max_plot_ratio", "35", "outside"),
        ("max_height_storeys", "120 mPD", "storeys"),
        ("max_site_coverage", "60", "percentage with %"),
        ("max_gfa_m2", "12,000 ha", "m²"),
    ],
)
def test_bad_cells_are_refused_naming_line_and_column(tmp_path, column, value, words):
    path = tmp_path / "limits.csv"
    pd.DataFrame({"zone_label": ["C", "G/IC"], column: ["1", value]}).to_csv(path, index=False)
    with pytest.raises(LimitsError) as err:
        read_limits(path)
    text = str(err.value)
    assert "line 3" in text and column in text and words in text and str(path) in text


def test_duplicate_keys_and_missing_label_column_are_refused(tmp_path):
    with pytest.raises(
        LimitsError, match=r"row 1: C\(1\) on any plan already has limits \(row 0\)"
    ):
        read_limits(pd.DataFrame({"zone_label": ["C(1)", "c (1)"], "max_plot_ratio": [1, 2]}))
    with pytest.raises(LimitsError, match="no zone_label column"):
        read_limits(pd.DataFrame({"zone": [None], "pr": [1]}).drop(columns="zone"))


def test_limits_read_from_xlsx_equal_csv(tmp_path):
    table = pd.DataFrame(
        {"Plan_No": ["S/HSK/3", ""], "Zone_Label": ["C(1)", "G/IC"], "Max_Plot_Ratio": ["9.5", ""]}
    )
    table.to_csv(tmp_path / "l.csv", index=False)
    table.to_excel(tmp_path / "l.xlsx", index=False)
    a, b = read_limits(tmp_path / "l.csv"), read_limits(tmp_path / "l.xlsx")
    pd.testing.assert_frame_equal(
        a[["plan_no", "zone_label", "max_plot_ratio"]],
        b[["plan_no", "zone_label", "max_plot_ratio"]],
    )
    assert a["plan_no"].iloc[0] == "S/HSK/3" and pd.isna(a["plan_no"].iloc[1])


def test_limits_matching_no_zone_are_an_error():
    land = _land([("C", "commercial", 100)])
    with pytest.raises(LimitsError, match="matches a zone"):
        assign_capacity(land, _limits(zone_label=["R(A)"], max_plot_ratio=[5]))


def test_parameters_are_overridable_and_checked():
    land = _land([("R(B)", "residential", 100)])
    limits = _limits(zone_label=["R(B)"], max_plot_ratio_domestic=[3])
    out = assign_capacity(land, limits, parameters={"flat_size_m2": 50, "persons_per_flat": 3})
    assert out["flats"].iloc[0] == pytest.approx(600) and out["population"].iloc[0] == 1800
    with pytest.raises(nmgeo.errors.InputError, match="does not exist"):
        capacity_parameters({"flat_size": 50})
    assert (capacity_parameters()["source"].str.len() > 20).all()


def _two_packages():
    zones = _land(
        [
            ("C", "commercial", 200, {"plan_no": "S/T/1"}),
            ("O", "open_space", 100, {"plan_no": "S/T/1"}),
            ("R(A)", "residential", 200, {"plan_no": "S/T/1"}),
            ("CDA", "mixed_use", 200, {"plan_no": "S/T/1"}),
        ]
    )
    fabric = nmgeo.land_fabric(zones)
    result = nmgeo.build_packages(fabric, commercial=("commercial", "mixed_use"), min_area_ha=1)
    return fabric, result


def test_package_capacity_sums_its_pieces_and_checks_open_space():
    fabric, result = _two_packages()
    limits = _limits(
        zone_label=["C", "CDA", "R(A)"],
        max_plot_ratio_non_domestic=[5, 1, None],
        max_plot_ratio_domestic=[None, 4, 6],
    )
    capacity = assign_capacity(fabric, limits)
    sites = package_capacity(result, capacity)
    members = result.members.merge(capacity[["piece_id", "gfa_m2", "flats"]], on="piece_id")
    want = members.groupby("package_id")[["gfa_m2", "flats"]].sum()
    got = sites.set_index("package_id")[["gfa_m2", "flats"]]
    pd.testing.assert_frame_equal(got.loc[want.index], want, check_dtype=False)
    # CDA: 4 ha x 4 = 160,000 m² domestic = 2,667 flats = 7,200 persons -> 1.44 ha open space
    need = sites["population"] * 2 / 1e4
    np.testing.assert_allclose(sites["open_space_need_ha"], need)
    held = (
        result.members[result.members["land_use"] == "open_space"]
        .groupby("package_id")["area_m2"]
        .sum()
        / 1e4
    )
    balance = held.reindex(sites["package_id"]).fillna(0).to_numpy() - need.to_numpy()
    np.testing.assert_allclose(sites["open_space_balance_ha"], balance)
    assert sites["limits_share"].between(0, 1).all()


def test_targets_sum_packages_by_major_zone_and_rail_year():
    sites = pd.DataFrame(
        {
            "package_id": ["P001", "P002", "P003"],
            "area_ha": [10.0, 5.0, 1.0],
            "gfa_m2": [1e5, 2e5, np.nan],
            "flats": [1_000.0, 4_000.0, np.nan],
            "jobs": [650.0, 1_300.0, np.nan],
            "major_zone": ["a", "b", "b"],
            "rail_walk_year": pd.array([2034, 2027, pd.NA], dtype="Int64"),
        }
    )
    table = capacity_targets(sites, homes_target=10_000, jobs_target=6_500)
    first = table.iloc[0]
    assert first["flats"] == 5_000 and first["homes_share"] == 0.5 and first["jobs_share"] == 0.3
    zones = table[table["by"] == "major_zone"].set_index("group")
    assert zones.loc["b", "n_packages"] == 2 and zones.loc["b", "flats"] == 4_000
    rail = table[table["by"] == "rail_walk_year"]
    assert rail["group"].tolist() == ["2027", "2034", "no rail within a walk"]
    assert rail["flats_cumulative"].tolist() == [4_000, 5_000, 5_000]


def test_sample_capacity_reaches_a_share_of_the_targets():
    s = nmgeo.load_sample()
    window = (826_000, 832_000, 832_000, 838_000)
    zones = s.zones.cx[window[0] : window[1], window[2] : window[3]]
    lots = s.parcels.cx[window[0] : window[1], window[2] : window[3]]
    fabric = nmgeo.land_fabric(zones, lots)
    result = nmgeo.build_packages(fabric)
    capacity = assign_capacity(fabric, read_limits(s.limits_path))
    sites = package_capacity(result, capacity)
    # Independently: plot ratio x area for the commercial C(2) pieces of the window
    c2 = capacity[capacity["zone_label"].eq("C(2)")]
    area = shapely.area(c2.geometry.to_numpy())
    np.testing.assert_allclose(c2["gfa_m2"], area * 3)
    table = capacity_targets(sites)
    assert table.iloc[0]["jobs"] == pytest.approx(sites["jobs"].sum())
    assert 0 < table.iloc[0]["jobs_share"]
