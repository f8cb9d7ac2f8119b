"""Workitems: N-CREATE, N-SET, N-GET and the attribute requirement tables (digest §4.5-4.9)."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioups._uids import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE,
    UPS_GLOBAL_SUBSCRIPTION_INSTANCE,
    UPS_PUSH,
)
from aioups.dimse import Dataset, Status, decode_data_set, encode_data_set, tag_for_keyword
from aioups.ups._events import EventTypeID
from aioups.ups._requirements import (
    ENUMERATED_VALUES,
    FINAL_STATE_REQUIREMENTS,
    N_CREATE_REQUIREMENTS,
    N_SET_NOT_ALLOWED,
    RequirementType,
    fill_cancellation,
    final_state_requirements,
    format_dt,
    is_valid_dt,
    is_valid_uid,
)
from aioups.ups._state import UPSState
from aioups.ups._workitem import (
    Workitem,
    apply_n_set,
    create_workitem,
    n_get_attributes,
    strip_transaction_uid,
)

from .factories import (
    LATER,
    NOW,
    NOW_DT,
    OTHER_TUID,
    TUID,
    TYPE_1,
    TYPE_2,
    UPS_UID,
    claimed,
    code,
    create_request,
    created,
    lenient,
    performed_sequence,
)

# --- the tables against the digest -------------------------------------------------------


def test_every_keyword_in_the_tables_is_a_dicom_keyword() -> None:
    paths = [*N_CREATE_REQUIREMENTS, *FINAL_STATE_REQUIREMENTS]
    keywords = {k for path in paths for k in path} | set(N_SET_NOT_ALLOWED) | set(
        ENUMERATED_VALUES)
    assert [k for k in keywords if tag_for_keyword(k) is None] == []


def test_n_create_table_matches_the_digest_lists() -> None:
    top = {path[0]: kind for path, kind in N_CREATE_REQUIREMENTS.items() if len(path) == 1}
    assert {k for k, kind in top.items() if kind is RequirementType.TYPE_1} == set(TYPE_1)
    assert {k for k, kind in top.items() if kind is RequirementType.TYPE_2} == set(TYPE_2)


def test_n_set_not_allowed_matches_the_digest() -> None:
    # UPS-45: 0010,0010/0020/0021/0024/0030/0040, admission, diagnoses, request, replaced, ...
    tags = {tag_for_keyword(k) for k in N_SET_NOT_ALLOWED}
    assert tags == {0x00100010, 0x00100020, 0x00100021, 0x00100024, 0x00100030, 0x00100040,
                    0x00380010, 0x00380014, 0x00081080, 0x00081084, 0x0040A370, 0x00741224,
                    0x00741000, 0x00080016, 0x00080018}


# --- helpers ---------------------------------------------------------------------------------


def test_format_dt() -> None:
    assert format_dt(NOW) == NOW_DT
    aware = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))
    assert format_dt(aware) == "20240102030405.000000-0500"
    assert is_valid_dt(format_dt(aware)) and len(format_dt(aware)) <= 26


@pytest.mark.parametrize(("value", "ok"), [
    ("1.2.3", True), ("0.1", True), ("1.02", False), ("1..2", False), ("", False),
    ("1.2.", False), ("1." + "1" * 63, False), ("a.b", False)])
def test_is_valid_uid(value: str, ok: bool) -> None:
    assert is_valid_uid(value) is ok


@pytest.mark.parametrize(("value", "ok"), [
    ("2024", True), ("20240506", True), ("20240506120000.5", True), ("20240506120000+0100", True),
    ("2024-05-06", False), ("202405061", False), ("20240506-20240507", False)])
def test_is_valid_dt(value: str, ok: bool) -> None:
    assert is_valid_dt(value) is ok


# --- N-CREATE ------------------------------------------------------------------------------


def test_create_sets_what_the_scp_owns() -> None:
    request = create_request(WorklistLabel="")
    before = copy.deepcopy(request)
    outcome = create_workitem(UPS_UID, request, now=NOW, worklist_label="WL")
    assert request == before  # arguments are never modified
    assert (outcome.status, outcome.error_comment) == (Status.SUCCESS, None)
    workitem = outcome.workitem
    assert workitem is not None
    assert (workitem.sop_instance_uid, workitem.state, workitem.transaction_uid) == (
        UPS_UID, UPSState.SCHEDULED, None)
    data_set = workitem.data_set
    assert (data_set.SOPClassUID, data_set.SOPInstanceUID) == (UPS_PUSH, UPS_UID)
    assert data_set.ScheduledProcedureStepModificationDateTime == NOW_DT
    assert data_set.WorklistLabel == "WL"
    assert "TransactionUID" not in data_set
    [event] = outcome.events
    assert event.event_type_id is EventTypeID.UPS_STATE_REPORT
    assert (event.event_information.ProcedureStepState,
            event.event_information.InputReadinessState) == ("SCHEDULED", "READY")


def test_create_keeps_a_worklist_label_and_tolerates_an_absent_transaction_uid() -> None:
    outcome = create_workitem(UPS_UID, create_request(WorklistLabel="MINE", TransactionUID=None),
                              now=NOW)
    assert outcome.status is Status.SUCCESS
    assert outcome.workitem is not None and outcome.workitem.data_set.WorklistLabel == "MINE"


def test_create_with_a_station_also_reports_assigned() -> None:
    outcome = create_workitem(UPS_UID, create_request(
        ScheduledStationNameCodeSequence=[code("ST1")]), now=NOW)
    assert [e.event_type_id for e in outcome.events] == [
        EventTypeID.UPS_STATE_REPORT, EventTypeID.UPS_ASSIGNED]


def test_create_without_instance_uid_assigns_one() -> None:
    outcome = create_workitem(None, create_request(), now=NOW, new_uid=lambda: "2.25.7")
    assert outcome.workitem is not None and outcome.workitem.sop_instance_uid == "2.25.7"
    assert outcome.workitem.data_set.SOPInstanceUID == "2.25.7"


@pytest.mark.parametrize("uid", [UPS_GLOBAL_SUBSCRIPTION_INSTANCE,
                                 UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE])
def test_create_with_a_well_known_uid_is_0111(uid: str) -> None:
    assert create_workitem(uid, create_request(), now=NOW).status is (
        Status.DUPLICATE_SOP_INSTANCE)


@pytest.mark.parametrize("state", list(UPSState))
def test_create_of_an_existing_uid_is_0111(state: UPSState) -> None:
    existing = created()
    if state is not UPSState.SCHEDULED:
        data_set = existing.data_set.copy()
        data_set.ProcedureStepState = state.value
        existing = Workitem(sop_instance_uid=UPS_UID, data_set=data_set)
    outcome = create_workitem(UPS_UID, create_request(), now=NOW, existing=existing)
    assert (outcome.status, outcome.workitem, outcome.events) == (
        Status.DUPLICATE_SOP_INSTANCE, None, ())


def test_create_with_a_malformed_uid_is_0117() -> None:
    assert create_workitem("1.02.3", create_request(), now=NOW).status is (
        Status.INVALID_OBJECT_INSTANCE)


@pytest.mark.parametrize(("values", "status", "offending"), [
    ({"ProcedureStepState": "IN PROGRESS"}, Status.UPS_NOT_SCHEDULED, 0x00741000),
    ({"ProcedureStepState": "COMPLETED"}, Status.UPS_NOT_SCHEDULED, 0x00741000),
    ({"ProcedureStepState": None}, Status.MISSING_ATTRIBUTE, 0x00741000),
    ({"ProcedureStepState": ""}, Status.MISSING_ATTRIBUTE_VALUE, 0x00741000),
    ({"TransactionUID": TUID}, Status.INVALID_ATTRIBUTE_VALUE, 0x00081195),
    ({"SOPClassUID": "1.2.3"}, Status.INVALID_ATTRIBUTE_VALUE, 0x00080016),
    ({"SOPInstanceUID": "1.2.3"}, Status.INVALID_ATTRIBUTE_VALUE, 0x00080018),
    ({"ProcedureStepLabel": None}, Status.MISSING_ATTRIBUTE, 0x00741204),
    ({"ProcedureStepLabel": ""}, Status.MISSING_ATTRIBUTE_VALUE, 0x00741204),
    ({"PatientName": None}, Status.MISSING_ATTRIBUTE, 0x00100010),
    ({"UnifiedProcedureStepPerformedProcedureSequence": None}, Status.MISSING_ATTRIBUTE,
     0x00741216),
    ({"ScheduledProcedureStepPriority": "URGENT"}, Status.INVALID_ATTRIBUTE_VALUE, 0x00741200),
    ({"InputReadinessState": ["READY", "INCOMPLETE"]}, Status.INVALID_ATTRIBUTE_VALUE,
     0x00404041),
    ({"ScheduledProcedureStepStartDateTime": "tomorrow"}, Status.INVALID_ATTRIBUTE_VALUE,
     0x00404005),
], ids=["in-progress", "completed", "state-absent", "state-empty", "tuid-set", "sop-class",
        "sop-instance", "label-absent", "label-empty", "type2-absent", "performed-absent",
        "priority", "readiness-multi", "start-dt"])
def test_create_refusals(values: dict[str, object], status: Status, offending: int) -> None:
    outcome = create_workitem(UPS_UID, create_request(**values), now=NOW)
    assert (outcome.status, outcome.workitem, outcome.events) == (status, None, ())
    assert offending in outcome.offending_elements
    assert outcome.error_comment is not None and len(outcome.error_comment) <= 64


def test_create_lists_every_missing_attribute() -> None:
    outcome = create_workitem(UPS_UID, create_request(PatientName=None, AdmissionID=None,
                                                      ProcedureStepLabel=None), now=NOW)
    assert outcome.status is Status.MISSING_ATTRIBUTE
    assert set(outcome.offending_elements) == {0x00741204, 0x00100010, 0x00380010}


def test_create_accepts_matching_sop_uids() -> None:
    outcome = create_workitem(UPS_UID, create_request(SOPClassUID=UPS_PUSH,
                                                      SOPInstanceUID=UPS_UID), now=NOW)
    assert outcome.status is Status.SUCCESS


def _performer(**values: object) -> Dataset:
    item = Dataset()
    item.HumanPerformerCodeSequence = [code("P1")]
    item.HumanPerformerName = "Doe^Jane"
    item.HumanPerformerOrganization = "Org"
    for keyword, value in values.items():
        if value is None:
            delattr(item, keyword)
        else:
            setattr(item, keyword, value)
    return item


@pytest.mark.parametrize(("performer", "status"), [
    (_performer(), Status.SUCCESS),
    (_performer(HumanPerformerName=None), Status.MISSING_ATTRIBUTE),
    (_performer(HumanPerformerOrganization=""), Status.MISSING_ATTRIBUTE_VALUE),
])
def test_create_checks_scheduled_human_performer_items(performer: Dataset,
                                                       status: Status) -> None:
    outcome = create_workitem(UPS_UID, create_request(
        ScheduledHumanPerformersSequence=[performer]), now=NOW)
    assert outcome.status is status
    if status is not Status.SUCCESS:
        assert outcome.offending_elements == (0x00404034,)


def test_create_checks_referenced_request_items() -> None:
    request = Dataset()
    request.AccessionNumber = ""
    outcome = create_workitem(UPS_UID, create_request(ReferencedRequestSequence=[request]),
                              now=NOW)
    assert outcome.status is Status.MISSING_ATTRIBUTE
    assert outcome.error_comment is not None
    assert "ReferencedRequestSequence>StudyInstanceUID" in outcome.error_comment


def test_create_coerces_with_b300() -> None:
    progress = Dataset()
    progress.ProcedureStepProgress = "50"
    outcome = create_workitem(UPS_UID, create_request(
        ScheduledProcedureStepPriority="high ",
        ProcedureStepProgressInformationSequence=[progress]), now=NOW)
    assert outcome.status is Status.UPS_CREATED_WITH_MODIFICATIONS
    assert outcome.workitem is not None
    assert outcome.workitem.data_set.ScheduledProcedureStepPriority == "HIGH"
    assert len(outcome.workitem.data_set.ProcedureStepProgressInformationSequence) == 0
    assert set(outcome.offending_elements) == {0x00741200, 0x00741002}


def test_create_replaces_a_supplied_modification_date_time_silently() -> None:
    outcome = create_workitem(UPS_UID, create_request(
        ScheduledProcedureStepModificationDateTime="19990101"), now=NOW)
    assert outcome.status is Status.SUCCESS
    assert outcome.workitem is not None
    assert outcome.workitem.data_set.ScheduledProcedureStepModificationDateTime == NOW_DT


_OPTIONAL = st.sets(st.sampled_from([*TYPE_1, *TYPE_2]), max_size=4)


@given(removed=_OPTIONAL, emptied=_OPTIONAL)
def test_create_never_raises_and_only_creates_valid_workitems(removed: set[str],
                                                               emptied: set[str]) -> None:
    values: dict[str, object] = dict.fromkeys(emptied, "")
    values.update(dict.fromkeys(removed))
    for keyword in values:
        if keyword.endswith("Sequence") and values[keyword] == "":
            values[keyword] = []
    request = create_request(**values)
    before = copy.deepcopy(request)
    outcome = create_workitem(UPS_UID, request, now=NOW)
    assert request == before
    if outcome.workitem is None:
        assert outcome.status not in (Status.SUCCESS, Status.UPS_CREATED_WITH_MODIFICATIONS)
        return
    assert not (removed - {"TransactionUID", "WorklistLabel"})
    assert final_state_requirements(outcome.workitem.data_set, UPSState.CANCELED) == (
        "ProcedureStepProgressInformationSequence",)


# --- final-state requirements --------------------------------------------------------------


def test_final_state_requirements_of_a_new_workitem() -> None:
    data_set = created().data_set
    assert final_state_requirements(data_set, UPSState.COMPLETED) == (
        "UnifiedProcedureStepPerformedProcedureSequence",)
    assert final_state_requirements(data_set, UPSState.CANCELED) == (
        "ProcedureStepProgressInformationSequence",)
    assert final_state_requirements(data_set, UPSState.IN_PROGRESS) == ()


@pytest.mark.parametrize("keyword", ["PerformedStationNameCodeSequence",
                                     "PerformedProcedureStepStartDateTime",
                                     "PerformedWorkitemCodeSequence",
                                     "PerformedProcedureStepEndDateTime",
                                     "OutputInformationSequence"])
def test_completed_needs_each_p_attribute(keyword: str) -> None:
    data_set = created().data_set.copy()
    item = performed_sequence()
    delattr(item, keyword)
    data_set.UnifiedProcedureStepPerformedProcedureSequence = [item]
    assert final_state_requirements(data_set, UPSState.COMPLETED) == (
        f"UnifiedProcedureStepPerformedProcedureSequence>{keyword}",)
    # P binds for COMPLETED only.
    assert "UnifiedProcedureStepPerformedProcedureSequence" not in " ".join(
        final_state_requirements(data_set, UPSState.CANCELED))


def test_output_information_may_have_no_items_but_must_be_there() -> None:
    data_set = created().data_set.copy()
    data_set.UnifiedProcedureStepPerformedProcedureSequence = [performed_sequence()]
    assert final_state_requirements(data_set, UPSState.COMPLETED) == ()


def test_r_attributes_bind_for_both_final_states() -> None:
    data_set = fill_cancellation(created().data_set, now=NOW)
    data_set.UnifiedProcedureStepPerformedProcedureSequence = [performed_sequence()]
    del data_set.InputReadinessState
    for target in (UPSState.COMPLETED, UPSState.CANCELED):
        assert final_state_requirements(data_set, target) == ("InputReadinessState",)


def test_fill_cancellation_leaves_its_input_alone() -> None:
    data_set = created().data_set
    before = copy.deepcopy(data_set)
    filled = fill_cancellation(data_set, now=NOW, reason="r", reason_codes=(code("C"),))
    assert data_set == before
    [item] = filled.ProcedureStepProgressInformationSequence
    assert (item.ProcedureStepCancellationDateTime, item.ReasonForCancellation,
            item.ProcedureStepDiscontinuationReasonCodeSequence[0].CodeValue) == (
        NOW_DT, "r", "C")
    unfilled = fill_cancellation(data_set, now=NOW, default_reason=False)
    assert final_state_requirements(unfilled, UPSState.CANCELED) == (
        "ProcedureStepProgressInformationSequence>ProcedureStepDiscontinuationReasonCodeSequence",)


# --- N-SET ---------------------------------------------------------------------------------


def _set(**values: object) -> Dataset:
    modifications = Dataset()
    for keyword, value in values.items():
        modifications.add(lenient(keyword, value))
    return modifications


def test_n_set_on_a_scheduled_ups_without_uid() -> None:
    workitem = created()
    before = copy.deepcopy(workitem.data_set)
    modifications = _set(ProcedureStepLabel="New label", ScheduledStationNameCodeSequence=[
        code("S2")])
    outcome = apply_n_set(workitem, modifications, now=LATER)
    assert workitem.data_set == before
    assert outcome.status is Status.SUCCESS
    assert outcome.workitem is not None
    data_set = outcome.workitem.data_set
    assert data_set.ProcedureStepLabel == "New label"
    assert data_set.ScheduledProcedureStepModificationDateTime == "20240506090000.000000"
    assert [e.event_type_id for e in outcome.events] == [EventTypeID.UPS_ASSIGNED]


@pytest.mark.parametrize("tuid", [TUID, ""])
def test_n_set_with_a_uid_on_a_scheduled_ups_is_c310(tuid: str) -> None:
    outcome = apply_n_set(created(), _set(TransactionUID=tuid, ProcedureStepLabel="x"), now=LATER)
    assert (outcome.status, outcome.workitem) == (Status.UPS_NOT_IN_PROGRESS, None)


@pytest.mark.parametrize("tuid", [None, "", OTHER_TUID])
def test_n_set_on_an_in_progress_ups_needs_the_uid(tuid: str | None) -> None:
    modifications = _set(ProcedureStepLabel="x")
    if tuid is not None:
        modifications.add(lenient("TransactionUID", tuid))
    outcome = apply_n_set(claimed(), modifications, now=LATER)
    assert (outcome.status, outcome.workitem) == (Status.UPS_TRANSACTION_UID_NOT_CORRECT, None)


def test_n_set_with_the_uid_does_not_store_it_in_the_data_set() -> None:
    outcome = apply_n_set(claimed(), _set(TransactionUID=TUID, ProcedureStepLabel="x"), now=LATER)
    assert outcome.status is Status.SUCCESS
    assert outcome.workitem is not None
    assert outcome.workitem.transaction_uid == TUID
    assert "TransactionUID" not in outcome.workitem.data_set


def test_n_set_on_a_final_ups_is_c300() -> None:
    from aioups.ups._actions import change_state

    from .factories import action

    canceled = change_state(claimed(), action("CANCELED", TUID), now=LATER).workitem
    outcome = apply_n_set(canceled, _set(TransactionUID=TUID, ProcedureStepLabel="x"), now=LATER)
    assert outcome.status is Status.UPS_MAY_NO_LONGER_BE_UPDATED


def test_n_set_on_an_unknown_ups_is_c307() -> None:
    assert apply_n_set(None, _set(), now=LATER).status is Status.UPS_DOES_NOT_EXIST


@pytest.mark.parametrize(("values", "status"), [
    ({"ProcedureStepState": "SCHEDULED"}, Status.UPS_MAY_ONLY_BECOME_SCHEDULED_VIA_N_CREATE),
    ({"ProcedureStepState": "COMPLETED"}, Status.INVALID_ATTRIBUTE_VALUE),
    ({"ProcedureStepState": ""}, Status.INVALID_ATTRIBUTE_VALUE),
    ({"PatientName": "Other^Name"}, Status.INVALID_ATTRIBUTE_VALUE),
    ({"SOPInstanceUID": "1.2.3"}, Status.INVALID_ATTRIBUTE_VALUE),
    ({"ReferencedRequestSequence": [Dataset()]}, Status.INVALID_ATTRIBUTE_VALUE),
    ({"ExpectedCompletionDateTime": "20240507"}, Status.NO_SUCH_ATTRIBUTE),
    ({"ProcedureStepLabel": ""}, Status.MISSING_ATTRIBUTE_VALUE),
    ({"InputReadinessState": "DONE"}, Status.INVALID_ATTRIBUTE_VALUE),
], ids=["state-scheduled", "state-completed", "state-empty", "patient", "sop-instance",
        "request-seq", "new-attribute", "type1-emptied", "enum"])
def test_n_set_refusals(values: dict[str, object], status: Status) -> None:
    outcome = apply_n_set(created(), _set(**values), now=LATER)
    assert (outcome.status, outcome.workitem, outcome.events) == (status, None, ())
    assert outcome.offending_elements


def test_n_set_accepts_unchanged_not_allowed_values() -> None:
    # A read-modify-write SCU sends the patient back unchanged: that changes nothing.
    workitem = created(PatientName="Doe^John")
    outcome = apply_n_set(workitem, _set(PatientName="Doe^John", SOPInstanceUID=UPS_UID,
                                         SOPClassUID=UPS_PUSH, WorklistLabel="B"), now=LATER)
    assert outcome.status is Status.SUCCESS


def test_n_set_may_add_attributes_when_allowed() -> None:
    outcome = apply_n_set(created(), _set(ExpectedCompletionDateTime="20240507"), now=LATER,
                          allow_new_attributes=True)
    assert outcome.status is Status.SUCCESS
    assert outcome.workitem is not None
    assert outcome.workitem.data_set.ExpectedCompletionDateTime == "20240507"


def test_n_set_replaces_whole_sequences() -> None:
    workitem = created(ScheduledStationNameCodeSequence=[code("A"), code("B")])
    outcome = apply_n_set(workitem, _set(ScheduledStationNameCodeSequence=[code("C")]),
                          now=LATER)
    assert outcome.workitem is not None
    assert [i.CodeValue for i in outcome.workitem.data_set.ScheduledStationNameCodeSequence] == [
        "C"]


def test_n_set_coerces_enumerated_values_with_b305() -> None:
    outcome = apply_n_set(created(), _set(InputReadinessState="incomplete"), now=LATER)
    assert outcome.status is Status.UPS_COERCED_INVALID_VALUES
    assert outcome.workitem is not None
    assert outcome.workitem.data_set.InputReadinessState == "INCOMPLETE"
    # Input Readiness State changed: a State Report (UPS-62).
    assert [e.event_type_id for e in outcome.events] == [EventTypeID.UPS_STATE_REPORT]


def test_n_set_reports_progress_and_is_idempotent() -> None:
    progress = Dataset()
    progress.ProcedureStepProgress = "40"
    progress.ProcedureStepProgressDescription = "halfway"
    modifications = _set(TransactionUID=TUID, ProcedureStepProgressInformationSequence=[progress])
    first = apply_n_set(claimed(), modifications, now=LATER)
    assert [e.event_type_id for e in first.events] == [EventTypeID.UPS_PROGRESS_REPORT]
    again = apply_n_set(first.workitem, modifications, now=LATER)
    assert again.status is Status.SUCCESS and again.events == ()
    assert first.workitem is not None and again.workitem is not None
    assert again.workitem.data_set == first.workitem.data_set


def test_n_set_merges_character_sets() -> None:
    workitem = created(SpecificCharacterSet="ISO_IR 100", PatientName="Müller^Jürgen")
    comment = Dataset()
    comment.SpecificCharacterSet = "ISO_IR 192"
    comment.CommentsOnTheScheduledProcedureStep = "Ελληνικά"
    raw = decode_data_set(encode_data_set(comment, EXPLICIT_VR_LITTLE_ENDIAN),
                          EXPLICIT_VR_LITTLE_ENDIAN)
    outcome = apply_n_set(workitem, raw, now=LATER)
    assert outcome.status is Status.SUCCESS
    assert outcome.workitem is not None
    merged = outcome.workitem.data_set
    assert merged.SpecificCharacterSet == "ISO_IR 192"
    again = decode_data_set(encode_data_set(merged, EXPLICIT_VR_LITTLE_ENDIAN),
                            EXPLICIT_VR_LITTLE_ENDIAN)
    assert str(again.PatientName) == "Müller^Jürgen"
    assert again.CommentsOnTheScheduledProcedureStep == "Ελληνικά"


def test_n_set_takes_the_request_character_set_over_the_default_repertoire() -> None:
    outcome = apply_n_set(created(), _set(SpecificCharacterSet="ISO_IR 100",
                                          ProcedureStepLabel="Größe"), now=LATER)
    assert outcome.workitem is not None
    assert outcome.workitem.data_set.SpecificCharacterSet == "ISO_IR 100"


def test_n_set_keeps_the_stored_character_set_for_plain_ascii() -> None:
    workitem = created(SpecificCharacterSet="ISO_IR 100")
    outcome = apply_n_set(workitem, _set(SpecificCharacterSet="ISO_IR 6",
                                         ProcedureStepLabel="x"), now=LATER)
    assert outcome.workitem is not None
    assert outcome.workitem.data_set.SpecificCharacterSet == "ISO_IR 100"


# --- N-GET and the Transaction UID ----------------------------------------------------------


def test_n_get_everything_but_the_transaction_uid() -> None:
    outcome = n_get_attributes(claimed(), None)
    assert outcome.status is Status.SUCCESS
    assert outcome.data_set is not None
    assert "TransactionUID" not in outcome.data_set
    assert outcome.data_set.ProcedureStepState == "IN PROGRESS"


def test_n_get_selected_attributes() -> None:
    outcome = n_get_attributes(created(SpecificCharacterSet="ISO_IR 100"),
                               [0x00741000, 0x00741204])
    assert outcome.status is Status.SUCCESS
    assert outcome.data_set is not None
    assert set(outcome.data_set.keys()) == {0x00741000, 0x00741204, 0x00080005}


@pytest.mark.parametrize(("tags", "status"), [
    ([0x00741000, 0x00081195], Status.WARNING_REQUESTED_OPTIONAL_ATTRIBUTES_NOT_SUPPORTED),
    ([0x00741000, 0x00404011], Status.WARNING_REQUESTED_OPTIONAL_ATTRIBUTES_NOT_SUPPORTED),
    ([0x00741000, 0x00091010], Status.ATTRIBUTE_LIST_ERROR),
    ([0x00741000, 0x00F00010], Status.ATTRIBUTE_LIST_ERROR),
    ([0x00741000, 0x00000100], Status.ATTRIBUTE_LIST_ERROR),
    ([0x00741000, 0x00081195, 0x00091010], Status.ATTRIBUTE_LIST_ERROR),
], ids=["transaction-uid", "absent-optional", "private", "unknown", "command", "mixed"])
def test_n_get_warnings(tags: list[int], status: Status) -> None:
    outcome = n_get_attributes(claimed(), tags)
    assert outcome.status is status
    assert outcome.data_set is not None
    assert list(outcome.data_set.keys()) == [0x00741000]
    assert outcome.attribute_identifiers == tuple(tags[1:])


def test_n_get_unknown_instance_is_c307() -> None:
    assert n_get_attributes(None, None).status is Status.UPS_DOES_NOT_EXIST


def test_strip_transaction_uid() -> None:
    data_set = create_request(TransactionUID=TUID)
    stripped = strip_transaction_uid(data_set)
    assert "TransactionUID" not in stripped and "TransactionUID" in data_set


def test_workitem_refuses_a_transaction_uid_or_a_bad_state() -> None:
    data_set = created().data_set.copy()
    data_set.TransactionUID = TUID
    with pytest.raises(ValueError, match="Transaction UID"):
        Workitem(sop_instance_uid=UPS_UID, data_set=data_set)
    data_set = created().data_set.copy()
    data_set.add(lenient("ProcedureStepState", "DONE"))
    with pytest.raises(ValueError, match="Procedure Step State"):
        Workitem(sop_instance_uid=UPS_UID, data_set=data_set)
