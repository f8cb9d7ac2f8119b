"""PDUFramer: any chunking of a byte stream yields the same PDUs in order; the header is checked
against the local limits before the body is buffered (UL-60); a header failure is final, while
a PDU with a bad body is skipped and the framer stays in step."""

from __future__ import annotations

import itertools
import struct

import pytest
from helpers import strategies as s
from hypothesis import given
from hypothesis import strategies as st

from aioups.errors import PDUDecodeError
from aioups.pdu import (
    DEFAULT_MAX_OTHER_LENGTH,
    PDU,
    PDV,
    UNLIMITED_PDATA_CEILING,
    AAbort,
    AbortReason,
    AbortSource,
    AReleaseRP,
    AReleaseRQ,
    PDataTF,
    PDUFramer,
    UnknownPDU,
    encode_pdu,
)

RELEASE_RQ = bytes.fromhex("05 00 00000004 00000000")
ABORT = bytes.fromhex("07 00 00000004 0000 02 01")
PDATA = bytes.fromhex("04 00 0000000a 00000006 01 03 00010203")
PDATA_VALUE = PDataTF((PDV(1, True, True, bytes.fromhex("00010203")),))
STREAM = RELEASE_RQ + PDATA + ABORT + PDATA
STREAM_VALUES = [AReleaseRQ(), PDATA_VALUE,
                 AAbort(source=AbortSource.SERVICE_PROVIDER, reason=AbortReason.UNRECOGNIZED_PDU),
                 PDATA_VALUE]


def _header(pdu_type: int, length: int) -> bytes:
    return struct.pack(">BBL", pdu_type, 0, length)


def _pdata_of_length(length: int) -> bytes:
    """A valid P-DATA-TF whose PDU-length field is ``length`` (>= 6): one PDV."""
    return _header(4, length) + struct.pack(">LBB", length - 4, 1, 0) + bytes(length - 6)


def _drain(framer: PDUFramer) -> list[PDU]:
    out = []
    while (pdu := framer.next_pdu()) is not None:
        out.append(pdu)
    return out


def _feed_chunks(chunks: list[bytes], framer: PDUFramer | None = None) -> list[PDU]:
    framer = framer or PDUFramer()
    out = []
    for chunk in chunks:
        framer.feed(chunk)
        out.extend(_drain(framer))
    assert framer.buffered == 0
    return out


# ---------------------------------------------------------------------------------------------
# Chunking


def test_framer_whole_stream_yields_pdus_in_order() -> None:
    assert _feed_chunks([STREAM]) == STREAM_VALUES


def test_framer_byte_by_byte_yields_pdus_in_order() -> None:
    assert _feed_chunks([STREAM[i:i + 1] for i in range(len(STREAM))]) == STREAM_VALUES


def test_framer_empty_feed_returns_none() -> None:
    framer = PDUFramer()
    framer.feed(b"")
    assert framer.next_pdu() is None
    assert framer.buffered == 0


def test_framer_partial_header_and_partial_body_return_none_until_complete() -> None:
    framer = PDUFramer()
    framer.feed(PDATA[:5])
    assert framer.next_pdu() is None
    framer.feed(PDATA[5:10])
    assert framer.next_pdu() is None
    assert framer.buffered == 10
    framer.feed(PDATA[10:] + RELEASE_RQ[:3])
    assert framer.next_pdu() == PDATA_VALUE
    assert framer.next_pdu() is None
    assert framer.buffered == 3
    framer.feed(RELEASE_RQ[3:])
    assert framer.next_pdu() == AReleaseRQ()
    assert framer.buffered == 0


def test_framer_pdus_larger_than_compaction_threshold_keep_order() -> None:
    big = _pdata_of_length(70_006)  # > 65536 bytes: the framer compacts its buffer
    framer = PDUFramer()
    framer.feed(big + RELEASE_RQ + ABORT[:4])
    first = framer.next_pdu()
    assert isinstance(first, PDataTF)
    assert len(first.pdvs[0].data) == 70_000
    assert framer.next_pdu() == AReleaseRQ()
    assert framer.next_pdu() is None
    assert framer.buffered == 4
    framer.feed(ABORT[4:] + big)
    assert framer.next_pdu() == STREAM_VALUES[2]
    assert framer.next_pdu() == first
    assert framer.buffered == 0


@s.STREAM_SETTINGS
@given(st.lists(s.pdus, min_size=1, max_size=4), st.data())
def test_framer_random_chunk_splits_yield_same_pdus(values: list[PDU],
                                                    data: st.DataObject) -> None:
    stream = b"".join(encode_pdu(v) for v in values)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12), label="cuts"))
    bounds = [0, *cuts, len(stream)]
    chunks = [stream[a:b] for a, b in itertools.pairwise(bounds)]
    assert _feed_chunks(chunks) == values


@s.STREAM_SETTINGS
@given(st.lists(s.pdus, min_size=1, max_size=4))
def test_framer_whole_and_bytewise_feeds_agree(values: list[PDU]) -> None:
    stream = b"".join(encode_pdu(v) for v in values)
    assert _feed_chunks([stream]) == values
    assert _feed_chunks([stream[i:i + 1] for i in range(len(stream))]) == values


# ---------------------------------------------------------------------------------------------
# Limits: checked on the 6-byte header, before the body is buffered (UL-60)


def test_framer_huge_pdata_header_raises_after_six_bytes_without_buffering_body() -> None:
    header = _header(4, 0xFFFF_FFF0)
    framer = PDUFramer(max_pdata_length=16384)
    for i in range(5):
        framer.feed(header[i:i + 1])
        assert framer.next_pdu() is None
    framer.feed(header[5:])
    with pytest.raises(PDUDecodeError) as info:
        framer.next_pdu()
    assert (info.value.pdu_type, info.value.offset) == (4, 2)
    assert info.value.abort_reason == AbortReason.INVALID_PDU_PARAMETER_VALUE
    assert framer.buffered == 6


def test_framer_huge_pdata_header_with_unlimited_length_raises() -> None:
    framer = PDUFramer(max_pdata_length=0)
    framer.feed(_header(4, 0xFFFF_FFF0))
    with pytest.raises(PDUDecodeError):
        framer.next_pdu()
    assert framer.buffered == 6


@pytest.mark.parametrize("limit", [6, 100, 16382])
def test_framer_pdata_at_limit_is_accepted_and_one_over_raises(limit: int) -> None:
    framer = PDUFramer(max_pdata_length=limit)
    framer.feed(_pdata_of_length(limit))
    assert isinstance(framer.next_pdu(), PDataTF)
    framer.feed(_header(4, limit + 1))
    with pytest.raises(PDUDecodeError) as info:
        framer.next_pdu()
    assert info.value.abort_reason == AbortReason.INVALID_PDU_PARAMETER_VALUE


def test_framer_pdata_limit_does_not_apply_to_other_pdus() -> None:
    # An A-ASSOCIATE-RQ is not limited by the negotiated maximum length (UL-60).
    rq = _header(1, 200)
    framer = PDUFramer(max_pdata_length=64)
    framer.feed(rq)
    assert framer.next_pdu() is None
    framer.feed(bytes(200))  # the fixed fields alone do not make a valid RQ
    with pytest.raises(PDUDecodeError) as info:
        framer.next_pdu()
    assert "limit" not in str(info.value)


def test_framer_other_limit_does_not_apply_to_pdata() -> None:
    framer = PDUFramer(max_pdata_length=1000, max_other_length=10)
    framer.feed(_pdata_of_length(1000))
    assert isinstance(framer.next_pdu(), PDataTF)


@pytest.mark.parametrize("pdu_type", [1, 2, 3, 5, 6, 7])
def test_framer_other_pdu_over_max_other_length_raises_invalid_parameter(pdu_type: int) -> None:
    framer = PDUFramer(max_other_length=64)
    framer.feed(_header(pdu_type, 65))
    with pytest.raises(PDUDecodeError) as info:
        framer.next_pdu()
    assert (info.value.pdu_type, info.value.offset) == (pdu_type, 2)
    assert info.value.abort_reason == AbortReason.INVALID_PDU_PARAMETER_VALUE


def test_framer_unknown_pdu_over_max_other_length_raises_unrecognized_pdu() -> None:
    framer = PDUFramer(max_other_length=64)
    framer.feed(_header(0x09, 65))
    with pytest.raises(PDUDecodeError) as info:
        framer.next_pdu()
    assert info.value.abort_reason == AbortReason.UNRECOGNIZED_PDU


def test_framer_unknown_pdu_within_limit_gives_unknown_pdu() -> None:
    framer = PDUFramer(max_other_length=64)
    framer.feed(_header(0x09, 64) + bytes(64))
    assert framer.next_pdu() == UnknownPDU(pdu_type=9, data=bytes(64))


def test_framer_default_other_limit_is_one_mib() -> None:
    framer = PDUFramer()
    framer.feed(_header(1, DEFAULT_MAX_OTHER_LENGTH))
    assert framer.next_pdu() is None
    framer = PDUFramer()
    framer.feed(_header(1, DEFAULT_MAX_OTHER_LENGTH + 1))
    with pytest.raises(PDUDecodeError):
        framer.next_pdu()


def test_framer_max_pdata_zero_is_unlimited_up_to_ceiling() -> None:
    framer = PDUFramer(max_pdata_length=0)
    framer.feed(_header(4, UNLIMITED_PDATA_CEILING))
    assert framer.next_pdu() is None  # accepted: waits for the body
    assert framer.buffered == 6
    framer = PDUFramer(max_pdata_length=0)
    framer.feed(_header(4, UNLIMITED_PDATA_CEILING + 1))
    with pytest.raises(PDUDecodeError):
        framer.next_pdu()


def test_framer_set_max_pdata_length_changes_limit_and_zero_means_ceiling() -> None:
    framer = PDUFramer(max_pdata_length=16)
    framer.set_max_pdata_length(1000)
    framer.feed(_pdata_of_length(1000))
    assert isinstance(framer.next_pdu(), PDataTF)
    framer.set_max_pdata_length(0)
    framer.feed(_header(4, UNLIMITED_PDATA_CEILING))
    assert framer.next_pdu() is None
    framer = PDUFramer(max_pdata_length=0)
    framer.set_max_pdata_length(16)
    framer.feed(_header(4, 17))
    with pytest.raises(PDUDecodeError):
        framer.next_pdu()


# ---------------------------------------------------------------------------------------------
# A header failure is final (the stream cannot be resynchronised); a body failure is not


def test_framer_after_limit_failure_is_failed_and_further_calls_raise() -> None:
    framer = PDUFramer(max_pdata_length=16)
    framer.feed(_header(4, 17))
    assert not framer.failed
    with pytest.raises(PDUDecodeError):
        framer.next_pdu()
    assert framer.failed
    framer.feed(RELEASE_RQ)
    for _ in range(2):
        with pytest.raises(PDUDecodeError):
            framer.next_pdu()


def test_framer_after_body_decode_failure_continues_with_next_pdu() -> None:
    framer = PDUFramer()
    framer.feed(_header(7, 3) + bytes(3) + RELEASE_RQ)  # A-ABORT must have length 4
    with pytest.raises(PDUDecodeError) as info:
        framer.next_pdu()
    assert (info.value.pdu_type, info.value.offset) == (7, 2)
    assert not framer.failed
    assert framer.next_pdu() == AReleaseRQ()
    assert framer.buffered == 0


def test_framer_after_bad_pdv_failure_continues_with_next_pdu() -> None:
    framer = PDUFramer()
    framer.feed(bytes.fromhex("04 00 00000006 00000001 01 03") + RELEASE_RQ[:7])
    with pytest.raises(PDUDecodeError) as info:
        framer.next_pdu()
    assert (info.value.pdu_type, info.value.offset) == (4, 6)
    assert not framer.failed
    assert framer.next_pdu() is None
    framer.feed(RELEASE_RQ[7:])
    assert framer.next_pdu() == AReleaseRQ()


def test_framer_pdus_before_a_failure_are_still_returned() -> None:
    framer = PDUFramer(max_pdata_length=16)
    framer.feed(RELEASE_RQ + bytes.fromhex("06 00 00000004 00000000") + _header(4, 17))
    assert framer.next_pdu() == AReleaseRQ()
    assert framer.next_pdu() == AReleaseRP()
    with pytest.raises(PDUDecodeError):
        framer.next_pdu()
    assert framer.failed


@s.STREAM_SETTINGS
@given(st.lists(s.pdus, min_size=1, max_size=4), st.integers(0, 3), st.integers(1, 16))
def test_framer_invalid_body_between_valid_pdus_is_skipped(values: list[PDU], at: int,
                                                           chunk: int) -> None:
    bad = _header(6, 0)  # A-RELEASE-RP with PDU-length 0: a body error, header in step
    encoded = [encode_pdu(v) for v in values]
    at = min(at, len(encoded))
    stream = b"".join(encoded[:at]) + bad + b"".join(encoded[at:])
    framer, out, errors = PDUFramer(), [], 0
    for i in range(0, len(stream), chunk):
        framer.feed(stream[i:i + chunk])
        while True:
            try:
                pdu = framer.next_pdu()
            except PDUDecodeError:
                errors += 1
                continue
            if pdu is None:
                break
            out.append(pdu)
    assert (out, errors, framer.failed, framer.buffered) == (values, 1, False, 0)
