"""Shared pytest fixtures: writing small layers to disk in the formats users bring."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pyogrio
import pytest

# Logger levels before any test ran (module-scoped fixtures run the CLI before a test).
_LOGGERS = (logging.getLogger(), logging.getLogger("nmgeo"))
_LEVELS = tuple(logger.level for logger in _LOGGERS)


@pytest.fixture(autouse=True)
def _nmgeo_log_level():
    """Reset the root and "nmgeo" loggers' levels around each test: a CLI run (``-q``) sets
    them, as a command line should, and must not silence the warnings a later test checks."""
    for logger, level in zip(_LOGGERS, _LEVELS, strict=True):
        logger.setLevel(level)
    yield
    for logger, level in zip(_LOGGERS, _LEVELS, strict=True):
        logger.setLevel(level)


# --------------------------------------------------------------------------- browser


def _unavailable(reason: str) -> None:
    import browser

    if os.environ.get(browser.REQUIRE_ENV) == "1":
        pytest.fail(f"{browser.REQUIRE_ENV}=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def assets() -> str:
    """The offline map assets (a node_modules folder from .ci/assets.sh), or skip."""
    folder = os.environ.get("NMGEO_ASSETS")
    if not folder or not Path(folder).is_dir():
        _unavailable("NMGEO_ASSETS is not set to a node_modules folder (.ci/assets.sh)")
    return folder


@pytest.fixture(scope="module")
def driver():
    """A headless Chromium WebDriver, or skip (fail with NMGEO_REQUIRE_BROWSER=1)."""
    import browser

    reason = browser.missing()
    if reason:
        _unavailable(reason)
    with browser.chromium() as d:
        yield d


# format key -> (file suffix, pyogrio driver; None for GeoParquet)
LAYER_FORMATS = {
    "geojson": (".geojson", "GeoJSON"),
    "gpkg": (".gpkg", "GPKG"),
    "shp": (".shp", "ESRI Shapefile"),
    "fgb": (".fgb", "FlatGeobuf"),
    "parquet": (".parquet", None),
    "gdb": (".gdb", "OpenFileGDB"),
}


def can_write(driver: str | None) -> bool:
    """True if pyogrio (GDAL) can write ``driver``; GeoParquet (None) needs only pyarrow."""
    return driver is None or "w" in pyogrio.list_drivers().get(driver, "")


@pytest.fixture
def write_layer(tmp_path):
    """Return ``write(gdf, fmt, name="layer", layer=None) -> Path`` writing into tmp_path.

    ``fmt`` is a key of LAYER_FORMATS; ``layer`` names the layer in a GeoPackage or File
    Geodatabase (several calls with the same name add layers to one file). Formats the
    local GDAL cannot write are skipped.
    """

    def write(gdf, fmt: str, name: str = "layer", layer: str | None = None) -> Path:
        suffix, driver = LAYER_FORMATS[fmt]
        if not can_write(driver):
            pytest.skip(f"GDAL cannot write {driver} here")
        path = tmp_path / f"{name}{suffix}"
        if driver is None:
            gdf.to_parquet(path)
        else:
            kwargs = {"layer": layer} if layer is not None else {}
            gdf.to_file(path, driver=driver, engine="pyogrio", **kwargs)
        return path

    return write
