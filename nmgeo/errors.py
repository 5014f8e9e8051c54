"""The nmgeo error hierarchy: one base class, one subclass per kind of bad input."""

from __future__ import annotations

__all__ = [
    "NmgeoError",
    "InputError",
    "SchemaError",
    "CRSError",
    "MissingCRSError",
    "CoordinateRangeError",
    "GeometryTypeError",
    "EmptyGeometryError",
    "InvalidGeometryError",
    "DuplicateIdError",
    "LimitsError",
    "VocabularyError",
    "SampleDataError",
    "OutputError",
]


class NmgeoError(Exception):
    """Base class of every error nmgeo raises on purpose.

    The message is one sentence that names the file, row or column at fault and
    says what to do about it.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> import nmgeo
    >>> no_crs = gpd.GeoDataFrame({"LOTID": ["A"]}, geometry=[box(0, 0, 1, 1)])
    >>> try:
    ...     nmgeo.read_parcels(no_crs)
    ... except nmgeo.NmgeoError as err:
    ...     print(type(err).__name__)
    MissingCRSError
    """


class InputError(NmgeoError, ValueError):
    """A file or frame cannot be read as the kind of layer asked for."""


class SchemaError(InputError, KeyError):
    """A required column is missing or a column mapping is wrong."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CRSError(InputError):
    """The coordinate reference system of a layer is missing, wrong or contradictory."""


class MissingCRSError(CRSError):
    """A layer has no CRS and none was given with ``crs=``."""


class CoordinateRangeError(CRSError):
    """Coordinates cannot be in Hong Kong once transformed to EPSG:2326."""


class GeometryTypeError(InputError):
    """A polygon layer holds points, lines or other non-areal geometries."""


class EmptyGeometryError(InputError):
    """Rows have null or empty geometries (or nothing left after repair)."""


class InvalidGeometryError(InputError):
    """Invalid geometries were found and repair was not allowed."""


class DuplicateIdError(InputError):
    """An identifier column has duplicate or null values."""


class LimitsError(InputError):
    """A development limits table that cannot be used as it is (see nmgeo.read_limits)."""


class VocabularyError(NmgeoError, ValueError):
    """A zoning vocabulary or user mapping is malformed."""


class SampleDataError(NmgeoError):
    """The bundled sample data is missing or cannot be regenerated."""


class OutputError(NmgeoError, ValueError):
    """An output would replace one of the input files it was computed from."""
