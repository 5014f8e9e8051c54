"""Scenario sweeps: the packages job over many settings, on dask.distributed, and how robust
each site is.

A package depends on choices a planner must defend: the gap bridged across roads, the
minimum size, which zones count as commercial, which facilities are earmarked, the year of
rail access, the limits table. :func:`run_scenarios` runs packages, access and capacity on
one land fabric for every setting of a grid, matches the packages of different scenarios
that are the same site by how much land they share, and says for every site and piece of
land in what share of the scenarios it is packaged, and under which settings.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from nmgeo import settings
from nmgeo._crs import as_hk80
from nmgeo._geomops import union_by
from nmgeo._time import network_year
from nmgeo.access import assign_access
from nmgeo.capacity import _SUMMED, assign_capacity, package_capacity
from nmgeo.errors import InputError, SchemaError
from nmgeo.fabric import is_fabric, land_fabric
from nmgeo.packages import build_packages

__all__ = ["SETTINGS", "ScenarioResult", "run_scenarios", "scenario_grid"]

logger = logging.getLogger("nmgeo.scenarios")

SETTINGS: dict[str, Any] = {
    "gap_tolerance": 15.0,
    "min_area_ha": 2.0,
    "commercial": ("commercial",),
    "facilities": ("public_facility", "open_space"),
    "bridge_via_facilities": False,
    "as_of": None,
    "walk_radius": 800.0,
    "limits": None,
}
"""The settings a scenario can vary, with their defaults (those of the verbs they go to:
:func:`nmgeo.build_packages`, :func:`nmgeo.assign_access`; ``limits`` names one of the
limits tables given to :func:`run_scenarios`)."""

# The settings that go to build_packages.
_PACKAGE_SETTINGS = (
    "gap_tolerance",
    "min_area_ha",
    "commercial",
    "facilities",
    "bridge_via_facilities",
)
# Figures of a package summed per scenario (capacity ones when a limits table applies).
_SCENARIO_SUMS = ("area_ha", "commercial_ha", "facility_ha", "government_ha")
_CAPACITY_SUMS = ("gfa_m2", "flats", "jobs")


@dataclass
class ScenarioResult:
    """A scenario sweep (:func:`run_scenarios`).

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per scenario: ``scenario`` and its settings, then ``n_packages``,
        ``area_ha``, ``commercial_ha``, ``facility_ha``, ``government_ha``, ``gfa_m2``,
        ``flats``, ``jobs`` (missing without a limits table), ``rail_walk_ha`` (package
        land with rail within a walk by the scenario's ``as_of``) and ``rail_walk_share``.
    sites : geopandas.GeoDataFrame
        One row per cross-scenario site: ``site_id``; ``n_scenarios`` and
        ``robustness`` (the share of scenarios in which the site is a package, 0-1);
        ``area_ha_min`` / ``area_ha_max`` (its package's area over those scenarios);
        ``core_ha`` (land in the site's package in every scenario that has it);
        ``only_when`` (the settings the site needs, e.g. ``gap_tolerance in {30}``;
        empty when it appears under every value of each setting that varies);
        ``shares_land_with`` (other sites packaging some of the same land in other
        scenarios); ``scenarios`` (their ids); geometry: all land the site's packages
        hold in any scenario.
    packages : pandas.DataFrame
        Every package of every scenario: ``scenario``, ``package_id`` (the scenario's own
        id), ``site_id``, and the package columns (areas, tenure, access, capacity).
    pieces : geopandas.GeoDataFrame
        Every piece of land packaged in at least one scenario: ``piece_id``,
        ``n_scenarios``, ``robustness`` (share of scenarios in which it is in a package),
        ``site_id`` (the site it is most often in), ``site_share`` (share of scenarios in
        which it is in that site), ``n_sites`` (how many sites it belongs to over the
        scenarios: more than 1 means the settings change whom it is packaged with), with
        the land's ``zone_label``, ``land_use`` and ``tenure`` where the fabric has them.
    settings : pandas.DataFrame
        One row per scenario: ``scenario`` and the value of every setting.
    members : pandas.DataFrame
        ``scenario``, ``package_id``, ``piece_id``, ``area_m2``: the land of every package.
    parameters : dict
        ``n_scenarios``, ``match_iou``, ``varied`` (the settings that vary), ``engine``
        (``serial`` or the scheduler address) and ``n_workers``.
    timings : pandas.Series
        Seconds each scenario took on its worker, by scenario id.
    """

    summary: pd.DataFrame
    sites: gpd.GeoDataFrame
    packages: pd.DataFrame
    pieces: gpd.GeoDataFrame
    settings: pd.DataFrame
    members: pd.DataFrame
    parameters: dict[str, Any] = field(default_factory=dict)
    timings: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))

    def __len__(self) -> int:
        return len(self.summary)

    def __repr__(self) -> str:
        robust = int((self.sites["robustness"] >= 1.0).sum()) if len(self.sites) else 0
        return (
            f"<ScenarioResult: {len(self.summary)} scenarios, {len(self.sites)} sites "
            f"({robust} packaged in every scenario)>"
        )


def scenario_grid(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the values of a grid of settings, in a fixed order.

    Parameters
    ----------
    grid : mapping
        Setting name -> the values to try (see :data:`SETTINGS`). A scalar is one value.

    Returns
    -------
    list of dict
        One dict per scenario, the last setting varying fastest.

    Raises
    ------
    InputError
        An unknown setting, or a setting with no values.

    Examples
    --------
    >>> from nmgeo.scenarios import scenario_grid
    >>> scenario_grid({"gap_tolerance": [15, 30], "min_area_ha": [2]})
    [{'gap_tolerance': 15, 'min_area_ha': 2}, {'gap_tolerance': 30, 'min_area_ha': 2}]
    """
    names = list(grid)
    _check_names(names)
    values = []
    for name in names:
        given = grid[name]
        if name in ("commercial", "facilities"):
            options = _class_options(given, name)
        else:
            options = list(given) if _is_sequence(given) else [given]
        if not options:
            msg = f"setting {name!r} has no values to try; give at least one"
            raise InputError(msg)
        values.append(options)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]


def _is_sequence(value: Any) -> bool:
    return isinstance(value, (list, tuple, np.ndarray, pd.Series))


def _class_options(given: Any, name: str) -> list[tuple[str, ...]]:
    """Values of a class-list setting: one list of classes, or a list of such lists."""
    if isinstance(given, str):
        return [(given,)]
    given = list(given)
    if not given:
        return []
    if all(isinstance(g, str) for g in given):
        return [tuple(given)]
    if all(_is_sequence(g) and all(isinstance(c, str) for c in g) for g in given):
        return [tuple(g) for g in given]
    msg = f"setting {name!r} takes a list of land-use classes, or a list of such lists"
    raise InputError(msg)


def _check_names(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in SETTINGS]
    if unknown:
        msg = f"unknown scenario setting {unknown[0]!r}; the settings are: {', '.join(SETTINGS)}"
        raise InputError(msg)


def _complete(scenarios: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Every scenario with every setting (defaults filled in), one row each."""
    rows = []
    for k, given in enumerate(scenarios):
        _check_names(list(given))
        row = {**SETTINGS, **given}
        for name in ("commercial", "facilities"):
            options = _class_options(row[name], name)
            if not options:
                msg = f"scenario {k + 1}: {name} names no land-use class; give at least one"
                raise InputError(msg)
            row[name] = options[0]
        row["scenario"] = f"SC{k + 1:03d}"
        rows.append(row)
    table = pd.DataFrame(rows, columns=["scenario", *SETTINGS]).astype(object)
    return table.where(table.notna(), None)


# --------------------------------------------------------------------------- one scenario


def _one_scenario(
    land: gpd.GeoDataFrame,
    capacities: Mapping[str, pd.DataFrame],
    setting: Mapping[str, Any],
    threads: int,
) -> dict[str, Any]:
    """The packages job for one setting: package table (no geometry) and member land."""
    start = time.perf_counter()
    before = settings.threads
    settings.threads = threads
    try:
        kwargs = {name: setting[name] for name in _PACKAGE_SETTINGS}
        kwargs["commercial"] = list(kwargs["commercial"])
        kwargs["facilities"] = list(kwargs["facilities"])
        result = build_packages(land, **kwargs)
        sites = result.packages
        name = setting["limits"]
        if name is not None:
            sites = package_capacity(result, capacities[name])
        sites = assign_access(sites, as_of=setting["as_of"], walk_radius=setting["walk_radius"])
    finally:
        settings.threads = before
    table = pd.DataFrame(sites.drop(columns=sites.geometry.name))
    members = result.members[["package_id", "piece_id", "area_m2"]].reset_index(drop=True)
    return {
        "scenario": setting["scenario"],
        "packages": table,
        "members": members,
        "seconds": time.perf_counter() - start,
    }


# --------------------------------------------------------------------------- the sweep


def run_scenarios(
    land: gpd.GeoDataFrame,
    scenarios: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]],
    *,
    limits: Mapping[str, pd.DataFrame] | pd.DataFrame | None = None,
    height_controls: gpd.GeoDataFrame | None = None,
    client: Any = None,
    workers: int | None = None,
    match_iou: float = 0.5,
    retries: int = 2,
    progress: bool = True,
) -> ScenarioResult:
    """Run the packages job over a grid or list of settings and say how robust each site is.

    Each scenario runs :func:`nmgeo.build_packages` on ``land`` with its settings,
    :func:`nmgeo.capacity.package_capacity` with its limits table (when it names one) and
    :func:`nmgeo.assign_access` with its ``as_of`` year. The land is sent to every worker
    once (``Client.scatter``), and so is each limits table's capacity of the land
    (:func:`nmgeo.assign_capacity`, computed once per table, not once per scenario).

    Packages of different scenarios are the same **site** when the land they share is at
    least ``match_iou`` of the land either holds (intersection over union of their
    land): sites are the connected components of that relation. A site's robustness is
    the share of scenarios in which it is a package; a piece's, the share in which it is
    in any package. Sites keep the same id for the same inputs (ordered by robustness,
    then area, then their land's smallest piece id).

    Runs on dask.distributed: by default on a ``LocalCluster`` of ``workers`` processes
    (default: the CPU count, at most one per scenario) started for the call and closed
    after it; pass ``client`` to use an existing cluster, or ``client=False`` to run the
    scenarios one after the other in this process (the same results, exactly). A task
    whose worker dies is run again on another (``retries`` counts tasks that raise).

    Parameters
    ----------
    land : geopandas.GeoDataFrame
        A land fabric (:func:`nmgeo.land_fabric`); OZP zones alone (cut into a fabric
        of unknown tenure once, here); or lots that carry ``land_use``, grouped lot by
        lot (their ``parcel_id`` is the ``piece_id`` of the outputs).
    scenarios : mapping or sequence of mappings
        A grid (setting -> values, every combination is run; see :func:`scenario_grid`)
        or a list of settings, one dict per scenario. Settings and defaults:
        :data:`SETTINGS`; ``gap_tolerance`` in m, ``min_area_ha`` in ha.
    limits : mapping of str to pandas.DataFrame, or pandas.DataFrame, optional
        Development limits tables (:func:`nmgeo.read_limits`) by name, for the
        ``limits`` setting; a single table is named ``"limits"`` and applies to every
        scenario that does not set ``limits``.
    height_controls : geopandas.GeoDataFrame, optional
        Building height controls (:func:`nmgeo.read_height_controls`) for the capacity.
    client : dask.distributed.Client or False, optional
        The cluster to run on; ``None`` starts a local one, ``False`` runs serially.
    workers : int, optional
        Worker processes of the local cluster.
    match_iou : float
        Shared land (intersection over union, 0-1) above which two packages of different
        scenarios are the same site.
    retries : int
        Times a scenario that raises is tried again.
    progress : bool
        Show a progress bar over the scenarios.

    Returns
    -------
    ScenarioResult
        ``summary`` per scenario, ``sites`` across scenarios with their robustness,
        ``packages`` of every scenario with their ``site_id``, ``pieces`` with their
        robustness, ``settings``, ``members``, ``timings``.

    Raises
    ------
    InputError
        An unknown setting, a ``limits`` name not among ``limits``, or ``match_iou``
        outside (0, 1].

    Examples
    --------
    >>> import nmgeo
    >>> from nmgeo.scenarios import run_scenarios
    >>> s = nmgeo.load_sample()
    >>> fabric = nmgeo.land_fabric(s.zones, s.parcels)
    >>> sweep = run_scenarios(
    ...     fabric, {"gap_tolerance": [15, 30], "min_area_ha": [2, 5]}, client=False,
    ...     progress=False,
    ... )
    >>> len(sweep.summary), list(sweep.summary["gap_tolerance"])
    (4, [15, 15, 30, 30])
    >>> bool(sweep.sites["robustness"].between(0, 1).all())
    True
    """
    if not 0 < match_iou <= 1:
        msg = f"match_iou must be in (0, 1], not {match_iou!r}"
        raise InputError(msg)
    listed = scenario_grid(scenarios) if isinstance(scenarios, Mapping) else list(scenarios)
    if not listed:
        msg = "no scenarios to run; give a grid of settings or a list of them"
        raise InputError(msg)
    tables = _limits_tables(limits)
    if "limits" in tables and len(tables) == 1:
        listed = [{"limits": "limits", **s} for s in listed]
    table = _complete(listed)
    wanted = {n for n in table["limits"] if n is not None}
    unknown = sorted(wanted - set(tables))
    if unknown:
        msg = (
            f"scenario limits {unknown[0]!r} is not among the limits tables given "
            f"({', '.join(tables) or 'none'}); pass limits={{name: table}}"
        )
        raise InputError(msg)
    land, key = _shared_land(land)
    capacities = {
        name: _compact_capacity(
            assign_capacity(land, tables[name], height_controls=height_controls), key
        )
        for name in sorted(wanted)
    }
    rows = table.to_dict("records")
    outputs, engine, n_workers = _execute(
        land,
        capacities,
        rows,
        client=client,
        workers=workers,
        retries=retries,
        progress=progress,
    )
    result = _assemble(land, key, table, outputs, match_iou=match_iou)
    result.parameters.update(engine=engine, n_workers=n_workers)
    logger.info(
        "run_scenarios: %d scenarios on %s (%d workers): %d sites, %d in every scenario",
        len(table),
        engine,
        n_workers,
        len(result.sites),
        int((result.sites["robustness"] >= 1.0).sum()) if len(result.sites) else 0,
    )
    return result


def _limits_tables(limits: Any) -> dict[str, pd.DataFrame]:
    if limits is None:
        return {}
    if isinstance(limits, pd.DataFrame):
        return {"limits": limits}
    if isinstance(limits, Mapping):
        return {str(k): v for k, v in limits.items()}
    kind = type(limits).__name__
    msg = f"limits must be a limits table or a mapping of names to tables, not {kind}"
    raise InputError(msg)


def _shared_land(land: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, str]:
    """The land every scenario groups, and its key: a land fabric (``piece_id``; zones alone
    are cut into one here, once, not in every scenario) or zoned lots (``parcel_id``)."""
    land = as_hk80(land, "land")
    if is_fabric(land):
        return land, "piece_id"
    if "parcel_id" in land.columns:
        if "land_use" not in land.columns:
            msg = (
                "lots given as land have no land_use column; build the land fabric with "
                "nmgeo.land_fabric(zones, lots) and sweep that"
            )
            raise SchemaError(msg)
        return land, "parcel_id"
    return land_fabric(land), "piece_id"


def _compact_capacity(capacity: gpd.GeoDataFrame, key: str) -> pd.DataFrame:
    """What package_capacity reads: the land's key, land use and the summed figures."""
    return pd.DataFrame(capacity[[key, "land_use", *_SUMMED]]).reset_index(drop=True)


def _execute(
    land: gpd.GeoDataFrame,
    capacities: dict[str, pd.DataFrame],
    rows: list[dict[str, Any]],
    *,
    client: Any,
    workers: int | None,
    retries: int,
    progress: bool,
) -> tuple[list[dict[str, Any]], str, int]:
    """Run every scenario: serially, on the given client, or on a local cluster."""
    bar = _progress(len(rows), progress)
    if client is False:
        threads = settings.current_threads()
        outputs = []
        for row in rows:
            outputs.append(_one_scenario(land, capacities, row, threads))
            bar(1)
        bar(None)
        return outputs, "serial", 1
    if client is None:
        from dask.distributed import Client, LocalCluster

        n = workers or settings.current_threads()
        n = max(1, min(n, len(rows)))
        with (
            LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.WARNING,
            ) as cluster,
            Client(cluster) as local,
        ):
            outputs = _on_cluster(local, land, capacities, rows, retries, bar)
        return outputs, "local cluster", n
    n = len(client.scheduler_info().get("workers", {}))
    outputs = _on_cluster(client, land, capacities, rows, retries, bar)
    return outputs, str(client.scheduler.address), n


def _on_cluster(
    client: Any,
    land: gpd.GeoDataFrame,
    capacities: dict[str, pd.DataFrame],
    rows: list[dict[str, Any]],
    retries: int,
    bar: Callable[[int | None], None],
) -> list[dict[str, Any]]:
    from dask.distributed import as_completed

    start = time.perf_counter()
    shared_land = client.scatter(land, broadcast=True, hash=False)
    names = sorted(capacities)
    scattered = (
        client.scatter([capacities[n] for n in names], broadcast=True, hash=False) if names else []
    )
    shared_caps = dict(zip(names, scattered, strict=True))
    logger.info(
        "run_scenarios: land scattered to the workers in %.2f s", time.perf_counter() - start
    )
    futures = [
        client.submit(
            _one_scenario,
            shared_land,
            shared_caps,
            row,
            1,
            key=f"nmgeo-{row['scenario']}-{id(rows)}",
            retries=retries,
            pure=False,
        )
        for row in rows
    ]
    done: dict[str, dict[str, Any]] = {}
    for future in as_completed(futures):
        out = future.result()
        done[out["scenario"]] = out
        bar(1)
    bar(None)
    return [done[row["scenario"]] for row in rows]


def _progress(total: int, show: bool) -> Callable[[int | None], None]:
    """A tqdm bar over the scenarios: ``step(1)`` advances it, ``step(None)`` closes it."""
    if not show:
        return lambda _: None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc="scenarios", unit="scenario", leave=False)

    def step(n: int | None) -> None:
        if n is None:
            bar.close()
        else:
            bar.update(n)

    return step


# --------------------------------------------------------------------------- matching


def _assemble(
    land: gpd.GeoDataFrame,
    key: str,
    table: pd.DataFrame,
    outputs: list[dict[str, Any]],
    *,
    match_iou: float,
) -> ScenarioResult:
    """Packages matched across scenarios into sites, robustness of sites and pieces."""
    packages = pd.concat(
        [o["packages"].assign(scenario=o["scenario"]) for o in outputs], ignore_index=True
    )
    packages = packages[["scenario", *[c for c in packages.columns if c != "scenario"]]]
    members = pd.concat(
        [o["members"].assign(scenario=o["scenario"]) for o in outputs], ignore_index=True
    )[["scenario", "package_id", "piece_id", "area_m2"]]
    n_scen = len(table)
    site_of_package, n_sites = _match_sites(packages, members, match_iou)
    packages["site_id"] = site_of_package
    members = members.merge(
        packages[["scenario", "package_id", "site_id"]], on=["scenario", "package_id"], how="left"
    )
    varied = [c for c in SETTINGS if table[c].map(repr).nunique() > 1]
    sites = _site_table(land, key, table, packages, members, n_scen, varied)
    order = _site_order(sites, members)
    renumber = {old: f"S{k + 1:03d}" for k, old in enumerate(order)}
    for frame in (packages, members, sites):
        frame["site_id"] = frame["site_id"].map(renumber)
    sites["shares_land_with"] = sites["shares_land_with"].map(
        lambda ids: ", ".join(sorted(renumber[i] for i in ids))
    )
    sites = sites.set_index("site_id").loc[[renumber[o] for o in order]].reset_index()
    pieces = _piece_table(land, key, members, n_scen)
    summary = _summary(table, packages)
    timings = pd.Series(
        {o["scenario"]: o["seconds"] for o in outputs}, name="seconds", dtype=float
    )
    return ScenarioResult(
        summary=summary,
        sites=sites,
        packages=packages.reset_index(drop=True),
        pieces=pieces,
        settings=table.reset_index(drop=True),
        members=members.reset_index(drop=True),
        parameters={"n_scenarios": n_scen, "match_iou": match_iou, "varied": varied},
        timings=timings,
    )


def _match_sites(
    packages: pd.DataFrame, members: pd.DataFrame, match_iou: float
) -> tuple[np.ndarray, int]:
    """Site (component) of every package: packages linked by shared land IoU >= match_iou."""
    if not len(packages):
        return np.zeros(0, dtype=np.int64), 0
    key = pd.MultiIndex.from_frame(packages[["scenario", "package_id"]])
    row = key.get_indexer(pd.MultiIndex.from_frame(members[["scenario", "package_id"]]))
    piece, _ = pd.factorize(members["piece_id"])
    area = members["area_m2"].to_numpy(dtype=float)
    n_pkg, n_piece = len(packages), int(piece.max()) + 1 if len(piece) else 0
    pieces_area = np.zeros(n_piece)
    pieces_area[piece] = area
    held = sparse.csr_matrix((np.ones(len(row)), (row, piece)), shape=(n_pkg, n_piece))
    shared = (held @ sparse.diags(pieces_area) @ held.T).tocoo()
    own = np.bincount(row, weights=area, minlength=n_pkg)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = shared.data / (own[shared.row] + own[shared.col] - shared.data)
    link = iou > match_iou
    graph = sparse.coo_matrix(
        (np.ones(int(link.sum())), (shared.row[link], shared.col[link])), shape=(n_pkg, n_pkg)
    )
    n_sites, labels = csgraph.connected_components(graph, directed=False)
    return labels, n_sites


def _site_table(
    land: gpd.GeoDataFrame,
    key: str,
    table: pd.DataFrame,
    packages: pd.DataFrame,
    members: pd.DataFrame,
    n_scen: int,
    varied: list[str],
) -> gpd.GeoDataFrame:
    by_site = packages.groupby("site_id")
    sites = pd.DataFrame(
        {
            "n_scenarios": by_site["scenario"].nunique(),
            "area_ha_min": by_site["area_ha"].min(),
            "area_ha_max": by_site["area_ha"].max(),
            "scenarios": by_site["scenario"].agg(lambda s: ", ".join(sorted(set(s)))),
        }
    )
    sites["robustness"] = sites["n_scenarios"] / n_scen
    # Core: land in the site's package in every one of its scenarios.
    count = members.groupby(["site_id", "piece_id"], sort=False).agg(
        n=("scenario", "nunique"), area_m2=("area_m2", "first")
    )
    count = count.reset_index()
    core = count["n"].to_numpy() >= sites["n_scenarios"].reindex(count["site_id"]).to_numpy()
    sites["core_ha"] = (
        count.loc[core].groupby("site_id")["area_m2"].sum().reindex(sites.index).fillna(0.0) / 1e4
    )
    sites["only_when"] = _only_when(table, packages, varied).reindex(sites.index).fillna("")
    sites["shares_land_with"] = _shares_land(count)
    by_piece = count.drop_duplicates(["site_id", "piece_id"])
    geoms = land.geometry.to_numpy()[_rows_of(land, key, by_piece["piece_id"])]
    codes = sites.index.get_indexer(by_piece["site_id"].to_numpy())
    outline = pd.Series(union_by(geoms, codes, len(sites)), index=sites.index)
    columns = [
        "n_scenarios",
        "robustness",
        "area_ha_min",
        "area_ha_max",
        "core_ha",
        "only_when",
        "shares_land_with",
        "scenarios",
    ]
    out = gpd.GeoDataFrame(
        sites[columns], geometry=outline.reindex(sites.index).to_numpy(), crs=land.crs
    )
    return out.rename_axis("site_id").reset_index()


def _only_when(table: pd.DataFrame, packages: pd.DataFrame, varied: list[str]) -> pd.Series:
    """Per site, the values of each varied setting it needs (all values: not listed)."""
    setting = table.set_index("scenario")
    texts: dict[Any, str] = {}
    for site, grp in packages.groupby("site_id"):
        there = setting.loc[sorted(set(grp["scenario"]))]
        parts = []
        for name in varied:
            every = list(dict.fromkeys(setting[name].map(_value_text)))
            seen = set(there[name].map(_value_text))
            if len(seen) < len(every):
                values = [v for v in every if v in seen]
                parts.append(f"{name} in {{{', '.join(values)}}}")
        texts[site] = "; ".join(parts)
    return pd.Series(texts, dtype=object)


def _value_text(value: Any) -> str:
    if isinstance(value, tuple):
        return "+".join(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _shares_land(count: pd.DataFrame) -> pd.Series:
    """Per site, the other sites some of whose land is also its land in other scenarios."""
    of_piece = count[["piece_id", "site_id"]].drop_duplicates()
    pairs = of_piece.merge(of_piece, on="piece_id", suffixes=("", "_other"))
    pairs = pairs[pairs["site_id"] != pairs["site_id_other"]]
    others = pairs.groupby("site_id")["site_id_other"].agg(lambda s: sorted(set(s)))
    sites = count["site_id"].unique()
    return pd.Series([others.get(s, []) for s in sites], index=sites, dtype=object).sort_index()


def _rows_of(land: gpd.GeoDataFrame, key: str, ids: pd.Series) -> np.ndarray:
    """Row positions in ``land`` of the given piece (or lot) ids."""
    return pd.Index(land[key].to_numpy()).get_indexer(ids.to_numpy())


def _site_order(sites: gpd.GeoDataFrame, members: pd.DataFrame) -> list[Any]:
    """Sites by robustness, then largest area, then their smallest piece id."""
    smallest = members.groupby("site_id")["piece_id"].min()
    frame = sites.set_index("site_id")[["robustness", "area_ha_max"]].assign(
        first=smallest.reindex(sites["site_id"]).astype(str).to_numpy()
    )
    frame = frame.sort_values(
        ["robustness", "area_ha_max", "first"], ascending=[False, False, True], kind="stable"
    )
    return list(frame.index)


def _piece_table(
    land: gpd.GeoDataFrame, key: str, members: pd.DataFrame, n_scen: int
) -> gpd.GeoDataFrame:
    per = members.groupby("piece_id")
    counts = members.groupby(["piece_id", "site_id"]).size().rename("n").reset_index()
    counts = counts.sort_values(["piece_id", "n", "site_id"], ascending=[True, False, True])
    top = counts.drop_duplicates("piece_id").set_index("piece_id")
    table = pd.DataFrame(
        {
            "n_scenarios": per["scenario"].nunique(),
            "n_sites": per["site_id"].nunique(),
        }
    )
    table["robustness"] = table["n_scenarios"] / n_scen
    table["site_id"] = top["site_id"].reindex(table.index)
    table["site_share"] = top["n"].reindex(table.index) / n_scen
    keep = [c for c in ("zone_label", "land_use", "tenure", "area_m2") if c in land.columns]
    at = land.iloc[_rows_of(land, key, table.index.to_series())]
    out = gpd.GeoDataFrame(
        {
            "piece_id": table.index.to_numpy(),
            **{c: table[c].to_numpy() for c in ("n_scenarios", "robustness", "site_id")},
            "site_share": table["site_share"].to_numpy(),
            "n_sites": table["n_sites"].to_numpy(),
            **{c: at[c].to_numpy() for c in keep},
        },
        geometry=at.geometry.to_numpy(),
        crs=land.crs,
    )
    return out


def _summary(table: pd.DataFrame, packages: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario: its settings and its packages' totals."""
    frame = packages.copy()
    sums = [c for c in (*_SCENARIO_SUMS, *_CAPACITY_SUMS) if c in frame]
    year = table.set_index("scenario")["as_of"]
    as_of = frame["scenario"].map(year)
    as_of = as_of.map(network_year)
    walk = pd.to_numeric(frame.get("rail_walk_year"), errors="coerce")
    frame["rail_walk_ha"] = np.where(
        walk.notna() & (walk <= as_of.astype(float)), frame["area_ha"], 0.0
    )
    grouped = frame.groupby("scenario")
    totals = grouped[[*sums, "rail_walk_ha"]].sum(min_count=1)
    totals.insert(0, "n_packages", grouped.size())
    out = table.set_index("scenario").join(totals)
    out["n_packages"] = out["n_packages"].fillna(0).astype(int)
    for column in ("area_ha", "commercial_ha", "facility_ha", "government_ha", "rail_walk_ha"):
        if column in out:
            out[column] = out[column].astype(float).fillna(0.0)
    for column in _CAPACITY_SUMS:
        if column not in out:
            out[column] = np.nan
        no_limits = out["limits"].isna()
        out[column] = out[column].astype(float).where(~no_limits)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["rail_walk_share"] = out["rail_walk_ha"] / out["area_ha"]
    for name in ("commercial", "facilities"):
        out[name] = out[name].map(_value_text)
    return out.reset_index()
