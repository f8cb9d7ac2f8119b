"""The aioups roles of ``peers.py``: servers (C-ECHO, N-CREATE, N-GET; ``UPSService``), clients,
the idle-association holder, the probe and the event receiver."""

from __future__ import annotations

import contextlib
import functools
import sys
import time
from typing import Any

from _peers_common import (
    BACKENDS,
    EXPLICIT_LE,
    HOST,
    UPS_PULL,
    UPS_PUSH,
    parse_store_spec,
    subscriber_titles,
    ups_workitem,
    workitem,
)


def aioups_handlers() -> dict[tuple[str, type], Any]:
    """N-CREATE keeps the data set as received (bytes); N-GET answers with the stored bytes."""
    import aioups
    from aioups.dimse import CEchoRQ, NCreateRQ, NCreateRSP, NGetRQ, NGetRSP, generate_uid
    from aioups.net import ServiceRequest, echo_handler, inline_handler

    stored: dict[str, bytes | None] = {}
    template = aioups.dimse.encode_data_set(workitem(), EXPLICIT_LE)

    @inline_handler
    async def n_create(request: ServiceRequest) -> NCreateRSP:
        message = request.message
        assert isinstance(message, NCreateRQ)
        uid = message.affected_sop_instance_uid or generate_uid()
        stored[uid] = request.data_set_bytes
        return NCreateRSP(message_id_being_responded_to=message.message_id,
                          affected_sop_class_uid=message.affected_sop_class_uid,
                          affected_sop_instance_uid=uid)

    @inline_handler
    async def n_get(request: ServiceRequest) -> tuple[NGetRSP, bytes | None]:
        message = request.message
        assert isinstance(message, NGetRQ)
        data = stored.get(message.requested_sop_instance_uid, template)
        if request.context.transfer_syntax != EXPLICIT_LE:
            data = request.encode(aioups.dimse.decode_data_set(data or b"", EXPLICIT_LE))
        return NGetRSP(message_id_being_responded_to=message.message_id,
                       affected_sop_class_uid=message.requested_sop_class_uid,
                       affected_sop_instance_uid=message.requested_sop_instance_uid), data

    return {(aioups.VERIFICATION, CEchoRQ): echo_handler, (UPS_PUSH, NCreateRQ): n_create,
            (UPS_PULL, NGetRQ): n_get, (UPS_PUSH, NGetRQ): n_get}


def serve_aioups(backend: str) -> None:
    import anyio

    from aioups import Server, ServerConfig

    async def main() -> None:
        server = Server(ServerConfig(ae_title="BENCH", max_associations=20000,
                                     handlers=aioups_handlers(), max_operations_invoked=0,
                                     max_operations_performed=0))
        async with anyio.create_task_group() as tg:
            port = await tg.start(server.serve, "127.0.0.1", 0)
            print(f"PORT {port}", flush=True)

    anyio.run(main, **BACKENDS[backend])


def echo_aioups(port: int, associations: int, per: int, backend: str) -> tuple[float, int]:
    import anyio

    import aioups

    async def main() -> tuple[float, int]:
        async with contextlib.AsyncExitStack() as stack:
            assocs = [await stack.enter_async_context(aioups.open_association(
                "127.0.0.1", port, called_ae_title="BENCH")) for _ in range(associations)]
            for assoc in assocs:
                await aioups.send_echo(assoc)  # warm up
            failed = 0

            async def worker(assoc: aioups.Association) -> None:
                nonlocal failed
                for _ in range(per):
                    if await aioups.send_echo(assoc) != aioups.Status.SUCCESS:
                        failed += 1

            started = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for assoc in assocs:
                    tg.start_soon(worker, assoc)
            return associations * per / (time.perf_counter() - started), failed

    result: tuple[float, int] = anyio.run(main, **BACKENDS[backend])
    return result


def dimse_aioups(service: str, port: int, operations: int, outstanding: int,
                 backend: str) -> tuple[float, int]:
    import anyio

    import aioups
    from aioups.dimse import generate_uid

    contexts = (aioups.PresentationContextProposal(abstract_syntax=UPS_PUSH,
                                                   transfer_syntaxes=(EXPLICIT_LE,)),
                aioups.PresentationContextProposal(abstract_syntax=UPS_PULL,
                                                   transfer_syntaxes=(EXPLICIT_LE,)))
    # The same workitem each time (its UID travels in the command): encoded once, sent as bytes.
    template = aioups.dimse.encode_data_set(workitem(), EXPLICIT_LE)
    uids = [generate_uid() for _ in range(operations + outstanding)]
    gets = (0x00100010, 0x00100020, 0x00741000, 0x00741204, 0x00404018)

    async def one(assoc: aioups.Association, i: int) -> bool:
        if service == "n-create":
            response = await aioups.n_create(assoc, UPS_PUSH, uids[i], template)
        else:
            response = await aioups.n_get(assoc, UPS_PUSH, "1.2.3", gets, abstract_syntax=UPS_PULL)
            assert response.data_set is not None and response.data_set.PatientID == "PID-123"
        return response.status == aioups.Status.SUCCESS

    async def main() -> tuple[float, int]:
        async with aioups.open_association(
                "127.0.0.1", port, called_ae_title="BENCH", contexts=contexts,
                max_operations_invoked=outstanding, max_operations_performed=1) as assoc:
            await one(assoc, operations)  # warm up
            failed = 0
            per = operations // outstanding

            async def worker(w: int) -> None:
                nonlocal failed
                for i in range(w * per, (w + 1) * per):
                    failed += not await one(assoc, i)

            started = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for w in range(outstanding):
                    tg.start_soon(worker, w)
            return per * outstanding / (time.perf_counter() - started), failed

    result: tuple[float, int] = anyio.run(main, **BACKENDS[backend])
    return result


def serve_ups_aioups(store_spec: str, backend: str, rx_port: int, subscribers: int) -> None:
    """aioups' own UPS SCP (``UPSService``), as an application embeds it."""
    import anyio

    import aioups

    kind, synchronous, path = parse_store_spec(store_spec)
    store: aioups.UPSStore = (aioups.MemoryStore() if kind == "memory"
                              else aioups.SQLiteStore(path, synchronous=synchronous))
    directory = {title: aioups.AEAddress(host=HOST, port=rx_port)
                 for title in subscriber_titles(subscribers)} if rx_port else {}
    service = aioups.UPSService(store, directory=directory, ae_title="BENCH", purge_after=None)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            port = await tg.start(functools.partial(service.serve, HOST, 0,
                                                    max_associations=20000))
            print(f"PORT {port}", flush=True)
            await anyio.sleep_forever()

    anyio.run(main, **BACKENDS[backend])


def ups_create_aioups(port: int, associations: int, per: int, backend: str) -> tuple[float, int]:
    import anyio

    import aioups
    from aioups.dimse import generate_uid

    contexts = (aioups.PresentationContextProposal(abstract_syntax=UPS_PUSH,
                                                   transfer_syntaxes=(EXPLICIT_LE,)),)
    data = aioups.dimse.encode_data_set(ups_workitem(), EXPLICIT_LE)  # encoded once: bytes
    uids = [[generate_uid() for _ in range(per + 1)] for _ in range(associations)]

    async def main() -> tuple[float, int]:
        async with contextlib.AsyncExitStack() as stack:
            assocs = [await stack.enter_async_context(aioups.open_association(
                HOST, port, called_ae_title="BENCH", contexts=contexts))
                for _ in range(associations)]
            for n, assoc in enumerate(assocs):  # warm up
                await aioups.n_create(assoc, UPS_PUSH, uids[n][per], data)
            failed = 0

            async def worker(n: int) -> None:
                nonlocal failed
                for i in range(per):
                    response = await aioups.n_create(assocs[n], UPS_PUSH, uids[n][i], data,
                                                     check=False)
                    failed += response.status != aioups.Status.SUCCESS

            started = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for n in range(associations):
                    tg.start_soon(worker, n)
            return associations * per / (time.perf_counter() - started), failed

    result: tuple[float, int] = anyio.run(main, **BACKENDS[backend])
    return result


def hold(port: int, count: int, concurrency: int) -> None:
    """Open ``count`` associations (``concurrency`` negotiating at once) and keep them idle."""
    import anyio
    import anyio.to_thread

    import aioups

    timeouts = aioups.Timeouts(connect=60.0, accept=60.0, release=30.0)

    async def main() -> None:
        gate = anyio.Semaphore(concurrency)
        stop = anyio.Event()
        counts = {"held": 0, "failed": 0}
        errors: dict[str, int] = {}
        settled = anyio.Event()

        def settle(key: str) -> None:
            counts[key] += 1
            if counts["held"] + counts["failed"] == count:
                settled.set()

        async def one() -> None:
            await gate.acquire()
            opening = True
            try:
                async with aioups.open_association(HOST, port, called_ae_title="BENCH",
                                                   timeouts=timeouts):
                    gate.release()
                    opening = False
                    settle("held")
                    await stop.wait()
            except Exception as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                if opening:
                    settle("failed")
            finally:
                if opening:
                    gate.release()

        async def progress() -> None:
            while not settled.is_set():
                await anyio.sleep(1.0)
                print(f"PROGRESS {counts['held']} {counts['failed']}", flush=True)

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            tg.start_soon(progress)
            for _ in range(count):
                tg.start_soon(one)
            await settled.wait()
            print(f"HELD {counts['held']} {counts['failed']} {time.perf_counter() - started:.2f}"
                  f" {' '.join(f'{k}={v}' for k, v in errors.items())}", flush=True)
            await anyio.to_thread.run_sync(sys.stdin.read)  # until the driver closes stdin
            released = time.perf_counter()
            stop.set()
        print(f"RELEASED {time.perf_counter() - released:.2f}", flush=True)

    anyio.run(main, **BACKENDS["uvloop" if _has_uvloop() else "asyncio"])


def _has_uvloop() -> bool:
    import importlib.util

    return importlib.util.find_spec("uvloop") is not None


def probe(port: int) -> None:
    """Is the server still serving new associations?  Associate, one C-ECHO, release."""
    import anyio

    import aioups

    async def main() -> None:
        try:
            with anyio.fail_after(60):
                started = time.perf_counter()
                async with aioups.open_association(HOST, port, called_ae_title="BENCH") as assoc:
                    associated = time.perf_counter()
                    status = await aioups.send_echo(assoc)
                    echoed = time.perf_counter()
            print(f"PROBE {int(status == aioups.Status.SUCCESS)} "
                  f"{(associated - started) * 1000:.1f} {(echoed - associated) * 1000:.1f}",
                  flush=True)
        except Exception as exc:
            print(f"PROBE 0 nan nan {type(exc).__name__}", flush=True)

    anyio.run(main)


def receiver(backend: str, expect: int) -> None:
    """One EventReceiver listener for every subscriber AE title (the called AE title is not
    checked); reports when all ``expect`` state reports of one (workitem, state) are in."""
    import anyio

    import aioups

    rx = aioups.EventReceiver("RX", max_buffer=None)

    async def main() -> None:
        seen: dict[tuple[str, str], list[float]] = {}
        async with anyio.create_task_group() as tg:
            port = await tg.start(functools.partial(rx.serve, HOST, 0, max_associations=20000))
            print(f"PORT {port}", flush=True)
            async for event in rx:
                now = time.monotonic()
                if event.event_type_id != 1 or not event.state:
                    continue
                key = (event.sop_instance_uid, event.state.replace(" ", "_"))
                entry = seen.setdefault(key, [0, now, now])
                entry[0] += 1
                entry[2] = now
                if entry[0] == expect:
                    print(f"DONE {key[0]} {key[1]} {entry[1]:.6f} {entry[2]:.6f}", flush=True)

    anyio.run(main, **BACKENDS[backend])


def fanout_client_aioups(port: int, subscribers: int, backend: str) -> None:
    import anyio
    import anyio.to_thread

    import aioups
    from aioups.dimse import generate_uid

    data = aioups.dimse.encode_data_set(ups_workitem(assigned=False), EXPLICIT_LE)

    async def main() -> None:
        async with aioups.UPSClient.connect(HOST, port, called_ae_title="BENCH",
                                            transfer_syntaxes=(EXPLICIT_LE,),
                                            max_operations_invoked=16) as client:
            titles = subscriber_titles(subscribers)
            for start in range(0, len(titles), 16):
                async with anyio.create_task_group() as tg:
                    for title in titles[start:start + 16]:
                        tg.start_soon(lambda t: client.subscribe(receiving_ae=t), title)
            print("READY", flush=True)
            uid = generate_uid()
            await anyio.to_thread.run_sync(sys.stdin.readline)
            await client.create(data, uid)
            print(f"RSP {uid} SCHEDULED {time.monotonic():.6f}", flush=True)
            await anyio.to_thread.run_sync(sys.stdin.readline)
            await client.claim(uid)
            print(f"RSP {uid} IN_PROGRESS {time.monotonic():.6f}", flush=True)
            await anyio.to_thread.run_sync(sys.stdin.readline)

    anyio.run(main, **BACKENDS[backend])
