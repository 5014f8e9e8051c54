"""Benchmark straight-line proximity against geopandas.sjoin_nearest.

Generates (or reuses) a synthetic lot set and times nmgeo's proximity to the seven land
boundary control points and to all rail stations, the year-by-year rail timeline and the
500 m station catchment share, with ``geopandas.sjoin_nearest`` as the baseline for the
nearest-target queries (the rest has no one-call equivalent).

Usage::

    python benchmarks/bench_proximity.py --lots 200000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
from _isolated import cache_folder, cache_option

import nmgeo


def lots(n: int, seed: int, folder: Path) -> gpd.GeoDataFrame:
    path = folder / f"lots_{n}_{seed}.parquet"
    if not path.exists():
        metro = nmgeo.synthetic_metropolis(n, seed=seed)
        nmgeo.read_parcels(metro.lots)[["parcel_id", "geometry"]].to_parquet(path)
    return gpd.read_parquet(path)


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    cache_option(parser)
    args = parser.parse_args()
    args.cache = cache_folder(args.cache)
    parcels = lots(args.lots, args.seed, args.cache)
    bcps = nmgeo.reference.control_points()
    stations = nmgeo.reference.rail_stations()
    geom = parcels[["geometry"]]

    rows = []
    t_bcp, ours = timed(lambda: nmgeo.bcp_proximity(parcels))
    t_sj, theirs = timed(
        lambda: gpd.sjoin_nearest(geom, bcps[["name", "geometry"]], distance_col="d")
    )
    theirs = theirs[~theirs.index.duplicated()]
    same = np.allclose(ours["bcp_distance_m"].to_numpy(), theirs["d"].to_numpy())
    rows.append(("nearest BCP (7)", t_bcp, t_sj, same))
    t_rail, ours = timed(lambda: nmgeo.rail_proximity(parcels))
    t_sj, theirs = timed(
        lambda: gpd.sjoin_nearest(geom, stations[["name", "geometry"]], distance_col="d")
    )
    theirs = theirs[~theirs.index.duplicated()]
    same = np.allclose(ours["rail_distance_m"].to_numpy(), theirs["d"].to_numpy())
    rows.append((f"nearest station ({len(stations)})", t_rail, t_sj, same))
    t_tl, _ = timed(lambda: nmgeo.proximity_timeline(parcels), repeat=1)
    rows.append(("rail timeline (4 years)", t_tl, float("nan"), None))
    t_cs, _ = timed(
        lambda: nmgeo.catchment_share(parcels, stations, catchment_radius=500.0), repeat=1
    )
    rows.append(("500 m station catchment share", t_cs, float("nan"), None))

    print(f"{args.lots:,} lots")
    print(f"{'task':<32} {'nmgeo s':>8} {'sjoin_nearest s':>16} {'ratio':>6} {'same':>5}")
    for name, ours_s, base_s, same in rows:
        ratio = base_s / ours_s if np.isfinite(base_s) else float("nan")
        base = f"{base_s:16.2f}" if np.isfinite(base_s) else f"{'-':>16}"
        rat = f"{ratio:6.1f}" if np.isfinite(ratio) else f"{'-':>6}"
        print(f"{name:<32} {ours_s:8.2f} {base} {rat} {'' if same is None else str(same):>5}")
    print(f"BCP + all stations: {t_bcp + t_rail:.2f} s")


if __name__ == "__main__":
    main()
