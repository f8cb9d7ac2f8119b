"""Third-party DICOM peers (pynetdicom, DCMTK) as subprocesses, and an in-process aioups server.

Servers listen on 127.0.0.1 on a port the OS chose: a socket is bound to port 0, its port read,
the socket closed, and the peer started on that port.  :func:`start_peer` waits (bounded) until
the port accepts connections and retries with a new port if the peer died at start-up (another
process may have taken the port in between).  Every process is killed by its PID in
:meth:`Peer.stop`, which fixtures register as a finalizer.

Clients (``echoscu``) are run with ``subprocess.run(..., timeout=30)``; from async tests call
them through ``anyio.to_thread.run_sync`` so that the event loop keeps serving meanwhile.

DCMTK tools are looked up in /usr/bin and /usr/local/bin only: ``echoscu`` on ``PATH`` may be
pynetdicom's console script.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import anyio
import pytest

import aioups

HOST = "127.0.0.1"
#: Where DCMTK's executables are looked up (never PATH: see the module docstring).
DCMTK_PATH = "/usr/bin:/usr/local/bin"
#: Longest wait for a peer's port to accept connections.
STARTUP_TIMEOUT = 10.0
#: Longest run of a client subprocess.
CLIENT_TIMEOUT = 30.0


def dcmtk_tool(name: str) -> str:
    """The absolute path of a DCMTK executable; skips the test when DCMTK is not installed."""
    path = shutil.which(name, path=DCMTK_PATH)
    if path is None:
        pytest.skip(f"DCMTK {name} is not installed (looked in {DCMTK_PATH})")
    return path


def dcmtk_env() -> dict[str, str]:
    """The environment for DCMTK processes: TCP_NODELAY=1 (DCMTK is slow without it)."""
    return {**os.environ, "TCP_NODELAY": "1"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (chosen by the OS)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class Peer:
    """A third-party server process listening on ``HOST:port``."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    #: the process's stdout and stderr (a file, so a chatty peer never blocks on a full pipe)
    log: IO[bytes]

    def stop(self) -> None:
        """Kill the process (by its PID) and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not wait
            pass
        self.log.close()

    def output(self) -> str:
        """What the process printed so far (while it has not been stopped)."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


def _wait_listening(process: subprocess.Popen[bytes], port: int) -> bool:
    """Poll ``HOST:port`` until it accepts a connection (True) or the process exits (False).

    Raises:
        TimeoutError: neither within ``STARTUP_TIMEOUT`` seconds.
    """
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return process.poll() is None
        except OSError:
            time.sleep(0.05)  # bounded polling for a subprocess port
    raise TimeoutError(f"port {port} did not open within {STARTUP_TIMEOUT} s")


def start_peer(name: str, argv_for_port: Callable[[int], list[str]], *,
               env: dict[str, str] | None = None, cwd: Path | None = None,
               attempts: int = 3) -> Peer:
    """Start ``argv_for_port(port)`` on a free port and wait until it listens."""
    output = ""
    for _ in range(attempts):
        port = free_port()
        log = tempfile.TemporaryFile()
        try:
            process = subprocess.Popen(argv_for_port(port), stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        except BaseException:
            log.close()
            raise
        peer = Peer(name, process, port, log)
        try:
            if _wait_listening(process, port):
                return peer
        except BaseException:
            peer.stop()
            raise
        output = peer.output()  # it exited: probably the port was taken; try again
        peer.stop()
    raise RuntimeError(f"{name} did not start after {attempts} attempts:\n{output}")


def start_pynetdicom_echoscp(ae_title: str = "ECHOSCP") -> Peer:
    """pynetdicom's Verification SCP (``python -m pynetdicom echoscp``)."""
    return start_peer("pynetdicom echoscp", lambda port: [
        sys.executable, "-m", "pynetdicom", "echoscp", str(port), "--bind-address", HOST,
        "--ae-title", ae_title])


def start_dcmtk_storescp(output_dir: Path, ae_title: str = "STORESCP") -> Peer:
    """DCMTK's storescp (it answers C-ECHO too); received objects would go to ``output_dir``.

    storescp has no bind-address option: it listens on every interface, on an OS-chosen port.
    """
    storescp = dcmtk_tool("storescp")
    return start_peer("DCMTK storescp", lambda port: [
        storescp, "--aetitle", ae_title, "--output-directory", str(output_dir), "--ignore",
        str(port)], env=dcmtk_env(), cwd=output_dir)


def run_pynetdicom_echoscu(port: int, *args: str, called_ae_title: str = "AIOUPS",
                           ) -> subprocess.CompletedProcess[str]:
    """Run pynetdicom's echoscu against ``HOST:port`` (``-v``, so the status is logged)."""
    argv = [sys.executable, "-m", "pynetdicom", "echoscu", HOST, str(port),
            "-aec", called_ae_title, "-v", *args]
    return _run(argv)


def run_dcmtk_echoscu(port: int, *args: str, called_ae_title: str = "AIOUPS",
                      ) -> subprocess.CompletedProcess[str]:
    """Run DCMTK's echoscu (found by absolute path) against ``HOST:port``."""
    argv = [dcmtk_tool("echoscu"), HOST, str(port), "--call", called_ae_title, "-v", *args]
    return _run(argv, env=dcmtk_env())


def _run(argv: Sequence[str], env: dict[str, str] | None = None,
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env=env, timeout=CLIENT_TIMEOUT, check=False)


def describe(result: subprocess.CompletedProcess[str]) -> str:
    """A failed client run, for assertion messages."""
    return (f"{result.args!r} exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}")


@asynccontextmanager
async def serving(config: aioups.ServerConfig | None = None,
                  ) -> AsyncIterator[tuple[aioups.Server, int]]:
    """Run an aioups :class:`~aioups.Server` on ``HOST`` (OS-chosen port) for the block."""
    server = aioups.Server(config)
    try:
        async with anyio.create_task_group() as tg:
            port: int = await tg.start(server.serve, HOST, 0)
            try:
                yield server, port
            finally:
                tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:  # a failing test: report its own exception
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
