"""DIMSE messages (PS3.7 ch. 9-10) as frozen dataclasses, one per request/response.

Attribute names follow the command element keywords in snake case; the codec in ``_command``
maps them to group-0000 tags.  Data sets are not part of a message: they travel beside it as
bytes (``MessageReceived.data_set``) so nothing is decoded unless someone asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, final

from .._uids import VERIFICATION


class CommandField(IntEnum):
    """(0000,0100) Command Field values (DIMSE-05)."""

    C_STORE_RQ = 0x0001
    C_STORE_RSP = 0x8001
    C_GET_RQ = 0x0010
    C_GET_RSP = 0x8010
    C_FIND_RQ = 0x0020
    C_FIND_RSP = 0x8020
    C_MOVE_RQ = 0x0021
    C_MOVE_RSP = 0x8021
    C_ECHO_RQ = 0x0030
    C_ECHO_RSP = 0x8030
    N_EVENT_REPORT_RQ = 0x0100
    N_EVENT_REPORT_RSP = 0x8100
    N_GET_RQ = 0x0110
    N_GET_RSP = 0x8110
    N_SET_RQ = 0x0120
    N_SET_RSP = 0x8120
    N_ACTION_RQ = 0x0130
    N_ACTION_RSP = 0x8130
    N_CREATE_RQ = 0x0140
    N_CREATE_RSP = 0x8140
    N_DELETE_RQ = 0x0150
    N_DELETE_RSP = 0x8150
    C_CANCEL_RQ = 0x0FFF


class Priority(IntEnum):
    """(0000,0700) Priority."""

    MEDIUM = 0x0000
    HIGH = 0x0001
    LOW = 0x0002


@dataclass(frozen=True, slots=True, kw_only=True)
class _Response:
    """Fields every response may carry (PS3.7 C.4 and the N-service error fields)."""

    IS_REQUEST: ClassVar[bool] = False
    message_id_being_responded_to: int
    status: int = 0x0000
    error_comment: str | None = None
    error_id: int | None = None
    offending_element: tuple[int, ...] | None = None


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class CEchoRQ:
    """C-ECHO-RQ (DIMSE-10)."""

    COMMAND_FIELD: ClassVar[CommandField] = CommandField.C_ECHO_RQ
    IS_REQUEST: ClassVar[bool] = True
    message_id: int
    affected_sop_class_uid: str = VERIFICATION


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class CEchoRSP(_Response):
    """C-ECHO-RSP."""

    COMMAND_FIELD: ClassVar[CommandField] = CommandField.C_ECHO_RSP
    affected_sop_class_uid: str | None = VERIFICATION


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class CFindRQ:
    """C-FIND-RQ (DIMSE-11); the Identifier travels as the data set."""

    COMMAND_FIELD: ClassVar[CommandField] = CommandField.C_FIND_RQ
    IS_REQUEST: ClassVar[bool] = True
    message_id: int
    affected_sop_class_uid: str
    priority: int = Priority.MEDIUM


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class CFindRSP(_Response):
    """C-FIND-RSP; only Pending responses carry an Identifier (DIMSE-11)."""

    COMMAND_FIELD: ClassVar[CommandField] = CommandField.C_FIND_RSP
    affected_sop_class_uid: str | None = None


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class CCancelRQ:
    """C-CANCEL-RQ: no Message ID of its own and no response (DIMSE-12)."""

    COMMAND_FIELD: ClassVar[CommandField] = CommandField.C_CANCEL_RQ
    IS_REQUEST: ClassVar[bool] = True
    message_id_being_responded_to: int


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class NEventReportRQ:
    """N-EVENT-REPORT-RQ; Event Information travels as the data set."""

    COMMAND_FIELD: ClassVar[CommandField] = CommandField.N_EVENT_REPORT_RQ
    IS_REQUEST: ClassVar[bool] = True
    message_id: int
    affected_sop_class_uid: str
    affected_sop_instance_uid: str
    event_type_id: int


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class NEventReportRSP(_Response):
    """N-EVENT-REPORT-RSP; Event Reply travels as the data set."""

    COMMAND_FIELD: ClassVar[CommandField] = CommandField.N_EVENT_REPORT_RSP
    affected_sop_class_uid: str | None = None
    affected_sop_instance_uid: str | None = None
    event_type_id: int | None = None


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class NGetRQ:
    """N-GET-RQ; an absent Attribute Identifier List asks for every attribute."""

    COMMAND_FIELD: ClassVar[CommandField] = CommandField.N_GET_RQ
    IS_REQUEST: ClassVar[bool] = True
    message_id: int
    requested_sop_class_uid: str
    requested_sop_instance_uid: str
    attribute_identifier_list: tuple[int, ...] | None = None


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class NGetRSP(_Response):
    """N-GET-RSP; the Attribute List travels as the data set."""

    COMMAND_FIELD: ClassVar[CommandField] = CommandField.N_GET_RSP
    affected_sop_class_uid: str | None = None
    affected_sop_instance_uid: str | None = None
    attribute_identifier_list: tuple[int, ...] | None = None


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class NSetRQ:
    """N-SET-RQ; the Modification List travels as the data set."""

    COMMAND_FIELD: ClassVar[CommandField] = CommandField.N_SET_RQ
    IS_REQUEST: ClassVar[bool] = True
    message_id: int
    requested_sop_class_uid: str
    requested_sop_instance_uid: str


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class NSetRSP(_Response):
    """N-SET-RSP."""

    COMMAND_FIELD: ClassVar[CommandField] = CommandField.N_SET_RSP
    affected_sop_class_uid: str | None = None
    affected_sop_instance_uid: str | None = None
    attribute_identifier_list: tuple[int, ...] | None = None


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class NActionRQ:
    """N-ACTION-RQ; Action Information travels as the data set."""

    COMMAND_FIELD: ClassVar[CommandField] = CommandField.N_ACTION_RQ
    IS_REQUEST: ClassVar[bool] = True
    message_id: int
    requested_sop_class_uid: str
    requested_sop_instance_uid: str
    action_type_id: int


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class NActionRSP(_Response):
    """N-ACTION-RSP; Action Reply travels as the data set."""

    COMMAND_FIELD: ClassVar[CommandField] = CommandField.N_ACTION_RSP
    affected_sop_class_uid: str | None = None
    affected_sop_instance_uid: str | None = None
    action_type_id: int | None = None


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class NCreateRQ:
    """N-CREATE-RQ; without an instance UID the performer assigns one."""

    COMMAND_FIELD: ClassVar[CommandField] = CommandField.N_CREATE_RQ
    IS_REQUEST: ClassVar[bool] = True
    message_id: int
    affected_sop_class_uid: str
    affected_sop_instance_uid: str | None = None


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class NCreateRSP(_Response):
    """N-CREATE-RSP."""

    COMMAND_FIELD: ClassVar[CommandField] = CommandField.N_CREATE_RSP
    affected_sop_class_uid: str | None = None
    affected_sop_instance_uid: str | None = None


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class NDeleteRQ:
    """N-DELETE-RQ."""

    COMMAND_FIELD: ClassVar[CommandField] = CommandField.N_DELETE_RQ
    IS_REQUEST: ClassVar[bool] = True
    message_id: int
    requested_sop_class_uid: str
    requested_sop_instance_uid: str


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class NDeleteRSP(_Response):
    """N-DELETE-RSP."""

    COMMAND_FIELD: ClassVar[CommandField] = CommandField.N_DELETE_RSP
    affected_sop_class_uid: str | None = None
    affected_sop_instance_uid: str | None = None


Request = (
    CEchoRQ | CFindRQ | CCancelRQ | NEventReportRQ | NGetRQ | NSetRQ | NActionRQ | NCreateRQ
    | NDeleteRQ
)
Response = (
    CEchoRSP | CFindRSP | NEventReportRSP | NGetRSP | NSetRSP | NActionRSP | NCreateRSP
    | NDeleteRSP
)
Message = Request | Response

#: Command Field -> message class, for decoding.
MESSAGE_TYPES: dict[int, type[Message]] = {
    cls.COMMAND_FIELD: cls for cls in (
        CEchoRQ, CEchoRSP, CFindRQ, CFindRSP, CCancelRQ, NEventReportRQ, NEventReportRSP,
        NGetRQ, NGetRSP, NSetRQ, NSetRSP, NActionRQ, NActionRSP, NCreateRQ, NCreateRSP,
        NDeleteRQ, NDeleteRSP)
}

#: Request class -> its response class.
RESPONSE_TYPES: dict[type[Request], type[Response]] = {
    CEchoRQ: CEchoRSP, CFindRQ: CFindRSP, NEventReportRQ: NEventReportRSP, NGetRQ: NGetRSP,
    NSetRQ: NSetRSP, NActionRQ: NActionRSP, NCreateRQ: NCreateRSP, NDeleteRQ: NDeleteRSP,
}
