"""C-ECHO against real third-party peers, in all four directions, on asyncio and trio.

* our client -> pynetdicom echoscp, our client -> DCMTK storescp (which answers C-ECHO);
* pynetdicom echoscu -> our server, DCMTK echoscu -> our server.

Client subprocesses run in a worker thread (``anyio.to_thread.run_sync``) so that the event
loop keeps serving them.
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from helpers import peers
from helpers.peers import Peer

import aioups
from aioups.dimse import CEchoRQ, Response
from aioups.net import ServiceRequest, echo_handler

pytestmark = [pytest.mark.interop, pytest.mark.anyio]

TIMEOUTS = aioups.Timeouts(connect=5, accept=10, release=10, response=10)
#: Implementation Class UID roots of the peers (PS3.7 D.3.3.2), to prove who answered.
PYNETDICOM_UID_ROOT = "1.2.826.0.1.3680043.9.3811."
DCMTK_UID_ROOT = "1.2.276.0.7230010.3."


@pytest.fixture(scope="module")
def pynetdicom_scp(request: pytest.FixtureRequest) -> Peer:
    """pynetdicom's echoscp, one process for the module."""
    peer = peers.start_pynetdicom_echoscp(ae_title="ECHOSCP")
    request.addfinalizer(peer.stop)
    return peer


@pytest.fixture(scope="module")
def dcmtk_scp(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Peer:
    """DCMTK's storescp, one process for the module."""
    output_dir: Path = tmp_path_factory.mktemp("storescp")
    peer = peers.start_dcmtk_storescp(output_dir, ae_title="STORESCP")
    request.addfinalizer(peer.stop)
    return peer


#: peer fixture name -> (called AE title, implementation class UID root)
SCPS = {
    "pynetdicom_scp": ("ECHOSCP", PYNETDICOM_UID_ROOT),
    "dcmtk_scp": ("STORESCP", DCMTK_UID_ROOT),
}


@pytest.fixture(params=sorted(SCPS), ids=lambda name: name.removesuffix("_scp"))
def scp(request: pytest.FixtureRequest) -> tuple[Peer, str, str]:
    """Each third-party SCP in turn: (peer, its AE title, its implementation UID root)."""
    peer: Peer = request.getfixturevalue(request.param)
    ae_title, uid_root = SCPS[request.param]
    return peer, ae_title, uid_root


class EchoCounter:
    """A Verification handler that counts the C-ECHO requests it answers."""

    def __init__(self) -> None:
        self.count = 0

    async def __call__(
            self, request: ServiceRequest) -> Response | tuple[Response, bytes | None]:
        self.count += 1
        return await echo_handler(request)


def counting_config(counter: EchoCounter) -> aioups.ServerConfig:
    """Our server, answering C-ECHO through ``counter``."""
    return aioups.ServerConfig(ae_title="AIOUPS",
                               handlers={(aioups.VERIFICATION, CEchoRQ): counter})


async def run_client(run: Callable[..., subprocess.CompletedProcess[str]], port: int,
                     *args: str) -> subprocess.CompletedProcess[str]:
    """Run a client subprocess in a worker thread (bounded by its own 30 s timeout)."""
    return await anyio.to_thread.run_sync(functools.partial(run, port, *args))


# -- our client -> third-party SCPs ------------------------------------------------------------


async def test_our_client_echoes_peer(scp: tuple[Peer, str, str]) -> None:
    peer, ae_title, uid_root = scp
    with anyio.fail_after(30):
        async with aioups.open_association(peers.HOST, peer.port, called_ae_title=ae_title,
                                           calling_ae_title="AIOUPS",
                                           timeouts=TIMEOUTS) as assoc:
            assert assoc.negotiated is not None
            assert assoc.negotiated.peer_implementation_class_uid.startswith(uid_root)
            assert await aioups.send_echo(assoc) == aioups.Status.SUCCESS
    assert assoc.statistics().responses_received == 1


async def test_our_client_several_echoes_on_one_association(scp: tuple[Peer, str, str]) -> None:
    peer, ae_title, _ = scp
    with anyio.fail_after(30):
        async with aioups.open_association(peers.HOST, peer.port, called_ae_title=ae_title,
                                           calling_ae_title="AIOUPS",
                                           timeouts=TIMEOUTS) as assoc:
            statuses = [await aioups.send_echo(assoc) for _ in range(5)]
            assert assoc.is_established
    assert statuses == [aioups.Status.SUCCESS] * 5
    stats = assoc.statistics()
    assert (stats.requests_sent, stats.responses_received, stats.outstanding) == (5, 5, 0)


async def test_our_client_with_unlimited_max_pdu(pynetdicom_scp: Peer) -> None:
    """We advertise Maximum Length 0 (unlimited); pynetdicom must still answer."""
    with anyio.fail_after(30):
        async with aioups.open_association(peers.HOST, pynetdicom_scp.port,
                                           called_ae_title="ECHOSCP", max_pdu_length=0,
                                           timeouts=TIMEOUTS) as assoc:
            assert await aioups.send_echo(assoc) == aioups.Status.SUCCESS


# -- third-party SCUs -> our server --------------------------------------------------------------


async def test_pynetdicom_echoscu_to_our_server() -> None:
    counter = EchoCounter()
    async with peers.serving(counting_config(counter)) as (server, port):
        result = await run_client(peers.run_pynetdicom_echoscu, port)
        assert result.returncode == 0, peers.describe(result)
        assert "Received Echo Response (Status: 0x0000 - Success)" in result.stderr, \
            peers.describe(result)
        stats = server.statistics()
    assert (stats.accepted, stats.rejected) == (1, 0)
    assert stats.connections == 1
    assert counter.count == 1


async def test_dcmtk_echoscu_to_our_server() -> None:
    counter = EchoCounter()
    async with peers.serving(counting_config(counter)) as (server, port):
        result = await run_client(peers.run_dcmtk_echoscu, port)
        assert result.returncode == 0, peers.describe(result)
        assert "Received Echo Response (Success)" in result.stdout + result.stderr, \
            peers.describe(result)
        stats = server.statistics()
    assert (stats.accepted, stats.rejected, stats.connections) == (1, 0, 1)
    assert counter.count == 1


async def test_dcmtk_echoscu_repeat_on_one_association() -> None:
    counter = EchoCounter()
    async with peers.serving(counting_config(counter)) as (server, port):
        result = await run_client(peers.run_dcmtk_echoscu, port, "--repeat", "5")
        assert result.returncode == 0, peers.describe(result)
        output = result.stdout + result.stderr
        assert output.count("Received Echo Response (Success)") == 5, peers.describe(result)
        assert output.count("Requesting Association") == 1, peers.describe(result)
        stats = server.statistics()
    assert (stats.accepted, stats.rejected, stats.connections) == (1, 0, 1)
    assert counter.count == 5


async def test_dcmtk_echoscu_abort_leaves_server_serving() -> None:
    """DCMTK ends with A-ABORT instead of A-RELEASE; the server copes and keeps serving."""
    counter = EchoCounter()
    async with peers.serving(counting_config(counter)) as (server, port):
        result = await run_client(peers.run_dcmtk_echoscu, port, "--abort")
        assert result.returncode == 0, peers.describe(result)
        assert "Aborting Association" in result.stdout + result.stderr, peers.describe(result)
        with anyio.fail_after(15):
            async with aioups.open_association(peers.HOST, port, called_ae_title="AIOUPS",
                                               timeouts=TIMEOUTS) as assoc:
                assert await aioups.send_echo(assoc) == aioups.Status.SUCCESS
        stats = server.statistics()
    assert (stats.accepted, stats.rejected, stats.connections) == (2, 0, 2)
    assert counter.count == 2


@pytest.mark.parametrize("max_pdu", ["0", "4096", "64"],
                         ids=["unlimited", "small-4096", "tiny-64"])
async def test_pynetdicom_echoscu_max_pdu(max_pdu: str) -> None:
    """pynetdicom proposes Maximum Length 0 (unlimited) or a small one; with 64 bytes our
    C-ECHO-RSP (a command set of about 80 bytes) has to be split over several P-DATA-TFs."""
    counter = EchoCounter()
    async with peers.serving(counting_config(counter)) as (server, port):
        result = await run_client(peers.run_pynetdicom_echoscu, port, "--max-pdu", max_pdu,
                                  "--repeat", "3")
        assert result.returncode == 0, peers.describe(result)
        assert result.stderr.count("Received Echo Response (Status: 0x0000 - Success)") == 3, \
            peers.describe(result)
        stats = server.statistics()
    assert (stats.accepted, stats.rejected, stats.connections) == (1, 0, 1)
    assert counter.count == 3
