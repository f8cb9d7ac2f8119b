"""``aioups-upsscu``: dcm4che ``upsscu``'s own command line, checked against its manual.

The manual (``../shared/seeds/000_*.txt``, the help of dcm4che 5 ``upsscu``; a copy is kept in
``tests/helpers/upsscu_manual.txt`` for checkouts without it) is read here and every option it
lists must be known to ``aioups-upsscu``'s parser.  Then each operation the manual describes
runs through ``aioups.cli.upsscu_main(argv)`` against an in-process :class:`aioups.UPSService`
served on its own event loop in a background thread (an anyio blocking portal, as in
``test_cli.py``), and the test checks on the SCP's side what arrived: the request, the
presentation context it came on, the action information, the stored workitem and
subscriptions.  TLS (trustme certificates, PEM and PKCS#12 stores), an HTTP CONNECT proxy and
user identity negotiation are covered the same way.

Everything listens on 127.0.0.1 and every wait is bounded; nothing here starts a process.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import functools
import gc
import logging
import re
import socket
import ssl
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import pytest
import trustme
from anyio.abc import SocketAttribute, SocketStream, TaskStatus
from anyio.from_thread import BlockingPortal
from anyio.streams.buffered import BufferedByteReceiveStream
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

import aioups
from aioups.cli import upsscu_main
from aioups.cli._datasets import DEFAULT_CREATE_TEMPLATE_XML, default_create_template
from aioups.cli._upsscu import build_parser
from aioups.dimse import Dataset, NActionRQ, NCreateRQ, NGetRQ, NSetRQ, generate_uid
from aioups.pdu import UserIdentityRQ, UserIdentityType
from aioups.ul import IdentityDecision, SupportedSyntax
from aioups.ups import SubscriptionState

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO.parent / "shared" / "seeds"
MANUAL_COPY = REPO / "tests" / "helpers" / "upsscu_manual.txt"
HOST = "127.0.0.1"
SCP_AET = "UPSSCP"
#: our calling AE title in these tests (upsscu's default, see test_default_calling_ae_title)
SCU_AET = "UPSSCU"
#: every CLI run is bounded (ms), whatever the test adds
BOUNDED = ("--connect-timeout", "10000", "--accept-timeout", "10000",
           "--response-timeout", "10000", "--release-timeout", "10000")
#: how a DIMSE failure line starts today (see test_failure_status_line_names_the_program)
DIMSE_PREFIX = "aioups"
WAIT = 10.0  # seconds, for anything the test waits for on the SCP side


# --- the manual ------------------------------------------------------------------------------


def _manual_text() -> str:
    """The upsscu help from the seeds, or the copy kept with the tests."""
    if SEEDS.is_dir():
        for path in sorted(SEEDS.glob("000_*.txt")):
            text = path.read_text(encoding="utf-8", errors="replace")
            if "usage: upsscu" in text:
                return text
    return MANUAL_COPY.read_text(encoding="utf-8")


#: `` -b,--bind <aet[@ip][:port]>   specify...``, ``    --tls13    enable...``, `` -m <...>``:
#: an option line starts with at most four spaces (help continuation lines with ~40).
_OPTION_LINE = re.compile(
    r"^ {1,4}(?:(?P<short>-[A-Za-z0-9]),?)?(?P<long>--[A-Za-z0-9][\w-]*)?"
    r"(?: <(?P<arg>[^>]*)>)?(?= {2,}\S)", re.MULTILINE)


@dataclass(frozen=True)
class ManualOption:
    short: str | None
    long: str | None
    #: the manual's placeholder for the option's value, None for a flag
    arg: str | None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name in (self.short, self.long) if name)


def manual_options(text: str) -> list[ManualOption]:
    return [ManualOption(m["short"], m["long"], m["arg"]) for m in _OPTION_LINE.finditer(text)
            if m["short"] or m["long"]]


MANUAL = _manual_text()
OPTIONS = manual_options(MANUAL)
#: every spelling of every option: ("-b", option), ("--bind", option), ...
SPELLINGS = [(name, option) for option in OPTIONS for name in option.names]

#: a valid sample value per option (by long name, else short) for the parse test
_SAMPLES: dict[str, str] = {
    "--operation": "get", "--bind": "UPSSCU@127.0.0.1:11119", "--connect": "UPSSCP@host:11112",
    "--complete": "1.2.3.4", "--cancel": "1.2.3.4", "--process": "1.2.3.4",
    "--upsiuid": "1.2.3.4.5", "-m": "ScheduledProcedureStepPriority=HIGH",
    "-s": "00741204=label", "-r": "WorklistLabel", "--proxy": "user:pw@127.0.0.1:3128",
    "--reason-code": '(110513, DCM, "Discontinued")', "--status": "B000H",
    "--tls-protocol": "TLSv1.2", "--tls-cipher": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "--key-store-type": "PKCS12", "--trust-store-type": "PKCS12",
    "--key-store": "key.p12", "--trust-store": "cacerts.p12", "--receiving-ae": "WATCHER",
}
_SAMPLE_BY_PLACEHOLDER = {"ms": "2500", "length": "32768", "no": "4"}


def sample_value(option: ManualOption) -> str:
    for name in (option.long, option.short):
        if name in _SAMPLES:
            return _SAMPLES[name]
    return _SAMPLE_BY_PLACEHOLDER.get(option.arg or "", "sample-value")


# --- running the command line ----------------------------------------------------------------


@contextlib.contextmanager
def _bare_root_logger() -> Iterator[None]:
    """A root logger without pytest's handlers while the CLI runs (as in test_cli.py), so its
    ``logging.basicConfig`` behaves as from a shell; put everything back afterwards."""
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

    def ok(self) -> Result:
        assert self.code == 0, (self.code, self.out, self.err)
        assert "Traceback" not in self.err, self.err
        return self

    def one_line_error(self, code: int | tuple[int, ...],
                       prefix: str = "aioups-upsscu: ") -> str:
        """Assert the exit code and exactly one ``aioups-upsscu: ...`` line on stderr."""
        codes = code if isinstance(code, tuple) else (code,)
        assert self.code in codes, (self.code, self.out, self.err)
        assert "Traceback" not in self.err, self.err
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith(prefix), self.err
        return lines[0]


Runner = Callable[..., Result]


@pytest.fixture
def upsscu(capsys: pytest.CaptureFixture[str]) -> Runner:
    """``upsscu(*argv)``: run ``aioups-upsscu argv`` in-process; its exit code and output."""
    def run(*argv: str) -> Result:
        capsys.readouterr()  # drop anything printed before
        with _bare_root_logger():
            code = upsscu_main(list(argv))
        out, err = capsys.readouterr()
        return Result(code, out, err)
    return run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port that refuses connections: bound (so nobody else takes it) but not listening."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        yield int(sock.getsockname()[1])


async def wait_listening(port: int) -> None:
    """Until something accepts TCP connections on ``port`` (bounded)."""
    with anyio.fail_after(WAIT):
        while True:
            try:
                stream = await anyio.connect_tcp(HOST, port)
            except OSError:
                await anyio.sleep(0.02)
                continue
            await stream.aclose()
            return


#: a whole PDU of a type that does not exist: answered with A-ABORT (or not TLS at all)
_UNKNOWN_PDU = b"\xff\x00\x00\x00\x00\x04\x00\x00\x00\x00"


async def settle(port: int) -> None:
    """Return once the server on ``port`` has accepted every connection made so far.

    A client that gives up before the server accepted its connection (a TLS client that
    cannot even start its handshake) leaves it in the listen backlog; cancelling an asyncio
    server right then races with CPython's ``sock_accept`` (an accepted socket is left open:
    ResourceWarning).  Connections are accepted in order, so once a probe that sends garbage
    has been accepted and answered, the earlier ones have been accepted too.
    """
    with anyio.move_on_after(WAIT), contextlib.suppress(OSError):
        stream = await anyio.connect_tcp(HOST, port)
        async with stream:
            with contextlib.suppress(anyio.BrokenResourceError, anyio.EndOfStream, OSError):
                await stream.send(_UNKNOWN_PDU)
                await stream.receive()  # the A-ABORT (or the end of a failed TLS handshake)


# --- the UPS SCP -----------------------------------------------------------------------------


@dataclass
class Seen:
    """One request the SCP was asked to perform."""

    message: Any
    abstract_syntax: str
    transfer_syntax: str
    calling_ae_title: str
    negotiated: Any
    data_set: Dataset | None


def _recording(handler: Any, seen: list[Seen]) -> Any:
    @functools.wraps(handler)  # keeps the inline mark
    def record(request: aioups.ServiceRequest) -> Any:
        try:
            data_set = request.data_set
        except Exception:  # the handler itself answers undecodable data sets
            data_set = None
        negotiated = request.association.negotiated
        seen.append(Seen(request.message, request.context.abstract_syntax,
                         request.context.transfer_syntax,
                         negotiated.peer_ae_title if negotiated else "", negotiated, data_set))
        return handler(request)
    return record


@dataclass
class SCP:
    """A UPSService on a background event loop, what it was asked, and who it told."""

    port: int
    service: aioups.UPSService
    portal: BlockingPortal
    seen: list[Seen]
    identities: list[UserIdentityRQ]
    #: what the event receiver standing in for every known subscriber AE received
    events: list[aioups.ReceivedEvent]

    @property
    def address(self) -> str:
        return f"{SCP_AET}@{HOST}:{self.port}"

    def argv(self, *args: str) -> list[str]:
        """``-c UPSSCP@127.0.0.1:PORT -b UPSSCU args`` plus the bounded timeouts."""
        return ["-c", self.address, "-b", SCU_AET, *BOUNDED, *args]

    def requests(self, kind: type) -> list[Seen]:
        return [s for s in self.seen if isinstance(s.message, kind)]

    def last(self, kind: type) -> Seen:
        found = self.requests(kind)
        assert found, f"the SCP saw no {kind.__name__}: {self.seen}"
        return found[-1]

    def workitem(self, uid: str) -> Any:
        return self.portal.call(lambda: self.service.workitems.get(uid))

    def state(self, uid: str) -> str:
        item = self.workitem(uid)
        assert item is not None, f"no workitem {uid}"
        return str(item.state.value)

    def subscription(self, receiving_ae: str, uid: str) -> SubscriptionState:
        return self.portal.call(
            lambda: self.service.subscriptions.instance_state(receiving_ae, uid))

    def recipients(self, uid: str) -> frozenset[str]:
        return self.portal.call(lambda: self.service.subscriptions.recipients(uid))

    def wait_event(self, predicate: Callable[[aioups.ReceivedEvent], bool]
                   ) -> aioups.ReceivedEvent:
        async def wait() -> aioups.ReceivedEvent:
            with anyio.fail_after(WAIT):
                while True:
                    for event in self.events:
                        if predicate(event):
                            return event
                    await anyio.sleep(0.01)
        return self.portal.call(wait)


@contextlib.contextmanager
def serve_ups(*, subscribers: tuple[str, ...] = (SCU_AET, "WATCHER"),
              directory: dict[str, aioups.AEAddress] | None = None,
              authenticate: Any = None, supported: dict[str, Any] | None = None,
              **options: Any) -> Iterator[SCP]:
    """Run a UPSService (AE title UPSSCP, memory store) on 127.0.0.1 in a background thread.

    Every AE in ``subscribers`` is in the SCP's AE directory, all pointing to one
    EventReceiver on the same loop whose events are collected in ``SCP.events``; ``directory``
    adds other entries.  ``options`` go to ``UPSService.serve`` (so to ServerConfig);
    ``supported`` replaces the presentation contexts the SCP accepts.
    """
    seen: list[Seen] = []
    identities: list[UserIdentityRQ] = []
    events: list[aioups.ReceivedEvent] = []

    async def recording_authenticate(identity: UserIdentityRQ, rq: Any) -> IdentityDecision:
        identities.append(identity)
        if authenticate is not None:
            decision: IdentityDecision = await authenticate(identity, rq)
            return decision
        return IdentityDecision(accepted=True, server_response=b"welcome"
                                if identity.positive_response_requested else b"")

    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        receiver = aioups.EventReceiver("SUBSCRIBERS")
        receiver_future, receiver_port = portal.start_task(
            functools.partial(receiver.serve, HOST, 0))

        async def collect() -> None:
            async for event in receiver:  # one by one: tests read the list meanwhile
                events.append(event)  # noqa: PERF401

        collector = portal.start_task_soon(collect)
        address = aioups.AEAddress(host=HOST, port=int(receiver_port))
        known = dict.fromkeys(subscribers, address)
        service = aioups.UPSService(aioups.MemoryStore(), ae_title=SCP_AET,
                                    directory={**known, **(directory or {})})
        service.shutdown_grace = 0.2  # an AE that stopped listening must not slow teardown
        handlers = service.handlers
        service.handlers = lambda: {  # type: ignore[method-assign]
            key: _recording(handler, seen) for key, handler in handlers().items()}
        if supported is None:
            serve: Any = functools.partial(service.serve, HOST, 0,
                                           authenticate=recording_authenticate, **options)
        else:  # what UPSService.serve does, with other presentation contexts accepted
            config = dataclasses.replace(service.server_config(
                authenticate=recording_authenticate, **options), supported=supported)

            async def serve(*, task_status: TaskStatus[int]) -> None:
                async with anyio.create_task_group() as tg:
                    await tg.start(service.run)
                    task_status.started(await tg.start(aioups.Server(config).serve, HOST, 0))

        future, port = portal.start_task(serve)
        try:
            yield SCP(int(port), service, portal, seen, identities, events)
        finally:
            portal.call(settle, int(port))
            future.cancel()
            with contextlib.suppress(BaseException):
                future.exception(timeout=WAIT)
            collector.cancel()
            portal.call(settle, int(receiver_port))  # a late GOING DOWN delivery, say
            receiver_future.cancel()


@pytest.fixture
def scp() -> Iterator[SCP]:
    with serve_ups() as running:
        yield running


_CREATED = re.compile(r"^N-CREATE (\S+): 0000H ", re.MULTILINE)


def create(upsscu: Runner, scp: SCP, *args: str, uid: str | None = None) -> str:
    """``-O create`` (with ``-u uid`` if given); the new workitem's UID."""
    argv = scp.argv("-O", "create", *(("-u", uid) if uid else ()), *args)
    result = upsscu(*argv).ok()
    match = _CREATED.search(result.out)
    assert match is not None, result.out
    return match.group(1)


def claim(upsscu: Runner, scp: SCP, uid: str) -> str:
    tuid = generate_uid()
    upsscu(*scp.argv("-O", "changeState", "-P", tuid, "-u", uid)).ok()
    assert scp.state(uid) == "IN PROGRESS"
    return tuid


def xml_file(path: Path, label: str, **replace: str) -> Path:
    """The built-in create template as a PS3.19 XML file, with another Procedure Step Label."""
    text = DEFAULT_CREATE_TEMPLATE_XML.replace(
        "<Value number=\"1\">aioups workitem</Value>", f"<Value number=\"1\">{label}</Value>")
    for old, new in replace.items():
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


def code_item(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def performed_json(path: Path) -> Path:
    """A DICOM JSON N-SET data set with a Performed Procedure Sequence that allows COMPLETED."""
    performed = Dataset()
    performed.PerformedStationNameCodeSequence = [code_item("ST1", "DCM", "Station")]
    performed.PerformedProcedureStepStartDateTime = "20240506080000"
    performed.PerformedWorkitemCodeSequence = [code_item("110001", "DCM", "Image Processing")]
    performed.PerformedProcedureStepEndDateTime = "20240506083000"
    performed.OutputInformationSequence = []
    data_set = Dataset()
    data_set.UnifiedProcedureStepPerformedProcedureSequence = [performed]
    path.write_text(data_set.to_json(), encoding="utf-8")
    return path


# === 1. every option in the manual ============================================================


def test_manual_lists_the_options_it_documents() -> None:
    # The extraction found every option the help text mentions (69 in dcm4che 5's upsscu).
    assert len(OPTIONS) >= 60, OPTIONS
    extracted = {name for option in OPTIONS for name in option.names}
    mentioned = set(re.findall(r"(?<![\w-])--[A-Za-z0-9][A-Za-z0-9-]*", MANUAL))
    assert mentioned <= extracted, mentioned - extracted
    assert {"-O", "-u", "-s", "-m", "-r", "-P", "-C", "-D", "-p", "-w", "-l"} <= extracted
    operations = re.search(r"Supported names: ([^.]+)\.", MANUAL.replace("\n", " "))
    assert operations is not None
    names = {n.strip() for n in re.sub(r"\s+", " ", operations.group(1)).split(",")}
    assert names == {"create", "update", "get", "changeState", "requestCancel", "subscribe",
                     "unsubscribe", "suspendGlobal", "receive"}
    operation = build_parser()._option_string_actions["-O"]
    assert set(operation.choices or ()) == names


def test_manual_copy_matches_the_seed() -> None:
    if not SEEDS.is_dir():
        pytest.skip("no ../shared/seeds in this checkout")
    assert MANUAL == MANUAL_COPY.read_text(encoding="utf-8")


@pytest.mark.parametrize(("name", "option"), SPELLINGS, ids=[n for n, _ in SPELLINGS])
def test_manual_option_is_known(name: str, option: ManualOption) -> None:
    actions = build_parser()._option_string_actions
    assert name in actions, f"aioups-upsscu does not know {name}"
    action = actions[name]
    # the short and the long spelling are one option
    assert all(actions.get(other) is action for other in option.names)
    if option.arg is None:
        assert action.nargs == 0, f"{name} is a flag in upsscu"
    else:
        assert action.nargs != 0, f"{name} takes <{option.arg}> in upsscu"


@pytest.mark.parametrize(("name", "option"), SPELLINGS, ids=[n for n, _ in SPELLINGS])
def test_manual_option_parses(name: str, option: ManualOption,
                              capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    action = parser._option_string_actions[name]
    given = [name] if option.arg is None else [name, sample_value(option)]
    if name in ("-h", "--help", "-V", "--version"):
        with pytest.raises(SystemExit) as info:
            parser.parse_args(given)
        assert info.value.code == 0
        out = capsys.readouterr().out
        help_asked = name in ("-h", "--help")
        assert out.startswith("usage: aioups-upsscu" if help_asked else "aioups-upsscu ")
        return
    connect = [] if action.dest == "connect" else ["-c", "UPSSCP@127.0.0.1:11112"]
    args = parser.parse_args([*given, *connect])
    default = parser.get_default(action.dest)
    assert getattr(args, action.dest) != default, f"{name} changed nothing"


@pytest.mark.parametrize("argv", [["--ssl3"], ["--ssl2Hello"], ["--tls-protocol", "SSLv3"],
                                  ["--tls-protocol", "SSLv2Hello"], ["--tls", "--ssl3"]])
def test_java_only_tls_options_parse_then_refuse(argv: list[str], upsscu: Runner,
                                                 closed_port: int) -> None:
    build_parser().parse_args([*argv, "-c", f"{SCP_AET}@{HOST}:{closed_port}"])  # no exit
    line = upsscu("-c", f"{SCP_AET}@{HOST}:{closed_port}", *argv).one_line_error(2)
    assert "SSLv" in line


@pytest.mark.parametrize("option", ["--key-store-type", "--trust-store-type"])
def test_java_key_store_type_parses_then_refuses(option: str, upsscu: Runner,
                                                 closed_port: int) -> None:
    argv = ["-c", f"{SCP_AET}@{HOST}:{closed_port}", "--tls", option, "JKS",
            "--key-store" if option == "--key-store-type" else "--trust-store", "keystore.jks"]
    line = upsscu(*argv).one_line_error(2)
    assert "JKS" in line


def test_version(upsscu: Runner, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        upsscu("-V")
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"aioups-upsscu {aioups.__version__}"


# === 2. the operations ========================================================================


def test_create_default_template(upsscu: Runner, scp: SCP) -> None:
    # "upsscu -c UPSSCP@localhost:11112 -O create": the built-in template as data set
    result = upsscu(*scp.argv("-O", "create")).ok()
    match = _CREATED.search(result.out)
    assert match is not None, result.out
    uid = match.group(1)
    request = scp.last(NCreateRQ)
    assert request.abstract_syntax == aioups.UPS_PUSH
    assert request.message.affected_sop_class_uid == aioups.UPS_PUSH
    assert request.message.affected_sop_instance_uid in (None, uid)
    assert request.calling_ae_title == SCU_AET
    assert scp.state(uid) == "SCHEDULED"
    stored = scp.workitem(uid).data_set
    assert stored.ProcedureStepLabel == "aioups workitem"
    assert stored.InputReadinessState == "READY"
    assert result.err == ""


def test_no_operation_creates(upsscu: Runner, scp: SCP) -> None:
    # "If no operation is specified, create will be used."
    result = upsscu(*scp.argv()).ok()
    match = _CREATED.search(result.out)
    assert match is not None, result.out
    assert scp.state(match.group(1)) == "SCHEDULED"
    assert len(scp.requests(NCreateRQ)) == 1


def test_create_from_xml_file_after_double_dash(upsscu: Runner, scp: SCP,
                                                tmp_path: Path) -> None:
    # "upsscu -c UPSSCP@localhost:11112 -O create -- /path-to-custom-create.xml"
    path = xml_file(tmp_path / "custom-create.xml", "from custom create.xml")
    uid = generate_uid()
    result = upsscu(*scp.argv("-O", "create", "-u", uid, "--", str(path))).ok()
    assert f"N-CREATE {uid}: 0000H" in result.out
    assert scp.last(NCreateRQ).message.affected_sop_instance_uid == uid
    assert scp.workitem(uid).data_set.ProcedureStepLabel == "from custom create.xml"


def test_create_with_set_keys(upsscu: Runner, scp: SCP, tmp_path: Path) -> None:
    # -s by keyword, by hex tag and nested (Seq.Attr), over the template or a file
    path = xml_file(tmp_path / "create.xml", "file label")
    uid = create(upsscu, scp, "-s", "ProcedureStepLabel=from -s",
                 "-s", "00741200=HIGH",  # ScheduledProcedureStepPriority
                 "-s", "WorklistLabel=WL-1",
                 "-s", "ScheduledStationNameCodeSequence.CodeValue=ST-7",  # a new sequence
                 str(path))
    stored = scp.workitem(uid).data_set
    assert stored.ProcedureStepLabel == "from -s"
    assert stored.ScheduledProcedureStepPriority == "HIGH"
    assert stored.WorklistLabel == "WL-1"
    assert stored.ScheduledStationNameCodeSequence[0].CodeValue == "ST-7"


def test_create_nested_set_key_changes_one_attribute_of_the_item(upsscu: Runner,
                                                                scp: SCP) -> None:
    # "Attributes in nested Datasets can be specified by including the keyword/tag value of
    # the sequence attribute, e.g. 00404018.00080100 for Code Value in Scheduled Workitem Code
    # Sequence": the first item of the template's sequence gets that value, nothing else goes
    uid = create(upsscu, scp, "-s", "00404018.00080100=121000")
    item = scp.workitem(uid).data_set.ScheduledWorkitemCodeSequence[0]
    assert item.CodeValue == "121000"
    # the template's Coding Scheme Designator and Code Meaning are still there
    assert (item.get("CodingSchemeDesignator"), item.get("CodeMeaning")) == \
        ("DCM", "Image Processing")


def test_update_with_set_keys(upsscu: Runner, scp: SCP) -> None:
    # "-O update -u <uid>" with -s: N-SET on the workitem
    uid = create(upsscu, scp)
    result = upsscu(*scp.argv("-O", "update", "-u", uid, "-s", "ProcedureStepLabel=updated",
                              "-s", "00741202=WL-2")).ok()
    assert f"N-SET {uid}: 0000H" in result.out
    request = scp.last(NSetRQ)
    assert request.message.requested_sop_instance_uid == uid
    assert request.message.requested_sop_class_uid == aioups.UPS_PUSH
    assert request.data_set is not None and request.data_set.WorklistLabel == "WL-2"
    stored = scp.workitem(uid).data_set
    assert (stored.ProcedureStepLabel, stored.WorklistLabel) == ("updated", "WL-2")


def test_update_with_file(upsscu: Runner, scp: SCP, tmp_path: Path) -> None:
    # "-O update -u <uid> <xml-file>" (attributes from the file)
    uid = create(upsscu, scp)
    path = tmp_path / "update.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM">\n'
        '  <DicomAttribute tag="00741204" vr="LO" keyword="ProcedureStepLabel">\n'
        '    <Value number="1">label from update.xml</Value>\n'
        '  </DicomAttribute>\n'
        '</NativeDicomModel>\n', encoding="utf-8")
    upsscu(*scp.argv("-O", "update", "-u", uid, str(path))).ok()
    assert scp.workitem(uid).data_set.ProcedureStepLabel == "label from update.xml"


@pytest.mark.parametrize(("flags", "context"), [
    ((), aioups.UPS_PUSH),                # "Negotiating SOP Class UID as ... Push"
    (("-p",), aioups.UPS_PULL),           # "-O get -p -u": Pull
    (("--pull",), aioups.UPS_PULL),
    (("-w",), aioups.UPS_WATCH),          # "-w: Use UPS Watch SOP Class SCU for -O get"
    (("--watch",), aioups.UPS_WATCH),
], ids=["push", "p", "pull", "w", "watch"])
def test_get_uses_the_context_the_manual_names(flags: tuple[str, ...], context: str,
                                               upsscu: Runner, scp: SCP) -> None:
    uid = create(upsscu, scp, "-s", "ProcedureStepLabel=get me")
    result = upsscu(*scp.argv("-O", "get", *flags, "-u", uid)).ok()
    request = scp.last(NGetRQ)
    assert request.abstract_syntax == context
    assert request.message.requested_sop_class_uid == aioups.UPS_PUSH
    assert request.message.requested_sop_instance_uid == uid
    assert request.message.attribute_identifier_list is None  # all attributes
    assert f"N-GET {uid}: 0000H" in result.out
    assert "get me" in result.out and "SCHEDULED" in result.out


def test_get_return_keys(upsscu: Runner, scp: SCP) -> None:
    # "-r <attr>: return key for --operation get ... keyword or tag value (in hex)"
    uid = create(upsscu, scp, "-s", "WorklistLabel=WL-R", "-s", "PatientID=PID-R")
    result = upsscu(*scp.argv("-O", "get", "-u", uid, "-r", "WorklistLabel",
                              "-r", "00741000")).ok()
    request = scp.last(NGetRQ)
    assert sorted(request.message.attribute_identifier_list) == [0x00741000, 0x00741202]
    assert "WL-R" in result.out and "SCHEDULED" in result.out
    assert "PID-R" not in result.out


def test_get_pull_and_watch_exclude_each_other(upsscu: Runner, scp: SCP,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        upsscu(*scp.argv("-O", "get", "-p", "-w", "-u", "1.2.3"))
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("spelling", ["-P", "-P=", "--process"])
def test_change_state_in_progress(spelling: str, upsscu: Runner, scp: SCP) -> None:
    # "upsscu -c ... -O changeState -P=<transaction-uid> -u <uid>": SCHEDULED -> IN PROGRESS
    uid = create(upsscu, scp)
    tuid = generate_uid()
    flag = [f"-P={tuid}"] if spelling == "-P=" else [spelling, tuid]
    result = upsscu(*scp.argv("-O", "changeState", *flag, "-u", uid)).ok()
    assert "0000H" in result.out
    request = scp.last(NActionRQ)
    assert request.abstract_syntax == aioups.UPS_PULL
    assert request.message.action_type_id == 1
    assert request.message.requested_sop_class_uid == aioups.UPS_PUSH
    assert request.message.requested_sop_instance_uid == uid
    assert request.data_set is not None
    assert request.data_set.ProcedureStepState == "IN PROGRESS"
    assert request.data_set.TransactionUID == tuid
    assert scp.state(uid) == "IN PROGRESS"
    assert scp.workitem(uid).transaction_uid == tuid


def test_change_state_complete(upsscu: Runner, scp: SCP, tmp_path: Path) -> None:
    # -C <transaction-uid>: IN PROGRESS -> COMPLETED, after an N-SET of the performed procedure
    # (the Transaction UID goes into the N-SET data set with -s, as upsscu users do)
    uid = create(upsscu, scp)
    tuid = claim(upsscu, scp, uid)
    upsscu(*scp.argv("-O", "update", "-u", uid, "-s", f"TransactionUID={tuid}",
                     str(performed_json(tmp_path / "performed.json")))).ok()
    assert scp.last(NSetRQ).data_set.TransactionUID == tuid  # type: ignore[union-attr]
    result = upsscu(*scp.argv("-O", "changeState", "-C", tuid, "-u", uid)).ok()
    assert "0000H" in result.out
    request = scp.last(NActionRQ)
    assert request.data_set is not None
    assert (request.data_set.ProcedureStepState, request.data_set.TransactionUID) == \
        ("COMPLETED", tuid)
    assert scp.state(uid) == "COMPLETED"


def test_change_state_cancel(upsscu: Runner, scp: SCP) -> None:
    # -D <transaction-uid>: IN PROGRESS -> CANCELED
    uid = create(upsscu, scp)
    tuid = claim(upsscu, scp, uid)
    upsscu(*scp.argv("-O", "changeState", "--cancel", tuid, "-u", uid)).ok()
    request = scp.last(NActionRQ)
    assert request.data_set is not None
    assert (request.data_set.ProcedureStepState, request.data_set.TransactionUID) == \
        ("CANCELED", tuid)
    assert scp.state(uid) == "CANCELED"


def test_change_state_with_wrong_transaction_uid_fails_with_exit_5(upsscu: Runner,
                                                                  scp: SCP) -> None:
    # upsscu exits 0 on a failure status; aioups-upsscu exits 5 with one line on stderr
    uid = create(upsscu, scp)
    claim(upsscu, scp, uid)
    result = upsscu(*scp.argv("-O", "changeState", "-C", generate_uid(), "-u", uid))
    line = result.one_line_error(5, prefix=DIMSE_PREFIX)
    assert "C301" in line and "C301H" in result.out  # wrong Transaction UID
    assert scp.state(uid) == "IN PROGRESS"


def test_get_unknown_workitem_fails_with_exit_5(upsscu: Runner, scp: SCP) -> None:
    result = upsscu(*scp.argv("-O", "get", "-u", "1.2.826.0.1.3680043.2.1125.404"))
    assert "C307" in result.one_line_error(5, prefix=DIMSE_PREFIX)


def test_failure_status_line_names_the_program(upsscu: Runner, scp: SCP) -> None:
    result = upsscu(*scp.argv("-O", "get", "-u", "1.2.826.0.1.3680043.2.1125.404"))
    assert "C307" in result.one_line_error(5)


def test_request_cancel(upsscu: Runner, scp: SCP) -> None:
    # "-O requestCancel -u <uid>" with --reason, --reason-code, --contact, --contact-uri;
    # Push by default ("for get/requestCancel operations, UPS Push SOP Class SCU")
    uid = create(upsscu, scp)
    result = upsscu(*scp.argv(
        "-O", "requestCancel", "-u", uid, "--reason", "patient left",
        "--reason-code", '(110513, DCM, "Discontinued for unspecified reason")',
        "--contact", "Dr^Who", "--contact-uri", "tel:+1-555-0100")).ok()
    assert "0000H" in result.out
    request = scp.last(NActionRQ)
    assert request.abstract_syntax == aioups.UPS_PUSH
    assert request.message.action_type_id == 2
    assert request.message.requested_sop_class_uid == aioups.UPS_PUSH
    assert request.message.requested_sop_instance_uid == uid
    info = request.data_set
    assert info is not None
    assert info.ReasonForCancellation == "patient left"
    code = info.ProcedureStepDiscontinuationReasonCodeSequence[0]
    assert (code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning) == \
        ("110513", "DCM", "Discontinued for unspecified reason")
    assert info.ContactDisplayName == "Dr^Who"
    assert info.ContactURI == "tel:+1-555-0100"
    assert scp.state(uid) == "CANCELED"  # a SCHEDULED workitem is canceled at once


def test_request_cancel_watch(upsscu: Runner, scp: SCP) -> None:
    # "-O requestCancel -w -u <uid>": "... using Negotiating SOP Class UID as ... Watch"
    uid = create(upsscu, scp)
    upsscu(*scp.argv("-O", "requestCancel", "-w", "-u", uid)).ok()
    request = scp.last(NActionRQ)
    assert request.abstract_syntax == aioups.UPS_WATCH
    assert request.message.action_type_id == 2
    assert scp.state(uid) == "CANCELED"


def test_request_cancel_bad_reason_code_exits_2(upsscu: Runner, scp: SCP) -> None:
    uid = create(upsscu, scp)
    upsscu(*scp.argv("-O", "requestCancel", "-u", uid, "--reason-code", "110513")
           ).one_line_error(2)
    assert scp.state(uid) == "SCHEDULED"


def _subscription(scp: SCP, action: int) -> Seen:
    request = scp.last(NActionRQ)
    assert request.message.action_type_id == action
    assert request.abstract_syntax == aioups.UPS_WATCH
    assert request.message.requested_sop_class_uid == aioups.UPS_PUSH
    return request


def test_subscribe_instance(upsscu: Runner, scp: SCP) -> None:
    # "-O subscribe -u <uid>": our calling AE title is the Receiving AE
    uid = create(upsscu, scp)
    upsscu(*scp.argv("-O", "subscribe", "-u", uid)).ok()
    request = _subscription(scp, 3)
    assert request.message.requested_sop_instance_uid == uid
    assert request.data_set is not None
    assert request.data_set.ReceivingAE == SCU_AET
    assert request.data_set.DeletionLock == "FALSE"
    assert scp.subscription(SCU_AET, uid) is SubscriptionState.WITHOUT_LOCK
    # the SCP reports the workitem's current state to the new subscriber
    event = scp.wait_event(lambda e: e.sop_instance_uid == uid)
    assert (event.event_type_id, event.state) == (1, "SCHEDULED")


def test_subscribe_instance_with_lock(upsscu: Runner, scp: SCP) -> None:
    # "-O subscribe -u <uid> -l": with deletion lock
    uid = create(upsscu, scp)
    upsscu(*scp.argv("-O", "subscribe", "-u", uid, "-l")).ok()
    request = _subscription(scp, 3)
    assert request.data_set is not None and request.data_set.DeletionLock == "TRUE"
    assert scp.subscription(SCU_AET, uid) is SubscriptionState.WITH_LOCK


def test_subscribe_global(upsscu: Runner, scp: SCP) -> None:
    # "-O subscribe" without -u: globally, so workitems created later are reported too
    upsscu(*scp.argv("-O", "subscribe")).ok()
    request = _subscription(scp, 3)
    assert request.message.requested_sop_instance_uid == aioups.UPS_GLOBAL_SUBSCRIPTION_INSTANCE
    assert request.data_set is not None and request.data_set.ReceivingAE == SCU_AET
    uid = create(upsscu, scp)
    assert SCU_AET in scp.recipients(uid)
    event = scp.wait_event(lambda e: e.sop_instance_uid == uid)
    assert event.state == "SCHEDULED"


def test_subscribe_global_for_another_receiving_ae(upsscu: Runner, scp: SCP) -> None:
    # --receiving-ae: "If not specified, Calling AE Title of association will be used"
    upsscu(*scp.argv("-O", "subscribe", "--receiving-ae", "WATCHER", "-l")).ok()
    request = _subscription(scp, 3)
    assert request.data_set is not None
    assert (request.data_set.ReceivingAE, request.data_set.DeletionLock) == ("WATCHER", "TRUE")
    uid = create(upsscu, scp)
    assert scp.recipients(uid) == {"WATCHER"}


def test_subscribe_filtered_global(upsscu: Runner, scp: SCP) -> None:
    # "-O subscribe --filtered-global -m ScheduledProcedureStepPriority=HIGH
    #  -m InputReadinessState=READY": only the matching workitems are reported
    upsscu(*scp.argv("-O", "subscribe", "--filtered-global",
                     "-m", "ScheduledProcedureStepPriority=HIGH",
                     "-m", "InputReadinessState=READY")).ok()
    request = _subscription(scp, 3)
    assert request.message.requested_sop_instance_uid == \
        aioups.UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE
    info = request.data_set
    assert info is not None
    assert (info.ScheduledProcedureStepPriority, info.InputReadinessState) == ("HIGH", "READY")
    assert info.ReceivingAE == SCU_AET
    high = create(upsscu, scp, "-s", "ScheduledProcedureStepPriority=HIGH")
    medium = create(upsscu, scp, "-s", "ScheduledProcedureStepPriority=MEDIUM")
    high_unready = create(upsscu, scp, "-s", "ScheduledProcedureStepPriority=HIGH",
                          "-s", "InputReadinessState=INCOMPLETE")
    assert SCU_AET in scp.recipients(high)
    assert SCU_AET not in scp.recipients(medium)
    assert SCU_AET not in scp.recipients(high_unready)


def test_subscribe_filtered_global_with_nested_key(upsscu: Runner, scp: SCP,
                                                   tmp_path: Path) -> None:
    # "-m 00404018.00080100=<value>": Code Value in Scheduled Workitem Code Sequence
    upsscu(*scp.argv("-O", "subscribe", "--filtered-global", "-m", "00404018.00080100=110001")
           ).ok()
    info = _subscription(scp, 3).data_set
    assert info is not None
    assert info.ScheduledWorkitemCodeSequence[0].CodeValue == "110001"
    matching = create(upsscu, scp)  # the template's code is 110001
    other = create(upsscu, scp, str(xml_file(tmp_path / "other.xml", "other code", **{
        '<Value number="1">110001</Value>': '<Value number="1">121000</Value>'})))
    assert scp.workitem(other).data_set.ScheduledWorkitemCodeSequence[0].CodeValue == "121000"
    assert SCU_AET in scp.recipients(matching)
    assert SCU_AET not in scp.recipients(other)


@pytest.mark.parametrize("argv", [
    ["-O", "subscribe", "--filtered-global"],                     # no -m
    ["-O", "subscribe", "-m", "ScheduledProcedureStepPriority=HIGH"],  # -m without filtered
    ["-O", "subscribe", "--filtered-global", "-m", "NoSuchKeyword=1"],
], ids=["no-keys", "keys-without-filtered", "unknown-keyword"])
def test_subscribe_bad_filter_exits_2(argv: list[str], upsscu: Runner, scp: SCP) -> None:
    upsscu(*scp.argv(*argv)).one_line_error(2)
    assert not scp.requests(NActionRQ)


def test_unsubscribe_instance(upsscu: Runner, scp: SCP) -> None:
    # "-O unsubscribe -u <uid>"
    uid = create(upsscu, scp)
    upsscu(*scp.argv("-O", "subscribe", "-u", uid)).ok()
    assert scp.subscription(SCU_AET, uid) is SubscriptionState.WITHOUT_LOCK
    upsscu(*scp.argv("-O", "unsubscribe", "-u", uid)).ok()
    request = _subscription(scp, 4)
    assert request.message.requested_sop_instance_uid == uid
    assert request.data_set is not None and request.data_set.ReceivingAE == SCU_AET
    assert scp.subscription(SCU_AET, uid) is SubscriptionState.NOT_SUBSCRIBED


def test_unsubscribe_global(upsscu: Runner, scp: SCP) -> None:
    # "-O unsubscribe" without -u: globally (and from every workitem)
    before = create(upsscu, scp)
    upsscu(*scp.argv("-O", "subscribe")).ok()
    assert SCU_AET in scp.recipients(before)
    upsscu(*scp.argv("-O", "unsubscribe")).ok()
    request = _subscription(scp, 4)
    assert request.message.requested_sop_instance_uid == aioups.UPS_GLOBAL_SUBSCRIPTION_INSTANCE
    assert SCU_AET not in scp.recipients(before)
    assert SCU_AET not in scp.recipients(create(upsscu, scp))


def test_suspend_global(upsscu: Runner, scp: SCP) -> None:
    # "-O suspendGlobal": no events for NEW workitems "without removing specific subscriptions"
    before = create(upsscu, scp)
    upsscu(*scp.argv("-O", "subscribe")).ok()
    upsscu(*scp.argv("-O", "suspendGlobal")).ok()
    request = _subscription(scp, 5)
    assert request.message.requested_sop_instance_uid == aioups.UPS_GLOBAL_SUBSCRIPTION_INSTANCE
    assert request.data_set is not None and request.data_set.ReceivingAE == SCU_AET
    assert SCU_AET in scp.recipients(before)
    assert SCU_AET not in scp.recipients(create(upsscu, scp))


def test_suspend_global_refuses_upsiuid(upsscu: Runner, scp: SCP) -> None:
    # "For suspendGlobal operation, do not specify option --upsiuid."
    upsscu(*scp.argv("-O", "suspendGlobal", "-u", "1.2.3")).one_line_error(2)
    assert not scp.seen


@pytest.mark.parametrize("operation", ["update", "get", "changeState", "requestCancel"])
def test_missing_upsiuid_exits_2(operation: str, upsscu: Runner, closed_port: int) -> None:
    extra = ["-P", "1.2.3"] if operation == "changeState" else ["-s", "WorklistLabel=x"]
    line = upsscu("-c", f"{SCP_AET}@{HOST}:{closed_port}", "-O", operation, *extra
                  ).one_line_error(2)
    assert "-u" in line


def test_change_state_needs_a_target(upsscu: Runner, closed_port: int) -> None:
    upsscu("-c", f"{SCP_AET}@{HOST}:{closed_port}", "-O", "changeState", "-u", "1.2.3"
           ).one_line_error(2)


def test_unknown_operation_is_a_usage_error(upsscu: Runner, capsys: pytest.CaptureFixture[str],
                                            closed_port: int) -> None:
    with pytest.raises(SystemExit) as info:
        upsscu("-c", f"{SCP_AET}@{HOST}:{closed_port}", "-O", "frobnicate")
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_unreachable_scp_exits_3(upsscu: Runner, closed_port: int) -> None:
    line = upsscu("-c", f"{SCP_AET}@{HOST}:{closed_port}", *BOUNDED, "-O", "create"
                  ).one_line_error(3)
    assert "ConnectError" in line


# --- receive ---------------------------------------------------------------------------------


def test_receive_prints_the_events_the_scp_sends(upsscu: Runner) -> None:
    # "upsscu -b UPSSCU:11119 -c DCM4CHEE@localhost:11112 -O receive": listen for the event
    # reports of the SCP; --count ends it (aioups-upsscu's addition)
    rx_port = free_port()
    with serve_ups(directory={"RX": aioups.AEAddress(host=HOST, port=rx_port)}) as scp:
        upsscu(*scp.argv("-O", "subscribe", "--receiving-ae", "RX")).ok()
        uid = generate_uid()

        async def trigger() -> None:
            await wait_listening(rx_port)
            async with aioups.UPSClient.connect(HOST, scp.port, called_ae_title=SCP_AET,
                                                calling_ae_title="TRIGGER", timeout=WAIT) as ups:
                await ups.create(default_create_template(), uid)

        future = scp.portal.start_task_soon(trigger)
        result = upsscu("-c", scp.address, "-b", f"RX@{HOST}:{rx_port}", "-O", "receive",
                        "--count", "1", *BOUNDED)
        future.result(timeout=WAIT)
    result.ok()
    assert f"UPS State Report (type 1) SCHEDULED for {uid} from {SCP_AET}" in result.out
    assert f"RX receiving on {HOST}:{rx_port}" in result.err


@pytest.mark.parametrize(("given", "expected"), [((), 0x0000), (("--status", "0110H"), 0x0110),
                                                 (("--status", "B000"), 0xB000)],
                         ids=["default", "0110H", "B000"])
def test_receive_answers_with_status(given: tuple[str, ...], expected: int,
                                     upsscu: Runner) -> None:
    # "--status <code>: status code in returned N-EVENT-REPORT RSPs for -O receive, 0000H by
    # default": an event sent by the test itself, to see the response
    rx_port = free_port()
    uid = generate_uid()
    with serve_ups() as scp:

        async def send_event() -> int:
            await wait_listening(rx_port)
            proposal = aioups.PresentationContextProposal(
                abstract_syntax=aioups.UPS_EVENT, scu_role=False, scp_role=True)
            async with aioups.open_association(HOST, rx_port, called_ae_title="RX",
                                               calling_ae_title=SCP_AET,
                                               contexts=(proposal,)) as assoc:
                context = assoc.context_for(aioups.UPS_EVENT, as_scp=True)
                info = Dataset()
                info.ProcedureStepState = "IN PROGRESS"
                info.InputReadinessState = "READY"
                response = await aioups.n_event_report(
                    assoc, aioups.UPS_PUSH, uid, 1, info, context_id=context.context_id,
                    check=False, timeout=WAIT)
                return int(response.status)

        future = scp.portal.start_task_soon(send_event)
        result = upsscu("-c", scp.address, "-b", f"RX@{HOST}:{rx_port}", "-O", "receive",
                        "--count", "1", *given, *BOUNDED)
        status = future.result(timeout=WAIT)
    result.ok()
    assert status == expected
    assert f"UPS State Report (type 1) IN PROGRESS for {uid} from {SCP_AET}" in result.out


def test_receive_needs_a_port(upsscu: Runner, closed_port: int) -> None:
    upsscu("-c", f"{SCP_AET}@{HOST}:{closed_port}", "-b", "RX", "-O", "receive",
           "--count", "1").one_line_error(2)


def test_receive_bad_status_exits_2(upsscu: Runner, closed_port: int) -> None:
    upsscu("-c", f"{SCP_AET}@{HOST}:{closed_port}", "-b", f"RX@{HOST}:{free_port()}",
           "-O", "receive", "--status", "nothex", "--count", "1").one_line_error(2)


def test_bind_with_local_address(upsscu: Runner, scp: SCP) -> None:
    # -b <aet[@ip][:port]>: our AE title and the local address to connect from
    argv = scp.argv("-O", "create")
    argv[argv.index("-b") + 1] = f"LOCALAET@{HOST}"
    result = upsscu(*argv).ok()
    assert _CREATED.search(result.out) is not None
    assert scp.last(NCreateRQ).calling_ae_title == "LOCALAET"


def test_runs_on_trio_too(upsscu: Runner, scp: SCP) -> None:
    # aioups-upsscu's own --backend: the same operations on trio
    uid = create(upsscu, scp, "--backend", "trio")
    result = upsscu(*scp.argv("--backend", "trio", "-O", "get", "-p", "-u", uid)).ok()
    assert f"N-GET {uid}: 0000H" in result.out
    assert scp.last(NGetRQ).abstract_syntax == aioups.UPS_PULL


def test_default_calling_ae_title(upsscu: Runner, scp: SCP) -> None:
    upsscu("-c", scp.address, *BOUNDED, "-O", "create").ok()
    assert scp.last(NCreateRQ).calling_ae_title == "UPSSCU"


# === 3. TLS ===================================================================================


@dataclass
class PKI:
    """A CA, server and client certificates, and the stores built from them."""

    ca: trustme.CA
    server: trustme.LeafCert
    #: a server certificate for another host name only (for --tls-eia-https)
    elsewhere: trustme.LeafCert
    files: dict[str, Path] = field(default_factory=dict)

    def __getitem__(self, name: str) -> str:
        return str(self.files[name])


def _x509(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def _pkcs12(leaf: trustme.LeafCert | None, cas: list[trustme.CA], password: bytes | None
            ) -> bytes:
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), None) \
        if leaf is not None else None
    cert = _x509(leaf.cert_chain_pems[0].bytes()) if leaf is not None else None
    encryption = serialization.BestAvailableEncryption(password) if password \
        else serialization.NoEncryption()
    return pkcs12.serialize_key_and_certificates(
        b"upsscu" if leaf is not None else None, key, cert,  # type: ignore[arg-type]
        [_x509(ca.cert_pem.bytes()) for ca in cas] or None, encryption)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    folder = tmp_path_factory.mktemp("pki")
    rsa = trustme.KeyType.RSA  # RSA keys: the TLS_ECDHE_RSA_* cipher suites below need them
    ca = trustme.CA(key_type=rsa)
    other_ca = trustme.CA(key_type=rsa)
    client = ca.issue_cert("UPSSCU", key_type=rsa)
    pki = PKI(ca, ca.issue_cert(HOST, "localhost", key_type=rsa),
              ca.issue_cert("other.example", key_type=rsa))
    key = serialization.load_pem_private_key(client.private_key_pem.bytes(), None)
    encrypted_key = key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(b"keypass"))
    contents = {
        "ca.pem": ca.cert_pem.bytes(),
        "other-ca.pem": other_ca.cert_pem.bytes(),
        "cacerts.p12": _pkcs12(None, [ca], b"storepass"),
        "cacerts.store": _pkcs12(None, [ca], b"storepass"),  # PKCS#12 by --trust-store-type
        "client.pem": b"".join(p.bytes() for p in client.cert_chain_pems)
        + client.private_key_pem.bytes(),
        "client-encrypted.pem": b"".join(p.bytes() for p in client.cert_chain_pems)
        + encrypted_key,
        "client.p12": _pkcs12(client, [ca], b"storepass"),
        "client-secret.p12": _pkcs12(client, [ca], b"secret"),  # upsscu's default password
    }
    for name, data in contents.items():
        path = folder / name
        path.write_bytes(data)
        pki.files[name] = path
    return pki


def server_context(pki: PKI, *, leaf: trustme.LeafCert | None = None,
                   client_auth: bool = False,
                   versions: tuple[ssl.TLSVersion, ssl.TLSVersion] | None = None,
                   ciphers: str | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    (leaf or pki.server).configure_cert(ctx)
    if client_auth:
        pki.ca.configure_trust(ctx)
        ctx.verify_mode = ssl.CERT_REQUIRED
    if versions is not None:
        ctx.minimum_version, ctx.maximum_version = versions
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    return ctx


TLS12_ONLY = (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)
TLS13_ONLY = (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3)


def tls_create(upsscu: Runner, scp: SCP, *tls: str) -> Result:
    return upsscu(*scp.argv("-O", "create", *tls))


@pytest.mark.parametrize("stores", [
    ("--trust-store", "ca.pem"),
    ("--tls-cacert", "ca.pem"),
    ("--trust-store", "cacerts.p12", "--trust-store-pass", "storepass"),
    ("--trust-store", "cacerts.store", "--trust-store-type", "PKCS12",
     "--trust-store-pass", "storepass"),
], ids=["pem", "tls-cacert", "pkcs12", "pkcs12-by-type"])
def test_tls_with_trust_store(stores: tuple[str, ...], pki: PKI, upsscu: Runner) -> None:
    argv = [pki[a] if a in pki.files else a for a in stores]
    with serve_ups(ssl_context=server_context(pki)) as scp:
        result = tls_create(upsscu, scp, "--tls", *argv).ok()
        uid = _CREATED.search(result.out)
        assert uid is not None, result.out
        assert scp.state(uid.group(1)) == "SCHEDULED"


def test_tls_plain_client_does_not_get_through(pki: PKI, upsscu: Runner) -> None:
    with serve_ups(ssl_context=server_context(pki)) as scp:
        result = tls_create(upsscu, scp)  # no --tls
        assert result.code in (3, 4), result
        result.one_line_error((3, 4))
        assert not scp.seen


@pytest.mark.parametrize("trust", [(), ("--trust-store", "other-ca.pem")],
                         ids=["system-trust", "other-ca"])
def test_tls_untrusted_server_exits_3(trust: tuple[str, ...], pki: PKI, upsscu: Runner) -> None:
    argv = [pki[a] if a in pki.files else a for a in trust]
    with serve_ups(ssl_context=server_context(pki)) as scp:
        line = tls_create(upsscu, scp, "--tls", *argv).one_line_error(3)
        assert "ConnectError" in line and "certificate" in line.lower()
        assert not scp.seen


def test_tls_noauth_skips_server_verification(pki: PKI, upsscu: Runner) -> None:
    # --tls-noauth with no trust store at all, and with a wrong one
    with serve_ups(ssl_context=server_context(pki)) as scp:
        tls_create(upsscu, scp, "--tls", "--tls-noauth").ok()
        tls_create(upsscu, scp, "--tls", "--tls-noauth", "--trust-store", pki["other-ca.pem"]
                   ).ok()
        assert len(scp.requests(NCreateRQ)) == 2


def test_tls_unreadable_trust_store_exits_2(pki: PKI, upsscu: Runner, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.p12"
    garbage.write_bytes(b"not a key store")
    with serve_ups(ssl_context=server_context(pki)) as scp:
        tls_create(upsscu, scp, "--tls", "--trust-store", str(garbage)).one_line_error(2)
        tls_create(upsscu, scp, "--tls", "--trust-store", str(tmp_path / "missing.pem")
                   ).one_line_error(2)
        tls_create(upsscu, scp, "--tls", "--trust-store", pki["cacerts.p12"],
                   "--trust-store-pass", "wrong").one_line_error(2)
        assert not scp.seen


@pytest.mark.parametrize("key_store", [
    ("--key-store", "client.pem"),
    ("--key-store", "client-encrypted.pem", "--key-pass", "keypass"),
    ("--key-store", "client.p12", "--key-store-pass", "storepass"),
    ("--key-store", "client.p12", "--key-store-type", "PKCS12", "--key-store-pass",
     "storepass"),
], ids=["pem", "encrypted-pem", "pkcs12", "pkcs12-typed"])
def test_tls_client_certificate(key_store: tuple[str, ...], pki: PKI, upsscu: Runner) -> None:
    # mutual authentication: the SCP requires a certificate its CA issued
    argv = [pki[a] if a in pki.files else a for a in key_store]
    with serve_ups(ssl_context=server_context(pki, client_auth=True)) as scp:
        tls_create(upsscu, scp, "--tls", "--trust-store", pki["ca.pem"], *argv).ok()
        assert len(scp.requests(NCreateRQ)) == 1


def test_tls_without_client_certificate_is_refused(pki: PKI, upsscu: Runner) -> None:
    with serve_ups(ssl_context=server_context(pki, client_auth=True)) as scp:
        tls_create(upsscu, scp, "--tls", "--trust-store", pki["ca.pem"]).one_line_error((3, 4))
        assert not scp.seen


def test_tls_key_store_password_defaults_to_secret(pki: PKI, upsscu: Runner) -> None:
    with serve_ups(ssl_context=server_context(pki, client_auth=True)) as scp:
        tls_create(upsscu, scp, "--tls", "--trust-store", pki["ca.pem"],
                   "--key-store", pki["client-secret.p12"]).ok()


@pytest.mark.parametrize(("server", "client", "works"), [
    (TLS12_ONLY, ("--tls12",), True),
    (TLS12_ONLY, ("--tls-protocol", "TLSv1.2"), True),
    (TLS12_ONLY, ("--tls13",), False),
    (TLS12_ONLY, ("--tls-protocol", "TLSv1.3"), False),
    (TLS13_ONLY, ("--tls13",), True),
    (TLS13_ONLY, ("--tls-protocol", "TLSv1.3"), True),
    (TLS13_ONLY, ("--tls12",), False),
    (TLS13_ONLY, ("--tls-protocol", "TLSv1.2", "--tls-protocol", "TLSv1.3"), True),
    (TLS12_ONLY, ("--tls-protocol", "TLSv1.2", "--tls-protocol", "TLSv1.3"), True),
], ids=["12-tls12", "12-protocol-12", "12-tls13", "12-protocol-13", "13-tls13",
        "13-protocol-13", "13-tls12", "13-protocol-12-13", "12-protocol-12-13"])
def test_tls_protocol_versions(server: tuple[ssl.TLSVersion, ssl.TLSVersion],
                               client: tuple[str, ...], works: bool, pki: PKI,
                               upsscu: Runner) -> None:
    # --tls13/--tls12/--tls-protocol enable only those versions: an SCP that speaks only
    # another one is not reached (connection failure, exit 3)
    with serve_ups(ssl_context=server_context(pki, versions=server)) as scp:
        result = tls_create(upsscu, scp, "--trust-store", pki["ca.pem"], *client)
        if works:
            result.ok()
            assert len(scp.requests(NCreateRQ)) == 1
        else:
            assert "ConnectError" in result.one_line_error(3)
            assert not scp.seen


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize("flag", ["--tls1", "--tls11"])
def test_tls_old_versions_fail_cleanly(flag: str, pki: PKI, upsscu: Runner) -> None:
    # TLS 1.0/1.1 parse; this OpenSSL (and the SCP) will not speak them: one line, no trace
    with serve_ups(ssl_context=server_context(pki)) as scp:
        tls_create(upsscu, scp, flag, "--trust-store", pki["ca.pem"]).one_line_error((2, 3))
        assert not scp.seen


@pytest.mark.parametrize(("cipher", "works"), [
    ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", True),   # IANA name (as in Java configurations)
    ("ECDHE-RSA-AES256-GCM-SHA384", True),             # OpenSSL name
    ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", False),  # the SCP does not offer it
])
def test_tls_cipher(cipher: str, works: bool, pki: PKI, upsscu: Runner) -> None:
    ctx = server_context(pki, versions=TLS12_ONLY, ciphers="ECDHE-RSA-AES256-GCM-SHA384")
    with serve_ups(ssl_context=ctx) as scp:
        result = tls_create(upsscu, scp, "--tls12", "--tls-cipher", cipher,
                            "--trust-store", pki["ca.pem"])
        if works:
            result.ok()
        else:
            result.one_line_error(3)
            assert not scp.seen


def test_tls_aes(pki: PKI, upsscu: Runner) -> None:
    # --tls-aes: "enable TLS connection with AES or 3DES encryption"
    with serve_ups(ssl_context=server_context(pki)) as scp:
        tls_create(upsscu, scp, "--tls-aes", "--trust-store", pki["ca.pem"]).ok()


def test_tls_null_fails_cleanly(pki: PKI, upsscu: Runner) -> None:
    # --tls-null: accepted, but neither this OpenSSL nor the SCP agree to no encryption
    with serve_ups(ssl_context=server_context(pki, versions=TLS12_ONLY)) as scp:
        tls_create(upsscu, scp, "--tls-null", "--tls12", "--trust-store", pki["ca.pem"]
                   ).one_line_error((2, 3))
        assert not scp.seen


@pytest.mark.parametrize("flags", [("--tls-3des",), ("--tls-cipher", "NO-SUCH-CIPHER")],
                         ids=["tls-3des", "unknown-cipher"])
def test_tls_unavailable_cipher_is_a_usage_error(flags: tuple[str, ...], upsscu: Runner,
                                                 closed_port: int) -> None:
    line = upsscu("-c", f"{SCP_AET}@{HOST}:{closed_port}", *BOUNDED, *flags).one_line_error(2)
    assert "cipher" in line.lower()


@pytest.mark.parametrize("flag", ["--tls-eia-https", "--tls-eia-ldaps"])
def test_tls_endpoint_identification(flag: str, pki: PKI, upsscu: Runner) -> None:
    # the server's certificate names another host: fine by default (DICOM nodes are known by
    # certificate), refused with endpoint identification
    with serve_ups(ssl_context=server_context(pki, leaf=pki.elsewhere)) as scp:
        tls_create(upsscu, scp, "--tls", "--trust-store", pki["ca.pem"]).ok()
        line = tls_create(upsscu, scp, "--tls", flag, "--trust-store", pki["ca.pem"]
                          ).one_line_error(3)
        assert "ConnectError" in line
    with serve_ups(ssl_context=server_context(pki)) as scp:  # a certificate for 127.0.0.1
        tls_create(upsscu, scp, "--tls", flag, "--trust-store", pki["ca.pem"]).ok()


def test_tls_receive(pki: PKI, upsscu: Runner) -> None:
    # -O receive with TLS: the SCP delivers events over TLS to the listening upsscu
    rx_port = free_port()
    ca_file = pki["ca.pem"]
    rx = aioups.AEAddress(host=HOST, port=rx_port, tls=True, ca_file=ca_file,
                          server_hostname="localhost")
    with serve_ups(directory={"RX": rx}) as scp:
        upsscu(*scp.argv("-O", "subscribe", "--receiving-ae", "RX")).ok()
        uid = generate_uid()

        async def trigger() -> None:
            await wait_listening(rx_port)
            async with aioups.UPSClient.connect(HOST, scp.port, called_ae_title=SCP_AET,
                                                calling_ae_title="TRIGGER", timeout=WAIT) as ups:
                await ups.create(default_create_template(), uid)

        server_pem = Path(ca_file).parent / "server.pem"
        server_pem.write_bytes(b"".join(p.bytes() for p in pki.server.cert_chain_pems)
                               + pki.server.private_key_pem.bytes())
        future = scp.portal.start_task_soon(trigger)
        result = upsscu("-c", scp.address, "-b", f"RX@{HOST}:{rx_port}", "-O", "receive",
                        "--count", "1", "--tls", "--key-store", str(server_pem), *BOUNDED)
        future.result(timeout=WAIT)
    result.ok()
    assert f"UPS State Report (type 1) SCHEDULED for {uid}" in result.out


# === 4. --proxy (HTTP CONNECT) ================================================================


@dataclass
class Proxy:
    """A tiny HTTP CONNECT proxy: what it was asked, and how it answers."""

    #: "user:password" it requires (Proxy-Authorization: Basic), or None
    credentials: str | None = None
    #: a canned answer instead of a tunnel (e.g. a 403)
    answer: bytes | None = None
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    tunnels: int = 0

    async def serve(self, *, task_status: TaskStatus[int]) -> None:
        listener = await anyio.create_tcp_listener(local_host=HOST)
        async with listener:
            task_status.started(int(listener.extra(SocketAttribute.local_port)))
            await listener.serve(self._handle)

    async def _handle(self, client: SocketStream) -> None:
        with contextlib.suppress(Exception):  # one bad client never stops the proxy
            async with client:
                await self._tunnel(client)

    async def _tunnel(self, client: SocketStream) -> None:
        buffered = BufferedByteReceiveStream(client)
        with anyio.fail_after(WAIT):
            head = await buffered.receive_until(b"\r\n\r\n", 16384)
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip()
                   for name, _, value in (line.partition(":") for line in header_lines)}
        self.requests.append((request_line, headers))
        method, target, _ = request_line.split(" ", 2)
        if self.answer is not None:
            await client.send(self.answer)
            return
        if self.credentials is not None:
            token = base64.b64encode(self.credentials.encode()).decode()
            if headers.get("proxy-authorization") != f"Basic {token}":
                await client.send(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                                  b"Proxy-Authenticate: Basic realm=\"test\"\r\n\r\n")
                return
        if method != "CONNECT":
            await client.send(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            return
        host, _, port = target.rpartition(":")
        upstream = await anyio.connect_tcp(host.strip("[]"), int(port))
        async with upstream:
            await client.send(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.tunnels += 1
            async with anyio.create_task_group() as tg:
                tg.start_soon(_pipe, buffered, upstream)
                tg.start_soon(_pipe, upstream, client)


async def _pipe(source: Any, sink: SocketStream) -> None:
    with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError,
                             anyio.ClosedResourceError, OSError):
        while True:
            await sink.send(await source.receive())
    with contextlib.suppress(Exception):
        await sink.send_eof()


@contextlib.contextmanager
def proxying(scp: SCP, proxy: Proxy) -> Iterator[int]:
    """Run ``proxy`` on the SCP's event loop; yields its port."""
    future, port = scp.portal.start_task(proxy.serve)
    try:
        yield int(port)
    finally:
        future.cancel()
        with contextlib.suppress(BaseException):
            future.exception(timeout=WAIT)


@pytest.mark.parametrize("credentials", [None, "user:pw"], ids=["open", "basic-auth"])
def test_proxy_tunnels_the_association(credentials: str | None, upsscu: Runner,
                                       scp: SCP) -> None:
    # --proxy <[user:password@]host:port>: "HTTP Proxy to tunnel the DICOM connection"
    proxy = Proxy(credentials=credentials)
    with proxying(scp, proxy) as port:
        given = f"{credentials}@{HOST}:{port}" if credentials else f"{HOST}:{port}"
        uid = create(upsscu, scp, "--proxy", given)
        result = upsscu(*scp.argv("-O", "get", "-u", uid, "--proxy", given)).ok()
    assert f"N-GET {uid}: 0000H" in result.out
    assert proxy.tunnels == 2
    request_line, headers = proxy.requests[0]
    assert request_line == f"CONNECT {HOST}:{scp.port} HTTP/1.1"
    assert headers["host"] == f"{HOST}:{scp.port}"
    if credentials:
        assert headers["proxy-authorization"] == \
            "Basic " + base64.b64encode(credentials.encode()).decode()
    else:
        assert "proxy-authorization" not in headers
    assert scp.state(uid) == "SCHEDULED"


@pytest.mark.parametrize(("proxy", "given", "status"), [
    (Proxy(answer=b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"), "", "403"),
    (Proxy(credentials="user:pw"), "user:wrong@", "407"),
    (Proxy(credentials="user:pw"), "", "407"),
], ids=["403", "wrong-password", "no-credentials"])
def test_proxy_refusal_exits_3(proxy: Proxy, given: str, status: str, upsscu: Runner,
                               scp: SCP) -> None:
    with proxying(scp, proxy) as port:
        line = upsscu(*scp.argv("-O", "create", "--proxy", f"{given}{HOST}:{port}")
                      ).one_line_error(3)
    assert "ConnectError" in line and status in line
    assert proxy.requests and proxy.tunnels == 0
    assert not scp.seen


def test_unreachable_proxy_exits_3(upsscu: Runner, scp: SCP, closed_port: int) -> None:
    upsscu(*scp.argv("-O", "create", "--proxy", f"{HOST}:{closed_port}")).one_line_error(3)
    assert not scp.seen


def test_bad_proxy_address_is_one_line(upsscu: Runner, scp: SCP) -> None:
    upsscu(*scp.argv("-O", "create", "--proxy", "no-port-here")).one_line_error((2, 3))
    assert not scp.seen


def test_proxy_with_tls(pki: PKI, upsscu: Runner) -> None:
    # TLS runs end to end through the tunnel
    with serve_ups(ssl_context=server_context(pki)) as scp:
        proxy = Proxy()
        with proxying(scp, proxy) as port:
            tls_create(upsscu, scp, "--tls", "--trust-store", pki["ca.pem"],
                       "--proxy", f"{HOST}:{port}").ok()
        assert proxy.tunnels == 1
        assert len(scp.requests(NCreateRQ)) == 1


# === 5. user identity =========================================================================


@pytest.mark.parametrize(("flags", "kind", "primary", "secondary", "response"), [
    (("--user", "alice"), UserIdentityType.USERNAME, b"alice", b"", False),
    (("--user", "alice", "--user-pass", "s3cret"), UserIdentityType.USERNAME_AND_PASSCODE,
     b"alice", b"s3cret", False),
    (("--user", "alice", "--user-rsp"), UserIdentityType.USERNAME, b"alice", b"", True),
    (("--user-jwt", "eyJhbGciOiJIUzI1NiJ9.e30.sig"), UserIdentityType.JWT,
     b"eyJhbGciOiJIUzI1NiJ9.e30.sig", b"", False),
    (("--user-saml", "<saml:Assertion/>", "--user-rsp"), UserIdentityType.SAML,
     b"<saml:Assertion/>", b"", True),
], ids=["user", "user-pass", "user-rsp", "jwt", "saml-rsp"])
def test_user_identity_reaches_the_scp(flags: tuple[str, ...], kind: UserIdentityType,
                                       primary: bytes, secondary: bytes, response: bool,
                                       upsscu: Runner, scp: SCP) -> None:
    create(upsscu, scp, *flags)
    assert len(scp.identities) == 1
    identity = scp.identities[0]
    assert identity.identity_type == kind
    assert (identity.primary, identity.secondary) == (primary, secondary)
    assert identity.positive_response_requested is response
    negotiated = scp.last(NCreateRQ).negotiated
    assert negotiated.user_identity == identity


def test_no_user_identity_by_default(upsscu: Runner, scp: SCP) -> None:
    create(upsscu, scp)
    assert scp.identities == []
    assert scp.last(NCreateRQ).negotiated.user_identity is None


def test_rejected_user_identity_exits_4(upsscu: Runner) -> None:
    async def deny(identity: UserIdentityRQ, rq: Any) -> IdentityDecision:
        return IdentityDecision(accepted=identity.secondary == b"right")

    with serve_ups(authenticate=deny) as scp:
        create(upsscu, scp, "--user", "alice", "--user-pass", "right")
        line = upsscu(*scp.argv("-O", "create", "--user", "alice", "--user-pass", "wrong")
                      ).one_line_error(4)
        assert "AssociationRejected" in line
        assert len(scp.requests(NCreateRQ)) == 1


@pytest.mark.parametrize("flags", [
    ("--user", "alice", "--user-jwt", "token"),
    ("--user", "alice", "--user-saml", "assertion"),
    ("--user-jwt", "token", "--user-saml", "assertion"),
    ("--user-pass", "s3cret"),   # a password without a user
    ("--user-rsp",),             # a response to no identity
], ids=["user+jwt", "user+saml", "jwt+saml", "pass-alone", "rsp-alone"])
def test_conflicting_user_identity_options_exit_2(flags: tuple[str, ...], upsscu: Runner,
                                                  scp: SCP) -> None:
    upsscu(*scp.argv("-O", "create", *flags)).one_line_error(2)
    assert not scp.seen and not scp.identities


# === 6. socket, timeout and association options ===============================================


def _context_ts(expected: str) -> Callable[[Seen], bool]:
    return lambda seen: seen.transfer_syntax == expected


#: option -> what the SCP must see on the association (None: only that the create works)
ASSOCIATION_OPTIONS: list[tuple[tuple[str, ...], Callable[[Seen], bool] | None]] = [
    (("--soclose-delay", "10"), None),
    (("--soclose-delay", "0"), None),
    (("--sorcv-buffer", "65536"), None),
    (("--sosnd-buffer", "65536"), None),
    (("--tcp-delay",), None),
    (("--connect-timeout", "3000"), None),
    (("--accept-timeout", "3000"), None),
    (("--release-timeout", "3000"), None),
    (("--response-timeout", "3000"), None),
    (("--send-timeout", "3000"), None),
    (("--idle-timeout", "3000"), None),
    (("--max-pdulen-rcv", "32768"),
     lambda seen: seen.negotiated.peer_max_pdu_length == 32768),
    (("--max-pdulen-rcv", "0"), lambda seen: seen.negotiated.peer_max_pdu_length == 0),
    (("--max-pdulen-snd", "1024", "-s", "CommentsOnTheScheduledProcedureStep=" + "x" * 3000),
     lambda seen: seen.data_set is not None
     and len(seen.data_set.CommentsOnTheScheduledProcedureStep) == 3000),
    (("--max-ops-invoked", "4"),
     lambda seen: seen.negotiated.max_operations_performed == 4),
    (("--max-ops-performed", "3"), None),
    (("--max-ops-invoked", "4", "--not-async"),
     lambda seen: seen.negotiated.max_operations_performed == 1),
    (("--not-pack-pdv",), None),
    # "(default: implicit VR little endian first)"
    ((), _context_ts(aioups.IMPLICIT_VR_LITTLE_ENDIAN)),
    (("--explicit-vr",), _context_ts(aioups.EXPLICIT_VR_LITTLE_ENDIAN)),
    (("--big-endian",), _context_ts(aioups.EXPLICIT_VR_BIG_ENDIAN)),
    (("--implicit-vr",), _context_ts(aioups.IMPLICIT_VR_LITTLE_ENDIAN)),
]


@pytest.mark.parametrize(("flags", "check"), ASSOCIATION_OPTIONS,
                         ids=[" ".join(f[:2]) or "defaults" for f, _ in ASSOCIATION_OPTIONS])
def test_association_option_with_create(flags: tuple[str, ...],
                                        check: Callable[[Seen], bool] | None,
                                        upsscu: Runner, scp: SCP) -> None:
    uid = create(upsscu, scp, *flags)
    assert scp.state(uid) == "SCHEDULED"
    seen = scp.last(NCreateRQ)
    if check is not None:
        assert check(seen), seen


@pytest.mark.parametrize("flag", ["--big-endian", "--explicit-vr", "--implicit-vr"])
def test_transfer_syntax_flags_propose_what_the_manual_says(flag: str, upsscu: Runner) -> None:
    # "--implicit-vr: propose only implicit VR little endian": an SCP that accepts only
    # explicit VR cannot take it; the other two propose all uncompressed transfer syntaxes
    explicit_only = {syntax: SupportedSyntax(
        transfer_syntaxes=(aioups.EXPLICIT_VR_LITTLE_ENDIAN,))
        for syntax in (aioups.UPS_PUSH, aioups.UPS_PULL, aioups.UPS_WATCH, aioups.UPS_QUERY,
                       aioups.UPS_EVENT, aioups.VERIFICATION)}
    with serve_ups(supported=explicit_only) as scp:
        result = upsscu(*scp.argv("-O", "create", flag))
        if flag == "--implicit-vr":
            assert "NoAcceptedContext" in result.one_line_error(4)
            assert not scp.requests(NCreateRQ)
        else:
            result.ok()
            assert scp.last(NCreateRQ).transfer_syntax == aioups.EXPLICIT_VR_LITTLE_ENDIAN


@pytest.mark.parametrize("flags", [
    ("--connect-timeout", "-1"), ("--response-timeout", "-5"), ("--sorcv-buffer", "-1"),
    ("--max-pdulen-rcv", "-1"), ("--max-ops-invoked", "-1"), ("--soclose-delay", "-1"),
], ids=lambda f: f[0] if isinstance(f, tuple) else str(f))
def test_negative_values_are_usage_errors(flags: tuple[str, ...], upsscu: Runner,
                                          scp: SCP) -> None:
    upsscu(*scp.argv("-O", "create", *flags)).one_line_error(2)
    assert not scp.seen


def test_response_timeout_against_a_silent_scp(upsscu: Runner) -> None:
    # --response-timeout: an SCP that never answers N-CREATE; the command ends, one line
    async def never(request: aioups.ServiceRequest) -> Any:
        await anyio.sleep_forever()

    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        config = aioups.ServerConfig(ae_title=SCP_AET, handlers={(aioups.UPS_PUSH, NCreateRQ):
                                                                 never})
        server = aioups.Server(config)
        future, port = portal.start_task(functools.partial(server.serve, HOST, 0))
        try:
            result = upsscu("-c", f"{SCP_AET}@{HOST}:{port}", "-b", SCU_AET,
                            "--response-timeout", "300", "--release-timeout", "1000",
                            "-O", "create")
        finally:
            portal.call(settle, int(port))
            future.cancel()
    assert "DIMSETimeout" in result.one_line_error(5)


# === found along the way ======================================================================


def test_connection_arriving_as_the_server_stops_is_closed() -> None:
    # A TLS client that gives up before its handshake (--tls1 here) leaves exactly such a
    # connection behind when the SCP is stopped right after it.  Deterministic: the event
    # loop is held until the connection is in the backlog and the cancellation is queued.
    loop_errors: list[dict[str, Any]] = []
    client: socket.socket | None = None
    data: bytes | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # the leaked socket, freed below
        try:
            with anyio.from_thread.start_blocking_portal("asyncio") as portal:
                portal.call(lambda: asyncio.get_running_loop().set_exception_handler(
                    lambda loop, context: loop_errors.append(context)))
                server = aioups.Server(aioups.ServerConfig(ae_title=SCP_AET))
                future, port = portal.start_task(functools.partial(server.serve, HOST, 0))
                held, release = threading.Event(), threading.Event()

                async def hold_the_loop() -> None:
                    held.set()
                    release.wait(WAIT)  # blocking on purpose

                portal.start_task_soon(hold_the_loop)
                assert held.wait(WAIT)
                try:
                    client = socket.create_connection((HOST, port), timeout=WAIT)  # backlog
                    future.cancel()  # queued behind the held loop
                finally:
                    release.set()
                with contextlib.suppress(BaseException):
                    future.exception(timeout=WAIT)
            assert client is not None
            client.settimeout(1.0)
            try:
                data = client.recv(16)
            except ConnectionResetError:
                data = b""
            except TimeoutError:
                data = None
        finally:
            errors = [str(context.get("message")) for context in loop_errors]
            for context in loop_errors:  # the leaked socket lives in the traceback's frames
                exception = context.get("exception")
                if exception is not None and exception.__traceback__ is not None:
                    traceback.clear_frames(exception.__traceback__)
            loop_errors.clear()
            if client is not None:
                client.close()
            gc.collect()
    assert data == b"", f"the connection stayed open after the server stopped; {errors}"
    assert errors == []
