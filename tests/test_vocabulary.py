"""Specification of the OZP zoning vocabulary: normalisation, families and classes."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmgeo._vocabulary import (
    LAND_USE_CLASSES,
    UNKNOWN,
    UNZONED,
    classify_zone,
    normalise_label,
    vocabulary,
    zone_family,
)
from nmgeo.errors import InputError, VocabularyError

# Written out by hand from the TPB zone names, independently of nmgeo/data/vocabulary.csv.
REAL_LABELS = [
    ("C", "commercial"),
    ("C(1)", "commercial"),
    ("C(3)", "commercial"),
    ("C/R", "mixed_use"),
    ("CDA", "mixed_use"),
    ("CDA(1)", "mixed_use"),
    ("CDA(2)", "mixed_use"),
    ("R(A)", "residential"),
    ("R(A)1", "residential"),
    ("R(A)3", "residential"),
    ("R(B)", "residential"),
    ("R(B)1", "residential"),
    ("R(C)", "residential"),
    ("R(C)2", "residential"),
    ("R(D)", "residential"),
    ("R(E)", "residential"),
    ("R(E)1", "residential"),
    ("V", "village"),
    ("I", "industrial"),
    ("I(D)", "industrial"),
    ("G/IC", "public_facility"),
    ("G/IC(1)", "public_facility"),
    ("G/IC(2)", "public_facility"),
    ("O", "open_space"),
    ("REC", "open_space"),
    ("GB", "conservation"),
    ("GB(1)", "conservation"),
    ("CA", "conservation"),
    ("CPA", "conservation"),
    ("SSSI", "conservation"),
    ("CP", "conservation"),
    ("AGR", "agriculture"),
    ("AGR(1)", "agriculture"),
    ("OS", "open_storage"),
    ("U", "undetermined"),
    ("MRDJ", "transport"),
    ("Road", "transport"),
    ("Railway", "transport"),
    ("OU(Business)", "commercial"),
    ("OU(B)", "commercial"),
    ("OU(Business)1", "commercial"),
    ("OU(Business and Technology Park)", "commercial"),
    ("OU(Innovation and Technology)", "commercial"),
    ("OU(I&T)", "commercial"),
    ("OU(Research and Development)", "commercial"),
    ("OU(R&D)", "commercial"),
    ("OU(Science Park)", "commercial"),
    ("OU(Mixed Use)", "mixed_use"),
    ("OU(MU)", "mixed_use"),
    ("OU(Industrial Estate)", "industrial"),
    ("OU(Logistics Facility)", "industrial"),
    ("OU(Port Back-up, Storage and Workshop Uses)", "industrial"),
    ("OU(Railway)", "transport"),
    ("OU(Railway Station)", "transport"),
    ("OU(Railway Depot)", "transport"),
    ("OU(Public Transport Interchange)", "transport"),
    ("OU(Public Vehicle Park)", "transport"),
    ("OU(Boundary Crossing Facilities)", "transport"),
    ("OU(Sewage Treatment Works)", "other"),
    ("OU(Electricity Substation)", "other"),
    ("OU(Refuse Transfer Station)", "other"),
    ("OU(Petrol Filling Station)", "other"),
    ("OU(Cemetery)", "other"),
    ("OU(Columbarium)", "other"),
    ("OU(Amenity Area)", "open_space"),
    ("OU(Golf Course)", "open_space"),
    ("OU(Sports and Recreation Club)", "open_space"),
    ("OU(Wetland Park)", "conservation"),
    ("OU(Comprehensive Development and Wetland Protection Area)", "conservation"),
    ("OU(Comprehensive Development to include Wetland Restoration Area)", "conservation"),
]


@pytest.fixture
def zoning_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="nmgeo.zoning")
    return caplog


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "nmgeo.zoning"]


# --- constants and the bundled table ----------------------------------------------------------


def test_there_are_exactly_thirteen_land_use_classes_in_a_fixed_order() -> None:
    assert LAND_USE_CLASSES == (
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
    assert UNKNOWN == "unknown"
    assert UNZONED == "unzoned"
    assert UNKNOWN not in LAND_USE_CLASSES and UNZONED not in LAND_USE_CLASSES


def test_bundled_vocabulary_uses_known_classes_and_unique_keys() -> None:
    table = vocabulary()
    assert {"kind", "key", "land_use", "description_eng", "note"} <= set(table.columns)
    assert set(table["kind"]) == {"family", "ou_use"}
    assert set(table["land_use"]) == set(LAND_USE_CLASSES)  # every class is reachable
    folded = table["kind"] + ":" + table["key"].str.casefold()
    assert not folded.duplicated().any()
    assert len(table) >= 100


def test_bundled_vocabulary_spells_out_the_zone_names() -> None:
    table = vocabulary().set_index("key")
    families = table[table["kind"] == "family"]
    assert families.loc["G/IC", "description_eng"] == "Government, Institution or Community"
    assert families.loc["CDA", "description_eng"] == "Comprehensive Development Area"
    assert families.loc["REC", "note"]  # REC as open space is a decision worth a note


def test_vocabulary_returns_a_copy_that_callers_may_edit() -> None:
    first = vocabulary()
    first.loc[:, "land_use"] = "other"
    assert classify_zone(["C"]).tolist() == ["commercial"]
    assert (vocabulary()["land_use"] != "other").any()


# --- normalise_label ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("C (1)", "C(1)"),
        ("g/ic", "G/IC"),
        ("G / IC", "G/IC"),
        ("GIC", "G/IC"),
        ("G/I/C", "G/IC"),
        ("G.I.C.(1)", "G/IC(1)"),
        ("OU (Business)", "OU(Business)"),
        ("ou(Business)", "OU(Business)"),
        ("OU Business", "OU(Business)"),
        ("R(A)3", "R(A)3"),
        ("r(a)3", "R(A)3"),
        ("  r (b) 1 ", "R(B)1"),
        ("G/IC(2)", "G/IC(2)"),
        ("C\uff081\uff09", "C(1)"),  # full-width parentheses
        ("OU(Logistics   Facility)", "OU(Logistics Facility)"),
        ("Road", "ROAD"),
        ("cda(1)", "CDA(1)"),
    ],
)
def test_normalise_label_gives_canonical_text(raw: str, canonical: str) -> None:
    assert normalise_label([raw]).tolist() == [canonical]


def test_normalise_label_keeps_nulls_null_and_blank_becomes_null() -> None:
    result = normalise_label(["C", None, np.nan, "   "])
    assert result.iloc[0] == "C"
    assert result.iloc[1:].isna().all()


def test_normalise_label_keeps_the_series_index_and_name() -> None:
    labels = pd.Series(["c (1)", "v"], index=[10, 7], name="ZONE_LABEL")
    result = normalise_label(labels)
    assert result.index.tolist() == [10, 7]
    assert result.name == "ZONE_LABEL"
    assert result.tolist() == ["C(1)", "V"]


def test_normalise_label_accepts_arrays_and_returns_a_range_index() -> None:
    result = normalise_label(np.array(["r(a)", "gic"], dtype=object))
    assert isinstance(result.index, pd.RangeIndex)
    assert result.tolist() == ["R(A)", "G/IC"]


def test_a_single_string_is_rejected_rather_than_split_into_letters() -> None:
    with pytest.raises(TypeError, match="single string"):
        normalise_label("C(1)")  # type: ignore[arg-type]


# --- zone_family ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "family"),
    [
        ("C(1)", "C"),
        ("R(A)3", "R(A)"),
        ("I(D)", "I(D)"),
        ("I(1)", "I"),
        ("G/IC(2)", "G/IC"),
        ("CDA(1)", "CDA"),
        ("OU(Business)", "OU"),
        ("OU", "OU"),
        ("R(B)1", "R(B)"),
        ("V", "V"),
        ("C/R", "C/R"),
        ("GB(1)", "GB"),
        ("g / ic (1)", "G/IC"),
        ("OS", "OS"),
        ("O", "O"),
    ],
)
def test_zone_family_drops_numeric_suffixes_but_keeps_group_letters(
    label: str, family: str
) -> None:
    assert zone_family([label]).tolist() == [family]


def test_zone_family_of_null_is_null() -> None:
    assert zone_family([None]).isna().all()


# --- classify_zone: the real labels -------------------------------------------------------------


@pytest.mark.parametrize(("label", "land_use"), REAL_LABELS)
def test_real_ozp_labels_get_their_land_use_class(label: str, land_use: str) -> None:
    assert classify_zone([label]).tolist() == [land_use]


def test_classifying_all_real_labels_at_once_matches_one_by_one(zoning_log) -> None:
    labels = [label for label, _ in REAL_LABELS]
    expected = [land_use for _, land_use in REAL_LABELS]
    assert classify_zone(labels).tolist() == expected
    assert _records(zoning_log) == []  # nothing unknown, nothing logged


def test_untidy_spellings_classify_like_the_canonical_label() -> None:
    untidy = ["C (1)", "g/ic", "OU (Business)", "r(a)3", "G / IC (2)", "ou(business)", "gic"]
    assert classify_zone(untidy).tolist() == [
        "commercial",
        "public_facility",
        "commercial",
        "residential",
        "public_facility",
        "commercial",
        "public_facility",
    ]


def test_longest_ou_keyword_wins() -> None:
    result = classify_zone(
        [
            "OU(Comprehensive Development)",
            "OU(Comprehensive Development and Wetland Enhancement Area)",
            "OU(Science Park)",
            "OU(Science Park/Industrial Estate)",
        ]
    )
    assert result.tolist() == ["mixed_use", "conservation", "commercial", "industrial"]


def test_ou_abbreviations_match_only_as_whole_words() -> None:
    # "B" must not match inside "Bus", nor "MU" inside "Museum".
    result = classify_zone(["OU(Bus Depot)", "OU(Museum)", "OU(B)", "OU(mu)"])
    assert result.tolist() == ["transport", "other", "commercial", "mixed_use"]


def test_ou_annotation_matching_ignores_case_and_ampersand_spelling() -> None:
    result = classify_zone(
        ["OU(BUSINESS)", "OU(Research & Development)", "OU(R & D)", "OU(innovation & technology)"]
    )
    assert set(result) == {"commercial"}


def test_ou_with_unmatched_or_missing_annotation_is_other_not_unknown(zoning_log) -> None:
    result = classify_zone(["OU(Museum)", "OU", "OU(1)"])
    assert result.tolist() == ["other", "other", "other"]
    assert _records(zoning_log) == []


# --- classify_zone: OU with specified_use ------------------------------------------------------


def test_plain_ou_takes_its_class_from_specified_use() -> None:
    labels = ["OU", "OU", "OU", "OU(1)", "ou"]
    uses = ["Business", "Railway Station", None, "Logistics Facility", "sewage treatment works"]
    result = classify_zone(labels, specified_use=uses)
    assert result.tolist() == ["commercial", "transport", "other", "industrial", "other"]


def test_annotation_in_the_label_wins_over_specified_use() -> None:
    result = classify_zone(["OU(B)"], specified_use=["Sewage Treatment Works"])
    assert result.tolist() == ["commercial"]


def test_specified_use_is_ignored_for_zones_other_than_ou() -> None:
    result = classify_zone(["C", "G/IC"], specified_use=["Railway", "Business"])
    assert result.tolist() == ["commercial", "public_facility"]


def test_specified_use_is_aligned_by_position_not_index() -> None:
    labels = pd.Series(["OU", "OU"], index=[5, 6])
    uses = pd.Series(["Business", "Railway"], index=[6, 5])
    assert classify_zone(labels, specified_use=uses).tolist() == ["commercial", "transport"]


def test_specified_use_of_the_wrong_length_is_an_input_error() -> None:
    with pytest.raises(InputError, match="one specified use"):
        classify_zone(["OU", "C"], specified_use=["Business"])


# --- classify_zone: unknown labels and nulls -----------------------------------------------


def test_unknown_labels_are_reported_once_with_counts(zoning_log) -> None:
    labels = ["XYZ", "C", "XYZ", "QQ(1)", None, "XYZ", "qq (1)"]
    result = classify_zone(labels)
    assert result.tolist() == [
        UNKNOWN,
        "commercial",
        UNKNOWN,
        UNKNOWN,
        UNKNOWN,
        UNKNOWN,
        UNKNOWN,
    ]
    records = _records(zoning_log)
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    message = records[0].getMessage()
    assert "'XYZ' (3)" in message
    assert "'QQ(1)' (2)" in message  # counted after normalisation
    assert "<null> (1)" in message
    assert message.index("'XYZ'") < message.index("'QQ(1)'") < message.index("<null>")


def test_a_long_list_of_unknown_labels_is_cut_short(zoning_log) -> None:
    labels = [f"X{i}" for i in range(15) for _ in range(i + 1)]  # X14 most frequent
    classify_zone(labels)
    (record,) = _records(zoning_log)
    message = record.getMessage()
    assert "and 5 more" in message
    assert message.index("'X14' (15)") < message.index("'X5' (6)")
    assert "'X4'" not in message


def test_every_kind_of_null_label_is_unknown() -> None:
    result = classify_zone(pd.Series([None, np.nan, pd.NA, "V"], dtype=object))
    assert result.tolist() == [UNKNOWN, UNKNOWN, UNKNOWN, "village"]


def test_empty_input_gives_an_empty_land_use_series(zoning_log) -> None:
    result = classify_zone([])
    assert len(result) == 0
    assert result.name == "land_use"
    assert _records(zoning_log) == []


# --- classify_zone: index and dtype --------------------------------------------------------------


def test_result_keeps_the_index_of_the_input_series() -> None:
    labels = pd.Series(["C(1)", "V", "GB"], index=["lot-9", "lot-2", "lot-5"], name="ZONE_LABEL")
    result = classify_zone(labels)
    assert result.index.tolist() == ["lot-9", "lot-2", "lot-5"]
    assert result.name == "land_use"
    assert result.tolist() == ["commercial", "village", "conservation"]


def test_a_list_input_gives_a_range_index() -> None:
    result = classify_zone(["C", "V"])
    assert isinstance(result.index, pd.RangeIndex)
    assert result.name == "land_use"


def test_pandas_string_dtype_input_is_accepted() -> None:
    labels = pd.Series(["R(A)2", None, "CDA"], dtype="string")
    assert classify_zone(labels).tolist() == ["residential", UNKNOWN, "mixed_use"]


# --- classify_zone: user mappings ----------------------------------------------------------------


def test_dict_mapping_on_an_exact_label_overrides_only_that_label() -> None:
    result = classify_zone(["C(1)", "C(2)"], mapping={"C(1)": "mixed_use"})
    assert result.tolist() == ["mixed_use", "commercial"]


def test_dict_mapping_on_a_family_overrides_every_label_of_that_family() -> None:
    result = classify_zone(["REC", "REC(1)", "O"], mapping={"REC": "other"})
    assert result.tolist() == ["other", "other", "open_space"]


def test_exact_label_beats_family_in_a_dict_mapping() -> None:
    mapping = {"C": "mixed_use", "c (1)": "residential"}
    assert classify_zone(["C(1)", "C(2)"], mapping=mapping).tolist() == [
        "residential",
        "mixed_use",
    ]


def test_dict_mapping_of_an_ou_label_applies_to_plain_ou_with_that_specified_use() -> None:
    mapping = {"OU(Business)": "mixed_use"}
    result = classify_zone(
        ["OU", "OU(business)", "OU"], specified_use=["Business", None, "Railway"], mapping=mapping
    )
    assert result.tolist() == ["mixed_use", "mixed_use", "transport"]


def test_dict_mapping_can_classify_labels_the_vocabulary_does_not_know(zoning_log) -> None:
    result = classify_zone(["XYZ", "C"], mapping={"xyz": "other"})
    assert result.tolist() == ["other", "commercial"]
    assert _records(zoning_log) == []


def test_dict_mapping_to_a_class_outside_the_thirteen_is_rejected() -> None:
    with pytest.raises(VocabularyError, match="'shops'"):
        classify_zone(["C"], mapping={"C": "shops"})


def test_dict_mapping_to_unknown_is_rejected() -> None:
    with pytest.raises(VocabularyError):
        classify_zone(["C"], mapping={"C": UNKNOWN})


def test_a_mapping_that_is_neither_dict_nor_frame_is_rejected() -> None:
    with pytest.raises(VocabularyError, match="dict or a vocabulary DataFrame"):
        classify_zone(["C"], mapping=[("C", "commercial")])  # type: ignore[arg-type]


def _small_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kind": ["family", "family", "ou_use"],
            "key": ["C", "OU", "Business"],
            "land_use": ["residential", "other", "industrial"],
        }
    )


def test_dataframe_mapping_replaces_the_bundled_table(zoning_log) -> None:
    result = classify_zone(["C(1)", "OU(Business)", "OU(Railway)", "R(A)"], mapping=_small_table())
    assert result.tolist() == ["residential", "industrial", "other", UNKNOWN]
    (record,) = _records(zoning_log)
    assert "'R(A)' (1)" in record.getMessage()


def test_an_edited_copy_of_the_vocabulary_is_a_valid_mapping() -> None:
    table = vocabulary()
    table.loc[table["key"] == "REC", "land_use"] = "other"
    assert classify_zone(["REC", "O"], mapping=table).tolist() == ["other", "open_space"]


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda t: t.assign(land_use=["residential", "other", "shops"]), "row 2.*'shops'"),
        (lambda t: t.assign(kind=["family", "zone", "ou_use"]), "row 1.*'zone'"),
        (lambda t: t.assign(key=["C", "OU", " "]), "row 2.*empty key"),
        (lambda t: pd.concat([t, t.iloc[[0]]], ignore_index=True), "row 3 repeats"),
        (lambda t: t.drop(columns="land_use"), "land_use"),
    ],
)
def test_malformed_dataframe_mapping_names_the_bad_row(edit, match: str) -> None:
    with pytest.raises(VocabularyError, match=match):
        classify_zone(["C"], mapping=edit(_small_table()))


def test_duplicate_keys_are_found_after_normalisation() -> None:
    table = pd.DataFrame(
        {
            "kind": ["family", "family", "ou_use", "ou_use"],
            "key": ["G/IC", "gic", "Business", "BUSINESS"],
            "land_use": ["public_facility"] * 2 + ["commercial"] * 2,
        }
    )
    with pytest.raises(VocabularyError, match="row 1 repeats"):
        classify_zone(["C"], mapping=table)


# --- properties --------------------------------------------------------------------------------

_POOL = [label for label, _ in REAL_LABELS] + ["XYZ", "qq(9)", None, "c (1)", "OU", " g/ic "]
_LABEL_TEXT = st.text(
    alphabet=st.sampled_from(list("CDGIORUVABEPSoucrgai()/&123 -:\t\uff08\uff09")), max_size=25
)


@settings(max_examples=200, deadline=None)
@given(st.one_of(_LABEL_TEXT, st.text(max_size=25)))
def test_normalise_label_is_idempotent(text: str) -> None:
    once = normalise_label([text])
    twice = normalise_label(once)
    assert once.equals(twice)


@settings(max_examples=200, deadline=None)
@given(_LABEL_TEXT)
def test_family_of_a_label_does_not_change_with_normalisation(text: str) -> None:
    assert zone_family([text]).equals(zone_family(normalise_label([text])))


@settings(max_examples=100, deadline=None)
@given(
    base=st.lists(st.sampled_from(_POOL), min_size=1, max_size=30),
    picks=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=60),
)
def test_classification_is_elementwise_under_shuffling_and_duplication(
    base: list[str | None], picks: list[int]
) -> None:
    reference = classify_zone(base).tolist()
    positions = [pick % len(base) for pick in picks]  # reorders and repeats the input
    shuffled = classify_zone([base[p] for p in positions]).tolist()
    assert shuffled == [reference[p] for p in positions]
    assert set(shuffled) <= set(LAND_USE_CLASSES) | {UNKNOWN}
