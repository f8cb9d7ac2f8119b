"""Two ``ULConnection`` peers wired back to back (no I/O): establishment, data, release
(normal and colliding, SM-05/SM-06, edge cases 12-13), abort, reject and garbage."""

from __future__ import annotations

from dataclasses import replace

import pytest

from aioups.errors import LocalProtocolError
from aioups.pdu import (
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    ContextResult,
    PresentationContextACItem,
    PresentationContextRQItem,
    RejectResult,
    RejectSource,
    UserInformation,
    decode_pdu_bytes,
)
from aioups.ul import (
    Aborted,
    AbortRequest,
    AssociateAccept,
    AssociateReject,
    AssociateRequest,
    AssociationAccepted,
    AssociationRejected,
    AssociationRequested,
    DataReceived,
    PDataRequest,
    ProviderAborted,
    Released,
    ReleaseRequest,
    ReleaseRequested,
    ReleaseResponse,
    Role,
    State,
    ULConfig,
    ULConnection,
)

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
TS = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")
RQ = AAssociateRQ(
    called_ae_title="STORESCP", calling_ae_title="STORESCU",
    presentation_contexts=(
        PresentationContextRQItem(context_id=1, abstract_syntax="1.2.840.10008.1.1",
                                  transfer_syntaxes=TS),
        PresentationContextRQItem(context_id=3, abstract_syntax=CT_IMAGE, transfer_syntaxes=TS),
    ),
    user_information=UserInformation(maximum_length=16384, implementation_class_uid="1.2.3",
                                      implementation_version_name="TEST_SCU"),
)
AC = AAssociateAC(
    called_ae_title="STORESCP", calling_ae_title="STORESCU",
    presentation_contexts=(
        PresentationContextACItem(context_id=1, result=ContextResult.ACCEPTANCE,
                                  transfer_syntax=TS[0]),
        PresentationContextACItem(context_id=3, result=ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED,
                                  transfer_syntax=""),
    ),
    user_information=UserInformation(maximum_length=32768, implementation_class_uid="1.2.4"),
)
COMMAND = (PDV(1, True, True, b"\x00\x00" * 8),)
DATASET = (PDV(1, False, False, b"ab" * 10), PDV(1, False, True, b"cd"))
T = 30.0


def pair() -> tuple[ULConnection, ULConnection]:
    cfg = ULConfig(artim_timeout=T)
    return ULConnection(Role.REQUESTOR, cfg), ULConnection(Role.ACCEPTOR, cfg)


def deliver(src: ULConnection, dst: ULConnection, now: float, chunk: int = 0) -> list[object]:
    """Move everything ``src`` wants to write into ``dst`` (in ``chunk``-byte pieces)."""
    data = src.data_to_send()
    assert data, "nothing to deliver"
    if not chunk:
        return list(dst.receive_data(data, now))
    events: list[object] = []
    for i in range(0, len(data), chunk):
        events += dst.receive_data(data[i:i + chunk], now)
    return events


def states(conn: ULConnection) -> list[str]:
    """The path through the state machine, e.g. ``["Sta6", "Sta7", "Sta1"]``."""
    path = [t.state.value for t in conn.history]
    return [*path, conn.history[-1].next_state.value]


def detailless(events: list[object]) -> list[object]:
    return [replace(e, detail="") if isinstance(e, ProviderAborted) else e for e in events]


def associate(now: float = 0.0, chunk: int = 0) -> tuple[ULConnection, ULConnection]:
    req, acc = pair()
    req.send(AssociateRequest(rq=RQ), now)
    assert req.state is State.STA4 and req.data_to_send() == b""  # AE-1: connect first
    assert acc.transport_connected(now) == []
    assert req.transport_connected(now) == []
    assert deliver(req, acc, now, chunk) == [AssociationRequested(rq=RQ)]
    assert acc.state is State.STA3
    acc.send(AssociateAccept(ac=AC), now)
    assert deliver(acc, req, now, chunk) == [AssociationAccepted(ac=AC)]
    return req, acc


def test_association_establishment_both_sides_reach_sta6() -> None:
    req, acc = associate()
    assert (req.state, acc.state) == (State.STA6, State.STA6)
    assert states(req) == ["Sta1", "Sta4", "Sta5", "Sta6"]
    assert states(acc) == ["Sta1", "Sta2", "Sta3", "Sta6"]
    assert (req.get_timer(), acc.get_timer()) == (None, None)


def test_association_establishment_byte_by_byte_same_events() -> None:
    req, acc = associate(chunk=1)
    assert (req.state, acc.state) == (State.STA6, State.STA6)


def test_data_transfer_both_ways_pdvs_delivered_in_order() -> None:
    req, acc = associate()
    req.send(PDataRequest(COMMAND), 1.0)
    req.send(PDataRequest(DATASET), 1.0)
    assert deliver(req, acc, 1.0) == [DataReceived(COMMAND), DataReceived(DATASET)]
    acc.send(PDataRequest(COMMAND), 2.0)
    assert deliver(acc, req, 2.0, chunk=7) == [DataReceived(COMMAND)]
    assert (req.state, acc.state) == (State.STA6, State.STA6)


def test_normal_release_requestor_closes_acceptor_waits_in_sta13() -> None:
    req, acc = associate()
    req.send(ReleaseRequest(), 1.0)
    assert deliver(req, acc, 1.0) == [ReleaseRequested(collision=False)]
    assert acc.state is State.STA8
    acc.send(ReleaseResponse(), 2.0)
    assert (acc.state, acc.get_timer()) == (State.STA13, 2.0 + T)
    assert deliver(acc, req, 2.0) == [Released()]
    assert req.state is State.STA1  # AR-3: the requestor closes the transport
    assert acc.receive_data(b"", 3.0) == []  # AR-5
    assert (acc.state, acc.get_timer()) == (State.STA1, None)
    assert states(req)[-3:] == ["Sta6", "Sta7", "Sta1"]
    assert states(acc)[-4:] == ["Sta6", "Sta8", "Sta13", "Sta1"]


def test_release_sta7_receives_but_cannot_send_pdata() -> None:
    req, acc = associate()
    req.send(ReleaseRequest(), 1.0)
    with pytest.raises(LocalProtocolError):
        req.send(PDataRequest(COMMAND), 1.0)  # SM-05: no sending after A-RELEASE-RQ
    assert (req.state, req.data_to_send()) == (State.STA7, bytes.fromhex("05000000000400000000"))
    acc.send(PDataRequest(COMMAND), 1.0)  # crossed in flight: arrives in Sta7 (AR-6)
    assert deliver(acc, req, 1.5) == [DataReceived(COMMAND)]
    assert req.state is State.STA7


def test_release_sta8_still_sends_pdata_before_response() -> None:
    req, acc = associate()
    req.send(ReleaseRequest(), 1.0)
    deliver(req, acc, 1.0)
    acc.send(PDataRequest(COMMAND), 2.0)  # AR-7
    acc.send(PDataRequest(DATASET), 2.0)
    assert acc.state is State.STA8
    with pytest.raises(LocalProtocolError):
        acc.send(ReleaseRequest(), 2.0)  # the acceptor cannot start its own release now
    acc.send(ReleaseResponse(), 3.0)
    # The P-DATA-TFs and the RP arrive in one chunk: all of it is processed in order.
    assert deliver(acc, req, 3.0) == [DataReceived(COMMAND), DataReceived(DATASET), Released()]
    assert req.state is State.STA1


def test_release_collision_requestor_answers_first_both_close() -> None:
    req, acc = associate()
    req.send(ReleaseRequest(), 1.0)
    acc.send(ReleaseRequest(), 1.0)
    rq_from_req, rq_from_acc = req.data_to_send(), acc.data_to_send()
    assert req.receive_data(rq_from_acc, 2.0) == [ReleaseRequested(collision=True)]
    assert acc.receive_data(rq_from_req, 2.0) == [ReleaseRequested(collision=True)]
    assert (req.state, acc.state) == (State.STA9, State.STA10)

    with pytest.raises(LocalProtocolError):  # edge case 12: the acceptor must wait for RP
        acc.send(ReleaseResponse(), 2.0)
    assert acc.data_to_send() == b""

    req.send(ReleaseResponse(), 3.0)  # AR-9
    assert (req.state, req.get_timer()) == (State.STA11, None)
    assert deliver(req, acc, 3.0) == [Released()]  # AR-10
    assert acc.state is State.STA12
    acc.send(ReleaseResponse(), 4.0)  # AR-4
    assert (acc.state, acc.get_timer()) == (State.STA13, 4.0 + T)
    assert deliver(acc, req, 4.0) == [Released()]  # AR-3
    assert req.state is State.STA1
    assert acc.receive_data(b"", 5.0) == []  # AR-5
    assert acc.state is State.STA1
    assert states(req)[-5:] == ["Sta6", "Sta7", "Sta9", "Sta11", "Sta1"]
    assert states(acc)[-6:] == ["Sta6", "Sta7", "Sta10", "Sta12", "Sta13", "Sta1"]


def test_release_collision_acceptor_answers_without_rp_deadlock_avoided() -> None:
    """Edge case 12 backwards: an acceptor that answered first would hit AA-8 on the peer."""
    req, acc = associate()
    req.send(ReleaseRequest(), 1.0)
    acc.send(ReleaseRequest(), 1.0)
    req.receive_data(acc.data_to_send(), 2.0)
    acc.receive_data(req.data_to_send(), 2.0)
    events = req.receive_data(bytes.fromhex("06000000000400000000"), 3.0)  # RP in Sta9
    assert detailless(events) == [ProviderAborted(reason=2, local=True)]
    assert decode_pdu_bytes(req.data_to_send()) == AAbort(source=2, reason=2)


@pytest.mark.parametrize("aborter", ["requestor", "acceptor"])
def test_abort_either_side_peer_gets_aborted_and_closes(aborter: str) -> None:
    req, acc = associate()
    src, dst = (req, acc) if aborter == "requestor" else (acc, req)
    src.send(AbortRequest(), 1.0)
    assert (src.state, src.get_timer()) == (State.STA13, 1.0 + T)
    assert deliver(src, dst, 1.0) == [Aborted(source=0, reason=0)]
    assert dst.state is State.STA1
    assert src.receive_data(b"", 1.5) == []
    assert src.state is State.STA1


def test_abort_requestor_in_sta4_closes_without_sending() -> None:
    req, _ = pair()
    req.send(AssociateRequest(rq=RQ), 0.0)
    req.send(AbortRequest(), 0.5)  # SM-07: AA-2
    assert (req.state, req.data_to_send(), req.get_timer()) == (State.STA1, b"", None)


def test_reject_by_user_requestor_gets_rj_acceptor_waits_for_close() -> None:
    req, acc = pair()
    req.send(AssociateRequest(rq=RQ), 0.0)
    acc.transport_connected(0.0)
    req.transport_connected(0.0)
    deliver(req, acc, 0.0)
    rj = AAssociateRJ(result=RejectResult.PERMANENT, source=RejectSource.SERVICE_USER, reason=7)
    acc.send(AssociateReject(rj=rj), 1.0)
    assert (acc.state, acc.get_timer()) == (State.STA13, 1.0 + T)
    assert deliver(acc, req, 1.0) == [AssociationRejected(rj=rj)]
    assert req.state is State.STA1  # AE-4
    assert acc.receive_data(b"", 2.0) == []
    assert acc.state is State.STA1


@pytest.mark.parametrize("version", [2, 0, 0x8000])
def test_protocol_version_bit0_clear_provider_rejects_1_2_2(version: int) -> None:
    req, acc = pair()
    req.send(AssociateRequest(rq=replace(RQ, protocol_version=version)), 0.0)
    acc.transport_connected(0.0)
    req.transport_connected(0.0)
    assert deliver(req, acc, 1.0) == []  # AE-6: the user never sees the RQ
    assert (acc.state, acc.get_timer()) == (State.STA13, 1.0 + T)
    expected = AAssociateRJ(result=RejectResult.PERMANENT,
                            source=RejectSource.SERVICE_PROVIDER_ACSE, reason=2)
    assert deliver(acc, req, 1.0) == [AssociationRejected(rj=expected)]
    assert req.state is State.STA1


def test_protocol_version_bit0_set_with_others_accepted() -> None:
    req, acc = pair()
    req.send(AssociateRequest(rq=replace(RQ, protocol_version=3)), 0.0)
    acc.transport_connected(0.0)
    req.transport_connected(0.0)
    assert [type(e) for e in deliver(req, acc, 0.0)] == [AssociationRequested]
    assert acc.state is State.STA3


@pytest.mark.parametrize("garbage", [
    pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", id="http"),
    pytest.param(bytes.fromhex("0a0000000000"), id="unknown-type"),
    pytest.param(bytes.fromhex("010000000004 00010000"), id="short-associate-rq"),
])
def test_garbage_in_sta2_user_abort_sent_no_indication(garbage: bytes) -> None:
    _, acc = pair()
    acc.transport_connected(0.0)
    assert acc.receive_data(garbage, 3.0) == []  # AA-1: there is no user to tell yet
    assert decode_pdu_bytes(acc.data_to_send()) == AAbort(source=0, reason=0)
    assert (acc.state, acc.get_timer()) == (State.STA13, 3.0 + T)
    assert acc.receive_data(b"", 4.0) == []
    assert acc.state is State.STA1


@pytest.mark.parametrize(("garbage", "reason"), [
    pytest.param(bytes.fromhex("0a0000000000"), 1, id="unknown-type"),
    pytest.param(b"\xff\x00\xff\xff\xff\xff", 1, id="unknown-type-huge"),
    pytest.param(bytes.fromhex("050000000003 000000"), 6, id="release-rq-length-3"),
    pytest.param(bytes.fromhex("040000000007 00000004 01 03 00"), 6, id="pdv-overruns-pdu"),
])
def test_garbage_in_sta6_provider_abort_both_sides(garbage: bytes, reason: int) -> None:
    req, acc = associate()
    events = acc.receive_data(garbage, 1.0)
    assert detailless(events) == [ProviderAborted(reason=reason, local=True)]
    assert (acc.state, acc.get_timer()) == (State.STA13, 1.0 + T)
    assert detailless(deliver(acc, req, 1.0)) == [ProviderAborted(reason=reason, local=False)]
    assert req.state is State.STA1
    assert acc.receive_data(b"", 2.0) == []
    assert acc.state is State.STA1


def test_garbage_after_valid_pdu_same_chunk_data_then_abort() -> None:
    req, acc = associate()
    req.send(PDataRequest(COMMAND), 1.0)
    events = acc.receive_data(req.data_to_send() + bytes.fromhex("0a0000000000"), 1.0)
    assert detailless(events) == [DataReceived(COMMAND), ProviderAborted(reason=1, local=True)]
    assert acc.state is State.STA13


def test_transport_lost_in_sta6_provider_abort_indication() -> None:
    req, _ = associate()
    assert detailless(req.receive_data(b"", 1.0)) == [ProviderAborted(reason=0, local=True)]
    assert (req.state, req.data_to_send()) == (State.STA1, b"")
    assert req.receive_data(b"\x05", 2.0) == []  # nothing is read after closing
