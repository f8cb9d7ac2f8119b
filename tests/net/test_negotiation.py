"""Association negotiation as pure functions (PS3.8 §9.3.2-9.3.3, PS3.7 D.3.3):
``build_associate_rq``, ``answer_associate_rq`` and ``negotiated_from_ac``.  No I/O.

Expected outcomes are written out by hand from the standard, never computed with the code under
test.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioups.errors import LocalProtocolError
from aioups.pdu import (
    DICOM_APPLICATION_CONTEXT,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AsyncOperationsWindow,
    ContextResult,
    PresentationContextACItem,
    RejectResult,
    RejectSource,
    RoleSelection,
    UserIdentityAC,
    UserIdentityRQ,
    UserIdentityType,
    decode_pdu_bytes,
    encode_pdu,
)
from aioups.ul import (
    AcceptorPolicy,
    IdentityDecision,
    PresentationContextProposal,
    SupportedSyntax,
    answer_associate_rq,
    build_associate_rq,
    negotiated_from_ac,
)

VERIFICATION = "1.2.840.10008.1.1"
UPS_PUSH = "1.2.840.10008.5.1.4.34.6.1"
UPS_EVENT = "1.2.840.10008.5.1.4.34.6.4"
UPS_WATCH = "1.2.840.10008.5.1.4.34.6.2"
IMPLICIT = "1.2.840.10008.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
BIG_ENDIAN = "1.2.840.10008.1.2.2"
JPEG = "1.2.840.10008.1.2.4.50"


def proposal(abstract_syntax: str = VERIFICATION, *, ts: tuple[str, ...] = (EXPLICIT, IMPLICIT),
             scu: bool | None = None, scp: bool | None = None) -> PresentationContextProposal:
    return PresentationContextProposal(abstract_syntax=abstract_syntax, transfer_syntaxes=ts,
                                       scu_role=scu, scp_role=scp)


def rq_for(*proposals: PresentationContextProposal, invoked: int = 1, performed: int = 1,
           identity: UserIdentityRQ | None = None, max_pdu: int = 16384) -> AAssociateRQ:
    return build_associate_rq(calling_ae_title="SCU", called_ae_title="SCP",
                              contexts=proposals or (proposal(),), max_pdu_length=max_pdu,
                              max_operations_invoked=invoked,
                              max_operations_performed=performed, user_identity=identity)


def policy(supported: dict[str, SupportedSyntax] | None = None, **kwargs: object) -> AcceptorPolicy:
    if supported is None:
        supported = {VERIFICATION: SupportedSyntax()}
    return AcceptorPolicy(ae_title="SCP", supported=supported, **kwargs)  # type: ignore[arg-type]


def accept(rq: AAssociateRQ, pol: AcceptorPolicy,
           identity: IdentityDecision | None = None) -> AAssociateAC:
    answer = answer_associate_rq(rq, pol, identity)
    assert isinstance(answer, AAssociateAC), answer
    return answer


def reject(rq: AAssociateRQ, pol: AcceptorPolicy,
           identity: IdentityDecision | None = None) -> AAssociateRJ:
    answer = answer_associate_rq(rq, pol, identity)
    assert isinstance(answer, AAssociateRJ), answer
    return answer


# -- building the request ------------------------------------------------------------------------


def test_build_rq_context_ids_are_odd_in_proposal_order() -> None:
    rq = rq_for(proposal(VERIFICATION), proposal(UPS_PUSH), proposal(UPS_WATCH))
    assert [(pc.context_id, pc.abstract_syntax) for pc in rq.presentation_contexts] == [
        (1, VERIFICATION), (3, UPS_PUSH), (5, UPS_WATCH)]
    assert rq.application_context_name == DICOM_APPLICATION_CONTEXT
    assert (rq.calling_ae_title, rq.called_ae_title) == ("SCU", "SCP")


def test_build_rq_128_contexts_is_the_limit() -> None:
    rq = rq_for(*[proposal(f"1.2.3.{i}") for i in range(128)])
    ids = [pc.context_id for pc in rq.presentation_contexts]
    assert ids[0] == 1
    assert ids[-1] == 255
    assert len(set(ids)) == 128


@pytest.mark.parametrize("count", [0, 129, 200])
def test_build_rq_refuses_no_or_more_than_128_contexts(count: int) -> None:
    proposals = tuple(proposal(f"1.2.3.{i}") for i in range(count))
    with pytest.raises(LocalProtocolError):
        build_associate_rq(calling_ae_title="SCU", called_ae_title="SCP", contexts=proposals)


def test_build_rq_same_abstract_syntax_twice_gets_two_contexts() -> None:
    rq = rq_for(proposal(VERIFICATION, ts=(EXPLICIT,)), proposal(VERIFICATION, ts=(IMPLICIT,)))
    assert [(pc.context_id, pc.transfer_syntaxes) for pc in rq.presentation_contexts] == [
        (1, (EXPLICIT,)), (3, (IMPLICIT,))]


def test_build_rq_without_roles_has_no_role_selection_items() -> None:
    rq = rq_for(proposal(VERIFICATION), proposal(UPS_PUSH))
    assert rq.user_information.role_selections == ()


def test_build_rq_role_selection_one_item_per_sop_class() -> None:
    rq = rq_for(proposal(UPS_EVENT, scu=False, scp=True), proposal(UPS_EVENT, ts=(IMPLICIT,),
                                                                  scu=False, scp=True),
                proposal(VERIFICATION))
    assert rq.user_information.role_selections == (
        RoleSelection(sop_class_uid=UPS_EVENT, scu_role=False, scp_role=True),)


@pytest.mark.parametrize(("invoked", "performed", "item"), [
    (1, 1, None),
    (0, 0, AsyncOperationsWindow(max_operations_invoked=0, max_operations_performed=0)),
    (5, 1, AsyncOperationsWindow(max_operations_invoked=5, max_operations_performed=1)),
    (1, 3, AsyncOperationsWindow(max_operations_invoked=1, max_operations_performed=3)),
])
def test_build_rq_async_window_item_only_when_not_default(
        invoked: int, performed: int, item: AsyncOperationsWindow | None) -> None:
    rq = rq_for(invoked=invoked, performed=performed)
    assert rq.user_information.async_operations_window == item


# -- presentation contexts -----------------------------------------------------------------------


def test_answer_transfer_syntax_follows_requestor_preference() -> None:
    pol = policy({VERIFICATION: SupportedSyntax(transfer_syntaxes=(EXPLICIT, IMPLICIT))})
    ac = accept(rq_for(proposal(ts=(IMPLICIT, EXPLICIT)), proposal(ts=(EXPLICIT, IMPLICIT))), pol)
    assert [(item.context_id, item.result, item.transfer_syntax)
            for item in ac.presentation_contexts] == [
        (1, ContextResult.ACCEPTANCE, IMPLICIT), (3, ContextResult.ACCEPTANCE, EXPLICIT)]


def test_answer_transfer_syntax_skips_unsupported_ones() -> None:
    pol = policy({VERIFICATION: SupportedSyntax(transfer_syntaxes=(IMPLICIT,))})
    [item] = accept(rq_for(proposal(ts=(JPEG, BIG_ENDIAN, IMPLICIT))), pol).presentation_contexts
    assert (item.result, item.transfer_syntax) == (ContextResult.ACCEPTANCE, IMPLICIT)


def test_answer_unsupported_abstract_syntax_result_3() -> None:
    ac = accept(rq_for(proposal(UPS_PUSH), proposal(VERIFICATION)), policy())
    assert [(item.context_id, item.result) for item in ac.presentation_contexts] == [
        (1, ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED), (3, ContextResult.ACCEPTANCE)]


def test_answer_unsupported_transfer_syntaxes_result_4() -> None:
    pol = policy({VERIFICATION: SupportedSyntax(transfer_syntaxes=(IMPLICIT,))})
    [item] = accept(rq_for(proposal(ts=(JPEG, EXPLICIT))), pol).presentation_contexts
    assert item.result == ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED
    assert item.context_id == 1


def test_answer_with_no_acceptable_context_is_still_an_ac() -> None:
    # PS3.8 lets the acceptor accept the association with every context rejected
    ac = accept(rq_for(proposal(UPS_PUSH)), policy())
    negotiated = negotiated_from_ac(rq_for(proposal(UPS_PUSH)), ac, requestor=True)
    assert negotiated.contexts == {}
    assert [item.result for item in negotiated.rejected] == [
        ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED]


def test_negotiated_contexts_from_mixed_answer() -> None:
    rq = rq_for(proposal(VERIFICATION), proposal(UPS_PUSH), proposal(VERIFICATION, ts=(JPEG,)))
    pol = policy({VERIFICATION: SupportedSyntax()})
    ac = accept(rq, pol)
    for requestor in (True, False):
        negotiated = negotiated_from_ac(rq, ac, requestor=requestor)
        assert list(negotiated.contexts) == [1]
        assert negotiated.contexts[1].abstract_syntax == VERIFICATION
        assert negotiated.contexts[1].transfer_syntax == EXPLICIT
        assert [(item.context_id, item.result) for item in negotiated.rejected] == [
            (3, ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED),
            (5, ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED)]


def test_negotiated_ignores_answers_to_unproposed_context_ids() -> None:
    rq = rq_for(proposal(VERIFICATION))
    ac = accept(rq, policy())
    stray = PresentationContextACItem(context_id=7, result=ContextResult.ACCEPTANCE,
                                      transfer_syntax=EXPLICIT)
    ac = replace(ac, presentation_contexts=(*ac.presentation_contexts, stray))
    assert list(negotiated_from_ac(rq, ac, requestor=True).contexts) == [1]


# -- SCP/SCU role selection (PS3.7 D.3.3.4, UL-63/UL-64) -----------------------------------------

# proposed (SCU, SCP) x acceptor supports (SCU, SCP) -> role item in the AC (SCU, SCP)
#   -> requestor (may send requests, may perform requests)
#   -> acceptor (may send requests, may perform requests)
ROLE_TABLE = [
    # requestor proposes SCU only
    ((1, 0), (1, 0), (1, 0), (1, 0), (0, 1)),
    ((1, 0), (1, 1), (1, 0), (1, 0), (0, 1)),
    ((1, 0), (0, 1), (0, 0), (0, 0), (0, 0)),
    ((1, 0), (0, 0), (0, 0), (0, 0), (0, 0)),
    # requestor proposes SCP only (e.g. UPS Event SCP receiving N-EVENT-REPORTs)
    ((0, 1), (1, 1), (0, 1), (0, 1), (1, 0)),
    ((0, 1), (0, 1), (0, 1), (0, 1), (1, 0)),
    ((0, 1), (1, 0), (0, 0), (0, 0), (0, 0)),
    ((0, 1), (0, 0), (0, 0), (0, 0), (0, 0)),
    # requestor proposes both
    ((1, 1), (1, 1), (1, 1), (1, 1), (1, 1)),
    ((1, 1), (1, 0), (1, 0), (1, 0), (0, 1)),
    ((1, 1), (0, 1), (0, 1), (0, 1), (1, 0)),
    ((1, 1), (0, 0), (0, 0), (0, 0), (0, 0)),
]


@pytest.mark.parametrize(("proposed", "supported", "ac_item", "requestor", "acceptor"),
                         ROLE_TABLE,
                         ids=[f"rq{p[0]}{p[1]}-sup{s[0]}{s[1]}" for p, s, *_ in ROLE_TABLE])
def test_role_selection_table(proposed: tuple[int, int], supported: tuple[int, int],
                              ac_item: tuple[int, int], requestor: tuple[int, int],
                              acceptor: tuple[int, int]) -> None:
    rq = rq_for(proposal(UPS_EVENT, scu=bool(proposed[0]), scp=bool(proposed[1])))
    pol = policy({UPS_EVENT: SupportedSyntax(scu_role=bool(supported[0]),
                                             scp_role=bool(supported[1]))})
    ac = accept(rq, pol)
    [item] = ac.user_information.role_selections
    assert item.sop_class_uid == UPS_EVENT
    assert (item.scu_role, item.scp_role) == tuple(map(bool, ac_item))
    # never 1 for a role proposed as 0 (UL-63)
    assert not (item.scu_role and not proposed[0])
    assert not (item.scp_role and not proposed[1])
    mine = negotiated_from_ac(rq, ac, requestor=True).contexts[1]
    theirs = negotiated_from_ac(rq, ac, requestor=False).contexts[1]
    assert (mine.local_scu, mine.local_scp) == tuple(map(bool, requestor))
    assert (theirs.local_scu, theirs.local_scp) == tuple(map(bool, acceptor))


def test_roles_default_without_role_selection() -> None:
    rq = rq_for(proposal(VERIFICATION))
    pol = policy({VERIFICATION: SupportedSyntax(scu_role=True, scp_role=True)})
    ac = accept(rq, pol)
    assert ac.user_information.role_selections == ()  # none proposed: none returned (UL-64)
    mine = negotiated_from_ac(rq, ac, requestor=True).contexts[1]
    theirs = negotiated_from_ac(rq, ac, requestor=False).contexts[1]
    assert (mine.local_scu, mine.local_scp) == (True, False)
    assert (theirs.local_scu, theirs.local_scp) == (False, True)


def test_roles_only_answered_for_the_sop_classes_proposed() -> None:
    rq = rq_for(proposal(UPS_EVENT, scu=False, scp=True), proposal(VERIFICATION))
    pol = policy({UPS_EVENT: SupportedSyntax(scu_role=True, scp_role=True),
                  VERIFICATION: SupportedSyntax(scu_role=True, scp_role=True)})
    ac = accept(rq, pol)
    assert [rs.sop_class_uid for rs in ac.user_information.role_selections] == [UPS_EVENT]


def test_roles_not_answered_for_unsupported_sop_class() -> None:
    rq = rq_for(proposal(UPS_EVENT, scu=False, scp=True), proposal(VERIFICATION))
    ac = accept(rq, policy())
    assert ac.user_information.role_selections == ()
    assert ac.presentation_contexts[0].result == ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED


def test_roles_missing_from_ac_fall_back_to_defaults() -> None:
    rq = rq_for(proposal(UPS_EVENT, scu=True, scp=True))
    pol = policy({UPS_EVENT: SupportedSyntax(scu_role=True, scp_role=True)})
    ac = accept(rq, pol)
    ac = replace(ac, user_information=replace(ac.user_information, role_selections=()))
    mine = negotiated_from_ac(rq, ac, requestor=True).contexts[1]
    assert (mine.local_scu, mine.local_scp) == (True, False)


def test_requestor_ignores_roles_it_did_not_propose() -> None:
    # an acceptor that answers a role item for a SOP class nobody proposed roles for ...
    rq = rq_for(proposal(VERIFICATION), proposal(UPS_EVENT, scu=True, scp=False))
    ac = accept(rq, policy({VERIFICATION: SupportedSyntax(), UPS_EVENT: SupportedSyntax()}))
    rogue = (RoleSelection(sop_class_uid=VERIFICATION, scu_role=True, scp_role=True),
             RoleSelection(sop_class_uid=UPS_EVENT, scu_role=True, scp_role=True))
    ac = replace(ac, user_information=replace(ac.user_information, role_selections=rogue))
    contexts = negotiated_from_ac(rq, ac, requestor=True).contexts
    # ... does not make the requestor an SCP: Verification keeps the defaults, and UPS Event
    # keeps SCP = 0 because the requestor proposed SCP = 0
    assert (contexts[1].local_scu, contexts[1].local_scp) == (True, False)
    assert (contexts[3].local_scu, contexts[3].local_scp) == (True, False)


# -- asynchronous operations window (PS3.7 D.3.3.3, UL-62) ---------------------------------------

WINDOW_TABLE = [
    # requestor (invoked, performed), acceptor policy (invoked, performed) -> AC (inv, perf)
    ((5, 5), (3, 2), (2, 3)),
    ((2, 3), (5, 5), (2, 3)),
    ((0, 0), (3, 4), (4, 3)),
    ((5, 5), (0, 0), (5, 5)),
    ((0, 0), (0, 0), (0, 0)),
    ((0, 2), (7, 0), (0, 2)),
    ((1, 0), (4, 1), (1, 4)),
]


@pytest.mark.parametrize(("rq_window", "ours", "ac_window"), WINDOW_TABLE)
def test_async_window_min_with_zero_unlimited(rq_window: tuple[int, int], ours: tuple[int, int],
                                              ac_window: tuple[int, int]) -> None:
    rq = rq_for(invoked=rq_window[0], performed=rq_window[1])
    ac = accept(rq, policy(max_operations_invoked=ours[0], max_operations_performed=ours[1]))
    window = ac.user_information.async_operations_window
    assert window is not None
    assert (window.max_operations_invoked, window.max_operations_performed) == ac_window
    requestor = negotiated_from_ac(rq, ac, requestor=True)
    acceptor = negotiated_from_ac(rq, ac, requestor=False)
    # what one side may invoke is what the other performs
    assert (requestor.max_operations_invoked, requestor.max_operations_performed) == ac_window
    assert (acceptor.max_operations_invoked, acceptor.max_operations_performed) == ac_window[::-1]


@given(st.integers(0, 20), st.integers(0, 20), st.integers(0, 20), st.integers(0, 20))
def test_async_window_never_exceeds_either_side(rq_inv: int, rq_perf: int, our_inv: int,
                                                our_perf: int) -> None:
    if (rq_inv, rq_perf) == (1, 1):
        return  # no 53H item at all: covered below
    rq = rq_for(invoked=rq_inv, performed=rq_perf)
    ac = accept(rq, policy(max_operations_invoked=our_inv, max_operations_performed=our_perf))
    window = ac.user_information.async_operations_window
    assert window is not None
    for answered, proposed, limit in ((window.max_operations_invoked, rq_inv, our_perf),
                                      (window.max_operations_performed, rq_perf, our_inv)):
        if proposed:
            assert 1 <= answered <= proposed
        if limit:
            assert 1 <= answered <= limit
        if answered == 0:
            assert proposed == limit == 0


def test_async_window_absent_in_ac_when_absent_in_rq() -> None:
    rq = rq_for()  # 1/1: no 53H item
    assert rq.user_information.async_operations_window is None
    ac = accept(rq, policy(max_operations_invoked=5, max_operations_performed=0))
    assert ac.user_information.async_operations_window is None
    for requestor in (True, False):
        negotiated = negotiated_from_ac(rq, ac, requestor=requestor)
        assert (negotiated.max_operations_invoked, negotiated.max_operations_performed) == (1, 1)


def test_async_window_absent_in_ac_means_default() -> None:
    rq = rq_for(invoked=5, performed=5)
    ac = accept(rq, policy(max_operations_invoked=5, max_operations_performed=5))
    ac = replace(ac, user_information=replace(ac.user_information, async_operations_window=None))
    negotiated = negotiated_from_ac(rq, ac, requestor=True)
    assert (negotiated.max_operations_invoked, negotiated.max_operations_performed) == (1, 1)


# -- maximum length ------------------------------------------------------------------------------


def test_max_pdu_length_seen_from_each_side() -> None:
    rq = rq_for(max_pdu=1024)
    ac = accept(rq, policy(max_pdu_length=32768))
    assert ac.user_information.maximum_length == 32768
    requestor = negotiated_from_ac(rq, ac, requestor=True)
    acceptor = negotiated_from_ac(rq, ac, requestor=False)
    assert (requestor.local_max_pdu_length, requestor.peer_max_pdu_length) == (1024, 32768)
    assert (acceptor.local_max_pdu_length, acceptor.peer_max_pdu_length) == (32768, 1024)


# -- user identity (PS3.7 D.3.3.7, UL-68) --------------------------------------------------------


def user(*, positive: bool) -> UserIdentityRQ:
    return UserIdentityRQ(identity_type=UserIdentityType.USERNAME_AND_PASSCODE,
                          positive_response_requested=positive, primary=b"alice",
                          secondary=b"secret")


@pytest.mark.parametrize(("positive", "decision", "expected"), [
    (True, IdentityDecision(accepted=True, server_response=b"ticket"), b"ticket"),
    (True, IdentityDecision(accepted=True), b""),
    (False, IdentityDecision(accepted=True, server_response=b"ticket"), None),
    (True, None, None),  # nobody checked the identity: no positive response
    (False, None, None),
], ids=["requested-accepted", "requested-accepted-empty", "not-requested", "unchecked",
        "not-requested-unchecked"])
def test_user_identity_ac_only_when_requested_and_accepted(
        positive: bool, decision: IdentityDecision | None, expected: bytes | None) -> None:
    rq = rq_for(identity=user(positive=positive))
    ac = accept(rq, policy(), decision)
    identity_ac = ac.user_information.user_identity_ac
    if expected is None:
        assert identity_ac is None
    else:
        assert identity_ac == UserIdentityAC(server_response=expected)
    requestor = negotiated_from_ac(rq, ac, requestor=True)
    assert requestor.user_identity_response == expected
    acceptor = negotiated_from_ac(rq, ac, requestor=False)
    assert acceptor.user_identity == user(positive=positive)


@pytest.mark.parametrize("positive", [True, False])
def test_user_identity_rejected_gives_rj_1_1_1(positive: bool) -> None:
    rj = reject(rq_for(identity=user(positive=positive)), policy(),
                IdentityDecision(accepted=False, server_response=b"nope"))
    assert (rj.result, rj.source, rj.reason) == (RejectResult.PERMANENT,
                                                 RejectSource.SERVICE_USER, 1)


# -- rejections ----------------------------------------------------------------------------------


def test_application_context_mismatch_rejected_1_1_2() -> None:
    rq = replace(rq_for(), application_context_name="1.2.3.4.5")
    rj = reject(rq, policy())
    assert (rj.result, rj.source, rj.reason) == (RejectResult.PERMANENT,
                                                 RejectSource.SERVICE_USER, 2)


def test_called_ae_title_checked_only_when_required() -> None:
    rq = replace(rq_for(), called_ae_title="OTHER")
    accept(rq, policy())
    rj = reject(rq, policy(require_called_ae_title=True))
    assert (rj.result, rj.source, rj.reason) == (1, 1, 7)
    accept(replace(rq, called_ae_title="SCP"), policy(require_called_ae_title=True))


def test_called_ae_title_check_survives_the_wire() -> None:
    # AE titles are space-padded to 16 bytes on the wire
    rq = decode_pdu_bytes(encode_pdu(rq_for()))
    assert isinstance(rq, AAssociateRQ)
    accept(rq, policy(require_called_ae_title=True))


def test_calling_ae_title_allow_list_rejected_1_1_3() -> None:
    rq = rq_for()  # calling AE "SCU"
    rj = reject(rq, policy(allowed_calling_ae_titles=frozenset({"FRIEND"})))
    assert (rj.result, rj.source, rj.reason) == (1, 1, 3)
    accept(rq, policy(allowed_calling_ae_titles=frozenset({"FRIEND", "SCU"})))


def test_negotiated_ae_titles_seen_from_each_side() -> None:
    rq = rq_for()
    ac = accept(rq, policy())
    requestor = negotiated_from_ac(rq, ac, requestor=True)
    acceptor = negotiated_from_ac(rq, ac, requestor=False)
    assert (requestor.local_ae_title, requestor.peer_ae_title) == ("SCU", "SCP")
    assert (acceptor.local_ae_title, acceptor.peer_ae_title) == ("SCP", "SCU")
