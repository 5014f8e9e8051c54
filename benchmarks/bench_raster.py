"""Benchmark nmgeo.raster: zonal_stats against rasterstats, and distance_raster for the BCPs.

Generates a synthetic Northern Metropolis (default 200,000 lots, seed 1) once and caches its
lots as GeoParquet and its 25 m DEM as GeoTIFF in a temporary folder, then times:

- ``nmgeo.raster.zonal_stats(lots, dem)`` (mean, min, max, count; centre-in and all_touched);
- baseline: ``rasterstats.zonal_stats`` with the same statistics. rasterstats handles one
  polygon at a time, so above ``--baseline-lots`` lots it is timed on the first
  ``--baseline-lots`` lots and extrapolated linearly (the output says so); the subset also
  checks that both give the same numbers;
- ``nmgeo.raster.distance_raster`` for the seven boundary control points over the NM
  outline's bounds at 25 m (in memory and to GeoTIFF), against shapely distances from every
  cell centre (the straightforward vectorised alternative).

Usage::

    python benchmarks/bench_raster.py                  # 200,000 lots
    python benchmarks/bench_raster.py --lots 50000     # smaller

Needs rasterstats for the baseline (``pip install rasterstats``); without it the baseline
rows are skipped.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from _isolated import cache_folder, cache_option

import nmgeo
from nmgeo.datasets import write_dem
from nmgeo.raster import distance_raster, write_raster, zonal_stats

STATS = ["mean", "min", "max", "count"]


def prepare(n_lots: int, seed: int, folder: Path) -> tuple[Path, Path]:
    """Generate the lots and DEM once; cache them in ``folder``."""
    lots_path = folder / f"lots_{n_lots}_{seed}.parquet"
    dem_path = folder / f"dem_{n_lots}_{seed}.tif"
    if not (lots_path.exists() and dem_path.exists()):
        print(f"generating {n_lots:,} lots (seed {seed}) into {folder} ...", flush=True)
        metro = nmgeo.synthetic_metropolis(n_lots, seed=seed)
        metro.lots[["OBJECTID", "geometry"]].to_parquet(lots_path)
        write_dem(metro.dem, metro.dem_transform, dem_path)
    return lots_path, dem_path


def timed(func: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best wall time (s) of ``repeat`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def agreement(ours: pd.DataFrame, theirs: list[dict]) -> str:
    """How far nmgeo's stats are from rasterstats' on the same polygons."""
    ref = pd.DataFrame(theirs, index=ours.index)
    normal = ~ours["small_polygon"].to_numpy()
    same_count = (ref["count"].to_numpy()[normal] == ours["count"].to_numpy()[normal]).mean()
    diff = np.nanmax(np.abs(ref["mean"].to_numpy(float)[normal] - ours["mean"].to_numpy()[normal]))
    return (
        f"counts equal on {same_count:.2%} of lots with a cell centre inside; max |mean "
        f"difference| {diff:.2g} m (rasterstats sums in float32); {int((~normal).sum())} "
        "small lots get nmgeo's representative-point fallback (rasterstats: count 0)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lots", type=int, default=200_000, help="number of lots")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--baseline-lots",
        type=int,
        default=20_000,
        help="time rasterstats on at most this many lots and extrapolate linearly",
    )
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs for nmgeo")
    cache_option(parser, "nmgeo-bench-raster")
    args = parser.parse_args()
    args.cache = cache_folder(args.cache)
    lots_path, dem_path = prepare(args.lots, args.seed, args.cache)
    lots = gpd.read_parquet(lots_path)
    n = len(lots)
    rows: list[tuple[str, str, float, str]] = []

    # -- zonal statistics -------------------------------------------------------------------
    t_ours, ours = timed(lambda: zonal_stats(lots, dem_path, stats=STATS), args.repeat)
    rows.append(("zonal_stats", f"nmgeo, {n:,} lots", t_ours, ""))
    t_touch, _ = timed(
        lambda: zonal_stats(lots, dem_path, stats=STATS, all_touched=True), args.repeat
    )
    rows.append(("zonal_stats", f"nmgeo all_touched, {n:,} lots", t_touch, ""))
    notes = []
    try:
        from rasterstats import zonal_stats as rs_zonal_stats
    except ImportError:
        notes.append("rasterstats is not installed: baseline skipped")
    else:
        m = min(n, args.baseline_lots)
        subset = lots.iloc[:m]
        t_sub, theirs = timed(lambda: rs_zonal_stats(subset, str(dem_path), stats=STATS))
        t_ours_sub, ours_sub = timed(
            lambda: zonal_stats(subset, dem_path, stats=STATS), args.repeat
        )
        if m < n:
            t_rs = t_sub * n / m
            label = f"rasterstats, {n:,} lots (extrapolated x{n / m:.0f} from {m:,})"
            notes.append(
                f"rasterstats timed on the first {m:,} lots ({t_sub:.1f} s) and extrapolated "
                "linearly to all lots"
            )
            rows.append(("zonal_stats", f"rasterstats, {m:,} lots (measured)", t_sub, ""))
            rows.append(("zonal_stats", f"nmgeo, {m:,} lots (same subset)", t_ours_sub, ""))
        else:
            t_rs, label = t_sub, f"rasterstats, {n:,} lots"
        rows.append(("zonal_stats", label, t_rs, f"{t_rs / t_ours:.0f}x nmgeo"))
        notes.append("agreement on the subset: " + agreement(ours_sub, theirs))

    # -- distance raster --------------------------------------------------------------------
    bcps = nmgeo.reference.control_points()
    bounds = tuple(float(v) for v in nmgeo.reference.nm_boundary().total_bounds)
    t_mem, (arr, profile) = timed(
        lambda: distance_raster(bcps, bounds=bounds, resolution=25.0), args.repeat
    )
    cells = f"{arr.shape[0]} x {arr.shape[1]} cells"
    rows.append(("distance_raster", f"nmgeo, 7 BCPs, in memory, {cells}", t_mem, ""))
    tif = args.cache / "bcp_distance.tif"
    t_tif, _ = timed(
        lambda: write_raster(distance_raster(bcps, bounds=bounds, resolution=25.0), tif),
        args.repeat,
    )
    rows.append(("distance_raster", "nmgeo, 7 BCPs, to GeoTIFF", t_tif, ""))

    def shapely_baseline() -> np.ndarray:
        tr = profile["transform"]
        cols, rows_ = np.meshgrid(np.arange(arr.shape[1]) + 0.5, np.arange(arr.shape[0]) + 0.5)
        x, y = tr @ (cols, rows_)
        union = shapely.union_all(bcps.geometry.to_numpy())
        return shapely.distance(shapely.points(x.ravel(), y.ravel()), union).reshape(arr.shape)

    t_base, exact = timed(shapely_baseline)
    rows.append(
        (
            "distance_raster",
            "shapely.distance from every cell centre",
            t_base,
            f"{t_base / t_mem:.1f}x nmgeo",
        )
    )
    notes.append(f"distance raster max |nmgeo - shapely| = {np.abs(arr - exact).max():.2g} m")

    width = max(len(r[1]) for r in rows)
    print(f"\n{'task':16s} {'run':{width}s} {'seconds':>9s}  ratio")
    print("-" * (16 + width + 24))
    for task, run, seconds, ratio in rows:
        print(f"{task:16s} {run:{width}s} {seconds:9.2f}  {ratio}")
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
