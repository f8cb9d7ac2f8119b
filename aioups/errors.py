"""The aioups exception hierarchy (all of it, in one place).

Errors carry protocol data (abort reasons, reject triples, DIMSE status) so callers can act on
them without parsing messages.  Low-level anyio/OS errors are translated once, in
``aioups.net._transport``.
"""

from __future__ import annotations

__all__ = [
    "AioupsError",
    "AioupsTimeout",
    "AssociationAborted",
    "AssociationError",
    "AssociationRejected",
    "AssociationTimeout",
    "ConfigurationError",
    "ConnectError",
    "ConnectionLost",
    "DIMSEFailure",
    "DIMSEStatusError",
    "DIMSETimeout",
    "DataSetError",
    "LocalProtocolError",
    "NoAcceptedContext",
    "PDUDecodeError",
    "ProtocolError",
    "RemoteProtocolError",
    "StoreError",
    "TransportError",
]


class AioupsError(Exception):
    """Base class of every error aioups raises on purpose."""


class ProtocolError(AioupsError):
    """A PS3.8/PS3.7 rule was broken.  Abstract: raise a subclass."""

    def __init__(self, msg: str, *, abort_reason: int = 0) -> None:
        if type(self) is ProtocolError:
            raise TypeError("ProtocolError is abstract; raise a subclass")
        super().__init__(msg)
        #: PS3.8 A-ABORT reason (source 2) that best describes the fault.
        self.abort_reason = abort_reason


class LocalProtocolError(ProtocolError):
    """The local user asked for something illegal now (e.g. an undefined state-machine cell)."""


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol; ``abort_reason`` is the A-ABORT reason to send back."""


class PDUDecodeError(RemoteProtocolError):
    """Bytes that are not a valid PDU.

    Attributes:
        pdu_type: the PDU type byte, when known.
        offset: byte offset inside the PDU where decoding failed.
        abort_reason: the A-ABORT reason (1 unrecognized PDU, 4/5/6 parameter problems).
    """

    def __init__(self, msg: str, *, pdu_type: int | None = None, offset: int = 0,
                 abort_reason: int = 6) -> None:
        super().__init__(f"{msg} (pdu_type={pdu_type}, offset={offset})",
                         abort_reason=abort_reason)
        self.pdu_type = pdu_type
        self.offset = offset


class AssociationError(AioupsError):
    """The association could not be set up or ended abnormally."""


class AssociationRejected(AssociationError):
    """The acceptor answered A-ASSOCIATE-RJ (PS3.8 §9.3.4)."""

    def __init__(self, result: int, source: int, reason: int) -> None:
        super().__init__(f"association rejected: result={result} source={source} reason={reason}")
        self.result = result
        self.source = source
        self.reason = reason


class AssociationAborted(AssociationError):
    """A-ABORT received, or the provider aborted (A-P-ABORT).

    ``source`` is 0 (service user), 2 (service provider, remote) or -1 for a local provider abort.
    """

    def __init__(self, source: int, reason: int, detail: str = "") -> None:
        text = f"association aborted: source={source} reason={reason}"
        super().__init__(f"{text}: {detail}" if detail else text)
        self.source = source
        self.reason = reason


class NoAcceptedContext(AssociationError):
    """No accepted presentation context (with the needed role) exists for a SOP class."""


class TransportError(AioupsError):
    """The TCP/TLS transport failed."""


class ConnectError(TransportError):
    """TCP or TLS connection set-up failed; the original OSError is ``__cause__``."""


class ConnectionLost(TransportError):
    """The transport closed while the association was still open."""


class AioupsTimeout(AioupsError, TimeoutError):
    """A configured timeout expired."""


class AssociationTimeout(AioupsTimeout):
    """Connect, A-ASSOCIATE-AC, release or ARTIM timeout."""


class DIMSETimeout(AioupsTimeout):
    """No DIMSE response within the configured time."""


class DIMSEStatusError(AioupsError):
    """A DIMSE status that is not success: raised by clients, and by server handlers to choose
    the response status and its error fields.

    Attributes:
        status: the (0000,0900) Status code.
        error_comment: (0000,0902) Error Comment.
        error_id: (0000,0903) Error ID.
        offending_elements: (0000,0901) Offending Element tags.
        attribute_identifiers: (0000,1005) Attribute Identifier List (N-GET/N-SET 0105H, 0107H).
    """

    def __init__(self, status: int, error_comment: str | None = None, *,
                 error_id: int | None = None, offending_elements: tuple[int, ...] = (),
                 attribute_identifiers: tuple[int, ...] = ()) -> None:
        text = f"DIMSE status 0x{status:04X}"
        super().__init__(f"{text}: {error_comment}" if error_comment else text)
        self.status = status
        self.error_comment = error_comment
        self.error_id = error_id
        self.offending_elements = offending_elements
        self.attribute_identifiers = attribute_identifiers


class DIMSEFailure(DIMSEStatusError):
    """The peer answered a request with a failure status (PS3.7 C.1).

    ``response`` is the full response (a :class:`aioups.DIMSEResponse`), with its data set.
    """

    def __init__(self, status: int, error_comment: str | None = None, *,
                 response: object = None, error_id: int | None = None,
                 offending_elements: tuple[int, ...] = (),
                 attribute_identifiers: tuple[int, ...] = ()) -> None:
        super().__init__(status, error_comment, error_id=error_id,
                         offending_elements=offending_elements,
                         attribute_identifiers=attribute_identifiers)
        self.response = response


class DataSetError(AioupsError):
    """A data set cannot be encoded or decoded (bad bytes, unsupported transfer syntax)."""


class ConfigurationError(AioupsError):
    """A configuration file or option is invalid (AE directory, store path, …)."""


class StoreError(AioupsError):
    """The workitem store failed (the request is answered 0110H and nothing is lost)."""
