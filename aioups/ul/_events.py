"""What the Upper Layer reports to its user: past-tense events (indications and confirmations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

from ..pdu import PDV, AAssociateAC, AAssociateRJ, AAssociateRQ, AbortReason, AbortSource


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class AssociationRequested:
    """A-ASSOCIATE indication (acceptor, Sta3): answer with AssociateAccept/Reject."""

    rq: AAssociateRQ


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class AssociationAccepted:
    """A-ASSOCIATE confirmation, accept (requestor, Sta6)."""

    ac: AAssociateAC


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class AssociationRejected:
    """A-ASSOCIATE confirmation, reject (requestor, transport closed)."""

    rj: AAssociateRJ


@final
@dataclass(frozen=True, slots=True)
class DataReceived:
    """P-DATA indication: the PDVs of one received P-DATA-TF."""

    pdvs: tuple[PDV, ...]


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseRequested:
    """A-RELEASE indication: answer with ReleaseResponse.  ``collision`` in Sta9/Sta10."""

    collision: bool = False


@final
@dataclass(frozen=True, slots=True)
class Released:
    """A-RELEASE confirmation (AR-3, or AR-10 in a collision on the acceptor side)."""


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Aborted:
    """A-ABORT indication: the peer's service user aborted (AA-3, source 0)."""

    source: AbortSource
    reason: AbortReason


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderAborted:
    """A-P-ABORT indication: a provider aborted (remote A-ABORT with source 2, a protocol
    error detected here (AA-8), or the transport closed under an open association (AA-4)).

    ``local`` is true when this side detected the problem; ``detail`` says what it was.
    """

    reason: AbortReason
    local: bool
    detail: str = ""


ULEvent = (
    AssociationRequested | AssociationAccepted | AssociationRejected | DataReceived
    | ReleaseRequested | Released | Aborted | ProviderAborted
)
