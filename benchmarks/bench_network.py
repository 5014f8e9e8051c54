"""Benchmark network_distance against a hand-rolled networkx equivalent on the sample.

Times, on the bundled sample (about 45,000 lots and 8,000 road centrelines):

- nmgeo: ``network_distance(sample.parcels, control_points(), sample.roads)`` -- exact
  snapping onto segments, one scipy multi-source Dijkstra run;
- baseline: what an analyst would write with networkx and no osmnx -- the centrelines
  noded by a unary union, one edge per segment between consecutive vertices, targets and
  lot centroids snapped to the nearest graph vertex (scipy cKDTree), then
  ``networkx.multi_source_dijkstra`` from the target vertices.

Usage::

    python benchmarks/bench_network.py              # best of 3 runs each
    python benchmarks/bench_network.py --repeat 5

Prints the best wall time of each (s), the baseline/nmgeo ratio and how far the
baseline's vertex snapping moves the answers. Needs networkx (``pip install networkx``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree


def baseline(parcels, targets, roads) -> pd.DataFrame:
    """Nearest target by road with networkx, snapping everything to the nearest vertex."""
    import networkx as nx

    lines = shapely.get_parts(np.asarray(roads.geometry.array))
    noded = shapely.get_parts(shapely.unary_union(lines))
    xy, part = shapely.get_coordinates(noded, return_index=True)
    xy = np.round(xy, 3)
    consecutive = part[1:] == part[:-1]
    a, b = xy[:-1][consecutive], xy[1:][consecutive]
    nodes, inverse = np.unique(np.concatenate([a, b]), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    u, v = inverse[: len(a)], inverse[len(a) :]
    length = np.hypot(*(b - a).T)
    graph = nx.Graph()
    graph.add_weighted_edges_from(zip(u.tolist(), v.tolist(), length.tolist(), strict=True))

    tree = cKDTree(nodes)
    t_xy = shapely.get_coordinates(np.asarray(targets.geometry.array))
    t_leg, t_node = tree.query(t_xy)
    centroids = shapely.get_coordinates(shapely.centroid(np.asarray(parcels.geometry.array)))
    p_leg, p_node = tree.query(centroids)

    # Start every target at its leg length: a virtual source joined to its vertex.
    for i, (node, leg) in enumerate(zip(t_node.tolist(), t_leg.tolist(), strict=True)):
        graph.add_edge(("target", i), node, weight=leg)
    sources = [("target", i) for i in range(len(t_xy))]
    dist, paths = nx.multi_source_dijkstra(graph, sources, weight="weight")
    names = targets["name"].to_numpy()
    d = np.array([dist.get(n, np.nan) for n in p_node.tolist()])
    source = [paths[n][0][1] if n in paths else None for n in p_node.tolist()]
    return pd.DataFrame(
        {
            "target": [names[s] if s is not None else None for s in source],
            "distance_m": d + p_leg,
        },
        index=parcels.index,
    )


def best_of(repeat: int, func, *args) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func(*args)
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; best is kept")
    args = parser.parse_args()

    import nmgeo
    from nmgeo.network import network_distance

    sample = nmgeo.load_sample()
    parcels, roads = sample.parcels, sample.roads
    targets = nmgeo.reference.control_points()
    print(
        f"sample: {len(parcels):,} lots, {len(roads):,} road centrelines, "
        f"{len(targets)} control points"
    )
    t_nmgeo, ours = best_of(args.repeat, network_distance, parcels, targets, roads)
    t_base, theirs = best_of(args.repeat, baseline, parcels, targets, roads)
    print(f"nmgeo.network_distance      : {t_nmgeo:7.2f} s (best of {args.repeat})")
    print(f"networkx, vertex snapping   : {t_base:7.2f} s (best of {args.repeat})")
    print(f"ratio baseline / nmgeo      : {t_base / t_nmgeo:7.1f}x")
    both = ours["network_distance_m"].notna() & theirs["distance_m"].notna()
    diff = (theirs.loc[both, "distance_m"] - ours.loc[both, "network_distance_m"]).abs()
    same = (theirs.loc[both, "target"] == ours.loc[both, "network_target"]).mean()
    print(
        f"vertex snapping vs exact    : median |diff| {diff.median():.1f} m, "
        f"95th pct {diff.quantile(0.95):.1f} m, same nearest BCP for {same:.1%} of lots"
    )


if __name__ == "__main__":
    main()
