"""The project's corpus of bad and hostile inputs, one case per row, by class.

Each case ends in one of three outcomes, never in a crash, a silent loss or a payload
that runs:

- ``error``: an NmgeoError whose message is one line, with the words given;
- ``account``: a result, and a logged warning with the words given (what was changed or
  read, with counts);
- ``correct``: a result that a plain check, written here, confirms.

``docs/reliability.md`` gives the counts by class and outcome; a test below holds the
page to this table. Outputs (atomic files, kills, OS errors, browser injection) are
exercised in their own modules, named on that page.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point, mapping

import nmgeo
from nmgeo.errors import NmgeoError

E0, N0 = 833_000.0, 840_000.0
HK80 = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2326"}}
DOCS = Path(__file__).parent.parent / "docs" / "reliability.md"


@dataclass(frozen=True)
class Case:
    kind: str  # the class of the issue it belongs to
    name: str
    run: Callable[[Path], Any]  # builds its input in a folder and calls nmgeo
    outcome: str  # "error", "account" or "correct"
    words: tuple[str, ...] = ()  # in the error message or the warning
    check: Callable[[Any], bool] | None = None  # for "correct"


def sq(x: float = 0.0, y: float = 0.0, size: float = 10.0) -> shapely.Polygon:
    return shapely.box(E0 + x, N0 + y, E0 + x + size, N0 + y + size)


def lots(geoms, ids=None, crs="EPSG:2326", **columns) -> gpd.GeoDataFrame:
    ids = ids if ids is not None else [f"L{i}" for i in range(len(geoms))]
    return gpd.GeoDataFrame({"LOTID": ids, **columns}, geometry=list(geoms), crs=crs)


def zones(labels, geoms=None, **columns) -> gpd.GeoDataFrame:
    geoms = geoms or [sq(120 * i, 0, 100) for i in range(len(labels))]
    return gpd.GeoDataFrame({"ZONE_LABEL": list(labels), **columns}, geometry=geoms, crs=2326)


def zoned(labels, geoms=None) -> gpd.GeoDataFrame:
    return nmgeo.read_zones(zones(labels, geoms))


def geojson(folder: Path, name: str, features: list) -> Path:
    path = folder / name
    doc = {"type": "FeatureCollection", "crs": HK80, "features": features}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def feat(i: int, **props) -> dict:
    return {
        "type": "Feature",
        "properties": {"LOTID": f"L{i}", **props},
        "geometry": mapping(sq(20 * i)),
    }


def in_crs(crs: str) -> gpd.GeoDataFrame:
    to = Transformer.from_crs("EPSG:2326", crs, always_xy=True)
    xs, ys = to.transform([E0, E0 + 20, E0 + 20, E0], [N0, N0, N0 + 20, N0 + 20])
    return lots([shapely.Polygon(list(zip(xs, ys, strict=True)))], crs=crs)


def with_vertex(value: float) -> gpd.GeoDataFrame:
    bad = shapely.Polygon([(E0, N0), (E0 + 10, N0), (E0 + 10, value), (E0, N0 + 10)])
    return lots([sq(50), bad])


def shapefile(folder: Path, drop: str | None = None) -> Path:
    path = folder / "lots.shp"
    lots([sq(), sq(20)]).to_file(path, engine="pyogrio")
    if drop:
        path.with_suffix(drop).unlink()
    return path


def packages_of(uses: list[str]) -> nmgeo.PackageResult:
    geoms = [sq(100 * i, 0, 100) for i in range(len(uses))]
    frame = gpd.GeoDataFrame(
        {"parcel_id": [f"P{i}" for i in range(len(uses))], "land_use": uses},
        geometry=geoms,
        crs=2326,
    )
    return nmgeo.build_packages(frame, min_area_ha=0.1)


def report_cell(folder: Path, value: str, fmt: str) -> Any:
    table = pd.DataFrame({"note": [value], "n": [-1]})
    written = nmgeo.write_report({"t": table}, folder / "r", formats=[fmt])
    path = written["csv:t" if fmt == "csv" else fmt]
    if fmt == "xlsx":
        import openpyxl

        cell = openpyxl.load_workbook(path)["t"]["A2"]
        return cell.value, cell.data_type
    return path.read_text(encoding="utf-8")


def site() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=[sq(0, 0, 100)], crs=2326)


def stations() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["S"], "opening_year": [2000]}, geometry=[Point(E0, N0 + 900)], crs=2326
    )


def roads() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        geometry=[LineString([(E0 - 500, N0 - 20), (E0 + 500, N0 - 20)])], crs=2326
    )


def short_dbf(folder: Path) -> Path:
    path = shapefile(folder)
    other = folder / "one"
    other.mkdir()
    lots([sq()]).to_file(other / "lots.shp", engine="pyogrio")
    path.with_suffix(".dbf").write_bytes((other / "lots.dbf").read_bytes())
    return path


def zipped(folder: Path) -> Path:
    import zipfile

    path = shapefile(folder)
    archive = folder / "lots.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for ext in (".shp", ".shx", ".prj"):
            zf.write(path.with_suffix(ext), f"lots{ext}")
    return archive


def fid_gpkg(folder: Path) -> Path:
    import pyogrio

    path = folder / "fid.gpkg"
    frame = lots([sq(), sq(20)]).drop(columns="LOTID").assign(OBJECTID=[5001, 5002])
    pyogrio.write_dataframe(frame, path, layer_options={"FID": "OBJECTID"})
    return path


def doubled() -> gpd.GeoDataFrame:
    frame = lots([sq(), sq(20)]).assign(X=[1, 2])
    return gpd.GeoDataFrame(
        pd.concat([frame, frame[["X"]]], axis=1), geometry="geometry", crs=2326
    )


def utf8_shp(folder: Path) -> Path:
    path = folder / "u.shp"
    lots([sq()]).assign(NAME=["大埔"]).to_file(path, encoding="utf-8", engine="pyogrio")
    return path


def esri_curves(folder: Path) -> Path:
    ring = [[E0, N0], [E0 + 100, N0], [E0 + 100, N0 + 100], [E0, N0 + 100], [E0, N0]]
    curve = {"curveRings": [[[E0 + 300, N0], {"c": [[E0 + 300, N0], [E0 + 350, N0 + 50]]}]]}
    doc = {
        "geometryType": "esriGeometryPolygon",
        "spatialReference": {"wkid": 2326},
        "fields": [{"name": "ZONE_LABEL", "type": "esriFieldTypeString"}],
        "features": [
            {"attributes": {"ZONE_LABEL": "C"}, "geometry": {"rings": [ring]}},
            {"attributes": {"ZONE_LABEL": "O"}, "geometry": curve},
        ],
    }
    path = folder / "curves.json"
    path.write_text(json.dumps(doc))
    return path


def local_crs(folder: Path) -> Path:
    path = shapefile(folder)
    path.with_suffix(".prj").write_text(
        'LOCAL_CS["Local",LOCAL_DATUM["x",0],UNIT["Meter",1.0],AXIS["X",EAST],AXIS["Y",NORTH]]'
    )
    return path


def no_crs_member(folder: Path) -> Path:
    path = folder / "nocrs.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feat(0)]}))
    return path


def jinja_map(folder: Path, label: str | None = None) -> bool:
    """Save a map whose lot id is a template; True if the template ran."""
    marker = folder / "ran.txt"
    opener = f"lipsum.__globals__.__builtins__.open({str(marker)!r}, 'w')"
    label = label or "{{ " + opener + ".write('x') }}"
    frame = gpd.GeoDataFrame(
        {"parcel_id": [label], "land_use": ["commercial"]}, geometry=[sq(0, 0, 50)], crs=2326
    )
    nmgeo.parcel_map(frame, tiles=None).save(folder / "m.html")
    return marker.exists()


def wrong_cpg(folder: Path) -> Path:
    import pyogrio

    path = folder / "b5.shp"
    pyogrio.write_dataframe(lots([sq()]).assign(NAME=["粉嶺"]), path, encoding="big5")
    path.with_suffix(".cpg").write_text("UTF-8")
    return path


def crs_property(folder: Path) -> Path:
    path = folder / "crsprop.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feat(0, crs="HK80")]}))
    return path


def kept_user_files(folder: Path) -> bool:
    """Write a report beside user files named like nmgeo's temporaries; True if all stay."""
    mine = folder / ".nmgeo-tmp-1-abcd.csv"
    mine.write_text("mine")
    stage = folder / ".nmgeo-stage-999999-deadbeef"
    stage.mkdir()
    (stage / "thesis.docx").write_text("precious")
    nmgeo.write_report({"t": pd.DataFrame({"a": [1]})}, folder / "r", formats=["csv"])
    return mine.read_text() == "mine" and (stage / "thesis.docx").is_file()


CURVED = shapely.buffer(Point(E0, N0), 30, quad_segs=256)
HOLED = CURVED.difference(shapely.buffer(Point(E0, N0), 10, quad_segs=256))

CASES = [
    # ------------------------------------------------------------------ reader crashes
    Case(
        "reader crash",
        "duplicate curved lots, 1,000+ vertices",
        lambda d: nmgeo.read_parcels(lots([CURVED, CURVED]), multipart="separate"),
        "account",
        ("overlap",),
    ),
    Case(
        "reader crash",
        "duplicate lots with holes",
        lambda d: nmgeo.read_parcels(lots([HOLED, HOLED, sq(100)]), multipart="separate"),
        "account",
        ("overlap",),
    ),
    Case(
        "reader crash",
        "a lot inside another's hole",
        lambda d: nmgeo.read_parcels(lots([HOLED, shapely.buffer(Point(E0, N0), 9)])),
        "correct",
        check=lambda out: out.attrs["nmgeo_account"]["n_overlap_pairs"] == 0,
    ),
    Case(
        "reader crash",
        "many exact duplicates",
        lambda d: nmgeo.read_parcels(lots([CURVED] * 6), multipart="separate"),
        "account",
        ("overlap",),
    ),
    # ------------------------------------------------------------------ geometry and CRS
    Case(
        "geometry and CRS",
        "NaN vertex",
        lambda d: nmgeo.read_parcels(with_vertex(np.nan)),
        "error",
        ("NaN or infinite", "L1"),
    ),
    Case(
        "geometry and CRS",
        "infinite vertex",
        lambda d: nmgeo.read_parcels(with_vertex(np.inf)),
        "error",
        ("NaN or infinite", "L1"),
    ),
    Case(
        "geometry and CRS",
        "NaN vertex, on_invalid='drop'",
        lambda d: nmgeo.read_parcels(with_vertex(np.nan), on_invalid="drop"),
        "account",
        ("NaN or infinite",),
    ),
    Case(
        "geometry and CRS",
        "bow-tie repair has a finite area change",
        lambda d: nmgeo.read_parcels(
            lots([shapely.Polygon([(E0, N0), (E0 + 10, N0 + 10), (E0 + 10, N0), (E0, N0 + 10)])])
        ),
        "account",
        ("repaired",),
    ),
    Case(
        "geometry and CRS",
        "CGCS2000 geographic (EPSG:4490)",
        lambda d: nmgeo.read_parcels(in_crs("EPSG:4490")),
        "error",
        ("EPSG:4490", "Ballpark"),
    ),
    Case(
        "geometry and CRS",
        "CGCS2000 Gauss-Kruger (EPSG:4547)",
        lambda d: nmgeo.read_zones(in_crs("EPSG:4547").assign(ZONE_LABEL="C")),
        "error",
        ("EPSG:4547", "Ballpark"),
    ),
    Case(
        "geometry and CRS",
        "WGS84 lands where pyproj puts it",
        lambda d: nmgeo.read_parcels(in_crs("EPSG:4326")),
        "correct",
        check=lambda out: abs(out.geometry.iloc[0].bounds[0] - E0) < 0.01,
    ),
    Case(
        "geometry and CRS",
        "a local engineering CRS",
        lambda d: nmgeo.read_parcels(local_crs(d)),
        "error",
        ("local engineering CRS", "crs='EPSG:2326'"),
    ),
    Case(
        "geometry and CRS",
        "a local engineering CRS, crs= given",
        lambda d: nmgeo.read_parcels(local_crs(d), crs="EPSG:2326"),
        "account",
        ("read as crs='EPSG:2326'",),
    ),
    Case(
        "geometry and CRS",
        "GeoJSON without crs member in metres, crs= given",
        lambda d: nmgeo.read_parcels(no_crs_member(d), crs="EPSG:2326"),
        "account",
        ("RFC 7946",),
    ),
    # ------------------------------------------------------------------ silent loss on read
    Case(
        "loss on read",
        "features in a nested FeatureCollection",
        lambda d: nmgeo.read_parcels(
            geojson(
                d,
                "n.geojson",
                [feat(0), {"type": "FeatureCollection", "features": [feat(1), feat(2)]}],
            )
        ),
        "account",
        ("2 features inside nested FeatureCollections",),
    ),
    Case(
        "loss on read",
        "a bare geometry among features",
        lambda d: nmgeo.read_parcels(
            geojson(d, "b.geojson", [feat(0), mapping(sq(50))]), on_invalid="drop"
        ),
        "account",
        ("1 bare geometries",),
    ),
    Case(
        "loss on read",
        "a member that is no Feature",
        lambda d: nmgeo.read_parcels(geojson(d, "x.geojson", [feat(0), {"kind": "lot"}])),
        "error",
        ("features[1]", "not a GeoJSON Feature"),
    ),
    Case(
        "loss on read",
        "Shapefile without .dbf",
        lambda d: nmgeo.read_parcels(shapefile(d, ".dbf")),
        "error",
        ("no lots.dbf",),
    ),
    Case(
        "loss on read",
        "Shapefile without .shx",
        lambda d: nmgeo.read_parcels(shapefile(d, ".shx")),
        "error",
        ("lots.shx",),
    ),
    Case(
        "loss on read",
        "ids 1 and '1'",
        lambda d: nmgeo.read_parcels(lots([sq(), sq(20)], ids=[1, "1"])),
        "account",
        ("mixes numbers",),
    ),
    Case(
        "loss on read",
        "ids 1 and '1', parts separate",
        lambda d: nmgeo.read_parcels(lots([sq(), sq(20)], ids=[1, "1"]), multipart="separate"),
        "error",
        ("'1'", "duplicates"),
    ),
    Case(
        "loss on read",
        "ZONE_LABEL and zone_label",
        lambda d: nmgeo.read_zones(zones(["C"], zone_label=["G/IC"])),
        "error",
        ("'ZONE_LABEL' and 'zone_label'",),
    ),
    Case(
        "loss on read",
        "LOTID and lotid",
        lambda d: nmgeo.read_parcels(lots([sq()], lotid=["x"])),
        "error",
        ("'LOTID' and 'lotid'",),
    ),
    Case(
        "loss on read",
        "land_use 'COMMERCIAL'",
        lambda d: packages_of(["COMMERCIAL", "public_facility"]),
        "account",
        ("read as classes", "'COMMERCIAL'"),
    ),
    Case(
        "loss on read",
        "land_use 'shops'",
        lambda d: packages_of(["shops", "commercial"]),
        "account",
        ("'shops'",),
    ),
    Case(
        "loss on read",
        ".dbf with fewer records than shapes",
        lambda d: nmgeo.read_parcels(short_dbf(d)),
        "error",
        ("2 shapes but lots.dbf 1",),
    ),
    Case(
        "loss on read",
        "zipped Shapefile without .dbf",
        lambda d: nmgeo.read_parcels(zipped(d)),
        "error",
        ("no lots.dbf",),
    ),
    Case(
        "loss on read",
        "blank ids",
        lambda d: nmgeo.read_parcels(
            lots([sq(), sq(20), sq(40)], ids=["", " ", "L2"]), on_invalid="drop"
        ),
        "account",
        ("2 blank LOTID values",),
    ),
    Case(
        "loss on read",
        "float ids past 2**53",
        lambda d: nmgeo.read_parcels(
            lots([sq(), sq(20)], ids=[1.2345678901234568e28, 1.2345678901234569e28])
        ),
        "error",
        ("16 or more digits",),
    ),
    Case(
        "loss on read",
        "lot ids held as the GeoPackage FID",
        lambda d: nmgeo.read_parcels(fid_gpkg(d)),
        "correct",
        check=lambda out: out["parcel_id"].tolist() == [5001, 5002],
    ),
    Case(
        "loss on read",
        "a field named geometry",
        lambda d: nmgeo.read_parcels(geojson(d, "g.geojson", [feat(0, geometry="plan 12")])),
        "account",
        ("'geometry_field'",),
    ),
    Case(
        "loss on read",
        "repeated column names",
        lambda d: nmgeo.read_parcels(doubled()),
        "error",
        ("appear more than once",),
    ),
    Case(
        "loss on read",
        "encoding= against a declared one",
        lambda d: nmgeo.read_parcels(utf8_shp(d), encoding="big5"),
        "account",
        ("not applied",),
    ),
    Case(
        "loss on read",
        "parts of a lot that differ",
        lambda d: nmgeo.read_parcels(lots([sq(), sq(20)], ids=["A", "A"], DD=["51", "92"])),
        "account",
        ("differ in DD",),
    ),
    Case(
        "loss on read",
        "lines in a geometry collection",
        lambda d: nmgeo.read_parcels(
            lots([shapely.GeometryCollection([sq(), LineString([(E0, N0), (E0 + 50, N0)])])])
        ),
        "account",
        ("dropping 1 points, lines",),
    ),
    Case(
        "loss on read",
        "a hole outside its shell",
        lambda d: nmgeo.read_parcels(
            lots([shapely.Polygon(sq().exterior.coords, [sq(100, 0, 5).exterior.coords])])
        ),
        "account",
        ("1 holes that lie outside",),
    ),
    Case(
        "loss on read",
        "Esri curveRings",
        lambda d: nmgeo.read_zones(esri_curves(d)),
        "error",
        ("Esri curve geometries",),
    ),
    Case(
        "loss on read",
        "lot column named like a piece column",
        lambda d: nmgeo.land_fabric(
            zoned(["C"]), nmgeo.read_parcels(lots([sq(10, 10)], tenure=["PTG"]))
        ),
        "account",
        ("'lot_tenure'",),
    ),
    # ------------------------------------------------------------------ injection in files
    Case(
        "injection",
        "CSV cell '=HYPERLINK(...)'",
        lambda d: report_cell(d, '=HYPERLINK("http://x")', "csv"),
        "correct",
        check=lambda text: "'=HYPERLINK" in text and "-1" in text,
    ),
    Case(
        "injection",
        "CSV cell '@SUM(A1)'",
        lambda d: report_cell(d, "@SUM(A1)", "csv"),
        "correct",
        check=lambda text: "'@SUM(A1)" in text,
    ),
    Case(
        "injection",
        "XLSX cell '+cmd'",
        lambda d: report_cell(d, "+cmd|' /C calc'!A0", "xlsx"),
        "correct",
        check=lambda cell: cell == ("'+cmd|' /C calc'!A0", "s"),
    ),
    Case(
        "injection",
        "Markdown cell <script>",
        lambda d: report_cell(d, "<script>alert(1)</script>", "md"),
        "correct",
        check=lambda text: "<script>" not in text and "&lt;script&gt;" in text,
    ),
    Case(
        "injection",
        "HTML cell <img onerror>",
        lambda d: report_cell(d, "<img src=x onerror=alert(1)>", "html"),
        "correct",
        check=lambda text: "<img src=x" not in text,
    ),
    Case(
        "injection",
        "XLSX text over 32,767 characters",
        lambda d: report_cell(d, "x" * 40_000, "xlsx"),
        "account",
        ("32767",),
    ),
    Case(
        "injection",
        "Jinja {{ }} in a lot id on a map",
        lambda d: jinja_map(d),
        "correct",
        check=lambda ran: ran is False,
    ),
    Case(
        "injection",
        "unbalanced {% in a zone label on a map",
        lambda d: jinja_map(d, "{% raw %}"),
        "correct",
        check=lambda ran: ran is False,
    ),
    Case(
        "injection",
        "Markdown link to javascript:",
        lambda d: report_cell(d, "[x](javascript:alert(1))", "md"),
        "correct",
        check=lambda text: "\\[x\\](javascript" in text,
    ),
    Case(
        "loss on read",
        "GeoJSON ids GDAL renumbers",
        lambda d: nmgeo.read_parcels(
            geojson(d, "dup.geojson", [{**feat(0), "id": 5}, {**feat(1), "id": 5}])
        ),
        "account",
        ("GDAL renumbered",),
    ),
    Case(
        "loss on read",
        "a wrong .cpg, encoding= given",
        lambda d: nmgeo.read_parcels(wrong_cpg(d), encoding="big5"),
        "account",
        ("does not decode as it declares",),
    ),
    Case(
        "geometry and CRS",
        "a crs key inside a feature, crs= given",
        lambda d: nmgeo.read_parcels(crs_property(d), crs="EPSG:2326"),
        "account",
        ("RFC 7946",),
    ),
    Case(
        "injection",
        "user files named like nmgeo temporaries",
        lambda d: kept_user_files(d),
        "correct",
        check=lambda kept: kept is True,
    ),
    # ------------------------------------------------------------------ parameters
    Case(
        "parameters",
        "gap_tolerance 1e9 m",
        lambda d: nmgeo.build_packages(zoned(["C"]), gap_tolerance=1e9),
        "error",
        ("gap_tolerance", "refused"),
    ),
    Case(
        "parameters",
        "walk 1,000 km",
        lambda d: nmgeo.rail_walk_year(site(), stations=stations(), walk_radius=1e6),
        "error",
        ("walk_radius", "refused"),
    ),
    Case(
        "parameters",
        "walk 5 km",
        lambda d: nmgeo.rail_walk_year(site(), stations=stations(), walk_radius=5_000),
        "account",
        ("walk_radius=5,000", "25 minutes"),
    ),
    Case(
        "parameters",
        "catchment radius 0",
        lambda d: nmgeo.catchment_share(site(), stations(), catchment_radius=0.0),
        "error",
        ("radius", "> 0"),
    ),
    Case(
        "parameters",
        "access leg 10 km",
        lambda d: nmgeo.network_distance(
            site(), stations(), roads(), max_snap=10_000, name_column="name"
        ),
        "account",
        ("max_snap=10,000",),
    ),
    Case(
        "parameters",
        "raster cells of 100 km",
        lambda d: nmgeo.distance_raster(
            stations(), bounds=(E0, N0, E0 + 1e5, N0 + 1e5), resolution=1e5
        ),
        "error",
        ("resolution", "refused"),
    ),
    Case(
        "parameters",
        "minimum package larger than the NM",
        lambda d: nmgeo.build_packages(zoned(["C"]), min_area_ha=100000),
        "account",
        ("min_area_ha",),
    ),
    Case(
        "parameters",
        "site outline within its convex hull",
        lambda d: nmgeo.build_packages(
            zoned(["C", "C"], [sq(0, 0, 100), sq(150, 150, 100)]),
            gap_tolerance=200,
            min_area_ha=0,
        ),
        "correct",
        check=lambda r: bool(
            (
                r.packages["site_outline_ha"]
                <= shapely.area(shapely.convex_hull(r.packages.geometry.to_numpy())) / 1e4 + 1e-9
            ).all()
        ),
    ),
]

IDS = [f"{c.kind}: {c.name}" for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_case_ends_in_its_outcome(case, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="nmgeo"):
        if case.outcome == "error":
            with pytest.raises(NmgeoError) as err:
                case.run(tmp_path)
            msg = str(err.value)
            assert "\n" not in msg.strip()
            for word in case.words:
                assert word in msg, (word, msg)
            return
        result = case.run(tmp_path)
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    if case.outcome == "account":
        text = " | ".join(warned)
        for word in case.words:
            assert word in text, (word, text)
    else:
        assert case.check is not None and case.check(result)


def test_the_corpus_covers_every_class_of_the_hardening_issue():
    assert {c.kind for c in CASES} == {
        "reader crash",
        "geometry and CRS",
        "loss on read",
        "injection",
        "parameters",
    }
    assert len(set(IDS)) == len(IDS)


def corpus_table() -> list[tuple[str, int, int, int, int]]:
    counts = Counter((c.kind, c.outcome) for c in CASES)
    kinds = list(dict.fromkeys(c.kind for c in CASES))
    return [
        (
            k,
            sum(counts[k, o] for o in ("error", "account", "correct")),
            counts[k, "error"],
            counts[k, "account"],
            counts[k, "correct"],
        )
        for k in kinds
    ]


def test_the_reliability_page_gives_the_corpus_counts():
    text = DOCS.read_text(encoding="utf-8")
    block = text.split("<!-- corpus-table -->")[1]
    rows = re.findall(
        r"^\| ([a-zA-Z ]+?) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|$", block, flags=re.M
    )
    assert [(k, *map(int, n)) for k, *n in rows] == corpus_table()
    total = sum(r[1] for r in corpus_table())
    assert f"{total} cases" in text
