"""``DIMSEEngine``: Message ID allocation (DIMSE-14) and encode -> receive round trips across
peer Maximum Lengths, with and without PDV packing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset

from aioups._uids import IMPLICIT_VR_LITTLE_ENDIAN, UPS_PUSH, VERIFICATION
from aioups.dimse import (
    CCancelRQ,
    CEchoRQ,
    CEchoRSP,
    CFindRSP,
    DIMSEEngine,
    Message,
    MessageReceived,
    NActionRQ,
    NCreateRQ,
    NCreateRSP,
    NEventReportRQ,
    NGetRQ,
    NGetRSP,
    UnknownCommand,
    encode_command,
)
from aioups.errors import AioupsError
from aioups.pdu import PDV
from aioups.ul import NegotiatedContext, PDataRequest

PEER_MAXIMA = [0, 16, 17, 64, 100, 16384]
CONTEXTS = {
    1: NegotiatedContext(context_id=1, abstract_syntax=VERIFICATION,
                         transfer_syntax=IMPLICIT_VR_LITTLE_ENDIAN, local_scu=True,
                         local_scp=True),
    3: NegotiatedContext(context_id=3, abstract_syntax=UPS_PUSH,
                         transfer_syntax=IMPLICIT_VR_LITTLE_ENDIAN, local_scu=True,
                         local_scp=True),
}
UPS_UID = "1.2.826.0.1.3680043.8.498.12345678901234567890"


def implicit_le(ds: Dataset) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = True
    write_dataset(fp, ds)
    return fp.getvalue()


def ups_attributes() -> bytes:
    ds = Dataset()
    ds.TransactionUID = ""
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "P-0001"
    ds.ProcedureStepState = "SCHEDULED"
    ds.ProcedureStepLabel = "Label"
    ds.CommentsOnTheScheduledProcedureStep = "Comment " * 40
    ds.ScheduledProcedureStepPriority = "MEDIUM"
    return implicit_le(ds)


DATA_SET = ups_attributes()


def pair(peer_max: int, pack: bool) -> tuple[DIMSEEngine, DIMSEEngine]:
    """A sending engine obeying ``peer_max`` and a receiving engine."""
    return DIMSEEngine(CONTEXTS, peer_max, pack_pdv=pack), DIMSEEngine(CONTEXTS, 0)


def transfer(receiver: DIMSEEngine, requests: list[PDataRequest]) -> list[MessageReceived]:
    out: list[MessageReceived] = []
    for request in requests:
        out += receiver.receive_pdvs(request.pdvs)
    return out


def assert_within(requests: list[PDataRequest], peer_max: int) -> None:
    for request in requests:
        assert request.pdvs
        if peer_max:
            assert sum(len(p.data) + 6 for p in request.pdvs) <= peer_max


# ------------------------------------------------------------------------- message IDs


def test_next_message_id_starts_at_1_and_counts_up() -> None:
    dimse = DIMSEEngine(CONTEXTS, 0)
    assert [dimse.next_message_id() for _ in range(5)] == [1, 2, 3, 4, 5]


def test_next_message_id_wraps_after_65535_to_1() -> None:
    dimse = DIMSEEngine(CONTEXTS, 0)
    ids = [dimse.next_message_id() for _ in range(65535)]
    assert ids == list(range(1, 65536))
    assert dimse.next_message_id() == 1
    assert dimse.next_message_id() == 2


def test_next_message_id_never_returns_0() -> None:
    dimse = DIMSEEngine(CONTEXTS, 0)
    assert 0 not in {dimse.next_message_id() for _ in range(65536 + 10)}


def test_next_message_id_skips_ids_in_use() -> None:
    dimse = DIMSEEngine(CONTEXTS, 0)
    assert dimse.next_message_id({1, 2, 4}) == 3
    assert dimse.next_message_id({4, 5}) == 6
    assert dimse.next_message_id(range(7, 100)) == 100


def test_next_message_id_skips_in_use_across_wrap() -> None:
    dimse = DIMSEEngine(CONTEXTS, 0)
    for _ in range(65534):
        dimse.next_message_id()
    assert dimse.next_message_id({65535, 1, 2}) == 3


def test_next_message_id_only_free_id_is_found() -> None:
    dimse = DIMSEEngine(CONTEXTS, 0)
    free = 40000
    in_use = set(range(1, 65536)) - {free}
    assert dimse.next_message_id(in_use) == free
    assert dimse.next_message_id(in_use) == free


def test_next_message_id_all_in_use_raises() -> None:
    dimse = DIMSEEngine(CONTEXTS, 0)
    with pytest.raises(AioupsError):
        dimse.next_message_id(range(1, 65536))


def test_next_message_id_all_in_use_then_one_freed_recovers() -> None:
    dimse = DIMSEEngine(CONTEXTS, 0)
    with pytest.raises(AioupsError):
        dimse.next_message_id(range(1, 65536))
    assert dimse.next_message_id(set(range(2, 65536))) == 1


@settings(max_examples=50)
@given(st.sets(st.integers(1, 65535), max_size=200), st.integers(0, 300))
def test_next_message_id_result_free_and_in_range(in_use: set[int], warmup: int) -> None:
    dimse = DIMSEEngine(CONTEXTS, 0)
    for _ in range(warmup):
        dimse.next_message_id()
    message_id = dimse.next_message_id(in_use)
    assert 1 <= message_id <= 65535
    assert message_id not in in_use


# ------------------------------------------------------------------------ round trips

ROUND_TRIPS: list[tuple[int, Message, bytes | None]] = [
    (1, CEchoRQ(message_id=1), None),
    (1, CEchoRSP(message_id_being_responded_to=1, status=0x0000), None),
    (3, NGetRQ(message_id=65535, requested_sop_class_uid=UPS_PUSH,
               requested_sop_instance_uid=UPS_UID,
               attribute_identifier_list=(0x00741000, 0x00100010, 0x00404041, 0x00081195)),
     None),
    (3, NGetRSP(message_id_being_responded_to=65535, affected_sop_class_uid=UPS_PUSH,
                affected_sop_instance_uid=UPS_UID), DATA_SET),
    (3, NCreateRQ(message_id=2, affected_sop_class_uid=UPS_PUSH,
                  affected_sop_instance_uid=UPS_UID), DATA_SET),
    (3, NCreateRSP(message_id_being_responded_to=2, status=0xB300,
                   affected_sop_class_uid=UPS_PUSH, affected_sop_instance_uid=UPS_UID), None),
    (3, NActionRQ(message_id=9, requested_sop_class_uid=UPS_PUSH,
                  requested_sop_instance_uid=UPS_UID, action_type_id=1), DATA_SET),
    (3, NEventReportRQ(message_id=10, affected_sop_class_uid=UPS_PUSH,
                       affected_sop_instance_uid=UPS_UID, event_type_id=1), DATA_SET),
    (3, CFindRSP(message_id_being_responded_to=4, status=0xFF00), DATA_SET),
    (3, CCancelRQ(message_id_being_responded_to=4), None),
]


@pytest.mark.parametrize("peer_max", PEER_MAXIMA)
@pytest.mark.parametrize("pack", [True, False])
@pytest.mark.parametrize(("context_id", "message", "data_set"), ROUND_TRIPS,
                         ids=[type(m).__name__ for _, m, _ in ROUND_TRIPS])
def test_engine_encode_receive_round_trip(context_id: int, message: Message,
                                          data_set: bytes | None, peer_max: int,
                                          pack: bool) -> None:
    sender, receiver = pair(peer_max, pack)
    requests = sender.encode(context_id, message, data_set)
    assert_within(requests, peer_max)
    assert transfer(receiver, requests) == [MessageReceived(context_id, message, data_set)]


@pytest.mark.parametrize("peer_max", PEER_MAXIMA)
def test_engine_echo_fits_in_one_pdv_when_allowed(peer_max: int) -> None:
    sender, _ = pair(peer_max, True)
    requests = sender.encode(1, CEchoRQ(message_id=1))
    command = encode_command(CEchoRQ(message_id=1), has_data_set=False)
    if peer_max == 0 or peer_max >= len(command) + 6:
        assert requests == [PDataRequest((PDV(1, True, True, command),))]
    else:
        assert len(requests) > 1


@pytest.mark.parametrize("peer_max", [0, 16384])
def test_engine_packed_ncreate_in_one_pdata(peer_max: int) -> None:
    sender, receiver = pair(peer_max, True)
    message = NCreateRQ(message_id=2, affected_sop_class_uid=UPS_PUSH)
    requests = sender.encode(3, message, DATA_SET)
    assert len(requests) == 1
    assert [(p.is_command, p.is_last) for p in requests[0].pdvs] == [(True, True), (False, True)]
    assert transfer(receiver, requests) == [MessageReceived(3, message, DATA_SET)]


@pytest.mark.parametrize("peer_max", PEER_MAXIMA)
def test_engine_empty_data_set_round_trips(peer_max: int) -> None:
    sender, receiver = pair(peer_max, True)
    message = NCreateRQ(message_id=2, affected_sop_class_uid=UPS_PUSH)
    requests = sender.encode(3, message, b"")
    assert_within(requests, peer_max)
    [received] = transfer(receiver, requests)
    assert (received.context_id, received.message) == (3, message)
    assert not received.data_set  # b"" (as now) or None would both be faithful


@pytest.mark.parametrize("peer_max", [0, 32])
def test_engine_sequence_of_messages_round_trips(peer_max: int) -> None:
    sender, receiver = pair(peer_max, True)
    requests = [r for cid, message, data_set in ROUND_TRIPS
                for r in sender.encode(cid, message, data_set)]
    assert transfer(receiver, requests) == [MessageReceived(*entry) for entry in ROUND_TRIPS]


@settings(max_examples=50)
@given(message_id=st.integers(0, 65535), peer_max=st.sampled_from(PEER_MAXIMA),
       tags=st.lists(st.integers(0, 0xFFFFFFFF), min_size=1, max_size=50).map(tuple),
       pack=st.booleans())
def test_engine_nget_round_trip_any_fields(message_id: int, peer_max: int,
                                           tags: tuple[int, ...], pack: bool) -> None:
    sender, receiver = pair(peer_max, pack)
    message = NGetRQ(message_id=message_id, requested_sop_class_uid=UPS_PUSH,
                     requested_sop_instance_uid=UPS_UID, attribute_identifier_list=tags)
    requests = sender.encode(3, message)
    assert_within(requests, peer_max)
    assert transfer(receiver, requests) == [MessageReceived(3, message, None)]


def test_engine_unknown_command_with_data_set_is_delivered() -> None:
    ds = Dataset()
    ds.AffectedSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.CommandField = 0x0001  # C-STORE-RQ: not a message aioups implements
    ds.MessageID = 12
    ds.Priority = 0
    ds.CommandDataSetType = 0x0000
    ds.AffectedSOPInstanceUID = "1.2.3"
    ds.CommandGroupLength = len(implicit_le(ds))
    command = implicit_le(ds)
    receiver = DIMSEEngine(CONTEXTS, 0)
    [received] = receiver.receive_pdvs((PDV(3, True, True, command),
                                        PDV(3, False, True, DATA_SET)))
    assert isinstance(received.message, UnknownCommand)
    assert received.message.message_id == 12
    assert received.message.command_field == 0x0001
    assert received.data_set == DATA_SET
    assert received.context_id == 3
