"""C-FIND end to end: the server's async-generator handlers (``_dispatch._stream_matches``), the
client's :class:`FindResults` iteration, and C-CANCEL in its three client forms (leaving
``async with``, ``await results.cancel()``, a dropped iterator).  A raw requestor checks what
goes on the wire: Pending responses carry an Identifier, the final response does not (DIMSE-11,
DIMSE-23, edge cases 15 and 17).

Every test runs on asyncio and trio, bounded by ``anyio.fail_after``; handlers and tests meet
through events, never sleeps.
"""

from __future__ import annotations

import gc
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import anyio.lowlevel
import helpers.raw_peer
import pytest
from anyio.abc import SocketStream
from helpers import peers
from pydicom import Dataset

from aioups import PresentationContextProposal, Priority, Status, StatusCategory
from aioups._uids import (
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    UPS_PULL,
    UPS_QUERY,
    VERIFICATION,
)
from aioups.dimse import (
    CCancelRQ,
    CEchoRQ,
    CFindRQ,
    CFindRSP,
    Message,
    UnknownCommand,
    decode_command_elements,
    encode_data_set,
)
from aioups.errors import DIMSEFailure, DIMSEStatusError, DIMSETimeout
from aioups.net import (
    Association,
    FindMatch,
    Handler,
    ServerConfig,
    ServiceRequest,
    Timeouts,
    c_echo,
    c_find,
    echo_handler,
    open_association,
)
from aioups.pdu import (
    PDataTF,
)

pytestmark = pytest.mark.anyio

QUICK = 10.0
CONTEXTS = (PresentationContextProposal(abstract_syntax=VERIFICATION),
            PresentationContextProposal(abstract_syntax=UPS_PULL))
ALL_TS = [
    pytest.param(IMPLICIT_VR_LITTLE_ENDIAN, id="implicit-le"),
    pytest.param(EXPLICIT_VR_LITTLE_ENDIAN, id="explicit-le"),
    pytest.param(EXPLICIT_VR_BIG_ENDIAN, id="explicit-be"),
    pytest.param(DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, id="deflated"),
]


def match(number: int) -> Dataset:
    ds = Dataset()
    ds.PatientID = f"P{number}"
    ds.ProcedureStepState = "SCHEDULED"
    return ds


def identifier() -> Dataset:
    ds = Dataset()
    ds.PatientID = ""
    ds.ProcedureStepState = "SCHEDULED"
    return ds


def config_for(handler: Handler, sop_class: str = UPS_PULL) -> ServerConfig:
    return ServerConfig(handlers={(VERIFICATION, CEchoRQ): echo_handler,
                                  (sop_class, CFindRQ): handler})


@asynccontextmanager
async def connected(config: ServerConfig, *,
                    contexts: tuple[PresentationContextProposal, ...] = CONTEXTS,
                    timeouts: Timeouts = Timeouts()  # noqa: B008
                    ) -> AsyncIterator[Association]:
    async with peers.serving(config) as (_, port), open_association(
            peers.HOST, port, contexts=contexts, timeouts=timeouts) as association:
        yield association


async def eventually(predicate: Callable[[], bool]) -> None:
    """Yield to the event loop (no sleeping) until ``predicate()`` holds."""
    while not predicate():
        await anyio.lowlevel.checkpoint()


class Matches:
    """A C-FIND handler yielding ``count`` matches.

    Only for the first request it serves: after ``gate_after`` matches it waits for ``gate``;
    after ``wait_cancel_after`` matches it waits for the C-CANCEL, then stops
    (``stop_on_cancel``) or keeps yielding (those matches are never sent).  Later requests get
    all ``count`` matches at once.
    """

    def __init__(self, count: int, *, gate_after: int | None = None,
                 wait_cancel_after: int | None = None, stop_on_cancel: bool = False) -> None:
        self.count = count
        self.gate_after = gate_after
        self.wait_cancel_after = wait_cancel_after
        self.stop_on_cancel = stop_on_cancel
        self.gate = anyio.Event()
        #: the first request saw its C-CANCEL
        self.saw_cancel = anyio.Event()
        #: the first request's generator ended (exhausted, closed or cancelled)
        self.finished = anyio.Event()
        self.requests: list[ServiceRequest] = []
        #: matches yielded in all (asked for by the server)
        self.yielded = 0

    async def __call__(self, request: ServiceRequest) -> AsyncIterator[FindMatch]:
        first = not self.requests
        self.requests.append(request)
        try:
            for number in range(self.count):
                if first and number == self.gate_after:
                    await self.gate.wait()
                if first and number == self.wait_cancel_after:
                    await request.wait_cancelled()
                    assert request.cancelled
                    self.saw_cancel.set()
                    if self.stop_on_cancel:
                        return
                self.yielded += 1
                yield match(number)
        finally:
            if first:
                self.finished.set()


# -- iteration -----------------------------------------------------------------------------------


async def test_each_match_is_one_pending_response_then_success() -> None:
    handler = Matches(3)
    with anyio.fail_after(QUICK):
        async with connected(config_for(handler)) as association:
            results = c_find(association, UPS_PULL, identifier())
            responses = [response async for response in results]
            assert association.statistics().outstanding == 0
    assert [r.status for r in responses] == [Status.PENDING] * 3
    assert all(r.category is StatusCategory.PENDING for r in responses)
    assert [r.data_set for r in responses] == [match(0), match(1), match(2)]
    assert all(isinstance(r.message, CFindRSP) for r in responses)
    assert results.count == 3
    assert results.final is not None
    assert results.final.status == Status.SUCCESS
    assert results.final.data_set_bytes is None  # DIMSE-23: the final carries no identifier
    assert results.final.message.message_id_being_responded_to == results.message_id
    [request] = handler.requests
    assert request.data_set == identifier()


async def test_zero_matches_is_a_single_success_without_identifier() -> None:
    with anyio.fail_after(QUICK):
        async with connected(config_for(Matches(0))) as association:
            results = c_find(association, UPS_PULL, identifier())
            assert [r async for r in results] == []
    assert results.count == 0
    assert results.final is not None
    assert results.final.status == Status.SUCCESS
    assert results.final.data_set_bytes is None and results.final.data_set is None


async def test_yielded_forms_dataset_bytes_and_status_pairs() -> None:
    async def handler(request: ServiceRequest) -> AsyncIterator[FindMatch]:
        yield match(0)
        yield encode_data_set(match(1), request.context.transfer_syntax)
        yield Status.PENDING_WARNING, match(2)
        yield 0xFF01, encode_data_set(match(3), request.context.transfer_syntax)

    with anyio.fail_after(QUICK):
        async with connected(config_for(handler)) as association:
            responses = [r async for r in c_find(association, UPS_PULL, identifier())]
    assert [r.status for r in responses] == [0xFF00, 0xFF00, 0xFF01, 0xFF01]
    assert [r.data_set for r in responses] == [match(n) for n in range(4)]


async def test_request_fields_reach_the_handler() -> None:
    handler = Matches(0)
    raw_identifier = encode_data_set(identifier(), EXPLICIT_VR_LITTLE_ENDIAN)
    contexts = (PresentationContextProposal(abstract_syntax=UPS_QUERY,
                                            transfer_syntaxes=(EXPLICIT_VR_LITTLE_ENDIAN,)),)
    with anyio.fail_after(QUICK):
        async with connected(config_for(handler, UPS_QUERY), contexts=contexts) as association:
            async with c_find(association, UPS_QUERY, raw_identifier,
                              priority=Priority.HIGH) as results:
                assert results.message_id is not None
                assert [r async for r in results] == []
    [request] = handler.requests
    assert isinstance(request.message, CFindRQ)
    assert request.message.affected_sop_class_uid == UPS_QUERY
    assert request.message.priority == Priority.HIGH
    assert request.message.message_id == results.message_id
    assert request.data_set_bytes == raw_identifier  # bytes are sent unchanged
    assert not request.cancelled


@pytest.mark.parametrize("ts", ALL_TS)
async def test_identifier_and_matches_use_the_context_transfer_syntax(ts: str) -> None:
    handler = Matches(2)
    contexts = (PresentationContextProposal(abstract_syntax=UPS_PULL, transfer_syntaxes=(ts,)),)
    with anyio.fail_after(QUICK):
        async with connected(config_for(handler), contexts=contexts) as association:
            responses = [r async for r in c_find(association, UPS_PULL, identifier())]
    assert handler.requests[0].data_set_bytes == encode_data_set(identifier(), ts)
    assert [r.data_set_bytes for r in responses] == [encode_data_set(match(n), ts)
                                                     for n in range(2)]
    assert all(r.transfer_syntax == ts for r in responses)


async def test_start_is_idempotent_and_the_request_is_sent_once() -> None:
    handler = Matches(1)
    with anyio.fail_after(QUICK):
        async with connected(config_for(handler)) as association:
            results = c_find(association, UPS_PULL, identifier())
            assert results.message_id is None  # nothing sent yet
            await results.start()
            await results.start()
            assert [r.data_set for r in [r async for r in results]] == [match(0)]
            assert association.statistics().requests_sent == 1
    assert len(handler.requests) == 1


# -- failures --------------------------------------------------------------------------------


async def test_status_error_mid_stream_is_the_final_failure() -> None:
    async def handler(request: ServiceRequest) -> AsyncIterator[FindMatch]:
        yield match(0)
        raise DIMSEStatusError(0xA700, "out of resources", error_id=3,
                               offending_elements=(0x00100020,))

    received: list[Dataset | None] = []
    with anyio.fail_after(QUICK):
        async with connected(config_for(handler)) as association:
            results = c_find(association, UPS_PULL, identifier())
            with pytest.raises(DIMSEFailure) as caught:
                async for response in results:
                    received.append(response.data_set)  # noqa: PERF401 - ends by raising
            assert (await c_echo(association)).status == Status.SUCCESS
            assert association.statistics().outstanding == 0
    assert received == [match(0)]
    failure = caught.value
    assert (failure.status, failure.error_comment) == (0xA700, "out of resources")
    assert failure.error_id is None  # (0000,0903) is an N-service field only (PS3.7)
    assert failure.offending_elements == (0x00100020,)
    assert results.final is not None and results.final is failure.response
    assert results.final.data_set_bytes is None
    assert results.count == 1
    assert [r async for r in results] == []  # iteration stays finished


async def test_status_error_before_any_match() -> None:
    async def handler(request: ServiceRequest) -> AsyncIterator[FindMatch]:
        if request.data_set is not None:
            raise DIMSEStatusError(Status.IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS)
        yield match(0)

    with anyio.fail_after(QUICK):
        async with connected(config_for(handler)) as association:
            with pytest.raises(DIMSEFailure) as caught:
                async with c_find(association, UPS_PULL, identifier()) as results:
                    async for _ in results:
                        pytest.fail("no match expected")
    assert caught.value.status == Status.IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS


async def test_handler_bug_mid_stream_gives_0110_and_is_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="aioups.net")

    async def handler(request: ServiceRequest) -> AsyncIterator[FindMatch]:
        yield match(0)
        raise KeyError("bug")

    with anyio.fail_after(QUICK):
        async with connected(config_for(handler)) as association:
            with pytest.raises(DIMSEFailure) as caught:
                async for _ in c_find(association, UPS_PULL, identifier()):
                    pass
            assert (await c_echo(association)).status == Status.SUCCESS
    assert caught.value.status == Status.PROCESSING_FAILURE
    assert any(r.name == "aioups.net" and r.exc_info and r.exc_info[0] is KeyError
               for r in caplog.records)


async def test_undecodable_identifier_gives_0110() -> None:
    async def handler(request: ServiceRequest) -> AsyncIterator[FindMatch]:
        assert request.data_set is not None  # raises DataSetError
        yield match(0)

    with anyio.fail_after(QUICK):
        async with connected(config_for(handler)) as association:
            with pytest.raises(DIMSEFailure) as caught:
                async for _ in c_find(association, UPS_PULL, b"\x10\x00\x20\x00LO\x08\x00AB"):
                    pytest.fail("no match expected")
    assert caught.value.status == Status.PROCESSING_FAILURE
    assert caught.value.error_comment


async def test_per_response_timeout_raises_dimse_timeout() -> None:
    handler = Matches(2, gate_after=1)  # the second match never comes
    with anyio.fail_after(QUICK):
        async with connected(config_for(handler)) as association:
            results = c_find(association, UPS_PULL, identifier(), timeout=0.2)
            first = await results.__anext__()
            assert first.data_set == match(0)
            with pytest.raises(DIMSETimeout):
                await results.__anext__()
            assert not association.is_established
            await handler.finished.wait()  # the server's handler was cancelled by the abort


# -- C-CANCEL ------------------------------------------------------------------------------------


async def test_leaving_async_with_early_sends_c_cancel() -> None:
    handler = Matches(5, wait_cancel_after=1)
    with anyio.fail_after(QUICK):
        async with connected(config_for(handler)) as association:
            async with c_find(association, UPS_PULL, identifier()) as results:
                async for response in results:
                    assert response.data_set == match(0)
                    break
            await handler.saw_cancel.wait()
            await handler.finished.wait()
            await eventually(lambda: association.statistics().outstanding == 0)
            # the association is still usable: an echo and a whole new C-FIND
            assert (await c_echo(association)).status == Status.SUCCESS
            second = [r async for r in c_find(association, UPS_PULL, identifier())]
            assert len(second) == 5
    # the first find stopped at its second match (asked for, then dropped for the cancel)
    assert handler.yielded == 2 + 5
    assert results.final is None  # the final response of a closed iteration is dropped
    assert results.count == 1


async def test_leaving_async_with_before_iterating_cancels() -> None:
    handler = Matches(3, wait_cancel_after=0)
    with anyio.fail_after(QUICK):
        async with connected(config_for(handler)) as association:
            async with c_find(association, UPS_PULL, identifier()):
                pass  # the request is sent on entry; leaving cancels it
            await handler.saw_cancel.wait()
            await eventually(lambda: association.statistics().outstanding == 0)
            assert (await c_echo(association)).status == Status.SUCCESS


async def test_exception_inside_async_with_cancels_and_propagates() -> None:
    handler = Matches(5, wait_cancel_after=1)
    with anyio.fail_after(QUICK):
        async with connected(config_for(handler)) as association:
            with pytest.raises(LookupError, match="consumer"):
                async with c_find(association, UPS_PULL, identifier()) as results:
                    async for _ in results:
                        raise LookupError("consumer failed")
            await handler.saw_cancel.wait()
            await eventually(lambda: association.statistics().outstanding == 0)
            assert (await c_echo(association)).status == Status.SUCCESS


@pytest.mark.parametrize("keep_yielding", [False, True], ids=["handler-stops", "handler-goes-on"])
async def test_cancel_then_keep_iterating_ends_with_fe00(keep_yielding: bool) -> None:
    handler = Matches(5, wait_cancel_after=1, stop_on_cancel=not keep_yielding)
    with anyio.fail_after(QUICK):
        async with connected(config_for(handler)) as association:
            results = c_find(association, UPS_PULL, identifier())
            first = await results.__anext__()
            await results.cancel()
            await results.cancel()  # a second cancel sends nothing more
            rest = [r async for r in results]  # no DIMSEFailure for Cancel
            assert association.statistics().outstanding == 0
            assert (await c_echo(association)).status == Status.SUCCESS
    assert first.data_set == match(0)
    assert rest == []
    assert results.final is not None
    assert results.final.status == Status.CANCEL
    assert results.final.category is StatusCategory.CANCEL
    assert results.final.data_set_bytes is None
    assert handler.saw_cancel.is_set()


async def test_cancel_after_the_handler_finished_ends_with_success() -> None:
    """DIMSE-12: a C-CANCEL that arrives after processing ended changes nothing."""
    handler = Matches(1)
    with anyio.fail_after(QUICK):
        async with connected(config_for(handler)) as association:
            results = c_find(association, UPS_PULL, identifier())
            first = await results.__anext__()
            await handler.finished.wait()  # the server decided the final status already
            await results.cancel()
            rest = [r async for r in results]
            assert (await c_echo(association)).status == Status.SUCCESS
    assert first.data_set == match(0) and rest == []
    assert results.final is not None and results.final.status == Status.SUCCESS


async def test_cancel_before_start_sends_nothing() -> None:
    handler = Matches(1)
    with anyio.fail_after(QUICK):
        async with connected(config_for(handler)) as association:
            results = c_find(association, UPS_PULL, identifier())
            await results.cancel()  # nothing sent yet: nothing to cancel
            assert [r.data_set async for r in results] == [match(0)]
    assert results.final is not None and results.final.status == Status.SUCCESS


async def _first_match_then_drop(association: Association) -> Dataset | None:
    async for response in c_find(association, UPS_PULL, identifier()):
        return response.data_set  # the iterator is dropped here, mid-find
    return None


async def test_dropped_iterator_cancels_at_the_next_match() -> None:
    # The server yields match 0, waits until the client dropped its iterator, yields match 1
    # (whose arrival makes the client send C-CANCEL) and then waits for that C-CANCEL.
    handler = Matches(4, gate_after=1, wait_cancel_after=2)
    with anyio.fail_after(QUICK):
        async with connected(config_for(handler)) as association:
            assert await _first_match_then_drop(association) == match(0)
            gc.collect()  # not needed on CPython (reference counting); harmless elsewhere
            assert association.statistics().outstanding == 1
            handler.gate.set()
            await handler.saw_cancel.wait()
            await handler.finished.wait()
            await eventually(lambda: association.statistics().outstanding == 0)
            assert (await c_echo(association)).status == Status.SUCCESS
            again = [r.data_set async for r in c_find(association, UPS_PULL, identifier())]
            assert len(again) == 4
    assert handler.yielded == 3 + 4


async def test_find_counts_as_one_outstanding_operation_until_final() -> None:
    """DIMSE-40: with the default window 1, an echo waits for the running C-FIND to end."""
    handler = Matches(2, gate_after=1)
    echoed = anyio.Event()
    with anyio.fail_after(QUICK):
        async with connected(config_for(handler)) as association:
            results = c_find(association, UPS_PULL, identifier())
            await results.__anext__()
            assert association.statistics().outstanding == 1

            async def echo() -> None:
                await c_echo(association)
                echoed.set()

            async with anyio.create_task_group() as tg:
                tg.start_soon(echo)
                await eventually(lambda: association.statistics().requests_sent == 1)
                await anyio.lowlevel.checkpoint()
                assert not echoed.is_set()
                handler.gate.set()
                assert [r.data_set async for r in results] == [match(1)]
            assert echoed.is_set()
            assert association.statistics().requests_sent == 2


# -- on the wire (raw requestor) -----------------------------------------------------------------


@dataclass
class WireMessage:
    """One message received by the raw requestor, with what its command set said."""

    context_id: int
    message: Message | UnknownCommand
    data_set: bytes | None
    #: (0000,0800) CommandDataSetType as sent
    data_set_type: int


class RawRequestor(helpers.raw_peer.RawRequestor):
    """A raw requestor that also records each message's CommandDataSetType, to see exactly
    what the server sends."""

    def __init__(self, stream: SocketStream) -> None:
        super().__init__(stream)
        self.wire: deque[WireMessage] = deque()
        self._command: list[bytes] = []
        self._data_set_type = 0

    async def receive(self) -> WireMessage:
        """The next whole message (command and data set) the server sent."""
        assert self.engine is not None
        while not self.wire:
            pdu = await self.next_pdu()
            assert isinstance(pdu, PDataTF), pdu
            for pdv in pdu.pdvs:
                if pdv.is_command:
                    self._command.append(pdv.data)
                    if pdv.is_last:
                        elements = decode_command_elements(b"".join(self._command))
                        self._command.clear()
                        value = elements[0x0800]
                        assert isinstance(value, int)
                        self._data_set_type = value
                for received in self.engine.receive_pdvs((pdv,)):
                    self.wire.append(WireMessage(received.context_id, received.message,
                                                 received.data_set, self._data_set_type))
        return self.wire.popleft()



RAW_CONTEXTS = (PresentationContextProposal(abstract_syntax=UPS_PULL,
                                            transfer_syntaxes=(EXPLICIT_VR_LITTLE_ENDIAN,)),)


async def test_wire_pending_responses_carry_identifier_final_does_not() -> None:
    identifier_bytes = encode_data_set(identifier(), EXPLICIT_VR_LITTLE_ENDIAN)
    with anyio.fail_after(QUICK):
        async with peers.serving(config_for(Matches(2))) as (_, port), \
                RawRequestor.connect(port, RAW_CONTEXTS) as raw:
            await raw.send(1, CFindRQ(message_id=41, affected_sop_class_uid=UPS_PULL),
                           identifier_bytes)
            responses = [await raw.receive() for _ in range(3)]
            await raw.release()
    for number, pending in enumerate(responses[:2]):
        assert isinstance(pending.message, CFindRSP)
        assert pending.message.status == Status.PENDING
        assert pending.data_set_type != 0x0101
        assert pending.data_set == encode_data_set(match(number), EXPLICIT_VR_LITTLE_ENDIAN)
    final = responses[2]
    assert isinstance(final.message, CFindRSP)
    assert final.message.status == Status.SUCCESS
    assert final.data_set_type == 0x0101 and final.data_set is None
    for response in responses:
        assert response.context_id == 1
        assert isinstance(response.message, CFindRSP)
        assert response.message.message_id_being_responded_to == 41
        # edge case 18: the negotiated (Pull) UID in Affected SOP Class UID
        assert response.message.affected_sop_class_uid == UPS_PULL


async def test_wire_zero_matches_is_one_response_without_data_set() -> None:
    identifier_bytes = encode_data_set(identifier(), EXPLICIT_VR_LITTLE_ENDIAN)
    with anyio.fail_after(QUICK):
        async with peers.serving(config_for(Matches(0))) as (_, port), \
                RawRequestor.connect(port, RAW_CONTEXTS) as raw:
            await raw.send(1, CFindRQ(message_id=5, affected_sop_class_uid=UPS_PULL),
                           identifier_bytes)
            final = await raw.receive()
            await raw.release()
            assert not raw.messages
    assert isinstance(final.message, CFindRSP)
    assert final.message.status == Status.SUCCESS
    assert final.data_set_type == 0x0101 and final.data_set is None


async def test_wire_c_cancel_ends_with_fe00_without_data_set() -> None:
    handler = Matches(5, wait_cancel_after=1)
    identifier_bytes = encode_data_set(identifier(), EXPLICIT_VR_LITTLE_ENDIAN)
    with anyio.fail_after(QUICK):
        async with peers.serving(config_for(handler)) as (_, port), \
                RawRequestor.connect(port, RAW_CONTEXTS) as raw:
            await raw.send(1, CFindRQ(message_id=9, affected_sop_class_uid=UPS_PULL),
                           identifier_bytes)
            pending = await raw.receive()
            assert pending.data_set is not None
            # C-CANCEL: MessageIDBeingRespondedTo, no Message ID, no data set (DIMSE-12)
            await raw.send(1, CCancelRQ(message_id_being_responded_to=9))
            final = await raw.receive()
            await raw.release()
            assert not raw.messages  # nothing answers the C-CANCEL itself
    assert handler.saw_cancel.is_set()
    assert isinstance(final.message, CFindRSP)
    assert final.message.message_id_being_responded_to == 9
    assert final.message.status == Status.CANCEL
    assert final.data_set_type == 0x0101 and final.data_set is None


async def test_wire_c_cancel_for_an_unknown_message_id_is_ignored() -> None:
    identifier_bytes = encode_data_set(identifier(), EXPLICIT_VR_LITTLE_ENDIAN)
    with anyio.fail_after(QUICK):
        async with peers.serving(config_for(Matches(1))) as (_, port), \
                RawRequestor.connect(port, RAW_CONTEXTS) as raw:
            await raw.send(1, CCancelRQ(message_id_being_responded_to=77))
            await raw.send(1, CFindRQ(message_id=78, affected_sop_class_uid=UPS_PULL),
                           identifier_bytes)
            statuses = [(await raw.receive()).message for _ in range(2)]
            await raw.release()
    assert [getattr(m, "status", None) for m in statuses] == [Status.PENDING, Status.SUCCESS]
