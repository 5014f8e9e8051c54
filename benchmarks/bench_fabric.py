"""Benchmark the land fabric against geopandas ``overlay(how="union")``.

The land fabric cuts the OZP zones by the leased lots into pieces of one zone and one tenure
(leased lot / unleased Government land) and keeps the lots outside every zone. Written by
hand, that is a union overlay of the two layers plus a tenure column: the baseline is
``geopandas.overlay(zones, lots, how="union", keep_geom_type=True)``, each piece labelled
leased where it carries a lot id and Government land elsewhere.

Generates synthetic layers (default 200k lots, about 4k zones) once and caches them; every
run is a fresh process, so peak memory is its own. Prints the medians of ``--repeat`` runs
(alternating), the baseline / nmgeo ratio, peak RSS and how far the two agree (pieces,
Government land, total area).

Usage::

    python benchmarks/bench_fabric.py                  # 200k lots
    python benchmarks/bench_fabric.py --lots 50000 200000 400000 --repeat 3
    python benchmarks/bench_fabric.py --repeat 5 --no-baseline   # nmgeo only (fast)
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from _isolated import measure, median_run, parse

GPKG = "nm_sample.gpkg"


def prepare(n_lots: int, seed: int, folder: Path) -> Path:
    """Generate ``n_lots`` lots once and cache them as GeoParquet (lots, zones)."""
    out = folder / f"fabric_{n_lots}_{seed}"
    if (out / "lots.parquet").exists():
        return out
    import nmgeo

    start = time.perf_counter()
    metro = nmgeo.synthetic_metropolis(n_lots, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    lots = nmgeo.read_parcels(metro.lots)
    zones = nmgeo.read_zones(metro.zones)
    lots.to_parquet(out / "lots.parquet")
    zones.to_parquet(out / "zones.parquet")
    print(
        f"  cached {len(lots):,} lots, {len(zones):,} zones in {out} "
        f"({time.perf_counter() - start:.0f} s)",
        flush=True,
    )
    return out


def _load(folder: str):
    import geopandas as gpd

    return gpd.read_parquet(Path(folder) / "zones.parquet"), gpd.read_parquet(
        Path(folder) / "lots.parquet"
    )


def run_nmgeo(folder: str) -> dict:
    import nmgeo

    zones, lots = _load(folder)
    start = time.perf_counter()
    fabric = nmgeo.land_fabric(zones, lots, progress=False)
    took = time.perf_counter() - start
    gov = fabric["tenure"] == "government"
    return {
        "times": {"fabric": took},
        "lots": len(lots),
        "zones": len(zones),
        "pieces": len(fabric),
        "government_ha": float(fabric.loc[gov, "area_m2"].sum() / 1e4),
        "total_ha": float(fabric["area_m2"].sum() / 1e4),
    }


def run_baseline(folder: str) -> dict:
    import geopandas as gpd

    zones, lots = _load(folder)
    start = time.perf_counter()
    pieces = gpd.overlay(
        zones[["zone_label", "geometry"]],
        lots[["parcel_id", "geometry"]],
        how="union",
        keep_geom_type=True,
    )
    pieces["tenure"] = pieces["parcel_id"].notna().map({True: "leased", False: "government"})
    pieces["area_m2"] = pieces.area
    took = time.perf_counter() - start
    gov = (pieces["tenure"] == "government") & pieces["zone_label"].notna()
    return {
        "times": {"fabric": took},
        "lots": len(lots),
        "zones": len(zones),
        "pieces": len(pieces),
        "government_ha": float(pieces.loc[gov, "area_m2"].sum() / 1e4),
        "total_ha": float(pieces["area_m2"].sum() / 1e4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, nargs="+", default=[200_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="time nmgeo only, without the (minutes-long) geopandas overlay",
    )
    args = parse(parser, {"nmgeo": run_nmgeo, "baseline": run_baseline})
    if args is None:
        return
    print(
        f"land fabric vs geopandas overlay(how='union') (seed {args.seed}, {os.cpu_count()} "
        "cores; times in s, RSS in MB)",
        flush=True,
    )
    print(
        f"{'lots':>8} {'zones':>6} {'method':>8} {'time':>6} {'range':>11} {'ratio':>6} "
        f"{'RSS MB':>7} {'pieces':>8} {'gov ha':>9} {'total ha':>9}"
    )
    for n in args.lots:
        path = prepare(n, args.seed, args.cache)
        ours_runs, base_runs = [], []
        for _ in range(max(1, args.repeat)):
            ours_runs.append(measure(__file__, "nmgeo", path))
            if not args.no_baseline:
                base_runs.append(measure(__file__, "baseline", path))
        ours = median_run(ours_runs)
        rows = [("nmgeo", ours)]
        if base_runs:
            rows.append(("baseline", median_run(base_runs)))
        for name, res in rows:
            ratio = f"{res['total'] / ours['total']:>6.1f}" if name == "baseline" else " " * 6
            spread = f"{res['spread'][0]:.2f}-{res['spread'][1]:.2f}"
            print(
                f"{res['lots']:>8} {res['zones']:>6} {name:>8} {res['total']:>6.2f} "
                f"{spread:>11} {ratio} {res['peak_rss_mb']:>7.0f} {res['pieces']:>8} "
                f"{res['government_ha']:>9.1f} {res['total_ha']:>9.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
