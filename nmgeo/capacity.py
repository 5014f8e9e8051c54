"""Development capacity: the floor space, homes and jobs the OZP limits let land yield.

Land disposal sites are offered by floor space. The limits that decide it are set zone by
zone, and sub-zone by sub-zone, in each Outline Zoning Plan's Notes (maximum plot ratio,
gross floor area or building height; the suffix in ``C(1)`` names the sub-zone), and
building height controls come as a layer of their own. This module reads those limits as
data, turns them into gross floor area (GFA) per piece of land and per package, and GFA
into flats, population and jobs with explicit parameters (``nmgeo/data/capacity.csv``).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from nmgeo._crs import as_hk80
from nmgeo._gc import pauses_gc
from nmgeo._threads import map_chunks
from nmgeo.errors import InputError, LimitsError, SchemaError
from nmgeo.packages import PackageResult
from nmgeo.zoning import normalise_label, zone_family

__all__ = [
    "CAPACITY_COLUMNS",
    "LIMIT_COLUMNS",
    "assign_capacity",
    "capacity_parameters",
    "capacity_targets",
    "package_capacity",
    "read_limits",
    "zones_without_limits",
]

logger = logging.getLogger("nmgeo.capacity")


# Limit column: (unit words accepted in a cell, refusal bound, what the unit is).
LIMIT_COLUMNS: dict[str, tuple[tuple[str, ...], float, str]] = {
    "max_plot_ratio_domestic": ((), 20.0, "plot ratio (GFA / site area)"),
    "max_plot_ratio_non_domestic": ((), 20.0, "plot ratio (GFA / site area)"),
    "max_plot_ratio": ((), 20.0, "plot ratio (GFA / site area)"),
    "max_gfa_m2": (("m2", "m²", "sqm", "sq m", "sq. m", "sq.m."), 5_000_000.0, "m² of GFA"),
    "max_height_mpd": (("mpd",), 600.0, "metres above Principal Datum (mPD)"),
    "max_height_storeys": (("storeys", "storey", "floors", "floor"), 120.0, "storeys"),
    "max_site_coverage": (("%",), 1.0, "share of the site, 0-1 (or a percentage with %)"),
}
"""The limit columns of a development limits table, with the units a cell may carry."""

# Other spellings of the table's columns (compared in lower case, spaces as underscores).
_ALIASES = {
    "plan": "plan_no",
    "zone": "zone_label",
    "label": "zone_label",
    "plot_ratio": "max_plot_ratio",
    "pr": "max_plot_ratio",
    "domestic_plot_ratio": "max_plot_ratio_domestic",
    "non_domestic_plot_ratio": "max_plot_ratio_non_domestic",
    "max_gfa": "max_gfa_m2",
    "gfa_m2": "max_gfa_m2",
    "height_mpd": "max_height_mpd",
    "max_height": "max_height_mpd",
    "storeys": "max_height_storeys",
    "site_coverage": "max_site_coverage",
}
_TEXT_COLUMNS = ("plan_no", "zone_label", "source")

# Share of a piece left outside its height controls that is rounding, not land (1e-9).
_COVERED_REL = 1e-9

# Land-use classes whose floor space is domestic, and G/IC land.
_DOMESTIC_USES = ("residential", "village")
_GIC_USES = ("public_facility",)
_MIXED_USES = ("mixed_use",)

# How a piece's limits row was found, most specific first.
_MATCH_LEVELS = ("plan_no+zone_label", "plan_no+family", "zone_label", "family")
_BINDING = ("plot_ratio", "gfa_cap", "height")


# --------------------------------------------------------------------------- parameters


@functools.cache
def _parameter_table() -> pd.DataFrame:
    path = resources.files("nmgeo") / "data" / "capacity.csv"
    with path.open(encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype={"name": str}, keep_default_na=False)


def capacity_parameters(overrides: Mapping[str, float | None] | None = None) -> pd.DataFrame:
    """The parameters that turn floor space into homes and jobs, with their sources.

    Parameters
    ----------
    overrides : mapping, optional
        Values to use instead of the defaults, by name (``None`` clears one).

    Returns
    -------
    pandas.DataFrame
        ``name``, ``value`` (float, NaN where blank), ``unit``, ``meaning`` and
        ``source`` (``"given"`` for an override).

    Raises
    ------
    InputError
        An override names no parameter or is not a number >= 0.

    Examples
    --------
    >>> from nmgeo.capacity import capacity_parameters
    >>> table = capacity_parameters({"flat_size_m2": 55})
    >>> row = table.set_index("name").loc["flat_size_m2"]
    >>> float(row["value"]), row["source"]
    (55.0, 'given')
    >>> float(table.set_index("name").loc["persons_per_flat", "value"])
    2.7
    """
    table = _parameter_table().copy()
    table["value"] = pd.to_numeric(table["value"].replace("", np.nan))
    for name, value in (overrides or {}).items():
        if name not in set(table["name"]):
            msg = (
                f"capacity parameter {name!r} does not exist; choose from "
                f"{', '.join(table['name'])}"
            )
            raise InputError(msg)
        number = np.nan if value is None else value
        if isinstance(number, bool) or not isinstance(number, int | float) or number < 0:
            msg = f"capacity parameter {name} must be a number >= 0 or None, not {value!r}"
            raise InputError(msg)
        at = table["name"] == name
        table.loc[at, "value"] = float(number)
        table.loc[at, "source"] = "given"
    return table


def _values(parameters: Mapping[str, float | None] | None) -> dict[str, float]:
    table = capacity_parameters(parameters)
    return dict(zip(table["name"], table["value"].astype(float), strict=True))


# --------------------------------------------------------------------------- reading


def read_limits(
    source: str | Path | pd.DataFrame, *, sheet: str | int | None = None
) -> pd.DataFrame:
    """Read a development limits table (CSV or XLSX) and check it.

    One row per zone or sub-zone whose limits the OZP Notes set:

    ``plan_no``
        The plan (e.g. ``S/NE-KTN/2``); blank: the row applies to that label on any plan.
    ``zone_label``
        A label with its suffix (``C(1)``, ``R(A)3``, ``OU(Business)2``), or a family
        (``C``, ``R(A)``, ``G/IC``) for every sub-zone without a row of its own.
    limits
        Any of ``max_plot_ratio_domestic``, ``max_plot_ratio_non_domestic``,
        ``max_plot_ratio`` (total), ``max_gfa_m2`` (of all the land the row matches),
        ``max_height_mpd``, ``max_height_storeys`` and ``max_site_coverage`` (0-1, or a
        percentage written with ``%``). Blank cells are "no limit of this kind". A cell may
        carry its unit (``"120 mPD"``, ``"8 storeys"``, ``"12,000 m²"``, ``"60%"``).
    ``source``
        Optional: where the row comes from (e.g. ``"S/NE-KTN/2 Notes, C(1)"``).

    Column names are read in any case; other columns are kept as they are.

    Parameters
    ----------
    source : str, pathlib.Path or pandas.DataFrame
        A ``.csv``, ``.xlsx`` or ``.xls`` file, or a table already loaded.
    sheet : str or int, optional
        Sheet of a workbook (default the first).

    Returns
    -------
    pandas.DataFrame
        The table with canonical column names, the limits as floats (NaN where blank),
        ``zone_label`` normalised (``"c (1)"`` -> ``"C(1)"``) and ``plan_no`` stripped and
        upper-cased (blank -> missing); ``attrs["source"]`` names the file.

    Raises
    ------
    LimitsError
        No ``zone_label`` column, a cell that is not a number in its column's unit, a
        negative or implausible value (plot ratio above 20, GFA above 5 million m², height
        above 600 mPD or 120 storeys, site coverage above 100 %), or two rows with the same
        plan and label. The message names the file, the line and the column.

    Examples
    --------
    >>> import pandas as pd
    >>> from nmgeo.capacity import read_limits
    >>> table = read_limits(pd.DataFrame({
    ...     "ZONE_LABEL": ["c (1)", "G/IC"],
    ...     "Max_Plot_Ratio": ["9.5", None],
    ...     "max_height_storeys": [None, "8 storeys"],
    ...     "max_site_coverage": [None, "60%"],
    ... }))
    >>> table["zone_label"].tolist(), table["max_plot_ratio"].tolist()
    (['C(1)', 'G/IC'], [9.5, nan])
    >>> table["max_height_storeys"].tolist(), table["max_site_coverage"].tolist()
    ([nan, 8.0], [nan, 0.6])
    """
    label, raw, first_line = _load_table(source, sheet)
    table = _canonical_columns(raw, label)
    for column in LIMIT_COLUMNS:
        if column in table:
            table[column] = _numbers(table[column], column, label, first_line)
        else:
            table[column] = np.nan
    table["zone_label"] = normalise_label(table["zone_label"].astype(object)).to_numpy()
    blank_label = table["zone_label"].isna()
    if blank_label.any():
        line = int(np.flatnonzero(blank_label)[0])
        where = _where(label, first_line, line)
        msg = f"{where}: zone_label is blank; give the zone or sub-zone label"
        raise LimitsError(msg)
    plan = table["plan_no"] if "plan_no" in table else pd.Series(None, index=table.index)
    table["plan_no"] = _plan_text(plan)
    _refuse_duplicates(table, label, first_line)
    empty = table[list(LIMIT_COLUMNS)].isna().all(axis=1)
    if empty.any():
        logger.warning(
            "read_limits: %s: %d rows give no limit at all (e.g. %s); their zones get no GFA",
            label,
            int(empty.sum()),
            table.loc[empty, "zone_label"].head(3).tolist(),
        )
    table = table.reset_index(drop=True)
    table.attrs["source"] = label
    logger.info("read_limits: %d rows from %s", len(table), label)
    return table


def _load_table(source: Any, sheet: str | int | None) -> tuple[str, pd.DataFrame, int]:
    """The raw table, a label for messages and the file line of its first row."""
    if isinstance(source, pd.DataFrame):
        return "limits table", source.copy(), 0
    path = Path(source)
    if not path.exists():
        msg = f"limits table {path} does not exist; give a .csv or .xlsx file"
        raise LimitsError(msg)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return str(path), pd.read_csv(path, dtype=str, keep_default_na=False), 2
    if suffix in (".xlsx", ".xls", ".xlsm"):
        frame = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, dtype=str)
        return str(path), frame, 2
    kind = suffix or "no suffix"
    msg = f"limits table {path}: {kind} is not a table nmgeo reads; use .csv or .xlsx"
    raise LimitsError(msg)


def _where(label: str, first_line: int, k: int) -> str:
    """Where row ``k`` is: a file line, or a row position of a table given in memory."""
    return f"{label}, line {first_line + k}" if first_line else f"{label}, row {k}"


def _canonical_columns(raw: pd.DataFrame, label: str) -> pd.DataFrame:
    names: dict[str, str] = {}
    for column in raw.columns:
        key = re.sub(r"[\s\-]+", "_", str(column).strip().lower())
        key = _ALIASES.get(key, key)
        if key in (*LIMIT_COLUMNS, *_TEXT_COLUMNS):
            if key in names.values():
                msg = f"{label}: two columns mean {key!r}; keep one of them"
                raise LimitsError(msg)
            names[column] = key
    table = raw.rename(columns=names)
    if "zone_label" not in table:
        msg = (
            f"{label} has no zone_label column (columns: {list(raw.columns)}); add one with "
            "the zone or sub-zone label of each row, e.g. C(1)"
        )
        raise LimitsError(msg)
    return table


def _numbers(values: pd.Series, column: str, label: str, first_line: int) -> pd.Series:
    """Parse one limit column: numbers with optional thousands commas and unit."""
    units, bound, meaning = LIMIT_COLUMNS[column]
    text = values.astype(object).where(values.notna(), "").astype(str).str.strip()
    text = text.str.replace(",", "", regex=False).str.lower()
    found = text.str.extract(r"^([-+]?\d*\.?\d+(?:e[-+]?\d+)?)\s*(.*)$")
    number = pd.to_numeric(found[0], errors="coerce")
    unit = found[1].fillna("").str.strip()
    blank = text.eq("") | text.isin(("nan", "none", "-", "n/a", "na"))
    bad_unit = ~blank & number.notna() & unit.ne("") & ~unit.isin(units)
    bad = (~blank & number.isna()) | bad_unit
    if bad.any():
        k = int(np.flatnonzero(bad.to_numpy())[0])
        accepted = f" (units accepted: {', '.join(units)})" if units else " (a bare number)"
        msg = (
            f"{_where(label, first_line, k)}, column {column}: {values.iloc[k]!r} is not "
            f"a number in {meaning}{accepted}; correct the cell or leave it blank"
        )
        raise LimitsError(msg)
    number = number.where(~blank)
    if column == "max_site_coverage":
        number = number.where(~unit.eq("%"), number / 100)
    wrong = number.lt(0) | number.gt(bound)
    if wrong.any():
        k = int(np.flatnonzero(wrong.to_numpy())[0])
        hint = " (write a percentage with %, e.g. 60%)" if column == "max_site_coverage" else ""
        msg = (
            f"{_where(label, first_line, k)}, column {column}: {values.iloc[k]!r} is outside "
            f"0-{bound:g} {meaning}{hint}; check the Notes"
        )
        raise LimitsError(msg)
    return number.astype(float)


def _plan_text(plan: pd.Series) -> pd.Series:
    text = plan.astype(object).where(plan.notna(), "").astype(str)
    text = text.str.replace(r"\s+", "", regex=True).str.upper()
    return text.where(text.ne(""), None).astype(object)


def _refuse_duplicates(table: pd.DataFrame, label: str, first_line: int) -> None:
    keys = table["plan_no"].fillna("\uffff") + "|" + table["zone_label"].astype(str)
    dup = keys.duplicated(keep="first")
    if dup.any():
        k = int(np.flatnonzero(dup.to_numpy())[0])
        first = int(np.flatnonzero((keys == keys.iloc[k]).to_numpy())[0])
        plan = table["plan_no"].iloc[k]
        plan = plan if pd.notna(plan) else "any plan"
        msg = (
            f"{_where(label, first_line, k)}: {table['zone_label'].iloc[k]} on {plan} "
            f"already has limits ({_where('', first_line, first).lstrip(', ')}); keep one row"
        )
        raise LimitsError(msg)


# --------------------------------------------------------------------------- matching


def _match(parcels: pd.DataFrame, limits: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Row of ``limits`` for every parcel (-1: none) and the level it matched at (-1)."""
    columns = [c for c in ("plan_no", "zone_label", "specified_use") if c in parcels]
    first, inverse = _distinct_rows(parcels, columns)
    keys = pd.DataFrame(
        {c: parcels[c].iloc[first].to_numpy(dtype=object) for c in columns}, dtype=object
    )
    row, level = _match_keys(keys, limits)
    return row[inverse], level[inverse]


def _distinct_rows(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """First row of each distinct combination of ``columns`` and each row's combination."""
    inverse = np.zeros(len(frame), dtype=np.int64)
    for column in columns:
        codes, uniques = pd.factorize(frame[column])
        # Re-coded after each column, so the combined code stays below rows x values.
        inverse = pd.factorize(inverse * (len(uniques) + 1) + codes + 1)[0]
    _, first = np.unique(inverse, return_index=True)
    return first, inverse


def _match_keys(parcels: pd.DataFrame, limits: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    n = len(parcels)
    label = normalise_label(parcels["zone_label"].astype(object)).to_numpy(dtype=object)
    family = _match_text(zone_family(label).to_numpy(dtype=object))
    label = _match_text(_with_specified_use(label, parcels))
    if "plan_no" in parcels:
        plan = _plan_text(parcels["plan_no"].reset_index(drop=True)).to_numpy(dtype=object)
    else:
        plan = np.full(n, None, dtype=object)
    lim_plan = limits["plan_no"].to_numpy(dtype=object)
    lim_label = _match_text(limits["zone_label"].to_numpy(dtype=object))
    has_plan = pd.notna(lim_plan)
    row = np.full(n, -1, dtype=np.int64)
    level = np.full(n, -1, dtype=np.int64)
    tries = (
        (plan, label, has_plan),
        (plan, family, has_plan),
        (None, label, ~has_plan),
        (None, family, ~has_plan),
    )
    for k, (p, key, rows) in enumerate(tries):
        pos = np.flatnonzero(rows)
        lookup = pd.Series(
            pos,
            index=pd.MultiIndex.from_arrays(
                [lim_plan[pos] if p is not None else np.full(len(pos), ""), lim_label[pos]]
            ),
        )
        todo = np.flatnonzero((row < 0) & pd.notna(key))
        if not len(todo) or not len(pos):
            continue
        probe = pd.MultiIndex.from_arrays(
            [p[todo] if p is not None else np.full(len(todo), ""), key[todo]]
        )
        hit = lookup.reindex(probe).to_numpy()
        found = ~pd.isna(hit)
        row[todo[found]] = hit[found].astype(np.int64)
        level[todo[found]] = k
    return row, level


def _with_specified_use(label: np.ndarray, parcels: pd.DataFrame) -> np.ndarray:
    """A bare ``OU`` label with its specified use, as the Notes name it: ``OU(Business)``."""
    if "specified_use" not in parcels:
        return label
    use = parcels["specified_use"].astype(object).to_numpy()
    bare = (label == "OU") & pd.notna(use)
    if not bare.any():
        return label
    label = label.copy()
    named = pd.Series(use[bare]).astype(str).str.strip()
    ok = named.ne("").to_numpy()
    spelled = normalise_label("OU(" + named[ok] + ")").to_numpy(dtype=object)
    label[np.flatnonzero(bare)[ok]] = spelled
    return label


def _match_text(labels: np.ndarray) -> np.ndarray:
    """Labels compared in upper case with single spaces (OU annotations vary in case)."""
    text = pd.Series(labels, dtype=object)
    folded = text.str.upper().str.replace(r"\s+", " ", regex=True)
    return folded.where(text.notna(), None).to_numpy(dtype=object)


def _warn_unmatched(limits: pd.DataFrame, row: np.ndarray) -> None:
    unused = np.setdiff1d(np.arange(len(limits)), row[row >= 0])
    if not len(unused):
        return
    where = limits.attrs.get("source", "limits table")
    keys = [
        f"{limits['zone_label'].iloc[k]}"
        + (f" on {p}" if pd.notna(p := limits["plan_no"].iloc[k]) else "")
        for k in unused[:5]
    ]
    if len(unused) == len(limits):
        msg = (
            f"no row of {where} matches a zone of the land (e.g. {', '.join(keys)}); check "
            "plan_no and zone_label against the zones' (nmgeo.read_zones) values"
        )
        raise LimitsError(msg)
    logger.warning(
        "assign_capacity: %d rows of %s match no zone of the land (e.g. %s); check their "
        "plan_no and zone_label",
        len(unused),
        where,
        ", ".join(keys),
    )


# --------------------------------------------------------------------------- capacity


@pauses_gc
def assign_capacity(
    parcels: gpd.GeoDataFrame,
    limits: pd.DataFrame,
    *,
    height_controls: gpd.GeoDataFrame | None = None,
    parameters: Mapping[str, float | None] | None = None,
) -> gpd.GeoDataFrame:
    """Add the floor space the development limits allow on each piece of land, and the
    flats, population and jobs it holds.

    Each piece takes the limits row of its zone: plan and label with suffix
    (``S/NE-KTN/2``, ``C(1)``) first, then plan and family (``C``), then the label on any
    plan, then the family on any plan. Three limits can bind, and the smallest GFA wins:

    - **plot ratio**: area x ``max_plot_ratio_domestic`` and area x
      ``max_plot_ratio_non_domestic`` (a missing one of the pair is 0), scaled down to
      area x ``max_plot_ratio`` when the total is lower; a total alone is domestic on
      residential and village land, non-domestic elsewhere, and of unknown split on
      mixed-use land (CDA, C/R);
    - **GFA cap**: ``max_gfa_m2`` is the limit of all the land its row matches, shared
      by area among the pieces given (so give the whole fabric, not a few pieces);
    - **height**: area x site coverage x storeys, where the storeys are
      ``max_height_storeys`` or the height in mPD less the ground
      (``mean_elevation_m`` of :func:`nmgeo.assign_terrain`, else ``ground_level_mpd``)
      over the floor-to-floor height. Land under a building height control polygon takes
      the stricter of the two heights; a non-building area takes no floor space. Without
      a site coverage (in the table or the ``site_coverage`` parameter) a height limit
      is kept out of the GFA, as nothing says how much of the site is built on.

    A piece whose zone has no limit gets no GFA (missing, never invented): see
    :func:`zones_without_limits`.

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
        Land with ``zone_label`` and ``land_use`` (a land fabric from
        :func:`nmgeo.land_fabric`, or zoned lots), optionally ``plan_no`` and
        ``mean_elevation_m``; any CRS (areas are measured on EPSG:2326).
    limits : pandas.DataFrame
        A development limits table (:func:`read_limits`).
    height_controls : geopandas.GeoDataFrame, optional
        Building height control polygons (:func:`nmgeo.read_height_controls`), with
        ``max_height_mpd``, ``max_height_storeys`` and ``no_building``.
    parameters : mapping, optional
        Overrides of :func:`capacity_parameters` (flat size, persons per flat, floor
        space per job, floor heights, ground level, site coverage).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``parcels`` with:

        ``limits_match``
            How the limits row was found (``plan_no+zone_label``, ``plan_no+family``,
            ``zone_label``, ``family``); missing where no row applies.
        ``gfa_m2``
            Maximum gross floor area, m²: what the piece can be sold or used for.
        ``gfa_domestic_m2``, ``gfa_commercial_m2``, ``gfa_gic_m2``
            Of which domestic (homes), commercial (non-domestic outside G/IC land) and
            G/IC, m²; missing where the split is unknown.
        ``binding_limit``
            ``plot_ratio``, ``gfa_cap`` or ``height``: the limit that sets ``gfa_m2``.
        ``flats``, ``population``, ``jobs``
            Expected number of flats (domestic GFA / ``flat_size_m2``), residents
            (flats x ``persons_per_flat``) and jobs (commercial and G/IC GFA over their
            floor space per job); fractional, to add up over packages.

        ``attrs["nmgeo_capacity"]`` holds the parameters used.

    Raises
    ------
    SchemaError
        ``parcels`` lacks ``zone_label`` or ``land_use``.
    LimitsError
        No row of ``limits`` matches any zone (a warning names rows that match none).

    Examples
    --------
    A 100 m x 100 m C(1) site with a plot ratio of 5, and a G/IC site limited to 8
    storeys at 40 % site coverage:

    >>> import geopandas as gpd, pandas as pd, shapely
    >>> from nmgeo.capacity import assign_capacity, read_limits
    >>> land = gpd.GeoDataFrame(
    ...     {"zone_label": ["C(1)", "G/IC"], "land_use": ["commercial", "public_facility"]},
    ...     geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)],
    ...     crs="EPSG:2326",
    ... )
    >>> limits = read_limits(pd.DataFrame({
    ...     "zone_label": ["C(1)", "G/IC"], "max_plot_ratio": [5, None],
    ...     "max_height_storeys": [None, 8], "max_site_coverage": [None, 0.4],
    ... }))
    >>> out = assign_capacity(land, limits)
    >>> out["gfa_m2"].tolist(), out["binding_limit"].tolist()
    ([50000.0, 32000.0], ['plot_ratio', 'height'])
    >>> out["gfa_commercial_m2"].tolist(), out["gfa_gic_m2"].tolist()
    ([50000.0, 0.0], [0.0, 32000.0])
    >>> out["jobs"].round(1).tolist()  # 20 m² per commercial job, 50 m² per G/IC job
    [2500.0, 640.0]
    """
    for column in ("zone_label", "land_use"):
        if column not in parcels.columns:
            msg = (
                f"parcels have no {column!r} column; give a land fabric (nmgeo.land_fabric) "
                "or lots zoned with nmgeo.assign_zoning"
            )
            raise SchemaError(msg)
    values = _values(parameters)
    geoms = as_hk80(parcels, "parcels").geometry.to_numpy()
    area = np.where(shapely.is_missing(geoms), 0.0, shapely.area(geoms))
    row, level = _match(parcels, limits)
    _warn_unmatched(limits, row)
    lim = {c: _at(limits[c].to_numpy(dtype=float), row) for c in LIMIT_COLUMNS}
    use = parcels["land_use"].astype(object).to_numpy()
    uses = (np.isin(use, _DOMESTIC_USES), np.isin(use, _GIC_USES), np.isin(use, _MIXED_USES))
    ground = _ground(parcels, values)
    storeys = _storeys(lim, uses[0], ground, values)
    coverage = np.where(
        np.isnan(lim["max_site_coverage"]), values["site_coverage"], lim["max_site_coverage"]
    )
    height_gfa = _height_gfa(
        geoms, area, storeys, coverage, uses[0], ground, height_controls, values
    )
    dom, nd, pr_gfa = _plot_ratio_gfa(area, lim, uses)
    cap_gfa = _cap_share(area, row, lim["max_gfa_m2"])
    out = parcels.copy()
    _write_capacity(out, np.stack([pr_gfa, cap_gfa, height_gfa]), dom, nd, uses, level, values)
    out.attrs["nmgeo_capacity"] = {
        "parameters": values,
        "limits_source": limits.attrs.get("source"),
    }
    with_gfa = out["gfa_m2"].notna()
    logger.info(
        "assign_capacity: %d of %d pieces have limits (%.1f ha): %.0f m² GFA, "
        "%.0f flats, %.0f jobs",
        int(with_gfa.sum()),
        len(out),
        area[with_gfa.to_numpy()].sum() / 1e4,
        out["gfa_m2"].sum(),
        out["flats"].sum(),
        out["jobs"].sum(),
    )
    return out


def _at(values: np.ndarray, row: np.ndarray) -> np.ndarray:
    return np.where(row >= 0, values[np.maximum(row, 0)] if len(values) else np.nan, np.nan)


def _ground(parcels: pd.DataFrame, values: dict[str, float]) -> np.ndarray:
    if "mean_elevation_m" in parcels:
        ground = pd.to_numeric(parcels["mean_elevation_m"], errors="coerce").to_numpy(dtype=float)
        return np.where(np.isnan(ground), values["ground_level_mpd"], ground)
    return np.full(len(parcels), values["ground_level_mpd"])


def _floor_height(domestic: np.ndarray, values: dict[str, float]) -> np.ndarray:
    return np.where(
        domestic, values["floor_height_domestic_m"], values["floor_height_non_domestic_m"]
    )


def _mpd_storeys(
    height_mpd: np.ndarray, domestic: np.ndarray, ground: np.ndarray, values: dict[str, float]
) -> np.ndarray:
    """Whole storeys that fit under a height in mPD (NaN where no height)."""
    with np.errstate(invalid="ignore"):
        return np.maximum(np.floor((height_mpd - ground) / _floor_height(domestic, values)), 0)


def _storeys(
    lim: dict[str, np.ndarray], domestic: np.ndarray, ground: np.ndarray, values: dict[str, float]
) -> np.ndarray:
    """The table's height limit as storeys: the stricter of storeys and mPD (NaN: none)."""
    by_mpd = _mpd_storeys(lim["max_height_mpd"], domestic, ground, values)
    return np.fmin(lim["max_height_storeys"], by_mpd)


def _height_gfa(
    geoms: np.ndarray,
    area: np.ndarray,
    storeys: np.ndarray,
    coverage: np.ndarray,
    domestic: np.ndarray,
    ground: np.ndarray,
    controls: gpd.GeoDataFrame | None,
    values: dict[str, float],
) -> np.ndarray:
    """GFA a height limit allows: area x coverage x storeys, with the control polygons'
    heights on the land they cover (NaN where no height limits or no coverage)."""
    unlimited = np.where(np.isnan(storeys), np.inf, storeys)
    gfa = area * unlimited
    if controls is not None and len(controls):
        piece, part_area, part_storeys = _control_parts(geoms, controls, domestic, ground, values)
        covered = np.bincount(piece, weights=part_area, minlength=len(area))
        stricter = np.fmin(part_storeys, unlimited[piece])
        with np.errstate(invalid="ignore"):
            under = np.bincount(piece, weights=part_area * stricter, minlength=len(area))
        rest = area - covered
        # Land a control covers whole leaves a rounding residue, not land without a limit.
        rest = np.where(rest > _COVERED_REL * area, rest, 0.0)
        with np.errstate(invalid="ignore"):
            uncontrolled = np.where(rest > 0, rest * unlimited, 0.0)
            gfa = np.where(covered > 0, under + uncontrolled, gfa)
    with np.errstate(invalid="ignore"):
        gfa = gfa * coverage
    return np.where(np.isfinite(gfa), gfa, np.nan)


def _control_parts(
    geoms: np.ndarray,
    controls: gpd.GeoDataFrame,
    domestic: np.ndarray,
    ground: np.ndarray,
    values: dict[str, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pieces x control polygons: the piece, the area they share and its storeys."""
    for column in ("max_height_mpd", "max_height_storeys", "no_building"):
        if column not in controls:
            msg = (
                f"height_controls have no {column!r} column; read TPB's building height "
                "control layer with nmgeo.read_height_controls"
            )
            raise SchemaError(msg)
    cgeoms = as_hk80(controls, "height_controls").geometry.to_numpy()
    faces, face_of, control_of = _control_faces(cgeoms)
    fi, pi = shapely.STRtree(geoms).query(faces, predicate="intersects")
    shared = shapely.area(map_chunks(shapely.intersection, geoms[pi], faces[fi]))
    keep = shared > 0
    fi, pi, shared = fi[keep], pi[keep], shared[keep]
    # Every (piece, face) pair with each control over the face: the strictest one wins.
    starts = np.searchsorted(face_of, fi)
    counts = np.searchsorted(face_of, fi, side="right") - starts
    pair = np.repeat(np.arange(len(fi)), counts)
    offset = np.arange(len(pair)) - np.repeat(np.cumsum(counts) - counts, counts)
    ci = control_of[np.repeat(starts, counts) + offset]
    piece = pi[pair]
    c_mpd = controls["max_height_mpd"].to_numpy(dtype=float)[ci]
    c_storeys = controls["max_height_storeys"].to_numpy(dtype=float)[ci]
    storeys = np.fmin(c_storeys, _mpd_storeys(c_mpd, domestic[piece], ground[piece], values))
    storeys = np.where(controls["no_building"].to_numpy(dtype=bool)[ci], 0.0, storeys)
    storeys = np.where(np.isnan(storeys), np.inf, storeys)
    strictest = np.full(len(fi), np.inf)
    np.minimum.at(strictest, pair, storeys)
    return pi, shared, strictest


def _control_faces(cgeoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The control polygons cut where they overlap: faces, and (face, control) pairs sorted
    by face, one pair for each control a face lies under."""
    tree = shapely.STRtree(cgeoms)
    overlapping = tree.query(cgeoms, predicate="overlaps")
    nested = tree.query(cgeoms, predicate="contains")
    if not len(overlapping[0]) and not (nested[0] != nested[1]).any():
        index = np.arange(len(cgeoms))
        return cgeoms, index, index
    edges = shapely.union_all(shapely.boundary(cgeoms))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(edges)))
    fi, ci = tree.query(shapely.point_on_surface(faces), predicate="within")
    order = np.lexsort((ci, fi))
    fi, ci = fi[order], ci[order]
    under = np.unique(fi)
    renumber = np.searchsorted(under, fi)
    return faces[under], renumber, ci


def _plot_ratio_gfa(
    area: np.ndarray, lim: dict[str, np.ndarray], uses: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Domestic, non-domestic and total GFA by plot ratio (NaN where none applies)."""
    domestic_use, _, mixed = uses
    pr_d, pr_nd, pr_t = (
        lim["max_plot_ratio_domestic"],
        lim["max_plot_ratio_non_domestic"],
        lim["max_plot_ratio"],
    )
    split = ~np.isnan(pr_d) | ~np.isnan(pr_nd)
    dom = np.where(split, area * np.nan_to_num(pr_d), np.nan)
    nd = np.where(split, area * np.nan_to_num(pr_nd), np.nan)
    total = area * pr_t
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(split & (dom + nd > total), total / (dom + nd), 1.0)
    dom, nd = dom * scale, nd * scale
    only_total = ~split & ~np.isnan(pr_t)
    dom = np.where(only_total, np.where(domestic_use, total, np.where(mixed, np.nan, 0.0)), dom)
    nd = np.where(only_total, np.where(domestic_use, 0.0, np.where(mixed, np.nan, total)), nd)
    gfa = np.where(split, dom + nd, np.where(only_total, total, np.nan))
    return dom, nd, gfa


def _cap_share(area: np.ndarray, row: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Each piece's share, by area, of the GFA cap of its limits row."""
    matched = row >= 0
    if not matched.any():
        return np.full(len(area), np.nan)
    land = np.bincount(row[matched], weights=area[matched])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(matched, cap * area / land[np.maximum(row, 0)], np.nan)


def _write_capacity(
    out: gpd.GeoDataFrame,
    candidates: np.ndarray,
    dom: np.ndarray,
    nd: np.ndarray,
    uses: tuple[np.ndarray, ...],
    level: np.ndarray,
    values: dict[str, float],
) -> None:
    """The smallest candidate GFA, its split by use and what it yields, as columns."""
    domestic_use, gic, mixed = uses
    has = ~np.isnan(candidates).all(axis=0)
    filled = np.where(np.isnan(candidates), np.inf, candidates)
    binding = np.argmin(filled, axis=0)
    gfa = np.where(has, filled.min(axis=0), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(dom + nd > 0, dom / (dom + nd), np.where(domestic_use, 1.0, 0.0))
    by_use = np.where(domestic_use, 1.0, np.where(mixed, np.nan, 0.0))
    share = np.where(np.isnan(dom) | np.isnan(nd), by_use, share)
    gfa_dom = gfa * share
    gfa_nd = gfa - gfa_dom
    out["limits_match"] = pd.Series(
        np.where(level >= 0, np.asarray(_MATCH_LEVELS, dtype=object)[np.maximum(level, 0)], None),
        index=out.index,
        dtype=object,
    )
    out["gfa_m2"] = gfa
    out["gfa_domestic_m2"] = gfa_dom
    out["gfa_commercial_m2"] = np.where(gic, 0.0, gfa_nd)
    out["gfa_gic_m2"] = np.where(gic, gfa_nd, 0.0 * gfa_nd)
    out["binding_limit"] = pd.Series(
        np.where(has, np.asarray(_BINDING, dtype=object)[binding], None),
        index=out.index,
        dtype=object,
    )
    out["flats"] = gfa_dom / values["flat_size_m2"]
    out["population"] = out["flats"] * values["persons_per_flat"]
    out["jobs"] = (
        out["gfa_commercial_m2"] / values["floor_space_per_job_m2"]
        + out["gfa_gic_m2"] / values["gic_floor_space_per_job_m2"]
    )


# --------------------------------------------------------------------------- packages

_SUMMED = (
    "gfa_m2",
    "gfa_domestic_m2",
    "gfa_commercial_m2",
    "gfa_gic_m2",
    "flats",
    "population",
    "jobs",
)
CAPACITY_COLUMNS = (
    *_SUMMED,
    "limits_share",
    "open_space_need_ha",
    "open_space_balance_ha",
    "gic_need_ha",
    "gic_balance_ha",
)
"""The columns :func:`package_capacity` adds to a package table."""


@pauses_gc
def package_capacity(
    result: PackageResult,
    capacity: pd.DataFrame,
    *,
    parameters: Mapping[str, float | None] | None = None,
) -> gpd.GeoDataFrame:
    """Add to each package the floor space, homes and jobs of its land, and whether it
    holds the open space (and G/IC land) its population needs.

    Parameters
    ----------
    result : PackageResult
        Packages from :func:`nmgeo.build_packages`.
    capacity : pandas.DataFrame
        The land the packages were built on with the columns of :func:`assign_capacity`
        (computed on the whole fabric, so that GFA caps are shared over all their land),
        keyed by ``piece_id`` (or ``parcel_id`` for lot input).
    parameters : mapping, optional
        Overrides of :func:`capacity_parameters` (``open_space_m2_per_person``,
        ``gic_m2_per_person``).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``result.packages`` with the sums over its member pieces of ``gfa_m2``,
        ``gfa_domestic_m2``, ``gfa_commercial_m2``, ``gfa_gic_m2``, ``flats``,
        ``population`` and ``jobs`` (missing only where no member has limits), and:

        ``limits_share``
            Share of the package's land whose zone has development limits (0-1): below 1
            the capacity figures leave land out.
        ``open_space_need_ha``, ``open_space_balance_ha``
            Open space the population needs (``open_space_m2_per_person``, HKPSG) and the
            package's open-space land less that need, ha: negative means the package
            does not provide for its own residents.
        ``gic_need_ha``, ``gic_balance_ha``
            The same for G/IC land, with ``gic_m2_per_person`` (missing without one).

    Raises
    ------
    SchemaError
        ``capacity`` lacks the key or the capacity columns.

    Examples
    --------
    >>> import nmgeo
    >>> from nmgeo.capacity import assign_capacity, package_capacity, read_limits
    >>> s = nmgeo.load_sample()
    >>> fabric = nmgeo.land_fabric(s.zones, s.parcels)
    >>> result = nmgeo.build_packages(fabric)
    >>> capacity = assign_capacity(fabric, read_limits(s.limits_path))
    >>> sites = package_capacity(result, capacity)
    >>> bool((sites["gfa_m2"] > 0).any()), bool(sites["limits_share"].between(0, 1).all())
    (True, True)
    """
    values = _values(parameters)
    key = "piece_id" if "piece_id" in capacity else "parcel_id"
    missing = [c for c in (key, "land_use", *_SUMMED) if c not in capacity]
    if missing:
        msg = f"capacity lacks {missing}; compute it with nmgeo.capacity.assign_capacity"
        raise SchemaError(msg)
    mem = result.members[["package_id", "piece_id", "area_m2", "land_use"]]
    at_row = _first_rows(capacity[key], mem["piece_id"])
    lost = mem["piece_id"].to_numpy()[at_row < 0]
    if len(lost):
        msg = (
            f"capacity has no row for {len(lost)} member pieces (e.g. {list(lost[:3])}); "
            "compute it on the land the packages were built on"
        )
        raise SchemaError(msg)
    frame = pd.DataFrame({c: capacity[c].to_numpy(dtype=float)[at_row] for c in _SUMMED})
    frame["package_id"] = mem["package_id"].to_numpy()
    frame["limited_m2"] = np.where(frame["gfa_m2"].notna(), mem["area_m2"], 0.0)
    frame["area_m2"] = mem["area_m2"].to_numpy()
    frame["open_m2"] = np.where(mem["land_use"].eq("open_space"), mem["area_m2"], 0.0)
    frame["gic_m2"] = np.where(mem["land_use"].isin(_GIC_USES), mem["area_m2"], 0.0)
    sums = frame.groupby("package_id").sum(min_count=1)
    out = result.packages.copy()
    at = sums.reindex(out["package_id"].to_numpy())
    for column in _SUMMED:
        out[column] = at[column].to_numpy()
    out["limits_share"] = (at["limited_m2"] / at["area_m2"]).fillna(0.0).to_numpy()
    population = np.nan_to_num(out["population"].to_numpy(dtype=float))
    for name, have, rate in (
        ("open_space", at["open_m2"], values["open_space_m2_per_person"]),
        ("gic", at["gic_m2"], values["gic_m2_per_person"]),
    ):
        need = population * rate / 1e4
        out[f"{name}_need_ha"] = need
        out[f"{name}_balance_ha"] = have.fillna(0.0).to_numpy() / 1e4 - need
    return out


def _first_rows(keys: pd.Series, probe: pd.Series) -> np.ndarray:
    """Position of the first row of ``keys`` equal to each value of ``probe`` (-1: none)."""
    codes, uniques = pd.factorize(pd.concat([keys, probe], ignore_index=True))
    first = np.full(len(uniques) + 1, -1, dtype=np.int64)
    own = codes[: len(keys)]
    first[own[::-1]] = np.arange(len(keys))[::-1]
    first[-1] = -1  # null keys match nothing
    return first[codes[len(keys) :]]


def capacity_targets(
    packages: pd.DataFrame,
    *,
    homes_target: float | None = None,
    jobs_target: float | None = None,
) -> pd.DataFrame:
    """How far the packages go towards the Northern Metropolis' targets for homes and jobs.

    Parameters
    ----------
    packages : pandas.DataFrame
        Packages with the columns of :func:`package_capacity`, and ``major_zone`` and
        ``rail_walk_year`` (:func:`nmgeo.assign_access`) when there.
    homes_target, jobs_target : float, optional
        Targets (flats, jobs); default the NM Action Agenda's 500,000 homes and 650,000
        jobs (``homes_target`` and ``jobs_target`` of :func:`capacity_parameters`).

    Returns
    -------
    pandas.DataFrame
        One row for all packages, one per major zone and one per year in which rail comes
        within a walk (``no rail within a walk`` last), with ``by`` (``all``,
        ``major_zone``, ``rail_walk_year``), ``group``, ``n_packages``, ``area_ha``,
        ``gfa_m2``, ``flats``, ``jobs``, ``homes_share`` and ``jobs_share`` (of the
        targets, 0-1); the rail rows also carry ``flats_cumulative``, ``jobs_cumulative``
        and their shares: what is within a walk of rail by that year.

    Examples
    --------
    >>> import pandas as pd
    >>> from nmgeo.capacity import capacity_targets
    >>> sites = pd.DataFrame({
    ...     "package_id": ["P001", "P002"], "area_ha": [10.0, 5.0],
    ...     "gfa_m2": [400_000.0, 100_000.0], "flats": [5_000.0, 0.0],
    ...     "jobs": [6_500.0, 3_250.0], "major_zone": ["Innovation and Technology Zone"] * 2,
    ...     "rail_walk_year": [2027, 2034],
    ... })
    >>> table = capacity_targets(sites)
    >>> first = table.iloc[0]
    >>> first["group"], float(first["flats"]), float(first["homes_share"])
    ('all packages', 5000.0, 0.01)
    >>> float(first["jobs_share"])
    0.015
    >>> table[table["by"] == "rail_walk_year"]["jobs_cumulative"].tolist()
    [6500.0, 9750.0]
    """
    values = _values(None)
    homes = values["homes_target"] if homes_target is None else float(homes_target)
    jobs = values["jobs_target"] if jobs_target is None else float(jobs_target)
    frame = pd.DataFrame(packages).copy()
    for column in ("area_ha", "gfa_m2", "flats", "jobs"):
        if column not in frame:
            msg = f"packages lack {column!r}; add it with nmgeo.capacity.package_capacity"
            raise SchemaError(msg)
    frame["_all"] = "all packages"
    rows = [_target_rows(frame, "_all", "all")]
    if "major_zone" in frame:
        rows.append(_target_rows(frame, "major_zone", "major_zone"))
    if "rail_walk_year" in frame:
        year = pd.to_numeric(frame["rail_walk_year"], errors="coerce").astype(float)
        frame["_year"] = year.fillna(np.inf)
        by_year = _target_rows(frame, "_year", "rail_walk_year")
        for name in ("flats", "jobs"):
            by_year[f"{name}_cumulative"] = by_year[name].fillna(0.0).cumsum()
        by_year["group"] = by_year["group"].map(
            lambda y: "no rail within a walk" if y == np.inf else str(int(y))
        )
        rows.append(by_year)
    table = pd.concat(rows, ignore_index=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["homes_share"] = table["flats"] / homes
        table["jobs_share"] = table["jobs"] / jobs
        if "flats_cumulative" in table:
            table["homes_share_cumulative"] = table["flats_cumulative"] / homes
            table["jobs_share_cumulative"] = table["jobs_cumulative"] / jobs
    table.attrs.update(homes_target=homes, jobs_target=jobs)
    return table


def _target_rows(frame: pd.DataFrame, column: str, by: str) -> pd.DataFrame:
    grouped = frame.groupby(column, sort=True, dropna=False)
    sums = grouped[["area_ha", "gfa_m2", "flats", "jobs"]].sum(min_count=1)
    sums.insert(0, "n_packages", grouped.size())
    sums = sums.reset_index().rename(columns={column: "group"})
    sums.insert(0, "by", by)
    return sums


def zones_without_limits(
    capacity: pd.DataFrame, result: PackageResult | None = None
) -> pd.DataFrame:
    """The zones whose land got no floor space because the limits table has no row for them.

    Parameters
    ----------
    capacity : pandas.DataFrame
        Land with the columns of :func:`assign_capacity`.
    result : PackageResult, optional
        Only the land of these packages' members.

    Returns
    -------
    pandas.DataFrame
        One row per ``plan_no`` (when present), ``zone_label`` and ``land_use`` without
        limits, with ``n_pieces`` and ``area_ha``, largest first: the rows to add to the
        limits table from the OZP Notes.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd, shapely
    >>> from nmgeo.capacity import assign_capacity, read_limits, zones_without_limits
    >>> land = gpd.GeoDataFrame(
    ...     {"zone_label": ["C", "CDA"], "land_use": ["commercial", "mixed_use"]},
    ...     geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 300, 100)],
    ...     crs="EPSG:2326",
    ... )
    >>> limits = read_limits(pd.DataFrame({"zone_label": ["C"], "max_plot_ratio": [9.5]}))
    >>> zones_without_limits(assign_capacity(land, limits)).to_dict("records")
    [{'zone_label': 'CDA', 'land_use': 'mixed_use', 'n_pieces': 1, 'area_ha': 2.0}]
    """
    lacking = capacity["limits_match"].isna().to_numpy().copy()
    if result is not None:
        key = "piece_id" if "piece_id" in capacity else "parcel_id"
        lacking &= _first_rows(result.members["piece_id"], capacity[key]) >= 0
    keys = [c for c in ("plan_no", "zone_label", "land_use") if c in capacity]
    geoms = gpd.GeoSeries(capacity.geometry)
    area = shapely.area(as_hk80(geoms[lacking], "capacity").to_numpy()) if lacking.any() else []
    table = (
        pd.DataFrame({**{k: capacity[k].to_numpy()[lacking] for k in keys}, "area_m2": area})
        .groupby(keys, dropna=False, sort=True)
        .agg(n_pieces=("area_m2", "size"), area_ha=("area_m2", "sum"))
        .reset_index()
    )
    table["area_ha"] = table["area_ha"] / 1e4
    return table.sort_values(
        ["area_ha", *keys], ascending=[False] + [True] * len(keys), ignore_index=True
    )
