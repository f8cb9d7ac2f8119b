"""A TCP relay that records every PDU a requestor sends, for tests that must see what was
proposed and how it was framed (transfer syntaxes, Maximum Length, Asynchronous Operations
Window, PDVs per P-DATA-TF, P-DATA-TF lengths) without trusting the requestor's own view.

Run :meth:`PDUTap.serve` in a task group next to the SCP (``port = await tg.start(tap.serve)``)
and connect the requestor to ``port`` instead of the SCP's.  The bytes are forwarded unchanged
in both directions; only the requestor-to-SCP direction is split into PDUs and recorded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import anyio
from anyio.abc import ByteStream, SocketStream, TaskStatus

from aioups.pdu import PDU, AAssociateRQ, PDataTF, decode_pdu_bytes

HOST = "127.0.0.1"


@dataclass(frozen=True)
class TappedPDU:
    """One PDU the requestor sent: its type byte, its PDU-length field and its decoded value."""

    pdu_type: int
    length: int
    pdu: PDU


@dataclass
class PDUTap:
    """Relays ``HOST:0`` to ``HOST:target_port``; :attr:`sent` lists what requestors sent."""

    target_port: int
    sent: list[TappedPDU] = field(default_factory=list)

    def clear(self) -> None:
        self.sent.clear()

    def associate_requests(self) -> list[AAssociateRQ]:
        return [t.pdu for t in self.sent if isinstance(t.pdu, AAssociateRQ)]

    def p_data(self) -> list[TappedPDU]:
        return [t for t in self.sent if isinstance(t.pdu, PDataTF)]

    async def serve(self, *, task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        listener = await anyio.create_tcp_listener(local_host=HOST, local_port=0)
        async with listener:
            task_status.started(int(listener.extra(anyio.abc.SocketAttribute.local_port)))
            await listener.serve(self._relay)

    async def _relay(self, client: SocketStream) -> None:
        async with client, await anyio.connect_tcp(HOST, self.target_port) as server, \
                anyio.create_task_group() as tg:
            tg.start_soon(self._copy, server, client, False, tg.cancel_scope)
            await self._copy(client, server, True, tg.cancel_scope)

    async def _copy(self, source: ByteStream, sink: ByteStream, record: bool,
                    scope: anyio.CancelScope) -> None:
        buffer = bytearray()
        try:
            async for chunk in source:
                if record:
                    buffer += chunk
                    self._split(buffer)
                await sink.send(chunk)
            await sink.send_eof()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass
        finally:
            if not record:  # the SCP closed: the requestor's side ends too
                scope.cancel()

    def _split(self, buffer: bytearray) -> None:
        while len(buffer) >= 6:
            pdu_type, _, length = struct.unpack_from(">BBL", buffer)
            if len(buffer) < 6 + length:
                return
            raw = bytes(buffer[:6 + length])
            del buffer[:6 + length]
            self.sent.append(TappedPDU(pdu_type, length, decode_pdu_bytes(raw)))
