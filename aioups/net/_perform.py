"""Running the handlers for the requests one association receives.

Requests are queued to a small pool of worker tasks, grown on demand up to the performed window,
so the reader keeps reading (and notices an A-ABORT or a C-CANCEL) while handlers wait, and
responses go out in whatever order the handlers finish.  One exception saves a task switch per
request: with a synchronous peer (window 1), which cannot send another request before our
response, a handler marked with ``inline_handler`` (it never waits) runs in the reader task.

Checked before a handler runs (PS3.7): a Message ID already being performed gets 0210H
(duplicate invocation, DIMSE-14); a request beyond the negotiated performed window gets 0213H
(resource limitation, DIMSE-41); an unknown command gets 0211H (unrecognized operation).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, final

import anyio
from anyio.abc import TaskGroup
from anyio.lowlevel import checkpoint

from ..dimse import CCancelRQ, CFindRQ, MessageReceived, Response, Status, UnknownCommand
from ..errors import AioupsError, LocalProtocolError
from ._dispatch import (
    ANSWERABLE,
    CancelSignal,
    Handlers,
    ServiceRequest,
    failure_response,
    find_handler,
    is_inline,
    perform,
)

if TYPE_CHECKING:
    from ._association import Association

logger = logging.getLogger("aioups.net")

#: Most handler workers one association runs at once when the peer's window is unlimited.
MAX_WORKERS = 64
#: Most requests one association queues when the peer's window is unlimited.
MAX_QUEUED = 4096
#: A worker that finds requests waiting lets other tasks run after this many in a row.
_YIELD_EVERY = 16


@final
class _Queue:
    """Requests waiting for a worker: a deque and the workers waiting for it.  Leaner than a
    memory object stream, whose ``receive`` yields to the event loop even when an item waits."""

    __slots__ = ("_closed", "_items", "_waiters")

    def __init__(self) -> None:
        self._items: deque[ServiceRequest] = deque()
        self._waiters: deque[anyio.Event] = deque()
        self._closed = False

    def put(self, request: ServiceRequest) -> None:
        self._items.append(request)
        if self._waiters:
            self._waiters.popleft().set()

    async def get(self) -> ServiceRequest | None:
        """The next request; ``None`` once closed and empty."""
        while not self._items:
            if self._closed:
                return None
            wake = anyio.Event()
            self._waiters.append(wake)
            try:
                await wake.wait()
            except BaseException:
                if wake in self._waiters:
                    self._waiters.remove(wake)
                elif self._items and self._waiters:  # woken and leaving: pass the wake on
                    self._waiters.popleft().set()
                raise
        return self._items.popleft()

    def close(self) -> None:
        self._closed = True
        while self._waiters:
            self._waiters.popleft().set()


@final
class Performer:
    """Performs received requests for one association and sends the responses."""

    def __init__(self, association: Association, handlers: Handlers, *, inline_allowed: bool,
                 on_idle: Callable[[], Awaitable[None]]) -> None:
        self._association = association
        self._handlers = handlers
        self._inline_allowed = inline_allowed
        self._on_idle = on_idle
        self._inline = False
        self._window = 1
        self._workers_limit = 1
        self._task_group: TaskGroup | None = None
        self._queue = _Queue()
        self._workers = 0
        #: Message ID -> cancel signal of each request being performed (None: not cancellable)
        self._running: dict[int, CancelSignal | None] = {}
        #: requests received and not yet answered
        self.busy = 0
        #: requests received in all
        self.received = 0
        #: the peer asked to release while requests were running: answer when idle
        self.release_due = False

    def configure(self, window: int, task_group: TaskGroup | None) -> None:
        """Set the negotiated performed window (0 = unlimited)."""
        self._inline = window == 1 and self._inline_allowed
        self._window = window or MAX_QUEUED
        self._workers_limit = min(window or MAX_WORKERS, MAX_WORKERS)
        self._task_group = task_group

    async def submit(self, received: MessageReceived) -> None:
        """Perform a request now (inline), hand it to a worker, or refuse it."""
        self.received += 1
        message = received.message
        if isinstance(message, CCancelRQ):
            signal = self._running.get(message.message_id_being_responded_to)
            if signal is not None:
                signal.set()  # no response to C-CANCEL itself (DIMSE-12)
            return
        if not isinstance(message, ANSWERABLE):
            await self._unrecognized(received)
            return
        assoc = self._association
        assert assoc.negotiated is not None
        context = assoc.negotiated.contexts[received.context_id]
        if message.message_id in self._running:
            await self._refuse(received, Status.DUPLICATE_INVOCATION,
                               f"message ID {message.message_id} is already being performed")
            return
        if self.busy >= self._window:
            await self._refuse(received, Status.RESOURCE_LIMITATION,
                               "asynchronous operations window exceeded")
            return
        signal = CancelSignal() if isinstance(message, CFindRQ) else None
        self._running[message.message_id] = signal
        self.busy += 1
        request = ServiceRequest(association=assoc, context=context, message=message,
                                 data_set_bytes=received.data_set, cancel_signal=signal)
        if self._inline and is_inline(find_handler(self._handlers, context, message)):
            await self._perform(request)
            return
        assert self._task_group is not None
        if self.busy > self._workers and self._workers < self._workers_limit:
            self._workers += 1
            self._task_group.start_soon(self._worker)
        self._queue.put(request)

    def close(self) -> None:
        """No more requests: let the workers finish."""
        self._queue.close()

    async def _worker(self) -> None:
        streak = 0
        while (request := await self._queue.get()) is not None:
            await self._perform(request)
            streak += 1
            if streak >= _YIELD_EVERY:
                streak = 0
                await checkpoint()

    async def _perform(self, request: ServiceRequest) -> None:
        message_id = request.message.message_id  # type: ignore[union-attr]
        context_id = request.context.context_id

        async def respond(response: Response, data_set: bytes | None) -> None:
            await self._send(context_id, response, data_set, request.message)

        try:
            await perform(self._handlers, request, respond)
        finally:
            del self._running[message_id]
            self.busy -= 1
            if not self.busy and self.release_due:
                self.release_due = False
                await self._on_idle()

    async def _send(self, context_id: int, response: Response, data_set: bytes | None,
                    request: object) -> None:
        assoc = self._association
        try:
            await assoc._send_message(context_id, response, data_set)
        except LocalProtocolError as exc:
            if not isinstance(request, ANSWERABLE) or not assoc.is_established:
                logger.info("%s: could not answer %r: %s", assoc.peer, request, exc)
                return
            logger.error("%s: cannot encode %r (%s): answering 0110H", assoc.peer, response, exc)
            await self._send(context_id, failure_response(
                request, Status.PROCESSING_FAILURE, "response could not be encoded"), None, None)
        except AioupsError as exc:
            logger.info("%s: could not answer %r: %s", assoc.peer, request, exc)

    async def _refuse(self, received: MessageReceived, status: Status, comment: str) -> None:
        message = received.message
        assert isinstance(message, ANSWERABLE)
        logger.warning("%s: %s: %s", self._association.peer, type(message).__name__, comment)
        await self._send(received.context_id, failure_response(message, status, comment), None,
                         message)

    async def _unrecognized(self, received: MessageReceived) -> None:
        """Answer an unknown request with 0211H; ignore anything else we cannot answer."""
        message = received.message
        assoc = self._association
        if not isinstance(message, UnknownCommand) or message.command_field & 0x8000 \
                or message.message_id is None:
            logger.warning("%s: %r ignored", assoc.peer, message)
            return
        logger.warning("%s: unrecognized command 0x%04X answered with 0211H", assoc.peer,
                       message.command_field)
        try:
            await assoc._send_raw_command(received.context_id,
                                          message.unrecognized_response())
        except AioupsError as exc:
            logger.info("%s: could not answer %r: %s", assoc.peer, message, exc)
