"""What one operation of each load scenario does, on one association.

Each scenario's ``prepare(client)`` runs once per association (creating what the operation
needs) and returns the operation: an async callable returning how many DIMSE requests it made.
Data sets that do not change are encoded once per association, so the load generator spends
its time on the wire, not in pydicom.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Final

import aioups
from aioups.dimse import Dataset, encode_data_set, generate_uid

Operation = Callable[[], Awaitable[int]]
#: called with (workitem UID, state) when a state change is acknowledged (subscribe-storm)
StateHook = Callable[[str, str], None]

_TYPE_2_TEXT: Final = ("TransactionUID", "WorklistLabel", "CommentsOnTheScheduledProcedureStep",
                       "PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                       "IssuerOfPatientID", "AdmissionID", "AdmittingDiagnosesDescription")
_TYPE_2_SEQUENCES: Final = (
    "ScheduledProcessingParametersSequence", "ScheduledStationNameCodeSequence",
    "ScheduledStationClassCodeSequence", "ScheduledStationGeographicLocationCodeSequence",
    "ScheduledWorkitemCodeSequence", "InputInformationSequence",
    "IssuerOfPatientIDQualifiersSequence", "OtherPatientIDsSequence",
    "IssuerOfAdmissionIDSequence", "AdmittingDiagnosesCodeSequence",
    "ReferencedRequestSequence", "ProcedureStepProgressInformationSequence",
    "UnifiedProcedureStepPerformedProcedureSequence")


def workitem(label: str = "aioups load") -> Dataset:
    """A valid N-CREATE data set (PS3.4 Table CC.2.5-3)."""
    ds = Dataset()
    for keyword in _TYPE_2_TEXT:
        setattr(ds, keyword, "")
    for keyword in _TYPE_2_SEQUENCES:
        setattr(ds, keyword, [])
    ds.ProcedureStepState = "SCHEDULED"
    ds.ScheduledProcedureStepPriority = "MEDIUM"
    ds.ProcedureStepLabel = label
    ds.ScheduledProcedureStepStartDateTime = datetime.now().strftime("%Y%m%d%H%M%S")
    ds.InputReadinessState = "READY"
    return ds


def _code(value: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "99AIOUPS", value
    return item


def completion() -> Dataset:
    """An N-SET that meets the COMPLETED requirements and reports 100% progress."""
    now = datetime.now().strftime("%Y%m%d%H%M%S")
    performed = Dataset()
    performed.PerformedStationNameCodeSequence = [_code("LOAD")]
    performed.PerformedProcedureStepStartDateTime = now
    performed.PerformedWorkitemCodeSequence = [_code("WORK")]
    performed.PerformedProcedureStepEndDateTime = now
    performed.OutputInformationSequence = []
    progress = Dataset()
    progress.ProcedureStepProgress = "100"
    ds = Dataset()
    ds.ProcedureStepProgressInformationSequence = [progress]
    ds.UnifiedProcedureStepPerformedProcedureSequence = [performed]
    return ds


def _encoded(client: aioups.UPSClient, data_set: Dataset, operation: str) -> bytes:
    syntax = client.context_for(operation)
    context = client.association.context_for(syntax)
    return encode_data_set(data_set, context.transfer_syntax)


async def echo(client: aioups.UPSClient, hook: StateHook | None) -> Operation:
    async def op() -> int:
        await client.echo()
        return 1
    return op


async def create(client: aioups.UPSClient, hook: StateHook | None) -> Operation:
    encoded = _encoded(client, workitem(), "create")

    async def op() -> int:
        await client.create(encoded)
        return 1
    return op


async def get(client: aioups.UPSClient, hook: StateHook | None) -> Operation:
    uid = generate_uid()
    await client.create(_encoded(client, workitem(), "create"), uid)

    async def op() -> int:
        await client.get(uid)
        return 1
    return op


async def find(client: aioups.UPSClient, hook: StateHook | None) -> Operation:
    uid = generate_uid()
    await client.create(_encoded(client, workitem(), "create"), uid)
    keys = Dataset()
    keys.SOPInstanceUID = uid
    keys.ProcedureStepState = ""
    keys.ProcedureStepLabel = ""
    syntax = client.context_for("find")
    encoded = encode_data_set(keys, client.association.context_for(syntax).transfer_syntax)

    async def op() -> int:
        async with aioups.c_find(client.association, syntax, encoded) as results:
            async for _ in results:
                pass
        return 1
    return op


async def workflow(client: aioups.UPSClient, hook: StateHook | None) -> Operation:
    """create → claim → progress and performed procedure → complete: 4 requests."""
    encoded = _encoded(client, workitem(), "create")
    finish = completion()

    async def op() -> int:
        response = await client.create(encoded)
        uid = response.affected_sop_instance_uid
        assert uid is not None
        if hook:
            hook(uid, "SCHEDULED")
        tuid = await client.claim(uid)
        if hook:
            hook(uid, "IN PROGRESS")
        await client.set(uid, finish, tuid)
        await client.complete(uid, tuid)
        if hook:
            hook(uid, "COMPLETED")
        return 4
    return op


Prepare = Callable[[aioups.UPSClient, StateHook | None], Awaitable[Operation]]
SCENARIOS: Final[dict[str, Prepare]] = {
    "echo": echo, "create": create, "get": get, "find": find, "workflow": workflow,
    "subscribe-storm": workflow,
}
