"""PS3.8 §9.3 wire codec: PDU values, ``encode_pdu``/``decode_pdu`` and the incremental framer.

Pure and stateless, except :class:`PDUFramer`, which buffers a byte stream.
"""

from ._decode import decode_pdata as decode_pdata
from ._decode import decode_pdu as decode_pdu
from ._decode import decode_pdu_bytes as decode_pdu_bytes
from ._encode import encode_pdata as encode_pdata
from ._encode import encode_pdu as encode_pdu
from ._enums import AbortReason as AbortReason
from ._enums import AbortSource as AbortSource
from ._enums import ACSERejectReason as ACSERejectReason
from ._enums import ContextResult as ContextResult
from ._enums import ItemType as ItemType
from ._enums import PDUType as PDUType
from ._enums import PresentationRejectReason as PresentationRejectReason
from ._enums import RejectResult as RejectResult
from ._enums import RejectSource as RejectSource
from ._enums import UserIdentityType as UserIdentityType
from ._enums import UserRejectReason as UserRejectReason
from ._framer import DEFAULT_MAX_OTHER_LENGTH as DEFAULT_MAX_OTHER_LENGTH
from ._framer import UNLIMITED_PDATA_CEILING as UNLIMITED_PDATA_CEILING
from ._framer import PDUFramer as PDUFramer
from ._items import AsyncOperationsWindow as AsyncOperationsWindow
from ._items import PresentationContextACItem as PresentationContextACItem
from ._items import PresentationContextRQItem as PresentationContextRQItem
from ._items import RoleSelection as RoleSelection
from ._items import SOPClassCommonExtendedNegotiation as SOPClassCommonExtendedNegotiation
from ._items import SOPClassExtendedNegotiation as SOPClassExtendedNegotiation
from ._items import UnknownItem as UnknownItem
from ._items import UserIdentityAC as UserIdentityAC
from ._items import UserIdentityRQ as UserIdentityRQ
from ._items import UserInformation as UserInformation
from ._pdus import DICOM_APPLICATION_CONTEXT as DICOM_APPLICATION_CONTEXT
from ._pdus import PDU as PDU
from ._pdus import PDV as PDV
from ._pdus import AAbort as AAbort
from ._pdus import AAssociateAC as AAssociateAC
from ._pdus import AAssociateRJ as AAssociateRJ
from ._pdus import AAssociateRQ as AAssociateRQ
from ._pdus import AReleaseRP as AReleaseRP
from ._pdus import AReleaseRQ as AReleaseRQ
from ._pdus import PDataTF as PDataTF
from ._pdus import UnknownPDU as UnknownPDU

__all__ = [
    "DEFAULT_MAX_OTHER_LENGTH", "DICOM_APPLICATION_CONTEXT", "PDU", "PDV",
    "UNLIMITED_PDATA_CEILING", "AAbort", "AAssociateAC", "AAssociateRJ", "AAssociateRQ",
    "ACSERejectReason", "AReleaseRP", "AReleaseRQ", "AbortReason", "AbortSource",
    "AsyncOperationsWindow", "ContextResult", "ItemType", "PDUFramer", "PDUType", "PDataTF",
    "PresentationContextACItem", "PresentationContextRQItem", "PresentationRejectReason",
    "RejectResult", "RejectSource", "RoleSelection", "SOPClassCommonExtendedNegotiation",
    "SOPClassExtendedNegotiation", "UnknownItem", "UnknownPDU", "UserIdentityAC",
    "UserIdentityRQ", "UserIdentityType", "UserInformation", "UserRejectReason",
    "decode_pdata", "decode_pdu", "decode_pdu_bytes", "encode_pdata", "encode_pdu",
]
