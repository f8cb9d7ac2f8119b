"""UPS (PS3.4 Annex CC) rules as pure functions: states, the Transaction UID lock, attribute
requirements, event contents, subscriptions and C-FIND matching.  No I/O."""

from ._actions import change_state as change_state
from ._actions import request_cancel as request_cancel
from ._events import EventTypeID as EventTypeID
from ._events import ListStatus as ListStatus
from ._events import SCPStatus as SCPStatus
from ._events import UPSEvent as UPSEvent
from ._events import events_for_change as events_for_change
from ._events import scp_status_change as scp_status_change
from ._events import state_report as state_report
from ._matching import IdentifierProblem as IdentifierProblem
from ._matching import MatchOptions as MatchOptions
from ._matching import Query as Query
from ._matching import check_identifier as check_identifier
from ._matching import compile_query as compile_query
from ._matching import matches as matches
from ._matching import response_identifier as response_identifier
from ._state import STATE_TABLE as STATE_TABLE
from ._state import PerformerResponse as PerformerResponse
from ._state import UPSState as UPSState
from ._subscriptions import GlobalSubscriptionRecord as GlobalSubscriptionRecord
from ._subscriptions import InstanceSubscriptionRecord as InstanceSubscriptionRecord
from ._subscriptions import SubscriptionPolicy as SubscriptionPolicy
from ._subscriptions import SubscriptionRecord as SubscriptionRecord
from ._subscriptions import SubscriptionRegistry as SubscriptionRegistry
from ._subscriptions import SubscriptionResult as SubscriptionResult
from ._subscriptions import SubscriptionState as SubscriptionState
from ._workitem import Outcome as Outcome
from ._workitem import Workitem as Workitem
from ._workitem import apply_n_set as apply_n_set
from ._workitem import create_workitem as create_workitem
from ._workitem import n_get_attributes as n_get_attributes
from ._workitem import strip_transaction_uid as strip_transaction_uid

__all__ = [
    "STATE_TABLE", "EventTypeID", "GlobalSubscriptionRecord", "IdentifierProblem",
    "InstanceSubscriptionRecord",
    "ListStatus", "MatchOptions", "Outcome", "PerformerResponse", "Query", "SCPStatus",
    "SubscriptionPolicy", "SubscriptionRecord", "SubscriptionRegistry", "SubscriptionResult",
    "SubscriptionState", "UPSEvent", "UPSState", "Workitem", "apply_n_set", "change_state",
    "check_identifier", "compile_query", "create_workitem", "events_for_change", "matches",
    "n_get_attributes", "request_cancel", "response_identifier", "scp_status_change",
    "state_report", "strip_transaction_uid",
]
