"""N-EVENT-REPORT in both directions of one association, and the roles that allow it.

(a) The acceptor, as SCP of UPS Event (default roles), reports to the requestor on the same
association: from inside an N-ACTION handler before answering, and from a worker task while the
requestor goes on with its own requests.  (b) With role selection SCU=0/SCP=1 (UPS-63) the
requestor is the event SCP and reports to the acceptor.  (c) Roles are honoured: sending where
we are not SCP raises ``NoAcceptedContext``; a raw peer acting in a role it was not granted gets
0211H (PS3.7 D.3.3.4).

Every test runs on asyncio and trio and is bounded by ``anyio.fail_after``.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import anyio.lowlevel
import pytest
from helpers import peers
from helpers.raw_peer import RawRequestor
from pydicom import Dataset

from aioups import PresentationContextProposal, Status
from aioups._uids import UPS_EVENT, UPS_PUSH, VERIFICATION
from aioups.dimse import (
    CEchoRQ,
    NActionRQ,
    NActionRSP,
    NEventReportRQ,
    NEventReportRSP,
    NGetRQ,
    NGetRSP,
    encode_data_set,
)
from aioups.errors import DIMSEFailure, DIMSEStatusError, NoAcceptedContext
from aioups.net import (
    Association,
    DIMSEResponse,
    Handler,
    HandlerReturn,
    ServerConfig,
    ServiceRequest,
    c_echo,
    echo_handler,
    n_action,
    n_event_report,
    n_get,
    open_association,
)
from aioups.ul import SupportedSyntax

pytestmark = pytest.mark.anyio

QUICK = 10.0
INSTANCE = "1.2.826.0.1.3680043.9.7.1"
#: UPS event types (PS3.4 CC.2.4.1): 1 UPS State Report, 5 UPS Progress
STATE_REPORT, PROGRESS = 1, 5
#: default roles: the requestor is SCU of everything, the acceptor SCP
DEFAULT_CONTEXTS = (PresentationContextProposal(abstract_syntax=VERIFICATION),
                    PresentationContextProposal(abstract_syntax=UPS_PUSH),
                    PresentationContextProposal(abstract_syntax=UPS_EVENT))
#: the requestor is the UPS Event SCP: it sends the reports (UPS-63)
EVENT_SCP_CONTEXTS = (PresentationContextProposal(abstract_syntax=UPS_EVENT, scu_role=False,
                                                  scp_role=True),)
BOTH_ROLES = {UPS_EVENT: SupportedSyntax(scu_role=True, scp_role=True)}


def event_information(state: str) -> Dataset:
    ds = Dataset()
    ds.ProcedureStepState = state
    return ds


def reply_to(request: ServiceRequest, status: int = 0) -> NEventReportRSP:
    """The N-EVENT-REPORT-RSP echoing the request's class, instance and event type."""
    message = request.message
    assert isinstance(message, NEventReportRQ)
    return NEventReportRSP(message_id_being_responded_to=message.message_id, status=status,
                           affected_sop_class_uid=message.affected_sop_class_uid,
                           affected_sop_instance_uid=message.affected_sop_instance_uid,
                           event_type_id=message.event_type_id)


class Listener:
    """An N-EVENT-REPORT handler: records each report; ``gate`` holds the replies if set."""

    def __init__(self, *, hold: bool = False) -> None:
        self.reports: list[ServiceRequest] = []
        self.states: list[str] = []
        self.received = anyio.Event()
        self.gate = anyio.Event()
        if not hold:
            self.gate.set()
        self.inside = 0
        self.most = 0

    async def __call__(self, request: ServiceRequest) -> HandlerReturn:
        self.inside += 1
        self.most = max(self.most, self.inside)
        try:
            self.reports.append(request)
            assert request.data_set is not None
            self.states.append(str(request.data_set.ProcedureStepState))
            self.received.set()
            await self.gate.wait()
            reply = Dataset()
            reply.PatientID = f"ack{len(self.reports)}"
            return reply_to(request), reply
        finally:
            self.inside -= 1

    async def wait_for(self, count: int) -> None:
        await eventually(lambda: len(self.reports) >= count)


async def eventually(predicate: Callable[[], bool]) -> None:
    """Yield to the event loop (no sleeping) until ``predicate()`` holds."""
    while not predicate():
        await anyio.lowlevel.checkpoint()


async def report(association: Association, state: str, event_type: int = STATE_REPORT,
                 ) -> DIMSEResponse:
    """A UPS State Report: Push SOP class in the command, sent on the Event context (edge
    case 18)."""
    return await n_event_report(association, UPS_PUSH, INSTANCE, event_type,
                                event_information(state), abstract_syntax=UPS_EVENT)


def server_config(handlers: dict[tuple[str, type], Handler]) -> ServerConfig:
    return ServerConfig(handlers={(VERIFICATION, CEchoRQ): echo_handler, **handlers},
                        supported={VERIFICATION: SupportedSyntax(), UPS_PUSH: SupportedSyntax(),
                                   UPS_EVENT: SupportedSyntax()})


# -- (a) the acceptor reports to the requestor ---------------------------------------------------


async def test_action_handler_reports_before_answering() -> None:
    listener = Listener()
    replies: list[DIMSEResponse] = []
    order: list[str] = []

    async def action(request: ServiceRequest) -> HandlerReturn:
        assert isinstance(request.message, NActionRQ)
        replies.append(await report(request.association, "IN PROGRESS"))
        order.append("reported")
        return NActionRSP(message_id_being_responded_to=request.message.message_id,
                          action_type_id=request.message.action_type_id)

    async def recording_listener(request: ServiceRequest) -> HandlerReturn:
        order.append("report received")
        return await listener(request)

    config = server_config({(UPS_PUSH, NActionRQ): action})
    with anyio.fail_after(QUICK):
        async with peers.serving(config) as (_, port), open_association(
                peers.HOST, port, contexts=DEFAULT_CONTEXTS,
                handlers={(UPS_EVENT, NEventReportRQ): recording_listener}) as association:
            response = await n_action(association, UPS_PUSH, INSTANCE, 1)
            order.append("action answered")
            assert response.status == Status.SUCCESS
            stats = association.statistics()
            assert (stats.requests_sent, stats.requests_received) == (1, 1)
    assert order == ["report received", "reported", "action answered"]
    [request] = listener.reports
    message = request.message
    assert isinstance(message, NEventReportRQ)
    assert (message.affected_sop_class_uid, message.affected_sop_instance_uid,
            message.event_type_id) == (UPS_PUSH, INSTANCE, STATE_REPORT)
    assert request.context.abstract_syntax == UPS_EVENT
    assert (request.context.local_scu, request.context.local_scp) == (True, False)
    assert listener.states == ["IN PROGRESS"]
    [reply] = replies
    assert reply.status == Status.SUCCESS
    assert isinstance(reply.message, NEventReportRSP)
    assert reply.message.event_type_id == STATE_REPORT
    assert reply.message.affected_sop_instance_uid == INSTANCE
    assert reply.data_set is not None and reply.data_set.PatientID == "ack1"


async def test_worker_reports_between_the_requestors_own_requests() -> None:
    listener = Listener()
    server_side: list[Association] = []
    subscribed = anyio.Event()

    async def subscribe(request: ServiceRequest) -> HandlerReturn:
        assert isinstance(request.message, NActionRQ)
        server_side.append(request.association)
        subscribed.set()
        return NActionRSP(message_id_being_responded_to=request.message.message_id)

    async def get(request: ServiceRequest) -> HandlerReturn:
        assert isinstance(request.message, NGetRQ)
        return NGetRSP(message_id_being_responded_to=request.message.message_id)

    send_next, next_report = anyio.create_memory_object_stream[str](1)
    sent: list[DIMSEResponse] = []

    async def worker() -> None:
        await subscribed.wait()
        async with next_report:
            async for state in next_report:
                sent.append(await report(server_side[0], state))  # noqa: PERF401

    config = server_config({(UPS_PUSH, NActionRQ): subscribe, (UPS_PUSH, NGetRQ): get})
    with anyio.fail_after(QUICK):
        async with peers.serving(config) as (_, port), anyio.create_task_group() as tg:
            tg.start_soon(worker)
            async with open_association(
                    peers.HOST, port, contexts=DEFAULT_CONTEXTS,
                    handlers={(UPS_EVENT, NEventReportRQ): listener}) as association:
                await n_action(association, UPS_PUSH, INSTANCE, 3)
                async with send_next:
                    for number, state in enumerate(["SCHEDULED", "IN PROGRESS", "COMPLETED"]):
                        await send_next.send(state)
                        await listener.wait_for(number + 1)
                        assert (await n_get(association, UPS_PUSH, INSTANCE)).status == 0
                        assert (await c_echo(association)).status == 0
                await eventually(lambda: len(sent) == 3)
                stats = association.statistics()
                assert (stats.requests_sent, stats.requests_received) == (7, 3)
                assert stats.outstanding == stats.handlers_running == 0
    assert listener.states == ["SCHEDULED", "IN PROGRESS", "COMPLETED"]
    assert [r.status for r in sent] == [Status.SUCCESS] * 3
    assert [r.data_set.PatientID for r in sent if r.data_set is not None] == [
        "ack1", "ack2", "ack3"]


async def test_report_arrives_while_the_requestors_own_request_is_outstanding() -> None:
    """Full duplex with the default 1/1 window: each side has one request of its own out."""
    listener = Listener()
    gate = anyio.Event()
    server_side: list[Association] = []
    got_request = anyio.Event()

    async def slow_get(request: ServiceRequest) -> HandlerReturn:
        assert isinstance(request.message, NGetRQ)
        server_side.append(request.association)
        got_request.set()
        await gate.wait()
        return NGetRSP(message_id_being_responded_to=request.message.message_id)

    config = server_config({(UPS_PUSH, NGetRQ): slow_get})
    with anyio.fail_after(QUICK):
        async with peers.serving(config) as (_, port), open_association(
                peers.HOST, port, contexts=DEFAULT_CONTEXTS,
                handlers={(UPS_EVENT, NEventReportRQ): listener}) as association:
            async with anyio.create_task_group() as tg:
                tg.start_soon(n_get, association, UPS_PUSH, INSTANCE)
                await got_request.wait()
                assert association.statistics().outstanding == 1
                reply = await report(server_side[0], "IN PROGRESS")
                assert reply.status == Status.SUCCESS
                assert association.statistics().outstanding == 1  # still waiting
                gate.set()
            assert association.statistics().outstanding == 0
    assert listener.states == ["IN PROGRESS"]


async def test_acceptor_reports_are_windowed_like_operations() -> None:
    """DIMSE-42: with the default window the acceptor has one report outstanding at a time."""
    listener = Listener(hold=True)
    server_side: list[Association] = []

    async def action(request: ServiceRequest) -> HandlerReturn:
        assert isinstance(request.message, NActionRQ)
        server_side.append(request.association)
        return NActionRSP(message_id_being_responded_to=request.message.message_id)

    config = server_config({(UPS_PUSH, NActionRQ): action})
    with anyio.fail_after(QUICK):
        async with peers.serving(config) as (_, port), open_association(
                peers.HOST, port, contexts=DEFAULT_CONTEXTS,
                handlers={(UPS_EVENT, NEventReportRQ): listener}) as association:
            await n_action(association, UPS_PUSH, INSTANCE, 3)
            acceptor = server_side[0]
            async with anyio.create_task_group() as tg:
                for state in ("SCHEDULED", "IN PROGRESS", "COMPLETED"):
                    tg.start_soon(report, acceptor, state)
                await listener.wait_for(1)
                for _ in range(10):
                    await anyio.lowlevel.checkpoint()
                assert acceptor.statistics().requests_sent == 1
                assert association.statistics().requests_received == 1
                listener.gate.set()
            assert association.statistics().requests_received == 3
    assert listener.most == 1
    assert sorted(listener.states) == ["COMPLETED", "IN PROGRESS", "SCHEDULED"]


async def test_requestor_without_event_handler_answers_0122() -> None:
    errors: list[BaseException] = []

    async def action(request: ServiceRequest) -> HandlerReturn:
        assert isinstance(request.message, NActionRQ)
        try:
            await report(request.association, "SCHEDULED")
        except DIMSEFailure as exc:
            errors.append(exc)
        return NActionRSP(message_id_being_responded_to=request.message.message_id)

    config = server_config({(UPS_PUSH, NActionRQ): action})
    with anyio.fail_after(QUICK):
        async with peers.serving(config) as (_, port), open_association(
                peers.HOST, port, contexts=DEFAULT_CONTEXTS) as association:
            assert (await n_action(association, UPS_PUSH, INSTANCE, 1)).status == 0
    [error] = errors
    assert isinstance(error, DIMSEFailure)
    assert error.status == Status.SOP_CLASS_NOT_SUPPORTED


async def test_requestor_event_handler_status_error_reaches_the_acceptor() -> None:
    errors: list[DIMSEFailure] = []

    async def refusing(request: ServiceRequest) -> HandlerReturn:
        raise DIMSEStatusError(Status.NO_SUCH_EVENT_TYPE, "unknown event", error_id=2)

    async def action(request: ServiceRequest) -> HandlerReturn:
        assert isinstance(request.message, NActionRQ)
        try:
            await report(request.association, "SCHEDULED", event_type=99)
        except DIMSEFailure as exc:
            errors.append(exc)
        return NActionRSP(message_id_being_responded_to=request.message.message_id)

    config = server_config({(UPS_PUSH, NActionRQ): action})
    with anyio.fail_after(QUICK):
        async with peers.serving(config) as (_, port), open_association(
                peers.HOST, port, contexts=DEFAULT_CONTEXTS,
                handlers={(UPS_EVENT, NEventReportRQ): refusing}) as association:
            await n_action(association, UPS_PUSH, INSTANCE, 1)
    [error] = errors
    assert (error.status, error.error_comment, error.error_id) == (
        Status.NO_SUCH_EVENT_TYPE, "unknown event", 2)


# -- (b) role selection: the requestor is the event SCP ------------------------------------------


async def test_requestor_as_event_scp_reports_to_the_acceptor() -> None:
    listener = Listener()
    config = ServerConfig(handlers={(UPS_EVENT, NEventReportRQ): listener},
                          supported=BOTH_ROLES)
    with anyio.fail_after(QUICK):
        async with peers.serving(config) as (_, port), open_association(
                peers.HOST, port, contexts=EVENT_SCP_CONTEXTS) as association:
            context = association.context_for(UPS_EVENT, as_scp=True)
            assert (context.local_scu, context.local_scp) == (False, True)
            first = await report(association, "IN PROGRESS")
            second = await report(association, "COMPLETED", PROGRESS)
    assert listener.states == ["IN PROGRESS", "COMPLETED"]
    request = listener.reports[1]
    assert isinstance(request.message, NEventReportRQ)
    assert request.message.event_type_id == PROGRESS
    # the acceptor is the event SCU here
    assert (request.context.local_scu, request.context.local_scp) == (True, False)
    assert first.status == second.status == Status.SUCCESS
    assert second.data_set is not None and second.data_set.PatientID == "ack2"


async def test_event_scp_requestor_may_not_invoke_scu_operations() -> None:
    config = ServerConfig(handlers={(UPS_EVENT, NEventReportRQ): Listener(),
                                    (UPS_EVENT, NGetRQ): Listener()}, supported=BOTH_ROLES)
    with anyio.fail_after(QUICK):
        async with peers.serving(config) as (_, port), open_association(
                peers.HOST, port, contexts=EVENT_SCP_CONTEXTS) as association:
            with pytest.raises(NoAcceptedContext):
                await n_get(association, UPS_PUSH, INSTANCE, abstract_syntax=UPS_EVENT)
            assert association.statistics().requests_sent == 0


async def test_acceptor_that_is_event_scu_may_not_report() -> None:
    errors: list[BaseException] = []

    async def listener(request: ServiceRequest) -> HandlerReturn:
        try:
            await report(request.association, "SCHEDULED")
        except NoAcceptedContext as exc:
            errors.append(exc)
        return reply_to(request)

    config = ServerConfig(handlers={(UPS_EVENT, NEventReportRQ): listener},
                          supported=BOTH_ROLES)
    with anyio.fail_after(QUICK):
        async with peers.serving(config) as (_, port), open_association(
                peers.HOST, port, contexts=EVENT_SCP_CONTEXTS) as association:
            assert (await report(association, "IN PROGRESS")).status == Status.SUCCESS
            assert association.statistics().requests_received == 0
    assert len(errors) == 1


async def test_scp_role_refused_by_acceptor_leaves_no_role_to_report() -> None:
    """The acceptor supports UPS Event with default roles only: SCP=1 is not granted."""
    config = ServerConfig(handlers={(UPS_EVENT, NEventReportRQ): Listener()},
                          supported={UPS_EVENT: SupportedSyntax()})
    with anyio.fail_after(QUICK):
        async with peers.serving(config) as (_, port), open_association(
                peers.HOST, port, contexts=EVENT_SCP_CONTEXTS) as association:
            assert association.negotiated is not None
            [context] = association.negotiated.contexts.values()
            assert (context.local_scu, context.local_scp) == (False, False)
            with pytest.raises(NoAcceptedContext):
                await report(association, "IN PROGRESS")


# -- (c) roles honoured --------------------------------------------------------------------------


async def test_requestor_with_default_roles_may_not_report() -> None:
    listener = Listener()
    config = server_config({(UPS_EVENT, NEventReportRQ): listener})
    with anyio.fail_after(QUICK):
        async with peers.serving(config) as (_, port), open_association(
                peers.HOST, port, contexts=DEFAULT_CONTEXTS) as association:
            with pytest.raises(NoAcceptedContext):
                await report(association, "IN PROGRESS")
            assert association.statistics().requests_sent == 0
            assert (await c_echo(association)).status == Status.SUCCESS
    assert listener.reports == []


async def test_explicit_context_id_does_not_bypass_the_role_check() -> None:
    listener = Listener()
    config = ServerConfig(handlers={(UPS_EVENT, NEventReportRQ): listener},
                          supported=BOTH_ROLES)
    contexts = (PresentationContextProposal(abstract_syntax=UPS_EVENT),)  # we are SCU only
    with anyio.fail_after(QUICK):
        async with peers.serving(config) as (_, port), open_association(
                peers.HOST, port, contexts=contexts) as association:
            context = association.context_for(UPS_EVENT)
            assert not context.local_scp
            with pytest.raises(NoAcceptedContext):
                await n_event_report(association, UPS_PUSH, INSTANCE, STATE_REPORT,
                                     event_information("SCHEDULED"),
                                     context_id=context.context_id)
            assert association.statistics().requests_sent == 0
    assert listener.reports == []


def event_rq(message_id: int = 1) -> NEventReportRQ:
    return NEventReportRQ(message_id=message_id, affected_sop_class_uid=UPS_PUSH,
                          affected_sop_instance_uid=INSTANCE, event_type_id=STATE_REPORT)



@pytest.mark.parametrize(("proposal", "request_", "allowed"), [
    pytest.param(PresentationContextProposal(abstract_syntax=UPS_EVENT), event_rq(),
                 False, id="default-roles-sends-report"),
    pytest.param(EVENT_SCP_CONTEXTS[0], event_rq(), True, id="event-scp-sends-report"),
    pytest.param(EVENT_SCP_CONTEXTS[0],
                 NGetRQ(message_id=1, requested_sop_class_uid=UPS_PUSH,
                        requested_sop_instance_uid=INSTANCE),
                 False, id="event-scp-sends-n-get"),
    pytest.param(PresentationContextProposal(abstract_syntax=UPS_EVENT),
                 NGetRQ(message_id=1, requested_sop_class_uid=UPS_PUSH,
                        requested_sop_instance_uid=INSTANCE),
                 True, id="default-roles-sends-n-get"),
])
async def test_raw_peer_acting_outside_its_role_gets_0211(
        proposal: PresentationContextProposal, request_: NEventReportRQ | NGetRQ,
        allowed: bool) -> None:
    listener = Listener()
    gets: list[ServiceRequest] = []

    async def get(request: ServiceRequest) -> HandlerReturn:
        gets.append(request)
        assert isinstance(request.message, NGetRQ)
        return NGetRSP(message_id_being_responded_to=request.message.message_id)

    config = ServerConfig(handlers={(UPS_EVENT, NEventReportRQ): listener,
                                    (UPS_EVENT, NGetRQ): get}, supported=BOTH_ROLES)
    with anyio.fail_after(QUICK):
        async with peers.serving(config) as (_, port), \
                RawRequestor.connect(port, (proposal,)) as raw:
            data_set = None
            if isinstance(request_, NEventReportRQ):
                data_set = encode_data_set(event_information("SCHEDULED"), raw.transfer_syntax)
            response = await raw.request(request_, data_set)
            again = await raw.request(request_, data_set)  # the association goes on
            await raw.release()
    for received in (response, again):
        message = received.message
        assert isinstance(message, NEventReportRSP | NGetRSP), message
        assert message.message_id_being_responded_to == 1
        if allowed:
            assert message.status == Status.SUCCESS
        else:
            assert message.status == Status.UNRECOGNIZED_OPERATION
            assert message.error_comment  # says which role is missing
    assert len(listener.reports) + len(gets) == (2 if allowed else 0)
