"""Golden bytes for every PDU type (01H-07H) and every item/sub-item type (10H-59H).

The expected bytes are written by hand from the PS3.8 §9.3 / Annex D layouts (digest §1), never
produced by ``encode_pdu``.  Each golden vector is checked in both directions; the leniency cases
then check what the decoder must accept although the encoder never sends it (UL-03, UL-04, UL-07,
UL-11, UL-31, UL-52).
"""

from __future__ import annotations

import struct

import pytest

from aioups.pdu import (
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AbortReason,
    AbortSource,
    AReleaseRP,
    AReleaseRQ,
    AsyncOperationsWindow,
    ContextResult,
    PDataTF,
    PresentationContextACItem,
    PresentationContextRQItem,
    RejectResult,
    RejectSource,
    RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UnknownItem,
    UnknownPDU,
    UserIdentityAC,
    UserIdentityRQ,
    UserIdentityType,
    UserInformation,
    UserRejectReason,
    decode_pdu_bytes,
    encode_pdu,
)

H = bytes.fromhex
APP_CTX = b"1.2.840.10008.3.1.1.1"  # 21 = 0x15 bytes
VERIFICATION = b"1.2.840.10008.1.1"  # 17 = 0x11 bytes
IMPLICIT_LE = b"1.2.840.10008.1.2"  # 17 = 0x11 bytes
EXPLICIT_LE = b"1.2.840.10008.1.2.1"  # 19 = 0x13 bytes

# ---------------------------------------------------------------------------------------------
# A-ASSOCIATE-RQ with one presentation context and every RQ user-information sub-item (51H-58H)

RQ_BYTES = b"".join([
    H("01 00 0000012e"),                      # PDU type 01H, reserved, PDU-length 302 = 68 + 234
    H("0001 0000"),                           # protocol-version 1, reserved
    b"ANY-SCP         ",                      # called AE title, space padded to 16
    b"ECHOSCU         ",                      # calling AE title, space padded to 16
    bytes(32),                                # 32 reserved bytes
    H("10 00 0015"), APP_CTX,                 # 10H application context, length 21
    H("20 00 0045"),                          # 20H presentation context (RQ), length 69
    H("01 00 00 00"),                         #   context ID 1, three reserved bytes
    H("30 00 0011"), VERIFICATION,            #   30H abstract syntax, length 17
    H("40 00 0011"), IMPLICIT_LE,             #   40H transfer syntax, length 17
    H("40 00 0013"), EXPLICIT_LE,             #   40H transfer syntax, length 19
    H("50 00 0084"),                          # 50H user information, length 132
    H("51 00 0004 00003ffe"),                 #   51H maximum length 16382
    H("52 00 0007"), b"1.2.3.4",              #   52H implementation class UID, length 7
    H("53 00 0004 0003 0001"),                #   53H async window: invoked 3, performed 1
    H("54 00 0015 0011"), VERIFICATION,       #   54H role selection, length 21, UID-length 17
    H("01 00"),                               #     SCU-role 1 first, then SCP-role 0 (UL-63)
    H("55 00 000a"), b"AIOUPS_010",           #   55H implementation version name, length 10
    H("56 00 0009 0005"), b"1.2.3",           #   56H extended negotiation, length 9, UID-length 5
    H("01 00"),                               #     service-class-application-information
    H("57 00 001f"),                          #   57H common extended negotiation, length 31
    H("0009"), b"1.2.3.4.5",                  #     SOP class UID-length 9, UID
    H("0007"), b"1.2.3.4",                    #     service class UID-length 7, UID
    H("0009 0007"), b"1.2.3.6",               #     related list length 9: one (length 7, UID)
    H("58 00 000e"),                          #   58H user identity (RQ), length 14
    H("02 01"),                               #     type 2 username+passcode, response wanted
    H("0004"), b"user",                       #     primary-field length 4, username
    H("0004"), b"pass",                       #     secondary-field length 4, passcode
])

RQ_VALUE = AAssociateRQ(
    called_ae_title="ANY-SCP",
    calling_ae_title="ECHOSCU",
    presentation_contexts=(PresentationContextRQItem(
        context_id=1, abstract_syntax="1.2.840.10008.1.1",
        transfer_syntaxes=("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")),),
    user_information=UserInformation(
        maximum_length=16382,
        implementation_class_uid="1.2.3.4",
        implementation_version_name="AIOUPS_010",
        async_operations_window=AsyncOperationsWindow(max_operations_invoked=3,
                                                      max_operations_performed=1),
        role_selections=(RoleSelection(sop_class_uid="1.2.840.10008.1.1", scu_role=True,
                                       scp_role=False),),
        extended_negotiations=(SOPClassExtendedNegotiation(
            sop_class_uid="1.2.3", application_information=b"\x01\x00"),),
        common_extended_negotiations=(SOPClassCommonExtendedNegotiation(
            sop_class_uid="1.2.3.4.5", service_class_uid="1.2.3.4",
            related_general_sop_classes=("1.2.3.6",)),),
        user_identity_rq=UserIdentityRQ(identity_type=UserIdentityType.USERNAME_AND_PASSCODE,
                                        positive_response_requested=True,
                                        primary=b"user", secondary=b"pass"),
    ),
)

# Offsets inside RQ_BYTES used by the leniency cases below.
RQ_PC_OFFSET = 74 + 25           # the 20H item starts after the 10H item
RQ_UI_OFFSET = RQ_PC_OFFSET + 73  # the 50H item starts after the 20H item

# ---------------------------------------------------------------------------------------------
# A-ASSOCIATE-AC with an accepted and a rejected context and a 59H sub-item

AC_BYTES = b"".join([
    H("02 00 000000a6"),                      # PDU type 02H, reserved, PDU-length 166 = 68 + 98
    H("0001 0000"),                           # protocol-version 1, reserved
    b"ANY-SCP         ",                      # called AE title (echo of the RQ, not tested)
    b"ECHOSCU         ",                      # calling AE title (echo of the RQ, not tested)
    bytes(32),                                # 32 reserved bytes
    H("10 00 0015"), APP_CTX,                 # 10H application context, length 21
    H("21 00 0019"),                          # 21H presentation context (AC), length 25
    H("01 00 00 00"),                         #   context ID 1, reserved, result 0 acceptance, rsv
    H("40 00 0011"), IMPLICIT_LE,             #   40H transfer syntax, length 17
    H("21 00 0008"),                          # 21H presentation context (AC), length 8
    H("03 00 03 00"),                         #   context ID 3, reserved, result 3, reserved
    H("40 00 0000"),                          #   40H transfer syntax, empty (not significant)
    H("50 00 001c"),                          # 50H user information, length 28
    H("51 00 0004 00000000"),                 #   51H maximum length 0 (unlimited)
    H("52 00 0007"), b"1.2.3.4",              #   52H implementation class UID, length 7
    H("59 00 0005 0003"), b"tok",             #   59H user identity (AC): response length 3
])

AC_VALUE = AAssociateAC(
    called_ae_title="ANY-SCP",
    calling_ae_title="ECHOSCU",
    presentation_contexts=(
        PresentationContextACItem(context_id=1, result=ContextResult.ACCEPTANCE,
                                  transfer_syntax="1.2.840.10008.1.2"),
        PresentationContextACItem(context_id=3,
                                  result=ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED,
                                  transfer_syntax=""),
    ),
    user_information=UserInformation(maximum_length=0, implementation_class_uid="1.2.3.4",
                                     user_identity_ac=UserIdentityAC(server_response=b"tok")),
)

# ---------------------------------------------------------------------------------------------
# The fixed-size PDUs and P-DATA-TF

RJ_BYTES = H(
    "03 00 00000004"   # PDU type 03H, reserved, PDU-length 4
    "00"               # reserved
    "01"               # result 1 rejected-permanent
    "01"               # source 1 service-user
    "03"               # reason 3 calling-AE-title-not-recognized
)
RJ_VALUE = AAssociateRJ(result=RejectResult.PERMANENT, source=RejectSource.SERVICE_USER,
                        reason=UserRejectReason.CALLING_AE_TITLE_NOT_RECOGNIZED)

PDATA_BYTES = H(
    "04 00 00000020"            # PDU type 04H, reserved, PDU-length 32
    "0000000a 01 03"            # PDV length 10, context 1, MCH 03 command + last
    "0000 3000 0200 0000"       #   8-byte command fragment
    "00000006 01 00"            # PDV length 6, context 1, MCH 00 data set, not last
    "0800 1800"                 #   4-byte data-set fragment
    "00000004 01 02"            # PDV length 4, context 1, MCH 02 data set, last
    "fffe"                      #   2-byte data-set fragment
)
PDATA_VALUE = PDataTF((
    PDV(1, True, True, H("0000 3000 0200 0000")),
    PDV(1, False, False, H("0800 1800")),
    PDV(1, False, True, H("fffe")),
))

RELEASE_RQ_BYTES = H("05 00 00000004 00000000")  # type 05H, PDU-length 4, 4 reserved bytes
RELEASE_RP_BYTES = H("06 00 00000004 00000000")  # type 06H, PDU-length 4, 4 reserved bytes
ABORT_PROVIDER_BYTES = H(
    "07 00 00000004"   # PDU type 07H, reserved, PDU-length 4
    "00 00"            # two reserved bytes
    "02"               # source 2 service-provider
    "06"               # reason 6 invalid-PDU-parameter-value
)
ABORT_USER_BYTES = H("07 00 00000004 0000 00 00")  # source 0 service-user, reason 0
UNKNOWN_PDU_BYTES = H("08 00 00000003 aabbcc")     # type 08H is not defined; body kept

GOLDEN = {
    "a_associate_rq": (RQ_BYTES, RQ_VALUE),
    "a_associate_ac": (AC_BYTES, AC_VALUE),
    "a_associate_rj": (RJ_BYTES, RJ_VALUE),
    "p_data_tf": (PDATA_BYTES, PDATA_VALUE),
    "a_release_rq": (RELEASE_RQ_BYTES, AReleaseRQ()),
    "a_release_rp": (RELEASE_RP_BYTES, AReleaseRP()),
    "a_abort_provider": (ABORT_PROVIDER_BYTES, AAbort(
        source=AbortSource.SERVICE_PROVIDER, reason=AbortReason.INVALID_PDU_PARAMETER_VALUE)),
    "a_abort_user": (ABORT_USER_BYTES, AAbort()),
    "unknown_pdu": (UNKNOWN_PDU_BYTES, UnknownPDU(pdu_type=8, data=H("aabbcc"))),
}


def _item(item_type: int, body: bytes) -> bytes:
    """A 4-byte item header (type, reserved, big-endian uint16 length) plus the body."""
    return struct.pack(">BBH", item_type, 0, len(body)) + body


def _pdu(pdu_type: int, body: bytes) -> bytes:
    """A 6-byte PDU header (type, reserved, big-endian uint32 length) plus the body."""
    return struct.pack(">BBL", pdu_type, 0, len(body)) + body


def _associate_body(items: bytes, called: bytes = b"ANY-SCP         ",
                    calling: bytes = b"ECHOSCU         ") -> bytes:
    return H("0001 0000") + called + calling + bytes(32) + items


_MIN_UI = _item(0x50, _item(0x51, H("00004000")) + _item(0x52, b"1.2.3.4"))
_MIN_UI_VALUE = UserInformation(maximum_length=0x4000, implementation_class_uid="1.2.3.4")


@pytest.mark.parametrize(("raw", "value"), GOLDEN.values(), ids=GOLDEN.keys())
def test_encode_pdu_golden_value_gives_hand_written_bytes(raw: bytes, value: object) -> None:
    assert encode_pdu(value) == raw  # type: ignore[arg-type]


@pytest.mark.parametrize(("raw", "value"), GOLDEN.values(), ids=GOLDEN.keys())
def test_decode_pdu_bytes_golden_bytes_give_value(raw: bytes, value: object) -> None:
    assert decode_pdu_bytes(raw) == value


def test_golden_pdu_length_field_counts_bytes_after_header() -> None:
    for raw, _ in GOLDEN.values():
        assert struct.unpack(">L", raw[2:6])[0] == len(raw) - 6


# ---------------------------------------------------------------------------------------------
# Leniency: what a receiver must accept although it never sends it


def test_decode_uids_with_trailing_nul_and_space_are_stripped() -> None:
    pc = _item(0x20, H("01 000000") + _item(0x30, VERIFICATION + b"\0")
               + _item(0x40, IMPLICIT_LE + b" ") + _item(0x40, EXPLICIT_LE + b"\0"))
    ui = _item(0x50, _item(0x51, H("00004000")) + _item(0x52, b"1.2.3.4\0"))
    raw = _pdu(0x01, _associate_body(_item(0x10, APP_CTX + b"\0") + pc + ui))
    pdu = decode_pdu_bytes(raw)
    assert isinstance(pdu, AAssociateRQ)
    assert pdu.application_context_name == "1.2.840.10008.3.1.1.1"
    assert pdu.presentation_contexts[0].abstract_syntax == "1.2.840.10008.1.1"
    assert pdu.presentation_contexts[0].transfer_syntaxes == ("1.2.840.10008.1.2",
                                                              "1.2.840.10008.1.2.1")
    assert pdu.user_information.implementation_class_uid == "1.2.3.4"


@pytest.mark.parametrize(("called", "calling"), [
    (b"  ANY-SCP       ", b"   ECHOSCU      "),   # leading spaces
    (b"ANY-SCP\0\0\0\0\0\0\0\0\0", b"ECHOSCU \0\0\0\0\0\0\0\0"),  # NUL padding
    (b"         ANY-SCP", b"ECHOSCU         "),   # right-aligned
], ids=["leading-spaces", "nul-padding", "right-aligned"])
def test_decode_ae_titles_with_padding_are_stripped(called: bytes, calling: bytes) -> None:
    raw = _pdu(0x01, _associate_body(_item(0x10, APP_CTX) + _MIN_UI, called, calling))
    pdu = decode_pdu_bytes(raw)
    assert isinstance(pdu, AAssociateRQ)
    assert (pdu.called_ae_title, pdu.calling_ae_title) == ("ANY-SCP", "ECHOSCU")


def test_decode_reserved_bytes_nonzero_in_rq_are_ignored() -> None:
    raw = bytearray(RQ_BYTES)
    raw[1] = 0xFF                              # PDU header reserved byte
    raw[8:10] = H("ffff")                      # reserved after protocol-version
    raw[42:74] = b"\xa5" * 32                  # the 32 reserved bytes
    raw[75] = 0xFF                             # 10H item reserved byte
    raw[RQ_PC_OFFSET + 1] = 0xFF               # 20H item reserved byte
    raw[RQ_PC_OFFSET + 5:RQ_PC_OFFSET + 8] = H("ffffff")  # 20H: 3 reserved after context ID
    raw[RQ_PC_OFFSET + 9] = 0xFF               # 30H sub-item reserved byte
    raw[RQ_UI_OFFSET + 1] = 0xFF               # 50H item reserved byte
    raw[RQ_UI_OFFSET + 5] = 0xFF               # 51H sub-item reserved byte
    assert decode_pdu_bytes(bytes(raw)) == RQ_VALUE


def test_decode_reserved_bytes_nonzero_in_ac_are_ignored() -> None:
    raw = bytearray(AC_BYTES)
    raw[1] = 0xFF
    raw[8:10] = H("ffff")
    raw[42:74] = b"\xff" * 32
    raw[74 + 25 + 5] = 0xFF                    # first 21H: reserved byte after context ID
    raw[74 + 25 + 7] = 0xFF                    # first 21H: reserved byte after result
    assert decode_pdu_bytes(bytes(raw)) == AC_VALUE


def test_decode_ac_echoed_ae_titles_are_not_tested() -> None:
    # AC bytes 10-73 are a copy of the RQ and are never tested (UL-03, digest §1.3).
    raw = bytearray(AC_BYTES)
    raw[10:42] = b"X" * 32
    pdu = decode_pdu_bytes(bytes(raw))
    assert isinstance(pdu, AAssociateAC)
    assert pdu.presentation_contexts == AC_VALUE.presentation_contexts


def test_decode_ac_non_ascii_echoed_ae_titles_are_not_tested() -> None:
    raw = bytearray(AC_BYTES)
    raw[10:26] = b"\xff" * 16
    pdu = decode_pdu_bytes(bytes(raw))
    assert isinstance(pdu, AAssociateAC)
    assert pdu.presentation_contexts == AC_VALUE.presentation_contexts


def test_decode_reserved_bytes_nonzero_in_fixed_pdus_are_ignored() -> None:
    assert decode_pdu_bytes(H("03 ff 00000004 ff 01 01 03")) == RJ_VALUE
    assert decode_pdu_bytes(H("05 ff 00000004 ffffffff")) == AReleaseRQ()
    assert decode_pdu_bytes(H("06 ff 00000004 12345678")) == AReleaseRP()
    assert decode_pdu_bytes(H("07 ff 00000004 ffff 02 06")) == GOLDEN["a_abort_provider"][1]
    assert decode_pdu_bytes(H("04 ff 00000006 00000002 01 03")) == PDataTF((PDV(1, True, True,
                                                                                 b""),))


@pytest.mark.parametrize(("mch", "is_command", "is_last"), [
    (0xFC, False, False), (0xFD, True, False), (0xFE, False, True), (0xFF, True, True),
    (0x04, False, False), (0x83, True, True),
])
def test_decode_pdv_mch_bits_2_to_7_are_ignored(mch: int, is_command: bool,
                                               is_last: bool) -> None:
    raw = H("04 00 00000008 00000004 05") + bytes([mch]) + H("abcd")
    assert decode_pdu_bytes(raw) == PDataTF((PDV(5, is_command, is_last, H("abcd")),))


def test_decode_user_information_unknown_sub_item_is_kept() -> None:
    ui = _item(0x50, _item(0x51, H("00004000")) + _item(0x5A, H("0102"))
               + _item(0x52, b"1.2.3.4") + _item(0x00, b""))
    raw = _pdu(0x01, _associate_body(_item(0x10, APP_CTX) + ui))
    pdu = decode_pdu_bytes(raw)
    assert isinstance(pdu, AAssociateRQ)
    assert pdu.user_information.unknown == (UnknownItem(item_type=0x5A, data=H("0102")),
                                            UnknownItem(item_type=0x00, data=b""))
    assert pdu.user_information.maximum_length == 0x4000


def test_decode_pdu_level_unknown_item_is_kept() -> None:
    items = _item(0x10, APP_CTX) + _item(0x60, b"future") + _MIN_UI + _item(0xFF, b"")
    pdu = decode_pdu_bytes(_pdu(0x02, _associate_body(items)))
    assert pdu == AAssociateAC(
        called_ae_title="ANY-SCP", calling_ae_title="ECHOSCU", presentation_contexts=(),
        user_information=_MIN_UI_VALUE,
        unknown_items=(UnknownItem(item_type=0x60, data=b"future"),
                       UnknownItem(item_type=0xFF, data=b"")))


def test_encode_pdu_level_unknown_item_is_sent_after_user_information() -> None:
    value = AAssociateRQ(called_ae_title="ANY-SCP", calling_ae_title="ECHOSCU",
                         presentation_contexts=(), user_information=_MIN_UI_VALUE,
                         unknown_items=(UnknownItem(item_type=0x60, data=b"future"),))
    expected = _pdu(0x01, _associate_body(_item(0x10, APP_CTX) + _MIN_UI
                                          + _item(0x60, b"future")))
    assert encode_pdu(value) == expected


def test_decode_unknown_sub_item_in_presentation_context_is_skipped() -> None:
    pc = _item(0x20, H("07 000000") + _item(0x30, VERIFICATION) + _item(0x3F, b"junk")
               + _item(0x40, IMPLICIT_LE))
    pdu = decode_pdu_bytes(_pdu(0x01, _associate_body(_item(0x10, APP_CTX) + pc + _MIN_UI)))
    assert isinstance(pdu, AAssociateRQ)
    assert pdu.presentation_contexts == (PresentationContextRQItem(
        context_id=7, abstract_syntax="1.2.840.10008.1.1",
        transfer_syntaxes=("1.2.840.10008.1.2",)),)


def test_decode_user_information_sub_items_in_descending_order_give_same_value() -> None:
    start = RQ_UI_OFFSET + 4
    subs, pos = [], start
    while pos < len(RQ_BYTES):
        length = struct.unpack(">H", RQ_BYTES[pos + 2:pos + 4])[0]
        subs.append(RQ_BYTES[pos:pos + 4 + length])
        pos += 4 + length
    assert [s[0] for s in subs] == list(range(0x51, 0x59))
    raw = RQ_BYTES[:start] + b"".join(reversed(subs))
    assert decode_pdu_bytes(raw) == RQ_VALUE


@pytest.mark.parametrize("ts_sub_items", [
    b"",                                       # no 40H sub-item at all
    _item(0x40, b""),                          # empty 40H
    _item(0x40, b"\xff\xfe junk"),             # junk (not even ASCII) 40H
], ids=["missing", "empty", "junk"])
def test_decode_rejected_ac_context_without_valid_transfer_syntax_is_accepted(
        ts_sub_items: bytes) -> None:
    pc = _item(0x21, H("05 00 04 00") + ts_sub_items)  # context 5, result 4
    pdu = decode_pdu_bytes(_pdu(0x02, _associate_body(_item(0x10, APP_CTX) + pc + _MIN_UI)))
    assert isinstance(pdu, AAssociateAC)
    assert pdu.presentation_contexts == (PresentationContextACItem(
        context_id=5, result=ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED,
        transfer_syntax=""),)


def test_decode_abort_unknown_reason_and_source_give_pseudo_members() -> None:
    pdu = decode_pdu_bytes(H("07 00 00000004 0000 05 09"))
    assert isinstance(pdu, AAbort)
    assert isinstance(pdu.reason, AbortReason)
    assert isinstance(pdu.source, AbortSource)
    assert (int(pdu.source), int(pdu.reason)) == (5, 9)
    assert (pdu.source.name, pdu.reason.name) == ("UNKNOWN_5", "UNKNOWN_9")
    assert pdu == AAbort(source=AbortSource(5), reason=AbortReason(9))


def test_decode_rj_unknown_result_and_source_give_pseudo_members() -> None:
    pdu = decode_pdu_bytes(H("03 00 00000004 00 07 08 ff"))
    assert isinstance(pdu, AAssociateRJ)
    assert (pdu.result.name, pdu.source.name, pdu.reason) == ("UNKNOWN_7", "UNKNOWN_8", 0xFF)


def test_decode_ac_context_unknown_result_gives_pseudo_member() -> None:
    pc = _item(0x21, H("01 00 09 00") + _item(0x40, IMPLICIT_LE))
    pdu = decode_pdu_bytes(_pdu(0x02, _associate_body(_item(0x10, APP_CTX) + pc + _MIN_UI)))
    assert isinstance(pdu, AAssociateAC)
    assert pdu.presentation_contexts[0].result.name == "UNKNOWN_9"
    assert pdu.presentation_contexts[0].transfer_syntax == ""


def test_decode_user_identity_unknown_type_gives_pseudo_member() -> None:
    ui = _item(0x50, _item(0x51, H("00004000")) + _item(0x52, b"1.2.3.4")
               + _item(0x58, H("06 00 0003") + b"jwt" + H("0000")))
    pdu = decode_pdu_bytes(_pdu(0x01, _associate_body(_item(0x10, APP_CTX) + ui)))
    assert isinstance(pdu, AAssociateRQ)
    assert pdu.user_information.user_identity_rq == UserIdentityRQ(
        identity_type=UserIdentityType(6), positive_response_requested=False, primary=b"jwt")


@pytest.mark.parametrize("pdu_type", [0x00, 0x08, 0x7F, 0xFF])
def test_decode_unknown_pdu_type_gives_unknown_pdu(pdu_type: int) -> None:
    raw = bytes([pdu_type]) + H("00 00000002 0102")
    assert decode_pdu_bytes(raw) == UnknownPDU(pdu_type=pdu_type, data=H("0102"))


def test_decode_empty_pdv_fragment_is_accepted() -> None:
    # UL-34: an MCH-only PDV is never sent, but a receiver should accept it.
    raw = H("04 00 0000000c 00000002 03 00 00000002 03 02")
    assert decode_pdu_bytes(raw) == PDataTF((PDV(3, False, False, b""), PDV(3, False, True, b"")))
