"""``aioups load`` and :mod:`aioups.loadtest`: small runs against an in-process UPS SCP."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import anyio.from_thread
import pytest

import aioups
from aioups.dimse import NCreateRQ
from aioups.errors import DIMSEStatusError
from aioups.loadtest import LoadConfig, run_load
from aioups.net import ServiceRequest

HOST = "127.0.0.1"
from cli.test_cli import run_cli  # noqa: E402  (tests/ is on sys.path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def service(listen_port: int = 0, subscribers: int = 0) -> aioups.UPSService:
    directory = {f"LOADRX{i:04d}": aioups.AEAddress(host=HOST, port=listen_port)
                 for i in range(1, subscribers + 1)}
    return aioups.UPSService(directory=directory, ae_title="UPSSCP")


async def _run(config: LoadConfig, scp: aioups.UPSService) -> aioups.loadtest.LoadResult:
    async with anyio.create_task_group() as tg:
        port = await tg.start(scp.serve, HOST, 0)
        fields = {f: getattr(config, f) for f in config.__slots__}
        result = await run_load(LoadConfig(**{**fields, "port": port}))
        tg.cancel_scope.cancel()
    return result


def config(scenario: str, **extra: object) -> LoadConfig:
    base: dict[str, object] = {"host": HOST, "port": 1, "called_ae_title": "UPSSCP",
                               "scenario": scenario, "associations": 2, "ops": 5, "window": 2}
    return LoadConfig(**{**base, **extra})  # type: ignore[arg-type]


@pytest.mark.anyio
@pytest.mark.parametrize(("scenario", "requests"), [
    ("echo", 1), ("create", 1), ("get", 1), ("find", 1), ("workflow", 4)])
async def test_scenarios_complete_every_operation(scenario: str, requests: int) -> None:
    with anyio.fail_after(30):
        result = await _run(config(scenario), service())
    assert (result.operations, result.failed) == (10, 0), result
    assert result.requests == 10 * requests
    assert result.latency.count == 10 and 0 < result.latency.p50 <= result.latency.max
    assert result.statuses == {} and result.exceptions == {}


@pytest.mark.anyio
async def test_workflow_leaves_completed_workitems() -> None:
    scp = service()
    with anyio.fail_after(30):
        await _run(config("workflow", associations=3, ops=4), scp)
    states = [item.state.value for item in scp.workitems.values()]
    assert states == ["COMPLETED"] * 12


@pytest.mark.anyio
async def test_subscribe_storm_counts_every_event() -> None:
    port = free_port()
    scp = service(listen_port=port, subscribers=5)
    with anyio.fail_after(30):
        result = await _run(config("subscribe-storm", subscribers=5, listen_port=port), scp)
    assert result.failed == 0
    assert result.events_expected == 5 * 10 * 3  # SCHEDULED, IN PROGRESS, COMPLETED each
    assert result.events == result.events_expected
    assert result.event_latency is not None and result.event_latency.count == result.events
    assert not any(scp.subscriptions.subscribers())  # unsubscribed at the end


@pytest.mark.anyio
async def test_open_loop_offers_the_rate() -> None:
    with anyio.fail_after(30):
        result = await _run(config("echo", ops=None, duration=1.0, rate=40.0), service())
    assert result.target_rate == 40.0
    assert 30 <= result.operations <= 42, result  # 40/s for 1 s, split over 2 associations
    assert result.failed == 0


@pytest.mark.anyio
async def test_failure_statuses_and_exceptions_are_counted() -> None:
    async def refuse(request: ServiceRequest) -> None:
        raise DIMSEStatusError(aioups.Status.PROCESSING_FAILURE, "no")

    server = aioups.Server(aioups.ServerConfig(ae_title="UPSSCP", handlers={
        (aioups.UPS_PUSH, NCreateRQ): refuse}))
    echo_only = aioups.Server(aioups.ServerConfig(ae_title="UPSSCP"))
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            port = await tg.start(server.serve, HOST, 0)
            created = await run_load(config("create", port=port))
            found = await run_load(config("find", port=port))  # its set-up create fails
            echo_port = await tg.start(echo_only.serve, HOST, 0)
            no_push = await run_load(config("create", port=echo_port))
            tg.cancel_scope.cancel()
    assert created.statuses == {"0110": 10} and created.failed == 10
    assert found.exceptions == {"DIMSEFailure": 2} and found.operations == 2
    assert no_push.exceptions == {"NoAcceptedContext": 2}


def test_config_checks() -> None:
    for bad in ({"scenario": "nope"}, {"associations": 0}, {"ops": None}, {"rate": 0.0}):
        with pytest.raises(ValueError):
            config(**{"scenario": "echo", **bad})


@contextmanager
def serving_ups() -> Iterator[int]:
    with anyio.from_thread.start_blocking_portal() as portal:
        future, port = portal.start_task(service().serve, HOST, 0)
        try:
            yield int(port)
        finally:
            future.cancel()


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    with serving_ups() as port:
        code = run_cli("load", "-c", f"UPSSCP@{HOST}:{port}", "--scenario", "create",
                       "--associations", "3", "--ops", "4", "--window", "2", "--json")
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert result["scenario"] == "create" and result["operations"] == 12
    assert result["succeeded"] == 12 and result["errors"] == {"by_status": {},
                                                             "by_exception": {}}
    assert set(result["latency_ms"]) == {"count", "p50", "p90", "p99", "max", "mean"}


def test_cli_readable_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with serving_ups() as port:
        code = run_cli("load", "-c", f"UPSSCP@{HOST}:{port}", "--ops", "20",
                       "--associations", "2")
    out, _ = capsys.readouterr()
    assert code == 0
    assert "scenario echo: 2 association(s), 40 operations" in out
    assert "latency ms: p50" in out
    code = run_cli("load", "-c", f"UPSSCP@{HOST}:{free_port()}", "--ops", "3")
    out, _ = capsys.readouterr()
    assert code == 5 and "ConnectError: 1" in out
    code = run_cli("load", "-c", f"UPSSCP@{HOST}:104", "--associations", "0")
    _, err = capsys.readouterr()
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
