"""Benchmark a scenario sweep on dask.distributed: 48 scenarios on 200k lots, 1 vs 2 workers.

Generates the synthetic Northern Metropolis once (cached as in ``bench_pipeline.py``),
builds its land fabric and major zones once, then runs ``run_scenarios`` over a grid of 48
settings (gap tolerance 10 / 15 / 20 / 30 m x minimum area 1 / 2 / 5 ha x commercial with
and without CDA x rail network of 2027 / 2034), with the sample's limits table for the
capacity, on a ``LocalCluster`` of 1 worker process and then of 2 (one thread each).

Prints for each: the sweep's wall time, the speed-up of 2 workers over 1, the time to
scatter the fabric to the workers (measured on its own, before the sweep), the pickled
size of the fabric, each worker's peak RSS, and the per-scenario cost on a worker (median,
mean, range); then the projected time of 1,000 scenarios on N workers from the measured
per-scenario cost and the measured 2-worker efficiency.

Usage::

    python benchmarks/bench_scenarios.py                    # 200k lots, 48 scenarios
    python benchmarks/bench_scenarios.py --lots 50000       # a quicker check
"""

from __future__ import annotations

import argparse
import os
import pickle
import resource
import statistics
import time
from pathlib import Path

from _isolated import cache_folder, cache_option

GRID = {
    "gap_tolerance": [10, 15, 20, 30],
    "min_area_ha": [1, 2, 5],
    "commercial": [["commercial"], ["commercial", "mixed_use"]],
    "as_of": [2027, 2034],
}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(n_lots: int, seed: int, folder: Path) -> Path:
    """The cached synthetic metropolis GeoPackage (generated once)."""
    out = folder / f"metro_{n_lots}_{seed}"
    gpkg = out / "nm_sample.gpkg"
    if not gpkg.exists():
        import nmgeo

        nmgeo.synthetic_metropolis(n_lots, seed=seed).write(out)
    return gpkg


def sweep_on(n_workers: int, fabric, limits) -> dict:
    from dask.distributed import Client, LocalCluster

    from nmgeo.scenarios import run_scenarios

    with (
        LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(_peak_rss_mb)  # workers up before the clock starts
        start = time.perf_counter()
        probe = client.scatter(fabric, broadcast=True, hash=False)
        scatter_s = time.perf_counter() - start
        del probe
        start = time.perf_counter()
        sweep = run_scenarios(fabric, GRID, limits=limits, client=client, progress=False)
        wall = time.perf_counter() - start
        rss = client.run(_peak_rss_mb)
    per = sweep.timings.to_numpy()
    return {
        "workers": n_workers,
        "wall_s": wall,
        "scatter_s": scatter_s,
        "worker_rss_mb": sorted(rss.values()),
        "per_median_s": float(statistics.median(per)),
        "per_mean_s": float(per.mean()),
        "per_range_s": (float(per.min()), float(per.max())),
        "n_scenarios": len(sweep.summary),
        "n_sites": len(sweep.sites),
        "summary": sweep.summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    cache_option(parser)
    args = parser.parse_args()
    args.cache = cache_folder(args.cache)

    import nmgeo

    gpkg = prepare(args.lots, args.seed, args.cache)
    start = time.perf_counter()
    fabric = nmgeo.land_fabric(
        nmgeo.read_zones(gpkg, layer="ozp_zones"),
        nmgeo.read_parcels(gpkg, layer="lots"),
        progress=False,
    )
    fabric = nmgeo.assign_major_zone(fabric)
    built = time.perf_counter() - start
    limits = nmgeo.read_limits(nmgeo.datasets.SAMPLE_LIMITS)
    size_mb = len(pickle.dumps(fabric, protocol=5)) / 1e6
    n = 1
    for values in GRID.values():
        n *= len(values)
    print(
        f"scenario sweep: {n} scenarios on {args.lots:,} lots ({len(fabric):,} fabric pieces, "
        f"read and built in {built:.1f} s, {size_mb:.0f} MB pickled); {os.cpu_count()} cores",
        flush=True,
    )
    runs = []
    for workers in (1, 2):
        res = sweep_on(workers, fabric, limits)
        runs.append(res)
        lo, hi = res["per_range_s"]
        rss = ", ".join(f"{r:.0f}" for r in res["worker_rss_mb"])
        print(
            f"  {workers} worker(s): {res['wall_s']:.1f} s for {res['n_scenarios']} scenarios "
            f"({res['n_sites']} sites); scatter {res['scatter_s']:.2f} s; per scenario "
            f"{res['per_median_s']:.2f} s median, {res['per_mean_s']:.2f} s mean "
            f"({lo:.2f}-{hi:.2f}); worker peak RSS {rss} MB",
            flush=True,
        )
    one, two = runs
    same = one["summary"].equals(two["summary"])
    speedup = one["wall_s"] / two["wall_s"]
    efficiency = speedup / 2
    print(
        f"  speed-up 2 workers / 1: {speedup:.2f}x (efficiency {efficiency:.0%}); "
        f"summaries identical: {same}"
    )
    per = two["per_mean_s"]
    print(
        f"  projected 1,000 scenarios (mean {per:.2f} s each on a worker as measured with 2, "
        f"efficiency {efficiency:.0%} as measured, plus one scatter of "
        f"{two['scatter_s']:.2f} s per worker count):"
    )
    for workers in (2, 8, 16, 32, 64):
        projected = 1000 * per / (workers * efficiency) + two["scatter_s"]
        print(f"    {workers:>3} workers: {projected / 60:6.1f} min")


if __name__ == "__main__":
    main()
