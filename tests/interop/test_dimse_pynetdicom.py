"""Every DIMSE service between aioups and pynetdicom, in every uncompressed transfer syntax, in
both roles, on asyncio and trio.

* aioups client -> pynetdicom SCP (:class:`PynetdicomSCP`, one threaded acceptor per module);
* pynetdicom SCU (in a worker thread, ``anyio.to_thread.run_sync``) -> aioups ``Server``.

Each test proposes exactly one transfer syntax per presentation context and checks that the
context was accepted with it, that the peer saw the request's fields and data set, and that the
response's fields and data set came back.  The failure tests check that Error Comment, Error ID,
Offending Element and Attribute Identifier List travel both ways.

Services: C-ECHO, C-FIND (several matches; C-CANCEL after the first), N-CREATE (with and
without Affected SOP Instance UID), N-SET, N-GET (Attribute Identifier List), N-ACTION,
N-EVENT-REPORT (both directions on one association, and with role selection), N-DELETE (on Basic
Film Session, since UPS has no N-DELETE).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
import pytest
from anyio.abc import TaskGroup
from helpers import peers
from helpers import pynetdicom_peers as pn
from helpers.pynetdicom_peers import (
    BASIC_FILM_SESSION,
    FAIL_INSTANCE_UID,
    FAILURE_ATTRIBUTES,
    FAILURE_COMMENT,
    FAILURE_ERROR_ID,
    FAILURE_STATUS,
    FIND_FAILURE_STATUS,
    FIND_OFFENDING,
    PynetdicomSCP,
    ResponseLog,
    as_dict,
    ups_instance,
)
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import generate_uid
from pynetdicom import AE, evt
from pynetdicom.association import Association as PynetdicomAssociation
from pynetdicom.events import Event
from pynetdicom.presentation import build_role

import aioups
from aioups import _uids
from aioups.dimse import (
    CEchoRQ,
    CEchoRSP,
    CFindRQ,
    NActionRQ,
    NActionRSP,
    NCreateRQ,
    NCreateRSP,
    NDeleteRQ,
    NDeleteRSP,
    NEventReportRQ,
    NEventReportRSP,
    NGetRQ,
    NGetRSP,
    NSetRQ,
    NSetRSP,
)
from aioups.errors import DIMSEFailure, DIMSEStatusError
from aioups.net import FindMatch, HandlerReturn, ServiceRequest
from aioups.ul import SupportedSyntax

pytestmark = [pytest.mark.interop, pytest.mark.anyio]

UPS_PUSH, UPS_PULL, UPS_WATCH = _uids.UPS_PUSH, _uids.UPS_PULL, _uids.UPS_WATCH
UPS_EVENT, UPS_QUERY, VERIFICATION = _uids.UPS_EVENT, _uids.UPS_QUERY, _uids.VERIFICATION
HOST = pn.HOST
#: bound on every test body
TEST_TIMEOUT = 15
TIMEOUTS = aioups.Timeouts(connect=5, accept=5, release=5, response=5, artim=5)
T = TypeVar("T")

TRANSFER_SYNTAX = pytest.mark.parametrize(
    "ts", list(pn.TRANSFER_SYNTAXES.values()), ids=list(pn.TRANSFER_SYNTAXES))

PATIENT_NAME, ROWS, SIMPLE_FRAME_LIST = 0x00100010, 0x00280010, 0x00081161
STATION_SEQUENCE, PATIENT_ID = 0x00404025, 0x00100020
#: the attributes N-GET asks for (one absent from the instance, which the SCP leaves out)
GET_ATTRIBUTES = (PATIENT_NAME, ROWS, SIMPLE_FRAME_LIST, STATION_SEQUENCE, 0x00081150)


def new_uid() -> str:
    """A fresh UID of odd length, so that its padding (UI: 00H) is exercised everywhere."""
    uid = str(generate_uid())
    return uid if len(uid) % 2 else uid[:-1]


def find_identifier(patient_id: str = "PID-42") -> Dataset:
    """A UPS C-FIND identifier: match on Patient ID, return name, state and label."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = ""
    ds.PatientID = patient_id
    ds.ProcedureStepState = ""
    ds.ProcedureStepLabel = ""
    return ds


def modifications() -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ProcedureStepLabel = "relabelled Ä"
    ds.Columns = 0x0A0B
    ds.SimpleFrameList = [0x11223344, 0x55667788]
    return ds


def action_information() -> Dataset:
    ds = Dataset()
    ds.ProcedureStepState = "IN PROGRESS"
    ds.TransactionUID = "1.2.826.0.1.3680043.10.543.5"
    return ds


def event_information() -> Dataset:
    ds = Dataset()
    ds.ProcedureStepState = "COMPLETED"
    ds.InputReadinessState = "READY"
    ds.Rows = 0x0506
    return ds


def expected(ds: Dataset, tags: Sequence[int]) -> dict[str, Any]:
    return as_dict(pn.select(ds, tags))


# -- direction 1: aioups client -> pynetdicom SCP ------------------------------------------------


@pytest.fixture(scope="module")
def scp_server(request: pytest.FixtureRequest) -> PynetdicomSCP:
    """One pynetdicom acceptor (threads in this process) for the module."""
    scp = PynetdicomSCP()
    scp.start()
    request.addfinalizer(scp.stop)
    return scp


@pytest.fixture
def scp(scp_server: PynetdicomSCP) -> Iterator[PynetdicomSCP]:
    """The module's pynetdicom acceptor with a clean record for this test."""
    scp_server.reset()
    yield scp_server
    scp_server.join_event_threads()


Proposal = str | aioups.PresentationContextProposal


@asynccontextmanager
async def to_pynetdicom(scp: PynetdicomSCP, ts: str, *proposals: Proposal,
                        handlers: dict[tuple[str, type], Any] | None = None,
                        ) -> AsyncIterator[aioups.Association]:
    """An aioups association to ``scp`` proposing each abstract syntax with ``ts`` only; checks
    that every context was accepted with it."""
    contexts = tuple(
        aioups.PresentationContextProposal(abstract_syntax=p, transfer_syntaxes=(ts,))
        if isinstance(p, str) else p for p in proposals)
    async with aioups.open_association(HOST, scp.port, called_ae_title=scp.ae_title,
                                       contexts=contexts, timeouts=TIMEOUTS,
                                       handlers=handlers) as assoc:
        negotiated = assoc.negotiated
        assert negotiated is not None
        assert negotiated.rejected == ()
        assert sorted(c.abstract_syntax for c in negotiated.contexts.values()) == sorted(
            c.abstract_syntax for c in contexts)
        assert {c.transfer_syntax for c in negotiated.contexts.values()} == {ts}
        yield assoc


def only(scp: PynetdicomSCP, service: str, ts: str) -> pn.Received:
    """The one request pynetdicom received, checked to be ``service`` in ``ts``."""
    received = scp.take()
    assert [r.service for r in received] == [service]
    assert received[0].transfer_syntax == ts
    return received[0]


@TRANSFER_SYNTAX
async def test_client_c_echo(scp: PynetdicomSCP, ts: str) -> None:
    with anyio.fail_after(TEST_TIMEOUT):
        async with to_pynetdicom(scp, ts, VERIFICATION) as assoc:
            response = await aioups.c_echo(assoc)
    assert response.status == aioups.Status.SUCCESS
    assert response.data_set is None
    assert only(scp, "C-ECHO", ts).sop_class_uid == VERIFICATION


@TRANSFER_SYNTAX
async def test_client_c_find_several_matches(scp: PynetdicomSCP, ts: str) -> None:
    identifier = find_identifier()
    with anyio.fail_after(TEST_TIMEOUT):
        async with to_pynetdicom(scp, ts, UPS_QUERY) as assoc:
            async with aioups.c_find(assoc, UPS_QUERY, identifier) as results:
                matches = [match async for match in results]
    assert results.final is not None and results.final.status == aioups.Status.SUCCESS
    assert results.final.data_set is None
    assert len(matches) == results.count == pn.FIND_MATCHES
    assert all(m.status == aioups.Status.PENDING for m in matches)
    for index, match in enumerate(matches):
        ds = match.data_set
        assert ds is not None
        assert ds.ProcedureStepLabel == f"match {index}"
        assert ds.PatientName == "Müller^Jürgen"
        assert ds.SOPInstanceUID == f"1.2.826.0.1.3680043.10.543.{index + 1}"
        assert match.message.affected_sop_class_uid == UPS_QUERY
    received = only(scp, "C-FIND", ts)
    assert received.sop_class_uid == UPS_QUERY
    assert as_dict(received.data_set) == as_dict(identifier)


@TRANSFER_SYNTAX
async def test_client_c_find_cancel(scp: PynetdicomSCP, ts: str) -> None:
    """C-CANCEL after the first match: pynetdicom notices it and ends with Cancel (FE00)."""
    with anyio.fail_after(TEST_TIMEOUT):
        async with to_pynetdicom(scp, ts, UPS_QUERY) as assoc:
            async with aioups.c_find(assoc, UPS_QUERY,
                                     find_identifier(pn.FIND_CANCEL_PATIENT_ID)) as results:
                matches = []
                async for match in results:
                    matches.append(match)
                    await results.cancel()
            # the association is still usable: an ordinary C-FIND afterwards
            async with aioups.c_find(assoc, UPS_QUERY, find_identifier()) as again:
                assert len([match async for match in again]) == pn.FIND_MATCHES
    assert len(matches) == 1
    assert results.final is not None and results.final.status == aioups.Status.CANCEL
    received = scp.take()
    assert [(r.service, r.transfer_syntax, r.cancelled) for r in received] == [
        ("C-FIND", ts, True), ("C-FIND", ts, False)]


@TRANSFER_SYNTAX
async def test_client_n_create_with_instance_uid(scp: PynetdicomSCP, ts: str) -> None:
    uid = new_uid()
    attributes = ups_instance(uid)
    with anyio.fail_after(TEST_TIMEOUT):
        async with to_pynetdicom(scp, ts, UPS_PUSH) as assoc:
            response = await aioups.n_create(assoc, UPS_PUSH, uid, attributes)
    assert response.status == aioups.Status.SUCCESS
    assert response.affected_sop_instance_uid == uid
    assert response.message.affected_sop_class_uid == UPS_PUSH
    assert as_dict(response.data_set) == as_dict(attributes)
    received = only(scp, "N-CREATE", ts)
    assert (received.sop_class_uid, received.sop_instance_uid) == (UPS_PUSH, uid)
    assert as_dict(received.data_set) == as_dict(attributes)


@TRANSFER_SYNTAX
async def test_client_n_create_without_instance_uid(scp: PynetdicomSCP, ts: str) -> None:
    """No Affected SOP Instance UID in the request: pynetdicom assigns one and returns it."""
    attributes = ups_instance(new_uid())
    del attributes.SOPInstanceUID
    with anyio.fail_after(TEST_TIMEOUT):
        async with to_pynetdicom(scp, ts, UPS_PUSH) as assoc:
            response = await aioups.n_create(assoc, UPS_PUSH, None, attributes)
    received = only(scp, "N-CREATE", ts)
    assert received.sop_instance_uid is None
    assert len(scp.assigned) == 1
    assert response.affected_sop_instance_uid == scp.assigned[0]
    assert response.data_set is not None
    assert "AffectedSOPInstanceUID" not in response.data_set
    assert as_dict(response.data_set) == as_dict(attributes)


@TRANSFER_SYNTAX
async def test_client_n_set(scp: PynetdicomSCP, ts: str) -> None:
    uid = new_uid()
    with anyio.fail_after(TEST_TIMEOUT):
        async with to_pynetdicom(scp, ts, UPS_PULL) as assoc:
            response = await aioups.n_set(assoc, UPS_PUSH, uid, modifications(),
                                          abstract_syntax=UPS_PULL)
    assert response.status == aioups.Status.SUCCESS
    assert response.affected_sop_instance_uid == uid
    assert as_dict(response.data_set) == as_dict(modifications())
    received = only(scp, "N-SET", ts)
    assert (received.sop_class_uid, received.sop_instance_uid) == (UPS_PUSH, uid)
    assert as_dict(received.data_set) == as_dict(modifications())


@TRANSFER_SYNTAX
async def test_client_n_get_attribute_list(scp: PynetdicomSCP, ts: str) -> None:
    uid = new_uid()
    with anyio.fail_after(TEST_TIMEOUT):
        async with to_pynetdicom(scp, ts, UPS_PULL) as assoc:
            response = await aioups.n_get(assoc, UPS_PUSH, uid, attributes=GET_ATTRIBUTES,
                                          abstract_syntax=UPS_PULL)
    assert response.status == aioups.Status.SUCCESS
    assert response.affected_sop_instance_uid == uid
    ds = response.data_set
    assert ds is not None
    assert as_dict(ds) == expected(ups_instance(uid), GET_ATTRIBUTES)
    assert ds.Rows == 0x0102 and list(ds.SimpleFrameList) == [0x01020304, 7]
    assert ds.ScheduledStationNameCodeSequence[0].CodeValue == "STATION1"
    received = only(scp, "N-GET", ts)
    assert received.attribute_identifiers == GET_ATTRIBUTES
    assert (received.sop_class_uid, received.sop_instance_uid) == (UPS_PUSH, uid)


@TRANSFER_SYNTAX
async def test_client_n_get_all_attributes(scp: PynetdicomSCP, ts: str) -> None:
    """No Attribute Identifier List: every attribute."""
    uid = new_uid()
    with anyio.fail_after(TEST_TIMEOUT):
        async with to_pynetdicom(scp, ts, UPS_PULL) as assoc:
            response = await aioups.n_get(assoc, UPS_PUSH, uid, abstract_syntax=UPS_PULL)
    assert as_dict(response.data_set) == as_dict(ups_instance(uid))
    assert only(scp, "N-GET", ts).attribute_identifiers == ()


@TRANSFER_SYNTAX
async def test_client_n_action(scp: PynetdicomSCP, ts: str) -> None:
    uid = new_uid()
    with anyio.fail_after(TEST_TIMEOUT):
        async with to_pynetdicom(scp, ts, UPS_PULL) as assoc:
            response = await aioups.n_action(assoc, UPS_PUSH, uid, 1, action_information(),
                                             abstract_syntax=UPS_PULL)
    assert response.status == aioups.Status.SUCCESS
    message = response.message
    assert isinstance(message, NActionRSP)
    assert (message.action_type_id, message.affected_sop_instance_uid) == (1, uid)
    assert as_dict(response.data_set) == {"ProcedureStepState": "IN PROGRESS",
                                          "TransactionUID": "1.2.826.0.1.3680043.10.543.7"}
    received = only(scp, "N-ACTION", ts)
    assert (received.type_id, received.sop_class_uid, received.sop_instance_uid) == (
        1, UPS_PUSH, uid)
    assert as_dict(received.data_set) == as_dict(action_information())


@TRANSFER_SYNTAX
async def test_client_sends_n_event_report(scp: PynetdicomSCP, ts: str) -> None:
    """aioups as UPS Event SCP (role selection) reports an event to pynetdicom."""
    uid = new_uid()
    proposal = aioups.PresentationContextProposal(abstract_syntax=UPS_EVENT,
                                                  transfer_syntaxes=(ts,), scu_role=False,
                                                  scp_role=True)
    with anyio.fail_after(TEST_TIMEOUT):
        async with to_pynetdicom(scp, ts, proposal) as assoc:
            context = assoc.context_for(UPS_EVENT, as_scp=True)
            assert not context.local_scu
            response = await aioups.n_event_report(assoc, UPS_PUSH, uid, pn.EVENT_TYPE_ID,
                                                   event_information(),
                                                   abstract_syntax=UPS_EVENT)
    assert response.status == aioups.Status.SUCCESS
    message = response.message
    assert isinstance(message, NEventReportRSP)
    assert (message.event_type_id, message.affected_sop_instance_uid) == (pn.EVENT_TYPE_ID, uid)
    assert as_dict(response.data_set) == {"ProcedureStepLabel": "event seen",
                                          "ProcedureStepState": "COMPLETED"}
    received = only(scp, "N-EVENT-REPORT", ts)
    assert (received.type_id, received.sop_class_uid, received.sop_instance_uid) == (
        pn.EVENT_TYPE_ID, UPS_PUSH, uid)
    assert as_dict(received.data_set) == as_dict(event_information())


@TRANSFER_SYNTAX
async def test_client_receives_n_event_report(scp: PynetdicomSCP, ts: str) -> None:
    """Subscribe (N-ACTION 3 on Watch): pynetdicom sends N-EVENT-REPORT back on the same
    association; our handler answers with an Event Reply."""
    uid = new_uid()
    got: list[ServiceRequest] = []
    arrived = anyio.Event()

    async def on_event(request: ServiceRequest) -> HandlerReturn:
        got.append(request)
        arrived.set()
        message = request.message
        assert isinstance(message, NEventReportRQ)
        reply = Dataset()
        reply.ProcedureStepLabel = "reply from aioups"
        reply.Rows = 0x0708
        return NEventReportRSP(message_id_being_responded_to=message.message_id,
                               affected_sop_class_uid=message.affected_sop_class_uid,
                               affected_sop_instance_uid=message.affected_sop_instance_uid,
                               event_type_id=message.event_type_id), reply

    with anyio.fail_after(TEST_TIMEOUT):
        async with to_pynetdicom(scp, ts, UPS_WATCH, UPS_EVENT,
                                 handlers={(UPS_EVENT, NEventReportRQ): on_event}) as assoc:
            response = await aioups.n_action(assoc, UPS_PUSH, uid, pn.EVENT_TRIGGER_ACTION,
                                             abstract_syntax=UPS_WATCH)
            assert response.status == aioups.Status.SUCCESS
            await arrived.wait()
            await anyio.to_thread.run_sync(scp.join_event_threads)
    [request] = got
    message = request.message
    assert isinstance(message, NEventReportRQ)
    assert request.context.transfer_syntax == ts
    assert request.context.abstract_syntax == UPS_EVENT
    assert (message.message_id, message.affected_sop_class_uid,
            message.affected_sop_instance_uid, message.event_type_id) == (
        77, UPS_PUSH, uid, pn.EVENT_TYPE_ID)
    assert as_dict(request.data_set) == {"InputReadinessState": "READY",
                                         "ProcedureStepState": "SCHEDULED"}
    [sent] = scp.events_sent
    assert sent.error is None
    assert sent.status is not None and pn.status_of(sent.status) == 0x0000
    assert as_dict(sent.reply) == {"ProcedureStepLabel": "reply from aioups", "Rows": 0x0708}


@TRANSFER_SYNTAX
async def test_client_n_delete(scp: PynetdicomSCP, ts: str) -> None:
    uid = new_uid()
    with anyio.fail_after(TEST_TIMEOUT):
        async with to_pynetdicom(scp, ts, BASIC_FILM_SESSION) as assoc:
            response = await aioups.n_delete(assoc, BASIC_FILM_SESSION, uid)
    assert response.status == aioups.Status.SUCCESS
    assert response.data_set is None
    received = only(scp, "N-DELETE", ts)
    assert (received.sop_class_uid, received.sop_instance_uid) == (BASIC_FILM_SESSION, uid)


# -- direction 1 failures: pynetdicom's status data set -> DIMSEFailure -------------------------

FAILING_CALLS: dict[str, tuple[str, Callable[[aioups.Association], Any]]] = {
    "n-create": (UPS_PUSH, lambda a: aioups.n_create(a, UPS_PUSH, FAIL_INSTANCE_UID,
                                                     ups_instance(FAIL_INSTANCE_UID))),
    "n-set": (UPS_PULL, lambda a: aioups.n_set(a, UPS_PUSH, FAIL_INSTANCE_UID, modifications(),
                                               abstract_syntax=UPS_PULL)),
    "n-get": (UPS_PULL, lambda a: aioups.n_get(a, UPS_PUSH, FAIL_INSTANCE_UID,
                                               attributes=(PATIENT_NAME,),
                                               abstract_syntax=UPS_PULL)),
    "n-action": (UPS_PULL, lambda a: aioups.n_action(a, UPS_PUSH, FAIL_INSTANCE_UID, 1,
                                                     action_information(),
                                                     abstract_syntax=UPS_PULL)),
    "n-delete": (BASIC_FILM_SESSION, lambda a: aioups.n_delete(a, BASIC_FILM_SESSION,
                                                               FAIL_INSTANCE_UID)),
}
#: the N-services whose responses carry Attribute Identifier List (DIMSE-13)
WITH_ATTRIBUTE_LIST = {"n-set", "n-get"}


@pytest.mark.parametrize("service", list(FAILING_CALLS))
async def test_client_n_failure_fields(scp: PynetdicomSCP, service: str) -> None:
    abstract, call = FAILING_CALLS[service]
    with anyio.fail_after(TEST_TIMEOUT):
        async with to_pynetdicom(scp, aioups.EXPLICIT_VR_LITTLE_ENDIAN, abstract) as assoc:
            with pytest.raises(DIMSEFailure) as caught:
                await call(assoc)
            assert assoc.is_established
    error = caught.value
    assert error.status == FAILURE_STATUS
    assert error.error_comment == FAILURE_COMMENT
    assert error.error_id == FAILURE_ERROR_ID
    expected_list = FAILURE_ATTRIBUTES if service in WITH_ATTRIBUTE_LIST else ()
    assert error.attribute_identifiers == expected_list
    response = error.response
    assert isinstance(response, aioups.DIMSEResponse)
    assert response.data_set is None
    assert response.category is aioups.StatusCategory.FAILURE


async def test_client_n_event_report_failure_fields(scp: PynetdicomSCP) -> None:
    ts = aioups.EXPLICIT_VR_LITTLE_ENDIAN
    proposal = aioups.PresentationContextProposal(abstract_syntax=UPS_EVENT,
                                                  transfer_syntaxes=(ts,), scu_role=False,
                                                  scp_role=True)
    with anyio.fail_after(TEST_TIMEOUT):
        async with to_pynetdicom(scp, ts, proposal) as assoc:
            with pytest.raises(DIMSEFailure) as caught:
                await aioups.n_event_report(assoc, UPS_PUSH, FAIL_INSTANCE_UID, 1,
                                            event_information(), abstract_syntax=UPS_EVENT)
    error = caught.value
    assert (error.status, error.error_comment, error.error_id) == (
        FAILURE_STATUS, FAILURE_COMMENT, FAILURE_ERROR_ID)


async def test_client_c_find_failure_fields(scp: PynetdicomSCP) -> None:
    with anyio.fail_after(TEST_TIMEOUT):
        async with to_pynetdicom(scp, aioups.IMPLICIT_VR_LITTLE_ENDIAN, UPS_QUERY) as assoc:
            with pytest.raises(DIMSEFailure) as caught:
                async with aioups.c_find(assoc, UPS_QUERY,
                                         find_identifier(pn.FIND_FAIL_PATIENT_ID)) as results:
                    async for _ in results:
                        pytest.fail("no match expected")
            assert assoc.is_established
    error = caught.value
    assert error.status == FIND_FAILURE_STATUS
    assert error.error_comment == FAILURE_COMMENT
    assert error.offending_elements == FIND_OFFENDING
    assert results.count == 0


# -- direction 2: pynetdicom SCU (worker thread) -> aioups Server --------------------------------


class AioupsSCP:
    """Handlers for an aioups ``Server`` that record each request and answer like
    :class:`PynetdicomSCP` does (failures for :data:`FAIL_INSTANCE_UID`)."""

    def __init__(self, events_to: TaskGroup | None = None) -> None:
        self.requests: list[ServiceRequest] = []
        self.assigned: list[str] = []
        self.events_to = events_to
        #: responses to the N-EVENT-REPORTs the server sent (see ``on_watch_action``)
        self.event_responses: list[aioups.DIMSEResponse] = []
        self.event_done = threading.Event()
        self.find_cancelled = False

    def config(self) -> aioups.ServerConfig:
        handlers: dict[tuple[str, type], Any] = {
            (VERIFICATION, CEchoRQ): self.on_echo,
            (UPS_QUERY, CFindRQ): self.on_find,
            (UPS_PUSH, NCreateRQ): self.on_create,
            (UPS_PULL, NSetRQ): self.on_set,
            (UPS_PULL, NGetRQ): self.on_get,
            (UPS_PULL, NActionRQ): self.on_action,
            (UPS_WATCH, NActionRQ): self.on_watch_action,
            (UPS_EVENT, NEventReportRQ): self.on_event_report,
            (BASIC_FILM_SESSION, NDeleteRQ): self.on_delete,
        }
        supported = {abstract: SupportedSyntax() for abstract, _ in handlers}
        supported[UPS_EVENT] = SupportedSyntax(scu_role=True, scp_role=True)
        return aioups.ServerConfig(ae_title="AIOUPS", handlers=handlers, supported=supported,
                                   timeouts=aioups.Timeouts(response=5, release=5, artim=5))

    @staticmethod
    def _fail_if_asked(instance_uid: str | None) -> None:
        if instance_uid == FAIL_INSTANCE_UID:
            raise DIMSEStatusError(FAILURE_STATUS, FAILURE_COMMENT, error_id=FAILURE_ERROR_ID,
                                   offending_elements=(PATIENT_NAME,),
                                   attribute_identifiers=FAILURE_ATTRIBUTES)

    def only(self, request_type: type, ts: str) -> ServiceRequest:
        assert [type(r.message) for r in self.requests] == [request_type]
        assert self.requests[0].context.transfer_syntax == ts
        return self.requests[0]

    async def on_echo(self, request: ServiceRequest) -> HandlerReturn:
        self.requests.append(request)
        message = request.message
        assert isinstance(message, CEchoRQ)
        return CEchoRSP(message_id_being_responded_to=message.message_id)

    async def on_find(self, request: ServiceRequest) -> AsyncIterator[FindMatch]:
        self.requests.append(request)
        identifier = request.data_set
        assert identifier is not None
        if identifier.PatientID == pn.FIND_FAIL_PATIENT_ID:
            raise DIMSEStatusError(FIND_FAILURE_STATUS, FAILURE_COMMENT,
                                   offending_elements=FIND_OFFENDING)
        count = 1 if identifier.PatientID == pn.FIND_CANCEL_PATIENT_ID else pn.FIND_MATCHES
        for index in range(count):
            match = pn.select(ups_instance(f"1.2.826.0.1.3680043.10.543.{index + 1}"),
                              [int(elem.tag) for elem in identifier] + [0x00080018])
            match.ProcedureStepLabel = f"match {index}"
            yield match
        if identifier.PatientID == pn.FIND_CANCEL_PATIENT_ID:
            with anyio.fail_after(5):
                await request.wait_cancelled()
            self.find_cancelled = request.cancelled

    async def on_create(self, request: ServiceRequest) -> HandlerReturn:
        self.requests.append(request)
        message = request.message
        assert isinstance(message, NCreateRQ)
        self._fail_if_asked(message.affected_sop_instance_uid)
        uid = message.affected_sop_instance_uid
        if uid is None:
            uid = new_uid()
            self.assigned.append(uid)
        assert request.data_set is not None
        reply = pn.copy_dataset(request.data_set)
        reply.ProcedureStepState = "SCHEDULED"
        return NCreateRSP(message_id_being_responded_to=message.message_id,
                          affected_sop_class_uid=message.affected_sop_class_uid,
                          affected_sop_instance_uid=uid), reply

    async def on_set(self, request: ServiceRequest) -> HandlerReturn:
        self.requests.append(request)
        message = request.message
        assert isinstance(message, NSetRQ)
        self._fail_if_asked(message.requested_sop_instance_uid)
        return NSetRSP(message_id_being_responded_to=message.message_id,
                       affected_sop_class_uid=message.requested_sop_class_uid,
                       affected_sop_instance_uid=message.requested_sop_instance_uid,
                       ), request.data_set

    async def on_get(self, request: ServiceRequest) -> HandlerReturn:
        self.requests.append(request)
        message = request.message
        assert isinstance(message, NGetRQ)
        self._fail_if_asked(message.requested_sop_instance_uid)
        instance = ups_instance(message.requested_sop_instance_uid)
        return NGetRSP(message_id_being_responded_to=message.message_id,
                       affected_sop_class_uid=message.requested_sop_class_uid,
                       affected_sop_instance_uid=message.requested_sop_instance_uid,
                       ), pn.select(instance, message.attribute_identifier_list)

    async def on_action(self, request: ServiceRequest) -> HandlerReturn:
        self.requests.append(request)
        message = request.message
        assert isinstance(message, NActionRQ)
        self._fail_if_asked(message.requested_sop_instance_uid)
        reply = Dataset()
        reply.TransactionUID = "1.2.826.0.1.3680043.10.543.7"
        reply.ProcedureStepState = (request.data_set or Dataset()).get("ProcedureStepState",
                                                                       "")
        return NActionRSP(message_id_being_responded_to=message.message_id,
                          affected_sop_class_uid=message.requested_sop_class_uid,
                          affected_sop_instance_uid=message.requested_sop_instance_uid,
                          action_type_id=message.action_type_id), reply

    async def on_watch_action(self, request: ServiceRequest) -> HandlerReturn:
        """Subscribe: answer, and send an N-EVENT-REPORT on the same association from a task
        of the test (the handler must answer first: the peer is synchronous)."""
        message = request.message
        assert isinstance(message, NActionRQ)
        assert self.events_to is not None
        self.events_to.start_soon(self._report_event, request.association,
                                  message.requested_sop_instance_uid)
        return await self.on_action(request)

    async def _report_event(self, association: aioups.Association, instance: str) -> None:
        try:
            self.event_responses.append(await aioups.n_event_report(
                association, UPS_PUSH, instance, pn.EVENT_TYPE_ID, event_information(),
                abstract_syntax=UPS_EVENT))
        finally:
            self.event_done.set()

    async def on_event_report(self, request: ServiceRequest) -> HandlerReturn:
        self.requests.append(request)
        message = request.message
        assert isinstance(message, NEventReportRQ)
        self._fail_if_asked(message.affected_sop_instance_uid)
        reply = Dataset()
        reply.ProcedureStepLabel = "event seen by aioups"
        return NEventReportRSP(message_id_being_responded_to=message.message_id,
                               affected_sop_class_uid=message.affected_sop_class_uid,
                               affected_sop_instance_uid=message.affected_sop_instance_uid,
                               event_type_id=message.event_type_id), reply

    async def on_delete(self, request: ServiceRequest) -> HandlerReturn:
        self.requests.append(request)
        message = request.message
        assert isinstance(message, NDeleteRQ)
        self._fail_if_asked(message.requested_sop_instance_uid)
        return NDeleteRSP(message_id_being_responded_to=message.message_id,
                          affected_sop_class_uid=message.requested_sop_class_uid,
                          affected_sop_instance_uid=message.requested_sop_instance_uid)


async def from_pynetdicom(handlers: AioupsSCP, contexts: Sequence[tuple[str, str]],
                          work: Callable[[PynetdicomAssociation], T], **options: Any) -> T:
    """Serve ``handlers`` with aioups and run ``work`` on a pynetdicom association to it, in a
    worker thread; checks that the contexts were accepted as proposed."""
    def checked(assoc: PynetdicomAssociation) -> T:
        accepted = sorted((str(cx.abstract_syntax), str(cx.transfer_syntax[0]))
                          for cx in assoc.accepted_contexts)
        assert accepted == sorted(contexts)
        return work(assoc)

    async with peers.serving(handlers.config()) as (server, port):
        result = await anyio.to_thread.run_sync(
            functools.partial(pn.run_scu, port, contexts, checked, **options))
        stats = server.statistics()
    assert (stats.accepted, stats.rejected) == (1, 0)
    return result


@TRANSFER_SYNTAX
async def test_server_c_echo(ts: str) -> None:
    handlers = AioupsSCP()
    with anyio.fail_after(TEST_TIMEOUT):
        status = await from_pynetdicom(handlers, [(VERIFICATION, ts)],
                                       lambda assoc: assoc.send_c_echo())
    assert pn.status_of(status) == 0x0000
    handlers.only(CEchoRQ, ts)


@TRANSFER_SYNTAX
async def test_server_c_find_several_matches(ts: str) -> None:
    handlers = AioupsSCP()
    identifier = find_identifier()

    def work(assoc: PynetdicomAssociation) -> list[tuple[int, Dataset | None]]:
        return [(pn.status_of(status), found)
                for status, found in assoc.send_c_find(identifier, UPS_QUERY)]

    with anyio.fail_after(TEST_TIMEOUT):
        responses = await from_pynetdicom(handlers, [(UPS_QUERY, ts)], work)
    assert [status for status, _ in responses] == [0xFF00] * pn.FIND_MATCHES + [0x0000]
    assert responses[-1][1] is None
    for index, (_, found) in enumerate(responses[:-1]):
        assert found is not None
        assert found.ProcedureStepLabel == f"match {index}"
        assert found.PatientName == "Müller^Jürgen"
        assert found.SOPInstanceUID == f"1.2.826.0.1.3680043.10.543.{index + 1}"
    request = handlers.only(CFindRQ, ts)
    assert as_dict(request.data_set) == as_dict(identifier)


@TRANSFER_SYNTAX
async def test_server_c_find_cancel(ts: str) -> None:
    handlers = AioupsSCP()

    def work(assoc: PynetdicomAssociation) -> list[int]:
        statuses = []
        for status, _ in assoc.send_c_find(find_identifier(pn.FIND_CANCEL_PATIENT_ID),
                                           UPS_QUERY, msg_id=9):
            statuses.append(pn.status_of(status))
            if statuses == [0xFF00]:
                assoc.send_c_cancel(9, query_model=UPS_QUERY)
        return statuses

    with anyio.fail_after(TEST_TIMEOUT):
        statuses = await from_pynetdicom(handlers, [(UPS_QUERY, ts)], work)
    assert statuses == [0xFF00, 0xFE00]
    assert handlers.find_cancelled
    handlers.only(CFindRQ, ts)


@TRANSFER_SYNTAX
async def test_server_n_create_with_instance_uid(ts: str) -> None:
    handlers = AioupsSCP()
    uid = new_uid()
    attributes = ups_instance(uid)
    log = ResponseLog()
    with anyio.fail_after(TEST_TIMEOUT):
        status, reply = await from_pynetdicom(
            handlers, [(UPS_PUSH, ts)],
            lambda assoc: assoc.send_n_create(attributes, UPS_PUSH, uid),
            evt_handlers=[(evt.EVT_DIMSE_RECV, log.handler)])
    assert pn.status_of(status) == 0x0000
    assert as_dict(reply) == as_dict(attributes)
    [command] = log.commands
    assert (command.AffectedSOPClassUID, command.AffectedSOPInstanceUID) == (UPS_PUSH, uid)
    request = handlers.only(NCreateRQ, ts)
    assert isinstance(request.message, NCreateRQ)
    assert request.message.affected_sop_instance_uid == uid
    assert as_dict(request.data_set) == as_dict(attributes)


@TRANSFER_SYNTAX
async def test_server_n_create_without_instance_uid(ts: str) -> None:
    """No Affected SOP Instance UID in the request: our handler assigns one, and it reaches
    pynetdicom in the N-CREATE-RSP command set."""
    handlers = AioupsSCP()
    attributes = ups_instance(new_uid())
    del attributes.SOPInstanceUID
    log = ResponseLog()
    with anyio.fail_after(TEST_TIMEOUT):
        status, reply = await from_pynetdicom(
            handlers, [(UPS_PUSH, ts)],
            lambda assoc: assoc.send_n_create(attributes, UPS_PUSH),
            evt_handlers=[(evt.EVT_DIMSE_RECV, log.handler)])
    assert pn.status_of(status) == 0x0000
    assert as_dict(reply) == as_dict(attributes)
    request = handlers.only(NCreateRQ, ts)
    assert isinstance(request.message, NCreateRQ)
    assert request.message.affected_sop_instance_uid is None
    [command] = log.commands
    assert command.AffectedSOPInstanceUID == handlers.assigned[0]


@TRANSFER_SYNTAX
async def test_server_n_set(ts: str) -> None:
    handlers = AioupsSCP()
    uid = new_uid()
    with anyio.fail_after(TEST_TIMEOUT):
        status, reply = await from_pynetdicom(
            handlers, [(UPS_PULL, ts)],
            lambda assoc: assoc.send_n_set(modifications(), UPS_PUSH, uid, meta_uid=UPS_PULL))
    assert pn.status_of(status) == 0x0000
    assert as_dict(reply) == as_dict(modifications())
    request = handlers.only(NSetRQ, ts)
    assert isinstance(request.message, NSetRQ)
    assert (request.message.requested_sop_class_uid,
            request.message.requested_sop_instance_uid) == (UPS_PUSH, uid)
    assert as_dict(request.data_set) == as_dict(modifications())


@TRANSFER_SYNTAX
async def test_server_n_get_attribute_list(ts: str) -> None:
    handlers = AioupsSCP()
    uid = new_uid()
    log = ResponseLog()
    with anyio.fail_after(TEST_TIMEOUT):
        status, attributes = await from_pynetdicom(
            handlers, [(UPS_PULL, ts)],
            lambda assoc: assoc.send_n_get([Tag(t) for t in GET_ATTRIBUTES], UPS_PUSH, uid,
                                           meta_uid=UPS_PULL),
            evt_handlers=[(evt.EVT_DIMSE_RECV, log.handler)])
    assert pn.status_of(status) == 0x0000
    assert attributes is not None
    assert as_dict(attributes) == expected(ups_instance(uid), GET_ATTRIBUTES)
    assert attributes.Rows == 0x0102 and list(attributes.SimpleFrameList) == [0x01020304, 7]
    [command] = log.commands
    assert (command.AffectedSOPClassUID, command.AffectedSOPInstanceUID) == (UPS_PUSH, uid)
    request = handlers.only(NGetRQ, ts)
    assert isinstance(request.message, NGetRQ)
    assert request.message.attribute_identifier_list == GET_ATTRIBUTES


@TRANSFER_SYNTAX
async def test_server_n_action(ts: str) -> None:
    handlers = AioupsSCP()
    uid = new_uid()
    log = ResponseLog()
    with anyio.fail_after(TEST_TIMEOUT):
        status, reply = await from_pynetdicom(
            handlers, [(UPS_PULL, ts)],
            lambda assoc: assoc.send_n_action(action_information(), 1, UPS_PUSH, uid,
                                              meta_uid=UPS_PULL),
            evt_handlers=[(evt.EVT_DIMSE_RECV, log.handler)])
    assert pn.status_of(status) == 0x0000
    assert as_dict(reply) == {"ProcedureStepState": "IN PROGRESS",
                              "TransactionUID": "1.2.826.0.1.3680043.10.543.7"}
    [command] = log.commands
    assert (command.ActionTypeID, command.AffectedSOPInstanceUID) == (1, uid)
    request = handlers.only(NActionRQ, ts)
    assert isinstance(request.message, NActionRQ)
    assert (request.message.action_type_id, request.message.requested_sop_instance_uid) == (
        1, uid)
    assert as_dict(request.data_set) == as_dict(action_information())


@TRANSFER_SYNTAX
async def test_server_sends_n_event_report(ts: str) -> None:
    """pynetdicom subscribes (N-ACTION 3 on Watch); our server then reports an event to it on
    the same association (pynetdicom is Event SCU, the default role)."""
    uid = new_uid()
    seen: list[Event] = []
    infos: list[Dataset] = []

    def on_event(event: Event) -> tuple[int, Dataset]:
        seen.append(event)
        infos.append(event.event_information)
        reply = Dataset()
        reply.ProcedureStepLabel = "reply from pynetdicom"
        reply.Rows = 0x0908
        return 0x0000, reply

    async with anyio.create_task_group() as tg:
        handlers = AioupsSCP(events_to=tg)

        def work(assoc: PynetdicomAssociation) -> tuple[Dataset, Dataset | None]:
            result = assoc.send_n_action(None, pn.EVENT_TRIGGER_ACTION, UPS_PUSH, uid,
                                         meta_uid=UPS_WATCH)
            # wait until our server has the N-EVENT-REPORT-RSP, then release
            assert handlers.event_done.wait(pn.PEER_TIMEOUT)
            return result

        with anyio.fail_after(TEST_TIMEOUT):
            status, _ = await from_pynetdicom(
                handlers, [(UPS_WATCH, ts), (UPS_EVENT, ts)], work,
                evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_event)])
    assert pn.status_of(status) == 0x0000
    [response] = handlers.event_responses
    assert response.status == aioups.Status.SUCCESS
    assert response.transfer_syntax == ts
    assert as_dict(response.data_set) == {"ProcedureStepLabel": "reply from pynetdicom",
                                          "Rows": 0x0908}
    [event] = seen
    assert str(event.context.abstract_syntax) == UPS_EVENT
    assert str(event.context.transfer_syntax) == ts
    assert event.event_type == pn.EVENT_TYPE_ID
    request = event.request
    assert str(getattr(request, "AffectedSOPInstanceUID", "")) == uid
    assert as_dict(infos[0]) == as_dict(event_information())


@TRANSFER_SYNTAX
async def test_server_receives_n_event_report_with_role_selection(ts: str) -> None:
    """pynetdicom proposes UPS Event as SCP only (role selection) and reports an event."""
    handlers = AioupsSCP()
    uid = new_uid()
    with anyio.fail_after(TEST_TIMEOUT):
        status, reply = await from_pynetdicom(
            handlers, [(UPS_EVENT, ts)],
            lambda assoc: assoc.send_n_event_report(event_information(), pn.EVENT_TYPE_ID,
                                                    UPS_PUSH, uid, meta_uid=UPS_EVENT),
            roles=[build_role(UPS_EVENT, scu_role=False, scp_role=True)])
    assert pn.status_of(status) == 0x0000
    assert as_dict(reply) == {"ProcedureStepLabel": "event seen by aioups"}
    request = handlers.only(NEventReportRQ, ts)
    message = request.message
    assert isinstance(message, NEventReportRQ)
    assert (message.affected_sop_class_uid, message.affected_sop_instance_uid,
            message.event_type_id) == (UPS_PUSH, uid, pn.EVENT_TYPE_ID)
    assert request.context.local_scu and not request.context.local_scp
    assert as_dict(request.data_set) == as_dict(event_information())


@TRANSFER_SYNTAX
async def test_server_n_delete(ts: str) -> None:
    handlers = AioupsSCP()
    uid = new_uid()
    with anyio.fail_after(TEST_TIMEOUT):
        status = await from_pynetdicom(
            handlers, [(BASIC_FILM_SESSION, ts)],
            lambda assoc: assoc.send_n_delete(BASIC_FILM_SESSION, uid))
    assert pn.status_of(status) == 0x0000
    request = handlers.only(NDeleteRQ, ts)
    assert isinstance(request.message, NDeleteRQ)
    assert request.message.requested_sop_instance_uid == uid


# -- direction 2 failures: DIMSEStatusError in our handler -> pynetdicom ------------------------

SCU_FAILING_CALLS: dict[str, tuple[str, type, Callable[[PynetdicomAssociation], Any]]] = {
    "n-create": (UPS_PUSH, NCreateRQ, lambda a: a.send_n_create(
        ups_instance(FAIL_INSTANCE_UID), UPS_PUSH, FAIL_INSTANCE_UID)),
    "n-set": (UPS_PULL, NSetRQ, lambda a: a.send_n_set(
        modifications(), UPS_PUSH, FAIL_INSTANCE_UID, meta_uid=UPS_PULL)),
    "n-get": (UPS_PULL, NGetRQ, lambda a: a.send_n_get(
        [Tag(PATIENT_NAME)], UPS_PUSH, FAIL_INSTANCE_UID, meta_uid=UPS_PULL)),
    "n-action": (UPS_PULL, NActionRQ, lambda a: a.send_n_action(
        action_information(), 1, UPS_PUSH, FAIL_INSTANCE_UID, meta_uid=UPS_PULL)),
    "n-delete": (BASIC_FILM_SESSION, NDeleteRQ, lambda a: a.send_n_delete(
        BASIC_FILM_SESSION, FAIL_INSTANCE_UID)),
}


@pytest.mark.parametrize("service", list(SCU_FAILING_CALLS))
async def test_server_n_failure_fields(service: str) -> None:
    abstract, request_type, call = SCU_FAILING_CALLS[service]
    handlers = AioupsSCP()
    log = ResponseLog()
    ts = aioups.EXPLICIT_VR_LITTLE_ENDIAN
    with anyio.fail_after(TEST_TIMEOUT):
        result = await from_pynetdicom(handlers, [(abstract, ts)], call,
                                       evt_handlers=[(evt.EVT_DIMSE_RECV, log.handler)])
    status = result if isinstance(result, Dataset) else result[0]
    assert pn.status_of(status) == FAILURE_STATUS
    assert status.ErrorComment == FAILURE_COMMENT
    assert status.ErrorID == FAILURE_ERROR_ID
    if service in WITH_ATTRIBUTE_LIST:
        assert pn.tag_list(status.AttributeIdentifierList) == FAILURE_ATTRIBUTES
    if not isinstance(result, Dataset):
        assert result[1] is None
    # what arrived on the wire, beyond what pynetdicom reports in its status data set
    [command] = log.commands
    assert command.CommandDataSetType == 0x0101
    assert pn.tag_list(command.OffendingElement) == (PATIENT_NAME,)
    assert command.ErrorComment == FAILURE_COMMENT
    assert command.ErrorID == FAILURE_ERROR_ID
    handlers.only(request_type, ts)


async def test_server_n_event_report_failure_fields() -> None:
    handlers = AioupsSCP()
    ts = aioups.DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN
    with anyio.fail_after(TEST_TIMEOUT):
        status, reply = await from_pynetdicom(
            handlers, [(UPS_EVENT, ts)],
            lambda assoc: assoc.send_n_event_report(event_information(), 1, UPS_PUSH,
                                                    FAIL_INSTANCE_UID, meta_uid=UPS_EVENT),
            roles=[build_role(UPS_EVENT, scu_role=False, scp_role=True)])
    assert pn.status_of(status) == FAILURE_STATUS
    assert (status.ErrorComment, status.ErrorID) == (FAILURE_COMMENT, FAILURE_ERROR_ID)
    assert reply is None


async def test_server_c_find_failure_fields() -> None:
    handlers = AioupsSCP()
    ts = aioups.EXPLICIT_VR_BIG_ENDIAN

    def work(assoc: PynetdicomAssociation) -> list[tuple[Dataset, Dataset | None]]:
        return list(assoc.send_c_find(find_identifier(pn.FIND_FAIL_PATIENT_ID), UPS_QUERY))

    with anyio.fail_after(TEST_TIMEOUT):
        [(status, identifier)] = await from_pynetdicom(handlers, [(UPS_QUERY, ts)], work)
    assert pn.status_of(status) == FIND_FAILURE_STATUS
    assert status.ErrorComment == FAILURE_COMMENT
    assert pn.tag_list(status.OffendingElement) == FIND_OFFENDING
    assert identifier is None
    handlers.only(CFindRQ, ts)


# -- more: large data sets, early exit, warnings, roles, aborts, message IDs ----------------------


def large_modifications() -> Dataset:
    """A Modification List of about 300 KB: many P-DATA-TF PDUs in each direction."""
    ds = modifications()
    ds.add_new(0x00420011, "OB", bytes(range(256)) * 800)  # Encapsulated Document
    ds.add_new(0x00081161, "UL", list(range(15000)))  # Simple Frame List, 60 KB
    ds.TextValue = "latin-1 text: Ünïcode-free. " * 2000 + "End"  # UT
    return ds


@TRANSFER_SYNTAX
async def test_client_n_set_large(scp: PynetdicomSCP, ts: str) -> None:
    uid = new_uid()
    with anyio.fail_after(TEST_TIMEOUT):
        async with to_pynetdicom(scp, ts, UPS_PULL) as assoc:
            response = await aioups.n_set(assoc, UPS_PUSH, uid, large_modifications(),
                                          abstract_syntax=UPS_PULL)
    assert as_dict(response.data_set) == as_dict(large_modifications())
    assert as_dict(only(scp, "N-SET", ts).data_set) == as_dict(large_modifications())


@TRANSFER_SYNTAX
async def test_server_n_set_large(ts: str) -> None:
    handlers = AioupsSCP()
    uid = new_uid()
    with anyio.fail_after(TEST_TIMEOUT):
        status, reply = await from_pynetdicom(
            handlers, [(UPS_PULL, ts)],
            lambda assoc: assoc.send_n_set(large_modifications(), UPS_PUSH, uid,
                                           meta_uid=UPS_PULL))
    assert pn.status_of(status) == 0x0000
    assert as_dict(reply) == as_dict(large_modifications())
    assert as_dict(handlers.only(NSetRQ, ts).data_set) == as_dict(large_modifications())


async def test_client_c_find_leave_block_early(scp: PynetdicomSCP) -> None:
    ts = aioups.EXPLICIT_VR_LITTLE_ENDIAN
    with anyio.fail_after(TEST_TIMEOUT):
        async with to_pynetdicom(scp, ts, UPS_QUERY) as assoc:
            async with aioups.c_find(assoc, UPS_QUERY,
                                     find_identifier(pn.FIND_CANCEL_PATIENT_ID)) as results:
                async for _ in results:
                    break
            async with aioups.c_find(assoc, UPS_QUERY, find_identifier()) as again:
                matches = [match async for match in again]
            assert again.final is not None and again.final.status == aioups.Status.SUCCESS
    assert [m.data_set.ProcedureStepLabel for m in matches if m.data_set is not None] == [
        f"match {i}" for i in range(pn.FIND_MATCHES)]
    received = scp.take()
    assert [r.cancelled for r in received] == [True, False]


async def test_client_empty_action_information(scp: PynetdicomSCP) -> None:
    ts = aioups.DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN
    with anyio.fail_after(TEST_TIMEOUT):
        async with to_pynetdicom(scp, ts, UPS_PULL) as assoc:
            response = await aioups.n_action(assoc, UPS_PUSH, new_uid(), 1, Dataset(),
                                             abstract_syntax=UPS_PULL)
    assert response.status == aioups.Status.SUCCESS
    assert as_dict(only(scp, "N-ACTION", ts).data_set) == {}


@TRANSFER_SYNTAX
async def test_server_sends_n_event_report_before_answering(ts: str) -> None:
    """Our N-ACTION handler reports an event and waits for its reply before it answers:
    pynetdicom answers the N-EVENT-REPORT while its own N-ACTION is outstanding."""
    uid = new_uid()
    seen: list[int | None] = []

    def on_event(event: Event) -> tuple[int, Dataset]:
        seen.append(event.event_type)
        reply = Dataset()
        reply.ProcedureStepLabel = "early reply"
        return 0x0000, reply

    class Early(AioupsSCP):
        async def on_watch_action(self, request: ServiceRequest) -> HandlerReturn:
            message = request.message
            assert isinstance(message, NActionRQ)
            await self._report_event(request.association, message.requested_sop_instance_uid)
            return await self.on_action(request)

    handlers = Early()
    with anyio.fail_after(TEST_TIMEOUT):
        status, _ = await from_pynetdicom(
            handlers, [(UPS_WATCH, ts), (UPS_EVENT, ts)],
            lambda assoc: assoc.send_n_action(None, pn.EVENT_TRIGGER_ACTION, UPS_PUSH, uid,
                                              meta_uid=UPS_WATCH),
            evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_event)])
    assert pn.status_of(status) == 0x0000
    assert seen == [pn.EVENT_TYPE_ID]
    [response] = handlers.event_responses
    assert as_dict(response.data_set) == {"ProcedureStepLabel": "early reply"}


async def test_client_event_handler_failure_reaches_pynetdicom(scp: PynetdicomSCP) -> None:
    """Our Event SCU handler raises DIMSEStatusError: pynetdicom gets its status and comment."""
    arrived = anyio.Event()

    async def on_event(request: ServiceRequest) -> HandlerReturn:
        arrived.set()
        raise DIMSEStatusError(0x0113, "no such event type here", error_id=3)

    ts = aioups.IMPLICIT_VR_LITTLE_ENDIAN
    with anyio.fail_after(TEST_TIMEOUT):
        async with to_pynetdicom(scp, ts, UPS_WATCH, UPS_EVENT,
                                 handlers={(UPS_EVENT, NEventReportRQ): on_event}) as assoc:
            await aioups.n_action(assoc, UPS_PUSH, new_uid(), pn.EVENT_TRIGGER_ACTION,
                                  abstract_syntax=UPS_WATCH)
            await arrived.wait()
            await anyio.to_thread.run_sync(scp.join_event_threads)
    [sent] = scp.events_sent
    assert sent.status is not None and pn.status_of(sent.status) == 0x0113
    assert (sent.status.ErrorComment, sent.status.ErrorID) == ("no such event type here", 3)
    assert sent.reply is None


@pytest.mark.parametrize("status", [0x0107, 0x0001], ids=["attribute-list-error", "warning"])
async def test_client_n_get_warning(scp: PynetdicomSCP, status: int) -> None:
    """A warning is not a failure: the Attribute List and the error fields both arrive."""

    uid = new_uid()
    original = scp.server
    assert original is not None

    def on_get(event: Event) -> tuple[Dataset, Dataset]:
        result = Dataset()
        result.Status = status
        result.AttributeIdentifierList = [0x00081150]
        result.ErrorComment = "one attribute unknown"
        return result, pn.select(ups_instance(uid), [PATIENT_NAME])

    original.bind(evt.EVT_N_GET, on_get)
    try:
        with anyio.fail_after(TEST_TIMEOUT):
            async with to_pynetdicom(scp, aioups.EXPLICIT_VR_BIG_ENDIAN, UPS_PULL) as assoc:
                response = await aioups.n_get(assoc, UPS_PUSH, uid,
                                              attributes=(PATIENT_NAME, 0x00081150),
                                              abstract_syntax=UPS_PULL)
    finally:
        original.bind(evt.EVT_N_GET, scp._on_get)
    assert response.status == status
    assert response.category is aioups.StatusCategory.WARNING
    assert response.attribute_identifiers == (0x00081150,)
    assert response.error_comment == "one attribute unknown"
    assert as_dict(response.data_set) == {"PatientName": "Müller^Jürgen"}


async def test_server_n_get_warning() -> None:
    class Warns(AioupsSCP):
        async def on_get(self, request: ServiceRequest) -> HandlerReturn:
            message = request.message
            assert isinstance(message, NGetRQ)
            return NGetRSP(message_id_being_responded_to=message.message_id, status=0x0107,
                           attribute_identifier_list=(0x00081150,),
                           error_comment="one attribute unknown"), pn.select(
                ups_instance(message.requested_sop_instance_uid), [PATIENT_NAME])

    ts = aioups.EXPLICIT_VR_BIG_ENDIAN
    with anyio.fail_after(TEST_TIMEOUT):
        status, attributes = await from_pynetdicom(
            Warns(), [(UPS_PULL, ts)],
            lambda assoc: assoc.send_n_get([Tag(PATIENT_NAME), Tag(0x00081150)], UPS_PUSH,
                                           new_uid(), meta_uid=UPS_PULL))
    assert pn.status_of(status) == 0x0107
    assert pn.tag_list(status.AttributeIdentifierList) == (0x00081150,)
    assert status.ErrorComment == "one attribute unknown"
    assert as_dict(attributes) == {"PatientName": "Müller^Jürgen"}


@pytest.mark.parametrize("msg_id", [0, 65535])
async def test_server_extreme_message_ids(msg_id: int) -> None:
    handlers = AioupsSCP()
    ts = aioups.EXPLICIT_VR_LITTLE_ENDIAN
    log = ResponseLog()
    with anyio.fail_after(TEST_TIMEOUT):
        status = await from_pynetdicom(
            handlers, [(BASIC_FILM_SESSION, ts)],
            lambda assoc: assoc.send_n_delete(BASIC_FILM_SESSION, new_uid(), msg_id=msg_id),
            evt_handlers=[(evt.EVT_DIMSE_RECV, log.handler)])
    assert pn.status_of(status) == 0x0000
    assert log.commands[0].MessageIDBeingRespondedTo == msg_id
    message = handlers.only(NDeleteRQ, ts).message
    assert isinstance(message, NDeleteRQ) and message.message_id == msg_id


async def test_server_n_get_empty_identifier_list() -> None:
    """pynetdicom's N-GET with an empty list: all attributes."""
    handlers = AioupsSCP()
    ts = aioups.IMPLICIT_VR_LITTLE_ENDIAN
    uid = new_uid()
    with anyio.fail_after(TEST_TIMEOUT):
        status, attributes = await from_pynetdicom(
            handlers, [(UPS_PULL, ts)],
            lambda assoc: assoc.send_n_get([], UPS_PUSH, uid, meta_uid=UPS_PULL))
    assert pn.status_of(status) == 0x0000
    assert as_dict(attributes) == as_dict(ups_instance(uid))
    message = handlers.only(NGetRQ, ts).message
    assert isinstance(message, NGetRQ) and not message.attribute_identifier_list


@pytest.mark.parametrize("max_pdu", [512, 0], ids=["tiny-pdu", "unlimited"])
async def test_server_small_peer_pdu(max_pdu: int) -> None:
    """pynetdicom accepts only small P-DATA-TFs (or any): our responses fit."""
    handlers = AioupsSCP()
    ts = aioups.DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN
    uid = new_uid()

    def work(assoc: PynetdicomAssociation) -> tuple[Dataset, Dataset | None]:
        return assoc.send_n_set(large_modifications(), UPS_PUSH, uid, meta_uid=UPS_PULL)

    with anyio.fail_after(TEST_TIMEOUT):
        status, reply = await from_pynetdicom(handlers, [(UPS_PULL, ts)], work, max_pdu=max_pdu)
    assert pn.status_of(status) == 0x0000
    assert as_dict(reply) == as_dict(large_modifications())


@pytest.mark.parametrize("max_pdu", [512, 0], ids=["tiny-pdu", "unlimited"])
async def test_client_small_local_pdu(scp: PynetdicomSCP, max_pdu: int) -> None:
    """We accept only small P-DATA-TFs (or any): pynetdicom's responses are reassembled."""
    ts = aioups.EXPLICIT_VR_BIG_ENDIAN
    uid = new_uid()
    with anyio.fail_after(TEST_TIMEOUT):
        async with aioups.open_association(
                HOST, scp.port, called_ae_title=scp.ae_title, max_pdu_length=max_pdu,
                timeouts=TIMEOUTS, contexts=(aioups.PresentationContextProposal(
                    abstract_syntax=UPS_PULL, transfer_syntaxes=(ts,)),)) as assoc:
            response = await aioups.n_set(assoc, UPS_PUSH, uid, large_modifications(),
                                          abstract_syntax=UPS_PULL)
    assert as_dict(response.data_set) == as_dict(large_modifications())


async def test_server_find_pending_warning_and_priority() -> None:
    class Warns(AioupsSCP):
        priorities: list[int] = []

        async def on_find(self, request: ServiceRequest) -> AsyncIterator[FindMatch]:
            assert isinstance(request.message, CFindRQ)
            self.priorities.append(request.message.priority)
            match = Dataset()
            match.PatientID = "PID-42"
            yield 0xFF01, match
            yield match

    handlers = Warns()
    ts = aioups.IMPLICIT_VR_LITTLE_ENDIAN
    with anyio.fail_after(TEST_TIMEOUT):
        statuses = await from_pynetdicom(
            handlers, [(UPS_QUERY, ts)],
            lambda assoc: [(pn.status_of(s), i is not None) for s, i in
                           assoc.send_c_find(find_identifier(), UPS_QUERY, priority=1)])
    assert statuses == [(0xFF01, True), (0xFF00, True), (0x0000, False)]
    assert handlers.priorities == [1]


async def test_client_event_both_roles(scp: PynetdicomSCP) -> None:
    """UPS Event proposed with both roles: pynetdicom accepts both; we report an event and
    receive one on the same context."""
    ts = aioups.EXPLICIT_VR_LITTLE_ENDIAN
    arrived = anyio.Event()

    async def on_event(request: ServiceRequest) -> HandlerReturn:
        arrived.set()
        message = request.message
        assert isinstance(message, NEventReportRQ)
        return NEventReportRSP(message_id_being_responded_to=message.message_id)

    both = aioups.PresentationContextProposal(abstract_syntax=UPS_EVENT, transfer_syntaxes=(ts,),
                                              scu_role=True, scp_role=True)
    with anyio.fail_after(TEST_TIMEOUT):
        async with to_pynetdicom(scp, ts, UPS_WATCH, both,
                                 handlers={(UPS_EVENT, NEventReportRQ): on_event}) as assoc:
            context = assoc.context_for(UPS_EVENT)
            assert context.local_scu and context.local_scp
            response = await aioups.n_event_report(assoc, UPS_PUSH, new_uid(), 1,
                                                   event_information(),
                                                   abstract_syntax=UPS_EVENT)
            assert response.status == aioups.Status.SUCCESS
            await aioups.n_action(assoc, UPS_PUSH, new_uid(), pn.EVENT_TRIGGER_ACTION,
                                  abstract_syntax=UPS_WATCH)
            await arrived.wait()
            await anyio.to_thread.run_sync(scp.join_event_threads)
    [sent] = scp.events_sent
    assert sent.status is not None and pn.status_of(sent.status) == 0x0000


@pytest.mark.parametrize(("supported_roles", "expect_scp"), [
    ({}, False), ({"scu_role": True, "scp_role": False}, False),
    ({"scu_role": True, "scp_role": True}, True)], ids=["no-54H-reply", "scp-refused", "both"])
async def test_client_role_selection_outcomes(supported_roles: dict[str, bool],
                                              expect_scp: bool) -> None:
    """We propose UPS Event as (SCU, SCP) = (1, 1); pynetdicom accepts per its configuration.
    Without an SCP role we must refuse to send N-EVENT-REPORT locally."""
    ae = AE(ae_title="ROLES")
    pn.configure_timeouts(ae)
    ae.add_supported_context(UPS_EVENT, pn.ALL_TRANSFER_SYNTAXES, **supported_roles)
    server = ae.start_server((HOST, 0), block=False)
    assert server is not None
    try:
        both = aioups.PresentationContextProposal(abstract_syntax=UPS_EVENT, scu_role=True,
                                                  scp_role=True)
        with anyio.fail_after(TEST_TIMEOUT):
            async with aioups.open_association(HOST, server.server_address[1],
                                               called_ae_title="ROLES", contexts=(both,),
                                               timeouts=TIMEOUTS) as assoc:
                negotiated = assoc.negotiated
                assert negotiated is not None
                [context] = negotiated.contexts.values()
                assert context.local_scu
                assert context.local_scp is expect_scp
                if not expect_scp:
                    with pytest.raises(aioups.errors.NoAcceptedContext):
                        await aioups.n_event_report(assoc, UPS_PUSH, new_uid(), 1,
                                                    abstract_syntax=UPS_EVENT)
    finally:
        await anyio.to_thread.run_sync(server.shutdown)


@pytest.mark.parametrize(("rq_roles", "supported", "roles", "event_status"), [
    ((True, True), SupportedSyntax(scu_role=True, scp_role=True), (True, True), 0x0000),
    ((False, True), SupportedSyntax(scu_role=True, scp_role=True), (False, True), 0x0000),
    ((False, True), SupportedSyntax(scu_role=True, scp_role=False), (False, False), 0x0211),
    ((True, True), SupportedSyntax(scu_role=True, scp_role=False), (True, False), 0x0211),
], ids=["both", "scp-only", "scp-only-refused", "scp-refused"])
async def test_server_role_selection_outcomes(rq_roles: tuple[bool, bool],
                                              supported: SupportedSyntax,
                                              roles: tuple[bool, bool],
                                              event_status: int) -> None:
    """pynetdicom proposes UPS Event with role selection, gets the roles we grant, and sends
    N-EVENT-REPORT regardless: we answer it only if pynetdicom became the Event SCP."""
    class Roles(AioupsSCP):
        def config(self) -> aioups.ServerConfig:
            base = super().config()
            return aioups.ServerConfig(handlers=base.handlers,
                                       supported={**(base.supported or {}),
                                                  UPS_EVENT: supported})

    def work(assoc: PynetdicomAssociation) -> tuple[tuple[bool, bool], int]:
        [context] = assoc.accepted_contexts
        status, _ = assoc.send_n_event_report(event_information(), 1, UPS_PUSH, new_uid(),
                                              meta_uid=UPS_EVENT)
        return (bool(context.as_scu), bool(context.as_scp)), pn.status_of(status)

    handlers = Roles()
    ts = aioups.EXPLICIT_VR_LITTLE_ENDIAN
    with anyio.fail_after(TEST_TIMEOUT):
        async with peers.serving(handlers.config()) as (_, port):
            outcome = await anyio.to_thread.run_sync(functools.partial(
                pn.run_scu, port, [(UPS_EVENT, ts)], work,
                roles=[build_role(UPS_EVENT, scu_role=rq_roles[0], scp_role=rq_roles[1])]))
    assert outcome == (roles, event_status)


async def test_server_pynetdicom_aborts_during_find() -> None:
    """pynetdicom aborts after two matches of an endless C-FIND: our handler is closed and
    the server stays healthy."""
    closed = anyio.Event()

    class Endless(AioupsSCP):
        async def on_find(self, request: ServiceRequest) -> AsyncIterator[FindMatch]:
            try:
                while True:
                    yield find_identifier()
                    await anyio.sleep(0.01)
            finally:
                closed.set()

    def work(assoc: PynetdicomAssociation) -> int:
        count = 0
        for status, _ in assoc.send_c_find(find_identifier(), UPS_QUERY):
            assert pn.status_of(status) == 0xFF00
            count += 1
            if count == 2:
                assoc.abort()
                break
        return count

    ts = aioups.EXPLICIT_VR_LITTLE_ENDIAN
    with anyio.fail_after(TEST_TIMEOUT):
        async with peers.serving(Endless().config()) as (server, port):
            seen = await anyio.to_thread.run_sync(functools.partial(
                pn.run_scu_abortable, port, [(UPS_QUERY, ts)], work))
            assert seen == 2
            await closed.wait()
            # still serving
            status = await anyio.to_thread.run_sync(functools.partial(
                pn.run_scu, port, [(VERIFICATION, ts)], lambda a: a.send_c_echo()))
            assert pn.status_of(status) == 0x0000
            stats = server.statistics()
    assert (stats.accepted, stats.rejected) == (2, 0)


async def test_server_late_cancel_is_ignored() -> None:
    """C-CANCEL for a C-FIND that already ended: no response, the association goes on."""
    handlers = AioupsSCP()
    ts = aioups.EXPLICIT_VR_LITTLE_ENDIAN

    def work(assoc: PynetdicomAssociation) -> tuple[int, int]:
        statuses = [pn.status_of(s) for s, _ in assoc.send_c_find(find_identifier(), UPS_QUERY,
                                                                  msg_id=5)]
        assoc.send_c_cancel(5, query_model=UPS_QUERY)
        return statuses[-1], pn.status_of(assoc.send_c_echo(msg_id=6))

    with anyio.fail_after(TEST_TIMEOUT):
        result = await from_pynetdicom(handlers, [(UPS_QUERY, ts), (VERIFICATION, ts)], work)
    assert result == (0x0000, 0x0000)


async def test_client_without_event_handler_refuses_event(scp: PynetdicomSCP) -> None:
    """No handler for N-EVENT-REPORT on our side: pynetdicom gets a failure, not silence."""
    ts = aioups.EXPLICIT_VR_LITTLE_ENDIAN
    with anyio.fail_after(TEST_TIMEOUT):
        async with to_pynetdicom(scp, ts, UPS_WATCH, UPS_EVENT) as assoc:
            await aioups.n_action(assoc, UPS_PUSH, new_uid(), pn.EVENT_TRIGGER_ACTION,
                                  abstract_syntax=UPS_WATCH)
            await anyio.to_thread.run_sync(scp.join_event_threads)
    [sent] = scp.events_sent
    assert sent.status is not None and pn.status_of(sent.status) == 0x0122


async def test_server_find_failure_after_matches() -> None:
    """Our C-FIND handler fails after two matches: two Pending, then the failure's fields."""
    class FailsLate(AioupsSCP):
        async def on_find(self, request: ServiceRequest) -> AsyncIterator[FindMatch]:
            yield find_identifier()
            yield find_identifier()
            raise DIMSEStatusError(0xA700, "out of resources", offending_elements=(PATIENT_ID,))

    ts = aioups.EXPLICIT_VR_BIG_ENDIAN

    def work(assoc: PynetdicomAssociation) -> list[tuple[int, str, bool]]:
        return [(pn.status_of(s), s.get("ErrorComment", ""), i is not None)
                for s, i in assoc.send_c_find(find_identifier(), UPS_QUERY)]

    with anyio.fail_after(TEST_TIMEOUT):
        responses = await from_pynetdicom(FailsLate(), [(UPS_QUERY, ts)], work)
    assert responses == [(0xFF00, "", True), (0xFF00, "", True),
                         (0xA700, "out of resources", False)]


async def test_server_handler_crash_is_processing_failure() -> None:
    class Crashes(AioupsSCP):
        async def on_delete(self, request: ServiceRequest) -> HandlerReturn:
            raise RuntimeError("handler bug")

    ts = aioups.IMPLICIT_VR_LITTLE_ENDIAN
    with anyio.fail_after(TEST_TIMEOUT):
        status = await from_pynetdicom(
            Crashes(), [(BASIC_FILM_SESSION, ts)],
            lambda assoc: assoc.send_n_delete(BASIC_FILM_SESSION, new_uid()))
    assert pn.status_of(status) == 0x0110
    assert status.ErrorComment == "processing failure"


async def test_server_cancel_before_first_match() -> None:
    """pynetdicom cancels (from another thread) before our handler found anything: the C-FIND
    ends with Cancel and no Pending response."""
    class Waits(AioupsSCP):
        async def on_find(self, request: ServiceRequest) -> AsyncIterator[FindMatch]:
            with anyio.fail_after(5):
                await request.wait_cancelled()
            self.find_cancelled = True
            yield find_identifier()  # too late: must not be sent

    handlers = Waits()
    ts = aioups.DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN

    def work(assoc: PynetdicomAssociation) -> list[int]:
        timer = threading.Timer(0.2, assoc.send_c_cancel, args=(3,),
                                kwargs={"query_model": UPS_QUERY})
        timer.start()
        try:
            return [pn.status_of(s) for s, _ in assoc.send_c_find(find_identifier(), UPS_QUERY,
                                                                  msg_id=3)]
        finally:
            timer.join()

    with anyio.fail_after(TEST_TIMEOUT):
        statuses = await from_pynetdicom(handlers, [(UPS_QUERY, ts)], work)
    assert statuses == [0xFE00]
    assert handlers.find_cancelled
