"""Build nmgeo's reference layers from published sources.

Run from anywhere (it writes next to itself)::

    python nmgeo/data/_build_reference.py                 # build, check, write the polygons
    python nmgeo/data/_build_reference.py --check         # build and check, write nothing
    python nmgeo/data/_build_reference.py --sources       # first re-extract the source files
    python nmgeo/data/_build_reference.py --sources --realdata DIR

This script is kept for provenance; the package never imports it. It works in two steps.

**Step 1, ``--sources``** (needs the published files, by default ``shared/realdata``
beside the repository checkout, or ``--realdata DIR``) extracts the small source files the
package ships:

- ``nm_districts.geojson``: the land of Yuen Long and North districts and the Lok Ma Chau
  Loop, three polygons in WGS84. The districts are the Census and Statistics Department's
  2001 District Council boundaries, land only (``districts_2001.geojson``, WGS84, a copy in
  the public repository ``hupili/geohk``), features ``DC_ENG`` = "Yuen Long" and "North",
  unchanged. They predate the Loop's transfer, so the Loop is added as the plan area of
  the Town Planning Board's S/LMCL/2 (the union of its 18 zones, ``zones/LMCL.json``, Esri
  JSON in EPSG:2326, projected to WGS84 with pyproj). **No simplification**: every source
  vertex is kept; coordinates are written to 1e-6 degree (at most 0.06 m off).
- ``control_points.csv``: the seven land boundary control points at the Immigration
  Department's published HK1980 Grid Easting/Northing (``control_points.geojson``, whole
  metres; its WGS84 point geometries disagree with them by up to 54 m and are not used).
- ``rail_stations.csv``: the open stations at the Lands Department's location-search
  positions (``mtr_stations.json``, WGS84 from the public repository ``molamowb/projectwb``,
  Apache-2.0; they come out on whole HK1980 Grid metres when projected with pyproj),
  planned Kwu Tung on the railway zones of plan S/KTN/4 (``zones/KTN.json``), and the
  other planned stations at the announced sites listed in ``PLANNED`` below.

**Step 2** (always; needs only ``nm_districts.geojson``) builds ``nm_boundary.geojson``
(the NM outline) and ``major_zones.geojson`` (the four major zones of the NM Action
Agenda), and checks them.

Method of step 2
----------------
1. The NM outline is the union of the three source polygons, with the few small holes
   left between the Loop and the 2001 district edge (seams between the two sources,
   under 1 ha in all) filled.
2. The major zones are hand-drawn regions (HK1980 Grid, about 1 km accuracy, drawn after
   the NM Action Agenda diagrams; ``BLUE_GREEN_*``, ``INNOVATION``, ``BOUNDARY_COMMERCE``
   below) projected to WGS84 with pyproj. They are generous: their outer edges lie
   offshore or outside the districts, so the zones take their outer edge from the outline.
3. The clipping that turns the regions into a partition of the outline is done in WGS84 on
   a 1e-5 degree grid, the precision the GeoJSON files store: the outline and all regions
   are noded together into one snap-rounded planar arrangement (``union_all(...,
   grid_size=)``), its faces are given to zones, and each zone and the outline are unions
   of faces. Neighbouring zones thus share identical vertices, with no slivers or
   overlaps, and the zones cover the stored outline exactly. Snapping moves the outline
   by at most half a grid step diagonally (under 0.8 m).
4. Zone 4 (blue-green) takes its regions first, then zone 2 (innovation and technology),
   then zone 3 (boundary commerce); zone 1 (professional services and logistics) is what
   is left, so the four zones always cover the outline.
5. Before writing, the result is checked in EPSG:2326: the outline against the source
   polygons (IoU, area), the partition, and the control points, every station and the
   InnoPark point in the expected zone.

The synthetic sample (``nmgeo.synthetic_metropolis``) fills ``nm_boundary.geojson``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.geometry import Point, Polygon

logger = logging.getLogger("nmgeo.data._build_reference")

HERE = Path(__file__).resolve().parent
# The published files, beside the repository checkout (never an absolute path).
REALDATA = HERE.parents[2] / "shared" / "realdata"
HK80 = "EPSG:2326"
WGS84 = "EPSG:4326"
GRID = 1e-5  # degrees; the stored precision of the built layers (about 1.1 m N-S, 1.0 m E-W)
SNAP_M = 1.0  # metres; snapping to GRID moves a vertex by less than this
SOURCE_DECIMALS = 6  # degrees; the stored precision of nm_districts.geojson (about 0.1 m)
HOLE_MAX_M2 = 10_000.0  # seams between the Loop and the districts are filled below this
OUTLINE_ACCURACY_M = 100  # the district layer's edge; see DISTRICT_SOURCE
LOOP_ACCURACY_M = 10  # TPB's digital plan area, drawn on the Lands Department base map
ZONE_ACCURACY_M = 1000  # the hand-drawn edges between major zones

DISTRICTS = ("Yuen Long", "North")
DISTRICT_SOURCE = (
    "Census and Statistics Department, 2001 District Council boundaries (land only), "
    "district {name}, WGS84, copy in the public repository hupili/geohk; generalised "
    "(median vertex spacing 75 m) and predating the Lok Ma Chau Loop; not a statutory "
    "boundary. Government data, DATA.GOV.HK terms of use (attribution)"
)
LOOP_SOURCE = (
    "Town Planning Board, Digital Planning Data of Statutory Plans, plan S/LMCL/2 "
    "(Lok Ma Chau Loop), layer ZONE as shipped in early 2024: the union of its 18 zones "
    "(the plan area), projected from EPSG:2326 with pyproj. Government data, DATA.GOV.HK "
    "terms of use (attribution)"
)

# --------------------------------------------------------------------------------------
# The seven land boundary control points: the Immigration Department's facility name,
# then ours, the Chinese name, what crosses there and the accuracy of the point as a
# stand-in for the control-point complex (metres).
# --------------------------------------------------------------------------------------
BCP_DATASET = (
    'Immigration Department, "Control Points" dataset (GeoInfo Map / DATA.GOV.HK, last '
    "updated {updated}): published HK1980 Grid Easting/Northing, whole metres"
)
BCPS: list[dict[str, object]] = [
    {"published": "Lo Wu Control Point", "name": "Lo Wu", "name_zh": "羅湖",
     "mode": "rail", "accuracy_m": 100,
     "note": "the control point building over the Shenzhen River, about 200 m across; "
     "Lo Wu station's LandsD point is about 200 m south"},
    {"published": "Lok Ma Chau Spur Line Control Point",
     "name": "Lok Ma Chau Spur Line (Futian)", "name_zh": "落馬洲支線", "mode": "rail",
     "accuracy_m": 100, "note": "at Lok Ma Chau station (MTR), a building about 200 m long"},
    {"published": "Lok Ma Chau Control Point", "name": "Lok Ma Chau (Huanggang)",
     "name_zh": "落馬洲", "mode": "road", "accuracy_m": 150,
     "note": "the Lok Ma Chau terminal, a road-crossing complex a few hundred metres across"},
    {"published": "Man Kam To Control Point", "name": "Man Kam To", "name_zh": "文錦渡",
     "mode": "road", "accuracy_m": 100,
     "note": "a compact road crossing, about 200 m across"},
    {"published": "Heung Yuen Wai Control Point", "name": "Heung Yuen Wai (Liantang)",
     "name_zh": "香園圍", "mode": "road and pedestrian", "accuracy_m": 150,
     "note": "a road and passenger complex a few hundred metres across"},
    {"published": "Sha Tau Kok Control Point", "name": "Sha Tau Kok", "name_zh": "沙頭角",
     "mode": "road", "accuracy_m": 100,
     "note": "a compact road crossing, about 200 m across"},
    {"published": "Shenzhen Bay Control Point", "name": "Shenzhen Bay", "name_zh": "深圳灣",
     "mode": "road", "accuracy_m": 150,
     "note": "the Hong Kong Port Area (about 40 ha) co-located in the Shenzhen Bay Port on "
     "the Shenzhen side, across Deep Bay and outside the NM district outline"},
]  # fmt: skip

# --------------------------------------------------------------------------------------
# Rail stations. Open stations: MTR code in mtr_stations.json, line, opening year.
# --------------------------------------------------------------------------------------
OPENED = "year the station opened"
OPENED_WR = "year the station opened (West Rail, 20 December 2003)"
OPEN_STATIONS: list[tuple[str, str, str, int, str]] = [
    ("Sheung Shui", "SHS", "East Rail Line", 1930, f"{OPENED} (16 May 1930)"),
    ("Fanling", "FAN", "East Rail Line", 1910, f"{OPENED} (1 October 1910, with the line)"),
    ("Lo Wu", "LOW", "East Rail Line", 1949, f"{OPENED} (14 October 1949)"),
    ("Lok Ma Chau", "LMC", "East Rail Line", 2007, f"{OPENED} (15 August 2007)"),
    ("Kam Sheung Road", "KSR", "Tuen Ma Line", 2003, OPENED_WR),
    ("Yuen Long", "YUL", "Tuen Ma Line", 2003, OPENED_WR),
    ("Long Ping", "LOP", "Tuen Ma Line", 2003, OPENED_WR),
    ("Tin Shui Wai", "TIS", "Tuen Ma Line", 2003, OPENED_WR),
    ("Siu Hong", "SIH", "Tuen Ma Line", 2003, OPENED_WR),
    ("Tuen Mun", "TUM", "Tuen Ma Line", 2003, OPENED_WR),
]
OPEN_ACCURACY_M = 30  # LandsD location-search points: station address points
OPEN_SOURCE = (
    "Lands Department location-search position of the station ({code}), as WGS84 in "
    "mtr_stations.json of the public repository molamowb/projectwb (Apache-2.0), "
    "projected with pyproj (whole HK1980 Grid metres); an address point, not the "
    "platform centroid"
)
OPEN_NOTES = {
    "Siu Hong": "; in Tuen Mun district, serving Hung Shui Kiu, outside the NM outline",
    "Tuen Mun": "; in Tuen Mun district, outside the NM outline",
    "Sheung Shui": "; inside its OU (Railway Station) zone on plan S/FSS/27",
    "Fanling": "; inside its OU (Railway Station) zone on plan S/FSS/27",
}
TARGET = "announced target year (planned years are announced targets and change; "
TARGET += "replace with the current programme)"

# Kwu Tung: plan S/KTN/4 has no railway-station zone. The station (underground, on the
# existing Lok Ma Chau Spur Line) lies under the Open Space (1) strip over the railway,
# between two "Railway Associated Facilities" OU zones at the town centre, with the
# "Commercial/Residential Development with Public Transport Interchange" OU zone on its
# south side. Its position is the centroid of the convex hull of those two railway zones
# (the stretch of railway between them); the accuracy is half the hull's length, rounded
# up to 50 m.
KTN_RAILWAY_USE = "RAILWAY ASSOCIATED FACILITIES"
KTN_STATION_USE = "PUBLIC TRANSPORT INTERCHANGE"
KTN_REACH_M = 400.0  # railway zones this near the station development zone flank it
KWU_TUNG_SOURCE = (
    "plan S/KTN/4 (Town Planning Board digital planning data, DATA.GOV.HK): centroid of "
    "the two OU (Railway Associated Facilities) zones flanking the railway at the town "
    "centre, beside the OU (Commercial/Residential Development with Public Transport "
    "Interchange) zone; the plan has no railway-station zone; target year from MTR "
    "(railway scheme authorised 11 November 2022)"
)

# Planned stations with no zone in the shared data: announced sites, WGS84 degrees.
PLANNED: list[dict[str, object]] = [
    {"name": "Hung Shui Kiu", "line": "Tuen Ma Line", "opening_year": 2030,
     "lat": 22.4319, "lon": 113.9884, "accuracy_m": 500,
     "source": "proposed site between Tin Shui Wai and Siu Hong as published before the "
     "2023 railway scheme, not checked against plan S/HSK (not in "
     "the shared data); target year from the Government (scheme authorised 26 March 2024)"},
    {"name": "Au Tau", "line": "Northern Link", "opening_year": 2034,
     "lat": 22.447, "lon": 114.050, "accuracy_m": 1000,
     "source": "approximate site near San Tam Road read from public scheme maps; MTR "
     "(mtrnorthernlink.hk) says the exact location is still being planned"},
    {"name": "Ngau Tam Mei", "line": "Northern Link", "opening_year": 2034,
     "lat": 22.478, "lon": 114.064, "accuracy_m": 1000,
     "source": "approximate site read from public scheme maps; MTR (mtrnorthernlink.hk) "
     "says the exact location is still being planned"},
    {"name": "San Tin", "line": "Northern Link", "opening_year": 2034,
     "lat": 22.498, "lon": 114.077, "accuracy_m": 500,
     "source": "approximate site south of San Tin Highway at the San Tin Technopole's "
     "residential centre, read from public scheme maps (MTR, mtrnorthernlink.hk)"},
]  # fmt: skip

# --------------------------------------------------------------------------------------
# Hand-drawn regions for the zones, HK1980 Grid (E, N) metres, about 1 km accuracy
# (generous; they are clipped to the outline).
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
    (808_000, 836_000),
    (808_000, 830_500),
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
    (855_000, 836_000),
    (855_000, 826_500),
    (816_000, 826_500),
    (816_000, 830_000),
]

# Zone 4c: the north-east: Robin's Nest, Sha Tau Kok, Starling Inlet, the Plover Cove
# hills, Wu Kau Tang, Lai Chi Wo and the islands of Double Haven and Mirs Bay, east of
# the Ta Kwu Ling / Heung Yuen Wai boundary-commerce belt.
BLUE_GREEN_NORTHEAST: list[tuple[float, float]] = [
    (835_000, 849_500),
    (855_000, 849_500),
    (855_000, 836_000),
    (836_500, 836_000),
    (836_000, 838_000),
    (835_500, 839_000),
    (834_800, 841_000),  # east of Lung Yeuk Tau / Fanling North
    (835_000, 843_000),  # west foot of Robin's Nest
    (835_200, 845_500),
]

# Zone 2: San Tin Technopole (with the Lok Ma Chau Loop) and Ngau Tam Mei.
INNOVATION: list[tuple[float, float]] = [
    (822_500, 845_000),
    (828_000, 845_000),  # north of the Loop and the Lok Ma Chau crossings
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
    (827_500, 849_500),
    (836_000, 849_500),
    (836_000, 836_000),
    (829_500, 832_000),
    (827_000, 835_000),  # Kwu Tung South / Tai To Yan (Pat Heung stays in zone 1)
    (826_000, 836_500),
    (827_000, 839_000),
    (827_500, 841_500),
]

ZONES: list[dict[str, object]] = [
    {
        "zone_id": 1,
        "name": "High-end Professional Services and Logistics Hub",
        "short_name": "professional_logistics",
        "areas": "Hung Shui Kiu / Ha Tsuen; Yuen Long South; Tin Shui Wai; Lau Fau Shan; "
        "Yuen Long town (incl. Yuen Long InnoPark); Kam Tin / Pat Heung",
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
        "Sha Tau Kok; Starling Inlet; Plover Cove hills, Wu Kau Tang, Lai Chi Wo and the "
        "islands; country-park hills along the south edge",
    },
]

BOUNDARY_SOURCE = (
    "Yuen Long and North districts: Census and Statistics Department 2001 District Council "
    "boundaries, land only (copy in the public repository hupili/geohk), plus the Lok Ma "
    "Chau Loop as the plan area of S/LMCL/2 (Town Planning Board digital planning data); "
    "see nm_districts.geojson. Government data, DATA.GOV.HK terms (attribution). "
    "Generalised 2001 boundaries: not a statutory boundary"
)
ZONE_SOURCE = (
    "zone edges drawn after the NM Action Agenda diagrams (about 1 km), not statutory; "
    "outer edge: the NM outline (nm_boundary.geojson)"
)

# Yuen Long InnoPark (HKSTP industrial estate), approximate; must fall in zone 1.
INNOPARK_LATLON = (22.463, 114.022)
# Stations that lie outside the NM outline (in Tuen Mun district).
STATIONS_OUTSIDE = {"Siu Hong", "Tuen Mun"}
# Control points outside it: the Hong Kong Port Area lies on the Shenzhen side.
BCPS_OUTSIDE = {"Shenzhen Bay"}
EXPECTED_ZONE = {
    "Sheung Shui": 3, "Fanling": 3, "Lo Wu": 3, "Kwu Tung": 3,
    "Lok Ma Chau": 2, "San Tin": 2, "Ngau Tam Mei": 2,
    "Kam Sheung Road": 1, "Yuen Long": 1, "Long Ping": 1, "Tin Shui Wai": 1,
    "Hung Shui Kiu": 1, "Au Tau": 1,
}  # fmt: skip
EXPECTED_BCP_ZONE = {
    "Lok Ma Chau (Huanggang)": 2, "Lok Ma Chau Spur Line (Futian)": 2, "Lo Wu": 3,
    "Man Kam To": 3, "Heung Yuen Wai (Liantang)": 3, "Sha Tau Kok": 4,
}  # fmt: skip


# --------------------------------------------------------------------------------------
# Step 1: the source files.
# --------------------------------------------------------------------------------------
def _spaces(text: object) -> str:
    """Upper-case text with runs of white space collapsed (TPB fields carry double spaces)."""
    return re.sub(r"\s+", " ", str(text or "")).strip().upper()


def read_zone_file(path: Path) -> gpd.GeoDataFrame:
    """A TPB per-plan zone file (Esri JSON or GeoJSON), upper-case fields, EPSG:2326."""
    gdf = gpd.read_file(path, engine="pyogrio")
    gdf = gdf.rename(columns={c: c.upper() for c in gdf.columns if c != "geometry"})
    return gdf.set_crs(HK80) if gdf.crs is None else gdf.to_crs(HK80)


def loop_outline(realdata: Path) -> shapely.Geometry:
    """The S/LMCL plan area (union of its zones), EPSG:2326."""
    zones = read_zone_file(realdata / "north" / "zones" / "LMCL.json")
    loop = shapely.union_all(zones.geometry.to_numpy())
    if loop.geom_type != "Polygon":
        msg = f"the S/LMCL zones make a {loop.geom_type}, expected one polygon"
        raise ValueError(msg)
    return loop


def build_district_sources(realdata: Path) -> gpd.GeoDataFrame:
    """Yuen Long, North and the Lok Ma Chau Loop as three WGS84 polygons with sources."""
    districts = gpd.read_file(realdata / "districts_2001.geojson", engine="pyogrio")
    districts = districts.set_crs(WGS84) if districts.crs is None else districts.to_crs(WGS84)
    rows, geoms = [], []
    for name in DISTRICTS:
        match = districts[districts["DC_ENG"] == name]
        if len(match) != 1:
            msg = f"districts_2001.geojson has {len(match)} features with DC_ENG == {name!r}"
            raise ValueError(msg)
        rows.append(
            {
                "name": name,
                "name_zh": str(match["DC_CHIN"].iloc[0]),
                "kind": "district (land)",
                "accuracy_m": OUTLINE_ACCURACY_M,
                "source": DISTRICT_SOURCE.format(name=name),
            }
        )
        geoms.append(match.geometry.iloc[0])
    loop = gpd.GeoSeries([loop_outline(realdata)], crs=HK80).to_crs(WGS84).iloc[0]
    rows.append(
        {
            "name": "Lok Ma Chau Loop",
            "name_zh": "落馬洲河套區",
            "kind": "plan area of S/LMCL/2",
            "accuracy_m": LOOP_ACCURACY_M,
            "source": LOOP_SOURCE,
        }
    )
    geoms.append(loop)
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geoms, crs=WGS84)


def build_control_points(realdata: Path) -> pd.DataFrame:
    """The seven land BCPs at the published Easting/Northing (HK1980 Grid, metres)."""
    data = json.loads((realdata / "control_points.geojson").read_text(encoding="utf-8"))
    published = {f["properties"]["Facility Name"]: f["properties"] for f in data["features"]}
    rows = []
    for bcp in BCPS:
        hits = [k for k in published if k.startswith(str(bcp["published"]))]
        if len(hits) != 1:
            msg = f"{bcp['published']!r} matches {hits} in control_points.geojson"
            raise ValueError(msg)
        props = published[hits[0]]
        updated = str(props["Last Update"])[:10]
        rows.append(
            {
                "name": bcp["name"],
                "name_zh": bcp["name_zh"],
                "mode": bcp["mode"],
                "published_name": hits[0],
                "easting": int(props["Easting"]),
                "northing": int(props["Northing"]),
                "accuracy_m": bcp["accuracy_m"],
                "source": BCP_DATASET.format(updated=updated) + "; " + str(bcp["note"]),
            }
        )
    return pd.DataFrame(rows)


def kwu_tung_site(realdata: Path) -> tuple[float, float, int]:
    """Kwu Tung station from plan S/KTN/4: (easting, northing, accuracy_m)."""
    zones = read_zone_file(realdata / "north" / "zones" / "KTN.json")
    use = zones["SPUSE_ENG"].map(_spaces)
    centre = zones.loc[use.str.contains(KTN_STATION_USE)]
    if len(centre) != 1:
        msg = f"S/KTN has {len(centre)} zones for {KTN_STATION_USE!r}, expected one"
        raise ValueError(msg)
    rail = zones.loc[use == KTN_RAILWAY_USE]
    rail = rail[rail.distance(centre.geometry.iloc[0]) <= KTN_REACH_M]
    if len(rail) != 2:
        msg = f"expected two railway zones flanking Kwu Tung station, found {len(rail)}"
        raise ValueError(msg)
    hull = shapely.union_all(rail.geometry.to_numpy()).convex_hull
    p = hull.centroid
    rect = shapely.oriented_envelope(hull)
    edges = np.hypot(*np.diff(np.asarray(rect.exterior.coords), axis=0).T)
    accuracy = int(np.ceil(edges.max() / 2 / 50.0) * 50)
    return round(p.x, 1), round(p.y, 1), accuracy


def build_rail_stations(realdata: Path) -> pd.DataFrame:
    """Open stations at LandsD's points, Kwu Tung on S/KTN, the others as announced."""
    mtr = json.loads((realdata / "mtr_stations.json").read_text(encoding="utf-8"))
    to_hk80 = Transformer.from_crs(WGS84, HK80, always_xy=True)
    rows = []
    for name, code, line, year, note in OPEN_STATIONS:
        rec = mtr[code]
        if rec["name_en"] != name:
            msg = f"mtr_stations.json {code} is {rec['name_en']!r}, expected {name!r}"
            raise ValueError(msg)
        e, n = to_hk80.transform(rec["long"], rec["lat"])
        rows.append(
            {
                "name": name, "line": line, "status": "open", "opening_year": year,
                "year_note": note, "easting": round(e, 2), "northing": round(n, 2),
                "accuracy_m": OPEN_ACCURACY_M,
                "source": OPEN_SOURCE.format(code=code) + OPEN_NOTES.get(name, ""),
            }
        )  # fmt: skip
    e, n, acc = kwu_tung_site(realdata)
    rows.append(
        {
            "name": "Kwu Tung", "line": "East Rail Line", "status": "planned",
            "opening_year": 2027, "year_note": TARGET, "easting": e, "northing": n,
            "accuracy_m": acc, "source": KWU_TUNG_SOURCE,
        }
    )  # fmt: skip
    for p in PLANNED:
        e, n = to_hk80.transform(p["lon"], p["lat"])
        rows.append(
            {
                "name": p["name"], "line": p["line"], "status": "planned",
                "opening_year": p["opening_year"], "year_note": TARGET,
                "easting": round(e), "northing": round(n), "accuracy_m": p["accuracy_m"],
                "source": f"{p['source']}; position given as {p['lat']} N, {p['lon']} E, "
                "projected with pyproj",
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def measure_against_zoning(outline: shapely.Geometry, realdata: Path) -> dict[str, float]:
    """How far TPB's North-district zoning (24 plans) reaches beyond the outline (EPSG:2326)."""
    frames = [read_zone_file(p) for p in sorted((realdata / "north" / "zones").glob("*.json"))]
    zones = np.concatenate([f.geometry.to_numpy() for f in frames])
    zoned = shapely.union_all(zones)
    vertices = shapely.points(shapely.get_coordinates(zones))
    beyond = shapely.distance(vertices, outline)
    return {
        "zoned_ha": zoned.area / 1e4,
        "zoned_outside_ha": zoned.difference(outline).area / 1e4,
        "max_vertex_beyond_m": float(beyond.max()),
        "share_vertices_beyond_20m": float((beyond > 20.0).mean()),
    }


def write_sources(realdata: Path, folder: Path = HERE) -> None:
    """Step 1: write nm_districts.geojson, control_points.csv and rail_stations.csv."""
    sources = build_district_sources(realdata)
    write_geojson(sources, folder / "nm_districts.geojson", SOURCE_DECIMALS)
    for frame, name in (
        (build_control_points(realdata), "control_points.csv"),
        (build_rail_stations(realdata), "rail_stations.csv"),
    ):
        frame.to_csv(folder / name, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        logger.info("wrote %s (%d rows)", folder / name, len(frame))


# --------------------------------------------------------------------------------------
# Step 2: the outline and the major zones.
# --------------------------------------------------------------------------------------
def _to_wgs84(ring: list[tuple[float, float]]) -> shapely.Geometry:
    """Project a hand-drawn HK1980 Grid ring to WGS84 (pyproj, via geopandas)."""
    polygon = Polygon(ring)
    if not polygon.is_valid:
        msg = f"hand-drawn ring starting at {ring[0]} is not a valid polygon; fix its vertices"
        raise ValueError(msg)
    return gpd.GeoSeries([polygon], crs=HK80).to_crs(WGS84).iloc[0]


def read_sources(folder: Path = HERE) -> gpd.GeoDataFrame:
    """``nm_districts.geojson`` (WGS84)."""
    gdf = gpd.read_file(folder / "nm_districts.geojson", engine="pyogrio")
    return gdf.set_crs(WGS84) if gdf.crs is None else gdf


def _small_holes(geom: shapely.Geometry) -> shapely.Geometry:
    """The holes of a WGS84 (multi)polygon smaller than ``HOLE_MAX_M2``, as one geometry."""
    holes = [Polygon(h) for p in shapely.get_parts(geom) for h in p.interiors]
    if not holes:
        return shapely.Polygon()
    area = gpd.GeoSeries(holes, crs=WGS84).to_crs(HK80).area.to_numpy()
    return shapely.union_all([h for h, a in zip(holes, area, strict=True) if a < HOLE_MAX_M2])


def source_outline(sources: gpd.GeoDataFrame) -> shapely.Geometry:
    """The union of the source polygons, holes under ``HOLE_MAX_M2`` filled, WGS84."""
    union = shapely.union_all(sources.geometry.to_numpy())
    return shapely.union(union, _small_holes(union))


def build(
    sources: gpd.GeoDataFrame | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Build the NM outline and the four major zones, in WGS84 on the stored grid.

    All outlines are noded together into one planar arrangement snapped to the stored
    grid; each face of it is given to one zone (or dropped if outside the NM), and each
    zone is the union of its faces. Neighbouring zones therefore share their edges
    vertex for vertex.

    Parameters
    ----------
    sources : geopandas.GeoDataFrame, optional
        The source polygons; default ``nm_districts.geojson``.

    Returns
    -------
    tuple of geopandas.GeoDataFrame
        ``(boundary, zones)`` in EPSG:4326, coordinates on a 1e-5 degree grid.
    """
    sources = read_sources() if sources is None else sources
    nm = source_outline(sources)
    blue_green = shapely.union_all(
        [_to_wgs84(BLUE_GREEN_COAST), _to_wgs84(BLUE_GREEN_SOUTH), _to_wgs84(BLUE_GREEN_NORTHEAST)]
    )
    innovation = _to_wgs84(INNOVATION)
    commerce = _to_wgs84(BOUNDARY_COMMERCE)

    # One snap-rounded, fully noded arrangement of every outline, then its faces.
    rings = [g.boundary for g in (nm, blue_green, innovation, commerce)]
    linework = shapely.union_all(rings, grid_size=GRID)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(linework)))
    points = shapely.point_on_surface(faces)
    inside = shapely.contains(nm, points)
    # Snapping can close a gap under a metre wide between the Loop and the district edge,
    # leaving a face outside ``nm`` enclosed by the outline: a seam, filled like the others.
    seams = _small_holes(shapely.coverage_union_all(faces[inside]))
    inside |= shapely.contains(seams, points)

    # Zone 4 first, then zone 2, zone 3; zone 1 the rest.
    zone_of_face = np.select(
        [
            shapely.contains(blue_green, points),
            shapely.contains(innovation, points),
            shapely.contains(commerce, points),
        ],
        [4, 2, 3],
        default=1,
    )
    zone_of_face[~inside] = 0
    zones = [shapely.coverage_union_all(faces[zone_of_face == k]) for k in (1, 2, 3, 4)]
    boundary = shapely.coverage_union_all(faces[zone_of_face > 0])
    holes = sum(len(p.interiors) for p in shapely.get_parts(boundary))
    if holes:
        msg = f"the outline came out with {holes} holes; check HOLE_MAX_M2 and the sources"
        raise ValueError(msg)

    hk = gpd.GeoSeries([boundary, nm, *sources.geometry], crs=WGS84).to_crs(HK80)
    area_ha = hk.iloc[0].area / 1e4
    by_source = dict(zip(sources["name"], hk.iloc[2:].area / 1e4, strict=True))
    n_parts = shapely.get_num_geometries(boundary)
    boundary_gdf = gpd.GeoDataFrame(
        {
            "name": ["Northern Metropolis (Yuen Long and North districts, Lok Ma Chau Loop)"],
            "area_note": [
                f"{area_ha:,.0f} ha in EPSG:2326 (HK1980 Grid): Yuen Long "
                f"{by_source['Yuen Long']:,.0f} ha and North {by_source['North']:,.0f} ha "
                "(2001 district land, including islands: "
                f"{n_parts} parts), plus the Lok Ma Chau Loop (S/LMCL plan area, "
                f"{by_source['Lok Ma Chau Loop']:,.0f} ha); the Shenzhen Bay control point's "
                "Hong Kong Port Area (on the Shenzhen side) is not in it"
            ],
            "accuracy_m": [OUTLINE_ACCURACY_M],
            "source": [BOUNDARY_SOURCE],
        },
        geometry=[boundary],
        crs=WGS84,
    )
    zones_gdf = gpd.GeoDataFrame(
        pd.DataFrame(ZONES).assign(accuracy_m=ZONE_ACCURACY_M, source=ZONE_SOURCE),
        geometry=zones,
        crs=WGS84,
    )
    return boundary_gdf, zones_gdf


def check(
    boundary: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, sources: gpd.GeoDataFrame | None = None
) -> dict[str, float]:
    """Check the built layers in EPSG:2326 against the sources; return figures (ha, IoU).

    Raises
    ------
    AssertionError
        If the outline departs from the source polygons, the zones do not partition it, or
        a control point, station or the InnoPark point is not where the design puts it.
    """
    sources = read_sources() if sources is None else sources
    b = boundary.to_crs(HK80).geometry.iloc[0]
    z = zones.to_crs(HK80)
    src = shapely.union_all(sources.to_crs(HK80).geometry.to_numpy())
    figures = {
        "boundary_ha": b.area / 1e4,
        "sources_ha": src.area / 1e4,
        "iou": b.intersection(src).area / b.union(src).area,
        "boundary_minus_sources_ha": b.difference(src).area / 1e4,
        "sources_minus_boundary_ha": src.difference(b).area / 1e4,
    }
    figures.update(
        {f"{s}_ha": g.area / 1e4 for s, g in zip(z["short_name"], z.geometry, strict=True)}
    )

    assert b.is_valid and all(z.geometry.is_valid), "invalid geometry"
    assert figures["iou"] > 0.999, figures
    loop = sources.to_crs(HK80).set_index("name").geometry["Lok Ma Chau Loop"]
    # The whole Loop, up to the stored grid (snapping moves an edge by under a metre).
    assert loop.difference(b.buffer(SNAP_M)).area < 1e-6, "the outline must hold the whole Loop"

    innovation = z.set_index("zone_id").geometry[2]
    assert loop.difference(innovation.buffer(SNAP_M)).area < 1e-6, "the Loop must be in zone 2"

    union = shapely.union_all(z.geometry.to_numpy())
    overlap = sum(
        z.geometry.iloc[i].intersection(z.geometry.iloc[j]).area
        for i in range(4)
        for j in range(i + 1, 4)
    )
    assert overlap < 1.0, f"zones overlap by {overlap:.2f} m2"
    assert abs(union.area - b.area) / b.area < 1e-9, "zones do not cover the outline"
    islands = shapely.get_parts(b)
    for short, geom in zip(z["short_name"], z.geometry, strict=True):
        # A part under 5 ha is a sliver unless it is a whole island of the outline.
        parts = shapely.get_parts(geom)
        tiny = [p for p in parts if p.area < 50_000 and not shapely.equals(p, islands).any()]
        assert not tiny, f"{short} has sliver parts {[round(p.area) for p in tiny]}"

    def zone_of(p: Point) -> int | None:
        hits = [int(i) for i, g in zip(z["zone_id"], z.geometry, strict=True) if g.contains(p)]
        return hits[0] if hits else None

    bcps = pd.read_csv(HERE / "control_points.csv")
    for row in bcps.itertuples():
        got = zone_of(Point(row.easting, row.northing))
        if row.name in BCPS_OUTSIDE:
            assert got is None, f"control point {row.name} should be outside the NM"
        else:
            assert got == EXPECTED_BCP_ZONE[row.name], f"control point {row.name}: zone {got}"
    stations = pd.read_csv(HERE / "rail_stations.csv")
    for row in stations.itertuples():
        got = zone_of(Point(row.easting, row.northing))
        if row.name in STATIONS_OUTSIDE:
            assert got is None, f"{row.name} should be outside the NM"
        else:
            assert got == EXPECTED_ZONE[row.name], f"{row.name}: zone {got}"
    lat, lon = INNOPARK_LATLON
    innopark = gpd.GeoSeries([Point(lon, lat)], crs=WGS84).to_crs(HK80).iloc[0]
    assert zone_of(innopark) == 1, "Yuen Long InnoPark must be in zone 1"
    return figures


def _rounded(coords: object, decimals: int) -> object:
    if isinstance(coords, (tuple, list)) and coords and isinstance(coords[0], float):
        return [round(c, decimals) for c in coords]
    return [_rounded(c, decimals) for c in coords]  # type: ignore[union-attr]


def _feature(geom: shapely.Geometry, properties: dict[str, object], decimals: int) -> dict:
    """A GeoJSON feature, exterior rings counter-clockwise (RFC 7946)."""
    mapping = shapely.geometry.mapping(shapely.orient_polygons(geom))
    props = {k: (v.item() if hasattr(v, "item") else v) for k, v in properties.items()}
    coords = _rounded(mapping["coordinates"], decimals)
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": mapping["type"], "coordinates": coords},
    }


def write_geojson(gdf: gpd.GeoDataFrame, path: Path, decimals: int = 5) -> None:
    """Write a WGS84 layer as RFC 7946 GeoJSON, one feature per line (diffs line by line)."""
    features = [
        _feature(geom, row.drop(labels="geometry").to_dict(), decimals)
        for (_, row), geom in zip(gdf.iterrows(), gdf.geometry, strict=True)
    ]
    lines = ",\n".join(json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features)
    text = f'{{"type":"FeatureCollection","name":"{path.stem}","features":[\n{lines}\n]}}\n'
    path.write_text(text, encoding="utf-8")
    logger.info("wrote %s (%.0f KB)", path, path.stat().st_size / 1024)


def write(boundary: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, folder: Path = HERE) -> None:
    """Write ``nm_boundary.geojson`` and ``major_zones.geojson`` (WGS84, 5 decimals)."""
    write_geojson(boundary, folder / "nm_boundary.geojson")
    write_geojson(zones, folder / "major_zones.geojson")


def main(argv: list[str] | None = None) -> None:
    """Optionally re-extract the sources; build, check and (unless ``--check``) write."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="check only; write nothing")
    parser.add_argument(
        "--sources", action="store_true", help="first re-extract the source files (step 1)"
    )
    parser.add_argument(
        "--realdata", type=Path, default=REALDATA, help="folder of the published files"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.sources:
        write_sources(args.realdata)
    boundary, zones = build()
    figures = check(boundary, zones)
    for key, value in figures.items():
        logger.info("%-30s %12.6f", key, value)
    if args.realdata.is_dir():
        outline = boundary.to_crs(HK80).geometry.iloc[0]
        for key, value in measure_against_zoning(outline, args.realdata).items():
            logger.info("TPB zoning: %-26s %10.4f", key, value)
    if not args.check:
        write(boundary, zones)


if __name__ == "__main__":
    main()
