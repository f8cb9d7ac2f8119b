"""The transport edge: TCP/TLS connect and listen over anyio, socket options, and the one place
where anyio/OS exceptions become aioups exceptions."""

from __future__ import annotations

import base64
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
    #: seconds to wait before closing the socket (upsscu ``--soclose-delay``), so the peer
    #: reads a final A-ABORT or A-RELEASE before the connection goes away
    close_delay: float = 0.0


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
                  options: SocketOptions | None = None, proxy: str | None = None,
                  ) -> ByteStream:
    """Open a TCP (and optionally TLS) connection, through an HTTP proxy if ``proxy``
    (``[user:password@]host:port``) is given (upsscu ``--proxy``: HTTP CONNECT).

    Raises:
        ConnectError: refused, unreachable, DNS or TLS handshake failure.
        AssociationTimeout: no connection within ``timeout`` seconds.
    """
    with map_connect_errors(host, port), anyio.fail_after(timeout):
        stream: ByteStream
        target = (host, port) if proxy is None else parse_proxy(proxy)[:2]
        if is_asyncio():
            stream = await open_asyncio_stream(target[0], target[1], local_host)
        else:
            stream = await anyio.connect_tcp(target[0], target[1], local_host=local_host)
        apply_socket_options(stream, options or SocketOptions())
        if proxy is not None:
            try:
                await _http_connect(stream, host, port, parse_proxy(proxy)[2])
            except BaseException:
                await anyio.aclose_forcefully(stream)
                raise
        if ssl_context is not None:
            try:
                stream = await TLSStream.wrap(stream, hostname=server_hostname or host,
                                              ssl_context=ssl_context,
                                              standard_compatible=False)
            except BaseException:
                await anyio.aclose_forcefully(stream)
                raise
    return stream


def parse_proxy(proxy: str) -> tuple[str, int, str | None]:
    """``[user:password@]host:port`` -> (host, port, credentials or None)."""
    credentials, _, address = proxy.rpartition("@")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConnectError(f"invalid proxy {proxy!r}: expected [user:password@]host:port")
    return host.strip("[]"), int(port), credentials or None


async def _http_connect(stream: ByteStream, host: str, port: int,
                        credentials: str | None) -> None:
    """Ask an HTTP proxy for a tunnel (RFC 9110 §9.3.6) and read its answer."""
    lines = [f"CONNECT {host}:{port} HTTP/1.1", f"Host: {host}:{port}"]
    if credentials:
        token = base64.b64encode(credentials.encode()).decode("ascii")
        lines.append(f"Proxy-Authorization: Basic {token}")
    await stream.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    answer = b""
    while b"\r\n\r\n" not in answer:
        if len(answer) > 16384:
            raise ConnectError("HTTP proxy: answer header too long")
        answer += await stream.receive()
    head, _, rest = answer.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].startswith("2"):
        raise ConnectError(f"HTTP proxy refused the tunnel to {host}:{port}: {status_line}")
    if rest:  # a DICOM acceptor never speaks first
        raise ConnectError("HTTP proxy sent data after its answer")


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
