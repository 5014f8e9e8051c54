"""Benchmark balanced_regions: time and balance of contiguous k-way splits.

Two kinds of case:

- site: the largest package of the bundled sample (``nmgeo.load_sample()``, its land
  fabric and ``nmgeo.build_packages`` with the defaults, as the demo does) split by
  ``nmgeo.packages.split_package`` into k = 2 .. 8 parts of ``area / k`` each;
- grid / planar: ``nmgeo._regions.balanced_regions`` called directly on a rook grid
  of lots and on a random planar graph (the Delaunay triangulation of uniform random
  points, scipy.spatial), of 500, 2,000 and 10,000 units weighing 0.5 to 2 each.

Usage::

    python benchmarks/bench_regions.py                      # best of 3 runs each
    python benchmarks/bench_regions.py --repeat 5 --k 4 16 --units 2000

For every case it prints the best wall time (s) and the balance of the regions, with
``target = total weight / k``: the spread ``(max region - min region) / target`` and the
worst ``|region - target| / target``, both in per cent.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import time
from collections.abc import Callable

import numpy as np
import scipy.sparse
from scipy.spatial import Delaunay

SITE_K = range(2, 9)


def grid_graph(n: int) -> tuple[scipy.sparse.csr_array, np.ndarray]:
    """Rook contiguity of a near-square grid of about ``n`` lots 100 m apart."""
    n_rows = int(math.sqrt(n))
    while n % n_rows:
        n_rows -= 1
    n_cols = n // n_rows
    ids = np.arange(n).reshape(n_rows, n_cols)
    i = np.concatenate([ids[:, :-1].ravel(), ids[:-1, :].ravel()])
    j = np.concatenate([ids[:, 1:].ravel(), ids[1:, :].ravel()])
    adjacency = scipy.sparse.coo_array((np.ones(i.size), (i, j)), shape=(n, n))
    row, col = np.divmod(np.arange(n), n_cols)
    return (adjacency + adjacency.T).tocsr(), np.column_stack([col, row]) * 100.0


def planar_graph(n: int, rng: np.random.Generator) -> tuple[scipy.sparse.csr_array, np.ndarray]:
    """Delaunay triangulation of ``n`` uniform random points (about 100 m apart)."""
    xy = rng.uniform(0, 100.0 * math.sqrt(n), size=(n, 2))
    tri = Delaunay(xy).simplices
    i = tri[:, [0, 1, 2]].ravel()
    j = tri[:, [1, 2, 0]].ravel()
    adjacency = scipy.sparse.coo_array((np.ones(i.size), (i, j)), shape=(n, n))
    return (adjacency + adjacency.T).tocsr(), xy


def balance(sizes: np.ndarray, target: float) -> tuple[float, float]:
    """Spread ``(max - min) / target`` and worst ``|size - target| / target``."""
    return float(np.ptp(sizes) / target), float(np.abs(sizes - target).max() / target)


def best_of(repeat: int, func: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
    """Best wall time of ``repeat`` calls, and the last answer."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), result


def site_cases(repeat: int) -> list[tuple[str, int, int, float, float, float]]:
    """The largest package of the sample split into 2 .. 8 parts."""
    import nmgeo
    from nmgeo.packages import split_package

    sample = nmgeo.load_sample()
    result = nmgeo.build_packages(nmgeo.land_fabric(sample.zones, sample.parcels))
    packages = result.packages.sort_values(["area_ha", "package_id"], ascending=[False, True])
    pid = packages["package_id"].iloc[0]
    total = float(packages["area_ha"].iloc[0]) * 1e4
    n = int((result.sites["package_id"] == pid).sum())
    rows = []
    for k in SITE_K:
        seconds, split = best_of(repeat, lambda k=k: split_package(result, pid, total / k))
        parts = split.packages[split.packages["package_id"].str.startswith(f"{pid}-")]
        spread, worst = balance(parts["area_ha"].to_numpy() * 1e4, total / k)
        rows.append((f"site {pid}", n, k, seconds, spread, worst))
    return rows


def graph_cases(
    units: list[int], ks: list[int], repeat: int, seed: int
) -> list[tuple[str, int, int, float, float, float]]:
    """balanced_regions on grids and random planar graphs of each size."""
    from nmgeo._regions import balanced_regions

    rows = []
    for n in units:
        rng = np.random.default_rng(seed + n)
        weights = rng.uniform(0.5, 2.0, n)
        for name, (adjacency, xy) in (("grid", grid_graph(n)), ("planar", planar_graph(n, rng))):
            for k in ks:

                def run(a=adjacency, p=xy, k=k, w=weights) -> np.ndarray:
                    return balanced_regions(a, w, k, p)

                seconds, labels = best_of(repeat, run)
                sizes = np.bincount(labels, weights=weights, minlength=k)
                spread, worst = balance(sizes, weights.sum() / k)
                rows.append((name, n, k, seconds, spread, worst))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; best is kept")
    parser.add_argument("--units", type=int, nargs="+", default=[500, 2_000, 10_000])
    parser.add_argument("--k", type=int, nargs="+", default=[4, 16], help="regions (graphs)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-site", action="store_true", help="skip the sample package")
    args = parser.parse_args()
    logging.getLogger("nmgeo").setLevel(logging.ERROR)  # split_package's off-target notes

    print(f"balanced_regions, best of {args.repeat} ({os.cpu_count()} cores)")
    print(f"{'case':<12} {'units':>6} {'k':>3} {'seconds':>8} {'spread %':>9} {'worst %':>8}")
    rows = [] if args.no_site else site_cases(args.repeat)
    rows += graph_cases(args.units, args.k, args.repeat, args.seed)
    for name, n, k, seconds, spread, worst in rows:
        print(f"{name:<12} {n:>6} {k:>3} {seconds:>8.3f} {100 * spread:>9.2f} {100 * worst:>8.2f}")


if __name__ == "__main__":
    main()
