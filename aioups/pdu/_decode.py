"""Bytes → PDU values (PS3.8 §9.3).

``decode_pdu`` either returns a PDU or raises :class:`PDUDecodeError` — nothing else, for any
input (the property the fuzz tests check).  Decoding is lenient where the standard says a field is
not tested (reserved bytes, UL-03; AC AE titles; the transfer syntax of a rejected context, UL-52)
and strict about lengths, because a wrong length desynchronises everything after it.
"""

from __future__ import annotations

import struct

from ..errors import PDUDecodeError
from ._enums import (
    AbortReason,
    AbortSource,
    ContextResult,
    ItemType,
    PDUType,
    RejectResult,
    RejectSource,
    UserIdentityType,
)
from ._items import (
    AsyncOperationsWindow,
    PresentationContextACItem,
    PresentationContextRQItem,
    RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UnknownItem,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
)
from ._pdus import (
    PDU,
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    PDataTF,
    UnknownPDU,
)

_PDV_HEADER = struct.Struct(">LBB")
_ITEM_HEADER = struct.Struct(">BBH")
_INVALID = AbortReason.INVALID_PDU_PARAMETER_VALUE
_UNEXPECTED = AbortReason.UNEXPECTED_PDU_PARAMETER


class _Reader:
    """Cursor over one PDU body; ``base`` is the body's offset inside the PDU (for errors)."""

    __slots__ = ("base", "data", "pdu_type", "pos")

    def __init__(self, data: bytes, pdu_type: int, base: int = 6) -> None:
        self.data = data
        self.pos = 0
        self.base = base
        self.pdu_type = pdu_type

    def fail(self, msg: str, reason: int = _INVALID) -> PDUDecodeError:
        return PDUDecodeError(msg, pdu_type=self.pdu_type, offset=self.base + self.pos,
                              abort_reason=reason)

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(f"need {n} bytes, {len(self.data) - self.pos} left")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def text(self, n: int) -> str:
        raw = self.take(n)
        try:
            # Lenient: peers sometimes pad UIDs and titles (UL-07); compare stripped values.
            return raw.decode("ascii").rstrip("\0 ")
        except UnicodeDecodeError:
            self.pos -= n
            raise self.fail("non-ASCII text") from None

    def u16_prefixed(self) -> bytes:
        return self.take(self.u16())

    def u16_text(self) -> str:
        return self.text(self.u16())

    def items(self) -> list[tuple[int, _Reader]]:
        """Split the rest into (item_type, reader over the item body)."""
        out = []
        while self.pos < len(self.data):
            if len(self.data) - self.pos < 4:
                raise self.fail("truncated item header")
            item_type, _, length = _ITEM_HEADER.unpack_from(self.data, self.pos)
            start = self.pos + 4
            self.pos = start
            body = self.take(length)
            out.append((item_type, _Reader(body, self.pdu_type, self.base + start)))
        return out

    def done(self) -> bool:
        return self.pos >= len(self.data)


def _rq_context(r: _Reader) -> PresentationContextRQItem:
    context_id = r.u8()
    r.take(3)
    abstract: str | None = None
    transfer: list[str] = []
    for item_type, sub in r.items():
        if item_type == ItemType.ABSTRACT_SYNTAX:
            if abstract is not None:
                raise sub.fail("two abstract syntaxes in one context", _UNEXPECTED)
            abstract = sub.text(len(sub.data))
        elif item_type == ItemType.TRANSFER_SYNTAX:
            transfer.append(sub.text(len(sub.data)))
        # Other sub-item types are skipped (UL-04).
    if abstract is None or not transfer:
        raise r.fail(f"presentation context {context_id} lacks an abstract or transfer syntax")
    return PresentationContextRQItem(context_id=context_id, abstract_syntax=abstract,
                                     transfer_syntaxes=tuple(transfer))


def _ac_context(r: _Reader) -> PresentationContextACItem:
    context_id = r.u8()
    r.u8()
    result = ContextResult(r.u8())
    r.u8()
    transfer = ""
    for item_type, sub in r.items():
        if item_type == ItemType.TRANSFER_SYNTAX and not transfer:
            if result == ContextResult.ACCEPTANCE:
                transfer = sub.text(len(sub.data))
            # The sub-item of a rejected context is not significant and not tested (UL-52).
    if result == ContextResult.ACCEPTANCE and not transfer:
        raise r.fail(f"accepted presentation context {context_id} has no transfer syntax")
    return PresentationContextACItem(context_id=context_id, result=result,
                                     transfer_syntax=transfer)


def _fixed(sub: _Reader, size: int) -> None:
    if len(sub.data) != size:
        raise sub.fail(f"sub-item must be {size} bytes, is {len(sub.data)}")


def _common_ext(sub: _Reader) -> SOPClassCommonExtendedNegotiation:
    sop = sub.u16_text()
    service = sub.u16_text()
    body = sub.u16_prefixed()
    related = _Reader(body, sub.pdu_type, sub.base + sub.pos - len(body))
    uids = []
    while not related.done():
        uids.append(related.u16_text())
    return SOPClassCommonExtendedNegotiation(sop_class_uid=sop, service_class_uid=service,
                                             related_general_sop_classes=tuple(uids))


def _user_information(r: _Reader) -> UserInformation:
    fields: dict[str, object] = {}
    roles, ext, common, unknown = [], [], [], []
    for item_type, sub in r.items():
        if item_type == ItemType.MAXIMUM_LENGTH:
            _fixed(sub, 4)
            fields.setdefault("maximum_length", sub.u32())
        elif item_type == ItemType.IMPLEMENTATION_CLASS_UID:
            fields.setdefault("implementation_class_uid", sub.text(len(sub.data)))
        elif item_type == ItemType.ASYNC_OPERATIONS_WINDOW:
            _fixed(sub, 4)
            fields.setdefault("async_operations_window", AsyncOperationsWindow(
                max_operations_invoked=sub.u16(), max_operations_performed=sub.u16()))
        elif item_type == ItemType.ROLE_SELECTION:
            uid = sub.u16_text()
            roles.append(RoleSelection(sop_class_uid=uid, scu_role=bool(sub.u8()),
                                       scp_role=bool(sub.u8())))
        elif item_type == ItemType.IMPLEMENTATION_VERSION_NAME:
            fields.setdefault("implementation_version_name", sub.text(len(sub.data)))
        elif item_type == ItemType.SOP_CLASS_EXTENDED_NEGOTIATION:
            uid = sub.u16_text()
            ext.append(SOPClassExtendedNegotiation(sop_class_uid=uid,
                                                   application_information=sub.take(
                                                       len(sub.data) - sub.pos)))
        elif item_type == ItemType.SOP_CLASS_COMMON_EXTENDED_NEGOTIATION:
            common.append(_common_ext(sub))
        elif item_type == ItemType.USER_IDENTITY_RQ:
            id_type, positive = UserIdentityType(sub.u8()), bool(sub.u8())
            fields.setdefault("user_identity_rq", UserIdentityRQ(
                identity_type=id_type, positive_response_requested=positive,
                primary=sub.u16_prefixed(), secondary=sub.u16_prefixed()))
        elif item_type == ItemType.USER_IDENTITY_AC:
            fields.setdefault("user_identity_ac",
                              UserIdentityAC(server_response=sub.u16_prefixed()))
        else:
            unknown.append(UnknownItem(item_type=item_type, data=sub.data))
    return UserInformation(
        maximum_length=fields.pop("maximum_length", 0),  # type: ignore[arg-type]
        implementation_class_uid=fields.pop("implementation_class_uid", ""),  # type: ignore[arg-type]
        role_selections=tuple(roles), extended_negotiations=tuple(ext),
        common_extended_negotiations=tuple(common), unknown=tuple(unknown),
        **fields,  # type: ignore[arg-type]
    )


def _associate(r: _Reader, is_rq: bool) -> AAssociateRQ | AAssociateAC:
    if len(r.data) < 68:
        raise r.fail("A-ASSOCIATE fixed fields truncated")
    version = r.u16()
    r.take(2)
    if is_rq:
        called, calling = r.text(16).strip(), r.text(16).strip()
    else:  # AC bytes 10-73 echo the RQ and are not tested on receipt (UL-03)
        titles = r.take(32).decode("ascii", errors="replace")
        called, calling = titles[:16].strip(" \0"), titles[16:].strip(" \0")
    r.take(32)
    app_context: str | None = None
    user_info: UserInformation | None = None
    contexts: list[PresentationContextRQItem | PresentationContextACItem] = []
    unknown: list[UnknownItem] = []
    context_type = ItemType.PRESENTATION_CONTEXT_RQ if is_rq else ItemType.PRESENTATION_CONTEXT_AC
    for item_type, sub in r.items():
        if item_type == ItemType.APPLICATION_CONTEXT and app_context is None:
            app_context = sub.text(len(sub.data))
        elif item_type == context_type:
            contexts.append(_rq_context(sub) if is_rq else _ac_context(sub))
        elif item_type == ItemType.USER_INFORMATION and user_info is None:
            user_info = _user_information(sub)
        elif item_type in ItemType.__members__.values():
            raise sub.fail(f"item 0x{item_type:02X} not allowed here", _UNEXPECTED)
        else:
            unknown.append(UnknownItem(item_type=item_type, data=sub.data))
    if app_context is None or user_info is None:
        raise r.fail("A-ASSOCIATE lacks the application context or user information item")
    cls = AAssociateRQ if is_rq else AAssociateAC
    return cls(protocol_version=version, called_ae_title=called, calling_ae_title=calling,
               application_context_name=app_context,
               presentation_contexts=tuple(contexts),  # type: ignore[arg-type]
               user_information=user_info, unknown_items=tuple(unknown))


def decode_pdata(body: bytes) -> PDataTF:
    """Decode the variable field of a P-DATA-TF into PDVs (hot path: no ``_Reader``)."""
    pdvs = []
    pos, end = 0, len(body)
    unpack = _PDV_HEADER.unpack_from
    while pos < end:
        if end - pos < 6:
            raise PDUDecodeError("truncated PDV header", pdu_type=4, offset=6 + pos,
                                 abort_reason=_INVALID)
        length, context_id, mch = unpack(body, pos)
        if length < 2 or pos + 4 + length > end:
            raise PDUDecodeError(f"PDV length {length} does not fit", pdu_type=4,
                                 offset=6 + pos, abort_reason=_INVALID)
        # Only bits 0-1 of the message control header are significant (UL-31).
        pdvs.append(PDV(context_id, bool(mch & 1), bool(mch & 2), body[pos + 6:pos + 4 + length]))
        pos += 4 + length
    return PDataTF(tuple(pdvs))


def _fixed4(body: bytes, pdu_type: int) -> bytes:
    if len(body) != 4:
        raise PDUDecodeError(f"PDU length must be 4, is {len(body)}", pdu_type=pdu_type,
                             offset=2, abort_reason=_INVALID)
    return body


def decode_pdu(pdu_type: int, body: bytes) -> PDU:
    """Decode one PDU from its type byte and its body (the bytes after the 6-byte header).

    Raises:
        PDUDecodeError: the body is malformed; ``abort_reason`` says which A-ABORT reason fits.
    """
    if pdu_type == PDUType.P_DATA_TF:
        return decode_pdata(body)
    if pdu_type in (PDUType.A_ASSOCIATE_RQ, PDUType.A_ASSOCIATE_AC):
        return _associate(_Reader(body, pdu_type), pdu_type == PDUType.A_ASSOCIATE_RQ)
    if pdu_type == PDUType.A_ASSOCIATE_RJ:
        raw = _fixed4(body, pdu_type)
        return AAssociateRJ(result=RejectResult(raw[1]), source=RejectSource(raw[2]),
                            reason=raw[3])
    if pdu_type == PDUType.A_RELEASE_RQ:
        _fixed4(body, pdu_type)
        return AReleaseRQ()
    if pdu_type == PDUType.A_RELEASE_RP:
        _fixed4(body, pdu_type)
        return AReleaseRP()
    if pdu_type == PDUType.A_ABORT:
        raw = _fixed4(body, pdu_type)
        return AAbort(source=AbortSource(raw[2]), reason=AbortReason(raw[3]))
    return UnknownPDU(pdu_type=pdu_type, data=bytes(body))


def decode_pdu_bytes(data: bytes) -> PDU:
    """Decode exactly one whole PDU, header included (a convenience for tests and tools)."""
    if len(data) < 6:
        raise PDUDecodeError("truncated PDU header", offset=0,
                             abort_reason=AbortReason.UNRECOGNIZED_PDU)
    pdu_type, _, length = struct.unpack_from(">BBL", data)
    if length != len(data) - 6:
        raise PDUDecodeError(f"PDU length {length} but {len(data) - 6} bytes follow",
                             pdu_type=pdu_type, offset=2, abort_reason=_INVALID)
    return decode_pdu(pdu_type, bytes(data[6:]))
