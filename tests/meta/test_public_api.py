"""STYLE B.9: the public API surface is a snapshot, and importing aioups has no side effects.

Changing an ``__all__`` is an API change: update the snapshot here in the same commit, on
purpose.
"""

from __future__ import annotations

import ast
import enum
import importlib
import inspect
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "aioups"

SNAPSHOT: dict[str, list[str]] = {
    "aioups": [
        "AEAddress", "Association", "DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN", "DIMSEResponse",
        "EXPLICIT_VR_BIG_ENDIAN", "EXPLICIT_VR_LITTLE_ENDIAN", "EventReceiver", "FindResults",
        "IMPLICIT_VR_LITTLE_ENDIAN", "MemoryStore", "PresentationContextProposal", "Priority",
        "ReceivedEvent", "SQLiteStore", "Server", "ServerConfig", "ServiceRequest",
        "SocketOptions", "Status", "StatusCategory", "Timeouts", "UPSClient", "UPSService",
        "UPSStore", "UPS_EVENT", "UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE",
        "UPS_GLOBAL_SUBSCRIPTION_INSTANCE", "UPS_PULL", "UPS_PUSH", "UPS_QUERY", "UPS_WATCH",
        "VERIFICATION", "__version__", "c_echo", "c_find", "errors", "inline_handler",
        "load_ae_directory", "n_action", "n_create", "n_delete", "n_event_report", "n_get",
        "n_set", "open_association", "send_echo", "send_request",
    ],
    "aioups.errors": [
        "AioupsError", "AioupsTimeout", "AssociationAborted", "AssociationError",
        "AssociationRejected", "AssociationTimeout", "ConfigurationError", "ConnectError",
        "ConnectionLost", "DIMSEFailure", "DIMSEStatusError", "DIMSETimeout", "DataSetError",
        "LocalProtocolError", "NoAcceptedContext", "PDUDecodeError", "ProtocolError",
        "RemoteProtocolError", "StoreError", "TransportError",
    ],
    "aioups.pdu": [
        "AAbort", "AAssociateAC", "AAssociateRJ", "AAssociateRQ", "ACSERejectReason",
        "AReleaseRP", "AReleaseRQ", "AbortReason", "AbortSource", "AsyncOperationsWindow",
        "ContextResult", "DEFAULT_MAX_OTHER_LENGTH", "DICOM_APPLICATION_CONTEXT", "ItemType",
        "PDU", "PDUFramer", "PDUType", "PDV", "PDataTF", "PresentationContextACItem",
        "PresentationContextRQItem", "PresentationRejectReason", "RejectResult", "RejectSource",
        "RoleSelection", "SOPClassCommonExtendedNegotiation", "SOPClassExtendedNegotiation",
        "UNLIMITED_PDATA_CEILING", "UnknownItem", "UnknownPDU", "UserIdentityAC",
        "UserIdentityRQ", "UserIdentityType", "UserInformation", "UserRejectReason",
        "decode_pdata", "decode_pdu", "decode_pdu_bytes", "encode_pdata", "encode_pdu",
    ],
    "aioups.ul": [
        "ACTION_TARGETS", "AbortRequest", "Aborted", "AcceptorPolicy", "Action",
        "AssociateAccept", "AssociateReject", "AssociateRequest", "AssociationAccepted",
        "AssociationRejected", "AssociationRequested", "DataReceived", "Event",
        "IdentityDecision", "Negotiated", "NegotiatedContext", "PDataRequest",
        "PresentationContextProposal", "Primitive", "ProviderAborted", "ReleaseRequest",
        "ReleaseRequested", "ReleaseResponse", "Released", "Role", "State", "SupportedSyntax",
        "TRANSITIONS", "Transition", "ULConfig", "ULConnection", "ULEvent", "UNDEFINED",
        "answer_associate_rq", "build_associate_rq", "negotiated_from_ac",
    ],
    "aioups.dimse": [
        "BaseTag", "CCancelRQ", "CEchoRQ", "CEchoRSP", "CFindRQ", "CFindRSP", "COMMAND_ELEMENTS",
        "CommandField", "DIMSEEngine", "DataElement", "Dataset", "MESSAGE_TYPES", "Message",
        "MessageAssembler", "MessageReceived", "MultiValue", "NActionRQ", "NActionRSP",
        "NCreateRQ", "NCreateRSP", "NDeleteRQ", "NDeleteRSP", "NEventReportRQ", "NEventReportRSP",
        "NGetRQ", "NGetRSP", "NO_DATA_SET", "NSetRQ", "NSetRSP", "Priority", "RESPONSE_TYPES",
        "Request", "Response", "Sequence", "Status", "StatusCategory", "Tag", "UnknownCommand",
        "as_bytes", "copy_data_set", "decode_command", "decode_command_elements",
        "decode_data_set", "dictionary_VR", "element_copy", "encode_command", "encode_data_set",
        "fragment_message", "generate_uid", "has_element", "has_value",
        "is_supported_transfer_syntax", "keyword_for_tag", "keyword_tag", "peek_text",
        "put_element", "put_text", "read_part10", "status_category", "tag_for_keyword",
    ],
    "aioups.net": [
        "AEAddress", "Association", "AssociationStatistics", "Authenticator", "ChangeHook",
        "DIMSEResponse", "DeliveryStatistics", "EventDelivery", "EventReceiver", "FindMatch",
        "FindResults", "Handler", "HandlerReturn", "MemoryStore", "Outstanding", "ReceivedEvent",
        "SQLiteStore", "Server", "ServerConfig", "ServerStatistics", "ServiceRequest",
        "SocketOptions", "StoredSubscription", "StoredWorkitem", "Timeouts", "UPSClient",
        "UPSService", "UPSStore", "c_echo", "c_find", "echo_handler", "inline_handler",
        "load_ae_directory", "n_action", "n_create", "n_delete", "n_event_report", "n_get",
        "n_set", "open_association", "send_echo", "send_request", "ups_contexts",
    ],
    "aioups.ups": [
        "EventTypeID", "GlobalSubscriptionRecord", "IdentifierProblem",
        "InstanceSubscriptionRecord", "ListStatus", "MatchOptions", "Outcome", "PerformerResponse",
        "Query", "SCPStatus", "STATE_TABLE", "SubscriptionPolicy", "SubscriptionRecord",
        "SubscriptionRegistry", "SubscriptionResult", "SubscriptionState", "UPSEvent", "UPSState",
        "Workitem", "apply_n_set", "change_state", "check_identifier", "compile_query",
        "create_workitem", "events_for_change", "matches", "n_get_attributes", "request_cancel",
        "response_identifier", "scp_status_change", "state_report", "strip_transaction_uid",
    ],
    "aioups.cli": ["main", "upsscu_main"],
    "aioups.loadtest": ["LatencySummary", "LoadConfig", "LoadResult", "Recorder", "SCENARIOS",
                        "run_load"],
}


def _module(name: str) -> ModuleType:
    return importlib.import_module(name)


def test_snapshot_lists_are_sorted() -> None:
    # Keeps the snapshot diff-friendly; the modules' own __all__ order is not checked.
    for name, names in SNAPSHOT.items():
        assert names == sorted(names), name


def test_every_subpackage_is_snapshotted() -> None:
    packages = {f"aioups.{p.parent.name}" for p in PACKAGE_DIR.glob("*/__init__.py")}
    assert packages | {"aioups", "aioups.errors"} == set(SNAPSHOT)


@pytest.mark.parametrize("name", sorted(SNAPSHOT))
def test_all_matches_snapshot(name: str) -> None:
    public = _module(name).__all__
    assert len(public) == len(set(public)), "duplicates in __all__"
    assert sorted(public) == SNAPSHOT[name]


@pytest.mark.parametrize("name", sorted(SNAPSHOT))
def test_everything_in_all_exists(name: str) -> None:
    module = _module(name)
    missing = [attr for attr in module.__all__ if not hasattr(module, attr)]
    assert missing == []


def test_top_level_reexports_are_the_subpackage_objects() -> None:
    import aioups
    import aioups.dimse
    import aioups.net
    import aioups.ul

    for attr in ("Association", "Server", "ServerConfig", "ServiceRequest", "SocketOptions",
                 "Timeouts", "open_association", "send_echo"):
        assert getattr(aioups, attr) is getattr(aioups.net, attr), attr
    assert aioups.Status is aioups.dimse.Status
    assert aioups.StatusCategory is aioups.dimse.StatusCategory
    assert aioups.PresentationContextProposal is aioups.ul.PresentationContextProposal
    assert aioups.errors is importlib.import_module("aioups.errors")
    assert isinstance(aioups.__version__, str)


def _must_be_final(cls: type) -> bool:
    """Trio's rule: public classes are final unless ABC, Protocol, exception or enum."""
    if issubclass(cls, BaseException) or inspect.isabstract(cls):
        return False
    if not cls.__module__.startswith("aioups"):
        return False  # re-exported from pydicom (aioups.dimse is its one doorway)
    if getattr(cls, "_is_protocol", False):
        return False
    # An enum with members cannot be subclassed at runtime anyway.
    return not (issubclass(cls, enum.Enum) and len(cls.__members__) > 0)


def test_public_classes_are_final() -> None:
    not_final = sorted(
        f"{name}.{attr}" for name in SNAPSHOT for attr in _module(name).__all__
        if inspect.isclass(obj := getattr(_module(name), attr))
        and _must_be_final(obj) and not getattr(obj, "__final__", False))
    assert not_final == []


# --- no side effects at import time -----------------------------------------------------------

_CHILD = r"""
import json, logging, sys, warnings
import pydicom, pydicom.datadict as dd, pydicom.uid

def state():
    return {
        "DicomDictionary": hash(tuple(sorted(dd.DicomDictionary.items()))),
        "DicomDictionary_len": len(dd.DicomDictionary),
        "RepeatersDictionary": len(dd.RepeatersDictionary),
        "keyword_dict": hash(tuple(sorted(dd.keyword_dict.items()))),
        "private_dictionaries": sorted((k, len(v)) for k, v in dd.private_dictionaries.items()),
        "uid_dictionary": len(pydicom.uid.UID_dictionary),
        "root_handlers": [type(h).__name__ for h in logging.getLogger().handlers],
        "root_level": logging.getLogger().level,
        "aioups_handlers": [type(h).__name__ for h in logging.getLogger("aioups").handlers],
        "warning_filters": len(warnings.filters),
    }

before = state()
import aioups, aioups.cli, aioups.dimse, aioups.errors, aioups.net, aioups.pdu, aioups.ul
after = state()
print(json.dumps({"before": before, "after": after,
                  "pynetdicom": any(m.split(".")[0] == "pynetdicom" for m in sys.modules)}))
"""


def test_import_has_no_side_effects() -> None:
    proc = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True,
                          timeout=60, check=False, cwd=PACKAGE_DIR.parent)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no warnings, no prints
    result = json.loads(proc.stdout)
    assert result["after"] == result["before"]
    assert result["before"]["DicomDictionary_len"] > 4000  # really looked at pydicom's table
    assert not result["pynetdicom"]


@pytest.mark.parametrize("path", sorted(PACKAGE_DIR.rglob("*.py")),
                         ids=lambda p: p.relative_to(PACKAGE_DIR.parent).as_posix())
def test_no_asserts_at_import_time(path: Path) -> None:
    # Module- and class-level ``assert`` statements run on import (and vanish under -O).
    def top_level(body: Sequence[ast.AST]) -> list[int]:
        found: list[int] = []
        for node in body:
            if isinstance(node, ast.Assert):
                found.append(node.lineno)
            elif isinstance(node, ast.ClassDef):
                found += top_level(node.body)
            elif isinstance(node, ast.If | ast.Try | ast.With | ast.ExceptHandler):
                found += top_level([n for n in ast.iter_child_nodes(node)
                                    if isinstance(n, ast.stmt | ast.ExceptHandler)])
        return found

    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert top_level(tree.body) == []


def test_runtime_needs_no_sniffio() -> None:
    # anyio does not depend on sniffio; trio brings it in, so only a blocked import shows a
    # stray use.  The README's main job must run with the runtime dependencies alone.
    code = ("import sys; sys.modules['sniffio'] = None\n"
            "from aioups.cli import main\n"
            "sys.exit(main(['demo', '--workflows', '5']))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "SUCCESS" in proc.stdout
