"""Benchmark build_packages against the hand-rolled libpysal + geopandas equivalent.

Generates synthetic Northern Metropolis lot sets (default 50k, 200k and 400k lots), cuts
their zones by the lots into the land fabric (``nmgeo.land_fabric``), then times, each in a
fresh process so peak memory is its own:

- nmgeo: ``nmgeo.build_packages(fabric)`` (15 m gap, 2 ha minimum, G/IC + open space);
- baseline: the same package table written the way a competent analyst would without
  nmgeo, on the same pieces — libpysal
  ``Graph.build_fuzzy_contiguity(commercial, buffer=gap / 2)``
  components, facilities attached with ``geopandas.sjoin_nearest(max_distance=gap)``,
  ``dissolve`` with area sums per role and class, the 2 ha filter, the site outline by
  buffer closing, Polsby-Popper compactness and the major zone by ``geopandas.overlay``.

Usage::

    python benchmarks/bench_packages.py                 # 50k, 200k, 400k lots
    python benchmarks/bench_packages.py --lots 200000   # one size
    python benchmarks/bench_packages.py --lots 200000 --repeat 3 --no-baseline

Prints wall time (s), the baseline/nmgeo ratio and each process's peak RSS (MB, including
the parcels it loads). Needs libpysal (``pip install -e ".[test]"``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from _baseline import FACILITIES, GAP, MIN_AREA, hand_rolled_members
from _isolated import measure, parse


def prepare(n_lots: int, seed: int, folder: Path) -> Path:
    """Generate and zone ``n_lots`` lots once; cache them as GeoParquet."""
    path = folder / f"fabric_{n_lots}_{seed}.parquet"
    if path.exists():
        return path
    import nmgeo

    metro = nmgeo.synthetic_metropolis(n_lots, seed=seed)
    parcels = nmgeo.read_parcels(metro.lots)
    zones = nmgeo.read_zones(metro.zones)
    fabric = nmgeo.land_fabric(zones, parcels)
    fabric.to_parquet(path)
    return path


def run_nmgeo(path: str) -> dict:
    import geopandas as gpd

    import nmgeo

    parcels = gpd.read_parquet(path)
    start = time.perf_counter()
    result = nmgeo.build_packages(parcels, gap_tolerance=GAP, min_area_ha=MIN_AREA / 1e4)
    elapsed = time.perf_counter() - start
    return {
        "seconds": elapsed,
        "packages": len(result.packages),
        "area_ha": float(result.packages["area_ha"].sum()),
    }


def run_baseline(path: str) -> dict:
    """The same package table built by hand with libpysal and geopandas."""
    import geopandas as gpd
    import libpysal.graph  # noqa: F401 (loaded before the clock starts)
    import numpy as np

    import nmgeo

    parcels = gpd.read_parquet(path)
    start = time.perf_counter()
    members = hand_rolled_members(parcels)
    members["gov_area"] = np.where(members["tenure"] == "government", members["area"], 0.0)
    for cls in FACILITIES:
        members[cls] = np.where(members["land_use"] == cls, members["area"], 0.0)
    members["n"] = 1
    agg = {
        "area": "sum",
        "com_area": "sum",
        "gov_area": "sum",
        "n": "sum",
        **{cls: "sum" for cls in FACILITIES},
    }
    packages = members.dissolve(by="group", aggfunc=agg)
    packages = packages[packages["area"] >= MIN_AREA].copy()
    packages["facility_share"] = 1 - packages["com_area"] / packages["area"]
    packages["government_share"] = packages["gov_area"] / packages["area"]
    outline = packages.buffer(GAP / 2, join_style="mitre").buffer(-GAP / 2, join_style="mitre")
    packages["site_outline_ha"] = outline.area / 1e4
    packages["compactness"] = 4 * np.pi * outline.area / outline.length**2
    zones = nmgeo.reference.major_zones()[["short_name", "geometry"]]
    pieces = gpd.overlay(packages.reset_index()[["group", "geometry"]], zones)
    pieces["a"] = pieces.area
    best = pieces.sort_values("a").drop_duplicates("group", keep="last").set_index("group")
    packages["major_zone"] = best["short_name"].reindex(packages.index)
    elapsed = time.perf_counter() - start
    return {
        "seconds": elapsed,
        "packages": len(packages),
        "area_ha": float(packages["area"].sum() / 1e4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, nargs="+", default=[50_000, 200_000, 400_000])
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of nmgeo per size (median time shown)"
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="time nmgeo only, without libpysal"
    )
    args = parse(parser, {"nmgeo": run_nmgeo, "baseline": run_baseline})
    if args is None:
        return
    header = (
        f"{'lots':>8} {'nmgeo s':>8} {'base s':>8} {'ratio':>6} "
        f"{'nmgeo MB':>9} {'base MB':>8} {'packages':>9} {'base pk':>8}"
    )
    print(f"build_packages vs libpysal fuzzy contiguity + dissolve ({os.cpu_count()} cores)")
    print(header)
    for n in args.lots:
        path = prepare(n, args.seed, args.cache)
        runs = [measure(__file__, "nmgeo", path) for _ in range(max(1, args.repeat))]
        ours = dict(runs[0])
        ours["seconds"] = statistics.median(r["seconds"] for r in runs)
        ours["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
        if args.no_baseline:
            base_s, ratio, base_mb, base_pk = "-", "-", "-", "-"
        else:
            base = measure(__file__, "baseline", path)
            base_s, base_mb = f"{base['seconds']:.2f}", f"{base['peak_rss_mb']:.0f}"
            ratio, base_pk = f"{base['seconds'] / ours['seconds']:.1f}", base["packages"]
        print(
            f"{n:>8} {ours['seconds']:>8.2f} {base_s:>8} {ratio:>6} "
            f"{ours['peak_rss_mb']:>9.0f} {base_mb:>8} {ours['packages']:>9} {base_pk:>8}",
            flush=True,
        )


if __name__ == "__main__":
    main()
