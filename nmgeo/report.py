"""Tables a planner hands over: land areas, package reports, and the files they go out in."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from nmgeo._crs import as_hk80
from nmgeo._gc import pauses_gc
from nmgeo._outputs import replacing_all
from nmgeo._sources import refuse_input
from nmgeo._units import UNITS, column_unit, with_units  # noqa: F401 (re-exported)
from nmgeo._writers import (
    FILE_BAD,
    FORMATS,
    html_page,
    markdown,
    prepare_tables,
    unique_names,
    write_csv,
    write_xlsx,
)
from nmgeo.errors import InputError, SchemaError
from nmgeo.packages import PackageResult

__all__ = ["area_report", "column_unit", "package_report", "with_units", "write_report"]

logger = logging.getLogger("nmgeo.report")

NONE_LABEL = "(none)"


# The columns area_report adds; grouping by one of them would be ambiguous.
_AREA_COLUMNS = ("n_parcels", "area_m2", "area_ha", "share", "share_within")


@pauses_gc
def area_report(
    parcels: gpd.GeoDataFrame,
    *,
    by: str | Sequence[str] = ("major_zone", "land_use"),
) -> pd.DataFrame:
    """Land area by one or more attributes, in hectares and shares.

    Area is counted where it lies: on a land fabric (:func:`nmgeo.land_fabric`) every
    piece holds one zone and one tenure, so a lot straddling zones counts in each zone
    by its area there. Lots zoned by their dominant zone (:func:`nmgeo.assign_zoning`)
    count whole under that zone; to count only the lots' land, each part in its zone,
    pass the leased pieces of a fabric (``fabric[fabric["parcel_id"].notna()]``).

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
        A land fabric, parcels or any polygons. ``area_m2`` is used when present (as set
        by :func:`nmgeo.read_parcels`), else the planimetric area in EPSG:2326.
    by : str or sequence of str
        Columns to group by, outermost first. Missing values form their own
        group, labelled ``"(none)"`` (e.g. parcels outside every major zone).

    Returns
    -------
    pandas.DataFrame
        One row per group, sorted by the ``by`` columns, with:

        ``n_parcels``
            Number of rows (parcels, or pieces of a fabric) in the group.
        ``area_ha``
            Their total area, hectares.
        ``share``
            Fraction (0-1) of the total area of all parcels.
        ``share_within``
            Fraction (0-1) of the area of the outermost group (only when
            grouping by two or more columns): e.g. the share of each land use
            within its major zone.

        The shares of ``share`` sum to 1; nothing is dropped.

    Examples
    --------
    >>> import nmgeo
    >>> s = nmgeo.load_sample()
    >>> fabric = nmgeo.land_fabric(s.zones, s.parcels)
    >>> areas = nmgeo.area_report(fabric, by=["tenure"])
    >>> sorted(areas["tenure"]), round(float(areas["share"].sum()), 9)
    (['government', 'leased'], 1.0)
    """
    keys = [by] if isinstance(by, str) else list(by)
    missing = [k for k in keys if k not in parcels.columns]
    if missing:
        available = sorted(map(str, parcels.columns))
        msg = f"area_report: no column {missing[0]!r}; available: {available}"
        raise SchemaError(msg)
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    geometry = getattr(parcels, "_geometry_column_name", None)
    reserved = [k for k in keys if k in _AREA_COLUMNS or k == geometry]
    if repeated or reserved:
        what = f"is given twice: {repeated[0]!r}" if repeated else f"{reserved[0]!r}"
        msg = (
            f"area_report: a grouping column {what}; group by attribute columns, each once "
            f"(not the geometry, nor the report's own {', '.join(_AREA_COLUMNS)})"
        )
        raise SchemaError(msg)
    if "area_m2" in parcels.columns:
        area = parcels["area_m2"].astype(float)
    else:
        area = as_hk80(parcels, "parcels").geometry.area
    frame = pd.DataFrame(
        {k: parcels[k].astype(object).where(parcels[k].notna(), NONE_LABEL) for k in keys}
    )
    frame["area_m2"] = area.to_numpy()
    table = (
        frame.groupby(keys, sort=True, dropna=False)
        .agg(n_parcels=("area_m2", "size"), area_m2=("area_m2", "sum"))
        .reset_index()
    )
    total = table["area_m2"].sum()
    table["area_ha"] = table["area_m2"] / 1e4
    table["share"] = table["area_m2"] / total if total > 0 else 0.0
    if len(keys) > 1:
        outer = table.groupby(keys[0])["area_m2"].transform("sum")
        table["share_within"] = (table["area_m2"] / outer).where(outer > 0, 0.0)
    return table.drop(columns="area_m2")


# --------------------------------------------------------------------------- package report


def package_report(result: PackageResult | gpd.GeoDataFrame) -> pd.DataFrame:
    """One row per land disposal package: the table a planner circulates with its map.

    The report assembles what the analysis verbs computed; it measures nothing itself.
    Add the access and terrain columns first, on the packages:

    - :func:`nmgeo.assign_access`: nearest boundary crossing and station, rail distance
      year by year, the year rail comes within a walk, station catchment share;
    - :func:`nmgeo.assign_terrain`: mean elevation and slope from a DEM.

    Parameters
    ----------
    result : PackageResult or geopandas.GeoDataFrame
        The output of :func:`nmgeo.build_packages`, or its ``.packages`` frame with
        columns added by the verbs above.

    Returns
    -------
    pandas.DataFrame
        One row per package, ordered by ``package_id``, without geometry: every column
        of the packages frame, with their meaning and units in the column glossary
        (:func:`nmgeo.glossary.columns`, tables ``packages``, ``access`` and
        ``terrain``). ``attrs["as_of"]`` is the rail network year when the access
        columns are there.

    Raises
    ------
    InputError
        ``result`` is neither a PackageResult nor a GeoDataFrame.
    SchemaError
        The frame has no ``package_id``.

    Examples
    --------
    >>> import nmgeo
    >>> s = nmgeo.load_sample()
    >>> result = nmgeo.build_packages(s.zones, s.parcels)
    >>> sites = nmgeo.assign_access(result.packages, as_of=2034)
    >>> table = nmgeo.package_report(sites)
    >>> table["package_id"].is_monotonic_increasing, "geometry" in table.columns
    (True, False)
    >>> table.attrs["as_of"]
    2034
    """
    packages = _packages_frame(result)
    packages = packages.sort_values("package_id", kind="stable").reset_index(drop=True)
    table = pd.DataFrame(packages.drop(columns=packages.geometry.name))
    table.attrs = dict(packages.attrs)
    logger.info("package_report: %d packages, %d columns", len(table), table.shape[1])
    return table


def _packages_frame(result: PackageResult | gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    packages = result.packages if isinstance(result, PackageResult) else result
    if not isinstance(packages, gpd.GeoDataFrame):
        msg = (
            f"package_report needs the PackageResult of nmgeo.build_packages (or its "
            f".packages), not {type(result).__name__}"
        )
        raise InputError(msg)
    if "package_id" not in packages.columns:
        msg = "packages have no 'package_id' column; pass the output of nmgeo.build_packages"
        raise SchemaError(msg)
    return packages


# --------------------------------------------------------------------------- writing


def write_report(
    frames: Mapping[str, pd.DataFrame],
    path: str | os.PathLike,
    *,
    formats: Sequence[str] = FORMATS,
    map: Any = None,
    figure: Any = None,
    title: str = "nmgeo report",
) -> dict[str, Path]:
    """Write report tables as CSV, Excel, Markdown and a standalone HTML page.

    Parameters
    ----------
    frames : mapping of str to pandas.DataFrame
        ``{table name: table}`` in the order to present them, e.g.
        ``{"packages": package_report(result), "areas": area_report(parcels)}``.
        Geometry columns are dropped; a named index becomes column(s).
    path : path
        Base path without suffix, e.g. ``"out/report"``; the parent folder is created.
        Existing files of the same names are overwritten, except files nmgeo read as
        inputs in this session, which raise :class:`~nmgeo.errors.OutputError`.
    formats : sequence of {"csv", "xlsx", "md", "html"}
        What to write:

        ``csv``
            ``<base>_<table>.csv`` per table, plain column names (for machines).
        ``xlsx``
            ``<base>.xlsx``, one sheet per table (names cut to 31 characters),
            headers with units, e.g. ``"area_ha (ha)"``.
        ``md``
            ``<base>.md``, a section with a pipe table per table, headers with units,
            numbers rounded to 3 decimals.
        ``html``
            ``<base>.html``, one self-contained page: the title, ``figure`` as an
            inline PNG, ``map`` in an ``<iframe srcdoc>``, then the tables (headers
            with units; all text HTML-escaped).
    map : folium.Map, optional
        An interactive map (anything with ``get_root().render()``), embedded in the
        HTML page.
    figure : matplotlib.figure.Figure, optional
        A static overview (e.g. from :func:`nmgeo.plot.plot_packages`), embedded in
        the HTML page as a base64 PNG.
    title : str
        Heading of the Markdown and HTML documents.

    Returns
    -------
    dict of str to pathlib.Path
        The files written: ``"xlsx"``, ``"md"``, ``"html"`` and ``"csv:<table>"`` (one
        per table) as requested.

    Raises
    ------
    InputError
        No tables, a table that is not a DataFrame, an unknown format, or table names
        that collide once made safe for file or sheet names.
    OutputError
        A file to write is one nmgeo read as an input in this session.

    Notes
    -----
    Units come from column names (see :data:`UNITS`): ``*_ha`` hectares, ``*_m``
    and ``*_m_<n>`` metres, ``*_m2`` square metres, ``*_share`` fractions 0-1,
    ``*_deg`` degrees.

    Spreadsheet formulas are neutralised (OWASP advice on CSV injection): in the CSV
    and XLSX files every text cell, and every column name, that starts with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return is written with a leading
    apostrophe, e.g. ``"=1+1"`` as ``"'=1+1"`` (see :func:`neutralise_formulas`;
    numbers, negative ones included, are untouched). Excel holds at most 32,767
    characters in a cell: longer text is cut to that length in the XLSX only, with a
    logged warning giving the number of cells cut.

    The Markdown and HTML documents carry no live HTML: ``&``, ``<`` and ``>`` in the
    title, table names, column names and cells are written as ``&amp;``, ``&lt;`` and
    ``&gt;`` (and ``|``, ``[`` and ``]`` in Markdown as ``\\|``, ``\\[`` and ``\\]``), so
    ``<script>`` and ``[link](javascript:...)`` show as text.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> import nmgeo
    >>> table = pd.DataFrame({"package_id": ["P001"], "area_ha": [12.5], "name": ["=1+1"]})
    >>> base = pathlib.Path(tempfile.mkdtemp()) / "report"
    >>> files = nmgeo.write_report({"packages": table}, base, formats=["csv", "md"])
    >>> sorted(files)
    ['csv:packages', 'md']
    >>> files["csv:packages"].read_text(encoding="utf-8").splitlines()[1]  # formula defused
    "P001,12.5,'=1+1"
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        msg = f"unknown report format(s) {unknown}; choose from {list(FORMATS)}"
        raise InputError(msg)
    tables = prepare_tables(frames)
    base = Path(path)
    if base.suffix.lower() in {f".{f}" for f in FORMATS}:
        base = base.with_suffix("")
    plan: dict[str, Path] = {}
    if "csv" in formats:
        names = unique_names({k: FILE_BAD.sub("_", k).strip("_") or "table" for k in tables})
        for key in tables:
            plan[f"csv:{key}"] = base.with_name(f"{base.name}_{names[key]}.csv")
    for fmt in ("xlsx", "md", "html"):
        if fmt in formats:
            plan[fmt] = base.with_name(f"{base.name}.{fmt}")
    for out in plan.values():
        refuse_input(out, "write_report")
    base.parent.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    # Every file is staged beside its place and all are moved in only when all are
    # complete, so an error leaves the previous report's files as they were.
    with replacing_all(list(plan.values())) as tmps:
        for (key, out), tmp in zip(plan.items(), tmps, strict=True):
            if key.startswith("csv:"):
                write_csv(tables[key[4:]], tmp)
            elif key == "xlsx":
                write_xlsx(tables, tmp)
            elif key == "md":
                tmp.write_bytes(markdown(tables, title).encode("utf-8"))
            else:
                tmp.write_bytes(html_page(tables, title, map, figure).encode("utf-8"))
            written[key] = out
    logger.info("write_report: %d tables -> %s", len(tables), [str(p) for p in written.values()])
    return written
