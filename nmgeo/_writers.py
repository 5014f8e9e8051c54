"""The file formats of a report: CSV, XLSX, Markdown and HTML, with their escaping."""

from __future__ import annotations

import base64
import html
import io
import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from geopandas.array import GeometryDtype

from nmgeo._units import with_units
from nmgeo.errors import InputError

logger = logging.getLogger("nmgeo.report")

FORMATS = ("csv", "xlsx", "md", "html")
SHEET_NAME_MAX = 31
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
FILE_BAD = re.compile(r"[^\w.-]+")
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
    >>> from nmgeo._writers import neutralise_formulas
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


def prepare_tables(frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
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


def unique_names(names: dict[str, str]) -> dict[str, str]:
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


def write_xlsx(tables: dict[str, pd.DataFrame], out: Path) -> Path:
    sheets = unique_names(
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


def markdown(tables: dict[str, pd.DataFrame], title: str) -> str:
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


def html_page(tables: dict[str, pd.DataFrame], title: str, map_: Any, figure: Any) -> str:
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
