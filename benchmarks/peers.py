"""Server processes for the benchmarks: ``python benchmarks/peers.py aioups|pynetdicom [backend]``.

Each prints ``PORT <n>`` on stdout once it listens on 127.0.0.1 and serves until killed.
"""

from __future__ import annotations

import sys


def run_aioups(backend: str) -> None:
    import anyio

    from aioups import Server, ServerConfig

    async def main() -> None:
        server = Server(ServerConfig(ae_title="BENCH", max_associations=20000,
                                     max_operations_performed=0))
        async with anyio.create_task_group() as tg:
            port = await tg.start(server.serve, "127.0.0.1", 0)
            print(f"PORT {port}", flush=True)

    if backend == "uvloop":
        anyio.run(main, backend="asyncio", backend_options={"use_uvloop": True})
    else:
        anyio.run(main, backend=backend)


def run_pynetdicom() -> None:
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    ae = AE(ae_title="BENCH")
    ae.maximum_associations = 200
    ae.add_supported_context(Verification)
    server = ae.start_server(("127.0.0.1", 0), block=False,
                             evt_handlers=[(evt.EVT_C_ECHO, lambda event: 0x0000)])
    print(f"PORT {server.socket.getsockname()[1]}", flush=True)
    server.serve_forever = None  # type: ignore[assignment]
    import threading
    threading.Event().wait()


if __name__ == "__main__":
    if sys.argv[1] == "aioups":
        run_aioups(sys.argv[2] if len(sys.argv) > 2 else "asyncio")
    else:
        run_pynetdicom()
