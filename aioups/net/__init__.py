"""The anyio driver: the only aioups library layer that does I/O."""

from ._association import Association as Association
from ._association import AssociationStatistics as AssociationStatistics
from ._association import Timeouts as Timeouts
from ._client import open_association as open_association
from ._client import send_echo as send_echo
from ._dispatch import Handler as Handler
from ._dispatch import ServiceRequest as ServiceRequest
from ._dispatch import echo_handler as echo_handler
from ._dispatch import inline_handler as inline_handler
from ._server import Authenticator as Authenticator
from ._server import Server as Server
from ._server import ServerConfig as ServerConfig
from ._server import ServerStatistics as ServerStatistics
from ._transport import SocketOptions as SocketOptions

__all__ = [
    "Association", "AssociationStatistics", "Authenticator", "Handler", "Server",
    "ServerConfig", "ServerStatistics", "ServiceRequest", "SocketOptions", "Timeouts",
    "echo_handler", "inline_handler", "open_association", "send_echo",
]
