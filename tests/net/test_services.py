"""The invoking-side service API (``aioups/net/_services.py``) against our own server over
loopback: every N-service, C-ECHO, the typed :class:`DIMSEResponse`, failure statuses raised as
:class:`DIMSEFailure`, the handler-side statuses (DIMSEStatusError, other exceptions, missing
handlers), data sets in each transfer syntax, and per-call timeouts.

Every test runs on asyncio and trio and is bounded by ``anyio.fail_after``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from helpers import peers
from pydicom import Dataset
from pydicom.dataelem import DataElement

from aioups import PresentationContextProposal, Status, StatusCategory
from aioups._uids import (
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    UPS_EVENT,
    UPS_PULL,
    UPS_PUSH,
    VERIFICATION,
)
from aioups.dimse import (
    CEchoRQ,
    CEchoRSP,
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
    encode_data_set,
)
from aioups.errors import (
    AioupsError,
    AssociationAborted,
    ConnectionLost,
    DataSetError,
    DIMSEFailure,
    DIMSEStatusError,
    DIMSETimeout,
    NoAcceptedContext,
)
from aioups.net import (
    Association,
    DIMSEResponse,
    Handler,
    HandlerReturn,
    ServerConfig,
    ServiceRequest,
    Timeouts,
    c_echo,
    echo_handler,
    n_action,
    n_create,
    n_delete,
    n_event_report,
    n_get,
    n_set,
    open_association,
    send_request,
)
from aioups.ul import SupportedSyntax

pytestmark = pytest.mark.anyio

QUICK = 10.0
INSTANCE = "1.2.826.0.1.3680043.9.7.1"
PUSH_CONTEXTS = (PresentationContextProposal(abstract_syntax=VERIFICATION),
                 PresentationContextProposal(abstract_syntax=UPS_PUSH))
ALL_TS = [
    pytest.param(IMPLICIT_VR_LITTLE_ENDIAN, id="implicit-le"),
    pytest.param(EXPLICIT_VR_LITTLE_ENDIAN, id="explicit-le"),
    pytest.param(EXPLICIT_VR_BIG_ENDIAN, id="explicit-be"),
    pytest.param(DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, id="deflated"),
]
#: Tags used as offending elements / attribute identifiers.
TRANSACTION_UID = 0x00081195
PROCEDURE_STEP_STATE = 0x00741000


# -- helpers -------------------------------------------------------------------------------------


def attributes(**values: object) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


class Recorder:
    """A handler for any N-service: records each request and answers from a script.

    ``answer`` is what the handler returns besides the response (a data set, bytes or
    ``None``); ``status`` the response status; ``raises`` an exception to raise instead.
    """

    def __init__(self, *, answer: Dataset | bytes | None = None, status: int = 0,
                 raises: BaseException | None = None, read_data_set: bool = False) -> None:
        self.answer = answer
        self.status = status
        self.raises = raises
        self.read_data_set = read_data_set
        self.requests: list[ServiceRequest] = []
        self.decoded: list[Dataset | None] = []

    async def __call__(self, request: ServiceRequest) -> HandlerReturn:
        self.requests.append(request)
        if self.read_data_set:
            self.decoded.append(request.data_set)  # may raise DataSetError
        if self.raises is not None:
            raise self.raises
        return response_to(request, self.status), self.answer


def response_to(request: ServiceRequest, status: int = 0) -> NSetRSP | NGetRSP | NActionRSP \
        | NCreateRSP | NDeleteRSP | CEchoRSP:
    """The plain response to an N-service request (or C-ECHO), with ``status``."""
    message = request.message
    if isinstance(message, NCreateRQ):
        return NCreateRSP(message_id_being_responded_to=message.message_id, status=status,
                          affected_sop_class_uid=message.affected_sop_class_uid,
                          affected_sop_instance_uid=message.affected_sop_instance_uid or INSTANCE)
    if isinstance(message, NActionRQ):
        return NActionRSP(message_id_being_responded_to=message.message_id, status=status,
                          action_type_id=message.action_type_id)
    if isinstance(message, NSetRQ):
        return NSetRSP(message_id_being_responded_to=message.message_id, status=status)
    if isinstance(message, NGetRQ):
        return NGetRSP(message_id_being_responded_to=message.message_id, status=status,
                       affected_sop_instance_uid=message.requested_sop_instance_uid)
    if isinstance(message, NDeleteRQ):
        return NDeleteRSP(message_id_being_responded_to=message.message_id, status=status)
    assert isinstance(message, CEchoRQ), message
    return CEchoRSP(message_id_being_responded_to=message.message_id, status=status)


N_SERVICES: list[type] = [NCreateRQ, NSetRQ, NGetRQ, NActionRQ, NDeleteRQ]


def push_config(handler: Handler, *services: type) -> ServerConfig:
    """Verification plus ``handler`` for each of ``services`` (all N-services by default)."""
    handlers: dict[tuple[str, type], Handler] = {(VERIFICATION, CEchoRQ): echo_handler}
    for service in services or N_SERVICES:
        handlers[(UPS_PUSH, service)] = handler
    return ServerConfig(handlers=handlers)


@asynccontextmanager
async def connected(config: ServerConfig, *,
                    contexts: tuple[PresentationContextProposal, ...] = PUSH_CONTEXTS,
                    timeouts: Timeouts = Timeouts()  # noqa: B008
                    ) -> AsyncIterator[Association]:
    """A server with ``config`` and one association to it."""
    async with peers.serving(config) as (_, port), open_association(
            peers.HOST, port, contexts=contexts, timeouts=timeouts) as association:
        yield association


async def call(association: Association, service: type, *, data_set: Dataset | bytes | None = None,
               check: bool = True) -> DIMSEResponse:
    """Invoke one N-service through its public function."""
    if service is NCreateRQ:
        return await n_create(association, UPS_PUSH, INSTANCE, data_set, check=check)
    if service is NSetRQ:
        return await n_set(association, UPS_PUSH, INSTANCE, data_set, check=check)
    if service is NGetRQ:
        return await n_get(association, UPS_PUSH, INSTANCE, (PROCEDURE_STEP_STATE,),
                           check=check)
    if service is NActionRQ:
        return await n_action(association, UPS_PUSH, INSTANCE, 1, data_set, check=check)
    assert service is NDeleteRQ
    return await n_delete(association, UPS_PUSH, INSTANCE, check=check)


SERVICE_IDS = ["n-create", "n-set", "n-get", "n-action", "n-delete"]


# -- each service --------------------------------------------------------------------------------


async def test_c_echo_response_is_success_without_data_set() -> None:
    with anyio.fail_after(QUICK):
        async with connected(ServerConfig()) as association:
            response = await c_echo(association)
    assert isinstance(response.message, CEchoRSP)
    assert (response.status, response.category) == (Status.SUCCESS, StatusCategory.SUCCESS)
    assert response.data_set is None and response.data_set_bytes is None
    assert response.error_comment is None and response.error_id is None
    assert response.offending_elements == () and response.attribute_identifiers == ()


async def test_n_create_sends_class_instance_and_attribute_list() -> None:
    recorder = Recorder(answer=attributes(ProcedureStepState="SCHEDULED"), read_data_set=True)
    with anyio.fail_after(QUICK):
        async with connected(push_config(recorder)) as association:
            response = await n_create(association, UPS_PUSH, INSTANCE,
                                      attributes(PatientID="12", TransactionUID=""))
    [request] = recorder.requests
    assert isinstance(request.message, NCreateRQ)
    assert request.message.affected_sop_class_uid == UPS_PUSH
    assert request.message.affected_sop_instance_uid == INSTANCE
    [received] = recorder.decoded
    assert received is not None and received.PatientID == "12" and received.TransactionUID == ""
    assert isinstance(response.message, NCreateRSP)
    assert response.affected_sop_instance_uid == INSTANCE
    assert response.data_set is not None and response.data_set.ProcedureStepState == "SCHEDULED"


async def test_n_create_without_instance_uid_returns_the_assigned_one() -> None:
    recorder = Recorder()
    with anyio.fail_after(QUICK):
        async with connected(push_config(recorder)) as association:
            response = await n_create(association, UPS_PUSH)
    [request] = recorder.requests
    assert isinstance(request.message, NCreateRQ)
    assert request.message.affected_sop_instance_uid is None
    assert request.data_set_bytes is None
    assert response.affected_sop_instance_uid == INSTANCE


async def test_n_set_sends_modification_list() -> None:
    recorder = Recorder(read_data_set=True)
    with anyio.fail_after(QUICK):
        async with connected(push_config(recorder)) as association:
            response = await n_set(association, UPS_PUSH, INSTANCE,
                                   attributes(ProcedureStepLabel="label"))
    [request] = recorder.requests
    assert isinstance(request.message, NSetRQ)
    assert (request.message.requested_sop_class_uid,
            request.message.requested_sop_instance_uid) == (UPS_PUSH, INSTANCE)
    assert recorder.decoded[0] is not None and recorder.decoded[0].ProcedureStepLabel == "label"
    assert isinstance(response.message, NSetRSP) and response.status == Status.SUCCESS


@pytest.mark.parametrize(("asked", "sent"), [
    ((PROCEDURE_STEP_STATE, TRANSACTION_UID), (PROCEDURE_STEP_STATE, TRANSACTION_UID)),
    (None, None),
    ((), None),  # an empty list is "all attributes" too: the element is left out
], ids=["two-tags", "all", "empty"])
async def test_n_get_attribute_identifier_list(asked: tuple[int, ...] | None,
                                               sent: tuple[int, ...] | None) -> None:
    recorder = Recorder(answer=attributes(ProcedureStepState="IN PROGRESS"))
    with anyio.fail_after(QUICK):
        async with connected(push_config(recorder)) as association:
            response = await n_get(association, UPS_PUSH, INSTANCE, asked)
    [request] = recorder.requests
    assert isinstance(request.message, NGetRQ)
    assert request.message.attribute_identifier_list == sent
    assert request.message.requested_sop_instance_uid == INSTANCE
    assert response.affected_sop_instance_uid == INSTANCE
    assert response.data_set is not None
    assert response.data_set.ProcedureStepState == "IN PROGRESS"


async def test_n_action_sends_action_type_and_information() -> None:
    recorder = Recorder(answer=attributes(TransactionUID="1.2.3"), read_data_set=True)
    with anyio.fail_after(QUICK):
        async with connected(push_config(recorder)) as association:
            response = await n_action(association, UPS_PUSH, INSTANCE, 3,
                                      attributes(ProcedureStepState="IN PROGRESS"))
    [request] = recorder.requests
    assert isinstance(request.message, NActionRQ) and request.message.action_type_id == 3
    assert recorder.decoded[0] is not None
    assert recorder.decoded[0].ProcedureStepState == "IN PROGRESS"
    assert isinstance(response.message, NActionRSP) and response.message.action_type_id == 3
    assert response.data_set is not None and response.data_set.TransactionUID == "1.2.3"


async def test_n_delete_has_no_data_set() -> None:
    recorder = Recorder()
    with anyio.fail_after(QUICK):
        async with connected(push_config(recorder)) as association:
            response = await n_delete(association, UPS_PUSH, INSTANCE)
    [request] = recorder.requests
    assert isinstance(request.message, NDeleteRQ)
    assert request.data_set_bytes is None and request.data_set is None
    assert isinstance(response.message, NDeleteRSP)
    assert response.data_set_bytes is None and response.data_set is None


async def test_send_request_on_pull_context_with_push_class_in_the_command() -> None:
    """Edge case 18: N-services name the Push SOP class even on a Pull context."""
    recorder = Recorder()
    config = ServerConfig(handlers={(UPS_PULL, NGetRQ): recorder})
    contexts = (PresentationContextProposal(abstract_syntax=UPS_PULL),)
    with anyio.fail_after(QUICK):
        async with connected(config, contexts=contexts) as association:
            with pytest.raises(NoAcceptedContext):  # Push itself was not proposed
                await n_get(association, UPS_PUSH, INSTANCE)
            response = await send_request(
                association, NGetRQ, abstract_syntax=UPS_PULL, requested_sop_class_uid=UPS_PUSH,
                requested_sop_instance_uid=INSTANCE)
            again = await n_get(association, UPS_PUSH, INSTANCE, abstract_syntax=UPS_PULL)
    assert response.status == again.status == Status.SUCCESS
    for request in recorder.requests:
        assert request.context.abstract_syntax == UPS_PULL
        assert isinstance(request.message, NGetRQ)
        assert request.message.requested_sop_class_uid == UPS_PUSH


async def test_send_request_on_an_explicit_context_id() -> None:
    recorder = Recorder()
    with anyio.fail_after(QUICK):
        async with connected(push_config(recorder)) as association:
            push = association.context_for(UPS_PUSH)
            response = await send_request(association, NDeleteRQ, context_id=push.context_id,
                                          requested_sop_class_uid=UPS_PUSH,
                                          requested_sop_instance_uid=INSTANCE)
            assert response.status == Status.SUCCESS
            with pytest.raises(AioupsError, match="not accepted"):
                await send_request(association, NDeleteRQ, context_id=99,
                                   requested_sop_class_uid=UPS_PUSH,
                                   requested_sop_instance_uid=INSTANCE)
            assert await c_echo(association)  # still usable
    assert [r.context.context_id for r in recorder.requests] == [push.context_id]


async def test_service_without_accepted_context_raises_no_accepted_context() -> None:
    with anyio.fail_after(QUICK):
        async with connected(ServerConfig(), contexts=PUSH_CONTEXTS[:1]) as association:
            with pytest.raises(NoAcceptedContext):
                await n_get(association, UPS_PUSH, INSTANCE)
            assert association.statistics().requests_sent == 0
            assert (await c_echo(association)).status == Status.SUCCESS


async def test_n_event_report_as_event_scp() -> None:
    """The requestor takes the UPS Event SCP role (UPS-63) and reports; the Push SOP class
    goes in the command (edge case 18)."""

    async def listener(request: ServiceRequest) -> HandlerReturn:
        message = request.message
        assert isinstance(message, NEventReportRQ)
        reports.append(request)
        return NEventReportRSP(message_id_being_responded_to=message.message_id,
                               affected_sop_instance_uid=message.affected_sop_instance_uid,
                               event_type_id=message.event_type_id), attributes(PatientID="ok")

    reports: list[ServiceRequest] = []
    config = ServerConfig(handlers={(UPS_EVENT, NEventReportRQ): listener},
                          supported={UPS_EVENT: SupportedSyntax(scp_role=True)})
    contexts = (PresentationContextProposal(abstract_syntax=UPS_EVENT, scu_role=False,
                                            scp_role=True),)
    with anyio.fail_after(QUICK):
        async with connected(config, contexts=contexts) as association:
            response = await n_event_report(association, UPS_PUSH, INSTANCE, 1,
                                            attributes(ProcedureStepState="COMPLETED"),
                                            abstract_syntax=UPS_EVENT)
    [request] = reports
    assert isinstance(request.message, NEventReportRQ)
    assert (request.message.affected_sop_class_uid, request.message.event_type_id) == (
        UPS_PUSH, 1)
    assert request.data_set is not None and request.data_set.ProcedureStepState == "COMPLETED"
    assert isinstance(response.message, NEventReportRSP)
    assert response.message.event_type_id == 1
    assert response.affected_sop_instance_uid == INSTANCE
    assert response.data_set is not None and response.data_set.PatientID == "ok"


# -- the response data set -----------------------------------------------------------------------


async def test_response_data_set_is_decoded_lazily_and_cached() -> None:
    recorder = Recorder(answer=attributes(ProcedureStepState="SCHEDULED"))
    with anyio.fail_after(QUICK):
        async with connected(push_config(recorder)) as association:
            response = await n_get(association, UPS_PUSH, INSTANCE)
            ts = association.context_for(UPS_PUSH).transfer_syntax
    assert "data_set" not in vars(response)  # not decoded until asked (cached_property)
    assert response.transfer_syntax == ts
    assert response.data_set_bytes == encode_data_set(
        attributes(ProcedureStepState="SCHEDULED"), ts)
    first = response.data_set
    assert first is response.data_set
    assert first is not None and first.ProcedureStepState == "SCHEDULED"


async def test_undecodable_response_data_set_raises_only_when_read() -> None:
    garbage = b"\x08\x00\x11\x11SQ\x00\x00\xff\xff\xff\xff"  # a sequence that never ends
    recorder = Recorder(answer=garbage)
    with anyio.fail_after(QUICK):
        async with connected(push_config(recorder)) as association:
            response = await n_get(association, UPS_PUSH, INSTANCE)
    assert response.status == Status.SUCCESS
    assert response.data_set_bytes == garbage
    with pytest.raises(DataSetError):
        _ = response.data_set


async def test_data_set_bytes_pass_through_unchanged_both_ways() -> None:
    sent = b"not a data set, but even"
    returned = b"\x00\x01\x02\x03 raw reply \xfe\xff"
    recorder = Recorder(answer=returned)
    with anyio.fail_after(QUICK):
        async with connected(push_config(recorder)) as association:
            response = await n_action(association, UPS_PUSH, INSTANCE, 1, sent)
    assert recorder.requests[0].data_set_bytes == sent
    assert response.data_set_bytes == returned


@pytest.mark.parametrize("ts", ALL_TS)
async def test_data_sets_are_encoded_in_the_context_transfer_syntax(ts: str) -> None:
    """One transfer syntax proposed per context: both directions use it."""
    request_ds = attributes(PatientID="12", ProcedureStepLabel="x" * 41)
    reply_ds = attributes(ProcedureStepState="COMPLETED", PatientName="Doe^John")
    recorder = Recorder(answer=reply_ds, read_data_set=True)
    contexts = (PresentationContextProposal(abstract_syntax=UPS_PUSH, transfer_syntaxes=(ts,)),)
    with anyio.fail_after(QUICK):
        async with connected(push_config(recorder), contexts=contexts) as association:
            assert association.context_for(UPS_PUSH).transfer_syntax == ts
            response = await n_set(association, UPS_PUSH, INSTANCE, request_ds)
    [request] = recorder.requests
    assert request.context.transfer_syntax == ts
    assert request.data_set_bytes == encode_data_set(request_ds, ts)
    assert recorder.decoded == [request_ds]
    assert response.transfer_syntax == ts
    assert response.data_set_bytes == encode_data_set(reply_ds, ts)
    assert response.data_set == reply_ds


async def test_unencodable_request_data_set_raises_before_sending() -> None:
    bad = Dataset()
    bad.add(DataElement(0x00280010, "US", 70000, validation_mode=0))
    recorder = Recorder()
    with anyio.fail_after(QUICK):
        async with connected(push_config(recorder)) as association:
            with pytest.raises(DataSetError):
                await n_set(association, UPS_PUSH, INSTANCE, bad)
            assert association.statistics().requests_sent == 0
            assert (await c_echo(association)).status == Status.SUCCESS
    assert recorder.requests == []


# -- statuses --------------------------------------------------------------------------------


@pytest.mark.parametrize("service", N_SERVICES, ids=SERVICE_IDS)
async def test_handler_status_error_fields_reach_the_client(service: type) -> None:
    error = DIMSEStatusError(0xC301, "wrong transaction", error_id=7,
                             offending_elements=(TRANSACTION_UID,),
                             attribute_identifiers=(PROCEDURE_STEP_STATE, TRANSACTION_UID))
    with anyio.fail_after(QUICK):
        async with connected(push_config(Recorder(raises=error))) as association:
            with pytest.raises(DIMSEFailure) as caught:
                await call(association, service, data_set=attributes(PatientID="1"))
            assert association.is_established
    failure = caught.value
    assert isinstance(failure, DIMSEStatusError)
    assert failure.status == 0xC301
    assert failure.error_comment == "wrong transaction"
    assert failure.error_id == 7
    assert failure.offending_elements == (TRANSACTION_UID,)
    # (0000,1005) is an N-GET / N-SET response field only (DIMSE-13)
    expected_ids = ((PROCEDURE_STEP_STATE, TRANSACTION_UID)
                    if service in (NGetRQ, NSetRQ) else ())
    assert failure.attribute_identifiers == expected_ids
    response = failure.response
    assert isinstance(response, DIMSEResponse)
    assert response.status == Status.UPS_TRANSACTION_UID_NOT_CORRECT
    assert response.category is StatusCategory.FAILURE
    assert (response.error_comment, response.error_id) == ("wrong transaction", 7)
    assert response.offending_elements == (TRANSACTION_UID,)
    assert response.attribute_identifiers == expected_ids
    assert response.data_set_bytes is None


async def test_failure_with_check_false_is_returned() -> None:
    error = DIMSEStatusError(Status.NO_SUCH_SOP_INSTANCE, "gone")
    with anyio.fail_after(QUICK):
        async with connected(push_config(Recorder(raises=error))) as association:
            response = await n_get(association, UPS_PUSH, INSTANCE, check=False)
    assert response.status == Status.NO_SUCH_SOP_INSTANCE
    assert response.category is StatusCategory.FAILURE
    assert response.error_comment == "gone"
    with pytest.raises(DIMSEFailure) as caught:
        response.raise_for_status()
    assert caught.value.response is response


@pytest.mark.parametrize("status", [0x0001, 0x0107, 0x0116, 0xB300, 0xB304, 0xB0FF],
                         ids=lambda s: f"{s:04X}")
async def test_warning_status_does_not_raise(status: int) -> None:
    recorder = Recorder(status=status, answer=attributes(PatientID="1"))
    with anyio.fail_after(QUICK):
        async with connected(push_config(recorder)) as association:
            response = await n_set(association, UPS_PUSH, INSTANCE, attributes(PatientID="1"))
    assert response.status == status
    assert response.category is StatusCategory.WARNING
    response.raise_for_status()  # no exception
    assert response.data_set is not None and response.data_set.PatientID == "1"


async def test_attribute_list_warning_carries_attribute_identifiers() -> None:
    """0107H (warning) with the Attribute Identifier List, from a handler's own response."""

    async def handler(request: ServiceRequest) -> HandlerReturn:
        assert isinstance(request.message, NSetRQ)
        return NSetRSP(message_id_being_responded_to=request.message.message_id,
                       status=Status.ATTRIBUTE_LIST_ERROR,
                       attribute_identifier_list=(TRANSACTION_UID,),
                       affected_sop_instance_uid=INSTANCE)

    with anyio.fail_after(QUICK):
        async with connected(push_config(handler, NSetRQ)) as association:
            response = await n_set(association, UPS_PUSH, INSTANCE, attributes(PatientID="1"))
    assert response.status == Status.ATTRIBUTE_LIST_ERROR
    assert response.attribute_identifiers == (TRANSACTION_UID,)
    assert response.affected_sop_instance_uid == INSTANCE


@pytest.mark.parametrize("status", [0xA801, 0xC123, 0x0299, 0xFE00],
                         ids=lambda s: f"{s:04X}")
async def test_unnamed_and_cancel_statuses_raise_dimse_failure(status: int) -> None:
    with anyio.fail_after(QUICK):
        async with connected(push_config(Recorder(status=status))) as association:
            with pytest.raises(DIMSEFailure) as caught:
                await n_delete(association, UPS_PUSH, INSTANCE)
    assert caught.value.status == status
    response = caught.value.response
    assert isinstance(response, DIMSEResponse)
    assert int(response.status) == status
    expected = StatusCategory.CANCEL if status == 0xFE00 else StatusCategory.FAILURE
    assert response.category is expected


@pytest.mark.parametrize("service", N_SERVICES, ids=SERVICE_IDS)
async def test_handler_bug_gives_0110_and_is_logged_with_traceback(
        service: type, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="aioups.net")
    recorder = Recorder(raises=ZeroDivisionError("bug in the handler"))
    with anyio.fail_after(QUICK):
        async with connected(push_config(recorder)) as association:
            with pytest.raises(DIMSEFailure) as caught:
                await call(association, service, data_set=attributes(PatientID="1"))
            assert (await c_echo(association)).status == Status.SUCCESS  # still serving
    assert caught.value.status == Status.PROCESSING_FAILURE
    logged = [r for r in caplog.records if r.name == "aioups.net" and r.exc_info]
    assert logged, caplog.text
    assert logged[0].exc_info is not None and logged[0].exc_info[0] is ZeroDivisionError


async def test_undecodable_request_data_set_gives_0110_with_comment(
        caplog: pytest.LogCaptureFixture) -> None:
    seen: list[DataSetError] = []

    async def reader(request: ServiceRequest) -> HandlerReturn:
        try:
            _ = request.data_set
        except DataSetError as exc:
            seen.append(exc)
            raise
        raise AssertionError("the data set decoded")

    truncated = encode_data_set(attributes(PatientID="123456"), EXPLICIT_VR_LITTLE_ENDIAN)[:-2]
    with anyio.fail_after(QUICK):
        async with connected(push_config(reader, NSetRQ)) as association:
            with pytest.raises(DIMSEFailure) as caught:
                await n_set(association, UPS_PUSH, INSTANCE, truncated)
            assert association.is_established
    [error] = seen
    assert caught.value.status == Status.PROCESSING_FAILURE
    assert caught.value.error_comment == str(error)  # the DataSetError text as Error Comment
    assert not [r for r in caplog.records if r.exc_info]  # a peer's fault: no traceback



@pytest.mark.parametrize(("ts", "garbage"), [
    pytest.param(EXPLICIT_VR_LITTLE_ENDIAN, b"\x08\x00\x11\x11SQ\x00\x00\xff\xff\xff\xff",
                 id="explicit-le-endless-sequence"),
    pytest.param(DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, b"\xff" * 16, id="deflated-garbage"),
])
async def test_undecodable_request_data_set_error_comment_fits_lo(ts: str,
                                                                  garbage: bytes) -> None:
    """(0000,0902) Error Comment is LO: at most 64 characters (PS3.5 Table 6.2-1)."""
    recorder = Recorder(read_data_set=True)
    contexts = (PresentationContextProposal(abstract_syntax=UPS_PUSH, transfer_syntaxes=(ts,)),)
    with anyio.fail_after(QUICK):
        async with connected(push_config(recorder), contexts=contexts) as association:
            with pytest.raises(DIMSEFailure) as caught:
                await n_set(association, UPS_PUSH, INSTANCE, garbage)
    assert caught.value.status == Status.PROCESSING_FAILURE
    assert caught.value.error_comment is not None
    assert len(caught.value.error_comment) <= 64, caught.value.error_comment


async def test_unencodable_reply_data_set_gives_0110_and_keeps_the_association() -> None:
    bad = Dataset()
    bad.add(DataElement(0x00280010, "US", 70000, validation_mode=0))
    with anyio.fail_after(QUICK):
        async with connected(push_config(Recorder(answer=bad))) as association:
            with pytest.raises(DIMSEFailure) as caught:
                await n_get(association, UPS_PUSH, INSTANCE)
            assert (await c_echo(association)).status == Status.SUCCESS
    assert caught.value.status == Status.PROCESSING_FAILURE


async def test_unencodable_reply_error_comment_is_a_valid_lo() -> None:
    """The comment built from pydicom's message is 150+ characters over several lines; LO
    allows 64 characters and no control characters."""
    bad = Dataset()
    bad.add(DataElement(0x00280010, "US", 70000, validation_mode=0))
    with anyio.fail_after(QUICK):
        async with connected(push_config(Recorder(answer=bad))) as association:
            with pytest.raises(DIMSEFailure) as caught:
                await n_get(association, UPS_PUSH, INSTANCE)
    comment = caught.value.error_comment or ""
    assert len(comment) <= 64 and "\n" not in comment, comment



async def test_handler_returning_a_non_response_gives_0110() -> None:
    async def broken(request: ServiceRequest) -> HandlerReturn:
        return None  # type: ignore[return-value]  # the bug being simulated

    with anyio.fail_after(QUICK):
        async with connected(push_config(broken, NGetRQ)) as association:
            with pytest.raises(DIMSEFailure) as caught:
                await n_get(association, UPS_PUSH, INSTANCE)
            assert association.is_established
            assert (await c_echo(association)).status == Status.SUCCESS
    assert caught.value.status == Status.PROCESSING_FAILURE


async def test_status_error_with_non_latin1_comment_keeps_the_association() -> None:
    """Error Comment is LO (Latin-1 by default); a handler's "€" must not end the association."""
    error = DIMSEStatusError(0xC000, "price 5 € too high")
    with anyio.fail_after(QUICK):
        async with connected(push_config(Recorder(raises=error), NGetRQ)) as association:
            with pytest.raises(DIMSEFailure) as caught:
                await n_get(association, UPS_PUSH, INSTANCE)
            assert association.is_established
            assert (await c_echo(association)).status == Status.SUCCESS
    assert caught.value.status == 0xC000


async def test_handler_not_reading_a_bad_data_set_succeeds() -> None:
    recorder = Recorder()
    with anyio.fail_after(QUICK):
        async with connected(push_config(recorder)) as association:
            response = await n_set(association, UPS_PUSH, INSTANCE, b"\xff\xff")
    assert response.status == Status.SUCCESS
    assert recorder.requests[0].data_set_bytes == b"\xff\xff"


async def test_no_handler_for_the_sop_class_gives_0122() -> None:
    config = ServerConfig(supported={VERIFICATION: SupportedSyntax(),
                                     UPS_PUSH: SupportedSyntax()})
    with anyio.fail_after(QUICK):
        async with connected(config) as association:
            with pytest.raises(DIMSEFailure) as caught:
                await n_get(association, UPS_PUSH, INSTANCE)
            assert (await c_echo(association)).status == Status.SUCCESS
    assert caught.value.status == Status.SOP_CLASS_NOT_SUPPORTED


@pytest.mark.parametrize("service", [NCreateRQ, NSetRQ, NActionRQ, NDeleteRQ],
                         ids=["n-create", "n-set", "n-action", "n-delete"])
async def test_sop_class_known_but_service_not_gives_0211(service: type) -> None:
    recorder = Recorder()
    with anyio.fail_after(QUICK):
        async with connected(push_config(recorder, NGetRQ)) as association:
            with pytest.raises(DIMSEFailure) as caught:
                await call(association, service, data_set=attributes(PatientID="1"))
            assert (await n_get(association, UPS_PUSH, INSTANCE)).status == Status.SUCCESS
    assert caught.value.status == Status.UNRECOGNIZED_OPERATION
    assert [type(r.message) for r in recorder.requests] == [NGetRQ]


async def test_wildcard_handler_serves_any_context() -> None:
    recorder = Recorder()
    config = ServerConfig(handlers={("*", NDeleteRQ): recorder},
                          supported={UPS_PUSH: SupportedSyntax()})
    contexts = (PresentationContextProposal(abstract_syntax=UPS_PUSH),)
    with anyio.fail_after(QUICK):
        async with connected(config, contexts=contexts) as association:
            response = await n_delete(association, UPS_PUSH, INSTANCE)
    assert response.status == Status.SUCCESS


# -- timeouts --------------------------------------------------------------------------------


class Hung:
    """A handler that never answers; it notes when it starts and when it is cancelled."""

    def __init__(self) -> None:
        self.started = anyio.Event()
        self.cancelled = anyio.Event()

    async def __call__(self, request: ServiceRequest) -> HandlerReturn:
        self.started.set()
        try:
            await anyio.sleep_forever()
        finally:
            self.cancelled.set()
        raise AssertionError("unreachable")


SHORT = 0.2


@pytest.mark.parametrize("per_call", [True, False], ids=["per-call", "association-default"])
async def test_response_timeout_raises_dimse_timeout_and_aborts(per_call: bool) -> None:
    hung = Hung()
    timeouts = Timeouts() if per_call else Timeouts(response=SHORT)
    with anyio.fail_after(QUICK):
        async with connected(push_config(hung), timeouts=timeouts) as association:
            start = anyio.current_time()
            with pytest.raises(DIMSETimeout):
                await n_get(association, UPS_PUSH, INSTANCE,
                            timeout=SHORT if per_call else None)
            assert anyio.current_time() - start >= SHORT * 0.9
            assert hung.started.is_set()
            assert not association.is_established
            await association.wait_closed()
            with pytest.raises((DIMSETimeout, AssociationAborted, ConnectionLost)):
                await c_echo(association)
            await hung.cancelled.wait()  # the server noticed the A-ABORT


async def test_per_call_timeout_longer_than_needed_does_not_fire() -> None:
    recorder = Recorder()
    with anyio.fail_after(QUICK):
        async with connected(push_config(recorder),
                             timeouts=Timeouts(response=SHORT)) as association:
            for _ in range(3):
                response = await n_get(association, UPS_PUSH, INSTANCE, timeout=QUICK)
                assert response.status == Status.SUCCESS
            assert association.is_established
            assert association.statistics().outstanding == 0
