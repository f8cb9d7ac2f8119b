"""Processes for the benchmarks, one role each, so no two peers share a GIL.

    python benchmarks/peers.py server aioups|pynetdicom [BACKEND]
        prints ``PORT <n>`` once it listens on 127.0.0.1, then serves until killed: C-ECHO,
        and N-CREATE / N-GET of UPS workitems kept as received (``bench_dimse.py``).
    python benchmarks/peers.py echo aioups|pynetdicom PORT ASSOCIATIONS PER_ASSOCIATION [BACKEND]
        opens the associations, then times the C-ECHOs; prints ``RATE <echoes/s> FAILED <n>``.
    python benchmarks/peers.py n-create|n-get aioups|pynetdicom PORT OPERATIONS OUTSTANDING
                                                                                    [BACKEND]
        one association, OUTSTANDING requests in flight; prints ``RATE <ops/s> FAILED <n>``.

Roles added for ``bench_all.py`` (issue #6):

    python benchmarks/peers.py ups-server aioups|pynetdicom STORE [BACKEND] [RX_PORT SUBSCRIBERS]
        a UPS SCP: aioups ``UPSService`` or the small pynetdicom UPS SCP below.  STORE is
        ``memory`` or ``sqlite:FULL|NORMAL:PATH``.  With RX_PORT, the AE titles SUB00001 ...
        SUB<SUBSCRIBERS> are known and all reached at 127.0.0.1:RX_PORT (event fan-out).
    python benchmarks/peers.py ups-create aioups|pynetdicom PORT ASSOCIATIONS PER [BACKEND]
        N-CREATE of UPS workitems (new UID each), one outstanding per association.
    python benchmarks/peers.py hold PORT COUNT [CONCURRENCY]
        opens COUNT idle associations (aioups client, uvloop if installed; ``PROGRESS <ok>
        <failed>`` every second), prints ``HELD <ok> <failed> <s>``, holds them until stdin
        closes, then releases them and prints ``RELEASED <s>``.
    python benchmarks/peers.py probe PORT
        a fresh association and one C-ECHO: ``PROBE <ok> <associate ms> <echo ms>``.
    python benchmarks/peers.py receiver BACKEND EXPECT
        one aioups ``EventReceiver`` listener (any called AE title); prints ``DONE <uid> <state>
        <first> <last>`` (time.monotonic) once EXPECT state reports of one workitem and state
        arrived.
    python benchmarks/peers.py fanout-client aioups|pynetdicom PORT SUBSCRIBERS [BACKEND]
        subscribes SUB00001 ... globally, prints ``READY``; then on each line of stdin:
        N-CREATE, then claim; prints ``RSP <uid> <state> <time.monotonic of the response>``.

With PEERS_WAIT_GO=1 the pynetdicom ``echo`` and ``ups-create`` clients print ``READY`` once
their associations are open, start on a line of stdin and print ``SPAN <start> <end>``, so that
``bench_all.py`` can run one process per association and add them up.

Every process raises RLIMIT_NOFILE to its hard limit.  TCP_NODELAY is on in aioups by
default; pynetdicom never sets it, so with ``PEERS_PYNETDICOM_NODELAY=1`` (what ``bench_all.py``
uses) its client and server sockets get it too.  With ``PEERS_PROFILE=DIR`` a role runs under
cProfile and writes ``DIR/<role>-<impl>-<pid>.prof`` when it ends or gets SIGTERM.
"""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import socket
import sys
import threading
import time
from typing import Any

BACKENDS: dict[str, dict[str, Any]] = {
    "asyncio": {"backend": "asyncio"},
    "uvloop": {"backend": "asyncio", "backend_options": {"use_uvloop": True}},
    "trio": {"backend": "trio"},
}


def workitem() -> Any:
    """A UPS as an SCU would create it (about 500 bytes encoded)."""
    from pydicom import Dataset

    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "Doe^John"
    ds.PatientID = "PID-123"
    ds.IssuerOfPatientID = "HOSP"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "M"
    ds.ProcedureStepLabel = "CT head review"
    ds.WorklistLabel = "RADIOLOGY"
    ds.ScheduledProcedureStepPriority = "MEDIUM"
    ds.ProcedureStepState = "SCHEDULED"
    ds.ScheduledProcedureStepStartDateTime = "20261122090000"
    ds.ExpectedCompletionDateTime = "20261122100000"
    ds.InputReadinessState = "READY"
    ds.TransactionUID = ""
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "121006", "DCM", "Review"
    ds.ScheduledWorkitemCodeSequence = [code]
    station = Dataset()
    station.CodeValue, station.CodingSchemeDesignator, station.CodeMeaning = "WS1", "L", "WS 1"
    ds.ScheduledStationNameCodeSequence = [station]
    for keyword in ("ScheduledProcessingParametersSequence", "ScheduledHumanPerformersSequence",
                    "InputInformationSequence", "ReferencedRequestSequence",
                    "OtherPatientIDsSequence", "ReplacedProcedureStepSequence"):
        setattr(ds, keyword, [])
    ds.CommentsOnTheScheduledProcedureStep = "benchmark"
    return ds


def ups_workitem(*, assigned: bool = True) -> Any:
    """:func:`workitem` with every Type 2 attribute an N-CREATE must carry (PS3.4 Table
    CC.2.5-3), so a real UPS SCP accepts it (about 530 bytes encoded).  Its Specific Character
    Set is PEERS_UPS_CHARSET: none (the default repertoire) unless set, e.g. to ISO_IR 192.
    ``assigned=False`` leaves the Scheduled Station Name Code Sequence empty."""
    ds = workitem()
    if not assigned:  # no UPS Assigned event at creation (UPS-44): one event per subscriber
        ds.ScheduledStationNameCodeSequence = []
    charset = os.environ.get("PEERS_UPS_CHARSET", "")
    if charset:
        ds.SpecificCharacterSet = charset
    else:
        del ds.SpecificCharacterSet
    for keyword in ("AdmissionID", "AdmittingDiagnosesDescription"):
        setattr(ds, keyword, "")
    for keyword in ("ScheduledStationClassCodeSequence",
                    "ScheduledStationGeographicLocationCodeSequence",
                    "IssuerOfPatientIDQualifiersSequence", "IssuerOfAdmissionIDSequence",
                    "AdmittingDiagnosesCodeSequence", "ProcedureStepProgressInformationSequence",
                    "UnifiedProcedureStepPerformedProcedureSequence"):
        setattr(ds, keyword, [])
    return ds


UPS_PUSH = "1.2.840.10008.5.1.4.34.6.1"
UPS_WATCH = "1.2.840.10008.5.1.4.34.6.2"
UPS_PULL = "1.2.840.10008.5.1.4.34.6.3"
UPS_EVENT = "1.2.840.10008.5.1.4.34.6.4"
UPS_GLOBAL = "1.2.840.10008.5.1.4.34.5"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
HOST = "127.0.0.1"


def subscriber_titles(count: int) -> list[str]:
    """The Receiving AE titles of the fan-out benchmark."""
    return [f"SUB{i:05d}" for i in range(1, count + 1)]


def raise_nofile() -> int:
    """RLIMIT_NOFILE up to the hard limit (one descriptor per association); the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def wait_for_go() -> None:
    """With PEERS_WAIT_GO=1 (several client processes started together): say ``READY`` once
    the associations are open, and start the clock on the next line of stdin."""
    if os.environ.get("PEERS_WAIT_GO") == "1":
        print("READY", flush=True)
        sys.stdin.readline()


def report_span(start: float) -> None:
    """With PEERS_WAIT_GO=1: ``SPAN <start> <end>`` (time.monotonic) of the timed part."""
    if os.environ.get("PEERS_WAIT_GO") == "1":
        print(f"SPAN {start:.6f} {time.monotonic():.6f}", flush=True)


def client_ae(ae_class: Any) -> Any:
    """A pynetdicom requestor AE; PEERS_PYNETDICOM_DIMSE_TIMEOUT (seconds) replaces its
    30 s DIMSE timeout (``bench_all.py --quick``: a lost response costs 3 s, not 30)."""
    ae = ae_class(ae_title="BENCHSCU")
    timeout = os.environ.get("PEERS_PYNETDICOM_DIMSE_TIMEOUT")
    if timeout:
        ae.dimse_timeout = float(timeout)
    return ae


def pynetdicom_setup() -> None:
    """Raised limits for pynetdicom, and TCP_NODELAY when PEERS_PYNETDICOM_NODELAY=1.

    pynetdicom sets no TCP_NODELAY: a message written in two sends (command, then data set)
    waits for the peer's delayed ACK, about 40 ms.  The patch sets it on every socket
    pynetdicom creates (requestor) or accepts (acceptor), as aioups does by default.  The
    listen backlog (socketserver's default is 5) goes to 4096, as aioups'.
    """
    from pynetdicom import transport

    transport.AssociationServer.request_queue_size = 4096
    if os.environ.get("PEERS_PYNETDICOM_NODELAY", "0") != "1":
        return
    create_socket = transport.AssociationSocket._create_socket
    get_request = transport.AssociationServer.get_request

    def _create_socket(self: Any, address: Any) -> socket.socket:
        sock = create_socket(self, address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _get_request(self: Any) -> tuple[socket.socket, Any]:
        sock, address = get_request(self)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address

    transport.AssociationSocket._create_socket = _create_socket  # type: ignore[method-assign]
    transport.AssociationServer.get_request = _get_request  # type: ignore[method-assign]


def aioups_handlers() -> dict[tuple[str, type], Any]:
    """N-CREATE keeps the data set as received (bytes); N-GET answers with the stored bytes."""
    import aioups
    from aioups.dimse import CEchoRQ, NCreateRQ, NCreateRSP, NGetRQ, NGetRSP, generate_uid
    from aioups.net import ServiceRequest, echo_handler, inline_handler

    stored: dict[str, bytes | None] = {}
    template = aioups.dimse.encode_data_set(workitem(), EXPLICIT_LE)

    @inline_handler
    async def n_create(request: ServiceRequest) -> NCreateRSP:
        message = request.message
        assert isinstance(message, NCreateRQ)
        uid = message.affected_sop_instance_uid or generate_uid()
        stored[uid] = request.data_set_bytes
        return NCreateRSP(message_id_being_responded_to=message.message_id,
                          affected_sop_class_uid=message.affected_sop_class_uid,
                          affected_sop_instance_uid=uid)

    @inline_handler
    async def n_get(request: ServiceRequest) -> tuple[NGetRSP, bytes | None]:
        message = request.message
        assert isinstance(message, NGetRQ)
        data = stored.get(message.requested_sop_instance_uid, template)
        if request.context.transfer_syntax != EXPLICIT_LE:
            data = request.encode(aioups.dimse.decode_data_set(data or b"", EXPLICIT_LE))
        return NGetRSP(message_id_being_responded_to=message.message_id,
                       affected_sop_class_uid=message.requested_sop_class_uid,
                       affected_sop_instance_uid=message.requested_sop_instance_uid), data

    return {(aioups.VERIFICATION, CEchoRQ): echo_handler, (UPS_PUSH, NCreateRQ): n_create,
            (UPS_PULL, NGetRQ): n_get, (UPS_PUSH, NGetRQ): n_get}


def serve_aioups(backend: str) -> None:
    import anyio

    from aioups import Server, ServerConfig

    async def main() -> None:
        server = Server(ServerConfig(ae_title="BENCH", max_associations=20000,
                                     handlers=aioups_handlers(), max_operations_invoked=0,
                                     max_operations_performed=0))
        async with anyio.create_task_group() as tg:
            port = await tg.start(server.serve, "127.0.0.1", 0)
            print(f"PORT {port}", flush=True)

    anyio.run(main, **BACKENDS[backend])


def serve_pynetdicom() -> None:
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    pynetdicom_setup()
    ae = AE(ae_title="BENCH")
    ae.maximum_associations = 20000  # the default of 10 would refuse the concurrent runs
    ae.network_timeout = None  # the default aborts associations idle for 60 s
    ae.add_supported_context(Verification)
    ae.add_supported_context(UPS_PUSH, EXPLICIT_LE)
    ae.add_supported_context(UPS_PULL, EXPLICIT_LE)
    stored: dict[str, Any] = {}
    template = workitem()

    def n_create(event: Any) -> tuple[int, Any]:
        request = event.request
        stored[request.AffectedSOPInstanceUID] = event.attribute_list
        return 0x0000, None

    def n_get(event: Any) -> tuple[int, Any]:
        return 0x0000, stored.get(event.request.RequestedSOPInstanceUID, template)

    server = ae.start_server(("127.0.0.1", 0), block=False,
                             evt_handlers=[(evt.EVT_C_ECHO, lambda event: 0x0000),
                                           (evt.EVT_N_CREATE, n_create),
                                           (evt.EVT_N_GET, n_get)])
    print(f"PORT {server.socket.getsockname()[1]}", flush=True)
    threading.Event().wait()


def echo_aioups(port: int, associations: int, per: int, backend: str) -> tuple[float, int]:
    import anyio

    import aioups

    async def main() -> tuple[float, int]:
        async with contextlib.AsyncExitStack() as stack:
            assocs = [await stack.enter_async_context(aioups.open_association(
                "127.0.0.1", port, called_ae_title="BENCH")) for _ in range(associations)]
            for assoc in assocs:
                await aioups.send_echo(assoc)  # warm up
            failed = 0

            async def worker(assoc: aioups.Association) -> None:
                nonlocal failed
                for _ in range(per):
                    if await aioups.send_echo(assoc) != aioups.Status.SUCCESS:
                        failed += 1

            started = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for assoc in assocs:
                    tg.start_soon(worker, assoc)
            return associations * per / (time.perf_counter() - started), failed

    result: tuple[float, int] = anyio.run(main, **BACKENDS[backend])
    return result


def echo_pynetdicom(port: int, associations: int, per: int) -> tuple[float, int]:
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    pynetdicom_setup()
    assocs = []
    for _ in range(associations):  # one AE and one thread per association
        ae = client_ae(AE)
        ae.add_requested_context(Verification)
        assoc = ae.associate("127.0.0.1", port, ae_title="BENCH")
        if not assoc.is_established:
            raise RuntimeError("pynetdicom could not associate")
        assoc.send_c_echo()
        assocs.append(assoc)
    failed = [0]
    barrier = threading.Barrier(associations + 1)

    def worker(assoc: Any) -> None:
        barrier.wait()
        for _ in range(per):
            try:
                status = assoc.send_c_echo()
                ok = bool(status) and status.Status == 0
            except RuntimeError:  # the association was aborted after a lost response
                ok = False
            failed[0] += not ok

    threads = [threading.Thread(target=worker, args=(a,)) for a in assocs]
    for t in threads:
        t.start()
    wait_for_go()
    barrier.wait()
    started, span_start = time.perf_counter(), time.monotonic()
    for t in threads:
        t.join()
    rate = associations * per / (time.perf_counter() - started)
    report_span(span_start)
    for assoc in assocs:
        if assoc.is_established:
            assoc.release()
    return rate, failed[0]


def dimse_aioups(service: str, port: int, operations: int, outstanding: int,
                 backend: str) -> tuple[float, int]:
    import anyio

    import aioups
    from aioups.dimse import generate_uid

    contexts = (aioups.PresentationContextProposal(abstract_syntax=UPS_PUSH,
                                                   transfer_syntaxes=(EXPLICIT_LE,)),
                aioups.PresentationContextProposal(abstract_syntax=UPS_PULL,
                                                   transfer_syntaxes=(EXPLICIT_LE,)))
    # The same workitem each time (its UID travels in the command): encoded once, sent as bytes.
    template = aioups.dimse.encode_data_set(workitem(), EXPLICIT_LE)
    uids = [generate_uid() for _ in range(operations + outstanding)]
    gets = (0x00100010, 0x00100020, 0x00741000, 0x00741204, 0x00404018)

    async def one(assoc: aioups.Association, i: int) -> bool:
        if service == "n-create":
            response = await aioups.n_create(assoc, UPS_PUSH, uids[i], template)
        else:
            response = await aioups.n_get(assoc, UPS_PUSH, "1.2.3", gets, abstract_syntax=UPS_PULL)
            assert response.data_set is not None and response.data_set.PatientID == "PID-123"
        return response.status == aioups.Status.SUCCESS

    async def main() -> tuple[float, int]:
        async with aioups.open_association(
                "127.0.0.1", port, called_ae_title="BENCH", contexts=contexts,
                max_operations_invoked=outstanding, max_operations_performed=1) as assoc:
            await one(assoc, operations)  # warm up
            failed = 0
            per = operations // outstanding

            async def worker(w: int) -> None:
                nonlocal failed
                for i in range(w * per, (w + 1) * per):
                    failed += not await one(assoc, i)

            started = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for w in range(outstanding):
                    tg.start_soon(worker, w)
            return per * outstanding / (time.perf_counter() - started), failed

    result: tuple[float, int] = anyio.run(main, **BACKENDS[backend])
    return result


def dimse_pynetdicom(service: str, port: int, operations: int) -> tuple[float, int]:
    from pydicom.uid import generate_uid
    from pynetdicom import AE

    pynetdicom_setup()
    ae = client_ae(AE)
    ae.add_requested_context(UPS_PUSH, EXPLICIT_LE)
    ae.add_requested_context(UPS_PULL, EXPLICIT_LE)
    assoc = ae.associate("127.0.0.1", port, ae_title="BENCH")
    if not assoc.is_established:
        raise RuntimeError("pynetdicom could not associate")
    template = workitem()
    uids = [generate_uid() for _ in range(operations)]
    gets = [0x00100010, 0x00100020, 0x00741000, 0x00741204, 0x00404018]
    failed = 0
    started = time.perf_counter()
    for i in range(operations):
        if service == "n-create":
            status, _ = assoc.send_n_create(template, UPS_PUSH, uids[i])
        else:
            status, attrs = assoc.send_n_get(gets, UPS_PUSH, "1.2.3")
            failed += attrs is None or attrs.PatientID != "PID-123"
        failed += not status or status.Status != 0
    rate = operations / (time.perf_counter() - started)
    assoc.release()
    return rate, failed


# -- issue #6: UPS SCPs, N-CREATE clients, idle associations, event fan-out -------------------


def _store_spec(spec: str) -> tuple[str, str, str]:
    """``memory`` or ``sqlite:FULL|NORMAL:PATH`` -> (kind, synchronous, path)."""
    if spec == "memory":
        return "memory", "", ""
    kind, synchronous, path = spec.split(":", 2)
    if kind != "sqlite" or synchronous.upper() not in ("FULL", "NORMAL", "OFF"):
        raise SystemExit(f"bad store {spec!r}")
    return kind, synchronous.upper(), path


def serve_ups_aioups(store_spec: str, backend: str, rx_port: int, subscribers: int) -> None:
    """aioups' own UPS SCP (``UPSService``), as an application embeds it."""
    import anyio

    import aioups

    kind, synchronous, path = _store_spec(store_spec)
    store: aioups.UPSStore = (aioups.MemoryStore() if kind == "memory"
                              else aioups.SQLiteStore(path, synchronous=synchronous))
    directory = {title: aioups.AEAddress(host=HOST, port=rx_port)
                 for title in subscriber_titles(subscribers)} if rx_port else {}
    service = aioups.UPSService(store, directory=directory, ae_title="BENCH", purge_after=None)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            port = await tg.start(functools.partial(service.serve, HOST, 0,
                                                    max_associations=20000))
            print(f"PORT {port}", flush=True)
            await anyio.sleep_forever()

    anyio.run(main, **BACKENDS[backend])


class PynetdicomUPS:
    """A small UPS SCP written the way pynetdicom's documentation writes SCPs: one handler per
    DIMSE service, run in the association's thread.

    * N-CREATE: decodes the data set (``event.attribute_list``), checks the UPS is SCHEDULED
      with an empty Transaction UID (else C309/0120), refuses a known UID (0111), then keeps it:
      ``memory`` in a dict (the decoded Dataset), ``sqlite`` as the received bytes in one
      INSERT, committed (autocommit; WAL; the given ``synchronous``) before the response;
      one connection shared under a lock.
    * N-ACTION: subscribe globally (type 3: the Receiving AE must be known, else C308), and
      Change State to IN PROGRESS (type 1, with the Transaction UID; stored like N-CREATE).
    * Events: on each state change the handler starts a thread that sends a UPS State Report to
      every subscriber in turn, each over a new association (associate, N-EVENT-REPORT,
      release) proposing UPS Event with role selection SCU=0/SCP=1 (UPS-63): pynetdicom's
      natural way, as it has no association reuse or pool.
    """

    def __init__(self, store_spec: str, rx_port: int, subscribers: int) -> None:
        import sqlite3

        from pynetdicom import AE
        from pynetdicom.presentation import build_role

        kind, synchronous, path = _store_spec(store_spec)
        self.directory = dict.fromkeys(subscriber_titles(subscribers), (HOST, rx_port))
        self.lock = threading.Lock()
        self.states: dict[str, str] = {}
        self.kept: dict[str, Any] = {}
        self.subscribed: list[str] = []
        self.db: sqlite3.Connection | None = None
        if kind == "sqlite":
            self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(f"PRAGMA synchronous={synchronous}")
            self.db.execute("CREATE TABLE IF NOT EXISTS workitem (uid TEXT PRIMARY KEY,"
                            " state TEXT, transaction_uid TEXT, data_set BLOB)")
        self.sender = AE(ae_title="BENCH")
        self.sender.add_requested_context(UPS_EVENT, [EXPLICIT_LE, IMPLICIT_LE])
        self.role = build_role(UPS_EVENT, scu_role=False, scp_role=True)

    def notify(self, uid: str, state: str) -> None:
        """Send a UPS State Report to every subscriber, one after the other, in a thread."""
        from pydicom import Dataset

        report = Dataset()
        report.ProcedureStepState = state
        report.InputReadinessState = "READY"
        titles = list(self.subscribed)

        def send_all() -> None:
            for title in titles:
                host, port = self.directory[title]
                assoc = self.sender.associate(host, port, ae_title=title, ext_neg=[self.role])
                if assoc.is_established:
                    assoc.send_n_event_report(report, 1, UPS_PUSH, uid, meta_uid=UPS_EVENT)
                    assoc.release()

        if titles:
            threading.Thread(target=send_all, daemon=True).start()

    def n_create(self, event: Any) -> tuple[int, Any]:
        uid = str(event.request.AffectedSOPInstanceUID)
        ds = event.attribute_list
        if ds.get("ProcedureStepState") != "SCHEDULED":
            return 0xC309, None
        if ds.get("TransactionUID"):
            return 0x0120, None
        with self.lock:
            if uid in self.states:
                return 0x0111, None
            if self.db is not None:
                self.db.execute("INSERT INTO workitem (uid, state, data_set) VALUES (?, ?, ?)",
                                (uid, "SCHEDULED", event.request.AttributeList.getvalue()))
            else:
                self.kept[uid] = ds
            self.states[uid] = "SCHEDULED"
        self.notify(uid, "SCHEDULED")
        return 0x0000, None

    def n_action(self, event: Any) -> tuple[int, Any]:
        info = event.action_information
        if event.action_type == 3:
            title = str(info.get("ReceivingAE", "")).strip()
            if title not in self.directory:
                return 0xC308, None
            with self.lock:
                if title not in self.subscribed:
                    self.subscribed.append(title)
            return 0x0000, None
        if event.action_type != 1:
            return 0x0123, None
        uid = str(event.request.RequestedSOPInstanceUID)
        with self.lock:
            if (self.states.get(uid) != "SCHEDULED"
                    or info.get("ProcedureStepState") != "IN PROGRESS"):
                return 0xC303, None
            if self.db is not None:
                self.db.execute(
                    "UPDATE workitem SET state = ?, transaction_uid = ? WHERE uid = ?",
                    ("IN PROGRESS", str(info.TransactionUID), uid))
            self.states[uid] = "IN PROGRESS"
        self.notify(uid, "IN PROGRESS")
        return 0x0000, None


def serve_ups_pynetdicom(store_spec: str, rx_port: int, subscribers: int) -> None:
    """Serve :class:`PynetdicomUPS` (and C-ECHO) until killed."""
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    pynetdicom_setup()
    scp = PynetdicomUPS(store_spec, rx_port, subscribers)
    ae = AE(ae_title="BENCH")
    ae.maximum_associations = 20000
    ae.network_timeout = None
    ae.add_supported_context(Verification)
    for uid in (UPS_PUSH, UPS_PULL, UPS_WATCH):
        ae.add_supported_context(uid, [EXPLICIT_LE, IMPLICIT_LE])
    server = ae.start_server((HOST, 0), block=False,
                             evt_handlers=[(evt.EVT_C_ECHO, lambda event: 0x0000),
                                           (evt.EVT_N_CREATE, scp.n_create),
                                           (evt.EVT_N_ACTION, scp.n_action)])
    print(f"PORT {server.socket.getsockname()[1]}", flush=True)
    threading.Event().wait()


def ups_create_aioups(port: int, associations: int, per: int, backend: str) -> tuple[float, int]:
    import anyio

    import aioups
    from aioups.dimse import generate_uid

    contexts = (aioups.PresentationContextProposal(abstract_syntax=UPS_PUSH,
                                                   transfer_syntaxes=(EXPLICIT_LE,)),)
    data = aioups.dimse.encode_data_set(ups_workitem(), EXPLICIT_LE)  # encoded once: bytes
    uids = [[generate_uid() for _ in range(per + 1)] for _ in range(associations)]

    async def main() -> tuple[float, int]:
        async with contextlib.AsyncExitStack() as stack:
            assocs = [await stack.enter_async_context(aioups.open_association(
                HOST, port, called_ae_title="BENCH", contexts=contexts))
                for _ in range(associations)]
            for n, assoc in enumerate(assocs):  # warm up
                await aioups.n_create(assoc, UPS_PUSH, uids[n][per], data)
            failed = 0

            async def worker(n: int) -> None:
                nonlocal failed
                for i in range(per):
                    response = await aioups.n_create(assocs[n], UPS_PUSH, uids[n][i], data,
                                                     check=False)
                    failed += response.status != aioups.Status.SUCCESS

            started = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for n in range(associations):
                    tg.start_soon(worker, n)
            return associations * per / (time.perf_counter() - started), failed

    result: tuple[float, int] = anyio.run(main, **BACKENDS[backend])
    return result


def ups_create_pynetdicom(port: int, associations: int, per: int) -> tuple[float, int]:
    from pydicom.uid import generate_uid
    from pynetdicom import AE

    pynetdicom_setup()
    template = ups_workitem()
    assocs = []
    for _ in range(associations):  # one AE and one thread per association
        ae = client_ae(AE)
        ae.add_requested_context(UPS_PUSH, EXPLICIT_LE)
        assoc = ae.associate(HOST, port, ae_title="BENCH")
        if not assoc.is_established:
            raise RuntimeError("pynetdicom could not associate")
        assoc.send_n_create(template, UPS_PUSH, generate_uid())  # warm up
        assocs.append(assoc)
    uids = [[generate_uid() for _ in range(per)] for _ in range(associations)]
    failed = [0]
    barrier = threading.Barrier(associations + 1)

    def worker(n: int) -> None:
        barrier.wait()
        for i in range(per):
            try:
                status, _ = assocs[n].send_n_create(template, UPS_PUSH, uids[n][i])
                ok = bool(status) and status.Status == 0
            except RuntimeError:
                ok = False
            failed[0] += not ok

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(associations)]
    for t in threads:
        t.start()
    wait_for_go()
    barrier.wait()
    started, span_start = time.perf_counter(), time.monotonic()
    for t in threads:
        t.join()
    rate = associations * per / (time.perf_counter() - started)
    report_span(span_start)
    for assoc in assocs:
        if assoc.is_established:
            assoc.release()
    return rate, failed[0]


def hold(port: int, count: int, concurrency: int) -> None:
    """Open ``count`` associations (``concurrency`` negotiating at once) and keep them idle."""
    import anyio
    import anyio.to_thread

    import aioups

    timeouts = aioups.Timeouts(connect=60.0, accept=60.0, release=30.0)

    async def main() -> None:
        gate = anyio.Semaphore(concurrency)
        stop = anyio.Event()
        counts = {"held": 0, "failed": 0}
        errors: dict[str, int] = {}
        settled = anyio.Event()

        def settle(key: str) -> None:
            counts[key] += 1
            if counts["held"] + counts["failed"] == count:
                settled.set()

        async def one() -> None:
            await gate.acquire()
            opening = True
            try:
                async with aioups.open_association(HOST, port, called_ae_title="BENCH",
                                                   timeouts=timeouts):
                    gate.release()
                    opening = False
                    settle("held")
                    await stop.wait()
            except Exception as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                if opening:
                    settle("failed")
            finally:
                if opening:
                    gate.release()

        async def progress() -> None:
            while not settled.is_set():
                await anyio.sleep(1.0)
                print(f"PROGRESS {counts['held']} {counts['failed']}", flush=True)

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            tg.start_soon(progress)
            for _ in range(count):
                tg.start_soon(one)
            await settled.wait()
            print(f"HELD {counts['held']} {counts['failed']} {time.perf_counter() - started:.2f}"
                  f" {' '.join(f'{k}={v}' for k, v in errors.items())}", flush=True)
            await anyio.to_thread.run_sync(sys.stdin.read)  # until the driver closes stdin
            released = time.perf_counter()
            stop.set()
        print(f"RELEASED {time.perf_counter() - released:.2f}", flush=True)

    anyio.run(main, **BACKENDS["uvloop" if _has_uvloop() else "asyncio"])


def _has_uvloop() -> bool:
    import importlib.util

    return importlib.util.find_spec("uvloop") is not None


def probe(port: int) -> None:
    """Is the server still serving new associations?  Associate, one C-ECHO, release."""
    import anyio

    import aioups

    async def main() -> None:
        try:
            with anyio.fail_after(60):
                started = time.perf_counter()
                async with aioups.open_association(HOST, port, called_ae_title="BENCH") as assoc:
                    associated = time.perf_counter()
                    status = await aioups.send_echo(assoc)
                    echoed = time.perf_counter()
            print(f"PROBE {int(status == aioups.Status.SUCCESS)} "
                  f"{(associated - started) * 1000:.1f} {(echoed - associated) * 1000:.1f}",
                  flush=True)
        except Exception as exc:
            print(f"PROBE 0 nan nan {type(exc).__name__}", flush=True)

    anyio.run(main)


def receiver(backend: str, expect: int) -> None:
    """One EventReceiver listener for every subscriber AE title (the called AE title is not
    checked); reports when all ``expect`` state reports of one (workitem, state) are in."""
    import anyio

    import aioups

    rx = aioups.EventReceiver("RX", max_buffer=None)

    async def main() -> None:
        seen: dict[tuple[str, str], list[float]] = {}
        async with anyio.create_task_group() as tg:
            port = await tg.start(functools.partial(rx.serve, HOST, 0, max_associations=20000))
            print(f"PORT {port}", flush=True)
            async for event in rx:
                now = time.monotonic()
                if event.event_type_id != 1 or not event.state:
                    continue
                key = (event.sop_instance_uid, event.state.replace(" ", "_"))
                entry = seen.setdefault(key, [0, now, now])
                entry[0] += 1
                entry[2] = now
                if entry[0] == expect:
                    print(f"DONE {key[0]} {key[1]} {entry[1]:.6f} {entry[2]:.6f}", flush=True)

    anyio.run(main, **BACKENDS[backend])


def fanout_client_aioups(port: int, subscribers: int, backend: str) -> None:
    import anyio
    import anyio.to_thread

    import aioups
    from aioups.dimse import generate_uid

    data = aioups.dimse.encode_data_set(ups_workitem(assigned=False), EXPLICIT_LE)

    async def main() -> None:
        async with aioups.UPSClient.connect(HOST, port, called_ae_title="BENCH",
                                            transfer_syntaxes=(EXPLICIT_LE,),
                                            max_operations_invoked=16) as client:
            titles = subscriber_titles(subscribers)
            for start in range(0, len(titles), 16):
                async with anyio.create_task_group() as tg:
                    for title in titles[start:start + 16]:
                        tg.start_soon(lambda t: client.subscribe(receiving_ae=t), title)
            print("READY", flush=True)
            uid = generate_uid()
            await anyio.to_thread.run_sync(sys.stdin.readline)
            await client.create(data, uid)
            print(f"RSP {uid} SCHEDULED {time.monotonic():.6f}", flush=True)
            await anyio.to_thread.run_sync(sys.stdin.readline)
            await client.claim(uid)
            print(f"RSP {uid} IN_PROGRESS {time.monotonic():.6f}", flush=True)
            await anyio.to_thread.run_sync(sys.stdin.readline)

    anyio.run(main, **BACKENDS[backend])


def fanout_client_pynetdicom(port: int, subscribers: int) -> None:
    from pydicom import Dataset
    from pydicom.uid import generate_uid
    from pynetdicom import AE

    pynetdicom_setup()
    ae = client_ae(AE)
    for uid in (UPS_PUSH, UPS_PULL, UPS_WATCH):
        ae.add_requested_context(uid, EXPLICIT_LE)
    assoc = ae.associate(HOST, port, ae_title="BENCH")
    if not assoc.is_established:
        raise RuntimeError("pynetdicom could not associate")
    for title in subscriber_titles(subscribers):
        info = Dataset()
        info.ReceivingAE = title
        info.DeletionLock = "FALSE"
        status, _ = assoc.send_n_action(info, 3, UPS_PUSH, UPS_GLOBAL, meta_uid=UPS_WATCH)
        if not status or status.Status != 0:
            raise RuntimeError(f"subscribe {title}: {status}")
    print("READY", flush=True)
    uid = generate_uid()
    sys.stdin.readline()
    status, _ = assoc.send_n_create(ups_workitem(assigned=False), UPS_PUSH, uid)
    print(f"RSP {uid} SCHEDULED {time.monotonic():.6f}", flush=True)
    sys.stdin.readline()
    claim = Dataset()
    claim.ProcedureStepState = "IN PROGRESS"
    claim.TransactionUID = generate_uid()
    status, _ = assoc.send_n_action(claim, 1, UPS_PUSH, uid, meta_uid=UPS_PULL)
    print(f"RSP {uid} IN_PROGRESS {time.monotonic():.6f}", flush=True)
    sys.stdin.readline()
    assoc.release()


def _profiled(argv: list[str]) -> None:
    """Run the role under cProfile; dump the stats on exit or SIGTERM."""
    import cProfile
    import signal

    directory = os.environ["PEERS_PROFILE"]
    os.makedirs(directory, exist_ok=True)
    target = os.path.join(directory, f"{argv[0]}-{argv[1]}-{os.getpid()}.prof")
    profiler = cProfile.Profile()

    def dump(*_: Any) -> None:
        profiler.disable()
        profiler.dump_stats(target)
        os._exit(0)

    signal.signal(signal.SIGTERM, dump)
    profiler.enable()
    try:
        run(argv)
    finally:
        dump()


def main(argv: list[str]) -> None:
    raise_nofile()
    if os.environ.get("PEERS_PROFILE"):
        _profiled(argv)
    else:
        run(argv)


def _serve(argv: list[str]) -> None:
    if argv[1] == "aioups":
        serve_aioups(argv[2])
    else:
        serve_pynetdicom()


def _ups_server(argv: list[str]) -> None:
    if argv[1] == "aioups":
        serve_ups_aioups(argv[2], argv[3], *([int(a) for a in argv[4:6]] or [0, 0]))
    else:
        serve_ups_pynetdicom(argv[2], *([int(a) for a in argv[3:5]] or [0, 0]))


def _fanout_client(argv: list[str]) -> None:
    if argv[1] == "aioups":
        fanout_client_aioups(int(argv[2]), int(argv[3]), argv[4])
    else:
        fanout_client_pynetdicom(int(argv[2]), int(argv[3]))


def _dimse(argv: list[str]) -> None:
    role, impl, port, operations, outstanding = argv[0], argv[1], *map(int, argv[2:5])
    if impl == "aioups":
        rate, failed = dimse_aioups(role, port, operations, outstanding, argv[5])
    else:
        rate, failed = dimse_pynetdicom(role, port, operations)
    print(f"RATE {rate:.1f} FAILED {failed}", flush=True)


def _many(argv: list[str]) -> None:
    """echo and ups-create: ASSOCIATIONS x PER."""
    role, impl, port, associations, per = argv[0], argv[1], *map(int, argv[2:5])
    if role == "ups-create":
        rate, failed = (ups_create_aioups(port, associations, per, argv[5]) if impl == "aioups"
                        else ups_create_pynetdicom(port, associations, per))
    elif impl == "aioups":
        rate, failed = echo_aioups(port, associations, per, argv[5])
    else:
        rate, failed = echo_pynetdicom(port, associations, per)
    print(f"RATE {rate:.1f} FAILED {failed}", flush=True)


ROLES: dict[str, Any] = {
    "server": _serve,
    "ups-server": _ups_server,
    "fanout-client": _fanout_client,
    "n-create": _dimse,
    "n-get": _dimse,
    "echo": _many,
    "ups-create": _many,
    "hold": lambda argv: hold(int(argv[1]), int(argv[2]),
                              int(argv[3]) if len(argv) > 3 else 64),
    "probe": lambda argv: probe(int(argv[1])),
    "receiver": lambda argv: receiver(argv[1], int(argv[2])),
}


def run(argv: list[str]) -> None:
    ROLES[argv[0]](argv)


if __name__ == "__main__":
    main(sys.argv[1:])
