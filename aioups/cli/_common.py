"""Pieces every sub-command shares: address parsing, timeouts, TLS, logging, exit codes."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

import aioups
from aioups.errors import (
    AioupsError,
    AioupsTimeout,
    AssociationError,
    ConfigurationError,
    DIMSEStatusError,
    StoreError,
    TransportError,
)

from ._tls import add_tls_options
from ._tls import ssl_context_from as ssl_context_from
from ._usage import EXIT_ASSOCIATION, EXIT_CONNECT, EXIT_DIMSE, EXIT_OK, EXIT_USAGE, UsageError

__all__ = ["EXIT_ASSOCIATION", "EXIT_CONNECT", "EXIT_DIMSE", "EXIT_OK", "EXIT_USAGE",
           "Address", "UsageError", "add_connection_options", "configure_logging",
           "execute", "exit_code_for", "parse_address", "raise_open_files_limit",
           "socket_options_from", "ssl_context_from", "timeouts_from"]


@dataclass(frozen=True, slots=True)
class Address:
    """``AET@host:port``."""

    ae_title: str
    host: str | None
    port: int | None


def parse_address(text: str, *, need_host: bool) -> Address:
    """Parse ``AET@host:port`` (``-c``) or ``AET[@host][:port]`` (``-b``)."""
    aet, _, rest = text.partition("@")
    host: str | None = None
    port: int | None = None
    if rest:
        host, sep, port_text = rest.rpartition(":")
        if not sep:
            host, port_text = rest, ""
        if port_text:
            if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
                raise UsageError(f"invalid port in {text!r}")
            port = int(port_text)
    elif ":" in aet:
        aet, _, port_text = aet.partition(":")
        if not port_text.isdigit():
            raise UsageError(f"invalid port in {text!r}")
        port = int(port_text)
    if not aet or len(aet) > 16 or "\\" in aet:
        raise UsageError(f"invalid AE title in {text!r} (1-16 characters)")
    if need_host and (not host or port is None):
        raise UsageError(f"expected AET@host:port, got {text!r}")
    return Address(aet, host or None, port)


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """Timeouts (ms, upsscu spelling), PDU lengths, socket and TLS options."""
    g = parser.add_argument_group("connection")
    for name, what in (("connect", "TCP connect"), ("accept", "A-ASSOCIATE-AC"),
                       ("release", "A-RELEASE-RP"), ("response", "each DIMSE response"),
                       ("send", "sending each DIMSE request"), ("idle", "idle association")):
        g.add_argument(f"--{name}-timeout", type=int, metavar="MS",
                       help=f"timeout in ms for {what}")
    g.add_argument("--max-pdulen-rcv", type=int, default=16384, metavar="LENGTH",
                   help="maximal length of received P-DATA-TF PDUs (0 = unlimited; "
                   "default 16384)")
    g.add_argument("--max-pdulen-snd", type=int, default=0, metavar="LENGTH",
                   help="maximal length of sent P-DATA-TF PDUs, also limited by the peer's "
                   "(default: the peer's)")
    g.add_argument("--soclose-delay", type=int, default=50, metavar="MS",
                   help="delay in ms before closing the socket after A-ABORT or the last "
                   "PDU (default 50)")
    g.add_argument("--sorcv-buffer", type=int, metavar="LENGTH", help="SO_RCVBUF size")
    g.add_argument("--sosnd-buffer", type=int, metavar="LENGTH", help="SO_SNDBUF size")
    g.add_argument("--tcp-delay", action="store_true",
                   help="leave Nagle's algorithm on (TCP_NODELAY is set by default)")
    add_tls_options(parser)


def socket_options_from(args: argparse.Namespace) -> aioups.SocketOptions:
    """SocketOptions from ``--tcp-delay``, ``--so*``."""
    for name in ("soclose_delay", "sorcv_buffer", "sosnd_buffer", "max_pdulen_snd",
                 "max_pdulen_rcv"):
        value = getattr(args, name, None)
        if value is not None and value < 0:
            raise UsageError(f"--{name.replace('_', '-')} must not be negative")
    return aioups.SocketOptions(tcp_nodelay=not args.tcp_delay,
                                send_buffer=args.sosnd_buffer or None,
                                receive_buffer=args.sorcv_buffer or None,
                                close_delay=args.soclose_delay / 1000)


def timeouts_from(args: argparse.Namespace) -> aioups.Timeouts:
    """Build Timeouts from the ``--*-timeout`` options (milliseconds)."""
    def seconds(ms: int | None, default: float | None) -> float | None:
        if ms is not None and ms < 0:
            raise UsageError("timeouts must not be negative")
        return default if ms is None else ms / 1000

    base = aioups.Timeouts()
    return aioups.Timeouts(connect=seconds(args.connect_timeout, base.connect),
                           accept=seconds(args.accept_timeout, base.accept),
                           release=seconds(args.release_timeout, base.release),
                           response=seconds(args.response_timeout, base.response),
                           send=seconds(args.send_timeout, base.send),
                           idle=seconds(args.idle_timeout, base.idle))


def configure_logging(verbosity: int) -> None:
    """``-v``: info; ``-vv``: every PDU and DIMSE message."""
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 \
        else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def exit_code_for(exc: AioupsError) -> int:
    """Map an aioups error to the CLI's exit code."""
    if isinstance(exc, ConfigurationError | StoreError):
        return EXIT_USAGE
    if isinstance(exc, TransportError):
        return EXIT_CONNECT
    if isinstance(exc, DIMSEStatusError | AioupsTimeout) and not isinstance(
            exc, aioups.errors.AssociationTimeout):
        return EXIT_DIMSE
    if isinstance(exc, AssociationError | AioupsTimeout):
        return EXIT_ASSOCIATION
    return EXIT_DIMSE


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def raise_open_files_limit() -> int | None:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit, as far as the OS allows: each
    association is one descriptor, and the usual soft limit (1024) is far below what one server
    or load generator holds.  Returns the soft limit now in force (``None``: no such limit)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (OSError, ValueError):  # e.g. macOS caps it below the hard limit: keep ours
            logging.getLogger("aioups.cli").debug("cannot raise RLIMIT_NOFILE to %s", target)
    return soft


def execute(run: Callable[[argparse.Namespace], Awaitable[int]], args: argparse.Namespace, *,
            backend: str, name: str) -> int:
    """Run a command on ``backend``; every outcome becomes an exit code and at most one line
    on stderr."""
    try:
        return int(anyio.run(run, args, backend=backend))
    except BaseException as exc:  # every outcome becomes one line and an exit code
        leaves = _leaves(exc)  # trio wraps errors raised inside task groups
        if all(isinstance(leaf, KeyboardInterrupt) for leaf in leaves):
            return 130
        if len(leaves) != 1:
            raise
        error = leaves[0]
        if isinstance(error, UsageError):
            print(f"{name}: {error}", file=sys.stderr)
            return EXIT_USAGE
        if isinstance(error, AioupsError):
            print(f"{name}: {type(error).__name__}: {error}", file=sys.stderr)
            return exit_code_for(error)
        if isinstance(error, OSError):  # e.g. cannot listen: port in use, unknown address
            print(f"{name}: {error.strerror or error}", file=sys.stderr)
            return EXIT_CONNECT
        raise
