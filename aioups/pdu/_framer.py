"""Incremental PDU framing over a byte stream.

Chunks of any size go in with :meth:`PDUFramer.feed`; whole PDUs come out of
:meth:`PDUFramer.next_pdu` in order.  The 6-byte header is checked against the local limits as
soon as it is complete, **before** the body is buffered, so a peer claiming a 4 GiB PDU costs
nothing but an A-ABORT.
"""

from __future__ import annotations

import struct
from typing import final

from ..errors import PDUDecodeError
from ._decode import decode_pdata, decode_pdu
from ._enums import AbortReason, PDUType
from ._pdus import PDU

_HEADER = struct.Struct(">BBL")

#: Default ceiling for non-P-DATA PDUs (A-ASSOCIATE-RQ/AC with many contexts and a SAML
#: assertion stay far below it).  PS3.8 sets no limit for them (UL-60), so this is a local guard.
DEFAULT_MAX_OTHER_LENGTH = 1 << 20

#: Ceiling for P-DATA-TF when the local maximum length is 0 ("unlimited", UL-60).
UNLIMITED_PDATA_CEILING = 1 << 26


@final
class PDUFramer:
    """Splits a received byte stream into PDUs.

    Args:
        max_pdata_length: the Maximum Length we advertised (51H); 0 means unlimited, which is
            still capped at ``UNLIMITED_PDATA_CEILING``.  A P-DATA-TF whose PDU-length exceeds
            it is refused.
        max_other_length: ceiling for every other PDU type.
    """

    __slots__ = ("_buffer", "_failed", "_max_other", "_max_pdata", "_pos")

    def __init__(self, *, max_pdata_length: int = 0,
                 max_other_length: int = DEFAULT_MAX_OTHER_LENGTH) -> None:
        self._buffer = bytearray()
        self._pos = 0
        self._max_pdata = max_pdata_length or UNLIMITED_PDATA_CEILING
        self._max_other = max_other_length
        self._failed = False

    def set_max_pdata_length(self, value: int) -> None:
        """Change the P-DATA limit (after negotiation)."""
        self._max_pdata = value or UNLIMITED_PDATA_CEILING

    @property
    def failed(self) -> bool:
        """True after a header error: the stream cannot be resynchronised."""
        return self._failed

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as PDUs."""
        return len(self._buffer) - self._pos

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        if self._pos and self._pos == len(self._buffer):
            self._buffer.clear()
            self._pos = 0
        self._buffer += data

    def next_pdu(self) -> PDU | None:
        """Return the next complete PDU, or ``None`` if more bytes are needed.

        Raises:
            PDUDecodeError: the PDU is invalid.  After an error in a PDU's body the framer is
                still in step and goes on with the next PDU; after an error in the header
                (a length over the limit) ``failed`` is true and every later call raises again.
        """
        if self._failed:
            raise PDUDecodeError("framer already failed", abort_reason=AbortReason.UNEXPECTED_PDU)
        buf, pos = self._buffer, self._pos
        if len(buf) - pos < 6:
            return None
        pdu_type, _, length = _HEADER.unpack_from(buf, pos)
        limit = self._max_pdata if pdu_type == PDUType.P_DATA_TF else self._max_other
        if length > limit:
            self._failed = True
            known = pdu_type in PDUType._value2member_map_
            reason = (AbortReason.INVALID_PDU_PARAMETER_VALUE if known
                      else AbortReason.UNRECOGNIZED_PDU)
            raise PDUDecodeError(f"PDU length {length} exceeds the local limit {limit}",
                                 pdu_type=pdu_type, offset=2, abort_reason=reason)
        end = pos + 6 + length
        if len(buf) < end:
            return None
        body = bytes(buf[pos + 6:end])
        self._pos = end
        if end == len(buf):
            buf.clear()
            self._pos = 0
        elif end > 65536:
            del buf[:end]
            self._pos = 0
        if pdu_type == PDUType.P_DATA_TF:
            return decode_pdata(body)
        return decode_pdu(pdu_type, body)
