"""Parameters with planning sense: implausible distances and areas are warned about,
meaningless ones refused, each naming the parameter, the bound and the reason."""

from __future__ import annotations

import logging
import math

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Point, box

import nmgeo
from nmgeo._limits import LIMITS, NM_SPAN_M, check_limit
from nmgeo.errors import InputError

X0, Y0 = 833_000.0, 840_000.0


@pytest.fixture(scope="module")
def site() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": [1]}, geometry=[box(X0, Y0, X0 + 100, Y0 + 100)], crs=2326)


@pytest.fixture(scope="module")
def zones() -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {"ZONE_LABEL": ["C", "G/IC"]},
        geometry=[box(X0, Y0, X0 + 200, Y0 + 200), box(X0 + 200, Y0, X0 + 400, Y0 + 200)],
        crs=2326,
    )
    return nmgeo.read_zones(frame)


def _stations() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["S"], "opening_year": [2000]}, geometry=[Point(X0 + 50, Y0 + 500)], crs=2326
    )


def _roads() -> gpd.GeoDataFrame:
    line = LineString([(X0 - 1000, Y0 - 10), (X0 + 1000, Y0 - 10)])
    return gpd.GeoDataFrame(geometry=[line], crs=2326)


# Each call takes (site, zones, value) and passes value to the parameter under test.
CALLS = {
    "gap_tolerance": lambda s, z, v: nmgeo.build_packages(z, gap_tolerance=v),
    "min_area_ha": lambda s, z, v: nmgeo.build_packages(z, min_area_ha=v),
    "max_area_ha": lambda s, z, v: nmgeo.build_packages(z, max_area_ha=v),
    "walk_radius": lambda s, z, v: nmgeo.rail_walk_year(s, stations=_stations(), walk_radius=v),
    "timeline walk": lambda s, z, v: nmgeo.proximity_timeline(
        s, stations=_stations(), walk_radius=v
    ),
    "wide timeline walk": lambda s, z, v: nmgeo.assign_rail_timeline(
        s, stations=_stations(), walk_radius=v
    ),
    "catchment_radius": lambda s, z, v: nmgeo.catchment_share(s, _stations(), catchment_radius=v),
    "access walk": lambda s, z, v: nmgeo.assign_access(s, walk_radius=v),
    "access catchment": lambda s, z, v: nmgeo.assign_access(s, catchment_radius=v),
    "max_snap": lambda s, z, v: nmgeo.network_distance(
        s, _stations(), _roads(), max_snap=v, name_column="name"
    ),
    "resolution": lambda s, z, v: nmgeo.distance_raster(
        _stations(), bounds=(X0, Y0, X0 + 60_000, Y0 + 60_000), resolution=v
    ),
}
LIMIT_OF = {
    "timeline walk": "walk_radius",
    "wide timeline walk": "walk_radius",
    "access walk": "walk_radius",
    "access catchment": "catchment_radius",
}


def _limit(case: str):
    return LIMITS[LIMIT_OF.get(case, case)]


def _warned(caplog, name: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.getMessage().startswith(f"{name}=")
    ]


@pytest.mark.parametrize("case", [c for c in CALLS if _limit(c).refuse_above is not None])
def test_a_value_above_the_refusal_bound_is_refused_naming_it(site, zones, case):
    limit = _limit(case)
    name = LIMIT_OF.get(case, case)
    with pytest.raises(InputError) as err:
        CALLS[case](site, zones, limit.refuse_above * 1.5)
    msg = str(err.value)
    assert msg.startswith(f"{name}=") and "refused" in msg and f"{limit.refuse_above:,g}" in msg


@pytest.mark.parametrize("case", [c for c in CALLS if _limit(c).warn_above is not None])
def test_a_value_above_the_plausible_bound_is_warned_about_and_still_computed(
    site, zones, case, caplog
):
    limit = _limit(case)
    name = LIMIT_OF.get(case, case)
    value = limit.warn_above * 1.01
    if case == "resolution":
        value = 1_000.0
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        out = CALLS[case](site, zones, value)
    assert out is not None
    warned = _warned(caplog, name)
    assert len(warned) == 1 and limit.reason in warned[0]


@pytest.mark.parametrize("case", list(CALLS))
def test_a_plausible_value_gives_no_warning(site, zones, case, caplog):
    plausible = {
        "gap_tolerance": 15.0,
        "min_area_ha": 2.0,
        "max_area_ha": 10.0,
        "walk_radius": 800.0,
        "timeline walk": 800.0,
        "wide timeline walk": 800.0,
        "catchment_radius": 500.0,
        "access walk": 800.0,
        "access catchment": 500.0,
        "max_snap": 500.0,
        "resolution": 250.0,
    }[case]
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        CALLS[case](site, zones, plausible)
    assert _warned(caplog, LIMIT_OF.get(case, case)) == []


@pytest.mark.parametrize("case", list(CALLS))
@pytest.mark.parametrize("bad", [-1.0, math.nan, "800", None])
def test_a_value_that_is_no_distance_is_refused(site, zones, case, bad):
    if bad is None and case == "max_area_ha":
        pytest.skip("None means: never split")
    with pytest.raises(InputError, match=LIMIT_OF.get(case, case)):
        CALLS[case](site, zones, bad)


def test_inf_is_allowed_only_where_it_means_no_limit(site, zones):
    assert len(CALLS["max_snap"](site, zones, math.inf)) == 1
    with pytest.raises(InputError, match="walk_radius must be a finite"):
        CALLS["walk_radius"](site, zones, math.inf)


def test_zero_is_refused_where_it_means_nothing():
    with pytest.raises(InputError, match="catchment_radius must be a distance > 0 m"):
        check_limit(0.0, "catchment_radius")
    assert check_limit(0.0, "walk_radius") == 0.0


def test_the_map_names_its_own_parameter(zones):
    result = nmgeo.build_packages(zones, min_area_ha=0.1)
    with pytest.raises(InputError, match=r"^catchment_radius=75,000 m is refused"):
        nmgeo.package_map(result, catchments=True, catchment_radius=1.5 * NM_SPAN_M)


@pytest.mark.parametrize(
    ("flag", "value", "bound"),
    [
        ("--gap-tolerance", "1e9", "200"),
        ("--gap", "1e9", "200"),
        ("--walk-radius", "1e9", "50,000"),
        ("--catchment-radius", "1e9", "50,000"),
    ],
)
def test_the_cli_distance_flags_are_refused_in_one_line(tmp_path, flag, value, bound):
    from click.testing import CliRunner

    from nmgeo.cli import main

    zones = gpd.GeoDataFrame(
        {"ZONE_LABEL": ["C"]}, geometry=[box(X0, Y0, X0 + 200, Y0 + 200)], crs=2326
    )
    path = tmp_path / "z.gpkg"
    zones.to_file(path, engine="pyogrio")
    run = CliRunner().invoke(
        main, ["packages", "--zones", str(path), flag, value, "--out", str(tmp_path / "o")]
    )
    assert run.exit_code == 2
    lines = [line for line in run.output.splitlines() if line.strip()]
    shown = "--gap-tolerance" if flag == "--gap" else flag
    assert len(lines) == 1 and shown in lines[0] and bound in lines[0]
    assert not (tmp_path / "o" / "manifest.json").exists()


def test_the_cli_warns_once_about_an_implausible_radius(tmp_path, caplog):
    from click.testing import CliRunner

    from nmgeo.cli import main

    zones = gpd.GeoDataFrame(
        {"ZONE_LABEL": ["C"]}, geometry=[box(X0, Y0, X0 + 200, Y0 + 200)], crs=2326
    )
    path = tmp_path / "z.gpkg"
    zones.to_file(path, engine="pyogrio")
    args = [
        "packages",
        "--zones",
        str(path),
        "--walk-radius",
        "3000",
        "--out",
        str(tmp_path / "o"),
    ]
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    assert len(_warned(caplog, "walk_radius")) == 1


def test_warn_false_checks_refusals_only(caplog):
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        assert check_limit(3_000.0, "walk_radius", warn=False) == 3_000.0
    assert _warned(caplog, "walk_radius") == []
    with pytest.raises(InputError, match="refused"):
        check_limit(1e9, "walk_radius", warn=False)
