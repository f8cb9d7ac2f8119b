"""Our Server against a raw TCP peer that breaks PS3.8, on asyncio and trio.

Every misbehaving connection must end, within a bound, in an A-ABORT PDU (decoded and checked
where the standard is clear) or in the server closing the connection; afterwards the SAME server
must still serve a normal association.

What PS3.8 Table 9-10 prescribes here:

* Sta2 (transport open, no A-ASSOCIATE-RQ yet): any other PDU (Evt3/4/10/12/13) or an invalid
  one (Evt19) is AA-1: A-ABORT with source 0 (service user), reason 0.  The transport closing
  (Evt17) is AA-5 and ARTIM expiring (Evt18) is AA-2: the server just closes.
* Sta6 (association established): an unexpected PDU (Evt3/4/6/13) is AA-8, A-ABORT source 2
  (service provider) with reason 2 (unexpected PDU); an invalid one (Evt19) is AA-8 with reason 1
  (unrecognized PDU type) or 6 (invalid PDU parameter value).
"""

from __future__ import annotations

import struct

import anyio
import pytest
from anyio.abc import SocketStream
from helpers import peers

import aioups
from aioups.dimse import CEchoRQ, CEchoRSP, decode_command, encode_command
from aioups.errors import AssociationRejected
from aioups.pdu import (
    PDU,
    AAbort,
    AAssociateAC,
    AAssociateRQ,
    AbortReason,
    AbortSource,
    AReleaseRP,
    AReleaseRQ,
    ContextResult,
    PDataTF,
    decode_pdu_bytes,
    encode_pdata,
    encode_pdu,
)
from aioups.ul import PresentationContextProposal, build_associate_rq

pytestmark = pytest.mark.anyio

#: Bound on every wait for the server's reaction.
REACTION_TIMEOUT = 5.0
TIMEOUTS = aioups.Timeouts(connect=5, accept=5, release=5, response=5)
_HEADER = struct.Struct(">BBL")

ECHO_CONTEXTS = (PresentationContextProposal(abstract_syntax=aioups.VERIFICATION),)


def associate_rq() -> bytes:
    """A valid A-ASSOCIATE-RQ proposing Verification on presentation context 1."""
    return encode_pdu(build_associate_rq(calling_ae_title="RAWSOCKET", called_ae_title="AIOUPS",
                                         contexts=ECHO_CONTEXTS))


def associate_ac() -> bytes:
    """A well-formed A-ASSOCIATE-AC (which a requestor never sends)."""
    rq = decode_pdu_bytes(associate_rq())
    assert isinstance(rq, AAssociateRQ)
    ac = aioups.ul.answer_associate_rq(rq, aioups.ServerConfig().policy())
    assert isinstance(ac, AAssociateAC)
    return encode_pdu(ac)


def echo_pdata(context_id: int, message_id: int = 1) -> bytes:
    """A whole C-ECHO-RQ command in one P-DATA-TF on ``context_id``."""
    command = encode_command(CEchoRQ(message_id=message_id), has_data_set=False)
    return encode_pdata([(context_id, 0b11, command)])  # command, last fragment


HTTP_GARBAGE = b"GET / HTTP/1.1\r\nHost: dicom\r\n\r\n"  # type 0x47, length 0x4554202F
FF_GARBAGE = b"\xff" * 64  # type 0xFF, length 0xFFFFFFFF
UNKNOWN_PDU = b"\x0a\x00\x00\x00\x00\x04" + b"\x01\x02\x03\x04"  # PDU type 0AH, 4-byte body
HUGE_PDATA_HEADER = _HEADER.pack(0x04, 0, 0xFFFFFFF0)  # just the header, no body


class PDUReader:
    """Reads whole PDUs from a raw stream."""

    def __init__(self, stream: SocketStream) -> None:
        self.stream = stream
        self._buffer = bytearray()
        self.closed = False

    def _pop(self) -> PDU | None:
        if len(self._buffer) < 6:
            return None
        _, _, length = _HEADER.unpack_from(self._buffer)
        if len(self._buffer) < 6 + length:
            return None
        raw = bytes(self._buffer[:6 + length])
        del self._buffer[:6 + length]
        return decode_pdu_bytes(raw)

    async def next_pdu(self) -> PDU | None:
        """The next PDU, or ``None`` when the server closed the connection."""
        while (pdu := self._pop()) is None:
            try:
                data = await self.stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                self.closed = True
                assert not self._buffer, f"connection closed inside a PDU: {bytes(self._buffer)!r}"
                return None
            self._buffer += data
        return pdu

    async def until_abort_or_close(self) -> list[PDU]:
        """Every PDU up to an A-ABORT (included) or up to the connection closing (bounded)."""
        pdus: list[PDU] = []
        with anyio.fail_after(REACTION_TIMEOUT):
            while (pdu := await self.next_pdu()) is not None:
                pdus.append(pdu)
                if isinstance(pdu, AAbort):
                    break
        return pdus


async def associate(port: int) -> tuple[SocketStream, PDUReader]:
    """A raw connection with an established association (context 1: Verification)."""
    stream = await anyio.connect_tcp(peers.HOST, port)
    reader = PDUReader(stream)
    await stream.send(associate_rq())
    with anyio.fail_after(REACTION_TIMEOUT):
        ac = await reader.next_pdu()
    assert isinstance(ac, AAssociateAC), ac
    [context] = ac.presentation_contexts
    assert (context.context_id, context.result) == (1, ContextResult.ACCEPTANCE)
    return stream, reader


async def assert_serves(server: aioups.Server, port: int) -> None:
    """The server still accepts and serves a normal association."""
    accepted = server.statistics().accepted
    with anyio.fail_after(15):
        async with aioups.open_association(peers.HOST, port, called_ae_title="AIOUPS",
                                           timeouts=TIMEOUTS) as assoc:
            assert await aioups.send_echo(assoc) == aioups.Status.SUCCESS
    assert server.statistics().accepted == accepted + 1


def assert_abort(pdus: list[PDU], source: int, reason: int) -> None:
    assert pdus, "the server sent nothing before closing; expected an A-ABORT"
    last = pdus[-1]
    assert isinstance(last, AAbort), pdus
    assert (int(last.source), int(last.reason)) == (source, reason), last


# -- before any association (Sta2): AA-1, A-ABORT (0, 0) ------------------------------------------


STA2_GARBAGE = {
    "http-request": HTTP_GARBAGE,
    "ff-bytes": FF_GARBAGE,
    "zero-bytes": b"\x00" * 16,  # a "type 0" PDU with an empty body, then more zeros
    "unknown-pdu-type-0A": UNKNOWN_PDU,
    "pdata-before-association": echo_pdata(1),
    "pdata-header-length-FFFFFFF0": HUGE_PDATA_HEADER,
    "associate-ac": associate_ac(),
    "release-rq": encode_pdu(AReleaseRQ()),
    "release-rp": encode_pdu(AReleaseRP()),
    "associate-rq-corrupt-body": associate_rq()[:10] + b"\xee" * (len(associate_rq()) - 10),
}


@pytest.mark.parametrize("payload", list(STA2_GARBAGE.values()), ids=list(STA2_GARBAGE))
async def test_sta2_bad_input_is_aborted(payload: bytes) -> None:
    async with peers.serving() as (server, port), await anyio.connect_tcp(peers.HOST,
                                                                           port) as stream:
        reader = PDUReader(stream)
        await stream.send(payload)
        pdus = await reader.until_abort_or_close()
        assert_abort(pdus, AbortSource.SERVICE_USER, AbortReason.REASON_NOT_SPECIFIED)
        assert len(pdus) == 1, pdus
        await stream.aclose()
        await assert_serves(server, port)
        assert server.statistics().rejected == 0


async def test_truncated_pdu_then_client_closes() -> None:
    """Half an A-ASSOCIATE-RQ, then EOF: Evt17 in Sta2 is AA-5, the server just closes."""
    async with peers.serving() as (server, port), await anyio.connect_tcp(peers.HOST,
                                                                           port) as stream:
        reader = PDUReader(stream)
        await stream.send(associate_rq()[:20])
        await stream.send_eof()
        pdus = await reader.until_abort_or_close()
        assert pdus == []
        assert reader.closed
        await assert_serves(server, port)


async def test_truncated_pdu_then_client_disconnects() -> None:
    """Half an A-ASSOCIATE-RQ, then the client closes outright (no half-close)."""
    async with peers.serving() as (server, port):
        async with await anyio.connect_tcp(peers.HOST, port) as stream:
            await stream.send(associate_rq()[:20])
        await assert_serves(server, port)
        assert server.statistics().connections == 2


async def test_abort_in_sta2_closes_without_answer() -> None:
    """A-ABORT in Sta2 is AA-2: no answer, the server closes the connection."""
    async with peers.serving() as (server, port), await anyio.connect_tcp(peers.HOST,
                                                                           port) as stream:
        reader = PDUReader(stream)
        await stream.send(encode_pdu(AAbort()))
        assert await reader.until_abort_or_close() == []
        assert reader.closed
        await assert_serves(server, port)


async def test_silent_connection_is_closed_by_artim() -> None:
    """A connection that never sends an A-ASSOCIATE-RQ is closed when ARTIM expires (AA-2)."""
    config = aioups.ServerConfig(timeouts=aioups.Timeouts(artim=0.5))
    async with peers.serving(config) as (server, port), await anyio.connect_tcp(
            peers.HOST, port) as stream:
        reader = PDUReader(stream)
        start = anyio.current_time()
        assert await reader.until_abort_or_close() == []
        assert reader.closed
        assert anyio.current_time() - start >= 0.4
        await assert_serves(server, port)


async def test_peer_that_stays_after_abort_is_closed_by_artim() -> None:
    """After its A-ABORT (Sta13) the server waits for the peer to close only until ARTIM."""
    config = aioups.ServerConfig(timeouts=aioups.Timeouts(artim=0.5))
    async with peers.serving(config) as (server, port), await anyio.connect_tcp(
            peers.HOST, port) as stream:
        reader = PDUReader(stream)
        await stream.send(HTTP_GARBAGE)
        assert_abort(await reader.until_abort_or_close(), 0, 0)
        assert await reader.until_abort_or_close() == []  # we do not close: the server does
        assert reader.closed
        await assert_serves(server, port)


# -- after association (Sta6): AA-8, A-ABORT source 2 --------------------------------------------


STA6_BAD_INPUT = {
    # garbage after the A-ASSOCIATE-AC: an unknown PDU type -> unrecognized PDU
    "http-request": (HTTP_GARBAGE, AbortReason.UNRECOGNIZED_PDU),
    "ff-bytes": (FF_GARBAGE, AbortReason.UNRECOGNIZED_PDU),
    "unknown-pdu-type-0A": (UNKNOWN_PDU, AbortReason.UNRECOGNIZED_PDU),
    "pdata-header-length-FFFFFFF0": (HUGE_PDATA_HEADER, AbortReason.INVALID_PDU_PARAMETER_VALUE),
    "release-rq-length-5": (b"\x05\x00\x00\x00\x00\x05" + b"\x00" * 5,
                            AbortReason.INVALID_PDU_PARAMETER_VALUE),
    "associate-rq-again": (associate_rq(), AbortReason.UNEXPECTED_PDU),
    "associate-ac": (associate_ac(), AbortReason.UNEXPECTED_PDU),
    "release-rp": (encode_pdu(AReleaseRP()), AbortReason.UNEXPECTED_PDU),
}


@pytest.mark.parametrize(("payload", "reason"), list(STA6_BAD_INPUT.values()),
                         ids=list(STA6_BAD_INPUT))
async def test_sta6_bad_input_is_provider_aborted(payload: bytes, reason: AbortReason) -> None:
    async with peers.serving() as (server, port):
        stream, reader = await associate(port)
        async with stream:
            await stream.send(payload)
            pdus = await reader.until_abort_or_close()
            assert_abort(pdus, AbortSource.SERVICE_PROVIDER, reason)
            assert len(pdus) == 1, pdus
        await assert_serves(server, port)
        assert (server.statistics().accepted, server.statistics().rejected) == (2, 0)


async def test_associate_rq_and_garbage_in_one_write() -> None:
    """The garbage may be read before the server has answered (Sta3): AA-8 all the same, and
    the answer, if any, precedes the A-ABORT."""
    async with peers.serving() as (server, port), await anyio.connect_tcp(peers.HOST,
                                                                           port) as stream:
        reader = PDUReader(stream)
        await stream.send(associate_rq() + FF_GARBAGE)
        pdus = await reader.until_abort_or_close()
        assert_abort(pdus, AbortSource.SERVICE_PROVIDER, AbortReason.UNRECOGNIZED_PDU)
        assert all(isinstance(pdu, AAssociateAC) for pdu in pdus[:-1]), pdus
        await stream.aclose()
        await assert_serves(server, port)


async def test_echo_on_accepted_context_is_answered() -> None:
    """Positive control for the raw association: a C-ECHO-RQ on context 1 gets its response."""
    async with peers.serving() as (server, port):
        stream, reader = await associate(port)
        async with stream:
            await stream.send(echo_pdata(1, message_id=7))
            with anyio.fail_after(REACTION_TIMEOUT):
                pdu = await reader.next_pdu()
            assert isinstance(pdu, PDataTF), pdu
            [pdv] = pdu.pdvs
            assert (pdv.context_id, pdv.is_command, pdv.is_last) == (1, True, True)
            response, has_data_set = decode_command(pdv.data)
            assert isinstance(response, CEchoRSP) and not has_data_set
            assert (response.message_id_being_responded_to, response.status) == (7, 0)
            await stream.send(encode_pdu(AReleaseRQ()))
            with anyio.fail_after(REACTION_TIMEOUT):
                assert isinstance(await reader.next_pdu(), AReleaseRP)
        await assert_serves(server, port)


async def test_pdata_on_unaccepted_context_is_aborted() -> None:
    """A C-ECHO-RQ on context 3, which was never proposed: the association is aborted."""
    async with peers.serving() as (server, port):
        stream, reader = await associate(port)
        async with stream:
            await stream.send(echo_pdata(3))
            pdus = await reader.until_abort_or_close()
            assert pdus, "expected an A-ABORT"
            assert isinstance(pdus[-1], AAbort), pdus
            assert len(pdus) == 1, pdus  # in particular: no C-ECHO-RSP
        await assert_serves(server, port)


async def test_pdata_on_unaccepted_context_is_provider_abort_invalid_parameter() -> None:
    async with peers.serving() as (_, port):
        stream, reader = await associate(port)
        async with stream:
            await stream.send(echo_pdata(3))
            assert_abort(await reader.until_abort_or_close(), AbortSource.SERVICE_PROVIDER,
                         AbortReason.INVALID_PDU_PARAMETER_VALUE)


# -- association limit ---------------------------------------------------------------------------


async def test_third_association_over_the_limit_is_rejected() -> None:
    config = aioups.ServerConfig(max_associations=2)
    async with peers.serving(config) as (server, port):
        with anyio.fail_after(20):
            async with aioups.open_association(peers.HOST, port, timeouts=TIMEOUTS) as first, \
                    aioups.open_association(peers.HOST, port, timeouts=TIMEOUTS) as second:
                with pytest.raises(AssociationRejected) as caught:
                    async with aioups.open_association(peers.HOST, port, timeouts=TIMEOUTS):
                        pytest.fail("the third association was accepted")
                assert (caught.value.result, caught.value.source, caught.value.reason) == (2, 3, 2)
                # the two open associations are unaffected
                assert await aioups.send_echo(first) == aioups.Status.SUCCESS
                assert await aioups.send_echo(second) == aioups.Status.SUCCESS
        stats = server.statistics()
        assert (stats.accepted, stats.rejected, stats.connections) == (2, 1, 3)


async def test_idle_connection_does_not_count_as_an_association() -> None:
    """ServerConfig.max_associations limits *associations*; an idle TCP connection is none."""
    config = aioups.ServerConfig(max_associations=1)
    async with peers.serving(config) as (server, port), await anyio.connect_tcp(peers.HOST,
                                                                           port):
        await assert_serves(server, port)
