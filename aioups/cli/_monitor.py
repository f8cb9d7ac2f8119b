"""``aioups monitor``: hold many UPS subscriptions from one process and print every event.

One :class:`aioups.EventReceiver` listens on ``-b``'s address; the SCP must map every Receiving
AE title used here to that address (its AE directory, UPS-63).  Three ways to subscribe:
``--global`` (``-b``'s AE, one global subscription), ``--workitems`` (C-FIND, then ``-b``'s AE
subscribes to each match, many at once within the asynchronous operations window) and ``--aes N``
(N Receiving AEs ``<prefix>0001``... each subscribed globally).

One association to the SCP stays open: it makes the subscriptions and carries a C-ECHO every
``--check-interval`` seconds.  When it is lost the monitor reconnects with backoff and, once the
SCP answers again, subscribes afresh; so does an SCP Status Change RESTARTED whose Subscription
List Status is not WARM START (the SCP forgot its subscribers, UPS-64).  Re-subscribing is
idempotent, so a restart that lost nothing costs only the requests.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import anyio

import aioups
from aioups.dimse import Dataset, NEventReportRQ, NEventReportRSP
from aioups.errors import AioupsError, DIMSEFailure

from ._common import (
    parse_address,
    raise_open_files_limit,
    socket_options_from,
    ssl_context_from,
    timeouts_from,
)
from ._datasets import DataSetInputError, find_identifier, parse_keys, to_json_dict
from ._scu import add_scu_options, connect, status_text
from ._usage import EXIT_OK, UsageError

#: A subscription: (Receiving AE, workitem UID or ``None`` for the global one).
Target = tuple[str, str | None]
MAX_BACKOFF = 30.0
#: Errors that stop the monitor when its very first subscription meets them: they are
#: configuration problems (wrong AE titles, AE not in the SCP's directory), not an outage.
FATAL_AT_START = (aioups.errors.AssociationRejected, aioups.errors.DIMSEStatusError,
                  aioups.errors.NoAcceptedContext)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "monitor", help="hold many subscriptions and print every UPS event",
        description="Listen on -b AET[@IP]:PORT, subscribe on -c (--global, --workitems or "
        "--aes N) and print every event with running counts; re-subscribes when the SCP "
        "restarts.  The SCP's AE directory must map the Receiving AE titles to -b's address.  "
        "--max-ops-invoked defaults to 16 here.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--global", dest="mode", action="store_const", const="global",
                      help="one global subscription for -b's AE title (the default)")
    mode.add_argument("--workitems", dest="mode", action="store_const", const="workitems",
                      help="C-FIND the workitems (-q, --state) and subscribe to each")
    mode.add_argument("--aes", type=int, metavar="N",
                      help="subscribe N Receiving AE titles PREFIX0001... globally")
    p.add_argument("--ae-prefix", metavar="PREFIX",
                   help="with --aes: prefix of the AE titles (default: -b's AE title)")
    p.add_argument("-q", dest="query_keys", action="append", default=[],
                   metavar="[SEQ.]ATTR=VALUE", help="with --workitems: matching key")
    p.add_argument("--state", type=str.upper,
                   choices=("SCHEDULED", "IN PROGRESS", "COMPLETED", "CANCELED"),
                   help="with --workitems: only workitems in this state")
    p.add_argument("-l", "--lock", action="store_true", help="ask for deletion locks")
    p.add_argument("--count", type=int, metavar="N", help="stop after N events")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    p.add_argument("--check-interval", type=float, default=5.0, metavar="SECONDS",
                   help="C-ECHO the SCP this often (default 5)")
    p.add_argument("--stats-interval", type=float, default=10.0, metavar="SECONDS",
                   help="counts per event type to stderr this often (default 10; 0 = never)")
    p.add_argument("--unsubscribe", action="store_true",
                   help="on exit, remove the subscriptions made")
    add_scu_options(p)
    p.set_defaults(run=run, mode="global", max_ops_invoked=16)


def _check(args: argparse.Namespace) -> tuple[str, int, list[str], Dataset]:
    """Validate the options; (listening host, port, the Receiving AE titles to subscribe,
    the C-FIND identifier of --workitems)."""
    local = parse_address(args.bind, need_host=False)
    if local.port is None:
        raise UsageError("monitor listens on -b AET[@IP]:PORT: give a port (0 = any)")
    positive = {"--count": args.count, "--duration": args.duration,
                "--check-interval": args.check_interval, "--aes": args.aes}
    for option, value in positive.items():
        if value is not None and not value > 0:
            raise UsageError(f"{option} must be positive")
    if args.stats_interval < 0:
        raise UsageError("--stats-interval must not be negative")
    if (args.query_keys or args.state) and args.mode != "workitems":
        raise UsageError("-q and --state select workitems: add --workitems")
    try:
        identifier = find_identifier(parse_keys(args.query_keys), ["SOPInstanceUID"],
                                     args.state, None)
    except DataSetInputError as exc:
        raise UsageError(str(exc)) from None
    titles = [local.ae_title]
    if args.aes is not None:
        prefix = local.ae_title if args.ae_prefix is None else args.ae_prefix
        width = max(4, len(str(args.aes)))
        if not prefix.strip() or "\\" in prefix or len(prefix) + width > 16:
            raise UsageError(f"--ae-prefix {prefix!r} + {width} digits is not a valid AE "
                             "title (at most 16 characters)")
        titles = [f"{prefix}{i:0{width}d}" for i in range(1, args.aes + 1)]
    elif args.ae_prefix:
        raise UsageError("--ae-prefix goes with --aes N")
    return local.host or "0.0.0.0", local.port, titles, identifier


def _error_of(exc: BaseException) -> Exception | None:
    """``exc`` if it is an aioups or OS error, or the first of a group of only such errors
    (task groups wrap them), else ``None``."""
    if isinstance(exc, BaseExceptionGroup):
        errors = [_error_of(inner) for inner in exc.exceptions]
        return errors[0] if all(errors) else None
    return exc if isinstance(exc, AioupsError | OSError) else None


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def _text(data_set: Dataset, keyword: str) -> str:
    value = data_set.get(keyword)
    return " ".join(str(value).split()) if value not in (None, "") else ""


def detail(event: aioups.ReceivedEvent) -> str:
    """What the event says in a few words: state, progress, SCP status, requester."""
    ds, kind = event.data_set, event.event_type_id
    if kind == 1:
        readiness = _text(ds, "InputReadinessState")
        text = _text(ds, "ProcedureStepState") + (f" ({readiness})" if readiness else "")
    elif kind == 2:
        text = f"cancel requested by {_text(ds, 'RequestingAE') or '?'}"
    elif kind == 3:
        items = ds.get("ProcedureStepProgressInformationSequence") or [Dataset()]
        progress = _text(items[0], "ProcedureStepProgress")
        text = " ".join(filter(None, (f"{progress}%" if progress else "",
                                      _text(items[0], "ProcedureStepProgressDescription"))))
    elif kind == 4:
        text = f"{_text(ds, 'SCPStatus')} ({_text(ds, 'SubscriptionListStatus')})"
    else:
        text = "assigned" if kind == 5 else ""
    reason = _text(ds, "ReasonForCancellation")
    return f"{text}: {reason}" if reason else text


class _Monitor:
    """The state of one ``aioups monitor`` run (options, counts, subscriptions held)."""

    def __init__(self, args: argparse.Namespace, titles: list[str], query: Dataset) -> None:
        self.args = args
        self.titles = titles
        self.query = query  # the C-FIND identifier of --workitems
        self.ae_title = parse_address(args.bind, need_host=False).ae_title
        self.receiver = aioups.EventReceiver(self.ae_title)
        self.called: dict[int, str] = {}  # event sequence -> the AE title the SCP called
        self.counts: Counter[str] = Counter()
        self.events = 0
        self.started = time.monotonic()
        self.subscribed: list[Target] = []
        self.subscribe_runs = 0  # successful (re-)subscriptions
        self.wake = anyio.Event()  # set: subscribe again now
        self.wake_reason = ""

    # -- output -------------------------------------------------------------------------------

    def note(self, text: str, record: dict[str, Any] | None = None) -> None:
        """A line on stderr; in --json mode ``record`` also goes to stdout as a JSON line."""
        print(f"aioups monitor: {text}", file=sys.stderr, flush=True)
        if self.args.json and record is not None:
            print(json.dumps({**record, "time": _now()}), flush=True)

    def counts_text(self) -> str:
        seconds = time.monotonic() - self.started
        kinds = ", ".join(f"{name} {n}" for name, n in sorted(self.counts.items()))
        return (f"{self.events} event(s) in {seconds:.1f} s" + (f" ({kinds})" if kinds else "")
                + f"; {len(self.subscribed)} subscription(s)")

    def show(self, event: aioups.ReceivedEvent) -> None:
        receiving = self.called.pop(event.sequence, None) or self.ae_title
        if self.args.json:
            print(json.dumps({
                "time": _now(), "event_type_id": event.event_type_id,
                "event_type": event.event_type, "sop_instance_uid": event.sop_instance_uid,
                "detail": detail(event), "state": event.state, "receiving_ae": receiving,
                "calling_ae_title": event.calling_ae_title,
                "data_set": to_json_dict(event.data_set)}))
        else:
            clock = datetime.now().strftime("%H:%M:%S.%f")[:-3]
            print(f"{clock} {event.event_type:<20} {event.sop_instance_uid}  {detail(event)}"
                  f"  -> {receiving} from {event.calling_ae_title}")

    # -- events -------------------------------------------------------------------------------

    async def _handle(self, request: aioups.ServiceRequest) -> NEventReportRSP:
        """The receiver's handler, noting which of our AE titles the SCP called."""
        negotiated = request.association.negotiated
        if negotiated is not None:  # handle() numbers this event self.receiver.received
            self.called[self.receiver.received] = negotiated.local_ae_title
        return await self.receiver.handle(request)

    async def listen(self, host: str, port: int, *,
                     task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        args = self.args
        config = self.receiver.server_config(
            ssl_context=ssl_context_from(args, server=True), timeouts=timeouts_from(args),
            socket_options=socket_options_from(args), max_pdu_length=args.max_pdulen_rcv,
            max_associations=max(1000, len(self.titles) + 100))
        handlers = {key: self._handle if key[1] is NEventReportRQ else handler
                    for key, handler in config.handlers.items()}
        server = aioups.Server(dataclasses.replace(config, handlers=handlers))
        await server.serve(host, port, task_status=task_status)

    def _take(self, event: aioups.ReceivedEvent) -> None:
        self.events += 1
        self.counts[event.event_type] += 1
        self.show(event)
        if event.event_type_id == 4:
            self._status_change(event)

    async def consume(self) -> None:
        """Print events until --count."""
        while self.args.count is None or self.events < self.args.count:
            event = self.receiver.receive_nowait()
            if event is None:
                sys.stdout.flush()  # once per burst, not per line
                event = await self.receiver.receive()
            self._take(event)

    def drain(self) -> None:
        """Print the events received (and so acknowledged) but not printed yet."""
        self.receiver.close()
        while (event := self.receiver.receive_nowait()) is not None and (
                self.args.count is None or self.events < self.args.count):
            self._take(event)
        sys.stdout.flush()

    def _status_change(self, event: aioups.ReceivedEvent) -> None:
        status = _text(event.data_set, "SCPStatus")
        lists = _text(event.data_set, "SubscriptionListStatus")
        if status != "RESTARTED":
            self.note(f"SCP status {status or '?'} from {event.calling_ae_title}")
        elif lists.startswith("WARM"):
            self.note(f"SCP {event.calling_ae_title} restarted ({lists}): subscriptions kept")
        elif not self.wake.is_set():  # COLD START (or COLD STARTED, or nothing): all lost
            self.wake_reason = f"SCP restarted ({lists or 'no list status'})"
            self.wake.set()

    # -- subscribing --------------------------------------------------------------------------

    async def _targets(self, client: aioups.UPSClient, send: anyio.abc.ObjectSendStream[Target],
                       targets: list[Target] | None) -> None:
        async with send:
            if targets is not None or self.args.mode != "workitems":
                for target in [(t, None) for t in self.titles] if targets is None else targets:
                    await send.send(target)
                return
            async with client.find(self.query) as results:
                async for match in results:
                    uid = (match.data_set or Dataset()).get("SOPInstanceUID")
                    if uid:
                        await send.send((self.ae_title, str(uid)))

    async def _each(self, client: aioups.UPSClient,
                    call: Callable[[Target], Awaitable[aioups.DIMSEResponse]],
                    targets: list[Target] | None = None,
                    ) -> tuple[list[Target], list[aioups.DIMSEResponse]]:
        """``call`` for each of ``targets`` (default: what to subscribe, as :meth:`_targets`
        finds it), as many at once as the window allows; (targets that succeeded, failure
        responses)."""
        done: list[Target] = []
        failures: list[aioups.DIMSEResponse] = []
        send, receive = anyio.create_memory_object_stream[Target](math.inf)
        negotiated = client.association.negotiated
        window = negotiated.max_operations_invoked if negotiated is not None else 1

        async def work(stream: anyio.abc.ObjectReceiveStream[Target]) -> None:
            async with stream:
                async for target in stream:
                    response = await call(target)
                    if response.category is aioups.StatusCategory.FAILURE:
                        failures.append(response)
                    else:
                        done.append(target)

        async with anyio.create_task_group() as tg, receive:
            for _ in range(min(window or 64, 64)):
                tg.start_soon(work, receive.clone())
            await self._targets(client, send, targets)
        return done, failures

    async def subscribe_all(self, client: aioups.UPSClient, reason: str) -> None:
        """(Re-)make every subscription on ``client``'s association and report it."""
        self.wake = anyio.Event()
        started = time.monotonic()
        done, failures = await self._each(client, lambda target: client.subscribe(
            target[1], receiving_ae=target[0], deletion_lock=self.args.lock, check=False))
        if failures and not done and not self.subscribe_runs:
            first = failures[0]
            raise DIMSEFailure(first.status, first.error_comment, response=first)
        self.subscribed = done
        seconds = time.monotonic() - started
        failed = Counter(f"{r.status:04X}" for r in failures)
        kind = "workitem" if self.args.mode == "workitems" else "global"
        rate = f" ({len(done) / max(seconds, 1e-6):.0f}/s)" if len(done) > 1 else ""
        text = f"{len(done)} {kind} subscription(s) in {seconds:.2f} s{rate}" + "".join(
            f"; {n} failed: {status_text(int(code, 16))}" for code, n in sorted(failed.items()))
        again = self.subscribe_runs > 0
        self.subscribe_runs += 1
        self.note(f"re-subscribed ({reason}): {text}" if again else f"subscribed: {text}",
                  {"monitor": "resubscribed" if again else "subscribed", "reason": reason,
                   "subscriptions": len(done), "failed": dict(failed),
                   "seconds": round(seconds, 3)})

    # -- staying subscribed -------------------------------------------------------------------

    async def _pause(self, client: aioups.UPSClient) -> None:
        """Until the check interval passes, a re-subscription is asked for, or the association
        closes (then the next C-ECHO fails at once)."""
        async with anyio.create_task_group() as tg:
            async def closed() -> None:
                await client.association.wait_closed()
                tg.cancel_scope.cancel()

            tg.start_soon(closed)
            with anyio.move_on_after(self.args.check_interval):
                await self.wake.wait()
            tg.cancel_scope.cancel()

    async def _session(self, reason: str) -> None:
        async with connect(self.args, events=self.receiver) as client:
            await self.subscribe_all(client, reason)
            while True:
                await self._pause(client)
                if self.wake.is_set():
                    await self.subscribe_all(client, self.wake_reason)
                else:
                    await client.echo(timeout=max(5.0, self.args.check_interval))

    async def supervise(self) -> None:
        """Stay subscribed: reconnect with backoff while the SCP is unreachable."""
        failures, down_since = 0, 0.0
        remote = self.args.connect
        while True:
            reason = "start" if not self.subscribe_runs else \
                f"SCP {remote} back after {time.monotonic() - down_since:.1f} s"
            runs = self.subscribe_runs
            try:
                await self._session(reason)
            except Exception as exc:
                error = _error_of(exc)
                if error is None or (not self.subscribe_runs
                                     and isinstance(error, FATAL_AT_START)):
                    raise
                if runs != self.subscribe_runs:  # it was up: a new outage starts
                    failures = 0
                if failures == 0:
                    down_since = time.monotonic()
                failures += 1
                delay = min(min(1.0, self.args.check_interval) * 2 ** (failures - 1),
                            MAX_BACKOFF)
                problem = f"{type(error).__name__}: {error}"
                self.note(f"SCP {remote} unreachable ({problem}); retrying in {delay:.1f} s",
                          {"monitor": "unreachable", "error": problem, "retry_in": delay})
                with anyio.move_on_after(delay):  # an SCP Status Change: it is back now
                    await self.wake.wait()
                self.wake = anyio.Event()

    async def report_counts(self) -> None:
        while True:
            await anyio.sleep(self.args.stats_interval)
            self.note(self.counts_text())

    async def unsubscribe(self) -> None:
        """Remove the subscriptions made (``--unsubscribe``), giving up after 30 s."""
        done: list[Target] = []
        try:
            with anyio.fail_after(30):
                async with connect(self.args) as client:
                    done, _ = await self._each(client, lambda t: client.unsubscribe(
                        t[1], receiving_ae=t[0], check=False), self.subscribed)
        except Exception as exc:
            if (error := _error_of(exc)) is None:  # TimeoutError is an OSError
                raise
            self.note(f"could not unsubscribe: {type(error).__name__}: {error}")
        self.note(f"unsubscribed {len(done)} of {len(self.subscribed)} subscription(s)",
                  {"monitor": "unsubscribed", "subscriptions": len(done),
                   "failed": len(self.subscribed) - len(done)})


async def _until_signal(scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            scope.cancel()
            return


async def run(args: argparse.Namespace) -> int:
    host, port, titles, identifier = _check(args)
    monitor = _Monitor(args, titles, identifier)
    raise_open_files_limit()  # one descriptor per association
    with anyio.CancelScope() as stop:
        async with anyio.create_task_group() as tg:
            if sys.platform != "win32" and threading.current_thread() is threading.main_thread():
                tg.start_soon(_until_signal, stop)
            bound = await tg.start(monitor.listen, host, port)
            print(f"{monitor.ae_title} receiving on {host}:{bound}", file=sys.stderr, flush=True)
            tg.start_soon(monitor.supervise)
            if args.stats_interval:
                tg.start_soon(monitor.report_counts)
            with anyio.move_on_after(args.duration):
                await monitor.consume()
            tg.cancel_scope.cancel()
    monitor.drain()
    if args.unsubscribe and monitor.subscribed:
        await monitor.unsubscribe()
    again = max(0, monitor.subscribe_runs - 1)
    monitor.note(f"summary: {monitor.counts_text()}; re-subscribed {again} time(s)", {
        "monitor": "summary", "events": monitor.events, "counts": dict(monitor.counts),
        "subscriptions": len(monitor.subscribed), "resubscriptions": again,
        "seconds": round(time.monotonic() - monitor.started, 3)})
    return EXIT_OK
