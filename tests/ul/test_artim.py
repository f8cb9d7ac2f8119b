"""ARTIM as a deadline (SM-04, edge case 14): explicit ``now`` values, no clocks."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aioups.errors import LocalProtocolError
from aioups.pdu import (
    PDV,
    AAbort,
    AAssociateRJ,
    RejectResult,
    RejectSource,
    decode_pdu_bytes,
    encode_pdu,
)
from aioups.ul import (
    AbortRequest,
    Action,
    AssociateAccept,
    AssociateReject,
    AssociateRequest,
    Event,
    PDataRequest,
    ReleaseRequest,
    ReleaseResponse,
    Role,
    State,
    Transition,
    ULConfig,
    ULConnection,
)
from tests.helpers.wire import AC, RQ

RJ = AAssociateRJ(result=RejectResult.PERMANENT, source=RejectSource.SERVICE_USER, reason=1)
RELEASE_RQ = bytes.fromhex("050000000004 00000000")
RELEASE_RP = bytes.fromhex("060000000004 00000000")
GARBAGE = bytes.fromhex("0a0000000000")
T = 10.0


def acceptor(now: float, timeout: float = T) -> ULConnection:
    """An acceptor whose transport was accepted at ``now`` (AE-5): Sta2, ARTIM running."""
    conn = ULConnection(Role.ACCEPTOR, ULConfig(artim_timeout=timeout))
    conn.transport_connected(now)
    return conn


def established(now: float) -> ULConnection:
    conn = acceptor(now)
    conn.receive_data(encode_pdu(RQ), now)
    conn.send(AssociateAccept(ac=AC), now)
    conn.data_to_send()
    return conn


def expire(conn: ULConnection, deadline: float) -> None:
    """Just before the deadline nothing happens; at the deadline Evt18 closes (AA-2)."""
    state = conn.state
    assert conn.handle_timer(deadline - 1e-6) == []
    assert (conn.state, conn.get_timer(), conn.data_to_send()) == (state, deadline, b"")
    assert conn.handle_timer(deadline) == []
    assert conn.state is State.STA1
    assert conn.get_timer() is None
    assert conn.data_to_send() == b""  # A-ABORT is not acknowledged: just close
    assert conn.history[-1] == Transition(state, Event.EVT18, Action.AA_2, State.STA1)


def test_artim_sta2_started_by_ae5_expires_at_deadline() -> None:
    conn = acceptor(100.0)
    assert (conn.state, conn.get_timer()) == (State.STA2, 100.0 + T)
    assert conn.handle_timer(100.0) == []
    expire(conn, 100.0 + T)


def test_artim_timeout_is_configurable_deadline_follows() -> None:
    conn = acceptor(1.0, timeout=2.5)
    assert conn.get_timer() == 3.5
    expire(conn, 3.5)


def test_artim_sta2_rq_before_deadline_stops_timer() -> None:
    conn = acceptor(0.0)
    conn.receive_data(encode_pdu(RQ), T - 1)
    assert (conn.state, conn.get_timer()) == (State.STA3, None)  # AE-6 stops ARTIM
    assert conn.handle_timer(1e9) == []
    assert conn.state is State.STA3


def test_artim_sta2_rq_split_over_deadline_expires_first() -> None:
    conn = acceptor(0.0)
    data = encode_pdu(RQ)
    conn.receive_data(data[:10], 1.0)  # a partial PDU does not stop ARTIM
    assert conn.get_timer() == T
    expire(conn, T)
    assert conn.receive_data(data[10:], T + 1) == []  # bytes after closing are dropped
    assert conn.state is State.STA1


@pytest.mark.parametrize("how", ["reject", "release", "abort", "provider-abort", "bad-version"])
def test_artim_sta13_started_at_entry_expires_at_deadline(how: str) -> None:
    conn = established(0.0) if how in ("release", "abort", "provider-abort") else acceptor(0.0)
    if how == "bad-version":
        conn.receive_data(encode_pdu(replace(RQ, protocol_version=2)), 4.0)
    elif how == "reject":
        conn.receive_data(encode_pdu(RQ), 1.0)
        conn.send(AssociateReject(rj=RJ), 4.0)
    elif how == "release":
        conn.receive_data(RELEASE_RQ, 2.0)
        conn.send(ReleaseResponse(), 4.0)
    elif how == "abort":
        conn.send(AbortRequest(), 4.0)
    else:
        conn.receive_data(GARBAGE, 4.0)
    assert conn.state is State.STA13
    assert conn.data_to_send() != b""
    assert conn.get_timer() == 4.0 + T
    expire(conn, 4.0 + T)


def test_artim_aa1_in_sta2_restarts_running_timer() -> None:
    conn = acceptor(0.0)
    conn.receive_data(GARBAGE, 7.0)  # Evt19 in Sta2: AA-1 restarts ARTIM
    assert decode_pdu_bytes(conn.data_to_send()) == AAbort(source=0, reason=0)
    assert (conn.state, conn.get_timer()) == (State.STA13, 7.0 + T)
    assert conn.handle_timer(T) == []  # the original deadline no longer applies
    assert conn.state is State.STA13
    expire(conn, 7.0 + T)


@pytest.mark.parametrize("data", [RELEASE_RQ, RELEASE_RP, encode_pdu(RQ), GARBAGE],
                         ids=["AA-6-release-rq", "AA-6-release-rp", "AA-7-rq", "AA-7-garbage"])
def test_artim_sta13_more_pdus_do_not_extend_deadline(data: bytes) -> None:
    conn = established(0.0)
    conn.send(AbortRequest(), 1.0)
    conn.data_to_send()
    conn.receive_data(data, 5.0)  # AA-6 ignores, AA-7 answers: neither restarts ARTIM
    conn.data_to_send()
    assert (conn.state, conn.get_timer()) == (State.STA13, 1.0 + T)
    expire(conn, 1.0 + T)


def test_artim_sta13_transport_close_before_deadline_stops_timer() -> None:
    conn = established(0.0)
    conn.send(AbortRequest(), 1.0)
    assert conn.receive_data(b"", 2.0) == []  # AR-5
    assert (conn.state, conn.get_timer()) == (State.STA1, None)
    assert conn.handle_timer(1e9) == []


def test_artim_established_association_not_running() -> None:
    conn = established(0.0)
    assert conn.get_timer() is None
    assert conn.handle_timer(1e9) == []
    assert conn.state is State.STA6


def test_artim_requestor_never_started_by_establishment() -> None:
    conn = ULConnection(Role.REQUESTOR, ULConfig(artim_timeout=T))
    conn.send(AssociateRequest(rq=RQ), 0.0)
    conn.transport_connected(0.0)
    assert (conn.state, conn.get_timer()) == (State.STA5, None)
    conn.receive_data(encode_pdu(AC), 1.0)
    assert (conn.state, conn.get_timer()) == (State.STA6, None)


# -- property: ARTIM runs exactly in Sta2 and Sta13 -------------------------------------------

STEPS = [
    ("connect", None), ("close", b""), ("timer", None),
    ("send", AssociateRequest(rq=RQ)), ("send", AssociateAccept(ac=AC)),
    ("send", AssociateReject(rj=RJ)), ("send", PDataRequest((PDV(1, True, True, b"\0\0"),))),
    ("send", ReleaseRequest()),
    ("send", ReleaseResponse()), ("send", AbortRequest()),
    ("recv", encode_pdu(RQ)), ("recv", encode_pdu(AC)), ("recv", encode_pdu(RJ)),
    ("recv", bytes.fromhex("040000000008 00000004 01 03 0102")), ("recv", RELEASE_RQ),
    ("recv", RELEASE_RP), ("recv", bytes.fromhex("070000000004 00000000")), ("recv", GARBAGE),
]


@settings(max_examples=300)
@given(role=st.sampled_from(Role),
       steps=st.lists(st.tuples(st.sampled_from(STEPS), st.floats(0, 25)), max_size=12))
def test_artim_any_event_sequence_runs_only_in_sta2_and_sta13(
        role: Role, steps: list[tuple[tuple[str, object], float]]) -> None:
    conn = ULConnection(role, ULConfig(artim_timeout=T))
    now = 0.0
    for (kind, arg), dt in steps:
        now += dt
        try:
            if kind == "connect":
                conn.transport_connected(now)
            elif kind == "timer":
                conn.handle_timer(now)
            elif kind == "send":
                conn.send(arg, now)  # type: ignore[arg-type]
            else:
                conn.receive_data(arg, now)  # type: ignore[arg-type]
        except LocalProtocolError:
            pass
        conn.data_to_send()
        deadline = conn.get_timer()
        assert (deadline is not None) == (conn.state in (State.STA2, State.STA13)), conn.history
        assert deadline is None or deadline <= now + T
