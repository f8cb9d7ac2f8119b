"""Closed sets of wire values from PS3.8 §9.3 (PDU and item types, reject and abort codes).

Reason and result enums accept values the standard reserves or does not define: decoding one
gives a pseudo-member named ``UNKNOWN_<n>`` instead of failing (UL-03: reserved values are kept,
not checked), so a peer's odd reason code is reported rather than turned into a decode error.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Self


class _OpenIntEnum(IntEnum):
    """An IntEnum that turns unknown byte values into ``UNKNOWN_<n>`` pseudo-members."""

    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        if isinstance(value, int) and 0 <= value <= 0xFF:
            member = int.__new__(cls, value)
            member._name_ = f"UNKNOWN_{value}"
            member._value_ = value
            return member
        return None


class PDUType(IntEnum):
    """PDU type byte (PS3.8 §9.3.1)."""

    A_ASSOCIATE_RQ = 0x01
    A_ASSOCIATE_AC = 0x02
    A_ASSOCIATE_RJ = 0x03
    P_DATA_TF = 0x04
    A_RELEASE_RQ = 0x05
    A_RELEASE_RP = 0x06
    A_ABORT = 0x07


class ItemType(IntEnum):
    """Variable item and user-information sub-item types (PS3.8 §9.3.2, PS3.7 D.3.3)."""

    APPLICATION_CONTEXT = 0x10
    PRESENTATION_CONTEXT_RQ = 0x20
    PRESENTATION_CONTEXT_AC = 0x21
    ABSTRACT_SYNTAX = 0x30
    TRANSFER_SYNTAX = 0x40
    USER_INFORMATION = 0x50
    MAXIMUM_LENGTH = 0x51
    IMPLEMENTATION_CLASS_UID = 0x52
    ASYNC_OPERATIONS_WINDOW = 0x53
    ROLE_SELECTION = 0x54
    IMPLEMENTATION_VERSION_NAME = 0x55
    SOP_CLASS_EXTENDED_NEGOTIATION = 0x56
    SOP_CLASS_COMMON_EXTENDED_NEGOTIATION = 0x57
    USER_IDENTITY_RQ = 0x58
    USER_IDENTITY_AC = 0x59


class RejectResult(_OpenIntEnum):
    """A-ASSOCIATE-RJ result (PS3.8 Table 9-21)."""

    #: rejected-permanent
    PERMANENT = 1
    #: rejected-transient
    TRANSIENT = 2


class RejectSource(_OpenIntEnum):
    """A-ASSOCIATE-RJ source."""

    #: DICOM UL service-user
    SERVICE_USER = 1
    #: DICOM UL service-provider (ACSE related function)
    SERVICE_PROVIDER_ACSE = 2
    #: DICOM UL service-provider (presentation related function)
    SERVICE_PROVIDER_PRESENTATION = 3


class UserRejectReason(_OpenIntEnum):
    """A-ASSOCIATE-RJ reason when the source is the service user (1)."""

    NO_REASON_GIVEN = 1
    APPLICATION_CONTEXT_NAME_NOT_SUPPORTED = 2
    CALLING_AE_TITLE_NOT_RECOGNIZED = 3
    CALLED_AE_TITLE_NOT_RECOGNIZED = 7


class ACSERejectReason(_OpenIntEnum):
    """A-ASSOCIATE-RJ reason when the source is the service provider, ACSE (2)."""

    NO_REASON_GIVEN = 1
    PROTOCOL_VERSION_NOT_SUPPORTED = 2


class PresentationRejectReason(_OpenIntEnum):
    """A-ASSOCIATE-RJ reason when the source is the service provider, presentation (3)."""

    TEMPORARY_CONGESTION = 1
    LOCAL_LIMIT_EXCEEDED = 2


class AbortSource(_OpenIntEnum):
    """A-ABORT source (PS3.8 Table 9-26)."""

    SERVICE_USER = 0
    RESERVED = 1
    SERVICE_PROVIDER = 2


class AbortReason(_OpenIntEnum):
    """A-ABORT reason/diag when the source is the service provider."""

    REASON_NOT_SPECIFIED = 0
    UNRECOGNIZED_PDU = 1
    UNEXPECTED_PDU = 2
    RESERVED = 3
    UNRECOGNIZED_PDU_PARAMETER = 4
    UNEXPECTED_PDU_PARAMETER = 5
    INVALID_PDU_PARAMETER_VALUE = 6


class ContextResult(_OpenIntEnum):
    """Presentation context result/reason in an A-ASSOCIATE-AC (PS3.8 Table 9-18)."""

    ACCEPTANCE = 0
    USER_REJECTION = 1
    NO_REASON = 2
    ABSTRACT_SYNTAX_NOT_SUPPORTED = 3
    TRANSFER_SYNTAXES_NOT_SUPPORTED = 4


class UserIdentityType(_OpenIntEnum):
    """User-Identity-Type of the 58H sub-item (PS3.7 D.3.3.7)."""

    USERNAME = 1
    USERNAME_AND_PASSCODE = 2
    KERBEROS = 3
    SAML = 4
    JWT = 5
