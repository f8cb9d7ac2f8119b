"""``aioups load``: load-test any UPS SCP.

    aioups load -c AET@host:port --scenario echo --associations 50 --ops 200
                [--duration S] [--rate R] [--window W] [--json]

A live progress display while it runs (rich when installed and stderr is a terminal, a plain
line otherwise), then ops/s, latency p50/p90/p99/max and errors by status and by exception.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from aioups.loadtest import SCENARIOS, LoadConfig, LoadResult, Recorder, run_load

from ._common import parse_address, raise_open_files_limit, timeouts_from
from ._scu import TRANSFER_SYNTAXES, add_scu_options
from ._tls import ssl_context_from
from ._usage import EXIT_DIMSE, EXIT_OK, UsageError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("load", help="load-test a UPS SCP",
                       description="Run a scenario over many associations against any SCP and "
                       "report ops/s, latency percentiles and errors.")
    p.add_argument("--scenario", choices=tuple(SCENARIOS), default="echo",
                   help="echo, create, get, find, workflow (create, claim, complete: 4 "
                   "requests) or subscribe-storm (workflow with --subscribers listening here)")
    p.add_argument("--associations", type=int, default=1, metavar="N",
                   help="concurrent associations (default 1)")
    p.add_argument("--ops", type=int, metavar="N",
                   help="operations per association (default 100 unless --duration)")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--rate", type=float, metavar="R",
                   help="offer R operations/s in total (open loop); default: as fast as "
                   "answered (closed loop)")
    p.add_argument("--window", type=int, default=1, metavar="W",
                   help="operations outstanding per association (default 1)")
    p.add_argument("--subscribers", type=int, default=10, metavar="S",
                   help="subscribe-storm: subscriber AE titles (default 10)")
    p.add_argument("--subscriber-prefix", default="LOADRX", metavar="PREFIX",
                   help="subscribe-storm: AE titles PREFIX0001... (the SCP must know them)")
    p.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT",
                   help="subscribe-storm: where the subscribers listen (default any port)")
    add_scu_options(p)
    p.set_defaults(run=run)


def _config(args: argparse.Namespace) -> LoadConfig:
    remote = parse_address(args.connect, need_host=True)
    local = parse_address(args.bind, need_host=False)
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--listen expects HOST:PORT, got {args.listen!r}")
    assert remote.host is not None and remote.port is not None
    try:
        return LoadConfig(
            host=remote.host, port=remote.port, called_ae_title=remote.ae_title,
            calling_ae_title=local.ae_title, scenario=args.scenario,
            associations=args.associations,
            ops=args.ops if args.ops is not None or args.duration else 100,
            duration=args.duration, rate=args.rate, window=args.window,
            transfer_syntaxes=TRANSFER_SYNTAXES[args.transfer_syntax],
            ssl_context=ssl_context_from(args, server=False), timeouts=timeouts_from(args),
            subscribers=args.subscribers, subscriber_prefix=args.subscriber_prefix,
            listen_host=host, listen_port=int(port))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


class _Display:
    """Progress while the load runs: rich when available on a terminal, else a plain line."""

    def __init__(self, config: LoadConfig) -> None:
        self.total = config.ops * config.associations if config.ops is not None else None
        self.duration = config.duration
        self.live: Any = None
        if sys.stderr.isatty():
            try:
                from rich.console import Console
                from rich.live import Live
            except ImportError:
                return
            self.live = Live(console=Console(stderr=True), refresh_per_second=4)

    def __enter__(self) -> _Display:
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def update(self, recorder: Recorder, elapsed: float) -> None:
        rate = recorder.completed / elapsed if elapsed > 0 else 0.0
        done = f"{recorder.done}/{self.total}" if self.total else f"{recorder.done}"
        text = (f"{elapsed:6.1f} s  {done} ops  {rate:8.0f} ops/s  "
                f"{recorder.failed} failed")
        if self.live is not None:
            self.live.update(text)
        elif sys.stderr.isatty():
            print(f"\r{text}", end="", file=sys.stderr, flush=True)


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def print_result(result: LoadResult) -> None:
    lat = result.latency
    print(f"scenario {result.scenario}: {result.associations} association(s), "
          f"{result.operations} operations ({result.requests} requests) in "
          f"{result.elapsed:.2f} s")
    offered = f", offered {result.target_rate:.0f}/s" if result.target_rate else ""
    print(f"  {result.rate:.0f} ops/s{offered}; {result.failed} failed")
    print(f"  latency ms: p50 {_ms(lat.p50)}  p90 {_ms(lat.p90)}  p99 {_ms(lat.p99)}  "
          f"max {_ms(lat.max)}")
    for status, count in sorted(result.statuses.items()):
        print(f"  status {status}H: {count}")
    for name, count in sorted(result.exceptions.items()):
        print(f"  {name}: {count}")
    if result.events is not None and result.event_latency is not None:
        ev = result.event_latency
        print(f"  events: {result.events} of {result.events_expected} received; latency ms "
              f"p50 {_ms(ev.p50)}  p99 {_ms(ev.p99)}  max {_ms(ev.max)}")


async def run(args: argparse.Namespace) -> int:
    config = _config(args)
    raise_open_files_limit()  # one descriptor per association
    with _Display(config) as display:
        result = await run_load(config, progress=display.update)
    if sys.stderr.isatty() and display.live is None:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        print_result(result)
    return EXIT_OK if result.failed == 0 else EXIT_DIMSE
