"""Units of report columns, read from their names (``area_ha`` is in hectares)."""

from __future__ import annotations

import re

# Column-name patterns and the unit shown in human-readable headers (first match wins).
UNITS: tuple[tuple[str, str], ...] = (
    (r"_ha$", "ha"),
    (r"_m2$", "m²"),
    (r"_m(_\d+)?$", "m"),  # also rail_distance_m_2030, distance_m_2 (k-th nearest)
    (r"(^|_)share(_within)?$", "0-1"),
    (r"^compactness$", "0-1"),
    (r"_deg$", "°"),
)


def column_unit(name: str) -> str | None:
    """The unit of a report column from its name (``"area_ha"`` -> ``"ha"``), or None.

    Parameters
    ----------
    name : str
        A column name.

    Returns
    -------
    str or None
        ``"ha"``, ``"m²"``, ``"m"``, ``"0-1"`` or ``"°"``; None for a unitless name.

    Examples
    --------
    >>> from nmgeo.report import column_unit
    >>> column_unit("area_ha"), column_unit("rail_distance_m_2034"), column_unit("n_lots")
    ('ha', 'm', None)
    """
    for pattern, unit in UNITS:
        if re.search(pattern, str(name)):
            return unit
    return None


def with_units(name: str) -> str:
    """A header with its unit: ``"area_ha"`` -> ``"area_ha (ha)"``; unitless names unchanged.

    Parameters
    ----------
    name : str
        A column name.

    Returns
    -------
    str
        The header shown in the XLSX, Markdown and HTML reports.

    Examples
    --------
    >>> from nmgeo.report import with_units
    >>> with_units("facility_share"), with_units("package_id")
    ('facility_share (0-1)', 'package_id')
    """
    unit = column_unit(name)
    return str(name) if unit is None else f"{name} ({unit})"
