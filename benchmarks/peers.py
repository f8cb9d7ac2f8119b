"""Processes for the benchmarks, one role each, so no two peers share a GIL.

    python benchmarks/peers.py server aioups|pynetdicom [BACKEND]
        prints ``PORT <n>`` once it listens on 127.0.0.1, then serves until killed: C-ECHO,
        and N-CREATE / N-GET of UPS workitems (``bench_dimse.py``).
    python benchmarks/peers.py echo aioups|pynetdicom PORT ASSOCIATIONS PER_ASSOCIATION [BACKEND]
        opens the associations, then times the C-ECHOs; prints ``RATE <echoes/s> FAILED <n>``.
    python benchmarks/peers.py n-create|n-get aioups|pynetdicom PORT OPERATIONS OUTSTANDING
                                                                                    [BACKEND]
        one association, OUTSTANDING requests in flight; prints ``RATE <ops/s> FAILED <n>``.
"""

from __future__ import annotations

import contextlib
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


UPS_PUSH = "1.2.840.10008.5.1.4.34.6.1"
UPS_PULL = "1.2.840.10008.5.1.4.34.6.3"
EXPLICIT_LE = "1.2.840.10008.1.2.1"


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

    ae = AE(ae_title="BENCH")
    ae.maximum_associations = 500  # the default of 10 would refuse the concurrent runs
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

    assocs = []
    for _ in range(associations):  # one AE and one thread per association
        ae = AE(ae_title="BENCHSCU")
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
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    rate = associations * per / (time.perf_counter() - started)
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

    ae = AE(ae_title="BENCHSCU")
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


def main(argv: list[str]) -> None:
    role, impl = argv[0], argv[1]
    if role == "server":
        serve_aioups(argv[2]) if impl == "aioups" else serve_pynetdicom()
        return
    if role in ("n-create", "n-get"):
        port, operations, outstanding = int(argv[2]), int(argv[3]), int(argv[4])
        if impl == "aioups":
            rate, failed = dimse_aioups(role, port, operations, outstanding, argv[5])
        else:
            rate, failed = dimse_pynetdicom(role, port, operations)
        print(f"RATE {rate:.1f} FAILED {failed}", flush=True)
        return
    port, associations, per = int(argv[2]), int(argv[3]), int(argv[4])
    if impl == "aioups":
        rate, failed = echo_aioups(port, associations, per, argv[5])
    else:
        rate, failed = echo_pynetdicom(port, associations, per)
    print(f"RATE {rate:.1f} FAILED {failed}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
