"""SCP-side dispatch: a received request → its handler → the response to send.

Handlers are async callables registered per ``(abstract syntax, request class)``; ``"*"`` as
the abstract syntax matches any context.  A handler returns a response message (with or without
data-set bytes).  Raising :class:`DIMSEStatusError` chooses the failure status; any other
exception gives 0110H (processing failure) and is logged with its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, final

from ..dimse import (
    RESPONSE_TYPES,
    CEchoRQ,
    CEchoRSP,
    CFindRQ,
    MessageReceived,
    NActionRQ,
    NCreateRQ,
    NDeleteRQ,
    NEventReportRQ,
    NGetRQ,
    NSetRQ,
    Request,
    Response,
    Status,
    UnknownCommand,
)
from ..errors import DIMSEStatusError
from ..ul import NegotiatedContext

if TYPE_CHECKING:
    from ._association import Association

logger = logging.getLogger("aioups.net")


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceRequest:
    """What a handler receives: the request, its context and data-set bytes."""

    association: Association
    context: NegotiatedContext
    message: Request
    data_set: bytes | None


#: Requests that get a response (C-CANCEL does not).
_ANSWERABLE = (CEchoRQ, CFindRQ, NActionRQ, NCreateRQ, NDeleteRQ, NEventReportRQ, NGetRQ,
               NSetRQ)

AnswerableRequest = (
    CEchoRQ | CFindRQ | NActionRQ | NCreateRQ | NDeleteRQ | NEventReportRQ | NGetRQ | NSetRQ
)
HandlerReturn = Response | tuple[Response, bytes | None]
Handler = Callable[[ServiceRequest], Awaitable[HandlerReturn]]
Handlers = Mapping[tuple[str, type[Any]], Handler]


def _failure(message: AnswerableRequest, status: int, comment: str | None = None) -> Response:
    cls = RESPONSE_TYPES[type(message)]
    return cls(message_id_being_responded_to=message.message_id, status=status,
               error_comment=comment)


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


async def handle_request(handlers: Handlers, association: Association,
                         context: NegotiatedContext,
                         received: MessageReceived) -> tuple[Response, bytes | None] | None:
    """Run the handler for one request; ``None`` when no response is due."""
    message = received.message
    if isinstance(message, UnknownCommand):
        logger.warning("%s: unrecognised command field 0x%04X ignored", association.peer,
                       message.command_field)
        return None
    if not isinstance(message, _ANSWERABLE):
        return None
    handler = find_handler(handlers, context, message)
    if handler is None:
        known = any(key[0] == context.abstract_syntax for key in handlers)
        status = Status.UNRECOGNIZED_OPERATION if known else Status.SOP_CLASS_NOT_SUPPORTED
        return _failure(message, status), None
    try:
        result = await handler(ServiceRequest(association=association, context=context,
                                              message=message, data_set=received.data_set))
    except DIMSEStatusError as exc:
        return _failure(message, exc.status, exc.error_comment), None
    except Exception:
        logger.exception("%s: handler for %s failed", association.peer, type(message).__name__)
        return _failure(message, Status.PROCESSING_FAILURE, "processing failure"), None
    if isinstance(result, tuple):
        return result
    return result, None


@inline_handler
async def echo_handler(request: ServiceRequest) -> HandlerReturn:
    """The Verification SCP: answer every C-ECHO with success."""
    assert isinstance(request.message, CEchoRQ)
    return CEchoRSP(message_id_being_responded_to=request.message.message_id,
                    affected_sop_class_uid=request.message.affected_sop_class_uid)
