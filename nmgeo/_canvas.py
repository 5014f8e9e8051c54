"""A polygon layer drawn by nmgeo itself on one <canvas>: no Leaflet object per feature.

``_CanvasPolygons`` embeds a compact payload (integer delta coordinates), and its
JavaScript decodes the payload once into flat typed arrays (coordinates projected at
zoom 0, per-feature offsets and bounding boxes) and paints every feature on a single
canvas, one path per style class. Hover tooltips
come from hit-testing: a uniform grid of feature bounding boxes, then point-in-polygon
on the few candidates. ``getLayers()`` returns light stubs (``getBounds``, ``fire``) so
code written for the feature group keeps working; ``openTooltipFor(i)`` opens the
tooltip of feature ``i``.
"""

from __future__ import annotations

import html
import json
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium.map import Layer
from folium.template import Template

__all__ = ["_CanvasPolygons"]

_JS = """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var d = {{ this.payload }};
            var NmgeoCanvas = L.Layer.extend({
                options: {pane: "overlayPane", padding: 0.1},

                initialize: function (d) {
                    this._d = d;
                    this._decode(d);
                    this._tooltip = null;
                    this._hover = -1;
                    if (d.labels.length) {
                        this._tooltip = L.tooltip({sticky: true});
                        this._tooltip.setContent("");
                    }
                },

                // ---------------------------------------------------------- decoding
                _decode: function (d) {
                    var s = Math.pow(10, d.decimals), o = d.origin, geom = d.geometry;
                    var n = geom.length, nRings = 0, nPts = 0, f, p, r, k;
                    for (f = 0; f < n; f++) {
                        for (p = 0; p < geom[f].length; p++) {
                            for (r = 0; r < geom[f][p].length; r++) {
                                nRings++; nPts += geom[f][p][r].length >> 1;
                            }
                        }
                    }
                    var xy = new Float64Array(2 * nPts);
                    var ringStart = new Int32Array(nRings + 1);   // vertex index
                    var featRing = new Int32Array(n + 1);          // ring index
                    var bbox = new Float64Array(4 * n);
                    var crs = L.CRS.EPSG3857, maxLat = 85.0511287798;
                    var merc = !this.options.crs || this.options.crs === crs;
                    var D2R = Math.PI / 180, ri = 0, vi = 0;
                    for (f = 0; f < n; f++) {
                        featRing[f] = ri;
                        var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
                        for (p = 0; p < geom[f].length; p++) {
                            for (r = 0; r < geom[f][p].length; r++) {
                                var ring = geom[f][p][r], x = o[0], y = o[1];
                                var start = vi, area = 0;
                                ringStart[ri++] = vi;
                                for (k = 0; k < ring.length; k += 2) {
                                    x += ring[k]; y += ring[k + 1];
                                    var lon = x / s, lat = y / s, px, py;
                                    if (merc) {
                                        lat = Math.max(Math.min(lat, maxLat), -maxLat);
                                        var sn = Math.sin(lat * D2R);
                                        px = 256 * (0.5 + lon / 360);
                                        py = 256 * (0.5 - Math.log((1 + sn) / (1 - sn)) / (4 * Math.PI));
                                    } else {
                                        var pt = crs.latLngToPoint(L.latLng(lat, lon), 0);
                                        px = pt.x; py = pt.y;
                                    }
                                    xy[2 * vi] = px; xy[2 * vi + 1] = py; vi++;
                                    if (px < x0) x0 = px; if (px > x1) x1 = px;
                                    if (py < y0) y0 = py; if (py > y1) y1 = py;
                                }
                                // Orient shells one way and holes the other, so one
                                // nonzero fill per class draws holes and unions overlaps.
                                for (k = start; k < vi; k++) {
                                    var kn = k + 1 < vi ? k + 1 : start;
                                    area += xy[2 * k] * xy[2 * kn + 1] - xy[2 * kn] * xy[2 * k + 1];
                                }
                                if ((r === 0) !== (area > 0)) {
                                    for (var a = start, b = vi - 1; a < b; a++, b--) {
                                        var tx = xy[2 * a], ty = xy[2 * a + 1];
                                        xy[2 * a] = xy[2 * b]; xy[2 * a + 1] = xy[2 * b + 1];
                                        xy[2 * b] = tx; xy[2 * b + 1] = ty;
                                    }
                                }
                            }
                        }
                        bbox[4 * f] = x0; bbox[4 * f + 1] = y0;
                        bbox[4 * f + 2] = x1; bbox[4 * f + 3] = y1;
                    }
                    ringStart[nRings] = vi; featRing[n] = ri;
                    d.geometry = null;  // the nested arrays are no longer needed
                    this.count = n;
                    this._xy = xy; this._ringStart = ringStart; this._featRing = featRing;
                    this._bbox = bbox;
                    // Features grouped by class, in feature order within a class.
                    var nClass = d.styles.length, cnt = new Int32Array(nClass + 1);
                    for (f = 0; f < n; f++) cnt[d.classes[f] + 1]++;
                    for (var c = 0; c < nClass; c++) cnt[c + 1] += cnt[c];
                    var byClass = new Int32Array(n), fill = cnt.slice(0, nClass);
                    for (f = 0; f < n; f++) byClass[fill[d.classes[f]]++] = f;
                    this._classStart = cnt; this._byClass = byClass;
                    this._styles = d.styles.map(function (st) {
                        return L.extend({stroke: true, color: "#3388ff", weight: 3, opacity: 1,
                                         lineCap: "round", lineJoin: "round", dashArray: null,
                                         fill: true, fillColor: null, fillOpacity: 0.2}, st);
                    });
                    this._buildGrid();
                },

                _buildGrid: function () {
                    var n = this.count, bb = this._bbox, f;
                    var X0 = Infinity, Y0 = Infinity, X1 = -Infinity, Y1 = -Infinity;
                    for (f = 0; f < n; f++) {
                        if (bb[4 * f] < X0) X0 = bb[4 * f];
                        if (bb[4 * f + 1] < Y0) Y0 = bb[4 * f + 1];
                        if (bb[4 * f + 2] > X1) X1 = bb[4 * f + 2];
                        if (bb[4 * f + 3] > Y1) Y1 = bb[4 * f + 3];
                    }
                    if (!n) { X0 = Y0 = 0; X1 = Y1 = 1; }
                    var w = Math.max(X1 - X0, 1e-12), h = Math.max(Y1 - Y0, 1e-12);
                    var side = Math.max(1, Math.ceil(Math.sqrt(n / 2)));
                    var gx = Math.max(1, Math.min(4096, Math.round(side * Math.sqrt(w / h))));
                    var gy = Math.max(1, Math.min(4096, Math.round(side * Math.sqrt(h / w))));
                    var g = {x0: X0, y0: Y0, sx: gx / w, sy: gy / h, nx: gx, ny: gy};
                    var cellOf = function (v, v0, sc, m) {
                        var i = Math.floor((v - v0) * sc);
                        return i < 0 ? 0 : (i >= m ? m - 1 : i);
                    };
                    var start = new Int32Array(gx * gy + 1), i, j;
                    for (var pass = 0; pass < 2; pass++) {
                        var pos = pass ? start.slice(0, gx * gy) : null;
                        for (f = 0; f < n; f++) {
                            var i0 = cellOf(bb[4 * f], X0, g.sx, gx), i1 = cellOf(bb[4 * f + 2], X0, g.sx, gx);
                            var j0 = cellOf(bb[4 * f + 1], Y0, g.sy, gy), j1 = cellOf(bb[4 * f + 3], Y0, g.sy, gy);
                            for (j = j0; j <= j1; j++) {
                                for (i = i0; i <= i1; i++) {
                                    if (pass) g.items[pos[j * gx + i]++] = f;
                                    else start[j * gx + i + 1]++;
                                }
                            }
                        }
                        if (!pass) {
                            for (i = 0; i < gx * gy; i++) start[i + 1] += start[i];
                            g.items = new Int32Array(start[gx * gy]);
                        }
                    }
                    g.start = start; g.cellOf = cellOf;
                    this._grid = g;
                },

                // -------------------------------------------------------- Leaflet layer
                onAdd: function (map) {
                    var c = this._canvas = L.DomUtil.create("canvas", "leaflet-nmgeo-canvas");
                    c.style.pointerEvents = "none";
                    if (map._zoomAnimated) L.DomUtil.addClass(c, "leaflet-zoom-animated");
                    this.getPane().appendChild(c);
                    this._ctx = c.getContext("2d");
                    if (map._loaded) this._reset();
                },

                onRemove: function (map) {
                    this._setHover(-1, null);
                    L.DomUtil.remove(this._canvas);
                    this._sig = null;
                    this._canvas = this._ctx = null;
                },

                getEvents: function () {
                    var ev = {viewreset: this._reset, moveend: this._reset, resize: this._reset,
                              mousemove: this._onMouseMove,
                              mouseout: this._onMouseOut};
                    if (this._map && this._map._zoomAnimated) ev.zoomanim = this._animateZoom;
                    return ev;
                },

                getBounds: function () {
                    var crs = L.CRS.EPSG3857;
                    if (!this.count) return L.latLngBounds([]);
                    var t = this._grid, w = t.nx / t.sx, h = t.ny / t.sy;
                    return L.latLngBounds(crs.pointToLatLng(L.point(t.x0, t.y0 + h), 0),
                                          crs.pointToLatLng(L.point(t.x0 + w, t.y0), 0));
                },

                featureBounds: function (i) {
                    var b = this._bbox, crs = L.CRS.EPSG3857;
                    return L.latLngBounds(crs.pointToLatLng(L.point(b[4 * i], b[4 * i + 3]), 0),
                                          crs.pointToLatLng(L.point(b[4 * i + 2], b[4 * i + 1]), 0));
                },

                getTooltip: function () { return this._tooltip; },

                // One light stub per feature, made on demand, for code that expects the
                // members of a feature group (getBounds, fire("mouseover"/"mousemove")).
                getLayers: function () {
                    if (!this._stubs) {
                        var self = this, stubs = new Array(this.count);
                        for (var i = 0; i < this.count; i++) {
                            stubs[i] = {
                                nmgeoIndex: i,
                                getBounds: (function (k) { return function () { return self.featureBounds(k); }; })(i),
                                fire: (function (k) {
                                    return function (type, e) {
                                        if (type === "mouseout") self._setHover(-1, null);
                                        else if (type === "mouseover" || type === "mousemove")
                                            self._setHover(k, (e && e.latlng) || self.featureBounds(k).getCenter());
                                        return this;
                                    };
                                })(i)
                            };
                        }
                        this._stubs = stubs;
                    }
                    return this._stubs;
                },

                tooltipHtml: function (i) {
                    var d = this._d, out = [];
                    for (var c = 0; c < d.labels.length; c++) {
                        var col = d.columns[c];
                        out.push("<b>" + d.labels[c] + "</b> " + (col.a ? col.a[i] : col.v[col.i[i]]));
                    }
                    return out.join("<br>");
                },

                openTooltipFor: function (i, latlng) {
                    this._setHover(i, latlng || this.featureBounds(i).getCenter());
                    return this._tooltip;
                },

                // -------------------------------------------------------------- drawing
                _reset: function () {
                    var map = this._map;
                    if (!map || !this._canvas) return;
                    var size = map.getSize(), pad = size.multiplyBy(this.options.padding).round();
                    var topLeft = map.containerPointToLayerPoint([0, 0]).subtract(pad);
                    var full = size.add(pad.multiplyBy(2)), r = L.Browser.retina ? 2 : 1;
                    var c = this._canvas, po = map.getPixelOrigin();
                    // viewreset and moveend both follow a setView: draw once per view.
                    var sig = [map.getZoom(), po.x, po.y, topLeft.x, topLeft.y, full.x, full.y].join();
                    if (sig === this._sig && !this._dirty) return;
                    this._sig = sig; this._dirty = false;
                    L.DomUtil.setPosition(c, topLeft);
                    if (c.width !== r * full.x || c.height !== r * full.y) {
                        c.width = r * full.x; c.height = r * full.y;
                        c.style.width = full.x + "px"; c.style.height = full.y + "px";
                    }
                    this._topLeft = topLeft;
                    this._topLeftLatLng = map.layerPointToLatLng(topLeft);
                    this._zoom = map.getZoom();
                    this._draw(r, full, topLeft);
                },

                _animateZoom: function (e) {
                    if (!this._topLeftLatLng) return;
                    var map = this._map, scale = map.getZoomScale(e.zoom, this._zoom);
                    var pos = map._latLngToNewLayerPoint(this._topLeftLatLng, e.zoom, e.center);
                    L.DomUtil.setTransform(this._canvas, pos, scale);
                },

                _draw: function (r, full, topLeft) {
                    var map = this._map, ctx = this._ctx;
                    var scale = map.options.crs.scale(this._zoom) / 256;
                    var origin = map.getPixelOrigin().add(topLeft);
                    var ox = origin.x, oy = origin.y;
                    // View in zoom-0 units, for culling.
                    var vx0 = ox / scale, vy0 = oy / scale;
                    var vx1 = (ox + full.x) / scale, vy1 = (oy + full.y) / scale;
                    ctx.setTransform(1, 0, 0, 1, 0, 0);
                    ctx.clearRect(0, 0, this._canvas.width, this._canvas.height);
                    ctx.setTransform(r, 0, 0, r, 0, 0);
                    var xy = this._xy, rs = this._ringStart, fr = this._featRing, bb = this._bbox;
                    var byClass = this._byClass, cs = this._classStart;
                    for (var c = 0; c < this._styles.length; c++) {
                        var st = this._styles[c], any = 0;
                        ctx.beginPath();
                        for (var q = cs[c]; q < cs[c + 1]; q++) {
                            var f = byClass[q];
                            if (bb[4 * f + 2] < vx0 || bb[4 * f] > vx1 ||
                                bb[4 * f + 3] < vy0 || bb[4 * f + 1] > vy1) continue;
                            // Flush every few hundred features: one huge path is slow.
                            if (++any % 256 === 0) { this._paint(ctx, st); ctx.beginPath(); }
                            for (var ri = fr[f]; ri < fr[f + 1]; ri++) {
                                var v = rs[ri], e = rs[ri + 1];
                                ctx.moveTo(xy[2 * v] * scale - ox, xy[2 * v + 1] * scale - oy);
                                for (v++; v < e; v++) {
                                    ctx.lineTo(xy[2 * v] * scale - ox, xy[2 * v + 1] * scale - oy);
                                }
                                ctx.closePath();
                            }
                        }
                        if (!any) continue;
                        this._paint(ctx, st);
                    }
                },

                _paint: function (ctx, st) {
                    if (st.fill) {
                        ctx.globalAlpha = st.fillOpacity;
                        ctx.fillStyle = st.fillColor || st.color;
                        ctx.fill("nonzero");
                    }
                    if (st.stroke && st.weight !== 0) {
                        var dash = st.dashArray;
                        if (typeof dash === "string") dash = dash.split(/[, ]+/).map(Number);
                        ctx.setLineDash(dash || []);
                        ctx.globalAlpha = st.opacity;
                        ctx.lineWidth = st.weight;
                        ctx.strokeStyle = st.color;
                        ctx.lineCap = st.lineCap;
                        ctx.lineJoin = st.lineJoin;
                        ctx.stroke();
                    }
                    ctx.globalAlpha = 1;
                },

                // Hover: no outline is drawn (the feature group had no highlight either).

                // ----------------------------------------------------------- hit-testing
                featureAt: function (latlng) {
                    if (!this.count) return -1;
                    var pt = L.CRS.EPSG3857.latLngToPoint(L.latLng(latlng), 0);
                    var px = pt.x, py = pt.y, g = this._grid;
                    if (px < g.x0 || py < g.y0 || px > g.x0 + g.nx / g.sx || py > g.y0 + g.ny / g.sy) return -1;
                    var cell = g.cellOf(py, g.y0, g.sy, g.ny) * g.nx + g.cellOf(px, g.x0, g.sx, g.nx);
                    var bb = this._bbox, xy = this._xy, rs = this._ringStart, fr = this._featRing;
                    var hit = -1;
                    for (var q = g.start[cell]; q < g.start[cell + 1]; q++) {
                        var f = g.items[q];
                        if (f < hit || px < bb[4 * f] || px > bb[4 * f + 2] ||
                            py < bb[4 * f + 1] || py > bb[4 * f + 3]) continue;
                        var inside = false;
                        for (var ri = fr[f]; ri < fr[f + 1]; ri++) {
                            var s0 = rs[ri], e = rs[ri + 1];
                            for (var a = s0, b = e - 1; a < e; b = a++) {
                                var ya = xy[2 * a + 1], yb = xy[2 * b + 1];
                                if ((ya > py) !== (yb > py) &&
                                    px < (xy[2 * b] - xy[2 * a]) * (py - ya) / (yb - ya) + xy[2 * a]) {
                                    inside = !inside;
                                }
                            }
                        }
                        if (inside) hit = f;  // the last feature wins, as in drawing order
                    }
                    return hit;
                },

                _onMouseMove: function (e) {
                    var map = this._map;
                    if (!map || (map.dragging && map.dragging.moving())) return;
                    this._setHover(this.featureAt(e.latlng), e.latlng);
                },

                _onMouseOut: function () { this._setHover(-1, null); },

                _setHover: function (i, latlng) {
                    var map = this._map, tt = this._tooltip;
                    if (!map) return;
                    if (i !== this._hover) {
                        map.getContainer().style.cursor = i >= 0 ? "pointer" : "";
                        this._hover = i;
                        if (tt && i >= 0) tt.setContent(this.tooltipHtml(i));
                    }
                    if (!tt) return;
                    if (i < 0) {
                        if (map.hasLayer(tt)) map.removeLayer(tt);
                        return;
                    }
                    tt.setLatLng(latlng);
                    if (!map.hasLayer(tt)) tt.openOn(map);
                }
            });
            var group = new NmgeoCanvas(d);
            window.nmgeo = window.nmgeo || {layers: {}};
            window.nmgeo.layers[{{ this.key|tojson }}] = group;
            return group;
        })();
        {% endmacro %}
        """


# Lon/lat decimals kept in map payloads: 1e-6 degrees is about 0.1 m.
DECIMALS = 6


def _encode_polygons(geoms: np.ndarray, decimals: int = DECIMALS) -> tuple[str, list[int]]:
    """Polygons as compact JSON: integer lon/lat deltas, nested feature > polygon > ring.

    Each ring is a flat list ``[x0, y0, dx1, dy1, ...]`` in units of ``10**-decimals``
    degrees: the first vertex relative to the origin returned, the others relative to the
    previous vertex; the closing vertex is dropped. Every geometry must be non-empty.
    """
    scale = 10**decimals
    parts, part_feature = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    q = np.rint(coords * scale).astype(np.int64)
    origin = q.min(axis=0)
    # Drop each ring's closing vertex.
    last = np.r_[coord_ring[1:] != coord_ring[:-1], True]
    q, coord_ring = q[~last], coord_ring[~last]
    first = np.r_[True, coord_ring[1:] != coord_ring[:-1]]
    d = q.copy()
    d[1:] -= q[:-1]
    d[first] = q[first] - origin
    tokens = d.astype(str)  # shape (n, 2)
    n = len(d)
    # Separator after each vertex: "," inside a ring; at a ring's end, closing brackets
    # chosen by whether the next ring is in the same polygon / feature.
    ring_feature = part_feature[ring_part]
    end = np.r_[coord_ring[1:] != coord_ring[:-1], True]
    sep = np.full(n, ",", dtype=object)
    idx = np.flatnonzero(end)
    nxt = np.minimum(idx + 1, n - 1)
    same_part = ring_part[coord_ring[idx]] == ring_part[coord_ring[nxt]]
    same_feat = ring_feature[coord_ring[idx]] == ring_feature[coord_ring[nxt]]
    sep[idx] = np.where(same_part, "],[", np.where(same_feat, "]],[[", "]]],[[["))
    sep[-1] = "]]]"
    body = np.empty(2 * n, dtype=object)
    body[0::2] = np.char.add(np.char.add(tokens[:, 0], ","), tokens[:, 1]).astype(object)
    body[1::2] = sep
    return "[[[[" + "".join(body.tolist()) + "]", [int(origin[0]), int(origin[1])]


def _column_json(values: list[str]) -> dict[str, Any]:
    """A column of strings, dictionary-encoded when that is shorter."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), sort=False)
    if len(uniques) < len(values) / 2:
        return {"v": [str(u) for u in uniques], "i": codes.tolist()}
    return {"a": values}


class _CanvasPolygons(Layer):
    """A polygon layer for many features, drawn on one canvas by nmgeo's own code.

    Registered as ``window.nmgeo.layers[key]``; the browser keeps flat typed arrays
    instead of one ``L.Polygon`` per feature.
    """

    _template = Template(_JS)

    def __init__(
        self,
        light: gpd.GeoDataFrame,
        *,
        key: str,
        name: str,
        classes: np.ndarray,
        styles: list[dict[str, Any]],
        tooltip: dict[str, list[str]],
        show: bool = True,
    ) -> None:

        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "CanvasPolygons"
        self.key = key
        self.n_features = len(light)
        if len(light):
            geometry, origin = _encode_polygons(light.geometry.to_numpy())
        else:
            geometry, origin = "[]", [0, 0]
        # The payload: per ring, the first vertex relative to the origin, the others
        # relative to the previous vertex.
        meta = {
            "decimals": DECIMALS,
            "origin": origin,
            "styles": styles,
            "classes": np.asarray(classes, dtype=np.int64).tolist(),
            "labels": [html.escape(label) for label in tooltip],
            "columns": [_column_json(v) for v in tooltip.values()],
        }
        body = json.dumps(meta, separators=(",", ":"), ensure_ascii=True)
        payload = body[:-1] + ',"geometry":' + geometry + "}"
        # JSON inside a <script>: a literal "</" could close the element early.
        self.payload = payload.replace("</", "<\\/")
