"""Embed the UPS SCP in a trio application, with an event subscriber beside it.

The SCP, an event receiver (UPS Event SCU) and a UPS SCU all run in one trio nursery.  The
store is injected (in memory here) and a hook counts the stored changes:

    python examples/ups_scp_trio.py
"""

from __future__ import annotations

import trio
from ups_scp_asyncio import new_workitem, performed  # the data sets, shared with that example

import aioups
from aioups.ups import UPSEvent, Workitem


async def main() -> None:
    stored: list[str] = []

    async def on_change(item: Workitem, events: tuple[UPSEvent, ...]) -> None:
        stored.append(item.state.value)

    receiver = aioups.EventReceiver("WATCHER")
    async with trio.open_nursery() as nursery:
        rx_port = await nursery.start(receiver.serve, "127.0.0.1", 0)
        service = aioups.UPSService(
            aioups.MemoryStore(), ae_title="UPSSCP", on_change=on_change,
            directory={"WATCHER": aioups.AEAddress(host="127.0.0.1", port=rx_port)})
        port = await nursery.start(service.serve, "127.0.0.1", 0)

        async with aioups.UPSClient.connect("127.0.0.1", port, called_ae_title="UPSSCP",
                                            calling_ae_title="PERFORMER") as client:
            await client.subscribe(receiving_ae="WATCHER")  # global, without deletion lock
            uid = (await client.create(new_workitem("trio job"))).affected_sop_instance_uid
            assert uid is not None
            tuid = await client.claim(uid)
            await client.set(uid, performed(), tuid)
            await client.complete(uid, tuid)

        with trio.fail_after(5):
            for _ in range(3):  # SCHEDULED, IN PROGRESS, COMPLETED
                event = await receiver.receive()
                print(f"WATCHER: {event.event_type} {event.state} for {event.sop_instance_uid}")
        print(f"hook saw {len(stored)} stored changes: {', '.join(stored)}")
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
