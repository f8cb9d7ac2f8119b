"""pynetdicom as an in-process DIMSE peer (pynetdicom is a test peer only; aioups never uses it).

* :class:`PynetdicomSCP`: a threaded pynetdicom acceptor for every DIMSE service (Verification,
  the five UPS SOP classes, and Basic Film Session for N-DELETE, which UPS lacks) in every
  uncompressed transfer syntax.  Its handlers answer according to the request (see the constants
  below) and record what they received, as :class:`Received`.
* :func:`run_scu`: associate from pynetdicom, run a function on the association, release.  It
  blocks: call it through ``anyio.to_thread.run_sync`` so that the event loop keeps serving.

pynetdicom runs its acceptor and each association in threads of its own; everything shared with
the tests goes through a lock.  Every pynetdicom timeout is short, so a peer that stops answering
fails the test instead of hanging it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydicom.dataset import Dataset
from pydicom.tag import BaseTag, Tag
from pydicom.uid import generate_uid
from pynetdicom import AE, evt
from pynetdicom.association import Association as PynetdicomAssociation
from pynetdicom.dimse_primitives import (
    C_ECHO,
    C_FIND,
    N_ACTION,
    N_CREATE,
    N_DELETE,
    N_EVENT_REPORT,
    N_GET,
    N_SET,
)
from pynetdicom.events import Event, EventHandlerType
from pynetdicom.pdu_primitives import SCP_SCU_RoleSelectionNegotiation
from pynetdicom.presentation import build_context
from pynetdicom.transport import ThreadedAssociationServer

from aioups import _uids

HOST = "127.0.0.1"
#: pynetdicom's ACSE, DIMSE and network timeouts (seconds)
PEER_TIMEOUT = 5.0

#: The uncompressed transfer syntaxes, with the short names used as test ids.
TRANSFER_SYNTAXES = {
    "implicit": _uids.IMPLICIT_VR_LITTLE_ENDIAN,
    "explicit": _uids.EXPLICIT_VR_LITTLE_ENDIAN,
    "big": _uids.EXPLICIT_VR_BIG_ENDIAN,
    "deflated": _uids.DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
}
ALL_TRANSFER_SYNTAXES = list(TRANSFER_SYNTAXES.values())

#: Basic Film Session SOP Class (Print Management): N-DELETE's SOP class (UPS has no N-DELETE)
BASIC_FILM_SESSION = "1.2.840.10008.5.1.1.1"
UPS_SOP_CLASSES = (_uids.UPS_PUSH, _uids.UPS_PULL, _uids.UPS_WATCH, _uids.UPS_EVENT,
                   _uids.UPS_QUERY)

#: N-service requests naming this instance get :data:`FAILURE_STATUS` with every error field.
FAIL_INSTANCE_UID = "1.2.826.0.1.3680043.10.543.99"
FAILURE_STATUS = 0x0106  # invalid attribute value: a failure that carries all the fields
FAILURE_COMMENT = "pynetdicom says no"
FAILURE_ERROR_ID = 0x0BAD
FAILURE_ATTRIBUTES = (0x00100010, 0x00741000)
#: A C-FIND identifier with this Patient ID gets a failure with Offending Element/Error Comment.
FIND_FAIL_PATIENT_ID = "FIND-FAIL"
FIND_FAILURE_STATUS = 0xC311
FIND_OFFENDING = (0x00100020,)
#: A C-FIND identifier with this Patient ID gets one match, then waits for C-CANCEL.
FIND_CANCEL_PATIENT_ID = "FIND-CANCEL"
#: How many matches an ordinary C-FIND gets.
FIND_MATCHES = 3
#: N-ACTION with this Action Type ID (UPS Subscribe to Receive Events) makes the SCP send an
#: N-EVENT-REPORT back on the same association, from a thread (after the N-ACTION-RSP).
EVENT_TRIGGER_ACTION = 3
EVENT_TYPE_ID = 5  # UPS Assigned
T = TypeVar("T")


def ups_instance(sop_instance_uid: str) -> Dataset:
    """A UPS-like data set with binary (endianness-sensitive), text, UID and sequence values."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = _uids.UPS_PUSH
    ds.SOPInstanceUID = sop_instance_uid
    ds.PatientName = "Müller^Jürgen"
    ds.PatientID = "PID-42"
    ds.ProcedureStepState = "SCHEDULED"
    ds.ScheduledProcedureStepPriority = "MEDIUM"
    ds.ProcedureStepLabel = "interop"
    ds.Rows = 0x0102  # US: byte order shows
    ds.Columns = 0x0304
    ds.SimpleFrameList = [0x01020304, 7]  # UL, VM 2
    item = Dataset()
    item.CodeValue = "STATION1"
    item.CodingSchemeDesignator = "99AIOUPS"
    item.CodeMeaning = "Station one"
    ds.ScheduledStationNameCodeSequence = [item]
    return ds


def select(source: Dataset, tags: Sequence[int] | None) -> Dataset:
    """The elements of ``source`` named by ``tags`` (all of them for ``None`` or empty)."""
    if not tags:
        return copy_dataset(source)
    result = Dataset()
    for tag in tags:
        if tag in source:
            result[tag] = source[tag]
    return result


def copy_dataset(source: Dataset) -> Dataset:
    result = Dataset()
    for elem in source:
        result.add(elem)
    return result


@dataclass(frozen=True)
class Received:
    """One request a pynetdicom handler received (or one response an SCU saw)."""

    service: str
    transfer_syntax: str
    message_id: int | None
    sop_class_uid: str | None
    sop_instance_uid: str | None
    #: Action Type ID or Event Type ID
    type_id: int | None = None
    attribute_identifiers: tuple[int, ...] = ()
    data_set: Dataset | None = None
    cancelled: bool = False


@dataclass
class SentEvent:
    """An N-EVENT-REPORT the SCP sent from a thread, and what it got back."""

    thread: threading.Thread
    status: Dataset | None = None
    reply: Dataset | None = None
    error: BaseException | None = None


def tag_list(values: Sequence[BaseTag] | BaseTag | None) -> tuple[int, ...]:
    """pynetdicom's Attribute Identifier List (absent, one tag or several) as ints."""
    if values is None:
        return ()
    if isinstance(values, BaseTag):
        return (int(values),)
    return tuple(int(Tag(v)) for v in values)


def _failure(with_attributes: bool) -> Dataset:
    status = Dataset()
    status.Status = FAILURE_STATUS
    status.ErrorComment = FAILURE_COMMENT
    status.ErrorID = FAILURE_ERROR_ID
    if with_attributes:
        status.AttributeIdentifierList = list(FAILURE_ATTRIBUTES)
    return status


@dataclass
class PynetdicomSCP:
    """A pynetdicom acceptor for every DIMSE service, in a thread; :meth:`start`/:meth:`stop`."""

    ae_title: str = "PYNETDICOM"
    received: list[Received] = field(default_factory=list)
    events_sent: list[SentEvent] = field(default_factory=list)
    #: instance UIDs the N-CREATE handler assigned
    assigned: list[str] = field(default_factory=list)
    server: ThreadedAssociationServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        assert self.server is not None
        port: int = self.server.server_address[1]
        return port

    def start(self) -> None:
        ae = AE(ae_title=self.ae_title)
        configure_timeouts(ae)
        ae.maximum_associations = 50
        for abstract in (_uids.VERIFICATION, BASIC_FILM_SESSION, *UPS_SOP_CLASSES):
            roles = {"scu_role": True, "scp_role": True} if abstract == _uids.UPS_EVENT else {}
            ae.add_supported_context(abstract, ALL_TRANSFER_SYNTAXES, **roles)
        handlers: list[EventHandlerType] = [
            (evt.EVT_C_ECHO, self._on_echo), (evt.EVT_C_FIND, self._on_find),
            (evt.EVT_N_CREATE, self._on_create), (evt.EVT_N_SET, self._on_set),
            (evt.EVT_N_GET, self._on_get), (evt.EVT_N_ACTION, self._on_action),
            (evt.EVT_N_EVENT_REPORT, self._on_event_report),
            (evt.EVT_N_DELETE, self._on_delete),
        ]
        self.server = ae.start_server((HOST, 0), block=False, evt_handlers=handlers)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None
        self.join_event_threads()

    def reset(self) -> None:
        """Forget what was received (between tests)."""
        self.join_event_threads()
        with self._lock:
            self.received.clear()
            self.events_sent.clear()
            self.assigned.clear()

    def join_event_threads(self) -> None:
        for sent in list(self.events_sent):
            sent.thread.join(PEER_TIMEOUT * 2)

    def take(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def _record(self, event: Event, service: str, *, sop_class: str | None,
                instance: str | None, type_id: int | None = None,
                attributes: tuple[int, ...] = (), data_set: Dataset | None = None,
                cancelled: bool = False) -> None:
        with self._lock:
            self.received.append(Received(
                service, str(event.context.transfer_syntax), event.message_id,
                None if sop_class is None else str(sop_class),
                None if instance is None else str(instance), type_id, attributes, data_set,
                cancelled))

    # -- handlers (they run in pynetdicom's threads) -------------------------------------------

    def _on_echo(self, event: Event) -> int:
        req = event.request
        assert isinstance(req, C_ECHO)
        self._record(event, "C-ECHO", sop_class=req.AffectedSOPClassUID, instance=None)
        return 0x0000

    def _on_find(self, event: Event) -> Iterator[tuple[int | Dataset, Dataset | None]]:
        req = event.request
        assert isinstance(req, C_FIND)
        identifier = event.identifier
        patient_id = identifier.get("PatientID", "")
        sop_class = req.AffectedSOPClassUID
        if patient_id == FIND_FAIL_PATIENT_ID:
            self._record(event, "C-FIND", sop_class=sop_class, instance=None,
                         data_set=identifier)
            status = Dataset()
            status.Status = FIND_FAILURE_STATUS
            status.ErrorComment = FAILURE_COMMENT
            status.OffendingElement = list(FIND_OFFENDING)
            yield status, None
            return
        count = 1 if patient_id == FIND_CANCEL_PATIENT_ID else FIND_MATCHES
        for index in range(count):
            match = select(ups_instance(f"1.2.826.0.1.3680043.10.543.{index + 1}"),
                           [int(elem.tag) for elem in identifier] + [0x00080018])
            match.ProcedureStepLabel = f"match {index}"
            yield 0xFF00, match
        cancelled = False
        if patient_id == FIND_CANCEL_PATIENT_ID:
            deadline = time.monotonic() + PEER_TIMEOUT
            while not cancelled and time.monotonic() < deadline:
                cancelled = event.is_cancelled
                time.sleep(0.005)  # a pynetdicom thread polling for C-CANCEL (bounded)
        self._record(event, "C-FIND", sop_class=sop_class, instance=None, data_set=identifier,
                     cancelled=cancelled)
        if cancelled:
            yield 0xFE00, None

    def _on_create(self, event: Event) -> tuple[int | Dataset, Dataset | None]:
        req = event.request
        assert isinstance(req, N_CREATE)
        attributes = event.attribute_list
        self._record(event, "N-CREATE", sop_class=req.AffectedSOPClassUID,
                     instance=req.AffectedSOPInstanceUID, data_set=attributes)
        if req.AffectedSOPInstanceUID == FAIL_INSTANCE_UID:
            return _failure(False), None
        reply = copy_dataset(attributes)
        reply.ProcedureStepState = "SCHEDULED"
        if req.AffectedSOPInstanceUID is None:
            assigned = str(generate_uid())
            with self._lock:
                self.assigned.append(assigned)
            reply.AffectedSOPInstanceUID = assigned  # pynetdicom moves it to the response
        return 0x0000, reply

    def _on_set(self, event: Event) -> tuple[int | Dataset, Dataset | None]:
        req = event.request
        assert isinstance(req, N_SET)
        modifications = event.modification_list
        self._record(event, "N-SET", sop_class=req.RequestedSOPClassUID,
                     instance=req.RequestedSOPInstanceUID, data_set=modifications)
        if req.RequestedSOPInstanceUID == FAIL_INSTANCE_UID:
            return _failure(True), None
        return 0x0000, copy_dataset(modifications)

    def _on_get(self, event: Event) -> tuple[int | Dataset, Dataset | None]:
        req = event.request
        assert isinstance(req, N_GET)
        identifiers = tag_list(req.AttributeIdentifierList)
        self._record(event, "N-GET", sop_class=req.RequestedSOPClassUID,
                     instance=req.RequestedSOPInstanceUID, attributes=identifiers)
        if req.RequestedSOPInstanceUID == FAIL_INSTANCE_UID:
            return _failure(True), None
        return 0x0000, select(ups_instance(str(req.RequestedSOPInstanceUID)), identifiers)

    def _on_action(self, event: Event) -> tuple[int | Dataset, Dataset | None]:
        req = event.request
        assert isinstance(req, N_ACTION)
        information = event.action_information
        self._record(event, "N-ACTION", sop_class=req.RequestedSOPClassUID,
                     instance=req.RequestedSOPInstanceUID, type_id=req.ActionTypeID,
                     data_set=information)
        if req.RequestedSOPInstanceUID == FAIL_INSTANCE_UID:
            return _failure(True), None
        if req.ActionTypeID == EVENT_TRIGGER_ACTION:
            self._send_event_later(event.assoc, str(req.RequestedSOPInstanceUID))
        reply = Dataset()
        reply.TransactionUID = "1.2.826.0.1.3680043.10.543.7"
        reply.ProcedureStepState = information.get("ProcedureStepState", "IN PROGRESS")
        return 0x0000, reply

    def _send_event_later(self, assoc: PynetdicomAssociation, instance: str) -> None:
        """Send N-EVENT-REPORT from a thread: pynetdicom's handler thread cannot send and wait
        on its own association until the handler has returned."""
        info = Dataset()
        info.ProcedureStepState = "SCHEDULED"
        info.InputReadinessState = "READY"

        def send() -> None:
            try:
                sent.status, sent.reply = assoc.send_n_event_report(
                    info, EVENT_TYPE_ID, _uids.UPS_PUSH, instance, msg_id=77,
                    meta_uid=_uids.UPS_EVENT)
            except BaseException as exc:  # reported by the test, not lost in the thread
                sent.error = exc

        sent = SentEvent(threading.Thread(target=send, daemon=True))
        with self._lock:
            self.events_sent.append(sent)
        sent.thread.start()

    def _on_event_report(self, event: Event) -> tuple[int | Dataset, Dataset | None]:
        req = event.request
        assert isinstance(req, N_EVENT_REPORT)
        information = event.event_information
        self._record(event, "N-EVENT-REPORT", sop_class=req.AffectedSOPClassUID,
                     instance=req.AffectedSOPInstanceUID, type_id=req.EventTypeID,
                     data_set=information)
        if req.AffectedSOPInstanceUID == FAIL_INSTANCE_UID:
            return _failure(False), None
        reply = Dataset()
        reply.ProcedureStepState = information.get("ProcedureStepState", "")
        reply.ProcedureStepLabel = "event seen"
        return 0x0000, reply

    def _on_delete(self, event: Event) -> int | Dataset:
        req = event.request
        assert isinstance(req, N_DELETE)
        self._record(event, "N-DELETE", sop_class=req.RequestedSOPClassUID,
                     instance=req.RequestedSOPInstanceUID)
        if req.RequestedSOPInstanceUID == FAIL_INSTANCE_UID:
            return _failure(False)
        return 0x0000


def configure_timeouts(ae: AE) -> None:
    """Short ACSE/DIMSE/network timeouts, so a silent peer fails a test instead of hanging."""
    ae.acse_timeout = PEER_TIMEOUT
    ae.dimse_timeout = PEER_TIMEOUT
    ae.network_timeout = PEER_TIMEOUT


@dataclass
class ResponseLog:
    """The command sets pynetdicom received on one association (``EVT_DIMSE_RECV``)."""

    commands: list[Dataset] = field(default_factory=list)

    def handler(self, event: Event) -> None:
        self.commands.append(copy_dataset(event.message.command_set))


def run_scu(port: int, contexts: Sequence[tuple[str, str]],
            work: Callable[[PynetdicomAssociation], T], *,
            roles: Sequence[SCP_SCU_RoleSelectionNegotiation] = (),
            evt_handlers: Sequence[EventHandlerType] = (),
            called_ae_title: str = "AIOUPS", max_pdu: int = 16382) -> T:
    """Associate from pynetdicom with one context per ``(abstract syntax, transfer syntax)``,
    run ``work(association)`` and release.  Blocking."""
    ae = AE(ae_title="PYNETSCU")
    configure_timeouts(ae)
    requested = [build_context(abstract, [ts]) for abstract, ts in contexts]
    assoc = ae.associate(HOST, port, contexts=requested, ae_title=called_ae_title,
                         max_pdu=max_pdu,
                         ext_neg=list(roles) or None, evt_handlers=list(evt_handlers) or None)
    if not assoc.is_established:
        raise AssertionError(f"pynetdicom could not associate with {HOST}:{port}")
    try:
        result = work(assoc)
    except BaseException:
        assoc.abort()
        raise
    assoc.release()
    return result


def status_of(status: Dataset) -> int:
    """The (0000,0900) Status of a pynetdicom status data set (fails on a missing response)."""
    assert "Status" in status, "pynetdicom got no response (timeout or abort)"
    value: int = status.Status
    return value


def as_dict(ds: Dataset | None) -> dict[str, Any]:
    """A data set as ``{keyword: value}`` (sequences as lists of dicts), for comparisons."""
    if ds is None:
        return {}
    result: dict[str, Any] = {}
    for elem in ds:
        if elem.VR == "SQ":
            result[elem.keyword] = [as_dict(item) for item in elem.value]
        elif elem.VM > 1:
            result[elem.keyword] = list(elem.value)
        else:
            result[elem.keyword] = elem.value
    return result


def run_scu_abortable(port: int, contexts: Sequence[tuple[str, str]],
                      work: Callable[[PynetdicomAssociation], T]) -> T:
    """Like :func:`run_scu`, for ``work`` that may abort the association itself."""
    ae = AE(ae_title="PYNETSCU")
    configure_timeouts(ae)
    assoc = ae.associate(HOST, port, contexts=[build_context(a, [ts]) for a, ts in contexts],
                         ae_title="AIOUPS")
    if not assoc.is_established:
        raise AssertionError(f"pynetdicom could not associate with {HOST}:{port}")
    try:
        return work(assoc)
    finally:
        if assoc.is_established:
            assoc.release()
