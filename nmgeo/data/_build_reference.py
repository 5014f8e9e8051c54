"""Build ``nm_boundary.geojson`` and ``major_zones.geojson`` from hand-drawn HK1980 Grid outlines.

Run from anywhere (it writes next to itself)::

    python nmgeo/data/_build_reference.py            # check and write
    python nmgeo/data/_build_reference.py --check    # check only, write nothing

This script is kept for provenance; the package never imports it. Every outline below
was drawn by hand in EPSG:2326 (HK1980 Grid, metres) from public district maps and the
NM Action Agenda diagrams. They are approximate: about 500 m for the NM outline and
about 1 km for the zone boundaries. None of them is a statutory boundary.

Method
------
1. The vertices are listed in EPSG:2326 and projected to WGS84 with pyproj (through
   ``GeoSeries.to_crs``); nothing here does coordinate maths by hand.
2. The clipping and subtracting that turns the hand-drawn regions into a partition of
   the outline is done in WGS84 on a 1e-5 degree grid, the precision the GeoJSON files
   store: all outlines are noded together into one snap-rounded planar arrangement
   (``union_all(..., grid_size=)``), its faces are given to zones, and each zone and
   the outline are unions of faces. Neighbouring zones thus share identical vertices,
   with no slivers or overlaps, and the zones cover the stored outline exactly.
   (Clipping in metres and rounding afterwards would open sub-metre gaps along every
   shared edge.) Snapping moves the outline by at most half a grid step (~0.5 m).
3. Zone 4 (blue-green) takes its regions first, then zone 2 (innovation and
   technology), then zone 3 (boundary commerce); zone 1 (professional services and
   logistics) is whatever is left, so the four zones always cover the outline.
4. Before writing, the result is checked in EPSG:2326: area, envelope, the seven
   control points and every station and the InnoPark point in the expected zone.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry import Point, Polygon

logger = logging.getLogger("nmgeo.data._build_reference")

HERE = Path(__file__).resolve().parent
HK80 = "EPSG:2326"
WGS84 = "EPSG:4326"
GRID = 1e-5  # degrees; the stored precision (about 1.1 m north-south, 1.0 m east-west)

# The NM lies within this HK1980 Grid envelope; the outline must stay inside it.
ENVELOPE = (812_000.0, 826_000.0, 846_000.0, 848_000.0)
TARGET_AREA_HA = 30_000.0

# --------------------------------------------------------------------------------------
# The Northern Metropolis (Yuen Long + North districts), clockwise from the south-west,
# HK1980 Grid (E, N) in metres. About 500 m accuracy.
# --------------------------------------------------------------------------------------
OUTLINE: list[tuple[float, float]] = [
    # West edge: the Deep Bay coast, held at E >= 812,200 (the envelope's west side).
    (812_200, 831_600),  # Ha Pak Nai, where the Yuen Long / Tuen Mun line meets the coast
    (812_300, 833_600),  # Pak Nai
    (813_000, 835_000),  # Sheung Pak Nai
    (814_000, 836_300),  # Ngau Hom Shek (Shenzhen Bay Bridge landfall)
    (815_500, 837_000),  # Sha Kong Tsuen
    (816_700, 837_300),  # Lau Fau Shan
    (817_900, 838_500),
    (819_200, 839_300),  # Tsim Bei Tsui
    (820_800, 839_700),  # Pak Hok Chau / Mai Po mudflats
    (821_500, 840_700),  # Mai Po
    (822_200, 841_500),  # mouth of the Shenzhen River
    # North edge: the Shenzhen River upstream, then the land boundary to Sha Tau Kok.
    (823_800, 841_800),
    (825_200, 842_100),  # Lok Ma Chau (Futian and Huanggang crossings)
    (826_200, 842_500),  # Lok Ma Chau Loop, west
    (827_300, 842_700),  # Lok Ma Chau Loop, east
    (828_300, 842_700),
    (829_700, 843_500),  # Lo Wu
    (830_800, 843_700),
    (831_700, 844_150),  # Man Kam To
    (832_700, 844_900),
    (833_900, 846_100),  # Heung Yuen Wai
    (835_300, 846_500),  # Lin Ma Hang
    (837_000, 846_400),
    (838_800, 845_900),
    (840_500, 845_400),  # Sha Tau Kok control point
    (841_600, 845_200),  # Sha Tau Kok town, Chung Ying Street
    # East edge: Starling Inlet, then the Plover Cove hills down to Pat Sin Leng.
    (844_300, 844_800),  # mouth of Starling Inlet (Sha Tau Kok Hoi)
    (845_300, 843_300),  # Lai Chi Wo
    (844_800, 841_500),  # Kuk Po / So Lo Pun hills
    (842_800, 839_800),  # Plover Cove Country Park, north-west shore
    (840_000, 838_300),  # Pat Sin Leng
    # South edge: Pat Sin Leng ridge, Lam Tsuen valley, Tai Mo Shan, Tai Lam hills.
    (837_500, 837_600),  # Hok Tau
    (835_200, 836_600),  # Lau Shui Heung
    (833_500, 835_600),
    (831_800, 834_500),  # Lam Tsuen valley
    (830_500, 832_500),  # Lam Kam Road col
    (829_500, 830_300),  # Tai Mo Shan, north slopes
    (827_000, 829_000),
    (824_000, 828_000),  # Tai Lam Country Park
    (821_000, 828_200),
    (819_000, 829_500),
    (817_500, 831_200),  # Lam Tei / Hung Shui Kiu (Tuen Mun district lies south)
    (815_500, 831_800),
    (813_800, 831_300),  # hills behind Ha Pak Nai
]

# The Shenzhen Bay control point is the Hong Kong Port Area inside the Shenzhen Bay Port,
# on reclaimed land on the Shenzhen side but under Hong Kong jurisdiction. The outline
# reaches it through a narrow corridor along the Shenzhen Bay Bridge, so that all seven
# control points lie inside the NM. The corridor (100 m wide) starts inland on the
# Kong Sham Western Highway so it joins zone 1 across the coastal band.
SHENZHEN_BAY_LINK: list[tuple[float, float]] = [
    (814_653, 834_782),  # Kong Sham Western Highway, inland
    (814_747, 834_818),
    (812_724, 839_950),  # Shenzhen Bay Bridge (a 100 m corridor), port end
    (812_850, 839_950),
    (812_850, 840_600),  # Hong Kong Port Area (about 42 ha), drawn as a box
    (812_200, 840_600),
    (812_200, 839_950),
    (812_616, 839_950),
]

# --------------------------------------------------------------------------------------
# Hand-drawn regions for the zones (generous; they are clipped to the outline).
# --------------------------------------------------------------------------------------
# Zone 4a: the Deep Bay wetland band along the coast, Pak Nai to Mai Po and the Shenzhen
# River mouth, with a lobe over the Nam Sang Wai / Mai Po fish ponds. The inland edge is
# listed west to east, then the ring closes offshore.
BLUE_GREEN_COAST: list[tuple[float, float]] = [
    (813_600, 831_000),  # Ha Pak Nai hills (~1.4 km wide)
    (813_900, 833_400),  # Pak Nai
    (814_300, 835_200),
    (815_300, 836_300),  # Ngau Hom Shek (~600 m)
    (816_300, 836_900),
    (817_200, 837_100),  # Lau Fau Shan: a thin strip, the town stays in zone 1
    (818_300, 837_300),  # north of Tin Shui Wai
    (819_500, 837_500),
    (820_600, 837_300),
    (821_300, 836_500),  # Nam Sang Wai
    (822_300, 835_700),
    (823_000, 836_300),
    (823_000, 838_500),  # Mai Po / San Tin fish ponds (Sam Po Shue)
    (823_300, 840_300),
    (823_600, 841_200),
    (823_800, 843_000),  # Shenzhen River, west of Lok Ma Chau
    (822_000, 843_500),  # offshore closure
    (815_000, 840_500),
    (810_500, 836_000),
    (810_500, 830_500),
]

# Zone 4b: the hill country along the south edge (Tai Lam, Tai Mo Shan, Lam Tsuen and
# Pat Sin Leng country parks). Inland edge west to east, then closed to the south.
BLUE_GREEN_SOUTH: list[tuple[float, float]] = [
    (818_200, 830_900),
    (819_500, 830_700),  # Tai Lam hills above Tong Yan San Tsuen
    (821_500, 831_100),  # south of Yuen Long South (Tai Tong)
    (823_500, 830_900),
    (825_500, 831_400),  # south of Kam Sheung Road / Shek Kong
    (827_500, 831_800),
    (829_000, 832_700),  # Tai Mo Shan, north-east slopes
    (830_000, 834_000),
    (831_000, 835_500),  # Tai To Yan
    (832_500, 836_500),
    (834_500, 837_500),  # south of Fanling
    (836_000, 838_000),
    (836_500, 836_000),  # joins the north-east region
    (846_000, 836_000),
    (846_000, 826_500),
    (816_000, 826_500),
    (816_000, 830_000),
]

# Zone 4c: the north-east: Robin's Nest, Sha Tau Kok, Starling Inlet and the Plover Cove
# hills, east of the Ta Kwu Ling / Heung Yuen Wai boundary-commerce belt.
BLUE_GREEN_NORTHEAST: list[tuple[float, float]] = [
    (835_000, 848_500),
    (846_500, 848_500),
    (846_500, 836_000),
    (836_500, 836_000),
    (836_000, 838_000),
    (835_500, 839_000),
    (834_800, 841_000),  # east of Lung Yeuk Tau / Fanling North
    (835_000, 843_000),  # west foot of Robin's Nest
    (835_200, 845_500),
]

# Zone 2: San Tin Technopole (with the Lok Ma Chau Loop) and Ngau Tam Mei.
INNOVATION: list[tuple[float, float]] = [
    (822_500, 843_500),
    (828_000, 843_500),
    (828_000, 841_800),  # east of the Lok Ma Chau Loop
    (827_700, 841_500),
    (827_700, 839_500),  # west of Kwu Tung North
    (827_000, 838_000),
    (826_600, 836_200),  # Ngau Tam Mei, south-east
    (825_000, 835_700),
    (823_300, 835_900),  # Ngau Tam Mei, south-west (Au Tau stays in zone 1)
    (822_500, 837_000),
]

# Zone 3: Kwu Tung North, Fanling North, Sheung Shui / Fanling, Lo Wu / Man Kam To,
# Heung Yuen Wai, Ta Kwu Ling. Drawn generously; zones 4 and 2 are taken out first.
BOUNDARY_COMMERCE: list[tuple[float, float]] = [
    (827_500, 848_500),
    (836_000, 848_500),
    (836_000, 836_000),
    (829_500, 832_000),
    (827_000, 835_000),  # Kwu Tung South / Tai To Yan (Pat Heung stays in zone 1)
    (826_000, 836_500),
    (827_000, 839_000),
    (827_500, 841_500),
]

# Zone 1 keeps the whole Shenzhen Bay link (bridge, port area and its landfall), which
# would otherwise be cut off by the coastal band.
LOGISTICS_LINK = SHENZHEN_BAY_LINK

ZONES: list[dict[str, object]] = [
    {
        "zone_id": 1,
        "name": "High-end Professional Services and Logistics Hub",
        "short_name": "professional_logistics",
        "areas": "Hung Shui Kiu / Ha Tsuen; Yuen Long South; Tin Shui Wai; Lau Fau Shan; "
        "Yuen Long town (incl. Yuen Long InnoPark)",
    },
    {
        "zone_id": 2,
        "name": "Innovation and Technology Zone",
        "short_name": "innovation_technology",
        "areas": "San Tin Technopole (incl. the Lok Ma Chau Loop / Hong Kong-Shenzhen I&T Park); "
        "Ngau Tam Mei",
    },
    {
        "zone_id": 3,
        "name": "Boundary Commerce and Industry Zone",
        "short_name": "boundary_commerce",
        "areas": "Kwu Tung North; Fanling North; Sheung Shui / Fanling; Lo Wu / Man Kam To; "
        "Heung Yuen Wai; Ta Kwu Ling",
    },
    {
        "zone_id": 4,
        "name": "Blue and Green Recreation, Tourism and Conservation Circle",
        "short_name": "blue_green",
        "areas": "Deep Bay wetlands (Pak Nai to Mai Po, Nam Sang Wai); Robin's Nest; "
        "Sha Tau Kok; Starling Inlet; country-park hills along the south and east edges",
    },
]

BOUNDARY_SOURCE = (
    "approximate outline hand-drawn from public district maps; not a statutory boundary"
)
ZONE_SOURCE = "approximate, drawn after the NM Action Agenda diagrams; not statutory"

# Yuen Long InnoPark (HKSTP industrial estate), approximate; must fall in zone 1.
INNOPARK_LATLON = (22.463, 114.022)
# Stations that lie outside the NM outline on purpose (just across a district line).
STATIONS_OUTSIDE = {"Siu Hong": "Tuen Mun district, about 1.3 km south of the outline"}
EXPECTED_ZONE = {
    "Sheung Shui": 3, "Fanling": 3, "Lo Wu": 3, "Kwu Tung": 3,
    "Lok Ma Chau": 2, "San Tin": 2, "Ngau Tam Mei": 2,
    "Kam Sheung Road": 1, "Yuen Long": 1, "Long Ping": 1, "Tin Shui Wai": 1,
    "Hung Shui Kiu": 1, "Au Tau": 1,
}  # fmt: skip


def _to_wgs84(ring: list[tuple[float, float]]) -> shapely.Geometry:
    """Project a hand-drawn HK1980 Grid ring to WGS84 (pyproj, via geopandas)."""
    polygon = Polygon(ring)
    if not polygon.is_valid:
        msg = f"hand-drawn ring starting at {ring[0]} is not a valid polygon; fix its vertices"
        raise ValueError(msg)
    return gpd.GeoSeries([polygon], crs=HK80).to_crs(WGS84).iloc[0]


def build() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Build the NM outline and the four major zones, in WGS84 on the stored grid.

    All outlines are noded together into one planar arrangement snapped to the stored
    grid; each face of it is given to one zone (or dropped if outside the NM), and each
    zone is the union of its faces. Neighbouring zones therefore share their edges
    vertex for vertex.

    Returns
    -------
    tuple of geopandas.GeoDataFrame
        ``(boundary, zones)`` in EPSG:4326, coordinates on a 1e-5 degree grid.
    """
    nm = shapely.union(_to_wgs84(OUTLINE), _to_wgs84(SHENZHEN_BAY_LINK))
    if nm.geom_type != "Polygon":
        msg = f"the NM outline came out as a {nm.geom_type}; the Shenzhen Bay link must touch it"
        raise ValueError(msg)
    link = _to_wgs84(LOGISTICS_LINK)
    blue_green = shapely.union_all(
        [_to_wgs84(BLUE_GREEN_COAST), _to_wgs84(BLUE_GREEN_SOUTH), _to_wgs84(BLUE_GREEN_NORTHEAST)]
    )
    innovation = _to_wgs84(INNOVATION)
    commerce = _to_wgs84(BOUNDARY_COMMERCE)

    # One snap-rounded, fully noded arrangement of every outline, then its faces.
    rings = [g.boundary for g in (nm, link, blue_green, innovation, commerce)]
    linework = shapely.union_all(rings, grid_size=GRID)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(linework)))

    # Zone 1 claims the Shenzhen Bay link; then zone 4, zone 2, zone 3; zone 1 the rest.
    by_zone: dict[int, list[shapely.Geometry]] = {1: [], 2: [], 3: [], 4: []}
    for face in faces:
        p = face.representative_point()
        if not nm.contains(p):
            continue
        if link.contains(p):
            zone = 1
        elif blue_green.contains(p):
            zone = 4
        elif innovation.contains(p):
            zone = 2
        elif commerce.contains(p):
            zone = 3
        else:
            zone = 1
        by_zone[zone].append(face)
    zones = [shapely.coverage_union_all(by_zone[k]) for k in (1, 2, 3, 4)]
    boundary = shapely.coverage_union_all([f for k in (1, 2, 3, 4) for f in by_zone[k]])
    if boundary.geom_type != "Polygon" or len(boundary.interiors) > 0:
        msg = "the four zones do not make one outline without holes; check the hand-drawn regions"
        raise ValueError(msg)
    z1, z2, z3, z4 = zones

    area_ha = gpd.GeoSeries([boundary], crs=WGS84).to_crs(HK80).area.iloc[0] / 1e4
    offshore = shapely.difference(Polygon(SHENZHEN_BAY_LINK), Polygon(OUTLINE)).area / 1e4
    boundary_gdf = gpd.GeoDataFrame(
        {
            "name": ["Northern Metropolis (approximate outline)"],
            "area_note": [
                "Yuen Long and North districts (the NM, about 30,000 ha); this outline "
                f"measures {area_ha:,.0f} ha in EPSG:2326 (HK1980 Grid), including the "
                "Shenzhen Bay Bridge corridor and Hong Kong Port Area "
                f"({offshore:.0f} ha) and part of Starling Inlet; held east of "
                "HK1980 Grid E 812,200 at Pak Nai"
            ],
            "accuracy_m": [500],
            "source": [BOUNDARY_SOURCE],
        },
        geometry=[boundary],
        crs=WGS84,
    )
    zones_gdf = gpd.GeoDataFrame(
        pd.DataFrame(ZONES).assign(accuracy_m=1000, source=ZONE_SOURCE),
        geometry=[z1, z2, z3, z4],
        crs=WGS84,
    )
    return boundary_gdf, zones_gdf


def check(boundary: gpd.GeoDataFrame, zones: gpd.GeoDataFrame) -> dict[str, float]:
    """Check the built layers in EPSG:2326 against the reference points; return areas in ha.

    Raises
    ------
    AssertionError
        If the outline misses its area target, leaves the envelope, or a control point,
        station or the InnoPark point is not where the design puts it.
    """
    b = boundary.to_crs(HK80).geometry.iloc[0]
    z = zones.to_crs(HK80)
    areas = {"boundary": b.area / 1e4}
    areas.update({str(s): g.area / 1e4 for s, g in zip(z["short_name"], z.geometry, strict=True)})

    assert b.is_valid and all(z.geometry.is_valid), "invalid geometry"
    assert abs(areas["boundary"] - TARGET_AREA_HA) <= 0.03 * TARGET_AREA_HA, areas
    xmin, ymin, xmax, ymax = b.bounds
    ex0, ey0, ex1, ey1 = ENVELOPE
    assert ex0 <= xmin and ey0 <= ymin and xmax <= ex1 and ymax <= ey1, b.bounds

    union = shapely.union_all(z.geometry.to_numpy())
    overlap = sum(
        z.geometry.iloc[i].intersection(z.geometry.iloc[j]).area
        for i in range(4)
        for j in range(i + 1, 4)
    )
    assert overlap < 1.0, f"zones overlap by {overlap:.2f} m2"
    assert abs(union.area - b.area) / b.area < 1e-6, "zones do not cover the outline"
    for short, geom in zip(z["short_name"], z.geometry, strict=True):
        parts = getattr(geom, "geoms", [geom])
        tiny = [p.area for p in parts if p.area < 50_000]  # under 5 ha: a sliver
        assert not tiny, f"{short} has sliver parts {tiny}"

    def zone_of(lat: float, lon: float) -> int | None:
        p = gpd.GeoSeries([Point(lon, lat)], crs=WGS84).to_crs(HK80).iloc[0]
        hits = [int(i) for i, g in zip(z["zone_id"], z.geometry, strict=True) if g.contains(p)]
        return hits[0] if hits else None

    bcps = pd.read_csv(HERE / "control_points.csv")
    for row in bcps.itertuples():
        assert zone_of(row.lat, row.lon) is not None, f"control point {row.name} is outside"
    stations = pd.read_csv(HERE / "rail_stations.csv")
    for row in stations.itertuples():
        got = zone_of(row.lat, row.lon)
        if row.name in STATIONS_OUTSIDE:
            assert got is None, f"{row.name} should be outside the NM"
        else:
            assert got == EXPECTED_ZONE[row.name], f"{row.name}: zone {got}"
    assert zone_of(*INNOPARK_LATLON) == 1, "Yuen Long InnoPark must be in zone 1"
    return areas


def _feature(geom: shapely.Geometry, properties: dict[str, object]) -> dict[str, object]:
    """A GeoJSON feature, exterior rings counter-clockwise (RFC 7946), 5 decimals."""
    geom = shapely.orient_polygons(geom)
    mapping = shapely.geometry.mapping(geom)

    def rnd(coords: object) -> object:
        if isinstance(coords, (tuple, list)) and coords and isinstance(coords[0], float):
            return [round(c, 5) for c in coords]
        return [rnd(c) for c in coords]  # type: ignore[union-attr]

    props = {k: (v.item() if hasattr(v, "item") else v) for k, v in properties.items()}
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": mapping["type"], "coordinates": rnd(mapping["coordinates"])},
    }


def write(boundary: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, folder: Path = HERE) -> None:
    """Write ``nm_boundary.geojson`` and ``major_zones.geojson`` (WGS84, 5 decimals)."""
    for gdf, name in ((boundary, "nm_boundary"), (zones, "major_zones")):
        features = [
            _feature(geom, row.drop(labels="geometry").to_dict())
            for (_, row), geom in zip(gdf.iterrows(), gdf.geometry, strict=True)
        ]
        # One feature per line: small files that still diff line by line.
        lines = ",\n".join(json.dumps(f, ensure_ascii=False) for f in features)
        text = f'{{"type": "FeatureCollection", "name": "{name}", "features": [\n{lines}\n]}}\n'
        path = folder / f"{name}.geojson"
        path.write_text(text, encoding="utf-8")
        logger.info("wrote %s", path)


def main(argv: list[str] | None = None) -> None:
    """Build, check and (unless ``--check``) write the two GeoJSON files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="check only; write nothing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    boundary, zones = build()
    areas = check(boundary, zones)
    for key, value in areas.items():
        logger.info("%-24s %9.0f ha", key, value)
    if not args.check:
        write(boundary, zones)


if __name__ == "__main__":
    main()
