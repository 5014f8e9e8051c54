"""Plausible ranges of the distances and areas nmgeo takes, each with its planning reason.

A value outside its plausible range but still meaningful is warned about; a value that
can only give a meaningless answer (a gap wider than any road reserve, a walking radius wider
than the whole Northern Metropolis) is refused.
"""

from __future__ import annotations

import logging
import math
import numbers
from dataclasses import dataclass

from nmgeo.errors import InputError

logger = logging.getLogger("nmgeo.limits")

# The Northern Metropolis (nmgeo.reference.nm_outline) covers about 27,600 ha and spans
# about 40 km east to west: a distance beyond that reaches everything in it.
NM_SPAN_M = 50_000.0
NM_AREA_HA = 28_000.0


@dataclass(frozen=True)
class Limit:
    """Where a distance (m) or area (m²) stops making planning sense."""

    unit: str
    warn_above: float | None
    refuse_above: float | None
    reason: str
    allow_inf: bool = False
    positive: bool = False  # must be > 0, not only >= 0


LIMITS: dict[str, Limit] = {
    "gap_tolerance": Limit(
        "m",
        None,
        200.0,
        "it is wider than any road reserve a package spans (trunk road reserves are up "
        "to about 100 m)",
    ),
    "walk_radius": Limit(
        "m",
        2_000.0,
        NM_SPAN_M,
        "walking catchments of a station are 500-800 m; 2 km is about 25 minutes on foot",
    ),
    "catchment_radius": Limit(
        "m",
        2_000.0,
        NM_SPAN_M,
        "station and control-point catchments are 500-800 m walks; 2 km is about 25 "
        "minutes on foot",
        positive=True,
    ),
    "max_snap": Limit(
        "m",
        2_000.0,
        None,
        "an access leg of more than 2 km to the nearest road is no road access; pass "
        "math.inf to attach everything on purpose",
        allow_inf=True,
    ),
    "resolution": Limit(
        "m",
        500.0,
        NM_SPAN_M,
        "a cell wider than 500 m is wider than most packages, so their distances and "
        "zonal statistics blur into their neighbours'",
        positive=True,
    ),
    "min_area_ha": Limit(
        "ha",
        NM_AREA_HA,
        None,
        "it is larger than the whole Northern Metropolis (about 27,600 ha), so no "
        "package can reach it",
    ),
    "max_area_ha": Limit(
        "ha",
        NM_AREA_HA,
        None,
        "it is larger than the whole Northern Metropolis (about 27,600 ha), so no "
        "package is ever split",
        positive=True,
    ),
}


def check_limit(value: object, name: str, *, what: str | None = None, warn: bool = True) -> float:
    """Return ``value`` as a float after checking it against ``LIMITS[name]``.

    Raises InputError for a non-number, NaN, a negative value (or zero where it must be
    positive), infinity where not allowed, or a value above the refusal bound; logs a
    warning above the warning bound. ``what`` names the parameter in messages (default
    ``name``), e.g. ``"catchment_radius"``. ``warn=False`` checks refusals only, for a
    caller (the CLI) whose verb checks the same value again later and warns then.
    """
    limit = LIMITS[name]
    label = what or name
    kind = "an area" if limit.unit in ("m²", "ha") else "a distance"
    bound = "> 0" if limit.positive else ">= 0"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        msg = f"{label} must be {kind} {bound} {limit.unit}, not {value!r}"
        raise InputError(msg)
    number = float(value)
    if number < 0 or (limit.positive and number == 0):
        msg = f"{label} must be {kind} {bound} {limit.unit}, not {value!r}"
        raise InputError(msg)
    if math.isinf(number):
        if limit.allow_inf:
            return number
        msg = f"{label} must be a finite number of {limit.unit}, not inf"
        raise InputError(msg)
    if limit.refuse_above is not None and number > limit.refuse_above:
        msg = (
            f"{label}={number:,g} {limit.unit} is refused: {limit.reason}; pass at most "
            f"{limit.refuse_above:,g} {limit.unit}"
        )
        raise InputError(msg)
    if warn and limit.warn_above is not None and number > limit.warn_above:
        logger.warning(
            "%s=%s %s is beyond the plausible %s %s: %s",
            label,
            f"{number:,g}",
            limit.unit,
            f"{limit.warn_above:,g}",
            limit.unit,
            limit.reason,
        )
    return number
