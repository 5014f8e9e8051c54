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


def column_unit(column: str) -> str | None:
    """The unit of a report column from its name (``"area_ha"`` -> ``"ha"``), or None."""
    for pattern, unit in UNITS:
        if re.search(pattern, str(column)):
            return unit
    return None


def with_units(column: str) -> str:
    """A header with its unit: ``"area_ha"`` -> ``"area_ha (ha)"``; unitless names unchanged."""
    unit = column_unit(column)
    return str(column) if unit is None else f"{column} ({unit})"
