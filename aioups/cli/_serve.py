"""``aioups serve``: run the SCP (Verification for now)."""

from __future__ import annotations

import argparse

import anyio

import aioups

from ._common import UsageError, add_connection_options, ssl_context_from, timeouts_from


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run an SCP", description="Serve associations until "
                       "interrupted: Verification SCP (C-ECHO).")
    p.add_argument("--aet", default="AIOUPS", help="our AE title (default AIOUPS)")
    p.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    p.add_argument("--port", type=int, default=11112, help="port (default 11112; 0 = any)")
    p.add_argument("--max-associations", type=int, default=1000,
                   help="reject associations beyond this many (default 1000)")
    p.add_argument("--require-called-aet", action="store_true",
                   help="reject requests whose Called AE title is not --aet")
    p.add_argument("--accept-calling-aet", action="append", metavar="AET",
                   help="accept only these Calling AE titles (repeatable)")
    add_connection_options(p)
    p.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise UsageError(f"invalid port {args.port}")
    timeouts = timeouts_from(args)
    config = aioups.ServerConfig(
        ae_title=args.aet, max_associations=args.max_associations,
        max_pdu_length=args.max_pdulen_rcv, require_called_ae_title=args.require_called_aet,
        allowed_calling_ae_titles=(frozenset(args.accept_calling_aet)
                                   if args.accept_calling_aet else None),
        ssl_context=ssl_context_from(args, server=True), timeouts=timeouts,
        socket_options=aioups.SocketOptions(tcp_nodelay=not args.tcp_delay))
    server = aioups.Server(config)
    async with anyio.create_task_group() as tg:
        port = await tg.start(server.serve, args.host, args.port)
        print(f"{args.aet} listening on {args.host}:{port}", flush=True)
    return 0
