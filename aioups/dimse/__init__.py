"""PS3.7 DIMSE, sans-IO: messages, the group-0000 codec, fragmentation and the engine."""

from ._command import COMMAND_ELEMENTS as COMMAND_ELEMENTS
from ._command import NO_DATA_SET as NO_DATA_SET
from ._command import UnknownCommand as UnknownCommand
from ._command import decode_command as decode_command
from ._command import decode_command_elements as decode_command_elements
from ._command import encode_command as encode_command
from ._dataset import BaseTag as BaseTag
from ._dataset import DataElement as DataElement
from ._dataset import Dataset as Dataset
from ._dataset import MultiValue as MultiValue
from ._dataset import Sequence as Sequence
from ._dataset import Tag as Tag
from ._dataset import as_bytes as as_bytes
from ._dataset import copy_data_set as copy_data_set
from ._dataset import decode_data_set as decode_data_set
from ._dataset import dictionary_VR as dictionary_VR
from ._dataset import element_copy as element_copy
from ._dataset import encode_data_set as encode_data_set
from ._dataset import generate_uid as generate_uid
from ._dataset import has_element as has_element
from ._dataset import has_value as has_value
from ._dataset import is_supported_transfer_syntax as is_supported_transfer_syntax
from ._dataset import keyword_for_tag as keyword_for_tag
from ._dataset import keyword_tag as keyword_tag
from ._dataset import peek_text as peek_text
from ._dataset import put_element as put_element
from ._dataset import put_text as put_text
from ._dataset import read_part10 as read_part10
from ._dataset import tag_for_keyword as tag_for_keyword
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
    "COMMAND_ELEMENTS",
    "MESSAGE_TYPES",
    "NO_DATA_SET",
    "RESPONSE_TYPES",
    "BaseTag",
    "CCancelRQ",
    "CEchoRQ",
    "CEchoRSP",
    "CFindRQ",
    "CFindRSP",
    "CommandField",
    "DIMSEEngine",
    "DataElement",
    "Dataset",
    "Message",
    "MessageAssembler",
    "MessageReceived",
    "MultiValue",
    "NActionRQ",
    "NActionRSP",
    "NCreateRQ",
    "NCreateRSP",
    "NDeleteRQ",
    "NDeleteRSP",
    "NEventReportRQ",
    "NEventReportRSP",
    "NGetRQ",
    "NGetRSP",
    "NSetRQ",
    "NSetRSP",
    "Priority",
    "Request",
    "Response",
    "Sequence",
    "Status",
    "StatusCategory",
    "Tag",
    "UnknownCommand",
    "as_bytes",
    "copy_data_set",
    "decode_command",
    "decode_command_elements",
    "decode_data_set",
    "dictionary_VR",
    "element_copy",
    "encode_command",
    "encode_data_set",
    "fragment_message",
    "generate_uid",
    "has_element",
    "has_value",
    "is_supported_transfer_syntax",
    "keyword_for_tag",
    "keyword_tag",
    "peek_text",
    "put_element",
    "put_text",
    "read_part10",
    "status_category",
    "tag_for_keyword",
]
