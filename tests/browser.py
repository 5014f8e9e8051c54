"""Headless Chromium for the map tests and benchmark: find it, open a page, time its render."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REQUIRE_ENV = "NMGEO_REQUIRE_BROWSER"


def missing() -> str | None:
    """Why a browser test cannot run here, or None if it can."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} not found (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    return None


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A headless Chromium WebDriver with browser console logging; quit on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="nmgeo-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_map(driver: Any, path: str | os.PathLike, timeout: float = 60.0) -> float:
    """Open a saved map via file:// and wait for its first full render.

    Pages made by nmgeo set ``window.nmgeo.rendered`` (ms since navigation start) two
    animation frames after every layer was built, i.e. once the canvas has been drawn.
    Other pages (plain folium) are considered rendered when the ``load`` event has fired
    and two animation frames have passed, measured from navigation start.

    Returns
    -------
    float
        Seconds from navigation start to the first full render.
    """
    driver.set_page_load_timeout(timeout)
    driver.get(Path(path).resolve().as_uri())
    script = """
        var done = arguments[arguments.length - 1];
        function check() {
            if (window.nmgeo && window.nmgeo.rendered) { done(window.nmgeo.rendered); return; }
            if (!window.nmgeo && document.readyState === "complete") {
                requestAnimationFrame(function () { requestAnimationFrame(function () {
                    done(performance.now());
                }); });
                return;
            }
            setTimeout(check, 20);
        }
        check();
    """
    driver.set_script_timeout(timeout)
    start = time.perf_counter()
    ms = driver.execute_async_script(script)
    if ms is None:  # pragma: no cover - defensive
        ms = (time.perf_counter() - start) * 1000
    return float(ms) / 1000.0


def severe_logs(driver: Any) -> list[dict[str, Any]]:
    """Browser console entries of level SEVERE since the last call."""
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
