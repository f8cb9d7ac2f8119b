"""``aioups demo``: the main job on embedded defaults.

Starts a UPS SCP on a SQLite file and an event receiver, both on free local ports, then runs a
whole workflow against the SCP (subscribe → create → claim → progress → complete → get → find),
printing every response and every event the subscriber receives; then times a batch of
concurrent workflows.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime
from pathlib import Path

import anyio

import aioups
from aioups.dimse import Dataset

from ._datasets import default_create_template
from ._scu import status_text

SCP, WATCHER, SCU = "AIOUPS_SCP", "DEMO_WATCHER", "DEMO_SCU"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="run a UPS SCP and a full workflow against it",
                       description="Start a UPS SCP (SQLite store) and an event receiver on "
                       "127.0.0.1, run create → subscribe → claim → progress → complete "
                       "against it printing what happens, then time a batch of workflows.")
    p.add_argument("--db", metavar="PATH",
                   help="SQLite file for the SCP (default: a new file in a temporary folder)")
    p.add_argument("--workflows", type=int, default=200,
                   help="workflows to time after the first one (default 200; 0 skips)")
    p.add_argument("--concurrency", type=int, default=8,
                   help="associations running them at once (default 8)")
    p.set_defaults(run=run)


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "99AIOUPS", meaning
    return item


def _progress(percent: str, description: str) -> Dataset:
    info = Dataset()
    info.ProcedureStepProgress = percent
    info.ProcedureStepProgressDescription = description
    modification = Dataset()
    modification.ProcedureStepProgressInformationSequence = [info]
    return modification


def _performed() -> Dataset:
    now = datetime.now().strftime("%Y%m%d%H%M%S")
    item = Dataset()
    item.PerformedStationNameCodeSequence = [_code("DEMO", "demo station")]
    item.PerformedProcedureStepStartDateTime = now
    item.PerformedWorkitemCodeSequence = [_code("WORK", "demo work")]
    item.PerformedProcedureStepEndDateTime = now
    item.OutputInformationSequence = []
    modification = _progress("100", "done")
    modification.UnifiedProcedureStepPerformedProcedureSequence = [item]
    return modification


def _say(step: str, response: aioups.DIMSEResponse) -> None:
    print(f"  {step:<34} -> {status_text(response.status)}")


async def _workflow(client: aioups.UPSClient, *, verbose: bool) -> str:
    """create → claim → progress → complete; returns the workitem's UID."""
    created = await client.create(default_create_template())
    uid = created.affected_sop_instance_uid
    assert uid is not None
    if verbose:
        _say("N-CREATE (SCP assigns the UID)", created)
        print(f"  {'':<34}    workitem {uid}")
    tuid = await client.claim(uid)
    if verbose:
        print(f"  {'N-ACTION claim (IN PROGRESS)':<34} -> {status_text(0)}, "
              f"Transaction UID {tuid}")
    for step, modification in (("N-SET progress 50%", _progress("50", "halfway")),
                               ("N-SET performed procedure, 100%", _performed())):
        response = await client.set(uid, modification, tuid)
        if verbose:
            _say(step, response)
    completed = await client.complete(uid, tuid)
    if verbose:
        _say("N-ACTION COMPLETED", completed)
    return uid


async def _watch(receiver: aioups.EventReceiver, expected: int, done: anyio.Event,
                 counts: dict[str, int], *, verbose: bool) -> None:
    async for event in receiver:
        counts[event.event_type] = counts.get(event.event_type, 0) + 1
        if verbose:
            detail = event.state or ""
            if event.event_type_id == 3:
                info = event.data_set.ProcedureStepProgressInformationSequence[0]
                detail = f"{info.get('ProcedureStepProgress', '')}% " \
                         f"{info.get('ProcedureStepProgressDescription', '')}"
            print(f"  [{WATCHER} received] {event.event_type:<20} {detail:<13} "
                  f"from {event.calling_ae_title}")
        if sum(counts.values()) >= expected:
            done.set()
            return


async def _first_workflow(port: int, receiver: aioups.EventReceiver) -> None:
    counts: dict[str, int] = {}
    done = anyio.Event()
    async with anyio.create_task_group() as tg:
        # RESTARTED (start-up), then 3 state reports and 2 progress reports, in order
        tg.start_soon(lambda: _watch(receiver, 6, done, counts, verbose=True))
        async with aioups.UPSClient.connect("127.0.0.1", port, called_ae_title=SCP,
                                            calling_ae_title=SCU) as client:
            _say(f"N-ACTION subscribe {WATCHER} globally", await client.subscribe(
                receiving_ae=WATCHER))
            uid = await _workflow(client, verbose=True)
            got = await client.get(uid, ["ProcedureStepState", "ProcedureStepLabel"])
            assert got.data_set is not None
            print(f"  {'N-GET':<34} -> {got.data_set.ProcedureStepState}, "
                  f"label {got.data_set.ProcedureStepLabel!r}")
            keys = Dataset()
            keys.ProcedureStepState = "COMPLETED"
            keys.SOPInstanceUID = ""
            async with client.find(keys) as results:
                found = [m.data_set.SOPInstanceUID async for m in results if m.data_set]
            print(f"  {'C-FIND state COMPLETED':<34} -> {len(found)} match(es)")
        with anyio.fail_after(10):
            await done.wait()


async def _batch(port: int, receiver: aioups.EventReceiver, args: argparse.Namespace) -> None:
    counts: dict[str, int] = {}
    done = anyio.Event()
    expected = args.workflows * 5  # 3 state reports, 2 progress reports each
    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: _watch(receiver, expected, done, counts, verbose=False))

        async def worker(share: int) -> None:
            async with aioups.UPSClient.connect("127.0.0.1", port, called_ae_title=SCP,
                                                calling_ae_title=SCU) as client:
                for _ in range(share):
                    await _workflow(client, verbose=False)

        async with anyio.create_task_group() as workers:
            n = max(1, args.concurrency)
            for i in range(n):
                workers.start_soon(worker, args.workflows // n + (i < args.workflows % n))
        answered = time.perf_counter() - started
        with anyio.fail_after(30):
            await done.wait()
    delivered = time.perf_counter() - started
    print(f"  {args.workflows} workflows (5 requests each) over {args.concurrency} "
          f"associations: {args.workflows * 5 / answered:.0f} requests/s, all answered in "
          f"{answered:.2f} s")
    print(f"  {WATCHER} received {sum(counts.values())} events "
          f"({', '.join(f'{n} {name}' for name, n in sorted(counts.items()))}), the last "
          f"{delivered - answered:.2f} s after the last response")


async def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="aioups-demo-") as folder:
        db = Path(args.db) if args.db else Path(folder) / "ups.sqlite"
        receiver = aioups.EventReceiver(WATCHER)
        async with anyio.create_task_group() as tg:
            rx_port = await tg.start(receiver.serve, "127.0.0.1", 0)
            service = aioups.UPSService(aioups.SQLiteStore(db), ae_title=SCP, directory={
                WATCHER: aioups.AEAddress(host="127.0.0.1", port=rx_port)},
                fallback_aes=(WATCHER,))
            port = await tg.start(service.serve, "127.0.0.1", 0)
            print(f"UPS SCP {SCP} on 127.0.0.1:{port}, store {db}")
            print(f"event receiver {WATCHER} on 127.0.0.1:{rx_port}\n")
            print(f"{SCU} runs one workflow:")
            await _first_workflow(port, receiver)
            if args.workflows > 0:
                print("\ntiming a batch (client, SCP and receiver share this one process):")
                await _batch(port, receiver, args)
            tg.cancel_scope.cancel()
    return 0
