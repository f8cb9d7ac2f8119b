"""Timeouts over loopback TCP: connect, A-ASSOCIATE-AC (accept), DIMSE response, A-RELEASE-RP,
server idle and ARTIM.  Silent peers are raw anyio listeners that record the PDUs they receive.

Every test runs on asyncio and trio and is bounded by ``anyio.fail_after``; the only waiting is
for the timeouts under test (0.3 s each).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from anyio.abc import SocketAttribute, SocketStream

from aioups import VERIFICATION, Status, open_association, send_echo
from aioups.dimse import CEchoRQ, Response
from aioups.errors import (
    AssociationAborted,
    AssociationTimeout,
    ConnectError,
    ConnectionLost,
    DIMSETimeout,
)
from aioups.net import Server, ServerConfig, ServiceRequest, Timeouts, echo_handler
from aioups.pdu import (
    PDU,
    AAbort,
    AAssociateAC,
    AAssociateRQ,
    AReleaseRQ,
    PDataTF,
    PDUFramer,
    encode_pdu,
)
from aioups.ul import AcceptorPolicy, SupportedSyntax, answer_associate_rq

pytestmark = pytest.mark.anyio

HOST = "127.0.0.1"
#: what a handler returns: a response, or a response and its data-set bytes
HandlerReturn = Response | tuple[Response, bytes | None]
QUICK = 5.0
#: the timeout under test
SHORT = 0.3
#: deadlines never fire early, but clocks are compared across tasks: allow a little slack
EARLY = 0.05


@asynccontextmanager
async def running_server(config: ServerConfig | None = None) -> AsyncIterator[tuple[Server, int]]:
    server = Server(config)
    async with anyio.create_task_group() as tg:
        port = await tg.start(server.serve, HOST, 0)
        yield server, port
        tg.cancel_scope.cancel()


class SilentPeer:
    """A raw TCP peer that records every PDU it receives and never says a word, except, with
    ``accept=True``, a valid A-ASSOCIATE-AC to the A-ASSOCIATE-RQ."""

    def __init__(self, *, accept: bool = False) -> None:
        self.accept = accept
        self.pdus: list[PDU] = []
        self.closed = anyio.Event()  # the requestor closed the connection

    @property
    def pdu_types(self) -> list[type]:
        return [type(pdu) for pdu in self.pdus]

    async def __call__(self, stream: SocketStream) -> None:
        framer = PDUFramer()
        async with stream:
            try:
                while True:
                    framer.feed(await stream.receive())
                    while (pdu := framer.next_pdu()) is not None:
                        self.pdus.append(pdu)
                        if self.accept and isinstance(pdu, AAssociateRQ):
                            await stream.send(encode_pdu(self._answer(pdu)))
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                self.closed.set()

    @staticmethod
    def _answer(rq: AAssociateRQ) -> AAssociateAC:
        policy = AcceptorPolicy(ae_title="SILENT", supported={VERIFICATION: SupportedSyntax()})
        ac = answer_associate_rq(rq, policy)
        assert isinstance(ac, AAssociateAC)
        return ac


@asynccontextmanager
async def raw_listener(peer: SilentPeer) -> AsyncIterator[int]:
    """Serve ``peer`` on 127.0.0.1 with an OS-chosen port."""
    listener = await anyio.create_tcp_listener(local_host=HOST)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, peer)
        yield listener.extra(SocketAttribute.local_port)
        tg.cancel_scope.cancel()


# -- connect -------------------------------------------------------------------------------------


async def test_connect_to_closed_port_is_connect_error(free_tcp_port: int) -> None:
    with anyio.fail_after(QUICK), pytest.raises(ConnectError) as excinfo:
        async with open_association(HOST, free_tcp_port):
            pytest.fail("nobody listens on that port")
    assert isinstance(excinfo.value.__cause__, OSError)


async def test_connect_timeout_is_association_timeout() -> None:
    # A zero connect timeout expires at the connect's first checkpoint, on both backends.
    with anyio.fail_after(QUICK):
        async with running_server() as (_, port):
            with pytest.raises(AssociationTimeout, match="connecting"):
                async with open_association(HOST, port, timeouts=Timeouts(connect=0)):
                    pytest.fail("the connect should have timed out")


# -- accept (A-ASSOCIATE-AC) ---------------------------------------------------------------------


async def test_accept_timeout_when_peer_never_answers() -> None:
    peer = SilentPeer()
    with anyio.fail_after(QUICK):
        async with raw_listener(peer) as port:
            start = anyio.current_time()
            with pytest.raises(AssociationTimeout):
                async with open_association(HOST, port, timeouts=Timeouts(accept=SHORT)):
                    pytest.fail("the peer never accepts")
            assert anyio.current_time() - start >= SHORT - EARLY
            await peer.closed.wait()
    # the requestor aborted before closing the transport
    assert peer.pdu_types == [AAssociateRQ, AAbort]


# -- DIMSE response ------------------------------------------------------------------------------


def hung_server_config() -> tuple[ServerConfig, anyio.Event]:
    """A server whose C-ECHO handler waits for an event nobody sets."""
    never = anyio.Event()

    async def hung(request: ServiceRequest) -> HandlerReturn:
        await never.wait()
        return await echo_handler(request)

    return ServerConfig(handlers={(VERIFICATION, CEchoRQ): hung}), never


async def test_response_timeout_raises_dimse_timeout_and_aborts() -> None:
    config, _ = hung_server_config()
    with anyio.fail_after(QUICK):
        async with running_server(config) as (_, port), open_association(
                HOST, port, timeouts=Timeouts(response=SHORT)) as association:
            start = anyio.current_time()
            with pytest.raises(DIMSETimeout):
                await send_echo(association)
            assert anyio.current_time() - start >= SHORT - EARLY
            assert not association.is_established
            await association.wait_closed()
            # later calls fail at once instead of waiting again
            with pytest.raises((DIMSETimeout, AssociationAborted, ConnectionLost)):
                await send_echo(association)


async def test_per_call_timeout_overrides_the_default() -> None:
    config, _ = hung_server_config()
    with anyio.fail_after(QUICK):
        async with running_server(config) as (_, port), \
                open_association(HOST, port) as association:  # default response timeout: 60 s
            with pytest.raises(DIMSETimeout):
                await send_echo(association, timeout=SHORT)
            assert not association.is_established


async def test_response_timeout_sends_a_abort_to_a_silent_peer() -> None:
    peer = SilentPeer(accept=True)
    with anyio.fail_after(QUICK):
        async with raw_listener(peer) as port:
            async with open_association(HOST, port,
                                        timeouts=Timeouts(response=SHORT)) as association:
                with pytest.raises(DIMSETimeout):
                    await send_echo(association)
            await peer.closed.wait()
    assert peer.pdu_types == [AAssociateRQ, PDataTF, AAbort]


# -- release (A-RELEASE-RP) ----------------------------------------------------------------------


async def test_release_timeout_when_peer_never_answers_release() -> None:
    peer = SilentPeer(accept=True)
    with anyio.fail_after(QUICK):
        async with raw_listener(peer) as port:
            start = anyio.current_time()
            with pytest.raises(AssociationTimeout):
                async with open_association(HOST, port,
                                            timeouts=Timeouts(release=SHORT)) as association:
                    assert association.is_established
                    start = anyio.current_time()
            assert anyio.current_time() - start >= SHORT - EARLY
            # the transport is closed: the peer sees the end of the stream
            await association.wait_closed()
            await peer.closed.wait()
    assert peer.pdu_types == [AAssociateRQ, AReleaseRQ, AAbort]
    assert not association.is_established


# -- server side: idle and ARTIM -----------------------------------------------------------------


async def test_server_idle_timeout_aborts_idle_association() -> None:
    config = ServerConfig(timeouts=Timeouts(idle=SHORT))
    with anyio.fail_after(QUICK):
        async with running_server(config) as (server, port):
            async with open_association(HOST, port) as association:
                assert await send_echo(association) == Status.SUCCESS
                idle_since = anyio.current_time()
                await association.wait_closed()  # the server aborts; nothing else happens
                assert anyio.current_time() - idle_since >= SHORT - EARLY
                assert not association.is_established
                with pytest.raises((AssociationAborted, ConnectionLost)):
                    await send_echo(association)
            assert server.statistics().accepted == 1


@pytest.mark.parametrize("window", [1, 3], ids=["window-1", "window-3"])
async def test_server_idle_timeout_spares_a_slow_request(window: int) -> None:
    async def slow(request: ServiceRequest) -> HandlerReturn:
        await anyio.sleep(2 * SHORT)  # a fake slow handler: longer than the idle timeout
        return await echo_handler(request)

    config = ServerConfig(handlers={(VERIFICATION, CEchoRQ): slow},
                          timeouts=Timeouts(idle=SHORT), max_operations_invoked=window,
                          max_operations_performed=window)
    with anyio.fail_after(QUICK):
        async with running_server(config) as (_, port), open_association(
                HOST, port, max_operations_invoked=window,
                max_operations_performed=window) as association:
            assert await send_echo(association) == Status.SUCCESS
            assert association.is_established


async def test_server_artim_closes_connection_without_associate_rq() -> None:
    config = ServerConfig(timeouts=Timeouts(artim=SHORT))
    with anyio.fail_after(QUICK):
        async with running_server(config) as (server, port):
            stream = await anyio.connect_tcp(HOST, port)
            async with stream:
                start = anyio.current_time()
                with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)):
                    await stream.receive()  # we never send A-ASSOCIATE-RQ
                assert anyio.current_time() - start >= SHORT - EARLY
            assert server.statistics().accepted == 0
