"""Cancellation over loopback TCP, in the style of httpcore's ``test_cancellations.py``: cancel a
caller, a whole ``open_association`` block or the server itself at awkward moments, then check
that nothing hangs and both sides end up consistent.

Slow peers are handlers waiting on an ``anyio.Event``; every wait is bounded by ``fail_after``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.lowlevel
import pytest
from anyio.abc import SocketAttribute, SocketStream, TaskStatus

from aioups import VERIFICATION, Status, open_association, send_echo
from aioups.dimse import CEchoRQ, Response
from aioups.errors import AssociationAborted, ConnectError, ConnectionLost
from aioups.net import Association, Server, ServerConfig, ServiceRequest, echo_handler
from aioups.pdu import PDU, AAbort, AAssociateRQ, PDUFramer

pytestmark = pytest.mark.anyio

HOST = "127.0.0.1"
#: what a handler returns: a response, or a response and its data-set bytes
HandlerReturn = Response | tuple[Response, bytes | None]
QUICK = 5.0

#: window sizes: 1/1 runs handlers inline in the reader, anything else in worker tasks
WINDOWS = [pytest.param(1, id="window-1"), pytest.param(3, id="window-3")]

@asynccontextmanager
async def running_server(config: ServerConfig | None = None) -> AsyncIterator[tuple[Server, int]]:
    server = Server(config)
    async with anyio.create_task_group() as tg:
        port = await tg.start(server.serve, HOST, 0)
        yield server, port
        tg.cancel_scope.cancel()


async def eventually_idle(server: Server) -> None:
    """Yield (no sleeping) until the server has no open association, at most QUICK seconds."""
    with anyio.fail_after(QUICK):
        while server.statistics().active or server.statistics().open_connections:
            await anyio.lowlevel.checkpoint()


class SlowEcho:
    """A C-ECHO handler that waits for ``gate``; records its associations and cancellations."""

    def __init__(self) -> None:
        self.gate = anyio.Event()
        self.started = anyio.Event()
        self.cancelled = anyio.Event()
        self.associations: list[Association] = []

    async def __call__(self, request: ServiceRequest) -> HandlerReturn:
        self.associations.append(request.association)
        self.started.set()
        try:
            await self.gate.wait()
        except anyio.get_cancelled_exc_class():
            self.cancelled.set()
            raise
        return await echo_handler(request)


def config_for(handler: SlowEcho, window: int = 1) -> ServerConfig:
    return ServerConfig(handlers={(VERIFICATION, CEchoRQ): handler},
                        max_operations_invoked=window, max_operations_performed=window)


# -- cancelling one caller -----------------------------------------------------------------------


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("delay", [0, 0.001, 0.05])
async def test_cancelled_caller_leaves_association_usable_or_aborted(delay: float,
                                                                     window: int) -> None:
    slow = SlowEcho()
    with anyio.fail_after(QUICK):
        async with running_server(config_for(slow, window)) as (server, port), open_association(
                HOST, port, max_operations_invoked=window,
                max_operations_performed=window) as association:
            with anyio.move_on_after(delay) as scope:
                await send_echo(association)
            assert scope.cancelled_caught
            # The abandoned request keeps its Message ID and window slot until its late
            # response comes (the peer is still performing it: DIMSE-14).
            assert association.statistics().outstanding <= 1
            slow.gate.set()
            if association.is_established:
                # the late response to the cancelled request is dropped, not mistaken for ours
                assert await send_echo(association) == Status.SUCCESS
                assert association.statistics().outstanding == 0
            else:
                # cancelled half-way through a write: the stream cannot be trusted any more
                with pytest.raises((AssociationAborted, ConnectionLost)):
                    await send_echo(association)
        await eventually_idle(server)


@pytest.mark.parametrize("window", WINDOWS)
async def test_caller_cancelled_while_handler_runs_keeps_association(window: int) -> None:
    slow = SlowEcho()
    with anyio.fail_after(QUICK):
        async with running_server(config_for(slow, window)) as (_, port), open_association(
                HOST, port, max_operations_invoked=window,
                max_operations_performed=window) as association:
            scope = anyio.CancelScope()

            async def caller() -> None:
                with scope:
                    await send_echo(association)

            async with anyio.create_task_group() as tg:
                tg.start_soon(caller)
                await slow.started.wait()  # the request reached the server's handler
                scope.cancel()
            assert scope.cancelled_caught
            assert association.is_established
            slow.gate.set()
            assert await send_echo(association) == Status.SUCCESS
            stats = association.statistics()
            # the late response to the abandoned request was received (and dropped)
            assert (stats.requests_sent, stats.responses_received) == (2, 2)


# -- cancelling while the association is being set up -------------------------------------------


class MutePeer:
    """A raw TCP acceptor that never answers; records the PDUs it gets and when it sees EOF."""

    def __init__(self) -> None:
        self.connected = anyio.Event()
        self.closed = anyio.Event()
        self.pdus: list[PDU] = []

    async def __call__(self, stream: SocketStream) -> None:
        self.connected.set()
        framer = PDUFramer()
        async with stream:
            try:
                while True:
                    framer.feed(await stream.receive())
                    while (pdu := framer.next_pdu()) is not None:
                        self.pdus.append(pdu)
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                self.closed.set()


@pytest.mark.parametrize("delay", [0, 0.05], ids=["while-connecting", "awaiting-ac"])
async def test_cancelled_while_establishing_closes_cleanly(delay: float) -> None:
    peer = MutePeer()
    listener = await anyio.create_tcp_listener(local_host=HOST)
    with anyio.fail_after(QUICK):
        async with listener, anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, peer)
            port = listener.extra(SocketAttribute.local_port)
            with anyio.move_on_after(delay) as scope:
                async with open_association(HOST, port):
                    pytest.fail("the peer never accepts")
            assert scope.cancelled_caught
            if delay:
                await peer.connected.wait()
            if peer.connected.is_set():
                await peer.closed.wait()  # the connection was not leaked
            tg.cancel_scope.cancel()
    if delay:
        assert [type(pdu) for pdu in peer.pdus] == [AAssociateRQ, AAbort]


# -- cancelling the whole block ------------------------------------------------------------------


async def test_cancelled_block_aborts_and_server_cleans_up() -> None:
    slow = SlowEcho()
    slow.gate.set()  # answers at once: the association is idle when cancelled
    parked = anyio.Event()
    with anyio.fail_after(QUICK):
        async with running_server(config_for(slow)) as (server, port):
            with anyio.move_on_after(0.05) as scope:
                async with open_association(HOST, port) as association:
                    assert await send_echo(association) == Status.SUCCESS
                    await parked.wait()  # never set: only the cancellation ends the block
            assert scope.cancelled_caught
            assert not association.is_established
            await association.wait_closed()
            [server_side] = slow.associations
            await server_side.wait_closed()
            with pytest.raises(AssociationAborted) as excinfo:  # an A-ABORT, not a release
                await server_side.request(1, lambda mid: CEchoRQ(message_id=mid))
            assert excinfo.value.source == 0
            await eventually_idle(server)


@pytest.mark.parametrize("window", [
    pytest.param(1, id="window-1"),
    pytest.param(3, id="window-3"),
])
async def test_cancelled_block_mid_request_ends_server_association(window: int) -> None:
    slow = SlowEcho()  # never answers
    with anyio.fail_after(QUICK):
        async with running_server(config_for(slow, window)) as (server, port):
            with anyio.CancelScope() as scope:
                async with open_association(HOST, port, max_operations_invoked=window,
                                            max_operations_performed=window) as association:
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(send_echo, association)
                        await slow.started.wait()
                        scope.cancel()
            assert scope.cancelled_caught
            assert not association.is_established
            [server_side] = slow.associations
            # the server notices the abort and cancels the handler, without its help
            with anyio.move_on_after(1) as waiting:
                await server_side.wait_closed()
                await slow.cancelled.wait()
            if not waiting.cancelled_caught:
                await eventually_idle(server)
        # asserted here, outside the server's task group, so a failure is not an ExceptionGroup
        assert not waiting.cancelled_caught, "the server association outlived the abort"


# -- cancelling the server -----------------------------------------------------------------------


async def test_server_cancelled_with_open_associations_ends_them() -> None:
    slow = SlowEcho()  # never answers the one client called "BUSY"

    async def handler(request: ServiceRequest) -> HandlerReturn:
        assert request.association.negotiated is not None
        if request.association.negotiated.peer_ae_title == "BUSY":
            return await slow(request)
        return await echo_handler(request)

    async def idle_client(port: int, *, task_status: TaskStatus[Association]) -> None:
        async with open_association(HOST, port) as association:
            assert await send_echo(association) == Status.SUCCESS
            task_status.started(association)
            await association.wait_closed()  # only the server's shutdown ends this
            with pytest.raises((ConnectionLost, AssociationAborted)):
                await send_echo(association)

    async def busy_client(port: int) -> None:
        async with open_association(HOST, port, calling_ae_title="BUSY") as association:
            with pytest.raises((ConnectionLost, AssociationAborted)):
                await send_echo(association)

    server = Server(ServerConfig(handlers={(VERIFICATION, CEchoRQ): handler}))
    with anyio.fail_after(QUICK):
        async with anyio.create_task_group() as clients:
            async with anyio.create_task_group() as server_tg:
                port = await server_tg.start(server.serve, HOST, 0)
                idle = [await clients.start(idle_client, port) for _ in range(3)]
                clients.start_soon(busy_client, port)
                await slow.started.wait()
                assert server.statistics().active == 4
                server_tg.cancel_scope.cancel()
            # the server task group ended promptly, and took its associations with it
            assert server.statistics().active == 0
            assert server.statistics().open_connections == 0
            assert slow.cancelled.is_set()
        assert not any(association.is_established for association in idle)
        with pytest.raises(ConnectError):  # nobody listens any more
            async with open_association(HOST, port):
                pytest.fail("the server is gone")
