"""PDU values → bytes (PS3.8 §9.3).  Big-endian headers; items in ascending type order (UL-05)."""

from __future__ import annotations

import struct
from collections.abc import Iterable

from ..errors import LocalProtocolError
from ._enums import ItemType, PDUType
from ._items import (
    PresentationContextACItem,
    PresentationContextRQItem,
    UserInformation,
)
from ._pdus import (
    PDU,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    PDataTF,
    UnknownPDU,
)

_PDU_HEADER = struct.Struct(">BBL")
_ITEM_HEADER = struct.Struct(">BBH")
_PDV_HEADER = struct.Struct(">LBB")
_U16 = struct.Struct(">H")
_RELEASE_RQ = _PDU_HEADER.pack(PDUType.A_RELEASE_RQ, 0, 4) + bytes(4)
_RELEASE_RP = _PDU_HEADER.pack(PDUType.A_RELEASE_RP, 0, 4) + bytes(4)


def _ascii(text: str, what: str) -> bytes:
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        raise LocalProtocolError(f"{what} must be ASCII: {text!r}") from None


def _ae_title(title: str) -> bytes:
    raw = _ascii(title.strip(), "AE title")
    if not raw or len(raw) > 16 or b"\\" in raw or any(c < 0x20 or c == 0x7F for c in raw):
        raise LocalProtocolError(f"invalid AE title {title!r} (1-16 ASCII characters, no '\\')")
    return raw.ljust(16, b" ")


def _item(item_type: int, body: bytes) -> bytes:
    if len(body) > 0xFFFF:
        raise LocalProtocolError(f"item 0x{item_type:02X} too long ({len(body)} bytes)")
    return _ITEM_HEADER.pack(item_type, 0, len(body)) + body


def _with_length(raw: bytes) -> bytes:
    return _U16.pack(len(raw)) + raw


def _rq_context(pc: PresentationContextRQItem) -> bytes:
    parts = [bytes((pc.context_id, 0, 0, 0)),
             _item(ItemType.ABSTRACT_SYNTAX, _ascii(pc.abstract_syntax, "UID"))]
    parts.extend(_item(ItemType.TRANSFER_SYNTAX, _ascii(ts, "UID"))
                 for ts in pc.transfer_syntaxes)
    return _item(ItemType.PRESENTATION_CONTEXT_RQ, b"".join(parts))


def _ac_context(pc: PresentationContextACItem) -> bytes:
    body = bytes((pc.context_id, 0, int(pc.result), 0))
    body += _item(ItemType.TRANSFER_SYNTAX, _ascii(pc.transfer_syntax, "UID"))
    return _item(ItemType.PRESENTATION_CONTEXT_AC, body)


def _user_sub_items(ui: UserInformation) -> Iterable[tuple[int, bytes]]:
    yield ItemType.MAXIMUM_LENGTH, struct.pack(">L", ui.maximum_length)
    yield ItemType.IMPLEMENTATION_CLASS_UID, _ascii(ui.implementation_class_uid, "UID")
    if (w := ui.async_operations_window) is not None:
        yield ItemType.ASYNC_OPERATIONS_WINDOW, struct.pack(
            ">HH", w.max_operations_invoked, w.max_operations_performed)
    for rs in ui.role_selections:
        yield ItemType.ROLE_SELECTION, (_with_length(_ascii(rs.sop_class_uid, "UID"))
                                        + bytes((rs.scu_role, rs.scp_role)))
    if ui.implementation_version_name is not None:
        yield ItemType.IMPLEMENTATION_VERSION_NAME, _ascii(
            ui.implementation_version_name, "implementation version name")
    for en in ui.extended_negotiations:
        yield ItemType.SOP_CLASS_EXTENDED_NEGOTIATION, (
            _with_length(_ascii(en.sop_class_uid, "UID")) + en.application_information)
    for cen in ui.common_extended_negotiations:
        related = b"".join(_with_length(_ascii(u, "UID")) for u in cen.related_general_sop_classes)
        yield ItemType.SOP_CLASS_COMMON_EXTENDED_NEGOTIATION, (
            _with_length(_ascii(cen.sop_class_uid, "UID"))
            + _with_length(_ascii(cen.service_class_uid, "UID")) + _with_length(related))
    if (uid := ui.user_identity_rq) is not None:
        yield ItemType.USER_IDENTITY_RQ, (bytes((int(uid.identity_type),
                                                 uid.positive_response_requested))
                                          + _with_length(uid.primary)
                                          + _with_length(uid.secondary))
    if (uia := ui.user_identity_ac) is not None:
        yield ItemType.USER_IDENTITY_AC, _with_length(uia.server_response)
    for unknown in ui.unknown:
        yield unknown.item_type, unknown.data


def _user_information(ui: UserInformation) -> bytes:
    # sorted() is stable, so several items of one type keep their order (UL-05).
    subs = sorted(_user_sub_items(ui), key=lambda pair: pair[0])
    return _item(ItemType.USER_INFORMATION, b"".join(_item(t, b) for t, b in subs))


def _associate(pdu: AAssociateRQ | AAssociateAC) -> bytes:
    pdu_type = PDUType.A_ASSOCIATE_RQ if isinstance(pdu, AAssociateRQ) else PDUType.A_ASSOCIATE_AC
    items = [_item(ItemType.APPLICATION_CONTEXT, _ascii(pdu.application_context_name, "UID"))]
    if isinstance(pdu, AAssociateRQ):
        items.extend(_rq_context(pc) for pc in pdu.presentation_contexts)
    else:
        items.extend(_ac_context(pc) for pc in pdu.presentation_contexts)
    items.append(_user_information(pdu.user_information))
    items.extend(_item(u.item_type, u.data) for u in pdu.unknown_items)
    body = b"".join([
        struct.pack(">HH", pdu.protocol_version, 0),
        _ae_title(pdu.called_ae_title),
        _ae_title(pdu.calling_ae_title),
        bytes(32),
        *items,
    ])
    return _PDU_HEADER.pack(pdu_type, 0, len(body)) + body


def encode_pdata(pdvs: Iterable[tuple[int, int, bytes]]) -> bytes:
    """Encode a P-DATA-TF from ``(context_id, message_control_header, fragment)`` triples.

    The hot path of every DIMSE message: one ``join`` and no intermediate PDV objects.
    """
    parts: list[bytes] = [b""]
    total = 0
    for context_id, mch, data in pdvs:
        parts.append(_PDV_HEADER.pack(len(data) + 2, context_id, mch))
        parts.append(data)
        total += len(data) + 6
    parts[0] = _PDU_HEADER.pack(PDUType.P_DATA_TF, 0, total)
    return b"".join(parts)


def encode_pdu(pdu: PDU) -> bytes:
    """Encode one PDU, header included.

    Raises:
        LocalProtocolError: a field cannot be encoded (non-ASCII UID, AE title too long,
            item over 65535 bytes, a number outside its field's range).
    """
    try:
        return _encode(pdu)
    except (struct.error, ValueError, OverflowError) as exc:
        raise LocalProtocolError(f"cannot encode {type(pdu).__name__}: {exc}") from None


def _encode(pdu: PDU) -> bytes:
    match pdu:
        case PDataTF():
            return encode_pdata((p.context_id, p.is_command | (p.is_last << 1), p.data)
                                for p in pdu.pdvs)
        case AAssociateRQ() | AAssociateAC():
            return _associate(pdu)
        case AAssociateRJ():
            return _PDU_HEADER.pack(PDUType.A_ASSOCIATE_RJ, 0, 4) + bytes(
                (0, int(pdu.result), int(pdu.source), pdu.reason))
        case AReleaseRQ():
            return _RELEASE_RQ
        case AReleaseRP():
            return _RELEASE_RP
        case AAbort():
            return _PDU_HEADER.pack(PDUType.A_ABORT, 0, 4) + bytes(
                (0, 0, int(pdu.source), int(pdu.reason)))
        case UnknownPDU():
            return _PDU_HEADER.pack(pdu.pdu_type, 0, len(pdu.data)) + pdu.data
