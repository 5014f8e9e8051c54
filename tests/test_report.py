"""area_report: hectares and shares by attribute, nothing dropped."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import box

import nmgeo
from nmgeo.errors import SchemaError


@pytest.fixture
def lots() -> gpd.GeoDataFrame:
    x, y = 830_000, 840_000
    return gpd.GeoDataFrame(
        {
            "major_zone": ["a", "a", "b", None],
            "land_use": ["commercial", "village", "commercial", "commercial"],
        },
        geometry=[
            box(x, y, x + 100, y + 100),  # 1 ha
            box(x, y, x + 100, y + 300),  # 3 ha
            box(x, y, x + 200, y + 100),  # 2 ha
            box(x, y, x + 400, y + 100),  # 4 ha
        ],
        crs="EPSG:2326",
    )


def test_hectares_and_shares_by_two_columns(lots):
    table = nmgeo.area_report(lots, by=("major_zone", "land_use")).set_index(
        ["major_zone", "land_use"]
    )
    assert table.loc[("a", "commercial"), "area_ha"] == pytest.approx(1.0)
    assert table.loc[("a", "village"), "area_ha"] == pytest.approx(3.0)
    assert table.loc[("b", "commercial"), "area_ha"] == pytest.approx(2.0)
    assert table.loc[("(none)", "commercial"), "area_ha"] == pytest.approx(4.0)
    assert table.loc[("a", "village"), "share"] == pytest.approx(0.3)
    assert table.loc[("a", "village"), "share_within"] == pytest.approx(0.75)
    assert table["share"].sum() == pytest.approx(1.0)
    assert table["n_parcels"].sum() == len(lots)


def test_area_m2_column_wins_over_geometry(lots):
    lots = lots.assign(area_m2=[10_000.0, 10_000.0, 10_000.0, 10_000.0])
    table = nmgeo.area_report(lots, by="land_use").set_index("land_use")
    assert table.loc["commercial", "area_ha"] == pytest.approx(3.0)
    assert "share_within" not in table.columns


def test_unknown_column_is_a_clear_error(lots):
    with pytest.raises(SchemaError, match="district"):
        nmgeo.area_report(lots, by=("district",))
