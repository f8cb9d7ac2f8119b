"""The seven PDUs of PS3.8 §9.3, plus :class:`UnknownPDU` for types the standard does not define.

PDUs are plain values: encoding lives in ``_encode``, decoding in ``_decode``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

from ._enums import AbortReason, AbortSource, RejectResult, RejectSource
from ._items import (
    PresentationContextACItem,
    PresentationContextRQItem,
    UnknownItem,
    UserInformation,
)

#: The DICOM application context name (PS3.7 Annex A.2.1).
DICOM_APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class AAssociateRQ:
    """A-ASSOCIATE-RQ (01H).  AE titles are kept without padding."""

    called_ae_title: str
    calling_ae_title: str
    presentation_contexts: tuple[PresentationContextRQItem, ...]
    user_information: UserInformation
    application_context_name: str = DICOM_APPLICATION_CONTEXT
    protocol_version: int = 1
    unknown_items: tuple[UnknownItem, ...] = ()


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class AAssociateAC:
    """A-ASSOCIATE-AC (02H).  The AE title fields echo the RQ and are never tested (UL-03)."""

    called_ae_title: str
    calling_ae_title: str
    presentation_contexts: tuple[PresentationContextACItem, ...]
    user_information: UserInformation
    application_context_name: str = DICOM_APPLICATION_CONTEXT
    protocol_version: int = 1
    unknown_items: tuple[UnknownItem, ...] = ()


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class AAssociateRJ:
    """A-ASSOCIATE-RJ (03H).  ``reason`` is read per source (see the ``*RejectReason`` enums)."""

    result: RejectResult
    source: RejectSource
    reason: int


@final
@dataclass(frozen=True, slots=True)
class PDV:
    """One Presentation Data Value item: a command or data-set fragment (PS3.8 §9.3.5.1).

    Positional for speed: it is created once per fragment on the hot path.
    """

    context_id: int
    is_command: bool
    is_last: bool
    data: bytes


@final
@dataclass(frozen=True, slots=True)
class PDataTF:
    """P-DATA-TF (04H): one or more PDVs of one message (UL-32)."""

    pdvs: tuple[PDV, ...]


@final
@dataclass(frozen=True, slots=True)
class AReleaseRQ:
    """A-RELEASE-RQ (05H)."""


@final
@dataclass(frozen=True, slots=True)
class AReleaseRP:
    """A-RELEASE-RP (06H)."""


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class AAbort:
    """A-ABORT (07H).  ``reason`` is only significant when ``source`` is SERVICE_PROVIDER."""

    source: AbortSource = AbortSource.SERVICE_USER
    reason: AbortReason = AbortReason.REASON_NOT_SPECIFIED


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownPDU:
    """A PDU whose type byte is not one of the seven; decoding keeps it for the state machine
    (which answers Evt19 with an A-ABORT)."""

    pdu_type: int
    data: bytes


PDU = (
    AAssociateRQ | AAssociateAC | AAssociateRJ | PDataTF | AReleaseRQ | AReleaseRP | AAbort
    | UnknownPDU
)
