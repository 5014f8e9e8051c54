"""Balanced contiguous regions: split a connected set of units into k parts of even weight."""

from __future__ import annotations

import heapq
import math
import operator
from collections import deque

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
from scipy.sparse.csgraph import connected_components, dijkstra

from nmgeo.errors import InputError

__all__ = ["balanced_regions"]

# How many of the lightest reachable regions a stalled heavy region tries to pass a unit to.
_CHAIN_TARGETS = 3
# Most times the seeds move to their region's centre and the regions grow again.
_RECENTRE = 5
# How many links (region to neighbouring region) a chain may have at most.
_CHAIN_LINKS = 8
# How many unit pairs a swap between two regions tries before giving up on them.
_SWAP_TRIES = 16


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
    method is a region-growing relative of ArcGIS "Build Balanced Zones" and of PySAL's
    max-p regions, in three steps:

    1. **Seeds.** The first seed is the unit farthest (straight line) from the
       weighted centroid; each further seed is the unit farthest, along the graph, from
       the seeds chosen so far (deterministic farthest-point sampling; ties go to the
       unit farthest in a straight line). Graph distances are shortest paths whose
       edges are as long as the straight line between the units' points, so seeds on
       either side of a narrow neck count as far apart.
    2. **Growth.** The regions grow together: the region of least weight so far takes
       the free unit next to it that is nearest its seed along the region (a Dijkstra
       search per region). A region with no free neighbour left (walled in) stops and
       the others go on, so on a connected graph every unit is taken. Each seed then
       moves to the unit nearest its region's weighted centroid and the regions grow
       again (up to 5 times, Lloyd-style), which makes them compact.
    3. **Improvement.** Up to ``max_iter`` passes. First, while it helps, boundary
       units move along the least-squares flow between neighbouring regions that
       would balance them all at once (a Laplacian solve on the region graph, as in
       diffusion load balancing). Then local moves that each lower the sum of squared
       deviations from the target: a boundary unit goes to a lighter neighbouring
       region (heavier than it by more than the unit weighs); a heavy region passes a
       unit along a chain of neighbouring regions to a lighter one; two neighbouring
       regions swap units of different weight. A donor must stay contiguous: a unit
       whose leaving would cut off part of its region takes that part with it, or does
       not move. It stops early once every region is within half the lightest unit
       of the target: from there, moving any single unit would leave some region
       further off than the worst one is now.

    Every region is contiguous and non-empty by construction, and the answer is
    deterministic (no random numbers; ties go to the lowest index). It is a good local
    optimum, not a proven global one: a lot heavier than the target stays whole, and
    bottlenecks (a lot that is the only link between two wings, tree-like or comb-like
    layouts) can leave a region further from the target than an exact method would.
    On grids of lots weighing 0.5 to 2 units each, regions typically end within a
    quarter of the heaviest lot of the target, and rarely more than one lot away.
    Compactness is encouraged (nearest-first growth, re-centred seeds, moves that
    favour units nearer the receiving region's centre) but not enforced.

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
        Each pass is about linear in ``n``; 5,000 units in 10 regions take well under
        a second.

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
    edge_len = lengths.data.tolist()
    labels = _grow(indptr, indices, edge_len, w.tolist(), seeds)
    for _ in range(_RECENTRE):
        moved = _recentre(labels, w, pts, k)
        if moved == seeds:
            break
        seeds = moved
        labels = _grow(indptr, indices, edge_len, w.tolist(), seeds)
    if max_iter:
        _Improver(graph, indptr, indices, w, pts, labels, k).run(max_iter)
    return _canonical(np.asarray(labels, dtype=np.int64))


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
    """Deterministic farthest-point sampling of ``k`` seeds along the graph.

    Ties in graph distance (common on regular grids, where it is a city-block
    distance) go to the unit farthest from the seeds in a straight line, then to the
    lowest index.
    """
    centre = w @ pts / w.sum()
    first = int(np.argmax(((pts - centre) ** 2).sum(axis=1)))
    seeds = [first]
    along = dijkstra(lengths, indices=first)
    straight = ((pts - pts[first]) ** 2).sum(axis=1)
    for _ in range(1, k):
        far = along.max()
        tied = along >= far - 1e-9 * far
        nxt = int(np.argmax(np.where(tied, straight, -1.0)))
        seeds.append(nxt)
        # Only units nearer the new seed than ``far`` can change: bound the search.
        np.minimum(along, dijkstra(lengths, indices=nxt, limit=far), out=along)
        np.minimum(straight, ((pts - pts[nxt]) ** 2).sum(axis=1), out=straight)
    return seeds


def _recentre(labels: list[int], w: np.ndarray, pts: np.ndarray, k: int) -> list[int]:
    """In each region, the unit nearest its weighted centroid (lowest index on ties)."""
    lab = np.asarray(labels)
    total = np.bincount(lab, weights=w, minlength=k)
    centre = np.column_stack(
        [np.bincount(lab, weights=w * pts[:, i], minlength=k) / total for i in (0, 1)]
    )
    d = ((pts - centre[lab]) ** 2).sum(axis=1)
    order = np.lexsort((np.arange(lab.size), d, lab))
    first = np.flatnonzero(np.r_[True, lab[order][1:] != lab[order][:-1]])
    seeds = np.empty(k, dtype=np.int64)
    seeds[lab[order][first]] = order[first]
    return seeds.tolist()


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
    """Step 3 of :func:`balanced_regions`: moves that even out weights, keeping contiguity.

    Holds the labels (changed in place) and running totals per region: weight, number
    of units, sum of x and y (for centres) and the set of member units.
    """

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
        self.w_min = float(w.min())
        # Moves must gain more than rounding noise, so that no move is ever undone.
        self.tol = float(w.sum()) * 1e-12
        lab = np.asarray(labels)
        self.weight = np.bincount(lab, weights=w, minlength=k).tolist()
        self.size = np.bincount(lab, minlength=k).tolist()
        self.sx = np.bincount(lab, weights=pts[:, 0], minlength=k).tolist()
        self.sy = np.bincount(lab, weights=pts[:, 1], minlength=k).tolist()
        self.members: list[set[int]] = [set() for _ in range(k)]
        for u, r in enumerate(labels):
            self.members[r].add(u)

    def run(self, max_iter: int) -> None:
        """Flow passes while they help, then local moves: sweeps, chains and swaps."""
        # Once every region is within half the lightest unit of the target, moving any
        # one unit can only take some region further away: stop there.
        good_enough = self.w_min / 2
        best = (self.sse(), list(self.labels))
        flowing = True
        for _ in range(max_iter):
            if max(abs(x - self.target) for x in self.weight) <= good_enough:
                break
            if flowing:
                self.flow()
                sse = self.sse()
                if sse < best[0] - self.tol:
                    best = (sse, list(self.labels))
                    continue
                # Blocked flows can leave things worse: go back to the best and go local.
                self.reset(best[1])
                flowing = False
            if self.sweep() == 0 and not self.chain() and not self.swap():
                break

    def sse(self) -> float:
        """Sum of squared deviations of the region weights from the target."""
        return sum((x - self.target) ** 2 for x in self.weight)

    def reset(self, labels: list[int]) -> None:
        """Take ``labels`` and recompute every running total from scratch."""
        self.labels[:] = labels
        lab = np.asarray(labels)
        k, w, x, y = self.k, np.asarray(self.w), np.asarray(self.x), np.asarray(self.y)
        self.weight = np.bincount(lab, weights=w, minlength=k).tolist()
        self.size = np.bincount(lab, minlength=k).tolist()
        self.sx = np.bincount(lab, weights=x, minlength=k).tolist()
        self.sy = np.bincount(lab, weights=y, minlength=k).tolist()
        self.members = [set() for _ in range(k)]
        for u, r in enumerate(labels):
            self.members[r].add(u)

    def flow(self) -> int:
        """Move units along the least-squares flow that balances all regions at once.

        The net weight each pair of neighbouring regions should exchange is the
        smallest (least-squares) flow on the region graph whose balance at every
        region is its excess over the target: a Laplacian solve, as in diffusion load
        balancing of graph partitions. Boundary units then go down these flows, each
        while at least half its weight is still owed. Return the number of moves.
        """
        pairs = self.region_pairs()
        k = self.k
        adj = scipy.sparse.csr_array(
            (np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(k, k)
        )
        lap = scipy.sparse.diags_array(adj.sum(axis=1)) - adj
        excess = np.asarray(self.weight) - self.target
        potential = np.zeros(k)
        # Region 0 is grounded: the excesses sum to zero, so the rest is determined.
        potential[1:] = scipy.sparse.linalg.spsolve(lap[1:, 1:].tocsc(), excess[1:])
        owed = {
            (a, b): potential[a] - potential[b]
            for a, b in pairs.tolist()
            if potential[a] > potential[b]
        }
        labels, indptr, indices, w = self.labels, self.indptr, self.indices, self.w
        order = self.boundary().tolist()
        moved = 0
        for u in order:
            a = labels[u]
            if self.size[a] == 1:
                continue
            b, due = -1, 0.0
            for x in indices[indptr[u] : indptr[u + 1]]:
                f = owed.get((a, labels[x]), 0.0)
                if f > due:
                    b, due = labels[x], f
            if due < w[u] / 2:
                continue
            stranded = self.cut_off(u, a, due - w[u] / 2)
            if stranded is None:
                continue
            for v in (u, *stranded):
                self.move(v, b)
                owed[a, b] -= w[v]
            order.extend(x for x in indices[indptr[u] : indptr[u + 1]] if labels[x] == a)
            moved += 1
        return moved

    def move(self, u: int, b: int) -> None:
        """Give unit ``u`` to region ``b``."""
        a = self.labels[u]
        wu = self.w[u]
        self.labels[u] = b
        self.members[a].remove(u)
        self.members[b].add(u)
        self.weight[a] -= wu
        self.weight[b] += wu
        self.size[a] -= 1
        self.size[b] += 1
        self.sx[a] -= self.x[u]
        self.sx[b] += self.x[u]
        self.sy[a] -= self.y[u]
        self.sy[b] += self.y[u]

    def region_pairs(self) -> np.ndarray:
        """``(m, 2)`` pairs of neighbouring regions, each pair both ways, sorted."""
        lab = np.asarray(self.labels)
        cross = lab[self.rows] != lab[self.cols]
        pairs = np.column_stack([lab[self.rows[cross]], lab[self.cols[cross]]])
        return np.unique(pairs, axis=0).reshape(-1, 2)

    def boundary(self) -> np.ndarray:
        """Units with a neighbour in another region, in index order."""
        lab = np.asarray(self.labels)
        return np.unique(self.rows[lab[self.rows] != lab[self.cols]])

    def sweep(self) -> int:
        """One pass of moves to the lightest neighbouring region; return how many.

        Units nearer the receiver's centre than their own region's go first, so that
        the boundaries stay smooth.
        """
        labels, weight, indptr, indices = self.labels, self.weight, self.indptr, self.indices
        x, y = self.x, self.y
        cx = [sx / n for sx, n in zip(self.sx, self.size, strict=True)]
        cy = [sy / n for sy, n in zip(self.sy, self.size, strict=True)]
        queue = []
        for u in self.boundary().tolist():
            a = labels[u]
            b = self.lightest_neighbour(u)
            if b >= 0 and weight[a] - weight[b] - self.w[u] > self.tol:
                lean = (x[u] - cx[b]) ** 2 + (y[u] - cy[b]) ** 2
                lean -= (x[u] - cx[a]) ** 2 + (y[u] - cy[a]) ** 2
                queue.append((lean, u))
        queue.sort()
        order = [u for _, u in queue]
        moved = 0
        # A move puts the donor's units behind the moved ones on the boundary: they join
        # the queue, so that one pass can shift a boundary by many units.
        for u in order:
            a = labels[u]
            if self.size[a] == 1:
                continue
            b = self.lightest_neighbour(u)
            budget = weight[a] - weight[b] - self.w[u] - self.tol
            if b < 0 or budget <= 0:
                continue
            stranded = self.cut_off(u, a, budget)
            if stranded is None:
                continue
            for v in (u, *stranded):
                self.move(v, b)
            order.extend(x for x in indices[indptr[u] : indptr[u + 1]] if labels[x] == a)
            moved += 1
        return moved

    def lightest_neighbour(self, u: int) -> int:
        """The lightest region next to unit ``u`` other than its own; -1 if none."""
        labels, weight, indices = self.labels, self.weight, self.indices
        a = labels[u]
        best, best_w = -1, math.inf
        for e in range(self.indptr[u], self.indptr[u + 1]):
            b = labels[indices[e]]
            if b != a and weight[b] < best_w:
                best, best_w = b, weight[b]
        return best

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
        if len(starts) <= 1:
            return []
        # One search per start; merged searches share the lowest-numbered live entry.
        owner = {v: i for i, v in enumerate(starts)}
        root = list(range(len(starts)))
        queues: list[deque[int] | None] = [deque([v]) for v in starts]
        seen = [[v] for v in starts]
        searches = list(range(len(starts)))
        live = len(starts)
        stranded: list[int] = []
        stranded_w = 0.0

        def find(i: int) -> int:
            while root[i] != i:
                root[i] = root[root[i]]
                i = root[i]
            return i

        while True:
            for g in searches:
                queue = queues[g]
                if root[g] != g or queue is None:
                    continue  # merged into another search, or finished
                if not queue:
                    # Search g has visited a whole side of the cut: it would be stranded.
                    queues[g] = None
                    live -= 1
                    stranded_w += sum(w[x] for x in seen[g])
                    if stranded_w > budget:
                        return None
                    stranded.extend(seen[g])
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
                        owner[x] = g
                        seen[g].append(x)
                        queue.append(x)
                        continue
                    h = find(o)
                    if h != g:  # two searches meet: one side
                        root[h] = g
                        queue.extend(queues[h] or ())
                        seen[g].extend(seen[h])
                        queues[h] = None
                        live -= 1
                        if live == 1:
                            return sorted(stranded)
            searches = [g for g in searches if root[g] == g and queues[g] is not None]

    def chain(self) -> bool:
        """Pass a unit from a heavy region along neighbouring regions to a lighter one.

        Used when no single move helps: region ``A`` gives a unit to ``B``, ``B`` one to
        ``C`` and so on, so only the ends change much. Kept only if the sum of squared
        deviations goes down.
        """
        neighbours: list[list[int]] = [[] for _ in range(self.k)]
        for a, b in self.region_pairs().tolist():
            neighbours[a].append(b)
        weight = self.weight
        for h in sorted(range(self.k), key=lambda r: (-weight[r], r)):
            if weight[h] - self.target <= self.tol:
                break
            # Breadth-first over neighbouring regions, up to _CHAIN_LINKS links away.
            previous = {h: h}
            ring = [h]
            far: list[int] = []
            for depth in range(_CHAIN_LINKS):
                next_ring = []
                for r in ring:
                    for s in neighbours[r]:
                        if s not in previous:
                            previous[s] = r
                            next_ring.append(s)
                ring = next_ring
                if depth:  # direct neighbours were tried by the sweep
                    far.extend(ring)
            ends = sorted(far, key=lambda r: (weight[r], r))
            for end in ends[:_CHAIN_TARGETS]:
                if weight[h] - weight[end] <= self.w_min:
                    break  # no unit is light enough to even them out
                path = [end]
                while path[-1] != h:
                    path.append(previous[path[-1]])
                path.reverse()
                if self.try_chain(path):
                    return True
        return False

    def swap(self) -> bool:
        """Exchange a unit each way between two neighbouring regions to even them out.

        Used when nothing else helps and units differ in weight: the heavier region
        gives a unit and takes back a lighter one. Pairs whose net transfer is nearest
        half the gap are tried first, at most ``_SWAP_TRIES`` per pair of regions.
        """
        lab = np.asarray(self.labels)
        cross = lab[self.rows] != lab[self.cols]
        u_all, v_all = self.rows[cross], self.cols[cross]
        a_all, b_all = lab[u_all], lab[v_all]
        weight, w, labels = self.weight, self.w, self.labels
        gaps = np.asarray(weight)[a_all] - np.asarray(weight)[b_all]
        heavy = gaps > self.tol
        side: dict[tuple[int, int], set[int]] = {}
        for u, a, b in zip(u_all.tolist(), a_all.tolist(), b_all.tolist(), strict=True):
            side.setdefault((a, b), set()).add(u)
        pairs = sorted(
            set(zip(a_all[heavy].tolist(), b_all[heavy].tolist(), strict=True)),
            key=lambda p: (-(weight[p[0]] - weight[p[1]]), p),
        )
        for a, b in pairs:
            gap = weight[a] - weight[b]
            options = [
                (abs(w[u] - w[v] - gap / 2), u, v)
                for u in sorted(side[a, b])
                for v in sorted(side[b, a])
                if self.tol < w[u] - w[v] < gap - self.tol
            ]
            options.sort()
            saved = self.save([a, b])
            for _, u, v in options[:_SWAP_TRIES]:
                if self.cut_off(u, a, 0.0) != []:
                    continue
                self.move(u, b)
                nbrs = self.indices[self.indptr[v] : self.indptr[v + 1]]
                if any(labels[x] == a for x in nbrs) and self.cut_off(v, b, 0.0) == []:
                    self.move(v, a)
                    return True
                self.move(u, a)
                self.restore(saved)
        return False

    def try_chain(self, path: list[int]) -> bool:
        """Move a unit (with what it would strand) along each link of ``path``.

        Undone unless the sum of squared deviations falls.
        """
        weight = self.weight
        before = sum((weight[r] - self.target) ** 2 for r in path)
        saved = self.save(path)
        done: list[tuple[list[int], int]] = []
        # Net, the head gives and the end receives about one unit: half the gap is best.
        want = (weight[path[0]] - weight[path[-1]]) / 2
        # From the far end back, so a region gives before it receives; each region in
        # between then receives about what it gave.
        for i in range(len(path) - 2, -1, -1):
            donor, receiver = path[i], path[i + 1]
            group = self.pick(donor, receiver, want)
            if not group:
                break
            for v in group:
                self.move(v, receiver)
            done.append((group, donor))
            want = sum(self.w[v] for v in group)
        else:
            after = sum((weight[r] - self.target) ** 2 for r in path)
            if after < before - self.tol:
                return True
        for group, donor in reversed(done):
            for v in group:
                self.move(v, donor)
        self.restore(saved)
        return False

    def pick(self, donor: int, receiver: int, want: float) -> list[int]:
        """Units the donor can give the receiver, weighing in all nearest ``want``.

        One unit next to the receiver whose leaving keeps the donor contiguous; failing
        that, such a unit with the units it would strand (up to twice ``want``). Ties go
        to the unit nearest the receiver's centre, then the lowest index. Empty if the
        donor can give nothing.
        """
        if self.size[donor] == 1:
            return []
        w = self.w
        cx = self.sx[receiver] / self.size[receiver]
        cy = self.sy[receiver] / self.size[receiver]
        labels, indptr, indices = self.labels, self.indptr, self.indices
        units = [
            v
            for v in self.members[donor]
            if any(labels[x] == receiver for x in indices[indptr[v] : indptr[v + 1]])
        ]
        units.sort(
            key=lambda u: (abs(w[u] - want), (self.x[u] - cx) ** 2 + (self.y[u] - cy) ** 2, u)
        )
        for u in units:
            if self.cut_off(u, donor, 0.0) == []:
                return [u]
        best: tuple[float, int] | None = None
        group: list[int] = []
        for rank, u in enumerate(units):
            stranded = self.cut_off(u, donor, 2 * want)
            if stranded is None:
                continue
            key = (abs(w[u] + sum(w[v] for v in stranded) - want), rank)
            if best is None or key < best:
                best, group = key, [u, *stranded]
        return group

    def save(self, regions: list[int]) -> dict[int, tuple[float, int, float, float]]:
        """The running totals of ``regions``, to restore exactly after undoing moves."""
        return {r: (self.weight[r], self.size[r], self.sx[r], self.sy[r]) for r in regions}

    def restore(self, saved: dict[int, tuple[float, int, float, float]]) -> None:
        """Put back totals taken by :meth:`save`, free of the rounding of undone moves."""
        for r, (weight, size, sx, sy) in saved.items():
            self.weight[r], self.size[r], self.sx[r], self.sy[r] = weight, size, sx, sy


def _canonical(labels: np.ndarray) -> np.ndarray:
    """Renumber regions in the order of their smallest unit index."""
    _, first = np.unique(labels, return_index=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[labels]
