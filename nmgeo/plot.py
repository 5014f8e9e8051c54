"""Static matplotlib maps of land disposal packages, for reports and papers."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from nmgeo import reference as ref
from nmgeo._crs import as_hk80
from nmgeo._units import with_units
from nmgeo.errors import InputError, SchemaError
from nmgeo.packages import PackageResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_packages"]

logger = logging.getLogger("nmgeo.plot")

# Fraction of the data extent added on every side, and the least margin (m).
PAD_FRACTION = 0.05
PAD_MIN_M = 200.0
# Target length of the scale bar as a fraction of the map width.
SCALE_FRACTION = 0.2
FIGURE_WIDTH = 9.0  # inches, of a new figure
NUMERIC_CMAP = "viridis"
CATEGORY_CMAP = "tab10"
EXCLUDED_COLOUR = "#b0b0b0"
PARCEL_COLOUR = "#9a9a9a"
MISSING_COLOUR = "#f0f0f0"


def plot_packages(
    result: PackageResult,
    *,
    ax: Axes | None = None,
    parcels: gpd.GeoDataFrame | None = None,
    color_by: str = "area_ha",
    reference: bool = True,
    title: str | None = None,
) -> Axes:
    """A static map of land disposal packages in HK1980 Grid.

    Packages are filled by ``color_by`` (a colour scale with a colour bar for numbers,
    one colour per value with a legend for text such as ``major_zone``); the candidate
    parcels left out of every package (too small, or facilities with no commercial
    land beside them) are grey, so the map shows what was *not* packaged too. With
    ``reference``, the Northern Metropolis outline, the four major zones, the land
    boundary control points and the rail stations (open filled, planned hollow) give
    context. A scale bar in kilometres, a north arrow (grid north, within half a degree
    of true north in Hong Kong) and axes in HK1980 Grid kilometres make it a map to
    print.

    Parameters
    ----------
    result : PackageResult
        The output of :func:`nmgeo.build_packages`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default a new figure 9 inches wide, shaped to the map.
    parcels : geopandas.GeoDataFrame, optional
        All parcels, drawn as faint outlines underneath (any CRS).
    color_by : str
        Column of ``result.packages`` to colour by, e.g. ``"area_ha"``,
        ``"facility_share"``, ``"compactness"``, ``"major_zone"``, or any column you
        add (such as ``rail_distance_m`` from :func:`nmgeo.rail_proximity`).
    reference : bool
        Draw the NM outline, major zones, control points and stations.
    title : str, optional
        Title; default states the number and total area of the packages. Pass ``""``
        for none.

    Returns
    -------
    matplotlib.axes.Axes
        The axes, limited to the packages and excluded candidates (plus a margin).

    Raises
    ------
    SchemaError
        ``color_by`` is not a column of the packages.
    InputError
        ``result`` is not a PackageResult.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import nmgeo
    >>> s = nmgeo.load_sample()
    >>> result = nmgeo.build_packages(s.zones, s.parcels)
    >>> ax = nmgeo.plot_packages(result, title="Packages")
    >>> ax.get_title()
    'Packages'
    """
    import matplotlib.pyplot as plt

    if not isinstance(result, PackageResult):
        msg = f"plot_packages needs the PackageResult of nmgeo.build_packages, not {result!r:.60}"
        raise InputError(msg)
    packages = as_hk80(result.packages, "packages")
    if color_by not in packages.columns or color_by == packages.geometry.name:
        available = sorted(str(c) for c in packages.columns if c != packages.geometry.name)
        msg = f"plot_packages: no package column {color_by!r} to colour by; available: {available}"
        raise SchemaError(msg)
    candidates = as_hk80(result.parcels, "candidate parcels")
    excluded = candidates[candidates["package_id"].isna()]
    bounds = _extent(packages, excluded, parcels)
    if ax is None:
        x0, y0, x1, y1 = bounds
        aspect = min(max((y1 - y0) / (x1 - x0), 0.4), 1.5)
        _, ax = plt.subplots(figsize=(FIGURE_WIDTH, FIGURE_WIDTH * aspect + 1.5))

    if parcels is not None:
        as_hk80(parcels, "parcels").plot(
            ax=ax, facecolor="none", edgecolor=PARCEL_COLOUR, linewidth=0.15, alpha=0.6, zorder=1
        )
    handles: list[Any] = []
    if reference:
        handles += _draw_reference(ax, bounds)
    if len(excluded):
        excluded.plot(ax=ax, color=EXCLUDED_COLOUR, edgecolor="none", zorder=2)
        handles.append(_patch(EXCLUDED_COLOUR, "excluded candidate"))
    handles = _draw_packages(ax, packages, color_by) + handles

    _frame(ax, bounds)
    _scale_bar(ax, bounds)
    _north_arrow(ax)
    if handles:
        ax.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.1),
            ncol=2,
            fontsize="small",
            frameon=False,
        )
    if title is None:
        total = float(packages["area_ha"].sum()) if "area_ha" in packages else math.nan
        title = f"{len(packages)} land disposal packages, {total:,.1f} ha; coloured by {color_by}"
    if title:
        ax.set_title(title)
    return ax


def _extent(*layers: gpd.GeoDataFrame | None) -> tuple[float, float, float, float]:
    """Bounds (m) of the non-empty layers with a margin; the NM outline if all are empty."""
    boxes = [as_hk80(g, "layer").total_bounds for g in layers if g is not None and len(g)]
    boxes = [b for b in boxes if np.isfinite(b).all()]
    if not boxes:
        boxes = [ref.nm_boundary().total_bounds]
    b = np.array(boxes)
    x0, y0, x1, y1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    pad = max(PAD_FRACTION * max(x1 - x0, y1 - y0), PAD_MIN_M)
    return x0 - pad, y0 - pad, x1 + pad, y1 + pad


def _patch(colour: str, label: str, **kwargs: Any) -> Any:
    from matplotlib.patches import Patch

    return Patch(facecolor=colour, label=label, **kwargs)


def _draw_packages(ax: Axes, packages: gpd.GeoDataFrame, color_by: str) -> list[Any]:
    """Fill packages by ``color_by``; return legend handles (none for a colour bar)."""
    import matplotlib as mpl

    values = packages[color_by]
    if len(packages) == 0:
        return []
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
        finite = numbers[np.isfinite(numbers)]
        lo, hi = (finite.min(), finite.max()) if len(finite) else (0.0, 1.0)
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        norm = mpl.colors.Normalize(vmin=lo, vmax=hi)
        cmap = mpl.colormaps[NUMERIC_CMAP]
        colours = [
            cmap(norm(v)) if np.isfinite(v) else mpl.colors.to_rgba(MISSING_COLOUR)
            for v in numbers
        ]
        packages.plot(ax=ax, color=colours, edgecolor="black", linewidth=0.4, zorder=3)
        mappable = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
        colorbar = ax.figure.colorbar(mappable, ax=ax, shrink=0.6, pad=0.02)
        colorbar.set_label(with_units(color_by))
        if len(finite) == len(numbers):
            return []
        return [_patch(MISSING_COLOUR, f"no {color_by}", edgecolor="black")]
    labels = values.astype(object).where(values.notna(), "(none)").astype(str)
    categories = sorted(labels.unique())
    cmap = mpl.colormaps[CATEGORY_CMAP]
    palette = {c: cmap(i % cmap.N) for i, c in enumerate(categories)}
    packages.plot(
        ax=ax, color=[palette[v] for v in labels], edgecolor="black", linewidth=0.4, zorder=3
    )
    return [_patch(mpl.colors.to_hex(palette[c]), f"{color_by}: {c}") for c in categories]


def _draw_reference(ax: Axes, bounds: tuple[float, float, float, float]) -> list[Any]:
    """NM outline, major zones, BCPs and stations; return their legend handles."""
    from matplotlib.lines import Line2D

    ref.major_zones().boundary.plot(
        ax=ax, color="#6a3d9a", linewidth=0.8, linestyle="--", zorder=4
    )
    ref.nm_boundary().boundary.plot(ax=ax, color="#333333", linewidth=1.2, zorder=4)
    x0, y0, x1, y1 = bounds
    bcps = ref.control_points().cx[x0:x1, y0:y1]
    stations = ref.rail_stations().cx[x0:x1, y0:y1]
    handles = [
        Line2D([], [], color="#333333", linewidth=1.2, label="NM outline (approx.)"),
        Line2D([], [], color="#6a3d9a", linewidth=0.8, linestyle="--", label="major zones"),
    ]
    is_open = (stations["status"] == "open").to_numpy()
    layers = (
        (bcps, "^", 60, "#e31a1c", "black", 0.5, "boundary control point"),
        (stations[is_open], "o", 30, "#1f78b4", "black", 0.5, "rail station (open)"),
        (stations[~is_open], "o", 30, "white", "#1f78b4", 1.2, "rail station (planned)"),
    )
    for points, marker, size, face, edge, width, label in layers:
        if len(points) == 0:
            continue
        ax.scatter(
            points.geometry.x,
            points.geometry.y,
            marker=marker,
            s=size,
            facecolors=face,
            edgecolors=edge,
            linewidths=width,
            zorder=6,
        )
        handles.append(
            Line2D(
                [],
                [],
                marker=marker,
                color="none",
                markerfacecolor=face,
                markeredgecolor=edge,
                markersize=math.sqrt(size) * 1.05,
                label=label,
            )
        )
    return handles


def _km_label(axis: str):
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: f"{v / 1000:g} km {axis}")


def _frame(ax: Axes, bounds: tuple[float, float, float, float]) -> None:
    """Limits, equal aspect and HK1980 Grid km tick labels."""
    from matplotlib.ticker import MaxNLocator

    x0, y0, x1, y1 = bounds
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    for axis, name in ((ax.xaxis, "E"), (ax.yaxis, "N")):
        axis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 5, 10]))
        axis.set_major_formatter(_km_label(name))
    ax.tick_params(labelsize="small")
    for label in ax.get_yticklabels():
        label.set_rotation(90)
        label.set_verticalalignment("center")
    ax.set_xlabel("HK1980 Grid (EPSG:2326)", fontsize="x-small", color="#555555")
    ax.set_ylabel("")


def nice_length(width: float, fraction: float = SCALE_FRACTION) -> float:
    """A round scale-bar length (1, 2 or 5 x 10^k m) near ``fraction`` of ``width`` metres."""
    target = max(width * fraction, 1e-9)
    power = 10 ** math.floor(math.log10(target))
    return max((m * power for m in (1, 2, 5) if m * power <= target), default=power)


def _scale_bar(ax: Axes, bounds: tuple[float, float, float, float]) -> None:
    from matplotlib.font_manager import FontProperties
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    x0, y0, x1, y1 = bounds
    length = nice_length(x1 - x0)
    bar = AnchoredSizeBar(
        ax.transData,
        length,
        f"{length / 1000:g} km",
        loc="lower right",
        pad=0.4,
        borderpad=0.6,
        sep=4,
        frameon=True,
        size_vertical=(y1 - y0) / 200,
        color="black",
        fontproperties=FontProperties(size="small"),
    )
    bar.patch.set_alpha(0.8)
    bar.set_gid("scale_bar")
    ax.add_artist(bar)


def _north_arrow(ax: Axes) -> None:
    ax.annotate(
        "N",
        xy=(0.95, 0.96),
        xytext=(0.95, 0.86),
        xycoords="axes fraction",
        textcoords="axes fraction",
        ha="center",
        va="center",
        fontsize="large",
        fontweight="bold",
        arrowprops={"facecolor": "black", "edgecolor": "black", "width": 3, "headwidth": 10},
        zorder=7,
        gid="north_arrow",
    )
