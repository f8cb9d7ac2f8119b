"""PS3.8 Upper Layer, sans-IO: the state machine (Table 9-10), ARTIM as a deadline, and
association negotiation."""

from ._connection import Role as Role
from ._connection import Transition as Transition
from ._connection import ULConfig as ULConfig
from ._connection import ULConnection as ULConnection
from ._events import Aborted as Aborted
from ._events import AssociationAccepted as AssociationAccepted
from ._events import AssociationRejected as AssociationRejected
from ._events import AssociationRequested as AssociationRequested
from ._events import DataReceived as DataReceived
from ._events import ProviderAborted as ProviderAborted
from ._events import Released as Released
from ._events import ReleaseRequested as ReleaseRequested
from ._events import ULEvent as ULEvent
from ._fsm import ACTION_TARGETS as ACTION_TARGETS
from ._fsm import TRANSITIONS as TRANSITIONS
from ._fsm import UNDEFINED as UNDEFINED
from ._fsm import Action as Action
from ._fsm import Event as Event
from ._fsm import State as State
from ._negotiation import AcceptorPolicy as AcceptorPolicy
from ._negotiation import IdentityDecision as IdentityDecision
from ._negotiation import Negotiated as Negotiated
from ._negotiation import NegotiatedContext as NegotiatedContext
from ._negotiation import PresentationContextProposal as PresentationContextProposal
from ._negotiation import SupportedSyntax as SupportedSyntax
from ._negotiation import answer_associate_rq as answer_associate_rq
from ._negotiation import build_associate_rq as build_associate_rq
from ._negotiation import negotiated_from_ac as negotiated_from_ac
from ._primitives import AbortRequest as AbortRequest
from ._primitives import AssociateAccept as AssociateAccept
from ._primitives import AssociateReject as AssociateReject
from ._primitives import AssociateRequest as AssociateRequest
from ._primitives import PDataRequest as PDataRequest
from ._primitives import Primitive as Primitive
from ._primitives import ReleaseRequest as ReleaseRequest
from ._primitives import ReleaseResponse as ReleaseResponse

__all__ = [
    "ACTION_TARGETS",
    "TRANSITIONS",
    "UNDEFINED",
    "AbortRequest",
    "Aborted",
    "AcceptorPolicy",
    "Action",
    "AssociateAccept",
    "AssociateReject",
    "AssociateRequest",
    "AssociationAccepted",
    "AssociationRejected",
    "AssociationRequested",
    "DataReceived",
    "Event",
    "IdentityDecision",
    "Negotiated",
    "NegotiatedContext",
    "PDataRequest",
    "PresentationContextProposal",
    "Primitive",
    "ProviderAborted",
    "ReleaseRequest",
    "ReleaseRequested",
    "ReleaseResponse",
    "Released",
    "Role",
    "State",
    "SupportedSyntax",
    "Transition",
    "ULConfig",
    "ULConnection",
    "ULEvent",
    "answer_associate_rq",
    "build_associate_rq",
    "negotiated_from_ac",
]
