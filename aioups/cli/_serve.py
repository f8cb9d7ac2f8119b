"""``aioups serve``: run the UPS SCP (Push, Pull, Watch, Query, Event) and Verification."""

from __future__ import annotations

import argparse
import functools
import logging
import signal
import sys

import anyio

import aioups
from aioups.errors import AioupsError

from ._common import (
    UsageError,
    add_connection_options,
    raise_open_files_limit,
    socket_options_from,
    ssl_context_from,
    timeouts_from,
)

logger = logging.getLogger("aioups.cli")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve", help="run the UPS SCP",
        description="Serve the Unified Procedure Step service (Push, Pull, Watch, Query, Event) "
        "and Verification until interrupted.  Workitems and subscriptions are kept in a SQLite "
        "file; events go to the Receiving AEs found in --ae-directory / --ae.")
    p.add_argument("--aet", default="AIOUPS", help="our AE title (default AIOUPS)")
    p.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    p.add_argument("--port", type=int, default=11112, help="port (default 11112; 0 = any)")
    p.add_argument("--db", default="aioups-ups.sqlite", metavar="PATH",
                   help="SQLite file for workitems and subscriptions (default "
                   "./aioups-ups.sqlite; ':memory:' keeps nothing)")
    p.add_argument("--synchronous", choices=("FULL", "NORMAL"), default="FULL",
                   help="FULL (default): every acknowledged change survives a power loss; "
                   "NORMAL: survives a crash of the process only, faster")
    p.add_argument("--ae-directory", metavar="FILE",
                   help="JSON or TOML file: Receiving AE title -> 'host:port' or a table with "
                   "host, port and TLS settings")
    p.add_argument("--ae", action="append", default=[], metavar="AET=HOST:PORT",
                   help="one more Receiving AE (repeatable)")
    p.add_argument("--fallback-ae", action="append", default=[], metavar="AET",
                   help="also send SCP status changes (RESTARTED, GOING DOWN) to this AE")
    p.add_argument("--purge-after", type=float, default=3600.0, metavar="SECONDS",
                   help="remove COMPLETED/CANCELED workitems without deletion lock after this "
                   "long (default 3600; 0 = at once; -1 = never)")
    p.add_argument("--no-deletion-locks", action="store_true",
                   help="refuse deletion locks (subscribers get warning B301)")
    p.add_argument("--max-associations", type=int, default=1000,
                   help="reject associations beyond this many (default 1000)")
    p.add_argument("--max-ops-performed", type=int, default=16, metavar="N",
                   help="operations performed at once per association (default 16)")
    p.add_argument("--require-called-aet", action="store_true",
                   help="reject requests whose Called AE title is not --aet")
    p.add_argument("--accept-calling-aet", action="append", metavar="AET",
                   help="accept only these Calling AE titles (repeatable; default: any)")
    add_connection_options(p)
    p.set_defaults(run=run)


def _check_ae_title(title: str, option: str) -> None:
    if not title.strip() or len(title) > 16 or "\\" in title:
        raise UsageError(f"{option}: invalid AE title {title!r} (1-16 characters)")


def _directory(args: argparse.Namespace) -> dict[str, aioups.AEAddress]:
    directory: dict[str, aioups.AEAddress] = {}
    try:
        if args.ae_directory:
            directory.update(aioups.load_ae_directory(args.ae_directory))
        for entry in args.ae:
            title, sep, address = entry.partition("=")
            host, sep2, port = address.rpartition(":")
            if not (sep and sep2 and title and host and port.isdigit()):
                raise UsageError(f"--ae expects AET=HOST:PORT, got {entry!r}")
            _check_ae_title(title, "--ae")
            directory[title] = aioups.AEAddress(host=host, port=int(port))
    except AioupsError as exc:
        raise UsageError(str(exc)) from None
    return directory


def _service(args: argparse.Namespace) -> aioups.UPSService:
    store: aioups.UPSStore = aioups.SQLiteStore(args.db, synchronous=args.synchronous)
    return aioups.UPSService(
        store, directory=_directory(args), ae_title=args.aet,
        purge_after=None if args.purge_after < 0 else args.purge_after,
        fallback_aes=tuple(args.fallback_ae), deletion_locks=not args.no_deletion_locks)


async def _until_signal(scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            print(f"{signal.Signals(signum).name}: shutting down", file=sys.stderr, flush=True)
            scope.cancel()
            return


async def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise UsageError(f"invalid port {args.port}")
    _check_ae_title(args.aet, "--aet")
    if args.max_associations < 1 or args.max_ops_performed < 0:
        raise UsageError("--max-associations and --max-ops-performed must be positive")
    service = _service(args)
    raise_open_files_limit()  # one descriptor per association
    allowed = frozenset(args.accept_calling_aet) if args.accept_calling_aet else None
    serve = functools.partial(
        service.serve, args.host, args.port, max_associations=args.max_associations,
        max_pdu_length=args.max_pdulen_rcv, max_operations_performed=args.max_ops_performed,
        require_called_ae_title=args.require_called_aet, allowed_calling_ae_titles=allowed,
        ssl_context=ssl_context_from(args, server=True), timeouts=timeouts_from(args),
        socket_options=socket_options_from(args))
    async with anyio.create_task_group() as tg:
        tg.start_soon(_until_signal, tg.cancel_scope)
        port = await tg.start(serve)
        print(f"{args.aet} listening on {args.host}:{port} (UPS SCP, store {args.db}, "
              f"{len(service.workitems)} workitems)", flush=True)
    return 0
