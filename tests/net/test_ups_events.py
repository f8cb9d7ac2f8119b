"""UPS event reports and subscriptions end to end (digest §4.10, §4.11: UPS-51 … UPS-64).

A :class:`UPSService` on an :class:`aioups.Server`, our client, and real event receivers: one
:class:`aioups.Server` per Receiving AE title, accepting UPS Event as the association acceptor
(the SCP proposes SCU=0/SCP=1, UPS-63).  Every receiver checks what arrives (Push SOP class,
no Transaction UID anywhere, UPS-32) and that the association was addressed to its own title.

"Nothing more arrives" is decided with ``service.delivery.wait_idle()``: a request's events
are queued before its response is sent, so once the response is in and the queues are empty,
every event it produced has been answered by its receiver.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
from ups.factories import code, create_request, performed_sequence

import aioups
from aioups._uids import (
    UPS_EVENT,
    UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE,
    UPS_GLOBAL_SUBSCRIPTION_INSTANCE,
    UPS_PULL,
    UPS_PUSH,
    UPS_QUERY,
    UPS_WATCH,
)
from aioups.dimse import Dataset, NEventReportRQ, NEventReportRSP, generate_uid
from aioups.errors import DIMSEFailure
from aioups.net import Server, ServerConfig, ServiceRequest
from aioups.net._directory import AEAddress
from aioups.net._store import SQLiteStore, UPSStore
from aioups.net._ups_scp import UPSService
from aioups.ul import SupportedSyntax
from aioups.ups import SubscriptionRegistry

pytestmark = pytest.mark.anyio
HOST = "127.0.0.1"
SCP_TITLE = "UPSSCP"
CONTEXTS = tuple(aioups.PresentationContextProposal(abstract_syntax=uid)
                 for uid in (UPS_PUSH, UPS_PULL, UPS_WATCH, UPS_QUERY))
TRANSACTION_UID_TAG = 0x00081195
STATE, CANCEL_REQUESTED, PROGRESS, SCP_STATUS, ASSIGNED = 1, 2, 3, 4, 5


# --- receivers -------------------------------------------------------------------------------


@dataclass
class Received:
    """One N-EVENT-REPORT as a receiver saw it."""

    event_type_id: int
    uid: str
    data_set: Dataset

    @property
    def state(self) -> str:
        """ProcedureStepState, or SCPStatus for type 4, or ``""``."""
        for keyword in ("ProcedureStepState", "SCPStatus"):
            if keyword in self.data_set:
                return str(self.data_set[keyword].value)
        return ""

    @property
    def brief(self) -> tuple[int, str, str]:
        return self.event_type_id, self.uid, self.state


def _tags(data_set: Dataset) -> Iterable[int]:
    for element in data_set:
        yield int(element.tag)
        if element.VR == "SQ":
            for item in element.value:
                yield from _tags(item)


@dataclass
class Receiver:
    """The UPS Event handler of one Receiving AE; ``delay`` makes it answer slowly."""

    title: str
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _changed: anyio.Event = field(default_factory=anyio.Event)

    async def __call__(self, request: ServiceRequest) -> NEventReportRSP:
        message = request.message
        assert isinstance(message, NEventReportRQ)
        data_set = request.data_set if request.data_set is not None else Dataset()
        negotiated = request.association.negotiated
        assert negotiated is not None
        if negotiated.local_ae_title.strip() != self.title:
            self.problems.append(f"called as {negotiated.local_ae_title!r}")
        if negotiated.peer_ae_title.strip() != SCP_TITLE:
            self.problems.append(f"calling AE {negotiated.peer_ae_title!r}")
        if message.affected_sop_class_uid != UPS_PUSH:  # UPS-61
            self.problems.append(f"SOP class {message.affected_sop_class_uid}")
        if TRANSACTION_UID_TAG in set(_tags(data_set)):  # UPS-32, edge case 21
            self.problems.append(f"Transaction UID in event {message.event_type_id}")
        if self.delay:
            await anyio.sleep(self.delay)
        self.received.append(Received(message.event_type_id, message.affected_sop_instance_uid,
                                      data_set))
        self._changed.set()
        return NEventReportRSP(message_id_being_responded_to=message.message_id,
                               affected_sop_class_uid=message.affected_sop_class_uid,
                               affected_sop_instance_uid=message.affected_sop_instance_uid,
                               event_type_id=message.event_type_id)

    @property
    def briefs(self) -> list[tuple[int, str, str]]:
        return [event.brief for event in self.received]

    def of_type(self, event_type_id: int) -> list[Received]:
        return [event for event in self.received if event.event_type_id == event_type_id]

    async def wait_for(self, count: int) -> None:
        while len(self.received) < count:
            self._changed = anyio.Event()
            await self._changed.wait()


def receiver_config(rx: Receiver) -> ServerConfig:
    return ServerConfig(ae_title=rx.title, handlers={(UPS_EVENT, NEventReportRQ): rx},
                        supported={UPS_EVENT: SupportedSyntax(scu_role=False, scp_role=True)},
                        require_called_ae_title=True)


@dataclass
class Harness:
    service: UPSService
    port: int
    receivers: dict[str, Receiver]
    stop: anyio.CancelScope

    def __getitem__(self, title: str) -> Receiver:
        return self.receivers[title]

    async def idle(self) -> None:
        """Every event produced so far has been answered (or dropped)."""
        await self.service.delivery.wait_idle()

    def connect(self, calling_ae_title: str = "CLIENT") -> AbstractAsyncContextManager[
            aioups.Association]:
        return aioups.open_association(HOST, self.port, called_ae_title=SCP_TITLE,
                                       calling_ae_title=calling_ae_title, contexts=CONTEXTS,
                                       max_operations_invoked=8)


@asynccontextmanager
async def ups_scp(titles: Sequence[str] = ("MONITOR",), *, store: UPSStore | None = None,
                  delay: float = 0.0, fallback_aes: tuple[str, ...] = (),
                  purge_after: float | None = 3600.0,
                  directory: dict[str, AEAddress] | None = None,
                  quiet_shutdown: bool = True) -> AsyncIterator[Harness]:
    """Receivers (one Server each), then the UPS SCP; on exit the SCP stops first.

    ``quiet_shutdown`` forgets the subscriptions before stopping the SCP, so no GOING DOWN is
    attempted: with subscribers, stopping stalls 2 s and loses the event (see
    test_going_down_on_orderly_shutdown, xfail).
    """
    receivers = {title: Receiver(title, delay) for title in titles}
    address = dict(directory or {})
    async with anyio.create_task_group() as tg:
        for title, rx in receivers.items():
            address[title] = AEAddress(host=HOST, port=await tg.start(
                Server(receiver_config(rx)).serve, HOST, 0))
        service = UPSService(store, directory=address, ae_title=SCP_TITLE,
                             purge_after=purge_after, fallback_aes=fallback_aes)
        with anyio.CancelScope() as stop:
            async with anyio.create_task_group() as scp:
                await scp.start(service.run)
                server = Server(ServerConfig(ae_title=SCP_TITLE, handlers=service.handlers(),
                                             max_operations_performed=8,
                                             max_operations_invoked=8))
                port = await scp.start(server.serve, HOST, 0)
                harness = Harness(service, port, receivers, stop)
                try:
                    yield harness
                finally:
                    if quiet_shutdown:
                        service.fallback_aes = ()
                        service.subscriptions = SubscriptionRegistry()
                    scp.cancel_scope.cancel()
        tg.cancel_scope.cancel()
    for rx in receivers.values():
        assert not rx.problems, (rx.title, rx.problems)


# --- requests --------------------------------------------------------------------------------


def info(**values: object) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


def new_uid() -> str:
    return generate_uid()


async def subscribe(assoc: aioups.Association, title: str,
                    uid: str = UPS_GLOBAL_SUBSCRIPTION_INSTANCE, *, lock: bool = False,
                    **keys: object) -> aioups.DIMSEResponse:
    return await aioups.n_action(assoc, UPS_PUSH, uid, 3, info(
        ReceivingAE=title, DeletionLock="TRUE" if lock else "FALSE", **keys),
        abstract_syntax=UPS_WATCH)


async def unsubscribe(assoc: aioups.Association, title: str,
                      uid: str = UPS_GLOBAL_SUBSCRIPTION_INSTANCE) -> None:
    await aioups.n_action(assoc, UPS_PUSH, uid, 4, info(ReceivingAE=title),
                          abstract_syntax=UPS_WATCH)


async def suspend(assoc: aioups.Association, title: str) -> None:
    await aioups.n_action(assoc, UPS_PUSH, UPS_GLOBAL_SUBSCRIPTION_INSTANCE, 5,
                          info(ReceivingAE=title), abstract_syntax=UPS_WATCH)


async def create(assoc: aioups.Association, uid: str, **values: object) -> None:
    response = await aioups.n_create(assoc, UPS_PUSH, uid, create_request(**values))
    assert response.status == aioups.Status.SUCCESS


async def claim(assoc: aioups.Association, uid: str) -> str:
    tuid = new_uid()
    await aioups.n_action(assoc, UPS_PUSH, uid, 1, info(
        ProcedureStepState="IN PROGRESS", TransactionUID=tuid), abstract_syntax=UPS_PULL)
    return tuid


async def n_set(assoc: aioups.Association, uid: str, tuid: str | None, **values: object) -> None:
    modification = info(**values)
    if tuid is not None:
        modification.TransactionUID = tuid
    await aioups.n_set(assoc, UPS_PUSH, uid, modification, abstract_syntax=UPS_PULL)


def progress_item(progress: str, description: str) -> Dataset:
    uri = info(ContactURI="https://example.org/ups", ContactDisplayName="Reading room")
    return info(ProcedureStepProgress=progress, ProcedureStepProgressDescription=description,
                ProcedureStepCommunicationsURISequence=[uri])


async def report_progress(assoc: aioups.Association, uid: str, tuid: str, progress: str,
                          description: str = "working") -> None:
    await n_set(assoc, uid, tuid, ProcedureStepProgressInformationSequence=[
        progress_item(progress, description)])


async def complete(assoc: aioups.Association, uid: str, tuid: str) -> None:
    await n_set(assoc, uid, tuid,
                UnifiedProcedureStepPerformedProcedureSequence=[performed_sequence()])
    await aioups.n_action(assoc, UPS_PUSH, uid, 1, info(
        ProcedureStepState="COMPLETED", TransactionUID=tuid), abstract_syntax=UPS_PULL)


async def cancel(assoc: aioups.Association, uid: str, tuid: str) -> None:
    await aioups.n_action(assoc, UPS_PUSH, uid, 1, info(
        ProcedureStepState="CANCELED", TransactionUID=tuid), abstract_syntax=UPS_PULL)


async def state_of(assoc: aioups.Association, uid: str) -> str | int:
    """The workitem's ProcedureStepState, or the failure status of the N-GET."""
    got = await aioups.n_get(assoc, UPS_PUSH, uid, abstract_syntax=UPS_PULL, check=False)
    if got.status != aioups.Status.SUCCESS:
        return int(got.status)
    assert got.data_set is not None and "TransactionUID" not in got.data_set
    return str(got.data_set.ProcedureStepState)


# --- 1. the event types ----------------------------------------------------------------------


async def test_cancel_requested_carries_requester_and_reason() -> None:
    """Type 2 (UPS-24, UPS-60): Requesting AE = the calling AE of the N-ACTION, and each of
    reason, reason code, contact URI and display name iff the request had it; state kept."""
    uid = new_uid()
    with anyio.fail_after(10):
        async with ups_scp() as scp:
            async with scp.connect("PERFORMER") as performer:
                await create(performer, uid)
                tuid = await claim(performer, uid)
                await subscribe(performer, "MONITOR", uid)
            async with scp.connect("REQUESTER") as requester:
                reason = code("110514", "DCM", "Incorrect worklist entry selected")
                response = await aioups.n_action(requester, UPS_PUSH, uid, 2, info(
                    ReasonForCancellation="patient left",
                    ProcedureStepDiscontinuationReasonCodeSequence=[reason],
                    ContactURI="tel:+1-555-0100", ContactDisplayName="Dr. Who"))
                assert response.status == aioups.Status.SUCCESS
                await aioups.n_action(requester, UPS_PUSH, uid, 2, Dataset(),
                                      abstract_syntax=UPS_WATCH)
                await scp.idle()
                assert await state_of(requester, uid) == "IN PROGRESS"  # unchanged
            got = scp["MONITOR"]
            assert got.briefs == [(STATE, uid, "IN PROGRESS"), (CANCEL_REQUESTED, uid, ""),
                                  (CANCEL_REQUESTED, uid, "")]
            full, bare = (event.data_set for event in got.of_type(CANCEL_REQUESTED))
            assert full.RequestingAE == "REQUESTER"
            assert full.ReasonForCancellation == "patient left"
            assert full.ProcedureStepDiscontinuationReasonCodeSequence[0].CodeValue == "110514"
            assert full.ContactURI == "tel:+1-555-0100"
            assert full.ContactDisplayName == "Dr. Who"
            assert [e.keyword for e in bare] == ["RequestingAE"]  # the 1C ones: absent
            assert bare.RequestingAE == "REQUESTER"
            async with scp.connect("PERFORMER") as performer:  # the performer still owns it
                await cancel(performer, uid, tuid)


async def test_request_cancel_of_scheduled_reports_in_progress_then_canceled() -> None:
    """UPS-24, UPS-62, edge case 22: the SCP itself goes IN PROGRESS then CANCELED, two State
    Reports (after the Cancel Requested, CC.2.4.3); the CANCELED one carries the reason."""
    uid = new_uid()
    with anyio.fail_after(10):
        async with ups_scp() as scp, scp.connect("REQUESTER") as assoc:
            await subscribe(assoc, "MONITOR")
            await create(assoc, uid)
            await aioups.n_action(assoc, UPS_PUSH, uid, 2,
                                  info(ReasonForCancellation="not needed"))
            await scp.idle()
            assert await state_of(assoc, uid) == "CANCELED"
    got = scp["MONITOR"]
    assert got.briefs == [(STATE, uid, "SCHEDULED"), (CANCEL_REQUESTED, uid, ""),
                          (STATE, uid, "IN PROGRESS"), (STATE, uid, "CANCELED")]
    canceled = got.received[-1].data_set
    assert canceled.InputReadinessState == "READY"
    assert canceled.ReasonForCancellation == "not needed"
    assert "ProcedureStepDiscontinuationReasonCodeSequence" in canceled


async def test_progress_report_carries_the_whole_progress_sequence() -> None:
    """Type 3 (UPS-47, UPS-60, UPS-62): each update of progress sends the current Progress
    Information Sequence; an N-SET of anything else sends nothing."""
    uid = new_uid()
    with anyio.fail_after(10):
        async with ups_scp() as scp, scp.connect() as assoc:
            await create(assoc, uid)
            await subscribe(assoc, "MONITOR", uid)
            tuid = await claim(assoc, uid)
            await report_progress(assoc, uid, tuid, "40", "reading")
            await n_set(assoc, uid, tuid, ProcedureStepLabel="relabelled")  # no event
            await report_progress(assoc, uid, tuid, "80", "writing")
            await complete(assoc, uid, tuid)
            await scp.idle()
    got = scp["MONITOR"]
    assert got.briefs == [(STATE, uid, "SCHEDULED"), (STATE, uid, "IN PROGRESS"),
                          (PROGRESS, uid, ""), (PROGRESS, uid, ""), (STATE, uid, "COMPLETED")]
    first, second = (event.data_set for event in got.of_type(PROGRESS))
    assert [e.keyword for e in first] == ["ProcedureStepProgressInformationSequence"]
    (item,) = first.ProcedureStepProgressInformationSequence
    assert float(item.ProcedureStepProgress) == 40
    assert item.ProcedureStepProgressDescription == "reading"
    (uri,) = item.ProcedureStepCommunicationsURISequence
    assert uri.ContactURI == "https://example.org/ups"
    assert uri.ContactDisplayName == "Reading room"
    (item,) = second.ProcedureStepProgressInformationSequence
    assert float(item.ProcedureStepProgress) == 80
    assert item.ProcedureStepProgressDescription == "writing"


async def test_assigned_on_creation_and_on_performer_update() -> None:
    """Type 5 (UPS-44, UPS-47, UPS-60): a new UPS with a station name gets State Report then
    UPS Assigned; setting the human performers sends UPS Assigned with station (populated, so
    required), performer codes and organization; other N-SETs send nothing."""
    uid, plain = new_uid(), new_uid()
    station = code("CT01", "99LOCAL", "CT scanner 1")
    performer = info(HumanPerformerCodeSequence=[code("U1", "99LOCAL", "Dr. One")],
                     HumanPerformerName="One^Doctor", HumanPerformerOrganization="Radiology")
    with anyio.fail_after(10):
        async with ups_scp() as scp, scp.connect() as assoc:
            await subscribe(assoc, "MONITOR")
            await create(assoc, plain)  # nothing assigned: State Report only
            await create(assoc, uid, ScheduledStationNameCodeSequence=[station],
                         ScheduledHumanPerformersSequence=[])
            await n_set(assoc, uid, None, ScheduledHumanPerformersSequence=[performer])
            await n_set(assoc, uid, None, CommentsOnTheScheduledProcedureStep="no event")
            await scp.idle()
    got = scp["MONITOR"]
    assert got.briefs == [(STATE, plain, "SCHEDULED"), (STATE, uid, "SCHEDULED"),
                          (ASSIGNED, uid, ""), (ASSIGNED, uid, "")]
    on_create, on_set = (event.data_set for event in got.of_type(ASSIGNED))
    assert on_create.ScheduledStationNameCodeSequence[0].CodeValue == "CT01"
    assert "HumanPerformerCodeSequence" not in on_create
    assert "HumanPerformerOrganization" not in on_create
    assert on_set.ScheduledStationNameCodeSequence[0].CodeValue == "CT01"
    assert [c.CodeValue for c in on_set.HumanPerformerCodeSequence] == ["U1"]
    assert on_set.HumanPerformerOrganization == "Radiology"
    for event in got.of_type(ASSIGNED):
        assert "ProcedureStepState" not in event.data_set


async def test_restarted_to_stored_subscribers_and_fallback_aes(tmp_path: Path) -> None:
    """Type 4 RESTARTED (UPS-62): once to every global and instance subscriber kept in the
    store and to each fallback AE; WARM START since the lists were kept; nobody else."""
    db, uid, titles = tmp_path / "ups.sqlite", new_uid(), ("GLOBAL", "INSTANCE", "FALLBACK",
                                                           "OTHER")
    with anyio.fail_after(10):
        async with ups_scp(titles, store=SQLiteStore(db, synchronous="OFF")) as scp, \
                scp.connect() as assoc:
            await subscribe(assoc, "GLOBAL")
            await create(assoc, uid)
            await subscribe(assoc, "INSTANCE", uid, lock=True)
            await scp.idle()
        async with ups_scp(titles, store=SQLiteStore(db, synchronous="OFF"),
                           fallback_aes=("FALLBACK",)) as scp:
            assert scp.service.ready.is_set()
            await scp.idle()
    for title in ("GLOBAL", "INSTANCE", "FALLBACK"):
        (event,) = scp[title].received
        assert event.event_type_id == SCP_STATUS
        assert event.uid == UPS_GLOBAL_SUBSCRIPTION_INSTANCE  # aioups's choice (UPS-61)
        assert event.data_set.SCPStatus == "RESTARTED"
        assert event.data_set.SubscriptionListStatus == "WARM START"
        assert event.data_set.UnifiedProcedureStepListStatus == "WARM START"
    assert scp["OTHER"].received == []


async def test_restarted_cold_start_to_fallback_aes_only() -> None:
    with anyio.fail_after(10):
        async with ups_scp(("FALLBACK", "OTHER"), fallback_aes=("FALLBACK",)) as scp:
            await scp.idle()
    (event,) = scp["FALLBACK"].received
    assert event.brief == (SCP_STATUS, UPS_GLOBAL_SUBSCRIPTION_INSTANCE, "RESTARTED")
    assert event.data_set.SubscriptionListStatus == "COLD START"
    assert event.data_set.UnifiedProcedureStepListStatus == "COLD START"
    assert scp["OTHER"].received == []


async def test_going_down_on_orderly_shutdown() -> None:
    """Type 4 GOING DOWN (UPS-62) to every subscriber when the service's run is cancelled."""
    with anyio.fail_after(10):
        async with ups_scp(("SUB", "FALLBACK"), fallback_aes=("FALLBACK",),
                           quiet_shutdown=False) as scp:
            async with scp.connect() as assoc:
                await subscribe(assoc, "SUB")
            await scp["FALLBACK"].wait_for(1)  # RESTARTED
            await scp.idle()
            started = time.monotonic()
            # Cancel the SCP's run and server (receivers keep running): this body is inside
            # that scope too, so it ends at the next checkpoint and ups_scp() returns.
            scp.stop.cancel()
            await anyio.lowlevel.checkpoint()
        stopped = time.monotonic() - started
    assert scp["FALLBACK"].briefs == [(SCP_STATUS, UPS_GLOBAL_SUBSCRIPTION_INSTANCE, "RESTARTED"),
                                      (SCP_STATUS, UPS_GLOBAL_SUBSCRIPTION_INSTANCE,
                                       "GOING DOWN")]
    assert scp["SUB"].briefs == [(SCP_STATUS, UPS_GLOBAL_SUBSCRIPTION_INSTANCE, "GOING DOWN")]
    assert stopped < 1.0


# --- 2. subscriptions ------------------------------------------------------------------------


async def test_instance_subscription_gets_one_initial_report_of_the_current_state() -> None:
    """UPS-52, UPS-62: subscribing to one UPS (with or without lock) sends one State Report of
    its current state; re-subscribing sends another (Table CC.2.3-2: "unchanged + init")."""
    uid, other = new_uid(), new_uid()
    with anyio.fail_after(10):
        async with ups_scp() as scp, scp.connect() as assoc:
            await create(assoc, uid)
            await create(assoc, other)
            await claim(assoc, uid)
            response = await subscribe(assoc, "MONITOR", uid)
            assert response.status == aioups.Status.SUCCESS
            await scp.idle()
            assert scp["MONITOR"].briefs == [(STATE, uid, "IN PROGRESS")]
            assert scp["MONITOR"].received[0].data_set.InputReadinessState == "READY"
            await subscribe(assoc, "MONITOR", uid, lock=True)
            await claim(assoc, other)  # not subscribed to that one
            await scp.idle()
    assert scp["MONITOR"].briefs == [(STATE, uid, "IN PROGRESS")] * 2


async def test_global_subscription_initial_reports_only_with_lock() -> None:
    """UPS-52, UPS-62, edge case 24: a global subscription with lock sends one State Report per
    existing UPS (whatever its state); without lock it sends none.  Both then get every new
    UPS's report."""
    scheduled, running, done, later = (new_uid() for _ in range(4))
    with anyio.fail_after(10):
        async with ups_scp(("LOCKED", "UNLOCKED")) as scp, scp.connect() as assoc:
            for uid in (scheduled, running, done):
                await create(assoc, uid)
            await claim(assoc, running)
            await complete(assoc, done, await claim(assoc, done))
            await subscribe(assoc, "LOCKED", lock=True)
            await subscribe(assoc, "UNLOCKED", lock=False)
            await scp.idle()
            assert sorted(scp["LOCKED"].briefs) == sorted([
                (STATE, scheduled, "SCHEDULED"), (STATE, running, "IN PROGRESS"),
                (STATE, done, "COMPLETED")])
            assert scp["UNLOCKED"].briefs == []
            await create(assoc, later)
            await scp.idle()
    assert scp["LOCKED"].briefs[3:] == [(STATE, later, "SCHEDULED")]
    assert scp["UNLOCKED"].briefs == [(STATE, later, "SCHEDULED")]


async def test_filtered_global_subscription_gets_only_matching_workitems() -> None:
    """UPS-53: a filtered global subscription subscribes the AE to every existing and future
    UPS matching its keys; initial reports only with lock (as for the global one)."""
    old_high, old_low, new_high, new_low = (new_uid() for _ in range(4))
    with anyio.fail_after(10):
        async with ups_scp(("HIGH", "HIGHLOCK")) as scp, scp.connect() as assoc:
            await create(assoc, old_high, ScheduledProcedureStepPriority="HIGH")
            await create(assoc, old_low, ScheduledProcedureStepPriority="LOW")
            for title, lock in (("HIGH", False), ("HIGHLOCK", True)):
                response = await subscribe(assoc, title, UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE,
                                           lock=lock, ScheduledProcedureStepPriority="HIGH")
                assert response.status == aioups.Status.SUCCESS
            await scp.idle()
            assert scp["HIGH"].briefs == []
            assert scp["HIGHLOCK"].briefs == [(STATE, old_high, "SCHEDULED")]
            await create(assoc, new_high, ScheduledProcedureStepPriority="HIGH")
            await create(assoc, new_low, ScheduledProcedureStepPriority="LOW")
            for uid in (old_low, new_low, old_high, new_high):
                await claim(assoc, uid)
            await scp.idle()
    expected = [(STATE, new_high, "SCHEDULED"), (STATE, old_high, "IN PROGRESS"),
                (STATE, new_high, "IN PROGRESS")]
    assert scp["HIGH"].briefs == expected
    assert scp["HIGHLOCK"].briefs == [(STATE, old_high, "SCHEDULED"), *expected]


async def test_unsubscribe_stops_events() -> None:
    """UPS-52: unsubscribing from one UPS stops its events; unsubscribing globally removes the
    global subscription and every instance subscription it gave."""
    first, second, third = new_uid(), new_uid(), new_uid()
    with anyio.fail_after(10):
        async with ups_scp(("ONE", "ALL")) as scp, scp.connect() as assoc:
            await subscribe(assoc, "ALL")
            await create(assoc, first)
            await create(assoc, second)
            await subscribe(assoc, "ONE", first)
            await subscribe(assoc, "ONE", second)
            await unsubscribe(assoc, "ONE", first)
            await unsubscribe(assoc, "ALL")
            await claim(assoc, first)
            await claim(assoc, second)
            await create(assoc, third)
            await scp.idle()
    assert scp["ONE"].briefs == [(STATE, first, "SCHEDULED"), (STATE, second, "SCHEDULED"),
                                 (STATE, second, "IN PROGRESS")]
    assert scp["ALL"].briefs == [(STATE, first, "SCHEDULED"), (STATE, second, "SCHEDULED")]


async def test_suspend_global_keeps_existing_instance_subscriptions() -> None:
    """UPS-52 (Suspend: global := None, instance subscriptions unchanged), edge case 24: after
    a suspend, new UPSs send nothing while the UPSs the global subscription covered keep
    reporting; their deletion locks stay too."""
    before, after = new_uid(), new_uid()
    with anyio.fail_after(10):
        async with ups_scp() as scp, scp.connect() as assoc:
            await subscribe(assoc, "MONITOR", lock=True)
            await create(assoc, before)
            await suspend(assoc, "MONITOR")
            await create(assoc, after)
            tuid = await claim(assoc, before)
            await claim(assoc, after)
            await complete(assoc, before, tuid)
            await scp.idle()
            assert scp.service.subscriptions.has_deletion_lock(before)
            assert await scp.service.purge(now=time.time() + 7200) == []
            assert await state_of(assoc, before) == "COMPLETED"
    assert scp["MONITOR"].briefs == [(STATE, before, "SCHEDULED"), (STATE, before, "IN PROGRESS"),
                                     (STATE, before, "COMPLETED")]


async def test_subscription_failures_change_nothing() -> None:
    """UPS-25: an unknown Receiving AE gets C308, an unknown UPS C307, suspend on a UPS C314;
    none of them subscribes anybody."""
    uid = new_uid()
    with anyio.fail_after(10):
        async with ups_scp() as scp, scp.connect() as assoc:
            await create(assoc, uid)
            for title, target, action, status in (
                    ("NOBODY", UPS_GLOBAL_SUBSCRIPTION_INSTANCE, 3, 0xC308),
                    ("MONITOR", new_uid(), 3, 0xC307),
                    ("MONITOR", uid, 5, 0xC314)):
                with pytest.raises(DIMSEFailure) as caught:
                    await aioups.n_action(assoc, UPS_PUSH, target, action,
                                          info(ReceivingAE=title, DeletionLock="FALSE"),
                                          abstract_syntax=UPS_WATCH)
                assert caught.value.status == status
            await claim(assoc, uid)
            await scp.idle()
            assert scp.service.subscriptions.subscribers() == frozenset()
    assert scp["MONITOR"].received == []


# --- 3. fan-out ------------------------------------------------------------------------------

FAN_OUT = 100
FAN_OUT_DELAY = 0.4  # each receiver sleeps this long before answering each report


async def test_fan_out_to_100_global_subscribers_does_not_slow_the_workflow() -> None:
    """100 Receiving AEs, each its own Server, each subscribed globally: every one receives
    every event of create -> claim -> progress -> complete, in order, while the workflow's
    responses come back without waiting for any delivery (the receivers answer slowly)."""
    titles = [f"SUB{i:03d}" for i in range(FAN_OUT)]
    uid = new_uid()
    with anyio.fail_after(20):
        async with ups_scp(titles, delay=FAN_OUT_DELAY) as scp, scp.connect() as assoc:
            async with anyio.create_task_group() as tg:
                for title in titles:
                    tg.start_soon(subscribe, assoc, title)
            assert len(scp.service.subscriptions.subscribers()) == FAN_OUT
            started = time.monotonic()
            await create(assoc, uid)
            tuid = await claim(assoc, uid)
            await report_progress(assoc, uid, tuid, "50")
            await complete(assoc, uid, tuid)
            workflow = time.monotonic() - started
            pending = sum(4 - len(rx.received) for rx in scp.receivers.values())
            await scp.idle()
            delivered = time.monotonic() - started
    expected = [(STATE, uid, "SCHEDULED"), (STATE, uid, "IN PROGRESS"), (PROGRESS, uid, ""),
                (STATE, uid, "COMPLETED")]
    late = {rx.title: rx.briefs for rx in scp.receivers.values() if rx.briefs != expected}
    assert not late
    stats = scp.service.delivery.stats
    assert stats.delivered == 4 * FAN_OUT and stats.dropped_full == stats.dropped_failed == 0
    serial = 4 * FAN_OUT_DELAY  # the least any receiver needs for its four reports
    print(f"fan-out x{FAN_OUT}: workflow {workflow:.3f} s, all delivered after "
          f"{delivered:.3f} s, {pending} reports still pending when the workflow ended")
    assert delivered >= serial
    assert workflow < serial / 2, (workflow, delivered)
    assert pending > FAN_OUT  # not even the second round had been answered
    assert delivered < serial + 3.0  # the receivers were served in parallel


# --- 4. purge --------------------------------------------------------------------------------


async def test_purge_removes_final_workitems_without_deletion_lock() -> None:
    """UPS-14: purge(now=...) removes COMPLETED and CANCELED UPSs older than purge_after that
    no AE holds a deletion lock on (N-GET then C307); locked ones stay until unsubscribed;
    SCHEDULED and IN PROGRESS ones are never purged."""
    done, canceled, requested, locked, running, waiting = (new_uid() for _ in range(6))
    with anyio.fail_after(10):
        async with ups_scp(purge_after=600.0) as scp, scp.connect() as assoc:
            service = scp.service
            for uid in (done, canceled, requested, locked, running, waiting):
                await create(assoc, uid)
            await subscribe(assoc, "MONITOR", locked, lock=True)
            await complete(assoc, done, await claim(assoc, done))
            await cancel(assoc, canceled, await claim(assoc, canceled))
            await aioups.n_action(assoc, UPS_PUSH, requested, 2, Dataset())
            await complete(assoc, locked, await claim(assoc, locked))
            await claim(assoc, running)
            assert await service.purge(now=time.time() + 60) == []  # not old enough
            assert sorted(await service.purge(now=time.time() + 601)) == sorted(
                [done, canceled, requested])
            for uid in (done, canceled, requested):
                assert await state_of(assoc, uid) == 0xC307, uid
                assert uid not in service.workitems and service.store.get(uid) is None
            assert await state_of(assoc, locked) == "COMPLETED"
            assert await state_of(assoc, running) == "IN PROGRESS"
            assert await state_of(assoc, waiting) == "SCHEDULED"
            await unsubscribe(assoc, "MONITOR", locked)
            assert await service.purge(now=time.time() + 601) == [locked]
            assert await state_of(assoc, locked) == 0xC307
            with pytest.raises(DIMSEFailure) as caught:  # and the state table knows it is gone
                await aioups.n_action(assoc, UPS_PUSH, done, 2, Dataset())
            assert caught.value.status == 0xC307


async def test_purge_result_lists_exactly_the_due_workitems() -> None:
    first, second = new_uid(), new_uid()
    with anyio.fail_after(10):
        async with ups_scp(purge_after=600.0) as scp, scp.connect() as assoc:
            await create(assoc, first)
            await create(assoc, second)
            await complete(assoc, first, await claim(assoc, first))
            await aioups.n_action(assoc, UPS_PUSH, second, 2, Dataset())
            assert sorted(await scp.service.purge(now=time.time() + 601)) == sorted(
                [first, second])
            assert await scp.service.purge(now=time.time() + 601) == []


async def test_background_purge_loop() -> None:
    """The loop run() starts purges by itself every purge_after (at most 60 s).  A global
    subscription with lock locks every UPS (UPS-52); unsubscribing from one UPS releases that
    lock, unsubscribing globally releases all of them."""
    free, locked = new_uid(), new_uid()
    with anyio.fail_after(10):
        async with ups_scp(("LOCKER",), purge_after=0.1) as scp, scp.connect() as assoc:
            await subscribe(assoc, "LOCKER", lock=True)
            for uid in (free, locked):
                await create(assoc, uid)
                await complete(assoc, uid, await claim(assoc, uid))
            await anyio.sleep(0.3)  # a few rounds of the loop
            assert await state_of(assoc, free) == "COMPLETED"
            assert await state_of(assoc, locked) == "COMPLETED"
            await unsubscribe(assoc, "LOCKER", free)
            await wait_until_purged(assoc, free)
            assert await state_of(assoc, locked) == "COMPLETED"
            await unsubscribe(assoc, "LOCKER")  # globally: removes its locks (UPS-52)
            await wait_until_purged(assoc, locked)


async def wait_until_purged(assoc: aioups.Association, uid: str) -> None:
    for _ in range(100):
        if await state_of(assoc, uid) == 0xC307:
            return
        await anyio.sleep(0.05)
    raise AssertionError(f"{uid} was not purged")


# --- 5. delivery to a subscriber that is down ------------------------------------------------


async def test_subscriber_down_at_first_gets_events_once_it_is_up() -> None:
    """A failed delivery is retried with backoff (EventDelivery: 3 retries, 0.5 s doubling),
    in order, and the subscription is not changed by failures (UPS-63)."""
    listener = await anyio.create_tcp_listener(local_host=HOST)  # reserve a port, then close it
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    await listener.aclose()
    late = Receiver("LATE")
    uid = new_uid()
    with anyio.fail_after(10):
        async with ups_scp(directory={"LATE": AEAddress(host=HOST, port=port)}) as scp:
            async with scp.connect() as assoc:
                await subscribe(assoc, "LATE")
                await create(assoc, uid)
                await claim(assoc, uid)
            await anyio.sleep(0.2)  # the first attempt has failed by now
            assert late.received == [] and scp.service.delivery.backlog() == {"LATE": 2}
            async with anyio.create_task_group() as tg:
                await tg.start(Server(receiver_config(late)).serve, HOST, port)
                await late.wait_for(2)
                await scp.idle()
                tg.cancel_scope.cancel()
            assert scp.service.subscriptions.subscribers() == {"LATE"}
    assert late.briefs == [(STATE, uid, "SCHEDULED"), (STATE, uid, "IN PROGRESS")]
    assert scp.service.delivery.stats.dropped_failed == 0
    assert not late.problems
