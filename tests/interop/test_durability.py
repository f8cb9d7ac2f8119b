"""``aioups serve`` survives SIGKILL: every acknowledged change is there after a restart.

The SCP runs as a real subprocess (``python -m aioups serve`` on a SQLite file, on the same
event loop as the test's client side).  Over the UPS client the test creates, claims, updates,
completes and cancels workitems and subscribes two Receiving AEs (MONITOR: globally without
lock plus a few deletion locks; WATCHER: a few workitems), counting a change only once its
response (0000 or a warning) came back.  The process is then killed with SIGKILL right after
the last acknowledgement and started again on the same file; the test checks workitems (N-GET,
C-FIND), the Transaction UID locks, the subscriptions (SCP Status Change RESTARTED / WARM
START, later event reports) and the deletion locks (purging).  A second test kills the SCP
while requests are in flight, a third checks the orderly SIGTERM shutdown (GOING DOWN).

Every wait is bounded; every process started here is killed by its PID in a ``finally``.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import signal
import subprocess
import sys
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream
from ups.factories import create_request, performed_sequence

import aioups
from aioups.dimse import Dataset, generate_uid
from aioups.errors import AioupsError, DIMSEFailure

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
SCP_AET = "UPSSCP"
STARTUP_TIMEOUT = 20.0
LISTENING = re.compile(rb"UPSSCP listening on 127\.0\.0\.1:(\d+) \(UPS SCP, store (.*), "
                       rb"(\d+) workitems\)\n")
OTHER_TUID = "1.2.826.0.1.3680043.2.1125.4242"

#: the workload: 6 groups of 5 workitems; even indices carry our UID, odd ones get the SCP's
GROUPS = ("scheduled", "claimed", "progress", "completed", "canceled", "cancel_requested")
PER_GROUP = 5
WORKERS = 6  # concurrent associations during the workload
FINAL = ("COMPLETED", "CANCELED")


# --- the SCP process -------------------------------------------------------------------------


def _env() -> dict[str, str]:
    """The subprocess imports this checkout's aioups, whatever its working directory."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{path}" if path else str(REPO)}


@dataclass
class ServeProcess:
    """A running ``aioups serve``."""

    process: Process
    port: int
    workitems: int
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


@asynccontextmanager
async def serve_process(tmp_path: Path, backend: str, name: str,
                        *args: str) -> AsyncIterator[ServeProcess]:
    """``python -m aioups --backend B serve --aet UPSSCP --host 127.0.0.1 --port 0 args``.

    Yields once the process printed its ``listening`` line; kills it (SIGKILL, by PID) and
    reaps it on the way out unless it has exited already.
    """
    argv = [sys.executable, "-m", "aioups", "--backend", backend, "serve", "--aet", SCP_AET,
            "--host", HOST, "--port", "0", *args]
    stderr_path = tmp_path / f"{name}.stderr"
    with stderr_path.open("wb") as stderr:  # a file: a chatty process never blocks on a pipe
        process = await anyio.open_process(argv, stdin=subprocess.DEVNULL, stderr=stderr,
                                           cwd=tmp_path, env=_env())
    try:
        assert process.stdout is not None
        try:
            with anyio.fail_after(STARTUP_TIMEOUT):
                line = await BufferedByteReceiveStream(process.stdout).receive_until(b"\n", 4096)
        except (anyio.IncompleteRead, anyio.EndOfStream, TimeoutError):
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await process.wait()
            pytest.fail(f"{name}: no listening line; exit {process.returncode}\n"
                        f"{stderr_path.read_text(errors='replace')}")
        match = LISTENING.fullmatch(line + b"\n")
        assert match is not None, line
        yield ServeProcess(process, int(match.group(1)), int(match.group(3)), stderr_path)
    finally:
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL)  # only the process started here
            with anyio.move_on_after(10):
                await process.aclose()


async def wait_exit(server: ServeProcess, timeout: float = 15.0) -> int:
    with anyio.fail_after(timeout):
        return await server.process.wait()


def ae_args(receivers: dict[str, aioups.EventReceiver]) -> list[str]:
    return [arg for title, rx in receivers.items()
            for arg in ("--ae", f"{title}={HOST}:{rx.port}")]


@asynccontextmanager
async def event_receivers(*titles: str) -> AsyncIterator[dict[str, aioups.EventReceiver]]:
    """One listening EventReceiver (UPS Event SCU as acceptor) per AE title."""
    receivers = {title: aioups.EventReceiver(title) for title in titles}
    try:
        async with anyio.create_task_group() as tg:
            for rx in receivers.values():
                await tg.start(rx.serve, HOST, 0)
            yield receivers
            tg.cancel_scope.cancel()
    finally:
        for rx in receivers.values():
            rx.close()


async def next_event(rx: aioups.EventReceiver, timeout: float = 10.0) -> aioups.ReceivedEvent:
    with anyio.fail_after(timeout):
        return await rx.receive()


def connect(port: int, calling_ae_title: str = "DURABLE") -> Any:
    return aioups.UPSClient.connect(HOST, port, called_ae_title=SCP_AET,
                                    calling_ae_title=calling_ae_title, timeout=10.0)


async def expect_status(status: int, call: Awaitable[aioups.DIMSEResponse]) -> None:
    """The request fails with ``status`` (a failure) or answers it (a warning)."""
    try:
        response = await call
    except DIMSEFailure as failure:
        assert failure.status == status, f"0x{failure.status:04X} instead of 0x{status:04X}"
        return
    assert response.status == status, f"{response.status!r} instead of 0x{status:04X}"


async def find_all(client: aioups.UPSClient, **keys: str) -> dict[str, str]:
    """C-FIND: SOP Instance UID -> Procedure Step State of every match."""
    identifier = Dataset()
    identifier.SOPInstanceUID = ""
    identifier.ProcedureStepState = keys.pop("ProcedureStepState", "")
    for keyword, value in keys.items():
        setattr(identifier, keyword, value)
    async with client.find(identifier) as results:
        return {str(m.data_set.SOPInstanceUID): str(m.data_set.ProcedureStepState)
                async for m in results if m.data_set is not None}


# --- the workload ------------------------------------------------------------------------------


@dataclass
class Expected:
    """What the SCP acknowledged for one workitem."""

    index: int
    uid: str
    label: str
    state: str = "SCHEDULED"
    transaction_uid: str | None = None
    comments: str = ""
    progress: float | None = None
    reason: str | None = None
    locked: bool = False    # MONITOR holds a deletion lock
    watched: bool = False   # WATCHER is subscribed

    @property
    def group(self) -> str:
        return GROUPS[self.index // PER_GROUP]

    @property
    def k(self) -> int:
        return self.index % PER_GROUP


def progress_set(percent: float, text: str) -> Dataset:
    item = Dataset()
    item.ProcedureStepProgress = percent
    item.ProcedureStepProgressDescription = text
    modifications = Dataset()
    modifications.ProcedureStepProgressInformationSequence = [item]
    return modifications


def performed_set() -> Dataset:
    modifications = Dataset()
    modifications.UnifiedProcedureStepPerformedProcedureSequence = [performed_sequence()]
    return modifications


async def _scheduled(client: aioups.UPSClient, exp: Expected) -> None:
    if exp.k % 2 == 0:
        modifications = Dataset()
        modifications.CommentsOnTheScheduledProcedureStep = f"note {exp.index}"
        await client.set(exp.uid, modifications)  # SCHEDULED: no Transaction UID (UPS-31)
        exp.comments = f"note {exp.index}"


async def _claim(client: aioups.UPSClient, exp: Expected) -> str:
    tuid = await client.claim(exp.uid)
    exp.state, exp.transaction_uid = "IN PROGRESS", tuid
    return tuid


async def _progress(client: aioups.UPSClient, exp: Expected) -> None:
    tuid = await _claim(client, exp)
    await client.set(exp.uid, progress_set(40, f"step {exp.index}"), tuid)
    exp.progress = 40


async def _completed(client: aioups.UPSClient, exp: Expected) -> None:
    tuid = await _claim(client, exp)
    await client.set(exp.uid, performed_set(), tuid)
    await client.complete(exp.uid, tuid)
    exp.state = "COMPLETED"


async def _canceled(client: aioups.UPSClient, exp: Expected) -> None:
    tuid = await _claim(client, exp)
    await client.cancel(exp.uid, tuid)  # the SCP fills in the X attributes (UPS-49)
    exp.state = "CANCELED"


async def _cancel_requested(client: aioups.UPSClient, exp: Expected) -> None:
    response = await client.request_cancel(exp.uid, reason="not needed any more")
    assert response.status == aioups.Status.SUCCESS
    exp.state, exp.reason = "CANCELED", "not needed any more"


async def _claimed(client: aioups.UPSClient, exp: Expected) -> None:
    await _claim(client, exp)


STEPS: dict[str, Callable[[aioups.UPSClient, Expected], Awaitable[None]]] = {
    "scheduled": _scheduled, "claimed": _claimed, "progress": _progress,
    "completed": _completed, "canceled": _canceled, "cancel_requested": _cancel_requested}


async def lifecycle(client: aioups.UPSClient, index: int, expected: dict[int, Expected]) -> None:
    """Create workitem ``index`` and take it through its group's steps, recording each
    acknowledged change."""
    label = f"WI-{index:02d}"
    given = generate_uid() if index % 2 == 0 else None
    response = await client.create(create_request(ProcedureStepLabel=label), given)
    assert response.status == aioups.Status.SUCCESS
    uid = given or response.affected_sop_instance_uid
    assert uid, "N-CREATE without a UID: the SCP must return the one it assigned"
    exp = expected[index] = Expected(index, uid, label)
    if exp.k == 0:
        response = await client.subscribe(uid, receiving_ae="MONITOR", deletion_lock=True)
        assert response.status == aioups.Status.SUCCESS
        exp.locked = True
    if exp.k in (1, 2):
        await client.subscribe(uid, receiving_ae="WATCHER")
        exp.watched = True
    if exp.k == 2:
        await client.unsubscribe(uid, receiving_ae="WATCHER")
        exp.watched = False
    await STEPS[exp.group](client, exp)


async def run_workload(port: int, kill: Callable[[], None]) -> dict[int, Expected]:
    """The workload on WORKERS concurrent associations; ``kill()`` is called right after the
    last acknowledgement, while every association is still open."""
    expected: dict[int, Expected] = {}
    async with connect(port) as client:
        response = await client.subscribe(receiving_ae="MONITOR")  # global, without lock
        assert response.status == aioups.Status.SUCCESS
    finished: list[int] = []
    killed = anyio.Event()

    async def worker(indices: range) -> None:
        try:
            async with connect(port, f"WORKER{indices.start}") as client:
                for index in indices:
                    await lifecycle(client, index, expected)
                finished.append(indices.start)
                if len(finished) == WORKERS:
                    kill()
                    killed.set()
                await killed.wait()
        except AioupsError:  # releasing after the kill
            if not killed.is_set():
                raise

    async with anyio.create_task_group() as tg:
        for w in range(WORKERS):
            tg.start_soon(worker, range(w, len(GROUPS) * PER_GROUP, WORKERS))
    assert len(expected) == len(GROUPS) * PER_GROUP
    return expected


# --- checks ------------------------------------------------------------------------------------


async def check_workitem(client: aioups.UPSClient, exp: Expected) -> None:
    got = (await client.get(exp.uid)).data_set
    assert got is not None
    assert (got.SOPInstanceUID, got.ProcedureStepState, got.ProcedureStepLabel) == (
        exp.uid, exp.state, exp.label), exp
    assert "TransactionUID" not in got  # never returned (UPS-32)
    assert str(got.get("CommentsOnTheScheduledProcedureStep", "") or "") == exp.comments, exp
    progress = list(got.get("ProcedureStepProgressInformationSequence") or [])
    if exp.progress is not None:
        assert float(progress[0].ProcedureStepProgress) == exp.progress, exp
    elif exp.state != "CANCELED":
        assert not progress, exp
    performed = list(got.get("UnifiedProcedureStepPerformedProcedureSequence") or [])
    assert bool(performed) == (exp.state == "COMPLETED"), exp
    if exp.state == "CANCELED":
        assert progress[0].ProcedureStepCancellationDateTime, exp
        assert progress[0].ProcedureStepDiscontinuationReasonCodeSequence, exp
        assert progress[0].get("ReasonForCancellation") == exp.reason, exp


def pick(expected: dict[int, Expected], group: str, k: int) -> Expected:
    return expected[GROUPS.index(group) * PER_GROUP + k]


async def check_locks(client: aioups.UPSClient, expected: dict[int, Expected]) -> None:
    """The Transaction UIDs survived, also of final workitems (UPS-11, UPS-12, UPS-31)."""
    claimed, completed = pick(expected, "claimed", 3), pick(expected, "completed", 3)
    canceled, requested = pick(expected, "canceled", 3), pick(expected, "cancel_requested", 3)
    assert claimed.transaction_uid and completed.transaction_uid and canceled.transaction_uid
    comment = Dataset()
    comment.CommentsOnTheScheduledProcedureStep = "intruder"
    for call in (client.change_state(claimed.uid, "COMPLETED", OTHER_TUID),
                 client.change_state(claimed.uid, "IN PROGRESS", OTHER_TUID),
                 client.set(claimed.uid, comment, OTHER_TUID),
                 client.set(claimed.uid, comment),
                 client.change_state(completed.uid, "COMPLETED", OTHER_TUID),
                 client.change_state(canceled.uid, "CANCELED", OTHER_TUID)):
        await expect_status(0xC301, call)
    await expect_status(0xC302, client.change_state(claimed.uid, "IN PROGRESS",
                                                    claimed.transaction_uid))
    await expect_status(0xB306, client.change_state(completed.uid, "COMPLETED",
                                                    completed.transaction_uid))
    await expect_status(0xC300, client.change_state(completed.uid, "CANCELED",
                                                    completed.transaction_uid))
    await expect_status(0xC300, client.set(completed.uid, comment, completed.transaction_uid))
    await expect_status(0xB304, client.change_state(canceled.uid, "CANCELED",
                                                    canceled.transaction_uid))
    await expect_status(0xB304, client.request_cancel(requested.uid))
    await check_workitem(client, claimed)  # none of that changed anything


async def changes_after_restart(client: aioups.UPSClient, expected: dict[int, Expected],
                                ) -> tuple[list[tuple[int, str, str | None]],
                                           list[tuple[int, str, str | None]]]:
    """Changes with the old Transaction UIDs; returns the events MONITOR and WATCHER must get
    for them, in order: (event type, workitem UID, state)."""
    progress3, claimed2 = pick(expected, "progress", 3), pick(expected, "claimed", 2)
    claimed1, scheduled4 = pick(expected, "claimed", 1), pick(expected, "scheduled", 4)
    progress4, progress1 = pick(expected, "progress", 4), pick(expected, "progress", 1)
    await client.set(progress3.uid, progress_set(80, "later"), progress3.transaction_uid)
    progress3.progress = 80
    await client.set(claimed2.uid, performed_set(), claimed2.transaction_uid)
    await client.complete(claimed2.uid, str(claimed2.transaction_uid))
    claimed2.state = "COMPLETED"
    await client.cancel(claimed1.uid, str(claimed1.transaction_uid))
    claimed1.state = "CANCELED"
    scheduled4.transaction_uid = await client.claim(scheduled4.uid)
    scheduled4.state = "IN PROGRESS"
    # MONITOR's subscription makes the performer reachable: 0000 and Cancel Requested (UPS-24)
    await expect_status(0x0000, client.request_cancel(progress4.uid, reason="please stop"))
    label = "WI-NEW"
    response = await client.create(create_request(ProcedureStepLabel=label))
    new = expected[len(expected)] = Expected(len(expected), str(
        response.affected_sop_instance_uid), label)
    await client.set(progress1.uid, progress_set(90, "almost"), progress1.transaction_uid)
    progress1.progress = 90
    monitor = [(3, progress3.uid, None), (1, claimed2.uid, "COMPLETED"),
               (1, claimed1.uid, "CANCELED"), (1, scheduled4.uid, "IN PROGRESS"),
               (2, progress4.uid, None), (1, new.uid, "SCHEDULED"), (3, progress1.uid, None)]
    watcher = [(1, claimed1.uid, "CANCELED"), (3, progress1.uid, None)]
    return monitor, watcher


def assert_status_change(event: aioups.ReceivedEvent, status: str,
                         list_status: str | None = None) -> None:
    """SCP Status Change (type 4) with SCPStatus ``status`` and both list statuses."""
    assert event.event_type_id == 4, event
    data = event.data_set
    assert data.SCPStatus == status, data
    lists = (data.SubscriptionListStatus, data.UnifiedProcedureStepListStatus)
    assert all(value in ("WARM START", "COLD START") for value in lists), data
    if list_status is not None:
        assert lists == (list_status, list_status), data


async def receive_events(rx: aioups.EventReceiver,
                         count: int) -> list[tuple[int, str, str | None]]:
    events = [await next_event(rx) for _ in range(count)]
    return [(e.event_type_id, e.sop_instance_uid,
             e.state if e.event_type_id == 1 else None) for e in events]


async def wait_purged(client: aioups.UPSClient, uids: list[str], timeout: float = 10.0) -> None:
    """Poll N-GET until every workitem in ``uids`` is gone (C307)."""
    remaining = list(uids)
    with anyio.fail_after(timeout):
        while remaining:
            for uid in list(remaining):
                try:
                    await client.get(uid, ["ProcedureStepState"])
                except DIMSEFailure as failure:
                    assert failure.status == 0xC307
                    remaining.remove(uid)
            if remaining:
                await anyio.sleep(0.1)


# --- the tests ---------------------------------------------------------------------------------


async def _first_run(tmp_path: Path, backend: str, db: Path,
                     receivers: dict[str, aioups.EventReceiver]) -> dict[int, Expected]:
    async with serve_process(tmp_path, backend, "run1", "--db", str(db), "--purge-after", "-1",
                             *ae_args(receivers)) as server:
        assert server.workitems == 0
        pid = server.process.pid
        expected = await run_workload(server.port, lambda: os.kill(pid, signal.SIGKILL))
        assert await wait_exit(server) == -signal.SIGKILL
    return expected


async def _second_run(tmp_path: Path, backend: str, db: Path,
                      receivers: dict[str, aioups.EventReceiver],
                      expected: dict[int, Expected]) -> None:
    async with serve_process(tmp_path, backend, "run2", "--db", str(db), "--purge-after", "-1",
                             *ae_args(receivers)) as server:
        assert server.workitems == len(expected)
        for rx in receivers.values():  # both are subscribers: RESTARTED, lists kept
            assert_status_change(await next_event(rx), "RESTARTED", "WARM START")
        async with connect(server.port) as client:
            for exp in expected.values():
                await check_workitem(client, exp)
            assert await find_all(client) == {e.uid: e.state for e in expected.values()}
            in_progress = await find_all(client, ProcedureStepState="IN PROGRESS")
            assert set(in_progress) == {e.uid for e in expected.values()
                                        if e.group in ("claimed", "progress")}
            await check_locks(client, expected)
            monitor, watcher = await changes_after_restart(client, expected)
        assert await receive_events(receivers["MONITOR"], len(monitor)) == monitor
        # ordered delivery: anything for the workitem WATCHER left would have come first
        assert await receive_events(receivers["WATCHER"], len(watcher)) == watcher
        os.kill(server.process.pid, signal.SIGKILL)
        assert await wait_exit(server) == -signal.SIGKILL


async def _third_run(tmp_path: Path, backend: str, db: Path,
                     receivers: dict[str, aioups.EventReceiver],
                     expected: dict[int, Expected]) -> None:
    """Purging on: final workitems without a deletion lock go, locked ones stay until the
    lock is released."""
    unlocked = [e.uid for e in expected.values() if e.state in FINAL and not e.locked]
    kept = [e for e in expected.values() if e.state not in FINAL or e.locked]
    assert len(unlocked) >= 12 and sum(e.state in FINAL for e in kept) == 3
    async with serve_process(tmp_path, backend, "run3", "--db", str(db), "--purge-after", "0.2",
                             *ae_args(receivers)) as server:
        assert server.workitems == len(expected)
        async with connect(server.port) as client:
            await wait_purged(client, unlocked)
            for exp in kept:
                await check_workitem(client, exp)
            assert await find_all(client) == {e.uid: e.state for e in kept}
            completed = pick(expected, "completed", 0)
            await client.unsubscribe(completed.uid, receiving_ae="MONITOR")  # lock released
            await wait_purged(client, [completed.uid])
        os.kill(server.process.pid, signal.SIGTERM)
        assert await wait_exit(server) == 0, server.stderr()


async def test_sigkill_and_restart_keep_every_acknowledged_change(
        tmp_path: Path, anyio_backend: str) -> None:
    db = tmp_path / "ups.sqlite"
    with anyio.fail_after(50):
        async with event_receivers("MONITOR", "WATCHER") as first:
            expected = await _first_run(tmp_path, anyio_backend, db, first)
        # new receivers at new addresses: only events sent after the restart reach them
        async with event_receivers("MONITOR", "WATCHER") as second:
            await _second_run(tmp_path, anyio_backend, db, second, expected)
            await _third_run(tmp_path, anyio_backend, db, second, expected)
    for run in ("run1", "run2", "run3"):
        assert "Traceback" not in (tmp_path / f"{run}.stderr").read_text(), run


# --- SIGKILL with requests in flight -----------------------------------------------------------

#: steps of each workitem in the storm: 1 created, 2 claimed, 3 updated, 4 completed
STORM_WORKERS = 6
KILL_AFTER = 60


@dataclass
class Storm:
    """Acknowledged and in-flight steps per workitem UID."""

    kill: Callable[[], None]
    acked: dict[str, int]
    pending: dict[str, int]
    count: int = 0

    def acknowledge(self, uid: str, step: int) -> None:
        self.acked[uid] = step
        del self.pending[uid]
        self.count += 1
        if self.count == KILL_AFTER:
            self.kill()  # synchronously: the other workers have requests in flight


async def storm_step(client: aioups.UPSClient, step: int, uid: str, tuid: str) -> None:
    if step == 1:
        await client.create(create_request(), uid)
    elif step == 2:
        await client.claim(uid, tuid)
    elif step == 3:
        modifications = progress_set(50, "half")
        modifications.UnifiedProcedureStepPerformedProcedureSequence = [performed_sequence()]
        await client.set(uid, modifications, tuid)
    else:
        await client.complete(uid, tuid)


async def storm_worker(port: int, storm: Storm, name: str) -> None:
    with contextlib.suppress(AioupsError):  # the SCP dies under us
        async with connect(port, name) as client:
            while True:
                uid, tuid = generate_uid(), generate_uid()
                for step in (1, 2, 3, 4):
                    storm.pending[uid] = step
                    await storm_step(client, step, uid, tuid)
                    storm.acknowledge(uid, step)


async def actual_step(client: aioups.UPSClient, uid: str) -> int:
    try:
        got = (await client.get(uid)).data_set
    except DIMSEFailure as failure:
        assert failure.status == 0xC307
        return 0
    assert got is not None
    if got.ProcedureStepState == "SCHEDULED":
        return 1
    if got.ProcedureStepState == "IN PROGRESS":
        return 3 if got.get("ProcedureStepProgressInformationSequence") else 2
    assert got.ProcedureStepState == "COMPLETED"
    return 4


async def test_sigkill_with_requests_in_flight(tmp_path: Path, anyio_backend: str) -> None:
    """Six associations keep requests going; SIGKILL right after the 60th acknowledgement.
    After the restart each workitem is at its acknowledged step, or — if a request for it
    was in flight — possibly one step further.  ``--synchronous NORMAL`` is enough for that:
    it survives a crash of the process."""
    db = tmp_path / "ups.sqlite"
    with anyio.fail_after(40):
        async with serve_process(tmp_path, anyio_backend, "storm", "--db", str(db),
                                 "--synchronous", "NORMAL") as server:
            pid = server.process.pid
            storm = Storm(lambda: os.kill(pid, signal.SIGKILL), {}, {})
            async with anyio.create_task_group() as tg:
                for w in range(STORM_WORKERS):
                    tg.start_soon(storm_worker, server.port, storm, f"STORM{w}")
            assert await wait_exit(server) == -signal.SIGKILL
        assert storm.count >= KILL_AFTER
        assert storm.pending, "nothing was in flight when the SCP was killed"
        async with serve_process(tmp_path, anyio_backend, "after-storm", "--db",
                                 str(db)) as server, connect(server.port) as client:
            for uid in storm.acked.keys() | storm.pending.keys():
                allowed = {storm.acked.get(uid, 0), storm.pending.get(uid, -1)}
                assert await actual_step(client, uid) in allowed, uid
            in_progress = [uid for uid, step in storm.acked.items() if step in (2, 3)]
            for uid in in_progress:  # the lock holds: only the acknowledged claim's UID works
                await expect_status(0xC301, client.change_state(uid, "CANCELED", OTHER_TUID))
            found = await find_all(client)
            assert {uid for uid, step in storm.acked.items() if step} <= found.keys()


# --- SIGTERM ---------------------------------------------------------------------------------


async def test_sigterm_sends_going_down_and_exits_0(tmp_path: Path, anyio_backend: str) -> None:
    """An orderly shutdown with an association still open: GOING DOWN reaches the global
    subscriber and the fallback AE, exit code 0.  The fallback AE also got the RESTARTED /
    COLD START of the fresh store."""
    with anyio.fail_after(30):
        async with event_receivers("MONITOR", "FALLBACK") as receivers:
            async with serve_process(
                    tmp_path, anyio_backend, "sigterm", "--db", str(tmp_path / "ups.sqlite"),
                    "--fallback-ae", "FALLBACK", *ae_args(receivers)) as server:
                assert_status_change(await next_event(receivers["FALLBACK"]), "RESTARTED",
                                     "COLD START")
                code: int | None = None
                with contextlib.suppress(AioupsError):  # the association dies with the SCP
                    async with connect(server.port) as client:
                        await client.subscribe(receiving_ae="MONITOR")
                        created = await client.create(create_request())
                        event = await next_event(receivers["MONITOR"])
                        assert (event.event_type_id, event.state) == (1, "SCHEDULED")
                        assert event.sop_instance_uid == created.affected_sop_instance_uid
                        os.kill(server.process.pid, signal.SIGTERM)
                        code = await wait_exit(server)
                assert code == 0, server.stderr()
            for title in ("MONITOR", "FALLBACK"):
                assert_status_change(await next_event(receivers[title]), "GOING DOWN")
    stderr = server.stderr()
    assert "SIGTERM: shutting down" in stderr
    assert "Traceback" not in stderr, stderr


# --- the receiver itself ------------------------------------------------------------------------


def test_event_receiver_leaves_nothing_to_warn_about() -> None:
    """Regression: EventReceiver used to keep a memory object stream whose receive side
    ``close()`` never closed, so every receiver warned (ResourceWarning, an error here) when
    it was collected -- in whichever test ran at that moment."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for close in (True, False):
            rx = aioups.EventReceiver("MONITOR")
            if close:
                rx.close()
            del rx
            gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
