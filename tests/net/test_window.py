"""The asynchronous operations window (PS3.7 D.3.3.3, DIMSE-40/41) over loopback TCP.

Our client and server: many requests outstanding at once and answered out of order, each
response matched to its request; neither side running more than its negotiated window; window 0
meaning unlimited and no 53H item meaning 1/1.  A raw requestor (PDUs written by hand) checks the
server's refusals: 0213H beyond the window, 0210H for a Message ID still being performed, 0211H
for an unknown Command Field.  Cancelled callers must leave the association usable.

Every test runs on asyncio and trio and is bounded by ``anyio.fail_after``; handlers and tests
meet through events, never sleeps.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import anyio.lowlevel
import pytest
from helpers import peers
from helpers.raw_peer import RawRequestor
from pydicom import Dataset

from aioups import PresentationContextProposal, Status
from aioups._uids import UPS_PUSH, VERIFICATION
from aioups.dimse import (
    CEchoRQ,
    CEchoRSP,
    MessageReceived,
    NGetRQ,
    NGetRSP,
    UnknownCommand,
)
from aioups.net import (
    Association,
    HandlerReturn,
    ServerConfig,
    ServiceRequest,
    c_echo,
    echo_handler,
    n_get,
    open_association,
)

pytestmark = pytest.mark.anyio

QUICK = 10.0
CONTEXTS = (PresentationContextProposal(abstract_syntax=VERIFICATION),
            PresentationContextProposal(abstract_syntax=UPS_PUSH))


def instance(number: int) -> str:
    return f"1.2.826.0.1.3680043.9.7.{number}"


def number_of(request: ServiceRequest) -> int:
    assert isinstance(request.message, NGetRQ)
    return int(request.message.requested_sop_instance_uid.rsplit(".", 1)[1])


def answer(request: ServiceRequest) -> HandlerReturn:
    """N-GET-RSP naming the requested instance, with PatientID ``P<n>`` as Attribute List."""
    assert isinstance(request.message, NGetRQ)
    ds = Dataset()
    ds.PatientID = f"P{number_of(request)}"
    return NGetRSP(message_id_being_responded_to=request.message.message_id,
                   affected_sop_instance_uid=request.message.requested_sop_instance_uid), ds


class Concurrency:
    """Counts the handlers running at once; the most ever seen is ``most``."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.calls = 0

    def enter(self) -> None:
        self.inside += 1
        self.calls += 1
        self.most = max(self.most, self.inside)

    def leave(self) -> None:
        self.inside -= 1


class Batches(Concurrency):
    """An N-GET handler that answers only in batches of ``size`` requests running together, so
    a window of ``size`` is really filled (and any excess would be seen in ``most``)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self._waiting: list[anyio.Event] = []

    async def __call__(self, request: ServiceRequest) -> HandlerReturn:
        self.enter()
        try:
            event = anyio.Event()
            self._waiting.append(event)
            if len(self._waiting) == self.size:
                for waiting in self._waiting:
                    waiting.set()
                self._waiting.clear()
            await event.wait()
            return answer(request)
        finally:
            self.leave()


class Gated(Concurrency):
    """An N-GET handler that waits for ``gate``; ``arrived(n)`` waits until n handlers ran."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = anyio.Event()
        self.associations: list[Association] = []

    async def __call__(self, request: ServiceRequest) -> HandlerReturn:
        self.enter()
        self.associations.append(request.association)
        try:
            await self.gate.wait()
            return answer(request)
        finally:
            self.leave()

    async def arrived(self, count: int) -> None:
        await eventually(lambda: self.calls >= count)


def config_for(handler: Callable[[ServiceRequest], object], invoked: int = 1,
               performed: int = 1) -> ServerConfig:
    return ServerConfig(handlers={(VERIFICATION, CEchoRQ): echo_handler,
                                  (UPS_PUSH, NGetRQ): handler},  # type: ignore[dict-item]
                        max_operations_invoked=invoked, max_operations_performed=performed)


@asynccontextmanager
async def connected(config: ServerConfig, invoked: int = 1, performed: int = 1,
                    ) -> AsyncIterator[Association]:
    async with peers.serving(config) as (_, port), open_association(
            peers.HOST, port, contexts=CONTEXTS, max_operations_invoked=invoked,
            max_operations_performed=performed) as association:
        yield association


async def eventually(predicate: Callable[[], bool]) -> None:
    """Yield to the event loop (no sleeping) until ``predicate()`` holds."""
    while not predicate():
        await anyio.lowlevel.checkpoint()


async def get_checked(association: Association, number: int) -> None:
    """N-GET instance ``number`` and check that the response is the one for it."""
    response = await n_get(association, UPS_PUSH, instance(number))
    assert response.status == Status.SUCCESS
    assert response.affected_sop_instance_uid == instance(number)
    assert response.data_set is not None and response.data_set.PatientID == f"P{number}"


# -- out of order, matched by Message ID ---------------------------------------------------------


async def test_64_outstanding_n_gets_answered_in_reverse_order() -> None:
    count = 64
    release = [anyio.Event() for _ in range(count)]
    arrived = 0
    concurrency = Concurrency()
    received: list[int] = []
    message_ids: set[int] = set()

    async def handler(request: ServiceRequest) -> HandlerReturn:
        nonlocal arrived
        concurrency.enter()
        assert isinstance(request.message, NGetRQ)
        message_ids.add(request.message.message_id)
        arrived += 1
        if arrived == count:  # all 64 are being performed at once: answer the last first
            release[count - 1].set()
        try:
            await release[number_of(request)].wait()
            return answer(request)
        finally:
            concurrency.leave()

    async def caller(association: Association, number: int) -> None:
        await get_checked(association, number)
        received.append(number)
        if number:  # only once our response is in, the previous request is answered
            release[number - 1].set()

    with anyio.fail_after(QUICK):
        async with connected(config_for(handler, count, count), count, count) as association:
            negotiated = association.negotiated
            assert negotiated is not None
            assert negotiated.max_operations_invoked == count
            async with anyio.create_task_group() as tg:
                for number in range(count):
                    tg.start_soon(caller, association, number)
            stats = association.statistics()
            assert (stats.requests_sent, stats.responses_received, stats.outstanding) == (
                count, count, 0)
    assert received == list(reversed(range(count)))
    assert concurrency.most == count
    assert len(message_ids) == count  # DIMSE-14: no two outstanding requests share an ID


# -- the invoked window --------------------------------------------------------------------------


async def test_client_never_exceeds_the_negotiated_invoked_window() -> None:
    batches = Batches(4)
    with anyio.fail_after(QUICK):
        # the client offers 8, the server performs 4: the client may invoke 4
        async with connected(config_for(batches, 8, 4), invoked=8, performed=8) as association:
            negotiated = association.negotiated
            assert negotiated is not None and negotiated.max_operations_invoked == 4
            async with anyio.create_task_group() as tg:
                for number in range(20):
                    tg.start_soon(get_checked, association, number)
            assert association.statistics().requests_sent == 20
    assert batches.most == 4
    assert batches.calls == 20


async def test_waiting_callers_do_not_send_until_a_slot_frees() -> None:
    gated = Gated()
    with anyio.fail_after(QUICK):
        async with connected(config_for(gated, 3, 3), 3, 3) as association:
            async with anyio.create_task_group() as tg:
                for number in range(7):
                    tg.start_soon(get_checked, association, number)
                await gated.arrived(3)
                for _ in range(10):
                    await anyio.lowlevel.checkpoint()
                stats = association.statistics()
                assert (stats.requests_sent, stats.outstanding) == (3, 3)
                assert gated.calls == 3
                gated.gate.set()
    assert gated.most == 3 and gated.calls == 7


# -- the performed window ------------------------------------------------------------------------


async def test_server_runs_at_most_its_performed_window() -> None:
    batches = Batches(3)
    with anyio.fail_after(QUICK):
        # the client asks for unlimited; the server performs 3 at most
        async with connected(config_for(batches, 0, 3), invoked=0, performed=0) as association:
            negotiated = association.negotiated
            assert negotiated is not None
            assert negotiated.max_operations_invoked == 3
            async with anyio.create_task_group() as tg:
                for number in range(12):
                    tg.start_soon(get_checked, association, number)
    assert batches.most == 3 and batches.calls == 12


async def test_window_zero_is_unlimited_on_both_sides() -> None:
    gated = Gated()
    count = 100
    with anyio.fail_after(QUICK):
        async with connected(config_for(gated, 0, 0), 0, 0) as association:
            negotiated = association.negotiated
            assert negotiated is not None
            assert (negotiated.max_operations_invoked,
                    negotiated.max_operations_performed) == (0, 0)
            async with anyio.create_task_group() as tg:
                for number in range(count):
                    tg.start_soon(get_checked, association, number)
                await eventually(lambda: association.statistics().requests_sent == count)
                assert association.statistics().outstanding == count  # all at once
                await gated.arrived(1)
                server_side = gated.associations[0]
                await eventually(lambda: server_side.statistics().requests_received == count)
                assert server_side.statistics().handlers_running == count  # none refused
                gated.gate.set()
            assert association.statistics().outstanding == 0
            await eventually(lambda: server_side.statistics().handlers_running == 0)
    assert gated.calls == count


async def test_default_window_is_one_one_and_synchronous() -> None:
    gated = Gated()
    with anyio.fail_after(QUICK):
        async with peers.serving(config_for(gated, 5, 5)) as (_, port), open_association(
                peers.HOST, port, contexts=CONTEXTS) as association:
            negotiated = association.negotiated
            assert negotiated is not None
            assert (negotiated.max_operations_invoked,
                    negotiated.max_operations_performed) == (1, 1)
            async with anyio.create_task_group() as tg:
                for number in range(5):
                    tg.start_soon(get_checked, association, number)
                await gated.arrived(1)
                for _ in range(10):
                    await anyio.lowlevel.checkpoint()
                assert association.statistics().requests_sent == 1
                gated.gate.set()
    assert gated.most == 1 and gated.calls == 5


# -- refusals seen by a raw requestor ------------------------------------------------------------


def get_rq(message_id: int, number: int) -> NGetRQ:
    return NGetRQ(message_id=message_id, requested_sop_class_uid=UPS_PUSH,
                  requested_sop_instance_uid=instance(number))


def status_of(received: MessageReceived) -> tuple[int, int]:
    """(Message ID Being Responded To, Status) of a response."""
    message = received.message
    assert isinstance(message, NGetRSP | CEchoRSP), message
    return message.message_id_being_responded_to, message.status


@pytest.mark.parametrize("window", [1, 2, 5])
async def test_requests_beyond_the_performed_window_get_0213(window: int) -> None:
    gated = Gated()
    with anyio.fail_after(QUICK):
        async with peers.serving(config_for(gated, 0, window)) as (_, port), \
                RawRequestor.connect(port, CONTEXTS, invoked=window, performed=1) as raw:
            for message_id in range(1, window + 3):  # two too many
                await raw.send(3, get_rq(message_id, message_id))
            refused = [status_of(await raw.receive()) for _ in range(2)]
            await gated.arrived(window)
            assert gated.calls == window
            gated.gate.set()
            answered = sorted([status_of(await raw.receive()) for _ in range(window)])
            # after the window freed up, the same IDs may be sent again
            await raw.send(3, get_rq(window + 1, 0))
            again = status_of(await raw.receive())
            await raw.release()
    assert refused == [(window + 1, Status.RESOURCE_LIMITATION),
                       (window + 2, Status.RESOURCE_LIMITATION)]
    assert answered == [(message_id, Status.SUCCESS) for message_id in range(1, window + 1)]
    assert again == (window + 1, Status.SUCCESS)
    assert gated.most == window


async def test_message_id_still_being_performed_gets_0210() -> None:
    gated = Gated()
    with anyio.fail_after(QUICK):
        async with peers.serving(config_for(gated, 0, 4)) as (_, port), \
                RawRequestor.connect(port, CONTEXTS, invoked=4) as raw:
            await raw.send(3, get_rq(10, 1))
            await gated.arrived(1)
            await raw.send(3, get_rq(10, 2))  # the same ID while 10 is still performed
            duplicate = await raw.receive()
            assert gated.calls == 1  # the duplicate never reached a handler
            gated.gate.set()
            first = await raw.receive()
            await raw.send(3, get_rq(10, 3))  # 10 is free again once answered
            reused = await raw.receive()
            await raw.release()
    assert status_of(duplicate) == (10, Status.DUPLICATE_INVOCATION)
    assert duplicate.data_set is None
    assert status_of(first) == (10, Status.SUCCESS)
    assert isinstance(first.message, NGetRSP)
    assert first.message.affected_sop_instance_uid == instance(1)
    assert status_of(reused) == (10, Status.SUCCESS)
    assert gated.calls == 2


def command(*elements: tuple[int, bytes]) -> bytes:
    """A group-0000 command set (Implicit VR LE) from (element, value) pairs."""
    body = b"".join(struct.pack("<HHL", 0, elem, len(value)) + value for elem, value in elements)
    return struct.pack("<HHLL", 0, 0, 4, len(body)) + body


def us(value: int) -> bytes:
    return struct.pack("<H", value)


def ui(uid: str) -> bytes:
    raw = uid.encode()
    return raw + b"\0" if len(raw) % 2 else raw


def c_store(command_field: int = 0x0001, data_set_type: int = 0x0101) -> bytes:
    """A C-STORE-RQ (a command aioups does not implement) with Message ID 7."""
    return command((0x0002, ui(UPS_PUSH)), (0x0100, us(command_field)), (0x0110, us(7)),
                   (0x0700, us(0)), (0x0800, us(data_set_type)), (0x1000, ui(instance(1))))


@pytest.mark.parametrize("with_data_set", [False, True], ids=["no-data-set", "data-set"])
async def test_unknown_command_field_gets_0211_with_its_response_field(
        with_data_set: bool) -> None:
    gated = Gated()
    gated.gate.set()
    store = c_store()
    data_set = None
    if with_data_set:
        store = c_store(data_set_type=0x0000)  # (0000,0800) other than 0101H: a data set
        data_set = b"\x10\x00\x20\x00\x02\x00\x00\x0012"
    with anyio.fail_after(QUICK):
        async with peers.serving(config_for(gated)) as (_, port), \
                RawRequestor.connect(port, CONTEXTS) as raw:
            await raw.send_command(3, store, data_set)
            response = await raw.receive()
            await raw.send(3, get_rq(8, 2))  # the association goes on
            after = await raw.receive()
            await raw.release()
    assert response.context_id == 3
    assert response.data_set is None
    message = response.message
    assert isinstance(message, UnknownCommand)
    assert message.command_field == 0x8001  # C-STORE-RSP
    assert message.elements[0x0120] == 7  # Message ID Being Responded To
    assert message.elements[0x0900] == Status.UNRECOGNIZED_OPERATION
    assert message.elements[0x0800] == 0x0101
    assert message.elements[0x0002] == UPS_PUSH
    assert status_of(after) == (8, Status.SUCCESS)


@pytest.mark.parametrize("store", [
    pytest.param(c_store(command_field=0x8001), id="unsolicited-response"),
    pytest.param(command((0x0100, us(0x0001)), (0x0800, us(0x0101))), id="no-message-id"),
])
async def test_unknown_command_without_answer_is_ignored(store: bytes) -> None:
    gated = Gated()
    gated.gate.set()
    with anyio.fail_after(QUICK):
        async with peers.serving(config_for(gated)) as (_, port), \
                RawRequestor.connect(port, CONTEXTS) as raw:
            await raw.send_command(3, store)
            await raw.send(3, get_rq(8, 2))
            after = await raw.receive()  # the first thing back is the N-GET-RSP
            await raw.release()
    assert status_of(after) == (8, Status.SUCCESS)


# -- cancelled callers ---------------------------------------------------------------------------


async def test_cancelled_callers_leave_the_window_usable() -> None:
    gated = Gated()
    window = 8
    with anyio.fail_after(QUICK):
        async with connected(config_for(gated, window, window), window, window) as association:
            async with anyio.create_task_group() as tg:
                for number in range(window + 4):  # 4 wait for a slot and never send
                    tg.start_soon(get_checked, association, number)
                await gated.arrived(window)
                tg.cancel_scope.cancel()
            # the abandoned requests keep their slots and IDs until their late answers come
            stats = association.statistics()
            assert (stats.requests_sent, stats.outstanding) == (window, window)
            assert association.is_established
            gated.gate.set()
            await eventually(lambda: association.statistics().outstanding == 0)
            assert association.statistics().responses_received == window
            # late responses were dropped, not mistaken for new requests' answers
            async with anyio.create_task_group() as tg:
                for number in range(100, 100 + 2 * window):
                    tg.start_soon(get_checked, association, number)
            assert (await c_echo(association)).status == Status.SUCCESS
            server_side = gated.associations[0]
            await eventually(lambda: server_side.statistics().handlers_running == 0)
    assert gated.calls == 3 * window


async def test_caller_cancelled_by_its_own_scope_others_unaffected() -> None:
    gated = Gated()
    window = 8
    cancelled = 0

    async def impatient(association: Association, number: int) -> None:
        nonlocal cancelled
        with anyio.CancelScope() as scope:
            scopes.append(scope)
            await get_checked(association, number)
        if scope.cancelled_caught:
            cancelled += 1

    scopes: list[anyio.CancelScope] = []
    with anyio.fail_after(QUICK):
        async with connected(config_for(gated, window, window), window, window) as association:
            async with anyio.create_task_group() as tg:
                for number in range(window):
                    tg.start_soon(impatient, association, number)
                await gated.arrived(window)
                for scope in scopes[::2]:  # every other caller gives up
                    scope.cancel()
                for _ in range(10):
                    await anyio.lowlevel.checkpoint()
                gated.gate.set()  # the rest get their own answers
            await eventually(lambda: association.statistics().outstanding == 0)
            await get_checked(association, 999)
    assert cancelled == window // 2
