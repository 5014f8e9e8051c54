"""Interactive web maps (folium/Leaflet) of land disposal packages and zoning, offline too."""

from __future__ import annotations

import html
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import branca.colormap
import branca.element
import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.template import Template

from nmgeo import reference
from nmgeo._assets import bundle
from nmgeo._canvas import DECIMALS, _CanvasPolygons
from nmgeo._crs import as_hk80, hk80_to_wgs84
from nmgeo._gc import pauses_gc
from nmgeo._limits import check_limit
from nmgeo._outputs import write_atomic
from nmgeo._sources import refuse_input
from nmgeo._threads import together
from nmgeo._time import network_year
from nmgeo._vocabulary import UNKNOWN, UNZONED, land_use_colours
from nmgeo.errors import InputError, SchemaError
from nmgeo.packages import PackageResult
from nmgeo.scenarios import ScenarioResult

__all__ = ["package_map", "parcel_map", "robustness_map"]

logger = logging.getLogger("nmgeo.maps")

DEFAULT_TILES = "OpenStreetMap"
# Simplification tolerance (m, EPSG:2326) and lon/lat decimals (1e-6 deg ~ 0.1 m):
# finer than a screen pixel at the zoom levels a parcel map is read at.
SIMPLIFY_TOLERANCE = 0.5
# Simplification is worth its cost (about 2 us per coordinate) only on layers where it can
# drop many vertices: real cadastres, digitised with many near-collinear vertices (50-90 %
# of them), not plain quadrilateral lots or polygons cut from them (a few %).
MIN_REMOVABLE_SHARE = 0.25
# Features looked at to estimate that share (evenly spaced through the layer).
_SHARE_SAMPLE = 2_000
_PACKAGE_COLORS = ("#fff7bc", "#fec44f", "#d95f0e", "#7f2704")
_NUMERIC_COLORS = ("#f7fbff", "#6baed6", "#08306b")
_CATEGORY_COLORS = (
    "#1f78b4",
    "#33a02c",
    "#e31a1c",
    "#ff7f00",
    "#6a3d9a",
    "#b15928",
    "#a6cee3",
    "#b2df8a",
    "#fb9a99",
    "#fdbf6f",
    "#cab2d6",
    "#ffff99",
)
_ROLE_STYLE = {
    "commercial": {"color": "#b30000", "fillColor": "#e31a1c", "fillOpacity": 0.35},
    "facility": {"color": "#08519c", "fillColor": "#9ecae1", "fillOpacity": 0.45},
}
# Pieces of leased lots inside a package: a dark outline and a paler fill, so that the land
# to resume stands out from the Government land around it.
_LEASED_STYLE = {"color": "#000000", "weight": 1.6, "fillOpacity": 0.2}
_EXCLUDED_STYLE = {"color": "#737373", "fillColor": "#bdbdbd", "fillOpacity": 0.35}
_BASE_STYLE = {"color": "#969696", "fillColor": "#d9d9d9", "fillOpacity": 0.15}
_PACKAGE_FIELDS = {
    "package_id": "Package",
    "area_ha": "Area (ha)",
    "commercial_ha": "Commercial (ha)",
    "facility_ha": "Facilities (ha)",
    "facility_share": "Facility share",
    "government_share": "Government land share",
    "n_lots": "Leased lots",
    "compactness": "Compactness",
    "major_zone": "Major zone",
    "rail_walk_year": "Rail within a walk from",
    "gfa_m2": "GFA (m²)",
    "gfa_commercial_m2": "Commercial GFA (m²)",
    "gfa_domestic_m2": "Domestic GFA (m²)",
    "gfa_gic_m2": "G/IC GFA (m²)",
    "flats": "Flats",
    "jobs": "Jobs",
    "limits_share": "Land with limits",
    "open_space_balance_ha": "Open space balance (ha)",
}
# Popup figures shown as whole numbers (m² of floor space, flats, jobs, years).
_WHOLE_FIELDS = (
    "gfa_m2",
    "gfa_commercial_m2",
    "gfa_domestic_m2",
    "gfa_gic_m2",
    "flats",
    "jobs",
    "rail_walk_year",
)
_TOOLTIP_FIELDS = (
    "package_id",
    "area_ha",
    "facility_share",
    "government_share",
    "n_lots",
    "major_zone",
)


# --------------------------------------------------------------------------- helpers


def _text(value: Any, digits: int = 2) -> str:
    """A value as escaped HTML text for a tooltip or popup."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (float, np.floating)):
        return html.escape(f"{value:,.{digits}f}")
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return html.escape(f"{value:,}")
    return html.escape(str(value), quote=True)


def _texts(values: pd.Series, digits: int = 2) -> list[str]:
    """A column as escaped tooltip texts; each distinct value is formatted once."""
    if pd.api.types.is_float_dtype(values.dtype):
        # Digits, commas, dots and signs need no escaping.
        return ["" if np.isnan(v) else f"{v:,.{digits}f}" for v in values.to_numpy(dtype=float)]
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    texts = np.array([_text(u, digits) for u in uniques] + [""], dtype=object)
    return texts[codes].tolist()


def _light_layer(
    gdf: gpd.GeoDataFrame,
    columns: Sequence[str] = (),
    *,
    tolerance: float = SIMPLIFY_TOLERANCE,
    decimals: int = DECIMALS,
) -> gpd.GeoDataFrame:
    """A polygon layer made light for a web map: simplified, in EPSG:4326, rounded.

    The polygons are simplified as a coverage (``shapely.coverage_simplify``, tolerance
    in metres of EPSG:2326), so the edge two lots share is simplified once and stays
    shared; then transformed to EPSG:4326 and rounded to ``decimals`` decimal degrees
    (6 = about 0.1 m). Rounding is the same for the two copies of a shared vertex, so it
    does not open gaps. Layers where simplification could remove less than
    ``MIN_REMOVABLE_SHARE`` of the vertices (see :func:`_removable_share`: plain
    quadrilateral lots, pieces cut from them) are not simplified: there is little to
    gain. Rows with null or empty geometry are dropped; only ``columns`` are kept.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Polygons with a CRS.
    columns : sequence of str
        Attribute columns to keep.
    tolerance : float
        Simplification tolerance in metres; 0 skips simplification.
    decimals : int
        Decimal places of longitude and latitude.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, with ``columns`` and geometry, original index.
    """
    gdf = as_hk80(gdf, "map layer")
    keep = ~(gdf.geometry.isna() | gdf.geometry.is_empty)
    if not keep.all():
        logger.warning(
            "map layer: %d of %d rows have no geometry (null or empty) and are not drawn",
            int((~keep).sum()),
            len(gdf),
        )
    gdf = gdf.loc[keep, [*columns, gdf.geometry.name]]
    geoms = gdf.geometry.to_numpy()
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
    if tolerance > 0 and _removable_share(geoms[polygonal], tolerance) >= MIN_REMOVABLE_SHARE:
        try:
            geoms = geoms.copy()
            geoms[polygonal] = shapely.coverage_simplify(geoms[polygonal], tolerance)
        except shapely.errors.GEOSException as exc:
            logger.info("map layer is not a clean coverage (%s); simplifying lot by lot", exc)
            geoms = shapely.simplify(gdf.geometry.to_numpy(), tolerance, preserve_topology=True)
    rounded = shapely.transform(hk80_to_wgs84(geoms), lambda c: np.round(c, decimals))
    out = gpd.GeoDataFrame(gdf.drop(columns=gdf.geometry.name), geometry=rounded, crs="EPSG:4326")
    empty = out.geometry.is_empty | out.geometry.isna()
    if empty.any():
        logger.warning("map layer: %d rows vanish when rounded for the map", int(empty.sum()))
    return out.loc[~empty]


def _removable_share(polygons: np.ndarray, tolerance: float) -> float:
    """Estimated share of the vertices a simplification to ``tolerance`` (m) would remove.

    Counts the vertices whose triangle with their two neighbours on the ring has an area
    below ``tolerance**2`` (what an area-based simplification such as GEOS's coverage
    simplifier removes first), on at most ``_SHARE_SAMPLE`` features evenly spaced
    through the layer. The first vertex of each ring is not counted.
    """
    step = max(1, -(-len(polygons) // _SHARE_SAMPLE))
    rings = shapely.get_rings(shapely.get_parts(polygons[::step]))
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    if len(xy) < 3:
        return 0.0
    a, b, c = xy[:-2], xy[1:-1], xy[2:]
    twice_area = np.abs(
        (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
    )
    in_ring = ring[:-2] == ring[2:]  # a, b and c on one ring
    if not in_ring.any():
        return 0.0
    return float(np.mean(twice_area[in_ring] < 2 * tolerance**2))


class _Ready(MacroElement):
    """Registers the map and named layers on ``window.nmgeo`` and marks the first render."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        window.nmgeo = window.nmgeo || {layers: {}};
        window.nmgeo.map = {{ this._parent.get_name() }};
        {% for key, var in this.layers.items() %}
        window.nmgeo.layers[{{ key|tojson }}] = {{ var }};
        {% endfor %}
        window.nmgeo.built = performance.now();
        requestAnimationFrame(function () { requestAnimationFrame(function () {
            window.nmgeo.rendered = performance.now();
        }); });
        {% endmacro %}
        """
    )

    def __init__(self, layers: dict[str, str]) -> None:
        super().__init__()
        self._name = "NmgeoReady"
        self.layers = layers


class _Legend(MacroElement):
    """A map legend (bottom right): a colour ramp with its range, or colour swatches."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>
        .nmgeo-legend {background: rgba(255,255,255,0.9); padding: 6px 8px; font: 12px/1.3
            sans-serif; border-radius: 4px; box-shadow: 0 0 4px rgba(0,0,0,0.3);}
        .nmgeo-legend i {display: inline-block; width: 12px; height: 12px; margin-right: 4px;
            vertical-align: middle; border: 1px solid #777;}
        .nmgeo-legend .ramp {width: 180px; height: 10px; border: 1px solid #777;}
        .nmgeo-legend .ticks {display: flex; justify-content: space-between;}
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function () {
            var legend = L.control({position: "bottomright"});
            legend.onAdd = function () {
                var div = L.DomUtil.create("div", "nmgeo-legend");
                div.innerHTML = {{ this.html|tojson }};
                return div;
            };
            legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, legend_html: str) -> None:
        super().__init__()
        self._name = "NmgeoLegend"
        self.html = legend_html


def _ramp_legend(cmap: branca.colormap.LinearColormap, caption: str) -> _Legend:
    colors = [cmap.rgb_hex_str(i / 10 * (cmap.vmax - cmap.vmin) + cmap.vmin) for i in range(11)]
    ramp = ", ".join(colors)
    return _Legend(
        f"<b>{html.escape(caption)}</b>"
        f'<div class="ramp" style="background: linear-gradient(to right, {ramp})"></div>'
        f'<div class="ticks"><span>{_text(float(cmap.vmin))}</span>'
        f"<span>{_text(float(cmap.vmax))}</span></div>"
    )


def _note(text: str) -> _Legend:
    """A boxed message on the map (e.g. why no package qualified), HTML-escaped."""
    return _Legend(f'<b class="nmgeo-note">{html.escape(text)}</b>')


def _nm_bounds() -> np.ndarray:
    """WGS84 bounds of the NM outline: the view of a map with nothing else to show."""
    return np.asarray(reference.nm_boundary().to_crs("EPSG:4326").total_bounds)


def _swatch_legend(entries: list[tuple[str, str]], caption: str) -> _Legend:
    rows = "".join(
        f'<div><i style="background:{colour}"></i>{html.escape(label)}</div>'
        for colour, label in entries
    )
    return _Legend(f"<b>{html.escape(caption)}</b>{rows}")


def _numeric_colormap(
    values: pd.Series, colors: Sequence[str], caption: str
) -> branca.colormap.LinearColormap:
    finite = values.to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    if vmax <= vmin:
        vmax = vmin + 1.0
    return branca.colormap.LinearColormap(list(colors), vmin=vmin, vmax=vmax, caption=caption)


def _colour_codes(
    values: pd.Series, cmap: branca.colormap.LinearColormap, base: dict[str, Any]
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Per-feature style index and the distinct styles, for numeric colouring."""
    nums = values.to_numpy(dtype=float)
    hexes = [cmap.rgb_hex_str(v) if np.isfinite(v) else "#cccccc" for v in nums]
    codes, uniques = pd.factorize(pd.Series(hexes, dtype=object))
    return codes, [{**base, "fillColor": str(h)} for h in uniques]


class _RawElement(branca.element.Element):
    """Rendered text added to the page as it is, never parsed again as a template."""

    def __init__(self, template: str | None = None, template_name: str | None = None) -> None:
        super().__init__()
        self._text = template or ""

    def render(self, **kwargs: Any) -> str:
        return self._text


_RENDER_LOCK = threading.Lock()


class _Figure(branca.element.Figure):
    """The page of an nmgeo map: data text in it is never run as a Jinja template.

    branca renders each element's template, then wraps the resulting HTML and script in
    a new ``Element`` that parses them as a template once more: a ``{{ ... }}`` or
    ``{% ... %}`` in a lot id or zone label would be evaluated (Python code, or a
    ``<script>`` of its making), and an unbalanced ``{%`` would fail the render. While
    this page renders, those wrappers keep the text as it is.
    """

    def render(self, **kwargs: Any) -> str:
        with _RENDER_LOCK:
            plain = branca.element.Element
            branca.element.Element = _RawElement
            try:
                return super().render(**kwargs)
            finally:
                branca.element.Element = plain


class Map(folium.Map):
    """A :class:`folium.Map` that renders its data as data and saves its page whole.

    - Text in the data is never evaluated as a template (see :class:`_Figure`).
    - folium opens the file before it renders, so a failed render, a full disk or a kill
      leaves an empty or truncated page where the previous one was. Here the page goes
      to a temporary file beside the target, moved into place only when complete.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _Figure().add_child(self)

    def save(self, outfile: Any, close_file: bool = True, **kwargs: Any) -> None:
        """Write the page to ``outfile`` (a path, or an open binary file)."""
        if not isinstance(outfile, (str, bytes, os.PathLike)):
            super().save(outfile, close_file=close_file, **kwargs)
            return
        target = Path(os.fsdecode(outfile))
        refuse_input(target, "Map.save")
        page = self.get_root().render(**kwargs)
        write_atomic(target, page)


def _new_map(tiles: str | None, *, name: str = "Base map") -> folium.Map:
    m = Map(tiles=None, prefer_canvas=True, control_scale=True)
    # Keep Leaflet only: no jQuery, Bootstrap, awesome-markers or Font Awesome.
    m.default_js = [(n, u) for n, u in m.default_js if n == "leaflet"]
    m.default_css = [(n, u) for n, u in m.default_css if n == "leaflet_css"]
    if tiles is not None:
        folium.TileLayer(tiles, name=name, control=True).add_to(m)
    return m


def _finish(
    m: folium.Map,
    bounds: np.ndarray,
    layers: dict[str, str],
    *,
    offline: bool,
    assets: str | os.PathLike | None,
) -> folium.Map:
    folium.plugins.Fullscreen(position="topleft").add_to(m)
    folium.plugins.MeasureControl(
        position="topleft",
        primary_length_unit="meters",
        secondary_length_unit="kilometers",
        primary_area_unit="hectares",
        secondary_area_unit="sqmeters",
    ).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    if np.all(np.isfinite(bounds)):
        m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    _Ready(layers).add_to(m)
    bundle(m, offline=offline, assets=assets)
    return m


def _check_column(gdf: pd.DataFrame, column: str, what: str) -> None:
    geometry = getattr(gdf, "_geometry_column_name", "geometry")
    if column not in gdf.columns or column == geometry:
        available = ", ".join(str(c) for c in gdf.columns if c != geometry)
        msg = f"color_by={column!r} is not an attribute of the {what}; choose one of: {available}"
        raise SchemaError(msg)


def _number_columns(frame: pd.DataFrame) -> list[str]:
    """The columns of ``frame`` a map can colour on a ramp: numbers, not flags or geometry."""
    geometry = getattr(frame, "_geometry_column_name", None)
    return [
        str(c)
        for c in frame.columns
        if c != geometry
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]


def _tooltip_table(gdf: pd.DataFrame, fields: dict[str, str]) -> dict[str, list[str]]:
    return {label: _texts(gdf[col]) for col, label in fields.items() if col in gdf.columns}


# --------------------------------------------------------------------------- package map


def _packages_layer(
    packages: gpd.GeoDataFrame, color_by: str
) -> tuple[folium.GeoJson, branca.colormap.LinearColormap]:
    cmap = _numeric_colormap(
        packages[color_by], _PACKAGE_COLORS, _PACKAGE_FIELDS.get(color_by, color_by)
    )
    cols = [c for c in _PACKAGE_FIELDS if c in packages.columns]
    light = _light_layer(packages, list(dict.fromkeys([*cols, color_by])))
    props = pd.DataFrame(index=light.index)
    for col in cols:
        digits = 3 if col in ("facility_share", "compactness") else 2
        if col == "rail_walk_year":  # a year, not a count: no thousands separator
            props[col] = light[col].astype("Int64").astype("string").fillna("").tolist()
        else:
            props[col] = _texts(light[col], 0 if col in _WHOLE_FIELDS else digits)
    fills = [
        cmap.rgb_hex_str(v) if np.isfinite(v) else "#cccccc"
        for v in light[color_by].astype(float).to_numpy()
    ]
    layer = _figure_layer(
        light,
        props,
        _PACKAGE_FIELDS,
        fills,
        name="Land disposal packages",
        tooltip=[c for c in _TOOLTIP_FIELDS if c in cols],
        fill_opacity=0.55,
        max_width=320,
    )
    return layer, cmap


def _figure_layer(
    light: gpd.GeoDataFrame,
    texts: pd.DataFrame,
    fields: dict[str, str],
    fills: list[str],
    *,
    name: str,
    tooltip: Sequence[str],
    fill_opacity: float,
    max_width: int,
) -> folium.GeoJson:
    """Polygons filled one colour each, with a tooltip of some of their figures and a
    popup table of all (``texts``: the escaped figures, one column per field shown)."""
    props = texts.copy()
    props["_fill"] = fills
    rows = "".join(
        f"<tr><th style='text-align:left;padding-right:8px'>{html.escape(label)}</th>"
        f"<td>{{{col}}}</td></tr>"
        for col, label in fields.items()
        if col in texts.columns
    )
    props["_popup"] = [
        "<table>" + rows.format(**rec) + "</table>" for rec in texts.to_dict("records")
    ]
    data = gpd.GeoDataFrame(props, geometry=light.geometry, crs="EPSG:4326")
    # A dict, not a JSON text: folium would parse the text back into the same dict.
    return folium.GeoJson(
        data.to_geo_dict(drop_id=True),
        name=name,
        style_function=lambda f: {
            "fillColor": f["properties"]["_fill"],
            "color": "#4d4d4d",
            "weight": 1.5,
            "fillOpacity": fill_opacity,
        },
        highlight_function=lambda f: {"weight": 3, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(
            fields=list(tooltip), aliases=[fields[c] for c in tooltip], sticky=True
        ),
        popup=folium.GeoJsonPopup(fields=["_popup"], labels=False, max_width=max_width),
    )


def _role_layers(result: PackageResult) -> list[_CanvasPolygons]:
    pieces = result.pieces
    need = ["piece_id", "parcel_id", "role", "tenure", "land_use", "zone_label", "area_m2"]
    need += ["package_id", "reason"]
    cols = [c for c in need if c in pieces.columns]
    tip = {
        "piece_id": "Piece",
        "parcel_id": "Lot",
        "tenure": "Tenure",
        "role": "Role",
        "zone_label": "Zone",
        "land_use": "Land use",
        "package_id": "Package",
        "area_m2": "Area (m²)",
        "reason": "Excluded because",
    }
    tip = {k: v for k, v in tip.items() if k in cols}
    # The tooltip texts (Python string work) are made while GEOS simplifies the geometry.
    rows = pd.Series(np.arange(len(pieces)), index=pieces.index, name="_row")
    light, texts = together(
        lambda: _light_layer(pieces.assign(_row=rows.to_numpy()), [*cols, "_row"]),
        lambda: {col: np.array(_texts(pieces[col]), dtype=object) for col in tip},
    )
    member = light["package_id"].notna()
    out = []
    members = light.loc[member]
    roles = members["role"].astype(str).where(members["role"].isin(list(_ROLE_STYLE)), "facility")
    leased = members["tenure"].astype(str).eq("leased").to_numpy()
    # Classes: commercial / facility x land without a lot / leased lot.
    codes = 2 * (roles == "facility").to_numpy().astype(np.int64) + leased.astype(np.int64)
    styles = []
    for role in ("commercial", "facility"):
        styles.append({**_ROLE_STYLE[role], "weight": 1})
        styles.append({**_ROLE_STYLE[role], **_LEASED_STYLE})

    def tooltip(layer: gpd.GeoDataFrame, fields: list[str]) -> dict[str, list[str]]:
        at = layer["_row"].to_numpy()
        return {tip[col]: texts[col][at].tolist() for col in fields}

    out.append(
        _CanvasPolygons(
            members,
            key="members",
            name="Package land (commercial / facility; outlined: leased lots)",
            classes=codes,
            styles=styles,
            tooltip=tooltip(members, [c for c in tip if c != "reason"]),
        )
    )
    excluded = light.loc[~member]
    out.append(
        _CanvasPolygons(
            excluded,
            key="excluded",
            name="Excluded candidate land",
            classes=np.zeros(len(excluded), dtype=np.int64),
            styles=[{**_EXCLUDED_STYLE, "weight": 1, "dashArray": "3 3"}],
            tooltip=tooltip(excluded, [c for c in tip if c != "package_id"]),
        )
    )
    return out


def _reference_layers(m: folium.Map, as_of: int | None, catchment_radius: float | None) -> None:
    """Major zones, control points and stations (with catchments when given a radius)."""
    _major_zone_layer(m)
    _control_point_layer(m)
    _station_layers(m, network_year(as_of), catchment_radius)


def _major_zone_layer(m: folium.Map) -> None:
    zones = reference.major_zones().to_crs("EPSG:4326")
    zone_props = pd.DataFrame(
        {
            "short_name": _texts(zones["short_name"]),
            "name": _texts(zones["name"]),
        },
        index=zones.index,
    )
    folium.GeoJson(
        gpd.GeoDataFrame(zone_props, geometry=zones.geometry, crs="EPSG:4326").to_geo_dict(
            drop_id=True
        ),
        name="NM major zones",
        style_function=lambda f: {
            "color": "#54278f",
            "weight": 2,
            "fill": False,
            "dashArray": "6 4",
        },
        tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
        show=True,
    ).add_to(m)


def _control_point_layer(m: folium.Map) -> None:
    bcps = folium.FeatureGroup(name="Boundary control points", show=True)
    for row in reference.control_points().to_crs("EPSG:4326").itertuples():
        folium.CircleMarker(
            [row.geometry.y, row.geometry.x],
            radius=7,
            color="#000000",
            weight=2,
            fill=True,
            fill_color="#ffd92f",
            fill_opacity=1.0,
            tooltip=folium.Tooltip(f"<b>{_text(row.name)}</b><br>{_text(row.mode)}"),
        ).add_to(bcps)
    bcps.add_to(m)


def _station_layers(m: folium.Map, year: int, catchment_radius: float | None) -> None:
    stations = reference.rail_stations().to_crs("EPSG:4326")
    rail = folium.FeatureGroup(name=f"Rail stations (network of {year})")
    ring = folium.FeatureGroup(name=f"Rail catchments ({catchment_radius or 0:.0f} m)", show=True)
    for row in stations.itertuples():
        where = [row.geometry.y, row.geometry.x]
        opens = int(row.opening_year)
        planned = opens > year  # not yet counted in the network of `year`
        label = f"<b>{_text(row.name)}</b><br>{_text(row.line)}"
        if row.status == "planned":
            label += f"<br>planned, target {opens}"
            label += f" (not counted in {year})" if planned else f" (counted in {year})"
        else:
            label += f"<br>open since {opens}"
        folium.CircleMarker(
            where,
            radius=6,
            color="#084594",
            weight=2,
            fill=True,
            fill_color="#ffffff" if planned else "#2171b5",
            fill_opacity=1.0,
            dash_array="2 2" if planned else None,
            tooltip=folium.Tooltip(label),
        ).add_to(rail)
        if planned:
            _target_year_label(where, row.name, opens).add_to(rail)
        if catchment_radius is not None:
            folium.Circle(
                where,
                radius=catchment_radius,
                color="#2171b5",
                weight=1,
                fill=True,
                fill_opacity=0.05,
                dash_array="4 4" if planned else None,
            ).add_to(ring)
    rail.add_to(m)
    if catchment_radius is not None:
        ring.add_to(m)


def _target_year_label(where: list[float], name: str, opens: int) -> folium.Marker:
    return folium.Marker(
        where,
        icon=folium.DivIcon(
            html=(
                "<div style='font:11px sans-serif;color:#084594;white-space:nowrap;"
                f"margin:-6px 0 0 9px'>{_text(name)} ({opens})</div>"
            ),
            icon_size=(0, 0),
        ),
    )


def _package_table(result: PackageResult, table: pd.DataFrame | None) -> gpd.GeoDataFrame:
    """``result.packages`` with the further columns of ``table`` (matched on package_id)."""
    packages = result.packages
    if table is None:
        return packages
    if "package_id" not in table:
        msg = (
            "packages= has no 'package_id' column; pass the table of "
            "nmgeo.capacity.package_capacity or nmgeo.assign_access for this result"
        )
        raise SchemaError(msg)
    ids = pd.Index(table["package_id"].to_numpy())
    if ids.has_duplicates:
        msg = f"packages= repeats package_id {ids[ids.duplicated()][0]!r}; give one row each"
        raise SchemaError(msg)
    at = ids.get_indexer(packages["package_id"].to_numpy())
    if (at < 0).any():
        missing = packages["package_id"].to_numpy()[at < 0]
        msg = (
            f"packages= has no row for {len(missing)} packages of the result (e.g. "
            f"{missing[0]!r}); pass the table computed from this result"
        )
        raise SchemaError(msg)
    geometry = getattr(table, "_geometry_column_name", None)
    extra = [c for c in table.columns if c not in packages.columns and c != geometry]
    out = packages.copy()
    for column in extra:
        out[column] = table[column].iloc[at].to_numpy()
    return out


@pauses_gc
def package_map(
    result: PackageResult,
    *,
    packages: pd.DataFrame | None = None,
    parcels: gpd.GeoDataFrame | None = None,
    color_by: str = "area_ha",
    reference: bool = True,
    as_of: int | None = None,
    catchments: bool = False,
    catchment_radius: float = 500.0,
    tiles: str | None = DEFAULT_TILES,
    offline: bool = False,
    assets: str | os.PathLike | None = None,
) -> folium.Map:
    """An interactive map of land disposal packages for review and briefing.

    Layers (each in the layer control): an optional faint base layer of all lots
    (``parcels``); the packages coloured by ``color_by`` on a linear colour ramp with a
    legend, with tooltips (package id, area, facility share, Government land share,
    leased lots, major zone) and a popup table of the package's figures; the package land
    by role (commercial red, facility blue) and tenure (unleased Government land filled,
    pieces of leased lots outlined in black with a paler fill: the land to resume); the
    candidate land left out (grey, dashed, with the reason);
    and, with ``reference``, the NM major-zone outlines, the boundary control points and
    the rail stations (in the network of ``as_of``: filled; later: hollow and labelled
    with the target year),
    optionally with station catchment circles. The view is fitted to the packages.

    Every attribute text is HTML-escaped before it reaches the page. Polygon layers are
    simplified as a coverage (0.5 m) and rounded to 1e-6 degrees, and the parcel layers
    are embedded in a compact encoding and drawn on a canvas, so pages with tens of
    thousands of lots stay small and fast. The page loads only Leaflet and the
    Fullscreen and Measure plugins; with ``offline=True`` these are inlined from a local
    npm folder and the page needs no CDN (tiles still come from ``tiles``: pass
    ``tiles=None`` or a local tile server on a closed network).

    Parameters
    ----------
    result : PackageResult
        From :func:`nmgeo.build_packages`.
    packages : pandas.DataFrame, optional
        The packages with more columns, keyed by ``package_id``: the table of
        :func:`nmgeo.capacity.package_capacity` or :func:`nmgeo.assign_access`. Its
        columns can colour the map, and the popups show the floor space (GFA by use),
        flats, jobs, share of land with limits, open-space balance and the year rail
        comes within a walk when it has them. Default: ``result.packages``.
    parcels : geopandas.GeoDataFrame, optional
        All lots, drawn faintly beneath the packages.
    color_by : str
        Numeric column of the packages to colour them by, e.g. ``"area_ha"``,
        ``"facility_share"``, ``"compactness"``, or with ``packages`` from
        :func:`nmgeo.capacity.package_capacity`, ``"gfa_m2"``, ``"flats"``, ``"jobs"``.
    reference : bool
        Add major zones, control points and rail stations.
    as_of : int, optional
        Year of the rail network: stations whose ``opening_year`` is at most ``as_of``
        (planned ones at their announced target year) are drawn filled as part of the
        network, later ones hollow and labelled with their target year. ``None`` is the
        current calendar year, as in :func:`nmgeo.rail_proximity` and
        :func:`nmgeo.package_report`.
    catchments : bool
        Draw a circle of ``catchment_radius`` around each station shown.
    catchment_radius : float
        Station catchment radius, metres (as in :func:`nmgeo.assign_access`).
    tiles : str or None
        A folium tile name or URL template; ``None`` for no base map.
    offline : bool
        Inline all JavaScript and CSS from local files (see ``assets``).
    assets : str or path-like, optional
        The ``node_modules`` folder with ``leaflet``, ``leaflet.fullscreen`` and
        ``leaflet-measure`` (``.ci/assets.sh``); defaults to
        :data:`nmgeo.settings.assets`.

    Returns
    -------
    folium.Map
        Save it with ``.save("map.html")``. The page sets ``window.nmgeo.layers``
        (``packages``, ``members``, ``excluded``, ``parcels``) for scripting.

    Raises
    ------
    SchemaError
        If ``color_by`` is not a numeric column of the packages, or ``packages`` lacks
        a package of ``result``.
    InputError
        If ``offline`` and the assets are missing.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nmgeo
    >>> s = nmgeo.load_sample()
    >>> result = nmgeo.build_packages(s.zones, s.parcels)
    >>> m = nmgeo.package_map(result, as_of=2034, catchments=True, tiles=None)
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "packages.html"
    >>> m.save(out)
    >>> "window.nmgeo" in out.read_text(encoding="utf-8")
    True

    Coloured by the floor space the development limits allow, with GFA, flats and jobs
    in the popups:

    >>> from nmgeo.capacity import assign_capacity, package_capacity, read_limits
    >>> fabric = nmgeo.land_fabric(s.zones, s.parcels)
    >>> result = nmgeo.build_packages(fabric)
    >>> sites = package_capacity(result, assign_capacity(fabric, read_limits(s.limits_path)))
    >>> m = nmgeo.package_map(result, packages=sites, color_by="gfa_m2", tiles=None)
    >>> "Commercial GFA" in m.get_root().render()
    True
    """
    if not isinstance(result, PackageResult):
        msg = f"package_map needs a PackageResult from build_packages, not {type(result).__name__}"
        raise InputError(msg)
    packages = _package_table(result, packages)
    numbers = _number_columns(packages)
    if color_by not in numbers:
        msg = (
            f"color_by={color_by!r} is not a number column of the packages; choose one of: "
            + ", ".join(numbers)
        )
        raise SchemaError(msg)
    m = _new_map(tiles)
    names: dict[str, str] = {}
    if parcels is not None:
        base = _light_layer(parcels, [c for c in ("parcel_id", "zone_label") if c in parcels])
        base_layer = _CanvasPolygons(
            base,
            key="parcels",
            name="All lots",
            classes=np.zeros(len(base), dtype=np.int64),
            styles=[{**_BASE_STYLE, "weight": 0.5}],
            tooltip=_tooltip_table(base, {"parcel_id": "Parcel", "zone_label": "Zone"}),
        )
        base_layer.add_to(m)
    # The two layers are built side by side (one simplifies while the other writes JSON),
    # then added in a fixed order.
    package_layer, role_layers = together(
        lambda: _packages_layer(packages, color_by) if len(packages) else None,
        lambda: _role_layers(result) if len(result.pieces) else [],
    )
    if package_layer is not None:
        layer, cmap = package_layer
        layer.add_to(m)
        names["packages"] = layer.get_name()
        _ramp_legend(cmap, f"Packages: {_PACKAGE_FIELDS.get(color_by, color_by)}").add_to(m)
    else:  # still a map: the candidate land, the reference layers and why nothing qualified
        _note(result.summary()).add_to(m)
    for role_layer in role_layers:
        role_layer.add_to(m)
    if reference:
        radius = check_limit(catchment_radius, "catchment_radius") if catchments else None
        _reference_layers(m, as_of, radius)
    if len(packages):
        bounds = np.asarray(packages.to_crs("EPSG:4326").total_bounds)
    elif len(result.pieces):
        bounds = np.asarray(result.pieces.to_crs("EPSG:4326").total_bounds)
    else:
        bounds = _nm_bounds()
    logger.info(
        "package_map: %d packages, %d candidate parcels, colour by %s",
        len(packages),
        len(result.parcels),
        color_by,
    )
    return _finish(m, bounds, names, offline=offline, assets=assets)


# --------------------------------------------------------------------------- parcel map


@pauses_gc
def parcel_map(
    parcels: gpd.GeoDataFrame,
    *,
    color_by: str = "land_use",
    tooltip: Sequence[str] = ("parcel_id", "zone_label", "land_use", "area_m2"),
    tiles: str | None = DEFAULT_TILES,
    offline: bool = False,
    assets: str | os.PathLike | None = None,
) -> folium.Map:
    """A zoning map of lots: land-use colours (or a numeric ramp) with tooltips.

    ``color_by="land_use"`` (or any column of land-use classes) uses the conventional
    planning colours of ``nmgeo/data/land_use_colours.csv`` (commercial red,
    residential brown, G/IC light blue, open space green, conservation dark green…)
    with a legend of the classes present; values outside the vocabulary are drawn as
    ``unknown``. Another text column gets distinct colours per value; a numeric column a
    linear ramp with its range in the legend.

    The lots are simplified as a coverage (0.5 m, shared edges stay shared), rounded to
    1e-6 degrees, embedded with integer delta coordinates and only the ``tooltip``
    columns, and drawn on a canvas: 100,000 lots make a page of about 10 MB.

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
        Lots with a CRS, e.g. from :func:`nmgeo.assign_zoning`.
    color_by : str
        Column to colour by.
    tooltip : sequence of str
        Columns shown in the tooltip (missing ones are skipped); values are escaped.
    tiles : str or None
        A folium tile name or URL template; ``None`` for no base map.
    offline : bool
        Inline all JavaScript and CSS from local files (see ``assets``).
    assets : str or path-like, optional
        The npm ``node_modules`` folder; defaults to :data:`nmgeo.settings.assets`.

    Returns
    -------
    folium.Map
        The page sets ``window.nmgeo.layers.parcels``.

    Raises
    ------
    SchemaError
        If ``color_by`` is not a column of ``parcels``.
    InputError
        If ``offline`` and the assets are missing.

    Examples
    --------
    >>> import nmgeo
    >>> s = nmgeo.load_sample()
    >>> m = nmgeo.parcel_map(s.parcels.head(500), color_by="land_use", tiles=None)
    >>> type(m).__name__
    'Map'
    """
    _check_column(parcels, color_by, "parcels")
    tip_cols = [c for c in tooltip if c in parcels.columns]
    light = _light_layer(parcels, list(dict.fromkeys([*tip_cols, color_by])))
    values = light[color_by]
    base = {"color": "#636363", "weight": 0.4, "fillOpacity": 0.7}
    if pd.api.types.is_numeric_dtype(values) and values.dtype != bool:
        cmap = _numeric_colormap(values, _NUMERIC_COLORS, color_by)
        classes, styles = _colour_codes(values, cmap, base)
        legend = _ramp_legend(cmap, color_by)
    else:
        table = land_use_colours()
        text = values.astype(object).where(values.notna(), UNZONED).astype(str)
        if text.isin(table["class"]).mean() >= 0.5 or color_by == "land_use":
            text = text.where(text.isin(table["class"]), UNKNOWN)
            present = set(text)
            order = [c for c in table["class"] if c in present]
            colour = dict(zip(table["class"], table["colour"], strict=True))
            label = dict(zip(table["class"], table["label"], strict=True))
            entries = [(colour[c], f"{label[c]}") for c in order]
        else:
            order = sorted(set(text))
            colour = {c: _CATEGORY_COLORS[i % len(_CATEGORY_COLORS)] for i, c in enumerate(order)}
            entries = [(colour[c], c) for c in order]
        position = {c: i for i, c in enumerate(order)}
        classes = text.map(position).to_numpy(dtype=np.int64)
        styles = [{**base, "fillColor": colour[c]} for c in order]
        legend = _swatch_legend(entries, color_by.replace("_", " ").capitalize())
    m = _new_map(tiles)
    layer = _CanvasPolygons(
        light,
        key="parcels",
        name="Lots by " + html.escape(color_by),  # the layer control inserts it as HTML
        classes=classes,
        styles=styles,
        tooltip={col: _texts(light[col], 0 if col.endswith("_m2") else 2) for col in tip_cols},
    )
    layer.add_to(m)
    legend.add_to(m)
    bounds = np.asarray(light.total_bounds) if len(light) else np.full(4, np.nan)
    logger.info("parcel_map: %d lots coloured by %s", len(light), color_by)
    return _finish(m, bounds, {}, offline=offline, assets=assets)


# --------------------------------------------------------------------------- robustness map

_SITE_FIELDS = {
    "site_id": "Site",
    "robustness": "Packaged in (share of scenarios)",
    "n_scenarios": "Scenarios",
    "area_ha_min": "Smallest (ha)",
    "area_ha_max": "Largest (ha)",
    "core_ha": "Core (ha)",
    "only_when": "Only when",
    "shares_land_with": "Shares land with",
}
_ROBUSTNESS_COLORS = ("#fee5d9", "#fb6a4a", "#67000d")


@pauses_gc
def robustness_map(
    sweep: ScenarioResult,
    *,
    reference: bool = True,
    tiles: str | None = DEFAULT_TILES,
    offline: bool = False,
    assets: str | os.PathLike | None = None,
) -> folium.Map:
    """A map of how robust each land disposal site is over a scenario sweep.

    Sites (:attr:`ScenarioResult.sites`: all the land their packages hold in any
    scenario) coloured by the share of scenarios in which they are a package, with a
    popup of that share, the area range, the core held in every scenario, the settings
    the site needs (``only_when``) and the sites it shares land with; beneath them the
    packaged pieces of land coloured by their own robustness. With ``reference``, the
    major zones, control points and rail stations (today's network).

    Parameters
    ----------
    sweep : ScenarioResult
        From :func:`nmgeo.scenarios.run_scenarios`.
    reference : bool
        Add major zones, control points and rail stations.
    tiles, offline, assets
        As in :func:`package_map`.

    Returns
    -------
    folium.Map
        The page sets ``window.nmgeo.layers`` (``sites``, ``pieces``) for scripting.

    Examples
    --------
    >>> import nmgeo
    >>> from nmgeo.scenarios import run_scenarios
    >>> s = nmgeo.load_sample()
    >>> sweep = run_scenarios(
    ...     nmgeo.land_fabric(s.zones, s.parcels), {"gap_tolerance": [15, 30]},
    ...     client=False, progress=False,
    ... )
    >>> m = robustness_map(sweep, tiles=None)
    >>> "Only when" in m.get_root().render()
    True
    """
    if not isinstance(sweep, ScenarioResult):
        kind = type(sweep).__name__
        msg = f"robustness_map needs a ScenarioResult from run_scenarios, not {kind}"
        raise InputError(msg)
    m = _new_map(tiles)
    names: dict[str, str] = {}
    pieces = sweep.pieces
    if len(pieces):
        light = _light_layer(pieces, ["piece_id", "robustness", "site_id"])
        cmap = _numeric_colormap(light["robustness"], _ROBUSTNESS_COLORS, "robustness")
        classes, styles = _colour_codes(
            light["robustness"], cmap, {"color": "#737373", "weight": 0.3, "fillOpacity": 0.6}
        )
        layer = _CanvasPolygons(
            light,
            key="pieces",
            name="Packaged land by robustness",
            classes=classes,
            styles=styles,
            tooltip=_tooltip_table(
                light, {"piece_id": "Piece", "site_id": "Site", "robustness": "Robustness"}
            ),
        )
        layer.add_to(m)
    sites = sweep.sites
    if len(sites):
        cmap = branca.colormap.LinearColormap(
            list(_ROBUSTNESS_COLORS), vmin=0.0, vmax=1.0, caption="robustness"
        )
        light = _light_layer(sites, list(_SITE_FIELDS))
        props = pd.DataFrame(index=light.index)
        for col in _SITE_FIELDS:
            digits = 0 if col == "n_scenarios" else 2
            props[col] = _texts(light[col], digits)
        site_layer = _figure_layer(
            light,
            props,
            _SITE_FIELDS,
            [cmap.rgb_hex_str(v) for v in light["robustness"].astype(float)],
            name="Sites by robustness",
            tooltip=["site_id", "robustness", "only_when"],
            fill_opacity=0.35,
            max_width=360,
        )
        site_layer.add_to(m)
        names["sites"] = site_layer.get_name()
        n = len(sweep.summary)
        _ramp_legend(cmap, f"Sites: share of {n} scenarios packaged").add_to(m)
        bounds = np.asarray(sites.to_crs("EPSG:4326").total_bounds)
    else:
        _note("No scenario found a package").add_to(m)
        bounds = _nm_bounds()
    if reference:
        _reference_layers(m, None, None)
    logger.info("robustness_map: %d sites, %d pieces", len(sites), len(pieces))
    return _finish(m, bounds, names, offline=offline, assets=assets)
