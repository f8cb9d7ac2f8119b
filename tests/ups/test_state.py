"""PS3.4 Table CC.1.1-2 cell by cell, and the Change State / Request Cancel N-ACTIONs.

The grid below is transcribed from the requirements digest (§4.2, UPS-11) on its own, not
imported from ``aioups.ups._state``.  A cell is a status (``C307``) or what happens:
``create``, ``claim`` (record the UID, go IN PROGRESS, report), ``finish`` (final-state check,
go to the requested state, report), ``scp-cancel`` (SCP goes IN PROGRESS then CANCELED, two
reports) or ``notify`` (UPS Cancel Requested, state unchanged).
"""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioups.dimse import Dataset, Status
from aioups.ups._actions import change_state, request_cancel
from aioups.ups._events import EventTypeID
from aioups.ups._state import (
    STATE_TABLE,
    PerformerResponse,
    StateAction,
    StateEvent,
    UPSState,
    change_state_event,
    decide_change_state,
    decide_create,
    decide_request_cancel,
    transaction_uid_ok,
)
from aioups.ups._workitem import Workitem, apply_n_set

from .factories import (
    LATER,
    NOW,
    OTHER_TUID,
    TUID,
    UPS_UID,
    action,
    claimed,
    code,
    created,
    performed_sequence,
    ready_to_complete,
)

GRID = """
                  | none    | SCHEDULED  | IN PROGRESS | COMPLETED | CANCELED
N-CREATE          | create  | 0111       | 0111        | 0111      | 0111
IN PROGRESS ok    | C307    | claim      | C302        | C300      | C300
IN PROGRESS bad   | C307    | C301       | C301        | C301      | C301
SCHEDULED         | C307    | C303       | C303        | C303      | C303
COMPLETED ok      | C307    | C310       | finish      | B306      | C300
COMPLETED bad     | C307    | C301       | C301        | C301      | C301
CANCELED ok       | C307    | C310       | finish      | C300      | B304
CANCELED bad      | C307    | C301       | C301        | C301      | C301
Request Cancel    | C307    | scp-cancel | notify      | C311      | B304
"""

ROWS = {
    "N-CREATE": StateEvent.N_CREATE,
    "IN PROGRESS ok": StateEvent.IN_PROGRESS_TUID_OK,
    "IN PROGRESS bad": StateEvent.IN_PROGRESS_TUID_NOT_OK,
    "SCHEDULED": StateEvent.SCHEDULED,
    "COMPLETED ok": StateEvent.COMPLETED_TUID_OK,
    "COMPLETED bad": StateEvent.COMPLETED_TUID_NOT_OK,
    "CANCELED ok": StateEvent.CANCELED_TUID_OK,
    "CANCELED bad": StateEvent.CANCELED_TUID_NOT_OK,
    "Request Cancel": StateEvent.REQUEST_CANCEL,
}
COLUMNS: dict[str, UPSState | None] = {
    "none": None, "SCHEDULED": UPSState.SCHEDULED, "IN PROGRESS": UPSState.IN_PROGRESS,
    "COMPLETED": UPSState.COMPLETED, "CANCELED": UPSState.CANCELED,
}
ACTIONS = {
    "create": StateAction.CREATE, "claim": StateAction.CLAIM, "finish": StateAction.FINISH,
    "scp-cancel": StateAction.SCP_CANCEL, "notify": StateAction.NOTIFY_CANCEL_REQUESTED,
}


def _parse_grid() -> dict[tuple[StateEvent, UPSState | None], str]:
    lines = GRID.strip().splitlines()
    header = [cell.strip() for cell in lines[0].split("|")[1:]]
    cells = {}
    for line in lines[1:]:
        label, *row = (cell.strip() for cell in line.split("|"))
        for column, text in zip(header, row, strict=True):
            cells[(ROWS[label], COLUMNS[column])] = text
    return cells


EXPECTED = _parse_grid()
CELL_IDS = [f"{event.name}-{state or 'none'}" for event, state in EXPECTED]


def test_grid_covers_every_cell() -> None:
    assert len(EXPECTED) == len(StateEvent) * (len(UPSState) + 1) == 45
    assert set(STATE_TABLE) == set(EXPECTED)


@pytest.mark.parametrize(("key", "text"), list(EXPECTED.items()), ids=CELL_IDS)
def test_state_table_cell(key: tuple[StateEvent, UPSState | None], text: str) -> None:
    cell = STATE_TABLE[key]
    if text in ACTIONS:
        assert cell.action is ACTIONS[text]
        assert cell.status is Status.SUCCESS
    else:
        assert cell.action is StateAction.REFUSE
        assert cell.status == int(text, 16)


def test_ups_state_values_are_the_standard_spelling() -> None:
    assert [state.value for state in UPSState] == [
        "SCHEDULED", "IN PROGRESS", "COMPLETED", "CANCELED"]
    assert [state for state in UPSState if state.is_final] == [
        UPSState.COMPLETED, UPSState.CANCELED]


# --- the Transaction UID rule --------------------------------------------------------------


@pytest.mark.parametrize(("state", "stored", "supplied", "ok"), [
    (UPSState.SCHEDULED, None, TUID, True),          # any non-empty UID claims it
    (UPSState.SCHEDULED, None, "", False),
    (UPSState.SCHEDULED, None, None, False),
    (UPSState.IN_PROGRESS, TUID, TUID, True),
    (UPSState.IN_PROGRESS, TUID, OTHER_TUID, False),
    (UPSState.IN_PROGRESS, TUID, None, False),
    (UPSState.COMPLETED, TUID, TUID, True),          # kept after a final state (UPS-12)
    (UPSState.CANCELED, TUID, OTHER_TUID, False),
    (UPSState.CANCELED, None, TUID, False),
    (None, None, TUID, False),
])
def test_transaction_uid_ok(state: UPSState | None, stored: str | None, supplied: str | None,
                            ok: bool) -> None:
    assert transaction_uid_ok(state, stored, supplied) is ok


# --- every change-state cell through decide_change_state -----------------------------------

_REQUESTED = {
    StateEvent.IN_PROGRESS_TUID_OK: (UPSState.IN_PROGRESS, True),
    StateEvent.IN_PROGRESS_TUID_NOT_OK: (UPSState.IN_PROGRESS, False),
    StateEvent.SCHEDULED: (UPSState.SCHEDULED, True),
    StateEvent.COMPLETED_TUID_OK: (UPSState.COMPLETED, True),
    StateEvent.COMPLETED_TUID_NOT_OK: (UPSState.COMPLETED, False),
    StateEvent.CANCELED_TUID_OK: (UPSState.CANCELED, True),
    StateEvent.CANCELED_TUID_NOT_OK: (UPSState.CANCELED, False),
}
CHANGE_CELLS = [(key, text) for key, text in EXPECTED.items() if key[0] in _REQUESTED]


def _uids(state: UPSState | None, ok: bool) -> tuple[str | None, str | None]:
    """(stored, supplied) making the request's Transaction UID correct or not."""
    stored = TUID if state not in (None, UPSState.SCHEDULED) else None
    if ok:
        return stored, TUID
    return stored, (None if state is UPSState.SCHEDULED else OTHER_TUID)


@pytest.mark.parametrize(("key", "text"), CHANGE_CELLS,
                         ids=[f"{e.name}-{s or 'none'}" for (e, s), _ in CHANGE_CELLS])
def test_decide_change_state_cell(key: tuple[StateEvent, UPSState | None], text: str) -> None:
    event, state = key
    requested, ok = _REQUESTED[event]
    stored, supplied = _uids(state, ok)
    if state is not None:  # for a missing instance no UID is "ok"; both rows say C307
        assert change_state_event(requested, transaction_uid_ok(state, stored, supplied)) is event
    decision = decide_change_state(state, stored, requested, supplied)
    if text == "claim":
        assert (decision.status, decision.state, decision.transaction_uid, decision.reports) == (
            Status.SUCCESS, UPSState.IN_PROGRESS, supplied, (UPSState.IN_PROGRESS,))
    elif text == "finish":
        assert (decision.status, decision.state, decision.transaction_uid, decision.reports) == (
            Status.SUCCESS, requested, stored, (requested,))
        blocked = decide_change_state(state, stored, requested, supplied, unmet=("X>Y",))
        assert (blocked.status, blocked.state, blocked.reports, blocked.unmet) == (
            Status.UPS_FINAL_STATE_REQUIREMENTS_NOT_MET, state, (), ("X>Y",))
    else:
        assert decision.status == int(text, 16)
        assert (decision.state, decision.transaction_uid, decision.changed) == (
            state, stored, False)


@pytest.mark.parametrize(("state", "expected"), [
    (None, Status.SUCCESS), (UPSState.SCHEDULED, Status.DUPLICATE_SOP_INSTANCE),
    (UPSState.IN_PROGRESS, Status.DUPLICATE_SOP_INSTANCE),
    (UPSState.COMPLETED, Status.DUPLICATE_SOP_INSTANCE),
    (UPSState.CANCELED, Status.DUPLICATE_SOP_INSTANCE),
])
def test_decide_create(state: UPSState | None, expected: Status) -> None:
    decision = decide_create(state)
    assert decision.status is expected
    if state is None:
        assert (decision.state, decision.transaction_uid) == (UPSState.SCHEDULED, None)


def _fixed_uid() -> str:
    return "2.25.1"


@pytest.mark.parametrize(("state", "performer", "status", "after", "reports", "notify"), [
    (None, PerformerResponse.NOTIFY, Status.UPS_DOES_NOT_EXIST, None, (), False),
    (UPSState.SCHEDULED, PerformerResponse.NOTIFY, Status.SUCCESS, UPSState.CANCELED,
     (UPSState.IN_PROGRESS, UPSState.CANCELED), True),
    (UPSState.IN_PROGRESS, PerformerResponse.NOTIFY, Status.SUCCESS, UPSState.IN_PROGRESS,
     (), True),
    (UPSState.IN_PROGRESS, PerformerResponse.UNREACHABLE,
     Status.UPS_PERFORMER_CANNOT_BE_CONTACTED, UPSState.IN_PROGRESS, (), False),
    (UPSState.IN_PROGRESS, PerformerResponse.DECLINED,
     Status.UPS_PERFORMER_CHOOSES_NOT_TO_CANCEL, UPSState.IN_PROGRESS, (), False),
    (UPSState.IN_PROGRESS, PerformerResponse.SCP_CANCELS, Status.SUCCESS, UPSState.CANCELED,
     (UPSState.CANCELED,), True),
    (UPSState.COMPLETED, PerformerResponse.NOTIFY, Status.UPS_ALREADY_COMPLETED_CANNOT_CANCEL,
     UPSState.COMPLETED, (), False),
    (UPSState.CANCELED, PerformerResponse.NOTIFY, Status.UPS_ALREADY_CANCELED,
     UPSState.CANCELED, (), False),
])
def test_decide_request_cancel(state: UPSState | None, performer: PerformerResponse,
                               status: Status, after: UPSState | None,
                               reports: tuple[UPSState, ...], notify: bool) -> None:
    stored = TUID if state not in (None, UPSState.SCHEDULED) else None
    decision = decide_request_cancel(state, stored, performer=performer, new_uid=_fixed_uid)
    assert (decision.status, decision.state, decision.reports, decision.cancel_requested) == (
        status, after, reports, notify)
    # The SCP claims a SCHEDULED UPS with a UID of its own; otherwise the lock is unchanged.
    assert decision.transaction_uid == ("2.25.1" if state is UPSState.SCHEDULED else stored)


# --- invariants over every input -----------------------------------------------------------

_states = st.sampled_from([None, *UPSState])
_uids_or_none = st.sampled_from([None, "", TUID, OTHER_TUID])


@given(state=_states, stored=_uids_or_none, requested=st.sampled_from(list(UPSState)),
       supplied=_uids_or_none, unmet=st.sampled_from([(), ("A",)]))
def test_change_state_invariants(state: UPSState | None, stored: str | None,
                                 requested: UPSState, supplied: str | None,
                                 unmet: tuple[str, ...]) -> None:
    decision = decide_change_state(state, stored, requested, supplied, unmet=unmet)
    if decision.status is not Status.SUCCESS:
        # A refusal changes nothing, and only warnings or failures refuse.
        assert (decision.state, decision.transaction_uid, decision.reports) == (
            state, stored, ())
        return
    assert decision.reports == (requested,) and decision.state is requested
    assert requested is not UPSState.SCHEDULED            # only N-CREATE schedules (UPS-10)
    assert state is not None and not state.is_final       # final states are final
    assert supplied                                       # never without a UID (UPS-22)
    if requested is UPSState.IN_PROGRESS:
        assert (state, decision.transaction_uid) == (UPSState.SCHEDULED, supplied)
    else:
        assert (state, supplied, unmet) == (UPSState.IN_PROGRESS, stored, ())


def test_change_state_rows_hold_no_request_cancel_actions() -> None:
    for (event, _), cell in STATE_TABLE.items():
        if event in _REQUESTED:
            assert cell.action in (StateAction.REFUSE, StateAction.CLAIM, StateAction.FINISH)
        assert (cell.action is StateAction.REFUSE) == (cell.status is not Status.SUCCESS)


# --- Change UPS State on workitems (N-ACTION type 1) ----------------------------------------


def test_change_state_unknown_instance_is_c307() -> None:
    assert change_state(None, action("IN PROGRESS", TUID), now=NOW).status is (
        Status.UPS_DOES_NOT_EXIST)


def test_change_state_claim_records_the_uid_and_reports() -> None:
    outcome = change_state(created(), action("IN PROGRESS", TUID), now=NOW)
    assert outcome.status is Status.SUCCESS
    assert outcome.workitem is not None
    assert outcome.workitem.state is UPSState.IN_PROGRESS
    assert outcome.workitem.transaction_uid == TUID
    assert "TransactionUID" not in outcome.workitem.data_set
    [event] = outcome.events
    assert event.event_type_id is EventTypeID.UPS_STATE_REPORT
    assert event.event_information.ProcedureStepState == "IN PROGRESS"
    assert "TransactionUID" not in event.event_information


def test_second_claim_gets_c302_or_c301() -> None:
    # UPS-21: the second SCU gets C302 with the right UID (unlikely) and C301 otherwise.
    workitem = claimed()
    assert change_state(workitem, action("IN PROGRESS", TUID), now=NOW).status is (
        Status.UPS_ALREADY_IN_PROGRESS)
    assert change_state(workitem, action("IN PROGRESS", OTHER_TUID), now=NOW).status is (
        Status.UPS_TRANSACTION_UID_NOT_CORRECT)


@pytest.mark.parametrize("information", [
    action("IN PROGRESS"), action("IN PROGRESS", ""),
], ids=["absent", "empty"])
def test_change_state_without_transaction_uid_is_c301(information: Dataset) -> None:
    outcome = change_state(created(), information, now=NOW)
    assert outcome.status is Status.UPS_TRANSACTION_UID_NOT_CORRECT
    assert (outcome.workitem, outcome.events) == (None, ())


@pytest.mark.parametrize(("information", "status"), [
    (action(None, TUID), Status.NO_SUCH_ARGUMENT),
    (action("", TUID), Status.NO_SUCH_ARGUMENT),
    (action("DONE", TUID), Status.INVALID_ARGUMENT_VALUE),
    (action("in progress", TUID), Status.INVALID_ARGUMENT_VALUE),
    (action("IN PROGRESS", "not-a-uid"), Status.INVALID_ARGUMENT_VALUE),
    (action("IN PROGRESS", "1." + "2" * 70), Status.INVALID_ARGUMENT_VALUE),
], ids=["state-absent", "state-empty", "state-unknown", "state-lowercase", "uid-malformed",
        "uid-too-long"])
def test_change_state_argument_errors(information: Dataset, status: Status) -> None:
    outcome = change_state(created(), information, now=NOW)
    assert outcome.status is status
    assert outcome.workitem is None and outcome.offending_elements


def test_change_state_to_scheduled_is_c303() -> None:
    assert change_state(claimed(), action("SCHEDULED", TUID), now=NOW).status is (
        Status.UPS_MAY_ONLY_BECOME_SCHEDULED_VIA_N_CREATE)


@pytest.mark.parametrize("target", ["COMPLETED", "CANCELED"])
def test_finishing_a_scheduled_ups_is_c310(target: str) -> None:
    assert change_state(created(), action(target, TUID), now=NOW).status is (
        Status.UPS_NOT_IN_PROGRESS)


def test_complete_without_performed_attributes_is_c304_and_changes_nothing() -> None:
    workitem = claimed()
    outcome = change_state(workitem, action("COMPLETED", TUID), now=LATER)
    assert outcome.status is Status.UPS_FINAL_STATE_REQUIREMENTS_NOT_MET
    assert (outcome.workitem, outcome.events) == (None, ())
    assert outcome.offending_elements == (0x00741216,)
    assert outcome.error_comment is not None and len(outcome.error_comment) <= 64
    assert workitem.state is UPSState.IN_PROGRESS


def test_complete_when_requirements_are_met() -> None:
    outcome = change_state(ready_to_complete(), action("COMPLETED", TUID), now=LATER)
    assert outcome.status is Status.SUCCESS
    assert outcome.workitem is not None
    assert outcome.workitem.state is UPSState.COMPLETED
    assert outcome.workitem.transaction_uid == TUID      # kept after the final state (UPS-12)
    assert [e.event_information.ProcedureStepState for e in outcome.events] == ["COMPLETED"]


def test_cancel_with_two_n_actions_and_no_n_set() -> None:
    # PS3.4 CC.2.5.1.3.2 note / UPS-49: the SCP fills the X attributes in.
    outcome = change_state(claimed(), action("CANCELED", TUID), now=LATER)
    assert outcome.status is Status.SUCCESS
    assert outcome.workitem is not None
    [progress] = outcome.workitem.data_set.ProcedureStepProgressInformationSequence
    assert progress.ProcedureStepCancellationDateTime == "20240506090000.000000"
    [reason] = progress.ProcedureStepDiscontinuationReasonCodeSequence
    assert (reason.CodeValue, reason.CodingSchemeDesignator) == ("110513", "DCM")
    [report] = outcome.events
    assert report.event_information.ProcedureStepState == "CANCELED"
    assert report.event_information.ProcedureStepDiscontinuationReasonCodeSequence[0].CodeValue \
        == "110513"


def test_cancel_without_default_reason_is_c304() -> None:
    outcome = change_state(claimed(), action("CANCELED", TUID), now=LATER, default_reason=False)
    assert outcome.status is Status.UPS_FINAL_STATE_REQUIREMENTS_NOT_MET
    assert outcome.offending_elements == (0x00741002,)


def test_cancel_keeps_a_reason_and_date_time_set_by_the_performer() -> None:
    progress = Dataset()
    progress.ProcedureStepCancellationDateTime = "20240101000000"
    progress.ProcedureStepDiscontinuationReasonCodeSequence = [code("R1", "99X")]
    progress.ReasonForCancellation = "patient left"
    modifications = Dataset()
    modifications.TransactionUID = TUID
    modifications.ProcedureStepProgressInformationSequence = [progress]
    workitem = apply_n_set(claimed(), modifications, now=NOW).workitem
    outcome = change_state(workitem, action("CANCELED", TUID), now=LATER)
    assert outcome.workitem is not None
    [kept] = outcome.workitem.data_set.ProcedureStepProgressInformationSequence
    assert kept.ProcedureStepCancellationDateTime == "20240101000000"
    assert kept.ProcedureStepDiscontinuationReasonCodeSequence[0].CodeValue == "R1"
    [report] = outcome.events
    assert report.event_information.ReasonForCancellation == "patient left"


@pytest.mark.parametrize(("target", "warning"), [
    ("COMPLETED", Status.UPS_ALREADY_COMPLETED), ("CANCELED", Status.UPS_ALREADY_CANCELED)])
def test_repeating_the_final_state_with_the_uid_is_a_warning(target: str,
                                                             warning: Status) -> None:
    base = ready_to_complete() if target == "COMPLETED" else claimed()
    final = change_state(base, action(target, TUID), now=LATER).workitem
    assert final is not None
    outcome = change_state(final, action(target, TUID), now=LATER)
    assert (outcome.status, outcome.workitem, outcome.events) == (warning, None, ())
    # Edge case 22: without the right UID it is C301, not the warning.
    assert change_state(final, action(target, OTHER_TUID), now=LATER).status is (
        Status.UPS_TRANSACTION_UID_NOT_CORRECT)
    other = "CANCELED" if target == "COMPLETED" else "COMPLETED"
    assert change_state(final, action(other, TUID), now=LATER).status is (
        Status.UPS_MAY_NO_LONGER_BE_UPDATED)


# --- Request UPS Cancel (N-ACTION type 2) ---------------------------------------------------


def _cancel_request(**values: object) -> Dataset:
    information = Dataset()
    for keyword, value in values.items():
        setattr(information, keyword, value)
    return information


def test_request_cancel_of_a_scheduled_ups() -> None:
    information = _cancel_request(ReasonForCancellation="no longer needed",
                                  ProcedureStepDiscontinuationReasonCodeSequence=[code("R9")],
                                  ContactURI="tel:123", ContactDisplayName="Dr X")
    outcome = request_cancel(created(), information, requesting_ae=" CALLER ", now=LATER,
                             new_uid=_fixed_uid)
    assert outcome.status is Status.SUCCESS
    assert outcome.workitem is not None
    assert outcome.workitem.state is UPSState.CANCELED
    assert outcome.workitem.transaction_uid == "2.25.1"  # the SCP's own lock, never returned
    [progress] = outcome.workitem.data_set.ProcedureStepProgressInformationSequence
    assert progress.ReasonForCancellation == "no longer needed"
    assert progress.ProcedureStepDiscontinuationReasonCodeSequence[0].CodeValue == "R9"
    assert progress.ProcedureStepCancellationDateTime == "20240506090000.000000"
    kinds = [(e.event_type_id, e.event_information.get("ProcedureStepState"))
             for e in outcome.events]
    assert kinds == [(EventTypeID.UPS_CANCEL_REQUESTED, None),
                     (EventTypeID.UPS_STATE_REPORT, "IN PROGRESS"),
                     (EventTypeID.UPS_STATE_REPORT, "CANCELED")]
    requested = outcome.events[0].event_information
    assert (requested.RequestingAE, requested.ContactURI) == ("CALLER", "tel:123")
    # Nobody knows the SCP's UID: every Change State on it now gets C301.
    assert change_state(outcome.workitem, action("CANCELED", TUID), now=LATER).status is (
        Status.UPS_TRANSACTION_UID_NOT_CORRECT)


def test_request_cancel_of_a_scheduled_ups_without_reason_uses_the_default() -> None:
    outcome = request_cancel(created(), Dataset(), requesting_ae="A", now=LATER)
    assert outcome.workitem is not None
    [progress] = outcome.workitem.data_set.ProcedureStepProgressInformationSequence
    assert progress.ProcedureStepDiscontinuationReasonCodeSequence[0].CodeValue == "110513"
    assert "ReasonForCancellation" not in progress


def test_request_cancel_of_an_in_progress_ups_notifies() -> None:
    outcome = request_cancel(claimed(), _cancel_request(ReasonForCancellation="why"),
                             requesting_ae="A", now=LATER)
    assert (outcome.status, outcome.workitem) == (Status.SUCCESS, None)
    [event] = outcome.events
    assert event.event_type_id is EventTypeID.UPS_CANCEL_REQUESTED
    assert event.sop_instance_uid == UPS_UID
    assert (event.event_information.RequestingAE,
            event.event_information.ReasonForCancellation) == ("A", "why")


@pytest.mark.parametrize(("performer", "status"), [
    (PerformerResponse.UNREACHABLE, Status.UPS_PERFORMER_CANNOT_BE_CONTACTED),
    (PerformerResponse.DECLINED, Status.UPS_PERFORMER_CHOOSES_NOT_TO_CANCEL),
])
def test_request_cancel_refused_by_the_performer_side(performer: PerformerResponse,
                                                      status: Status) -> None:
    outcome = request_cancel(claimed(), Dataset(), requesting_ae="A", now=LATER,
                             performer=performer)
    assert (outcome.status, outcome.workitem, outcome.events) == (status, None, ())


def test_request_cancel_when_the_scp_is_the_performer() -> None:
    outcome = request_cancel(claimed(), Dataset(), requesting_ae="A", now=LATER,
                             performer=PerformerResponse.SCP_CANCELS)
    assert outcome.workitem is not None
    assert (outcome.workitem.state, outcome.workitem.transaction_uid) == (
        UPSState.CANCELED, TUID)
    assert [e.event_type_id for e in outcome.events] == [
        EventTypeID.UPS_CANCEL_REQUESTED, EventTypeID.UPS_STATE_REPORT]


def test_request_cancel_of_final_or_unknown_instances() -> None:
    completed = change_state(ready_to_complete(), action("COMPLETED", TUID), now=LATER).workitem
    canceled = change_state(claimed(), action("CANCELED", TUID), now=LATER).workitem
    for workitem, status in [(completed, Status.UPS_ALREADY_COMPLETED_CANNOT_CANCEL),
                             (canceled, Status.UPS_ALREADY_CANCELED),
                             (None, Status.UPS_DOES_NOT_EXIST)]:
        outcome = request_cancel(workitem, Dataset(), requesting_ae="A", now=LATER)
        assert (outcome.status, outcome.workitem, outcome.events) == (status, None, ())


def test_request_cancel_with_an_incomplete_reason_code_is_0115() -> None:
    incomplete = Dataset()
    incomplete.CodeValue = "X"
    outcome = request_cancel(created(), _cancel_request(
        ProcedureStepDiscontinuationReasonCodeSequence=[incomplete]), requesting_ae="A",
        now=LATER)
    assert outcome.status is Status.INVALID_ARGUMENT_VALUE
    assert outcome.offending_elements == (0x0074100E,)


def test_request_cancel_cannot_invent_required_attributes() -> None:
    # A workitem the SCP made itself without a priority: it cannot meet R (UPS-24).
    workitem = created()
    data_set = workitem.data_set.copy()
    del data_set.ScheduledProcedureStepPriority
    broken = Workitem(sop_instance_uid=UPS_UID, data_set=data_set)
    outcome = request_cancel(broken, Dataset(), requesting_ae="A", now=LATER)
    assert outcome.status is Status.PROCESSING_FAILURE
    assert outcome.workitem is None


@given(steps=st.lists(st.tuples(st.sampled_from(["IN PROGRESS", "COMPLETED", "CANCELED",
                                                 "SCHEDULED", "cancel"]),
                                st.sampled_from([TUID, OTHER_TUID, ""])), max_size=6))
def test_random_action_sequences_keep_the_workitem_consistent(
        steps: list[tuple[str, str]]) -> None:
    performed = Dataset()
    performed.UnifiedProcedureStepPerformedProcedureSequence = [performed_sequence()]
    workitem = apply_n_set(created(), performed, now=NOW).workitem
    assert workitem is not None
    lock: str | None = None
    for kind, uid in steps:
        if kind == "cancel":
            outcome = request_cancel(workitem, Dataset(), requesting_ae="A", now=LATER)
        else:
            outcome = change_state(workitem, action(kind, uid or None), now=LATER)
        if outcome.workitem is None:
            continue
        before, workitem = workitem, outcome.workitem
        assert not before.state.is_final                   # final states never move
        assert before.state is not workitem.state
        if before.state is UPSState.SCHEDULED and kind != "cancel":
            lock = uid                                     # the claim's UID is the lock
        if lock is not None and kind != "cancel":
            assert workitem.transaction_uid == lock
        assert all("TransactionUID" not in e.event_information for e in outcome.events)


def test_now_is_only_used_for_the_values_it_stamps() -> None:
    a = change_state(claimed(), action("CANCELED", TUID), now=datetime(2020, 1, 1))
    b = change_state(claimed(), action("CANCELED", TUID), now=datetime(2021, 1, 1))
    assert a.workitem is not None and b.workitem is not None
    for workitem in (a.workitem, b.workitem):
        del workitem.data_set.ProcedureStepProgressInformationSequence[0][0x00404052]
    assert a.workitem.data_set == b.workitem.data_set


def test_decisions_are_total_over_the_table() -> None:
    for state, requested in itertools.product([None, *UPSState], UPSState):
        for supplied in (None, "", TUID, OTHER_TUID):
            decide_change_state(state, TUID, requested, supplied)
