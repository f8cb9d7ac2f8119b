"""The PS3.8 Upper Layer state machine as data: states, events, actions and Table 9-10.

The table is hand-transcribed (review value beats generation here) and checked cell by cell by
``tests/ul/test_transition_table.py`` against a second, independent transcription.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType


class State(Enum):
    """UL states (PS3.8 Table 9-1)."""

    #: Idle
    STA1 = "Sta1"
    #: Transport connection open (awaiting A-ASSOCIATE-RQ PDU)
    STA2 = "Sta2"
    #: Awaiting local A-ASSOCIATE response primitive
    STA3 = "Sta3"
    #: Awaiting transport connection opening to complete
    STA4 = "Sta4"
    #: Awaiting A-ASSOCIATE-AC or A-ASSOCIATE-RJ PDU
    STA5 = "Sta5"
    #: Association established and ready for data transfer
    STA6 = "Sta6"
    #: Awaiting A-RELEASE-RP PDU
    STA7 = "Sta7"
    #: Awaiting local A-RELEASE response primitive
    STA8 = "Sta8"
    #: Release collision requestor side; awaiting A-RELEASE response
    STA9 = "Sta9"
    #: Release collision acceptor side; awaiting A-RELEASE-RP PDU
    STA10 = "Sta10"
    #: Release collision requestor side; awaiting A-RELEASE-RP PDU
    STA11 = "Sta11"
    #: Release collision acceptor side; awaiting A-RELEASE response primitive
    STA12 = "Sta12"
    #: Awaiting Transport Connection Close Indication (association no longer exists)
    STA13 = "Sta13"


class Event(Enum):
    """UL events (PS3.8 Table 9-2)."""

    #: A-ASSOCIATE Request (local user)
    EVT1 = "Evt1"
    #: Transport Connect Confirm (local transport service)
    EVT2 = "Evt2"
    #: A-ASSOCIATE-AC PDU (received on transport connection)
    EVT3 = "Evt3"
    #: A-ASSOCIATE-RJ PDU (received on transport connection)
    EVT4 = "Evt4"
    #: Transport Connection Indication (local transport service)
    EVT5 = "Evt5"
    #: A-ASSOCIATE-RQ PDU (received on transport connection)
    EVT6 = "Evt6"
    #: A-ASSOCIATE Response Primitive (accept)
    EVT7 = "Evt7"
    #: A-ASSOCIATE Response Primitive (reject)
    EVT8 = "Evt8"
    #: P-DATA Request Primitive
    EVT9 = "Evt9"
    #: P-DATA-TF PDU
    EVT10 = "Evt10"
    #: A-RELEASE Request Primitive
    EVT11 = "Evt11"
    #: A-RELEASE-RQ PDU (received on open transport connection)
    EVT12 = "Evt12"
    #: A-RELEASE-RP PDU (received on transport connection)
    EVT13 = "Evt13"
    #: A-RELEASE Response Primitive
    EVT14 = "Evt14"
    #: A-ABORT Request Primitive
    EVT15 = "Evt15"
    #: A-ABORT PDU (received on open transport connection)
    EVT16 = "Evt16"
    #: Transport connection closed indication (local transport service)
    EVT17 = "Evt17"
    #: ARTIM timer expired (Association reject/release timer)
    EVT18 = "Evt18"
    #: Unrecognized or invalid PDU received
    EVT19 = "Evt19"


class Action(Enum):
    """UL actions (PS3.8 Tables 9-6 to 9-9)."""

    #: Issue TRANSPORT CONNECT request primitive to local transport service
    AE_1 = "AE-1"
    #: Send A-ASSOCIATE-RQ-PDU
    AE_2 = "AE-2"
    #: Issue A-ASSOCIATE confirmation (accept) primitive
    AE_3 = "AE-3"
    #: Issue A-ASSOCIATE confirmation (reject) primitive and close transport connection
    AE_4 = "AE-4"
    #: Issue Transport connection response primitive; start ARTIM timer
    AE_5 = "AE-5"
    #: Stop ARTIM timer and if A-ASSOCIATE-RQ acceptable by service-provider issue
    #: A-ASSOCIATE indication, otherwise issue A-ASSOCIATE-RJ-PDU and start ARTIM
    AE_6 = "AE-6"
    #: Send A-ASSOCIATE-AC PDU
    AE_7 = "AE-7"
    #: Send A-ASSOCIATE-RJ PDU and start ARTIM timer
    AE_8 = "AE-8"
    #: Send P-DATA-TF PDU
    DT_1 = "DT-1"
    #: Send P-DATA indication primitive
    DT_2 = "DT-2"
    #: Send A-RELEASE-RQ PDU
    AR_1 = "AR-1"
    #: Issue A-RELEASE indication primitive
    AR_2 = "AR-2"
    #: Issue A-RELEASE confirmation primitive, and close transport connection
    AR_3 = "AR-3"
    #: Issue A-RELEASE-RP PDU and start ARTIM timer
    AR_4 = "AR-4"
    #: Stop ARTIM timer
    AR_5 = "AR-5"
    #: Issue P-DATA indication
    AR_6 = "AR-6"
    #: Issue P-DATA-TF PDU
    AR_7 = "AR-7"
    #: Issue A-RELEASE indication (release collision)
    AR_8 = "AR-8"
    #: Send A-RELEASE-RP PDU
    AR_9 = "AR-9"
    #: Issue A-RELEASE confirmation primitive
    AR_10 = "AR-10"
    #: Send A-ABORT PDU (service-user source) and start (or restart) ARTIM timer
    AA_1 = "AA-1"
    #: Stop ARTIM timer if running. Close transport connection
    AA_2 = "AA-2"
    #: Issue A-ABORT or A-P-ABORT indication and close transport connection
    AA_3 = "AA-3"
    #: Issue A-P-ABORT indication primitive
    AA_4 = "AA-4"
    #: Stop ARTIM timer
    AA_5 = "AA-5"
    #: Ignore PDU
    AA_6 = "AA-6"
    #: Send A-ABORT PDU
    AA_7 = "AA-7"
    #: Send A-ABORT PDU (service-provider source), issue an A-P-ABORT indication, start ARTIM
    AA_8 = "AA-8"


S, E, A = State, Event, Action

# Rows of Table 9-10: event -> {state: action}.  Cells not listed are undefined (SM-03).
_ROWS: dict[Event, dict[State, Action]] = {
    E.EVT1: {S.STA1: A.AE_1},
    E.EVT2: {S.STA4: A.AE_2},
    E.EVT3: {S.STA2: A.AA_1, S.STA3: A.AA_8, S.STA5: A.AE_3, S.STA6: A.AA_8, S.STA7: A.AA_8,
             S.STA8: A.AA_8, S.STA9: A.AA_8, S.STA10: A.AA_8, S.STA11: A.AA_8, S.STA12: A.AA_8,
             S.STA13: A.AA_6},
    E.EVT4: {S.STA2: A.AA_1, S.STA3: A.AA_8, S.STA5: A.AE_4, S.STA6: A.AA_8, S.STA7: A.AA_8,
             S.STA8: A.AA_8, S.STA9: A.AA_8, S.STA10: A.AA_8, S.STA11: A.AA_8, S.STA12: A.AA_8,
             S.STA13: A.AA_6},
    E.EVT5: {S.STA1: A.AE_5},
    E.EVT6: {S.STA2: A.AE_6, S.STA3: A.AA_8, S.STA5: A.AA_8, S.STA6: A.AA_8, S.STA7: A.AA_8,
             S.STA8: A.AA_8, S.STA9: A.AA_8, S.STA10: A.AA_8, S.STA11: A.AA_8, S.STA12: A.AA_8,
             S.STA13: A.AA_7},
    E.EVT7: {S.STA3: A.AE_7},
    E.EVT8: {S.STA3: A.AE_8},
    E.EVT9: {S.STA6: A.DT_1, S.STA8: A.AR_7},
    E.EVT10: {S.STA2: A.AA_1, S.STA3: A.AA_8, S.STA5: A.AA_8, S.STA6: A.DT_2, S.STA7: A.AR_6,
              S.STA8: A.AA_8, S.STA9: A.AA_8, S.STA10: A.AA_8, S.STA11: A.AA_8, S.STA12: A.AA_8,
              S.STA13: A.AA_6},
    E.EVT11: {S.STA6: A.AR_1},
    E.EVT12: {S.STA2: A.AA_1, S.STA3: A.AA_8, S.STA5: A.AA_8, S.STA6: A.AR_2, S.STA7: A.AR_8,
              S.STA8: A.AA_8, S.STA9: A.AA_8, S.STA10: A.AA_8, S.STA11: A.AA_8, S.STA12: A.AA_8,
              S.STA13: A.AA_6},
    E.EVT13: {S.STA2: A.AA_1, S.STA3: A.AA_8, S.STA5: A.AA_8, S.STA6: A.AA_8, S.STA7: A.AR_3,
              S.STA8: A.AA_8, S.STA9: A.AA_8, S.STA10: A.AR_10, S.STA11: A.AR_3, S.STA12: A.AA_8,
              S.STA13: A.AA_6},
    E.EVT14: {S.STA8: A.AR_4, S.STA9: A.AR_9, S.STA12: A.AR_4},
    E.EVT15: {S.STA3: A.AA_1, S.STA4: A.AA_2, S.STA5: A.AA_1, S.STA6: A.AA_1, S.STA7: A.AA_1,
              S.STA8: A.AA_1, S.STA9: A.AA_1, S.STA10: A.AA_1, S.STA11: A.AA_1, S.STA12: A.AA_1},
    E.EVT16: {S.STA2: A.AA_2, S.STA3: A.AA_3, S.STA5: A.AA_3, S.STA6: A.AA_3, S.STA7: A.AA_3,
              S.STA8: A.AA_3, S.STA9: A.AA_3, S.STA10: A.AA_3, S.STA11: A.AA_3, S.STA12: A.AA_3,
              S.STA13: A.AA_2},
    E.EVT17: {S.STA2: A.AA_5, S.STA3: A.AA_4, S.STA4: A.AA_4, S.STA5: A.AA_4, S.STA6: A.AA_4,
              S.STA7: A.AA_4, S.STA8: A.AA_4, S.STA9: A.AA_4, S.STA10: A.AA_4, S.STA11: A.AA_4,
              S.STA12: A.AA_4, S.STA13: A.AR_5},
    E.EVT18: {S.STA2: A.AA_2, S.STA13: A.AA_2},
    E.EVT19: {S.STA2: A.AA_1, S.STA3: A.AA_8, S.STA5: A.AA_8, S.STA6: A.AA_8, S.STA7: A.AA_8,
              S.STA8: A.AA_8, S.STA9: A.AA_8, S.STA10: A.AA_8, S.STA11: A.AA_8, S.STA12: A.AA_8,
              S.STA13: A.AA_7},
}

#: PS3.8 Table 9-10: (state, event) -> action.
TRANSITIONS: Mapping[tuple[State, Event], Action] = MappingProxyType({
    (state, event): action for event, row in _ROWS.items() for state, action in row.items()
})

#: The (state, event) pairs the table leaves undefined; a local primitive there is refused.
UNDEFINED: frozenset[tuple[State, Event]] = frozenset(
    (s, e) for s in State for e in Event if (s, e) not in TRANSITIONS
)

#: The states each action may lead to (PS3.8 Tables 9-6 to 9-9).
ACTION_TARGETS: Mapping[Action, frozenset[State]] = MappingProxyType({
    A.AE_1: frozenset({S.STA4}), A.AE_2: frozenset({S.STA5}), A.AE_3: frozenset({S.STA6}),
    A.AE_4: frozenset({S.STA1}), A.AE_5: frozenset({S.STA2}),
    A.AE_6: frozenset({S.STA3, S.STA13}), A.AE_7: frozenset({S.STA6}),
    A.AE_8: frozenset({S.STA13}), A.DT_1: frozenset({S.STA6}), A.DT_2: frozenset({S.STA6}),
    A.AR_1: frozenset({S.STA7}), A.AR_2: frozenset({S.STA8}), A.AR_3: frozenset({S.STA1}),
    A.AR_4: frozenset({S.STA13}), A.AR_5: frozenset({S.STA1}), A.AR_6: frozenset({S.STA7}),
    A.AR_7: frozenset({S.STA8}), A.AR_8: frozenset({S.STA9, S.STA10}),
    A.AR_9: frozenset({S.STA11}), A.AR_10: frozenset({S.STA12}),
    A.AA_1: frozenset({S.STA13}), A.AA_2: frozenset({S.STA1}), A.AA_3: frozenset({S.STA1}),
    A.AA_4: frozenset({S.STA1}), A.AA_5: frozenset({S.STA1}), A.AA_6: frozenset({S.STA13}),
    A.AA_7: frozenset({S.STA13}), A.AA_8: frozenset({S.STA13}),
})

del S, E, A
