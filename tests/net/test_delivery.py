"""Event delivery to subscribers: UPS Event with role selection, order, bursts, retries, drops."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

from aioups._uids import UPS_EVENT, UPS_PUSH
from aioups.dimse import Dataset, NEventReportRQ, NEventReportRSP
from aioups.net import Server, ServerConfig, ServiceRequest
from aioups.net._delivery import EventDelivery, OutgoingEvent
from aioups.net._directory import AEAddress
from aioups.ul import SupportedSyntax

pytestmark = pytest.mark.anyio
HOST = "127.0.0.1"


class Receiver:
    """A UPS Event SCU (it receives reports as the association acceptor)."""

    def __init__(self) -> None:
        self.events: list[tuple[int, str, str]] = []
        self.got = anyio.Event()
        self.expected = 0
        self.associations: set[int] = set()

    async def __call__(self, request: ServiceRequest) -> NEventReportRSP:
        message = request.message
        assert isinstance(message, NEventReportRQ)
        assert message.affected_sop_class_uid == UPS_PUSH
        assert request.context.local_scu and not request.context.local_scp
        data_set = request.data_set
        assert data_set is not None
        self.events.append((message.event_type_id, message.affected_sop_instance_uid,
                            str(data_set.ProcedureStepState)))
        self.associations.add(id(request.association))
        if len(self.events) >= self.expected:
            self.got.set()
        return NEventReportRSP(message_id_being_responded_to=message.message_id,
                               affected_sop_class_uid=message.affected_sop_class_uid,
                               affected_sop_instance_uid=message.affected_sop_instance_uid,
                               event_type_id=message.event_type_id)


@asynccontextmanager
async def receiver() -> AsyncIterator[tuple[Receiver, int]]:
    rx = Receiver()
    server = Server(ServerConfig(ae_title="MONITOR", handlers={(UPS_EVENT, NEventReportRQ): rx},
                                 supported={UPS_EVENT: SupportedSyntax(scu_role=False,
                                                                       scp_role=True)}))
    async with anyio.create_task_group() as tg:
        port = await tg.start(server.serve, HOST, 0)
        yield rx, port
        tg.cancel_scope.cancel()


def event(uid: str, state: str = "SCHEDULED") -> OutgoingEvent:
    ds = Dataset()
    ds.ProcedureStepState = state
    ds.InputReadinessState = "READY"
    return OutgoingEvent(1, uid, ds)


@asynccontextmanager
async def delivering(directory: dict[str, AEAddress], **options: float) -> AsyncIterator[
        EventDelivery]:
    delivery = EventDelivery(directory, calling_ae_title="UPSSCP", **options)  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        await tg.start(delivery.run)
        yield delivery
        tg.cancel_scope.cancel()


async def test_events_arrive_in_order_over_one_association() -> None:
    with anyio.fail_after(10):
        async with receiver() as (rx, port), delivering(
                {"MONITOR": AEAddress(host=HOST, port=port)}) as delivery:
            rx.expected = 50
            for i in range(50):
                delivery.submit("MONITOR", event(f"1.2.{i}", "IN PROGRESS" if i % 2 else
                                                 "SCHEDULED"))
            await rx.got.wait()
            await delivery.wait_idle()
    assert [e[1] for e in rx.events] == [f"1.2.{i}" for i in range(50)]
    assert rx.events[1] == (1, "1.2.1", "IN PROGRESS")
    assert len(rx.associations) == 1  # kept open for the burst
    assert delivery.stats.delivered == 50 and delivery.stats.queued == 50


async def test_association_released_after_idle_and_reopened() -> None:
    with anyio.fail_after(10):
        async with receiver() as (rx, port), delivering(
                {"MONITOR": AEAddress(host=HOST, port=port)}, idle_timeout=0.05) as delivery:
            rx.expected = 1
            delivery.submit("MONITOR", event("1.1"))
            await delivery.wait_idle()
            while delivery.workers:  # noqa: ASYNC110 - released after the idle timeout
                await anyio.sleep(0.01)
            rx.got, rx.expected = anyio.Event(), 2
            delivery.submit("MONITOR", event("1.2"))
            await rx.got.wait()
    assert len(rx.associations) == 2


async def test_unreachable_subscriber_is_retried_then_dropped() -> None:
    with anyio.fail_after(10):
        listener = await anyio.create_tcp_listener(local_host=HOST)  # a closed port, reserved
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        await listener.aclose()
        async with delivering({"GONE": AEAddress(host=HOST, port=port)}, retries=2,
                              backoff=0.01) as delivery:
            delivery.submit("GONE", event("1.1"))
            delivery.submit("GONE", event("1.2"))
            await delivery.wait_idle()
    assert delivery.stats.dropped_failed == 2 and delivery.stats.delivered == 0


async def test_unknown_ae_refused_and_full_queue_drops_oldest() -> None:
    with anyio.fail_after(10):
        async with receiver() as (rx, port), delivering(
                {"MONITOR": AEAddress(host=HOST, port=port)}, queue_size=3) as delivery:
            assert not delivery.knows("NOBODY") and delivery.knows("MONITOR ")
            delivery.submit("NOBODY", event("9"))
            assert delivery.stats.refused == 1
            rx.expected = 3
            for i in range(5):  # no await in between: the worker has not run yet
                delivery.submit("MONITOR", event(f"1.{i}"))
            await rx.got.wait()
            await delivery.wait_idle()
    assert [e[1] for e in rx.events] == ["1.2", "1.3", "1.4"]
    assert delivery.stats.dropped_full == 2


async def test_data_set_encoded_once_per_transfer_syntax() -> None:
    out = event("1.1")
    first = out.encoded("1.2.840.10008.1.2.1")
    assert out.encoded("1.2.840.10008.1.2.1") is first
    assert out.encoded("1.2.840.10008.1.2") != first
