"""The one time rule: which year's rail network an analysis counts."""

from __future__ import annotations

import datetime
import numbers

from nmgeo.errors import InputError


def current_year() -> int:
    """The current calendar year (local clock)."""
    return datetime.date.today().year


def network_year(as_of: int | None) -> int:
    """The year whose rail network an analysis counts: ``as_of``, or the current year.

    Every verb, report, map and CLI command of nmgeo counts the stations whose
    ``opening_year`` is at most this year (planned stations at their announced target
    year), so ``as_of=None`` always means "the network open this year".
    """
    if as_of is None:
        return current_year()
    if isinstance(as_of, bool) or not isinstance(as_of, numbers.Integral):
        msg = f"as_of must be an integer year such as 2030, not {as_of!r}"
        raise InputError(msg)
    return int(as_of)
