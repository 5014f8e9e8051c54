"""assign_land_use, assign_zoning and assign_major_zone: classes and dominant zones."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box
from test_io import tpb_zones

import nmgeo
from nmgeo.errors import MissingCRSError, SchemaError
from nmgeo.io import read_zones

# A origin inside the Northern Metropolis (HK1980 Grid, metres).
X0, Y0 = 825_000.0, 838_000.0


def _box(x0, y0, x1, y1):
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def _zones() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"zone_label": ["C(1)", "G/IC"], "land_use": ["commercial", "public_facility"]},
        geometry=[_box(0, 0, 100, 100), _box(100, 0, 200, 100)],
        crs="EPSG:2326",
    )


def _parcels() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"parcel_id": ["inside", "straddle", "outside", "half_out", "edge_only"]},
        geometry=[
            _box(10, 10, 50, 50),  # wholly in the C(1) zone
            _box(80, 0, 130, 100),  # 2,000 m² in C(1), 3,000 m² in G/IC
            _box(300, 300, 310, 310),  # in no zone
            _box(190, 0, 230, 100),  # 1,000 m² of 4,000 m² in G/IC, rest unzoned
            _box(200, 0, 210, 100),  # touches the G/IC zone's edge only
        ],
        index=[10, 20, 30, 40, 50],
        crs="EPSG:2326",
    )


@pytest.fixture
def zones() -> gpd.GeoDataFrame:
    return _zones()


@pytest.fixture
def parcels() -> gpd.GeoDataFrame:
    return _parcels()


def test_each_lot_takes_the_zone_covering_most_of_it(parcels, zones):
    out = nmgeo.assign_zoning(parcels, zones).set_index("parcel_id")
    assert out.loc["inside", "zone_label"] == "C(1)"
    assert out.loc["inside", "land_use"] == "commercial"
    assert out.loc["inside", "zoning_share"] == pytest.approx(1.0)
    assert out.loc["inside", "n_zones"] == 1

    assert out.loc["straddle", "zone_label"] == "G/IC"
    assert out.loc["straddle", "land_use"] == "public_facility"
    assert out.loc["straddle", "zoning_share"] == pytest.approx(3000 / 5000)
    assert out.loc["straddle", "n_zones"] == 2

    assert out.loc["half_out", "zone_label"] == "G/IC"
    assert out.loc["half_out", "zoning_share"] == pytest.approx(1000 / 4000)
    assert out.loc["half_out", "n_zones"] == 1


def test_lots_outside_every_zone_are_unzoned(parcels, zones):
    out = nmgeo.assign_zoning(parcels, zones).set_index("parcel_id")
    for pid in ("outside", "edge_only"):
        assert out.loc[pid, "land_use"] == "unzoned"
        assert pd.isna(out.loc[pid, "zone_label"])
        assert out.loc[pid, "zoning_share"] == 0.0
        assert out.loc[pid, "n_zones"] == 0


def test_rows_index_and_geometry_are_kept_and_input_untouched(parcels, zones):
    before = parcels.copy()
    out = nmgeo.assign_zoning(parcels, zones)
    assert list(out.index) == list(parcels.index)
    assert out.geometry.geom_equals(parcels.geometry).all()
    pd.testing.assert_frame_equal(parcels, before)
    assert "land_use" not in parcels.columns


def test_overlapping_zones_count_twice_and_a_tie_goes_to_the_label_sorting_first(zones):
    extra = gpd.GeoDataFrame(
        {"zone_label": ["O"], "land_use": ["open_space"]},
        geometry=[_box(0, 0, 100, 100)],
        crs="EPSG:2326",
    )
    lot = gpd.GeoDataFrame(geometry=[_box(10, 10, 20, 20)], crs="EPSG:2326")
    for layers in ([zones, extra], [extra, zones]):
        out = nmgeo.assign_zoning(lot, pd.concat(layers, ignore_index=True))
        assert out["n_zones"].iloc[0] == 2
        assert out["zoning_share"].iloc[0] == pytest.approx(1.0)
        assert out["zone_label"].iloc[0] == "C(1)"  # "C(1)" sorts before "O"


def test_overlay_in_threaded_pieces_equals_one_piece(monkeypatch):
    from nmgeo import _overlay
    from nmgeo._threads import MIN_PARALLEL

    sample = nmgeo.load_sample()
    lots = sample.parcels.geometry.to_numpy()
    zones = sample.zones.geometry.to_numpy()
    assert len(lots) >= 2 * MIN_PARALLEL  # large enough for two threads
    monkeypatch.setenv("NMGEO_THREADS", "1")
    monkeypatch.setattr(_overlay, "CHUNK", len(lots))
    one = _overlay.dominant_overlap(lots, zones)
    monkeypatch.setenv("NMGEO_THREADS", "2")
    monkeypatch.setattr(_overlay, "CHUNK", 4_999)
    many = _overlay.dominant_overlap(lots, zones)
    np.testing.assert_array_equal(many.index, one.index)
    np.testing.assert_array_equal(many.share, one.share)
    np.testing.assert_array_equal(many.count, one.count)
    assert (one.count >= 2).sum() > 500  # lots straddling zones: intersections ran


def test_zones_in_wgs84_give_the_same_answer(parcels, zones):
    a = nmgeo.assign_zoning(parcels, zones)
    b = nmgeo.assign_zoning(parcels, zones.to_crs("EPSG:4326"))
    assert list(a["zone_label"].fillna("-")) == list(b["zone_label"].fillna("-"))
    # pyproj's 2326 -> 4326 -> 2326 round trip moves points by about 0.5 mm.
    np.testing.assert_allclose(a["zoning_share"], b["zoning_share"], atol=1e-4)


def test_missing_columns_and_crs_are_clear_errors(parcels, zones):
    with pytest.raises(SchemaError, match="zone_label"):
        nmgeo.assign_zoning(parcels, zones.drop(columns=["zone_label", "land_use"]))
    # zones without land use are classified first, as assign_land_use does
    unclassified = nmgeo.assign_zoning(parcels, zones.drop(columns="land_use"))
    classified = nmgeo.assign_zoning(parcels, nmgeo.assign_land_use(zones))
    assert unclassified["land_use"].tolist() == classified["land_use"].tolist()
    with pytest.raises(MissingCRSError, match="parcels"):
        nmgeo.assign_zoning(parcels.set_crs(None, allow_override=True), zones)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 380), st.floats(0, 380), st.floats(1, 120), st.floats(1, 120)),
        min_size=1,
        max_size=12,
    ),
    st.integers(0, 2**31 - 1),
)
def test_share_matches_an_independent_overlay(rects, seed):
    """Dominant share equals the largest piece from geopandas.overlay (the oracle)."""
    rng = np.random.default_rng(seed)
    # A 4 x 4 tiling of 100 m zones with random labels; lots are random rectangles.
    cells = [
        _box(i * 100, j * 100, i * 100 + 100, j * 100 + 100) for i in range(4) for j in range(4)
    ]
    labels = rng.choice(["C", "G/IC", "O", "V"], len(cells))
    z = gpd.GeoDataFrame(
        {"zone_label": labels, "land_use": labels, "zid": range(16)},
        geometry=cells,
        crs="EPSG:2326",
    )
    lots = gpd.GeoDataFrame(
        {"pid": range(len(rects))},
        geometry=[_box(x, y, x + w, y + h) for x, y, w, h in rects],
        crs="EPSG:2326",
    )
    out = nmgeo.assign_zoning(lots, z)
    pieces = gpd.overlay(lots, z, how="intersection", keep_geom_type=True)
    pieces["a"] = pieces.area
    # Overlaps thinner than 1 cm on average along the lot's perimeter are noise.
    pieces = pieces[pieces["a"] > 0.01 * lots.length.to_numpy()[pieces["pid"].to_numpy()]]
    biggest = pieces.groupby("pid")["a"].max()
    expected = (biggest / lots.set_index("pid").area).reindex(lots["pid"]).fillna(0.0)
    np.testing.assert_allclose(out["zoning_share"], expected.to_numpy(), rtol=1e-9, atol=1e-9)
    n_expected = pieces.groupby("pid").size().reindex(lots["pid"]).fillna(0)
    np.testing.assert_array_equal(out["n_zones"].to_numpy(), n_expected.to_numpy())
    assert ((out["zoning_share"] > 0) == (out["n_zones"] > 0)).all()


@settings(max_examples=10, deadline=None)
@given(st.permutations(range(5)))
def test_row_order_does_not_change_any_lot_result(order):
    parcels, zones = _parcels(), _zones()
    base = nmgeo.assign_zoning(parcels, zones).set_index("parcel_id")
    shuffled = nmgeo.assign_zoning(parcels.iloc[list(order)], zones).set_index("parcel_id")
    pd.testing.assert_frame_equal(
        base[["zone_label", "land_use", "zoning_share", "n_zones"]],
        shuffled.loc[base.index, ["zone_label", "land_use", "zoning_share", "n_zones"]],
    )


def _site(lat: float, lon: float, half: float = 50.0) -> gpd.GeoDataFrame:
    pt = gpd.GeoSeries(gpd.points_from_xy([lon], [lat]), crs="EPSG:4326").to_crs("EPSG:2326")
    x, y = pt.x.iloc[0], pt.y.iloc[0]
    return gpd.GeoDataFrame(
        geometry=[box(x - half, y - half, x + half, y + half)], crs="EPSG:2326"
    )


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        (22.498, 114.077, "innovation_technology"),  # San Tin
        (22.455, 113.998, "professional_logistics"),  # Hung Shui Kiu
        (22.5012, 114.1280, "boundary_commerce"),  # Sheung Shui
        (22.2800, 114.1600, None),  # Central, outside the NM
    ],
)
def test_major_zone_of_known_places(lat, lon, expected):
    out = nmgeo.assign_major_zone(_site(lat, lon))
    got = out["major_zone"].iloc[0]
    assert (got is None or pd.isna(got)) if expected is None else got == expected


# --------------------------------------------------------------------------- assign_land_use


@pytest.fixture
def classify_spy(monkeypatch):
    """Replace classify_zone with a recorder that classes every zone 'spy'."""
    calls = []

    def classify_zone(labels, *, specified_use=None, mapping=None, area_m2=None):
        calls.append(
            {
                "labels": list(labels),
                "specified_use": None if specified_use is None else list(specified_use),
                "mapping": mapping,
            }
        )
        return pd.Series(["spy"] * len(labels), name="land_use")

    monkeypatch.setattr(nmgeo.zoning, "classify_zone", classify_zone)
    return calls


def test_land_use_comes_from_classify_zone_with_specified_use_and_mapping(classify_spy):
    mapping = {"GB": "green"}
    out = nmgeo.assign_land_use(read_zones(tpb_zones()), mapping=mapping)
    assert len(classify_spy) == 1
    call = classify_spy[0]
    assert call["labels"] == ["R(B)1", "OU", "GB"]
    assert call["specified_use"][1] == "Business"
    assert pd.isna(call["specified_use"][0])
    assert call["mapping"] is mapping
    assert out["land_use"].tolist() == ["spy", "spy", "spy"]


def test_land_use_with_the_bundled_vocabulary():
    pytest.importorskip("nmgeo._vocabulary")
    source = tpb_zones()
    source["ZONE_LABEL"] = ["OU", "OU", "NOT-A-ZONE"]
    source["SPUSE_ENG"] = ["Business", None, None]
    out = nmgeo.assign_land_use(read_zones(source))
    # the specified use reaches the classifier: an OU(Business) is not a bare OU
    assert out["land_use"][0] != out["land_use"][1]
    assert out["land_use"][2] == "unknown"
    mapped = nmgeo.assign_land_use(read_zones(source), mapping={"NOT-A-ZONE": "commercial"})
    assert mapped["land_use"][2] == "commercial"


def test_assign_land_use_needs_zone_labels():
    with pytest.raises(SchemaError, match="zone_label"):
        nmgeo.assign_land_use(gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)], crs=2326))


def test_verbs_classify_zones_read_without_land_use_as_assign_land_use_does():
    zones = read_zones(tpb_zones())
    classified = nmgeo.assign_land_use(zones)
    fabric = nmgeo.land_fabric(zones)
    expected = classified["land_use"].to_numpy()[fabric["zone_row"].to_numpy()]
    assert fabric["land_use"].tolist() == expected.tolist()
