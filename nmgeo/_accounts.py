"""The read account: what a reader did to a layer, so that every input row is accounted for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from nmgeo._crs import HK80
from nmgeo._ids import N_ACCOUNT_IDS


@dataclass
class ReadAccount:
    """What a reader did to a layer, so that every input row is accounted for.

    ``n_input == n_output + n_dropped_empty + n_dropped_duplicate + n_parts_combined``
    always holds.
    Areas are in square metres of EPSG:2326. The id lists keep the first ``N_ACCOUNT_IDS``
    ids (0-based row positions for a layer without ids); ``overlap_ids`` holds id pairs.
    """

    source: str
    layer: str | None = None
    n_input: int = 0
    n_output: int = 0
    crs_in: str = ""
    transformed: bool = False
    n_rings_closed: int = 0
    rings_closed_ids: list = field(default_factory=list)
    n_z_dropped: int = 0
    n_collections_fixed: int = 0
    n_repaired: int = 0
    repair_area_change_m2: float = 0.0
    n_dropped_empty: int = 0
    n_dropped_duplicate: int = 0
    n_parts_combined: int = 0
    combined_ids: list = field(default_factory=list)
    dropped_ids: list = field(default_factory=list)
    id_generated: bool = False
    n_overlapping_lots: int = 0
    n_overlap_pairs: int = 0
    overlap_area_m2: float = 0.0
    overlap_ids: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the account as a plain dict (JSON-friendly lists and numbers)."""
        return asdict(self)

    def __str__(self) -> str:
        where = self.source if self.layer is None else f"{self.source} [layer {self.layer}]"
        crs = f"{self.crs_in} -> {HK80}" if self.transformed else self.crs_in
        parts = [f"{where}: {self.n_input} rows in, {self.n_output} out", crs]
        if self.n_rings_closed:
            parts.append(f"unclosed rings closed in {self.n_rings_closed} rows")
        if self.n_z_dropped:
            parts.append(f"{self.n_z_dropped} Z dropped")
        if self.n_collections_fixed:
            parts.append(f"{self.n_collections_fixed} collections reduced to polygons")
        if self.n_repaired:
            parts.append(
                f"{self.n_repaired} repaired (area change {self.repair_area_change_m2:.3f} m2)"
            )
        if self.n_dropped_empty:
            parts.append(f"{self.n_dropped_empty} empty dropped")
        if self.n_dropped_duplicate:
            parts.append(f"{self.n_dropped_duplicate} duplicate/null id dropped")
        if self.n_parts_combined:
            parts.append(f"{self.n_parts_combined} rows combined into lots sharing their id")
        if self.id_generated:
            parts.append("ids generated")
        if self.n_overlapping_lots:
            parts.append(
                f"{self.n_overlapping_lots} lots overlap ({self.n_overlap_pairs} pairs, "
                f"{self.overlap_area_m2:.3f} m2)"
            )
        parts.extend(self.notes)
        return "; ".join(parts)


@dataclass
class ZoneReadAccount(ReadAccount):
    """The account of ``read_zones``: one zoning layer, or several plan files merged.

    ``n_input == n_output + n_dropped_empty + n_dropped_duplicate + n_parts_combined +
    n_dropped_superseded`` always holds. For several files, the counts are the files'
    sums, the id lists hold ``"<file>:<id>"`` strings, the notes start with the file name,
    and ``files`` holds each file's own account.
    """

    n_files: int = 1
    files: list = field(default_factory=list)
    skipped_files: list = field(default_factory=list)
    plan_versions: list = field(default_factory=list)
    n_dropped_superseded: int = 0

    def __str__(self) -> str:
        parts = [super().__str__()]
        if self.n_files > 1:
            parts.append(f"{self.n_files} files")
        if self.skipped_files:
            parts.append(f"{len(self.skipped_files)} files without zones skipped")
        if self.plan_versions:
            parts.append(f"{len(self.plan_versions)} plans in more than one version or file")
        if self.n_dropped_superseded:
            parts.append(f"{self.n_dropped_superseded} zones of superseded plan copies dropped")
        return "; ".join(parts)


def _prefixed(values: list, name: str) -> list:
    """``"<name>:<value>"`` for each id (element-wise for id pairs)."""
    out = []
    for value in values:
        if isinstance(value, (list, tuple)):
            out.append([f"{name}:{v}" for v in value])
        else:
            out.append(f"{name}:{value}")
    return out


def merge_accounts(
    accounts: Sequence[ReadAccount], names: Sequence[str], *, source: str, layer: str | None
) -> ZoneReadAccount:
    """One account for layers read one by one and stacked (e.g. one file per plan).

    Counts and areas are summed, flags are true if any layer's is, CRSs are listed once
    each, and ids and notes keep the name of their layer (``names``, e.g. file names).
    """
    merged = ZoneReadAccount(source=source, layer=layer, n_files=len(accounts))
    crs_in: list[str] = []
    for account, name in zip(accounts, names, strict=True):
        for item in fields(ReadAccount):
            key = item.name
            if key in ("source", "layer"):
                continue
            value = getattr(account, key)
            if key == "crs_in":
                if value and value not in crs_in:
                    crs_in.append(value)
            elif key == "notes":
                merged.notes.extend(f"{name}: {note}" for note in value)
            elif isinstance(value, bool):
                setattr(merged, key, getattr(merged, key) or value)
            elif isinstance(value, (int, float)):
                setattr(merged, key, getattr(merged, key) + value)
            elif isinstance(value, list):
                room = max(N_ACCOUNT_IDS - len(getattr(merged, key)), 0)
                getattr(merged, key).extend(_prefixed(value[:room], name))
        merged.files.append(account.as_dict())
    merged.crs_in = ", ".join(crs_in)
    return merged
