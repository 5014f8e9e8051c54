"""Distance along the road network from parcels to the nearest of a set of targets."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

from nmgeo._crs import as_hk80
from nmgeo._limits import check_limit
from nmgeo.errors import InputError, SchemaError

__all__ = ["network_distance"]

logger = logging.getLogger("nmgeo.network")

DEFAULT_PREFIX = "network_"
# Node coordinates are rounded to this many decimals of a metre (1 mm) before nodes
# are merged, so that lines crossing at a computed intersection share one node.
_NODE_DECIMALS = 3
_LINE_TYPES = (1, 2, 5)  # LineString, LinearRing, MultiLineString
_TYPE_NAMES = {
    0: "Point",
    3: "Polygon",
    4: "MultiPoint",
    6: "MultiPolygon",
    7: "GeometryCollection",
}
_N_NAMES = 5  # how many target names a warning quotes
# Ring search for the nearest segment: first radius and last one before GEOS's
# nearest-neighbour search takes over, metres (see _nearest_segment).
_SEARCH_START = 50.0
_SEARCH_LIMIT = 1600.0


@dataclass
class _Network:
    """Road segments between consecutive vertices of the noded centrelines (EPSG:2326).

    ``nodes`` holds the node coordinates (rounded to 1 mm), ``start`` / ``end`` the node
    numbers of each segment's first / last vertex, ``length`` its length in metres and
    ``segments`` the two-point LineStrings, built from the rounded node coordinates so
    that lengths and snapping agree exactly.
    """

    n_nodes: int
    nodes: np.ndarray
    start: np.ndarray
    end: np.ndarray
    length: np.ndarray
    segments: np.ndarray
    tree: shapely.STRtree


@dataclass
class _Snap:
    """Where geometries attach to the network: segment, position along it and leg (m)."""

    segment: np.ndarray  # segment number, -1 where the geometry is null or empty
    position: np.ndarray  # metres from the segment's start node
    leg: np.ndarray  # straight access leg, metres (NaN where segment is -1)


def _road_lines(roads: gpd.GeoDataFrame) -> np.ndarray:
    """Return the LineString parts of a road layer; raise InputError if it is not linear."""
    geoms = np.asarray(roads.geometry.array, dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    type_id = shapely.get_type_id(geoms)
    wrong = present & ~np.isin(type_id, _LINE_TYPES)
    if wrong.any():
        kinds = pd.Series(type_id[wrong]).map(_TYPE_NAMES).value_counts(sort=False)
        shown = ", ".join(f"{n} {kind}" for kind, n in kinds.items())
        msg = (
            f"roads must hold road centrelines (LineString or MultiLineString), but "
            f"{int(wrong.sum())} of {len(geoms)} rows are not ({shown}); pass a line layer."
        )
        raise InputError(msg)
    if not present.any():
        msg = (
            f"roads holds no lines ({len(geoms)} rows, all null or empty); pass a layer of "
            "road centrelines."
        )
        raise InputError(msg)
    parts = shapely.get_parts(geoms[present])
    rings = shapely.get_type_id(parts) == 2
    if rings.any():  # LinearRing -> LineString, so they can go in a MultiLineString
        xy, which = shapely.get_coordinates(parts[rings], return_index=True)
        parts[rings] = shapely.linestrings(xy, indices=which)
    return parts[~shapely.is_empty(parts)]


def _build_network(roads: gpd.GeoDataFrame) -> _Network:
    """Node the centrelines and return one undirected edge per segment between vertices."""
    lines = _road_lines(roads)
    noded = shapely.get_parts(shapely.node(shapely.multilinestrings(lines)))
    xy, part = shapely.get_coordinates(noded, return_index=True)
    xy = np.round(xy, _NODE_DECIMALS)
    consecutive = part[1:] == part[:-1]
    a_xy, b_xy = xy[:-1][consecutive], xy[1:][consecutive]
    n_seg = len(a_xy)
    nodes, inverse = np.unique(np.concatenate([a_xy, b_xy]), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    start, end = inverse[:n_seg], inverse[n_seg:]
    lo, hi = np.minimum(start, end), np.maximum(start, end)
    keep = lo != hi  # zero-length after rounding
    if not keep.any():
        msg = (
            f"roads holds {len(lines)} lines but none longer than 1 mm; pass a layer of road "
            "centrelines."
        )
        raise InputError(msg)
    pairs = np.unique(np.column_stack([lo[keep], hi[keep]]), axis=0)
    start, end = pairs[:, 0], pairs[:, 1]
    coords = np.stack([nodes[start], nodes[end]], axis=1)
    segments = shapely.linestrings(coords)
    length = np.hypot(*(coords[:, 1] - coords[:, 0]).T)
    logger.debug(
        "road network: %d lines noded into %d segments between %d nodes",
        len(lines),
        len(start),
        len(nodes),
    )
    return _Network(
        n_nodes=len(nodes),
        nodes=nodes,
        start=start,
        end=end,
        length=length,
        segments=segments,
        tree=shapely.STRtree(segments),
    )


def _nearest_segment(
    network: _Network, geoms: np.ndarray, max_snap: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest segment of each geometry within ``max_snap`` metres, exactly.

    Returns the geometry numbers that have one, the segment numbers and the distances
    (m); ties go to the lowest segment number. Searched in growing rings: the segments
    whose bounding box meets a geometry's box grown by ``r`` are candidates, and the
    best candidate is the true nearest when it is within ``r`` (a nearer segment would
    be a candidate too). Geometries still unresolved at ``_SEARCH_LIMIT`` metres fall
    back to GEOS's nearest-neighbour search. Null and empty geometries are skipped.
    """
    bounds = shapely.bounds(geoms)
    todo = np.flatnonzero(np.isfinite(bounds).all(axis=1))
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    radius = min(_SEARCH_START, max_snap)
    while todo.size and radius <= _SEARCH_LIMIT:
        grown = bounds[todo] + np.array([-radius, -radius, radius, radius])
        local, seg = network.tree.query(shapely.box(*grown.T))
        dist = shapely.distance(geoms[todo[local]], network.segments[seg])
        order = np.lexsort((seg, dist, local))
        local, seg, dist = local[order], seg[order], dist[order]
        first = np.r_[True, local[1:] != local[:-1]] if local.size else np.zeros(0, bool)
        local, seg, dist = local[first], seg[first], dist[first]
        hit = dist <= radius
        found.append((todo[local[hit]], seg[hit], dist[hit]))
        resolved = np.zeros(todo.size, dtype=bool)
        resolved[local[hit]] = True
        todo = todo[~resolved]
        if radius >= max_snap:
            todo = todo[:0]  # nothing left is within max_snap
            break
        radius = min(radius * 2.0, max_snap)
    if todo.size:
        (local, seg), dist = network.tree.query_nearest(
            geoms[todo], return_distance=True, all_matches=False
        )
        near = dist <= max_snap
        found.append((todo[local[near]], seg[near], dist[near]))
    if not found:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    which, seg, dist = (np.concatenate(parts) for parts in zip(*found, strict=True))
    return which, seg, dist


def _snap(network: _Network, geoms: np.ndarray, max_snap: float) -> _Snap:
    """Attach each geometry at the point of the network nearest to it (exact, not a vertex).

    Geometries farther than ``max_snap`` metres from every segment are left unattached
    (segment -1), as are null and empty ones.
    """
    n = len(geoms)
    segment = np.full(n, -1, dtype=np.int64)
    position = np.full(n, np.nan)
    leg = np.full(n, np.nan)
    if n == 0:
        return _Snap(segment, position, leg)
    which, seg, dist = _nearest_segment(network, geoms, max_snap)
    # shortest_line runs from the segment to the geometry: its first point is on the road.
    ends = shapely.get_coordinates(shapely.shortest_line(network.segments[seg], geoms[which]))
    on_road = ends[0::2]
    along = np.hypot(*(on_road - network.nodes[network.start[seg]]).T)
    segment[which] = seg
    position[which] = np.clip(along, 0.0, network.length[seg])
    leg[which] = dist
    return _Snap(segment, position, leg)


def _names(values: pd.Series, mask: np.ndarray) -> str:
    """The first few names where ``mask`` is True, quoted, for a warning."""
    shown = ", ".join(repr(v) for v in values.to_numpy()[mask][:_N_NAMES])
    return shown + (", ..." if mask.sum() > _N_NAMES else "")


def _same_segment_best(
    seg_p: np.ndarray, pos_p: np.ndarray, seg_t: np.ndarray, pos_t: np.ndarray, leg_t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cheapest direct run along a shared segment from any target to each polygon.

    Returns the cost (target leg + run along the segment, metres; inf where no target
    shares the polygon's segment) and the target number (-1 there).
    """
    n = len(seg_p)
    cost = np.full(n, np.inf)
    best = np.full(n, -1, dtype=np.int64)
    order = np.argsort(seg_t, kind="stable")
    sorted_seg = seg_t[order]
    lo = np.searchsorted(sorted_seg, seg_p, side="left")
    hi = np.searchsorted(sorted_seg, seg_p, side="right")
    counts = hi - lo
    total = int(counts.sum())
    if total == 0:
        return cost, best
    poly = np.repeat(np.arange(n), counts)
    offset = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    tgt = order[lo[poly] + offset]
    pair_cost = leg_t[tgt] + np.abs(pos_p[poly] - pos_t[tgt])
    rank = np.lexsort((tgt, pair_cost, poly))
    poly, tgt, pair_cost = poly[rank], tgt[rank], pair_cost[rank]
    first = np.r_[True, poly[1:] != poly[:-1]]
    cost[poly[first]] = pair_cost[first]
    best[poly[first]] = tgt[first]
    return cost, best


def _touching_target(
    p_geoms: np.ndarray, t_geoms: np.ndarray, t_present: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Parcels that contain or touch a target, and that target (the first one if several)."""
    located = np.flatnonzero(t_present)
    hits_t, hits_p = shapely.STRtree(p_geoms).query(t_geoms[located], predicate="intersects")
    hits_t = located[hits_t]
    order = np.lexsort((hits_t, hits_p))
    hits_p, hits_t = hits_p[order], hits_t[order]
    first = np.r_[True, hits_p[1:] != hits_p[:-1]] if hits_p.size else np.zeros(0, bool)
    return hits_p[first], hits_t[first]


@dataclass
class _Targets:
    """The targets' geometries (EPSG:2326), names and which of them are located."""

    geoms: np.ndarray
    names: pd.Series  # by position (RangeIndex)
    present: np.ndarray  # not null, not empty


@dataclass
class _Sources:
    """The targets attached to the network: the Dijkstra sources.

    ``row`` holds their rows of ``targets``; ``segment``, ``position`` and ``leg`` where
    each attaches (:class:`_Snap`, for those rows only). ``leg_of_row`` is the leg of
    every row of ``targets`` (NaN where its geometry is null or empty).
    """

    row: np.ndarray
    segment: np.ndarray
    position: np.ndarray
    leg: np.ndarray
    leg_of_row: np.ndarray


@dataclass
class _Measures:
    """Per parcel: row of the nearest target by road (-1 if none) and the distances (m)."""

    target: np.ndarray
    reached: np.ndarray
    target_leg: np.ndarray
    access: np.ndarray
    path: np.ndarray
    distance: np.ndarray


def _check_targets(targets: gpd.GeoDataFrame, name_column: str) -> None:
    """Raise InputError if ``targets`` is empty, SchemaError if it has no ``name_column``."""
    if len(targets) == 0:
        msg = "targets is empty; pass at least one target (e.g. nmgeo.reference.control_points())."
        raise InputError(msg)
    if name_column not in targets.columns:
        available = ", ".join(repr(str(c)) for c in targets.columns)
        msg = (
            f"targets has no column {name_column!r} to name them (columns: {available}); "
            "pass name_column= with one of these."
        )
        raise SchemaError(msg)


def _located_targets(targets: gpd.GeoDataFrame, name_column: str) -> _Targets:
    """The targets' geometries and names; warn of null or empty ones, raise if all are."""
    t_geoms = np.asarray(targets.geometry.array, dtype=object)
    t_names = targets[name_column].reset_index(drop=True)
    t_present = ~(shapely.is_missing(t_geoms) | shapely.is_empty(t_geoms))
    if not t_present.any():
        msg = f"targets has {len(t_geoms)} rows but no geometries; pass located targets."
        raise InputError(msg)
    if not t_present.all():
        logger.warning(
            "network_distance: %d of %d targets have null or empty geometry and were ignored: %s",
            int((~t_present).sum()),
            len(t_geoms),
            _names(t_names, ~t_present),
        )
    return _Targets(geoms=t_geoms, names=t_names, present=t_present)


def _attach_targets(network: _Network, targets: _Targets, max_snap: float) -> _Sources:
    """Snap the located targets to the network; warn of those beyond ``max_snap``."""
    t_snap = _snap(network, targets.geoms, max_snap)
    t_far = targets.present & ~(t_snap.leg <= max_snap)
    if t_far.any():
        logger.warning(
            "network_distance: %d of %d targets are more than %g m from the nearest road "
            "and were ignored (raise max_snap to attach them): %s",
            int(t_far.sum()),
            len(targets.geoms),
            max_snap,
            _names(targets.names, t_far),
        )
    t_used = np.flatnonzero(targets.present & ~t_far)
    return _Sources(
        row=t_used,
        segment=t_snap.segment[t_used],
        position=t_snap.position[t_used],
        leg=t_snap.leg[t_used],
        leg_of_row=np.where(targets.present, t_snap.leg, np.nan),
    )


def _nearest_source(network: _Network, sources: _Sources) -> tuple[np.ndarray, np.ndarray]:
    """Road distance from the nearest source to every node, and that source's target row.

    One multi-source Dijkstra run over the road nodes 0..n_nodes-1 plus one source node
    per attached target, with one-way edges to both ends of its segment (leg + partial
    length). The target row is -1 where no source reaches the node (distance inf).
    """
    n_nodes = network.n_nodes
    seg_t, pos_t, leg_t = sources.segment, sources.position, sources.leg
    virtual = n_nodes + np.arange(len(sources.row))
    rows = np.concatenate([network.start, network.end, virtual, virtual])
    cols = np.concatenate([network.end, network.start, network.start[seg_t], network.end[seg_t]])
    weights = np.concatenate(
        [network.length, network.length, leg_t + pos_t, leg_t + network.length[seg_t] - pos_t]
    )
    size = n_nodes + len(sources.row)
    graph = csr_array((weights, (rows, cols)), shape=(size, size))
    if len(sources.row):
        node_dist, _, node_source = dijkstra(
            graph, directed=True, indices=virtual, min_only=True, return_predecessors=True
        )
    else:
        node_dist = np.full(size, np.inf)
        node_source = np.full(size, -9999)
    # node_source holds the virtual node of the nearest target (-9999 if none); map it to
    # the row of `targets`, -1 if none (the last entry of `row_of`).
    row_of = np.append(sources.row, -1)
    node_target = row_of[np.where(node_source >= n_nodes, node_source - n_nodes, -1)]
    return node_dist, node_target


def _parcel_cost(
    network: _Network,
    sources: _Sources,
    nodes: tuple[np.ndarray, np.ndarray],
    p_snap: _Snap,
    p_near: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Cheapest target leg + path to each parcel's attachment point, and that target's row.

    The parcel takes the cheaper end of its segment (``nodes``: distance and target row
    of every node, :func:`_nearest_source`) or the direct run along the segment from a
    target attached to the same one. The cost is inf where nothing reaches the parcel.
    """
    node_dist, node_target = nodes
    seg_p = np.where(p_near, p_snap.segment, 0)
    pos_p = np.where(p_near, p_snap.position, 0.0)
    start, end = network.start[seg_p], network.end[seg_p]
    via_start = node_dist[start] + pos_p
    via_end = node_dist[end] + network.length[seg_p] - pos_p
    cost = np.minimum(via_start, via_end)
    target = np.where(via_start <= via_end, node_target[start], node_target[end])
    direct_cost, direct_target = _same_segment_best(
        np.where(p_near, p_snap.segment, -1), pos_p, sources.segment, sources.position, sources.leg
    )
    direct = direct_cost < cost
    cost = np.where(direct, direct_cost, cost)
    row_of = np.append(sources.row, -1)
    target = np.where(direct, row_of[direct_target], target)
    return cost, target


def _measures(
    cost: np.ndarray, target: np.ndarray, p_near: np.ndarray, p_snap: _Snap, sources: _Sources
) -> _Measures:
    """Split each reached parcel's total distance into target leg, path and parcel leg."""
    n = len(cost)
    reached = p_near & np.isfinite(cost)
    target = np.where(reached, target, -1)
    ok = np.flatnonzero(reached)
    target_leg = np.full(n, np.nan)
    target_leg[ok] = sources.leg_of_row[target[ok]]
    access = np.where(reached, p_snap.leg, np.nan)
    path = np.where(reached, np.maximum(cost - target_leg, 0.0), np.nan)
    distance = np.where(reached, cost + access, np.nan)
    return _Measures(target, reached, target_leg, access, path, distance)


def _zero_where_touching(measures: _Measures, p_geoms: np.ndarray, targets: _Targets) -> None:
    """Set a parcel containing or touching a target at distance 0 from it, in place."""
    hits_p, hits_t = _touching_target(p_geoms, targets.geoms, targets.present)
    if len(hits_p):
        measures.target[hits_p] = hits_t
        for column in (measures.target_leg, measures.access, measures.path, measures.distance):
            column[hits_p] = 0.0
        measures.reached[hits_p] = True


def _straight_and_detour(
    measures: _Measures, p_geoms: np.ndarray, t_geoms: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Straight-line distance to the chosen target and the detour ratio (NaN where 0)."""
    ok = np.flatnonzero(measures.reached)
    straight = np.full(len(p_geoms), np.nan)
    straight[ok] = shapely.distance(p_geoms[ok], t_geoms[measures.target[ok]])
    with np.errstate(divide="ignore", invalid="ignore"):
        detour = np.where(straight > 0, measures.distance / straight, np.nan)
    return straight, detour


def _warn_unmeasured(
    p_present: np.ndarray, p_near: np.ndarray, reached: np.ndarray, max_snap: float
) -> None:
    """Count in warnings the parcels left NaN: null or empty, too far, cut off."""
    n = len(p_present)
    n_missing = int((~p_present).sum())
    n_far = int((p_present & ~p_near & ~reached).sum())
    n_cut_off = int((p_near & ~reached).sum())
    if n_missing:
        logger.warning(
            "network_distance: %d of %d rows of parcels have null or empty geometry (NaN)",
            n_missing,
            n,
        )
    if n_far:
        logger.warning(
            "network_distance: %d of %d rows of parcels are more than %g m from the nearest "
            "road (NaN); raise max_snap to attach them",
            n_far,
            n,
            max_snap,
        )
    if n_cut_off:
        logger.warning(
            "network_distance: %d of %d rows of parcels are on parts of the road network that "
            "no target reaches (NaN); check the road layer for gaps",
            n_cut_off,
            n,
        )


def _result_frame(
    index: pd.Index,
    prefix: str,
    names: pd.Series,
    measures: _Measures,
    straight: np.ndarray,
    detour: np.ndarray,
) -> pd.DataFrame:
    """The output columns, indexed like the parcels."""
    target_names = names.reindex(pd.Index(measures.target)).set_axis(index)
    return pd.DataFrame(
        {
            f"{prefix}target": target_names,
            f"{prefix}distance_m": measures.distance,
            f"{prefix}path_m": measures.path,
            f"{prefix}access_m": measures.access,
            f"{prefix}target_access_m": measures.target_leg,
            f"{prefix}straight_m": straight,
            f"{prefix}detour_ratio": detour,
        },
        index=index,
    )


def network_distance(
    parcels: gpd.GeoDataFrame,
    targets: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    *,
    max_snap: float = 500.0,
    name_column: str = "name",
    prefix: str | None = None,
) -> pd.DataFrame:
    """Distance by road from each parcel to the nearest target (BCP, station ...).

    The road centrelines are noded where they cross (``shapely.node``), and every
    segment between consecutive vertices becomes an undirected edge weighted by its
    length; nodes are merged by their coordinates rounded to 1 mm. Each target and
    each parcel is attached to the nearest point *on* the network (anywhere along a
    segment, not the nearest vertex) by a straight access leg. One multi-source
    Dijkstra run (:func:`scipy.sparse.csgraph.dijkstra`) from all targets gives every
    node its distance and its nearest target; a parcel then takes the cheaper end of
    its segment, or the direct run along the segment when a target is attached to the
    same one. A parcel that contains or touches a target is at distance 0 from it
    (whatever ``max_snap``).

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
        Parcels (polygons; points and lines work too), any CRS; transformed to
        EPSG:2326 (HK1980 Grid, metres).
    targets : geopandas.GeoDataFrame
        The destinations, usually points (e.g. :func:`nmgeo.reference.control_points`
        or :func:`nmgeo.reference.rail_stations`), with a ``name_column``.
    roads : geopandas.GeoDataFrame
        Road centrelines (LineString or MultiLineString), need not be noded at
        crossings; lines that only come close (a gap) are not connected.
    max_snap : float
        Longest access leg allowed, in metres. A target farther than this from every
        road is ignored, and a parcel farther than this gets NaN (both with a
        warning). Use ``math.inf`` to attach everything.
    name_column : str
        Column of ``targets`` naming each target.
    prefix : str, optional
        Prefix of the output columns; default ``"network_"``.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``parcels`` (same rows, same order), with columns:

        - ``{prefix}target`` -- name of the target nearest by road.
        - ``{prefix}distance_m`` -- total distance, metres: target leg + path + parcel
          leg. This is the number to rank sites by for access to the targets.
        - ``{prefix}path_m`` -- the part along the roads, metres.
        - ``{prefix}access_m`` -- parcel leg: straight distance from the parcel (its
          nearest point, 0 if a road touches or crosses it) to the network, metres. A
          long leg means the site has no road frontage and needs a new access road.
        - ``{prefix}target_access_m`` -- target leg: straight distance from the
          target to the network, metres.
        - ``{prefix}straight_m`` -- straight-line distance from the parcel to that
          same target, metres.
        - ``{prefix}detour_ratio`` -- ``distance_m / straight_m`` (NaN where
          ``straight_m`` is 0). It is at least 1; about 1.2-1.5 is typical of a
          well-connected street grid, while large values flag sites that are close to
          the target as the crow flies but far by road (a river, railway, hill or
          missing link in between).

        All columns are NaN for parcels with null or empty geometry, beyond
        ``max_snap``, or on a part of the network that no target reaches (e.g. cut
        off by a gap in the road layer); each case is counted in a warning.

    Raises
    ------
    InputError
        If ``roads`` holds no lines or non-line geometries, ``targets`` is empty or
        has no geometry, or ``max_snap`` is negative or NaN.
    SchemaError
        If ``targets`` has no ``name_column``.
    MissingCRSError
        If a layer has no CRS.

    Notes
    -----
    The nearest target is the one with the smallest total distance, access legs
    included. Edges are not merged between junctions: a curved road is a chain of
    short straight edges, which keeps snapping exact and costs little (the sample's
    8,000 centrelines give about 12,000 edges).

    Distances are network lengths of the centreline layer, not travel times: one-way
    streets, turn bans, road class and speed are ignored, and every road is
    assumed usable. Every crossing of two centrelines becomes a junction, including
    grade-separated ones (a flyover over a local road), so split or remove such lines
    where it matters. The parcel is attached at a single nearest point of the network,
    so for a parcel fronting a long road the distance is measured from the frontage
    point closest to its boundary, which may not be its real gate. Accuracy is that of
    the inputs (e.g. 100-150 m for :func:`~nmgeo.reference.control_points`).

    Examples
    --------
    Two crossing roads, a target near the end of each and two lots, in EPSG:2326 (metres):

    >>> import geopandas as gpd
    >>> from shapely import LineString, Point, Polygon
    >>> import nmgeo
    >>> roads = gpd.GeoDataFrame(
    ...     geometry=[LineString([(0, 0), (1000, 0)]), LineString([(500, -300), (500, 800)])],
    ...     crs="EPSG:2326",
    ... )
    >>> targets = gpd.GeoDataFrame(
    ...     {"name": ["BCP", "Station"]},
    ...     geometry=[Point(0, -20), Point(520, 820)],
    ...     crs="EPSG:2326",
    ... )
    >>> lots = gpd.GeoDataFrame(
    ...     geometry=[
    ...         Polygon([(530, 620), (550, 640), (530, 660), (510, 640)]),
    ...         Polygon([(930, 100), (960, 130), (930, 160), (900, 130)]),
    ...     ],
    ...     index=["A", "B"],
    ...     crs="EPSG:2326",
    ... )
    >>> out = nmgeo.network_distance(lots, targets, roads)
    >>> out[["network_target", "network_distance_m", "network_path_m"]].round(1)
      network_target  network_distance_m  network_path_m
    A        Station               198.3           160.0
    B            BCP              1050.0           930.0

    Lot B is 1,050 m from the BCP: the BCP's 20 m leg to the road, 930 m along the roads
    and the lot's own 100 m leg, at a detour ratio of about 1.15:

    >>> out.loc["B", ["network_access_m", "network_detour_ratio"]].round(2).tolist()
    [100.0, 1.15]
    """
    started = time.perf_counter()
    max_snap = check_limit(max_snap, "max_snap")
    _check_targets(targets, name_column)
    prefix = DEFAULT_PREFIX if prefix is None else prefix
    parcels = as_hk80(parcels, "parcels")
    targets = as_hk80(targets, "targets")
    roads = as_hk80(roads, "roads")
    located = _located_targets(targets, name_column)

    network = _build_network(roads)
    sources = _attach_targets(network, located, max_snap)
    nodes = _nearest_source(network, sources)

    p_geoms = np.asarray(parcels.geometry.array, dtype=object)
    p_present = ~(shapely.is_missing(p_geoms) | shapely.is_empty(p_geoms))
    p_snap = _snap(network, p_geoms, max_snap)
    p_near = p_present & (p_snap.leg <= max_snap)
    cost, target = _parcel_cost(network, sources, nodes, p_snap, p_near)
    measures = _measures(cost, target, p_near, p_snap, sources)
    _zero_where_touching(measures, p_geoms, located)
    straight, detour = _straight_and_detour(measures, p_geoms, located.geoms)
    _warn_unmeasured(p_present, p_near, measures.reached, max_snap)

    result = _result_frame(parcels.index, prefix, located.names, measures, straight, detour)
    logger.info(
        "network_distance: %d rows to %d targets over %d road segments in %.2f s",
        len(p_geoms),
        len(sources.row),
        len(network.start),
        time.perf_counter() - started,
    )
    return result
