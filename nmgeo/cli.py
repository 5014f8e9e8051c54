"""The ``nmgeo`` command line."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from nmgeo import __version__
from nmgeo.errors import NmgeoError

logger = logging.getLogger("nmgeo.cli")

EXIT_BAD_INPUT = 2


class _Group(click.Group):
    """Turns nmgeo's own errors into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except NmgeoError as err:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"nmgeo: error: {err}", err=True)
            ctx.exit(EXIT_BAD_INPUT)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nmgeo")
@click.option("-q", "--quiet", is_flag=True, help="Only print errors.")
@click.option("--debug", is_flag=True, help="Verbose logging and full tracebacks.")
@click.pass_context
def main(ctx: click.Context, quiet: bool, debug: bool) -> None:
    """Land-parcel analysis for Hong Kong's Northern Metropolis.

    Everything is computed in EPSG:2326 (HK1980 Grid, metres). Start with
    `nmgeo demo`, which runs on the bundled synthetic sample.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    ctx.obj["quiet"] = quiet
    level = logging.DEBUG if debug else logging.ERROR if quiet else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("nmgeo").setLevel(level)


def _say(ctx: click.Context, text: str = "") -> None:
    if not ctx.obj.get("quiet"):
        click.echo(text)


@main.command()
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("nmgeo-demo"),
    show_default=True,
    help="Output folder (created if needed; existing files of the same name are replaced).",
)
@click.pass_context
def demo(ctx: click.Context, out: Path) -> None:
    """Run nmgeo on the bundled synthetic sample and write the results to --out."""
    from nmgeo.datasets import load_sample
    from nmgeo.report import area_report

    start = time.perf_counter()
    sample = load_sample()
    parcels = sample.parcels
    table = area_report(parcels, by=("major_zone", "land_use"))
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "area_by_major_zone_and_land_use.csv"
    table.to_csv(csv, index=False, float_format="%.4f")

    pivot = table.pivot_table(
        index="land_use", columns="major_zone", values="area_ha", aggfunc="sum", fill_value=0.0
    )
    pivot["total"] = pivot.sum(axis=1)
    pivot = pivot.sort_values("total", ascending=False)
    pivot.loc["total"] = pivot.sum(axis=0)
    _say(ctx, "nmgeo demo: synthetic Northern Metropolis sample (synthetic data, not real lots)")
    _say(
        ctx,
        f"{len(parcels):,} lots, {parcels['area_m2'].sum() / 1e4:,.0f} ha in lots; "
        f"{len(sample.zones):,} OZP zones; {len(sample.roads):,} road segments",
    )
    _say(ctx, "")
    _say(ctx, "Lot area (ha) by land-use class and NM major zone:")
    _say(ctx, pivot.round(1).to_string())
    _say(ctx, "")
    written = [csv, *_demo_packages(ctx, sample, out)]
    for path in written:
        _say(ctx, f"wrote {path}")
    _say(ctx, f"done in {time.perf_counter() - start:.1f} s")


def _demo_packages(ctx: click.Context, sample: Any, out: Path) -> list[Path]:
    """Packages, their report, map and GeoPackage for the demo; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nmgeo import reference
    from nmgeo.io import write_geopackage
    from nmgeo.maps import package_map
    from nmgeo.packages import build_packages
    from nmgeo.plot import plot_packages
    from nmgeo.report import area_report, package_report, write_report

    result = build_packages(sample.parcels)
    table = package_report(result, dem=sample.dem_path)
    _say(
        ctx,
        f"{len(result.packages)} land disposal packages, "
        f"{result.packages['area_ha'].sum():,.0f} ha; the five largest:",
    )
    cols = [
        "package_id",
        "area_ha",
        "facility_share",
        "bcp_name",
        "bcp_distance_m",
        "rail_name",
        "rail_distance_m",
    ]
    top = table.sort_values("area_ha", ascending=False).head(5)
    _say(ctx, top[[c for c in cols if c in top.columns]].round(2).to_string(index=False))
    _say(ctx, "")

    offline = bool(os.environ.get("NMGEO_ASSETS"))
    fmap = package_map(result, parcels=sample.parcels, offline=offline)
    map_path = out / "package_map.html"
    fmap.save(str(map_path))
    fig, ax = plt.subplots(figsize=(10, 7))
    plot_packages(result, ax=ax)
    png = out / "package_overview.png"
    fig.savefig(png, dpi=120, bbox_inches="tight")
    areas = area_report(sample.parcels, by=("major_zone", "land_use"))
    reports = write_report(
        {"packages": table, "area_by_zone": areas},
        out / "report",
        map=fmap,
        figure=fig,
        title="Northern Metropolis land disposal packages (synthetic sample)",
    )
    plt.close(fig)
    gpkg = write_geopackage(
        out / "nm_packages.gpkg",
        packages=result.packages,
        members=result.members,
        excluded=result.excluded,
        parcels=sample.parcels,
        control_points=reference.control_points(),
        rail_stations=reference.rail_stations(),
        major_zones=reference.major_zones(),
    )
    return [map_path, png, *reports.values(), gpkg]


@main.command()
@click.option(
    "--lots",
    "n_lots",
    type=click.IntRange(min=10_000),
    default=45_000,
    show_default=True,
    help="Approximate number of lots.",
)
@click.option("--seed", type=int, default=2026, show_default=True, help="Random seed.")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output folder for nm_sample.gpkg, nm_dem.tif and sample.json.",
)
@click.pass_context
def synth(ctx: click.Context, n_lots: int, seed: int, out: Path) -> None:
    """Generate a synthetic Northern Metropolis (zones, lots, roads, DEM)."""
    from nmgeo.datasets import synthetic_metropolis

    start = time.perf_counter()
    metro = synthetic_metropolis(n_lots, seed, progress=not ctx.obj.get("quiet"))
    paths = metro.write(out)
    _say(
        ctx,
        f"{len(metro.lots):,} lots, {len(metro.zones):,} zones, {len(metro.roads):,} roads "
        f"in {time.perf_counter() - start:.1f} s",
    )
    for path in paths.values():
        _say(ctx, f"wrote {path}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
