"""The requests one association invokes: Message IDs, the invoked window, responses, timeouts.

Every request goes through :meth:`Invoker.start` (one path for every service).  The reader hands
each response to :meth:`Invoker.deliver`, which matches it to its request by Message ID
(DIMSE-14).  A request keeps its window slot and its Message ID until its final response
arrives, even if the caller stopped waiting: the peer is still working on it, and reusing the ID
would be a duplicate invocation (0210H).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, final

import anyio
from anyio.abc import TaskGroup

from ..dimse import DIMSEEngine, Request, Response
from ..errors import AioupsError, DIMSETimeout
from ._sync import Gate

if TYPE_CHECKING:
    from ._association import Association

logger = logging.getLogger("aioups.net")

_PENDING = (0xFF00, 0xFF01)


@final
class Outstanding:
    """One request of ours that has been sent and not yet finally answered."""

    __slots__ = ("_invoker", "abandoned", "cancel_sent", "context_id", "deadline", "error",
                 "finished", "message_id", "responses", "scoped", "timeout", "wake")

    def __init__(self, invoker: Invoker, context_id: int, message_id: int,
                 timeout: float | None, scoped: bool) -> None:
        self._invoker = invoker
        self.context_id = context_id
        self.message_id = message_id
        self.timeout = timeout
        #: waited for with a cancel scope (a non-default timeout) instead of the watchdog
        self.scoped = scoped
        self.deadline = math.inf if timeout is None else invoker.now() + timeout
        self.responses: deque[tuple[Response, bytes | None]] = deque()
        self.wake: anyio.Event | None = None
        self.finished = False
        self.abandoned = False
        self.cancel_sent = False
        self.error: AioupsError | None = None

    async def next(self) -> tuple[Response, bytes | None]:
        """The next response (pending ones first, then the final one).

        Raises:
            DIMSETimeout: none within the timeout (the association is aborted).
            AssociationAborted, ConnectionLost: the association ended first.
        """
        while not self.responses:
            if self.error is not None:
                raise self.error
            if self.finished:
                raise AioupsError("the final response was already taken")
            self.wake = wake = anyio.Event()
            if self.scoped:
                with anyio.move_on_at(self.deadline):
                    await wake.wait()
                if not wake.is_set():
                    await self._invoker.timed_out(self)
            else:
                await wake.wait()
        return self.responses.popleft()

    async def final(self) -> tuple[Response, bytes | None]:
        """Wait for the final response, skipping pending ones."""
        while True:
            response, data_set = await self.next()
            if response.status not in _PENDING:
                return response, data_set

    def abandon(self) -> None:
        """The caller stops waiting: late responses are dropped when they arrive."""
        if self.finished or self.error is not None:
            return
        self.abandoned = True
        self.responses.clear()
        if self.deadline == math.inf and self._invoker.default_timeout is not None:
            self.deadline = self._invoker.now() + self._invoker.default_timeout
        self._invoker.watch()


@final
class Invoker:
    """Our side of the asynchronous operations window (PS3.7 D.3.3.3)."""

    def __init__(self, association: Association, default_timeout: float | None) -> None:
        self._association = association
        self.default_timeout = default_timeout
        self._window = Gate(1)
        self._engine: DIMSEEngine | None = None
        self._task_group: TaskGroup | None = None
        self._watchdog_running = False
        #: Message ID -> request awaiting its final response
        self.outstanding: dict[int, Outstanding] = {}
        self.requests_sent = 0
        self.responses_received = 0

    def now(self) -> float:
        """The event loop's clock."""
        return self._association._clock()

    def configure(self, window: int, engine: DIMSEEngine, task_group: TaskGroup | None) -> None:
        """Set the negotiated invoked window (0 = unlimited)."""
        self._window = Gate(window)
        self._engine = engine
        self._task_group = task_group

    async def start(self, context_id: int, build: Callable[[int], Request],
                    data_set: bytes | None, timeout: float | None) -> Outstanding:
        """Wait for a window slot, allocate a Message ID and send the request."""
        await self._window.acquire()
        try:
            self._association._raise_if_dead()
            assert self._engine is not None
            message_id = self._engine.next_message_id(self.outstanding)
            message = build(message_id)
            scoped = timeout is not None and timeout != self.default_timeout
            out = Outstanding(self, context_id, message_id, timeout, scoped)
            self.outstanding[message_id] = out
        except BaseException:
            self._window.release()
            raise
        if not scoped and timeout is not None:
            self.watch()
        try:
            await self._association._send_message(context_id, message, data_set)
        except BaseException:
            if self.outstanding.pop(message_id, None) is not None:
                self._window.release()
            raise
        self.requests_sent += 1
        return out

    async def request(self, context_id: int, build: Callable[[int], Request],
                      data_set: bytes | None, timeout: float | None,
                      ) -> tuple[Response, bytes | None]:
        """Send a request and wait for its final response."""
        out = await self.start(context_id, build, data_set, timeout)
        try:
            return await out.final()
        except BaseException:
            out.abandon()
            raise

    def deliver(self, message: Response, data_set: bytes | None) -> int | None:
        """Route a received response; returns a Message ID to send C-CANCEL for, if any."""
        message_id = message.message_id_being_responded_to
        out = self.outstanding.get(message_id)
        if out is None:
            logger.warning("%s: response to unknown message ID %s dropped",
                           self._association.peer, message_id)
            return None
        if message.status in _PENDING:
            if out.abandoned:
                if not out.cancel_sent:
                    out.cancel_sent = True
                    return message_id
                return None
            if out.timeout is not None:
                out.deadline = self.now() + out.timeout
        else:
            del self.outstanding[message_id]
            out.finished = True
            self.responses_received += 1
            self._window.release()
            if out.abandoned:
                return None
        out.responses.append((message, data_set))
        if out.wake is not None:
            out.wake.set()
        return None

    def fail(self, error: AioupsError) -> None:
        """The association ended: wake every waiter with ``error``."""
        for out in self.outstanding.values():
            out.error = error
            if out.wake is not None:
                out.wake.set()
            self._window.release()
        self.outstanding.clear()

    async def timed_out(self, out: Outstanding) -> None:
        error = DIMSETimeout(f"no response to message ID {out.message_id} within "
                             f"{out.timeout} s")
        self._association._fail(error)
        await self._association.abort()
        raise error

    def watch(self) -> None:
        """Make sure the watchdog runs (it enforces the default response timeout)."""
        if not self._watchdog_running and self._task_group is not None:
            self._watchdog_running = True
            self._task_group.start_soon(self._watchdog)

    async def _watchdog(self) -> None:
        """Fail the association when a watched response is overdue: the peer is not answering,
        and a late answer could no longer be matched.  One task per association instead of a
        cancel scope per request, which is cheaper."""
        step = self.default_timeout if self.default_timeout is not None else 60.0
        while self._association._error is None:
            now = anyio.current_time()
            next_check = now + step  # later requests have later deadlines
            for out in self.outstanding.values():
                if out.scoped:
                    continue
                if out.deadline <= now:
                    await self.timed_out_quietly(out)
                    return
                next_check = min(next_check, out.deadline)
            await anyio.sleep_until(next_check)

    async def timed_out_quietly(self, out: Outstanding) -> None:
        try:
            await self.timed_out(out)
        except DIMSETimeout:
            pass
