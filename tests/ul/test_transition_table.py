"""PS3.8 Table 9-10, cell by cell, against a real ``ULConnection``.

The grid below is transcribed independently from the requirements digest (§2.4), not imported
from ``aioups.ul._fsm``; each cell reads ``action→next state`` and ``·`` is undefined (SM-03).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioups.errors import LocalProtocolError
from aioups.pdu import (
    PDV,
    AAbort,
    AAssociateRJ,
    AReleaseRP,
    AReleaseRQ,
    PDataTF,
    RejectResult,
    RejectSource,
    decode_pdu_bytes,
    encode_pdu,
)
from aioups.ul import (
    ACTION_TARGETS,
    TRANSITIONS,
    UNDEFINED,
    Aborted,
    AbortRequest,
    Action,
    AssociateAccept,
    AssociateReject,
    AssociateRequest,
    AssociationAccepted,
    AssociationRejected,
    AssociationRequested,
    DataReceived,
    Event,
    PDataRequest,
    ProviderAborted,
    Released,
    ReleaseRequest,
    ReleaseRequested,
    ReleaseResponse,
    Role,
    State,
    Transition,
    ULConfig,
    ULConnection,
)
from tests.helpers.wire import AC, RQ

GRID = """
     | S1     | S2        | S3      | S4     | S5      | S6      | S7        | S8      | S9      | S10      | S11     | S12     | S13
E1   | AE-1→4 | ·         | ·       | ·      | ·       | ·       | ·         | ·       | ·       | ·        | ·       | ·       | ·
E2   | ·      | ·         | ·       | AE-2→5 | ·       | ·       | ·         | ·       | ·       | ·        | ·       | ·       | ·
E3   | ·      | AA-1→13   | AA-8→13 | ·      | AE-3→6  | AA-8→13 | AA-8→13   | AA-8→13 | AA-8→13 | AA-8→13  | AA-8→13 | AA-8→13 | AA-6→13
E4   | ·      | AA-1→13   | AA-8→13 | ·      | AE-4→1  | AA-8→13 | AA-8→13   | AA-8→13 | AA-8→13 | AA-8→13  | AA-8→13 | AA-8→13 | AA-6→13
E5   | AE-5→2 | ·         | ·       | ·      | ·       | ·       | ·         | ·       | ·       | ·        | ·       | ·       | ·
E6   | ·      | AE-6→3/13 | AA-8→13 | ·      | AA-8→13 | AA-8→13 | AA-8→13   | AA-8→13 | AA-8→13 | AA-8→13  | AA-8→13 | AA-8→13 | AA-7→13
E7   | ·      | ·         | AE-7→6  | ·      | ·       | ·       | ·         | ·       | ·       | ·        | ·       | ·       | ·
E8   | ·      | ·         | AE-8→13 | ·      | ·       | ·       | ·         | ·       | ·       | ·        | ·       | ·       | ·
E9   | ·      | ·         | ·       | ·      | ·       | DT-1→6  | ·         | AR-7→8  | ·       | ·        | ·       | ·       | ·
E10  | ·      | AA-1→13   | AA-8→13 | ·      | AA-8→13 | DT-2→6  | AR-6→7    | AA-8→13 | AA-8→13 | AA-8→13  | AA-8→13 | AA-8→13 | AA-6→13
E11  | ·      | ·         | ·       | ·      | ·       | AR-1→7  | ·         | ·       | ·       | ·        | ·       | ·       | ·
E12  | ·      | AA-1→13   | AA-8→13 | ·      | AA-8→13 | AR-2→8  | AR-8→9/10 | AA-8→13 | AA-8→13 | AA-8→13  | AA-8→13 | AA-8→13 | AA-6→13
E13  | ·      | AA-1→13   | AA-8→13 | ·      | AA-8→13 | AA-8→13 | AR-3→1    | AA-8→13 | AA-8→13 | AR-10→12 | AR-3→1  | AA-8→13 | AA-6→13
E14  | ·      | ·         | ·       | ·      | ·       | ·       | ·         | AR-4→13 | AR-9→11 | ·        | ·       | AR-4→13 | ·
E15  | ·      | ·         | AA-1→13 | AA-2→1 | AA-1→13 | AA-1→13 | AA-1→13   | AA-1→13 | AA-1→13 | AA-1→13  | AA-1→13 | AA-1→13 | ·
E16  | ·      | AA-2→1    | AA-3→1  | ·      | AA-3→1  | AA-3→1  | AA-3→1    | AA-3→1  | AA-3→1  | AA-3→1   | AA-3→1  | AA-3→1  | AA-2→1
E17  | ·      | AA-5→1    | AA-4→1  | AA-4→1 | AA-4→1  | AA-4→1  | AA-4→1    | AA-4→1  | AA-4→1  | AA-4→1   | AA-4→1  | AA-4→1  | AR-5→1
E18  | ·      | AA-2→1    | ·       | ·      | ·       | ·       | ·         | ·       | ·       | ·        | ·       | ·       | AA-2→1
E19  | ·      | AA-1→13   | AA-8→13 | ·      | AA-8→13 | AA-8→13 | AA-8→13   | AA-8→13 | AA-8→13 | AA-8→13  | AA-8→13 | AA-8→13 | AA-7→13
"""  # noqa: E501 - one row per event, as in the standard

Cell = tuple[Action, frozenset[State]]


def _parse(grid: str) -> dict[tuple[State, Event], Cell]:
    header, *rows = grid.strip().splitlines()
    states = [State(f"Sta{c.strip()[1:]}") for c in header.split("|")[1:]]
    table: dict[tuple[State, Event], Cell] = {}
    for row in rows:
        head, *cells = (c.strip() for c in row.split("|"))
        assert len(cells) == len(states) == 13, row
        event = Event(f"Evt{head[1:]}")
        for state, cell in zip(states, cells, strict=True):
            if cell != "·":
                action, targets = cell.split("→")
                table[state, event] = (Action(action), frozenset(
                    State(f"Sta{t}") for t in targets.split("/")))
    return table


TABLE = _parse(GRID)

# -- fixtures of the wire ------------------------------------------------------------------

RJ = AAssociateRJ(result=RejectResult.TRANSIENT, source=RejectSource.SERVICE_USER, reason=7)
RJ_VERSION = AAssociateRJ(result=RejectResult.PERMANENT,
                          source=RejectSource.SERVICE_PROVIDER_ACSE, reason=2)
PDVS = (PDV(1, True, True, b"\x01\x02"),)

#: Incoming bytes per network event; the fixed-size PDUs are written out by hand.
INCOMING = {
    Event.EVT3: encode_pdu(AC),
    Event.EVT4: bytes.fromhex("030000000004 00020107"),
    Event.EVT6: encode_pdu(RQ),
    Event.EVT10: bytes.fromhex("040000000008 00000004 01 03 0102"),
    Event.EVT12: bytes.fromhex("050000000004 00000000"),
    Event.EVT13: bytes.fromhex("060000000004 00000000"),
    Event.EVT16: bytes.fromhex("070000000004 00000000"),
    Event.EVT19: bytes.fromhex("0a0000000000"),  # PDU type 0AH does not exist
}
LOCAL = {
    Event.EVT1: AssociateRequest(rq=RQ), Event.EVT7: AssociateAccept(ac=AC),
    Event.EVT8: AssociateReject(rj=RJ), Event.EVT9: PDataRequest(PDVS),
    Event.EVT11: ReleaseRequest(), Event.EVT14: ReleaseResponse(), Event.EVT15: AbortRequest(),
}

ARTIM = 10.0     # the configured ARTIM timeout
STARTED = 0.0    # when ARTIM was started in Sta2/Sta13 before the event
NOW = 5.0        # when the event fires (Evt18 fires at STARTED + ARTIM)

# SM-04, read from the digest: who starts and who stops ARTIM (AE-6 decides per outcome).
STARTS_ARTIM = {Action.AE_5, Action.AE_8, Action.AR_4, Action.AA_1, Action.AA_8}
STOPS_ARTIM = {Action.AA_2, Action.AA_5, Action.AR_5}


def make_conn(state: State, role: Role) -> ULConnection:
    """A connection put straight into ``state``, with what a real path there would leave."""
    conn = ULConnection(role, ULConfig(artim_timeout=ARTIM))
    conn.state = state
    if state is not State.STA1 and role is Role.REQUESTOR:
        conn.pending_rq = RQ
    if state in (State.STA2, State.STA13):
        conn.start_artim(STARTED)  # AE-5 / AE-8, AR-4, AA-1, AA-8 left it running
    return conn


def drain_events(conn: ULConnection) -> list[object]:
    """Events queued by ``send()`` (which returns none): ``handle_timer`` at -inf only drains."""
    return list(conn.handle_timer(float("-inf")))


def fire(conn: ULConnection, event: Event, *, protocol_version: int = 1) -> list[object]:
    """Fire ``event`` through the public interface; return the emitted events."""
    if event in LOCAL:
        conn.send(LOCAL[event], NOW)
        return drain_events(conn)
    if event in (Event.EVT2, Event.EVT5):
        return list(conn.transport_connected(NOW))
    if event is Event.EVT17:
        return list(conn.receive_data(b"", NOW))
    if event is Event.EVT18:
        return list(conn.handle_timer(STARTED + ARTIM))
    data = INCOMING[event]
    if event is Event.EVT6 and protocol_version != 1:
        data = encode_pdu(replace(RQ, protocol_version=protocol_version))
    return list(conn.receive_data(data, NOW))


def role_for(state: State, event: Event, target: State | None) -> Role:
    if event is Event.EVT2:
        return Role.REQUESTOR
    if event is Event.EVT5 or target is State.STA10:
        return Role.ACCEPTOR
    acceptor_states = (State.STA2, State.STA3, State.STA10, State.STA12)
    return Role.ACCEPTOR if state in acceptor_states else Role.REQUESTOR


def expected_pdu(action: Action, event: Event, target: State) -> object | None:
    provider_reason = 1 if event is Event.EVT19 else 2  # unrecognized / unexpected PDU
    return {
        Action.AE_2: RQ, Action.AE_6: RJ_VERSION if target is State.STA13 else None,
        Action.AE_7: AC, Action.AE_8: RJ, Action.DT_1: PDataTF(PDVS), Action.AR_7: PDataTF(PDVS),
        Action.AR_1: AReleaseRQ(), Action.AR_4: AReleaseRP(), Action.AR_9: AReleaseRP(),
        Action.AA_1: AAbort(source=0, reason=0),
        Action.AA_7: AAbort(source=2, reason=provider_reason),
        Action.AA_8: AAbort(source=2, reason=provider_reason),
    }.get(action)


def expected_events(action: Action, event: Event, target: State) -> list[object]:
    provider_reason = 1 if event is Event.EVT19 else 2
    return {
        Action.AE_3: [AssociationAccepted(ac=AC)], Action.AE_4: [AssociationRejected(rj=RJ)],
        Action.AE_6: [AssociationRequested(rq=RQ)] if target is State.STA3 else [],
        Action.DT_2: [DataReceived(PDVS)], Action.AR_6: [DataReceived(PDVS)],
        Action.AR_2: [ReleaseRequested(collision=False)],
        Action.AR_8: [ReleaseRequested(collision=True)],
        Action.AR_3: [Released()], Action.AR_10: [Released()],
        Action.AA_3: [Aborted(source=0, reason=0)],
        Action.AA_4: [ProviderAborted(reason=0, local=True)],
        Action.AA_8: [ProviderAborted(reason=provider_reason, local=True)],
    }.get(action, [])


def expected_timer(action: Action, target: State, before: float | None) -> float | None:
    if action in STARTS_ARTIM or (action is Action.AE_6 and target is State.STA13):
        return NOW + ARTIM
    if action in STOPS_ARTIM or action is Action.AE_6 or target is State.STA1:
        return None
    return before


def without_detail(events: list[object]) -> list[object]:
    return [replace(e, detail="") if isinstance(e, ProviderAborted) else e for e in events]


def _cases() -> list[object]:
    cases = []
    for state in State:
        for event in Event:
            if (state, event) not in TABLE:
                cases.append(pytest.param(state, event, None, None,
                                          id=f"{state.name}-{event.name}-undefined"))
                continue
            action, targets = TABLE[state, event]
            for target in sorted(targets, key=lambda s: int(s.value[3:])):
                suffix = f"-{target.name}" if len(targets) > 1 else ""
                cases.append(pytest.param(state, event, action, target,
                                          id=f"{state.name}-{event.name}-{action.name}{suffix}"))
    return cases


# -- the table itself ------------------------------------------------------------------------


def test_table_transcription_matches_transitions_exactly() -> None:
    assert {cell: action for cell, (action, _) in TABLE.items()} == dict(TRANSITIONS)


def test_table_transitions_and_undefined_partition_all_247_cells() -> None:
    every_cell = {(s, e) for s in State for e in Event}
    assert len(every_cell) == 247
    assert set(TRANSITIONS).isdisjoint(UNDEFINED)
    assert set(TRANSITIONS) | UNDEFINED == every_cell
    assert UNDEFINED == every_cell - set(TABLE)


def test_table_action_targets_match_transcribed_next_states() -> None:
    derived: dict[Action, set[State]] = {}
    for action, targets in TABLE.values():
        derived.setdefault(action, set()).update(targets)
    assert derived == {a: set(t) for a, t in ACTION_TARGETS.items()}
    assert set(ACTION_TARGETS) == set(Action)


# -- every cell, through the public interface --------------------------------------------------


@pytest.mark.parametrize(("state", "event", "action", "target"), _cases())
def test_cell_fired_event_matches_table(state: State, event: Event, action: Action | None,
                                        target: State | None) -> None:
    conn = make_conn(state, role_for(state, event, target))
    timer_before = conn.get_timer()
    if action is None:
        check_undefined_cell(conn, state, event, timer_before)
        return
    assert target is not None
    version = 2 if (action is Action.AE_6 and target is State.STA13) else 1

    events = fire(conn, event, protocol_version=version)

    assert conn.state is target
    out = conn.data_to_send()
    pdu = expected_pdu(action, event, target)
    assert (decode_pdu_bytes(out) if out else None) == pdu
    assert without_detail(events) == expected_events(action, event, target)
    assert conn.get_timer() == expected_timer(action, target, timer_before)
    assert conn.history == (Transition(state, event, action, target),)


def check_undefined_cell(conn: ULConnection, state: State, event: Event,
                         timer_before: float | None) -> None:
    """SM-03: a local primitive is refused; a network event cannot occur and changes nothing."""
    local = event in LOCAL or event in (Event.EVT2, Event.EVT5)
    if local:
        with pytest.raises(LocalProtocolError):
            fire(conn, event)
    else:
        # Only Sta1/Sta4 (no transport yet) and Evt18 without ARTIM running get here.
        assert state in (State.STA1, State.STA4) or event is Event.EVT18
        assert fire(conn, event) == []
    assert conn.state is state
    assert conn.data_to_send() == b""
    assert drain_events(conn) == []
    assert conn.get_timer() == timer_before
    assert conn.history == ()


@pytest.mark.parametrize(("state", "action"), [
    (State.STA2, Action.AA_1), (State.STA6, Action.AA_8), (State.STA13, Action.AA_7)])
@pytest.mark.parametrize(("data", "reason"), [
    pytest.param(bytes.fromhex("050000000003 000000"), 6, id="release-rq-length-3"),
    pytest.param(bytes.fromhex("070000000004 000002"), None, id="abort-incomplete-waits"),
    pytest.param(bytes.fromhex("0b00ffffffff"), 1, id="unknown-type-4GiB"),
    pytest.param(bytes.fromhex("01007fffffff"), 6, id="associate-rq-2GiB"),
    pytest.param(bytes.fromhex("040000000006 00000001 0100"), 6, id="pdv-length-1"),
])
def test_evt19_malformed_pdu_aborts_with_decode_reason(state: State, action: Action,
                                                       data: bytes, reason: int | None) -> None:
    conn = make_conn(state, Role.ACCEPTOR)
    events = conn.receive_data(data, NOW)
    if reason is None:  # incomplete PDU: wait for more bytes
        assert (conn.state, conn.data_to_send(), events) == (state, b"", [])
        return
    assert conn.state is State.STA13
    assert conn.history[-1] == Transition(state, Event.EVT19, action, State.STA13)
    sent = decode_pdu_bytes(conn.data_to_send())
    if action is Action.AA_1:
        assert sent == AAbort(source=0, reason=0)
        assert events == []
    else:
        assert sent == AAbort(source=2, reason=reason)
        expected = [ProviderAborted(reason=reason, local=True)] if action is Action.AA_8 else []
        assert without_detail(events) == expected
        assert all(e.detail for e in events if isinstance(e, ProviderAborted))


@pytest.mark.parametrize(("source", "reason", "expected"), [
    (0, 0, Aborted(source=0, reason=0)),
    (2, 4, ProviderAborted(reason=4, local=False)),
    (1, 0, ProviderAborted(reason=0, local=False)),
])
def test_aa3_abort_source_selects_abort_or_provider_abort(source: int, reason: int,
                                                         expected: object) -> None:
    conn = make_conn(State.STA6, Role.REQUESTOR)
    events = conn.receive_data(bytes((7, 0, 0, 0, 0, 4, 0, 0, source, reason)), NOW)
    assert conn.state is State.STA1
    assert without_detail(events) == [expected]


@given(state=st.sampled_from(State), event=st.sampled_from(Event),
       role=st.sampled_from(Role), version=st.integers(0, 0xFFFF))
def test_any_cell_next_state_in_action_targets(state: State, event: Event, role: Role,
                                               version: int) -> None:
    # transport_connected() is Evt2 for a requestor and Evt5 for an acceptor, and only a
    # requestor may issue an A-ASSOCIATE request (Evt1).
    role = {Event.EVT1: Role.REQUESTOR, Event.EVT2: Role.REQUESTOR,
            Event.EVT5: Role.ACCEPTOR}.get(event, role)
    conn = make_conn(state, role)
    action = TRANSITIONS.get((state, event))
    try:
        fire(conn, event, protocol_version=version)
    except LocalProtocolError:
        assert action is None
        assert conn.state is state
        return
    if action is None:
        assert conn.state is state
        assert conn.history == ()
        return
    assert conn.state in ACTION_TARGETS[action]
    assert conn.history == (Transition(state, event, action, conn.state),)
    if action is Action.AE_6:
        assert conn.state is (State.STA3 if version & 1 else State.STA13)
    if action is Action.AR_8:
        assert conn.state is (State.STA9 if role is Role.REQUESTOR else State.STA10)


# -- regressions of defects found while writing this suite -------------------------------------


def test_ae1_unencodable_rq_refused_before_connecting() -> None:
    conn = ULConnection(Role.REQUESTOR)
    with pytest.raises(LocalProtocolError):
        conn.send(AssociateRequest(rq=replace(RQ, called_ae_title="X" * 17)), NOW)
    assert conn.state is State.STA1


def test_acceptor_associate_request_refused() -> None:
    conn = ULConnection(Role.ACCEPTOR)
    with pytest.raises(LocalProtocolError):
        conn.send(AssociateRequest(rq=RQ), NOW)
    assert conn.state is State.STA1


def test_dt1_empty_pdata_request_refused_nothing_sent() -> None:
    conn = make_conn(State.STA6, Role.REQUESTOR)
    with pytest.raises(LocalProtocolError):
        conn.send(PDataRequest(()), NOW)
    assert conn.data_to_send() == b""


def test_sta13_peer_abort_after_body_decode_error_closes() -> None:
    conn = make_conn(State.STA6, Role.ACCEPTOR)
    conn.receive_data(bytes.fromhex("050000000003 000000"), NOW)  # AA-8, reason 6
    conn.data_to_send()
    conn.receive_data(INCOMING[Event.EVT16], NOW)
    assert conn.history[-1] == Transition(State.STA13, Event.EVT16, Action.AA_2, State.STA1)
    assert conn.data_to_send() == b""
