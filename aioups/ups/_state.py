"""UPS states and the state table, PS3.4 Table CC.1.1-2 (digest UPS-10 … UPS-13, UPS-22, UPS-24).

The table is data: :data:`STATE_TABLE` maps ``(StateEvent, current state)`` to a :class:`Cell`
(what to do, and the status to answer with), one entry per cell of the standard's table, so it
can be read side by side with it.  The functions below only pick the row; they never decide a
status themselves, except where UPS-24 refines a cell (the SCP's discretion on an IN PROGRESS
Request Cancel).

Everything here works on plain values (states and UIDs), not on data sets: the data-set side
(final-state requirements, event contents) lives in ``_requirements``, ``_events`` and
``_actions``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Final, final

from ..dimse import Status


class UPSState(StrEnum):
    """Procedure Step State (0074,1000) values (UPS-10).  Note the space and the single L."""

    #: Created by N-CREATE (or by the SCP itself); the only way to become SCHEDULED.
    SCHEDULED = "SCHEDULED"
    #: Claimed by a performer, who holds the Transaction UID.
    IN_PROGRESS = "IN PROGRESS"
    #: Final.
    COMPLETED = "COMPLETED"
    #: Final.
    CANCELED = "CANCELED"

    @property
    def is_final(self) -> bool:
        """COMPLETED and CANCELED are final states (UPS-10)."""
        return self in (UPSState.COMPLETED, UPSState.CANCELED)


class StateEvent(Enum):
    """The rows of Table CC.1.1-2.  "TUID ok" is decided by :func:`transaction_uid_ok`."""

    #: N-CREATE naming this SOP Instance UID.
    N_CREATE = "N-CREATE"
    #: N-ACTION Change State to IN PROGRESS with a correct Transaction UID.
    IN_PROGRESS_TUID_OK = "N-ACTION IN PROGRESS, TUID ok"
    #: N-ACTION Change State to IN PROGRESS without a correct Transaction UID.
    IN_PROGRESS_TUID_NOT_OK = "N-ACTION IN PROGRESS, TUID not ok"
    #: N-ACTION Change State to SCHEDULED (whatever the Transaction UID).
    SCHEDULED = "N-ACTION SCHEDULED"
    #: N-ACTION Change State to COMPLETED with a correct Transaction UID.
    COMPLETED_TUID_OK = "N-ACTION COMPLETED, TUID ok"
    #: N-ACTION Change State to COMPLETED without a correct Transaction UID.
    COMPLETED_TUID_NOT_OK = "N-ACTION COMPLETED, TUID not ok"
    #: N-ACTION Change State to CANCELED with a correct Transaction UID.
    CANCELED_TUID_OK = "N-ACTION CANCELED, TUID ok"
    #: N-ACTION Change State to CANCELED without a correct Transaction UID.
    CANCELED_TUID_NOT_OK = "N-ACTION CANCELED, TUID not ok"
    #: N-ACTION Request UPS Cancel (action type 2).
    REQUEST_CANCEL = "N-ACTION Request Cancel"


class StateAction(Enum):
    """What a cell of Table CC.1.1-2 tells the SCP to do."""

    #: Answer with the cell's status (a failure or a warning); nothing changes.
    REFUSE = "refuse"
    #: Create the instance: Transaction UID empty, state SCHEDULED.
    CREATE = "create"
    #: Record the Transaction UID, go to IN PROGRESS, send a State Report.
    CLAIM = "claim"
    #: If the final-state requirements are met, go to the requested final state and send a
    #: State Report; otherwise C304.
    FINISH = "finish"
    #: The SCP itself goes to IN PROGRESS then CANCELED, with two State Reports (UPS-24).
    SCP_CANCEL = "SCP cancels"
    #: Send "UPS Cancel Requested" (event type 2) to subscribers; the state is unchanged.
    NOTIFY_CANCEL_REQUESTED = "notify cancel requested"


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    """One cell of Table CC.1.1-2: an action and the status the SCP answers with."""

    action: StateAction
    status: Status = Status.SUCCESS


def _refuse(status: Status) -> Cell:
    return Cell(action=StateAction.REFUSE, status=status)


_CREATE: Final = Cell(action=StateAction.CREATE)
_CLAIM: Final = Cell(action=StateAction.CLAIM)
_FINISH: Final = Cell(action=StateAction.FINISH)
_SCP_CANCEL: Final = Cell(action=StateAction.SCP_CANCEL)
_NOTIFY: Final = Cell(action=StateAction.NOTIFY_CANCEL_REQUESTED)
_C300: Final = _refuse(Status.UPS_MAY_NO_LONGER_BE_UPDATED)
_C301: Final = _refuse(Status.UPS_TRANSACTION_UID_NOT_CORRECT)
_C303: Final = _refuse(Status.UPS_MAY_ONLY_BECOME_SCHEDULED_VIA_N_CREATE)
_C307: Final = _refuse(Status.UPS_DOES_NOT_EXIST)
_C310: Final = _refuse(Status.UPS_NOT_IN_PROGRESS)
_DUPLICATE: Final = _refuse(Status.DUPLICATE_SOP_INSTANCE)

_E, _S = StateEvent, UPSState
#: PS3.4 Table CC.1.1-2 (UPS-11).  The column ``None`` is "the instance does not exist".
STATE_TABLE: Final[Mapping[tuple[StateEvent, UPSState | None], Cell]] = {
    # N-CREATE
    (_E.N_CREATE, None): _CREATE,
    (_E.N_CREATE, _S.SCHEDULED): _DUPLICATE,
    (_E.N_CREATE, _S.IN_PROGRESS): _DUPLICATE,
    (_E.N_CREATE, _S.COMPLETED): _DUPLICATE,
    (_E.N_CREATE, _S.CANCELED): _DUPLICATE,
    # N-ACTION to IN PROGRESS, correct Transaction UID
    (_E.IN_PROGRESS_TUID_OK, None): _C307,
    (_E.IN_PROGRESS_TUID_OK, _S.SCHEDULED): _CLAIM,
    (_E.IN_PROGRESS_TUID_OK, _S.IN_PROGRESS): _refuse(Status.UPS_ALREADY_IN_PROGRESS),
    (_E.IN_PROGRESS_TUID_OK, _S.COMPLETED): _C300,
    (_E.IN_PROGRESS_TUID_OK, _S.CANCELED): _C300,
    # N-ACTION to IN PROGRESS, wrong or no Transaction UID
    (_E.IN_PROGRESS_TUID_NOT_OK, None): _C307,
    (_E.IN_PROGRESS_TUID_NOT_OK, _S.SCHEDULED): _C301,
    (_E.IN_PROGRESS_TUID_NOT_OK, _S.IN_PROGRESS): _C301,
    (_E.IN_PROGRESS_TUID_NOT_OK, _S.COMPLETED): _C301,
    (_E.IN_PROGRESS_TUID_NOT_OK, _S.CANCELED): _C301,
    # N-ACTION to SCHEDULED
    (_E.SCHEDULED, None): _C307,
    (_E.SCHEDULED, _S.SCHEDULED): _C303,
    (_E.SCHEDULED, _S.IN_PROGRESS): _C303,
    (_E.SCHEDULED, _S.COMPLETED): _C303,
    (_E.SCHEDULED, _S.CANCELED): _C303,
    # N-ACTION to COMPLETED, correct Transaction UID
    (_E.COMPLETED_TUID_OK, None): _C307,
    (_E.COMPLETED_TUID_OK, _S.SCHEDULED): _C310,
    (_E.COMPLETED_TUID_OK, _S.IN_PROGRESS): _FINISH,
    (_E.COMPLETED_TUID_OK, _S.COMPLETED): _refuse(Status.UPS_ALREADY_COMPLETED),
    (_E.COMPLETED_TUID_OK, _S.CANCELED): _C300,
    # N-ACTION to COMPLETED, wrong or no Transaction UID
    (_E.COMPLETED_TUID_NOT_OK, None): _C307,
    (_E.COMPLETED_TUID_NOT_OK, _S.SCHEDULED): _C301,
    (_E.COMPLETED_TUID_NOT_OK, _S.IN_PROGRESS): _C301,
    (_E.COMPLETED_TUID_NOT_OK, _S.COMPLETED): _C301,
    (_E.COMPLETED_TUID_NOT_OK, _S.CANCELED): _C301,
    # N-ACTION to CANCELED, correct Transaction UID
    (_E.CANCELED_TUID_OK, None): _C307,
    (_E.CANCELED_TUID_OK, _S.SCHEDULED): _C310,
    (_E.CANCELED_TUID_OK, _S.IN_PROGRESS): _FINISH,
    (_E.CANCELED_TUID_OK, _S.COMPLETED): _C300,
    (_E.CANCELED_TUID_OK, _S.CANCELED): _refuse(Status.UPS_ALREADY_CANCELED),
    # N-ACTION to CANCELED, wrong or no Transaction UID
    (_E.CANCELED_TUID_NOT_OK, None): _C307,
    (_E.CANCELED_TUID_NOT_OK, _S.SCHEDULED): _C301,
    (_E.CANCELED_TUID_NOT_OK, _S.IN_PROGRESS): _C301,
    (_E.CANCELED_TUID_NOT_OK, _S.COMPLETED): _C301,
    (_E.CANCELED_TUID_NOT_OK, _S.CANCELED): _C301,
    # N-ACTION Request UPS Cancel
    (_E.REQUEST_CANCEL, None): _C307,
    (_E.REQUEST_CANCEL, _S.SCHEDULED): _SCP_CANCEL,
    (_E.REQUEST_CANCEL, _S.IN_PROGRESS): _NOTIFY,
    (_E.REQUEST_CANCEL, _S.COMPLETED): _refuse(Status.UPS_ALREADY_COMPLETED_CANNOT_CANCEL),
    (_E.REQUEST_CANCEL, _S.CANCELED): _refuse(Status.UPS_ALREADY_CANCELED),
}
del _E, _S

#: (requested state, Transaction UID ok) -> row of the table.
_CHANGE_STATE_ROWS: Final[Mapping[tuple[UPSState, bool], StateEvent]] = {
    (UPSState.SCHEDULED, True): StateEvent.SCHEDULED,
    (UPSState.SCHEDULED, False): StateEvent.SCHEDULED,
    (UPSState.IN_PROGRESS, True): StateEvent.IN_PROGRESS_TUID_OK,
    (UPSState.IN_PROGRESS, False): StateEvent.IN_PROGRESS_TUID_NOT_OK,
    (UPSState.COMPLETED, True): StateEvent.COMPLETED_TUID_OK,
    (UPSState.COMPLETED, False): StateEvent.COMPLETED_TUID_NOT_OK,
    (UPSState.CANCELED, True): StateEvent.CANCELED_TUID_OK,
    (UPSState.CANCELED, False): StateEvent.CANCELED_TUID_NOT_OK,
}


class PerformerResponse(Enum):
    """How the SCP handles a Request Cancel of an IN PROGRESS UPS (UPS-24).

    The table's cell says "send Cancel Requested"; UPS-24 lets the SCP refine it.  Which one
    applies is the caller's knowledge (is the SCP the performer?  is anybody subscribed?).
    """

    #: The performer is elsewhere: send "UPS Cancel Requested" to subscribers, answer 0000.
    NOTIFY = "notify"
    #: Nobody can tell the performer (e.g. no subscriber): answer C312, send nothing.
    UNREACHABLE = "unreachable"
    #: The SCP is the performer and cancels: notify, then go to CANCELED (UPS-24, UPS-13).
    SCP_CANCELS = "SCP cancels"
    #: The SCP is the performer and chooses not to cancel: answer C313, send nothing.
    DECLINED = "declined"


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class StateDecision:
    """The outcome of one cell, on plain values.

    ``state`` and ``transaction_uid`` are what the SCP keeps after the request (unchanged when
    nothing happens; ``state`` is ``None`` only for an instance that does not exist).
    ``reports`` lists the states to send a UPS State Report for, in order (UPS-62).
    """

    status: Status
    state: UPSState | None
    transaction_uid: str | None
    reports: tuple[UPSState, ...] = ()
    #: Send "UPS Cancel Requested" (event type 2) to subscribers.
    cancel_requested: bool = False
    #: The final-state requirements that are not met (keyword paths), when the status is C304.
    unmet: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether the Procedure Step State changed."""
        return bool(self.reports)


def transaction_uid_ok(state: UPSState | None, stored: str | None, supplied: str | None) -> bool:
    """Whether ``supplied`` is the "correct Transaction UID" of Table CC.1.1-2 (UPS-11, UPS-12).

    For a SCHEDULED instance any non-empty UID is correct (it becomes the lock).  Otherwise it
    must equal the UID the SCP recorded, which it keeps after a final state (UPS-12).  A missing
    or empty UID is never correct.  Only UIDs are compared, never AE titles (UPS-32).
    """
    if not supplied:
        return False
    if state is UPSState.SCHEDULED:
        return True
    return stored is not None and supplied == stored


def change_state_event(requested: UPSState, tuid_ok: bool) -> StateEvent:
    """The row of Table CC.1.1-2 for a Change State request."""
    return _CHANGE_STATE_ROWS[(requested, tuid_ok)]


def _unchanged(status: Status, state: UPSState | None, stored: str | None) -> StateDecision:
    return StateDecision(status=status, state=state, transaction_uid=stored)


def decide_create(existing: UPSState | None) -> StateDecision:
    """The N-CREATE row: create when nothing exists, 0111 otherwise (UPS-11, UPS-41)."""
    cell = STATE_TABLE[(StateEvent.N_CREATE, existing)]
    if cell.action is StateAction.CREATE:
        return StateDecision(status=cell.status, state=UPSState.SCHEDULED, transaction_uid=None,
                             reports=(UPSState.SCHEDULED,))
    return _unchanged(cell.status, existing, None)


def decide_change_state(state: UPSState | None, stored_transaction_uid: str | None,
                        requested: UPSState, supplied_transaction_uid: str | None, *,
                        unmet: Sequence[str] = ()) -> StateDecision:
    """Decide a Change UPS State N-ACTION (action type 1) from Table CC.1.1-2 (UPS-11, UPS-22).

    Args:
        state: the current state, or ``None`` if the instance does not exist.
        stored_transaction_uid: the UID the SCP recorded (kept after a final state, UPS-12).
        requested: the Procedure Step State in the Action Information.
        supplied_transaction_uid: the Transaction UID in the Action Information, if any.
        unmet: the final-state requirements the instance does not meet for ``requested``
            (only looked at when the cell is "if final-state requirements met", UPS-48).

    Returns:
        The decision; on CLAIM the supplied UID becomes the lock.
    """
    ok = transaction_uid_ok(state, stored_transaction_uid, supplied_transaction_uid)
    cell = STATE_TABLE[(change_state_event(requested, ok), state)]
    if cell.action is StateAction.CLAIM:
        return StateDecision(status=cell.status, state=UPSState.IN_PROGRESS,
                             transaction_uid=supplied_transaction_uid,
                             reports=(UPSState.IN_PROGRESS,))
    if cell.action is StateAction.FINISH:
        if unmet:
            return StateDecision(status=Status.UPS_FINAL_STATE_REQUIREMENTS_NOT_MET,
                                 state=state, transaction_uid=stored_transaction_uid,
                                 unmet=tuple(unmet))
        return StateDecision(status=cell.status, state=requested,
                             transaction_uid=stored_transaction_uid, reports=(requested,))
    # Change State rows hold only CLAIM, FINISH and REFUSE cells (checked by the tests).
    return _unchanged(cell.status, state, stored_transaction_uid)


def decide_request_cancel(state: UPSState | None, stored_transaction_uid: str | None, *,
                          performer: PerformerResponse = PerformerResponse.NOTIFY,
                          new_uid: Callable[[], str]) -> StateDecision:
    """Decide a Request UPS Cancel N-ACTION (action type 2): the table's last row plus UPS-24.

    SCHEDULED: the SCP claims the UPS itself with a fresh Transaction UID from ``new_uid``
    (nobody else learns it), then cancels it: two State Reports, IN PROGRESS then CANCELED.
    IN PROGRESS: ``performer`` decides (see :class:`PerformerResponse`).

    Every accepted Request Cancel also sends "UPS Cancel Requested" (PS3.4 CC.2.4.3: "each time
    the SCP receives an N-ACTION … Request UPS Cancel"), including on a SCHEDULED UPS whose cell
    only lists the two State Reports; refused ones (C3xx, B304) send nothing.

    The final-state requirements for CANCELED are the caller's to meet (the SCP fills them in,
    UPS-49); ``_actions.request_cancel`` does that.
    """
    cell = STATE_TABLE[(StateEvent.REQUEST_CANCEL, state)]
    if cell.action is StateAction.SCP_CANCEL:
        return StateDecision(status=cell.status, state=UPSState.CANCELED,
                             transaction_uid=new_uid(),
                             reports=(UPSState.IN_PROGRESS, UPSState.CANCELED),
                             cancel_requested=True)
    if cell.action is StateAction.NOTIFY_CANCEL_REQUESTED:
        return _in_progress_cancel(performer, stored_transaction_uid)
    return _unchanged(cell.status, state, stored_transaction_uid)


def _in_progress_cancel(performer: PerformerResponse, stored: str | None) -> StateDecision:
    status, state, reports, notify = _IN_PROGRESS_CANCEL[performer]
    return StateDecision(status=status, state=state, transaction_uid=stored, reports=reports,
                         cancel_requested=notify)


#: UPS-24's refinement of the IN PROGRESS Request Cancel cell:
#: performer response -> (status, state after, State Reports, send Cancel Requested).
_IN_PROGRESS_CANCEL: Final[Mapping[PerformerResponse,
                                   tuple[Status, UPSState, tuple[UPSState, ...], bool]]] = {
    PerformerResponse.NOTIFY: (Status.SUCCESS, UPSState.IN_PROGRESS, (), True),
    PerformerResponse.UNREACHABLE: (Status.UPS_PERFORMER_CANNOT_BE_CONTACTED,
                                    UPSState.IN_PROGRESS, (), False),
    PerformerResponse.SCP_CANCELS: (Status.SUCCESS, UPSState.CANCELED, (UPSState.CANCELED,),
                                    True),
    PerformerResponse.DECLINED: (Status.UPS_PERFORMER_CHOOSES_NOT_TO_CANCEL,
                                 UPSState.IN_PROGRESS, (), False),
}
