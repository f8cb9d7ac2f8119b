"""aioups: async DICOM networking (Upper Layer, DIMSE, UPS) for asyncio and trio."""

from . import errors as errors
from ._uids import DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN as DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN
from ._uids import EXPLICIT_VR_BIG_ENDIAN as EXPLICIT_VR_BIG_ENDIAN
from ._uids import EXPLICIT_VR_LITTLE_ENDIAN as EXPLICIT_VR_LITTLE_ENDIAN
from ._uids import IMPLICIT_VR_LITTLE_ENDIAN as IMPLICIT_VR_LITTLE_ENDIAN
from ._uids import UPS_EVENT as UPS_EVENT
from ._uids import (
    UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE as UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE,
)
from ._uids import UPS_GLOBAL_SUBSCRIPTION_INSTANCE as UPS_GLOBAL_SUBSCRIPTION_INSTANCE
from ._uids import UPS_PULL as UPS_PULL
from ._uids import UPS_PUSH as UPS_PUSH
from ._uids import UPS_QUERY as UPS_QUERY
from ._uids import UPS_WATCH as UPS_WATCH
from ._uids import VERIFICATION as VERIFICATION
from .dimse import Priority as Priority
from .dimse import Status as Status
from .dimse import StatusCategory as StatusCategory
from .net import AEAddress as AEAddress
from .net import Association as Association
from .net import DIMSEResponse as DIMSEResponse
from .net import EventReceiver as EventReceiver
from .net import FindResults as FindResults
from .net import MemoryStore as MemoryStore
from .net import ReceivedEvent as ReceivedEvent
from .net import Server as Server
from .net import ServerConfig as ServerConfig
from .net import ServiceRequest as ServiceRequest
from .net import SocketOptions as SocketOptions
from .net import SQLiteStore as SQLiteStore
from .net import Timeouts as Timeouts
from .net import UPSClient as UPSClient
from .net import UPSService as UPSService
from .net import UPSStore as UPSStore
from .net import c_echo as c_echo
from .net import c_find as c_find
from .net import inline_handler as inline_handler
from .net import load_ae_directory as load_ae_directory
from .net import n_action as n_action
from .net import n_create as n_create
from .net import n_delete as n_delete
from .net import n_event_report as n_event_report
from .net import n_get as n_get
from .net import n_set as n_set
from .net import open_association as open_association
from .net import send_echo as send_echo
from .net import send_request as send_request
from .ul import PresentationContextProposal as PresentationContextProposal

__version__ = "0.1.0"

__all__ = [
    "DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN",
    "EXPLICIT_VR_BIG_ENDIAN",
    "EXPLICIT_VR_LITTLE_ENDIAN",
    "IMPLICIT_VR_LITTLE_ENDIAN",
    "UPS_EVENT",
    "UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE",
    "UPS_GLOBAL_SUBSCRIPTION_INSTANCE",
    "UPS_PULL",
    "UPS_PUSH",
    "UPS_QUERY",
    "UPS_WATCH",
    "VERIFICATION",
    "AEAddress",
    "Association",
    "DIMSEResponse",
    "EventReceiver",
    "FindResults",
    "MemoryStore",
    "PresentationContextProposal",
    "Priority",
    "ReceivedEvent",
    "SQLiteStore",
    "Server",
    "ServerConfig",
    "ServiceRequest",
    "SocketOptions",
    "Status",
    "StatusCategory",
    "Timeouts",
    "UPSClient",
    "UPSService",
    "UPSStore",
    "__version__",
    "c_echo",
    "c_find",
    "errors",
    "inline_handler",
    "load_ae_directory",
    "n_action",
    "n_create",
    "n_delete",
    "n_event_report",
    "n_get",
    "n_set",
    "open_association",
    "send_echo",
    "send_request",
]
