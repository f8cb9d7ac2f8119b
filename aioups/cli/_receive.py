"""``aioups receive``: listen as UPS Event SCU and print every N-EVENT-REPORT.

The listening AE title and port come from ``-b AET[@IP]:PORT`` (as in upsscu).  With
``--subscribe`` and ``-c`` it first subscribes itself (globally, or to ``-u``), so one command
watches a whole worklist; ``--count`` and ``--duration`` end it, otherwise it runs until
interrupted.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys

import anyio

import aioups

from ._common import parse_address, socket_options_from, ssl_context_from, timeouts_from
from ._datasets import format_data_set, to_json_dict
from ._scu import add_scu_options, connect, report
from ._usage import EXIT_OK, UsageError


def add_receive_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--status", default="0000", metavar="CODE",
                   help="status (hex) of every N-EVENT-REPORT-RSP (default 0000)")
    p.add_argument("--count", type=int, metavar="N", help="stop after N events")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    p.add_argument("--subscribe", action="store_true",
                   help="first subscribe our AE title on -c (globally, or to -u)")
    p.add_argument("-u", "--upsiuid", metavar="UID", help="with --subscribe: this workitem")
    p.add_argument("-l", "--lock", action="store_true",
                   help="with --subscribe: ask for a deletion lock")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("receive", help="receive UPS event reports (UPS Event SCU)",
                       description="Listen on -b AET[@IP]:PORT for N-EVENT-REPORTs and print "
                       "each (--json: one JSON object per line).")
    add_receive_options(p)
    add_scu_options(p, connect_required=False)
    p.set_defaults(run=run)


def response_status(text: str) -> int:
    try:
        value = int(text.removesuffix("H").removesuffix("h"), 16)
    except ValueError:
        raise UsageError(f"--status expects a hex status such as 0000 or C000, got {text!r}")\
            from None
    if not 0 <= value <= 0xFFFF:
        raise UsageError(f"--status {text!r} is not a 16-bit status")
    return value


def print_event(args: argparse.Namespace, event: aioups.ReceivedEvent) -> None:
    if args.json:
        print(json.dumps({"event_type_id": event.event_type_id,
                          "event_type": event.event_type,
                          "sop_instance_uid": event.sop_instance_uid,
                          "calling_ae_title": event.calling_ae_title,
                          "data_set": to_json_dict(event.data_set)}), flush=True)
        return
    state = f" {event.state}" if event.state else ""
    print(f"{event.event_type} (type {event.event_type_id}){state} for "
          f"{event.sop_instance_uid} from {event.calling_ae_title}")
    print(format_data_set(event.data_set), flush=True)


async def _subscribe(args: argparse.Namespace, ae_title: str) -> None:
    if not args.connect:
        raise UsageError("--subscribe needs -c AET@HOST:PORT")
    async with connect(args) as client:
        response = await client.subscribe(args.upsiuid, receiving_ae=ae_title,
                                          deletion_lock=args.lock, check=False)
    if report(args, "N-ACTION subscribe", response) != EXIT_OK:
        raise UsageError("the subscription failed; not listening")


async def _until_signal(scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            scope.cancel()
            return


async def run(args: argparse.Namespace) -> int:
    local = parse_address(args.bind, need_host=False)
    if local.port is None:
        raise UsageError("receive listens on -b AET[@IP]:PORT: give a port (0 = any)")
    if args.subscribe and not args.connect:
        raise UsageError("--subscribe needs -c AET@HOST:PORT")
    listen_port, listen_host = local.port, local.host or "0.0.0.0"
    status = response_status(args.status)
    receiver = aioups.EventReceiver(local.ae_title, status=status)
    received = 0
    async with anyio.create_task_group() as tg:
        if sys.platform != "win32":
            tg.start_soon(_until_signal, tg.cancel_scope)
        port = await tg.start(lambda task_status: receiver.serve(
            listen_host, listen_port, task_status=task_status,
            ssl_context=ssl_context_from(args, server=True), timeouts=timeouts_from(args),
            socket_options=socket_options_from(args), max_pdu_length=args.max_pdulen_rcv))
        print(f"{local.ae_title} receiving on {listen_host}:{port}",
              file=sys.stderr, flush=True)
        if args.subscribe:
            await _subscribe(args, local.ae_title)
        with anyio.move_on_after(args.duration):
            async for event in receiver:
                print_event(args, event)
                received += 1
                if args.count is not None and received >= args.count:
                    break
        tg.cancel_scope.cancel()
    return EXIT_OK
