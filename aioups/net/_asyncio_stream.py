"""A leaner TCP byte stream for the asyncio backend.

anyio's asyncio ``SocketStream`` resumes and pauses reading around every ``receive()`` (two
``epoll_ctl`` calls) and waits on an ``asyncio.Event``; at one small DIMSE message per round
trip that costs more than the whole DICOM protocol work (measured in ``benchmarks/``).  This
stream keeps reading enabled, buffers in the protocol and wakes the reader through one future.
It implements ``anyio.abc.SocketStream``, so TLS and everything above work unchanged; on trio
aioups uses anyio's own streams.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Callable
from typing import cast, final

import anyio
from anyio.abc import SocketStream

#: Stop reading from the socket while this many bytes wait unread.
_HIGH_WATER = 1 << 20
#: Yield to the event loop after this many receives that found data waiting.
_YIELD_EVERY = 16


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.paused = False
        self.eof = False
        self.error: BaseException | None = None
        self.reader: asyncio.Future[None] | None = None
        self.drain: asyncio.Future[None] | None = None
        self.write_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > _HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake_reader()
        self.resume_writing()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.drain is not None and not self.drain.done():
            self.drain.set_result(None)

    def _wake_reader(self) -> None:
        if self.reader is not None and not self.reader.done():
            self.reader.set_result(None)


@final
class AsyncioSocketStream(SocketStream):
    """``anyio.abc.SocketStream`` over an asyncio transport, tuned for request/response."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._loop = asyncio.get_running_loop()
        self._closed = False
        self._streak = 0

    @property
    def _raw_socket(self) -> socket.socket:
        sock: socket.socket = self._transport.get_extra_info("socket")
        return sock

    async def receive(self, max_bytes: int = 65536) -> bytes:
        p = self._protocol
        if p.chunks and self._streak < _YIELD_EVERY:
            self._streak += 1
        else:
            self._streak = 0
            if self._closed:
                raise anyio.ClosedResourceError
            if not p.chunks and not p.eof:
                p.reader = self._loop.create_future()
                try:
                    await p.reader
                finally:
                    p.reader = None
            else:
                await asyncio.sleep(0)
        if not p.chunks:
            if self._closed:
                raise anyio.ClosedResourceError
            if p.error is not None:
                raise anyio.BrokenResourceError from p.error
            raise anyio.EndOfStream
        data = p.chunks.popleft()
        if len(data) > max_bytes:
            p.chunks.appendleft(data[max_bytes:])
            data = data[:max_bytes]
        p.buffered -= len(data)
        if p.paused and p.buffered < _HIGH_WATER // 2:
            p.paused = False
            self._transport.resume_reading()
        return data

    async def send(self, item: bytes) -> None:
        p = self._protocol
        if self._closed:
            raise anyio.ClosedResourceError
        if p.error is not None or self._transport.is_closing():
            raise anyio.BrokenResourceError from p.error
        self._transport.write(item)
        if p.write_paused:
            p.drain = self._loop.create_future()
            try:
                await p.drain
            finally:
                p.drain = None
            if p.error is not None:
                raise anyio.BrokenResourceError from p.error

    def send_nowait(self, item: bytes) -> bool:
        """Write ``item`` now if the transport takes it without waiting; ``False`` (nothing
        written) when :meth:`send` must be awaited: flow control paused, closed or broken."""
        if self._closed or self._protocol.write_paused or self._protocol.error is not None \
                or self._transport.is_closing():
            return False
        self._transport.write(item)
        return True

    async def send_eof(self) -> None:
        self._transport.write_eof()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._transport.close()
            self._protocol._wake_reader()
        await asyncio.sleep(0)


async def open_asyncio_stream(host: str, port: int,
                              local_host: str | None = None) -> AsyncioSocketStream:
    """Connect with asyncio's ``create_connection`` and wrap the result."""
    loop = asyncio.get_running_loop()
    local = (local_host, 0) if local_host else None
    transport, protocol = await loop.create_connection(_Protocol, host, port, local_addr=local)
    return AsyncioSocketStream(transport, protocol)


async def accept_asyncio_stream(listener: socket.socket) -> AsyncioSocketStream:
    """Accept one connection on a non-blocking listening socket."""
    loop = asyncio.get_running_loop()
    # Not loop.sock_accept(): when the waiting task is cancelled, asyncio may still accept a
    # connection on the cancelled future and drop it, unserved and unclosed.  Accepting here,
    # in the task itself, leaves a connection that arrives during cancellation in the backlog.
    while True:
        try:
            conn, _ = listener.accept()
            break
        except (BlockingIOError, InterruptedError):
            pass
        readable = loop.create_future()
        loop.add_reader(listener.fileno(), _set_done, readable)
        try:
            await readable
        finally:
            loop.remove_reader(listener.fileno())
    try:
        conn.setblocking(False)
        transport, protocol = await loop.connect_accepted_socket(_Protocol, conn)
    except BaseException:
        conn.close()
        raise
    return AsyncioSocketStream(transport, protocol)


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def clock() -> Callable[[], float]:
    """The running event loop's clock: what ``anyio.current_time`` returns, without looking up
    the backend at every call (on asyncio, the loop's ``time``)."""
    if is_asyncio():
        return asyncio.get_running_loop().time
    return anyio.current_time


def is_asyncio() -> bool:
    """True when the running event loop is asyncio's (including uvloop); False under trio.

    Checked without sniffio, which anyio does not depend on.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
