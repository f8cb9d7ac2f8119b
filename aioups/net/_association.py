"""``Association``: drives one ``ULConnection`` and one ``DIMSEEngine`` over an anyio byte stream.

One reader task per association feeds received bytes to the state machine and routes what comes
out: responses to the waiting caller, requests to handler workers.  Writes go through one lock;
nothing polls and nothing sleeps: waiting is anyio events and deadlines.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, final

import anyio
from anyio.abc import ByteStream, TaskGroup

from ..dimse import (
    CCancelRQ,
    DIMSEEngine,
    Message,
    MessageReceived,
    Request,
    Response,
    UnknownCommand,
)
from ..errors import (
    AioupsError,
    AssociationAborted,
    AssociationRejected,
    AssociationTimeout,
    ConnectionLost,
    LocalProtocolError,
    NoAcceptedContext,
    RemoteProtocolError,
)
from ..pdu import AAssociateAC, AAssociateRJ, AAssociateRQ
from ..ul import (
    Aborted,
    AbortRequest,
    AssociateAccept,
    AssociateReject,
    AssociationAccepted,
    AssociationRequested,
    DataReceived,
    Negotiated,
    NegotiatedContext,
    Primitive,
    ProviderAborted,
    Released,
    ReleaseRequest,
    ReleaseRequested,
    ReleaseResponse,
    State,
    ULConnection,
    ULEvent,
    negotiated_from_ac,
)
from ..ul import AssociationRejected as ULAssociationRejected
from ._asyncio_stream import AsyncioSocketStream, clock
from ._dispatch import Handlers
from ._invoke import Invoker, Outstanding
from ._perform import Performer
from ._sync import Gate
from ._transport import STREAM_ERRORS, STREAM_ERRORS_OR_TIMEOUT

logger = logging.getLogger("aioups.net")

#: Decides how to answer an A-ASSOCIATE-RQ (acceptor side).
Acceptor = Callable[[AAssociateRQ], Awaitable[AAssociateAC | AAssociateRJ]]


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """Timeouts in seconds (``None`` = wait forever), named after upsscu's options.

    Args:
        connect: TCP/TLS connect (``--connect-timeout``).
        accept: waiting for A-ASSOCIATE-AC (``--accept-timeout``).
        release: waiting for A-RELEASE-RP (``--release-timeout``).
        response: sending a request and receiving its response (``--response-timeout``).
        idle: abort an association without traffic for this long (``--idle-timeout``).
        send: writing one message to the peer (``--send-timeout``); a peer that stops reading
            for this long loses the association.
        artim: the ARTIM timer (PS3.8 SM-04): waiting for the A-ASSOCIATE-RQ and for the peer
            to close after A-RELEASE-RP, A-ASSOCIATE-RJ or A-ABORT.
    """

    connect: float | None = 30.0
    accept: float | None = 30.0
    release: float | None = 30.0
    response: float | None = 60.0
    idle: float | None = None
    artim: float = 30.0
    send: float | None = None


@final
class AssociationStatistics(NamedTuple):
    """Counters of one association (``Association.statistics()``)."""

    state: State
    requests_sent: int
    responses_received: int
    requests_received: int
    outstanding: int
    handlers_running: int


@final
class Association:
    """A DICOM association: made by :func:`aioups.open_association` (requestor) or by a
    :class:`aioups.Server` (acceptor), not constructed directly.

    :meth:`request` sends a DIMSE request and waits for its response; several tasks may call it
    at once, up to the negotiated asynchronous operations window.
    """

    def __init__(self, stream: ByteStream, conn: ULConnection, *, timeouts: Timeouts,
                 handlers: Handlers | None = None, pack_pdv: bool = True, peer: str = "",
                 acceptor: Acceptor | None = None, inline_handlers: bool = True,
                 max_send_pdu_length: int = 0, close_delay: float = 0.0) -> None:
        self._stream = stream
        self._max_send_pdu_length = max_send_pdu_length
        self._close_delay = close_delay
        self._conn = conn
        self.timeouts = timeouts
        self.peer = peer
        self._acceptor = acceptor
        self._pack_pdv = pack_pdv
        #: the negotiated parameters, once the association is established
        self.negotiated: Negotiated | None = None
        #: the application context name the acceptor answered with (requestor side)
        self.application_context_name = ""
        self._engine: DIMSEEngine | None = None
        self._write_lock = Gate(1)
        self._error: AioupsError | None = None
        self._established = anyio.Event()
        self._closed = anyio.Event()
        self._task_group: TaskGroup | None = None
        self._invoker = Invoker(self, timeouts.response)
        self._performer = Performer(self, handlers or {}, inline_allowed=inline_handlers,
                                    on_idle=self._send_release_response)
        self._clock = clock()
        self._last_activity = self._clock()
        self._debug = logger.isEnabledFor(logging.DEBUG)
        #: writes that need no waiting skip the send timeout's cancel scope (asyncio)
        self._send_nowait = stream.send_nowait if isinstance(stream, AsyncioSocketStream) \
            else None

    # -- public ------------------------------------------------------------------------------

    @property
    def is_established(self) -> bool:
        """True while DIMSE messages may be exchanged."""
        return self._conn.state is State.STA6 and self._error is None

    @property
    def state(self) -> State:
        """The Upper Layer state."""
        return self._conn.state

    def statistics(self) -> AssociationStatistics:
        """Counters and state, for monitoring and tests."""
        invoker = self._invoker
        return AssociationStatistics(self._conn.state, invoker.requests_sent,
                                     invoker.responses_received, self._performer.received,
                                     len(invoker.outstanding), self._performer.busy)

    def context_for(self, abstract_syntax: str, *, as_scp: bool = False) -> NegotiatedContext:
        """The first accepted context for ``abstract_syntax`` where we may act as SCU (or SCP).

        Raises:
            NoAcceptedContext: there is none.
        """
        if self.negotiated is not None:
            for ctx in self.negotiated.contexts.values():
                if ctx.abstract_syntax == abstract_syntax and (
                        ctx.local_scp if as_scp else ctx.local_scu):
                    return ctx
        role = "SCP" if as_scp else "SCU"
        raise NoAcceptedContext(f"no accepted presentation context for {abstract_syntax} "
                                f"with us as {role}")

    async def request(self, context_id: int, build: Callable[[int], Request],
                      data_set: bytes | None = None, *,
                      timeout: float | None = None) -> tuple[Response, bytes | None]:
        """Send one request and wait for its (final) response.

        Args:
            context_id: an accepted presentation context.
            build: makes the request from the Message ID this call allocates.
            data_set: the encoded data set to send after the command, if any.
            timeout: seconds for sending and answering; ``None`` uses ``timeouts.response``.

        Raises:
            DIMSETimeout: no response in time; the association is aborted (the peer is not
                answering, and a late answer could not be matched any more).
            AssociationAborted, ConnectionLost: the association ended first.
        """
        self._raise_if_dead()
        wait = self.timeouts.response if timeout is None else timeout
        return await self._invoker.request(context_id, build, data_set, wait)

    async def start_request(self, context_id: int, build: Callable[[int], Request],
                            data_set: bytes | None = None, *,
                            timeout: float | None = None) -> Outstanding:
        """Send one request and return at once; its responses come from ``Outstanding.next()``
        (for services with pending responses, such as C-FIND).  The timeout applies to each
        response in turn."""
        self._raise_if_dead()
        wait = self.timeouts.response if timeout is None else timeout
        return await self._invoker.start(context_id, build, data_set, wait)

    async def send_cancel(self, context_id: int, message_id: int) -> None:
        """Send C-CANCEL-RQ for an outstanding C-FIND (no response is expected, DIMSE-12)."""
        await self._send_message(context_id, CCancelRQ(message_id_being_responded_to=message_id))

    async def release(self) -> None:
        """Release the association (A-RELEASE) and wait for the transport to close.

        Raises:
            AssociationTimeout: no A-RELEASE-RP within ``timeouts.release`` (we then abort).
        """
        if self._conn.state is State.STA6 and self._error is None:
            await self._send([ReleaseRequest()])
        with anyio.move_on_after(self.timeouts.release) as scope:
            await self._closed.wait()
        if scope.cancelled_caught:
            await self.abort()
            raise AssociationTimeout("no A-RELEASE-RP within the release timeout")

    async def abort(self) -> None:
        """Abort (A-ABORT, source service-user) and close the transport.  Never raises."""
        with anyio.CancelScope(shield=True):
            if self._conn.state not in (State.STA1, State.STA4, State.STA13):
                try:
                    await self._send([AbortRequest()])
                except AioupsError:
                    pass
            self._fail(AssociationAborted(0, 0, "aborted locally"))
            await self._close_transport()

    async def wait_closed(self) -> None:
        """Wait until the transport is closed."""
        await self._closed.wait()

    # -- requests ------------------------------------------------------------------------------

    async def _send_message(self, context_id: int, message: Message,
                            data_set: bytes | None = None) -> None:
        engine = self._require_engine()
        if self._debug:
            logger.debug("%s >> %r%s", self.peer, message, _describe(data_set))
        await self._send(engine.encode(context_id, message, data_set))

    async def _send_raw_command(self, context_id: int, command: bytes) -> None:
        await self._send(self._require_engine().encode_raw(context_id, command))

    def _require_engine(self) -> DIMSEEngine:
        self._raise_if_dead()
        if self._engine is None:
            raise LocalProtocolError("the association is not established")
        return self._engine

    def _raise_if_dead(self) -> None:
        if self._error is not None:
            raise self._error

    # -- writing ---------------------------------------------------------------------------------

    async def _send(self, primitives: Sequence[Primitive]) -> None:
        async with self._write_lock:
            now = self._clock()
            try:
                for primitive in primitives:
                    self._conn.send(primitive, now)
            except LocalProtocolError:
                self._conn.data_to_send()  # drop fragments of a message we cannot finish
                self._raise_if_dead()
                raise
            await self._flush()

    async def _flush(self) -> None:
        """Write what the UL produced.  If the write fails or is cancelled half-way, the byte
        stream can no longer be trusted: the association ends and the transport is closed."""
        data = self._conn.data_to_send()
        if not data:
            return
        if self._send_nowait is not None and self._send_nowait(data):
            self._last_activity = self._clock()
            return
        try:
            if self.timeouts.send is None:  # (a cancel scope per write costs ~20 µs)
                await self._stream.send(data)
            else:
                with anyio.fail_after(self.timeouts.send):
                    await self._stream.send(data)
        except BaseException as exc:
            self._conn.send_failed(self._clock())
            reason = "send timed out" if isinstance(exc, TimeoutError) else repr(exc)
            self._fail(ConnectionLost(f"cannot write to {self.peer}: {reason}"))
            await self._close_transport()
            if isinstance(exc, STREAM_ERRORS_OR_TIMEOUT):
                raise self._error from exc  # type: ignore[misc]
            raise
        self._last_activity = self._clock()

    async def _close_transport(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        with anyio.CancelScope(shield=True):
            if self._close_delay > 0:
                await anyio.sleep(self._close_delay)
            await anyio.aclose_forcefully(self._stream)

    # -- reading ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """The reader: runs until the transport closes.  Never raises for protocol or transport
        problems: they end up in the pending requests and in the next call's exception."""
        try:
            async with anyio.create_task_group() as tg:
                self._task_group = tg
                await self._read_loop()
                tg.cancel_scope.cancel()
        finally:
            self._fail(ConnectionLost(f"connection to {self.peer} closed"))
            self._performer.close()
            await self._close_transport()

    async def _read_loop(self) -> None:
        conn, stream = self._conn, self._stream
        while conn.state is not State.STA1:
            deadline = self._deadline()
            data = None
            try:
                if deadline == math.inf:
                    data = await stream.receive(65536)
                else:
                    with anyio.move_on_at(deadline):
                        data = await stream.receive(65536)
            except STREAM_ERRORS:
                data = b""
            now = self._clock()
            if data is None:
                events = self._on_deadline(now)
            else:
                self._last_activity = now
                events = conn.receive_data(data, now)
            try:
                async with self._write_lock:
                    await self._flush()
                await self._on_events(events)
            except AioupsError:
                pass  # recorded in _error; the loop ends when the state reaches Sta1

    def _deadline(self) -> float:
        deadline = self._conn.get_timer() or math.inf
        idle = self.timeouts.idle
        if idle is not None and self._conn.state is State.STA6 and not self._invoker.outstanding \
                and not self._performer.busy:
            deadline = min(deadline, self._last_activity + idle)
        return deadline

    def _on_deadline(self, now: float) -> list[ULEvent]:
        timer = self._conn.get_timer()
        if timer is not None and now >= timer:
            return self._conn.handle_timer(now)
        # Idle timeout: abort (AA-1); the peer closes or ARTIM expires.
        self._fail(AssociationAborted(0, 0, "idle timeout"))
        self._conn.send(AbortRequest(), now)
        return []

    async def _on_events(self, events: list[ULEvent]) -> None:
        for event in events:
            if isinstance(event, DataReceived):
                await self._on_data(event)
                continue
            if self._debug:
                logger.debug("%s << %r", self.peer, event)
            if isinstance(event, AssociationRequested):
                await self._answer_rq(event.rq)
            elif isinstance(event, AssociationAccepted):
                assert self._conn.pending_rq is not None
                self.application_context_name = event.ac.application_context_name
                self._set_negotiated(negotiated_from_ac(self._conn.pending_rq, event.ac,
                                                        requestor=True))
            elif isinstance(event, ReleaseRequested):
                await self._on_release_requested(event)
            elif isinstance(event, Released):
                self._fail(ConnectionLost("the association was released"))
                if self._conn.state is State.STA12:  # collision, acceptor side (SM-06)
                    await self._send([ReleaseResponse()])
            else:
                self._fail(_error_for(event))

    async def _answer_rq(self, rq: AAssociateRQ) -> None:
        assert self._acceptor is not None, "an acceptor needs an acceptor callback"
        if self._conn.state is not State.STA3:
            return  # aborted already (more bytes came with the RQ): nothing to answer
        answer = await self._acceptor(rq)
        if self._debug:
            logger.debug("%s >> %r", self.peer, answer)
        if isinstance(answer, AAssociateAC):
            await self._send([AssociateAccept(ac=answer)])
            self._set_negotiated(negotiated_from_ac(rq, answer, requestor=False))
        else:
            self._fail(AssociationRejected(int(answer.result), int(answer.source), answer.reason))
            await self._send([AssociateReject(rj=answer)])

    def _set_negotiated(self, negotiated: Negotiated) -> None:
        self.negotiated = negotiated
        send_limit = negotiated.peer_max_pdu_length
        if self._max_send_pdu_length and not 0 < send_limit <= self._max_send_pdu_length:
            send_limit = self._max_send_pdu_length  # ours is smaller, or the peer's unlimited
        self._engine = DIMSEEngine(negotiated.contexts, send_limit,
                                   pack_pdv=self._pack_pdv)
        self._invoker.configure(negotiated.max_operations_invoked, self._engine,
                                self._task_group)
        self._performer.configure(negotiated.max_operations_performed, self._task_group)
        self._established.set()

    async def _on_data(self, event: DataReceived) -> None:
        assert self._engine is not None
        try:
            messages = self._engine.receive_pdvs(event.pdvs)
        except RemoteProtocolError as exc:
            logger.warning("%s: %s; aborting", self.peer, exc)
            self._fail(AssociationAborted(-1, exc.abort_reason, str(exc)))
            self._conn.protocol_error(exc, anyio.current_time())  # AA-8: provider A-ABORT
            async with self._write_lock:
                await self._flush()
            return
        for received in messages:
            await self._route(received)

    async def _route(self, received: MessageReceived) -> None:
        """Responses go to the invoker, requests to the performer."""
        message = received.message
        if self._debug:
            logger.debug("%s << %r%s", self.peer, message, _describe(received.data_set))
        if isinstance(message, UnknownCommand) or message.IS_REQUEST:
            await self._performer.submit(received)
            return
        cancel = self._invoker.deliver(message, received.data_set)  # type: ignore[arg-type]
        if cancel is not None:  # more matches for a C-FIND nobody reads: stop it
            try:
                await self.send_cancel(received.context_id, cancel)
            except AioupsError:
                pass

    async def _on_release_requested(self, event: ReleaseRequested) -> None:
        if event.collision:
            if self._conn.is_requestor:  # the requestor answers first (SM-06)
                await self._send([ReleaseResponse()])
            return
        if self._performer.busy:
            self._performer.release_due = True  # answer when the running requests are done
        else:
            await self._send_release_response()

    async def _send_release_response(self) -> None:
        try:
            await self._send([ReleaseResponse()])
        except AioupsError:
            pass

    def _fail(self, error: AioupsError) -> None:
        """Record why the association ended (the first cause wins) and wake every waiter."""
        if self._error is None:
            self._error = error
        self._invoker.fail(self._error)
        self._established.set()


def _error_for(event: ULEvent) -> AioupsError:
    if isinstance(event, ULAssociationRejected):
        rj = event.rj
        return AssociationRejected(int(rj.result), int(rj.source), rj.reason)
    if isinstance(event, Aborted):
        return AssociationAborted(int(event.source), int(event.reason), "aborted by the peer")
    assert isinstance(event, ProviderAborted)
    if event.detail == "transport connection closed":
        return ConnectionLost("the peer closed the connection")
    return AssociationAborted(-1 if event.local else 2, int(event.reason), event.detail)


def _describe(data_set: bytes | None) -> str:
    return "" if data_set is None else f" + data set ({len(data_set)} bytes)"
