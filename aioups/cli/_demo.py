"""``aioups demo``: the main job on embedded defaults — start an SCP and exercise it."""

from __future__ import annotations

import argparse
import time

import anyio

import aioups


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="start an SCP on 127.0.0.1 and echo it",
                       description="Start an aioups SCP on a free local port, open an "
                       "association to it, send C-ECHOs and print what happened.")
    p.add_argument("--echoes", type=int, default=1000, help="echoes to time (default 1000)")
    p.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    server = aioups.Server(aioups.ServerConfig(ae_title="AIOUPS_SCP"))
    async with anyio.create_task_group() as tg:
        port = await tg.start(server.serve, "127.0.0.1", 0)
        print(f"SCP AIOUPS_SCP listening on 127.0.0.1:{port}")
        async with aioups.open_association("127.0.0.1", port, called_ae_title="AIOUPS_SCP",
                                           calling_ae_title="DEMO_SCU") as assoc:
            assert assoc.negotiated is not None
            ctx = assoc.context_for(aioups.VERIFICATION)
            print(f"association accepted: context {ctx.context_id} {ctx.abstract_syntax} "
                  f"({ctx.transfer_syntax}), peer max PDU "
                  f"{assoc.negotiated.peer_max_pdu_length}")
            status = await aioups.send_echo(assoc)
            print(f"C-ECHO -> {status.describe()}")
            started = time.perf_counter()
            for _ in range(args.echoes):
                await aioups.send_echo(assoc)
            rate = args.echoes / (time.perf_counter() - started)
            print(f"{args.echoes} more C-ECHOs over one association: {rate:.0f}/s "
                  "(client and server in this one process)")
        print("association released")
        tg.cancel_scope.cancel()
    return 0
