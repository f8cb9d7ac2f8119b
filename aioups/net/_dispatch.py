"""SCP-side dispatch: a received request → its handler → the response(s) to send.

Handlers are async callables registered per ``(abstract syntax, request class)``; ``"*"`` as
the abstract syntax matches any context.  A handler returns a response message, alone or with a
data set (a ``pydicom.Dataset`` or bytes already in the context's transfer syntax).  A C-FIND
handler is an async generator instead: each identifier it yields becomes a Pending response,
and the final Success (or Cancel, after a C-CANCEL) is sent when it ends.

Raising :class:`DIMSEStatusError` chooses the failure status and its error fields; any other
exception gives 0110H (processing failure) and is logged with its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, final

import anyio

from ..dimse import (
    RESPONSE_TYPES,
    CEchoRQ,
    CEchoRSP,
    CFindRQ,
    CFindRSP,
    Dataset,
    NActionRQ,
    NCreateRQ,
    NDeleteRQ,
    NEventReportRQ,
    NGetRQ,
    NGetRSP,
    NSetRQ,
    NSetRSP,
    Request,
    Response,
    Status,
    as_bytes,
    decode_data_set,
)
from ..errors import DataSetError, DIMSEStatusError
from ..ul import NegotiatedContext

if TYPE_CHECKING:
    from ._association import Association

logger = logging.getLogger("aioups.net")

DataSetLike = Dataset | bytes | None
HandlerReturn = Response | tuple[Response, DataSetLike]
#: What a C-FIND handler yields: an identifier (sent as Pending FF00) or (status, identifier).
FindMatch = Dataset | bytes | tuple[int, Dataset | bytes]
Handler = Callable[["ServiceRequest"], Awaitable[HandlerReturn] | AsyncIterator[FindMatch]]
Handlers = Mapping[tuple[str, type[Any]], Handler]
#: Sends one response (with encoded data-set bytes) for the request being performed.
Respond = Callable[[Response, bytes | None], Awaitable[None]]

#: Requests that get a response (C-CANCEL does not).
ANSWERABLE = (CEchoRQ, CFindRQ, NActionRQ, NCreateRQ, NDeleteRQ, NEventReportRQ, NGetRQ,
              NSetRQ)
AnswerableRequest = (
    CEchoRQ | CFindRQ | NActionRQ | NCreateRQ | NDeleteRQ | NEventReportRQ | NGetRQ | NSetRQ
)


@final
class CancelSignal:
    """Set when the peer sends C-CANCEL for a running C-FIND."""

    __slots__ = ("_event", "requested")

    def __init__(self) -> None:
        self.requested = False
        self._event: anyio.Event | None = None

    def set(self) -> None:
        self.requested = True
        if self._event is not None:
            self._event.set()

    async def wait(self) -> None:
        if not self.requested:
            if self._event is None:
                self._event = anyio.Event()
            await self._event.wait()


@final
@dataclass(frozen=True, kw_only=True, eq=False)
class ServiceRequest:
    """What a handler receives: the request, its presentation context and its data set.

    The data set stays bytes (``data_set_bytes``) until :attr:`data_set` is first read.
    """

    association: Association
    context: NegotiatedContext
    message: Request
    data_set_bytes: bytes | None
    cancel_signal: CancelSignal | None = field(default=None, repr=False)

    @cached_property
    def data_set(self) -> Dataset | None:
        """The request's data set, decoded in the context's transfer syntax.

        Raises:
            DataSetError: it does not decode (answered 0110H unless the handler catches it).
        """
        if self.data_set_bytes is None:
            return None
        return decode_data_set(self.data_set_bytes, self.context.transfer_syntax)

    @property
    def cancelled(self) -> bool:
        """True once the peer sent C-CANCEL for this (C-FIND) request."""
        return self.cancel_signal is not None and self.cancel_signal.requested

    async def wait_cancelled(self) -> None:
        """Wait until the peer cancels this request (forever for a request without C-CANCEL)."""
        if self.cancel_signal is None:
            await anyio.sleep_forever()
        else:
            await self.cancel_signal.wait()

    def encode(self, data_set: DataSetLike) -> bytes | None:
        """A data set as bytes in this request's transfer syntax."""
        return as_bytes(data_set, self.context.transfer_syntax)


def inline_handler(handler: Handler) -> Handler:
    """Mark a handler as never blocking (no I/O, no waiting), so that with a synchronous peer
    it may run in the association's reader task instead of a worker, saving a task switch.

    A handler that waits must not be marked: while it runs inline, the association does not
    read, so it would not notice an A-ABORT or a closed connection until the handler returns.
    """
    handler.aioups_inline = True  # type: ignore[attr-defined]
    return handler


def find_handler(handlers: Handlers, context: NegotiatedContext,
                 message: object) -> Handler | None:
    """The handler registered for this context's abstract syntax (or ``"*"``) and message."""
    return handlers.get((context.abstract_syntax, type(message))) or handlers.get(
        ("*", type(message)))


def is_inline(handler: Handler | None) -> bool:
    """Whether ``handler`` was marked with :func:`inline_handler`."""
    return bool(getattr(handler, "aioups_inline", False))


def error_comment(text: str | None) -> str | None:
    """``text`` as a valid Error Comment (LO): one line of at most 64 Latin-1 characters."""
    if text is None:
        return None
    line = " ".join(text.split())
    line = line.encode("latin-1", "replace").decode("latin-1")
    return line if len(line) <= 64 else line[:61] + "..."


def failure_response(message: AnswerableRequest, status: int, comment: str | None = None, *,
                     error: DIMSEStatusError | None = None) -> Response:
    """The response carrying a failure ``status`` (and the error fields of ``error``)."""
    cls = RESPONSE_TYPES[type(message)]
    extra: dict[str, Any] = {}
    if isinstance(message, CFindRQ | CEchoRQ):
        extra["affected_sop_class_uid"] = message.affected_sop_class_uid
    if error is not None:
        if "affected_sop_class_uid" not in extra:  # Error ID: N-services only (PS3.7)
            extra["error_id"] = error.error_id
        extra["offending_element"] = error.offending_elements or None
        if cls in (NGetRSP, NSetRSP):
            extra["attribute_identifier_list"] = error.attribute_identifiers or None
    return cls(message_id_being_responded_to=message.message_id, status=status,
               error_comment=error_comment(comment), **extra)


def refusal(handlers: Handlers, context: NegotiatedContext,
            message: AnswerableRequest) -> Response | None:
    """The response refusing ``message`` outright, or ``None`` when a handler will take it.

    The peer must act in the role negotiated for the context: it sends N-EVENT-REPORT only as
    the SCP of the SOP class and every other request only as its SCU (PS3.7 D.3.3.4).
    """
    event = isinstance(message, NEventReportRQ)
    if not (context.local_scu if event else context.local_scp):
        role = "SCU" if event else "SCP"
        return failure_response(message, Status.UNRECOGNIZED_OPERATION,
                                f"not the {role} of {context.abstract_syntax} here")
    if find_handler(handlers, context, message) is None:
        known = any(key[0] == context.abstract_syntax for key in handlers)
        status = Status.UNRECOGNIZED_OPERATION if known else Status.SOP_CLASS_NOT_SUPPORTED
        return failure_response(message, status)
    return None


async def perform(handlers: Handlers, request: ServiceRequest, respond: Respond) -> None:
    """Run the handler for one request and send its response(s) through ``respond``."""
    message = request.message
    assert isinstance(message, ANSWERABLE)
    refused = refusal(handlers, request.context, message)
    if refused is not None:
        await respond(refused, None)
        return
    handler = find_handler(handlers, request.context, message)
    assert handler is not None
    try:
        result = handler(request)
        if isinstance(message, CFindRQ) and hasattr(result, "__anext__"):
            await _stream_matches(request, result, respond)  # type: ignore[arg-type]
            return
        response, data_set = _unpack(await result)  # type: ignore[misc]
        expected = RESPONSE_TYPES[type(message)]
        if not isinstance(response, expected):
            raise TypeError(f"the handler returned {response!r}, not a {expected.__name__}")
        encoded = request.encode(data_set)
    except DIMSEStatusError as exc:
        await respond(failure_response(message, exc.status, exc.error_comment, error=exc), None)
    except DataSetError as exc:
        logger.info("%s: %s in %s", request.association.peer, exc, type(message).__name__)
        await respond(failure_response(message, Status.PROCESSING_FAILURE, str(exc)), None)
    except Exception:
        logger.exception("%s: handler for %s failed", request.association.peer,
                         type(message).__name__)
        await respond(failure_response(message, Status.PROCESSING_FAILURE,
                                       "processing failure"), None)
    else:
        await respond(response, encoded)


def _unpack(result: HandlerReturn) -> tuple[Response, DataSetLike]:
    if isinstance(result, tuple):
        return result
    return result, None


async def _stream_matches(request: ServiceRequest, matches: AsyncIterator[FindMatch],
                          respond: Respond) -> None:
    """Send each match as a Pending response; stop early on C-CANCEL (DIMSE-12, DIMSE-23)."""
    message = request.message
    assert isinstance(message, CFindRQ)
    sop_class = message.affected_sop_class_uid
    status = Status.SUCCESS
    try:
        async for match in matches:
            if request.cancelled:
                status = Status.CANCEL
                break
            pending, identifier = match if isinstance(match, tuple) else (Status.PENDING, match)
            await respond(CFindRSP(message_id_being_responded_to=message.message_id,
                                   affected_sop_class_uid=sop_class, status=pending),
                          request.encode(identifier))
        else:
            if request.cancelled:
                status = Status.CANCEL
    finally:
        aclose = getattr(matches, "aclose", None)
        if aclose is not None:
            await aclose()
    await respond(CFindRSP(message_id_being_responded_to=message.message_id,
                           affected_sop_class_uid=sop_class, status=status), None)


@inline_handler
async def echo_handler(request: ServiceRequest) -> HandlerReturn:
    """The Verification SCP: answer every C-ECHO with success."""
    assert isinstance(request.message, CEchoRQ)
    return CEchoRSP(message_id_being_responded_to=request.message.message_id,
                    affected_sop_class_uid=request.message.affected_sop_class_uid)
