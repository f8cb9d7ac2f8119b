"""The UPS SCP service end to end over TCP: our client against UPSService on aioups.Server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from ups.factories import create_request, performed_sequence

import aioups
from aioups._uids import (
    UPS_EVENT,
    UPS_GLOBAL_SUBSCRIPTION_INSTANCE,
    UPS_PULL,
    UPS_PUSH,
    UPS_QUERY,
    UPS_WATCH,
)
from aioups.dimse import Dataset, NEventReportRQ, NEventReportRSP
from aioups.errors import DIMSEFailure
from aioups.net import Server, ServerConfig, ServiceRequest
from aioups.net._directory import AEAddress
from aioups.net._store import SQLiteStore, UPSStore
from aioups.net._ups_scp import UPSService
from aioups.ul import SupportedSyntax

pytestmark = pytest.mark.anyio
HOST = "127.0.0.1"
CONTEXTS = tuple(aioups.PresentationContextProposal(abstract_syntax=uid)
                 for uid in (UPS_PUSH, UPS_PULL, UPS_WATCH, UPS_QUERY))


class Monitor:
    """An event receiver (UPS Event SCU as acceptor); collects (type, uid, state)."""

    def __init__(self) -> None:
        self.events: list[tuple[int, str, str]] = []
        self.changed = anyio.Event()

    async def __call__(self, request: ServiceRequest) -> NEventReportRSP:
        message = request.message
        assert isinstance(message, NEventReportRQ)
        ds = request.data_set
        assert ds is not None and "TransactionUID" not in ds  # UPS-32
        state = str(ds.get("ProcedureStepState", "") or ds.get("SCPStatus", ""))
        self.events.append((message.event_type_id, message.affected_sop_instance_uid, state))
        self.changed.set()
        return NEventReportRSP(message_id_being_responded_to=message.message_id)

    async def wait_for(self, count: int) -> None:
        while len(self.events) < count:
            self.changed = anyio.Event()
            await self.changed.wait()


@asynccontextmanager
async def ups_scp(store: UPSStore | None = None) -> AsyncIterator[tuple[UPSService, int, Monitor]]:
    monitor = Monitor()
    rx = Server(ServerConfig(ae_title="MONITOR", handlers={(UPS_EVENT, NEventReportRQ): monitor},
                             supported={UPS_EVENT: SupportedSyntax(scu_role=False,
                                                                   scp_role=True)}))
    async with anyio.create_task_group() as tg:
        rx_port = await tg.start(rx.serve, HOST, 0)
        service = UPSService(store, directory={"MONITOR": AEAddress(host=HOST, port=rx_port)},
                             ae_title="UPSSCP")
        await tg.start(service.run)
        server = Server(ServerConfig(ae_title="UPSSCP", handlers=service.handlers(),
                                     max_operations_performed=8, max_operations_invoked=8))
        port = await tg.start(server.serve, HOST, 0)
        yield service, port, monitor
        tg.cancel_scope.cancel()


def info(**values: str) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


async def run_workflow(port: int, uid: str) -> None:
    async with aioups.open_association(HOST, port, called_ae_title="UPSSCP", contexts=CONTEXTS,
                                       max_operations_invoked=8) as assoc:
        created = await aioups.n_create(assoc, UPS_PUSH, uid, create_request())
        assert created.status == aioups.Status.SUCCESS
        tuid = aioups.dimse.generate_uid()
        claim = info(ProcedureStepState="IN PROGRESS", TransactionUID=tuid)
        await aioups.n_action(assoc, UPS_PUSH, uid, 1, claim, abstract_syntax=UPS_PULL)
        with pytest.raises(DIMSEFailure) as caught:  # someone else's claim
            await aioups.n_action(assoc, UPS_PUSH, uid, 1, info(
                ProcedureStepState="IN PROGRESS", TransactionUID="1.2.3.4"),
                abstract_syntax=UPS_PULL)
        assert caught.value.status == 0xC301
        modification = info(TransactionUID=tuid)
        modification.UnifiedProcedureStepPerformedProcedureSequence = [performed_sequence()]
        await aioups.n_set(assoc, UPS_PUSH, uid, modification, abstract_syntax=UPS_PULL)
        await aioups.n_action(assoc, UPS_PUSH, uid, 1, info(
            ProcedureStepState="COMPLETED", TransactionUID=tuid), abstract_syntax=UPS_PULL)
        got = await aioups.n_get(assoc, UPS_PUSH, uid, abstract_syntax=UPS_PULL)
        assert got.data_set is not None and got.data_set.ProcedureStepState == "COMPLETED"
        assert "TransactionUID" not in got.data_set
        async with aioups.c_find(assoc, UPS_QUERY, info(ProcedureStepState="COMPLETED",
                                                        SOPInstanceUID="")) as results:
            found = [m.data_set.SOPInstanceUID async for m in results if m.data_set]
        assert found == [uid]


async def test_workflow_with_global_subscriber() -> None:
    with anyio.fail_after(15):
        async with ups_scp() as (_, port, monitor):
            async with aioups.open_association(HOST, port, called_ae_title="UPSSCP",
                                               contexts=CONTEXTS) as assoc:
                response = await aioups.n_action(
                    assoc, UPS_PUSH, UPS_GLOBAL_SUBSCRIPTION_INSTANCE, 3,
                    info(ReceivingAE="MONITOR", DeletionLock="FALSE"), abstract_syntax=UPS_WATCH)
                assert response.status == aioups.Status.SUCCESS
            await run_workflow(port, "1.2.826.0.1.3680043.2.1125.7")
            await monitor.wait_for(3)
    assert monitor.events == [(1, "1.2.826.0.1.3680043.2.1125.7", s)
                              for s in ("SCHEDULED", "IN PROGRESS", "COMPLETED")]


async def test_concurrent_claims_one_wins() -> None:
    uid = "1.2.826.0.1.3680043.2.1125.8"
    statuses: list[int] = []
    with anyio.fail_after(15):
        async with ups_scp() as (_, port, _monitor), aioups.open_association(
                HOST, port, called_ae_title="UPSSCP", contexts=CONTEXTS,
                max_operations_invoked=8) as assoc:
            await aioups.n_create(assoc, UPS_PUSH, uid, create_request())
            tuid = aioups.dimse.generate_uid()

            async def claim() -> None:
                response = await aioups.n_action(
                    assoc, UPS_PUSH, uid, 1, info(ProcedureStepState="IN PROGRESS",
                                                  TransactionUID=tuid),
                    abstract_syntax=UPS_PULL, check=False)
                statuses.append(int(response.status))

            async with anyio.create_task_group() as tg:
                tg.start_soon(claim)
                tg.start_soon(claim)
    assert sorted(statuses) == [0x0000, 0xC302]


async def test_sqlite_store_keeps_workitems_and_subscriptions(tmp_path: Path) -> None:
    db = tmp_path / "ups.sqlite"
    uid = "1.2.826.0.1.3680043.2.1125.9"
    with anyio.fail_after(15):
        async with ups_scp(SQLiteStore(db, synchronous="NORMAL")) as (_, port, _monitor):
            async with aioups.open_association(HOST, port, called_ae_title="UPSSCP",
                                               contexts=CONTEXTS) as assoc:
                await aioups.n_action(assoc, UPS_PUSH, UPS_GLOBAL_SUBSCRIPTION_INSTANCE, 3,
                                      info(ReceivingAE="MONITOR", DeletionLock="TRUE"),
                                      abstract_syntax=UPS_WATCH)
                await aioups.n_create(assoc, UPS_PUSH, uid, create_request())
        async with ups_scp(SQLiteStore(db, synchronous="NORMAL")) as (service, port, monitor):
            assert uid in service.workitems
            await monitor.wait_for(1)  # SCP Status Change: RESTARTED, to the kept subscriber
            assert monitor.events[0][0] == 4 and monitor.events[0][2] == "RESTARTED"
            assert service.subscriptions.has_deletion_lock(uid)
