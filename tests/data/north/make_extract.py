"""Rebuild this extract from the full North data set (run from anywhere; see README.md).

Expects the full data in ``shared/realdata/north`` beside the repository checkout. Kept
features are copied byte for byte: the plan files keep TPB's Esri JSON text (header and
feature records as shipped, only some records left out), the lots keep their GeoPackage
geometry and fields.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

HERE = Path(__file__).resolve().parent
SOURCE = Path(__file__).resolve().parents[4] / "shared" / "realdata" / "north"

WHOLE_PLANS = ("KTN", "LMCL")  # copied unchanged
NEIGHBOUR_PLANS = ("FSS", "NE-KTS", "NE-MTL")  # plans touching them: features selected
KEPT_DDS = ("DD95",)
COMMERCIAL_REACH = 100.0  # m: facility and commercial zones this near a commercial zone


def split_features(text: bytes) -> tuple[bytes, list[bytes], bytes]:
    """Esri JSON text as (head up to the features array, feature records, tail)."""
    start = text.index(b'"features":[') + len(b'"features":[')
    records, depth, in_str, escape, begin = [], 0, False, False, None
    for pos in range(start, len(text)):
        ch = text[pos : pos + 1]
        if in_str:
            if escape:
                escape = False
            elif ch == b"\\":
                escape = True
            elif ch == b'"':
                in_str = False
        elif ch == b'"':
            in_str = True
        elif ch == b"{":
            if depth == 0:
                begin = pos
            depth += 1
        elif ch == b"}":
            depth -= 1
            if depth == 0:
                records.append(text[begin : pos + 1])
        elif ch == b"]" and depth == 0:
            return text[:start], records, text[pos:]
    msg = "unterminated features array"
    raise ValueError(msg)


def extent_of(lots: gpd.GeoDataFrame) -> shapely.Geometry:
    hulls = []
    for _, grp in lots.groupby("DD"):
        geoms = grp.geometry.to_numpy()
        points = shapely.multipoints(shapely.get_coordinates(geoms))
        hull = shapely.concave_hull(points, ratio=0.3, allow_holes=False)
        hulls.append(shapely.union(hull, shapely.union_all(geoms)))
    return shapely.union_all(hulls)


def main() -> int:
    import nmgeo

    if not SOURCE.is_dir():
        sys.stderr.write(f"full data not found at {SOURCE}\n")
        return 1
    lots = gpd.read_file(SOURCE / "lots_dd51_52_92_95.gpkg", layer="LOT", engine="pyogrio")
    kept_lots = lots[lots["DD"].isin(KEPT_DDS)]
    out = HERE / "lots_dd95.gpkg"
    out.unlink(missing_ok=True)
    kept_lots.to_file(out, layer="LOT", driver="GPKG", engine="pyogrio", SPATIAL_INDEX="NO")
    extent = extent_of(kept_lots)

    zones = {
        p: nmgeo.read_zones(SOURCE / "zones" / f"{p}.json")
        for p in (*WHOLE_PLANS, *NEIGHBOUR_PLANS)
    }
    commercial = shapely.union_all(
        np.concatenate(
            [z.geometry.to_numpy()[z["land_use"].eq("commercial")] for z in zones.values()]
        )
    )
    for plan in WHOLE_PLANS:
        (HERE / f"{plan}.json").write_bytes((SOURCE / "zones" / f"{plan}.json").read_bytes())
    for plan in NEIGHBOUR_PLANS:
        text = (SOURCE / "zones" / f"{plan}.json").read_bytes()
        head, records, tail = split_features(text)
        z = zones[plan]
        if len(z) != len(records):
            msg = f"{plan}: {len(z)} zones read but {len(records)} feature records"
            raise ValueError(msg)
        fids = [json.loads(r)["attributes"]["FID"] for r in records]
        if list(z["FID"]) != fids:
            msg = f"{plan}: zones are not read in record order"
            raise ValueError(msg)
        geoms = z.geometry.to_numpy()
        on_lots = shapely.area(shapely.intersection(geoms, extent)) > 0
        wanted = z["land_use"].isin(["commercial", "public_facility", "open_space"]).to_numpy()
        near = shapely.distance(geoms, commercial) <= COMMERCIAL_REACH
        keep = on_lots | (wanted & near)
        body = b",".join(r for r, k in zip(records, keep, strict=True) if k)
        (HERE / f"{plan}.json").write_bytes(head + body + tail)
        sys.stdout.write(f"{plan}: kept {int(keep.sum())} of {len(records)} zones\n")
    sys.stdout.write(f"lots: kept {len(kept_lots)} of {len(lots)} ({', '.join(KEPT_DDS)})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
