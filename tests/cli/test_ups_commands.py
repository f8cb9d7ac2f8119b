"""The UPS SCU sub-commands of ``aioups`` (create, update, get, change-state, request-cancel,
subscribe, unsubscribe, suspend-global, find) and ``aioups receive``, end to end.

``aioups.cli.main(argv)`` runs in the test's thread (it starts its own ``anyio.run``) against

* an aioups UPS SCP: :class:`aioups.UPSService` behind an :class:`aioups.Server` whose handlers
  are wrapped by a recorder, on an event loop in a background thread (an anyio blocking portal),
  with an AE directory that knows the Receiving AEs ``RX`` and ``WATCHER``; it runs on the other
  backend than the command line, so both pairings are covered;
* the pynetdicom UPS SCP of :mod:`helpers.pynetdicom_ups_scp`.

What the SCP received (presentation context, SOP class, instance, Action Type, data set, and for
aioups the transfer syntax and the negotiated association) is checked, not only what the command
printed.  ``receive`` runs as a subprocess (``python -m aioups receive``) on a port picked
beforehand, which the SCP's AE directory names.  :class:`helpers.pdu_tap.PDUTap` sits between
the command line and the SCP where the test must see the PDUs themselves.

Every wait is bounded; every process started here is killed by its PID.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import pydicom
import pydicom.uid
import pytest
from anyio.abc import TaskStatus
from helpers.pdu_tap import PDUTap
from helpers.pynetdicom_ups_scp import PynetdicomUPSSCP, UPSRequest
from pydicom.dataset import FileMetaDataset
from ups.factories import code, create_request

import aioups
from aioups.cli import main
from aioups.dimse import (
    CEchoRQ,
    CFindRQ,
    Dataset,
    NActionRQ,
    NCreateRQ,
    NGetRQ,
    NSetRQ,
    generate_uid,
)
from aioups.errors import DIMSEFailure
from aioups.net import Handler, ServiceRequest
from aioups.pdu import PDataTF
from aioups.ul import Negotiated, SupportedSyntax

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
SCP_AE = "UPSSCP"
#: Receiving AEs in the aioups SCP's directory: RX is where ``receive`` listens, nobody listens
#: as WATCHER.
RX_AE, WATCHER_AE = "RX", "WATCHER"
BACKENDS = ("asyncio", "trio")
OTHER_BACKEND = {"asyncio": "trio", "trio": "asyncio"}
#: bound on each wait for a subprocess (seconds)
WAIT = 20.0
IMPLICIT, EXPLICIT, BIG = (aioups.IMPLICIT_VR_LITTLE_ENDIAN, aioups.EXPLICIT_VR_LITTLE_ENDIAN,
                           aioups.EXPLICIT_VR_BIG_ENDIAN)
CHANGE_STATE, REQUEST_CANCEL, SUBSCRIBE, UNSUBSCRIBE, SUSPEND = 1, 2, 3, 4, 5
GLOBAL = aioups.UPS_GLOBAL_SUBSCRIPTION_INSTANCE
FILTERED = aioups.UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE
#: N-GETs of this workitem are answered after SLOW_DELAY seconds by the aioups SCP
SLOW_UID = "1.2.826.0.1.3680043.10.543.777"
SLOW_DELAY = 1.5
_SERVICE_NAMES = {CEchoRQ: "C-ECHO", CFindRQ: "C-FIND", NActionRQ: "N-ACTION",
                  NCreateRQ: "N-CREATE", NGetRQ: "N-GET", NSetRQ: "N-SET"}


def new_uid() -> str:
    return str(generate_uid())


def free_port() -> int:
    """A port nobody listens on right now (bound to port 0, read, closed)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --- the SCPs and what they received -----------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """One request as the SCP's handler received it (either SCP)."""

    service: str
    #: the presentation context's abstract syntax
    context: str
    #: the SOP class UID in the command (Affected or Requested)
    sop_class: str | None
    instance: str | None
    type_id: int | None = None
    attributes: tuple[int, ...] = ()
    data_set: Dataset | None = field(default=None, compare=False)
    #: aioups SCP only: the context's transfer syntax, the C-FIND priority, the association
    transfer_syntax: str | None = None
    priority: int | None = None
    negotiated: Negotiated | None = field(default=None, compare=False)


class Peer:
    """A running UPS SCP: its address and what it received."""

    kind: str
    ae_title: str
    port: int
    #: the command line's backend
    backend: str = "asyncio"

    def address(self, called: str | None = None) -> str:
        return f"{called or self.ae_title}@{HOST}:{self.port}"

    def seen(self, service: str | None = None) -> list[Seen]:
        raise NotImplementedError

    def state(self, uid: str) -> str:
        """The workitem's Procedure Step State, as the SCP keeps it."""
        raise NotImplementedError

    def last(self, service: str) -> Seen:
        seen = self.seen(service)
        assert seen, f"the SCP received no {service}"
        return seen[-1]


class AioupsPeer(Peer):
    kind = "aioups"

    def __init__(self, port: int, records: list[Seen], service: aioups.UPSService,
                 portal: anyio.from_thread.BlockingPortal) -> None:
        self.ae_title = SCP_AE
        self.port = port
        self.records = records
        self.service = service
        self.portal = portal

    def seen(self, service: str | None = None) -> list[Seen]:
        return [s for s in list(self.records) if service is None or s.service == service]

    def state(self, uid: str) -> str:
        return str(self.service.workitems[uid].data_set.ProcedureStepState)


class PynetdicomPeer(Peer):
    kind = "pynetdicom"

    def __init__(self, scp: PynetdicomUPSSCP) -> None:
        self.scp = scp
        self.ae_title = scp.ae_title
        self.port = scp.port

    def seen(self, service: str | None = None) -> list[Seen]:
        return [_from_pynetdicom(r) for r in self.scp.take(service)]

    def state(self, uid: str) -> str:
        return self.scp.workitem(uid).state


def _from_pynetdicom(request: UPSRequest) -> Seen:
    return Seen(request.service, request.abstract_syntax, request.sop_class_uid,
                request.sop_instance_uid, request.type_id, request.attribute_identifiers,
                request.data_set)


def _recording(handler: Handler, records: list[Seen]) -> Handler:
    """``handler``, recording each request first; N-GETs of SLOW_UID are answered late."""
    def recording(request: ServiceRequest) -> Any:
        message = request.message
        instance = (getattr(message, "requested_sop_instance_uid", None)
                    or getattr(message, "affected_sop_instance_uid", None))
        records.append(Seen(
            service=_SERVICE_NAMES[type(message)], context=request.context.abstract_syntax,
            sop_class=(getattr(message, "requested_sop_class_uid", None)
                       or getattr(message, "affected_sop_class_uid", None)),
            instance=instance, type_id=getattr(message, "action_type_id", None),
            attributes=tuple(getattr(message, "attribute_identifier_list", None) or ()),
            data_set=request.data_set, transfer_syntax=request.context.transfer_syntax,
            priority=getattr(message, "priority", None),
            negotiated=request.association.negotiated))
        if isinstance(message, NGetRQ) and instance == SLOW_UID:
            return _late(handler, request)
        return handler(request)  # a coroutine, or a C-FIND async iterator

    return recording


async def _late(handler: Handler, request: ServiceRequest) -> Any:
    await anyio.sleep(SLOW_DELAY)
    return await handler(request)  # type: ignore[misc]  # an N-GET handler: a coroutine


@contextmanager
def aioups_scp(backend: str = "asyncio", *, rx_port: int | None = None,
               supported: tuple[str, ...] | None = None,
               **options: Any) -> Iterator[AioupsPeer]:
    """An aioups UPS SCP (AE title UPSSCP) on 127.0.0.1:0 in a background thread.

    Args:
        rx_port: where its directory says RX listens (a free port by default).
        supported: the transfer syntaxes it accepts (all uncompressed ones by default).
        options: for :class:`aioups.ServerConfig` (AE title checks...).
    """
    directory = {RX_AE: aioups.AEAddress(host=HOST, port=rx_port or free_port()),
                 WATCHER_AE: aioups.AEAddress(host=HOST, port=free_port())}
    service = aioups.UPSService(directory=directory, ae_title=SCP_AE, purge_after=None)
    service.shutdown_grace = 0.0  # no GOING DOWN to wait for: the receivers are gone first
    records: list[Seen] = []
    handlers = {key: _recording(handler, records) for key, handler in service.handlers().items()}
    syntax = SupportedSyntax() if supported is None else SupportedSyntax(
        transfer_syntaxes=supported)
    accepted = {abstract: syntax for abstract, _ in handlers} | {aioups.UPS_EVENT: syntax}
    config = aioups.ServerConfig(ae_title=SCP_AE, handlers=handlers, supported=accepted,
                                 max_operations_performed=16, **options)

    async def run(*, task_status: TaskStatus[int]) -> None:
        async with anyio.create_task_group() as tg:
            await tg.start(service.run)
            task_status.started(await tg.start(aioups.Server(config).serve, HOST, 0))

    with anyio.from_thread.start_blocking_portal(backend) as portal:
        future, port = portal.start_task(run)
        try:
            yield AioupsPeer(int(port), records, service, portal)
        finally:
            future.cancel()  # leaving the portal waits for the SCP to finish


@pytest.fixture(scope="module")
def pynetdicom_server() -> Iterator[PynetdicomUPSSCP]:
    # pynetdicom logs in this process; from a shell its logs would not be on our stderr
    log = logging.getLogger("pynetdicom")
    quiet = logging.NullHandler()
    saved = log.propagate
    log.propagate = False
    log.addHandler(quiet)
    scp = PynetdicomUPSSCP()
    scp.start()
    try:
        yield scp
    finally:
        scp.stop()
        log.removeHandler(quiet)
        log.propagate = saved


#: (SCP, the command line's backend); an aioups SCP runs on the other backend, so the command
#: line and the aioups SCP each run on asyncio and on trio
PEERS = [pytest.param(("aioups", "asyncio"), id="cli_asyncio-aioups_on_trio"),
         pytest.param(("aioups", "trio"), id="cli_trio-aioups_on_asyncio"),
         pytest.param(("pynetdicom", "trio"), id="cli_trio-pynetdicom")]
AIOUPS_PEERS = PEERS[:2]
#: for tests whose point is the aioups SCP's answer (C308, C312, matching on any key)
aioups_only = pytest.mark.parametrize("peer", AIOUPS_PEERS, indirect=True)


@pytest.fixture(params=PEERS)
def peer(request: pytest.FixtureRequest) -> Iterator[Peer]:
    kind, backend = request.param
    if kind == "aioups":
        with aioups_scp(OTHER_BACKEND[backend]) as scp:
            scp.backend = backend
            yield scp
    else:
        server: PynetdicomUPSSCP = request.getfixturevalue("pynetdicom_server")
        server.reset()
        py = PynetdicomPeer(server)
        py.backend = backend
        yield py


# --- running the command line -------------------------------------------------------------------


@contextmanager
def _bare_root_logger() -> Iterator[None]:
    """A root logger without handlers during the call, as in a fresh interpreter (pytest's
    handlers would make the CLI's ``logging.basicConfig`` a no-op); restored afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    for handler in saved_handlers:
        root.removeHandler(handler)
    try:
        yield
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
            handler.close()
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> list[dict[str, Any]]:
        """stdout as JSON lines."""
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]

    def one_json(self) -> dict[str, Any]:
        lines = self.json()
        assert len(lines) == 1, self.out
        return lines[0]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    """``aioups.cli.main(argv)``; argparse's SystemExit becomes the exit code.  Never a
    traceback, whatever happened."""
    capsys.readouterr()
    with _bare_root_logger():
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out, err
    return Result(code, out, err)


class UPS:
    """Runs ``aioups --backend B COMMAND -c <the peer> --soclose-delay 0 ARGS``.

    ``--soclose-delay 0`` saves upsscu's 50 ms before each socket is closed, hundreds of times;
    the tests of the connection options run without it.
    """

    def __init__(self, capsys: pytest.CaptureFixture[str], peer: Peer) -> None:
        self.capsys, self.peer = capsys, peer

    def __call__(self, command: str, *args: str, connect: bool = True) -> Result:
        address = ("-c", self.peer.address(), "--soclose-delay", "0") if connect else ()
        return run(self.capsys, "--backend", self.peer.backend, command, *address, *args)

    def ok(self, command: str, *args: str) -> Result:
        result = self(command, *args)
        assert result.code == 0, (result.out, result.err)
        assert result.err == "", result.err
        return result

    def create(self, uid: str | None = None, *args: str) -> str:
        result = self.ok("create", "--json", *(("-u", uid) if uid else ()), *args)
        created: str = result.one_json()["sop_instance_uid"]
        return created

    def claim(self, uid: str, tuid: str) -> None:
        self.ok("change-state", "-u", uid, "-P", tuid)


@pytest.fixture
def ups(capsys: pytest.CaptureFixture[str], peer: Peer) -> UPS:
    return UPS(capsys, peer)


def assert_failed(result: Result, status: str, words: str) -> None:
    """Exit 5, the status in hex and words on stdout, one line on stderr."""
    assert result.code == 5, (result.out, result.err)
    assert f"{status}H {words} (failure)" in result.out, result.out
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("aioups: ") and f"failed: {status}H {words}" in lines[0]


def assert_one_line(result: Result, command: str, code: int = 2, *needles: str) -> None:
    """A usage (or other non-DIMSE) error: one line on stderr naming the command, no output."""
    assert result.code == code, (result.out, result.err)
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(f"aioups {command}: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]


def assert_argparse_error(result: Result, command: str, *needles: str) -> None:
    """argparse's usage message: exit 2, ``usage:`` then one ``error:`` line."""
    assert result.code == 2, (result.out, result.err)
    assert result.out == ""
    lines = result.err.strip().splitlines()
    prog = f"aioups {command}".rstrip()
    assert lines[0].startswith(f"usage: {prog} "), lines[0]
    assert lines[-1].startswith(f"{prog}: error: "), lines[-1]
    for needle in needles:
        assert needle in lines[-1], lines[-1]


def first_item(data_set: Dataset, keyword: str) -> Dataset:
    item: Dataset = data_set[keyword].value[0]
    return item


# --- data set files ------------------------------------------------------------------------------


def workitem(label: str = "from a file") -> Dataset:
    """A valid N-CREATE data set with a nested code sequence and a person name."""
    ds = create_request(ProcedureStepLabel=label, PatientName="Doe^Jane", PatientID="P-1")
    ds.ScheduledWorkitemCodeSequence = [code("W1", "99AIOUPS", "Work one")]
    return ds


def _xml_attributes(ds: Dataset, indent: str) -> list[str]:
    """PS3.19 Native DICOM Model, written here independently of aioups's reader."""
    lines = []
    for element in ds:
        head = (f'{indent}<DicomAttribute tag="{element.tag:08X}" vr="{element.VR}" '
                f'keyword="{element.keyword}"')
        if element.VR == "SQ":
            lines.append(head + ">")
            for number, item in enumerate(element.value, start=1):
                lines.append(f'{indent}  <Item number="{number}">')
                lines.extend(_xml_attributes(item, indent + "    "))
                lines.append(f"{indent}  </Item>")
            lines.append(f"{indent}</DicomAttribute>")
        elif element.value in (None, ""):
            lines.append(head + "/>")
        elif element.VR == "PN":
            family, _, given = str(element.value).partition("^")
            lines += [head + ">", f'{indent}  <PersonName number="1"><Alphabetic>'
                      f"<FamilyName>{family}</FamilyName><GivenName>{given}</GivenName>"
                      "</Alphabetic></PersonName>", f"{indent}</DicomAttribute>"]
        else:
            lines += [head + ">", f'{indent}  <Value number="1">{element.value}</Value>',
                      f"{indent}</DicomAttribute>"]
    return lines


def write_xml(path: Path, ds: Dataset) -> Path:
    path.write_text("\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM">',
        *_xml_attributes(ds, "  "), "</NativeDicomModel>", ""]), encoding="utf-8")
    return path


def write_json(path: Path, ds: Dataset) -> Path:
    path.write_text(json.dumps(ds.to_json_dict()), encoding="utf-8")
    return path


def write_part10(path: Path, ds: Dataset) -> Path:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = pydicom.uid.UID(aioups.UPS_PUSH)
    meta.MediaStorageSOPInstanceUID = pydicom.uid.UID(new_uid())
    meta.TransferSyntaxUID = pydicom.uid.UID(EXPLICIT)
    ds = ds.copy()
    ds.file_meta = meta
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


WRITERS: dict[str, Callable[[Path, Dataset], Path]] = {
    "xml": write_xml, "json": write_json, "part10": write_part10}
SUFFIXES = {"xml": ".xml", "json": ".json", "part10": ".dcm"}


def performed_json(tmp_path: Path) -> Path:
    """An N-SET data set meeting the COMPLETED requirements (UPS-48), as DICOM JSON."""
    item = Dataset()
    item.PerformedStationNameCodeSequence = [code("STATION")]
    item.PerformedProcedureStepStartDateTime = "20240506080000"
    item.PerformedWorkitemCodeSequence = [code("WORK")]
    item.PerformedProcedureStepEndDateTime = "20240506083000"
    item.OutputInformationSequence = []
    ds = Dataset()
    ds.UnifiedProcedureStepPerformedProcedureSequence = [item]
    return write_json(tmp_path / "performed.json", ds)


# === create ======================================================================================


def test_create_default_template(ups: UPS) -> None:
    before = time.strftime("%Y%m%d")
    result = ups.ok("create")
    match = re.fullmatch(r"N-CREATE (\S+): 0000H SUCCESS \(success\)\n", result.out)
    assert match is not None, result.out
    seen = ups.peer.last("N-CREATE")
    assert (seen.context, seen.sop_class, seen.instance) == (aioups.UPS_PUSH, aioups.UPS_PUSH,
                                                             None)  # the SCP assigns the UID
    sent = seen.data_set
    assert sent is not None
    assert sent.ProcedureStepState == "SCHEDULED"
    assert sent.ProcedureStepLabel == "aioups workitem"
    assert sent.InputReadinessState == "READY"
    assert sent.ScheduledProcedureStepPriority == "MEDIUM"
    assert "TransactionUID" in sent and not sent.TransactionUID  # present, empty (UPS-30)
    assert str(sent.ScheduledProcedureStepStartDateTime) >= before  # not the template's 2000
    assert first_item(sent, "ScheduledWorkitemCodeSequence").CodeValue == "110001"
    assert ups.peer.state(match.group(1)) == "SCHEDULED"


def test_create_with_uid_json(ups: UPS) -> None:
    uid = new_uid()
    result = ups.ok("create", "-u", uid, "--json")
    out = result.one_json()
    assert out["operation"] == "N-CREATE"
    assert (out["status"], out["sop_instance_uid"]) == ("0000", uid)
    assert out["status_text"] == "0000H SUCCESS (success)"
    assert ups.peer.last("N-CREATE").instance == uid


@pytest.mark.parametrize(("kind", "option"), [("xml", "positional"), ("json", "-f"),
                                            ("part10", "positional"), ("xml", "-f")])
def test_create_from_file(kind: str, option: str, ups: UPS, tmp_path: Path) -> None:
    path = WRITERS[kind](tmp_path / f"workitem{SUFFIXES[kind]}", workitem(f"{kind} file"))
    uid = new_uid()
    file_args = (str(path),) if option == "positional" else ("-f", str(path))
    ups.ok("create", "-u", uid, *file_args, "-s", "PatientID=from-s")
    sent = ups.peer.last("N-CREATE").data_set
    assert sent is not None
    assert sent.ProcedureStepLabel == f"{kind} file"
    assert str(sent.PatientName) == "Doe^Jane"
    assert sent.PatientID == "from-s"  # -s goes on top of the file
    item = first_item(sent, "ScheduledWorkitemCodeSequence")
    assert (item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning) == (
        "W1", "99AIOUPS", "Work one")
    got = ups.ok("get", "-u", uid, "--json").one_json()["data_set"]
    assert got["00741204"]["Value"] == [f"{kind} file"]


def test_create_set_keys_nested_indexed_and_hex(ups: UPS) -> None:
    uid = ups.create(None,
                     "-s", "PatientName=Doe^John", "-s", "00100020=PID-7",
                     "-s", "(0010,0040)=F", "-s", "0010,0030=19700101",
                     "-s", "ScheduledStationNameCodeSequence[1].CodeValue=ST2",
                     "-s", "ScheduledStationNameCodeSequence[1].CodingSchemeDesignator=99X",
                     "-s", "00404025[0].00080100=ST1",
                     "-s", "ScheduledProcedureStepPriority=HIGH")
    sent = ups.peer.last("N-CREATE").data_set
    assert sent is not None
    assert (str(sent.PatientName), sent.PatientID, sent.PatientSex, sent.PatientBirthDate) == (
        "Doe^John", "PID-7", "F", "19700101")
    assert sent.ScheduledProcedureStepPriority == "HIGH"
    stations = sent.ScheduledStationNameCodeSequence
    assert [s.get("CodeValue") for s in stations] == ["ST1", "ST2"]  # [i] counts from 0
    assert stations[1].CodingSchemeDesignator == "99X"
    got = ups.ok("get", "-u", uid, "-r", "ScheduledStationNameCodeSequence", "--json")
    items = got.one_json()["data_set"]["00404025"]["Value"]
    assert [i["00080100"]["Value"][0] for i in items] == ["ST1", "ST2"]


def test_create_set_nested_key_over_the_template_keeps_the_item(ups: UPS, tmp_path: Path) -> None:
    ups.create(None, "-s", "ScheduledWorkitemCodeSequence.CodeMeaning=Changed meaning")
    sent = ups.peer.last("N-CREATE").data_set
    assert sent is not None
    work = first_item(sent, "ScheduledWorkitemCodeSequence")
    assert (work.get("CodeValue"), work.get("CodingSchemeDesignator"), work.CodeMeaning) == (
        "110001", "DCM", "Changed meaning")  # as upsscu: -s sets Attr in the first item


def test_create_duplicate_uid_fails(ups: UPS) -> None:
    uid = ups.create(new_uid())
    assert_failed(ups("create", "-u", uid), "0111", "DUPLICATE_SOP_INSTANCE")
    result = ups("create", "-u", uid, "--json")
    assert result.code == 5
    assert result.one_json()["status"] == "0111"


def test_create_not_scheduled_fails(ups: UPS) -> None:
    assert_failed(ups("create", "-s", "ProcedureStepState=IN PROGRESS"), "C309",
                  "UPS_NOT_SCHEDULED")


# === update ======================================================================================


def test_update_scheduled(ups: UPS) -> None:
    uid = ups.create()
    result = ups.ok("update", "-u", uid, "-s", "ProcedureStepLabel=relabelled",
                    "-s", "ScheduledStationNameCodeSequence.CodeValue=S9")
    assert re.fullmatch(rf"N-SET( {re.escape(uid)})?: 0000H SUCCESS \(success\)\n", result.out)
    seen = ups.peer.last("N-SET")
    assert (seen.context, seen.sop_class, seen.instance) == (aioups.UPS_PULL, aioups.UPS_PUSH,
                                                             uid)
    assert seen.data_set is not None and seen.data_set.ProcedureStepLabel == "relabelled"
    assert "TransactionUID" not in seen.data_set
    got = ups.ok("get", "-u", uid, "-r", "ProcedureStepLabel", "--json").one_json()
    assert got["data_set"]["00741204"]["Value"] == ["relabelled"]


def test_update_in_progress_needs_the_transaction_uid(ups: UPS, tmp_path: Path) -> None:
    uid, tuid = ups.create(), new_uid()
    ups.claim(uid, tuid)
    progress = "ProcedureStepProgressInformationSequence.ProcedureStepProgress=50"
    assert_failed(ups("update", "-u", uid, "-s", progress), "C301",
                  "UPS_TRANSACTION_UID_NOT_CORRECT")
    assert_failed(ups("update", "-u", uid, "--tuid", new_uid(), "-s", progress), "C301",
                  "UPS_TRANSACTION_UID_NOT_CORRECT")
    out = ups.ok("update", "-u", uid, "--tuid", tuid, "-s", progress, "--json").one_json()
    assert out["operation"] == "N-SET" and out["status"] == "0000"
    sent = ups.peer.last("N-SET").data_set
    assert sent is not None and sent.TransactionUID == tuid
    assert first_item(sent, "ProcedureStepProgressInformationSequence").ProcedureStepProgress \
        == 50
    ups.ok("update", "-u", uid, "--tuid", tuid, str(performed_json(tmp_path)))
    sent = ups.peer.last("N-SET").data_set
    assert sent is not None and "UnifiedProcedureStepPerformedProcedureSequence" in sent


def test_update_unknown_workitem(ups: UPS) -> None:
    assert_failed(ups("update", "-u", new_uid(), "-s", "ProcedureStepLabel=x"), "C307",
                  "UPS_DOES_NOT_EXIST")


# === get =========================================================================================


def test_get_context(ups: UPS) -> None:
    uid = ups.create(None, "-s", "PatientName=Doe^John")
    for flag, context in ((None, aioups.UPS_PUSH), ("-p", aioups.UPS_PULL),
                          ("-w", aioups.UPS_WATCH), ("--pull", aioups.UPS_PULL),
                          ("--watch", aioups.UPS_WATCH)):
        result = ups.ok("get", "-u", uid, *((flag,) if flag else ()))
        assert "Doe^John" in result.out
        seen = ups.peer.last("N-GET")
        assert (seen.context, seen.sop_class, seen.instance) == (context, aioups.UPS_PUSH, uid)


def test_get_return_keys_readable(ups: UPS) -> None:
    uid = ups.create(None, "-s", "PatientName=Doe^John")
    result = ups.ok("get", "-u", uid, "-r", "PatientName", "-r", "00741000",
                    "-r", "(0040,4018)")
    assert set(ups.peer.last("N-GET").attributes) == {0x00100010, 0x00741000, 0x00404018}
    lines = result.out.splitlines()
    assert lines[0] == f"N-GET {uid}: 0000H SUCCESS (success)" or \
        lines[0] == "N-GET: 0000H SUCCESS (success)", lines[0]
    assert re.fullmatch(r"\(0010,0010\) PN PatientName +Doe\^John", lines[1]), lines
    assert re.search(r"^\(0074,1000\) CS ProcedureStepState +SCHEDULED$", result.out, re.M)
    assert re.search(r"^\(0040,4018\) SQ ScheduledWorkitemCodeSequence +1 item$", result.out,
                     re.M)
    assert re.search(r"^ {4}\(0008,0100\) SH CodeValue +110001$", result.out, re.M)
    assert "ProcedureStepLabel" not in result.out


def test_get_everything_json(ups: UPS) -> None:
    uid = ups.create(None, "-s", "PatientID=PID-J")
    out = ups.ok("get", "-u", uid, "--json").one_json()
    assert ups.peer.last("N-GET").attributes == ()  # no list: every attribute
    assert out["operation"] == "N-GET" and out["status"] == "0000"
    data_set = out["data_set"]
    assert data_set["00100020"] == {"vr": "LO", "Value": ["PID-J"]}
    assert data_set["00741000"]["Value"] == ["SCHEDULED"]
    assert data_set["00080018"]["Value"] == [uid]
    assert "00081195" not in data_set  # never the Transaction UID
    assert list(data_set) == sorted(data_set)  # tag order


@aioups_only
def test_get_return_key_outside_the_dictionary(ups: UPS) -> None:
    uid = ups.create()
    result = ups("get", "-u", uid, "-r", "00091010", "-r", "PatientName")
    assert result.code == 0, result.err
    assert set(ups.peer.last("N-GET").attributes) == {0x00091010, 0x00100010}


@pytest.mark.parametrize("key", ["PatientName=Doe", "ScheduledWorkitemCodeSequence.CodeValue"])
def test_get_return_key_with_value_or_nesting_is_refused(
        key: str, capsys: pytest.CaptureFixture[str]) -> None:
    with aioups_scp() as scp:
        result = run(capsys, "get", "-c", scp.address(), "-u", new_uid(), "-r", key)
        assert_one_line(result, "get", 2, key)
        assert scp.seen() == []


def test_get_unknown_workitem(ups: UPS) -> None:
    assert_failed(ups("get", "-u", new_uid()), "C307", "UPS_DOES_NOT_EXIST")
    result = ups("get", "-u", new_uid(), "--json")
    assert result.code == 5
    out = result.one_json()
    assert out["status"] == "C307"
    assert "data_set" not in out


# === change-state ================================================================================


def test_change_state_claim_generates_transaction_uid(ups: UPS) -> None:
    uid = ups.create()
    result = ups.ok("change-state", "-u", uid, "-P")
    assert re.match(r"N-ACTION change state to IN PROGRESS( \S+)?: 0000H SUCCESS \(success\)\n",
                    result.out), result.out
    match = re.search(r"^ {2}transaction uid: ([0-9.]+)$", result.out, re.M)
    assert match is not None, result.out
    seen = ups.peer.last("N-ACTION")
    assert (seen.context, seen.sop_class, seen.instance, seen.type_id) == (
        aioups.UPS_PULL, aioups.UPS_PUSH, uid, CHANGE_STATE)
    assert seen.data_set is not None
    assert seen.data_set.ProcedureStepState == "IN PROGRESS"
    assert seen.data_set.TransactionUID == match.group(1)  # the printed one was sent
    assert ups.peer.state(uid) == "IN PROGRESS"
    # the printed UID is the lock: it completes the workitem (after an N-SET with it)
    assert_failed(ups("change-state", "-u", uid, "-C", new_uid()), "C301",
                  "UPS_TRANSACTION_UID_NOT_CORRECT")


def test_change_state_json_claim_then_complete(ups: UPS, tmp_path: Path) -> None:
    uid = ups.create()
    out = ups.ok("change-state", "-u", uid, "-P", "--json").one_json()
    assert out["status"] == "0000"
    tuid = out["transaction_uid"]
    assert ups.peer.last("N-ACTION").data_set.TransactionUID == tuid  # type: ignore[union-attr]
    ups.ok("update", "-u", uid, "--tuid", tuid, str(performed_json(tmp_path)))
    out = ups.ok("change-state", "-u", uid, "-C", tuid, "--json").one_json()
    assert (out["operation"], out["status"], out["transaction_uid"]) == (
        "N-ACTION change state to COMPLETED", "0000", tuid)
    assert ups.peer.state(uid) == "COMPLETED"
    assert_failed(ups("update", "-u", uid, "--tuid", tuid, "-s", "ProcedureStepLabel=late"),
                  "C300", "UPS_MAY_NO_LONGER_BE_UPDATED")


def test_change_state_given_uid_and_cancel(ups: UPS) -> None:
    uid, tuid = ups.create(), new_uid()
    ups.ok("change-state", "-u", uid, "-P", tuid)
    assert ups.peer.last("N-ACTION").data_set.TransactionUID == tuid  # type: ignore[union-attr]
    assert_failed(ups("change-state", "-u", uid, "-P", tuid), "C302", "UPS_ALREADY_IN_PROGRESS")
    assert_failed(ups("change-state", "-u", uid, "-D", new_uid()), "C301",
                  "UPS_TRANSACTION_UID_NOT_CORRECT")
    result = ups.ok("change-state", "-u", uid, "-D", tuid)
    assert f"  transaction uid: {tuid}\n" in result.out
    seen = ups.peer.last("N-ACTION")
    assert seen.data_set is not None
    assert (seen.data_set.ProcedureStepState, seen.data_set.TransactionUID) == ("CANCELED", tuid)
    assert ups.peer.state(uid) == "CANCELED"


def test_change_state_dcmups_spelling(ups: UPS, tmp_path: Path) -> None:
    uid, tuid = ups.create(), new_uid()
    ups.ok("change-state", "-u", uid, "--state", "in progress", "--tuid", tuid)
    seen = ups.peer.last("N-ACTION")
    assert seen.data_set is not None
    assert (seen.data_set.ProcedureStepState, seen.data_set.TransactionUID) == (
        "IN PROGRESS", tuid)
    ups.ok("update", "-u", uid, "--tuid", tuid, str(performed_json(tmp_path)))
    ups.ok("change-state", "-u", uid, "--state", "COMPLETED", "--tuid", tuid)
    assert ups.peer.state(uid) == "COMPLETED"
    other = ups.create()
    out = ups.ok("change-state", "-u", other, "--state", "IN PROGRESS", "--json").one_json()
    assert ups.peer.last("N-ACTION").data_set.TransactionUID == out["transaction_uid"]  # type: ignore[union-attr]


def test_change_state_unknown_workitem(ups: UPS) -> None:
    assert_failed(ups("change-state", "-u", new_uid(), "-P"), "C307", "UPS_DOES_NOT_EXIST")


# === request-cancel ==============================================================================


@pytest.mark.parametrize(("flag", "context"), [(None, aioups.UPS_PUSH), ("-w", aioups.UPS_WATCH)])
def test_request_cancel_with_everything(flag: str | None, context: str, ups: UPS) -> None:
    uid, tuid = ups.create(), new_uid()
    ups.claim(uid, tuid)
    ups.ok("subscribe", "-b", RX_AE, "-u", uid)  # the performer, to be told
    result = ups.ok("request-cancel", "-u", uid, "--reason", "patient left",
                    "--reason-code", '(110513, DCM, "Discontinued, really")',
                    "--contact", "Dr. Who", "--contact-uri", "mailto:who@example.org",
                    *((flag,) if flag else ()))
    assert re.match(r"N-ACTION request cancel( \S+)?: 0000H SUCCESS \(success\)\n", result.out)
    seen = ups.peer.last("N-ACTION")
    assert (seen.context, seen.sop_class, seen.instance, seen.type_id) == (
        context, aioups.UPS_PUSH, uid, REQUEST_CANCEL)
    sent = seen.data_set
    assert sent is not None
    assert sent.ReasonForCancellation == "patient left"
    reason = first_item(sent, "ProcedureStepDiscontinuationReasonCodeSequence")
    assert (reason.CodeValue, reason.CodingSchemeDesignator, reason.CodeMeaning) == (
        "110513", "DCM", "Discontinued, really")
    assert (sent.ContactDisplayName, sent.ContactURI) == ("Dr. Who", "mailto:who@example.org")
    assert ups.peer.state(uid) == "IN PROGRESS"  # the performer decides


def test_request_cancel_json_and_failures(ups: UPS, tmp_path: Path) -> None:
    uid = ups.create()
    out = ups.ok("request-cancel", "-u", uid, "--json").one_json()
    assert (out["operation"], out["status"]) == ("N-ACTION request cancel", "0000")
    assert_failed(ups("request-cancel", "-u", new_uid()), "C307", "UPS_DOES_NOT_EXIST")
    done, tuid = ups.create(), new_uid()
    ups.claim(done, tuid)
    ups.ok("update", "-u", done, "--tuid", tuid, str(performed_json(tmp_path)))
    ups.ok("change-state", "-u", done, "-C", tuid)
    assert_failed(ups("request-cancel", "-u", done, "--reason", "too late"), "C311",
                  "UPS_ALREADY_COMPLETED_CANNOT_CANCEL")


@aioups_only
def test_request_cancel_without_a_performer_to_tell(ups: UPS) -> None:
    uid = ups.create()
    ups.claim(uid, new_uid())  # nobody subscribed: the aioups SCP cannot tell the performer
    assert_failed(ups("request-cancel", "-u", uid), "C312", "UPS_PERFORMER_CANNOT_BE_CONTACTED")


# === subscribe, unsubscribe, suspend-global ======================================================


def test_subscribe_global_as_calling_ae(ups: UPS) -> None:
    result = ups.ok("subscribe", "-b", RX_AE)
    assert re.match(r"N-ACTION subscribe( \S+)?: 0000H SUCCESS \(success\)\n", result.out)
    seen = ups.peer.last("N-ACTION")
    assert (seen.context, seen.sop_class, seen.instance, seen.type_id) == (
        aioups.UPS_WATCH, aioups.UPS_PUSH, GLOBAL, SUBSCRIBE)
    assert seen.data_set is not None
    assert (seen.data_set.ReceivingAE, seen.data_set.DeletionLock) == (RX_AE, "FALSE")


def test_subscribe_one_workitem_with_lock_json(ups: UPS) -> None:
    uid = ups.create()
    out = ups.ok("subscribe", "-u", uid, "--receiving-ae", WATCHER_AE, "-l",
                 "--json").one_json()
    assert (out["operation"], out["status"]) == ("N-ACTION subscribe", "0000")
    seen = ups.peer.last("N-ACTION")
    assert (seen.instance, seen.type_id) == (uid, SUBSCRIBE)
    assert seen.data_set is not None
    assert (seen.data_set.ReceivingAE, seen.data_set.DeletionLock) == (WATCHER_AE, "TRUE")


def test_subscribe_filtered_global(ups: UPS) -> None:
    ups.ok("subscribe", "-b", RX_AE, "--filtered-global",
           "-m", "ScheduledProcedureStepPriority=HIGH",
           "-m", "ScheduledWorkitemCodeSequence.CodeValue=110001")
    seen = ups.peer.last("N-ACTION")
    assert (seen.instance, seen.type_id) == (FILTERED, SUBSCRIBE)
    sent = seen.data_set
    assert sent is not None
    assert (sent.ReceivingAE, sent.DeletionLock) == (RX_AE, "FALSE")
    assert sent.ScheduledProcedureStepPriority == "HIGH"
    assert first_item(sent, "ScheduledWorkitemCodeSequence").CodeValue == "110001"


def test_subscribe_unknown_workitem(ups: UPS) -> None:
    assert_failed(ups("subscribe", "-b", RX_AE, "-u", new_uid()), "C307", "UPS_DOES_NOT_EXIST")


@aioups_only
def test_subscribe_unknown_receiving_ae(ups: UPS) -> None:
    # the default Receiving AE is the calling AE title (AIOUPS), unknown to the directory
    assert_failed(ups("subscribe"), "C308", "UPS_RECEIVING_AE_UNKNOWN")
    assert_failed(ups("subscribe", "-b", RX_AE, "--receiving-ae", "NOBODY"), "C308",
                  "UPS_RECEIVING_AE_UNKNOWN")
    assert ups.peer.last("N-ACTION").data_set.ReceivingAE == "NOBODY"  # type: ignore[union-attr]


def test_unsubscribe(ups: UPS) -> None:
    uid = ups.create()
    ups.ok("subscribe", "-b", RX_AE, "-u", uid)
    result = ups.ok("unsubscribe", "-b", RX_AE, "-u", uid)
    assert re.match(r"N-ACTION unsubscribe( \S+)?: 0000H SUCCESS \(success\)\n", result.out)
    seen = ups.peer.last("N-ACTION")
    assert (seen.context, seen.instance, seen.type_id) == (aioups.UPS_WATCH, uid, UNSUBSCRIBE)
    assert seen.data_set is not None and seen.data_set.ReceivingAE == RX_AE
    ups.ok("subscribe", "--receiving-ae", WATCHER_AE)
    out = ups.ok("unsubscribe", "--receiving-ae", WATCHER_AE, "--json").one_json()
    assert (out["operation"], out["status"]) == ("N-ACTION unsubscribe", "0000")
    seen = ups.peer.last("N-ACTION")
    assert (seen.instance, seen.type_id) == (GLOBAL, UNSUBSCRIBE)
    assert seen.data_set is not None and seen.data_set.ReceivingAE == WATCHER_AE


def test_suspend_global(ups: UPS) -> None:
    ups.ok("subscribe", "-b", RX_AE)
    result = ups.ok("suspend-global", "-b", RX_AE)
    assert re.match(r"N-ACTION suspend global( \S+)?: 0000H SUCCESS \(success\)\n", result.out)
    seen = ups.peer.last("N-ACTION")
    assert (seen.context, seen.sop_class, seen.instance, seen.type_id) == (
        aioups.UPS_WATCH, aioups.UPS_PUSH, GLOBAL, SUSPEND)
    assert seen.data_set is not None and seen.data_set.ReceivingAE == RX_AE
    out = ups.ok("suspend-global", "--receiving-ae", WATCHER_AE, "--json").one_json()
    assert (out["operation"], out["status"]) == ("N-ACTION suspend global", "0000")
    assert ups.peer.last("N-ACTION").data_set.ReceivingAE == WATCHER_AE  # type: ignore[union-attr]


def test_suspend_global_takes_no_uid(ups: UPS) -> None:
    result = ups("suspend-global", "-u", new_uid())
    assert_argparse_error(result, "", "unrecognized arguments: -u")  # the main parser's
    assert ups.peer.seen() == []


# === find ========================================================================================


@pytest.fixture
def worklist(ups: UPS) -> dict[str, str]:
    """Three workitems: label -> UID; ``claimed`` is IN PROGRESS and HIGH."""
    uids = {label: ups.create(None, "-s", f"ProcedureStepLabel={label}",
                              "-s", f"PatientName={label}^Patient")
            for label in ("first", "second")}
    uids["claimed"] = ups.create(None, "-s", "ProcedureStepLabel=claimed",
                                 "-s", "ScheduledProcedureStepPriority=HIGH")
    ups.claim(uids["claimed"], new_uid())
    return uids


def _matches(result: Result) -> list[str]:
    return re.findall(r"^\(0008,0018\) UI SOPInstanceUID +(\S+)$", result.out, re.M)


def test_find_default_return_keys(ups: UPS, worklist: dict[str, str]) -> None:
    result = ups.ok("find")
    seen = ups.peer.last("C-FIND")
    assert (seen.context, seen.sop_class) == (aioups.UPS_QUERY, aioups.UPS_QUERY)
    identifier = seen.data_set
    assert identifier is not None
    for keyword in ("SOPInstanceUID", "ProcedureStepState", "InputReadinessState",
                    "ScheduledProcedureStepPriority", "ProcedureStepLabel", "WorklistLabel",
                    "ScheduledProcedureStepStartDateTime", "ExpectedCompletionDateTime",
                    "ScheduledWorkitemCodeSequence", "ScheduledStationNameCodeSequence",
                    "PatientName", "PatientID", "PatientBirthDate", "PatientSex"):
        assert keyword in identifier, keyword
        assert identifier[keyword].is_empty, keyword  # all return keys, no matching
    assert sorted(_matches(result)) == sorted(worklist.values())
    assert re.findall(r"^match (\d+):$", result.out, re.M) == ["1", "2", "3"]
    assert result.out.endswith("C-FIND: 3 match(es), 0000H SUCCESS (success)\n")
    assert re.search(r"^\(0074,1204\) LO ProcedureStepLabel +second$", result.out, re.M)


def test_find_state_json(ups: UPS, worklist: dict[str, str]) -> None:
    result = ups.ok("find", "--state", "in progress", "--json")
    assert ups.peer.last("C-FIND").data_set.ProcedureStepState == "IN PROGRESS"  # type: ignore[union-attr]
    matches = result.json()
    assert len(matches) == 1  # one JSON object per match, nothing else
    assert matches[0]["00080018"]["Value"] == [worklist["claimed"]]
    assert matches[0]["00741000"]["Value"] == ["IN PROGRESS"]


def test_find_query_keys_and_return_keys(ups: UPS, worklist: dict[str, str]) -> None:
    result = ups.ok("find", "-q", f"SOPInstanceUID={worklist['second']}", "-r", "PatientName",
                    "-r", "ScheduledWorkitemCodeSequence.CodeValue", "--json")
    identifier = ups.peer.last("C-FIND").data_set
    assert identifier is not None
    assert sorted(e.keyword for e in identifier) == [
        "PatientName", "SOPInstanceUID", "ScheduledWorkitemCodeSequence"]
    assert identifier.SOPInstanceUID == worklist["second"]
    assert first_item(identifier, "ScheduledWorkitemCodeSequence")["CodeValue"].is_empty
    [match] = result.json()
    assert match["00080018"]["Value"] == [worklist["second"]]
    assert match["00100010"]["Value"] == [{"Alphabetic": "second^Patient"}]


def test_find_context(ups: UPS, worklist: dict[str, str]) -> None:
    for flag, context in ((None, aioups.UPS_QUERY), ("--query", aioups.UPS_QUERY),
                          ("-p", aioups.UPS_PULL), ("--pull", aioups.UPS_PULL),
                          ("-w", aioups.UPS_WATCH), ("--watch", aioups.UPS_WATCH)):
        result = ups.ok("find", "--state", "SCHEDULED", *((flag,) if flag else ()))
        seen = ups.peer.last("C-FIND")
        assert (seen.context, seen.sop_class) == (context, context)  # C-FIND names its context
        assert sorted(_matches(result)) == sorted([worklist["first"], worklist["second"]])


@aioups_only
def test_find_priority_and_any_key_aioups(ups: UPS, worklist: dict[str, str]) -> None:
    result = ups.ok("find", "--priority", "high", "--find-priority", "HIGH")
    seen = ups.peer.last("C-FIND")
    assert seen.priority == aioups.Priority.HIGH  # the request's priority
    assert seen.data_set is not None and seen.data_set.ScheduledProcedureStepPriority == "HIGH"
    assert _matches(result) == [worklist["claimed"]]
    ups.ok("find", "--findprior", "low")
    assert ups.peer.last("C-FIND").priority == aioups.Priority.LOW
    ups.ok("find", "--findprior", "NORMAL")  # dcmups's name for MEDIUM
    assert ups.peer.last("C-FIND").priority == aioups.Priority.MEDIUM
    ups.ok("find")
    assert ups.peer.last("C-FIND").priority == aioups.Priority.MEDIUM
    result = ups.ok("find", "-q", "ProcedureStepLabel=s*", "-q", "PatientName=second^*")
    assert _matches(result) == [worklist["second"]]
    result = ups.ok("find", "-q", "ProcedureStepLabel=nothing like it")
    assert result.out == "C-FIND: 0 match(es), 0000H SUCCESS (success)\n"
    # dcmups nests with "/", and tags work as well as keywords
    result = ups.ok("find", "-q", "ScheduledWorkitemCodeSequence/CodeValue=110001",
                    "-q", "00741200=HIGH")
    assert _matches(result) == [worklist["claimed"]]


@aioups_only
def test_find_failure_status(ups: UPS) -> None:
    bad = ("-q", "ScheduledProcedureStepStartDateTime=garbage")
    result = ups("find", *bad)
    assert_failed(result, "C000", "UNABLE_TO_PROCESS")
    assert "error comment: invalid DT 'garbage'" in result.out
    result = ups("find", *bad, "--json")
    assert result.code == 5
    out = result.one_json()
    assert (out["operation"], out["status"]) == ("C-FIND", "C000")
    assert "garbage" in out["error_comment"]


@aioups_only
def test_warning_statuses_exit_0(ups: UPS, tmp_path: Path) -> None:
    uid, tuid = ups.create(), new_uid()
    ups.claim(uid, tuid)
    ups.ok("update", "-u", uid, "--tuid", tuid, str(performed_json(tmp_path)))
    ups.ok("change-state", "-u", uid, "-C", tuid)
    result = ups.ok("change-state", "-u", uid, "-C", tuid)  # ok(): exit 0, stderr empty
    assert "B306H UPS_ALREADY_COMPLETED (warning)" in result.out
    canceled = ups.create()
    ups.ok("request-cancel", "-u", canceled)  # SCHEDULED: the SCP cancels it at once
    assert ups.peer.state(canceled) == "CANCELED"
    out = ups.ok("request-cancel", "-u", canceled, "--json").one_json()
    assert (out["status"], out["status_text"]) == ("B304", "B304H UPS_ALREADY_CANCELED (warning)")


# === receive =====================================================================================


def _env() -> dict[str, str]:
    """The subprocess imports this checkout's aioups, whatever its working directory."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{path}" if path else str(REPO)}


@contextmanager
def receiving(*args: str, backend: str = "asyncio") -> Iterator[subprocess.Popen[str]]:
    """``python -m aioups --backend B receive ARGS``, once it says it is listening; killed (by
    PID) if it is still running at the end."""
    proc = subprocess.Popen([sys.executable, "-m", "aioups", "--backend", backend, "receive",
                             *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, env=_env())
    try:
        assert proc.stderr is not None
        with ThreadPoolExecutor(1) as pool:  # readline() with a deadline
            line = pool.submit(proc.stderr.readline)
            try:
                first = line.result(timeout=WAIT)
            finally:
                if not line.done():
                    proc.kill()  # unblocks readline()
        assert re.fullmatch(r"RX receiving on 127\.0\.0\.1:\d+\n", first), repr(first)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stdout is not None and not proc.stdout.closed:
            proc.communicate(timeout=WAIT)


def finish(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Wait (bounded) for ``receive --count N`` to stop by itself: its stdout and stderr."""
    try:
        out, err = proc.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=WAIT)
        pytest.fail(f"receive did not stop by itself:\n{out}\n{err}")
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    return out, err


def event_summary(line: dict[str, Any]) -> tuple[str, str | None]:
    data_set = line["data_set"]
    state = data_set.get("00741000", {}).get("Value", [None])[0]
    return line["event_type"], state


@pytest.mark.parametrize("backend", BACKENDS)
def test_receive_json_prints_every_event_of_a_workflow(
        backend: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rx_port = free_port()
    with aioups_scp(OTHER_BACKEND[backend], rx_port=rx_port) as scp, \
            receiving("-b", f"{RX_AE}@{HOST}:{rx_port}", "--json", "--count", "4",
                      backend=backend) as proc:
        scp.backend = backend
        ups = UPS(capsys, scp)
        ups.ok("subscribe", "-b", RX_AE)
        uid, tuid = new_uid(), new_uid()
        ups.create(uid)
        ups.claim(uid, tuid)
        ups.ok("update", "-u", uid, "--tuid", tuid,
               "-s", "ProcedureStepProgressInformationSequence.ProcedureStepProgress=50")
        ups.ok("update", "-u", uid, "--tuid", tuid, str(performed_json(tmp_path)))  # no event
        ups.ok("change-state", "-u", uid, "-C", tuid)
        out, _ = finish(proc)
    lines = [json.loads(line) for line in out.splitlines()]  # one JSON object per line
    assert [event_summary(line) for line in lines] == [
        ("UPS State Report", "SCHEDULED"), ("UPS State Report", "IN PROGRESS"),
        ("UPS Progress Report", None), ("UPS State Report", "COMPLETED")], out
    assert [line["event_type_id"] for line in lines] == [1, 1, 3, 1]
    assert {line["sop_instance_uid"] for line in lines} == {uid}
    assert {line["calling_ae_title"] for line in lines} == {SCP_AE}
    progress = lines[2]["data_set"]["00741002"]["Value"][0]
    assert progress["00741004"]["Value"] == [50]  # Procedure Step Progress


def test_receive_answers_with_the_given_status(capsys: pytest.CaptureFixture[str]) -> None:
    rx_port = free_port()
    uid = new_uid()

    async def report() -> aioups.DIMSEResponse:
        proposal = aioups.PresentationContextProposal(abstract_syntax=aioups.UPS_EVENT,
                                                      scu_role=False, scp_role=True)
        with anyio.fail_after(WAIT):
            async with aioups.open_association(HOST, rx_port, called_ae_title=RX_AE,
                                               calling_ae_title="SENDER",
                                               contexts=(proposal,)) as assoc:
                information = Dataset()
                information.ProcedureStepState = "SCHEDULED"
                information.InputReadinessState = "READY"
                try:
                    return await aioups.n_event_report(assoc, aioups.UPS_PUSH, uid, 1,
                                                       information,
                                                       abstract_syntax=aioups.UPS_EVENT)
                except DIMSEFailure as failure:
                    return failure.response  # type: ignore[return-value]

    with receiving("-b", f"{RX_AE}@{HOST}:{rx_port}", "--status", "C000", "--count", "1") \
            as proc:
        response = anyio.run(report)
        out, _ = finish(proc)
    assert response.status == 0xC000
    assert out.splitlines()[0] == f"UPS State Report (type 1) SCHEDULED for {uid} from SENDER"
    assert re.search(r"^\(0074,1000\) CS ProcedureStepState +SCHEDULED$", out, re.M), out


def test_receive_subscribes_itself(capsys: pytest.CaptureFixture[str]) -> None:
    rx_port = free_port()
    with aioups_scp("trio", rx_port=rx_port) as scp, \
            receiving("-b", f"{RX_AE}@{HOST}:{rx_port}", "--subscribe", "-l",
                      "-c", scp.address(), "--json", "--count", "2") as proc:
        deadline = time.monotonic() + WAIT
        while not scp.seen("N-ACTION"):  # subscribed once the SCP has seen the N-ACTION
            assert time.monotonic() < deadline, "receive --subscribe did not subscribe"
            time.sleep(0.02)
        ups = UPS(capsys, scp)
        uid = ups.create()
        ups.ok("request-cancel", "-u", uid, "--reason", "not needed")  # SCHEDULED: canceled
        out, _ = finish(proc)
    seen = scp.seen("N-ACTION")[0]
    assert (seen.instance, seen.type_id) == (GLOBAL, SUBSCRIBE)
    assert seen.data_set is not None
    assert (seen.data_set.ReceivingAE, seen.data_set.DeletionLock) == (RX_AE, "TRUE")
    assert seen.negotiated is not None and seen.negotiated.peer_ae_title == RX_AE
    first, *events = [json.loads(line) for line in out.splitlines()]
    assert (first["operation"], first["status"]) == ("N-ACTION subscribe", "0000")
    assert [event_summary(e) for e in events] == [("UPS State Report", "SCHEDULED"),
                                                  ("UPS Cancel Requested", None)], out
    assert {e["sop_instance_uid"] for e in events} == {uid}


# === bad input: one line on stderr, a non-zero exit, never a traceback ===========================


@pytest.fixture
def scp_port() -> Iterator[AioupsPeer]:
    with aioups_scp() as scp:
        yield scp


def test_bad_data_set_input(scp_port: AioupsPeer, capsys: pytest.CaptureFixture[str],
                            tmp_path: Path) -> None:
    bad_xml = tmp_path / "bad.xml"
    bad_xml.write_text('<NativeDicomModel><DicomAttribute tag="00100010" vr="PN">'
                       "</NativeDicomModel>")
    doctype = tmp_path / "doctype.xml"
    doctype.write_text('<?xml version="1.0"?>\n<!DOCTYPE NativeDicomModel [\n'
                       '  <!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
                       '<NativeDicomModel><DicomAttribute keyword="PatientName" vr="PN">'
                       '<Value number="1">&xxe;</Value></DicomAttribute></NativeDicomModel>')
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"00100010": {"vr": "PN", "Value": [\n')
    address = ("-c", scp_port.address())
    cases: list[tuple[tuple[str, ...], str, tuple[str, ...]]] = [
        (("create", "-s", "NoSuchKeyword=1"), "create", ("unknown attribute keyword",
                                                         "NoSuchKeyword")),
        (("create", "-s", "PatientName.CodeValue=1"), "create", ("not a sequence",)),
        (("create", "-s", "ScheduledWorkitemCodeSequence[x].CodeValue=1"), "create",
         ("item index",)),
        (("create", "-s", "00100010x=1"), "create", ("neither",)),
        (("create", "-s", "NumberOfFrames=many"), "create", ("invalid value",)),
        (("create", str(bad_xml)), "create", ("bad.xml", "malformed XML")),
        (("create", str(doctype)), "create", ("DOCTYPE",)),
        (("create", str(bad_json)), "create", ("bad.json", "malformed JSON")),
        (("create", str(tmp_path / "missing.xml")), "create", ("missing.xml", "cannot read")),
        (("update", "-u", new_uid(), "-f", str(tmp_path / "missing.json")), "update",
         ("cannot read",)),
        (("update", "-u", new_uid()), "update", ("nothing to update",)),
        (("get", "-u", new_uid(), "-r", "NoSuchKeyword"), "get", ("NoSuchKeyword",)),
        (("find", "-q", "NoSuchKeyword=1"), "find", ("NoSuchKeyword",)),
        (("find", "-r", "PatientName=Doe"), "find", ("-q",)),
        (("subscribe", "-m", "ScheduledProcedureStepPriority=HIGH"), "subscribe",
         ("--filtered-global",)),
        (("subscribe", "--filtered-global"), "subscribe", ("-m",)),
        (("subscribe", "--filtered-global", "-m", "PatientID=1", "-u", new_uid()), "subscribe",
         ("-u",)),
        (("request-cancel", "-u", new_uid(), "--reason-code", "110513, DCM"), "request-cancel",
         ("--reason-code",)),
        (("request-cancel", "-u", new_uid(), "--reason-code", '(110513, DCM, "")'),
         "request-cancel", ("--reason-code",)),
        (("change-state", "-u", new_uid()), "change-state", ("-P",)),
        (("get", "-u", new_uid(), "--max-ops-invoked", "-1"), "get", ("--max-ops",)),
        (("get", "-u", new_uid(), "--response-timeout", "-5"), "get", ("negative",)),
        (("get", "-u", new_uid(), "--max-pdulen-snd", "-1"), "get", ("negative",)),
        (("get", "-u", new_uid(), "--user-pass", "secret"), "get", ("--user",)),
        (("get", "-u", new_uid(), "-b", "X:port"), "get", ("invalid port",)),
    ]
    for argv, command, needles in cases:
        result = run(capsys, argv[0], *address, *argv[1:])
        assert_one_line(result, command, 2, *needles)
    assert scp_port.seen() == []  # nothing was sent


def test_xml_entities_are_never_expanded(scp_port: AioupsPeer, capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xml = tmp_path / "xxe.xml"
    xml.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY s SYSTEM "{secret.as_uri()}">'
                   '<!ENTITY lol "lol">]>\n<NativeDicomModel>'
                   '<DicomAttribute keyword="PatientName" vr="PN"><Value number="1">&s;&lol;'
                   "</Value></DicomAttribute></NativeDicomModel>")
    result = run(capsys, "create", "-c", scp_port.address(), str(xml))
    assert_one_line(result, "create", 2, "DOCTYPE")
    assert "TOP-SECRET" not in result.err
    undeclared = tmp_path / "undeclared.xml"
    undeclared.write_text('<NativeDicomModel><DicomAttribute keyword="PatientName" vr="PN">'
                          '<Value number="1">&s;</Value></DicomAttribute></NativeDicomModel>')
    assert_one_line(run(capsys, "create", "-c", scp_port.address(), str(undeclared)), "create",
                    2, "malformed XML")
    assert scp_port.seen() == []


@pytest.mark.parametrize(("argv", "command", "needle"), [
    (["update", "-s", "ProcedureStepLabel=x"], "update", "-u/--upsiuid"),
    (["get"], "get", "-u/--upsiuid"),
    (["change-state", "-P"], "change-state", "-u/--upsiuid"),
    (["request-cancel"], "request-cancel", "-u/--upsiuid"),
    (["change-state", "-u", "1.2.3", "-C", "1.2", "-D", "1.2"], "change-state", "not allowed"),
    (["change-state", "-u", "1.2.3", "--state", "SCHEDULED"], "change-state", "invalid choice"),
    (["find", "--find-priority", "URGENT"], "find", "invalid choice"),
    (["find", "--state", "DONE"], "find", "invalid choice"),
    (["get", "-u", "1.2.3", "-p", "-w"], "get", "not allowed"),
    (["find", "-p", "--query"], "find", "not allowed"),
    (["create", "--explicit-vr", "--big-endian"], "create", "not allowed"),
    (["create", "--max-ops-invoked", "many"], "create", "invalid int"),
])
def test_argparse_errors(argv: list[str], command: str, needle: str,
                         capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, argv[0], "-c", f"{SCP_AE}@{HOST}:104", *argv[1:])
    assert_argparse_error(result, command, needle)


def test_connect_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert_argparse_error(run(capsys, "create"), "create", "-c/--connect")


@pytest.mark.parametrize("backend", BACKENDS)
def test_unreachable_exits_3(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:  # bound, not listening: connections are refused
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
        for argv in (["create"], ["get", "-u", "1.2.3"], ["find"], ["subscribe"]):
            result = run(capsys, "--backend", backend, argv[0], "-c", f"{SCP_AE}@{HOST}:{port}",
                         *argv[1:])
            assert_one_line(result, argv[0], 3, "ConnectError")


@pytest.mark.parametrize("backend", BACKENDS)
def test_association_rejected_exits_4(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    with aioups_scp(OTHER_BACKEND[backend], require_called_ae_title=True,
                    allowed_calling_ae_titles=frozenset({"GOOD"})) as scp:
        wrong_called = run(capsys, "--backend", backend, "create", "-b", "GOOD",
                           "-c", scp.address("SOMEONE_ELSE"))
        assert_one_line(wrong_called, "create", 4, "AssociationRejected")
        wrong_calling = run(capsys, "--backend", backend, "get", "-u", "1.2.3", "-b", "BAD",
                            "-c", scp.address())
        assert_one_line(wrong_calling, "get", 4, "AssociationRejected")
        assert scp.seen() == []
        result = run(capsys, "--backend", backend, "create", "-b", "GOOD", "-c", scp.address())
        assert result.code == 0, result.err


def test_association_rejected_by_pynetdicom_exits_4(
        pynetdicom_server: PynetdicomUPSSCP, capsys: pytest.CaptureFixture[str]) -> None:
    assert pynetdicom_server.server is not None
    ae = pynetdicom_server.server.ae
    ae.require_called_aet = True
    try:
        result = run(capsys, "find", "-c", f"SOMEONE_ELSE@{HOST}:{pynetdicom_server.port}")
    finally:
        ae.require_called_aet = False
    assert_one_line(result, "find", 4, "AssociationRejected")


def test_no_accepted_context_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    with aioups_scp(supported=(EXPLICIT,)) as scp:
        result = run(capsys, "create", "--implicit-vr", "-c", scp.address())
        assert_one_line(result, "create", 4)
        assert scp.seen() == []


def test_receive_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    port = str(free_port())
    for argv, needle in ((["-b", f"{RX_AE}@{HOST}:{port}", "--status", "C0OO"], "--status"),
                         (["-b", f"{RX_AE}@{HOST}:{port}", "--status", "1FFFF"], "16-bit"),
                         (["-b", RX_AE], "port")):
        assert_one_line(run(capsys, "receive", *argv), "receive", 2, needle)


def test_receive_subscribe_without_connect_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "receive", "-b", f"{RX_AE}@{HOST}:{free_port()}", "--subscribe")
    assert_one_line(result, "receive", 2, "-c")


def test_response_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    with aioups_scp() as scp:
        started = time.monotonic()
        result = run(capsys, "get", "-u", SLOW_UID, "--response-timeout", "200",
                     "-c", scp.address())
        assert time.monotonic() - started < SLOW_DELAY
        assert_one_line(result, "get", 5, "DIMSETimeout")


# === association options: what is proposed, negotiated and sent ==================================


@dataclass
class Tapped:
    """An aioups SCP behind a :class:`PDUTap`; ``address`` leads through the tap."""

    scp: AioupsPeer
    tap: PDUTap
    port: int

    def address(self) -> str:
        return f"{SCP_AE}@{HOST}:{self.port}"


@pytest.fixture
def tapped() -> Iterator[Tapped]:
    with aioups_scp() as scp:
        tap = PDUTap(scp.port)
        future, port = scp.portal.start_task(tap.serve)
        try:
            yield Tapped(scp, tap, int(port))
        finally:
            future.cancel()


@pytest.mark.parametrize(("flag", "proposed", "used"), [
    (None, (IMPLICIT, EXPLICIT, BIG), IMPLICIT),
    ("--explicit-vr", (EXPLICIT, IMPLICIT, BIG), EXPLICIT),
    ("--big-endian", (BIG, EXPLICIT, IMPLICIT), BIG),
    ("--implicit-vr", (IMPLICIT,), IMPLICIT),
])
def test_transfer_syntax_flags(flag: str | None, proposed: tuple[str, ...], used: str,
                               tapped: Tapped, capsys: pytest.CaptureFixture[str]) -> None:
    flags = (flag,) if flag else ()
    uid = new_uid()
    for argv in (["create", "-u", uid, "-s", "PatientName=Müller^Jürgen",
                  "-s", "ScheduledProcedureStepPriority=HIGH"],
                 ["get", "-u", uid, "--json", "-r", "PatientName"]):
        result = run(capsys, argv[0], "-c", tapped.address(), *flags, *argv[1:])
        assert result.code == 0, result.err
    [rq, _] = tapped.tap.associate_requests()
    assert {pc.transfer_syntaxes for pc in rq.presentation_contexts} == {proposed}
    create, get = tapped.scp.seen()
    assert (create.transfer_syntax, get.transfer_syntax) == (used, used)
    assert create.data_set is not None and str(create.data_set.PatientName) == "Müller^Jürgen"
    got = json.loads(result.out)["data_set"]
    assert got["00100010"]["Value"] == [{"Alphabetic": "Müller^Jürgen"}]


def test_big_endian_against_pynetdicom(pynetdicom_server: PynetdicomUPSSCP,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    pynetdicom_server.reset()
    address = f"{pynetdicom_server.ae_title}@{HOST}:{pynetdicom_server.port}"
    uid = new_uid()
    assert run(capsys, "create", "--big-endian", "-c", address, "-u", uid).code == 0
    result = run(capsys, "get", "--big-endian", "-c", address, "-u", uid, "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["data_set"]["00741000"]["Value"] == ["SCHEDULED"]


def test_operations_window(tapped: Tapped, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--max-ops-invoked", "3", "--max-ops-performed", "2"],
                 ["--max-ops-invoked", "3", "--not-async"],
                 [],
                 ["--max-ops-invoked", "0"]):
        result = run(capsys, "find", "-c", tapped.address(), *argv)
        assert result.code == 0, result.err
    windows = [rq.user_information.async_operations_window
               for rq in tapped.tap.associate_requests()]
    assert [None if w is None else (w.max_operations_invoked, w.max_operations_performed)
            for w in windows] == [(3, 2), None, None, (0, 1)]
    negotiated = [s.negotiated for s in tapped.scp.seen("C-FIND")]
    assert all(n is not None for n in negotiated)
    # the SCP performs as many as we invoke (it allows 16), and invokes 1 (its own limit)
    assert [(n.max_operations_performed, n.max_operations_invoked)  # type: ignore[union-attr]
            for n in negotiated] == [(3, 1), (1, 1), (1, 1), (16, 1)]


def test_pdv_packing_and_pdu_lengths(tapped: Tapped, capsys: pytest.CaptureFixture[str]) -> None:
    comment = ("-s", "CommentsOnTheScheduledProcedureStep=" + "x" * 5000)

    def create(*flags: str) -> list[PDataTF]:
        tapped.tap.clear()
        result = run(capsys, "create", "-c", tapped.address(), *flags, *comment)
        assert result.code == 0, result.err
        return [t.pdu for t in tapped.tap.p_data()]  # type: ignore[misc]

    def lengths() -> list[int]:
        return [t.length for t in tapped.tap.p_data()]

    packed = create()
    assert any({p.is_command for p in pdu.pdvs} == {True, False} for pdu in packed)
    assert max(lengths()) > 5000  # the data set in one PDU: the SCP takes 16384
    assert tapped.tap.associate_requests()[0].user_information.maximum_length == 16384
    unpacked = create("--not-pack-pdv")
    assert all(len(pdu.pdvs) == 1 for pdu in unpacked)
    small = create("--max-pdulen-snd", "1024", "--max-pdulen-rcv", "32768")
    assert len(small) > 5 and max(lengths()) <= 1024
    assert tapped.tap.associate_requests()[0].user_information.maximum_length == 32768
    assert all(s.data_set is not None and len(s.data_set.CommentsOnTheScheduledProcedureStep)
               == 5000 for s in tapped.scp.seen("N-CREATE"))


def test_connection_options_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    with aioups_scp("trio") as scp:
        result = run(capsys, "--backend", "trio", "find", "-c", scp.address(),
                     "--connect-timeout", "5000", "--accept-timeout", "5000",
                     "--release-timeout", "5000", "--response-timeout", "5000",
                     "--send-timeout", "5000", "--idle-timeout", "5000",
                     "--soclose-delay", "10", "--sorcv-buffer", "65536",
                     "--sosnd-buffer", "65536", "--tcp-delay", "--max-pdulen-rcv", "0",
                     "-b", f"TIMEOUTS@{HOST}")
        assert result.code == 0, result.err
        assert result.out == "C-FIND: 0 match(es), 0000H SUCCESS (success)\n"
        assert scp.last("C-FIND").negotiated.peer_ae_title == "TIMEOUTS"  # type: ignore[union-attr]


def test_user_identity(capsys: pytest.CaptureFixture[str]) -> None:
    with aioups_scp() as scp:
        for argv in (["--user", "alice", "--user-pass", "secret", "--user-rsp"],
                     ["--user-jwt", "e30.e30.sig"]):
            assert run(capsys, "find", "-c", scp.address(), *argv).code == 0
        first, second = (s.negotiated.user_identity for s in scp.seen("C-FIND"))  # type: ignore[union-attr]
    assert first is not None and second is not None
    assert (first.primary, first.secondary, first.positive_response_requested) == (
        b"alice", b"secret", True)
    assert (second.primary, second.positive_response_requested) == (b"e30.e30.sig", False)
