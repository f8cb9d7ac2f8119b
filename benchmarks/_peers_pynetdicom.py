"""The pynetdicom roles of ``peers.py``: servers (C-ECHO, N-CREATE, N-GET; the small UPS SCP
:class:`PynetdicomUPS`) and clients, one thread per association as pynetdicom's documentation
suggests."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from typing import Any

from _peers_common import (
    EXPLICIT_LE,
    HOST,
    IMPLICIT_LE,
    UPS_EVENT,
    UPS_GLOBAL,
    UPS_PULL,
    UPS_PUSH,
    UPS_WATCH,
    parse_store_spec,
    report_span,
    subscriber_titles,
    ups_workitem,
    wait_for_go,
    workitem,
)


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

        kind, synchronous, path = parse_store_spec(store_spec)
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
