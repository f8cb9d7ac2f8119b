"""``aioups echo``: Verification SCU (C-ECHO), exit 0 only when every echo succeeds."""

from __future__ import annotations

import argparse
import time

import aioups

from ._common import (
    Address,
    add_connection_options,
    parse_address,
    socket_options_from,
    ssl_context_from,
    timeouts_from,
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("echo", help="send C-ECHO (Verification SCU)",
                       description="Open an association, send C-ECHO, release.")
    p.add_argument("-c", "--connect", required=True, metavar="AET@HOST:PORT",
                   help="called AE title and address of the SCP")
    p.add_argument("-b", "--bind", default="AIOUPS", metavar="AET[@HOST][:PORT]",
                   help="our AE title (and local address); default AIOUPS")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="send N echoes over the association")
    add_connection_options(p)
    p.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    remote = parse_address(args.connect, need_host=True)
    local: Address = parse_address(args.bind, need_host=False)
    assert remote.host is not None and remote.port is not None
    started = time.perf_counter()
    async with aioups.open_association(
            remote.host, remote.port, called_ae_title=remote.ae_title,
            calling_ae_title=local.ae_title, local_host=local.host,
            max_pdu_length=args.max_pdulen_rcv, max_send_pdu_length=args.max_pdulen_snd,
            timeouts=timeouts_from(args),
            ssl_context=ssl_context_from(args, server=False),
            socket_options=socket_options_from(args)) as assoc:
        for _ in range(args.repeat):
            status = await aioups.send_echo(assoc)
    elapsed = (time.perf_counter() - started) * 1000
    print(f"C-ECHO {remote.ae_title}@{remote.host}:{remote.port}: "
          f"{status.describe()}, {args.repeat} echo(s) in {elapsed:.1f} ms")
    return 0
