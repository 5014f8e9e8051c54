"""MkDocs hook: show Sphinx cross-reference roles in docstrings as plain code.

nmgeo's numpydoc docstrings use roles such as ``:func:`read_parcels``` and
``:class:`~nmgeo.packages.PackageResult```. mkdocstrings renders the role name as text
before the code span; this hook drops it, and shortens ``~a.b.c`` to ``c`` as Sphinx does.
"""

from __future__ import annotations

import re

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
