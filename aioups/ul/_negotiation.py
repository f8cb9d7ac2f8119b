"""Association negotiation as pure functions (PS3.8 §9.3.2-9.3.3, PS3.7 Annex D.3.3).

Requestor: :func:`build_associate_rq` turns proposals into an A-ASSOCIATE-RQ and
:func:`negotiated_from_ac` reads the answer.  Acceptor: :func:`answer_associate_rq` decides
(A-ASSOCIATE-AC or -RJ) from an :class:`AcceptorPolicy`, and :func:`negotiated_from_ac` gives the
acceptor the same :class:`Negotiated` view.  Every result is from the *local* side's point of view.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import final

from .._uids import (
    IMPLEMENTATION_CLASS_UID,
    IMPLEMENTATION_VERSION_NAME,
    UNCOMPRESSED_TRANSFER_SYNTAXES,
)
from ..errors import LocalProtocolError
from ..pdu import (
    DICOM_APPLICATION_CONTEXT,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AsyncOperationsWindow,
    ContextResult,
    PresentationContextACItem,
    PresentationContextRQItem,
    RejectResult,
    RejectSource,
    RoleSelection,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
    UserRejectReason,
)


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class PresentationContextProposal:
    """A presentation context the requestor proposes.

    ``scu_role``/``scp_role`` other than ``None`` add an SCP/SCU Role Selection item (54H) for the
    abstract syntax (UL-63): e.g. ``scu_role=False, scp_role=True`` to act as UPS Event SCP.
    """

    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...] = UNCOMPRESSED_TRANSFER_SYNTAXES
    scu_role: bool | None = None
    scp_role: bool | None = None


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class NegotiatedContext:
    """An accepted presentation context and what the local side may do on it."""

    context_id: int
    abstract_syntax: str
    transfer_syntax: str
    #: the local side may send requests (act as SCU) on this context
    local_scu: bool
    #: the local side may perform requests (act as SCP) on this context
    local_scp: bool


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Negotiated:
    """The outcome of association negotiation, seen from the local side."""

    local_ae_title: str
    peer_ae_title: str
    contexts: Mapping[int, NegotiatedContext]
    #: proposed contexts the acceptor rejected, with their result
    rejected: tuple[PresentationContextACItem, ...]
    #: the peer's Maximum Length: the largest P-DATA-TF we may send (0 = unlimited)
    peer_max_pdu_length: int
    #: our Maximum Length: the largest P-DATA-TF the peer may send us (0 = unlimited)
    local_max_pdu_length: int
    #: how many requests we may have outstanding (0 = unlimited, UL-62)
    max_operations_invoked: int
    #: how many requests we perform at once (0 = unlimited)
    max_operations_performed: int
    peer_implementation_class_uid: str
    peer_implementation_version_name: str | None
    user_identity: UserIdentityRQ | None = None
    user_identity_response: bytes | None = None


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class SupportedSyntax:
    """What an acceptor supports for one abstract syntax.

    ``scu_role``/``scp_role`` say whether the *requestor* may take that role when it proposes
    role selection (the requestor is SCU by default, UL-63).
    """

    transfer_syntaxes: tuple[str, ...] = UNCOMPRESSED_TRANSFER_SYNTAXES
    scu_role: bool = True
    scp_role: bool = False


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityDecision:
    """What the acceptor's authentication callback decided about a 58H user identity."""

    accepted: bool
    server_response: bytes = b""


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class AcceptorPolicy:
    """How an acceptor answers association requests.

    Args:
        ae_title: our AE title.
        supported: abstract syntax -> what we support for it.
        require_called_ae_title: reject (1, 1, 7) when Called AE differs from ``ae_title``.
        allowed_calling_ae_titles: when set, reject (1, 1, 3) any other Calling AE title.
        max_pdu_length: the Maximum Length we advertise (0 = unlimited).
        max_operations_invoked / max_operations_performed: our asynchronous operations window.
    """

    ae_title: str
    supported: Mapping[str, SupportedSyntax]
    require_called_ae_title: bool = False
    allowed_calling_ae_titles: frozenset[str] | None = None
    max_pdu_length: int = 16384
    max_operations_invoked: int = 1
    max_operations_performed: int = 1
    implementation_class_uid: str = IMPLEMENTATION_CLASS_UID
    implementation_version_name: str | None = IMPLEMENTATION_VERSION_NAME


def _min_window(offered: int, ours: int) -> int:
    """The smaller of two window sizes where 0 means unlimited (UL-62)."""
    if offered == 0:
        return ours
    if ours == 0:
        return offered
    return min(offered, ours)


def build_associate_rq(
    *, calling_ae_title: str, called_ae_title: str,
    contexts: tuple[PresentationContextProposal, ...], max_pdu_length: int = 16384,
    max_operations_invoked: int = 1, max_operations_performed: int = 1,
    user_identity: UserIdentityRQ | None = None,
    implementation_class_uid: str = IMPLEMENTATION_CLASS_UID,
    implementation_version_name: str | None = IMPLEMENTATION_VERSION_NAME,
) -> AAssociateRQ:
    """Build an A-ASSOCIATE-RQ; context IDs are 1, 3, 5, … in proposal order (UL-50).

    The 53H item is sent only when the window is not the default 1/1.
    """
    if not contexts:
        raise LocalProtocolError("at least one presentation context must be proposed")
    if len(contexts) > 128:
        raise LocalProtocolError(f"{len(contexts)} presentation contexts (at most 128)")
    items = tuple(PresentationContextRQItem(context_id=2 * i + 1, abstract_syntax=p.abstract_syntax,
                                            transfer_syntaxes=p.transfer_syntaxes)
                  for i, p in enumerate(contexts))
    roles: dict[str, RoleSelection] = {}
    for p in contexts:
        if p.scu_role is not None or p.scp_role is not None:
            roles.setdefault(p.abstract_syntax, RoleSelection(
                sop_class_uid=p.abstract_syntax, scu_role=bool(p.scu_role),
                scp_role=bool(p.scp_role)))
    window = None
    if (max_operations_invoked, max_operations_performed) != (1, 1):
        window = AsyncOperationsWindow(max_operations_invoked=max_operations_invoked,
                                       max_operations_performed=max_operations_performed)
    return AAssociateRQ(
        called_ae_title=called_ae_title, calling_ae_title=calling_ae_title,
        presentation_contexts=items,
        user_information=UserInformation(
            maximum_length=max_pdu_length, implementation_class_uid=implementation_class_uid,
            implementation_version_name=implementation_version_name,
            async_operations_window=window, role_selections=tuple(roles.values()),
            user_identity_rq=user_identity))


def _reject(reason: UserRejectReason) -> AAssociateRJ:
    return AAssociateRJ(result=RejectResult.PERMANENT, source=RejectSource.SERVICE_USER,
                        reason=int(reason))


def _answer_context(pc: PresentationContextRQItem,
                    policy: AcceptorPolicy) -> PresentationContextACItem:
    support = policy.supported.get(pc.abstract_syntax)
    if support is None:
        return PresentationContextACItem(context_id=pc.context_id, transfer_syntax="",
                                         result=ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED)
    for ts in pc.transfer_syntaxes:  # the requestor's order of preference
        if ts in support.transfer_syntaxes:
            return PresentationContextACItem(context_id=pc.context_id, transfer_syntax=ts,
                                             result=ContextResult.ACCEPTANCE)
    return PresentationContextACItem(context_id=pc.context_id, transfer_syntax="",
                                     result=ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED)


def _answer_roles(rq: AAssociateRQ, policy: AcceptorPolicy) -> tuple[RoleSelection, ...]:
    answers = []
    for rs in rq.user_information.role_selections:
        support = policy.supported.get(rs.sop_class_uid)
        if support is None:
            continue
        # Never accept a role the requestor proposed as 0 (UL-63).
        answers.append(RoleSelection(sop_class_uid=rs.sop_class_uid,
                                     scu_role=rs.scu_role and support.scu_role,
                                     scp_role=rs.scp_role and support.scp_role))
    return tuple(answers)


def answer_associate_rq(rq: AAssociateRQ, policy: AcceptorPolicy,
                        identity: IdentityDecision | None = None) -> AAssociateAC | AAssociateRJ:
    """Decide how to answer an A-ASSOCIATE-RQ.

    ``identity`` is the authentication callback's verdict on ``rq``'s 58H item (``None`` when
    there was none or nobody checks).  A failed identity gives RJ (1, 1, 1).
    """
    if rq.application_context_name != DICOM_APPLICATION_CONTEXT:
        return _reject(UserRejectReason.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED)
    if policy.require_called_ae_title and rq.called_ae_title != policy.ae_title.strip():
        return _reject(UserRejectReason.CALLED_AE_TITLE_NOT_RECOGNIZED)
    allowed = policy.allowed_calling_ae_titles
    if allowed is not None and rq.calling_ae_title not in allowed:
        return _reject(UserRejectReason.CALLING_AE_TITLE_NOT_RECOGNIZED)
    if identity is not None and not identity.accepted:
        return _reject(UserRejectReason.NO_REASON_GIVEN)
    ui = rq.user_information
    window = None
    if (w := ui.async_operations_window) is not None:
        # AC values are from the requestor's point of view (PS3.7 D.3.3.3).
        window = AsyncOperationsWindow(
            max_operations_invoked=_min_window(w.max_operations_invoked,
                                               policy.max_operations_performed),
            max_operations_performed=_min_window(w.max_operations_performed,
                                                 policy.max_operations_invoked))
    identity_ac = None
    if (ui.user_identity_rq is not None and ui.user_identity_rq.positive_response_requested
            and identity is not None and identity.accepted):
        identity_ac = UserIdentityAC(server_response=identity.server_response)  # UL-68
    return AAssociateAC(
        called_ae_title=rq.called_ae_title, calling_ae_title=rq.calling_ae_title,
        presentation_contexts=tuple(_answer_context(pc, policy)
                                    for pc in rq.presentation_contexts),
        user_information=UserInformation(
            maximum_length=policy.max_pdu_length,
            implementation_class_uid=policy.implementation_class_uid,
            implementation_version_name=policy.implementation_version_name,
            async_operations_window=window, role_selections=_answer_roles(rq, policy),
            user_identity_ac=identity_ac))


def _roles(rq: AAssociateRQ, ac: AAssociateAC) -> dict[str, tuple[bool, bool]]:
    """Requestor's (SCU, SCP) role per SOP class after role selection (UL-63, UL-64)."""
    proposed = {rs.sop_class_uid: rs for rs in rq.user_information.role_selections}
    result = {}
    for rs in ac.user_information.role_selections:
        if (mine := proposed.get(rs.sop_class_uid)) is not None:
            result[rs.sop_class_uid] = (mine.scu_role and rs.scu_role,
                                        mine.scp_role and rs.scp_role)
    return result


def negotiated_from_ac(rq: AAssociateRQ, ac: AAssociateAC, *, requestor: bool) -> Negotiated:
    """The negotiated association for the requestor (``requestor=True``) or the acceptor."""
    roles = _roles(rq, ac)
    proposed = {pc.context_id: pc for pc in rq.presentation_contexts}
    contexts: dict[int, NegotiatedContext] = {}
    rejected = []
    for item in ac.presentation_contexts:
        pc = proposed.get(item.context_id)
        if pc is None:
            continue  # an answer to a context nobody proposed is ignored
        if item.result != ContextResult.ACCEPTANCE:
            rejected.append(item)
            continue
        rq_scu, rq_scp = roles.get(pc.abstract_syntax, (True, False))
        contexts[item.context_id] = NegotiatedContext(
            context_id=item.context_id, abstract_syntax=pc.abstract_syntax,
            transfer_syntax=item.transfer_syntax,
            local_scu=rq_scu if requestor else rq_scp,
            local_scp=rq_scp if requestor else rq_scu)
    w = ac.user_information.async_operations_window
    if rq.user_information.async_operations_window is None or w is None:
        invoked = performed = 1
    else:
        invoked, performed = w.max_operations_invoked, w.max_operations_performed
    rq_max, ac_max = rq.user_information.maximum_length, ac.user_information.maximum_length
    peer_ui = ac.user_information if requestor else rq.user_information
    identity_ac = ac.user_information.user_identity_ac
    return Negotiated(
        local_ae_title=rq.calling_ae_title if requestor else rq.called_ae_title,
        peer_ae_title=rq.called_ae_title if requestor else rq.calling_ae_title,
        contexts=contexts, rejected=tuple(rejected),
        peer_max_pdu_length=ac_max if requestor else rq_max,
        local_max_pdu_length=rq_max if requestor else ac_max,
        max_operations_invoked=invoked if requestor else performed,
        max_operations_performed=performed if requestor else invoked,
        peer_implementation_class_uid=peer_ui.implementation_class_uid,
        peer_implementation_version_name=peer_ui.implementation_version_name,
        user_identity=rq.user_information.user_identity_rq,
        user_identity_response=identity_ac.server_response if identity_ac else None)
