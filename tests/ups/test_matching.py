"""C-FIND matching (PS3.4 C.2.2.2; digest UPS-32, UPS-70..UPS-74, edge case 21).

The expected results are written out by hand from the digest, one row per rule; hypothesis
checks the properties every matcher must have.
"""

from __future__ import annotations

import copy
import string
import warnings
from datetime import datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from aioups._uids import UPS_PUSH
from aioups.dimse import DataElement, Dataset, Status, tag_for_keyword
from aioups.ups._matching import (
    UNABLE_TO_PROCESS,
    IdentifierProblem,
    MatchOptions,
    check_identifier,
    compile_query,
    matches,
    response_identifier,
)

UPS_UID = "1.2.826.0.1.3680043.2.1.1"
TUID = "1.2.3.4.5.6"
A900 = Status.IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS


def tag(keyword: str) -> int:
    found = tag_for_keyword(keyword)
    assert found is not None, keyword
    return found


def item(**values: object) -> Dataset:
    data_set = Dataset()
    for keyword, value in values.items():
        setattr(data_set, keyword, value)
    return data_set


def code(value: str, scheme: str, meaning: str) -> Dataset:
    return item(CodeValue=value, CodingSchemeDesignator=scheme, CodeMeaning=meaning)


def lenient(**values: object) -> Dataset:
    """A data set holding values pydicom would warn about (invalid keys are the point)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return item(**values)


def workitem() -> Dataset:
    return item(
        SOPClassUID=UPS_PUSH, SOPInstanceUID=UPS_UID, TransactionUID=TUID,
        ProcedureStepState="SCHEDULED", ScheduledProcedureStepPriority="HIGH",
        ProcedureStepLabel="CT Head review", WorklistLabel="Neuro", InputReadinessState="READY",
        PatientName="Doe^John", PatientID="PID-001", PatientBirthDate="19700315",
        PatientBirthTime="101500", PatientSex="M",
        ScheduledProcedureStepStartDateTime="20240105103000",
        ExpectedCompletionDateTime="20240105120000+0100",
        StudyInstanceUID="1.2.3.100", CommentsOnTheScheduledProcedureStep="",
        OtherPatientIDsSequence=[],
        ScheduledStationNameCodeSequence=[code("CT1", "99LOCAL", "CT scanner 1"),
                                          code("CT2", "99LOCAL", "CT scanner 2")],
        ScheduledWorkitemCodeSequence=[code("110005", "DCM", "Interpretation")],
        ReferencedRequestSequence=[
            item(AccessionNumber="A1", RequestedProcedureID="RP1",
                 IssuerOfAccessionNumberSequence=[item(LocalNamespaceEntityID="CLINIC")]),
            item(AccessionNumber="A2", RequestedProcedureID="RP2",
                 IssuerOfAccessionNumberSequence=[item(LocalNamespaceEntityID="HOSP")]),
        ],
        ScheduledHumanPerformersSequence=[
            item(HumanPerformerCodeSequence=[code("U1", "99LOCAL", "Reader")],
                 HumanPerformerName="Smith^Ann")],
    )


def query(**values: object) -> Dataset:
    return lenient(**values)


# --- one key at a time ------------------------------------------------------------------------

SINGLE_KEY_CASES = [
    # single value (UPS-73): exact, case-sensitive, padding ignored
    ("cs-exact", "ProcedureStepState", "SCHEDULED", True),
    ("cs-case-sensitive", "ProcedureStepState", "scheduled", False),
    ("cs-other-value", "ProcedureStepState", "IN PROGRESS", False),
    ("cs-padding", "ProcedureStepState", " SCHEDULED ", True),
    ("lo-exact", "PatientID", "PID-001", True),
    ("lo-prefix-is-not-a-match", "PatientID", "PID-00", False),
    ("pn-exact", "PatientName", "Doe^John", True),
    ("pn-case-insensitive", "PatientName", "DOE^JOHN", True),
    ("pn-trailing-components", "PatientName", "Doe^John^^^", True),
    ("pn-other", "PatientName", "Doe^Jane", False),
    ("pn-family-only", "PatientName", "Doe", False),
    # wildcard
    ("pn-star-suffix", "PatientName", "Doe*", True),
    ("pn-star-prefix", "PatientName", "*John", True),
    ("pn-question-and-star", "PatientName", "D?e^J*", True),
    ("pn-question-is-one-char", "PatientName", "?oe", False),
    ("pn-wildcard-case-insensitive", "PatientName", "doe^j*", True),
    ("star-alone", "PatientName", "*", True),
    ("stars-alone", "ProcedureStepLabel", "***", True),
    ("lo-star", "ProcedureStepLabel", "CT*", True),
    ("lo-wildcard-case-sensitive", "ProcedureStepLabel", "ct*", False),
    ("lo-star-inside", "ProcedureStepLabel", "*Head*", True),
    ("lo-question-needs-a-char", "ProcedureStepLabel", "CT Head review?", False),
    ("lo-question-matches-space", "ProcedureStepLabel", "CT?Head*", True),
    ("regex-chars-are-literal", "ProcedureStepLabel", "CT.Head*", False),
    ("cs-wildcard", "InputReadinessState", "RE?DY", True),
    # list of UID
    ("uid-exact", "SOPInstanceUID", UPS_UID, True),
    ("uid-other", "SOPInstanceUID", "1.2.3", False),
    ("uid-list-hit", "SOPInstanceUID", ["9.9", UPS_UID], True),
    ("uid-list-miss", "SOPInstanceUID", ["9.9", "8.8"], False),
    ("uid-study", "StudyInstanceUID", "1.2.3.100", True),
    # several values in another VR: any one may match
    ("cs-multi-hit", "ScheduledProcedureStepPriority", ["LOW", "HIGH"], True),
    ("cs-multi-miss", "ScheduledProcedureStepPriority", ["LOW", "MEDIUM"], False),
    # universal
    ("universal-present", "PatientName", "", True),
    ("universal-empty-attribute", "CommentsOnTheScheduledProcedureStep", "", True),
    ("universal-absent-attribute", "AdmissionID", "", True),
    ("star-absent-attribute", "AdmissionID", "*", True),
    ("value-absent-attribute", "AdmissionID", "X", False),
    ("value-empty-attribute", "CommentsOnTheScheduledProcedureStep", "x", False),
    ("question-empty-attribute", "CommentsOnTheScheduledProcedureStep", "?*", False),
    # empty value matching ("" as a value)
    ("empty-value-empty", "CommentsOnTheScheduledProcedureStep", '""', True),
    ("empty-value-absent", "AdmissionID", '""', True),
    ("empty-value-present", "PatientName", '""', False),
    ("empty-value-dt-absent", "ScheduledProcedureStepExpirationDateTime", '""', True),
    ("empty-value-dt-present", "ScheduledProcedureStepStartDateTime", '""', False),
    # DT single value, by meaning and precision
    ("dt-exact", "ScheduledProcedureStepStartDateTime", "20240105103000", True),
    ("dt-minute", "ScheduledProcedureStepStartDateTime", "202401051030", True),
    ("dt-day", "ScheduledProcedureStepStartDateTime", "20240105", True),
    ("dt-year", "ScheduledProcedureStepStartDateTime", "2024", True),
    ("dt-fraction", "ScheduledProcedureStepStartDateTime", "20240105103000.000", True),
    ("dt-other-day", "ScheduledProcedureStepStartDateTime", "20240106", False),
    ("dt-other-second", "ScheduledProcedureStepStartDateTime", "20240105103001", False),
    # DT ranges
    ("dt-range", "ScheduledProcedureStepStartDateTime", "20240101-20240131", True),
    ("dt-range-to", "ScheduledProcedureStepStartDateTime", "-20240105", True),
    ("dt-range-from", "ScheduledProcedureStepStartDateTime", "20240105-", True),
    ("dt-range-from-later", "ScheduledProcedureStepStartDateTime", "20240106-", False),
    ("dt-range-to-earlier", "ScheduledProcedureStepStartDateTime", "-20240104", False),
    ("dt-range-from-next-second", "ScheduledProcedureStepStartDateTime", "20240105103001-",
     False),
    ("dt-range-degenerate", "ScheduledProcedureStepStartDateTime",
     "20240105103000-20240105103000", True),
    ("dt-range-years", "ScheduledProcedureStepStartDateTime", "2023-2024", True),
    ("dt-range-reversed", "ScheduledProcedureStepStartDateTime", "2025-2023", False),
    ("dt-multi-value", "ScheduledProcedureStepStartDateTime", ["20230101", "20240105"], True),
    # DT offsets: compared in UTC when both sides carry one, as wall clocks otherwise
    ("dt-offset-same-instant", "ExpectedCompletionDateTime", "20240105110000+0000", True),
    ("dt-offset-same-wall-clock", "ExpectedCompletionDateTime", "20240105120000+0000", False),
    ("dt-offset-key-without", "ExpectedCompletionDateTime", "20240105120000", True),
    ("dt-offset-range", "ExpectedCompletionDateTime",
     "20240105100000+0000-20240105113000+0000", True),
    ("dt-offset-range-miss", "ExpectedCompletionDateTime",
     "20240105113000+0000-20240105120000+0000", False),
    ("dt-negative-offset-single", "ExpectedCompletionDateTime", "20240105060000-0500", True),
    # DA and TM
    ("da-exact", "PatientBirthDate", "19700315", True),
    ("da-range", "PatientBirthDate", "19700301-19700331", True),
    ("da-range-to", "PatientBirthDate", "-19691231", False),
    ("tm-by-meaning", "PatientBirthTime", "1015", True),
    ("tm-hour", "PatientBirthTime", "10", True),
    ("tm-other-minute", "PatientBirthTime", "1016", False),
    ("tm-range", "PatientBirthTime", "1000-1100", True),
    ("tm-range-from", "PatientBirthTime", "1100-", False),
    # invalid keys match nothing (check_identifier rejects them first)
    ("da-invalid", "PatientBirthDate", "1970-03-15", False),
    ("tm-crossing-midnight", "PatientBirthTime", "2200-0200", False),
    # never matched (UPS-32, UPS-70)
    ("tuid-right-is-ignored", "TransactionUID", TUID, True),
    ("tuid-wrong-is-ignored", "TransactionUID", "9.9.9", True),
    ("charset-is-not-a-key", "SpecificCharacterSet", "ISO_IR 100", True),
]


@pytest.mark.parametrize(("keyword", "value", "expected"),
                         [pytest.param(*case[1:], id=case[0]) for case in SINGLE_KEY_CASES])
def test_matches_single_key(keyword: str, value: object, expected: bool) -> None:
    assert matches(query(**{keyword: value}), workitem()) is expected


def test_matches_pn_case_sensitive_when_configured() -> None:
    options = MatchOptions(person_name_case_insensitive=False)
    assert matches(query(PatientName="Doe^John"), workitem(), options=options)
    assert not matches(query(PatientName="DOE^JOHN"), workitem(), options=options)
    assert not matches(query(PatientName="doe*"), workitem(), options=options)


def test_matches_all_keys_must_match() -> None:
    assert matches(query(ProcedureStepState="SCHEDULED", PatientName="Doe*"), workitem())
    assert not matches(query(ProcedureStepState="SCHEDULED", PatientName="Roe*"), workitem())


def test_matches_empty_identifier_is_universal() -> None:
    assert compile_query(Dataset()).is_universal
    assert matches(Dataset(), Dataset())


def test_matches_ignores_private_and_group_length_elements() -> None:
    identifier = query(PatientName="Doe*")
    identifier.add(DataElement(0x00091010, "LO", "no"))
    identifier.add(DataElement(0x00100000, "UL", 99))
    assert matches(identifier, workitem())


def test_matches_numeric_single_value() -> None:
    candidate = item(NumberOfCopies=3)
    assert matches(item(NumberOfCopies=3), candidate)
    assert not matches(item(NumberOfCopies=4), candidate)
    assert matches(item(NumberOfCopies=None), candidate)


def test_matches_dt_uses_timezone_offset_from_utc_of_each_side() -> None:
    candidate = item(ScheduledProcedureStepStartDateTime="20240105103000",
                     TimezoneOffsetFromUTC="+0100")
    # 09:30 UTC: the key's own offset, then its Timezone Offset From UTC, make it comparable.
    assert matches(query(ScheduledProcedureStepStartDateTime="20240105093000+0000"), candidate)
    assert matches(query(ScheduledProcedureStepStartDateTime="20240105043000",
                         TimezoneOffsetFromUTC="-0500"), candidate)
    assert not matches(query(ScheduledProcedureStepStartDateTime="20240105103000+0000"),
                       candidate)


def test_matches_malformed_stored_values_match_nothing_but_universal() -> None:
    candidate = lenient(ScheduledProcedureStepStartDateTime="soon",
                        TimezoneOffsetFromUTC="bogus")
    assert not matches(query(ScheduledProcedureStepStartDateTime="2024-"), candidate)
    assert matches(query(ScheduledProcedureStepStartDateTime=""), candidate)


# --- sequences --------------------------------------------------------------------------------

SEQUENCE_CASES = [
    ("first-item", "ScheduledStationNameCodeSequence", item(CodeValue="CT1"), True),
    ("second-item-too", "ScheduledStationNameCodeSequence", item(CodeValue="CT2"), True),
    ("no-item", "ScheduledStationNameCodeSequence", item(CodeValue="CT3"), False),
    ("same-item", "ScheduledStationNameCodeSequence",
     item(CodeValue="CT2", CodingSchemeDesignator="99LOCAL"), True),
    ("same-item-mismatch", "ScheduledStationNameCodeSequence",
     item(CodeValue="CT1", CodingSchemeDesignator="DCM"), False),
    ("keys-across-items", "ScheduledStationNameCodeSequence",
     item(CodeValue="CT2", CodeMeaning="CT scanner 1"), False),
    ("wildcard-in-item", "ScheduledStationNameCodeSequence", item(CodeMeaning="*scanner 2"),
     True),
    ("universal-item", "ScheduledStationNameCodeSequence", item(CodeValue=""), True),
    ("universal-item-empty-sequence", "OtherPatientIDsSequence", item(PatientID=""), True),
    ("universal-item-absent-sequence", "ReplacedProcedureStepSequence",
     item(ReferencedSOPInstanceUID=""), True),
    ("empty-item", "ScheduledStationNameCodeSequence", Dataset(), True),
    ("value-on-empty-sequence", "OtherPatientIDsSequence", item(PatientID="X"), False),
    ("value-on-absent-sequence", "ReplacedProcedureStepSequence",
     item(ReferencedSOPInstanceUID="1.2"), False),
    ("nested-second-item", "ReferencedRequestSequence",
     item(IssuerOfAccessionNumberSequence=[item(LocalNamespaceEntityID="HOSP")]), True),
    ("nested-with-sibling", "ReferencedRequestSequence",
     item(AccessionNumber="A2",
          IssuerOfAccessionNumberSequence=[item(LocalNamespaceEntityID="HOSP")]), True),
    ("nested-wrong-sibling", "ReferencedRequestSequence",
     item(AccessionNumber="A1",
          IssuerOfAccessionNumberSequence=[item(LocalNamespaceEntityID="HOSP")]), False),
    ("performer-code", "ScheduledHumanPerformersSequence",
     item(HumanPerformerCodeSequence=[item(CodeValue="U1")], HumanPerformerName="smith*"),
     True),
]


@pytest.mark.parametrize(("keyword", "key_item", "expected"),
                         [pytest.param(*case[1:], id=case[0]) for case in SEQUENCE_CASES])
def test_matches_sequence_key(keyword: str, key_item: Dataset, expected: bool) -> None:
    assert matches(query(**{keyword: [key_item]}), workitem()) is expected


def test_matches_zero_item_sequence_key_is_universal() -> None:
    assert matches(query(ScheduledStationNameCodeSequence=[]), workitem())
    assert matches(query(ReplacedProcedureStepSequence=[]), workitem())


def test_matches_sequence_key_with_two_items_matches_nothing() -> None:
    identifier = query(ScheduledStationNameCodeSequence=[item(CodeValue="CT1"),
                                                         item(CodeValue="CT2")])
    assert not matches(identifier, workitem())


def test_matches_a_non_sequence_stored_value_against_a_sequence_key() -> None:
    candidate = Dataset()
    candidate.add(DataElement(tag("ScheduledStationNameCodeSequence"), "LO", "CT1"))
    assert not matches(query(ScheduledStationNameCodeSequence=[item(CodeValue="CT1")]),
                       candidate)


# --- combined date-time matching --------------------------------------------------------------

COMBINED = MatchOptions(combined_date_time=True)

COMBINED_CASES = [
    # (StudyDate, StudyTime) key vs. stored (StudyDate, StudyTime): combined, separate
    ("inside-by-datetime-only", ("20240705-20240707", "1000-1800"), ("20240706", "0800"),
     True, False),
    ("before-start", ("20240705-20240707", "1000-1800"), ("20240705", "0900"), False, False),
    ("after-end", ("20240705-20240707", "1000-1800"), ("20240707", "1900"), False, False),
    ("last-minute", ("20240705-20240707", "1000-1800"), ("20240707", "180059"), True, True),
    ("no-stored-time", ("20240705-20240707", "1000-1800"), ("20240706", None), True, False),
    ("single-date", ("20240705", "1000-1800"), ("20240705", "1200"), True, True),
    ("open-date", ("20240705-", "1000"), ("20250101", "0000"), True, False),
    ("open-time-end", ("20240705", "1000-"), ("20240705", "2359"), True, True),
    ("time-crosses-midnight", ("20240705-20240706", "2200-0200"), ("20240706", "0100"),
     True, False),
]


@pytest.mark.parametrize(("key", "stored", "combined", "separate"),
                         [pytest.param(*case[1:], id=case[0]) for case in COMBINED_CASES])
def test_matches_combined_date_time(key: tuple[str, str], stored: tuple[str, str | None],
                                    combined: bool, separate: bool) -> None:
    identifier = query(StudyDate=key[0], StudyTime=key[1])
    candidate = item(StudyDate=stored[0])
    if stored[1] is not None:
        candidate.StudyTime = stored[1]
    assert matches(identifier, candidate, options=COMBINED) is combined
    assert matches(identifier, candidate) is separate


def test_matches_combined_needs_both_keys() -> None:
    identifier = query(StudyDate="20240705", StudyTime="")
    assert matches(identifier, item(StudyDate="20240705", StudyTime="2300"), options=COMBINED)
    assert not matches(identifier, item(StudyDate="20240706"), options=COMBINED)


def test_matches_combined_without_stored_date() -> None:
    identifier = query(StudyDate="20240705", StudyTime="1000")
    assert not matches(identifier, item(StudyTime="1000"), options=COMBINED)


# --- check_identifier -------------------------------------------------------------------------

C000 = UNABLE_TO_PROCESS


def _group_zero() -> Dataset:
    identifier = query(PatientName="")
    identifier.add(DataElement(0x00000902, "LO", "command"))
    return identifier


CHECK_CASES = [
    ("valid", query(PatientName="Doe*", ScheduledProcedureStepStartDateTime="2024-"), None),
    ("tuid-is-ignored", query(TransactionUID=TUID), None),
    ("empty-timezone-is-tolerated", query(TimezoneOffsetFromUTC=""), None),
    ("two-items", query(ScheduledStationNameCodeSequence=[item(CodeValue="A"),
                                                          item(CodeValue="B")]),
     (A900, "ScheduledStationNameCodeSequence")),
    ("nested-two-items", query(ReferencedRequestSequence=[item(
        IssuerOfAccessionNumberSequence=[item(), item()])]),
     (A900, "IssuerOfAccessionNumberSequence")),
    ("command-element", _group_zero(), (A900, 0x00000902)),
    ("dt-invalid", query(ScheduledProcedureStepStartDateTime="2024-13-01"),
     (C000, "ScheduledProcedureStepStartDateTime")),
    ("dt-month-13", query(ScheduledProcedureStepStartDateTime="202413"),
     (C000, "ScheduledProcedureStepStartDateTime")),
    ("dt-dash-only", query(ScheduledProcedureStepStartDateTime="-"),
     (C000, "ScheduledProcedureStepStartDateTime")),
    ("dt-bad-offset", query(ScheduledProcedureStepStartDateTime="20240101+2500"),
     (C000, "ScheduledProcedureStepStartDateTime")),
    ("da-short", query(PatientBirthDate="2024011"), (C000, "PatientBirthDate")),
    ("da-feb-30", query(PatientBirthDate="20240230"), (C000, "PatientBirthDate")),
    ("tm-hour-25", query(PatientBirthTime="2500"), (C000, "PatientBirthTime")),
    ("tm-fraction-without-seconds", query(PatientBirthTime="1015.5"),
     (C000, "PatientBirthTime")),
    ("tm-crossing-midnight", query(PatientBirthTime="2200-0200"), (C000, "PatientBirthTime")),
    ("timezone-malformed", query(TimezoneOffsetFromUTC="+2500"),
     (C000, "TimezoneOffsetFromUTC")),
    ("nested-invalid-date", query(ScheduledProcedureStepStartDateTime="",
                                  ReferencedRequestSequence=[lenient(StudyDate="yesterday")]),
     (C000, "StudyDate")),
]


@pytest.mark.parametrize(("identifier", "expected"),
                         [pytest.param(*case[1:], id=case[0]) for case in CHECK_CASES])
def test_check_identifier(identifier: Dataset,
                          expected: tuple[Status, str | int] | None) -> None:
    problem = check_identifier(identifier)
    if expected is None:
        assert problem is None
        return
    status, offending = expected
    assert isinstance(problem, IdentifierProblem)
    assert problem.status == status
    assert problem.comment
    assert problem.offending_elements == (
        offending if isinstance(offending, int) else tag(offending),)


def test_check_identifier_c000_is_a_failure_status() -> None:
    assert int(UNABLE_TO_PROCESS) == 0xC000
    assert UNABLE_TO_PROCESS.category.value == "failure"


def test_check_identifier_combined_time_range_may_cross_midnight() -> None:
    identifier = query(StudyDate="20240705-20240706", StudyTime="2200-0200")
    assert check_identifier(identifier, options=COMBINED) is None
    assert check_identifier(identifier) is not None
    bad = query(StudyDate="20240705-20240706", StudyTime="-")
    assert check_identifier(bad, options=COMBINED) is not None


# --- response_identifier ----------------------------------------------------------------------


def test_response_identifier_holds_exactly_the_requested_keys() -> None:
    identifier = query(PatientName="Doe*", ProcedureStepState="", AdmissionID="",
                       SOPInstanceUID="", TransactionUID="")
    response = response_identifier(identifier, workitem())
    assert {int(element.tag) for element in response} == {
        tag("PatientName"), tag("ProcedureStepState"), tag("AdmissionID"),
        tag("SOPInstanceUID")}
    assert response.PatientName == "Doe^John"
    assert response.ProcedureStepState == "SCHEDULED"
    assert response["AdmissionID"].is_empty
    assert response.SOPInstanceUID == UPS_UID


def test_response_identifier_never_returns_transaction_uid() -> None:
    response = response_identifier(query(TransactionUID="", PatientID=""), workitem())
    assert tag("TransactionUID") not in response


def test_response_identifier_sop_class_is_always_push() -> None:
    stored = workitem()
    del stored.SOPClassUID
    assert response_identifier(query(SOPClassUID=""), stored).SOPClassUID == UPS_PUSH
    stored.SOPClassUID = "1.2.840.10008.5.1.4.34.6.3"
    assert response_identifier(query(SOPClassUID=""), stored).SOPClassUID == UPS_PUSH


def test_response_identifier_reduces_every_sequence_item_to_its_keys() -> None:
    identifier = query(ScheduledStationNameCodeSequence=[item(CodeValue="CT2", CodeMeaning="",
                                                              CodingSchemeVersion="")])
    returned = response_identifier(identifier, workitem()).ScheduledStationNameCodeSequence
    assert [entry.CodeMeaning for entry in returned] == ["CT scanner 1", "CT scanner 2"]
    assert [entry.CodeValue for entry in returned] == ["CT1", "CT2"]
    assert all("CodingSchemeDesignator" not in entry for entry in returned)
    assert all(entry["CodingSchemeVersion"].is_empty for entry in returned)


def test_response_identifier_nested_sequences() -> None:
    identifier = query(ReferencedRequestSequence=[item(
        IssuerOfAccessionNumberSequence=[item(LocalNamespaceEntityID="")])])
    returned = response_identifier(identifier, workitem()).ReferencedRequestSequence
    assert [entry.IssuerOfAccessionNumberSequence[0].LocalNamespaceEntityID
            for entry in returned] == ["CLINIC", "HOSP"]
    assert all("AccessionNumber" not in entry for entry in returned)


@pytest.mark.parametrize("key", [[], [Dataset()]], ids=["zero-items", "empty-item"])
def test_response_identifier_zero_length_sequence_key_returns_whole_sequence(
        key: list[Dataset]) -> None:
    response = response_identifier(query(ScheduledStationNameCodeSequence=key), workitem())
    assert response.ScheduledStationNameCodeSequence == workitem().ScheduledStationNameCodeSequence


@pytest.mark.parametrize("keyword", ["ReplacedProcedureStepSequence", "OtherPatientIDsSequence"])
def test_response_identifier_absent_or_empty_sequence(keyword: str) -> None:
    response = response_identifier(query(**{keyword: [item(PatientID="")]}), workitem())
    assert response[keyword].VR == "SQ"
    assert len(response[keyword].value) == 0


def test_response_identifier_is_a_copy() -> None:
    stored = workitem()
    response = response_identifier(query(ScheduledStationNameCodeSequence=[], PatientName=""),
                                   stored)
    response.ScheduledStationNameCodeSequence[0].CodeValue = "XX"
    response.PatientName = "Changed"
    assert stored.ScheduledStationNameCodeSequence[0].CodeValue == "CT1"
    assert stored.PatientName == "Doe^John"


def test_response_identifier_returns_every_value_of_a_multi_valued_attribute() -> None:
    stored = item(OtherPatientIDs=["A", "B", "C"])
    assert list(response_identifier(query(OtherPatientIDs="B"), stored).OtherPatientIDs) == [
        "A", "B", "C"]


def test_response_identifier_specific_character_set() -> None:
    stored = workitem()
    assert "SpecificCharacterSet" not in response_identifier(query(PatientName=""), stored)
    stored.SpecificCharacterSet = "ISO_IR 192"
    response = response_identifier(query(PatientName="", SpecificCharacterSet=""), stored)
    assert response.SpecificCharacterSet == "ISO_IR 192"


def test_response_identifier_timezone_only_with_temporal_values() -> None:
    stored = workitem()
    stored.TimezoneOffsetFromUTC = "+0100"
    assert "TimezoneOffsetFromUTC" not in response_identifier(query(PatientName=""), stored)
    response = response_identifier(query(ScheduledProcedureStepStartDateTime=""), stored)
    assert response.TimezoneOffsetFromUTC == "+0100"


def test_response_identifier_skips_foreign_and_private_keys() -> None:
    identifier = _group_zero()
    identifier.add(DataElement(0x00091010, "LO", ""))
    assert {int(e.tag) for e in response_identifier(identifier, workitem())} == {
        tag("PatientName")}


# --- properties -------------------------------------------------------------------------------

_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " -_.*?^", max_size=20)
_CS = st.text(alphabet=string.ascii_uppercase + string.digits + " _", min_size=1, max_size=16)
_PN = st.builds("^".join, st.lists(st.text(alphabet=string.ascii_letters + " ", max_size=10),
                                   min_size=1, max_size=5))
_UID = st.lists(st.integers(0, 10 ** 6), min_size=2, max_size=8).map(
    lambda parts: ".".join(map(str, parts)))
_MOMENTS = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1))
_DT_FORMATS = ("%Y", "%Y%m", "%Y%m%d", "%Y%m%d%H", "%Y%m%d%H%M", "%Y%m%d%H%M%S",
               "%Y%m%d%H%M%S.%f")
_OFFSETS = st.sampled_from(["", "+0000", "+0100", "-0500", "+1400", "-1200"])

#: keyword -> strategy of a valid stored value
_FIELDS = {
    "ProcedureStepLabel": _TEXT.filter(lambda text: text.strip() != '""'),
    "PatientID": _TEXT,
    "ProcedureStepState": _CS,
    "PatientName": _PN,
    "StudyInstanceUID": _UID,
    "ScheduledProcedureStepStartDateTime": st.builds(
        lambda moment, fmt, offset: moment.strftime(fmt) + offset, _MOMENTS,
        st.sampled_from(_DT_FORMATS), _OFFSETS),
    "PatientBirthDate": _MOMENTS.map(lambda moment: moment.strftime("%Y%m%d")),
    "PatientBirthTime": _MOMENTS.map(lambda moment: moment.strftime("%H%M%S")),
}


@st.composite
def candidates(draw: st.DrawFn) -> Dataset:
    stored = item(**{keyword: draw(strategy) for keyword, strategy in _FIELDS.items()
                     if draw(st.booleans())})
    codes = draw(st.lists(st.tuples(_CS, _TEXT), min_size=1, max_size=4))
    stored.ScheduledWorkitemCodeSequence = [item(CodeValue=value.strip() or "X",
                                                 CodeMeaning=meaning)
                                            for value, meaning in codes]
    stored.TransactionUID = draw(_UID)
    return stored


@given(candidates(), st.sets(st.sampled_from([*_FIELDS, "TransactionUID", "AdmissionID"])))
def test_property_universal_keys_match_everything(stored: Dataset, keywords: set[str]) -> None:
    identifier = query(**dict.fromkeys(keywords, ""))
    assert matches(identifier, stored)
    assert check_identifier(identifier) is None


@given(candidates(), st.data())
def test_property_keys_built_from_the_candidate_match_it(stored: Dataset,
                                                         data: st.DataObject) -> None:
    present = [element.keyword for element in stored if element.keyword != "TransactionUID"]
    chosen = data.draw(st.sets(st.sampled_from(present)))
    identifier = query(**{keyword: stored[keyword].value for keyword in chosen
                          if stored[keyword].VR != "SQ"})
    assert check_identifier(identifier) is None
    assert matches(identifier, stored)
    response = response_identifier(identifier, stored)
    assert {e.keyword for e in response} == {e.keyword for e in identifier}


@given(candidates(), st.data())
def test_property_sequence_key_from_any_item_matches(stored: Dataset,
                                                     data: st.DataObject) -> None:
    items = stored.ScheduledWorkitemCodeSequence
    chosen = data.draw(st.sampled_from(list(items)))
    identifier = query(ScheduledWorkitemCodeSequence=[copy.deepcopy(chosen)])
    assert matches(identifier, stored)
    shuffled = copy.deepcopy(stored)
    shuffled.ScheduledWorkitemCodeSequence = list(reversed(items))
    assert matches(identifier, shuffled)


@given(candidates(), st.sampled_from(["ProcedureStepLabel", "PatientID", "ProcedureStepState",
                                      "PatientName", "AdmissionID"]))
def test_property_star_matches_any_value(stored: Dataset, keyword: str) -> None:
    assert matches(query(**{keyword: "*"}), stored)


@given(st.sampled_from(["ProcedureStepLabel", "PatientName"]), _TEXT, st.data())
def test_property_wildcard_built_from_the_value_matches(keyword: str, value: str,
                                                        data: st.DataObject) -> None:
    value = value.strip()
    # a PN's trailing empty components carry no meaning ("Doe^" is "Doe")
    assume(value and value != '""' and not (keyword == "PatientName" and value.endswith("^")))
    stored = item(**{keyword: value})
    pattern = "".join(data.draw(st.sampled_from([char, "?", "*"])) for char in value)
    assert matches(query(**{keyword: pattern}), stored)


@given(_MOMENTS, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
       st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)), _OFFSETS)
def test_property_dt_range_containing_the_value_matches(moment: datetime, before: timedelta,
                                                        after: timedelta, offset: str) -> None:
    fmt = "%Y%m%d%H%M%S.%f"
    stored = item(ScheduledProcedureStepStartDateTime=moment.strftime(fmt) + offset)
    low, high = (moment - before).strftime(fmt), (moment + after).strftime(fmt)
    assert matches(query(ScheduledProcedureStepStartDateTime=f"{low}{offset}-{high}{offset}"),
                   stored)
    assert matches(query(ScheduledProcedureStepStartDateTime=f"{low}{offset}-"), stored)
    assert matches(query(ScheduledProcedureStepStartDateTime=f"-{high}{offset}"), stored)
    later = (moment + after + timedelta(microseconds=1)).strftime(fmt)
    assert not matches(query(ScheduledProcedureStepStartDateTime=f"{later}{offset}-"), stored)


@given(_MOMENTS, st.sampled_from(_DT_FORMATS))
def test_property_dt_single_value_matches_its_own_precision(moment: datetime, fmt: str) -> None:
    stored = item(ScheduledProcedureStepStartDateTime=moment.strftime("%Y%m%d%H%M%S.%f"))
    assert matches(query(ScheduledProcedureStepStartDateTime=moment.strftime(fmt)), stored)


@given(_MOMENTS, _MOMENTS)
def test_property_da_range_agrees_with_date_order(stored_at: datetime, bound: datetime) -> None:
    stored = item(PatientBirthDate=stored_at.strftime("%Y%m%d"))
    key = bound.strftime("%Y%m%d")
    assert matches(query(PatientBirthDate=f"{key}-"), stored) is (bound.date() <= stored_at.date())
    assert matches(query(PatientBirthDate=f"-{key}"), stored) is (stored_at.date() <= bound.date())


@given(st.lists(_UID, min_size=1, max_size=5), _UID)
def test_property_uid_list_matches_iff_listed(uids: list[str], stored_uid: str) -> None:
    stored = item(StudyInstanceUID=stored_uid)
    assert matches(query(StudyInstanceUID=uids), stored) is (stored_uid in uids)


@given(candidates(), candidates())
def test_property_compiled_query_agrees_with_matches(first: Dataset, second: Dataset) -> None:
    identifier = query(**{element.keyword: element.value for element in first
                          if element.VR != "SQ" and element.keyword != "TransactionUID"})
    compiled = compile_query(identifier)
    assert compiled.matches(second) is matches(identifier, second)
    assert compiled.matches(first)
