"""Running the handlers for the requests one association receives.

Requests are queued to a small pool of worker tasks, grown on demand up to the performed window,
so the reader keeps reading (and notices an A-ABORT) while handlers wait.  One exception saves a
task switch per request: with a synchronous peer (window 1), which cannot send another request
before our response, a handler marked with ``inline_handler`` (it never waits) runs in the
reader task itself.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, final

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..dimse import MessageReceived
from ..errors import AioupsError
from ._dispatch import Handlers, find_handler, handle_request, is_inline

if TYPE_CHECKING:
    from ._association import Association

logger = logging.getLogger("aioups.net")

#: Most handler workers one association runs when the peer's window is unlimited.
MAX_WORKERS = 64


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
        self._limit = 1
        self._task_group: TaskGroup | None = None
        self._queue: MemoryObjectSendStream[MessageReceived] | None = None
        self._receive: MemoryObjectReceiveStream[MessageReceived] | None = None
        self._workers = 0
        #: requests received and not yet answered
        self.busy = 0
        #: the peer asked to release while requests were running: answer when idle
        self.release_due = False

    def configure(self, window: int, task_group: TaskGroup | None) -> None:
        """Set the negotiated performed window (0 = unlimited)."""
        self._inline = window == 1 and self._inline_allowed
        self._limit = min(window or MAX_WORKERS, MAX_WORKERS)
        self._task_group = task_group

    async def submit(self, received: MessageReceived) -> None:
        """Perform a request now (inline) or hand it to a worker."""
        self.busy += 1
        if self._inline and self._is_inline(received):
            try:
                await self._perform(received)
            finally:
                self.busy -= 1
            return
        assert self._task_group is not None
        if self._queue is None:
            self._queue, self._receive = anyio.create_memory_object_stream[MessageReceived](
                math.inf)
        if self.busy > self._workers and self._workers < self._limit:
            self._workers += 1
            self._task_group.start_soon(self._worker)
        self._queue.send_nowait(received)

    def close(self) -> None:
        """No more requests: let the workers finish."""
        if self._queue is not None:
            self._queue.close()
        if self._receive is not None:
            self._receive.close()

    def _is_inline(self, received: MessageReceived) -> bool:
        negotiated = self._association.negotiated
        assert negotiated is not None
        context = negotiated.contexts[received.context_id]
        return is_inline(find_handler(self._handlers, context, received.message))

    async def _worker(self) -> None:
        assert self._receive is not None
        async for received in self._receive:
            try:
                await self._perform(received)
            finally:
                self.busy -= 1
                if not self.busy and self.release_due:
                    self.release_due = False
                    await self._on_idle()

    async def _perform(self, received: MessageReceived) -> None:
        assoc = self._association
        assert assoc.negotiated is not None and assoc._engine is not None
        context = assoc.negotiated.contexts[received.context_id]
        reply = await handle_request(self._handlers, assoc, context, received)
        if reply is None:
            return
        response, data_set = reply
        if assoc._debug:
            logger.debug("%s >> %r%s", assoc.peer, response,
                         "" if data_set is None else f" + data set ({len(data_set)} bytes)")
        try:
            await assoc._send(assoc._engine.encode(received.context_id, response, data_set))
        except AioupsError as exc:
            logger.info("%s: could not answer %r: %s", assoc.peer, received.message, exc)
