"""N-ACTION Change UPS State (type 1) and Request UPS Cancel (type 2) (PS3.4 CC.2.1, CC.2.2).

These read the Action Information, consult the state table (``_state``), meet or check the
final-state requirements (``_requirements``) and build the events (``_events``), returning an
:class:`~aioups.ups._workitem.Outcome` like the N-CREATE/N-SET/N-GET functions do.

Action Information errors (digest UPS-20 "missing or invalid arguments: 0114H/0115H"): a
missing or empty Procedure Step State is 0114 (No such argument); a value that is not a UPS
state, a malformed Transaction UID and a malformed code item are 0115 (Invalid argument value).
A missing or empty Transaction UID is not an argument error: it is the table's "TUID not ok"
(C301 in most cells; the SCHEDULED column defines "ok" as any non-empty UID, so empty is not ok).
0106 is kept for attribute values of the UPS itself (N-CREATE, N-SET).  An unknown instance is
reported first (C307), since every row of the table says so for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final

from ..dimse import Dataset, Status, copy_data_set, generate_uid
from ._events import UPSEvent, cancel_requested, state_report
from ._requirements import (
    fill_cancellation,
    final_state_requirements,
    has_value,
    is_valid_uid,
    items,
    text_value,
    top_level_tags,
)
from ._state import (
    PerformerResponse,
    StateDecision,
    UPSState,
    decide_change_state,
    decide_request_cancel,
)
from ._workitem import Outcome, Workitem, comment, failure

_PROCEDURE_STEP_STATE: Final = 0x00741000
_TRANSACTION_UID: Final = 0x00081195
_REASON_CODES: Final = "ProcedureStepDiscontinuationReasonCodeSequence"


def _with_state(data_set: Dataset, state: UPSState) -> Dataset:
    result = copy_data_set(data_set)
    result.ProcedureStepState = state.value
    return result


def _parse_change_state(information: Dataset) -> tuple[UPSState, str | None] | Outcome:
    """(requested state, supplied Transaction UID) or the argument error (see module doc)."""
    requested = text_value(information, "ProcedureStepState")
    if requested is None:
        return failure(Status.NO_SUCH_ARGUMENT, "Procedure Step State missing",
                       [_PROCEDURE_STEP_STATE])
    if requested not in tuple(UPSState):
        return failure(Status.INVALID_ARGUMENT_VALUE, f"invalid Procedure Step State "
                       f"{requested!r}", [_PROCEDURE_STEP_STATE])
    supplied = text_value(information, "TransactionUID")
    if supplied is not None and not is_valid_uid(supplied):
        return failure(Status.INVALID_ARGUMENT_VALUE, "malformed Transaction UID",
                       [_TRANSACTION_UID])
    return UPSState(requested), supplied


def change_state(workitem: Workitem | None, action_information: Dataset, *, now: datetime,
                 default_reason: bool = True) -> Outcome:
    """Change UPS State, N-ACTION type 1 (UPS-11, UPS-12, UPS-21, UPS-22, UPS-48, UPS-49).

    On → CANCELED the SCP first fills in what it must (UPS-48: Procedure Step Cancellation
    DateTime := ``now`` if empty) and, when ``default_reason`` is true, the discontinuation
    reason (110513, DCM) if none was set (UPS-49, IMPL as dcm4chee: it makes the standard's
    "cancel a SCHEDULED UPS with two N-ACTIONs and no N-SET" work).  The final-state
    requirements are then checked on that filled-in data set; unmet ones give C304 with their
    top-level tags as offending elements and nothing changes (edge case 23).

    Returns:
        0000 with the new workitem and a State Report; B304/B306 (already in the requested
        final state, correct UID) or a failure (C300, C301, C302, C303, C304, C307, C310,
        0114, 0115) with nothing to store.
    """
    if workitem is None:
        return failure(Status.UPS_DOES_NOT_EXIST, "no such UPS")
    parsed = _parse_change_state(action_information)
    if isinstance(parsed, Outcome):
        return parsed
    requested, supplied = parsed
    candidate = workitem.data_set
    if requested is UPSState.CANCELED and workitem.state is UPSState.IN_PROGRESS:
        candidate = fill_cancellation(candidate, now=now, default_reason=default_reason)
    unmet = final_state_requirements(candidate, requested)
    decision = decide_change_state(workitem.state, workitem.transaction_uid, requested,
                                   supplied, unmet=unmet)
    return _outcome(workitem, decision, candidate)


def _outcome(workitem: Workitem, decision: StateDecision, candidate: Dataset,
             extra_events: tuple[UPSEvent, ...] = ()) -> Outcome:
    """Turn a decision into an outcome: the new workitem and its State Reports, or a refusal."""
    if decision.status is Status.UPS_FINAL_STATE_REQUIREMENTS_NOT_MET:
        return Outcome(status=decision.status, offending_elements=top_level_tags(decision.unmet),
                       error_comment=comment(f"not met: {', '.join(decision.unmet)}"))
    if not decision.changed or decision.state is None:
        return Outcome(status=decision.status, events=extra_events,
                       error_comment=_REFUSALS.get(decision.status))
    uid = workitem.sop_instance_uid
    reports = tuple(state_report(uid, _with_state(candidate, state))
                    for state in decision.reports)
    new = Workitem(sop_instance_uid=uid, data_set=_with_state(candidate, decision.state),
                   transaction_uid=decision.transaction_uid)
    return Outcome(status=decision.status, workitem=new, events=extra_events + reports)


#: Error comments for the table's refusals (the status alone says it; the comment helps logs).
_REFUSALS: Final = {
    Status.UPS_ALREADY_CANCELED: "UPS is already CANCELED",
    Status.UPS_ALREADY_COMPLETED: "UPS is already COMPLETED",
    Status.UPS_MAY_NO_LONGER_BE_UPDATED: "UPS may no longer be updated",
    Status.UPS_TRANSACTION_UID_NOT_CORRECT: "correct Transaction UID not provided",
    Status.UPS_ALREADY_IN_PROGRESS: "UPS is already IN PROGRESS",
    Status.UPS_MAY_ONLY_BECOME_SCHEDULED_VIA_N_CREATE: "UPS may only become SCHEDULED "
                                                      "via N-CREATE",
    Status.UPS_NOT_IN_PROGRESS: "UPS is not IN PROGRESS",
    Status.UPS_ALREADY_COMPLETED_CANNOT_CANCEL: "UPS is already COMPLETED",
    Status.UPS_PERFORMER_CANNOT_BE_CONTACTED: "the performer cannot be contacted",
    Status.UPS_PERFORMER_CHOOSES_NOT_TO_CANCEL: "the performer chooses not to cancel",
}


def _check_reason_codes(information: Dataset) -> Outcome | None:
    """Each code item needs a code value, a coding scheme and a meaning (UPS-20): else 0115."""
    for item in items(information, _REASON_CODES):
        has_code = any(has_value(item, keyword)
                       for keyword in ("CodeValue", "LongCodeValue", "URNCodeValue"))
        has_scheme = has_value(item, "CodingSchemeDesignator") or has_value(item, "URNCodeValue")
        if not (has_code and has_scheme and has_value(item, "CodeMeaning")):
            return failure(Status.INVALID_ARGUMENT_VALUE, "incomplete discontinuation reason "
                           "code", top_level_tags([_REASON_CODES]))
    return None


def request_cancel(workitem: Workitem | None, action_information: Dataset, *,
                   requesting_ae: str, now: datetime,
                   performer: PerformerResponse = PerformerResponse.NOTIFY,
                   new_uid: Callable[[], str] = generate_uid) -> Outcome:
    """Request UPS Cancel, N-ACTION type 2 (UPS-11 last row, UPS-23, UPS-24, UPS-49, UPS-62).

    - SCHEDULED: the SCP claims the UPS with its own Transaction UID (from ``new_uid``, kept
      internally) and cancels it, filling in the X attributes with the requester's reason and
      reason code, or the default code (UPS-49).  Events: UPS Cancel Requested, then State
      Reports for IN PROGRESS and CANCELED.
    - IN PROGRESS: as ``performer`` says (:class:`PerformerResponse`): 0000 and UPS Cancel
      Requested (the default), C312, C313, or the SCP, being the performer, cancels it.
    - COMPLETED: C311.  CANCELED: B304.  Unknown: C307.  A malformed code item: 0115.

    ``requesting_ae`` is the calling AE title of the SCU, for Requesting AE (UPS-60).
    """
    if workitem is None:
        return failure(Status.UPS_DOES_NOT_EXIST, "no such UPS")
    refused = _check_reason_codes(action_information)
    if refused is not None:
        return refused
    decision = decide_request_cancel(workitem.state, workitem.transaction_uid,
                                     performer=performer, new_uid=new_uid)
    notified = ((cancel_requested(workitem.sop_instance_uid, requesting_ae, action_information),)
                if decision.cancel_requested else ())
    candidate = workitem.data_set
    if decision.state is UPSState.CANCELED and decision.changed:
        candidate = fill_cancellation(
            candidate, now=now, reason=text_value(action_information, "ReasonForCancellation"),
            reason_codes=items(action_information, _REASON_CODES))
        unmet = final_state_requirements(candidate, UPSState.CANCELED)
        if unmet:
            # UPS-24 asks the SCP to meet them; it cannot invent the R attributes.
            return failure(Status.PROCESSING_FAILURE, f"cannot cancel, not met: "
                           f"{', '.join(unmet)}", top_level_tags(unmet))
    return _outcome(workitem, decision, candidate, notified)
