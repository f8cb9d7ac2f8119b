"""The aioups UPS SCP (:class:`UPSService` on :class:`aioups.Server`) with pynetdicom as its peer,
on asyncio and trio.

* pynetdicom as **UPS SCU** for every operation (in worker threads, ``anyio.to_thread``), over
  Push, Pull, Watch and Query contexts: N-CREATE (with and without Affected SOP Instance UID),
  N-GET, N-SET, N-ACTION types 1 to 5, C-FIND on Query, Pull and Watch, and the failure statuses
  of PS3.4 Annex CC as pynetdicom sees them (digest §4).
* pynetdicom as the **event receiver** (UPS Event, an acceptor): the SCP opens the association
  itself, proposing role selection SCU=0/SCP=1 for UPS Event (UPS-63), and sends
  N-EVENT-REPORT; pynetdicom records type, instance and Event Information in order.

pynetdicom (3.0) quirks met here, worked around in :class:`Scu`:

* an empty ``Dataset`` as N-ACTION Action Information is announced in the command (Command
  Data Set Type 0001H) but never sent, so the SCP waits for it: send ``None`` instead;
* back-to-back requests on one association race with pynetdicom's own reactor thread, which
  can take the response ("Received unexpected ... service message", DIMSE timeout, abort;
  pynetdicom issue #875): each request waits until the reactor has run again;
* Nagle's algorithm is left on, so every request with a data set costs a delayed ACK (~40 ms):
  TCP_NODELAY is set on pynetdicom's socket;
* N-service statuses drop Offending Element (0000,0901), which pynetdicom's N-* primitives do
  not have; the raw command sets (``EVT_DIMSE_RECV``) show it.
"""

from __future__ import annotations

import functools
import itertools
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import pytest
from helpers import pynetdicom_peers as pn
from helpers.pynetdicom_peers import ResponseLog
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom import AE, evt
from pynetdicom.association import Association as PynetdicomAssociation
from pynetdicom.dimse_primitives import N_EVENT_REPORT
from pynetdicom.events import Event
from pynetdicom.transport import ThreadedAssociationServer
from ups.factories import code, create_request, lenient, performed_sequence

from aioups import _uids
from aioups.net import Server, ServerConfig
from aioups.net._directory import AEAddress
from aioups.net._ups_scp import UPSService
from aioups.ups import SubscriptionPolicy, SubscriptionRegistry

pytestmark = [pytest.mark.interop, pytest.mark.anyio]

UPS_PUSH, UPS_PULL, UPS_WATCH = _uids.UPS_PUSH, _uids.UPS_PULL, _uids.UPS_WATCH
UPS_EVENT, UPS_QUERY = _uids.UPS_EVENT, _uids.UPS_QUERY
GLOBAL = _uids.UPS_GLOBAL_SUBSCRIPTION_INSTANCE
FILTERED_GLOBAL = _uids.UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE
EXPLICIT = _uids.EXPLICIT_VR_LITTLE_ENDIAN
HOST = pn.HOST
SCP_AE = "UPSSCP"
#: pynetdicom's calling AE title as SCU (:func:`pn.run_scu`)
SCU_AE = "PYNETSCU"
#: pynetdicom's AE title as event receiver
RX_AE = "PYRX"
#: bound on every test body
TEST_TIMEOUT = 20
#: one context per UPS SOP class pynetdicom uses as SCU (UPS-04)
CONTEXTS = [(UPS_PUSH, EXPLICIT), (UPS_PULL, EXPLICIT), (UPS_WATCH, EXPLICIT),
            (UPS_QUERY, EXPLICIT)]
TRANSACTION_UID = 0x00081195
PROCEDURE_STEP_STATE = 0x00741000
T = TypeVar("T")


def new_uid() -> str:
    return str(generate_uid())


def info(**values: object) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


def keys(*elements: DataElement) -> Dataset:
    ds = Dataset()
    for element in elements:
        ds.add(element)
    return ds


def progress_item(progress: str, description: str) -> Dataset:
    """A Progress Information item: what makes a UPS Progress Report (UPS-62)."""
    uri = info(ContactURI="http://performer.example/ups", ContactDisplayName="Performer")
    return info(ProcedureStepProgress=progress, ProcedureStepProgressDescription=description,
                ProcedureStepCommunicationsURISequence=[uri])


# -- pynetdicom as UPS SCU ---------------------------------------------------------------------


class Scu:
    """pynetdicom's UPS SCU calls on one association; runs in a worker thread.

    Every N-service names UPS Push as its SOP class (UPS-05) and goes on the context of the SOP
    class actually used (UPS-04, pynetdicom's ``meta_uid``).  Each returns the (0000,0900)
    status as an int, with the status data set (Error Comment, ...) and the reply data set.
    """

    def __init__(self, assoc: PynetdicomAssociation) -> None:
        self.assoc = assoc
        self._ids = itertools.count(1)

    def _next_id(self) -> int:
        """The next Message ID, once pynetdicom's reactor has woken from the last request.

        pynetdicom's ``send_*`` pause the association's reactor thread and trust its
        ``_is_paused`` flag; right after a response that flag is still set from the pause that
        just ended, so a request sent at once can have its response taken by the reactor
        ("Received unexpected N-GET service message", then a DIMSE timeout and an abort;
        pynetdicom issue #875).  Wait (bounded) until the reactor has run again.
        """
        deadline = time.monotonic() + 0.1
        while self.assoc._is_paused and time.monotonic() < deadline:
            time.sleep(0.0002)
        return next(self._ids)

    def create(self, attributes: Dataset, uid: str | None = None,
               ) -> tuple[int, Dataset, Dataset | None]:
        status, reply = self.assoc.send_n_create(attributes, UPS_PUSH, uid,
                                                 msg_id=self._next_id(), meta_uid=UPS_PUSH)
        return pn.status_of(status), status, reply

    def get(self, uid: str, tags: Sequence[int] | None = None, context: str = UPS_PULL,
            ) -> tuple[int, Dataset, Dataset | None]:
        status, reply = self.assoc.send_n_get(list(tags) if tags else None,  # type: ignore[arg-type]
                                              UPS_PUSH, uid, msg_id=self._next_id(),
                                              meta_uid=context)
        return pn.status_of(status), status, reply

    def set(self, uid: str, modifications: Dataset) -> tuple[int, Dataset]:
        status, _ = self.assoc.send_n_set(modifications, UPS_PUSH, uid, msg_id=self._next_id(),
                                          meta_uid=UPS_PULL)
        return pn.status_of(status), status

    def action(self, uid: str, action_type: int, information: Dataset | None,
               context: str) -> tuple[int, Dataset]:
        # pynetdicom announces a data set (Command Data Set Type 0001) for an empty Dataset
        # but sends none, so the SCP would wait for it: send no Action Information instead.
        status, _ = self.assoc.send_n_action(information or None, action_type, UPS_PUSH, uid,
                                             msg_id=self._next_id(), meta_uid=context)
        return pn.status_of(status), status

    def change_state(self, uid: str, state: str, transaction_uid: str) -> int:
        """N-ACTION type 1 on UPS Pull."""
        return self.action(uid, 1, info(ProcedureStepState=state,
                                        TransactionUID=transaction_uid), UPS_PULL)[0]

    def request_cancel(self, uid: str, context: str = UPS_PUSH, **reason: object) -> int:
        """N-ACTION type 2 on UPS Push (or Watch)."""
        return self.action(uid, 2, info(**reason), context)[0]

    def subscribe(self, uid: str, lock: bool, receiving_ae: str = RX_AE,
                  **matching_keys: object) -> int:
        """N-ACTION type 3 on UPS Watch (matching keys: a filtered global subscription)."""
        return self.action(uid, 3, info(ReceivingAE=receiving_ae,
                                        DeletionLock="TRUE" if lock else "FALSE",
                                        **matching_keys), UPS_WATCH)[0]

    def unsubscribe(self, uid: str, receiving_ae: str = RX_AE) -> int:
        """N-ACTION type 4 on UPS Watch."""
        return self.action(uid, 4, info(ReceivingAE=receiving_ae), UPS_WATCH)[0]

    def suspend(self, uid: str = GLOBAL, receiving_ae: str = RX_AE) -> int:
        """N-ACTION type 5 on UPS Watch."""
        return self.action(uid, 5, info(ReceivingAE=receiving_ae), UPS_WATCH)[0]

    def find(self, identifier: Dataset, model: str = UPS_QUERY,
             ) -> list[tuple[int, Dataset | None]]:
        return [(pn.status_of(status), found) for status, found in
                self.assoc.send_c_find(identifier, model, msg_id=self._next_id())]

    def state_of(self, uid: str) -> str:
        status, _, reply = self.get(uid, [PROCEDURE_STEP_STATE])
        assert status == 0x0000 and reply is not None
        return str(reply.ProcedureStepState)

    def complete(self, uid: str, transaction_uid: str) -> tuple[int, int]:
        """N-SET the performed procedure (P requirements, UPS-48), then → COMPLETED."""
        modification = info(TransactionUID=transaction_uid)
        modification.UnifiedProcedureStepPerformedProcedureSequence = [performed_sequence()]
        return (self.set(uid, modification)[0],
                self.change_state(uid, "COMPLETED", transaction_uid))


async def as_scu(port: int, work: Callable[[Scu], T], **options: Any) -> T:
    """Associate from pynetdicom (Push, Pull, Watch, Query; Explicit VR LE), run ``work`` in a
    worker thread, release; checks that every context was accepted."""
    def checked(assoc: PynetdicomAssociation) -> T:
        accepted = sorted((str(cx.abstract_syntax), str(cx.transfer_syntax[0]))
                          for cx in assoc.accepted_contexts)
        assert accepted == sorted(CONTEXTS)
        # pynetdicom leaves Nagle's algorithm on: a request whose data set follows its command
        # in a second small write then waits for our delayed ACK (~40 ms per N-CREATE/N-SET).
        sock = assoc.dul.socket.socket if assoc.dul.socket is not None else None
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return work(Scu(assoc))

    return await anyio.to_thread.run_sync(functools.partial(
        pn.run_scu, port, CONTEXTS, checked, called_ae_title=SCP_AE, **options))


# -- pynetdicom as event receiver --------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedEvent:
    """One N-EVENT-REPORT pynetdicom received."""

    event_type_id: int
    sop_instance_uid: str
    sop_class_uid: str
    data_set: Dataset
    #: the presentation context's abstract syntax
    abstract_syntax: str
    #: pynetdicom's (as SCU, as SCP) on that context, as negotiated
    roles: tuple[bool, bool]
    calling_ae_title: str

    @property
    def state(self) -> str:
        return str(self.data_set.get("ProcedureStepState", "")
                   or self.data_set.get("SCPStatus", ""))

    @property
    def summary(self) -> tuple[int, str, str]:
        return self.event_type_id, self.sop_instance_uid, self.state


@dataclass
class EventReceiver:
    """A pynetdicom acceptor for UPS Event (the subscriber, UPS Event SCU), in threads.

    ``roles`` are pynetdicom's ``add_supported_context(scu_role=, scp_role=)``: whether it
    accepts the requestor's proposed SCU and SCP roles.  Our SCP proposes SCU=0, SCP=1
    (``aioups.net._delivery``), so by default pynetdicom accepts just that.
    """

    ae_title: str = RX_AE
    roles: tuple[bool | None, bool | None] = (False, True)
    events: list[ReceivedEvent] = field(default_factory=list)
    server: ThreadedAssociationServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        assert self.server is not None
        port: int = self.server.server_address[1]
        return port

    @property
    def address(self) -> AEAddress:
        return AEAddress(host=HOST, port=self.port)

    def start(self) -> None:
        ae = AE(ae_title=self.ae_title)
        pn.configure_timeouts(ae)
        scu_role, scp_role = self.roles
        ae.add_supported_context(UPS_EVENT, [EXPLICIT, _uids.IMPLICIT_VR_LITTLE_ENDIAN],
                                 scu_role=scu_role, scp_role=scp_role)
        self.server = ae.start_server((HOST, 0), block=False,
                                      evt_handlers=[(evt.EVT_N_EVENT_REPORT, self._on_event)])

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None

    def _on_event(self, event: Event) -> tuple[int, Dataset | None]:
        req = event.request
        assert isinstance(req, N_EVENT_REPORT)
        context = next(cx for cx in event.assoc.accepted_contexts
                       if cx.context_id == event.context.context_id)
        received = ReceivedEvent(
            int(req.EventTypeID or 0), str(req.AffectedSOPInstanceUID),
            str(req.AffectedSOPClassUID), event.event_information,
            str(event.context.abstract_syntax), (bool(context.as_scu), bool(context.as_scp)),
            str(event.assoc.requestor.ae_title).strip())
        with self._lock:
            self.events.append(received)
        return 0x0000, None

    def take(self) -> list[ReceivedEvent]:
        with self._lock:
            return list(self.events)

    async def wait_for(self, count: int) -> list[ReceivedEvent]:
        """The first ``count`` events, once they have arrived (poll: pynetdicom's threads)."""
        while len(events := self.take()) < count:  # noqa: ASYNC110 - set by other threads
            await anyio.sleep(0.01)
        return events[:count]

    async def settle(self, seconds: float = 0.2) -> list[ReceivedEvent]:
        """Every event, after ``seconds`` without a new one."""
        seen, since = len(self.take()), time.monotonic()
        while time.monotonic() - since < seconds:
            await anyio.sleep(0.02)
            if len(self.take()) != seen:
                seen, since = len(self.take()), time.monotonic()
        return self.take()

    def reset(self) -> None:
        with self._lock:
            self.events.clear()


@pytest.fixture(scope="module")
def receiver_server(request: pytest.FixtureRequest) -> EventReceiver:
    """pynetdicom listening for UPS events as ``PYRX``, for the module (its shutdown alone
    takes half a second)."""
    rx = EventReceiver()
    rx.start()
    request.addfinalizer(rx.stop)
    return rx


@pytest.fixture
def receiver(receiver_server: EventReceiver) -> EventReceiver:
    """The module's event receiver, with nothing received yet."""
    receiver_server.reset()
    return receiver_server


@asynccontextmanager
async def ups_scp(receiver: EventReceiver | None = None, *, announce_going_down: bool = False,
                  directory: dict[str, AEAddress] | None = None,
                  **options: Any) -> AsyncIterator[tuple[UPSService, int]]:
    """A :class:`UPSService` on an aioups :class:`Server` at 127.0.0.1 (port 0); the receiver,
    if any, is in its AE directory (with ``directory``).

    Unless ``announce_going_down``, the service forgets its fallback AEs and subscriptions just
    before it is stopped, so that it sends no GOING DOWN (an event after the test's own; and to
    an AE that cannot take it, retried for ``shutdown_grace`` seconds).
    """
    directory = dict(directory or {})
    if receiver is not None:
        directory[receiver.ae_title] = receiver.address
    service = UPSService(directory=directory, ae_title=SCP_AE, **options)
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(service.run)
            server = Server(ServerConfig(ae_title=SCP_AE, handlers=service.handlers()))
            port: int = await tg.start(server.serve, HOST, 0)
            try:
                yield service, port
            finally:
                if not announce_going_down:
                    service.fallback_aes = ()
                    service.subscriptions = SubscriptionRegistry(SubscriptionPolicy())
                tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:  # a failing test: report its own exception
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise


def check_events(events: Sequence[ReceivedEvent]) -> None:
    """What every event report must look like (UPS-32, UPS-61, UPS-63)."""
    for event in events:
        assert "TransactionUID" not in event.data_set, event  # UPS-32
        assert event.sop_class_uid == UPS_PUSH  # UPS-61
        assert event.abstract_syntax == UPS_EVENT
        # we proposed SCU=0/SCP=1 and pynetdicom accepted: it is the Event SCU only
        assert event.roles == (True, False)
        assert event.calling_ae_title == SCP_AE


# == pynetdicom as UPS SCU ====================================================================


async def test_life_cycle_statuses() -> None:
    """Create, get, set, claim, complete as pynetdicom sees each status (UPS-11, UPS-31)."""
    uid = new_uid()
    tuid, other = new_uid(), new_uid()
    log = ResponseLog()

    def work(scu: Scu) -> dict[str, Any]:
        out: dict[str, Any] = {}
        status, _, reply = scu.create(create_request(), uid)
        out["create"] = status
        out["create reply"] = pn.as_dict(reply)
        out["create again"] = scu.create(create_request(), uid)[0]  # 0111
        status, _, got = scu.get(uid)
        out["get"] = status
        out["got"] = got
        out["set scheduled"] = scu.set(uid, info(ProcedureStepLabel="relabelled"))[0]
        out["set scheduled with tuid"] = scu.set(uid, info(TransactionUID=tuid,
                                                           ProcedureStepLabel="x"))[0]
        out["claim"] = scu.change_state(uid, "IN PROGRESS", tuid)
        out["claim other tuid"] = scu.change_state(uid, "IN PROGRESS", other)
        out["claim same tuid"] = scu.change_state(uid, "IN PROGRESS", tuid)
        out["back to scheduled"] = scu.change_state(uid, "SCHEDULED", tuid)
        status, _, in_progress = scu.get(uid, context=UPS_WATCH)
        out["get in progress"] = (status, in_progress)
        out["set without tuid"] = scu.set(uid, info(ProcedureStepLabel="y"))[0]
        out["set other tuid"] = scu.set(uid, info(TransactionUID=other,
                                                  ProcedureStepLabel="y"))[0]
        out["complete unmet"] = scu.change_state(uid, "COMPLETED", tuid)
        out["complete other tuid"] = scu.change_state(uid, "COMPLETED", other)
        out["set performed, complete"] = scu.complete(uid, tuid)
        out["complete again"] = scu.change_state(uid, "COMPLETED", tuid)
        out["cancel completed"] = scu.change_state(uid, "CANCELED", tuid)
        out["set completed"] = scu.set(uid, info(TransactionUID=tuid,
                                                 ProcedureStepLabel="z"))[0]
        out["final state"] = scu.get(uid, context=UPS_PUSH)[2]
        return out

    with anyio.fail_after(TEST_TIMEOUT):
        async with ups_scp() as (service, port):
            out = await as_scu(port, work, evt_handlers=[(evt.EVT_DIMSE_RECV, log.handler)])
            assert service.workitems[uid].transaction_uid == tuid  # kept after COMPLETED
    assert out["create"] == 0x0000
    assert out["create reply"] == {}  # no Attribute List in our N-CREATE-RSP
    assert log.commands[0].AffectedSOPInstanceUID == uid
    assert out["create again"] == 0x0111
    assert out["get"] == 0x0000
    got = out["got"]
    assert got.ProcedureStepState == "SCHEDULED"
    assert got.SOPClassUID == UPS_PUSH  # UPS-03
    assert got.SOPInstanceUID == uid
    assert got.WorklistLabel == SCP_AE  # filled in when empty (UPS-43)
    assert got.ScheduledProcedureStepModificationDateTime  # UPS-43
    assert "TransactionUID" not in got  # UPS-32
    assert out["set scheduled"] == 0x0000
    assert out["set scheduled with tuid"] == 0xC310  # UPS-31
    assert out["claim"] == 0x0000
    assert out["claim other tuid"] == 0xC301
    assert out["claim same tuid"] == 0xC302  # UPS-11: IN PROGRESS column, TUID ok
    assert out["back to scheduled"] == 0xC303
    status, in_progress = out["get in progress"]
    assert status == 0x0000
    assert in_progress.ProcedureStepState == "IN PROGRESS"
    assert in_progress.ProcedureStepLabel == "relabelled"
    assert "TransactionUID" not in in_progress
    assert out["set without tuid"] == 0xC301
    assert out["set other tuid"] == 0xC301
    assert out["complete unmet"] == 0xC304  # Performed Procedure Sequence is empty (UPS-48)
    assert out["complete other tuid"] == 0xC301
    assert out["set performed, complete"] == (0x0000, 0x0000)
    assert out["complete again"] == 0xB306
    assert out["cancel completed"] == 0xC300
    assert out["set completed"] == 0xC300
    final = out["final state"]
    assert final.ProcedureStepState == "COMPLETED"
    assert "TransactionUID" not in final
    [performed] = final.UnifiedProcedureStepPerformedProcedureSequence
    assert performed.PerformedProcedureStepEndDateTime == "20240506083000"


async def test_create_without_affected_instance_uid() -> None:
    """pynetdicom can leave the Affected SOP Instance UID out of N-CREATE-RQ (PS3.7 allows it,
    UPS-40 asks for it): we assign one and return it in the N-CREATE-RSP command set."""
    log, sent = ResponseLog(), ResponseLog()

    def work(scu: Scu) -> tuple[int, str, int, Dataset | None]:
        status, _, _ = scu.create(create_request())
        assert "AffectedSOPInstanceUID" not in sent.commands[-1]  # pynetdicom left it out
        assert log.commands[-1].CommandField == 0x8140  # N-CREATE-RSP
        assigned = str(log.commands[-1].AffectedSOPInstanceUID)
        get_status, _, got = scu.get(assigned)
        return status, assigned, get_status, got

    with anyio.fail_after(TEST_TIMEOUT):
        async with ups_scp() as (service, port):
            status, assigned, get_status, got = await as_scu(
                port, work, evt_handlers=[(evt.EVT_DIMSE_RECV, log.handler),
                                          (evt.EVT_DIMSE_SENT, sent.handler)])
            assert list(service.workitems) == [assigned]
    assert status == 0x0000
    assert (get_status, got is not None) == (0x0000, True)
    assert got is not None and got.SOPInstanceUID == assigned
    assert got.ProcedureStepState == "SCHEDULED"


async def test_n_get_attribute_list_and_transaction_uid() -> None:
    """N-GET of listed attributes; asking for the Transaction UID (which an SCU shall not do,
    UPS-50) still returns nothing of it: warning 0001 naming it."""
    uid, tuid = new_uid(), new_uid()

    def work(scu: Scu) -> list[tuple[int, Dataset, Dataset | None]]:
        scu.create(create_request(PatientName="Doe^Jane"), uid)
        assert scu.change_state(uid, "IN PROGRESS", tuid) == 0x0000
        return [scu.get(uid, [0x00100010, PROCEDURE_STEP_STATE], context=UPS_PULL),
                scu.get(uid, [PROCEDURE_STEP_STATE, TRANSACTION_UID], context=UPS_WATCH)]

    with anyio.fail_after(TEST_TIMEOUT):
        async with ups_scp() as (_, port):
            listed, with_tuid = await as_scu(port, work)
    assert listed[0] == 0x0000
    assert pn.as_dict(listed[2]) == {"PatientName": "Doe^Jane",
                                     "ProcedureStepState": "IN PROGRESS"}
    status, status_set, reply = with_tuid
    assert status == 0x0001
    assert pn.tag_list(status_set.get("AttributeIdentifierList")) == (TRANSACTION_UID,)
    assert pn.as_dict(reply) == {"ProcedureStepState": "IN PROGRESS"}


@pytest.mark.parametrize("model", [UPS_QUERY, UPS_PULL, UPS_WATCH],
                         ids=["query", "pull", "watch"])
async def test_c_find(model: str) -> None:
    """C-FIND on each UPS model: the matches with the requested keys, never a Transaction UID
    (UPS-32, UPS-70), SOP Class UID = Push (UPS-06); the final response has no identifier."""
    uids = [new_uid() for _ in range(3)]
    tuid = new_uid()

    def work(scu: Scu) -> dict[str, list[tuple[int, Dataset | None]]]:
        for index, uid in enumerate(uids):
            status = scu.create(create_request(ProcedureStepLabel=f"label {index}",
                                               ScheduledProcedureStepPriority=(
                                                   "HIGH" if index == 2 else "LOW")), uid)[0]
            assert status == 0x0000
        assert scu.change_state(uids[1], "IN PROGRESS", tuid) == 0x0000
        keys = info(ProcedureStepState="SCHEDULED", SOPInstanceUID="", SOPClassUID="",
                    ProcedureStepLabel="", TransactionUID="")
        return {
            "scheduled": scu.find(keys, model),
            "wildcard": scu.find(info(ProcedureStepLabel="label ?", SOPInstanceUID="",
                                      ProcedureStepState=""), model),
            "high in progress": scu.find(info(ScheduledProcedureStepPriority="HIGH",
                                              ProcedureStepState="IN PROGRESS",
                                              SOPInstanceUID=""), model),
            "one uid": scu.find(info(SOPInstanceUID=uids[1], ProcedureStepState=""), model),
        }

    with anyio.fail_after(TEST_TIMEOUT):
        async with ups_scp() as (_, port):
            found = await as_scu(port, work)
    for name, responses in found.items():
        statuses = [status for status, _ in responses]
        assert statuses == [0xFF00] * (len(statuses) - 1) + [0x0000], name
        assert responses[-1][1] is None, name
        for _, match in responses[:-1]:
            assert match is not None and "TransactionUID" not in match, name
    scheduled = [match for _, match in found["scheduled"][:-1]]
    assert sorted(str(m.SOPInstanceUID) for m in scheduled if m) == sorted([uids[0], uids[2]])
    for match in scheduled:
        assert match is not None
        assert set(pn.as_dict(match)) == {"SOPInstanceUID", "SOPClassUID", "ProcedureStepState",
                                          "ProcedureStepLabel"}
        assert match.SOPClassUID == UPS_PUSH
        assert match.ProcedureStepState == "SCHEDULED"
    wildcard = {str(m.SOPInstanceUID): str(m.ProcedureStepState)
                for _, m in found["wildcard"][:-1] if m is not None}
    assert wildcard == {uids[0]: "SCHEDULED", uids[1]: "IN PROGRESS", uids[2]: "SCHEDULED"}
    assert [s for s, _ in found["high in progress"]] == [0x0000]  # HIGH one is SCHEDULED
    [(_, one), _] = found["one uid"]
    assert one is not None and pn.as_dict(one) == {"SOPInstanceUID": uids[1],
                                                   "ProcedureStepState": "IN PROGRESS"}


async def test_c_find_cancel_after_first_match() -> None:
    """C-CANCEL from pynetdicom after the first Pending response: the C-FIND ends with FE00
    (Cancel) or, if every match was already on its way, 0000; the association goes on."""
    def work(scu: Scu) -> tuple[list[int], int]:
        for index in range(10):
            scu.create(create_request(ProcedureStepLabel=f"many {index}"), new_uid())
        statuses: list[int] = []
        message_id = scu._next_id()
        responses = scu.assoc.send_c_find(info(SOPInstanceUID="", ProcedureStepLabel=""),
                                          UPS_QUERY, msg_id=message_id)
        for status, _ in responses:
            statuses.append(pn.status_of(status))
            if len(statuses) == 1:
                scu.assoc.send_c_cancel(message_id, query_model=UPS_QUERY)
        return statuses, scu.get(new_uid())[0]

    with anyio.fail_after(TEST_TIMEOUT):
        async with ups_scp() as (_, port):
            statuses, after = await as_scu(port, work)
    assert statuses[-1] in (0xFE00, 0x0000)
    assert set(statuses[:-1]) == {0xFF00}
    assert len(statuses) <= 11  # ten matches at most, then the final response
    assert after == 0xC307  # the association still answers


async def test_failure_statuses() -> None:
    """The UPS failure (and warning) statuses, each as pynetdicom receives it (digest §4)."""
    uid, claimed, completed, tuid = new_uid(), new_uid(), new_uid(), new_uid()
    unknown = new_uid()

    def work(scu: Scu) -> dict[str, int]:
        for item in (uid, claimed, completed):
            assert scu.create(create_request(), item)[0] == 0x0000
        assert scu.change_state(claimed, "IN PROGRESS", tuid) == 0x0000
        assert scu.change_state(completed, "IN PROGRESS", tuid) == 0x0000
        assert scu.complete(completed, tuid) == (0x0000, 0x0000)
        return {
            "create duplicate": scu.create(create_request(), uid)[0],
            "create global uid": scu.create(create_request(), GLOBAL)[0],
            "create not scheduled": scu.create(create_request(ProcedureStepState="COMPLETED"),
                                               new_uid())[0],
            "create without label": scu.create(create_request(ProcedureStepLabel=None),
                                               new_uid())[0],
            "create with tuid": scu.create(create_request(TransactionUID=tuid), new_uid())[0],
            "get unknown": scu.get(unknown)[0],
            "set unknown": scu.set(unknown, info(ProcedureStepLabel="x"))[0],
            "set state": scu.set(uid, info(ProcedureStepState="SCHEDULED"))[0],
            "claim unknown": scu.change_state(unknown, "IN PROGRESS", tuid),
            "claim without tuid": scu.action(uid, 1, info(ProcedureStepState="IN PROGRESS"),
                                             UPS_PULL)[0],
            "claim without state": scu.action(uid, 1, info(TransactionUID=tuid), UPS_PULL)[0],
            "claim bad state": scu.change_state(uid, "DONE", tuid),
            "complete scheduled": scu.change_state(uid, "COMPLETED", tuid),
            "claim completed": scu.change_state(completed, "IN PROGRESS", tuid),
            "unknown action type": scu.action(uid, 9, info(), UPS_PULL)[0],
            "request cancel unknown": scu.request_cancel(unknown),
            "request cancel completed": scu.request_cancel(completed),
            "request cancel, nobody listens": scu.request_cancel(claimed, UPS_WATCH),
            "subscribe unknown ae": scu.subscribe(GLOBAL, False, receiving_ae="NOBODY"),
            "subscribe unknown uid": scu.subscribe(unknown, False, receiving_ae="ELSEWHERE"),
            "subscribe unknown uid and ae": scu.subscribe(unknown, False, receiving_ae="NOBODY"),
            "subscribe filtered, no keys": scu.subscribe(FILTERED_GLOBAL, False,
                                                         receiving_ae="ELSEWHERE"),
            "subscribe without ae": scu.action(uid, 3, info(DeletionLock="FALSE"),
                                               UPS_WATCH)[0],
            "unsubscribe unknown uid": scu.unsubscribe(unknown),
            "suspend a workitem": scu.suspend(uid),
            "suspend unknown uid": scu.suspend(unknown),
            "find bad identifier": scu.find(info(
                ScheduledStationNameCodeSequence=[info(CodeValue="A"), info(CodeValue="B")]))
            [-1][0],
            "find bad date range": scu.find(keys(lenient(
                "ScheduledProcedureStepStartDateTime", "2024-2023-2022")))[-1][0],
        }

    with anyio.fail_after(TEST_TIMEOUT):
        # ELSEWHERE is a Receiving AE the SCP knows, though nothing listens there
        async with ups_scp(directory={"ELSEWHERE": AEAddress(host=HOST, port=9)}) as (
                service, port):
            statuses = await as_scu(port, work)
            assert service.workitems[claimed].state.value == "IN PROGRESS"
            assert service.subscriptions.subscribers() == frozenset()  # failures change nothing
    assert {name: f"{status:04X}" for name, status in statuses.items()} == {
        "create duplicate": "0111",
        "create global uid": "0111",  # UPS-41
        "create not scheduled": "C309",
        "create without label": "0120",  # missing Type 1 attribute (UPS-42)
        "create with tuid": "0106",  # UPS-30: a non-empty Transaction UID
        "get unknown": "C307",
        "set unknown": "C307",
        "set state": "C303",  # UPS-45 (IMPL): SCHEDULED via N-SET
        "claim unknown": "C307",
        "claim without tuid": "C301",
        "claim without state": "0114",
        "claim bad state": "0115",
        "complete scheduled": "C310",
        "claim completed": "C300",
        "unknown action type": "0123",
        "request cancel unknown": "C307",
        "request cancel completed": "C311",
        "request cancel, nobody listens": "C312",  # UPS-24: the performer cannot be reached
        "subscribe unknown ae": "C308",
        "subscribe unknown uid": "C307",
        "subscribe unknown uid and ae": "C308",  # the Receiving AE is checked first
        "subscribe filtered, no keys": "0115",  # as dcm4chee (UPS-53)
        "subscribe without ae": "0114",
        "unsubscribe unknown uid": "C307",
        "suspend a workitem": "C314",
        "suspend unknown uid": "C307",
        "find bad identifier": "A900",
        "find bad date range": "C000",
    }


async def test_failure_status_fields() -> None:
    """What a failure response carries besides its status, on the wire and as pynetdicom
    reports it: Error Comment always; Offending Element where the SCP names an attribute,
    which pynetdicom keeps for C-FIND but drops from N-service statuses (its N-* primitives
    have no such field)."""
    uid, tuid = new_uid(), new_uid()
    log = ResponseLog()

    def work(scu: Scu) -> list[Dataset]:
        scu.create(create_request(), uid)
        scu.change_state(uid, "IN PROGRESS", tuid)
        return [scu.get(new_uid())[1],
                scu.action(uid, 1, info(ProcedureStepState="COMPLETED", TransactionUID=tuid),
                           UPS_PULL)[1],
                scu.create(create_request(ProcedureStepLabel=None), new_uid())[1],
                scu.set(uid, info(TransactionUID=tuid, PatientName="Other^Name"))[1]]

    with anyio.fail_after(TEST_TIMEOUT):
        async with ups_scp() as (_, port):
            statuses = await as_scu(port, work,
                                    evt_handlers=[(evt.EVT_DIMSE_RECV, log.handler)])
    on_wire = {int(c.MessageIDBeingRespondedTo): c for c in log.commands}
    expected = [(3, 0xC307, None), (4, 0xC304, 0x00741216), (5, 0x0120, 0x00741204),
                (6, 0x0106, 0x00100010)]
    for status, (message_id, expected_status, offending) in zip(statuses, expected, strict=True):
        assert status.Status == expected_status
        assert status.ErrorComment  # e.g. "not met: UnifiedProcedureStepPerformedProc..."
        assert "OffendingElement" not in status  # pynetdicom: not an N-service field
        command = on_wire[message_id]
        assert (command.Status, command.ErrorComment) == (expected_status, status.ErrorComment)
        assert pn.tag_list(command.get("OffendingElement")) == (
            () if offending is None else (offending,))


async def test_request_cancel_statuses() -> None:
    """Request Cancel (type 2) per state (UPS-11 last row, UPS-24): SCHEDULED is cancelled by
    the SCP itself with the requester's reason; CANCELED again is B304."""
    uid = new_uid()
    reason = info(CodeValue="110514", CodingSchemeDesignator="DCM",
                  CodeMeaning="Incorrect worklist entry selected")

    def work(scu: Scu) -> tuple[int, Dataset | None, int, int]:
        scu.create(create_request(), uid)
        first = scu.request_cancel(uid, UPS_PUSH, ReasonForCancellation="wrong patient",
                                   ProcedureStepDiscontinuationReasonCodeSequence=[reason])
        got = scu.get(uid, context=UPS_WATCH)[2]
        return first, got, scu.request_cancel(uid, UPS_WATCH), scu.change_state(
            uid, "IN PROGRESS", new_uid())

    with anyio.fail_after(TEST_TIMEOUT):
        async with ups_scp() as (_, port):
            first, got, again, claim = await as_scu(port, work)
    assert (first, again, claim) == (0x0000, 0xB304, 0xC301)
    assert got is not None and got.ProcedureStepState == "CANCELED"
    assert "TransactionUID" not in got  # the SCP's own lock is kept internally (UPS-12)
    [progress] = got.ProcedureStepProgressInformationSequence
    assert progress.ProcedureStepCancellationDateTime  # X, filled in by the SCP (UPS-48)
    assert progress.ReasonForCancellation == "wrong patient"
    assert progress.ProcedureStepDiscontinuationReasonCodeSequence[0].CodeValue == "110514"


async def test_subscription_statuses_and_locks(receiver: EventReceiver) -> None:
    """Subscribe (type 3: one UPS or global, with or without lock), unsubscribe (4), suspend
    (5) from pynetdicom on UPS Watch; the deletion lock each leaves (UPS-52, UPS-54) and the
    initial State Reports they send (UPS-62)."""
    uid = new_uid()
    with anyio.fail_after(TEST_TIMEOUT):
        async with ups_scp(receiver) as (service, port):
            def locked() -> bool:  # read in the event loop's thread
                return anyio.from_thread.run_sync(service.subscriptions.has_deletion_lock, uid)

            def work(scu: Scu) -> list[tuple[str, int, bool]]:
                assert scu.create(create_request(), uid)[0] == 0x0000
                steps: list[tuple[str, Callable[[], int]]] = [
                    ("subscribe with lock", lambda: scu.subscribe(uid, True)),
                    ("subscribe without lock", lambda: scu.subscribe(uid, False)),
                    ("subscribe with lock again", lambda: scu.subscribe(uid, True)),
                    ("unsubscribe", lambda: scu.unsubscribe(uid)),
                    ("global with lock", lambda: scu.subscribe(GLOBAL, True)),
                    ("suspend global", lambda: scu.suspend(GLOBAL)),
                    ("global without lock", lambda: scu.subscribe(GLOBAL, False)),
                    ("unsubscribe global", lambda: scu.unsubscribe(GLOBAL))]
                return [(name, call(), locked()) for name, call in steps]

            seen = await as_scu(port, work)
            events = await receiver.wait_for(4)
            assert len(await receiver.settle()) == 4
            assert service.subscriptions.subscribers() == frozenset()
    assert seen == [
        ("subscribe with lock", 0x0000, True),
        ("subscribe without lock", 0x0000, False),
        ("subscribe with lock again", 0x0000, True),
        ("unsubscribe", 0x0000, False),
        ("global with lock", 0x0000, True),
        ("suspend global", 0x0000, True),  # instance subscriptions (and locks) are kept
        ("global without lock", 0x0000, True),  # an instance with lock stays so
        ("unsubscribe global", 0x0000, False),  # removes everything, locks too
    ]
    check_events(events)
    # one initial report per instance subscribe and for the global one with lock
    assert [e.summary for e in events] == [(1, uid, "SCHEDULED")] * 4


# == pynetdicom as the event receiver ===========================================================


async def test_events_create_claim_progress_cancel(receiver: EventReceiver) -> None:
    """Global subscriber PYRX (pynetdicom): create (assigned to a station) → claim → progress
    → request cancel → the performer cancels; every event arrives, in order (UPS-60, UPS-62)."""
    uid, tuid = new_uid(), new_uid()
    station = code("STATION1", "99AIOUPS", "Station one")

    def work(scu: Scu) -> list[int]:
        statuses = [scu.subscribe(GLOBAL, False)]
        request = create_request()
        request.ScheduledStationNameCodeSequence = [station]
        statuses.append(scu.create(request, uid)[0])
        statuses.append(scu.change_state(uid, "IN PROGRESS", tuid))
        progress = info(TransactionUID=tuid)
        progress.ProcedureStepProgressInformationSequence = [progress_item("50", "half way")]
        statuses.append(scu.set(uid, progress)[0])
        statuses.append(scu.set(uid, info(TransactionUID=tuid, ProcedureStepLabel="quiet"))[0])
        statuses.append(scu.request_cancel(uid, UPS_WATCH, ReasonForCancellation="stop it",
                                           ContactDisplayName="Dr. Who"))
        statuses.append(scu.change_state(uid, "CANCELED", tuid))
        return statuses

    with anyio.fail_after(TEST_TIMEOUT):
        async with ups_scp(receiver) as (_, port):
            statuses = await as_scu(port, work)
            events = await receiver.wait_for(6)
            assert len(await receiver.settle()) == 6
    assert statuses == [0x0000] * 7
    check_events(events)
    assert [e.summary for e in events] == [
        (1, uid, "SCHEDULED"), (5, uid, ""), (1, uid, "IN PROGRESS"), (3, uid, ""),
        (2, uid, ""), (1, uid, "CANCELED")]
    scheduled, assigned, in_progress, progress, cancel_requested, canceled = events
    assert pn.as_dict(scheduled.data_set) == {"ProcedureStepState": "SCHEDULED",
                                              "InputReadinessState": "READY"}
    assert pn.as_dict(assigned.data_set) == {
        "ScheduledStationNameCodeSequence": [pn.as_dict(station)]}
    assert in_progress.data_set.InputReadinessState == "READY"
    assert pn.as_dict(progress.data_set) == {"ProcedureStepProgressInformationSequence": [{
        "ProcedureStepProgress": "50", "ProcedureStepProgressDescription": "half way",
        "ProcedureStepCommunicationsURISequence": [{
            "ContactURI": "http://performer.example/ups", "ContactDisplayName": "Performer"}]}]}
    assert pn.as_dict(cancel_requested.data_set) == {
        "RequestingAE": SCU_AE, "ReasonForCancellation": "stop it",
        "ContactDisplayName": "Dr. Who"}
    assert canceled.data_set.InputReadinessState == "READY"
    # the performer gave no reason: the SCP's default (UPS-49)
    [reason] = canceled.data_set.ProcedureStepDiscontinuationReasonCodeSequence
    assert (reason.CodeValue, reason.CodingSchemeDesignator) == ("110513", "DCM")


async def test_events_create_claim_complete(receiver: EventReceiver) -> None:
    """Global subscriber with lock: create → claim → N-SET performed (no event) → complete."""
    uid, tuid = new_uid(), new_uid()

    def work(scu: Scu) -> list[int]:
        return [scu.subscribe(GLOBAL, True), scu.create(create_request(), uid)[0],
                scu.change_state(uid, "IN PROGRESS", tuid), *scu.complete(uid, tuid)]

    with anyio.fail_after(TEST_TIMEOUT):
        async with ups_scp(receiver) as (service, port):
            statuses = await as_scu(port, work)
            events = await receiver.wait_for(3)
            assert len(await receiver.settle()) == 3
            assert service.subscriptions.has_deletion_lock(uid)
    assert statuses == [0x0000] * 5
    check_events(events)
    assert [e.summary for e in events] == [
        (1, uid, "SCHEDULED"), (1, uid, "IN PROGRESS"), (1, uid, "COMPLETED")]


async def test_events_request_cancel_of_scheduled(receiver: EventReceiver) -> None:
    """Request Cancel of a SCHEDULED UPS: Cancel Requested, then State Reports IN PROGRESS and
    CANCELED (UPS-62), the last with the requester's reason."""
    uid = new_uid()

    def work(scu: Scu) -> list[int]:
        return [scu.create(create_request(), uid)[0], scu.subscribe(uid, False),
                scu.request_cancel(uid, UPS_PUSH, ReasonForCancellation="not needed")]

    with anyio.fail_after(TEST_TIMEOUT):
        async with ups_scp(receiver) as (_, port):
            statuses = await as_scu(port, work)
            events = await receiver.wait_for(4)
            assert len(await receiver.settle()) == 4
    assert statuses == [0x0000] * 3
    check_events(events)
    assert [e.summary for e in events] == [
        (1, uid, "SCHEDULED"),  # the initial report of the subscription
        (2, uid, ""), (1, uid, "IN PROGRESS"), (1, uid, "CANCELED")]
    assert events[1].data_set.RequestingAE == SCU_AE
    assert events[3].data_set.ReasonForCancellation == "not needed"


async def test_initial_state_reports_on_subscribe(receiver: EventReceiver) -> None:
    """Subscribing to an existing UPS sends its current state at once; a global subscription
    with lock sends one for every UPS, without lock none (UPS-52, UPS-62)."""
    first, second, tuid = new_uid(), new_uid(), new_uid()

    def work(scu: Scu) -> list[int]:
        scu.create(create_request(), first)
        scu.create(create_request(), second)
        scu.change_state(second, "IN PROGRESS", tuid)
        return [scu.subscribe(second, True), scu.subscribe(second, False),
                scu.unsubscribe(second), scu.subscribe(GLOBAL, False),
                scu.subscribe(GLOBAL, True),
                scu.subscribe(first, False)]  # the last one marks the end

    with anyio.fail_after(TEST_TIMEOUT):
        async with ups_scp(receiver) as (_, port):
            statuses = await as_scu(port, work)
            events = await receiver.wait_for(5)
            assert len(await receiver.settle()) == 5
    assert statuses == [0x0000] * 6
    check_events(events)
    assert [e.summary for e in events] == [
        (1, second, "IN PROGRESS"), (1, second, "IN PROGRESS"),  # one per subscribe
        # nothing for unsubscribe or the global subscription without lock
        (1, first, "SCHEDULED"), (1, second, "IN PROGRESS"),  # global with lock: every UPS
        (1, first, "SCHEDULED")]
    assert all(e.data_set.InputReadinessState == "READY" for e in events)


async def test_events_after_suspend_and_unsubscribe_global(receiver: EventReceiver) -> None:
    """Suspend Global (type 5 on the global instance): no new UPSs, existing ones still report;
    Unsubscribe Global (type 4 on it): nothing any more (UPS-52)."""
    first, second, tuid = new_uid(), new_uid(), new_uid()

    def work(scu: Scu) -> list[int]:
        statuses = [scu.subscribe(GLOBAL, False), scu.create(create_request(), first)[0],
                    scu.suspend(GLOBAL), scu.create(create_request(), second)[0],
                    scu.change_state(first, "IN PROGRESS", tuid),
                    scu.unsubscribe(GLOBAL)]
        progress = info(TransactionUID=tuid)
        progress.ProcedureStepProgressInformationSequence = [progress_item("10", "start")]
        statuses += [scu.set(first, progress)[0], scu.change_state(second, "IN PROGRESS", tuid),
                     scu.subscribe(second, False)]  # marks the end
        return statuses

    with anyio.fail_after(TEST_TIMEOUT):
        async with ups_scp(receiver) as (_, port):
            statuses = await as_scu(port, work)
            events = await receiver.wait_for(3)
            assert len(await receiver.settle()) == 3
    assert statuses == [0x0000] * 9
    check_events(events)
    assert [e.summary for e in events] == [
        (1, first, "SCHEDULED"), (1, first, "IN PROGRESS"), (1, second, "IN PROGRESS")]


async def test_filtered_global_subscription(receiver: EventReceiver) -> None:
    """Filtered Global Subscription (type 3 on ``…34.5.1`` with matching keys, UPS-53): with
    lock, an initial report for every matching UPS; then events of matching new UPSs only."""
    high, low, new_high, new_low, tuid = (new_uid() for _ in range(5))

    def work(scu: Scu) -> list[int]:
        statuses = [scu.create(create_request(ScheduledProcedureStepPriority=priority), uid)[0]
                    for uid, priority in ((high, "HIGH"), (low, "LOW"))]
        statuses.append(scu.subscribe(FILTERED_GLOBAL, True,
                                      ScheduledProcedureStepPriority="HIGH"))
        statuses += [scu.create(create_request(ScheduledProcedureStepPriority=priority), uid)[0]
                     for uid, priority in ((new_low, "LOW"), (new_high, "HIGH"))]
        statuses += [scu.change_state(uid, "IN PROGRESS", tuid) for uid in (low, high)]
        return statuses

    with anyio.fail_after(TEST_TIMEOUT):
        async with ups_scp(receiver) as (service, port):
            statuses = await as_scu(port, work)
            events = await receiver.wait_for(3)
            assert len(await receiver.settle()) == 3
            assert service.subscriptions.has_deletion_lock(new_high)
            assert not service.subscriptions.has_deletion_lock(new_low)
    assert statuses == [0x0000] * 7
    check_events(events)
    assert [e.summary for e in events] == [
        (1, high, "SCHEDULED"), (1, new_high, "SCHEDULED"), (1, high, "IN PROGRESS")]


async def test_scp_restarted_to_fallback_receiver(receiver: EventReceiver) -> None:
    """SCP Status Change (type 4) RESTARTED to a fallback AE when the SCP starts (memory store:
    COLD START), for the global subscription instance (UPS-60, UPS-62)."""
    with anyio.fail_after(TEST_TIMEOUT):
        async with ups_scp(receiver, fallback_aes=(RX_AE,)):
            events = await receiver.wait_for(1)
    check_events(events)
    assert [e.summary for e in events] == [(4, GLOBAL, "RESTARTED")]
    assert pn.as_dict(events[0].data_set) == {
        "SCPStatus": "RESTARTED", "SubscriptionListStatus": "COLD START",
        "UnifiedProcedureStepListStatus": "COLD START"}


async def test_scp_going_down_to_receiver(receiver: EventReceiver) -> None:
    """When the SCP stops it sends SCP Status Change GOING DOWN, best effort, to the fallback
    AEs and every subscriber (UPS-62; UPSService.run's docstring), before it has stopped."""
    uid = new_uid()
    with anyio.fail_after(TEST_TIMEOUT):
        async with ups_scp(receiver, fallback_aes=(RX_AE,), announce_going_down=True) as (
                _, port):
            await receiver.wait_for(1)
            assert await as_scu(port, lambda scu: [scu.create(create_request(), uid)[0],
                                                   scu.subscribe(uid, True)]) == [0, 0]
            await receiver.wait_for(2)
        events = receiver.take()  # no waiting: delivered while the SCP was stopping
    check_events(events)
    assert [e.summary for e in events] == [
        (4, GLOBAL, "RESTARTED"), (1, uid, "SCHEDULED"),
        (4, GLOBAL, "GOING DOWN")]  # once, though PYRX is fallback AE and subscriber
    going_down = events[2].data_set
    assert going_down.SCPStatus == "GOING DOWN"
    for keyword in ("SubscriptionListStatus", "UnifiedProcedureStepListStatus"):
        assert going_down.get(keyword) in ("WARM START", "COLD START")  # type 1 (UPS-60)


async def test_receiver_with_both_roles() -> None:
    """pynetdicom configured to accept both roles (scu_role=True, scp_role=True): it answers our
    SCU=0/SCP=1 proposal with SCP role for us (PS3.7 D.3.3.4) and receives the event."""
    rx = EventReceiver(roles=(True, True))
    await anyio.to_thread.run_sync(rx.start)
    try:
        uid = new_uid()
        with anyio.fail_after(TEST_TIMEOUT):
            async with ups_scp(rx) as (_, port):
                statuses = await as_scu(port, lambda scu: [
                    scu.create(create_request(), uid)[0], scu.subscribe(uid, False)])
                events = await rx.wait_for(1)
    finally:
        await anyio.to_thread.run_sync(rx.stop)
    assert statuses == [0x0000, 0x0000]
    check_events(events)
    assert [e.summary for e in events] == [(1, uid, "SCHEDULED")]


async def test_receiver_with_default_roles_gets_nothing() -> None:
    """pynetdicom without role selection for UPS Event (scu_role=scp_role=None) sends no role
    reply, so the default roles apply and we are only the Event SCU on that association: the
    SCP must not send N-EVENT-REPORT there (UPS-63); the event is dropped, nothing breaks."""
    rx = EventReceiver(roles=(None, None))
    await anyio.to_thread.run_sync(rx.start)
    try:
        uid = new_uid()
        with anyio.fail_after(TEST_TIMEOUT):
            async with ups_scp(rx) as (service, port):
                service.delivery.retries = 0  # no backoff: fail at the first attempt
                statuses = await as_scu(port, lambda scu: [
                    scu.create(create_request(), uid)[0], scu.subscribe(uid, False)])
                while service.delivery.stats.dropped_failed == 0:  # noqa: ASYNC110 - a counter
                    await anyio.sleep(0.01)
                # the SCP still serves
                assert await as_scu(port, lambda scu: scu.state_of(uid)) == "SCHEDULED"
    finally:
        await anyio.to_thread.run_sync(rx.stop)
    assert statuses == [0x0000, 0x0000]
    assert rx.take() == []
    assert (service.delivery.stats.delivered, service.delivery.stats.dropped_failed) == (0, 1)
