"""nmgeo: land-parcel analysis for Hong Kong's Northern Metropolis.

Everything is computed in EPSG:2326 (HK1980 Grid, metres). The public verbs are
re-exported here; modules follow the data flow
io -> zoning / major_zone -> fabric -> packages / access / network / raster ->
capacity -> scenarios -> report / maps / plot -> cli. See the architecture page of the
documentation.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

from nmgeo import capacity, errors, glossary, reference, scenarios, settings  # noqa: E402
from nmgeo.access import (  # noqa: E402
    assign_access,
    assign_rail_timeline,
    bcp_proximity,
    catchment_share,
    distance_matrix,
    proximity,
    proximity_timeline,
    rail_proximity,
    rail_walk_year,
)
from nmgeo.capacity import (  # noqa: E402
    assign_capacity,
    capacity_targets,
    package_capacity,
    read_limits,
    zones_without_limits,
)
from nmgeo.datasets import load_sample, synthetic_metropolis  # noqa: E402
from nmgeo.errors import NmgeoError  # noqa: E402
from nmgeo.fabric import land_fabric, lot_extent  # noqa: E402
from nmgeo.io import (  # noqa: E402
    read_extent,
    read_height_controls,
    read_parcels,
    read_zones,
    write_geopackage,
)
from nmgeo.major_zone import assign_major_zone  # noqa: E402
from nmgeo.maps import package_map, parcel_map, robustness_map  # noqa: E402
from nmgeo.network import network_distance  # noqa: E402
from nmgeo.packages import PackageResult, build_packages, split_package  # noqa: E402
from nmgeo.plot import plot_packages  # noqa: E402
from nmgeo.raster import (  # noqa: E402
    Raster,
    assign_terrain,
    distance_raster,
    slope_raster,
    write_raster,
    zonal_stats,
)
from nmgeo.report import area_report, package_report, write_report  # noqa: E402
from nmgeo.scenarios import ScenarioResult, run_scenarios  # noqa: E402
from nmgeo.zoning import assign_land_use, assign_zoning, classify_zone  # noqa: E402

logging.getLogger("nmgeo").addHandler(logging.NullHandler())

__all__ = [
    "area_report",
    "assign_access",
    "assign_capacity",
    "assign_land_use",
    "assign_major_zone",
    "assign_rail_timeline",
    "assign_terrain",
    "assign_zoning",
    "bcp_proximity",
    "build_packages",
    "capacity",
    "capacity_targets",
    "catchment_share",
    "classify_zone",
    "distance_matrix",
    "distance_raster",
    "errors",
    "glossary",
    "land_fabric",
    "load_sample",
    "lot_extent",
    "network_distance",
    "NmgeoError",
    "package_capacity",
    "package_map",
    "package_report",
    "PackageResult",
    "parcel_map",
    "plot_packages",
    "proximity",
    "proximity_timeline",
    "rail_walk_year",
    "rail_proximity",
    "Raster",
    "read_extent",
    "read_height_controls",
    "read_limits",
    "read_parcels",
    "read_zones",
    "reference",
    "robustness_map",
    "run_scenarios",
    "ScenarioResult",
    "scenarios",
    "settings",
    "slope_raster",
    "split_package",
    "synthetic_metropolis",
    "__version__",
    "write_geopackage",
    "write_raster",
    "write_report",
    "zonal_stats",
    "zones_without_limits",
]
