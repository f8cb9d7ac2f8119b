"""Malformed input gives :class:`PDUDecodeError` (with a sensible offset and A-ABORT reason), and
nothing else, ever: hand-made truncations and bad items, then hypothesis fuzzing of arbitrary
bytes and of mutated valid PDUs, through ``decode_pdu_bytes`` and through ``PDUFramer``."""

from __future__ import annotations

import struct

import pytest
from helpers import strategies as s
from hypothesis import given
from hypothesis import strategies as st

from aioups.errors import PDUDecodeError, RemoteProtocolError
from aioups.pdu import PDU, AbortReason, PDUFramer, decode_pdu_bytes, encode_pdu

UNRECOGNIZED = AbortReason.UNRECOGNIZED_PDU                # 1
UNEXPECTED = AbortReason.UNEXPECTED_PDU_PARAMETER          # 5
INVALID = AbortReason.INVALID_PDU_PARAMETER_VALUE          # 6
PDU_REASONS = {int(UNRECOGNIZED), 4, int(UNEXPECTED), int(INVALID)}

APP = b"1.2.840.10008.3.1.1.1"
TS = b"1.2.840.10008.1.2"
ITEMS = 74  # offset of the first variable item in an A-ASSOCIATE-RQ/AC


def _item(item_type: int, body: bytes) -> bytes:
    return struct.pack(">BBH", item_type, 0, len(body)) + body


def _pdu(pdu_type: int, body: bytes) -> bytes:
    return struct.pack(">BBL", pdu_type, 0, len(body)) + body


def _assoc(pdu_type: int, items: bytes, called: bytes = b"CALLED".ljust(16)) -> bytes:
    return _pdu(pdu_type, b"\x00\x01\x00\x00" + called + b"CALLING".ljust(16) + bytes(32) + items)


A10 = _item(0x10, APP)                                                      # 25 bytes
UI = _item(0x50, _item(0x51, bytes(4)) + _item(0x52, b"1.2"))               # 19 bytes
PC_RQ = _item(0x20, b"\x01\x00\x00\x00" + _item(0x30, TS) + _item(0x40, TS))  # 50 bytes


def _ui_with(sub: bytes) -> bytes:
    return _assoc(1, A10 + _item(0x50, _item(0x51, bytes(4)) + _item(0x52, b"1.2") + sub))


UI_SUB = ITEMS + 25 + 4 + 8 + 7  # offset of a sub-item appended by _ui_with

# (raw bytes, expected pdu_type, expected offset, expected abort reason)
CASES: dict[str, tuple[bytes, int | None, int, int]] = {
    "empty": (b"", None, 0, UNRECOGNIZED),
    "header-5-bytes": (b"\x01\x00\x00\x00\x00", None, 0, UNRECOGNIZED),
    "length-field-too-big": (b"\x04\x00\x00\x00\x00\x0a" + bytes(4), 4, 2, INVALID),
    "length-field-too-small": (b"\x05\x00\x00\x00\x00\x02" + bytes(4), 5, 2, INVALID),
    "rj-length-5": (_pdu(3, bytes(5)), 3, 2, INVALID),
    "release-rq-length-0": (_pdu(5, b""), 5, 2, INVALID),
    "release-rp-length-8": (_pdu(6, bytes(8)), 6, 2, INVALID),
    "abort-length-3": (_pdu(7, bytes(3)), 7, 2, INVALID),
    "rq-fixed-fields-67": (_pdu(1, bytes(67)), 1, 6, INVALID),
    "ac-fixed-fields-0": (_pdu(2, b""), 2, 6, INVALID),
    "rq-item-header-3-bytes": (_assoc(1, A10 + UI + b"\x60\x00\x00"), 1, ITEMS + 44, INVALID),
    "rq-item-body-truncated": (_assoc(1, b"\x10\x00\x00\x20" + APP[:5]), 1, ITEMS + 4, INVALID),
    "rq-non-ascii-called-ae": (_assoc(1, A10 + UI, b"\xc4E".ljust(16)), 1, 10, INVALID),
    "rq-non-ascii-app-context": (_assoc(1, _item(0x10, b"1.2\xff") + UI), 1, ITEMS + 4,
                                 INVALID),
    "rq-no-app-context": (_assoc(1, PC_RQ + UI), 1, ITEMS + 50 + 19, INVALID),
    "rq-no-user-info": (_assoc(1, A10 + PC_RQ), 1, ITEMS + 25 + 50, INVALID),
    "rq-two-app-contexts": (_assoc(1, A10 + A10 + UI), 1, ITEMS + 25 + 4, UNEXPECTED),
    "rq-two-user-infos": (_assoc(1, A10 + UI + UI), 1, ITEMS + 44 + 4, UNEXPECTED),
    "rq-with-ac-context": (_assoc(1, A10 + _item(0x21, b"\x01\x00\x00\x00" + _item(0x40, TS))
                                  + UI), 1, ITEMS + 25 + 4, UNEXPECTED),
    "ac-with-rq-context": (_assoc(2, A10 + PC_RQ + UI), 2, ITEMS + 25 + 4, UNEXPECTED),
    "rq-sub-item-at-top-level": (_assoc(1, A10 + _item(0x30, TS) + UI), 1, ITEMS + 29,
                                 UNEXPECTED),
    "rq-context-body-2-bytes": (_assoc(1, A10 + _item(0x20, b"\x01\x00") + UI), 1,
                                ITEMS + 25 + 4 + 1, INVALID),
    "rq-context-no-abstract": (_assoc(1, A10 + _item(0x20, b"\x01\x00\x00\x00"
                                                     + _item(0x40, TS)) + UI), 1,
                               ITEMS + 25 + 4 + 25, INVALID),
    "rq-context-no-transfer": (_assoc(1, A10 + _item(0x20, b"\x01\x00\x00\x00"
                                                     + _item(0x30, TS)) + UI), 1,
                               ITEMS + 25 + 4 + 25, INVALID),
    "rq-context-two-abstracts": (_assoc(1, A10 + _item(0x20, b"\x01\x00\x00\x00"
                                                       + _item(0x30, TS) + _item(0x30, TS)
                                                       + _item(0x40, TS)) + UI), 1,
                                 ITEMS + 25 + 4 + 4 + 21 + 4, UNEXPECTED),
    "ac-accepted-context-no-transfer": (_assoc(2, A10 + _item(0x21, b"\x01\x00\x00\x00")
                                               + UI), 2, ITEMS + 25 + 4 + 4, INVALID),
    "ac-accepted-context-non-ascii-transfer": (
        _assoc(2, A10 + _item(0x21, b"\x01\x00\x00\x00" + _item(0x40, b"1.\x80")) + UI), 2,
        ITEMS + 25 + 4 + 4 + 4, INVALID),
    "51H-length-3": (_assoc(1, A10 + _item(0x50, _item(0x51, bytes(3)) + _item(0x52, b"1"))),
                     1, ITEMS + 25 + 4 + 4, INVALID),
    "53H-length-2": (_ui_with(_item(0x53, bytes(2))), 1, UI_SUB + 4, INVALID),
    "54H-uid-length-past-end": (_ui_with(_item(0x54, b"\x00\x09" + b"1.2" + b"\x01\x00")), 1,
                                UI_SUB + 4 + 2, INVALID),
    "54H-missing-role-bytes": (_ui_with(_item(0x54, b"\x00\x03" + b"1.2")), 1,
                               UI_SUB + 4 + 5, INVALID),
    "56H-no-uid-length": (_ui_with(_item(0x56, b"\x00")), 1, UI_SUB + 4, INVALID),
    "58H-no-secondary-length": (_ui_with(_item(0x58, b"\x01\x00\x00\x01u")), 1,
                                UI_SUB + 4 + 5, INVALID),
    "59H-response-past-end": (_ui_with(_item(0x59, b"\x00\x05ab")), 1, UI_SUB + 4 + 2,
                              INVALID),
    "pdata-pdv-header-5-bytes": (_pdu(4, bytes(5)), 4, 6, INVALID),
    "pdata-pdv-length-1": (_pdu(4, b"\x00\x00\x00\x01\x01\x03"), 4, 6, INVALID),
    "pdata-second-pdv-past-end": (_pdu(4, b"\x00\x00\x00\x02\x01\x03"
                                       + b"\x00\x00\x00\x09\x01\x02abcd"), 4, 12, INVALID),
}


@pytest.mark.parametrize(("raw", "pdu_type", "offset", "reason"), CASES.values(),
                         ids=CASES.keys())
def test_decode_pdu_bytes_malformed_raises_with_offset_and_reason(
        raw: bytes, pdu_type: int | None, offset: int, reason: int) -> None:
    with pytest.raises(PDUDecodeError) as info:
        decode_pdu_bytes(raw)
    err = info.value
    assert isinstance(err, RemoteProtocolError)
    assert (err.pdu_type, err.offset, err.abort_reason) == (pdu_type, offset, reason)
    assert 0 <= err.offset <= max(len(raw), 6)


def test_decode_common_extended_negotiation_truncated_uid_raises() -> None:
    sub = _item(0x57, b"\x00\x03" + b"1.2" + b"\x00\x09" + b"1.2")  # service UID past the end
    with pytest.raises(PDUDecodeError) as info:
        decode_pdu_bytes(_ui_with(sub))
    assert (info.value.offset, info.value.abort_reason) == (UI_SUB + 4 + 7, INVALID)


def test_decode_common_extended_negotiation_bad_related_list_offset_points_into_list() -> None:
    related = b"\x00\x05" + b"12"                   # a UID claiming 5 bytes, only 2 present
    sub = _item(0x57, b"\x00\x03" + b"1.2" + b"\x00\x03" + b"1.3" + b"\x00\x04" + related)
    raw = _ui_with(sub)
    list_start = UI_SUB + 4 + 5 + 5 + 2
    assert list_start + len(related) == len(raw)
    with pytest.raises(PDUDecodeError) as info:
        decode_pdu_bytes(raw)
    assert info.value.offset == list_start + 2      # after the bad UID-length field
    assert info.value.offset <= len(raw)


# ---------------------------------------------------------------------------------------------
# Properties: PDUDecodeError or a value, nothing else


def _decode_or_error(raw: bytes) -> PDU | PDUDecodeError:
    try:
        return decode_pdu_bytes(raw)
    except PDUDecodeError as err:
        assert err.abort_reason in PDU_REASONS
        assert err.offset >= 0
        return err


@s.PDU_SETTINGS
@given(s.pdus, st.data())
def test_decode_pdu_bytes_truncated_pdu_raises_length_error(value: PDU, data: st.DataObject
                                                           ) -> None:
    raw = encode_pdu(value)
    cut = data.draw(st.integers(0, len(raw) - 1), label="cut")
    with pytest.raises(PDUDecodeError) as info:
        decode_pdu_bytes(raw[:cut])
    if cut < 6:
        assert (info.value.offset, info.value.abort_reason) == (0, UNRECOGNIZED)
    else:
        assert (info.value.pdu_type, info.value.offset) == (raw[0], 2)
        assert info.value.abort_reason == INVALID


@s.PDU_SETTINGS
@given(s.pdus, st.data())
def test_decode_pdu_bytes_truncated_body_with_fixed_length_gives_value_or_error_inside(
        value: PDU, data: st.DataObject) -> None:
    raw = encode_pdu(value)
    cut = data.draw(st.integers(6, len(raw)), label="cut")
    truncated = _pdu(raw[0], raw[6:cut])
    result = _decode_or_error(truncated)
    if isinstance(result, PDUDecodeError):
        assert result.pdu_type == raw[0]
        assert result.offset == 2 or 6 <= result.offset <= len(truncated)


@s.PDU_SETTINGS
@given(st.binary(max_size=300))
def test_decode_pdu_bytes_arbitrary_bytes_gives_value_or_decode_error(raw: bytes) -> None:
    _decode_or_error(raw)


@s.PDU_SETTINGS
@given(st.integers(0, 9), st.binary(max_size=300))
def test_decode_pdu_bytes_arbitrary_body_behind_valid_header_gives_value_or_decode_error(
        pdu_type: int, body: bytes) -> None:
    _decode_or_error(_pdu(pdu_type, body))


@s.PDU_SETTINGS
@given(st.binary(max_size=300))
def test_decode_pdu_bytes_arbitrary_bytes_after_fixed_rq_fields_gives_value_or_error(
        items: bytes) -> None:
    _decode_or_error(_assoc(1, items))
    _decode_or_error(_assoc(2, items))


@s.PDU_SETTINGS
@given(s.pdus, st.data())
def test_decode_pdu_bytes_byte_flips_give_value_or_decode_error(value: PDU,
                                                                data: st.DataObject) -> None:
    raw = bytearray(encode_pdu(value))
    positions = st.integers(0, len(raw) - 1)
    for _ in range(data.draw(st.integers(1, 4), label="flips")):
        raw[data.draw(positions, label="at")] ^= data.draw(st.integers(1, 255), label="xor")
    _decode_or_error(bytes(raw))


@s.PDU_SETTINGS
@given(s.pdus, st.data())
def test_decode_pdu_bytes_item_body_flips_with_fixed_header_give_value_or_error(
        value: PDU, data: st.DataObject) -> None:
    # Keep the PDU header consistent so the mutation reaches the item decoders.
    raw = bytearray(encode_pdu(value))
    if len(raw) > 6:
        at = data.draw(st.integers(6, len(raw) - 1), label="at")
        raw[at] = data.draw(st.integers(0, 255), label="byte")
    extra = data.draw(st.binary(max_size=8), label="extra")
    _decode_or_error(_pdu(raw[0], bytes(raw[6:]) + extra))


# ---------------------------------------------------------------------------------------------
# The framer: arbitrary streams give PDUs or PDUDecodeError, and once failed it stays failed


def _drain(framer: PDUFramer) -> None:
    """Take PDUs until more bytes are needed; a body error skips that PDU, a header error is
    final (``failed``) and every later call raises again."""
    while True:
        try:
            if framer.next_pdu() is None:
                return
        except PDUDecodeError as err:
            assert err.abort_reason in PDU_REASONS
            if framer.failed:
                with pytest.raises(PDUDecodeError):
                    framer.next_pdu()
                return


def _feed_all(chunks: list[bytes], framer: PDUFramer) -> None:
    for chunk in chunks:
        framer.feed(chunk)
        _drain(framer)
        if framer.failed:
            return


@s.PDU_SETTINGS
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_framer_arbitrary_chunks_give_pdus_or_decode_error(chunks: list[bytes]) -> None:
    _feed_all(chunks, PDUFramer(max_pdata_length=256, max_other_length=512))


@s.STREAM_SETTINGS
@given(st.lists(s.pdus, min_size=1, max_size=3), st.data())
def test_framer_mutated_stream_gives_pdus_or_decode_error(values: list[PDU],
                                                          data: st.DataObject) -> None:
    stream = bytearray(b"".join(encode_pdu(v) for v in values))
    for _ in range(data.draw(st.integers(1, 3), label="flips")):
        stream[data.draw(st.integers(0, len(stream) - 1), label="at")] ^= data.draw(
            st.integers(1, 255), label="xor")
    cut = data.draw(st.integers(1, 16), label="chunk")
    _feed_all([bytes(stream[i:i + cut]) for i in range(0, len(stream), cut)],
              PDUFramer(max_pdata_length=4096, max_other_length=8192))
