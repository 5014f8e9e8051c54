"""Lots read by read_parcels are not searched for overlaps again by land_fabric."""

from __future__ import annotations

from collections import OrderedDict

import geopandas as gpd
import numpy as np
import pytest
import shapely
from cadastre import b, zones_of
from geopandas.testing import assert_geodataframe_equal

import nmgeo
from nmgeo import _overlaps, fabric

HK80 = "EPSG:2326"


@pytest.fixture
def lot_file(tmp_path):
    """Lots with a real overlap (L1/L2, 100 m²), a sliver overlap far below the 1 cm
    reporting width (L3/L4, 1e-4 m wide) and a clean neighbour."""
    lots = gpd.GeoDataFrame(
        {"LOTID": ["L1", "L2", "L3", "L4", "L5"]},
        geometry=[
            b(0, 0, 40, 40),
            b(30, 30, 60, 60),
            b(100, 0, 140, 40),
            b(140 - 1e-4, 0, 180, 40),
            b(0, 60, 40, 90),
        ],
        crs=HK80,
    )
    path = tmp_path / "lots.gpkg"
    lots.to_file(path, layer="LOT")
    return path


@pytest.fixture
def zones():
    return zones_of(
        [
            ("C", "commercial", b(-10, -10, 90, 100)),
            ("G/IC", "public_facility", b(90, -10, 200, 100)),
        ]
    )


@pytest.fixture(autouse=True)
def empty_memory(monkeypatch):
    monkeypatch.setattr(_overlaps, "_CHECKED", OrderedDict())


def _fabric_without_memory(zones, lots):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_overlaps, "_CHECKED", OrderedDict())
        return nmgeo.land_fabric(zones, lots)


def test_the_fabric_uses_the_overlaps_found_when_reading(lot_file, zones, monkeypatch):
    lots = nmgeo.read_parcels(lot_file)
    assert lots.attrs["nmgeo_account"]["n_overlap_pairs"] == 1  # the sliver is not reported
    expected = _fabric_without_memory(zones, lots)

    def no_search(*args, **kwargs):
        raise AssertionError("overlaps searched again")

    valid = fabric._valid

    def zones_only(geoms, name):
        assert name == "zones", "lots checked for validity again"
        return valid(geoms, name)

    monkeypatch.setattr(fabric, "find_overlaps", no_search)
    monkeypatch.setattr(fabric, "_valid", zones_only)
    got = nmgeo.land_fabric(zones, lots)
    assert_geodataframe_equal(got, expected)
    account = got.attrs["nmgeo_fabric"]
    assert account["n_lot_overlaps"] == 1  # the sliver is resolved, not counted as a pair
    assert account["lot_overlap_m2"] == pytest.approx(100 + 40 * 1e-4, rel=1e-6)
    # No square metre counted twice: the pieces add up to the zones plus unzoned lot land.
    zone_area = zones.area.sum()
    assert got["area_m2"].sum() == pytest.approx(zone_area, rel=1e-12)


def test_lots_changed_after_reading_are_searched_again(lot_file, zones, monkeypatch):
    lots = nmgeo.read_parcels(lot_file)
    moved = lots.copy()
    moved.loc[4, "geometry"] = b(20, 20, 50, 50)  # now overlaps L1 and L2 too
    calls = []
    original = fabric.find_overlaps

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(fabric, "find_overlaps", counting)
    got = nmgeo.land_fabric(zones, moved)
    assert calls == [1]
    assert got.attrs["nmgeo_fabric"]["n_lot_overlaps"] == 3  # L1/L2, L1/L5, L2/L5
    assert got["area_m2"].sum() == pytest.approx(zones.area.sum(), rel=1e-12)


def test_the_digest_tells_any_change_of_shape_or_order():
    geoms = np.array([b(0, 0, 10, 10), b(10, 0, 20, 10), None], dtype=object)
    key = _overlaps.digest(geoms)
    assert _overlaps.digest(geoms.copy()) == key
    assert _overlaps.digest(shapely.from_wkb(shapely.to_wkb(geoms))) == key
    moved = geoms.copy()
    moved[1] = b(10, 0, 20, 10 + 1e-9)
    with_hole = geoms.copy()
    with_hole[0] = shapely.Polygon(
        b(0, 0, 10, 10).exterior.coords, [b(2, 2, 4, 4).exterior.coords]
    )
    for other in (moved, geoms[[1, 0, 2]], with_hole, geoms[:2]):
        assert _overlaps.digest(other) != key


def test_only_the_last_few_layers_are_remembered(monkeypatch):
    for k in range(_overlaps._CHECKED_SIZE + 3):
        _overlaps.check_overlaps(np.array([b(k, 0, k + 1, 1)], dtype=object), ids=None, source="x")
    assert len(_overlaps._CHECKED) == _overlaps._CHECKED_SIZE
    assert _overlaps.recall(np.array([b(k, 0, k + 1, 1)], dtype=object)) is not None
    assert _overlaps.recall(np.array([b(0, 0, 1, 1)], dtype=object)) is None


def test_no_digest_is_computed_when_no_layer_of_that_length_was_read(monkeypatch):
    _overlaps.check_overlaps(np.array([b(0, 0, 1, 1)], dtype=object), ids=None, source="x")

    def no_digest(geoms):
        raise AssertionError("digest computed")

    monkeypatch.setattr(_overlaps, "digest", no_digest)
    two = np.array([b(0, 0, 1, 1), b(1, 0, 2, 1)], dtype=object)
    assert _overlaps.recall(two) is None
