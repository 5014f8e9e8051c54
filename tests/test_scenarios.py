"""Scenario sweeps: hand layouts with known robustness, a serial run equal to a run on a
dask cluster of 2 worker processes, a worker killed mid-sweep, the study file command."""

from __future__ import annotations

import os
import signal
import threading
import time

import pandas as pd
import pyogrio
import pytest
from cadastre import b, zones_of
from click.testing import CliRunner

import nmgeo
from nmgeo.cli import main
from nmgeo.errors import InputError
from nmgeo.scenarios import run_scenarios, scenario_grid

distributed = pytest.importorskip("distributed")


def _fabric(rows):
    return nmgeo.land_fabric(zones_of(rows))


@pytest.fixture(scope="module")
def growing():
    """A+B: two 1.5 ha commercial sites 20 m apart (a package only across a 30 m gap);
    C: a 3 ha commercial site, with D, 1.5 ha of CDA, 20 m from it (C alone is a package;
    C+D only with mixed use counted as commercial and a 30 m gap)."""
    return _fabric(
        [
            ("C", "commercial", b(0, 0, 100, 150)),
            ("C", "commercial", b(120, 0, 220, 150)),
            ("C", "commercial", b(1000, 0, 1200, 150)),
            ("CDA", "mixed_use", b(1220, 0, 1320, 150)),
        ]
    )


@pytest.fixture(scope="module")
def growing_sweep(growing):
    grid = {"gap_tolerance": [15, 30], "commercial": [["commercial"], ["commercial", "mixed_use"]]}
    return run_scenarios(growing, grid, client=False, progress=False)


def _piece_of(fabric, x):
    """piece_id of the fabric piece whose bounds start at x (m from the origin)."""
    from cadastre import X0

    hit = fabric[(fabric.geometry.bounds["minx"] - X0).round(6) == x]
    assert len(hit) == 1
    return hit["piece_id"].iloc[0]


def test_a_site_that_needs_a_wider_gap_says_so(growing_sweep, growing):
    sweep = growing_sweep
    assert len(sweep.summary) == 4
    # Scenario order: the last setting varies fastest.
    assert sweep.summary["gap_tolerance"].tolist() == [15, 15, 30, 30]
    assert sweep.summary["n_packages"].tolist() == [1, 1, 2, 2]
    assert sweep.summary["area_ha"].tolist() == pytest.approx([3, 3, 6, 7.5])
    sites = sweep.sites.set_index("site_id")
    assert list(sites.index) == ["S001", "S002"]
    # S001: C, packaged in every scenario; with D under the widest setting.
    assert sites.loc["S001", "robustness"] == 1.0
    assert sites.loc["S001", "area_ha_min"] == pytest.approx(3.0)
    assert sites.loc["S001", "area_ha_max"] == pytest.approx(4.5)
    assert sites.loc["S001", "core_ha"] == pytest.approx(3.0)
    assert sites.loc["S001", "only_when"] == ""
    # S002: A+B, only across a 30 m gap, whatever counts as commercial.
    assert sites.loc["S002", "robustness"] == 0.5
    assert sites.loc["S002", "only_when"] == "gap_tolerance in {30}"
    assert sites.loc["S002", "scenarios"] == "SC003, SC004"
    assert sites.loc["S002", "geometry"].area == pytest.approx(30_000)
    pieces = sweep.pieces.set_index("piece_id")
    a, c, d = (_piece_of(growing, x) for x in (0, 1000, 1220))
    assert pieces.loc[a, "robustness"] == 0.5 and pieces.loc[a, "site_id"] == "S002"
    assert pieces.loc[c, "robustness"] == 1.0
    assert pieces.loc[d, "robustness"] == 0.25 and pieces.loc[d, "site_id"] == "S001"
    assert (pieces["n_sites"] == 1).all()
    # Every package of every scenario has its site.
    assert sweep.packages["site_id"].notna().all()
    assert sweep.packages.groupby("scenario").size().tolist() == [1, 1, 2, 2]


def test_the_order_of_the_land_changes_nothing(growing, growing_sweep):
    grid = {"gap_tolerance": [15, 30], "commercial": [["commercial"], ["commercial", "mixed_use"]]}
    shuffled = run_scenarios(growing.iloc[[2, 0, 3, 1]], grid, client=False, progress=False)
    for name in ("summary", "packages", "settings"):
        pd.testing.assert_frame_equal(getattr(shuffled, name), getattr(growing_sweep, name))
    for name in ("sites", "pieces"):
        pd.testing.assert_frame_equal(
            pd.DataFrame(getattr(shuffled, name).drop(columns="geometry")),
            pd.DataFrame(getattr(growing_sweep, name).drop(columns="geometry")),
        )


def test_packages_sharing_half_their_land_or_less_are_different_sites():
    # E and F, 2 ha each, 20 m apart: two packages at 15 m, one of 4 ha at 30 m. E shares
    # exactly half of EF's land, which is not more than half: three sites.
    fabric = _fabric(
        [("C", "commercial", b(0, 0, 100, 200)), ("C", "commercial", b(120, 0, 220, 200))]
    )
    sweep = run_scenarios(fabric, {"gap_tolerance": [15, 30]}, client=False, progress=False)
    sites = sweep.sites.set_index("site_id")
    assert len(sites) == 3
    merged = sites.index[sites["area_ha_max"].round(6) == 4.0][0]
    alone = [s for s in sites.index if s != merged]
    assert sites.loc[merged, "only_when"] == "gap_tolerance in {30}"
    for site in alone:
        assert sites.loc[site, "only_when"] == "gap_tolerance in {15}"
        assert sites.loc[site, "shares_land_with"] == merged
    assert set(sites.loc[merged, "shares_land_with"].split(", ")) == set(alone)
    pieces = sweep.pieces
    assert (pieces["robustness"] == 1.0).all() and (pieces["n_sites"] == 2).all()
    assert (pieces["site_share"] == 0.5).all()
    # With a lower bar (a third of the land) E and EF are one site, F and EF too: one site.
    loose = run_scenarios(
        fabric, {"gap_tolerance": [15, 30]}, client=False, progress=False, match_iou=0.3
    )
    assert len(loose.sites) == 1 and loose.sites["robustness"].iloc[0] == 1.0


def test_capacity_and_rail_year_per_scenario():
    fabric = _fabric([("C(1)", "commercial", b(0, 0, 200, 150))])  # 3 ha
    limits = {
        "low": nmgeo.read_limits(pd.DataFrame({"zone_label": ["C"], "max_plot_ratio": [2]})),
        "high": nmgeo.read_limits(pd.DataFrame({"zone_label": ["C"], "max_plot_ratio": [5]})),
    }
    sweep = run_scenarios(
        fabric, {"limits": ["low", "high"]}, limits=limits, client=False, progress=False
    )
    assert sweep.summary["gfa_m2"].tolist() == pytest.approx([60_000, 150_000])
    jobs = nmgeo.capacity.capacity_parameters().set_index("name")["value"]
    per_job = jobs["floor_space_per_job_m2"]
    assert sweep.summary["jobs"].tolist() == pytest.approx([60_000 / per_job, 150_000 / per_job])
    # One site in both, whatever its floor space.
    assert len(sweep.sites) == 1 and sweep.sites["robustness"].iloc[0] == 1.0
    # Without a limits table the capacity columns stay empty, not 0.
    bare = run_scenarios(fabric, [{}], client=False, progress=False)
    assert bare.summary["gfa_m2"].isna().all()


def test_zones_alone_and_zoned_lots_are_swept_too(growing_sweep):
    zones = zones_of(
        [
            ("C", "commercial", b(0, 0, 100, 150)),
            ("C", "commercial", b(120, 0, 220, 150)),
            ("C", "commercial", b(1000, 0, 1200, 150)),
            ("CDA", "mixed_use", b(1220, 0, 1320, 150)),
        ]
    )
    grid = {"gap_tolerance": [15, 30], "commercial": [["commercial"], ["commercial", "mixed_use"]]}
    # Zones alone: cut into a fabric once, the same sweep as on the fabric.
    on_zones = run_scenarios(zones, grid, client=False, progress=False)
    pd.testing.assert_frame_equal(on_zones.summary, growing_sweep.summary)
    # Zoned lots (the same rectangles as lots with land_use): grouped lot by lot.
    lots = zones.assign(parcel_id=["L1", "L2", "L3", "L4"])
    on_lots = run_scenarios(lots, grid, client=False, progress=False)
    assert on_lots.summary["area_ha"].tolist() == pytest.approx([3, 3, 6, 7.5])
    pieces = on_lots.pieces.set_index("piece_id")
    assert set(pieces.index) == {"L1", "L2", "L3", "L4"}
    assert pieces.loc["L4", "robustness"] == 0.25 and pieces.loc["L1", "robustness"] == 0.5


def test_settings_are_checked():
    fabric = _fabric([("C", "commercial", b(0, 0, 200, 150))])
    with pytest.raises(InputError, match="unknown scenario setting 'gap'"):
        scenario_grid({"gap": [15]})
    with pytest.raises(InputError, match="has no values"):
        scenario_grid({"gap_tolerance": []})
    with pytest.raises(InputError, match="has no values"):
        scenario_grid({"commercial": []})
    with pytest.raises(InputError, match="scenario 1: commercial names no land-use class"):
        run_scenarios(fabric, [{"commercial": []}], client=False, progress=False)
    with pytest.raises(InputError, match="'strict' is not among the limits tables"):
        run_scenarios(fabric, [{"limits": "strict"}], client=False, progress=False)
    with pytest.raises(InputError, match="match_iou"):
        run_scenarios(fabric, [{}], client=False, match_iou=0)
    assert scenario_grid({"commercial": ["commercial", "mixed_use"]}) == [
        {"commercial": ("commercial", "mixed_use")}
    ]


# --------------------------------------------------------------------------- on dask


@pytest.fixture(scope="module")
def metro():
    """The sample's land fabric in an 8 km x 8 km window: about 6,400 pieces, 60 packages."""
    s = nmgeo.load_sample()
    fabric = nmgeo.land_fabric(s.zones, s.parcels)
    return fabric.cx[820_000:828_000, 836_000:844_000].reset_index(drop=True)


GRID = {"gap_tolerance": [10, 15, 30], "min_area_ha": [1, 2], "as_of": [2026, 2034]}


@pytest.fixture(scope="module")
def serial(metro):
    return run_scenarios(metro, GRID, client=False, progress=False)


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


def _same(a, b):
    for name in ("summary", "packages", "settings", "members"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    for name in ("sites", "pieces"):
        left, right = getattr(a, name), getattr(b, name)
        pd.testing.assert_frame_equal(
            pd.DataFrame(left.drop(columns="geometry")),
            pd.DataFrame(right.drop(columns="geometry")),
        )
        assert left.geometry.geom_equals_exact(right.geometry, tolerance=0).all()


def test_a_sweep_on_two_worker_processes_equals_the_serial_run(serial, metro, client):
    sweep = run_scenarios(metro, GRID, client=client, progress=False)
    assert sweep.parameters["n_workers"] == 2 and sweep.parameters["engine"].startswith("tcp")
    assert len(sweep.summary) == 12 and len(sweep.sites) > 0
    _same(serial, sweep)
    assert serial.parameters["engine"] == "serial"


def test_a_worker_killed_mid_sweep_does_not_stop_it(serial, metro, client):
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    killed = {}

    def kill_when_busy():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(client.processing().values()):
                os.kill(victim, signal.SIGKILL)
                killed["at"] = time.monotonic()
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_when_busy)
    killer.start()
    sweep = run_scenarios(metro, GRID, client=client, progress=False)
    finished = time.monotonic()
    killer.join()
    assert "at" in killed and killed["at"] < finished, "the worker was not killed mid-sweep"
    _same(serial, sweep)
    client.wait_for_workers(2, timeout=60)
    assert victim not in client.run(os.getpid).values()  # the nanny started a new worker


# --------------------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def study_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    return folder, nmgeo.synthetic_metropolis(10_000, seed=5).write(folder / "data")


def test_scenarios_command_on_a_running_scheduler(study_data, client, tmp_path):
    folder, paths = study_data
    study = folder / "on_cluster.toml"
    study.write_text(
        f"""
[inputs]
zones = "{paths["gpkg"].relative_to(folder).as_posix()}"
zones_layer = "ozp_zones"
lots = "{paths["gpkg"].relative_to(folder).as_posix()}"
lots_layer = "lots"

[grid]
gap_tolerance = [15, 30]
""",
        encoding="utf-8",
    )
    address = client.scheduler.address
    out = tmp_path / "out"
    args = ["scenarios", str(study), "--scheduler", address, "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"2 scenarios on {address} (2 workers)" in result.output
    import json

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["engine"] == address and manifest["n_workers"] == 2
    # No scheduler there: one line, exit code 2.
    bad = CliRunner().invoke(
        main, ["scenarios", str(study), "--scheduler", "tcp://127.0.0.1:9", "--out", str(out)]
    )
    assert bad.exit_code == 2
    lines = [ln for ln in bad.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "no dask scheduler answers" in lines[0], bad.stderr


def test_scenarios_command_writes_the_summary_the_robustness_layers_and_map(study_data):
    tmp_path, paths = study_data
    limits = tmp_path / "limits.csv"
    limits.write_text("zone_label,max_plot_ratio\nC,9.5\nOU,5\n", encoding="utf-8")
    study = tmp_path / "study.toml"
    study.write_text(
        f"""
[inputs]
zones = "{paths["gpkg"].relative_to(tmp_path).as_posix()}"
zones_layer = "ozp_zones"
lots = "{paths["gpkg"].relative_to(tmp_path).as_posix()}"
lots_layer = "lots"

[limits]
base = "limits.csv"

[grid]
gap_tolerance = [15, 30]
limits = ["base"]

[[scenario]]
gap_tolerance = 10
commercial = ["commercial", "mixed_use"]
""",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["scenarios", str(study), "--serial", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 scenarios on serial" in result.output
    summary = pd.read_csv(out / "scenarios_summary.csv")
    assert summary["gap_tolerance"].tolist() == [15, 30, 10]
    assert summary["commercial"].tolist() == ["commercial", "commercial", "commercial+mixed_use"]
    # The same sweep through the API.
    fabric = nmgeo.land_fabric(
        nmgeo.read_zones(paths["gpkg"], layer="ozp_zones"),
        nmgeo.read_parcels(paths["gpkg"], layer="lots"),
    )
    api = run_scenarios(
        nmgeo.assign_major_zone(fabric),
        [
            {"gap_tolerance": 15, "limits": "base"},
            {"gap_tolerance": 30, "limits": "base"},
            {"gap_tolerance": 10, "commercial": ["commercial", "mixed_use"]},
        ],
        limits={"base": nmgeo.read_limits(limits)},
        client=False,
        progress=False,
    )
    assert summary["n_packages"].tolist() == api.summary["n_packages"].tolist()
    assert summary["gfa_m2"].iloc[:2].tolist() == pytest.approx(api.summary["gfa_m2"].iloc[:2])
    assert summary["gfa_m2"].isna().iloc[2]
    sites = pyogrio.read_dataframe(out / "robustness.gpkg", layer="sites")
    assert len(sites) == len(api.sites)
    assert sites["robustness"].tolist() == pytest.approx(api.sites["robustness"].tolist())
    pieces = pyogrio.read_dataframe(out / "robustness.gpkg", layer="pieces")
    assert len(pieces) == len(api.pieces)
    html = (out / "robustness_map.html").read_text(encoding="utf-8")
    assert "Sites by robustness" in html and "Only when" in html
    import json

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert [s["gap_tolerance"] for s in manifest["scenarios"]] == [15, 30, 10]
    assert manifest["engine"] == "serial"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[inputs]\nzones = 'nowhere.gpkg'\n[grid]\ngap_tolerance = [15]\n", "does not exist"),
        ("[inputs]\nzone = 'x'\n", "has no key 'zone'"),
        ("[nope]\n", "unknown table [nope]"),
        ("[inputs]\nzones = 'study.toml'\n", "nothing to run"),
        ("[inputs]\nzones = 'study.toml'\n[grid]\ngap = [1]\n", "unknown scenario setting"),
    ],
)
def test_a_bad_study_file_is_one_error_line(tmp_path, text, message):
    study = tmp_path / "study.toml"
    study.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["scenarios", str(study), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr
