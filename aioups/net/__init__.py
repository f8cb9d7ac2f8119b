"""The anyio driver: the only aioups library layer that does I/O."""

from ._association import Association as Association
from ._association import AssociationStatistics as AssociationStatistics
from ._association import Timeouts as Timeouts
from ._client import open_association as open_association
from ._client import send_echo as send_echo
from ._delivery import DeliveryStatistics as DeliveryStatistics
from ._delivery import EventDelivery as EventDelivery
from ._directory import AEAddress as AEAddress
from ._directory import load_ae_directory as load_ae_directory
from ._dispatch import FindMatch as FindMatch
from ._dispatch import Handler as Handler
from ._dispatch import HandlerReturn as HandlerReturn
from ._dispatch import ServiceRequest as ServiceRequest
from ._dispatch import echo_handler as echo_handler
from ._dispatch import inline_handler as inline_handler
from ._invoke import Outstanding as Outstanding
from ._receiver import EventReceiver as EventReceiver
from ._receiver import ReceivedEvent as ReceivedEvent
from ._server import Authenticator as Authenticator
from ._server import Server as Server
from ._server import ServerConfig as ServerConfig
from ._server import ServerStatistics as ServerStatistics
from ._services import DIMSEResponse as DIMSEResponse
from ._services import FindResults as FindResults
from ._services import c_echo as c_echo
from ._services import c_find as c_find
from ._services import n_action as n_action
from ._services import n_create as n_create
from ._services import n_delete as n_delete
from ._services import n_event_report as n_event_report
from ._services import n_get as n_get
from ._services import n_set as n_set
from ._services import send_request as send_request
from ._store import MemoryStore as MemoryStore
from ._store import SQLiteStore as SQLiteStore
from ._store import StoredSubscription as StoredSubscription
from ._store import StoredWorkitem as StoredWorkitem
from ._store import UPSStore as UPSStore
from ._transport import SocketOptions as SocketOptions
from ._ups_client import UPSClient as UPSClient
from ._ups_client import ups_contexts as ups_contexts
from ._ups_scp import ChangeHook as ChangeHook
from ._ups_scp import UPSService as UPSService

__all__ = [
    "AEAddress", "Association", "AssociationStatistics", "Authenticator", "ChangeHook",
    "DIMSEResponse", "DeliveryStatistics", "EventDelivery", "EventReceiver", "FindMatch",
    "FindResults", "Handler", "HandlerReturn", "MemoryStore", "Outstanding", "ReceivedEvent",
    "SQLiteStore", "Server", "ServerConfig", "ServerStatistics", "ServiceRequest",
    "SocketOptions", "StoredSubscription", "StoredWorkitem", "Timeouts", "UPSClient",
    "UPSService", "UPSStore", "c_echo", "c_find", "echo_handler", "inline_handler",
    "load_ae_directory", "n_action", "n_create", "n_delete", "n_event_report", "n_get", "n_set",
    "open_association", "send_echo", "send_request", "ups_contexts",
]
