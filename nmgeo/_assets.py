"""Offline bundling: inline the JavaScript and CSS of a folium page from a local npm folder."""

from __future__ import annotations

import base64
import logging
import os
import re
from pathlib import Path

import branca.element
import folium
from folium.elements import JSCSSMixin

from nmgeo import settings
from nmgeo.errors import InputError

__all__ = ["ASSETS_ENV", "NPM_PACKAGES", "asset_file", "assets_dir", "bundle"]

logger = logging.getLogger("nmgeo.maps")

ASSETS_ENV = settings.ASSETS_ENV
# The npm packages (exact versions folium 0.20 references) an offline page is built from.
NPM_PACKAGES: tuple[str, ...] = (
    "leaflet@1.9.3",
    "leaflet.fullscreen@3.0.0",
    "leaflet-measure@2.1.7",
)
INSTALL_HINT = (
    "npm install --prefix DIR --no-audit --no-fund "
    + " ".join(NPM_PACKAGES)
    + f" (or .ci/assets.sh DIR), then pass assets=DIR/node_modules or set {ASSETS_ENV}"
)

# CDN address used by folium -> file in node_modules. The gh/ljagis address serves the
# GitHub tag; npm ships the same build without a minified CSS.
_CDN_TO_NPM: dict[str, str] = {
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js": "leaflet/dist/leaflet.js",
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css": "leaflet/dist/leaflet.css",
    "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.min.js": (
        "leaflet.fullscreen/Control.FullScreen.js"
    ),
    "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.css": (
        "leaflet.fullscreen/Control.FullScreen.css"
    ),
    "https://cdn.jsdelivr.net/gh/ljagis/leaflet-measure@2.1.7/dist/leaflet-measure.min.js": (
        "leaflet-measure/dist/leaflet-measure.min.js"
    ),
    "https://cdn.jsdelivr.net/gh/ljagis/leaflet-measure@2.1.7/dist/leaflet-measure.min.css": (
        "leaflet-measure/dist/leaflet-measure.css"
    ),
}
_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".gif": "image/gif", ".jpg": "image/jpeg"}
_CSS_URL = re.compile(r"url\(\s*(['\"]?)([^)'\"]+)\1\s*\)")


def assets_dir(assets: str | os.PathLike | None = None) -> Path:
    """The ``node_modules`` folder offline pages are built from.

    Parameters
    ----------
    assets : str or path-like, optional
        The folder; ``None`` is :data:`nmgeo.settings.assets`, whose default is the
        ``NMGEO_ASSETS`` environment variable.

    Returns
    -------
    pathlib.Path
        The existing folder.

    Raises
    ------
    InputError
        If neither is given or the folder does not exist; the message gives the
        ``npm install`` command that creates it.
    """
    if assets is None:
        assets = settings.current_assets()
    if assets is None:
        msg = f"offline=True needs a node_modules folder with the map assets: {INSTALL_HINT}"
        raise InputError(msg)
    path = Path(assets)
    if not path.is_dir():
        msg = f"map assets folder {str(path)!r} does not exist: {INSTALL_HINT}"
        raise InputError(msg)
    return path


def asset_file(url: str, folder: Path) -> Path:
    """The local file in ``folder`` that replaces the CDN address ``url``."""
    relative = _CDN_TO_NPM.get(url)
    if relative is None:
        msg = (
            f"no local copy is known for {url}; offline maps support Leaflet, "
            "Fullscreen and MeasureControl only"
        )
        raise InputError(msg)
    path = folder / relative
    if not path.is_file():
        msg = f"map asset {str(path)!r} is missing: {INSTALL_HINT}"
        raise InputError(msg)
    return path


def _inline_css_urls(css: str, base: Path) -> str:
    """Replace relative ``url(...)`` in CSS by data URIs; unresolvable ones by an empty URI."""

    def replace(match: re.Match[str]) -> str:
        ref = match.group(2).strip()
        if ref.startswith("data:"):
            return match.group(0)
        target = (base / ref.split("?")[0].split("#")[0]).resolve()
        mime = _MIME.get(target.suffix.lower())
        if mime is None or not target.is_file():
            return 'url("data:,")'
        data = base64.b64encode(target.read_bytes()).decode("ascii")
        return f'url("data:{mime};base64,{data}")'

    return _CSS_URL.sub(replace, css)


def _elements(root: branca.element.Element) -> list[branca.element.Element]:
    out = [root]
    for child in root._children.values():
        out.extend(_elements(child))
    return out


def bundle(m: folium.Map, *, offline: bool, assets: str | os.PathLike | None = None) -> None:
    """Make the page of ``m`` load its JS/CSS inline from local files (``offline=True``).

    Every element of the map that links JavaScript or CSS (the map itself and its
    plugins) has its links replaced by one inline ``<script>`` / ``<style>`` in the page
    header, read from the npm ``node_modules`` folder (see :func:`assets_dir`). Images
    that the CSS references are embedded as data URIs. Call it after every element is
    on the map: elements added later keep their CDN links.

    Parameters
    ----------
    m : folium.Map
        The map, changed in place.
    offline : bool
        ``False`` does nothing.
    assets : str or path-like, optional
        The ``node_modules`` folder; defaults to ``$NMGEO_ASSETS``.

    Raises
    ------
    InputError
        If the folder or one of the files is missing.
    """
    if not offline:
        return
    folder = assets_dir(assets)
    js: dict[str, Path] = {}
    css: dict[str, Path] = {}
    for element in _elements(m):
        if not isinstance(element, JSCSSMixin):
            continue
        for name, url in element.default_js:
            js.setdefault(name, asset_file(url, folder))
        for name, url in element.default_css:
            css.setdefault(name, asset_file(url, folder))
        element.default_js = []
        element.default_css = []
    header = m.get_root().header
    size = 0
    for name, path in css.items():
        text = _inline_css_urls(path.read_text(encoding="utf-8"), path.parent)
        text = text.replace("</style", "<\\/style")
        header.add_child(branca.element.Element(f"<style>{text}</style>"), name=f"{name}_inline")
        size += len(text)
    for name, path in js.items():
        text = path.read_text(encoding="utf-8").replace("</script", "<\\/script")
        header.add_child(branca.element.Element(f"<script>{text}</script>"), name=f"{name}_inline")
        size += len(text)
    logger.info(
        "offline map: inlined %d JS and %d CSS files (%d kB)", len(js), len(css), size // 1024
    )
