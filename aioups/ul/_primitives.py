"""Service primitives the local user hands to the Upper Layer (PS3.8 §7): imperative nouns.

Each one triggers a local event of the state machine (Evt1, 7, 8, 9, 11, 14, 15).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

from ..pdu import PDV, AAssociateAC, AAssociateRJ, AAssociateRQ


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class AssociateRequest:
    """A-ASSOCIATE request (Evt1): open the transport, then send ``rq``."""

    rq: AAssociateRQ


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class AssociateAccept:
    """A-ASSOCIATE response, accept (Evt7)."""

    ac: AAssociateAC


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class AssociateReject:
    """A-ASSOCIATE response, reject (Evt8)."""

    rj: AAssociateRJ


@final
@dataclass(frozen=True, slots=True)
class PDataRequest:
    """P-DATA request (Evt9): the PDVs of one P-DATA-TF PDU."""

    pdvs: tuple[PDV, ...]


@final
@dataclass(frozen=True, slots=True)
class ReleaseRequest:
    """A-RELEASE request (Evt11)."""


@final
@dataclass(frozen=True, slots=True)
class ReleaseResponse:
    """A-RELEASE response (Evt14); a release cannot be refused (SM-05)."""


@final
@dataclass(frozen=True, slots=True)
class AbortRequest:
    """A-ABORT request (Evt15)."""


Primitive = (
    AssociateRequest | AssociateAccept | AssociateReject | PDataRequest | ReleaseRequest
    | ReleaseResponse | AbortRequest
)
