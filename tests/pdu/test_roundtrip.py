"""``decode_pdu_bytes(encode_pdu(x)) == x`` for generated values of every PDU type, plus the
encoder's contract for values it cannot put on the wire (``LocalProtocolError``, nothing else)."""

from __future__ import annotations

import dataclasses
import struct

import pytest
from helpers import strategies as s
from hypothesis import given
from hypothesis import strategies as st

from aioups.errors import LocalProtocolError
from aioups.pdu import (
    PDU,
    PDV,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AsyncOperationsWindow,
    PDataTF,
    PresentationContextRQItem,
    RejectResult,
    RejectSource,
    RoleSelection,
    SOPClassCommonExtendedNegotiation,
    UnknownItem,
    UserIdentityAC,
    UserIdentityRQ,
    UserIdentityType,
    UserInformation,
    decode_pdata,
    decode_pdu,
    decode_pdu_bytes,
    encode_pdata,
    encode_pdu,
)


def _roundtrip(value: PDU) -> None:
    raw = encode_pdu(value)
    assert struct.unpack(">L", raw[2:6])[0] == len(raw) - 6
    assert decode_pdu_bytes(raw) == value
    assert decode_pdu(raw[0], raw[6:]) == value


@s.PDU_SETTINGS
@given(s.a_associate_rqs)
def test_roundtrip_a_associate_rq_decode_encode_gives_value(value: AAssociateRQ) -> None:
    _roundtrip(value)


@s.PDU_SETTINGS
@given(s.a_associate_acs)
def test_roundtrip_a_associate_ac_decode_encode_gives_value(value: AAssociateAC) -> None:
    _roundtrip(value)


@s.PDU_SETTINGS
@given(s.a_associate_rjs)
def test_roundtrip_a_associate_rj_decode_encode_gives_value(value: AAssociateRJ) -> None:
    _roundtrip(value)


@s.PDU_SETTINGS
@given(s.p_data_tfs)
def test_roundtrip_p_data_tf_decode_encode_gives_value(value: PDataTF) -> None:
    _roundtrip(value)


@s.PDU_SETTINGS
@given(st.one_of(s.a_release_rqs, s.a_release_rps))
def test_roundtrip_release_decode_encode_gives_value(value: PDU) -> None:
    _roundtrip(value)


@s.PDU_SETTINGS
@given(s.a_aborts)
def test_roundtrip_a_abort_decode_encode_gives_value(value: PDU) -> None:
    _roundtrip(value)


@s.PDU_SETTINGS
@given(s.unknown_pdus)
def test_roundtrip_unknown_pdu_decode_encode_gives_value(value: PDU) -> None:
    _roundtrip(value)


@s.PDU_SETTINGS
@given(s.pdus)
def test_roundtrip_any_pdu_reencode_gives_same_bytes(value: PDU) -> None:
    raw = encode_pdu(value)
    assert encode_pdu(decode_pdu_bytes(raw)) == raw


@s.PDU_SETTINGS
@given(s.user_informations)
def test_roundtrip_user_information_sub_items_sent_in_ascending_type_order(
        ui: UserInformation) -> None:
    value = AAssociateRQ(called_ae_title="A", calling_ae_title="B", presentation_contexts=(),
                         user_information=ui)
    raw = encode_pdu(value)
    body = raw[6 + 68:]
    pos, types = 0, []
    while pos < len(body):
        item_type, length = body[pos], struct.unpack(">H", body[pos + 2:pos + 4])[0]
        if item_type == 0x50:
            sub = body[pos + 4:pos + 4 + length]
            while sub:
                types.append(sub[0])
                sub = sub[4 + struct.unpack(">H", sub[2:4])[0]:]
        pos += 4 + length
    assert types == sorted(types)  # UL-05
    assert (types.count(0x51), types.count(0x52)) == (1, 1)  # both mandatory (UL-13)


@s.PDU_SETTINGS
@given(st.lists(st.tuples(s.context_ids, st.integers(0, 0xFF), st.binary(max_size=32)),
                max_size=5))
def test_roundtrip_encode_pdata_triples_decode_masks_mch(
        triples: list[tuple[int, int, bytes]]) -> None:
    raw = encode_pdata(triples)
    assert raw[:2] == b"\x04\x00"
    assert decode_pdata(raw[6:]) == PDataTF(tuple(
        PDV(ctx, bool(mch & 1), bool(mch & 2), data) for ctx, mch, data in triples))


def test_roundtrip_pdv_of_odd_length_fragment_is_kept() -> None:
    # UL-33 requires even fragments from a sender; the codec itself must not alter odd ones.
    _roundtrip(PDataTF((PDV(255, False, True, b"\x01\x02\x03"),)))


def test_roundtrip_rq_sub_items_of_one_type_keep_their_order() -> None:
    roles = tuple(RoleSelection(sop_class_uid=f"1.2.{n}", scu_role=bool(n & 1),
                                scp_role=bool(n & 2)) for n in (9, 3, 7, 1))
    ui = UserInformation(maximum_length=0, implementation_class_uid="1.2",
                         role_selections=roles,
                         unknown=(UnknownItem(item_type=0x60, data=b"b"),
                                  UnknownItem(item_type=0x60, data=b"a")))
    _roundtrip(AAssociateRQ(called_ae_title="A", calling_ae_title="B",
                            presentation_contexts=(), user_information=ui))


# ---------------------------------------------------------------------------------------------
# Values the encoder cannot send raise LocalProtocolError (encode_pdu's documented contract)

_UI = UserInformation(maximum_length=0, implementation_class_uid="1.2.3")
_PC = PresentationContextRQItem(context_id=1, abstract_syntax="1.2", transfer_syntaxes=("1.2",))


def _rq(**changes: object) -> AAssociateRQ:
    base = AAssociateRQ(called_ae_title="CALLED", calling_ae_title="CALLING",
                        presentation_contexts=(_PC,), user_information=_UI)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _ui(**changes: object) -> AAssociateRQ:
    return _rq(user_information=dataclasses.replace(_UI, **changes))  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [
    _rq(called_ae_title="A" * 17),
    _rq(calling_ae_title="A\\B"),
    _rq(called_ae_title="                "),
    _rq(calling_ae_title="A\tB"),
    _rq(called_ae_title="ÄE"),
    _rq(application_context_name="1.2.é"),
    _rq(presentation_contexts=(dataclasses.replace(_PC, transfer_syntaxes=("1" * 70000,)),)),
    _ui(implementation_version_name="vérsion"),
    _ui(unknown=(UnknownItem(item_type=0x60, data=bytes(65536)),)),
    _ui(unknown=(UnknownItem(item_type=0x60, data=bytes(40000)),) * 2),  # 50H over 65535
], ids=["ae-17-chars", "ae-backslash", "ae-16-spaces", "ae-control-char", "ae-non-ascii",
        "uid-non-ascii", "item-too-long", "version-non-ascii", "sub-item-too-long",
        "user-info-too-long"])
def test_encode_pdu_unencodable_value_raises_local_protocol_error(value: PDU) -> None:
    with pytest.raises(LocalProtocolError):
        encode_pdu(value)


_BIG = b"x" * 65536


@pytest.mark.parametrize("value", [
    _ui(user_identity_rq=UserIdentityRQ(identity_type=UserIdentityType.SAML,
                                        positive_response_requested=False, primary=_BIG)),
    _ui(user_identity_ac=UserIdentityAC(server_response=_BIG)),
    _ui(role_selections=(RoleSelection(sop_class_uid="1" * 65536, scu_role=True,
                                       scp_role=False),)),
    _ui(common_extended_negotiations=(SOPClassCommonExtendedNegotiation(
        sop_class_uid="1.2", service_class_uid="1.3",
        related_general_sop_classes=("1" * 40000, "2" * 40000)),)),
], ids=["58H-primary", "59H-response", "54H-uid", "57H-related-list"])
def test_encode_pdu_length_prefixed_field_over_65535_raises_local_protocol_error(
        value: PDU) -> None:
    with pytest.raises(LocalProtocolError):
        encode_pdu(value)


@pytest.mark.parametrize("value", [
    _ui(maximum_length=1 << 32),
    _ui(async_operations_window=AsyncOperationsWindow(max_operations_invoked=1 << 16,
                                                      max_operations_performed=1)),
    _rq(protocol_version=1 << 16),
    _rq(presentation_contexts=(dataclasses.replace(_PC, context_id=257),)),
    PDataTF((PDV(257, True, True, b""),)),
    AAssociateRJ(result=RejectResult.PERMANENT, source=RejectSource.SERVICE_USER, reason=256),
], ids=["max-length", "async-window", "protocol-version", "context-id", "pdv-context-id",
        "rj-reason"])
def test_encode_pdu_integer_field_out_of_range_raises_local_protocol_error(value: PDU) -> None:
    with pytest.raises(LocalProtocolError):
        encode_pdu(value)


def test_encode_pdu_ae_title_with_del_raises_local_protocol_error() -> None:
    with pytest.raises(LocalProtocolError):
        encode_pdu(_rq(called_ae_title="AE\x7fTITLE"))
