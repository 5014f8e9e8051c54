"""The OZP zoning vocabulary: label normalisation, zone families and land-use classes."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import NamedTuple, TypeAlias

import numpy as np
import pandas as pd

from nmgeo.errors import InputError, VocabularyError

__all__ = [
    "LAND_USE_CLASSES",
    "UNKNOWN",
    "UNZONED",
    "classify_zone",
    "land_use_colours",
    "normalise_label",
    "vocabulary",
    "zone_family",
]

logger = logging.getLogger("nmgeo.zoning")

LAND_USE_CLASSES: tuple[str, ...] = (
    "commercial",
    "mixed_use",
    "residential",
    "village",
    "industrial",
    "public_facility",
    "open_space",
    "transport",
    "conservation",
    "agriculture",
    "open_storage",
    "undetermined",
    "other",
)
UNKNOWN = "unknown"
UNZONED = "unzoned"

LabelsLike: TypeAlias = pd.Series | pd.Index | np.ndarray | Iterable[object]
MappingLike: TypeAlias = Mapping[str, str] | pd.Series | pd.DataFrame

_KINDS = ("family", "ou_use")
_REQUIRED_COLUMNS = ("kind", "key", "land_use")
_MAX_REPORTED = 10
_DATA_FILE = "nmgeo/data/vocabulary.csv"

# Full-width punctuation as typed in Chinese-language data entry.
_FULLWIDTH = str.maketrans({"\uff08": "(", "\uff09": ")", "\uff0f": "/", "\u3000": " "})
_SPACE_AROUND_PUNCT = r"\s*([()/])\s*"
_OU_PREFIX = r"(?i)^ou(?![^\W\d_])"
# "OU Business", "OU: Business", "OU - Business" -> "OU(Business)"
_OU_BARE_ANNOTATION = r"(?i)^ou[ :\-\u2013]+(?=[^\W\d_])(.+)$"
_GIC_VARIANT = r"^G[./\-]?I[./\-]?C\.?(?=\(|\d|$)"
# A parenthesised single letter after R or I belongs to the family (R(A), I(D)); numbers do not.
_FAMILY = r"^(?:(?P<ou>OU)(?![^\W\d_])|(?P<ri>[RI]\([A-Z]\))|(?P<other>[^()\d]+?))(?=\(|\d|$)"
_OU_ANNOTATION = r"^OU\((?P<annotation>.*)\)"
# In annotation matching, letters, digits and "&" (R&D, I&T) are significant; every other
# character (space, hyphen, slash, comma, dot, underscore ...) separates words and may be
# left out: "BOUNDARYCROSSING", "Boundary-Crossing" and "boundary crossing" are one text.
_SIGNIFICANT = "0-9a-z&"
_SEPARATORS = rf"[^{_SIGNIFICANT}]*"
# Development classes that win over a transport facility named in the same annotation
# ("Commercial/Residential Development with Public Transport Interchange" is mixed use).
_DEVELOPMENT_CLASSES = ("commercial", "mixed_use", "residential")
_CARRIER_CLASS = "transport"


class _Compiled(NamedTuple):
    """A vocabulary table prepared for matching."""

    families: dict[str, str]
    patterns: tuple[str, ...]  # ou_use regexes, longest keyword first
    keywords: tuple[str, ...]  # each pattern's keyword without separators
    classes: np.ndarray  # land-use class of each pattern
    rows: np.ndarray  # position in the table of the row of each pattern


@functools.cache
def _load_vocabulary() -> pd.DataFrame:
    path = resources.files("nmgeo") / "data" / "vocabulary.csv"
    with path.open("r", encoding="utf-8") as handle:
        table = pd.read_csv(handle, dtype=object, keep_default_na=False)
    _validate_table(table, source=_DATA_FILE, line_offset=2)
    return table


def vocabulary() -> pd.DataFrame:
    """Return the bundled OZP zoning vocabulary.

    The table maps TPB Outline Zoning Plan zone families (``kind == "family"``,
    e.g. ``C``, ``R(A)``, ``G/IC``) and keywords of "Other Specified Uses"
    annotations (``kind == "ou_use"``, e.g. ``Business``, ``Railway``) to one of
    the land-use classes in :data:`LAND_USE_CLASSES`. It is read once from
    ``nmgeo/data/vocabulary.csv``; each call returns a fresh copy, so editing
    the result is safe and can be passed back as ``mapping=``.

    Returns
    -------
    pandas.DataFrame
        Columns ``kind``, ``key``, ``land_use``, ``description_eng``, ``note``
        and ``source``, one row per family key or annotation keyword.

    Raises
    ------
    VocabularyError
        If the bundled file names an unknown kind or land-use class or repeats a key.

    Examples
    --------
    >>> from nmgeo.zoning import vocabulary
    >>> table = vocabulary()
    >>> table.set_index(["kind", "key"]).loc[("family", "G/IC"), "land_use"]
    'public_facility'
    """
    return _load_vocabulary().copy()


def _validate_table(table: pd.DataFrame, *, source: str, line_offset: int = 0) -> None:
    """Check the vocabulary schema, raising VocabularyError that names the bad row."""
    missing = [column for column in _REQUIRED_COLUMNS if column not in table.columns]
    if missing:
        msg = (
            f"{source} lacks the column(s) {', '.join(missing)}; a vocabulary needs the "
            f"columns {', '.join(_REQUIRED_COLUMNS)}."
        )
        raise VocabularyError(msg)
    keys = table["key"].astype(object)
    is_family = (table["kind"] == "family").to_numpy(bool)
    # Family keys compare as canonical labels; keywords ignoring case, spaces and punctuation.
    family_keys = _normalise_text(keys).to_numpy(object)
    keyword_keys = _squash(_match_text(keys)).to_numpy(object)
    canonical_keys = np.where(is_family, family_keys, keyword_keys)
    seen: set[tuple[str, str]] = set()
    rows = table[list(_REQUIRED_COLUMNS)].itertuples(index=True, name=None)
    for position, (index, kind, key, land_use) in enumerate(rows):
        where = (
            f"{source} line {position + line_offset}" if line_offset else f"{source} row {index!r}"
        )
        if kind not in _KINDS:
            msg = f"{where} has kind {kind!r}; use 'family' or 'ou_use'."
            raise VocabularyError(msg)
        if not isinstance(key, str) or not key.strip():
            msg = f"{where} has an empty key; give a zone family or an annotation keyword."
            raise VocabularyError(msg)
        if kind == "ou_use" and not canonical_keys[position]:
            msg = (
                f"{where} has the ou_use key {key!r}, which has no letter or digit to match; "
                "give an annotation keyword."
            )
            raise VocabularyError(msg)
        if land_use not in LAND_USE_CLASSES:
            msg = (
                f"{where} (key {key!r}) has land_use {land_use!r}, which is not a land-use "
                f"class; use one of {', '.join(LAND_USE_CLASSES)}."
            )
            raise VocabularyError(msg)
        canonical = (kind, canonical_keys[position])
        if canonical in seen:
            msg = (
                f"{where} repeats the {kind} key {key!r} of an earlier row (keys are compared "
                "ignoring case, spaces and punctuation); keep one of them."
            )
            raise VocabularyError(msg)
        seen.add(canonical)


def _keyword_pattern(squashed: str) -> str:
    """Regex of one ou_use keyword (given without separators) for folded annotation text.

    The keyword's letters may be split by any separators and must stand as whole words:
    no letter or digit right before it nor right after it (a plural "s"/"es" aside). A
    one-letter keyword (the abbreviations ``A``, ``B``) is the whole annotation or nothing.
    """
    body = _SEPARATORS.join(re.escape(char) for char in squashed)
    if len(squashed) == 1:
        return rf"^{_SEPARATORS}{body}{_SEPARATORS}$"
    return rf"(?<![0-9a-z]){body}(?:e?s)?(?![0-9a-z])"


def _compile(table: pd.DataFrame) -> _Compiled:
    families_rows = table[table["kind"] == "family"]
    family_keys = _normalise_text(families_rows["key"].astype(object))
    families = dict(zip(family_keys, families_rows["land_use"], strict=True))

    is_use = (table["kind"] == "ou_use").to_numpy(bool)
    uses = table[is_use]
    folded = _match_text(uses["key"].astype(object))
    squashed = _squash(folded).to_numpy(dtype=object)
    lengths = folded.str.len().to_numpy(dtype=int)
    order = np.argsort(-lengths, kind="stable")  # longest first; ties keep table order
    patterns = tuple(_keyword_pattern(squashed[i]) for i in order)
    classes = uses["land_use"].to_numpy(dtype=object)[order]
    rows = np.flatnonzero(is_use)[order]
    keywords = tuple(squashed[i] for i in order)
    return _Compiled(families, patterns, keywords, classes, rows)


@functools.cache
def _default_compiled() -> _Compiled:
    return _compile(_load_vocabulary())


def _one_per_label(values: pd.Series, n: int, name: str, what: str) -> pd.Series:
    """``values`` if it has one entry per label, else InputError naming ``name``."""
    if len(values) != n:
        msg = f"{name} has {len(values)} values but labels has {n}; give one {what} per label."
        raise InputError(msg)
    return values


def _as_series(values: LabelsLike, name: str) -> pd.Series:
    if isinstance(values, pd.Series):
        return values
    if isinstance(values, (str, bytes)):
        msg = f"{name} must be a list, array or Series of labels, not a single string."
        raise TypeError(msg)
    if isinstance(values, pd.Index):
        return pd.Series(values.to_numpy(dtype=object), dtype=object)
    return pd.Series(list(values), dtype=object)


def _normalise_text(text: pd.Series) -> pd.Series:
    """Normalise label text (an object Series of any values) into canonical labels."""
    s = text.astype(object).map(str, na_action="ignore")
    s = s.str.translate(_FULLWIDTH).str.strip().str.replace(r"\s+", " ", regex=True)
    s = s.str.replace(_SPACE_AROUND_PUNCT, r"\1", regex=True)
    s = s.str.replace(_OU_BARE_ANNOTATION, r"OU(\1)", regex=True)
    is_ou = s.str.contains(_OU_PREFIX, regex=True, na=False)
    # OU keeps the annotation's case; every other label is upper-cased whole.
    s = s.where(~is_ou, "OU" + s.str.slice(2)).where(is_ou, s.str.upper())
    s = s.str.replace(_GIC_VARIANT, "G/IC", regex=True)
    present = (s.notna() & (s != "")).to_numpy(bool)
    return pd.Series(np.where(present, s.to_numpy(object), None), index=text.index, dtype=object)


def _match_text(text: pd.Series) -> pd.Series:
    """Fold annotation text (or keywords) for case-insensitive keyword matching."""
    s = text.astype(object).str.translate(_FULLWIDTH).str.casefold()
    s = s.str.replace(r"\s+", " ", regex=True).str.strip()
    s = s.str.replace(_SPACE_AROUND_PUNCT, r"\1", regex=True)
    # "R & D" -> "r&d", "Research & Development" -> "research and development"
    s = s.str.replace(r"\s*&\s*", "&", regex=True)
    return s.str.replace(r"&(?=[^\W\d_]{2})|(?<=[^\W\d_]{2})&", " and ", regex=True)


def _squash(folded: pd.Series) -> pd.Series:
    """Folded text without its separators: the characters keyword matching compares."""
    return folded.str.replace(rf"[^{_SIGNIFICANT}]+", "", regex=True)


def _factorized(series: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Codes (-1 for null) and the unique non-null values as an object Series."""
    codes, uniques = pd.factorize(series.to_numpy(dtype=object))
    return codes, pd.Series(np.asarray(uniques, dtype=object), dtype=object)


def _take(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    out = np.full(len(codes), None, dtype=object)
    present = codes >= 0
    out[present] = values[codes[present]]
    return out


def normalise_label(labels: LabelsLike) -> pd.Series:
    """Return the canonical text of OZP zone labels.

    Whitespace is stripped and collapsed, spaces around parentheses and
    slashes are removed (``"C (1)"`` -> ``"C(1)"``, ``"G / IC"`` -> ``"G/IC"``,
    ``"OU (Business)"`` -> ``"OU(Business)"``), full-width parentheses become
    ASCII, the label is upper-cased except for the annotation of an ``OU``
    label (``"r(a)3"`` -> ``"R(A)3"``), ``"OU Business"`` becomes
    ``"OU(Business)"`` and the spellings ``GIC``, ``G/I/C`` and ``G.I.C.``
    become ``G/IC``. The operation is idempotent.

    Parameters
    ----------
    labels : list, numpy.ndarray or pandas.Series
        Zone labels as found in TPB's ``ZONE_LABEL`` field.

    Returns
    -------
    pandas.Series
        Object-dtype canonical labels, with the index and name of ``labels`` if
        it is a Series (else a RangeIndex). Null and blank labels are ``None``.

    Examples
    --------
    >>> from nmgeo.zoning import normalise_label
    >>> normalise_label(["c (1)", " R(A)3 ", "g/ic"]).tolist()
    ['C(1)', 'R(A)3', 'G/IC']
    """
    series = _as_series(labels, "labels")
    codes, uniques = _factorized(series)
    canonical = _normalise_text(uniques).to_numpy(dtype=object)
    return pd.Series(_take(canonical, codes), index=series.index, name=series.name, dtype=object)


def _family_of_normalised(normalised: pd.Series) -> pd.Series:
    parts = normalised.astype(object).str.extract(_FAMILY)
    family = parts["ou"].to_numpy(dtype=object)
    for column in ("ri", "other"):
        fallback = parts[column].to_numpy(dtype=object)
        family = np.where(pd.isna(family), fallback, family)
    return pd.Series(family, index=normalised.index, dtype=object).where(pd.notna(family), None)


def zone_family(labels: LabelsLike) -> pd.Series:
    """Return the zone family key of OZP zone labels.

    The family is the label without its suffix: ``"C(1)"`` -> ``"C"``,
    ``"R(A)3"`` -> ``"R(A)"``, ``"I(D)"`` -> ``"I(D)"``, ``"G/IC(2)"`` ->
    ``"G/IC"``, ``"CDA(1)"`` -> ``"CDA"``, ``"OU(Business)"`` -> ``"OU"``. A
    parenthesised single letter right after ``R`` or ``I`` is part of the family
    (Residential Group A, Industrial Group D); a number, bare or in parentheses,
    is not. Labels are normalised first with :func:`normalise_label`.

    Parameters
    ----------
    labels : list, numpy.ndarray or pandas.Series
        Zone labels.

    Returns
    -------
    pandas.Series
        Object-dtype family keys with the index of ``labels``; ``None`` where the
        label is null or has no recognisable family part.

    Examples
    --------
    >>> from nmgeo.zoning import zone_family
    >>> zone_family(["C(1)", "R(A)3", "OU(Business)2", "G/IC(2)"]).tolist()
    ['C', 'R(A)', 'OU', 'G/IC']
    """
    series = _as_series(labels, "labels")
    codes, uniques = _factorized(series)
    family = _family_of_normalised(_normalise_text(uniques)).to_numpy(dtype=object)
    return pd.Series(_take(family, codes), index=series.index, name=series.name, dtype=object)


def _user_overrides(mapping: Mapping[str, str] | pd.Series) -> dict[str, str]:
    """Validate a {label_or_family: land_use} dict, keyed by case-folded canonical label."""
    keys = list(mapping.keys())
    for key in keys:
        if not isinstance(key, str) or not key.strip():
            msg = f"mapping key {key!r} is not a zone label; use label or family strings as keys."
            raise VocabularyError(msg)
        value = mapping[key]
        if value not in LAND_USE_CLASSES:
            msg = (
                f"mapping maps {key!r} to {value!r}, which is not a land-use class; use one "
                f"of {', '.join(LAND_USE_CLASSES)}."
            )
            raise VocabularyError(msg)
    canonical = _normalise_text(pd.Series(keys, dtype=object)).str.casefold()
    return dict(zip(canonical, (mapping[key] for key in keys), strict=True))


def _match_keywords(text: pd.Series, compiled: _Compiled) -> np.ndarray:
    """Position in ``compiled.patterns`` of the keyword deciding each text (-1 where none).

    The longest keyword found decides, except that a transport keyword yields to the
    longest commercial, mixed-use or residential keyword found in the same text: the
    development decides, not the transport facility it carries.
    """
    out = np.full(len(text), -1, dtype=np.int64)
    present = text.notna().to_numpy(bool)
    if not present.any() or not compiled.patterns:
        return out
    folded = _match_text(text[present].astype(object))
    # One column per keyword (longest first), one row per distinct text: a search per text
    # and keyword, without pandas' overhead per keyword (most of the cost for a few texts).
    distinct, inverse = np.unique(folded.fillna("").to_numpy(dtype=str), return_inverse=True)
    texts = distinct.tolist()
    squashed = _squash(pd.Series(texts, dtype=object)).tolist()
    # A match leaves the keyword's characters side by side once separators are removed, so
    # a plain substring test rules most pairs out before any regex is compiled (re caches
    # those it compiles) or run.
    found_in = [
        [
            keyword in bare and re.search(pattern, text) is not None
            for pattern, keyword in zip(compiled.patterns, compiled.keywords, strict=True)
        ]
        for text, bare in zip(texts, squashed, strict=True)
    ]
    hits = np.array(found_in, dtype=bool).reshape(len(texts), len(compiled.patterns))[inverse]
    found = hits.any(axis=1)
    longest = hits.argmax(axis=1)
    development = hits & np.isin(compiled.classes, _DEVELOPMENT_CLASSES)[np.newaxis, :]
    yields = (compiled.classes[longest] == _CARRIER_CLASS) & development.any(axis=1)
    chosen = np.where(yields, development.argmax(axis=1), longest)
    out[present] = np.where(found, chosen, -1)
    return out


def _classify_keywords(text: pd.Series, compiled: _Compiled) -> np.ndarray:
    """Land-use class of the keyword deciding each text (None where none matches)."""
    position = _match_keywords(text, compiled)
    out = np.full(len(text), None, dtype=object)
    out[position >= 0] = compiled.classes[position[position >= 0]]
    return out


def _deciding_rows(text: LabelsLike, mapping: pd.DataFrame | None = None) -> np.ndarray:
    """Row position, in the vocabulary table, of the ou_use keyword deciding each text.

    ``-1`` where no keyword matches; positions are ``iloc`` positions in
    :func:`vocabulary` (or in ``mapping``). Lets a test check that an annotation is
    classified by a row written for it rather than by a catch-all keyword.
    """
    compiled = _default_compiled() if mapping is None else _compile(mapping)
    position = _match_keywords(_as_series(text, "text").astype(object), compiled)
    rows = np.full(len(position), -1, dtype=np.int64)
    rows[position >= 0] = compiled.rows[position[position >= 0]]
    return rows


def _first_present(*candidates: np.ndarray) -> np.ndarray:
    result = candidates[0]
    for candidate in candidates[1:]:
        result = np.where(pd.isna(result), candidate, result)
    return result


def _report_unknown(labels: np.ndarray, counts: np.ndarray, area_m2: np.ndarray | None) -> None:
    """Log one warning listing unknown labels with their row counts (and areas, in ha).

    Labels are listed largest area first when areas are given, else most frequent
    first; ties by label, nulls last.
    """
    index = pd.Index(labels, dtype=object)
    frame = pd.DataFrame(
        {"count": counts, "area": np.nan if area_m2 is None else area_m2}, index=index
    )
    grouped = frame.groupby(level=0, sort=False, dropna=False)
    per_label = grouped["count"].sum().to_frame()
    per_label["area"] = grouped["area"].sum(min_count=1)
    names = np.array(
        ["\uffff" if pd.isna(label) else str(label) for label in per_label.index], dtype=str
    )
    size = per_label["count"] if area_m2 is None else per_label["area"].fillna(-1.0)
    order = np.lexsort((names, -size.to_numpy(dtype=float)))
    per_label = per_label.iloc[order]
    shown = per_label.iloc[:_MAX_REPORTED]
    text = pd.Series(
        ["<null>" if pd.isna(label) else repr(label) for label in shown.index], dtype=object
    )
    counts_text = shown["count"].astype(int).astype(str).to_numpy(dtype=object)
    if area_m2 is None:
        details = counts_text
    else:
        hectares = (shown["area"] / 10_000.0).map("{:.2f} ha".format, na_action="ignore")
        details = counts_text + ", " + hectares.fillna("area unknown").to_numpy(dtype=object)
    listed = ", ".join(text.to_numpy(dtype=object) + " (" + details + ")")
    if len(per_label) > _MAX_REPORTED:
        listed += f" and {len(per_label) - _MAX_REPORTED} more"
    total_m2 = np.nan if area_m2 is None else per_label["area"].sum(min_count=1)
    total = "" if pd.isna(total_m2) else f" covering {total_m2 / 10_000.0:.2f} ha"
    logger.warning(
        "%d row(s)%s with %d distinct zone label(s) matched no vocabulary entry and were "
        "classed %r: %s; pass mapping= to classify them.",
        int(per_label["count"].sum()),
        total,
        len(per_label),
        UNKNOWN,
        listed,
    )


def _as_areas(area_m2: LabelsLike, n: int) -> np.ndarray:
    """Validate ``area_m2`` (one non-negative number or null per label) as float64."""
    series = _one_per_label(_as_series(area_m2, "area_m2"), n, "area_m2", "area (m2, or null)")
    try:
        values = pd.to_numeric(series.astype(object), errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError) as error:
        msg = f"area_m2 must hold numbers (square metres): {error}."
        raise InputError(msg) from error
    if (values < 0).any():
        msg = "area_m2 has negative values; give zone areas in square metres (>= 0)."
        raise InputError(msg)
    return values


class _Pairs(NamedTuple):
    """The distinct (label, specified use) pairs of a call, one entry each."""

    inverse: np.ndarray  # pair of every input row
    label: np.ndarray  # normalised label, None where null
    use: np.ndarray  # specified use, None where null
    family: np.ndarray
    is_ou: np.ndarray
    annotation: np.ndarray  # text in an OU label's parentheses, None elsewhere
    ou_use: pd.Series  # specified use of OU pairs, None elsewhere


def _vocabulary_for(mapping: MappingLike | None) -> tuple[_Compiled, dict[str, str]]:
    """The compiled vocabulary and the user's overrides that ``mapping`` asks for."""
    compiled = _default_compiled()
    overrides: dict[str, str] = {}
    if isinstance(mapping, pd.DataFrame):
        _validate_table(mapping, source="mapping")
        compiled = _compile(mapping)
    elif isinstance(mapping, (Mapping, pd.Series)):
        overrides = _user_overrides(mapping)
    elif mapping is not None:
        msg = f"mapping must be a dict or a vocabulary DataFrame, not {type(mapping).__name__}."
        raise VocabularyError(msg)
    return compiled, overrides


def _specified_use_factors(
    specified_use: LabelsLike | None, n_labels: int
) -> tuple[np.ndarray, pd.Series]:
    """Factorised specified uses (all -1 if none given); one per label or InputError."""
    if specified_use is None:
        return np.full(n_labels, -1, dtype=np.int64), pd.Series([], dtype=object)
    uses = _as_series(specified_use, "specified_use")
    return _factorized(_one_per_label(uses, n_labels, "specified_use", "specified use (or null)"))


def _distinct_pairs(
    labels: tuple[np.ndarray, pd.Series], uses: tuple[np.ndarray, pd.Series]
) -> _Pairs:
    """One entry per distinct (label, specified use) pair, from their factorisations."""
    label_codes, label_uniques = labels
    use_codes, use_uniques = uses
    pair_codes = (label_codes.astype(np.int64) + 1) * (len(use_uniques) + 1) + (use_codes + 1)
    pairs, inverse = np.unique(pair_codes, return_inverse=True)
    inverse = inverse.reshape(-1)
    pair_label = _take(
        _normalise_text(label_uniques).to_numpy(dtype=object), pairs // (len(use_uniques) + 1) - 1
    )
    pair_use = _take(use_uniques.to_numpy(dtype=object), pairs % (len(use_uniques) + 1) - 1)
    pair_label_s = pd.Series(pair_label, dtype=object)
    family = _family_of_normalised(pair_label_s).to_numpy(dtype=object)
    is_ou = family == "OU"
    annotation = pair_label_s.str.extract(_OU_ANNOTATION)["annotation"].to_numpy(dtype=object)
    return _Pairs(
        inverse=inverse,
        label=pair_label,
        use=pair_use,
        family=family,
        is_ou=is_ou,
        annotation=np.where(is_ou, annotation, None),
        ou_use=pd.Series(np.where(is_ou, pair_use, None), dtype=object),
    )


def _vocabulary_class(pairs: _Pairs, compiled: _Compiled) -> np.ndarray:
    """Class of each pair from the vocabulary: its family's, or an OU's by its keywords."""
    ou_class = _first_present(
        _classify_keywords(pd.Series(pairs.annotation, dtype=object), compiled),
        _classify_keywords(pairs.ou_use, compiled),
        np.where(pairs.is_ou, compiled.families.get("OU"), None),
    )
    return np.where(
        pairs.is_ou,
        ou_class,
        pd.Series(pairs.family, dtype=object).map(compiled.families).to_numpy(object),
    )


def _overridden_class(
    pairs: _Pairs, overrides: dict[str, str], table_class: np.ndarray
) -> np.ndarray:
    """Apply the user's overrides: effective label, then label, then family, then table."""
    has_letters = pd.Series(pairs.annotation, dtype=object).str.contains(
        r"[^\W\d_]", regex=True, na=False
    )
    effective = np.where(
        pairs.is_ou & ~has_letters.to_numpy(bool) & pd.notna(pairs.use),
        "OU(" + pairs.ou_use.astype(object).fillna("") + ")",
        pairs.label,
    )
    effective_key = _normalise_text(pd.Series(effective, dtype=object)).str.casefold()
    label_key = pd.Series(pairs.label, dtype=object).str.casefold()
    family_key = pd.Series(pairs.family, dtype=object).str.casefold()
    return _first_present(
        effective_key.map(overrides).to_numpy(object),
        label_key.map(overrides).to_numpy(object),
        family_key.map(overrides).to_numpy(object),
        table_class,
    )


def _warn_unknown(pairs: _Pairs, pair_class: np.ndarray, areas: np.ndarray | None) -> None:
    """Report the unknown pairs with their row counts (and summed areas, if given)."""
    unknown = pair_class == UNKNOWN
    if not unknown.any():
        return
    n_pairs = len(pairs.label)
    counts = np.bincount(pairs.inverse, minlength=n_pairs)
    pair_area = None
    if areas is not None:
        known = ~np.isnan(areas)
        summed = np.bincount(pairs.inverse, weights=np.where(known, areas, 0.0), minlength=n_pairs)
        has_area = np.bincount(pairs.inverse, weights=known, minlength=n_pairs) > 0
        pair_area = np.where(has_area, summed, np.nan)[unknown]
    _report_unknown(pairs.label[unknown], counts[unknown], pair_area)


def classify_zone(
    labels: LabelsLike,
    *,
    specified_use: LabelsLike | None = None,
    mapping: MappingLike | None = None,
    area_m2: LabelsLike | None = None,
) -> pd.Series:
    """Classify OZP zone labels into land-use classes.

    Each label is normalised (:func:`normalise_label`) and reduced to its
    family (:func:`zone_family`), which the vocabulary maps to a class. An
    ``OU`` (Other Specified Uses) label is classified by its annotation: the
    text in the label's parentheses (``"OU(Business)"``, ``"OU(A)"``) or, if
    that matches nothing, the matching ``specified_use`` (TPB's ``SPUSE_ENG``,
    e.g. ``"Business"`` for a plain ``"OU"``). An OU label whose annotation is
    missing or matches no keyword takes the class of the ``OU`` family row
    ("other").

    Annotations are matched against the vocabulary's ``ou_use`` keywords:

    - ignoring case, spaces and punctuation inside a keyword:
      ``"BOUNDARYCROSSING FACILITIES"``, ``"Boundary Crossing Facilities"`` and
      ``"boundary-crossing facility"`` all match the keyword "Boundary Crossing";
      letters, digits and ``&`` are what is compared (``"R & D"`` is ``"R&D"``,
      ``"Research & Development"`` is ``"Research and Development"``);
    - as whole words: a keyword does not match inside a longer word ("Port" is
      not found in "Sports", "Bus" not in "Business"); a trailing plural "s" or
      "es" is allowed; a one-letter abbreviation (``A`` Amenity Area, ``B``
      Business) matches only the whole annotation;
    - the longest keyword found decides, so "Comprehensive Development and
      Wetland Protection Area" is conservation, not mixed use;
    - **development over transport**: when the longest keyword is a transport
      facility and the annotation also names a commercial, mixed-use or
      residential development, the development decides. A planner looking for
      land to dispose of reads "Commercial/Residential Development with Public
      Transport Interchange" as a commercial/residential site (``mixed_use``,
      like ``C/R``) whose developer builds the interchange, "Transport
      Interchange with Commercial Uses Above" and "Railway Station with
      Commercial Development" as ``commercial``; a railway station, bus depot
      or interchange named alone stays ``transport``.

    The work is done once per distinct (label, specified use) pair, so the
    cost depends on the number of distinct labels, not of rows.

    Parameters
    ----------
    labels : list, numpy.ndarray or pandas.Series
        Zone labels, e.g. TPB's ``ZONE_LABEL`` column.
    specified_use : list, numpy.ndarray or pandas.Series, optional
        "Other Specified Uses" annotations, one per label, aligned by position
        (a Series' index is ignored). Used only for OU labels.
    mapping : dict or pandas.DataFrame, optional
        A dict ``{label_or_family: land_use}`` overriding the vocabulary: a key
        equal to a row's normalised label (compared case-insensitively; a plain
        ``OU`` with a specified use counts as ``OU(<use>)``) wins over a key equal
        to its family, which wins over the vocabulary. Or a DataFrame with the
        schema of :func:`vocabulary` (``kind``, ``key``, ``land_use``) that
        replaces the bundled table.
    area_m2 : list, numpy.ndarray or pandas.Series, optional
        Area of each zone in square metres, aligned by position like
        ``specified_use`` (null where not known). Used only in the warning on
        unknown labels, which then gives each label's area in hectares and lists
        the largest first.

    Returns
    -------
    pandas.Series
        Object-dtype series named ``"land_use"`` with the index of ``labels`` (a
        RangeIndex for a list or array); values are from
        :data:`LAND_USE_CLASSES` or ``"unknown"`` for null labels and labels that
        match nothing. Unknown labels are logged once per call as a warning on
        the ``nmgeo.zoning`` logger with their row counts (and areas), most
        frequent (largest) first.

    Raises
    ------
    VocabularyError
        If ``mapping`` names a class outside :data:`LAND_USE_CLASSES` or its
        table is malformed.
    InputError
        If ``specified_use`` or ``area_m2`` does not have one value per label, or
        ``area_m2`` holds text or negative numbers.

    Examples
    --------
    A label takes its family's class, an ``OU`` label its annotation's; a null label is
    unknown:

    >>> import nmgeo
    >>> nmgeo.classify_zone(["C(1)", "G/IC", "OU(Business)", "V", None]).tolist()
    ['commercial', 'public_facility', 'commercial', 'village', 'unknown']

    A plain ``OU`` is classified by its specified use, development over transport:

    >>> nmgeo.classify_zone(
    ...     ["OU", "OU", "OU(A)", "RICH"],
    ...     specified_use=["BOUNDARYCROSSING FACILITIES",
    ...                    "Commercial/Residential Development with Public Transport Interchange",
    ...                    None, None],
    ... ).tolist()
    ['transport', 'mixed_use', 'open_space', 'other']

    A ``mapping`` key equal to a label wins over one equal to its family:

    >>> nmgeo.classify_zone(
    ...     ["R(B)", "R(B)1", "R(B)2"], mapping={"R(B)": "mixed_use", "R(B)1": "village"}
    ... ).tolist()
    ['mixed_use', 'village', 'mixed_use']
    """
    series = _as_series(labels, "labels")
    compiled, overrides = _vocabulary_for(mapping)
    label_factors = _factorized(series)
    use_factors = _specified_use_factors(specified_use, len(series))
    areas = None if area_m2 is None else _as_areas(area_m2, len(series))

    pairs = _distinct_pairs(label_factors, use_factors)
    table_class = _vocabulary_class(pairs, compiled)
    if overrides:
        table_class = _overridden_class(pairs, overrides, table_class)
    pair_class = np.where(pd.isna(table_class) | pd.isna(pairs.label), UNKNOWN, table_class)
    _warn_unknown(pairs, pair_class, areas)
    return pd.Series(
        pair_class[pairs.inverse].astype(object), index=series.index, name="land_use", dtype=object
    )


def land_use_colours() -> pd.DataFrame:
    """The categorical colours of land-use classes (``nmgeo/data/land_use_colours.csv``).

    Returns
    -------
    pandas.DataFrame
        ``class``, ``colour`` (hex), ``label``, ``source``: the 13 land-use classes plus
        ``unknown`` and ``unzoned``, in legend order.

    Examples
    --------
    >>> import nmgeo
    >>> colours = nmgeo.zoning.land_use_colours().set_index("class")
    >>> colours.loc["commercial", "colour"].startswith("#")
    True
    """
    with (
        resources.files("nmgeo.data").joinpath("land_use_colours.csv").open(encoding="utf-8") as f
    ):
        return pd.read_csv(f)
