"""Delivering UPS event reports to subscribers (PS3.4 CC.2.4, UPS-63).

The UPS SCP opens the association to each Receiving AE itself (the address comes from the AE
directory), proposing UPS Event with SCP/SCU Role Selection SCU=0, SCP=1, and sends
N-EVENT-REPORT as the Event SCP.  Per subscriber there is one ordered, bounded queue and at most
one worker: events go out in order, the association stays open for bursts and is released after
``idle_timeout``.  A failed delivery is retried with backoff; after ``retries`` attempts the
event is dropped and logged (PS3.4 requires no retry at all).  When a queue is full the oldest
event is dropped and logged.  Nothing here ever blocks the request that produced the event.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import final

import anyio
from anyio.abc import TaskGroup, TaskStatus

from .._uids import EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, UPS_EVENT, UPS_PUSH
from ..dimse import Dataset, encode_data_set
from ..ul import PresentationContextProposal
from ._association import Association, Timeouts
from ._client import open_association
from ._directory import AEAddress
from ._services import n_event_report

logger = logging.getLogger("aioups.ups.events")

_EVENT_CONTEXT = PresentationContextProposal(
    abstract_syntax=UPS_EVENT, scu_role=False, scp_role=True,
    transfer_syntaxes=(EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN))


@final
class OutgoingEvent:
    """One N-EVENT-REPORT to send; its data set is encoded once per transfer syntax, however
    many subscribers receive it."""

    __slots__ = ("_encoded", "data_set", "event_type_id", "sop_instance_uid")

    def __init__(self, event_type_id: int, sop_instance_uid: str, data_set: Dataset) -> None:
        self.event_type_id = event_type_id
        self.sop_instance_uid = sop_instance_uid
        self.data_set = data_set
        self._encoded: dict[str, bytes] = {}

    def encoded(self, transfer_syntax: str) -> bytes:
        data = self._encoded.get(transfer_syntax)
        if data is None:
            data = self._encoded[transfer_syntax] = encode_data_set(self.data_set,
                                                                    transfer_syntax)
        return data

    def __repr__(self) -> str:
        return f"OutgoingEvent(type={self.event_type_id}, uid={self.sop_instance_uid})"


@final
@dataclass(slots=True)
class DeliveryStatistics:
    """Counters of an :class:`EventDelivery`."""

    queued: int = 0
    delivered: int = 0
    dropped_full: int = 0
    dropped_failed: int = 0
    refused: int = 0


@final
class EventDelivery:
    """Queues and workers for outgoing event reports; :meth:`run` must be running."""

    def __init__(self, directory: Mapping[str, AEAddress], *, calling_ae_title: str = "AIOUPS",
                 queue_size: int = 1000, idle_timeout: float = 10.0, retries: int = 3,
                 backoff: float = 0.5, timeouts: Timeouts | None = None) -> None:
        self.directory = directory
        self.calling_ae_title = calling_ae_title
        self.queue_size = queue_size
        self.idle_timeout = idle_timeout
        self.retries = retries
        self.backoff = backoff
        self.timeouts = timeouts or Timeouts(connect=5.0, accept=5.0, response=10.0,
                                             release=5.0)
        self._queues: dict[str, deque[OutgoingEvent]] = {}
        self._wake: dict[str, anyio.Event] = {}
        self._task_group: TaskGroup | None = None
        self._idle = anyio.Event()
        self._idle.set()
        self.stats = DeliveryStatistics()

    def knows(self, ae_title: str) -> bool:
        """Whether events can be delivered to ``ae_title`` (else subscribe gets C308)."""
        return ae_title.strip() in self.directory

    def submit(self, receiving_ae: str, event: OutgoingEvent) -> None:
        """Queue ``event`` for ``receiving_ae``; never waits."""
        title = receiving_ae.strip()
        if title not in self.directory or self._task_group is None:
            self.stats.refused += 1
            logger.warning("no way to deliver %r to %s: not in the AE directory or not running",
                           event, title)
            return
        queue = self._queues.get(title)
        if queue is None:
            queue = self._queues[title] = deque()
            self._wake[title] = anyio.Event()
            self._task_group.start_soon(self._worker, title, name=f"ups-events-{title}")
        if self._idle.is_set():
            self._idle = anyio.Event()
        if len(queue) >= self.queue_size:
            dropped = queue.popleft()
            self.stats.dropped_full += 1
            logger.warning("event queue for %s is full (%d): dropped the oldest, %r", title,
                           self.queue_size, dropped)
        queue.append(event)
        self.stats.queued += 1
        self._wake[title].set()

    @property
    def workers(self) -> int:
        """Receiving AEs with a worker (and usually an open association) now."""
        return len(self._queues)

    def backlog(self) -> dict[str, int]:
        """Events waiting per Receiving AE."""
        return {title: len(queue) for title, queue in self._queues.items() if queue}

    async def wait_idle(self) -> None:
        """Wait until every queued event is delivered or dropped."""
        await self._idle.wait()

    def _done(self, queue: deque[OutgoingEvent]) -> None:
        """The first event of ``queue`` is delivered or dropped."""
        queue.popleft()
        if not any(self._queues.values()):
            self._idle.set()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run the workers until cancelled."""
        async with anyio.create_task_group() as tg:
            self._task_group = tg
            task_status.started()
            try:
                await anyio.sleep_forever()
            finally:
                self._task_group = None

    async def _worker(self, title: str) -> None:
        queue = self._queues[title]
        failures = 0
        try:
            while queue:
                try:
                    await self._deliver(title, queue)
                    failures = 0
                except Exception as exc:  # a bad peer or address never stops the SCP
                    failures += 1
                    if failures > self.retries:
                        dropped = queue[0]
                        self._done(queue)
                        self.stats.dropped_failed += 1
                        logger.warning("could not deliver %r to %s after %d attempts: %s",
                                       dropped, title, failures, exc)
                        failures = 0
                        continue
                    logger.info("delivery to %s failed (%s); retrying", title, exc)
                    await anyio.sleep(self.backoff * 2 ** (failures - 1))
        finally:
            del self._queues[title], self._wake[title]
            if not any(self._queues.values()):
                self._idle.set()  # events left behind (cancelled) are not coming

    async def _deliver(self, title: str, queue: deque[OutgoingEvent]) -> None:
        """One association: send while events come, release after ``idle_timeout``."""
        address = self.directory[title]
        async with open_association(
                address.host, address.port, called_ae_title=title,
                calling_ae_title=self.calling_ae_title, contexts=(_EVENT_CONTEXT,),
                ssl_context=address.ssl_context(), server_hostname=address.server_hostname,
                timeouts=self.timeouts) as assoc:
            context = assoc.context_for(UPS_EVENT, as_scp=True)
            while True:
                while queue:
                    await self._send(assoc, context.context_id, context.transfer_syntax,
                                     queue[0])
                    self._done(queue)
                    self.stats.delivered += 1
                wake = self._wake[title] = anyio.Event()
                with anyio.move_on_after(self.idle_timeout):
                    await wake.wait()
                if not queue:
                    return

    @staticmethod
    async def _send(assoc: Association, context_id: int, transfer_syntax: str,
                    event: OutgoingEvent) -> None:
        response = await n_event_report(assoc, UPS_PUSH, event.sop_instance_uid,
                                        event.event_type_id, event.encoded(transfer_syntax),
                                        context_id=context_id, check=False)
        if response.status != 0:
            logger.info("%s answered %r with %s", assoc.peer, event, response.status.describe())
