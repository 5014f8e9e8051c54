"""The robustness map of a scenario sweep opened in headless Chromium."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cadastre import b, zones_of

import nmgeo
from nmgeo.scenarios import run_scenarios

sys.path.insert(0, str(Path(__file__).parent))
import browser  # noqa: E402
from test_maps_browser import HOVER  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def sweep():
    # A 3 ha commercial site packaged in every scenario; two 1.5 ha ones 20 m apart that
    # are a package only across a 30 m gap.
    fabric = nmgeo.land_fabric(
        zones_of(
            [
                ("C", "commercial", b(0, 0, 100, 150)),
                ("C", "commercial", b(120, 0, 220, 150)),
                ("C", "commercial", b(1000, 0, 1200, 150)),
            ]
        )
    )
    return run_scenarios(fabric, {"gap_tolerance": [15, 30]}, client=False, progress=False)


@pytest.fixture(scope="module")
def page(sweep, assets, driver, tmp_path_factory):
    m = nmgeo.robustness_map(sweep, tiles=None, offline=True, assets=assets)
    path = tmp_path_factory.mktemp("robustness") / "robustness.html"
    m.save(str(path))
    browser.open_map(driver, path)
    return driver


def test_the_robustness_map_renders_every_site_and_piece(page, sweep):
    assert browser.severe_logs(page) == []
    n_sites = page.execute_script("return window.nmgeo.layers.sites.getLayers().length")
    assert n_sites == len(sweep.sites) == 2
    assert page.execute_script("return window.nmgeo.layers.pieces !== undefined")


def test_a_sites_tooltip_says_how_robust_it_is_and_what_it_needs(page, sweep):
    shown = page.execute_script(
        HOVER
        + """
        var group = window.nmgeo.layers.sites;
        var out = [];
        group.getLayers().forEach(function (layer) {
            hover(layer);
            var el = group.getTooltip().getElement();
            out.push([layer.feature.properties.site_id, el ? el.textContent : null]);
        });
        return out;
        """
    )
    texts = dict(shown)
    rows = sweep.sites.set_index("site_id")
    assert set(texts) == set(rows.index)
    for site, text in texts.items():
        assert f"{rows.loc[site, 'robustness']:.2f}" in text
        assert rows.loc[site, "only_when"] in text
    assert "gap_tolerance in {30}" in texts["S002"]
