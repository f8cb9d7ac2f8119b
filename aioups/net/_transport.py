"""The transport edge: TCP/TLS connect and listen over anyio, socket options, and the one place
where anyio/OS exceptions become aioups exceptions."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import final

import anyio
from anyio.abc import ByteStream, SocketAttribute
from anyio.streams.tls import TLSStream

from ..errors import AssociationTimeout, ConnectError
from ._asyncio_stream import accept_asyncio_stream, is_asyncio, open_asyncio_stream

#: Errors that mean "the transport is gone" when reading or writing.
STREAM_ERRORS: tuple[type[BaseException], ...] = (
    anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError,
    anyio.IncompleteRead, OSError, ssl.SSLError,
)
#: The same, plus a timeout (TLS handshakes).
STREAM_ERRORS_OR_TIMEOUT: tuple[type[BaseException], ...] = (*STREAM_ERRORS, TimeoutError)


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class SocketOptions:
    """Socket options applied to every connection (upsscu's ``--tcp-delay``, ``--so*``).

    TCP_NODELAY is on by default: without it a response written in two sends waits for the
    peer's delayed ACK (about 40 ms per message).
    """

    tcp_nodelay: bool = True
    send_buffer: int | None = None
    receive_buffer: int | None = None


def apply_socket_options(stream: ByteStream, options: SocketOptions) -> None:
    """Set the options on the raw socket under ``stream`` (TLS included), when there is one."""
    try:
        sock: socket.socket = stream.extra(SocketAttribute.raw_socket)
    except anyio.TypedAttributeLookupError:
        return  # not a socket (memory streams in tests)
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(options.tcp_nodelay))
    if options.send_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, options.send_buffer)
    if options.receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, options.receive_buffer)


@contextmanager
def map_connect_errors(host: str, port: int) -> Iterator[None]:
    """Translate connect-time failures into :class:`ConnectError` / :class:`AssociationTimeout`."""
    try:
        yield
    except TimeoutError as exc:
        raise AssociationTimeout(f"timed out connecting to {host}:{port}") from exc
    except (OSError, ssl.SSLError, anyio.BrokenResourceError, anyio.EndOfStream) as exc:
        raise ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc


async def connect(host: str, port: int, *, timeout: float | None = None,
                  ssl_context: ssl.SSLContext | None = None,
                  server_hostname: str | None = None, local_host: str | None = None,
                  options: SocketOptions | None = None) -> ByteStream:
    """Open a TCP (and optionally TLS) connection.

    Raises:
        ConnectError: refused, unreachable, DNS or TLS handshake failure.
        AssociationTimeout: no connection within ``timeout`` seconds.
    """
    with map_connect_errors(host, port), anyio.fail_after(timeout):
        stream: ByteStream
        if is_asyncio():
            stream = await open_asyncio_stream(host, port, local_host)
        else:
            stream = await anyio.connect_tcp(host, port, local_host=local_host)
        apply_socket_options(stream, options or SocketOptions())
        if ssl_context is not None:
            try:
                stream = await TLSStream.wrap(stream, hostname=server_hostname or host,
                                              ssl_context=ssl_context,
                                              standard_compatible=False)
            except BaseException:
                await anyio.aclose_forcefully(stream)
                raise
    return stream


def listening_socket(host: str, port: int, backlog: int = 4096) -> socket.socket:
    """A bound, listening, non-blocking TCP socket (IPv6 when ``host`` is an IPv6 address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def serve_connections(sock: socket.socket,
                            handler: Callable[[ByteStream], Awaitable[None]]) -> None:
    """Accept connections on ``sock`` forever, running ``handler(stream)`` in a task for each."""
    if not is_asyncio():
        listener = await anyio.abc.SocketListener.from_socket(sock)
        async with listener:
            await listener.serve(handler)
        return
    async with anyio.create_task_group() as tg:
        while True:
            try:
                stream = await accept_asyncio_stream(sock)
            except OSError:  # e.g. EMFILE: keep serving the connections we have
                await anyio.sleep(0.1)
                continue
            tg.start_soon(handler, stream)  # type: ignore[arg-type]  # it is a ByteStream
