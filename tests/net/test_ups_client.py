"""The UPS SCU (:class:`aioups.UPSClient`) and the event receiver (:class:`aioups.EventReceiver`)
against an in-process aioups UPS SCP, on asyncio and trio.

The SCP is :class:`UPSService` served by :class:`aioups.Server` with every handler wrapped by a
recorder, so each test can check what the SCP received: the presentation context's abstract
syntax, the SOP class named in the command (always Push for DIMSE-N, UPS-05; the context's class
for C-FIND, UPS-06), the instance and the data set.  A second server on the same service accepts
only UPS Pull and Watch, for the client's context fallback (UPS-02).  Events go to an
:class:`EventReceiver` listening as Receiving AE ``RX``.

Digest references: §4 (UPS-02 usage, UPS-05/06 SOP classes, UPS-20 action information,
UPS-21 Transaction UID, UPS-51..55 subscriptions, UPS-60..64 events).
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from ups.factories import code, create_request, performed_sequence

from aioups import (
    UPS_EVENT,
    UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE,
    UPS_GLOBAL_SUBSCRIPTION_INSTANCE,
    UPS_PULL,
    UPS_PUSH,
    UPS_QUERY,
    UPS_WATCH,
    VERIFICATION,
    EventReceiver,
    PresentationContextProposal,
    ReceivedEvent,
    Status,
    StatusCategory,
    UPSClient,
)
from aioups.dimse import (
    CEchoRQ,
    CFindRQ,
    Dataset,
    NActionRQ,
    NActionRSP,
    NCreateRQ,
    NEventReportRQ,
    NGetRQ,
    NGetRSP,
    NSetRQ,
    generate_uid,
)
from aioups.errors import DIMSEFailure, DIMSETimeout, NoAcceptedContext
from aioups.net import (
    AEAddress,
    Association,
    DIMSEResponse,
    Handler,
    HandlerReturn,
    Server,
    ServerConfig,
    ServiceRequest,
    UPSService,
    echo_handler,
    n_event_report,
    open_association,
)
from aioups.net._ups_client import DEFAULT_CONTEXTS, ups_contexts
from aioups.ul import SupportedSyntax

pytestmark = pytest.mark.anyio

HOST = "127.0.0.1"
SCP_AE = "UPSSCP"
#: the Receiving AE the SCP delivers events to (an EventReceiver listening)
RX_AE = "RX"
#: our calling AE title as SCU
SCU_AE = "SCU1"
#: bound on every test body (seconds)
QUICK = 10
#: Action Type IDs (UPS-20)
CHANGE_STATE, REQUEST_CANCEL, SUBSCRIBE, UNSUBSCRIBE, SUSPEND = 1, 2, 3, 4, 5
EVENT_CONTEXT_AS_SCP = PresentationContextProposal(abstract_syntax=UPS_EVENT, scu_role=False,
                                                   scp_role=True)
_SERVICE_NAMES = {CEchoRQ: "C-ECHO", CFindRQ: "C-FIND", NActionRQ: "N-ACTION",
                  NCreateRQ: "N-CREATE", NGetRQ: "N-GET", NSetRQ: "N-SET",
                  NEventReportRQ: "N-EVENT-REPORT"}


def new_uid() -> str:
    return str(generate_uid())


def info(**values: Any) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


# -- the SCP and what it saw ---------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """One request as the SCP's handler received it."""

    context: str
    service: str
    #: Affected SOP Class UID (N-CREATE, C-FIND) or Requested SOP Class UID (N-GET/SET/ACTION)
    sop_class: str
    instance: str | None
    type_id: int | None
    attributes: tuple[int, ...] | None
    data_set: Dataset | None = field(compare=False)


class Recorder:
    """Wraps handlers so every request they get is recorded as :class:`Seen` first."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []

    def wrap(self, handler: Handler) -> Handler:
        def recording(request: ServiceRequest) -> Any:
            message = request.message
            self.seen.append(Seen(
                context=request.context.abstract_syntax,
                service=_SERVICE_NAMES[type(message)],
                sop_class=(getattr(message, "requested_sop_class_uid", None)
                           or message.affected_sop_class_uid),  # type: ignore[union-attr]
                instance=(getattr(message, "requested_sop_instance_uid", None)
                          or getattr(message, "affected_sop_instance_uid", None)),
                type_id=getattr(message, "action_type_id", None),
                attributes=getattr(message, "attribute_identifier_list", None),
                data_set=request.data_set))
            return handler(request)  # a coroutine, or a C-FIND async iterator

        return recording

    def of(self, service: str) -> list[Seen]:
        return [s for s in self.seen if s.service == service]

    def last(self, service: str) -> Seen:
        return self.of(service)[-1]


@dataclass
class SCP:
    service: UPSService
    #: a server for every UPS context (Push, Pull, Watch, Query, Event accepted) + Verification
    port: int
    #: a server on the same service accepting UPS Pull and Watch only
    limited_port: int
    receiver: EventReceiver
    recorder: Recorder

    def connect(self, *, port: int | None = None, calling_ae_title: str = SCU_AE,
                **options: Any) -> Any:
        return UPSClient.connect(HOST, self.port if port is None else port,
                                 called_ae_title=SCP_AE, calling_ae_title=calling_ae_title,
                                 **options)

    @property
    def seen(self) -> list[Seen]:
        return self.recorder.seen


def _config(handlers: dict[tuple[str, type], Handler], *extra: str) -> ServerConfig:
    supported = {syntax: SupportedSyntax() for syntax, _ in handlers}
    supported.update({syntax: SupportedSyntax() for syntax in extra})
    return ServerConfig(ae_title=SCP_AE, handlers=handlers, supported=supported,
                        max_operations_performed=8, max_operations_invoked=8)


@asynccontextmanager
async def ups_scp(receiver: EventReceiver | None = None) -> AsyncIterator[SCP]:
    receiver = receiver or EventReceiver(RX_AE)
    recorder = Recorder()
    async with anyio.create_task_group() as tg:
        rx_port = await tg.start(receiver.serve, HOST, 0)
        service = UPSService(directory={RX_AE: AEAddress(host=HOST, port=rx_port)},
                             ae_title=SCP_AE, purge_after=None)
        await tg.start(service.run)
        handlers = {key: recorder.wrap(handler) for key, handler in service.handlers().items()}
        limited = {key: handler for key, handler in handlers.items()
                   if key[0] in (UPS_PULL, UPS_WATCH, VERIFICATION)}
        port = await tg.start(Server(_config(handlers, UPS_EVENT)).serve, HOST, 0)
        limited_port = await tg.start(Server(_config(limited)).serve, HOST, 0)
        yield SCP(service, port, limited_port, receiver, recorder)
        # Let the queued events go out, then stop without announcing GOING DOWN: the receiver
        # stops at the same moment, so that delivery could only fail or delay the teardown
        # (tests/interop/test_ups_scp_pynetdicom.py::test_scp_going_down_to_receiver covers it).
        with anyio.move_on_after(2):
            await service.delivery.wait_idle()
        service.directory.clear()
        tg.cancel_scope.cancel()


async def receive(receiver: EventReceiver, timeout: float = 5.0) -> ReceivedEvent:
    with anyio.fail_after(timeout):
        return await receiver.receive()


async def create(client: UPSClient, uid: str | None = None, **values: Any) -> str:
    response = await client.create(create_request(**values), uid or new_uid())
    assigned = response.affected_sop_instance_uid
    assert assigned is not None
    return assigned


# -- Verification, N-CREATE, N-GET ----------------------------------------------------------------


async def test_echo() -> None:
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            response = await client.echo()
            assert response.status == Status.SUCCESS
            assert (await client.echo(timeout=2.0)).category is StatusCategory.SUCCESS
    assert [(s.context, s.service, s.sop_class) for s in scp.seen] == [
        (VERIFICATION, "C-ECHO", VERIFICATION)] * 2


async def test_create_with_uid() -> None:
    uid = new_uid()
    request = create_request()
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            response = await client.create(request, uid)
            assert response.status == Status.SUCCESS
            assert response.affected_sop_instance_uid == uid
            assert scp.service.workitems[uid].state.value == "SCHEDULED"
    [seen] = scp.seen
    assert (seen.context, seen.service, seen.sop_class, seen.instance) == (
        UPS_PUSH, "N-CREATE", UPS_PUSH, uid)
    assert seen.data_set is not None
    assert seen.data_set.ProcedureStepLabel == request.ProcedureStepLabel


async def test_create_without_uid_gets_the_assigned_one() -> None:
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            response = await client.create(create_request())
            assigned = response.affected_sop_instance_uid
            assert assigned and assigned in scp.service.workitems
            got = await client.get(assigned)
            assert got.data_set is not None and got.data_set.SOPInstanceUID == assigned
            other = await client.create(create_request())
            assert other.affected_sop_instance_uid not in (None, assigned)
    seen = scp.recorder.of("N-CREATE")[0]
    assert seen.instance is None  # the command carried no Affected SOP Instance UID


async def test_get_all_attributes() -> None:
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            uid = await create(client)
            await client.claim(uid)
            got = await client.get(uid)
    assert got.status == Status.SUCCESS
    ds = got.data_set
    assert ds is not None
    assert ds.SOPClassUID == UPS_PUSH and ds.SOPInstanceUID == uid
    assert ds.ProcedureStepState == "IN PROGRESS"
    assert ds.ProcedureStepLabel == create_request().ProcedureStepLabel
    assert "TransactionUID" not in ds  # UPS-32
    seen = scp.recorder.last("N-GET")
    assert (seen.context, seen.sop_class, seen.instance, seen.attributes) == (
        UPS_PUSH, UPS_PUSH, uid, None)


async def test_get_selected_by_keyword_and_by_tag() -> None:
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            uid = await create(client)
            got = await client.get(uid, ["ProcedureStepState", 0x00741200])
            by_tag_only = await client.get(uid, (0x00404041,))
    assert got.data_set is not None
    assert sorted(elem.keyword for elem in got.data_set) == [
        "ProcedureStepState", "ScheduledProcedureStepPriority"]
    assert got.data_set.ProcedureStepState == "SCHEDULED"
    assert got.data_set.ScheduledProcedureStepPriority == "MEDIUM"
    assert by_tag_only.data_set is not None
    assert [elem.keyword for elem in by_tag_only.data_set] == ["InputReadinessState"]
    first, second = scp.recorder.of("N-GET")
    assert first.attributes == (0x00741000, 0x00741200)
    assert second.attributes == (0x00404041,)


# -- N-SET, Change State -------------------------------------------------------------------------


async def test_set_injects_the_transaction_uid_without_touching_the_callers_data_set() -> None:
    modifications = info(CommentsOnTheScheduledProcedureStep="first pass")
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            uid = await create(client)
            tuid = await client.claim(uid)
            response = await client.set(uid, modifications, transaction_uid=tuid)
            assert response.status == Status.SUCCESS
            got = await client.get(uid, ["CommentsOnTheScheduledProcedureStep"])
            with pytest.raises(DIMSEFailure) as caught:  # IN PROGRESS needs the UID (UPS-31)
                await client.set(uid, modifications)
    assert caught.value.status == Status.UPS_TRANSACTION_UID_NOT_CORRECT == 0xC301
    assert got.data_set is not None
    assert got.data_set.CommentsOnTheScheduledProcedureStep == "first pass"
    assert "TransactionUID" not in modifications  # the caller's data set is untouched
    assert [elem.keyword for elem in modifications] == ["CommentsOnTheScheduledProcedureStep"]
    sent, unlocked = scp.recorder.of("N-SET")
    assert (sent.context, sent.sop_class, sent.instance) == (UPS_PULL, UPS_PUSH, uid)
    assert sent.data_set is not None and sent.data_set.TransactionUID == tuid
    assert sent.data_set.CommentsOnTheScheduledProcedureStep == "first pass"
    assert unlocked.data_set is not None and "TransactionUID" not in unlocked.data_set


async def test_set_on_a_scheduled_workitem_sends_no_transaction_uid() -> None:
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            uid = await create(client)
            await client.set(uid, info(ProcedureStepLabel="relabelled"))
            got = await client.get(uid, ["ProcedureStepLabel"])
    assert got.data_set is not None and got.data_set.ProcedureStepLabel == "relabelled"
    sent = scp.recorder.last("N-SET")
    assert sent.data_set is not None and "TransactionUID" not in sent.data_set  # UPS-31


async def test_set_leaves_a_stale_transaction_uid_in_the_callers_data_set_alone() -> None:
    stale = "1.2.826.0.1.3680043.2.1125.404"
    modifications = info(CommentsOnTheScheduledProcedureStep="again", TransactionUID=stale)
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            uid = await create(client)
            tuid = await client.claim(uid)
            await client.set(uid, modifications, transaction_uid=tuid)
    sent = scp.recorder.last("N-SET")
    assert sent.data_set is not None and sent.data_set.TransactionUID == tuid
    assert modifications.TransactionUID == stale  # fails: it is now ``tuid``


async def test_subscribe_leaves_the_callers_matching_keys_alone() -> None:
    keys = info(ScheduledProcedureStepPriority="HIGH", ReceivingAE="OLD", DeletionLock="TRUE")
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            await client.subscribe(receiving_ae=RX_AE, matching_keys=keys)
    seen = scp.recorder.last("N-ACTION")
    assert seen.data_set is not None
    assert (seen.data_set.ReceivingAE, seen.data_set.DeletionLock) == (RX_AE, "FALSE")
    assert (keys.ReceivingAE, keys.DeletionLock) == ("OLD", "TRUE")  # fails: RX, FALSE


async def test_claim_returns_a_new_transaction_uid_or_uses_the_given_one() -> None:
    given = "1.2.826.0.1.3680043.2.1125.77"
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            first, second, third = [await create(client) for _ in range(3)]
            tuid1 = await client.claim(first)
            tuid2 = await client.claim(second)
            tuid3 = await client.claim(third, given)
    assert tuid1 != tuid2 and tuid3 == given
    for tuid in (tuid1, tuid2):
        assert tuid.replace(".", "").isdigit() and len(tuid) <= 64
    claims = scp.recorder.of("N-ACTION")
    assert [(s.context, s.sop_class, s.type_id) for s in claims] == [
        (UPS_PULL, UPS_PUSH, CHANGE_STATE)] * 3
    assert [s.instance for s in claims] == [first, second, third]
    assert [(s.data_set.ProcedureStepState, s.data_set.TransactionUID)  # type: ignore[union-attr]
            for s in claims] == [("IN PROGRESS", t) for t in (tuid1, tuid2, given)]
    assert scp.service.workitems[third].transaction_uid == given


async def test_change_state_complete_and_its_failures() -> None:
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            uid = await create(client)
            tuid = await client.claim(uid)
            with pytest.raises(DIMSEFailure) as again:  # same UID: C302 (UPS-11)
                await client.change_state(uid, "IN PROGRESS", tuid)
            with pytest.raises(DIMSEFailure) as early:  # P attributes missing: C304
                await client.complete(uid, tuid)
            with pytest.raises(DIMSEFailure) as wrong:
                await client.complete(uid, "1.2.3.4")
            await client.set(uid, info(UnifiedProcedureStepPerformedProcedureSequence=[
                performed_sequence()]), tuid)
            completed = await client.complete(uid, tuid)
            twice = await client.complete(uid, tuid)  # B306: a warning, returned
            got = await client.get(uid, ["ProcedureStepState"])
    assert (again.value.status, early.value.status, wrong.value.status) == (
        0xC302, 0xC304, 0xC301)
    assert isinstance(again.value.response, DIMSEResponse)
    assert again.value.response.status == 0xC302
    assert completed.status == Status.SUCCESS
    assert twice.status == 0xB306 and twice.category is StatusCategory.WARNING
    assert got.data_set is not None and got.data_set.ProcedureStepState == "COMPLETED"
    states = [s.data_set.ProcedureStepState for s in scp.recorder.of("N-ACTION")
              if s.data_set is not None]
    assert states == ["IN PROGRESS", "IN PROGRESS", "COMPLETED", "COMPLETED", "COMPLETED",
                      "COMPLETED"]


async def test_cancel_as_the_performer() -> None:
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            uid = await create(client)
            tuid = await client.claim(uid)
            response = await client.cancel(uid, tuid)
            got = await client.get(uid)
    assert response.status == Status.SUCCESS
    ds = got.data_set
    assert ds is not None and ds.ProcedureStepState == "CANCELED"
    [progress] = ds.ProcedureStepProgressInformationSequence  # filled in by the SCP (UPS-49)
    assert progress.ProcedureStepCancellationDateTime
    seen = scp.recorder.last("N-ACTION")
    assert (seen.context, seen.type_id) == (UPS_PULL, CHANGE_STATE)
    assert seen.data_set is not None
    assert (seen.data_set.ProcedureStepState, seen.data_set.TransactionUID) == ("CANCELED", tuid)


# -- Request Cancel and the subscriber that hears of it ------------------------------------------


async def test_request_cancel_reaches_the_subscriber_with_every_detail() -> None:
    reason_code = code("110514", "DCM", "Incorrect worklist entry selected")
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            uid = await create(client)
            await client.subscribe(uid, receiving_ae=RX_AE)
            initial = await receive(scp.receiver)
            tuid = await client.claim(uid)
            claimed = await receive(scp.receiver)
            response = await client.request_cancel(
                uid, reason="patient left", reason_code=reason_code,
                contact_uri="tel:+1-555-0100", contact_name="Dr. Who")
            requested = await receive(scp.receiver)
            got = await client.get(uid, ["ProcedureStepState"])
            await client.cancel(uid, tuid)  # the performer decides
            canceled = await receive(scp.receiver)
    assert response.status == Status.SUCCESS
    assert [(e.event_type_id, e.state) for e in (initial, claimed, canceled)] == [
        (1, "SCHEDULED"), (1, "IN PROGRESS"), (1, "CANCELED")]
    assert requested.event_type_id == 2 and requested.event_type == "UPS Cancel Requested"
    assert requested.sop_instance_uid == uid and requested.sop_class_uid == UPS_PUSH
    assert requested.state is None
    ds = requested.data_set
    assert ds.RequestingAE == SCU_AE
    assert ds.ReasonForCancellation == "patient left"
    assert ds.ContactURI == "tel:+1-555-0100" and ds.ContactDisplayName == "Dr. Who"
    [item] = ds.ProcedureStepDiscontinuationReasonCodeSequence
    assert (item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning) == (
        "110514", "DCM", "Incorrect worklist entry selected")
    assert got.data_set is not None and got.data_set.ProcedureStepState == "IN PROGRESS"
    seen = [s for s in scp.recorder.of("N-ACTION") if s.type_id == REQUEST_CANCEL]
    assert [(s.context, s.sop_class, s.instance) for s in seen] == [(UPS_PUSH, UPS_PUSH, uid)]
    assert seen[0].data_set is not None
    assert sorted(elem.keyword for elem in seen[0].data_set) == [
        "ContactDisplayName", "ContactURI", "ProcedureStepDiscontinuationReasonCodeSequence",
        "ReasonForCancellation"]


async def test_request_cancel_of_a_scheduled_workitem_without_details() -> None:
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            uid = await create(client)
            response = await client.request_cancel(uid)
            got = await client.get(uid, ["ProcedureStepState"])
    assert response.status == Status.SUCCESS
    assert got.data_set is not None and got.data_set.ProcedureStepState == "CANCELED"
    seen = scp.recorder.last("N-ACTION")
    assert seen.type_id == REQUEST_CANCEL
    assert seen.data_set is None or len(seen.data_set) == 0  # nothing made up


# -- Watch: subscriptions ------------------------------------------------------------------------


async def test_subscribe_to_one_workitem_with_deletion_lock_then_unsubscribe() -> None:
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            uid = await create(client)
            response = await client.subscribe(uid, receiving_ae=RX_AE, deletion_lock=True)
            assert response.status == Status.SUCCESS
            initial = await receive(scp.receiver)
            assert scp.service.subscriptions.has_deletion_lock(uid)
            await client.unsubscribe(uid, receiving_ae=RX_AE)
            assert not scp.service.subscriptions.has_deletion_lock(uid)
            assert scp.service.subscriptions.recipients(uid) == frozenset()
    assert (initial.event_type_id, initial.sop_instance_uid, initial.state) == (1, uid,
                                                                               "SCHEDULED")
    subscribe, unsubscribe = scp.recorder.of("N-ACTION")
    assert (subscribe.context, subscribe.sop_class, subscribe.instance, subscribe.type_id) == (
        UPS_WATCH, UPS_PUSH, uid, SUBSCRIBE)
    assert subscribe.data_set is not None
    assert (subscribe.data_set.ReceivingAE, subscribe.data_set.DeletionLock) == (RX_AE, "TRUE")
    assert (unsubscribe.context, unsubscribe.instance, unsubscribe.type_id) == (
        UPS_WATCH, uid, UNSUBSCRIBE)
    assert unsubscribe.data_set is not None
    assert [elem.keyword for elem in unsubscribe.data_set] == ["ReceivingAE"]
    assert unsubscribe.data_set.ReceivingAE == RX_AE


async def test_receiving_ae_defaults_to_our_ae_title() -> None:
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect(calling_ae_title=RX_AE) as client:
            uid = await create(client)
            await client.subscribe(uid)
            event = await receive(scp.receiver)
    assert event.sop_instance_uid == uid
    seen = scp.recorder.last("N-ACTION")
    assert seen.data_set is not None
    assert (seen.data_set.ReceivingAE, seen.data_set.DeletionLock) == (RX_AE, "FALSE")


async def test_global_subscription_suspend_and_unsubscribe() -> None:
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            await client.subscribe(receiving_ae=RX_AE)
            first = await create(client)
            created = await receive(scp.receiver)  # a new UPS: State Report (UPS-62)

            await client.suspend_global(receiving_ae=RX_AE)
            unseen = await create(client)  # no subscription for it any more
            tuid = await client.claim(first)  # the existing one is kept
            claimed = await receive(scp.receiver)

            await client.unsubscribe(receiving_ae=RX_AE)  # everything goes (UPS-52)
            await client.cancel(first, tuid)
            last = await create(client)
            await client.subscribe(last, receiving_ae=RX_AE)
            initial = await receive(scp.receiver)
            assert scp.receiver.receive_nowait() is None
    assert (created.sop_instance_uid, created.state) == (first, "SCHEDULED")
    assert (claimed.sop_instance_uid, claimed.state) == (first, "IN PROGRESS")
    assert (initial.sop_instance_uid, initial.state) == (last, "SCHEDULED")
    assert unseen not in {created.sop_instance_uid, claimed.sop_instance_uid}
    watch = [(s.context, s.sop_class, s.instance, s.type_id)
             for s in scp.recorder.of("N-ACTION") if s.type_id in (3, 4, 5)]
    assert watch == [(UPS_WATCH, UPS_PUSH, UPS_GLOBAL_SUBSCRIPTION_INSTANCE, SUBSCRIBE),
                     (UPS_WATCH, UPS_PUSH, UPS_GLOBAL_SUBSCRIPTION_INSTANCE, SUSPEND),
                     (UPS_WATCH, UPS_PUSH, UPS_GLOBAL_SUBSCRIPTION_INSTANCE, UNSUBSCRIBE),
                     (UPS_WATCH, UPS_PUSH, last, SUBSCRIBE)]


async def test_filtered_global_subscription_with_deletion_lock() -> None:
    keys = info(ScheduledProcedureStepPriority="HIGH")
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            response = await client.subscribe(receiving_ae=RX_AE, deletion_lock=True,
                                              matching_keys=keys)
            assert response.status == Status.SUCCESS
            low = await create(client, ScheduledProcedureStepPriority="LOW")
            high = await create(client, ScheduledProcedureStepPriority="HIGH")
            event = await receive(scp.receiver)
            assert scp.service.subscriptions.has_deletion_lock(high)
            assert not scp.service.subscriptions.has_deletion_lock(low)
    assert (event.sop_instance_uid, event.state) == (high, "SCHEDULED")
    assert [elem.keyword for elem in keys] == ["ScheduledProcedureStepPriority"]  # untouched
    seen = scp.recorder.of("N-ACTION")[0]
    assert (seen.context, seen.sop_class, seen.instance, seen.type_id) == (
        UPS_WATCH, UPS_PUSH, UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE, SUBSCRIBE)
    assert seen.data_set is not None
    assert (seen.data_set.ReceivingAE, seen.data_set.DeletionLock,
            seen.data_set.ScheduledProcedureStepPriority) == (RX_AE, "TRUE", "HIGH")


# -- Query: C-FIND -------------------------------------------------------------------------------


async def test_find_on_the_query_context() -> None:
    keys = info(ProcedureStepState="SCHEDULED", SOPInstanceUID="", ProcedureStepLabel="")
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            uids = [await create(client) for _ in range(3)]
            await client.claim(uids[1])
            async with client.find(keys) as results:
                found = [m.data_set async for m in results]
    assert sorted(ds.SOPInstanceUID for ds in found if ds is not None) == sorted(
        [uids[0], uids[2]])
    for ds in found:
        assert ds is not None and ds.ProcedureStepState == "SCHEDULED"
        assert sorted(elem.keyword for elem in ds) == [
            "ProcedureStepLabel", "ProcedureStepState", "SOPInstanceUID"]
    assert results.final is not None and results.final.status == Status.SUCCESS
    assert results.count == 2
    seen = scp.recorder.last("C-FIND")
    assert (seen.context, seen.sop_class) == (UPS_QUERY, UPS_QUERY)  # UPS-06
    assert keys == info(ProcedureStepState="SCHEDULED", SOPInstanceUID="", ProcedureStepLabel="")


async def test_find_left_early_stops_cleanly() -> None:
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect(max_operations_invoked=4) as client:
            uids = {await create(client) for _ in range(5)}
            async with client.find(info(SOPInstanceUID="")) as results:
                async for match in results:
                    assert match.data_set is not None
                    assert match.data_set.SOPInstanceUID in uids
                    break
            assert results.count == 1
            # the association goes on: the rest of the first C-FIND does not get in the way
            assert (await client.echo()).status == Status.SUCCESS
            async with client.find(info(SOPInstanceUID="")) as again:
                found = {m.data_set.SOPInstanceUID async for m in again if m.data_set}
            assert found == uids
            assert client.association.statistics().outstanding == 0


class CancellableFind:
    """A C-FIND handler: one match, then it waits (bounded) for the C-CANCEL."""

    def __init__(self) -> None:
        self.cancelled: list[bool] = []
        self.done = anyio.Event()

    async def __call__(self, request: ServiceRequest) -> AsyncIterator[Dataset]:
        yield info(SOPInstanceUID="1.2.3.1")
        with anyio.move_on_after(5):
            await request.wait_cancelled()
        self.cancelled.append(request.cancelled)
        self.done.set()
        if not request.cancelled:
            yield info(SOPInstanceUID="1.2.3.2")


async def test_find_left_early_sends_c_cancel() -> None:
    finder = CancellableFind()
    config = ServerConfig(ae_title=SCP_AE, handlers={(UPS_QUERY, CFindRQ): finder,
                                                     (VERIFICATION, CEchoRQ): echo_handler})
    with anyio.fail_after(QUICK):
        async with serving(config) as port, UPSClient.connect(
                HOST, port, called_ae_title=SCP_AE) as client:
            async with client.find(info(SOPInstanceUID="")) as results:
                async for _ in results:
                    break
            await finder.done.wait()
            assert (await client.echo()).status == Status.SUCCESS
            assert results.final is None and results.count == 1
    assert finder.cancelled == [True]


# -- failures ------------------------------------------------------------------------------------


async def test_failures_raise_dimse_failure_with_status() -> None:
    unknown = new_uid()
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            uid = await create(client)
            calls: list[Callable[[], Any]] = [
                lambda: client.create(create_request(), uid),
                lambda: client.get(unknown),
                lambda: client.set(unknown, info(ProcedureStepLabel="x")),
                lambda: client.change_state(uid, "SCHEDULED", new_uid()),
                lambda: client.claim(unknown),
                lambda: client.request_cancel(unknown),
                lambda: client.subscribe(uid, receiving_ae="NOBODY"),
            ]
            statuses = []
            for call in calls:
                with pytest.raises(DIMSEFailure) as caught:
                    await call()
                assert isinstance(caught.value.response, DIMSEResponse)
                assert caught.value.response.status == caught.value.status
                statuses.append(caught.value.status)
    assert statuses == [0x0111, 0xC307, 0xC307, 0xC303, 0xC307, 0xC307, 0xC308]


async def test_check_false_returns_failure_responses() -> None:
    unknown = new_uid()
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            uid = await create(client)
            responses = [
                await client.create(create_request(), uid, check=False),
                await client.get(unknown, check=False),
                await client.set(unknown, info(ProcedureStepLabel="x"), check=False),
                await client.change_state(uid, "COMPLETED", new_uid(), check=False),
                await client.request_cancel(unknown, check=False),
                await client.subscribe(unknown, receiving_ae=RX_AE, check=False),
                await client.subscribe(uid, receiving_ae="NOBODY", check=False),
                await client.unsubscribe(uid, receiving_ae="NOBODY", check=False),
            ]
            assert (await client.echo()).status == Status.SUCCESS
    # (a new Transaction UID is "ok" for a SCHEDULED UPS, which cannot complete yet: C310)
    # (unsubscribing an AE that never subscribed changes nothing and is no failure, UPS-52)
    assert [r.status for r in responses] == [0x0111, 0xC307, 0xC307, 0xC310, 0xC307, 0xC307,
                                             0xC308, 0x0000]
    for response in responses:
        assert isinstance(response, DIMSEResponse)
    assert all(r.category is StatusCategory.FAILURE for r in responses[:-1])
    with pytest.raises(DIMSEFailure) as caught:
        responses[1].raise_for_status()
    assert caught.value.status == 0xC307


async def test_timeouts_per_client_and_per_call() -> None:
    """``UPSClient(timeout=)`` bounds every response; a call's ``timeout=`` overrides it."""
    release = anyio.Event()

    async def slow_get(request: ServiceRequest) -> HandlerReturn:
        message = request.message
        assert isinstance(message, NGetRQ)
        with anyio.move_on_after(QUICK):
            await release.wait()
        return NGetRSP(message_id_being_responded_to=message.message_id)

    config = ServerConfig(ae_title=SCP_AE, handlers={(UPS_PUSH, NGetRQ): slow_get,
                                                     (VERIFICATION, CEchoRQ): echo_handler})
    with anyio.fail_after(QUICK):
        async with serving(config) as port:
            for client_timeout, call_timeout in ((0.2, None), (60.0, 0.2)):
                async with UPSClient.connect(HOST, port, called_ae_title=SCP_AE,
                                             timeout=client_timeout) as client:
                    started = anyio.current_time()
                    with pytest.raises(DIMSETimeout):
                        await client.get(new_uid(), timeout=call_timeout)
                    assert anyio.current_time() - started < 2
                    assert not client.association.is_established  # aborted (see request())
            release.set()


# -- which context each operation uses -----------------------------------------------------------


async def test_every_operation_uses_its_preferred_context() -> None:
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            assert {op: client.context_for(op) for op in DEFAULT_CONTEXTS} == {
                "create": UPS_PUSH, "get": UPS_PUSH, "set": UPS_PULL, "change_state": UPS_PULL,
                "request_cancel": UPS_PUSH, "subscribe": UPS_WATCH, "find": UPS_QUERY}
            uid = await create(client)
            await client.subscribe(uid, receiving_ae=RX_AE)
            await client.get(uid)
            tuid = await client.claim(uid)
            await client.set(uid, info(CommentsOnTheScheduledProcedureStep="c"), tuid)
            await client.request_cancel(uid)
            await client.unsubscribe(uid, receiving_ae=RX_AE)
            await client.subscribe(receiving_ae=RX_AE)
            await client.suspend_global(receiving_ae=RX_AE)
            async with client.find(info(SOPInstanceUID="")) as results:
                assert [m async for m in results]
            await client.cancel(uid, tuid)
    assert [(s.service, s.type_id, s.context) for s in scp.seen] == [
        ("N-CREATE", None, UPS_PUSH), ("N-ACTION", SUBSCRIBE, UPS_WATCH),
        ("N-GET", None, UPS_PUSH), ("N-ACTION", CHANGE_STATE, UPS_PULL),
        ("N-SET", None, UPS_PULL), ("N-ACTION", REQUEST_CANCEL, UPS_PUSH),
        ("N-ACTION", UNSUBSCRIBE, UPS_WATCH), ("N-ACTION", SUBSCRIBE, UPS_WATCH),
        ("N-ACTION", SUSPEND, UPS_WATCH), ("C-FIND", None, UPS_QUERY),
        ("N-ACTION", CHANGE_STATE, UPS_PULL)]
    for seen in scp.seen:  # UPS-05, UPS-06
        assert seen.sop_class == (seen.context if seen.service == "C-FIND" else UPS_PUSH)


async def test_fallback_when_the_scp_accepts_only_pull_and_watch() -> None:
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp:
            async with scp.connect() as full:
                uid = await create(full)
            async with scp.connect(port=scp.limited_port) as client:
                accepted = {ctx.abstract_syntax
                            for ctx in client.association.negotiated.contexts.values()}
                assert accepted == {UPS_PULL, UPS_WATCH, VERIFICATION}
                assert client.context_for("get") == UPS_PULL
                assert client.context_for("request_cancel") == UPS_WATCH
                assert client.context_for("find") == UPS_PULL
                with pytest.raises(NoAcceptedContext):
                    client.context_for("create")
                with pytest.raises(NoAcceptedContext):  # raised before anything is sent
                    await client.create(create_request(), new_uid())
                got = await client.get(uid, ["ProcedureStepState"])
                async with client.find(info(SOPInstanceUID=uid)) as results:
                    found = [m.data_set.SOPInstanceUID async for m in results if m.data_set]
                await client.subscribe(uid, receiving_ae=RX_AE)
                await client.request_cancel(uid, reason="not needed")
                assert (await client.echo()).status == Status.SUCCESS
    assert got.data_set is not None and got.data_set.ProcedureStepState == "SCHEDULED"
    assert found == [uid]
    assert [(s.service, s.context, s.sop_class) for s in scp.seen[1:]] == [
        ("N-GET", UPS_PULL, UPS_PUSH), ("C-FIND", UPS_PULL, UPS_PULL),
        ("N-ACTION", UPS_WATCH, UPS_PUSH), ("N-ACTION", UPS_WATCH, UPS_PUSH),
        ("C-ECHO", VERIFICATION, VERIFICATION)]
    assert scp.service.workitems[uid].state.value == "CANCELED"


async def test_context_overrides() -> None:
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp:
            async with scp.connect(contexts={"get": UPS_WATCH, "find": UPS_WATCH,
                                             "request_cancel": UPS_WATCH}) as client:
                assert client.context_for("get") == UPS_WATCH
                assert client.context_for("create") == UPS_PUSH  # not overridden
                uid = await create(client)
                await client.get(uid)
                async with client.find(info(SOPInstanceUID="")) as results:
                    assert results.count == 0
                    assert len([m async for m in results]) == 1
                await client.request_cancel(uid)
            async with scp.connect(port=scp.limited_port,
                                   contexts={"get": UPS_PUSH}) as limited:
                with pytest.raises(NoAcceptedContext):  # an override has no fallback
                    await limited.get(uid)
            async with scp.connect() as plain:
                with pytest.raises(ValueError, match="unknown operations"):
                    UPSClient(plain.association, contexts={"delete": UPS_PUSH})
            with pytest.raises(ValueError, match="unknown operations"):
                async with scp.connect(contexts={"get": UPS_PULL, "bogus": UPS_PULL}):
                    pass
    assert [(s.service, s.context, s.sop_class) for s in scp.seen] == [
        ("N-CREATE", UPS_PUSH, UPS_PUSH), ("N-GET", UPS_WATCH, UPS_PUSH),
        ("C-FIND", UPS_WATCH, UPS_WATCH), ("N-ACTION", UPS_WATCH, UPS_PUSH)]


async def test_no_acceptable_context() -> None:
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, open_association(
                HOST, scp.port, called_ae_title=SCP_AE,
                contexts=(PresentationContextProposal(abstract_syntax=VERIFICATION),
                          PresentationContextProposal(abstract_syntax=UPS_QUERY))) as assoc:
            client = UPSClient(assoc)
            for operation in ("create", "get", "set", "change_state", "request_cancel",
                              "subscribe"):
                with pytest.raises(NoAcceptedContext, match=operation):
                    client.context_for(operation)
            uid = new_uid()
            for call in (lambda: client.create(create_request(), uid),
                         lambda: client.get(uid), lambda: client.claim(uid),
                         lambda: client.set(uid, info(ProcedureStepLabel="x")),
                         lambda: client.request_cancel(uid),
                         lambda: client.subscribe(uid), lambda: client.unsubscribe(),
                         lambda: client.suspend_global()):
                with pytest.raises(NoAcceptedContext):
                    await call()
            assert client.context_for("find") == UPS_QUERY
            assert (await client.echo()).status == Status.SUCCESS
    assert [s.service for s in scp.seen] == ["C-ECHO"]


def test_ups_contexts_proposes_every_ups_class_event_and_verification() -> None:
    proposals = ups_contexts()
    assert [p.abstract_syntax for p in proposals] == [
        UPS_PUSH, UPS_PULL, UPS_WATCH, UPS_QUERY, UPS_EVENT, VERIFICATION]
    assert all(p.scu_role is None and p.scp_role is None for p in proposals)
    implicit = ups_contexts(("1.2.840.10008.1.2",))
    assert {p.transfer_syntaxes for p in implicit} == {("1.2.840.10008.1.2",)}


# -- EventReceiver -------------------------------------------------------------------------------


@asynccontextmanager
async def serving(config: ServerConfig) -> AsyncIterator[int]:
    async with anyio.create_task_group() as tg:
        yield await tg.start(Server(config).serve, HOST, 0)
        tg.cancel_scope.cancel()


@asynccontextmanager
async def event_sender(receiver: EventReceiver,
                       calling_ae_title: str = "SENDER") -> AsyncIterator[Association]:
    """An association to a listening receiver, as the UPS Event SCP (UPS-63 role selection)."""
    assert receiver.port is not None
    async with open_association(HOST, receiver.port, called_ae_title=receiver.ae_title,
                                calling_ae_title=calling_ae_title,
                                contexts=(EVENT_CONTEXT_AS_SCP,)) as assoc:
        yield assoc


async def report(assoc: Association, uid: str, state: str = "SCHEDULED",
                 event_type: int = 1) -> DIMSEResponse:
    return await n_event_report(assoc, UPS_PUSH, uid, event_type,
                                info(ProcedureStepState=state, InputReadinessState="READY"),
                                abstract_syntax=UPS_EVENT)


async def test_receiver_as_listener_hands_out_events_in_order() -> None:
    with anyio.fail_after(QUICK):
        async with ups_scp() as scp, scp.connect() as client:
            assert scp.receiver.port is not None
            assert scp.receiver.receive_nowait() is None
            uid = await create(client)
            await client.subscribe(uid, receiving_ae=RX_AE)
            tuid = await client.claim(uid)
            await client.set(uid, info(ProcedureStepProgressInformationSequence=[
                info(ProcedureStepProgress="50", ProcedureStepProgressDescription="half")]),
                tuid)
            await client.cancel(uid, tuid)
            events = [await receive(scp.receiver) for _ in range(4)]
            assert scp.receiver.received == 4
    assert [(e.sequence, e.event_type_id, e.event_type, e.state) for e in events] == [
        (0, 1, "UPS State Report", "SCHEDULED"), (1, 1, "UPS State Report", "IN PROGRESS"),
        (2, 3, "UPS Progress Report", None), (3, 1, "UPS State Report", "CANCELED")]
    for event in events:
        assert (event.sop_instance_uid, event.sop_class_uid) == (uid, UPS_PUSH)
        assert event.calling_ae_title == SCP_AE
        assert "TransactionUID" not in event.data_set
    [progress] = events[2].data_set.ProcedureStepProgressInformationSequence
    assert progress.ProcedureStepProgressDescription == "half"
    assert events[0].data_set.InputReadinessState == "READY"


async def test_event_type_names_and_scp_status() -> None:
    receiver = EventReceiver("LISTENER")
    with anyio.fail_after(QUICK):
        async with anyio.create_task_group() as tg:
            await tg.start(receiver.serve, HOST, 0)
            async with event_sender(receiver, "SOMESCP") as assoc:
                for event_type in (1, 2, 3, 5, 7):
                    assert (await report(assoc, "1.2.3", event_type=event_type)).status == 0
                status = info(SCPStatus="GOING DOWN", SubscriptionListStatus="WARM START",
                              UnifiedProcedureStepListStatus="WARM START")
                await n_event_report(assoc, UPS_PUSH, UPS_GLOBAL_SUBSCRIPTION_INSTANCE, 4,
                                     status, abstract_syntax=UPS_EVENT)
            events = [receiver.receive_nowait() for _ in range(6)]
            tg.cancel_scope.cancel()
    assert [e.event_type for e in events if e is not None] == [
        "UPS State Report", "UPS Cancel Requested", "UPS Progress Report", "UPS Assigned",
        "event type 7", "SCP Status Change"]
    last = events[-1]
    assert last is not None and last.state == "GOING DOWN"
    assert last.sop_instance_uid == UPS_GLOBAL_SUBSCRIPTION_INSTANCE
    assert {e.calling_ae_title for e in events if e is not None} == {"SOMESCP"}


async def test_receiver_answering_0110_does_not_break_the_scp() -> None:
    receiver = EventReceiver(RX_AE, status=0x0110)
    with anyio.fail_after(QUICK):
        async with ups_scp(receiver) as scp, scp.connect() as client:
            await client.subscribe(receiving_ae=RX_AE)
            uids = [await create(client) for _ in range(3)]
            tuid = await client.claim(uids[0])
            events = [await receive(receiver) for _ in range(4)]
            await scp.service.delivery.wait_idle()
            stats = scp.service.delivery.stats
            delivered, dropped = stats.delivered, stats.dropped_failed
            await client.cancel(uids[0], tuid)  # the SCP goes on serving
            assert (await receive(receiver)).state == "CANCELED"
    assert [(e.sop_instance_uid, e.state) for e in events] == [
        (uids[0], "SCHEDULED"), (uids[1], "SCHEDULED"), (uids[2], "SCHEDULED"),
        (uids[0], "IN PROGRESS")]
    assert (delivered, dropped) == (4, 0)
    assert stats.delivered == 5


async def test_the_sender_sees_the_configured_status() -> None:
    receiver = EventReceiver("LISTENER", status=0x0110)
    with anyio.fail_after(QUICK):
        async with anyio.create_task_group() as tg:
            await tg.start(receiver.serve, HOST, 0)
            async with event_sender(receiver) as assoc:
                with pytest.raises(DIMSEFailure) as caught:
                    await report(assoc, "1.2.3")
                again = await n_event_report(assoc, UPS_PUSH, "1.2.3", 1, None,
                                             abstract_syntax=UPS_EVENT, check=False)
            tg.cancel_scope.cancel()
    assert caught.value.status == 0x0110 and again.status == 0x0110
    first = receiver.receive_nowait()
    second = receiver.receive_nowait()
    assert first is not None and first.state == "SCHEDULED"
    assert second is not None and len(second.data_set) == 0 and second.state is None


async def test_events_arrive_on_the_clients_own_association() -> None:
    """The SCP sends N-EVENT-REPORT back on the association the SCU opened (UPS-63 IMPL):
    the N-ACTION handler answers, and a task then reports over ``request.association``."""
    receiver = EventReceiver(SCU_AE)
    replies: list[DIMSEResponse] = []
    order: list[str] = []
    uid = new_uid()

    async def report_after_answering(association: Association) -> None:
        while association.statistics().handlers_running:  # the N-ACTION-RSP is out
            await anyio.lowlevel.checkpoint()
        order.append("reporting")
        replies.append(await n_event_report(
            association, UPS_PUSH, uid, 1, info(ProcedureStepState="SCHEDULED",
                                                InputReadinessState="READY"),
            abstract_syntax=UPS_EVENT))
        replies.append(await n_event_report(
            association, UPS_PUSH, uid, 5, info(ScheduledStationNameCodeSequence=[
                code("STATION1", "99LOCAL", "Station one")]), abstract_syntax=UPS_EVENT))

    with anyio.fail_after(QUICK):
        async with anyio.create_task_group() as tg:

            async def subscribe(request: ServiceRequest) -> HandlerReturn:
                message = request.message
                assert isinstance(message, NActionRQ)
                tg.start_soon(report_after_answering, request.association)
                order.append("answering")
                return NActionRSP(message_id_being_responded_to=message.message_id,
                                  affected_sop_class_uid=message.requested_sop_class_uid,
                                  affected_sop_instance_uid=message.requested_sop_instance_uid,
                                  action_type_id=message.action_type_id)

            config = ServerConfig(ae_title=SCP_AE, handlers={(UPS_WATCH, NActionRQ): subscribe},
                                  supported={UPS_WATCH: SupportedSyntax(),
                                             UPS_EVENT: SupportedSyntax()})
            async with serving(config) as port, UPSClient.connect(
                    HOST, port, called_ae_title=SCP_AE, calling_ae_title=SCU_AE,
                    events=receiver) as client:
                event_context = client.association.context_for(UPS_EVENT)
                assert (event_context.local_scu, event_context.local_scp) == (True, False)
                response = await client.subscribe(uid)
                order.append("answered")
                state = await receive(receiver)
                assigned = await receive(receiver)
            tg.cancel_scope.cancel()
    assert response.status == Status.SUCCESS
    assert order.index("answering") < order.index("reporting")
    assert [r.status for r in replies] == [Status.SUCCESS] * 2
    assert (state.event_type, state.state, state.sop_instance_uid, state.calling_ae_title) == (
        "UPS State Report", "SCHEDULED", uid, SCP_AE)
    assert (assigned.event_type_id, assigned.sequence) == (5, 1)
    [station] = assigned.data_set.ScheduledStationNameCodeSequence
    assert station.CodeValue == "STATION1"


async def test_close_ends_iteration_and_later_reports_are_still_answered() -> None:
    receiver = EventReceiver("LISTENER")
    with anyio.fail_after(QUICK):
        async with anyio.create_task_group() as tg:
            await tg.start(receiver.serve, HOST, 0)
            async with event_sender(receiver) as assoc:
                for state in ("SCHEDULED", "IN PROGRESS"):
                    await report(assoc, "1.2.3", state)
                receiver.close()
                late = await report(assoc, "1.2.3", "COMPLETED")
            states = [event.state async for event in receiver]
            tg.cancel_scope.cancel()
    assert late.status == Status.SUCCESS
    assert states == ["SCHEDULED", "IN PROGRESS"]  # buffered ones are still handed out
    assert receiver.received == 3
    with pytest.raises(anyio.EndOfStream):
        await receiver.receive()


def test_receive_nowait_on_a_closed_receiver() -> None:
    receiver = EventReceiver("LISTENER")
    receiver.close()
    assert receiver.receive_nowait() is None  # as documented, not anyio.EndOfStream


async def test_close_wakes_a_waiting_consumer() -> None:
    receiver = EventReceiver()
    got: list[ReceivedEvent] = []

    async def consume() -> None:
        got.extend([event async for event in receiver])

    with anyio.fail_after(QUICK):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await anyio.sleep(0.01)
            receiver.close()
    assert got == []


async def test_small_buffer_holds_the_sender_until_the_consumer_reads() -> None:
    receiver = EventReceiver("LISTENER", max_buffer=1)
    answered: list[int] = []
    second_answered = anyio.Event()

    async def send_second(assoc: Association) -> None:
        answered.append(int((await report(assoc, "1.2.3", "IN PROGRESS")).status))
        second_answered.set()

    with anyio.fail_after(QUICK):
        async with anyio.create_task_group() as tg:
            await tg.start(receiver.serve, HOST, 0)
            async with event_sender(receiver) as assoc, anyio.create_task_group() as senders:
                first = await report(assoc, "1.2.3", "SCHEDULED")  # fits in the buffer
                assert first.status == Status.SUCCESS
                senders.start_soon(send_second, assoc)
                await anyio.sleep(0.3)
                assert answered == []  # held: the buffer is full
                assert assoc.statistics().outstanding == 1
                assert receiver.received == 2
                event = await receiver.receive()
                assert event.state == "SCHEDULED"
                with anyio.fail_after(5):
                    await second_answered.wait()
                assert answered == [Status.SUCCESS]
            second = await receiver.receive()
            tg.cancel_scope.cancel()
    assert second.state == "IN PROGRESS" and second.sequence == 1


def test_receivers_leave_nothing_unclosed() -> None:
    """No ResourceWarning when a receiver, closed or not, is collected (an error here)."""
    receiver = EventReceiver("LISTENER")
    unclosed = EventReceiver("LISTENER")
    receiver.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del receiver, unclosed
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
