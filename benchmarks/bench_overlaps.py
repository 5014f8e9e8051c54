"""Benchmark the lot-overlap check: nmgeo's separating-axis filter vs shapely's predicates.

``find_overlaps`` takes the pairs whose bounding boxes share more than the sliver threshold
(an STRtree query), rules out most of them with a vectorised separating-axis test (SAT) and
intersects the rest. The alternatives replace the SAT by shapely's predicates on the same
candidate pairs and intersect what they leave:

- ``intersects & ~touches``: interiors meet (prepared geometries);
- ``relate T********``: interiors meet, in one DE-9IM call;
- ``tree overlaps``: ``STRtree.query(predicate="overlaps")`` as the candidate query; it
  misses lots lying within others (duplicates), so its results can differ.

Layers: the synthetic lots as generated (neighbours share edges exactly), the same with
each lot shifted by up to 1 mm (neighbours overlap by slivers, as coordinate noise does; a
WGS84 round trip alone does not, it moves shared vertices alike), and the generated lots
plus planted overlaps (1 % of lots copied and shifted 2 m, and 100 exact duplicates).
Generates the lots once (``synthetic_metropolis`` + ``read_parcels``) and caches them as
GeoParquet. Prints, per layer and method, the median time of ``--repeat`` runs
(alternating) of ``find_overlaps`` and of ``check_overlaps``, the pairs intersected, the
overlapping pairs found and whether they match the SAT's exactly.

Usage::

    python benchmarks/bench_overlaps.py                   # 200k lots
    python benchmarks/bench_overlaps.py --lots 50000 --repeat 5
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import shapely
from _isolated import cache_folder, cache_option

from nmgeo import _overlaps
from nmgeo._overlaps import SLIVER_WIDTH, _candidate_pairs, _overlapping, _separated

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]


def prepare(n_lots: int, seed: int, folder: Path) -> Path:
    """Generate ``n_lots`` lots once and cache them as GeoParquet."""
    out = folder / f"overlaps_{n_lots}_{seed}" / "lots.parquet"
    if out.exists():
        return out
    import nmgeo

    start = time.perf_counter()
    lots = nmgeo.read_parcels(nmgeo.synthetic_metropolis(n_lots, seed=seed).lots)
    out.parent.mkdir(parents=True, exist_ok=True)
    lots.to_parquet(out)
    print(f"  cached {len(lots):,} lots in {out} ({time.perf_counter() - start:.0f} s)")
    return out


def layers(path: Path, seed: int) -> dict[str, np.ndarray]:
    """The benchmark layers (arrays of polygons in EPSG:2326), by name."""
    import geopandas as gpd

    lots = gpd.read_parquet(path)
    generated = np.asarray(lots.geometry.array, dtype=object)
    rng = np.random.default_rng(seed)
    coords, owner = shapely.get_coordinates(generated, return_index=True)
    offset = rng.uniform(-0.0005, 0.0005, size=(len(generated), 2))
    jittered = shapely.set_coordinates(generated.copy(), coords + offset[owner])
    shifted = rng.choice(len(generated), size=len(generated) // 100, replace=False)
    copies = rng.choice(len(generated), size=100, replace=False)
    planted = np.concatenate(
        [generated, shapely.transform(generated[shifted], lambda xy: xy + 2.0), generated[copies]]
    )
    return {"generated": generated, "jittered": jittered, "planted": planted}


def sat(geoms: np.ndarray) -> tuple[Pairs, int]:
    """nmgeo as it is: box filter, separating-axis test, overlay of the rest."""
    i, j, limit = _candidate_pairs(geoms, SLIVER_WIDTH)
    keep = ~_separated(geoms, i, j, SLIVER_WIDTH)
    return _overlapping(geoms, i[keep], j[keep], limit[keep]), int(keep.sum())


def intersects_not_touches(geoms: np.ndarray) -> tuple[Pairs, int]:
    """Box filter, then pairs whose interiors meet by prepared intersects & ~touches."""
    geoms = geoms.copy()
    shapely.prepare(geoms)
    i, j, limit = _candidate_pairs(geoms, SLIVER_WIDTH)
    keep = shapely.intersects(geoms[i], geoms[j])
    keep[keep] = ~shapely.touches(geoms[i[keep]], geoms[j[keep]])
    return _overlapping(geoms, i[keep], j[keep], limit[keep]), int(keep.sum())


def relate_interiors(geoms: np.ndarray) -> tuple[Pairs, int]:
    """Box filter, then pairs whose interiors meet by one DE-9IM relate_pattern call."""
    i, j, limit = _candidate_pairs(geoms, SLIVER_WIDTH)
    keep = shapely.relate_pattern(geoms[i], geoms[j], "T********")
    return _overlapping(geoms, i[keep], j[keep], limit[keep]), int(keep.sum())


def tree_overlaps(geoms: np.ndarray) -> tuple[Pairs, int]:
    """Candidates by ``STRtree.query(predicate="overlaps")``, then the overlay."""
    i, j = shapely.STRtree(geoms).query(geoms, predicate="overlaps")
    keep = i < j
    i, j = i[keep], j[keep]
    perimeter = shapely.length(geoms)
    limit = SLIVER_WIDTH * np.minimum(perimeter[i], perimeter[j])
    return _overlapping(geoms, i, j, limit), len(i)


METHODS: dict[str, Callable[[np.ndarray], tuple[Pairs, int]]] = {
    "SAT (nmgeo)": sat,
    "intersects & ~touches": intersects_not_touches,
    "relate T********": relate_interiors,
    "tree overlaps": tree_overlaps,
}


def timed_check(method: Callable[[np.ndarray], tuple[Pairs, int]], geoms: np.ndarray) -> float:
    """Seconds ``check_overlaps`` takes with ``method`` in place of its pair finder."""
    original = _overlaps.find_overlaps
    _overlaps.find_overlaps = lambda g, **_: method(np.asarray(g, dtype=object))[0]
    try:
        start = time.perf_counter()
        _overlaps.check_overlaps(geoms, ids=None, source="bench")
        return time.perf_counter() - start
    finally:
        _overlaps.find_overlaps = original


def same(a: Pairs, b: Pairs) -> bool:
    """True if both found the same pairs with bit-identical areas."""
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; median is kept")
    cache_option(parser)
    args = parser.parse_args()
    args.cache = cache_folder(args.cache)
    logging.getLogger("nmgeo").setLevel(logging.ERROR)  # overlap warnings of planted lots

    path = prepare(args.lots, args.seed, args.cache)
    print(
        f"lot-overlap check, {args.lots:,} synthetic lots (seed {args.seed}, "
        f"{os.cpu_count()} cores; median of {args.repeat}, s)"
    )
    print(
        f"{'layer':>10} {'method':>22} {'find':>6} {'check':>6} {'overlaid':>9} "
        f"{'pairs':>6} {'same as SAT':>11}"
    )
    for name, geoms in layers(path, args.seed).items():
        times: dict[str, list[float]] = {m: [] for m in METHODS}
        checks: dict[str, list[float]] = {m: [] for m in METHODS}
        found: dict[str, tuple[Pairs, int]] = {}
        for _ in range(args.repeat):  # alternating, so that load drifts hit all alike
            for label, method in METHODS.items():
                start = time.perf_counter()
                found[label] = method(geoms)
                times[label].append(time.perf_counter() - start)
                checks[label].append(timed_check(method, geoms))
        reference = found["SAT (nmgeo)"][0]
        for label in METHODS:
            pairs, overlaid = found[label]
            print(
                f"{name:>10} {label:>22} {statistics.median(times[label]):6.2f} "
                f"{statistics.median(checks[label]):6.2f} {overlaid:9,} {len(pairs[0]):6,} "
                f"{'yes' if same(pairs, reference) else 'NO':>11}"
            )


if __name__ == "__main__":
    main()
