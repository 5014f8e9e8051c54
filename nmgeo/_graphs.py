"""Graph colouring for splitting overlapping polygons into passes that share no cell."""

from __future__ import annotations

import numpy as np


def _colour_graph(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Colour the graph with edges ``i``-``j`` so that neighbours differ (0, 1, 2 ...).

    Vectorised Jones-Plassmann: each round, every uncoloured node whose (fixed,
    pseudo-random) priority beats all its uncoloured neighbours takes the smallest
    colour none of its neighbours holds. Uses about as many colours as sequential
    greedy colouring, in a few dozen numpy rounds.
    """
    colour = np.full(n, -1, dtype=np.int64)
    src = np.concatenate([i, j])
    dst = np.concatenate([j, i])
    colour[np.bincount(src, minlength=n) == 0] = 0
    priority = np.random.default_rng(0).permutation(n)
    while (uncoloured := colour < 0).any():
        keep = uncoloured[src]
        src, dst = src[keep], dst[keep]
        rival = np.where(uncoloured[dst], priority[dst], -1)
        best = np.full(n, -1, dtype=priority.dtype)
        np.maximum.at(best, src, rival)
        chosen = uncoloured & (priority > best)
        # Smallest colour not used by an already coloured neighbour.
        e = chosen[src] & ~uncoloured[dst]
        used = np.unique(np.column_stack([src[e], colour[dst[e]]]), axis=0)
        pick = np.zeros(n, dtype=np.int64)
        if used.size:
            node, col = used[:, 0], used[:, 1]
            first = np.r_[0, np.flatnonzero(np.diff(node)) + 1]
            rank = np.arange(node.size) - np.repeat(first, np.diff(np.r_[first, node.size]))
            size = np.diff(np.r_[first, node.size])
            pick[node[first]] = size  # all of 0..size-1 taken unless a gap is found
            gap = col != rank
            gap_rank = np.full(n, np.iinfo(np.int64).max)
            np.minimum.at(gap_rank, node[gap], rank[gap])
            has_gap = gap_rank < np.iinfo(np.int64).max
            pick[has_gap] = gap_rank[has_gap]
        colour[chosen] = pick[chosen]
    return colour
