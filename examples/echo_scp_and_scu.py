"""Run a Verification SCP and echo it, inside one program, on asyncio or trio.

    python examples/echo_scp_and_scu.py [asyncio|trio]
"""

from __future__ import annotations

import sys

import anyio

import aioups


async def main() -> None:
    server = aioups.Server(aioups.ServerConfig(ae_title="EXAMPLE_SCP"))
    async with anyio.create_task_group() as tg:
        port = await tg.start(server.serve, "127.0.0.1", 0)
        async with aioups.open_association("127.0.0.1", port, called_ae_title="EXAMPLE_SCP",
                                           calling_ae_title="EXAMPLE_SCU") as assoc:
            status = await aioups.send_echo(assoc)
            print(f"C-ECHO: {status.describe()}")
        tg.cancel_scope.cancel()  # stop serving


if __name__ == "__main__":
    anyio.run(main, backend=sys.argv[1] if len(sys.argv) > 1 else "asyncio")
