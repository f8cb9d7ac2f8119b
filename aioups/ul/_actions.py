"""One pure function per PS3.8 action (Tables 9-6 to 9-9).

An action only records outputs on the context (PDUs to send, events for the user, the ARTIM
deadline) and returns the next state.  It never touches sockets, queues or clocks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..errors import LocalProtocolError, RemoteProtocolError
from ..pdu import (
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AbortReason,
    AbortSource,
    ACSERejectReason,
    AReleaseRP,
    AReleaseRQ,
    PDataTF,
    RejectResult,
    RejectSource,
    UnknownPDU,
    encode_pdata,
    encode_pdu,
)
from ._events import (
    Aborted,
    AssociationAccepted,
    AssociationRejected,
    AssociationRequested,
    DataReceived,
    ProviderAborted,
    Released,
    ReleaseRequested,
    ULEvent,
)
from ._fsm import Action, State
from ._primitives import AssociateAccept, AssociateReject, AssociateRequest, PDataRequest


class Context(Protocol):
    """What an action may do: the ULConnection implements it."""

    is_requestor: bool
    pending_rq: AAssociateRQ | None
    pending_rq_bytes: bytes

    def send_bytes(self, data: bytes) -> None: ...
    def emit(self, event: ULEvent) -> None: ...
    def start_artim(self, now: float) -> None: ...
    def stop_artim(self) -> None: ...


ActionFn = Callable[[Context, object, float], State]


def _abort_reason_for(trigger: object) -> AbortReason:
    """The provider-abort reason that describes a received trigger (SM-02)."""
    if isinstance(trigger, RemoteProtocolError):  # PDUDecodeError or a DIMSE-level error
        return AbortReason(trigger.abort_reason)
    if isinstance(trigger, UnknownPDU):
        return AbortReason.UNRECOGNIZED_PDU
    return AbortReason.UNEXPECTED_PDU


def _describe(trigger: object) -> str:
    if isinstance(trigger, RemoteProtocolError):
        return str(trigger)
    return f"unexpected {type(trigger).__name__}"


def ae_1(c: Context, trigger: object, now: float) -> State:
    """AE-1: issue TRANSPORT CONNECT (the driver connects); remember the RQ for AE-2.

    The RQ is encoded now, so an RQ that cannot be encoded is refused before any connection.
    """
    assert isinstance(trigger, AssociateRequest)
    c.pending_rq_bytes = encode_pdu(trigger.rq)
    c.pending_rq = trigger.rq
    return State.STA4


def ae_2(c: Context, trigger: object, now: float) -> State:
    """AE-2: send A-ASSOCIATE-RQ PDU."""
    assert c.pending_rq is not None
    c.send_bytes(c.pending_rq_bytes or encode_pdu(c.pending_rq))
    return State.STA5


def ae_3(c: Context, trigger: object, now: float) -> State:
    """AE-3: issue A-ASSOCIATE confirmation (accept)."""
    assert isinstance(trigger, AAssociateAC)
    c.emit(AssociationAccepted(ac=trigger))
    return State.STA6


def ae_4(c: Context, trigger: object, now: float) -> State:
    """AE-4: issue A-ASSOCIATE confirmation (reject) and close the transport."""
    assert isinstance(trigger, AAssociateRJ)
    c.emit(AssociationRejected(rj=trigger))
    return State.STA1


def ae_5(c: Context, trigger: object, now: float) -> State:
    """AE-5: issue transport connection response; start ARTIM."""
    c.start_artim(now)
    return State.STA2


def ae_6(c: Context, trigger: object, now: float) -> State:
    """AE-6: stop ARTIM; if the RQ is acceptable to the provider issue the A-ASSOCIATE
    indication, otherwise send A-ASSOCIATE-RJ and start ARTIM.

    The provider checks only the protocol version (UL-10: bit 0 set); everything else is the
    service user's decision.
    """
    assert isinstance(trigger, AAssociateRQ)
    c.stop_artim()
    if not trigger.protocol_version & 1:
        c.send_bytes(encode_pdu(AAssociateRJ(
            result=RejectResult.PERMANENT, source=RejectSource.SERVICE_PROVIDER_ACSE,
            reason=ACSERejectReason.PROTOCOL_VERSION_NOT_SUPPORTED)))
        c.start_artim(now)
        return State.STA13
    c.emit(AssociationRequested(rq=trigger))
    return State.STA3


def ae_7(c: Context, trigger: object, now: float) -> State:
    """AE-7: send A-ASSOCIATE-AC PDU."""
    assert isinstance(trigger, AssociateAccept)
    c.send_bytes(encode_pdu(trigger.ac))
    return State.STA6


def ae_8(c: Context, trigger: object, now: float) -> State:
    """AE-8: send A-ASSOCIATE-RJ PDU and start ARTIM."""
    assert isinstance(trigger, AssociateReject)
    c.send_bytes(encode_pdu(trigger.rj))
    c.start_artim(now)
    return State.STA13


def dt_1(c: Context, trigger: object, now: float) -> State:
    """DT-1: send P-DATA-TF PDU."""
    assert isinstance(trigger, PDataRequest)
    if not trigger.pdvs:
        raise LocalProtocolError("a P-DATA-TF needs at least one PDV (UL-30)")
    c.send_bytes(encode_pdata((p.context_id, p.is_command | (p.is_last << 1), p.data)
                              for p in trigger.pdvs))
    return State.STA6


def dt_2(c: Context, trigger: object, now: float) -> State:
    """DT-2: send P-DATA indication primitive."""
    assert isinstance(trigger, PDataTF)
    c.emit(DataReceived(trigger.pdvs))
    return State.STA6


def ar_1(c: Context, trigger: object, now: float) -> State:
    """AR-1: send A-RELEASE-RQ PDU."""
    c.send_bytes(encode_pdu(AReleaseRQ()))
    return State.STA7


def ar_2(c: Context, trigger: object, now: float) -> State:
    """AR-2: issue A-RELEASE indication primitive."""
    c.emit(ReleaseRequested())
    return State.STA8


def ar_3(c: Context, trigger: object, now: float) -> State:
    """AR-3: issue A-RELEASE confirmation primitive, and close transport connection."""
    c.emit(Released())
    return State.STA1


def ar_4(c: Context, trigger: object, now: float) -> State:
    """AR-4: issue A-RELEASE-RP PDU and start ARTIM."""
    c.send_bytes(encode_pdu(AReleaseRP()))
    c.start_artim(now)
    return State.STA13


def ar_5(c: Context, trigger: object, now: float) -> State:
    """AR-5: stop ARTIM (the peer closed after our RP, RJ or A-ABORT)."""
    c.stop_artim()
    return State.STA1


def ar_6(c: Context, trigger: object, now: float) -> State:
    """AR-6: issue P-DATA indication (still receiving while awaiting A-RELEASE-RP)."""
    assert isinstance(trigger, PDataTF)
    c.emit(DataReceived(trigger.pdvs))
    return State.STA7


def ar_7(c: Context, trigger: object, now: float) -> State:
    """AR-7: issue P-DATA-TF PDU (still sending before answering A-RELEASE-RQ)."""
    dt_1(c, trigger, now)
    return State.STA8


def ar_8(c: Context, trigger: object, now: float) -> State:
    """AR-8: issue A-RELEASE indication (release collision): requestor → Sta9, else Sta10."""
    c.emit(ReleaseRequested(collision=True))
    return State.STA9 if c.is_requestor else State.STA10


def ar_9(c: Context, trigger: object, now: float) -> State:
    """AR-9: send A-RELEASE-RP PDU."""
    c.send_bytes(encode_pdu(AReleaseRP()))
    return State.STA11


def ar_10(c: Context, trigger: object, now: float) -> State:
    """AR-10: issue A-RELEASE confirmation primitive."""
    c.emit(Released())
    return State.STA12


def aa_1(c: Context, trigger: object, now: float) -> State:
    """AA-1: send A-ABORT PDU (service-user source) and start (or restart) ARTIM (SM-02)."""
    c.send_bytes(encode_pdu(AAbort(source=AbortSource.SERVICE_USER,
                                   reason=AbortReason.REASON_NOT_SPECIFIED)))
    c.start_artim(now)
    return State.STA13


def aa_2(c: Context, trigger: object, now: float) -> State:
    """AA-2: stop ARTIM if running; close transport connection."""
    c.stop_artim()
    return State.STA1


def aa_3(c: Context, trigger: object, now: float) -> State:
    """AA-3: issue A-ABORT (source 0) or A-P-ABORT indication; close transport connection."""
    assert isinstance(trigger, AAbort)
    if trigger.source == AbortSource.SERVICE_USER:
        c.emit(Aborted(source=trigger.source, reason=trigger.reason))
    else:
        c.emit(ProviderAborted(reason=trigger.reason, local=False,
                               detail="peer's service provider aborted"))
    return State.STA1


def aa_4(c: Context, trigger: object, now: float) -> State:
    """AA-4: issue A-P-ABORT indication primitive (the transport closed)."""
    c.emit(ProviderAborted(reason=AbortReason.REASON_NOT_SPECIFIED, local=True,
                           detail="transport connection closed"))
    return State.STA1


def aa_5(c: Context, trigger: object, now: float) -> State:
    """AA-5: stop ARTIM."""
    c.stop_artim()
    return State.STA1


def aa_6(c: Context, trigger: object, now: float) -> State:
    """AA-6: ignore PDU."""
    return State.STA13


def aa_7(c: Context, trigger: object, now: float) -> State:
    """AA-7: send A-ABORT PDU (provider source, with the reason that fits the trigger)."""
    c.send_bytes(encode_pdu(AAbort(source=AbortSource.SERVICE_PROVIDER,
                                   reason=_abort_reason_for(trigger))))
    return State.STA13


def aa_8(c: Context, trigger: object, now: float) -> State:
    """AA-8: send A-ABORT PDU (service-provider source), issue A-P-ABORT, start ARTIM."""
    reason = _abort_reason_for(trigger)
    c.send_bytes(encode_pdu(AAbort(source=AbortSource.SERVICE_PROVIDER, reason=reason)))
    c.emit(ProviderAborted(reason=reason, local=True, detail=_describe(trigger)))
    c.start_artim(now)
    return State.STA13


#: Action -> function.
ACTIONS: dict[Action, ActionFn] = {
    Action.AE_1: ae_1, Action.AE_2: ae_2, Action.AE_3: ae_3, Action.AE_4: ae_4,
    Action.AE_5: ae_5, Action.AE_6: ae_6, Action.AE_7: ae_7, Action.AE_8: ae_8,
    Action.DT_1: dt_1, Action.DT_2: dt_2, Action.AR_1: ar_1, Action.AR_2: ar_2,
    Action.AR_3: ar_3, Action.AR_4: ar_4, Action.AR_5: ar_5, Action.AR_6: ar_6,
    Action.AR_7: ar_7, Action.AR_8: ar_8, Action.AR_9: ar_9, Action.AR_10: ar_10,
    Action.AA_1: aa_1, Action.AA_2: aa_2, Action.AA_3: aa_3, Action.AA_4: aa_4,
    Action.AA_5: aa_5, Action.AA_6: aa_6, Action.AA_7: aa_7, Action.AA_8: aa_8,
}
