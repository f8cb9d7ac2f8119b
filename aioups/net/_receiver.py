"""The UPS Event SCU: receives N-EVENT-REPORTs and hands them out as an async iterator.

An :class:`EventReceiver` listens as an acceptor (the UPS SCP opens the association and asks to
be UPS Event SCP with role selection SCU=0/SCP=1, UPS-63) and also takes the reports that arrive
on an association the subscriber opened itself (pass ``receiver.handlers()`` to
``open_association`` or use ``UPSClient.connect(events=receiver)``).

Events are queued in arrival order; when the queue is full the receiver stops answering until
the consumer catches up, so the sender slows down instead of events being lost.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self, final

import anyio
from anyio.abc import TaskStatus

from .._uids import UPS_EVENT, VERIFICATION
from ..dimse import CEchoRQ, Dataset, NEventReportRQ, NEventReportRSP, Status
from ..ul import SupportedSyntax
from ._dispatch import Handler, ServiceRequest, echo_handler
from ._server import Server, ServerConfig

logger = logging.getLogger("aioups.events")

#: Event Type ID -> name (PS3.4 Table CC.2.4-1).
EVENT_TYPE_NAMES: Mapping[int, str] = {
    1: "UPS State Report", 2: "UPS Cancel Requested", 3: "UPS Progress Report",
    4: "SCP Status Change", 5: "UPS Assigned",
}


@final
@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    """One N-EVENT-REPORT as received."""

    event_type_id: int
    #: the workitem's UID (or the global subscription instance, for SCP Status Change)
    sop_instance_uid: str
    sop_class_uid: str
    #: the Event Information (an empty data set if none came)
    data_set: Dataset = field(compare=False)
    #: the AE title of the association's peer (the UPS SCP)
    calling_ae_title: str
    #: how many events this receiver had received before this one
    sequence: int = 0

    @property
    def event_type(self) -> str:
        """The event type's name, e.g. ``"UPS State Report"``."""
        return EVENT_TYPE_NAMES.get(self.event_type_id, f"event type {self.event_type_id}")

    @property
    def state(self) -> str | None:
        """ProcedureStepState (state reports), or SCPStatus (status change events)."""
        for keyword in ("ProcedureStepState", "SCPStatus"):
            value = self.data_set.get(keyword)
            if value:
                return str(value)
        return None


@final
class EventReceiver:
    """Receives UPS events; iterate over it (``async for event in receiver``).

    Args:
        ae_title: our AE title when listening (the Receiving AE the SCP knows us by).
        status: the status every N-EVENT-REPORT-RSP carries (UPS-64: normally 0000).
        max_buffer: events held for the consumer before the receiver stops answering;
            ``None`` for no limit.
    """

    def __init__(self, ae_title: str = "AIOUPS", *, status: int = Status.SUCCESS,
                 max_buffer: int | None = 10_000) -> None:
        self.ae_title = ae_title
        self.status = status
        self.max_buffer = math.inf if max_buffer is None else max_buffer
        self._events: deque[ReceivedEvent] = deque()
        self._arrived = anyio.Event()  # set while events are queued (or closed)
        self._taken = anyio.Event()  # set when the consumer takes one
        self._closed = False
        self.received = 0
        self.port: int | None = None

    # -- receiving ----------------------------------------------------------------------------

    async def handle(self, request: ServiceRequest) -> NEventReportRSP:
        """The N-EVENT-REPORT handler (UPS Event context)."""
        message = request.message
        assert isinstance(message, NEventReportRQ)
        negotiated = request.association.negotiated
        event = ReceivedEvent(
            event_type_id=message.event_type_id,
            sop_instance_uid=message.affected_sop_instance_uid,
            sop_class_uid=message.affected_sop_class_uid,
            data_set=request.data_set if request.data_set is not None else Dataset(),
            calling_ae_title=negotiated.peer_ae_title if negotiated else "",
            sequence=self.received)
        self.received += 1
        while len(self._events) >= self.max_buffer and not self._closed:
            self._taken = anyio.Event()
            await self._taken.wait()  # the sender waits for the consumer (backpressure)
        if self._closed:
            logger.info("event receiver closed; dropping %s for %s", event.event_type,
                        event.sop_instance_uid)
        else:
            self._events.append(event)
            self._arrived.set()
        return NEventReportRSP(message_id_being_responded_to=message.message_id,
                               affected_sop_class_uid=message.affected_sop_class_uid,
                               affected_sop_instance_uid=message.affected_sop_instance_uid,
                               event_type_id=message.event_type_id, status=self.status)

    def handlers(self) -> dict[tuple[str, type], Handler]:
        """Handlers for a server or an association: UPS Event reports and C-ECHO."""
        return {(UPS_EVENT, NEventReportRQ): self.handle, (VERIFICATION, CEchoRQ): echo_handler}

    def server_config(self, **options: Any) -> ServerConfig:
        """A :class:`ServerConfig` that accepts UPS Event associations in either role
        arrangement (``options`` go to ServerConfig)."""
        supported = {UPS_EVENT: SupportedSyntax(scu_role=True, scp_role=True),
                     VERIFICATION: SupportedSyntax()}
        return ServerConfig(ae_title=options.pop("ae_title", self.ae_title),
                            handlers=self.handlers(), supported=supported, **options)

    async def serve(self, host: str = "0.0.0.0", port: int = 0, *,
                    task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
                    **options: Any) -> None:
        """Listen for the SCP's associations until cancelled; ``task_status.started(port)``.
        ``options`` go to :class:`ServerConfig` (TLS, limits, timeouts)."""
        server = Server(self.server_config(**options))
        async with anyio.create_task_group() as tg:
            self.port = await tg.start(server.serve, host, port)
            task_status.started(self.port)

    # -- consuming ----------------------------------------------------------------------------

    async def receive(self) -> ReceivedEvent:
        """The next event (waits for one).

        Raises:
            anyio.EndOfStream: the receiver is closed and every event was taken.
        """
        while not self._events:
            if self._closed:
                raise anyio.EndOfStream
            self._arrived = anyio.Event()
            await self._arrived.wait()
        return self._take()

    def receive_nowait(self) -> ReceivedEvent | None:
        """The next event if one is queued, else ``None``."""
        return self._take() if self._events else None

    def _take(self) -> ReceivedEvent:
        event = self._events.popleft()
        self._taken.set()
        return event

    def close(self) -> None:
        """Stop taking events: iteration ends once the queued ones are taken; later reports
        are still answered, and dropped."""
        self._closed = True
        self._arrived.set()
        self._taken.set()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ReceivedEvent:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None
