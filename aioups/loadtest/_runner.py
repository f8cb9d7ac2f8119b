"""Running a load: many associations, each with an operations window, closed or open loop.

Closed loop (no ``rate``): each association keeps ``window`` operations going back to back.
Open loop (``rate`` operations/s in total): operation *k* of an association is due at
``start + k / (rate / associations)``, and its latency is counted from when it was due, not
from when it could start, so an SCP that falls behind shows up as latency instead of quietly
lowering the offered load.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import final

import anyio
import anyio.abc

import aioups
from aioups.errors import AioupsError, DIMSEFailure

from ._scenarios import SCENARIOS, Operation, StateHook
from ._stats import LatencySummary, LoadResult, Recorder

logger = logging.getLogger("aioups.load")

Progress = Callable[[Recorder, float], None]


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class LoadConfig:
    """One load run (see ``aioups load --help`` for the meaning of each)."""

    host: str
    port: int
    called_ae_title: str = "ANY-SCP"
    calling_ae_title: str = "AIOUPS_LOAD"
    scenario: str = "echo"
    associations: int = 1
    #: operations per association; ``None`` with ``duration``
    ops: int | None = 100
    duration: float | None = None
    rate: float | None = None
    window: int = 1
    transfer_syntaxes: tuple[str, ...] = (aioups.EXPLICIT_VR_LITTLE_ENDIAN,
                                          aioups.IMPLICIT_VR_LITTLE_ENDIAN)
    ssl_context: ssl.SSLContext | None = None
    timeouts: aioups.Timeouts = aioups.Timeouts()  # noqa: RUF009 - frozen, shared safely
    #: subscribe-storm: subscriber AE titles (``prefix0001`` ...) and where they listen
    subscribers: int = 10
    subscriber_prefix: str = "LOADRX"
    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    #: subscribe-storm: seconds to wait for the last events after the operations
    drain: float = 10.0

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.scenario!r}; one of {sorted(SCENARIOS)}")
        if self.associations < 1 or self.window < 1:
            raise ValueError("associations and window must be at least 1")
        if self.ops is None and self.duration is None:
            raise ValueError("give ops per association, a duration, or both")
        if self.rate is not None and self.rate <= 0:
            raise ValueError("rate must be positive")


@final
class _Plan:
    """Which operation comes next on one association, and when it is due."""

    def __init__(self, config: LoadConfig, start: float) -> None:
        self.config = config
        self.start = start
        self.next = 0
        self.deadline = math.inf if config.duration is None else start + config.duration
        self.interval = (config.associations / config.rate) if config.rate else 0.0

    def take(self) -> float | None:
        """The due time of the next operation (now for a closed loop), or None when done."""
        index = self.next
        self.next += 1
        if self.config.ops is not None and index >= self.config.ops:
            return None
        due = self.start + index * self.interval if self.interval else anyio.current_time()
        return None if due >= self.deadline else due


async def _association(config: LoadConfig, recorder: Recorder, start: float,
                       hook: StateHook | None) -> None:
    try:
        async with aioups.UPSClient.connect(
                config.host, config.port, called_ae_title=config.called_ae_title,
                calling_ae_title=config.calling_ae_title,
                transfer_syntaxes=config.transfer_syntaxes, ssl_context=config.ssl_context,
                timeouts=config.timeouts, max_operations_invoked=config.window) as client:
            operation = await SCENARIOS[config.scenario](client, hook)
            plan = _Plan(config, max(start, anyio.current_time()))
            async with anyio.create_task_group() as tg:
                for _ in range(config.window):
                    tg.start_soon(_worker, client, operation, plan, recorder)
    except (AioupsError, OSError) as exc:
        recorder.failure_exception(exc)
        logger.info("association %s: %r", config.called_ae_title, exc)


async def _worker(client: aioups.UPSClient, operation: Operation, plan: _Plan,
                  recorder: Recorder) -> None:
    while (due := plan.take()) is not None:
        now = anyio.current_time()
        if due > now:
            await anyio.sleep(due - now)
        try:
            requests = await operation()
        except DIMSEFailure as failure:
            recorder.failure_status(failure.status)
        except (AioupsError, OSError) as exc:
            recorder.failure_exception(exc)
            if not client.association.is_established:
                return
        else:
            recorder.success(anyio.current_time() - due, int(requests))


async def _report_progress(recorder: Recorder, start: float, progress: Progress,
                           interval: float) -> None:
    while True:
        await anyio.sleep(interval)
        progress(recorder, anyio.current_time() - start)


async def run_load(config: LoadConfig, *, progress: Progress | None = None,
                   progress_interval: float = 0.5) -> LoadResult:
    """Run the load ``config`` describes and measure it."""
    recorder = Recorder()
    storm = _Storm(config) if config.scenario == "subscribe-storm" else None
    async with anyio.create_task_group() as outer:
        if storm is not None:
            await storm.setup(outer)
        start = anyio.current_time()
        if progress is not None:
            outer.start_soon(_report_progress, recorder, start, progress, progress_interval)
        async with anyio.create_task_group() as tg:
            for _ in range(config.associations):
                tg.start_soon(_association, config, recorder, start,
                              storm.acknowledged if storm else None)
        elapsed = anyio.current_time() - start
        if storm is not None:
            await storm.drain()
            await storm.teardown()
        outer.cancel_scope.cancel()
    if progress is not None:
        progress(recorder, elapsed)
    result = LoadResult(
        scenario=config.scenario, associations=config.associations, elapsed=elapsed,
        operations=recorder.done, failed=recorder.failed, requests=recorder.requests,
        latency=LatencySummary.of(recorder.latencies), statuses=dict(recorder.statuses),
        exceptions=dict(recorder.exceptions), target_rate=config.rate)
    return storm.result(result) if storm is not None else result


@final
class _Storm:
    """subscribe-storm: S subscriber AEs listening in this process, subscribed globally; each
    state report's latency runs from the response that made the change to its arrival."""

    def __init__(self, config: LoadConfig) -> None:
        self.config = config
        self.titles = [f"{config.subscriber_prefix}{i:04d}"
                       for i in range(1, config.subscribers + 1)]
        self.receiver = aioups.EventReceiver(self.titles[0] if self.titles else "LOADRX",
                                             max_buffer=None)
        self.acknowledged_at: dict[tuple[str, str], float] = {}
        self.arrivals: list[tuple[str, str, float]] = []
        self.arrived = anyio.Event()

    def acknowledged(self, uid: str, state: str) -> None:
        self.acknowledged_at[(uid, state)] = anyio.current_time()

    async def setup(self, tg: anyio.abc.TaskGroup) -> None:
        await tg.start(self.receiver.serve, self.config.listen_host, self.config.listen_port)
        tg.start_soon(self._collect)
        await self._subscriptions(subscribe=True)

    async def _subscriptions(self, *, subscribe: bool) -> None:
        config = self.config
        async with aioups.UPSClient.connect(
                config.host, config.port, called_ae_title=config.called_ae_title,
                calling_ae_title=config.calling_ae_title, ssl_context=config.ssl_context,
                timeouts=config.timeouts, max_operations_invoked=16) as client:
            async def one(title: str) -> None:
                if subscribe:
                    await client.subscribe(receiving_ae=title)
                else:
                    await client.unsubscribe(receiving_ae=title, check=False)

            async with anyio.create_task_group() as tg:
                for title in self.titles:
                    tg.start_soon(one, title)

    async def _collect(self) -> None:
        async for event in self.receiver:
            if event.event_type_id == 1 and event.state:
                self.arrivals.append((event.sop_instance_uid, event.state,
                                      anyio.current_time()))
                self.arrived.set()

    def expected(self) -> int:
        return len(self.acknowledged_at) * len(self.titles)

    async def drain(self) -> None:
        with anyio.move_on_after(self.config.drain):
            while len(self._relevant()) < self.expected():
                self.arrived = anyio.Event()
                await self.arrived.wait()

    def _relevant(self) -> list[tuple[str, str, float]]:
        return [a for a in self.arrivals if (a[0], a[1]) in self.acknowledged_at]

    async def teardown(self) -> None:
        with anyio.move_on_after(10):
            await self._subscriptions(subscribe=False)

    def result(self, result: LoadResult) -> LoadResult:
        relevant = self._relevant()
        latencies = [max(0.0, t - self.acknowledged_at[(uid, state)])
                     for uid, state, t in relevant]
        return dataclasses.replace(result, events=len(relevant),
                                   events_expected=self.expected(),
                                   event_latency=LatencySummary.of(latencies))
