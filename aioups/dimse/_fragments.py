"""Splitting messages into PDVs (DIMSE-30) and reassembling them (DIMSE-31).

Outgoing fragments respect the **peer's** Maximum Length: a P-DATA-TF's PDU-length counts
6 bytes of header per PDV plus the fragment (UL-60).  Incoming fragments are joined as byte
streams, because element headers may be split anywhere (UL-33).
"""

from __future__ import annotations

from typing import final

from ..errors import LocalProtocolError, RemoteProtocolError
from ..pdu import PDV, AbortReason
from ..ul import PDataRequest

_UNEXPECTED = AbortReason.UNEXPECTED_PDU_PARAMETER
_INVALID = AbortReason.INVALID_PDU_PARAMETER_VALUE


def _split(context_id: int, data: bytes, is_command: bool, size: int) -> list[PDV]:
    if len(data) <= size:
        return [PDV(context_id, is_command, True, data)]
    last = len(data) - size
    return [PDV(context_id, is_command, pos >= last, data[pos:pos + size])
            for pos in range(0, len(data), size)]


def fragment_message(context_id: int, command: bytes, data_set: bytes | None,
                     peer_max_pdu_length: int, *, pack: bool = True) -> list[PDataRequest]:
    """The P-DATA requests that carry one message.

    Args:
        peer_max_pdu_length: the peer's Maximum Length (0 = unlimited).
        pack: put the whole message (command PDV + data PDV) in one P-DATA-TF when it fits
            (UL-35); ``False`` sends exactly one PDV per PDU (upsscu's ``--not-pack-pdv``).
    """
    total = len(command) + 6 + (len(data_set) + 6 if data_set is not None else 0)
    if peer_max_pdu_length == 0 or (pack and total <= peer_max_pdu_length):
        pdvs = [PDV(context_id, True, True, command)]
        if data_set is not None:
            pdvs.append(PDV(context_id, False, True, data_set))
        if pack:
            return [PDataRequest(tuple(pdvs))]
        return [PDataRequest((p,)) for p in pdvs]
    size = (peer_max_pdu_length - 6) & ~1
    if size < 2:
        raise LocalProtocolError(f"peer maximum PDU length {peer_max_pdu_length} is too small")
    pdvs = _split(context_id, command, True, size)
    if data_set is not None:
        pdvs.extend(_split(context_id, data_set, False, size))
    return [PDataRequest((p,)) for p in pdvs]


@final
class MessageAssembler:
    """Collects PDVs into (context_id, command bytes) and then data-set bytes.

    The caller decodes the finished command and says whether a data set follows, because only
    the command's (0000,0800) knows that (DIMSE-31).
    """

    __slots__ = ("_command", "_context_id", "_data", "_expect_data")

    def __init__(self) -> None:
        self._context_id: int | None = None
        self._command: list[bytes] = []
        self._data: list[bytes] = []
        self._expect_data = False

    @property
    def idle(self) -> bool:
        """True between messages."""
        return self._context_id is None

    def expect_data_set(self) -> None:
        """The command just returned announced a data set: collect it next."""
        self._expect_data = True

    def add(self, pdv: PDV) -> tuple[int, bool, bytes] | None:
        """Add one PDV; returns ``(context_id, is_command, stream)`` when a stream completes.

        Raises:
            RemoteProtocolError: fragments out of order or a context change inside a message.
        """
        if self._context_id is None:
            self._context_id = pdv.context_id
        elif pdv.context_id != self._context_id:
            raise RemoteProtocolError(
                f"PDV on context {pdv.context_id} inside a message on {self._context_id}",
                abort_reason=_UNEXPECTED)
        if pdv.is_command:
            if self._expect_data:
                raise RemoteProtocolError("command fragment while a data set was expected",
                                          abort_reason=_UNEXPECTED)
            parts = self._command
        else:
            if not self._expect_data:
                raise RemoteProtocolError("data-set fragment before the command was complete",
                                          abort_reason=_UNEXPECTED)
            parts = self._data
        if not pdv.is_last:
            parts.append(pdv.data)
            return None
        if parts:
            parts.append(pdv.data)
            stream = b"".join(parts)
            parts.clear()
        else:
            stream = pdv.data
        context_id = self._context_id
        if not pdv.is_command:
            self._reset()
        return context_id, pdv.is_command, stream

    def finish(self) -> None:
        """The command just returned has no data set: the message is complete."""
        self._reset()

    def _reset(self) -> None:
        self._context_id = None
        self._expect_data = False
        self._command.clear()
        self._data.clear()
