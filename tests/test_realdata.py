"""Real North-district data: the land fabric and the packages against an independent count.

The data are TPB's OZP zones and LandsD's leased lots around Kwu Tung, Sheung Shui and the
Lok Ma Chau Loop: the extract in ``tests/data/north`` (always), and the full shared set
(``shared/realdata/north`` beside the checkout) when it is there. Every expectation is
computed here with plain shapely / geopandas / scipy from the definitions, not with nmgeo's
fabric or package code:

- the lot extent: a concave hull (ratio 0.3) of the lot vertices of each Demarcation
  District, unioned with the lots;
- the zoned sites: the polygon parts of the zones, where two overlap the overlap belonging
  to the smaller part;
- Government land of a site: (site ∩ extent) − ∪lots; leased land: site ∩ ∪lots; unknown
  tenure: site − extent − ∪lots;
- commercial clusters: commercial sites buffered by half the gap, dissolved and exploded;
  a facility site within the gap of one cluster joins it, of several the one along which
  the longest stretch of its boundary lies within the gap (then the nearest); clusters of
  commercial + facility land >= 2 ha are the packages;
- lots of a package: lots with more than a sliver (0.01 m x 4 sqrt(lot area)) inside its
  land, and of those, the ones with more than a sliver outside it (cut).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import nmgeo

EXTRACT = Path(__file__).resolve().parent / "data" / "north"
FULL = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "north"

GAP = 15.0  # m, build_packages' default gap_tolerance
MIN_AREA = 20_000.0  # m², build_packages' default min_area_ha of 2 ha
COMMERCIAL = ("commercial",)
FACILITIES = ("public_facility", "open_space")
RATIO = 0.3  # concave hull ratio of lot_extent
REL = 1e-3  # 0.1 %
# Per-site comparisons also allow a hundredth of a square metre: the two computations cut
# in different orders, and slivers of that size (a zone edge and a lot edge drawn a few
# micrometres apart) come out differently.
ATOL_M2 = 0.01
# A facility whose two longest frontages differ by less than this share is a near tie:
# a different but equally fair reading of "within the gap" could give it to either group.
NEAR_TIE = 0.01

# Regression values, asserted against the independent computation as well as nmgeo:
# packages, their total area, commercial, facility and Government land (ha).
RECORDED = {
    "extract": {"n": 11, "area": 89.92, "commercial": 60.50, "facility": 29.42, "gov": 4.36},
    "full": {"n": 11, "area": 89.92, "commercial": 60.50, "facility": 29.42, "gov": 4.39},
}


# --------------------------------------------------------------------------- data


def _sources(name: str) -> tuple[list[Path], Path]:
    if name == "extract":
        return sorted(EXTRACT.glob("*.json")), EXTRACT / "lots_dd95.gpkg"
    if not FULL.is_dir():
        pytest.skip("the full North data (shared/realdata/north beside the checkout) is absent")
    return sorted((FULL / "zones").glob("*.json")), FULL / "lots_dd51_52_92_95.gpkg"


@cache
def _layers(name: str) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    plans, lot_file = _sources(name)
    zones = pd.concat([nmgeo.read_zones(p) for p in plans], ignore_index=True)
    zones = nmgeo.assign_land_use(gpd.GeoDataFrame(zones, geometry="geometry", crs="EPSG:2326"))
    lots = nmgeo.read_parcels(lot_file, layer="LOT")
    return gpd.GeoDataFrame(zones, geometry="geometry", crs="EPSG:2326"), lots


def hull_extent(lots: gpd.GeoDataFrame) -> shapely.Geometry:
    """Concave hull of each DD's lot vertices, with the lots themselves, all unioned."""
    hulls = []
    for _, grp in lots.groupby("DD"):
        geoms = grp.geometry.to_numpy()
        vertices = shapely.multipoints(shapely.get_coordinates(geoms))
        hull = shapely.concave_hull(vertices, ratio=RATIO, allow_holes=False)
        hulls.append(shapely.union(hull, shapely.union_all(geoms)))
    return shapely.union_all(hulls)


def zoned_sites(zones: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Polygon parts of the zones, each overlap left to the smaller part of the two."""
    sites = zones[["plan_no", "zone_label", "land_use", "geometry"]].reset_index(drop=True)
    sites = sites.rename_axis("zone_row").reset_index()
    sites = sites.explode(index_parts=False, ignore_index=True)
    sites = sites[sites.geom_type.eq("Polygon") & (sites.area > 0)].reset_index(drop=True)
    sites["zone_part"] = sites.groupby("zone_row").cumcount()
    geoms = sites.geometry.to_numpy()
    area = shapely.area(geoms)
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    # (i, j): part i is the larger (ties: the later row) and gives its overlap with j away.
    larger = (area[i] > area[j]) | ((area[i] == area[j]) & (i > j))
    i, j = i[larger], j[larger]
    shared = shapely.area(shapely.intersection(geoms[i], geoms[j])) > 0
    i, j = i[shared], j[shared]
    resolved = geoms.copy()
    for k in np.unique(i):
        resolved[k] = shapely.difference(geoms[k], shapely.union_all(geoms[j[i == k]]))
    sites["geometry"] = resolved
    sites["area_m2"] = shapely.area(resolved)
    return sites


def tenure_areas(
    geoms: np.ndarray, extent: shapely.Geometry, lot_union: shapely.Geometry
) -> pd.DataFrame:
    """Government, leased and unknown-tenure area (m²) of each geometry."""
    return pd.DataFrame(
        {
            "government": shapely.area(
                shapely.difference(shapely.intersection(geoms, extent), lot_union)
            ),
            "leased": shapely.area(shapely.intersection(geoms, lot_union)),
            "unknown": shapely.area(shapely.difference(geoms, shapely.union(extent, lot_union))),
        }
    )


@dataclass
class Clusters:
    """The independent packages: sites with their cluster, and the near-tie facilities."""

    sites: pd.DataFrame  # commercial and attached facility sites: zone_row, zone_part, ...
    packages: pd.DataFrame  # one row per kept cluster: commercial, facility, ... (m²)
    # Near-tie facilities: ((zone_row, zone_part), the clusters within its reach).
    near_ties: list[tuple[tuple[int, int], list[int]]]
    margins: list[float]  # relative frontage margin of every multi-reach facility


def cluster(sites: gpd.GeoDataFrame, extent, lot_union) -> Clusters:
    """Commercial clusters, their facilities and tenure, from buffers and plain geometry."""
    com = sites[sites["land_use"].isin(COMMERCIAL)].reset_index(drop=True)
    fac = sites[sites["land_use"].isin(FACILITIES)].reset_index(drop=True)
    com_geoms = com.geometry.to_numpy()
    # The gap is not within a few centimetres of any distance here, so whether a buffer's
    # round ends are polygons or true arcs cannot change the answer.
    pair = shapely.distance(com_geoms[:, None], com_geoms[None, :])
    assert not np.any(np.abs(pair - GAP) < 0.05)
    blobs = shapely.get_parts(shapely.union_all(shapely.buffer(com_geoms, GAP / 2)))
    inside, blob = shapely.STRtree(blobs).query(
        shapely.point_on_surface(com_geoms), predicate="within"
    )
    assert np.array_equal(np.sort(inside), np.arange(len(com)))
    com["cluster"] = blob[np.argsort(inside)]
    groups = com.groupby("cluster")
    cluster_ids = np.array(sorted(groups.groups))
    cluster_geoms = np.array(
        [shapely.union_all(com_geoms[groups.indices[c]]) for c in cluster_ids], dtype=object
    )

    fac_geoms = fac.geometry.to_numpy()
    dist = shapely.distance(fac_geoms[:, None], cluster_geoms[None, :])
    assert not np.any(np.abs(dist - GAP) < 0.05)
    reach = dist <= GAP
    assigned = np.full(len(fac), -1)
    near_ties, margins = [], []
    for f in np.flatnonzero(reach.any(axis=1)):
        cand = np.flatnonzero(reach[f])
        if len(cand) == 1:
            assigned[f] = cluster_ids[cand[0]]
            continue
        within = shapely.buffer(cluster_geoms[cand], GAP, quad_segs=64)
        frontage = shapely.length(shapely.intersection(shapely.boundary(fac_geoms[f]), within))
        order = np.lexsort((dist[f, cand], -frontage))
        assigned[f] = cluster_ids[cand[order[0]]]
        best, second = frontage[order[0]], frontage[order[1]]
        margins.append(float((best - second) / best))
        if best - second < NEAR_TIE * best:
            site = (int(fac.at[f, "zone_row"]), int(fac.at[f, "zone_part"]))
            near_ties.append((site, [int(c) for c in cluster_ids[cand]]))
    fac["cluster"] = assigned
    fac = fac[fac["cluster"] >= 0]

    members = pd.concat(
        [com.assign(role="commercial"), fac.assign(role="facility")], ignore_index=True
    )
    tenure = tenure_areas(members.geometry.to_numpy(), extent, lot_union)
    members = pd.concat([members.drop(columns="geometry"), tenure], axis=1)
    area = members["area_m2"]
    table = pd.DataFrame(
        {
            "area": area.groupby(members["cluster"]).sum(),
            "commercial": area.where(members["role"] == "commercial", 0.0)
            .groupby(members["cluster"])
            .sum(),
            "facility": area.where(members["role"] == "facility", 0.0)
            .groupby(members["cluster"])
            .sum(),
            **{t: members.groupby("cluster")[t].sum() for t in tenure.columns},
        }
    )
    kept = table.index[table["area"] >= MIN_AREA]
    # No cluster sits within 0.1 % of the threshold, so the tolerance cannot flip one.
    assert not np.any(np.abs(table["area"] / MIN_AREA - 1) < REL)
    return Clusters(
        members[members["cluster"].isin(kept)].reset_index(drop=True),
        table.loc[kept],
        near_ties,
        margins,
    )


@dataclass
class Case:
    name: str
    zones: gpd.GeoDataFrame
    lots: gpd.GeoDataFrame
    extent: shapely.Geometry
    lot_union: shapely.Geometry
    sites: gpd.GeoDataFrame
    zone_tenure: pd.DataFrame  # per zone row: government, leased, unknown (m²)
    oracle: Clusters
    fabric: gpd.GeoDataFrame
    result: nmgeo.PackageResult


@cache
def _case(name: str) -> Case:
    zones, lots = _layers(name)
    extent = hull_extent(lots)
    lot_union = shapely.union_all(lots.geometry.to_numpy())
    sites = zoned_sites(zones)
    frame = gpd.GeoDataFrame(geometry=[extent], crs="EPSG:2326")
    fabric = nmgeo.land_fabric(zones, lots, extent=frame)
    result = nmgeo.build_packages(
        zones,
        lots,
        extent=frame,
        gap_tolerance=GAP,
        min_area_ha=MIN_AREA / 1e4,
        commercial=COMMERCIAL,
        facilities=FACILITIES,
    )
    by_site = tenure_areas(sites.geometry.to_numpy(), extent, lot_union)
    zone_tenure = by_site.groupby(sites["zone_row"].to_numpy()).sum()
    zone_tenure = zone_tenure.reindex(range(len(zones)), fill_value=0.0)
    oracle = cluster(sites, extent, lot_union)
    return Case(name, zones, lots, extent, lot_union, sites, zone_tenure, oracle, fabric, result)


@pytest.fixture(scope="module", params=["extract", "full"])
def case(request) -> Case:
    return _case(request.param)


def site_keys(frame: pd.DataFrame) -> list[tuple[int, int]]:
    """(zone_row, zone_part) of every row: the zoned site it lies on."""
    return list(zip(frame["zone_row"], frame["zone_part"], strict=True))


def close(got, want, rel: float = REL, atol: float = 0.0) -> np.ndarray:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    return np.abs(got - want) <= rel * np.abs(want) + atol


def package_sites(case: Case) -> pd.DataFrame:
    """nmgeo's member pieces with their zone row and part (via the fabric's piece ids)."""
    fabric = case.fabric.set_index("piece_id")
    members = case.result.members
    assert members["piece_id"].isin(fabric.index).all()
    at = fabric.loc[members["piece_id"]]
    # The fabric build_packages cut is the same as land_fabric's (ids are deterministic).
    assert np.allclose(at["area_m2"].to_numpy(), members["area_m2"].to_numpy(), rtol=1e-12)
    return members.assign(zone_row=at["zone_row"].to_numpy(), zone_part=at["zone_part"].to_numpy())


def matched(case: Case) -> pd.DataFrame:
    """Each independent cluster next to the nmgeo package holding its commercial sites."""
    mem = package_sites(case)
    package_of_site = dict(zip(site_keys(mem), mem["package_id"], strict=True))
    o = case.oracle.sites
    com = o[o["role"] == "commercial"]
    rows = []
    for c, grp in com.groupby("cluster"):
        ids = {package_of_site.get(site) for site in site_keys(grp)}
        assert len(ids) == 1 and None not in ids, f"cluster {c} is spread over {ids}"
        rows.append((c, ids.pop()))
    pairs = pd.DataFrame(rows, columns=["cluster", "package_id"])
    assert pairs["package_id"].is_unique
    return pairs


# --------------------------------------------------------------------------- the extract


def test_the_extract_is_small_and_documented():
    files = [p for p in EXTRACT.iterdir() if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 5_000_000
    readme = (EXTRACT / "README.md").read_text(encoding="utf-8")
    for needed in ("DATA.GOV.HK", "Town Planning Board", "Lands Department", "DD95"):
        assert needed in readme


def test_the_extract_holds_the_full_data_unchanged():
    """Whole plans are byte copies; the other plans and the lots keep features as shipped."""
    _sources("full")
    for plan in sorted(EXTRACT.glob("*.json")):
        text, source = plan.read_bytes(), (FULL / "zones" / plan.name).read_bytes()
        if plan.name in ("KTN.json", "LMCL.json"):
            assert text == source
            continue
        head = source[: source.index(b'"features":[')]
        assert text.startswith(head)
        kept, shipped = json.loads(text)["features"], json.loads(source)["features"]
        by_fid = {f["attributes"]["FID"]: f for f in shipped}
        assert kept and all(by_fid[f["attributes"]["FID"]] == f for f in kept)
    lots = gpd.read_file(EXTRACT / "lots_dd95.gpkg", layer="LOT")
    full = gpd.read_file(FULL / "lots_dd51_52_92_95.gpkg", layer="LOT")
    full = full[full["DD"].isin(lots["DD"].unique())].reset_index(drop=True)
    assert set(lots["DD"]) == {"DD95"}
    pd.testing.assert_frame_equal(lots.drop(columns="geometry"), full.drop(columns="geometry"))
    assert shapely.equals_exact(lots.geometry.to_numpy(), full.geometry.to_numpy(), 0).all()


# --------------------------------------------------------------------------- the fabric


def test_lot_extent_is_a_concave_hull_of_each_dd(case):
    theirs = shapely.union_all(nmgeo.lot_extent(case.lots, by="DD").geometry.to_numpy())
    differ = shapely.area(shapely.symmetric_difference(theirs, case.extent))
    assert differ <= 1e-9 * shapely.area(case.extent)


def test_the_fabric_holds_every_square_metre_of_zones_and_lots_once(case):
    zones_and_lots = shapely.union(
        shapely.union_all(case.zones.geometry.to_numpy()), case.lot_union
    )
    total = case.fabric["area_m2"].sum()
    assert total == pytest.approx(shapely.area(zones_and_lots), rel=1e-9)
    # No two pieces overlap: together they cover exactly the sum of their areas.
    pieces = shapely.union_all(case.fabric.geometry.to_numpy())
    assert shapely.area(pieces) == pytest.approx(total, rel=1e-9)
    assert set(case.fabric["tenure"]) == {"leased", "government", "unknown"}


@pytest.mark.parametrize("tenure", ["government", "leased", "unknown"])
def test_tenure_of_every_zone_is_the_zone_cut_by_the_lots_and_the_extent(case, tenure):
    """Government: zone ∩ extent − lots; leased: zone ∩ lots; unknown: zone − extent − lots."""
    want = case.zone_tenure[tenure]
    pieces = case.fabric[case.fabric["tenure"].eq(tenure) & case.fabric["zone_row"].ge(0)]
    got = pieces.groupby("zone_row")["area_m2"].sum().reindex(want.index, fill_value=0.0)
    ok = close(got, want, atol=ATOL_M2)
    bad = pd.DataFrame({"nmgeo": got, "independent": want})[~ok]
    assert ok.all(), f"{tenure} land differs in zone rows:\n{bad}"
    assert got.sum() == pytest.approx(want.sum(), rel=REL)
    assert want.sum() > 0


# --------------------------------------------------------------------------- the packages


def test_every_independent_cluster_is_a_package_with_the_same_land(case):
    pairs = matched(case)
    packages = case.result.packages.set_index("package_id")
    assert len(packages) == len(case.oracle.packages)
    # The same commercial sites are in packages (and so the same are left out).
    mem = package_sites(case)
    got = set(site_keys(mem[mem["role"] == "commercial"]))
    assert got == set(site_keys(case.oracle.sites[case.oracle.sites["role"] == "commercial"]))
    want = case.oracle.packages.loc[pairs["cluster"]]
    got = packages.loc[pairs["package_id"]]
    for theirs, ours in (("commercial_ha", "commercial"), ("area_ha", "area")):
        assert close(got[theirs] * 1e4, want[ours]).all(), (theirs, got[theirs], want[ours])
    # Facility land: to 0.1 %, except in clusters a near-tie facility could go to.
    uncertain = {c for _, candidates in case.oracle.near_ties for c in candidates}
    certain = ~pairs["cluster"].isin(uncertain).to_numpy()
    assert close(got["facility_ha"][certain] * 1e4, want["facility"][certain]).all()
    assert close(got["facility_ha"].sum() * 1e4, want["facility"].sum())


def test_facilities_join_the_package_of_their_cluster(case):
    """Site by site: every facility in a package is attached to the same cluster here."""
    pairs = matched(case).set_index("cluster")["package_id"]
    mem = package_sites(case)
    fac = mem[mem["role"] == "facility"].drop_duplicates(["zone_row", "zone_part"])
    got = dict(zip(site_keys(fac), fac["package_id"], strict=True))
    o = case.oracle.sites
    o = o[o["role"] == "facility"]
    want = dict(zip(site_keys(o), pairs[o["cluster"]], strict=True))
    ties = {site for site, _ in case.oracle.near_ties}
    assert {k: v for k, v in got.items() if k not in ties} == {
        k: v for k, v in want.items() if k not in ties
    }
    assert set(got) == set(want)


def test_government_land_of_each_package_is_its_zones_minus_the_lots(case):
    pairs = matched(case)
    packages = case.result.packages.set_index("package_id").loc[pairs["package_id"]]
    want = case.oracle.packages.loc[pairs["cluster"]]
    for theirs, ours in (
        ("government_ha", "government"),
        ("leased_ha", "leased"),
        ("unknown_tenure_ha", "unknown"),
    ):
        got = packages[theirs].to_numpy() * 1e4
        assert close(got, want[ours], atol=ATOL_M2).all(), (theirs, got, want[ours].to_numpy())


def test_lots_in_each_package_and_those_its_boundary_cuts(case):
    """n_lots: lots holding more than a sliver of the package; n_lots_cut: and some outside.

    A sliver, as nmgeo documents it, is land on average under 1 cm wide along a square
    lot of that area: at most 0.01 m x 4 sqrt(lot area).
    """
    pairs = matched(case)
    sites = case.sites.set_index(["zone_row", "zone_part"])
    o = case.oracle.sites
    lots = case.lots.geometry.to_numpy()
    lot_area = shapely.area(lots)
    tree = shapely.STRtree(lots)
    want = []
    for c in pairs["cluster"]:
        here = o[o["cluster"] == c]
        land = shapely.union_all(sites.loc[site_keys(here)].geometry.to_numpy())
        near = tree.query(land, predicate="intersects")
        inside = shapely.area(shapely.intersection(lots[near], land))
        outside = lot_area[near] - inside
        sliver = 0.01 * 4 * np.sqrt(lot_area[near])
        # Nothing lies within 10 % of the sliver size, where rounding could tip a lot.
        assert not np.any(np.abs(inside / sliver - 1) < 0.1)
        assert not np.any(np.abs(outside / sliver - 1) < 0.1)
        held = inside > sliver
        want.append((int(held.sum()), int((held & (outside > sliver)).sum())))
    got = case.result.packages.set_index("package_id").loc[pairs["package_id"]]
    assert list(zip(got["n_lots"], got["n_lots_cut"], strict=True)) == want
    assert sum(n for n, _ in want) > 0


def test_zones_alone_give_the_same_packages_all_of_unknown_tenure(case):
    alone = nmgeo.build_packages(
        case.zones,
        gap_tolerance=GAP,
        min_area_ha=MIN_AREA / 1e4,
        commercial=COMMERCIAL,
        facilities=FACILITIES,
    )
    cols = ["package_id", "area_ha", "commercial_ha", "facility_ha"]
    with_lots = case.result.packages[cols].set_index("package_id")
    without = alone.packages[cols].set_index("package_id")
    pd.testing.assert_frame_equal(without, with_lots, rtol=1e-9)
    assert set(alone.members["tenure"]) == {"unknown"}
    p = alone.packages
    assert (p["government_ha"] == 0).all() and (p["leased_ha"] == 0).all()
    assert np.allclose(p["unknown_tenure_ha"], p["area_ha"], rtol=1e-12)
    assert (p["n_lots"] == 0).all()
    # And the independent clusters, which do not depend on tenure at all.
    want = np.sort(case.oracle.packages["commercial"])
    assert close(np.sort(p["commercial_ha"] * 1e4), want).all()


def test_recorded_totals(case):
    """Regression values for the data set, held against both computations."""
    rec = RECORDED[case.name]
    o, p = case.oracle.packages, case.result.packages
    assert len(o) == len(p) == rec["n"]
    for key, ours, theirs in (
        ("area", "area", "area_ha"),
        ("commercial", "commercial", "commercial_ha"),
        ("facility", "facility", "facility_ha"),
        ("gov", "government", "government_ha"),
    ):
        assert o[ours].sum() / 1e4 == pytest.approx(rec[key], abs=0.005)
        assert p[theirs].sum() == pytest.approx(rec[key], abs=0.005)


# --------------------------------------------------------------------------- end to end


def test_all_plans_read_in_one_call_have_no_unknown_label(case):
    plans, _ = _sources(case.name)
    zones = nmgeo.assign_land_use(nmgeo.read_zones(plans[0].parent))
    # Independent: every plan file read with plain geopandas.
    plain = pd.concat([gpd.read_file(p) for p in plans], ignore_index=True)
    assert len(zones) == len(plain)
    assert set(zones["plan_no"]) == set(plain["PLAN_NO"])
    assert not zones["land_use"].eq("unknown").any()


def test_the_packages_command_runs_end_to_end_on_the_real_plans(case, tmp_path):
    """nmgeo packages --zones FOLDER --lots LOTS --extent E: the same packages as the API,
    with the exact first year of rail in walking reach, and outputs that open."""
    import json

    import pyogrio
    from click.testing import CliRunner

    from nmgeo.cli import main

    plans, lot_file = _sources(case.name)
    extent = tmp_path / "extent.gpkg"
    gpd.GeoDataFrame(geometry=[case.extent], crs="EPSG:2326").to_file(extent, engine="pyogrio")
    out = tmp_path / "out"
    args = ["packages", "--zones", str(plans[0].parent), "--lots", str(lot_file)]
    args += ["--layer", "LOT", "--extent", str(extent), "--as-of", "2026", "--out", str(out)]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    assert f"{len(case.result.packages)} land disposal packages" in run.stdout
    assert "unknown" not in set(
        pyogrio.read_dataframe(out / "packages.gpkg", layer="fabric")["land_use"]
    )
    got = pyogrio.read_dataframe(out / "packages.gpkg", layer="packages")
    want = case.result.packages
    assert len(got) == len(want)
    for col in ("area_ha", "commercial_ha", "facility_ha", "government_ha"):
        assert got[col].sum() == pytest.approx(want[col].sum(), rel=1e-9)
    # rail_walk_year: the smallest opening year of the stations within 800 m, by shapely.
    table = pd.read_csv(out / "report_packages.csv").set_index("package_id")
    stations = nmgeo.reference.rail_stations()
    for row in got.itertuples():
        near = stations.loc[stations.distance(row.geometry) <= 800.0, "opening_year"]
        expected = near.min() if len(near) else None
        shown = table.loc[row.package_id, "rail_walk_year"]
        assert (pd.isna(shown) and expected is None) or shown == expected
    kwu_tung = stations.set_index("name").loc["Kwu Tung"]
    by_kwu_tung = got[got.distance(kwu_tung.geometry) <= 800.0]
    for pid in by_kwu_tung["package_id"]:
        assert table.loc[pid, "rail_walk_year"] <= kwu_tung["opening_year"]
    html = (out / "package_map.html").read_text(encoding="utf-8")
    assert "Rail stations (network of 2026)" in html
    man = json.loads((out / "manifest.json").read_text())
    assert man["counts"]["plans"] == len(plans) and man["as_of"] == 2026


# --------------------------------------------------------------------------- capacity

# Illustrative limits for the real labels, in the shapes the OZP Notes take (a plot ratio by
# plan and sub-zone, an OU zone named by its specified use, a height in storeys with a site
# coverage, a GFA cap over several zones, a split domestic / non-domestic plot ratio).
# They are test inputs, not the plans' Notes. Open space (O) has no row: it gets no GFA.
REAL_LIMITS = pd.DataFrame(
    [
        ("S/KTN/4", "OU(Business and Technology Park)", 5.0, None, None, None, None, None),
        ("S/KTN/4", "G/IC(1)", None, None, None, None, 8.0, "50%"),
        (None, "G/IC", None, None, None, None, 5.0, "60%"),
        (None, "C", 9.5, None, None, None, None, None),
        ("S/FSS/27", "OU(Business)", 9.5, None, None, None, None, None),
        ("S/LMCL/2", "OU", None, None, None, 1_200_000, None, None),
        (None, "R(A)", None, 6.0, 0.5, None, None, None),
        (None, "R(B)", 3.0, None, None, None, None, None),
    ],
    columns=[
        "plan_no",
        "zone_label",
        "max_plot_ratio",
        "max_plot_ratio_domestic",
        "max_plot_ratio_non_domestic",
        "max_gfa_m2",
        "max_height_storeys",
        "max_site_coverage",
    ],
)


def _collapsed(text) -> str:
    return " ".join(str(text).upper().split())


def independent_gfa(case: Case) -> pd.DataFrame:
    """GFA, domestic GFA and the limits row of every zoned site, from REAL_LIMITS by hand.

    A site takes the row of (plan, label) first, then (plan, family), (label), (family);
    a bare OU label is spelled with its specified use, as the Notes name the zone. The GFA
    is the smallest of area x plot ratio, the row's GFA cap shared by area over all the
    land it matches, and area x coverage x storeys.
    """
    sites = case.sites.copy()
    zones = case.zones
    label = zones["zone_label"].to_numpy(dtype=object)[sites["zone_row"]]
    use = zones["specified_use"].to_numpy(dtype=object)[sites["zone_row"]]
    spelled = [
        f"OU({u})" if lab == "OU" and isinstance(u, str) and u.strip() else lab
        for lab, u in zip(label, use, strict=True)
    ]
    sites["key"] = [_collapsed(s) for s in spelled]
    # The family: the label less a trailing number or parenthesised annotation, except
    # that R(A)..R(E) keep their group letter.
    sites["fam"] = [
        _collapsed(
            str(lab)[:4] if str(lab).startswith("R(") else re.sub(r"\(.*\)$|\d+$", "", str(lab))
        )
        for lab in label
    ]
    lim = REAL_LIMITS.assign(key=[_collapsed(v) for v in REAL_LIMITS["zone_label"]])
    by_key = {
        (p if isinstance(p, str) else None, k): i
        for i, (p, k) in enumerate(zip(lim["plan_no"], lim["key"], strict=True))
    }
    rows = []
    for plan, key, fam in zip(sites["plan_no"], sites["key"], sites["fam"], strict=True):
        tries = ((plan, key), (plan, fam), (None, key), (None, fam))
        rows.append(next((by_key[t] for t in tries if t in by_key), -1))
    sites["row"] = rows
    area = sites["area_m2"].to_numpy()
    row = sites["row"].to_numpy()
    at = lim.reindex(row).reset_index(drop=True)  # row -1: all missing
    coverage = at["max_site_coverage"].str.rstrip("%").astype(float) / 100
    pr_dom = at["max_plot_ratio_domestic"].to_numpy(dtype=float)
    pr_nd = at["max_plot_ratio_non_domestic"].to_numpy(dtype=float)
    split = ~np.isnan(pr_dom)
    by_pr = np.where(split, area * (pr_dom + np.nan_to_num(pr_nd)), area * at["max_plot_ratio"])
    matched_land = pd.Series(area).groupby(row).sum()
    land = matched_land.reindex(row).to_numpy()
    by_cap = at["max_gfa_m2"].to_numpy(dtype=float) * area / land
    by_height = area * coverage.to_numpy() * at["max_height_storeys"].to_numpy(dtype=float)
    gfa = np.fmin(np.fmin(by_pr, by_cap), by_height)
    sites["gfa"] = np.where(row >= 0, gfa, np.nan)
    # A total plot ratio alone is domestic on residential land (R(B) here).
    homes = sites["land_use"].isin(["residential", "village"]).to_numpy()
    sites["gfa_domestic"] = np.where(split, area * pr_dom, np.where(homes, by_pr, 0.0))
    sites["gfa_domestic"] = sites["gfa_domestic"].fillna(0.0)
    return sites


@pytest.fixture(scope="module")
def real_capacity(case):
    from nmgeo.capacity import assign_capacity, package_capacity, read_limits

    land = assign_capacity(case.fabric, read_limits(REAL_LIMITS))
    return land, package_capacity(case.result, land), independent_gfa(case)


def test_real_zones_take_their_limits_rows_and_gfa_by_zone(case, real_capacity):
    """GFA per zone of the real plans equals the hand lookup x the zone's land (0.1 %)."""
    land, _, sites = real_capacity
    assert land["gfa_m2"].notna().any() and land["gfa_m2"].isna().any()
    # The OU zones of Kwu Tung North's business park match although their specified use
    # is spelled with double spaces in some of the plan's features.
    got = land.groupby("zone_row")["gfa_m2"].sum(min_count=1)
    want = sites.groupby("zone_row")["gfa"].sum(min_count=1)
    both = want.index[want.notna()]
    assert got.reindex(want.index).isna().eq(want.isna()).all()
    assert close(got.reindex(both), want.loc[both], atol=1e-6).all()
    lacking = set(land.loc[land["gfa_m2"].isna() & land["zone_label"].notna(), "zone_label"])
    assert {"O", "GB", "AGR"} <= lacking and not {"C", "G/IC", "R(A)1"} & lacking
    params = nmgeo.capacity.capacity_parameters().set_index("name")["value"]
    flats = sites["gfa_domestic"].sum() / params["flat_size_m2"]
    assert land["flats"].sum() == pytest.approx(flats, rel=REL)


def test_real_packages_capacity_is_the_sum_of_their_clusters_sites(case, real_capacity):
    """Each independent cluster's GFA (commercial, G/IC) and jobs are its package's."""
    _, sites_table, gfa = real_capacity
    params = nmgeo.capacity.capacity_parameters().set_index("name")["value"]
    o = case.oracle.sites.merge(
        gfa[["zone_row", "zone_part", "gfa"]], on=["zone_row", "zone_part"], how="left"
    )
    o["commercial_gfa"] = np.where(o["land_use"].eq("commercial"), o["gfa"], 0.0)
    o["gic_gfa"] = np.where(o["land_use"].eq("public_facility"), o["gfa"], 0.0)
    o["limited"] = np.where(o["gfa"].notna(), o["area_m2"], 0.0)
    want = o.groupby("cluster")[["gfa", "commercial_gfa", "gic_gfa", "limited", "area_m2"]].sum(
        min_count=1
    )
    pairs = matched(case).set_index("cluster")
    got = sites_table.set_index("package_id").loc[pairs.loc[want.index, "package_id"]]
    assert close(got["gfa_m2"], want["gfa"].fillna(0.0), atol=1e-6).all()
    assert close(got["gfa_commercial_m2"], want["commercial_gfa"].fillna(0.0), atol=1e-6).all()
    assert close(got["gfa_gic_m2"], want["gic_gfa"].fillna(0.0), atol=1e-6).all()
    jobs = want["commercial_gfa"] / params["floor_space_per_job_m2"]
    jobs += want["gic_gfa"] / params["gic_floor_space_per_job_m2"]
    assert close(got["jobs"], jobs.fillna(0.0), atol=1e-6).all()
    assert close(got["limits_share"], want["limited"] / want["area_m2"], atol=1e-9).all()
    assert (got["flats"].fillna(0.0) == 0).all()  # no residential land in these packages


# --------------------------------------------------------------------------- scenarios


def test_a_sweep_on_the_real_plans_finds_the_independent_packages_in_its_default_scenario(case):
    """The scenario with the default settings holds the independent clusters; a wider gap
    gives sites that are labelled as needing it."""
    from nmgeo.scenarios import run_scenarios

    sweep = run_scenarios(
        case.fabric, {"gap_tolerance": [GAP, 2 * GAP]}, client=False, progress=False
    )
    first = sweep.summary.iloc[0]
    o = case.oracle.packages
    assert first["gap_tolerance"] == GAP and first["n_packages"] == len(o)
    assert close(first["area_ha"] * 1e4, o["area"].sum())
    assert close(first["commercial_ha"] * 1e4, o["commercial"].sum())
    # Every independent cluster's package is a site present under the default gap.
    pairs = matched(case)
    at_default = sweep.packages[sweep.packages["scenario"].eq(first["scenario"])]
    site_of = at_default.set_index("package_id")["site_id"]
    sites = sweep.sites.set_index("site_id")
    for package_id in pairs["package_id"]:
        site = sites.loc[site_of[package_id]]
        assert site["robustness"] in (0.5, 1.0)
        assert site["only_when"] in ("", f"gap_tolerance in {{{GAP:g}}}")
    # Sites only found across the wider gap say so.
    wider = sites[sites["scenarios"].eq(sweep.summary["scenario"].iloc[1])]
    assert (wider["only_when"] == f"gap_tolerance in {{{2 * GAP:g}}}").all()
