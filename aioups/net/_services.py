"""DIMSE services on the invoking side: one request path, typed responses, C-FIND iteration.

Every service goes through :func:`send_request` (pick the presentation context, encode the data
set in its transfer syntax, send, wait, check the status).  The per-service functions only name
the command fields of their request; none has request/response logic of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from types import TracebackType
from typing import Any, Self, final

import anyio

from .._uids import VERIFICATION
from ..dimse import (
    CEchoRQ,
    CFindRQ,
    Dataset,
    NActionRQ,
    NCreateRQ,
    NDeleteRQ,
    NEventReportRQ,
    NGetRQ,
    NSetRQ,
    Priority,
    Response,
    Status,
    StatusCategory,
    as_bytes,
    decode_data_set,
    status_category,
)
from ..errors import AioupsError, DIMSEFailure, NoAcceptedContext
from ..ul import NegotiatedContext
from ._association import Association
from ._invoke import Outstanding

logger = logging.getLogger("aioups.net")

DataSetArg = Dataset | bytes | None

_SUCCESSFUL = (StatusCategory.SUCCESS, StatusCategory.WARNING)

#: Requests that are invoked (and answered); C-CANCEL is sent by ``FindResults.cancel``.
InvokedRequest = (
    CEchoRQ | CFindRQ | NActionRQ | NCreateRQ | NDeleteRQ | NEventReportRQ | NGetRQ | NSetRQ
)


@final
@dataclass(frozen=True, eq=False)
class DIMSEResponse:
    """A response as the invoker sees it: the message, its status, its data set.

    The data set stays bytes (``data_set_bytes``) until :attr:`data_set` is first read.
    """

    message: Response
    data_set_bytes: bytes | None
    transfer_syntax: str

    @property
    def status(self) -> Status:
        """(0000,0900) Status."""
        return Status(self.message.status)

    @property
    def category(self) -> StatusCategory:
        """Success, warning, failure, cancel or pending (PS3.7 C.1)."""
        return status_category(self.message.status)

    @property
    def error_comment(self) -> str | None:
        """(0000,0902) Error Comment."""
        return self.message.error_comment

    @property
    def error_id(self) -> int | None:
        """(0000,0903) Error ID."""
        return self.message.error_id

    @property
    def offending_elements(self) -> tuple[int, ...]:
        """(0000,0901) Offending Element."""
        return self.message.offending_element or ()

    @property
    def attribute_identifiers(self) -> tuple[int, ...]:
        """(0000,1005) Attribute Identifier List (N-GET and N-SET responses)."""
        return getattr(self.message, "attribute_identifier_list", None) or ()

    @property
    def affected_sop_instance_uid(self) -> str | None:
        """(0000,1000) Affected SOP Instance UID (the one assigned, for N-CREATE)."""
        return getattr(self.message, "affected_sop_instance_uid", None)

    @cached_property
    def data_set(self) -> Dataset | None:
        """The response's data set, decoded.

        Raises:
            DataSetError: it does not decode in the context's transfer syntax.
        """
        if self.data_set_bytes is None:
            return None
        return decode_data_set(self.data_set_bytes, self.transfer_syntax)

    def raise_for_status(self) -> None:
        """Raise :class:`DIMSEFailure` unless the status is success or a warning."""
        if self.category not in _SUCCESSFUL:
            raise DIMSEFailure(self.message.status, self.message.error_comment, response=self,
                               error_id=self.message.error_id,
                               offending_elements=self.offending_elements,
                               attribute_identifiers=self.attribute_identifiers)


def _context(association: Association, request_type: type[InvokedRequest], abstract_syntax: str,
             context_id: int | None) -> NegotiatedContext:
    # N-EVENT-REPORT is invoked by the SCP of the SOP class, every other request by its SCU.
    as_scp = request_type is NEventReportRQ
    if context_id is None:
        return association.context_for(abstract_syntax, as_scp=as_scp)
    negotiated = association.negotiated
    if negotiated is None or context_id not in negotiated.contexts:
        raise NoAcceptedContext(f"presentation context {context_id} is not accepted")
    context = negotiated.contexts[context_id]
    if not (context.local_scp if as_scp else context.local_scu):  # DIMSE-32
        raise NoAcceptedContext(f"presentation context {context_id} does not let us act as "
                                f"{'SCP' if as_scp else 'SCU'}")
    return context


def _sop_class(fields: dict[str, Any]) -> str:
    return str(fields.get("affected_sop_class_uid") or fields["requested_sop_class_uid"])


async def send_request(association: Association, request_type: type[InvokedRequest], *,
                       data_set: DataSetArg = None, abstract_syntax: str | None = None,
                       context_id: int | None = None, timeout: float | None = None,
                       check: bool = True, **fields: Any) -> DIMSEResponse:
    """Send one request and return its final response: the path every service takes.

    Args:
        request_type: the request message class, e.g. ``NGetRQ``.
        data_set: a ``Dataset`` (encoded in the context's transfer syntax) or encoded bytes.
        abstract_syntax: the presentation context to use; defaults to the SOP class in the
            command (UPS sends the Push SOP class on Pull and Watch contexts, so it differs).
        context_id: a specific accepted context instead.
        timeout: seconds for this response; ``None`` uses the association's response timeout.
        check: raise :class:`DIMSEFailure` on a failure status.
        fields: the request's command fields, except ``message_id``.

    Raises:
        DIMSEFailure: a failure (or cancel) status, when ``check`` is true.
        NoAcceptedContext: no accepted context (with the needed role) for the abstract syntax.
        DIMSETimeout, AssociationAborted, ConnectionLost: no response came.
    """
    context = _context(association, request_type, abstract_syntax or _sop_class(fields),
                       context_id)
    encoded = as_bytes(data_set, context.transfer_syntax)
    message, returned = await association.request(
        context.context_id, lambda message_id: request_type(message_id=message_id, **fields),
        encoded, timeout=timeout)
    response = DIMSEResponse(message, returned, context.transfer_syntax)
    if check:
        response.raise_for_status()
    return response


async def c_echo(association: Association, *, timeout: float | None = None) -> DIMSEResponse:
    """C-ECHO on the Verification context."""
    return await send_request(association, CEchoRQ, affected_sop_class_uid=VERIFICATION,
                              timeout=timeout)


async def n_create(association: Association, sop_class_uid: str,
                   sop_instance_uid: str | None = None, data_set: DataSetArg = None,
                   **options: Any) -> DIMSEResponse:
    """N-CREATE; without ``sop_instance_uid`` the performer assigns one
    (``response.affected_sop_instance_uid``)."""
    return await send_request(association, NCreateRQ, affected_sop_class_uid=sop_class_uid,
                              affected_sop_instance_uid=sop_instance_uid, data_set=data_set,
                              **options)


async def n_set(association: Association, sop_class_uid: str, sop_instance_uid: str,
                modifications: DataSetArg, **options: Any) -> DIMSEResponse:
    """N-SET with a Modification List."""
    return await send_request(association, NSetRQ, requested_sop_class_uid=sop_class_uid,
                              requested_sop_instance_uid=sop_instance_uid,
                              data_set=modifications, **options)


async def n_get(association: Association, sop_class_uid: str, sop_instance_uid: str,
                attributes: tuple[int, ...] | None = None, **options: Any) -> DIMSEResponse:
    """N-GET; ``attributes`` (tags as ints) limits the Attribute List, ``None`` asks for all."""
    return await send_request(association, NGetRQ, requested_sop_class_uid=sop_class_uid,
                              requested_sop_instance_uid=sop_instance_uid,
                              attribute_identifier_list=attributes or None, **options)


async def n_action(association: Association, sop_class_uid: str, sop_instance_uid: str,
                   action_type_id: int, data_set: DataSetArg = None,
                   **options: Any) -> DIMSEResponse:
    """N-ACTION with its Action Information."""
    return await send_request(association, NActionRQ, requested_sop_class_uid=sop_class_uid,
                              requested_sop_instance_uid=sop_instance_uid,
                              action_type_id=action_type_id, data_set=data_set, **options)


async def n_delete(association: Association, sop_class_uid: str, sop_instance_uid: str,
                   **options: Any) -> DIMSEResponse:
    """N-DELETE."""
    return await send_request(association, NDeleteRQ, requested_sop_class_uid=sop_class_uid,
                              requested_sop_instance_uid=sop_instance_uid, **options)


async def n_event_report(association: Association, sop_class_uid: str, sop_instance_uid: str,
                         event_type_id: int, data_set: DataSetArg = None,
                         **options: Any) -> DIMSEResponse:
    """N-EVENT-REPORT, sent as the SCP of the SOP class (from either end of the association)."""
    return await send_request(association, NEventReportRQ,
                              affected_sop_class_uid=sop_class_uid,
                              affected_sop_instance_uid=sop_instance_uid,
                              event_type_id=event_type_id, data_set=data_set, **options)


def c_find(association: Association, sop_class_uid: str, identifier: DataSetArg, *,
           priority: int = Priority.MEDIUM, abstract_syntax: str | None = None,
           context_id: int | None = None, timeout: float | None = None) -> FindResults:
    """C-FIND: an async iterator of the Pending responses, each with one match.

    Use it as ``async with c_find(...) as results: async for match in results: ...``; leaving
    the block early sends C-CANCEL.  A plain ``async for`` works too, and an iterator dropped
    before the end cancels at the next match that arrives.  ``results.final`` is the final
    response once iteration ends; a failure status raises :class:`DIMSEFailure`.
    """
    context = _context(association, CFindRQ, abstract_syntax or sop_class_uid, context_id)
    fields = {"affected_sop_class_uid": sop_class_uid, "priority": priority}
    return FindResults(association, context, CFindRQ, fields,
                       as_bytes(identifier, context.transfer_syntax), timeout)


@final
class FindResults:
    """The responses of one C-FIND (see :func:`c_find`)."""

    def __init__(self, association: Association, context: NegotiatedContext,
                 request_type: type[CFindRQ], fields: dict[str, Any], identifier: bytes | None,
                 timeout: float | None) -> None:
        self._association = association
        self._context = context
        self._request_type = request_type
        self._fields = fields
        self._identifier = identifier
        self._timeout = timeout
        self._outstanding: Outstanding | None = None
        #: the final response, once received
        self.final: DIMSEResponse | None = None
        #: matches received so far
        self.count = 0

    async def start(self) -> None:
        """Send the C-FIND-RQ (done by the first iteration if not called)."""
        if self._outstanding is None:
            build = self._request_type
            fields = self._fields
            self._outstanding = await self._association.start_request(
                self._context.context_id, lambda message_id: build(message_id=message_id,
                                                                   **fields),
                self._identifier, timeout=self._timeout)

    @property
    def message_id(self) -> int | None:
        """The C-FIND-RQ's Message ID, once sent."""
        return None if self._outstanding is None else self._outstanding.message_id

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> DIMSEResponse:
        if self.final is not None:
            raise StopAsyncIteration
        await self.start()
        assert self._outstanding is not None
        message, data_set = await self._outstanding.next()
        response = DIMSEResponse(message, data_set, self._context.transfer_syntax)
        if response.category is StatusCategory.PENDING:
            self.count += 1
            return response
        self.final = response
        if response.category is not StatusCategory.CANCEL:
            response.raise_for_status()
        raise StopAsyncIteration

    async def cancel(self) -> None:
        """Send C-CANCEL; iteration then ends with Cancel (FE00H) or the normal final status."""
        out = self._outstanding
        if out is not None and self.final is None and not out.cancel_sent:
            out.cancel_sent = True
            await self._association.send_cancel(self._context.context_id, out.message_id)

    async def aclose(self) -> None:
        """Stop: cancel the C-FIND if it is still running and drop the rest of its responses."""
        out = self._outstanding
        if out is None or self.final is not None or out.finished:
            return
        with anyio.CancelScope(shield=True):
            try:
                await self.cancel()
            except AioupsError:
                pass
        out.abandon()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    def __del__(self) -> None:
        out = self._outstanding
        if out is not None and self.final is None and not out.finished:
            try:
                out.abandon()  # the reader sends C-CANCEL when the next match arrives
            except Exception:  # no event loop any more: nothing left to cancel
                pass
