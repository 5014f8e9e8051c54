"""Balanced contiguous regions: split a connected set of units into k parts of even weight."""

from __future__ import annotations

import heapq
import math
import operator
from collections import deque

import numpy as np
import scipy.sparse
from scipy.sparse.csgraph import connected_components, dijkstra

from nmgeo.errors import InputError

__all__ = ["balanced_regions", "region_balance"]

# How many of the lightest reachable regions a stalled heavy region tries to pass a unit to.
_CHAIN_TARGETS = 3


def balanced_regions(
    adjacency: scipy.sparse.sparray | scipy.sparse.spmatrix,
    weights: np.ndarray,
    k: int,
    xy: np.ndarray,
    *,
    max_iter: int = 50,
) -> np.ndarray:
    """Split a connected set of units into ``k`` contiguous regions of balanced weight.

    Used to cut an oversize land disposal package (its lots as units, their areas as
    weights) into ``k`` contiguous sub-packages of about ``sum(weights) / k`` each. The
    method is a greedy region-growing relative of ArcGIS "Build Balanced Zones" and of
    PySAL's max-p regions, in three steps:

    1. **Seeds.** The first seed is the unit farthest (straight line) from the
       weighted centroid; each further seed is the unit farthest, along the graph, from
       the seeds chosen so far (deterministic farthest-point sampling). Graph distances
       are shortest paths whose edges are as long as the straight line between the two
       units' points, so seeds on either side of a narrow neck are far apart.
    2. **Growth.** The regions grow together: the region of least weight so far takes
       the free unit next to it that is nearest its seed along the region itself (a
       Dijkstra search per region). A region with no free neighbour left (walled in by
       others) stops; the others go on, so on a connected graph every unit is taken.
    3. **Improvement.** Up to ``max_iter`` passes move a boundary unit from a region to
       a lighter neighbouring region when that lowers the sum of squared deviations
       from the target (the donor is heavier than the receiver by more than the unit
       weighs) and the donor stays contiguous. When no single move helps, a heavy
       region passes one unit along a chain of neighbouring regions to a lighter one.

    Every region is contiguous and non-empty by construction. The result is a good
    local optimum, not a proven global one: coarse units (one lot larger than the
    target), bottlenecks (a lot that is the only link between two wings) or a region
    walled in during growth can leave a region further from the target than an exact
    method would. The regions follow the graph, not a shape criterion; they are
    compact in practice because growth is nearest-first, but nothing forces it.

    Parameters
    ----------
    adjacency : scipy.sparse.sparray or scipy.sparse.spmatrix
        ``(n, n)`` contiguity graph: a nonzero at ``[i, j]`` makes units ``i`` and ``j``
        neighbours. It is read as undirected (a link either way counts) and the diagonal
        is ignored. The graph must be connected.
    weights : numpy.ndarray
        ``(n,)`` weight of each unit, finite and > 0 (typically area in m²).
    k : int
        Number of regions, ``1 <= k <= n``.
    xy : numpy.ndarray
        ``(n, 2)`` representative point of each unit, in metres.
    max_iter : int
        Most improvement passes (step 3); 0 keeps the grown regions as they are.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` int64 region labels ``0 .. k-1``, numbered in the order of each
        region's smallest unit index (unit 0 is always in region 0). The same inputs in
        the same order always give the same labels.

    Raises
    ------
    nmgeo.errors.InputError
        (a ``ValueError``) if the shapes disagree, a weight is not finite and > 0, a
        point is not finite, ``k`` is outside ``1 .. n`` or the graph is not connected.
    """
    graph, w, pts, k, max_iter = _check(adjacency, weights, k, xy, max_iter)
    n = w.size
    if k == 1:
        return np.zeros(n, dtype=np.int64)
    lengths = _edge_lengths(graph, pts)
    seeds = _seeds(lengths, w, pts, k)
    indptr = graph.indptr.tolist()
    indices = graph.indices.tolist()
    labels = _grow(indptr, indices, lengths.data.tolist(), w.tolist(), seeds)
    if max_iter:
        _Improver(graph, indptr, indices, w, pts, labels, k).run(max_iter)
    return _canonical(np.asarray(labels, dtype=np.int64))


def region_balance(labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Total weight of each region.

    Parameters
    ----------
    labels : numpy.ndarray
        ``(n,)`` non-negative integer region labels, e.g. from :func:`balanced_regions`.
    weights : numpy.ndarray
        ``(n,)`` weight of each unit (typically area in m²).

    Returns
    -------
    numpy.ndarray
        ``(labels.max() + 1,)`` float sum of ``weights`` per label, in the units of
        ``weights``; a label with no unit gets 0.
    """
    lab = np.asarray(labels)
    w = np.asarray(weights, dtype=float)
    if lab.ndim != 1 or w.shape != lab.shape:
        msg = f"labels {lab.shape} and weights {w.shape} must be 1-D of the same length"
        raise InputError(msg)
    if lab.size == 0:
        return np.zeros(0)
    if not np.issubdtype(lab.dtype, np.integer) or lab.min() < 0:
        msg = "labels must be non-negative integers, as returned by balanced_regions"
        raise InputError(msg)
    return np.bincount(lab, weights=w)


def _check(
    adjacency: object, weights: object, k: object, xy: object, max_iter: object
) -> tuple[scipy.sparse.csr_array, np.ndarray, np.ndarray, int, int]:
    """Validate the inputs; return the symmetric, loop-free CSR graph and clean arrays."""
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1:
        msg = f"weights must be 1-D (one per unit), not of shape {w.shape}"
        raise InputError(msg)
    n = w.size
    if not np.all(np.isfinite(w) & (w > 0)):
        bad = np.flatnonzero(~(np.isfinite(w) & (w > 0)))
        msg = f"weights must be finite and > 0; units {bad[:5].tolist()} are not"
        raise InputError(msg)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        msg = f"k must be an integer number of regions, not {k!r}"
        raise InputError(msg)
    k = operator.index(k)
    if not 1 <= k <= n:
        msg = f"k must be between 1 and the number of units ({n}), not {k}"
        raise InputError(msg)
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 0:
        msg = f"max_iter must be an integer >= 0, not {max_iter!r}"
        raise InputError(msg)
    pts = np.asarray(xy, dtype=float)
    if pts.shape != (n, 2):
        msg = f"xy must have shape ({n}, 2), one point per unit, not {pts.shape}"
        raise InputError(msg)
    if not np.all(np.isfinite(pts)):
        msg = "xy must be finite; give every unit a representative point"
        raise InputError(msg)
    a = scipy.sparse.coo_array(
        adjacency if scipy.sparse.issparse(adjacency) else np.asarray(adjacency)
    )
    if a.shape != (n, n):
        msg = f"adjacency must have shape ({n}, {n}) to match weights, not {a.shape}"
        raise InputError(msg)
    keep = (a.data != 0) & (a.row != a.col)
    row, col = a.row[keep], a.col[keep]
    ones = np.ones(2 * row.size, dtype=np.int8)
    graph = scipy.sparse.csr_array(
        (ones, (np.concatenate([row, col]), np.concatenate([col, row]))), shape=(n, n)
    )
    graph.sum_duplicates()
    graph.sort_indices()
    n_parts = connected_components(graph, directed=False, return_labels=False)
    if n_parts > 1:
        msg = (
            f"the adjacency graph has {n_parts} separate parts; balanced_regions splits "
            "one connected set of units, so call it once per connected component"
        )
        raise InputError(msg)
    return graph, w, pts, k, int(max_iter)


def _edge_lengths(graph: scipy.sparse.csr_array, pts: np.ndarray) -> scipy.sparse.csr_array:
    """The graph with each edge as long as the straight line between its units' points.

    A small floor keeps coincident points linked (a zero would drop the edge).
    """
    rows = np.repeat(np.arange(graph.shape[0]), np.diff(graph.indptr))
    d = np.hypot(*(pts[rows] - pts[graph.indices]).T)
    extent = float(np.hypot(*np.ptp(pts, axis=0)))
    d += max(extent, 1.0) * 1e-9
    return scipy.sparse.csr_array((d, graph.indices, graph.indptr), shape=graph.shape)


def _seeds(lengths: scipy.sparse.csr_array, w: np.ndarray, pts: np.ndarray, k: int) -> list[int]:
    """Deterministic farthest-point sampling of ``k`` seeds along the graph."""
    centre = w @ pts / w.sum()
    first = int(np.argmax(((pts - centre) ** 2).sum(axis=1)))
    seeds = [first]
    nearest = dijkstra(lengths, indices=first)
    for _ in range(1, k):
        nxt = int(np.argmax(nearest))
        reach = float(nearest[nxt])
        seeds.append(nxt)
        # Only units nearer the new seed than ``reach`` can change: bound the search.
        np.minimum(nearest, dijkstra(lengths, indices=nxt, limit=reach), out=nearest)
    return seeds


def _grow(
    indptr: list[int], indices: list[int], lengths: list[float], w: list[float], seeds: list[int]
) -> list[int]:
    """Grow all regions at once, the lightest first, each nearest-first from its seed."""
    labels = [-1] * len(w)
    heaps: list[list[tuple[float, int]]] = [[] for _ in seeds]
    weight = [0.0] * len(seeds)
    for r, s in enumerate(seeds):
        labels[s] = r
        weight[r] = w[s]
    for r, s in enumerate(seeds):
        for e in range(indptr[s], indptr[s + 1]):
            if labels[indices[e]] < 0:
                heaps[r].append((lengths[e], indices[e]))
        heapq.heapify(heaps[r])
    order = [(weight[r], r) for r in range(len(seeds))]
    heapq.heapify(order)
    free = len(w) - len(seeds)
    while free and order:
        _, r = heapq.heappop(order)
        heap = heaps[r]
        while heap and labels[heap[0][1]] >= 0:
            heapq.heappop(heap)
        if not heap:
            continue  # walled in: this region stops, the others take the rest
        d, u = heapq.heappop(heap)
        labels[u] = r
        weight[r] += w[u]
        free -= 1
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            if labels[v] < 0:
                heapq.heappush(heap, (d + lengths[e], v))
        heapq.heappush(order, (weight[r], r))
    # On a connected graph some region always borders a free unit, so none is left.
    return labels


class _Improver:
    """Boundary moves that lower the sum of squared deviations and keep regions contiguous."""

    def __init__(
        self,
        graph: scipy.sparse.csr_array,
        indptr: list[int],
        indices: list[int],
        w: np.ndarray,
        pts: np.ndarray,
        labels: list[int],
        k: int,
    ) -> None:
        self.indptr = indptr
        self.indices = indices
        self.rows = np.repeat(np.arange(w.size), np.diff(graph.indptr))
        self.cols = graph.indices
        self.w = w.tolist()
        self.x = pts[:, 0].tolist()
        self.y = pts[:, 1].tolist()
        self.labels = labels
        self.k = k
        self.target = float(w.sum()) / k
        # Moves must gain more than rounding noise, so that no move is ever undone.
        self.tol = float(w.sum()) * 1e-12
        lab = np.asarray(labels)
        self.weight = np.bincount(lab, weights=w, minlength=k).tolist()
        self.size = np.bincount(lab, minlength=k).tolist()
        self.sx = np.bincount(lab, weights=pts[:, 0], minlength=k).tolist()
        self.sy = np.bincount(lab, weights=pts[:, 1], minlength=k).tolist()

    def run(self, max_iter: int) -> None:
        """Alternate sweeps of single moves with chain moves until neither helps."""
        for _ in range(max_iter):
            if self.sweep() == 0 and not self.chain():
                break

    def move(self, u: int, b: int) -> None:
        """Give unit ``u`` to region ``b``."""
        a = self.labels[u]
        wu = self.w[u]
        self.labels[u] = b
        self.weight[a] -= wu
        self.weight[b] += wu
        self.size[a] -= 1
        self.size[b] += 1
        self.sx[a] -= self.x[u]
        self.sx[b] += self.x[u]
        self.sy[a] -= self.y[u]
        self.sy[b] += self.y[u]

    def boundary(self) -> np.ndarray:
        """Units with a neighbour in another region, in index order."""
        lab = np.asarray(self.labels)
        return np.unique(self.rows[lab[self.rows] != lab[self.cols]])

    def sweep(self) -> int:
        """One pass of moves to the lightest neighbouring region; return how many."""
        labels, weight, indptr, indices = self.labels, self.weight, self.indptr, self.indices
        moved = 0
        for u in self.boundary().tolist():
            a = labels[u]
            if self.size[a] == 1:
                continue
            best, best_w = -1, math.inf
            for e in range(indptr[u], indptr[u + 1]):
                b = labels[indices[e]]
                if b != a and weight[b] < best_w:
                    best, best_w = b, weight[b]
            budget = weight[a] - best_w - self.w[u] - self.tol
            if best < 0 or budget <= 0:
                continue
            stranded = self.cut_off(u, a, budget)
            if stranded is None:
                continue
            for v in (u, *stranded):
                self.move(v, best)
            moved += 1
        return moved

    def cut_off(self, u: int, a: int, budget: float) -> list[int] | None:
        """Units of region ``a`` that lose their link to the rest of it when ``u`` leaves.

        An empty list means ``a`` stays contiguous without ``u``; otherwise moving ``u``
        with the listed units (the smaller sides of the cut) keeps both regions
        contiguous. None if those units weigh more than ``budget``.

        Breadth-first searches start together from each neighbour of ``u`` in ``a`` and
        advance in turn, merging when they meet; a search that runs out of units on its
        own has found a whole cut-off side. The cost is about the number of neighbours
        times the size of the cut-off sides, not the size of the region.
        """
        labels, indptr, indices, w = self.labels, self.indptr, self.indices, self.w
        starts = [v for v in indices[indptr[u] : indptr[u + 1]] if labels[v] == a]
        m = len(starts)
        if m <= 1:
            return []
        owner = {v: i for i, v in enumerate(starts)}
        root = list(range(m))

        def find(i: int) -> int:
            while root[i] != i:
                root[i] = root[root[i]]
                i = root[i]
            return i

        queues = [deque([v]) for v in starts]
        seen = [[v] for v in starts]
        dead = [False] * m
        live = m
        stranded: list[int] = []
        stranded_w = 0.0
        while True:
            for f in range(m):
                g = find(f)
                if dead[g]:
                    continue
                queue = queues[f]
                if not queue:
                    group = [h for h in range(m) if find(h) == g]
                    if any(queues[h] for h in group):
                        continue
                    # Group g has visited a whole side of the cut: it would be stranded.
                    dead[g] = True
                    live -= 1
                    side = [x for h in group for x in seen[h]]
                    stranded_w += sum(w[x] for x in side)
                    if stranded_w > budget:
                        return None
                    stranded.extend(side)
                    if live == 1:
                        return sorted(stranded)
                    continue
                v = queue.popleft()
                for e in range(indptr[v], indptr[v + 1]):
                    x = indices[e]
                    if x == u or labels[x] != a:
                        continue
                    o = owner.get(x)
                    if o is None:
                        owner[x] = f
                        seen[f].append(x)
                        queue.append(x)
                        continue
                    gf, go = find(f), find(o)
                    if gf != go:
                        root[max(gf, go)] = min(gf, go)
                        live -= 1
                        if live == 1:
                            return sorted(stranded)

    def chain(self) -> bool:
        """Pass a unit from a heavy region along neighbouring regions to a lighter one.

        Used when no single move helps: region ``A`` gives a unit to ``B``, ``B`` one to
        ``C`` and so on, so only the ends change much. Kept only if the sum of squared
        deviations goes down.
        """
        lab = np.asarray(self.labels)
        cross = lab[self.rows] != lab[self.cols]
        region_adj: list[set[int]] = [set() for _ in range(self.k)]
        for a, b in zip(lab[self.rows[cross]].tolist(), lab[self.cols[cross]].tolist()):
            region_adj[a].add(b)
        weight = self.weight
        for h in sorted(range(self.k), key=lambda r: (-weight[r], r)):
            if weight[h] - self.target <= self.tol:
                break
            previous = {h: h}
            queue = [h]
            for r in queue:
                for s in sorted(region_adj[r]):
                    if s not in previous:
                        previous[s] = r
                        queue.append(s)
            # Direct neighbours were tried by the sweep; look further away.
            far = [r for r in queue if r != h and h not in region_adj[r]]
            ends = sorted(far, key=lambda r: (weight[r], r))
            for end in ends[:_CHAIN_TARGETS]:
                path = [end]
                while path[-1] != h:
                    path.append(previous[path[-1]])
                path.reverse()
                if self.try_chain(path):
                    return True
        return False

    def try_chain(self, path: list[int]) -> bool:
        """Move one unit along each link of ``path``; undo unless the deviations fall."""
        weight = self.weight
        before = sum((weight[r] - self.target) ** 2 for r in path)
        done: list[tuple[int, int]] = []
        # Net, the head gives and the end receives about one unit: half the gap is best.
        want = (weight[path[0]] - weight[path[-1]]) / 2
        # From the far end back, so a region gives before it receives; each region in
        # between then receives about what it gave.
        for i in range(len(path) - 2, -1, -1):
            donor, receiver = path[i], path[i + 1]
            u = self.pick(donor, receiver, want)
            if u < 0:
                break
            self.move(u, receiver)
            done.append((u, donor))
            want = self.w[u]
        else:
            after = sum((weight[r] - self.target) ** 2 for r in path)
            if after < before - self.tol:
                return True
        for u, donor in reversed(done):
            self.move(u, donor)
        return False

    def pick(self, donor: int, receiver: int, want: float) -> int:
        """The donor unit next to the receiver that it can give, weighing nearest ``want``.

        Ties go to the unit nearest the receiver's centre, then the lowest index;
        -1 if the donor can give none.
        """
        if self.size[donor] == 1:
            return -1
        labels, w = self.labels, self.w
        cx = self.sx[receiver] / self.size[receiver]
        cy = self.sy[receiver] / self.size[receiver]
        lab = np.asarray(labels)
        edge = (lab[self.rows] == donor) & (lab[self.cols] == receiver)
        units = np.unique(self.rows[edge]).tolist()
        units.sort(
            key=lambda u: (abs(w[u] - want), (self.x[u] - cx) ** 2 + (self.y[u] - cy) ** 2, u)
        )
        for u in units:
            if self.cut_off(u, donor, 0.0) == []:
                return u
        return -1


def _canonical(labels: np.ndarray) -> np.ndarray:
    """Renumber regions in the order of their smallest unit index."""
    _, first = np.unique(labels, return_index=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[labels]
