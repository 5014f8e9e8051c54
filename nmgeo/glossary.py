"""What nmgeo's output columns and parameters mean: one table each, rendered in the docs."""

from __future__ import annotations

import functools
from importlib import resources

import pandas as pd

from nmgeo.errors import InputError

__all__ = ["columns", "parameters"]


@functools.cache
def _table(name: str) -> pd.DataFrame:
    with resources.files("nmgeo.data").joinpath(name).open("r", encoding="utf-8") as f:
        return pd.read_csv(f, dtype=str, keep_default_na=False)


def columns(table: str | None = None) -> pd.DataFrame:
    """The meaning and unit of every column nmgeo adds, by output table.

    Parameters
    ----------
    table : str, optional
        Keep one table: ``"parcels"``, ``"zones"``, ``"fabric"``, ``"packages"``,
        ``"members"``, ``"excluded"``, ``"pieces"``, ``"access"``, ``"terrain"`` or
        ``"area_report"``. Default: all of them.

    Returns
    -------
    pandas.DataFrame
        ``table``, ``column`` (``<class>`` and ``<year>`` stand for one column per
        facility class or year), ``unit`` (``ha``, ``m²``, ``m``, ``0-1`` for shares,
        ``count``, ``text`` …), ``added_by`` (the verb that adds it) and ``meaning``
        (what a planner reads from it).

    Examples
    --------
    >>> import nmgeo
    >>> g = nmgeo.glossary.columns("packages").set_index("column")
    >>> g.loc["n_lots_cut", "unit"]
    'count'
    """
    out = _table("columns.csv")
    if table is not None:
        known = sorted(out["table"].unique())
        if table not in known:
            msg = f"no column glossary for table {table!r}; pass one of {known}"
            raise InputError(msg)
        out = out[out["table"] == table]
    return out.reset_index(drop=True)


def parameters() -> pd.DataFrame:
    """The one name, unit and meaning of every parameter of nmgeo's public verbs.

    The same name means the same thing in every function, in the command line (as
    ``--name-with-dashes``), in a ``--config`` file and in the outputs' manifests.

    Returns
    -------
    pandas.DataFrame
        ``name``, ``kind`` (``data``: the frames or files a verb works on, positional;
        ``option``: keyword-only), ``unit`` and ``meaning``.

    Examples
    --------
    >>> import nmgeo
    >>> p = nmgeo.glossary.parameters().set_index("name")
    >>> p.loc["gap_tolerance", "unit"]
    'm'
    """
    return _table("parameters.csv").copy()
