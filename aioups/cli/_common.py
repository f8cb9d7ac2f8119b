"""Pieces every sub-command shares: address parsing, timeouts, TLS, logging, exit codes."""

from __future__ import annotations

import argparse
import logging
import ssl
import sys
from dataclasses import dataclass

import aioups
from aioups.errors import (
    AioupsError,
    AioupsTimeout,
    AssociationError,
    DIMSEStatusError,
    TransportError,
)

#: Exit codes: distinct for usage, connection, association and DIMSE failures.
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_CONNECT = 3
EXIT_ASSOCIATION = 4
EXIT_DIMSE = 5


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit code 2."""


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
    """Timeouts (ms, upsscu spelling), PDU length, socket and TLS options."""
    g = parser.add_argument_group("connection")
    for name, what in (("connect", "TCP connect"), ("accept", "A-ASSOCIATE-AC"),
                       ("release", "A-RELEASE-RP"), ("response", "each DIMSE response"),
                       ("idle", "idle association")):
        g.add_argument(f"--{name}-timeout", type=int, metavar="MS",
                       help=f"timeout in ms for {what}")
    g.add_argument("--max-pdulen-rcv", type=int, default=16384, metavar="LENGTH",
                   help="maximal length of received P-DATA-TF PDUs (0 = unlimited)")
    g.add_argument("--tcp-delay", action="store_true",
                   help="leave Nagle's algorithm on (TCP_NODELAY is set by default)")
    g.add_argument("--tls", action="store_true", help="use DICOM over TLS")
    g.add_argument("--tls-cert", metavar="PEM", help="our certificate chain (PEM)")
    g.add_argument("--tls-key", metavar="PEM", help="our private key (PEM)")
    g.add_argument("--tls-cacert", metavar="PEM", help="trusted CA certificates (PEM)")
    g.add_argument("--tls-noauth", action="store_true",
                   help="do not verify the peer's certificate")


def timeouts_from(args: argparse.Namespace) -> aioups.Timeouts:
    """Build Timeouts from the ``--*-timeout`` options (milliseconds)."""
    def seconds(ms: int | None, default: float | None) -> float | None:
        return default if ms is None else ms / 1000

    base = aioups.Timeouts()
    return aioups.Timeouts(connect=seconds(args.connect_timeout, base.connect),
                           accept=seconds(args.accept_timeout, base.accept),
                           release=seconds(args.release_timeout, base.release),
                           response=seconds(args.response_timeout, base.response),
                           idle=seconds(args.idle_timeout, base.idle))


def ssl_context_from(args: argparse.Namespace, *, server: bool) -> ssl.SSLContext | None:
    """An SSL context for ``--tls``; TLS 1.2 at least (PS3.15 B.9 and later)."""
    if not (args.tls or args.tls_cert):
        return None
    purpose = ssl.Purpose.CLIENT_AUTH if server else ssl.Purpose.SERVER_AUTH
    try:
        ctx = ssl.create_default_context(purpose, cafile=args.tls_cacert)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if args.tls_cert:
            ctx.load_cert_chain(args.tls_cert, args.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"cannot set up TLS: {exc}") from None
    if args.tls_noauth:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif server and args.tls_cacert:
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def configure_logging(verbosity: int) -> None:
    """``-v``: info; ``-vv``: every PDU and DIMSE message."""
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 \
        else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def exit_code_for(exc: AioupsError) -> int:
    """Map an aioups error to the CLI's exit code."""
    if isinstance(exc, TransportError):
        return EXIT_CONNECT
    if isinstance(exc, DIMSEStatusError | AioupsTimeout) and not isinstance(
            exc, aioups.errors.AssociationTimeout):
        return EXIT_DIMSE
    if isinstance(exc, AssociationError | AioupsTimeout):
        return EXIT_ASSOCIATION
    return EXIT_DIMSE
