"""Embed the UPS SCP in an existing asyncio application.

The application keeps its own asyncio tasks; the SCP runs beside them on the same loop with an
injected store (SQLite here) and a hook that sees every stored workitem change.  A UPS SCU in
the same program then runs one workflow against it, so the example is self-contained:

    python examples/ups_scp_asyncio.py [path/to/ups.sqlite]

Point a real SCU at it instead (e.g. ``aioups create -c UPSSCP@127.0.0.1:PORT``) by removing
the ``run_workflow`` call and waiting forever.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import anyio

import aioups
from aioups.dimse import Dataset
from aioups.ups import UPSEvent, Workitem


def code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "99LOCAL", meaning
    return item


def new_workitem(label: str) -> Dataset:
    """What N-CREATE needs (PS3.4 Table CC.2.5-3): Type 1 values, Type 2 present."""
    ds = Dataset()
    ds.ProcedureStepState = "SCHEDULED"
    ds.ScheduledProcedureStepPriority = "MEDIUM"
    ds.ProcedureStepLabel = label
    ds.ScheduledProcedureStepStartDateTime = datetime.now().strftime("%Y%m%d%H%M%S")
    ds.InputReadinessState = "READY"
    for keyword in ("TransactionUID", "WorklistLabel", "CommentsOnTheScheduledProcedureStep",
                    "PatientName", "PatientBirthDate", "PatientSex", "IssuerOfPatientID",
                    "AdmissionID", "AdmittingDiagnosesDescription"):
        setattr(ds, keyword, "")
    for keyword in ("ScheduledProcessingParametersSequence", "ScheduledStationNameCodeSequence",
                    "ScheduledStationClassCodeSequence", "InputInformationSequence",
                    "ScheduledStationGeographicLocationCodeSequence",
                    "ScheduledWorkitemCodeSequence", "IssuerOfPatientIDQualifiersSequence",
                    "OtherPatientIDsSequence", "IssuerOfAdmissionIDSequence",
                    "AdmittingDiagnosesCodeSequence", "ReferencedRequestSequence",
                    "ProcedureStepProgressInformationSequence",
                    "UnifiedProcedureStepPerformedProcedureSequence"):
        setattr(ds, keyword, [])
    return ds


def performed() -> Dataset:
    """What COMPLETED needs (PS3.4 Table CC.2.5-1): the Performed Procedure Sequence."""
    now = datetime.now().strftime("%Y%m%d%H%M%S")
    item = Dataset()
    item.PerformedStationNameCodeSequence = [code("WS1", "workstation 1")]
    item.PerformedProcedureStepStartDateTime = now
    item.PerformedWorkitemCodeSequence = [code("READ", "read the images")]
    item.PerformedProcedureStepEndDateTime = now
    item.OutputInformationSequence = []
    ds = Dataset()
    ds.UnifiedProcedureStepPerformedProcedureSequence = [item]
    return ds


async def run_workflow(port: int) -> None:
    async with aioups.UPSClient.connect("127.0.0.1", port, called_ae_title="UPSSCP",
                                        calling_ae_title="READER") as client:
        uid = (await client.create(new_workitem("read CT"))).affected_sop_instance_uid
        assert uid is not None
        tuid = await client.claim(uid)
        await client.set(uid, performed(), tuid)
        await client.complete(uid, tuid)


async def main(db: Path) -> None:
    changes: asyncio.Queue[tuple[str, str]] = asyncio.Queue()  # the application's own queue

    async def on_change(item: Workitem, events: tuple[UPSEvent, ...]) -> None:
        # called after the change is durable and before the SCU gets its response
        await changes.put((item.sop_instance_uid, item.state.value))

    async def dashboard() -> None:  # an ordinary asyncio task of the application
        while True:
            uid, state = await changes.get()
            print(f"dashboard: workitem {uid} is {state}")

    dashboard_task = asyncio.create_task(dashboard())
    service = aioups.UPSService(aioups.SQLiteStore(db), ae_title="UPSSCP", on_change=on_change,
                                purge_after=24 * 3600)
    async with anyio.create_task_group() as tg:  # anyio runs on the asyncio loop as it is
        port = await tg.start(service.serve, "127.0.0.1", 0)
        print(f"UPS SCP on 127.0.0.1:{port}, store {db}")
        await run_workflow(port)
        await asyncio.sleep(0.1)
        tg.cancel_scope.cancel()  # orderly shutdown: GOING DOWN to subscribers, store closed
    dashboard_task.cancel()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(folder) / "ups.db"))
