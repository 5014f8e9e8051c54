"""Specifications of the web maps: layers, colours, escaping, offline pages, light layers."""

from __future__ import annotations

import datetime
import html
import json
import os
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

import nmgeo
from nmgeo import _canvas, maps
from nmgeo._vocabulary import LAND_USE_CLASSES, UNKNOWN, UNZONED
from nmgeo.errors import InputError, SchemaError

XSS = '<img src=x onerror="window.__xss=1">'
X0, Y0 = 826_000.0, 840_000.0
ASSETS = os.environ.get("NMGEO_ASSETS")
needs_assets = pytest.mark.skipif(
    not ASSETS or not Path(ASSETS).is_dir(),
    reason="NMGEO_ASSETS (a node_modules folder from .ci/assets.sh) is not set",
)


def lot(i: int, j: int, w: float = 100.0, h: float = 100.0, dx: float = 0.0):
    return box(X0 + dx + i * w, Y0 + j * h, X0 + dx + (i + 1) * w, Y0 + (j + 1) * h)


@pytest.fixture(scope="module")
def layout() -> gpd.GeoDataFrame:
    """Two packages, one undersized commercial lot and one lone facility lot.

    West: four 1 ha commercial lots in a row with a 1 ha G/IC lot north of them (5 ha).
    East (2 km away): two 1.5 ha commercial lots. Far east: a 0.25 ha commercial lot
    and, elsewhere, an open-space lot touching no commercial land.
    """
    rows = [
        (XSS, lot(0, 0), "commercial", "C"),
        ("W2", lot(1, 0), "commercial", "C"),
        ("W3", lot(2, 0), "commercial", "C"),
        ("W4", lot(3, 0), "commercial", "C"),
        ("WF", lot(0, 1, w=400.0), "public_facility", "G/IC"),
        ("E1", lot(0, 0, w=150.0, dx=2000.0), "commercial", "OU(Business)"),
        ("E2", lot(1, 0, w=150.0, dx=2000.0), "commercial", "OU(Business)"),
        ("SMALL", lot(0, 0, w=50.0, h=50.0, dx=4000.0), "commercial", "C"),
        ("LONE", lot(0, 5, dx=6000.0), "open_space", "O"),
        ("HOME", lot(1, 5, dx=6000.0), "residential", "R(A)"),
    ]
    gdf = gpd.GeoDataFrame(
        {
            "parcel_id": [r[0] for r in rows],
            "land_use": [r[2] for r in rows],
            "zone_label": [r[3] for r in rows],
        },
        geometry=[r[1] for r in rows],
        crs="EPSG:2326",
    )
    gdf["area_m2"] = gdf.area
    return gdf


@pytest.fixture(scope="module")
def result(layout):
    return nmgeo.build_packages(layout)


@pytest.fixture(scope="module")
def sample_result():
    sample = nmgeo.load_sample()
    return sample, nmgeo.build_packages(sample.parcels)


def page(m) -> str:
    return m.get_root().render()


def payload(html_text: str, key: str) -> dict:
    """The compact data of the layer registered as ``window.nmgeo.layers[key]``."""
    for match in re.finditer(r"var d = (\{.*?\});\n", html_text):
        data = json.loads(match.group(1).replace("<\\/", "</"))
        after = html_text[match.end() :]
        registered = re.search(r"window\.nmgeo\.layers\[(\"\w+\")\] = group", after)
        if registered and registered.group(1) == json.dumps(key):
            return data
    raise AssertionError(f"no compact layer {key!r} in the page")


def geojson_features(html_text: str) -> list[list[dict]]:
    """Every GeoJSON FeatureCollection folium embedded in the page."""
    out = []
    for match in re.finditer(r"^\s*geo_json_\w+_add\((\{.*\})\);$", html_text, re.MULTILINE):
        data = json.loads(match.group(1))
        if data.get("type") == "FeatureCollection":
            out.append(data["features"])
    return out


# --------------------------------------------------------------------------- package map


def test_layout_gives_two_packages_and_two_exclusions(result):
    assert len(result.packages) == 2
    assert sorted(result.parcels["reason"].dropna()) == ["below_min_area", "facility_not_adjacent"]


def test_package_map_has_every_layer_named_in_the_layer_control(result):
    text = page(maps.package_map(result, catchments=True, tiles=None))
    for name in (
        "Land disposal packages",
        "Package land (commercial / facility; outlined: leased lots)",
        "Excluded candidate land",
        "NM major zones",
        "Boundary control points",
        f"Rail stations (network of {datetime.date.today().year})",
        "Rail catchments (500 m)",
    ):
        assert json.dumps(name) in text, name
    assert "L.control.layers" in text
    assert "L.control.fullscreen" in text
    assert "L.Control.Measure" in text
    assert 'preferCanvas": true' in text or "preferCanvas: true" in text


def test_package_layer_has_one_feature_per_package(result, sample_result):
    _, big = sample_result
    for res in (result, big):
        text = page(maps.package_map(res, reference=False, tiles=None))
        collections = geojson_features(text)
        packages = [c for c in collections if c and "package_id" in c[0]["properties"]]
        assert len(packages) == 1
        assert len(packages[0]) == len(res.packages)


def test_member_and_excluded_parcels_are_split_by_membership(result):
    text = page(maps.package_map(result, reference=False, tiles=None))
    members, excluded = payload(text, "members"), payload(text, "excluded")
    assert len(members["classes"]) == int(result.parcels["package_id"].notna().sum())
    assert len(excluded["classes"]) == int(result.parcels["package_id"].isna().sum())
    # Classes are role x tenure: zoned lots are all leased land (1 commercial, 3 facility).
    assert sorted(set(members["classes"])) == [1, 3]
    styles = members["styles"]
    assert styles[1]["fillColor"] != styles[3]["fillColor"]  # commercial vs facility
    assert styles[0]["fillColor"] == styles[1]["fillColor"]  # same role, other tenure:
    assert styles[0]["color"] != styles[1]["color"]  # leased lots are outlined


def test_package_land_is_drawn_by_tenure_on_the_fabric(sample_result):
    sample, _ = sample_result
    on_fabric = nmgeo.build_packages(sample.zones, sample.parcels)
    text = page(maps.package_map(on_fabric, reference=False, tiles=None))
    members = payload(text, "members")
    pieces = on_fabric.pieces[on_fabric.pieces["package_id"].notna()]
    expected = 2 * pieces["role"].eq("facility").to_numpy() + pieces["tenure"].eq("leased")
    assert sorted(members["classes"]) == sorted(expected.tolist())
    assert {0, 1, 2, 3} <= set(members["classes"])
    tenure = members["columns"][members["labels"].index("Tenure")]
    shown = tenure.get("a") or tenure["v"]
    assert {"government", "leased"} <= set(shown)


def test_package_map_has_a_colour_ramp_legend_for_color_by(result):
    text = page(maps.package_map(result, color_by="facility_share", tiles=None))
    assert "nmgeo-legend" in text
    assert "Packages: Facility share" in text
    assert "linear-gradient" in text
    fills = {f["properties"]["_fill"] for f in geojson_features(text)[0]}
    assert len(fills) == 2  # two packages with different facility shares


def test_tooltips_and_popups_escape_attribute_text(result):
    text = page(maps.package_map(result, tiles=None))
    assert XSS not in text
    members = payload(text, "members")
    ids = members["columns"][members["labels"].index("Lot")]
    values = ids.get("a") or ids["v"]
    assert "&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;" in values


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(), st.sampled_from(["&<>\"'", "&amp;", "a'b"]))))
def test_tooltip_texts_are_escaped_as_html_escape_does(values):
    expected = ["" if v is None else html.escape(v, quote=True) for v in values]
    assert maps._texts(pd.Series(values, dtype=object)) == expected


def test_tooltip_texts_of_mixed_and_unencodable_values():
    values = pd.Series(["a<b", 3, 2.5, None, "\ud800<"], dtype=object)
    assert maps._texts(values) == ["a&lt;b", "3", "2.50", "", "\ud800&lt;"]
    lone = pd.Series(["x&y", "\udcff>"], dtype=object)
    assert maps._texts(lone) == ["x&amp;y", "\udcff&gt;"]


def test_parcel_map_escapes_tooltips(layout):
    text = page(maps.parcel_map(layout, tiles=None))
    assert XSS not in text
    assert "&lt;img src=x onerror=" in text


def test_stations_outside_the_network_of_as_of_are_hollow_and_labelled(result):
    # Kwu Tung (target 2027) is outside the 2026 network and inside the 2028 one;
    # Ngau Tam Mei (target 2034) is outside both. Every station is drawn either way.
    before = page(maps.package_map(result, tiles=None, as_of=2026))
    assert "Kwu Tung (2027)" in before
    assert "Ngau Tam Mei (2034)" in before
    assert "planned, target 2027 (not counted in 2026)" in before
    assert json.dumps("Rail stations (network of 2026)") in before
    after = page(maps.package_map(result, tiles=None, as_of=2028))
    assert "Kwu Tung (2027)" not in after
    assert "planned, target 2027 (counted in 2028)" in after
    assert "Ngau Tam Mei (2034)" in after
    assert "Fanling" in after and "open since 1910" in after


def test_package_map_defaults_to_the_network_of_the_current_year(result):
    year = datetime.date.today().year
    text = page(maps.package_map(result, tiles=None))
    assert json.dumps(f"Rail stations (network of {year})") in text
    # Stations opening after this year are hollow and labelled; none opening before is.
    stations = nmgeo.reference.rail_stations()
    for row in stations.itertuples():
        label = f"{row.name} ({row.opening_year})"
        assert (label in text) == (row.opening_year > year), label


def test_page_loads_no_jquery_bootstrap_or_font_awesome(result):
    text = page(maps.package_map(result, tiles=None))
    for unwanted in ("jquery", "bootstrap", "awesome-markers", "fontawesome"):
        assert unwanted not in text.lower()
    assert "leaflet@1.9.3/dist/leaflet.js" in text


def test_bad_color_by_is_a_schema_error(result, layout):
    with pytest.raises(SchemaError, match="color_by='nope'.*area_ha"):
        maps.package_map(result, color_by="nope")
    with pytest.raises(SchemaError, match="not a number column") as refused:
        maps.package_map(result, color_by="major_zone")
    # Only number columns are offered.
    offered = str(refused.value).split("choose one of: ")[1].split(", ")
    assert "area_ha" in offered and not {"major_zone", "package_id"} & set(offered)
    with pytest.raises(SchemaError, match="color_by='nope'.*land_use"):
        maps.parcel_map(layout, color_by="nope")


# --------------------------------------------------------------------------- parcel map


def test_colour_table_covers_every_land_use_class():
    table = nmgeo.zoning.land_use_colours()
    assert list(table["class"]) == [*LAND_USE_CLASSES, UNKNOWN, UNZONED]
    assert table["colour"].str.fullmatch(r"#[0-9a-f]{6}").all()
    assert table["colour"].is_unique
    colour = dict(zip(table["class"], table["colour"], strict=True))
    assert colour["commercial"] == "#e31a1c"  # planning red


def test_parcel_map_colours_follow_the_csv(layout):
    text = page(maps.parcel_map(layout, tiles=None))
    data = payload(text, "parcels")
    colour = dict(
        zip(*nmgeo.zoning.land_use_colours()[["class", "colour"]].T.to_numpy(), strict=True)
    )
    drawn = [data["styles"][c]["fillColor"] for c in data["classes"]]
    assert drawn == [colour[u] for u in layout["land_use"]]
    for cls in set(layout["land_use"]):
        assert colour[cls] in text.split("nmgeo-legend")[-1]


def test_unknown_land_use_is_drawn_as_unknown(layout):
    odd = layout.assign(land_use=["mystery", *layout["land_use"][1:]])
    data = payload(page(maps.parcel_map(odd, tiles=None)), "parcels")
    unknown = nmgeo.zoning.land_use_colours().set_index("class").loc[UNKNOWN, "colour"]
    assert data["styles"][data["classes"][0]]["fillColor"] == unknown


def test_numeric_color_by_gets_a_ramp(layout):
    text = page(maps.parcel_map(layout, color_by="area_m2", tiles=None))
    assert "linear-gradient" in text
    data = payload(text, "parcels")
    assert len(data["styles"]) > 1


# --------------------------------------------------------------------------- light layers


def grid(n: int, size: float = 50.0) -> gpd.GeoDataFrame:
    """An n x n grid of lots with wiggly shared edges (many collinear-ish vertices)."""
    xs = X0 + np.arange(n + 1) * size
    ys = Y0 + np.arange(n + 1) * size
    t = np.linspace(0, 1, 12)[1:-1]
    geoms = []
    for i in range(n):
        for j in range(n):
            x0, x1, y0, y1 = xs[i], xs[i + 1], ys[j], ys[j + 1]
            bottom = [(x0 + (x1 - x0) * s, y0 + 0.01 * np.sin(9 * s)) for s in t]
            right = [(x1 + 0.01 * np.sin(7 * s), y0 + (y1 - y0) * s) for s in t]
            top = [(x1 - (x1 - x0) * s, y1 + 0.01 * np.sin(9 * (1 - s))) for s in t]
            left = [(x0 + 0.01 * np.sin(7 * (1 - s)), y1 - (y1 - y0) * s) for s in t]
            ring = [(x0, y0), *bottom, (x1, y0), *right, (x1, y1), *top, (x0, y1), *left]
            geoms.append(shapely.Polygon(ring))
    return gpd.GeoDataFrame(
        {"parcel_id": [f"L{k}" for k in range(n * n)]}, geometry=geoms, crs="EPSG:2326"
    )


def test_light_layer_keeps_shared_edges():
    lots = grid(4)
    light = maps._light_layer(lots, ["parcel_id"])
    assert light.crs.to_epsg() == 4326
    coords = shapely.get_coordinates(light.geometry.to_numpy())
    assert np.allclose(coords, np.round(coords, 6))
    back = light.to_crs(2326).geometry.to_numpy()
    # Lots 0 and 1 are neighbours (same column): their boundaries still share a line
    # about 50 m long, and they overlap by less than a square metre.
    for a, b in ((0, 1), (0, 4), (5, 6)):
        shared = shapely.intersection(shapely.boundary(back[a]), shapely.boundary(back[b]))
        assert shapely.length(shared) == pytest.approx(50.0, abs=0.5)
        assert shapely.area(shapely.intersection(back[a], back[b])) < 1.0
    assert shapely.area(back).sum() == pytest.approx(shapely.area(lots.geometry).sum(), rel=1e-3)


def test_light_layer_cuts_size_per_feature():
    lots = grid(10)
    raw = lots.to_crs(4326).to_json()
    light = maps._light_layer(lots, ["parcel_id"])
    encoded, _ = _canvas._encode_polygons(light.geometry.to_numpy())
    assert shapely.get_num_coordinates(light.geometry.to_numpy()).sum() < (
        shapely.get_num_coordinates(lots.geometry.to_numpy()).sum() / 4
    )
    assert len(encoded) / len(lots) < len(raw) / len(lots) / 10


def test_encoding_round_trips_to_the_rounded_coordinates():
    lots = grid(3)
    lots.loc[9] = [
        "hole",
        shapely.Polygon(
            [(X0 + 500, Y0), (X0 + 600, Y0), (X0 + 600, Y0 + 100), (X0 + 500, Y0 + 100)],
            [[(X0 + 520, Y0 + 20), (X0 + 540, Y0 + 20), (X0 + 540, Y0 + 40)]],
        ),
    ]
    light = maps._light_layer(lots, ["parcel_id"], tolerance=0)
    text, origin = _canvas._encode_polygons(light.geometry.to_numpy())
    decoded = json.loads(text)
    assert len(decoded) == len(light)
    for feature, geom in zip(decoded, light.geometry, strict=True):
        polygons = shapely.get_parts(geom)
        assert len(feature) == len(polygons)
        for rings, polygon in zip(feature, polygons, strict=True):
            expected = shapely.get_rings(polygon)
            assert len(rings) == len(expected)
            for flat, ring in zip(rings, expected, strict=True):
                xy = np.cumsum(np.asarray(flat).reshape(-1, 2), axis=0) + origin
                want = np.rint(shapely.get_coordinates(ring)[:-1] * 1e6)
                assert np.array_equal(xy, want)


# --------------------------------------------------------------------------- offline


def external_links(text: str) -> list[str]:
    tags = re.findall(r"<(?:script|link)\b[^>]*>", text, flags=re.IGNORECASE)
    return [t for t in tags if re.search(r"(?:src|href)\s*=\s*[\"']?https?://", t)]


def test_online_page_links_cdns(result):
    assert external_links(page(maps.package_map(result, tiles=None)))


@needs_assets
def test_offline_page_inlines_everything(result, layout, tmp_path):
    for m in (
        maps.package_map(result, offline=True, catchments=True),
        maps.parcel_map(layout, offline=True, assets=ASSETS),
    ):
        path = tmp_path / "map.html"
        m.save(str(path))
        text = path.read_text(encoding="utf-8")
        assert external_links(text) == []
        assert "Leaflet 1.9.3" in text  # Leaflet's own code, inlined
        assert "L.Control.Measure" in text and "fullscreen" in text
        assert "url(images/" not in text  # CSS images are data URIs now


def test_offline_without_assets_names_the_npm_command(result, tmp_path, monkeypatch):
    monkeypatch.delenv("NMGEO_ASSETS", raising=False)
    with pytest.raises(InputError, match="npm install .*leaflet@1.9.3"):
        maps.package_map(result, offline=True)
    with pytest.raises(InputError, match="does not exist.*npm install"):
        maps.package_map(result, offline=True, assets=tmp_path / "nowhere")
    (tmp_path / "leaflet" / "dist").mkdir(parents=True)
    with pytest.raises(InputError, match=r"leaflet\.js.*missing.*npm install"):
        maps.parcel_map(
            gpd.GeoDataFrame({"land_use": ["commercial"]}, geometry=[lot(0, 0)], crs="EPSG:2326"),
            offline=True,
            assets=tmp_path,
        )


def test_sample_package_map_builds(sample_result):
    sample, res = sample_result
    m = maps.package_map(res, parcels=sample.parcels.head(2000), tiles=None)
    text = page(m)
    assert len(payload(text, "parcels")["classes"]) == 2000
    assert pd.notna(res.packages["area_ha"]).all()


def test_plain_quadrilateral_lots_are_not_simplified():
    lots = gpd.GeoDataFrame(
        {"parcel_id": ["a", "b"]},
        geometry=[
            shapely.box(X0, Y0, X0 + 40, Y0 + 30),
            shapely.Polygon(
                [(X0 + 40, Y0), (X0 + 80, Y0), (X0 + 80.3, Y0 + 30), (X0 + 40, Y0 + 30)]
            ),
        ],
        crs="EPSG:2326",
    )
    light = maps._light_layer(lots, ["parcel_id"])
    expected = np.round(shapely.get_coordinates(lots.to_crs(4326).geometry.to_numpy()), 6)
    np.testing.assert_array_equal(shapely.get_coordinates(light.geometry.to_numpy()), expected)


def test_removable_share_counts_vertices_below_the_tolerance_squared():
    # Ring (0,0) (50,y) (100,0) (100,100) (0,100): the vertices after the first are tested;
    # (50, y) makes a triangle of 50 * y m2 with its neighbours, against 0.5 ** 2 = 0.25 m2.
    def ring(y: float) -> shapely.Polygon:
        return shapely.Polygon(
            [(X0, Y0), (X0 + 50, Y0 + y), (X0 + 100, Y0), (X0 + 100, Y0 + 100), (X0, Y0 + 100)]
        )

    assert maps._removable_share(np.array([ring(0.0)]), 0.5) == 0.25
    assert maps._removable_share(np.array([ring(0.004)]), 0.5) == 0.25  # 0.2 m2
    assert maps._removable_share(np.array([ring(0.1)]), 0.5) == 0.0  # 5 m2
    holed = shapely.Polygon(ring(0.0).exterior, [box(X0 + 10, Y0 + 10, X0 + 20, Y0 + 20).exterior])
    assert maps._removable_share(np.array([holed]), 0.5) == 1 / 7  # 4 + 3 vertices tested
    assert maps._removable_share(np.empty(0, dtype=object), 0.5) == 0.0


def test_layers_with_many_near_collinear_vertices_are_simplified_as_a_coverage():
    # Two lots sharing an edge, every edge cut into 1 m steps: almost every vertex can go.
    lots = gpd.GeoDataFrame(
        {"parcel_id": ["a", "b"]},
        geometry=shapely.segmentize(
            np.array([box(X0, Y0, X0 + 40, Y0 + 30), box(X0 + 40, Y0, X0 + 80, Y0 + 30)]), 1.0
        ),
        crs="EPSG:2326",
    )
    assert maps._removable_share(lots.geometry.to_numpy(), 0.5) > 0.9
    light = maps._light_layer(lots, ["parcel_id"])
    assert shapely.get_num_coordinates(light.geometry.to_numpy()).tolist() == [5, 5]
    a, b = light.geometry.to_numpy()
    shared = shapely.intersection(a.boundary, b.boundary)
    assert shapely.get_type_id(shared) == 1 and shapely.length(shared) > 0  # still one edge


def test_layers_with_few_removable_vertices_are_not_simplified():
    # One near-collinear vertex of seven tested per lot: under MIN_REMOVABLE_SHARE.
    def notched(i: int) -> shapely.Polygon:
        x = X0 + 200 * i
        return shapely.Polygon(
            [
                (x, Y0),
                (x + 50, Y0),
                (x + 100, Y0),
                (x + 100, Y0 + 60),
                (x + 70, Y0 + 60),
                (x + 70, Y0 + 100),
                (x + 30, Y0 + 100),
                (x, Y0 + 60),
            ]
        )

    lots = gpd.GeoDataFrame({"parcel_id": ["a", "b"]}, geometry=[notched(0), notched(1)], crs=2326)
    assert maps._removable_share(lots.geometry.to_numpy(), 0.5) == 1 / 7 < maps.MIN_REMOVABLE_SHARE
    light = maps._light_layer(lots, ["parcel_id"])
    expected = np.round(shapely.get_coordinates(lots.to_crs(4326).geometry.to_numpy()), 6)
    np.testing.assert_array_equal(shapely.get_coordinates(light.geometry.to_numpy()), expected)


# --------------------------------------------------------------------------- templates

JINJA = [
    "{{ 7 * 7 }}",
    "{% raw %}",
    "{# comment",
    "{{ lipsum.__globals__.__builtins__.open(marker, 'w').write('ran') }}",
]


@pytest.mark.parametrize("make", ["parcel_map", "package_map"])
def test_text_in_the_data_is_never_run_as_a_template(make, tmp_path):
    marker = tmp_path / "ran.txt"
    labels = [j.replace("marker", repr(str(marker))) for j in JINJA]
    lots = gpd.GeoDataFrame(
        {"parcel_id": labels, "land_use": ["commercial"] * len(labels)},
        geometry=[box(X0 + 120 * i, Y0, X0 + 120 * i + 100, Y0 + 100) for i in range(len(labels))],
        crs="EPSG:2326",
    )
    if make == "parcel_map":
        m = maps.parcel_map(lots, tiles=None)
    else:
        result = nmgeo.build_packages(lots, min_area_ha=0.1)
        m = maps.package_map(result, parcels=lots, tiles=None)
    path = tmp_path / "page.html"
    m.save(path)  # an unbalanced {% would fail here if the text were parsed
    text = path.read_text(encoding="utf-8")
    assert not marker.exists()  # the Python in the label never ran
    for label in labels[:3]:
        assert json.dumps(label)[1:-1] in text  # each label is in the page, as written
    assert "lipsum.__globals__.__builtins__.open(" in text
