"""Variable items and user-information sub-items of the association PDUs (PS3.8 §9.3.2-9.3.3,
Annex D; PS3.7 Annex D.3.3).

Every value is a frozen, slotted, keyword-only dataclass.  UIDs are ``str`` without padding
(UL-07); binary fields are ``bytes``.  Items whose type is unknown are kept as
:class:`UnknownItem` so nothing a peer sent is lost (UL-04).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

from ._enums import ContextResult, UserIdentityType


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownItem:
    """An item or sub-item of a type this codec does not know; kept and re-encoded as is."""

    item_type: int
    data: bytes


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class PresentationContextRQItem:
    """Presentation Context item of an A-ASSOCIATE-RQ (20H): one abstract, n transfer syntaxes."""

    context_id: int
    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...]


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class PresentationContextACItem:
    """Presentation Context item of an A-ASSOCIATE-AC (21H).

    ``transfer_syntax`` is only significant when ``result`` is ACCEPTANCE (UL-52); it is ``""``
    when the sub-item was absent.
    """

    context_id: int
    result: ContextResult
    transfer_syntax: str


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncOperationsWindow:
    """Asynchronous Operations Window sub-item (53H); 0 means unlimited (UL-62)."""

    max_operations_invoked: int
    max_operations_performed: int


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class RoleSelection:
    """SCP/SCU Role Selection sub-item (54H).  On the wire the SCU byte precedes the SCP byte."""

    sop_class_uid: str
    scu_role: bool
    scp_role: bool


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class SOPClassExtendedNegotiation:
    """SOP Class Extended Negotiation sub-item (56H)."""

    sop_class_uid: str
    application_information: bytes


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class SOPClassCommonExtendedNegotiation:
    """SOP Class Common Extended Negotiation sub-item (57H, version 0, RQ only)."""

    sop_class_uid: str
    service_class_uid: str
    related_general_sop_classes: tuple[str, ...] = ()


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class UserIdentityRQ:
    """User Identity sub-item of the RQ (58H).  ``secondary`` is the passcode for type 2."""

    identity_type: UserIdentityType
    positive_response_requested: bool
    primary: bytes
    secondary: bytes = b""


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class UserIdentityAC:
    """User Identity sub-item of the AC (59H): the server response (Kerberos ticket, SAML)."""

    server_response: bytes = b""


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class UserInformation:
    """User Information item (50H), one field per sub-item kind.

    ``maximum_length`` 0 means unlimited (UL-60).  Sub-items are encoded in ascending type order
    (UL-05); on receipt any order is accepted and unknown sub-items end up in ``unknown``.
    """

    maximum_length: int
    implementation_class_uid: str
    implementation_version_name: str | None = None
    async_operations_window: AsyncOperationsWindow | None = None
    role_selections: tuple[RoleSelection, ...] = ()
    extended_negotiations: tuple[SOPClassExtendedNegotiation, ...] = ()
    common_extended_negotiations: tuple[SOPClassCommonExtendedNegotiation, ...] = ()
    user_identity_rq: UserIdentityRQ | None = None
    user_identity_ac: UserIdentityAC | None = None
    unknown: tuple[UnknownItem, ...] = ()
