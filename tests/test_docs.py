"""The documentation site builds in strict mode and documents the public API."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_api import BASE, FLOW

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# Every public module but the command line has its block on the API page.
API_MODULES = tuple(m for m in (*FLOW, *BASE) if m != "cli")


def _require_mkdocs() -> None:
    """Skip without mkdocs, unless NMGEO_REQUIRE_DOCS=1 makes the docs build compulsory.

    With mkdocs present, missing plugins (mkdocs-material, mkdocstrings) fail the build.
    """
    if importlib.util.find_spec("mkdocs") is not None:
        return
    msg = 'mkdocs is not installed; pip install -e ".[docs]" to build the documentation'
    if os.environ.get("NMGEO_REQUIRE_DOCS") == "1":
        pytest.fail(f"{msg} (NMGEO_REQUIRE_DOCS=1 requires it)")
    pytest.skip(msg)


def _nav_pages() -> list[str]:
    """Markdown files named in mkdocs.yml's nav (read as text: no YAML tags to resolve)."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text.split("\nnav:", 1)[1]
    nav = re.split(r"\n\S", nav, maxsplit=1)[0]  # up to the next top-level key
    return re.findall(r"([\w./-]+\.md)\s*$", nav, flags=re.MULTILINE)


def test_every_nav_page_exists():
    pages = _nav_pages()
    assert "index.md" in pages and "api.md" in pages
    missing = [page for page in pages if not (DOCS / page).is_file()]
    assert not missing, f"pages in nav but not in docs/: {missing}"


def test_api_page_lists_every_public_name():
    """api.md documents each module's __all__, no more and no less."""
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    blocks = re.split(r"^::: ", text, flags=re.MULTILINE)[1:]
    listed = {}
    for block in blocks:
        name = block.split(maxsplit=1)[0]
        listed[name] = re.findall(r"^\s+- (\S+)\s*$", block, flags=re.MULTILINE)
    assert sorted(listed) == sorted(f"nmgeo.{m}" for m in API_MODULES)
    for module_name, members in listed.items():
        module = importlib.import_module(module_name)
        assert sorted(members) == sorted(module.__all__), module_name


def test_site_builds_strict(tmp_path):
    _require_mkdocs()
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("WARNING")]
    assert not warnings, "\n".join(warnings)

    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("build_packages", "read_parcels", "read_zones", "network_distance", "NmgeoError"):
        assert name in api, f"{name} missing from the API reference"
    for page in _nav_pages():
        stem = page[: -len(".md")]
        built = site / ("index.html" if stem == "index" else f"{stem}/index.html")
        assert built.is_file(), f"{page} was not built"
