"""Maps opened in headless Chromium: they render offline, completely, and safely."""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box

import nmgeo
from nmgeo import maps

sys.path.insert(0, str(Path(__file__).parent))
import browser  # noqa: E402

pytestmark = pytest.mark.browser

XSS = '<img src=x onerror="window.__xss=1">'
# Move the mouse onto a layer: Leaflet's own mouseover, propagated to its group.
HOVER = """
function hover(layer) {
    var map = window.nmgeo.map, c = layer.getBounds().getCenter();
    map.fitBounds(layer.getBounds());
    var e = {latlng: c, layerPoint: map.latLngToLayerPoint(c),
             containerPoint: map.latLngToContainerPoint(c)};
    layer.fire("mouseover", e, true);
    layer.fire("mousemove", e, true);
}
"""


# The browser fixtures (assets, driver) are in conftest.py.


@pytest.fixture(scope="module")
def sample_result():
    sample = nmgeo.load_sample()
    return nmgeo.build_packages(sample.zones, sample.parcels)  # on the land fabric


@pytest.fixture(scope="module")
def package_page(sample_result, assets, driver, tmp_path_factory):
    # No tiles: the test machine has no internet, and failed tile requests are console errors.
    m = maps.package_map(sample_result, tiles=None, catchments=True, offline=True, assets=assets)
    path = tmp_path_factory.mktemp("maps") / "packages.html"
    m.save(str(path))
    seconds = browser.open_map(driver, path)
    return driver, seconds


def test_offline_package_map_renders_without_console_errors(package_page):
    driver, seconds = package_page
    assert browser.severe_logs(driver) == []
    assert driver.execute_script("return typeof L === 'object' && L.version") == "1.9.3"
    assert 0 < seconds < 30


def test_every_package_is_drawn(package_page, sample_result):
    driver, _ = package_page
    n = driver.execute_script("return window.nmgeo.layers.packages.getLayers().length")
    assert n == len(sample_result.packages)
    members = driver.execute_script("return window.nmgeo.layers.members.getLayers().length")
    assert members == int(sample_result.parcels["package_id"].notna().sum())


def test_package_tooltip_shows_its_area(package_page, sample_result):
    driver, _ = package_page
    text = driver.execute_script(
        HOVER
        + """
        var group = window.nmgeo.layers.packages;
        var layer = group.getLayers()[0];
        hover(layer);
        var el = group.getTooltip().getElement();
        return [layer.feature.properties.package_id, el ? el.textContent : null];
        """
    )
    package_id, shown = text
    row = sample_result.packages.set_index("package_id").loc[package_id]
    assert f"{row['area_ha']:,.2f}" in shown
    assert package_id in shown


def test_tooltip_of_a_hostile_parcel_id_runs_no_script(driver, assets, tmp_path):
    lots = gpd.GeoDataFrame(
        {"parcel_id": [XSS, "ok"], "land_use": ["commercial", "residential"]},
        geometry=[
            box(826_000, 840_000, 826_100, 840_100),
            box(826_100, 840_000, 826_200, 840_100),
        ],
        crs="EPSG:2326",
    )
    path = tmp_path / "xss.html"
    maps.parcel_map(lots, tiles=None, offline=True, assets=assets).save(str(path))
    browser.open_map(driver, path)
    shown = driver.execute_script(
        HOVER
        + """
        var group = window.nmgeo.layers.parcels;
        hover(group.getLayers()[0]);
        return group.getTooltip().getElement().textContent;
        """
    )
    driver.execute_async_script("var done = arguments[0]; setTimeout(done, 300);")
    assert XSS in shown  # shown as text ...
    assert driver.execute_script("return window.__xss === undefined")  # ... never run
    assert browser.severe_logs(driver) == []


def test_a_map_of_no_package_renders_and_says_why(driver, assets, tmp_path):
    # Village and G/IC land only: candidates (the facility) but no commercial land.
    zones = gpd.GeoDataFrame(
        {"zone_label": ["V", "G/IC"], "land_use": ["village", "public_facility"]},
        geometry=[
            box(826_000, 840_000, 826_300, 840_200),
            box(826_310, 840_000, 826_600, 840_200),
        ],
        crs="EPSG:2326",
    )
    result = nmgeo.build_packages(nmgeo.land_fabric(zones))
    assert len(result.packages) == 0
    path = tmp_path / "empty.html"
    maps.package_map(result, tiles=None, offline=True, assets=assets).save(str(path))
    browser.open_map(driver, path)
    assert browser.severe_logs(driver) == []
    note = driver.execute_script(
        "var el = document.querySelector('.nmgeo-note'); return el ? el.textContent : null;"
    )
    assert note == result.summary()
    assert "no commercial-zoned site" in note
    assert driver.execute_script("return window.nmgeo.layers.packages === undefined")
    # The view is fitted to the candidate land (the G/IC site), not to all of Hong Kong.
    centre = gpd.GeoSeries([box(826_310, 840_000, 826_600, 840_200).centroid], crs=2326)
    lon, lat = centre.to_crs(4326).iloc[0].coords[0]
    inside, zoom = driver.execute_script(
        f"var m = window.nmgeo.map; return [m.getBounds().contains(L.latLng({lat}, {lon})),"
        " m.getZoom()];"
    )
    assert inside and zoom >= 14


def test_a_hostile_column_name_used_for_colouring_runs_no_script(driver, assets, tmp_path):
    # The column name reaches the layer control, the legend and the tooltips.
    lots = gpd.GeoDataFrame(
        {"parcel_id": ["a", "b"], XSS: [XSS, "ok"]},
        geometry=[
            box(826_000, 840_000, 826_100, 840_100),
            box(826_100, 840_000, 826_200, 840_100),
        ],
        crs="EPSG:2326",
    )
    path = tmp_path / "xss_column.html"
    maps.parcel_map(lots, color_by=XSS, tiles=None, offline=True, assets=assets).save(str(path))
    browser.open_map(driver, path)
    driver.execute_async_script("var done = arguments[0]; setTimeout(done, 300);")
    assert driver.execute_script("return window.__xss === undefined")
    control = driver.execute_script(
        "return document.querySelector('.leaflet-control-layers').textContent"
    )
    assert XSS in control  # shown as text
    legend = driver.execute_script("return document.querySelector('.nmgeo-legend').textContent")
    assert XSS in legend
    assert browser.severe_logs(driver) == []
