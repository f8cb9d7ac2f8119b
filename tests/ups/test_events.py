"""UPS event reports (digest §4.11, UPS-60 … UPS-62).

The allowed contents of each event type are transcribed from the digest's table (UPS-60) here,
not imported; Specific Character Set is allowed in all of them (it only says how to read text).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioups.dimse import Dataset
from aioups.ups._events import (
    EventTypeID,
    ListStatus,
    SCPStatus,
    UPSEvent,
    assigned,
    cancel_requested,
    events_for_change,
    progress_report,
    scp_status_change,
    state_report,
)

from .factories import TUID, UPS_UID, code, created, lenient

#: UPS-60: Event Type ID -> (required keywords, keywords that may also appear).
CONTENTS: dict[int, tuple[set[str], set[str]]] = {
    1: ({"ProcedureStepState", "InputReadinessState"},
        {"ReasonForCancellation", "ProcedureStepDiscontinuationReasonCodeSequence"}),
    2: ({"RequestingAE"},
        {"ReasonForCancellation", "ProcedureStepDiscontinuationReasonCodeSequence", "ContactURI",
         "ContactDisplayName"}),
    3: ({"ProcedureStepProgressInformationSequence"}, set()),
    4: ({"SCPStatus", "SubscriptionListStatus", "UnifiedProcedureStepListStatus"}, set()),
    5: (set(), {"ScheduledStationNameCodeSequence", "HumanPerformerCodeSequence",
                "HumanPerformerOrganization"}),
}
PROGRESS_ITEM = {"ProcedureStepProgress", "ProcedureStepProgressDescription",
                 "ProcedureStepProgressParametersSequence",
                 "ProcedureStepCommunicationsURISequence"}


def assert_contents(event: UPSEvent) -> None:
    required, optional = CONTENTS[event.event_type_id]
    keywords = set(event.event_information.dir()) - {"SpecificCharacterSet"}
    assert required <= keywords <= required | optional
    assert "TransactionUID" not in event.event_information  # UPS-32, edge case 21


def test_event_type_ids() -> None:
    assert [(e.name, e.value) for e in EventTypeID] == [
        ("UPS_STATE_REPORT", 1), ("UPS_CANCEL_REQUESTED", 2), ("UPS_PROGRESS_REPORT", 3),
        ("SCP_STATUS_CHANGE", 4), ("UPS_ASSIGNED", 5)]


def _ups(**values: object) -> Dataset:
    data_set = Dataset()
    data_set.ProcedureStepState = "SCHEDULED"
    data_set.InputReadinessState = "READY"
    data_set.TransactionUID = TUID  # must never be copied
    data_set.ProcedureStepLabel = "label"
    for keyword, value in values.items():
        data_set.add(lenient(keyword, value))
    return data_set


def _progress(**values: object) -> Dataset:
    item = Dataset()
    for keyword, value in values.items():
        item.add(lenient(keyword, value))
    return item


def test_state_report() -> None:
    event = state_report(UPS_UID, _ups())
    assert (event.event_type_id, event.sop_instance_uid) == (EventTypeID.UPS_STATE_REPORT,
                                                            UPS_UID)
    assert (event.event_information.ProcedureStepState,
            event.event_information.InputReadinessState) == ("SCHEDULED", "READY")
    assert_contents(event)
    assert "ReasonForCancellation" not in event.event_information


def test_state_report_of_a_canceled_ups_carries_the_reason() -> None:
    progress = _progress(ReasonForCancellation="why",
                         ProcedureStepDiscontinuationReasonCodeSequence=[code("R")],
                         ProcedureStepCancellationDateTime="20240101", ProcedureStepProgress="10")
    data_set = _ups(ProcedureStepProgressInformationSequence=[progress])
    data_set.ProcedureStepState = "CANCELED"
    event = state_report(UPS_UID, data_set)
    assert_contents(event)
    assert event.event_information.ReasonForCancellation == "why"
    assert event.event_information.ProcedureStepDiscontinuationReasonCodeSequence[0].CodeValue \
        == "R"
    # Only CANCELED reports carry the reason.
    data_set.ProcedureStepState = "IN PROGRESS"
    assert "ReasonForCancellation" not in state_report(UPS_UID, data_set).event_information


def test_state_report_copies_the_character_set() -> None:
    event = state_report(UPS_UID, _ups(SpecificCharacterSet="ISO_IR 100"))
    assert event.event_information.SpecificCharacterSet == "ISO_IR 100"


def test_cancel_requested_copies_what_the_request_carried() -> None:
    request = Dataset()
    request.ReasonForCancellation = "stop"
    request.ContactDisplayName = "Dr Who"
    request.TransactionUID = TUID
    request.ProcedureStepLabel = "not part of the event"
    event = cancel_requested(UPS_UID, "REQUESTER  ", request)
    assert_contents(event)
    assert event.event_information.RequestingAE == "REQUESTER"
    assert (event.event_information.ReasonForCancellation,
            event.event_information.ContactDisplayName) == ("stop", "Dr Who")
    assert "ContactURI" not in event.event_information


def test_progress_report_keeps_only_the_listed_attributes() -> None:
    uri = _progress(ContactURI="http://x", ContactDisplayName="X", ReasonForCancellation="no")
    progress = _progress(ProcedureStepProgress="50", ProcedureStepProgressDescription="half",
                         ProcedureStepCommunicationsURISequence=[uri],
                         ProcedureStepCancellationDateTime="20240101")
    event = progress_report(UPS_UID, _ups(ProcedureStepProgressInformationSequence=[progress]))
    assert_contents(event)
    [item] = event.event_information.ProcedureStepProgressInformationSequence
    assert set(item.dir()) <= PROGRESS_ITEM
    assert (item.ProcedureStepProgress, item.ProcedureStepProgressDescription) == (50, "half")
    [kept] = item.ProcedureStepCommunicationsURISequence
    assert set(kept.dir()) == {"ContactURI", "ContactDisplayName"}


def test_scp_status_change() -> None:
    event = scp_status_change("1.2.840.10008.5.1.4.34.5", scp_status=SCPStatus.RESTARTED,
                              subscription_list_status=ListStatus.WARM_START,
                              ups_list_status=ListStatus.COLD_START)
    assert_contents(event)
    information = event.event_information
    assert (information.SCPStatus, information.SubscriptionListStatus,
            information.UnifiedProcedureStepListStatus) == ("RESTARTED", "WARM START",
                                                            "COLD START")
    assert SCPStatus.GOING_DOWN.value == "GOING DOWN"


@pytest.mark.parametrize(("text", "status"), [
    ("COLD START", ListStatus.COLD_START), ("COLD STARTED", ListStatus.COLD_START),
    ("WARM START", ListStatus.WARM_START), ("WARM STARTED", ListStatus.WARM_START),
    (" cold started ", ListStatus.COLD_START)])
def test_list_status_accepts_both_spellings(text: str, status: ListStatus) -> None:
    assert ListStatus(text) is status


def test_list_status_rejects_other_values() -> None:
    with pytest.raises(ValueError, match="LUKEWARM"):
        ListStatus("LUKEWARM")


def _performer(value: str, organization: str) -> Dataset:
    item = Dataset()
    item.HumanPerformerCodeSequence = [code(value)]
    item.HumanPerformerName = "Doe"
    item.HumanPerformerOrganization = organization
    return item


def test_assigned_flattens_the_performers() -> None:
    data_set = _ups(ScheduledStationNameCodeSequence=[code("ST")],
                    ScheduledHumanPerformersSequence=[_performer("P1", ""),
                                                      _performer("P2", "Org2")])
    event = assigned(UPS_UID, data_set)
    assert_contents(event)
    information = event.event_information
    assert information.ScheduledStationNameCodeSequence[0].CodeValue == "ST"
    assert [c.CodeValue for c in information.HumanPerformerCodeSequence] == ["P1", "P2"]
    assert information.HumanPerformerOrganization == "Org2"


def test_assigned_leaves_out_what_is_not_populated() -> None:
    event = assigned(UPS_UID, _ups(ScheduledStationNameCodeSequence=[]))
    assert_contents(event)
    assert len(event.event_information) == 0


# --- which events a change produces --------------------------------------------------------


def _kinds(events: tuple[UPSEvent, ...]) -> list[EventTypeID]:
    for event in events:
        assert_contents(event)
        assert event.sop_instance_uid == UPS_UID
    return [event.event_type_id for event in events]


def test_creation_events() -> None:
    assert _kinds(events_for_change(UPS_UID, None, _ups())) == [EventTypeID.UPS_STATE_REPORT]
    with_station = _ups(ScheduledStationNameCodeSequence=[code("S")])
    assert _kinds(events_for_change(UPS_UID, None, with_station)) == [
        EventTypeID.UPS_STATE_REPORT, EventTypeID.UPS_ASSIGNED]


@pytest.mark.parametrize(("keyword", "value", "expected"), [
    ("ProcedureStepState", "IN PROGRESS", [EventTypeID.UPS_STATE_REPORT]),
    ("InputReadinessState", "INCOMPLETE", [EventTypeID.UPS_STATE_REPORT]),
    ("ScheduledStationNameCodeSequence", [code("S")], [EventTypeID.UPS_ASSIGNED]),
    ("ScheduledHumanPerformersSequence", [_performer("P", "O")], [EventTypeID.UPS_ASSIGNED]),
    ("ProcedureStepProgressInformationSequence", [_progress(ProcedureStepProgress="1")],
     [EventTypeID.UPS_PROGRESS_REPORT]),
    ("ProcedureStepProgressInformationSequence",
     [_progress(ProcedureStepCommunicationsURISequence=[_progress(ContactURI="tel:1")])],
     [EventTypeID.UPS_PROGRESS_REPORT]),
    ("ProcedureStepProgressInformationSequence",
     [_progress(ProcedureStepCancellationDateTime="20240101")], []),
    ("ProcedureStepLabel", "other", []),
    ("TransactionUID", "1.2.3", []),
])
def test_change_events(keyword: str, value: object, expected: list[EventTypeID]) -> None:
    old = _ups()
    new = _ups()
    new.add(lenient(keyword, value))
    assert _kinds(events_for_change(UPS_UID, old, new)) == expected


def test_several_changes_give_events_in_order() -> None:
    old = _ups()
    new = _ups(ScheduledStationNameCodeSequence=[code("S")],
               ProcedureStepProgressInformationSequence=[_progress(ProcedureStepProgress="5")])
    new.InputReadinessState = "INCOMPLETE"
    assert _kinds(events_for_change(UPS_UID, old, new)) == [
        EventTypeID.UPS_STATE_REPORT, EventTypeID.UPS_PROGRESS_REPORT, EventTypeID.UPS_ASSIGNED]


def test_no_change_no_event() -> None:
    assert events_for_change(UPS_UID, _ups(), _ups()) == ()


_KEYWORDS = ["ProcedureStepState", "InputReadinessState", "ScheduledStationNameCodeSequence",
             "ProcedureStepProgressInformationSequence", "ScheduledHumanPerformersSequence",
             "SpecificCharacterSet", "ProcedureStepLabel"]
_VALUES = {
    "ProcedureStepState": st.sampled_from(["SCHEDULED", "IN PROGRESS", "CANCELED", "COMPLETED"]),
    "InputReadinessState": st.sampled_from(["READY", "INCOMPLETE"]),
    "ScheduledStationNameCodeSequence": st.just([code("S")]),
    "ProcedureStepProgressInformationSequence": st.just([_progress(
        ProcedureStepProgress="3", ReasonForCancellation="r",
        ProcedureStepDiscontinuationReasonCodeSequence=[code("D")])]),
    "ScheduledHumanPerformersSequence": st.just([_performer("P", "O")]),
    "SpecificCharacterSet": st.just("ISO_IR 100"),
    "ProcedureStepLabel": st.just("x"),
}


@st.composite
def _data_sets(draw: st.DrawFn) -> Dataset:
    data_set = _ups()
    for keyword in draw(st.lists(st.sampled_from(_KEYWORDS), unique=True)):
        data_set.add(lenient(keyword, draw(_VALUES[keyword])))
    return data_set


@given(old=st.none() | _data_sets(), new=_data_sets())
def test_events_never_carry_the_transaction_uid_and_stick_to_the_table(
        old: Dataset | None, new: Dataset) -> None:
    for event in events_for_change(UPS_UID, old, new):
        assert_contents(event)


def test_events_for_change_on_real_workitems() -> None:
    workitem = created(ScheduledHumanPerformersSequence=[_performer("P", "O")])
    assert _kinds(events_for_change(UPS_UID, None, workitem.data_set)) == [
        EventTypeID.UPS_STATE_REPORT, EventTypeID.UPS_ASSIGNED]
