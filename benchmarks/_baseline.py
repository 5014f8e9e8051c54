"""The package rule as an analyst writes it without nmgeo, shared by the baselines."""

from __future__ import annotations

from typing import Any

GAP = 15.0
MIN_AREA = 20_000.0
FACILITIES = ("public_facility", "open_space")


def hand_rolled_members(lots: Any) -> Any:
    """Commercial lots grouped by libpysal fuzzy contiguity (``GAP``), plus the facility lots
    ``sjoin_nearest`` puts within ``GAP`` of a group: a GeoDataFrame with ``group``,
    ``role``, ``area`` (m²) and ``com_area`` (m², commercial lots only)."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    from libpysal.graph import Graph

    com = lots[lots["land_use"] == "commercial"].reset_index(drop=True)
    fac = lots[lots["land_use"].isin(FACILITIES)].reset_index(drop=True)
    graph = Graph.build_fuzzy_contiguity(com.geometry, buffer=GAP / 2)
    com["group"] = graph.component_labels.to_numpy()
    joined = gpd.sjoin_nearest(fac, com[["group", "geometry"]], max_distance=GAP, how="inner")
    joined = joined[~joined.index.duplicated()]
    fac_in = fac.loc[joined.index].assign(group=joined["group"].to_numpy())
    members = pd.concat([com.assign(role="commercial"), fac_in.assign(role="facility")])
    members["area"] = members.area
    members["com_area"] = np.where(members["role"] == "commercial", members["area"], 0.0)
    return members
