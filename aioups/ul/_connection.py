"""``ULConnection``: the sans-IO Upper Layer for one transport connection.

Bytes and ``now`` go in; events and bytes come out.  The driver owns the socket and the clock::

    conn = ULConnection(Role.REQUESTOR, config)
    conn.send(AssociateRequest(rq=rq), now)   # Sta1 -> Sta4 (driver: connect now)
    conn.transport_connected(now)             # Sta4 -> Sta5, A-ASSOCIATE-RQ queued
    stream.send(conn.data_to_send())
    events = conn.receive_data(chunk, now)    # b"" means the peer closed (Evt17)

Whenever ``state`` is ``STA1`` after a call, the driver closes the transport.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple, final

from ..errors import LocalProtocolError, PDUDecodeError, RemoteProtocolError
from ..pdu import (
    DEFAULT_MAX_OTHER_LENGTH,
    PDU,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    PDataTF,
    PDUFramer,
    UnknownPDU,
)
from ._actions import ACTIONS
from ._events import ULEvent
from ._fsm import ACTION_TARGETS, TRANSITIONS, Action, Event, State
from ._primitives import (
    AbortRequest,
    AssociateAccept,
    AssociateReject,
    AssociateRequest,
    PDataRequest,
    Primitive,
    ReleaseRequest,
    ReleaseResponse,
)


class Role(Enum):
    """Which side of the association this connection is."""

    REQUESTOR = "requestor"
    ACCEPTOR = "acceptor"


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class ULConfig:
    """Settings of one Upper Layer connection.

    Args:
        max_pdu_length: the Maximum Length we advertise (and enforce on received P-DATA-TF);
            0 means unlimited.
        artim_timeout: seconds for the ARTIM timer (SM-04).
        max_other_pdu_length: local guard for non-P-DATA PDUs.
        history_size: how many transitions ``history`` keeps.
    """

    max_pdu_length: int = 16384
    artim_timeout: float = 30.0
    max_other_pdu_length: int = DEFAULT_MAX_OTHER_LENGTH
    history_size: int = 16


@final
class Transition(NamedTuple):
    """One step of the state machine, as kept in ``ULConnection.history``."""

    state: State
    event: Event
    action: Action
    next_state: State


_PDU_EVENTS: dict[type, Event] = {
    AAssociateAC: Event.EVT3, AAssociateRJ: Event.EVT4, AAssociateRQ: Event.EVT6,
    PDataTF: Event.EVT10, AReleaseRQ: Event.EVT12, AReleaseRP: Event.EVT13,
    AAbort: Event.EVT16, UnknownPDU: Event.EVT19,
}
_PRIMITIVE_EVENTS: dict[type, Event] = {
    AssociateRequest: Event.EVT1, AssociateAccept: Event.EVT7, AssociateReject: Event.EVT8,
    PDataRequest: Event.EVT9, ReleaseRequest: Event.EVT11, ReleaseResponse: Event.EVT14,
    AbortRequest: Event.EVT15,
}


@final
class ULConnection:
    """The PS3.8 state machine for one transport connection, without I/O."""

    def __init__(self, role: Role, config: ULConfig | None = None) -> None:
        self.role = role
        self.config = config or ULConfig()
        self.is_requestor = role is Role.REQUESTOR
        self.pending_rq: AAssociateRQ | None = None
        self.pending_rq_bytes = b""
        self.state = State.STA1
        self._framer = PDUFramer(max_pdata_length=self.config.max_pdu_length,
                                 max_other_length=self.config.max_other_pdu_length)
        self._out: list[bytes] = []
        self._events: list[ULEvent] = []
        self._artim_deadline: float | None = None
        self._history: deque[Transition] = deque(maxlen=self.config.history_size)

    # -- the Context protocol used by the actions -------------------------------------------

    def send_bytes(self, data: bytes) -> None:
        self._out.append(data)

    def emit(self, event: ULEvent) -> None:
        self._events.append(event)

    def start_artim(self, now: float) -> None:
        self._artim_deadline = now + self.config.artim_timeout

    def stop_artim(self) -> None:
        self._artim_deadline = None

    # -- the driver's interface ---------------------------------------------------------------

    @property
    def history(self) -> tuple[Transition, ...]:
        """The most recent transitions, oldest first."""
        return tuple(self._history)

    def transport_connected(self, now: float) -> list[ULEvent]:
        """The transport is up: Evt2 for a requestor (sends the RQ), Evt5 for an acceptor."""
        event = Event.EVT2 if self.is_requestor else Event.EVT5
        self._step(event, None, now, local=True)
        return self._take_events()

    def send(self, primitive: Primitive, now: float) -> None:
        """Hand a primitive to the UL.

        Raises:
            LocalProtocolError: the primitive is not allowed in the current state (SM-03);
                nothing is sent and the state is unchanged.
        """
        if isinstance(primitive, AssociateRequest) and not self.is_requestor:
            raise LocalProtocolError("an acceptor cannot request an association")
        self._step(_PRIMITIVE_EVENTS[type(primitive)], primitive, now, local=True)

    def data_to_send(self) -> bytes:
        """Drain the bytes the UL wants written to the transport."""
        if not self._out:
            return b""
        out = self._out[0] if len(self._out) == 1 else b"".join(self._out)
        self._out.clear()
        return out

    def receive_data(self, data: bytes, now: float) -> list[ULEvent]:
        """Feed received bytes; ``b""`` means the transport closed (Evt17)."""
        if not data:
            if self.state is not State.STA1:
                self._step(Event.EVT17, None, now)
            return self._take_events()
        if self.state is State.STA1:
            return []
        self._framer.feed(data)
        while self._open():
            try:
                pdu: PDU | None = self._framer.next_pdu()
            except PDUDecodeError as exc:
                self._step(Event.EVT19, exc, now)
                if self._framer.failed:
                    break  # a bad header: the stream cannot be resynchronised
                continue
            if pdu is None:
                break
            self._step(_PDU_EVENTS[type(pdu)], pdu, now)
        return self._take_events()

    def get_timer(self) -> float | None:
        """The ARTIM deadline, or ``None`` when ARTIM is not running."""
        return self._artim_deadline

    def handle_timer(self, now: float) -> list[ULEvent]:
        """Evt18 if the ARTIM deadline has passed; otherwise nothing."""
        if self._artim_deadline is not None and now >= self._artim_deadline:
            self._artim_deadline = None
            self._step(Event.EVT18, None, now)
        return self._take_events()

    def protocol_error(self, error: RemoteProtocolError, now: float) -> list[ULEvent]:
        """A layer above found the content of a P-DATA-TF invalid (e.g. a PDV on a context
        that was not accepted): handled as Evt19, so AA-8 sends A-ABORT (source 2) with
        ``error.abort_reason``."""
        if self._open():
            self._step(Event.EVT19, error, now)
        return self._take_events()

    def send_failed(self, now: float) -> list[ULEvent]:
        """The driver could not write: treat it as the transport closing (Evt17)."""
        self._out.clear()
        return self.receive_data(b"", now)

    # -- internals ------------------------------------------------------------------------------

    def _open(self) -> bool:
        # A method, not an inline comparison: actions change ``state`` behind mypy's back.
        return self.state is not State.STA1

    def _take_events(self) -> list[ULEvent]:
        events = self._events
        self._events = []
        return events

    def _step(self, event: Event, trigger: object, now: float, *, local: bool = False) -> None:
        state = self.state
        action = TRANSITIONS.get((state, event))
        if action is None:
            if local:
                raise LocalProtocolError(f"{event.value} is not allowed in {state.value}")
            return  # pragma: no cover - every network event is defined where bytes are read
        next_state = ACTIONS[action](self, trigger, now)
        assert next_state in ACTION_TARGETS[action], (action, next_state)
        self.state = next_state
        self._history.append(Transition(state, event, action, next_state))
        if next_state is State.STA1:
            self._artim_deadline = None
