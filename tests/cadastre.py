"""Hand-built and random cadastres for the fabric and package tests (EPSG:2326 metres)."""

from __future__ import annotations

import geopandas as gpd
import shapely
from hypothesis import strategies as st
from shapely.geometry import box

HK80 = "EPSG:2326"
X0, Y0 = 830_000.0, 840_000.0  # somewhere in Kwu Tung


def b(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    """A rectangle given in metres from the origin."""
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def zones_of(rows: list[tuple[str, str, shapely.Geometry]]) -> gpd.GeoDataFrame:
    """Zones from (zone_label, land_use, geometry), all on plan S/KTN/4."""
    return gpd.GeoDataFrame(
        {
            "plan_no": ["S/KTN/4"] * len(rows),
            "zone_label": [r[0] for r in rows],
            "land_use": [r[1] for r in rows],
        },
        geometry=[r[2] for r in rows],
        crs=HK80,
    )


def lots_of(ids: list, geoms: list, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"parcel_id": ids, **columns}, geometry=geoms, crs=HK80)


@st.composite
def cadastres(draw):
    """A grid of zones, with leased lots on some cells, unleased gaps and multi-part lots."""
    nx, ny = draw(st.integers(2, 5)), draw(st.integers(2, 4))
    cell = 40.0
    inset = draw(st.sampled_from([0.0, 2.0, 6.0]))  # half the road reserve between zones
    labels = [("C", "commercial"), ("G/IC", "public_facility"), ("V", "village")]
    zone_rows = []
    for i in range(nx):
        for j in range(ny):
            label = labels[draw(st.integers(0, 2))]
            x0, y0 = i * cell + inset, j * cell + inset
            zone_rows.append((*label, b(x0, y0, x0 + cell - 2 * inset, y0 + cell - 2 * inset)))
    zones = zones_of(zone_rows)
    n_lots = draw(st.integers(1, 12))
    ids, geoms = [], []
    for n in range(n_lots):
        x = draw(st.floats(-10, nx * cell, allow_nan=False))
        y = draw(st.floats(-10, ny * cell, allow_nan=False))
        w = draw(st.floats(3, 70, allow_nan=False))
        h = draw(st.floats(3, 70, allow_nan=False))
        ids.append(f"L{n}")
        geoms.append(b(x, y, x + w, y + h))
        if draw(st.booleans()):  # a second part of the same lot
            ids.append(f"L{n}")
            geoms.append(b(x + w + 5, y, x + w + 15, y + 10))
    return zones, lots_of(ids, geoms)
