"""A command's outputs are written whole or not at all: staged, moved together, locked."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from click.testing import CliRunner
from shapely.geometry import box

import nmgeo
from nmgeo._outputs import LOCK_NAME, STAGE_MARKER, STAGE_PREFIX
from nmgeo.cli import main

X0, Y0 = 833_000.0, 840_000.0


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    labels = ["C", "G/IC", "C", "O", "V", "C"]
    zones = gpd.GeoDataFrame(
        {"ZONE_LABEL": labels, "PLAN_NO": ["S/TEST/1"] * len(labels)},
        geometry=[box(X0 + 310 * i, Y0, X0 + 300 + 310 * i, Y0 + 100) for i in range(6)],
        crs="EPSG:2326",
    )
    lots = gpd.GeoDataFrame(
        {"LOTID": [f"L{i}" for i in range(12)]},
        geometry=[box(X0 + 150 * i, Y0 + 10, X0 + 150 * i + 40, Y0 + 50) for i in range(12)],
        crs="EPSG:2326",
    )
    zpath, lpath = folder / "zones.gpkg", folder / "lots.gpkg"
    zones.to_file(zpath, engine="pyogrio")
    lots.to_file(lpath, engine="pyogrio")
    return zpath, lpath


def _args(inputs, out: Path, *extra: str) -> list[str]:
    zpath, lpath = inputs
    return [
        "-q",
        "packages",
        "--zones",
        str(zpath),
        "--lots",
        str(lpath),
        "--out",
        str(out),
        *extra,
    ]


def _snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every output file in the folder (not the hidden lock and staging)."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.startswith(".")
    }


def _consistent(folder: Path, *, clean: bool = True) -> None:
    """The folder holds one complete run: every output its manifest names, at its size
    (and, if ``clean``, no lock or staging folder left)."""
    man = json.loads((folder / "manifest.json").read_text())
    for entry in man["outputs"]:
        path = Path(entry["path"])
        assert path.parent == folder, path
        assert path.stat().st_size == entry["size_bytes"], path
    assert len(pyogrio.read_dataframe(folder / "packages.gpkg", layer="packages")) >= 1
    assert (folder / "package_map.html").read_text(encoding="utf-8").rstrip().endswith("</html>")
    if clean:
        assert not list(folder.glob(f"{STAGE_PREFIX}*"))
        assert not (folder / LOCK_NAME).exists()


def test_a_run_leaves_only_its_outputs_and_a_consistent_manifest(inputs, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, _args(inputs, out))
    assert result.exit_code == 0, result.output
    _consistent(out)


OS_ERRORS = [
    (errno.ENOSPC, "No space left on device", "no space left on the device"),
    (errno.EDQUOT, "Disk quota exceeded", "the disk quota is exceeded"),
    (errno.EROFS, "Read-only file system", "the file system is read-only"),
    (errno.EACCES, "Permission denied", "permission denied"),
    (errno.EPERM, "Operation not permitted", "an immutable file?"),
    (errno.EISDIR, "Is a directory", "a folder is in the way of the file"),
    (errno.EIO, "Input/output error", "Input/output error"),
]


@pytest.mark.parametrize(("code", "strerror", "cause"), OS_ERRORS, ids=lambda v: str(v)[:12])
def test_an_os_error_late_in_the_run_is_one_line_and_leaves_the_previous_run_intact(
    inputs, tmp_path, monkeypatch, code, strerror, cause
):
    out = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(main, _args(inputs, out)).exit_code == 0
    before = _snapshot(out)

    def failing(*args, **kwargs):
        raise OSError(code, strerror, str(out / "report.xlsx"))

    monkeypatch.setattr(nmgeo.report, "write_report", failing)
    result = runner.invoke(main, _args(inputs, out, "--gap", "20"))
    assert result.exit_code == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and cause in lines[0] and "Traceback" not in result.stderr
    assert str(out / "report.xlsx") in lines[0]
    assert _snapshot(out) == before
    _consistent(out)


def test_an_out_that_is_a_file_is_one_line(inputs, tmp_path):
    out = tmp_path / "out"
    out.write_text("not a folder")
    result = CliRunner().invoke(main, _args(inputs, out))
    assert result.exit_code == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(out) in lines[0]
    assert out.read_text() == "not a folder"


def test_an_out_path_too_long_for_the_file_system_is_one_line(inputs, tmp_path):
    out = tmp_path / ("x" * 300)
    result = CliRunner().invoke(main, _args(inputs, out))
    assert result.exit_code == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "the path is too long" in lines[0]


def test_a_folder_in_the_way_of_an_output_is_one_line_and_nothing_is_moved(inputs, tmp_path):
    out = tmp_path / "out"
    (out / "package_map.html").mkdir(parents=True)
    result = CliRunner().invoke(main, _args(inputs, out))
    assert result.exit_code == 2
    assert "a folder is in the way" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["package_map.html"]


def test_a_second_run_into_the_same_folder_is_refused_while_the_first_writes(inputs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / LOCK_NAME).write_text(str(sleeper.pid))
        result = CliRunner().invoke(main, _args(inputs, out))
        assert result.exit_code == 2
        assert f"another nmgeo run (process {sleeper.pid})" in result.stderr
        assert not (out / "manifest.json").exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    # The lock of a process that is gone is stale: the next run takes it over.
    result = CliRunner().invoke(main, _args(inputs, out))
    assert result.exit_code == 0, result.output
    _consistent(out)


def test_a_kill_at_any_moment_leaves_the_previous_run_readable_and_intact(inputs, tmp_path):
    out = tmp_path / "out"
    assert CliRunner().invoke(main, _args(inputs, out)).exit_code == 0
    previous = _snapshot(out)
    cmd = [sys.executable, "-m", "nmgeo.cli", *_args(inputs, out, "--gap", "25")]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    full = time.perf_counter() - start
    outcomes = []
    for fraction in (0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 0.95):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(full * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = _snapshot(out)
        # Either the old set, or a whole new one (the kill came after the last move).
        if now != previous:
            outcomes.append("new")
            _consistent(out, clean=False)
            previous = now
        else:
            outcomes.append("old")
        # Only the killed run's hidden lock and staging folder can be left behind.
        leftovers = {p.name for p in out.iterdir()} - set(now)
        assert all(name.startswith(".") for name in leftovers), leftovers
    assert "old" in outcomes
    result = CliRunner().invoke(main, _args(inputs, out))
    assert result.exit_code == 0, result.output
    _consistent(out)


def test_a_failed_synth_leaves_the_previous_sample_set_intact(tmp_path, monkeypatch):
    out = tmp_path / "sample"
    args = ["-q", "synth", "--lots", "10000", "--seed", "1", "--out", str(out)]
    runner = CliRunner()
    assert runner.invoke(main, args).exit_code == 0
    before = _snapshot(out)
    assert set(before) == {"nm_sample.gpkg", "nm_dem.tif", "sample.json", "manifest.json"}

    def disk_full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(out / "nm_dem.tif"))

    monkeypatch.setattr(nmgeo.datasets, "write_dem", disk_full)
    result = runner.invoke(main, [*args[:-3], "2", "--out", str(out)])
    assert result.exit_code == 2 and "no space left" in result.stderr
    assert _snapshot(out) == before  # the GeoPackage of seed 2 never replaced seed 1's
    assert sorted(p.name for p in out.iterdir()) == sorted(before)


def test_a_move_failing_midway_leaves_the_previous_set_and_names_the_file(
    inputs, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(main, _args(inputs, out)).exit_code == 0
    before = _snapshot(out)
    real = os.replace

    def immutable_report_md(src, dst, *a, **k):
        if str(dst) == str(out / "report.md"):
            raise PermissionError(errno.EPERM, "Operation not permitted", str(src))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", immutable_report_md)
    result = runner.invoke(main, _args(inputs, out, "--gap", "20"))
    assert result.exit_code == 2
    assert f"cannot write {out / 'report.md'}:" in result.stderr
    assert _snapshot(out) == before  # the files moved before report.md were put back
    _consistent(out)


def test_a_lock_and_stage_left_under_this_very_pid_are_stale(inputs, tmp_path):
    # In a PID namespace a new run can get the pid of the killed run that left them.
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).write_text(str(os.getpid()))
    stage = out / f"{STAGE_PREFIX}{os.getpid()}-deadbeef"
    stage.mkdir()
    (stage / STAGE_MARKER).write_text("nmgeo staging folder\n")
    result = CliRunner().invoke(main, _args(inputs, out))
    assert result.exit_code == 0, result.output
    _consistent(out)


def test_the_config_file_is_an_input_no_output_replaces(inputs, tmp_path):
    zpath, lpath = inputs
    config = tmp_path / "report.md"
    config.write_text('[report]\nby = "land_use"\n')
    result = CliRunner().invoke(
        main,
        [
            "-q",
            "--config",
            str(config),
            "report",
            str(lpath),
            "--zones",
            str(zpath),
            "--out",
            str(config),
        ],
    )
    assert result.exit_code == 2 and "is the input file" in result.stderr
    assert config.read_text() == '[report]\nby = "land_use"\n'


def test_a_report_suffix_in_upper_case_is_written_as_named(inputs, tmp_path):
    zpath, lpath = inputs
    out = tmp_path / "R.MD"
    result = CliRunner().invoke(
        main, ["-q", "report", str(lpath), "--zones", str(zpath), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("# Land area by")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R.MD", "R.manifest.json"]


@pytest.mark.parametrize(
    ("command", "flag", "value"),
    [
        ("report", "--by", "area_m2"),
        ("report", "--by", "zone_label,zone_label"),
        ("report", "--by", "geometry"),
        ("map", "--color-by", "geometry"),
    ],
)
def test_a_reserved_or_repeated_column_is_one_line(inputs, tmp_path, command, flag, value):
    zpath, lpath = inputs
    out = tmp_path / ("a.csv" if command == "report" else "m.html")
    result = CliRunner().invoke(
        main, ["-q", command, str(lpath), "--zones", str(zpath), flag, value, "--out", str(out)]
    )
    assert result.exit_code == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert not out.exists()


def test_a_lock_of_a_process_that_started_at_another_time_is_stale(inputs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).write_text("1 12345")  # pid 1 lives, but it is not the run that locked
    result = CliRunner().invoke(main, _args(inputs, out))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("value", ["{a = 1}", "2030-01-01", '"r\\u0000.csv"', "[]"])
def test_a_config_value_of_the_wrong_kind_is_one_line(inputs, tmp_path, value):
    config = tmp_path / "c.toml"
    config.write_text(f"[packages]\ngap = {value}\n")
    result = CliRunner().invoke(
        main, ["-q", "--config", str(config), *_args(inputs, tmp_path / "o")[1:]]
    )
    assert result.exit_code == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "[packages] gap" in lines[0]


def test_zones_can_be_listed_in_the_config(inputs, tmp_path):
    zpath, lpath = inputs
    config = tmp_path / "c.toml"
    config.write_text(f'[report]\nzones = ["{zpath}"]\n')
    out = tmp_path / "a.csv"
    result = CliRunner().invoke(
        main, ["-q", "--config", str(config), "report", str(lpath), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "zone_label" in out.read_text() or "land_use" in out.read_text()
