"""Processes for the benchmarks, one role each, so no two peers share a GIL.

    python benchmarks/peers.py server aioups|pynetdicom [BACKEND]
        prints ``PORT <n>`` once it listens on 127.0.0.1, then serves until killed.
    python benchmarks/peers.py echo aioups|pynetdicom PORT ASSOCIATIONS PER_ASSOCIATION [BACKEND]
        opens the associations, then times the C-ECHOs; prints ``RATE <echoes/s> FAILED <n>``.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from typing import Any

BACKENDS: dict[str, dict[str, Any]] = {
    "asyncio": {"backend": "asyncio"},
    "uvloop": {"backend": "asyncio", "backend_options": {"use_uvloop": True}},
    "trio": {"backend": "trio"},
}


def serve_aioups(backend: str) -> None:
    import anyio

    from aioups import Server, ServerConfig

    async def main() -> None:
        server = Server(ServerConfig(ae_title="BENCH", max_associations=20000,
                                     max_operations_performed=0))
        async with anyio.create_task_group() as tg:
            port = await tg.start(server.serve, "127.0.0.1", 0)
            print(f"PORT {port}", flush=True)

    anyio.run(main, **BACKENDS[backend])


def serve_pynetdicom() -> None:
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    ae = AE(ae_title="BENCH")
    ae.maximum_associations = 500  # the default of 10 would refuse the concurrent runs
    ae.add_supported_context(Verification)
    server = ae.start_server(("127.0.0.1", 0), block=False,
                             evt_handlers=[(evt.EVT_C_ECHO, lambda event: 0x0000)])
    print(f"PORT {server.socket.getsockname()[1]}", flush=True)
    threading.Event().wait()


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


def echo_pynetdicom(port: int, associations: int, per: int) -> tuple[float, int]:
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    assocs = []
    for _ in range(associations):  # one AE and one thread per association
        ae = AE(ae_title="BENCHSCU")
        ae.add_requested_context(Verification)
        assoc = ae.associate("127.0.0.1", port, ae_title="BENCH")
        if not assoc.is_established:
            raise RuntimeError("pynetdicom could not associate")
        assoc.send_c_echo()
        assocs.append(assoc)
    failed = [0]
    barrier = threading.Barrier(associations + 1)

    def worker(assoc: Any) -> None:
        barrier.wait()
        for _ in range(per):
            try:
                status = assoc.send_c_echo()
                ok = bool(status) and status.Status == 0
            except RuntimeError:  # the association was aborted after a lost response
                ok = False
            failed[0] += not ok

    threads = [threading.Thread(target=worker, args=(a,)) for a in assocs]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    rate = associations * per / (time.perf_counter() - started)
    for assoc in assocs:
        if assoc.is_established:
            assoc.release()
    return rate, failed[0]


def main(argv: list[str]) -> None:
    role, impl = argv[0], argv[1]
    if role == "server":
        serve_aioups(argv[2]) if impl == "aioups" else serve_pynetdicom()
        return
    port, associations, per = int(argv[2]), int(argv[3]), int(argv[4])
    if impl == "aioups":
        rate, failed = echo_aioups(port, associations, per, argv[5])
    else:
        rate, failed = echo_pynetdicom(port, associations, per)
    print(f"RATE {rate:.1f} FAILED {failed}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
