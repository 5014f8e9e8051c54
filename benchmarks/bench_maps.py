"""Benchmark: size, write time and browser render time of the zoning map against plain folium.

    python benchmarks/bench_maps.py --lots 100000

Targets for 100,000 lots: HTML <= 15 MB, written <= 5 s, first full render in headless
Chromium <= 5 s. Render times need Debian's chromium + chromium-driver and selenium, and
the offline assets ($NMGEO_ASSETS or --assets); without them only size and write time
are measured.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import folium

import nmgeo
from nmgeo import maps
from nmgeo._assets import bundle

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import browser  # noqa: E402


def lots_for(n: int):
    metro = nmgeo.synthetic_metropolis(n, seed=1)
    parcels = nmgeo.read_parcels(metro.lots)
    zones = nmgeo.read_zones(metro.zones)
    return nmgeo.assign_zoning(parcels, zones)


def naive_map(lots, assets: str | None) -> folium.Map:
    """What one writes with folium alone: the whole layer as GeoJSON with a tooltip.

    With assets, Leaflet is inlined the same way as for nmgeo's page (and jQuery /
    Bootstrap dropped), so the render time compares the data layers, not the network.
    """
    cols = ["parcel_id", "zone_label", "land_use", "area_m2"]
    m = folium.Map(tiles=None, prefer_canvas=True)
    if assets:
        m.default_js = [(n, u) for n, u in m.default_js if n == "leaflet"]
        m.default_css = [(n, u) for n, u in m.default_css if n == "leaflet_css"]
    folium.GeoJson(
        lots[[*cols, "geometry"]].to_crs(4326),
        tooltip=folium.GeoJsonTooltip(fields=cols),
    ).add_to(m)
    m.fit_bounds([[22.43, 113.9], [22.56, 114.23]])
    bundle(m, offline=bool(assets), assets=assets)
    return m


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=100_000)
    parser.add_argument("--assets", default=os.environ.get("NMGEO_ASSETS"))
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()

    t = time.perf_counter()
    lots = lots_for(args.lots)
    print(f"{len(lots):,} lots generated and zoned in {time.perf_counter() - t:.1f} s")
    out = Path(tempfile.mkdtemp(prefix="nmgeo-bench-maps-"))
    offline = bool(args.assets) and Path(args.assets).is_dir()
    rows = {}
    for label, build in (
        (
            "nmgeo parcel_map",
            lambda: maps.parcel_map(lots, tiles=None, offline=offline, assets=args.assets),
        ),
        ("folium GeoJson", lambda: naive_map(lots, args.assets if offline else None)),
    ):
        path = out / (label.split()[0] + ".html")
        t = time.perf_counter()
        build().save(str(path))
        rows[label] = {
            "path": path,
            "mb": path.stat().st_size / 1e6,
            "write_s": time.perf_counter() - t,
            "render_s": None,
        }

    reason = browser.missing() if not args.no_browser else "--no-browser"
    if reason is None:
        with browser.chromium() as driver:
            for row in rows.values():
                # The naive page loads Leaflet from a CDN; offline here it may not render.
                try:
                    row["render_s"] = browser.open_map(driver, row["path"], timeout=300)
                except Exception as exc:  # noqa: BLE001 - report and carry on
                    print(f"render failed for {row['path'].name}: {exc.__class__.__name__}")
    else:
        print(f"render times skipped: {reason}")

    print(f"\n{'map':<18}{'HTML MB':>10}{'write s':>10}{'render s':>10}")
    for label, row in rows.items():
        render = f"{row['render_s']:.2f}" if row["render_s"] is not None else "n/a"
        print(f"{label:<18}{row['mb']:>10.1f}{row['write_s']:>10.2f}{render:>10}")
    ours, naive = rows["nmgeo parcel_map"], rows["folium GeoJson"]
    print(
        f"\nratios folium/nmgeo: size {naive['mb'] / ours['mb']:.1f}x, "
        f"write {naive['write_s'] / ours['write_s']:.1f}x",
        end="",
    )
    if ours["render_s"] and naive["render_s"]:
        print(f", render {naive['render_s'] / ours['render_s']:.1f}x")
    else:
        print()
    print(f"pages in {out}")


if __name__ == "__main__":
    main()
