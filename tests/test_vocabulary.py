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
    ("RAIL", "transport"),
    ("DRCH", "other"),
    ("NULL", "other"),
    ("RICH", "other"),
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
    ("OU(A)", "open_space"),
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


# --- classify_zone: tolerant matching of annotations ---------------------------------------


@pytest.mark.parametrize(
    "use",
    [
        "BOUNDARYCROSSING FACILITIES",
        "Boundary Crossing Facilities",
        "boundary-crossing facility",
        "BOUNDARY  CROSSING  FACILITIES",
        "Boundary_Crossing",
        "boundary.crossing facilities",
        "Boundary \u2013 Crossing Facilities",
        "boundary crossings",
        "  Boundary\tCrossing (1) ",
    ],
)
def test_spellings_of_boundary_crossing_all_match_the_same_row(use: str) -> None:
    assert classify_zone(["OU"], specified_use=[use]).tolist() == ["transport"]
    assert classify_zone([f"OU({use.strip()})"]).tolist() == ["transport"]


@pytest.mark.parametrize(
    ("use", "land_use"),
    [
        ("Waterworks", "other"),
        ("water works", "other"),
        ("FISHPONDS", "agriculture"),
        ("Fish-pond", "agriculture"),
        ("Eco Park", "industrial"),
        ("ECOPARK", "industrial"),
        ("Agripark", "agriculture"),
        ("PORT BACKUP USES", "industrial"),
        ("Sub-station", "other"),
        ("S.T.W.", "other"),
        ("P.T.I.", "transport"),
        ("R & D", "commercial"),
        ("Research & Development", "commercial"),
    ],
)
def test_spaces_and_punctuation_inside_a_keyword_do_not_matter(use: str, land_use: str) -> None:
    assert classify_zone(["OU"], specified_use=[use]).tolist() == [land_use]


@pytest.mark.parametrize(
    ("use", "land_use"),
    [
        ("Sports Ground", "open_space"),  # not "Port"
        ("Support Facilities", "other"),  # not "Port"
        ("Business", "commercial"),  # not "Bus"
        ("Trailhead", "other"),  # not "Rail"
        ("Museum and a Cafe", "other"),  # "a" is not the abbreviation A (Amenity Area)
        ("Block B Offices", "commercial"),  # by "Office", not by the abbreviation B
        ("Rd", "other"),  # not "R&D": the ampersand counts
    ],
)
def test_keywords_still_match_whole_words_only(use: str, land_use: str) -> None:
    assert classify_zone(["OU"], specified_use=[use]).tolist() == [land_use]


# Keywords of TPB wordings and the class each must keep however its words are run together
# or split (the text after a keyword stays a separate word).
_PHRASES = [
    (("Boundary", "Crossing"), "transport"),
    (("Business", "and", "Technology", "Park"), "commercial"),
    (("Sewage", "Treatment"), "other"),
    (("Port", "Back", "up"), "industrial"),
    (("Amenity", "Area"), "open_space"),
    (("Wetland", "Conservation", "Park"), "conservation"),
    (("Petrol", "Filling", "Station"), "other"),
    (("Industrial", "Estate"), "industrial"),
    (("Railway", "Station"), "transport"),
    (("Public", "Transport", "Interchange"), "transport"),
    (("Innovation", "and", "Technology"), "commercial"),
    (("Flood", "Balancing", "Reservoir"), "other"),
]
_SEPARATOR = st.sampled_from(
    ["", " ", "   ", "-", "_", ".", "/", ", ", " - ", "\t", "\u3000", "\u2013"]
)


@settings(max_examples=300, deadline=None)
@given(
    phrase=st.sampled_from(_PHRASES),
    separators=st.lists(_SEPARATOR, min_size=3, max_size=3),
    upper=st.lists(st.booleans(), min_size=60, max_size=60),  # longer than any text
    suffix=st.sampled_from(["", " Facilities", " Works", " (1)", " - Uses"]),
)
def test_case_spaces_and_punctuation_never_change_the_class_of_a_tpb_wording(
    phrase: tuple[tuple[str, ...], str], separators: list[str], upper: list[bool], suffix: str
) -> None:
    words, land_use = phrase
    text = words[0]
    for separator, word in zip(separators, words[1:], strict=False):
        text += separator + word
    text = "".join(
        ch.upper() if flip else ch.lower() for ch, flip in zip(text, upper, strict=False)
    )
    assert classify_zone(["OU"], specified_use=[text + suffix]).tolist() == [land_use]


def test_keys_equal_but_for_case_spaces_and_punctuation_are_duplicates() -> None:
    table = pd.DataFrame(
        {
            "kind": ["family", "ou_use", "ou_use"],
            "key": ["OU", "Fish Pond", "FISHPOND"],
            "land_use": ["other", "agriculture", "agriculture"],
        }
    )
    with pytest.raises(VocabularyError, match="row 2 repeats"):
        classify_zone(["C"], mapping=table)


def test_a_keyword_of_punctuation_only_is_rejected() -> None:
    table = pd.DataFrame(
        {"kind": ["family", "ou_use"], "key": ["OU", " - / "], "land_use": ["other", "other"]}
    )
    with pytest.raises(VocabularyError, match="row 1.*no letter or digit"):
        classify_zone(["C"], mapping=table)


def test_the_bundled_vocabulary_has_no_keywords_that_differ_only_in_spacing() -> None:
    table = vocabulary()
    uses = table.loc[table["kind"] == "ou_use", "key"].str.casefold()
    squashed = uses.str.replace(r"[^0-9a-z&]+", "", regex=True)
    assert not squashed.duplicated().any()


# --- classify_zone: development over transport -------------------------------------------------


@pytest.mark.parametrize(
    ("use", "land_use"),
    [
        # the development on top decides
        ("Commercial/Residential Development with Public Transport Interchange", "mixed_use"),
        ("Commercial/Residential Development with PTI (1)", "mixed_use"),
        ("Railway Station with Commercial Development", "commercial"),
        ("Public Transport Interchange with Commercial Development", "commercial"),
        ("Commercial Development with Public Transport Interchange", "commercial"),
        ("Transport Interchange with Commercial Uses Above", "commercial"),
        ("Public Transport Interchange cum Mixed Use Development", "mixed_use"),
        ("Railway Depot with Residential Development Above", "residential"),
        ("Business Park with Bus Terminus", "commercial"),
        ("Business and Technology Park", "commercial"),
        # a transport facility alone, or with other transport, stays transport
        ("Railway Station", "transport"),
        ("Public Transport Interchange", "transport"),
        ("Railway Station and Public Transport Interchange", "transport"),
        ("Bus Depot", "transport"),
        ("Boundary Crossing Facilities", "transport"),
        # only a development overrules transport, and only transport is overruled
        ("Railway with Amenity Area", "open_space"),
        ("Petrol Filling Station with Commercial Uses", "other"),
    ],
)
def test_the_development_decides_over_the_transport_facility_it_carries(
    use: str, land_use: str
) -> None:
    assert classify_zone(["OU"], specified_use=[use]).tolist() == [land_use]
    assert classify_zone([f"OU({use})"]).tolist() == [land_use]


def test_development_over_transport_does_not_depend_on_keyword_length() -> None:
    table = pd.DataFrame(
        {
            "kind": ["family", "ou_use", "ou_use", "ou_use"],
            "key": ["OU", "Railway Station Complex", "Shop", "Tree"],
            "land_use": ["other", "transport", "commercial", "open_space"],
        }
    )
    result = classify_zone(
        ["OU(Railway Station Complex with Shops)", "OU(Railway Station Complex with Trees)"],
        mapping=table,
    )
    assert result.tolist() == ["commercial", "transport"]


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


def test_unknown_labels_are_reported_with_their_area_when_given(zoning_log) -> None:
    labels = ["XYZ", "C", "XYZ", "QQ(1)", None, "qq (1)"]
    areas = [10_000.0, 5.0, 25_000.0, 150_000.0, 2_000.0, 30_000.0]
    result = classify_zone(labels, area_m2=areas)
    assert result.tolist() == [UNKNOWN, "commercial", UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN]
    (record,) = _records(zoning_log)
    message = record.getMessage()
    assert "'QQ(1)' (2, 18.00 ha)" in message  # 150,000 + 30,000 m2
    assert "'XYZ' (2, 3.50 ha)" in message  # 10,000 + 25,000 m2
    assert "<null> (1, 0.20 ha)" in message
    assert "5 row(s) covering 21.70 ha" in message
    assert message.index("'QQ(1)'") < message.index("'XYZ'") < message.index("<null>")


def test_the_largest_unknown_area_is_listed_first_even_if_rare(zoning_log) -> None:
    labels = ["RARE", "COMMON", "COMMON", "COMMON"]
    classify_zone(labels, area_m2=pd.Series([90_000.0, 100.0, 100.0, 100.0], index=[9, 8, 7, 6]))
    (record,) = _records(zoning_log)
    message = record.getMessage()
    assert "'RARE' (1, 9.00 ha)" in message and "'COMMON' (3, 0.03 ha)" in message
    assert message.index("'RARE'") < message.index("'COMMON'")


def test_unknown_labels_without_a_known_area_say_so(zoning_log) -> None:
    classify_zone(["XYZ", "XYZ", "QQ"], area_m2=[None, np.nan, 5_000.0])
    (record,) = _records(zoning_log)
    message = record.getMessage()
    assert "'QQ' (1, 0.50 ha)" in message
    assert "'XYZ' (2, area unknown)" in message


def test_area_does_not_change_the_classes() -> None:
    labels = ["C", "OU", "XYZ", "OU(A)"]
    uses = [None, "Business", None, None]
    plain = classify_zone(labels, specified_use=uses)
    with_area = classify_zone(labels, specified_use=uses, area_m2=[1.0, 2.0, 3.0, 4.0])
    assert with_area.equals(plain)


@pytest.mark.parametrize(
    ("areas", "match"),
    [
        ([1.0], "one area"),
        ([1.0, "big"], "numbers"),
        ([1.0, -5.0], "negative"),
    ],
)
def test_bad_areas_are_input_errors(areas: list[object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        classify_zone(["C", "XYZ"], area_m2=areas)


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
