"""Verbs pause Python's cyclic garbage collector while they run, and give it back as it was."""

from __future__ import annotations

import gc
import threading

import pytest

import nmgeo
from nmgeo import _gc, settings
from nmgeo._gc import gc_paused, pauses_gc
from nmgeo.errors import InputError


@pytest.fixture(autouse=True)
def _collector_restored():
    was, threshold = gc.isenabled(), gc.get_threshold()
    yield
    settings.pause_gc = None
    gc.set_threshold(*threshold)
    (gc.enable if was else gc.disable)()


@pytest.fixture
def collections():
    """Collections seen while the test runs: for each, how many verbs were running."""
    seen: list[int] = []

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            seen.append(_gc._running)  # verbs running when the collection began

    gc.callbacks.append(callback)
    yield seen
    gc.callbacks.remove(callback)


def _fabric_of_sample() -> None:
    sample = nmgeo.load_sample()
    nmgeo.land_fabric(sample.zones, sample.parcels)


def test_no_collection_runs_inside_a_verb(collections):
    sample = nmgeo.load_sample()
    gc.enable()
    gc.set_threshold(50)  # a collection every 50 new objects, were the collector on
    collections.clear()
    nmgeo.land_fabric(sample.zones, sample.parcels)
    # At most the collections as the call begins and as the collector comes back.
    assert len(collections) <= 2
    assert all(running == 0 for running in collections)
    assert gc.isenabled()
    # The same call with the pause turned off sets off collections: the test can fail.
    settings.pause_gc = False
    collections.clear()
    nmgeo.land_fabric(sample.zones, sample.parcels)
    assert len(collections) > 10


def test_environment_turns_the_pause_off(monkeypatch, collections):
    monkeypatch.setenv("NMGEO_PAUSE_GC", "off")
    assert settings.current_pause_gc() is False
    gc.enable()
    gc.set_threshold(50)
    sample = nmgeo.load_sample()
    collections.clear()
    nmgeo.land_fabric(sample.zones, sample.parcels)
    assert len(collections) > 10
    monkeypatch.setenv("NMGEO_PAUSE_GC", "1")
    assert settings.current_pause_gc() is True


@pytest.mark.parametrize("bad", [1, "no", 0.0])
def test_a_pause_setting_that_is_no_bool_is_refused(bad):
    settings.pause_gc = bad
    with pytest.raises(InputError, match="nmgeo.settings.pause_gc"):
        settings.current_pause_gc()


def test_a_collector_the_caller_turned_off_stays_off():
    gc.disable()
    _fabric_of_sample()
    assert not gc.isenabled()


def test_the_collector_comes_back_when_a_verb_fails():
    gc.enable()

    @pauses_gc
    def verb() -> None:
        assert not gc.isenabled()
        raise InputError("bad input")

    with pytest.raises(InputError):
        verb()
    assert gc.isenabled()


def test_the_collector_comes_back_only_when_the_last_verb_ends():
    """Verbs running at once in two threads: the first to end leaves the pause on."""
    gc.enable()
    first_in, second_done, states = threading.Event(), threading.Event(), []

    def long_verb() -> None:
        with gc_paused():
            first_in.set()
            second_done.wait(10)
            states.append(("after the other ended", gc.isenabled()))

    thread = threading.Thread(target=long_verb)
    thread.start()
    first_in.wait(10)
    with gc_paused():
        states.append(("both running", gc.isenabled()))
    second_done.set()
    thread.join(10)
    assert states == [("both running", False), ("after the other ended", False)]
    assert gc.isenabled()


def test_nested_verbs_restore_the_collector_once():
    gc.enable()
    with gc_paused():
        with gc_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_paused_verb_keeps_its_signature_and_docstring():
    import inspect

    assert "zones" in inspect.signature(nmgeo.land_fabric).parameters
    assert nmgeo.land_fabric.__doc__.startswith(nmgeo.land_fabric.__wrapped__.__doc__[:40])
    assert nmgeo.land_fabric.__name__ == "land_fabric"


@pytest.fixture(scope="module")
def sample_fabric():
    sample = nmgeo.load_sample()
    fabric = nmgeo.land_fabric(sample.zones, sample.parcels)
    return sample, fabric, nmgeo.build_packages(fabric)


@pytest.mark.parametrize(
    "verb",
    [
        lambda s, f, r: nmgeo.read_parcels(s.parcels),
        lambda s, f, r: nmgeo.read_zones(s.zones),
        lambda s, f, r: nmgeo.assign_major_zone(f),
        lambda s, f, r: nmgeo.build_packages(f),
        lambda s, f, r: nmgeo.rail_proximity(s.parcels),
        lambda s, f, r: nmgeo.assign_access(r.packages),
        lambda s, f, r: nmgeo.area_report(f),
        lambda s, f, r: nmgeo.package_map(r, tiles=None),
    ],
    ids=[
        "read_parcels",
        "read_zones",
        "major_zone",
        "packages",
        "proximity",
        "access",
        "area_report",
        "package_map",
    ],
)
def test_the_pipeline_verbs_run_without_collections(verb, sample_fabric, collections):
    gc.enable()
    gc.set_threshold(50)
    collections.clear()
    verb(*sample_fabric)
    # At most one collection as the verb begins and one as it returns (a verb that did not
    # pause the collector would set off one every 50 new objects).
    assert len(collections) <= 2
    assert all(running == 0 for running in collections)
