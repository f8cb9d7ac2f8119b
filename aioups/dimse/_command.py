"""Group-0000 command set codec (PS3.7 §6.3.1, Annex E), Implicit VR Little Endian, no pydicom.

Each message class's fields map to command elements through one table (:data:`COMMAND_ELEMENTS`).
Encoding writes elements in ascending tag order behind (0000,0000) CommandGroupLength
(DIMSE-01/02); decoding tolerates unknown and retired group-0000 elements (DIMSE-04).
"""

from __future__ import annotations

import struct
from dataclasses import fields
from enum import Enum
from typing import final

from ..errors import LocalProtocolError, RemoteProtocolError
from ..pdu import AbortReason
from ._messages import MESSAGE_TYPES, Message


class VR(Enum):
    """The value representations that occur in command sets."""

    UI = "UI"
    US = "US"
    UL = "UL"
    AE = "AE"
    LO = "LO"
    AT = "AT"


#: attribute name -> (element number in group 0000, VR)   (DIMSE-04)
COMMAND_ELEMENTS: dict[str, tuple[int, VR]] = {
    "affected_sop_class_uid": (0x0002, VR.UI),
    "requested_sop_class_uid": (0x0003, VR.UI),
    "message_id": (0x0110, VR.US),
    "message_id_being_responded_to": (0x0120, VR.US),
    "move_destination": (0x0600, VR.AE),
    "priority": (0x0700, VR.US),
    "status": (0x0900, VR.US),
    "offending_element": (0x0901, VR.AT),
    "error_comment": (0x0902, VR.LO),
    "error_id": (0x0903, VR.US),
    "affected_sop_instance_uid": (0x1000, VR.UI),
    "requested_sop_instance_uid": (0x1001, VR.UI),
    "event_type_id": (0x1002, VR.US),
    "attribute_identifier_list": (0x1005, VR.AT),
    "action_type_id": (0x1008, VR.US),
    "number_of_remaining_sub_operations": (0x1020, VR.US),
    "number_of_completed_sub_operations": (0x1021, VR.US),
    "number_of_failed_sub_operations": (0x1022, VR.US),
    "number_of_warning_sub_operations": (0x1023, VR.US),
    "move_originator_application_entity_title": (0x1030, VR.AE),
    "move_originator_message_id": (0x1031, VR.US),
}
_BY_ELEMENT = {elem: (name, vr) for name, (elem, vr) in COMMAND_ELEMENTS.items()}

_COMMAND_FIELD = 0x0100
_DATA_SET_TYPE = 0x0800
#: (0000,0800) value meaning "no data set" (DIMSE-04, edge case 16).
NO_DATA_SET = 0x0101
_HEADER = struct.Struct("<HHL")
_US = struct.Struct("<H")
_UL_ELEMENT = struct.Struct("<HHLL")
_US_ELEMENT = struct.Struct("<HHLH")


def _encode_value(vr: VR, value: object) -> bytes:
    if vr is VR.US:
        return _US.pack(value)
    if vr is VR.UI:
        raw = str(value).encode("ascii")
        return raw + b"\0" if len(raw) % 2 else raw
    if vr is VR.AT:
        assert isinstance(value, tuple)
        return b"".join(struct.pack("<HH", tag >> 16, tag & 0xFFFF) for tag in value)
    if vr is VR.UL:
        return struct.pack("<L", value)
    raw = str(value).encode("latin-1" if vr is VR.LO else "ascii")
    return raw + b" " if len(raw) % 2 else raw


def _plan(cls: type[Message]) -> tuple[tuple[str, int, VR], ...]:
    """The (attribute, element, VR) list of a message class in ascending tag order."""
    plan = [(f.name, *COMMAND_ELEMENTS[f.name]) for f in fields(cls)]
    plan.append(("", _COMMAND_FIELD, VR.US))
    plan.append(("", _DATA_SET_TYPE, VR.US))
    return tuple(sorted(plan, key=lambda p: p[1]))


_PLANS = {cls: _plan(cls) for cls in MESSAGE_TYPES.values()}


def encode_command(message: Message, *, has_data_set: bool) -> bytes:
    """Encode a message's command set, (0000,0000) CommandGroupLength first.

    Raises:
        LocalProtocolError: a field value cannot be encoded (out of range, wrong type, text
            outside the VR's character repertoire).
    """
    try:
        return _encode_command(message, has_data_set)
    except (struct.error, UnicodeEncodeError, KeyError, TypeError, ValueError) as exc:
        raise LocalProtocolError(f"cannot encode {type(message).__name__}: {exc}") from None


def _encode_command(message: Message, has_data_set: bool) -> bytes:
    parts: list[bytes] = []
    for name, elem, vr in _PLANS[type(message)]:
        if elem == _COMMAND_FIELD:
            parts.append(_US_ELEMENT.pack(0, elem, 2, message.COMMAND_FIELD))
        elif elem == _DATA_SET_TYPE:
            parts.append(_US_ELEMENT.pack(0, elem, 2, 0x0001 if has_data_set else NO_DATA_SET))
        else:
            value = getattr(message, name)
            if value is None:
                continue
            if vr is VR.US:
                parts.append(_US_ELEMENT.pack(0, elem, 2, value))
            else:
                raw = _encode_value(vr, value)
                parts.append(_HEADER.pack(0, elem, len(raw)))
                parts.append(raw)
    body = b"".join(parts)
    return _UL_ELEMENT.pack(0, 0, 4, len(body)) + body


def _decode_value(vr: VR, raw: bytes) -> object:
    if vr is VR.US:
        if len(raw) != 2:
            raise ValueError(f"US value of {len(raw)} bytes")
        return _US.unpack(raw)[0]
    if vr is VR.UI:
        return raw.decode("ascii").rstrip("\0 ")
    if vr is VR.AT:
        if len(raw) % 4:
            raise ValueError("AT value not a multiple of 4 bytes")
        pairs = struct.unpack(f"<{len(raw) // 2}H", raw)
        return tuple((pairs[i] << 16) | pairs[i + 1] for i in range(0, len(pairs), 2))
    if vr is VR.UL:
        return struct.unpack("<L", raw)[0]
    return raw.decode("latin-1" if vr is VR.LO else "ascii").strip(" \0")


def _fail(msg: str) -> RemoteProtocolError:
    return RemoteProtocolError(f"invalid DIMSE command set: {msg}",
                               abort_reason=AbortReason.INVALID_PDU_PARAMETER_VALUE)


def decode_command_elements(data: bytes) -> dict[int, object]:
    """Decode a command set into ``{element: value}``; unknown elements are kept as bytes."""
    values: dict[int, object] = {}
    pos, end = 0, len(data)
    while pos < end:
        if end - pos < 8:
            raise _fail(f"truncated element header at {pos}")
        group, elem, length = _HEADER.unpack_from(data, pos)
        pos += 8
        if group != 0 or pos + length > end:
            raise _fail(f"element ({group:04X},{elem:04X}) at {pos - 8} is out of place")
        raw = data[pos:pos + length]
        pos += length
        known = _BY_ELEMENT.get(elem)
        try:
            if known is not None:
                values[elem] = _decode_value(known[1], raw)
            elif elem in (_COMMAND_FIELD, _DATA_SET_TYPE):
                values[elem] = _decode_value(VR.US, raw)
            else:
                values[elem] = raw  # group length and retired elements: tolerated (DIMSE-04)
        except (ValueError, UnicodeDecodeError, struct.error) as exc:
            raise _fail(f"element (0000,{elem:04X}): {exc}") from None
    return values


@final
class UnknownCommand:
    """A command set whose Command Field aioups does not know (answered with 0211H)."""

    __slots__ = ("command_field", "elements")

    def __init__(self, command_field: int, elements: dict[int, object]) -> None:
        self.command_field = command_field
        self.elements = elements

    @property
    def message_id(self) -> int | None:
        value = self.elements.get(0x0110)
        return value if isinstance(value, int) else None

    def unrecognized_response(self) -> bytes:
        """The command set answering this request with 0211H (unrecognized operation): the
        response Command Field (request | 8000H), the request's SOP Class and Message ID."""
        parts = []
        sop_class = self.elements.get(0x0002)
        if isinstance(sop_class, str):
            raw = _encode_value(VR.UI, sop_class)
            parts.append(_HEADER.pack(0, 0x0002, len(raw)) + raw)
        parts.append(_US_ELEMENT.pack(0, _COMMAND_FIELD, 2, self.command_field | 0x8000))
        parts.append(_US_ELEMENT.pack(0, 0x0120, 2, self.message_id or 0))
        parts.append(_US_ELEMENT.pack(0, _DATA_SET_TYPE, 2, NO_DATA_SET))
        parts.append(_US_ELEMENT.pack(0, 0x0900, 2, 0x0211))
        body = b"".join(parts)
        return _UL_ELEMENT.pack(0, 0, 4, len(body)) + body

    def __repr__(self) -> str:
        return f"UnknownCommand(command_field=0x{self.command_field:04X})"


def decode_command(data: bytes) -> tuple[Message | UnknownCommand, bool]:
    """Decode a command set into ``(message, has_data_set)``.

    Raises:
        RemoteProtocolError: the bytes are not a command set, or a mandatory field is missing.
    """
    values = decode_command_elements(data)
    command_field = values.get(_COMMAND_FIELD)
    data_set_type = values.get(_DATA_SET_TYPE, NO_DATA_SET)
    if not isinstance(command_field, int):
        raise _fail("no Command Field (0000,0100)")
    has_data_set = data_set_type != NO_DATA_SET
    cls = MESSAGE_TYPES.get(command_field)
    if cls is None:
        return UnknownCommand(command_field, values), has_data_set
    if not cls.IS_REQUEST and 0x0900 not in values:
        raise _fail(f"{cls.__name__} without Status (0000,0900)")
    kwargs = {}
    for name, elem, _vr in _PLANS[cls]:
        if name and elem in values:
            kwargs[name] = values[elem]
    try:
        return cls(**kwargs), has_data_set  # type: ignore[arg-type]  # VRs checked above
    except TypeError as exc:
        raise _fail(f"{cls.__name__}: {exc}") from None
