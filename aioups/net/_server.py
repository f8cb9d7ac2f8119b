"""The acceptor side: a server that accepts many concurrent associations, one task each."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, final

import anyio
from anyio.abc import ByteStream, SocketAttribute, TaskStatus
from anyio.streams.tls import TLSStream

from .._uids import VERIFICATION
from ..dimse import CEchoRQ
from ..pdu import (
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    PresentationRejectReason,
    RejectResult,
    RejectSource,
    UserIdentityRQ,
)
from ..ul import (
    AcceptorPolicy,
    IdentityDecision,
    Role,
    SupportedSyntax,
    ULConfig,
    ULConnection,
    answer_associate_rq,
)
from ._association import Association, Timeouts
from ._dispatch import Handler, Handlers, echo_handler
from ._transport import (
    STREAM_ERRORS_OR_TIMEOUT,
    SocketOptions,
    apply_socket_options,
    listening_socket,
    serve_connections,
)

logger = logging.getLogger("aioups.net")

#: Checks a user identity (58H) from an association request; async so it may look things up.
Authenticator = Callable[[UserIdentityRQ, AAssociateRQ], Awaitable[IdentityDecision]]


def _default_handlers() -> dict[tuple[str, type], Handler]:
    return {(VERIFICATION, CEchoRQ): echo_handler}


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    """How a :class:`Server` accepts and serves associations.

    Args:
        ae_title: our AE title.
        handlers: ``(abstract syntax, request class) -> handler``; Verification by default.
        supported: what to accept per abstract syntax; by default every abstract syntax that has
            a handler, with the uncompressed transfer syntaxes and the default roles.
        max_associations: beyond this many concurrent associations, reject with (2, 3, 2).
        require_called_ae_title / allowed_calling_ae_titles: AE title checks (RJ 1/1/7, 1/1/3).
        authenticate: verifies user identities; without it identities are accepted unchecked.
        ssl_context: serve DICOM over TLS (server side; set ``verify_mode`` for mutual auth).
    """

    ae_title: str = "AIOUPS"
    handlers: Mapping[tuple[str, type], Handler] = field(default_factory=_default_handlers)
    supported: Mapping[str, SupportedSyntax] | None = None
    max_associations: int = 1000
    max_pdu_length: int = 16384
    max_operations_invoked: int = 1
    max_operations_performed: int = 1
    require_called_ae_title: bool = False
    allowed_calling_ae_titles: frozenset[str] | None = None
    authenticate: Authenticator | None = None
    ssl_context: ssl.SSLContext | None = None
    timeouts: Timeouts = field(default_factory=lambda: Timeouts(idle=None))
    socket_options: SocketOptions = field(default_factory=SocketOptions)
    pack_pdv: bool = True

    def policy(self) -> AcceptorPolicy:
        """The negotiation policy this configuration implies."""
        supported = self.supported
        if supported is None:
            supported = {syntax: SupportedSyntax() for syntax, _ in self.handlers}
        return AcceptorPolicy(
            ae_title=self.ae_title, supported=supported,
            require_called_ae_title=self.require_called_ae_title,
            allowed_calling_ae_titles=self.allowed_calling_ae_titles,
            max_pdu_length=self.max_pdu_length,
            max_operations_invoked=self.max_operations_invoked,
            max_operations_performed=self.max_operations_performed)


@final
class ServerStatistics(NamedTuple):
    """Counters of a :class:`Server`."""

    #: associations established now (what ``max_associations`` limits)
    active: int
    accepted: int
    rejected: int
    #: TCP connections accepted since start
    connections: int
    #: TCP connections open now (associations plus connections still negotiating or closing)
    open_connections: int


@final
class Server:
    """A DICOM acceptor: ``await task_group.start(server.serve, host, 0)`` returns the port."""

    def __init__(self, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        self._policy = self.config.policy()
        self._handlers: Handlers = dict(self.config.handlers)
        self._active = 0
        self._accepted = 0
        self._rejected = 0
        self._connections = 0
        self._open_connections = 0
        self.port: int | None = None

    def statistics(self) -> ServerStatistics:
        """How many associations are open now, and totals since start."""
        return ServerStatistics(self._active, self._accepted, self._rejected, self._connections,
                                self._open_connections)

    async def serve(self, host: str = "0.0.0.0", port: int = 11112, *,
                    task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen and serve until cancelled; ``task_status.started(bound_port)``."""
        sock = listening_socket(host, port)
        try:
            self.port = sock.getsockname()[1]
            logger.info("%s listening on %s:%s", self.config.ae_title, host, self.port)
            task_status.started(self.port)
            await serve_connections(sock, self._handle_connection)
        finally:
            sock.close()

    async def _handle_connection(self, stream: ByteStream) -> None:
        self._connections += 1
        self._open_connections += 1
        try:
            await self._serve_connection(stream)
        except Exception:  # a server never stops serving because of one connection
            logger.exception("connection handler failed")
        finally:
            self._open_connections -= 1
            await anyio.aclose_forcefully(stream)

    async def _serve_connection(self, stream: ByteStream) -> None:
        config = self.config
        try:
            address = stream.extra(SocketAttribute.remote_address)
            peer = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
        except (anyio.TypedAttributeLookupError, TypeError):
            peer = "peer"
        apply_socket_options(stream, config.socket_options)
        if config.ssl_context is not None:
            try:
                with anyio.fail_after(config.timeouts.artim):
                    stream = await TLSStream.wrap(stream, server_side=True,
                                                  ssl_context=config.ssl_context,
                                                  standard_compatible=False)
            except STREAM_ERRORS_OR_TIMEOUT as exc:
                logger.info("%s: TLS handshake failed: %r", peer, exc)
                return
        conn = ULConnection(Role.ACCEPTOR, ULConfig(max_pdu_length=config.max_pdu_length,
                                                    artim_timeout=config.timeouts.artim))
        association = Association(stream, conn, timeouts=config.timeouts,
                                  handlers=self._handlers, pack_pdv=config.pack_pdv,
                                  peer=peer, acceptor=self._answer,
                                  close_delay=config.socket_options.close_delay)
        conn.transport_connected(anyio.current_time())  # Evt5: Sta2, ARTIM running
        try:
            await association.run()
        finally:
            if association.negotiated is not None:
                self._active -= 1

    async def _answer(self, rq: AAssociateRQ) -> AAssociateAC | AAssociateRJ:
        if self._active >= self.config.max_associations:
            self._rejected += 1
            return AAssociateRJ(result=RejectResult.TRANSIENT,
                                source=RejectSource.SERVICE_PROVIDER_PRESENTATION,
                                reason=PresentationRejectReason.LOCAL_LIMIT_EXCEEDED)
        identity = None
        ident = rq.user_information.user_identity_rq
        if ident is not None and self.config.authenticate is not None:
            try:
                identity = await self.config.authenticate(ident, rq)
            except Exception:
                logger.exception("authentication callback failed")
                identity = IdentityDecision(accepted=False)
        elif ident is not None:
            identity = IdentityDecision(accepted=True)
        answer = answer_associate_rq(rq, self._policy, identity)
        if isinstance(answer, AAssociateAC):
            self._accepted += 1
            self._active += 1
        else:
            self._rejected += 1
        return answer
