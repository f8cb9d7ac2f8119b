"""A requestor that writes PDUs itself, for tests that must break the rules (requests in roles
not granted, beyond the window, reused Message IDs, unknown commands) or see the exact bytes."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Self

import anyio
from anyio.abc import SocketStream

from aioups.dimse import DIMSEEngine, Message, MessageReceived, fragment_message
from aioups.pdu import PDU, AAssociateAC, AReleaseRP, AReleaseRQ, PDataTF, PDUFramer, encode_pdu
from aioups.ul import PresentationContextProposal, build_associate_rq, negotiated_from_ac

HOST = "127.0.0.1"


class RawRequestor:
    """Speaks A-ASSOCIATE, P-DATA and A-RELEASE over a plain TCP stream."""

    def __init__(self, stream: SocketStream) -> None:
        self.stream = stream
        self.framer = PDUFramer()
        self.engine: DIMSEEngine | None = None
        self.peer_max = 0
        #: of context 1, when it was accepted
        self.transfer_syntax = ""
        self.messages: deque[MessageReceived] = deque()

    @classmethod
    @asynccontextmanager
    async def connect(cls, port: int, contexts: tuple[PresentationContextProposal, ...], *,
                      invoked: int = 1, performed: int = 1) -> AsyncIterator[Self]:
        rq = build_associate_rq(calling_ae_title="RAW", called_ae_title="AIOUPS",
                                contexts=contexts, max_operations_invoked=invoked,
                                max_operations_performed=performed)
        async with await anyio.connect_tcp(HOST, port) as stream:
            peer = cls(stream)
            await stream.send(encode_pdu(rq))
            ac = await peer.next_pdu()
            assert isinstance(ac, AAssociateAC), ac
            negotiated = negotiated_from_ac(rq, ac, requestor=True)
            peer.engine = DIMSEEngine(negotiated.contexts, negotiated.peer_max_pdu_length)
            peer.peer_max = negotiated.peer_max_pdu_length
            if 1 in negotiated.contexts:
                peer.transfer_syntax = negotiated.contexts[1].transfer_syntax
            yield peer

    async def next_pdu(self) -> PDU:
        while (pdu := self.framer.next_pdu()) is None:
            self.framer.feed(await self.stream.receive())
        return pdu

    async def send(self, context_id: int, message: Message, data_set: bytes | None = None,
                   ) -> None:
        assert self.engine is not None
        for request in self.engine.encode(context_id, message, data_set):
            await self.stream.send(encode_pdu(PDataTF(request.pdvs)))

    async def send_command(self, context_id: int, command: bytes,
                           data_set: bytes | None = None) -> None:
        """Send an already encoded command set (e.g. one aioups has no message class for)."""
        for request in fragment_message(context_id, command, data_set, self.peer_max):
            await self.stream.send(encode_pdu(PDataTF(request.pdvs)))

    async def receive(self) -> MessageReceived:
        """The next whole message the server sent."""
        assert self.engine is not None
        while not self.messages:
            pdu = await self.next_pdu()
            assert isinstance(pdu, PDataTF), pdu
            self.messages.extend(self.engine.receive_pdvs(pdu.pdvs))
        return self.messages.popleft()

    async def request(self, message: Message, data_set: bytes | None = None,
                      context_id: int = 1) -> MessageReceived:
        """Send ``message`` and return the next message received (its response)."""
        await self.send(context_id, message, data_set)
        return await self.receive()

    async def release(self) -> None:
        await self.stream.send(encode_pdu(AReleaseRQ()))
        assert isinstance(await self.next_pdu(), AReleaseRP)
