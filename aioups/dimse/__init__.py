"""PS3.7 DIMSE, sans-IO: messages, the group-0000 codec, fragmentation and the engine."""

from ._command import COMMAND_ELEMENTS as COMMAND_ELEMENTS
from ._command import NO_DATA_SET as NO_DATA_SET
from ._command import UnknownCommand as UnknownCommand
from ._command import decode_command as decode_command
from ._command import decode_command_elements as decode_command_elements
from ._command import encode_command as encode_command
from ._engine import DIMSEEngine as DIMSEEngine
from ._engine import MessageReceived as MessageReceived
from ._fragments import MessageAssembler as MessageAssembler
from ._fragments import fragment_message as fragment_message
from ._messages import MESSAGE_TYPES as MESSAGE_TYPES
from ._messages import RESPONSE_TYPES as RESPONSE_TYPES
from ._messages import CCancelRQ as CCancelRQ
from ._messages import CEchoRQ as CEchoRQ
from ._messages import CEchoRSP as CEchoRSP
from ._messages import CFindRQ as CFindRQ
from ._messages import CFindRSP as CFindRSP
from ._messages import CommandField as CommandField
from ._messages import Message as Message
from ._messages import NActionRQ as NActionRQ
from ._messages import NActionRSP as NActionRSP
from ._messages import NCreateRQ as NCreateRQ
from ._messages import NCreateRSP as NCreateRSP
from ._messages import NDeleteRQ as NDeleteRQ
from ._messages import NDeleteRSP as NDeleteRSP
from ._messages import NEventReportRQ as NEventReportRQ
from ._messages import NEventReportRSP as NEventReportRSP
from ._messages import NGetRQ as NGetRQ
from ._messages import NGetRSP as NGetRSP
from ._messages import NSetRQ as NSetRQ
from ._messages import NSetRSP as NSetRSP
from ._messages import Priority as Priority
from ._messages import Request as Request
from ._messages import Response as Response
from ._status import Status as Status
from ._status import StatusCategory as StatusCategory
from ._status import status_category as status_category

__all__ = [
    "COMMAND_ELEMENTS", "MESSAGE_TYPES", "NO_DATA_SET", "RESPONSE_TYPES", "CCancelRQ",
    "CEchoRQ", "CEchoRSP", "CFindRQ", "CFindRSP", "CommandField", "DIMSEEngine", "Message",
    "MessageAssembler", "MessageReceived", "NActionRQ", "NActionRSP", "NCreateRQ", "NCreateRSP",
    "NDeleteRQ", "NDeleteRSP", "NEventReportRQ", "NEventReportRSP", "NGetRQ", "NGetRSP",
    "NSetRQ", "NSetRSP", "Priority", "Request", "Response", "Status", "StatusCategory",
    "UnknownCommand", "decode_command", "decode_command_elements", "encode_command",
    "fragment_message", "status_category",
]
