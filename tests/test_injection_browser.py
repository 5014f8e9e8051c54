"""Every text input of the maps and reports, made hostile, opened in Chromium: nothing runs.

Each field gets a payload carrying the usual ways out of its context (a closing script
tag, an HTML element with an event handler, an attribute break, a JavaScript string
break, a template literal, a javascript: URL, a Jinja expression writing a script tag),
each of which would record the field's name in ``window.__xss`` if it ran. A positive
control proves the check sees a payload that does run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

import nmgeo
from nmgeo import maps

sys.path.insert(0, str(Path(__file__).parent))
import browser  # noqa: E402

pytestmark = pytest.mark.browser

X0, Y0 = 826_000.0, 840_000.0


def payload(field: str) -> str:
    run = f"(window.__xss=window.__xss||[]).push('{field}')"
    return (
        f"{field}:</script><script>{run}</script>"
        f'<img src=x onerror="{run}">'
        f'"><svg onload="{run}">'
        f"'><img src=x onerror={run}>"
        f"';{run};//"
        f'";{run};//'
        f"`${{{run}}}`"
        f"javascript:{run}" + JINJA_OPEN + run + JINJA_CLOSE
        # Jinja: were the text rendered as a template, this would write a script tag.
    )


JINJA_OPEN = '{{ "%c/script%c%cscript%c" % (60, 62, 60, 62) }}'
JINJA_CLOSE = '{{ "%c/script%c" % (60, 62) }}'


HOSTILE_COLUMN = payload("column name")
HOVER_ALL = """
var done = arguments[arguments.length - 1];
var map = window.nmgeo.map, shown = {};
Object.keys(window.nmgeo.layers).forEach(function (key) {
    var group = window.nmgeo.layers[key];
    if (!group.getLayers) { return; }
    group.getLayers().slice(0, 5).forEach(function (layer) {
        if (!layer.getBounds) { return; }
        var c = layer.getBounds().getCenter();
        map.fitBounds(layer.getBounds());
        var e = {latlng: c, layerPoint: map.latLngToLayerPoint(c),
                 containerPoint: map.latLngToContainerPoint(c)};
        layer.fire("mouseover", e, true);
        layer.fire("mousemove", e, true);
        layer.fire("click", e, true);
        var tip = group.getTooltip && group.getTooltip();
        var el = tip && tip.getElement();
        if (el) { shown[key] = (shown[key] || "") + el.textContent; }
    });
});
setTimeout(function () { done(shown); }, 500);
"""


# The browser fixtures (assets, driver) are in conftest.py.


@pytest.fixture(scope="module")
def hostile():
    """Zones and lots whose every text field is a payload naming that field."""
    zones = gpd.GeoDataFrame(
        {
            "zone_label": [payload("zone_label C"), payload("zone_label G/IC")],
            "plan_no": [payload("plan_no")] * 2,
            "description": [payload("description")] * 2,
            "specified_use": [payload("specified_use")] * 2,
            "land_use": ["commercial", "public_facility"],
        },
        geometry=[box(X0, Y0, X0 + 200, Y0 + 150), box(X0 + 200, Y0, X0 + 350, Y0 + 150)],
        crs="EPSG:2326",
    )
    lots = gpd.GeoDataFrame(
        {
            "parcel_id": [payload("parcel_id 1"), payload("parcel_id 2")],
            HOSTILE_COLUMN: [payload("lot field 1"), payload("lot field 2")],
        },
        geometry=[
            box(X0 + 20, Y0 + 20, X0 + 80, Y0 + 80),
            box(X0 + 220, Y0 + 20, X0 + 260, Y0 + 60),
        ],
        crs="EPSG:2326",
    )
    fabric = nmgeo.land_fabric(zones, lots)
    result = nmgeo.build_packages(fabric, min_area_ha=0.1)
    assert len(result.packages) == 1
    return zones, lots, fabric, result


def _opened(driver, path: Path) -> None:
    driver.get(path.resolve().as_uri())
    driver.execute_async_script("var done = arguments[0]; setTimeout(done, 300);")


def _ran(driver) -> list:
    return driver.execute_script("return window.__xss || []")


def test_the_check_sees_a_payload_that_runs(driver, tmp_path):
    path = tmp_path / "control.html"
    path.write_text(f"<!DOCTYPE html><html><body>{payload('control')}</body></html>")
    _opened(driver, path)
    assert "control" in _ran(driver)
    browser.severe_logs(driver)  # its image request failed; clear the log for the next tests


def test_a_package_map_of_hostile_data_runs_nothing(driver, assets, hostile, tmp_path):
    _, _, fabric, result = hostile
    path = tmp_path / "packages.html"
    maps.package_map(result, parcels=fabric, tiles=None, offline=True, assets=assets).save(path)
    browser.open_map(driver, path)
    shown = driver.execute_async_script(HOVER_ALL)
    assert _ran(driver) == []
    # The tooltips were drawn, with the hostile text shown as text.
    assert set(shown) >= {"packages", "members", "parcels"}
    assert "zone_label C:</script>" in shown["members"]
    assert "parcel_id 1:</script>" in shown["parcels"]
    assert browser.severe_logs(driver) == []


def test_a_parcel_map_coloured_and_labelled_by_hostile_columns_runs_nothing(
    driver, assets, hostile, tmp_path
):
    _, lots, _, _ = hostile
    path = tmp_path / "parcels.html"
    m = maps.parcel_map(
        lots,
        color_by=HOSTILE_COLUMN,
        tooltip=("parcel_id", HOSTILE_COLUMN),
        tiles=None,
        offline=True,
        assets=assets,
    )
    m.save(path)
    browser.open_map(driver, path)
    shown = driver.execute_async_script(HOVER_ALL)
    assert _ran(driver) == []
    assert "lot field 1:</script>" in shown["parcels"]
    assert "column name:</script>" in shown["parcels"]  # the column name labels the value
    for selector in (".leaflet-control-layers", ".nmgeo-legend"):
        text = driver.execute_script(f"return document.querySelector('{selector}').textContent")
        assert "olumn name:</script>" in text, selector  # the legend capitalises its title
    assert browser.severe_logs(driver) == []


def _report_tables(result) -> dict[str, pd.DataFrame]:
    table = nmgeo.package_report(result)
    hostile = pd.DataFrame({HOSTILE_COLUMN: [payload("cell")], "n": [1]})
    return {"packages": table, "members": result.members, payload("table name"): hostile}


def test_an_html_report_with_a_hostile_title_tables_and_map_runs_nothing(
    driver, assets, hostile, tmp_path
):
    _, _, fabric, result = hostile
    fmap = maps.package_map(result, parcels=fabric, tiles=None, offline=True, assets=assets)
    written = nmgeo.write_report(
        _report_tables(result),
        tmp_path / "report",
        formats=["html"],
        title=payload("title"),
        map=fmap,
    )
    _opened(driver, written["html"])
    assert _ran(driver) == []
    frame_ran = driver.execute_async_script(
        """
        var done = arguments[0], frame = document.querySelector('iframe');
        function check() {
            var w = frame.contentWindow;
            if (w.nmgeo && w.nmgeo.rendered) { done([true, w.__xss || []]); return; }
            setTimeout(check, 50);
        }
        check();
        """
    )
    assert frame_ran == [True, []]  # the embedded map rendered, and ran nothing either
    text = driver.execute_script("return document.body.textContent")
    assert "title:</script>" in text and "table name:</script>" in text
    assert "cell:</script>" in text and "zone_label C:</script>" in text
    assert browser.severe_logs(driver) == []


def test_a_markdown_report_rendered_to_html_runs_nothing(driver, hostile, tmp_path):
    markdown = pytest.importorskip("markdown")
    _, _, _, result = hostile
    written = nmgeo.write_report(
        _report_tables(result), tmp_path / "report", formats=["md"], title=payload("title")
    )
    # Python-Markdown passes raw HTML through, as most renderers do before sanitising.
    body = markdown.markdown(written["md"].read_text(encoding="utf-8"), extensions=["tables"])
    page = tmp_path / "rendered.html"
    page.write_text(f"<!DOCTYPE html><html><body>{body}</body></html>", encoding="utf-8")
    _opened(driver, page)
    assert _ran(driver) == []
    text = driver.execute_script("return document.body.textContent")
    assert "title:</script>" in text and "cell:</script>" in text
