"""Writing small single-band GeoTIFFs for the raster tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine


def write_geotiff(
    path: Path,
    values: np.ndarray,
    transform: Affine,
    *,
    crs: str = "EPSG:2326",
    nodata: float | None = -9999.0,
) -> Path:
    """Write ``values`` (2-D) as band 1 of a GeoTIFF on the grid ``transform`` in ``crs``."""
    values = np.asarray(values)
    profile = {
        "driver": "GTiff",
        "height": values.shape[0],
        "width": values.shape[1],
        "count": 1,
        "dtype": values.dtype.name,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
    return path
