"""Benchmark the whole nmgeo pipeline against a hand-rolled geopandas + libpysal + folium one.

Generates synthetic Northern Metropolis layers (default 50k, 200k and 400k lots) once and
caches them as a GeoPackage in the real schemas (layer ``lots``: Lands Department lots;
layer ``ozp_zones``: TPB OZP zoning). Then times, each in a fresh process so peak memory is
its own, every stage from files on disk to a saved map:

- nmgeo: ``read_parcels`` + ``read_zones``; ``land_fabric`` + ``assign_major_zone``;
  ``build_packages`` on the fabric; ``bcp_proximity`` + ``rail_proximity`` on the lots;
  ``package_report`` of the packages with ``assign_access``; ``package_map(...).save(...)``.
  With ``--capacity``, a third run adds the capacity stage: ``assign_capacity`` of the
  whole fabric with the sample's limits table, ``package_capacity``,
  ``zones_without_limits``, and ``capacity_targets`` in the report stage; its map is
  coloured by GFA with capacity popups.
- baseline, written the way a competent analyst would without nmgeo:
  ``geopandas.read_file`` (pyogrio); the land fabric by ``geopandas.overlay(lots, zones,
  how="intersection")`` for the leased pieces, a ``dissolve`` of those pieces by zone and
  ``GeoSeries.difference`` for each zone's Government land, with a hand-written label ->
  land-use dict; the NM major zone of every piece by ``overlay`` + ``idxmax``; packages by
  libpysal ``Graph.build_fuzzy_contiguity(buffer=7.5)`` components of the commercial
  pieces, facility pieces attached with ``sjoin_nearest(max_distance=15)``, ``dissolve``
  with Government / leased areas and the 2 ha filter; ``sjoin_nearest`` from the lots to
  the BCPs and rail stations (``nmgeo.reference``); a package table with areas and the
  nearest BCP and station per package; a plain ``folium.GeoJson`` map of the packages and
  their member pieces.

Usage::

    python benchmarks/bench_pipeline.py                          # 50k, 200k, 400k lots
    python benchmarks/bench_pipeline.py --lots 50000 200000
    python benchmarks/bench_pipeline.py --skip-baseline-above 200000
    python benchmarks/bench_pipeline.py --lots 200000 --capacity    # what capacity adds

Prints per-stage wall time (s) for both, the totals, the baseline/nmgeo ratio and each
process's peak RSS (MB): medians of ``--repeat`` runs (default 3, alternating nmgeo and
baseline), with the range of the totals and the largest peak RSS. Needs libpysal and
folium (``pip install -e ".[test]"``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from _baseline import GAP, MIN_AREA, hand_rolled_members
from _isolated import measure, median_run, parse

STAGES = ("read", "fabric", "packages", "proximity", "capacity", "report", "map")
GPKG = "nm_sample.gpkg"

# What an analyst would type after looking at the OZP legend: zone family -> land use,
# and the "Other Specified Uses" annotations -> land use.
FAMILY_USE = {
    "C": "commercial",
    "CDA": "mixed_use",
    "R(A)": "residential",
    "R(B)": "residential",
    "R(C)": "residential",
    "R(D)": "residential",
    "R(E)": "residential",
    "V": "village",
    "I": "industrial",
    "I(D)": "industrial",
    "G/IC": "public_facility",
    "O": "open_space",
    "REC": "open_space",
    "OS": "open_storage",
    "AGR": "agriculture",
    "GB": "conservation",
    "CA": "conservation",
    "CP": "conservation",
    "CPA": "conservation",
    "SSSI": "conservation",
    "U": "undetermined",
    "Road": "transport",
}
OU_USE = {
    "Business": "commercial",
    "Innovation and Technology": "commercial",
    "Research and Development": "commercial",
    "Logistics Facility": "industrial",
    "Industrial Estate": "industrial",
    "Comprehensive Development and Wetland Protection Area": "conservation",
    "Railway Station": "transport",
}


def prepare(n_lots: int, seed: int, folder: Path) -> Path:
    """Generate ``n_lots`` lots once and cache them (lots + OZP zones) as a GeoPackage."""
    out = folder / f"metro_{n_lots}_{seed}"
    gpkg = out / GPKG
    if gpkg.exists():
        return gpkg
    import nmgeo

    start = time.perf_counter()
    metro = nmgeo.synthetic_metropolis(n_lots, seed=seed)
    metro.write(out)
    print(
        f"  cached {len(metro.lots):,} lots, {len(metro.zones):,} zones in {gpkg} "
        f"({time.perf_counter() - start:.0f} s)",
        flush=True,
    )
    return gpkg


class Timer:
    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.times[stage] = now - self._last
        self._last = now


def run_nmgeo(gpkg: str, *, capacity: bool = False) -> dict:
    import nmgeo
    from nmgeo import capacity as cap

    out_html = Path(tempfile.mkdtemp(prefix="nmgeo-bench-")) / "packages.html"
    t = Timer()
    parcels = nmgeo.read_parcels(gpkg, layer="lots")
    zones = nmgeo.read_zones(gpkg, layer="ozp_zones")
    limits = cap.read_limits(nmgeo.datasets.SAMPLE_LIMITS) if capacity else None
    t.lap("read")
    fabric = nmgeo.land_fabric(zones, parcels, progress=False)
    fabric = nmgeo.assign_major_zone(fabric)
    t.lap("fabric")
    result = nmgeo.build_packages(fabric, gap_tolerance=GAP, min_area_ha=MIN_AREA / 1e4)
    t.lap("packages")
    near = nmgeo.rail_proximity(nmgeo.bcp_proximity(parcels))
    t.lap("proximity")
    sites, color_by = result.packages, "area_ha"
    if limits is not None:
        land = cap.assign_capacity(fabric, limits)
        sites, color_by = cap.package_capacity(result, land), "gfa_m2"
        cap.zones_without_limits(land, result)
    t.lap("capacity")
    sites = nmgeo.assign_access(sites)
    table = nmgeo.package_report(sites)
    if limits is not None:
        cap.capacity_targets(sites)
    t.lap("report")
    nmgeo.package_map(result, packages=sites, color_by=color_by).save(str(out_html))
    t.lap("map")
    return {
        "times": t.times,
        "lots": len(parcels),
        "packages": len(table),
        "package_ha": float(table["area_ha"].sum()),
        "government_ha": float(table["government_ha"].sum()),
        "near_ok": int(near["bcp_distance_m"].notna().sum()),
        "html_mb": out_html.stat().st_size / 1e6,
    }


def run_baseline(gpkg: str) -> dict:
    """The same pipeline written by hand with geopandas, libpysal and folium."""
    import folium
    import geopandas as gpd
    import libpysal.graph  # noqa: F401 (loaded before the clock starts)
    import numpy as np
    import pandas as pd

    import nmgeo

    out_html = Path(tempfile.mkdtemp(prefix="nmgeo-bench-")) / "packages.html"
    t = Timer()
    lots = gpd.read_file(gpkg, layer="lots", engine="pyogrio")
    zones = gpd.read_file(gpkg, layer="ozp_zones", engine="pyogrio")
    t.lap("read")

    # The land fabric: lot pieces by overlay, each zone's Government land by difference.
    family = zones["ZONE_LABEL"].str.replace(r"\d+$", "", regex=True)
    family = family.str.replace(r"\(\d+\)$", "", regex=True)
    zones["land_use"] = family.map(FAMILY_USE)
    is_ou = family == "OU"
    zones.loc[is_ou, "land_use"] = zones.loc[is_ou, "SPUSE_ENG"].map(OU_USE)
    zones["land_use"] = zones["land_use"].fillna("unknown")
    zones["zone"] = np.arange(len(zones))
    leased = gpd.overlay(
        lots[["LOTID", "geometry"]],
        zones[["zone", "ZONE_LABEL", "land_use", "geometry"]],
        how="intersection",
        keep_geom_type=True,
    )
    leased["tenure"] = "leased"
    covered = leased[["zone", "geometry"]].dissolve(by="zone")
    gov = zones[["zone", "ZONE_LABEL", "land_use", "geometry"]].set_index("zone")
    cover = covered.geometry.reindex(gov.index)
    has = cover.notna().to_numpy()
    gov.loc[has, "geometry"] = gov.geometry[has].difference(cover[has], align=False)
    gov = gov[~gov.geometry.is_empty & (gov.area > 0)].reset_index()
    gov["tenure"] = "government"
    fabric = pd.concat([leased, gov], ignore_index=True)
    major = nmgeo.reference.major_zones()[["short_name", "geometry"]].to_crs(lots.crs)
    fabric["piece"] = np.arange(len(fabric))
    mpieces = gpd.overlay(fabric[["piece", "geometry"]], major, how="intersection")
    mpieces["a"] = mpieces.area
    mbest = mpieces.loc[mpieces.groupby("piece")["a"].idxmax()].set_index("piece")
    fabric["major_zone"] = mbest["short_name"].reindex(fabric["piece"]).to_numpy()
    t.lap("fabric")

    # Packages: commercial components within GAP, facilities within GAP, 2 ha filter.
    members = hand_rolled_members(fabric)
    members["fac_area"] = members["area"] - members["com_area"]
    members["gov_area"] = np.where(members["tenure"] == "government", members["area"], 0.0)
    members["n"] = 1
    packages = members.dissolve(
        by="group",
        aggfunc=dict.fromkeys(("area", "com_area", "fac_area", "gov_area", "n"), "sum"),
    )
    packages = packages[packages["area"] >= MIN_AREA].copy()
    members = members[members["group"].isin(packages.index)]
    t.lap("packages")

    # Proximity of every lot to the nearest BCP and rail station.
    bcps = nmgeo.reference.control_points()[["name", "geometry"]].to_crs(lots.crs)
    stations = nmgeo.reference.rail_stations()[["name", "geometry"]].to_crs(lots.crs)
    near = lots[["LOTID", "geometry"]]
    for prefix, points in (("bcp", bcps), ("rail", stations)):
        hit = gpd.sjoin_nearest(
            near,
            points.rename(columns={"name": f"{prefix}_name"}),
            how="left",
            distance_col=f"{prefix}_distance_m",
        )
        hit = hit[~hit.index.duplicated()]
        near = hit.drop(columns="index_right")
    t.lap("proximity")
    t.lap("capacity")  # not in the hand-written job: nmgeo's capacity runs are extra work

    # Package table: areas, member counts, nearest BCP and open station.
    table = packages.reset_index()
    table["package_id"] = [f"PKG{i + 1:04d}" for i in range(len(table))]
    table["area_ha"] = table["area"] / 1e4
    table["commercial_ha"] = table["com_area"] / 1e4
    table["facility_ha"] = table["fac_area"] / 1e4
    table["facility_share"] = table["fac_area"] / table["area"]
    table["government_ha"] = table["gov_area"] / 1e4
    open_st = nmgeo.reference.rail_stations(status="open")[["name", "geometry"]]
    for prefix, points in (("bcp", bcps), ("rail", open_st.to_crs(lots.crs))):
        hit = gpd.sjoin_nearest(
            table[["package_id", "geometry"]],
            points.rename(columns={"name": f"{prefix}_name"}),
            how="left",
            distance_col=f"{prefix}_distance_m",
        )
        hit = hit[~hit.index.duplicated()]
        table[f"{prefix}_name"] = hit[f"{prefix}_name"]
        table[f"{prefix}_distance_m"] = hit[f"{prefix}_distance_m"]
    dropped = ["geometry", "area", "com_area", "fac_area", "gov_area"]
    report = pd.DataFrame(table.drop(columns=dropped))
    report = report.sort_values("area_ha", ascending=False)
    t.lap("report")

    # Map: packages and member lots as plain GeoJSON layers.
    pk = table[["package_id", "area_ha", "facility_share", "n", "geometry"]].to_crs(4326)
    mb = members[["LOTID", "land_use", "tenure", "role", "group", "geometry"]].to_crs(4326)
    x0, y0, x1, y1 = pk.total_bounds if len(pk) else (114.05, 22.5, 114.05, 22.5)
    m = folium.Map(location=[(y0 + y1) / 2, (x0 + x1) / 2], zoom_start=12)
    folium.GeoJson(
        mb,
        name="Member lots",
        style_function=lambda f: {
            "color": "#c0392b" if f["properties"]["role"] == "commercial" else "#2e86c1",
            "weight": 0.5,
        },
        tooltip=folium.GeoJsonTooltip(fields=["LOTID", "land_use", "tenure", "role"]),
    ).add_to(m)
    folium.GeoJson(
        pk,
        name="Packages",
        style_function=lambda f: {"color": "black", "weight": 2, "fillOpacity": 0.1},
        tooltip=folium.GeoJsonTooltip(fields=["package_id", "area_ha", "facility_share", "n"]),
    ).add_to(m)
    folium.LayerControl().add_to(m)
    m.save(str(out_html))
    t.lap("map")
    return {
        "times": t.times,
        "lots": len(lots),
        "packages": len(report),
        "package_ha": float(report["area_ha"].sum()),
        "government_ha": float(report["government_ha"].sum()),
        "near_ok": int(near["bcp_distance_m"].notna().sum()),
        "html_mb": out_html.stat().st_size / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, nargs="+", default=[50_000, 200_000, 400_000])
    parser.add_argument(
        "--skip-baseline-above",
        type=int,
        default=None,
        metavar="N",
        help="do not run the baseline for lot counts above N (it can take many minutes)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        metavar="N",
        help="run each pipeline N times, alternating, and report medians (default 3)",
    )
    parser.add_argument(
        "--capacity",
        action="store_true",
        help="also run nmgeo with the capacity stage (the sample's limits table, GFA-coloured "
        "map) and print what it adds to nmgeo's time",
    )
    args = parse(
        parser,
        {
            "nmgeo": run_nmgeo,
            "capacity": lambda path: run_nmgeo(path, capacity=True),
            "baseline": run_baseline,
        },
    )
    if args is None:
        return
    print(
        f"nmgeo pipeline vs geopandas + libpysal + folium baseline "
        f"(seed {args.seed}, {os.cpu_count()} cores; times in s, RSS in MB)",
        flush=True,
    )
    rows = []
    for n in args.lots:
        path = prepare(n, args.seed, args.cache)
        skip = args.skip_baseline_above is not None and n > args.skip_baseline_above
        ours_runs, base_runs, cap_runs = [], [], []
        for _ in range(max(1, args.repeat)):  # alternate, so slow spells hit all alike
            ours_runs.append(measure(__file__, "nmgeo", path))
            if args.capacity:
                cap_runs.append(measure(__file__, "capacity", path))
            if not skip:
                base_runs.append(measure(__file__, "baseline", path))
        ours = median_run(ours_runs)
        base = median_run(base_runs) if base_runs else None
        rows.append((n, ours, base))
        if cap_runs:
            with_cap = median_run(cap_runs)
            stage = with_cap["times"]["capacity"]
            print(
                f"  {n:,}: with capacity {with_cap['total']:.1f} s "
                f"({with_cap['spread'][0]:.1f}-{with_cap['spread'][1]:.1f}): the capacity "
                f"stage {stage:.2f} s = {stage / ours['total']:.1%} of nmgeo's "
                f"{ours['total']:.1f} s; totals differ by "
                f"{with_cap['total'] - ours['total']:+.1f} s "
                f"({(with_cap['total'] - ours['total']) / ours['total']:+.1%}); "
                f"peak RSS {with_cap['peak_rss_mb']:.0f} MB",
                flush=True,
            )
        print(
            f"  {n:,}: nmgeo {ours['total']:.1f} s "
            f"({ours['spread'][0]:.1f}-{ours['spread'][1]:.1f})"
            + (
                ""
                if base is None
                else f", baseline {base['total']:.1f} s "
                f"({base['spread'][0]:.1f}-{base['spread'][1]:.1f})"
            )
            + f", median of {len(ours_runs)}",
            flush=True,
        )

    stage_hdr = " ".join(f"{s[:5]:>6}" for s in STAGES)
    print()
    print(
        f"{'lots':>8} {'method':>8} {stage_hdr} {'total':>7} {'ratio':>6} {'RSS MB':>7} "
        f"{'pkgs':>5} {'pkg ha':>8} {'gov ha':>8} {'html MB':>7}"
    )
    for n, ours, base in rows:
        total_o = ours["total"]
        for name, res in (("nmgeo", ours), ("baseline", base)):
            if res is None:
                print(
                    f"{n:>8} {name:>8} skipped (--skip-baseline-above {args.skip_baseline_above})"
                )
                continue
            total = res["total"]
            ratio = f"{total / total_o:>6.1f}" if name == "baseline" else f"{'':>6}"
            stages = " ".join(f"{res['times'][s]:>6.1f}" for s in STAGES)
            print(
                f"{res['lots']:>8} {name:>8} {stages} {total:>7.1f} {ratio} "
                f"{res['peak_rss_mb']:>7.0f} {res['packages']:>5} {res['package_ha']:>8.1f} "
                f"{res['government_ha']:>8.1f} "
                f"{res['html_mb']:>7.1f}"
            )
        if base is not None:
            per_stage = " ".join(
                f"{base['times'][s] / ours['times'][s]:>6.1f}"
                if ours["times"][s] > 1e-3
                else f"{'-':>6}"
                for s in STAGES
            )
            print(f"{'':>8} {'b/n':>8} {per_stage}")


if __name__ == "__main__":
    main()
