"""Tables a planner hands over: land areas, package reports, and the files they go out in."""

from __future__ import annotations

import base64
import html
import io
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from geopandas.array import GeometryDtype

from nmgeo import reference
from nmgeo._crs import as_hk80
from nmgeo._limits import check_limit
from nmgeo._outputs import replacing_all
from nmgeo._sources import refuse_input
from nmgeo._time import network_year
from nmgeo._units import UNITS, column_unit, with_units  # noqa: F401 (re-exported)
from nmgeo.errors import InputError, SchemaError
from nmgeo.fabric import land_fabric
from nmgeo.packages import PackageResult
from nmgeo.proximity import bcp_proximity, catchment_share, proximity_timeline, rail_proximity
from nmgeo.raster import assign_terrain

__all__ = ["area_report", "column_unit", "package_report", "with_units", "write_report"]

logger = logging.getLogger("nmgeo.report")

NONE_LABEL = "(none)"


# The columns area_report adds; grouping by one of them would be ambiguous.
_AREA_COLUMNS = ("n_parcels", "area_m2", "area_ha", "share", "share_within")


def area_report(
    parcels: gpd.GeoDataFrame,
    by: str | Sequence[str] = ("major_zone", "land_use"),
    *,
    zones: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Land area by one or more attributes, in hectares and shares.

    Area is counted where it lies: on a land fabric (:func:`nmgeo.land_fabric`) every
    piece holds one zone and one tenure, so a lot straddling zones counts in each zone
    by its area there. Lots zoned by their dominant zone (:func:`nmgeo.assign_zoning`)
    count whole under that zone unless ``zones`` is given.

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
        A land fabric, parcels or any polygons. ``area_m2`` is used when present (as set
        by :func:`nmgeo.read_parcels`), else the planimetric area in EPSG:2326.
    by : str or sequence of str
        Columns to group by, outermost first. Missing values form their own
        group, labelled ``"(none)"`` (e.g. parcels outside every major zone).
    zones : geopandas.GeoDataFrame, optional
        OZP zones to cut the lots by first (their zone fields replace the lots'
        dominant-zone ones): only the lots' land is counted, each part in its zone.

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
    """
    keys = [by] if isinstance(by, str) else list(by)
    if zones is not None:
        lots = parcels.drop(
            columns=[
                c
                for c in ("zone_label", "land_use", "zoning_share", "n_zones")
                if c in parcels.columns
            ]
        )
        pieces = land_fabric(zones, lots)
        parcels = pieces[pieces["parcel_id"].notna()]
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


def package_report(
    result: PackageResult | gpd.GeoDataFrame,
    *,
    proximity: bool = True,
    as_of: int | None = None,
    years: Sequence[int] | None = None,
    dem: str | os.PathLike | None = None,
    catchment_radius: float = 500.0,
) -> pd.DataFrame:
    """One row per land disposal package: its land, shape, access and terrain.

    The table a planner circulates with a package map: what each package holds, how
    well it is placed for the boundary and for rail (today and as lines open) and,
    given a DEM, how much site formation it needs.

    Parameters
    ----------
    result : PackageResult or geopandas.GeoDataFrame
        The output of :func:`nmgeo.build_packages` (or its ``.packages`` frame).
    proximity : bool
        Add the boundary-crossing and rail columns (straight-line distances).
    as_of : int, optional
        Year of the rail network counted in ``rail_name``, ``rail_distance_m`` and
        ``rail_catchment_share``: every station whose ``opening_year`` is at most
        ``as_of`` (planned ones at their announced target year). ``None`` is the
        current calendar year, i.e. the stations open today: the same rule as
        :func:`nmgeo.rail_proximity`, :func:`nmgeo.package_map` and the CLI. The year
        counted is in ``attrs["as_of"]``.
    years : sequence of int, optional
        Years of the rail timeline columns (``rail_distance_m_<year>``); default the
        ``as_of`` year and every later year in which a station opens.
    dem : path, optional
        Elevation GeoTIFF in metres (e.g. ``nmgeo.load_sample().dem_path``); adds the
        terrain columns. Slope is computed with :func:`nmgeo.slope_raster` into a
        temporary file.
    catchment_radius : float
        Walking catchment around stations, metres, for ``rail_catchment_share``.

    Returns
    -------
    pandas.DataFrame
        One row per package, ordered by ``package_id``, no geometry. Columns:

        ``package_id``
            Package identifier (``"P001"`` is the largest).
        ``area_ha``
            Total land in the package, hectares: the disposal's size.
        ``commercial_ha``
            Commercial land, hectares: what the developer builds on for sale.
        ``facility_ha``
            Earmarked public-facility land, hectares, and one ``<class>_ha`` column per
            facility class (e.g. ``public_facility_ha``, ``open_space_ha``).
        ``facility_share``
            ``facility_ha / area_ha`` (0-1): the share of the disposal the developer
            must deliver as public facilities.
        ``n_sites``, ``n_pieces``, ``n_commercial``, ``n_facility``
            Zoned sites (zone parts, or lots for lot input) and pieces of land in the
            package; sites by role.
        ``government_ha``, ``government_share``
            Unleased Government land (no lot), hectares and share (0-1): land the
            Government can grant without resuming anything.
        ``leased_ha``, ``leased_share``
            Land of leased lots, hectares and share (0-1): land to resume or to have
            surrendered before the grant.
        ``unknown_tenure_ha``
            Land without a lot outside the lot data's extent, hectares.
        ``n_lots``, ``n_lots_cut``
            Leased lots holding land in the package, and those its boundary cuts:
            owners to deal with, and holdings a resumption would split.
        ``compactness``
            Polsby-Popper score (0-1) of the site outline: low values mean a
            straggling site that is hard to plan as one development.
        ``site_outline_ha``
            Area of the site with the roads between members closed, hectares: the land
            a master plan for the package covers.
        ``major_zone``
            The Northern Metropolis major zone holding most of the package.
        ``bcp_name``, ``bcp_distance_m``
            Nearest land boundary control point and the straight-line distance to it,
            metres (0 when it is inside the package): closeness to Shenzhen, which
            drives boundary commerce and logistics demand.
        ``rail_name``, ``rail_distance_m``
            Nearest station of the network counted (see ``as_of``) and the distance to
            it, metres: rail access, the precondition for high-density jobs and homes.
        ``rail_distance_m_<year>``
            Distance to the nearest station open by that year, metres (NaN when none
            is): how access improves as the Northern Link and other lines open.
        ``rail_walk_year``
            The first year a station within 800 m is open (its ``opening_year``; for a
            planned station its target year; missing if none ever is): when the site
            becomes walkable to rail (see :func:`nmgeo.rail_walk_year`).
        ``rail_catchment_share``
            Share (0-1) of the package's land within ``catchment_radius`` metres of a
            station counted: 1 means the whole site is within a walk of rail.
        ``mean_elevation_m``
            Mean ground elevation, metres above datum (with ``dem``).
        ``mean_slope_deg``
            Mean ground slope, degrees (with ``dem``): above about 5 degrees a site
            needs platforms and slope works, above 15-20 degrees it is hillside.

        Straight-line distances understate travel; see :func:`nmgeo.network_distance`.

    Raises
    ------
    InputError
        ``result`` is neither a PackageResult nor a GeoDataFrame, or no station is
        open by ``as_of``.
    """
    catchment_radius = check_limit(catchment_radius, "radius", what="catchment_radius")
    packages = _packages_frame(result)
    packages = as_hk80(packages, "packages")
    packages = packages.sort_values("package_id", kind="stable").reset_index(drop=True)
    table = pd.DataFrame(packages.drop(columns=packages.geometry.name))
    if proximity:
        shapes = packages[[packages.geometry.name]]
        bcp = bcp_proximity(shapes)
        table["bcp_name"] = bcp["bcp_name"].to_numpy()
        table["bcp_distance_m"] = bcp["bcp_distance_m"].to_numpy()
        year = network_year(as_of)
        rail = rail_proximity(shapes, as_of=year)
        table["rail_name"] = rail["rail_name"].to_numpy()
        table["rail_distance_m"] = rail["rail_distance_m"].to_numpy()
        timeline = proximity_timeline(shapes, years, as_of=year, wide=True)
        for col in timeline.columns:
            if col.startswith("rail_distance_m_"):
                table[col] = timeline[col].to_numpy()
        table["rail_walk_year"] = timeline["rail_walk_year"].array
        stations = reference.rail_stations(as_of=year)
        share = catchment_share(shapes, stations, catchment_radius)
        table["rail_catchment_share"] = share["catchment_share"].to_numpy()
        table.attrs["as_of"] = year
    if dem is not None:
        table = table.join(_terrain(packages, dem))
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


def _terrain(packages: gpd.GeoDataFrame, dem: str | os.PathLike) -> pd.DataFrame:
    """Mean elevation (m) and slope (degrees) of every package, indexed like it."""
    return pd.DataFrame(assign_terrain(packages, dem)[["mean_elevation_m", "mean_slope_deg"]])


# --------------------------------------------------------------------------- writing

FORMATS = ("csv", "xlsx", "md", "html")
SHEET_NAME_MAX = 31
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
_FILE_BAD = re.compile(r"[^\w.-]+")
# Characters Excel cannot store (XML 1.0 control characters other than tab/newline/CR).
_XML_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
FLOAT_DECIMALS = 3
# Text a spreadsheet may run as a formula when it starts with one of these (OWASP).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Most characters Excel holds in one cell.
XLSX_CELL_MAX = 32_767


def _is_text_column(column: pd.Series) -> bool:
    return column.dtype == object or pd.api.types.is_string_dtype(column.dtype)


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cannot run as a spreadsheet formula.

    Follows the OWASP advice on CSV injection: every text cell (columns of object,
    string or text-categorical dtype; other values untouched) and every column name
    that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
    leading apostrophe (``'``), so a spreadsheet shows it as text instead of
    evaluating it. Numbers are never changed, negative ones included. The number of
    cells changed is logged (logger ``nmgeo.report``, level INFO).

    Parameters
    ----------
    frame : pandas.DataFrame
        Any table; it is not modified.

    Returns
    -------
    pandas.DataFrame
        A copy with the same index, dtypes and shape; categorical text columns
        holding a changed value become object columns.

    Examples
    --------
    >>> import pandas as pd
    >>> from nmgeo.report import neutralise_formulas
    >>> frame = pd.DataFrame({"note": ["=1+1", "-x", "plain"], "n": [-5, 1, 2]})
    >>> safe = neutralise_formulas(frame)
    >>> safe["note"].tolist()
    ["'=1+1", "'-x", 'plain']
    >>> safe["n"].tolist()
    [-5, 1, 2]
    """
    out, cells, names = _rewrite_text(
        frame,
        lambda text: text.str.startswith(FORMULA_PREFIXES, na=False),
        lambda text: "'" + text,
    )
    if cells or names:
        logger.info(
            "neutralise_formulas: %d cell(s) and %d column name(s) starting with %s "
            "prefixed with an apostrophe",
            cells,
            names,
            "=, +, -, @, tab or CR",
        )
    return out


def _rewrite_text(
    frame: pd.DataFrame,
    hit: Callable[[pd.Series], pd.Series],
    fix: Callable[[pd.Series], pd.Series],
) -> tuple[pd.DataFrame, int, int]:
    """A copy with ``fix`` applied to the text cells and column names where ``hit`` holds,
    and how many cells and names changed. Non-text values are never touched."""
    out = frame.copy()
    cells = 0
    for i in range(out.shape[1]):  # a loop over columns; each column is one vectorised call
        column = out.iloc[:, i]
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.astype(object)
        if not _is_text_column(column):
            continue
        try:
            mask = hit(column).to_numpy(dtype=bool)
        except AttributeError:  # an object column holding no text at all (.str refuses it)
            continue
        if mask.any():
            column = column.copy()
            column[mask] = fix(column[mask].astype(str))
            out.isetitem(i, column)
            cells += int(mask.sum())
    names = pd.Series(list(out.columns), dtype=object)
    mask = hit(names).to_numpy(dtype=bool)
    if mask.any():
        names[mask] = fix(names[mask].astype(str))
        out.columns = names.tolist()
    return out, cells, int(mask.sum())


def _truncate_cells(frame: pd.DataFrame, sheet: str) -> pd.DataFrame:
    """Text longer than Excel holds in a cell, cut to XLSX_CELL_MAX with a warning."""
    frame, cells, names = _rewrite_text(
        frame,
        lambda text: text.str.len().fillna(0) > XLSX_CELL_MAX,
        lambda text: text.str[:XLSX_CELL_MAX],
    )
    cut = cells + names
    if cut:
        logger.warning(
            "write_report: %d cell(s) of sheet %r longer than Excel's %d characters "
            "truncated to %d characters in the XLSX (the CSV keeps the full text)",
            cut,
            sheet,
            XLSX_CELL_MAX,
            XLSX_CELL_MAX,
        )
    return frame


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
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        msg = f"unknown report format(s) {unknown}; choose from {list(FORMATS)}"
        raise InputError(msg)
    tables = _prepare_tables(frames)
    base = Path(path)
    if base.suffix.lower() in {f".{f}" for f in FORMATS}:
        base = base.with_suffix("")
    plan: dict[str, Path] = {}
    if "csv" in formats:
        names = _unique_names({k: _FILE_BAD.sub("_", k).strip("_") or "table" for k in tables})
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
                _write_xlsx(tables, tmp)
            elif key == "md":
                tmp.write_bytes(_markdown(tables, title).encode("utf-8"))
            else:
                tmp.write_bytes(_html(tables, title, map, figure).encode("utf-8"))
            written[key] = out
    logger.info("write_report: %d tables -> %s", len(tables), [str(p) for p in written.values()])
    return written


def write_csv(
    table: pd.DataFrame, path: str | os.PathLike, float_format: str | None = None
) -> None:
    """One table as RFC 4180 CSV, with spreadsheet formulas neutralised.

    Lines end in CRLF, so the csv module quotes any cell holding a line break, a bare
    carriage return included (with LF line ends it writes one unquoted, and readers
    split the row there).
    """
    neutralise_formulas(table).to_csv(
        path, index=False, float_format=float_format, lineterminator="\r\n"
    )


def _prepare_tables(frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    if not isinstance(frames, Mapping) or len(frames) == 0:
        msg = "frames must be a non-empty mapping {table name: DataFrame}"
        raise InputError(msg)
    tables: dict[str, pd.DataFrame] = {}
    for name, frame in frames.items():
        if not isinstance(frame, pd.DataFrame):
            msg = f"table {name!r} is a {type(frame).__name__}, not a DataFrame"
            raise InputError(msg)
        table = pd.DataFrame(frame)
        geo = [c for c in table.columns if isinstance(table[c].dtype, GeometryDtype)]
        table = table.drop(columns=geo)
        if any(n is not None for n in table.index.names):
            table = table.reset_index()
        table.columns = [str(c) for c in table.columns]
        tables[str(name)] = _plain_cells(table.reset_index(drop=True), str(name))
    return tables


def _plain_cells(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """Cells every report format can hold: zoned datetimes and bytes as text, logged.

    Excel has no time zones, and bytes are no text: a datetime with a zone is written
    as ISO 8601 text with its offset, bytes are decoded as UTF-8 (undecodable bytes as
    ``\\x..`` escapes).
    """
    for i, column in enumerate(table.columns):
        values = table.iloc[:, i]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            text = values.map(lambda v: v.isoformat() if pd.notna(v) else None)
            table.isetitem(i, text.astype(object))
            logger.info("write_report: table %r column %r (zoned datetimes) as text", name, column)
        elif values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) == "bytes":
            table.isetitem(
                i,
                values.map(
                    lambda v: v.decode("utf-8", "backslashreplace") if isinstance(v, bytes) else v
                ),
            )
            logger.warning(
                "write_report: table %r column %r holds bytes, written as text", name, column
            )
    return table


def _unique_names(names: dict[str, str]) -> dict[str, str]:
    seen: dict[str, str] = {}
    for key, safe in names.items():
        if safe.lower() in seen:
            msg = (
                f"tables {seen[safe.lower()]!r} and {key!r} get the same name {safe!r} in "
                "the report files; rename one"
            )
            raise InputError(msg)
        seen[safe.lower()] = key
    return names


def _write_xlsx(tables: dict[str, pd.DataFrame], out: Path) -> Path:
    sheets = _unique_names(
        {k: (_SHEET_BAD.sub("_", k).strip("'") or "table")[:SHEET_NAME_MAX] for k in tables}
    )
    from openpyxl.utils import get_column_letter

    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        for key, table in tables.items():
            frame = table.rename(columns=with_units)
            # XML has no place for control characters: not in cells, nor in headers.
            frame.columns = [_XML_BAD.sub("", str(c)) for c in frame.columns]
            for i in range(frame.shape[1]):
                if isinstance(frame.iloc[:, i].dtype, pd.CategoricalDtype):
                    frame.isetitem(i, frame.iloc[:, i].astype(object))
                if _is_text_column(frame.iloc[:, i]):
                    frame.isetitem(
                        i,
                        frame.iloc[:, i].map(
                            lambda v: _XML_BAD.sub("", v) if isinstance(v, str) else v
                        ),
                    )
            frame = _truncate_cells(neutralise_formulas(frame), sheets[key])
            frame.to_excel(writer, sheet_name=sheets[key], index=False)
            sheet = writer.sheets[sheets[key]]
            for row in sheet.iter_rows():
                for cell in row:
                    if cell.data_type == "f":  # text such as "=1+2" is data, not a formula
                        cell.data_type = "s"
            sheet.freeze_panes = "A2"
            for i, col in enumerate(frame.columns, start=1):
                width = max(len(col), 8) + 2
                sheet.column_dimensions[get_column_letter(i)].width = min(width, 40)
    return out


def _cell_text(value: Any) -> str:
    """A cell as display text: floats rounded, missing values empty."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return ""
        text = f"{value:.{FLOAT_DECIMALS}f}".rstrip("0").rstrip(".")
        return "0" if text in {"-0", ""} else text
    return str(value)


def _display(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {with_units(c): [_cell_text(v) for v in table[c].tolist()] for c in table.columns},
        dtype=object,
    )


def _markdown(tables: dict[str, pd.DataFrame], title: str) -> str:
    from tabulate import tabulate

    def md_cell(text: str) -> str:
        text = text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")
        # No link or image syntax: [x](javascript:...) would become a live link.
        text = text.replace("[", "\\[").replace("]", "\\]")
        # No raw HTML in the document: a renderer would run it.
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    parts = [f"# {md_cell(title)}", ""]
    for name, table in tables.items():
        shown = _display(table)
        align = ["right" if pd.api.types.is_numeric_dtype(table[c]) else "left" for c in table]
        rows = [[md_cell(v) for v in row] for row in shown.itertuples(index=False)]
        body = tabulate(
            rows,
            headers=[md_cell(c) for c in shown.columns],
            tablefmt="pipe",
            disable_numparse=True,
            colalign=align or None,
        )
        if len(table) == 0:
            body = (body + "\n\n" if len(table.columns) else "") + "*(no rows)*"
        parts += [f"## {md_cell(name)}", "", body, ""]
    return "\n".join(parts)


def _html(tables: dict[str, pd.DataFrame], title: str, map_: Any, figure: Any) -> str:
    esc = html.escape
    body = [f"<h1>{esc(title)}</h1>"]
    if figure is not None:
        buf = io.BytesIO()
        figure.savefig(buf, format="png", dpi=150, bbox_inches="tight")
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        body.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{esc(title)}: overview '
            'map" style="max-width:100%"></figure>'
        )
    if map_ is not None:
        page = map_.get_root().render()
        body.append(
            f'<iframe title="{esc(title)}: interactive map" srcdoc="{esc(page, quote=True)}" '
            'style="width:100%;height:600px;border:1px solid #ccc"></iframe>'
        )
    for name, table in tables.items():
        shown = _display(table)
        numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in table.columns]
        head = "".join(f"<th>{esc(c)}</th>" for c in shown.columns)
        rows = "\n".join(
            "<tr>"
            + "".join(
                f'<td class="num">{esc(v)}</td>' if num else f"<td>{esc(v)}</td>"
                for v, num in zip(row, numeric, strict=True)
            )
            + "</tr>"
            for row in shown.itertuples(index=False)
        )
        if len(table) == 0:
            rows = f'<tr><td colspan="{max(len(shown.columns), 1)}"><em>(no rows)</em></td></tr>'
        body.append(
            f'<section><h2>{esc(name)}</h2>\n<table class="report" data-table="{esc(name)}">'
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody></table></section>"
        )
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
        "table.report{border-collapse:collapse;font-size:0.9em;margin-bottom:2em}"
        "table.report th,table.report td{border:1px solid #ccc;padding:0.25em 0.5em}"
        "table.report th{background:#f2f2f2;text-align:left}"
        "td.num{text-align:right;font-variant-numeric:tabular-nums}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc(title)}</title>\n<style>{style}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
