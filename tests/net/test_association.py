"""Client ↔ server over loopback TCP: echo, concurrency, release/abort, acceptance checks, user
identity, the asynchronous operations window, PDU sizes, handler statuses and TLS.

Every test runs on asyncio and trio (``anyio_backend``) and is bounded by ``anyio.fail_after``.
"""

from __future__ import annotations

import gc
import ssl
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import anyio.lowlevel
import pytest

from aioups import VERIFICATION, Status, open_association, send_echo
from aioups.dimse import CEchoRQ, NGetRQ, NSetRQ, NSetRSP, Response
from aioups.errors import (
    AssociationAborted,
    AssociationRejected,
    ConnectError,
    ConnectionLost,
    DIMSEStatusError,
    NoAcceptedContext,
)
from aioups.net import (
    Association,
    Server,
    ServerConfig,
    ServiceRequest,
    Timeouts,
    echo_handler,
)
from aioups.pdu import AAssociateRQ, ContextResult, UserIdentityRQ, UserIdentityType
from aioups.ul import (
    IdentityDecision,
    Negotiated,
    PresentationContextProposal,
    State,
    SupportedSyntax,
)

pytestmark = pytest.mark.anyio

HOST = "127.0.0.1"
#: what a handler returns: a response, or a response and its data-set bytes
HandlerReturn = Response | tuple[Response, bytes | None]
UPS_PUSH = "1.2.840.10008.5.1.4.34.6.1"
#: bound for anything that should happen "at once" on loopback
QUICK = 5.0


# -- helpers -------------------------------------------------------------------------------------


@asynccontextmanager
async def running_server(config: ServerConfig | None = None) -> AsyncIterator[tuple[Server, int]]:
    """A :class:`Server` on 127.0.0.1 with an OS-chosen port, cancelled on exit."""
    server = Server(config)
    async with anyio.create_task_group() as tg:
        port = await tg.start(server.serve, HOST, 0)
        yield server, port
        tg.cancel_scope.cancel()


async def eventually(predicate: Callable[[], bool], timeout: float = QUICK) -> None:
    """Yield to the event loop until ``predicate()`` holds (no sleeping), at most ``timeout`` s."""
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.lowlevel.checkpoint()


def server_idle(server: Server) -> bool:
    """No association established and no TCP connection open (negotiating or closing)."""
    stats = server.statistics()
    return stats.active == 0 and stats.open_connections == 0


class Recorder:
    """An echo handler that remembers the server-side associations it served."""

    def __init__(self) -> None:
        self.associations: list[Association] = []

    async def __call__(self, request: ServiceRequest) -> HandlerReturn:
        self.associations.append(request.association)
        return await echo_handler(request)


def echo_rq(message_id: int) -> CEchoRQ:
    return CEchoRQ(message_id=message_id)


async def echo_response(association: Association) -> Response:
    """Send C-ECHO on the Verification context and return the whole response."""
    context = association.context_for(VERIFICATION)
    response, _ = await association.request(context.context_id, echo_rq)
    return response


# -- echo and concurrency ------------------------------------------------------------------------


async def test_echo_over_loopback_succeeds() -> None:
    with anyio.fail_after(QUICK):
        async with running_server() as (_, port), open_association(HOST, port) as association:
            assert association.is_established
            assert await send_echo(association) == Status.SUCCESS
            stats = association.statistics()
            assert (stats.requests_sent, stats.responses_received, stats.outstanding) == (1, 1, 0)


async def test_echo_many_sequential_on_one_association() -> None:
    with anyio.fail_after(20):
        async with running_server() as (server, port), \
                open_association(HOST, port) as association:
            for _ in range(300):
                assert await send_echo(association) == Status.SUCCESS
            assert association.statistics().responses_received == 300
            assert server.statistics().accepted == 1


async def test_echo_concurrent_associations_all_succeed() -> None:
    results: list[Status] = []

    async def client(port: int) -> None:
        async with open_association(HOST, port) as association:
            results.extend([await send_echo(association) for _ in range(20)])

    with anyio.fail_after(30):
        async with running_server() as (server, port):
            async with anyio.create_task_group() as tg:
                for _ in range(20):
                    tg.start_soon(client, port)
            assert results == [Status.SUCCESS] * 400
            assert server.statistics().accepted == 20
            await eventually(lambda: server_idle(server))


# -- release and abort ---------------------------------------------------------------------------


async def test_release_on_normal_exit_closes_both_sides() -> None:
    recorder = Recorder()
    config = ServerConfig(handlers={(VERIFICATION, CEchoRQ): recorder})
    with anyio.fail_after(QUICK):
        async with running_server(config) as (server, port):
            async with open_association(HOST, port) as association:
                await send_echo(association)
                assert server.statistics().active == 1
            assert association.state is State.STA1
            assert not association.is_established
            await recorder.associations[0].wait_closed()
            await eventually(lambda: server_idle(server))
            # the client released: later calls say so instead of hanging
            with pytest.raises(ConnectionLost):
                await send_echo(association)


class Boom(Exception):
    pass


async def test_body_exception_propagates_unchanged_and_aborts() -> None:
    recorder = Recorder()
    config = ServerConfig(handlers={(VERIFICATION, CEchoRQ): recorder})
    with anyio.fail_after(QUICK):
        async with running_server(config) as (server, port):
            with pytest.raises(Boom) as excinfo:
                async with open_association(HOST, port) as association:
                    await send_echo(association)
                    raise Boom("from the body")
            assert excinfo.type is Boom  # not an ExceptionGroup, on either backend
            assert str(excinfo.value) == "from the body"
            assert not association.is_established
            server_side = recorder.associations[0]
            await server_side.wait_closed()
            # the server saw an A-ABORT from the service user, not a release
            with pytest.raises(AssociationAborted) as aborted:
                await server_side.request(1, echo_rq)
            assert aborted.value.source == 0
            await eventually(lambda: server_idle(server))


# -- acceptance checks ---------------------------------------------------------------------------


async def test_called_ae_title_mismatch_rejected_1_1_7() -> None:
    config = ServerConfig(ae_title="UPS-SCP", require_called_ae_title=True)
    with anyio.fail_after(QUICK):
        async with running_server(config) as (server, port):
            with pytest.raises(AssociationRejected) as excinfo:
                async with open_association(HOST, port, called_ae_title="SOMEONE-ELSE"):
                    pytest.fail("the association should have been rejected")
            rj = excinfo.value
            assert (rj.result, rj.source, rj.reason) == (1, 1, 7)
            async with open_association(HOST, port, called_ae_title="UPS-SCP") as association:
                assert await send_echo(association) == Status.SUCCESS
            assert server.statistics().rejected == 1
            assert server.statistics().accepted == 1


async def test_calling_ae_title_not_allowed_rejected_1_1_3() -> None:
    config = ServerConfig(allowed_calling_ae_titles=frozenset({"FRIEND"}))
    with anyio.fail_after(QUICK):
        async with running_server(config) as (_, port):
            with pytest.raises(AssociationRejected) as excinfo:
                async with open_association(HOST, port, calling_ae_title="STRANGER"):
                    pytest.fail("the association should have been rejected")
            rj = excinfo.value
            assert (rj.result, rj.source, rj.reason) == (1, 1, 3)
            async with open_association(HOST, port, calling_ae_title="FRIEND") as association:
                assert await send_echo(association) == Status.SUCCESS


async def test_no_common_abstract_syntax_raises_no_accepted_context() -> None:
    contexts = (PresentationContextProposal(abstract_syntax=UPS_PUSH),)
    with anyio.fail_after(QUICK):
        async with running_server() as (_, port), \
                open_association(HOST, port, contexts=contexts) as association:
            assert association.negotiated is not None
            assert association.negotiated.contexts == {}
            [rejected] = association.negotiated.rejected
            assert rejected.result == ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED
            with pytest.raises(NoAcceptedContext):
                await send_echo(association)
            with pytest.raises(NoAcceptedContext):
                association.context_for(UPS_PUSH)


async def test_context_for_unproposed_syntax_raises_no_accepted_context() -> None:
    with anyio.fail_after(QUICK):
        async with running_server() as (_, port), open_association(HOST, port) as association:
            with pytest.raises(NoAcceptedContext):
                association.context_for(UPS_PUSH)
            # as SCP: the requestor is SCU only by default
            with pytest.raises(NoAcceptedContext):
                association.context_for(VERIFICATION, as_scp=True)
            assert await send_echo(association) == Status.SUCCESS


async def test_max_associations_exceeded_rejected_2_3_2() -> None:
    config = ServerConfig(max_associations=1)
    with anyio.fail_after(QUICK):
        async with running_server(config) as (server, port):
            async with open_association(HOST, port) as first:
                with pytest.raises(AssociationRejected) as excinfo:
                    async with open_association(HOST, port):
                        pytest.fail("the second association should have been rejected")
                rj = excinfo.value
                assert (rj.result, rj.source, rj.reason) == (2, 3, 2)
                assert await send_echo(first) == Status.SUCCESS
            await eventually(lambda: server_idle(server))
            async with open_association(HOST, port) as again:
                assert await send_echo(again) == Status.SUCCESS


# -- user identity -------------------------------------------------------------------------------


def identity(*, positive: bool, user: bytes = b"alice") -> UserIdentityRQ:
    return UserIdentityRQ(identity_type=UserIdentityType.USERNAME_AND_PASSCODE,
                          positive_response_requested=positive, primary=user,
                          secondary=b"secret")


class Authenticator:
    """Accepts ``alice``/``secret`` and answers with a token; records what it saw."""

    def __init__(self) -> None:
        self.seen: list[tuple[UserIdentityRQ, AAssociateRQ]] = []

    async def __call__(self, ident: UserIdentityRQ, rq: AAssociateRQ) -> IdentityDecision:
        self.seen.append((ident, rq))
        ok = ident.primary == b"alice" and ident.secondary == b"secret"
        return IdentityDecision(accepted=ok, server_response=b"token-123" if ok else b"")


async def test_user_identity_accepted_with_positive_response() -> None:
    auth = Authenticator()
    config = ServerConfig(authenticate=auth)
    with anyio.fail_after(QUICK):
        async with running_server(config) as (_, port), open_association(
                HOST, port, calling_ae_title="WORKLIST", user_identity=identity(positive=True),
        ) as association:
            assert association.negotiated is not None
            assert association.negotiated.user_identity_response == b"token-123"
            assert await send_echo(association) == Status.SUCCESS
    [(seen, rq)] = auth.seen
    assert seen == identity(positive=True)
    assert rq.calling_ae_title == "WORKLIST"


async def test_user_identity_accepted_without_positive_response_has_no_59h() -> None:
    config = ServerConfig(authenticate=Authenticator())
    with anyio.fail_after(QUICK):
        async with running_server(config) as (_, port), open_association(
                HOST, port, user_identity=identity(positive=False)) as association:
            assert association.negotiated is not None
            assert association.negotiated.user_identity_response is None
            assert await send_echo(association) == Status.SUCCESS


async def test_user_identity_rejected_by_authenticator() -> None:
    config = ServerConfig(authenticate=Authenticator())
    with anyio.fail_after(QUICK):
        async with running_server(config) as (server, port):
            with pytest.raises(AssociationRejected) as excinfo:
                async with open_association(
                        HOST, port, user_identity=identity(positive=True, user=b"mallory")):
                    pytest.fail("the association should have been rejected")
            assert (excinfo.value.result, excinfo.value.source) == (1, 1)
            assert server.statistics().rejected == 1


async def test_user_identity_authenticator_raising_rejects() -> None:
    async def broken(ident: UserIdentityRQ, rq: AAssociateRQ) -> IdentityDecision:
        raise RuntimeError("directory unavailable")

    config = ServerConfig(authenticate=broken)
    with anyio.fail_after(QUICK):
        async with running_server(config) as (_, port):
            with pytest.raises(AssociationRejected):
                async with open_association(HOST, port, user_identity=identity(positive=True)):
                    pytest.fail("the association should have been rejected")
            # the server is still serving
            async with open_association(HOST, port) as association:
                assert await send_echo(association) == Status.SUCCESS


# -- asynchronous operations window --------------------------------------------------------------


class NegotiatedRecorder:
    """An echo handler that stores the server side's negotiated parameters."""

    def __init__(self) -> None:
        self.negotiated: list[Negotiated] = []

    async def __call__(self, request: ServiceRequest) -> HandlerReturn:
        assert request.association.negotiated is not None
        self.negotiated.append(request.association.negotiated)
        return await echo_handler(request)


@pytest.mark.parametrize(
    ("client", "server", "client_sees", "server_sees"),
    [
        # client (invoked, performed), server config (invoked, performed) ->
        #   client's negotiated (invoked, performed), server's negotiated (invoked, performed)
        ((1, 1), (5, 5), (1, 1), (1, 1)),  # no 53H proposed: the default 1/1
        ((0, 0), (3, 4), (4, 3), (3, 4)),  # unlimited proposals: the server's limits decide
        ((5, 5), (0, 0), (5, 5), (5, 5)),  # unlimited server: the client's proposal stands
        ((5, 5), (2, 3), (3, 2), (2, 3)),  # the smaller of each pair
        ((0, 0), (0, 0), (0, 0), (0, 0)),  # both unlimited
    ],
    ids=["default", "client-unlimited", "server-unlimited", "min", "both-unlimited"],
)
async def test_async_window_negotiated_on_both_sides(
        client: tuple[int, int], server: tuple[int, int], client_sees: tuple[int, int],
        server_sees: tuple[int, int]) -> None:
    recorder = NegotiatedRecorder()
    config = ServerConfig(handlers={(VERIFICATION, CEchoRQ): recorder},
                          max_operations_invoked=server[0], max_operations_performed=server[1])
    with anyio.fail_after(QUICK):
        async with running_server(config) as (_, port), open_association(
                HOST, port, max_operations_invoked=client[0],
                max_operations_performed=client[1]) as association:
            assert await send_echo(association) == Status.SUCCESS
            ours = association.negotiated
            assert ours is not None
            assert (ours.max_operations_invoked, ours.max_operations_performed) == client_sees
    [theirs] = recorder.negotiated
    assert (theirs.max_operations_invoked, theirs.max_operations_performed) == server_sees


class Rendezvous:
    """A handler that answers only once ``n`` requests are being handled at the same time."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.inside = 0
        self.most = 0
        self.all_in = anyio.Event()

    async def __call__(self, request: ServiceRequest) -> HandlerReturn:
        self.inside += 1
        self.most = max(self.most, self.inside)
        if self.inside >= self.n:
            self.all_in.set()
        try:
            with anyio.fail_after(QUICK):
                await self.all_in.wait()
        finally:
            self.inside -= 1
        return await echo_handler(request)


async def test_async_window_allows_concurrent_operations() -> None:
    rendezvous = Rendezvous(5)
    config = ServerConfig(handlers={(VERIFICATION, CEchoRQ): rendezvous},
                          max_operations_invoked=5, max_operations_performed=5)
    statuses: list[int] = []
    with anyio.fail_after(QUICK * 2):
        async with running_server(config) as (_, port), open_association(
                HOST, port, max_operations_invoked=5, max_operations_performed=5,
        ) as association:

            async def one() -> None:
                statuses.append((await echo_response(association)).status)

            async with anyio.create_task_group() as tg:
                for _ in range(5):
                    tg.start_soon(one)
    assert statuses == [Status.SUCCESS] * 5
    assert rendezvous.most == 5


async def test_async_window_of_one_serialises_requests() -> None:
    class Counting:
        inside = 0
        most = 0

        async def __call__(self, request: ServiceRequest) -> HandlerReturn:
            Counting.inside += 1
            Counting.most = max(Counting.most, Counting.inside)
            await anyio.lowlevel.checkpoint()
            Counting.inside -= 1
            return await echo_handler(request)

    config = ServerConfig(handlers={(VERIFICATION, CEchoRQ): Counting()})
    with anyio.fail_after(QUICK):
        async with running_server(config) as (_, port), \
                open_association(HOST, port) as association:
            async with anyio.create_task_group() as tg:
                for _ in range(10):
                    tg.start_soon(send_echo, association)
            assert association.statistics().responses_received == 10
    assert Counting.most == 1


async def test_async_window_limits_outstanding_requests() -> None:
    entered = 0
    two_in = anyio.Event()
    never = anyio.Event()

    async def hung(request: ServiceRequest) -> HandlerReturn:
        nonlocal entered
        entered += 1
        if entered == 2:
            two_in.set()
        await never.wait()
        return await echo_handler(request)

    config = ServerConfig(handlers={(VERIFICATION, CEchoRQ): hung},
                          max_operations_invoked=2, max_operations_performed=2)
    with anyio.fail_after(QUICK):
        async with running_server(config) as (_, port):
            with anyio.CancelScope() as scope:
                async with open_association(HOST, port, max_operations_invoked=5,
                                            max_operations_performed=5) as association:
                    assert association.negotiated is not None
                    assert association.negotiated.max_operations_invoked == 2
                    async with anyio.create_task_group() as tg:
                        for _ in range(5):
                            tg.start_soon(send_echo, association)
                        await two_in.wait()
                        # the other three callers wait for a free slot instead of sending
                        stats = association.statistics()
                        assert (stats.requests_sent, stats.outstanding) == (2, 2)
                        scope.cancel()  # abort: the hung handlers never answer
    assert entered == 2


async def test_handler_worker_queue_is_closed() -> None:
    config = ServerConfig(max_operations_invoked=3, max_operations_performed=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with anyio.fail_after(QUICK):
            async with running_server(config) as (_, port), open_association(
                    HOST, port, max_operations_invoked=3,
                    max_operations_performed=3) as association:
                assert await send_echo(association) == Status.SUCCESS
        del association
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []


# -- maximum PDU length --------------------------------------------------------------------------


async def reflect(request: ServiceRequest) -> HandlerReturn:
    """N-SET handler that sends the received data set back."""
    assert isinstance(request.message, NSetRQ)
    return NSetRSP(message_id_being_responded_to=request.message.message_id,
                   affected_sop_class_uid=request.message.requested_sop_class_uid,
                   affected_sop_instance_uid=request.message.requested_sop_instance_uid,
                   ), request.data_set_bytes


def reflect_config(*, max_pdu_length: int = 16384) -> ServerConfig:
    return ServerConfig(handlers={(VERIFICATION, CEchoRQ): echo_handler,
                                  (UPS_PUSH, NSetRQ): reflect},
                        max_pdu_length=max_pdu_length)


async def send_data_set(association: Association, data_set: bytes) -> tuple[int, bytes | None]:
    context = association.context_for(UPS_PUSH)
    response, returned = await association.request(
        context.context_id,
        lambda mid: NSetRQ(message_id=mid, requested_sop_class_uid=UPS_PUSH,
                           requested_sop_instance_uid="1.2.3.4"),
        data_set)
    return response.status, returned


CONTEXTS = (PresentationContextProposal(abstract_syntax=VERIFICATION),
            PresentationContextProposal(abstract_syntax=UPS_PUSH))
#: even-length, recognisable bytes (the driver never parses data sets)
BIG = bytes(range(256)) * 80


@pytest.mark.parametrize(("client_max", "server_max"), [(1024, 16384), (16384, 1024),
                                                        (1024, 1024), (0, 4096)],
                         ids=["small-client", "small-server", "both-small", "client-unlimited"])
async def test_max_pdu_length_negotiated_and_respected(client_max: int, server_max: int) -> None:
    # Each side's framer refuses a P-DATA-TF over the Maximum Length it advertised (and aborts),
    # so a 20 KB data set going both ways proves each side fragments to the other's maximum.
    with anyio.fail_after(QUICK):
        async with running_server(reflect_config(max_pdu_length=server_max)) as (_, port), \
                open_association(HOST, port, contexts=CONTEXTS,
                                 max_pdu_length=client_max) as association:
            negotiated = association.negotiated
            assert negotiated is not None
            assert negotiated.local_max_pdu_length == client_max
            assert negotiated.peer_max_pdu_length == server_max
            assert await send_echo(association) == Status.SUCCESS
            status, returned = await send_data_set(association, BIG)
            assert status == Status.SUCCESS
            assert returned == BIG


# -- handler statuses ----------------------------------------------------------------------------


async def test_handler_raising_dimse_status_error_sets_status_and_comment() -> None:
    async def refuse(request: ServiceRequest) -> HandlerReturn:
        raise DIMSEStatusError(0xC302, "x")

    config = ServerConfig(handlers={(VERIFICATION, CEchoRQ): refuse})
    with anyio.fail_after(QUICK):
        async with running_server(config) as (_, port), \
                open_association(HOST, port) as association:
            response = await echo_response(association)
            assert response.status == 0xC302
            assert response.error_comment == "x"
            # send_echo turns a failure status into DIMSEStatusError
            with pytest.raises(DIMSEStatusError) as excinfo:
                await send_echo(association)
            assert excinfo.value.status == 0xC302
            assert excinfo.value.error_comment == "x"
            assert association.is_established


async def test_handler_raising_other_exception_gives_0110_and_server_keeps_serving(
        caplog: pytest.LogCaptureFixture) -> None:
    calls = 0

    async def flaky(request: ServiceRequest) -> HandlerReturn:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ZeroDivisionError("bug in the handler")
        return await echo_handler(request)

    config = ServerConfig(handlers={(VERIFICATION, CEchoRQ): flaky})
    with anyio.fail_after(QUICK):
        async with running_server(config) as (server, port):
            async with open_association(HOST, port) as association:
                response = await echo_response(association)
                assert response.status == Status.PROCESSING_FAILURE
                # the same association keeps working
                assert await send_echo(association) == Status.SUCCESS
            # and so does the server
            async with open_association(HOST, port) as association:
                assert await send_echo(association) == Status.SUCCESS
            assert server.statistics().accepted == 2
    # logged with its traceback
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)


async def test_unsupported_service_on_supported_context_gives_0211() -> None:
    async def n_get(request: ServiceRequest) -> HandlerReturn:
        pytest.fail("N-GET was never sent")

    config = ServerConfig(handlers={(VERIFICATION, NGetRQ): n_get},
                          supported={VERIFICATION: SupportedSyntax()})
    with anyio.fail_after(QUICK):
        async with running_server(config) as (_, port), \
                open_association(HOST, port) as association:
            response = await echo_response(association)
            assert response.status == Status.UNRECOGNIZED_OPERATION
            assert association.is_established


async def test_supported_syntax_without_any_handler_gives_0122() -> None:
    config = ServerConfig(supported={VERIFICATION: SupportedSyntax(),
                                     UPS_PUSH: SupportedSyntax()})
    with anyio.fail_after(QUICK):
        async with running_server(config) as (_, port), \
                open_association(HOST, port, contexts=CONTEXTS) as association:
            status, returned = await send_data_set(association, b"\x00\x00")
            assert status == Status.SOP_CLASS_NOT_SUPPORTED
            assert returned is None
            assert await send_echo(association) == Status.SUCCESS


# -- TLS -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> object:
    trustme = pytest.importorskip("trustme")
    return trustme.CA()


@pytest.fixture
def server_tls(ca: object) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(ctx)  # type: ignore[attr-defined]
    return ctx


@pytest.fixture
def client_tls(ca: object) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(ctx)  # type: ignore[attr-defined]
    return ctx


@pytest.mark.parametrize("server_hostname", ["localhost", "127.0.0.1"])
async def test_tls_echo_with_verified_server(server_tls: ssl.SSLContext,
                                             client_tls: ssl.SSLContext,
                                             server_hostname: str) -> None:
    with anyio.fail_after(QUICK):
        async with running_server(ServerConfig(ssl_context=server_tls)) as (_, port), \
                open_association(HOST, port, ssl_context=client_tls,
                                 server_hostname=server_hostname) as association:
            for _ in range(10):
                assert await send_echo(association) == Status.SUCCESS


async def test_tls_untrusted_server_certificate_is_connect_error(
        server_tls: ssl.SSLContext) -> None:
    untrusting = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)  # trusts no test CA
    with anyio.fail_after(QUICK):
        async with running_server(ServerConfig(ssl_context=server_tls)) as (server, port):
            with pytest.raises(ConnectError) as excinfo:
                async with open_association(HOST, port, ssl_context=untrusting,
                                            server_hostname="localhost"):
                    pytest.fail("the handshake should have failed")
            assert isinstance(excinfo.value.__cause__, ssl.SSLError)
            # the server survives a failed handshake
            await eventually(lambda: server_idle(server))


async def test_tls_wrong_hostname_is_connect_error(server_tls: ssl.SSLContext,
                                                   client_tls: ssl.SSLContext) -> None:
    with anyio.fail_after(QUICK):
        async with running_server(ServerConfig(ssl_context=server_tls)) as (_, port):
            with pytest.raises(ConnectError):
                async with open_association(HOST, port, ssl_context=client_tls,
                                            server_hostname="not-the-server.example"):
                    pytest.fail("the hostname check should have failed")


async def test_tls_server_refuses_plain_tcp_client(server_tls: ssl.SSLContext) -> None:
    with anyio.fail_after(QUICK):
        async with running_server(ServerConfig(ssl_context=server_tls)) as (server, port):
            with pytest.raises((ConnectionLost, AssociationAborted)):
                async with open_association(HOST, port, timeouts=Timeouts(accept=QUICK)):
                    pytest.fail("a plain client should not get an association")
            await eventually(lambda: server_idle(server))
            assert server.statistics().accepted == 0


@pytest.fixture
def mutual_server_tls(ca: object, server_tls: ssl.SSLContext) -> ssl.SSLContext:
    server_tls.verify_mode = ssl.CERT_REQUIRED
    ca.configure_trust(server_tls)  # type: ignore[attr-defined]
    return server_tls


async def test_tls_mutual_auth_with_client_certificate(ca: object,
                                                       mutual_server_tls: ssl.SSLContext,
                                                       client_tls: ssl.SSLContext) -> None:
    ca.issue_cert("modality.example").configure_cert(client_tls)  # type: ignore[attr-defined]
    with anyio.fail_after(QUICK):
        async with running_server(ServerConfig(ssl_context=mutual_server_tls)) as (_, port), \
                open_association(HOST, port, ssl_context=client_tls,
                                 server_hostname="localhost") as association:
            assert await send_echo(association) == Status.SUCCESS


async def test_tls_mutual_auth_without_client_certificate_fails(
        mutual_server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    with anyio.fail_after(QUICK):
        async with running_server(ServerConfig(ssl_context=mutual_server_tls)) as (server, port):
            # TLS 1.3 reports the missing certificate after the client's handshake returns,
            # so the failure may surface at connect or while waiting for A-ASSOCIATE-AC.
            with pytest.raises((ConnectError, ConnectionLost, AssociationAborted)):
                async with open_association(HOST, port, ssl_context=client_tls,
                                            server_hostname="localhost",
                                            timeouts=Timeouts(accept=QUICK)):
                    pytest.fail("the server should have refused the handshake")
            await eventually(lambda: server_idle(server))
            assert server.statistics().accepted == 0

