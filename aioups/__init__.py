"""aioups: async DICOM networking (Upper Layer, DIMSE, UPS) for asyncio and trio."""

from . import errors as errors
from ._uids import VERIFICATION as VERIFICATION
from .dimse import Status as Status
from .dimse import StatusCategory as StatusCategory
from .net import Association as Association
from .net import Server as Server
from .net import ServerConfig as ServerConfig
from .net import ServiceRequest as ServiceRequest
from .net import SocketOptions as SocketOptions
from .net import Timeouts as Timeouts
from .net import open_association as open_association
from .net import send_echo as send_echo
from .ul import PresentationContextProposal as PresentationContextProposal

__version__ = "0.1.0"

__all__ = [
    "VERIFICATION", "Association", "PresentationContextProposal", "Server", "ServerConfig",
    "ServiceRequest", "SocketOptions", "Status", "StatusCategory", "Timeouts", "__version__",
    "errors", "open_association", "send_echo",
]
