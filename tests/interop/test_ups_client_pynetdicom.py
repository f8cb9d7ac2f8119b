"""Our UPS SCU (:class:`aioups.UPSClient`) against a UPS SCP written with pynetdicom
(:mod:`helpers.pynetdicom_ups_scp`), on asyncio and trio.

The whole life of a workitem (create, claim, update, complete), N-GET, C-FIND, the Watch
operations and Request Cancel, the failures pynetdicom answers, and the context fallback against
a pynetdicom SCP that accepts only Pull and Watch.  Every test also checks what pynetdicom
received: the Push SOP class in every DIMSE-N command whatever the context (UPS-05), the
context's class in C-FIND (UPS-06), the Transaction UID values (UPS-21, UPS-30, UPS-31) and the
Action Information (UPS-20).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from helpers.pynetdicom_ups_scp import PynetdicomUPSSCP, UPSRequest, Workitem
from pydicom.dataset import Dataset
from ups.factories import code, create_request, performed_sequence

from aioups import (
    UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE,
    UPS_GLOBAL_SUBSCRIPTION_INSTANCE,
    UPS_PULL,
    UPS_PUSH,
    UPS_QUERY,
    UPS_WATCH,
    VERIFICATION,
    Status,
    UPSClient,
)
from aioups.dimse import generate_uid
from aioups.errors import DIMSEFailure, NoAcceptedContext

pytestmark = [pytest.mark.interop, pytest.mark.anyio]

HOST = "127.0.0.1"
SCU_AE = "AIOSCU"
RX_AE = "RX"
#: bound on every test body (seconds)
TEST_TIMEOUT = 15


def new_uid() -> str:
    return str(generate_uid())


def info(**values: Any) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


@pytest.fixture(scope="module")
def ups_server() -> Iterator[PynetdicomUPSSCP]:
    scp = PynetdicomUPSSCP()
    scp.start()
    yield scp
    scp.stop()


@pytest.fixture
def scp(ups_server: PynetdicomUPSSCP) -> PynetdicomUPSSCP:
    """The module's pynetdicom UPS SCP (Push, Pull, Watch, Query), emptied."""
    ups_server.reset()
    return ups_server


@pytest.fixture(scope="module")
def pull_watch_server() -> Iterator[PynetdicomUPSSCP]:
    scp = PynetdicomUPSSCP(ae_title="PYPULL", sop_classes=(UPS_PULL, UPS_WATCH))
    scp.start()
    yield scp
    scp.stop()


@pytest.fixture
def pull_watch_scp(pull_watch_server: PynetdicomUPSSCP) -> PynetdicomUPSSCP:
    """A pynetdicom UPS SCP accepting UPS Pull and Watch only, emptied."""
    pull_watch_server.reset()
    return pull_watch_server


def connect(scp: PynetdicomUPSSCP, **options: Any) -> Any:
    return UPSClient.connect(HOST, scp.port, called_ae_title=scp.ae_title,
                             calling_ae_title=SCU_AE, **options)


def summary(requests: list[UPSRequest]) -> list[tuple[str, int | None, str, str | None]]:
    return [(r.service, r.type_id, r.abstract_syntax, r.sop_class_uid) for r in requests]


# -- the life of a workitem ----------------------------------------------------------------------


async def test_create_claim_update_complete(scp: PynetdicomUPSSCP) -> None:
    """create → claim → update (N-SET) → complete, with one wrong-UID attempt on the way."""
    uid = new_uid()
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect(scp) as client:
            created = await client.create(create_request(), uid)
            tuid = await client.claim(uid)
            updated = await client.set(uid, info(
                UnifiedProcedureStepPerformedProcedureSequence=[performed_sequence()]), tuid)
            with pytest.raises(DIMSEFailure) as wrong:
                await client.complete(uid, new_uid())
            completed = await client.complete(uid, tuid)
            got = await client.get(uid)
    assert created.status == Status.SUCCESS and created.affected_sop_instance_uid == uid
    assert updated.status == completed.status == Status.SUCCESS
    assert wrong.value.status == 0xC301
    assert got.data_set is not None
    assert got.data_set.ProcedureStepState == "COMPLETED"
    assert got.data_set.SOPClassUID == UPS_PUSH and got.data_set.SOPInstanceUID == uid
    assert "TransactionUID" not in got.data_set
    assert scp.workitem(uid).transaction_uid == tuid

    requests = scp.take()
    assert summary(requests) == [
        ("N-CREATE", None, UPS_PUSH, UPS_PUSH), ("N-ACTION", 1, UPS_PULL, UPS_PUSH),
        ("N-SET", None, UPS_PULL, UPS_PUSH), ("N-ACTION", 1, UPS_PULL, UPS_PUSH),
        ("N-ACTION", 1, UPS_PULL, UPS_PUSH), ("N-GET", None, UPS_PUSH, UPS_PUSH)]
    assert {r.sop_instance_uid for r in requests} == {uid}
    assert {r.calling_ae_title for r in requests} == {SCU_AE}
    create, claim, update, refused, complete, get = requests
    assert create.data_set is not None
    assert "TransactionUID" in create.data_set and not create.data_set.TransactionUID  # UPS-30
    assert "SOPInstanceUID" not in create.data_set  # it travels in the command (UPS-40)
    actions = [(r.data_set.ProcedureStepState, r.data_set.TransactionUID, r.status)
               for r in (claim, refused, complete) if r.data_set is not None]
    assert actions[0] == ("IN PROGRESS", tuid, 0) and actions[2] == ("COMPLETED", tuid, 0)
    assert actions[1][0] == "COMPLETED" and actions[1][1] != tuid and actions[1][2] == 0xC301
    assert update.data_set is not None and update.data_set.TransactionUID == tuid
    [performed] = update.data_set.UnifiedProcedureStepPerformedProcedureSequence
    assert performed.PerformedProcedureStepEndDateTime == "20240506083000"
    assert get.attribute_identifiers == ()


async def test_create_without_uid_and_get_selected_attributes(scp: PynetdicomUPSSCP) -> None:
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect(scp) as client:
            created = await client.create(create_request(ProcedureStepLabel="no uid"))
            uid = created.affected_sop_instance_uid
            assert uid is not None
            got = await client.get(uid, ["ProcedureStepLabel", 0x00741000])
            with pytest.raises(DIMSEFailure) as unknown:
                await client.get(new_uid())
    assert uid in scp.workitems
    assert got.data_set is not None
    assert sorted(elem.keyword for elem in got.data_set) == [
        "ProcedureStepLabel", "ProcedureStepState"]
    assert got.data_set.ProcedureStepLabel == "no uid"
    assert unknown.value.status == 0xC307
    create, get, _ = scp.take()
    assert create.sop_instance_uid is None  # no Affected SOP Instance UID in the request
    assert (get.abstract_syntax, get.sop_class_uid, get.sop_instance_uid) == (
        UPS_PUSH, UPS_PUSH, uid)
    assert get.attribute_identifiers == (0x00741204, 0x00741000)


async def test_find_on_query_and_leaving_early(scp: PynetdicomUPSSCP) -> None:
    keys = info(ProcedureStepState="SCHEDULED", SOPInstanceUID="", ProcedureStepLabel="")
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect(scp) as client:
            uids = [await client.create(create_request(), new_uid()) for _ in range(4)]
            first = uids[0].affected_sop_instance_uid
            await client.claim(first)
            async with client.find(keys) as results:
                found = [m.data_set async for m in results]
            async with client.find(info(SOPInstanceUID="")) as early:
                async for _ in early:
                    break
            assert (await client.echo()).status == Status.SUCCESS
    scheduled = {r.affected_sop_instance_uid for r in uids} - {first}
    assert {ds.SOPInstanceUID for ds in found if ds is not None} == scheduled
    for ds in found:
        assert ds is not None and ds.ProcedureStepState == "SCHEDULED"
    assert results.final is not None and results.final.status == Status.SUCCESS
    assert early.count == 1
    finds = scp.take("C-FIND")
    assert [(r.abstract_syntax, r.sop_class_uid) for r in finds] == [(UPS_QUERY, UPS_QUERY)] * 2
    assert finds[0].data_set is not None and finds[0].data_set.ProcedureStepState == "SCHEDULED"
    assert "TransactionUID" not in finds[0].data_set


# -- Watch and Request Cancel --------------------------------------------------------------------


async def test_subscriptions_and_request_cancel(scp: PynetdicomUPSSCP) -> None:
    uid = new_uid()
    reason_code = code("110514", "DCM", "Incorrect worklist entry selected")
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect(scp) as client:
            await client.create(create_request(), uid)
            await client.subscribe(uid, receiving_ae=RX_AE, deletion_lock=True)
            await client.subscribe(receiving_ae=RX_AE)
            await client.subscribe(receiving_ae="FILTERED", matching_keys=info(
                ScheduledProcedureStepPriority="HIGH"))
            subscribed = dict(scp.subscriptions)
            await client.claim(uid)
            await client.request_cancel(uid, reason="patient left", reason_code=reason_code,
                                        contact_uri="tel:+1-555-0100",
                                        contact_name="Dr. Who")
            await client.unsubscribe(uid, receiving_ae=RX_AE)
            await client.suspend_global(receiving_ae="FILTERED")
            await client.unsubscribe(receiving_ae=RX_AE)
    assert subscribed == {(RX_AE, uid): True, (RX_AE, UPS_GLOBAL_SUBSCRIPTION_INSTANCE): False,
                          ("FILTERED", UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE): False}
    assert scp.subscriptions == {("FILTERED", UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE): False}
    assert scp.workitem(uid).state == "IN PROGRESS"  # the performer decides
    actions = scp.take("N-ACTION")
    assert [(r.type_id, r.abstract_syntax, r.sop_class_uid, r.sop_instance_uid, r.status)
            for r in actions] == [
        (3, UPS_WATCH, UPS_PUSH, uid, 0),
        (3, UPS_WATCH, UPS_PUSH, UPS_GLOBAL_SUBSCRIPTION_INSTANCE, 0),
        (3, UPS_WATCH, UPS_PUSH, UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE, 0),
        (1, UPS_PULL, UPS_PUSH, uid, 0),
        (2, UPS_PUSH, UPS_PUSH, uid, 0),
        (4, UPS_WATCH, UPS_PUSH, uid, 0),
        (5, UPS_WATCH, UPS_PUSH, UPS_GLOBAL_SUBSCRIPTION_INSTANCE, 0),
        (4, UPS_WATCH, UPS_PUSH, UPS_GLOBAL_SUBSCRIPTION_INSTANCE, 0)]
    data = [r.data_set for r in actions]
    assert all(ds is not None for ds in data)
    assert [(ds.ReceivingAE, ds.DeletionLock) for ds in data[:3]] == [  # type: ignore[union-attr]
        (RX_AE, "TRUE"), (RX_AE, "FALSE"), ("FILTERED", "FALSE")]
    assert data[2].ScheduledProcedureStepPriority == "HIGH"  # type: ignore[union-attr]
    assert [[e.keyword for e in ds] for ds in data[5:]] == [  # type: ignore[union-attr]
        ["ReceivingAE"]] * 3
    [cancel] = scp.cancel_requests[uid]
    assert cancel.ReasonForCancellation == "patient left"
    assert (cancel.ContactURI, cancel.ContactDisplayName) == ("tel:+1-555-0100", "Dr. Who")
    [item] = cancel.ProcedureStepDiscontinuationReasonCodeSequence
    assert (item.CodeValue, item.CodingSchemeDesignator) == ("110514", "DCM")


async def test_request_cancel_of_a_scheduled_workitem(scp: PynetdicomUPSSCP) -> None:
    uid = new_uid()
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect(scp) as client:
            await client.create(create_request(), uid)
            response = await client.request_cancel(uid)
            got = await client.get(uid, ["ProcedureStepState"])
            late = await client.request_cancel(uid, check=False)
    assert response.status == Status.SUCCESS
    assert got.data_set is not None and got.data_set.ProcedureStepState == "CANCELED"
    assert late.status == Status.SUCCESS
    assert [len(ds) for ds in scp.cancel_requests[uid]] == [0, 0]  # no details made up


# -- failures ------------------------------------------------------------------------------------


async def test_failures_as_pynetdicom_answers_them(scp: PynetdicomUPSSCP) -> None:
    uid = new_uid()
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect(scp) as client:
            await client.create(create_request(), uid)
            raised: list[int] = []
            for call in (lambda: client.create(create_request(), uid),
                         lambda: client.create(create_request(ProcedureStepState="COMPLETED")),
                         lambda: client.complete(uid, new_uid()),
                         lambda: client.change_state(uid, "SCHEDULED", new_uid()),
                         lambda: client.subscribe(new_uid(), receiving_ae=RX_AE)):
                with pytest.raises(DIMSEFailure) as caught:
                    await call()
                raised.append(caught.value.status)
            tuid = await client.claim(uid)
            unlocked = await client.set(uid, info(ProcedureStepLabel="x"), check=False)
            stolen = await client.change_state(uid, "IN PROGRESS", new_uid(), check=False)
            again = await client.change_state(uid, "IN PROGRESS", tuid, check=False)
            await client.cancel(uid, tuid)
            final = await client.set(uid, info(ProcedureStepLabel="x"), tuid, check=False)
    assert raised == [0x0111, 0xC309, 0xC310, 0xC303, 0xC307]
    assert [r.status for r in (unlocked, stolen, again, final)] == [
        0xC301, 0xC301, 0xC302, 0xC300]
    assert scp.workitem(uid).state == "CANCELED"


# -- context fallback ----------------------------------------------------------------------------


async def test_fallback_to_pull_and_watch(pull_watch_scp: PynetdicomUPSSCP) -> None:
    """Against an SCP without Push and Query: N-GET goes to Pull, Request Cancel to Watch,
    C-FIND to Pull (with Pull in the command); N-CREATE cannot be sent at all."""
    uid = new_uid()
    stored = create_request()
    del stored.TransactionUID
    stored.SOPClassUID, stored.SOPInstanceUID = UPS_PUSH, uid
    with pull_watch_scp._lock:
        pull_watch_scp.workitems[uid] = Workitem(stored)
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect(pull_watch_scp) as client:
            accepted = {ctx.abstract_syntax
                        for ctx in client.association.negotiated.contexts.values()}
            with pytest.raises(NoAcceptedContext):
                await client.create(create_request(), new_uid())
            got = await client.get(uid, ["ProcedureStepState"])
            async with client.find(info(SOPInstanceUID="")) as results:
                found = [m.data_set.SOPInstanceUID async for m in results if m.data_set]
            await client.request_cancel(uid, reason="not needed")
            await client.subscribe(uid, receiving_ae=RX_AE)
    assert accepted == {UPS_PULL, UPS_WATCH, VERIFICATION}
    assert got.data_set is not None and got.data_set.ProcedureStepState == "SCHEDULED"
    assert found == [uid]
    assert summary(pull_watch_scp.take()) == [
        ("N-GET", None, UPS_PULL, UPS_PUSH), ("C-FIND", None, UPS_PULL, UPS_PULL),
        ("N-ACTION", 2, UPS_WATCH, UPS_PUSH), ("N-ACTION", 3, UPS_WATCH, UPS_PUSH)]
    assert pull_watch_scp.workitem(uid).state == "CANCELED"
