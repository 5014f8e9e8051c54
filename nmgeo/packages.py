"""Land disposal packages: contiguous commercial land with the public facilities beside it."""

from __future__ import annotations

import html
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from nmgeo._crs import as_hk80
from nmgeo._gc import pauses_gc
from nmgeo._geomops import union_by
from nmgeo._limits import LIMITS, check_limit
from nmgeo._overlaps import SLIVER_WIDTH
from nmgeo._threads import map_chunks
from nmgeo._vocabulary import LAND_USE_CLASSES, UNKNOWN, UNZONED
from nmgeo.errors import DuplicateIdError, InputError, SchemaError
from nmgeo.fabric import (
    GOVERNMENT,
    LEASED,
    UNKNOWN_TENURE,
    government_held,
    is_fabric,
    land_fabric,
)
from nmgeo.major_zone import assign_major_zone

__all__ = ["PackageResult", "build_packages", "split_package"]

logger = logging.getLogger("nmgeo.packages")

COMMERCIAL = "commercial"
FACILITY = "facility"
BELOW_MIN_AREA = "below_min_area"
FACILITY_NOT_ADJACENT = "facility_not_adjacent"
# Two boundaries this close (m) count as touching when measuring shared frontage.
TOUCH = 1e-6
# The widest gap (m) a package may bridge: twice the widest trunk road reserve (_limits).
MAX_GAP = LIMITS["gap_tolerance"].refuse_above
# Packages per thread, at least, when closing their outlines (a closing costs ~1 ms).
_CLOSE_PIECE = 16


@dataclass
class PackageResult:
    """Land disposal packages found by :func:`build_packages`.

    Attributes
    ----------
    packages : geopandas.GeoDataFrame
        One row per package (EPSG:2326), geometry = union of its land. See
        :func:`build_packages` for the columns.
    members : pandas.DataFrame
        Every piece of land in a package: ``package_id``, ``piece_id``, ``parcel_id``
        (the lot, missing for land without a lot), ``plan_no`` and ``zone_label`` (with
        its suffix; when the input has them), ``land_use``, ``tenure`` (``leased``,
        ``government``, ``unknown``), ``role`` (``commercial`` / ``facility``),
        ``area_m2``.
    excluded : pandas.DataFrame
        ``piece_id``, ``parcel_id``, ``role``, ``reason``, ``plan_no``, ``zone_label``,
        ``land_use``, ``tenure``, ``area_m2``: every commercial or facility piece not in a
        package, with the reason (``below_min_area``: its group is smaller than
        ``min_area_ha``; ``facility_not_adjacent``: no commercial land within
        ``gap_tolerance``).
    parameters : dict
        The parameters used (``input`` says whether the land was a fabric, zones alone
        or zoned lots).
    pieces : geopandas.GeoDataFrame
        The candidate pieces (commercial and facility) with ``site``, ``role``,
        ``tenure`` and, for members, ``package_id``; kept for maps.
    sites : geopandas.GeoDataFrame
        The candidate sites that were grouped (zone parts, or lots for lot input), with
        ``role``, ``area_m2`` and ``package_id``; kept for splitting.

    Examples
    --------
    >>> import nmgeo
    >>> result = nmgeo.build_packages(nmgeo.load_sample().parcels)
    >>> len(result) == len(result.packages)
    True
    >>> set(result.members["package_id"]) == set(result.packages["package_id"])
    True
    >>> sorted(result.excluded["reason"].unique())
    ['below_min_area', 'facility_not_adjacent']
    """

    packages: gpd.GeoDataFrame
    members: pd.DataFrame
    excluded: pd.DataFrame
    parameters: dict[str, Any]
    pieces: gpd.GeoDataFrame = field(repr=False)
    sites: gpd.GeoDataFrame = field(repr=False)

    @property
    def parcels(self) -> gpd.GeoDataFrame:
        """The candidate pieces (an alias of :attr:`pieces`).

        Examples
        --------
        >>> import nmgeo
        >>> result = nmgeo.build_packages(nmgeo.load_sample().parcels)
        >>> result.parcels is result.pieces
        True
        """
        return self.pieces

    def __len__(self) -> int:
        return len(self.packages)

    def __repr__(self) -> str:
        total = self.packages["area_ha"].sum() if len(self.packages) else 0.0
        return (
            f"PackageResult({len(self.packages)} packages, {total:,.1f} ha, "
            f"{len(self.members)} member pieces, {len(self.excluded)} excluded; "
            f"gap_tolerance={self.parameters['gap_tolerance']} m, "
            f"min_area_ha={self.parameters['min_area_ha']:g})"
        )

    def summary(self) -> str:
        """One line saying what was found, or why nothing qualified.

        With packages: their number and land by tenure. Without: the reason, e.g. no
        commercial-zoned land among the candidates, commercial land but every group of
        it (with its facilities) smaller than ``min_area_ha``.

        Examples
        --------
        >>> import nmgeo
        >>> lots = nmgeo.load_sample().parcels
        >>> nmgeo.build_packages(lots).summary().split(" (")[0]
        '91 land disposal packages, 430.3 ha'
        >>> nothing = nmgeo.build_packages(lots, min_area_ha=1_000)  # 10 km²
        >>> nothing.summary().startswith("no land disposal package qualified")
        True
        """
        p = self.packages
        min_ha = self.parameters["min_area_ha"]
        if len(p):
            return (
                f"{len(p)} land disposal packages, {p['area_ha'].sum():,.1f} ha "
                f"({p['government_ha'].sum():,.1f} ha Government land, "
                f"{p['leased_ha'].sum():,.1f} ha leased lots, "
                f"{p['unknown_tenure_ha'].sum():,.1f} ha tenure unknown)"
            )
        sites = self.sites
        commercial = sites[sites["role"] == "commercial"]
        if not len(commercial):
            n_fac = int((sites["role"] == "facility").sum())
            why = "the land holds no commercial-zoned site (land_use 'commercial')"
            if n_fac:
                why += f"; its {n_fac:,} facility sites have no commercial land to join"
            return f"no land disposal package qualified: {why}"
        grouped = sites[sites["_group"] >= 0]
        largest = grouped.groupby("_group")["area_m2"].sum().max() / 1e4
        n_groups = grouped["_group"].nunique()
        return (
            f"no land disposal package qualified: {n_groups:,} groups of commercial land "
            f"(within {self.parameters['gap_tolerance']:g} m, with their facilities), the "
            f"largest {largest:,.2f} ha, all below min_area_ha {min_ha:g} ha"
        )

    def _repr_html_(self) -> str:
        p = self.packages
        reasons = self.excluded["reason"].value_counts()
        head = (
            f"<b>{len(p)} land disposal packages</b>, "
            f"{p['area_ha'].sum():,.1f} ha ({p['commercial_ha'].sum():,.1f} ha commercial, "
            f"{p['facility_ha'].sum():,.1f} ha facilities); "
            f"{p['government_ha'].sum():,.1f} ha Government land, "
            f"{p['leased_ha'].sum():,.1f} ha leased lots; "
            f"{len(self.members):,} member pieces; excluded: "
            + (", ".join(f"{html.escape(str(r))} {n:,}" for r, n in reasons.items()) or "none")
            + f". gap_tolerance {self.parameters['gap_tolerance']:g} m, "
            f"min_area_ha {self.parameters['min_area_ha']:g} ha."
        )
        cols = [
            "package_id",
            "area_ha",
            "commercial_ha",
            "facility_ha",
            "facility_share",
            "government_share",
            "n_lots",
            "compactness",
            "major_zone",
        ]
        top = p.sort_values("area_ha", ascending=False).head(5)[[c for c in cols if c in p]]
        table = top.to_html(index=False, float_format=lambda v: f"{v:,.2f}", escape=True)
        return f"<div><p>{head}</p><p>Largest packages:</p>{table}</div>"

    def site_outlines(self) -> gpd.GeoDataFrame:
        """The package sites with the bridged gaps (roads between members) closed.

        Returns
        -------
        geopandas.GeoDataFrame
            ``package_id``, ``site_outline_ha`` and the closed outline geometry
            (EPSG:2326).

        Examples
        --------
        >>> import nmgeo
        >>> result = nmgeo.build_packages(nmgeo.load_sample().parcels)
        >>> outlines = result.site_outlines()
        >>> len(outlines) == len(result)
        True
        >>> bool((outlines["site_outline_ha"] >= result.packages["area_ha"] - 1e-6).all())
        True
        """
        geoms = _close_gaps(self.packages.geometry.to_numpy(), self.parameters["gap_tolerance"])
        return gpd.GeoDataFrame(
            {
                "package_id": self.packages["package_id"].to_numpy(),
                "site_outline_ha": shapely.area(geoms) / 1e4,
            },
            geometry=geoms,
            crs=self.packages.crs,
        )


def _close_gaps(geoms: np.ndarray, gap: float) -> np.ndarray:
    """Morphological closing by half the gap tolerance: fills gaps up to ``gap`` wide."""
    if gap <= 0:
        return geoms
    half = gap / 2.0 + 1e-6

    def close(part: np.ndarray) -> np.ndarray:
        grown = shapely.buffer(part, half, join_style="mitre", mitre_limit=2.0)
        closed = shapely.buffer(grown, -half, join_style="mitre", mitre_limit=2.0)
        # A closing lies within the convex hull (mitre corners could poke out: clip them).
        closed = shapely.intersection(closed, shapely.convex_hull(part))
        # Closing never removes land; the union guards against rounding at sharp corners.
        return shapely.union(closed, part)

    return map_chunks(close, np.asarray(geoms, dtype=object), min_piece=_CLOSE_PIECE)


def _contiguity(geoms: np.ndarray, gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) of geometries whose boundaries are within ``gap`` metres."""
    # gap 0 still tolerates TOUCH: a WGS84 round trip leaves ~1e-9 m between touching lots.
    i, j = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=max(gap, TOUCH))
    keep = i < j
    return i[keep], j[keep]


def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    graph = coo_array((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels


def _frontage(
    facilities: np.ndarray, group_geoms: np.ndarray, groups: np.ndarray, gap: float
) -> np.ndarray:
    """Length (m) of each facility's boundary lying within ``gap`` of its paired group
    (``groups``: the group number of each facility's pair, indexing ``group_geoms``)."""
    # A round buffer: exactly the land within ``gap`` of the group (a mitred one reaches
    # further at the group's corners). Each distinct group is buffered once, however many
    # facilities it is paired with.
    distinct, which = np.unique(groups, return_inverse=True)
    reach = shapely.buffer(group_geoms[distinct], max(gap, TOUCH), quad_segs=16)[which]
    return shapely.length(shapely.intersection(shapely.boundary(facilities), reach))


def _attach_facilities(
    fac_geoms: np.ndarray,
    com_geoms: np.ndarray,
    com_group: np.ndarray,
    gap: float,
    bridge: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Group of every facility (-1 if none) and the commercial groups after bridging.

    A facility within ``gap`` of one commercial group joins it. One within reach of
    several joins the group it shares the longest frontage with (boundary within
    ``gap``), then the nearest, then the lowest group number; with ``bridge`` the
    groups it touches are merged instead.
    """
    n_fac = len(fac_geoms)
    fac_group = np.full(n_fac, -1, dtype=np.int64)
    if n_fac == 0 or len(com_geoms) == 0:
        return fac_group, com_group
    tree = shapely.STRtree(com_geoms)
    f, c = tree.query(fac_geoms, predicate="dwithin", distance=max(gap, TOUCH))
    if len(f) == 0:
        return fac_group, com_group
    pairs = pd.DataFrame({"f": f, "g": com_group[c], "c": c})
    pairs["d"] = shapely.distance(
        fac_geoms[pairs["f"].to_numpy()], com_geoms[pairs["c"].to_numpy()]
    )
    fg = pairs.groupby(["f", "g"], sort=True)["d"].min().reset_index()
    n_groups = fg.groupby("f")["g"].transform("size")

    if bridge:
        multi = fg[n_groups > 1]
        if len(multi):
            first = multi.groupby("f")["g"].transform("min").to_numpy()
            n = int(com_group.max()) + 1
            merged = _components(n, first, multi["g"].to_numpy())
            # Renumber merged groups by their smallest member group, keeping order stable.
            smallest = pd.Series(np.arange(n)).groupby(merged).transform("min").to_numpy()
            com_group = smallest[com_group]
            fg["g"] = smallest[fg["g"].to_numpy()]
            fg = fg.groupby(["f", "g"], sort=True)["d"].min().reset_index()
            n_groups = fg.groupby("f")["g"].transform("size")

    single = fg[n_groups == 1]
    fac_group[single["f"].to_numpy()] = single["g"].to_numpy()
    multi = fg[n_groups > 1].copy()
    if len(multi):
        # Union of each candidate group's sites, only for the groups in question.
        need = np.isin(com_group, multi["g"].to_numpy())
        unions = union_by(com_geoms[need], com_group[need], int(com_group.max()) + 1)
        multi["frontage"] = _frontage(
            fac_geoms[multi["f"].to_numpy()], unions, multi["g"].to_numpy(), gap
        )
        multi["frontage"] = multi["frontage"].round(6)
        multi = multi.sort_values(["f", "frontage", "d", "g"], ascending=[True, False, True, True])
        best = multi.drop_duplicates("f")
        fac_group[best["f"].to_numpy()] = best["g"].to_numpy()
        logger.info(
            "build_packages: %d facilities within reach of several groups, each given "
            "to the group with the longest frontage",
            len(best),
        )
    return fac_group, com_group


@pauses_gc
def build_packages(
    land: gpd.GeoDataFrame,
    lots: gpd.GeoDataFrame | None = None,
    *,
    extent: Any = None,
    commercial: Sequence[str] = ("commercial",),
    facilities: Sequence[str] = ("public_facility", "open_space"),
    land_use_column: str = "land_use",
    gap_tolerance: float = 15.0,
    min_area_ha: float = 2.0,
    earmarked_column: str | None = None,
    bridge_via_facilities: bool = False,
    max_area_ha: float | None = None,
    ownership_column: str | None = None,
) -> PackageResult:
    """Find land disposal packages: contiguous commercial land plus adjoining facilities.

    A package is zoned land of any tenure: unleased Government land (no lot), pieces of
    leased lots, or land of unknown tenure. It works on the land fabric
    (:func:`nmgeo.land_fabric`), whose zoned sites (the polygon parts of the OZP zones)
    are the units that are grouped; with lots that already carry a land-use class it
    works lot by lot, as a lot-only model would.

    Method: commercial sites whose boundaries lie within ``gap_tolerance`` metres of each
    other (touching = 0 m) are linked, using an STRtree ``dwithin`` query, and the
    connected components of that sparse graph are the commercial groups (a group can
    reach across local roads narrower than the tolerance). Each facility site within
    ``gap_tolerance`` of a group joins it; a facility within reach of several groups
    joins the one it shares the longest frontage with (the length of its boundary
    within ``gap_tolerance`` of the group), then the nearest, then the lowest group,
    or, with ``bridge_via_facilities``, merges them into one package. Facilities that
    adjoin only other facilities do not join. Groups whose total area (commercial +
    facilities) is below ``min_area_ha`` are not packages.

    Parameters
    ----------
    land : geopandas.GeoDataFrame
        One of: a land fabric (from :func:`nmgeo.land_fabric`); OZP zones (from
        :func:`nmgeo.read_zones`), cut by ``lots`` into a fabric here, or alone (every
        piece then of unknown tenure); or lots that already carry the land-use column
        (e.g. from :func:`nmgeo.assign_zoning`, with ``parcel_id``), grouped lot by lot.
        Any CRS (work is done in EPSG:2326 metres).
    lots : geopandas.GeoDataFrame, optional
        Leased lots (from :func:`nmgeo.read_parcels`) to cut the zones ``land`` by.
    extent : polygon or GeoDataFrame, optional
        Where the lot data is complete (see :func:`nmgeo.land_fabric`); only with
        ``lots``.
    commercial : sequence of str
        Land-use classes that count as commercial land for disposal. Add
        ``"mixed_use"`` to include CDA zones.
    facilities : sequence of str
        Land-use classes of the public facilities earmarked beside commercial land
        (G/IC and open space by default). Ignored when ``earmarked_column`` is given.
    land_use_column : str
        Column holding the land-use class.
    gap_tolerance : float
        Largest gap (m) bridged between sites of one package: 15 m joins land across a
        12 m local road but not across a 20 m district road. ``0`` joins touching land
        only (boundaries within 1 µm, so coordinate round-off from a CRS round trip
        does not split them). At most 200 m (``MAX_GAP``): a wider gap would join
        land across a district, not across a road.
    min_area_ha : float
        Smallest package worth offering, hectares (commercial + facilities).
    earmarked_column : str, optional
        Boolean column (of the fabric, the zones or the lots) marking the facility land
        earmarked for disposal with commercial land; replaces the ``facilities`` classes.
    bridge_via_facilities : bool
        Merge commercial groups that a facility site adjoins together.
    max_area_ha : float, optional
        Split packages larger than this (hectares) into contiguous sub-packages of
        balanced area (see :func:`split_package`).
    ownership_column : str, optional
        Column of the lots saying who holds each lot (see :func:`nmgeo.land_fabric`).

    Returns
    -------
    PackageResult
        ``.packages`` has one row per package (EPSG:2326), geometry = union of its
        land: ``package_id`` (``"P001"``, ``"P002"``… by decreasing area; the same
        input in any row order gives the same ids), its land (``area_ha``,
        ``commercial_ha``, ``facility_ha``, ``<class>_ha`` per facility class,
        ``facility_share``), its sites and pieces (``n_sites``, ``n_commercial``,
        ``n_facility``, ``n_pieces``), its land assembly (``government_ha``,
        ``government_share``, ``leased_ha``, ``leased_share``, ``unknown_tenure_ha``,
        ``n_lots``, ``n_lots_cut``), its shape (``compactness``, ``site_outline_ha``)
        and ``major_zone``. The unit and planning meaning of each column are in the
        column glossary: ``nmgeo.glossary.columns("packages")`` (and the data model
        page of the documentation).

        ``.members`` lists every piece of every package, ``.excluded`` every candidate
        piece left out, with its reason.

    Raises
    ------
    SchemaError
        Missing ``parcel_id``, land-use or earmarked column.
    DuplicateIdError
        Repeated or null ``parcel_id`` among the candidate lots of lot input.
    InputError
        Negative tolerance or area, an overlap between ``commercial`` and
        ``facilities``, or ``lots`` given with a fabric or lot input.

    Examples
    --------
    Zones and lots of a 6 km square of the bundled sample:

    >>> import nmgeo
    >>> sample = nmgeo.load_sample()
    >>> zones = sample.zones.cx[826_000:832_000, 832_000:838_000]
    >>> lots = sample.parcels.cx[826_000:832_000, 832_000:838_000]
    >>> result = nmgeo.build_packages(zones, lots)
    >>> result.parameters["input"], len(result), round(float(result.packages["area_ha"].sum()), 1)
    ('fabric', 5, 23.8)
    >>> p = result.packages
    >>> p["package_id"].tolist()
    ['P001', 'P002', 'P003', 'P004', 'P005']
    >>> bool((p["government_ha"] + p["leased_ha"] - p["area_ha"]).abs().max() < 1e-6)
    True
    >>> bool(p["area_ha"].ge(2).all())  # min_area_ha: 2 ha
    True

    Zoned lots alone (see :func:`nmgeo.assign_zoning`) hold no Government land:

    >>> by_lot = nmgeo.build_packages(lots)
    >>> by_lot.parameters["input"], bool(by_lot.packages["government_ha"].eq(0).all())
    ('lots', True)
    """
    params = {
        "commercial": tuple(commercial),
        "facilities": tuple(facilities) if earmarked_column is None else None,
        "land_use_column": land_use_column,
        "gap_tolerance": check_limit(gap_tolerance, "gap_tolerance"),
        "min_area_ha": check_limit(min_area_ha, "min_area_ha"),
        "earmarked_column": earmarked_column,
        "bridge_via_facilities": bool(bridge_via_facilities),
        "max_area_ha": None if max_area_ha is None else check_limit(max_area_ha, "max_area_ha"),
    }
    _check_numbers(params)
    pieces, kind = _pieces(land, lots, extent, params, ownership_column)
    params["input"] = kind
    cand = _candidates(pieces, _known_uses(pieces, land_use_column, params), params, kind)
    units = _units(cand, kind)
    units = _group(units, params)
    result = _assemble(units, cand, params)
    logger.info("build_packages: %r", result)
    return result


def _candidates(
    pieces: gpd.GeoDataFrame, uses: np.ndarray, params: dict[str, Any], kind: str
) -> gpd.GeoDataFrame:
    """The commercial and facility pieces (a copy), with their ``role``."""
    is_com = np.isin(uses, params["commercial"])
    if params["earmarked_column"] is None:
        is_fac = np.isin(uses, params["facilities"]) & ~is_com
    else:
        flag = pieces[params["earmarked_column"]]
        is_fac = flag.fillna(False).astype(bool).to_numpy() & ~is_com
    cand = pieces.loc[is_com | is_fac].copy()
    if params["land_use_column"] != "land_use":
        cand["land_use"] = cand[params["land_use_column"]]
    if kind == "lots":
        _check_ids(cand["parcel_id"])
    cand["role"] = np.where(is_com[is_com | is_fac], COMMERCIAL, FACILITY)
    return cand


def _known_uses(pieces: gpd.GeoDataFrame, column: str, params: dict[str, Any]) -> np.ndarray:
    """The land-use classes of the pieces, with no value silently outside the vocabulary.

    A value that is a class but for case, spaces or hyphens (``"COMMERCIAL"``, ``"Open
    Space"``) is read as that class; any other value outside nmgeo's classes (and the
    ``commercial`` / ``facilities`` given) is kept, and both are logged with their counts
    and areas: such land is neither commercial nor facility land.
    """
    values = pieces[column].astype(object).to_numpy()
    known = set(LAND_USE_CLASSES) | {UNKNOWN, UNZONED} | set(params["commercial"])
    known |= set(params["facilities"] or ())
    codes, uniques = pd.factorize(pd.Series(values).fillna(UNKNOWN).astype(str), sort=True)
    uniques = np.asarray(uniques, dtype=object)
    fixed = uniques.copy()
    read_as, odd = [], []
    area = None  # measured only to report values outside the classes
    for k, value in enumerate(uniques.tolist()):  # a loop over distinct values, not rows
        if value in known:
            continue
        if area is None:
            area = shapely.area(pieces.geometry.to_numpy())
        norm = "_".join(value.strip().lower().replace("-", " ").split())
        n, ha = int((codes == k).sum()), float(area[codes == k].sum()) / 1e4
        if norm in known:
            fixed[k] = norm
            read_as.append(f"{value!r} as {norm!r} ({n:,} pieces, {ha:,.2f} ha)")
        else:
            odd.append(f"{value!r} ({n:,} pieces, {ha:,.2f} ha)")
    if read_as:
        logger.warning("build_packages: land_use values read as classes: %s", "; ".join(read_as))
    if odd:
        logger.warning(
            "build_packages: land_use values outside nmgeo's classes, neither commercial nor "
            "facility land: %s; map them with nmgeo.classify_zone or pass commercial= / "
            "facilities=",
            "; ".join(odd),
        )
    return fixed[codes]


def _pieces(
    land: gpd.GeoDataFrame,
    lots: gpd.GeoDataFrame | None,
    extent: Any,
    params: dict[str, Any],
    ownership_column: str | None,
) -> tuple[gpd.GeoDataFrame, str]:
    """The land as pieces with tenure, and which kind of input it came from."""
    if is_fabric(land) or lots is not None or "parcel_id" not in land.columns:
        return _fabric_pieces(land, lots, extent, params, ownership_column)
    return _lot_pieces(land, extent, params, ownership_column), "lots"


def _fabric_pieces(
    land: gpd.GeoDataFrame,
    lots: gpd.GeoDataFrame | None,
    extent: Any,
    params: dict[str, Any],
    ownership_column: str | None,
) -> tuple[gpd.GeoDataFrame, str]:
    """The pieces of a land fabric (given, or cut from zones and lots) and the input kind."""
    column = params["land_use_column"]
    earmarked = params["earmarked_column"]
    if is_fabric(land):
        if lots is not None:
            msg = "land is already a land fabric; pass lots to nmgeo.land_fabric, not here"
            raise InputError(msg)
        pieces, kind, zones = as_hk80(land, "land"), "fabric", None
    else:
        zones = land
        pieces = land_fabric(land, lots, extent=extent, ownership_column=ownership_column)
        kind = "zones" if lots is None else "fabric"
    if earmarked is not None and earmarked not in pieces.columns:
        if zones is None or earmarked not in zones.columns:
            msg = f"earmarked_column={earmarked!r} is not a column of the land or its zones"
            raise SchemaError(msg)
        flag = zones[earmarked].to_numpy(dtype=object)
        row = pieces["zone_row"].to_numpy()
        pieces[earmarked] = np.where(row >= 0, flag[np.maximum(row, 0)], False)
    if column not in pieces.columns:
        msg = f"the land fabric has no {column!r} column; pass land_use_column="
        raise SchemaError(msg)
    return pieces, kind


def _lot_pieces(
    land: gpd.GeoDataFrame, extent: Any, params: dict[str, Any], ownership_column: str | None
) -> gpd.GeoDataFrame:
    """Zoned lots as pieces: one per lot, all leased (but for Government-held lots)."""
    column = params["land_use_column"]
    earmarked = params["earmarked_column"]
    for name in ("parcel_id", column):
        if name not in land.columns:
            msg = (
                f"parcels have no {name!r} column; read them with nmgeo.read_parcels() and "
                "zone them with nmgeo.assign_zoning(), or pass land_use_column="
            )
            raise SchemaError(msg)
    if earmarked is not None and earmarked not in land.columns:
        msg = f"earmarked_column={earmarked!r} is not a column of parcels"
        raise SchemaError(msg)
    if ownership_column is not None and ownership_column not in land.columns:
        msg = f"ownership_column={ownership_column!r} is not a column of parcels"
        raise SchemaError(msg)
    if extent is not None:
        msg = "extent= applies to zones cut by lots; zoned lots are all leased land"
        raise InputError(msg)
    gdf = as_hk80(land, "parcels")
    keep = ["parcel_id", column, "geometry"]
    keep += [c for c in ("zone_label", "plan_no") if c in gdf.columns and c not in keep]
    keep += [c for c in (earmarked, ownership_column) if c is not None and c not in keep]
    pieces = gdf[keep].copy()
    pieces["piece_id"] = pieces["parcel_id"]
    pieces["area_m2"] = shapely.area(pieces.geometry.to_numpy())
    pieces["lot_area_m2"] = pieces["area_m2"]
    tenure = np.full(len(pieces), LEASED, dtype=object)
    if ownership_column is not None:
        pieces["ownership"] = gdf[ownership_column].to_numpy()
        tenure[government_held(gdf[ownership_column])] = GOVERNMENT
    pieces["tenure"] = tenure
    return pieces


def _units(cand: gpd.GeoDataFrame, kind: str) -> gpd.GeoDataFrame:
    """The sites that are grouped: zone parts of a fabric, or the lots themselves."""
    cand["_key"] = cand["piece_id"].astype(str)
    if kind == "lots":
        codes = np.arange(len(cand))
    else:
        pair = cand["zone_row"].astype(np.int64) * 1_000_000 + cand["zone_part"]
        codes = pd.factorize(pair.to_numpy())[0]
    cand["site"] = codes
    n = int(codes.max()) + 1 if len(codes) else 0
    geoms = cand.geometry.to_numpy()
    unit_geoms = geoms if kind == "lots" else union_by(geoms, codes, n)
    by_unit = cand.groupby("site", sort=True)
    units = gpd.GeoDataFrame(
        {
            "_key": _min_by(cand["_key"], codes, n),
            "role": by_unit["role"].first().to_numpy(),
            "land_use": by_unit["land_use"].first().to_numpy(),
            "area_m2": by_unit["area_m2"].sum().to_numpy(),
            "site": np.arange(n),
        },
        geometry=unit_geoms,
        crs="EPSG:2326",
    )
    # Work in a canonical order so results do not depend on the input row order.
    return units.sort_values("_key", kind="stable").reset_index(drop=True)


def _group(units: gpd.GeoDataFrame, params: dict[str, Any]) -> gpd.GeoDataFrame:
    """Label every unit with its group (``_group``) and the reason it is not in a package."""
    geoms = units.geometry.to_numpy()
    role = units["role"].to_numpy()
    com = np.flatnonzero(role == COMMERCIAL)
    fac = np.flatnonzero(role == FACILITY)
    gap = params["gap_tolerance"]
    i, j = _contiguity(geoms[com], gap)
    com_group = _components(len(com), i, j) if len(com) else np.zeros(0, dtype=np.int64)
    fac_group, com_group = _attach_facilities(
        geoms[fac], geoms[com], com_group, gap, params["bridge_via_facilities"]
    )
    group = np.full(len(units), -1, dtype=np.int64)
    group[com] = com_group
    group[fac] = fac_group
    units["_group"] = group

    grouped = units[units["_group"] >= 0]
    total = grouped.groupby("_group")["area_m2"].sum()
    big = total.index[total.to_numpy() >= params["min_area_ha"] * 1e4]
    in_package = units["_group"].isin(big).to_numpy()
    reason = np.where(units["_group"].to_numpy() < 0, FACILITY_NOT_ADJACENT, BELOW_MIN_AREA)
    units["reason"] = np.where(in_package, None, reason)
    if params["max_area_ha"] is not None:
        units = _split_oversize(units, params["max_area_ha"] * 1e4, gap)
    return units


def _check_numbers(params: dict[str, Any]) -> None:
    if params["facilities"] is not None:
        both = set(params["commercial"]) & set(params["facilities"])
        if both:
            msg = f"classes {sorted(both)} are in both commercial= and facilities=; pick one"
            raise InputError(msg)


def _check_ids(ids: pd.Series) -> None:
    """Candidate lots need unique, non-null ids (other lots are not looked at)."""
    if not ids.is_unique or ids.isna().any():
        dup = ids[ids.duplicated(keep=False) | ids.isna()].astype(str).unique()[:5].tolist()
        msg = (
            "parcel_id of the commercial and facility parcels must be unique and non-null; "
            f"offending values include {dup}"
        )
        raise DuplicateIdError(msg)


def _split_oversize(cand: pd.DataFrame, max_area: float, gap: float) -> pd.DataFrame:
    """Give the members of every group above ``max_area`` a sub-group of balanced area."""
    members = cand[cand["reason"].isna()]
    total = members.groupby("_group")["area_m2"].sum()
    over = total.index[total.to_numpy() > max_area]
    next_group = int(cand["_group"].max()) + 1
    for g in over:
        idx = members.index[members["_group"].to_numpy() == g]
        k = math.ceil(total[g] / max_area)
        labels = _balanced_split(cand.loc[idx], k, gap)
        new = np.where(labels == 0, g, next_group + labels - 1)
        cand.loc[idx, "_group"] = new
        next_group += k - 1
    return cand


def _balanced_split(members: pd.DataFrame, k: int, gap: float) -> np.ndarray:
    """Split one package's members into ``k`` contiguous parts of balanced total area.

    Commercial parcels are partitioned on their contiguity graph by
    :func:`nmgeo._regions.balanced_regions` (facility parcels that link commercial
    parcels in a bridged package add links too); each facility then goes to the
    part it shares the longest frontage with.
    """
    from nmgeo._regions import balanced_regions

    geoms = members.geometry.to_numpy()
    role = members["role"].to_numpy()
    com = np.flatnonzero(role == COMMERCIAL)
    fac = np.flatnonzero(role == FACILITY)
    area = members["area_m2"].to_numpy()
    i, j = _contiguity(geoms[com], gap)
    # Links through facilities (bridged packages): commercial parcels near one facility.
    if len(fac):
        f, c = shapely.STRtree(geoms[com]).query(
            geoms[fac], predicate="dwithin", distance=max(gap, TOUCH)
        )
        by_fac = pd.DataFrame({"f": f, "c": c})
        first = by_fac.groupby("f")["c"].transform("min").to_numpy()
        i = np.concatenate([i, first])
        j = np.concatenate([j, c])
    n = len(com)
    adjacency = coo_array((np.ones(len(i)), (i, j)), shape=(n, n))
    adjacency = (adjacency + adjacency.T).tocsr()
    # Facilities will follow their commercial neighbours: count their area there.
    weights = area[com].astype(float).copy()
    if len(fac):
        near = pd.DataFrame({"f": f, "c": c}).drop_duplicates("f")
        np.add.at(weights, near["c"].to_numpy(), area[fac][near["f"].to_numpy()])
    xy = shapely.get_coordinates(shapely.point_on_surface(geoms[com]))
    k = min(k, n)
    com_labels = balanced_regions(adjacency, weights, k, xy)
    labels = np.zeros(len(members), dtype=np.int64)
    labels[com] = com_labels
    if len(fac):
        fac_geoms = geoms[fac]
        part_geoms = union_by(geoms[com], com_labels, k)
        pairs = pd.DataFrame({"f": f, "p": com_labels[c]}).drop_duplicates()
        pairs["frontage"] = np.round(
            _frontage(fac_geoms[pairs["f"].to_numpy()], part_geoms, pairs["p"].to_numpy(), gap), 6
        )
        pairs["d"] = shapely.distance(
            fac_geoms[pairs["f"].to_numpy()], part_geoms[pairs["p"].to_numpy()]
        )
        pairs = pairs.sort_values(["f", "frontage", "d", "p"], ascending=[True, False, True, True])
        best = pairs.drop_duplicates("f")
        labels[fac[best["f"].to_numpy()]] = best["p"].to_numpy()
    return labels


def _assemble(
    sites: gpd.GeoDataFrame, cand: gpd.GeoDataFrame, params: dict[str, Any]
) -> PackageResult:
    """Turn labelled sites and their pieces into the packages, members and excluded tables."""
    inside = sites["reason"].isna().to_numpy()
    sites, pid = _number_packages(sites, inside)
    mem_sites = sites[inside]
    cand = _label_pieces(cand, sites)
    in_pkg = cand["package_id"].notna().to_numpy()
    mem = cand[in_pkg]
    frame = _package_table(mem, mem_sites, pid, params)
    packages = _package_frame(frame, mem_sites, params["gap_tolerance"])
    members, excluded, pieces = _piece_tables(cand, in_pkg)
    site_cols = ["site", "_key", "_group", "role", "land_use", "area_m2", "package_id", "reason"]
    return PackageResult(
        packages=packages,
        members=members,
        excluded=excluded,
        parameters=params,
        pieces=pieces,
        sites=gpd.GeoDataFrame(sites[[*site_cols, "geometry"]], geometry="geometry"),
    )


def _number_packages(
    sites: gpd.GeoDataFrame, inside: np.ndarray
) -> tuple[gpd.GeoDataFrame, pd.Series]:
    """A copy of ``sites`` with ``package_id``, and the id of every group (by group).

    Stable ids: by decreasing area (to the m²), then smallest member id.
    """
    sites = sites.copy()
    stats = sites[inside].groupby("_group").agg(area=("area_m2", "sum"))
    codes = stats.index.get_indexer(sites["_group"][inside])
    stats["first"] = _min_by(sites["_key"][inside], codes, len(stats))
    stats["area"] = stats["area"].round(0)
    stats = stats.sort_values(["area", "first"], ascending=[False, True])
    width = max(3, len(str(len(stats))))
    pid = pd.Series([f"P{n:0{width}d}" for n in range(1, len(stats) + 1)], index=stats.index)
    sites["package_id"] = pd.Series(sites["_group"].map(pid).where(inside, None), dtype=object)
    return sites, pid


def _min_by(keys: pd.Series, codes: np.ndarray, n: int) -> list[str]:
    """The smallest of the text ``keys`` in each group ``0 .. n - 1`` of ``codes`` (every
    group present), in code-point order as pandas sorts text."""
    if not len(codes):
        return []
    text = np.asarray(keys.astype(str).to_numpy(dtype=object), dtype=str)
    order = np.lexsort((text, codes))
    first = order[np.r_[True, codes[order][1:] != codes[order][:-1]]]
    return text[first].tolist()


def _label_pieces(cand: gpd.GeoDataFrame, sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy of the candidate pieces with their site's ``package_id`` and ``reason``."""
    row = pd.Series(np.arange(len(sites)), index=sites["site"].to_numpy())
    at = row.loc[cand["site"].to_numpy()].to_numpy()
    cand = cand.copy()
    cand["package_id"] = pd.Series(sites["package_id"].to_numpy()[at], dtype=object).to_numpy()
    cand["reason"] = pd.Series(sites["reason"].to_numpy()[at], dtype=object).to_numpy()
    return cand


def _package_table(
    mem: pd.DataFrame, mem_sites: pd.DataFrame, pid: pd.Series, params: dict[str, Any]
) -> pd.DataFrame:
    """The areas, shares and counts of every package (one row each, in ``pid`` order)."""
    fac_classes = (
        list(params["facilities"])
        if params["facilities"] is not None
        else sorted(mem.loc[mem["role"] == FACILITY, "land_use"].astype(str).unique())
    )
    key = mem["package_id"]
    area = mem["area_m2"]
    is_com = mem["role"] == COMMERCIAL
    frame = pd.DataFrame(index=pd.Index(pid.to_numpy(), name="package_id"))

    def total(mask: pd.Series) -> pd.Series:
        return area.where(mask, 0.0).groupby(key).sum() / 1e4

    frame["area_ha"] = area.groupby(key).sum() / 1e4
    frame["commercial_ha"] = total(is_com)
    frame["facility_ha"] = total(~is_com)
    for cls in fac_classes:
        frame[f"{cls}_ha"] = total((~is_com) & (mem["land_use"] == cls))
    frame["facility_share"] = (frame["facility_ha"] / frame["area_ha"]).fillna(0.0)
    frame["n_sites"] = mem.groupby("package_id")["site"].nunique()
    frame["n_pieces"] = key.groupby(key).size()
    site_is_com = mem_sites["role"].eq(COMMERCIAL)
    frame["n_commercial"] = site_is_com.groupby(mem_sites["package_id"]).sum()
    frame["n_facility"] = frame["n_sites"] - frame["n_commercial"]
    tenure = mem["tenure"]
    frame["government_ha"] = total(tenure == GOVERNMENT)
    frame["government_share"] = (frame["government_ha"] / frame["area_ha"]).fillna(0.0)
    frame["leased_ha"] = total(tenure == LEASED)
    frame["leased_share"] = (frame["leased_ha"] / frame["area_ha"]).fillna(0.0)
    frame["unknown_tenure_ha"] = total(tenure == UNKNOWN_TENURE)
    n_lots, n_cut = _lot_counts(mem)
    frame["n_lots"] = n_lots
    frame["n_lots_cut"] = n_cut
    frame = frame.fillna(0.0)
    for col in ("n_sites", "n_pieces", "n_commercial", "n_facility", "n_lots", "n_lots_cut"):
        frame[col] = frame[col].astype(np.int64)
    return frame.reset_index()


def _package_frame(
    frame: pd.DataFrame, mem_sites: gpd.GeoDataFrame, gap: float
) -> gpd.GeoDataFrame:
    """The package table with its land (the union of its sites), the site outline's
    compactness and area and the major zone, sorted by ``package_id``."""
    geom = _union_by(
        mem_sites.geometry.to_numpy(),
        mem_sites["package_id"].to_numpy(),
        frame["package_id"].to_numpy(),
    )
    packages = gpd.GeoDataFrame(frame, geometry=geom, crs="EPSG:2326")
    outline = _close_gaps(packages.geometry.to_numpy(), gap)
    perimeter = shapely.length(outline)
    with np.errstate(divide="ignore", invalid="ignore"):
        packages["compactness"] = np.where(
            perimeter > 0, 4 * np.pi * shapely.area(outline) / perimeter**2, 0.0
        )
    packages["site_outline_ha"] = shapely.area(outline) / 1e4
    if len(packages):
        packages = assign_major_zone(packages)
    else:
        packages["major_zone"] = pd.Series(dtype=object)
    return packages.sort_values("package_id").reset_index(drop=True)


def _piece_tables(
    cand: gpd.GeoDataFrame, in_pkg: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame, gpd.GeoDataFrame]:
    """The members, the excluded pieces (with their reason) and all candidate pieces."""
    described = [c for c in ("plan_no", "zone_label") if c in cand.columns]
    cols = ["package_id", "piece_id", "parcel_id", *described, "land_use", "tenure", "role"]
    members = cand.loc[in_pkg, [*cols, "area_m2"]].copy()
    members = members.sort_values(["package_id", "role", "piece_id"], key=_sort_key)
    out_cols = ["piece_id", "parcel_id", "role", "reason", *described, "land_use", "tenure"]
    excluded = cand.loc[~in_pkg, [*out_cols, "area_m2"]].copy()
    excluded = excluded.sort_values(["reason", "piece_id"], key=_sort_key)
    keep = ["piece_id", "parcel_id", "site", "role", *described, "land_use", "tenure"]
    keep += ["area_m2", "lot_area_m2", "package_id", "reason"]
    keep += ["ownership"] if "ownership" in cand.columns else []
    pieces = gpd.GeoDataFrame(cand[[*keep, "geometry"]], geometry="geometry", crs="EPSG:2326")
    pieces = pieces.sort_values("piece_id", key=_sort_key).reset_index(drop=True)
    return members.reset_index(drop=True), excluded.reset_index(drop=True), pieces


def _lot_counts(mem: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per package: lots holding more than a sliver of it, and those its boundary cuts."""
    lot = mem[mem["parcel_id"].notna() & mem["tenure"].ne(UNKNOWN_TENURE)]
    if not len(lot):
        empty = pd.Series(dtype=np.int64)
        return empty, empty
    held = lot.groupby(["package_id", lot["parcel_id"].astype(str)]).agg(
        area=("area_m2", "sum"), lot_area=("lot_area_m2", "first")
    )
    # A sliver: on average thinner than SLIVER_WIDTH along a square lot of that area.
    held["lot_area"] = held["lot_area"].fillna(held["area"])
    sliver = SLIVER_WIDTH * 4 * np.sqrt(held["lot_area"])
    real = held[held["area"] > sliver]
    cut = (real["lot_area"] - real["area"]) > sliver[real.index]
    package = real.index.get_level_values(0)
    return (
        pd.Series(1, index=package).groupby(level=0).sum(),
        cut.groupby(package).sum().astype(np.int64),
    )


def _union_by(geoms: np.ndarray, keys: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Union of the geometries of each key, in ``order`` (see :func:`nmgeo._geomops.union_by`)."""
    codes = pd.Index(order).get_indexer(keys)
    return union_by(geoms, codes, len(order))


def _sort_key(col: pd.Series) -> pd.Series:
    return col.astype(str)


@pauses_gc
def split_package(
    result: PackageResult,
    package_id: str,
    *,
    target_area_ha: float,
    area_tolerance: float = 0.25,
) -> PackageResult:
    """Split one oversize package into contiguous sub-packages of about ``target_area_ha``.

    The package's commercial parcels are partitioned on their contiguity graph
    (parcels within ``gap_tolerance``) into ``k = round(area / target_area_ha)`` parts by
    seeded region growing followed by boundary swaps that even out the areas while
    keeping every part contiguous (a greedy relative of ArcGIS "Build Balanced Zones"
    and of PySAL's max-p regions); each facility parcel then goes to the part it shares
    the longest frontage with, so every sub-package keeps its adjacent facilities.

    Parameters
    ----------
    result : PackageResult
        Output of :func:`build_packages`.
    package_id : str
        The package to split.
    target_area_ha : float
        Wanted sub-package area, hectares (commercial + facilities).
    area_tolerance : float
        Accepted deviation from ``target_area_ha``, as a fraction of it (0.25: 25 %);
        parts outside it are reported in a warning (the parcels may be too coarse to do
        better).

    Returns
    -------
    PackageResult
        A new result where the package is replaced by sub-packages
        ``"<package_id>-1"``, ``"<package_id>-2"``… (largest first); other packages
        keep their ids.

    Examples
    --------
    >>> import nmgeo
    >>> result = nmgeo.build_packages(nmgeo.load_sample().parcels)
    >>> p001 = result.packages.iloc[0]  # P001 is the largest package
    >>> p001["package_id"], round(float(p001["area_ha"]), 1)
    ('P001', 13.1)
    >>> split = nmgeo.split_package(result, "P001", target_area_ha=4)  # parts of about 4 ha
    >>> parts = split.packages[split.packages["package_id"].str.startswith("P001-")]
    >>> parts["package_id"].tolist(), round(float(parts["area_ha"].sum()), 1)
    (['P001-1', 'P001-2', 'P001-3'], 13.1)
    >>> len(split) == len(result) + 2
    True
    """
    if package_id not in set(result.packages["package_id"]):
        msg = f"no package {package_id!r}; choose one of result.packages['package_id']"
        raise InputError(msg)
    if not (math.isfinite(target_area_ha) and target_area_ha > 0):
        msg = f"target_area_ha must be an area > 0 ha, not {target_area_ha}"
        raise InputError(msg)
    target_area = target_area_ha * 1e4
    sites = result.sites.copy()
    idx = sites.index[sites["package_id"].to_numpy() == package_id]
    members = sites.loc[idx]
    total = float(members["area_m2"].sum())
    k = max(1, round(total / target_area))
    if k == 1:
        logger.info(
            "split_package: %s (%.1f ha) is already near the target", package_id, total / 1e4
        )
        return result
    labels = _balanced_split(members, k, result.parameters["gap_tolerance"])
    sizes = pd.Series(members["area_m2"].to_numpy()).groupby(labels).sum()
    order = sizes.sort_values(ascending=False, kind="stable").index
    rank = {part: n + 1 for n, part in enumerate(order)}
    sites.loc[idx, "package_id"] = [f"{package_id}-{rank[p]}" for p in labels]
    off = sizes[(sizes - target_area).abs() > area_tolerance * target_area]
    if len(off):
        logger.warning(
            "split_package: %d of %d parts of %s are outside %.0f %% of the target %.1f ha "
            "(the parcels are too coarse or the graph too narrow to do better)",
            len(off),
            k,
            package_id,
            100 * area_tolerance,
            target_area_ha,
        )
    return _reassemble(result, sites)


def _reassemble(result: PackageResult, sites: gpd.GeoDataFrame) -> PackageResult:
    """Recompute the tables of a result whose ``sites.package_id`` were edited."""
    sites = sites.copy()
    edited = sites["package_id"].to_numpy(dtype=object)
    codes, _ = pd.factorize(sites["package_id"], sort=True)
    sites["_group"] = codes
    inside = sites["reason"].isna().to_numpy()
    fresh = _assemble(sites, result.pieces, result.parameters)
    # Keep the ids the caller already has: map fresh P-numbers back to the edited ids.
    fresh_ids = fresh.sites["package_id"].to_numpy(dtype=object)
    rename = dict(zip(fresh_ids[inside], edited[inside], strict=True))

    def renamed(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(package_id=frame["package_id"].map(rename).astype(object))

    packages = renamed(fresh.packages)
    packages = packages.sort_values("package_id", key=_natural_key).reset_index(drop=True)
    return PackageResult(
        packages,
        renamed(fresh.members),
        fresh.excluded,
        dict(result.parameters),
        renamed(fresh.pieces),
        renamed(fresh.sites),
    )


def _natural_key(col: pd.Series) -> pd.Series:
    """Sort "P002-10" after "P002-9"."""
    parts = col.astype(str).str.extract(r"^(?P<base>[^-]*)(?:-(?P<sub>\d+))?$")
    return parts["base"] + "-" + parts["sub"].fillna("0").str.zfill(6)
