"""``aioups monitor``: many subscriptions, one listener, every event printed, SCP restarts survived.

Most tests run the monitor in-process (``aioups.cli.main``, on the test's ``--backend``) against
an in-process :class:`aioups.UPSService` on its own event loop in a background thread (an anyio
blocking portal).  Its AE directory maps the monitor's AE titles to a port picked beforehand,
and a driver task on the SCP's loop waits for the subscriptions and then changes workitems.
The restart tests run ``python -m aioups serve`` and the monitor as subprocesses, kill the SCP
with SIGKILL and start it again on the same port.

Every wait is bounded; every process started here is killed by its PID in a ``finally``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream
from ups.factories import create_request, performed_sequence

import aioups
from aioups.cli import main
from aioups.dimse import Dataset, encode_data_set, generate_uid
from aioups.net import StoredWorkitem
from aioups.ups import create_workitem

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
SCP = "UPSSCP"
BACKENDS = ("asyncio", "trio")
STATUS_CHANGE_UID = aioups.UPS_GLOBAL_SUBSCRIPTION_INSTANCE
Driver = Callable[[aioups.UPSService, int], Awaitable[Any]]


# --- helpers ---------------------------------------------------------------------------------


def free_port() -> int:
    """A port nobody listens on now (the monitor's: the SCP's AE directory needs it first)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def ups_scp(titles: list[str], monitor_port: int, *, store: aioups.UPSStore | None = None,
            backend: str = "asyncio",
            ) -> Iterator[tuple[anyio.from_thread.BlockingPortal, aioups.UPSService, int]]:
    """A UPS SCP on its own loop in a thread; ``titles`` reach ``monitor_port``."""
    address = aioups.AEAddress(host=HOST, port=monitor_port)
    service = aioups.UPSService(store or aioups.MemoryStore(), ae_title=SCP,
                                directory=dict.fromkeys(titles, address))
    service.shutdown_grace = 0.1  # GOING DOWN to a monitor that is gone: do not wait long
    with anyio.from_thread.start_blocking_portal(backend) as portal:
        future, port = portal.start_task(service.serve, HOST, 0)
        try:
            yield portal, service, int(port)
        finally:
            future.cancel()


def run_monitor(portal: anyio.from_thread.BlockingPortal, service: aioups.UPSService,
                scp_port: int, driver: Driver, backend: str, *argv: str) -> tuple[int, Any]:
    """``aioups --backend B monitor -c ... argv`` in this thread while ``driver`` runs on the
    SCP's loop; (exit code, what the driver returned)."""
    async def bounded() -> Any:
        with anyio.fail_after(30):
            return await driver(service, scp_port)

    future: Future[Any] = portal.start_task_soon(bounded)
    try:
        code = main(["--backend", backend, "monitor", "-c", f"{SCP}@{HOST}:{scp_port}", *argv])
        return code, future.result(timeout=30)
    finally:
        future.cancel()


async def until(condition: Callable[[], bool]) -> None:
    """Wait for something another thread's loop does (bounded by the caller): it cannot set
    an event of this loop, so look every 10 ms."""
    while not condition():  # noqa: ASYNC110
        await anyio.sleep(0.01)


def client(port: int) -> Any:
    return aioups.UPSClient.connect(HOST, port, called_ae_title=SCP, calling_ae_title="DRIVER",
                                    timeout=10.0, max_operations_invoked=8)


def progress(percent: str, description: str) -> Dataset:
    info = Dataset()
    info.ProcedureStepProgress = percent
    info.ProcedureStepProgressDescription = description
    modification = Dataset()
    modification.ProcedureStepProgressInformationSequence = [info]
    return modification


async def workflow(port: int) -> list[str]:
    """8 events for every global subscriber: A is created, claimed, reports 50% and 100%, is
    completed (5); B is created, claimed and asked to cancel (3).  Returns [A, B]."""
    async with client(port) as scu:
        a = (await scu.create(create_request())).affected_sop_instance_uid
        tuid = await scu.claim(a)
        await scu.set(a, progress("50", "halfway"), tuid)
        done = progress("100", "done")
        done.UnifiedProcedureStepPerformedProcedureSequence = [performed_sequence()]
        await scu.set(a, done, tuid)
        await scu.complete(a, tuid)
        b = (await scu.create(create_request())).affected_sop_instance_uid
        await scu.claim(b)
        await scu.request_cancel(b, reason="no longer needed")
    return [a, b]


def subscribed(service: aioups.UPSService, *titles: str) -> Callable[[], bool]:
    return lambda: set(titles) <= service.subscriptions.subscribers()


def json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def summary_counts(err: str) -> str:
    match = re.search(r"^aioups monitor: summary: (\d+ event\(s\)) in [\d.]+ s \((.*?)\)", err,
                      re.MULTILINE)
    assert match is not None, err
    return f"{match.group(1)}: {match.group(2)}"


# --- global subscription -----------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_global_prints_every_event_with_counts(backend: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()

    async def driver(service: aioups.UPSService, scp_port: int) -> list[str]:
        await until(subscribed(service, "MON"))
        return await workflow(scp_port)

    with ups_scp(["MON"], port) as (portal, service, scp_port):
        code, (a, b) = run_monitor(portal, service, scp_port, driver, backend,
                                   "-b", f"MON@{HOST}:{port}", "--count", "8",
                                   "--duration", "30", "--unsubscribe")
        assert service.subscriptions.subscribers() == frozenset()  # --unsubscribe
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    expected = [("UPS State Report", a, "SCHEDULED (READY)"),
                ("UPS State Report", a, "IN PROGRESS (READY)"),
                ("UPS Progress Report", a, "50% halfway"),
                ("UPS Progress Report", a, "100% done"),
                ("UPS State Report", a, "COMPLETED (READY)"),
                ("UPS State Report", b, "SCHEDULED (READY)"),
                ("UPS State Report", b, "IN PROGRESS (READY)"),
                ("UPS Cancel Requested", b, "cancel requested by DRIVER: no longer needed")]
    assert len(lines) == len(expected), out
    for line, (kind, uid, what) in zip(lines, expected, strict=True):
        assert re.fullmatch(rf"\d\d:\d\d:\d\d\.\d{{3}} {kind} +{uid}  {re.escape(what)}"
                            rf"  -> MON from {SCP}", line), line
    assert f"MON receiving on {HOST}:{port}\n" in err
    assert "aioups monitor: subscribed: 1 global subscription(s) in" in err
    assert summary_counts(err) == ("8 event(s): UPS Cancel Requested 1, UPS Progress Report 2, "
                                   "UPS State Report 5")
    assert "unsubscribed 1 of 1 subscription(s)" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("backend", BACKENDS)
def test_global_json_lines_parse(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()

    async def driver(service: aioups.UPSService, scp_port: int) -> list[str]:
        await until(subscribed(service, "MON"))
        return await workflow(scp_port)

    with ups_scp(["MON"], port) as (portal, service, scp_port):
        code, (a, b) = run_monitor(portal, service, scp_port, driver, backend,
                                   "-b", f"MON@{HOST}:{port}", "--count", "8", "--json",
                                   "--duration", "30")
    out, err = capsys.readouterr()
    assert code == 0, err
    records = json_lines(out)
    notes = [r for r in records if "monitor" in r]
    events = [r for r in records if "monitor" not in r]
    assert [n["monitor"] for n in notes] == ["subscribed", "summary"]
    assert notes[0]["subscriptions"] == 1 and notes[0]["failed"] == {}
    assert notes[1]["counts"] == {"UPS State Report": 5, "UPS Progress Report": 2,
                                  "UPS Cancel Requested": 1}
    assert notes[1]["events"] == 8 and notes[1]["resubscriptions"] == 0
    assert [(e["event_type_id"], e["sop_instance_uid"]) for e in events] == [
        (1, a), (1, a), (3, a), (3, a), (1, a), (1, b), (1, b), (2, b)]
    assert [e["state"] for e in events if e["event_type_id"] == 1] == [
        "SCHEDULED", "IN PROGRESS", "COMPLETED", "SCHEDULED", "IN PROGRESS"]
    for event in events:
        assert (event["receiving_ae"], event["calling_ae_title"]) == ("MON", SCP)
        datetime.fromisoformat(event["time"])
    assert events[2]["data_set"]["00741002"]["Value"][0]["00741004"]["Value"] == [50]
    assert events[-1]["data_set"]["00741236"]["Value"] == ["DRIVER"]  # Requesting AE


# --- many workitems ----------------------------------------------------------------------------


async def populate(store: aioups.UPSStore, count: int) -> None:
    """``count`` SCHEDULED workitems written straight into the store (faster than N-CREATE)."""
    request, now = create_request(), datetime.now()
    for _ in range(count):
        uid = generate_uid()
        workitem = create_workitem(uid, request, now=now).workitem
        assert workitem is not None
        await store.put(StoredWorkitem(
            sop_instance_uid=uid, state="SCHEDULED", transaction_uid=None,
            data_set=encode_data_set(workitem.data_set, aioups.EXPLICIT_VR_LITTLE_ENDIAN)))


@pytest.mark.parametrize(("backend", "workitems"), [("asyncio", 1000), ("trio", 200)])
def test_workitems_subscribes_to_each(backend: str, workitems: int,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """C-FIND, then one subscription per workitem (window 16): each gets its initial State
    Report, then three claims get theirs.  Most of the time goes to the SCP, whose cost per
    subscription grows with the subscriptions it holds (see the xfail below)."""
    port, store = free_port(), aioups.MemoryStore()
    anyio.run(populate, store, workitems)

    async def driver(service: aioups.UPSService, scp_port: int) -> list[str]:
        def all_subscribed() -> bool:
            return service.subscriptions.statistics().stored_instance_entries == workitems

        await until(all_subscribed)
        uids = sorted(service.workitems)[:3]
        async with client(scp_port) as scu:
            for uid in uids:
                await scu.claim(uid)
        return uids

    with ups_scp(["MON"], port, store=store) as (portal, service, scp_port):
        # aioups's SCP drops the oldest queued event beyond 1000 per Receiving AE: keep them all
        service.delivery.queue_size = 10 * workitems
        started = time.perf_counter()
        code, claimed = run_monitor(portal, service, scp_port, driver, backend,
                                    "-b", f"MON@{HOST}:{port}", "--workitems", "--json",
                                    "--count", str(workitems + 3), "--duration", "30")
        elapsed = time.perf_counter() - started
        assert all(service.subscriptions.recipients(uid) == {"MON"}
                   for uid in service.workitems)
    out, err = capsys.readouterr()
    assert code == 0, err
    records = json_lines(out)
    made = next(r for r in records if r.get("monitor") == "subscribed")
    assert (made["subscriptions"], made["failed"]) == (workitems, {})
    events = [r for r in records if "monitor" not in r]
    assert len(events) == workitems + 3
    assert sum(e["state"] == "SCHEDULED" for e in events) == workitems
    in_progress = [e["sop_instance_uid"] for e in events if e["state"] == "IN PROGRESS"]
    assert sorted(in_progress) == claimed
    print(f"{workitems} subscriptions in {made['seconds']:.2f} s "
          f"({workitems / made['seconds']:.0f}/s); whole run {elapsed:.2f} s")
    assert made["seconds"] < 20, made


class CountingStore:
    """A MemoryStore that counts the subscription records it is asked to write."""

    def __init__(self) -> None:
        self.inner = aioups.MemoryStore()
        self.written = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def update_subscriptions(self, receiving_ae: str, put: Any, remove: Any) -> None:
        put = list(put)
        self.written += len(put)
        await self.inner.update_subscriptions(receiving_ae, put, remove)


def test_scp_persists_one_workitem_subscription_in_constant_work() -> None:
    """What ``--workitems`` meets in aioups's own SCP: 300 subscriptions of one AE should write
    about 300 records, not 300 * 301 / 2 (1000 take 2-3 s, 2000 over 15 s in this process)."""
    store = CountingStore()
    anyio.run(populate, store.inner, 300)
    with ups_scp(["MON"], free_port(), store=store) as (portal, service, scp_port):
        async def subscribe_all() -> None:
            async with client(scp_port) as scu:
                for uid in list(service.workitems):
                    await scu.subscribe(uid, receiving_ae="MON")

        portal.call(subscribe_all)
    assert store.written <= 2 * 300, store.written


# --- many Receiving AEs ------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_aes_50_each_gets_the_event(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    titles = [f"AE{i:04d}" for i in range(1, 51)]

    async def driver(service: aioups.UPSService, scp_port: int) -> str:
        await until(subscribed(service, *titles))
        async with client(scp_port) as scu:
            return str((await scu.create(create_request())).affected_sop_instance_uid)

    with ups_scp(titles, port) as (portal, service, scp_port):
        code, uid = run_monitor(portal, service, scp_port, driver, backend,
                                "-b", f"MON@{HOST}:{port}", "--aes", "50", "--ae-prefix", "AE",
                                "--json", "--count", "50", "--duration", "30")
    out, err = capsys.readouterr()
    assert code == 0, err
    events = [r for r in json_lines(out) if "monitor" not in r]
    assert sorted(e["receiving_ae"] for e in events) == titles
    assert {(e["sop_instance_uid"], e["state"]) for e in events} == {(uid, "SCHEDULED")}
    assert "subscribed: 50 global subscription(s) in" in err


# --- SCP Status Change -------------------------------------------------------------------------


def status_change(status: str, lists: str) -> Dataset:
    info = Dataset()
    info.SCPStatus = status
    info.SubscriptionListStatus = lists
    info.UnifiedProcedureStepListStatus = lists
    return info


def test_status_change_cold_resubscribes_warm_keeps(capsys: pytest.CaptureFixture[str]) -> None:
    """Reports sent straight to the monitor's listener: COLD START (and the COLD STARTED
    spelling) make it subscribe again, WARM START and GOING DOWN do not."""
    port = free_port()
    actions: list[str] = []

    async def driver(service: aioups.UPSService, scp_port: int) -> None:
        real = service.subscriptions.subscribe

        def counting(*args: Any, **kwargs: Any) -> Any:
            actions.append(args[0])
            return real(*args, **kwargs)

        service.subscriptions.subscribe = counting  # type: ignore[method-assign]
        await until(lambda: len(actions) == 1)
        async with aioups.open_association(
                HOST, port, called_ae_title="MON", calling_ae_title=SCP,
                contexts=(aioups.PresentationContextProposal(
                    abstract_syntax=aioups.UPS_EVENT, scu_role=False, scp_role=True),),
        ) as assoc:
            context = assoc.context_for(aioups.UPS_EVENT, as_scp=True).context_id
            for status, lists, subscribed_by_then in [
                    ("RESTARTED", "COLD START", 2), ("RESTARTED", "WARM START", 2),
                    ("RESTARTED", "COLD STARTED", 3), ("GOING DOWN", "WARM START", 3)]:
                await aioups.n_event_report(assoc, aioups.UPS_PUSH, STATUS_CHANGE_UID, 4,
                                            status_change(status, lists), context_id=context)
                await until(lambda: len(actions) >= subscribed_by_then)  # noqa: B023

    with ups_scp(["MON"], port) as (portal, service, scp_port):
        code, _ = run_monitor(portal, service, scp_port, driver, "asyncio",
                              "-b", f"MON@{HOST}:{port}", "--count", "4", "--duration", "30")
    out, err = capsys.readouterr()
    assert code == 0, err
    assert actions == ["MON", "MON", "MON"]
    assert re.findall(r"re-subscribed \((.*?)\): ", err) == [
        "SCP restarted (COLD START)", "SCP restarted (COLD STARTED)"]
    assert f"SCP {SCP} restarted (WARM START): subscriptions kept" in err
    assert f"SCP status GOING DOWN from {SCP}" in err
    assert "RESTARTED (COLD STARTED)  -> MON from UPSSCP" in out


# --- restarts of a real SCP process ------------------------------------------------------------


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{path}" if path else str(REPO)}


@dataclass
class Lines:
    """The lines a process writes to one pipe, read by a task as they come."""

    seen: list[str] = field(default_factory=list)
    changed: anyio.Event = field(default_factory=anyio.Event)

    async def read(self, stream: anyio.abc.ByteReceiveStream) -> None:
        buffered = BufferedByteReceiveStream(stream)
        with contextlib.suppress(anyio.EndOfStream, anyio.IncompleteRead,
                                 anyio.BrokenResourceError, anyio.ClosedResourceError):
            while True:
                line = await buffered.receive_until(b"\n", 1 << 20)
                self.seen.append(line.decode())
                self.changed.set()
                self.changed = anyio.Event()

    async def wait_for(self, pattern: str, start: int = 0, timeout: float = 15) -> int:
        """The index of the first line from ``start`` on that matches ``pattern``."""
        with anyio.fail_after(timeout):
            while True:
                for index in range(start, len(self.seen)):
                    if re.search(pattern, self.seen[index]):
                        return index
                await self.changed.wait()


@asynccontextmanager
async def process(argv: list[str], cwd: Path) -> AsyncIterator[tuple[Process, Lines, Lines]]:
    """Start ``argv``; its stdout and stderr lines; SIGKILL (by PID) when the block ends."""
    proc = await anyio.open_process(argv, stdin=subprocess.DEVNULL, cwd=cwd, env=_env())
    out, err = Lines(), Lines()
    try:
        async with anyio.create_task_group() as tg:
            assert proc.stdout is not None and proc.stderr is not None
            tg.start_soon(out.read, proc.stdout)
            tg.start_soon(err.read, proc.stderr)
            yield proc, out, err
            tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)  # only the process started here
            with anyio.move_on_after(10):
                await proc.aclose()


def serve_argv(backend: str, port: int, db: str, monitor_port: int) -> list[str]:
    return [sys.executable, "-m", "aioups", "--backend", backend, "serve", "--aet", SCP,
            "--host", HOST, "--port", str(port), "--db", db, "--ae",
            f"MON={HOST}:{monitor_port}"]


async def create_one(port: int) -> str:
    async with client(port) as scu:
        return str((await scu.create(create_request())).affected_sop_instance_uid)


@pytest.mark.anyio
@pytest.mark.parametrize("restart", ["cold", "warm"])
async def test_survives_scp_restart(restart: str, anyio_backend: str, tmp_path: Path) -> None:
    """SIGKILL the SCP, start it again on the same port: with ``--db :memory:`` (cold: it
    forgot the subscription, the monitor subscribes again when it reaches the SCP) or with the
    same SQLite file (warm: it says so in a RESTARTED event).  Events keep coming; SIGTERM then
    ends the monitor with exit code 0 and a summary."""
    if restart == "warm" and anyio_backend == "trio":
        pytest.skip("the warm restart runs on asyncio only (the cold one covers trio)")
    scp_port, monitor_port = free_port(), free_port()
    db = ":memory:" if restart == "cold" else str(tmp_path / "ups.sqlite")
    serve = serve_argv(anyio_backend, scp_port, db, monitor_port)
    monitor = [sys.executable, "-m", "aioups", "--backend", anyio_backend, "monitor", "--json",
               "-c", f"{SCP}@{HOST}:{scp_port}", "-b", f"MON@{HOST}:{monitor_port}",
               "--check-interval", "0.2", "--stats-interval", "0.5", "--duration", "40"]
    with anyio.fail_after(45):
        async with process(serve, tmp_path) as (scp, scp_out, _):
            await scp_out.wait_for("listening on")
            async with process(monitor, tmp_path) as (mon, out, err):
                await err.wait_for(r"^aioups monitor: subscribed: 1 global subscription")
                first = await create_one(scp_port)
                await out.wait_for(first)
                os.kill(scp.pid, signal.SIGKILL)
                await err.wait_for(r"unreachable \((ConnectionLost|AssociationAborted)")
                async with process(serve, tmp_path) as (_, again_out, _):
                    await again_out.wait_for("listening on")
                    if restart == "cold":
                        await out.wait_for(r'"monitor": "resubscribed"')
                    else:
                        await out.wait_for(r'"detail": "RESTARTED \(WARM START\)"')
                        await err.wait_for(r"restarted \(WARM START\): subscriptions kept")
                    second = await create_one(scp_port)
                    await out.wait_for(second)
                    os.kill(mon.pid, signal.SIGTERM)
                    assert await mon.wait() == 0, "\n".join(err.seen)
    records = [json.loads(line) for line in out.seen]
    states = [(r["sop_instance_uid"], r["state"]) for r in records if r.get("event_type_id") == 1]
    assert states == [(first, "SCHEDULED"), (second, "SCHEDULED")]
    assert any(r.get("monitor") == "unreachable" for r in records)
    summary = records[-1]
    assert summary["monitor"] == "summary", records
    assert summary["counts"]["UPS State Report"] == 2
    if restart == "cold":
        assert summary["resubscriptions"] >= 1
    assert any(re.match(r"aioups monitor: \d+ event\(s\) in", line) for line in err.seen)
    assert not any("Traceback" in line for line in err.seen), err.seen


# --- usage and configuration errors ------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["-b", "MON"],
    ["-b", "MON@127.0.0.1"],
    ["-b", "MON:0", "--count", "0"],
    ["-b", "MON:0", "--duration", "-1"],
    ["-b", "MON:0", "--check-interval", "0"],
    ["-b", "MON:0", "--stats-interval", "-1"],
    ["-b", "MON:0", "-q", "PatientID=1"],
    ["-b", "MON:0", "--state", "SCHEDULED", "--aes", "2"],
    ["-b", "MON:0", "--aes", "0"],
    ["-b", "MON:0", "--ae-prefix", "X"],
    ["-b", "MON:0", "--aes", "5", "--ae-prefix", "THIRTEEN_CHARS"],
    ["-b", "MON:0", "--workitems", "-q", "NoSuchKeyword=1"],
], ids=" ".join)
def test_usage_error_exits_2_with_one_line(args: list[str],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["monitor", "-c", f"{SCP}@{HOST}:{free_port()}", "--duration", "5", *args])
    out, err = capsys.readouterr()
    assert (code, out) == (2, ""), err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "receiving on" not in line]
    assert len(lines) == 1 and lines[0].startswith("aioups monitor: "), err


@pytest.mark.parametrize("args", [["--count"], ["--aes", "many"], ["--global", "--workitems"]])
def test_argparse_error_exits_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["monitor", "-c", f"{SCP}@{HOST}:104", "-b", "MON:0", *args])
    assert info.value.code == 2
    assert capsys.readouterr().err.startswith("usage: aioups monitor")


def test_receiving_ae_unknown_to_the_scp_exits_5(capsys: pytest.CaptureFixture[str]) -> None:
    """A subscription the SCP refuses at start (C308: not in its AE directory) is a
    configuration error, not an outage: one line, exit 5."""
    with ups_scp(["SOMEONE_ELSE"], free_port()) as (_, _, scp_port):
        code = main(["monitor", "-c", f"{SCP}@{HOST}:{scp_port}", "-b", "MON@127.0.0.1:0",
                     "--duration", "10"])
    out, err = capsys.readouterr()
    assert code == 5, err
    assert out == ""
    lines = err.splitlines()
    assert re.fullmatch(r"MON receiving on 127\.0\.0\.1:\d+", lines[0]), err
    assert len(lines) == 2 and lines[1].startswith("aioups monitor: DIMSEFailure"), err
    assert "C308" in lines[1] or "0xC308" in lines[1], err
