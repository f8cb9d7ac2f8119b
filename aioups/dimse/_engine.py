"""``DIMSEEngine``: PDVs ⇄ DIMSE messages for one association, sans-IO.

In: the PDVs of each received P-DATA-TF.  Out: :class:`MessageReceived` values (command decoded,
data set still bytes).  Going out, a message and its data-set bytes become the P-DATA requests
to hand to the Upper Layer, fragmented to the peer's Maximum Length.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import final

from ..errors import LocalProtocolError, RemoteProtocolError
from ..pdu import PDV, AbortReason
from ..ul import NegotiatedContext, PDataRequest
from ._command import UnknownCommand, decode_command, encode_command
from ._fragments import MessageAssembler, fragment_message
from ._messages import Message


@final
@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A complete DIMSE message: its context, the decoded command and the raw data set."""

    context_id: int
    message: Message | UnknownCommand
    data_set: bytes | None


@final
class DIMSEEngine:
    """Message assembly, encoding and Message ID allocation for one association.

    Args:
        contexts: the accepted presentation contexts (PDVs on any other context are refused).
        peer_max_pdu_length: the peer's Maximum Length (0 = unlimited).
        pack_pdv: allow several PDVs in one P-DATA-TF.
    """

    __slots__ = ("_assembler", "_contexts", "_last_id", "_pack", "_peer_max", "_pending")

    def __init__(self, contexts: Mapping[int, NegotiatedContext], peer_max_pdu_length: int,
                 *, pack_pdv: bool = True) -> None:
        self._contexts = contexts
        self._peer_max = peer_max_pdu_length
        self._pack = pack_pdv
        self._assembler = MessageAssembler()
        self._pending: tuple[int, Message | UnknownCommand] | None = None
        self._last_id = 0

    def receive_pdvs(self, pdvs: tuple[PDV, ...]) -> list[MessageReceived]:
        """Feed the PDVs of one P-DATA-TF; returns the messages they complete.

        Raises:
            RemoteProtocolError: a PDV on an unaccepted context, fragments out of order, or a
                command set that does not decode.  The association must be aborted.
        """
        out = []
        for pdv in pdvs:
            if pdv.context_id not in self._contexts:
                raise RemoteProtocolError(
                    f"PDV on presentation context {pdv.context_id}, which is not accepted",
                    abort_reason=AbortReason.INVALID_PDU_PARAMETER_VALUE)
            done = self._assembler.add(pdv)
            if done is None:
                continue
            context_id, is_command, stream = done
            if is_command:
                message, has_data_set = decode_command(stream)
                if has_data_set:
                    self._pending = (context_id, message)
                    self._assembler.expect_data_set()
                else:
                    self._assembler.finish()
                    out.append(MessageReceived(context_id, message, None))
            else:
                assert self._pending is not None
                out.append(MessageReceived(self._pending[0], self._pending[1], stream))
                self._pending = None
        return out

    def encode(self, context_id: int, message: Message,
               data_set: bytes | None = None) -> list[PDataRequest]:
        """The P-DATA requests that send ``message`` (and its data set) on ``context_id``."""
        data_set = data_set or None  # an empty data set is sent as none (UL-34: no empty PDV)
        command = encode_command(message, has_data_set=data_set is not None)
        return fragment_message(context_id, command, data_set, self._peer_max, pack=self._pack)

    def encode_raw(self, context_id: int, command: bytes) -> list[PDataRequest]:
        """The P-DATA requests that send an already encoded command set (no data set)."""
        return fragment_message(context_id, command, None, self._peer_max, pack=self._pack)

    def next_message_id(self, in_use: Container[int] = ()) -> int:
        """A Message ID, cycling 1…65535 and skipping any still outstanding (DIMSE-14)."""
        candidate = self._last_id
        for _ in range(65535):
            candidate = candidate % 65535 + 1
            if candidate not in in_use:
                self._last_id = candidate
                return candidate
        raise LocalProtocolError("all 65535 message IDs are outstanding")
