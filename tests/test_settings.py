"""nmgeo.settings: each setting wins over its environment variable, which is its default."""

from __future__ import annotations

import os

import geopandas as gpd
import pytest
from shapely.geometry import box

import nmgeo
from nmgeo import settings
from nmgeo._threads import n_threads
from nmgeo.errors import InputError, SampleDataError


@pytest.fixture(autouse=True)
def _reset():
    yield
    settings.threads = settings.assets = settings.sample_dir = settings.cache_dir = None
    settings.pause_gc = None


def test_threads_setting_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("NMGEO_THREADS", "4")
    assert n_threads() == 4
    settings.threads = 1
    assert n_threads() == settings.current_threads() == 1
    settings.threads = None
    monkeypatch.delenv("NMGEO_THREADS")
    assert n_threads() == max(1, os.cpu_count() or 1)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_a_threads_setting_that_is_no_count_is_refused(bad):
    settings.threads = bad
    with pytest.raises(InputError, match="nmgeo.settings.threads"):
        n_threads()


def test_assets_setting_is_where_offline_maps_look_first(monkeypatch, tmp_path):
    monkeypatch.setenv("NMGEO_ASSETS", str(tmp_path / "from-env"))
    assert settings.current_assets() == tmp_path / "from-env"
    settings.assets = tmp_path / "from-code"
    assert settings.current_assets() == tmp_path / "from-code"
    lots = gpd.GeoDataFrame(
        {"parcel_id": ["A"], "land_use": ["commercial"]},
        geometry=[box(830_000, 840_000, 830_100, 840_100)],
        crs=2326,
    )
    # The folder named by the setting is the one checked (it does not exist here).
    with pytest.raises(InputError, match="from-code"):
        nmgeo.parcel_map(lots, offline=True, tiles=None)


def test_an_assets_folder_alone_does_not_make_a_map_offline(monkeypatch, tmp_path):
    settings.assets = tmp_path / "nowhere"
    lots = gpd.GeoDataFrame(
        {"parcel_id": ["A"], "land_use": ["commercial"]},
        geometry=[box(830_000, 840_000, 830_100, 840_100)],
        crs=2326,
    )
    page = nmgeo.parcel_map(lots, tiles=None).get_root().render()
    assert "<script src=" in page  # the CDN scripts, not inlined ones


def test_sample_dir_setting_wins_and_a_wrong_one_names_itself(monkeypatch, tmp_path):
    monkeypatch.delenv("NMGEO_SAMPLE_DIR", raising=False)
    settings.sample_dir = tmp_path
    with pytest.raises(SampleDataError, match="nmgeo.settings.sample_dir=") as err:
        nmgeo.datasets.sample_dir()
    assert str(tmp_path) in str(err.value)
    settings.sample_dir = None
    assert (nmgeo.datasets.sample_dir() / "nm_sample.gpkg").is_file()


def test_cache_dir_setting_moves_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert settings.current_cache_dir() == tmp_path / "xdg" / "nmgeo"
    settings.cache_dir = tmp_path / "mine"
    assert settings.current_cache_dir() == tmp_path / "mine" / "nmgeo"
