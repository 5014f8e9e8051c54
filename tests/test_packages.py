"""build_packages and split_package on hand-built layouts with known answers."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from cadastre import b, cadastres, lots_of, zones_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import box

import nmgeo
from nmgeo.errors import DuplicateIdError, InputError, SchemaError

X0, Y0 = 826_000.0, 840_000.0  # San Tin, inside the innovation_technology major zone


def _box(x0, y0, x1, y1):
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def layout(*lots: tuple[str, str, tuple[float, float, float, float]], **cols) -> gpd.GeoDataFrame:
    """Parcels from (parcel_id, land_use, (x0, y0, x1, y1)) in metres from the origin."""
    return gpd.GeoDataFrame(
        {"parcel_id": [p for p, _, _ in lots], "land_use": [u for _, u, _ in lots], **cols},
        geometry=[_box(*b) for _, _, b in lots],
        crs="EPSG:2326",
    )


def package_of(result: nmgeo.PackageResult) -> dict[str, str | None]:
    """parcel_id -> package_id (None when excluded)."""
    out = dict(zip(result.members["parcel_id"], result.members["package_id"], strict=True))
    out.update({p: None for p in result.excluded["parcel_id"]})
    return out


def reason_of(result: nmgeo.PackageResult) -> dict[str, str]:
    return dict(zip(result.excluded["parcel_id"], result.excluded["reason"], strict=True))


def test_two_touching_commercial_lots_are_one_package():
    lots = layout(("a", "commercial", (0, 0, 100, 100)), ("b", "commercial", (100, 0, 200, 100)))
    result = nmgeo.build_packages(lots)
    assert len(result.packages) == 1
    row = result.packages.iloc[0]
    assert row["package_id"] == "P001"
    assert row["area_ha"] == pytest.approx(2.0)
    assert row["commercial_ha"] == pytest.approx(2.0)
    assert row["facility_ha"] == 0.0
    assert row["n_sites"] == 2 and row["n_commercial"] == 2 and row["n_facility"] == 0
    assert row["n_pieces"] == 2 and row["n_lots"] == 2 and row["n_lots_cut"] == 0
    # Zoned lots are leased land: no Government land without a fabric.
    assert row["leased_ha"] == pytest.approx(2.0) and row["government_ha"] == 0.0
    assert row.geometry.area == pytest.approx(20_000.0)
    # A 200 m x 100 m rectangle: Polsby-Popper 4 pi A / P^2.
    assert row["compactness"] == pytest.approx(4 * np.pi * 20_000 / 600**2)
    assert row["major_zone"] == "innovation_technology"


@pytest.mark.parametrize(("gap", "n_packages"), [(15.0, 1), (12.0, 1), (10.0, 2)])
def test_a_12_m_road_is_bridged_at_15_m_not_at_10_m(gap, n_packages):
    lots = layout(("a", "commercial", (0, 0, 150, 100)), ("b", "commercial", (162, 0, 312, 100)))
    result = nmgeo.build_packages(lots, gap_tolerance=gap, min_area_ha=1)
    assert len(result.packages) == n_packages
    if n_packages == 1:
        # The site outline closes the road: 312 m x 100 m.
        assert result.packages["site_outline_ha"].iloc[0] == pytest.approx(3.12)
        assert result.packages["area_ha"].iloc[0] == pytest.approx(3.0)


def test_a_facility_beside_one_group_is_attached():
    lots = layout(
        ("c1", "commercial", (0, 0, 100, 100)),
        ("c2", "commercial", (100, 0, 200, 100)),
        ("g", "public_facility", (0, 110, 100, 160)),  # across a 10 m road
        ("o", "open_space", (200, 0, 250, 100)),  # touching
    )
    result = nmgeo.build_packages(lots)
    assert set(package_of(result).values()) == {"P001"}
    row = result.packages.iloc[0]
    assert row["area_ha"] == pytest.approx(3.0)
    assert row["facility_ha"] == pytest.approx(1.0)
    assert row["public_facility_ha"] == pytest.approx(0.5)
    assert row["open_space_ha"] == pytest.approx(0.5)
    assert row["facility_share"] == pytest.approx(1 / 3)
    roles = dict(zip(result.members["parcel_id"], result.members["role"], strict=True))
    assert roles == {"c1": "commercial", "c2": "commercial", "g": "facility", "o": "facility"}


def _between():
    # West group (3 ha) shares 100 m of edge with the G/IC lot; east group (2 ha) 40 m.
    return layout(
        ("w1", "commercial", (-200, 0, -100, 100)),
        ("w2", "commercial", (-100, 0, 0, 100)),
        ("w3", "commercial", (-100, 100, 0, 200)),
        ("gic", "public_facility", (0, 0, 50, 100)),
        ("e1", "commercial", (50, 60, 250, 160)),
    )


def test_a_facility_between_two_groups_goes_to_the_longer_shared_edge():
    result = nmgeo.build_packages(_between(), gap_tolerance=5.0)
    pk = package_of(result)
    assert pk["gic"] == pk["w1"] == pk["w2"] == pk["w3"]
    assert pk["e1"] != pk["gic"] and pk["e1"] is not None
    assert len(result.packages) == 2


def test_bridging_via_facilities_merges_the_groups():
    result = nmgeo.build_packages(_between(), gap_tolerance=5.0, bridge_via_facilities=True)
    assert len(result.packages) == 1
    assert result.packages["area_ha"].iloc[0] == pytest.approx(5.5)
    assert result.packages["n_facility"].iloc[0] == 1


def test_facing_edges_of_equal_length_go_to_the_nearer_group():
    lots = layout(
        ("west", "commercial", (-200, 0, -2, 100)),  # 2 m away
        ("gic", "public_facility", (0, 0, 50, 100)),
        ("east", "commercial", (56, 0, 256, 100)),  # 6 m away
    )
    pk = package_of(nmgeo.build_packages(lots, gap_tolerance=15.0 - 8.5))
    assert pk["gic"] == pk["west"] != pk["east"]


def test_isolated_facility_and_facility_behind_facility_are_not_adjacent():
    lots = layout(
        ("c1", "commercial", (0, 0, 200, 100)),
        ("g1", "public_facility", (200, 0, 250, 100)),
        ("g2", "public_facility", (250, 0, 300, 100)),  # touches only g1
        ("far", "open_space", (1000, 1000, 1100, 1100)),
    )
    result = nmgeo.build_packages(lots)
    assert reason_of(result) == {"g2": "facility_not_adjacent", "far": "facility_not_adjacent"}
    assert package_of(result)["g1"] == "P001"


def test_a_small_group_is_below_min_area_with_its_facilities():
    lots = layout(
        ("big", "commercial", (0, 0, 200, 150)),
        ("small", "commercial", (500, 0, 600, 100)),
        ("small_g", "public_facility", (600, 0, 650, 100)),
    )
    result = nmgeo.build_packages(lots, min_area_ha=2)
    assert reason_of(result) == {"small": "below_min_area", "small_g": "below_min_area"}
    assert list(result.packages["package_id"]) == ["P001"]
    assert result.packages["area_ha"].iloc[0] == pytest.approx(3.0)


def test_other_land_uses_are_ignored_and_earmarked_column_replaces_classes():
    lots = layout(
        ("c", "commercial", (0, 0, 200, 100)),
        ("v", "village", (200, 0, 300, 100)),
        ("gic", "public_facility", (0, 100, 200, 150)),
        earmarked=[False, True, False],
    )
    plain = nmgeo.build_packages(lots)
    assert "v" not in package_of(plain)
    assert package_of(plain)["gic"] == "P001"
    marked = nmgeo.build_packages(lots, earmarked_column="earmarked")
    pk = package_of(marked)
    assert pk["v"] == "P001" and "gic" not in pk
    assert marked.packages["village_ha"].iloc[0] == pytest.approx(1.0)


def test_an_ownership_column_names_government_held_lots():
    lots = layout(
        ("a", "commercial", (0, 0, 100, 100)),
        ("b", "commercial", (100, 0, 200, 100)),
        ("c", "public_facility", (200, 0, 300, 100)),
        holder=["Government", "private", "government"],
    )
    row = nmgeo.build_packages(lots, ownership_column="holder").packages.iloc[0]
    assert row["government_share"] == pytest.approx(2 / 3)
    assert row["leased_share"] == pytest.approx(1 / 3)
    plain = nmgeo.build_packages(lots).packages.iloc[0]
    assert plain["government_share"] == 0.0 and plain["leased_share"] == 1.0
    with pytest.raises(SchemaError, match="ownership_column"):
        nmgeo.build_packages(lots, ownership_column="owner")


def test_ids_rank_packages_by_area():
    lots = layout(
        ("s1", "commercial", (0, 0, 150, 150)),
        ("l1", "commercial", (1000, 0, 1200, 200)),
        ("m1", "commercial", (2000, 0, 2180, 180)),
    )
    result = nmgeo.build_packages(lots)
    order = result.packages.set_index("package_id")["area_ha"]
    assert list(order.index) == ["P001", "P002", "P003"]
    assert order.is_monotonic_decreasing
    assert package_of(result) == {"l1": "P001", "m1": "P002", "s1": "P003"}


def _grid(n: int = 6, seed: int = 0) -> gpd.GeoDataFrame:
    """n x n blocks of 90 m lots separated by 12 m roads, random land uses."""
    rng = np.random.default_rng(seed)
    uses = rng.choice(
        ["commercial", "commercial", "public_facility", "open_space", "village"], n * n
    )
    lots = [
        (f"L{i:02d}{j:02d}", uses[i * n + j], (i * 102, j * 102, i * 102 + 90, j * 102 + 90))
        for i in range(n)
        for j in range(n)
    ]
    return layout(*lots)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.randoms(use_true_random=False))
def test_row_order_never_changes_packages_or_ids(seed, rnd):
    lots = _grid(seed=seed)
    order = list(range(len(lots)))
    rnd.shuffle(order)
    a = nmgeo.build_packages(lots, min_area_ha=1.5)
    b = nmgeo.build_packages(lots.iloc[order], min_area_ha=1.5)
    assert package_of(a) == package_of(b)
    pd.testing.assert_frame_equal(
        a.packages.drop(columns="geometry"), b.packages.drop(columns="geometry")
    )
    assert a.packages.geometry.geom_equals(b.packages.geometry).all()


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([0.0, 5.0, 12.0, 15.0, 30.0]))
def test_every_candidate_is_accounted_for_and_areas_add_up(seed, gap):
    lots = _grid(seed=seed)
    result = nmgeo.build_packages(lots, gap_tolerance=gap)
    cand = lots[lots["land_use"].isin(["commercial", "public_facility", "open_space"])]
    ids = list(result.members["parcel_id"]) + list(result.excluded["parcel_id"])
    assert sorted(ids) == sorted(cand["parcel_id"])
    total = cand.area.sum()
    packaged = result.members["area_m2"].sum()
    excluded = result.excluded["area_m2"].sum()
    assert abs(packaged + excluded - total) <= 1e-9 * total
    np.testing.assert_allclose(
        result.packages["area_ha"] * 1e4, result.packages.geometry.area, rtol=1e-9
    )
    assert (result.packages["area_ha"] * 1e4 >= 20_000).all()


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000))
def test_a_larger_gap_never_splits_a_package(seed):
    lots = _grid(seed=seed)
    small = package_of(nmgeo.build_packages(lots, gap_tolerance=5.0, min_area_ha=0))
    large = package_of(nmgeo.build_packages(lots, gap_tolerance=15.0, min_area_ha=0))
    together: dict[str, set[str]] = {}
    for pid, pk in small.items():
        if pk is not None:
            together.setdefault(pk, set()).add(large[pid])
    assert all(len(v) == 1 for v in together.values())


def test_bad_arguments_are_clear_errors():
    lots = layout(("a", "commercial", (0, 0, 100, 100)))
    with pytest.raises(SchemaError, match="land_use"):
        nmgeo.build_packages(lots.drop(columns="land_use"))
    with pytest.raises(SchemaError, match="earmarked"):
        nmgeo.build_packages(lots, earmarked_column="earmarked")
    with pytest.raises(InputError, match="gap_tolerance"):
        nmgeo.build_packages(lots, gap_tolerance=-1)
    with pytest.raises(InputError, match="both"):
        nmgeo.build_packages(lots, facilities=("commercial",))
    dup = pd.concat([lots, lots], ignore_index=True)
    with pytest.raises(DuplicateIdError, match="'a'"):
        nmgeo.build_packages(dup)


def test_empty_result_is_well_formed():
    lots = layout(("v", "village", (0, 0, 100, 100)))
    result = nmgeo.build_packages(lots)
    assert len(result.packages) == 0 and len(result.members) == 0 and len(result.excluded) == 0
    assert "0 land disposal packages" in result._repr_html_()


def test_html_summary_escapes_and_reports():
    lots = layout(("a", "commercial", (0, 0, 200, 100)), ("g", "open_space", (300, 0, 400, 100)))
    html = nmgeo.build_packages(lots)._repr_html_()
    assert "1 land disposal packages" in html
    assert "facility_not_adjacent 1" in html
    assert "<table" in html


def _row(n: int, facility_at: int | None = None) -> gpd.GeoDataFrame:
    lots = [(f"c{i}", "commercial", (i * 100, 0, i * 100 + 100, 100)) for i in range(n)]
    if facility_at is not None:
        x = facility_at * 100
        lots.append(("gic", "public_facility", (x, 100, x + 100, 150)))
    return layout(*lots)


def test_split_package_makes_contiguous_parts_near_the_target():
    result = nmgeo.build_packages(_row(6, facility_at=5))
    split = nmgeo.split_package(result, "P001", target_area_ha=2.5)
    parts = split.packages.set_index("package_id")
    assert list(parts.index) == ["P001-1", "P001-2", "P001-3"]
    assert parts["area_ha"].sum() == pytest.approx(6.5)
    assert (parts["area_ha"].between(1.9, 2.6)).all()
    pk = package_of(split)
    # The facility stays with the part holding its commercial neighbour c5.
    assert pk["gic"] == pk["c5"]
    for _, geom in parts.geometry.items():
        assert shapely.get_num_geometries(shapely.union_all(shapely.get_parts(geom).tolist())) == 1


def test_splitting_one_package_leaves_the_others_alone():
    row = _row(6)
    other = layout(("x1", "commercial", (0, 1000, 150, 1150)))  # 2.25 ha, P002
    result = nmgeo.build_packages(pd.concat([row, other], ignore_index=True))
    assert package_of(result)["x1"] == "P002"
    split = nmgeo.split_package(result, "P001", target_area_ha=3)
    ids = list(split.packages["package_id"])
    assert ids == ["P001-1", "P001-2", "P002"]
    p2 = split.packages.set_index("package_id").loc["P002"]
    assert p2["area_ha"] == pytest.approx(2.25)
    assert package_of(split)["x1"] == "P002"
    assert sorted(split.members["package_id"].unique()) == ids
    assert set(split.parcels["package_id"].dropna()) == set(ids)


def test_build_packages_can_split_oversize_groups():
    result = nmgeo.build_packages(_row(6), max_area_ha=2.5)
    assert len(result.packages) == 3
    assert result.packages["area_ha"].to_numpy() == pytest.approx([2.0, 2.0, 2.0])


def test_split_package_rejects_unknown_ids():
    result = nmgeo.build_packages(_row(3))
    with pytest.raises(InputError, match="P999"):
        nmgeo.split_package(result, "P999", target_area_ha=1)


def test_groups_agree_with_libpysal_fuzzy_contiguity_on_the_sample():
    """libpysal (oracle only): buffering both sides by gap/2 links parcels within gap."""
    from libpysal.graph import Graph

    sample = nmgeo.load_sample()
    gap = 15.0
    result = nmgeo.build_packages(sample.parcels, facilities=(), gap_tolerance=gap, min_area_ha=0)
    com = sample.parcels[sample.parcels["land_use"] == "commercial"].reset_index(drop=True)
    graph = Graph.build_fuzzy_contiguity(com.geometry, buffer=gap / 2, quad_segs=64)
    oracle = pd.Series(graph.component_labels.to_numpy(), index=com["parcel_id"])
    ours = pd.Series(package_of(result)).reindex(com["parcel_id"])
    assert ours.notna().all()
    # Same partition: each of our packages is exactly one oracle component, and vice versa.
    pairs = pd.DataFrame({"ours": ours.to_numpy(), "oracle": oracle.to_numpy()}).drop_duplicates()
    assert pairs["ours"].is_unique and pairs["oracle"].is_unique
    assert len(result.packages) > 100


# --------------------------------------------------------------------------- on the fabric


def test_government_land_of_a_commercial_zone_is_packaged_with_the_gic_beside_it():
    # Kwu Tung North in miniature: a 3 ha OU(Business) zone, half of it two leased lots,
    # a 1 ha G/IC zone across a 10 m road, and a lot straddling the C zone and farmland.
    zones = zones_of(
        [
            ("OU(B)", "commercial", b(0, 0, 300, 100)),
            ("G/IC", "public_facility", b(0, 110, 100, 210)),
            ("AGR", "agriculture", b(300, 0, 400, 100)),
        ]
    )
    lots = lots_of(
        ["DD95 L1", "DD95 L2", "DD95 L3"],
        [b(0, 0, 100, 100), b(100, 0, 130, 50), b(280, 20, 320, 60)],
    )
    result = nmgeo.build_packages(zones, lots)
    assert len(result.packages) == 1
    row = result.packages.iloc[0]
    assert row["area_ha"] == pytest.approx(4.0)
    assert row["commercial_ha"] == pytest.approx(3.0)
    assert row["public_facility_ha"] == pytest.approx(1.0)
    leased = 10_000 + 1_500 + 20 * 40  # L3 is half in the C zone
    assert row["leased_ha"] == pytest.approx(leased / 1e4)
    assert row["government_ha"] == pytest.approx(4.0 - leased / 1e4)
    assert row["government_share"] == pytest.approx(1 - leased / 40_000)
    assert row["unknown_tenure_ha"] == 0.0
    assert row["n_lots"] == 3 and row["n_lots_cut"] == 1
    assert row["n_sites"] == 2 and row["n_commercial"] == 1 and row["n_facility"] == 1
    members = result.members
    assert set(members["tenure"]) == {"government", "leased"}
    assert members.loc[members["parcel_id"] == "DD95 L3", "area_m2"].sum() == pytest.approx(800)
    assert members["zone_label"].isin(["OU(B)", "G/IC"]).all()
    assert result.parameters["input"] == "fabric"
    # The farmland half of L3 is not a candidate, so it is neither member nor excluded.
    assert not result.excluded["parcel_id"].eq("DD95 L3").any()


def test_zones_alone_give_packages_of_unknown_tenure():
    zones = zones_of(
        [("C", "commercial", b(0, 0, 200, 100)), ("O", "open_space", b(200, 0, 250, 100))]
    )
    result = nmgeo.build_packages(zones)
    row = result.packages.iloc[0]
    assert row["area_ha"] == pytest.approx(2.5)
    assert row["unknown_tenure_ha"] == pytest.approx(2.5)
    assert row["government_ha"] == 0.0 and row["n_lots"] == 0
    assert result.parameters["input"] == "zones"


def test_lots_are_refused_with_a_ready_fabric():
    zones = zones_of([("C", "commercial", b(0, 0, 200, 100))])
    fabric = nmgeo.land_fabric(zones)
    with pytest.raises(InputError, match="land_fabric"):
        nmgeo.build_packages(fabric, lots_of(["L"], [b(0, 0, 1, 1)]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cadastres(), st.sampled_from([0.0, 5.0, 15.0]), st.randoms(use_true_random=False))
def test_packages_on_random_cadastres_account_for_every_piece_in_any_row_order(data, gap, rnd):
    zones, lots = data
    result = nmgeo.build_packages(zones, lots, gap_tolerance=gap, min_area_ha=0.1)
    fabric = nmgeo.land_fabric(zones, lots)
    cand = fabric[fabric["land_use"].isin(["commercial", "public_facility", "open_space"])]
    ids = [*result.members["piece_id"], *result.excluded["piece_id"]]
    assert sorted(ids) == sorted(cand["piece_id"])
    total = result.members["area_m2"].sum() + result.excluded["area_m2"].sum()
    assert total == pytest.approx(cand["area_m2"].sum(), rel=1e-9)
    p = result.packages
    tenure = (p["government_ha"] + p["leased_ha"] + p["unknown_tenure_ha"]) * 1e4
    np.testing.assert_allclose(tenure, p["area_ha"] * 1e4, rtol=1e-9)
    lot_union = shapely.union_all(lots.geometry.values)
    # Government land of a package = its land minus the lots, computed here with shapely.
    gov = shapely.area(shapely.difference(p.geometry.values, lot_union))
    np.testing.assert_allclose(gov, p["government_ha"] * 1e4, rtol=1e-7, atol=1e-4)

    order = list(range(len(zones)))
    rnd.shuffle(order)
    lot_order = list(range(len(lots)))
    rnd.shuffle(lot_order)
    again = nmgeo.build_packages(
        zones.iloc[order], lots.iloc[lot_order], gap_tolerance=gap, min_area_ha=0.1
    )
    pd.testing.assert_frame_equal(
        again.packages.drop(columns="geometry"), p.drop(columns="geometry"), rtol=1e-9
    )
    cols = ["package_id", "piece_id", "parcel_id", "tenure", "role"]
    pd.testing.assert_frame_equal(again.members[cols], result.members[cols])


@pytest.mark.parametrize("gap", [200.5, 1e9])
def test_a_gap_wider_than_any_road_reserve_is_refused(gap):
    land = gpd.GeoDataFrame(
        {"parcel_id": ["a", "b"], "land_use": ["commercial", "commercial"]},
        geometry=[box(0, 0, 100, 100), box(150, 0, 250, 100)],
        crs="EPSG:2326",
    )
    with pytest.raises(InputError, match="wider than any road reserve"):
        nmgeo.build_packages(land, gap_tolerance=gap)
    assert len(nmgeo.build_packages(land, gap_tolerance=200.0, min_area_ha=0).packages) == 1


def test_the_site_outline_never_exceeds_the_convex_hull_of_its_land():
    # An L of thin strips 60 m apart: the closing fills the gap, never beyond the hull.
    strips = [box(0, 0, 400, 20), box(0, 80, 20, 400), box(80, 80, 100, 400)]
    land = gpd.GeoDataFrame(
        {"parcel_id": list("abc"), "land_use": ["commercial"] * 3},
        geometry=strips,
        crs="EPSG:2326",
    )
    result = nmgeo.build_packages(land, gap_tolerance=200.0, min_area_ha=0)
    outline = result.site_outlines().geometry.iloc[0]
    hull = shapely.convex_hull(shapely.union_all(strips))
    assert shapely.area(shapely.difference(outline, hull)) < 1e-6
    assert outline.area <= hull.area + 1e-6


def test_land_use_values_outside_the_vocabulary_are_never_silently_ignored(caplog):
    land = gpd.GeoDataFrame(
        {
            "parcel_id": ["a", "b", "c"],
            "land_use": ["COMMERCIAL", " Open Space ", "shopping"],
        },
        geometry=[box(0, 0, 150, 150), box(155, 0, 300, 150), box(0, 155, 150, 305)],
        crs="EPSG:2326",
    )
    result = nmgeo.build_packages(land, min_area_ha=0)
    # "COMMERCIAL" and " Open Space " are the classes but for case and spaces.
    assert len(result.packages) == 1
    assert result.packages["commercial_ha"].iloc[0] == pytest.approx(150 * 150 / 1e4)
    assert result.packages["facility_ha"].iloc[0] == pytest.approx(145 * 150 / 1e4)
    assert "'COMMERCIAL' as 'commercial' (1 pieces, 2.25 ha)" in caplog.text
    # "shopping" is no class: kept out, and said so with its area.
    assert "'shopping' (1 pieces, 2.25 ha)" in caplog.text
    assert "c" not in set(result.members["parcel_id"])


def test_major_zones_and_packages_do_not_depend_on_the_number_of_threads(monkeypatch):
    """The major-zone overlay and the package outlines split their rows between threads:
    one thread or several, the same zones, packages and outlines."""
    from geopandas.testing import assert_geodataframe_equal

    from nmgeo._geomops import clear_of_boundaries
    from nmgeo._overlay import _NEAR_PIECE
    from nmgeo.packages import _CLOSE_PIECE

    sample = nmgeo.load_sample()
    fabric = nmgeo.land_fabric(sample.zones, sample.parcels)
    runs = []
    for threads in ("1", "2", "3"):
        monkeypatch.setenv("NMGEO_THREADS", threads)
        pieces = nmgeo.assign_major_zone(fabric)
        runs.append((pieces, nmgeo.build_packages(pieces, gap_tolerance=20.0)))
    first, result = runs[0]
    # Enough pieces near the major-zone boundaries, and packages, to be split for threads.
    major = nmgeo.reference.major_zones().to_crs(2326).geometry.to_numpy()
    near = ~clear_of_boundaries(fabric.geometry.to_numpy(), major)
    assert near.sum() >= 2 * _NEAR_PIECE
    assert len(result.packages) >= 2 * _CLOSE_PIECE
    assert first["major_zone"].nunique() >= 3
    for pieces, other in runs[1:]:
        assert pieces["major_zone"].equals(first["major_zone"])
        assert_geodataframe_equal(other.packages, result.packages)
        pd.testing.assert_frame_equal(other.members, result.members)
