"""Fragmentation to the peer's Maximum Length (DIMSE-30, UL-30..35, UL-60) and reassembly of
byte streams split anywhere (DIMSE-31, edge cases 3-5)."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aioups._uids import IMPLICIT_VR_LITTLE_ENDIAN, UPS_PUSH, VERIFICATION
from aioups.dimse import (
    CEchoRQ,
    DIMSEEngine,
    MessageAssembler,
    MessageReceived,
    NCreateRQ,
    NGetRQ,
    encode_command,
    fragment_message,
)
from aioups.errors import RemoteProtocolError
from aioups.pdu import PDV, AbortReason, PDataTF, decode_pdu_bytes, encode_pdata
from aioups.ul import NegotiatedContext, PDataRequest

CTX = 1
LONG_GET = NGetRQ(message_id=513, requested_sop_class_uid=UPS_PUSH,
                  requested_sop_instance_uid="1.2.826.0.1.3680043.8.498." + "1" * 30,
                  attribute_identifier_list=tuple(range(0x00100010, 0x00100010 + 40)))
LONG_COMMAND = encode_command(LONG_GET, has_data_set=True)
DATA_SET = bytes(range(256)) * 3  # even, 768 bytes
ECHO = CEchoRQ(message_id=1)
ECHO_COMMAND = encode_command(ECHO, has_data_set=False)


def context(context_id: int) -> NegotiatedContext:
    return NegotiatedContext(context_id=context_id, abstract_syntax=UPS_PUSH,
                             transfer_syntax=IMPLICIT_VR_LITTLE_ENDIAN,
                             local_scu=True, local_scp=True)


def engine(*context_ids: int) -> DIMSEEngine:
    return DIMSEEngine({cid: context(cid) for cid in context_ids or (CTX,)}, 0)


def pdu_length(request: PDataRequest) -> int:
    """PDU-length of the P-DATA-TF carrying ``request``, read back from its encoding."""
    encoded = encode_pdata((p.context_id, p.is_command | (p.is_last << 1), p.data)
                           for p in request.pdvs)
    (length,) = struct.unpack_from(">L", encoded, 2)
    assert length == sum(len(p.data) + 6 for p in request.pdvs)
    return length


def all_pdvs(requests: list[PDataRequest]) -> list[PDV]:
    return [pdv for request in requests for pdv in request.pdvs]


def check_fragments(requests: list[PDataRequest], command: bytes, data_set: bytes | None,
                    peer_max: int) -> None:
    """Every property DIMSE-30 and UL-30..35 require of a fragmented message."""
    pdvs = all_pdvs(requests)
    assert all(request.pdvs for request in requests)
    assert {p.context_id for p in pdvs} == {CTX}
    kinds = [p.is_command for p in pdvs]
    assert kinds == sorted(kinds, reverse=True), "command fragments come first"
    commands = [p for p in pdvs if p.is_command]
    data = [p for p in pdvs if not p.is_command]
    assert b"".join(p.data for p in commands) == command
    assert [p.is_last for p in commands] == [False] * (len(commands) - 1) + [True]
    if data_set is None:
        assert not data
    else:
        assert b"".join(p.data for p in data) == data_set
        assert [p.is_last for p in data] == [False] * (len(data) - 1) + [True]
    for pdv in pdvs:
        assert len(pdv.data) % 2 == 0
        if peer_max:
            assert len(pdv.data) <= peer_max - 6
    if peer_max:
        assert all(pdu_length(request) <= peer_max for request in requests)


def feed(dimse: DIMSEEngine, pdvs: list[PDV], groups: list[int] | None = None
         ) -> list[MessageReceived]:
    """Feed ``pdvs`` to ``dimse`` as P-DATA-TFs of ``groups`` PDVs each (one each by default)."""
    out: list[MessageReceived] = []
    pos = 0
    for size in groups or [1] * len(pdvs):
        out += dimse.receive_pdvs(tuple(pdvs[pos:pos + size]))
        pos += size
    out += dimse.receive_pdvs(tuple(pdvs[pos:]))
    return out


def assert_abort(exc: RemoteProtocolError) -> None:
    assert exc.abort_reason in (AbortReason.UNEXPECTED_PDU_PARAMETER,
                                AbortReason.INVALID_PDU_PARAMETER_VALUE)


# ------------------------------------------------------------------------ fragmenting


@pytest.mark.parametrize("pack", [True, False])
def test_fragment_peer_max_0_one_pdv_per_stream(pack: bool) -> None:
    requests = fragment_message(CTX, LONG_COMMAND, DATA_SET, 0, pack=pack)
    assert len(requests) == (1 if pack else 2)
    assert all_pdvs(requests) == [PDV(CTX, True, True, LONG_COMMAND),
                                  PDV(CTX, False, True, DATA_SET)]
    check_fragments(requests, LONG_COMMAND, DATA_SET, 0)


def test_fragment_peer_max_0_without_data_set_one_pdv() -> None:
    requests = fragment_message(CTX, ECHO_COMMAND, None, 0)
    assert requests == [PDataRequest((PDV(CTX, True, True, ECHO_COMMAND),))]


@pytest.mark.parametrize("slack", [0, 1, 1000])
def test_fragment_whole_message_fits_packed_in_one_pdata(slack: int) -> None:
    peer_max = len(LONG_COMMAND) + len(DATA_SET) + 12 + slack
    requests = fragment_message(CTX, LONG_COMMAND, DATA_SET, peer_max, pack=True)
    assert len(requests) == 1
    assert requests[0].pdvs == (PDV(CTX, True, True, LONG_COMMAND),
                                PDV(CTX, False, True, DATA_SET))
    assert pdu_length(requests[0]) == peer_max - slack
    check_fragments(requests, LONG_COMMAND, DATA_SET, peer_max)


def test_fragment_whole_message_fits_not_packed_in_two_pdatas() -> None:
    peer_max = len(LONG_COMMAND) + len(DATA_SET) + 12
    requests = fragment_message(CTX, LONG_COMMAND, DATA_SET, peer_max, pack=False)
    assert [r.pdvs for r in requests] == [(PDV(CTX, True, True, LONG_COMMAND),),
                                          (PDV(CTX, False, True, DATA_SET),)]
    check_fragments(requests, LONG_COMMAND, DATA_SET, peer_max)


def test_fragment_one_byte_too_small_for_packing_splits() -> None:
    peer_max = len(LONG_COMMAND) + len(DATA_SET) + 11
    requests = fragment_message(CTX, LONG_COMMAND, DATA_SET, peer_max, pack=True)
    assert len(all_pdvs(requests)) > 1
    check_fragments(requests, LONG_COMMAND, DATA_SET, peer_max)


@pytest.mark.parametrize("peer_max", [8, 9, 16, 17, 18, 100, 101, 255, 4096])
@pytest.mark.parametrize("pack", [True, False])
def test_fragment_small_peer_max_respects_limit(peer_max: int, pack: bool) -> None:
    requests = fragment_message(CTX, LONG_COMMAND, DATA_SET, peer_max, pack=pack)
    check_fragments(requests, LONG_COMMAND, DATA_SET, peer_max)


@pytest.mark.parametrize("peer_max", [16, 17])
def test_fragment_peer_max_16_or_17_uses_10_byte_fragments(peer_max: int) -> None:
    requests = fragment_message(CTX, LONG_COMMAND, None, peer_max)
    sizes = [len(p.data) for p in all_pdvs(requests)]
    assert sizes[:-1] == [10] * (len(sizes) - 1)
    assert 0 < sizes[-1] <= 10


def test_fragment_exact_multiple_has_no_empty_tail() -> None:
    command = ECHO_COMMAND
    size = len(command) // 2
    assert size % 2 == 0
    pdvs = all_pdvs(fragment_message(CTX, command, None, size + 6))
    assert [len(p.data) for p in pdvs] == [size, size]
    assert [p.is_last for p in pdvs] == [False, True]


@settings(max_examples=80)
@given(peer_max=st.integers(8, 400), data_len=st.none() | st.integers(0, 600).map(lambda n: n * 2),
       n_tags=st.integers(0, 60), pack=st.booleans())
def test_fragment_any_peer_max_keeps_every_rule(peer_max: int, data_len: int | None,
                                                n_tags: int, pack: bool) -> None:
    message = NGetRQ(message_id=1, requested_sop_class_uid=UPS_PUSH,
                     requested_sop_instance_uid="1.2.3",
                     attribute_identifier_list=tuple(range(n_tags)) or None)
    data_set = None if data_len is None else bytes(i % 251 for i in range(data_len))
    command = encode_command(message, has_data_set=data_set is not None)
    requests = fragment_message(CTX, command, data_set, peer_max, pack=pack)
    check_fragments(requests, command, data_set, peer_max)
    received = feed(engine(), all_pdvs(requests))
    assert received == [MessageReceived(CTX, message, data_set)]


# ------------------------------------------------------------------------- assembling


def test_assembler_returns_command_then_data_set() -> None:
    assembler = MessageAssembler()
    assert assembler.idle
    assert assembler.add(PDV(3, True, False, LONG_COMMAND[:10])) is None
    assert not assembler.idle
    assert assembler.add(PDV(3, True, True, LONG_COMMAND[10:])) == (3, True, LONG_COMMAND)
    assembler.expect_data_set()
    assert assembler.add(PDV(3, False, False, DATA_SET[:4])) is None
    assert assembler.add(PDV(3, False, True, DATA_SET[4:])) == (3, False, DATA_SET)
    assert assembler.idle


def test_assembler_finish_after_command_without_data_set_goes_idle() -> None:
    assembler = MessageAssembler()
    assert assembler.add(PDV(5, True, True, ECHO_COMMAND)) == (5, True, ECHO_COMMAND)
    assembler.finish()
    assert assembler.idle
    assert assembler.add(PDV(7, True, True, ECHO_COMMAND)) == (7, True, ECHO_COMMAND)


@pytest.mark.parametrize("peer_max", [0, 16, 17, 100])
def test_engine_reassembles_one_pdv_at_a_time(peer_max: int) -> None:
    pdvs = all_pdvs(fragment_message(CTX, LONG_COMMAND, DATA_SET, peer_max))
    dimse = engine()
    for pdv in pdvs[:-1]:
        assert dimse.receive_pdvs((pdv,)) == []
    assert dimse.receive_pdvs((pdvs[-1],)) == [MessageReceived(CTX, LONG_GET, DATA_SET)]


@pytest.mark.parametrize("peer_max", [0, 16, 17, 100])
def test_engine_reassembles_all_pdvs_at_once(peer_max: int) -> None:
    pdvs = all_pdvs(fragment_message(CTX, LONG_COMMAND, DATA_SET, peer_max))
    assert engine().receive_pdvs(tuple(pdvs)) == [MessageReceived(CTX, LONG_GET, DATA_SET)]


@st.composite
def split(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` cut at arbitrary points (empty pieces included; headers split anywhere)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=80)
@given(data=st.data())
def test_engine_reassembles_arbitrary_splits(data: st.DataObject) -> None:
    command_parts = data.draw(split(LONG_COMMAND))
    data_parts = data.draw(split(DATA_SET))
    pdvs = [PDV(CTX, True, i == len(command_parts) - 1, part)
            for i, part in enumerate(command_parts)]
    pdvs += [PDV(CTX, False, i == len(data_parts) - 1, part) for i, part in enumerate(data_parts)]
    groups = data.draw(st.lists(st.integers(1, 4), max_size=len(pdvs)))
    assert feed(engine(), pdvs, groups) == [MessageReceived(CTX, LONG_GET, DATA_SET)]


def test_engine_accepts_empty_fragments() -> None:
    pdvs = [PDV(CTX, True, False, b""), PDV(CTX, True, False, ECHO_COMMAND[:6]),
            PDV(CTX, True, False, b""), PDV(CTX, True, True, ECHO_COMMAND[6:])]
    assert engine().receive_pdvs(tuple(pdvs)) == [MessageReceived(CTX, ECHO, None)]


def test_engine_accepts_empty_last_fragments() -> None:
    command = encode_command(NCreateRQ(message_id=2, affected_sop_class_uid=UPS_PUSH),
                             has_data_set=True)
    pdvs = (PDV(CTX, True, False, command), PDV(CTX, True, True, b""),
            PDV(CTX, False, False, b""), PDV(CTX, False, False, DATA_SET),
            PDV(CTX, False, True, b""))
    [received] = engine().receive_pdvs(pdvs)
    assert received.data_set == DATA_SET


def test_engine_message_without_data_set_followed_by_another_message() -> None:
    create = NCreateRQ(message_id=2, affected_sop_class_uid=UPS_PUSH,
                       affected_sop_instance_uid="1.2.3.4")
    second = all_pdvs(fragment_message(3, encode_command(create, has_data_set=True),
                                       DATA_SET, 50))
    dimse = engine(1, 3)
    assert dimse.receive_pdvs((PDV(1, True, True, ECHO_COMMAND),)) == [
        MessageReceived(1, ECHO, None)]
    assert feed(dimse, second) == [MessageReceived(3, create, DATA_SET)]
    assert dimse.receive_pdvs((PDV(1, True, True, ECHO_COMMAND),)) == [
        MessageReceived(1, ECHO, None)]


def test_engine_two_messages_in_one_call_both_returned() -> None:
    pdvs = (PDV(CTX, True, True, ECHO_COMMAND), PDV(CTX, True, True, ECHO_COMMAND))
    assert engine().receive_pdvs(pdvs) == [MessageReceived(CTX, ECHO, None)] * 2


@pytest.mark.parametrize("junk", [0x04, 0xFC, 0xA8])
def test_engine_mch_junk_bits_ignored_after_pdu_decode(junk: int) -> None:
    requests = fragment_message(CTX, LONG_COMMAND, DATA_SET, 64)
    dimse = engine()
    out = []
    for request in requests:
        raw = encode_pdata((p.context_id, junk | p.is_command | (p.is_last << 1), p.data)
                           for p in request.pdvs)
        pdu = decode_pdu_bytes(raw)
        assert isinstance(pdu, PDataTF)
        out += dimse.receive_pdvs(pdu.pdvs)
    assert out == [MessageReceived(CTX, LONG_GET, DATA_SET)]


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("pdvs", [
    [PDV(CTX, False, True, DATA_SET)],
    [PDV(CTX, True, False, LONG_COMMAND[:20]), PDV(CTX, False, True, DATA_SET)],
    [PDV(CTX, True, False, LONG_COMMAND[:20]), PDV(CTX, False, False, b"")],
], ids=["first", "mid-command", "empty-mid-command"])
def test_engine_data_before_command_complete_raises(pdvs: list[PDV]) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        engine().receive_pdvs(tuple(pdvs))
    assert_abort(info.value)


def test_engine_data_after_command_without_data_set_raises() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        engine().receive_pdvs((PDV(CTX, True, True, ECHO_COMMAND),
                               PDV(CTX, False, True, DATA_SET)))
    assert_abort(info.value)


@pytest.mark.parametrize("pdvs", [
    [PDV(1, True, False, LONG_COMMAND[:20]), PDV(3, True, True, LONG_COMMAND[20:])],
    [PDV(1, True, True, LONG_COMMAND), PDV(3, False, True, DATA_SET)],
    [PDV(1, True, True, LONG_COMMAND), PDV(1, False, False, DATA_SET[:2]),
     PDV(3, False, True, DATA_SET[2:])],
], ids=["in-command", "command-to-data", "in-data"])
def test_engine_context_change_inside_message_raises(pdvs: list[PDV]) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        feed(engine(1, 3), pdvs)
    assert_abort(info.value)


@pytest.mark.parametrize("second", [
    PDV(CTX, True, True, ECHO_COMMAND), PDV(CTX, True, False, b"")], ids=["last", "empty"])
def test_engine_command_fragment_while_data_expected_raises(second: PDV) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        engine().receive_pdvs((PDV(CTX, True, True, LONG_COMMAND), second))
    assert_abort(info.value)


@pytest.mark.parametrize("context_id", [0, 2, 3, 255])
def test_engine_pdv_on_unaccepted_context_raises(context_id: int) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        engine().receive_pdvs((PDV(context_id, True, True, ECHO_COMMAND),))
    assert_abort(info.value)


def test_engine_pdv_on_unaccepted_context_mid_message_raises() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        engine().receive_pdvs((PDV(CTX, True, False, LONG_COMMAND[:8]),
                               PDV(5, True, True, LONG_COMMAND[8:])))
    assert_abort(info.value)


def test_assembler_errors_carry_abort_reason() -> None:
    assembler = MessageAssembler()
    with pytest.raises(RemoteProtocolError) as info:
        assembler.add(PDV(1, False, True, b"\0\0"))
    assert_abort(info.value)


def test_engine_undecodable_command_raises() -> None:
    with pytest.raises(RemoteProtocolError):
        engine().receive_pdvs((PDV(CTX, True, True, b"\x08\0\x16\0\2\0\0\0ab"),))


def test_engine_verification_context_receives_echo() -> None:
    ctx = NegotiatedContext(context_id=7, abstract_syntax=VERIFICATION,
                            transfer_syntax=IMPLICIT_VR_LITTLE_ENDIAN,
                            local_scu=False, local_scp=True)
    dimse = DIMSEEngine({7: ctx}, 16384)
    assert dimse.receive_pdvs((PDV(7, True, True, ECHO_COMMAND),)) == [
        MessageReceived(7, ECHO, None)]
