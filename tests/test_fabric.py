"""The land fabric: zones cut by leased lots into pieces of one zone and one tenure."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from cadastre import b, cadastres, lots_of, zones_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nmgeo
from nmgeo.errors import EmptyGeometryError, GeometryTypeError, SchemaError

HK80 = "EPSG:2326"


def area_by(fabric: gpd.GeoDataFrame, *keys: str) -> dict:
    return fabric.groupby(list(keys), dropna=False)["area_m2"].sum().round(6).to_dict()


@pytest.fixture
def two_zones() -> gpd.GeoDataFrame:
    return zones_of(
        [
            ("C(1)", "commercial", b(0, 0, 100, 100)),
            ("G/IC", "public_facility", b(100, 0, 200, 100)),
        ]
    )


def test_a_straddling_lot_is_cut_and_the_rest_of_each_zone_is_government_land(two_zones):
    lots = lots_of(["L1"], [b(50, 20, 150, 80)])
    fabric = nmgeo.land_fabric(two_zones, lots)
    assert area_by(fabric, "zone_label", "tenure") == {
        ("C(1)", "government"): 7000.0,
        ("C(1)", "leased"): 3000.0,
        ("G/IC", "government"): 7000.0,
        ("G/IC", "leased"): 3000.0,
    }
    leased = fabric[fabric["tenure"] == "leased"]
    assert leased["parcel_id"].tolist() == ["L1", "L1"]
    assert leased["lot_area_m2"].tolist() == [6000.0, 6000.0]
    assert fabric.loc[fabric["tenure"] == "government", "parcel_id"].isna().all()
    assert fabric["plan_no"].eq("S/KTN/4").all()
    account = fabric.attrs["nmgeo_fabric"]
    assert account["government_m2"] == pytest.approx(14_000)
    assert account["leased_m2"] == pytest.approx(6_000)


def test_lot_land_outside_every_zone_is_an_unzoned_piece(two_zones):
    lots = lots_of(["road", "half"], [b(0, 110, 50, 130), b(150, 90, 170, 110)])
    fabric = nmgeo.land_fabric(two_zones, lots)
    unzoned = fabric[fabric["land_use"] == "unzoned"]
    assert sorted(zip(unzoned["parcel_id"], unzoned["area_m2"].round(6), strict=True)) == [
        ("half", 200.0),
        ("road", 1000.0),
    ]
    assert unzoned["zone_label"].isna().all() and (unzoned["zone_row"] == -1).all()
    assert unzoned["tenure"].eq("leased").all()
    zoned_half = fabric[(fabric["parcel_id"] == "half") & (fabric["zone_row"] >= 0)]
    assert zoned_half["area_m2"].sum() == pytest.approx(200.0)


def test_outside_the_extent_land_without_a_lot_has_unknown_tenure(two_zones):
    lots = lots_of(["L1"], [b(50, 20, 150, 80)])
    fabric = nmgeo.land_fabric(two_zones, lots, extent=b(0, 0, 100, 100))
    assert area_by(fabric, "zone_label", "tenure") == {
        ("C(1)", "government"): 7000.0,
        ("C(1)", "leased"): 3000.0,
        ("G/IC", "leased"): 3000.0,  # a lot is a lot wherever it lies
        ("G/IC", "unknown"): 7000.0,
    }
    as_frame = gpd.GeoDataFrame(geometry=[b(0, 0, 100, 100)], crs=HK80).to_crs(4326)
    same = nmgeo.land_fabric(two_zones, lots, extent=as_frame)
    # The extent came through WGS84: its edge moves by under a millimetre.
    got = same.groupby(["zone_label", "tenure"])["area_m2"].sum()
    assert got.drop(got.index[got < 0.5]).to_dict() == pytest.approx(
        area_by(fabric, "zone_label", "tenure"), abs=0.5
    )


def test_without_lots_every_zone_is_of_unknown_tenure(two_zones):
    fabric = nmgeo.land_fabric(two_zones)
    assert fabric["tenure"].eq("unknown").all()
    assert fabric["area_m2"].sum() == pytest.approx(20_000)
    assert fabric["parcel_id"].isna().all()


def test_overlapping_zones_count_the_overlap_once_in_the_smaller_zone(caplog):
    zones = zones_of(
        [
            ("AGR", "agriculture", b(50, 0, 250, 100)),
            ("C", "commercial", b(0, 0, 100, 100)),
        ]
    )
    fabric = nmgeo.land_fabric(zones)
    assert area_by(fabric, "zone_label") == {"AGR": 15_000.0, "C": 10_000.0}
    account = fabric.attrs["nmgeo_fabric"]
    assert account["n_zone_overlaps"] == 1
    assert account["zone_overlap_m2"] == pytest.approx(5_000)
    assert "overlap" in caplog.text
    # Either row order gives the same answer.
    again = nmgeo.land_fabric(zones.iloc[::-1])
    assert area_by(again, "zone_label") == area_by(fabric, "zone_label")


def test_rows_sharing_a_lot_id_are_one_lot(two_zones):
    lots = lots_of(["L1", "L1", "L2"], [b(10, 10, 20, 20), b(30, 10, 40, 20), b(60, 60, 70, 70)])
    fabric = nmgeo.land_fabric(two_zones, lots)
    l1 = fabric[fabric["parcel_id"] == "L1"]
    assert len(l1) == 1 and l1["area_m2"].iloc[0] == pytest.approx(200.0)
    assert l1["lot_area_m2"].iloc[0] == pytest.approx(200.0)
    assert fabric.attrs["nmgeo_fabric"]["n_lot_rows_combined"] == 1
    assert fabric["area_m2"].sum() == pytest.approx(20_000)


def test_overlapping_lots_are_counted_once(two_zones):
    lots = lots_of(["big", "small"], [b(0, 0, 40, 40), b(20, 20, 50, 50)])
    fabric = nmgeo.land_fabric(two_zones, lots)
    areas = fabric.groupby("parcel_id")["area_m2"].sum()
    assert areas["small"] == pytest.approx(900.0)  # the smaller lot keeps the overlap
    assert areas["big"] == pytest.approx(1600.0 - 400.0)
    assert fabric["area_m2"].sum() == pytest.approx(20_000)
    assert fabric.attrs["nmgeo_fabric"]["n_lot_overlaps"] == 1


def test_a_straddling_lot_that_loses_an_overlap_is_cut_without_it(two_zones):
    # "big" straddles C(1) | G/IC; "small" overlaps it by 600 m² in the G/IC zone.
    lots = lots_of(["big", "small"], [b(80, 0, 140, 40), b(110, 20, 150, 50)])
    fabric = nmgeo.land_fabric(two_zones, lots)
    assert area_by(fabric, "parcel_id", "zone_label") == {
        ("big", "C(1)"): 800.0,
        ("big", "G/IC"): 40 * 40 - 600.0,
        ("small", "G/IC"): 1200.0,
        (np.nan, "C(1)"): 10_000 - 800.0,
        (np.nan, "G/IC"): 10_000 - 1000.0 - 1200.0,
    }
    big = fabric[fabric["parcel_id"] == "big"]
    assert big["lot_area_m2"].tolist() == pytest.approx([1800.0, 1800.0])
    pieces = fabric.geometry.to_numpy()
    assert shapely.area(shapely.intersection(pieces[:, None], pieces[None, :])).sum() == (
        pytest.approx(fabric["area_m2"].sum())
    )  # no piece overlaps another: the pairwise intersections are the pieces themselves


def test_an_ownership_column_marks_government_held_lots(two_zones):
    lots = lots_of(
        ["G1", "P1"], [b(10, 10, 20, 20), b(30, 10, 40, 20)], holder=["Government", "private"]
    )
    fabric = nmgeo.land_fabric(two_zones, lots, ownership_column="holder")
    lot_pieces = fabric[fabric["parcel_id"].notna()].set_index("parcel_id")
    assert lot_pieces.loc["G1", "tenure"] == "government"
    assert lot_pieces.loc["P1", "tenure"] == "leased"
    assert lot_pieces.loc["G1", "ownership"] == "Government"
    with pytest.raises(SchemaError, match="ownership_column"):
        nmgeo.land_fabric(two_zones, lots, ownership_column="owner")


def test_lot_fields_travel_with_their_pieces_and_missing_values_stay_missing(two_zones):
    lots = lots_of(["L1"], [b(50, 20, 150, 80)], DD=["DD92"], LOT_NO=[1234])
    fabric = nmgeo.land_fabric(two_zones, lots)
    on_lot = fabric["parcel_id"].notna()
    assert fabric.loc[on_lot, "DD"].eq("DD92").all()
    assert fabric.loc[on_lot, "LOT_NO"].eq(1234).all()
    assert fabric.loc[~on_lot, "LOT_NO"].isna().all()
    assert str(fabric["LOT_NO"].dtype) == "Int64"


def test_bad_inputs_name_the_fix(two_zones):
    with pytest.raises(SchemaError, match="read_zones"):
        nmgeo.land_fabric(two_zones.drop(columns=["zone_label", "land_use"]))
    with pytest.raises(SchemaError, match="parcel_id"):
        nmgeo.land_fabric(two_zones, two_zones)
    with pytest.raises(GeometryTypeError, match="polygon"):
        nmgeo.land_fabric(two_zones, lots_of(["L"], [b(0, 0, 1, 1)]), extent=shapely.Point(0, 0))


def test_lot_extent_draws_one_hull_per_district():
    lots = lots_of(
        ["a", "b", "c", "d"],
        [b(0, 0, 10, 10), b(0, 20, 10, 30), b(500, 0, 510, 10), b(500, 20, 510, 30)],
        DD=["DD1", "DD1", "DD2", "DD2"],
    )
    hull = nmgeo.lot_extent(lots, by="DD", ratio=1.0)
    assert hull["DD"].tolist() == ["DD1", "DD2"]
    assert hull["area_ha"].tolist() == pytest.approx([0.03, 0.03])
    assert shapely.contains(hull.geometry.iloc[0], b(1, 1, 9, 29))


def test_lot_extent_takes_districts_in_any_row_order():
    boxes = [b(0, 0, 10, 10), b(500, 0, 510, 10), b(0, 20, 10, 30), b(500, 20, 510, 30)]
    lots = lots_of(["a", "c", "b", "d"], boxes, DD=["DD1", "DD2", "DD1", "DD2"])
    hull = nmgeo.lot_extent(lots, by="DD", ratio=1.0)
    assert hull["DD"].tolist() == ["DD1", "DD2"]
    assert hull["area_ha"].tolist() == pytest.approx([0.03, 0.03])
    assert shapely.contains(hull.geometry.iloc[1], b(501, 1, 509, 29))


# --------------------------------------------------------------------------- invariants


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cadastres(), st.randoms(use_true_random=False))
def test_every_square_metre_is_in_exactly_one_piece_in_any_row_order(data, rnd):
    zones, lots = data
    fabric = nmgeo.land_fabric(zones, lots)
    everything = shapely.union_all(np.concatenate([zones.geometry.values, lots.geometry.values]))
    assert fabric["area_m2"].sum() == pytest.approx(everything.area, rel=1e-9)
    # Pieces never overlap each other.
    pieces = fabric.geometry.to_numpy()
    assert shapely.union_all(pieces).area == pytest.approx(everything.area, rel=1e-9)
    # Zoned land is the zones; lot land is the lots.
    zoned = fabric[fabric["zone_row"] >= 0]
    assert zoned["area_m2"].sum() == pytest.approx(shapely.union_all(zones.geometry).area)
    lot_union = shapely.union_all(lots.geometry.values)
    assert fabric.loc[fabric["tenure"] == "leased", "area_m2"].sum() == pytest.approx(
        lot_union.area, rel=1e-9
    )
    gov = shapely.difference(shapely.union_all(zones.geometry.values), lot_union).area
    assert fabric.loc[fabric["tenure"] == "government", "area_m2"].sum() == pytest.approx(
        gov, rel=1e-9, abs=1e-6
    )

    order = list(range(len(zones)))
    rnd.shuffle(order)
    lot_order = list(range(len(lots)))
    rnd.shuffle(lot_order)
    shuffled = nmgeo.land_fabric(zones.iloc[order], lots.iloc[lot_order])
    cols = ["piece_id", "tenure", "parcel_id", "zone_label", "land_use"]
    pd.testing.assert_frame_equal(shuffled[cols], fabric[cols])
    np.testing.assert_allclose(shuffled["area_m2"], fabric["area_m2"], rtol=1e-9, atol=1e-9)
    same = shapely.equals_exact(
        shapely.normalize(shuffled.geometry.to_numpy()),
        shapely.normalize(fabric.geometry.to_numpy()),
        tolerance=1e-6,
    )
    assert same.all() or np.allclose(
        shapely.area(shapely.symmetric_difference(shuffled.geometry.values, pieces)), 0, atol=1e-6
    )


def test_invalid_geometries_are_repaired_and_lots_without_one_refused(two_zones, caplog):
    bow_tie = shapely.Polygon(
        [(830_000, 840_000), (830_040, 840_040), (830_040, 840_000), (830_000, 840_040)]
    )
    lots = lots_of(["tie"], [bow_tie])
    fabric = nmgeo.land_fabric(two_zones, lots)
    assert fabric.attrs["nmgeo_fabric"]["n_lots_repaired"] == 1
    assert "repaired 1 invalid lots" in caplog.text
    assert fabric.loc[fabric["parcel_id"] == "tie", "area_m2"].sum() == pytest.approx(800.0)
    assert fabric["area_m2"].sum() == pytest.approx(20_000)
    with pytest.raises(EmptyGeometryError, match="no geometry"):
        nmgeo.land_fabric(two_zones, lots_of(["none"], [None]))


def test_an_overlay_that_fails_in_floating_point_is_redone_on_a_grid(caplog):
    from nmgeo._geomops import SNAP_GRID, safe

    calls = []

    def fragile(a, b, grid_size=None):
        calls.append(grid_size)
        if grid_size is None and (np.ndim(a) or shapely.area(a) > 50):
            raise shapely.errors.GEOSException("TopologyException: side location conflict")
        return shapely.intersection(a, b, grid_size=grid_size)

    small, large = b(0, 0, 5, 5), b(0, 0, 10, 10)
    out = safe(fragile)(np.array([small, large], dtype=object), b(0, 0, 8, 8))
    assert shapely.area(out).tolist() == pytest.approx([25.0, 64.0])
    assert SNAP_GRID in calls
    assert "1 overlays failed" in caplog.text


def test_the_fabric_does_not_depend_on_the_number_of_threads(monkeypatch):
    """One thread or several, with the work split into different ranges: the same pieces,
    to the last coordinate, and the same account."""
    from geopandas.testing import assert_geodataframe_equal

    sample = nmgeo.load_sample()
    zones = sample.zones.cx[820_000:835_000, 830_000:845_000]
    lots = sample.parcels.cx[820_000:835_000, 830_000:845_000]
    extent = shapely.box(820_000, 830_000, 828_000, 845_000)
    runs = []
    for threads in ("1", "2", "3"):
        monkeypatch.setenv("NMGEO_THREADS", threads)
        runs.append(nmgeo.land_fabric(zones, lots, extent=extent))
    assert len(lots) > 4_000  # enough lots to be cut in several ranges per thread
    for other in runs[1:]:
        assert_geodataframe_equal(other, runs[0])
        assert list(other.attrs["nmgeo_fabric"].items()) == list(
            runs[0].attrs["nmgeo_fabric"].items()
        )
