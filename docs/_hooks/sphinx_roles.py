"""MkDocs hook: Sphinx roles in docstrings as plain code; the glossaries rendered from data.

nmgeo's numpydoc docstrings use roles such as ``:func:`read_parcels``` and
``:class:`~nmgeo.packages.PackageResult```. mkdocstrings renders the role name as text
before the code span; this hook drops it, and shortens ``~a.b.c`` to ``c`` as Sphinx does.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

_ROLE = re.compile(
    r":(?:py:)?(?:func|class|data|meth|mod|attr|obj|exc|const):<code>(~?)([^<]*)</code>"
)


def _plain(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    if tilde:
        target = target.rsplit(".", 1)[-1]
    return f"<code>{target}</code>"


def on_page_content(html: str, **kwargs: object) -> str:
    """Replace ``:role:<code>target</code>`` with ``<code>target</code>``."""
    return _ROLE.sub(_plain, html)


# --------------------------------------------------------------------------- glossaries

_DATA = Path(__file__).resolve().parents[2] / "nmgeo" / "data"
_MARKER = re.compile(r"^<!-- glossary:(columns|parameters) -->$", re.MULTILINE)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _table(kind: str) -> str:
    with (_DATA / f"{kind}.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    if kind == "parameters":
        head = "| name | kind | unit | meaning |\n|---|---|---|---|\n"
        body = (
            f"| `{r['name']}` | {r['kind']} | {_cell(r['unit'])} | {_cell(r['meaning'])} |"
            for r in rows
        )
        return head + "\n".join(body)
    out = []
    for table in dict.fromkeys(r["table"] for r in rows):
        out.append(f"\n**{table}**\n\n| column | unit | added by | meaning |\n|---|---|---|---|")
        out.extend(
            f"| `{_cell(r['column'])}` | {_cell(r['unit'])} | `{r['added_by']}` | "
            f"{_cell(r['meaning'])} |"
            for r in rows
            if r["table"] == table
        )
    return "\n".join(out)


def on_page_markdown(markdown: str, **kwargs: object) -> str:
    """Render ``<!-- glossary:columns -->`` and ``<!-- glossary:parameters -->`` from the
    package's own tables, so the docs and ``nmgeo.glossary`` never differ."""
    return _MARKER.sub(lambda m: _table(m.group(1)), markdown)
