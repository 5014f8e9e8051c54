"""The ``nmgeo`` command line."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from nmgeo import __version__
from nmgeo._manifest import Run
from nmgeo._outputs import StagedOutputs, os_error_message, replacing
from nmgeo._sources import refuse_given_inputs
from nmgeo._time import network_year
from nmgeo.errors import InputError, MissingCRSError, NmgeoError, SchemaError

logger = logging.getLogger("nmgeo.cli")

EXIT_BAD_INPUT = 2


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class _Group(click.Group):
    """Turns nmgeo's own errors and click's usage errors into one line on stderr, exit 2."""

    def make_context(self, info_name, args, parent=None, **extra):  # type: ignore[override]
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.ClickException as err:  # bad options of the group itself
            click.echo(f"nmgeo: error: {_one_line(err.format_message())}", err=True)
            raise click.exceptions.Exit(err.exit_code) from None

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except NmgeoError as err:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"nmgeo: error: {_one_line(str(err))}", err=True)
            ctx.exit(EXIT_BAD_INPUT)
        except click.ClickException as err:
            click.echo(f"nmgeo: error: {_one_line(err.format_message())}", err=True)
            ctx.exit(err.exit_code)
        except OSError as err:  # disk full, read-only, a folder in the way ...
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"nmgeo: error: {_one_line(os_error_message(err))}", err=True)
            ctx.exit(EXIT_BAD_INPUT)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nmgeo")
@click.option("-q", "--quiet", is_flag=True, help="Only print errors (no progress bars).")
@click.option("--debug", is_flag=True, help="Verbose logging and full tracebacks.")
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML file of option defaults: a [defaults] table for every command and "
    "per-command tables ([packages], [proximity], ...) keyed by option name, e.g. "
    "gap_tolerance = 20. Options given on the command line win.",
)
@click.pass_context
def main(ctx: click.Context, quiet: bool, debug: bool, config: Path | None) -> None:
    """Land-parcel analysis for Hong Kong's Northern Metropolis.

    Everything is computed in EPSG:2326 (HK1980 Grid, metres). Start with
    `nmgeo demo`, which runs on the bundled synthetic sample. Every command that
    writes files also writes a manifest (versions, inputs with SHA-256, parameters,
    row counts, timings) next to them.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    ctx.obj["quiet"] = quiet
    ctx.obj["config"] = None if config is None else str(config)
    if config is not None:
        ctx.default_map = _load_config(config, ctx.command)  # type: ignore[arg-type]
    level = logging.DEBUG if debug else logging.ERROR if quiet else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("nmgeo").setLevel(level)
    # dask's cluster start and stop messages are INFO; only its warnings concern a user.
    logging.getLogger("distributed").setLevel(max(level, logging.WARNING))


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
@click.option(
    "--offline",
    is_flag=True,
    help="Inline the map's JavaScript and CSS so the page opens without internet (needs "
    "the npm node_modules folder: nmgeo.settings.assets or NMGEO_ASSETS).",
)
@click.pass_context
def demo(ctx: click.Context, out: Path, offline: bool) -> None:
    """Run nmgeo on the bundled synthetic sample and write the results to --out."""
    from nmgeo.datasets import load_sample
    from nmgeo.fabric import land_fabric
    from nmgeo.major_zone import assign_major_zone
    from nmgeo.report import area_report

    start = time.perf_counter()
    with _recording(ctx, 4) as run:
        with run.step("load sample"):
            sample = load_sample()
        run.count("parcels", len(sample.parcels))
        run.count("zones", len(sample.zones))
        with run.step("land fabric"):
            fabric = land_fabric(sample.zones, sample.parcels, progress=_show_progress(ctx))
            fabric = assign_major_zone(fabric)
        run.count("pieces", len(fabric))
        with run.step("area report"):
            table = area_report(fabric, by=("major_zone", "land_use"))
        with StagedOutputs(out) as staged:
            csv = staged.path("area_by_major_zone_and_land_use.csv")
            _write_csv(table, csv, "%.4f")
            staged.add(csv, rows=len(table))
            _demo_summary(ctx, sample, fabric, table)
            with run.step("packages, report, map"):
                for path in _demo_packages(ctx, sample, fabric, staged.stage, offline):
                    staged.add(path)
            written = staged.commit(run)
    for path in written:
        _say(ctx, f"wrote {path}")
    _say(ctx, f"done in {time.perf_counter() - start:.1f} s")


def _demo_summary(ctx: click.Context, sample: Any, fabric: Any, table: Any) -> None:
    parcels = sample.parcels

    pivot = table.pivot_table(
        index="land_use", columns="major_zone", values="area_ha", aggfunc="sum", fill_value=0.0
    )
    pivot["total"] = pivot.sum(axis=1)
    pivot = pivot.sort_values("total", ascending=False)
    pivot.loc["total"] = pivot.sum(axis=0)
    tenure = fabric.groupby("tenure")["area_m2"].sum() / 1e4
    _say(ctx, "nmgeo demo: synthetic Northern Metropolis sample (synthetic data, not real lots)")
    _say(
        ctx,
        f"{len(sample.zones):,} OZP zones cut by {len(parcels):,} leased lots into "
        f"{len(fabric):,} pieces: "
        + ", ".join(f"{ha:,.0f} ha {name}" for name, ha in tenure.items())
        + f"; {len(sample.roads):,} road segments",
    )
    _say(ctx, "")
    _say(ctx, "Land area (ha) by land-use class and NM major zone, all tenures:")
    _say(ctx, pivot.round(1).to_string())
    _say(ctx, "")


def _say_largest_packages(ctx: click.Context, result: Any, table: Any) -> None:
    p = result.packages
    _say(
        ctx,
        f"{len(p)} land disposal packages, {p['area_ha'].sum():,.0f} ha "
        f"({p['government_ha'].sum():,.0f} ha Government land, "
        f"{p['leased_ha'].sum():,.0f} ha leased lots); the five largest:",
    )
    cols = [
        "package_id",
        "area_ha",
        "facility_share",
        "government_share",
        "n_lots",
        "bcp_name",
        "bcp_distance_m",
        "rail_name",
        "rail_distance_m",
    ]
    top = table.sort_values("area_ha", ascending=False).head(5)
    _say(ctx, top[[c for c in cols if c in top.columns]].round(2).to_string(index=False))
    _say(ctx, "")


def _demo_packages(
    ctx: click.Context, sample: Any, fabric: Any, out: Path, offline: bool
) -> list[Path]:
    """Packages, their report, map and GeoPackage for the demo; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nmgeo import reference
    from nmgeo.access import assign_access
    from nmgeo.capacity import (
        assign_capacity,
        capacity_targets,
        package_capacity,
        read_limits,
        zones_without_limits,
    )
    from nmgeo.io import write_geopackage
    from nmgeo.maps import package_map
    from nmgeo.packages import build_packages
    from nmgeo.plot import plot_packages
    from nmgeo.raster import assign_terrain
    from nmgeo.report import area_report, package_report, write_report

    result = build_packages(fabric)
    limits = read_limits(sample.limits_path)
    capacity = assign_capacity(fabric, limits)
    with_capacity = package_capacity(result, capacity)
    sites = assign_terrain(assign_access(with_capacity), sample.dem_path)
    table = package_report(sites)
    targets = capacity_targets(sites)
    _say_largest_packages(ctx, result, table)
    _say(ctx, "Capacity by the sample's limits table (synthetic, invented for the sample):")
    _say_capacity(ctx, targets)
    _say(ctx, "")
    fmap = package_map(result, packages=sites, parcels=sample.parcels, offline=offline)
    map_path = out / "package_map.html"
    _save_map(fmap, map_path)
    fig, ax = plt.subplots(figsize=(10, 7))
    plot_packages(result, ax=ax)
    png = out / "package_overview.png"
    with replacing(png) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    areas = area_report(fabric, by=("major_zone", "land_use", "tenure"))
    reports = write_report(
        {
            "packages": table,
            "area_by_zone": areas,
            "capacity_targets": targets,
            "zones_without_limits": zones_without_limits(capacity, result),
        },
        out / "report",
        map=fmap,
        figure=fig,
        title="Northern Metropolis land disposal packages (synthetic sample)",
    )
    plt.close(fig)
    gpkg = write_geopackage(
        out / "nm_packages.gpkg",
        packages=with_capacity,
        members=result.members,
        excluded=result.excluded,
        pieces=result.pieces,
        fabric=capacity,
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
    from nmgeo.datasets import DEM_NAME, GPKG_NAME, META_NAME, synthetic_metropolis

    names = (GPKG_NAME, DEM_NAME, META_NAME, "manifest.json")
    _refuse_overwrite([out / name for name in names], [])
    start = time.perf_counter()
    with _recording(ctx, 2) as run:
        with run.step("generate"):
            metro = synthetic_metropolis(n_lots, seed=seed, progress=not ctx.obj.get("quiet"))
        rows = {
            "gpkg": {
                "lots": len(metro.lots),
                "ozp_zones": len(metro.zones),
                "roads": len(metro.roads),
            }
        }
        run.count("lots", len(metro.lots))
        run.count("zones", len(metro.zones))
        run.count("roads", len(metro.roads))
        with StagedOutputs(out) as staged:  # the old set stays until the new one is whole
            with run.step("write"):
                staged_paths = metro.write(staged.stage)
            for key, path in staged_paths.items():
                staged.add(path, rows=rows.get(key))
            written = staged.commit(run)
    _say(
        ctx,
        f"{len(metro.lots):,} lots, {len(metro.zones):,} zones, {len(metro.roads):,} roads "
        f"in {time.perf_counter() - start:.1f} s",
    )
    for path in written:
        _say(ctx, f"wrote {path}")


# --------------------------------------------------------------------------- helpers


def _norm_key(key: str) -> str:
    return str(key).strip().lstrip("-").replace("_", "-").lower()


def _option_keys(cmd: click.Command) -> dict[str, str]:
    """``{option name as written in a config file: parameter name}`` of a command."""
    keys: dict[str, str] = {}
    for param in cmd.params:
        if not isinstance(param, click.Option) or param.name in (None, "help"):
            continue
        keys[_norm_key(param.name)] = param.name
        for opt in param.opts:
            if opt.startswith("--"):
                keys[_norm_key(opt)] = param.name
    return keys


def _config_value(value: Any, where: str, multiple: bool = False) -> Any:
    """A config value as the option takes it; one line naming the key if it cannot be."""
    items = value if isinstance(value, list) else [value]
    bad = [v for v in items if not isinstance(v, (str, int, float, bool))]
    bad += [v for v in items if isinstance(v, str) and "\x00" in v]
    if bad or (isinstance(value, list) and not value):
        msg = f"{where} must be text, a number, true/false or a list of those, not {value!r}"
        raise InputError(" ".join(msg.split()))
    if multiple:  # a repeatable option (zones = ["a.json", "b.json"])
        return [str(v) for v in items]
    if isinstance(value, list):  # e.g. by = ["major_zone", "land_use"]
        return ",".join(str(v) for v in value)
    return value


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    """A TOML file as a dict; a missing or malformed file is one InputError line."""
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    if not path.is_file():
        msg = f"{what} {str(path)!r} does not exist"
        raise InputError(msg)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        msg = f"{what} {str(path)!r} is not valid TOML: {err}"
        raise InputError(msg) from None


def _load_config(path: Path, group: click.Group) -> dict[str, dict[str, Any]]:
    """Read a TOML config into click's ``default_map`` (``{command: {param: value}}``)."""
    data = _read_toml(path, "config file")
    defaults = data.pop("defaults", {})
    tables = {"defaults": defaults, **data}
    for name, table in tables.items():
        if name != "defaults" and name not in group.commands:
            msg = (
                f"config file {str(path)!r}: unknown table [{name}]; use [defaults] or one "
                f"of {sorted(group.commands)}"
            )
            raise InputError(msg)
        if not isinstance(table, dict):
            msg = f"config file {str(path)!r}: {name!r} must be a table ([{name}])"
            raise InputError(msg)
    used: set[str] = set()
    default_map: dict[str, dict[str, Any]] = {}
    for name, cmd in group.commands.items():
        keys = _option_keys(cmd)
        multiple = {p.name for p in cmd.params if isinstance(p, click.Option) and p.multiple}
        values: dict[str, Any] = {}
        for key, value in defaults.items():
            if _norm_key(key) in keys:
                param = keys[_norm_key(key)]
                where = f"config file {str(path)!r}: [defaults] {key}"
                values[param] = _config_value(value, where, param in multiple)
                used.add(key)
        for key, value in data.get(name, {}).items():
            if _norm_key(key) not in keys:
                options = sorted({k.replace("-", "_") for k in keys})
                msg = (
                    f"config file {str(path)!r}: [{name}] has no option {key!r}; "
                    f"options are {options}"
                )
                raise InputError(msg)
            param = keys[_norm_key(key)]
            where = f"config file {str(path)!r}: [{name}] {key}"
            values[param] = _config_value(value, where, param in multiple)
        if values:
            default_map[name] = values
    unused = sorted(set(defaults) - used)
    if unused:
        msg = (
            f"config file {str(path)!r}: [defaults] key {unused[0]!r} is no option of any command"
        )
        raise InputError(msg)
    return default_map


def _show_progress(ctx: click.Context) -> bool:
    return not ctx.obj.get("quiet") and sys.stderr.isatty()


@contextlib.contextmanager
def _recording(ctx: click.Context, n_steps: int) -> Iterator[Run]:
    """A :class:`Run` for this command with a step progress bar (on a terminal, not quiet)."""
    from tqdm.auto import tqdm

    bar = tqdm(
        total=n_steps,
        desc=ctx.info_name,
        unit="step",
        disable=not _show_progress(ctx),
        leave=False,
        file=sys.stderr,
    )
    root = ctx.find_root()
    params = {k: (str(v) if isinstance(v, Path) else v) for k, v in ctx.params.items()}
    run = Run(ctx.info_name or "nmgeo", params, progress=bar)
    run.extra["global_options"] = {
        "quiet": bool(root.obj.get("quiet")),
        "debug": bool(root.obj.get("debug")),
        "config": root.obj.get("config"),
    }
    sources = {}
    for name in ctx.params:
        source = ctx.get_parameter_source(name)
        sources[name] = None if source is None else source.name.lower()
    run.extra["parameter_sources"] = sources
    try:
        yield run
    finally:
        bar.close()


def _write_csv(table: Any, path: Path, float_format: str) -> None:
    """A table as CSV, whole (see nmgeo._writers.write_csv: formulas neutralised, CRLF)."""
    from nmgeo._writers import write_csv

    with replacing(path) as tmp:
        write_csv(table, tmp, float_format)


def _save_map(fmap: Any, path: Path) -> None:
    """Render the page first, then write it whole: a failed render leaves no broken file."""
    fmap.save(path)


def _manifest_path(out: Path, *, folder: bool) -> Path:
    return out / "manifest.json" if folder else out.with_name(f"{out.stem}.manifest.json")


def _refuse_overwrite(outputs: Sequence[Path], inputs: Sequence[Path | None]) -> None:
    """Raise before any work if a planned output file is one of the input files."""
    fix = "choose another --out so the input is not overwritten"
    ctx = click.get_current_context(silent=True)
    config = ctx.find_root().params.get("config") if ctx is not None else None
    refuse_given_inputs(outputs, [*inputs, config], fix)


def _read_layer(ctx: click.Context, run: Run, path: Path, layer: str | None, role: str) -> Any:
    """read_parcels with the reader options, a timed step and the input recorded."""
    from nmgeo.io import read_parcels

    p = ctx.params
    with run.step(f"read {role}"), _flag_messages(role):
        gdf = read_parcels(
            path,
            layer=layer,
            id_column=p.get("id_column"),
            columns=_parse_columns(p.get("lots_columns"), "--columns"),
            multipart=p.get("multipart", "combine"),
            **_read_options(ctx),
        )
    run.input(path, role=role, rows=len(gdf))
    run.count(role, len(gdf))
    return gdf


def _read_zones(ctx: click.Context, run: Run, zones: Sequence[Path], layer: str | None) -> Any:
    """read_zones on every --zones (files or folders of TPB's per-plan downloads), merged."""
    from nmgeo.io import read_zones

    source = zones[0] if len(zones) == 1 else list(zones)
    with run.step("read zones"), _flag_messages("zones"):
        frame = read_zones(
            source,
            layer=layer,
            columns=_parse_columns(ctx.params.get("zones_columns"), "--zones-columns"),
            **_read_options(ctx),
        )
    for path in zones:
        run.input(path, role="zones", rows=_rows_from(frame, path, whole=len(zones) == 1))
    run.count("zones", len(frame))
    if "plan_no" in frame.columns:
        run.count("plans", int(frame["plan_no"].nunique()))
    return frame


def _rows_from(frame: Any, path: Path, *, whole: bool) -> int | None:
    """Rows of a merged zones frame that came from ``path`` (a file or a folder)."""
    if whole:
        return len(frame)
    if "source_file" not in frame.columns:
        return None
    names = {path.name} if path.is_file() else {f.name for f in path.iterdir()}
    return int(frame["source_file"].isin(names).sum())


def _zone(ctx: click.Context, run: Run, parcels: Any, zones: Sequence[Path], layer: str | None):
    """Read --zones and give the parcels their OZP zoning; unchanged without --zones."""
    if not zones:
        return parcels
    from nmgeo.zoning import assign_zoning

    zone_frame = _read_zones(ctx, run, zones, layer)
    with run.step("assign zoning"):
        return assign_zoning(parcels, zone_frame, progress=_show_progress(ctx))


def _parse_by(by: str) -> list[str]:
    keys = [k.strip() for k in by.split(",") if k.strip()]
    if not keys:
        msg = "--by needs one or more column names separated by commas, e.g. major_zone,land_use"
        raise InputError(msg)
    return keys


# Keyword arguments the readers' messages suggest, and the flags that set them here.
_FLAG_OF = {
    "color_by": "--color-by",
    "on_invalid": "--on-invalid",
    "encoding": "--encoding",
    "crs": "--crs",
    "multipart": "--multipart",
    "id_column": "--id-column",
}
_KEYWORD = re.compile(r"\b(on_invalid|encoding|crs|multipart|id_column|layer|columns|color_by)=")


def _as_flags(text: str, role: str) -> str:
    """A library message with its keyword arguments named as this command's flags."""
    flags = {
        **_FLAG_OF,
        "layer": "--zones-layer" if role == "zones" else "--layer",
        "columns": "--zones-columns" if role == "zones" else "--columns",
    }

    def value(match: re.Match[str]) -> str:
        return f"{flags[match.group(1)]} "

    text = _KEYWORD.sub(value, text)
    # --on-invalid 'drop' -> --on-invalid drop; --columns {'A': 'b'} -> --columns A=b
    text = re.sub(r"(--[a-z-]+) '([^']*)'", r"\1 \2", text)
    return re.sub(r"(--(?:zones-)?columns) \{'([^']+)': '([^']+)'\}", r"\1 \2=\3", text)


@contextlib.contextmanager
def _flag_messages(role: str) -> Iterator[None]:
    """Re-raise nmgeo errors of a reader with the CLI's flags in place of keywords."""
    try:
        yield
    except NmgeoError as err:
        raise type(err)(_as_flags(str(err), role)) from None


def _parse_columns(text: str | None, flag: str) -> dict[str, str] | None:
    """``"OLD=new,OLD2=new2"`` -> ``{"OLD": "new", "OLD2": "new2"}``."""
    if not text:
        return None
    pairs = {}
    for item in text.split(","):
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            msg = f"{flag} takes SOURCE=name pairs separated by commas, e.g. ZONING=zone_label"
            raise InputError(msg)
        pairs[old.strip()] = new.strip()
    return pairs


def _reader_options(command: Callable) -> Callable:
    """Add the options every reader's recovery messages point to."""
    decorators = (
        click.option(
            "--on-invalid",
            type=click.Choice(["repair", "drop", "raise"]),
            default="repair",
            show_default=True,
            help="What to do with invalid geometries in the inputs: repair them "
            "(shapely.make_valid), drop those rows (counted), or stop.",
        ),
        click.option(
            "--encoding",
            default=None,
            help="Text encoding of inputs that do not declare one (e.g. big5 for "
            "traditional Chinese in an old Shapefile).",
        ),
        click.option(
            "--crs",
            default=None,
            help="CRS of inputs that carry none, e.g. EPSG:2326 (HK1980 Grid); never guessed.",
        ),
        click.option(
            "--id-column",
            default=None,
            help="Column of the lots holding the lot id (default: LOTID, LOTCSUID, ...).",
        ),
        click.option(
            "--multipart",
            type=click.Choice(["combine", "separate"]),
            default="combine",
            show_default=True,
            help="Lot rows sharing an id: combine them into one lot, or treat repeats as errors.",
        ),
        click.option(
            "--columns",
            "lots_columns",
            default=None,
            help="Rename columns of the lots first: SOURCE=name pairs, comma-separated, "
            "e.g. LOT_NO=parcel_id.",
        ),
    )
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def _read_options(ctx: click.Context) -> dict[str, Any]:
    p = ctx.params
    return {"on_invalid": p["on_invalid"], "encoding": p["encoding"], "crs": p["crs"]}


_LAYER_HELP = "Layer to read when the file holds several (GeoPackage, File Geodatabase)."
_ZONES_HELP = (
    "OZP zoning: a file, or a folder of TPB's per-plan downloads (repeat --zones for "
    "several); each lot takes the zone covering most of it and that zone's land-use "
    "class. Without it the lots must carry land_use."
)
_ZONES_COLUMNS_HELP = (
    "Rename columns of the zones first: SOURCE=name pairs, comma-separated, e.g. "
    "ZONING=zone_label."
)
_ZONES_LAYER_HELP = "Layer of --zones to read when that file holds several."


def _lots_and_zones(command: Callable) -> Callable:
    """Add the LAYER argument (the lots) and --layer, --zones, --zones-layer to a command."""
    decorators = (
        click.argument(
            "layer_path", metavar="LAYER", type=click.Path(exists=True, path_type=Path)
        ),
        click.option("--layer", default=None, help="Layer of LAYER (the lots). " + _LAYER_HELP),
        click.option(
            "--zones",
            type=click.Path(exists=True, path_type=Path),
            multiple=True,
            help=_ZONES_HELP,
        ),
        click.option("--zones-layer", default=None, help=_ZONES_LAYER_HELP),
        click.option("--zones-columns", default=None, help=_ZONES_COLUMNS_HELP),
    )
    for decorator in reversed(decorators):  # as if stacked in this order above the command
        command = decorator(command)
    return _reader_options(command)


def _say_wrote(ctx: click.Context, out: Path, manifest_path: Path, what: str) -> None:
    _say(ctx, f"wrote {out} ({what})")
    _say(ctx, f"wrote {manifest_path}")


# --------------------------------------------------------------------------- packages


@main.command()
@click.argument("parcels", required=False, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--zones",
    type=click.Path(exists=True, path_type=Path),
    multiple=True,
    help="OZP zoning (e.g. TPB's digital planning data): a file, or a folder of TPB's "
    "per-plan downloads; repeat --zones for several. The land of the packages, of any "
    "tenure, cut by the lots into Government land and leased-lot pieces.",
)
@click.option(
    "--lots",
    "lots_path",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="LandsD lot layer (leased lots; same as the PARCELS argument). With --zones, zoned "
    "land without a lot is unleased Government land; without --lots its tenure is unknown.",
)
@click.option("--layer", default=None, help="Layer of the lots. " + _LAYER_HELP)
@click.option("--zones-layer", default=None, help=_ZONES_LAYER_HELP)
@click.option("--zones-columns", default=None, help=_ZONES_COLUMNS_HELP)
@_reader_options
@click.option(
    "--extent",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Polygons where the lot data is complete (e.g. the Demarcation Districts "
    "downloaded): zoned land without a lot is Government land inside, of unknown tenure "
    "outside. Default: everywhere the zones are.",
)
@click.option(
    "--gap-tolerance",
    "--gap",
    "gap_tolerance",
    type=click.FloatRange(min=0),
    default=15.0,
    show_default=True,
    help="Largest road reserve or gap (m) bridged between sites of one package "
    "(at most 200); 0 joins only land that touches.",
)
@click.option(
    "--min-area-ha",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="Smallest land disposal package worth offering (ha, commercial plus facility land).",
)
@click.option(
    "--walk-radius",
    type=click.FloatRange(min=0),
    default=800.0,
    show_default=True,
    help="Walking distance to a station (m) that counts as served by rail, for rail_walk_year.",
)
@click.option(
    "--catchment-radius",
    type=click.FloatRange(min=0, min_open=True),
    default=500.0,
    show_default=True,
    help="Station catchment radius (m) for rail_catchment_share.",
)
@click.option(
    "--as-of",
    type=click.IntRange(1990, 2100),
    default=None,
    help="Year of the rail network for station access: stations open by then, planned "
    "ones from their target year (e.g. 2034 adds the Northern Link). Default: the current "
    "year, i.e. the stations open today.",
)
@click.option(
    "--dem",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Elevation GeoTIFF (m) for the terrain columns (slope, site formation).",
)
@click.option(
    "--limits",
    "limits_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Development limits table (CSV or XLSX: plan_no, zone_label, maximum plot ratio, "
    "GFA, height, site coverage from the OZP Notes) for the packages' floor space, homes "
    "and jobs against the NM targets. See the capacity page of the documentation.",
)
@click.option(
    "--bhc",
    "bhc_path",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="TPB's building height control layer (BHC_TYPE, BHC_VALUE), overlaid on the land "
    "for the height limits; needs --limits.",
)
@click.option(
    "--color-by",
    default="area_ha",
    show_default=True,
    help="Numeric package column colouring the map, e.g. area_ha, government_share, "
    "rail_walk_year, or with --limits gfa_m2, gfa_commercial_m2, flats, jobs.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Inline the map's JavaScript and CSS so the page opens without internet (needs "
    "the npm node_modules folder: nmgeo.settings.assets or NMGEO_ASSETS).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output folder (created; existing files of the same names are replaced).",
)
@click.pass_context
def packages(
    ctx: click.Context,
    parcels: Path | None,
    zones: tuple[Path, ...],
    lots_path: Path | None,
    layer: str | None,
    zones_layer: str | None,
    extent: Path | None,
    gap_tolerance: float,
    min_area_ha: float,
    walk_radius: float,
    catchment_radius: float,
    as_of: int | None,
    dem: Path | None,
    limits_path: Path | None,
    bhc_path: Path | None,
    color_by: str,
    offline: bool,
    out: Path,
    **reading: Any,
) -> None:
    """Find land disposal packages on --zones (cut by --lots) and write a report and map.

    The OZP zones are cut by the leased lots into pieces of Government land, leased lots
    and (outside --extent) land of unknown tenure. Commercial sites within
    --gap-tolerance of each other form a group, adjoining public facility and open space
    sites join it, and groups of at least --min-area-ha are packages. Without --zones,
    the lots (PARCELS) must carry land_use and are grouped lot by lot. Writes into
    --out: packages.gpkg (layers packages, members, excluded, pieces, and fabric and
    parcels when built), report.xlsx / report.html / report.md / report_*.csv,
    package_map.html and manifest.json. With --limits, the packages also carry their
    floor space, flats and jobs, and the report has the NM targets and the zones that
    lack limits.
    """
    from nmgeo._limits import check_limit
    from nmgeo.access import assign_access
    from nmgeo.maps import package_map
    from nmgeo.packages import build_packages
    from nmgeo.raster import assign_terrain
    from nmgeo.report import area_report, package_report

    # Refused before any file is read; a plausibility warning comes once, from the verb.
    for value, name in (
        (gap_tolerance, "gap_tolerance"),
        (walk_radius, "walk_radius"),
        (catchment_radius, "catchment_radius"),
    ):
        check_limit(value, name, what="--" + name.replace("_", "-"), warn=False)
    lots_path = _packages_lots_path(parcels, lots_path, zones, extent)
    if bhc_path is not None and limits_path is None:
        msg = "--bhc gives height limits to the capacity of --limits; pass --limits too"
        raise InputError(msg)
    capacity = limits_path is not None
    if not capacity and color_by in _capacity_names():
        msg = f"--color-by {color_by} is a capacity column; pass --limits too"
        raise InputError(msg)
    inputs = [lots_path, *zones, dem, extent, limits_path, bhc_path]
    _refuse_overwrite(_packages_outputs(out, capacity=capacity), inputs)
    n_steps = 8 + (3 if zones else 0) + (1 if extent is not None else 0) + capacity
    year = network_year(as_of)
    with _recording(ctx, n_steps) as run:
        run.extra["as_of"] = year
        land, fabric, lots = _packages_land(
            ctx, run, lots_path, layer, zones, zones_layer, extent, reading
        )
        with run.step("build packages"):
            result = build_packages(land, gap_tolerance=gap_tolerance, min_area_ha=min_area_ha)
        for name in ("packages", "members", "excluded"):
            run.count(name, len(getattr(result, name)))
        with run.step("access and terrain"):
            sites = assign_access(
                result.packages,
                as_of=year,
                walk_radius=walk_radius,
                catchment_radius=catchment_radius,
            )
            if dem is not None:
                sites = assign_terrain(sites, dem)
        _refuse_color_by(color_by, sites, capacity=capacity)
        tables: dict[str, Any] = {}
        if capacity:
            with run.step("capacity"):
                land, sites, tables = _packages_capacity(
                    ctx, run, land, result, sites, limits_path, bhc_path, reading
                )
        with run.step("package report"):
            table = package_report(sites)
            by = ("major_zone", "land_use", "tenure") if fabric is not None else None
            areas = area_report(land, by=by or ("major_zone", "land_use"))
        with run.step("package map"), _flag_messages("packages"):
            fmap = package_map(
                result,
                packages=sites,
                parcels=lots,
                color_by=color_by,
                as_of=year,
                offline=offline,
            )
        layers = {name: getattr(result, name) for name in ("packages", "members", "excluded")}
        layers["pieces"] = result.pieces
        if fabric is not None:
            layers["fabric"] = land
        if lots is not None:
            layers["parcels"] = lots
        if capacity:  # the packages layer with its capacity columns
            layers["packages"] = result.packages.join(sites[_capacity_columns(result, sites)])
        written = _packages_write(
            run, out, fmap, layers, {"packages": table, "area_by_zone": areas, **tables}
        )
    _say(ctx, result.summary())
    if capacity:
        _say_capacity(ctx, tables["capacity_targets"])
    _say(ctx, f"rail access counted on the network of {year} (--as-of)")
    for path in written:
        _say(ctx, f"wrote {path}")


def _packages_outputs(out: Path, *, capacity: bool = False) -> list[Path]:
    """The files `nmgeo packages` writes into --out."""
    base = out / "report"
    planned = [out / "packages.gpkg", out / "package_map.html", out / "manifest.json"]
    planned += [base.with_suffix(f".{s}") for s in ("xlsx", "html", "md")]
    tables = ["packages", "area_by_zone"]
    if capacity:
        tables += list(_CAPACITY_TABLES)
    return [*planned, *(out / f"report_{name}.csv" for name in tables)]


_CAPACITY_TABLES = ("capacity_targets", "zones_without_limits")


def _packages_capacity(
    ctx: click.Context,
    run: Run,
    land: Any,
    result: Any,
    sites: Any,
    limits_path: Path,
    bhc_path: Path | None,
    reading: dict[str, Any],
) -> tuple[Any, Any, dict[str, Any]]:
    """Capacity of the land and the packages, and the report tables that go with it."""
    from nmgeo.capacity import (
        assign_capacity,
        capacity_targets,
        package_capacity,
        read_limits,
        zones_without_limits,
    )
    from nmgeo.io import read_height_controls

    with _flag_messages("limits"):
        limits = read_limits(limits_path)
    run.input(limits_path, role="limits", rows=len(limits))
    controls = None
    if bhc_path is not None:
        with _flag_messages("bhc"):
            controls = read_height_controls(
                bhc_path, crs=reading["crs"], encoding=reading["encoding"]
            )
        run.input(bhc_path, role="height controls", rows=len(controls))
    land = assign_capacity(land, limits, height_controls=controls)
    with_capacity = package_capacity(result, land)
    added = [c for c in with_capacity.columns if c not in sites.columns]
    sites = sites.join(with_capacity[added])
    tables = {
        "capacity_targets": capacity_targets(sites),
        "zones_without_limits": zones_without_limits(land, result),
    }
    return land, sites, tables


def _refuse_color_by(color_by: str, sites: Any, *, capacity: bool) -> None:
    """Refuse a --color-by that is no number column of the packages, before the report."""
    from nmgeo.maps import _number_columns

    known = set(sites.columns) | (set(_capacity_names()) if capacity else set())
    numeric = _number_columns(sites)
    if color_by not in known or (color_by in sites.columns and color_by not in numeric):
        more = ", ".join(_capacity_names()[:7]) if capacity else ""
        msg = (
            f"--color-by {color_by} is not a number column of the packages; choose one of: "
            + ", ".join(numeric)
            + (f", {more}" if more else "")
        )
        raise SchemaError(msg)


def _capacity_names() -> tuple[str, ...]:
    from nmgeo.capacity import CAPACITY_COLUMNS

    return CAPACITY_COLUMNS


def _capacity_columns(result: Any, sites: Any) -> list[str]:
    return [c for c in sites.columns if c in _capacity_names() and c not in result.packages]


def _say_capacity(ctx: click.Context, targets: Any) -> None:
    """The packages' floor space, homes and jobs against the NM targets, in a few lines."""
    every = targets.iloc[0]
    _say(
        ctx,
        f"capacity of the packages: {every['gfa_m2'] / 1e6:,.2f} million m² GFA, "
        f"{every['flats']:,.0f} flats ({every['homes_share']:.1%} of the NM's "
        f"{targets.attrs['homes_target']:,.0f} homes), {every['jobs']:,.0f} jobs "
        f"({every['jobs_share']:.1%} of {targets.attrs['jobs_target']:,.0f})",
    )


def _packages_lots_path(
    parcels: Path | None, lots_path: Path | None, zones: Sequence[Path], extent: Path | None
) -> Path | None:
    """The lots file of `nmgeo packages`, after checking the inputs fit together."""
    if parcels is not None and lots_path is not None:
        msg = "give the lots once: as the PARCELS argument or as --lots, not both"
        raise InputError(msg)
    lots_path = lots_path or parcels
    if lots_path is None and not zones:
        msg = "nothing to work on: pass --zones (OZP zoning) and, if you have them, --lots"
        raise InputError(msg)
    if extent is not None and (not zones or lots_path is None):
        msg = "--extent says where the lots are complete; it needs both --zones and --lots"
        raise InputError(msg)
    return lots_path


def _packages_land(
    ctx: click.Context,
    run: Run,
    lots_path: Path | None,
    layer: str | None,
    zones: Sequence[Path],
    zones_layer: str | None,
    extent: Path | None,
    reading: dict[str, Any],
) -> tuple[Any, Any, Any]:
    """Read the inputs and return (land to group, fabric or None, lots or None)."""
    from nmgeo.fabric import land_fabric
    from nmgeo.io import read_extent
    from nmgeo.major_zone import assign_major_zone
    from nmgeo.zoning import assign_zoning

    lots = None if lots_path is None else _read_layer(ctx, run, lots_path, layer, "parcels")
    fabric = None
    if zones:
        zone_frame = _read_zones(ctx, run, zones, zones_layer)
        where = None
        if extent is not None:
            with run.step("read extent"), _flag_messages("extent"):
                where = read_extent(extent, crs=reading["crs"], encoding=reading["encoding"])
            run.input(extent, role="extent", rows=len(where))
        with run.step("land fabric"):
            fabric = land_fabric(zone_frame, lots, extent=where, progress=_show_progress(ctx))
        run.count("pieces", len(fabric))
        if lots is not None:  # the lot-level dominant zone, for the parcels layer
            with run.step("assign zoning"):
                zoned = assign_zoning(lots, zone_frame, progress=_show_progress(ctx))
                lots = assign_major_zone(zoned)
        land = fabric
    elif "land_use" not in lots.columns:
        msg = (
            f"lots in {str(lots_path)!r} have no land_use column; pass --zones with the "
            "OZP zoning layer so the packages are found on zoned land"
        )
        raise SchemaError(msg)
    else:
        land = lots
    with run.step("assign major zone"):
        land = assign_major_zone(land)
    if fabric is not None:
        fabric = land
    return land, fabric, lots


def _packages_write(
    run: Run, out: Path, fmap: Any, layers: dict[str, Any], tables: dict[str, Any]
) -> list[Path]:
    """Write the map, GeoPackage and report of `nmgeo packages` as one set."""
    from nmgeo.io import write_geopackage
    from nmgeo.report import write_report

    with StagedOutputs(out) as staged:  # the old set stays until the new one is whole
        with run.step("write map"):
            _save_map(fmap, staged.path("package_map.html"))
        staged.add(staged.path("package_map.html"))
        with run.step("write geopackage"):
            write_geopackage(staged.path("packages.gpkg"), keep_layers=False, **layers)
        staged.add(staged.path("packages.gpkg"), rows={k: len(v) for k, v in layers.items()})
        with run.step("write report"):
            reports = write_report(
                tables,
                staged.path("report"),
                map=fmap,
                title="Northern Metropolis land disposal packages",
            )
        for path in reports.values():
            name = next((n for n in tables if path.stem == f"report_{n}"), None)
            staged.add(path, rows=len(tables[name]) if name else len(tables["packages"]))
        return staged.commit(run)


# --------------------------------------------------------------------------- scenarios

_STUDY_INPUTS = ("zones", "zones_layer", "lots", "lots_layer", "extent", "bhc")


@main.command("scenarios")
@click.argument("study", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_reader_options
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="Address of a running dask scheduler (e.g. tcp://10.0.0.5:8786) to run the "
    "scenarios on; default: a local cluster on this machine's cores, started for the run.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes of the local cluster (default: the CPU count).",
)
@click.option(
    "--serial",
    is_flag=True,
    help="Run the scenarios one after the other in this process, without dask.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Inline the map's JavaScript and CSS so the page opens without internet.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output folder (created; existing files of the same names are replaced).",
)
@click.pass_context
def scenarios_cmd(
    ctx: click.Context,
    study: Path,
    scheduler: str | None,
    workers: int | None,
    serial: bool,
    offline: bool,
    out: Path,
    **reading: Any,
) -> None:
    """Run the packages job over a grid of settings (STUDY, a TOML file) and say how robust
    each site is.

    STUDY names the inputs (paths relative to it) in [inputs]: zones (a file, a folder of
    TPB plans, or a list), and optionally zones_layer, lots, lots_layer, extent, bhc; the
    limits tables by name in [limits] (name = "file.csv"); the settings to sweep in [grid]
    (setting = [values], every combination runs), and/or one [[scenario]] table per
    extra scenario; match_iou in [sweep]. Writes into --out: scenarios.xlsx /
    scenarios.html / scenarios.md and scenarios_*.csv (summary, sites, settings),
    robustness.gpkg (layers sites and pieces), robustness_map.html and
    manifest.json with every scenario's settings.
    """
    from nmgeo.maps import robustness_map
    from nmgeo.scenarios import run_scenarios

    if serial and scheduler is not None:
        msg = "--serial runs without dask; drop it or --scheduler"
        raise InputError(msg)
    plan = _read_study(study)
    inputs = plan["inputs"]
    outputs = [out / "robustness.gpkg", out / "robustness_map.html", out / "manifest.json"]
    outputs += [out / "scenarios.xlsx", out / "scenarios.html", out / "scenarios.md"]
    _refuse_overwrite(
        outputs,
        [study, *inputs["zones"], inputs["lots"], inputs["extent"], inputs["bhc"]]
        + list(plan["limits"].values()),
    )
    with _recording(ctx, 7) as run:
        run.input(study, role="study")
        land, _, _ = _packages_land(
            ctx,
            run,
            inputs["lots"],
            inputs["lots_layer"],
            inputs["zones"],
            inputs["zones_layer"],
            inputs["extent"],
            reading,
        )
        limits, controls = _study_limits(run, plan, reading)
        client = _study_client(scheduler, serial)
        with run.step("scenarios"):
            sweep = run_scenarios(
                land,
                plan["scenarios"],
                limits=limits or None,
                height_controls=controls,
                client=client,
                workers=workers,
                match_iou=plan["match_iou"],
                progress=_show_progress(ctx),
            )
        if client:
            client.close()
        run.count("scenarios", len(sweep.summary))
        run.count("sites", len(sweep.sites))
        run.extra["scenarios"] = sweep.settings.to_dict("records")
        run.extra["engine"] = sweep.parameters["engine"]
        run.extra["n_workers"] = sweep.parameters["n_workers"]
        with run.step("robustness map"), _flag_messages("scenarios"):
            fmap = robustness_map(sweep, offline=offline)
        written = _scenarios_write(run, out, fmap, sweep)
    robust = int((sweep.sites["robustness"] >= 1.0).sum())
    _say(
        ctx,
        f"{len(sweep.summary)} scenarios on {sweep.parameters['engine']} "
        f"({sweep.parameters['n_workers']} workers): {len(sweep.sites)} sites, {robust} of "
        "them packaged in every scenario",
    )
    for path in written:
        _say(ctx, f"wrote {path}")


def _read_study(path: Path) -> dict[str, Any]:
    """The inputs, limits, scenarios and sweep options of a study TOML, checked."""
    from nmgeo.scenarios import scenario_grid

    data = _read_toml(path, "study file")
    known = {"inputs", "limits", "grid", "scenario", "sweep"}
    unknown = sorted(set(data) - known)
    if unknown:
        msg = f"study file {str(path)!r}: unknown table [{unknown[0]}]; use {sorted(known)}"
        raise InputError(msg)
    raw = data.get("inputs", {})
    bad = sorted(set(raw) - set(_STUDY_INPUTS))
    if bad:
        msg = (
            f"study file {str(path)!r}: [inputs] has no key {bad[0]!r}; the keys are "
            + ", ".join(_STUDY_INPUTS)
        )
        raise InputError(msg)
    if "zones" not in raw:
        msg = f"study file {str(path)!r}: [inputs] needs zones (a file or folder of OZP plans)"
        raise InputError(msg)
    here = path.parent

    def local(value: Any, key: str) -> Path | None:
        if value is None:
            return None
        where = (here / str(value)).resolve()
        if not where.exists():
            msg = f"study file {str(path)!r}: {key} {str(value)!r} does not exist ({where})"
            raise InputError(msg)
        return where

    zones = raw["zones"] if isinstance(raw["zones"], list) else [raw["zones"]]
    inputs = {
        "zones": [local(z, "zones") for z in zones],
        "zones_layer": raw.get("zones_layer"),
        "lots": local(raw.get("lots"), "lots"),
        "lots_layer": raw.get("lots_layer"),
        "extent": local(raw.get("extent"), "extent"),
        "bhc": local(raw.get("bhc"), "bhc"),
    }
    limits = {str(k): local(v, f"limits {k}") for k, v in data.get("limits", {}).items()}
    listed = scenario_grid(data["grid"]) if data.get("grid") else []
    listed += [dict(s) for s in data.get("scenario", [])]
    if not listed:
        msg = f"study file {str(path)!r} has no [grid] and no [[scenario]]: nothing to run"
        raise InputError(msg)
    sweep = data.get("sweep", {})
    return {
        "inputs": inputs,
        "limits": limits,
        "scenarios": listed,
        "match_iou": float(sweep.get("match_iou", 0.5)),
    }


def _study_limits(run: Run, plan: dict[str, Any], reading: dict[str, Any]) -> tuple[Any, Any]:
    from nmgeo.capacity import read_limits
    from nmgeo.io import read_height_controls

    limits = {}
    for name, path in plan["limits"].items():
        with run.step(f"read limits {name}"), _flag_messages("limits"):
            limits[name] = read_limits(path)
        run.input(path, role=f"limits {name}", rows=len(limits[name]))
    controls = None
    bhc = plan["inputs"]["bhc"]
    if bhc is not None:
        with _flag_messages("bhc"):
            controls = read_height_controls(bhc, crs=reading["crs"], encoding=reading["encoding"])
        run.input(bhc, role="height controls", rows=len(controls))
    return limits, controls


def _study_client(scheduler: str | None, serial: bool) -> Any:
    """False (serial), None (a local cluster, started by run_scenarios) or a Client."""
    if serial:
        return False
    if scheduler is None:
        return None
    from dask.distributed import Client

    try:
        return Client(scheduler, timeout="10s")
    except OSError as err:
        msg = f"--scheduler {scheduler}: no dask scheduler answers there ({err})"
        raise InputError(msg) from None


def _scenarios_write(run: Run, out: Path, fmap: Any, sweep: Any) -> list[Path]:
    """Write the summary report, the robustness GeoPackage and map as one set."""
    from nmgeo.io import write_geopackage
    from nmgeo.report import write_report

    tables = {"summary": sweep.summary, "sites": sweep.sites.drop(columns="geometry")}
    tables["settings"] = sweep.settings.astype(str)
    layers = {"sites": sweep.sites, "pieces": sweep.pieces}
    with StagedOutputs(out) as staged:
        with run.step("write map"):
            _save_map(fmap, staged.path("robustness_map.html"))
        staged.add(staged.path("robustness_map.html"))
        with run.step("write geopackage"):
            write_geopackage(staged.path("robustness.gpkg"), keep_layers=False, **layers)
        staged.add(staged.path("robustness.gpkg"), rows={k: len(v) for k, v in layers.items()})
        reports = write_report(
            tables, staged.path("scenarios"), map=fmap, title="Scenario sweep: robustness"
        )
        for path in reports.values():
            name = next((n for n in tables if path.stem == f"scenarios_{n}"), "summary")
            staged.add(path, rows=len(tables[name]))
        return staged.commit(run)


# --------------------------------------------------------------------------- proximity


@main.command("proximity")
@click.argument("layer_path", metavar="LAYER", type=click.Path(exists=True, path_type=Path))
@click.option("--layer", default=None, help="Layer of LAYER. " + _LAYER_HELP)
@_reader_options
@click.option(
    "--to",
    "to",
    default="bcp",
    show_default=True,
    help="What to measure to: 'bcp' (the land boundary control points to Shenzhen), "
    "'rail' (rail stations, see --as-of) or a file of targets with a CRS (points, e.g. "
    "schools or depots).",
)
@click.option(
    "--name-column",
    default="name",
    show_default=True,
    help="Column naming the targets in a --to file.",
)
@click.option(
    "--as-of",
    type=click.IntRange(1990, 2100),
    default=None,
    help="For --to rail: the network of this year (stations open by then, planned ones "
    "from their target year, e.g. 2034). Default: the current year, i.e. the stations "
    "open today.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="CSV file: one row per polygon with its id, the nearest target and the straight-line "
    "distance (m).",
)
@click.pass_context
def proximity_cmd(
    ctx: click.Context,
    layer_path: Path,
    layer: str | None,
    to: str,
    name_column: str,
    as_of: int | None,
    out: Path,
    **reading: Any,
) -> None:
    """Nearest boundary crossing, rail station or target of every polygon in LAYER.

    Distances are straight lines in metres (EPSG:2326) from the polygon's edge; road
    distance is longer. Writes the CSV and <stem>.manifest.json beside it.
    """
    import geopandas as gpd

    from nmgeo.access import bcp_proximity, proximity, rail_proximity

    if out.suffix.lower() != ".csv":
        msg = f"--out must be a .csv file, not {str(out)!r}"
        raise InputError(msg)
    target_file = None
    if to.lower() not in ("bcp", "rail"):
        target_file = Path(to)
        if not target_file.exists():
            msg = f"--to must be 'bcp', 'rail' or an existing file of targets; {to!r} is neither"
            raise InputError(msg)
    manifest_path = _manifest_path(out, folder=False)
    _refuse_overwrite([out, manifest_path], [layer_path, target_file])
    with _recording(ctx, 4 if target_file else 3) as run:
        gdf = _read_layer(ctx, run, layer_path, layer, "layer")
        if target_file is not None:
            with run.step("read targets"):
                try:
                    targets = gpd.read_file(target_file, engine="pyogrio")
                except Exception as err:  # noqa: BLE001 - GDAL's own errors, reported in one line
                    msg = f"cannot read targets {str(target_file)!r}: {err}"
                    raise InputError(msg) from None
            if targets.crs is None:
                msg = (
                    f"targets {str(target_file)!r} have no CRS; save them with one "
                    "(e.g. EPSG:2326 or EPSG:4326)"
                )
                raise MissingCRSError(msg)
            run.input(target_file, role="targets", rows=len(targets))
            run.count("targets", len(targets))
        with run.step("nearest"):
            if target_file is not None:
                result = proximity(gdf, targets, name_column=name_column)
                prefix = "nearest_"
            elif to.lower() == "rail":
                year = network_year(as_of)
                run.extra["as_of"] = year
                result = rail_proximity(gdf, as_of=year)
                prefix = "rail_"
            else:
                result = bcp_proximity(gdf)
                prefix = "bcp_"
        ids = [c for c in ("parcel_id", "package_id") if c in result.columns]
        table = result[[*ids, f"{prefix}name", f"{prefix}distance_m"]]
        run.count("rows_written", len(table))
        with StagedOutputs(out.parent) as staged, run.step("write csv"):
            _write_csv(table, staged.path(out.name), "%.2f")
            staged.add(staged.path(out.name), rows=len(table))
            staged.commit(run, manifest_path.name)
    _say_wrote(ctx, out, manifest_path, f"{len(table):,} rows")
    if to.lower() == "rail":
        _say(ctx, f"rail stations counted on the network of {network_year(as_of)} (--as-of)")


# --------------------------------------------------------------------------- report


@main.command("report")
@_lots_and_zones
@click.option(
    "--by",
    default="major_zone,land_use",
    show_default=True,
    help="Columns to total land by, outermost first, comma-separated (e.g. major_zone for "
    "the NM major zones, land_use for OZP land-use classes, zone_label).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Table file; its suffix picks the format: .csv, .xlsx, .md or .html.",
)
@click.pass_context
def report_cmd(
    ctx: click.Context,
    layer_path: Path,
    layer: str | None,
    zones: tuple[Path, ...],
    zones_layer: str | None,
    by: str,
    out: Path,
    **reading: Any,
) -> None:
    """Land area (ha, share) of the lots in LAYER by major zone, land use or any column.

    Writes the table and <stem>.manifest.json beside it.
    """
    from nmgeo.major_zone import assign_major_zone
    from nmgeo.report import area_report, write_report

    keys = _parse_by(by)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("csv", "xlsx", "md", "html"):
        msg = f"--out must end in .csv, .xlsx, .md or .html, not {str(out)!r}"
        raise InputError(msg)
    manifest_path = _manifest_path(out, folder=False)
    _refuse_overwrite([out, manifest_path], [layer_path, *zones])
    with _recording(ctx, 4 + (2 if zones else 0)) as run:
        lots = _read_layer(ctx, run, layer_path, layer, "parcels")
        lots = _zone(ctx, run, lots, zones, zones_layer)
        with run.step("assign major zone"):
            if "major_zone" in keys and "major_zone" not in lots.columns:
                lots = assign_major_zone(lots)
        with run.step("area report"):
            table = area_report(lots, by=keys)
        run.count("rows_written", len(table))
        with StagedOutputs(out.parent) as staged, run.step("write report"):
            target = staged.path(out.name)
            if fmt == "csv":
                _write_csv(table, target, "%.4f")
            else:
                title = "Land area by " + ", ".join(keys)
                written = write_report(
                    {"area": table}, target.with_suffix(""), formats=[fmt], title=title
                )
                # write_report names the file with a lower-case suffix (R.MD -> R.md).
                os.replace(written[fmt], target)
            staged.add(target, rows=len(table))
            staged.commit(run, manifest_path.name)
    _say_wrote(ctx, out, manifest_path, f"{len(table):,} rows")


# --------------------------------------------------------------------------- map


@main.command("map")
@_lots_and_zones
@click.option(
    "--color-by",
    default="land_use",
    show_default=True,
    help="Column colouring the lots: land_use gets the planning colours (commercial red, "
    "G/IC blue, open space green...), other text columns distinct colours, numbers a ramp.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Inline the map's JavaScript and CSS so the page opens without internet "
    "(needs the npm node_modules folder: nmgeo.settings.assets or NMGEO_ASSETS); the base "
    "map still needs tiles.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="HTML page to write (a Leaflet map for a browser).",
)
@click.pass_context
def map_cmd(
    ctx: click.Context,
    layer_path: Path,
    layer: str | None,
    zones: tuple[Path, ...],
    zones_layer: str | None,
    color_by: str,
    offline: bool,
    out: Path,
    **reading: Any,
) -> None:
    """An interactive zoning map of the lots in LAYER, with tooltips, as one HTML page.

    Writes the page and <stem>.manifest.json beside it.
    """
    from nmgeo.major_zone import assign_major_zone
    from nmgeo.maps import parcel_map

    if out.suffix.lower() not in (".html", ".htm"):
        msg = f"--out must be an .html file, not {str(out)!r}"
        raise InputError(msg)
    manifest_path = _manifest_path(out, folder=False)
    _refuse_overwrite([out, manifest_path], [layer_path, *zones])
    with _recording(ctx, 3 + (2 if zones else 0)) as run:
        lots = _read_layer(ctx, run, layer_path, layer, "parcels")
        lots = _zone(ctx, run, lots, zones, zones_layer)
        if color_by == "major_zone" and "major_zone" not in lots.columns:
            lots = assign_major_zone(lots)
        with run.step("parcel map"), _flag_messages("parcels"):
            fmap = parcel_map(lots, color_by=color_by, offline=offline)
        with StagedOutputs(out.parent) as staged, run.step("write map"):
            _save_map(fmap, staged.path(out.name))
            staged.add(staged.path(out.name), rows=len(lots))
            staged.commit(run, manifest_path.name)
    _say_wrote(ctx, out, manifest_path, f"{len(lots):,} lots")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
